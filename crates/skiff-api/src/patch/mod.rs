//! The three PATCH formats the apiserver accepts, applied as Kubernetes applies them:
//!
//! - `application/strategic-merge-patch+json`: [`strategic_merge`] (what `kubectl apply`,
//!   `edit`, `label`, `annotate`, `scale`, `set image`, `rollout restart|pause|resume` send);
//! - `application/merge-patch+json`: [`merge_patch`] (RFC 7386);
//! - `application/json-patch+json`: [`json_patch`] (RFC 6902; `kubectl rollout undo`).

mod gofmt;
mod meta;
mod strategic;

#[cfg(test)]
mod tests;

use serde_json::{Map, Value};

/// Why a patch could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum PatchError {
    /// The patch is malformed; the message is Kubernetes' own wording.
    #[error("{0}")]
    Invalid(String),
    /// The patch is well-formed but does not fit the object, e.g. a JSON patch `test`
    /// operation failed or a path is missing (Kubernetes answers 422 for these).
    #[error("{0}")]
    Conflict(String),
}

/// Applies a strategic merge patch to an object of `kind` in API `group` ("" for core).
/// The kind selects the patch metadata (which lists merge, by which key); kinds not in the
/// table get none, so their lists are replaced whole, as with a JSON merge patch, while
/// `$patch` and the other directives still apply.
pub fn strategic_merge(
    group: &str,
    kind: &str,
    original: &Value,
    patch: &Value,
) -> Result<Value, PatchError> {
    strategic::apply(meta::Schema::for_kind(group, kind), original, patch)
}

/// Applies a JSON merge patch (RFC 7386) as Kubernetes does (evanphx/json-patch): `null`
/// deletes a key, objects merge, anything else replaces; values set where there was nothing
/// to merge with lose their nulls, including null list items.
pub fn merge_patch(original: &Value, patch: &Value) -> Value {
    match (original, patch) {
        (Value::Object(doc), Value::Object(patch)) => {
            let mut doc = doc.clone();
            merge_maps(&mut doc, patch);
            Value::Object(doc)
        }
        _ => pruned(patch),
    }
}

/// Merges `patch` into the non-null value `current` (upstream `merge`).
fn merge_value(current: &mut Value, patch: &Value) {
    match (&mut *current, patch) {
        (Value::Object(doc), Value::Object(patch)) => merge_maps(doc, patch),
        // Upstream prunes nulls only when the target is not an object.
        (Value::Object(_), _) => *current = patch.clone(),
        _ => *current = pruned(patch),
    }
}

fn merge_maps(doc: &mut Map<String, Value>, patch: &Map<String, Value>) {
    for (key, value) in patch {
        if value.is_null() {
            // shift_remove keeps the order of the remaining keys
            doc.shift_remove(key);
            continue;
        }
        match doc.get_mut(key) {
            Some(current) if !current.is_null() => merge_value(current, value),
            _ => {
                doc.insert(key.clone(), pruned(value));
            }
        }
    }
}

fn pruned(v: &Value) -> Value {
    let mut v = v.clone();
    prune_nulls(&mut v);
    v
}

fn prune_nulls(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|_, val| !val.is_null());
            m.values_mut().for_each(prune_nulls);
        }
        Value::Array(items) => {
            items.retain(|val| !val.is_null());
            items.iter_mut().for_each(prune_nulls);
        }
        _ => {}
    }
}

/// Applies a JSON patch (RFC 6902) with the json-patch crate. An undecodable patch is
/// `Invalid`; an operation that does not apply is `Conflict`, worded as Kubernetes words it.
pub fn json_patch(original: &Value, patch: &Value) -> Result<Value, PatchError> {
    let ops: json_patch::Patch =
        serde_json::from_value(patch.clone()).map_err(|e| PatchError::Invalid(e.to_string()))?;
    let mut doc = original.clone();
    json_patch::patch(&mut doc, &ops).map_err(|e| describe_json_patch_error(&ops, &e))?;
    Ok(doc)
}

/// Words a failed operation as evanphx/json-patch (the library Kubernetes uses) does.
fn describe_json_patch_error(ops: &json_patch::Patch, err: &json_patch::PatchError) -> PatchError {
    use json_patch::{PatchErrorKind, PatchOperation};
    let path = err.path.as_str();
    let msg = match (ops.get(err.operation), &err.kind) {
        (_, PatchErrorKind::TestFailed) => format!("testing value {path} failed: test failed"),
        (Some(PatchOperation::Test(_)), _) => {
            format!("test operation does not apply: is missing path: {path}: missing value")
        }
        (Some(PatchOperation::Add(_)), _) => {
            format!("add operation does not apply: doc is missing path: \"{path}\": missing value")
        }
        (Some(PatchOperation::Remove(_)), _) => {
            format!(
                "remove operation does not apply: doc is missing path: \"{path}\": missing value"
            )
        }
        (Some(PatchOperation::Replace(_)), _) => {
            format!("replace operation does not apply: doc is missing key: {path}: missing value")
        }
        (Some(PatchOperation::Move(op)), PatchErrorKind::InvalidFromPointer) => format!(
            "move operation does not apply: doc is missing from path: {}: missing value",
            op.from.as_str()
        ),
        (Some(PatchOperation::Copy(op)), PatchErrorKind::InvalidFromPointer) => format!(
            "copy operation does not apply: doc is missing from path: {}: missing value",
            op.from.as_str()
        ),
        (Some(PatchOperation::Move(_)), _) => format!(
            "move operation does not apply: doc is missing destination path: {path}: missing value"
        ),
        (Some(PatchOperation::Copy(_)), _) => format!(
            "copy operation does not apply: doc is missing destination path: {path}: missing value"
        ),
        (None, _) => err.to_string(),
    };
    PatchError::Conflict(msg)
}
