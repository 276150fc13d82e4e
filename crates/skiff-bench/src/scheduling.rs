//! `skiff-bench scheduling`: 1,000 Node objects (no agents), `skiff scheduler` as its own
//! process, pods created from 8 clients while a watch counts bindings.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use crate::common::{create_ns, create_objects, rss_mb, start, Server};

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

pub async fn scheduling(skiff: &Path, nodes: usize, pods: usize, anti_pods: usize) -> Result<Value> {
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
