//! One StatefulSet sync as a pure function (upstream `updateStatefulSet` and its helpers):
//! from the set, its current and update revisions, its pods and the claims of its
//! volumeClaimTemplates, the ordered steps to take and the status to report.
//!
//! OrderedReady ("monotonic") sets take one step at a time: the first replica that is not
//! created, not Running and Ready, or not available stops the sync once it has been
//! created (so pod N+1 waits for pod N); scale-in deletes the highest ordinal first and
//! only when every remaining replica is healthy. Parallel sets create and delete all at
//! once. A RollingUpdate then deletes, from the highest ordinal down to the partition,
//! the first pod not at the update revision, waiting for each replacement to be available;
//! OnDelete leaves that to the user. Pods created below the partition get the current
//! revision. Claims are created before their pod and carry the owner references the
//! persistentVolumeClaimRetentionPolicy asks for.

use std::collections::BTreeMap;
use std::sync::Arc;

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet, StatefulSetStatus};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, PersistentVolumeClaimVolumeSource, Pod, PodTemplateSpec, Volume};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

use crate::claims;
use crate::history::{self, Parent, HASH_LABEL};
use crate::informer::Cached;
use crate::pods::PodInfo;

pub const POD_NAME_LABEL: &str = "statefulset.kubernetes.io/pod-name";
pub const POD_INDEX_LABEL: &str = "apps.kubernetes.io/pod-index";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    OnDelete,
    /// With `rollingUpdate` set (the API server always sets it), its partition.
    RollingUpdate(Option<i32>),
}

/// persistentVolumeClaimRetentionPolicy: whether claims are deleted with the set, and
/// with a scaled-down pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Retention {
    pub delete_when_deleted: bool,
    pub delete_when_scaled: bool,
}

/// A StatefulSet as this controller sees it.
#[derive(Debug, Clone)]
pub struct Set {
    pub parent: Parent,
    pub generation: i64,
    pub annotations: BTreeMap<String, String>,
    pub replicas: i32,
    pub start: i32,
    pub parallel: bool,
    pub strategy: Strategy,
    pub min_ready_seconds: i32,
    pub service_name: String,
    pub claim_templates: Vec<PersistentVolumeClaim>,
    pub match_labels: BTreeMap<String, String>,
    pub retention: Retention,
    pub template: PodTemplateSpec,
    pub revision_history_limit: i32,
    pub status: StatefulSetStatus,
}

impl Set {
    pub fn from(s: &StatefulSet) -> Set {
        let m = &s.metadata;
        let spec = s.spec.clone().unwrap_or_default();
        let strategy = match spec.update_strategy.as_ref().and_then(|u| u.type_.as_deref()) {
            Some("OnDelete") => Strategy::OnDelete,
            _ => Strategy::RollingUpdate(spec.update_strategy.as_ref().and_then(|u| u.rolling_update.as_ref()).map(|r| r.partition.unwrap_or(0))),
        };
        let policy = spec.persistent_volume_claim_retention_policy.unwrap_or_default();
        Set {
            parent: Parent {
                api_version: "apps/v1",
                kind: "StatefulSet",
                namespace: m.namespace.clone().unwrap_or_default(),
                name: m.name.clone().unwrap_or_default(),
                uid: m.uid.clone().unwrap_or_default(),
                deleting: m.deletion_timestamp.is_some(),
            },
            generation: m.generation.unwrap_or(0),
            annotations: m.annotations.clone().unwrap_or_default(),
            replicas: spec.replicas.unwrap_or(1).max(0),
            start: spec.ordinals.and_then(|o| o.start).unwrap_or(0).max(0),
            parallel: spec.pod_management_policy.as_deref() == Some("Parallel"),
            strategy,
            min_ready_seconds: spec.min_ready_seconds.unwrap_or(0),
            service_name: spec.service_name.unwrap_or_default(),
            claim_templates: spec.volume_claim_templates.unwrap_or_default(),
            match_labels: spec.selector.match_labels.unwrap_or_default(),
            retention: Retention {
                delete_when_deleted: policy.when_deleted.as_deref() == Some("Delete"),
                delete_when_scaled: policy.when_scaled.as_deref() == Some("Delete"),
            },
            template: spec.template,
            revision_history_limit: spec.revision_history_limit.unwrap_or(10),
            status: s.status.clone().unwrap_or_default(),
        }
    }

    pub fn end(&self) -> i32 {
        self.start + self.replicas - 1
    }

    pub fn in_range(&self, ordinal: i32) -> bool {
        ordinal >= self.start && ordinal <= self.end()
    }

    pub fn pod_name(&self, ordinal: i32) -> String {
        format!("{}-{ordinal}", self.parent.name)
    }

    pub fn claim_name(&self, template: &PersistentVolumeClaim, ordinal: i32) -> String {
        format!("{}-{}-{ordinal}", template.metadata.name.as_deref().unwrap_or(""), self.parent.name)
    }

    /// The revision the current template makes (upstream `newRevision`): its labels, the
    /// set's annotations.
    pub fn new_revision(&self, revision: i64, collision_count: i32) -> ControllerRevision {
        let labels = self.template.metadata.as_ref().and_then(|m| m.labels.as_ref());
        let mut cr = history::new_revision(&self.parent, labels, history::template_patch(&self.template), revision, collision_count);
        let annotations = cr.metadata.annotations.get_or_insert_with(BTreeMap::new);
        annotations.extend(self.annotations.clone());
        cr
    }
}

/// `<parent>-<ordinal>`: the parent name and ordinal of a pod name, or ordinal -1.
pub fn parent_and_ordinal(name: &str) -> (&str, i32) {
    match name.rsplit_once('-') {
        Some((parent, digits)) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => (parent, digits.parse().unwrap_or(-1)),
        _ => ("", -1),
    }
}

pub fn ordinal(name: &str) -> i32 {
    parent_and_ordinal(name).1
}

pub fn is_member(set: &Set, pod_name: &str) -> bool {
    parent_and_ordinal(pod_name).0 == set.parent.name
}

/// The revision a pod was made from (its `controller-revision-hash` label).
pub fn pod_revision(p: &PodInfo) -> &str {
    p.labels.get(HASH_LABEL).map(String::as_str).unwrap_or("")
}

pub fn running_and_ready(p: &PodInfo) -> bool {
    p.phase == "Running" && p.ready
}

pub fn running_and_available(p: &PodInfo, min_ready_seconds: i32, now: Timestamp) -> bool {
    running_and_ready(p) && p.is_available(min_ready_seconds, now)
}

pub fn unavailable(p: &PodInfo, min_ready_seconds: i32, now: Timestamp) -> bool {
    p.deleting || !running_and_available(p, min_ready_seconds, now)
}

/// What this controller keeps of a PersistentVolumeClaim.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ClaimInfo {
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub resource_version: String,
    pub owners: Vec<OwnerReference>,
    pub deleting: bool,
}

impl Cached for ClaimInfo {
    fn namespace(&self) -> &str {
        &self.namespace
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn resource_version(&self) -> &str {
        &self.resource_version
    }
}

impl ClaimInfo {
    pub fn from_claim(c: PersistentVolumeClaim) -> Option<ClaimInfo> {
        let m = c.metadata;
        Some(ClaimInfo {
            namespace: m.namespace.unwrap_or_default(),
            name: m.name?,
            uid: m.uid.unwrap_or_default(),
            resource_version: m.resource_version.unwrap_or_default(),
            owners: m.owner_references.unwrap_or_default(),
            deleting: m.deletion_timestamp.is_some(),
        })
    }
}

/// Who a claim's owner references may name: the set, or the pod using the claim.
struct Who<'a> {
    api_version: &'a str,
    kind: &'a str,
    name: &'a str,
    uid: &'a str,
}

fn matches_ref(r: &OwnerReference, w: &Who) -> bool {
    r.api_version == w.api_version && r.kind == w.kind && r.name == w.name
}

fn has_ref(c: &ClaimInfo, w: &Who) -> bool {
    c.owners.iter().any(|r| r.uid == w.uid)
}

fn stale_ref(c: &ClaimInfo, w: &Who) -> bool {
    c.owners.iter().find(|r| matches_ref(r, w)).is_some_and(|r| r.uid != w.uid)
}

fn set_who(set: &Set) -> Who<'_> {
    Who { api_version: "apps/v1", kind: "StatefulSet", name: &set.parent.name, uid: &set.parent.uid }
}

fn pod_who<'a>(name: &'a str, uid: &'a str) -> Who<'a> {
    Who { api_version: "v1", kind: "Pod", name, uid }
}

/// A controller other than the set or the pod, or a reference to an older set or pod of
/// the same name (upstream `hasUnexpectedController`).
fn unexpected_controller(c: &ClaimInfo, set: &Set, pod: &Who) -> bool {
    if !set.retention.delete_when_deleted && !set.retention.delete_when_scaled {
        return false;
    }
    let s = set_who(set);
    for r in &c.owners {
        if matches_ref(r, &s) {
            if r.uid != s.uid {
                return true;
            }
        } else if matches_ref(r, pod) {
            if r.uid != pod.uid {
                return true;
            }
        } else if r.controller == Some(true) {
            return true;
        }
    }
    false
}

/// Whether a claim's owner references agree with the retention policy (upstream
/// `isClaimOwnerUpToDate`): Retain/Retain none; whenDeleted=Delete the set; whenScaled=
/// Delete the pod once it is scaled away (the set before, when both are Delete).
pub fn claim_owners_up_to_date(c: &ClaimInfo, set: &Set, pod_name: &str, pod_uid: &str) -> bool {
    let (s, p) = (set_who(set), pod_who(pod_name, pod_uid));
    if stale_ref(c, &s) || stale_ref(c, &p) {
        // Left by an earlier set or pod of the same name: not ours to touch.
        return true;
    }
    if unexpected_controller(c, set, &p) {
        return !(has_ref(c, &s) || has_ref(c, &p));
    }
    if c.owners.iter().any(|r| (r.uid == s.uid || r.uid == p.uid) && r.controller != Some(true)) {
        return false;
    }
    let scaled_down = !set.in_range(ordinal(pod_name));
    let (want_set, want_pod) = match (set.retention.delete_when_scaled, set.retention.delete_when_deleted) {
        (false, false) => (false, false),
        (false, true) => (true, false),
        (true, false) => (false, scaled_down),
        (true, true) => (!scaled_down, scaled_down),
    };
    has_ref(c, &s) == want_set && has_ref(c, &p) == want_pod
}

/// The claim's owner references made to agree with the policy (upstream
/// `updateClaimOwnerRefForSetAndPod`).
pub fn claim_owners(owners: &[OwnerReference], set: &Set, pod_name: &str, pod_uid: &str) -> Vec<OwnerReference> {
    let (s, p) = (set_who(set), pod_who(pod_name, pod_uid));
    let probe = ClaimInfo { owners: owners.to_vec(), ..Default::default() };
    let unexpected = unexpected_controller(&probe, set, &p);
    let mut refs: Vec<OwnerReference> = owners.iter().filter(|r| !matches_ref(r, &s) && !matches_ref(r, &p)).cloned().collect();
    if unexpected {
        return refs;
    }
    let scaled_down = !set.in_range(ordinal(pod_name));
    let (want_set, want_pod) = match (set.retention.delete_when_scaled, set.retention.delete_when_deleted) {
        (false, false) => (false, false),
        (false, true) => (true, false),
        (true, false) => (false, scaled_down),
        (true, true) => (!scaled_down, scaled_down),
    };
    if want_pod && !pod_uid.is_empty() && !refs.iter().any(|r| r.uid == pod_uid) {
        refs.push(claims::controller_ref("v1", "Pod", pod_name, pod_uid));
    }
    if want_set && !refs.iter().any(|r| r.uid == set.parent.uid) {
        refs.push(set.parent.controller_ref());
    }
    refs
}

/// The claims of the pod with `ordinal` (upstream `getPersistentVolumeClaims`): each
/// template named `<template>-<set>-<ordinal>`, labelled with the selector's matchLabels,
/// owned as the retention policy says for a pod about to be created.
pub fn claims_for(set: &Set, ordinal: i32) -> Vec<PersistentVolumeClaim> {
    set.claim_templates
        .iter()
        .map(|t| {
            let mut c = t.clone();
            c.metadata.name = Some(set.claim_name(t, ordinal));
            c.metadata.namespace = Some(set.parent.namespace.clone());
            let labels = c.metadata.labels.get_or_insert_with(BTreeMap::new);
            labels.extend(set.match_labels.clone());
            let owners = claim_owners(c.metadata.owner_references.as_deref().unwrap_or_default(), set, &set.pod_name(ordinal), "");
            c.metadata.owner_references = (!owners.is_empty()).then_some(owners);
            c.metadata.resource_version = None;
            c.metadata.uid = None;
            c.metadata.creation_timestamp = None;
            c.status = None;
            c
        })
        .collect()
}

/// The pod with `ordinal` made from `template` at `revision` (upstream
/// `newVersionedStatefulSetPod`): its identity (name, hostname, subdomain = serviceName,
/// pod-name and pod-index labels) and a volume for each claim.
pub fn new_pod(set: &Set, template: &PodTemplateSpec, ordinal: i32, revision: &str) -> Pod {
    let meta = template.metadata.clone().unwrap_or_default();
    let name = set.pod_name(ordinal);
    let mut labels = meta.labels.unwrap_or_default();
    labels.insert(POD_NAME_LABEL.into(), name.clone());
    labels.insert(POD_INDEX_LABEL.into(), ordinal.to_string());
    labels.insert(HASH_LABEL.into(), revision.into());
    let mut spec = template.spec.clone().unwrap_or_default();
    spec.hostname = Some(name.clone());
    spec.subdomain = (!set.service_name.is_empty()).then(|| set.service_name.clone());
    if !set.claim_templates.is_empty() {
        let names: Vec<String> = set.claim_templates.iter().map(|t| t.metadata.name.clone().unwrap_or_default()).collect();
        let mut volumes: Vec<Volume> = set
            .claim_templates
            .iter()
            .map(|t| Volume {
                name: t.metadata.name.clone().unwrap_or_default(),
                persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource { claim_name: set.claim_name(t, ordinal), read_only: None }),
                ..Default::default()
            })
            .collect();
        volumes.extend(spec.volumes.take().unwrap_or_default().into_iter().filter(|v| !names.contains(&v.name)));
        spec.volumes = Some(volumes);
    }
    Pod {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: Some(set.parent.namespace.clone()),
            labels: Some(labels),
            annotations: meta.annotations,
            finalizers: meta.finalizers,
            owner_references: Some(vec![set.parent.controller_ref()]),
            ..Default::default()
        },
        spec: Some(spec),
        status: None,
    }
}

/// Why a pod is deleted (for the log and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// Failed or Succeeded: it is recreated.
    Finished,
    /// Its ordinal is beyond the replicas.
    ScaleDown,
    /// Not at the update revision.
    Update,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Create the claims that do not exist yet, then the pod.
    CreatePod { ordinal: i32, current: bool, claims: Vec<PersistentVolumeClaim> },
    /// A claim of the pod is being deleted: the pod waits (reported as a failure).
    ClaimDeleting { ordinal: i32, claim: String },
    /// Create missing claims of a pending pod.
    CreateClaims { pod: String, claims: Vec<PersistentVolumeClaim> },
    DeletePod { name: String, why: Why },
    /// Set the pod's identity labels.
    UpdateIdentity { name: String, ordinal: i32 },
    /// Replace a claim's owner references.
    UpdateClaimOwners { pod: String, claim: String, owners: Vec<OwnerReference> },
}

/// The steps of one sync, in order; the actions of one step may run together, and a
/// failed step ends the sync.
#[derive(Debug, Default, PartialEq)]
pub struct Plan {
    pub steps: Vec<Vec<Action>>,
    pub status: StatefulSetStatus,
}

/// A replica slot: its pod, or the ordinal of one to create.
enum Slot<'a> {
    Pod(&'a Arc<PodInfo>),
    Missing(i32),
}

pub type ClaimLookup<'a> = &'a dyn Fn(&str) -> Option<Arc<ClaimInfo>>;

struct Planner<'a> {
    set: &'a Set,
    claims: ClaimLookup<'a>,
    now: Timestamp,
    monotonic: bool,
    steps: Vec<Vec<Action>>,
}

impl Planner<'_> {
    fn unavailable(&self, slot: &Slot) -> bool {
        match slot {
            Slot::Pod(p) => unavailable(p, self.set.min_ready_seconds, self.now),
            Slot::Missing(_) => true,
        }
    }

    /// The revision a missing pod gets: the current one below the partition.
    fn created_current(&self, ordinal: i32) -> bool {
        match self.set.strategy {
            Strategy::RollingUpdate(Some(partition)) => ordinal < self.set.start + partition,
            Strategy::RollingUpdate(None) => ordinal < self.set.start + self.set.status.current_replicas.unwrap_or(0),
            Strategy::OnDelete => false,
        }
    }

    fn missing_claims(&self, ordinal: i32) -> Vec<PersistentVolumeClaim> {
        claims_for(self.set, ordinal).into_iter().filter(|c| (self.claims)(c.metadata.name.as_deref().unwrap_or("")).is_none()).collect()
    }

    /// Claims of an existing pod whose owners disagree with the policy.
    fn claim_fixes(&self, pod_name: &str, pod_uid: &str) -> Vec<Action> {
        let ord = ordinal(pod_name);
        let mut out = Vec::new();
        for t in &self.set.claim_templates {
            let name = self.set.claim_name(t, ord);
            if let Some(c) = (self.claims)(&name) {
                if !claim_owners_up_to_date(&c, self.set, pod_name, pod_uid) {
                    out.push(Action::UpdateClaimOwners { pod: pod_name.to_string(), claim: name, owners: claim_owners(&c.owners, self.set, pod_name, pod_uid) });
                }
            }
        }
        out
    }

    /// upstream `processReplica`: the actions for one replica, and whether a monotonic
    /// sync stops there.
    fn replica(&self, slot: &Slot) -> (bool, Vec<Action>) {
        let p = match slot {
            Slot::Missing(ord) => {
                let pod_name = self.set.pod_name(*ord);
                let mut claims = Vec::new();
                for c in claims_for(self.set, *ord) {
                    let name = c.metadata.name.clone().unwrap_or_default();
                    match (self.claims)(&name) {
                        // A claim left owned by a deleted pod of this name is about to go.
                        Some(existing) if self.set.retention.delete_when_scaled && stale_ref(&existing, &pod_who(&pod_name, "")) => return (true, Vec::new()),
                        Some(existing) if existing.deleting => return (true, vec![Action::ClaimDeleting { ordinal: *ord, claim: name }]),
                        Some(_) => {}
                        None => claims.push(c),
                    }
                }
                let create = Action::CreatePod { ordinal: *ord, current: self.created_current(*ord), claims };
                return (self.monotonic, vec![create]);
            }
            Slot::Pod(p) => p,
        };
        if p.phase == "Failed" || p.phase == "Succeeded" {
            let actions = if p.deleting { Vec::new() } else { vec![Action::DeletePod { name: p.name.clone(), why: Why::Finished }] };
            return (true, actions);
        }
        let mut actions = Vec::new();
        if p.phase == "Pending" {
            let missing = self.missing_claims(ordinal(&p.name));
            if !missing.is_empty() {
                actions.push(Action::CreateClaims { pod: p.name.clone(), claims: missing });
            }
        }
        if self.monotonic && (p.deleting || !running_and_available(p, self.set.min_ready_seconds, self.now)) {
            return (true, actions);
        }
        actions.extend(self.claim_fixes(&p.name, &p.uid));
        if p.labels.get(POD_NAME_LABEL) != Some(&p.name) {
            actions.push(Action::UpdateIdentity { name: p.name.clone(), ordinal: ordinal(&p.name) });
        }
        (false, actions)
    }

    /// Runs `f` over `items` as upstream's `runForAll`: one by one until one says stop
    /// (monotonic), or all as one step. Returns whether the sync stops here.
    fn run_all<T>(&mut self, items: &[T], f: impl Fn(&Self, &T) -> (bool, Vec<Action>)) -> bool {
        if self.monotonic {
            for item in items {
                let (stop, actions) = f(self, item);
                for a in actions {
                    self.steps.push(vec![a]);
                }
                if stop {
                    return true;
                }
            }
        } else {
            let all: Vec<Action> = items.iter().flat_map(|i| f(self, i).1).collect();
            if !all.is_empty() {
                self.steps.push(all);
            }
        }
        false
    }
}

/// Counts pods into the status (upstream `updateStatus`).
fn count(status: &mut StatefulSetStatus, pods: &[&Arc<PodInfo>], set: &Set, current: &str, update: &str, now: Timestamp) {
    let (mut replicas, mut ready, mut available, mut cur, mut upd) = (0, 0, 0, 0, 0);
    for p in pods {
        replicas += 1;
        if running_and_ready(p) {
            ready += 1;
            if running_and_available(p, set.min_ready_seconds, now) {
                available += 1;
            }
        }
        if !p.deleting {
            if pod_revision(p) == current {
                cur += 1;
            }
            if pod_revision(p) == update {
                upd += 1;
            }
        }
    }
    status.replicas = replicas;
    status.ready_replicas = Some(ready);
    status.available_replicas = Some(available);
    status.current_replicas = Some(cur);
    status.updated_replicas = Some(upd);
}

/// The steps and status of one sync (`pods`: those the set owns).
pub fn plan(set: &Set, current: &str, update: &str, collision_count: i32, pods: &[Arc<PodInfo>], claims: ClaimLookup, now: Timestamp) -> Plan {
    let mut status = StatefulSetStatus {
        observed_generation: Some(set.generation),
        current_revision: Some(current.to_string()),
        update_revision: Some(update.to_string()),
        collision_count: Some(collision_count),
        conditions: set.status.conditions.clone(),
        ..Default::default()
    };
    let mut slots: Vec<Slot> = (set.start..=set.end()).map(Slot::Missing).collect();
    let mut condemned: Vec<&Arc<PodInfo>> = Vec::new();
    let mut counted: Vec<&Arc<PodInfo>> = Vec::new();
    for p in pods {
        let ord = ordinal(&p.name);
        if set.in_range(ord) {
            slots[(ord - set.start) as usize] = Slot::Pod(p);
            counted.push(p);
        } else if ord >= 0 {
            condemned.push(p);
            counted.push(p);
        }
    }
    condemned.sort_by_key(|p| std::cmp::Reverse(ordinal(&p.name)));
    count(&mut status, &counted, set, current, update, now);

    let mut pl = Planner { set, claims, now, monotonic: !set.parallel, steps: Vec::new() };
    // The first unhealthy pod: a replica (lowest ordinal first), else a condemned one
    // (lowest first).
    let first_unhealthy: Option<String> = slots
        .iter()
        .find(|s| pl.unavailable(s))
        .map(|s| match s {
            Slot::Pod(p) => p.name.clone(),
            Slot::Missing(o) => set.pod_name(*o),
        })
        .or_else(|| condemned.iter().rev().find(|p| unavailable(p, set.min_ready_seconds, now)).map(|p| p.name.clone()));
    if set.parent.deleting {
        return Plan { steps: Vec::new(), status };
    }

    if pl.run_all(&slots, |pl, s| pl.replica(s)) {
        return Plan { steps: pl.steps, status };
    }
    if pl.run_all(&condemned, |pl, p| (false, pl.claim_fixes(&p.name, &p.uid))) {
        return Plan { steps: pl.steps, status };
    }
    let min_ready = set.min_ready_seconds;
    let stop = pl.run_all(&condemned, |pl, p| {
        if p.deleting {
            return (pl.monotonic, Vec::new());
        }
        let first = first_unhealthy.as_deref() == Some(p.name.as_str());
        if pl.monotonic && !first && (!running_and_ready(p) || !running_and_available(p, min_ready, now)) {
            return (true, Vec::new());
        }
        (true, vec![Action::DeletePod { name: p.name.clone(), why: Why::ScaleDown }])
    });
    if stop {
        return Plan { steps: pl.steps, status };
    }
    let Strategy::RollingUpdate(partition) = set.strategy else {
        return Plan { steps: pl.steps, status };
    };
    let update_min = partition.unwrap_or(0).max(0) as usize;
    for target in (update_min..slots.len()).rev() {
        let (revision, deleting) = match &slots[target] {
            Slot::Pod(p) => (pod_revision(p).to_string(), p.deleting),
            Slot::Missing(o) => ((if pl.created_current(*o) { current } else { update }).to_string(), false),
        };
        if revision != update && !deleting {
            if let Slot::Pod(p) = &slots[target] {
                pl.steps.push(vec![Action::DeletePod { name: p.name.clone(), why: Why::Update }]);
                status.current_replicas = Some(status.current_replicas.unwrap_or(0) - 1);
            }
            break;
        }
        if pl.unavailable(&slots[target]) {
            break;
        }
    }
    Plan { steps: pl.steps, status }
}

/// A finished rolling update makes the update revision current (upstream
/// `completeRollingUpdate`).
pub fn complete_rolling_update(set: &Set, status: &mut StatefulSetStatus) {
    let r = set.replicas;
    if matches!(set.strategy, Strategy::RollingUpdate(_)) && status.updated_replicas.unwrap_or(0) == r && status.ready_replicas.unwrap_or(0) == r && status.replicas == r {
        status.current_replicas = status.updated_replicas;
        status.current_revision = status.update_revision.clone();
    }
}

/// Whether the status must be written (upstream `inconsistentStatus`).
pub fn status_changed(set: &Set, new: &StatefulSetStatus) -> bool {
    let old = &set.status;
    let n = |v: Option<i32>| v.unwrap_or(0);
    new.observed_generation.unwrap_or(0) > old.observed_generation.unwrap_or(0)
        || new.replicas != old.replicas
        || n(new.current_replicas) != n(old.current_replicas)
        || n(new.ready_replicas) != n(old.ready_replicas)
        || n(new.updated_replicas) != n(old.updated_replicas)
        || new.current_revision != old.current_revision
        || n(new.available_replicas) != n(old.available_replicas)
        || new.update_revision != old.update_revision
        || new.collision_count != old.collision_count
}

/// The status as upstream's objects show it: zero counters other than replicas and
/// availableReplicas left out.
pub fn omit_empty(mut s: StatefulSetStatus) -> StatefulSetStatus {
    for f in [&mut s.ready_replicas, &mut s.current_replicas, &mut s.updated_replicas] {
        if *f == Some(0) {
            *f = None;
        }
    }
    if s.available_replicas.is_none() {
        s.available_replicas = Some(0);
    }
    s
}

/// How the update revision is found (upstream `getStatefulSetRevisions`).
#[derive(Debug, PartialEq)]
pub enum UpdateRevision {
    /// The newest revision already holds the template.
    Latest(Arc<ControllerRevision>),
    /// An older revision holds it (a rollback): it gets the next number.
    Renumber(Arc<ControllerRevision>, i64),
    /// No revision holds it: create this one.
    Create(Box<ControllerRevision>),
}

/// `sorted`: the set's revisions in [`history::sort`] order.
pub fn update_revision(set: &Set, sorted: &[Arc<ControllerRevision>], collision_count: i32) -> UpdateRevision {
    let candidate = set.new_revision(history::next_revision(sorted), collision_count);
    let equal = history::find_equal(sorted, &candidate);
    match (equal.last(), sorted.last()) {
        (Some(e), Some(last)) if history::equal(last, e) => UpdateRevision::Latest(last.clone()),
        (Some(e), _) => UpdateRevision::Renumber((*e).clone(), candidate.revision),
        (None, _) => UpdateRevision::Create(Box::new(candidate)),
    }
}

/// The current revision: the one status names, else the update revision.
pub fn current_revision(set: &Set, sorted: &[Arc<ControllerRevision>], update: &Arc<ControllerRevision>) -> Arc<ControllerRevision> {
    let name = set.status.current_revision.as_deref().unwrap_or("");
    sorted.iter().find(|r| r.name() == name).cloned().unwrap_or_else(|| update.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pods::testutil::{owner, pod, running, ts};
    use serde_json::json;
    use std::collections::HashMap;

    fn sts(replicas: i32, extra: serde_json::Value) -> Set {
        let mut v = json!({
            "metadata": {"name": "web", "namespace": "default", "uid": "uid-web", "generation": 3},
            "spec": {
                "replicas": replicas,
                "serviceName": "nginx",
                "selector": {"matchLabels": {"app": "nginx"}},
                "podManagementPolicy": "OrderedReady",
                "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
                "template": {"metadata": {"labels": {"app": "nginx"}}, "spec": {"containers": [{"name": "nginx", "image": "nginx:1.16"}]}}
            }
        });
        if let (Some(spec), Some(extra)) = (v["spec"].as_object_mut(), extra.as_object()) {
            for (k, val) in extra {
                spec.insert(k.clone(), val.clone());
            }
        }
        Set::from(&serde_json::from_value::<StatefulSet>(v).unwrap())
    }

    /// A Running and Ready pod of the set at `rev`.
    fn spod(ord: i32, rev: &str) -> PodInfo {
        let name = format!("web-{ord}");
        let mut p = running(pod(&name, &[("app", "nginx"), (HASH_LABEL, rev), (POD_NAME_LABEL, &name)]), "n1", Some(0));
        p.owners = vec![owner("StatefulSet", "web", "uid-web")];
        p
    }

    fn arcs(v: Vec<PodInfo>) -> Vec<Arc<PodInfo>> {
        v.into_iter().map(Arc::new).collect()
    }

    fn no_claims(_: &str) -> Option<Arc<ClaimInfo>> {
        None
    }

    fn run(set: &Set, pods: &[Arc<PodInfo>]) -> Plan {
        plan(set, "web-r1", "web-r1", 0, pods, &no_claims, ts(100))
    }

    fn flat(p: &Plan) -> Vec<Action> {
        p.steps.iter().flatten().cloned().collect()
    }

    fn create(ordinal: i32) -> Action {
        Action::CreatePod { ordinal, current: false, claims: vec![] }
    }

    fn delete(ord: i32, why: Why) -> Action {
        Action::DeletePod { name: format!("web-{ord}"), why }
    }

    #[test]
    fn ordinals_of_names() {
        assert_eq!(parent_and_ordinal("web-0"), ("web", 0));
        assert_eq!(parent_and_ordinal("my-db-12"), ("my-db", 12));
        assert_eq!(parent_and_ordinal("web-x"), ("", -1));
        assert_eq!(parent_and_ordinal("web"), ("", -1));
        assert_eq!(parent_and_ordinal("web-99999999999"), ("web", -1));
        let s = sts(3, json!({}));
        assert!(is_member(&s, "web-2") && !is_member(&s, "web-db-2") && !is_member(&s, "webx-1"));
    }

    #[test]
    fn ordered_ready_creates_one_at_a_time() {
        let s = sts(3, json!({}));
        assert_eq!(flat(&run(&s, &[])), [create(0)]);
        // web-0 exists but is not Ready: nothing more.
        let mut starting = spod(0, "web-r1");
        starting.ready = false;
        assert_eq!(flat(&run(&s, &arcs(vec![starting.clone()]))), []);
        starting.phase = "Pending".into();
        assert_eq!(flat(&run(&s, &arcs(vec![starting]))), []);
        assert_eq!(flat(&run(&s, &arcs(vec![spod(0, "web-r1")]))), [create(1)]);
        assert_eq!(flat(&run(&s, &arcs(vec![spod(0, "web-r1"), spod(1, "web-r1")]))), [create(2)]);
        // A gap is filled first, in order.
        assert_eq!(flat(&run(&s, &arcs(vec![spod(0, "web-r1"), spod(2, "web-r1")]))), [create(1)]);
        // minReadySeconds: Ready for 5 of 10 seconds is not enough.
        let slow = sts(3, json!({"minReadySeconds": 10}));
        let mut fresh = spod(0, "web-r1");
        fresh.ready_since = Some(ts(95));
        assert_eq!(flat(&plan(&slow, "web-r1", "web-r1", 0, &arcs(vec![fresh]), &no_claims, ts(100))), []);
    }

    #[test]
    fn ordinals_start_moves_the_range() {
        let s = sts(2, json!({"ordinals": {"start": 5}}));
        assert_eq!((s.start, s.end(), s.in_range(4), s.in_range(6), s.in_range(7)), (5, 6, false, true, false));
        assert_eq!(flat(&run(&s, &[])), [create(5)]);
        // Pods outside the new range are scaled away once the range is healthy.
        let p = run(&s, &arcs(vec![spod(0, "web-r1"), spod(5, "web-r1"), spod(6, "web-r1")]));
        assert_eq!(flat(&p), [delete(0, Why::ScaleDown)]);
        assert_eq!(p.status.replicas, 3);
    }

    #[test]
    fn parallel_creates_and_deletes_together() {
        let s = sts(3, json!({"podManagementPolicy": "Parallel"}));
        let p = run(&s, &[]);
        assert_eq!(p.steps, vec![vec![create(0), create(1), create(2)]]);
        let five = arcs((0..5).map(|i| spod(i, "web-r1")).collect());
        let mut not_ready = (*five[0]).clone();
        not_ready.ready = false;
        let mut pods = five.clone();
        pods[0] = Arc::new(not_ready);
        let p = run(&s, &pods);
        assert_eq!(flat(&p), [delete(4, Why::ScaleDown), delete(3, Why::ScaleDown)], "unhealthy pods do not hold a Parallel scale-in");
    }

    #[test]
    fn scale_in_from_the_highest_ordinal_waiting_for_each() {
        let s = sts(1, json!({}));
        let three = arcs(vec![spod(0, "web-r1"), spod(1, "web-r1"), spod(2, "web-r1")]);
        assert_eq!(flat(&run(&s, &three)), [delete(2, Why::ScaleDown)]);
        // web-2 terminating: wait for it to go before web-1.
        let mut going = spod(2, "web-r1");
        going.deleting = true;
        assert_eq!(flat(&run(&s, &arcs(vec![spod(0, "web-r1"), spod(1, "web-r1"), going]))), []);
        assert_eq!(flat(&run(&s, &arcs(vec![spod(0, "web-r1"), spod(1, "web-r1")]))), [delete(1, Why::ScaleDown)]);
        // An unhealthy replica blocks scale-in; the unhealthy condemned pod itself may go.
        let mut sick0 = spod(0, "web-r1");
        sick0.ready = false;
        assert_eq!(flat(&run(&s, &arcs(vec![sick0, spod(1, "web-r1")]))), []);
        let mut sick2 = spod(2, "web-r1");
        sick2.ready = false;
        assert_eq!(flat(&run(&s, &arcs(vec![spod(0, "web-r1"), spod(1, "web-r1"), sick2]))), [delete(2, Why::ScaleDown)]);
        let mut sick1 = spod(1, "web-r1");
        sick1.ready = false;
        // Only an unhealthy replica (in range) holds scale-in, as upstream.
        assert_eq!(flat(&run(&s, &arcs(vec![spod(0, "web-r1"), sick1, spod(2, "web-r1")]))), [delete(2, Why::ScaleDown)]);
    }

    #[test]
    fn failed_pods_are_recreated_and_identity_restored() {
        let s = sts(2, json!({}));
        let mut failed = spod(1, "web-r1");
        failed.phase = "Failed".into();
        assert_eq!(flat(&run(&s, &arcs(vec![spod(0, "web-r1"), failed]))), [delete(1, Why::Finished)]);
        let mut relabelled = spod(0, "web-r1");
        relabelled.labels.remove(POD_NAME_LABEL);
        assert_eq!(flat(&run(&s, &arcs(vec![relabelled, spod(1, "web-r1")]))), [Action::UpdateIdentity { name: "web-0".into(), ordinal: 0 }]);
    }

    fn rolled(set: &Set, pods: &[Arc<PodInfo>]) -> Plan {
        plan(set, "web-r1", "web-r2", 0, pods, &no_claims, ts(100))
    }

    #[test]
    fn rolling_update_from_the_highest_ordinal_with_partition() {
        let s = sts(3, json!({}));
        let old = arcs((0..3).map(|i| spod(i, "web-r1")).collect());
        let p = rolled(&s, &old);
        assert_eq!(flat(&p), [delete(2, Why::Update)]);
        assert_eq!((p.status.current_replicas, p.status.updated_replicas), (Some(2), Some(0)));
        // web-2 recreated at r2 but not yet Ready: wait.
        let mut new2 = spod(2, "web-r2");
        new2.ready = false;
        assert_eq!(flat(&rolled(&s, &arcs(vec![spod(0, "web-r1"), spod(1, "web-r1"), new2]))), []);
        // Missing web-2 is created at the update revision.
        assert_eq!(flat(&rolled(&s, &arcs(vec![spod(0, "web-r1"), spod(1, "web-r1")]))), [create(2)]);
        assert_eq!(flat(&rolled(&s, &arcs(vec![spod(0, "web-r1"), spod(1, "web-r1"), spod(2, "web-r2")]))), [delete(1, Why::Update)]);
        // Partition 2: ordinals 0 and 1 keep r1; a missing web-1 is recreated at r1.
        let canary = sts(3, json!({"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 2}}}));
        assert_eq!(flat(&rolled(&canary, &arcs(vec![spod(0, "web-r1"), spod(1, "web-r1"), spod(2, "web-r2")]))), []);
        assert_eq!(flat(&rolled(&canary, &arcs(vec![spod(0, "web-r1"), spod(2, "web-r2")]))), [Action::CreatePod { ordinal: 1, current: true, claims: vec![] }]);
        // OnDelete: nothing is deleted for the update; a deleted pod comes back at r2.
        let on_delete = sts(3, json!({"updateStrategy": {"type": "OnDelete"}}));
        assert_eq!(flat(&rolled(&on_delete, &old)), []);
        assert_eq!(flat(&rolled(&on_delete, &arcs(vec![spod(0, "web-r1"), spod(2, "web-r1")]))), [create(1)]);
    }

    #[test]
    fn stuck_rollout_waits_until_the_broken_pod_is_replaced() {
        // r2 never gets Ready: web-2 at r2 blocks; the template is fixed (r3) and the
        // stuck pod deleted by the user: it comes back at r3 and the rollout goes on.
        let s = sts(3, json!({}));
        let mut broken = spod(2, "web-r2");
        broken.ready = false;
        let stuck = arcs(vec![spod(0, "web-r1"), spod(1, "web-r1"), broken]);
        assert_eq!(flat(&plan(&s, "web-r1", "web-r2", 0, &stuck, &no_claims, ts(100))), []);
        assert_eq!(flat(&plan(&s, "web-r1", "web-r3", 0, &stuck, &no_claims, ts(100))), [], "a not-ready pod blocks even a fixed template");
        let after_delete = arcs(vec![spod(0, "web-r1"), spod(1, "web-r1")]);
        assert_eq!(flat(&plan(&s, "web-r1", "web-r3", 0, &after_delete, &no_claims, ts(100))), [create(2)]);
    }

    #[test]
    fn status_and_completion() {
        let s = sts(2, json!({}));
        let p = rolled(&s, &arcs(vec![spod(0, "web-r2"), spod(1, "web-r2")]));
        let mut status = p.status;
        assert_eq!((status.replicas, status.ready_replicas, status.updated_replicas, status.current_replicas), (2, Some(2), Some(2), Some(0)));
        complete_rolling_update(&s, &mut status);
        assert_eq!((status.current_revision.as_deref(), status.current_replicas), (Some("web-r2"), Some(2)));
        assert_eq!(status.observed_generation, Some(3));
        assert!(status_changed(&s, &status));
        let shown = omit_empty(StatefulSetStatus { replicas: 0, ready_replicas: Some(0), ..Default::default() });
        assert_eq!((shown.ready_replicas, shown.available_replicas), (None, Some(0)));
    }

    #[test]
    fn pods_have_stable_identity_and_claims() {
        let s = sts(2, json!({"volumeClaimTemplates": [{"metadata": {"name": "www"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1G"}}}}],
            "template": {"metadata": {"labels": {"app": "nginx"}}, "spec": {"containers": [{"name": "nginx", "image": "nginx"}], "volumes": [{"name": "www", "emptyDir": {}}, {"name": "tmp", "emptyDir": {}}]}}}));
        let p = new_pod(&s, &s.template, 1, "web-abc");
        assert_eq!(p.metadata.name.as_deref(), Some("web-1"));
        let labels = p.metadata.labels.clone().unwrap();
        assert_eq!((labels[POD_NAME_LABEL].as_str(), labels[POD_INDEX_LABEL].as_str(), labels[HASH_LABEL].as_str()), ("web-1", "1", "web-abc"));
        let spec = p.spec.clone().unwrap();
        assert_eq!((spec.hostname.as_deref(), spec.subdomain.as_deref()), (Some("web-1"), Some("nginx")));
        let vols: Vec<(String, Option<String>)> = spec.volumes.unwrap().into_iter().map(|v| (v.name, v.persistent_volume_claim.map(|c| c.claim_name))).collect();
        assert_eq!(vols, [("www".to_string(), Some("www-web-1".to_string())), ("tmp".to_string(), None)]);
        let claims = claims_for(&s, 1);
        assert_eq!(claims[0].metadata.name.as_deref(), Some("www-web-1"));
        assert_eq!(claims[0].metadata.labels.as_ref().unwrap()["app"], "nginx");
        assert_eq!(claims[0].metadata.owner_references, None, "Retain/Retain: no owner");
        // A missing pod's claims are created with it; existing ones are left.
        let existing: HashMap<String, Arc<ClaimInfo>> = [("www-web-0".to_string(), Arc::new(ClaimInfo { name: "www-web-0".into(), uid: "c0".into(), ..Default::default() }))].into();
        let lookup = |n: &str| existing.get(n).cloned();
        let p = plan(&s, "r", "r", 0, &[], &lookup, ts(0));
        assert_eq!(flat(&p), [Action::CreatePod { ordinal: 0, current: false, claims: vec![] }]);
        let p = plan(&s, "r", "r", 0, &arcs(vec![spod(0, "r")]), &lookup, ts(0));
        assert_eq!(flat(&p), [Action::CreatePod { ordinal: 1, current: false, claims: claims_for(&s, 1) }]);
        // A claim being deleted holds its pod back.
        let deleting: HashMap<String, Arc<ClaimInfo>> = [("www-web-0".to_string(), Arc::new(ClaimInfo { name: "www-web-0".into(), deleting: true, ..Default::default() }))].into();
        let p = plan(&s, "r", "r", 0, &[], &|n: &str| deleting.get(n).cloned(), ts(0));
        assert_eq!(flat(&p), [Action::ClaimDeleting { ordinal: 0, claim: "www-web-0".into() }]);
    }

    fn claim(owners: Vec<OwnerReference>) -> ClaimInfo {
        ClaimInfo { name: "www-web-1".into(), uid: "c1".into(), owners, ..Default::default() }
    }

    #[test]
    fn retention_policy_owner_references() {
        let policy = |deleted: &str, scaled: &str| {
            sts(1, json!({"persistentVolumeClaimRetentionPolicy": {"whenDeleted": deleted, "whenScaled": scaled}, "volumeClaimTemplates": [{"metadata": {"name": "www"}, "spec": {}}]}))
        };
        let set_ref = claims::controller_ref("apps/v1", "StatefulSet", "web", "uid-web");
        let pod_ref = claims::controller_ref("v1", "Pod", "web-1", "pod-uid");
        // web-1 is beyond replicas=1: scaled down.
        let retain = policy("Retain", "Retain");
        assert!(claim_owners_up_to_date(&claim(vec![]), &retain, "web-1", "pod-uid"));
        assert!(!claim_owners_up_to_date(&claim(vec![set_ref.clone()]), &retain, "web-1", "pod-uid"));
        assert_eq!(claim_owners(std::slice::from_ref(&set_ref), &retain, "web-1", "pod-uid"), vec![]);

        let with_set = policy("Delete", "Retain");
        assert_eq!(claim_owners(&[], &with_set, "web-1", "pod-uid"), vec![set_ref.clone()]);
        assert!(claim_owners_up_to_date(&claim(vec![set_ref.clone()]), &with_set, "web-1", "pod-uid"));

        let with_pod = policy("Retain", "Delete");
        assert_eq!(claim_owners(std::slice::from_ref(&set_ref), &with_pod, "web-1", "pod-uid"), vec![pod_ref.clone()]);
        assert_eq!(claim_owners(&[], &with_pod, "web-0", "pod0"), vec![], "in range: no pod owner");

        let both = policy("Delete", "Delete");
        assert_eq!(claim_owners(std::slice::from_ref(&set_ref), &both, "web-1", "pod-uid"), vec![pod_ref.clone()]);
        assert_eq!(claim_owners(&[], &both, "web-0", "pod0"), vec![set_ref.clone()]);
        assert!(!claim_owners_up_to_date(&claim(vec![set_ref.clone()]), &both, "web-1", "pod-uid"));
        // A reference to an older pod of the same name: left alone.
        let stale = claims::controller_ref("v1", "Pod", "web-1", "old-pod");
        assert!(claim_owners_up_to_date(&claim(vec![stale]), &both, "web-1", "pod-uid"));
        // A non-controller reference to the set gets fixed.
        let mut plain = set_ref.clone();
        plain.controller = None;
        assert!(!claim_owners_up_to_date(&claim(vec![plain]), &with_set, "web-0", "pod0"));
        // Someone else controls the claim: our references are removed, nothing added.
        let other = claims::controller_ref("v1", "Thing", "x", "x");
        assert_eq!(claim_owners(&[other.clone(), set_ref.clone()], &both, "web-0", "pod0"), vec![other]);

        // Scale-down with whenScaled=Delete: the condemned pod's claim gets the pod owner
        // before the pod is deleted.
        let mut s = both.clone();
        s.replicas = 1;
        let c1 = Arc::new(ClaimInfo { name: "www-web-1".into(), uid: "c1".into(), owners: vec![set_ref.clone()], ..Default::default() });
        let c0 = Arc::new(ClaimInfo { name: "www-web-0".into(), uid: "c0".into(), owners: vec![set_ref.clone()], ..Default::default() });
        let lookup = |n: &str| [c0.clone(), c1.clone()].into_iter().find(|c| c.name == n);
        let mut web1 = spod(1, "r");
        web1.uid = "pod-uid".into();
        let p = plan(&s, "r", "r", 0, &arcs(vec![spod(0, "r"), web1]), &lookup, ts(0));
        assert_eq!(
            p.steps,
            vec![vec![Action::UpdateClaimOwners { pod: "web-1".into(), claim: "www-web-1".into(), owners: vec![pod_ref] }], vec![delete(1, Why::ScaleDown)]]
        );
        // A claim still owned by the deleted web-1 (being collected) holds a new web-1 back.
        let mut up = both.clone();
        up.replicas = 2;
        let owned_by_old = Arc::new(ClaimInfo { name: "www-web-1".into(), uid: "c1".into(), owners: vec![claims::controller_ref("v1", "Pod", "web-1", "pod-uid")], ..Default::default() });
        let lookup = |n: &str| [c0.clone(), owned_by_old.clone()].into_iter().find(|c| c.name == n);
        assert_eq!(flat(&plan(&up, "r", "r", 0, &arcs(vec![spod(0, "r")]), &lookup, ts(0))), []);
    }

    #[test]
    fn revisions_are_created_reused_and_renumbered() {
        let mut s = sts(1, json!({}));
        let UpdateRevision::Create(r1) = update_revision(&s, &[], 0) else { panic!() };
        assert_eq!(r1.revision, 1);
        assert!(r1.metadata.name.as_deref().unwrap().starts_with("web-"));
        let r1 = Arc::new(*r1);
        assert_eq!(update_revision(&s, std::slice::from_ref(&r1), 0), UpdateRevision::Latest(r1.clone()));
        let v1 = s.template.clone();
        s.template.spec.as_mut().unwrap().containers[0].image = Some("nginx:1.17".into());
        let UpdateRevision::Create(r2) = update_revision(&s, std::slice::from_ref(&r1), 0) else { panic!() };
        assert_eq!(r2.revision, 2);
        let r2 = Arc::new(*r2);
        // Undo: back to v1, which becomes revision 3.
        s.template = v1;
        assert_eq!(update_revision(&s, &[r1.clone(), r2.clone()], 0), UpdateRevision::Renumber(r1.clone(), 3));
        // Current: as status says, else the update revision.
        assert_eq!(current_revision(&s, &[r1.clone(), r2.clone()], &r2), r2);
        s.status.current_revision = r1.metadata.name.clone();
        assert_eq!(current_revision(&s, &[r1.clone(), r2.clone()], &r2), r1);
        assert_eq!(history::template_of(&r1), Some(s.template.clone()));
    }
}
