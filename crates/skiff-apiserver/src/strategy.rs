//! Kind-specific rules of the generic store (upstream's registry strategies): what a
//! create resets, what an update may not touch, how long a delete waits.

use serde_json::{json, Value};
use skiff_api::registry::Resource;

use crate::objects::{self, meta_mut};

fn is(r: &Resource, group: &str, kind: &str) -> bool {
    r.group == group && r.kind == kind
}

/// Whether the kind's strategy keeps `metadata.generation` (1 on create, +1 per spec
/// change). Upstream's Namespace, Node, Service, PV, PVC and ResourceQuota strategies
/// do not, so those objects carry no generation.
pub fn tracks_generation(r: &Resource) -> bool {
    matches!(
        (r.group, r.kind),
        ("", "Pod")
            | ("", "ReplicationController")
            | ("apps", "Deployment" | "ReplicaSet" | "DaemonSet" | "StatefulSet")
            | ("batch", "Job" | "CronJob")
            | ("policy", "PodDisruptionBudget")
            | ("apiextensions.k8s.io", "CustomResourceDefinition")
    )
}

/// Status is the controllers' to write: a create starts from an empty one.
pub fn prepare_for_create(r: &Resource, obj: &mut Value) {
    if !r.has_status || is(r, "", "Node") {
        return;
    }
    if is(r, "", "Pod") {
        admit_pod(obj);
    }
    let status = if is(r, "", "Pod") {
        json!({"phase": "Pending", "qosClass": qos_class(obj)})
    } else if is(r, "", "PersistentVolume") || is(r, "", "PersistentVolumeClaim") {
        json!({"phase": "Pending"})
    } else if is(r, "", "Namespace") {
        json!({"phase": "Active"})
    } else if is(r, "", "Service") {
        json!({"loadBalancer": {}})
    } else {
        json!({})
    };
    obj["status"] = status;
}

/// What upstream's default admission plugins add to a new pod: the ServiceAccount
/// plugin names the `default` account, DefaultTolerationSeconds tolerates the
/// not-ready and unreachable taints for 300s unless the pod already does.
fn admit_pod(pod: &mut Value) {
    let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else { return };
    if spec.get("serviceAccountName").and_then(Value::as_str).is_none_or(str::is_empty) {
        spec.insert("serviceAccountName".into(), json!("default"));
        spec.insert("serviceAccount".into(), json!("default"));
    }
    let existing: Vec<Value> = spec.get("tolerations").and_then(Value::as_array).cloned().unwrap_or_default();
    let tolerates = |key: &str| {
        existing.iter().any(|t| {
            let k = t.get("key").and_then(Value::as_str).unwrap_or("");
            let effect = t.get("effect").and_then(Value::as_str).unwrap_or("");
            (k == key || k.is_empty()) && (effect == "NoExecute" || effect.is_empty())
        })
    };
    let mut added = existing.clone();
    for key in ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"] {
        if !tolerates(key) {
            added.push(json!({"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}));
        }
    }
    if added.len() != existing.len() {
        spec.insert("tolerations".into(), Value::Array(added));
    }
}

/// A write to the main resource keeps status and system metadata (generation is
/// `update_generation`'s).
pub fn prepare_for_update(r: &Resource, mut new: Value, old: &Value) -> Value {
    if r.has_status {
        match old.get("status") {
            Some(s) => new["status"] = s.clone(),
            None => {
                if let Some(m) = new.as_object_mut() {
                    m.remove("status");
                }
            }
        }
        if is(r, "", "Namespace") {
            // spec.finalizers changes only through /finalize.
            match old.pointer("/spec/finalizers") {
                Some(f) => new["spec"]["finalizers"] = f.clone(),
                None => {
                    if let Some(spec) = new.get_mut("spec").and_then(Value::as_object_mut) {
                        spec.remove("finalizers");
                    }
                }
            }
        }
    }
    keep_system_metadata(&mut new, old);
    new
}

/// Moves `metadata.generation` when the spec changed. Runs on the defaulted object
/// (upstream defaults while decoding, before its strategy compares), so a write that
/// only omits defaulted fields is no spec change.
pub fn update_generation(r: &Resource, new: &mut Value, old: &Value) {
    if tracks_generation(r) {
        let generation = objects::meta(old).and_then(|m| m.get("generation")).and_then(Value::as_i64).unwrap_or(1);
        let generation = if objects::spec_equal(new, old) { generation } else { generation + 1 };
        meta_mut(new).insert("generation".into(), json!(generation));
    }
}

/// A write to /status changes only status (for Namespace /finalize: spec.finalizers).
pub fn prepare_for_status_update(new: Value, old: &Value) -> Value {
    let mut out = old.clone();
    match new.get("status") {
        Some(s) => out["status"] = s.clone(),
        None => {
            if let Some(m) = out.as_object_mut() {
                m.remove("status");
            }
        }
    }
    out
}

/// The Namespace /finalize subresource: only spec.finalizers changes.
pub fn prepare_for_finalize(new: Value, old: &Value) -> Value {
    let mut out = old.clone();
    out["spec"]["finalizers"] = new.pointer("/spec/finalizers").cloned().unwrap_or_else(|| json!([]));
    out
}

fn keep_system_metadata(new: &mut Value, old: &Value) {
    let Some(old_meta) = objects::meta(old) else { return };
    let keep: Vec<(String, Option<Value>)> = ["uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "namespace", "generation"]
        .iter()
        .map(|f| (f.to_string(), old_meta.get(*f).cloned()))
        .collect();
    let m = meta_mut(new);
    for (f, v) in keep {
        match v {
            Some(v) => m.insert(f, v),
            None => m.remove(&f),
        };
    }
    m.remove("managedFields");
    m.remove("selfLink");
}

/// Upstream's garbage-collection finalizers for a delete's propagationPolicy.
pub fn gc_finalizers(r: &Resource, policy: Option<&str>, finalizers: &mut Vec<String>) {
    let policy = policy.unwrap_or(if r.group == "batch" && r.kind == "Job" { "Orphan" } else { "Background" });
    let add = match policy {
        "Orphan" => "orphan",
        "Foreground" => "foregroundDeletion",
        _ => return,
    };
    if !finalizers.iter().any(|f| f == add) {
        finalizers.push(add.to_string());
    }
}

/// Seconds a delete waits: a bound, running pod gets its grace period for the node
/// agent to stop it; everything else goes at once.
pub fn grace_period(r: &Resource, obj: &Value, requested: Option<i64>) -> i64 {
    if !is(r, "", "Pod") {
        return 0;
    }
    let bound = obj.pointer("/spec/nodeName").and_then(Value::as_str).is_some_and(|n| !n.is_empty());
    let phase = obj.pointer("/status/phase").and_then(Value::as_str).unwrap_or("");
    if !bound || phase == "Succeeded" || phase == "Failed" {
        return 0;
    }
    let grace = requested.unwrap_or_else(|| obj.pointer("/spec/terminationGracePeriodSeconds").and_then(Value::as_i64).unwrap_or(30));
    let pending = objects::meta(obj).and_then(|m| m.get("deletionGracePeriodSeconds")).and_then(Value::as_i64);
    // A repeated delete may shorten a pending grace period, never lengthen it.
    match pending {
        Some(p) => grace.clamp(0, p),
        None => grace.max(0),
    }
}

/// Whether a deleting object must stay although its metadata.finalizers are empty.
pub fn blocks_deletion(r: &Resource, obj: &Value) -> bool {
    has_spec_finalizers(r, obj) || (is(r, "", "Pod") && grace_period(r, obj, None) > 0)
}

/// Namespaces are finalized by the namespace controller through spec.finalizers.
pub fn has_spec_finalizers(r: &Resource, obj: &Value) -> bool {
    is(r, "", "Namespace") && obj.pointer("/spec/finalizers").and_then(Value::as_array).is_some_and(|f| !f.is_empty())
}

/// Upstream's NamespaceLifecycle admission: the system namespaces cannot be deleted.
pub fn admit_delete(r: &Resource, name: &str) -> Result<(), String> {
    if is(r, "", "Namespace") && matches!(name, "default" | "kube-system" | "kube-public") {
        return Err("this namespace may not be deleted".into());
    }
    Ok(())
}

pub fn prepare_for_delete(r: &Resource, obj: &mut Value) {
    if is(r, "", "Namespace") {
        obj["status"]["phase"] = json!("Terminating");
    }
}

/// Pod QoS class as upstream computes it from requests and limits.
fn qos_class(pod: &Value) -> &'static str {
    let containers = ["containers", "initContainers"]
        .iter()
        .filter_map(|f| pod.pointer(&format!("/spec/{f}")).and_then(Value::as_array))
        .flatten();
    let mut any = false;
    let mut guaranteed = true;
    for c in containers {
        let requests = c.pointer("/resources/requests").and_then(Value::as_object);
        let limits = c.pointer("/resources/limits").and_then(Value::as_object);
        let has = |m: Option<&serde_json::Map<String, Value>>, k: &str| m.is_some_and(|m| m.contains_key(k));
        if requests.is_some_and(|m| !m.is_empty()) || limits.is_some_and(|m| !m.is_empty()) {
            any = true;
        }
        for res in ["cpu", "memory"] {
            // Guaranteed needs a limit, and any request equal to it (requests default to limits).
            let differs = has(requests, res) && requests.and_then(|m| m.get(res)) != limits.and_then(|m| m.get(res));
            if !has(limits, res) || differs {
                guaranteed = false;
            }
        }
    }
    if !any {
        "BestEffort"
    } else if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qos() {
        let pod = |res: Value| json!({"spec":{"containers":[{"name":"c","resources":res}]}});
        assert_eq!(qos_class(&pod(json!({}))), "BestEffort");
        assert_eq!(qos_class(&pod(json!({"limits":{"cpu":"1","memory":"1Gi"}}))), "Guaranteed");
        assert_eq!(qos_class(&pod(json!({"requests":{"cpu":"1"}}))), "Burstable");
        assert_eq!(qos_class(&pod(json!({"requests":{"cpu":"500m","memory":"1Gi"},"limits":{"cpu":"1","memory":"1Gi"}}))), "Burstable");
    }
}
