//! `skiff-bench apiserver`: starts `skiff server` (SQLite store, HTTPS) on a temporary
//! data dir and measures: start to /readyz, idle RSS, pod creates/s and latency from 8
//! concurrent clients, listing 10,000 pods, watch delivery latency to 100 watchers, and
//! RSS with 100,000 small pods stored.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use serde_json::{json, Value};

use crate::common::{create_ns, create_pods, percentile, pod, start, Server};

pub async fn apiserver(skiff: &Path, creates: usize, stored: usize) -> Result<Value> {
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

