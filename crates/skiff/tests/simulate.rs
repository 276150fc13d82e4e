//! End to end: `skiff agent --simulate` registers nodes that keep their leases and play
//! the kubelet for pods bound to them (Running and Ready at once, with IPs), and complete
//! graceful deletions; driven by the real kubectl.

mod common;

use std::net::Ipv4Addr;

use common::{eventually, Cluster};
use serde_json::Value;

fn condition(obj: &Value, type_: &str) -> String {
    obj["status"]["conditions"].as_array().into_iter().flatten().find(|c| c["type"] == type_).and_then(|c| c["status"].as_str()).unwrap_or("").to_string()
}

fn in_cidr(ip: &str, cidr: &str) -> bool {
    let (Some((base, prefix)), Ok(ip)) = (cidr.split_once('/'), ip.parse::<Ipv4Addr>()) else { return false };
    let (Ok(base), Ok(prefix)) = (base.parse::<Ipv4Addr>(), prefix.parse::<u32>()) else { return false };
    let mask = if prefix == 0 { 0 } else { u32::MAX << (32 - prefix) };
    u32::from(ip) & mask == u32::from(base) & mask
}

fn pods_yaml(n: usize) -> String {
    let mut out = String::from("apiVersion: v1\nkind: List\nitems:\n");
    for i in 0..n {
        // One in four has an init container: it "completes" at once.
        let init = if i % 4 == 0 { "    initContainers:\n    - name: setup\n      image: busybox\n      command: [\"true\"]\n" } else { "" };
        out.push_str(&format!(
            "- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: p{i}\n    labels: {{app: sim}}\n  spec:\n{init}    containers:\n    - name: main\n      image: busybox\n      command: [\"sleep\", \"3600\"]\n      readinessProbe:\n        exec: {{command: [\"true\"]}}\n"
        ));
    }
    out
}

#[test]
fn simulated_nodes_run_and_delete_pods() {
    let mut c = Cluster::start();
    c.add_simulated(5, "sim-", &["--labels", "bench=yes"]);

    // Five Ready nodes, each with a podCIDR from the IPAM controller and a lease.
    let nodes = eventually(60, || {
        let items = c.json(&["get", "nodes", "-l", "bench=yes"])["items"].as_array().cloned().unwrap_or_default();
        let ready = items.len() == 5 && items.iter().all(|n| condition(n, "Ready") == "True" && n["spec"]["podCIDR"].is_string());
        ready.then_some(items)
    });
    let mut names: Vec<String> = nodes.iter().map(|n| n["metadata"]["name"].as_str().unwrap_or("").to_string()).collect();
    names.sort();
    assert_eq!(names, ["sim-0", "sim-1", "sim-2", "sim-3", "sim-4"]);
    let n0 = &nodes[0];
    assert_eq!(n0["metadata"]["labels"]["kubernetes.io/hostname"], n0["metadata"]["name"]);
    assert_eq!(n0["status"]["capacity"]["pods"], "110");
    assert!(n0["status"]["addresses"].as_array().into_iter().flatten().any(|a| a["type"] == "InternalIP"));
    eventually(30, || {
        let leases = c.json(&["get", "leases", "-n", "kube-node-lease"]);
        let held: Vec<&str> = leases["items"].as_array().into_iter().flatten().filter_map(|l| l["spec"]["holderIdentity"].as_str()).filter(|h| h.starts_with("sim-")).collect();
        let renewed = leases["items"].as_array().into_iter().flatten().all(|l| l["spec"]["renewTime"].is_string());
        (held.len() == 5 && renewed).then_some(())
    });

    // 20 pods: Running and Ready, with an address from their node's podCIDR.
    let out = c.apply(&pods_yaml(20));
    assert!(out.status.success(), "{}", common::text(&out));
    let pods = eventually(60, || {
        let items = c.json(&["get", "pods", "-l", "app=sim"])["items"].as_array().cloned().unwrap_or_default();
        let ok = items.len() == 20 && items.iter().all(|p| p["status"]["phase"] == "Running" && condition(p, "Ready") == "True" && p["status"]["podIP"].is_string());
        ok.then_some(items)
    });
    let cidr_of = |node: &str| nodes.iter().find(|n| n["metadata"]["name"] == node).and_then(|n| n["spec"]["podCIDR"].as_str()).unwrap_or("").to_string();
    let mut ips = std::collections::HashSet::new();
    for p in &pods {
        let node = p["spec"]["nodeName"].as_str().unwrap_or("");
        assert!(node.starts_with("sim-"), "{node}");
        let ip = p["status"]["podIP"].as_str().unwrap_or("");
        assert!(in_cidr(ip, &cidr_of(node)), "{ip} not in {}", cidr_of(node));
        assert!(ips.insert(ip.to_string()), "{ip} given twice");
        assert!(p["status"]["hostIP"].is_string() && p["status"]["startTime"].is_string());
        let cs = &p["status"]["containerStatuses"][0];
        assert_eq!(cs["ready"], true);
        assert_eq!(cs["started"], true);
        assert!(cs["containerID"].as_str().is_some_and(|id| id.starts_with("simulated://")));
        assert!(cs["state"]["running"]["startedAt"].is_string());
        if p["spec"]["initContainers"].is_array() {
            assert_eq!(p["status"]["initContainerStatuses"][0]["state"]["terminated"]["reason"], "Completed");
            assert_eq!(condition(p, "Initialized"), "True");
        }
    }
    // kubectl's table agrees.
    let table = c.ok(&["get", "pods", "-l", "app=sim", "--no-headers"]);
    assert_eq!(table.lines().filter(|l| l.contains("1/1") && l.contains("Running")).count(), 20, "{table}");

    // Graceful deletion (default 30 s grace) completes at once: the simulated kubelet
    // reports the containers stopped and removes the pods.
    c.ok(&["delete", "pods", "-l", "app=sim", "--wait=false"]);
    eventually(30, || {
        let left = c.json(&["get", "pods", "-l", "app=sim"])["items"].as_array().map(Vec::len).unwrap_or(0);
        (left == 0).then_some(())
    });
}

#[test]
fn simulated_nodes_provision_claims_for_statefulsets() {
    let mut c = Cluster::start();
    c.add_simulated(3, "vol-", &[]);
    let out = c.apply(
        "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: db\nspec:\n  serviceName: db\n  replicas: 4\n  podManagementPolicy: Parallel\n  selector:\n    matchLabels: {app: db}\n  template:\n    metadata:\n      labels: {app: db}\n    spec:\n      containers:\n      - name: db\n        image: busybox\n        command: [\"sleep\", \"3600\"]\n        volumeMounts: [{name: data, mountPath: /data}]\n  volumeClaimTemplates:\n  - metadata: {name: data}\n    spec:\n      accessModes: [ReadWriteOnce]\n      resources: {requests: {storage: 1Gi}}\n",
    );
    assert!(out.status.success(), "{}", common::text(&out));
    // Every claim is bound to a volume pinned to the node its pod runs on.
    let pods = eventually(60, || {
        let items = c.json(&["get", "pods", "-l", "app=db"])["items"].as_array().cloned().unwrap_or_default();
        (items.len() == 4 && items.iter().all(|p| p["status"]["phase"] == "Running")).then_some(items)
    });
    let claims = eventually(30, || {
        let items = c.json(&["get", "pvc"])["items"].as_array().cloned().unwrap_or_default();
        (items.len() == 4 && items.iter().all(|p| p["status"]["phase"] == "Bound")).then_some(items)
    });
    for pod in &pods {
        let name = pod["metadata"]["name"].as_str().unwrap_or("");
        let node = pod["spec"]["nodeName"].as_str().unwrap_or("");
        let claim = claims.iter().find(|p| p["metadata"]["name"] == format!("data-{name}")).unwrap_or_else(|| panic!("no claim for {name}"));
        let pv = c.json(&["get", "pv", claim["spec"]["volumeName"].as_str().unwrap_or("")]);
        assert_eq!(pv["status"]["phase"], "Bound");
        assert_eq!(pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0]["values"][0], node, "{pv}");
    }
}

#[test]
fn a_pod_waits_unbound_until_its_claim_is_provisioned() {
    let mut c = Cluster::start();
    c.add_simulated(1, "wait-", &[]);
    // A class whose provisioner never answers: the scheduler picks a node for the claim
    // but, as upstream's VolumeBinding, binds the pod only once the claim is bound.
    let out = c.apply(
        "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: slow}\nprovisioner: example.com/absent\nvolumeBindingMode: WaitForFirstConsumer\n---\napiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data}\nspec:\n  storageClassName: slow\n  accessModes: [ReadWriteOnce]\n  resources: {requests: {storage: 1Gi}}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: user}\nspec:\n  containers: [{name: c, image: busybox, command: [sleep, \"3600\"]}]\n  volumes: [{name: d, persistentVolumeClaim: {claimName: data}}]\n",
    );
    assert!(out.status.success(), "{}", common::text(&out));
    eventually(30, || (c.json(&["get", "pvc", "data"])["metadata"]["annotations"]["volume.kubernetes.io/selected-node"] == "wait-0").then_some(()));
    std::thread::sleep(std::time::Duration::from_secs(2));
    let pod = c.json(&["get", "pod", "user"]);
    assert_eq!(pod["spec"]["nodeName"], Value::Null, "{pod}");
    assert_eq!(pod["status"]["phase"], "Pending");

    // An administrator binds a volume by hand: the pod is bound and runs.
    let out = c.apply("apiVersion: v1\nkind: PersistentVolume\nmetadata: {name: manual}\nspec:\n  storageClassName: slow\n  capacity: {storage: 1Gi}\n  accessModes: [ReadWriteOnce]\n  hostPath: {path: /tmp/skiff-manual-pv}\n  claimRef: {namespace: default, name: data}\n");
    assert!(out.status.success(), "{}", common::text(&out));
    eventually(30, || {
        let pod = c.json(&["get", "pod", "user"]);
        (pod["spec"]["nodeName"] == "wait-0" && pod["status"]["phase"] == "Running").then_some(())
    });
    assert_eq!(c.json(&["get", "pvc", "data"])["spec"]["volumeName"], "manual");
}
