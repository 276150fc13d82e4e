//! StatefulSet: keeps pods `<name>-<start>` … `<name>-<start+replicas-1>` with stable
//! identities (hostname = pod name, subdomain = serviceName, whether that Service exists
//! or not; the `statefulset.kubernetes.io/pod-name` and `apps.kubernetes.io/pod-index`
//! labels) and, for each volumeClaimTemplate, a claim `<template>-<name>-<ordinal>` that
//! outlives its pod. OrderedReady creates them in order, each Running and Ready (and
//! available after minReadySeconds) before the next, and scales in from the highest
//! ordinal one at a time; Parallel does both at once. Template changes are recorded as
//! ControllerRevisions (status.currentRevision/updateRevision, `kubectl rollout
//! history|undo sts/…`) and rolled out per updateStrategy: RollingUpdate from the highest
//! ordinal down to the partition, one pod at a time, waiting for each replacement to be
//! Ready (a pod that never gets Ready halts it until it is fixed and deleted, as
//! upstream), or OnDelete. Failed pods are recreated. Claims carry the owner references
//! persistentVolumeClaimRetentionPolicy asks for, so that the garbage collector deletes
//! them with the set (whenDeleted) or with their scaled-down pod (whenScaled). Status
//! reports replicas, ready, current, updated and available replicas, both revisions,
//! collisionCount and observedGeneration.
//!
//! The decision is [`sync::plan`]; this module claims pods and revisions, keeps the
//! revisions, applies the plan's steps in order and writes the status.

pub mod sync;

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet, StatefulSetStatus};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;

use crate::claims::{self, Candidate, Claim, Claimant};
use crate::history;
use crate::informer::{Cached, Change, Informer};
use crate::pods::PodInfo;
use crate::queue::Queue;
use crate::replicaset::{api_message, slow_start_batches};
use crate::selector::Selector;
use crate::{is_namespace_terminating, spawn_workers, Shared, SyncError};
use sync::{Action, ClaimInfo, Set, UpdateRevision, POD_INDEX_LABEL, POD_NAME_LABEL};

const WORKERS: usize = 5;
const COMPONENT: &str = "statefulset-controller";

pub struct Controller {
    shared: Arc<Shared>,
    sets: Arc<Informer<StatefulSet>>,
    revisions: Arc<Informer<ControllerRevision>>,
    claims: Arc<Informer<ClaimInfo>>,
    queue: Arc<Queue<String>>,
    recorder: crate::events::Recorder,
}

fn key_of<T: Cached>(o: &T) -> String {
    format!("{}/{}", o.namespace(), o.name())
}

/// Registers the controller on the shared pod and revision informers and starts its own
/// StatefulSet and PersistentVolumeClaim watches.
pub fn start(shared: &Arc<Shared>, revisions: &Arc<Informer<ControllerRevision>>) {
    let c = Arc::new(Controller {
        shared: shared.clone(),
        sets: Informer::new(),
        revisions: revisions.clone(),
        claims: Informer::new(),
        queue: Arc::new(Queue::new()),
        recorder: shared.recorder(COMPONENT),
    });
    let h = c.clone();
    c.sets.on_change(move |change| h.queue.add(key_of(&**change.latest())));
    let h = c.clone();
    shared.pods.on_change(move |change| h.pod_changed(change));
    let h = c.clone();
    revisions.on_change(move |change| h.revision_changed(change));
    let h = c.clone();
    c.claims.on_change(move |change| {
        // A claim gone (or going) may unblock a pod waiting to be created.
        if matches!(change, Change::Deleted(_) | Change::Updated(..)) {
            let claim = change.latest();
            for s in h.sets.store.list_namespace(&claim.namespace) {
                if s.spec.as_ref().and_then(|s| s.volume_claim_templates.as_ref()).is_some_and(|t| !t.is_empty()) {
                    h.queue.add(key_of(&*s));
                }
            }
        }
    });
    let w = c.clone();
    let caches: Vec<Arc<dyn crate::Synced>> = vec![c.sets.store.clone(), revisions.store.clone(), c.claims.store.clone(), shared.pods.store.clone()];
    spawn_workers(c.queue.clone(), WORKERS, caches, move |key| {
        let w = w.clone();
        async move { w.sync(&key).await }
    });
    c.sets.start(Api::<StatefulSet>::all(shared.client.clone()), Some);
    c.claims.start(Api::<PersistentVolumeClaim>::all(shared.client.clone()), ClaimInfo::from_claim);
}

impl Controller {
    fn resolve(&self, namespace: &str, r: &OwnerReference) -> Option<Arc<StatefulSet>> {
        if r.kind != "StatefulSet" {
            return None;
        }
        let s = self.sets.store.get(namespace, &r.name)?;
        (s.metadata.uid.as_deref() == Some(r.uid.as_str())).then_some(s)
    }

    fn matching(&self, namespace: &str, labels: &BTreeMap<String, String>) -> Vec<Arc<StatefulSet>> {
        self.sets
            .store
            .list_namespace(namespace)
            .into_iter()
            .filter(|s| matches!(Selector::from_label_selector(s.spec.as_ref().map(|s| &s.selector)), Ok(sel) if !sel.is_everything() && sel.matches(labels)))
            .collect()
    }

    fn pod_changed(&self, change: &Change<PodInfo>) {
        match change {
            Change::Added(p) | Change::Deleted(p) => match p.controller() {
                Some(r) => {
                    if let Some(s) = self.resolve(&p.namespace, r) {
                        self.queue.add(key_of(&*s));
                    }
                }
                None if matches!(change, Change::Added(_)) => {
                    for s in self.matching(&p.namespace, &p.labels) {
                        self.queue.add(key_of(&*s));
                    }
                }
                None => {}
            },
            Change::Updated(old, new) => {
                let (old_ref, new_ref) = (old.controller(), new.controller());
                if old_ref != new_ref {
                    if let Some(s) = old_ref.and_then(|r| self.resolve(&old.namespace, r)) {
                        self.queue.add(key_of(&*s));
                    }
                }
                match new_ref {
                    Some(r) => {
                        let Some(s) = self.resolve(&new.namespace, r) else { return };
                        let key = key_of(&*s);
                        self.queue.add(key.clone());
                        let min_ready = s.spec.as_ref().and_then(|s| s.min_ready_seconds).unwrap_or(0);
                        if !old.ready && new.ready && min_ready > 0 {
                            self.queue.add_after(key, Duration::from_secs(min_ready as u64 + 1));
                        }
                    }
                    None => {
                        if old.labels != new.labels || old_ref != new_ref {
                            for s in self.matching(&new.namespace, &new.labels) {
                                self.queue.add(key_of(&*s));
                            }
                        }
                    }
                }
            }
        }
    }

    fn revision_changed(&self, change: &Change<ControllerRevision>) {
        let cr = change.latest();
        let owners = cr.metadata.owner_references.as_deref().unwrap_or_default();
        match crate::pods::controller_of(owners) {
            Some(r) => {
                if let Some(s) = self.resolve(cr.namespace(), r) {
                    self.queue.add(key_of(&*s));
                }
            }
            None => {
                let labels = cr.metadata.labels.clone().unwrap_or_default();
                for s in self.matching(cr.namespace(), &labels) {
                    self.queue.add(key_of(&*s));
                }
            }
        }
    }

    async fn sync(&self, key: &str) -> Result<(), SyncError> {
        let Some((ns, name)) = key.split_once('/') else { return Ok(()) };
        let Some(obj) = self.sets.store.get(ns, name) else { return Ok(()) };
        let set = Set::from(&obj);
        let selector = match Selector::from_label_selector(obj.spec.as_ref().map(|s| &s.selector)) {
            Ok(s) if !s.is_everything() => s,
            Ok(_) => return Ok(()),
            Err(e) => {
                tracing::warn!("statefulset {key}: invalid selector: {e}");
                return Ok(());
            }
        };
        let mut revisions = self.claim_revisions(&set, &selector).await?;
        let pods = self.claim_pods(&set, &selector).await?;
        history::sort(&mut revisions);

        let client = &self.shared.client;
        let mut collision_count = set.status.collision_count.unwrap_or(0);
        let update = match sync::update_revision(&set, &revisions, collision_count) {
            UpdateRevision::Latest(r) => r,
            UpdateRevision::Renumber(r, n) => Arc::new(history::set_number(client, &r, n).await?),
            UpdateRevision::Create(cr) => Arc::new(history::create(client, &set.parent, &cr, &mut collision_count).await?),
        };
        let current = sync::current_revision(&set, &revisions, &update);
        let templates = (history::template_of(&current), history::template_of(&update));
        let (Some(current_template), Some(update_template)) = templates else {
            return Err(SyncError::Other(format!("statefulset {key}: a revision holds no pod template")));
        };

        let now = self.shared.clock.now();
        let lookup = |claim: &str| self.claims.store.get(ns, claim);
        let plan = sync::plan(&set, current.name(), update.name(), collision_count, &pods, &lookup, now);
        let revs = Revisions { current: current.name(), update: update.name(), current_template: &current_template, update_template: &update_template };
        let mut result = Ok(());
        for step in plan.steps {
            if let Err(e) = self.run_step(&obj, &set, &revs, step).await {
                result = Err(e);
                break;
            }
        }

        let mut status = plan.status;
        sync::complete_rolling_update(&set, &mut status);
        if sync::status_changed(&set, &status) {
            self.write_status(&obj, sync::omit_empty(status.clone())).await?;
        }

        // Keep revisionHistoryLimit revisions beyond those in use.
        let mut live: HashSet<String> = [current.name().to_string(), update.name().to_string()].into();
        live.extend(pods.iter().map(|p| sync::pod_revision(p).to_string()));
        let api: Api<ControllerRevision> = Api::namespaced(client.clone(), ns);
        for name in history::to_truncate(&revisions, &live, set.revision_history_limit) {
            match api.delete(&name, &DeleteParams::default()).await {
                Ok(_) | Err(kube::Error::Api(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        if set.min_ready_seconds > 0 && status.available_replicas.unwrap_or(0) != set.replicas {
            self.queue.add_after(key.to_string(), Duration::from_secs(set.min_ready_seconds as u64));
        }
        result
    }

    /// Runs one step's actions in slow-start batches; the first error ends it.
    async fn run_step(&self, obj: &StatefulSet, set: &Set, revs: &Revisions<'_>, step: Vec<Action>) -> Result<(), SyncError> {
        let mut pos = 0;
        for batch in slow_start_batches(step.len(), 1) {
            let results = join_all(step[pos..pos + batch].iter().map(|a| self.act(obj, set, revs, a))).await;
            pos += batch;
            if let Some(e) = results.into_iter().find_map(Result::err) {
                return Err(e);
            }
        }
        Ok(())
    }

    fn event_ok(&self, obj: &StatefulSet, verb: &str, what: String) {
        let reason = format!("Successful{}{}", verb[..1].to_uppercase(), &verb[1..]);
        self.recorder.normal(crate::events::reference(obj), &reason, format!("{verb} {what} in StatefulSet {} successful", obj.name()));
    }

    fn event_failed(&self, obj: &StatefulSet, verb: &str, what: String, message: &str) {
        let reason = format!("Failed{}{}", verb[..1].to_uppercase(), &verb[1..]);
        self.recorder.warning(crate::events::reference(obj), &reason, format!("{verb} {what} in StatefulSet {} failed error: {message}", obj.name()));
    }

    async fn create_claims(&self, obj: &StatefulSet, pod: &str, claims: &[PersistentVolumeClaim]) -> Result<(), SyncError> {
        let api: Api<PersistentVolumeClaim> = Api::namespaced(self.shared.client.clone(), obj.namespace());
        for c in claims {
            let name = c.metadata.name.clone().unwrap_or_default();
            let _slot = self.shared.write_slot().await;
            match api.create(&PostParams::default(), c).await {
                Ok(_) => self.recorder.normal(crate::events::reference(obj), "SuccessfulCreate", format!("create Claim {name} Pod {pod} in StatefulSet {} success", obj.name())),
                Err(kube::Error::Api(s)) if s.code == 409 => {}
                Err(e) => {
                    let message = format!("failed to create PVC {name}: {}", api_message(&e));
                    self.recorder.warning(crate::events::reference(obj), "FailedCreate", format!("create Claim {name} for Pod {pod} in StatefulSet {} failed error: {message}", obj.name()));
                    return Err(SyncError::Other(message));
                }
            }
        }
        Ok(())
    }

    async fn act(&self, obj: &StatefulSet, set: &Set, revs: &Revisions<'_>, action: &Action) -> Result<(), SyncError> {
        let client = &self.shared.client;
        let pods: Api<Pod> = Api::namespaced(client.clone(), obj.namespace());
        match action {
            Action::CreatePod { ordinal, current, claims } => {
                let name = set.pod_name(*ordinal);
                if let Err(e) = self.create_claims(obj, &name, claims).await {
                    self.event_failed(obj, "create", format!("Pod {name}"), &e.to_string());
                    return Err(e);
                }
                let (template, revision) = if *current { (revs.current_template, revs.current) } else { (revs.update_template, revs.update) };
                let pod = sync::new_pod(set, template, *ordinal, revision);
                let _slot = self.shared.write_slot().await;
                match pods.create(&PostParams::default(), &pod).await {
                    Ok(_) => {
                        self.event_ok(obj, "create", format!("Pod {name}"));
                        Ok(())
                    }
                    // The cache lags behind: the pod is there.
                    Err(kube::Error::Api(s)) if s.code == 409 => Err(SyncError::Other(format!("pod {name} exists; waiting for the cache"))),
                    Err(e) if is_namespace_terminating(&e) => Ok(()),
                    Err(e) => {
                        self.event_failed(obj, "create", format!("Pod {name}"), &api_message(&e));
                        Err(e.into())
                    }
                }
            }
            Action::ClaimDeleting { ordinal, claim } => {
                let message = format!("pvc {claim} is being deleted");
                self.event_failed(obj, "create", format!("Pod {}", set.pod_name(*ordinal)), &message);
                Err(SyncError::Other(message))
            }
            Action::CreateClaims { pod, claims } => self.create_claims(obj, pod, claims).await,
            Action::DeletePod { name, why } => {
                tracing::debug!("statefulset {}/{}: deleting {name} ({why:?})", obj.namespace(), obj.name());
                let _slot = self.shared.write_slot().await;
                match pods.delete(name, &DeleteParams::default()).await {
                    Ok(_) => {
                        self.event_ok(obj, "delete", format!("Pod {name}"));
                        Ok(())
                    }
                    Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
                    Err(e) => {
                        self.event_failed(obj, "delete", format!("Pod {name}"), &api_message(&e));
                        Err(e.into())
                    }
                }
            }
            Action::UpdateIdentity { name, ordinal } => {
                let patch = json!({"metadata": {"labels": {POD_NAME_LABEL: name, POD_INDEX_LABEL: ordinal.to_string()}}});
                match pods.patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await {
                    Ok(_) => {
                        self.event_ok(obj, "update", format!("Pod {name}"));
                        Ok(())
                    }
                    Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
                    Err(e) => {
                        self.event_failed(obj, "update", format!("Pod {name}"), &api_message(&e));
                        Err(e.into())
                    }
                }
            }
            Action::UpdateClaimOwners { pod, claim, owners } => {
                let api: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), obj.namespace());
                let refs = if owners.is_empty() { serde_json::Value::Null } else { json!(owners) };
                let patch = json!({"metadata": {"ownerReferences": refs}});
                match api.patch(claim, &PatchParams::default(), &Patch::Merge(&patch)).await {
                    Ok(_) => Ok(()),
                    Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
                    Err(e) => {
                        self.event_failed(obj, "update", format!("Pod {pod}"), &api_message(&e));
                        Err(e.into())
                    }
                }
            }
        }
    }

    /// The set's revisions, adopting orphans that match its selector.
    async fn claim_revisions(&self, set: &Set, selector: &Selector) -> Result<Vec<Arc<ControllerRevision>>, SyncError> {
        let claims = history::claim(&set.parent, selector, &self.revisions.store.list_namespace(&set.parent.namespace));
        let mut owned = claims.owned;
        if !claims.adopt.is_empty() && !set.parent.deleting && self.fresh_uid(set).await?.as_deref() == Some(set.parent.uid.as_str()) {
            let cref = set.parent.controller_ref();
            for r in &claims.adopt {
                if let Some(adopted) = history::patch_owner(&self.shared.client, r, Some(&cref), &set.parent.uid).await? {
                    owned.push(Arc::new(adopted));
                }
            }
        }
        Ok(owned)
    }

    /// The uid of the set as stored now (None if it is gone or being deleted).
    async fn fresh_uid(&self, set: &Set) -> Result<Option<String>, SyncError> {
        let api: Api<StatefulSet> = Api::namespaced(self.shared.client.clone(), &set.parent.namespace);
        match api.get(&set.parent.name).await {
            Ok(fresh) if fresh.metadata.deletion_timestamp.is_none() => Ok(fresh.metadata.uid),
            Ok(_) => Ok(None),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The pods the set owns: members by name (`<set>-<ordinal>`) matching its selector,
    /// after adopting orphans and releasing pods that stopped matching.
    async fn claim_pods(&self, set: &Set, selector: &Selector) -> Result<Vec<Arc<PodInfo>>, SyncError> {
        let me = Claimant { uid: &set.parent.uid, namespace: &set.parent.namespace, deleting: set.parent.deleting };
        let api: Api<Pod> = Api::namespaced(self.shared.client.clone(), &set.parent.namespace);
        let (mut owned, mut adopt) = (Vec::new(), Vec::new());
        for p in self.shared.pods.store.list_namespace(&set.parent.namespace) {
            let matches = selector.matches(&p.labels) && sync::is_member(set, &p.name);
            let c = Candidate { controller: p.controller(), namespace: &p.namespace, deleting: p.deleting, matches };
            match claims::claim(&me, &c) {
                Claim::Owned => owned.push(p),
                Claim::Adopt => adopt.push(p),
                Claim::Release => {
                    match api.patch(&p.name, &PatchParams::default(), &Patch::Strategic(&claims::release_patch(&set.parent.uid, &p.uid))).await {
                        Ok(_) | Err(kube::Error::Api(_)) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                Claim::Ignore => {}
            }
        }
        if !adopt.is_empty() && self.fresh_uid(set).await?.as_deref() == Some(set.parent.uid.as_str()) {
            let cref = set.parent.controller_ref();
            for p in adopt {
                match api.patch(&p.name, &PatchParams::default(), &Patch::Strategic(&claims::adopt_patch(&cref, &p.uid))).await {
                    Ok(_) => owned.push(p),
                    Err(kube::Error::Api(_)) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(owned)
    }

    async fn write_status(&self, obj: &StatefulSet, status: StatefulSetStatus) -> Result<(), SyncError> {
        let api: Api<StatefulSet> = Api::namespaced(self.shared.client.clone(), obj.namespace());
        let mut body = obj.clone();
        body.status = Some(status);
        api.replace_status(obj.name(), &PostParams::default(), &body).await?;
        Ok(())
    }
}

/// The revisions pods are made from in this sync.
struct Revisions<'a> {
    current: &'a str,
    update: &'a str,
    current_template: &'a PodTemplateSpec,
    update_template: &'a PodTemplateSpec,
}
