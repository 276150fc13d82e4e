//! Defaulting as Kubernetes v1.33 applies it to v1 objects (`SetDefaults_*` of the
//! core, apps, batch and smaller groups, plus the few values upstream's registry
//! or admission fills in that users always see: a Namespace's `kubernetes`
//! finalizer, a Service's IP family, a Pod's priority). Runs before validation on
//! create and update; every default only fills what is unset.
//!
//! Quantities in resource lists are rounded up to milli-units and printed in their
//! canonical form, as the API server answers them (`0.5` → `500m`).

mod apps;
mod batch;
mod core;
mod others;

use serde_json::{Map, Value};

pub use batch::generate_job_selector;

/// Fills in upstream's defaults for an object of `group`/`kind`, in place.
pub fn apply_defaults(group: &str, kind: &str, obj: &mut Value) {
    if !obj.is_object() {
        return;
    }
    match (group, kind) {
        ("", "Pod") => core::pod(obj),
        ("", "PodTemplate") => core::pod_template(child(obj, "template")),
        ("", "ReplicationController") => core::replication_controller(obj),
        ("", "Service") => core::service(obj),
        ("", "Namespace") => core::namespace(obj),
        ("", "Secret") => core::secret(obj),
        ("", "PersistentVolume") => core::persistent_volume(obj),
        ("", "PersistentVolumeClaim") => core::persistent_volume_claim(obj),
        ("", "Endpoints") => core::endpoints(obj),
        ("", "Node") => core::node(obj),
        ("", "LimitRange") => core::limit_range(obj),
        ("", "ResourceQuota") => core::resource_quota(obj),
        ("apps", "Deployment") => apps::deployment(obj),
        ("apps", "ReplicaSet") => apps::replica_set(obj),
        ("apps", "DaemonSet") => apps::daemon_set(obj),
        ("apps", "StatefulSet") => apps::stateful_set(obj),
        ("batch", "Job") => batch::job(obj),
        ("batch", "CronJob") => batch::cron_job(obj),
        ("storage.k8s.io", "StorageClass") => others::storage_class(obj),
        ("discovery.k8s.io", "EndpointSlice") => others::endpoint_slice(obj),
        _ => {}
    }
}

/// The object at `key`, created empty when unset (null counts as unset).
fn child<'a>(v: &'a mut Value, key: &str) -> &'a mut Value {
    if !v.is_object() {
        *v = Value::Object(Map::new());
    }
    match v {
        Value::Object(m) => {
            let slot = m.entry(key.to_string()).or_insert(Value::Null);
            if !slot.is_object() {
                *slot = Value::Object(Map::new());
            }
            slot
        }
        other => other,
    }
}

/// The object at `key` when it is set, without creating it.
fn existing<'a>(v: &'a mut Value, key: &str) -> Option<&'a mut Value> {
    v.get_mut(key).filter(|x| x.is_object())
}

/// The list at `key`'s elements, if any.
fn items<'a>(v: &'a mut Value, key: &str) -> impl Iterator<Item = &'a mut Value> {
    v.get_mut(key).and_then(Value::as_array_mut).into_iter().flatten()
}

/// Sets `key` when it is absent or null.
fn set_default(v: &mut Value, key: &str, value: impl Into<Value>) {
    if let Some(m) = v.as_object_mut() {
        let slot = m.entry(key.to_string()).or_insert(Value::Null);
        if slot.is_null() {
            *slot = value.into();
        }
    }
}

/// Sets `key` when it is absent, null or the empty string (Go's zero string).
fn set_default_str(v: &mut Value, key: &str, value: &str) {
    if v.get(key).and_then(Value::as_str).map(str::is_empty).unwrap_or(true) {
        if let Some(m) = v.as_object_mut() {
            m.insert(key.to_string(), Value::from(value));
        }
    }
}

/// Sets an integer `key` when absent, null or 0 (Go's zero int).
fn set_default_int(v: &mut Value, key: &str, value: i64) {
    if v.get(key).and_then(Value::as_i64).unwrap_or(0) == 0 {
        if let Some(m) = v.as_object_mut() {
            m.insert(key.to_string(), Value::from(value));
        }
    }
}

/// Keeps a legacy singular field and its plural list in step, as upstream's v1
/// conversions do (`podCIDR`/`podCIDRs`, `podIP`/`podIPs`): an unset list takes the
/// singular value, and the singular always shows the list's first entry. `wrap` and
/// `unwrap` turn a value into a list entry and back (`{"ip": ...}` for pod IPs).
fn sync_plural(v: &mut Value, single: &str, plural: &str, wrap: fn(&str) -> Value, unwrap: fn(&Value) -> Option<&str>) {
    let Some(m) = v.as_object_mut() else { return };
    let list_empty = m.get(plural).and_then(Value::as_array).is_none_or(Vec::is_empty);
    let one = m.get(single).and_then(Value::as_str).unwrap_or("").to_string();
    if list_empty {
        if !one.is_empty() {
            m.insert(plural.to_string(), Value::Array(vec![wrap(&one)]));
        }
        return;
    }
    let first = m.get(plural).and_then(Value::as_array).and_then(|a| a.first()).and_then(unwrap).map(str::to_string);
    if let Some(first) = first {
        m.insert(single.to_string(), Value::from(first));
    }
}

fn str_at<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// Rounds every quantity of a resource list up to milli-units and prints it
/// canonically (`SetDefaults_ResourceList` plus Quantity's JSON form).
fn resource_list(v: &mut Value, key: &str) {
    let Some(m) = v.get_mut(key).and_then(Value::as_object_mut) else { return };
    for q in m.values_mut() {
        if let Some(Ok(parsed)) = crate::quantity::from_json(q) {
            *q = Value::from(parsed.round_up(-3).to_string());
        }
    }
}

/// Prints a single quantity field canonically.
fn quantity_field(v: &mut Value, key: &str) {
    if let Some(q) = v.get_mut(key) {
        if let Some(Ok(parsed)) = crate::quantity::from_json(q) {
            *q = Value::from(parsed.to_string());
        }
    }
}

#[cfg(test)]
mod tests;
