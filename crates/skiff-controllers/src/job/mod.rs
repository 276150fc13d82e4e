//! Job: runs a Job's pods until `completions` of them succeeded (or, for a work queue
//! without completions, until one succeeded and the others finished), never more at
//! once than `parallelism` nor than the completions still missing; replaces failed pods
//! after an exponential back-off (10 s doubling, at most 6 min) until more than
//! `backoffLimit` failed (restartPolicy Never) or containers restarted that often
//! (OnFailure), then fails the Job with BackoffLimitExceeded; stops it after
//! `activeDeadlineSeconds` (DeadlineExceeded); applies the pod failure policy (FailJob,
//! Ignore, Count) and, for Indexed Jobs, one pod per completion index and the success
//! policy; deletes the pods of a suspended Job and starts again on resume.
//!
//! Every pod carries the `batch.kubernetes.io/job-tracking` finalizer until its result
//! is counted: a finished pod's uid is first written to `status.uncountedTerminatedPods`,
//! then its finalizer removed, then it moves to `succeeded` or `failed` — so no result is
//! lost or counted twice, whenever the controller stops. A finished Job gets the interim
//! SuccessCriteriaMet or FailureTarget condition first, and Complete or Failed once no
//! pod is left terminating or uncounted. Orphaned pods lose the finalizer.
//!
//! The decisions are the pure functions of [`sync`]; this file applies them.

pub mod intervals;
pub mod pod;
pub mod policy;
pub mod sync;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use k8s_openapi::api::batch::v1::{Job, JobStatus};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use parking_lot::Mutex;
use serde_json::json;

pub use pod::{facts as pod_facts, JobPod, JobPodFacts, COMPLETION_INDEX, TRACKING_FINALIZER};

use crate::claims::{self, Candidate, Claim, Claimant};
use crate::expectations::Expectations;
use crate::informer::{Cached, Change, Informer};
use crate::pods::PodInfo;
use crate::queue::Queue;
use crate::replicaset::{api_message, slow_start_batches};
use crate::selector::Selector;
use crate::{is_namespace_terminating, spawn_workers, Shared, SyncError};
use policy::Backoff;
use sync::{Done, Input, Manage};

const WORKERS: usize = 5;
/// Pod events are batched: a Job syncs at most once a second because of them.
const SYNC_BATCH: Duration = Duration::from_secs(1);
pub const CONTROLLER_NAME: &str = "kubernetes.io/job-controller";

fn key_of(job: &Job) -> String {
    format!("{}/{}", job.namespace(), job.name())
}

/// A Job another controller manages (`spec.managedBy`).
fn managed_elsewhere(job: &Job) -> bool {
    sync::spec(job).managed_by.as_deref().is_some_and(|m| m != CONTROLLER_NAME)
}

/// Uids whose finalizer removal was asked for, per Job (upstream
/// `uidTrackingExpectations`).
#[derive(Default)]
struct FinalizerExpectations(Mutex<HashMap<String, HashSet<String>>>);

impl FinalizerExpectations {
    fn expect(&self, key: &str, uids: impl IntoIterator<Item = String>) {
        self.0.lock().entry(key.to_string()).or_default().extend(uids);
    }
    fn observed(&self, key: &str, uid: &str) {
        let mut m = self.0.lock();
        if let Some(s) = m.get_mut(key) {
            s.remove(uid);
            if s.is_empty() {
                m.remove(key);
            }
        }
    }
    fn get(&self, key: &str) -> HashSet<String> {
        self.0.lock().get(key).cloned().unwrap_or_default()
    }
    fn delete(&self, key: &str) {
        self.0.lock().remove(key);
    }
}

pub struct Controller {
    shared: Arc<Shared>,
    jobs: Arc<Informer<Job>>,
    queue: Arc<Queue<String>>,
    orphans: Arc<Queue<String>>,
    expectations: Expectations,
    finalizers: FinalizerExpectations,
    backoffs: Mutex<HashMap<String, Backoff>>,
    recorder: crate::events::Recorder,
}

pub fn start(shared: &Arc<Shared>, jobs: &Arc<Informer<Job>>) {
    let c = Arc::new(Controller {
        shared: shared.clone(),
        jobs: jobs.clone(),
        queue: Arc::new(Queue::new()),
        orphans: Arc::new(Queue::new()),
        expectations: Expectations::new(),
        finalizers: FinalizerExpectations::default(),
        backoffs: Mutex::new(HashMap::new()),
        recorder: shared.recorder("job-controller"),
    });
    let h = c.clone();
    jobs.on_change(move |change| h.job_changed(change));
    let h = c.clone();
    shared.pods.on_change(move |change| h.pod_changed(change));
    let caches: Vec<Arc<dyn crate::Synced>> = vec![jobs.store.clone(), shared.pods.store.clone()];
    let w = c.clone();
    spawn_workers(c.queue.clone(), WORKERS, caches.clone(), move |key| {
        let w = w.clone();
        async move { w.sync(&key).await }
    });
    let w = c.clone();
    spawn_workers(c.orphans.clone(), 1, caches, move |key| {
        let w = w.clone();
        async move { w.sync_orphan(&key).await }
    });
}

impl Controller {
    fn job_changed(&self, change: &Change<Job>) {
        match change {
            Change::Added(j) => self.queue.add(key_of(j)),
            Change::Updated(old, new) => {
                let key = key_of(new);
                if old.metadata.generation == new.metadata.generation {
                    self.queue.add_after(key.clone(), SYNC_BATCH);
                } else {
                    self.queue.add(key.clone());
                }
                if sync::is_finished(new) {
                    self.cleanup_pod_finalizers(new);
                }
                let (old_ads, new_ads) = (sync::spec(old).active_deadline_seconds, sync::spec(new).active_deadline_seconds);
                if new_ads.is_some() && old_ads != new_ads {
                    if let Some(left) = new.status.as_ref().and_then(|s| sync::deadline_left(new, s, self.shared.clock.now())) {
                        self.queue.add_after(key, left);
                    }
                }
            }
            Change::Deleted(j) => {
                self.queue.add(key_of(j));
                self.cleanup_pod_finalizers(j);
            }
        }
    }

    /// The Job's pods that still hold the finalizer go to the orphan queue.
    fn cleanup_pod_finalizers(&self, job: &Job) {
        let uid = job.metadata.uid.as_deref().unwrap_or("");
        for p in self.shared.pods.store.list_namespace(job.namespace()) {
            if p.controller().is_some_and(|r| r.uid == uid) && p.has_tracking_finalizer() {
                self.orphans.add(p.key());
            }
        }
    }

    /// The Job a controller reference names, if it still is that Job.
    fn resolve(&self, namespace: &str, r: &OwnerReference) -> Option<Arc<Job>> {
        if r.kind != "Job" {
            return None;
        }
        let j = self.jobs.store.get(namespace, &r.name)?;
        (j.metadata.uid.as_deref() == Some(r.uid.as_str())).then_some(j)
    }

    /// Jobs whose selector matches an orphan pod.
    fn matching_jobs(&self, p: &PodInfo) -> Vec<String> {
        self.jobs
            .store
            .list_namespace(&p.namespace)
            .iter()
            .filter(|j| Selector::from_label_selector(sync::spec(j).selector.as_ref()).is_ok_and(|s| !s.is_everything() && s.matches(&p.labels)))
            .map(|j| key_of(j))
            .collect()
    }

    fn pod_changed(&self, change: &Change<PodInfo>) {
        match change {
            Change::Added(p) => {
                if p.deleting {
                    return self.pod_deleted(p, false);
                }
                if let Some(r) = p.controller() {
                    if let Some(j) = self.resolve(&p.namespace, r) {
                        let key = key_of(&j);
                        self.expectations.creation_observed(&key);
                        self.queue.add_after(key, SYNC_BATCH);
                    }
                    return;
                }
                if p.has_tracking_finalizer() {
                    self.orphans.add(p.key());
                }
                for key in self.matching_jobs(p) {
                    self.queue.add_after(key, SYNC_BATCH);
                }
            }
            Change::Updated(old, new) => {
                if new.deleting {
                    return self.pod_deleted(new, false);
                }
                let removed = !new.has_tracking_finalizer();
                let (old_ref, new_ref) = (old.controller(), new.controller());
                if old_ref != new_ref {
                    if let Some(j) = old_ref.and_then(|r| self.resolve(&old.namespace, r)) {
                        let key = key_of(&j);
                        if removed {
                            self.finalizers.observed(&key, &new.uid);
                        }
                        self.queue.add_after(key, SYNC_BATCH);
                    }
                }
                if let Some(r) = new_ref {
                    if let Some(j) = self.resolve(&new.namespace, r) {
                        let key = key_of(&j);
                        if removed {
                            self.finalizers.observed(&key, &new.uid);
                        }
                        self.queue.add_after(key, SYNC_BATCH);
                    } else if new.has_tracking_finalizer() && r.kind == "Job" {
                        self.orphans.add(new.key());
                    }
                    return;
                }
                if new.has_tracking_finalizer() {
                    self.orphans.add(new.key());
                }
                if old.labels != new.labels || old_ref != new_ref {
                    for key in self.matching_jobs(new) {
                        self.queue.add_after(key, SYNC_BATCH);
                    }
                }
            }
            Change::Deleted(p) => self.pod_deleted(p, true),
        }
    }

    fn pod_deleted(&self, p: &PodInfo, gone: bool) {
        let Some(r) = p.controller() else {
            if p.has_tracking_finalizer() && !gone {
                self.orphans.add(p.key());
            }
            return;
        };
        let job = self.resolve(&p.namespace, r);
        let Some(job) = job.filter(|j| !sync::is_finished(j)) else {
            if p.has_tracking_finalizer() && !gone {
                self.orphans.add(p.key());
            }
            return;
        };
        let key = key_of(&job);
        self.expectations.deletion_observed(&key, &p.key());
        if gone || !p.has_tracking_finalizer() {
            self.finalizers.observed(&key, &p.uid);
        }
        self.queue.add_after(key, SYNC_BATCH);
    }

    async fn sync(&self, key: &str) -> Result<(), SyncError> {
        let Some((ns, name)) = key.split_once('/') else { return Ok(()) };
        let Some(job) = self.jobs.store.get(ns, name) else {
            self.expectations.delete(key);
            self.finalizers.delete(key);
            self.backoffs.lock().remove(key);
            return Ok(());
        };
        if managed_elsewhere(&job) {
            return Ok(());
        }
        if sync::is_finished(&job) {
            self.backoffs.lock().remove(key);
            return Ok(());
        }
        if let Some(mode) = sync::spec(&job).completion_mode.as_deref() {
            if mode != "NonIndexed" && mode != "Indexed" {
                self.event(&job, &sync::Event { warning: true, reason: "UnknownCompletionMode".into(), message: "Skipped Job sync because completion mode is unknown".into() });
                return Ok(());
            }
        }
        let selector = match Selector::from_label_selector(sync::spec(&job).selector.as_ref()) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("Job {key}: invalid selector: {e}");
                return Ok(());
            }
        };
        // Expectations first: a pod created after this check is seen in the next sync.
        let satisfied = self.expectations.satisfied(key);
        let all = self.shared.pods.store.list_namespace(ns);
        let (pods, adopted) = self.claim(&job, &selector, &all).await?;
        let now = self.shared.clock.now();
        let input = Input {
            job: &job,
            pods: pods.iter().map(|p| &**p).collect(),
            adopted,
            expected_removals: self.finalizers.get(key),
            satisfied,
            backoff: self.backoffs.lock().get(key).copied().unwrap_or_default(),
            now,
        };
        let assessment = sync::assess(&input);
        if let Some(after) = assessment.requeue_after {
            self.queue.add_after(key.to_string(), after);
        }
        let manage = sync::manage(&input, &assessment);
        let (done, manage_err) = self.apply(&job, key, &manage).await;
        let concluded = sync::conclude(&input, &assessment, &manage, done);
        for e in &concluded.events {
            self.event(&job, e);
        }
        let terminating = concluded.terminating;
        let tracking = sync::track(&input, &assessment, concluded);

        // Write the uncounted pods (and interim conditions), then release the pods.
        let mut current: Job = (*job).clone();
        let mut status = tracking.status;
        let mut needs_flush = tracking.needs_flush;
        if needs_flush {
            current = self.write_status(&current, &status).await?;
            self.backoffs.lock().insert(key.to_string(), assessment.backoff);
            needs_flush = false;
        }
        let mut with_finalizer = tracking.with_finalizer;
        let release: Vec<Arc<PodInfo>> = tracking.release.iter().filter_map(|n| pods.iter().find(|p| &p.name == n).cloned()).collect();
        let mut release_err = None;
        if !release.is_empty() {
            self.finalizers.expect(key, release.iter().map(|p| p.uid.clone()));
            let results = join_all(release.iter().map(|p| self.remove_finalizer(p))).await;
            for (p, r) in release.iter().zip(results) {
                match r {
                    Ok(()) => {
                        with_finalizer.remove(&p.uid);
                    }
                    Err(e) => {
                        self.finalizers.observed(key, &p.uid);
                        release_err.get_or_insert(e);
                    }
                }
            }
        }
        if sync::clean_uncounted(&mut status, &with_finalizer) {
            needs_flush = true;
        }
        if let Some(e) = release_err {
            if needs_flush {
                self.write_status(&current, &status).await?;
            }
            return Err(e);
        }
        let finished = !tracking.reached_max && sync::enact_finished(&mut status, tracking.finished.as_ref(), terminating, now);
        if finished || needs_flush {
            self.write_status(&current, &status).await?;
            if finished {
                if let Some(f) = &tracking.finished {
                    for e in sync::finish_events(&job, &status, f) {
                        self.event(&job, &e);
                    }
                }
            }
        }
        match manage_err {
            Some(e) => Err(SyncError::Other(e)),
            None => Ok(()),
        }
    }

    /// The Job's pods: those it controls, and orphans its selector matches (adopted with
    /// the tracking finalizer); controlled pods that stopped matching are released.
    async fn claim(&self, job: &Job, selector: &Selector, all: &[Arc<PodInfo>]) -> Result<(Vec<Arc<PodInfo>>, HashSet<String>), SyncError> {
        let uid = job.metadata.uid.clone().unwrap_or_default();
        let me = Claimant { uid: &uid, namespace: job.namespace(), deleting: job.metadata.deletion_timestamp.is_some() };
        let mut owned = Vec::new();
        let mut adopt = Vec::new();
        let mut release = Vec::new();
        for p in all {
            let c = Candidate { controller: p.controller(), namespace: &p.namespace, deleting: p.deleting, matches: selector.matches(&p.labels) };
            match claims::claim(&me, &c) {
                Claim::Owned => owned.push(p.clone()),
                Claim::Adopt => adopt.push(p.clone()),
                Claim::Release => release.push(p.clone()),
                Claim::Ignore => {}
            }
        }
        let mut adopted = HashSet::new();
        if !adopt.is_empty() && self.can_adopt(job).await? {
            let owner = claims::controller_ref("batch/v1", "Job", job.name(), &uid);
            for p in adopt {
                let patch = json!({"metadata": {"ownerReferences": [owner], "finalizers": [TRACKING_FINALIZER], "uid": p.uid}});
                match self.patch_pod(&p, &patch).await {
                    Ok(()) => {
                        adopted.insert(p.uid.clone());
                        owned.push(p);
                    }
                    Err(e) if e.is_not_found() => {}
                    Err(e) => return Err(e),
                }
            }
        }
        for p in release {
            match self.patch_pod(&p, &claims::release_patch(&uid, &p.uid)).await {
                Ok(()) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
        Ok((owned, adopted))
    }

    async fn can_adopt(&self, job: &Job) -> Result<bool, SyncError> {
        let api: Api<Job> = Api::namespaced(self.shared.client.clone(), job.namespace());
        match api.get(job.name()).await {
            Ok(fresh) => Ok(fresh.metadata.uid == job.metadata.uid && fresh.metadata.deletion_timestamp.is_none()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    async fn patch_pod(&self, p: &PodInfo, patch: &serde_json::Value) -> Result<(), SyncError> {
        let _slot = self.shared.write_slot().await;
        let api: Api<Pod> = Api::namespaced(self.shared.client.clone(), &p.namespace);
        api.patch(&p.name, &PatchParams::default(), &Patch::Strategic(patch)).await?;
        Ok(())
    }

    /// Removes the tracking finalizer; a pod already gone counts as done.
    async fn remove_finalizer(&self, p: &PodInfo) -> Result<(), SyncError> {
        if !p.has_tracking_finalizer() {
            return Ok(());
        }
        let patch = json!({"metadata": {"$deleteFromPrimitiveList/finalizers": [TRACKING_FINALIZER]}});
        match self.patch_pod(p, &patch).await {
            Err(e) if !e.is_not_found() => Err(e),
            _ => Ok(()),
        }
    }

    fn event(&self, job: &Job, e: &sync::Event) {
        let r = crate::events::reference(job);
        if e.warning {
            self.recorder.warning(r, &e.reason, e.message.clone());
        } else {
            self.recorder.normal(r, &e.reason, e.message.clone());
        }
    }

    /// Carries out [`Manage`]: how many pods were created or deleted, and the first error.
    async fn apply(&self, job: &Arc<Job>, key: &str, m: &Manage) -> (Done, Option<String>) {
        let ns = job.namespace();
        let api: Api<Pod> = Api::namespaced(self.shared.client.clone(), ns);
        let pod = |name: &str| self.shared.pods.store.get(ns, name);
        match m {
            Manage::Nothing => (Done::default(), None),
            Manage::Wait(after) => {
                self.queue.add_after(key.to_string(), (*after).max(SYNC_BATCH));
                (Done::default(), None)
            }
            Manage::Terminate(names) | Manage::Remove(names) => {
                let remove = matches!(m, Manage::Remove(_));
                if remove {
                    self.expectations.expect_deletions(key, names.iter().map(|n| format!("{ns}/{n}")));
                }
                let results = join_all(names.iter().map(|name| {
                    let api = api.clone();
                    let p = pod(name);
                    async move {
                        if remove {
                            if let Some(p) = &p {
                                self.remove_finalizer(p).await.map_err(|e| e.to_string())?;
                            }
                        }
                        let _slot = self.shared.write_slot().await;
                        match api.delete(name, &DeleteParams::default()).await {
                            Ok(_) => Ok(p.is_some_and(|p| p.ready)),
                            Err(kube::Error::Api(s)) if s.code == 404 => Ok(p.is_some_and(|p| p.ready)),
                            Err(e) => Err(api_message(&e)),
                        }
                    }
                }))
                .await;
                let mut done = Done::default();
                let mut err = None;
                for (name, r) in names.iter().zip(results) {
                    match r {
                        Ok(ready) => {
                            done.count += 1;
                            done.ready += i32::from(ready);
                            self.recorder.normal(crate::events::reference(&**job), "SuccessfulDelete", format!("Deleted pod: {name}"));
                        }
                        Err(e) => {
                            if remove {
                                self.expectations.deletion_observed(key, &format!("{ns}/{name}"));
                            }
                            self.recorder.warning(crate::events::reference(&**job), "FailedDelete", format!("Error deleting: {e}"));
                            err.get_or_insert(e);
                        }
                    }
                }
                (done, err)
            }
            Manage::Create(indexes) => {
                let n = indexes.len();
                self.expectations.expect_creations(key, n);
                let mut done = Done::default();
                let mut failure: Option<kube::Error> = None;
                let mut next = 0;
                for batch in slow_start_batches(n, 1) {
                    let results = join_all(indexes[next..next + batch].iter().map(|ix| {
                        let api = api.clone();
                        let pod = sync::pod_from_template(job, *ix);
                        async move {
                            let _slot = self.shared.write_slot().await;
                            api.create(&PostParams::default(), &pod).await
                        }
                    }))
                    .await;
                    next += batch;
                    for r in results {
                        match r {
                            Ok(p) => {
                                done.count += 1;
                                let name = p.metadata.name.unwrap_or_default();
                                self.recorder.normal(crate::events::reference(&**job), "SuccessfulCreate", format!("Created pod: {name}"));
                            }
                            Err(e) => {
                                self.expectations.creation_observed(key);
                                failure.get_or_insert(e);
                            }
                        }
                    }
                    if failure.is_some() {
                        break;
                    }
                }
                for _ in next..n {
                    self.expectations.creation_observed(key);
                }
                match failure {
                    None => (done, None),
                    Some(e) if is_namespace_terminating(&e) => (done, None),
                    Some(e) => {
                        let message = api_message(&e);
                        self.recorder.warning(crate::events::reference(&**job), "FailedCreate", format!("Error creating: {message}"));
                        (done, Some(message))
                    }
                }
            }
        }
    }

    async fn write_status(&self, job: &Job, status: &JobStatus) -> Result<Job, SyncError> {
        let api: Api<Job> = Api::namespaced(self.shared.client.clone(), job.namespace());
        let mut updated = job.clone();
        updated.status = Some(status.clone());
        Ok(api.replace_status(job.name(), &PostParams::default(), &updated).await?)
    }

    /// Removes the tracking finalizer of a pod whose Job is gone or finished.
    async fn sync_orphan(&self, key: &str) -> Result<(), SyncError> {
        let Some((ns, name)) = key.split_once('/') else { return Ok(()) };
        let Some(p) = self.shared.pods.store.get(ns, name) else { return Ok(()) };
        if let Some(r) = p.controller() {
            if r.kind != "Job" || r.api_version != "batch/v1" {
                return Ok(());
            }
            if let Some(job) = self.resolve(ns, r) {
                if managed_elsewhere(&job) || !sync::is_finished(&job) {
                    return Ok(());
                }
            }
        }
        self.remove_finalizer(&p).await
    }
}

#[cfg(test)]
mod tests;
