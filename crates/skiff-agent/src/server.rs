//! The agent's HTTPS server: the part of the kubelet API the API server calls for
//! `kubectl logs`, `kubectl exec` and `kubectl top`.
//!
//! - `GET /containerLogs/{namespace}/{pod}/{container}?follow&previous&tailLines&sinceSeconds&sinceTime&timestamps&limitBytes`:
//!   the container's log as text ([`crate::logs`]); errors are plain text, 400 for the
//!   container's state (`container "x" in pod "y" is waiting to start: ContainerCreating`).
//! - `GET|POST /exec/{namespace}/{pod}/{container}?command=…&input=1&output=1&error=1&tty=1`:
//!   a websocket upgrade to the remote-command protocol ([`crate::exec`]); errors before the
//!   upgrade are plain text (500 `container not found ("x")` as the kubelet words it).
//! - `GET|POST /attach/{namespace}/{pod}/{container}?output=1&error=1`: the container's
//!   output from now on, over the same protocol (no stdin or terminal: the process
//!   runtime keeps none for its containers).
//! - `GET /stats/summary`: resource usage ([`crate::stats`]).
//! - `GET /healthz`.
//!
//! It serves TLS with a self-signed certificate kept in `<data dir>/pki/kubelet.{crt,key}`
//! and asks for a client certificate chaining to the cluster CA: without one a request
//! gets 401, with one of another user than the API server's ([`APISERVER_USER`]) 403.
//! It listens on all addresses, on the port it had last time when that is free (kept in
//! `<data dir>/kubelet.port`), otherwise on a new ephemeral one.

use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{combinators::UnsyncBoxBody, BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::header::{HeaderValue, CONNECTION, CONTENT_TYPE, UPGRADE};
use hyper::{Method, Request, Response, StatusCode};
use tokio::net::TcpListener;

use crate::exec::{self, ExecOptions};
use crate::logs::{self, LogOptions};
use crate::stats::{self, History, Sample};

/// What the agent's server needs from the pod workers; implemented by the agent core.
pub trait Backend: Send + Sync + 'static {
    /// CRI-format log file of a container's current attempt, or the previous one (`--previous`).
    /// Err carries the message kubelet would give (e.g. `container "x" in pod "y" is waiting to start: ContainerCreating`,
    /// `previous terminated container "x" in pod "y" not found`, `container x is not valid for pod y`).
    fn log_path(&self, namespace: &str, pod: &str, container: &str, previous: bool) -> Result<PathBuf, String>;
    /// Whether the container attempt that writes `log` (a path [`Backend::log_path`] gave)
    /// is still running. `kubectl logs -f` ends once it is not, after the rest of the file.
    fn attempt_running(&self, namespace: &str, pod: &str, container: &str, log: &Path) -> bool;
    /// A command that runs `argv` inside the container's namespaces, cgroup, environment and working dir; ready to spawn
    /// (stdio not yet set). Err: message as kubelet words it (e.g. container not found / not running).
    fn exec_command(&self, namespace: &str, pod: &str, container: &str, argv: &[String]) -> Result<Command, String>;
    /// Cumulative CPU (ns) and current memory working set (bytes) of every running container on this node.
    fn usage(&self) -> Vec<PodUsage>;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodUsage {
    pub namespace: String,
    pub name: String,
    pub containers: Vec<ContainerUsage>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerUsage {
    pub name: String,
    pub cpu_usage_ns: u64,
    pub memory_working_set_bytes: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("{0}")]
    Io(String),
    #[error("tls: {0}")]
    Tls(String),
}

/// The user (certificate common name) of the API server's client certificate: the only
/// client allowed in.
pub const APISERVER_USER: &str = "skiff:apiserver";

type Body = UnsyncBoxBody<Bytes, std::io::Error>;

struct State {
    backend: Arc<dyn Backend>,
    history: History,
}

/// Serves the kubelet API on 0.0.0.0:<ephemeral port> (so several agents on one machine never clash); returns the port,
/// which the agent publishes as node.status.daemonEndpoints.kubeletEndpoint.Port.
pub async fn start(data_dir: &Path, client_ca_der: Vec<Vec<u8>>, backend: Arc<dyn Backend>) -> Result<u16, ServerError> {
    let tls = tls_config(data_dir, client_ca_der)?;
    let port_file = data_dir.join("kubelet.port");
    let previous = std::fs::read_to_string(&port_file).ok().and_then(|p| p.trim().parse::<u16>().ok());
    let listener = match previous {
        Some(p) => match TcpListener::bind(("0.0.0.0", p)).await {
            Ok(l) => l,
            Err(_) => TcpListener::bind(("0.0.0.0", 0)).await.map_err(|e| ServerError::Io(format!("listen: {e}")))?,
        },
        None => TcpListener::bind(("0.0.0.0", 0)).await.map_err(|e| ServerError::Io(format!("listen: {e}")))?,
    };
    let port = listener.local_addr().map_err(|e| ServerError::Io(e.to_string()))?.port();
    if previous != Some(port) {
        std::fs::write(&port_file, port.to_string()).map_err(|e| ServerError::Io(format!("{}: {e}", port_file.display())))?;
    }
    let state = Arc::new(State { backend, history: History::default() });
    tokio::spawn(sample_loop(state.clone()));
    tokio::spawn(serve(listener, tokio_rustls::TlsAcceptor::from(Arc::new(tls)), state));
    Ok(port)
}

/// Loads the serving certificate from `<data_dir>/pki`, making a self-signed one on first
/// start, and builds the TLS configuration that asks for client certificates.
fn tls_config(data_dir: &Path, client_ca_der: Vec<Vec<u8>>) -> Result<rustls::ServerConfig, ServerError> {
    let tls = |e: &dyn std::fmt::Display| ServerError::Tls(e.to_string());
    let dir = data_dir.join("pki");
    let (crt, key) = (dir.join("kubelet.crt"), dir.join("kubelet.key"));
    let (cert_pem, key_pem) = match (std::fs::read_to_string(&crt), std::fs::read_to_string(&key)) {
        (Ok(c), Ok(k)) => (c, k),
        _ => {
            let mut names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
            if let Ok(h) = std::fs::read_to_string("/etc/hostname") {
                if !h.trim().is_empty() {
                    names.push(h.trim().to_string());
                }
            }
            let keypair = rcgen::KeyPair::generate().map_err(|e| tls(&e))?;
            let mut params = rcgen::CertificateParams::new(names).map_err(|e| tls(&e))?;
            params.distinguished_name.push(rcgen::DnType::CommonName, "skiff-agent");
            params.not_after = rcgen::date_time_ymd(2036, 1, 1);
            let cert = params.self_signed(&keypair).map_err(|e| tls(&e))?;
            std::fs::create_dir_all(&dir).map_err(|e| ServerError::Io(format!("{}: {e}", dir.display())))?;
            write_private(&key, &keypair.serialize_pem())?;
            std::fs::write(&crt, cert.pem()).map_err(|e| ServerError::Io(format!("{}: {e}", crt.display())))?;
            (cert.pem(), keypair.serialize_pem())
        }
    };
    let certs: Vec<_> = rustls_pemfile_certs(&cert_pem)?;
    let key = rustls::pki_types::PrivateKeyDer::try_from(pem_block(&key_pem, "PRIVATE KEY").ok_or_else(|| ServerError::Tls(format!("no private key in {}", key.display())))?)
        .map_err(|e| tls(&e))?;
    if client_ca_der.is_empty() {
        return Err(ServerError::Tls("no certificate authority to check clients with".into()));
    }
    let mut roots = rustls::RootCertStore::empty();
    for der in client_ca_der {
        roots.add(rustls::pki_types::CertificateDer::from(der)).map_err(|e| tls(&e))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    // Clients without a certificate get through the handshake, and a 401 after it.
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .allow_unauthenticated()
        .build()
        .map_err(|e| tls(&e))?;
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls(&e))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .map_err(|e| tls(&e))?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(cfg)
}

fn write_private(p: &Path, content: &str) -> Result<(), ServerError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(p)
        .map_err(|e| ServerError::Io(format!("{}: {e}", p.display())))?;
    f.write_all(content.as_bytes()).map_err(|e| ServerError::Io(format!("{}: {e}", p.display())))
}

/// The DER of every PEM block with this label (`CERTIFICATE`, or any `… PRIVATE KEY`).
fn pem_blocks(pem: &str, label: &str) -> Vec<Vec<u8>> {
    use base64::Engine;
    let mut out = Vec::new();
    let mut body: Option<String> = None;
    for line in pem.lines().map(str::trim) {
        if let Some(l) = line.strip_prefix("-----BEGIN ").and_then(|l| l.strip_suffix("-----")) {
            body = l.ends_with(label).then(String::new);
        } else if line.starts_with("-----END ") {
            if let Some(b) = body.take() {
                if let Ok(der) = base64::engine::general_purpose::STANDARD.decode(b) {
                    out.push(der);
                }
            }
        } else if let Some(b) = body.as_mut() {
            b.push_str(line);
        }
    }
    out
}

fn pem_block(pem: &str, label: &str) -> Option<Vec<u8>> {
    pem_blocks(pem, label).into_iter().next()
}

fn rustls_pemfile_certs(pem: &str) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, ServerError> {
    let certs: Vec<_> = pem_blocks(pem, "CERTIFICATE").into_iter().map(rustls::pki_types::CertificateDer::from).collect();
    if certs.is_empty() {
        return Err(ServerError::Tls("no certificate in kubelet.crt".into()));
    }
    Ok(certs)
}

/// The subject common name of a DER certificate.
pub fn common_name(der: &[u8]) -> Option<String> {
    /// One DER element: (tag, contents, rest).
    fn tlv(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
        let (&tag, rest) = b.split_first()?;
        let (&first, rest) = rest.split_first()?;
        let (len, rest) = if first < 0x80 {
            (first as usize, rest)
        } else {
            let n = (first & 0x7f) as usize;
            if n == 0 || n > 4 || rest.len() < n {
                return None;
            }
            (rest[..n].iter().fold(0usize, |acc, b| (acc << 8) | *b as usize), &rest[n..])
        };
        (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
    }
    let (_, cert, _) = tlv(der)?;
    let (_, mut tbs, _) = tlv(cert)?;
    // [0] version (optional), serial, signature algorithm, issuer, validity, subject.
    let mut fields = Vec::new();
    while !tbs.is_empty() && fields.len() < 6 {
        let (tag, value, rest) = tlv(tbs)?;
        if !(fields.is_empty() && tag == 0xa0) {
            fields.push(value);
        }
        tbs = rest;
    }
    let mut subject = *fields.get(4)?;
    let mut cn = None;
    while !subject.is_empty() {
        let (_, mut set, rest) = tlv(subject)?;
        subject = rest;
        while !set.is_empty() {
            let (_, attr, more) = tlv(set)?;
            set = more;
            let (_, oid, value) = tlv(attr)?;
            if oid == [0x55, 0x04, 0x03] {
                let (_, text, _) = tlv(value)?;
                cn = Some(String::from_utf8_lossy(text).into_owned());
            }
        }
    }
    cn
}

async fn serve(listener: TcpListener, tls: tokio_rustls::TlsAcceptor, state: Arc<State>) {
    loop {
        let (tcp, _) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!("agent server accept: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let (tls, state) = (tls.clone(), state.clone());
        tokio::spawn(async move {
            let Ok(stream) = tls.accept(tcp).await else { return };
            let user = stream.get_ref().1.peer_certificates().and_then(|c| c.first()).map(|c| common_name(c).unwrap_or_default());
            let user: Arc<Option<String>> = Arc::new(user);
            let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                let (state, user) = (state.clone(), user.clone());
                async move { Ok::<_, Infallible>(route(&state, user.as_ref().as_deref(), req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                .with_upgrades()
                .await;
        });
    }
}

fn text(code: StatusCode, msg: impl Into<String>) -> Response<Body> {
    let mut body = msg.into();
    if !body.ends_with('\n') {
        body.push('\n');
    }
    let mut r = Response::new(Full::new(Bytes::from(body)).map_err(|never| match never {}).boxed_unsync());
    *r.status_mut() = code;
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    r
}

fn query_pairs(q: Option<&str>) -> Vec<(String, String)> {
    let decode = |s: &str| percent_encoding::percent_decode_str(&s.replace('+', " ")).decode_utf8_lossy().into_owned();
    q.unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(p), String::new()),
        })
        .collect()
}

async fn route(state: &Arc<State>, user: Option<&str>, req: Request<Incoming>) -> Response<Body> {
    let path = req.uri().path().to_string();
    if path == "/healthz" {
        return text(StatusCode::OK, "ok");
    }
    let Some(user) = user else { return text(StatusCode::UNAUTHORIZED, "Unauthorized") };
    let segs: Vec<String> = path.trim_start_matches('/').split('/').map(|s| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()).collect();
    let subresource = match segs.first().map(String::as_str) {
        Some("stats") => "stats",
        _ => "proxy",
    };
    if user != APISERVER_USER {
        let verb = if req.method() == Method::GET { "get" } else { "create" };
        return text(StatusCode::FORBIDDEN, format!("Forbidden (user={user}, verb={verb}, resource=nodes, subresource(s)=[{subresource}])"));
    }
    let params = query_pairs(req.uri().query());
    let method = req.method().clone();
    match (&method, segs.iter().map(String::as_str).collect::<Vec<_>>().as_slice()) {
        (&Method::GET, ["containerLogs", ns, pod, container]) => container_logs(state, ns, pod, container, &params).await,
        (&Method::GET | &Method::POST, ["exec", ns, pod, container]) => {
            let (ns, pod, container) = (ns.to_string(), pod.to_string(), container.to_string());
            exec_handler(state, &ns, &pod, &container, &params, req)
        }
        (&Method::GET | &Method::POST, ["attach", ns, pod, container]) => {
            let (ns, pod, container) = (ns.to_string(), pod.to_string(), container.to_string());
            attach_handler(state, &ns, &pod, &container, &params, req)
        }
        (&Method::GET, ["stats", "summary"]) => summary(state).await,
        (_, ["containerLogs", ..] | ["exec", ..] | ["attach", ..] | ["stats", ..]) if segs.len() >= 2 => text(StatusCode::METHOD_NOT_ALLOWED, "405: Method Not Allowed"),
        _ => text(StatusCode::NOT_FOUND, "404 page not found"),
    }
}

/// Log output for the response body, through a channel from the reading thread.
struct ChannelSink(tokio::sync::mpsc::Sender<Bytes>);

impl logs::Sink for ChannelSink {
    fn write(&mut self, bytes: &[u8]) -> bool {
        self.0.blocking_send(Bytes::copy_from_slice(bytes)).is_ok()
    }
    fn closed(&self) -> bool {
        self.0.is_closed()
    }
}

async fn container_logs(state: &Arc<State>, ns: &str, pod: &str, container: &str, params: &[(String, String)]) -> Response<Body> {
    let opts = match LogOptions::from_query(params, jiff::Timestamp::now()) {
        Ok(o) => o,
        Err(e) => return text(StatusCode::BAD_REQUEST, e),
    };
    let path = match state.backend.log_path(ns, pod, container, opts.previous) {
        Ok(p) => p,
        Err(e) => return text(StatusCode::BAD_REQUEST, e),
    };
    if let Err(e) = std::fs::File::open(&path) {
        return text(StatusCode::INTERNAL_SERVER_ERROR, format!("failed to open log file {:?}: {e}", path.display().to_string()));
    }
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(8);
    let (backend, ns, pod, container) = (state.backend.clone(), ns.to_string(), pod.to_string(), container.to_string());
    tokio::task::spawn_blocking(move || {
        let running = || backend.attempt_running(&ns, &pod, &container, &path);
        if let Err(e) = logs::read_log(&path, &opts, &running, &mut ChannelSink(tx)) {
            tracing::warn!("reading {}: {e}", path.display());
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|b| (Ok::<_, std::io::Error>(Frame::data(b)), rx)) });
    let mut r = Response::new(StreamBody::new(stream).boxed_unsync());
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    r
}

fn header<'a>(req: &'a Request<Incoming>, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

type Upgraded = tokio_tungstenite::WebSocketStream<hyper_util::rt::TokioIo<hyper::upgrade::Upgraded>>;

fn exec_handler(state: &Arc<State>, ns: &str, pod: &str, container: &str, params: &[(String, String)], req: Request<Incoming>) -> Response<Body> {
    let opts = match ExecOptions::from_query(params) {
        Ok(o) => o,
        Err(e) => return text(StatusCode::BAD_REQUEST, e),
    };
    let cmd = match state.backend.exec_command(ns, pod, container, &opts.command) {
        Ok(c) => c,
        Err(e) => return text(StatusCode::INTERNAL_SERVER_ERROR, e),
    };
    websocket(req, move |ws, proto| exec::run_session(ws, proto, opts, cmd))
}

/// `kubectl attach` without stdin or a terminal: the container's output, followed.
fn attach_handler(state: &Arc<State>, ns: &str, pod: &str, container: &str, params: &[(String, String)], req: Request<Incoming>) -> Response<Body> {
    let opts = match ExecOptions::streams_from_query(params) {
        Ok(o) => o,
        Err(e) => return text(StatusCode::BAD_REQUEST, e),
    };
    if opts.stdin || opts.tty {
        return text(StatusCode::BAD_REQUEST, "the process runtime cannot attach to a container's stdin or terminal; attach without -i and -t follows its output");
    }
    let log = match state.backend.log_path(ns, pod, container, false) {
        Ok(p) => p,
        Err(e) => return text(StatusCode::INTERNAL_SERVER_ERROR, e),
    };
    if !state.backend.attempt_running(ns, pod, container, &log) {
        return text(StatusCode::INTERNAL_SERVER_ERROR, format!("container {container} is not running"));
    }
    let (backend, ns, pod, container) = (state.backend.clone(), ns.to_string(), pod.to_string(), container.to_string());
    let path = log.clone();
    let running: Box<dyn Fn() -> bool + Send> = Box::new(move || backend.attempt_running(&ns, &pod, &container, &path));
    websocket(req, move |ws, proto| exec::run_attach(ws, proto, opts, log, running))
}

/// Accepts a websocket upgrade to a remote-command protocol and runs `session` on it.
fn websocket<F, Fut>(mut req: Request<Incoming>, session: F) -> Response<Body>
where
    F: FnOnce(Upgraded, exec::Protocol) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let is_websocket = header(&req, "upgrade").is_some_and(|u| u.eq_ignore_ascii_case("websocket"))
        && header(&req, "connection").is_some_and(|c| c.split(',').any(|t| t.trim().eq_ignore_ascii_case("upgrade")));
    if !is_websocket {
        return text(StatusCode::BAD_REQUEST, "this node streams over websockets only (v5.channel.k8s.io, v4.channel.k8s.io); SPDY is not supported");
    }
    let (proto, echo) = match exec::negotiate(header(&req, "sec-websocket-protocol")) {
        Ok(p) => p,
        Err(e) => return text(StatusCode::BAD_REQUEST, e),
    };
    let Some(key) = header(&req, "sec-websocket-key") else {
        return text(StatusCode::BAD_REQUEST, "missing Sec-WebSocket-Key");
    };
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    let on_upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => {
                let ws = tokio_tungstenite::WebSocketStream::from_raw_socket(
                    hyper_util::rt::TokioIo::new(upgraded),
                    tokio_tungstenite::tungstenite::protocol::Role::Server,
                    None,
                )
                .await;
                session(ws, proto).await;
            }
            Err(e) => tracing::debug!("websocket upgrade: {e}"),
        }
    });
    let mut r = Response::new(Full::new(Bytes::new()).map_err(|never| match never {}).boxed_unsync());
    *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = r.headers_mut();
    h.insert(UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
    if let Ok(v) = HeaderValue::from_str(&accept) {
        h.insert("sec-websocket-accept", v);
    }
    if echo {
        h.insert("sec-websocket-protocol", HeaderValue::from_static(proto.name()));
    }
    r
}

async fn sample_loop(state: Arc<State>) {
    loop {
        let backend = state.backend.clone();
        if let Ok(s) = tokio::task::spawn_blocking(move || Sample::take(backend.as_ref())).await {
            state.history.record(s);
        }
        tokio::time::sleep(stats::SAMPLE_PERIOD).await;
    }
}

async fn summary(state: &Arc<State>) -> Response<Body> {
    let backend = state.backend.clone();
    let Ok(now) = tokio::task::spawn_blocking(move || Sample::take(backend.as_ref())).await else {
        return text(StatusCode::INTERNAL_SERVER_ERROR, "sampling failed");
    };
    let doc = state.history.summary(&now);
    let mut r = Response::new(Full::new(Bytes::from(doc.to_string())).map_err(|never| match never {}).boxed_unsync());
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_names_of_certificates() {
        let issue = |cn: &str| {
            let key = rcgen::KeyPair::generate().expect("key");
            let mut p = rcgen::CertificateParams::new(vec!["x".to_string()]).expect("params");
            p.distinguished_name.push(rcgen::DnType::OrganizationName, "system:masters");
            p.distinguished_name.push(rcgen::DnType::CommonName, cn);
            p.self_signed(&key).expect("cert").der().to_vec()
        };
        assert_eq!(common_name(&issue(APISERVER_USER)).as_deref(), Some(APISERVER_USER));
        assert_eq!(common_name(&issue("someone-else")).as_deref(), Some("someone-else"));
        assert_eq!(common_name(b"\x30\x03\x02\x01\x01"), None);
        assert_eq!(common_name(b""), None);
    }

    #[test]
    fn pem_parsing() {
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = rcgen::CertificateParams::new(vec!["x".to_string()]).expect("params").self_signed(&key).expect("cert");
        assert_eq!(pem_blocks(&cert.pem(), "CERTIFICATE"), vec![cert.der().to_vec()]);
        assert!(pem_block(&key.serialize_pem(), "PRIVATE KEY").is_some());
        assert!(pem_block(&cert.pem(), "PRIVATE KEY").is_none());
    }
}
