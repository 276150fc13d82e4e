//! DaemonSet: keeps exactly one pod of each DaemonSet on every node it should run on
//! (nodeSelector, required node affinity, tolerations plus the ones every daemon pod gets)
//! and none elsewhere. A node that joins or is relabelled into the selector gets its pod;
//! one relabelled out (or tainted NoExecute) loses it. Pods are created pinned to their
//! node by a `matchFields metadata.name` node affinity and placed by the scheduler, which
//! also places them on cordoned nodes. Failed pods are deleted (with a per-node back-off)
//! and replaced. A template change records a ControllerRevision (`kubectl rollout
//! history|undo ds/…`) and rolls out per `updateStrategy`: OnDelete waits for pods to be
//! deleted; RollingUpdate replaces old pods keeping at most maxUnavailable nodes without
//! an available pod, or with maxSurge starts the new pod next to the old one first.
//! Status reports desired, current, ready, up-to-date, available, unavailable and
//! misscheduled numbers and observedGeneration.
//!
//! The decisions are [`sync`]'s pure functions; this module claims pods and revisions
//! (adopting orphans, releasing what stops matching) and applies the decisions.

pub mod nodes;
pub mod sync;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet, DaemonSetStatus};
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use parking_lot::Mutex;
use serde_json::json;
use tokio::time::Instant;

use crate::claims::{self, Candidate, Claim, Claimant};
use crate::expectations::Expectations;
use crate::history::{self, HASH_LABEL};
use crate::informer::{Cached, Change, Informer};
use crate::pods::PodInfo;
use crate::queue::Queue;
use crate::replicaset::{api_message, slow_start_batches, SLOW_START_INITIAL_BATCH};
use crate::selector::Selector;
use crate::{is_namespace_terminating, spawn_workers, Shared, SyncError};
use nodes::DaemonNode;
use sync::{Current, Daemon, NodePods};

const WORKERS: usize = 2;
const COMPONENT: &str = "daemonset-controller";
/// Upstream's BurstReplicas: creations or deletions per sync.
pub const BURST_REPLICAS: usize = 250;
/// The failed-pod back-off: 1 s doubling to 15 min (upstream's failedPodsBackoff).
const BACKOFF_INITIAL: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(15 * 60);

/// flowcontrol.Backoff, keyed by DaemonSet uid, generation and node.
#[derive(Default)]
struct Backoff {
    entries: Mutex<HashMap<String, (Duration, Instant)>>,
}

impl Backoff {
    fn remaining(&self, key: &str, now: Instant) -> Option<Duration> {
        let (backoff, last) = *self.entries.lock().get(key)?;
        let elapsed = now.saturating_duration_since(last);
        (elapsed < backoff).then(|| backoff - elapsed)
    }

    fn next(&self, key: &str, now: Instant) {
        let mut entries = self.entries.lock();
        let e = entries.entry(key.to_string()).or_insert((Duration::ZERO, now));
        e.0 = if e.0.is_zero() || now.saturating_duration_since(e.1) > 2 * BACKOFF_MAX { BACKOFF_INITIAL } else { (e.0 * 2).min(BACKOFF_MAX) };
        e.1 = now;
        // Forget entries long expired.
        entries.retain(|_, (_, last)| now.saturating_duration_since(*last) <= 2 * BACKOFF_MAX);
    }
}

pub struct Controller {
    shared: Arc<Shared>,
    daemonsets: Arc<Informer<DaemonSet>>,
    nodes: Arc<Informer<DaemonNode>>,
    revisions: Arc<Informer<ControllerRevision>>,
    queue: Arc<Queue<String>>,
    expectations: Expectations,
    recorder: crate::events::Recorder,
    backoff: Backoff,
}

fn key_of<T: Cached>(o: &T) -> String {
    format!("{}/{}", o.namespace(), o.name())
}

/// Registers the controller on the shared pod and revision informers and starts its own
/// DaemonSet and Node watches.
pub fn start(shared: &Arc<Shared>, revisions: &Arc<Informer<ControllerRevision>>) {
    let c = Arc::new(Controller {
        shared: shared.clone(),
        daemonsets: Informer::new(),
        nodes: Informer::new(),
        revisions: revisions.clone(),
        queue: Arc::new(Queue::new()),
        expectations: Expectations::new(),
        recorder: shared.recorder(COMPONENT),
        backoff: Backoff::default(),
    });
    let h = c.clone();
    c.daemonsets.on_change(move |change| {
        let key = key_of(&**change.latest());
        if let Change::Deleted(_) = change {
            h.expectations.delete(&key);
        }
        h.queue.add(key);
    });
    let h = c.clone();
    c.nodes.on_change(move |change| h.node_changed(change));
    let h = c.clone();
    shared.pods.on_change(move |change| h.pod_changed(change));
    let h = c.clone();
    revisions.on_change(move |change| h.revision_changed(change));
    let w = c.clone();
    let caches: Vec<Arc<dyn crate::Synced>> = vec![c.daemonsets.store.clone(), c.nodes.store.clone(), revisions.store.clone(), shared.pods.store.clone()];
    spawn_workers(c.queue.clone(), WORKERS, caches, move |key| {
        let w = w.clone();
        async move { w.sync(&key).await }
    });
    c.daemonsets.start(Api::<DaemonSet>::all(shared.client.clone()), Some);
    c.nodes.start(Api::<Node>::all(shared.client.clone()), DaemonNode::from_node);
}

impl Controller {
    fn resolve(&self, namespace: &str, r: &OwnerReference) -> Option<Arc<DaemonSet>> {
        if r.kind != "DaemonSet" {
            return None;
        }
        let ds = self.daemonsets.store.get(namespace, &r.name)?;
        (ds.metadata.uid.as_deref() == Some(r.uid.as_str())).then_some(ds)
    }

    /// DaemonSets of the namespace whose selector matches these labels.
    fn matching(&self, namespace: &str, labels: &std::collections::BTreeMap<String, String>) -> Vec<Arc<DaemonSet>> {
        self.daemonsets
            .store
            .list_namespace(namespace)
            .into_iter()
            .filter(|ds| {
                let sel = ds.spec.as_ref().map(|s| &s.selector);
                matches!(Selector::from_label_selector(sel), Ok(s) if !s.is_everything() && s.matches(labels))
            })
            .collect()
    }

    fn node_changed(&self, change: &Change<DaemonNode>) {
        let all = self.daemonsets.store.list();
        match change {
            Change::Added(n) | Change::Deleted(n) => {
                for ds in all {
                    if Daemon::from(&ds).should_run(n).0 {
                        self.queue.add(key_of(&*ds));
                    }
                }
            }
            Change::Updated(old, new) => {
                if old.same_placement(new) {
                    return;
                }
                for ds in all {
                    let d = Daemon::from(&ds);
                    if d.should_run(old) != d.should_run(new) {
                        self.queue.add(key_of(&*ds));
                    }
                }
            }
        }
    }

    fn pod_changed(&self, change: &Change<PodInfo>) {
        match change {
            Change::Added(p) => {
                if p.deleting {
                    return self.pod_deleted(p);
                }
                match p.controller() {
                    Some(r) => {
                        if let Some(ds) = self.resolve(&p.namespace, r) {
                            let key = key_of(&*ds);
                            self.expectations.creation_observed(&key);
                            self.queue.add(key);
                        }
                    }
                    None => {
                        for ds in self.matching(&p.namespace, &p.labels) {
                            self.queue.add(key_of(&*ds));
                        }
                    }
                }
            }
            Change::Updated(old, new) => {
                let (old_ref, new_ref) = (old.controller(), new.controller());
                if old_ref != new_ref {
                    if let Some(ds) = old_ref.and_then(|r| self.resolve(&old.namespace, r)) {
                        self.queue.add(key_of(&*ds));
                    }
                }
                match new_ref {
                    Some(r) => {
                        let Some(ds) = self.resolve(&new.namespace, r) else { return };
                        let key = key_of(&*ds);
                        if new.deleting && !old.deleting {
                            self.expectations.deletion_observed(&key, &new.key());
                        }
                        self.queue.add(key.clone());
                        let min_ready = ds.spec.as_ref().and_then(|s| s.min_ready_seconds).unwrap_or(0);
                        if !old.ready && new.ready && min_ready > 0 {
                            self.queue.add_after(key, Duration::from_secs(min_ready as u64 + 1));
                        }
                    }
                    None => {
                        if old.labels != new.labels || old_ref != new_ref {
                            for ds in self.matching(&new.namespace, &new.labels) {
                                self.queue.add(key_of(&*ds));
                            }
                        }
                    }
                }
            }
            Change::Deleted(p) => self.pod_deleted(p),
        }
    }

    fn pod_deleted(&self, p: &PodInfo) {
        if let Some(ds) = p.controller().and_then(|r| self.resolve(&p.namespace, r)) {
            let key = key_of(&*ds);
            self.expectations.deletion_observed(&key, &p.key());
            self.queue.add(key);
        }
    }

    fn revision_changed(&self, change: &Change<ControllerRevision>) {
        let cr = change.latest();
        let owners = cr.metadata.owner_references.as_deref().unwrap_or_default();
        match crate::pods::controller_of(owners) {
            Some(r) => {
                if let Some(ds) = self.resolve(cr.namespace(), r) {
                    self.queue.add(key_of(&*ds));
                }
            }
            None => {
                let labels = cr.metadata.labels.clone().unwrap_or_default();
                for ds in self.matching(cr.namespace(), &labels) {
                    self.queue.add(key_of(&*ds));
                }
            }
        }
    }

    async fn sync(&self, key: &str) -> Result<(), SyncError> {
        let Some((ns, name)) = key.split_once('/') else { return Ok(()) };
        let Some(ds) = self.daemonsets.store.get(ns, name) else {
            self.expectations.delete(key);
            return Ok(());
        };
        let d = Daemon::from(&ds);
        let selector = match Selector::from_label_selector(ds.spec.as_ref().map(|s| &s.selector)) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("daemonset {key}: invalid selector: {e}");
                return Ok(());
            }
        };
        if selector.is_everything() {
            self.recorder.warning(crate::events::reference(&*ds), "SelectingAll", "This daemon set is selecting all pods. A non-empty selector is required.");
            return Ok(());
        }
        // Its pods and revisions may be going too: nothing can be computed reliably.
        if d.parent.deleting {
            return Ok(());
        }
        let pods = self.claim_pods(&d, &selector).await?;
        let (hash, old) = self.construct_history(&ds, &d, &selector, &pods).await?;
        let nodes = self.nodes.store.list();
        let by_node = sync::pods_by_node(&pods);
        if !self.expectations.satisfied(key) {
            // Only status; observedGeneration waits for a sync that acts on this generation.
            return self.update_status(&ds, &d, &nodes, &by_node, &hash, false).await;
        }
        let result = self.update(key, &ds, &d, &nodes, &by_node, &hash, &old, &pods).await;
        let status = self.update_status(&ds, &d, &nodes, &by_node, &hash, true).await;
        result.and(status)
    }

    #[allow(clippy::too_many_arguments)]
    async fn update(&self, key: &str, ds: &DaemonSet, d: &Daemon, nodes: &[Arc<DaemonNode>], by_node: &NodePods, hash: &str, old: &[Arc<ControllerRevision>], pods: &[Arc<PodInfo>]) -> Result<(), SyncError> {
        let now = self.shared.clock.now();
        let at = Instant::now();
        let generation = d.status.observed_generation.unwrap_or(0);
        let backoff_key = |node: &str| format!("{}/{generation}/{node}", d.parent.uid);
        let m = sync::manage(d, nodes, by_node, hash, now, &|node| self.backoff.remaining(&backoff_key(node), at));
        let reference = crate::events::reference(ds);
        for e in &m.events {
            self.recorder.event(reference.clone(), e.type_, e.reason, e.message.clone());
        }
        for node in &m.failed_on {
            self.backoff.next(&backoff_key(node), at);
        }
        if let Some(after) = m.retry_after {
            self.queue.add_after(key.to_string(), after);
        }
        let acted = !m.create_on.is_empty() || !m.delete.is_empty();
        self.sync_nodes(key, ds, d, m.delete, m.create_on, hash).await?;
        if !acted && self.expectations.satisfied(key) {
            let (delete, create_on) = sync::rolling_update(d, nodes, by_node, hash, now);
            self.sync_nodes(key, ds, d, delete, create_on, hash).await?;
        }
        for name in sync::cleanup_history(d, old, pods) {
            let api: Api<ControllerRevision> = Api::namespaced(self.shared.client.clone(), &d.parent.namespace);
            match api.delete(&name, &DeleteParams::default()).await {
                Ok(_) | Err(kube::Error::Api(_)) => {}
                Err(e) => return Err(SyncError::Other(format!("failed to clean up revisions of DaemonSet: {e}"))),
            }
        }
        Ok(())
    }

    /// Deletes `delete` and creates a pod on each of `create_on` (at most
    /// [`BURST_REPLICAS`] of each), creations in slow-start batches (upstream `syncNodes`).
    async fn sync_nodes(&self, key: &str, ds: &DaemonSet, d: &Daemon, mut delete: Vec<String>, mut create_on: Vec<String>, hash: &str) -> Result<(), SyncError> {
        create_on.truncate(BURST_REPLICAS);
        delete.truncate(BURST_REPLICAS);
        if create_on.is_empty() && delete.is_empty() {
            return Ok(());
        }
        let ns = &d.parent.namespace;
        self.expectations.expect(key, create_on.len(), delete.iter().map(|n| format!("{ns}/{n}")));
        let api: Api<Pod> = Api::namespaced(self.shared.client.clone(), ns);
        let reference = crate::events::reference(ds);
        let mut errors = Vec::new();
        let mut pos = 0;
        for batch in slow_start_batches(create_on.len(), SLOW_START_INITIAL_BATCH) {
            let results = join_all(create_on[pos..pos + batch].iter().map(|node| {
                let (api, pod) = (api.clone(), d.new_pod(node, hash));
                async move {
                    let _slot = self.shared.write_slot().await;
                    api.create(&PostParams::default(), &pod).await
                }
            }))
            .await;
            pos += batch;
            let before = errors.len();
            for r in results {
                match r {
                    Ok(p) => self.recorder.normal(reference.clone(), "SuccessfulCreate", format!("Created pod: {}", p.metadata.name.unwrap_or_default())),
                    Err(e) if is_namespace_terminating(&e) => {}
                    Err(e) => {
                        self.expectations.creation_observed(key);
                        self.recorder.warning(reference.clone(), "FailedCreate", format!("Error creating: {}", api_message(&e)));
                        errors.push(api_message(&e));
                    }
                }
            }
            if errors.len() > before {
                // The rest is not attempted: the next sync tries again.
                for _ in pos..create_on.len() {
                    self.expectations.creation_observed(key);
                }
                break;
            }
        }
        let results = join_all(delete.iter().map(|name| {
            let api = api.clone();
            async move {
                let _slot = self.shared.write_slot().await;
                (name, api.delete(name, &DeleteParams::default()).await)
            }
        }))
        .await;
        for (name, r) in results {
            match r {
                Ok(_) => self.recorder.normal(reference.clone(), "SuccessfulDelete", format!("Deleted pod: {name}")),
                Err(e) => {
                    self.expectations.deletion_observed(key, &format!("{ns}/{name}"));
                    if !matches!(&e, kube::Error::Api(s) if s.code == 404) {
                        self.recorder.warning(reference.clone(), "FailedDelete", format!("Error deleting: {}", api_message(&e)));
                        errors.push(api_message(&e));
                    }
                }
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(SyncError::Other(errors.join("; ")))
        }
    }

    /// All pods of the namespace this DaemonSet controls, after adopting matching orphans
    /// and releasing owned pods that stopped matching (failed and terminating pods too).
    async fn claim_pods(&self, d: &Daemon, selector: &Selector) -> Result<Vec<Arc<PodInfo>>, SyncError> {
        let me = Claimant { uid: &d.parent.uid, namespace: &d.parent.namespace, deleting: d.parent.deleting };
        let mut owned = Vec::new();
        let mut adopt = Vec::new();
        let api: Api<Pod> = Api::namespaced(self.shared.client.clone(), &d.parent.namespace);
        for p in self.shared.pods.store.list_namespace(&d.parent.namespace) {
            let c = Candidate { controller: p.controller(), namespace: &p.namespace, deleting: p.deleting, matches: selector.matches(&p.labels) };
            match claims::claim(&me, &c) {
                Claim::Owned => owned.push(p),
                Claim::Adopt => adopt.push(p),
                Claim::Release => {
                    let patch = claims::release_patch(&d.parent.uid, &p.uid);
                    match api.patch(&p.name, &PatchParams::default(), &Patch::Strategic(&patch)).await {
                        Ok(_) | Err(kube::Error::Api(_)) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                Claim::Ignore => {}
            }
        }
        if !adopt.is_empty() && self.can_adopt(d).await? {
            let cref = d.parent.controller_ref();
            for p in adopt {
                match api.patch(&p.name, &PatchParams::default(), &Patch::Strategic(&claims::adopt_patch(&cref, &p.uid))).await {
                    Ok(_) => owned.push(p),
                    Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 || s.code == 422 => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(owned)
    }

    /// Before adopting, a fresh read: the DaemonSet must still exist and not be deleting.
    async fn can_adopt(&self, d: &Daemon) -> Result<bool, SyncError> {
        let api: Api<DaemonSet> = Api::namespaced(self.shared.client.clone(), &d.parent.namespace);
        match api.get(&d.parent.name).await {
            Ok(fresh) => Ok(fresh.metadata.uid.as_deref() == Some(d.parent.uid.as_str()) && fresh.metadata.deletion_timestamp.is_none()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// The hash of the current revision (created or renumbered if needed) and the old
    /// revisions (upstream `constructHistory`).
    async fn construct_history(&self, ds: &DaemonSet, d: &Daemon, selector: &Selector, pods: &[Arc<PodInfo>]) -> Result<(String, Vec<Arc<ControllerRevision>>), SyncError> {
        let client = &self.shared.client;
        let claims = history::claim(&d.parent, selector, &self.revisions.store.list_namespace(&d.parent.namespace));
        for r in &claims.release {
            history::patch_owner(client, r, None, &d.parent.uid).await?;
        }
        let mut owned = claims.owned;
        if !claims.adopt.is_empty() && self.can_adopt(d).await? {
            let cref = d.parent.controller_ref();
            for r in &claims.adopt {
                if let Some(adopted) = history::patch_owner(client, r, Some(&cref), &d.parent.uid).await? {
                    owned.push(Arc::new(adopted));
                }
            }
        }
        let plan = sync::construct_history(d, &owned);
        let api: Api<ControllerRevision> = Api::namespaced(client.clone(), &d.parent.namespace);
        let current = match plan.current {
            Current::Keep(c) => c,
            Current::Renumber(c, n) => Arc::new(history::set_number(client, &c, n).await?),
            Current::Create(cr) => Arc::new(self.snapshot(ds, &api, *cr).await?),
        };
        let hash = sync::hash_of(&current);
        for dup in &plan.duplicates {
            // Pods of the duplicate carry its hash: give them the kept one first.
            let dup_hash = sync::hash_of(dup);
            let pod_api: Api<Pod> = Api::namespaced(client.clone(), &d.parent.namespace);
            for p in pods.iter().filter(|p| p.labels.get(HASH_LABEL) == Some(&dup_hash)) {
                let patch = json!({"metadata": {"labels": {HASH_LABEL: hash}}});
                match pod_api.patch(&p.name, &PatchParams::default(), &Patch::Strategic(&patch)).await {
                    Ok(_) | Err(kube::Error::Api(_)) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            match api.delete(dup.name(), &DeleteParams::default()).await {
                Ok(_) | Err(kube::Error::Api(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok((hash, plan.old))
    }

    /// Creates the current revision; a name taken by another template bumps the
    /// DaemonSet's collisionCount so that the next sync names it differently.
    async fn snapshot(&self, ds: &DaemonSet, api: &Api<ControllerRevision>, cr: ControllerRevision) -> Result<ControllerRevision, SyncError> {
        let name = cr.name().to_string();
        match api.create(&PostParams::default(), &cr).await {
            Ok(created) => Ok(created),
            Err(kube::Error::Api(s)) if s.code == 409 => {
                let existing = api.get(&name).await?;
                if history::data_of(&existing) == history::data_of(&cr) {
                    return Ok(existing);
                }
                let ds_api: Api<DaemonSet> = Api::namespaced(self.shared.client.clone(), ds.namespace());
                let mut fresh = ds_api.get(ds.name()).await?;
                let status = fresh.status.get_or_insert_with(DaemonSetStatus::default);
                status.collision_count = Some(status.collision_count.unwrap_or(0) + 1);
                ds_api.replace_status(ds.name(), &PostParams::default(), &fresh).await?;
                Err(SyncError::Other(format!("hash collision on controller revision {name}")))
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn update_status(&self, ds: &DaemonSet, d: &Daemon, nodes: &[Arc<DaemonNode>], by_node: &NodePods, hash: &str, observe: bool) -> Result<(), SyncError> {
        let counts = sync::status(d, nodes, by_node, hash, self.shared.clock.now());
        if let Some(status) = sync::new_status(d, counts, observe) {
            let api: Api<DaemonSet> = Api::namespaced(self.shared.client.clone(), ds.namespace());
            let mut body = ds.clone();
            body.status = Some(status);
            api.replace_status(ds.name(), &PostParams::default(), &body).await?;
        }
        // Availability comes minReadySeconds after readiness: look again then.
        if d.min_ready_seconds > 0 && counts.ready != counts.available {
            self.queue.add_after(key_of(ds), Duration::from_secs(d.min_ready_seconds as u64));
        }
        Ok(())
    }
}
