//! Deployment: keeps each Deployment's pods at `replicas` running its current template,
//! through ReplicaSets named `<deployment>-<pod-template-hash>`. A template change rolls
//! out a new ReplicaSet (RollingUpdate within maxSurge/maxUnavailable, or Recreate:
//! all old pods gone first), scaling during a rollout is proportional, old ReplicaSets
//! stay at 0 for rollback up to revisionHistoryLimit, revisions are annotated
//! (`deployment.kubernetes.io/revision`, copied change-cause), a paused Deployment only
//! scales, and status reports replicas and the Available and Progressing conditions
//! (NewReplicaSetAvailable, ProgressDeadlineExceeded after progressDeadlineSeconds
//! without progress). `kubectl rollout undo` patches the template back from an old
//! ReplicaSet; that ReplicaSet then becomes the new one with the next revision.
//!
//! The decision is [`sync::plan`]; this module claims ReplicaSets (adopting orphans that
//! match, releasing those that stop matching) and applies the plan's writes in order.

pub mod sync;
pub mod util;

use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentStatus, ReplicaSet};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;

use crate::claims::{self, Candidate, Claim, Claimant};
use crate::informer::{Cached, Change, Informer};
use crate::pods::{controller_of, PodInfo};
use crate::queue::Queue;
use crate::selector::Selector;
use crate::{is_namespace_terminating, spawn_workers, Shared, SyncError};
use sync::{plan, Action, PodMap};

const WORKERS: usize = 5;
const COMPONENT: &str = "deployment-controller";

pub struct Controller {
    shared: Arc<Shared>,
    deployments: Arc<Informer<Deployment>>,
    replicasets: Arc<Informer<ReplicaSet>>,
    queue: Arc<Queue<String>>,
    recorder: crate::events::Recorder,
}

fn key_of<T: Cached>(o: &T) -> String {
    format!("{}/{}", o.namespace(), o.name())
}

fn rs_controller(rs: &ReplicaSet) -> Option<&OwnerReference> {
    rs.metadata.owner_references.as_deref().and_then(controller_of)
}

fn is_recreate(d: &Deployment) -> bool {
    !util::is_rolling_update(d)
}

pub fn start(shared: &Arc<Shared>, deployments: &Arc<Informer<Deployment>>, replicasets: &Arc<Informer<ReplicaSet>>) {
    let c = Arc::new(Controller {
        shared: shared.clone(),
        deployments: deployments.clone(),
        replicasets: replicasets.clone(),
        queue: Arc::new(Queue::new()),
        recorder: shared.recorder(COMPONENT),
    });
    let h = c.clone();
    deployments.on_change(move |change| h.queue.add(key_of(&**change.latest())));
    let h = c.clone();
    replicasets.on_change(move |change| h.rs_changed(change));
    let h = c.clone();
    shared.pods.on_change(move |change| {
        if let Change::Deleted(p) = change {
            h.pod_deleted(p);
        }
    });
    let w = c.clone();
    let caches: Vec<Arc<dyn crate::Synced>> = vec![deployments.store.clone(), replicasets.store.clone(), shared.pods.store.clone()];
    spawn_workers(c.queue.clone(), WORKERS, caches, move |key| {
        let w = w.clone();
        async move { w.sync(&key).await }
    });
}

impl Controller {
    fn resolve(&self, namespace: &str, r: &OwnerReference) -> Option<Arc<Deployment>> {
        if r.kind != "Deployment" {
            return None;
        }
        let d = self.deployments.store.get(namespace, &r.name)?;
        (d.metadata.uid.as_deref() == Some(r.uid.as_str())).then_some(d)
    }

    fn matching_deployments(&self, rs: &ReplicaSet) -> Vec<String> {
        let labels = rs.metadata.labels.clone().unwrap_or_default();
        self.deployments
            .store
            .list_namespace(rs.namespace())
            .iter()
            .filter(|d| {
                let sel = d.spec.as_ref().map(|s| &s.selector);
                matches!(Selector::from_label_selector(sel), Ok(s) if !s.is_everything() && s.matches(&labels))
            })
            .map(|d| key_of(&**d))
            .collect()
    }

    fn rs_changed(&self, change: &Change<ReplicaSet>) {
        match change {
            Change::Added(rs) | Change::Deleted(rs) => {
                match rs_controller(rs) {
                    Some(r) => {
                        if let Some(d) = self.resolve(rs.namespace(), r) {
                            self.queue.add(key_of(&*d));
                        }
                    }
                    None if matches!(change, Change::Added(_)) => {
                        for k in self.matching_deployments(rs) {
                            self.queue.add(k);
                        }
                    }
                    None => {}
                }
            }
            Change::Updated(old, new) => {
                let (old_ref, new_ref) = (rs_controller(old), rs_controller(new));
                if old_ref != new_ref {
                    if let Some(d) = old_ref.and_then(|r| self.resolve(old.namespace(), r)) {
                        self.queue.add(key_of(&*d));
                    }
                }
                match new_ref {
                    Some(r) => {
                        if let Some(d) = self.resolve(new.namespace(), r) {
                            self.queue.add(key_of(&*d));
                        }
                    }
                    None => {
                        if old.metadata.labels != new.metadata.labels || old_ref != new_ref {
                            for k in self.matching_deployments(new) {
                                self.queue.add(k);
                            }
                        }
                    }
                }
            }
        }
    }

    /// Recreate waits for old pods to go: a pod's deletion may unblock its Deployment.
    fn pod_deleted(&self, p: &PodInfo) {
        let Some(r) = p.controller().filter(|r| r.kind == "ReplicaSet") else { return };
        let Some(rs) = self.replicasets.store.get(&p.namespace, &r.name) else { return };
        if let Some(d) = rs_controller(&rs).and_then(|r| self.resolve(&p.namespace, r)) {
            if is_recreate(&d) {
                self.queue.add(key_of(&*d));
            }
        }
    }

    async fn sync(&self, key: &str) -> Result<(), SyncError> {
        let Some((ns, name)) = key.split_once('/') else { return Ok(()) };
        let Some(d) = self.deployments.store.get(ns, name) else { return Ok(()) };
        let selector = match Selector::from_label_selector(d.spec.as_ref().map(|s| &s.selector)) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("deployment {key}: invalid selector: {e}");
                return Ok(());
            }
        };
        // A selector of everything claims nothing (the plan only reports it).
        let owned = if selector.is_everything() { Vec::new() } else { self.claim_replicasets(&d, &selector).await? };
        let pods = if is_recreate(&d) { self.pod_map(&d, &selector, &owned) } else { PodMap::new() };
        let actions = plan(&d, owned, &pods, self.shared.clock.now());
        self.apply(key, &d, actions).await
    }

    async fn claim_replicasets(&self, d: &Deployment, selector: &Selector) -> Result<Vec<ReplicaSet>, SyncError> {
        let uid = d.metadata.uid.clone().unwrap_or_default();
        let me = Claimant { uid: &uid, namespace: d.namespace(), deleting: d.metadata.deletion_timestamp.is_some() };
        let mut owned = Vec::new();
        let mut adopt = Vec::new();
        let api: Api<ReplicaSet> = Api::namespaced(self.shared.client.clone(), d.namespace());
        for rs in self.replicasets.store.list_namespace(d.namespace()) {
            let labels = rs.metadata.labels.clone().unwrap_or_default();
            let c = Candidate { controller: rs_controller(&rs), namespace: rs.namespace(), deleting: rs.metadata.deletion_timestamp.is_some(), matches: selector.matches(&labels) };
            match claims::claim(&me, &c) {
                Claim::Owned => owned.push((*rs).clone()),
                Claim::Adopt => adopt.push(rs),
                Claim::Release => {
                    let patch = claims::release_patch(&uid, rs.metadata.uid.as_deref().unwrap_or(""));
                    match api.patch(rs.name(), &PatchParams::default(), &Patch::Strategic(&patch)).await {
                        Ok(_) => {}
                        Err(kube::Error::Api(s)) if s.code == 404 => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                Claim::Ignore => {}
            }
        }
        if !adopt.is_empty() && self.can_adopt(d).await? {
            let cref = claims::controller_ref("apps/v1", "Deployment", d.name(), &uid);
            for rs in adopt {
                let patch = claims::adopt_patch(&cref, rs.metadata.uid.as_deref().unwrap_or(""));
                match api.patch(rs.name(), &PatchParams::default(), &Patch::Strategic(&patch)).await {
                    Ok(adopted) => owned.push(adopted),
                    Err(kube::Error::Api(s)) if s.code == 404 => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(owned)
    }

    async fn can_adopt(&self, d: &Deployment) -> Result<bool, SyncError> {
        let api: Api<Deployment> = Api::namespaced(self.shared.client.clone(), d.namespace());
        match api.get(d.name()).await {
            Ok(fresh) => Ok(fresh.metadata.uid == d.metadata.uid && fresh.metadata.deletion_timestamp.is_none()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// The Deployment's pods by the ReplicaSet controlling them (inactive ones included:
    /// Recreate waits for every old pod to be gone).
    fn pod_map(&self, d: &Deployment, selector: &Selector, owned: &[ReplicaSet]) -> PodMap {
        let mut map: PodMap = owned.iter().filter_map(|rs| rs.metadata.uid.clone()).map(|u| (u, Vec::new())).collect();
        for p in self.shared.pods.store.list_namespace(d.namespace()) {
            if !selector.matches(&p.labels) {
                continue;
            }
            if let Some(list) = p.controller().and_then(|r| map.get_mut(&r.uid)) {
                list.push(p.clone());
            }
        }
        map
    }

    async fn apply(&self, key: &str, d: &Deployment, actions: Vec<Action>) -> Result<(), SyncError> {
        let ns = d.namespace();
        let rs_api: Api<ReplicaSet> = Api::namespaced(self.shared.client.clone(), ns);
        let d_api: Api<Deployment> = Api::namespaced(self.shared.client.clone(), ns);
        let mut d_rv = d.metadata.resource_version.clone();
        let mut rs_rv: HashMap<String, Option<String>> = HashMap::new();
        let reference = crate::events::reference(d);
        for action in actions {
            match action {
                Action::CreateReplicaSet(mut rs) => {
                    rs.metadata.creation_timestamp = None;
                    match rs_api.create(&PostParams::default(), &rs).await {
                        Ok(created) => {
                            rs_rv.insert(created.name().to_string(), created.metadata.resource_version);
                        }
                        Err(kube::Error::Api(s)) if s.code == 409 => return self.collision(d, &rs, &mut d_rv).await,
                        Err(e) if is_namespace_terminating(&e) => return Ok(()),
                        Err(e) => {
                            let msg = format!("Failed to create new replica set \"{}\": {}", rs.name(), crate::replicaset::api_message(&e));
                            if util::has_progress_deadline(d) {
                                let mut s = util::status_of(d);
                                util::set_condition(&mut s, util::new_condition("Progressing", "False", util::FAILED_RS_CREATE_REASON, &msg, self.shared.clock.now()));
                                let _ = self.write_status(d, &d_rv, s).await;
                            }
                            self.recorder.warning(reference.clone(), util::FAILED_RS_CREATE_REASON, msg);
                            return Err(e.into());
                        }
                    }
                }
                Action::UpdateReplicaSet(mut rs) => {
                    let name = rs.name().to_string();
                    if let Some(rv) = rs_rv.get(&name) {
                        rs.metadata.resource_version = rv.clone();
                    }
                    let updated = rs_api.replace(&name, &PostParams::default(), &rs).await?;
                    rs_rv.insert(name, updated.metadata.resource_version);
                }
                Action::DeleteReplicaSet(name) => match rs_api.delete(&name, &DeleteParams::default()).await {
                    Ok(_) => {}
                    Err(kube::Error::Api(s)) if s.code == 404 => {}
                    Err(e) => return Err(e.into()),
                },
                Action::SetRevision(rev) => {
                    let patch = json!({"metadata": {"annotations": {util::REVISION: rev}}});
                    let updated = d_api.patch(d.name(), &PatchParams::default(), &Patch::Merge(&patch)).await?;
                    d_rv = updated.metadata.resource_version;
                }
                Action::UpdateStatus(s) => {
                    d_rv = self.write_status(d, &d_rv, s).await?;
                }
                Action::Event { type_, reason, message } => self.recorder.event(reference.clone(), type_, reason, message),
                Action::RequeueAfter(after) => self.queue.add_after(key.to_string(), after),
            }
        }
        Ok(())
    }

    async fn write_status(&self, d: &Deployment, rv: &Option<String>, status: DeploymentStatus) -> Result<Option<String>, SyncError> {
        let api: Api<Deployment> = Api::namespaced(self.shared.client.clone(), d.namespace());
        let mut body = d.clone();
        body.metadata.resource_version = rv.clone();
        body.status = Some(status);
        let updated = api.replace_status(d.name(), &PostParams::default(), &body).await?;
        Ok(updated.metadata.resource_version)
    }

    /// The new ReplicaSet's name is taken: ours (the cache lags; retry) or a hash
    /// collision (bump collisionCount so that the next hash differs).
    async fn collision(&self, d: &Deployment, rs: &ReplicaSet, d_rv: &mut Option<String>) -> Result<(), SyncError> {
        let api: Api<ReplicaSet> = Api::namespaced(self.shared.client.clone(), d.namespace());
        let existing = api.get(rs.name()).await?;
        let ours = rs_controller(&existing).is_some_and(|r| Some(&r.uid) == d.metadata.uid.as_ref());
        if ours && util::equal_ignore_hash(&util::d_template(d), &util::template_of(&existing)) {
            return Err(SyncError::Other(format!("replica set {} exists; waiting for the cache", rs.name())));
        }
        let mut s = util::status_of(d);
        s.collision_count = Some(s.collision_count.unwrap_or(0) + 1);
        *d_rv = self.write_status(d, d_rv, s).await?;
        Err(SyncError::Other(format!("hash collision on replica set {}", rs.name())))
    }
}
