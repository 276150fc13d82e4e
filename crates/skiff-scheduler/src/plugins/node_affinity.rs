//! NodeAffinity: `nodeSelector` and required node affinity filter nodes (terms ORed,
//! expressions within a term ANDed); preferred terms add their weights to the score.
//!
//! PreFilter narrows the search when every required term names nodes with
//! `matchFields: metadata.name In [...]` (upstream's PreFilterResult).

use std::collections::HashSet;

use super::{default_normalize, CycleState};
use crate::framework::{names, Code, NodeInfo, PodInfo, Status};

pub const ERR_REASON_POD: &str = "node(s) didn't match Pod's node affinity/selector";
pub const ERR_REASON_CONFLICT: &str = "pod affinity terms conflict";

/// What PreFilter concluded.
#[derive(Debug, PartialEq, Eq)]
pub enum PreFilter {
    /// Every node is a candidate.
    AllNodes,
    /// Only these nodes can match.
    Nodes(HashSet<String>),
    /// The terms name no node at all.
    Conflict,
}

pub fn pre_filter(pod: &PodInfo) -> PreFilter {
    let Some(terms) = pod
        .required_node_affinity
        .terms
        .as_ref()
        .filter(|t| !t.is_empty())
    else {
        return PreFilter::AllNodes;
    };
    let mut names = HashSet::new();
    for t in terms {
        // A term that does not pin node names lets any node through (terms are ORed).
        let Some(term_names) = t.node_names() else {
            return PreFilter::AllNodes;
        };
        names.extend(term_names);
    }
    if names.is_empty() {
        PreFilter::Conflict
    } else {
        PreFilter::Nodes(names)
    }
}

pub fn filter(pod: &PodInfo, node: &NodeInfo) -> Option<Status> {
    let req = &pod.required_node_affinity;
    if req.is_empty() || req.matches(node) {
        return None;
    }
    Some(Status::new(
        Code::UnschedulableAndUnresolvable,
        names::NODE_AFFINITY,
        ERR_REASON_POD,
    ))
}

/// The sum of the weights of the preferred terms a node matches, scaled by the maximum.
/// `None` when the pod has no preferences (upstream skips the plugin).
pub(crate) fn score(cs: &CycleState<'_>, feasible: &[u32]) -> Option<Vec<i64>> {
    let prefs = &cs.pod.preferred_node_affinity;
    if prefs.is_empty() {
        return None;
    }
    let mut scores: Vec<i64> = feasible
        .iter()
        .map(|&slot| {
            let node = cs.snapshot.node(slot);
            prefs
                .iter()
                .filter(|p| p.term.matches(node))
                .map(|p| p.weight)
                .sum()
        })
        .collect();
    default_normalize(&mut scores, false);
    Some(scores)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::framework::PodInfo;
    use crate::plugins::testutil::{filter_result, node, pod, slots, with_cycle};
    use crate::snapshot::Snapshot;

    fn snap() -> Snapshot {
        let mut s = Snapshot::new();
        s.upsert_node(node(
            "ssd",
            "4",
            "8Gi",
            json!({"disk": "ssd", "cores": "16", "zone": "a"}),
        ));
        s.upsert_node(node(
            "hdd",
            "4",
            "8Gi",
            json!({"disk": "hdd", "cores": "4", "zone": "b"}),
        ));
        s.upsert_node(node("bare", "4", "8Gi", json!({})));
        s
    }

    fn required(terms: serde_json::Value) -> serde_json::Value {
        json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}}}})
    }

    /// A pod whose only constraint is required node affinity with `terms`.
    fn required_pod(terms: serde_json::Value) -> k8s_openapi::api::core::v1::Pod {
        pod("p", json!({}), "", "", required(terms))
    }

    const REJECT: &str = "NodeAffinity: node(s) didn't match Pod's node affinity/selector";

    #[test]
    fn node_affinity_node_selector() {
        let s = snap();
        let p = pod(
            "p",
            json!({}),
            "",
            "",
            json!({"nodeSelector": {"disk": "ssd"}}),
        );
        assert_eq!(filter_result(&s, &p, "ssd"), None);
        assert_eq!(filter_result(&s, &p, "hdd").as_deref(), Some(REJECT));
        assert_eq!(filter_result(&s, &p, "bare").as_deref(), Some(REJECT));
    }

    #[test]
    fn node_affinity_operators() {
        let s = snap();
        let check = |expr: serde_json::Value, want: [bool; 3]| {
            let p = required_pod(json!([{"matchExpressions": [expr.clone()]}]));
            let got = ["ssd", "hdd", "bare"].map(|n| filter_result(&s, &p, n).is_none());
            assert_eq!(got, want, "{expr}");
        };
        check(
            json!({"key": "disk", "operator": "In", "values": ["ssd", "nvme"]}),
            [true, false, false],
        );
        check(
            json!({"key": "disk", "operator": "NotIn", "values": ["ssd"]}),
            [false, true, true],
        );
        check(
            json!({"key": "disk", "operator": "Exists"}),
            [true, true, false],
        );
        check(
            json!({"key": "disk", "operator": "DoesNotExist"}),
            [false, false, true],
        );
        check(
            json!({"key": "cores", "operator": "Gt", "values": ["8"]}),
            [true, false, false],
        );
        check(
            json!({"key": "cores", "operator": "Lt", "values": ["8"]}),
            [false, true, false],
        );
        // Invalid requirements make the term match nothing.
        check(
            json!({"key": "cores", "operator": "Gt", "values": ["eight"]}),
            [false, false, false],
        );
        check(
            json!({"key": "disk", "operator": "In", "values": []}),
            [false, false, false],
        );
    }

    #[test]
    fn node_affinity_terms_or_expressions_and() {
        let s = snap();
        let p = required_pod(json!([
            {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}, {"key": "zone", "operator": "In", "values": ["b"]}]},
            {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["hdd"]}]}
        ]));
        assert_eq!(
            filter_result(&s, &p, "ssd").as_deref(),
            Some(REJECT),
            "ssd is in zone a"
        );
        assert_eq!(filter_result(&s, &p, "hdd"), None);
        // An empty term matches nothing; nodeSelector and affinity are ANDed.
        let p = required_pod(json!([{}]));
        assert_eq!(filter_result(&s, &p, "ssd").as_deref(), Some(REJECT));
        let mut spec =
            required(json!([{"matchExpressions": [{"key": "disk", "operator": "Exists"}]}]));
        spec["nodeSelector"] = json!({"zone": "b"});
        let p = pod("p", json!({}), "", "", spec);
        assert_eq!(filter_result(&s, &p, "ssd").as_deref(), Some(REJECT));
        assert_eq!(filter_result(&s, &p, "hdd"), None);
    }

    #[test]
    fn node_affinity_match_fields_and_prefilter() {
        let s = snap();
        let p = required_pod(
            json!([{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["hdd"]}]}]),
        );
        assert_eq!(filter_result(&s, &p, "hdd"), None);
        assert_eq!(filter_result(&s, &p, "ssd").as_deref(), Some(REJECT));
        assert_eq!(
            pre_filter(&PodInfo::parse(&p)),
            PreFilter::Nodes(["hdd".to_string()].into())
        );
        let conflict = required_pod(json!([{"matchFields": [
                {"key": "metadata.name", "operator": "In", "values": ["hdd"]},
                {"key": "metadata.name", "operator": "In", "values": ["ssd"]}]}]));
        assert_eq!(pre_filter(&PodInfo::parse(&conflict)), PreFilter::Conflict);
        let mixed = required_pod(json!([
                {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["hdd"]}]},
                {"matchExpressions": [{"key": "disk", "operator": "Exists"}]}]));
        assert_eq!(pre_filter(&PodInfo::parse(&mixed)), PreFilter::AllNodes);
        let not_in = required_pod(
            json!([{"matchFields": [{"key": "metadata.name", "operator": "NotIn", "values": ["hdd"]}]}]),
        );
        assert_eq!(filter_result(&s, &not_in, "hdd").as_deref(), Some(REJECT));
        assert_eq!(filter_result(&s, &not_in, "ssd"), None);
    }

    #[test]
    fn node_affinity_preferred_weights() {
        let s = snap();
        let p = pod(
            "p",
            json!({}),
            "",
            "",
            json!({"affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 20, "preference": {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]}},
                {"weight": 80, "preference": {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["b"]}]}},
                {"weight": 0, "preference": {"matchExpressions": [{"key": "disk", "operator": "DoesNotExist"}]}}
            ]}}}),
        );
        let nodes = slots(&s, &["ssd", "hdd", "bare"]);
        assert_eq!(
            with_cycle(&s, &p, |cs| score(cs, &nodes)),
            Some(vec![25, 100, 0])
        );
        let none = pod("p", json!({}), "", "", json!({}));
        assert_eq!(with_cycle(&s, &none, |cs| score(cs, &nodes)), None);
    }
}
