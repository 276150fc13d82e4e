//! `skiff-bench api-latency`: API call latency per verb and resource under a steady churn,
//! on a cluster loaded as `density` leaves it (by default 1,000 simulated nodes and
//! 30,000 pods).
//!
//! The churn: `--rate` objects a second (pods and ConfigMaps in turn) in a namespace of
//! their own. Each object is created (POST), read (GET), labelled (PATCH, merge patch),
//! a ConfigMap is also replaced (PUT), and `--lifetime` seconds after its creation it is
//! deleted (DELETE; pods gracefully, the nodes complete it). Once a second the reads a
//! controller or kubectl makes: LIST of the churn namespace's pods and ConfigMaps, LIST of
//! every node (cluster scope), GET of a node. Every call is timed from send to the last
//! byte of the answer, like upstream's apiserver_request_duration_seconds, but measured
//! by the client (on the same 2 cores as the server).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use serde_json::{json, Value};

use crate::common::{cleanup, quantiles, ready_nodes, run_namespace, Api, Common, Progress, Report, Target};
use crate::density;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub common: Common,
    /// Simulated nodes to start (ignored with --kubeconfig).
    #[arg(long, default_value_t = 1_000)]
    pub nodes: usize,
    /// Pods created (in Deployments) before the churn starts, as background load.
    #[arg(long, default_value_t = 30_000)]
    pub pods: usize,
    #[arg(long, default_value_t = 30)]
    pub deployments: usize,
    /// Objects created (and later deleted) per second.
    #[arg(long, default_value_t = 20.0)]
    pub rate: f64,
    /// Seconds of churn.
    #[arg(long, default_value_t = 60)]
    pub duration: u64,
    /// Seconds each churned object lives.
    #[arg(long, default_value_t = 10)]
    pub lifetime: u64,
}

/// Latencies in seconds per call kind ("POST pods"), and failures.
#[derive(Default)]
struct Calls {
    ok: BTreeMap<String, Vec<f64>>,
    failed: BTreeMap<String, usize>,
}

type Shared = Arc<Mutex<Calls>>;

/// Sends one call, timing it to the last byte of the answer.
async fn call(calls: &Shared, key: &str, req: reqwest::RequestBuilder) -> Option<Value> {
    let t = Instant::now();
    let result = async {
        let r = req.send().await?;
        let status = r.status();
        let body = r.bytes().await?;
        Ok::<_, reqwest::Error>((status, body))
    }
    .await;
    let took = t.elapsed().as_secs_f64();
    let mut c = calls.lock().expect("calls");
    match result {
        Ok((status, body)) if status.is_success() => {
            c.ok.entry(key.to_string()).or_default().push(took);
            Some(serde_json::from_slice(&body).unwrap_or(Value::Null))
        }
        Ok((status, body)) => {
            *c.failed.entry(key.to_string()).or_default() += 1;
            if c.failed[key] <= 3 {
                eprintln!("\n  {key}: {status}: {}", String::from_utf8_lossy(&body).chars().take(200).collect::<String>());
            }
            None
        }
        Err(e) => {
            *c.failed.entry(key.to_string()).or_default() += 1;
            if c.failed[key] <= 3 {
                eprintln!("\n  {key}: {e}");
            }
            None
        }
    }
}

fn object(ns: &str, i: usize) -> (&'static str, String, Value) {
    let name = format!("churn-{i}");
    if i.is_multiple_of(2) {
        let body = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns, "labels": {"churn": "true"}}, "data": {"key": "value", "n": i.to_string()}});
        ("configmaps", name, body)
    } else {
        let body = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns, "labels": {"churn": "true"}},
            "spec": {"containers": [{"name": "pause", "image": crate::common::PAUSE}]}});
        ("pods", name, body)
    }
}

/// One churned object's life.
async fn churn_one(api: Api, calls: Shared, ns: String, i: usize, lifetime: Duration) {
    let born = Instant::now();
    let (resource, name, body) = object(&ns, i);
    let coll = api.url(&format!("/api/v1/namespaces/{ns}/{resource}"));
    let item = format!("{coll}/{name}");
    if call(&calls, &format!("POST {resource}"), api.client.post(&coll).json(&body)).await.is_none() {
        return;
    }
    let got = call(&calls, &format!("GET {resource}"), api.client.get(&item)).await;
    let patch = json!({"metadata": {"labels": {"patched": "true"}}}).to_string();
    let patched = call(&calls, &format!("PATCH {resource}"), api.client.patch(&item).header("Content-Type", "application/merge-patch+json").body(patch)).await;
    if resource == "configmaps" {
        if let Some(mut cm) = patched.or(got) {
            cm["data"]["updated"] = json!("true");
            call(&calls, "PUT configmaps", api.client.put(&item).json(&cm)).await;
        }
    }
    tokio::time::sleep_until((born + lifetime).into()).await;
    call(&calls, &format!("DELETE {resource}"), api.client.delete(&item)).await;
}

/// The reads made once a second.
async fn reads(api: Api, calls: Shared, ns: String, until: Instant, node: String) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    while Instant::now() < until {
        tick.tick().await;
        call(&calls, "LIST pods (namespace)", api.client.get(api.url(&format!("/api/v1/namespaces/{ns}/pods")))).await;
        call(&calls, "LIST configmaps (namespace)", api.client.get(api.url(&format!("/api/v1/namespaces/{ns}/configmaps")))).await;
        call(&calls, "LIST nodes (cluster)", api.client.get(api.url("/api/v1/nodes"))).await;
        if !node.is_empty() {
            call(&calls, "GET nodes", api.client.get(api.url(&format!("/api/v1/nodes/{node}")))).await;
        }
    }
}

pub async fn run(args: Args) -> Result<()> {
    let fsync = crate::common::fsync_latency();
    let target = Target::new(&args.common, "api-latency", args.nodes).await?;
    let api = target.api.clone();
    let nodes = ready_nodes(&api).await?;
    let bg_ns = run_namespace("api-bg");
    if args.pods > 0 {
        eprintln!("api-latency: background load of {} pods on {nodes} nodes", args.pods);
        density::fill(&api, &bg_ns, args.pods, args.deployments).await?;
    }
    let ns = run_namespace("api-churn");
    api.ensure_namespace(&ns).await?;
    let node = api.get("/api/v1/nodes?limit=1").await?["items"][0]["metadata"]["name"].as_str().unwrap_or("").to_string();
    let calls: Shared = Default::default();
    let cpu0 = target.baseline();
    let lifetime = Duration::from_secs(args.lifetime);
    let t0 = Instant::now();
    let until = t0 + Duration::from_secs(args.duration);
    eprintln!("  churn: {} objects/s for {} s (each lives {} s)", args.rate, args.duration, args.lifetime);
    let reader = tokio::spawn(reads(api.fresh()?, calls.clone(), ns.clone(), until, node));
    let mut tasks = Vec::new();
    let mut progress = Progress::new();
    let period = Duration::from_secs_f64(1.0 / args.rate.max(0.001));
    let mut i = 0usize;
    while Instant::now() < until {
        let at = t0 + period.mul_f64(i as f64);
        tokio::time::sleep_until(at.into()).await;
        tasks.push(tokio::spawn(churn_one(api.clone(), calls.clone(), ns.clone(), i, lifetime)));
        i += 1;
        progress.show(|| {
            let c = calls.lock().expect("calls");
            format!("{i} objects created, {} calls, {} failed ({:.0} s)", c.ok.values().map(Vec::len).sum::<usize>(), c.failed.values().sum::<usize>(), t0.elapsed().as_secs_f64())
        });
    }
    for t in tasks {
        let _ = t.await;
    }
    let _ = reader.await;
    progress.done(&format!("{i} objects created and deleted in {:.0} s", t0.elapsed().as_secs_f64()));

    let mut report = Report::new(&format!("api-latency: {} objects/s for {} s, on {nodes} nodes with {} pods", args.rate, args.duration, args.pods));
    report.disk(&fsync);
    report.value("store", args.common.store.as_str());
    report.value("nodes", nodes);
    report.value("background_pods", args.pods);
    report.value("rate", args.rate);
    // Taken out of the mutex: nothing holds it across the awaits below.
    let c = std::mem::take(&mut *calls.lock().expect("calls"));
    let mut worst = 0.0f64;
    let mut per = serde_json::Map::new();
    for (key, lat) in &c.ok {
        let mut lat = lat.clone();
        let q = quantiles(&mut lat);
        worst = worst.max(q.p99);
        let failed = c.failed.get(key).copied().unwrap_or(0);
        let fail = if failed > 0 { format!(", {failed} failed") } else { String::new() };
        report.row(key, format!("{} calls: p50 {:.1} ms, p99 {:.1} ms (max {:.1} ms){fail}", q.count, q.p50 * 1e3, q.p99 * 1e3, q.max * 1e3), "p99 < 50 ms");
        let mut j = q.json();
        j["failed"] = json!(failed);
        per.insert(key.clone(), j);
    }
    for (key, n) in c.failed.iter().filter(|(k, _)| !c.ok.contains_key(*k)) {
        report.row(key, format!("all {n} failed"), "");
    }
    report.value("calls", Value::Object(per));
    report.row("worst p99 of any verb", format!("{:.1} ms", worst * 1e3), "< 50 ms");
    report.value("worst_p99_s", worst);
    target.resources(&mut report, &cpu0);
    if target.own.is_none() {
        let _ = api.delete(&format!("/api/v1/namespaces/{ns}"), None).await;
        if args.pods > 0 {
            density::delete_all(&api, &bg_ns).await.ok();
        }
    }
    cleanup(&target, &bg_ns).await;
    if c.ok.is_empty() {
        bail!("no call succeeded");
    }
    report.finish(args.common.json.as_deref())
}
