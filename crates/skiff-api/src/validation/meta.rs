//! ObjectMeta, labels, annotations and label selectors
//! (upstream `apimachinery/pkg/api/validation` and `apis/meta/v1/validation`).

use serde_json::{Map, Value};

use super::field_error::{go_repr, go_string_slice, FieldError, Path};
use super::json::{arr, bool_of, get, obj, opt_int, str_of, sub};
use super::names::{is_qualified_name, is_valid_label_value, name_is_dns_label, NameFn};

pub const FIELD_IMMUTABLE: &str = "field is immutable";
pub const IS_NEGATIVE: &str = "must be greater than or equal to 0";
const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * 1024;

/// `ValidateNonnegativeField`.
pub fn non_negative(value: i64, path: &Path, errs: &mut Vec<FieldError>) {
    if value < 0 {
        errs.push(FieldError::invalid(path, value, IS_NEGATIVE));
    }
}

/// Checks an optional integer field is not negative.
pub fn opt_non_negative(v: &Value, key: &str, path: &Path, errs: &mut Vec<FieldError>) {
    if let Some(n) = opt_int(v, key) {
        non_negative(n, &path.child(key), errs);
    }
}

/// `ValidateLabelName`: a label key is a qualified name.
pub fn validate_label_name(key: &str, path: &Path, errs: &mut Vec<FieldError>) {
    for msg in is_qualified_name(key) {
        errs.push(FieldError::invalid(path, key, msg));
    }
}

/// `ValidateLabels`: every key a qualified name, every value a label value.
pub fn validate_labels(labels: Option<&Map<String, Value>>, path: &Path, errs: &mut Vec<FieldError>) {
    let Some(labels) = labels else { return };
    for (k, v) in labels {
        validate_label_name(k, path, errs);
        let v = v.as_str().unwrap_or_default();
        for msg in is_valid_label_value(v) {
            errs.push(FieldError::invalid(path, v, msg));
        }
    }
}

/// `ValidateAnnotations`: keys are qualified names (case-insensitively), total size ≤ 256 KiB.
pub fn validate_annotations(annotations: Option<&Map<String, Value>>, path: &Path, errs: &mut Vec<FieldError>) {
    let Some(annotations) = annotations else { return };
    let mut total = 0usize;
    for (k, v) in annotations {
        for msg in is_qualified_name(&k.to_lowercase()) {
            errs.push(FieldError::invalid(path, k.as_str(), msg));
        }
        total += k.len() + v.as_str().map(str::len).unwrap_or(0);
    }
    if total > TOTAL_ANNOTATION_SIZE_LIMIT {
        errs.push(FieldError::too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT));
    }
}

fn validate_owner_references(meta: &Value, path: &Path, errs: &mut Vec<FieldError>) {
    let refs = arr(meta, "ownerReferences");
    let mut first_controller: Option<String> = None;
    for r in refs {
        let api_version = str_of(r, "apiVersion");
        let version = api_version.rsplit('/').next().unwrap_or_default();
        if version.is_empty() {
            errs.push(FieldError::invalid(&path.child("apiVersion"), api_version, "version must not be empty"));
        }
        for key in ["kind", "name", "uid"] {
            if str_of(r, key).is_empty() {
                errs.push(FieldError::invalid(&path.child(key), "", "must not be empty"));
            }
        }
        if (api_version == "v1" && str_of(r, "kind") == "Event") && !version.is_empty() {
            errs.push(FieldError::invalid(path, go_repr("v1.OwnerReference{...}"), "/v1, Kind=Event is disallowed from being an owner"));
        }
        if bool_of(r, "controller") {
            let name = format!("{}/{}", str_of(r, "kind"), str_of(r, "name"));
            match &first_controller {
                Some(first) => errs.push(FieldError::invalid(
                    path,
                    go_repr("[]v1.OwnerReference{...}"),
                    format!("Only one reference can have Controller set to true. Found \"true\" in references for {first} and {name}"),
                )),
                None => first_controller = Some(name),
            }
        }
    }
}

const STANDARD_FINALIZERS: [&str; 3] = ["kubernetes", "orphan", "foregroundDeletion"];

fn validate_finalizers(meta: &Value, path: &Path, errs: &mut Vec<FieldError>) {
    let finalizers: Vec<&str> = arr(meta, "finalizers").iter().filter_map(Value::as_str).collect();
    for f in &finalizers {
        for msg in is_qualified_name(f) {
            errs.push(FieldError::invalid(path, *f, msg));
        }
    }
    if finalizers.contains(&"orphan") && finalizers.contains(&"foregroundDeletion") {
        errs.push(FieldError::invalid(
            path,
            go_repr(go_string_slice(Some(&finalizers))),
            "finalizer orphan and foregroundDeletion cannot be both set",
        ));
    }
}

/// The core group's extra rule: unprefixed finalizers must be standard ones.
pub fn validate_kube_finalizer_name(f: &str, path: &Path, errs: &mut Vec<FieldError>) {
    if !f.contains('/') && !STANDARD_FINALIZERS.contains(&f) {
        errs.push(FieldError::invalid(path, f, "name is neither a standard finalizer name nor is it fully qualified"));
    }
}

/// `ValidateObjectMeta` on create (core's wrapper, which adds the finalizer rule).
/// Whether a namespace is present is the caller's business; a present one must be
/// a valid namespace name.
pub fn validate_object_meta(obj_: &Value, name_fn: NameFn, errs: &mut Vec<FieldError>) {
    let meta = sub(obj_, "metadata");
    let path = Path::new("metadata");
    let generate_name = str_of(meta, "generateName");
    if !generate_name.is_empty() {
        for msg in name_fn(generate_name, true) {
            errs.push(FieldError::invalid(&path.child("generateName"), generate_name, msg));
        }
    }
    let name = str_of(meta, "name");
    if name.is_empty() {
        errs.push(FieldError::required(&path.child("name"), "name or generateName is required"));
    } else {
        for msg in name_fn(name, false) {
            errs.push(FieldError::invalid(&path.child("name"), name, msg));
        }
    }
    validate_meta_common(meta, &path, errs);
}

fn validate_meta_common(meta: &Value, path: &Path, errs: &mut Vec<FieldError>) {
    let ns = str_of(meta, "namespace");
    if !ns.is_empty() {
        for msg in name_is_dns_label(ns, false) {
            errs.push(FieldError::invalid(&path.child("namespace"), ns, msg));
        }
    }
    opt_non_negative(meta, "generation", path, errs);
    validate_labels(obj(meta, "labels"), &path.child("labels"), errs);
    validate_annotations(obj(meta, "annotations"), &path.child("annotations"), errs);
    validate_owner_references(meta, &path.child("ownerReferences"), errs);
    validate_finalizers(meta, &path.child("finalizers"), errs);
    for (i, f) in arr(meta, "finalizers").iter().enumerate() {
        validate_kube_finalizer_name(f.as_str().unwrap_or_default(), &path.child("finalizers").index(i), errs);
    }
}

/// `ValidateObjectMetaUpdate`: the identity fields never change. The caller is
/// expected to have carried `resourceVersion`, `uid` and `creationTimestamp` over
/// from the stored object where the request left them out, as upstream's registry does.
pub fn validate_object_meta_update(new: &Value, old: &Value, errs: &mut Vec<FieldError>) {
    let nm = sub(new, "metadata");
    let om = sub(old, "metadata");
    let path = Path::new("metadata");
    if get(om, "deletionTimestamp").is_some() {
        let old_f: Vec<&str> = arr(om, "finalizers").iter().filter_map(Value::as_str).collect();
        let mut extra: Vec<&str> =
            arr(nm, "finalizers").iter().filter_map(Value::as_str).filter(|f| !old_f.contains(f)).collect();
        extra.sort_unstable();
        extra.dedup();
        if !extra.is_empty() {
            errs.push(FieldError::forbidden(
                &path.child("finalizers"),
                format!(
                    "no new finalizers can be added if the object is being deleted, found new finalizers {}",
                    go_string_slice(Some(&extra))
                ),
            ));
        }
    }
    let rv = str_of(nm, "resourceVersion");
    if rv.is_empty() {
        errs.push(FieldError::invalid(&path.child("resourceVersion"), rv, "must be specified for an update"));
    }
    let (ng, og) = (opt_int(nm, "generation").unwrap_or(0), opt_int(om, "generation").unwrap_or(0));
    if ng < og {
        errs.push(FieldError::invalid(&path.child("generation"), ng, "must not be decremented"));
    }
    for key in ["name", "namespace", "uid"] {
        let (n, o) = (str_of(nm, key), str_of(om, key));
        if n != o {
            errs.push(FieldError::invalid(&path.child(key), n, FIELD_IMMUTABLE));
        }
    }
    for key in ["creationTimestamp", "deletionTimestamp"] {
        let (n, o) = (get(nm, key), get(om, key));
        if !same_time(n, o) {
            let shown = match (key, n) {
                (_, Some(t)) => go_repr(go_time(t.as_str().unwrap_or_default())),
                ("creationTimestamp", None) => go_repr(go_time("")),
                _ => Value::Null,
            };
            errs.push(FieldError::invalid(&path.child(key), shown, FIELD_IMMUTABLE));
        }
    }
    let (n, o) = (opt_int(nm, "deletionGracePeriodSeconds"), opt_int(om, "deletionGracePeriodSeconds"));
    if n != o {
        errs.push(FieldError::invalid(&path.child("deletionGracePeriodSeconds"), n.map(Value::from).unwrap_or(Value::Null), FIELD_IMMUTABLE));
    }
    validate_labels(obj(nm, "labels"), &path.child("labels"), errs);
    validate_annotations(obj(nm, "annotations"), &path.child("annotations"), errs);
    validate_owner_references(nm, &path.child("ownerReferences"), errs);
    validate_finalizers(nm, &path.child("finalizers"), errs);
    for (i, f) in arr(nm, "finalizers").iter().enumerate() {
        validate_kube_finalizer_name(f.as_str().unwrap_or_default(), &path.child("finalizers").index(i), errs);
    }
}

fn same_time(a: Option<&Value>, b: Option<&Value>) -> bool {
    let parse = |v: Option<&Value>| v.and_then(Value::as_str).and_then(|s| s.parse::<jiff::Timestamp>().ok());
    match (a, b) {
        (None, None) => true,
        _ => match (parse(a), parse(b)) {
            (Some(x), Some(y)) => x.as_second() == y.as_second(),
            _ => a == b,
        },
    }
}

/// A timestamp as Go's `time.Time.String()` prints it in UTC.
pub fn go_time(rfc3339: &str) -> String {
    match rfc3339.parse::<jiff::Timestamp>() {
        Ok(t) => t.strftime("%Y-%m-%d %H:%M:%S +0000 UTC").to_string(),
        Err(_) => "0001-01-01 00:00:00 +0000 UTC".to_string(),
    }
}

/// A template's metadata: only labels and annotations are checked upstream.
pub fn validate_template_meta(meta: &Value, path: &Path, errs: &mut Vec<FieldError>) {
    validate_labels(obj(meta, "labels"), &path.child("labels"), errs);
    validate_annotations(obj(meta, "annotations"), &path.child("annotations"), errs);
}

/// `ValidateLabelSelector` with invalid label values rejected.
pub fn validate_label_selector(sel: Option<&Value>, path: &Path, errs: &mut Vec<FieldError>) {
    let Some(sel) = sel else { return };
    validate_labels(obj(sel, "matchLabels"), &path.child("matchLabels"), errs);
    for (i, expr) in arr(sel, "matchExpressions").iter().enumerate() {
        let p = path.child("matchExpressions").index(i);
        let op = str_of(expr, "operator");
        let values = arr(expr, "values");
        match op {
            "In" | "NotIn" => {
                if values.is_empty() {
                    errs.push(FieldError::required(&p.child("values"), "must be specified when `operator` is 'In' or 'NotIn'"));
                }
            }
            "Exists" | "DoesNotExist" => {
                if !values.is_empty() {
                    errs.push(FieldError::forbidden(
                        &p.child("values"),
                        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                    ));
                }
            }
            _ => errs.push(FieldError::invalid(&p.child("operator"), op, "not a valid selector operator")),
        }
        validate_label_name(str_of(expr, "key"), &p.child("key"), errs);
        for (j, v) in values.iter().enumerate() {
            let v = v.as_str().unwrap_or_default();
            for msg in is_valid_label_value(v) {
                errs.push(FieldError::invalid(&p.child("values").index(j), v, msg));
            }
        }
    }
}

/// A label selector turned into something that matches label sets, as
/// `metav1.LabelSelectorAsSelector` does: an absent selector matches nothing, an
/// empty one everything.
#[derive(Debug, Clone)]
pub enum Selector {
    Nothing,
    Everything,
    Requirements(Vec<Requirement>),
}

/// A selector upstream's `LabelSelectorAsSelector` would refuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidSelector;

#[derive(Debug, Clone)]
pub struct Requirement {
    key: String,
    op: String,
    values: Vec<String>,
}

impl Selector {
    /// Fails where upstream's conversion does: bad operators, keys or values.
    pub fn from_label_selector(sel: Option<&Value>) -> Result<Selector, InvalidSelector> {
        let Some(sel) = sel else { return Ok(Selector::Nothing) };
        let labels = obj(sel, "matchLabels");
        let exprs = arr(sel, "matchExpressions");
        if labels.map(Map::len).unwrap_or(0) + exprs.len() == 0 {
            return Ok(Selector::Everything);
        }
        let mut reqs = Vec::new();
        for (k, v) in labels.into_iter().flatten() {
            let v = v.as_str().unwrap_or_default().to_string();
            reqs.push(Requirement::new(k, "In", vec![v])?);
        }
        for e in exprs {
            let values = arr(e, "values").iter().map(|v| v.as_str().unwrap_or_default().to_string()).collect();
            reqs.push(Requirement::new(str_of(e, "key"), str_of(e, "operator"), values)?);
        }
        Ok(Selector::Requirements(reqs))
    }

    /// A selector from a plain map (ReplicationController, Service).
    pub fn from_map(m: Option<&Map<String, Value>>) -> Selector {
        let reqs: Vec<Requirement> = m
            .into_iter()
            .flatten()
            .map(|(k, v)| Requirement { key: k.clone(), op: "In".into(), values: vec![v.as_str().unwrap_or_default().to_string()] })
            .collect();
        if reqs.is_empty() {
            Selector::Everything
        } else {
            Selector::Requirements(reqs)
        }
    }

    pub fn is_empty(&self) -> bool {
        matches!(self, Selector::Everything)
    }

    pub fn matches(&self, labels: Option<&Map<String, Value>>) -> bool {
        match self {
            Selector::Nothing => false,
            Selector::Everything => true,
            Selector::Requirements(reqs) => reqs.iter().all(|r| r.matches(labels)),
        }
    }
}

impl Requirement {
    fn new(key: &str, op: &str, values: Vec<String>) -> Result<Requirement, InvalidSelector> {
        if !is_qualified_name(key).is_empty() {
            return Err(InvalidSelector);
        }
        match op {
            "In" | "NotIn" if values.is_empty() => return Err(InvalidSelector),
            "Exists" | "DoesNotExist" if !values.is_empty() => return Err(InvalidSelector),
            "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
            _ => return Err(InvalidSelector),
        }
        if values.iter().any(|v| !is_valid_label_value(v).is_empty()) {
            return Err(InvalidSelector);
        }
        Ok(Requirement { key: key.to_string(), op: op.to_string(), values })
    }

    fn matches(&self, labels: Option<&Map<String, Value>>) -> bool {
        let value = labels.and_then(|l| l.get(&self.key)).and_then(Value::as_str);
        match self.op.as_str() {
            "In" => value.map(|v| self.values.iter().any(|x| x == v)).unwrap_or(false),
            "NotIn" => value.map(|v| !self.values.iter().any(|x| x == v)).unwrap_or(true),
            "Exists" => value.is_some(),
            "DoesNotExist" => value.is_none(),
            _ => false,
        }
    }
}

/// `ValidateImmutableField` for any JSON value.
pub fn immutable(new: Option<&Value>, old: Option<&Value>, path: &Path, shown: Value, errs: &mut Vec<FieldError>) {
    if !super::json::semantic_eq(new, old) {
        errs.push(FieldError::invalid(path, shown, FIELD_IMMUTABLE));
    }
}
