//! The scheduler loop: watches pods, nodes and namespaces through the API, keeps the
//! snapshot and the queue, places one pod at a time with `schedule_one`, and binds
//! through pods/binding without waiting (the pod is "assumed" on its node meanwhile),
//! as kube-scheduler does. It records Scheduled and FailedScheduling events and the
//! PodScheduled condition. A pod with WaitForFirstConsumer claims is bound only once
//! its claims are (upstream's VolumeBinding PreBind), so it never reaches a node before
//! its volumes exist.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Event, Namespace, Node, PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::watcher;
use rand::SeedableRng;
use serde_json::json;
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio::time::Instant;

use crate::queue::{key_of, Key, Queue};
use crate::{schedule_one, wants_scheduling, Snapshot};

pub const SCHEDULER_NAME: &str = "default-scheduler";
/// Bindings in flight at once: enough to hide the API round trip, few enough to stay
/// under the API server's in-flight limit.
const MAX_BINDINGS_IN_FLIGHT: usize = 64;
/// How long a pod waits for its claims to be bound (upstream's bindTimeoutSeconds).
const VOLUME_BIND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(600);

/// A pod placed on a node whose claims (in its namespace) are being provisioned or bound there.
struct VolumeWait {
    claims: Vec<String>,
    ready: oneshot::Sender<()>,
}

enum Input {
    Pod(watcher::Event<Pod>),
    Node(watcher::Event<Node>),
    Namespace(watcher::Event<Namespace>),
    Claim(watcher::Event<PersistentVolumeClaim>),
    Volume(watcher::Event<PersistentVolume>),
    Class(watcher::Event<StorageClass>),
    BindFailed(Arc<Pod>, String),
}

/// Runs the scheduler until the API connection's watches end.
pub async fn run(client: kube::Client) {
    let (tx, rx) = mpsc::unbounded_channel();
    spawn_watch(Api::<Pod>::all(client.clone()), tx.clone(), Input::Pod);
    spawn_watch(Api::<Node>::all(client.clone()), tx.clone(), Input::Node);
    spawn_watch(Api::<Namespace>::all(client.clone()), tx.clone(), Input::Namespace);
    spawn_watch(Api::<PersistentVolumeClaim>::all(client.clone()), tx.clone(), Input::Claim);
    spawn_watch(Api::<PersistentVolume>::all(client.clone()), tx.clone(), Input::Volume);
    spawn_watch(Api::<StorageClass>::all(client.clone()), tx.clone(), Input::Class);
    Loop::new(client, tx).run(rx).await;
}

fn spawn_watch<K, F>(api: Api<K>, tx: mpsc::UnboundedSender<Input>, wrap: F)
where
    K: kube::Resource + Clone + std::fmt::Debug + serde::de::DeserializeOwned + Send + 'static,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone,
    F: Fn(watcher::Event<K>) -> Input + Send + 'static,
{
    tokio::spawn(async move {
        let mut stream = watcher(api, watcher::Config::default()).boxed();
        while let Some(ev) = stream.next().await {
            match ev {
                Ok(ev) => {
                    if tx.send(wrap(ev)).is_err() {
                        return;
                    }
                }
                // The watcher retries by itself; errors are transient (API restarts).
                Err(e) => {
                    tracing::debug!("scheduler watch: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                }
            }
        }
    });
}

struct Loop {
    client: kube::Client,
    tx: mpsc::UnboundedSender<Input>,
    snapshot: Snapshot,
    queue: Queue,
    /// Pods popped and being bound: not to be queued again meanwhile.
    binding: HashSet<Key>,
    /// The last failure message recorded per pod, so a retry that fails the same way
    /// writes nothing.
    last_failure: HashMap<Key, String>,
    bind_slots: Arc<Semaphore>,
    volume_waits: HashMap<Key, VolumeWait>,
    rng: rand::rngs::StdRng,
    /// Bound pods and nodes in the snapshot, and those seen during a watcher's re-list,
    /// to drop what vanished while the watch was down.
    known_pods: HashSet<Key>,
    known_nodes: HashSet<String>,
    relist_pods: Option<HashSet<Key>>,
    relist_nodes: Option<HashSet<String>>,
}

impl Loop {
    fn new(client: kube::Client, tx: mpsc::UnboundedSender<Input>) -> Loop {
        Loop {
            client,
            tx,
            snapshot: Snapshot::new(),
            queue: Queue::new(),
            binding: HashSet::new(),
            last_failure: HashMap::new(),
            bind_slots: Arc::new(Semaphore::new(MAX_BINDINGS_IN_FLIGHT)),
            volume_waits: HashMap::new(),
            rng: rand::rngs::StdRng::from_os_rng(),
            known_pods: HashSet::new(),
            known_nodes: HashSet::new(),
            relist_pods: None,
            relist_nodes: None,
        }
    }

    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Input>) {
        loop {
            // Take in everything that happened before deciding anything.
            while let Ok(input) = rx.try_recv() {
                self.handle(input);
            }
            if let Some(pod) = self.queue.pop(Instant::now()) {
                self.schedule(pod).await;
                continue;
            }
            let wake = self.queue.next_wakeup();
            tokio::select! {
                input = rx.recv() => match input {
                    Some(input) => self.handle(input),
                    None => return,
                },
                _ = sleep_until(wake) => {}
            }
        }
    }

    fn handle(&mut self, input: Input) {
        match input {
            Input::Pod(ev) => match ev {
                watcher::Event::Init => self.relist_pods = Some(HashSet::new()),
                watcher::Event::InitApply(p) => {
                    if let Some(seen) = &mut self.relist_pods {
                        seen.insert(key_of(&p));
                    }
                    self.pod_changed(Arc::new(p));
                }
                watcher::Event::InitDone => {
                    if let Some(seen) = self.relist_pods.take() {
                        let gone: Vec<Key> = self.known_pods.difference(&seen).cloned().collect();
                        for (ns, name) in gone {
                            self.snapshot.remove_pod(&ns, &name);
                            self.known_pods.remove(&(ns, name));
                        }
                    }
                }
                watcher::Event::Apply(p) => self.pod_changed(Arc::new(p)),
                watcher::Event::Delete(p) => self.pod_deleted(&p),
            },
            Input::Node(ev) => {
                match ev {
                    watcher::Event::Init => self.relist_nodes = Some(HashSet::new()),
                    watcher::Event::InitApply(n) | watcher::Event::Apply(n) => {
                        if let Some(name) = &n.metadata.name {
                            if let Some(seen) = &mut self.relist_nodes {
                                seen.insert(name.clone());
                            }
                            self.known_nodes.insert(name.clone());
                        }
                        self.snapshot.upsert_node(Arc::new(n));
                    }
                    watcher::Event::InitDone => {
                        if let Some(seen) = self.relist_nodes.take() {
                            let gone: Vec<String> = self.known_nodes.difference(&seen).cloned().collect();
                            for name in gone {
                                self.snapshot.remove_node(&name);
                                self.known_nodes.remove(&name);
                            }
                        }
                    }
                    watcher::Event::Delete(n) => {
                        if let Some(name) = &n.metadata.name {
                            self.snapshot.remove_node(name);
                            self.known_nodes.remove(name);
                        }
                    }
                }
                // A node added, relabelled, uncordoned or resized may fit parked pods.
                self.queue.cluster_changed();
            }
            Input::Namespace(ev) => match ev {
                watcher::Event::InitApply(ns) | watcher::Event::Apply(ns) => self.snapshot.upsert_namespace(Arc::new(ns)),
                watcher::Event::Delete(ns) => {
                    if let Some(name) = &ns.metadata.name {
                        self.snapshot.remove_namespace(name);
                    }
                }
                watcher::Event::Init | watcher::Event::InitDone => {}
            },
            // A claim bound or provisioned, a volume or class added, may let parked pods in.
            Input::Claim(ev) => {
                let v = &mut self.snapshot.volumes;
                match ev {
                    watcher::Event::InitApply(c) | watcher::Event::Apply(c) => {
                        v.upsert_claim(&c);
                        self.release_volume_waits(c.metadata.namespace.as_deref().unwrap_or_default(), c.metadata.name.as_deref().unwrap_or_default());
                    }
                    watcher::Event::Delete(c) => v.remove_claim(c.metadata.namespace.as_deref().unwrap_or_default(), c.metadata.name.as_deref().unwrap_or_default()),
                    watcher::Event::Init | watcher::Event::InitDone => {}
                }
                self.queue.cluster_changed();
            }
            Input::Volume(ev) => {
                match ev {
                    watcher::Event::InitApply(pv) | watcher::Event::Apply(pv) => self.snapshot.volumes.upsert_volume(&pv),
                    watcher::Event::Delete(pv) => self.snapshot.volumes.remove_volume(pv.metadata.name.as_deref().unwrap_or_default()),
                    watcher::Event::Init | watcher::Event::InitDone => {}
                }
                self.queue.cluster_changed();
            }
            Input::Class(ev) => {
                match ev {
                    watcher::Event::InitApply(sc) | watcher::Event::Apply(sc) => self.snapshot.volumes.upsert_class(&sc),
                    watcher::Event::Delete(sc) => self.snapshot.volumes.remove_class(sc.metadata.name.as_deref().unwrap_or_default()),
                    watcher::Event::Init | watcher::Event::InitDone => {}
                }
                self.queue.cluster_changed();
            }
            Input::BindFailed(pod, why) => {
                let key = key_of(&pod);
                tracing::info!("binding {}/{} failed: {why}", key.0, key.1);
                self.binding.remove(&key);
                self.volume_waits.remove(&key);
                self.snapshot.forget(&key.0, &key.1);
                self.queue.backoff(pod, Instant::now());
            }
        }
    }

    fn pod_changed(&mut self, pod: Arc<Pod>) {
        let key = key_of(&pod);
        let bound = pod.spec.as_ref().and_then(|s| s.node_name.as_deref()).is_some_and(|n| !n.is_empty());
        let terminal = matches!(pod.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Succeeded") | Some("Failed"));
        if bound {
            self.binding.remove(&key);
            self.queue.remove(&key);
            self.last_failure.remove(&key);
            if terminal {
                // A finished pod holds no resources: its node has room again.
                self.snapshot.remove_pod(&key.0, &key.1);
                self.known_pods.remove(&key);
                self.queue.cluster_changed();
            } else {
                self.snapshot.upsert_pod(pod);
                self.known_pods.insert(key);
            }
        } else if wants_scheduling(&pod) {
            if !self.binding.contains(&key) {
                self.queue.add_or_update(pod);
            }
        } else {
            self.queue.remove(&key);
        }
    }

    fn pod_deleted(&mut self, pod: &Pod) {
        let key = key_of(pod);
        if self.volume_waits.remove(&key).is_some() {
            self.snapshot.forget(&key.0, &key.1);
        }
        self.queue.remove(&key);
        self.binding.remove(&key);
        self.last_failure.remove(&key);
        if self.known_pods.remove(&key) {
            self.snapshot.remove_pod(&key.0, &key.1);
            self.queue.cluster_changed();
        }
    }

    async fn schedule(&mut self, pod: Arc<Pod>) {
        let key = key_of(&pod);
        match schedule_one(&pod, &self.snapshot, &mut self.rng) {
            Ok(node) => {
                let claims = self.snapshot.volumes.to_select(&key.0, &crate::plugins::volume_binding::pod_claims(&pod));
                self.snapshot.assume(&pod, &node);
                self.binding.insert(key.clone());
                let (client, tx) = (self.client.clone(), self.tx.clone());
                if !claims.is_empty() {
                    // Never wait for a slot here: the claims are released by this loop.
                    let (ready, wait) = oneshot::channel();
                    self.volume_waits.insert(key.clone(), VolumeWait { claims: claims.clone(), ready });
                    let slots = self.bind_slots.clone();
                    tokio::spawn(async move {
                        let bound = async {
                            select_node(&client, &pod, &node, &claims).await?;
                            match tokio::time::timeout(VOLUME_BIND_TIMEOUT, wait).await {
                                Ok(Ok(())) => {}
                                // The pod was deleted meanwhile.
                                Ok(Err(_)) => return Ok(()),
                                Err(_) => return Err("binding volumes: timed out waiting for the condition".to_string()),
                            }
                            let _slot = slots.acquire_owned().await;
                            bind(&client, &pod, &node).await
                        };
                        if let Err(why) = bound.await {
                            let _ = tx.send(Input::BindFailed(pod, why));
                        }
                    });
                    return;
                }
                // Waiting for a slot is the loop's back-pressure.
                let Ok(slot) = self.bind_slots.clone().acquire_owned().await else { return };
                tokio::spawn(async move {
                    if let Err(why) = bind(&client, &pod, &node).await {
                        let _ = tx.send(Input::BindFailed(pod, why));
                    }
                    drop(slot);
                });
            }
            Err(fit) => {
                let message = fit.to_string();
                self.queue.unschedulable(pod.clone(), Instant::now());
                if self.last_failure.get(&key) != Some(&message) {
                    self.last_failure.insert(key, message.clone());
                    let client = self.client.clone();
                    tokio::spawn(async move { record_unschedulable(&client, &pod, &message).await });
                }
            }
        }
    }

    /// The claim `namespace/claim` changed: the pods waiting on it whose claims are now
    /// all bound go on to their binding. (Only unbound claims are waited on, so a new wait
    /// is always released by a later claim event.)
    fn release_volume_waits(&mut self, namespace: &str, claim: &str) {
        let volumes = &self.snapshot.volumes;
        let ready: Vec<Key> = self
            .volume_waits
            .iter()
            .filter(|(k, w)| k.0 == namespace && w.claims.iter().any(|c| c == claim) && w.claims.iter().all(|c| volumes.is_bound(namespace, c)))
            .map(|(k, _)| k.clone())
            .collect();
        for key in ready {
            if let Some(w) = self.volume_waits.remove(&key) {
                let _ = w.ready.send(());
            }
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// PreBind: the pod's unbound WaitForFirstConsumer claims are to be provisioned or bound on this node.
async fn select_node(client: &kube::Client, pod: &Pod, node: &str, claims: &[String]) -> Result<(), String> {
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), &key_of(pod).0);
    for claim in claims {
        let patch = json!({"metadata": {"annotations": {crate::plugins::volume_binding::SELECTED_NODE: node}}});
        pvcs.patch(claim, &PatchParams::default(), &Patch::Merge(patch)).await.map_err(|e| format!("selecting node for claim {claim}: {e}"))?;
    }
    Ok(())
}

async fn bind(client: &kube::Client, pod: &Pod, node: &str) -> Result<(), String> {
    let (ns, name) = key_of(pod);
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let binding = json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name, "namespace": ns, "uid": pod.metadata.uid},
        "target": {"apiVersion": "v1", "kind": "Node", "name": node}});
    pods.create_subresource::<serde_json::Value, serde_json::Value>("binding", &name, &PostParams::default(), &binding)
        .await
        .map_err(|e| e.to_string())?;
    event(client, pod, "Normal", "Scheduled", &format!("Successfully assigned {ns}/{name} to {node}")).await;
    Ok(())
}

/// PodScheduled=False with upstream's reason and message, and a FailedScheduling event.
async fn record_unschedulable(client: &kube::Client, pod: &Pod, message: &str) {
    let (ns, name) = key_of(pod);
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let status = json!({"status": {"conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
        "message": message, "lastProbeTime": null, "lastTransitionTime": now()}]}});
    if let Err(e) = pods.patch_status(&name, &PatchParams::default(), &Patch::Strategic(status)).await {
        tracing::debug!("pod {ns}/{name} status: {e}");
    }
    event(client, pod, "Warning", "FailedScheduling", message).await;
}

async fn event(client: &kube::Client, pod: &Pod, type_: &str, reason: &str, message: &str) {
    let (ns, name) = key_of(pod);
    let events: Api<Event> = Api::namespaced(client.clone(), &ns);
    let now = now();
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let ev: Event = match serde_json::from_value(json!({
        "metadata": {"name": format!("{name}.{nanos:x}"), "namespace": ns},
        "involvedObject": {"apiVersion": "v1", "kind": "Pod", "name": name, "namespace": ns, "uid": pod.metadata.uid, "resourceVersion": pod.metadata.resource_version},
        "reason": reason, "message": message, "type": type_,
        "source": {"component": SCHEDULER_NAME},
        "reportingComponent": SCHEDULER_NAME, "reportingInstance": SCHEDULER_NAME,
        "firstTimestamp": now, "lastTimestamp": now, "count": 1,
    })) {
        Ok(ev) => ev,
        Err(_) => return,
    };
    if let Err(e) = events.create(&PostParams::default(), &ev).await {
        tracing::debug!("event for {ns}/{name}: {e}");
    }
}

fn now() -> String {
    jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}
