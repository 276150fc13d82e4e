//! Patches as kubectl and the controllers send them, with exact expected results. Results
//! are compared as serialized JSON, so object key order is checked too.

use serde_json::{json, Value};

use super::{json_patch, merge_patch, strategic_merge, PatchError};

fn deployment() -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "namespace": "default",
            "labels": {"app": "web", "tier": "front"},
            "annotations": {"deployment.kubernetes.io/revision": "1"}
        },
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}
            },
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {
                            "name": "nginx",
                            "image": "nginx:1.25",
                            "ports": [{"containerPort": 80, "protocol": "TCP"}],
                            "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                            "volumeMounts": [{"name": "cfg", "mountPath": "/etc/nginx/conf.d"}]
                        },
                        {"name": "sidecar", "image": "busybox:1.36", "args": ["sleep", "infinity"]}
                    ],
                    "volumes": [{"name": "cfg", "configMap": {"name": "web-cfg"}}]
                }
            }
        }
    })
}

fn pod() -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "web-0",
            "namespace": "default",
            "uid": "pod-uid",
            "labels": {"app": "web", "tier": "front"},
            "finalizers": ["example.com/protect"],
            "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d4b9", "uid": "rs-uid", "controller": true}
            ]
        },
        "spec": {
            "containers": [{"name": "app", "image": "app:1"}],
            "tolerations": [
                {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
            ],
            "nodeName": "node-1"
        },
        "status": {
            "phase": "Running",
            "conditions": [
                {"type": "Ready", "status": "True"},
                {"type": "PodScheduled", "status": "True"}
            ]
        }
    })
}

fn smp(group: &str, kind: &str, original: &Value, patch: Value) -> Value {
    match strategic_merge(group, kind, original, &patch) {
        Ok(v) => v,
        Err(e) => panic!("patch {patch} failed: {e}"),
    }
}

fn smp_err(group: &str, kind: &str, original: &Value, patch: Value) -> String {
    match strategic_merge(group, kind, original, &patch) {
        Ok(v) => panic!("patch {patch} should fail, gave {v}"),
        Err(PatchError::Invalid(msg)) => msg,
        Err(e) => panic!("expected Invalid, got {e:?}"),
    }
}

/// Exact comparison, key order included.
#[track_caller]
fn assert_json(actual: &Value, expected: &Value) {
    let pretty = |v: &Value| serde_json::to_string_pretty(v).unwrap_or_default();
    assert_eq!(pretty(actual), pretty(expected));
}

/// Replaces the value at an existing JSON pointer.
fn set(doc: &mut Value, pointer: &str, value: Value) {
    *doc.pointer_mut(pointer)
        .unwrap_or_else(|| panic!("no {pointer}")) = value;
}

/// Adds (or overwrites) `key` in the object at `pointer`.
fn insert(doc: &mut Value, pointer: &str, key: &str, value: Value) {
    let obj = doc.pointer_mut(pointer).and_then(Value::as_object_mut);
    obj.unwrap_or_else(|| panic!("no object at {pointer}"))
        .insert(key.to_string(), value);
}

// ---- kubectl apply / edit (three-way and two-way patches with directives) ----

#[test]
fn apply_changes_one_container_image() {
    let patch = json!({
        "metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{\"kind\":\"Deployment\"}\n"}},
        "spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "nginx"}, {"name": "sidecar"}],
            "containers": [{"image": "nginx:1.26", "name": "nginx"}]
        }}}
    });
    let got = smp("apps", "Deployment", &deployment(), patch);
    let mut want = deployment();
    insert(
        &mut want,
        "/metadata/annotations",
        "kubectl.kubernetes.io/last-applied-configuration",
        json!("{\"kind\":\"Deployment\"}\n"),
    );
    set(
        &mut want,
        "/spec/template/spec/containers/0/image",
        json!("nginx:1.26"),
    );
    assert_json(&got, &want);
}

#[test]
fn apply_orders_containers_by_set_element_order() {
    let patch = json!({"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "sidecar"}, {"name": "nginx"}, {"name": "metrics"}],
        "containers": [{"image": "exporter:1", "name": "metrics"}]
    }}}});
    let got = smp("apps", "Deployment", &deployment(), patch);
    let d = deployment();
    let containers = &d["spec"]["template"]["spec"]["containers"];
    let mut want = deployment();
    set(
        &mut want,
        "/spec/template/spec/containers",
        json!([containers[1], containers[0], {"image": "exporter:1", "name": "metrics"}]),
    );
    assert_json(&got, &want);
}

#[test]
fn apply_deletes_a_removed_container() {
    let patch = json!({"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "nginx"}],
        "containers": [{"$patch": "delete", "name": "sidecar"}]
    }}}});
    let got = smp("apps", "Deployment", &deployment(), patch);
    let mut want = deployment();
    let nginx = want["spec"]["template"]["spec"]["containers"][0].clone();
    set(&mut want, "/spec/template/spec/containers", json!([nginx]));
    assert_json(&got, &want);
}

#[test]
fn edit_changes_an_env_value_in_nested_ordered_lists() {
    let patch = json!({"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "nginx"}, {"name": "sidecar"}],
        "containers": [{
            "$setElementOrder/env": [{"name": "A"}, {"name": "B"}],
            "env": [{"name": "B", "value": "20"}],
            "name": "nginx"
        }]
    }}}});
    let got = smp("apps", "Deployment", &deployment(), patch);
    let mut want = deployment();
    set(
        &mut want,
        "/spec/template/spec/containers/0/env/1/value",
        json!("20"),
    );
    assert_json(&got, &want);
}

#[test]
fn apply_switches_strategy_with_retain_keys() {
    // What kubectl apply sends when the manifest changes RollingUpdate to Recreate.
    let patch = json!({"spec": {"strategy": {
        "$retainKeys": ["type"], "rollingUpdate": null, "type": "Recreate"
    }}});
    let got = smp("apps", "Deployment", &deployment(), patch);
    let mut want = deployment();
    set(&mut want, "/spec/strategy", json!({"type": "Recreate"}));
    assert_json(&got, &want);

    // Without the explicit null, $retainKeys alone clears rollingUpdate.
    let patch = json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}});
    assert_json(&smp("apps", "Deployment", &deployment(), patch), &want);
}

#[test]
fn retain_keys_must_list_every_patched_key() {
    let patch = json!({"spec": {"strategy": {
        "$retainKeys": ["type"], "type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}
    }}});
    let msg = smp_err("apps", "Deployment", &deployment(), patch);
    assert_eq!(msg, "invalid patch format of retainKeys");
    let msg = smp_err(
        "apps",
        "Deployment",
        &deployment(),
        json!({"spec": {"strategy": {"$retainKeys": "type"}}}),
    );
    assert_eq!(msg, "invalid patch format of retainKeys");
}

#[test]
fn apply_switches_a_volume_source_with_retain_keys() {
    let patch = json!({"spec": {"template": {"spec": {
        "$setElementOrder/volumes": [{"name": "cfg"}],
        "volumes": [{"$retainKeys": ["name", "secret"], "name": "cfg", "secret": {"secretName": "web-secret"}}]
    }}}});
    let got = smp("apps", "Deployment", &deployment(), patch);
    let mut want = deployment();
    set(
        &mut want,
        "/spec/template/spec/volumes",
        json!([{"name": "cfg", "secret": {"secretName": "web-secret"}}]),
    );
    assert_json(&got, &want);
}

#[test]
fn patch_replace_directive_replaces_a_whole_list() {
    let patch = json!({"spec": {"template": {"spec": {
        "volumes": [{"$patch": "replace"}, {"name": "data", "emptyDir": {}}]
    }}}});
    let got = smp("apps", "Deployment", &deployment(), patch);
    let mut want = deployment();
    set(
        &mut want,
        "/spec/template/spec/volumes",
        json!([{"name": "data", "emptyDir": {}}]),
    );
    assert_json(&got, &want);

    // A lone replace marker empties the list.
    let patch = json!({"spec": {"template": {"spec": {"volumes": [{"$patch": "replace"}]}}}});
    let got = smp("apps", "Deployment", &deployment(), patch);
    set(&mut want, "/spec/template/spec/volumes", json!([]));
    assert_json(&got, &want);
}

#[test]
fn patch_replace_and_delete_directives_on_maps() {
    let got = smp(
        "",
        "Pod",
        &pod(),
        json!({"metadata": {"labels": {"$patch": "replace", "app": "api"}}}),
    );
    let mut want = pod();
    set(&mut want, "/metadata/labels", json!({"app": "api"}));
    assert_json(&got, &want);

    // `$patch: delete` empties an existing map but keeps the key...
    let original = json!({"spec": {"securityContext": {"runAsNonRoot": true}, "nodeName": "n"}});
    let got = smp(
        "",
        "Pod",
        &original,
        json!({"spec": {"securityContext": {"$patch": "delete"}}}),
    );
    assert_json(
        &got,
        &json!({"spec": {"securityContext": {}, "nodeName": "n"}}),
    );
    // ...and adds nothing where there was nothing.
    let got = smp(
        "",
        "Pod",
        &original,
        json!({"spec": {"affinity": {"$patch": "delete"}}}),
    );
    assert_json(&got, &original);

    // At the top level the whole object is replaced.
    let got = smp(
        "",
        "ConfigMap",
        &json!({"data": {"a": "1"}}),
        json!({"$patch": "replace", "data": {"b": "2"}}),
    );
    assert_json(&got, &json!({"data": {"b": "2"}}));
}

// ---- imperative kubectl commands ----

#[test]
fn kubectl_label_adds_and_removes_labels() {
    let got = smp(
        "",
        "Pod",
        &pod(),
        json!({"metadata": {"labels": {"env": "prod"}}}),
    );
    let mut want = pod();
    insert(&mut want, "/metadata/labels", "env", json!("prod"));
    assert_json(&got, &want);

    // `kubectl label pod web-0 app-`: the remaining keys keep their order.
    let got = smp(
        "",
        "Pod",
        &pod(),
        json!({"metadata": {"labels": {"app": null}}}),
    );
    let mut want = pod();
    set(&mut want, "/metadata/labels", json!({"tier": "front"}));
    assert_json(&got, &want);

    // Removing a label that is not there is a no-op.
    assert_json(
        &smp(
            "",
            "Pod",
            &pod(),
            json!({"metadata": {"labels": {"nope": null}}}),
        ),
        &pod(),
    );
}

#[test]
fn kubectl_annotate_adds_the_annotations_map() {
    let got = smp(
        "",
        "Pod",
        &pod(),
        json!({"metadata": {"annotations": {"team": "web"}}}),
    );
    let mut want = pod();
    insert(
        &mut want,
        "/metadata",
        "annotations",
        json!({"team": "web"}),
    );
    assert_json(&got, &want);
}

#[test]
fn kubectl_scale_sets_replicas() {
    let got = smp(
        "apps",
        "Deployment",
        &deployment(),
        json!({"spec": {"replicas": 3}}),
    );
    let mut want = deployment();
    set(&mut want, "/spec/replicas", json!(3));
    assert_json(&got, &want);
}

#[test]
fn kubectl_set_image_merges_containers_by_name() {
    let patch = json!({"spec": {"template": {"spec": {"containers": [{"image": "nginx:1.27", "name": "nginx"}]}}}});
    let got = smp("apps", "Deployment", &deployment(), patch);
    let mut want = deployment();
    set(
        &mut want,
        "/spec/template/spec/containers/0/image",
        json!("nginx:1.27"),
    );
    assert_json(&got, &want);

    // The second container too: order is kept.
    let patch = json!({"spec": {"template": {"spec": {"containers": [{"image": "busybox:1.37", "name": "sidecar"}]}}}});
    let got = smp("apps", "Deployment", &deployment(), patch);
    let mut want = deployment();
    set(
        &mut want,
        "/spec/template/spec/containers/1/image",
        json!("busybox:1.37"),
    );
    assert_json(&got, &want);
}

#[test]
fn kubectl_set_image_on_a_cronjob_reaches_the_job_template() {
    let cronjob = json!({
        "metadata": {"name": "nightly"},
        "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": {"spec": {
            "containers": [{"name": "backup", "image": "backup:1"}, {"name": "upload", "image": "upload:1"}],
            "restartPolicy": "OnFailure"
        }}}}}
    });
    let patch = json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {
        "containers": [{"image": "upload:2", "name": "upload"}]
    }}}}}});
    let got = smp("batch", "CronJob", &cronjob, patch);
    let mut want = cronjob.clone();
    set(
        &mut want,
        "/spec/jobTemplate/spec/template/spec/containers/1/image",
        json!("upload:2"),
    );
    assert_json(&got, &want);
}

#[test]
fn kubectl_rollout_restart_annotates_the_template() {
    let patch = json!({"spec": {"template": {"metadata": {"annotations": {
        "kubectl.kubernetes.io/restartedAt": "2025-06-01T10:00:00Z"
    }}}}});
    let got = smp("apps", "Deployment", &deployment(), patch);
    let mut want = deployment();
    insert(
        &mut want,
        "/spec/template/metadata",
        "annotations",
        json!({"kubectl.kubernetes.io/restartedAt": "2025-06-01T10:00:00Z"}),
    );
    assert_json(&got, &want);
}

#[test]
fn kubectl_rollout_pause_and_resume() {
    let paused = smp(
        "apps",
        "Deployment",
        &deployment(),
        json!({"spec": {"paused": true}}),
    );
    let mut want = deployment();
    insert(&mut want, "/spec", "paused", json!(true));
    assert_json(&paused, &want);
    // resume: `paused` is omitempty, so the two-way patch nulls it
    let resumed = smp(
        "apps",
        "Deployment",
        &paused,
        json!({"spec": {"paused": null}}),
    );
    assert_json(&resumed, &deployment());
}

#[test]
fn kubectl_rollout_undo_json_patch_replaces_template() {
    // kubectl rollout undo sends a JSON patch restoring the old ReplicaSet's template.
    let old_template = json!({
        "metadata": {"labels": {"app": "web"}},
        "spec": {"containers": [{"name": "nginx", "image": "nginx:1.24"}]}
    });
    let patch = json!([
        {"op": "replace", "path": "/spec/template", "value": old_template},
        {"op": "replace", "path": "/metadata/annotations", "value": {"deployment.kubernetes.io/revision": "1"}}
    ]);
    let got = json_patch(&deployment(), &patch).map_err(|e| e.to_string());
    let mut want = deployment();
    set(&mut want, "/spec/template", old_template);
    assert_eq!(got.map(|v| v.to_string()), Ok(want.to_string()));
}

// ---- lists merged by key ----

#[test]
fn env_var_deleted_with_patch_delete() {
    let patch = json!({"spec": {"template": {"spec": {"containers": [
        {"name": "nginx", "env": [{"$patch": "delete", "name": "A"}]}
    ]}}}});
    let got = smp("apps", "Deployment", &deployment(), patch);
    let mut want = deployment();
    set(
        &mut want,
        "/spec/template/spec/containers/0/env",
        json!([{"name": "B", "value": "2"}]),
    );
    assert_json(&got, &want);
}

#[test]
fn env_var_added_without_order_goes_first() {
    // Upstream places items new to the live list before it when no $setElementOrder says
    // otherwise.
    let patch = json!({"spec": {"template": {"spec": {"containers": [
        {"name": "nginx", "env": [{"name": "C", "value": "3"}]}
    ]}}}});
    let got = smp("apps", "Deployment", &deployment(), patch);
    let mut want = deployment();
    set(
        &mut want,
        "/spec/template/spec/containers/0/env",
        json!([{"name": "C", "value": "3"}, {"name": "A", "value": "1"}, {"name": "B", "value": "2"}]),
    );
    assert_json(&got, &want);
}

#[test]
fn container_ports_merge_by_container_port() {
    let patch = json!({"spec": {"template": {"spec": {"containers": [
        {"name": "nginx", "ports": [{"containerPort": 80, "name": "http"}]}
    ]}}}});
    let got = smp("apps", "Deployment", &deployment(), patch);
    let mut want = deployment();
    insert(
        &mut want,
        "/spec/template/spec/containers/0/ports/0",
        "name",
        json!("http"),
    );
    assert_json(&got, &want);
}

#[test]
fn service_ports_merge_by_port() {
    let svc = json!({"spec": {"type": "ClusterIP", "ports": [
        {"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"},
        {"name": "https", "port": 443, "targetPort": 8443, "protocol": "TCP"}
    ]}});
    let got = smp(
        "",
        "Service",
        &svc,
        json!({"spec": {"ports": [{"port": 443, "targetPort": 9443}]}}),
    );
    let mut want = svc.clone();
    set(&mut want, "/spec/ports/1/targetPort", json!(9443));
    assert_json(&got, &want);
}

#[test]
fn tolerations_are_atomic() {
    let tolerations =
        json!([{"key": "dedicated", "operator": "Equal", "value": "web", "effect": "NoSchedule"}]);
    let got = smp(
        "",
        "Pod",
        &pod(),
        json!({"spec": {"tolerations": tolerations}}),
    );
    let mut want = pod();
    set(&mut want, "/spec/tolerations", tolerations);
    assert_json(&got, &want);
}

#[test]
fn owner_references_merge_by_uid() {
    let added = json!({"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": "cm-uid"});
    let got = smp(
        "",
        "Pod",
        &pod(),
        json!({"metadata": {"ownerReferences": [added]}}),
    );
    let mut want = pod();
    let rs = want["metadata"]["ownerReferences"][0].clone();
    set(&mut want, "/metadata/ownerReferences", json!([added, rs]));
    assert_json(&got, &want);

    // The garbage collector's orphaning patch.
    let patch = json!({"metadata": {"ownerReferences": [{"$patch": "delete", "uid": "rs-uid"}], "uid": "pod-uid"}});
    let got = smp("", "Pod", &pod(), patch);
    let mut want = pod();
    set(&mut want, "/metadata/ownerReferences", json!([]));
    assert_json(&got, &want);
}

#[test]
fn status_conditions_merge_by_type() {
    let patch = json!({"status": {"conditions": [
        {"type": "Ready", "status": "False", "reason": "ContainersNotReady"}
    ]}});
    let got = smp("", "Pod", &pod(), patch);
    let mut want = pod();
    set(
        &mut want,
        "/status/conditions/0",
        json!({"type": "Ready", "status": "False", "reason": "ContainersNotReady"}),
    );
    assert_json(&got, &want);
}

#[test]
fn node_status_patch_from_kubelet() {
    let node = json!({"metadata": {"name": "node-1"}, "status": {"conditions": [
        {"type": "MemoryPressure", "status": "False", "lastHeartbeatTime": "t0"},
        {"type": "Ready", "status": "True", "lastHeartbeatTime": "t0"}
    ]}});
    let patch = json!({"status": {
        "$setElementOrder/conditions": [{"type": "MemoryPressure"}, {"type": "Ready"}],
        "conditions": [
            {"lastHeartbeatTime": "t1", "type": "MemoryPressure"},
            {"lastHeartbeatTime": "t1", "type": "Ready"}
        ]
    }});
    let got = smp("", "Node", &node, patch);
    let mut want = node.clone();
    set(
        &mut want,
        "/status/conditions/0/lastHeartbeatTime",
        json!("t1"),
    );
    set(
        &mut want,
        "/status/conditions/1/lastHeartbeatTime",
        json!("t1"),
    );
    assert_json(&got, &want);
}

#[test]
fn pdb_selector_is_replaced_whole() {
    let pdb = json!({"spec": {"minAvailable": 1, "selector": {
        "matchLabels": {"app": "web"},
        "matchExpressions": [{"key": "tier", "operator": "In", "values": ["front"]}]
    }}});
    let got = smp(
        "policy",
        "PodDisruptionBudget",
        &pdb,
        json!({"spec": {"selector": {"matchLabels": {"app": "api"}}}}),
    );
    assert_json(
        &got,
        &json!({"spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "api"}}}}),
    );
}

// ---- primitive lists ----

#[test]
fn finalizers_merge_as_a_set() {
    let got = smp(
        "",
        "Pod",
        &pod(),
        json!({"metadata": {"finalizers": ["example.com/cleanup", "example.com/protect"]}}),
    );
    let mut want = pod();
    set(
        &mut want,
        "/metadata/finalizers",
        json!(["example.com/cleanup", "example.com/protect"]),
    );
    assert_json(&got, &want);

    // A new item alone goes before the live ones (upstream ordering).
    let got = smp(
        "",
        "Pod",
        &pod(),
        json!({"metadata": {"finalizers": ["example.com/cleanup"]}}),
    );
    assert_json(&got, &want);

    // kubectl apply states the order.
    let patch = json!({"metadata": {
        "$setElementOrder/finalizers": ["example.com/protect", "example.com/cleanup"],
        "finalizers": ["example.com/cleanup"]
    }});
    let got = smp("", "Pod", &pod(), patch);
    set(
        &mut want,
        "/metadata/finalizers",
        json!(["example.com/protect", "example.com/cleanup"]),
    );
    assert_json(&got, &want);
}

#[test]
fn finalizers_deleted_from_primitive_list() {
    let patch =
        json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["example.com/protect"]}});
    let got = smp("", "Pod", &pod(), patch);
    let mut want = pod();
    set(&mut want, "/metadata/finalizers", json!([]));
    assert_json(&got, &want);

    // kubectl apply replacing one finalizer by another.
    let patch = json!({"metadata": {
        "$setElementOrder/finalizers": ["example.com/cleanup"],
        "$deleteFromPrimitiveList/finalizers": ["example.com/protect"],
        "finalizers": ["example.com/cleanup"]
    }});
    let got = smp("", "Pod", &pod(), patch);
    set(
        &mut want,
        "/metadata/finalizers",
        json!(["example.com/cleanup"]),
    );
    assert_json(&got, &want);

    // Deleting from a list that is absent adds nothing.
    let original = json!({"metadata": {"name": "x"}});
    let patch = json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}});
    assert_json(&smp("", "Pod", &original, patch), &original);

    // It also works on a list without the merge strategy (upstream #110472).
    let patch = json!({"spec": {"template": {"spec": {"containers": [
        {"name": "sidecar", "$deleteFromPrimitiveList/args": ["infinity"]}
    ]}}}});
    let got = smp("apps", "Deployment", &deployment(), patch);
    let mut want = deployment();
    set(
        &mut want,
        "/spec/template/spec/containers/1/args",
        json!(["sleep"]),
    );
    assert_json(&got, &want);
}

#[test]
fn node_pod_cidrs_merge_as_a_set() {
    let node = json!({"spec": {"podCIDRs": ["10.0.1.0/24"]}});
    let got = smp(
        "",
        "Node",
        &node,
        json!({"spec": {"podCIDRs": ["10.0.1.0/24", "fd00::/64"]}}),
    );
    assert_json(
        &got,
        &json!({"spec": {"podCIDRs": ["10.0.1.0/24", "fd00::/64"]}}),
    );
}

// ---- upstream's own cases (strategicpatch patch_test.go), on real fields ----

#[test]
fn upstream_order_cases() {
    // "preserve the order from the patch in a merging list 2"
    let original = json!({"spec": {"containers": [
        {"name": "1"}, {"name": "2", "image": "b"}, {"name": "3"}
    ]}});
    let patch =
        json!({"spec": {"containers": [{"name": "3", "image": "c"}, {"name": "1", "image": "a"}]}});
    let got = smp("", "Pod", &original, patch);
    let want = json!({"spec": {"containers": [
        {"name": "2", "image": "b"}, {"name": "3", "image": "c"}, {"name": "1", "image": "a"}
    ]}});
    assert_json(&got, &want);

    // "$setElementOrder contains item that is not present in the list to be merged"
    let original = json!({"spec": {"containers": [{"name": "1"}, {"name": "3"}]}});
    let patch = json!({"spec": {
        "$setElementOrder/containers": [{"name": "3"}, {"name": "2"}, {"name": "1"}],
        "containers": [{"name": "3", "image": "3"}, {"name": "1", "image": "1"}]
    }});
    let got = smp("", "Pod", &original, patch);
    let want =
        json!({"spec": {"containers": [{"name": "3", "image": "3"}, {"name": "1", "image": "1"}]}});
    assert_json(&got, &want);

    // "nested patch merge with empty list", three-way patch on the current object
    let original = json!({"name": "hi", "spec": {"containers": [{"name": "hello2"}]}});
    let patch = json!({"spec": {
        "$setElementOrder/containers": [{"name": "hello"}, {"name": "doesntexist"}],
        "containers": [{"name": "hello"}, {"$patch": "delete", "name": "doesntexist"}]
    }});
    let got = smp("", "Pod", &original, patch);
    let want =
        json!({"name": "hi", "spec": {"containers": [{"name": "hello"}, {"name": "hello2"}]}});
    assert_json(&got, &want);

    // "merge lists of maps", three-way patch on the current object
    let original = json!({"spec": {"containers": [
        {"name": "1", "image": "a"}, {"name": "2", "args": ["2"], "image": "b"}
    ]}});
    let patch = json!({"spec": {
        "$setElementOrder/containers": [{"name": "4"}, {"name": "1"}, {"name": "2"}, {"name": "3"}],
        "containers": [{"name": "4", "args": ["4"]}, {"name": "3", "args": ["3"]}]
    }});
    let got = smp("", "Pod", &original, patch);
    let want = json!({"spec": {"containers": [
        {"name": "4", "args": ["4"]},
        {"name": "1", "image": "a"},
        {"name": "2", "args": ["2"], "image": "b"},
        {"name": "3", "args": ["3"]}
    ]}});
    assert_json(&got, &want);

    // "delete items in lists of scalars", three-way patch on the current object
    let original = json!({"metadata": {"finalizers": ["1", "2", "3", "4"]}});
    let patch = json!({"metadata": {
        "$setElementOrder/finalizers": ["1", "2"],
        "$deleteFromPrimitiveList/finalizers": ["3"]
    }});
    let got = smp("", "Pod", &original, patch);
    assert_json(&got, &json!({"metadata": {"finalizers": ["1", "2", "4"]}}));

    // "unique scalars when merging lists"
    let original = json!({"metadata": {"finalizers": ["1", "2"]}});
    let got = smp(
        "",
        "Pod",
        &original,
        json!({"metadata": {"finalizers": ["2", "3"]}}),
    );
    assert_json(&got, &json!({"metadata": {"finalizers": ["1", "2", "3"]}}));
}

// ---- values the original has no room for ----

#[test]
fn new_values_lose_nulls_and_directives() {
    let patch = json!({"spec": {"affinity": {
        "nodeAffinity": null,
        "podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
            {"topologyKey": "kubernetes.io/hostname", "labelSelector": {"matchLabels": {"app": "web"}, "matchExpressions": null}}
        ]}
    }}});
    let got = smp("", "Pod", &pod(), patch);
    let mut want = pod();
    insert(
        &mut want,
        "/spec",
        "affinity",
        json!({"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
            {"topologyKey": "kubernetes.io/hostname", "labelSelector": {"matchLabels": {"app": "web"}}}
        ]}}),
    );
    assert_json(&got, &want);

    // A new container carrying directives: they never reach the stored object.
    let patch = json!({"spec": {"containers": [{
        "name": "new", "image": "x",
        "$setElementOrder/env": [{"name": "A"}],
        "env": [{"name": "A", "value": "1"}, {"$patch": "delete", "name": "Z"}]
    }]}});
    let got = smp("", "Pod", &json!({"spec": {}}), patch);
    let want = json!({"spec": {"containers": [{"name": "new", "image": "x", "env": [{"name": "A", "value": "1"}]}]}});
    assert_json(&got, &want);

    // A strategy added where there was none keeps no $retainKeys.
    let got = smp(
        "apps",
        "Deployment",
        &json!({"spec": {}}),
        json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}),
    );
    assert_json(&got, &json!({"spec": {"strategy": {"type": "Recreate"}}}));
}

#[test]
fn unknown_kinds_replace_lists() {
    let widget = json!({"metadata": {"name": "w", "finalizers": ["a"]}, "spec": {"size": 1, "items": [{"name": "x", "v": 1}]}});
    let patch = json!({"metadata": {"finalizers": ["b"]}, "spec": {"items": [{"name": "y"}], "size": null, "color": "red"}});
    let got = smp("example.com", "Widget", &widget, patch);
    let want = json!({"metadata": {"name": "w", "finalizers": ["b"]}, "spec": {"items": [{"name": "y"}], "color": "red"}});
    assert_json(&got, &want);

    // Directives still apply.
    let got = smp(
        "example.com",
        "Widget",
        &widget,
        json!({"spec": {"$patch": "replace", "size": 2}}),
    );
    let want = json!({"metadata": {"name": "w", "finalizers": ["a"]}, "spec": {"size": 2}});
    assert_json(&got, &want);
}

// ---- malformed patches: upstream's words ----

#[test]
fn unknown_patch_directive_is_rejected() {
    let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "nginx", "$patch": "bogus"}]}}}});
    let msg = smp_err("apps", "Deployment", &deployment(), patch);
    assert_eq!(
        msg,
        "unknown patch type: bogus in map: map[$patch:bogus name:nginx]"
    );

    let msg = smp_err(
        "",
        "Pod",
        &pod(),
        json!({"metadata": {"labels": {"$patch": "bogus"}}}),
    );
    assert_eq!(msg, "unknown patch type: bogus in map: map[$patch:bogus]");

    let msg = smp_err(
        "",
        "Pod",
        &pod(),
        json!({"metadata": {"labels": {"$patch": 1, "a": "b"}}}),
    );
    assert_eq!(
        msg,
        "unknown patch type: %!s(int64=1) in map: map[$patch:1 a:b]"
    );

    let patch = json!({"spec": {"containers": [{"$patch": "merge", "name": "app"}]}});
    let msg = smp_err("", "Pod", &pod(), patch);
    assert_eq!(msg, "merging lists cannot yet be specified in the patch");

    // A map-level `merge` is not a thing either.
    let msg = smp_err("", "Pod", &pod(), json!({"spec": {"$patch": "merge"}}));
    assert_eq!(msg, "unknown patch type: merge in map: map[$patch:merge]");
}

#[test]
fn malformed_list_patches_are_rejected() {
    let patch = json!({"spec": {"template": {"spec": {"containers": [{"image": "nginx:1.27"}]}}}});
    let msg = smp_err("apps", "Deployment", &deployment(), patch);
    assert_eq!(
        msg,
        "map: map[image:nginx:1.27] does not contain declared merge key: name"
    );

    let patch = json!({"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "nginx"}, {"name": "sidecar"}],
        "containers": [{"name": "sidecar", "image": "b"}, {"name": "nginx", "image": "a"}]
    }}}});
    let msg = smp_err("apps", "Deployment", &deployment(), patch);
    assert_eq!(
        msg,
        "the order in patch list:\n[map[image:b name:sidecar] map[image:a name:nginx]]\n \
         doesn't match $setElementOrder list:\n[map[name:nginx] map[name:sidecar]]"
    );

    let msg = smp_err(
        "",
        "Pod",
        &pod(),
        json!({"spec": {"$setElementOrder/containers": "app"}}),
    );
    assert_eq!(msg, "expected a []interface {}, but received a string");

    let msg = smp_err(
        "",
        "Pod",
        &pod(),
        json!({"metadata": {"$deleteFromPrimitiveList": ["x"]}}),
    );
    assert_eq!(msg, "invalid patch format of primitive list");

    let msg = smp_err(
        "",
        "Pod",
        &pod(),
        json!({"metadata": {"finalizers": [{"name": "x"}]}}),
    );
    assert_eq!(
        msg,
        "list element types are not identical: [[example.com/protect] [map[name:x]]]"
    );

    let original = json!({"metadata": {"finalizers": []}});
    let msg = smp_err(
        "",
        "Pod",
        &original,
        json!({"metadata": {"finalizers": [["x"]]}}),
    );
    assert_eq!(msg, "lists of lists are not supported");

    let msg = smp_err("", "Pod", &pod(), json!(["not", "an", "object"]));
    assert_eq!(
        msg,
        "json: cannot unmarshal array into Go value of type map[string]interface {}"
    );

    // `null` decodes to an empty patch.
    assert_json(&smp("", "Pod", &pod(), Value::Null), &pod());
}

// ---- JSON merge patch (RFC 7386) ----

#[test]
fn merge_patch_deletes_nulls_and_replaces_lists() {
    let patch = json!({
        "metadata": {"labels": {"tier": null, "env": "prod"}},
        "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}]}}}
    });
    let got = merge_patch(&deployment(), &patch);
    let mut want = deployment();
    set(
        &mut want,
        "/metadata/labels",
        json!({"app": "web", "env": "prod"}),
    );
    set(&mut want, "/spec/replicas", json!(2));
    set(
        &mut want,
        "/spec/template/spec/containers",
        json!([{"name": "nginx", "image": "nginx:1.27"}]),
    );
    assert_json(&got, &want);
}

#[test]
fn merge_patch_edge_cases() {
    // New objects lose their nulls; an unknown key deleted is a no-op.
    let got = merge_patch(
        &json!({"a": 1}),
        &json!({"b": {"c": null, "d": 1}, "z": null}),
    );
    assert_json(&got, &json!({"a": 1, "b": {"d": 1}}));
    // A non-object patch replaces the document.
    assert_json(&merge_patch(&json!({"a": 1}), &json!(["x"])), &json!(["x"]));
    // An object patch onto a scalar starts from an empty object.
    assert_json(
        &merge_patch(&json!({"a": "s"}), &json!({"a": {"b": 1, "c": null}})),
        &json!({"a": {"b": 1}}),
    );
    // Directives mean nothing here.
    let got = merge_patch(
        &json!({"l": {"a": "1"}}),
        &json!({"l": {"$patch": "replace"}}),
    );
    assert_json(&got, &json!({"l": {"a": "1", "$patch": "replace"}}));
}

// ---- JSON patch (RFC 6902) ----

#[test]
fn json_patch_add_remove_replace_test() {
    let patch = json!([
        {"op": "test", "path": "/spec/replicas", "value": 1},
        {"op": "replace", "path": "/spec/replicas", "value": 5},
        {"op": "add", "path": "/metadata/labels/env", "value": "prod"},
        {"op": "remove", "path": "/metadata/labels/tier"},
        {"op": "add", "path": "/spec/template/spec/containers/1/args/-", "value": "--verbose"},
        {"op": "remove", "path": "/spec/strategy/rollingUpdate"}
    ]);
    let got = json_patch(&deployment(), &patch).map_err(|e| e.to_string());
    let mut want = deployment();
    set(&mut want, "/spec/replicas", json!(5));
    set(
        &mut want,
        "/metadata/labels",
        json!({"app": "web", "env": "prod"}),
    );
    set(
        &mut want,
        "/spec/template/spec/containers/1/args",
        json!(["sleep", "infinity", "--verbose"]),
    );
    set(
        &mut want,
        "/spec/strategy",
        json!({"type": "RollingUpdate"}),
    );
    assert_eq!(got, Ok(want));
}

#[test]
fn json_patch_failures() {
    let d = deployment();
    let patch = json!([{"op": "test", "path": "/spec/replicas", "value": 2}, {"op": "replace", "path": "/spec/replicas", "value": 5}]);
    match json_patch(&d, &patch) {
        Err(PatchError::Conflict(msg)) => {
            assert_eq!(msg, "testing value /spec/replicas failed: test failed")
        }
        other => panic!("{other:?}"),
    }
    match json_patch(&d, &json!([{"op": "remove", "path": "/spec/paused"}])) {
        Err(PatchError::Conflict(msg)) => {
            assert_eq!(msg, "remove operation does not apply: doc is missing path: \"/spec/paused\": missing value")
        }
        other => panic!("{other:?}"),
    }
    match json_patch(
        &d,
        &json!([{"op": "replace", "path": "/spec/nope/x", "value": 1}]),
    ) {
        Err(PatchError::Conflict(msg)) => {
            assert_eq!(
                msg,
                "replace operation does not apply: doc is missing key: /spec/nope/x: missing value"
            )
        }
        other => panic!("{other:?}"),
    }
    for bad in [
        json!({"op": "add"}),
        json!([{"op": "frobnicate", "path": "/a"}]),
        json!([{"op": "add", "path": "/a"}]),
    ] {
        assert!(
            matches!(json_patch(&d, &bad), Err(PatchError::Invalid(_))),
            "{bad}"
        );
    }
}
