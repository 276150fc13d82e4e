//! End to end: `kubectl logs`, `kubectl exec` and `kubectl top` against `skiff server`
//! with its embedded node agent running real processes: the API server proxies to the
//! agent's kubelet API (client certificate), which reads the CRI log files, runs exec
//! over the websocket protocol and reports usage for metrics.k8s.io.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::{eventually, text, Cluster};

fn wait_ready(c: &Cluster, pod: &str) {
    let out = c.kubectl(&["wait", "--for=condition=Ready", &format!("pod/{pod}"), "--timeout=90s"]);
    assert!(out.status.success(), "{pod} not ready: {}\n{}", text(&out), text(&c.kubectl(&["describe", "pod", pod])));
}

fn apply(c: &Cluster, yaml: &str) {
    let out = c.apply(yaml);
    assert!(out.status.success(), "{}", text(&out));
}

const CHATTY: &str = r#"
apiVersion: v1
kind: Pod
metadata: {name: chatty, labels: {app: chatty}}
spec:
  containers:
  - name: app
    image: busybox
    command: ["sh", "-c", "echo to-stderr >&2; sleep 0.5; echo first; echo second; echo third; exec sleep 3600"]
    env: [{name: GREETING, value: hello-from-env}]
"#;

#[test]
fn logs() {
    let c = Cluster::start_with_agent();
    apply(&c, CHATTY);
    wait_ready(&c, "chatty");
    let all = eventually(20, || Some(c.ok(&["logs", "chatty"])).filter(|l| l.lines().count() >= 4));
    let stdout: Vec<&str> = all.lines().filter(|l| *l != "to-stderr").collect();
    assert_eq!(stdout, ["first", "second", "third"], "{all}");
    assert!(all.starts_with("to-stderr\n"), "stderr is in the log too: {all}");
    assert_eq!(c.ok(&["logs", "chatty", "-c", "app", "--tail=1"]), "third\n");
    let stamped = c.ok(&["logs", "chatty", "--timestamps", "--tail=1"]);
    let (ts, line) = stamped.trim_end().split_once(' ').expect("timestamp and line");
    assert_eq!(line, "third");
    // RFC 3339 in UTC with nanoseconds (trailing zeros trimmed), as the kubelet prints it.
    let ok = ts.len() >= 20 && ts.as_bytes()[4] == b'-' && ts.as_bytes()[10] == b'T' && ts.ends_with('Z');
    assert!(ok, "{stamped}");
    assert_eq!(c.ok(&["logs", "chatty", "--since=1h"]), all);
    assert_eq!(c.ok(&["logs", "chatty", "--since-time=2999-01-01T00:00:00Z"]), "");
    assert_eq!(c.ok(&["logs", "chatty", "--limit-bytes=12"]), all[..12]);

    // Errors, in Kubernetes' words.
    let e = c.fails(&["logs", "ghost"]);
    assert!(e.contains("pods \"ghost\" not found"), "{e}");
    let e = c.fails(&["logs", "chatty", "--previous"]);
    assert!(e.contains("Error from server (BadRequest): previous terminated container \"app\" in pod \"chatty\" not found"), "{e}");
    let e = c.fails(&["logs", "chatty", "-c", "nope"]);
    assert!(e.contains("container nope is not valid for pod chatty"), "{e}");
    apply(&c, "apiVersion: v1\nkind: Pod\nmetadata: {name: unconfigured}\nspec:\n  containers:\n  - {name: app, image: busybox, command: [sleep, '60'], env: [{name: X, valueFrom: {configMapKeyRef: {name: missing, key: k}}}]}\n");
    let e = eventually(60, || {
        let out = c.kubectl(&["logs", "unconfigured"]);
        let t = text(&out);
        (!out.status.success() && t.contains("CreateContainerConfigError")).then_some(t)
    });
    assert!(e.contains("Error from server (BadRequest): container \"app\" in pod \"unconfigured\" is waiting to start: CreateContainerConfigError"), "{e}");
}

#[test]
fn logs_follow_previous_and_containers() {
    let c = Cluster::start_with_agent();
    apply(
        &c,
        r#"
apiVersion: v1
kind: Pod
metadata: {name: counter}
spec:
  restartPolicy: Never
  containers:
  - name: app
    image: busybox
    command: ["sh", "-c", "sleep 4; for i in 1 2 3 4 5; do echo line $i; sleep 0.4; done"]
"#,
    );
    apply(
        &c,
        r#"
apiVersion: v1
kind: Pod
metadata: {name: twice}
spec:
  restartPolicy: OnFailure
  volumes: [{name: state, emptyDir: {}}]
  containers:
  - name: app
    image: busybox
    volumeMounts: [{name: state, mountPath: /state}]
    command: ["sh", "-c", "if [ -e /state/ran ]; then echo second attempt; exec sleep 3600; fi; touch /state/ran; echo first attempt; exit 1"]
  - name: side
    image: busybox
    command: ["sh", "-c", "echo from the side; exec sleep 3600"]
"#,
    );
    // -f follows the running container and ends when it does (a loaded machine may only
    // get here once it has ended: then -f prints the whole log and ends at once).
    eventually(60, || matches!(c.json(&["get", "pod", "counter"])["status"]["phase"].as_str(), Some("Running" | "Succeeded")).then_some(()));
    let mut child = Command::new("kubectl")
        .args(["logs", "-f", "counter"])
        .env("KUBECONFIG", &c.kubeconfig)
        .env("HOME", c.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl logs -f");
    let lines: Vec<String> = BufReader::new(child.stdout.take().expect("stdout")).lines().map_while(Result::ok).collect();
    let status = child.wait().expect("wait");
    assert!(status.success());
    assert_eq!(lines, ["line 1", "line 2", "line 3", "line 4", "line 5"]);

    // --previous: the attempt before the restart.
    eventually(90, || (c.json(&["get", "pod", "twice"])["status"]["containerStatuses"].as_array()?.iter().find(|s| s["name"] == "app")?["restartCount"].as_i64()? >= 1).then_some(()));
    wait_ready(&c, "twice");
    assert_eq!(eventually(20, || Some(c.ok(&["logs", "twice", "-c", "app"])).filter(|l| !l.is_empty())), "second attempt\n");
    assert_eq!(c.ok(&["logs", "twice", "-c", "app", "--previous"]), "first attempt\n");
    assert_eq!(c.ok(&["logs", "twice", "-c", "side"]), "from the side\n");
    // Without -c, kubectl picks the first container and says so.
    let out = c.kubectl(&["logs", "twice"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "second attempt\n");
    assert!(String::from_utf8_lossy(&out.stderr).contains("Defaulted container \"app\" out of: app, side"), "{}", text(&out));
}

#[test]
fn exec() {
    let c = Cluster::start_with_agent();
    apply(&c, CHATTY);
    wait_ready(&c, "chatty");
    assert_eq!(c.ok(&["exec", "chatty", "--", "echo", "hello"]), "hello\n");
    // The container's environment and the exit code come through.
    assert_eq!(c.ok(&["exec", "chatty", "--", "sh", "-c", "echo $GREETING"]), "hello-from-env\n");
    let out = c.kubectl(&["exec", "chatty", "--", "sh", "-c", "echo out; echo err >&2; exit 3"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out\n");
    // kubectl may log (klog, "E1122 …") that it discarded the empty message that opens
    // stdout when that message beats its own stream setup; the command's stderr follows.
    let err = String::from_utf8_lossy(&out.stderr);
    let err: String = err.lines().filter(|l| !is_klog_line(l)).map(|l| format!("{l}\n")).collect();
    assert!(err.starts_with("err\n") && err.contains("command terminated with exit code 3"), "{err}");
    // stdin, closed at its end.
    let out = c.kubectl_with(&["exec", "-i", "chatty", "--", "sh", "-c", "tr a-z A-Z; echo done"], Some("shout\n"), &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "SHOUT\ndone\n");
    // -it: kubectl gets a terminal from script(1), the command one from the agent.
    let cmd = "kubectl exec -it chatty -- sh -c 'test -t 0 && echo has-a-terminal; stty size; exit 4'";
    let out = Command::new("script")
        .args(["-qec", cmd, "/dev/null"])
        .env("KUBECONFIG", &c.kubeconfig)
        .env("HOME", c.path())
        .stdin(Stdio::null())
        .output()
        .expect("script");
    let t = String::from_utf8_lossy(&out.stdout);
    assert!(t.contains("has-a-terminal"), "{t}");
    assert_eq!(out.status.code(), Some(4), "{t}");

    // attach follows what the container writes from now on.
    apply(&c, "apiVersion: v1\nkind: Pod\nmetadata: {name: ticker}\nspec:\n  containers: [{name: app, image: busybox, command: [sh, -c, 'while :; do echo tick; sleep 0.2; done']}]\n");
    wait_ready(&c, "ticker");
    let mut child = Command::new("kubectl")
        .args(["attach", "ticker"])
        .env("KUBECONFIG", &c.kubeconfig)
        .env("HOME", c.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("kubectl attach");
    let first = BufReader::new(child.stdout.take().expect("stdout")).lines().next().and_then(Result::ok);
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(first.as_deref(), Some("tick"));

    // Errors.
    let e = c.fails(&["exec", "chatty", "--", "no-such-command"]);
    assert!(e.contains("no-such-command") && e.contains("not found"), "{e}");
    let e = c.fails(&["exec", "chatty", "-c", "nope", "--", "true"]);
    assert!(e.contains("container nope is not valid for pod chatty"), "{e}");
    let e = c.fails(&["exec", "ghost", "--", "true"]);
    assert!(e.contains("pods \"ghost\" not found"), "{e}");
    apply(&c, "apiVersion: v1\nkind: Pod\nmetadata: {name: done}\nspec:\n  restartPolicy: Never\n  containers: [{name: app, image: busybox, command: ['true']}]\n");
    eventually(60, || (c.json(&["get", "pod", "done"])["status"]["phase"] == "Succeeded").then_some(()));
    let e = c.fails(&["exec", "done", "--", "true"]);
    assert!(e.contains("cannot exec into a container in a completed pod; current phase is Succeeded"), "{e}");
}

#[test]
fn top() {
    let c = Cluster::start_with_agent();
    apply(&c, CHATTY);
    apply(
        &c,
        "apiVersion: v1\nkind: Pod\nmetadata: {name: busy, labels: {app: busy}}\nspec:\n  containers: [{name: spin, image: busybox, command: [sh, -c, 'while :; do :; done']}]\n",
    );
    wait_ready(&c, "chatty");
    wait_ready(&c, "busy");
    let nodes = eventually(30, || {
        let out = c.kubectl(&["top", "node"]);
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    });
    let header: Vec<&str> = nodes.lines().next().unwrap_or("").split_whitespace().collect();
    assert_eq!(header, ["NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)"], "{nodes}");
    assert_eq!(nodes.lines().count(), 2, "{nodes}");
    // Pods have metrics once the agent has two samples of them.
    let pods = eventually(30, || {
        let out = c.kubectl(&["top", "pod"]);
        let t = String::from_utf8_lossy(&out.stdout).into_owned();
        (out.status.success() && t.contains("busy") && t.contains("chatty")).then_some(t)
    });
    let busy = pods.lines().find(|l| l.starts_with("busy ")).expect("busy row");
    let millicores: u64 = busy.split_whitespace().nth(1).and_then(|v| v.strip_suffix('m')).and_then(|v| v.parse().ok()).unwrap_or(0);
    assert!(millicores >= 100, "a spinning loop uses much of a core: {pods}");
    let containers = c.ok(&["top", "pod", "busy", "--containers"]);
    assert!(containers.lines().any(|l| l.split_whitespace().take(2).eq(["busy", "spin"])), "{containers}");
    let all = c.ok(&["top", "pod", "-A", "-l", "app=busy"]);
    assert!(all.lines().any(|l| l.starts_with("default ") && l.contains("busy")), "{all}");
    let out = c.kubectl(&["top", "pod", "-l", "app=nothing"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("No resources found in default namespace."), "{}", text(&out));
    let e = c.fails(&["top", "pod", "ghost"]);
    assert!(e.contains("pods \"ghost\" not found") || e.contains("podmetrics.metrics.k8s.io \"default/ghost\" not found"), "{e}");
}

/// A line kubectl's own logger writes: severity letter, MMDD, time.
fn is_klog_line(line: &str) -> bool {
    let b = line.as_bytes();
    b.len() > 5 && matches!(b[0], b'E' | b'W' | b'I') && b[1..5].iter().all(u8::is_ascii_digit) && b[5] == b' '
}
