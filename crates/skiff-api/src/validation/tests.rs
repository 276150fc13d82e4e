//! Each rule with the exact message upstream gives. Objects are defaulted first,
//! as the API server does.

use serde_json::{json, Value};

use super::validate;
use crate::defaults::{apply_defaults, generate_job_selector};

fn errors(group: &str, kind: &str, obj: Value) -> Vec<String> {
    let mut obj = obj;
    apply_defaults(group, kind, &mut obj);
    validate(group, kind, &obj, None).iter().map(|e| e.to_string()).collect()
}

fn update_errors(group: &str, kind: &str, old: Value, new: Value) -> Vec<String> {
    let (mut old, mut new) = (old, new);
    apply_defaults(group, kind, &mut old);
    apply_defaults(group, kind, &mut new);
    validate(group, kind, &new, Some(&old)).iter().map(|e| e.to_string()).collect()
}

fn has(errs: &[String], want: &str) {
    assert!(errs.iter().any(|e| e == want), "missing\n  {want}\nin\n  {errs:#?}");
}

fn pod(spec: Value) -> Value {
    json!({"metadata": {"name": "web", "namespace": "default"}, "spec": spec})
}

fn deployment(replicas: i64, selector: Value, labels: Value) -> Value {
    json!({
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "selector": selector,
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "web", "image": "nginx"}]}}
        }
    })
}

fn job(spec_extra: Value, restart: &str) -> Value {
    let mut j = json!({
        "metadata": {"name": "pi", "namespace": "default", "uid": "u-1"},
        "spec": {"template": {"spec": {"containers": [{"name": "pi", "image": "perl"}], "restartPolicy": restart}}}
    });
    if let (Some(spec), Some(extra)) = (j["spec"].as_object_mut(), spec_extra.as_object()) {
        for (k, v) in extra {
            spec.insert(k.clone(), v.clone());
        }
    }
    apply_defaults("batch", "Job", &mut j);
    generate_job_selector(&mut j, "u-1");
    j
}

fn job_errors(j: &Value) -> Vec<String> {
    validate("batch", "Job", j, None).iter().map(|e| e.to_string()).collect()
}

#[test]
fn validation_names() {
    let errs = errors("", "Pod", json!({"metadata": {"name": "My_Pod", "namespace": "default"}, "spec": {"containers": [{"name": "a", "image": "b"}]}}));
    assert_eq!(errs, vec![
        "metadata.name: Invalid value: \"My_Pod\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')".to_string()
    ]);
    let errs = errors("", "Service", json!({"metadata": {"name": "1svc"}, "spec": {"ports": [{"port": 80}]}}));
    has(&errs, "metadata.name: Invalid value: \"1svc\": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')");
    let errs = errors("", "Namespace", json!({"metadata": {"name": "team.a"}}));
    has(&errs, "metadata.name: Invalid value: \"team.a\": must not contain dots");
    let errs = errors("", "ConfigMap", json!({"metadata": {"generateName": "Cfg-"}}));
    has(&errs, "metadata.generateName: Invalid value: \"Cfg-\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')");
    has(&errs, "metadata.name: Required value: name or generateName is required");
    assert!(errors("", "ConfigMap", json!({"metadata": {"name": "cfg-abcde", "generateName": "cfg-"}})).is_empty());
}

#[test]
fn validation_labels_and_annotations() {
    let errs = errors("", "ConfigMap", json!({"metadata": {"name": "c", "labels": {"app/x/y": "ok", "tier": "-bad"}}}));
    has(&errs, "metadata.labels: Invalid value: \"app/x/y\": a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')");
    has(&errs, "metadata.labels: Invalid value: \"-bad\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')");
    let long = "x".repeat(300 * 1024);
    let errs = errors("", "ConfigMap", json!({"metadata": {"name": "c", "annotations": {"big": long}}}));
    assert_eq!(errs, vec!["metadata.annotations: Too long: may not be more than 262144 bytes".to_string()]);
}

#[test]
fn validation_job_restart_policy() {
    let errs = job_errors(&job(json!({}), "Always"));
    assert_eq!(errs, vec!["spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\"".to_string()]);
    let errs = job_errors(&job(json!({}), "Sometimes"));
    has(&errs, "spec.template.spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"");
    has(&errs, "spec.template.spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"OnFailure\", \"Never\"");
    assert!(job_errors(&job(json!({}), "OnFailure")).is_empty());
}

#[test]
fn validation_job_counts() {
    let errs = job_errors(&job(json!({"parallelism": -1, "completions": -2, "backoffLimit": -3}), "Never"));
    assert_eq!(errs, vec![
        "spec.parallelism: Invalid value: -1: must be greater than or equal to 0".to_string(),
        "spec.completions: Invalid value: -2: must be greater than or equal to 0".to_string(),
        "spec.backoffLimit: Invalid value: -3: must be greater than or equal to 0".to_string(),
    ]);
    let mut j = job(json!({}), "Never");
    j["spec"]["template"]["metadata"]["labels"]["batch.kubernetes.io/job-name"] = json!("other");
    let errs = job_errors(&j);
    has(&errs, "spec.template.metadata.labels[batch.kubernetes.io/job-name]: Invalid value: map[string]string{\"batch.kubernetes.io/controller-uid\":\"u-1\", \"batch.kubernetes.io/job-name\":\"other\", \"controller-uid\":\"u-1\", \"job-name\":\"pi\"}: must be 'pi'");
    let errs = job_errors(&job(json!({"completionMode": "Indexed", "completions": 3, "maxFailedIndexes": 1}), "Never"));
    has(&errs, "spec.backoffLimitPerIndex: Required value: when maxFailedIndexes is specified");
}

#[test]
fn validation_job_update_immutable_fields() {
    let old = job(json!({"completions": 3}), "Never");
    let mut new = old.clone();
    new["metadata"]["resourceVersion"] = json!("2");
    let mut old_rv = old.clone();
    old_rv["metadata"]["resourceVersion"] = json!("1");
    new["spec"]["completions"] = json!(5);
    let errs: Vec<String> = validate("batch", "Job", &new, Some(&old_rv)).iter().map(|e| e.to_string()).collect();
    assert_eq!(errs, vec!["spec.completions: Invalid value: 5: field is immutable".to_string()]);
    let mut new = old_rv.clone();
    new["spec"]["template"]["spec"]["containers"][0]["image"] = json!("perl:2");
    let errs: Vec<String> = validate("batch", "Job", &new, Some(&old_rv)).iter().map(|e| e.to_string()).collect();
    assert_eq!(errs, vec!["spec.template: Invalid value: core.PodTemplateSpec{...}: field is immutable".to_string()]);
}

#[test]
fn validation_workload_selectors() {
    let errs = errors("apps", "Deployment", json!({"metadata": {"name": "web"}, "spec": {"template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}}));
    assert_eq!(errs, vec![
        "spec.selector: Required value".to_string(),
        "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"web\"}: `selector` does not match template `labels`".to_string(),
    ]);
    let errs = errors("apps", "Deployment", deployment(1, json!({"matchLabels": {"app": "api"}}), json!({"app": "web"})));
    assert_eq!(errs, vec!["spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"web\"}: `selector` does not match template `labels`".to_string()]);
    let errs = errors("apps", "Deployment", deployment(1, json!({}), json!({"app": "web"})));
    assert_eq!(errs, vec!["spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment".to_string()]);
    for kind in ["ReplicaSet", "StatefulSet"] {
        let errs = errors("apps", kind, deployment(1, json!({"matchLabels": {"app": "api"}}), json!({"app": "web"})));
        has(&errs, "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"web\"}: `selector` does not match template `labels`");
    }
    let errs = errors("apps", "DaemonSet", deployment(1, json!({"matchLabels": {"app": "api"}}), json!({"app": "web"})));
    has(&errs, "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"web\"}: `selector` does not match template `labels`");
    let errs = errors("", "ReplicationController", json!({"metadata": {"name": "rc"}, "spec": {"selector": {"app": "api"}, "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}}));
    assert_eq!(errs, vec!["spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"web\"}: `selector` does not match template `labels`".to_string()]);
}

#[test]
fn validation_negative_replicas() {
    let errs = errors("apps", "Deployment", deployment(-1, json!({"matchLabels": {"app": "web"}}), json!({"app": "web"})));
    assert_eq!(errs, vec!["spec.replicas: Invalid value: -1: must be greater than or equal to 0".to_string()]);
    let errs = errors("apps", "StatefulSet", deployment(-1, json!({"matchLabels": {"app": "web"}}), json!({"app": "web"})));
    assert_eq!(errs, vec!["spec.replicas: Invalid value: -1: must be greater than or equal to 0".to_string()]);
}

#[test]
fn validation_cron_job_schedule_and_time_zone() {
    let cj = |schedule: &str, tz: Option<&str>| {
        let mut v = json!({"metadata": {"name": "hello"}, "spec": {"schedule": schedule, "jobTemplate": {"spec": {"template": {"spec": {
            "containers": [{"name": "hello", "image": "busybox"}], "restartPolicy": "OnFailure"}}}}}});
        if let Some(tz) = tz {
            v["spec"]["timeZone"] = json!(tz);
        }
        errors("batch", "CronJob", v)
    };
    assert!(cj("*/1 * * * *", Some("Europe/Berlin")).is_empty());
    assert_eq!(cj("bogus", None), vec!["spec.schedule: Invalid value: \"bogus\": expected exactly 5 fields, found 1: [bogus]".to_string()]);
    assert_eq!(cj("61 * * * *", None), vec!["spec.schedule: Invalid value: \"61 * * * *\": end of range (61) above maximum (59): 61".to_string()]);
    assert_eq!(cj("TZ=UTC 0 * * * *", None), vec!["spec.schedule: Invalid value: \"TZ=UTC 0 * * * *\": cannot use TZ or CRON_TZ in schedule, use timeZone field instead".to_string()]);
    assert_eq!(cj("* * * * *", Some("Foo/Bar")), vec!["spec.timeZone: Invalid value: \"Foo/Bar\": unknown time zone Foo/Bar".to_string()]);
    assert_eq!(cj("* * * * *", Some("Local")), vec!["spec.timeZone: Invalid value: \"Local\": timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones".to_string()]);
    let long = "c".repeat(53);
    let errs = errors("batch", "CronJob", json!({"metadata": {"name": long}, "spec": {"schedule": "@daily", "jobTemplate": {"spec": {"template": {"spec": {
        "containers": [{"name": "x", "image": "busybox"}], "restartPolicy": "Never"}}}}}}));
    assert_eq!(errs, vec![format!("metadata.name: Invalid value: \"{long}\": must be no more than 52 characters")]);
}

#[test]
fn validation_containers() {
    let errs = errors("", "Pod", pod(json!({"containers": [{"name": "", "image": ""}, {"name": "web", "image": "nginx"}, {"name": "web", "image": "nginx"}]})));
    assert_eq!(errs, vec![
        "spec.containers[0].name: Required value".to_string(),
        "spec.containers[0].image: Required value".to_string(),
        "spec.containers[2].name: Duplicate value: \"web\"".to_string(),
    ]);
    let errs = errors("", "Pod", pod(json!({"containers": [{"name": "Web", "image": " nginx"}]})));
    has(&errs, "spec.containers[0].name: Invalid value: \"Web\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')");
    has(&errs, "spec.containers[0].image: Invalid value: \" nginx\": must not have leading or trailing whitespace");
    let errs = errors("", "Pod", pod(json!({"containers": []})));
    assert_eq!(errs, vec!["spec.containers: Required value".to_string()]);
}

#[test]
fn validation_ports() {
    let errs = errors("", "Pod", pod(json!({"containers": [{"name": "web", "image": "nginx", "ports": [
        {"containerPort": 70000}, {"containerPort": 80, "hostPort": -1, "protocol": "HTTP"}, {"name": "HTTP", "containerPort": 81}]}]})));
    assert_eq!(errs, vec![
        "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive".to_string(),
        "spec.containers[0].ports[1].hostPort: Invalid value: -1: must be between 1 and 65535, inclusive".to_string(),
        "spec.containers[0].ports[1].protocol: Unsupported value: \"HTTP\": supported values: \"SCTP\", \"TCP\", \"UDP\"".to_string(),
        "spec.containers[0].ports[2].name: Invalid value: \"HTTP\": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".to_string(),
        "spec.containers[0].ports[2].name: Invalid value: \"HTTP\": must contain at least one letter (a-z)".to_string(),
    ]);
    let errs = errors("", "Pod", pod(json!({"containers": [{"name": "a", "image": "x", "ports": [{"containerPort": 80, "hostPort": 8080}]},
        {"name": "b", "image": "x", "ports": [{"containerPort": 81, "hostPort": 8080}]}]})));
    assert_eq!(errs, vec!["spec.containers[1].ports[0].hostPort: Duplicate value: \"TCP//8080\"".to_string()]);
}

#[test]
fn validation_pod_restart_policy_and_dns() {
    let errs = errors("", "Pod", pod(json!({"restartPolicy": "Sometimes", "dnsPolicy": "Google", "containers": [{"name": "a", "image": "b"}]})));
    assert_eq!(errs, vec![
        "spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"".to_string(),
        "spec.dnsPolicy: Unsupported value: \"Google\": supported values: \"ClusterFirstWithHostNet\", \"ClusterFirst\", \"Default\", \"None\"".to_string(),
    ]);
}

#[test]
fn validation_probes() {
    let errs = errors("", "Pod", pod(json!({"containers": [{"name": "a", "image": "b",
        "livenessProbe": {"periodSeconds": -1, "exec": {"command": ["true"]}},
        "readinessProbe": {"httpGet": {"port": 80}, "tcpSocket": {"port": 80}},
        "startupProbe": {"successThreshold": 2, "exec": {"command": ["true"]}}}]})));
    assert_eq!(errs, vec![
        "spec.containers[0].livenessProbe.periodSeconds: Invalid value: -1: must be greater than or equal to 0".to_string(),
        "spec.containers[0].readinessProbe.tcpSocket: Forbidden: may not specify more than 1 handler type".to_string(),
        "spec.containers[0].startupProbe.successThreshold: Invalid value: 2: must be 1".to_string(),
    ]);
    let errs = errors("", "Pod", pod(json!({"containers": [{"name": "a", "image": "b", "livenessProbe": {"initialDelaySeconds": 5}}]})));
    assert_eq!(errs, vec!["spec.containers[0].livenessProbe: Required value: must specify a handler type".to_string()]);
    let errs = errors("", "Pod", pod(json!({"containers": [{"name": "a", "image": "b", "livenessProbe": {"httpGet": {"port": 0, "scheme": "FTP"}}}]})));
    assert_eq!(errs, vec![
        "spec.containers[0].livenessProbe.httpGet.port: Invalid value: 0: must be between 1 and 65535, inclusive".to_string(),
        "spec.containers[0].livenessProbe.httpGet.scheme: Unsupported value: \"FTP\": supported values: \"HTTP\", \"HTTPS\"".to_string(),
    ]);
}

#[test]
fn validation_resources() {
    let errs = errors("", "Pod", pod(json!({"containers": [{"name": "a", "image": "b", "resources": {"limits": {"cpu": "1"}, "requests": {"cpu": "2"}}}]})));
    assert_eq!(errs, vec!["spec.containers[0].resources.requests: Invalid value: \"2\": must be less than or equal to cpu limit of 1".to_string()]);
    let errs = errors("", "Pod", pod(json!({"containers": [{"name": "a", "image": "b", "resources": {"requests": {"memory": "-1Gi", "cpus": "1"}}}]})));
    assert_eq!(errs, vec![
        "spec.containers[0].resources.requests[memory]: Invalid value: \"-1Gi\": must be greater than or equal to 0".to_string(),
        "spec.containers[0].resources.requests[cpus]: Invalid value: \"cpus\": must be a standard resource type or fully qualified".to_string(),
        "spec.containers[0].resources.requests[cpus]: Invalid value: \"cpus\": must be a standard resource for containers".to_string(),
    ]);
    let errs = errors("", "Pod", pod(json!({"containers": [{"name": "a", "image": "b", "resources": {"requests": {"example.com/gpu": "1"}}}]})));
    assert_eq!(errs, vec!["spec.containers[0].resources.limits: Required value: Limit must be set for non overcommitable resources".to_string()]);
}

#[test]
fn validation_volumes_and_mounts() {
    let errs = errors("", "Pod", pod(json!({
        "containers": [{"name": "a", "image": "b", "volumeMounts": [{"name": "data", "mountPath": "/data"}, {"name": "cfg", "mountPath": "/data"}]}],
        "volumes": [{"name": "cfg", "configMap": {"name": "c"}}, {"name": "cfg", "emptyDir": {}}, {"name": "two", "emptyDir": {}, "secret": {"secretName": "s"}}]
    })));
    assert_eq!(errs, vec![
        "spec.volumes[1].name: Duplicate value: \"cfg\"".to_string(),
        "spec.volumes[2].secret: Forbidden: may not specify more than 1 volume type".to_string(),
        "spec.containers[0].volumeMounts[0].name: Not found: \"data\"".to_string(),
        "spec.containers[0].volumeMounts[1].mountPath: Invalid value: \"/data\": must be unique".to_string(),
    ]);
    let errs = errors("", "Pod", pod(json!({"containers": [{"name": "a", "image": "b"}], "volumes": [{"name": "h", "hostPath": {"path": "/x/../y", "type": "Dir"}}, {"name": "c", "configMap": {"name": "", "defaultMode": 1000}}]})));
    assert_eq!(errs, vec![
        "spec.volumes[0].hostPath.path: Invalid value: \"/x/../y\": must not contain '..'".to_string(),
        "spec.volumes[0].hostPath.type: Unsupported value: \"Dir\": supported values: \"\", \"BlockDevice\", \"CharDevice\", \"Directory\", \"DirectoryOrCreate\", \"File\", \"FileOrCreate\", \"Socket\"".to_string(),
        "spec.volumes[1].configMap.name: Required value".to_string(),
        "spec.volumes[1].configMap.defaultMode: Invalid value: 1000: must be a number between 0 and 0777 (octal), both inclusive".to_string(),
    ]);
}

#[test]
fn validation_env() {
    let errs = errors("", "Pod", pod(json!({"containers": [{"name": "a", "image": "b", "env": [
        {"name": "A=B", "value": "x"}, {"name": ""}, {"name": "C", "valueFrom": {}},
        {"name": "D", "valueFrom": {"fieldRef": {"fieldPath": "spec.hostname"}}}]}]})));
    assert_eq!(errs, vec![
        "spec.containers[0].env[0].name: Invalid value: \"A=B\": a valid environment variable name must consist only of printable ASCII characters other than '='".to_string(),
        "spec.containers[0].env[1].name: Required value".to_string(),
        "spec.containers[0].env[2].valueFrom: Invalid value: \"\": must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`".to_string(),
        "spec.containers[0].env[3].valueFrom.fieldRef.fieldPath: Invalid value: \"spec.hostname\": error converting fieldPath: field label not supported: spec.hostname".to_string(),
    ]);
}

#[test]
fn validation_services() {
    let errs = errors("", "Service", json!({"metadata": {"name": "web"}, "spec": {"selector": {"app": "web"}}}));
    assert_eq!(errs, vec!["spec.ports: Required value".to_string()]);
    let errs = errors("", "Service", json!({"metadata": {"name": "web"}, "spec": {"type": "Public", "selector": {"app": "-web"}, "ports": [{"port": 0}, {"port": 80}]}}));
    assert_eq!(errs, vec![
        "spec.ports[0].name: Required value".to_string(),
        "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive".to_string(),
        "spec.ports[0].targetPort: Invalid value: 0: must be between 1 and 65535, inclusive".to_string(),
        "spec.ports[1].name: Required value".to_string(),
        "spec.selector: Invalid value: \"-web\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')".to_string(),
        "spec.type: Unsupported value: \"Public\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\"".to_string(),
    ]);
    let errs = errors("", "Service", json!({"metadata": {"name": "web"}, "spec": {"ports": [{"port": 80, "nodePort": 30080}, {"name": "b", "port": 80}]}}));
    assert_eq!(errs, vec![
        "spec.ports[0].name: Required value".to_string(),
        "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'".to_string(),
        "spec.ports[1]: Duplicate value: core.ServicePort{Name:\"\", Protocol:\"TCP\", AppProtocol:(*string)(nil), Port:80, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}, NodePort:0}".to_string(),
    ]);
    assert!(errors("", "Service", json!({"metadata": {"name": "db"}, "spec": {"clusterIP": "None", "selector": {"app": "db"}}})).is_empty());
}

#[test]
fn validation_config_maps_and_secrets() {
    let errs = errors("", "ConfigMap", json!({"metadata": {"name": "c"}, "data": {"my key": "v", "ok.key": "v"}}));
    assert_eq!(errs, vec!["data[my key]: Invalid value: \"my key\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')".to_string()]);
    let errs = errors("", "Secret", json!({"metadata": {"name": "t"}, "type": "kubernetes.io/tls", "data": {"..x": "YQ=="}}));
    assert_eq!(errs, vec![
        "data[..x]: Invalid value: \"..x\": must not start with '..'".to_string(),
        "data[tls.crt]: Required value".to_string(),
        "data[tls.key]: Required value".to_string(),
    ]);
}

#[test]
fn validation_rolling_update_strategies() {
    let mut d = deployment(1, json!({"matchLabels": {"app": "web"}}), json!({"app": "web"}));
    d["spec"]["strategy"] = json!({"rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}});
    let errs = errors("apps", "Deployment", d);
    assert_eq!(errs, vec!["spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}: may not be 0 when `maxSurge` is 0".to_string()]);
    let mut d = deployment(1, json!({"matchLabels": {"app": "web"}}), json!({"app": "web"}));
    d["spec"]["strategy"] = json!({"rollingUpdate": {"maxSurge": "0%", "maxUnavailable": "120%"}});
    let errs = errors("apps", "Deployment", d);
    assert_eq!(errs, vec!["spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:\"120%\"}: must not be greater than 100%".to_string()]);
    let mut d = deployment(1, json!({"matchLabels": {"app": "web"}}), json!({"app": "web"}));
    d["spec"]["strategy"] = json!({"type": "BlueGreen"});
    let errs = errors("apps", "Deployment", d);
    assert_eq!(errs, vec!["spec.strategy: Unsupported value: apps.DeploymentStrategy{Type:\"BlueGreen\", RollingUpdate:(*apps.RollingUpdateDeployment)(nil)}: supported values: \"Recreate\", \"RollingUpdate\"".to_string()]);
    let mut d = deployment(1, json!({"matchLabels": {"app": "web"}}), json!({"app": "web"}));
    d["spec"]["strategy"] = json!({"type": "Recreate", "rollingUpdate": {"maxSurge": 1}});
    has(&errors("apps", "Deployment", d), "spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'");

    let mut ds = deployment(1, json!({"matchLabels": {"app": "web"}}), json!({"app": "web"}));
    ds["spec"]["updateStrategy"] = json!({"type": "Sometimes"});
    let errs = errors("apps", "DaemonSet", ds);
    assert_eq!(errs, vec!["spec.updateStrategy: Unsupported value: apps.DaemonSetUpdateStrategy{Type:\"Sometimes\", RollingUpdate:(*apps.RollingUpdateDaemonSet)(nil)}: supported values: \"RollingUpdate\", \"OnDelete\"".to_string()]);
    let mut ds = deployment(1, json!({"matchLabels": {"app": "web"}}), json!({"app": "web"}));
    ds["spec"]["updateStrategy"] = json!({"rollingUpdate": {"maxUnavailable": 0, "maxSurge": 0}});
    let errs = errors("apps", "DaemonSet", ds);
    assert_eq!(errs, vec!["spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when maxSurge is 0".to_string()]);
}

#[test]
fn validation_stateful_set_policies() {
    let mut ss = deployment(1, json!({"matchLabels": {"app": "web"}}), json!({"app": "web"}));
    ss["spec"]["podManagementPolicy"] = json!("Random");
    ss["spec"]["updateStrategy"] = json!({"type": "Eventually"});
    let errs = errors("apps", "StatefulSet", ss);
    assert_eq!(errs, vec![
        "spec.podManagementPolicy: Invalid value: \"Random\": must be 'OrderedReady' or 'Parallel'".to_string(),
        "spec.updateStrategy: Invalid value: apps.StatefulSetUpdateStrategy{Type:\"Eventually\", RollingUpdate:(*apps.RollingUpdateStatefulSetStrategy)(nil)}: must be 'RollingUpdate' or 'OnDelete'".to_string(),
    ]);
    let mut ss = deployment(1, json!({"matchLabels": {"app": "web"}}), json!({"app": "web"}));
    ss["spec"]["updateStrategy"] = json!({"type": "OnDelete", "rollingUpdate": {"partition": 2}});
    let errs = errors("apps", "StatefulSet", ss);
    assert_eq!(errs, vec!["spec.updateStrategy.rollingUpdate: Invalid value: apps.RollingUpdateStatefulSetStrategy{Partition:2, MaxUnavailable:(*intstr.IntOrString)(nil)}: only allowed for updateStrategy 'RollingUpdate'".to_string()]);
}

fn with_rv(mut v: Value, rv: &str) -> Value {
    v["metadata"]["resourceVersion"] = json!(rv);
    v["metadata"]["uid"] = json!("uid-1");
    v
}

#[test]
fn validation_update_selector_and_forbidden_spec() {
    let old = with_rv(deployment(1, json!({"matchLabels": {"app": "web"}}), json!({"app": "web"})), "1");
    let new = with_rv(deployment(1, json!({"matchLabels": {"app": "web", "tier": "fe"}}), json!({"app": "web", "tier": "fe"})), "1");
    let errs = update_errors("apps", "Deployment", old.clone(), new);
    assert_eq!(errs, vec!["spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"web\", \"tier\":\"fe\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable".to_string()]);
    let mut scaled = old.clone();
    scaled["spec"]["replicas"] = json!(5);
    assert!(update_errors("apps", "Deployment", old.clone(), scaled).is_empty());

    let mut sts_old = old.clone();
    sts_old["spec"]["serviceName"] = json!("web");
    let mut sts_new = sts_old.clone();
    sts_new["spec"]["serviceName"] = json!("other");
    sts_new["spec"]["replicas"] = json!(3);
    let errs = update_errors("apps", "StatefulSet", sts_old.clone(), sts_new);
    assert_eq!(errs, vec!["spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden".to_string()]);
    let mut sts_image = sts_old.clone();
    sts_image["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:2");
    assert!(update_errors("apps", "StatefulSet", sts_old, sts_image).is_empty());
}

#[test]
fn validation_update_metadata_and_pods() {
    let old = with_rv(pod(json!({"containers": [{"name": "a", "image": "nginx:1"}]})), "1");
    let mut renamed = old.clone();
    renamed["metadata"]["name"] = json!("other");
    has(&update_errors("", "Pod", old.clone(), renamed), "metadata.name: Invalid value: \"other\": field is immutable");
    let mut image = old.clone();
    image["spec"]["containers"][0]["image"] = json!("nginx:2");
    assert!(update_errors("", "Pod", old.clone(), image).is_empty());
    let mut changed = old.clone();
    changed["spec"]["containers"][0]["ports"] = json!([{"containerPort": 80}]);
    let errs = update_errors("", "Pod", old.clone(), changed);
    assert_eq!(errs.len(), 1);
    assert!(errs[0].starts_with("spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)\n"), "{}", errs[0]);
    let mut added = old.clone();
    added["spec"]["containers"] = json!([{"name": "a", "image": "nginx:1"}, {"name": "b", "image": "busybox"}]);
    assert_eq!(update_errors("", "Pod", old.clone(), added), vec!["spec.containers: Forbidden: pod updates may not add or remove containers".to_string()]);
    let mut no_rv = old.clone();
    no_rv["metadata"]["resourceVersion"] = json!("");
    has(&update_errors("", "Pod", old, no_rv), "metadata.resourceVersion: Invalid value: \"\": must be specified for an update");
}

#[test]
fn validation_update_config_map_secret_immutable() {
    let old = with_rv(json!({"metadata": {"name": "c"}, "immutable": true, "data": {"a": "1"}}), "1");
    let mut new = old.clone();
    new["data"]["a"] = json!("2");
    assert_eq!(update_errors("", "ConfigMap", old.clone(), new), vec!["data: Forbidden: field is immutable when `immutable` is set".to_string()]);
    let mut new = old.clone();
    new["immutable"] = json!(false);
    assert_eq!(update_errors("", "ConfigMap", old, new), vec!["immutable: Forbidden: field is immutable when `immutable` is set".to_string()]);
    let old = with_rv(json!({"metadata": {"name": "s"}, "type": "Opaque"}), "1");
    let mut new = old.clone();
    new["type"] = json!("kubernetes.io/basic-auth");
    new["data"] = json!({"username": "dQ=="});
    assert_eq!(update_errors("", "Secret", old, new), vec!["type: Invalid value: \"kubernetes.io/basic-auth\": field is immutable".to_string()]);
}

#[test]
fn validation_pdb_and_others() {
    let errs = errors("policy", "PodDisruptionBudget", json!({"metadata": {"name": "p"}, "spec": {"minAvailable": 1, "maxUnavailable": "10%"}}));
    assert_eq!(errs, vec!["spec: Invalid value: policy.PodDisruptionBudgetSpec{...}: minAvailable and maxUnavailable cannot be both set".to_string()]);
    let errs = errors("coordination.k8s.io", "Lease", json!({"metadata": {"name": "l"}, "spec": {"leaseDurationSeconds": 0}}));
    assert_eq!(errs, vec!["spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0".to_string()]);
    let errs = errors("storage.k8s.io", "StorageClass", json!({"metadata": {"name": "s"}, "provisioner": "x", "reclaimPolicy": "Recycle"}));
    assert_eq!(errs, vec!["reclaimPolicy: Unsupported value: \"Recycle\": supported values: \"Delete\", \"Retain\"".to_string()]);
    let errs = errors("", "PersistentVolumeClaim", json!({"metadata": {"name": "c"}, "spec": {"resources": {"requests": {"storage": "0"}}}}));
    assert_eq!(errs, vec![
        "spec.accessModes: Required value: at least 1 access mode is required".to_string(),
        "spec.resources[storage]: Invalid value: \"0\": must be greater than zero".to_string(),
    ]);
}

#[test]
fn validation_reasons_and_aggregate() {
    let mut d = deployment(-1, json!({"matchLabels": {"app": "web"}}), json!({"app": "web"}));
    apply_defaults("apps", "Deployment", &mut d);
    d["spec"]["template"]["spec"]["restartPolicy"] = json!("Never");
    let errs = validate("apps", "Deployment", &d, None);
    let reasons: Vec<&str> = errs.iter().map(|e| e.reason()).collect();
    assert_eq!(reasons, vec!["FieldValueInvalid", "FieldValueNotSupported"]);
    assert_eq!(
        super::aggregate_message(&errs),
        "[spec.replicas: Invalid value: -1: must be greater than or equal to 0, spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: \"Always\"]"
    );
    assert_eq!(errs[0].error_body(), "Invalid value: -1: must be greater than or equal to 0");
}

#[test]
fn validation_never_panics_on_odd_shapes() {
    let kinds: Vec<(&str, &str)> = crate::registry::RESOURCES.iter().map(|r| (r.group, r.kind)).collect();
    let shapes = vec![
        json!({}),
        json!({"metadata": null, "spec": null, "status": null}),
        json!({"metadata": "x", "spec": 5, "data": [1, 2], "type": 3}),
        json!({"metadata": {"name": "é", "labels": {"a": 1}, "finalizers": [null]}, "spec": {
            "containers": [null, 5, {"name": 3, "ports": [{"containerPort": "x"}], "resources": {"limits": {"cpu": []}}}],
            "volumes": [{"name": null, "projected": {"sources": [null]}}],
            "template": {"spec": {"containers": "nope"}}, "selector": {"matchExpressions": [{"values": [1]}]},
            "ports": [{"targetPort": null}], "schedule": "@every", "jobTemplate": 1, "strategy": {"rollingUpdate": {"maxSurge": "x%"}},
            "updateStrategy": {"type": 7}, "timeZone": "", "limits": [{"type": "Container", "max": {"cpu": "zz"}}]}}),
        json!({"spec": {"containers": [{"name": "a", "image": "b", "livenessProbe": {"grpc": {}, "exec": null}, "env": [{"valueFrom": {"fieldRef": {"apiVersion": "v2", "fieldPath": "metadata.labels['x']"}}}]}]}}),
    ];
    for (group, kind) in kinds {
        for shape in &shapes {
            let mut obj = shape.clone();
            apply_defaults(group, kind, &mut obj);
            let _ = validate(group, kind, &obj, None);
            let _ = validate(group, kind, &obj, Some(shape));
            let _ = super::validate_status(group, kind, &obj, shape);
            let _ = super::aggregate_message(&validate(group, kind, shape, Some(&obj)));
        }
    }
    let mut job = json!({"spec": null});
    generate_job_selector(&mut job, "u");
    assert_eq!(job["spec"]["selector"]["matchLabels"]["batch.kubernetes.io/controller-uid"], "u");
}
