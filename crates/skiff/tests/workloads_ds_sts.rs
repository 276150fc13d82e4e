//! End to end: DaemonSets and StatefulSets from the seeds, with real pods on several node
//! agents on this host, driven by the real kubectl (apply, label, cordon, scale, set
//! image, rollout status|history|undo, exec).

mod common;

use std::collections::BTreeMap;

use common::{eventually, Cluster};
use serde_json::Value;

/// A control plane and the named agents (name, labels), each reporting 2 CPUs, 4 GiB and
/// 20 pods, all Ready with a pod CIDR.
fn cluster(nodes: &[(&str, &str)]) -> Cluster {
    let mut c = Cluster::start();
    for (n, labels) in nodes {
        add_node(&mut c, n, labels);
    }
    c
}

fn add_node(c: &mut Cluster, name: &str, labels: &str) {
    let mut args = vec!["--capacity", "cpu=2,memory=4Gi,pods=20"];
    if !labels.is_empty() {
        args.extend(["--labels", labels]);
    }
    c.add_agent(name, &args);
    eventually(30, || {
        let n = c.json(&["get", "nodes"]);
        n["items"].as_array()?.iter().find(|i| i["metadata"]["name"] == name && ready(i) && i["spec"]["podCIDR"].is_string()).map(|_| ())
    });
}

fn ready(o: &Value) -> bool {
    o["status"]["conditions"].as_array().is_some_and(|cs| cs.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
}

fn apply(c: &Cluster, yaml: &str) {
    let out = c.apply(yaml);
    assert!(out.status.success(), "{}", common::text(&out));
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

/// The pods matching `selector` that are not being deleted.
fn live_pods(c: &Cluster, selector: &str) -> Vec<Value> {
    let v = c.json(&["get", "pods", "-l", selector]);
    v["items"].as_array().cloned().unwrap_or_default().into_iter().filter(|p| p["metadata"]["deletionTimestamp"].is_null()).collect()
}

/// Node → pod name of the Running pods matching `selector`, once there are `n` of them
/// (and no others).
fn running_by_node(c: &Cluster, selector: &str, n: usize) -> BTreeMap<String, String> {
    eventually(60, || {
        let pods = live_pods(c, selector);
        let running: BTreeMap<String, String> =
            pods.iter().filter(|p| p["status"]["phase"] == "Running").map(|p| (s(&p["spec"]["nodeName"]).to_string(), s(&p["metadata"]["name"]).to_string())).collect();
        (pods.len() == n && running.len() == n).then_some(running)
    })
}

fn nodes_of(m: &BTreeMap<String, String>) -> Vec<&str> {
    m.keys().map(String::as_str).collect()
}

/// The fields of the `kubectl get <what> <name>` row.
fn row(c: &Cluster, what: &str, name: &str) -> Vec<String> {
    let out = c.ok(&["get", what, name]);
    out.lines().nth(1).unwrap_or("").split_whitespace().map(str::to_string).collect()
}

fn image_of(p: &Value) -> &str {
    s(&p["spec"]["containers"][0]["image"])
}

const SEED_DS: &str = r#"apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: sample-ds
spec:
  selector:
    matchLabels:
      app: sample-app
  template:
    metadata:
      labels:
        app: sample-app
    spec:
      containers:
        - name: nginx-container
          image: nginx:1.16
          command: [sleep, "3600"]
"#;

#[test]
fn daemonset_follows_nodes_joining_relabelled_cordoned_and_replaces_failed_pods() {
    let mut c = cluster(&[("node-a", "disk=ssd"), ("node-b", "disk=ssd")]);
    // The seed's DaemonSet: one pod on each node.
    apply(&c, SEED_DS);
    let pods = running_by_node(&c, "app=sample-app", 2);
    assert_eq!(nodes_of(&pods), ["node-a", "node-b"]);
    eventually(20, || (row(&c, "ds", "sample-ds")[1..7] == ["2", "2", "2", "2", "2", "<none>"]).then_some(()));
    let ds = c.json(&["get", "ds", "sample-ds"]);
    assert_eq!(ds["status"]["observedGeneration"], ds["metadata"]["generation"]);
    assert_eq!(ds["status"]["numberMisscheduled"], 0);
    // Pods are pinned to their node by node affinity and tolerate node trouble.
    let p = c.json(&["get", "pod", &pods["node-a"]]);
    assert_eq!(p["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0]["matchFields"][0]["values"][0], "node-a");
    let tolerations = p["spec"]["tolerations"].to_string();
    for key in ["not-ready", "unreachable", "disk-pressure", "memory-pressure", "pid-pressure", "unschedulable"] {
        assert!(tolerations.contains(&format!("node.kubernetes.io/{key}")), "{tolerations}");
    }
    assert_eq!(p["metadata"]["ownerReferences"][0]["kind"], "DaemonSet");
    assert!(p["metadata"]["labels"]["controller-revision-hash"].is_string());

    // The seeds' "a node is added": it gets its pod.
    add_node(&mut c, "node-c", "disk=hdd");
    assert_eq!(nodes_of(&running_by_node(&c, "app=sample-app", 3)), ["node-a", "node-b", "node-c"]);

    // A DaemonSet for ssd nodes only; relabelling a node out removes its pod.
    apply(
        &c,
        r#"apiVersion: apps/v1
kind: DaemonSet
metadata: {name: ssd-agent}
spec:
  selector: {matchLabels: {app: ssd-agent}}
  template:
    metadata: {labels: {app: ssd-agent}}
    spec:
      nodeSelector: {disk: ssd}
      containers: [{name: agent, image: busybox, command: [sleep, "3600"]}]
"#,
    );
    assert_eq!(nodes_of(&running_by_node(&c, "app=ssd-agent", 2)), ["node-a", "node-b"]);
    c.ok(&["label", "node", "node-b", "disk=hdd", "--overwrite"]);
    assert_eq!(nodes_of(&running_by_node(&c, "app=ssd-agent", 1)), ["node-a"]);
    eventually(20, || (row(&c, "ds", "ssd-agent")[1..7] == ["1", "1", "1", "1", "1", "disk=ssd"]).then_some(()));

    // A cordoned node still gets its daemon pod, as on Kubernetes.
    c.ok(&["cordon", "node-c"]);
    c.ok(&["label", "node", "node-c", "disk=ssd", "--overwrite"]);
    assert_eq!(nodes_of(&running_by_node(&c, "app=ssd-agent", 2)), ["node-a", "node-c"]);
    let nodes = c.ok(&["get", "nodes"]);
    assert!(nodes.lines().any(|l| l.starts_with("node-c ") && l.contains("SchedulingDisabled")), "{nodes}");

    // A failed daemon pod is deleted and replaced.
    let failed = pods["node-a"].clone();
    c.ok(&["patch", "pod", &failed, "--subresource=status", "--type=merge", "-p", r#"{"status":{"phase":"Failed"}}"#]);
    let replaced = eventually(60, || {
        let now = running_by_node(&c, "app=sample-app", 3);
        (now["node-a"] != failed).then(|| now["node-a"].clone())
    });
    assert_ne!(replaced, failed);
    let events = c.ok(&["get", "events", "--field-selector", "involvedObject.name=sample-ds", "-o", "jsonpath={.items[*].message}"]);
    assert!(events.contains(&format!("Found failed daemon pod default/{failed} on node node-a, will try to kill it")), "{events}");
}

fn daemonset(name: &str, strategy: &str) -> String {
    format!(
        r#"apiVersion: apps/v1
kind: DaemonSet
metadata: {{name: {name}}}
spec:
  selector: {{matchLabels: {{app: {name}}}}}
  updateStrategy: {strategy}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers: [{{name: app, image: "busybox:1", command: [sleep, "3600"]}}]
"#
    )
}

/// The revision numbers `kubectl rollout history` lists.
fn history(c: &Cluster, what: &str) -> Vec<String> {
    let out = c.ok(&["rollout", "history", what]);
    out.lines().skip(2).filter_map(|l| l.split_whitespace().next()).map(str::to_string).collect()
}

fn images(c: &Cluster, selector: &str) -> Vec<String> {
    let mut v: Vec<String> = live_pods(c, selector).iter().map(|p| image_of(p).to_string()).collect();
    v.sort();
    v
}

#[test]
fn daemonset_rolling_update_on_delete_surge_and_undo() {
    let c = cluster(&[("node-a", ""), ("node-b", "")]);
    apply(&c, &daemonset("roll", "{type: RollingUpdate, rollingUpdate: {maxUnavailable: 1}}"));
    running_by_node(&c, "app=roll", 2);
    assert_eq!(history(&c, "ds/roll"), ["1"]);

    c.ok(&["set", "image", "ds/roll", "app=busybox:2"]);
    let out = c.ok(&["rollout", "status", "ds/roll", "--timeout=60s"]);
    assert!(out.contains("daemon set \"roll\" successfully rolled out"), "{out}");
    running_by_node(&c, "app=roll", 2);
    assert_eq!(images(&c, "app=roll"), ["busybox:2", "busybox:2"]);
    assert_eq!(history(&c, "ds/roll"), ["1", "2"]);
    let shown = c.ok(&["rollout", "history", "ds/roll", "--revision=1"]);
    assert!(shown.contains("busybox:1"), "{shown}");

    // Undo: back to revision 1's template, which becomes revision 3.
    let out = c.ok(&["rollout", "undo", "ds/roll"]);
    assert!(out.contains("rolled back"), "{out}");
    c.ok(&["rollout", "status", "ds/roll", "--timeout=60s"]);
    eventually(60, || (images(&c, "app=roll") == ["busybox:1", "busybox:1"]).then_some(()));
    assert_eq!(history(&c, "ds/roll"), ["2", "3"]);
    let revisions = c.ok(&["get", "controllerrevisions"]);
    assert!(revisions.contains("daemonset.apps/roll"), "{revisions}");

    // The selector cannot change.
    let err = c.fails(&["patch", "ds", "roll", "--type=merge", "-p", r#"{"spec":{"selector":{"matchLabels":{"app":"other"}},"template":{"metadata":{"labels":{"app":"other"}}}}}"#]);
    assert!(err.contains("spec.selector: Invalid value") && err.contains("field is immutable"), "{err}");

    // OnDelete: a template change waits until a pod is deleted.
    apply(&c, &daemonset("lazy", "{type: OnDelete}"));
    let before = running_by_node(&c, "app=lazy", 2);
    c.ok(&["set", "image", "ds/lazy", "app=busybox:2"]);
    eventually(20, || {
        let ds = c.json(&["get", "ds", "lazy"]);
        (ds["status"]["observedGeneration"] == ds["metadata"]["generation"] && ds["status"]["updatedNumberScheduled"].as_i64().unwrap_or(0) == 0).then_some(())
    });
    assert_eq!(images(&c, "app=lazy"), ["busybox:1", "busybox:1"]);
    let err = c.fails(&["rollout", "status", "ds/lazy"]);
    assert!(err.contains("rollout status is only available for RollingUpdate strategy type"), "{err}");
    c.ok(&["delete", "pod", &before["node-a"]]);
    let after = eventually(60, || {
        let now = running_by_node(&c, "app=lazy", 2);
        (now["node-a"] != before["node-a"]).then_some(now)
    });
    assert_eq!(after["node-b"], before["node-b"], "the other pod is left alone");
    assert_eq!(image_of(&c.json(&["get", "pod", &after["node-a"]])), "busybox:2");
    assert_eq!(image_of(&c.json(&["get", "pod", &after["node-b"]])), "busybox:1");

    // maxSurge: the new pod starts next to the old one; the rollout completes.
    apply(&c, &daemonset("surge", "{type: RollingUpdate, rollingUpdate: {maxUnavailable: 0, maxSurge: 1}}"));
    running_by_node(&c, "app=surge", 2);
    c.ok(&["set", "image", "ds/surge", "app=busybox:2"]);
    c.ok(&["rollout", "status", "ds/surge", "--timeout=60s"]);
    eventually(60, || (images(&c, "app=surge") == ["busybox:2", "busybox:2"]).then_some(()));
}

/// A StatefulSet whose pods are Ready once `/ready/<hostname>` exists (a hostPath of the
/// test's directory), ignore SIGTERM and so take their 2 s grace period to go.
fn gated_sts(name: &str, replicas: i32, ready_dir: &std::path::Path, extra: &str) -> String {
    format!(
        r#"apiVersion: apps/v1
kind: StatefulSet
metadata: {{name: {name}}}
spec:
  selector: {{matchLabels: {{app: {name}}}}}
  serviceName: {name}
  replicas: {replicas}
{extra}  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - name: app
        image: busybox:1
        command: [sh, -c, 'trap "" TERM; exec sleep 3600']
        readinessProbe:
          exec: {{command: [sh, -c, 'test -f /ready/$(hostname)']}}
          periodSeconds: 1
        volumeMounts: [{{name: ready, mountPath: /ready}}]
      volumes: [{{name: ready, hostPath: {{path: {dir}}}}}]
"#,
        dir = ready_dir.display()
    )
}

fn pod(c: &Cluster, name: &str) -> Option<Value> {
    let out = c.kubectl(&["get", "pod", name, "-o", "json"]);
    out.status.success().then(|| serde_json::from_slice(&out.stdout).ok()).flatten()
}

fn running_not_ready(c: &Cluster, name: &str) {
    eventually(40, || pod(c, name).filter(|p| p["status"]["phase"] == "Running" && !ready(p)).map(|_| ()));
    // The readiness probe has failed at least once: the controller has seen it not Ready.
    eventually(20, || {
        let ev = c.ok(&["get", "events", "--field-selector", &format!("involvedObject.name={name},reason=Unhealthy"), "-o", "jsonpath={.items[*].message}"]);
        ev.contains("Readiness probe failed").then_some(())
    });
}

fn touch(dir: &std::path::Path, name: &str) {
    std::fs::write(dir.join(name), "").expect("write ready file");
}

#[test]
fn statefulset_ordered_ready_identity_and_scale_in_from_the_top() {
    let c = cluster(&[("node-a", ""), ("node-b", "")]);
    let dir = c.path().join("ready");
    std::fs::create_dir_all(&dir).expect("mkdir");
    apply(&c, &gated_sts("web", 3, &dir, ""));

    // web-1 is created only once web-0 is Ready; web-2 once web-1 is.
    running_not_ready(&c, "web-0");
    assert!(pod(&c, "web-1").is_none(), "web-1 before web-0 is Ready");
    assert_eq!(row(&c, "sts", "web")[1], "0/3");
    touch(&dir, "web-0");
    running_not_ready(&c, "web-1");
    assert!(pod(&c, "web-2").is_none(), "web-2 before web-1 is Ready");
    touch(&dir, "web-1");
    touch(&dir, "web-2");
    eventually(60, || (row(&c, "sts", "web")[1] == "3/3").then_some(()));

    // Stable identity: hostname, labels, subdomain (its Service does not exist).
    let out = c.ok(&["exec", "web-1", "--", "hostname"]);
    assert_eq!(out.trim(), "web-1");
    let p = c.json(&["get", "pod", "web-1"]);
    assert_eq!(p["metadata"]["labels"]["statefulset.kubernetes.io/pod-name"], "web-1");
    assert_eq!(p["metadata"]["labels"]["apps.kubernetes.io/pod-index"], "1");
    assert_eq!((s(&p["spec"]["hostname"]), s(&p["spec"]["subdomain"])), ("web-1", "web"));
    let status = c.json(&["get", "sts", "web"])["status"].clone();
    assert_eq!((status["replicas"].as_i64(), status["readyReplicas"].as_i64(), status["availableReplicas"].as_i64()), (Some(3), Some(3), Some(3)));
    assert_eq!(status["currentRevision"], status["updateRevision"]);
    let events = c.ok(&["get", "events", "--field-selector", "involvedObject.name=web", "-o", "jsonpath={.items[*].message}"]);
    assert!(events.contains("create Pod web-0 in StatefulSet web successful"), "{events}");

    // Scale 3 → 1: web-2 goes first, and web-1 only once web-2 is gone.
    c.ok(&["scale", "sts", "web", "--replicas=1"]);
    eventually(30, || {
        let (w1, w2) = (pod(&c, "web-1")?, pod(&c, "web-2")?);
        assert!(w1["metadata"]["deletionTimestamp"].is_null() || !w2["metadata"]["deletionTimestamp"].is_null(), "web-1 terminating before web-2");
        (!w2["metadata"]["deletionTimestamp"].is_null()).then_some(())
    });
    assert!(pod(&c, "web-1").is_some_and(|p| p["metadata"]["deletionTimestamp"].is_null()), "web-1 waits while web-2 terminates");
    eventually(30, || pod(&c, "web-2").is_none().then_some(()));
    eventually(30, || pod(&c, "web-1").is_none().then_some(()));
    assert_eq!(live_pods(&c, "app=web").len(), 1);

    // And back to 3 with kubectl scale: web-1 then web-2, the same names.
    c.ok(&["scale", "sts", "web", "--replicas=3"]);
    eventually(60, || (row(&c, "sts", "web")[1] == "3/3").then_some(()));
    let names: Vec<String> = live_pods(&c, "app=web").iter().map(|p| s(&p["metadata"]["name"]).to_string()).collect();
    assert_eq!(names, ["web-0", "web-1", "web-2"]);
}

/// A StatefulSet of `sleep` pods, Ready once running.
fn plain_sts(name: &str, replicas: i32, extra: &str) -> String {
    format!(
        r#"apiVersion: apps/v1
kind: StatefulSet
metadata: {{name: {name}}}
spec:
  selector: {{matchLabels: {{app: {name}}}}}
  serviceName: {name}
  replicas: {replicas}
{extra}  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers: [{{name: app, image: "busybox:1", command: [sleep, "3600"]}}]
"#
    )
}

fn pod_images(c: &Cluster, selector: &str) -> BTreeMap<String, String> {
    live_pods(c, selector).iter().map(|p| (s(&p["metadata"]["name"]).to_string(), image_of(p).to_string())).collect()
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn statefulset_parallel_partitioned_rolling_update_on_delete_and_undo() {
    let c = cluster(&[("node-a", ""), ("node-b", "")]);
    // Parallel: all pods at once, without waiting for readiness.
    let dir = c.path().join("ready");
    std::fs::create_dir_all(&dir).expect("mkdir");
    apply(&c, &gated_sts("par", 3, &dir, "  podManagementPolicy: Parallel\n"));
    eventually(40, || (live_pods(&c, "app=par").iter().filter(|p| p["status"]["phase"] == "Running").count() == 3).then_some(()));
    assert_eq!(row(&c, "sts", "par")[1], "0/3");

    // RollingUpdate with a partition: the canary first.
    apply(&c, &plain_sts("canary", 3, ""));
    eventually(60, || (row(&c, "sts", "canary")[1] == "3/3").then_some(()));
    c.ok(&["patch", "sts", "canary", "--type=merge", "-p", r#"{"spec":{"updateStrategy":{"rollingUpdate":{"partition":2}}}}"#]);
    c.ok(&["set", "image", "sts/canary", "app=busybox:2"]);
    let out = c.ok(&["rollout", "status", "sts/canary", "--timeout=60s"]);
    assert!(out.contains("partitioned roll out complete: 1 new pods have been updated..."), "{out}");
    eventually(30, || (pod_images(&c, "app=canary") == map(&[("canary-0", "busybox:1"), ("canary-1", "busybox:1"), ("canary-2", "busybox:2")])).then_some(()));
    let st = c.json(&["get", "sts", "canary"])["status"].clone();
    assert_ne!(st["currentRevision"], st["updateRevision"]);
    assert_eq!(st["updatedReplicas"], 1);
    // Below the partition a deleted pod comes back at the current revision.
    c.ok(&["delete", "pod", "canary-0"]);
    eventually(60, || pod(&c, "canary-0").filter(|p| p["metadata"]["deletionTimestamp"].is_null() && ready(p)).map(|_| ()));
    assert_eq!(image_of(&c.json(&["get", "pod", "canary-0"])), "busybox:1");
    // Partition 0: the rest follows, from the highest ordinal.
    c.ok(&["patch", "sts", "canary", "--type=merge", "-p", r#"{"spec":{"updateStrategy":{"rollingUpdate":{"partition":0}}}}"#]);
    c.ok(&["rollout", "status", "sts/canary", "--timeout=60s"]);
    eventually(60, || (pod_images(&c, "app=canary").values().all(|i| i == "busybox:2") && row(&c, "sts", "canary")[1] == "3/3").then_some(()));
    eventually(20, || {
        let st = c.json(&["get", "sts", "canary"])["status"].clone();
        (st["currentRevision"] == st["updateRevision"] && st["currentReplicas"] == 3).then_some(())
    });
    assert_eq!(history(&c, "sts/canary"), ["1", "2"]);

    // Undo: revision 1's template again, as revision 3.
    let out = c.ok(&["rollout", "undo", "sts/canary"]);
    assert!(out.contains("rolled back"), "{out}");
    c.ok(&["rollout", "status", "sts/canary", "--timeout=60s"]);
    eventually(60, || (pod_images(&c, "app=canary").values().all(|i| i == "busybox:1") && row(&c, "sts", "canary")[1] == "3/3").then_some(()));
    assert_eq!(history(&c, "sts/canary"), ["2", "3"]);

    // OnDelete: only deleted pods take the new template.
    apply(&c, &plain_sts("od", 2, "  updateStrategy: {type: OnDelete}\n"));
    eventually(60, || (row(&c, "sts", "od")[1] == "2/2").then_some(()));
    c.ok(&["set", "image", "sts/od", "app=busybox:2"]);
    eventually(20, || {
        let v = c.json(&["get", "sts", "od"]);
        (v["status"]["observedGeneration"] == v["metadata"]["generation"] && v["status"]["currentRevision"] != v["status"]["updateRevision"]).then_some(())
    });
    assert_eq!(pod_images(&c, "app=od"), map(&[("od-0", "busybox:1"), ("od-1", "busybox:1")]));
    c.ok(&["delete", "pod", "od-1"]);
    eventually(60, || (pod_images(&c, "app=od") == map(&[("od-0", "busybox:1"), ("od-1", "busybox:2")])).then_some(()));

    // The seeds scale with `kubectl edit`: replicas 2 → 1 removes od-1.
    let out = c.kubectl_with(&["edit", "statefulset", "od"], None, &[("KUBE_EDITOR", "sed -i s/replicas:\\ 2/replicas:\\ 1/")]);
    assert!(out.status.success(), "{}", common::text(&out));
    eventually(30, || (pod_images(&c, "app=od") == map(&[("od-0", "busybox:1")])).then_some(()));
}

#[test]
fn statefulset_stuck_rollout_recovers_once_fixed_and_deleted_and_spec_is_immutable() {
    let c = cluster(&[("node-a", "")]);
    let yaml = |image: &str, probe: &str| {
        format!(
            r#"apiVersion: apps/v1
kind: StatefulSet
metadata: {{name: db}}
spec:
  selector: {{matchLabels: {{app: db}}}}
  serviceName: db
  replicas: 3
  template:
    metadata: {{labels: {{app: db}}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: db
        image: "{image}"
        command: [sleep, "3600"]
        readinessProbe: {{exec: {{command: [{probe}]}}, periodSeconds: 1}}
"#
        )
    };
    apply(&c, &yaml("db:1", "\"true\""));
    eventually(60, || (row(&c, "sts", "db")[1] == "3/3").then_some(()));
    let r1 = s(&c.json(&["get", "sts", "db"])["status"]["currentRevision"]).to_string();

    // A template whose pods never get Ready: db-2 is replaced and the rollout halts there.
    apply(&c, &yaml("db:2", "\"false\""));
    running_not_ready(&c, "db-2");
    let r2 = s(&c.json(&["get", "sts", "db"])["status"]["updateRevision"]).to_string();
    assert_ne!(r1, r2);
    assert_eq!(s(&c.json(&["get", "pod", "db-2"])["metadata"]["labels"]["controller-revision-hash"]), r2);
    let db1 = c.json(&["get", "pod", "db-1"]);
    assert!(db1["metadata"]["deletionTimestamp"].is_null());
    assert_eq!(s(&db1["metadata"]["labels"]["controller-revision-hash"]), r1, "db-1 keeps the old revision");
    let out = c.kubectl(&["rollout", "status", "sts/db", "--timeout=2s"]);
    assert!(!out.status.success(), "{}", common::text(&out));

    // Fixing the template is not enough: the stuck pod stays until it is deleted, as upstream.
    apply(&c, &yaml("db:3", "\"true\""));
    eventually(20, || {
        let v = c.json(&["get", "sts", "db"]);
        (v["status"]["observedGeneration"] == v["metadata"]["generation"]).then_some(())
    });
    let r3 = s(&c.json(&["get", "sts", "db"])["status"]["updateRevision"]).to_string();
    assert!(r3 != r2 && r3 != r1);
    assert_eq!(s(&c.json(&["get", "pod", "db-2"])["metadata"]["labels"]["controller-revision-hash"]), r2);
    c.ok(&["delete", "pod", "db-2"]);
    let out = c.ok(&["rollout", "status", "sts/db", "--timeout=90s"]);
    assert!(out.contains("partitioned roll out complete: 3 new pods have been updated..."), "{out}");
    eventually(60, || (pod_images(&c, "app=db").values().all(|i| i == "db:3") && row(&c, "sts", "db")[1] == "3/3").then_some(()));
    eventually(20, || (s(&c.json(&["get", "sts", "db"])["status"]["currentRevision"]) == r3).then_some(()));

    // Only replicas, ordinals, template, updateStrategy, the claim retention policy and
    // minReadySeconds may change.
    let err = c.fails(&["patch", "sts", "db", "--type=merge", "-p", r#"{"spec":{"serviceName":"other"}}"#]);
    assert!(
        err.contains("The StatefulSet \"db\" is invalid: spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"),
        "{err}"
    );
    c.ok(&["patch", "sts", "db", "--type=merge", "-p", r#"{"spec":{"minReadySeconds":1,"persistentVolumeClaimRetentionPolicy":{"whenScaled":"Delete"}}}"#]);
}

#[test]
fn statefulset_claim_templates_make_claims_owned_by_the_retention_policy() {
    // No nodes: pods stay Pending, which is enough to see the claims made for them.
    let c = Cluster::start();
    apply(
        &c,
        r#"apiVersion: apps/v1
kind: StatefulSet
metadata: {name: sample-ss}
spec:
  selector: {matchLabels: {app: sample-app}}
  serviceName: sample-ss
  replicas: 3
  podManagementPolicy: Parallel
  persistentVolumeClaimRetentionPolicy: {whenDeleted: Delete, whenScaled: Delete}
  template:
    metadata: {labels: {app: sample-app}}
    spec:
      containers:
      - name: nginx-container
        image: nginx:1.16
        command: [sleep, "3600"]
        volumeMounts: [{name: www, mountPath: /usr/share/nginx/html}]
  volumeClaimTemplates:
  - metadata: {name: www}
    spec:
      accessModes: ["ReadWriteOnce"]
      resources: {requests: {storage: 1G}}
"#,
    );
    let claims = |c: &Cluster| -> BTreeMap<String, Value> {
        let v = c.json(&["get", "pvc", "-l", "app=sample-app"]);
        v["items"].as_array().cloned().unwrap_or_default().into_iter().filter(|p| p["metadata"]["deletionTimestamp"].is_null()).map(|p| (s(&p["metadata"]["name"]).to_string(), p)).collect()
    };
    let made = eventually(30, || {
        let m = claims(&c);
        (m.len() == 3).then_some(m)
    });
    assert_eq!(made.keys().collect::<Vec<_>>(), ["www-sample-ss-0", "www-sample-ss-1", "www-sample-ss-2"]);
    let uid = s(&c.json(&["get", "sts", "sample-ss"])["metadata"]["uid"]).to_string();
    for claim in made.values() {
        let owner = &claim["metadata"]["ownerReferences"][0];
        assert_eq!((s(&owner["kind"]), s(&owner["uid"]), owner["controller"].as_bool()), ("StatefulSet", uid.as_str(), Some(true)), "{claim}");
        assert_eq!(claim["spec"]["resources"]["requests"]["storage"], "1G");
    }
    let p = c.json(&["get", "pod", "sample-ss-1"]);
    assert_eq!(p["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"], "www-sample-ss-1");

    // whenScaled: Delete: the claims of scaled-away pods go with them (garbage collector).
    c.ok(&["scale", "sts", "sample-ss", "--replicas=1"]);
    let left = eventually(60, || {
        let m = claims(&c);
        (m.len() == 1).then_some(m)
    });
    assert!(left.contains_key("www-sample-ss-0"), "{left:?}");
}

/// The seed's StatefulSet (a database-like set with a claim per pod), with real volumes.
const SEED_STS: &str = r#"apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: sample-ss
spec:
  selector:
    matchLabels:
      app: sample-app
  serviceName: sample-ss
  replicas: 3
  template:
    metadata:
      labels:
        app: sample-app
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: nginx-container
          image: nginx:1.16
          command: [sleep, "3600"]
          volumeMounts:
            - name: www
              mountPath: /usr/share/nginx/html
  volumeClaimTemplates:
    - metadata:
        name: www
      spec:
        accessModes: ["ReadWriteOnce"]
        resources:
          requests:
            storage: 1G
"#;

fn read_back(c: &Cluster, pod_name: &str) -> Option<String> {
    let out = c.kubectl(&["exec", pod_name, "--", "cat", "/usr/share/nginx/html/index.html"]);
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn node_of(c: &Cluster, pod_name: &str) -> String {
    s(&c.json(&["get", "pod", pod_name])["spec"]["nodeName"]).to_string()
}

#[test]
fn statefulset_pods_keep_their_data_across_deletion_scaling_and_recreation() {
    let c = cluster(&[("node-a", ""), ("node-b", ""), ("node-c", "")]);
    apply(&c, SEED_STS);
    eventually(90, || (row(&c, "sts", "sample-ss")[1] == "3/3").then_some(()));
    let pvcs = c.ok(&["get", "pvc"]);
    for i in 0..3 {
        assert!(pvcs.lines().any(|l| l.starts_with(&format!("www-sample-ss-{i} ")) && l.contains("Bound")), "{pvcs}");
    }
    c.ok(&["exec", "sample-ss-1", "--", "sh", "-c", "echo written-by-sample-ss-1 > /usr/share/nginx/html/index.html"]);
    let home = node_of(&c, "sample-ss-1");

    // The pod is deleted: it comes back on the node holding its data, with the data.
    c.ok(&["delete", "pod", "sample-ss-1"]);
    eventually(60, || (read_back(&c, "sample-ss-1")? == "written-by-sample-ss-1").then_some(()));
    assert_eq!(node_of(&c, "sample-ss-1"), home);

    // Scale 3 → 1 → 3: the claims stay (whenScaled: Retain) and sample-ss-1 finds its data.
    c.ok(&["scale", "sts", "sample-ss", "--replicas=1"]);
    eventually(60, || (live_pods(&c, "app=sample-app").len() == 1).then_some(()));
    assert_eq!(c.ok(&["get", "pvc", "-o", "name"]).lines().count(), 3);
    c.ok(&["scale", "sts", "sample-ss", "--replicas=3"]);
    eventually(90, || (row(&c, "sts", "sample-ss")[1] == "3/3").then_some(()));
    assert_eq!(read_back(&c, "sample-ss-1").as_deref(), Some("written-by-sample-ss-1"));

    // Deleted and created again (whenDeleted: Retain): the same claims, the same data.
    c.ok(&["delete", "sts", "sample-ss"]);
    eventually(60, || live_pods(&c, "app=sample-app").is_empty().then_some(()));
    apply(&c, SEED_STS);
    eventually(90, || (row(&c, "sts", "sample-ss")[1] == "3/3").then_some(()));
    assert_eq!(read_back(&c, "sample-ss-1").as_deref(), Some("written-by-sample-ss-1"));
    assert_eq!(node_of(&c, "sample-ss-1"), home);
}
