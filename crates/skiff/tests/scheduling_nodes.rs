//! End to end: the scheduler places real pods on real node agents (several on this host),
//! with node labels set by `kubectl label nodes`, as the seeds do it.

mod common;

use common::{eventually, Cluster};
use serde_json::Value;

/// A control plane and the named agents, each reporting 2 CPUs, 4 GiB and 20 pods.
fn cluster_with_nodes(names: &[&str]) -> Cluster {
    let mut c = Cluster::start();
    for n in names {
        c.add_agent(n, &["--capacity", "cpu=2,memory=4Gi,pods=20"]);
    }
    wait_ready(&c, names);
    c
}

fn wait_ready(c: &Cluster, names: &[&str]) {
    for n in names {
        eventually(30, || {
            let node = c.json(&["get", "nodes"]);
            node["items"].as_array()?.iter().find(|i| i["metadata"]["name"] == *n && ready(i) && i["spec"]["podCIDR"].is_string()).map(|_| ())
        });
    }
}

fn ready(n: &Value) -> bool {
    n["status"]["conditions"].as_array().is_some_and(|cs| cs.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
}

/// A pod that sleeps, with the given extra spec (YAML, indented under `spec:`).
fn pod(name: &str, labels: &str, spec: &str) -> String {
    format!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  labels: {{{labels}}}\nspec:\n{spec}  containers:\n  - {{name: app, image: busybox, command: [sleep, '3600']}}\n")
}

/// Waits until the pod runs; returns its node.
fn running_on(c: &Cluster, name: &str) -> String {
    eventually(40, || {
        let p = c.json(&["get", "pod", name]);
        (p["status"]["phase"] == "Running").then(|| p["spec"]["nodeName"].as_str().unwrap_or("").to_string())
    })
}

fn failed_scheduling(c: &Cluster, name: &str) -> String {
    eventually(20, || {
        let ev = c.ok(&["get", "events", "--field-selector", &format!("involvedObject.name={name},reason=FailedScheduling"), "-o", "jsonpath={.items[*].message}"]);
        (!ev.is_empty()).then_some(ev)
    })
}

fn apply(c: &Cluster, yaml: &str) {
    let out = c.apply(yaml);
    assert!(out.status.success(), "{}", common::text(&out));
}

#[test]
fn node_selector_and_node_affinity_from_the_seeds() {
    let c = cluster_with_nodes(&["node-a", "node-b", "node-c"]);
    c.ok(&["label", "nodes", "node-a", "disk=ssd"]);
    c.ok(&["label", "nodes", "node-b", "kubernetes.io/e2e-az-name=e2e-az1"]);
    c.ok(&["label", "nodes", "node-c", "kubernetes.io/e2e-az-name=e2e-az2", "another-node-label-key=another-node-label-value"]);
    assert!(c.ok(&["get", "nodes", "--show-labels"]).contains("disk=ssd"));

    apply(&c, &pod("ssd", "app: ssd", "  nodeSelector: {disk: ssd}\n"));
    assert_eq!(running_on(&c, "ssd"), "node-a");

    // The seeds' with-node-affinity pod: required az1 or az2, preferred another-node-label-key.
    let affinity = r#"  affinity:
    nodeAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
        nodeSelectorTerms:
        - matchExpressions:
          - {key: kubernetes.io/e2e-az-name, operator: In, values: [e2e-az1, e2e-az2]}
      preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 1
        preference:
          matchExpressions:
          - {key: another-node-label-key, operator: In, values: [another-node-label-value]}
"#;
    apply(&c, &pod("with-node-affinity", "app: affinity", affinity));
    assert_eq!(running_on(&c, "with-node-affinity"), "node-c");

    // No node matches: Pending with upstream's reason, until a node is relabelled.
    c.ok(&["label", "nodes", "node-a", "disk-"]);
    apply(&c, &pod("ssd-2", "app: ssd", "  nodeSelector: {disk: ssd}\n"));
    let msg = failed_scheduling(&c, "ssd-2");
    assert!(msg.contains("0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector."), "{msg}");
    let p = c.json(&["get", "pod", "ssd-2"]);
    assert_eq!(p["status"]["phase"], "Pending");
    c.ok(&["label", "nodes", "node-b", "disk=ssd"]);
    assert_eq!(running_on(&c, "ssd-2"), "node-b");
}

#[test]
fn pod_affinity_and_anti_affinity_from_the_seeds() {
    let c = cluster_with_nodes(&["node-a", "node-b", "node-c"]);
    apply(&c, &pod("nginx", "webserver: nginx", "  nodeSelector: {kubernetes.io/hostname: node-b}\n"));
    let web_node = running_on(&c, "nginx");
    let with_web = r#"  affinity:
    podAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
      - labelSelector:
          matchExpressions:
          - {key: webserver, operator: In, values: [nginx]}
        topologyKey: kubernetes.io/hostname
"#;
    apply(&c, &pod("next-to-web", "app: db", with_web));
    assert_eq!(running_on(&c, "next-to-web"), web_node);

    // Anti-affinity spreads myapi pods one per node; a fourth has nowhere to go.
    let apart = r#"  affinity:
    podAntiAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
      - labelSelector:
          matchExpressions:
          - {key: app, operator: In, values: [myapi]}
        topologyKey: kubernetes.io/hostname
"#;
    for i in 0..4 {
        apply(&c, &pod(&format!("myapi-{i}"), "app: myapi", apart));
    }
    let mut nodes: Vec<String> = Vec::new();
    for i in 0..4 {
        let p = eventually(40, || {
            let p = c.json(&["get", "pod", &format!("myapi-{i}")]);
            (p["status"]["phase"] == "Running" || p["spec"]["nodeName"].is_null() && !p["status"]["conditions"].is_null()).then_some(p)
        });
        if let Some(n) = p["spec"]["nodeName"].as_str() {
            nodes.push(n.to_string());
        }
    }
    nodes.sort();
    assert_eq!(nodes, ["node-a", "node-b", "node-c"], "one myapi pod per node");
    let pending: Vec<String> = (0..4).map(|i| format!("myapi-{i}")).filter(|n| c.json(&["get", "pod", n])["spec"]["nodeName"].is_null()).collect();
    assert_eq!(pending.len(), 1);
    let msg = failed_scheduling(&c, &pending[0]);
    assert!(msg.contains("3 node(s) didn't match pod anti-affinity rules"), "{msg}");
}

#[test]
fn resources_a_joining_node_and_cordon() {
    let mut c = cluster_with_nodes(&["small"]);
    let hungry = "apiVersion: v1\nkind: Pod\nmetadata: {name: hungry}\nspec:\n  containers:\n  - name: app\n    image: busybox\n    command: [sleep, '3600']\n    resources: {requests: {cpu: '3'}}\n";
    apply(&c, hungry);
    let msg = failed_scheduling(&c, "hungry");
    assert!(msg.contains("0/1 nodes are available: 1 Insufficient cpu."), "{msg}");
    // The seeds' "pods wait until a node is added": a bigger node joins.
    c.add_agent("big", &["--capacity", "cpu=4,memory=8Gi,pods=20"]);
    assert_eq!(running_on(&c, "hungry"), "big");

    c.ok(&["cordon", "big"]);
    let nodes = c.ok(&["get", "nodes"]);
    assert!(nodes.lines().any(|l| l.starts_with("big ") && l.contains("SchedulingDisabled")), "{nodes}");
    apply(&c, &pod("to-big", "app: x", "  nodeSelector: {kubernetes.io/hostname: big}\n"));
    let msg = failed_scheduling(&c, "to-big");
    assert!(msg.contains("node(s) were unschedulable"), "{msg}");
    // Pods already on a cordoned node keep running.
    assert_eq!(c.json(&["get", "pod", "hungry"])["status"]["phase"], "Running");
    c.ok(&["uncordon", "big"]);
    assert_eq!(running_on(&c, "to-big"), "big");
}
