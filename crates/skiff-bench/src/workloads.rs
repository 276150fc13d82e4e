//! `skiff-bench workloads`: the DaemonSet and StatefulSet controllers on N simulated nodes.
//!
//! 1. One DaemonSet (tolerates every taint, `sleep 3600`, small requests): the time from
//!    its create until `status.numberReady == desiredNumberScheduled ==` the number of
//!    nodes and a watch has seen that many of its pods Running. Then it is deleted and the
//!    time until its pods are gone is taken.
//! 2. A StatefulSet of `--replicas` (podManagementPolicy Parallel) with one
//!    volumeClaimTemplate (`data`, ReadWriteOnce, 1Gi, the default StorageClass: on skiff
//!    `local`, provisioner skiff.io/local, WaitForFirstConsumer): the time from its create
//!    until every claim is Bound, every pod Running and `status.readyReplicas` is the
//!    replica count; also until all pods were created and until all claims were Bound.
//!
//! Three watches (pods, claims, the workload object) record when each thing is first seen;
//! nothing is polled. A part that is not done after `--timeout` fails with what was still
//! missing.

use std::collections::{BTreeMap, HashMap};
use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::common::{ready_nodes, run_namespace, Api, Common, HasMeta, Meta, PodLite, Progress, Report, Seen, Target, Watched};
use crate::density::{self, PodWatch, Tracker};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub common: Common,
    /// Simulated nodes to start (ignored with --kubeconfig).
    #[arg(long, default_value_t = 1_000)]
    pub nodes: usize,
    /// Replicas of the StatefulSet (one claim each).
    #[arg(long, default_value_t = 1_000)]
    pub replicas: usize,
    /// Give up on a part after this many seconds.
    #[arg(long, default_value_t = 120)]
    pub timeout: u64,
}

const SLEEP_IMAGE: &str = "busybox";

fn sleep_container(mounts: Value) -> Value {
    json!({"name": "sleep", "image": SLEEP_IMAGE, "command": ["sleep", "3600"],
        "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}, "volumeMounts": mounts})
}

pub fn daemonset(ns: &str, name: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": name, "namespace": ns, "labels": {"skiff-bench": "true"}},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name, "skiff-bench": "true"}},
                "spec": {
                    "tolerations": [{"operator": "Exists"}],
                    "terminationGracePeriodSeconds": 1,
                    "containers": [sleep_container(json!([]))]
                }
            }
        }
    })
}

pub fn statefulset(ns: &str, name: &str, replicas: usize) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": name, "namespace": ns, "labels": {"skiff-bench": "true"}},
        "spec": {
            "replicas": replicas,
            "serviceName": name,
            "podManagementPolicy": "Parallel",
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name, "skiff-bench": "true"}},
                "spec": {
                    "terminationGracePeriodSeconds": 1,
                    "containers": [sleep_container(json!([{"name": "data", "mountPath": "/data"}]))]
                }
            },
            "volumeClaimTemplates": [{
                "metadata": {"name": "data"},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
            }]
        }
    })
}

// ---------------------------------------------------------------------------------------
// The objects as the watches read them.

#[derive(Deserialize, Default, Debug, Clone)]
#[serde(default, rename_all = "camelCase")]
pub struct DsStatus {
    pub desired_number_scheduled: usize,
    pub current_number_scheduled: usize,
    pub number_ready: usize,
    pub number_available: usize,
    pub updated_number_scheduled: usize,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct DsLite {
    metadata: Meta,
    status: DsStatus,
}

impl HasMeta for DsLite {
    fn meta(&self) -> &Meta {
        &self.metadata
    }
}

/// The DaemonSet is done when every one of `nodes` nodes has a Ready pod of it.
pub fn daemonset_ready(s: &DsStatus, nodes: usize) -> bool {
    s.desired_number_scheduled == nodes && s.number_ready == nodes
}

#[derive(Deserialize, Default, Debug, Clone)]
#[serde(default, rename_all = "camelCase")]
pub struct StsStatus {
    pub replicas: usize,
    pub ready_replicas: usize,
    pub current_replicas: usize,
    pub available_replicas: usize,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct StsLite {
    metadata: Meta,
    status: StsStatus,
}

impl HasMeta for StsLite {
    fn meta(&self) -> &Meta {
        &self.metadata
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PvcLite {
    metadata: Meta,
    spec: PvcSpec,
    status: PvcStatus,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct PvcSpec {
    volume_name: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PvcStatus {
    phase: Option<String>,
}

impl HasMeta for PvcLite {
    fn meta(&self) -> &Meta {
        &self.metadata
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PvLite {
    metadata: Meta,
    spec: PvSpec,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct PvSpec {
    claim_ref: Option<ClaimRef>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ClaimRef {
    namespace: String,
}

impl HasMeta for PvLite {
    fn meta(&self) -> &Meta {
        &self.metadata
    }
}

/// PersistentVolumes made for the claims of one namespace: when each was first seen.
#[derive(Default)]
struct Volumes {
    ns: String,
    seen: HashMap<String, Instant>,
}

/// Status of the one workload object in the namespace, and when it was first done.
struct Workload<S> {
    status: S,
    done: Option<Instant>,
}

/// The claims of a namespace: each one's phase, and when all `want` were first Bound.
#[derive(Default)]
pub struct Claims {
    pub phase: HashMap<String, String>,
    pub bound: usize,
    pub want: usize,
    pub all_bound: Option<Instant>,
    /// When each claim was first seen with its volume (spec.volumeName): upstream's
    /// scheduler binds the pod from then on (the claim's status.phase follows in a write
    /// of its own).
    pub volume_at: HashMap<String, Instant>,
}

impl Claims {
    pub fn on(&mut self, kind: Seen, name: String, phase: Option<String>, has_volume: bool, seen: Instant) {
        if kind != Seen::Deleted && has_volume {
            self.volume_at.entry(name.clone()).or_insert(seen);
        }
        let phase = phase.unwrap_or_else(|| "Pending".to_string());
        let old = if kind == Seen::Deleted { self.phase.remove(&name) } else { self.phase.insert(name.clone(), phase.clone()) };
        if old.as_deref() == Some("Bound") {
            self.bound -= 1;
        }
        if kind != Seen::Deleted && phase == "Bound" {
            self.bound += 1;
        }
        if self.all_bound.is_none() && self.want > 0 && self.bound >= self.want {
            self.all_bound = Some(seen);
        }
    }

    /// Claims per phase, e.g. "Pending 1000".
    pub fn phases(&self) -> String {
        let mut by: BTreeMap<&str, usize> = BTreeMap::new();
        for p in self.phase.values() {
            *by.entry(p.as_str()).or_default() += 1;
        }
        if by.is_empty() {
            return "none".to_string();
        }
        by.iter().map(|(p, n)| format!("{p} {n}")).collect::<Vec<_>>().join(", ")
    }
}

fn secs(t: Option<Instant>, t0: Instant) -> Option<f64> {
    t.map(|t| t.saturating_duration_since(t0).as_secs_f64())
}

fn fmt_s(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.2} s")).unwrap_or_else(|| "not reached".to_string())
}

/// When the last of the pods a tracker holds was first seen (ADDED).
fn last_added(t: &Tracker) -> Option<Instant> {
    t.pods.values().map(|p| p.added).max()
}

fn last_running(t: &Tracker) -> Option<Instant> {
    t.pods.values().filter_map(|p| p.running).max()
}

async fn pod_watch(api: &Api, ns: &str, want: usize) -> Result<Watched<Tracker>> {
    Watched::start::<PodLite, _>(api, &format!("/api/v1/namespaces/{ns}/pods"), Tracker { want_running: want, ..Default::default() }, |t: &mut Tracker, kind, p, seen| t.on(kind, p, seen)).await
}

// ---------------------------------------------------------------------------------------
// 1. DaemonSet.

async fn daemonset_part(api: &Api, ns: &str, nodes: usize, timeout: Duration, report: &mut Report) -> Result<()> {
    let name = "bench-ds";
    let pods = pod_watch(api, ns, nodes).await?;
    let ds = Watched::start::<DsLite, _>(api, &format!("/apis/apps/v1/namespaces/{ns}/daemonsets"), Workload { status: DsStatus::default(), done: None }, move |w: &mut Workload<DsStatus>, kind, d, seen| {
        if kind != Seen::Deleted {
            if w.done.is_none() && daemonset_ready(&d.status, nodes) {
                w.done = Some(seen);
            }
            w.status = d.status;
        }
        ControlFlow::Continue(())
    })
    .await?;
    eprintln!("  DaemonSet on {nodes} nodes");
    let t0 = Instant::now();
    api.post(&format!("/apis/apps/v1/namespaces/{ns}/daemonsets"), &daemonset(ns, name)).await?;
    let mut progress = Progress::new();
    let line = |pods: &Watched<Tracker>, ds: &Watched<Workload<DsStatus>>| {
        let (t, w) = (pods.lock(), ds.lock());
        format!(
            "DaemonSet: {} pods created, {} bound, {} Running; status: desired {}, scheduled {}, ready {} (want {nodes}) ({:.1} s)",
            t.pods.len(),
            t.bound,
            t.running,
            w.status.desired_number_scheduled,
            w.status.current_number_scheduled,
            w.status.number_ready,
            t0.elapsed().as_secs_f64()
        )
    };
    loop {
        let done = ds.lock().done.is_some() && pods.lock().running >= nodes;
        if done {
            progress.done(&line(&pods, &ds));
            break;
        }
        if t0.elapsed() > timeout {
            let msg = line(&pods, &ds);
            progress.done(&msg);
            bail!("DaemonSet not ready after {} s: {msg}", timeout.as_secs());
        }
        progress.show(|| line(&pods, &ds));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (t, status_at) = (pods.lock(), ds.lock().done);
    let created = secs(last_added(&t), t0);
    let running = secs(last_running(&t), t0);
    let status = secs(status_at, t0);
    let all = running.zip(status).map(|(a, b)| a.max(b));
    report.row(
        &format!("DaemonSet on {nodes} nodes: created → numberReady = desiredNumberScheduled = {nodes} and {nodes} pods Running"),
        fmt_s(all),
        "< 5 s",
    );
    report.value("daemonset_ready_s", all);
    report.row(&format!("  all {nodes} pods created (last ADDED seen)"), fmt_s(created), "");
    report.value("daemonset_pods_created_s", created);
    report.row(&format!("  all {nodes} pods Running (watch)"), fmt_s(running), "");
    report.value("daemonset_pods_running_s", running);
    report.row(&format!("  status.numberReady = {nodes}"), fmt_s(status), "");
    report.value("daemonset_status_ready_s", status);
    let s = density::startup(&t.pods, t0);
    report.row("  pod startup (created → Running, both seen by the watch)", s.latency.human(), "");
    report.value("daemonset_startup", s.latency.json());
    report.row("  of which created → bound (scheduler)", s.scheduling.human(), "");
    report.value("daemonset_created_to_bound", s.scheduling.json());
    Ok(())
}

/// Deletes the DaemonSet (Background) and waits until its pods are gone.
async fn delete_daemonset(api: &Api, ns: &str, timeout: Duration, report: &mut Report) -> Result<()> {
    let watch = PodWatch::start(api, ns, 0, true).await?;
    let total = watch.tracker.lock().expect("tracker").pods.len();
    let t0 = Instant::now();
    let bg = json!({"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"});
    api.delete(&format!("/apis/apps/v1/namespaces/{ns}/daemonsets/bench-ds"), Some(&bg)).await?;
    if total > 0 {
        watch.wait(timeout, |t| format!("DaemonSet deleted: {} of {total} pods gone ({:.0} s)", t.deleted, t0.elapsed().as_secs_f64())).await?;
    }
    let d = t0.elapsed().as_secs_f64();
    report.row(&format!("DaemonSet deleted (Background) → its {total} pods gone"), format!("{d:.2} s"), "");
    report.value("daemonset_delete_s", d);
    Ok(())
}

// ---------------------------------------------------------------------------------------
// 2. StatefulSet with a claim per pod.

async fn statefulset_part(api: &Api, ns: &str, replicas: usize, timeout: Duration, report: &mut Report) -> Result<()> {
    let name = "bench-sts";
    let pods = pod_watch(api, ns, replicas).await?;
    let claims = Watched::start::<PvcLite, _>(api, &format!("/api/v1/namespaces/{ns}/persistentvolumeclaims"), Claims { want: replicas, ..Default::default() }, |c: &mut Claims, kind, pvc, seen| {
        let has_volume = pvc.spec.volume_name.is_some_and(|v| !v.is_empty());
        c.on(kind, pvc.metadata.name, pvc.status.phase, has_volume, seen);
        ControlFlow::Continue(())
    })
    .await?;
    let volumes = Watched::start::<PvLite, _>(api, "/api/v1/persistentvolumes", Volumes { ns: ns.to_string(), ..Default::default() }, |v: &mut Volumes, kind, pv, seen| {
        if kind != Seen::Deleted && pv.spec.claim_ref.is_some_and(|c| c.namespace == v.ns) {
            v.seen.entry(pv.metadata.name).or_insert(seen);
        }
        ControlFlow::Continue(())
    })
    .await?;
    let sts = Watched::start::<StsLite, _>(api, &format!("/apis/apps/v1/namespaces/{ns}/statefulsets"), Workload { status: StsStatus::default(), done: None }, move |w: &mut Workload<StsStatus>, kind, s, seen| {
        if kind != Seen::Deleted {
            if w.done.is_none() && s.status.ready_replicas >= replicas {
                w.done = Some(seen);
            }
            w.status = s.status;
        }
        ControlFlow::Continue(())
    })
    .await?;
    eprintln!("  StatefulSet of {replicas} (Parallel), a 1Gi claim each");
    let t0 = Instant::now();
    api.post(&format!("/apis/apps/v1/namespaces/{ns}/statefulsets"), &statefulset(ns, name, replicas)).await?;
    let mut progress = Progress::new();
    let line = |pods: &Watched<Tracker>, claims: &Watched<Claims>, sts: &Watched<Workload<StsStatus>>| {
        let (t, c, w) = (pods.lock(), claims.lock(), sts.lock());
        let pvs = volumes.lock().seen.len();
        format!(
            "StatefulSet: {} claims ({}), {pvs} volumes, {} pods created, {} bound to a node, {} Running; status.readyReplicas {} of {replicas} ({:.1} s)",
            c.phase.len(),
            c.phases(),
            t.pods.len(),
            t.bound,
            t.running,
            w.status.ready_replicas,
            t0.elapsed().as_secs_f64()
        )
    };
    loop {
        let done = pods.lock().running >= replicas && claims.lock().all_bound.is_some() && sts.lock().done.is_some();
        if done {
            progress.done(&line(&pods, &claims, &sts));
            break;
        }
        if t0.elapsed() > timeout {
            let msg = line(&pods, &claims, &sts);
            progress.done(&msg);
            let (not_bound, not_running, created) = {
                let (t, c) = (pods.lock(), claims.lock());
                (replicas.saturating_sub(c.bound), replicas.saturating_sub(t.running), t.pods.len())
            };
            let detail = diagnose(api, ns, &pods, &claims).await;
            bail!(
                "StatefulSet not ready after {} s: {not_bound} of {replicas} claims not Bound, {not_running} of {replicas} pods not Running ({created} created); {msg}{detail}",
                timeout.as_secs()
            );
        }
        progress.show(|| line(&pods, &claims, &sts));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (t, c, ready_at) = (pods.lock(), claims.lock(), sts.lock().done);
    let created = secs(last_added(&t), t0);
    let running = secs(last_running(&t), t0);
    let bound = secs(c.all_bound, t0);
    let (pvs, provisioned) = {
        let v = volumes.lock();
        (v.seen.len(), if v.seen.len() >= replicas { secs(v.seen.values().max().copied(), t0) } else { None })
    };
    let status = secs(ready_at, t0);
    let all = [running, bound, status].into_iter().try_fold(0.0f64, |a, v| v.map(|v| a.max(v)));
    report.row(&format!("StatefulSet of {replicas} (Parallel, a 1Gi claim each): created → {replicas} claims Bound, pods Running, readyReplicas = {replicas}"), fmt_s(all), "< 15 s");
    report.value("statefulset_ready_s", all);
    report.row(&format!("  all {replicas} pods created (last ADDED seen)"), fmt_s(created), "");
    report.value("statefulset_pods_created_s", created);
    report.row(&format!("  all {replicas} volumes provisioned (PersistentVolume with a claimRef to the namespace seen)"), if provisioned.is_some() { fmt_s(provisioned) } else { format!("{pvs} of {replicas}") }, "");
    report.value("statefulset_volumes_provisioned_s", provisioned);
    report.row(&format!("  all {replicas} claims Bound"), fmt_s(bound), "");
    report.value("statefulset_claims_bound_s", bound);
    report.row(&format!("  all {replicas} pods Running (watch)"), fmt_s(running), "");
    report.value("statefulset_pods_running_s", running);
    report.row(&format!("  status.readyReplicas = {replicas}"), fmt_s(status), "");
    report.value("statefulset_status_ready_s", status);
    let s = density::startup(&t.pods, t0);
    report.row("  pod startup (created → Running, both seen by the watch)", s.latency.human(), "");
    report.value("statefulset_startup", s.latency.json());
    report.row("  of which created → bound (scheduler, with the claim's node selected)", s.scheduling.human(), "");
    report.value("statefulset_created_to_bound", s.scheduling.json());
    let early = bound_before_claim(&t, &c, name);
    report.row("  pods bound to a node before their claim had its volume (spec.volumeName; as two watches saw them)", format!("{early} of {replicas}"), "0 (upstream's PreBind waits for it)");
    report.value("statefulset_pods_bound_before_claim", early);
    Ok(())
}

/// Pods of the StatefulSet `sts` seen bound to a node before their claim `data-<pod>` was
/// seen with its volume (or never).
fn bound_before_claim(t: &Tracker, c: &Claims, sts: &str) -> usize {
    t.pods
        .iter()
        .filter(|(name, _)| name.starts_with(sts))
        .filter(|(name, p)| match (p.bound, c.volume_at.get(&format!("data-{name}"))) {
            (Some(b), Some(cb)) => b < *cb,
            (Some(_), None) => true,
            _ => false,
        })
        .count()
}

/// What one claim that is not Bound and one pod that is not Running say about themselves.
async fn diagnose(api: &Api, ns: &str, pods: &Watched<Tracker>, claims: &Watched<Claims>) -> String {
    let claim = claims.lock().phase.iter().filter(|(_, p)| p.as_str() != "Bound").map(|(n, _)| n.clone()).min();
    let pod = pods.lock().pods.iter().filter(|(_, t)| t.running.is_none()).map(|(n, _)| n.clone()).min();
    let mut out = String::new();
    if let Some(c) = claim {
        if let Ok(v) = api.get(&format!("/api/v1/namespaces/{ns}/persistentvolumeclaims/{c}")).await {
            let ann = &v["metadata"]["annotations"];
            out.push_str(&format!(
                "\n  e.g. claim {c}: phase {}, storageClassName {}, selected-node {}, volumeName {}",
                v["status"]["phase"].as_str().unwrap_or("-"),
                v["spec"]["storageClassName"].as_str().unwrap_or("-"),
                ann["volume.kubernetes.io/selected-node"].as_str().unwrap_or("-"),
                v["spec"]["volumeName"].as_str().unwrap_or("-"),
            ));
        }
    }
    if let Some(p) = pod {
        if let Ok(v) = api.get(&format!("/api/v1/namespaces/{ns}/pods/{p}")).await {
            let conds: Vec<String> = v["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| {
                    let msg = c["message"].as_str().map(|m| format!(": {m}")).unwrap_or_default();
                    format!("{}={} {}{msg}", c["type"].as_str().unwrap_or("?"), c["status"].as_str().unwrap_or("?"), c["reason"].as_str().unwrap_or(""))
                })
                .collect();
            out.push_str(&format!(
                "\n  e.g. pod {p}: phase {}, node {}, conditions [{}]",
                v["status"]["phase"].as_str().unwrap_or("-"),
                v["spec"]["nodeName"].as_str().unwrap_or("-"),
                conds.join("; ")
            ));
        }
    }
    out
}

pub async fn run(args: Args) -> Result<()> {
    let fsync = crate::common::fsync_latency();
    let target = Target::new(&args.common, "workloads", args.nodes).await?;
    let api = &target.api;
    let nodes = ready_nodes(api).await?;
    let ns = run_namespace("workloads");
    api.ensure_namespace(&ns).await?;
    let timeout = Duration::from_secs(args.timeout);
    let mut report = Report::new(&format!("workloads: a DaemonSet on {nodes} nodes; a StatefulSet of {} with a claim per pod", args.replicas));
    report.disk(&fsync);
    report.value("store", args.common.store.as_str());
    report.value("nodes", nodes);
    report.value("replicas", args.replicas);
    let cpu0 = target.baseline();
    eprintln!("workloads: {nodes} nodes");
    let mut failure = None;
    let ds = async {
        daemonset_part(api, &ns, nodes, timeout, &mut report).await?;
        delete_daemonset(api, &ns, timeout, &mut report).await
    }
    .await;
    if let Err(e) = ds {
        report.row("DaemonSet", format!("failed: {}", e.to_string().lines().next().unwrap_or("")), "");
        report.value("daemonset_error", e.to_string());
        failure = Some(e);
    }
    if failure.is_none() {
        if let Err(e) = statefulset_part(api, &ns, args.replicas, timeout, &mut report).await {
            report.row("StatefulSet", format!("failed after {} s (see below)", args.timeout), "< 15 s");
            report.value("statefulset_error", e.to_string());
            failure = Some(e);
        }
    }
    target.resources(&mut report, &cpu0);
    cleanup(&target, &ns).await;
    report.finish(args.common.json.as_deref())?;
    match failure {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// On a cluster given by kubeconfig: the workloads, their claims and the namespace.
async fn cleanup(target: &Target, ns: &str) {
    if target.own.is_some() {
        return;
    }
    let api = &target.api;
    let bg = json!({"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"});
    for path in [
        format!("/apis/apps/v1/namespaces/{ns}/daemonsets"),
        format!("/apis/apps/v1/namespaces/{ns}/statefulsets"),
        format!("/api/v1/namespaces/{ns}/pods"),
        format!("/api/v1/namespaces/{ns}/persistentvolumeclaims"),
    ] {
        let _ = api.delete(&path, Some(&bg)).await;
    }
    let _ = api.delete(&format!("/api/v1/namespaces/{ns}"), None).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_count_bound_once_and_time_the_last() {
        let mut c = Claims { want: 2, ..Default::default() };
        let t0 = Instant::now();
        c.on(Seen::Added, "a".into(), None, false, t0);
        c.on(Seen::Modified, "a".into(), Some("Bound".into()), true, t0);
        c.on(Seen::Modified, "a".into(), Some("Bound".into()), true, t0);
        assert_eq!((c.bound, c.all_bound), (1, None));
        c.on(Seen::Listed, "b".into(), Some("Pending".into()), true, t0);
        assert_eq!(c.phases(), "Bound 1, Pending 1");
        let t1 = t0 + Duration::from_millis(5);
        c.on(Seen::Modified, "b".into(), Some("Bound".into()), true, t1);
        assert_eq!((c.bound, c.all_bound), (2, Some(t1)));
        c.on(Seen::Deleted, "a".into(), Some("Bound".into()), true, t1);
        assert_eq!(c.bound, 1);
        assert_eq!(c.all_bound, Some(t1), "the first time stays");
        assert_eq!((c.volume_at.get("a"), c.volume_at.get("b")), (Some(&t0), Some(&t0)));
    }

    #[test]
    fn daemonset_ready_wants_every_node() {
        let s = DsStatus { desired_number_scheduled: 3, number_ready: 3, ..Default::default() };
        assert!(daemonset_ready(&s, 3));
        assert!(!daemonset_ready(&s, 4));
        assert!(!daemonset_ready(&DsStatus { desired_number_scheduled: 3, number_ready: 2, ..Default::default() }, 3));
    }

    #[test]
    fn objects_are_valid_json_shapes() {
        let s = statefulset("ns", "x", 5);
        assert_eq!(s["spec"]["replicas"], 5);
        assert_eq!(s["spec"]["volumeClaimTemplates"][0]["metadata"]["name"], "data");
        assert_eq!(s["spec"]["template"]["spec"]["containers"][0]["volumeMounts"][0]["name"], "data");
        assert_eq!(daemonset("ns", "d")["spec"]["template"]["spec"]["tolerations"][0]["operator"], "Exists");
    }
}
