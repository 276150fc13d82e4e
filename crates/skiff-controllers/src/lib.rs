//! skiff-controllers: kube-controller-manager's controllers.
//!
//! Each controller is one module that starts by saying what it keeps true. Its decision
//! is a pure function from the desired and observed state to actions, unit-tested without
//! a server; a thin loop feeds it from shared informers (kube-rs watches) and applies the
//! actions through the API, as any remote client would. Failed syncs are retried with
//! exponential back-off per key ([`queue`]), so bad input never becomes a hot loop.
//!
//! | module | keeps true |
//! |---|---|
//! | [`nodeipam`] | each Node has a distinct pod CIDR |
//! | [`replicaset`] | each ReplicaSet / ReplicationController has `replicas` matching pods |
//! | [`deployment`] | each Deployment runs `replicas` pods of its template through ReplicaSets |
//! | [`job`] | each Job runs its pods to `completions` successes, or fails by its limits |
//! | [`cronjob`] | each CronJob starts a Job at each scheduled time, within its policies |
//! | [`ttlafterfinished`] | a finished Job with `ttlSecondsAfterFinished` is deleted that long after |
//! | [`garbagecollector`] | nothing outlives all its owners; foreground and orphan deletions complete |
//! | [`namespace`] | a Terminating namespace is emptied, then finalized |
//! | [`daemonset`] | each DaemonSet runs one pod of its template on every node it should run on |
//! | [`statefulset`] | each StatefulSet runs pods `<name>-<ordinal>` with stable identity and claims, in order |

pub mod claims;
pub mod clock;
pub mod cronjob;
pub mod daemonset;
pub mod deployment;
pub mod events;
pub mod expectations;
pub mod garbagecollector;
pub mod history;
pub mod informer;
pub mod job;
pub mod namespace;
pub mod nodeipam;
pub mod persistentvolume;
pub mod pods;
pub mod queue;
pub mod replicaset;
pub mod resources;
pub mod selector;
pub mod ttlafterfinished;
pub mod statefulset;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Namespace, Node, Pod, ReplicationController};
use kube::api::Api;
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::clock::{Clock, SystemClock};
use crate::informer::{Cached, Informer, Store};
use crate::pods::PodInfo;
use crate::queue::Queue;

/// Writes (pod creations, deletions, patches) in flight at once across all controllers:
/// enough to keep the API server's group commit busy, well under its in-flight limit.
const MAX_WRITES_IN_FLIGHT: usize = 32;

/// What all controllers share: the client, the clock, the pod informer.
pub struct Shared {
    pub client: kube::Client,
    pub clock: Arc<dyn Clock>,
    pub pods: Arc<Informer<PodInfo>>,
    writes: Semaphore,
}

impl Shared {
    pub fn recorder(&self, component: &str) -> events::Recorder {
        events::Recorder::new(self.client.clone(), component, self.clock.clone())
    }

    /// Waits for a write slot (the controllers' back-pressure).
    pub async fn write_slot(&self) -> Option<SemaphorePermit<'_>> {
        self.writes.acquire().await.ok()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Api(#[from] kube::Error),
    #[error("{0}")]
    Other(String),
}

impl SyncError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, SyncError::Api(kube::Error::Api(s)) if s.code == 404)
    }
}

/// Whether a create failed because its namespace is being deleted (nothing to retry).
pub fn is_namespace_terminating(e: &kube::Error) -> bool {
    match e {
        kube::Error::Api(s) => {
            s.code == 403
                && (s.message.contains("because it is being terminated")
                    || s.details.as_ref().is_some_and(|d| d.causes.iter().any(|c| c.reason == "NamespaceTerminating")))
        }
        _ => false,
    }
}

/// A cache a controller must have loaded before it acts.
pub trait Synced: Send + Sync {
    fn wait(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

impl<T: Cached> Synced for Store<T> {
    fn wait(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(self.wait_synced())
    }
}

/// Runs `n` workers on `queue` once `caches` are loaded: each takes a key, syncs it, and
/// requeues it with back-off if the sync failed.
pub fn spawn_workers<F, Fut>(queue: Arc<Queue<String>>, n: usize, caches: Vec<Arc<dyn Synced>>, sync: F)
where
    F: Fn(String) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<(), SyncError>> + Send + 'static,
{
    tokio::spawn(async move {
        for c in &caches {
            c.wait().await;
        }
        for _ in 0..n {
            let (queue, sync) = (queue.clone(), sync.clone());
            tokio::spawn(async move {
                loop {
                    let key = queue.get().await;
                    match sync(key.clone()).await {
                        Ok(()) => queue.forget(&key),
                        Err(e) => {
                            tracing::debug!("sync {key}: {e}");
                            queue.add_rate_limited(key.clone());
                        }
                    }
                    queue.done(&key);
                }
            });
        }
    });
}

/// Settings of the controller manager.
pub struct Config {
    /// The network every node's podCIDR is carved from.
    pub cluster_cidr: String,
}

impl Default for Config {
    fn default() -> Config {
        Config { cluster_cidr: nodeipam::CLUSTER_CIDR.to_string() }
    }
}

/// Runs every controller until the process ends.
pub async fn run(client: kube::Client, config: Config) {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let shared = Arc::new(Shared { client: client.clone(), clock: clock.clone(), pods: Informer::new(), writes: Semaphore::new(MAX_WRITES_IN_FLIGHT) });

    let nodes = Informer::new();
    nodeipam::start(client.clone(), &nodes, shared.recorder("node-ipam-controller"), config.cluster_cidr);
    persistentvolume::start(client.clone(), shared.recorder("persistentvolume-controller"));

    let replicasets: Arc<Informer<ReplicaSet>> = Informer::new();
    let rcs: Arc<Informer<ReplicationController>> = Informer::new();
    replicaset::start(&shared, &replicasets);
    replicaset::start(&shared, &rcs);
    let deployments: Arc<Informer<Deployment>> = Informer::new();
    deployment::start(&shared, &deployments, &replicasets);

    let resources = resources::Resources::new();
    let typed: Vec<Arc<dyn Synced>> = vec![shared.pods.store.clone(), replicasets.store.clone(), rcs.store.clone(), deployments.store.clone()];
    let gc = garbagecollector::start(client.clone(), resources.clone(), typed);
    let o = gc.clone();
    shared.pods.on_change(move |c| o.observe_pod(c));
    let o = gc.clone();
    replicasets.on_change(move |c| o.observe_object(c));
    let o = gc.clone();
    rcs.on_change(move |c| o.observe_object(c));
    deployments.on_change(move |c| gc.observe_object(c));

    let namespaces: Arc<Informer<Namespace>> = Informer::new();
    namespace::start(&shared, &namespaces, resources);

    // DaemonSets and StatefulSets share the ControllerRevision watch.
    let revisions: Arc<Informer<k8s_openapi::api::apps::v1::ControllerRevision>> = Informer::new();
    daemonset::start(&shared, &revisions);
    statefulset::start(&shared, &revisions);

    let jobs: Arc<Informer<k8s_openapi::api::batch::v1::Job>> = Informer::new();
    job::start(&shared, &jobs);
    let cronjobs: Arc<Informer<k8s_openapi::api::batch::v1::CronJob>> = Informer::new();
    cronjob::start(&shared, &cronjobs, &jobs);
    ttlafterfinished::start(&shared, &jobs);

    // Handlers are all registered: start watching.
    nodes.start(Api::<Node>::all(client.clone()), nodeipam::NodeCidrs::from_node);
    shared.pods.start(Api::<Pod>::all(client.clone()), PodInfo::from_pod);
    replicasets.start(Api::<ReplicaSet>::all(client.clone()), Some);
    rcs.start(Api::<ReplicationController>::all(client.clone()), Some);
    deployments.start(Api::<Deployment>::all(client.clone()), Some);
    namespaces.start(Api::<Namespace>::all(client.clone()), Some);
    revisions.start(Api::<k8s_openapi::api::apps::v1::ControllerRevision>::all(client.clone()), Some);
    jobs.start(Api::<k8s_openapi::api::batch::v1::Job>::all(client.clone()), Some);
    cronjobs.start(Api::<k8s_openapi::api::batch::v1::CronJob>::all(client.clone()), Some);
    std::future::pending::<()>().await;
}
