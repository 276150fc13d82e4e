//! NodeUnschedulable: a cordoned node (`spec.unschedulable`) takes only pods that
//! tolerate the `node.kubernetes.io/unschedulable:NoSchedule` taint.

use crate::framework::{
    names, tolerations_tolerate, Code, NodeInfo, PodInfo, Status, Taint, EFFECT_NO_SCHEDULE,
    TAINT_UNSCHEDULABLE,
};

pub const ERR_REASON_UNSCHEDULABLE: &str = "node(s) were unschedulable";

pub fn filter(pod: &PodInfo, node: &NodeInfo) -> Option<Status> {
    if !node.unschedulable {
        return None;
    }
    let taint = Taint {
        key: TAINT_UNSCHEDULABLE.to_string(),
        value: String::new(),
        effect: EFFECT_NO_SCHEDULE.to_string(),
    };
    if tolerations_tolerate(&pod.tolerations, &taint) {
        return None;
    }
    Some(Status::new(
        Code::UnschedulableAndUnresolvable,
        names::NODE_UNSCHEDULABLE,
        ERR_REASON_UNSCHEDULABLE,
    ))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::plugins::testutil::{filter_result, node_with, pod};
    use crate::snapshot::Snapshot;

    #[test]
    fn node_unschedulable_rejects_cordoned_unless_tolerated() {
        let mut s = Snapshot::new();
        s.upsert_node(node_with(
            "n1",
            "4",
            "8Gi",
            json!({}),
            json!({"unschedulable": true}),
        ));
        let p = pod("p", json!({}), "", "", json!({}));
        assert_eq!(
            filter_result(&s, &p, "n1").as_deref(),
            Some("NodeUnschedulable: node(s) were unschedulable")
        );
        let tolerant = pod(
            "p",
            json!({}),
            "",
            "",
            json!({"tolerations": [{"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"}]}),
        );
        assert_eq!(filter_result(&s, &tolerant, "n1"), None);
    }
}
