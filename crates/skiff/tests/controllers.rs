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
    create(&c, "apiVersion: v1\nkind: Node\nmetadata:\n  name: n1\n");
    // The harness gives each cluster its own --cluster-cidr /16: learn it from the first node.
    let first = eventually(20, || pod_cidr(&c, "n1"));
    let prefix = first.strip_suffix("0.0/24").expect("the first /24 of the cluster CIDR").to_string();
    // A node that already holds the next CIDR keeps it, and nobody else gets it.
    create(&c, &format!("apiVersion: v1\nkind: Node\nmetadata:\n  name: old\nspec:\n  podCIDR: {prefix}1.0/24\n"));
    eventually(20, || c.json(&["get", "node", "old"])["spec"]["podCIDRs"].as_array().map(|_| ()));
    for n in ["n2", "n3"] {
        create(&c, &format!("apiVersion: v1\nkind: Node\nmetadata:\n  name: {n}\n"));
    }
    let mut cidrs: Vec<String> = ["n1", "n2", "n3", "old"].iter().map(|n| eventually(20, || pod_cidr(&c, n))).collect();
    assert_eq!(cidrs[3], format!("{prefix}1.0/24"));
    cidrs.sort();
    cidrs.dedup();
    assert_eq!(cidrs.len(), 4, "{cidrs:?}");
    for cidr in &cidrs {
        assert!(cidr.starts_with(&prefix) && cidr.ends_with(".0/24"), "{cidr}");
    }
}

/// Pods matching a label selector, with the uid of their controller (if any).
fn pods(c: &Cluster, selector: &str) -> Vec<(String, Option<String>)> {
    let v = c.json(&["get", "pods", "-l", selector]);
    v["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
                .map(|p| {
                    let owner = p["metadata"]["ownerReferences"]
                        .as_array()
                        .and_then(|o| o.iter().find(|r| r["controller"] == true))
                        .and_then(|r| r["uid"].as_str().map(str::to_string));
                    (p["metadata"]["name"].as_str().unwrap_or("").to_string(), owner)
                })
                .collect()
        })
        .unwrap_or_default()
}

fn count(c: &Cluster, selector: &str, n: usize) -> Option<Vec<(String, Option<String>)>> {
    let p = pods(c, selector);
    (p.len() == n).then_some(p)
}

fn uid(c: &Cluster, what: &[&str]) -> String {
    c.json(what)["metadata"]["uid"].as_str().expect("uid").to_string()
}

/// Stands in for the node agent (kubelet) until it lands: marks the pods that are not
/// yet Ready as Running and Ready through the status subresource, as a kubelet would
/// report them (Ready since the pod's creation, so minReadySeconds counts from there).
fn play_kubelet_ready(c: &Cluster, selector: &str) {
    let v = c.json(&["get", "pods", "-l", selector]);
    for p in v["items"].as_array().into_iter().flatten() {
        let ready = p["status"]["conditions"].as_array().is_some_and(|cs| cs.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"));
        if ready || !p["metadata"]["deletionTimestamp"].is_null() {
            continue;
        }
        let (name, since) = (p["metadata"]["name"].as_str().unwrap_or(""), p["metadata"]["creationTimestamp"].as_str().unwrap_or(""));
        let patch = format!(
            r#"{{"status":{{"phase":"Running","conditions":[{{"type":"Ready","status":"True","lastTransitionTime":"{since}"}}]}}}}"#
        );
        // The pod may have been deleted meanwhile by a scale-down.
        let _ = c.kubectl(&["patch", "pod", name, "--subresource=status", "--type=merge", "-p", &patch]);
    }
}

/// Plays the kubelet until the Deployment's rollout is complete, as `kubectl rollout
/// status` sees it.
fn roll_out(c: &Cluster, deployment: &str, selector: &str) {
    eventually(60, || {
        play_kubelet_ready(c, selector);
        let v = c.json(&["get", "deployment", deployment]);
        let (spec, status) = (&v["spec"], &v["status"]);
        let replicas = spec["replicas"].as_i64().unwrap_or(1);
        let n = |f: &str| status[f].as_i64().unwrap_or(0);
        let done = v["metadata"]["generation"].as_i64() <= status["observedGeneration"].as_i64()
            && n("updatedReplicas") == replicas
            && n("replicas") == replicas
            && n("availableReplicas") == replicas;
        done.then_some(())
    });
    let out = c.ok(&["rollout", "status", &format!("deployment/{deployment}"), "--timeout=20s"]);
    assert!(out.contains(&format!("deployment \"{deployment}\" successfully rolled out")), "{out}");
}

/// The ReplicaSets of a Deployment: (name, spec.replicas, revision).
fn replicasets(c: &Cluster, selector: &str) -> Vec<(String, i64, String)> {
    let v = c.json(&["get", "rs", "-l", selector]);
    let mut out: Vec<(String, i64, String)> = v["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|rs| {
            (
                rs["metadata"]["name"].as_str().unwrap_or("").to_string(),
                rs["spec"]["replicas"].as_i64().unwrap_or(0),
                rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    out.sort_by(|a, b| a.2.parse::<i64>().unwrap_or(0).cmp(&b.2.parse::<i64>().unwrap_or(0)));
    out
}

fn image_of(c: &Cluster, deployment: &str) -> String {
    c.ok(&["get", "deployment", deployment, "-o", "jsonpath={.spec.template.spec.containers[0].image}"])
}

const SAMPLE_RS: &str = "apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: sample-node-app
spec:
  selector:
    matchLabels:
      app: sample-node-app
  replicas: 3
  template:
    metadata:
      labels:
        app: sample-node-app
    spec:
      containers:
      - name: sample-node-app
        image: happynut/sample-node-app:0.0.1
";

#[test]
fn replicaset_keeps_replicas_replaces_scales_and_releases() {
    let c = Cluster::start();
    let out = c.apply(SAMPLE_RS);
    assert!(out.status.success(), "{}", common::text(&out));
    let rs_uid = uid(&c, &["get", "rs", "sample-node-app"]);
    let three = eventually(20, || count(&c, "app=sample-node-app", 3));
    for (name, owner) in &three {
        assert!(name.starts_with("sample-node-app-") && name.len() == "sample-node-app-".len() + 5, "{name}");
        assert_eq!(owner.as_deref(), Some(rs_uid.as_str()));
    }
    play_kubelet_ready(&c, "app=sample-node-app");
    eventually(20, || {
        let v = c.json(&["get", "rs", "sample-node-app"]);
        (v["status"]["readyReplicas"] == 3 && v["status"]["availableReplicas"] == 3 && v["status"]["fullyLabeledReplicas"] == 3 && v["status"]["observedGeneration"] == 1).then_some(())
    });
    let table = c.ok(&["get", "rs"]);
    assert!(table.lines().any(|l| l.split_whitespace().collect::<Vec<_>>()[..4] == ["sample-node-app", "3", "3", "3"]), "{table}");

    // A deleted pod is replaced by a new one.
    let victim = three[0].0.clone();
    c.ok(&["delete", "pod", &victim]);
    let after = eventually(20, || count(&c, "app=sample-node-app", 3).filter(|p| p.iter().all(|(n, _)| *n != victim)));
    assert_eq!(after.len(), 3);

    // kubectl scale rs 3 -> 10 -> 3.
    c.ok(&["scale", "rs", "sample-node-app", "--replicas=10"]);
    eventually(20, || count(&c, "app=sample-node-app", 10));
    c.ok(&["scale", "rs", "sample-node-app", "--replicas=3"]);
    eventually(20, || count(&c, "app=sample-node-app", 3));
    eventually(20, || (c.json(&["get", "rs", "sample-node-app"])["status"]["replicas"] == 3).then_some(()));

    // `kubectl label pod … --overwrite` moves a pod out: released, and replaced.
    let moved = pods(&c, "app=sample-node-app")[0].0.clone();
    c.ok(&["label", "pod", &moved, "app=debug", "--overwrite"]);
    eventually(20, || {
        let v = c.json(&["get", "pod", &moved]);
        v["metadata"]["ownerReferences"].as_array().is_none_or(|o| o.is_empty()).then_some(())
    });
    eventually(20, || count(&c, "app=sample-node-app", 3));
    assert_eq!(pods(&c, "app=debug").len(), 1);
    // Moving it back: the ReplicaSet adopts it and deletes one surplus pod.
    c.ok(&["label", "pod", &moved, "app=sample-node-app", "--overwrite"]);
    let back = eventually(20, || count(&c, "app=sample-node-app", 3).filter(|p| p.iter().all(|(_, o)| o.as_deref() == Some(rs_uid.as_str()))));
    assert_eq!(back.len(), 3);

    let described = c.ok(&["describe", "rs", "sample-node-app"]);
    assert!(described.contains("SuccessfulCreate") && described.contains("Created pod: sample-node-app-"), "{described}");
    assert!(described.contains("SuccessfulDelete"), "{described}");
}

const SAMPLE_DEPLOYMENT: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: sample-node-app
spec:
  selector:
    matchLabels:
      app: sample-node-app
  replicas: 3
  template:
    metadata:
      labels:
        app: sample-node-app
    spec:
      containers:
      - name: sample-node-app
        image: happynut/sample-node-app:0.0.1
";

#[test]
fn deployment_rollout_history_undo_pause_resume_restart() {
    let c = Cluster::start();
    let out = c.apply(SAMPLE_DEPLOYMENT);
    assert!(out.status.success(), "{}", common::text(&out));
    roll_out(&c, "sample-node-app", "app=sample-node-app");
    let rss = replicasets(&c, "app=sample-node-app");
    assert_eq!(rss.len(), 1, "{rss:?}");
    let (first, _, rev) = &rss[0];
    assert_eq!(rev, "1");
    let hash = first.strip_prefix("sample-node-app-").expect("named <deployment>-<hash>");
    for (name, _) in pods(&c, "app=sample-node-app") {
        assert!(name.starts_with(&format!("{first}-")), "{name}");
    }
    assert_eq!(c.ok(&["get", "rs", first, "-o", "jsonpath={.metadata.labels.pod-template-hash}"]), hash);
    let table = c.ok(&["get", "deployment", "sample-node-app"]);
    assert!(table.lines().nth(1).is_some_and(|l| l.split_whitespace().collect::<Vec<_>>()[..4] == ["sample-node-app", "3/3", "3", "3"]), "{table}");
    assert_eq!(c.ok(&["get", "deployment", "sample-node-app", "-o", "jsonpath={.metadata.annotations.deployment\\.kubernetes\\.io/revision}"]), "1");

    // A deleted pod is replaced (seed 000).
    let victim = pods(&c, "app=sample-node-app")[0].0.clone();
    c.ok(&["delete", "pod", &victim]);
    eventually(20, || count(&c, "app=sample-node-app", 3).filter(|p| p.iter().all(|(n, _)| *n != victim)));

    // A new image rolls out a second ReplicaSet; the first stays at 0 for rollback.
    c.ok(&["set", "image", "deployment/sample-node-app", "sample-node-app=happynut/sample-node-app:0.0.2"]);
    roll_out(&c, "sample-node-app", "app=sample-node-app");
    let rss = replicasets(&c, "app=sample-node-app");
    assert_eq!(rss.iter().map(|r| (r.1, r.2.as_str())).collect::<Vec<_>>(), [(0, "1"), (3, "2")], "{rss:?}");
    // A change-cause annotation on the Deployment is copied to its new ReplicaSet.
    c.ok(&["annotate", "deployment/sample-node-app", "kubernetes.io/change-cause=image 0.0.2"]);
    let history = eventually(20, || {
        let h = c.ok(&["rollout", "history", "deployment/sample-node-app"]);
        h.contains("2         image 0.0.2").then_some(h)
    });
    assert!(history.contains("REVISION  CHANGE-CAUSE") && history.contains("1         <none>"), "{history}");
    let detail = c.ok(&["rollout", "history", "deployment/sample-node-app", "--revision=1"]);
    assert!(detail.contains("happynut/sample-node-app:0.0.1") && detail.contains("pod-template-hash="), "{detail}");
    let described = c.ok(&["describe", "deployment", "sample-node-app"]);
    for want in ["Replicas:               3 desired | 3 updated | 3 total | 3 available | 0 unavailable", "RollingUpdateStrategy:  25% max unavailable, 25% max surge", "NewReplicaSetAvailable", "MinimumReplicasAvailable", "ScalingReplicaSet", "Scaled up replica set"] {
        assert!(described.contains(want), "{want:?} in {described}");
    }

    // rollout undo: back to 0.0.1 through the old ReplicaSet, which becomes revision 3.
    let out = c.ok(&["rollout", "undo", "deployment/sample-node-app"]);
    assert!(out.contains("rolled back"), "{out}");
    assert_eq!(image_of(&c, "sample-node-app"), "happynut/sample-node-app:0.0.1");
    roll_out(&c, "sample-node-app", "app=sample-node-app");
    let rss = replicasets(&c, "app=sample-node-app");
    assert_eq!(rss.len(), 2, "no third ReplicaSet: {rss:?}");
    assert_eq!((rss[1].0.as_str(), rss[1].1, rss[1].2.as_str()), (first.as_str(), 3, "3"));
    // --to-revision.
    c.ok(&["rollout", "undo", "deployment/sample-node-app", "--to-revision=2"]);
    assert_eq!(image_of(&c, "sample-node-app"), "happynut/sample-node-app:0.0.2");
    roll_out(&c, "sample-node-app", "app=sample-node-app");
    let history = c.ok(&["rollout", "history", "deployment/sample-node-app"]);
    assert!(history.contains("3 ") && history.contains("4 ") && !history.contains("\n1 ") && !history.contains("\n2 "), "{history}");

    // pause: a template change waits; scaling still works; resume rolls it out.
    c.ok(&["rollout", "pause", "deployment/sample-node-app"]);
    c.ok(&["set", "image", "deployment/sample-node-app", "sample-node-app=happynut/sample-node-app:0.0.3"]);
    c.ok(&["scale", "deployment.apps/sample-node-app", "--replicas=5"]);
    eventually(20, || count(&c, "app=sample-node-app", 5));
    assert_eq!(replicasets(&c, "app=sample-node-app").len(), 2);
    let err = c.fails(&["rollout", "undo", "deployment/sample-node-app"]);
    assert!(err.contains("you cannot rollback a paused deployment"), "{err}");
    eventually(20, || {
        let v = c.json(&["get", "deployment", "sample-node-app"]);
        v["status"]["conditions"].as_array()?.iter().find(|c| c["type"] == "Progressing" && c["reason"] == "DeploymentPaused").map(|_| ())
    });
    c.ok(&["rollout", "resume", "deployment/sample-node-app"]);
    roll_out(&c, "sample-node-app", "app=sample-node-app");
    let rss = replicasets(&c, "app=sample-node-app");
    assert_eq!(rss.last().map(|r| (r.1, r.2.as_str())), Some((5, "5")), "{rss:?}");

    // restart: a new ReplicaSet with the same image.
    c.ok(&["rollout", "restart", "deployment/sample-node-app"]);
    roll_out(&c, "sample-node-app", "app=sample-node-app");
    let rss = replicasets(&c, "app=sample-node-app");
    assert_eq!(rss.last().map(|r| (r.1, r.2.as_str())), Some((5, "6")), "{rss:?}");
    assert_eq!(image_of(&c, "sample-node-app"), "happynut/sample-node-app:0.0.3");
}

fn gone(c: &Cluster, what: &[&str]) -> Option<()> {
    let out = c.kubectl(what);
    (!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("NotFound")).then_some(())
}

const KUBIA_RC: &str = "apiVersion: v1
kind: ReplicationController
metadata:
  name: kubia
spec:
  replicas: 3
  selector:
    app: kubia
  template:
    metadata:
      labels:
        app: kubia
    spec:
      containers:
      - name: kubia
        image: luksa/kubia
";

#[test]
fn replication_controller_scale_edit_orphan_and_adopt() {
    let c = Cluster::start();
    let out = c.apply(KUBIA_RC);
    assert!(out.status.success(), "{}", common::text(&out));
    let rc_uid = uid(&c, &["get", "rc", "kubia"]);
    let first = eventually(20, || count(&c, "app=kubia", 3));
    assert!(first.iter().all(|(n, o)| n.starts_with("kubia-") && o.as_deref() == Some(rc_uid.as_str())), "{first:?}");

    // kubectl scale rc (seed 001), up and down.
    c.ok(&["scale", "rc", "kubia", "--replicas=10"]);
    eventually(20, || count(&c, "app=kubia", 10));
    c.ok(&["scale", "rc", "kubia", "--replicas=3"]);
    let kept = eventually(20, || count(&c, "app=kubia", 3));
    play_kubelet_ready(&c, "app=kubia");
    eventually(20, || (c.json(&["get", "rc", "kubia"])["status"]["readyReplicas"] == 3).then_some(()));

    // A template edit affects only new pods.
    c.ok(&["patch", "rc", "kubia", "--type=merge", "-p", r#"{"spec":{"template":{"spec":{"containers":[{"name":"kubia","image":"luksa/kubia:v2"}]}}}}"#]);
    for (name, _) in &kept {
        assert_eq!(c.ok(&["get", "pod", name, "-o", "jsonpath={.spec.containers[0].image}"]), "luksa/kubia");
    }
    c.ok(&["delete", "pod", &kept[0].0]);
    let replacement = eventually(20, || count(&c, "app=kubia", 3).and_then(|p| p.into_iter().find(|(n, _)| !kept.iter().any(|(k, _)| k == n))));
    assert_eq!(c.ok(&["get", "pod", &replacement.0, "-o", "jsonpath={.spec.containers[0].image}"]), "luksa/kubia:v2");

    // `kubectl delete rc kubia --cascade=false` (seed 001; kubectl maps it to orphan):
    // the pods stay, without an owner.
    let out = c.kubectl(&["delete", "rc", "kubia", "--cascade=false"]);
    assert!(out.status.success(), "{}", common::text(&out));
    eventually(20, || gone(&c, &["get", "rc", "kubia"]));
    let orphans = eventually(20, || count(&c, "app=kubia", 3).filter(|p| p.iter().all(|(_, o)| o.is_none())));
    // A ReplicaSet with a matching selector adopts them and creates nothing.
    let rs = "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata:\n  name: kubia\nspec:\n  replicas: 3\n  selector:\n    matchExpressions:\n    - {key: app, operator: In, values: [kubia]}\n  template:\n    metadata:\n      labels:\n        app: kubia\n    spec:\n      containers:\n      - name: kubia\n        image: luksa/kubia\n";
    let out = c.apply(rs);
    assert!(out.status.success(), "{}", common::text(&out));
    let rs_uid = uid(&c, &["get", "rs", "kubia"]);
    let adopted = eventually(20, || count(&c, "app=kubia", 3).filter(|p| p.iter().all(|(_, o)| o.as_deref() == Some(rs_uid.as_str()))));
    let mut a: Vec<String> = adopted.into_iter().map(|p| p.0).collect();
    let mut o: Vec<String> = orphans.into_iter().map(|p| p.0).collect();
    a.sort();
    o.sort();
    assert_eq!(a, o, "the same pods, adopted");
}

#[test]
fn garbage_collection_background_foreground_and_missing_owners() {
    let c = Cluster::start();
    let out = c.apply(SAMPLE_DEPLOYMENT);
    assert!(out.status.success(), "{}", common::text(&out));
    eventually(20, || count(&c, "app=sample-node-app", 3));
    // Background (kubectl's default): the Deployment goes at once, then its ReplicaSet and pods.
    c.ok(&["delete", "deployment", "sample-node-app"]);
    eventually(20, || (replicasets(&c, "app=sample-node-app").is_empty() && pods(&c, "app=sample-node-app").is_empty()).then_some(()));

    // Foreground: the Deployment waits, with the foregroundDeletion finalizer, until its
    // ReplicaSet and pods are gone (kubectl waits for it).
    let out = c.apply(SAMPLE_DEPLOYMENT);
    assert!(out.status.success(), "{}", common::text(&out));
    eventually(20, || count(&c, "app=sample-node-app", 3));
    let out = c.kubectl(&["delete", "deployment", "sample-node-app", "--cascade=foreground", "--wait=false"]);
    assert!(out.status.success(), "{}", common::text(&out));
    c.ok(&["wait", "--for=delete", "deployment/sample-node-app", "--timeout=30s"]);
    assert!(replicasets(&c, "app=sample-node-app").is_empty());
    assert!(pods(&c, "app=sample-node-app").is_empty());

    // An RS deleted in the foreground keeps its finalizer while a blocking pod has one of
    // its own; it goes when that pod goes.
    let out = c.apply(SAMPLE_RS);
    assert!(out.status.success(), "{}", common::text(&out));
    let held = eventually(20, || count(&c, "app=sample-node-app", 3))[0].0.clone();
    c.ok(&["patch", "pod", &held, "--type=merge", "-p", r#"{"metadata":{"finalizers":["example.com/hold"]}}"#]);
    c.ok(&["delete", "rs", "sample-node-app", "--cascade=foreground", "--wait=false"]);
    eventually(20, || {
        let v = c.json(&["get", "rs", "sample-node-app"]);
        (v["metadata"]["finalizers"] == serde_json::json!(["foregroundDeletion"]) && !v["metadata"]["deletionTimestamp"].is_null()).then_some(())
    });
    eventually(20, || (c.json(&["get", "pods", "-l", "app=sample-node-app"])["items"].as_array().map(Vec::len) == Some(1)).then_some(()));
    assert!(c.kubectl(&["get", "rs", "sample-node-app"]).status.success(), "still waiting for the held pod");
    c.ok(&["patch", "pod", &held, "--type=merge", "-p", r#"{"metadata":{"finalizers":null}}"#]);
    eventually(20, || gone(&c, &["get", "rs", "sample-node-app"]));

    // Dependents of an owner that does not exist are collected, whatever their kind.
    let orphan_pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: lost\n  ownerReferences:\n  - {apiVersion: apps/v1, kind: ReplicaSet, name: never, uid: 00000000-0000-0000-0000-000000000001}\nspec:\n  containers:\n  - name: c\n    image: busybox\n";
    let out = c.apply(orphan_pod);
    assert!(out.status.success(), "{}", common::text(&out));
    let owner_cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: owner\ndata: {a: b}\n";
    assert!(c.apply(owner_cm).status.success());
    let owner_uid = uid(&c, &["get", "configmap", "owner"]);
    let dependent = format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dependent\n  ownerReferences:\n  - {{apiVersion: v1, kind: ConfigMap, name: owner, uid: {owner_uid}}}\ndata: {{a: b}}\n");
    assert!(c.apply(&dependent).status.success());
    eventually(20, || gone(&c, &["get", "pod", "lost"]));
    assert!(c.kubectl(&["get", "configmap", "dependent"]).status.success(), "its owner exists");
    c.ok(&["delete", "configmap", "owner"]);
    eventually(20, || gone(&c, &["get", "configmap", "dependent"]));
}

#[test]
fn namespace_deletion_empties_then_finalizes() {
    let c = Cluster::start();
    c.ok(&["create", "namespace", "shop"]);
    let out = c.kubectl_with(&["apply", "-n", "shop", "-f", "-"], Some(SAMPLE_DEPLOYMENT), &[]);
    assert!(out.status.success(), "{}", common::text(&out));
    c.ok(&["create", "configmap", "settings", "-n", "shop", "--from-literal=a=b"]);
    eventually(20, || (c.json(&["get", "pods", "-n", "shop"])["items"].as_array().map(Vec::len) == Some(3)).then_some(()));
    // Content with a finalizer keeps the namespace Terminating, and its conditions say why.
    c.ok(&["patch", "configmap", "settings", "-n", "shop", "--type=merge", "-p", r#"{"metadata":{"finalizers":["example.com/hold"]}}"#]);
    c.ok(&["delete", "namespace", "shop", "--wait=false"]);
    let message = eventually(20, || {
        let v = c.json(&["get", "namespace", "shop"]);
        assert_eq!(v["status"]["phase"], "Terminating");
        v["status"]["conditions"].as_array()?.iter().find(|c| c["type"] == "NamespaceFinalizersRemaining" && c["status"] == "True").and_then(|c| c["message"].as_str().map(str::to_string))
    });
    assert_eq!(message, "Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances");
    let err = c.fails(&["create", "configmap", "late", "-n", "shop"]);
    assert!(err.contains("because it is being terminated"), "{err}");
    assert!(c.json(&["get", "all", "-n", "shop"])["items"].as_array().is_some_and(|i| i.is_empty()), "everything else is gone");
    c.ok(&["patch", "configmap", "settings", "-n", "shop", "--type=merge", "-p", r#"{"metadata":{"finalizers":null}}"#]);
    eventually(20, || gone(&c, &["get", "namespace", "shop"]));

    // kubectl delete namespace waits until it is gone.
    c.ok(&["create", "namespace", "tmp"]);
    c.ok(&["create", "configmap", "x", "-n", "tmp"]);
    let out = c.ok(&["delete", "namespace", "tmp", "--timeout=30s"]);
    assert!(out.contains("namespace \"tmp\" deleted"), "{out}");
    assert!(gone(&c, &["get", "namespace", "tmp"]).is_some());
}

fn deployment_yaml(name: &str, replicas: u32, image: &str, extra_spec: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  replicas: {replicas}\n{extra_spec}  selector:\n    matchLabels:\n      app: {name}\n  template:\n    metadata:\n      labels:\n        app: {name}\n    spec:\n      containers:\n      - name: {name}\n        image: {image}\n        command: [sleep, '3600']\n"
    )
}

#[test]
fn bad_input_negative_scale_overlapping_selectors_and_progress_deadline() {
    let c = Cluster::start();
    let out = c.apply(&deployment_yaml("web", 2, "nginx:1.16", "  progressDeadlineSeconds: 3\n"));
    assert!(out.status.success(), "{}", common::text(&out));
    roll_out(&c, "web", "app=web");

    // A negative scale never reaches the controller.
    let err = c.fails(&["scale", "deployment", "web", "--replicas=-1"]);
    assert!(err.contains("must be greater than or equal to 0"), "{err}");
    let err = c.fails(&["patch", "deployment", "web", "-p", r#"{"spec":{"replicas":-1}}"#]);
    assert!(err.contains("spec.replicas: Invalid value: -1: must be greater than or equal to 0"), "{err}");

    // A rollout whose pods never become ready: ProgressDeadlineExceeded, the old pods kept.
    c.ok(&["set", "image", "deployment/web", "web=nginx:broken"]);
    let out = c.kubectl(&["rollout", "status", "deployment/web", "--timeout=30s"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("error: deployment \"web\" exceeded its progress deadline"), "{}", common::text(&out));
    let v = c.json(&["get", "deployment", "web"]);
    let cond = v["status"]["conditions"].as_array().and_then(|cs| cs.iter().find(|c| c["type"] == "Progressing").cloned()).expect("Progressing");
    assert_eq!((cond["status"].as_str(), cond["reason"].as_str()), (Some("False"), Some("ProgressDeadlineExceeded")));
    assert!(cond["message"].as_str().is_some_and(|m| m.ends_with("has timed out progressing.")), "{cond}");
    assert_eq!(v["status"]["availableReplicas"], 2, "the old pods still serve");
    let described = c.ok(&["describe", "deployment", "web"]);
    assert!(described.contains("ProgressDeadlineExceeded"), "{described}");
    // Undo recovers.
    c.ok(&["rollout", "undo", "deployment/web"]);
    roll_out(&c, "web", "app=web");

    // Two ReplicaSets with the same selector: each keeps its own pods, nobody fights.
    let rs = |name: &str| format!("apiVersion: apps/v1\nkind: ReplicaSet\nmetadata:\n  name: {name}\nspec:\n  replicas: 2\n  selector:\n    matchLabels:\n      app: same\n  template:\n    metadata:\n      labels:\n        app: same\n    spec:\n      containers:\n      - name: c\n        image: busybox\n");
    assert!(c.apply(&rs("first")).status.success());
    assert!(c.apply(&rs("second")).status.success());
    let (a, b) = (uid(&c, &["get", "rs", "first"]), uid(&c, &["get", "rs", "second"]));
    let settled = eventually(20, || {
        let p = count(&c, "app=same", 4)?;
        let mine = p.iter().filter(|(_, o)| o.as_deref() == Some(a.as_str())).count();
        let theirs = p.iter().filter(|(_, o)| o.as_deref() == Some(b.as_str())).count();
        (mine == 2 && theirs == 2).then_some(p)
    });
    // Stable: the statuses agree and no pod was replaced meanwhile.
    eventually(20, || {
        let ok = ["first", "second"].iter().all(|n| c.json(&["get", "rs", n])["status"]["replicas"] == 2);
        ok.then_some(())
    });
    let mut now: Vec<String> = pods(&c, "app=same").into_iter().map(|p| p.0).collect();
    let mut before: Vec<String> = settled.into_iter().map(|p| p.0).collect();
    now.sort();
    before.sort();
    assert_eq!(now, before);
}

#[test]
fn recreate_and_the_seed_replicaset_then_deployment() {
    let c = Cluster::start();
    // Seed 003: a ReplicaSet, deleted (its pods with it), then a Deployment of the same app.
    assert!(c.apply(SAMPLE_RS).status.success());
    eventually(20, || count(&c, "app=sample-node-app", 3));
    c.ok(&["delete", "rs", "sample-node-app"]);
    eventually(20, || count(&c, "app=sample-node-app", 0));
    assert!(c.apply(SAMPLE_DEPLOYMENT).status.success());
    roll_out(&c, "sample-node-app", "app=sample-node-app");
    let all = c.ok(&["get", "all"]);
    let rs = &replicasets(&c, "app=sample-node-app")[0].0;
    assert!(all.contains("deployment.apps/sample-node-app   3/3     3            3"), "{all}");
    assert!(all.contains(&format!("replicaset.apps/{rs}   3         3         3")), "{all}");
    assert!(all.contains(&format!("pod/{rs}-")), "{all}");

    // Recreate: every old pod goes before the new ReplicaSet gets any.
    let out = c.apply(&deployment_yaml("db", 2, "mysql:5.7", "  strategy:\n    type: Recreate\n"));
    assert!(out.status.success(), "{}", common::text(&out));
    roll_out(&c, "db", "app=db");
    c.ok(&["set", "image", "deployment/db", "db=mysql:8.0"]);
    roll_out(&c, "db", "app=db");
    let rss = replicasets(&c, "app=db");
    assert_eq!(rss.iter().map(|r| r.1).collect::<Vec<_>>(), [0, 2], "{rss:?}");
    let described = c.ok(&["describe", "deployment", "db"]);
    let down = described.find(&format!("Scaled down replica set {} from 2 to 0", rss[0].0)).expect(&described);
    let up = described.find(&format!("Scaled up replica set {} from 0 to 2", rss[1].0)).expect(&described);
    assert!(down < up, "{described}");
    assert!(described.lines().any(|l| l.starts_with("StrategyType:") && l.ends_with(" Recreate")), "{described}");
}

#[test]
fn deployment_with_pods_running_on_the_node_agent() {
    // Seed 004: web-deploy, scaled to 10 and back, a new image rolled out, then undone;
    // here the pods really run (the node agent starts their processes).
    let c = Cluster::start_with_agent();
    let out = c.apply(&deployment_yaml("web-deploy", 3, "nginx:1.16", ""));
    assert!(out.status.success(), "{}", common::text(&out));
    let status = c.ok(&["rollout", "status", "deployment/web-deploy", "--timeout=60s"]);
    assert!(status.contains("successfully rolled out"), "{status}");
    c.ok(&["scale", "--replicas=10", "deployment.apps/web-deploy"]);
    c.ok(&["rollout", "status", "deployment/web-deploy", "--timeout=60s"]);
    eventually(60, || (c.json(&["get", "deployment", "web-deploy"])["status"]["readyReplicas"] == 10).then_some(()));
    c.ok(&["scale", "--replicas=3", "deployment.apps/web-deploy"]);
    eventually(60, || count(&c, "app=web-deploy", 3));
    let ips = |c: &Cluster| -> Vec<String> {
        let v = c.json(&["get", "pods", "-l", "app=web-deploy"]);
        v["items"].as_array().into_iter().flatten().filter_map(|p| p["status"]["podIP"].as_str().map(str::to_string)).collect()
    };
    let before = ips(&c);
    c.ok(&["set", "image", "deployment/web-deploy", "web-deploy=nginx:1.17"]);
    c.ok(&["rollout", "status", "deployment/web-deploy", "--timeout=60s"]);
    eventually(60, || count(&c, "app=web-deploy", 3));
    let rss = replicasets(&c, "app=web-deploy");
    assert_eq!(rss.iter().map(|r| (r.1, r.2.as_str())).collect::<Vec<_>>(), [(0, "1"), (3, "2")]);
    // Rolled-out pods are new pods: new addresses.
    let after = ips(&c);
    assert!(after.iter().all(|ip| !before.contains(ip)), "{before:?} {after:?}");
    c.ok(&["rollout", "undo", "deployment/web-deploy"]);
    c.ok(&["rollout", "status", "deployment/web-deploy", "--timeout=60s"]);
    assert_eq!(image_of(&c, "web-deploy"), "nginx:1.16");
    assert_eq!(replicasets(&c, "app=web-deploy").len(), 2, "the old ReplicaSet is reused");
}

#[test]
fn min_ready_seconds_delays_availability() {
    let c = Cluster::start();
    let rs = SAMPLE_RS.replace("  replicas: 3\n", "  replicas: 1\n  minReadySeconds: 3\n");
    assert!(c.apply(&rs).status.success());
    let (name, _) = eventually(20, || count(&c, "app=sample-node-app", 1))[0].clone();
    // Ready from now on (the kubelet's stand-in, with the current time).
    let now = utc_now();
    let patch = format!(r#"{{"status":{{"phase":"Running","conditions":[{{"type":"Ready","status":"True","lastTransitionTime":"{now}"}}]}}}}"#);
    c.ok(&["patch", "pod", &name, "--subresource=status", "--type=merge", "-p", &patch]);
    eventually(20, || (c.json(&["get", "rs", "sample-node-app"])["status"]["readyReplicas"] == 1).then_some(()));
    assert!(c.json(&["get", "rs", "sample-node-app"])["status"]["availableReplicas"].is_null(), "not available before 3 s");
    // Nothing changes on the pod: the controller looks again after minReadySeconds.
    eventually(20, || (c.json(&["get", "rs", "sample-node-app"])["status"]["availableReplicas"] == 1).then_some(()));
}

/// The current UTC time as the API writes it.
fn utc_now() -> String {
    let out = std::process::Command::new("date").args(["-u", "+%Y-%m-%dT%H:%M:%SZ"]).output().expect("date");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}
