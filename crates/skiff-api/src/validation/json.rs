//! Small readers over JSON objects, so checks read like the Go they mirror: a missing
//! field reads as its Go zero value (`""`, `0`, empty list) where upstream would see one.

use serde_json::{Map, Value};

pub fn get<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    match v.get(key) {
        Some(Value::Null) | None => None,
        Some(x) => Some(x),
    }
}

/// A string field, `""` when absent.
pub fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// A string field that may be unset (a Go `*string`).
pub fn opt_str<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// An integer field that may be unset (a Go `*int32`/`*int64`).
pub fn opt_int(v: &Value, key: &str) -> Option<i64> {
    v.get(key).and_then(Value::as_i64)
}

/// An integer field, 0 when absent.
pub fn int_of(v: &Value, key: &str) -> i64 {
    opt_int(v, key).unwrap_or(0)
}

pub fn opt_bool(v: &Value, key: &str) -> Option<bool> {
    v.get(key).and_then(Value::as_bool)
}

pub fn bool_of(v: &Value, key: &str) -> bool {
    opt_bool(v, key).unwrap_or(false)
}

/// A list field, empty when absent.
pub fn arr<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key).and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[])
}

pub fn obj<'a>(v: &'a Value, key: &str) -> Option<&'a Map<String, Value>> {
    v.get(key).and_then(Value::as_object)
}

/// The entries of a map field, in the order they were sent.
pub fn entries<'a>(v: &'a Value, key: &str) -> Vec<(&'a String, &'a Value)> {
    obj(v, key).map(|m| m.iter().collect()).unwrap_or_default()
}

/// A field that is set (present and not null).
pub fn has(v: &Value, key: &str) -> bool {
    get(v, key).is_some()
}

/// Follows a chain of object keys.
pub fn at<'a>(v: &'a Value, keys: &[&str]) -> Option<&'a Value> {
    let mut cur = v;
    for k in keys {
        cur = get(cur, k)?;
    }
    Some(cur)
}

/// An empty JSON object, the stand-in for an absent struct.
pub fn empty() -> &'static Value {
    static EMPTY: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    EMPTY.get_or_init(|| Value::Object(Map::new()))
}

/// A struct-valued field, or an empty object when absent (Go's zero struct).
pub fn sub<'a>(v: &'a Value, key: &str) -> &'a Value {
    match get(v, key) {
        Some(x) if x.is_object() => x,
        _ => empty(),
    }
}

/// Drops what Go would read as unset (nulls, empty lists and maps, `""`, `false`) so
/// two objects can be compared as upstream's semantic equality compares structs.
pub fn normalized(v: &Value) -> Option<Value> {
    match v {
        Value::Null => None,
        Value::Bool(false) => None,
        Value::String(s) if s.is_empty() => None,
        Value::Array(a) => {
            if a.is_empty() {
                return None;
            }
            // Keep positions: an element that normalizes away stays as an empty object.
            Some(Value::Array(a.iter().map(|x| normalized(x).unwrap_or_else(|| Value::Object(Map::new()))).collect()))
        }
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, x) in m {
                if let Some(n) = normalized(x) {
                    out.insert(k.clone(), n);
                }
            }
            if out.is_empty() {
                None
            } else {
                Some(Value::Object(out))
            }
        }
        other => Some(other.clone()),
    }
}

/// Semantic equality: equal after [`normalized`], with object keys in any order.
pub fn semantic_eq(a: Option<&Value>, b: Option<&Value>) -> bool {
    let na = a.and_then(normalized);
    let nb = b.and_then(normalized);
    na == nb
}
