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
    let history = c.ok(&["rollout", "history", "deployment/sample-node-app"]);
    assert!(history.contains("REVISION  CHANGE-CAUSE") && history.contains("1         <none>") && history.contains("2         <none>"), "{history}");
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
