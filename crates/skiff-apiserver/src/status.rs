//! API errors as Kubernetes `Status` objects: the reason, code and message kubectl
//! prints (`Error from server (NotFound): pods "x" not found`).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use skiff_api::registry::Resource;
use skiff_api::validation::FieldError;

#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    pub details: Option<Value>,
}

impl ApiError {
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError { code, reason, message: message.into(), details: None }
    }

    fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    pub fn unauthorized() -> Self {
        Self::new(401, "Unauthorized", "Unauthorized")
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, "Forbidden", message)
    }

    /// An admission refusal of one object: `namespaces "default" is forbidden: ...`.
    pub fn forbidden_object(r: &Resource, name: &str, why: &str) -> Self {
        Self::new(403, "Forbidden", format!("{} \"{name}\" is forbidden: {why}", r.qualified_plural()))
            .with_details(json!({"name": name, "group": r.group, "kind": r.plural}))
    }

    pub fn not_found(r: &Resource, name: &str) -> Self {
        Self::new(404, "NotFound", format!("{} \"{name}\" not found", r.qualified_plural()))
            .with_details(json!({"name": name, "group": r.group, "kind": r.plural}))
    }

    /// A URL that names no resource: upstream answers with a bare 404 Status.
    pub fn no_route() -> Self {
        Self::new(404, "NotFound", "the server could not find the requested resource")
            .with_details(json!({}))
    }

    pub fn already_exists(r: &Resource, name: &str) -> Self {
        Self::new(409, "AlreadyExists", format!("{} \"{name}\" already exists", r.qualified_plural()))
            .with_details(json!({"name": name, "group": r.group, "kind": r.plural}))
    }

    pub fn conflict(r: &Resource, name: &str, why: &str) -> Self {
        Self::new(409, "Conflict", format!("Operation cannot be fulfilled on {} \"{name}\": {why}", r.qualified_plural()))
            .with_details(json!({"name": name, "group": r.group, "kind": r.plural}))
    }

    pub fn stale(r: &Resource, name: &str) -> Self {
        Self::conflict(r, name, "the object has been modified; please apply your changes to the latest version and try again")
    }

    pub fn gone(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    pub fn method_not_allowed() -> Self {
        Self::new(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
    }

    pub fn unsupported_media_type(content_type: &str) -> Self {
        Self::new(415, "UnsupportedMediaType", format!("the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json (got {content_type})"))
    }

    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(413, "RequestEntityTooLarge", message)
    }

    pub fn too_many_requests() -> Self {
        Self::new(429, "TooManyRequests", "Too many requests, please try again later.")
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "InternalError", format!("Internal error occurred: {}", message.into()))
    }

    /// 422 with one cause per field error, worded as upstream's `errors.NewInvalid`.
    pub fn invalid(qualified_kind: &str, name: &str, errs: &[FieldError]) -> Self {
        let list = if errs.len() == 1 {
            errs[0].to_string()
        } else {
            format!("[{}]", errs.iter().map(|e| e.to_string()).collect::<Vec<_>>().join(", "))
        };
        let (kind, group) = match qualified_kind.split_once('.') {
            Some((k, g)) => (k, g),
            None => (qualified_kind, ""),
        };
        let causes: Vec<Value> = errs
            .iter()
            .map(|e| {
                let msg = e.to_string();
                let msg = msg.strip_prefix(&format!("{}: ", e.field)).unwrap_or(&msg).to_string();
                json!({"reason": e.reason(), "message": msg, "field": e.field})
            })
            .collect();
        Self::new(422, "Invalid", format!("{qualified_kind} \"{name}\" is invalid: {list}"))
            .with_details(json!({"name": name, "group": group, "kind": kind, "causes": causes}))
    }

    pub fn to_status(&self) -> Value {
        let mut s = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(d) = &self.details {
            s["details"] = d.clone();
        }
        s
    }
}

impl From<skiff_store::StoreError> for ApiError {
    fn from(e: skiff_store::StoreError) -> Self {
        ApiError::internal(e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self.to_status()).unwrap_or_default();
        let mut resp = (code, body).into_response();
        resp.headers_mut().insert(axum::http::header::CONTENT_TYPE, axum::http::HeaderValue::from_static("application/json"));
        if self.code == 429 {
            resp.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from_static("1"));
        }
        resp
    }
}

/// The success Status that deletes of collections and some subresources return.
pub fn success(details: Option<Value>) -> Value {
    let mut s = json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Success"});
    if let Some(d) = details {
        s["details"] = d;
    }
    s
}
