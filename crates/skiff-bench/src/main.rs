//! skiff-bench: benchmarks that print skiff's figures.
//!
//! `skiff-bench apiserver` starts `skiff server` (SQLite store, HTTPS) on a temporary
//! data dir and measures: start to /readyz, idle RSS, pod creates/s and latency from 8
//! concurrent clients, listing 10,000 pods, watch delivery latency to 100 watchers, and
//! RSS with 100,000 small pods stored.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use serde_json::{json, Value};

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand)]
enum Scenario {
    /// API server figures against a freshly started `skiff server`.
    Apiserver {
        /// The skiff binary to run [default: next to this one]
        #[arg(long)]
        skiff: Option<PathBuf>,
        /// Pods created by the 8 concurrent clients.
        #[arg(long, default_value_t = 20_000)]
        creates: usize,
        /// Pods stored for the memory figure.
        #[arg(long, default_value_t = 100_000)]
        stored: usize,
        /// Write the figures as JSON here too.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// Scheduler throughput: Node objects only (no agents), pods bound through the API.
    Scheduling {
        /// The skiff binary to run [default: next to this one]
        #[arg(long)]
        skiff: Option<PathBuf>,
        #[arg(long, default_value_t = 1_000)]
        nodes: usize,
        /// Plain pods.
        #[arg(long, default_value_t = 10_000)]
        pods: usize,
        /// Pods with required anti-affinity (10 groups, one pod per group per node).
        #[arg(long, default_value_t = 5_000)]
        anti_pods: usize,
        #[arg(long)]
        json: Option<PathBuf>,
    },
}

#[tokio::main]
async fn main() -> Result<()> {
    match Cli::parse().scenario {
        Scenario::Apiserver { skiff, creates, stored, json } => {
            let skiff = match skiff {
                Some(s) => s,
                None => std::env::current_exe()?.with_file_name("skiff"),
            };
            let figures = apiserver(&skiff, creates, stored).await?;
            if let Some(p) = json {
                std::fs::write(p, serde_json::to_string_pretty(&figures)?)?;
            }
            Ok(())
        }
        Scenario::Scheduling { skiff, nodes, pods, anti_pods, json } => {
            let skiff = match skiff {
                Some(s) => s,
                None => std::env::current_exe()?.with_file_name("skiff"),
            };
            let figures = scheduling(&skiff, nodes, pods, anti_pods).await?;
            if let Some(p) = json {
                std::fs::write(p, serde_json::to_string_pretty(&figures)?)?;
            }
            Ok(())
        }
    }
}

struct Server {
    child: Child,
    dir: PathBuf,
    base: String,
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
    fn rss_mb(&self) -> f64 {
        rss_mb(self.child.id())
    }

    fn client(&self) -> Result<reqwest::Client> {
        let ca = reqwest::Certificate::from_pem(self.ca.as_bytes())?;
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(reqwest::header::AUTHORIZATION, format!("Bearer {}", self.token).parse()?);
        Ok(reqwest::Client::builder().add_root_certificate(ca).default_headers(headers).build()?)
    }
}

fn rss_mb(pid: u32) -> f64 {
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
async fn start(skiff: &Path, extra: &[&str]) -> Result<(Server, Duration)> {
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

async fn wait_for_file(p: &Path, mut child: Child) -> Result<()> {
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

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn pod(ns: &str, name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns, "labels": {"app": "bench"}},
        "spec": {"containers": [{"name": "main", "image": "busybox:1.36", "command": ["sleep", "3600"]}]}})
}

async fn create_ns(c: &reqwest::Client, base: &str, ns: &str) -> Result<()> {
    let r = c.post(format!("{base}/api/v1/namespaces")).json(&json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":ns}})).send().await?;
    if !r.status().is_success() {
        bail!("create namespace {ns}: {}", r.status());
    }
    Ok(())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

/// Creates `total` pods in `ns` from `clients` concurrent clients; returns latencies and wall time.
async fn create_pods(server: &Server, ns: &str, total: usize, clients: usize, offset: usize) -> Result<(Vec<Duration>, Duration)> {
    let ns = ns.to_string();
    let path = format!("/api/v1/namespaces/{ns}/pods");
    create_objects(server, &path, total, clients, move |i| pod(&ns, &format!("p{}", i + offset))).await
}

/// Creates `total` objects made by `make(i)` with POSTs to `path` from `clients` concurrent clients.
async fn create_objects<F>(server: &Server, path: &str, total: usize, clients: usize, make: F) -> Result<(Vec<Duration>, Duration)>
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

async fn apiserver(skiff: &Path, creates: usize, stored: usize) -> Result<Value> {
    // The API server alone: no scheduler reacting to the pods created.
    let (server, ready) = start(skiff, &["--no-scheduler"]).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle_rss = server.rss_mb();
    let c = server.client()?;
    println!("start to /readyz: {:.0} ms, idle RSS {:.1} MB", ready.as_secs_f64() * 1000.0, idle_rss);

    create_ns(&c, &server.base, "bench").await?;
    eprintln!("creating {creates} pods from 8 clients...");
    let (lat, wall) = create_pods(&server, "bench", creates, 8, 0).await?;
    let rate = creates as f64 / wall.as_secs_f64();
    let (p50, p99) = (percentile(&lat, 0.5), percentile(&lat, 0.99));
    println!("creates: {rate:.0} pods/s, p50 {:.2} ms, p99 {:.2} ms", p50.as_secs_f64() * 1e3, p99.as_secs_f64() * 1e3);

    // Listing 10,000 pods: a namespace holding exactly that many.
    create_ns(&c, &server.base, "list").await?;
    create_pods(&server, "list", 10_000, 8, 0).await?;
    let mut lists = Vec::new();
    for _ in 0..7 {
        let t = Instant::now();
        let body = c.get(format!("{}/api/v1/namespaces/list/pods", server.base)).send().await?.bytes().await?;
        lists.push(t.elapsed());
        let v: Value = serde_json::from_slice(&body)?;
        if v["items"].as_array().map(Vec::len) != Some(10_000) {
            bail!("list returned {} items", v["items"].as_array().map(Vec::len).unwrap_or(0));
        }
    }
    lists.sort();
    let list_ms = percentile(&lists, 0.5).as_secs_f64() * 1e3;
    println!("list 10,000 pods: {list_ms:.1} ms (median of 7, full JSON)");
    // What `kubectl get pods` asks for: a server-side Table.
    let mut tables = Vec::new();
    for _ in 0..7 {
        let t = Instant::now();
        let body = c
            .get(format!("{}/api/v1/namespaces/list/pods", server.base))
            .header("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json")
            .send()
            .await?
            .bytes()
            .await?;
        tables.push(t.elapsed());
        let v: Value = serde_json::from_slice(&body)?;
        if v["rows"].as_array().map(Vec::len) != Some(10_000) {
            bail!("table list returned {} rows", v["rows"].as_array().map(Vec::len).unwrap_or(0));
        }
    }
    tables.sort();
    let table_ms = percentile(&tables, 0.5).as_secs_f64() * 1e3;
    println!("list 10,000 pods as a Table (kubectl get): {table_ms:.1} ms (median of 7)");

    let watch = watch_latency(&server, 100, 200).await?;
    println!("100 watchers: event delivery p50 {:.2} ms, p99 {:.2} ms", watch.0.as_secs_f64() * 1e3, watch.1.as_secs_f64() * 1e3);

    let have = creates + 10_000 + 200;
    if stored > have {
        eprintln!("filling to {stored} stored pods...");
        create_ns(&c, &server.base, "fill").await?;
        create_pods(&server, "fill", stored - have, 8, 0).await?;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let full_rss = server.rss_mb();
    let db = std::fs::metadata(server.dir.join("state.db")).map(|m| m.len()).unwrap_or(0) as f64 / 1048576.0;
    println!("RSS with {stored} pods stored: {full_rss:.1} MB (state.db {db:.0} MB)");

    Ok(json!({
        "start_to_readyz_ms": ready.as_secs_f64() * 1e3,
        "idle_rss_mb": idle_rss,
        "creates_per_s": rate,
        "create_p50_ms": p50.as_secs_f64() * 1e3,
        "create_p99_ms": p99.as_secs_f64() * 1e3,
        "list_10000_pods_ms": list_ms,
        "list_10000_pods_table_ms": table_ms,
        "watch_p50_ms": watch.0.as_secs_f64() * 1e3,
        "watch_p99_ms": watch.1.as_secs_f64() * 1e3,
        "stored_pods": stored,
        "rss_stored_mb": full_rss,
        "db_mb": db,
    }))
}

/// Opens `watchers` watches, creates `events` pods one by one, and measures from the
/// moment each create was sent to when each watcher saw the pod.
async fn watch_latency(server: &Server, watchers: usize, events: usize) -> Result<(Duration, Duration)> {
    let c = server.client()?;
    create_ns(&c, &server.base, "watch").await?;
    let sent = Arc::new(SendTimes::new(events));
    let mut tasks = Vec::new();
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel::<()>(watchers);
    for _ in 0..watchers {
        let c = server.client()?;
        let base = server.base.clone();
        let sent = sent.clone();
        let ready_tx = ready_tx.clone();
        tasks.push(tokio::spawn(async move {
            let mut resp = c.get(format!("{base}/api/v1/namespaces/watch/pods?watch=true")).send().await?;
            ready_tx.send(()).await.ok();
            let mut lat = Vec::new();
            let mut buf = Vec::new();
            while lat.len() < events {
                let Some(chunk) = resp.chunk().await? else { break };
                buf.extend_from_slice(&chunk);
                while let Some(pos) = buf.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = buf.drain(..=pos).collect();
                    let seen = Instant::now();
                    let v: Value = serde_json::from_slice(&line)?;
                    if v["type"] != "ADDED" {
                        continue;
                    }
                    let name = v["object"]["metadata"]["name"].as_str().unwrap_or("");
                    if let Some(i) = name.strip_prefix('w').and_then(|n| n.parse::<usize>().ok()) {
                        if let Some(t) = sent.get(i) {
                            lat.push(seen.saturating_duration_since(t));
                        }
                    }
                }
            }
            Ok::<_, anyhow::Error>(lat)
        }));
    }
    for _ in 0..watchers {
        ready_rx.recv().await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    for i in 0..events {
        sent.set(i, Instant::now());
        let r = c.post(format!("{}/api/v1/namespaces/watch/pods", server.base)).json(&pod("watch", &format!("w{i}"))).send().await?;
        r.bytes().await?;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(tokio::time::timeout(Duration::from_secs(30), t).await???);
    }
    all.sort();
    if all.len() < watchers * events {
        bail!("watchers saw {} of {} events", all.len(), watchers * events);
    }
    Ok((percentile(&all, 0.5), percentile(&all, 0.99)))
}

/// When each create of the watch benchmark was sent, by pod index.
struct SendTimes(std::sync::Mutex<Vec<Option<Instant>>>);

impl SendTimes {
    fn new(n: usize) -> SendTimes {
        SendTimes(std::sync::Mutex::new(vec![None; n]))
    }
    fn set(&self, i: usize, t: Instant) {
        if let Ok(mut v) = self.0.lock() {
            v[i] = Some(t);
        }
    }
    fn get(&self, i: usize) -> Option<Instant> {
        self.0.lock().ok().and_then(|v| v.get(i).copied().flatten())
    }
}

fn sched_node(i: usize) -> Value {
    let name = format!("node-{i:04}");
    json!({"apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "topology.kubernetes.io/zone": format!("zone-{}", i % 3)}},
        "status": {"capacity": {"cpu": "32", "memory": "256Gi", "pods": "110"}, "allocatable": {"cpu": "32", "memory": "256Gi", "pods": "110"},
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "ready"}]}})
}

fn sched_pod(ns: &str, i: usize, anti_groups: Option<usize>) -> Value {
    let mut p = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": format!("p{i}"), "namespace": ns, "labels": {"app": "bench"}},
        "spec": {"containers": [{"name": "c", "image": "busybox", "resources": {"requests": {"cpu": "100m", "memory": "100Mi"}}}]}});
    if let Some(groups) = anti_groups {
        let group = format!("g{}", i % groups);
        p["metadata"]["labels"]["group"] = json!(group);
        p["spec"]["affinity"] = json!({"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
            {"labelSelector": {"matchLabels": {"group": group}}, "topologyKey": "kubernetes.io/hostname"}]}});
    }
    p
}

/// Creates pods in `ns` while a watch counts bindings; returns (pods/s from first
/// create to last binding, seconds until all were bound).
async fn bind_run(server: &Server, ns: &str, total: usize, anti_groups: Option<usize>) -> Result<(f64, f64)> {
    let c = server.client()?;
    create_ns(&c, &server.base, ns).await?;
    let mut resp = c.get(format!("{}/api/v1/namespaces/{ns}/pods?watch=true", server.base)).send().await?;
    let t0 = Instant::now();
    let ns_owned = ns.to_string();
    let path = format!("/api/v1/namespaces/{ns}/pods");
    let creator = create_objects(server, &path, total, 8, move |i| sched_pod(&ns_owned, i, anti_groups));
    let counter = async {
        let mut bound = std::collections::HashSet::new();
        let mut buf = Vec::new();
        let mut last = 0usize;
        while bound.len() < total {
            let Some(chunk) = tokio::time::timeout(Duration::from_secs(60), resp.chunk()).await?? else { bail!("watch ended") };
            buf.extend_from_slice(&chunk);
            while let Some(pos) = buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = buf.drain(..=pos).collect();
                let v: Value = serde_json::from_slice(&line)?;
                if v["object"]["spec"]["nodeName"].is_string() {
                    if let Some(n) = v["object"]["metadata"]["name"].as_str() {
                        bound.insert(n.to_string());
                    }
                }
            }
            if bound.len() / 1000 > last {
                last = bound.len() / 1000;
                eprint!("\r  {} / {total} bound", bound.len());
            }
        }
        eprintln!();
        Ok::<_, anyhow::Error>(t0.elapsed())
    };
    let (created, all_bound) = tokio::join!(creator, counter);
    created?;
    let secs = all_bound?.as_secs_f64();
    Ok((total as f64 / secs, secs))
}

async fn scheduling(skiff: &Path, nodes: usize, pods: usize, anti_pods: usize) -> Result<Value> {
    let (server, _) = start(skiff, &["--no-scheduler"]).await?;
    eprintln!("creating {nodes} nodes...");
    create_objects(&server, "/api/v1/nodes", nodes, 8, sched_node).await?;
    let mut scheduler = Command::new(skiff)
        .args(["scheduler", "--kubeconfig"])
        .arg(server.dir.join("kubeconfig.yaml"))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .context("starting skiff scheduler")?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    eprintln!("{pods} plain pods...");
    let (plain_rate, plain_secs) = bind_run(&server, "plain", pods, None).await?;
    println!("scheduling {pods} pods on {nodes} nodes: {plain_rate:.0} pods/s (all bound {plain_secs:.1} s after the first create)");
    eprintln!("{anti_pods} pods with required anti-affinity...");
    let (anti_rate, anti_secs) = bind_run(&server, "anti", anti_pods, Some(10)).await?;
    println!("scheduling {anti_pods} pods with required pod anti-affinity: {anti_rate:.0} pods/s (all bound {anti_secs:.1} s)");
    let sched_rss = rss_mb(scheduler.id());
    let server_rss = server.rss_mb();
    println!("scheduler RSS {sched_rss:.1} MB; API server RSS {server_rss:.1} MB");
    let _ = scheduler.kill();
    let _ = scheduler.wait();
    Ok(json!({"nodes": nodes, "pods": pods, "plain_pods_per_s": plain_rate, "plain_all_bound_s": plain_secs,
        "anti_pods": anti_pods, "anti_pods_per_s": anti_rate, "anti_all_bound_s": anti_secs,
        "scheduler_rss_mb": sched_rss, "apiserver_rss_mb": server_rss}))
}
