//! kubectl against skiff, command by command, with upstream's output as the spec.

mod common;

use common::{text, Cluster};

const NODE: &str = r#"
apiVersion: v1
kind: Node
metadata: {name: node1}
spec: {podCIDR: 10.244.0.0/24}
"#;

#[test]
fn system_namespaces_cannot_be_deleted() {
    let c = Cluster::start();
    for ns in ["default", "kube-system", "kube-public"] {
        let err = c.fails(&["delete", "namespace", ns]);
        assert!(err.contains(&format!("Error from server (Forbidden): namespaces \"{ns}\" is forbidden: this namespace may not be deleted")), "{err}");
    }
    let ns = c.json(&["get", "namespace", "default"]);
    assert!(ns["metadata"].get("deletionTimestamp").is_none(), "default untouched: {ns}");
    // Namespaces have no deletecollection upstream: discovery omits it and the verb is refused.
    let wide = c.ok(&["api-resources", "-o", "wide"]);
    let line = wide.lines().find(|l| l.starts_with("namespaces ")).unwrap_or_default();
    assert!(line.contains("create,delete,get,list,patch,update,watch"), "{line}");
    let out = c.kubectl(&["delete", "--raw", "/api/v1/namespaces"]);
    assert!(text(&out).contains("MethodNotAllowed") || text(&out).contains("does not allow this method"), "{}", text(&out));
    c.ok(&["create", "namespace", "scratch"]);
    c.ok(&["delete", "namespace", "scratch", "--wait=false"]);
}

#[test]
fn generation_only_on_kinds_that_track_it() {
    let c = Cluster::start();
    c.ok(&["create", "deployment", "web", "--image=nginx"]);
    c.ok(&["create", "service", "clusterip", "web", "--tcp=80:80"]);
    c.ok(&["run", "p", "--image=nginx"]);
    c.ok(&["create", "namespace", "team"]);
    assert!(c.apply(NODE).status.success());
    assert_eq!(c.json(&["get", "deployment", "web"])["metadata"]["generation"], 1);
    assert_eq!(c.json(&["get", "pod", "p"])["metadata"]["generation"], 1);
    for obj in ["service/web", "namespace/team", "node/node1"] {
        let j = c.json(&["get", obj]);
        assert!(j["metadata"].get("generation").is_none(), "{obj} has no generation upstream: {}", j["metadata"]);
    }
    // Updates neither add one nor let clients set one.
    c.ok(&["label", "service", "web", "a=b"]);
    c.ok(&["patch", "service", "web", "--type=merge", "-p", r#"{"metadata":{"generation":7},"spec":{"ports":[{"port":81}]}}"#]);
    assert!(c.json(&["get", "service", "web"])["metadata"].get("generation").is_none());
    c.ok(&["scale", "deployment", "web", "--replicas=3"]);
    assert_eq!(c.json(&["get", "deployment", "web"])["metadata"]["generation"], 2);
}

#[test]
fn pods_get_admission_defaults() {
    let c = Cluster::start();
    c.ok(&["run", "p", "--image=nginx"]);
    let pod = c.json(&["get", "pod", "p"]);
    assert_eq!(pod["spec"]["serviceAccountName"], "default");
    assert_eq!(pod["spec"]["serviceAccount"], "default");
    let d = c.ok(&["describe", "pod", "p"]);
    assert!(d.contains("Service Account:  default"), "{d}");
    assert!(d.contains("node.kubernetes.io/not-ready:NoExecute op=Exists for 300s"), "{d}");
    assert!(d.contains("node.kubernetes.io/unreachable:NoExecute op=Exists for 300s"), "{d}");
    // A pod that tolerates everything gets nothing added; its own account is kept.
    let out = c.apply(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: q}\nspec:\n  serviceAccountName: builder\n  tolerations: [{operator: Exists}]\n  containers: [{name: c, image: nginx}]\n",
    );
    assert!(out.status.success(), "{}", text(&out));
    let q = c.json(&["get", "pod", "q"]);
    assert_eq!(q["spec"]["tolerations"], serde_json::json!([{"operator": "Exists"}]));
    assert_eq!(q["spec"]["serviceAccount"], "builder");
}

#[test]
fn conversion_level_defaults_show_in_yaml() {
    let c = Cluster::start();
    assert!(c.apply(NODE).status.success());
    assert_eq!(c.json(&["get", "node", "node1"])["spec"]["podCIDRs"], serde_json::json!(["10.244.0.0/24"]));
    assert!(c.ok(&["describe", "node", "node1"]).contains("PodCIDRs:"));

    c.ok(&["create", "job", "once", "--image=busybox", "--", "true"]);
    let labels = c.ok(&["get", "job", "once", "-o", "jsonpath={.metadata.labels}"]);
    assert!(labels.contains("\"batch.kubernetes.io/job-name\":\"once\"") && labels.contains("\"controller-uid\""), "{labels}");
    assert!(c.ok(&["get", "jobs", "-l", "job-name=once", "-o", "name"]).contains("job.batch/once"));

    let sts = "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: db}\nspec:\n  serviceName: db\n  selector: {matchLabels: {app: db}}\n  template:\n    metadata: {labels: {app: db}}\n    spec: {containers: [{name: c, image: postgres}]}\n  volumeClaimTemplates:\n  - metadata: {name: data}\n    spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}\n";
    assert!(c.apply(sts).status.success());
    let t = &c.json(&["get", "sts", "db"])["spec"]["volumeClaimTemplates"][0];
    assert_eq!((t["apiVersion"].as_str(), t["kind"].as_str()), (Some("v1"), Some("PersistentVolumeClaim")));
    assert_eq!(t["status"]["phase"], "Pending");
    // Re-applying sends the whole template list again (it has no merge key, so kubectl
    // says "configured" as upstream does), but defaults make it equal: no new generation.
    assert!(c.apply(sts).status.success());
    assert_eq!(c.json(&["get", "sts", "db"])["metadata"]["generation"], 1);
}

#[test]
fn endpoints_requests_carry_the_deprecation_warning() {
    let c = Cluster::start();
    let warning = "Warning: v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice";
    let out = c.apply("apiVersion: v1\nkind: Endpoints\nmetadata: {name: e}\nsubsets: [{addresses: [{ip: 10.0.0.1}], ports: [{port: 80}]}]\n");
    assert!(out.status.success() && text(&out).contains(warning), "{}", text(&out));
    let out = c.kubectl(&["get", "endpoints"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains(warning));
    assert!(String::from_utf8_lossy(&out.stdout).contains("10.0.0.1:80"));
    let err = c.fails(&["get", "endpoints", "missing"]);
    assert!(err.contains(warning) && err.contains("endpoints \"missing\" not found"), "{err}");
    let out = c.kubectl(&["get", "endpointslices"]);
    assert!(!text(&out).contains("deprecated"));
}

#[test]
fn wrong_types_are_reported_with_go_struct_names() {
    let c = Cluster::start();
    // YAML 1.1 reads `Y` as true: upstream's decoder names the struct and the path.
    let out = c.apply("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: nginx, env: [{name: Y, value: v}]}]\n");
    assert!(!out.status.success());
    assert!(
        text(&out).contains("Error from server (BadRequest): error when creating \"STDIN\": Pod in version \"v1\" cannot be handled as a Pod: json: cannot unmarshal bool into Go struct field EnvVar.spec.containers.env.name of type string"),
        "{}",
        text(&out)
    );
    c.ok(&["create", "deployment", "web", "--image=nginx"]);
    let err = c.fails(&["patch", "deployment", "web", "-p", r#"{"spec":{"replicas":"x"}}"#]);
    assert!(err.contains("json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32"), "{err}");
    let err = c.fails(&["patch", "deployment", "web", "-p", r#"{"spec":{"template":{"spec":{"containers":[{"name":"web","ports":[{"containerPort":"80"}]}]}}}}"#]);
    assert!(err.contains("Go struct field ContainerPort.spec.template.spec.containers.ports.containerPort of type int32"), "{err}");
}
