//! TaintToleration: a node's NoSchedule and NoExecute taints must be tolerated (filter);
//! untolerated PreferNoSchedule taints lower a node's score.
//!
//! A node whose Ready condition is not True carries the NoSchedule taint the node
//! lifecycle controller would add (`node.kubernetes.io/not-ready`, or `unreachable` when
//! the status is Unknown); see `NodeInfo::set_node`. It is filtered here like any taint.

use std::borrow::Cow;

use super::{default_normalize, CycleState};
use crate::framework::{
    first_untolerated_hard_taint, names, tolerations_tolerate, Code, NodeInfo, PodInfo, Status,
    Toleration, EFFECT_PREFER_NO_SCHEDULE,
};

pub fn filter(pod: &PodInfo, node: &NodeInfo) -> Option<Status> {
    if node.taints.is_empty() {
        return None;
    }
    let taint = first_untolerated_hard_taint(&node.taints, &pod.tolerations)?;
    let reason = format!(
        "node(s) had untolerated taint {{{}: {}}}",
        taint.key, taint.value
    );
    Some(Status::new(
        Code::UnschedulableAndUnresolvable,
        names::TAINT_TOLERATION,
        Cow::Owned(reason),
    ))
}

/// The number of untolerated PreferNoSchedule taints, normalised so that fewer is better.
pub(crate) fn score(cs: &CycleState<'_>, feasible: &[u32]) -> Vec<i64> {
    // Only tolerations that can apply to PreferNoSchedule taints count.
    let tolerations: Vec<Toleration> = cs
        .pod
        .tolerations
        .iter()
        .filter(|t| t.effect.is_empty() || t.effect == EFFECT_PREFER_NO_SCHEDULE)
        .cloned()
        .collect();
    let mut scores: Vec<i64> = feasible
        .iter()
        .map(|&slot| {
            let node = cs.snapshot.node(slot);
            if !node.has_prefer_no_schedule {
                return 0;
            }
            node.taints
                .iter()
                .filter(|t| {
                    t.effect == EFFECT_PREFER_NO_SCHEDULE && !tolerations_tolerate(&tolerations, t)
                })
                .count() as i64
        })
        .collect();
    default_normalize(&mut scores, true);
    scores
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use crate::plugins::testutil::{filter_result, node, node_with, pod, slots, with_cycle};
    use crate::snapshot::Snapshot;

    fn tainted(name: &str, taints: serde_json::Value) -> Arc<k8s_openapi::api::core::v1::Node> {
        node_with(name, "4", "8Gi", json!({}), json!({"taints": taints}))
    }

    #[test]
    fn taint_filter_noschedule_and_noexecute() {
        let mut s = Snapshot::new();
        s.upsert_node(tainted(
            "n1",
            json!([{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]),
        ));
        s.upsert_node(tainted(
            "n2",
            json!([{"key": "evict", "effect": "NoExecute"}]),
        ));
        s.upsert_node(tainted(
            "n3",
            json!([{"key": "soft", "value": "x", "effect": "PreferNoSchedule"}]),
        ));
        let plain = pod("p", json!({}), "", "", json!({}));
        assert_eq!(
            filter_result(&s, &plain, "n1").as_deref(),
            Some("TaintToleration: node(s) had untolerated taint {dedicated: gpu}")
        );
        assert_eq!(
            filter_result(&s, &plain, "n2").as_deref(),
            Some("TaintToleration: node(s) had untolerated taint {evict: }")
        );
        assert_eq!(
            filter_result(&s, &plain, "n3"),
            None,
            "PreferNoSchedule never filters"
        );

        let equal = pod(
            "p",
            json!({}),
            "",
            "",
            json!({"tolerations": [{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}]}),
        );
        assert_eq!(filter_result(&s, &equal, "n1"), None);
        let wrong_value = pod(
            "p",
            json!({}),
            "",
            "",
            json!({"tolerations": [{"key": "dedicated", "value": "cpu"}]}),
        );
        assert!(filter_result(&s, &wrong_value, "n1").is_some());
        let exists_all = pod(
            "p",
            json!({}),
            "",
            "",
            json!({"tolerations": [{"operator": "Exists"}]}),
        );
        assert_eq!(filter_result(&s, &exists_all, "n1"), None);
        assert_eq!(filter_result(&s, &exists_all, "n2"), None);
        let wrong_effect = pod(
            "p",
            json!({}),
            "",
            "",
            json!({"tolerations": [{"key": "evict", "operator": "Exists", "effect": "NoSchedule"}]}),
        );
        assert!(filter_result(&s, &wrong_effect, "n2").is_some());
    }

    #[test]
    fn taint_not_ready_nodes_are_tainted() {
        let mut s = Snapshot::new();
        let mut n: k8s_openapi::api::core::v1::Node =
            (*node("down", "4", "8Gi", json!({}))).clone();
        if let Some(st) = n.status.as_mut() {
            st.conditions = serde_json::from_value(json!([{"type": "Ready", "status": "False"}]))
                .expect("json");
        }
        s.upsert_node(Arc::new(n.clone()));
        if let Some(st) = n.status.as_mut() {
            st.conditions = serde_json::from_value(json!([{"type": "Ready", "status": "Unknown"}]))
                .expect("json");
        }
        n.metadata.name = Some("gone".into());
        s.upsert_node(Arc::new(n));
        let p = pod("p", json!({}), "", "", json!({}));
        assert_eq!(
            filter_result(&s, &p, "down").as_deref(),
            Some("TaintToleration: node(s) had untolerated taint {node.kubernetes.io/not-ready: }")
        );
        assert_eq!(
            filter_result(&s, &p, "gone").as_deref(),
            Some(
                "TaintToleration: node(s) had untolerated taint {node.kubernetes.io/unreachable: }"
            )
        );
        // The default NoExecute tolerations pods get do not cover the NoSchedule taint.
        let defaulted = pod(
            "p",
            json!({}),
            "",
            "",
            json!({"tolerations": [
            {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}]}),
        );
        assert!(filter_result(&s, &defaulted, "down").is_some());
        let tolerant = pod(
            "p",
            json!({}),
            "",
            "",
            json!({"tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists"}]}),
        );
        assert_eq!(filter_result(&s, &tolerant, "down"), None);
    }

    #[test]
    fn taint_score_prefers_fewer_untolerated_prefer_no_schedule() {
        let mut s = Snapshot::new();
        s.upsert_node(node("clean", "4", "8Gi", json!({})));
        s.upsert_node(tainted(
            "one",
            json!([{"key": "a", "effect": "PreferNoSchedule"}]),
        ));
        s.upsert_node(tainted("two", json!([{"key": "a", "effect": "PreferNoSchedule"}, {"key": "b", "effect": "PreferNoSchedule"}])));
        let p = pod("p", json!({}), "", "", json!({}));
        let nodes = slots(&s, &["clean", "one", "two"]);
        assert_eq!(
            with_cycle(&s, &p, |cs| super::score(cs, &nodes)),
            [100, 50, 0]
        );
        let tolerates_a = pod(
            "p",
            json!({}),
            "",
            "",
            json!({"tolerations": [{"key": "a", "operator": "Exists", "effect": "PreferNoSchedule"}]}),
        );
        assert_eq!(
            with_cycle(&s, &tolerates_a, |cs| super::score(cs, &nodes)),
            [100, 100, 0]
        );
    }
}
