//! Strategic merge patch, applied the way the apiserver applies it
//! (k8s.io/apimachinery/pkg/util/strategicpatch `StrategicMergeMapPatch`: parallel lists
//! merged, unmatched nulls ignored).
//!
//! Upstream then decodes the result into the Go type, which drops any directive keys left in
//! values copied whole from the patch; we drop them in a last pass instead (see
//! [`drop_directive_keys`]). Objects keep their key order: existing keys stay in place and
//! new keys follow in patch order.

use serde_json::{Map, Value};

use super::gofmt;
use super::meta::{Field, Schema, Strategy};
use super::PatchError;
use crate::decode::json_kind;

type JsonMap = Map<String, Value>;

const DIRECTIVE_MARKER: &str = "$patch";
const DELETE_DIRECTIVE: &str = "delete";
const REPLACE_DIRECTIVE: &str = "replace";
const MERGE_DIRECTIVE: &str = "merge";
const RETAIN_KEYS_DIRECTIVE: &str = "$retainKeys";
const DELETE_FROM_PRIMITIVE_LIST_PREFIX: &str = "$deleteFromPrimitiveList";
const SET_ELEMENT_ORDER_PREFIX: &str = "$setElementOrder";

// Upstream's error texts (k8s.io/apimachinery/pkg/util/mergepatch).
const ERR_BAD_PATCH_FORMAT_FOR_PRIMITIVE_LIST: &str = "invalid patch format of primitive list";
const ERR_BAD_PATCH_FORMAT_FOR_RETAIN_KEYS: &str = "invalid patch format of retainKeys";
const ERR_BAD_PATCH_FORMAT_FOR_SET_ELEMENT_ORDER: &str =
    "invalid patch format of setElementOrder list";
const ERR_NO_LIST_OF_LISTS: &str = "lists of lists are not supported";

pub(crate) fn apply(schema: Schema, original: &Value, patch: &Value) -> Result<Value, PatchError> {
    let patch = match patch {
        Value::Object(m) => m.clone(),
        // Go unmarshals `null` into an empty map: a no-op patch.
        Value::Null => JsonMap::new(),
        other => {
            return Err(invalid(format!(
                "json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
                json_kind(other)
            )))
        }
    };
    let original = match original {
        Value::Object(m) => m.clone(),
        Value::Null => JsonMap::new(),
        _ => return Err(invalid("invalid JSON document".to_string())),
    };
    let mut merged = Value::Object(merge_map(original, patch, schema)?);
    drop_directive_keys(&mut merged);
    Ok(merged)
}

fn invalid(msg: String) -> PatchError {
    PatchError::Invalid(msg)
}

fn bad_patch_type(directive: &Value, map: &JsonMap) -> PatchError {
    invalid(format!(
        "unknown patch type: {} in map: {}",
        gofmt::s(directive),
        gofmt::v(&Value::Object(map.clone()))
    ))
}

fn no_merge_key(map: &JsonMap, key: &str) -> PatchError {
    invalid(format!(
        "map: {} does not contain declared merge key: {key}",
        gofmt::v(&Value::Object(map.clone()))
    ))
}

fn bad_arg_type(expected: &str, actual: &Value) -> PatchError {
    invalid(format!(
        "expected a {expected}, but received a {}",
        gofmt::type_name(actual)
    ))
}

const MAP_TYPE: &str = "map[string]interface {}";
const SLICE_TYPE: &str = "[]interface {}";

/// Go's dynamic type of a decoded JSON value: a patch value of another type replaces the
/// original instead of merging into it.
#[derive(PartialEq, Eq, Clone, Copy)]
enum GoType {
    Nil,
    Bool,
    Int,
    Float,
    String,
    Slice,
    Map,
}

fn go_type(v: &Value) -> GoType {
    match v {
        Value::Null => GoType::Nil,
        Value::Bool(_) => GoType::Bool,
        Value::Number(n) if gofmt::is_int(n) => GoType::Int,
        Value::Number(_) => GoType::Float,
        Value::String(_) => GoType::String,
        Value::Array(_) => GoType::Slice,
        Value::Object(_) => GoType::Map,
    }
}

/// Merges `patch` into `original` (upstream `mergeMap`).
fn merge_map(
    mut original: JsonMap,
    mut patch: JsonMap,
    schema: Schema,
) -> Result<JsonMap, PatchError> {
    if let Some(directive) = patch.get(DIRECTIVE_MARKER) {
        return match directive.as_str() {
            Some(REPLACE_DIRECTIVE) => {
                patch.shift_remove(DIRECTIVE_MARKER);
                Ok(patch)
            }
            // The map is emptied, not removed: the key stays with `{}`.
            Some(DELETE_DIRECTIVE) => Ok(JsonMap::new()),
            _ => Err(bad_patch_type(directive, &patch)),
        };
    }

    apply_retain_keys(&mut original, &mut patch)?;
    // Lists named by $setElementOrder are merged and ordered first, and leave the patch.
    merge_ordered_lists(&mut original, &mut patch, schema)?;

    for (key, patch_v) in patch {
        let (key, is_delete_list) = deletion_list_target(key)?;
        if patch_v.is_null() {
            original.shift_remove(&key);
            continue;
        }
        let merged = match original.get_mut(&key) {
            // Nothing to merge with (a deletion list then has nothing to do).
            None => {
                if is_delete_list {
                    continue;
                }
                take_patch_value(patch_v)
            }
            Some(orig_v) if go_type(orig_v) != go_type(&patch_v) => {
                if is_delete_list {
                    continue;
                }
                take_patch_value(patch_v)
            }
            Some(orig_v) => {
                let orig_v = std::mem::take(orig_v);
                merge_same_type(orig_v, patch_v, schema, &key, is_delete_list)?
            }
        };
        match merged {
            Some(v) => {
                original.insert(key, v);
            }
            None => {
                original.shift_remove(&key);
            }
        }
    }
    Ok(original)
}

/// `"$deleteFromPrimitiveList/<field>"` -> (`<field>`, true); other keys -> (key, false).
fn deletion_list_target(key: String) -> Result<(String, bool), PatchError> {
    if !key.starts_with(DELETE_FROM_PRIMITIVE_LIST_PREFIX) {
        return Ok((key, false));
    }
    let target = extract_key(&key, DELETE_FROM_PRIMITIVE_LIST_PREFIX)?;
    // Upstream keeps the prefixed key when nothing follows the slash.
    if target.is_empty() {
        return Ok((key, true));
    }
    Ok((target.to_string(), true))
}

/// Merges two values of the same Go type found under `key`; None removes the key.
fn merge_same_type(
    original: Value,
    patch: Value,
    schema: Schema,
    key: &str,
    is_delete_list: bool,
) -> Result<Option<Value>, PatchError> {
    let field = schema.field(key);
    Ok(match (original, patch) {
        (Value::Object(o), Value::Object(p)) => {
            if field.is_some_and(|f| f.strategy == Strategy::Replace) {
                Some(Value::Object(p))
            } else {
                Some(Value::Object(merge_map(o, p, schema.child(key))?))
            }
        }
        (Value::Array(o), Value::Array(p)) => {
            let child = schema.child(key);
            Some(Value::Array(merge_slice_handler(
                o,
                p,
                field,
                child,
                is_delete_list,
            )?))
        }
        (_, p) => remove_directives(p),
    })
}

/// A patch value that lands where the original has nothing to merge with: nulls in it mean
/// nothing, and maps carrying `$patch` are dropped (upstream `removeDirectives`).
fn take_patch_value(mut v: Value) -> Option<Value> {
    discard_null_values(&mut v);
    remove_directives(v)
}

fn discard_null_values(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|_, val| !val.is_null());
            m.values_mut().for_each(discard_null_values);
        }
        Value::Array(items) => items.iter_mut().for_each(discard_null_values),
        _ => {}
    }
}

/// Returns the value without directive maps, or None when `v` itself is one.
fn remove_directives(v: Value) -> Option<Value> {
    match v {
        Value::Object(m) => {
            if m.contains_key(DIRECTIVE_MARKER) {
                return None;
            }
            let kept = m
                .into_iter()
                .filter_map(|(k, val)| remove_directives(val).map(|val| (k, val)));
            Some(Value::Object(kept.collect()))
        }
        Value::Array(items) => Some(Value::Array(
            items.into_iter().filter_map(remove_directives).collect(),
        )),
        other => Some(other),
    }
}

fn is_directive_key(key: &str) -> bool {
    key == DIRECTIVE_MARKER
        || key == RETAIN_KEYS_DIRECTIVE
        || key.starts_with(SET_ELEMENT_ORDER_PREFIX)
        || key.starts_with(DELETE_FROM_PRIMITIVE_LIST_PREFIX)
}

/// Upstream decodes the merged map into the Go type, which drops the directive keys that
/// values copied whole from the patch may still carry; no built-in field name starts with `$`.
fn drop_directive_keys(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|k, _| !is_directive_key(k));
            m.values_mut().for_each(drop_directive_keys);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_directive_keys),
        _ => {}
    }
}

/// `"$prefix/field"` -> `"field"`.
fn extract_key<'a>(key: &'a str, prefix: &str) -> Result<&'a str, PatchError> {
    match key.split_once('/') {
        Some((head, rest)) if head == prefix => Ok(rest),
        _ if prefix == DELETE_FROM_PRIMITIVE_LIST_PREFIX => {
            Err(invalid(ERR_BAD_PATCH_FORMAT_FOR_PRIMITIVE_LIST.to_string()))
        }
        _ => Err(invalid(
            ERR_BAD_PATCH_FORMAT_FOR_SET_ELEMENT_ORDER.to_string(),
        )),
    }
}

/// `$retainKeys`: keys of the original missing from the list are cleared, and the patch may
/// only set listed keys.
fn apply_retain_keys(original: &mut JsonMap, patch: &mut JsonMap) -> Result<(), PatchError> {
    let Some(retain) = patch.shift_remove(RETAIN_KEYS_DIRECTIVE) else {
        return Ok(());
    };
    let Value::Array(retain) = retain else {
        return Err(invalid(ERR_BAD_PATCH_FORMAT_FOR_RETAIN_KEYS.to_string()));
    };
    let listed = |k: &str| retain.iter().any(|r| r.as_str() == Some(k));
    for (k, v) in patch.iter() {
        if v.is_null()
            || k.starts_with(DELETE_FROM_PRIMITIVE_LIST_PREFIX)
            || k.starts_with(SET_ELEMENT_ORDER_PREFIX)
        {
            continue;
        }
        if !listed(k) {
            return Err(invalid(ERR_BAD_PATCH_FORMAT_FOR_RETAIN_KEYS.to_string()));
        }
    }
    original.retain(|k, _| listed(k));
    Ok(())
}

/// Handles each `$setElementOrder/<field>`: merges `<field>` and orders the result by the
/// directive (upstream `mergePatchIntoOriginal`). Precedence: the directive's order, then
/// the patch's, then the live list's.
fn merge_ordered_lists(
    original: &mut JsonMap,
    patch: &mut JsonMap,
    schema: Schema,
) -> Result<(), PatchError> {
    let keys: Vec<String> = patch
        .keys()
        .filter(|k| k.starts_with(SET_ELEMENT_ORDER_PREFIX))
        .cloned()
        .collect();
    for key in keys {
        let Some(order) = patch.shift_remove(&key) else {
            continue;
        };
        let Value::Array(order) = order else {
            return Err(bad_arg_type(SLICE_TYPE, &order));
        };
        let field_name = extract_key(&key, SET_ELEMENT_ORDER_PREFIX)?.to_string();

        let original_list = match original.get(&field_name) {
            None => None,
            Some(Value::Array(items)) => Some(items.clone()),
            Some(other) => return Err(bad_arg_type(SLICE_TYPE, other)),
        };
        let patch_list = match patch.get(&field_name) {
            None => None,
            Some(Value::Array(items)) => Some(items.clone()),
            Some(other) => return Err(bad_arg_type(SLICE_TYPE, other)),
        };

        let field = schema.field(&field_name);
        let merge_key = field.map_or("", |f| f.merge_key);
        validate_patch_with_set_order(patch_list.as_deref().unwrap_or(&[]), &order, merge_key)?;

        let merged = match (&original_list, &patch_list) {
            (Some(o), None) => o.clone(),
            (None, Some(p)) => match remove_directives(Value::Array(p.clone())) {
                Some(Value::Array(items)) => items,
                _ => Vec::new(),
            },
            (Some(o), Some(p)) => merge_slice_handler(
                o.clone(),
                p.clone(),
                field,
                schema.child(&field_name),
                false,
            )?,
            (None, None) => continue,
        };

        let (patch_items, server_only) = if merge_key.is_empty() {
            partition_primitives(merged, &order)
        } else {
            partition_maps(merged, &order, merge_key)?
        };
        let live = original_list.unwrap_or_default();
        let kind = slice_element_kind(&[&live, patch_list.as_deref().unwrap_or(&[])])?;
        let both =
            normalize_element_order(patch_items, server_only, &order, &live, merge_key, kind)?;
        original.insert(field_name.clone(), Value::Array(both));
        patch.shift_remove(&field_name);
    }
    Ok(())
}

/// The patch list's items (deletions and directive items aside) must appear in the
/// `$setElementOrder` list in the same relative order.
fn validate_patch_with_set_order(
    patch_list: &[Value],
    order: &[Value],
    merge_key: &str,
) -> Result<(), PatchError> {
    if order.is_empty() || patch_list.is_empty() {
        return Ok(());
    }
    let kept: Vec<Value> = if merge_key.is_empty() {
        patch_list.to_vec()
    } else {
        split_deletions(patch_list.to_vec())?.0
    };
    let (mut pi, mut oi) = (0, 0);
    while pi < kept.len() && oi < order.len() {
        if kept[pi]
            .as_object()
            .is_some_and(|m| m.contains_key(DIRECTIVE_MARKER))
        {
            pi += 1;
            continue;
        }
        if merge_key_value_equal(&kept[pi], &order[oi], merge_key)? {
            pi += 1;
        }
        oi += 1;
    }
    if pi < kept.len() && oi >= order.len() {
        return Err(invalid(format!(
            "the order in patch list:\n{}\n doesn't match {SET_ELEMENT_ORDER_PREFIX} list:\n{}",
            gofmt::v(&Value::Array(patch_list.to_vec())),
            gofmt::v(&Value::Array(order.to_vec()))
        )));
    }
    Ok(())
}

fn merge_key_value_equal(left: &Value, right: &Value, merge_key: &str) -> Result<bool, PatchError> {
    if merge_key.is_empty() {
        return Ok(left == right);
    }
    let Value::Object(l) = left else {
        return Err(bad_arg_type(MAP_TYPE, left));
    };
    let Value::Object(r) = right else {
        return Err(bad_arg_type(MAP_TYPE, right));
    };
    let Some(lv) = l.get(merge_key) else {
        return Err(no_merge_key(l, merge_key));
    };
    let Some(rv) = r.get(merge_key) else {
        return Err(no_merge_key(r, merge_key));
    };
    Ok(lv == rv)
}

/// Splits `{"$patch": "delete", ...}` items from the others; every item must be a map.
fn split_deletions(items: Vec<Value>) -> Result<(Vec<Value>, Vec<Value>), PatchError> {
    let (mut kept, mut deletions) = (Vec::new(), Vec::new());
    for item in items {
        let Value::Object(m) = &item else {
            return Err(bad_arg_type(MAP_TYPE, &item));
        };
        if m.get(DIRECTIVE_MARKER).and_then(Value::as_str) == Some(DELETE_DIRECTIVE) {
            deletions.push(item);
        } else {
            kept.push(item);
        }
    }
    Ok((kept, deletions))
}

/// Lists merge element-wise only under the `merge` strategy (or for a
/// `$deleteFromPrimitiveList`, whatever the strategy); otherwise the patch list replaces.
fn merge_slice_handler(
    original: Vec<Value>,
    patch: Vec<Value>,
    field: Option<&Field>,
    elem_schema: Schema,
    is_delete_list: bool,
) -> Result<Vec<Value>, PatchError> {
    let merge = field.is_some_and(|f| f.strategy == Strategy::Merge);
    if !(merge || is_delete_list) {
        return Ok(patch);
    }
    let (merge_key, elem_type) = field.map_or(("", ""), |f| (f.merge_key, f.ty));
    merge_slice(
        original,
        patch,
        elem_schema,
        merge_key,
        elem_type,
        is_delete_list,
    )
}

#[derive(PartialEq, Eq, Clone, Copy, Debug)]
enum ElemKind {
    Map,
    Scalar,
}

/// All items of all lists must share one Go type, and not be lists.
fn slice_element_kind(lists: &[&[Value]]) -> Result<ElemKind, PatchError> {
    let mut first: Option<GoType> = None;
    for item in lists.iter().flat_map(|l| l.iter()) {
        let t = go_type(item);
        match first {
            None if t == GoType::Slice => return Err(invalid(ERR_NO_LIST_OF_LISTS.to_string())),
            None => first = Some(t),
            Some(prev) if prev != t => {
                return Err(invalid(format!(
                    "list element types are not identical: {}",
                    gofmt::slices(lists)
                )))
            }
            Some(_) => {}
        }
    }
    match first {
        None => Err(invalid(
            "no elements in any of the given slices".to_string(),
        )),
        Some(GoType::Map) => Ok(ElemKind::Map),
        Some(_) => Ok(ElemKind::Scalar),
    }
}

/// Upstream `mergeSlice`.
fn merge_slice(
    original: Vec<Value>,
    patch: Vec<Value>,
    elem_schema: Schema,
    merge_key: &str,
    elem_type: &str,
    is_delete_list: bool,
) -> Result<Vec<Value>, PatchError> {
    if original.is_empty() && patch.is_empty() {
        return Ok(original);
    }
    let kind = slice_element_kind(&[&original, &patch])?;

    let (merged, original, patch) = if kind == ElemKind::Scalar {
        if is_delete_list {
            return Ok(original
                .into_iter()
                .filter(|v| !patch.contains(v))
                .collect());
        }
        // A set union; its order is settled below.
        let mut merged: Vec<Value> = Vec::with_capacity(original.len() + patch.len());
        for v in original.iter().chain(patch.iter()) {
            if !merged.contains(v) {
                merged.push(v.clone());
            }
        }
        (merged, original, patch)
    } else {
        if merge_key.is_empty() {
            return Err(invalid(format!(
                "cannot merge lists without merge key for {elem_type}"
            )));
        }
        let (original, patch) = apply_list_directives(original, patch, merge_key)?;
        let merged = merge_by_key(original.clone(), &patch, merge_key, elem_schema)?;
        (merged, original, patch)
    };

    let (patch_items, server_only) = if merge_key.is_empty() {
        partition_primitives(merged, &patch)
    } else {
        partition_maps(merged, &patch, merge_key)?
    };
    normalize_element_order(patch_items, server_only, &patch, &original, merge_key, kind)
}

/// Applies `$patch` items of a list of maps: `delete` removes the matching original
/// elements, `replace` makes the remaining patch items the whole list. Returns the new
/// original and the patch without those items.
fn apply_list_directives(
    mut original: Vec<Value>,
    patch: Vec<Value>,
    merge_key: &str,
) -> Result<(Vec<Value>, Vec<Value>), PatchError> {
    let mut plain = Vec::with_capacity(patch.len());
    let mut replace = false;
    for item in patch {
        let Value::Object(m) = &item else {
            return Err(bad_arg_type(MAP_TYPE, &item));
        };
        let Some(directive) = m.get(DIRECTIVE_MARKER) else {
            plain.push(item);
            continue;
        };
        match directive.as_str() {
            Some(DELETE_DIRECTIVE) => {
                let Some(key_value) = m.get(merge_key) else {
                    return Err(no_merge_key(m, merge_key));
                };
                for (i, o) in original.iter().enumerate() {
                    if !o.is_object() {
                        return Err(invalid(format!("value for key {i} is not a map")));
                    }
                }
                original.retain(|o| o.get(merge_key) != Some(key_value));
            }
            // Keep going: other directive items must still be pruned.
            Some(REPLACE_DIRECTIVE) => replace = true,
            Some(MERGE_DIRECTIVE) => {
                return Err(invalid(
                    "merging lists cannot yet be specified in the patch".to_string(),
                ))
            }
            _ => return Err(bad_patch_type(directive, m)),
        }
    }
    if replace {
        return Ok((plain, Vec::new()));
    }
    Ok((original, plain))
}

/// Patch items merge into the original element with the same merge key value, or are
/// appended.
fn merge_by_key(
    mut original: Vec<Value>,
    patch: &[Value],
    merge_key: &str,
    elem_schema: Schema,
) -> Result<Vec<Value>, PatchError> {
    for item in patch {
        let Value::Object(m) = item else {
            return Err(bad_arg_type(MAP_TYPE, item));
        };
        let Some(key_value) = m.get(merge_key) else {
            return Err(no_merge_key(m, merge_key));
        };
        match find_by_key(&original, merge_key, key_value)? {
            Some(i) => {
                let slot = &mut original[i];
                if let Value::Object(o) = std::mem::take(slot) {
                    *slot = Value::Object(merge_map(o, m.clone(), elem_schema)?);
                }
            }
            None => original.push(item.clone()),
        }
    }
    Ok(original)
}

/// Index of the first map whose `key` equals `value`; every element scanned must be a map.
fn find_by_key(list: &[Value], key: &str, value: &Value) -> Result<Option<usize>, PatchError> {
    for (i, item) in list.iter().enumerate() {
        let Value::Object(m) = item else {
            return Err(invalid(format!("value for key {i} is not a map")));
        };
        if m.get(key) == Some(value) {
            return Ok(Some(i));
        }
    }
    Ok(None)
}

/// Items of `merged` present in `by`, and the others (server-only items).
fn partition_primitives(merged: Vec<Value>, by: &[Value]) -> (Vec<Value>, Vec<Value>) {
    merged.into_iter().partition(|v| by.contains(v))
}

fn partition_maps(
    merged: Vec<Value>,
    by: &[Value],
    merge_key: &str,
) -> Result<(Vec<Value>, Vec<Value>), PatchError> {
    let (mut in_by, mut server_only) = (Vec::new(), Vec::new());
    for item in merged {
        let Value::Object(m) = &item else {
            return Err(bad_arg_type(MAP_TYPE, &item));
        };
        let Some(key_value) = m.get(merge_key) else {
            return Err(no_merge_key(m, merge_key));
        };
        if find_by_key(by, merge_key, key_value)?.is_some() {
            in_by.push(item);
        } else {
            server_only.push(item);
        }
    }
    Ok((in_by, server_only))
}

/// Sorts the patch items by `patch_order` and the server-only items by `server_order`, then
/// interleaves them keeping both relative orders (upstream `normalizeElementOrder`).
fn normalize_element_order(
    patch_items: Vec<Value>,
    server_only: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    merge_key: &str,
    kind: ElemKind,
) -> Result<Vec<Value>, PatchError> {
    let patch_items = normalize_slice_order(patch_items, patch_order, merge_key, kind)?;
    let server_only = normalize_slice_order(server_only, server_order, merge_key, kind)?;
    Ok(merge_sorted(
        server_only,
        patch_items,
        server_order,
        merge_key,
        kind,
    ))
}

fn normalize_slice_order(
    items: Vec<Value>,
    order: &[Value],
    merge_key: &str,
    kind: ElemKind,
) -> Result<Vec<Value>, PatchError> {
    let (mut items, deletions) = if kind == ElemKind::Map {
        for item in items.iter().chain(order.iter()) {
            let Value::Object(m) = item else {
                return Err(bad_arg_type(MAP_TYPE, item));
            };
            if !m.contains_key(merge_key) {
                return Err(no_merge_key(m, merge_key));
            }
        }
        split_deletions(items)?
    } else {
        (items, Vec::new())
    };
    // Upstream's comparator answers "less" whenever either item is absent from `order`; the
    // Go sort algorithm is reproduced so such items land where they land upstream.
    go_stable_sort(&mut items, &|a, b| match (
        index_in(order, a, merge_key, kind),
        index_in(order, b, merge_key, kind),
    ) {
        (Some(ia), Some(ib)) => ia < ib,
        _ => true,
    });
    items.extend(deletions);
    Ok(items)
}

/// What identifies an item for ordering: its merge key value (maps) or itself. Go compares
/// these as interfaces, where a missing key and `null` are both nil.
fn identity<'a>(item: &'a Value, merge_key: &str, kind: ElemKind) -> Option<&'a Value> {
    let id = match kind {
        ElemKind::Map => item.as_object().and_then(|m| m.get(merge_key)),
        ElemKind::Scalar => Some(item),
    };
    id.filter(|v| !v.is_null())
}

fn index_in(list: &[Value], item: &Value, merge_key: &str, kind: ElemKind) -> Option<usize> {
    let wanted = identity(item, merge_key, kind);
    list.iter()
        .position(|v| identity(v, merge_key, kind) == wanted)
}

/// Inserts each server-only item (`left`) among the patch items (`right`) before the first
/// patch item that comes after it in the live list (upstream `mergeSortedSlice`).
fn merge_sorted(
    left: Vec<Value>,
    right: Vec<Value>,
    server_order: &[Value],
    merge_key: &str,
    kind: ElemKind,
) -> Vec<Value> {
    let mut out = Vec::with_capacity(left.len() + right.len());
    let mut left = left.into_iter().peekable();
    let mut right = right.into_iter().peekable();
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(l), Some(r)) => {
                match (
                    index_in(server_order, l, merge_key, kind),
                    index_in(server_order, r, merge_key, kind),
                ) {
                    (Some(li), Some(ri)) => li < ri,
                    _ => false,
                }
            }
        };
        let next = if take_left { left.next() } else { right.next() };
        out.extend(next);
    }
    out
}

/// Go's `sort.SliceStable`: insertion sort on blocks of 20, then SymMerge. Only matters for
/// the inconsistent comparator above; with a consistent one any stable sort agrees.
fn go_stable_sort<T>(data: &mut [T], less: &dyn Fn(&T, &T) -> bool) {
    let n = data.len();
    let mut block = 20;
    let (mut a, mut b) = (0, block);
    while b <= n {
        insertion_sort(data, a, b, less);
        a = b;
        b += block;
    }
    insertion_sort(data, a, n, less);
    while block < n {
        a = 0;
        b = 2 * block;
        while b <= n {
            sym_merge(data, a, a + block, b, less);
            a = b;
            b += 2 * block;
        }
        let m = a + block;
        if m < n {
            sym_merge(data, a, m, n, less);
        }
        block *= 2;
    }
}

fn insertion_sort<T>(data: &mut [T], a: usize, b: usize, less: &dyn Fn(&T, &T) -> bool) {
    for i in a + 1..b {
        let mut j = i;
        while j > a && less(&data[j], &data[j - 1]) {
            data.swap(j, j - 1);
            j -= 1;
        }
    }
}

/// Merges the sorted runs `data[a..m]` and `data[m..b]` in place (Kim & Kutzner's SymMerge,
/// as Go implements it).
fn sym_merge<T>(data: &mut [T], a: usize, m: usize, b: usize, less: &dyn Fn(&T, &T) -> bool) {
    if m - a == 1 {
        // Binary-search the insertion point of data[a] in data[m..b], then rotate it there.
        let (mut i, mut j) = (m, b);
        while i < j {
            let h = (i + j) / 2;
            if less(&data[h], &data[a]) {
                i = h + 1;
            } else {
                j = h;
            }
        }
        for k in a..i.saturating_sub(1) {
            data.swap(k, k + 1);
        }
        return;
    }
    if b - m == 1 {
        let (mut i, mut j) = (a, m);
        while i < j {
            let h = (i + j) / 2;
            if !less(&data[m], &data[h]) {
                i = h + 1;
            } else {
                j = h;
            }
        }
        let mut k = m;
        while k > i {
            data.swap(k, k - 1);
            k -= 1;
        }
        return;
    }
    let mid = (a + b) / 2;
    let n = mid + m;
    let (mut start, mut r) = if m > mid { (n - b, mid) } else { (a, m) };
    let p = n - 1;
    while start < r {
        let c = (start + r) / 2;
        if !less(&data[p - c], &data[c]) {
            start = c + 1;
        } else {
            r = c;
        }
    }
    let end = n - start;
    if start < m && m < end {
        rotate(data, start, m, end);
    }
    if a < start && start < mid {
        sym_merge(data, a, start, mid, less);
    }
    if mid < end && end < b {
        sym_merge(data, mid, end, b, less);
    }
}

/// Swaps the blocks `data[a..m]` and `data[m..b]` (Go's block-swap rotation).
fn rotate<T>(data: &mut [T], a: usize, m: usize, b: usize) {
    let mut i = m - a;
    let mut j = b - m;
    while i != j {
        if i > j {
            swap_range(data, m - i, m, j);
            i -= j;
        } else {
            swap_range(data, m - i, m + j - i, i);
            j -= i;
        }
    }
    swap_range(data, m - i, m, i);
}

fn swap_range<T>(data: &mut [T], a: usize, b: usize, n: usize) {
    for i in 0..n {
        data.swap(a + i, b + i);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_go_stable_sort_matches_sorting() {
        // A consistent comparator: must equal a stable sort, across block boundaries.
        let mut data: Vec<(u32, usize)> = (0..100).map(|i| ((i * 37 % 11) as u32, i)).collect();
        let mut expected = data.clone();
        expected.sort_by_key(|(k, _)| *k);
        go_stable_sort(&mut data, &|a, b| a.0 < b.0);
        assert_eq!(data, expected);
    }
}
