//! InterPodAffinity: required pod affinity and anti-affinity of the incoming pod, the
//! existing pods' required anti-affinity against it (symmetry), and preferred terms on
//! both sides for scoring.
//!
//! PreFilter reduces all three checks to sets of topology pairs (key, value), so Filter
//! is a few label lookups per node:
//! * pairs holding pods that match all of the incoming pod's affinity terms;
//! * pairs holding pods that match one of its anti-affinity terms;
//! * pairs holding existing pods whose required anti-affinity matches the incoming pod,
//!   found through the snapshot's term groups rather than by visiting every pod.
//!
//! The first pod of a group whose affinity selects itself may go anywhere the topology
//! keys exist, as long as no other pod matches (upstream's special case).

use std::collections::{HashMap, HashSet};

use super::CycleState;
use crate::framework::{
    names, AffinityTerm, Code, Labels, NodeInfo, PodInfo, Status, MAX_NODE_SCORE,
};
use crate::snapshot::{Snapshot, TermGroup, TermKind};

pub const ERR_REASON_EXISTING_ANTI_AFFINITY: &str =
    "node(s) didn't satisfy existing pods anti-affinity rules";
pub const ERR_REASON_AFFINITY: &str = "node(s) didn't match pod affinity rules";
pub const ERR_REASON_ANTI_AFFINITY: &str = "node(s) didn't match pod anti-affinity rules";

/// What an existing pod's required affinity term adds to the score of nodes in its
/// topology when the incoming pod matches it (upstream `hardPodAffinityWeight` default).
pub const HARD_POD_AFFINITY_WEIGHT: i64 = 1;

/// topology key -> values.
type TopologyPairs<'a> = HashMap<&'a str, HashSet<&'a str>>;

/// An incoming pod's term with its namespace selector resolved against the known
/// namespaces (upstream `mergeAffinityTermNamespacesIfNotEmpty`); an empty selector
/// keeps matching every namespace.
struct IncomingTerm<'a> {
    term: &'a AffinityTerm,
    extra_namespaces: Vec<&'a str>,
    all_namespaces: bool,
}

impl<'a> IncomingTerm<'a> {
    fn resolve(snap: &'a Snapshot, term: &'a AffinityTerm) -> IncomingTerm<'a> {
        let sel = &term.namespace_selector;
        let all_namespaces = sel.is_everything();
        let extra_namespaces = if sel.is_nothing() || all_namespaces {
            Vec::new()
        } else {
            snap.namespaces_matching(sel).collect()
        };
        IncomingTerm {
            term,
            extra_namespaces,
            all_namespaces,
        }
    }

    fn matches(&self, ns: &str, labels: &Labels) -> bool {
        let ns_ok = self.all_namespaces
            || self
                .term
                .namespaces
                .binary_search_by(|n| n.as_str().cmp(ns))
                .is_ok()
            || self.extra_namespaces.contains(&ns);
        ns_ok && self.term.selector.matches(labels)
    }
}

fn add_pair<'a>(pairs: &mut TopologyPairs<'a>, node: &'a NodeInfo, key: &'a str) {
    if let Some(v) = node.labels.get(key) {
        pairs.entry(key).or_default().insert(v.as_str());
    }
}

pub struct PreFilterState<'a> {
    existing_anti: TopologyPairs<'a>,
    affinity_terms: Vec<IncomingTerm<'a>>,
    affinity_pairs: TopologyPairs<'a>,
    anti_terms: Vec<IncomingTerm<'a>>,
    anti_pairs: TopologyPairs<'a>,
    /// The incoming pod matches all of its own affinity terms.
    self_match: bool,
}

impl std::fmt::Debug for PreFilterState<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreFilterState")
            .field("existing_anti", &self.existing_anti)
            .field("affinity_pairs", &self.affinity_pairs)
            .field("anti_pairs", &self.anti_pairs)
            .field("self_match", &self.self_match)
            .finish()
    }
}

/// `Ok(None)` when there is nothing to check (upstream returns Skip).
pub fn pre_filter<'a>(
    snap: &'a Snapshot,
    pod: &'a PodInfo,
    ns_labels: &Labels,
) -> Result<Option<PreFilterState<'a>>, String> {
    if let Some(e) = &pod.affinity.parse_error {
        return Err(format!("parsing pod: {e}"));
    }
    // Symmetry: existing pods whose required anti-affinity selects the incoming pod.
    let mut existing_anti = TopologyPairs::new();
    snap.terms.for_each_match(
        &pod.namespace,
        &pod.labels,
        ns_labels,
        |g: &'a TermGroup| {
            if g.kind != TermKind::RequiredAntiAffinity {
                return;
            }
            for (&slot, &n) in &g.nodes {
                let node = snap.node(slot);
                if n > 0 && node.present {
                    add_pair(&mut existing_anti, node, &g.term.topology_key);
                }
            }
        },
    );
    let affinity = &pod.affinity;
    if existing_anti.is_empty()
        && affinity.required_affinity.is_empty()
        && affinity.required_anti_affinity.is_empty()
    {
        return Ok(None);
    }

    let affinity_terms: Vec<IncomingTerm<'a>> = affinity
        .required_affinity
        .iter()
        .map(|t| IncomingTerm::resolve(snap, t))
        .collect();
    let mut affinity_pairs = TopologyPairs::new();
    if let Some(first) = affinity_terms.first() {
        // Candidates carry the first term's anchor label; a pod counts when it matches
        // every term, and then for every term's topology.
        snap.for_each_candidate_pod(&first.term.selector, |p| {
            if affinity_terms
                .iter()
                .all(|t| t.matches(&p.namespace, &p.labels))
            {
                let node = snap.node(p.node);
                for t in &affinity_terms {
                    add_pair(&mut affinity_pairs, node, &t.term.topology_key);
                }
            }
        });
    }

    let anti_terms: Vec<IncomingTerm<'a>> = affinity
        .required_anti_affinity
        .iter()
        .map(|t| IncomingTerm::resolve(snap, t))
        .collect();
    let mut anti_pairs = TopologyPairs::new();
    for t in &anti_terms {
        snap.for_each_candidate_pod(&t.term.selector, |p| {
            if t.matches(&p.namespace, &p.labels) {
                add_pair(&mut anti_pairs, snap.node(p.node), &t.term.topology_key);
            }
        });
    }

    let self_match = !affinity_terms.is_empty()
        && affinity_terms
            .iter()
            .all(|t| t.matches(&pod.namespace, &pod.labels));
    Ok(Some(PreFilterState {
        existing_anti,
        affinity_terms,
        affinity_pairs,
        anti_terms,
        anti_pairs,
        self_match,
    }))
}

fn has_pair(pairs: &TopologyPairs<'_>, key: &str, value: &str) -> bool {
    pairs.get(key).is_some_and(|vs| vs.contains(value))
}

pub fn filter(state: &PreFilterState<'_>, node: &NodeInfo) -> Option<Status> {
    if !state.affinity_terms.is_empty() {
        let mut pods_exist = true;
        for t in &state.affinity_terms {
            let key = t.term.topology_key.as_str();
            match node.labels.get(key) {
                // Every topology key must exist on the node.
                None => {
                    return Some(Status::new(
                        Code::UnschedulableAndUnresolvable,
                        names::INTER_POD_AFFINITY,
                        ERR_REASON_AFFINITY,
                    ))
                }
                Some(v) => pods_exist &= has_pair(&state.affinity_pairs, key, v),
            }
        }
        // No matching pod anywhere and the pod matches its own terms: it may start the group.
        if !pods_exist && !(state.affinity_pairs.is_empty() && state.self_match) {
            return Some(Status::new(
                Code::UnschedulableAndUnresolvable,
                names::INTER_POD_AFFINITY,
                ERR_REASON_AFFINITY,
            ));
        }
    }
    if !state.anti_pairs.is_empty() {
        for t in &state.anti_terms {
            let key = t.term.topology_key.as_str();
            if node
                .labels
                .get(key)
                .is_some_and(|v| has_pair(&state.anti_pairs, key, v))
            {
                return Some(Status::new(
                    Code::Unschedulable,
                    names::INTER_POD_AFFINITY,
                    ERR_REASON_ANTI_AFFINITY,
                ));
            }
        }
    }
    for (key, values) in &state.existing_anti {
        if node
            .labels
            .get(*key)
            .is_some_and(|v| values.contains(v.as_str()))
        {
            return Some(Status::new(
                Code::Unschedulable,
                names::INTER_POD_AFFINITY,
                ERR_REASON_EXISTING_ANTI_AFFINITY,
            ));
        }
    }
    None
}

/// Preferred terms: the incoming pod's (anti-)affinity towards existing pods, and
/// existing pods' required affinity (weight 1) and preferred (anti-)affinity towards the
/// incoming pod, summed per topology pair and scaled min-max. `None` when no term
/// applies (upstream skips the plugin).
pub(crate) fn score(cs: &CycleState<'_>, feasible: &[u32]) -> Option<Vec<i64>> {
    let pod = cs.pod;
    let snap = cs.snapshot;
    let mut topology: HashMap<&str, HashMap<&str, i64>> = HashMap::new();
    for (terms, sign) in [
        (&pod.affinity.preferred_affinity, 1),
        (&pod.affinity.preferred_anti_affinity, -1),
    ] {
        for wt in terms {
            let t = IncomingTerm::resolve(snap, &wt.term);
            let key = wt.term.topology_key.as_str();
            let w = sign * i64::from(wt.weight);
            snap.for_each_candidate_pod(&wt.term.selector, |p| {
                if t.matches(&p.namespace, &p.labels) {
                    if let Some(v) = snap.node(p.node).labels.get(key) {
                        *topology
                            .entry(key)
                            .or_default()
                            .entry(v.as_str())
                            .or_insert(0) += w;
                    }
                }
            });
        }
    }
    snap.terms
        .for_each_match(&pod.namespace, &pod.labels, cs.namespace_labels, |g| {
            let w = match g.kind {
                TermKind::RequiredAffinity => HARD_POD_AFFINITY_WEIGHT,
                TermKind::PreferredAffinity => i64::from(g.weight),
                TermKind::PreferredAntiAffinity => -i64::from(g.weight),
                TermKind::RequiredAntiAffinity => return,
            };
            let key = g.term.topology_key.as_str();
            for (&slot, &n) in &g.nodes {
                let node = snap.node(slot);
                if !node.present {
                    continue;
                }
                if let Some(v) = node.labels.get(key) {
                    *topology
                        .entry(key)
                        .or_default()
                        .entry(v.as_str())
                        .or_insert(0) += w * i64::from(n);
                }
            }
        });
    if topology.is_empty() {
        return None;
    }
    let raw: Vec<i64> = feasible
        .iter()
        .map(|&slot| {
            let node = snap.node(slot);
            topology
                .iter()
                .filter_map(|(key, values)| {
                    node.labels.get(*key).and_then(|v| values.get(v.as_str()))
                })
                .sum()
        })
        .collect();
    let min = raw.iter().copied().min().unwrap_or(0);
    let max = raw.iter().copied().max().unwrap_or(0);
    let diff = max - min;
    Some(
        raw.into_iter()
            .map(|s| {
                if diff > 0 {
                    (MAX_NODE_SCORE as f64 * ((s - min) as f64 / diff as f64)) as i64
                } else {
                    0
                }
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::{json, Value};

    use super::*;
    use crate::plugins::testutil::{bound, filter_result, pod, slots, with_cycle, zoned_cluster};

    fn term(app: &str, key: &str) -> Value {
        json!({"labelSelector": {"matchLabels": {"app": app}}, "topologyKey": key})
    }

    fn affinity(kind: &str, required: Vec<Value>, preferred: Vec<Value>) -> Value {
        json!({"affinity": {kind: {
            "requiredDuringSchedulingIgnoredDuringExecution": required,
            "preferredDuringSchedulingIgnoredDuringExecution": preferred}}})
    }

    const HOST: &str = "kubernetes.io/hostname";
    const ZONE: &str = "topology.kubernetes.io/zone";

    #[test]
    fn ipa_required_anti_affinity_by_hostname() {
        let mut s = zoned_cluster();
        s.upsert_pod(bound(
            pod("w1", json!({"app": "web"}), "", "", json!({})),
            "a1",
        ));
        let p = pod(
            "p",
            json!({"app": "web"}),
            "",
            "",
            affinity("podAntiAffinity", vec![term("web", HOST)], vec![]),
        );
        assert_eq!(
            filter_result(&s, &p, "a1").as_deref(),
            Some("InterPodAffinity: node(s) didn't match pod anti-affinity rules")
        );
        assert_eq!(filter_result(&s, &p, "a2"), None);
        // By zone, the whole zone is excluded.
        let p = pod(
            "p",
            json!({"app": "web"}),
            "",
            "",
            affinity("podAntiAffinity", vec![term("web", ZONE)], vec![]),
        );
        assert!(filter_result(&s, &p, "a2").is_some());
        assert_eq!(filter_result(&s, &p, "b1"), None);
        // A node without the topology key is not in any domain: anti-affinity allows it.
        assert_eq!(filter_result(&s, &p, "nozone"), None);
    }

    #[test]
    fn ipa_required_affinity_by_zone_and_first_pod() {
        let mut s = zoned_cluster();
        let p = pod(
            "p",
            json!({"app": "web"}),
            "",
            "",
            affinity("podAffinity", vec![term("db", ZONE)], vec![]),
        );
        // No db pod anywhere and the pod is not a db: nowhere.
        assert_eq!(
            filter_result(&s, &p, "a1").as_deref(),
            Some("InterPodAffinity: node(s) didn't match pod affinity rules")
        );
        // A pod whose term selects itself may start the group where the key exists.
        let first = pod(
            "p",
            json!({"app": "db"}),
            "",
            "",
            affinity("podAffinity", vec![term("db", ZONE)], vec![]),
        );
        assert_eq!(filter_result(&s, &first, "b1"), None);
        assert!(filter_result(&s, &first, "nozone").is_some());

        s.upsert_pod(bound(
            pod("db1", json!({"app": "db"}), "", "", json!({})),
            "a1",
        ));
        assert_eq!(filter_result(&s, &p, "a2"), None, "same zone as the db pod");
        assert!(filter_result(&s, &p, "b1").is_some());
        assert!(
            filter_result(&s, &p, "nozone").is_some(),
            "topology key missing"
        );
        // Once a db exists, the self-match exception no longer applies elsewhere.
        assert!(filter_result(&s, &first, "b1").is_some());
    }

    #[test]
    fn ipa_symmetry_existing_anti_affinity() {
        let mut s = zoned_cluster();
        let guard = pod(
            "guard",
            json!({"app": "guard"}),
            "",
            "",
            affinity("podAntiAffinity", vec![term("web", ZONE)], vec![]),
        );
        s.upsert_pod(bound(guard, "a1"));
        let web = pod("p", json!({"app": "web"}), "", "", json!({}));
        assert_eq!(
            filter_result(&s, &web, "a2").as_deref(),
            Some("InterPodAffinity: node(s) didn't satisfy existing pods anti-affinity rules")
        );
        assert_eq!(filter_result(&s, &web, "b1"), None);
        let other = pod("p", json!({"app": "api"}), "", "", json!({}));
        assert_eq!(filter_result(&s, &other, "a1"), None);
        // The guard's term is about its own namespace.
        let mut elsewhere = web.clone();
        elsewhere.metadata.namespace = Some("other".into());
        assert_eq!(filter_result(&s, &elsewhere, "a1"), None);
    }

    #[test]
    fn ipa_namespaces_and_namespace_selector() {
        let mut s = zoned_cluster();
        s.upsert_namespace(Arc::new(
            serde_json::from_value(
                json!({"metadata": {"name": "prod", "labels": {"env": "prod"}}}),
            )
            .expect("ns"),
        ));
        let mut w = pod("w1", json!({"app": "web"}), "", "", json!({}));
        w.metadata.namespace = Some("prod".into());
        s.upsert_pod(bound(w, "a1"));
        let mut t = term("web", HOST);
        let p = pod(
            "p",
            json!({}),
            "",
            "",
            affinity("podAntiAffinity", vec![t.clone()], vec![]),
        );
        assert_eq!(
            filter_result(&s, &p, "a1"),
            None,
            "the term covers only the pod's namespace"
        );
        t["namespaces"] = json!(["prod"]);
        let p = pod(
            "p",
            json!({}),
            "",
            "",
            affinity("podAntiAffinity", vec![t.clone()], vec![]),
        );
        assert!(filter_result(&s, &p, "a1").is_some());
        let mut t = term("web", HOST);
        t["namespaceSelector"] = json!({"matchLabels": {"env": "prod"}});
        let p = pod(
            "p",
            json!({}),
            "",
            "",
            affinity("podAntiAffinity", vec![t], vec![]),
        );
        assert!(filter_result(&s, &p, "a1").is_some());
        let mut t = term("web", HOST);
        t["namespaceSelector"] = json!({});
        let p = pod(
            "p",
            json!({}),
            "",
            "",
            affinity("podAntiAffinity", vec![t], vec![]),
        );
        assert!(
            filter_result(&s, &p, "a1").is_some(),
            "an empty namespace selector covers all namespaces"
        );
    }

    #[test]
    fn ipa_symmetry_with_namespace_selector() {
        let mut s = zoned_cluster();
        for (name, team) in [("team-a", "a"), ("team-b", "b")] {
            s.upsert_namespace(Arc::new(
                serde_json::from_value(
                    json!({"metadata": {"name": name, "labels": {"team": team}}}),
                )
                .expect("ns"),
            ));
        }
        let mut t = term("web", HOST);
        t["namespaceSelector"] = json!({"matchLabels": {"team": "a"}});
        let mut guard = pod(
            "guard",
            json!({}),
            "",
            "",
            affinity("podAntiAffinity", vec![t], vec![]),
        );
        guard.metadata.namespace = Some("ops".into());
        s.upsert_pod(bound(guard, "a1"));
        let mut web_a = pod("p", json!({"app": "web"}), "", "", json!({}));
        web_a.metadata.namespace = Some("team-a".into());
        assert_eq!(
            filter_result(&s, &web_a, "a1").as_deref(),
            Some("InterPodAffinity: node(s) didn't satisfy existing pods anti-affinity rules")
        );
        let mut web_b = web_a.clone();
        web_b.metadata.namespace = Some("team-b".into());
        assert_eq!(filter_result(&s, &web_b, "a1"), None);
        // Relabelling the namespace changes the answer.
        s.upsert_namespace(Arc::new(
            serde_json::from_value(
                json!({"metadata": {"name": "team-b", "labels": {"team": "a"}}}),
            )
            .expect("ns"),
        ));
        assert!(filter_result(&s, &web_b, "a1").is_some());
    }

    #[test]
    fn ipa_match_label_keys() {
        let mut s = zoned_cluster();
        s.upsert_pod(bound(
            pod(
                "v1",
                json!({"app": "web", "version": "1"}),
                "",
                "",
                json!({}),
            ),
            "a1",
        ));
        let mut t = term("web", HOST);
        t["matchLabelKeys"] = json!(["version"]);
        let v2 = pod(
            "p",
            json!({"app": "web", "version": "2"}),
            "",
            "",
            affinity("podAntiAffinity", vec![t.clone()], vec![]),
        );
        assert_eq!(
            filter_result(&s, &v2, "a1"),
            None,
            "only same-version pods repel"
        );
        let v1 = pod(
            "p",
            json!({"app": "web", "version": "1"}),
            "",
            "",
            affinity("podAntiAffinity", vec![t], vec![]),
        );
        assert!(filter_result(&s, &v1, "a1").is_some());
    }

    #[test]
    fn ipa_score_preferred_terms_both_ways() {
        let mut s = zoned_cluster();
        s.upsert_pod(bound(
            pod("db1", json!({"app": "db"}), "", "", json!({})),
            "a1",
        ));
        let nodes = slots(&s, &["a1", "a2", "b1", "nozone"]);
        let pref = |app: &str, w: i32| json!({"weight": w, "podAffinityTerm": term(app, ZONE)});
        let p = pod(
            "p",
            json!({}),
            "",
            "",
            affinity("podAffinity", vec![], vec![pref("db", 50)]),
        );
        assert_eq!(
            with_cycle(&s, &p, |cs| score(cs, &nodes)),
            Some(vec![100, 100, 0, 0])
        );
        let p = pod(
            "p",
            json!({}),
            "",
            "",
            affinity("podAntiAffinity", vec![], vec![pref("db", 50)]),
        );
        assert_eq!(
            with_cycle(&s, &p, |cs| score(cs, &nodes)),
            Some(vec![0, 0, 100, 100])
        );
        // An existing pod's preference for the incoming pod counts too.
        let fan = pod(
            "fan",
            json!({}),
            "",
            "",
            affinity("podAffinity", vec![], vec![pref("web", 10)]),
        );
        s.upsert_pod(bound(fan, "b1"));
        let web = pod("p", json!({"app": "web"}), "", "", json!({}));
        assert_eq!(
            with_cycle(&s, &web, |cs| score(cs, &nodes)),
            Some(vec![0, 0, 100, 0])
        );
        // Nothing applies: the plugin is skipped.
        let plain = pod("p", json!({"app": "api"}), "", "", json!({}));
        assert_eq!(with_cycle(&s, &plain, |cs| score(cs, &nodes)), None);
    }
}
