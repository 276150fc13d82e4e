//! Container probes as the kubelet runs them: httpGet, tcpSocket and grpc here (exec
//! probes run through the runtime; [`exec_outcome`] words their result), the outcome
//! worded as the kubelet's `Unhealthy` Events word it, and [`ProbeTracker`], the
//! kubelet's probe worker bookkeeping (thresholds, initial delay, state flips).

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Request, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use k8s_openapi::api::core::v1::{Container, GRPCAction, HTTPGetAction, Probe, TCPSocketAction};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use skiff_api::validation::field_error::go_quote;
use tokio::net::TcpStream;

use crate::backoff::go_duration;

/// The User-Agent of probes (`kube-probe/<major>.<minor>` of the Kubernetes version served).
pub const USER_AGENT: &str = "kube-probe/1.33";
/// The kubelet reads at most this much of a probe's output or response body.
const MAX_OUTPUT: usize = 10 * 1024;
const MAX_REDIRECT_REQUESTS: usize = 10;

/// The result of one probe run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeOutcome {
    Success,
    /// The probe failed; the message is what follows `Liveness probe failed: `.
    Failure(String),
    /// Counts as a success; the kubelet records a `ProbeWarning` Event (an HTTP probe
    /// redirected to another host: `Probe terminated redirects, Response body: …`).
    Warning(String),
    /// The probe could not run (a named port that does not exist…). The kubelet records
    /// `… probe errored and resulted in unknown state: …` and ignores the result: it
    /// counts neither as a success nor as a failure.
    Error(String),
}

/// Which probe of a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProbeKind {
    Startup,
    Liveness,
    Readiness,
}

impl ProbeKind {
    /// As Events name it: `Liveness`, `Readiness`, `Startup`.
    pub fn word(self) -> &'static str {
        match self {
            ProbeKind::Startup => "Startup",
            ProbeKind::Liveness => "Liveness",
            ProbeKind::Readiness => "Readiness",
        }
    }
}

/// The Event the kubelet records for an outcome (type Warning): reason and message.
/// `None` for a success.
pub fn event(kind: ProbeKind, outcome: &ProbeOutcome) -> Option<(&'static str, String)> {
    let w = kind.word();
    match outcome {
        ProbeOutcome::Success => None,
        ProbeOutcome::Failure(m) => Some(("Unhealthy", format!("{w} probe failed: {m}"))),
        ProbeOutcome::Error(m) => Some(("Unhealthy", format!("{w} probe errored and resulted in unknown state: {m}"))),
        ProbeOutcome::Warning(m) => Some(("ProbeWarning", format!("{w} probe warning: {m}"))),
    }
}

/// The `Killing` Event message when a liveness or startup probe fails the container:
/// `Container web failed liveness probe, will be restarted`. `None` for readiness.
pub fn kill_message(kind: ProbeKind, container: &str, will_restart: bool) -> Option<String> {
    let word = match kind {
        ProbeKind::Liveness => "liveness",
        ProbeKind::Startup => "startup",
        ProbeKind::Readiness => return None,
    };
    let tail = if will_restart { ", will be restarted" } else { "" };
    Some(format!("Container {container} failed {word} probe{tail}"))
}

// ---------------------------------------------------------------------------------------
// Tracking results

/// Kubernetes' probe defaults.
pub const DEFAULT_PERIOD_SECONDS: i32 = 10;
pub const DEFAULT_TIMEOUT_SECONDS: i32 = 1;
pub const DEFAULT_SUCCESS_THRESHOLD: i32 = 1;
pub const DEFAULT_FAILURE_THRESHOLD: i32 = 3;

/// The kubelet's probe worker bookkeeping for one probe of one container: counts
/// consecutive results and says when the probe's state flips once a threshold is reached.
///
/// State: `None` until known, then `Some(true)` (ready / alive / started) or
/// `Some(false)` (not ready / restart needed). A tracker made with [`for_kind`] starts
/// where the kubelet starts (readiness not ready, liveness alive, startup unknown),
/// holds liveness and startup probes after a failure until [`new_container`], and
/// stops a startup probe once it succeeded.
///
/// [`for_kind`]: ProbeTracker::for_kind
/// [`new_container`]: ProbeTracker::new_container
#[derive(Debug, Clone)]
pub struct ProbeTracker {
    kind: Option<ProbeKind>,
    initial_delay: Duration,
    period: Duration,
    timeout: Duration,
    success_threshold: u32,
    failure_threshold: u32,
    state: Option<bool>,
    last: Option<bool>,
    run: u32,
    on_hold: bool,
}

fn positive(v: Option<i32>, default: i32) -> u32 {
    v.filter(|v| *v > 0).unwrap_or(default) as u32
}

impl ProbeTracker {
    /// A tracker whose state starts unknown, so that the first result reaching its
    /// threshold is reported either way.
    pub fn new(probe: &Probe) -> Self {
        ProbeTracker {
            kind: None,
            initial_delay: Duration::from_secs(probe.initial_delay_seconds.unwrap_or(0).max(0) as u64),
            period: Duration::from_secs(positive(probe.period_seconds, DEFAULT_PERIOD_SECONDS).into()),
            timeout: Duration::from_secs(positive(probe.timeout_seconds, DEFAULT_TIMEOUT_SECONDS).into()),
            success_threshold: positive(probe.success_threshold, DEFAULT_SUCCESS_THRESHOLD),
            failure_threshold: positive(probe.failure_threshold, DEFAULT_FAILURE_THRESHOLD),
            state: None,
            last: None,
            run: 0,
            on_hold: false,
        }
    }

    /// A tracker that behaves as the kubelet's worker for `kind`.
    pub fn for_kind(kind: ProbeKind, probe: &Probe) -> Self {
        let mut t = ProbeTracker::new(probe);
        t.kind = Some(kind);
        if kind != ProbeKind::Readiness {
            // Validation makes it 1 for liveness and startup probes.
            t.success_threshold = 1;
        }
        t.state = t.initial_state();
        t
    }

    fn initial_state(&self) -> Option<bool> {
        match self.kind {
            Some(ProbeKind::Readiness) => Some(false),
            Some(ProbeKind::Liveness) => Some(true),
            Some(ProbeKind::Startup) | None => None,
        }
    }

    /// Records one probe result; returns the new state when it changes. For liveness and
    /// startup probes `Some(false)` means the container must be restarted; for startup
    /// `Some(true)` means it has started; for readiness the new readiness. Warnings count
    /// as successes; errors are ignored, as the kubelet ignores them.
    pub fn record(&mut self, outcome: &ProbeOutcome) -> Option<bool> {
        if self.on_hold {
            return None;
        }
        if self.kind == Some(ProbeKind::Startup) && self.state == Some(true) {
            return None;
        }
        let result = match outcome {
            ProbeOutcome::Success | ProbeOutcome::Warning(_) => true,
            ProbeOutcome::Failure(_) => false,
            ProbeOutcome::Error(_) => return None,
        };
        if self.last == Some(result) {
            self.run = self.run.saturating_add(1);
        } else {
            self.last = Some(result);
            self.run = 1;
        }
        let threshold = if result { self.success_threshold } else { self.failure_threshold };
        if self.run < threshold {
            return None;
        }
        let changed = self.state != Some(result);
        self.state = Some(result);
        if !result && matches!(self.kind, Some(ProbeKind::Liveness | ProbeKind::Startup)) {
            // The container is going to be restarted: stop until the next one runs.
            self.on_hold = true;
            self.run = 0;
        }
        changed.then_some(result)
    }

    /// A new run of the container: back to the initial state, probing resumes. The
    /// consecutive-result count carries over, as in the kubelet.
    pub fn new_container(&mut self) {
        self.state = self.initial_state();
        self.on_hold = false;
    }

    /// Whether to probe a container that has been running for `running_for` (the initial
    /// delay is over, in whole seconds as the kubelet counts, and the probe is not held).
    pub fn due(&self, running_for: Duration) -> bool {
        !self.on_hold && running_for.as_secs() >= self.initial_delay.as_secs()
    }

    pub fn state(&self) -> Option<bool> {
        self.state
    }
    pub fn kind(&self) -> Option<ProbeKind> {
        self.kind
    }
    pub fn on_hold(&self) -> bool {
        self.on_hold
    }
    pub fn initial_delay(&self) -> Duration {
        self.initial_delay
    }
    pub fn period(&self) -> Duration {
        self.period
    }
    pub fn timeout(&self) -> Duration {
        self.timeout
    }
    pub fn success_threshold(&self) -> u32 {
        self.success_threshold
    }
    pub fn failure_threshold(&self) -> u32 {
        self.failure_threshold
    }
}

// ---------------------------------------------------------------------------------------
// exec

/// Words an exec probe's result as the kubelet does: exit code 0 is a success; any other
/// code a failure whose message is the command's output (stdout then stderr, at most
/// 10 KiB). `result` is `(exit code, output)`, or `Err(message)` when it did not run to
/// completion: a message saying it timed out (see [`exec_timeout_message`]) is a
/// failure, as the kubelet counts timeouts; anything else is an error.
pub fn exec_outcome(_command: &[String], result: Result<(i32, String), String>) -> ProbeOutcome {
    match result {
        Ok((0, _)) => ProbeOutcome::Success,
        Ok((_, output)) => ProbeOutcome::Failure(truncate(output, MAX_OUTPUT)),
        Err(m) if m.contains("timed out") => ProbeOutcome::Failure(m),
        Err(m) => ProbeOutcome::Error(m),
    }
}

/// `command timed out: "sh -c sleep 5" timed out after 1s`.
pub fn exec_timeout_message(command: &[String], timeout: Duration) -> String {
    format!("command timed out: {} timed out after {}", go_quote(&command.join(" ")), go_duration(timeout))
}

fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
    s
}

// ---------------------------------------------------------------------------------------
// Ports and addresses

/// `probe.ResolveContainerPort`: a number, or the name of one of the container's ports
/// (or a number written as a string), 1–65535.
fn resolve_port(port: &IntOrString, container: &Container) -> Result<u16, String> {
    let n: i64 = match port {
        IntOrString::Int(n) => i64::from(*n),
        IntOrString::String(name) => {
            match container.ports.iter().flatten().find(|p| p.name.as_deref() == Some(name.as_str())) {
                Some(p) => i64::from(p.container_port),
                None => go_atoi(name)?,
            }
        }
    };
    if n > 0 && n < 65536 {
        Ok(n as u16)
    } else {
        Err(format!("invalid port number: {n}"))
    }
}

fn go_atoi(s: &str) -> Result<i64, String> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("strconv.Atoi: parsing {}: invalid syntax", go_quote(s)));
    }
    s.parse::<i64>().map_err(|_| format!("strconv.Atoi: parsing {}: value out of range", go_quote(s)))
}

/// Go's `net.JoinHostPort`.
fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// An errno as Go prints it (`connection refused`).
fn errno_text(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(code) => {
            let text = std::io::Error::from_raw_os_error(code).to_string();
            let text = text.split(" (os error").next().unwrap_or(&text).to_string();
            let mut chars = text.chars();
            match chars.next() {
                Some(first) => first.to_lowercase().chain(chars).collect(),
                None => text,
            }
        }
        None => e.to_string(),
    }
}

/// Dials as Go's `net.Dialer` does, with its error wording
/// (`dial tcp 10.0.0.5:8080: connect: connection refused`).
async fn dial(host: &str, port: u16) -> Result<TcpStream, String> {
    let addr = join_host_port(host, port);
    let targets: Vec<std::net::SocketAddr> = match host.parse::<std::net::IpAddr>() {
        Ok(ip) => vec![std::net::SocketAddr::new(ip, port)],
        Err(_) => match tokio::net::lookup_host((host, port)).await {
            Ok(addrs) => addrs.collect(),
            Err(_) => return Err(format!("dial tcp: lookup {host}: no such host")),
        },
    };
    let mut last = format!("dial tcp: lookup {host}: no such host");
    for target in targets {
        match TcpStream::connect(target).await {
            Ok(s) => return Ok(s),
            Err(e) => last = format!("dial tcp {addr}: connect: {}", errno_text(&e)),
        }
    }
    Err(last)
}

// ---------------------------------------------------------------------------------------
// tcpSocket

/// A tcpSocket probe: success when a connection opens within `timeout`. `host` is the
/// pod IP, used unless the action names a host.
pub async fn tcp_socket(host: &str, action: &TCPSocketAction, container: &Container, timeout: Duration) -> ProbeOutcome {
    let host = action.host.as_deref().filter(|h| !h.is_empty()).unwrap_or(host);
    let port = match resolve_port(&action.port, container) {
        Ok(p) => p,
        Err(e) => return ProbeOutcome::Error(e),
    };
    match tokio::time::timeout(timeout, dial(host, port)).await {
        Ok(Ok(_stream)) => ProbeOutcome::Success,
        Ok(Err(e)) => ProbeOutcome::Failure(e),
        Err(_) => ProbeOutcome::Failure(format!("dial tcp {}: i/o timeout", join_host_port(host, port))),
    }
}

// ---------------------------------------------------------------------------------------
// httpGet

/// Where a request goes: `scheme://host:port` and the path with its query.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    https: bool,
    host: String,
    port: u16,
    /// As given: empty, or starting with `/`.
    path: String,
}

impl Target {
    fn authority(&self) -> String {
        join_host_port(&self.host, self.port)
    }
    /// As Go's `URL.String()` prints it in errors.
    fn url(&self) -> String {
        format!("{}://{}{}", if self.https { "https" } else { "http" }, self.authority(), self.path)
    }
    fn request_target(&self) -> &str {
        if self.path.is_empty() {
            "/"
        } else {
            &self.path
        }
    }

    /// Resolves a `Location` header against this URL.
    fn resolve(&self, location: &str) -> Result<Target, String> {
        let location = location.split('#').next().unwrap_or("");
        let lower = location.to_ascii_lowercase();
        let (https, rest) = if lower.starts_with("http://") {
            (false, &location[7..])
        } else if lower.starts_with("https://") {
            (true, &location[8..])
        } else if let Some(rest) = location.strip_prefix("//") {
            (self.https, rest)
        } else if let Some(scheme) = location.split_once("://").map(|(s, _)| s).filter(|s| s.bytes().all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))) {
            return Err(format!("unsupported protocol scheme {}", go_quote(&scheme.to_ascii_lowercase())));
        } else {
            let path = if location.starts_with('/') {
                location.to_string()
            } else if location.starts_with('?') {
                format!("{}{location}", self.path.split('?').next().unwrap_or(""))
            } else {
                let base = self.path.split('?').next().unwrap_or("");
                let dir = base.rfind('/').map(|i| &base[..=i]).unwrap_or("/");
                format!("{dir}{location}")
            };
            return Ok(Target { path, ..self.clone() });
        };
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(end);
        let authority = authority.rsplit('@').next().unwrap_or(authority);
        let default_port = if https { 443 } else { 80 };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, after) = v6.split_once(']').ok_or_else(|| format!("invalid Location {}", go_quote(location)))?;
            let port = after.strip_prefix(':').filter(|p| !p.is_empty()).map(str::parse).transpose().map_err(|_| format!("invalid port in Location {}", go_quote(location)))?;
            (h.to_string(), port.unwrap_or(default_port))
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) if !p.is_empty() => (h.to_string(), p.parse().map_err(|_| format!("invalid port {} after host", go_quote(&format!(":{p}"))))?),
                Some((h, _)) => (h.to_string(), default_port),
                None => (authority.to_string(), default_port),
            }
        };
        let path = if path.starts_with('?') { format!("/{path}") } else { path.to_string() };
        Ok(Target { https, host, port, path })
    }
}

/// Go's `http.CanonicalHeaderKey` (`content-type` → `Content-Type`).
fn canonical_header(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = true;
    for c in name.chars() {
        out.push(if upper { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() });
        upper = c == '-';
    }
    out
}

/// Drops the HTTP connection task with the probe.
struct AbortOnDrop(tokio::task::JoinHandle<()>);
impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// What a timed-out HTTP probe was doing, for the message.
struct Progress {
    url: String,
    dialing: Option<String>,
}

/// An httpGet probe: scheme HTTP or HTTPS (certificates are not verified), named ports
/// resolved from the container's ports, httpHeaders (a `Host` header sets the Host),
/// `User-Agent: kube-probe/1.33` and `Accept: */*` unless given. 200–399 is a success;
/// redirects to the same host are followed (up to 10), a redirect elsewhere ends the
/// probe with a warning. `host` is the pod IP, used unless the action names a host.
pub async fn http_get(host: &str, action: &HTTPGetAction, container: &Container, timeout: Duration) -> ProbeOutcome {
    let host = action.host.as_deref().filter(|h| !h.is_empty()).unwrap_or(host);
    let port = match resolve_port(&action.port, container) {
        Ok(p) => p,
        Err(e) => return ProbeOutcome::Error(e),
    };
    let https = action.scheme.as_deref().is_some_and(|s| s.eq_ignore_ascii_case("https"));
    let mut path = action.path.clone().unwrap_or_default();
    path = path.split('#').next().unwrap_or("").to_string();
    if !path.is_empty() && !path.starts_with('/') {
        path.insert(0, '/');
    }
    let target = Target { https, host: host.to_string(), port, path };

    // Headers as `http.Header` would hold them: canonical names, in order.
    let mut headers: Vec<(String, String)> = Vec::new();
    for h in action.http_headers.iter().flatten() {
        headers.push((canonical_header(&h.name), h.value.clone()));
    }
    let host_override = headers.iter().find(|(n, _)| n == "Host").map(|(_, v)| v.clone()).filter(|v| !v.is_empty());
    headers.retain(|(n, _)| n != "Host");
    if !headers.iter().any(|(n, _)| n == "User-Agent") {
        headers.insert(0, ("User-Agent".into(), USER_AGENT.into()));
    }
    match headers.iter().find(|(n, _)| n == "Accept") {
        None => headers.push(("Accept".into(), "*/*".into())),
        Some((_, v)) if v.is_empty() => headers.retain(|(n, _)| n != "Accept"),
        Some(_) => {}
    }
    let mut parsed: Vec<(HeaderName, HeaderValue)> = Vec::new();
    for (n, v) in &headers {
        let name = match HeaderName::from_bytes(n.as_bytes()) {
            Ok(n) => n,
            Err(_) => return ProbeOutcome::Failure(format!("Get {}: net/http: invalid header field name {}", go_quote(&target.url()), go_quote(n))),
        };
        let value = match HeaderValue::from_str(v) {
            Ok(v) => v,
            Err(_) => return ProbeOutcome::Failure(format!("Get {}: net/http: invalid header field value for {}", go_quote(&target.url()), go_quote(n))),
        };
        parsed.push((name, value));
    }

    let progress = Mutex::new(Progress { url: target.url(), dialing: None });
    match tokio::time::timeout(timeout, fetch(&target, host_override, &parsed, &progress)).await {
        Ok(outcome) => outcome,
        Err(_) => {
            let p = progress.lock().map(|p| (p.url.clone(), p.dialing.clone())).unwrap_or_default();
            let why = match p.1 {
                Some(addr) => format!("dial tcp {addr}: i/o timeout"),
                None => "context deadline exceeded".to_string(),
            };
            ProbeOutcome::Failure(format!("Get {}: {why} (Client.Timeout exceeded while awaiting headers)", go_quote(&p.0)))
        }
    }
}

async fn fetch(initial: &Target, host_override: Option<String>, headers: &[(HeaderName, HeaderValue)], progress: &Mutex<Progress>) -> ProbeOutcome {
    let mut current = initial.clone();
    let mut host_header = host_override.clone().unwrap_or_else(|| current.authority());
    let mut requests = 1;
    loop {
        if let Ok(mut p) = progress.lock() {
            p.url = current.url();
        }
        let (resp, conn) = match request_once(&current, &host_header, headers, progress).await {
            Ok(r) => r,
            Err(e) => return ProbeOutcome::Failure(format!("Get {}: {e}", go_quote(&current.url()))),
        };
        let status = resp.status();
        let location = resp.headers().get(hyper::header::LOCATION).and_then(|l| l.to_str().ok()).map(String::from);
        if let (true, Some(location)) = (matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308), location) {
            let next = match current.resolve(&location) {
                Ok(t) => t,
                Err(e) => return ProbeOutcome::Failure(format!("Get {}: {e}", go_quote(&location))),
            };
            // Only same-host redirects are followed; anything else ends the probe here.
            if next.host == initial.host {
                if requests >= MAX_REDIRECT_REQUESTS {
                    return ProbeOutcome::Failure(format!("Get {}: stopped after 10 redirects", go_quote(&next.url())));
                }
                requests += 1;
                let relative = !location.contains("://") && !location.starts_with("//");
                host_header = match (&host_override, relative) {
                    (Some(h), true) => h.clone(),
                    _ => next.authority(),
                };
                drop(conn);
                current = next;
                continue;
            }
        }
        return outcome_of(status, resp, conn).await;
    }
}

async fn outcome_of(status: StatusCode, resp: hyper::Response<hyper::body::Incoming>, _conn: AbortOnDrop) -> ProbeOutcome {
    let code = status.as_u16();
    if (200..300).contains(&code) {
        return ProbeOutcome::Success;
    }
    if (300..400).contains(&code) {
        let body = read_some(resp.into_body(), MAX_OUTPUT).await;
        return ProbeOutcome::Warning(format!("Probe terminated redirects, Response body: {}", String::from_utf8_lossy(&body)));
    }
    ProbeOutcome::Failure(format!("HTTP probe failed with statuscode: {code}"))
}

async fn read_some(mut body: hyper::body::Incoming, max: usize) -> Vec<u8> {
    let mut out = Vec::new();
    while out.len() < max {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    out.extend_from_slice(&data[..data.len().min(max - out.len())]);
                }
            }
            _ => break,
        }
    }
    out
}

/// One GET over a new connection (the kubelet disables keep-alives).
async fn request_once(
    t: &Target,
    host_header: &str,
    headers: &[(HeaderName, HeaderValue)],
    progress: &Mutex<Progress>,
) -> Result<(hyper::Response<hyper::body::Incoming>, AbortOnDrop), String> {
    if let Ok(mut p) = progress.lock() {
        p.dialing = Some(t.authority());
    }
    let tcp = dial(&t.host, t.port).await?;
    if let Ok(mut p) = progress.lock() {
        p.dialing = None;
    }
    let _ = tcp.set_nodelay(true);
    let mut req = Request::builder().method("GET").uri(t.request_target());
    req = req.header(hyper::header::HOST, host_header);
    for (n, v) in headers {
        req = req.header(n, v);
    }
    req = req.header(hyper::header::CONNECTION, "close");
    let req = req.body(Empty::<Bytes>::new()).map_err(|e| format!("net/http: {e}"))?;
    if t.https {
        let name = rustls::pki_types::ServerName::try_from(t.host.clone()).map_err(|e| format!("tls: {e}"))?;
        let tls = tokio_rustls::TlsConnector::from(insecure_tls()).connect(name, tcp).await.map_err(|e| tls_error(&e))?;
        send_http1(TokioIo::new(tls), req).await
    } else {
        send_http1(TokioIo::new(tcp), req).await
    }
}

async fn send_http1<T>(io: T, req: Request<Empty<Bytes>>) -> Result<(hyper::Response<hyper::body::Incoming>, AbortOnDrop), String>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::Builder::new()
        .title_case_headers(true)
        .handshake(io)
        .await
        .map_err(|e| http_error(&e))?;
    let guard = AbortOnDrop(tokio::spawn(async move {
        let _ = conn.await;
    }));
    let resp = sender.send_request(req).await.map_err(|e| http_error(&e))?;
    Ok((resp, guard))
}

/// hyper's errors in the words of Go's HTTP client.
fn http_error(e: &hyper::Error) -> String {
    if e.is_incomplete_message() {
        return "EOF".to_string();
    }
    if e.is_parse() {
        return "net/http: HTTP/1.x transport connection broken: malformed HTTP response".to_string();
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return format!("read: {}", errno_text(io));
        }
        source = s.source();
    }
    e.to_string()
}

fn tls_error(e: &std::io::Error) -> String {
    if let Some(inner) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        if matches!(inner, rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType)) {
            return "http: server gave HTTP response to HTTPS client".to_string();
        }
        return format!("tls: {inner}");
    }
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        return "EOF".to_string();
    }
    format!("tls: {}", errno_text(e))
}

/// TLS that accepts any certificate, as the kubelet's probes do (`InsecureSkipVerify`);
/// handshake signatures are still checked against the presented certificate.
fn insecure_tls() -> Arc<rustls::ClientConfig> {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
                .with_safe_default_protocol_versions()
                .unwrap_or_else(|_| rustls::ClientConfig::builder_with_provider(provider.clone()).with_protocol_versions(rustls::ALL_VERSIONS).expect("rustls has TLS versions"));
            Arc::new(builder.dangerous().with_custom_certificate_verifier(Arc::new(AnyCertificate(provider))).with_no_client_auth())
        })
        .clone()
}

#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

// ---------------------------------------------------------------------------------------
// grpc

/// `grpc.health.v1.HealthCheckResponse.ServingStatus` names.
fn serving_status_name(n: u64) -> String {
    match n {
        0 => "UNKNOWN".into(),
        1 => "SERVING".into(),
        2 => "NOT_SERVING".into(),
        3 => "SERVICE_UNKNOWN".into(),
        n => n.to_string(),
    }
}

/// gRPC status code names as grpc-go prints them.
fn grpc_code_name(code: u32) -> String {
    const NAMES: [&str; 17] = [
        "OK", "Canceled", "Unknown", "InvalidArgument", "DeadlineExceeded", "NotFound", "AlreadyExists",
        "PermissionDenied", "ResourceExhausted", "FailedPrecondition", "Aborted", "OutOfRange", "Unimplemented",
        "Internal", "Unavailable", "DataLoss", "Unauthenticated",
    ];
    NAMES.get(code as usize).map(|s| s.to_string()).unwrap_or_else(|| format!("Code({code})"))
}

const GRPC_UNIMPLEMENTED: u32 = 12;
const GRPC_DEADLINE_EXCEEDED: u32 = 4;

/// A gRPC probe: `grpc.health.v1.Health/Check` over HTTP/2 without TLS, for the
/// action's service (default ""), at the pod IP `host`. SERVING is a success. Like
/// grpc-go with `WithBlock`, connecting is retried until the timeout.
pub async fn grpc(host: &str, action: &GRPCAction, timeout: Duration) -> ProbeOutcome {
    let port = match u16::try_from(action.port).ok().filter(|p| *p > 0) {
        Some(p) => p,
        None => return ProbeOutcome::Error(format!("invalid port number: {}", action.port)),
    };
    let service = action.service.clone().unwrap_or_default();
    let addr = join_host_port(host, port);
    let deadline = tokio::time::Instant::now() + timeout;
    let connect_timeout = || format!("timeout: failed to connect service {} within {}: context deadline exceeded", go_quote(&addr), go_duration(timeout));

    // Connect and send the call, retrying as grpc-go's blocking dial does. hyper does not
    // say when the server's HTTP/2 preface arrived, so a call that fails before any
    // response (a server that does not speak HTTP/2) counts as a failed connection.
    let sent = std::sync::atomic::AtomicBool::new(false);
    let mut wait = Duration::from_millis(50);
    let (resp, _conn) = loop {
        let attempt = async {
            let tcp = dial(host, port).await?;
            let _ = tcp.set_nodelay(true);
            let (mut sender, conn) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
                .handshake::<_, Full<Bytes>>(TokioIo::new(tcp))
                .await
                .map_err(|e| e.to_string())?;
            let guard = AbortOnDrop(tokio::spawn(async move {
                let _ = conn.await;
            }));
            sender.ready().await.map_err(|e| e.to_string())?;
            let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
            let req = Request::builder()
                .method("POST")
                .uri(format!("http://{addr}/grpc.health.v1.Health/Check"))
                .header(hyper::header::CONTENT_TYPE, "application/grpc")
                .header(hyper::header::TE, "trailers")
                .header(hyper::header::USER_AGENT, USER_AGENT)
                .header("grpc-timeout", format!("{}m", remaining.as_millis().max(1)))
                .body(Full::new(Bytes::from(health_check_request(&service))))
                .map_err(|e| e.to_string())?;
            sent.store(true, std::sync::atomic::Ordering::Relaxed);
            let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
            Ok::<_, String>((resp, guard))
        };
        match tokio::time::timeout_at(deadline, attempt).await {
            Ok(Ok(r)) => break r,
            Ok(Err(_)) => {
                sent.store(false, std::sync::atomic::Ordering::Relaxed);
                if tokio::time::Instant::now() + wait >= deadline {
                    tokio::time::sleep_until(deadline).await;
                    return ProbeOutcome::Failure(connect_timeout());
                }
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_millis(500));
            }
            Err(_) if sent.load(std::sync::atomic::Ordering::Relaxed) => {
                return ProbeOutcome::Failure(format!("timeout: health rpc did not complete within {}", go_duration(timeout)))
            }
            Err(_) => return ProbeOutcome::Failure(connect_timeout()),
        }
    };
    let (parts, body) = resp.into_parts();
    let (data, trailers) = match tokio::time::timeout_at(deadline, body.collect()).await {
        Err(_) => return ProbeOutcome::Failure(format!("timeout: health rpc did not complete within {}", go_duration(timeout))),
        Ok(Err(e)) => return ProbeOutcome::Failure(format!("error: health rpc probe failed: rpc error: code = Unavailable desc = {e}")),
        Ok(Ok(c)) => {
            let trailers = c.trailers().cloned();
            (c.to_bytes(), trailers)
        }
    };

    // The call's status: in the trailers, or in the headers of a trailers-only response.
    let status_of = |m: &hyper::HeaderMap| m.get("grpc-status").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u32>().ok());
    let message_of = |m: &hyper::HeaderMap| {
        m.get("grpc-message")
            .and_then(|v| v.to_str().ok())
            .map(|v| percent_encoding::percent_decode_str(v).decode_utf8_lossy().into_owned())
            .unwrap_or_default()
    };
    let (code, message) = if parts.status != StatusCode::OK {
        let code = match parts.status.as_u16() {
            400 => 13,
            401 => 16,
            403 => 7,
            404 => GRPC_UNIMPLEMENTED,
            429 | 502 | 503 | 504 => 14,
            _ => 2,
        };
        let reason = parts.status.canonical_reason().unwrap_or("");
        (code, format!("unexpected HTTP status code received from server: {} ({reason})", parts.status.as_u16()))
    } else if let Some(code) = trailers.as_ref().and_then(status_of) {
        (code, trailers.as_ref().map(message_of).unwrap_or_default())
    } else if let Some(code) = status_of(&parts.headers) {
        (code, message_of(&parts.headers))
    } else {
        (13, "server closed the stream without sending trailers".to_string())
    };
    match code {
        0 => {}
        GRPC_UNIMPLEMENTED => {
            return ProbeOutcome::Failure(format!("error: this server does not implement the grpc health protocol (grpc.health.v1.Health): {message}"))
        }
        GRPC_DEADLINE_EXCEEDED => return ProbeOutcome::Failure(format!("timeout: health rpc did not complete within {}", go_duration(timeout))),
        code => {
            return ProbeOutcome::Failure(format!("error: health rpc probe failed: rpc error: code = {} desc = {message}", grpc_code_name(code)))
        }
    }
    match parse_health_response(&data) {
        Ok(1) => ProbeOutcome::Success,
        Ok(status) => ProbeOutcome::Failure(format!("service unhealthy (responded with {})", go_quote(&serving_status_name(status)))),
        Err(e) => ProbeOutcome::Failure(format!("error: health rpc probe failed: rpc error: code = Internal desc = {e}")),
    }
}

/// A length-prefixed gRPC message holding `HealthCheckRequest { service = 1 }`.
fn health_check_request(service: &str) -> Vec<u8> {
    let mut msg = Vec::new();
    if !service.is_empty() {
        msg.push(0x0a); // field 1, length-delimited
        put_varint(&mut msg, service.len() as u64);
        msg.extend_from_slice(service.as_bytes());
    }
    let mut framed = Vec::with_capacity(5 + msg.len());
    framed.push(0); // not compressed
    framed.extend_from_slice(&(msg.len() as u32).to_be_bytes());
    framed.extend_from_slice(&msg);
    framed
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn get_varint(buf: &[u8], pos: &mut usize) -> Result<u64, String> {
    let mut v: u64 = 0;
    for shift in (0..64).step_by(7) {
        let b = *buf.get(*pos).ok_or("grpc: failed to unmarshal the received message: unexpected EOF")?;
        *pos += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err("grpc: failed to unmarshal the received message: proto: integer overflow".into())
}

/// The `status` (field 1) of a framed `HealthCheckResponse`; absent is UNKNOWN (0).
fn parse_health_response(data: &[u8]) -> Result<u64, String> {
    if data.len() < 5 {
        return Err("grpc: failed to unmarshal the received message: unexpected EOF".into());
    }
    if data[0] != 0 {
        return Err("grpc: compressed message received without a negotiated compressor".into());
    }
    let len = u32::from_be_bytes([data[1], data[2], data[3], data[4]]) as usize;
    let msg = data.get(5..5 + len).ok_or("grpc: failed to unmarshal the received message: unexpected EOF")?;
    let mut pos = 0;
    let mut status = 0;
    while pos < msg.len() {
        let key = get_varint(msg, &mut pos)?;
        match key & 7 {
            0 => {
                let v = get_varint(msg, &mut pos)?;
                if key >> 3 == 1 {
                    status = v;
                }
            }
            1 => pos += 8,
            2 => {
                let l = get_varint(msg, &mut pos)? as usize;
                pos += l;
            }
            5 => pos += 4,
            _ => return Err("grpc: failed to unmarshal the received message: proto: bad wire type".into()),
        }
    }
    if pos > msg.len() {
        return Err("grpc: failed to unmarshal the received message: unexpected EOF".into());
    }
    Ok(status)
}

#[cfg(test)]
mod tests;
