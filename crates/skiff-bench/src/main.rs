//! skiff-bench: benchmarks that print skiff's figures (docs/benchmarks.md).
//!
//! Each scenario is a module; what they share (the cluster under test, the kubeconfig
//! client, the reflector-style watch, /proc figures, percentiles, the table) is in
//! `common`. The cluster scenarios take `--kubeconfig` to run against any
//! Kubernetes-compatible cluster, or start `skiff server` and `skiff agent --simulate`
//! themselves.

mod api_latency;
mod apiserver;
mod batch;
mod common;
mod controllers;
mod density;
mod pod_startup;
mod restart;
mod rollout;
mod scheduling;
mod workloads;

use std::path::PathBuf;

// controllers.rs (the controllers' scenario) reaches these at the crate root.
pub(crate) use common::{create_ns, rss_mb, start, Server};

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "skiff-bench", about = "Benchmarks that print skiff's figures")]
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
    /// The controller manager as its own process: ReplicaSet pod creation, garbage
    /// collection, a Deployment's rollout on simulated nodes.
    Controllers {
        /// The skiff binary to run [default: next to this one]
        #[arg(long)]
        skiff: Option<PathBuf>,
        /// Replicas of the ReplicaSet.
        #[arg(long, default_value_t = 10_000)]
        replicas: usize,
        /// Replicas of the Deployment rolled out.
        #[arg(long, default_value_t = 1_000)]
        deployment_replicas: usize,
        /// Simulated nodes the Deployment runs on.
        #[arg(long, default_value_t = 50)]
        nodes: usize,
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// Simulated nodes, Deployments totalling M pods: startup latency, time until all Running.
    Density(density::Args),
    /// API call latency per verb and resource under a steady churn, on a loaded cluster.
    ApiLatency(api_latency::Args),
    /// A Deployment of 1,000 replicas changes its image: time to complete.
    Rollout(rollout::Args),
    /// kill -9 the server with 30,000 pods stored: time until /readyz and until watchers resync.
    Restart(restart::Args),
    /// The node agent: 100 real pods at 20/s on one node; agent and shim memory.
    PodStartup(pod_startup::Args),
    /// DaemonSet on 1,000 simulated nodes, then a StatefulSet of 1,000 with a claim per pod.
    Workloads(workloads::Args),
    /// A Job of 1,000 on one real node; 1,000 CronJobs every minute on simulated nodes.
    Batch(batch::Args),
}

fn skiff_or_sibling(skiff: Option<PathBuf>) -> Result<PathBuf> {
    match skiff {
        Some(s) => Ok(s),
        None => Ok(std::env::current_exe()?.with_file_name("skiff")),
    }
}

fn write_json(path: Option<PathBuf>, figures: &serde_json::Value) -> Result<()> {
    if let Some(p) = path {
        std::fs::write(p, serde_json::to_string_pretty(figures)?)?;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let scenario = Cli::parse().scenario;
    // Interrupted (Ctrl-C, SIGTERM): the scenario is dropped, and with it every process
    // it started.
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = run(scenario) => r,
        _ = tokio::signal::ctrl_c() => anyhow::bail!("interrupted"),
        _ = term.recv() => anyhow::bail!("terminated"),
    }
}

async fn run(scenario: Scenario) -> Result<()> {
    match scenario {
        Scenario::Apiserver { skiff, creates, stored, json } => {
            let figures = apiserver::apiserver(&skiff_or_sibling(skiff)?, creates, stored).await?;
            write_json(json, &figures)
        }
        Scenario::Scheduling { skiff, nodes, pods, anti_pods, json } => {
            let figures = scheduling::scheduling(&skiff_or_sibling(skiff)?, nodes, pods, anti_pods).await?;
            write_json(json, &figures)
        }
        Scenario::Controllers { skiff, replicas, deployment_replicas, nodes, json } => {
            let figures = controllers::controllers(&skiff_or_sibling(skiff)?, replicas, deployment_replicas, nodes).await?;
            write_json(json, &figures)
        }
        Scenario::Density(a) => density::run(a).await,
        Scenario::ApiLatency(a) => api_latency::run(a).await,
        Scenario::Rollout(a) => rollout::run(a).await,
        Scenario::Restart(a) => restart::run(a).await,
        Scenario::PodStartup(a) => pod_startup::run(a).await,
        Scenario::Workloads(a) => workloads::run(a).await,
        Scenario::Batch(a) => batch::run(a).await,
    }
}
