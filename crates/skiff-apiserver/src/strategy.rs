//! Kind-specific rules of the generic store (upstream's registry strategies): what a
//! create resets, what an update may not touch, how long a delete waits.

use serde_json::{json, Value};
use skiff_api::registry::Resource;

use crate::objects::{self, meta_mut};

fn is(r: &Resource, group: &str, kind: &str) -> bool {
    r.group == group && r.kind == kind
}

/// Status is the controllers' to write: a create starts from an empty one.
pub fn prepare_for_create(r: &Resource, obj: &mut Value) {
    if !r.has_status || is(r, "", "Node") {
        return;
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

/// A write to the main resource keeps status and system metadata; generation moves
/// only when the spec does.
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
    if r.has_status {
        let generation = objects::meta(old).and_then(|m| m.get("generation")).and_then(Value::as_i64).unwrap_or(1);
        let generation = if objects::spec_equal(&new, old) { generation } else { generation + 1 };
        meta_mut(&mut new).insert("generation".into(), json!(generation));
    }
    new
}

/// A write to /status changes only status (for Namespace /finalize: spec.finalizers).
pub fn prepare_for_status_update(r: &Resource, new: Value, old: &Value) -> Value {
    let mut out = old.clone();
    match new.get("status") {
        Some(s) => out["status"] = s.clone(),
        None => {
            if let Some(m) = out.as_object_mut() {
                m.remove("status");
            }
        }
    }
    let _ = r;
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
            if !has(limits, res) {
                guaranteed = false;
            } else if has(requests, res) && requests.and_then(|m| m.get(res)) != limits.and_then(|m| m.get(res)) {
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
