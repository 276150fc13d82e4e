//! `skiff-bench controllers`: the controller manager as its own process against
//! `skiff server --no-controllers --no-scheduler`.
//!
//! 1. A ReplicaSet of `replicas` pods: time from its creation until a watch has seen every
//!    pod created, and until its status counts them; the controller manager's RSS while
//!    it watches them.
//! 2. The garbage collector: the ReplicaSet deleted (Background), time until every pod
//!    is gone.
//! 3. A Deployment of `deployment_replicas` on `nodes` simulated nodes (`skiff agent
//!    --simulate`, with `skiff scheduler`): time until all are available, then a new
//!    image rolled out (25% surge and unavailability) until the rollout is complete.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use crate::common::proc_figures;
use crate::{create_ns, rss_mb, start, Server};

/// Reads a watch stream until `want` events of type `kind` were seen.
async fn count_events(mut resp: reqwest::Response, kind: &str, want: usize) -> Result<Instant> {
    let mut seen = 0;
    let mut buf = Vec::new();
    while seen < want {
        let Some(chunk) = resp.chunk().await? else { bail!("watch ended after {seen} {kind} events") };
        buf.extend_from_slice(&chunk);
        while let Some(pos) = buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buf.drain(..=pos).collect();
            let v: Value = serde_json::from_slice(&line)?;
            if v["type"] == kind {
                seen += 1;
            }
        }
    }
    Ok(Instant::now())
}

async fn get(c: &reqwest::Client, url: &str) -> Result<Value> {
    Ok(c.get(url).send().await?.json().await?)
}

/// Polls `url` until `done` holds; returns when.
async fn poll(c: &reqwest::Client, url: &str, limit: Duration, done: impl Fn(&Value) -> bool) -> Result<Instant> {
    let t0 = Instant::now();
    loop {
        if done(&get(c, url).await?) {
            return Ok(Instant::now());
        }
        if t0.elapsed() > limit {
            bail!("{url}: condition not met after {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn template(app: &str, image: &str) -> Value {
    json!({"metadata": {"labels": {"app": app}},
        "spec": {"containers": [{"name": "main", "image": image, "command": ["sleep", "3600"], "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}]}})
}

pub async fn controllers(skiff: &Path, replicas: usize, deployment_replicas: usize, nodes: usize) -> Result<Value> {
    let (server, _) = start(skiff, &["--no-scheduler", "--no-controllers"]).await?;
    let c = server.client()?;
    let kubeconfig = server.dir.join("kubeconfig.yaml");
    let mut cm = Command::new(skiff)
        .args(["controller-manager", "--kubeconfig"])
        .arg(&kubeconfig)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .context("starting skiff controller-manager")?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle = proc_figures(cm.id());
    let idle_rss = idle.rss_mb;
    println!("controller-manager idle RSS {idle_rss:.1} MB ({:.1} MB private, {:.1} MB the binary's code)", idle.private_mb, idle.rss_file_mb);

    let result = async {
        let figures = replicaset_run(&server, &c, replicas, cm.id()).await?;
        let rollout = deployment_run(&server, &c, skiff, deployment_replicas, nodes).await?;
        Ok::<_, anyhow::Error>((figures, rollout))
    }
    .await;
    let _ = cm.kill();
    let _ = cm.wait();
    let ((created_s, status_s, rss, private, cpu_s, gc_s), (available_s, rollout_s)) = result?;
    Ok(json!({
        "replicas": replicas, "all_pods_created_s": created_s, "pods_per_s": replicas as f64 / created_s,
        "status_replicas_s": status_s, "controller_manager_idle_rss_mb": idle_rss, "controller_manager_idle_private_mb": idle.private_mb,
        "controller_manager_rss_mb": rss, "controller_manager_private_mb": private, "controller_manager_cpu_s_for_creates": cpu_s,
        "gc_all_pods_deleted_s": gc_s,
        "deployment_replicas": deployment_replicas, "simulated_nodes": nodes,
        "deployment_all_available_s": available_s, "rolling_update_complete_s": rollout_s,
    }))
}

async fn replicaset_run(server: &Server, c: &reqwest::Client, replicas: usize, cm: u32) -> Result<(f64, f64, f64, f64, f64, f64)> {
    create_ns(c, &server.base, "rs").await?;
    let base = &server.base;
    let watch = c.get(format!("{base}/api/v1/namespaces/rs/pods?watch=true")).send().await?;
    let created = tokio::spawn(count_events(watch, "ADDED", replicas));
    let rs = json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "big", "namespace": "rs"},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "big"}}, "template": template("big", "busybox:1.36")}});
    let cpu0 = proc_figures(cm).cpu_s;
    let t0 = Instant::now();
    let r = c.post(format!("{base}/apis/apps/v1/namespaces/rs/replicasets")).json(&rs).send().await?;
    if !r.status().is_success() {
        bail!("create ReplicaSet: {}", r.status());
    }
    let created_at = tokio::time::timeout(Duration::from_secs(300), created).await???;
    let created_s = (created_at - t0).as_secs_f64();
    println!("ReplicaSet of {replicas}: all pods created in {created_s:.2} s ({:.0} pods/s)", replicas as f64 / created_s);
    let n = replicas as i64;
    let status_at = poll(c, &format!("{base}/apis/apps/v1/namespaces/rs/replicasets/big"), Duration::from_secs(120), |v| v["status"]["replicas"] == n).await?;
    let status_s = (status_at - t0).as_secs_f64();
    let cpu_s = proc_figures(cm).cpu_s - cpu0;
    println!("  status.replicas = {replicas} after {status_s:.2} s; controller-manager CPU {cpu_s:.2} s");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let busy = rss_mb(cm);
    // jemalloc returns freed pages after its decay time (10 s): the steady figure is later.
    tokio::time::sleep(Duration::from_secs(12)).await;
    let steady = proc_figures(cm);
    let rss = steady.rss_mb;
    println!("  controller-manager RSS watching {replicas} pods: {rss:.1} MB, {:.1} MB private ({busy:.1} MB just after the burst)", steady.private_mb);

    // A watch from now on: it sees the deletions only.
    let watch = c.get(format!("{base}/api/v1/namespaces/rs/pods?watch=true")).send().await?;
    let deleted = tokio::spawn(count_events(watch, "DELETED", replicas));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let t1 = Instant::now();
    let r = c.delete(format!("{base}/apis/apps/v1/namespaces/rs/replicasets/big")).json(&json!({"propagationPolicy": "Background"})).send().await?;
    if !r.status().is_success() {
        bail!("delete ReplicaSet: {}", r.status());
    }
    let gone_at = tokio::time::timeout(Duration::from_secs(600), deleted).await???;
    let gc_s = (gone_at - t1).as_secs_f64();
    println!("garbage collector: ReplicaSet deleted, all {replicas} pods gone {gc_s:.2} s later ({:.0} pods/s)", replicas as f64 / gc_s);
    Ok((created_s, status_s, rss, steady.private_mb, cpu_s, gc_s))
}

async fn deployment_run(server: &Server, c: &reqwest::Client, skiff: &Path, replicas: usize, nodes: usize) -> Result<(f64, f64)> {
    let mut scheduler = Command::new(skiff)
        .args(["scheduler", "--kubeconfig"])
        .arg(server.dir.join("kubeconfig.yaml"))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .context("starting skiff scheduler")?;
    let mut agents = Command::new(skiff)
        .args(["agent", "--kubeconfig"])
        .arg(server.dir.join("agent-kubeconfig.yaml"))
        .args(["--simulate", &nodes.to_string(), "--name-prefix", "sim-"])
        .arg("--data-dir")
        .arg(server.dir.join("agents"))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .context("starting skiff agent --simulate")?;
    let base = &server.base;
    let result = async {
        let n = nodes as i64;
        poll(c, &format!("{base}/api/v1/nodes"), Duration::from_secs(60), |v| {
            v["items"].as_array().map(|items| items.iter().filter(|node| node["spec"]["podCIDR"].is_string()).count() as i64) == Some(n)
        })
        .await?;
        create_ns(c, base, "deploy").await?;
        let url = format!("{base}/apis/apps/v1/namespaces/deploy/deployments");
        let d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "deploy"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}}, "template": template("web", "nginx:1.16")}});
        let t0 = Instant::now();
        let r = c.post(&url).json(&d).send().await?;
        if !r.status().is_success() {
            bail!("create Deployment: {}", r.status());
        }
        let r64 = replicas as i64;
        let complete = move |v: &Value| {
            let s = &v["status"];
            v["metadata"]["generation"].as_i64() <= s["observedGeneration"].as_i64()
                && s["updatedReplicas"] == r64
                && s["availableReplicas"] == r64
                && s["replicas"] == r64
        };
        let available_at = poll(c, &format!("{url}/web"), Duration::from_secs(300), complete).await?;
        let available_s = (available_at - t0).as_secs_f64();
        println!("Deployment of {replicas} on {nodes} simulated nodes: all available {available_s:.2} s after its creation");
        let t1 = Instant::now();
        let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "main", "image": "nginx:1.17"}]}}}});
        let r = c.patch(format!("{url}/web")).header("Content-Type", "application/strategic-merge-patch+json").json(&patch).send().await?;
        if !r.status().is_success() {
            bail!("patch Deployment: {}", r.status());
        }
        let done_at = poll(c, &format!("{url}/web"), Duration::from_secs(600), complete).await?;
        let rollout_s = (done_at - t1).as_secs_f64();
        println!("  rolling update to a new image (25% surge, 25% unavailable): complete in {rollout_s:.2} s");
        Ok::<_, anyhow::Error>((available_s, rollout_s))
    }
    .await;
    for child in [&mut scheduler, &mut agents] {
        let _ = child.kill();
        let _ = child.wait();
    }
    result
}
