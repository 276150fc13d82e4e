//! Field errors as upstream's `k8s.io/apimachinery/pkg/util/validation/field` reports
//! them: the error types, the `field.Error.Error()` text, and field paths.
//!
//! Bad values are kept as JSON. Upstream prints them with Go's `%v`/`%q`/`%#v`; for
//! values whose Go rendering cannot be derived from JSON (an `intstr.IntOrString`, a
//! `v1.LabelSelector`, ...) the value is stored pre-rendered as `{"$goRepr": "..."}`
//! (see [`go_repr`]).

use std::fmt;

use serde_json::{Map, Value};

/// The kind of a field error; matches upstream's `field.ErrorType`.
#[derive(Debug, Clone, PartialEq)]
pub enum ErrorType {
    NotFound,
    Required,
    Duplicate,
    Invalid,
    NotSupported,
    Forbidden,
    TooLong,
    TooMany,
    Internal,
    TypeInvalid,
}

impl ErrorType {
    /// The `StatusCause.reason` (`FieldValueRequired`, ...).
    pub fn reason(&self) -> &'static str {
        match self {
            ErrorType::NotFound => "FieldValueNotFound",
            ErrorType::Required => "FieldValueRequired",
            ErrorType::Duplicate => "FieldValueDuplicate",
            ErrorType::Invalid => "FieldValueInvalid",
            ErrorType::NotSupported => "FieldValueNotSupported",
            ErrorType::Forbidden => "FieldValueForbidden",
            ErrorType::TooLong => "FieldValueTooLong",
            ErrorType::TooMany => "FieldValueTooMany",
            ErrorType::Internal => "InternalError",
            ErrorType::TypeInvalid => "FieldValueTypeInvalid",
        }
    }

    /// The words that open the message (`Required value`, `Invalid value`, ...).
    pub fn message(&self) -> &'static str {
        match self {
            ErrorType::NotFound => "Not found",
            ErrorType::Required => "Required value",
            ErrorType::Duplicate => "Duplicate value",
            ErrorType::Invalid => "Invalid value",
            ErrorType::NotSupported => "Unsupported value",
            ErrorType::Forbidden => "Forbidden",
            ErrorType::TooLong => "Too long",
            ErrorType::TooMany => "Too many",
            ErrorType::Internal => "Internal error",
            ErrorType::TypeInvalid => "Invalid value",
        }
    }
}

/// One validation failure.
#[derive(Debug, Clone)]
pub struct FieldError {
    pub error_type: ErrorType,
    /// The field path, e.g. `spec.template.spec.restartPolicy`.
    pub field: String,
    /// The offending value; `None` when upstream omits it from the message.
    pub bad_value: Option<Value>,
    pub detail: String,
}

impl FieldError {
    /// The `StatusCause.reason`.
    pub fn reason(&self) -> &'static str {
        self.error_type.reason()
    }

    /// The message without the field, as `StatusCause.message` carries it
    /// (upstream's `ErrorBody()`).
    pub fn error_body(&self) -> String {
        let mut s = match self.error_type {
            // These never show the value.
            ErrorType::Required | ErrorType::Forbidden | ErrorType::TooLong | ErrorType::Internal => {
                self.error_type.message().to_string()
            }
            _ => match &self.bad_value {
                None => self.error_type.message().to_string(),
                Some(v) => format!("{}: {}", self.error_type.message(), render_bad_value(v)),
            },
        };
        if !self.detail.is_empty() {
            s.push_str(": ");
            s.push_str(&self.detail);
        }
        s
    }

    fn new(error_type: ErrorType, field: &Path, bad_value: Option<Value>, detail: impl Into<String>) -> FieldError {
        FieldError { error_type, field: field.to_string(), bad_value, detail: detail.into() }
    }

    pub fn required(field: &Path, detail: impl Into<String>) -> FieldError {
        FieldError::new(ErrorType::Required, field, None, detail)
    }

    pub fn forbidden(field: &Path, detail: impl Into<String>) -> FieldError {
        FieldError::new(ErrorType::Forbidden, field, None, detail)
    }

    pub fn invalid(field: &Path, value: impl Into<Value>, detail: impl Into<String>) -> FieldError {
        FieldError::new(ErrorType::Invalid, field, Some(value.into()), detail)
    }

    /// An Invalid error whose value is left out of the message (`field.OmitValueType{}`).
    pub fn invalid_omit(field: &Path, detail: impl Into<String>) -> FieldError {
        FieldError::new(ErrorType::Invalid, field, None, detail)
    }

    pub fn not_found(field: &Path, value: impl Into<Value>) -> FieldError {
        FieldError::new(ErrorType::NotFound, field, Some(value.into()), "")
    }

    pub fn duplicate(field: &Path, value: impl Into<Value>) -> FieldError {
        FieldError::new(ErrorType::Duplicate, field, Some(value.into()), "")
    }

    /// `supported values: "A", "B"` as upstream's `field.NotSupported` words it.
    pub fn not_supported<S: AsRef<str>>(field: &Path, value: impl Into<Value>, valid: &[S]) -> FieldError {
        let detail = if valid.is_empty() {
            String::new()
        } else {
            let quoted: Vec<String> = valid.iter().map(|v| go_quote(v.as_ref())).collect();
            format!("supported values: {}", quoted.join(", "))
        };
        FieldError::new(ErrorType::NotSupported, field, Some(value.into()), detail)
    }

    /// `may not be more than N bytes`; the value itself is never shown.
    pub fn too_long(field: &Path, max_len: usize) -> FieldError {
        let unit = if max_len == 1 { "byte" } else { "bytes" };
        FieldError::new(ErrorType::TooLong, field, None, format!("may not be more than {max_len} {unit}"))
    }

    pub fn too_many(field: &Path, actual: usize, max: usize) -> FieldError {
        let unit = if max == 1 { "item" } else { "items" };
        FieldError::new(ErrorType::TooMany, field, Some(Value::from(actual)), format!("must have at most {max} {unit}"))
    }

    pub fn internal(field: &Path, detail: impl Into<String>) -> FieldError {
        FieldError::new(ErrorType::Internal, field, None, detail)
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.error_body())
    }
}

impl std::error::Error for FieldError {}

/// The text upstream puts after `Kind "name" is invalid: `: one error as is, several
/// de-duplicated and bracketed (`errs.ToAggregate().Error()`).
pub fn aggregate_message(errs: &[FieldError]) -> String {
    let mut seen: Vec<String> = Vec::new();
    for e in errs {
        let msg = e.to_string();
        if !seen.contains(&msg) {
            seen.push(msg);
        }
    }
    match seen.len() {
        0 => String::new(),
        1 => seen.swap_remove(0),
        _ => format!("[{}]", seen.join(", ")),
    }
}

/// A field path, printed as upstream's `field.Path` (`spec.containers[0].name`,
/// `metadata.labels[app]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path(String);

impl Path {
    pub fn new(root: &str) -> Path {
        Path(root.to_string())
    }

    pub fn child(&self, name: &str) -> Path {
        if self.0.is_empty() {
            Path(name.to_string())
        } else {
            Path(format!("{}.{}", self.0, name))
        }
    }

    pub fn index(&self, i: usize) -> Path {
        Path(format!("{}[{}]", self.0, i))
    }

    pub fn key(&self, k: &str) -> Path {
        Path(format!("{}[{}]", self.0, k))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The key that marks a pre-rendered Go value.
pub const GO_REPR_KEY: &str = "$goRepr";

/// A bad value whose Go rendering is given as text (for types JSON cannot describe).
pub fn go_repr(rendered: impl Into<String>) -> Value {
    let mut m = Map::new();
    m.insert(GO_REPR_KEY.to_string(), Value::String(rendered.into()));
    Value::Object(m)
}

/// Renders a bad value as upstream's message does: strings `%q`, numbers and booleans
/// `%v`, string maps and string slices `%#v`.
pub fn render_bad_value(v: &Value) -> String {
    match v {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => go_quote(s),
        Value::Object(m) => {
            if m.len() == 1 {
                if let Some(Value::String(s)) = m.get(GO_REPR_KEY) {
                    return s.clone();
                }
            }
            if m.values().all(Value::is_string) {
                return go_string_map(Some(m));
            }
            v.to_string()
        }
        Value::Array(a) => {
            if a.iter().all(Value::is_string) {
                let items: Vec<&str> = a.iter().filter_map(Value::as_str).collect();
                return go_string_slice(Some(&items));
            }
            if a.iter().all(|x| x.is_i64()) {
                let items: Vec<String> = a.iter().map(|x| x.to_string()).collect();
                return format!("[]int32{{{}}}", items.join(", "));
            }
            v.to_string()
        }
    }
}

/// Go's `strconv.Quote`.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if c.is_control() => {
                if (c as u32) <= 0xffff {
                    out.push_str(&format!("\\u{:04x}", c as u32));
                } else {
                    out.push_str(&format!("\\U{:08x}", c as u32));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `%#v` of a `map[string]string` (keys sorted, as Go prints maps).
pub fn go_string_map(m: Option<&Map<String, Value>>) -> String {
    match m {
        None => "map[string]string(nil)".to_string(),
        Some(m) => {
            let mut entries: Vec<(&String, &Value)> = m.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let parts: Vec<String> = entries
                .into_iter()
                .map(|(k, v)| format!("{}:{}", go_quote(k), go_quote(v.as_str().unwrap_or_default())))
                .collect();
            format!("map[string]string{{{}}}", parts.join(", "))
        }
    }
}

/// `%#v` of a `[]string`.
pub fn go_string_slice(items: Option<&[&str]>) -> String {
    match items {
        None => "[]string(nil)".to_string(),
        Some(items) => {
            let parts: Vec<String> = items.iter().map(|s| go_quote(s)).collect();
            format!("[]string{{{}}}", parts.join(", "))
        }
    }
}

fn json_string_slice(v: Option<&Value>) -> String {
    match v.and_then(Value::as_array) {
        None => go_string_slice(None),
        Some(a) => {
            let items: Vec<&str> = a.iter().map(|x| x.as_str().unwrap_or_default()).collect();
            go_string_slice(Some(&items))
        }
    }
}

/// `%#v` of a `v1.LabelSelector` (absent selectors print their zero value).
pub fn go_label_selector(sel: Option<&Value>) -> String {
    let labels = go_string_map(sel.and_then(|s| s.get("matchLabels")).and_then(Value::as_object));
    let exprs = match sel.and_then(|s| s.get("matchExpressions")).and_then(Value::as_array) {
        None => "[]v1.LabelSelectorRequirement(nil)".to_string(),
        Some(list) => {
            let parts: Vec<String> = list
                .iter()
                .map(|r| {
                    format!(
                        "v1.LabelSelectorRequirement{{Key:{}, Operator:{}, Values:{}}}",
                        go_quote(r.get("key").and_then(Value::as_str).unwrap_or_default()),
                        go_quote(r.get("operator").and_then(Value::as_str).unwrap_or_default()),
                        json_string_slice(r.get("values"))
                    )
                })
                .collect();
            format!("[]v1.LabelSelectorRequirement{{{}}}", parts.join(", "))
        }
    };
    format!("v1.LabelSelector{{MatchLabels:{labels}, MatchExpressions:{exprs}}}")
}

/// `%#v` of an `intstr.IntOrString` read from JSON (a number or a string).
pub fn go_int_or_string(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => format!("intstr.IntOrString{{Type:1, IntVal:0, StrVal:{}}}", go_quote(s)),
        Some(Value::Number(n)) => format!("intstr.IntOrString{{Type:0, IntVal:{}, StrVal:\"\"}}", n.as_i64().unwrap_or(0)),
        _ => "intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}".to_string(),
    }
}

/// `%#v` of a nested pointer field: `(*T)(nil)` when unset, an address otherwise
/// (Go prints the real address; any stable stand-in is as good).
pub fn go_pointer(type_name: &str, set: bool) -> String {
    if set {
        format!("(*{type_name})(0xc000000000)")
    } else {
        format!("(*{type_name})(nil)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn validation_error_text_matches_upstream() {
        let p = Path::new("spec").child("template").child("spec").child("restartPolicy");
        let e = FieldError::not_supported(&p, "Always", &["OnFailure", "Never"]);
        assert_eq!(
            e.to_string(),
            r#"spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: "OnFailure", "Never""#
        );
        assert_eq!(e.reason(), "FieldValueNotSupported");
        let e = FieldError::required(&Path::new("spec").child("selector"), "");
        assert_eq!(e.to_string(), "spec.selector: Required value");
        let e = FieldError::invalid(
            &Path::new("spec").child("template").child("metadata").child("labels"),
            json!({"app": "web"}),
            "`selector` does not match template `labels`",
        );
        assert_eq!(
            e.to_string(),
            r#"spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: `selector` does not match template `labels`"#
        );
        let e = FieldError::invalid(&Path::new("spec").child("replicas"), -1, "must be greater than or equal to 0");
        assert_eq!(e.to_string(), "spec.replicas: Invalid value: -1: must be greater than or equal to 0");
        let e = FieldError::not_found(&Path::new("a").index(0).key("x y"), "data");
        assert_eq!(e.to_string(), r#"a[0][x y]: Not found: "data""#);
        let e = FieldError::too_long(&Path::new("metadata").child("annotations"), 262144);
        assert_eq!(e.to_string(), "metadata.annotations: Too long: may not be more than 262144 bytes");
        assert_eq!(e.reason(), "FieldValueTooLong");
        let e = FieldError::too_many(&Path::new("x"), 21, 20);
        assert_eq!(e.to_string(), "x: Too many: 21: must have at most 20 items");
    }

    #[test]
    fn validation_go_renderings() {
        assert_eq!(go_quote("a\"b\\c\n"), r#""a\"b\\c\n""#);
        assert_eq!(
            go_label_selector(Some(&json!({"matchLabels": {"b": "2", "a": "1"}}))),
            r#"v1.LabelSelector{MatchLabels:map[string]string{"a":"1", "b":"2"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}"#
        );
        assert_eq!(go_int_or_string(Some(&json!(0))), r#"intstr.IntOrString{Type:0, IntVal:0, StrVal:""}"#);
        assert_eq!(go_int_or_string(Some(&json!("0%"))), r#"intstr.IntOrString{Type:1, IntVal:0, StrVal:"0%"}"#);
        assert_eq!(render_bad_value(&json!(["a", "b"])), r#"[]string{"a", "b"}"#);
        assert_eq!(render_bad_value(&go_repr("x{}")), "x{}");
        let errs = vec![
            FieldError::required(&Path::new("a"), ""),
            FieldError::required(&Path::new("a"), ""),
            FieldError::required(&Path::new("b"), ""),
        ];
        assert_eq!(aggregate_message(&errs), "[a: Required value, b: Required value]");
        assert_eq!(aggregate_message(&errs[..2]), "a: Required value");
    }
}
