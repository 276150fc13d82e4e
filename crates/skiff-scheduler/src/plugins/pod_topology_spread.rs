//! PodTopologySpread: DoNotSchedule constraints filter nodes whose domain would exceed
//! `maxSkew` over the least-loaded domain; ScheduleAnyway constraints score nodes by how
//! many selected pods their domains already hold.
//!
//! Domains are counted over all nodes that pass the constraint's node inclusion policies
//! (nodeAffinityPolicy Honor and nodeTaintsPolicy Ignore by default) and carry every
//! constraint's topology key; `minDomains` treats the global minimum as 0 while fewer
//! domains exist.
//!
//! A pod without constraints gets upstream's system defaults (ScheduleAnyway, maxSkew 3
//! per hostname and 5 per zone) over the pods of the same controller: upstream selects
//! them with the selectors of the Services and controllers matching the pod, which the
//! scheduler snapshot does not hold, so the controller owner stands in for them.

use std::collections::HashMap;

use super::CycleState;
use crate::framework::{
    first_untolerated_hard_taint, names, Code, NodeInfo, PodInfo, Selector, SlotMap,
    SpreadConstraint, Status, LABEL_HOSTNAME, LABEL_ZONE, MAX_NODE_SCORE,
};
use crate::snapshot::Snapshot;

pub const ERR_REASON_CONSTRAINTS_NOT_MATCH: &str =
    "node(s) didn't match pod topology spread constraints";
pub const ERR_REASON_NODE_LABEL_NOT_MATCH: &str =
    "node(s) didn't match pod topology spread constraints (missing required label)";

/// Selected pods per domain for each DoNotSchedule constraint, and each global minimum.
#[derive(Debug)]
pub struct PreFilterState<'a> {
    constraints: &'a [SpreadConstraint],
    counts: Vec<HashMap<&'a str, i64>>,
    min: Vec<i64>,
}

/// Pods the selector picks in the pod's namespace, per node slot (terminating pods do
/// not count).
fn pods_per_node(snap: &Snapshot, ns: &str, selector: &Selector) -> SlotMap<i64> {
    let mut m = SlotMap::default();
    snap.for_each_candidate_pod(selector, |p| {
        if p.namespace == ns && !p.terminating && selector.matches(&p.labels) {
            *m.entry(p.node).or_insert(0) += 1;
        }
    });
    m
}

/// upstream `matchNodeInclusionPolicies`; the node-affinity match is computed once per node.
fn include_node(
    honor_affinity: bool,
    honor_taints: bool,
    pod: &PodInfo,
    node: &NodeInfo,
    affinity: &mut Option<bool>,
) -> bool {
    if honor_affinity && !*affinity.get_or_insert_with(|| pod.required_node_affinity.matches(node))
    {
        return false;
    }
    !(honor_taints && first_untolerated_hard_taint(&node.taints, &pod.tolerations).is_some())
}

pub fn pre_filter<'a>(
    snap: &'a Snapshot,
    pod: &'a PodInfo,
) -> Result<Option<PreFilterState<'a>>, String> {
    if let Some(e) = &pod.spread_parse_error {
        return Err(format!(
            "running PreFilter plugin \"{}\": get constraints from pod: {e}",
            names::POD_TOPOLOGY_SPREAD
        ));
    }
    let constraints = pod.hard_spread.as_slice();
    if constraints.is_empty() {
        return Ok(None);
    }
    let per_node: Vec<SlotMap<i64>> = constraints
        .iter()
        .map(|c| pods_per_node(snap, &pod.namespace, &c.selector))
        .collect();
    let mut counts: Vec<HashMap<&'a str, i64>> = vec![HashMap::new(); constraints.len()];
    for &slot in &snap.order {
        let node = snap.node(slot);
        if !constraints
            .iter()
            .all(|c| node.labels.contains_key(&c.topology_key))
        {
            continue;
        }
        let mut affinity = None;
        for (i, c) in constraints.iter().enumerate() {
            if !include_node(
                c.honor_node_affinity,
                c.honor_node_taints,
                pod,
                node,
                &mut affinity,
            ) {
                continue;
            }
            let Some(value) = node.labels.get(&c.topology_key) else {
                continue;
            };
            *counts[i].entry(value.as_str()).or_insert(0) +=
                per_node[i].get(&slot).copied().unwrap_or(0);
        }
    }
    let min = constraints
        .iter()
        .zip(&counts)
        .map(|(c, domains)| {
            if (domains.len() as i64) < c.min_domains {
                0
            } else {
                domains.values().copied().min().unwrap_or(0)
            }
        })
        .collect();
    Ok(Some(PreFilterState {
        constraints,
        counts,
        min,
    }))
}

pub fn filter(state: &PreFilterState<'_>, pod: &PodInfo, node: &NodeInfo) -> Option<Status> {
    for (i, c) in state.constraints.iter().enumerate() {
        let Some(value) = node.labels.get(&c.topology_key) else {
            return Some(Status::new(
                Code::UnschedulableAndUnresolvable,
                names::POD_TOPOLOGY_SPREAD,
                ERR_REASON_NODE_LABEL_NOT_MATCH,
            ));
        };
        let self_match = i64::from(c.selector.matches(&pod.labels));
        let matched = state.counts[i].get(value.as_str()).copied().unwrap_or(0);
        if matched + self_match - state.min[i] > c.max_skew {
            return Some(Status::new(
                Code::Unschedulable,
                names::POD_TOPOLOGY_SPREAD,
                ERR_REASON_CONSTRAINTS_NOT_MATCH,
            ));
        }
    }
    None
}

/// A scoring constraint with its per-node counts of selected pods.
struct ScoreConstraint<'a> {
    key: &'a str,
    max_skew: i64,
    honor_affinity: bool,
    honor_taints: bool,
    per_node: SlotMap<i64>,
}

/// Fewer selected pods in a node's domains scores higher. `None` when the pod has no
/// ScheduleAnyway constraints (and no default ones apply).
pub(crate) fn score(cs: &CycleState<'_>, feasible: &[u32]) -> Option<Vec<i64>> {
    let pod = cs.pod;
    let snap = cs.snapshot;
    let (constraints, require_all_keys): (Vec<ScoreConstraint<'_>>, bool) =
        if pod.has_spread_constraints {
            let list = pod
                .soft_spread
                .iter()
                .map(|c| ScoreConstraint {
                    key: &c.topology_key,
                    max_skew: c.max_skew,
                    honor_affinity: c.honor_node_affinity,
                    honor_taints: c.honor_node_taints,
                    per_node: pods_per_node(snap, &pod.namespace, &c.selector),
                })
                .collect();
            (list, true)
        } else if let Some(owner) = &pod.controller_uid {
            let per_node: SlotMap<i64> = snap
                .owners
                .get(owner)
                .map(|m| m.iter().map(|(&k, &v)| (k, i64::from(v))).collect())
                .unwrap_or_default();
            let default = |key, max_skew, per_node| ScoreConstraint {
                key,
                max_skew,
                honor_affinity: true,
                honor_taints: false,
                per_node,
            };
            // System defaults do not require every key, so zone-less nodes still spread by host.
            (
                vec![
                    default(LABEL_HOSTNAME, 3, per_node.clone()),
                    default(LABEL_ZONE, 5, per_node),
                ],
                false,
            )
        } else {
            return None;
        };
    if constraints.is_empty() {
        return None;
    }
    let has_all_keys =
        |node: &NodeInfo| constraints.iter().all(|c| node.labels.contains_key(c.key));

    // Domains among the feasible nodes; nodes missing a key are left unscored.
    let ignored: Vec<bool> = feasible
        .iter()
        .map(|&slot| require_all_keys && !has_all_keys(snap.node(slot)))
        .collect();
    let mut domains: Vec<HashMap<&str, i64>> = vec![HashMap::new(); constraints.len()];
    for (&slot, _) in feasible.iter().zip(&ignored).filter(|(_, ign)| !**ign) {
        let node = snap.node(slot);
        for (i, c) in constraints.iter().enumerate() {
            if c.key != LABEL_HOSTNAME {
                domains[i]
                    .entry(node.labels.get(c.key).map_or("", String::as_str))
                    .or_insert(0);
            }
        }
    }
    let scored = ignored.iter().filter(|i| !**i).count();
    let weights: Vec<f64> = constraints
        .iter()
        .zip(&domains)
        .map(|(c, d)| {
            let size = if c.key == LABEL_HOSTNAME {
                scored
            } else {
                d.len()
            };
            ((size + 2) as f64).ln()
        })
        .collect();

    // Selected pods per domain, over every node the policies include. Only nodes holding
    // selected pods add anything, so walk those rather than the whole cluster.
    for (i, c) in constraints.iter().enumerate() {
        if c.key == LABEL_HOSTNAME {
            continue;
        }
        for (&slot, &count) in &c.per_node {
            let node = snap.node(slot);
            let mut affinity = None;
            if !node.present
                || (require_all_keys && !has_all_keys(node))
                || !include_node(c.honor_affinity, c.honor_taints, pod, node, &mut affinity)
            {
                continue;
            }
            let value = node.labels.get(c.key).map_or("", String::as_str);
            if let Some(n) = domains[i].get_mut(value) {
                *n += count;
            }
        }
    }

    let raw: Vec<Option<i64>> = feasible
        .iter()
        .zip(&ignored)
        .map(|(&slot, &ign)| {
            if ign {
                return None;
            }
            let node = snap.node(slot);
            let mut s = 0f64;
            for (i, c) in constraints.iter().enumerate() {
                let Some(value) = node.labels.get(c.key) else {
                    continue;
                };
                let count = if c.key == LABEL_HOSTNAME {
                    c.per_node.get(&slot).copied().unwrap_or(0)
                } else {
                    domains[i].get(value.as_str()).copied().unwrap_or(0)
                };
                // maxSkew-1 waters down small differences between domains.
                s += count as f64 * weights[i] + (c.max_skew - 1) as f64;
            }
            Some(s.round() as i64)
        })
        .collect();

    let min = raw.iter().flatten().copied().min().unwrap_or(0);
    let max = raw.iter().flatten().copied().max().unwrap_or(0).max(0);
    Some(
        raw.into_iter()
            .map(|s| match s {
                None => 0,
                Some(_) if max == 0 => MAX_NODE_SCORE,
                Some(s) => MAX_NODE_SCORE * (max + min - s) / max,
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::plugins::testutil::{bound, filter_result, pod, slots, with_cycle, zoned_cluster};

    fn spread(when: &str, extra: serde_json::Value) -> serde_json::Value {
        let mut c = json!({"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": when,
            "labelSelector": {"matchLabels": {"app": "web"}}});
        if let (Some(dst), Some(src)) = (c.as_object_mut(), extra.as_object()) {
            for (k, v) in src {
                dst.insert(k.clone(), v.clone());
            }
        }
        json!({"topologySpreadConstraints": [c]})
    }

    fn web(name: &str, spec: serde_json::Value) -> k8s_openapi::api::core::v1::Pod {
        pod(name, json!({"app": "web"}), "100m", "", spec)
    }

    #[test]
    fn spread_filter_max_skew() {
        let mut s = zoned_cluster();
        s.upsert_pod(bound(web("w1", json!({})), "a1"));
        let p = web("p", spread("DoNotSchedule", json!({})));
        // Zone a has 1, zone b has 0: a would reach skew 2.
        assert_eq!(
            filter_result(&s, &p, "a2").as_deref(),
            Some("PodTopologySpread: node(s) didn't match pod topology spread constraints")
        );
        assert_eq!(filter_result(&s, &p, "b1"), None);
        assert_eq!(
            filter_result(&s, &p, "nozone").as_deref(),
            Some("PodTopologySpread: node(s) didn't match pod topology spread constraints (missing required label)")
        );
        // Pods in other namespaces, terminating pods and unselected pods do not count.
        let mut other_ns = web("x", json!({}));
        other_ns.metadata.namespace = Some("other".into());
        s.upsert_pod(bound(other_ns, "b1"));
        let mut dying = web("dying", json!({}));
        dying.metadata.deletion_timestamp =
            serde_json::from_value(json!("2024-01-01T00:00:00Z")).expect("time");
        s.upsert_pod(bound(dying, "b1"));
        s.upsert_pod(bound(
            pod("db", json!({"app": "db"}), "", "", json!({})),
            "b1",
        ));
        assert_eq!(filter_result(&s, &p, "b1"), None);
        // A pod the selector does not pick adds no skew of its own.
        let outsider = pod(
            "p",
            json!({"app": "other"}),
            "",
            "",
            spread("DoNotSchedule", json!({})),
        );
        assert_eq!(filter_result(&s, &outsider, "a2"), None);
    }

    #[test]
    fn spread_filter_min_domains_and_node_affinity_policy() {
        let mut s = zoned_cluster();
        s.upsert_pod(bound(web("w1", json!({})), "a1"));
        s.upsert_pod(bound(web("w2", json!({})), "b1"));
        // Two domains exist but minDomains 3 makes the minimum 0: every domain with a pod
        // is at skew 2.
        let p = web("p", spread("DoNotSchedule", json!({"minDomains": 3})));
        assert!(filter_result(&s, &p, "a2").is_some());
        let p = web("p", spread("DoNotSchedule", json!({})));
        assert_eq!(filter_result(&s, &p, "a2"), None);
        // With the pod limited to zone a by node affinity, zone b is not a domain (Honor):
        // the minimum is zone a's own count, so a fits; with Ignore, b counts and a fails.
        s.upsert_pod(bound(web("w3", json!({})), "a2"));
        let mut spec = spread("DoNotSchedule", json!({}));
        spec["nodeSelector"] = json!({"topology.kubernetes.io/zone": "a"});
        assert_eq!(filter_result(&s, &web("p", spec.clone()), "a1"), None);
        let mut spec = spread("DoNotSchedule", json!({"nodeAffinityPolicy": "Ignore"}));
        spec["nodeSelector"] = json!({"topology.kubernetes.io/zone": "a"});
        assert!(filter_result(&s, &web("p", spec), "a1").is_some());
    }

    #[test]
    fn spread_score_schedule_anyway() {
        let mut s = zoned_cluster();
        s.upsert_pod(bound(web("w1", json!({})), "a1"));
        s.upsert_pod(bound(web("w2", json!({})), "a2"));
        let p = web("p", spread("ScheduleAnyway", json!({})));
        let nodes = slots(&s, &["a1", "b1", "nozone"]);
        // Domains {a: 2, b: 0}, weight ln(4): a scores round(2*1.386) = 3, b 0.
        // Normalised: a 100*(3+0-3)/3 = 0, b 100; the zone-less node is not scored.
        assert_eq!(
            with_cycle(&s, &p, |cs| score(cs, &nodes)),
            Some(vec![0, 100, 0])
        );
        let plain = pod("p", json!({"app": "web"}), "", "", json!({}));
        assert_eq!(with_cycle(&s, &plain, |cs| score(cs, &nodes)), None);
    }

    #[test]
    fn spread_default_constraints_follow_the_controller() {
        let mut s = zoned_cluster();
        let owned = |name: &str| {
            let mut p = pod(name, json!({"app": "web"}), "", "", json!({}));
            p.metadata.owner_references = serde_json::from_value(json!([
                {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "rs-1", "controller": true}]))
            .expect("owner refs");
            p
        };
        s.upsert_pod(bound(owned("r1"), "a1"));
        s.upsert_pod(bound(owned("r2"), "a1"));
        let nodes = slots(&s, &["a1", "a2", "b1", "nozone"]);
        let got = with_cycle(&s, &owned("p"), |cs| score(cs, &nodes)).expect("defaults apply");
        // Weights ln(4+2) per host and ln(3+2) per zone (a, b and the zone-less ""):
        // a1 = round(2*1.79+2 + 2*1.61+4) = 13, a2 = round(2 + 7.22) = 9, b1 = 2+4 = 6,
        // and the zone-less node only gets the hostname part, 2.
        assert_eq!(got, [15, 46, 69, 100]);
    }
}
