//! The HTTPS server: TLS, authentication, the routes that are not resources
//! (version, health, discovery, OpenAPI), and the bootstrap of a new cluster.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::json;
use skiff_store::Store;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::handlers::{self, bytes_response, json_response};
use crate::openapi::OpenApi;
use crate::query::Query;
use crate::request::{self, Parsed};
use crate::status::ApiError;
use crate::storage::{Storage, WriteOptions};
use crate::{discovery, pki, ServerError};

/// Upstream's request body limit (3 MiB).
const MAX_BODY: usize = 3 * 1024 * 1024;
/// Like --max-requests-inflight: beyond this, 429 instead of unbounded queueing.
const MAX_INFLIGHT: usize = 400;

pub const GIT_VERSION: &str = "v1.33.0";

#[derive(Debug, Clone)]
pub enum StoreKind {
    Sqlite,
    Memory,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub store: StoreKind,
    /// Watch history, batch sizes, cache: the defaults suit every deployment; tests
    /// shrink the history to reach 410 Gone quickly.
    pub store_options: skiff_store::StoreOptions,
}

pub struct AppState {
    pub storage: Storage,
    openapi: OpenApi,
    admin_token: String,
    agent_token: String,
    inflight: Semaphore,
    /// Calls node agents for pods/log, pods/exec and metrics.k8s.io.
    pub(crate) kubelet: crate::kubelet::KubeletClient,
}

pub struct Running {
    pub addr: SocketAddr,
    pub kubeconfig: PathBuf,
    pub agent_kubeconfig: PathBuf,
    pub state: Arc<AppState>,
}

/// Opens the store, prepares certificates, tokens and kubeconfigs, bootstraps the
/// cluster's namespaces and starts serving in the background.
pub async fn start(cfg: Config) -> Result<Running, ServerError> {
    let io = |p: &Path, e: std::io::Error| ServerError::Io(format!("{}: {e}", p.display()));
    std::fs::create_dir_all(&cfg.data_dir).map_err(|e| io(&cfg.data_dir, e))?;
    let store = match cfg.store {
        StoreKind::Memory => Store::memory_with(cfg.store_options.clone()),
        StoreKind::Sqlite => {
            Store::sqlite_with(&cfg.data_dir.join("state.db"), cfg.store_options.clone()).map_err(|e| ServerError::Store(e.to_string()))?
        }
    };
    let listener = TcpListener::bind(cfg.listen).await.map_err(|e| ServerError::Io(format!("listen on {}: {e}", cfg.listen)))?;
    let addr = listener.local_addr().map_err(|e| ServerError::Io(e.to_string()))?;
    let host = if addr.ip().is_unspecified() { "127.0.0.1".to_string() } else { addr.ip().to_string() };
    let mut sans = vec!["localhost".to_string(), "127.0.0.1".to_string(), "::1".to_string(), host.clone()];
    if let Ok(h) = std::fs::read_to_string("/etc/hostname") {
        sans.push(h.trim().to_string());
    }
    sans.sort();
    sans.dedup();
    let pki = pki::load_or_create(&cfg.data_dir, &sans)?;
    let admin_token = token(&cfg.data_dir.join("admin.token"))?;
    let agent_token = token(&cfg.data_dir.join("agent.token"))?;
    let server_url = if host.contains(':') { format!("https://[{host}]:{}", addr.port()) } else { format!("https://{host}:{}", addr.port()) };
    let kubeconfig = cfg.data_dir.join("kubeconfig.yaml");
    let agent_kubeconfig = cfg.data_dir.join("agent-kubeconfig.yaml");
    pki::write_private(&kubeconfig, &kubeconfig_yaml(&server_url, &pki.ca_pem, "admin", &admin_token))?;
    pki::write_private(&agent_kubeconfig, &kubeconfig_yaml(&server_url, &pki.ca_pem, "node-agent", &agent_token))?;

    let (client_cert, client_key) = pki::kubelet_client(&cfg.data_dir)?;
    let kubelet = crate::kubelet::KubeletClient::new(&client_cert, &client_key)?;
    let state = Arc::new(AppState {
        storage: Storage { store, gc_enabled: true, service_alloc: Default::default() },
        openapi: OpenApi::new(),
        admin_token,
        agent_token,
        inflight: Semaphore::new(MAX_INFLIGHT),
        kubelet,
    });
    bootstrap(&state.storage).await?;
    let tls = tokio_rustls::TlsAcceptor::from(Arc::new(pki::rustls_config(&pki)?));
    tokio::spawn(serve(listener, tls, state.clone()));
    Ok(Running { addr, kubeconfig, agent_kubeconfig, state })
}

/// Reads a bearer token from `path`, making a new random one on first start.
fn token(path: &Path) -> Result<String, ServerError> {
    if let Ok(t) = std::fs::read_to_string(path) {
        if !t.trim().is_empty() {
            return Ok(t.trim().to_string());
        }
    }
    let t: String = (0..32).map(|_| format!("{:x}", rand::random_range(0..16u8))).collect();
    pki::write_private(path, &t)?;
    Ok(t)
}

fn kubeconfig_yaml(server: &str, ca_pem: &str, user: &str, token: &str) -> String {
    use base64::Engine;
    let ca = base64::engine::general_purpose::STANDARD.encode(ca_pem);
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: skiff\n  cluster:\n    server: {server}\n    certificate-authority-data: {ca}\nusers:\n- name: {user}\n  user:\n    token: {token}\ncontexts:\n- name: skiff\n  context:\n    cluster: skiff\n    user: {user}\n    namespace: default\ncurrent-context: skiff\n"
    )
}

/// What every cluster starts with: namespaces, the `kubernetes` Service, the default StorageClass.
async fn bootstrap(storage: &Storage) -> Result<(), ServerError> {
    let nsr = skiff_api::registry::by_plural("", "v1", "namespaces").ok_or_else(|| ServerError::Store("no namespaces".into()))?;
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        if storage.store.get(&crate::storage::key(nsr, None, ns)).is_some() {
            continue;
        }
        let obj = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
        storage.create(nsr, None, obj, &WriteOptions::default()).await.map_err(|e| ServerError::Store(e.message))?;
    }
    // The API server's own Service, first IP of the service range, as on every cluster.
    let svc = skiff_api::registry::by_plural("", "v1", "services").ok_or_else(|| ServerError::Store("no services".into()))?;
    if storage.store.get(&crate::storage::key(svc, Some("default"), "kubernetes")).is_none() {
        let obj = json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"component": "apiserver", "provider": "kubernetes"}},
            "spec": {"clusterIP": "10.96.0.1", "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}]}});
        storage.create(svc, Some("default"), obj, &WriteOptions::default()).await.map_err(|e| ServerError::Store(e.message))?;
    }
    // The default StorageClass: node agents provision its volumes on their own disk.
    let sc = skiff_api::registry::by_plural("storage.k8s.io", "v1", "storageclasses").ok_or_else(|| ServerError::Store("no storageclasses".into()))?;
    if storage.store.get(&crate::storage::key(sc, None, "local")).is_none() {
        let obj = json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": {"name": "local", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
            "provisioner": "skiff.io/local", "reclaimPolicy": "Delete", "volumeBindingMode": "WaitForFirstConsumer"});
        storage.create(sc, None, obj, &WriteOptions::default()).await.map_err(|e| ServerError::Store(e.message))?;
    }
    Ok(())
}

async fn serve(listener: TcpListener, tls: tokio_rustls::TlsAcceptor, state: Arc<AppState>) {
    loop {
        let (tcp, _) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!("accept: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let tls = tls.clone();
        let state = state.clone();
        tokio::spawn(async move {
            let Ok(stream) = tls.accept(tcp).await else { return };
            let svc = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let state = state.clone();
                async move { Ok::<_, std::convert::Infallible>(route(&state, req.map(Body::new)).await) }
            });
            let builder = hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
            let _ = builder.serve_connection_with_upgrades(hyper_util::rt::TokioIo::new(stream), svc).await;
        });
    }
}

async fn route(state: &AppState, mut req: Request) -> Response {
    let path = req.uri().path().to_string();
    match path.as_str() {
        "/version" | "/version/" => return version(),
        "/healthz" | "/livez" | "/readyz" => return (StatusCode::OK, "ok").into_response(),
        _ => {}
    }
    if let Err(e) = authenticate(state, req.headers()) {
        return e.into_response();
    }
    // Logs and exec stream for as long as they last: outside the in-flight limit.
    if let Some(resp) = crate::proxy::intercept(state, &mut req).await {
        return resp;
    }
    let query = Query::parse(req.uri().query());
    let is_watch = query.flag("watch") || path.contains("/watch/");
    // Watches are long-running and do not count against the in-flight limit.
    let _permit = if is_watch {
        None
    } else {
        match state.inflight.try_acquire() {
            Ok(p) => Some(p),
            Err(_) => return ApiError::too_many_requests().into_response(),
        }
    };
    let method = req.method().clone();
    let headers = req.headers().clone();
    let body = match axum::body::to_bytes(req.into_body(), MAX_BODY).await {
        Ok(b) => b,
        Err(_) => return ApiError::too_large(format!("Request entity too large: limit is {MAX_BODY}")).into_response(),
    };
    match dispatch(state, &method, &path, &query, &headers, body).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let auth = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or("");
    match auth.strip_prefix("Bearer ") {
        Some(t) if constant_time_eq(t.trim(), &state.admin_token) || constant_time_eq(t.trim(), &state.agent_token) => Ok(()),
        _ => Err(ApiError::unauthorized()),
    }
}

fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn version() -> Response {
    let v = json!({
        "major": "1", "minor": "33", "gitVersion": GIT_VERSION,
        "gitCommit": "skiff", "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.24.0", "compiler": "gc", "platform": format!("linux/{}", go_arch()),
    });
    json_response(StatusCode::OK, &v, &[]).unwrap_or_else(|e| e.into_response())
}

pub fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

async fn dispatch(state: &AppState, method: &Method, path: &str, q: &Query, headers: &HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let trimmed = path.trim_end_matches('/');
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
    match trimmed {
        "/api" | "/apis" => {
            if let Some(v2beta1) = wants_aggregated(accept) {
                let doc = discovery::aggregated(trimmed == "/api", v2beta1);
                let ct = if v2beta1 {
                    "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"
                } else {
                    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
                };
                let mut resp = json_response(StatusCode::OK, &doc, &[])?;
                resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
                return Ok(resp);
            }
            let doc = if trimmed == "/api" { discovery::api_versions() } else { discovery::group_list() };
            return json_response(StatusCode::OK, &doc, &[]);
        }
        "/openapi/v2" => {
            return if accept.contains("protobuf") {
                let mut resp = bytes_response(StatusCode::OK, state.openapi.v2_protobuf(), &[])?;
                resp.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(crate::openapi::V2_PROTOBUF_CONTENT_TYPE),
                );
                Ok(resp)
            } else {
                bytes_response(StatusCode::OK, state.openapi.v2_json(), &[])
            };
        }
        "/openapi/v3" => return bytes_response(StatusCode::OK, state.openapi.v3_root(), &[]),
        _ => {}
    }
    if let Some(gv) = trimmed.strip_prefix("/openapi/v3/") {
        return match state.openapi.v3_group(gv) {
            Some(doc) => bytes_response(StatusCode::OK, doc, &[]),
            None => Err(ApiError::no_route()),
        };
    }
    if let Some(r) = crate::metrics::route(state, method, trimmed, q).await {
        return r;
    }
    let segs: Vec<&str> = trimmed.trim_start_matches('/').split('/').collect();
    match segs.as_slice() {
        ["api", v] => return resource_list("", v),
        ["apis", g, v] => return resource_list(g, v),
        ["apis", g] => {
            return match discovery::group(g) {
                Some(doc) => json_response(StatusCode::OK, &doc, &[]),
                None => Err(ApiError::no_route()),
            };
        }
        _ => {}
    }
    match request::parse(trimmed) {
        Some(Parsed::Target(t)) => handlers::handle(state, method, t, q, headers, body).await,
        _ => Err(ApiError::no_route()),
    }
}

fn resource_list(group: &str, version: &str) -> Result<Response, ApiError> {
    match discovery::resource_list(group, version) {
        Some(doc) => json_response(StatusCode::OK, &doc, &[]),
        None => Err(ApiError::no_route()),
    }
}

/// Some(v2beta1?) when the client asks for aggregated discovery.
fn wants_aggregated(accept: &str) -> Option<bool> {
    for part in accept.split(',') {
        if part.contains("as=APIGroupDiscoveryList") && part.contains("g=apidiscovery.k8s.io") {
            return Some(part.contains("v=v2beta1"));
        }
    }
    None
}

