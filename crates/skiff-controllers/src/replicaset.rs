//! ReplicaSet and ReplicationController: keeps `spec.replicas` active pods matching the
//! selector for every ReplicaSet (and ReplicationController, the same controller on the
//! older kind, as upstream does it). It adopts matching orphans and releases pods whose
//! labels stop matching; creates missing pods from the template in slow-start batches
//! (1, 2, 4, … at most 500 per sync) and deletes surplus pods in Kubernetes' order
//! (unscheduled, pending, not ready, … first); and reports replicas,
//! fullyLabeledReplicas, readyReplicas, availableReplicas (minReadySeconds),
//! observedGeneration and the ReplicaFailure condition in status. Template edits only
//! affect new pods. Expectations keep a lagging cache from causing double creations.

use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{ReplicaSet, ReplicaSetCondition, ReplicaSetStatus};
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec, ReplicationController};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::claims::{self, Candidate, Claim, Claimant};
use crate::expectations::Expectations;
use crate::informer::{Cached, Change, Informer};
use crate::pods::{pods_to_delete, PodInfo};
use crate::queue::Queue;
use crate::selector::Selector;
use crate::{is_namespace_terminating, spawn_workers, Shared, SyncError};

/// Upstream's burstReplicas: creations or deletions per sync.
pub const BURST_REPLICAS: usize = 500;
pub const SLOW_START_INITIAL_BATCH: usize = 1;
const WORKERS: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    ReplicaSet,
    ReplicationController,
}

impl Kind {
    pub fn api_version(self) -> &'static str {
        match self {
            Kind::ReplicaSet => "apps/v1",
            Kind::ReplicationController => "v1",
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Kind::ReplicaSet => "ReplicaSet",
            Kind::ReplicationController => "ReplicationController",
        }
    }
    pub fn component(self) -> &'static str {
        match self {
            Kind::ReplicaSet => "replicaset-controller",
            Kind::ReplicationController => "replication-controller",
        }
    }
}

/// A ReplicaSet or ReplicationController, as this controller sees it.
#[derive(Debug, Clone)]
pub struct Owner {
    pub kind: Kind,
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub generation: i64,
    pub deleting: bool,
    pub replicas: i32,
    pub min_ready_seconds: i32,
    pub selector: Result<Selector, String>,
    pub template: Option<PodTemplateSpec>,
    pub status: ReplicaSetStatus,
    /// The owner's own controller (a Deployment), whose other ReplicaSets' pods count
    /// as related when choosing pods to delete.
    pub controller_uid: Option<String>,
}

impl Owner {
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    pub fn controller_ref(&self) -> OwnerReference {
        claims::controller_ref(self.kind.api_version(), self.kind.name(), &self.name, &self.uid)
    }

    pub fn reference(&self) -> k8s_openapi::api::core::v1::ObjectReference {
        k8s_openapi::api::core::v1::ObjectReference {
            api_version: Some(self.kind.api_version().into()),
            kind: Some(self.kind.name().into()),
            name: Some(self.name.clone()),
            namespace: Some(self.namespace.clone()),
            uid: Some(self.uid.clone()),
            ..Default::default()
        }
    }
}

/// The kinds this controller runs on.
pub trait ReplicaKind:
    kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
    + Cached
    + Clone
    + std::fmt::Debug
    + Serialize
    + DeserializeOwned
    + Send
    + Sync
    + 'static
{
    const KIND: Kind;
    fn owner(&self) -> Owner;
    /// The selector and minReadySeconds alone (event handlers need no more).
    fn selector(&self) -> Result<Selector, String>;
    fn min_ready_seconds(&self) -> i32;
}

fn meta_common(m: &ObjectMeta) -> (String, String, String, i64, bool, Option<String>) {
    (
        m.namespace.clone().unwrap_or_default(),
        m.name.clone().unwrap_or_default(),
        m.uid.clone().unwrap_or_default(),
        m.generation.unwrap_or(0),
        m.deletion_timestamp.is_some(),
        m.owner_references.as_deref().and_then(crate::pods::controller_of).map(|o| o.uid.clone()),
    )
}

impl ReplicaKind for ReplicaSet {
    const KIND: Kind = Kind::ReplicaSet;
    fn selector(&self) -> Result<Selector, String> {
        Selector::from_label_selector(self.spec.as_ref().map(|s| &s.selector))
    }
    fn min_ready_seconds(&self) -> i32 {
        self.spec.as_ref().and_then(|s| s.min_ready_seconds).unwrap_or(0)
    }
    fn owner(&self) -> Owner {
        let (namespace, name, uid, generation, deleting, controller_uid) = meta_common(&self.metadata);
        let spec = self.spec.clone().unwrap_or_default();
        Owner {
            kind: Kind::ReplicaSet,
            namespace,
            name,
            uid,
            generation,
            deleting,
            replicas: spec.replicas.unwrap_or(1),
            min_ready_seconds: self.min_ready_seconds(),
            selector: self.selector(),
            template: spec.template,
            status: self.status.clone().unwrap_or_default(),
            controller_uid,
        }
    }
}

impl ReplicaKind for ReplicationController {
    const KIND: Kind = Kind::ReplicationController;
    fn selector(&self) -> Result<Selector, String> {
        Ok(match self.spec.as_ref().and_then(|s| s.selector.as_ref()) {
            Some(m) => Selector::from_map(m),
            None => Selector::nothing(),
        })
    }
    fn min_ready_seconds(&self) -> i32 {
        self.spec.as_ref().and_then(|s| s.min_ready_seconds).unwrap_or(0)
    }
    fn owner(&self) -> Owner {
        let (namespace, name, uid, generation, deleting, controller_uid) = meta_common(&self.metadata);
        let spec = self.spec.clone().unwrap_or_default();
        // The same fields under the same names: convert through JSON.
        let status = self.status.as_ref().and_then(|s| serde_json::to_value(s).ok()).and_then(|v| serde_json::from_value(v).ok()).unwrap_or_default();
        Owner {
            kind: Kind::ReplicationController,
            namespace,
            name,
            uid,
            generation,
            deleting,
            replicas: spec.replicas.unwrap_or(1),
            min_ready_seconds: self.min_ready_seconds(),
            selector: self.selector(),
            template: spec.template,
            status,
            controller_uid,
        }
    }
}

/// The pods an owner owns, and those it must adopt or release.
#[derive(Debug, Default)]
pub struct Claims {
    pub owned: Vec<Arc<PodInfo>>,
    pub adopt: Vec<Arc<PodInfo>>,
    pub release: Vec<Arc<PodInfo>>,
}

/// Sorts active pods of the owner's namespace by claim.
pub fn claim_pods(owner: &Owner, selector: &Selector, active: &[Arc<PodInfo>]) -> Claims {
    let me = Claimant { uid: &owner.uid, namespace: &owner.namespace, deleting: owner.deleting };
    let mut out = Claims::default();
    for p in active {
        let c = Candidate { controller: p.controller(), namespace: &p.namespace, deleting: p.deleting, matches: selector.matches(&p.labels) };
        match claims::claim(&me, &c) {
            Claim::Owned => out.owned.push(p.clone()),
            Claim::Adopt => out.adopt.push(p.clone()),
            Claim::Release => out.release.push(p.clone()),
            Claim::Ignore => {}
        }
    }
    out
}

#[derive(Debug, PartialEq)]
pub enum Manage {
    Nothing,
    Create(usize),
    /// Pod names, in deletion order.
    Delete(Vec<String>),
}

/// How many pods to create, or which to delete (at most [`BURST_REPLICAS`]).
pub fn manage_replicas(owner: &Owner, pods: &[Arc<PodInfo>], related: &[Arc<PodInfo>], now: Timestamp) -> Manage {
    let want = owner.replicas.max(0) as usize;
    let have = pods.len();
    if have < want {
        Manage::Create((want - have).min(BURST_REPLICAS))
    } else if have > want {
        let n = (have - want).min(BURST_REPLICAS);
        Manage::Delete(pods_to_delete(pods, related, n, now).into_iter().map(|p| p.name.clone()).collect())
    } else {
        Manage::Nothing
    }
}

/// Batch sizes for `count` creations: initial, doubling (upstream `slowStartBatch`).
pub fn slow_start_batches(count: usize, initial: usize) -> Vec<usize> {
    let mut out = Vec::new();
    let mut remaining = count;
    let mut batch = remaining.min(initial.max(1));
    while batch > 0 {
        out.push(batch);
        remaining -= batch;
        batch = (2 * batch).min(remaining);
    }
    out
}

/// A manageReplicas failure, for the ReplicaFailure condition.
#[derive(Debug, Clone, PartialEq)]
pub struct ManageError(pub String);

/// The status the owner should have (upstream `calculateStatus` + observedGeneration).
pub fn calculate_status(owner: &Owner, pods: &[Arc<PodInfo>], err: Option<&ManageError>, now: Timestamp) -> ReplicaSetStatus {
    let template_labels = owner.template.as_ref().and_then(|t| t.metadata.as_ref()).and_then(|m| m.labels.clone()).unwrap_or_default();
    let fully_labeled = Selector::from_map(&template_labels);
    let mut status = owner.status.clone();
    let (mut full, mut ready, mut available) = (0, 0, 0);
    for p in pods {
        if fully_labeled.matches(&p.labels) {
            full += 1;
        }
        if p.ready {
            ready += 1;
            if p.is_available(owner.min_ready_seconds, now) {
                available += 1;
            }
        }
    }
    let mut conditions = status.conditions.take().unwrap_or_default();
    let has_failure = conditions.iter().any(|c| c.type_ == "ReplicaFailure");
    match err {
        Some(ManageError(message)) if !has_failure => {
            let diff = pods.len() as i64 - i64::from(owner.replicas);
            let reason = if diff < 0 {
                "FailedCreate"
            } else if diff > 0 {
                "FailedDelete"
            } else {
                ""
            };
            conditions.push(ReplicaSetCondition {
                type_: "ReplicaFailure".into(),
                status: "True".into(),
                reason: Some(reason.into()),
                message: Some(message.clone()),
                last_transition_time: Some(Time(crate::clock::truncate(now))),
            });
        }
        None if has_failure => conditions.retain(|c| c.type_ != "ReplicaFailure"),
        _ => {}
    }
    status.conditions = if conditions.is_empty() { None } else { Some(conditions) };
    status.replicas = pods.len() as i32;
    status.fully_labeled_replicas = nonzero(full);
    status.ready_replicas = nonzero(ready);
    status.available_replicas = nonzero(available);
    status.observed_generation = Some(owner.generation);
    status
}

/// Go's omitempty: zero counts are left out, as upstream's objects show them.
fn nonzero(n: i32) -> Option<i32> {
    (n != 0).then_some(n)
}

fn normalized(s: &ReplicaSetStatus) -> ReplicaSetStatus {
    let mut s = s.clone();
    for f in [&mut s.fully_labeled_replicas, &mut s.ready_replicas, &mut s.available_replicas] {
        if *f == Some(0) {
            *f = None;
        }
    }
    if s.conditions.as_ref().is_some_and(Vec::is_empty) {
        s.conditions = None;
    }
    s
}

pub fn status_changed(owner: &Owner, new: &ReplicaSetStatus) -> bool {
    normalized(&owner.status) != normalized(new)
}

/// When all replicas are ready but some not yet available, look again after
/// minReadySeconds.
pub fn availability_recheck(owner: &Owner, status: &ReplicaSetStatus) -> Option<Duration> {
    let ready = status.ready_replicas.unwrap_or(0);
    let available = status.available_replicas.unwrap_or(0);
    (owner.min_ready_seconds > 0 && ready == owner.replicas && available != owner.replicas)
        .then(|| Duration::from_secs(owner.min_ready_seconds as u64))
}

/// The pod a controller creates from its template (upstream `GetPodFromTemplate`).
pub fn pod_from_template(owner: &Owner) -> Pod {
    let template = owner.template.clone().unwrap_or_default();
    let meta = template.metadata.unwrap_or_default();
    // A prefix that would make an invalid name drops the dash, as upstream.
    let prefix = format!("{}-", owner.name);
    let generate_name = if prefix.len() <= 253 { prefix } else { owner.name.clone() };
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(generate_name),
            namespace: Some(owner.namespace.clone()),
            labels: meta.labels,
            annotations: meta.annotations,
            finalizers: meta.finalizers,
            owner_references: Some(vec![owner.controller_ref()]),
            ..Default::default()
        },
        spec: template.spec,
        status: None,
    }
}

/// The active pods of the owner's family: those matched by the ReplicaSets that have the
/// same controller (upstream `getIndirectlyRelatedPods`).
pub fn related_pods(owner: &Owner, siblings: &[Owner], active: &[Arc<PodInfo>]) -> Vec<Arc<PodInfo>> {
    let Some(controller) = &owner.controller_uid else { return Vec::new() };
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for s in siblings.iter().filter(|s| s.controller_uid.as_ref() == Some(controller)) {
        let Ok(sel) = &s.selector else { continue };
        for p in active.iter().filter(|p| sel.matches(&p.labels)) {
            if seen.insert(p.uid.clone()) {
                out.push(p.clone());
            }
        }
    }
    out
}

/// The controller for one kind.
pub struct Controller<K: ReplicaKind> {
    shared: Arc<Shared>,
    owners: Arc<Informer<K>>,
    queue: Arc<Queue<String>>,
    expectations: Arc<Expectations>,
    recorder: crate::events::Recorder,
}

pub fn start<K: ReplicaKind>(shared: &Arc<Shared>, owners: &Arc<Informer<K>>) {
    let c = Arc::new(Controller {
        shared: shared.clone(),
        owners: owners.clone(),
        queue: Arc::new(Queue::new()),
        expectations: Arc::new(Expectations::new()),
        recorder: shared.recorder(K::KIND.component()),
    });
    let h = c.clone();
    owners.on_change(move |change| match change {
        Change::Added(o) | Change::Updated(_, o) => h.queue.add(key_of(&**o)),
        Change::Deleted(o) => {
            let key = key_of(&**o);
            h.expectations.delete(&key);
            h.queue.add(key);
        }
    });
    let h = c.clone();
    shared.pods.on_change(move |change| h.pod_changed(change));
    let w = c.clone();
    spawn_workers(c.queue.clone(), WORKERS, vec![owners.store.clone() as Arc<dyn crate::Synced>, shared.pods.store.clone()], move |key| {
        let w = w.clone();
        async move { w.sync(&key).await }
    });
}

fn key_of<T: Cached>(o: &T) -> String {
    format!("{}/{}", o.namespace(), o.name())
}

impl<K: ReplicaKind> Controller<K> {
    /// The owner a controller reference names, if it is of this kind and still the same object.
    fn resolve(&self, namespace: &str, r: &OwnerReference) -> Option<Arc<K>> {
        if r.kind != K::KIND.name() {
            return None;
        }
        let o = self.owners.store.get(namespace, &r.name)?;
        (o.meta().uid.as_deref() == Some(r.uid.as_str())).then_some(o)
    }

    /// Owners in the pod's namespace whose selector matches it.
    fn matching_owners(&self, pod: &PodInfo) -> Vec<String> {
        self.owners
            .store
            .list_namespace(&pod.namespace)
            .iter()
            .filter(|o| matches!(o.selector(), Ok(s) if !s.is_everything() && s.matches(&pod.labels)))
            .map(|o| key_of(&**o))
            .collect()
    }

    fn pod_changed(&self, change: &Change<PodInfo>) {
        match change {
            Change::Added(p) => {
                if p.deleting {
                    return self.pod_deleted(p);
                }
                if let Some(r) = p.controller() {
                    if let Some(o) = self.resolve(&p.namespace, r) {
                        let key = key_of(&*o);
                        self.expectations.creation_observed(&key);
                        self.queue.add(key);
                    }
                    return;
                }
                for key in self.matching_owners(p) {
                    self.queue.add(key);
                }
            }
            Change::Updated(old, new) => {
                let labels_changed = old.labels != new.labels;
                if new.deleting {
                    self.pod_deleted(new);
                    if labels_changed {
                        self.pod_deleted(old);
                    }
                    return;
                }
                let (old_ref, new_ref) = (old.controller(), new.controller());
                if old_ref != new_ref {
                    if let Some(o) = old_ref.and_then(|r| self.resolve(&old.namespace, r)) {
                        self.queue.add(key_of(&*o));
                    }
                }
                if let Some(r) = new_ref {
                    if let Some(o) = self.resolve(&new.namespace, r) {
                        let key = key_of(&*o);
                        self.queue.add(key.clone());
                        let min_ready = o.min_ready_seconds();
                        if !old.ready && new.ready && min_ready > 0 {
                            self.queue.add_after(key, Duration::from_secs(min_ready as u64 + 1));
                        }
                    }
                    return;
                }
                if labels_changed || old_ref != new_ref {
                    for key in self.matching_owners(new) {
                        self.queue.add(key);
                    }
                }
            }
            Change::Deleted(p) => self.pod_deleted(p),
        }
    }

    fn pod_deleted(&self, p: &PodInfo) {
        if let Some(o) = p.controller().and_then(|r| self.resolve(&p.namespace, r)) {
            let key = key_of(&*o);
            self.expectations.deletion_observed(&key, &p.key());
            self.queue.add(key);
        }
    }

    async fn sync(&self, key: &str) -> Result<(), SyncError> {
        let Some((ns, name)) = key.split_once('/') else { return Ok(()) };
        let Some(obj) = self.owners.store.get(ns, name) else {
            self.expectations.delete(key);
            return Ok(());
        };
        let owner = obj.owner();
        let needs_sync = self.expectations.satisfied(key);
        let selector = match &owner.selector {
            Ok(s) => s.clone(),
            Err(e) => {
                // Invalid selectors never become valid by retrying.
                tracing::warn!("{} {key}: invalid selector: {e}", K::KIND.name());
                return Ok(());
            }
        };
        let now = self.shared.clock.now();
        let active: Vec<Arc<PodInfo>> = self.shared.pods.store.list_namespace(ns).into_iter().filter(|p| p.is_active()).collect();
        let claims = claim_pods(&owner, &selector, &active);
        let mut pods = claims.owned;
        let mut claim_err = None;
        if !claims.adopt.is_empty() {
            match self.can_adopt(&owner).await {
                Ok(true) => {
                    for p in claims.adopt {
                        match self.patch_pod(&p, &claims::adopt_patch(&owner.controller_ref(), &p.uid)).await {
                            Ok(()) => pods.push(p),
                            Err(e) if e.is_not_found() => {}
                            Err(e) => claim_err = Some(e),
                        }
                    }
                }
                Ok(false) => {}
                Err(e) => claim_err = Some(e),
            }
        }
        for p in claims.release {
            match self.patch_pod(&p, &claims::release_patch(&owner.uid, &p.uid)).await {
                Ok(()) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => claim_err = Some(e),
            }
        }
        if let Some(e) = claim_err {
            return Err(e);
        }

        let mut manage_err = None;
        if needs_sync && !owner.deleting {
            let mut decision = manage_replicas(&owner, &pods, &[], now);
            if matches!(decision, Manage::Delete(_)) && owner.controller_uid.is_some() {
                // Only a scale-down ranks by the family's pods per node: gather them then.
                let siblings: Vec<Owner> = self.owners.store.list_namespace(ns).iter().map(|o| o.owner()).collect();
                decision = manage_replicas(&owner, &pods, &related_pods(&owner, &siblings, &active), now);
            }
            manage_err = match decision {
                Manage::Nothing => None,
                Manage::Create(n) => self.create_pods(&owner, key, n).await,
                Manage::Delete(names) => self.delete_pods(&owner, key, names).await,
            };
        }

        let status = calculate_status(&owner, &pods, manage_err.as_ref(), now);
        if status_changed(&owner, &status) {
            self.write_status(&obj, &status).await?;
        }
        if manage_err.is_none() {
            if let Some(after) = availability_recheck(&owner, &status) {
                self.queue.add_after(key.to_string(), after);
            }
        }
        match manage_err {
            Some(ManageError(e)) => Err(SyncError::Other(e)),
            None => Ok(()),
        }
    }

    /// Before adopting, a fresh read: the owner must still exist and not be deleting.
    async fn can_adopt(&self, owner: &Owner) -> Result<bool, SyncError> {
        let api: Api<K> = Api::namespaced(self.shared.client.clone(), &owner.namespace);
        match api.get(&owner.name).await {
            Ok(fresh) => Ok(fresh.meta().uid.as_deref() == Some(owner.uid.as_str()) && fresh.meta().deletion_timestamp.is_none()),
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

    async fn create_pods(&self, owner: &Owner, key: &str, n: usize) -> Option<ManageError> {
        self.expectations.expect_creations(key, n);
        let pod = pod_from_template(owner);
        let api: Api<Pod> = Api::namespaced(self.shared.client.clone(), &owner.namespace);
        let mut created = 0;
        let mut failure = None;
        for batch in slow_start_batches(n, SLOW_START_INITIAL_BATCH) {
            let results = join_all((0..batch).map(|_| async {
                let _slot = self.shared.write_slot().await;
                api.create(&PostParams::default(), &pod).await
            }))
            .await;
            for r in results {
                match r {
                    Ok(p) => {
                        created += 1;
                        let name = p.metadata.name.unwrap_or_default();
                        self.recorder.normal(owner.reference(), "SuccessfulCreate", format!("Created pod: {name}"));
                    }
                    Err(e) => {
                        if failure.is_none() {
                            failure = Some(e);
                        }
                    }
                }
            }
            if failure.is_some() {
                break;
            }
        }
        for _ in created..n {
            // Never attempted or failed: the informer will not see these.
            self.expectations.creation_observed(key);
        }
        let e = failure?;
        if is_namespace_terminating(&e) {
            return None;
        }
        let message = api_message(&e);
        self.recorder.warning(owner.reference(), "FailedCreate", format!("Error creating: {message}"));
        Some(ManageError(message))
    }

    async fn delete_pods(&self, owner: &Owner, key: &str, names: Vec<String>) -> Option<ManageError> {
        let keys: Vec<String> = names.iter().map(|n| format!("{}/{n}", owner.namespace)).collect();
        self.expectations.expect_deletions(key, keys);
        let api: Api<Pod> = Api::namespaced(self.shared.client.clone(), &owner.namespace);
        let results = join_all(names.iter().map(|name| {
            let api = api.clone();
            async move {
                let _slot = self.shared.write_slot().await;
                (name, api.delete(name, &DeleteParams::default()).await)
            }
        }))
        .await;
        let mut failure = None;
        for (name, r) in results {
            match r {
                Ok(_) => self.recorder.normal(owner.reference(), "SuccessfulDelete", format!("Deleted pod: {name}")),
                Err(e) => {
                    self.expectations.deletion_observed(key, &format!("{}/{name}", owner.namespace));
                    if matches!(&e, kube::Error::Api(s) if s.code == 404) {
                        continue;
                    }
                    let message = api_message(&e);
                    self.recorder.warning(owner.reference(), "FailedDelete", format!("Error deleting: {message}"));
                    failure.get_or_insert(ManageError(message));
                }
            }
        }
        failure
    }

    async fn write_status(&self, obj: &K, status: &ReplicaSetStatus) -> Result<(), SyncError> {
        let api: Api<K> = Api::namespaced(self.shared.client.clone(), obj.namespace());
        let mut v = serde_json::to_value(obj).map_err(|e| SyncError::Other(e.to_string()))?;
        v["status"] = serde_json::to_value(status).map_err(|e| SyncError::Other(e.to_string()))?;
        let updated: K = serde_json::from_value(v).map_err(|e| SyncError::Other(e.to_string()))?;
        api.replace_status(obj.name(), &PostParams::default(), &updated).await?;
        Ok(())
    }
}

/// The message of an API error, as upstream prints it in events and conditions.
pub fn api_message(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => s.message.clone(),
        e => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pods::testutil::*;
    use k8s_openapi::api::apps::v1::ReplicaSetSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
    use std::collections::BTreeMap;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn rs(name: &str, replicas: i32) -> ReplicaSet {
        ReplicaSet {
            metadata: ObjectMeta { name: Some(name.into()), namespace: Some("default".into()), uid: Some(format!("uid-{name}")), generation: Some(2), ..Default::default() },
            spec: Some(ReplicaSetSpec {
                replicas: Some(replicas),
                selector: LabelSelector { match_labels: Some(labels(&[("app", "crane")])), ..Default::default() },
                template: Some(PodTemplateSpec {
                    metadata: Some(ObjectMeta { labels: Some(labels(&[("app", "crane"), ("tier", "web")])), ..Default::default() }),
                    spec: None,
                }),
                min_ready_seconds: None,
            }),
            status: None,
        }
    }

    fn owned(name: &str, by: &str) -> PodInfo {
        let mut p = pod(name, &[("app", "crane"), ("tier", "web")]);
        p.owners = vec![owner("ReplicaSet", by, &format!("uid-{by}"))];
        p
    }

    fn arcs(v: Vec<PodInfo>) -> Vec<Arc<PodInfo>> {
        v.into_iter().map(Arc::new).collect()
    }

    #[test]
    fn scale_up_down_and_burst() {
        let o = rs("crane", 3).owner();
        let now = ts(100);
        assert_eq!(manage_replicas(&o, &[], &[], now), Manage::Create(3));
        let three = arcs(vec![owned("a", "crane"), owned("b", "crane"), owned("c", "crane")]);
        assert_eq!(manage_replicas(&o, &three, &[], now), Manage::Nothing);
        let big = rs("crane", 10_000).owner();
        assert_eq!(manage_replicas(&big, &three, &[], now), Manage::Create(BURST_REPLICAS));
        let one = rs("crane", 1).owner();
        let mut running_pods = three.clone();
        running_pods[0] = Arc::new(running(owned("a", "crane"), "n1", Some(0)));
        running_pods[1] = Arc::new(running(owned("b", "crane"), "n1", Some(50)));
        // The pending, unscheduled pod goes first, then the one ready for less time.
        assert_eq!(manage_replicas(&one, &running_pods, &[], now), Manage::Delete(vec!["c".into(), "b".into()]));
        let zero = rs("crane", 0).owner();
        let Manage::Delete(all) = manage_replicas(&zero, &three, &[], now) else { panic!() };
        assert_eq!(all.len(), 3);
    }

    #[test]
    fn slow_start() {
        assert_eq!(slow_start_batches(0, 1), Vec::<usize>::new());
        assert_eq!(slow_start_batches(1, 1), vec![1]);
        assert_eq!(slow_start_batches(10, 1), vec![1, 2, 4, 3]);
        assert_eq!(slow_start_batches(500, 1), vec![1, 2, 4, 8, 16, 32, 64, 128, 245]);
    }

    #[test]
    fn adoption_and_release() {
        let o = rs("crane", 3).owner();
        let sel = o.selector.clone().unwrap();
        let orphan = pod("orphan", &[("app", "crane")]);
        let moved = {
            // `kubectl label pod … app=other --overwrite` on an owned pod.
            let mut p = owned("moved", "crane");
            p.labels.insert("app".into(), "other".into());
            p
        };
        let theirs = owned("theirs", "other-rs");
        let stranger = pod("stranger", &[("app", "nginx")]);
        let mine = owned("mine", "crane");
        let c = claim_pods(&o, &sel, &arcs(vec![orphan, moved, theirs, stranger, mine]));
        let names = |v: &Vec<Arc<PodInfo>>| v.iter().map(|p| p.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(&c.owned), ["mine"]);
        assert_eq!(names(&c.adopt), ["orphan"]);
        assert_eq!(names(&c.release), ["moved"]);
    }

    #[test]
    fn status_counts_and_failure_condition() {
        let mut r = rs("crane", 3);
        r.spec.as_mut().unwrap().min_ready_seconds = Some(10);
        let o = r.owner();
        let mut partial = owned("partial", "crane");
        partial.labels.remove("tier");
        let pods = arcs(vec![
            running(owned("a", "crane"), "n1", Some(0)),
            running(owned("b", "crane"), "n1", Some(95)),
            partial,
        ]);
        let s = calculate_status(&o, &pods, None, ts(100));
        assert_eq!(s.replicas, 3);
        assert_eq!(s.fully_labeled_replicas, Some(2));
        assert_eq!(s.ready_replicas, Some(2));
        assert_eq!(s.available_replicas, Some(1), "b is ready for only 5 of 10 seconds");
        assert_eq!(s.observed_generation, Some(2));
        assert!(status_changed(&o, &s));
        assert_eq!(availability_recheck(&o, &s), None, "not all ready");

        let failed = calculate_status(&rs("crane", 5).owner(), &pods, Some(&ManageError("pods \"x\" is forbidden: exceeded quota".into())), ts(100));
        let cond = &failed.conditions.as_ref().unwrap()[0];
        assert_eq!((cond.type_.as_str(), cond.status.as_str(), cond.reason.as_deref()), ("ReplicaFailure", "True", Some("FailedCreate")));
        let mut r2 = rs("crane", 3);
        r2.status = Some(failed);
        let healed = calculate_status(&r2.owner(), &pods, None, ts(200));
        assert_eq!(healed.conditions, None);
    }

    #[test]
    fn min_ready_recheck() {
        let mut r = rs("crane", 2);
        r.spec.as_mut().unwrap().min_ready_seconds = Some(10);
        let o = r.owner();
        let pods = arcs(vec![running(owned("a", "crane"), "n1", Some(95)), running(owned("b", "crane"), "n1", Some(95))]);
        let s = calculate_status(&o, &pods, None, ts(100));
        assert_eq!(availability_recheck(&o, &s), Some(Duration::from_secs(10)));
        let s = calculate_status(&o, &pods, None, ts(106));
        assert_eq!(availability_recheck(&o, &s), None);
    }

    #[test]
    fn pod_template_and_rc() {
        let o = rs("crane", 1).owner();
        let p = pod_from_template(&o);
        assert_eq!(p.metadata.generate_name.as_deref(), Some("crane-"));
        assert_eq!(p.metadata.labels.unwrap()["tier"], "web");
        let r = &p.metadata.owner_references.unwrap()[0];
        assert_eq!((r.kind.as_str(), r.api_version.as_str(), r.controller, r.block_owner_deletion), ("ReplicaSet", "apps/v1", Some(true), Some(true)));

        let rc: ReplicationController = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "kubia", "namespace": "default", "uid": "u"},
            "spec": {"replicas": 3, "selector": {"app": "kubia"}, "template": {"metadata": {"labels": {"app": "kubia"}}}},
            "status": {"replicas": 1, "readyReplicas": 1}
        }))
        .unwrap();
        let o = rc.owner();
        assert_eq!(o.kind, Kind::ReplicationController);
        assert_eq!(o.status.ready_replicas, Some(1));
        assert!(o.selector.unwrap().matches(&labels(&[("app", "kubia")])));
        assert_eq!(pod_from_template(&rc.owner()).metadata.owner_references.unwrap()[0].api_version, "v1");
    }

    #[test]
    fn related_pods_of_a_deployment_family() {
        let mut a = rs("web-1", 1);
        let mut b = rs("web-2", 1);
        for r in [&mut a, &mut b] {
            r.metadata.owner_references = Some(vec![owner("Deployment", "web", "uid-web")]);
        }
        b.spec.as_mut().unwrap().selector.match_labels = Some(labels(&[("app", "other")]));
        let lone = rs("lone", 1);
        let pods = arcs(vec![pod("p1", &[("app", "crane")]), pod("p2", &[("app", "other")])]);
        let siblings = vec![a.owner(), b.owner(), lone.owner()];
        assert_eq!(related_pods(&a.owner(), &siblings, &pods).len(), 2);
        assert!(related_pods(&lone.owner(), &siblings, &pods).is_empty());
    }
}
