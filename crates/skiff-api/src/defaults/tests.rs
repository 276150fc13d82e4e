//! Defaults on the manifests tutorials use, checked field by field against what
//! upstream stores, and each defaulted manifest validating cleanly.

use serde_json::{json, Value};

use super::{apply_defaults, generate_job_selector};
use crate::validation::validate;

fn defaulted(group: &str, kind: &str, mut obj: Value) -> Value {
    apply_defaults(group, kind, &mut obj);
    obj
}

fn assert_valid(group: &str, kind: &str, obj: &Value) {
    let errs: Vec<String> = validate(group, kind, obj, None).iter().map(|e| e.to_string()).collect();
    assert!(errs.is_empty(), "unexpected errors for {kind}: {errs:#?}");
}

fn at<'a>(v: &'a Value, path: &str) -> &'a Value {
    let mut cur = v;
    for part in path.split('.') {
        cur = match part.parse::<usize>() {
            Ok(i) => &cur[i],
            Err(_) => &cur[part],
        };
    }
    cur
}

#[test]
fn defaults_deployment_from_tutorial() {
    let d = defaulted(
        "apps",
        "Deployment",
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "nginx-deployment", "namespace": "default", "labels": {"app": "nginx"}},
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": "nginx"}},
                "template": {
                    "metadata": {"labels": {"app": "nginx"}},
                    "spec": {"containers": [{"name": "nginx", "image": "nginx:1.14.2", "ports": [{"containerPort": 80}]}]}
                }
            }
        }),
    );
    assert_eq!(at(&d, "spec.replicas"), &json!(3));
    assert_eq!(at(&d, "spec.strategy"), &json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}));
    assert_eq!(at(&d, "spec.revisionHistoryLimit"), &json!(10));
    assert_eq!(at(&d, "spec.progressDeadlineSeconds"), &json!(600));
    let spec = at(&d, "spec.template.spec");
    assert_eq!(spec["dnsPolicy"], "ClusterFirst");
    assert_eq!(spec["restartPolicy"], "Always");
    assert_eq!(spec["schedulerName"], "default-scheduler");
    assert_eq!(spec["securityContext"], json!({}));
    assert_eq!(spec["terminationGracePeriodSeconds"], 30);
    // Templates do not get the Pod-only defaults.
    assert!(spec.get("enableServiceLinks").is_none());
    let c = &spec["containers"][0];
    assert_eq!(c["imagePullPolicy"], "IfNotPresent");
    assert_eq!(c["terminationMessagePath"], "/dev/termination-log");
    assert_eq!(c["terminationMessagePolicy"], "File");
    assert_eq!(c["ports"][0], json!({"containerPort": 80, "protocol": "TCP"}));
    assert_valid("apps", "Deployment", &d);
}

#[test]
fn defaults_pod_with_probes_and_limits() {
    let p = defaulted(
        "",
        "Pod",
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {
                "containers": [{
                    "name": "web", "image": "nginx",
                    "resources": {"limits": {"cpu": "0.5", "memory": "1024Mi"}},
                    "livenessProbe": {"httpGet": {"port": 80}},
                    "readinessProbe": {"tcpSocket": {"port": "http"}, "periodSeconds": 5},
                    "env": [{"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                    "ports": [{"name": "http", "containerPort": 80}]
                }],
                "volumes": [{"name": "cache"}, {"name": "cfg", "configMap": {"name": "cfg"}}, {"name": "s", "secret": {"secretName": "s"}}]
            }
        }),
    );
    let spec = &p["spec"];
    let c = &spec["containers"][0];
    assert_eq!(c["imagePullPolicy"], "Always");
    assert_eq!(c["resources"]["limits"], json!({"cpu": "500m", "memory": "1Gi"}));
    assert_eq!(c["resources"]["requests"], json!({"cpu": "500m", "memory": "1Gi"}));
    assert_eq!(
        c["livenessProbe"],
        json!({"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"}, "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3})
    );
    assert_eq!(c["readinessProbe"]["periodSeconds"], 5);
    assert_eq!(c["env"][0]["valueFrom"]["fieldRef"]["apiVersion"], "v1");
    assert_eq!(spec["volumes"][0], json!({"name": "cache", "emptyDir": {}}));
    assert_eq!(spec["volumes"][1]["configMap"]["defaultMode"], 420);
    assert_eq!(spec["volumes"][2]["secret"]["defaultMode"], 420);
    assert_eq!(spec["enableServiceLinks"], true);
    assert_eq!(spec["priority"], 0);
    assert_eq!(spec["preemptionPolicy"], "PreemptLowerPriority");
    assert_valid("", "Pod", &p);
}

#[test]
fn defaults_image_pull_policies() {
    use super::core::pull_policy_for;
    assert_eq!(pull_policy_for("nginx"), "Always");
    assert_eq!(pull_policy_for("nginx:latest"), "Always");
    assert_eq!(pull_policy_for("nginx:1.25"), "IfNotPresent");
    assert_eq!(pull_policy_for("localhost:5000/app"), "Always");
    assert_eq!(pull_policy_for("localhost:5000/app:v1"), "IfNotPresent");
    assert_eq!(pull_policy_for("busybox@sha256:abcd"), "IfNotPresent");
    assert_eq!(pull_policy_for("Nginx"), "IfNotPresent");
}

#[test]
fn defaults_job_and_generated_selector() {
    let mut job = defaulted(
        "batch",
        "Job",
        json!({
            "apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "pi", "namespace": "default", "uid": "1234"},
            "spec": {
                "backoffLimit": 4,
                "template": {"spec": {
                    "containers": [{"name": "pi", "image": "perl:5.34.0", "command": ["perl", "-Mbignum=bpi", "-wle", "print bpi(2000)"]}],
                    "restartPolicy": "Never"
                }}
            }
        }),
    );
    let spec = &job["spec"];
    assert_eq!(spec["completions"], 1);
    assert_eq!(spec["parallelism"], 1);
    assert_eq!(spec["backoffLimit"], 4);
    assert_eq!(spec["completionMode"], "NonIndexed");
    assert_eq!(spec["suspend"], false);
    assert_eq!(spec["podReplacementPolicy"], "TerminatingOrFailed");
    assert_eq!(spec["template"]["spec"]["restartPolicy"], "Never");
    assert!(spec.get("manualSelector").is_none());
    generate_job_selector(&mut job, "1234");
    assert_eq!(job["spec"]["selector"], json!({"matchLabels": {"batch.kubernetes.io/controller-uid": "1234"}}));
    assert_eq!(
        job["spec"]["template"]["metadata"]["labels"],
        json!({"job-name": "pi", "batch.kubernetes.io/job-name": "pi", "controller-uid": "1234", "batch.kubernetes.io/controller-uid": "1234"})
    );
    // A Job without labels shows its template's, as upstream reads it back.
    assert_eq!(job["metadata"]["labels"], job["spec"]["template"]["metadata"]["labels"]);
    assert_valid("batch", "Job", &job);
}

#[test]
fn defaults_job_labels_follow_template_labels() {
    let mut job = defaulted(
        "batch",
        "Job",
        json!({
            "metadata": {"name": "q", "uid": "u1"},
            "spec": {"parallelism": 3, "template": {"metadata": {"labels": {"app": "q"}}, "spec": {
                "containers": [{"name": "w", "image": "busybox"}], "restartPolicy": "OnFailure"}}}
        }),
    );
    // A work queue: parallelism set, completions left unset.
    assert!(job["spec"].get("completions").is_none());
    assert_eq!(job["spec"]["backoffLimit"], 6);
    assert_eq!(job["metadata"]["labels"], json!({"app": "q"}));
    generate_job_selector(&mut job, "u1");
    assert_eq!(job["metadata"]["labels"]["batch.kubernetes.io/job-name"], "q");
    let with_per_index = defaulted("batch", "Job", json!({"spec": {"backoffLimitPerIndex": 1, "completionMode": "Indexed", "completions": 3}}));
    assert_eq!(with_per_index["spec"]["backoffLimit"], i64::from(i32::MAX));
    assert_eq!(with_per_index["spec"]["parallelism"], 1);
}

#[test]
fn defaults_cron_job_from_tutorial() {
    let cj = defaulted(
        "batch",
        "CronJob",
        json!({
            "apiVersion": "batch/v1", "kind": "CronJob",
            "metadata": {"name": "hello", "namespace": "default"},
            "spec": {
                "schedule": "* * * * *",
                "jobTemplate": {"spec": {"template": {"spec": {
                    "containers": [{"name": "hello", "image": "busybox:1.28", "imagePullPolicy": "IfNotPresent", "command": ["/bin/sh", "-c", "date; echo Hello"]}],
                    "restartPolicy": "OnFailure"
                }}}}
            }
        }),
    );
    assert_eq!(cj["spec"]["concurrencyPolicy"], "Allow");
    assert_eq!(cj["spec"]["suspend"], false);
    assert_eq!(cj["spec"]["successfulJobsHistoryLimit"], 3);
    assert_eq!(cj["spec"]["failedJobsHistoryLimit"], 1);
    assert_eq!(cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["schedulerName"], "default-scheduler");
    assert_valid("batch", "CronJob", &cj);
}

#[test]
fn defaults_daemon_set_from_tutorial() {
    let ds = defaulted(
        "apps",
        "DaemonSet",
        json!({
            "metadata": {"name": "fluentd-elasticsearch", "namespace": "kube-system", "labels": {"k8s-app": "fluentd-logging"}},
            "spec": {
                "selector": {"matchLabels": {"name": "fluentd-elasticsearch"}},
                "template": {
                    "metadata": {"labels": {"name": "fluentd-elasticsearch"}},
                    "spec": {
                        "tolerations": [{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"}],
                        "containers": [{
                            "name": "fluentd-elasticsearch", "image": "quay.io/fluentd_elasticsearch/fluentd:v2.5.2",
                            "resources": {"limits": {"memory": "200Mi"}, "requests": {"cpu": "100m", "memory": "200Mi"}},
                            "volumeMounts": [{"name": "varlog", "mountPath": "/var/log"}]
                        }],
                        "terminationGracePeriodSeconds": 30,
                        "volumes": [{"name": "varlog", "hostPath": {"path": "/var/log"}}]
                    }
                }
            }
        }),
    );
    assert_eq!(ds["spec"]["updateStrategy"], json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}));
    assert_eq!(ds["spec"]["revisionHistoryLimit"], 10);
    assert_eq!(ds["spec"]["template"]["spec"]["volumes"][0]["hostPath"], json!({"path": "/var/log", "type": ""}));
    assert_valid("apps", "DaemonSet", &ds);
}

#[test]
fn defaults_stateful_set_from_tutorial() {
    let ss = defaulted(
        "apps",
        "StatefulSet",
        json!({
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {
                "selector": {"matchLabels": {"app": "nginx"}},
                "serviceName": "nginx",
                "replicas": 3,
                "template": {
                    "metadata": {"labels": {"app": "nginx"}},
                    "spec": {"containers": [{"name": "nginx", "image": "registry.k8s.io/nginx-slim:0.24",
                        "ports": [{"containerPort": 80, "name": "web"}], "volumeMounts": [{"name": "www", "mountPath": "/usr/share/nginx/html"}]}]}
                },
                "volumeClaimTemplates": [{
                    "metadata": {"name": "www"},
                    "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "my-storage-class", "resources": {"requests": {"storage": "1Gi"}}}
                }]
            }
        }),
    );
    let spec = &ss["spec"];
    assert_eq!(spec["podManagementPolicy"], "OrderedReady");
    assert_eq!(spec["updateStrategy"], json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}));
    assert_eq!(spec["revisionHistoryLimit"], 10);
    assert_eq!(spec["persistentVolumeClaimRetentionPolicy"], json!({"whenDeleted": "Retain", "whenScaled": "Retain"}));
    assert_eq!(spec["volumeClaimTemplates"][0]["spec"]["volumeMode"], "Filesystem");
    assert_eq!(spec["volumeClaimTemplates"][0]["status"], json!({"phase": "Pending"}));
    assert_valid("apps", "StatefulSet", &ss);
}

#[test]
fn defaults_service_and_namespace() {
    let svc = defaulted(
        "",
        "Service",
        json!({"metadata": {"name": "my-service", "namespace": "default"},
               "spec": {"selector": {"app": "MyApp"}, "ports": [{"port": 80}, {"name": "https", "port": 443, "targetPort": 8443}]}}),
    );
    let spec = &svc["spec"];
    assert_eq!(spec["type"], "ClusterIP");
    assert_eq!(spec["sessionAffinity"], "None");
    assert_eq!(spec["ports"][0], json!({"port": 80, "protocol": "TCP", "targetPort": 80}));
    assert_eq!(spec["ports"][1]["targetPort"], 8443);
    assert_eq!(spec["internalTrafficPolicy"], "Cluster");
    assert_eq!(spec["ipFamilyPolicy"], "SingleStack");
    assert_eq!(spec["ipFamilies"], json!(["IPv4"]));
    assert!(spec.get("externalTrafficPolicy").is_none());
    let np = defaulted("", "Service", json!({"spec": {"type": "NodePort", "ports": [{"port": 80}]}}));
    assert_eq!(np["spec"]["externalTrafficPolicy"], "Cluster");

    let ns = defaulted("", "Namespace", json!({"metadata": {"name": "dev"}}));
    assert_eq!(ns["metadata"]["labels"], json!({"kubernetes.io/metadata.name": "dev"}));
    assert_eq!(ns["spec"]["finalizers"], json!(["kubernetes"]));
    assert_eq!(ns["status"]["phase"], "Active");
    assert_valid("", "Namespace", &ns);
}

#[test]
fn defaults_storage_kinds() {
    let secret = defaulted("", "Secret", json!({"metadata": {"name": "s"}}));
    assert_eq!(secret["type"], "Opaque");
    let secret = defaulted("", "Secret", json!({"metadata": {"name": "s"}, "data": {"a": "eA==", "b": "eA=="}, "stringData": {"b": "pw", "c": "hi"}}));
    assert_eq!(secret["data"], json!({"a": "eA==", "b": "cHc=", "c": "aGk="}));
    assert!(secret.get("stringData").is_none());
    let pv = defaulted("", "PersistentVolume", json!({"metadata": {"name": "pv"}, "spec": {"capacity": {"storage": "10240Mi"}, "accessModes": ["ReadWriteOnce"], "hostPath": {"path": "/data"}}}));
    assert_eq!(pv["spec"]["persistentVolumeReclaimPolicy"], "Retain");
    assert_eq!(pv["spec"]["volumeMode"], "Filesystem");
    assert_eq!(pv["spec"]["capacity"]["storage"], "10Gi");
    assert_eq!(pv["status"]["phase"], "Pending");
    assert_valid("", "PersistentVolume", &pv);
    let pvc = defaulted("", "PersistentVolumeClaim", json!({"metadata": {"name": "c"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}));
    assert_eq!(pvc["spec"]["volumeMode"], "Filesystem");
    assert_eq!(pvc["status"]["phase"], "Pending");
    assert_valid("", "PersistentVolumeClaim", &pvc);
    let sc = defaulted("storage.k8s.io", "StorageClass", json!({"metadata": {"name": "fast"}, "provisioner": "kubernetes.io/no-provisioner"}));
    assert_eq!(sc["reclaimPolicy"], "Delete");
    assert_eq!(sc["volumeBindingMode"], "Immediate");
    assert_valid("storage.k8s.io", "StorageClass", &sc);
}

#[test]
fn defaults_replication_controller_and_limit_range() {
    let rc = defaulted(
        "",
        "ReplicationController",
        json!({"metadata": {"name": "nginx"}, "spec": {"template": {"metadata": {"labels": {"app": "nginx"}},
            "spec": {"containers": [{"name": "nginx", "image": "nginx"}]}}}}),
    );
    assert_eq!(rc["spec"]["selector"], json!({"app": "nginx"}));
    assert_eq!(rc["metadata"]["labels"], json!({"app": "nginx"}));
    assert_eq!(rc["spec"]["replicas"], 1);
    assert_valid("", "ReplicationController", &rc);
    let lr = defaulted(
        "",
        "LimitRange",
        json!({"metadata": {"name": "lr"}, "spec": {"limits": [{"type": "Container", "max": {"cpu": "1"}, "min": {"memory": "64Mi"}}]}}),
    );
    assert_eq!(lr["spec"]["limits"][0]["default"], json!({"cpu": "1"}));
    assert_eq!(lr["spec"]["limits"][0]["defaultRequest"], json!({"cpu": "1", "memory": "64Mi"}));
    assert_valid("", "LimitRange", &lr);
}

#[test]
fn defaults_node_allocatable_and_endpoint_slice() {
    let node = defaulted("", "Node", json!({"metadata": {"name": "n1"}, "status": {"capacity": {"cpu": "2", "memory": "4Gi", "pods": "110"}}}));
    assert_eq!(node["status"]["allocatable"], json!({"cpu": "2", "memory": "4Gi", "pods": "110"}));
    assert_valid("", "Node", &node);
    let es = defaulted("discovery.k8s.io", "EndpointSlice", json!({"metadata": {"name": "e"}, "addressType": "IPv4", "ports": [{"port": 80}]}));
    assert_eq!(es["ports"][0], json!({"port": 80, "name": "", "protocol": "TCP"}));
}
