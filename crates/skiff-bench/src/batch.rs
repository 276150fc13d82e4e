//! `skiff-bench batch`: the Job and CronJob controllers.
//!
//! 1. Job on one real node: `skiff server --no-agent` and a `skiff agent` (process
//!    runtime) as its own process, so that the control plane's and the agent's CPU are
//!    read apart. A Job of `--completions` (parallelism `--parallelism`) whose container
//!    runs `true`, restartPolicy Never: the time from its create until a watch sees the
//!    condition Complete=True, and `status.completionTime - startTime`. Afterwards `skiff
//!    reset --data-dir` removes what the agent left. With --kubeconfig it runs on whatever
//!    nodes that cluster has.
//! 2. CronJobs on simulated nodes (a second `skiff server --no-agent` with `skiff agent
//!    --simulate`, so that no real node runs their pods): `--cronjobs` CronJobs with
//!    schedule `* * * * *`, all created at least 20 s before a minute boundary. One watch
//!    of the namespace's Jobs; for each Job of one of them for that minute (named
//!    `<cronjob>-<scheduled unix time in minutes>`), the latency is the wall clock when
//!    its ADDED event is seen minus the scheduled time.

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::common::{PodLite, proc_figures, quantiles, run_namespace, wait_nodes, wall_now, Api, Common, HasMeta, Meta, OwnCluster, Proc, Progress, Quantiles, Report, Seen, Target, Watched};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub common: Common,
    /// Completions of the Job.
    #[arg(long, default_value_t = 1_000)]
    pub completions: usize,
    /// Parallelism of the Job.
    #[arg(long, default_value_t = 100)]
    pub parallelism: usize,
    /// Give up on the Job after this many seconds.
    #[arg(long, default_value_t = 600)]
    pub job_timeout: u64,
    /// CronJobs created (schedule every minute).
    #[arg(long, default_value_t = 1_000)]
    pub cronjobs: usize,
    /// Simulated nodes that run the CronJobs' pods (ignored with --kubeconfig).
    #[arg(long, default_value_t = 10)]
    pub cron_nodes: usize,
    /// Seconds after the scheduled time to wait for the CronJobs' Jobs.
    #[arg(long, default_value_t = 60)]
    pub window: u64,
    /// Skip the Job part.
    #[arg(long)]
    pub skip_job: bool,
    /// Skip the CronJob part.
    #[arg(long)]
    pub skip_cronjobs: bool,
}

/// What a CronJob's Job must be seen within.
const CRON_TARGET_S: f64 = 2.0;
/// CronJobs are all created at least this long before the minute they are measured at.
const CRON_MARGIN_S: f64 = 20.0;
const JOB_NAME: &str = "bench-job";
const NODE_NAME: &str = "skiff-bench-batch";

fn pod_template(command: &[&str]) -> Value {
    json!({
        "metadata": {"labels": {"skiff-bench": "true"}},
        "spec": {
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 1,
            "containers": [{"name": "main", "image": "busybox", "command": command}]
        }
    })
}

pub fn job(ns: &str, completions: usize, parallelism: usize) -> Value {
    json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": JOB_NAME, "namespace": ns, "labels": {"skiff-bench": "true"}},
        "spec": {"completions": completions, "parallelism": parallelism, "template": pod_template(&["true"])}
    })
}

pub fn cronjob(ns: &str, name: &str) -> Value {
    json!({
        "apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": {"name": name, "namespace": ns, "labels": {"skiff-bench": "true"}},
        "spec": {
            "schedule": "* * * * *",
            "jobTemplate": {"metadata": {"labels": {"skiff-bench": "true"}}, "spec": {"template": pod_template(&["true"])}}
        }
    })
}

// ---------------------------------------------------------------------------------------
// Jobs as the watches read them.

#[derive(Deserialize, Default, Debug)]
#[serde(default, rename_all = "camelCase")]
struct JobMeta {
    #[serde(flatten)]
    meta: Meta,
    owner_references: Vec<OwnerRef>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default)]
struct OwnerRef {
    kind: String,
    name: String,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default)]
struct JobLite {
    metadata: JobMeta,
    status: JobStatus,
}

#[derive(Deserialize, Default, Debug, Clone)]
#[serde(default, rename_all = "camelCase")]
struct JobStatus {
    active: usize,
    succeeded: usize,
    failed: usize,
    start_time: Option<String>,
    completion_time: Option<String>,
    conditions: Vec<Condition>,
}

#[derive(Deserialize, Default, Debug, Clone)]
#[serde(default)]
struct Condition {
    #[serde(rename = "type")]
    type_: String,
    status: String,
    reason: Option<String>,
    message: Option<String>,
}

impl JobStatus {
    fn condition(&self, type_: &str) -> Option<&Condition> {
        self.conditions.iter().find(|c| c.type_ == type_ && c.status == "True")
    }
}

impl HasMeta for JobLite {
    fn meta(&self) -> &Meta {
        &self.metadata.meta
    }
}

// ---------------------------------------------------------------------------------------
// Pure helpers of the CronJob part.

/// The CronJob and scheduled minute (unix time in minutes) of a Job named as the CronJob
/// controller names them: `<cronjob>-<minutes>`.
pub fn scheduled_minute(job: &str) -> Option<(&str, u64)> {
    let (cj, minutes) = job.rsplit_once('-')?;
    if cj.is_empty() || minutes.is_empty() || !minutes.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((cj, minutes.parse().ok()?))
}

/// Seconds from the scheduled minute to `seen` (wall clock, seconds since the epoch).
pub fn cron_latency(seen: f64, minute: u64) -> f64 {
    seen - (minute * 60) as f64
}

/// The first minute boundary (in minutes since the epoch) at least `margin` seconds after `now`.
pub fn next_minute(now: f64, margin: f64) -> u64 {
    ((now + margin) / 60.0).floor() as u64 + 1
}

/// How many of `latencies` are at most `limit` seconds.
pub fn within(latencies: &[f64], limit: f64) -> usize {
    latencies.iter().filter(|l| **l <= limit).count()
}

/// The Jobs seen for the measured minute.
#[derive(Default)]
struct CronJobs {
    minute: u64,
    /// Job name → latency (s).
    latency: HashMap<String, f64>,
    /// Jobs first seen in a relist (their time is when the list came: an upper bound).
    from_list: usize,
    /// Jobs of these CronJobs for other minutes.
    other_minutes: usize,
    want: usize,
}

impl CronJobs {
    fn on(&mut self, kind: Seen, j: JobLite, seen_wall: f64) -> ControlFlow<()> {
        if kind == Seen::Deleted || self.latency.contains_key(&j.metadata.meta.name) {
            return ControlFlow::Continue(());
        }
        let Some((cj, minute)) = scheduled_minute(&j.metadata.meta.name) else { return ControlFlow::Continue(()) };
        let owned = j.metadata.owner_references.iter().any(|o| o.kind == "CronJob" && o.name == cj);
        if !owned {
            return ControlFlow::Continue(());
        }
        if minute != self.minute {
            self.other_minutes += 1;
            return ControlFlow::Continue(());
        }
        if kind == Seen::Listed {
            self.from_list += 1;
        }
        self.latency.insert(j.metadata.meta.name, cron_latency(seen_wall, minute));
        if self.latency.len() >= self.want {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }
}

// ---------------------------------------------------------------------------------------
// 1. A Job on one real node.

/// The Job part's cluster: ours (server and a real agent), or the kubeconfig's.
struct JobCluster {
    target: Target,
    agent: Option<(Proc, PathBuf)>,
}

impl JobCluster {
    async fn start(common: &Common) -> Result<JobCluster> {
        if common.kubeconfig.is_some() {
            return Ok(JobCluster { target: Target::new(common, "batch", 0).await?, agent: None });
        }
        let skiff = common.skiff()?;
        eprintln!("batch: {} server --no-agent + skiff agent (one real node, process runtime)", skiff.display());
        let own = OwnCluster::start(&skiff, "batch", &["--no-agent", "--cluster-cidr", "10.95.0.0/16", "--store", &common.store]).await?;
        let agent_dir = own.dir.join("node");
        let child = Command::new(&skiff)
            .args(["agent", "--kubeconfig"])
            .arg(own.agent_kubeconfig())
            .args(["--node-name", NODE_NAME, "--data-dir"])
            .arg(&agent_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting skiff agent")?;
        let c = JobCluster { target: Target::from_own(own)?, agent: Some((Proc { child }, agent_dir)) };
        wait_nodes(&c.target.api, 1, Some(NODE_NAME), true).await?;
        Ok(c)
    }

    fn agent_pid(&self) -> Option<u32> {
        self.agent.as_ref().map(|(p, _)| p.pid())
    }

    /// Stops our processes and removes the pods the agent left; deletes the namespace on
    /// a kubeconfig's cluster.
    async fn stop(mut self, ns: &str) {
        match (self.target.own.take(), self.agent.take()) {
            (Some(own), Some((agent, dir))) => crate::pod_startup::stop(own, Some(agent), &dir),
            _ => cleanup(&self.target, ns).await,
        }
    }
}

async fn job_part(args: &Args, report: &mut Report) -> Result<()> {
    let cluster = JobCluster::start(&args.common).await?;
    let ns = run_namespace("batch");
    let result = measure_job(&cluster, &ns, args, report).await;
    cluster.stop(&ns).await;
    result
}

async fn measure_job(cluster: &JobCluster, ns: &str, args: &Args, report: &mut Report) -> Result<()> {
    let target = &cluster.target;
    let api = &target.api;
    let nodes = crate::common::ready_nodes(api).await?;
    api.ensure_namespace(ns).await?;
    let (completions, parallelism) = (args.completions, args.parallelism);
    let watch = Watched::start::<JobLite, _>(api, &format!("/apis/batch/v1/namespaces/{ns}/jobs"), JobState::default(), |s: &mut JobState, kind, j, seen| {
        if kind != Seen::Deleted && j.metadata.meta.name == JOB_NAME {
            if s.complete.is_none() && j.status.condition("Complete").is_some() {
                s.complete = Some(seen);
            }
            if s.failed.is_none() && j.status.condition("Failed").is_some() {
                s.failed = Some(seen);
            }
            s.status = j.status;
        }
        ControlFlow::Continue(())
    })
    .await?;
    let pods = Watched::start::<PodLite, _>(api, &format!("/api/v1/namespaces/{ns}/pods"), JobPods::default(), |s: &mut JobPods, kind, p, seen| {
        s.on(kind, p, seen);
        ControlFlow::Continue(())
    })
    .await?;
    let cp0 = target.control_plane().map(|f| f.cpu_s);
    let agent0 = cluster.agent_pid().map(|p| proc_figures(p).cpu_s);
    eprintln!("  Job of {completions} (parallelism {parallelism}) on {nodes} node(s)");
    let t0 = Instant::now();
    api.post(&format!("/apis/batch/v1/namespaces/{ns}/jobs"), &job(ns, completions, parallelism)).await?;
    let limit = Duration::from_secs(args.job_timeout);
    let mut progress = Progress::new();
    let line = |s: &JobState| format!("Job: {} succeeded, {} active, {} failed of {completions} ({:.1} s)", s.status.succeeded, s.status.active, s.status.failed, t0.elapsed().as_secs_f64());
    let state = loop {
        {
            let s = watch.lock();
            if s.complete.is_some() {
                progress.done(&line(&s));
                break s.clone();
            }
            if let Some(c) = s.failed.and(s.status.condition("Failed")) {
                let msg = line(&s);
                progress.done(&msg);
                bail!("Job failed: {} {}; {msg}", c.reason.as_deref().unwrap_or(""), c.message.as_deref().unwrap_or(""));
            }
            if t0.elapsed() > limit {
                let msg = line(&s);
                progress.done(&msg);
                bail!("Job not complete after {} s: {msg}", limit.as_secs());
            }
            progress.show(|| line(&s));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let done = state.complete.map(|c| c.saturating_duration_since(t0).as_secs_f64()).unwrap_or(0.0);
    report.row(&format!("Job of {completions} (parallelism {parallelism}, `true`) on {nodes} node(s): created → Complete=True seen"), format!("{done:.2} s"), "< 15 s");
    report.value("job_complete_s", done);
    report.value("job_nodes", nodes);
    let st = &state.status;
    let span = st.start_time.as_deref().and_then(crate::common::epoch_secs).zip(st.completion_time.as_deref().and_then(crate::common::epoch_secs)).map(|(a, b)| b - a);
    report.row("  status.completionTime − startTime (1 s resolution)", span.map(|s| format!("{s:.0} s")).unwrap_or_else(|| "not set".into()), "");
    report.value("job_completion_minus_start_s", span);
    let rate = completions as f64 / done.max(1e-9);
    report.row("  throughput", format!("{rate:.1} pods/s"), "");
    report.value("job_pods_per_s", rate);
    report.row("  status.succeeded / failed", format!("{} / {}", st.succeeded, st.failed), "");
    // Events of pods finishing just before the Job's condition may still be on the way.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (to_bound, to_done, all) = pods.lock().quantiles();
    drop(pods);
    report.row("  pod: created → bound to the node (scheduler)", to_bound.human(), "");
    report.value("job_pod_created_to_bound", to_bound.json());
    report.row("  pod: bound → Succeeded seen (node agent: start, run, report)", to_done.human(), "");
    report.value("job_pod_bound_to_finished", to_done.json());
    report.row("  pod: created → Succeeded seen", all.human(), "");
    report.value("job_pod_created_to_finished", all.json());
    report.value("job_succeeded", st.succeeded);
    report.value("job_failed", st.failed);
    if let (Some(cp0), Some(cp)) = (cp0, target.control_plane()) {
        let cpu = cp.cpu_s - cp0;
        report.row("  control plane CPU during the Job (API server, scheduler, controllers)", format!("{cpu:.1} s ({:.1} ms a pod)", cpu * 1e3 / completions as f64), "");
        report.value("job_control_plane_cpu_s", cpu);
        report.row("  control plane RSS after", format!("{:.1} MB (peak {:.1} MB)", cp.rss_mb, cp.peak_rss_mb), "");
        report.value("job_control_plane_rss_mb", cp.rss_mb);
    }
    if let (Some(a0), Some(pid)) = (agent0, cluster.agent_pid()) {
        let a = proc_figures(pid);
        let cpu = a.cpu_s - a0;
        report.row("  node agent CPU during the Job (not its shims and pods)", format!("{cpu:.1} s ({:.1} ms a pod)", cpu * 1e3 / completions as f64), "");
        report.value("job_agent_cpu_s", cpu);
        report.row("  node agent RSS after", format!("{:.1} MB (peak {:.1} MB)", a.rss_mb, a.peak_rss_mb), "");
        report.value("job_agent_rss_mb", a.rss_mb);
    }
    Ok(())
}

/// The Job's pods as a watch sees them: first seen, bound to a node, finished
/// (Succeeded or Failed).
#[derive(Default)]
struct JobPods {
    pods: HashMap<String, (Instant, Option<Instant>, Option<Instant>)>,
}

impl JobPods {
    fn on(&mut self, kind: Seen, p: PodLite, seen: Instant) {
        if kind == Seen::Deleted {
            return;
        }
        let t = self.pods.entry(p.metadata.name.clone()).or_insert((seen, None, None));
        if t.1.is_none() && p.bound() {
            t.1 = Some(seen);
        }
        if t.2.is_none() && matches!(p.status.phase.as_deref(), Some("Succeeded" | "Failed")) {
            t.2 = Some(seen);
        }
    }

    /// created → bound, bound → finished, created → finished (seconds).
    fn quantiles(&self) -> (Quantiles, Quantiles, Quantiles) {
        let (mut a, mut b, mut c) = (Vec::new(), Vec::new(), Vec::new());
        for (added, bound, done) in self.pods.values() {
            if let Some(bd) = bound {
                a.push(bd.saturating_duration_since(*added).as_secs_f64());
                if let Some(d) = done {
                    b.push(d.saturating_duration_since(*bd).as_secs_f64());
                }
            }
            if let Some(d) = done {
                c.push(d.saturating_duration_since(*added).as_secs_f64());
            }
        }
        (quantiles(&mut a), quantiles(&mut b), quantiles(&mut c))
    }
}

#[derive(Default, Clone)]
struct JobState {
    status: JobStatus,
    complete: Option<Instant>,
    failed: Option<Instant>,
}

// ---------------------------------------------------------------------------------------
// 2. CronJobs on simulated nodes.

/// POSTs `total` objects made by `make(i)` to `path` from `clients` concurrent clients.
async fn post_many(api: &Api, path: &str, total: usize, clients: usize, make: impl Fn(usize) -> Value + Send + Sync + Clone + 'static) -> Result<()> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (api, path, next, make) = (api.clone(), path.to_string(), next.clone(), make.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    return Ok::<_, anyhow::Error>(());
                }
                api.post(&path, &make(i)).await?;
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(())
}

fn clock(minute: u64) -> String {
    let secs = minute * 60 % 86_400;
    format!("{:02}:{:02}:00 UTC", secs / 3600, secs % 3600 / 60)
}

async fn cronjob_part(args: &Args, report: &mut Report) -> Result<()> {
    let target = Target::new(&args.common, "cronjobs", args.cron_nodes).await?;
    let ns = run_namespace("cronjobs");
    let result = measure_cronjobs(&target, &ns, args, report).await;
    // Every result is in: our cluster stops before the next minute starts more Jobs.
    cleanup(&target, &ns).await;
    drop(target);
    result
}

async fn measure_cronjobs(target: &Target, ns: &str, args: &Args, report: &mut Report) -> Result<()> {
    let api = &target.api;
    let n = args.cronjobs;
    let nodes = crate::common::ready_nodes(api).await?;
    api.ensure_namespace(ns).await?;
    // At least CRON_MARGIN_S before the next minute, or wait for the one after.
    let now = wall_now();
    let passing = ((next_minute(now, CRON_MARGIN_S) - 1) * 60) as f64;
    if passing > now {
        let wait = passing - now + 0.5;
        eprintln!("  {:.0} s before the next minute: waiting {wait:.0} s for it to pass", passing - now);
        tokio::time::sleep(Duration::from_secs_f64(wait)).await;
    }
    eprintln!("  creating {n} CronJobs (* * * * *) on {nodes} node(s)");
    let t0 = Instant::now();
    let ns2 = ns.to_string();
    post_many(api, &format!("/apis/batch/v1/namespaces/{ns}/cronjobs"), n, 8, move |i| cronjob(&ns2, &format!("cron-{i}"))).await?;
    let created = t0.elapsed().as_secs_f64();
    let end = wall_now();
    // The first minute boundary after the last create (every CronJob exists then); it is
    // at least CRON_MARGIN_S away unless the creates themselves took longer than the wait
    // above left.
    let minute = next_minute(end, 0.0);
    let margin = (minute * 60) as f64 - end;
    report.row(&format!("{n} CronJobs created (8 clients)"), format!("{created:.2} s ({:.0}/s), the last {margin:.1} s before the minute measured", n as f64 / created.max(1e-9)), "");
    report.value("cronjobs", n);
    report.value("cronjob_nodes", nodes);
    report.value("cronjob_create_s", created);
    report.value("cronjob_margin_s", margin);
    let watch = Watched::start::<JobLite, _>(api, &format!("/apis/batch/v1/namespaces/{ns}/jobs"), CronJobs { minute, want: n, ..Default::default() }, |s: &mut CronJobs, kind, j, _seen| s.on(kind, j, wall_now())).await?;
    let cpu0 = target.baseline();
    let mut progress = Progress::new();
    let scheduled = (minute * 60) as f64;
    let deadline = scheduled + args.window as f64;
    loop {
        let now = wall_now();
        let (seen, in_time) = {
            let s = watch.lock();
            (s.latency.len(), s.latency.values().filter(|l| **l <= CRON_TARGET_S).count())
        };
        if seen >= n || now > deadline {
            progress.done(&format!("CronJobs: {seen} of {n} Jobs for {} seen, {in_time} within {CRON_TARGET_S} s", clock(minute)));
            break;
        }
        if now < scheduled {
            progress.show(|| format!("CronJobs: waiting for {} ({:.0} s)", clock(minute), scheduled - now));
        } else {
            progress.show(|| format!("CronJobs: {seen} of {n} Jobs for {} seen, {in_time} within {CRON_TARGET_S} s ({:.1} s after)", clock(minute), now - scheduled));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (mut lat, from_list, other) = {
        let s = watch.lock();
        (s.latency.values().copied().collect::<Vec<f64>>(), s.from_list, s.other_minutes)
    };
    drop(watch);
    let q: Quantiles = quantiles(&mut lat);
    let in_time = within(&lat, CRON_TARGET_S);
    report.row(&format!("CronJob → Job: scheduled minute → the Job's ADDED seen by a watch ({} seen)", q.count), q.human(), "p99 < 2 s");
    report.value("cronjob_job_latency", q.json());
    report.row(&format!("  Jobs seen within {CRON_TARGET_S} s of the scheduled time"), format!("{in_time} of {n}"), &format!("{n} of {n}"));
    report.value("cronjob_jobs_within_2s", in_time);
    report.row(&format!("  Jobs seen within {} s", args.window), format!("{} of {n}", lat.len()), "");
    report.value("cronjob_jobs_within_window", lat.len());
    if from_list > 0 || other > 0 {
        report.row("  the bench's watch", format!("{from_list} Jobs first seen in a relist; {other} Jobs of other minutes"), "");
    }
    report.value("cronjob_jobs_from_relist", from_list);
    report.value("cronjob_jobs_other_minutes", other);
    target.resources(report, &cpu0);
    Ok(())
}

/// On a cluster given by kubeconfig: the bench's CronJobs, Jobs, pods and the namespace.
async fn cleanup(target: &Target, ns: &str) {
    if target.own.is_some() {
        return;
    }
    let api = &target.api;
    let bg = json!({"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"});
    for path in [format!("/apis/batch/v1/namespaces/{ns}/cronjobs"), format!("/apis/batch/v1/namespaces/{ns}/jobs"), format!("/api/v1/namespaces/{ns}/pods")] {
        let _ = api.delete(&path, Some(&bg)).await;
    }
    let _ = api.delete(&format!("/api/v1/namespaces/{ns}"), None).await;
}

pub async fn run(args: Args) -> Result<()> {
    let fsync = crate::common::fsync_latency();
    let own = args.common.kubeconfig.is_none();
    let mut title = Vec::new();
    if !args.skip_job {
        title.push(format!("a Job of {} (parallelism {}) on {}", args.completions, args.parallelism, if own { "a real node" } else { "the cluster's nodes" }));
    }
    if !args.skip_cronjobs {
        title.push(format!("{} CronJobs every minute on {}", args.cronjobs, if own { "simulated nodes" } else { "the cluster's nodes" }));
    }
    let mut report = Report::new(&format!("batch: {}", title.join("; ")));
    report.disk(&fsync);
    report.value("store", args.common.store.as_str());
    report.value("completions", args.completions);
    report.value("parallelism", args.parallelism);
    let mut failure = None;
    if !args.skip_job {
        if let Err(e) = job_part(&args, &mut report).await {
            eprintln!("  {e:#}");
            report.row("Job", format!("failed: {}", e.to_string().lines().next().unwrap_or("")), "< 15 s");
            report.value("job_error", e.to_string());
            failure = Some(e);
        }
    }
    if !args.skip_cronjobs {
        if let Err(e) = cronjob_part(&args, &mut report).await {
            eprintln!("  {e:#}");
            report.row("CronJobs", format!("failed: {}", e.to_string().lines().next().unwrap_or("")), "");
            report.value("cronjob_error", e.to_string());
            failure = failure.or(Some(e));
        }
    }
    report.finish(args.common.json.as_deref())?;
    match failure {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_names_give_cronjob_and_minute() {
        assert_eq!(scheduled_minute("cron-17-29876543"), Some(("cron-17", 29_876_543)));
        assert_eq!(scheduled_minute("hello-1"), Some(("hello", 1)));
        assert_eq!(scheduled_minute("cron-17"), Some(("cron", 17)));
        assert_eq!(scheduled_minute("nodash"), None);
        assert_eq!(scheduled_minute("x-"), None);
        assert_eq!(scheduled_minute("-5"), None);
        assert_eq!(scheduled_minute("x-12a"), None);
        assert_eq!(scheduled_minute("x-+12"), None);
    }

    #[test]
    fn latency_counts_from_the_minute_boundary() {
        let minute = 29_876_543u64;
        let at = (minute * 60) as f64;
        assert!((cron_latency(at + 0.25, minute) - 0.25).abs() < 1e-6);
        assert!((cron_latency(at - 0.1, minute) + 0.1).abs() < 1e-6, "early is negative");
        assert_eq!(within(&[0.1, 2.0, 2.01, -0.1], 2.0), 3);
    }

    #[test]
    fn next_minute_keeps_a_margin() {
        // 12:00:30 → 12:01:00 with 20 s to spare; 12:00:45 → 12:02:00.
        let t = 1_800_000_000.0 - 1_800_000_000.0 % 60.0;
        assert_eq!(next_minute(t + 30.0, 20.0) * 60, t as u64 + 60);
        assert_eq!(next_minute(t + 45.0, 20.0) * 60, t as u64 + 120);
        assert_eq!(next_minute(t, 0.0) * 60, t as u64 + 60, "a boundary itself is not after itself");
        assert_eq!(next_minute(t + 59.9, 0.0) * 60, t as u64 + 60);
    }

    fn job_of(name: &str, owner: &str) -> JobLite {
        serde_json::from_value(json!({"metadata": {"name": name, "resourceVersion": "3", "ownerReferences": [{"kind": "CronJob", "name": owner, "apiVersion": "batch/v1", "uid": "u"}]}})).unwrap()
    }

    #[test]
    fn cronjob_jobs_counted_once_for_their_minute() {
        let mut s = CronJobs { minute: 100, want: 2, ..Default::default() };
        let at = 6000.0;
        assert!(s.on(Seen::Added, job_of("cron-1-100", "cron-1"), at + 0.5).is_continue());
        assert!(s.on(Seen::Modified, job_of("cron-1-100", "cron-1"), at + 9.0).is_continue());
        assert!(s.on(Seen::Added, job_of("cron-2-99", "cron-2"), at).is_continue());
        assert!(s.on(Seen::Added, job_of("cron-3-100", "someone-else"), at).is_continue());
        assert_eq!((s.latency.len(), s.other_minutes), (1, 1));
        assert!((s.latency["cron-1-100"] - 0.5).abs() < 1e-9);
        assert!(s.on(Seen::Listed, job_of("cron-2-100", "cron-2"), at + 3.0).is_break());
        assert_eq!(s.from_list, 1);
        assert_eq!(s.latency.get("cron-3-100"), None);
    }
}
