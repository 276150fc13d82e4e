//! Objects built with k8s-pb's prost types (the same .proto files client-go
//! encodes with), wrapped as client-go does, decoded and compared with the JSON
//! kubectl would have sent.

use std::collections::BTreeMap;

use k8s_pb::api::apps::v1 as apps;
use k8s_pb::api::batch::v1 as batch;
use k8s_pb::api::core::v1 as core;
use k8s_pb::apimachinery::pkg::api::resource::Quantity;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_pb::apimachinery::pkg::runtime::{RawExtension, TypeMeta, Unknown};
use k8s_pb::apimachinery::pkg::util::intstr::IntOrString;
use prost::Message;
use serde_json::{json, Value};

use super::*;

fn wrap(api_version: &str, kind: &str, raw: Vec<u8>) -> Vec<u8> {
    let u = Unknown {
        type_meta: Some(TypeMeta { api_version: Some(api_version.into()), kind: Some(kind.into()) }),
        raw: Some(raw),
        content_encoding: Some(String::new()),
        content_type: Some(String::new()),
    };
    let mut out = MAGIC.to_vec();
    out.extend(u.encode_to_vec());
    out
}

fn roundtrip(api_version: &str, kind: &str, m: &impl Message) -> Value {
    match decode(&wrap(api_version, kind, m.encode_to_vec())) {
        Ok(v) => v,
        Err(e) => panic!("{kind}: {e}"),
    }
}

fn map<V: Clone>(pairs: &[(&str, V)]) -> BTreeMap<String, V> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

/// ObjectMeta as Go writes it: every non-pointer field, zero or not.
fn meta_go(name: &str, namespace: &str, labels: &[(&str, &str)]) -> meta::ObjectMeta {
    meta::ObjectMeta {
        name: s(name),
        generate_name: s(""),
        namespace: s(namespace),
        self_link: s(""),
        uid: s(""),
        resource_version: s(""),
        generation: Some(0),
        creation_timestamp: Some(meta::Time::default()),
        labels: map(labels).into_iter().map(|(k, v)| (k, v.to_string())).collect(),
        ..Default::default()
    }
}

const NEW_YEAR: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

fn container(name: &str, image: &str, command: &[&str]) -> core::Container {
    core::Container {
        name: s(name),
        image: s(image),
        command: command.iter().map(|c| c.to_string()).collect(),
        working_dir: s(""),
        resources: Some(core::ResourceRequirements::default()),
        termination_message_path: s(""),
        termination_message_policy: s(""),
        image_pull_policy: s(""),
        stdin: Some(false),
        stdin_once: Some(false),
        tty: Some(false),
        ..Default::default()
    }
}

fn pod_spec(containers: Vec<core::Container>, restart_policy: &str) -> core::PodSpec {
    core::PodSpec {
        containers,
        restart_policy: s(restart_policy),
        dns_policy: s(""),
        service_account_name: s(""),
        node_name: s(""),
        host_network: Some(false),
        host_pid: Some(false),
        host_ipc: Some(false),
        hostname: s(""),
        subdomain: s(""),
        scheduler_name: s(""),
        ..Default::default()
    }
}

#[test]
fn configmap() {
    let cm = core::ConfigMap {
        metadata: Some(meta_go("c", "", &[("app", "x")])),
        data: map(&[("a", "b".to_string())]),
        binary_data: map(&[("bin", vec![0u8, 1, 2])]),
        immutable: None,
    };
    assert_eq!(
        roundtrip("v1", "ConfigMap", &cm),
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": {"app": "x"}},
               "data": {"a": "b"}, "binaryData": {"bin": "AAEC"}})
    );
}

#[test]
fn secret_bytes_are_base64() {
    let secret = core::Secret {
        metadata: Some(meta_go("s", "default", &[])),
        data: map(&[("p", b"q".to_vec()), ("empty", Vec::new())]),
        string_data: BTreeMap::new(),
        r#type: s("Opaque"),
        immutable: Some(false),
    };
    assert_eq!(
        roundtrip("v1", "Secret", &secret),
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "default"},
               "data": {"p": "cQ==", "empty": ""}, "type": "Opaque", "immutable": false})
    );
}

#[test]
fn namespace_keeps_empty_structs() {
    let ns = core::Namespace {
        metadata: Some(meta_go("n", "", &[])),
        spec: Some(core::NamespaceSpec::default()),
        status: Some(core::NamespaceStatus { phase: s(""), conditions: Vec::new() }),
    };
    assert_eq!(
        roundtrip("v1", "Namespace", &ns),
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n"}, "spec": {}, "status": {}})
    );
}

fn deployment(replicas: i32) -> apps::Deployment {
    let labels = [("app", "d")];
    let mut c = container("nginx", "nginx", &[]);
    c.ports = vec![core::ContainerPort { name: s("http"), host_port: Some(0), container_port: Some(80), protocol: s("TCP"), host_ip: s("") }];
    c.resources = Some(core::ResourceRequirements {
        limits: map(&[("cpu", Quantity { string: s("500m") }), ("memory", Quantity { string: None })]),
        ..Default::default()
    });
    c.liveness_probe = Some(core::Probe {
        handler: Some(core::ProbeHandler {
            http_get: Some(core::HttpGetAction {
                path: s("/healthz"),
                port: Some(IntOrString { r#type: Some(1), int_val: Some(0), str_val: s("http") }),
                host: s(""),
                scheme: s(""),
                http_headers: Vec::new(),
            }),
            ..Default::default()
        }),
        initial_delay_seconds: Some(0),
        timeout_seconds: Some(0),
        period_seconds: Some(10),
        success_threshold: Some(0),
        failure_threshold: Some(0),
        termination_grace_period_seconds: None,
    });
    c.security_context = Some(core::SecurityContext { run_as_user: Some(0), privileged: Some(false), ..Default::default() });
    apps::Deployment {
        metadata: Some(meta::ObjectMeta {
            creation_timestamp: Some(meta::Time { seconds: Some(NEW_YEAR), nanos: Some(0) }),
            ..meta_go("d", "default", &labels)
        }),
        spec: Some(apps::DeploymentSpec {
            replicas: Some(replicas),
            selector: Some(meta::LabelSelector { match_labels: map(&[("app", "d".to_string())]), match_expressions: Vec::new() }),
            template: Some(core::PodTemplateSpec { metadata: Some(meta_go("", "", &labels)), spec: Some(pod_spec(vec![c], "")) }),
            strategy: Some(apps::DeploymentStrategy {
                r#type: s("RollingUpdate"),
                rolling_update: Some(apps::RollingUpdateDeployment {
                    max_unavailable: Some(IntOrString { r#type: Some(0), int_val: Some(1), str_val: s("") }),
                    max_surge: Some(IntOrString { r#type: Some(1), int_val: Some(0), str_val: s("25%") }),
                }),
            }),
            min_ready_seconds: Some(0),
            revision_history_limit: None,
            paused: Some(false),
            progress_deadline_seconds: None,
        }),
        status: Some(apps::DeploymentStatus { observed_generation: Some(0), replicas: Some(0), ..Default::default() }),
    }
}

#[test]
fn deployment_with_zero_values_as_go_writes_them() {
    let got = roundtrip("apps/v1", "Deployment", &deployment(0));
    let want = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "d", "namespace": "default", "creationTimestamp": "2026-01-01T00:00:00Z", "labels": {"app": "d"}},
        "spec": {
            // A pointer: an explicit zero stays.
            "replicas": 0,
            "selector": {"matchLabels": {"app": "d"}},
            "template": {
                "metadata": {"labels": {"app": "d"}},
                "spec": {"containers": [{
                    "name": "nginx", "image": "nginx",
                    "ports": [{"name": "http", "containerPort": 80, "protocol": "TCP"}],
                    "resources": {"limits": {"cpu": "500m", "memory": "0"}},
                    "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 10},
                    "securityContext": {"runAsUser": 0, "privileged": false}
                }]}
            },
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": "25%"}}
        },
        "status": {}
    });
    assert_eq!(got, want);
    // What the typed value deserializes to agrees (names and types match k8s-openapi).
    let typed: k8s_openapi::api::apps::v1::Deployment = serde_json::from_value(got.clone()).expect("valid Deployment");
    assert_eq!(serde_json::to_value(typed).expect("serializes"), got);
}

#[test]
fn job_and_cronjob() {
    let job_spec = batch::JobSpec {
        template: Some(core::PodTemplateSpec {
            metadata: Some(meta_go("", "", &[])),
            spec: Some(pod_spec(vec![container("j", "busybox", &["echo", "hi"])], "Never")),
        }),
        suspend: Some(false),
        backoff_limit: Some(6),
        ..Default::default()
    };
    let job = batch::Job { metadata: Some(meta_go("j", "", &[])), spec: Some(job_spec.clone()), status: Some(Default::default()) };
    let pod = json!({"metadata": {}, "spec": {"containers": [{"name": "j", "image": "busybox", "command": ["echo", "hi"], "resources": {}}], "restartPolicy": "Never"}});
    assert_eq!(
        roundtrip("batch/v1", "Job", &job),
        json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"},
               "spec": {"template": pod, "suspend": false, "backoffLimit": 6}, "status": {}})
    );

    let cj = batch::CronJob {
        metadata: Some(meta_go("cj", "", &[])),
        spec: Some(batch::CronJobSpec {
            schedule: s("*/5 * * * *"),
            concurrency_policy: s(""),
            suspend: Some(false),
            job_template: Some(batch::JobTemplateSpec { metadata: Some(meta_go("cj", "", &[])), spec: Some(job_spec) }),
            successful_jobs_history_limit: Some(3),
            ..Default::default()
        }),
        status: Some(Default::default()),
    };
    let got = roundtrip("batch/v1", "CronJob", &cj);
    assert_eq!(got["spec"]["schedule"], "*/5 * * * *");
    assert_eq!(got["spec"]["suspend"], false);
    assert_eq!(got["spec"]["successfulJobsHistoryLimit"], 3);
    assert_eq!(got["spec"]["jobTemplate"]["metadata"], json!({"name": "cj"}));
    assert_eq!(got["spec"]["jobTemplate"]["spec"]["template"], pod);
    assert!(got["spec"].get("concurrencyPolicy").is_none());
    let _: k8s_openapi::api::batch::v1::CronJob = serde_json::from_value(got).expect("valid CronJob");
}

#[test]
fn service_and_pod() {
    let svc = core::Service {
        metadata: Some(meta_go("svc", "", &[("app", "svc")])),
        spec: Some(core::ServiceSpec {
            ports: vec![core::ServicePort {
                name: s("80-8080"),
                protocol: s("TCP"),
                port: Some(80),
                target_port: Some(IntOrString { r#type: Some(0), int_val: Some(8080), str_val: s("") }),
                node_port: Some(0),
                app_protocol: None,
            }],
            selector: map(&[("app", "svc".to_string())]),
            cluster_ip: s(""),
            r#type: s("ClusterIP"),
            session_affinity: s(""),
            load_balancer_ip: s(""),
            external_name: s(""),
            external_traffic_policy: s(""),
            health_check_node_port: Some(0),
            publish_not_ready_addresses: Some(false),
            ..Default::default()
        }),
        status: Some(core::ServiceStatus { load_balancer: Some(Default::default()), conditions: Vec::new() }),
    };
    assert_eq!(
        roundtrip("v1", "Service", &svc),
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc", "labels": {"app": "svc"}},
               "spec": {"ports": [{"name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080}],
                        "selector": {"app": "svc"}, "type": "ClusterIP"},
               "status": {"loadBalancer": {}}})
    );

    let mut spec = pod_spec(vec![container("p", "busybox", &[])], "Always");
    spec.containers[0].args = vec!["sleep".into(), "1".into()];
    spec.termination_grace_period_seconds = Some(0);
    spec.security_context = Some(core::PodSecurityContext { supplemental_groups: vec![1, 2], ..Default::default() });
    let pod = core::Pod { metadata: Some(meta_go("p", "", &[("run", "p")])), spec: Some(spec), status: Some(Default::default()) };
    let got = roundtrip("v1", "Pod", &pod);
    assert_eq!(got["spec"]["containers"], json!([{"name": "p", "image": "busybox", "args": ["sleep", "1"], "resources": {}}]));
    assert_eq!(got["spec"]["restartPolicy"], "Always");
    assert_eq!(got["spec"]["terminationGracePeriodSeconds"], 0);
    assert_eq!(got["spec"]["securityContext"], json!({"supplementalGroups": [1, 2]}));
    assert!(got["spec"].get("hostNetwork").is_none());
}

#[test]
fn eviction_scale_binding_delete_options() {
    let ev = k8s_pb::api::policy::v1::Eviction {
        metadata: Some(meta_go("p", "default", &[])),
        delete_options: Some(meta::DeleteOptions {
            grace_period_seconds: Some(0),
            preconditions: Some(meta::Preconditions { uid: s("u1"), resource_version: None }),
            ..Default::default()
        }),
    };
    assert_eq!(
        roundtrip("policy/v1", "Eviction", &ev),
        json!({"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "p", "namespace": "default"},
               "deleteOptions": {"gracePeriodSeconds": 0, "preconditions": {"uid": "u1"}}})
    );

    let scale = k8s_pb::api::autoscaling::v1::Scale {
        metadata: Some(meta_go("d", "default", &[])),
        spec: Some(k8s_pb::api::autoscaling::v1::ScaleSpec { replicas: Some(0) }),
        status: Some(k8s_pb::api::autoscaling::v1::ScaleStatus { replicas: Some(0), selector: s("") }),
    };
    // ScaleSpec.replicas is omitempty in Go, ScaleStatus.replicas is not.
    assert_eq!(
        roundtrip("autoscaling/v1", "Scale", &scale),
        json!({"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": {"name": "d", "namespace": "default"},
               "spec": {}, "status": {"replicas": 0}})
    );

    let binding = core::Binding {
        metadata: Some(meta_go("p", "default", &[])),
        target: Some(core::ObjectReference { kind: s("Node"), name: s("n1"), ..Default::default() }),
    };
    assert_eq!(
        roundtrip("v1", "Binding", &binding),
        json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "p", "namespace": "default"},
               "target": {"kind": "Node", "name": "n1"}})
    );

    let opts = meta::DeleteOptions { propagation_policy: s("Foreground"), dry_run: vec!["All".into()], orphan_dependents: Some(false), ..Default::default() };
    for av in ["v1", "apps/v1", "meta.k8s.io/v1"] {
        assert_eq!(
            roundtrip(av, "DeleteOptions", &opts),
            json!({"apiVersion": av, "kind": "DeleteOptions", "orphanDependents": false, "propagationPolicy": "Foreground", "dryRun": ["All"]})
        );
    }
}

#[test]
fn special_types() {
    let lease = k8s_pb::api::coordination::v1::Lease {
        metadata: Some(meta_go("l", "kube-system", &[])),
        spec: Some(k8s_pb::api::coordination::v1::LeaseSpec {
            holder_identity: s("node-1"),
            lease_duration_seconds: Some(40),
            renew_time: Some(meta::MicroTime { seconds: Some(NEW_YEAR), nanos: Some(123_456_789) }),
            acquire_time: Some(meta::MicroTime { seconds: Some(NEW_YEAR), nanos: Some(0) }),
            ..Default::default()
        }),
    };
    let got = roundtrip("coordination.k8s.io/v1", "Lease", &lease);
    assert_eq!(
        got["spec"],
        json!({"holderIdentity": "node-1", "leaseDurationSeconds": 40,
               "acquireTime": "2026-01-01T00:00:00.000000Z", "renewTime": "2026-01-01T00:00:00.123456Z"})
    );

    let rev = apps::ControllerRevision {
        metadata: Some(meta::ObjectMeta {
            managed_fields: vec![meta::ManagedFieldsEntry {
                manager: s("kubectl"),
                operation: s("Update"),
                api_version: s("apps/v1"),
                time: Some(meta::Time { seconds: Some(NEW_YEAR), nanos: Some(999) }),
                fields_type: s("FieldsV1"),
                fields_v1: Some(meta::FieldsV1 { raw: Some(br#"{"f:data":{}}"#.to_vec()) }),
                subresource: s(""),
            }],
            ..meta_go("r", "default", &[])
        }),
        data: Some(RawExtension { raw: Some(br#"{"spec":{"x":[1,"a"]}}"#.to_vec()) }),
        revision: Some(0),
    };
    assert_eq!(
        roundtrip("apps/v1", "ControllerRevision", &rev),
        json!({"apiVersion": "apps/v1", "kind": "ControllerRevision",
               "metadata": {"name": "r", "namespace": "default", "managedFields": [{
                   "manager": "kubectl", "operation": "Update", "apiVersion": "apps/v1", "time": "2026-01-01T00:00:00Z",
                   "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {}}}]},
               "data": {"spec": {"x": [1, "a"]}}, "revision": 0})
    );

    let bad = apps::ControllerRevision { data: Some(RawExtension { raw: Some(b"not json".to_vec()) }), ..Default::default() };
    let err = decode(&wrap("apps/v1", "ControllerRevision", bad.encode_to_vec())).expect_err("not JSON");
    assert!(err.to_string().contains("data: RawExtension is not JSON"), "{err}");

    let slice = k8s_pb::api::discovery::v1::EndpointSlice {
        metadata: Some(meta_go("e", "default", &[])),
        address_type: s("IPv4"),
        endpoints: vec![k8s_pb::api::discovery::v1::Endpoint {
            addresses: vec!["10.0.0.1".into()],
            conditions: Some(k8s_pb::api::discovery::v1::EndpointConditions { ready: Some(false), serving: None, terminating: None }),
            ..Default::default()
        }],
        ports: vec![k8s_pb::api::discovery::v1::EndpointPort { port: Some(0), ..Default::default() }],
    };
    let got = roundtrip("discovery.k8s.io/v1", "EndpointSlice", &slice);
    assert_eq!(got["endpoints"], json!([{"addresses": ["10.0.0.1"], "conditions": {"ready": false}}]));
    assert_eq!(got["ports"], json!([{"port": 0}]));
}

#[test]
fn durations_print_like_go() {
    for (ns, want) in [
        (0, "0s"),
        (1, "1ns"),
        (1_500, "1.5µs"),
        (2_000_000, "2ms"),
        (1_500_000_000, "1.5s"),
        (60_000_000_000, "1m0s"),
        (3_723_000_000_000, "1h2m3s"),
        (-90_000_000_000, "-1m30s"),
        (i64::MIN, "-2562047h47m16.854775808s"),
    ] {
        assert_eq!(go_duration(ns), want, "{ns}");
    }
}

#[test]
fn timestamps() {
    assert_eq!(timestamp(0, 1, false).as_deref(), Ok("1970-01-01T00:00:00Z"));
    assert_eq!(timestamp(-62_135_596_800, 0, false).as_deref(), Ok("0001-01-01T00:00:00Z"));
    assert!(timestamp(NEW_YEAR, -1, true).is_err());
    assert!(timestamp(i64::MAX, 0, false).is_err());
    assert!(timestamp(-70_000_000_000, 0, false).is_err());
}

// --- hand-made wire data -------------------------------------------------------

fn varint(mut v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
    out
}

fn len_field(tag: u32, body: &[u8]) -> Vec<u8> {
    let mut out = varint(u64::from(tag) << 3 | 2);
    out.extend(varint(body.len() as u64));
    out.extend_from_slice(body);
    out
}

fn varint_field(tag: u32, v: u64) -> Vec<u8> {
    let mut out = varint(u64::from(tag) << 3);
    out.extend(varint(v));
    out
}

#[test]
fn packed_repeated_numbers_and_split_messages() {
    // PodSecurityContext.supplementalGroups (4) packed; runAsUser (2) negative.
    let mut sc = len_field(4, &[varint(5), varint(6)].concat());
    sc.extend(varint_field(4, 7));
    sc.extend(varint_field(2, -1i64 as u64));
    // PodSpec.securityContext (14) in two pieces, which protobuf merges.
    let mut spec = len_field(14, &sc[..sc.len() - 11]);
    spec.extend(len_field(14, &sc[sc.len() - 11..]));
    let pod = len_field(2, &spec);
    let got = decode(&wrap("v1", "Pod", pod)).expect("decodes");
    assert_eq!(got["spec"]["securityContext"], json!({"runAsUser": -1, "supplementalGroups": [5, 6, 7]}));
}

#[test]
fn unknown_fields_are_skipped_and_utf8_is_lossy() {
    let mut cm = len_field(1, &len_field(1, b"c\xff"));
    cm.extend(varint_field(999, 1));
    cm.extend(len_field(1000, b"xyz"));
    cm.extend([0x5d, 1, 2, 3, 4]); // field 11, fixed32
    cm.extend([0x61, 1, 2, 3, 4, 5, 6, 7, 8]); // field 12, fixed64
    let got = decode(&wrap("v1", "ConfigMap", cm)).expect("decodes");
    assert_eq!(got, json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c\u{fffd}"}}));
}

#[test]
fn embedded_json_content_type() {
    let u = Unknown {
        type_meta: Some(TypeMeta { api_version: s("v1"), kind: s("ConfigMap") }),
        raw: Some(br#"{"kind":"Other","data":{"a":"b"}}"#.to_vec()),
        content_encoding: None,
        content_type: s("application/json"),
    };
    let body = [MAGIC, &u.encode_to_vec()].concat();
    assert_eq!(decode(&body), Ok(json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "b"}})));
}

#[test]
fn malformed_bodies_are_errors() {
    let cm = core::ConfigMap { metadata: Some(meta_go("c", "", &[])), ..Default::default() };
    let good = wrap("v1", "ConfigMap", cm.encode_to_vec());
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (Vec::new(), "prefix"),
        (b"{\"kind\":\"ConfigMap\"}".to_vec(), "prefix"),
        (MAGIC.to_vec(), "apiVersion and kind"),
        (wrap("v1", "Nope", Vec::new()), "no protobuf schema for v1, Kind=Nope"),
        (wrap("rbac.authorization.k8s.io/v1", "Role", Vec::new()), "no protobuf schema"),
        (wrap("v1", "Time", Vec::new()), "no protobuf schema"),
        (good[..good.len() - 5].to_vec(), "left"),
        (wrap("v1", "ConfigMap", varint_field(1, 5)), "metadata: wire type 0, expected 2"),
        (wrap("v1", "ConfigMap", len_field(1, &len_field(11, &[0x0a, 0x05, b'a']))), "metadata.labels"),
        (wrap("v1", "ConfigMap", vec![0x80; 11]), "varint"),
        (wrap("v1", "ConfigMap", vec![0xb8, 0x3e]), "truncated varint"),
        (wrap("v1", "ConfigMap", vec![0x00, 0x00]), "invalid field number 0"),
        (wrap("v1", "ConfigMap", vec![0xbb, 0x3e]), "unsupported wire type 3"),
        (wrap("v1", "ConfigMap", [0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f].to_vec()), "bytes but only 0 left"),
        (
            [MAGIC, &Unknown { content_encoding: s("gzip"), ..Unknown::decode(&good[4..]).expect("ours") }.encode_to_vec()].concat(),
            "contentEncoding",
        ),
    ];
    for (body, want) in cases {
        match decode(&body) {
            Ok(v) => panic!("{body:?} decoded to {v}"),
            Err(e) => assert!(e.to_string().contains(want), "{body:?}: {e} (want {want})"),
        }
    }
}

#[test]
fn depth_is_bounded() {
    let schema = schema::get().expect("schema");
    let idx = schema.find("v1", "ConfigMap").expect("ConfigMap");
    let err = Decoder { schema }.message(idx, &[], MAX_DEPTH + 1).expect_err("too deep");
    assert!(err.to_string().contains("nested too deeply"));
}

/// Every truncation and many single-byte corruptions of real bodies: errors or
/// values, never a panic.
#[test]
fn corrupted_bodies_never_panic() {
    let bodies = [
        wrap("apps/v1", "Deployment", deployment(2).encode_to_vec()),
        wrap("v1", "Secret", core::Secret { data: map(&[("k", vec![1u8; 40])]), ..Default::default() }.encode_to_vec()),
    ];
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for body in bodies {
        for n in 0..body.len() {
            let _ = decode(&body[..n]);
        }
        for _ in 0..20_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let mut b = body.clone();
            let i = 4 + (seed as usize) % (b.len() - 4);
            b[i] ^= (seed >> 32) as u8 | 1;
            if seed & 0x100 != 0 {
                let j = 4 + (seed >> 40) as usize % (b.len() - 4);
                b[j] = (seed >> 16) as u8;
            }
            let _ = decode(&b);
        }
    }
}

/// The JSON names in schema.txt (from kubectl's Go tags) are the property names
/// of the same definitions in the OpenAPI document built from k8s-openapi.
#[test]
fn json_names_match_openapi_definitions() {
    let doc: Value = serde_json::from_slice(&crate::openapi::OpenApi::new().v2_json()).expect("v2 document");
    let defs = doc["definitions"].as_object().expect("definitions");
    let schema = schema::get().expect("schema");
    let mut checked = 0;
    let mut unknown = Vec::new();
    for m in schema.messages.iter().filter(|m| m.special.is_none()) {
        let Some(def) = defs.get(&format!("io.{}", m.name.replacen("k8s.io.", "k8s.", 1))) else { continue };
        let Some(props) = def.get("properties").and_then(Value::as_object) else { continue };
        // Inlined structs contribute their fields.
        let fields: Vec<&schema::Field> = m
            .fields
            .iter()
            .flat_map(|f| match (f.presence, &f.ty) {
                (schema::Presence::Inline, schema::Ty::Message(i)) => schema.messages[*i].fields.iter().collect(),
                _ => vec![f],
            })
            .collect();
        for f in &fields {
            checked += 1;
            if !props.contains_key(&f.json) {
                unknown.push(format!("{}.{}", m.name, f.json));
            }
        }
        // The other way round: the table knows every field of the definition.
        for p in props.keys().filter(|p| *p != "apiVersion" && *p != "kind") {
            assert!(fields.iter().any(|f| &f.json == p), "{} has no field {p}", m.name);
        }
    }
    assert!(checked > 1000, "only {checked} fields checked");
    // Fields newer than Kubernetes 1.33 (k8s-pb follows a later release).
    eprintln!("not in the 1.33 definitions: {unknown:?}");
    assert!(unknown.len() < 16, "{unknown:?}");
}
