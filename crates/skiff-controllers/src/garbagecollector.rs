//! Garbage collector: an object whose owners are all gone is deleted, so deleting an
//! owner deletes its dependents (Background). An owner deleted with propagationPolicy
//! Foreground (the API server adds the `foregroundDeletion` finalizer) stays until every
//! dependent that blocks it (`blockOwnerDeletion`) is gone, its dependents being deleted
//! first; one deleted with Orphan (`orphan` finalizer) first has its reference removed
//! from every dependent, which then live on as orphans. Dependents of an owner that no
//! longer exists (or never did) are collected too, also after a restart.
//!
//! As upstream, a graph of every object's owner references is built from watches of all
//! listable, deletable resources (events excepted); owners that are referenced but not
//! yet seen are "virtual" nodes, checked against the API. The graph updates
//! ([`Graph::process`]) and the decisions for one object ([`decide_owners`],
//! [`decide_deleting_dependents`]) are pure; workers read the latest object and its
//! owners from the API before acting, never only the graph.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, Preconditions, PropagationPolicy};
use kube::core::PartialObjectMeta;
use parking_lot::Mutex;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::informer::{Cached, Change, Informer};
use crate::pods::PodInfo;
use crate::queue::Queue;
use crate::resources::{Identity, Resources};
use crate::{Synced, SyncError};

pub const ORPHAN: &str = "orphan";
pub const FOREGROUND: &str = "foregroundDeletion";
const DELETE_WORKERS: usize = 8;
const ORPHAN_WORKERS: usize = 2;
const ABSENT_CACHE: usize = 10_000;
const REDISCOVERY: Duration = Duration::from_secs(30);

/// What the collector knows of any object.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ObjectInfo {
    pub identity: Identity,
    pub resource_version: String,
    pub owners: Vec<OwnerReference>,
    pub finalizers: Vec<String>,
    pub deleting: bool,
}

impl Cached for ObjectInfo {
    fn namespace(&self) -> &str {
        &self.identity.namespace
    }
    fn name(&self) -> &str {
        &self.identity.name
    }
    fn resource_version(&self) -> &str {
        &self.resource_version
    }
}

impl ObjectInfo {
    pub fn from_meta(api_version: &str, kind: &str, meta: &ObjectMeta) -> ObjectInfo {
        ObjectInfo {
            identity: Identity::of(api_version, kind, meta),
            resource_version: meta.resource_version.clone().unwrap_or_default(),
            owners: meta.owner_references.clone().unwrap_or_default(),
            finalizers: meta.finalizers.clone().unwrap_or_default(),
            deleting: meta.deletion_timestamp.is_some(),
        }
    }

    pub fn from_pod(p: &PodInfo) -> ObjectInfo {
        ObjectInfo {
            identity: Identity { api_version: "v1".into(), kind: "Pod".into(), namespace: p.namespace.clone(), name: p.name.clone(), uid: p.uid.clone() },
            resource_version: p.resource_version.clone(),
            owners: p.owners.clone(),
            finalizers: p.finalizers.clone(),
            deleting: p.deleting,
        }
    }

    fn has(&self, finalizer: &str) -> bool {
        self.finalizers.iter().any(|f| f == finalizer)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum GraphEvent {
    Upsert(ObjectInfo),
    Delete(ObjectInfo),
    /// The API says the object does not exist (an owner referenced but never seen).
    VirtualDelete(Identity),
}

/// A reference to an owner, as the graph keeps it (the rest of the reference is only
/// needed when the owner is first met, to make its virtual node).
#[derive(Debug, Clone)]
struct Link {
    uid: String,
    blocks: bool,
}

fn links(owners: &[OwnerReference]) -> Vec<Link> {
    owners.iter().map(|r| Link { uid: r.uid.clone(), blocks: blocks(r) }).collect()
}

#[derive(Debug, Clone)]
struct Node {
    /// Its identity; the uid is the graph's key and is left empty here.
    identity: Identity,
    owners: Vec<Link>,
    dependents: BTreeSet<String>,
    being_deleted: bool,
    deleting_dependents: bool,
    /// Seen through a watch (false: only referenced as an owner so far).
    observed: bool,
    finalizers: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Work {
    AttemptToDelete(String),
    AttemptToOrphan(String),
}

/// The dependency graph, by uid.
#[derive(Default)]
pub struct Graph {
    nodes: HashMap<String, Node>,
    /// Owners known not to exist (upstream's absentOwnerCache).
    absent: HashSet<String>,
}

/// A dependent as its owner's worker sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct DependentView {
    pub uid: String,
    pub identity: Identity,
    /// Its reference to the owner has blockOwnerDeletion.
    pub blocks: bool,
    pub deleting_dependents: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ItemView {
    pub identity: Identity,
    pub observed: bool,
    pub being_deleted: bool,
    pub deleting_dependents: bool,
    pub dependents: Vec<DependentView>,
}

fn owner_identity(r: &OwnerReference, namespace: &str) -> Identity {
    Identity { api_version: r.api_version.clone(), kind: r.kind.clone(), namespace: namespace.to_string(), name: r.name.clone(), uid: r.uid.clone() }
}

fn blocks(r: &OwnerReference) -> bool {
    r.block_owner_deletion == Some(true)
}

impl Graph {
    pub fn new() -> Graph {
        Graph::default()
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    pub fn contains(&self, uid: &str) -> bool {
        self.nodes.contains_key(uid)
    }

    pub fn is_absent(&self, uid: &str) -> bool {
        self.absent.contains(uid)
    }

    pub fn mark_absent(&mut self, uid: &str) {
        if self.absent.len() >= ABSENT_CACHE {
            self.absent.clear();
        }
        self.absent.insert(uid.to_string());
    }

    /// Applies one observation; returns the work it calls for.
    pub fn process(&mut self, ev: GraphEvent) -> Vec<Work> {
        let mut work = Vec::new();
        match ev {
            GraphEvent::Upsert(o) => self.upsert(o, &mut work),
            GraphEvent::Delete(o) => {
                if self.nodes.contains_key(&o.identity.uid) {
                    self.remove(&o.identity.uid, &mut work);
                }
            }
            GraphEvent::VirtualDelete(id) => {
                // Only a node never observed is removed on the API's word; an observed
                // one goes when its watch says so.
                if self.nodes.get(&id.uid).is_some_and(|n| !n.observed) {
                    self.remove(&id.uid, &mut work);
                }
            }
        }
        work
    }

    fn upsert(&mut self, o: ObjectInfo, work: &mut Vec<Work>) {
        let uid = o.identity.uid.clone();
        if uid.is_empty() {
            return;
        }
        let (was_deleting, old_finalizers) = match self.nodes.get_mut(&uid) {
            None => {
                self.nodes.insert(
                    uid.clone(),
                    Node {
                        identity: Identity { uid: String::new(), ..o.identity.clone() },
                        owners: links(&o.owners),
                        dependents: BTreeSet::new(),
                        being_deleted: o.deleting,
                        deleting_dependents: o.deleting && o.has(FOREGROUND),
                        observed: true,
                        finalizers: o.finalizers.clone(),
                    },
                );
                let owners = o.owners.clone();
                self.add_to_owners(&uid, &owners, &o.identity.namespace, work);
                (false, Vec::new())
            }
            Some(node) => {
                let was = (node.being_deleted, node.finalizers.clone());
                if !node.observed {
                    // A virtual owner seen at last: its coordinates are now the real ones.
                    node.observed = true;
                    node.identity = Identity { uid: String::new(), ..o.identity.clone() };
                }
                let old_owners = std::mem::replace(&mut node.owners, links(&o.owners));
                node.finalizers = o.finalizers.clone();
                if o.deleting {
                    node.being_deleted = true;
                }
                // References removed, or no longer blocking, may unblock a foreground deletion.
                let removed: Vec<String> = old_owners.iter().filter(|r| !o.owners.iter().any(|n| n.uid == r.uid)).map(|r| r.uid.clone()).collect();
                let unblocked: Vec<String> = old_owners
                    .iter()
                    .filter(|r| r.blocks && o.owners.iter().find(|n| n.uid == r.uid).is_none_or(|n| !blocks(n)))
                    .map(|r| r.uid.clone())
                    .collect();
                let added: Vec<OwnerReference> = o.owners.iter().filter(|r| !old_owners.iter().any(|n| n.uid == r.uid)).cloned().collect();
                for owner in unblocked {
                    if self.nodes.get(&owner).is_some_and(|n| n.deleting_dependents) {
                        work.push(Work::AttemptToDelete(owner));
                    }
                }
                self.add_to_owners(&uid, &added, &o.identity.namespace, work);
                for r in &removed {
                    if let Some(owner) = self.nodes.get_mut(r) {
                        owner.dependents.remove(&uid);
                    }
                }
                was
            }
        };
        // Transitions into a deletion that waits for the collector.
        let had = |f: &str| was_deleting && old_finalizers.iter().any(|x| x == f);
        if o.deleting && o.has(ORPHAN) && !had(ORPHAN) {
            work.push(Work::AttemptToOrphan(uid));
            return;
        }
        if o.deleting && o.has(FOREGROUND) && !had(FOREGROUND) {
            if let Some(node) = self.nodes.get_mut(&uid) {
                node.deleting_dependents = true;
                work.extend(node.dependents.iter().map(|d| Work::AttemptToDelete(d.clone())));
            }
            work.push(Work::AttemptToDelete(uid));
        }
    }

    fn add_to_owners(&mut self, uid: &str, owners: &[OwnerReference], namespace: &str, work: &mut Vec<Work>) {
        for r in owners {
            match self.nodes.get_mut(&r.uid) {
                Some(owner) => {
                    owner.dependents.insert(uid.to_string());
                }
                None => {
                    let mut dependents = BTreeSet::new();
                    dependents.insert(uid.to_string());
                    self.nodes.insert(
                        r.uid.clone(),
                        Node {
                            identity: Identity { uid: String::new(), ..owner_identity(r, namespace) },
                            owners: Vec::new(),
                            dependents,
                            being_deleted: false,
                            deleting_dependents: false,
                            observed: false,
                            finalizers: Vec::new(),
                        },
                    );
                    // Does it exist? A worker asks the API.
                    work.push(Work::AttemptToDelete(r.uid.clone()));
                }
            }
        }
    }

    fn remove(&mut self, uid: &str, work: &mut Vec<Work>) {
        let Some(node) = self.nodes.remove(uid) else { return };
        for r in &node.owners {
            if let Some(owner) = self.nodes.get_mut(&r.uid) {
                owner.dependents.remove(uid);
                if owner.deleting_dependents {
                    // Its last blocking dependent may be gone.
                    work.push(Work::AttemptToDelete(r.uid.clone()));
                }
            }
        }
        if !node.dependents.is_empty() {
            self.mark_absent(uid);
        }
        work.extend(node.dependents.into_iter().map(Work::AttemptToDelete));
    }

    pub fn view(&self, uid: &str) -> Option<ItemView> {
        let n = self.nodes.get(uid)?;
        let dependents = n
            .dependents
            .iter()
            .filter_map(|d| self.nodes.get(d).map(|dn| (d, dn)))
            .map(|(d, dn)| DependentView {
                uid: d.clone(),
                identity: Identity { uid: d.clone(), ..dn.identity.clone() },
                blocks: dn.owners.iter().any(|r| r.uid == uid && r.blocks),
                deleting_dependents: dn.deleting_dependents,
            })
            .collect();
        Some(ItemView { identity: Identity { uid: uid.to_string(), ..n.identity.clone() }, observed: n.observed, being_deleted: n.being_deleted, deleting_dependents: n.deleting_dependents, dependents })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerState {
    /// Gone (or a different object of the same name).
    Absent,
    Solid,
    /// Being deleted in the foreground: waiting for its dependents.
    Waiting,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    Background,
    Foreground,
    Orphan,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Nothing,
    RemoveFinalizer(&'static str),
    AttemptToDelete(Vec<String>),
    /// Drop the references to these owner uids.
    RemoveOwnerRefs(Vec<String>),
    /// Delete the object; `unblock` first makes its references non-blocking (a dependent
    /// of it is itself deleting its dependents: a possible cycle).
    Delete { policy: Policy, unblock: bool },
}

/// An owner being deleted in the foreground: done when no blocking dependent is left,
/// otherwise the blocking dependents are deleted first.
pub fn decide_deleting_dependents(view: &ItemView) -> Decision {
    let blocking: Vec<&DependentView> = view.dependents.iter().filter(|d| d.blocks).collect();
    if blocking.is_empty() {
        return Decision::RemoveFinalizer(FOREGROUND);
    }
    Decision::AttemptToDelete(blocking.iter().filter(|d| !d.deleting_dependents).map(|d| d.uid.clone()).collect())
}

/// An object with owners: kept while any owner is solid (dropping references to owners
/// that are gone or waiting for it); otherwise deleted, in the foreground if an owner
/// waits for it and it has dependents of its own, else per its own finalizers.
pub fn decide_owners(view: &ItemView, owners: &[OwnerReference], states: &[OwnerState], finalizers: &[String]) -> Decision {
    if owners.is_empty() {
        return Decision::Nothing;
    }
    let of = |s: OwnerState| owners.iter().zip(states).filter(move |(_, st)| **st == s).map(|(r, _)| r.uid.clone());
    let solid: Vec<String> = of(OwnerState::Solid).collect();
    let dangling: Vec<String> = of(OwnerState::Absent).collect();
    let waiting: Vec<String> = of(OwnerState::Waiting).collect();
    if !solid.is_empty() {
        if dangling.is_empty() && waiting.is_empty() {
            return Decision::Nothing;
        }
        return Decision::RemoveOwnerRefs(dangling.into_iter().chain(waiting).collect());
    }
    if !waiting.is_empty() && !view.dependents.is_empty() {
        let unblock = view.dependents.iter().any(|d| d.deleting_dependents);
        return Decision::Delete { policy: Policy::Foreground, unblock };
    }
    let policy = if finalizers.iter().any(|f| f == ORPHAN) {
        Policy::Orphan
    } else if finalizers.iter().any(|f| f == FOREGROUND) {
        Policy::Foreground
    } else {
        Policy::Background
    };
    Decision::Delete { policy, unblock: false }
}

/// Strategic merge patch removing references to `owners`.
pub fn remove_owners_patch(uid: &str, owners: &[String]) -> Value {
    let refs: Vec<Value> = owners.iter().map(|o| json!({"$patch": "delete", "uid": o})).collect();
    json!({"metadata": {"ownerReferences": refs, "uid": uid}})
}

/// JSON merge patch setting the finalizers, pinned to a resourceVersion.
pub fn finalizers_patch(finalizers: &[String], resource_version: &str) -> Value {
    let list = if finalizers.is_empty() { Value::Null } else { json!(finalizers) };
    json!({"metadata": {"finalizers": list, "resourceVersion": resource_version}})
}

/// The collector's loop.
pub struct Collector {
    client: kube::Client,
    resources: Arc<Resources>,
    graph: Mutex<Graph>,
    events: mpsc::UnboundedSender<GraphEvent>,
    deletes: Arc<Queue<String>>,
    orphans: Arc<Queue<String>>,
}

/// Feeds a graph event to the collector (from any informer).
#[derive(Clone)]
pub struct Observer(mpsc::UnboundedSender<GraphEvent>);

impl Observer {
    pub fn observe(&self, change: &Change<ObjectInfo>) {
        let ev = match change {
            Change::Added(o) | Change::Updated(_, o) => GraphEvent::Upsert((**o).clone()),
            Change::Deleted(o) => GraphEvent::Delete((**o).clone()),
        };
        let _ = self.0.send(ev);
    }

    /// A change of a typed object (ReplicaSet, Deployment, …) from a shared informer.
    pub fn observe_object<K: kube::Resource<DynamicType = ()>>(&self, change: &Change<K>) {
        let info = |k: &K| ObjectInfo::from_meta(&K::api_version(&()), &K::kind(&()), k.meta());
        let ev = match change {
            Change::Added(o) | Change::Updated(_, o) => GraphEvent::Upsert(info(o)),
            Change::Deleted(o) => GraphEvent::Delete(info(o)),
        };
        let _ = self.0.send(ev);
    }

    pub fn observe_pod(&self, change: &Change<PodInfo>) {
        let ev = match change {
            Change::Added(p) | Change::Updated(_, p) => GraphEvent::Upsert(ObjectInfo::from_pod(p)),
            Change::Deleted(p) => GraphEvent::Delete(ObjectInfo::from_pod(p)),
        };
        let _ = self.0.send(ev);
    }
}

/// Kinds whose graph events come from the shared typed informers.
pub const TYPED: &[(&str, &str)] = &[("", "Pod"), ("apps", "ReplicaSet"), ("", "ReplicationController"), ("apps", "Deployment")];

/// Starts the collector; returns the observer the typed informers (of [`TYPED`]) feed.
/// Its workers start once `typed` and its own watches have listed everything.
pub fn start(client: kube::Client, resources: Arc<Resources>, typed: Vec<Arc<dyn Synced>>) -> Observer {
    let (tx, rx) = mpsc::unbounded_channel();
    let gc = Arc::new(Collector {
        client,
        resources,
        graph: Mutex::new(Graph::new()),
        events: tx.clone(),
        deletes: Arc::new(Queue::new()),
        orphans: Arc::new(Queue::new()),
    });
    tokio::spawn(gc.clone().build(rx));
    tokio::spawn(gc.clone().monitor(typed));
    Observer(tx)
}

impl Collector {
    /// The graph builder: applies events in order and queues the work they call for.
    async fn build(self: Arc<Self>, mut rx: mpsc::UnboundedReceiver<GraphEvent>) {
        while let Some(ev) = rx.recv().await {
            let work = self.graph.lock().process(ev);
            for w in work {
                match w {
                    Work::AttemptToDelete(uid) => self.deletes.add(uid),
                    Work::AttemptToOrphan(uid) => self.orphans.add(uid),
                }
            }
        }
    }

    /// Watches every collectable resource not already watched, then starts the workers
    /// once all first lists are in; looks for new resources every 30 s.
    async fn monitor(self: Arc<Self>, typed: Vec<Arc<dyn Synced>>) {
        let mut watched: HashSet<(String, String)> = TYPED.iter().map(|(g, k)| (g.to_string(), k.to_string())).collect();
        let mut first = true;
        loop {
            match self.resources.refresh(&self.client).await {
                Ok(_) => {
                    let mut synced: Vec<Arc<dyn Synced>> = Vec::new();
                    for r in self.resources.collectable() {
                        if !watched.insert((r.ar.group.clone(), r.ar.kind.clone())) {
                            continue;
                        }
                        synced.push(self.watch(r.ar.clone()));
                    }
                    if first {
                        first = false;
                        let this = self.clone();
                        let all: Vec<Arc<dyn Synced>> = typed.iter().cloned().chain(synced).collect();
                        tokio::spawn(async move {
                            for s in &all {
                                s.wait().await;
                            }
                            this.start_workers();
                        });
                    }
                }
                Err(e) => tracing::warn!("garbage collector: discovery: {e}"),
            }
            tokio::time::sleep(if first { Duration::from_secs(1) } else { REDISCOVERY }).await;
        }
    }

    fn watch(&self, ar: kube::discovery::ApiResource) -> Arc<dyn Synced> {
        let informer: Arc<Informer<ObjectInfo>> = Informer::new();
        let observer = Observer(self.events.clone());
        informer.on_change(move |c| observer.observe(c));
        let api: Api<PartialObjectMeta<DynamicObject>> = Api::all_with(self.client.clone(), &ar);
        let (api_version, kind) = (ar.api_version.clone(), ar.kind.clone());
        informer.start(api, move |o: PartialObjectMeta<DynamicObject>| Some(ObjectInfo::from_meta(&api_version, &kind, &o.metadata)));
        informer.store.clone()
    }

    fn start_workers(self: &Arc<Self>) {
        for _ in 0..DELETE_WORKERS {
            let this = self.clone();
            tokio::spawn(async move {
                loop {
                    let uid = this.deletes.get().await;
                    match this.attempt_to_delete(&uid).await {
                        Ok(true) => this.deletes.forget(&uid),
                        Ok(false) => this.deletes.add_rate_limited(uid.clone()),
                        Err(e) => {
                            tracing::debug!("garbage collector: {uid}: {e}");
                            this.deletes.add_rate_limited(uid.clone());
                        }
                    }
                    this.deletes.done(&uid);
                }
            });
        }
        for _ in 0..ORPHAN_WORKERS {
            let this = self.clone();
            tokio::spawn(async move {
                loop {
                    let uid = this.orphans.get().await;
                    match this.attempt_to_orphan(&uid).await {
                        Ok(()) => this.orphans.forget(&uid),
                        Err(e) => {
                            tracing::debug!("garbage collector: orphaning {uid}: {e}");
                            this.orphans.add_rate_limited(uid.clone());
                        }
                    }
                    this.orphans.done(&uid);
                }
            });
        }
    }

    fn api(&self, id: &Identity) -> Result<Api<DynamicObject>, SyncError> {
        let r = self.resources.resolve(&id.api_version, &id.kind).ok_or_else(|| SyncError::Other(format!("no resource for {} {}", id.api_version, id.kind)))?;
        Ok(if r.namespaced { Api::namespaced_with(self.client.clone(), &id.namespace, &r.ar) } else { Api::all_with(self.client.clone(), &r.ar) })
    }

    async fn get(&self, id: &Identity) -> Result<Option<DynamicObject>, SyncError> {
        Ok(self.api(id)?.get_opt(&id.name).await?)
    }

    /// Whether an owner exists, is gone, or waits for its dependents.
    async fn owner_state(&self, namespace: &str, r: &OwnerReference) -> Result<OwnerState, SyncError> {
        if self.graph.lock().is_absent(&r.uid) {
            return Ok(OwnerState::Absent);
        }
        match self.get(&owner_identity(r, namespace)).await? {
            Some(o) if o.metadata.uid.as_deref() == Some(r.uid.as_str()) => {
                let waiting = o.metadata.deletion_timestamp.is_some() && o.metadata.finalizers.iter().flatten().any(|f| f == FOREGROUND);
                Ok(if waiting { OwnerState::Waiting } else { OwnerState::Solid })
            }
            _ => {
                self.graph.lock().mark_absent(&r.uid);
                Ok(OwnerState::Absent)
            }
        }
    }

    /// One attempt (upstream `attemptToDeleteItem`); Ok(false) asks to be tried again later.
    async fn attempt_to_delete(&self, uid: &str) -> Result<bool, SyncError> {
        let Some(view) = self.graph.lock().view(uid) else { return Ok(true) };
        if view.being_deleted && !view.deleting_dependents {
            return Ok(true);
        }
        let latest = match self.get(&view.identity).await? {
            Some(o) if o.metadata.uid.as_deref() == Some(uid) => o,
            _ => {
                let _ = self.events.send(GraphEvent::VirtualDelete(view.identity.clone()));
                return Ok(true);
            }
        };
        let decision = if view.deleting_dependents {
            decide_deleting_dependents(&view)
        } else {
            let owners = latest.metadata.owner_references.clone().unwrap_or_default();
            let mut states = Vec::with_capacity(owners.len());
            for r in &owners {
                states.push(self.owner_state(&view.identity.namespace, r).await?);
            }
            decide_owners(&view, &owners, &states, latest.metadata.finalizers.as_deref().unwrap_or_default())
        };
        self.apply(&view, &latest, decision).await?;
        Ok(view.observed)
    }

    async fn apply(&self, view: &ItemView, latest: &DynamicObject, decision: Decision) -> Result<(), SyncError> {
        let api = self.api(&view.identity)?;
        let name = &view.identity.name;
        let uid = &view.identity.uid;
        let rv = latest.metadata.resource_version.clone().unwrap_or_default();
        let result = match decision {
            Decision::Nothing => return Ok(()),
            Decision::AttemptToDelete(uids) => {
                for d in uids {
                    self.deletes.add(d);
                }
                return Ok(());
            }
            Decision::RemoveFinalizer(f) => {
                let rest: Vec<String> = latest.metadata.finalizers.iter().flatten().filter(|x| *x != f).cloned().collect();
                api.patch(name, &PatchParams::default(), &Patch::Merge(finalizers_patch(&rest, &rv))).await.map(|_| ())
            }
            Decision::RemoveOwnerRefs(owners) => api.patch(name, &PatchParams::default(), &Patch::Strategic(remove_owners_patch(uid, &owners))).await.map(|_| ()),
            Decision::Delete { policy, unblock } => {
                if unblock {
                    let refs: Vec<Value> = latest
                        .metadata
                        .owner_references
                        .iter()
                        .flatten()
                        .filter(|r| blocks(r))
                        .map(|r| json!({"uid": r.uid, "blockOwnerDeletion": false}))
                        .collect();
                    let patch = json!({"metadata": {"ownerReferences": refs, "uid": uid}});
                    api.patch(name, &PatchParams::default(), &Patch::Strategic(patch)).await?;
                }
                let dp = DeleteParams {
                    propagation_policy: Some(match policy {
                        Policy::Background => PropagationPolicy::Background,
                        Policy::Foreground => PropagationPolicy::Foreground,
                        Policy::Orphan => PropagationPolicy::Orphan,
                    }),
                    preconditions: Some(Preconditions { uid: Some(uid.clone()), resource_version: None }),
                    ..Default::default()
                };
                api.delete(name, &dp).await.map(|_| ())
            }
        };
        match result {
            Ok(()) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes the owner's reference from each dependent, then its orphan finalizer.
    async fn attempt_to_orphan(&self, uid: &str) -> Result<(), SyncError> {
        let Some(view) = self.graph.lock().view(uid) else { return Ok(()) };
        for d in &view.dependents {
            let api = self.api(&d.identity)?;
            match api.patch(&d.identity.name, &PatchParams::default(), &Patch::Strategic(remove_owners_patch(&d.uid, &[uid.to_string()]))).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(e.into()),
            }
        }
        let Some(latest) = self.get(&view.identity).await? else { return Ok(()) };
        if latest.metadata.uid.as_deref() != Some(uid) {
            return Ok(());
        }
        let rest: Vec<String> = latest.metadata.finalizers.iter().flatten().filter(|f| *f != ORPHAN).cloned().collect();
        let rv = latest.metadata.resource_version.clone().unwrap_or_default();
        match self.api(&view.identity)?.patch(&view.identity.name, &PatchParams::default(), &Patch::Merge(finalizers_patch(&rest, &rv))).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oref(kind: &str, name: &str, uid: &str, block: bool) -> OwnerReference {
        OwnerReference {
            api_version: if kind == "Pod" || kind == "ReplicationController" { "v1".into() } else { "apps/v1".into() },
            kind: kind.into(),
            name: name.into(),
            uid: uid.into(),
            controller: Some(true),
            block_owner_deletion: block.then_some(true),
        }
    }

    fn obj(kind: &str, name: &str, uid: &str, owners: Vec<OwnerReference>) -> ObjectInfo {
        ObjectInfo {
            identity: Identity { api_version: "apps/v1".into(), kind: kind.into(), namespace: "default".into(), name: name.into(), uid: uid.into() },
            resource_version: "1".into(),
            owners,
            finalizers: Vec::new(),
            deleting: false,
        }
    }

    fn deleting(mut o: ObjectInfo, finalizer: &str) -> ObjectInfo {
        o.deleting = true;
        o.finalizers = vec![finalizer.to_string()];
        o.resource_version = "2".into();
        o
    }

    fn deployment_family(g: &mut Graph) {
        g.process(GraphEvent::Upsert(obj("Deployment", "web", "d", vec![])));
        g.process(GraphEvent::Upsert(obj("ReplicaSet", "web-1", "rs", vec![oref("Deployment", "web", "d", true)])));
        for p in ["p1", "p2"] {
            g.process(GraphEvent::Upsert(obj("Pod", p, p, vec![oref("ReplicaSet", "web-1", "rs", true)])));
        }
    }

    #[test]
    fn background_deletion_cascades_through_dependents() {
        let mut g = Graph::new();
        deployment_family(&mut g);
        assert_eq!(g.len(), 4);
        // The Deployment is gone: its ReplicaSet is looked at, and found dangling.
        let work = g.process(GraphEvent::Delete(obj("Deployment", "web", "d", vec![])));
        assert_eq!(work, vec![Work::AttemptToDelete("rs".into())]);
        assert!(g.is_absent("d"));
        let view = g.view("rs").unwrap();
        let owners = vec![oref("Deployment", "web", "d", true)];
        assert_eq!(decide_owners(&view, &owners, &[OwnerState::Absent], &[]), Decision::Delete { policy: Policy::Background, unblock: false });
        let work = g.process(GraphEvent::Delete(obj("ReplicaSet", "web-1", "rs", vec![])));
        assert_eq!(work, vec![Work::AttemptToDelete("p1".into()), Work::AttemptToDelete("p2".into())]);
    }

    #[test]
    fn foreground_deletion_waits_for_blocking_dependents() {
        let mut g = Graph::new();
        deployment_family(&mut g);
        let rs = obj("ReplicaSet", "web-1", "rs", vec![oref("Deployment", "web", "d", true)]);
        let work = g.process(GraphEvent::Upsert(deleting(rs.clone(), FOREGROUND)));
        assert_eq!(work, vec![Work::AttemptToDelete("p1".into()), Work::AttemptToDelete("p2".into()), Work::AttemptToDelete("rs".into())]);
        // The pods: their owner waits, they have no dependents: deleted in the background.
        let pod = g.view("p1").unwrap();
        assert_eq!(decide_owners(&pod, &[oref("ReplicaSet", "web-1", "rs", true)], &[OwnerState::Waiting], &[]), Decision::Delete { policy: Policy::Background, unblock: false });
        // The ReplicaSet keeps its finalizer while blocking pods remain.
        let view = g.view("rs").unwrap();
        assert!(view.deleting_dependents);
        assert_eq!(decide_deleting_dependents(&view), Decision::AttemptToDelete(vec!["p1".into(), "p2".into()]));
        let work = g.process(GraphEvent::Delete(obj("Pod", "p1", "p1", vec![oref("ReplicaSet", "web-1", "rs", true)])));
        assert_eq!(work, vec![Work::AttemptToDelete("rs".into())]);
        g.process(GraphEvent::Delete(obj("Pod", "p2", "p2", vec![oref("ReplicaSet", "web-1", "rs", true)])));
        assert_eq!(decide_deleting_dependents(&g.view("rs").unwrap()), Decision::RemoveFinalizer(FOREGROUND));
    }

    #[test]
    fn non_blocking_dependents_do_not_hold_a_foreground_owner() {
        let mut g = Graph::new();
        g.process(GraphEvent::Upsert(obj("ReplicaSet", "rs", "rs", vec![])));
        g.process(GraphEvent::Upsert(obj("Pod", "p", "p", vec![oref("ReplicaSet", "rs", "rs", false)])));
        g.process(GraphEvent::Upsert(deleting(obj("ReplicaSet", "rs", "rs", vec![]), FOREGROUND)));
        assert_eq!(decide_deleting_dependents(&g.view("rs").unwrap()), Decision::RemoveFinalizer(FOREGROUND));
        // Dropping blockOwnerDeletion on a dependent wakes its waiting owner.
        let mut g = Graph::new();
        g.process(GraphEvent::Upsert(obj("ReplicaSet", "rs", "rs", vec![])));
        g.process(GraphEvent::Upsert(obj("Pod", "p", "p", vec![oref("ReplicaSet", "rs", "rs", true)])));
        g.process(GraphEvent::Upsert(deleting(obj("ReplicaSet", "rs", "rs", vec![]), FOREGROUND)));
        let work = g.process(GraphEvent::Upsert(obj("Pod", "p", "p", vec![oref("ReplicaSet", "rs", "rs", false)])));
        assert_eq!(work, vec![Work::AttemptToDelete("rs".into())]);
    }

    #[test]
    fn orphaning() {
        let mut g = Graph::new();
        deployment_family(&mut g);
        let rs = obj("ReplicaSet", "web-1", "rs", vec![oref("Deployment", "web", "d", true)]);
        let work = g.process(GraphEvent::Upsert(deleting(rs.clone(), ORPHAN)));
        assert_eq!(work, vec![Work::AttemptToOrphan("rs".into())]);
        // Seen again (same state): nothing new.
        assert!(g.process(GraphEvent::Upsert(deleting(rs, ORPHAN))).is_empty());
        assert_eq!(g.view("rs").unwrap().dependents.len(), 2);
        // References removed: the pods leave the owner's dependents.
        g.process(GraphEvent::Upsert(obj("Pod", "p1", "p1", vec![])));
        assert_eq!(g.view("rs").unwrap().dependents.len(), 1);
        assert_eq!(remove_owners_patch("p1", &["rs".into()])["metadata"]["ownerReferences"][0], json!({"$patch": "delete", "uid": "rs"}));
    }

    #[test]
    fn missing_owners_are_virtual_until_the_api_says() {
        let mut g = Graph::new();
        // A pod whose ReplicaSet was never seen: check the owner.
        let work = g.process(GraphEvent::Upsert(obj("Pod", "p", "p", vec![oref("ReplicaSet", "gone", "x", true)])));
        assert_eq!(work, vec![Work::AttemptToDelete("x".into())]);
        assert!(!g.view("x").unwrap().observed);
        // The API says it does not exist: the pod is looked at.
        let work = g.process(GraphEvent::VirtualDelete(g.view("x").unwrap().identity));
        assert_eq!(work, vec![Work::AttemptToDelete("p".into())]);
        assert!(g.is_absent("x") && !g.contains("x"));
        // An observed node is not removed on a virtual delete.
        g.process(GraphEvent::Upsert(obj("ReplicaSet", "real", "r", vec![])));
        assert!(g.process(GraphEvent::VirtualDelete(g.view("r").unwrap().identity)).is_empty());
        assert!(g.contains("r"));
        // A virtual owner later observed becomes a real node.
        g.process(GraphEvent::Upsert(obj("Pod", "q", "q", vec![oref("ReplicaSet", "late", "l", true)])));
        g.process(GraphEvent::Upsert(obj("ReplicaSet", "late", "l", vec![])));
        assert!(g.view("l").unwrap().observed);
    }

    #[test]
    fn owner_decisions() {
        let view = ItemView { identity: Identity::default(), observed: true, being_deleted: false, deleting_dependents: false, dependents: vec![] };
        let a = oref("ReplicaSet", "a", "a", true);
        let b = oref("ReplicaSet", "b", "b", true);
        assert_eq!(decide_owners(&view, &[], &[], &[]), Decision::Nothing);
        assert_eq!(decide_owners(&view, std::slice::from_ref(&a), &[OwnerState::Solid], &[]), Decision::Nothing);
        assert_eq!(decide_owners(&view, &[a.clone(), b.clone()], &[OwnerState::Solid, OwnerState::Absent], &[]), Decision::RemoveOwnerRefs(vec!["b".into()]));
        assert_eq!(decide_owners(&view, &[a.clone(), b.clone()], &[OwnerState::Waiting, OwnerState::Solid], &[]), Decision::RemoveOwnerRefs(vec!["a".into()]));
        assert_eq!(decide_owners(&view, std::slice::from_ref(&a), &[OwnerState::Absent], &[ORPHAN.into()]), Decision::Delete { policy: Policy::Orphan, unblock: false });
        let with_deps = ItemView {
            dependents: vec![DependentView { uid: "c".into(), identity: Identity::default(), blocks: true, deleting_dependents: true }],
            ..view
        };
        assert_eq!(decide_owners(&with_deps, &[a], &[OwnerState::Waiting], &[]), Decision::Delete { policy: Policy::Foreground, unblock: true });
        assert_eq!(finalizers_patch(&[], "7"), json!({"metadata": {"finalizers": null, "resourceVersion": "7"}}));
    }
}
