//! The resource endpoints: one function per verb, each turning a request on a `Target`
//! into calls on the generic `Storage` and back into Kubernetes responses.

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{json, Value};
use skiff_api::registry::{Resource, Subresource};
use skiff_api::selector::{FieldSelector, LabelSelector};
use skiff_api::patch;

use crate::objects;
use crate::query::{format, Format, Query};
use crate::request::Target;
use crate::server::AppState;
use crate::status::{self, ApiError};
use crate::storage::{self, Deleted, Part, Written};
use crate::tables::{Include, TableWriter};
use crate::watch;

pub type ApiResult = Result<Response, ApiError>;

pub async fn handle(state: &AppState, method: &Method, t: Target, q: &Query, headers: &HeaderMap, body: Bytes) -> ApiResult {
    let deprecation = deprecation_warning(t.resource);
    let result = dispatch(state, method, t, q, headers, body).await;
    let Some(text) = deprecation else { return result };
    // Upstream warns on every request to a deprecated API, failed ones included.
    let mut resp = result.unwrap_or_else(IntoResponse::into_response);
    if let Ok(v) = HeaderValue::from_str(&format!("299 - \"{text}\"")) {
        resp.headers_mut().append(header::WARNING, v);
    }
    Ok(resp)
}

/// The warning upstream attaches to requests for a deprecated resource version.
fn deprecation_warning(r: &Resource) -> Option<&'static str> {
    match (r.group, r.version, r.kind) {
        ("", "v1", "Endpoints") => Some("v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice"),
        _ => None,
    }
}

async fn dispatch(state: &AppState, method: &Method, t: Target, q: &Query, headers: &HeaderMap, body: Bytes) -> ApiResult {
    let r = t.resource;
    let ns = t.namespace.as_deref();
    if r.namespaced && t.name.is_some() && ns.is_none() {
        return Err(ApiError::no_route());
    }
    if r.read_only && method != Method::GET {
        return Err(ApiError::method_not_allowed());
    }
    match (method.clone(), t.name.as_deref(), t.subresource.as_deref()) {
        (Method::GET, None, None) if t.watch_path || q.flag("watch") => watch::serve(state, r, ns, q, headers).await,
        (Method::GET, None, None) => list(state, r, ns, q, headers),
        (Method::GET, Some(name), None) => get(state, r, ns, name, headers),
        (Method::GET, Some(name), Some("status")) if r.has_subresource(Subresource::Status) => get(state, r, ns, name, headers),
        (Method::GET, Some(name), Some("scale")) if r.has_subresource(Subresource::Scale) => {
            let kv = state.storage.get(r, ns, name)?;
            json_response(StatusCode::OK, &scale_of(r, &objects::parse_json(&kv.value)), &[])
        }
        (Method::POST, None, None) => create(state, r, ns, q, headers, &body).await,
        (Method::POST, Some(name), Some("binding")) if r.has_subresource(Subresource::Binding) => bind(state, r, ns, name, headers, &body).await,
        (Method::POST, Some(name), Some("eviction")) if r.has_subresource(Subresource::Eviction) => evict(state, r, ns, name, headers, &body).await,
        (Method::PUT, Some(name), sub) => update(state, r, ns, name, sub, q, headers, &body).await,
        (Method::PATCH, Some(name), sub) => patch(state, r, ns, name, sub, q, headers, &body).await,
        (Method::DELETE, Some(name), None) => delete(state, r, ns, name, q, &body).await,
        (Method::DELETE, None, None) if r.verbs().contains(&"deletecollection") => delete_collection(state, r, ns, q, &body).await,
        (_, _, Some(sub)) if !r.subresources.iter().any(|s| s.name() == sub) && (r.kind != "Namespace" || sub != "finalize") => {
            Err(ApiError::no_route())
        }
        _ => Err(ApiError::method_not_allowed()),
    }
}

pub fn json_response(code: StatusCode, v: &Value, warnings: &[String]) -> ApiResult {
    bytes_response(code, Bytes::from(serde_json::to_vec(v).map_err(|e| ApiError::internal(e.to_string()))?), warnings)
}

pub fn bytes_response(code: StatusCode, body: Bytes, warnings: &[String]) -> ApiResult {
    let mut resp = (code, Body::from(body)).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    for w in warnings {
        // RFC 7234 warning: code 299, agent "-", quoted text.
        let text = format!("299 - \"{}\"", w.replace('\\', "\\\\").replace('"', "\\\""));
        if let Ok(v) = HeaderValue::from_str(&text) {
            resp.headers_mut().append(header::WARNING, v);
        }
    }
    Ok(resp)
}

/// Renders one stored object as the client asked: itself, or a one-row Table.
fn object_response(r: &Resource, code: StatusCode, obj: Bytes, headers: &HeaderMap, q: Option<&Query>, warnings: &[String]) -> ApiResult {
    match format(headers) {
        Format::Object => bytes_response(code, obj, warnings),
        Format::Table => {
            let mut t = TableWriter::new(r, Include::parse(q.and_then(|q| q.get("includeObject"))), None, None, true);
            t.row(&objects::parse_json(&obj));
            bytes_response(code, Bytes::from(t.finish()), warnings)
        }
    }
}

fn get(state: &AppState, r: &Resource, ns: Option<&str>, name: &str, headers: &HeaderMap) -> ApiResult {
    let kv = state.storage.get(r, ns, name)?;
    object_response(r, StatusCode::OK, kv.value, headers, None, &[])
}

/// Parsed label and field selectors of a list or watch.
pub struct Selectors {
    pub labels: LabelSelector,
    pub fields: FieldSelector,
}

impl Selectors {
    pub fn parse(r: &Resource, q: &Query) -> Result<Selectors, ApiError> {
        let labels = LabelSelector::parse(q.get("labelSelector").unwrap_or("")).map_err(|e| ApiError::bad_request(e.0))?;
        let fields = FieldSelector::parse(q.get("fieldSelector").unwrap_or("")).map_err(|e| ApiError::bad_request(e.0))?;
        fields.validate_for(r.group, r.kind).map_err(|e| ApiError::bad_request(e.0))?;
        Ok(Selectors { labels, fields })
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty() && self.fields.requirements().next().is_none()
    }

    pub fn matches(&self, r: &Resource, obj: &Value) -> bool {
        let empty = serde_json::Map::new();
        self.labels.matches(objects::labels(obj).unwrap_or(&empty)) && self.fields.matches(r.group, r.kind, obj)
    }
}

/// Continue tokens carry the list's revision and the last key returned.
fn encode_continue(rv: i64, key: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE.encode(json!({"v": "meta.k8s.io/v1", "rv": rv, "start": key}).to_string())
}

fn decode_continue(token: &str) -> Result<(i64, String), ApiError> {
    use base64::Engine;
    let bad = || ApiError::bad_request("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)");
    let raw = base64::engine::general_purpose::URL_SAFE.decode(token).map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&raw).map_err(|_| bad())?;
    Ok((v["rv"].as_i64().ok_or_else(bad)?, v["start"].as_str().ok_or_else(bad)?.to_string()))
}

fn list(state: &AppState, r: &Resource, ns: Option<&str>, q: &Query, headers: &HeaderMap) -> ApiResult {
    let sel = Selectors::parse(r, q)?;
    let limit = q.int("limit")?.filter(|l| *l > 0).map(|l| l as usize);
    let prefix = storage::prefix(r, ns);
    let (mut list_rv, mut start) = (None, None);
    if let Some(c) = q.get("continue").filter(|c| !c.is_empty()) {
        let (rv, key) = decode_continue(c)?;
        if rv < state.storage.store.oldest_revision() {
            return Err(ApiError::gone("The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list."));
        }
        list_rv = Some(rv);
        start = Some(key);
    }
    // Selection happens before the limit, as upstream does, so pages are full.
    let mut items: Vec<skiff_store::KeyValue> = Vec::new();
    let mut more;
    let mut revision;
    let mut after = start.clone();
    loop {
        let page = state.storage.store.list(&prefix, after.as_deref(), limit.map(|l| (l - items.len()).max(1)));
        revision = page.revision;
        let last = page.items.last().map(|kv| kv.key.clone());
        for kv in page.items {
            if sel.is_empty() || sel.matches(r, &objects::parse_json(&kv.value)) {
                items.push(kv);
            }
        }
        more = page.more;
        match (limit, last) {
            (Some(l), Some(last)) if page.more && items.len() < l => after = Some(last),
            _ => break,
        }
    }
    let rv = list_rv.unwrap_or(revision);
    let cont = match (limit, items.last()) {
        (Some(_), Some(last)) if more => Some(encode_continue(rv, &last.key)),
        _ => None,
    };
    if format(headers) == Format::Table {
        let rv = rv.to_string();
        let mut t = TableWriter::new(r, Include::parse(q.get("includeObject")), Some(&rv), cont.as_deref(), true);
        for kv in &items {
            t.row(&objects::parse_json(&kv.value));
        }
        return bytes_response(StatusCode::OK, Bytes::from(t.finish()), &[]);
    }
    // The stored bytes are already the items' JSON: splice them instead of re-encoding.
    let mut meta = json!({"resourceVersion": rv.to_string()});
    if let Some(c) = cont {
        meta["continue"] = json!(c);
    }
    let head = json!({"kind": format!("{}List", r.kind), "apiVersion": r.api_version(), "metadata": meta});
    let head = serde_json::to_vec(&head).map_err(|e| ApiError::internal(e.to_string()))?;
    let mut out = Vec::with_capacity(head.len() + items.iter().map(|kv| kv.value.len() + 1).sum::<usize>() + 16);
    out.extend_from_slice(&head[..head.len() - 1]);
    out.extend_from_slice(b",\"items\":[");
    for (i, kv) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(&kv.value);
    }
    out.extend_from_slice(b"]}");
    bytes_response(StatusCode::OK, Bytes::from(out), &[])
}

/// Reads a request body as JSON, YAML or Kubernetes protobuf (what typed clients send).
pub fn parse_body(headers: &HeaderMap, body: &[u8]) -> Result<Value, ApiError> {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("application/json");
    if ct.contains("yaml") {
        return serde_yaml_ng::from_slice(body).map_err(|e| ApiError::bad_request(format!("error converting YAML to JSON: {e}")));
    }
    if ct.starts_with(crate::protobuf::CONTENT_TYPE) {
        return crate::protobuf::decode(body).map_err(|e| ApiError::bad_request(e.to_string()));
    }
    if ct.contains("protobuf") {
        return Err(ApiError::unsupported_media_type(ct));
    }
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("json parse error: {e}")))
}

fn written(r: &Resource, w: Written, headers: &HeaderMap, q: &Query) -> ApiResult {
    let code = if w.created { StatusCode::CREATED } else { StatusCode::OK };
    object_response(r, code, w.object, headers, Some(q), &w.warnings)
}

async fn create(state: &AppState, r: &Resource, ns: Option<&str>, q: &Query, headers: &HeaderMap, body: &[u8]) -> ApiResult {
    let obj = parse_body(headers, body)?;
    let w = state.storage.create(r, ns, obj, &q.write_options()?).await?;
    written(r, w, headers, q)
}

#[allow(clippy::too_many_arguments)]
async fn update(state: &AppState, r: &Resource, ns: Option<&str>, name: &str, sub: Option<&str>, q: &Query, headers: &HeaderMap, body: &[u8]) -> ApiResult {
    let new = parse_body(headers, body)?;
    let opts = q.write_options()?;
    match sub {
        None => {
            let w = state.storage.update_with(r, ns, name, Part::Main, &opts, |_| Ok(new.clone())).await?;
            written(r, w, headers, q)
        }
        Some("status") if r.has_subresource(Subresource::Status) => {
            let w = state.storage.update_with(r, ns, name, Part::Status, &opts, |_| Ok(new.clone())).await?;
            written(r, w, headers, q)
        }
        Some("finalize") if r.kind == "Namespace" => {
            let w = state
                .storage
                .update_with(r, ns, name, Part::Finalize, &opts, |old| Ok(crate::strategy::prepare_for_finalize(new.clone(), old)))
                .await?;
            written(r, w, headers, q)
        }
        Some("scale") if r.has_subresource(Subresource::Scale) => {
            let scale = new;
            set_scale(state, r, ns, name, &opts, |_| Ok(scale.clone())).await
        }
        _ => Err(ApiError::no_route()),
    }
}

/// Applies a PATCH body of the given content type to `current`.
fn apply_patch(r: &Resource, content_type: &str, current: &Value, patch_body: &Value) -> Result<Value, ApiError> {
    let result = if content_type.starts_with("application/json-patch+json") {
        patch::json_patch(current, patch_body)
    } else if content_type.starts_with("application/merge-patch+json") {
        Ok(patch::merge_patch(current, patch_body))
    } else if content_type.starts_with("application/strategic-merge-patch+json") {
        patch::strategic_merge(r.group, r.kind, current, patch_body)
    } else if content_type.starts_with("application/apply-patch+yaml") || content_type.starts_with("application/apply-patch+cbor") {
        // Server-side apply without field ownership: the applied configuration is
        // merged strategically over the live object.
        patch::strategic_merge(r.group, r.kind, current, patch_body)
    } else {
        return Err(ApiError::unsupported_media_type(content_type));
    };
    result.map_err(|e| match e {
        patch::PatchError::Invalid(m) => ApiError::bad_request(m),
        patch::PatchError::Conflict(m) => ApiError::new(422, "Invalid", m),
    })
}

#[allow(clippy::too_many_arguments)]
async fn patch(state: &AppState, r: &Resource, ns: Option<&str>, name: &str, sub: Option<&str>, q: &Query, headers: &HeaderMap, body: &[u8]) -> ApiResult {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let patch_body: Value = if ct.contains("yaml") {
        serde_yaml_ng::from_slice(body).map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?
    } else {
        serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?
    };
    let opts = q.write_options()?;
    if ct.starts_with("application/apply-patch") && state.storage.store.get(&storage::key(r, ns, name)).is_none() {
        let w = state.storage.create(r, ns, patch_body, &opts).await?;
        return written(r, w, headers, q);
    }
    let part = match sub {
        None => Part::Main,
        Some("status") if r.has_subresource(Subresource::Status) => Part::Status,
        Some("scale") if r.has_subresource(Subresource::Scale) => {
            return set_scale(state, r, ns, name, &opts, |scale| apply_patch(r, &ct, scale, &patch_body)).await;
        }
        _ => return Err(ApiError::no_route()),
    };
    // The patched object carries the current resourceVersion; only a patch that names
    // one itself pins it (otherwise a concurrent write is retried, as upstream does).
    let pins = patch_body.pointer("/metadata/resourceVersion").is_some();
    let w = state
        .storage
        .update_with(r, ns, name, part, &opts, |current| {
            let mut new = apply_patch(r, &ct, current, &patch_body)?;
            if !pins {
                if let Some(meta) = new.get_mut("metadata").and_then(Value::as_object_mut) {
                    meta.remove("resourceVersion");
                }
            }
            Ok(new)
        })
        .await?;
    written(r, w, headers, q)
}

async fn delete(state: &AppState, r: &Resource, ns: Option<&str>, name: &str, q: &Query, body: &[u8]) -> ApiResult {
    let opts = q.delete_options(body)?;
    match state.storage.delete(r, ns, name, &opts).await? {
        Deleted::Pending(obj) => bytes_response(StatusCode::OK, obj, &[]),
        Deleted::Now(obj) => {
            let uid = objects::meta_str(&obj, "uid").unwrap_or_default().to_string();
            json_response(StatusCode::OK, &status::success(Some(json!({"name": name, "group": r.group, "kind": r.plural, "uid": uid}))), &[])
        }
    }
}

async fn delete_collection(state: &AppState, r: &Resource, ns: Option<&str>, q: &Query, body: &[u8]) -> ApiResult {
    let sel = Selectors::parse(r, q)?;
    let opts = q.delete_options(body)?;
    let page = state.storage.store.list(&storage::prefix(r, ns), None, None);
    let mut deleted = Vec::new();
    for kv in page.items {
        let obj = objects::parse_json(&kv.value);
        if !sel.matches(r, &obj) {
            continue;
        }
        let (Some(name), item_ns) = (objects::name(&obj).map(str::to_string), objects::meta_str(&obj, "namespace").map(str::to_string)) else {
            continue;
        };
        match state.storage.delete(r, item_ns.as_deref(), &name, &opts).await {
            Ok(_) => deleted.push(obj),
            Err(e) if e.code == 404 => {}
            Err(e) => return Err(e),
        }
    }
    let list = json!({"kind": format!("{}List", r.kind), "apiVersion": r.api_version(), "metadata": {"resourceVersion": state.storage.store.revision().to_string()}, "items": deleted});
    json_response(StatusCode::OK, &list, &[])
}

/// The autoscaling/v1 Scale view of a scalable object.
fn scale_of(r: &Resource, obj: &Value) -> Value {
    let meta = objects::meta(obj);
    let pick = |f: &str| meta.and_then(|m| m.get(f)).cloned().unwrap_or(Value::Null);
    // metav1.FormatLabelSelector: the parsed selector's string form (RC selectors are plain maps).
    let selector = obj.pointer("/spec/selector").map(|s| match s {
        Value::Object(m) if r.kind == "ReplicationController" => LabelSelector::from_set(m).to_string(),
        s => LabelSelector::from_json(s).map(|l| l.to_string()).unwrap_or_default(),
    });
    let mut status = json!({"replicas": obj.pointer("/status/replicas").cloned().unwrap_or(json!(0))});
    if let Some(s) = selector {
        status["selector"] = json!(s);
    }
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {"name": pick("name"), "namespace": pick("namespace"), "uid": pick("uid"), "resourceVersion": pick("resourceVersion"), "creationTimestamp": pick("creationTimestamp")},
        "spec": {"replicas": obj.pointer("/spec/replicas").cloned().unwrap_or(json!(0))},
        "status": status,
    })
}

/// Reads the Scale, lets `change` edit it, and writes spec.replicas back.
async fn set_scale<F>(state: &AppState, r: &Resource, ns: Option<&str>, name: &str, opts: &storage::WriteOptions, mut change: F) -> ApiResult
where
    F: FnMut(&Value) -> Result<Value, ApiError>,
{
    let w = state
        .storage
        .update_with(r, ns, name, Part::Main, opts, |current| {
            let scale = change(&scale_of(r, current))?;
            skiff_api::decode::check_subresource_body("Scale", &scale).map_err(|e| {
                ApiError::bad_request(format!("Scale in version \"v1\" cannot be handled as a Scale: {}", e.0))
            })?;
            let replicas = scale.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(0);
            if replicas < 0 {
                return Err(ApiError::invalid("Scale.autoscaling", name, &[skiff_api::validation::FieldError {
                    error_type: skiff_api::validation::ErrorType::Invalid,
                    field: "spec.replicas".into(),
                    bad_value: Some(json!(replicas)),
                    detail: "must be greater than or equal to 0".into(),
                }]));
            }
            if let Some(rv) = objects::meta_str(&scale, "resourceVersion") {
                if objects::meta_str(current, "resourceVersion") != Some(rv) {
                    return Err(ApiError::stale(r, name));
                }
            }
            let mut obj = current.clone();
            obj["spec"]["replicas"] = json!(replicas);
            Ok(obj)
        })
        .await?;
    json_response(StatusCode::OK, &scale_of(r, &objects::parse_json(&w.object)), &w.warnings)
}

/// pods/binding: assigns a pending pod to a node, once.
async fn bind(state: &AppState, r: &Resource, ns: Option<&str>, name: &str, headers: &HeaderMap, body: &[u8]) -> ApiResult {
    let binding = parse_body(headers, body)?;
    skiff_api::decode::check_subresource_body("Binding", &binding)
        .map_err(|e| ApiError::bad_request(format!("Binding in version \"v1\" cannot be handled as a Binding: {}", e.0)))?;
    let node = binding.pointer("/target/name").and_then(Value::as_str).unwrap_or("").to_string();
    if node.is_empty() {
        return Err(ApiError::invalid("Binding", name, &[skiff_api::validation::FieldError {
            error_type: skiff_api::validation::ErrorType::Required,
            field: "target.name".into(),
            bad_value: None,
            detail: String::new(),
        }]));
    }
    let now = objects::now_rfc3339();
    state
        .storage
        .update_with(r, ns, name, Part::Binding, &Default::default(), |pod| {
            if objects::is_deleting(pod) {
                return Err(ApiError::conflict(r, name, "pod is being deleted, cannot be assigned to a host"));
            }
            if let Some(existing) = pod.pointer("/spec/nodeName").and_then(Value::as_str).filter(|n| !n.is_empty()) {
                return Err(ApiError::conflict(r, name, &format!("pod {name} is already assigned to node \"{existing}\"")));
            }
            let mut pod = pod.clone();
            pod["spec"]["nodeName"] = json!(node);
            let mut conds: Vec<Value> = pod.pointer("/status/conditions").and_then(Value::as_array).cloned().unwrap_or_default();
            conds.retain(|c| c["type"] != "PodScheduled");
            conds.push(json!({"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": now}));
            pod["status"]["conditions"] = Value::Array(conds);
            Ok(pod)
        })
        .await?;
    json_response(StatusCode::CREATED, &status::success(None), &[])
}

/// pods/eviction: a delete that honours its DeleteOptions. PodDisruptionBudgets are
/// checked by the disruption controller's issue; until then every eviction is allowed.
async fn evict(state: &AppState, r: &Resource, ns: Option<&str>, name: &str, headers: &HeaderMap, body: &[u8]) -> ApiResult {
    let eviction = parse_body(headers, body)?;
    let opts_body = eviction.get("deleteOptions").map(|d| d.to_string()).unwrap_or_default();
    let opts = Query::default().delete_options(opts_body.as_bytes())?;
    state.storage.delete(r, ns, name, &opts).await?;
    json_response(StatusCode::CREATED, &status::success(None), &[])
}
