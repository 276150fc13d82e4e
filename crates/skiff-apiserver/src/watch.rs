//! Watch streams: newline-delimited JSON events (ADDED, MODIFIED, DELETED, BOOKMARK,
//! ERROR) with upstream's resourceVersion rules. A watcher that falls too far behind is
//! closed (clients re-list), so each costs bounded memory.

use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use bytes::Bytes;
use serde_json::json;
use skiff_api::registry::Resource;
use skiff_store::{EventKind, StoreError};
use tokio::sync::mpsc;

use crate::handlers::{ApiResult, Selectors};
use crate::tables::{Include, TableWriter};
use crate::objects;
use crate::query::{format, Format, Query};
use crate::server::AppState;
use crate::status::ApiError;
use crate::storage;

const BOOKMARK_EVERY: Duration = Duration::from_secs(60);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);

struct Encoder {
    resource: &'static Resource,
    table: bool,
    include: Include,
    sent_columns: bool,
}

impl Encoder {
    fn event(&mut self, kind: &str, obj: &[u8]) -> Bytes {
        let mut out = Vec::with_capacity(obj.len() + 32);
        out.extend_from_slice(b"{\"type\":\"");
        out.extend_from_slice(kind.as_bytes());
        out.extend_from_slice(b"\",\"object\":");
        if self.table && kind != "ERROR" && kind != "BOOKMARK" {
            let v = objects::parse_json(obj);
            // Column definitions go with the first event only, as upstream sends them.
            let mut t = TableWriter::new(self.resource, self.include, objects::meta_str(&v, "resourceVersion"), None, !self.sent_columns);
            self.sent_columns = true;
            t.row(&v);
            out.extend_from_slice(&t.finish());
        } else {
            out.extend_from_slice(obj);
        }
        out.extend_from_slice(b"}\n");
        Bytes::from(out)
    }

    fn bookmark(&mut self, rv: i64, initial_end: bool) -> Bytes {
        let mut meta = json!({"resourceVersion": rv.to_string()});
        if initial_end {
            meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let r = self.resource;
        let obj = json!({"kind": r.kind, "apiVersion": r.api_version(), "metadata": meta});
        self.event("BOOKMARK", &serde_json::to_vec(&obj).unwrap_or_default())
    }
}

fn error_event(e: &ApiError) -> Bytes {
    let mut out = b"{\"type\":\"ERROR\",\"object\":".to_vec();
    out.extend_from_slice(&serde_json::to_vec(&e.to_status()).unwrap_or_default());
    out.extend_from_slice(b"}\n");
    Bytes::from(out)
}

pub async fn serve(state: &AppState, r: &'static Resource, ns: Option<&str>, q: &Query, headers: &HeaderMap) -> ApiResult {
    let sel = Selectors::parse(r, q)?;
    let rv = q.get("resourceVersion").filter(|v| !v.is_empty()).map(str::to_string);
    let send_initial = match q.get("sendInitialEvents") {
        Some("true") => true,
        Some(_) => false,
        None => rv.is_none() || rv.as_deref() == Some("0"),
    };
    let after = match (&rv, send_initial) {
        (Some(v), false) if v != "0" => {
            Some(v.parse::<i64>().map_err(|_| ApiError::bad_request(format!("invalid resource version: {v}")))?)
        }
        _ => None,
    };
    let bookmarks = q.flag("allowWatchBookmarks");
    let timeout = q.int("timeoutSeconds")?.filter(|t| *t > 0).map(|t| Duration::from_secs(t as u64)).unwrap_or(DEFAULT_TIMEOUT);
    let prefix = storage::prefix(r, ns);
    let mut enc = Encoder {
        resource: r,
        table: format(headers) == Format::Table,
        include: Include::parse(q.get("includeObject")),
        sent_columns: false,
    };

    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(64);
    let store = state.storage.store.clone();
    // The initial state and the watch start at one revision, so nothing falls between.
    let (initial, start) = match after {
        Some(a) => (Vec::new(), a),
        None => {
            let page = store.list(&prefix, None, None);
            (page.items, page.revision)
        }
    };
    let watcher = store.watch(&prefix, start);
    tokio::spawn(async move {
        let send = |b: Bytes| {
            let tx = tx.clone();
            async move { tx.send(Ok(b)).await.is_ok() }
        };
        let mut watcher = match watcher {
            Ok(w) => w,
            Err(StoreError::Compacted { oldest }) => {
                let e = ApiError::gone(format!("too old resource version: {start} ({oldest})"));
                send(error_event(&e)).await;
                return;
            }
            Err(e) => {
                send(error_event(&ApiError::internal(e.to_string()))).await;
                return;
            }
        };
        for kv in &initial {
            if (sel.is_empty() || sel.matches(r, &objects::parse_json(&kv.value))) && !send(enc.event("ADDED", &kv.value)).await {
                return;
            }
        }
        let mut last_rv = start;
        if send_initial && bookmarks && !send(enc.bookmark(last_rv, true)).await {
            return;
        }
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let mut ticker = tokio::time::interval(BOOKMARK_EVERY);
        ticker.tick().await;
        loop {
            tokio::select! {
                _ = &mut deadline => return,
                _ = ticker.tick(), if bookmarks => {
                    if !send(enc.bookmark(last_rv, false)).await { return; }
                }
                _ = tx.closed() => return,
                ev = watcher.next() => {
                    let ev = match ev {
                        Some(Ok(ev)) => ev,
                        // Fallen behind or store gone: end the stream; the client re-watches.
                        Some(Err(_)) | None => return,
                    };
                    last_rv = ev.revision;
                    let Some(kind) = transition(r, &sel, &ev) else { continue };
                    let bytes = if ev.kind == EventKind::Deleted {
                        // A deleted object carries the revision of its deletion.
                        let mut v = objects::parse_json(&ev.value);
                        objects::meta_mut(&mut v).insert("resourceVersion".into(), json!(ev.revision.to_string()));
                        enc.event(kind, &serde_json::to_vec(&v).unwrap_or_default())
                    } else {
                        enc.event(kind, &ev.value)
                    };
                    if !send(bytes).await { return; }
                }
            }
        }
    });
    let stream = tokio_stream::wrappers::ReceiverStream::new(rx);
    let mut resp = (StatusCode::OK, Body::from_stream(stream)).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache, private"));
    Ok(resp)
}

/// The event a filtered watcher sees: an update that makes an object stop matching
/// arrives as DELETED, one that makes it start matching as ADDED.
fn transition(r: &Resource, sel: &Selectors, ev: &skiff_store::Event) -> Option<&'static str> {
    if sel.is_empty() {
        return Some(match ev.kind {
            EventKind::Created => "ADDED",
            EventKind::Updated => "MODIFIED",
            EventKind::Deleted => "DELETED",
        });
    }
    let now = sel.matches(r, &objects::parse_json(&ev.value));
    let before = ev.prev_value.as_ref().is_some_and(|p| sel.matches(r, &objects::parse_json(p)));
    match ev.kind {
        EventKind::Created => now.then_some("ADDED"),
        EventKind::Deleted => now.then_some("DELETED"),
        EventKind::Updated => match (before, now) {
            (true, true) => Some("MODIFIED"),
            (false, true) => Some("ADDED"),
            (true, false) => Some("DELETED"),
            (false, false) => None,
        },
    }
}

