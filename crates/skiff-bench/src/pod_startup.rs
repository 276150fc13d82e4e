//! `skiff-bench pod-startup` (the node agent's figures): pods that really run.
//!
//! 1. One real node: `skiff server` with its embedded agent (process runtime). 100 pods
//!    (`sleep 3600`) created at 20 pods/s; startup latency p50/p90/p99 from creation to
//!    Running, both seen by a watch.
//! 2. The agent's memory: `skiff server --no-agent` and `skiff agent` as its own process.
//!    Its RSS idle (no pods), and with the 100 pods running, so per-pod agent memory; and
//!    the memory of one container shim (`skiff container-shim`, one per container),
//!    reported separately.
//!
//! Afterwards `skiff reset --data-dir` removes every pod the agents left behind. With
//! --kubeconfig only the first part runs, on whatever nodes that cluster has.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result};
use serde_json::json;

use crate::common::{self, percentile, proc_figures, wait_nodes, Api, Common, OwnCluster, Proc, ProcFigures, Report};
use crate::density;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub common: Common,
    #[arg(long, default_value_t = 100)]
    pub pods: usize,
    /// Pods created per second.
    #[arg(long, default_value_t = 20.0)]
    pub rate: f64,
}

fn sleep_pod(ns: &str, i: usize) -> serde_json::Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": format!("sleep-{i}"), "namespace": ns, "labels": {"skiff-bench": "true"}},
        "spec": {"terminationGracePeriodSeconds": 1, "containers": [{"name": "sleep", "image": "busybox", "command": ["sleep", "3600"]}]}})
}

/// Creates `pods` pods at `rate` a second and waits until all are Running.
async fn startup_run(api: &Api, ns: &str, pods: usize, rate: f64) -> Result<density::Startup> {
    density::paced(api, ns, pods, rate, |i| sleep_pod(ns, i)).await
}

/// Every `skiff container-shim` process of containers under `data_dir`.
fn shims(data_dir: &Path) -> Vec<u32> {
    let prefix = data_dir.to_string_lossy().to_string();
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
        let Ok(cmd) = std::fs::read(e.path().join("cmdline")) else { continue };
        let args: Vec<String> = cmd.split(|b| *b == 0).map(|a| String::from_utf8_lossy(a).into_owned()).collect();
        if args.get(1).map(String::as_str) == Some("container-shim") && args.get(2).is_some_and(|d| d.starts_with(&prefix)) {
            out.push(pid);
        }
    }
    out
}

fn reset(skiff: &Path, agent_dir: &Path) {
    let status = Command::new(skiff).arg("reset").arg("--data-dir").arg(agent_dir).stdout(Stdio::null()).stderr(Stdio::inherit()).status();
    if !status.is_ok_and(|s| s.success()) {
        eprintln!("  warning: skiff reset --data-dir {} failed", agent_dir.display());
    }
}

/// Stops the cluster's processes, then removes the pods its agent left running.
pub(crate) fn stop(mut c: OwnCluster, agent: Option<Proc>, agent_dir: &Path) {
    drop(agent);
    c.server.take();
    reset(&c.skiff.clone(), agent_dir);
    drop(c);
}

pub async fn run(args: Args) -> Result<()> {
    let fsync = crate::common::fsync_latency();
    let mut report = Report::new(&format!("pod-startup: {} pods (sleep 3600) at {} pods/s on one node, process runtime", args.pods, args.rate));
    report.disk(&fsync);
    report.value("pods", args.pods);
    report.value("rate", args.rate);

    if let Some(kc) = &args.common.kubeconfig {
        let api = Api::from_kubeconfig(kc)?;
        let ns = common::run_namespace("startup");
        let s = startup_run(&api, &ns, args.pods, args.rate).await?;
        density::startup_rows(&mut report, &s, "p99 < 1 s");
        let _ = api.delete(&format!("/api/v1/namespaces/{ns}/pods?labelSelector=skiff-bench%3Dtrue"), None).await;
        let _ = api.delete(&format!("/api/v1/namespaces/{ns}"), None).await;
        return report.finish(args.common.json.as_deref());
    }
    let skiff = args.common.skiff()?;

    // 1. The README's one-command cluster: server with its embedded agent.
    eprintln!("pod-startup: skiff server with its embedded agent");
    let c = OwnCluster::start(&skiff, "startup", &["--cluster-cidr", "10.98.0.0/16"]).await?;
    let agent_dir = c.dir.join("agent");
    let result = async {
        let api = c.api()?;
        wait_nodes(&api, 1, None, true).await?;
        startup_run(&api, "default", args.pods, args.rate).await
    }
    .await;
    stop(c, None, &agent_dir);
    let s = result?;
    density::startup_rows(&mut report, &s, "p99 < 1 s");
    report.row("all Running, from the first create", format!("{:.2} s", s.all_running.as_secs_f64()), "");
    report.value("all_running_s", s.all_running.as_secs_f64());

    // 2. The agent as a process of its own.
    eprintln!("pod-startup: skiff server --no-agent + skiff agent");
    let c = OwnCluster::start(&skiff, "agent", &["--no-agent", "--cluster-cidr", "10.97.0.0/16"]).await?;
    let agent_dir: PathBuf = c.dir.join("node");
    let child = Command::new(&skiff)
        .args(["agent", "--kubeconfig"])
        .arg(c.agent_kubeconfig())
        .args(["--node-name", "skiff-bench-node", "--data-dir"])
        .arg(&agent_dir)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .context("starting skiff agent")?;
    let agent = Proc { child };
    let pid = agent.pid();
    let result = async {
        let api = c.api()?;
        wait_nodes(&api, 1, None, true).await?;
        // Idle: registered, lease renewed, nothing to run.
        tokio::time::sleep(Duration::from_secs(5)).await;
        let idle = proc_figures(pid);
        let cpu0 = idle.cpu_s;
        let s2 = startup_run(&api, "default", args.pods, args.rate).await?;
        tokio::time::sleep(Duration::from_secs(5)).await;
        let busy = proc_figures(pid);
        let shim_pids = shims(&agent_dir);
        let mut shim_figs: Vec<ProcFigures> = shim_pids.iter().map(|p| proc_figures(*p)).collect();
        shim_figs.sort_by(|a, b| a.rss_mb.total_cmp(&b.rss_mb));
        Ok::<_, anyhow::Error>((idle, busy, busy.cpu_s - cpu0, s2, shim_figs))
    }
    .await;
    stop(c, Some(agent), &agent_dir);
    let (idle, busy, cpu, s2, shim_figs) = result?;

    density::prefixed_startup_rows(&mut report, &s2, "p99 < 1 s", "agent process: ", "agent_process_");
    report.row("agent idle RSS (no pods)", format!("{:.1} MB (private {:.1} MB, {:.1} MB file-backed)", idle.rss_mb, idle.private_mb, idle.rss_file_mb), "< 15 MB");
    report.value("agent_idle_rss_file_mb", idle.rss_file_mb);
    report.value("agent_idle_rss_mb", idle.rss_mb);
    report.value("agent_idle_private_mb", idle.private_mb);
    report.row(&format!("agent RSS with {} pods running", args.pods), format!("{:.1} MB (private {:.1} MB)", busy.rss_mb, busy.private_mb), "");
    report.value("agent_busy_rss_mb", busy.rss_mb);
    report.value("agent_busy_private_mb", busy.private_mb);
    let per_pod = (busy.rss_mb - idle.rss_mb) / args.pods.max(1) as f64;
    report.row("agent memory per running pod", format!("{:.0} KB", per_pod * 1024.0), "< 1 MB");
    report.value("agent_per_pod_mb", per_pod);
    report.row(&format!("agent CPU to start {} pods", args.pods), format!("{cpu:.2} s"), "");
    report.value("agent_start_cpu_s", cpu);
    if shim_figs.is_empty() {
        report.row("container shim", "none found".to_string(), "");
    } else {
        let rss: Vec<f64> = shim_figs.iter().map(|f| f.rss_mb).collect();
        let mut private: Vec<f64> = shim_figs.iter().map(|f| f.private_mb).collect();
        private.sort_by(|a, b| a.total_cmp(b));
        report.row(
            "one container shim (median of all)",
            format!("RSS {:.2} MB, private {:.2} MB ({} shims)", percentile(&rss, 0.5), percentile(&private, 0.5), shim_figs.len()),
            "reported apart from the agent",
        );
        report.value("shim_rss_mb", percentile(&rss, 0.5));
        report.value("shim_private_mb", percentile(&private, 0.5));
        report.value("shims", shim_figs.len());
    }
    report.finish(args.common.json.as_deref())
}
