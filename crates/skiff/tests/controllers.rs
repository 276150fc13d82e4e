//! End-to-end: the controllers inside `skiff server`, driven by the real kubectl.

mod common;
use common::{eventually, Cluster};

fn create(c: &Cluster, yaml: &str) {
    let out = c.kubectl_with(&["create", "-f", "-"], Some(yaml), &[]);
    assert!(out.status.success(), "{}", common::text(&out));
}

fn pod_cidr(c: &Cluster, node: &str) -> Option<String> {
    let v = c.json(&["get", "node", node]);
    let single = v["spec"]["podCIDR"].as_str()?.to_string();
    assert_eq!(v["spec"]["podCIDRs"], serde_json::json!([single]), "{v}");
    Some(single)
}

#[test]
fn nodeipam_gives_each_node_a_distinct_24() {
    let c = Cluster::start();
    // A node that already holds a CIDR keeps it, and nobody else gets it.
    create(&c, "apiVersion: v1\nkind: Node\nmetadata:\n  name: old\nspec:\n  podCIDR: 10.244.0.0/24\n");
    for n in ["n1", "n2", "n3"] {
        create(&c, &format!("apiVersion: v1\nkind: Node\nmetadata:\n  name: {n}\n"));
    }
    let mut cidrs: Vec<String> = ["n1", "n2", "n3"].iter().map(|n| eventually(20, || pod_cidr(&c, n))).collect();
    assert_eq!(pod_cidr(&c, "old").as_deref(), Some("10.244.0.0/24"));
    cidrs.sort();
    cidrs.dedup();
    assert_eq!(cidrs.len(), 3, "{cidrs:?}");
    for cidr in &cidrs {
        assert!(cidr.starts_with("10.244.") && cidr.ends_with(".0/24") && cidr != "10.244.0.0/24", "{cidr}");
    }
}
