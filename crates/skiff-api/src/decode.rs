//! Decoding a request body as Kubernetes' strict decoder does: the object must have the
//! types the schema says (`json: cannot unmarshal string into Go struct field ...`),
//! and fields the schema does not know are reported by their path so that
//! `fieldValidation=Strict` can reject them (`unknown field "spec.x"`).
//!
//! The typed k8s-openapi structs are the schema; the object itself is kept as JSON so
//! nothing the user sent is reshaped.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::registry::Resource;

/// Why a body could not be decoded as its kind.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodeError(pub String);

/// Type-checks `obj` as `resource`'s kind. Returns the paths of unknown fields
/// (`spec.template.spec.containers[0].livenessProbe.initalDelaySeconds`).
pub fn check(resource: &Resource, obj: &Value) -> Result<Vec<String>, DecodeError> {
    use k8s_openapi::api::*;
    macro_rules! by_kind {
        ($($group:literal $kind:literal => $ty:ty,)*) => {
            match (resource.group, resource.kind) {
                $(($group, $kind) => check_as::<$ty>(obj),)*
                _ => Ok(Vec::new()),
            }
        };
    }
    by_kind! {
        "" "Namespace" => core::v1::Namespace,
        "" "Pod" => core::v1::Pod,
        "" "Node" => core::v1::Node,
        "" "Service" => core::v1::Service,
        "" "Endpoints" => core::v1::Endpoints,
        "" "ConfigMap" => core::v1::ConfigMap,
        "" "Secret" => core::v1::Secret,
        "" "Event" => core::v1::Event,
        "" "ServiceAccount" => core::v1::ServiceAccount,
        "" "PersistentVolume" => core::v1::PersistentVolume,
        "" "PersistentVolumeClaim" => core::v1::PersistentVolumeClaim,
        "" "ReplicationController" => core::v1::ReplicationController,
        "" "LimitRange" => core::v1::LimitRange,
        "" "ResourceQuota" => core::v1::ResourceQuota,
        "apps" "Deployment" => apps::v1::Deployment,
        "apps" "ReplicaSet" => apps::v1::ReplicaSet,
        "apps" "DaemonSet" => apps::v1::DaemonSet,
        "apps" "StatefulSet" => apps::v1::StatefulSet,
        "apps" "ControllerRevision" => apps::v1::ControllerRevision,
        "batch" "Job" => batch::v1::Job,
        "batch" "CronJob" => batch::v1::CronJob,
        "coordination.k8s.io" "Lease" => coordination::v1::Lease,
        "events.k8s.io" "Event" => events::v1::Event,
        "policy" "PodDisruptionBudget" => policy::v1::PodDisruptionBudget,
        "discovery.k8s.io" "EndpointSlice" => discovery::v1::EndpointSlice,
        "storage.k8s.io" "StorageClass" => storage::v1::StorageClass,
    }
}

/// Type-checks a body of a kind that is not a stored resource (Scale, Binding, Eviction).
pub fn check_subresource_body(kind: &str, obj: &Value) -> Result<Vec<String>, DecodeError> {
    use k8s_openapi::api::*;
    match kind {
        "Scale" => check_as::<autoscaling::v1::Scale>(obj),
        "Binding" => check_as::<core::v1::Binding>(obj),
        "Eviction" => check_as::<policy::v1::Eviction>(obj),
        _ => Ok(Vec::new()),
    }
}

fn check_as<T: DeserializeOwned + k8s_openapi::schemars::JsonSchema>(obj: &Value) -> Result<Vec<String>, DecodeError> {
    let mut unknown = Vec::new();
    let mut track = serde_path_to_error::Track::new();
    let de = serde_path_to_error::Deserializer::new(obj, &mut track);
    let result: Result<T, _> = serde_ignored::deserialize(de, |path| unknown.push(go_path(&path.to_string())));
    match result {
        Ok(_) => Ok(unknown),
        Err(e) => {
            let path = track.path().to_string();
            let (field, go_type) = go_field::<T>(&path).unwrap_or_else(|| (format!(".{}", go_path(&path)), None));
            Err(DecodeError(type_error(&field, go_type.as_deref(), &e.to_string())))
        }
    }
}

/// Go's name for a failing field, from T's OpenAPI schema: the innermost struct's type
/// and the JSON path without list indices or map keys (`DeploymentSpec.spec.replicas`,
/// `ObjectMeta.metadata.labels`), with the Go type of the value there.
/// Built only on this error path, so its cost does not matter.
fn go_field<T: k8s_openapi::schemars::JsonSchema>(path: &str) -> Option<(String, Option<String>)> {
    use k8s_openapi::schemars::generate::SchemaSettings;
    let mut settings = SchemaSettings::openapi3();
    settings.transforms = Vec::new();
    let mut gen = settings.into_generator();
    let root = gen.subschema_for::<T>().to_value();
    let defs = gen.take_definitions(false);
    let resolve = |v: &Value| -> Option<(Option<String>, Value)> {
        let mut v = v.clone();
        let mut name = None;
        // `$ref`, possibly wrapped in allOf next to a description.
        for _ in 0..4 {
            let r = v.get("$ref").and_then(Value::as_str).or_else(|| v.pointer("/allOf/0/$ref").and_then(Value::as_str));
            let Some(r) = r else { break };
            let n = r.rsplit('/').next()?.to_string();
            v = defs.get(&n)?.clone();
            name = Some(n);
        }
        Some((name, v))
    };
    let (mut name, mut schema) = resolve(&root)?;
    let mut strukt = name.clone();
    let mut fields: Vec<String> = Vec::new();
    // serde_path_to_error writes `containers[0].env`; older forms `containers.0.env`.
    let mut segs: Vec<&str> = Vec::new();
    for part in path.split('.').filter(|s| !s.is_empty() && *s != "?") {
        let (head, rest) = part.split_once('[').map_or((part, ""), |(h, r)| (h, r));
        if !head.is_empty() {
            segs.push(head);
        }
        segs.extend(rest.split('[').filter(|r| !r.is_empty()).map(|_| "0"));
    }
    for seg in segs {
        let index = seg.bytes().all(|b| b.is_ascii_digit());
        if let Some(prop) = schema.get("properties").and_then(|p| p.get(seg)).filter(|_| !index) {
            strukt = name.clone();
            fields.push(seg.to_string());
            (name, schema) = resolve(prop)?;
        } else if let Some(items) = schema.get("items") {
            (name, schema) = resolve(items)?;
        } else if let Some(values) = schema.get("additionalProperties").filter(|v| v.is_object()) {
            (name, schema) = resolve(values)?;
        } else {
            // A leaf: what is left came from a dotted map key (`app.kubernetes.io/name`).
            break;
        }
    }
    let short = |n: &str| n.rsplit('.').next().unwrap_or(n).to_string();
    let strukt = strukt.map(|n| short(&n)).unwrap_or_default();
    Some((format!("{strukt}.{}", fields.join(".")), go_type(&schema, name.as_deref().map(short))))
}

/// The Go type a schema stands for, where it is plain (`int32`, `[]string`,
/// `map[string]string`, `v1.PodSpec`).
fn go_type(schema: &Value, struct_name: Option<String>) -> Option<String> {
    if let Some(n) = struct_name {
        return Some(format!("v1.{n}"));
    }
    let ty = schema.get("type").and_then(Value::as_str)?;
    Some(match (ty, schema.get("format").and_then(Value::as_str)) {
        ("string", _) => "string".into(),
        ("boolean", _) => "bool".into(),
        ("integer", Some("int32")) => "int32".into(),
        ("integer", _) => "int64".into(),
        ("number", _) => "float64".into(),
        ("array", _) => {
            let items = schema.get("items")?;
            let inner = match items.get("$ref").and_then(Value::as_str) {
                Some(r) => format!("v1.{}", r.rsplit('.').next().unwrap_or(r)),
                None => go_type(items, None)?,
            };
            format!("[]{inner}")
        }
        ("object", _) => {
            let values = schema.get("additionalProperties").filter(|v| v.is_object())?;
            format!("map[string]{}", go_type(values, None)?)
        }
        _ => return None,
    })
}

/// serde paths look like `spec.containers.0.name`; Kubernetes writes `spec.containers[0].name`.
fn go_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len() + 4);
    for seg in path.split('.').filter(|s| !s.is_empty() && *s != "?") {
        if !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()) {
            out.push('[');
            out.push_str(seg);
            out.push(']');
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(seg);
        }
    }
    out
}

/// A JSON value's kind as Go's `json: cannot unmarshal <kind> into ...` names it.
pub(crate) fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Turns serde's "invalid type: string \"x\", expected i32" into Go's wording:
/// `json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32`.
fn type_error(field: &str, schema_type: Option<&str>, serde_msg: &str) -> String {
    if let Some(rest) = serde_msg.strip_prefix("invalid type: ") {
        let (got, expected) = match rest.split_once(", expected ") {
            Some(parts) => parts,
            None => (rest, ""),
        };
        let got = match got.split_whitespace().next().unwrap_or(got) {
            "string" => "string",
            "integer" | "floating" => "number",
            "boolean" => "bool",
            "sequence" => "array",
            "map" => "object",
            "null" => "null",
            other => other,
        };
        let expected = expected.split(" at line").next().unwrap_or(expected);
        let go_type = schema_type.unwrap_or(match expected {
            "i32" => "int32",
            "i64" => "int64",
            "f64" => "float64",
            "a boolean" => "bool",
            "a string" => "string",
            "a sequence" => "[]interface {}",
            "a map" => "map[string]interface {}",
            other if other.starts_with("struct ") || other.starts_with("a map") => "object",
            other => other,
        });
        return format!("json: cannot unmarshal {got} into Go struct field {field} of type {go_type}");
    }
    match field.trim_start_matches('.') {
        "" => serde_msg.to_string(),
        f => format!("{f}: {serde_msg}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::by_kind;
    use serde_json::json;

    #[test]
    fn unknown_fields_are_reported_by_path() {
        let r = by_kind("apps", "v1", "Deployment").expect("served");
        let obj = json!({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"x"},
            "spec":{"selector":{"matchLabels":{"a":"b"}},"template":{"metadata":{"labels":{"a":"b"}},
            "spec":{"containers":[{"name":"c","image":"i","livenessProbe":{"initalDelaySeconds":5}}]}},"bogus":1}});
        let unknown = check(r, &obj).expect("types are right");
        assert_eq!(unknown, vec![
            "spec.template.spec.containers[0].livenessProbe.initalDelaySeconds".to_string(),
            "spec.bogus".to_string(),
        ]);
    }

    #[test]
    fn wrong_types_are_reported_in_go_words() {
        let r = by_kind("apps", "v1", "Deployment").expect("served");
        let obj = json!({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"x"},"spec":{"replicas":"three"}});
        let err = check(r, &obj).expect_err("replicas is a string");
        assert_eq!(err.0, "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32");
        // Map values name the map field; list indices are left out, as Go does.
        let obj = json!({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"x","labels":{"on":true}}});
        assert_eq!(check(r, &obj).expect_err("bool label").0, "json: cannot unmarshal bool into Go struct field ObjectMeta.metadata.labels of type string");
        let obj = json!({"spec":{"template":{"spec":{"containers":[{"name":"c","env":[{"name":true}]}]}}}});
        assert_eq!(check(r, &obj).expect_err("bool name").0, "json: cannot unmarshal bool into Go struct field EnvVar.spec.template.spec.containers.env.name of type string");
        let obj = json!({"metadata":{"labels":{"app.kubernetes.io/on":true}}});
        assert_eq!(check(r, &obj).expect_err("dotted key").0, "json: cannot unmarshal bool into Go struct field ObjectMeta.metadata.labels of type string");
        let obj = json!({"metadata":{"labels":["a"]}});
        assert_eq!(check(r, &obj).expect_err("list labels").0, "json: cannot unmarshal array into Go struct field ObjectMeta.metadata.labels of type map[string]string");
    }

    #[test]
    fn clean_objects_pass() {
        let r = by_kind("", "v1", "ConfigMap").expect("served");
        let obj = json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x","labels":{"a":"b"}},"data":{"k":"v"}});
        assert_eq!(check(r, &obj), Ok(vec![]));
    }
}
