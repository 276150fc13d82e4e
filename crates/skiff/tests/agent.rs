//! End to end: the node agent runs pods as real processes (the `process` runtime), with
//! the real kubectl, as a user of the README's one-command cluster would.

mod common;

use std::io::{Read, Write};
use std::time::Duration;

use common::{eventually, Cluster};
use serde_json::Value;

fn pod_json(c: &Cluster, name: &str) -> Value {
    c.json(&["get", "pod", name])
}

fn phase(c: &Cluster, name: &str) -> String {
    pod_json(c, name)["status"]["phase"].as_str().unwrap_or("").to_string()
}

fn wait_phase(c: &Cluster, name: &str, want: &str, secs: u64) -> Value {
    eventually(secs, || {
        let p = pod_json(c, name);
        (p["status"]["phase"] == want).then_some(p)
    })
}

fn condition(p: &Value, type_: &str) -> String {
    p["status"]["conditions"].as_array().into_iter().flatten().find(|c| c["type"] == type_).map(|c| c["status"].as_str().unwrap_or("").to_string()).unwrap_or_default()
}

fn events_of(c: &Cluster, pod: &str) -> String {
    c.ok(&["get", "events", "--field-selector", &format!("involvedObject.name={pod}"), "-o", "custom-columns=REASON:.reason,MESSAGE:.message", "--no-headers"])
}

fn http_get(ip: &str, port: u16, path: &str) -> Option<String> {
    let mut s = std::net::TcpStream::connect_timeout(&format!("{ip}:{port}").parse().ok()?, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {ip}\r\n\r\n").ok()?;
    let mut body = String::new();
    s.read_to_string(&mut body).ok()?;
    Some(body)
}

#[test]
fn node_registers_and_a_pod_runs() {
    let c = Cluster::start_with_agent();
    let node = eventually(30, || {
        let nodes = c.json(&["get", "nodes"]);
        nodes["items"].as_array().and_then(|a| a.first().cloned()).filter(|n| condition(n, "Ready") == "True")
    });
    let name = node["metadata"]["name"].as_str().expect("node name").to_string();
    assert_eq!(node["metadata"]["labels"]["kubernetes.io/hostname"], name.as_str());
    assert_eq!(node["metadata"]["labels"]["kubernetes.io/os"], "linux");
    assert!(node["status"]["capacity"]["cpu"].is_string() && node["status"]["allocatable"]["memory"].is_string());
    assert_eq!(node["status"]["nodeInfo"]["kubeletVersion"], "v1.33.0");
    assert!(node["status"]["addresses"].as_array().expect("addresses").iter().any(|a| a["type"] == "InternalIP"));
    let lease = eventually(20, || {
        let out = c.kubectl(&["get", "lease", "-n", "kube-node-lease", &name, "-o", "json"]);
        serde_json::from_slice::<Value>(&out.stdout).ok()
    });
    assert_eq!(lease["spec"]["holderIdentity"], name.as_str());
    assert!(lease["spec"]["renewTime"].is_string());

    c.ok(&["run", "hello", "--image=busybox", "--restart=Never", "--", "sh", "-c", "echo hello from $HOSTNAME; sleep 3600"]);
    let p = wait_phase(&c, "hello", "Running", 30);
    let ip = p["status"]["podIP"].as_str().expect("podIP").to_string();
    let cidr = node_pod_cidr(&c, &name);
    assert!(ip.starts_with(cidr.rsplit_once('.').expect("cidr").0), "pod IP {ip} in the node's podCIDR {cidr}");
    assert_eq!(p["status"]["hostIP"], p["status"]["hostIPs"][0]["ip"]);
    assert_eq!(p["status"]["qosClass"], "BestEffort");
    let cs = &p["status"]["containerStatuses"][0];
    assert_eq!(cs["ready"], true);
    assert_eq!(cs["started"], true);
    assert!(cs["state"]["running"]["startedAt"].is_string());
    assert!(cs["containerID"].as_str().unwrap_or("").starts_with("process://"));
    eventually(10, || (condition(&pod_json(&c, "hello"), "Ready") == "True").then_some(()));
    for cond in ["PodScheduled", "Initialized", "ContainersReady", "PodReadyToStartContainers"] {
        assert_eq!(condition(&p, cond), "True", "{cond}");
    }
    let ev = events_of(&c, "hello");
    assert!(ev.contains("Created") && ev.contains("Started"), "{ev}");
    let wide = c.ok(&["get", "pod", "hello", "-o", "wide"]);
    assert!(wide.contains(&ip) && wide.contains(&name), "{wide}");

    // Deleting stops the process and removes the pod.
    c.ok(&["delete", "pod", "hello", "--grace-period=1"]);
    eventually(20, || (!c.ok(&["get", "pods"]).contains("hello")).then_some(()));
}

fn node_pod_cidr(c: &Cluster, node: &str) -> String {
    c.ok(&["get", "node", node, "-o", "jsonpath={.spec.podCIDR}"])
}

#[test]
fn replicas_listen_on_one_port_each_with_its_own_ip() {
    let c = Cluster::start_with_agent();
    let mut ips = Vec::new();
    for i in 0..3 {
        let yaml = format!(
            r#"apiVersion: v1
kind: Pod
metadata:
  name: web-{i}
spec:
  containers:
  - name: web
    image: python
    command: ["python3", "-m", "http.server", "8080"]
    ports: [{{containerPort: 8080}}]
    readinessProbe:
      httpGet: {{path: /, port: 8080}}
      periodSeconds: 1
"#
        );
        assert!(c.apply(&yaml).status.success());
    }
    for i in 0..3 {
        let p = eventually(40, || {
            let p = pod_json(&c, &format!("web-{i}"));
            (condition(&p, "Ready") == "True").then_some(p)
        });
        ips.push(p["status"]["podIP"].as_str().expect("ip").to_string());
    }
    let mut unique = ips.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 3, "three pods, three addresses: {ips:?}");
    for ip in &ips {
        let body = eventually(10, || http_get(ip, 8080, "/"));
        assert!(body.starts_with("HTTP/1.0 200"), "{body}");
    }
    // A replaced pod gets a new address.
    c.ok(&["delete", "pod", "web-0", "--grace-period=1"]);
    eventually(20, || (!c.ok(&["get", "pods"]).contains("web-0")).then_some(()));
    let yaml = "apiVersion: v1\nkind: Pod\nmetadata: {name: web-0}\nspec:\n  containers:\n  - {name: web, image: python, command: [sleep, '3600']}\n";
    assert!(c.apply(yaml).status.success());
    let p = wait_phase(&c, "web-0", "Running", 30);
    assert_ne!(p["status"]["podIP"].as_str(), Some(ips[0].as_str()));
}

#[test]
fn init_containers_env_configmaps_and_secrets() {
    let c = Cluster::start_with_agent();
    let out = c.path().join("out");
    std::fs::create_dir_all(&out).expect("mkdir");
    c.ok(&["create", "configmap", "settings", "--from-literal=color=blue", "--from-literal=size=L"]);
    c.ok(&["create", "secret", "generic", "creds", "--from-literal=password=s3cret"]);
    let yaml = format!(
        r#"apiVersion: v1
kind: Pod
metadata:
  name: setup
  labels: {{app: demo}}
spec:
  restartPolicy: Never
  initContainers:
  - name: first
    image: busybox
    command: ["sh", "-c", "sleep 2; echo first >> /work/order"]
    volumeMounts: [{{name: work, mountPath: /work}}]
  - name: second
    image: busybox
    command: ["sh", "-c", "echo second >> /work/order"]
    volumeMounts: [{{name: work, mountPath: /work}}]
  containers:
  - name: main
    image: busybox
    command: ["sh", "-c", "cat /work/order > /out/order; env > /out/env; cat /config/color > /out/color; cat /secret/password > /out/password; hostname > /out/hostname; sleep 3600"]
    workingDir: /work
    env:
    - name: POD_NAME
      valueFrom: {{fieldRef: {{fieldPath: metadata.name}}}}
    - {{name: GREETING, value: "hello $(POD_NAME)"}}
    - {{name: LATER, value: "$(UNDEFINED_YET) $$(POD_NAME)"}}
    - name: MY_IP
      valueFrom: {{fieldRef: {{fieldPath: status.podIP}}}}
    - name: COLOR
      valueFrom: {{configMapKeyRef: {{name: settings, key: color}}}}
    - name: PASSWORD
      valueFrom: {{secretKeyRef: {{name: creds, key: password}}}}
    envFrom:
    - prefix: CFG_
      configMapRef: {{name: settings}}
    volumeMounts:
    - {{name: work, mountPath: /work}}
    - {{name: out, mountPath: /out}}
    - {{name: config, mountPath: /config}}
    - {{name: secret, mountPath: /secret, readOnly: true}}
  volumes:
  - {{name: work, emptyDir: {{}}}}
  - name: out
    hostPath: {{path: {out}}}
  - name: config
    configMap: {{name: settings}}
  - name: secret
    secret: {{secretName: creds}}
"#,
        out = out.display()
    );
    assert!(c.apply(&yaml).status.success());
    // While the first init container sleeps, kubectl shows Init:0/2.
    eventually(20, || c.ok(&["get", "pod", "setup"]).contains("Init:0/2").then_some(()));
    let p = wait_phase(&c, "setup", "Running", 30);
    assert_eq!(condition(&p, "Initialized"), "True");
    assert_eq!(p["status"]["initContainerStatuses"][1]["state"]["terminated"]["reason"], "Completed");
    let read = |f: &str| eventually(10, || std::fs::read_to_string(out.join(f)).ok().filter(|s| !s.is_empty()));
    assert_eq!(read("order"), "first\nsecond\n");
    let env = read("env");
    let ip = p["status"]["podIP"].as_str().expect("ip");
    for want in ["GREETING=hello setup", "LATER=$(UNDEFINED_YET) $(POD_NAME)", "POD_NAME=setup", &format!("MY_IP={ip}"), "COLOR=blue", "PASSWORD=s3cret", "CFG_color=blue", "CFG_size=L"] {
        assert!(env.lines().any(|l| l == want), "{want} in\n{env}");
    }
    assert_eq!(read("color"), "blue");
    assert_eq!(read("password"), "s3cret");
    assert_eq!(read("hostname").trim(), "setup");
    // The emptyDir was mounted at /work only inside the pod.
    assert!(!std::path::Path::new("/work/order").exists());
}

#[test]
fn configmap_updates_reach_the_files() {
    let c = Cluster::start_with_agent();
    let out = c.path().join("out");
    std::fs::create_dir_all(&out).expect("mkdir");
    c.ok(&["create", "configmap", "live", "--from-literal=greeting=hello"]);
    let yaml = format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: reader}}\nspec:\n  containers:\n  - name: r\n    image: busybox\n    command: [sh, -c, 'while true; do cat /cfg/greeting > /out/now; sleep 0.5; done']\n    volumeMounts: [{{name: cfg, mountPath: /cfg}}, {{name: out, mountPath: /out}}]\n  volumes:\n  - {{name: cfg, configMap: {{name: live}}}}\n  - {{name: out, hostPath: {{path: {}}}}}\n",
        out.display()
    );
    assert!(c.apply(&yaml).status.success());
    eventually(30, || (std::fs::read_to_string(out.join("now")).ok()? == "hello").then_some(()));
    c.ok(&["patch", "configmap", "live", "-p", r#"{"data":{"greeting":"bonjour"}}"#]);
    // The agent refreshes every 10 s; upstream's own e2e test allows minutes.
    eventually(90, || (std::fs::read_to_string(out.join("now")).ok()? == "bonjour").then_some(()));
    // Deleted, the ConfigMap leaves the files as they were and a FailedMount event says why.
    c.ok(&["delete", "configmap", "live"]);
    eventually(60, || {
        let events = c.ok(&["get", "events", "--field-selector", "involvedObject.name=reader,reason=FailedMount", "-o", "jsonpath={.items[*].message}"]);
        events.contains(r#"configmap "live" not found"#).then_some(())
    });
    assert_eq!(c.ok(&["exec", "reader", "--", "cat", "/cfg/greeting"]), "bonjour");
}

#[test]
fn missing_config_and_bad_commands_explain_themselves() {
    let c = Cluster::start_with_agent();
    let yaml = r#"apiVersion: v1
kind: Pod
metadata: {name: needs-config}
spec:
  containers:
  - name: app
    image: busybox
    command: [sleep, "3600"]
    env:
    - name: X
      valueFrom: {configMapKeyRef: {name: later, key: x}}
---
apiVersion: v1
kind: Pod
metadata: {name: no-command}
spec:
  containers:
  - {name: web, image: "nginx:1.16"}
---
apiVersion: v1
kind: Pod
metadata: {name: unknown-command}
spec:
  restartPolicy: Never
  containers:
  - {name: app, image: busybox, command: [no-such-command-here]}
---
apiVersion: v1
kind: Pod
metadata: {name: bad-hostpath}
spec:
  containers:
  - name: app
    image: busybox
    command: [sleep, "3600"]
    volumeMounts: [{name: h, mountPath: /h}]
  volumes:
  - name: h
    hostPath: {path: /no/such/dir/anywhere, type: Directory}
"#;
    assert!(c.apply(yaml).status.success());
    let waiting = |pod: &str, reason: &str| {
        eventually(30, || {
            let p = pod_json(&c, pod);
            let w = p["status"]["containerStatuses"][0]["state"]["waiting"].clone();
            (w["reason"] == reason).then_some(w["message"].as_str().unwrap_or("").to_string())
        })
    };
    assert_eq!(waiting("needs-config", "CreateContainerConfigError"), "configmap \"later\" not found");
    assert!(c.ok(&["get", "pod", "needs-config"]).contains("CreateContainerConfigError"));
    let msg = waiting("no-command", "CreateContainerError");
    assert!(msg.contains("command"), "{msg}");
    let p = wait_phase(&c, "unknown-command", "Failed", 30);
    let t = &p["status"]["containerStatuses"][0]["state"]["terminated"];
    assert_eq!(t["reason"], "StartError");
    assert_eq!(t["exitCode"], 128);
    assert!(t["message"].as_str().unwrap_or("").contains("executable file not found in $PATH"), "{t}");
    let ev = eventually(20, || Some(events_of(&c, "bad-hostpath")).filter(|e| e.contains("FailedMount")));
    assert!(ev.contains("hostPath type check failed: /no/such/dir/anywhere is not a directory"), "{ev}");
    assert_eq!(phase(&c, "bad-hostpath"), "Pending");
    // The agent kept serving: the missing ConfigMap appears and the pod starts.
    c.ok(&["create", "configmap", "later", "--from-literal=x=1"]);
    wait_phase(&c, "needs-config", "Running", 30);
}

#[test]
fn restart_policies_and_crash_loop_back_off() {
    let c = Cluster::start_with_agent();
    let yaml = r#"apiVersion: v1
kind: Pod
metadata: {name: once-fails}
spec:
  restartPolicy: Never
  containers: [{name: app, image: busybox, command: [sh, -c, "exit 3"]}]
---
apiVersion: v1
kind: Pod
metadata: {name: once-works}
spec:
  restartPolicy: OnFailure
  containers: [{name: app, image: busybox, command: [sh, -c, "echo done"]}]
---
apiVersion: v1
kind: Pod
metadata: {name: crasher}
spec:
  containers: [{name: app, image: busybox, command: [sh, -c, "echo crash; exit 1"]}]
---
apiVersion: v1
kind: Pod
metadata: {name: deadline}
spec:
  activeDeadlineSeconds: 2
  containers: [{name: app, image: busybox, command: [sleep, "3600"]}]
"#;
    assert!(c.apply(yaml).status.success());
    let p = wait_phase(&c, "once-fails", "Failed", 30);
    let t = &p["status"]["containerStatuses"][0]["state"]["terminated"];
    assert_eq!((t["exitCode"].as_i64(), t["reason"].as_str()), (Some(3), Some("Error")));
    let p = wait_phase(&c, "once-works", "Succeeded", 30);
    assert_eq!(p["status"]["containerStatuses"][0]["state"]["terminated"]["reason"], "Completed");
    assert!(c.ok(&["get", "pod", "once-works"]).contains("Completed"));
    let p = eventually(60, || {
        let p = pod_json(&c, "crasher");
        let cs = p["status"]["containerStatuses"][0].clone();
        (cs["restartCount"].as_i64().unwrap_or(0) >= 1 && cs["state"]["waiting"]["reason"] == "CrashLoopBackOff").then_some(cs)
    });
    assert_eq!(p["lastState"]["terminated"]["exitCode"], 1);
    assert!(p["state"]["waiting"]["message"].as_str().unwrap_or("").contains("back-off"), "{p}");
    assert!(c.ok(&["get", "pod", "crasher"]).contains("CrashLoopBackOff"));
    assert!(events_of(&c, "crasher").contains("BackOff"));
    assert_eq!(phase(&c, "crasher"), "Running");
    let p = wait_phase(&c, "deadline", "Failed", 30);
    assert_eq!(p["status"]["reason"], "DeadlineExceeded");
    assert_eq!(p["status"]["message"], "Pod was active on the node longer than the specified deadline");
}

#[test]
fn liveness_probe_failure_restarts_the_container() {
    let c = Cluster::start_with_agent();
    // The seeds' exec liveness example: healthy for a while, then not.
    let yaml = r#"apiVersion: v1
kind: Pod
metadata: {name: liveness-exec}
spec:
  containers:
  - name: app
    image: busybox
    command: [sh, -c, "touch /state/healthy; sleep 3; rm -f /state/healthy; sleep 600"]
    volumeMounts: [{name: state, mountPath: /state}]
    livenessProbe:
      exec: {command: [cat, /state/healthy]}
      initialDelaySeconds: 1
      periodSeconds: 1
      failureThreshold: 2
    readinessProbe:
      tcpSocket: {port: 9999}
      periodSeconds: 1
  volumes: [{name: state, emptyDir: {}}]
"#;
    assert!(c.apply(yaml).status.success());
    let cs = eventually(60, || {
        let p = pod_json(&c, "liveness-exec");
        let cs = p["status"]["containerStatuses"][0].clone();
        (cs["restartCount"].as_i64().unwrap_or(0) >= 1).then_some(cs)
    });
    assert_eq!(cs["ready"], false, "the readiness probe on a closed port keeps it unready");
    let ev = events_of(&c, "liveness-exec");
    assert!(ev.contains("Liveness probe failed"), "{ev}");
    assert!(ev.contains("failed liveness probe, will be restarted"), "{ev}");
    assert!(ev.contains("Readiness probe failed") && ev.contains("connection refused"), "{ev}");
}

#[test]
fn memory_limit_ends_in_oom_killed() {
    let c = Cluster::start_with_agent();
    let yaml = r#"apiVersion: v1
kind: Pod
metadata: {name: hog}
spec:
  restartPolicy: Never
  containers:
  - name: hog
    image: python
    command: [python3, -c, "x = bytearray(200 * 1024 * 1024); import time; time.sleep(60)"]
    resources:
      limits: {memory: 50Mi, cpu: 500m}
"#;
    assert!(c.apply(yaml).status.success());
    let p = wait_phase(&c, "hog", "Failed", 60);
    let t = &p["status"]["containerStatuses"][0]["state"]["terminated"];
    assert_eq!((t["reason"].as_str(), t["exitCode"].as_i64()), (Some("OOMKilled"), Some(137)), "{t}");
    assert_eq!(p["status"]["qosClass"], "Guaranteed");
}

#[test]
fn deletion_sends_sigterm_then_cleans_up() {
    let c = Cluster::start_with_agent();
    let out = c.path().join("out");
    std::fs::create_dir_all(&out).expect("mkdir");
    let yaml = format!(
        r#"apiVersion: v1
kind: Pod
metadata: {{name: graceful}}
spec:
  terminationGracePeriodSeconds: 20
  containers:
  - name: app
    image: busybox
    command: [sh, -c, "trap 'echo got TERM > /out/signal; exit 0' TERM; echo $$$$ > /out/pid; while true; do sleep 0.2; done"]
    lifecycle:
      preStop:
        exec: {{command: [sh, -c, "echo prestop > /out/prestop"]}}
    volumeMounts: [{{name: out, mountPath: /out}}]
  volumes: [{{name: out, hostPath: {{path: {}}}}}]
"#,
        out.display()
    );
    assert!(c.apply(&yaml).status.success());
    let uid = wait_phase(&c, "graceful", "Running", 30)["metadata"]["uid"].as_str().expect("uid").to_string();
    let netns = std::path::PathBuf::from(format!("/run/netns/skiff-{uid}"));
    assert!(netns.exists(), "the pod has its network namespace");
    let pid: i32 = eventually(10, || std::fs::read_to_string(out.join("pid")).ok()?.trim().parse().ok());
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    c.ok(&["delete", "pod", "graceful"]);
    assert_eq!(std::fs::read_to_string(out.join("prestop")).expect("preStop ran").trim(), "prestop");
    assert_eq!(std::fs::read_to_string(out.join("signal")).expect("SIGTERM handled").trim(), "got TERM");
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists(), "the process is gone");
    assert!(!c.ok(&["get", "pods"]).contains("graceful"));
    let left = std::fs::read_dir(c.path().join("agent").join("pods")).map(|d| d.count()).unwrap_or(0);
    assert_eq!(left, 0, "nothing left of the pod on the host");
    assert!(!netns.exists(), "its network namespace is gone");
}

#[test]
fn agent_restart_keeps_pods_running() {
    let mut c = Cluster::start_with_agent();
    let out = c.path().join("out");
    std::fs::create_dir_all(&out).expect("mkdir");
    let yaml = format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: keeper}}\nspec:\n  containers:\n  - name: app\n    image: busybox\n    command: [sh, -c, 'echo $$$$ > /out/pid; exec sleep 3600']\n    volumeMounts: [{{name: out, mountPath: /out}}]\n  volumes: [{{name: out, hostPath: {{path: {}}}}}]\n",
        out.display()
    );
    assert!(c.apply(&yaml).status.success());
    let before = wait_phase(&c, "keeper", "Running", 30);
    let pid: i32 = eventually(10, || std::fs::read_to_string(out.join("pid")).ok()?.trim().parse().ok());
    c.crash_and_restart();
    // exec reaches the pod only once the new agent serves it again.
    eventually(30, || c.kubectl(&["exec", "keeper", "--", "true"]).status.success().then_some(()));
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists(), "the same process still runs");
    let after = wait_phase(&c, "keeper", "Running", 30);
    let cs = &after["status"]["containerStatuses"][0];
    assert_eq!(cs["restartCount"], 0);
    assert_eq!(cs["state"]["running"]["startedAt"], before["status"]["containerStatuses"][0]["state"]["running"]["startedAt"]);
    assert_eq!(after["status"]["podIP"], before["status"]["podIP"]);
}

#[test]
fn a_second_agent_joins_and_runs_pods() {
    let mut c = Cluster::start_with_agent();
    c.add_agent("node-b", &["--labels", "disk=ssd", "--capacity", "cpu=4,memory=8Gi,pods=20"]);
    let node = eventually(30, || {
        let n = c.json(&["get", "node", "node-b"]);
        (condition(&n, "Ready") == "True" && n["spec"]["podCIDR"].is_string()).then_some(n)
    });
    assert_eq!(node["status"]["capacity"]["cpu"], "4");
    assert_eq!(node["status"]["capacity"]["pods"], "20");
    assert_eq!(node["metadata"]["labels"]["disk"], "ssd");
    let yaml = "apiVersion: v1\nkind: Pod\nmetadata: {name: on-b}\nspec:\n  nodeSelector: {disk: ssd}\n  containers:\n  - {name: app, image: busybox, command: [sleep, '3600']}\n";
    assert!(c.apply(yaml).status.success());
    let p = wait_phase(&c, "on-b", "Running", 30);
    assert_eq!(p["spec"]["nodeName"], "node-b");
    let cidr = node["spec"]["podCIDR"].as_str().expect("cidr");
    let ip = p["status"]["podIP"].as_str().expect("ip");
    assert!(ip.starts_with(cidr.rsplit_once('.').expect("cidr").0), "{ip} in {cidr}");
    let nodes = c.ok(&["get", "nodes"]);
    assert_eq!(nodes.lines().filter(|l| l.contains(" Ready ")).count(), 2, "{nodes}");
}

#[test]
fn termination_messages_signals_and_more_volume_kinds() {
    let c = Cluster::start_with_agent();
    let data = c.path().join("pv-data");
    std::fs::create_dir_all(&data).expect("mkdir");
    std::fs::write(data.join("kept.txt"), "from the volume").expect("write");
    let out = c.path().join("out");
    std::fs::create_dir_all(&out).expect("mkdir");
    let yaml = format!(
        r#"apiVersion: v1
kind: PersistentVolume
metadata: {{name: local-pv}}
spec:
  capacity: {{storage: 1Gi}}
  accessModes: [ReadWriteOnce]
  hostPath: {{path: {data}}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {{name: claim}}
spec:
  accessModes: [ReadWriteOnce]
  resources: {{requests: {{storage: 1Gi}}}}
  volumeName: local-pv
  storageClassName: ""
---
apiVersion: v1
kind: Pod
metadata:
  name: says-why
  labels: {{tier: backend}}
  annotations: {{note: hello}}
spec:
  restartPolicy: Never
  containers:
  - name: app
    image: busybox
    command: [sh, -c, "cat /info/labels > /out/labels; cat /data/kept.txt > /out/kept; df -t tmpfs /scratch > /out/scratch; echo 'disk full' > /dev/termination-log; exit 2"]
    volumeMounts:
    - {{name: info, mountPath: /info}}
    - {{name: data, mountPath: /data}}
    - {{name: scratch, mountPath: /scratch}}
    - {{name: out, mountPath: /out}}
  - name: logs-say
    image: busybox
    command: [sh, -c, "echo last words; exit 1"]
    terminationMessagePolicy: FallbackToLogsOnError
  - name: stopped
    image: busybox
    command: [sh, -c, "kill -TERM $$$$; sleep 5"]
  volumes:
  - name: info
    downwardAPI:
      items: [{{path: labels, fieldRef: {{fieldPath: metadata.labels}}}}]
  - {{name: data, persistentVolumeClaim: {{claimName: claim}}}}
  - {{name: scratch, emptyDir: {{medium: Memory, sizeLimit: 16Mi}}}}
  - {{name: out, hostPath: {{path: {out}}}}}
"#,
        data = data.display(),
        out = out.display()
    );
    let applied = c.apply(&yaml);
    assert!(applied.status.success(), "{}", common::text(&applied));
    let p = wait_phase(&c, "says-why", "Failed", 40);
    let statuses = p["status"]["containerStatuses"].as_array().expect("statuses").clone();
    let term = |name: &str| statuses.iter().find(|s| s["name"] == name).map(|s| s["state"]["terminated"].clone()).expect(name);
    assert_eq!(term("app")["message"], "disk full\n");
    assert_eq!(term("app")["exitCode"], 2);
    assert_eq!(term("logs-say")["message"], "last words");
    assert_eq!((term("stopped")["exitCode"].as_i64(), term("stopped")["reason"].as_str()), (Some(143), Some("Error")));
    assert_eq!(std::fs::read_to_string(out.join("labels")).expect("labels"), "tier=\"backend\"");
    assert_eq!(std::fs::read_to_string(out.join("kept")).expect("kept"), "from the volume");
    assert!(std::fs::read_to_string(out.join("scratch")).expect("scratch").contains("/scratch"), "a memory-backed emptyDir");
}

#[test]
fn startup_probes_gate_liveness_and_host_network_pods_share_the_node() {
    let c = Cluster::start_with_agent();
    let yaml = r#"apiVersion: v1
kind: Pod
metadata: {name: slow-start}
spec:
  containers:
  - name: app
    image: python
    command: [sh, -c, "sleep 3; exec python3 -m http.server 8081"]
    startupProbe:
      httpGet: {path: /, port: 8081}
      periodSeconds: 1
      failureThreshold: 30
    livenessProbe:
      httpGet: {path: /, port: 8081}
      periodSeconds: 1
      failureThreshold: 1
---
apiVersion: v1
kind: Pod
metadata: {name: on-host}
spec:
  hostNetwork: true
  containers:
  - {name: app, image: busybox, command: [sleep, "3600"]}
"#;
    assert!(c.apply(yaml).status.success());
    let p = eventually(40, || {
        let p = pod_json(&c, "slow-start");
        (condition(&p, "Ready") == "True").then_some(p)
    });
    let cs = &p["status"]["containerStatuses"][0];
    assert_eq!(cs["restartCount"], 0, "liveness waited for the startup probe");
    assert_eq!(cs["started"], true);
    let host = wait_phase(&c, "on-host", "Running", 30);
    assert_eq!(host["status"]["podIP"], host["status"]["hostIP"]);
}
