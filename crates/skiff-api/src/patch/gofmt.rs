//! Go `fmt` renderings of decoded JSON values, so that error messages read word for word
//! like the apiserver's (it formats `map[string]interface{}` values with `%v` and `%s`).
//! Integers are Go `int64` and other numbers `float64`, as the apiserver decodes patches
//! with integers preserved.

use serde_json::{Number, Value};

/// `fmt.Sprintf("%v", value)`: maps as `map[k:v ...]` with sorted keys, slices as `[a b]`.
pub(crate) fn v(value: &Value) -> String {
    render(value, false)
}

/// `fmt.Sprintf("%s", value)`: like `%v` but non-strings render as `%!s(type=value)`.
pub(crate) fn s(value: &Value) -> String {
    render(value, true)
}

/// `fmt.Sprint(slices)` of a `[][]interface{}`.
pub(crate) fn slices(lists: &[&[Value]]) -> String {
    let inner: Vec<String> = lists
        .iter()
        .map(|list| {
            let items: Vec<String> = list.iter().map(v).collect();
            format!("[{}]", items.join(" "))
        })
        .collect();
    format!("[{}]", inner.join(" "))
}

/// `reflect.TypeOf(value)` rendered by `%s`.
pub(crate) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "%!s(<nil>)",
        Value::Bool(_) => "bool",
        Value::Number(n) if is_int(n) => "int64",
        Value::Number(_) => "float64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

/// Integers outside int64 decode as float64 in Go.
pub(crate) fn is_int(n: &Number) -> bool {
    n.is_i64()
}

fn render(value: &Value, verb_s: bool) -> String {
    match value {
        Value::Null if verb_s => "%!s(<nil>)".to_string(),
        Value::Null => "<nil>".to_string(),
        Value::Bool(b) if verb_s => format!("%!s(bool={b})"),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => {
            let (ty, text) = number(n);
            if verb_s {
                format!("%!s({ty}={text})")
            } else {
                text
            }
        }
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(|i| render(i, verb_s)).collect();
            format!("[{}]", items.join(" "))
        }
        Value::Object(map) => {
            // fmt prints map keys sorted
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let items: Vec<String> = entries
                .iter()
                .map(|(k, val)| format!("{k}:{}", render(val, verb_s)))
                .collect();
            format!("map[{}]", items.join(" "))
        }
    }
}

fn number(n: &Number) -> (&'static str, String) {
    if let Some(i) = n.as_i64() {
        return ("int64", i.to_string());
    }
    ("float64", float(n.as_f64().unwrap_or(0.0)))
}

/// `%v` of a float64 (`strconv.FormatFloat(f, 'g', -1, 64)`): shortest digits, in exponent
/// form when the decimal exponent is below -4 or at least 6.
fn float(f: f64) -> String {
    if f == 0.0 {
        return "0".to_string();
    }
    // Rust's `{:e}` gives the shortest round-trip digits, e.g. "-1.2345e6".
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    if !(-4..6).contains(&exp) {
        let (first, rest) = digits.split_at(1);
        let frac = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{first}{frac}e{esign}{:02}", exp.abs());
    }
    let dp = exp + 1; // digits before the decimal point
    let nd = digits.len() as i32;
    let body = if dp <= 0 {
        format!("0.{}{digits}", "0".repeat((-dp) as usize))
    } else if dp >= nd {
        format!("{digits}{}", "0".repeat((dp - nd) as usize))
    } else {
        let (int, frac) = digits.split_at(dp as usize);
        format!("{int}.{frac}")
    };
    format!("{sign}{body}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn patch_gofmt_renders_like_go() {
        let m = json!({"name": "a", "$patch": "bogus", "port": 80, "x": [1.5, true, null]});
        assert_eq!(v(&m), "map[$patch:bogus name:a port:80 x:[1.5 true <nil>]]");
        assert_eq!(s(&json!(3)), "%!s(int64=3)");
        assert_eq!(s(&json!("merge")), "merge");
        assert_eq!(v(&json!(1e6)), "1e+06");
        assert_eq!(v(&json!(123456.0)), "123456");
        assert_eq!(v(&json!(0.0001)), "0.0001");
        assert_eq!(v(&json!(0.00001)), "1e-05");
        assert_eq!(v(&json!(-2.5)), "-2.5");
        assert_eq!(type_name(&json!({})), "map[string]interface {}");
        assert_eq!(
            slices(&[&[json!("a"), json!("b")], &[json!(1)]]),
            "[[a b] [1]]"
        );
    }
}
