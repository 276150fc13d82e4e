//! End-to-end: the real kubectl against `skiff server`, as a user drives it.

mod common;
use common::{eventually, text, Cluster};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

const DEPLOYMENT: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app: web
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: nginx
        image: nginx:1.25
        ports:
        - containerPort: 80
"#;

const CONFIGMAP: &str = r#"
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  labels:
    tier: backend
data:
  mode: fast
"#;

#[test]
fn apply_file_and_directory_then_get_in_every_format() {
    let c = Cluster::start();
    let f = c.write("deploy.yaml", DEPLOYMENT);
    let out = c.ok(&["apply", "-f", f.to_str().unwrap()]);
    assert_eq!(out.trim(), "deployment.apps/web created");
    // Applying the same file again changes nothing.
    assert_eq!(c.ok(&["apply", "-f", f.to_str().unwrap()]).trim(), "deployment.apps/web unchanged");

    c.write("dir/cm.yaml", CONFIGMAP);
    c.write("dir/pod.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: solo\n  labels:\n    app: solo\nspec:\n  containers:\n  - name: main\n    image: busybox\n    command: [sleep, '3600']\n");
    let out = c.ok(&["apply", "-f", c.path().join("dir").to_str().unwrap()]);
    assert!(out.contains("configmap/settings created") && out.contains("pod/solo created"), "{out}");

    let table = c.ok(&["get", "deployments"]);
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]);
    assert!(table.lines().nth(1).unwrap().starts_with("web "), "{table}");

    let wide = c.ok(&["get", "deploy", "web", "-o", "wide"]);
    assert!(wide.contains("CONTAINERS") && wide.contains("nginx:1.25") && wide.contains("app=web"), "{wide}");

    let pods = c.ok(&["get", "pods"]);
    let header: Vec<&str> = pods.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]);
    assert!(pods.contains("solo") && pods.contains("0/1") && pods.contains("Pending"), "{pods}");

    let y = c.ok(&["get", "deployment", "web", "-o", "yaml"]);
    assert!(y.contains("kind: Deployment") && y.contains("maxSurge: 25%") && y.contains("revisionHistoryLimit: 10"), "defaults applied: {y}");
    let j = c.json(&["get", "deployment", "web"]);
    assert_eq!(j["spec"]["replicas"], 2);
    assert_eq!(j["metadata"]["generation"], 1);
    assert!(j["metadata"]["uid"].as_str().is_some_and(|u| u.len() == 36));
    assert!(j["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"].is_string());
    assert_eq!(j["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"], "IfNotPresent");

    let labelled = c.ok(&["get", "cm", "-l", "tier=backend", "--show-labels"]);
    assert!(labelled.contains("settings") && labelled.contains("tier=backend"), "{labelled}");
    let others = c.kubectl(&["get", "cm", "-l", "tier notin (backend)", "-o", "name"]);
    assert!(others.status.success() && !text(&others).contains("settings"), "{}", text(&others));
    let exists = c.ok(&["get", "cm", "-l", "tier", "-o", "name"]);
    assert_eq!(exists.trim(), "configmap/settings");
    let all = c.ok(&["get", "all"]);
    assert!(all.contains("pod/solo") && all.contains("deployment.apps/web"), "{all}");
    let ns = c.ok(&["get", "namespaces"]);
    for n in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        assert!(ns.contains(n), "{ns}");
    }
}

#[test]
fn label_annotate_patch_scale_edit() {
    let c = Cluster::start();
    assert!(c.apply(DEPLOYMENT).status.success());
    c.ok(&["label", "deployment", "web", "env=prod"]);
    let err = c.fails(&["label", "deployment", "web", "env=dev"]);
    assert!(err.contains("'env' already has a value (prod), and --overwrite is false"), "{err}");
    c.ok(&["label", "deployment", "web", "env=dev", "--overwrite"]);
    assert_eq!(c.json(&["get", "deploy", "web"])["metadata"]["labels"]["env"], "dev");
    c.ok(&["label", "deployment", "web", "env-"]);
    assert!(c.json(&["get", "deploy", "web"])["metadata"]["labels"].get("env").is_none());

    c.ok(&["annotate", "deployment", "web", "owner=team-a"]);
    c.ok(&["annotate", "deployment", "web", "owner=team-b", "--overwrite"]);
    assert_eq!(c.json(&["get", "deploy", "web"])["metadata"]["annotations"]["owner"], "team-b");
    c.ok(&["annotate", "deployment", "web", "owner-"]);
    assert!(c.json(&["get", "deploy", "web"])["metadata"]["annotations"].get("owner").is_none());

    let out = c.ok(&["scale", "deployment", "web", "--replicas=5"]);
    assert_eq!(out.trim(), "deployment.apps/web scaled");
    let d = c.json(&["get", "deploy", "web"]);
    assert_eq!(d["spec"]["replicas"], 5);
    assert_eq!(d["metadata"]["generation"], 2, "spec change moves generation");
    let err = c.fails(&["scale", "deployment", "web", "--replicas=-1"]);
    assert!(err.contains("--replicas=COUNT") || err.contains("must be greater than or equal to 0"), "{err}");

    // strategic merge: the container list merges by name.
    c.ok(&["patch", "deployment", "web", "-p", r#"{"spec":{"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:1.26"}]}}}}"#]);
    let d = c.json(&["get", "deploy", "web"]);
    assert_eq!(d["spec"]["template"]["spec"]["containers"][0]["image"], "nginx:1.26");
    assert_eq!(d["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"], 80);
    c.ok(&["patch", "deployment", "web", "--type=merge", "-p", r#"{"spec":{"minReadySeconds":5}}"#]);
    c.ok(&["patch", "deployment", "web", "--type=json", "-p", r#"[{"op":"replace","path":"/spec/replicas","value":3}]"#]);
    let d = c.json(&["get", "deploy", "web"]);
    assert_eq!((d["spec"]["minReadySeconds"].as_i64(), d["spec"]["replicas"].as_i64()), (Some(5), Some(3)));
    c.ok(&["set", "image", "deployment/web", "nginx=nginx:1.27"]);
    assert_eq!(c.json(&["get", "deploy", "web"])["spec"]["template"]["spec"]["containers"][0]["image"], "nginx:1.27");

    // kubectl edit with a scripted editor.
    let out = c.kubectl_with(&["edit", "deployment", "web"], None, &[("KUBE_EDITOR", "sed -i s/replicas:\\ 3/replicas:\\ 4/")]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("deployment.apps/web edited"), "{}", text(&out));
    assert_eq!(c.json(&["get", "deploy", "web"])["spec"]["replicas"], 4);

    // An edit that breaks validation is refused and changes nothing.
    let out = c.kubectl_with(&["edit", "deployment", "web"], None, &[("KUBE_EDITOR", "sed -i s/replicas:\\ 4/replicas:\\ -4/")]);
    assert!(!out.status.success());
    assert!(text(&out).contains(r#"deployments.apps "web" is invalid"#), "{}", text(&out));
    // kubectl keeps the rejected edit, annotated with the server's causes.
    let copy = text(&out).split('"').find(|s| s.contains("kubectl-edit-")).map(str::to_string).expect("copy saved");
    let saved = std::fs::read_to_string(&copy).expect("read saved copy");
    assert!(saved.contains("# * spec.replicas: Invalid value: -4: must be greater than or equal to 0"), "{saved}");
    assert_eq!(c.json(&["get", "deploy", "web"])["spec"]["replicas"], 4);
}

#[test]
fn describe_shows_the_object_and_its_events() {
    let c = Cluster::start();
    assert!(c.apply(DEPLOYMENT).status.success());
    let ev = r#"{"apiVersion":"v1","kind":"Event","metadata":{"name":"web.1","namespace":"default"},
      "involvedObject":{"apiVersion":"apps/v1","kind":"Deployment","name":"web","namespace":"default","uid":"UID"},
      "reason":"ScalingReplicaSet","message":"Scaled up replica set web-abc to 2","type":"Normal","source":{"component":"deployment-controller"},
      "firstTimestamp":"2026-01-01T00:00:00Z","lastTimestamp":"2026-01-01T00:00:00Z","count":1}"#;
    let uid = c.json(&["get", "deploy", "web"])["metadata"]["uid"].as_str().unwrap().to_string();
    let out = c.kubectl_with(&["create", "-f", "-"], Some(&ev.replace("UID", &uid)), &[]);
    assert!(out.status.success(), "{}", text(&out));
    let d = c.ok(&["describe", "deployment", "web"]);
    assert!(d.contains("Name:") && d.contains("web") && d.contains("RollingUpdateStrategy:  25% max unavailable, 25% max surge"), "{d}");
    assert!(d.contains("Events:") && d.contains("ScalingReplicaSet") && d.contains("Scaled up replica set web-abc to 2"), "{d}");
    let d = c.ok(&["describe", "namespace", "default"]);
    assert!(d.contains("Status:") && d.contains("Active"), "{d}");
}

#[test]
fn watch_prints_changes_as_they_happen() {
    let c = Cluster::start();
    c.ok(&["create", "configmap", "first", "--from-literal=a=b"]);
    let mut w = Command::new("kubectl")
        .args(["get", "configmaps", "-w"])
        .env("KUBECONFIG", &c.kubeconfig)
        .env("HOME", c.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("kubectl get -w");
    let stdout = w.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // kubectl prints its initial list, then watches from that list's resourceVersion.
    eventually(20, || rx.try_iter().find(|l| l.starts_with("first")));
    assert!(c.apply(CONFIGMAP).status.success());
    let seen = eventually(20, || rx.try_iter().find(|l| l.starts_with("settings")));
    assert!(seen.contains("settings"), "{seen}");
    c.ok(&["label", "cm", "settings", "x=y"]);
    eventually(20, || rx.try_iter().find(|l| l.starts_with("settings")));
    let _ = w.kill();
    let _ = w.wait();
}

#[test]
fn delete_with_each_cascade_mode() {
    let c = Cluster::start();
    for (i, mode) in ["orphan", "background", "foreground"].iter().enumerate() {
        let name = format!("cm{i}");
        c.ok(&["create", "configmap", &name, "--from-literal=a=b"]);
        let out = c.ok(&["delete", "configmap", &name, &format!("--cascade={mode}")]);
        assert_eq!(out.trim(), format!("configmap \"{name}\" deleted"));
        let err = c.fails(&["get", "configmap", &name]);
        assert!(err.contains(&format!("configmaps \"{name}\" not found")), "{err}");
    }
    let err = c.fails(&["delete", "configmap", "nothing"]);
    assert!(err.contains("Error from server (NotFound): configmaps \"nothing\" not found"), "{err}");
}

#[test]
fn bad_input_gets_kubernetes_errors_and_stores_nothing() {
    let c = Cluster::start();
    let cases: &[(&str, &str)] = &[
        (&DEPLOYMENT.replace("apps/v1", "apps/v1beta2"), r#"no matches for kind "Deployment" in version "apps/v1beta2""#),
        ("apiVersion: batch/vbeta1\nkind: Job\nmetadata:\n  name: j\nspec: {}\n", r#"no matches for kind "Job" in version "batch/vbeta1""#),
        ("apiVersion: apps/v1\nkind: DemonSet\nmetadata:\n  name: d\nspec: {}\n", r#"no matches for kind "DemonSet" in version "apps/v1""#),
        ("apiVersion: v1\nkind: pod\nmetadata:\n  name: p\nspec: {}\n", r#"no kind "pod" is registered for version "v1""#),
        (
            &DEPLOYMENT.replace("ports:", "livenessProbe:\n          initalDelaySeconds: 5\n        ports:"),
            r#"unknown field "spec.template.spec.containers[0].livenessProbe.initalDelaySeconds""#,
        ),
        (&DEPLOYMENT.replace("replicas: 2", "replicas: two"), "cannot unmarshal string into Go struct field"),
        (
            "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: always\nspec:\n  template:\n    spec:\n      restartPolicy: Always\n      containers:\n      - name: c\n        image: busybox\n",
            r#"spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never""#,
        ),
        (&DEPLOYMENT.replace("      labels:\n        app: web\n    spec", "      labels:\n        app: other\n    spec"), "`selector` does not match template `labels`"),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Bad_Name\n", "a lowercase RFC 1123 subdomain must consist of"),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [unclosed\n", "error"),
    ];
    for (yaml, want) in cases {
        let out = c.apply(yaml);
        assert!(!out.status.success(), "accepted:\n{yaml}");
        assert!(text(&out).contains(want), "for\n{yaml}\nwanted {want:?} in:\n{}", text(&out));
    }
    // A 3 MB object is refused too.
    let big = format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\ndata:\n  blob: {}\n", "x".repeat(3 * 1024 * 1024));
    let f = c.write("big.yaml", &big);
    let out = c.kubectl(&["create", "-f", f.to_str().unwrap()]);
    assert!(!out.status.success(), "3 MB accepted");
    let all = c.ok(&["get", "all,cm,jobs", "-o", "name"]);
    assert!(!all.contains("web") && !all.contains("always") && !all.contains("big"), "something was stored: {all}");
}

#[test]
fn acknowledged_writes_survive_kill_9() {
    let mut c = Cluster::start();
    assert!(c.apply(DEPLOYMENT).status.success());
    for i in 0..20 {
        c.ok(&["create", "configmap", &format!("c{i}"), "--from-literal=i=v"]);
    }
    let before = c.json(&["get", "deploy", "web"]);
    c.crash_and_restart();
    let after = c.json(&["get", "deploy", "web"]);
    assert_eq!(before["metadata"]["resourceVersion"], after["metadata"]["resourceVersion"]);
    assert_eq!(before["metadata"]["uid"], after["metadata"]["uid"]);
    let names = c.ok(&["get", "cm", "-o", "name"]);
    for i in 0..20 {
        assert!(names.contains(&format!("configmap/c{i}\n")), "c{i} lost: {names}");
    }
    // New writes continue above the old revisions.
    c.ok(&["label", "deploy", "web", "after=crash"]);
    let rv = |v: &serde_json::Value| v["metadata"]["resourceVersion"].as_str().unwrap().parse::<i64>().unwrap();
    assert!(rv(&c.json(&["get", "deploy", "web"])) > rv(&after));
}

#[test]
fn requests_without_a_valid_token_get_401() {
    let c = Cluster::start();
    let err = c.fails(&["get", "pods", "--token=wrong"]);
    assert!(err.contains("Unauthorized") || err.contains("must be logged in"), "{err}");
    let cfg = std::fs::read_to_string(&c.kubeconfig).unwrap();
    let agent_cfg = c.path().join("agent-kubeconfig.yaml");
    assert!(agent_cfg.exists());
    assert_ne!(cfg, std::fs::read_to_string(&agent_cfg).unwrap(), "agents have their own token");
    let v = c.ok(&["version", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_str(&v).unwrap();
    assert_eq!(v["serverVersion"]["minor"], "33");
}

#[test]
fn conflicts_and_namespaces() {
    let c = Cluster::start();
    let err = c.fails(&["create", "configmap", "x", "-n", "nowhere", "--from-literal=a=b"]);
    assert!(err.contains(r#"namespaces "nowhere" not found"#), "{err}");
    c.ok(&["create", "namespace", "team"]);
    c.ok(&["create", "configmap", "x", "-n", "team", "--from-literal=a=b"]);
    let err = c.fails(&["create", "configmap", "x", "-n", "team", "--from-literal=a=b"]);
    assert!(err.contains(r#"configmaps "x" already exists"#), "{err}");
    // A replace with a stale resourceVersion conflicts.
    let mut cm = c.json(&["get", "cm", "x", "-n", "team"]);
    c.ok(&["label", "cm", "x", "-n", "team", "v=2"]);
    cm["data"]["a"] = "c".into();
    let out = c.kubectl_with(&["replace", "-f", "-"], Some(&cm.to_string()), &[]);
    assert!(text(&out).contains("the object has been modified; please apply your changes to the latest version and try again"), "{}", text(&out));
    assert_eq!(c.json(&["get", "cm", "x", "-n", "team"])["data"]["a"], "b");
    let listed = c.ok(&["get", "cm", "-A"]);
    assert!(listed.contains("team") && listed.contains("NAMESPACE"), "{listed}");
}
