//! End to end: PersistentVolumeClaims of the default StorageClass are provisioned on the
//! node the pod is scheduled to, bound, mounted, kept across pod restarts, and removed
//! with the claim; claims nothing can satisfy stay Pending and say why.

mod common;

use common::{eventually, Cluster};

fn jsonpath(c: &Cluster, args: &[&str], path: &str) -> String {
    let mut a = args.to_vec();
    let p = format!("jsonpath={path}");
    a.extend(["-o", &p]);
    c.ok(&a)
}

#[test]
fn claims_are_provisioned_where_the_pod_runs_and_keep_their_data() {
    let mut c = Cluster::start();
    c.add_agent("node-a", &[]);
    c.add_agent("node-b", &["--labels", "disk=ssd"]);
    let sc = c.ok(&["get", "storageclass"]);
    assert!(sc.contains("local (default)") && sc.contains("skiff.io/local") && sc.contains("WaitForFirstConsumer"), "{sc}");
    let yaml = r#"apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: Pod
metadata: {name: writer}
spec:
  nodeSelector: {disk: ssd}
  containers:
  - name: app
    image: busybox
    command: [sh, -c, "echo kept > /data/file; sleep 3600"]
    volumeMounts: [{name: data, mountPath: /data}]
  volumes: [{name: data, persistentVolumeClaim: {claimName: data}}]
"#;
    let out = c.apply(yaml);
    assert!(out.status.success(), "{}", common::text(&out));
    // Before a pod uses it, the claim waits for its consumer.
    eventually(60, || (jsonpath(&c, &["get", "pod", "writer"], "{.status.phase}") == "Running").then_some(()));
    let pvc = c.json(&["get", "pvc", "data"]);
    assert_eq!(pvc["status"]["phase"], "Bound");
    assert_eq!(pvc["spec"]["storageClassName"], "local", "the default class");
    assert_eq!(pvc["metadata"]["annotations"]["volume.kubernetes.io/selected-node"], "node-b");
    let pv_name = pvc["spec"]["volumeName"].as_str().expect("volume").to_string();
    let pv = c.json(&["get", "pv", &pv_name]);
    assert_eq!(pv["status"]["phase"], "Bound");
    assert_eq!(pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0]["values"][0], "node-b");
    let path = std::path::PathBuf::from(pv["spec"]["local"]["path"].as_str().expect("path"));
    eventually(10, || (std::fs::read_to_string(path.join("file")).ok()?.trim() == "kept").then_some(()));
    let listing = c.ok(&["get", "pv,pvc"]);
    assert!(listing.contains("Bound") && listing.contains("default/data"), "{listing}");

    // A new pod using the claim lands on the node that holds the data, wherever it could go.
    c.ok(&["delete", "pod", "writer", "--grace-period=1"]);
    let reader = r#"apiVersion: v1
kind: Pod
metadata: {name: reader}
spec:
  containers:
  - name: app
    image: busybox
    command: [sh, -c, "cat /data/file; sleep 3600"]
    volumeMounts: [{name: data, mountPath: /data}]
  volumes: [{name: data, persistentVolumeClaim: {claimName: data}}]
"#;
    assert!(c.apply(reader).status.success());
    eventually(40, || (jsonpath(&c, &["get", "pod", "reader"], "{.status.phase}") == "Running").then_some(()));
    assert_eq!(jsonpath(&c, &["get", "pod", "reader"], "{.spec.nodeName}"), "node-b");
    eventually(10, || c.ok(&["logs", "reader"]).contains("kept").then_some(()));

    // Deleting the claim releases the volume and (policy Delete) removes it with its data.
    c.ok(&["delete", "pod", "reader", "--grace-period=1"]);
    c.ok(&["delete", "pvc", "data"]);
    eventually(30, || (!c.ok(&["get", "pv"]).contains(&pv_name)).then_some(()));
    eventually(10, || (!path.exists()).then_some(()));
}

#[test]
fn claims_nothing_can_satisfy_stay_pending_with_a_reason() {
    let mut c = Cluster::start();
    c.add_agent("node-a", &[]);
    let yaml = r#"apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: nowhere}
spec:
  storageClassName: no-such-class
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: manual}
spec:
  storageClassName: ""
  accessModes: [ReadWriteMany]
  resources: {requests: {storage: 5Gi}}
---
apiVersion: v1
kind: Pod
metadata: {name: waits}
spec:
  containers:
  - {name: app, image: busybox, command: [sleep, "3600"], volumeMounts: [{name: d, mountPath: /d}]}
  volumes: [{name: d, persistentVolumeClaim: {claimName: nowhere}}]
"#;
    assert!(c.apply(yaml).status.success());
    let events = |name: &str| c.ok(&["get", "events", "--field-selector", &format!("involvedObject.name={name}"), "-o", "jsonpath={.items[*].message}"]);
    let e = eventually(30, || Some(events("nowhere")).filter(|e| !e.is_empty()));
    assert!(e.contains("storageclass.storage.k8s.io \"no-such-class\" not found"), "{e}");
    let e = eventually(30, || Some(events("manual")).filter(|e| !e.is_empty()));
    assert!(e.contains("no persistent volumes available for this claim and no storage class is set"), "{e}");
    let e = eventually(30, || Some(events("waits")).filter(|e| e.contains("FailedScheduling") || e.contains("unbound")));
    assert!(e.contains("pod has unbound immediate PersistentVolumeClaims"), "{e}");
    assert_eq!(jsonpath(&c, &["get", "pvc", "nowhere"], "{.status.phase}"), "Pending");

    // A matching volume appears: the ReadWriteMany claim binds to it.
    let pv = "apiVersion: v1\nkind: PersistentVolume\nmetadata: {name: shared}\nspec:\n  capacity: {storage: 10Gi}\n  accessModes: [ReadWriteMany, ReadWriteOnce]\n  hostPath: {path: /tmp/skiff-shared-pv}\n";
    assert!(c.apply(pv).status.success());
    eventually(30, || (jsonpath(&c, &["get", "pvc", "manual"], "{.status.phase}") == "Bound").then_some(()));
    assert_eq!(jsonpath(&c, &["get", "pv", "shared"], "{.status.phase}"), "Bound");
}
