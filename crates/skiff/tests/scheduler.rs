//! End-to-end: the scheduler inside `skiff server` places pods on Node objects created
//! with kubectl, as kube-scheduler would. (Nodes here are API objects without an agent:
//! the scheduler only ever sees Node objects.)

mod common;
use common::{eventually, Cluster};

fn node(name: &str, cpu: &str, memory: &str, labels: &[(&str, &str)]) -> String {
    let mut l = format!("    kubernetes.io/hostname: {name}\n    kubernetes.io/os: linux\n    kubernetes.io/arch: amd64\n");
    for (k, v) in labels {
        l.push_str(&format!("    {k}: {v}\n"));
    }
    format!(
        "apiVersion: v1\nkind: Node\nmetadata:\n  name: {name}\n  labels:\n{l}status:\n  capacity: {{cpu: '{cpu}', memory: {memory}, pods: '110'}}\n  allocatable: {{cpu: '{cpu}', memory: {memory}, pods: '110'}}\n  conditions:\n  - type: Ready\n    status: 'True'\n    reason: KubeletReady\n    message: ready\n"
    )
}

fn pod(name: &str, extra_spec: &str, labels: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  labels: {{{labels}}}\nspec:\n{extra_spec}  containers:\n  - name: c\n    image: busybox\n    command: [sleep, '3600']\n"
    )
}

fn node_of(c: &Cluster, pod: &str) -> Option<String> {
    let v = c.json(&["get", "pod", pod]);
    v["spec"]["nodeName"].as_str().map(str::to_string)
}

fn create(c: &Cluster, yaml: &str) {
    let out = c.kubectl_with(&["create", "-f", "-"], Some(yaml), &[]);
    assert!(out.status.success(), "{}", common::text(&out));
}

#[test]
fn node_selector_resources_and_pending_until_a_node_joins() {
    let c = Cluster::start();
    create(&c, &node("n1", "2", "4Gi", &[("disk", "hdd")]));
    create(&c, &node("n2", "2", "4Gi", &[("disk", "ssd")]));
    create(&c, &pod("fast", "  nodeSelector:\n    disk: ssd\n", "app: fast"));
    assert_eq!(eventually(20, || node_of(&c, "fast")), "n2");

    let big = "  containers:\n  - name: c\n    image: busybox\n    resources:\n      requests:\n        cpu: '3'\n";
    create(&c, &format!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: big\nspec:\n{big}"));
    let message = eventually(20, || {
        let v = c.json(&["get", "pod", "big"]);
        let conds = v["status"]["conditions"].as_array()?.clone();
        conds.iter().find(|c| c["type"] == "PodScheduled" && c["status"] == "False").and_then(|c| c["message"].as_str().map(str::to_string))
    });
    assert!(message.starts_with("0/2 nodes are available: 2 Insufficient cpu."), "{message}");
    let events = c.ok(&["get", "events", "--field-selector", "involvedObject.name=big,reason=FailedScheduling"]);
    assert!(events.contains("FailedScheduling") && events.contains("Insufficient cpu"), "{events}");
    let described = c.ok(&["describe", "pod", "big"]);
    assert!(described.contains("Status:") && described.contains("Pending") && described.contains("FailedScheduling"), "{described}");

    // The seeds' "pods wait until a node is added": nobody touches the pod.
    create(&c, &node("n3", "4", "8Gi", &[]));
    assert_eq!(eventually(20, || node_of(&c, "big")), "n3");
    let events = c.ok(&["get", "events", "--field-selector", "involvedObject.name=big,reason=Scheduled"]);
    assert!(events.contains("Successfully assigned default/big to n3"), "{events}");
}

#[test]
fn cordon_affinity_and_anti_affinity() {
    let c = Cluster::start();
    for (n, zone) in [("a1", "east"), ("a2", "east"), ("b1", "west")] {
        create(&c, &node(n, "4", "8Gi", &[("topology.kubernetes.io/zone", zone)]));
    }
    c.ok(&["cordon", "a1"]);
    c.ok(&["cordon", "a2"]);
    create(&c, &pod("db", "", "webserver: nginx"));
    assert_eq!(eventually(20, || node_of(&c, "db")), "b1", "cordoned nodes get no pods");
    c.ok(&["uncordon", "a1"]);
    c.ok(&["uncordon", "a2"]);

    // The seeds' examples: required anti-affinity on hostname against app=myapi (one
    // per node, the fourth waits); affinity by zone to a pod labelled webserver=nginx.
    let anti = "  affinity:\n    podAntiAffinity:\n      requiredDuringSchedulingIgnoredDuringExecution:\n      - labelSelector:\n          matchExpressions:\n          - {key: app, operator: In, values: [myapi]}\n        topologyKey: kubernetes.io/hostname\n";
    for i in 0..4 {
        create(&c, &pod(&format!("web{i}"), anti, "app: myapi"));
    }
    let placed: Vec<String> = (0..3).map(|i| eventually(20, || node_of(&c, &format!("web{i}")))).collect();
    let mut distinct = placed.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 3, "{placed:?}");
    let message = eventually(20, || {
        let v = c.json(&["get", "pod", "web3"]);
        v["status"]["conditions"].as_array()?.iter().find(|c| c["status"] == "False").and_then(|c| c["message"].as_str().map(str::to_string))
    });
    assert!(message.contains("node(s) didn't match pod anti-affinity rules"), "{message}");

    // Required pod affinity by zone: next to the db pod (west).
    let near = "  affinity:\n    podAffinity:\n      requiredDuringSchedulingIgnoredDuringExecution:\n      - labelSelector:\n          matchExpressions:\n          - {key: webserver, operator: In, values: [nginx]}\n        topologyKey: topology.kubernetes.io/zone\n";
    create(&c, &pod("cache", near, "app: cache"));
    assert_eq!(eventually(20, || node_of(&c, "cache")), "b1");

    // Required node affinity waits until `kubectl label nodes` makes a node match.
    let gpu = "  affinity:\n    nodeAffinity:\n      requiredDuringSchedulingIgnoredDuringExecution:\n        nodeSelectorTerms:\n        - matchExpressions:\n          - {key: gpu, operator: Exists}\n";
    create(&c, &pod("train", gpu, "app: train"));
    let message = eventually(20, || {
        let v = c.json(&["get", "pod", "train"]);
        v["status"]["conditions"].as_array()?.iter().find(|c| c["status"] == "False").and_then(|c| c["message"].as_str().map(str::to_string))
    });
    assert!(message.contains("3 node(s) didn't match Pod's node affinity/selector"), "{message}");
    assert_eq!(node_of(&c, "train"), None);
    c.ok(&["label", "nodes", "a2", "gpu=yes"]);
    assert_eq!(eventually(20, || node_of(&c, "train")), "a2");
}
