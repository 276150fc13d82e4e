//! `skiff-bench density`: N simulated nodes, Deployments totalling M pods. Pod startup
//! latency p50/p90/p99 from creation to Running as a watch sees them, time until all are
//! Running, pods/s, then the time to delete them all; resource figures.
//!
//! Then, as clusterloader2's density test does, latency pods: on the saturated cluster,
//! `--latency-pods` more pods created one at a time at `--latency-rate` a second. Their
//! startup latency is what the Kubernetes SLI (p99 5 s) is measured on; the saturation
//! pods' latency mostly measures the queue that a burst of 30,000 builds up.
//!
//! Creation is when the pod's ADDED event reaches the watch (millisecond precision). The
//! Kubernetes SLI counts from metadata.creationTimestamp, which has 1 s resolution (so it
//! reads up to 1 s long); both are reported.

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use serde_json::json;

use crate::common::{self, cleanup, deployment, epoch_secs, quantiles, reflect, run_namespace, wall_now, Api, Common, PodLite, Progress, Quantiles, Report, Seen, Target, WatchStats, PAUSE};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub common: Common,
    /// Simulated nodes to start (ignored with --kubeconfig).
    #[arg(long, default_value_t = 1_000)]
    pub nodes: usize,
    /// Pods in total.
    #[arg(long, default_value_t = 30_000)]
    pub pods: usize,
    /// Deployments the pods are spread over.
    #[arg(long, default_value_t = 30)]
    pub deployments: usize,
    /// Pods created one at a time once all the others run (clusterloader2's latency pods).
    #[arg(long, default_value_t = 500)]
    pub latency_pods: usize,
    /// Latency pods created per second (clusterloader2: 5).
    #[arg(long, default_value_t = 5.0)]
    pub latency_rate: f64,
}

/// A pause pod of the bench's, `name-i`.
pub fn pause_pod(ns: &str, name: &str) -> serde_json::Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns, "labels": {"skiff-bench": "true"}},
        "spec": {"containers": [{"name": "pause", "image": PAUSE}]}})
}

/// Creates `pods` pods made by `make(i)` in `ns` at `rate` a second (each create sent on
/// time, whatever the answers take) and waits until all are Running.
pub async fn paced<F>(api: &Api, ns: &str, pods: usize, rate: f64, make: F) -> Result<Startup>
where
    F: Fn(usize) -> serde_json::Value,
{
    api.ensure_namespace(ns).await?;
    let watch = PodWatch::start(api, ns, pods, false).await?;
    let t0 = Instant::now();
    let period = Duration::from_secs_f64(1.0 / rate.max(0.001));
    let mut creates = Vec::new();
    for i in 0..pods {
        tokio::time::sleep_until((t0 + period.mul_f64(i as f64)).into()).await;
        let (api, path, body) = (api.clone(), format!("/api/v1/namespaces/{ns}/pods"), make(i));
        creates.push(tokio::spawn(async move { api.post(&path, &body).await }));
        if watch.finished() {
            break;
        }
    }
    for c in creates {
        c.await??;
    }
    let limit = Duration::from_secs(120 + pods as u64 * 2);
    let (tracker, _) = watch.wait(limit, |t| format!("{:>5} created  {:>5} Running  of {pods}  ({:.0} s)", t.pods.len(), t.running, t0.elapsed().as_secs_f64())).await?;
    let t = tracker.lock().expect("tracker");
    Ok(startup(&t.pods, t0))
}

/// What the watch saw of one pod.
#[derive(Debug, Clone, Copy)]
pub struct PodTimes {
    pub added: Instant,
    /// metadata.creationTimestamp, seconds since the epoch.
    pub created_epoch: Option<f64>,
    pub bound: Option<Instant>,
    pub running: Option<Instant>,
    /// Wall clock when Running was seen, seconds since the epoch.
    pub running_wall: f64,
}

/// Pods of a namespace as one watch follows them.
#[derive(Default)]
pub struct Tracker {
    pub pods: HashMap<String, PodTimes>,
    pub running: usize,
    pub bound: usize,
    pub deleted: usize,
    /// Pods first seen Running in a relist (after the server closed a lagging watch):
    /// their time is when the list came, an upper bound.
    pub running_from_list: usize,
    /// Stop once this many are Running / deleted.
    pub want_running: usize,
    pub want_deleted: Option<usize>,
}

impl Tracker {
    pub fn on(&mut self, kind: Seen, p: PodLite, seen: Instant) -> ControlFlow<()> {
        if kind == Seen::Deleted {
            if self.pods.remove(&p.metadata.name).is_some() {
                self.deleted += 1;
            }
        } else {
            let t = self.pods.entry(p.metadata.name.clone()).or_insert_with(|| PodTimes {
                added: seen,
                created_epoch: p.metadata.creation_timestamp.as_deref().and_then(epoch_secs),
                bound: None,
                running: None,
                running_wall: 0.0,
            });
            if t.bound.is_none() && p.bound() {
                t.bound = Some(seen);
                self.bound += 1;
            }
            if t.running.is_none() && p.is_running() {
                t.running = Some(seen);
                t.running_wall = wall_now();
                self.running += 1;
                if kind == Seen::Listed {
                    self.running_from_list += 1;
                }
            }
        }
        match self.want_deleted {
            Some(n) if self.deleted >= n => ControlFlow::Break(()),
            None if self.running >= self.want_running => ControlFlow::Break(()),
            _ => ControlFlow::Continue(()),
        }
    }
}

/// Startup figures of the pods a tracker saw.
pub struct Startup {
    /// ADDED seen → Running seen.
    pub latency: Quantiles,
    /// creationTimestamp → Running seen (the upstream SLI; 1 s resolution).
    pub sli: Quantiles,
    pub scheduling: Quantiles,
    pub kubelet: Quantiles,
    /// From `t0` to the last Running.
    pub all_running: Duration,
}

pub fn startup(times: &HashMap<String, PodTimes>, t0: Instant) -> Startup {
    let mut lat = Vec::new();
    let mut sli = Vec::new();
    let mut sched = Vec::new();
    let mut kubelet = Vec::new();
    let mut last = t0;
    for t in times.values() {
        let Some(r) = t.running else { continue };
        last = last.max(r);
        lat.push(r.saturating_duration_since(t.added).as_secs_f64());
        if let Some(c) = t.created_epoch {
            sli.push((t.running_wall - c).max(0.0));
        }
        if let Some(b) = t.bound {
            sched.push(b.saturating_duration_since(t.added).as_secs_f64());
            kubelet.push(r.saturating_duration_since(b).as_secs_f64());
        }
    }
    Startup {
        latency: quantiles(&mut lat),
        sli: quantiles(&mut sli),
        scheduling: quantiles(&mut sched),
        kubelet: quantiles(&mut kubelet),
        all_running: last.saturating_duration_since(t0),
    }
}

/// A watch on a namespace's pods, feeding a shared tracker.
pub struct PodWatch {
    pub tracker: Arc<Mutex<Tracker>>,
    task: tokio::task::JoinHandle<Result<WatchStats>>,
}

impl PodWatch {
    /// Starts watching `ns` (from its current state: pods already there are listed). It
    /// stops once `want_running` pods are Running or, with `until_deleted`, once every
    /// pod listed at the start is deleted.
    pub async fn start(api: &Api, ns: &str, want_running: usize, until_deleted: bool) -> Result<PodWatch> {
        let path = format!("/api/v1/namespaces/{ns}/pods");
        let (existing, rv) = api.list_all::<PodLite>(&path).await?;
        let tracker = Arc::new(Mutex::new(Tracker { want_running, ..Default::default() }));
        {
            let mut t = tracker.lock().expect("tracker");
            let now = Instant::now();
            for p in existing {
                let _ = t.on(Seen::Listed, p, now);
            }
            if until_deleted {
                t.want_deleted = Some(t.pods.len());
            }
        }
        let (api, tr) = (api.fresh()?, tracker.clone());
        let task = tokio::spawn(async move { reflect::<PodLite, _>(&api, &path, rv, move |kind, p, seen| tr.lock().expect("tracker").on(kind, p, seen)).await });
        Ok(PodWatch { tracker, task })
    }

    pub fn finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Waits until the tracker says stop, showing `line` as progress; fails after `limit`.
    pub async fn wait(self, limit: Duration, mut line: impl FnMut(&Tracker) -> String) -> Result<(Arc<Mutex<Tracker>>, WatchStats)> {
        let t0 = Instant::now();
        let mut progress = Progress::new();
        while !self.task.is_finished() {
            progress.show(|| line(&self.tracker.lock().expect("tracker")));
            if t0.elapsed() > limit {
                self.task.abort();
                let msg = line(&self.tracker.lock().expect("tracker"));
                progress.done(&msg);
                bail!("not done after {} s: {msg}", limit.as_secs());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let msg = line(&self.tracker.lock().expect("tracker"));
        progress.done(&msg);
        let stats = self.task.await??;
        Ok((self.tracker, stats))
    }
}

/// The result of [`fill`].
pub struct Fill {
    pub startup: Startup,
    pub running_from_list: usize,
    pub watch: WatchStats,
    /// A small write (merge patch of a ConfigMap) and a read of it every 100 ms while
    /// the pods were being created: what any client's call met meanwhile.
    pub probe_write: Quantiles,
    pub probe_read: Quantiles,
}

/// Times a PATCH and a GET of one ConfigMap every 100 ms until `stop`.
async fn probe(api: Api, ns: String, stop: Arc<std::sync::atomic::AtomicBool>) -> (Vec<f64>, Vec<f64>) {
    let path = format!("/api/v1/namespaces/{ns}/configmaps");
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "bench-probe", "namespace": ns}, "data": {"n": "0"}});
    let (mut writes, mut reads) = (Vec::new(), Vec::new());
    if api.post(&path, &cm).await.is_err() {
        return (writes, reads);
    }
    let item = format!("{path}/bench-probe");
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let mut n = 0u64;
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        tick.tick().await;
        n += 1;
        let t = Instant::now();
        if api.merge_patch(&item, &json!({"data": {"n": n.to_string()}})).await.is_ok() {
            writes.push(t.elapsed().as_secs_f64());
        }
        let t = Instant::now();
        if api.get(&item).await.is_ok() {
            reads.push(t.elapsed().as_secs_f64());
        }
    }
    (writes, reads)
}

/// Creates `deployments` Deployments totalling `total` pause pods in `ns` and waits
/// until all are Running, as a watch sees them.
pub async fn fill(api: &Api, ns: &str, total: usize, deployments: usize) -> Result<Fill> {
    api.ensure_namespace(ns).await?;
    let watch = PodWatch::start(api, ns, total, false).await?;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let prober = tokio::spawn(probe(api.fresh()?, ns.to_string(), stop.clone()));
    let deployments = deployments.clamp(1, total.max(1));
    eprintln!("  creating {deployments} Deployments, {total} pods in all");
    let t0 = Instant::now();
    for d in 0..deployments {
        let replicas = total / deployments + usize::from(d < total % deployments);
        api.post(&format!("/apis/apps/v1/namespaces/{ns}/deployments"), &deployment(ns, &format!("d{d}"), replicas, PAUSE)).await?;
    }
    let limit = Duration::from_secs(120 + total as u64 / 50);
    let waited = watch
        .wait(limit, |t| format!("{:>6} created  {:>6} bound  {:>6} Running  of {total}  ({:.0} s)", t.pods.len(), t.bound, t.running, t0.elapsed().as_secs_f64()))
        .await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (mut writes, mut reads) = prober.await.unwrap_or_default();
    let (tracker, stats) = waited?;
    let t = tracker.lock().expect("tracker");
    Ok(Fill { startup: startup(&t.pods, t0), running_from_list: t.running_from_list, watch: stats, probe_write: quantiles(&mut writes), probe_read: quantiles(&mut reads) })
}

/// Deletes the bench's Deployments, ReplicaSets and pods in `ns` (which works whether or
/// not a garbage collector runs) and waits until the pods are gone.
pub async fn delete_all(api: &Api, ns: &str) -> Result<Duration> {
    let watch = PodWatch::start(api, ns, 0, true).await?;
    let total = watch.tracker.lock().expect("tracker").pods.len();
    let t0 = Instant::now();
    let bg = json!({"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"});
    api.delete(&format!("/apis/apps/v1/namespaces/{ns}/deployments?labelSelector=skiff-bench%3Dtrue"), Some(&bg)).await?;
    api.delete(&format!("/apis/apps/v1/namespaces/{ns}/replicasets?labelSelector=skiff-bench%3Dtrue"), Some(&bg)).await?;
    api.delete(&format!("/api/v1/namespaces/{ns}/pods?labelSelector=skiff-bench%3Dtrue"), Some(&bg)).await?;
    watch.wait(Duration::from_secs(120 + total as u64 / 50), |t| format!("{:>6} of {total} pods deleted ({:.0} s)", t.deleted, t0.elapsed().as_secs_f64())).await?;
    Ok(t0.elapsed())
}

/// The startup rows every pod-creating scenario reports.
pub fn startup_rows(report: &mut Report, s: &Startup, target: &str) {
    prefixed_startup_rows(report, s, target, "", "");
}

/// The same, with a prefix on each figure's name (text) and key (JSON).
pub fn prefixed_startup_rows(report: &mut Report, s: &Startup, target: &str, text: &str, key: &str) {
    report.row(&format!("{text}pod startup latency (created → Running, both seen by the watch)"), s.latency.human(), target);
    report.value(&format!("{key}startup"), s.latency.json());
    report.row(&format!("{text}pod startup SLI (creationTimestamp → Running seen; 1 s resolution)"), s.sli.human(), "Kubernetes SLO: p99 < 5 s");
    report.value(&format!("{key}startup_sli"), s.sli.json());
    report.row(&format!("{text}  of which created → bound (scheduler)"), s.scheduling.human(), "");
    report.value(&format!("{key}created_to_bound"), s.scheduling.json());
    report.row(&format!("{text}  of which bound → Running (node agent)"), s.kubelet.human(), "");
    report.value(&format!("{key}bound_to_running"), s.kubelet.json());
}

pub async fn run(args: Args) -> Result<()> {
    let fsync = crate::common::fsync_latency();
    let target = Target::new(&args.common, "density", args.nodes).await?;
    let nodes = common::ready_nodes(&target.api).await?;
    let ns = run_namespace("density");
    let cpu0 = target.baseline();
    eprintln!("density: {} pods on {nodes} nodes", args.pods);
    let fill = fill(&target.api, &ns, args.pods, args.deployments).await?;
    let after_fill = target.baseline();
    let s = &fill.startup;
    let mut report = Report::new(&format!("density: {} pods in {} Deployments on {nodes} nodes", args.pods, args.deployments));
    report.disk(&fsync);
    report.value("store", args.common.store.as_str());
    report.value("nodes", nodes);
    report.value("pods", args.pods);
    report.value("deployments", args.deployments);
    let secs = s.all_running.as_secs_f64();
    report.row("all pods Running, from the first Deployment created", format!("{secs:.1} s"), "< 30 s (1,000 nodes, 30,000 pods)");
    report.value("all_running_s", secs);
    report.row("throughput", format!("{:.0} pods/s", args.pods as f64 / secs), "");
    report.value("pods_per_s", args.pods as f64 / secs);
    prefixed_startup_rows(&mut report, s, "", "saturation: ", "");
    if target.control_plane().is_some() {
        let cpu = after_fill.control_plane - cpu0.control_plane;
        report.row("control plane CPU while filling", format!("{cpu:.1} s ({:.2} ms a pod)", cpu * 1e3 / args.pods as f64), "");
        report.value("fill_control_plane_cpu_s", cpu);
    }
    if target.sim().is_some() {
        let cpu = after_fill.sim - cpu0.sim;
        report.row("simulated nodes' CPU while filling", format!("{cpu:.1} s ({:.2} ms a pod)", cpu * 1e3 / args.pods as f64), "");
        report.value("fill_sim_cpu_s", cpu);
    }
    report.row("API calls meanwhile: PATCH a ConfigMap (every 100 ms)", fill.probe_write.ms(), "");
    report.value("probe_patch", fill.probe_write.json());
    report.row("API calls meanwhile: GET it", fill.probe_read.ms(), "");
    report.value("probe_get", fill.probe_read.json());
    report.row(
        "the bench's watch",
        format!("{} events, {} re-watches, {} relists ({} pods first seen Running in a relist)", fill.watch.events, fill.watch.rewatches, fill.watch.relists, fill.running_from_list),
        "",
    );
    report.value("watch_relists", fill.watch.relists);
    report.value("running_from_list", fill.running_from_list);
    let lat_ns = run_namespace("density-latency");
    if args.latency_pods > 0 {
        eprintln!("  {} latency pods at {}/s", args.latency_pods, args.latency_rate);
        let lat = paced(&target.api, &lat_ns, args.latency_pods, args.latency_rate, |i| pause_pod(&lat_ns, &format!("latency-{i}"))).await?;
        report.value("latency_pods", args.latency_pods);
        prefixed_startup_rows(&mut report, &lat, "p99 < 2 s", &format!("{} latency pods: ", args.latency_pods), "latency_pods_");
    }
    // Resource figures at full size, before the deletion.
    target.resources(&mut report, &cpu0);
    eprintln!("  deleting the Deployments, their ReplicaSets and pods");
    match delete_all(&target.api, &ns).await {
        Ok(d) => {
            report.row(&format!("delete all {} pods (graceful, completed by the nodes)", args.pods), format!("{:.1} s", d.as_secs_f64()), "");
            report.value("delete_all_s", d.as_secs_f64());
        }
        Err(e) => report.row("delete all pods", format!("failed: {e}"), ""),
    }
    cleanup(&target, &ns).await;
    cleanup(&target, &lat_ns).await;
    report.finish(args.common.json.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, node: Option<&str>, running: bool) -> PodLite {
        serde_json::from_value(json!({
            "metadata": {"name": name, "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"nodeName": node},
            "status": if running { json!({"phase": "Running", "containerStatuses": [{"state": {"running": {}}}]}) } else { json!({"phase": "Pending"}) }
        }))
        .unwrap()
    }

    #[test]
    fn tracker_times_each_pod_once_and_stops_when_all_run() {
        let mut t = Tracker { want_running: 2, ..Default::default() };
        let t0 = Instant::now();
        assert!(t.on(Seen::Added, pod("a", None, false), t0).is_continue());
        assert!(t.on(Seen::Modified, pod("a", Some("n"), false), t0 + Duration::from_millis(10)).is_continue());
        assert!(t.on(Seen::Modified, pod("a", Some("n"), true), t0 + Duration::from_millis(30)).is_continue());
        // A later event does not move the times.
        assert!(t.on(Seen::Modified, pod("a", Some("n"), true), t0 + Duration::from_millis(90)).is_continue());
        assert_eq!((t.bound, t.running), (1, 1));
        assert!(t.on(Seen::Added, pod("b", Some("n"), true), t0 + Duration::from_millis(40)).is_break());
        let s = startup(&t.pods, t0);
        assert_eq!(s.latency.count, 2);
        assert!((s.latency.max - 0.030).abs() < 1e-9);
        assert!((s.scheduling.max - 0.010).abs() < 1e-9);
        assert!((s.kubelet.p50 - 0.0).abs() < 1e-9, "{:?}", s.kubelet);
        assert_eq!(s.all_running, Duration::from_millis(40));
    }

    #[test]
    fn tracker_counts_deletions() {
        let mut t = Tracker { want_deleted: Some(1), ..Default::default() };
        let now = Instant::now();
        assert!(t.on(Seen::Listed, pod("a", Some("n"), true), now).is_continue());
        assert!(t.on(Seen::Deleted, pod("x", Some("n"), true), now).is_continue(), "not one it knew");
        assert!(t.on(Seen::Deleted, pod("a", Some("n"), true), now).is_break());
    }
}
