//! NodeName: a pod that names its node (`spec.nodeName`) fits only there.

use crate::framework::{names, Code, NodeInfo, PodInfo, Status};

pub const ERR_REASON: &str = "node(s) didn't match the requested node name";

pub fn filter(pod: &PodInfo, node: &NodeInfo) -> Option<Status> {
    if pod.node_name.is_empty() || pod.node_name == node.name {
        return None;
    }
    Some(Status::new(
        Code::UnschedulableAndUnresolvable,
        names::NODE_NAME,
        ERR_REASON,
    ))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::plugins::testutil::{filter_result, node, pod};
    use crate::snapshot::Snapshot;

    #[test]
    fn node_name_must_match() {
        let mut s = Snapshot::new();
        s.upsert_node(node("n1", "4", "8Gi", json!({})));
        s.upsert_node(node("n2", "4", "8Gi", json!({})));
        let p = pod("p", json!({}), "", "", json!({"nodeName": "n2"}));
        assert_eq!(
            filter_result(&s, &p, "n1").as_deref(),
            Some("NodeName: node(s) didn't match the requested node name")
        );
        assert_eq!(filter_result(&s, &p, "n2"), None);
    }
}
