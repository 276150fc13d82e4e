//! What the scenarios share: the cluster under test (one given by a kubeconfig, or a
//! `skiff server` and `skiff agent --simulate` started here), an HTTP client built from a
//! kubeconfig, a watch that resyncs as client-go's reflector does, process figures from
//! /proc, percentiles, progress lines and the one table (and JSON) of figures.

use std::collections::BTreeMap;
use std::io::Write;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{anyhow, bail, Context, Result};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

/// Options every cluster scenario takes.
#[derive(clap::Args, Clone)]
pub struct Common {
    /// Run against this cluster instead of starting `skiff server` (+ `skiff agent
    /// --simulate`) here. Token and client-certificate credentials are supported.
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// The skiff binary to start [default: next to this one]
    #[arg(long)]
    pub skiff: Option<PathBuf>,
    /// Write the figures as JSON here too.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// With --kubeconfig: control-plane processes on this host whose RSS and CPU to report.
    #[arg(long = "control-plane-pid")]
    pub control_plane_pids: Vec<u32>,
    /// With --kubeconfig: the store's files (a file or a directory) whose size to report.
    #[arg(long)]
    pub store_path: Option<PathBuf>,
    /// Without --kubeconfig: run the control plane as three processes (`skiff server
    /// --no-scheduler --no-controllers`, `skiff scheduler`, `skiff controller-manager`)
    /// so that each one's CPU and memory are reported apart.
    #[arg(long)]
    pub split: bool,
    /// Without --kubeconfig: the server's store (`memory` keeps nothing on disk, so no
    /// write waits for fsync: to see what the rest costs on a machine with a slow disk).
    #[arg(long, default_value = "sqlite")]
    pub store: String,
}

impl Common {
    pub fn skiff(&self) -> Result<PathBuf> {
        match &self.skiff {
            Some(s) => Ok(s.clone()),
            None => Ok(std::env::current_exe()?.with_file_name("skiff")),
        }
    }
}

// ---------------------------------------------------------------------------------------
// API access

/// An API server and credentials, from a kubeconfig.
#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub client: reqwest::Client,
    builder: ClientParts,
}

#[derive(Clone, Default)]
struct ClientParts {
    ca_pem: Option<Vec<u8>>,
    insecure: bool,
    token: Option<String>,
    identity_pem: Option<Vec<u8>>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "kebab-case")]
struct KubeConfig {
    current_context: String,
    clusters: Vec<Named<KcCluster>>,
    users: Vec<Named<KcUser>>,
    contexts: Vec<Named<KcContext>>,
}

#[derive(Deserialize)]
struct Named<T> {
    name: String,
    #[serde(alias = "cluster", alias = "user", alias = "context")]
    value: T,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "kebab-case")]
struct KcCluster {
    server: String,
    certificate_authority_data: Option<String>,
    certificate_authority: Option<PathBuf>,
    insecure_skip_tls_verify: bool,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "kebab-case")]
struct KcUser {
    token: Option<String>,
    token_file: Option<PathBuf>,
    client_certificate_data: Option<String>,
    client_key_data: Option<String>,
    client_certificate: Option<PathBuf>,
    client_key: Option<PathBuf>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct KcContext {
    cluster: String,
    user: String,
}

fn b64(s: &str) -> Result<Vec<u8>> {
    use base64::Engine;
    Ok(base64::engine::general_purpose::STANDARD.decode(s.trim())?)
}

impl Api {
    pub fn from_kubeconfig(path: &Path) -> Result<Api> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let kc: KubeConfig = serde_yaml_ng::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        let ctx = kc.contexts.iter().find(|c| c.name == kc.current_context).or(kc.contexts.first()).ok_or_else(|| anyhow!("no context in {}", path.display()))?;
        let cluster = kc.clusters.iter().find(|c| c.name == ctx.value.cluster).ok_or_else(|| anyhow!("no cluster {}", ctx.value.cluster))?;
        let user = kc.users.iter().find(|u| u.name == ctx.value.user).map(|u| &u.value);
        let c = &cluster.value;
        let ca_pem = match (&c.certificate_authority_data, &c.certificate_authority) {
            (Some(d), _) => Some(b64(d)?),
            (None, Some(f)) => Some(std::fs::read(f)?),
            _ => None,
        };
        let mut parts = ClientParts { ca_pem, insecure: c.insecure_skip_tls_verify, ..Default::default() };
        if let Some(u) = user {
            parts.token = match (&u.token, &u.token_file) {
                (Some(t), _) => Some(t.clone()),
                (None, Some(f)) => Some(std::fs::read_to_string(f)?.trim().to_string()),
                _ => None,
            };
            let cert = match (&u.client_certificate_data, &u.client_certificate) {
                (Some(d), _) => Some(b64(d)?),
                (None, Some(f)) => Some(std::fs::read(f)?),
                _ => None,
            };
            let key = match (&u.client_key_data, &u.client_key) {
                (Some(d), _) => Some(b64(d)?),
                (None, Some(f)) => Some(std::fs::read(f)?),
                _ => None,
            };
            if let (Some(mut cert), Some(key)) = (cert, key) {
                cert.push(b'\n');
                cert.extend(key);
                parts.identity_pem = Some(cert);
            }
        }
        let base = c.server.trim_end_matches('/').to_string();
        Ok(Api { client: parts.build()?, base, builder: parts })
    }

    /// Another client with its own connections (for concurrent load from several clients).
    pub fn fresh(&self) -> Result<Api> {
        Ok(Api { base: self.base.clone(), client: self.builder.build()?, builder: self.builder.clone() })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// GET returning JSON; errors on any status but 200.
    pub async fn get(&self, path: &str) -> Result<Value> {
        let r = self.client.get(self.url(path)).send().await?;
        let status = r.status();
        let body = r.bytes().await?;
        if !status.is_success() {
            bail!("GET {path}: {status}: {}", String::from_utf8_lossy(&body));
        }
        Ok(serde_json::from_slice(&body)?)
    }

    pub async fn post(&self, path: &str, body: &Value) -> Result<Value> {
        self.send(self.client.post(self.url(path)).json(body), "POST", path).await
    }

    pub async fn merge_patch(&self, path: &str, body: &Value) -> Result<Value> {
        let req = self.client.patch(self.url(path)).header("Content-Type", "application/merge-patch+json").body(body.to_string());
        self.send(req, "PATCH", path).await
    }

    pub async fn delete(&self, path: &str, body: Option<&Value>) -> Result<Value> {
        let mut req = self.client.delete(self.url(path));
        if let Some(b) = body {
            req = req.json(b);
        }
        self.send(req, "DELETE", path).await
    }

    async fn send(&self, req: reqwest::RequestBuilder, verb: &str, path: &str) -> Result<Value> {
        let r = req.send().await?;
        let status = r.status();
        let body = r.bytes().await?;
        if !status.is_success() {
            bail!("{verb} {path}: {status}: {}", String::from_utf8_lossy(&body).chars().take(300).collect::<String>());
        }
        Ok(serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    /// Every item of a collection, 500 per page as client-go's reflector lists; returns
    /// the items and the list's resourceVersion.
    pub async fn list_all<T: DeserializeOwned>(&self, path: &str) -> Result<(Vec<T>, String)> {
        #[derive(Deserialize)]
        struct Page<T> {
            #[serde(default = "Vec::new")]
            items: Vec<T>,
            #[serde(default)]
            metadata: ListMeta,
        }
        #[derive(Deserialize, Default)]
        #[serde(default, rename_all = "camelCase")]
        struct ListMeta {
            resource_version: String,
            #[serde(rename = "continue")]
            cont: String,
        }
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut items = Vec::new();
        let mut cont = String::new();
        loop {
            let mut url = format!("{}{path}{sep}limit=500", self.base);
            if !cont.is_empty() {
                url.push_str(&format!("&continue={cont}"));
            }
            let r = self.client.get(url).send().await?;
            let status = r.status();
            let body = r.bytes().await?;
            if !status.is_success() {
                bail!("LIST {path}: {status}: {}", String::from_utf8_lossy(&body).chars().take(300).collect::<String>());
            }
            let page: Page<T> = serde_json::from_slice(&body)?;
            items.extend(page.items);
            if page.metadata.cont.is_empty() {
                return Ok((items, page.metadata.resource_version));
            }
            cont = page.metadata.cont;
        }
    }

    pub async fn ensure_namespace(&self, ns: &str) -> Result<()> {
        let r = self.client.post(self.url("/api/v1/namespaces")).json(&json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})).send().await?;
        if !r.status().is_success() && r.status() != reqwest::StatusCode::CONFLICT {
            bail!("create namespace {ns}: {}", r.status());
        }
        Ok(())
    }
}

impl ClientParts {
    fn build(&self) -> Result<reqwest::Client> {
        let mut b = reqwest::Client::builder().pool_max_idle_per_host(64);
        if let Some(ca) = &self.ca_pem {
            for cert in reqwest::Certificate::from_pem_bundle(ca)? {
                b = b.add_root_certificate(cert);
            }
        }
        if self.insecure {
            b = b.danger_accept_invalid_certs(true);
        }
        if let Some(t) = &self.token {
            let mut headers = reqwest::header::HeaderMap::new();
            headers.insert(reqwest::header::AUTHORIZATION, format!("Bearer {t}").parse()?);
            b = b.default_headers(headers);
        }
        if let Some(id) = &self.identity_pem {
            b = b.identity(reqwest::Identity::from_pem(id)?);
        }
        Ok(b.build()?)
    }
}

// ---------------------------------------------------------------------------------------
// The API server alone (apiserver and scheduling scenarios): a server started on a fresh
// data dir after a first start that made its certificates, and raw HTTPS clients.

pub struct Server {
    child: Child,
    pub dir: PathBuf,
    pub base: String,
    token: String,
    ca: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Server {
    pub fn rss_mb(&self) -> f64 {
        rss_mb(self.child.id())
    }

    pub fn client(&self) -> Result<reqwest::Client> {
        let ca = reqwest::Certificate::from_pem(self.ca.as_bytes())?;
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(reqwest::header::AUTHORIZATION, format!("Bearer {}", self.token).parse()?);
        Ok(reqwest::Client::builder().add_root_certificate(ca).default_headers(headers).build()?)
    }
}

pub fn rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

/// Starts the server and returns it with the time until /readyz answered.
pub async fn start(skiff: &Path, extra: &[&str]) -> Result<(Server, Duration)> {
    let dir = std::env::temp_dir().join(format!("skiff-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    // Certificates and tokens are made on first start: do that once, so the timed
    // start is a restart of an existing cluster, like every start after the first.
    let first = Command::new(skiff).args(["server", "--no-agent", "--listen", "127.0.0.1:0", "--data-dir"]).arg(&dir).stdout(Stdio::null()).stderr(Stdio::null()).spawn()?;
    wait_for_file(&dir.join("kubeconfig.yaml"), first).await?;
    let port = free_port()?;
    let t0 = Instant::now();
    let child = Command::new(skiff)
        .args(["server", "--no-agent", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(&dir)
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .context("starting skiff")?;
    let base = format!("https://127.0.0.1:{port}");
    let http = reqwest::Client::builder().danger_accept_invalid_certs(true).build()?;
    loop {
        if let Ok(r) = http.get(format!("{base}/readyz")).send().await {
            if r.status().is_success() {
                break;
            }
        }
        if t0.elapsed() > Duration::from_secs(30) {
            bail!("server not ready after 30 s");
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let ready = t0.elapsed();
    let kubeconfig = std::fs::read_to_string(dir.join("kubeconfig.yaml"))?;
    let field = |name: &str| kubeconfig.lines().find_map(|l| l.trim().strip_prefix(name).map(|v| v.trim().to_string())).unwrap_or_default();
    use base64::Engine;
    let ca = String::from_utf8(base64::engine::general_purpose::STANDARD.decode(field("certificate-authority-data:"))?)?;
    Ok((Server { child, dir, base, token: field("token:"), ca }, ready))
}

pub async fn wait_for_file(p: &Path, mut child: Child) -> Result<()> {
    for _ in 0..3000 {
        if p.exists() {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let _ = child.kill();
            let _ = child.wait();
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    bail!("first start did not write {}", p.display())
}

pub fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

pub fn pod(ns: &str, name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns, "labels": {"app": "bench"}},
        "spec": {"containers": [{"name": "main", "image": "busybox:1.36", "command": ["sleep", "3600"]}]}})
}

pub async fn create_ns(c: &reqwest::Client, base: &str, ns: &str) -> Result<()> {
    let r = c.post(format!("{base}/api/v1/namespaces")).json(&json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":ns}})).send().await?;
    if !r.status().is_success() {
        bail!("create namespace {ns}: {}", r.status());
    }
    Ok(())
}

/// Creates `total` pods in `ns` from `clients` concurrent clients; returns latencies and wall time.
pub async fn create_pods(server: &Server, ns: &str, total: usize, clients: usize, offset: usize) -> Result<(Vec<Duration>, Duration)> {
    let ns = ns.to_string();
    let path = format!("/api/v1/namespaces/{ns}/pods");
    create_objects(server, &path, total, clients, move |i| pod(&ns, &format!("p{}", i + offset))).await
}

/// Creates `total` objects made by `make(i)` with POSTs to `path` from `clients` concurrent clients.
pub async fn create_objects<F>(server: &Server, path: &str, total: usize, clients: usize, make: F) -> Result<(Vec<Duration>, Duration)>
where
    F: Fn(usize) -> Value + Send + Sync + Clone + 'static,
{
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let c = server.client()?;
        let (url, next, make) = (format!("{}{path}", server.base), next.clone(), make.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let body = make(i);
                let t = Instant::now();
                let r = c.post(&url).json(&body).send().await?;
                let status = r.status();
                r.bytes().await?;
                if status != reqwest::StatusCode::CREATED {
                    bail!("create returned {status}");
                }
                lat.push(t.elapsed());
            }
            Ok::<_, anyhow::Error>(lat)
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    let wall = t0.elapsed();
    all.sort();
    Ok((all, wall))
}

// ---------------------------------------------------------------------------------------
// Objects as the scenarios read them: only the fields they need.

#[derive(Deserialize, Default, Debug, Clone)]
#[serde(default, rename_all = "camelCase")]
pub struct Meta {
    pub name: String,
    pub namespace: String,
    pub resource_version: String,
    pub creation_timestamp: Option<String>,
    pub deletion_timestamp: Option<String>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default, rename_all = "camelCase")]
pub struct PodLite {
    pub metadata: Meta,
    pub spec: PodSpecLite,
    pub status: PodStatusLite,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default, rename_all = "camelCase")]
pub struct PodSpecLite {
    pub node_name: Option<String>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default, rename_all = "camelCase")]
pub struct PodStatusLite {
    pub phase: Option<String>,
    pub container_statuses: Vec<ContainerStatusLite>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default)]
pub struct ContainerStatusLite {
    pub state: Option<ContainerStateLite>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default)]
pub struct ContainerStateLite {
    pub running: Option<serde::de::IgnoredAny>,
}

impl PodLite {
    /// Running as the pod startup SLI counts it: phase Running with every container started.
    pub fn is_running(&self) -> bool {
        self.status.phase.as_deref() == Some("Running")
            && !self.status.container_statuses.is_empty()
            && self.status.container_statuses.iter().all(|c| c.state.as_ref().is_some_and(|s| s.running.is_some()))
    }
    pub fn bound(&self) -> bool {
        self.spec.node_name.as_deref().is_some_and(|n| !n.is_empty())
    }
}

pub trait HasMeta {
    fn meta(&self) -> &Meta;
}

impl HasMeta for PodLite {
    fn meta(&self) -> &Meta {
        &self.metadata
    }
}

/// Seconds since the epoch of an RFC 3339 time.
pub fn epoch_secs(t: &str) -> Option<f64> {
    let ts: jiff::Timestamp = t.parse().ok()?;
    Some(ts.as_millisecond() as f64 / 1000.0)
}

pub fn wall_now() -> f64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

// ---------------------------------------------------------------------------------------
// Watch, resyncing as client-go's reflector does.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    Added,
    Modified,
    Deleted,
    /// From a (re)list after the watch could not resume.
    Listed,
}

#[derive(Debug, Default, Clone, Copy)]
pub struct WatchStats {
    pub events: u64,
    /// Times the watch was re-opened from the last resourceVersion.
    pub rewatches: u64,
    /// Times a re-watch was refused (410 Gone) and the collection listed again.
    pub relists: u64,
}

/// Watches `path` (a collection) from `rv` and hands every object to `on`, until it
/// returns Break. A closed stream is re-opened from the last resourceVersion seen; a
/// 410 Gone makes it list again (paginated) and watch from the list.
pub async fn reflect<T, F>(api: &Api, path: &str, mut rv: String, mut on: F) -> Result<WatchStats>
where
    T: DeserializeOwned + HasMeta,
    F: FnMut(Seen, T, Instant) -> ControlFlow<()>,
{
    #[derive(Deserialize)]
    struct Ev<T> {
        #[serde(rename = "type")]
        kind: String,
        object: T,
    }
    let mut stats = WatchStats::default();
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut first = true;
    loop {
        if !first {
            stats.rewatches += 1;
        }
        first = false;
        let url = format!("{}{path}{sep}watch=true&allowWatchBookmarks=true&resourceVersion={rv}", api.base);
        let resp = match api.client.get(url).send().await {
            Ok(r) => r,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let mut gone = resp.status() == reqwest::StatusCode::GONE;
        if !resp.status().is_success() && !gone {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        let mut resp = resp;
        let mut buf: Vec<u8> = Vec::new();
        let opened = Instant::now();
        let mut received = 0u64;
        'stream: while !gone {
            let chunk = match resp.chunk().await {
                Ok(Some(c)) => c,
                _ => break,
            };
            buf.extend_from_slice(&chunk);
            let mut start = 0;
            while let Some(pos) = buf[start..].iter().position(|b| *b == b'\n') {
                let line = &buf[start..start + pos];
                start += pos + 1;
                let seen = Instant::now();
                let ev = match serde_json::from_slice::<Ev<T>>(line) {
                    Ok(ev) if ev.kind != "ERROR" => ev,
                    // An ERROR event carries a Status, which does not fit T.
                    _ => {
                        let v: Value = serde_json::from_slice(line).unwrap_or_default();
                        if v["type"] == "ERROR" {
                            gone = v["object"]["code"] == 410;
                            break 'stream;
                        }
                        continue;
                    }
                };
                received += 1;
                if ev.kind == "BOOKMARK" {
                    rv = ev.object.meta().resource_version.clone();
                    continue;
                }
                stats.events += 1;
                let kind = match ev.kind.as_str() {
                    "ADDED" => Seen::Added,
                    "DELETED" => Seen::Deleted,
                    _ => Seen::Modified,
                };
                rv = ev.object.meta().resource_version.clone();
                if on(kind, ev.object, seen).is_break() {
                    return Ok(stats);
                }
            }
            buf.drain(..start);
        }
        if !gone && received == 0 && opened.elapsed() < Duration::from_secs(1) {
            // Closed at once with nothing in it: do not spin.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if gone {
            stats.relists += 1;
            let (items, list_rv) = loop {
                match api.list_all::<T>(path).await {
                    Ok(x) => break x,
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            };
            let now = Instant::now();
            for item in items {
                if on(Seen::Listed, item, now).is_break() {
                    return Ok(stats);
                }
            }
            rv = list_rv;
        }
    }
}

/// A watch on one collection that keeps a state of the caller's up to date (from the
/// collection's current state: what is there is handed to `on` as Listed first). Stops
/// when `on` says Break, or when dropped.
pub struct Watched<S> {
    pub state: Arc<std::sync::Mutex<S>>,
    task: tokio::task::JoinHandle<Result<WatchStats>>,
}

impl<S: Send + 'static> Watched<S> {
    pub async fn start<T, F>(api: &Api, path: &str, state: S, mut on: F) -> Result<Watched<S>>
    where
        T: DeserializeOwned + HasMeta + Send + 'static,
        F: FnMut(&mut S, Seen, T, Instant) -> ControlFlow<()> + Send + 'static,
    {
        let (items, rv) = api.list_all::<T>(path).await?;
        let mut state = state;
        let now = Instant::now();
        for item in items {
            let _ = on(&mut state, Seen::Listed, item, now);
        }
        let state = Arc::new(std::sync::Mutex::new(state));
        let (api, path, st) = (api.fresh()?, path.to_string(), state.clone());
        let task = tokio::spawn(async move { reflect::<T, _>(&api, &path, rv, move |kind, obj, seen| on(&mut st.lock().expect("watched state"), kind, obj, seen)).await });
        Ok(Watched { state, task })
    }

    pub fn lock(&self) -> std::sync::MutexGuard<'_, S> {
        self.state.lock().expect("watched state")
    }
}

impl<S> Drop for Watched<S> {
    fn drop(&mut self) {
        self.task.abort();
    }
}

// ---------------------------------------------------------------------------------------
// Processes and their figures.

/// Memory and CPU of a process from /proc.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcFigures {
    pub rss_mb: f64,
    /// Peak RSS (VmHWM).
    pub peak_rss_mb: f64,
    /// Private memory (Private_Clean + Private_Dirty of smaps_rollup): what this process
    /// alone costs, not counting pages it shares with others (the binary's text).
    pub private_mb: f64,
    /// Pages of mapped files (the binary's code, shared by every skiff process on the host).
    pub rss_file_mb: f64,
    pub cpu_s: f64,
}

fn status_kb(status: &str, key: &str) -> f64 {
    status.lines().find(|l| l.starts_with(key)).and_then(|l| l.split_whitespace().nth(1)).and_then(|v| v.parse().ok()).unwrap_or(0.0)
}

pub fn proc_figures(pid: u32) -> ProcFigures {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command (which may hold spaces) end with ')'.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of stat; `rest` starts at field 3. USER_HZ is 100.
    let cpu_s = (ticks(11) + ticks(12)) / 100.0;
    ProcFigures {
        rss_mb: status_kb(&status, "VmRSS:") / 1024.0,
        peak_rss_mb: status_kb(&status, "VmHWM:") / 1024.0,
        private_mb: (status_kb(&smaps, "Private_Clean:") + status_kb(&smaps, "Private_Dirty:")) / 1024.0,
        rss_file_mb: status_kb(&status, "RssFile:") / 1024.0,
        cpu_s,
    }
}

/// Sums figures of several processes (peak is the sum of peaks: an upper bound).
pub fn sum_figures(pids: &[u32]) -> ProcFigures {
    pids.iter().map(|p| proc_figures(*p)).fold(ProcFigures::default(), |a, b| ProcFigures {
        rss_mb: a.rss_mb + b.rss_mb,
        peak_rss_mb: a.peak_rss_mb + b.peak_rss_mb,
        private_mb: a.private_mb + b.private_mb,
        rss_file_mb: a.rss_file_mb + b.rss_file_mb,
        cpu_s: a.cpu_s + b.cpu_s,
    })
}

/// Bytes under `p` (a file, or every file in a directory tree).
pub fn disk_mb(p: &Path) -> f64 {
    fn walk(p: &Path) -> u64 {
        match std::fs::symlink_metadata(p) {
            Ok(m) if m.is_dir() => std::fs::read_dir(p).into_iter().flatten().flatten().map(|e| walk(&e.path())).sum(),
            Ok(m) => m.len(),
            Err(_) => 0,
        }
    }
    walk(p) as f64 / 1048576.0
}

/// A child process, killed when dropped.
pub struct Proc {
    pub child: Child,
}

impl Proc {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
    /// kill -9, and reap.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
    pub fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A cluster this tool started: `skiff server --no-agent` and, when asked,
/// `skiff agent --simulate N`.
pub struct OwnCluster {
    pub skiff: PathBuf,
    pub dir: PathBuf,
    pub port: u16,
    pub server: Option<Proc>,
    pub sim: Option<Proc>,
    /// Other control-plane processes (`--split`): name and process.
    pub components: Vec<(String, Proc)>,
    server_args: Vec<String>,
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        self.sim.take();
        self.components.clear();
        self.server.take();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The pod network for a bench cluster: room for a /24 per node for 16,384 nodes.
pub const BENCH_CLUSTER_CIDR: &str = "10.64.0.0/10";

impl OwnCluster {
    /// Starts `skiff server` with these extra args (plus --no-agent unless `agent`) on a
    /// fresh data dir and waits for /readyz.
    pub async fn start(skiff: &Path, name: &str, extra: &[&str]) -> Result<OwnCluster> {
        let dir = std::env::temp_dir().join(format!("skiff-bench-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        let mut c = OwnCluster { skiff: skiff.to_path_buf(), dir, port: free_port()?, server: None, sim: None, components: Vec::new(), server_args: extra.iter().map(|s| s.to_string()).collect() };
        c.launch().await?;
        Ok(c)
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.join("kubeconfig.yaml")
    }

    pub fn agent_kubeconfig(&self) -> PathBuf {
        self.dir.join("agent-kubeconfig.yaml")
    }

    pub fn api(&self) -> Result<Api> {
        Api::from_kubeconfig(&self.kubeconfig())
    }

    /// Starts the server (again) on the same port and data dir; returns when /readyz answers.
    pub async fn launch(&mut self) -> Result<Duration> {
        let t0 = Instant::now();
        let child = Command::new(&self.skiff)
            .args(["server", "--listen", &format!("127.0.0.1:{}", self.port), "--data-dir"])
            .arg(&self.dir)
            .args(&self.server_args)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting {}", self.skiff.display()))?;
        self.server = Some(Proc { child });
        let http = reqwest::Client::builder().danger_accept_invalid_certs(true).build()?;
        let url = format!("https://127.0.0.1:{}/readyz", self.port);
        loop {
            if let Ok(r) = http.get(&url).send().await {
                if r.status().is_success() && self.kubeconfig().exists() {
                    return Ok(t0.elapsed());
                }
            }
            if self.server.as_mut().is_some_and(|s| s.exited()) {
                bail!("skiff server exited");
            }
            if t0.elapsed() > Duration::from_secs(120) {
                bail!("server not ready after 120 s");
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// Starts `skiff agent --simulate count` and waits until every node is Ready (and,
    /// when the node IPAM controller runs, has its podCIDR).
    pub async fn simulate(&mut self, count: usize) -> Result<()> {
        let child = Command::new(&self.skiff)
            .args(["agent", "--kubeconfig"])
            .arg(self.agent_kubeconfig())
            .args(["--simulate", &count.to_string(), "--name-prefix", "sim-"])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting skiff agent --simulate")?;
        self.sim = Some(Proc { child });
        let api = self.api()?;
        wait_nodes(&api, count, Some("sim-"), true).await
    }

    /// Starts `skiff <args> --kubeconfig <admin kubeconfig>` as a control-plane component.
    pub fn component(&mut self, name: &str, args: &[&str]) -> Result<()> {
        let child = Command::new(&self.skiff)
            .args(args)
            .arg("--kubeconfig")
            .arg(self.kubeconfig())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting skiff {name}"))?;
        self.components.push((name.to_string(), Proc { child }));
        Ok(())
    }

    pub fn server_pid(&self) -> Option<u32> {
        self.server.as_ref().map(Proc::pid)
    }

    pub fn sim_pid(&self) -> Option<u32> {
        self.sim.as_ref().map(Proc::pid)
    }

    /// The SQLite store: state.db and its WAL.
    pub fn store_mb(&self) -> f64 {
        ["state.db", "state.db-wal", "state.db-shm"].iter().map(|f| disk_mb(&self.dir.join(f))).sum()
    }
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct NodeLite {
    metadata: Meta,
    spec: NodeSpecLite,
    status: NodeStatusLite,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct NodeSpecLite {
    #[serde(rename = "podCIDR")]
    pod_cidr: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct NodeStatusLite {
    conditions: Vec<CondLite>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct CondLite {
    #[serde(rename = "type")]
    type_: String,
    status: String,
}

/// Waits until `want` nodes (named with `prefix`, if given) are Ready, and with
/// `cidr`, have a podCIDR.
pub async fn wait_nodes(api: &Api, want: usize, prefix: Option<&str>, cidr: bool) -> Result<()> {
    let t0 = Instant::now();
    let mut progress = Progress::new();
    loop {
        let nodes = match api.list_all::<NodeLite>("/api/v1/nodes").await {
            Ok((n, _)) => n,
            Err(e) => {
                progress.show(|| format!("listing nodes: {e}"));
                Vec::new()
            }
        };
        let ready = nodes
            .iter()
            .filter(|n| prefix.is_none_or(|p| n.metadata.name.starts_with(p)))
            .filter(|n| n.status.conditions.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
            .filter(|n| !cidr || n.spec.pod_cidr.is_some())
            .count();
        progress.show(|| format!("nodes Ready: {ready} / {want}"));
        if ready >= want {
            progress.done(&format!("{want} nodes Ready in {:.1} s", t0.elapsed().as_secs_f64()));
            return Ok(());
        }
        if t0.elapsed() > Duration::from_secs(300) {
            bail!("only {ready} of {want} nodes Ready after 300 s");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Ready nodes in the cluster.
pub async fn ready_nodes(api: &Api) -> Result<usize> {
    let (nodes, _) = api.list_all::<NodeLite>("/api/v1/nodes").await?;
    Ok(nodes.iter().filter(|n| n.status.conditions.iter().any(|c| c.type_ == "Ready" && c.status == "True")).count())
}

/// The cluster a scenario runs against.
pub struct Target {
    pub api: Api,
    pub own: Option<OwnCluster>,
    control_plane_pids: Vec<u32>,
    store_path: Option<PathBuf>,
}

impl Target {
    /// The cluster of `--kubeconfig`, or a `skiff server` (API server, scheduler and
    /// controllers in one process) with `nodes` simulated nodes started here.
    pub async fn new(common: &Common, name: &str, nodes: usize) -> Result<Target> {
        if let Some(kc) = &common.kubeconfig {
            let api = Api::from_kubeconfig(kc)?;
            let ready = ready_nodes(&api).await?;
            eprintln!("cluster {}: {ready} Ready nodes", api.base);
            if ready == 0 {
                bail!("the cluster has no Ready node (start some, e.g. skiff agent --simulate {nodes} --kubeconfig …)");
            }
            return Ok(Target { api, own: None, control_plane_pids: common.control_plane_pids.clone(), store_path: common.store_path.clone() });
        }
        let skiff = common.skiff()?;
        let mut own = if common.split {
            eprintln!("starting {0} server --no-agent --no-scheduler --no-controllers, {0} scheduler, {0} controller-manager, then agent --simulate {nodes}", skiff.display());
            let mut own = OwnCluster::start(&skiff, name, &["--no-agent", "--no-scheduler", "--no-controllers", "--store", &common.store]).await?;
            own.component("scheduler", &["scheduler"])?;
            own.component("controller-manager", &["controller-manager", "--cluster-cidr", BENCH_CLUSTER_CIDR])?;
            own
        } else {
            eprintln!("starting {} server --no-agent, then agent --simulate {nodes}", skiff.display());
            OwnCluster::start(&skiff, name, &["--no-agent", "--cluster-cidr", BENCH_CLUSTER_CIDR, "--store", &common.store]).await?
        };
        if nodes > 0 {
            own.simulate(nodes).await?;
        }
        let api = own.api()?;
        Ok(Target { api, own: Some(own), control_plane_pids: Vec::new(), store_path: None })
    }

    /// A cluster started here some other way (e.g. with a real node agent).
    pub fn from_own(own: OwnCluster) -> Result<Target> {
        let api = own.api()?;
        Ok(Target { api, own: Some(own), control_plane_pids: Vec::new(), store_path: None })
    }

    pub fn control_plane_pids(&self) -> Vec<u32> {
        match &self.own {
            Some(o) => o.server_pid().into_iter().chain(o.components.iter().map(|(_, p)| p.pid())).collect(),
            None => self.control_plane_pids.clone(),
        }
    }

    pub fn control_plane(&self) -> Option<ProcFigures> {
        let pids = self.control_plane_pids();
        (!pids.is_empty()).then(|| sum_figures(&pids))
    }

    pub fn sim(&self) -> Option<ProcFigures> {
        self.own.as_ref().and_then(|o| o.sim_pid()).map(proc_figures)
    }

    pub fn store_mb(&self) -> Option<f64> {
        match (&self.own, &self.store_path) {
            (Some(o), _) => Some(o.store_mb()),
            (None, Some(p)) => Some(disk_mb(p)),
            _ => None,
        }
    }

    /// Resource figures: control-plane RSS (now and peak), CPU seconds since `cpu0`,
    /// store size, and the simulated nodes' process.
    pub fn resources(&self, report: &mut Report, cpu0: &Baseline) {
        if let Some(cp) = self.control_plane() {
            report.row("control plane RSS (API server, scheduler, controllers)", format!("{:.1} MB (peak {:.1} MB)", cp.rss_mb, cp.peak_rss_mb), "< 400 MB at 1,000 nodes / 30,000 pods");
            report.value("control_plane_rss_mb", cp.rss_mb);
            report.value("control_plane_peak_rss_mb", cp.peak_rss_mb);
            report.row("control plane CPU during the run", format!("{:.1} s", cp.cpu_s - cpu0.control_plane), "");
            report.value("control_plane_cpu_s", cp.cpu_s - cpu0.control_plane);
        }
        if let Some(o) = self.own.as_ref().filter(|o| !o.components.is_empty()) {
            let mut parts: Vec<(String, u32)> = o.server_pid().map(|p| ("API server".to_string(), p)).into_iter().collect();
            parts.extend(o.components.iter().map(|(n, p)| (n.clone(), p.pid())));
            for (name, pid) in parts {
                let f = proc_figures(pid);
                let cpu = f.cpu_s - cpu0.components.get(&pid).copied().unwrap_or(0.0);
                report.row(&format!("  {name}"), format!("RSS {:.1} MB (peak {:.1} MB), CPU {cpu:.1} s", f.rss_mb, f.peak_rss_mb), "");
                let key = name.replace([' ', '-'], "_").to_lowercase();
                report.value(&format!("{key}_rss_mb"), f.rss_mb);
                report.value(&format!("{key}_peak_rss_mb"), f.peak_rss_mb);
                report.value(&format!("{key}_cpu_s"), cpu);
            }
        }
        if let Some(s) = self.store_mb() {
            report.row("store on disk", format!("{s:.1} MB"), "");
            report.value("store_mb", s);
        }
        if let Some(sim) = self.sim() {
            let n = self.own.as_ref().map(|_| "simulated nodes' process").unwrap_or("");
            report.row(&format!("{n} RSS"), format!("{:.1} MB (peak {:.1} MB)", sim.rss_mb, sim.peak_rss_mb), "< 100 MB for 1,000 nodes");
            report.value("sim_rss_mb", sim.rss_mb);
            report.value("sim_peak_rss_mb", sim.peak_rss_mb);
            report.row(&format!("{n} CPU during the run"), format!("{:.1} s", sim.cpu_s - cpu0.sim), "");
            report.value("sim_cpu_s", sim.cpu_s - cpu0.sim);
        }
    }

    pub fn baseline(&self) -> Baseline {
        Baseline {
            control_plane: self.control_plane().map(|f| f.cpu_s).unwrap_or(0.0),
            sim: self.sim().map(|f| f.cpu_s).unwrap_or(0.0),
            components: self.control_plane_pids().into_iter().map(|p| (p, proc_figures(p).cpu_s)).collect(),
        }
    }
}

/// CPU seconds at the start of a measured run.
pub struct Baseline {
    pub control_plane: f64,
    pub sim: f64,
    /// Per control-plane process.
    pub components: std::collections::HashMap<u32, f64>,
}

// ---------------------------------------------------------------------------------------
// Figures.

/// The `p` quantile (0..1) of sorted values: the smallest value with at least p of all
/// values at or below it (nearest rank).
pub fn percentile<T: Copy + Default>(sorted: &[T], p: f64) -> T {
    if sorted.is_empty() {
        return T::default();
    }
    let rank = (sorted.len() as f64 * p).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// p50/p90/p99 and max of durations in seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Quantiles {
    pub count: usize,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

pub fn quantiles(values: &mut [f64]) -> Quantiles {
    values.sort_by(|a, b| a.total_cmp(b));
    Quantiles {
        count: values.len(),
        p50: percentile(values, 0.50),
        p90: percentile(values, 0.90),
        p99: percentile(values, 0.99),
        max: values.last().copied().unwrap_or(0.0),
    }
}

impl Quantiles {
    pub fn ms(&self) -> String {
        format!("p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms (max {:.1} ms)", self.p50 * 1e3, self.p90 * 1e3, self.p99 * 1e3, self.max * 1e3)
    }
    /// Milliseconds when every value is under a second, seconds otherwise.
    pub fn human(&self) -> String {
        if self.max < 1.0 {
            self.ms()
        } else {
            self.secs()
        }
    }
    pub fn secs(&self) -> String {
        format!("p50 {:.2} s, p90 {:.2} s, p99 {:.2} s (max {:.2} s)", self.p50, self.p90, self.p99, self.max)
    }
    pub fn json(&self) -> Value {
        json!({"count": self.count, "p50_s": self.p50, "p90_s": self.p90, "p99_s": self.p99, "max_s": self.max})
    }
}

/// The table of figures a scenario prints, and its JSON.
pub struct Report {
    scenario: String,
    rows: Vec<(String, String, String)>,
    values: BTreeMap<String, Value>,
}

impl Report {
    pub fn new(scenario: &str) -> Report {
        Report { scenario: scenario.to_string(), rows: Vec::new(), values: BTreeMap::new() }
    }

    /// A row on the disk this run's store writes to: how long an fsync takes right now
    /// (every acknowledged write waits for one; a busy shared disk shows here).
    pub fn disk(&mut self, fsync: &Quantiles) {
        self.row("disk: fsync of 4 KiB in the temp dir, at the start (100 samples)", fsync.ms(), "");
        self.value("fsync", fsync.json());
    }

    pub fn row(&mut self, figure: &str, value: String, target: &str) {
        self.rows.push((figure.to_string(), value, target.to_string()));
    }

    pub fn value(&mut self, key: &str, v: impl Into<Value>) {
        self.values.insert(key.to_string(), v.into());
    }

    pub fn render(&self) -> String {
        let w0 = self.rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(0).max(6);
        let w1 = self.rows.iter().map(|r| r.1.chars().count()).max().unwrap_or(0).max(8);
        let mut out = format!("\n{}\n", self.scenario);
        let pad = |s: &str, w: usize| format!("{s}{}", " ".repeat(w.saturating_sub(s.chars().count())));
        out.push_str(&format!("  {}  {}  {}\n", pad("figure", w0), pad("measured", w1), "target"));
        out.push_str(&format!("  {}  {}  {}\n", "-".repeat(w0), "-".repeat(w1), "------"));
        for (f, v, t) in &self.rows {
            out.push_str(&format!("  {}  {}  {}\n", pad(f, w0), pad(v, w1), t));
        }
        out
    }

    /// Prints the table and writes the JSON file if asked.
    pub fn finish(&self, json_path: Option<&Path>) -> Result<()> {
        print!("{}", self.render());
        std::io::stdout().flush().ok();
        if let Some(p) = json_path {
            let doc = json!({"scenario": self.scenario, "machine": machine(), "at": jiff::Timestamp::now().to_string(), "figures": self.values});
            std::fs::write(p, serde_json::to_string_pretty(&doc)?)?;
        }
        Ok(())
    }
}

/// The machine the figures came from.
pub fn machine() -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo.lines().find_map(|l| l.strip_prefix("model name").and_then(|r| r.split_once(':')).map(|(_, v)| v.trim().to_string())).unwrap_or_default();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    json!({
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "cpu_model": model,
        "memory_gib": (status_kb(&meminfo, "MemTotal:") / 1048576.0 * 10.0).round() / 10.0,
        "kernel": std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim(),
    })
}

/// A progress line on stderr, redrawn at most four times a second.
pub struct Progress {
    last: Option<Instant>,
    line: String,
    shown: bool,
}

impl Progress {
    pub fn new() -> Progress {
        Progress { last: None, line: String::new(), shown: false }
    }
    pub fn show(&mut self, line: impl FnOnce() -> String) {
        if self.last.is_some_and(|t| t.elapsed() < Duration::from_millis(250)) {
            return;
        }
        self.last = Some(Instant::now());
        let line = line();
        if line == self.line {
            return;
        }
        self.shown = true;
        eprint!("\r\x1b[K  {line}");
        self.line = line;
        std::io::stderr().flush().ok();
    }
    pub fn done(&mut self, line: &str) {
        if self.shown {
            eprint!("\r\x1b[K");
        }
        eprintln!("  {line}");
        self.shown = false;
        self.last = None;
        self.line.clear();
    }
}

/// A Deployment of `replicas` pause pods labelled for the bench.
pub fn deployment(ns: &str, name: &str, replicas: usize, image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns, "labels": {"skiff-bench": "true"}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name, "skiff-bench": "true"}},
                "spec": {"containers": [{"name": "pause", "image": image}]}
            }
        }
    })
}

pub const PAUSE: &str = "registry.k8s.io/pause:3.10";

/// A unique namespace name for a run.
pub fn run_namespace(scenario: &str) -> String {
    format!("bench-{scenario}-{}", std::process::id())
}

/// Deletes the bench's objects in `ns` (Deployments, ReplicaSets, pods, the namespace)
/// on a cluster given by kubeconfig; a cluster started here is simply stopped.
pub async fn cleanup(target: &Target, ns: &str) {
    if target.own.is_some() {
        return;
    }
    let api = &target.api;
    let bg = json!({"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"});
    for path in [format!("/apis/apps/v1/namespaces/{ns}/deployments"), format!("/apis/apps/v1/namespaces/{ns}/replicasets"), format!("/api/v1/namespaces/{ns}/pods")] {
        let _ = api.delete(&path, Some(&bg)).await;
    }
    let _ = api.delete(&format!("/api/v1/namespaces/{ns}"), None).await;
}

/// Times 100 fsyncs of a 4 KiB write in the temp dir (the disk stores are on).
pub fn fsync_latency() -> Quantiles {
    let path = std::env::temp_dir().join(format!("skiff-bench-fsync-{}", std::process::id()));
    let mut lat = Vec::new();
    if let Ok(mut f) = std::fs::File::create(&path) {
        for _ in 0..100 {
            if f.write_all(&[b'x'; 4096]).is_err() {
                break;
            }
            let t = Instant::now();
            if f.sync_data().is_err() {
                break;
            }
            lat.push(t.elapsed().as_secs_f64());
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    let _ = std::fs::remove_file(&path);
    quantiles(&mut lat)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let v: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile(&v, 0.5), 50);
        assert_eq!(percentile(&v, 0.99), 99);
        assert_eq!(percentile(&v, 1.0), 100);
        assert_eq!(percentile(&v, 0.0), 1);
        assert_eq!(percentile(&[7u32], 0.99), 7);
        assert_eq!(percentile::<u32>(&[], 0.5), 0);
        let v: Vec<u32> = (1..=10).collect();
        assert_eq!(percentile(&v, 0.9), 9);
        assert_eq!(percentile(&v, 0.95), 10);
    }

    #[test]
    fn quantiles_sort_first() {
        let mut v = vec![0.3, 0.1, 0.2, 0.5, 0.4];
        let q = quantiles(&mut v);
        assert_eq!(q, Quantiles { count: 5, p50: 0.3, p90: 0.5, p99: 0.5, max: 0.5 });
        assert_eq!(quantiles(&mut []).count, 0);
    }

    #[test]
    fn running_means_every_container_started() {
        let p: PodLite = serde_json::from_value(json!({"metadata": {"name": "a", "resourceVersion": "5"},
            "spec": {"nodeName": "n"},
            "status": {"phase": "Running", "containerStatuses": [{"state": {"running": {"startedAt": "x"}}}, {"state": {"waiting": {}}}]}}))
        .unwrap();
        assert!(!p.is_running());
        assert!(p.bound());
        let p: PodLite = serde_json::from_value(json!({"status": {"phase": "Running", "containerStatuses": [{"state": {"running": {}}}]}})).unwrap();
        assert!(p.is_running());
        let p: PodLite = serde_json::from_value(json!({"kind": "Status", "code": 410})).unwrap();
        assert!(!p.is_running() && !p.bound());
    }

    #[test]
    fn kubeconfig_with_token() {
        let dir = std::env::temp_dir().join(format!("skiff-bench-kc-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("kc.yaml");
        std::fs::write(&p, "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:6443/\n    insecure-skip-tls-verify: true\nusers:\n- name: u\n  user:\n    token: abc\ncontexts:\n- name: x\n  context:\n    cluster: c\n    user: u\ncurrent-context: x\n").unwrap();
        let api = Api::from_kubeconfig(&p).unwrap();
        assert_eq!(api.base, "https://127.0.0.1:6443");
        assert_eq!(api.builder.token.as_deref(), Some("abc"));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn an_error_event_is_told_from_objects() {
        #[derive(Deserialize)]
        struct Ev<T> {
            #[serde(rename = "type")]
            kind: String,
            #[allow(dead_code)]
            object: T,
        }
        // A Status's "status" is a string, which a pod's status is not: the event must
        // still be seen as an ERROR (the watch then lists again).
        let line = br#"{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version","reason":"Expired","code":410}}"#;
        assert!(serde_json::from_slice::<Ev<PodLite>>(line).is_err());
        let v: Value = serde_json::from_slice(line).unwrap();
        assert_eq!((v["type"].as_str(), v["object"]["code"].as_i64()), (Some("ERROR"), Some(410)));
        let ok = br#"{"type":"ADDED","object":{"metadata":{"name":"p","resourceVersion":"7"},"status":{"phase":"Pending"}}}"#;
        assert_eq!(serde_json::from_slice::<Ev<PodLite>>(ok).unwrap().kind, "ADDED");
    }

    #[test]
    fn epoch_of_rfc3339() {
        assert_eq!(epoch_secs("1970-01-01T00:00:10Z"), Some(10.0));
        assert_eq!(epoch_secs("nonsense"), None);
    }

    #[test]
    fn report_renders_aligned() {
        let mut r = Report::new("density");
        r.row("a", "1".into(), "t");
        r.row("longer figure", "22".into(), "");
        let out = r.render();
        assert!(out.contains("  a              1         t\n"), "{out}");
    }
}
