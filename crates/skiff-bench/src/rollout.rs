//! `skiff-bench rollout`: a Deployment of 1,000 replicas on simulated nodes changes its
//! image; the time until the rollout is complete as `kubectl rollout status` judges it
//! (observedGeneration caught up; updated, total and available replicas all equal the
//! desired count), and until the old pods are gone.

use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use serde::Deserialize;
use serde_json::json;

use crate::common::{cleanup, deployment, ready_nodes, run_namespace, Api, Common, Meta, Progress, Report, Target, PAUSE};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub common: Common,
    /// Simulated nodes to start (ignored with --kubeconfig).
    #[arg(long, default_value_t = 100)]
    pub nodes: usize,
    #[arg(long, default_value_t = 1_000)]
    pub replicas: usize,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default, rename_all = "camelCase")]
struct DeployLite {
    metadata: DeployMeta,
    status: DeployStatus,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default)]
struct DeployMeta {
    generation: i64,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default, rename_all = "camelCase")]
struct DeployStatus {
    observed_generation: i64,
    replicas: usize,
    updated_replicas: usize,
    ready_replicas: usize,
    available_replicas: usize,
}

impl DeployLite {
    /// `kubectl rollout status`'s test for a finished rollout.
    fn complete(&self, want: usize) -> bool {
        let s = &self.status;
        s.observed_generation >= self.metadata.generation && s.updated_replicas == want && s.replicas == want && s.available_replicas == want
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PodMetaOnly {
    metadata: Meta,
}

async fn wait_complete(api: &Api, path: &str, want: usize, what: &str) -> Result<Duration> {
    let t0 = Instant::now();
    let mut progress = Progress::new();
    loop {
        let d: DeployLite = serde_json::from_value(api.get(path).await?)?;
        let s = &d.status;
        progress.show(|| format!("{what}: {} updated, {} available, {} in all, of {want} ({:.0} s)", s.updated_replicas, s.available_replicas, s.replicas, t0.elapsed().as_secs_f64()));
        if d.complete(want) {
            progress.done(&format!("{what}: complete in {:.1} s", t0.elapsed().as_secs_f64()));
            return Ok(t0.elapsed());
        }
        if t0.elapsed() > Duration::from_secs(300) {
            bail!("{what}: not complete after 300 s: {:?}", d.status);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn run(args: Args) -> Result<()> {
    let fsync = crate::common::fsync_latency();
    let target = Target::new(&args.common, "rollout", args.nodes).await?;
    let api = &target.api;
    let nodes = ready_nodes(api).await?;
    let ns = run_namespace("rollout");
    api.ensure_namespace(&ns).await?;
    let path = format!("/apis/apps/v1/namespaces/{ns}/deployments/rollout");
    let cpu0 = target.baseline();
    eprintln!("rollout: a Deployment of {} replicas on {nodes} nodes", args.replicas);
    api.post(&format!("/apis/apps/v1/namespaces/{ns}/deployments"), &deployment(&ns, "rollout", args.replicas, PAUSE)).await?;
    let first = wait_complete(api, &path, args.replicas, "create").await?;

    // The new template: another image.
    api.merge_patch(&path, &json!({"spec": {"template": {"spec": {"containers": [{"name": "pause", "image": "registry.k8s.io/pause:3.9"}]}}}})).await?;
    let t0 = Instant::now();
    let rollout = wait_complete(api, &path, args.replicas, "rollout").await?;
    // Old pods are deleted gracefully: until they are gone too.
    let mut progress = Progress::new();
    let gone = loop {
        let (pods, _) = api.list_all::<PodMetaOnly>(&format!("/api/v1/namespaces/{ns}/pods")).await?;
        progress.show(|| format!("pods: {} (of which terminating {})", pods.len(), pods.iter().filter(|p| p.metadata.deletion_timestamp.is_some()).count()));
        if pods.len() == args.replicas {
            progress.done(&format!("old pods gone {:.1} s after the change", t0.elapsed().as_secs_f64()));
            break t0.elapsed();
        }
        if t0.elapsed() > Duration::from_secs(300) {
            bail!("{} pods left after 300 s", pods.len());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    let mut report = Report::new(&format!("rollout: a Deployment of {} replicas on {nodes} nodes changes its image", args.replicas));
    report.disk(&fsync);
    report.value("store", args.common.store.as_str());
    report.value("nodes", nodes);
    report.value("replicas", args.replicas);
    report.row(&format!("create: all {} replicas available", args.replicas), format!("{:.1} s", first.as_secs_f64()), "");
    report.value("create_s", first.as_secs_f64());
    report.row("rollout complete (kubectl rollout status)", format!("{:.1} s", rollout.as_secs_f64()), "");
    report.value("rollout_s", rollout.as_secs_f64());
    report.row("  and every old pod gone", format!("{:.1} s", gone.as_secs_f64()), "");
    report.value("old_pods_gone_s", gone.as_secs_f64());
    target.resources(&mut report, &cpu0);
    if target.own.is_none() {
        let bg = json!({"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"});
        let _ = api.delete(&path, Some(&bg)).await;
    }
    cleanup(&target, &ns).await;
    report.finish(args.common.json.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complete_as_kubectl_rollout_status_says() {
        let d = |gen: i64, obs: i64, replicas: usize, updated: usize, available: usize| DeployLite {
            metadata: DeployMeta { generation: gen },
            status: DeployStatus { observed_generation: obs, replicas, updated_replicas: updated, ready_replicas: available, available_replicas: available },
        };
        assert!(d(2, 2, 10, 10, 10).complete(10));
        assert!(!d(2, 1, 10, 10, 10).complete(10), "old generation observed");
        assert!(!d(2, 2, 12, 10, 10).complete(10), "old replicas left");
        assert!(!d(2, 2, 10, 10, 9).complete(10), "one not available");
    }
}
