//! NodePorts: a pod's host ports must be free on the node. A port bound on 0.0.0.0
//! conflicts with the same protocol and port on any address.

use crate::framework::{names, Code, NodeInfo, PodInfo, Status};

pub const ERR_REASON: &str = "node(s) didn't have free ports for the requested pod ports";

pub fn filter(pod: &PodInfo, node: &NodeInfo) -> Option<Status> {
    if pod.host_ports.is_empty() || node.used_ports.is_empty() {
        return None;
    }
    if pod.host_ports.iter().any(|p| node.port_in_use(p)) {
        return Some(Status::new(
            Code::Unschedulable,
            names::NODE_PORTS,
            ERR_REASON,
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::plugins::testutil::{bound, filter_result, node, pod};
    use crate::snapshot::Snapshot;

    fn with_port(name: &str, port: serde_json::Value) -> k8s_openapi::api::core::v1::Pod {
        pod(
            name,
            json!({}),
            "",
            "",
            json!({"containers": [{"name": "c", "ports": [port]}]}),
        )
    }

    #[test]
    fn node_ports_conflicts_by_ip_and_protocol() {
        let mut s = Snapshot::new();
        s.upsert_node(node("n1", "4", "8Gi", json!({})));
        s.upsert_pod(bound(
            with_port(
                "old",
                json!({"containerPort": 80, "hostPort": 8080, "hostIP": "10.0.0.1"}),
            ),
            "n1",
        ));
        let reject = Some("NodePorts: node(s) didn't have free ports for the requested pod ports");
        // Same IP, same default protocol (TCP).
        let p = with_port(
            "p",
            json!({"containerPort": 80, "hostPort": 8080, "hostIP": "10.0.0.1", "protocol": "TCP"}),
        );
        assert_eq!(filter_result(&s, &p, "n1").as_deref(), reject);
        // 0.0.0.0 (the default) conflicts with every address.
        let p = with_port("p", json!({"containerPort": 80, "hostPort": 8080}));
        assert_eq!(filter_result(&s, &p, "n1").as_deref(), reject);
        // Another address, another protocol or another port is free.
        let p = with_port(
            "p",
            json!({"containerPort": 80, "hostPort": 8080, "hostIP": "10.0.0.2"}),
        );
        assert_eq!(filter_result(&s, &p, "n1"), None);
        let p = with_port(
            "p",
            json!({"containerPort": 80, "hostPort": 8080, "protocol": "UDP"}),
        );
        assert_eq!(filter_result(&s, &p, "n1"), None);
        let p = with_port("p", json!({"containerPort": 80, "hostPort": 9090}));
        assert_eq!(filter_result(&s, &p, "n1"), None);
        // A container port without a host port never conflicts.
        let p = with_port("p", json!({"containerPort": 8080}));
        assert_eq!(filter_result(&s, &p, "n1"), None);
    }

    #[test]
    fn node_ports_existing_wildcard_blocks_specific_ip() {
        let mut s = Snapshot::new();
        s.upsert_node(node("n1", "4", "8Gi", json!({})));
        s.upsert_pod(bound(
            with_port(
                "old",
                json!({"containerPort": 53, "hostPort": 53, "protocol": "UDP"}),
            ),
            "n1",
        ));
        let p = with_port(
            "p",
            json!({"containerPort": 53, "hostPort": 53, "protocol": "UDP", "hostIP": "127.0.0.1"}),
        );
        assert!(filter_result(&s, &p, "n1").is_some());
        // Sidecars' host ports count too.
        let p = pod(
            "p",
            json!({}),
            "",
            "",
            json!({"initContainers": [{"name": "s", "restartPolicy": "Always",
                "ports": [{"containerPort": 53, "hostPort": 53, "protocol": "UDP"}]}]}),
        );
        assert!(filter_result(&s, &p, "n1").is_some());
    }
}
