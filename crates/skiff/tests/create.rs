//! End-to-end: kubectl's typed-client commands (`create ...`, `run`, `expose`,
//! `drain`), which send their bodies as Kubernetes protobuf, not JSON.

mod common;
use common::{text, Cluster};
use serde_json::{json, Value};

fn container(obj: &Value, pod_spec: &str) -> Value {
    obj.pointer(&format!("{pod_spec}/containers/0")).cloned().unwrap_or(Value::Null)
}

#[test]
fn create_commands_send_protobuf_and_round_trip() {
    let c = Cluster::start();

    c.ok(&["create", "configmap", "c", "--from-literal=a=b"]);
    let cm = c.json(&["get", "configmap", "c"]);
    assert_eq!(cm["data"], json!({"a": "b"}));
    assert!(cm.get("binaryData").is_none());

    c.ok(&["create", "secret", "generic", "s", "--from-literal=p=q"]);
    let s = c.json(&["get", "secret", "s"]);
    assert_eq!(s["data"], json!({"p": "cQ=="}));
    assert_eq!(s["type"], "Opaque");

    c.ok(&["create", "namespace", "n"]);
    let ns = c.json(&["get", "namespace", "n"]);
    assert_eq!(ns["metadata"]["name"], "n");
    assert_eq!(ns["status"]["phase"], "Active");

    c.ok(&["create", "deployment", "d", "--image=nginx", "--replicas=2"]);
    let d = c.json(&["get", "deployment", "d"]);
    assert_eq!(d["spec"]["replicas"], 2);
    assert_eq!(d["spec"]["selector"], json!({"matchLabels": {"app": "d"}}));
    assert_eq!(d["spec"]["template"]["metadata"]["labels"], json!({"app": "d"}));
    let nginx = container(&d, "/spec/template/spec");
    assert_eq!((&nginx["name"], &nginx["image"]), (&json!("nginx"), &json!("nginx")));
    // Go writes unset non-pointer fields as zeros; they must not show up.
    for zero in ["stdin", "tty", "workingDir"] {
        assert!(nginx.get(zero).is_none(), "{zero} in {nginx}");
    }

    // replicas is a pointer: an explicit 0 is kept, not defaulted to 1.
    c.ok(&["create", "deployment", "z", "--image=nginx", "--replicas=0"]);
    assert_eq!(c.json(&["get", "deployment", "z"])["spec"]["replicas"], 0);

    c.ok(&["create", "job", "j", "--image=busybox", "--", "echo", "hi"]);
    let j = c.json(&["get", "job", "j"]);
    assert_eq!(container(&j, "/spec/template/spec")["command"], json!(["echo", "hi"]));
    assert_eq!(j["spec"]["template"]["spec"]["restartPolicy"], "Never");

    c.ok(&["create", "cronjob", "cj", "--image=busybox", "--schedule=*/5 * * * *", "--", "echo", "hi"]);
    let cj = c.json(&["get", "cronjob", "cj"]);
    assert_eq!(cj["spec"]["schedule"], "*/5 * * * *");
    let job_pod = "/spec/jobTemplate/spec/template/spec";
    assert_eq!(container(&cj, job_pod)["command"], json!(["echo", "hi"]));
    assert_eq!(cj.pointer(&format!("{job_pod}/restartPolicy")), Some(&json!("OnFailure")));

    // The Job is built from the CronJob as read back (JSON) and sent as protobuf.
    c.ok(&["create", "job", "j2", "--from=cronjob/cj"]);
    let j2 = c.json(&["get", "job", "j2"]);
    assert_eq!(j2["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"], "manual");
    let owner = &j2["metadata"]["ownerReferences"][0];
    assert_eq!((&owner["kind"], &owner["name"], &owner["uid"]), (&json!("CronJob"), &json!("cj"), &cj["metadata"]["uid"]));
    assert_eq!(container(&j2, "/spec/template/spec")["command"], json!(["echo", "hi"]));

    c.ok(&["create", "service", "clusterip", "svc", "--tcp=80:8080"]);
    let svc = c.json(&["get", "service", "svc"]);
    assert_eq!(svc["spec"]["type"], "ClusterIP");
    assert_eq!(svc["spec"]["ports"], json!([{"name": "80-8080", "port": 80, "protocol": "TCP", "targetPort": 8080}]));
    assert_eq!(svc["spec"]["selector"], json!({"app": "svc"}));

    c.ok(&["run", "p", "--image=busybox", "--", "sleep", "1"]);
    let p = c.json(&["get", "pod", "p"]);
    assert_eq!(p["metadata"]["labels"], json!({"run": "p"}));
    let busybox = container(&p, "/spec");
    assert_eq!((&busybox["image"], &busybox["args"]), (&json!("busybox"), &json!(["sleep", "1"])));
    assert!(p["spec"].get("hostNetwork").is_none());

    c.ok(&["expose", "deployment", "d", "--port=80", "--target-port=8080"]);
    let exposed = c.json(&["get", "service", "d"]);
    assert_eq!(exposed["spec"]["selector"], json!({"app": "d"}));
    assert_eq!(exposed["spec"]["ports"][0]["targetPort"], 8080);
}

#[test]
fn drain_evicts_with_a_protobuf_eviction() {
    let c = Cluster::start();
    let out = c.apply(
        r#"
apiVersion: v1
kind: Node
metadata: {name: n1}
---
apiVersion: v1
kind: Pod
metadata: {name: q1}
spec:
  nodeName: n1
  containers: [{name: c, image: busybox}]
"#,
    );
    assert!(out.status.success(), "{}", text(&out));
    let drained = c.ok(&["drain", "n1", "--force", "--grace-period=0", "--timeout=30s"]);
    assert!(drained.contains("pod/q1 evicted"), "{drained}");
    assert_eq!(c.json(&["get", "node", "n1"])["spec"]["unschedulable"], true);
    assert!(c.json(&["get", "pods"])["items"].as_array().is_some_and(|pods| pods.is_empty()));
}
