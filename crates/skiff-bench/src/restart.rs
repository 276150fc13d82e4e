//! `skiff-bench restart`: a `skiff server` holding 30,000 pods (Running on 1,000
//! simulated nodes, as `density` leaves it) is killed with SIGKILL and started again on
//! the same data dir. Figures: time until /readyz; time until every watcher has resynced;
//! time until a pod created after the restart runs (the scheduler, controllers and the
//! simulated nodes, whose watches broke too, have resynced).
//!
//! The watchers are cluster-wide pod watches that recover as client-go's reflector does:
//! re-watch from the last resourceVersion seen and, when that is refused (410 Gone), list
//! (500 per page) and watch from the list. One has resynced when it sees a marker pod
//! created once /readyz answers.

use std::ops::ControlFlow;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::json;

use crate::common::{self, proc_figures, quantiles, reflect, run_namespace, Common, PodLite, Progress, Report, Seen, Target, WatchStats, PAUSE};
use crate::density;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub common: Common,
    #[arg(long, default_value_t = 1_000)]
    pub nodes: usize,
    #[arg(long, default_value_t = 30_000)]
    pub pods: usize,
    #[arg(long, default_value_t = 30)]
    pub deployments: usize,
    /// Cluster-wide pod watchers.
    #[arg(long, default_value_t = 10)]
    pub watchers: usize,
}

const MARKER: &str = "restart-marker";

pub async fn run(args: Args) -> Result<()> {
    if args.common.kubeconfig.is_some() {
        bail!("restart kills the API server: it runs only against a skiff server it starts itself (no --kubeconfig)");
    }
    let fsync = crate::common::fsync_latency();
    let mut target = Target::new(&args.common, "restart", args.nodes).await?;
    let api = target.api.clone();
    let ns = run_namespace("restart");
    eprintln!("restart: filling the store with {} pods on {} nodes", args.pods, args.nodes);
    density::fill(&api, &ns, args.pods, args.deployments).await?;
    let own = target.own.as_mut().context("own cluster")?;
    let store_mb = own.store_mb();

    // The watchers, from the current resourceVersion.
    let rv = api.get("/api/v1/pods?limit=1").await?["metadata"]["resourceVersion"].as_str().unwrap_or("").to_string();
    let marker_at: Arc<Mutex<Vec<Option<Instant>>>> = Arc::new(Mutex::new(vec![None; args.watchers]));
    let mut tasks = Vec::new();
    for w in 0..args.watchers {
        let (wapi, rv, marker_at) = (api.fresh()?, rv.clone(), marker_at.clone());
        tasks.push(tokio::spawn(async move {
            reflect::<PodLite, _>(&wapi, "/api/v1/pods", rv, move |kind, p, seen| {
                if kind != Seen::Deleted && p.metadata.name == MARKER {
                    marker_at.lock().expect("marker")[w] = Some(seen);
                    return ControlFlow::Break(());
                }
                ControlFlow::Continue(())
            })
            .await
        }));
    }
    // Let the watches open and the cluster settle.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let before = proc_figures(own.server_pid().unwrap_or(0));

    eprintln!("  kill -9 the server ({:.0} MB RSS) and start it again", before.rss_mb);
    let killed = Instant::now();
    if let Some(s) = own.server.as_mut() {
        s.kill9();
    }
    own.launch().await?;
    let ready = killed.elapsed();
    let pid = own.server_pid().unwrap_or(0);
    eprintln!("  /readyz {:.2} s after the kill", ready.as_secs_f64());

    // The marker: seen by every watcher once it has resynced, and run by a node once the
    // scheduler and the simulated nodes have.
    let marker = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": MARKER, "namespace": ns},
        "spec": {"containers": [{"name": "pause", "image": PAUSE}]}});
    let created = loop {
        match api.post(&format!("/api/v1/namespaces/{ns}/pods"), &marker).await {
            Ok(_) => break killed.elapsed(),
            Err(e) if killed.elapsed() > Duration::from_secs(60) => return Err(e),
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    };
    let mut progress = Progress::new();
    let running = loop {
        let p: PodLite = serde_json::from_value(api.get(&format!("/api/v1/namespaces/{ns}/pods/{MARKER}")).await?)?;
        let seen = marker_at.lock().expect("marker").iter().filter(|m| m.is_some()).count();
        progress.show(|| format!("watchers resynced {seen} / {}, marker pod {} ({:.0} s)", args.watchers, p.status.phase.as_deref().unwrap_or("-"), killed.elapsed().as_secs_f64()));
        if p.is_running() {
            break killed.elapsed();
        }
        if killed.elapsed() > Duration::from_secs(300) {
            bail!("the marker pod is not Running 300 s after the restart");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let mut stats = Vec::new();
    for t in tasks {
        match tokio::time::timeout(Duration::from_secs(300), t).await {
            Ok(Ok(Ok(s))) => stats.push(s),
            _ => bail!("a watcher did not resync within 300 s"),
        }
    }
    progress.done(&format!("all {} watchers resynced; marker pod Running {:.2} s after the kill", args.watchers, running.as_secs_f64()));
    let mut resync: Vec<f64> = marker_at.lock().expect("marker").iter().flatten().map(|t| t.saturating_duration_since(killed).as_secs_f64()).collect();
    let q = quantiles(&mut resync);
    let total: WatchStats = stats.iter().fold(WatchStats::default(), |a, s| WatchStats { events: a.events + s.events, rewatches: a.rewatches + s.rewatches, relists: a.relists + s.relists });
    // Give the restarted control plane's own informers a moment, then read its figures.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = proc_figures(pid);

    let mut report = Report::new(&format!("restart: kill -9 with {} pods stored ({} nodes, {} watchers)", args.pods, args.nodes, args.watchers));
    report.disk(&fsync);
    report.value("store", args.common.store.as_str());
    report.value("pods", args.pods);
    report.value("nodes", args.nodes);
    report.value("watchers", args.watchers);
    report.row("kill -9 → /readyz", format!("{:.2} s", ready.as_secs_f64()), "");
    report.value("readyz_s", ready.as_secs_f64());
    report.row("kill -9 → first create accepted", format!("{:.2} s", created.as_secs_f64()), "");
    report.value("first_create_s", created.as_secs_f64());
    report.row("kill -9 → every watcher resynced (saw the marker)", format!("{:.2} s (p50 {:.2} s)", q.max, q.p50), "");
    report.value("watchers_resynced_s", q.max);
    report.value("watchers_resynced_p50_s", q.p50);
    report.row("  how they recovered", format!("{} re-watches, {} relists of {} pods", total.rewatches, total.relists, args.pods), "");
    report.value("relists", total.relists);
    report.row("kill -9 → a new pod Running (scheduler, nodes resynced)", format!("{:.2} s", running.as_secs_f64()), "");
    report.value("new_pod_running_s", running.as_secs_f64());
    report.row("control plane RSS before the kill", format!("{:.1} MB", before.rss_mb), "< 400 MB");
    report.value("rss_before_mb", before.rss_mb);
    report.row("control plane RSS after the restart", format!("{:.1} MB (peak {:.1} MB)", after.rss_mb, after.peak_rss_mb), "< 400 MB");
    report.value("rss_after_mb", after.rss_mb);
    report.value("peak_rss_after_mb", after.peak_rss_mb);
    report.row("control plane CPU from start to resynced", format!("{:.1} s", after.cpu_s), "");
    report.value("restart_cpu_s", after.cpu_s);
    report.row("store on disk", format!("{store_mb:.1} MB"), "");
    report.value("store_mb", store_mb);
    if let Some(sim) = target.sim() {
        report.row("simulated nodes' process RSS", format!("{:.1} MB (peak {:.1} MB)", sim.rss_mb, sim.peak_rss_mb), "< 100 MB for 1,000 nodes");
        report.value("sim_rss_mb", sim.rss_mb);
    }
    let _ = common::cleanup(&target, &ns).await;
    report.finish(args.common.json.as_deref())
}
