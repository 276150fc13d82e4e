//! Query parameters and headers of API requests.

use axum::http::HeaderMap;

use crate::status::ApiError;
use crate::storage::{DeleteOptions, FieldValidation, WriteOptions};

#[derive(Debug, Default)]
pub struct Query(Vec<(String, String)>);

impl Query {
    pub fn parse(raw: Option<&str>) -> Query {
        let decode = |s: &str| percent_encoding::percent_decode_str(&s.replace('+', " ")).decode_utf8_lossy().into_owned();
        Query(
            raw.unwrap_or("")
                .split('&')
                .filter(|p| !p.is_empty())
                .map(|p| match p.split_once('=') {
                    Some((k, v)) => (decode(k), decode(v)),
                    None => (decode(p), String::new()),
                })
                .collect(),
        )
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// Every value of a repeated parameter (`command=sh&command=-c`), in order.
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.0.iter().filter(|(k, _)| k == key).map(|(_, v)| v.as_str()).collect()
    }

    pub fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some("true") | Some("1") | Some(""))
    }

    pub fn int(&self, key: &str) -> Result<Option<i64>, ApiError> {
        match self.get(key) {
            None | Some("") => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| ApiError::bad_request(format!("invalid {key}: {v}"))),
        }
    }

    pub fn write_options(&self) -> Result<WriteOptions, ApiError> {
        Ok(WriteOptions { dry_run: self.dry_run()?, field_validation: self.field_validation()? })
    }

    fn dry_run(&self) -> Result<bool, ApiError> {
        match self.get("dryRun") {
            None | Some("") => Ok(false),
            Some("All") => Ok(true),
            Some(v) => Err(ApiError::bad_request(format!("Invalid dry run value: {v}"))),
        }
    }

    fn field_validation(&self) -> Result<FieldValidation, ApiError> {
        match self.get("fieldValidation") {
            None | Some("") | Some("Warn") => Ok(FieldValidation::Warn),
            Some("Strict") => Ok(FieldValidation::Strict),
            Some("Ignore") => Ok(FieldValidation::Ignore),
            Some(v) => Err(ApiError::bad_request(format!(
                "fieldValidation parameter unsupported: {v}, supported values: Ignore, Warn, Strict"
            ))),
        }
    }

    /// DeleteOptions come as query parameters or as a JSON body (kubectl sends a body).
    pub fn delete_options(&self, body: &[u8]) -> Result<DeleteOptions, ApiError> {
        let mut o = DeleteOptions {
            dry_run: self.dry_run()?,
            grace_period_seconds: self.int("gracePeriodSeconds")?,
            propagation_policy: self.get("propagationPolicy").map(str::to_string),
            ..Default::default()
        };
        if let Some(orphan) = self.get("orphanDependents") {
            o.propagation_policy.get_or_insert_with(|| if orphan == "true" { "Orphan" } else { "Background" }.to_string());
        }
        if !body.iter().all(u8::is_ascii_whitespace) {
            let v: serde_json::Value = if body.starts_with(b"k8s\0") {
                // Typed clients send DeleteOptions as protobuf.
                crate::protobuf::decode(body).map_err(|e| ApiError::bad_request(e.to_string()))?
            } else {
                serde_json::from_slice(body).map_err(|e| ApiError::bad_request(e.to_string()))?
            };
            if let Some(g) = v.get("gracePeriodSeconds").and_then(|g| g.as_i64()) {
                o.grace_period_seconds = Some(g);
            }
            if let Some(p) = v.get("propagationPolicy").and_then(|p| p.as_str()) {
                o.propagation_policy = Some(p.to_string());
            } else if let Some(orphan) = v.get("orphanDependents").and_then(|p| p.as_bool()) {
                o.propagation_policy = Some(if orphan { "Orphan" } else { "Background" }.to_string());
            }
            if let Some(d) = v.get("dryRun").and_then(|d| d.as_array()) {
                o.dry_run |= d.iter().any(|x| x == "All");
            }
            o.precondition_uid = v.pointer("/preconditions/uid").and_then(|u| u.as_str()).map(str::to_string);
            o.precondition_resource_version =
                v.pointer("/preconditions/resourceVersion").and_then(|u| u.as_str()).map(str::to_string);
        }
        match o.propagation_policy.as_deref() {
            None | Some("Orphan") | Some("Background") | Some("Foreground") => Ok(o),
            Some(p) => Err(ApiError::invalid("DeleteOptions", "", &[skiff_api::validation::FieldError {
                error_type: skiff_api::validation::ErrorType::NotSupported,
                field: "propagationPolicy".into(),
                bad_value: Some(serde_json::Value::String(p.to_string())),
                detail: "supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\"".into(),
            }])),
        }
    }
}

/// How the client wants objects back: as JSON objects or as a meta.k8s.io Table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Object,
    Table,
}

pub fn format(headers: &HeaderMap) -> Format {
    let accept = headers.get(axum::http::header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
    // kubectl lists Table first and plain JSON as the fallback.
    let first = accept.split(',').next().unwrap_or("");
    if first.contains("as=Table") && first.contains("g=meta.k8s.io") {
        Format::Table
    } else {
        Format::Object
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_decodes() {
        let q = Query::parse(Some("labelSelector=app%3Dweb%2Ctier+in+(a)&watch=true&limit=5"));
        assert_eq!(q.get("labelSelector"), Some("app=web,tier in (a)"));
        assert!(q.flag("watch"));
        assert_eq!(q.int("limit").ok().flatten(), Some(5));
        assert!(q.int("watch").is_err());
    }

    #[test]
    fn delete_options_from_body() {
        let q = Query::parse(None);
        let o = q.delete_options(br#"{"kind":"DeleteOptions","propagationPolicy":"Foreground","gracePeriodSeconds":0}"#).expect("valid");
        assert_eq!(o.propagation_policy.as_deref(), Some("Foreground"));
        assert_eq!(o.grace_period_seconds, Some(0));
        assert!(q.delete_options(br#"{"propagationPolicy":"Sideways"}"#).is_err());
    }
}
