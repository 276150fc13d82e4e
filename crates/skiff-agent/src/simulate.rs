//! Simulated nodes (`skiff agent --simulate N`): one process registers N Nodes, keeps
//! their Leases and status fresh, and plays the kubelet for every pod bound to them
//! without running anything — what kubemark's hollow kubelet is to Kubernetes.
//!
//! What it keeps true, through the public API only (so it works against any
//! Kubernetes-compatible API server):
//! - each node exists, is Ready, renews its Lease in kube-node-lease every 10 s and
//!   reports its status every minute (renewals spread over the period, a few at a time);
//! - a pod bound to one of the nodes goes Running and Ready at once: init containers
//!   completed, containers started and ready with a containerID and startedAt, an IP from
//!   the node's spec.podCIDR (or, when no node IPAM controller gives one, from a /24
//!   invented per node in 100.64.0.0/10);
//! - a pod being deleted gracefully is reported terminated, then deleted with grace 0.
//! - claims the scheduler placed on one of the nodes get a PersistentVolume from the
//!   `skiff.io/local` provisioner (nothing on disk).
//!
//! Costs: one watch for all pods bound to any node (`spec.nodeName!=`), one watch for
//! nodes, and a small record per pod; pod objects are not kept. Writes go out through a
//! bounded pool, so a burst of thousands of pods queues here rather than at the server.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod, PodStatus};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::{watcher, WatchStreamExt};
use parking_lot::Mutex;
use serde_json::json;
use tokio::sync::{mpsc, Semaphore};
use tokio::time::Instant;

use crate::node::{self, NodeSpec};
use crate::provisioner;
use crate::runtime::network::Cidr;
use crate::status::{self, ContainerFacts, Exit, StateFacts, StatusInput};
use crate::AgentError;

pub const DEFAULT_PREFIX: &str = "sim-";
/// Pod status writes and deletions in flight at once.
pub const DEFAULT_CONCURRENCY: usize = 48;
/// Lease and node status writes in flight at once (apart from the pod writes, so that a
/// burst of pods never makes a node miss its lease).
const HEARTBEAT_CONCURRENCY: usize = 16;
const LEASE_RENEW: Duration = Duration::from_secs(10);
const STATUS_REPORT: Duration = Duration::from_secs(60);
/// How long a node's pods wait for spec.podCIDR before addresses are invented; longer
/// once the IPAM controller has shown it runs by giving any of our nodes a CIDR.
const CIDR_WAIT: Duration = Duration::from_secs(10);
const CIDR_WAIT_IPAM: Duration = Duration::from_secs(30);
const RETRY: Duration = Duration::from_secs(1);

/// How to simulate.
pub struct SimConfig {
    pub count: usize,
    /// Node names are `<prefix><index>`.
    pub name_prefix: String,
    /// Added to the standard kubernetes.io labels.
    pub labels: BTreeMap<String, String>,
    /// Replaces the default figures (see [`default_capacity`]) for the resources given.
    pub capacity: BTreeMap<String, Quantity>,
    /// Pod writes in flight at once.
    pub concurrency: usize,
}

impl SimConfig {
    pub fn new(count: usize) -> SimConfig {
        SimConfig {
            count,
            name_prefix: DEFAULT_PREFIX.to_string(),
            labels: BTreeMap::new(),
            capacity: BTreeMap::new(),
            concurrency: DEFAULT_CONCURRENCY,
        }
    }
}

/// What a simulated node reports unless `--capacity` says otherwise: a large machine
/// with the kubelet's default of 110 pods.
pub fn default_capacity() -> BTreeMap<String, Quantity> {
    [("cpu", "32"), ("memory", "256Gi"), ("ephemeral-storage", "1Ti"), ("pods", "110")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), Quantity(v.to_string())))
        .collect()
}

pub fn node_name(prefix: &str, i: usize) -> String {
    format!("{prefix}{i}")
}

/// The InternalIP of simulated node `i`: from 198.18.0.0/15, the range set aside for
/// benchmarks (RFC 2544).
pub fn node_ip(i: usize) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(Ipv4Addr::new(198, 18, 0, 0)) + 1 + (i as u32 % ((1 << 17) - 2)))
}

/// The /24 invented for node `i` when no podCIDR comes: from 100.64.0.0/10.
pub fn invented_cidr(i: usize) -> Cidr {
    let base = u32::from(Ipv4Addr::new(100, 64, 0, 0)) + ((i as u32 % (1 << 14)) << 8);
    Cidr { base: Ipv4Addr::from(base), prefix: 24 }
}

/// A node's pod addresses: never the network, gateway (.1) or broadcast address, never
/// one in use, round robin (a freed address is the last to come back), as the kubelet's
/// host-local IPAM does. At most 4096 addresses of a large podCIDR are used.
#[derive(Debug, Clone)]
pub struct IpPool {
    cidr: Cidr,
    used: Vec<u64>,
    next: u32,
}

impl IpPool {
    pub fn new(cidr: Cidr) -> IpPool {
        let n = Self::span(&cidr);
        IpPool { cidr, used: vec![0; n.div_ceil(64) as usize], next: 2 }
    }

    fn span(cidr: &Cidr) -> u32 {
        (1u32 << (32 - cidr.prefix)).min(4096)
    }

    fn offset(&self, ip: Ipv4Addr) -> Option<u32> {
        let off = u32::from(ip).checked_sub(u32::from(self.cidr.base))?;
        (off < Self::span(&self.cidr)).then_some(off)
    }

    pub fn cidr(&self) -> Cidr {
        self.cidr
    }

    /// The next free address; when every one is taken, the next in turn all the same.
    pub fn allocate(&mut self) -> Ipv4Addr {
        let span = Self::span(&self.cidr);
        // Usable offsets: 2 ..= span-2 (a /30 has just one: 2).
        let first = 2u32;
        let last = if span >= 4 { span - 2 } else { first };
        let count = last - first + 1;
        let mut pick = None;
        for k in 0..count {
            let off = first + (self.next - first + k) % count;
            if self.used[(off / 64) as usize] & (1 << (off % 64)) == 0 {
                pick = Some(off);
                break;
            }
        }
        let off = pick.unwrap_or(self.next.clamp(first, last));
        self.used[(off / 64) as usize] |= 1 << (off % 64);
        self.next = if off >= last { first } else { off + 1 };
        Ipv4Addr::from(u32::from(self.cidr.base) + off)
    }

    /// Marks an address as in use (a pod found running with it).
    pub fn claim(&mut self, ip: Ipv4Addr) {
        if let Some(off) = self.offset(ip) {
            self.used[(off / 64) as usize] |= 1 << (off % 64);
        }
    }

    pub fn release(&mut self, ip: Ipv4Addr) {
        if let Some(off) = self.offset(ip) {
            self.used[(off / 64) as usize] &= !(1 << (off % 64));
        }
    }
}

/// A container ID as a runtime would give one: stable for a pod's container.
pub fn container_id(uid: &str, container: &str) -> String {
    let fnv = |seed: u64| {
        let mut h = seed;
        for b in uid.bytes().chain([b'/']).chain(container.bytes()) {
            h = (h ^ b as u64).wrapping_mul(0x100000001b3);
        }
        h
    };
    format!("simulated://{:016x}{:016x}{:016x}{:016x}", fnv(0xcbf29ce484222325), fnv(0x84222325cbf29ce4), fnv(1), fnv(2))
}

fn rfc3339(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The status a kubelet reports once everything in the pod started: init containers
/// completed, sidecars and app containers running, started and ready.
pub fn running_status(pod: &Pod, pod_ip: Ipv4Addr, host_ip: &str, now: Timestamp) -> PodStatus {
    let uid = pod.metadata.uid.as_deref().unwrap_or_default();
    let spec = pod.spec.clone().unwrap_or_default();
    let at = rfc3339(now);
    let running = |c: &k8s_openapi::api::core::v1::Container, init: bool| ContainerFacts {
        name: c.name.clone(),
        image: c.image.clone().unwrap_or_default(),
        init,
        container_id: Some(container_id(uid, &c.name)),
        state: StateFacts::Running { started_at: at.clone() },
        last_state: None,
        ready: true,
        started: true,
        restart_count: 0,
    };
    let init: Vec<ContainerFacts> = spec
        .init_containers
        .iter()
        .flatten()
        .map(|c| {
            if c.restart_policy.as_deref() == Some("Always") {
                return running(c, true);
            }
            let id = container_id(uid, &c.name);
            ContainerFacts {
                state: StateFacts::Terminated(Exit {
                    exit_code: 0,
                    reason: "Completed".into(),
                    message: None,
                    started_at: Some(at.clone()),
                    finished_at: Some(at.clone()),
                    container_id: Some(id.clone()),
                }),
                ready: false,
                started: false,
                ..running(c, true)
            }
        })
        .collect();
    let app: Vec<ContainerFacts> = spec.containers.iter().map(|c| running(c, false)).collect();
    status::build(&StatusInput {
        pod,
        init: &init,
        app: &app,
        pod_ips: vec![pod_ip.to_string()],
        host_ips: vec![host_ip.to_string()],
        sandbox_ready: true,
        start_time: Some(now),
        pod_is_terminal: false,
        eviction: None,
        now,
    })
}

/// The status once the pod's containers were stopped for its deletion: each exited 0
/// after the time it was reported started.
pub fn terminated_status(pod: &Pod, now: Timestamp) -> PodStatus {
    let uid = pod.metadata.uid.as_deref().unwrap_or_default();
    let spec = pod.spec.clone().unwrap_or_default();
    let old = pod.status.clone().unwrap_or_default();
    let at = rfc3339(now);
    let started_at = |name: &str, init: bool| -> Option<String> {
        let list = if init { &old.init_container_statuses } else { &old.container_statuses };
        let st = list.iter().flatten().find(|s| s.name == name)?.state.clone()?;
        let t = st.running.and_then(|r| r.started_at).or_else(|| st.terminated.and_then(|t| t.started_at))?;
        Some(rfc3339(t.0))
    };
    let stopped = |c: &k8s_openapi::api::core::v1::Container, init: bool| {
        let id = container_id(uid, &c.name);
        ContainerFacts {
            name: c.name.clone(),
            image: c.image.clone().unwrap_or_default(),
            init,
            container_id: Some(id.clone()),
            state: StateFacts::Terminated(Exit {
                exit_code: 0,
                reason: "Completed".into(),
                message: None,
                started_at: started_at(&c.name, init).or(Some(at.clone())),
                finished_at: Some(at.clone()),
                container_id: Some(id),
            }),
            last_state: None,
            ready: false,
            started: false,
            restart_count: 0,
        }
    };
    let init: Vec<ContainerFacts> = spec.init_containers.iter().flatten().map(|c| stopped(c, true)).collect();
    let app: Vec<ContainerFacts> = spec.containers.iter().map(|c| stopped(c, false)).collect();
    status::build(&StatusInput {
        pod,
        init: &init,
        app: &app,
        pod_ips: Vec::new(),
        host_ips: Vec::new(),
        sandbox_ready: false,
        start_time: None,
        pod_is_terminal: true,
        eviction: None,
        now,
    })
}

/// Where the simulator is with one pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Bound to a node whose podCIDR is not known yet.
    AwaitingCidr,
    /// Its Running status is queued or being written.
    Starting,
    Running,
    /// Found in a terminal phase (Succeeded, Failed): nothing to do until it is deleted.
    Finished,
    /// Its terminated status and the final delete are queued or being written.
    Terminating,
    /// Deleted (or gone): waiting for the DELETED event.
    Done,
}

/// What to do with a pod event, given what the simulator already did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Nothing,
    /// Report it running.
    Start,
    /// Found already running (a simulator restart): keep its address.
    Adopt(Option<Ipv4Addr>),
    /// Found finished: nothing more to do until it is deleted.
    Finished,
    /// Being deleted: report it terminated, then delete it with grace 0.
    Terminate,
}

pub fn verdict(pod: &Pod, known: Option<Stage>) -> Verdict {
    if pod.metadata.deletion_timestamp.is_some() {
        return match known {
            Some(Stage::Terminating | Stage::Done) => Verdict::Nothing,
            _ => Verdict::Terminate,
        };
    }
    if known.is_some() {
        return Verdict::Nothing;
    }
    let st = pod.status.as_ref();
    let phase = st.and_then(|s| s.phase.as_deref()).unwrap_or_default();
    if phase == status::SUCCEEDED || phase == status::FAILED {
        return Verdict::Finished;
    }
    let all_started = st.and_then(|s| s.container_statuses.as_ref()).is_some_and(|cs| {
        !cs.is_empty() && cs.iter().all(|c| c.started == Some(true) && c.container_id.is_some())
    });
    if phase == status::RUNNING && all_started {
        let ip = st.and_then(|s| s.pod_ip.as_deref()).and_then(|ip| ip.parse().ok());
        return Verdict::Adopt(ip);
    }
    Verdict::Start
}

/// The merge patch a status goes out as; `uid` makes it apply only to that pod (as the
/// kubelet's status manager does).
fn status_patch(uid: &str, st: &PodStatus) -> Option<Box<[u8]>> {
    serde_json::to_vec(&json!({"metadata": {"uid": uid}, "status": st})).ok().map(Vec::into_boxed_slice)
}

struct SimNode {
    spec: NodeSpec,
    ready_since: String,
    /// From the API (`true`) or invented.
    pool: Option<(IpPool, bool)>,
    /// Pods that arrived before the podCIDR.
    waiting: Vec<Pod>,
}

struct PodRec {
    node: u32,
    ns: Arc<str>,
    name: Box<str>,
    ip: Option<Ipv4Addr>,
    stage: Stage,
    /// The status patch to write next.
    pending: Option<Box<[u8]>>,
}

struct State {
    nodes: Vec<SimNode>,
    by_name: HashMap<String, u32>,
    pods: HashMap<Arc<str>, PodRec>,
    namespaces: HashSet<Arc<str>>,
    /// Uids seen since the pod watch began a relist.
    relist: Option<HashSet<Arc<str>>>,
}

struct Shared {
    client: kube::Client,
    state: Mutex<State>,
    work: mpsc::UnboundedSender<Arc<str>>,
    started: Instant,
}

impl State {
    fn intern_ns(&mut self, ns: &str) -> Arc<str> {
        if let Some(n) = self.namespaces.get(ns) {
            return n.clone();
        }
        let n: Arc<str> = Arc::from(ns);
        self.namespaces.insert(n.clone());
        n
    }

    fn free(&mut self, rec: &PodRec) {
        if let (Some(ip), Some(node)) = (rec.ip, self.nodes.get_mut(rec.node as usize)) {
            if let Some((pool, _)) = node.pool.as_mut() {
                pool.release(ip);
            }
        }
    }
}

/// Runs N simulated nodes until the process ends.
pub async fn run(kube_config: kube::Config, cfg: SimConfig) -> Result<(), AgentError> {
    let client = kube::Client::try_from(kube_config).map_err(|e| AgentError::Setup(format!("API client: {e}")))?;
    let mut capacity = default_capacity();
    capacity.extend(cfg.capacity.clone());
    let now = node::now();
    let nodes: Vec<SimNode> = (0..cfg.count)
        .map(|i| {
            let name = node_name(&cfg.name_prefix, i);
            let mut labels = node::default_labels(&name);
            labels.extend(cfg.labels.clone());
            SimNode {
                spec: NodeSpec { name, labels, capacity: capacity.clone(), internal_ip: node_ip(i).to_string(), kubelet_port: 0 },
                ready_since: now.clone(),
                pool: None,
                waiting: Vec::new(),
            }
        })
        .collect();
    let by_name = nodes.iter().enumerate().map(|(i, n)| (n.spec.name.clone(), i as u32)).collect();
    let served = provisioner::Nodes { names: Arc::new(nodes.iter().map(|n| n.spec.name.clone()).collect()), volumes_dir: None };
    let (tx, rx) = mpsc::unbounded_channel();
    let shared = Arc::new(Shared {
        client: client.clone(),
        state: Mutex::new(State { nodes, by_name, pods: HashMap::new(), namespaces: HashSet::new(), relist: None }),
        work: tx,
        started: Instant::now(),
    });

    register_all(&shared, cfg.count).await?;
    println!("simulating {} nodes: {}..{}", cfg.count, node_name(&cfg.name_prefix, 0), node_name(&cfg.name_prefix, cfg.count.saturating_sub(1)));

    tokio::spawn(heartbeat(shared.clone()));
    tokio::spawn(watch_nodes(shared.clone()));
    tokio::spawn(cidr_timer(shared.clone()));
    tokio::spawn(writer(shared.clone(), rx, cfg.concurrency.max(1)));
    // Claims placed on simulated nodes get volumes too (nothing on disk), so that
    // StatefulSets with claim templates run as on real nodes.
    tokio::spawn(provisioner::run(client, served));
    watch_pods(shared).await;
    Ok(())
}

/// Creates (or takes over) every node, a few at a time; retries what the server refuses
/// for a while (it may still be starting).
async fn register_all(shared: &Arc<Shared>, count: usize) -> Result<(), AgentError> {
    let results: Vec<Result<(), AgentError>> = futures::stream::iter(0..count)
        .map(|i| {
            let shared = shared.clone();
            async move {
                let spec = shared.state.lock().nodes[i].spec.clone();
                let mut tries = 0;
                loop {
                    match node::register(&shared.client, &spec).await {
                        Ok(n) => {
                            if let Some(c) = n.spec.and_then(|s| s.pod_cidr).as_deref().and_then(Cidr::parse) {
                                shared.state.lock().nodes[i].pool = Some((IpPool::new(c), true));
                            }
                            return Ok(());
                        }
                        Err(e) if tries < 30 => {
                            tries += 1;
                            tracing::debug!("registering node {}: {e}", spec.name);
                            tokio::time::sleep(RETRY).await;
                        }
                        Err(source) => return Err(AgentError::Register { node: spec.name.clone(), source }),
                    }
                }
            }
        })
        .buffer_unordered(HEARTBEAT_CONCURRENCY * 2)
        .collect()
        .await;
    results.into_iter().collect()
}

/// When each node is next due for a lease renewal: spread evenly over the period.
pub fn lease_schedule(count: usize, period: Duration) -> Vec<Duration> {
    (0..count).map(|i| period.mul_f64(i as f64 / count.max(1) as f64)).collect()
}

/// Renews every node's Lease every 10 s and reports its status every minute, a few
/// writes at a time, the nodes spread over the period so the writes are steady.
async fn heartbeat(shared: Arc<Shared>) {
    let leases: Api<Lease> = Api::namespaced(shared.client.clone(), "kube-node-lease");
    let nodes: Api<Node> = Api::all(shared.client.clone());
    let count = shared.state.lock().nodes.len();
    let start = Instant::now();
    // (due, node, status due)
    let mut queue: VecDeque<(Instant, usize, Instant)> =
        lease_schedule(count, LEASE_RENEW).into_iter().enumerate().map(|(i, d)| (start + d, i, start + STATUS_REPORT + d * 6)).collect();
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Failures are told once per period, not once per node (a thousand lines a round
    // while the API server is down).
    let mut failed = Failures::default();
    loop {
        tick.tick().await;
        failed.report(LEASE_RENEW);
        let now = Instant::now();
        let mut due = Vec::new();
        while queue.front().is_some_and(|(t, _, _)| *t <= now) {
            if let Some(d) = queue.pop_front() {
                due.push(d);
            }
        }
        if due.is_empty() {
            continue;
        }
        let done: Vec<(Instant, usize, Instant, Option<String>)> = futures::stream::iter(due)
            .map(|(at, i, status_due)| {
                let (shared, leases, nodes) = (shared.clone(), leases.clone(), nodes.clone());
                async move {
                    let (spec, ready_since) = {
                        let st = shared.state.lock();
                        (st.nodes[i].spec.clone(), st.nodes[i].ready_since.clone())
                    };
                    let name = spec.name.clone();
                    let report = (Instant::now() >= status_due).then(|| node::status(&spec, &ready_since));
                    let mut error = node::renew_lease(&leases, &nodes, &name).await.err().map(|e| format!("renewing the lease of node {name}: {e}"));
                    let mut next_status = status_due;
                    if let Some(st) = report {
                        match nodes.patch_status(&name, &PatchParams::default(), &Patch::Merge(json!({"status": st}))).await {
                            Ok(_) => next_status = status_due + STATUS_REPORT,
                            Err(e) => error = error.or(Some(format!("updating the status of node {name}: {e}"))),
                        }
                    }
                    // A renewal that ran late is not made up for with a burst.
                    (std::cmp::max(at + LEASE_RENEW, Instant::now()), i, next_status, error)
                }
            })
            .buffer_unordered(HEARTBEAT_CONCURRENCY)
            .collect()
            .await;
        let mut done: Vec<(Instant, usize, Instant)> = done
            .into_iter()
            .map(|(at, i, st, err)| {
                if let Some(e) = err {
                    failed.add(e);
                }
                (at, i, st)
            })
            .collect();
        done.sort_by_key(|d| d.0);
        // Keep the queue in due order.
        let mut merged: VecDeque<_> = VecDeque::with_capacity(queue.len() + done.len());
        let mut done = done.into_iter().peekable();
        for q in queue.drain(..) {
            while done.peek().is_some_and(|d| d.0 <= q.0) {
                merged.extend(done.next());
            }
            merged.push_back(q);
        }
        merged.extend(done);
        queue = merged;
    }
}

/// Heartbeat failures since they were last told.
#[derive(Default)]
struct Failures {
    count: usize,
    first: Option<String>,
    told: Option<Instant>,
}

impl Failures {
    fn add(&mut self, e: String) {
        self.count += 1;
        self.first.get_or_insert(e);
    }

    /// Tells what failed, at most once per `every`.
    fn report(&mut self, every: Duration) {
        if self.count == 0 || self.told.is_some_and(|t| t.elapsed() < every) {
            return;
        }
        tracing::warn!("{} node heartbeat writes failed, the first: {}", self.count, self.first.take().unwrap_or_default());
        self.count = 0;
        self.told = Some(Instant::now());
    }
}

/// Learns each node's spec.podCIDR (set by the node IPAM controller).
async fn watch_nodes(shared: Arc<Shared>) {
    let api: Api<Node> = Api::all(shared.client.clone());
    let mut stream = watcher(api, watcher::Config::default()).default_backoff().boxed();
    while let Some(ev) = stream.next().await {
        let node = match ev {
            Ok(watcher::Event::Apply(n) | watcher::Event::InitApply(n)) => n,
            Ok(_) => continue,
            Err(e) => {
                tracing::warn!("watching nodes: {e}");
                continue;
            }
        };
        let Some(cidr) = node.spec.as_ref().and_then(|s| s.pod_cidr.as_deref()).and_then(Cidr::parse) else { continue };
        let name = node.metadata.name.unwrap_or_default();
        let waiting = {
            let mut st = shared.state.lock();
            let Some(&i) = st.by_name.get(&name) else { continue };
            let n = &mut st.nodes[i as usize];
            match &n.pool {
                Some((p, true)) if p.cidr() == cidr => continue,
                _ => n.pool = Some((IpPool::new(cidr), true)),
            }
            std::mem::take(&mut n.waiting)
        };
        for p in waiting {
            on_pod(&shared, p);
        }
    }
}

/// Gives up waiting for podCIDRs that do not come: addresses are invented instead.
async fn cidr_timer(shared: Arc<Shared>) {
    let mut tick = tokio::time::interval(RETRY);
    loop {
        tick.tick().await;
        let waiting: Vec<Pod> = {
            let mut st = shared.state.lock();
            let ipam_runs = st.nodes.iter().any(|n| matches!(n.pool, Some((_, true))));
            let wait = if ipam_runs { CIDR_WAIT_IPAM } else { CIDR_WAIT };
            if shared.started.elapsed() < wait {
                continue;
            }
            let mut out = Vec::new();
            for (i, n) in st.nodes.iter_mut().enumerate() {
                if n.pool.is_none() && !n.waiting.is_empty() {
                    tracing::info!("node {} got no podCIDR: pod addresses come from {}", n.spec.name, invented_cidr(i));
                    n.pool = Some((IpPool::new(invented_cidr(i)), false));
                    out.append(&mut n.waiting);
                }
            }
            out
        };
        for p in waiting {
            on_pod(&shared, p);
        }
    }
}

/// One watch for every pod bound to a node; the simulator picks those bound to its nodes.
async fn watch_pods(shared: Arc<Shared>) {
    let api: Api<Pod> = Api::all(shared.client.clone());
    let cfg = watcher::Config::default().fields("spec.nodeName!=");
    let mut stream = watcher(api, cfg).default_backoff().boxed();
    while let Some(ev) = stream.next().await {
        match ev {
            Ok(watcher::Event::Init) => shared.state.lock().relist = Some(HashSet::new()),
            Ok(watcher::Event::InitApply(p) | watcher::Event::Apply(p)) => on_pod(&shared, p),
            Ok(watcher::Event::Delete(p)) => {
                let uid = p.metadata.uid.unwrap_or_default();
                let mut st = shared.state.lock();
                if let Some(rec) = st.pods.remove(uid.as_str()) {
                    st.free(&rec);
                }
            }
            Ok(watcher::Event::InitDone) => {
                let mut st = shared.state.lock();
                let seen = st.relist.take().unwrap_or_default();
                // Pods deleted while the watch was down.
                let gone: Vec<Arc<str>> = st.pods.keys().filter(|u| !seen.contains(*u)).cloned().collect();
                for uid in gone {
                    if let Some(rec) = st.pods.remove(&uid) {
                        st.free(&rec);
                    }
                }
            }
            Err(e) => tracing::warn!("watching pods: {e}"),
        }
    }
}

/// Acts on one pod event: decides, builds the status to write now (the pod object is
/// not kept), and queues the write.
fn on_pod(shared: &Arc<Shared>, pod: Pod) {
    let Some(node_name) = pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) else { return };
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let mut st = shared.state.lock();
    let Some(&node) = st.by_name.get(node_name) else { return };
    let key: Arc<str> = match st.pods.get_key_value(uid.as_str()) {
        Some((k, _)) => k.clone(),
        None => Arc::from(uid.as_str()),
    };
    if let Some(seen) = st.relist.as_mut() {
        seen.insert(key.clone());
    }
    let known = st.pods.get(&key).map(|r| r.stage).filter(|s| *s != Stage::AwaitingCidr);
    let now = Timestamp::now();
    match verdict(&pod, known) {
        Verdict::Nothing => {}
        Verdict::Finished => {
            let rec = new_rec(&mut st, node, &pod, None, Stage::Finished);
            st.pods.insert(key, rec);
        }
        Verdict::Adopt(ip) => {
            if let (Some(ip), Some((pool, _))) = (ip, st.nodes[node as usize].pool.as_mut()) {
                pool.claim(ip);
            }
            let rec = new_rec(&mut st, node, &pod, ip, Stage::Running);
            st.pods.insert(key, rec);
        }
        Verdict::Start => {
            let n = &mut st.nodes[node as usize];
            let Some((pool, _)) = n.pool.as_mut() else {
                n.waiting.retain(|p| p.metadata.uid != pod.metadata.uid);
                n.waiting.push(pod.clone());
                let rec = new_rec(&mut st, node, &pod, None, Stage::AwaitingCidr);
                st.pods.insert(key, rec);
                return;
            };
            let ip = pool.allocate();
            let host_ip = n.spec.internal_ip.clone();
            let body = status_patch(&uid, &running_status(&pod, ip, &host_ip, now));
            let mut rec = new_rec(&mut st, node, &pod, Some(ip), Stage::Starting);
            rec.pending = body;
            st.pods.insert(key.clone(), rec);
            let _ = shared.work.send(key);
        }
        Verdict::Terminate => {
            let body = status_patch(&uid, &terminated_status(&pod, now));
            if st.pods.get(&key).is_some_and(|r| r.stage == Stage::AwaitingCidr) {
                st.nodes[node as usize].waiting.retain(|p| p.metadata.uid != pod.metadata.uid);
            }
            if !st.pods.contains_key(&key) {
                let rec = new_rec(&mut st, node, &pod, None, Stage::Terminating);
                st.pods.insert(key.clone(), rec);
            }
            let Some(rec) = st.pods.get_mut(&key) else { return };
            // A write still queued for it goes out as this one instead.
            let already_queued = rec.pending.is_some();
            rec.stage = Stage::Terminating;
            rec.pending = body;
            if !already_queued {
                let _ = shared.work.send(key);
            }
        }
    }
}

fn new_rec(st: &mut State, node: u32, pod: &Pod, ip: Option<Ipv4Addr>, stage: Stage) -> PodRec {
    let ns = st.intern_ns(pod.metadata.namespace.as_deref().unwrap_or("default"));
    PodRec { node, ns, name: pod.metadata.name.clone().unwrap_or_default().into_boxed_str(), ip, stage, pending: None }
}

/// Sends queued pod writes, `concurrency` at a time.
async fn writer(shared: Arc<Shared>, mut rx: mpsc::UnboundedReceiver<Arc<str>>, concurrency: usize) {
    let slots = Arc::new(Semaphore::new(concurrency));
    while let Some(uid) = rx.recv().await {
        let Ok(permit) = slots.clone().acquire_owned().await else { return };
        let shared = shared.clone();
        tokio::spawn(async move {
            write(&shared, uid).await;
            drop(permit);
        });
    }
}

async fn write(shared: &Arc<Shared>, uid: Arc<str>) {
    let (ns, name, body, stage) = {
        let mut st = shared.state.lock();
        let Some(rec) = st.pods.get_mut(&uid) else { return };
        let Some(body) = rec.pending.take() else { return };
        (rec.ns.clone(), rec.name.to_string(), body, rec.stage)
    };
    // The patch goes out as the bytes it was built as, and the answer is not decoded:
    // a thousand nodes' kubelet is mostly this call.
    let base = format!("/api/v1/namespaces/{ns}/pods/{name}");
    let mut result = raw(&shared.client, "PATCH", &format!("{base}/status"), "application/merge-patch+json", body.to_vec()).await;
    if result.is_ok() && stage == Stage::Terminating {
        let options = json!({"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0, "preconditions": {"uid": &*uid}});
        result = raw(&shared.client, "DELETE", &base, "application/json", options.to_string().into_bytes()).await;
    }
    let mut st = shared.state.lock();
    let Some(rec) = st.pods.get_mut(&uid) else { return };
    match result {
        Ok(()) => {
            // A newer write queued meanwhile (a deletion) keeps its stage.
            if rec.pending.is_none() {
                rec.stage = match stage {
                    Stage::Starting => Stage::Running,
                    _ => Stage::Done,
                };
            }
        }
        // Gone, or no longer this pod (uid precondition): nothing left to do.
        Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => {
            if rec.pending.is_none() {
                rec.stage = Stage::Done;
            }
        }
        Err(e) => {
            tracing::debug!("pod {ns}/{name}: {e}");
            if rec.pending.is_none() {
                rec.pending = Some(body);
                let (tx, uid) = (shared.work.clone(), uid.clone());
                tokio::spawn(async move {
                    tokio::time::sleep(RETRY).await;
                    let _ = tx.send(uid);
                });
            }
        }
    }
}

/// One API call whose answer is only checked for success.
async fn raw(client: &kube::Client, method: &str, path: &str, content_type: &str, body: Vec<u8>) -> Result<(), kube::Error> {
    let req = hyper::http::Request::builder()
        .method(method)
        .uri(path)
        .header(hyper::http::header::CONTENT_TYPE, content_type)
        .header(hyper::http::header::ACCEPT, "application/json")
        .body(body)
        .map_err(|e| kube::Error::Service(e.into()))?;
    client.request_text(req).await.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(v: serde_json::Value) -> Pod {
        serde_json::from_value(v).expect("pod")
    }

    fn bound_pod() -> Pod {
        pod(json!({
            "metadata": {"name": "web-1", "namespace": "default", "uid": "u-1"},
            "spec": {
                "nodeName": "sim-3",
                "initContainers": [
                    {"name": "setup", "image": "busybox"},
                    {"name": "proxy", "image": "envoy", "restartPolicy": "Always"}
                ],
                "containers": [
                    {"name": "app", "image": "nginx", "readinessProbe": {"httpGet": {"path": "/", "port": 80}}},
                    {"name": "log", "image": "busybox", "resources": {"requests": {"cpu": "100m"}}}
                ]
            },
            "status": {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "True"}]}
        }))
    }

    fn cond<'a>(st: &'a PodStatus, t: &str) -> &'a str {
        st.conditions.iter().flatten().find(|c| c.type_ == t).map(|c| c.status.as_str()).unwrap_or("")
    }

    #[test]
    fn running_status_is_what_a_kubelet_reports_once_all_started() {
        let now: Timestamp = "2026-11-21T10:00:00Z".parse().unwrap();
        let st = running_status(&bound_pod(), Ipv4Addr::new(10, 244, 3, 7), "198.18.0.4", now);
        assert_eq!(st.phase.as_deref(), Some("Running"));
        for t in ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"] {
            assert_eq!(cond(&st, t), "True", "{t}");
        }
        assert_eq!(st.pod_ip.as_deref(), Some("10.244.3.7"));
        assert_eq!(st.pod_ips.as_ref().map(|v| v[0].ip.as_str()), Some("10.244.3.7"));
        assert_eq!(st.host_ip.as_deref(), Some("198.18.0.4"));
        assert_eq!(st.start_time.as_ref().map(|t| t.0), Some(now));
        assert_eq!(st.qos_class.as_deref(), Some("Burstable"));
        let cs = st.container_statuses.as_ref().unwrap();
        assert_eq!(cs.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["app", "log"]);
        for c in cs {
            assert!(c.ready && c.started == Some(true), "{c:?}");
            assert_eq!(c.restart_count, 0);
            assert_eq!(c.container_id.as_deref(), Some(container_id("u-1", &c.name).as_str()));
            let running = c.state.as_ref().and_then(|s| s.running.as_ref()).expect("running");
            assert_eq!(running.started_at.as_ref().map(|t| t.0), Some(now));
        }
        let init = st.init_container_statuses.as_ref().unwrap();
        let setup = init.iter().find(|c| c.name == "setup").unwrap();
        let t = setup.state.as_ref().and_then(|s| s.terminated.as_ref()).expect("completed");
        assert_eq!((t.exit_code, t.reason.as_deref()), (0, Some("Completed")));
        assert!(setup.ready);
        let proxy = init.iter().find(|c| c.name == "proxy").unwrap();
        assert!(proxy.state.as_ref().is_some_and(|s| s.running.is_some()) && proxy.ready && proxy.started == Some(true));
    }

    #[test]
    fn terminated_status_ends_the_pod_with_every_container_exited() {
        let t0: Timestamp = "2026-11-21T10:00:00Z".parse().unwrap();
        let t1: Timestamp = "2026-11-21T10:05:00Z".parse().unwrap();
        let mut p = bound_pod();
        p.status = Some(running_status(&p, Ipv4Addr::new(10, 244, 3, 7), "198.18.0.4", t0));
        p.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(t1));
        let st = terminated_status(&p, t1);
        assert_eq!(st.phase.as_deref(), Some("Succeeded"));
        assert_eq!(cond(&st, "Ready"), "False");
        assert_eq!(st.pod_ip.as_deref(), Some("10.244.3.7"), "the address stays reported");
        for c in st.container_statuses.iter().flatten() {
            let t = c.state.as_ref().and_then(|s| s.terminated.as_ref()).expect("terminated");
            assert_eq!(t.exit_code, 0);
            assert_eq!(t.started_at.as_ref().map(|t| t.0), Some(t0));
            assert_eq!(t.finished_at.as_ref().map(|t| t.0), Some(t1));
            assert!(!c.ready);
        }
    }

    #[test]
    fn verdicts() {
        let mut p = bound_pod();
        assert_eq!(verdict(&p, None), Verdict::Start);
        assert_eq!(verdict(&p, Some(Stage::Starting)), Verdict::Nothing);
        p.status = Some(running_status(&p, Ipv4Addr::new(10, 1, 2, 3), "198.18.0.1", Timestamp::now()));
        assert_eq!(verdict(&p, None), Verdict::Adopt(Some(Ipv4Addr::new(10, 1, 2, 3))), "found running after a restart");
        assert_eq!(verdict(&p, Some(Stage::Running)), Verdict::Nothing);
        p.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(Timestamp::now()));
        assert_eq!(verdict(&p, Some(Stage::Running)), Verdict::Terminate);
        assert_eq!(verdict(&p, Some(Stage::Starting)), Verdict::Terminate);
        assert_eq!(verdict(&p, None), Verdict::Terminate);
        assert_eq!(verdict(&p, Some(Stage::Terminating)), Verdict::Nothing);
        assert_eq!(verdict(&p, Some(Stage::Done)), Verdict::Nothing);
        assert_eq!(verdict(&p, Some(Stage::Finished)), Verdict::Terminate);
        let done = pod(json!({"metadata": {"name": "j", "uid": "u"}, "spec": {"containers": []}, "status": {"phase": "Succeeded"}}));
        assert_eq!(verdict(&done, None), Verdict::Finished);
    }

    #[test]
    fn ip_pool_skips_reserved_and_used_addresses_round_robin() {
        let mut pool = IpPool::new(Cidr::parse("10.244.7.0/24").unwrap());
        assert_eq!(pool.allocate(), Ipv4Addr::new(10, 244, 7, 2));
        pool.claim(Ipv4Addr::new(10, 244, 7, 3));
        assert_eq!(pool.allocate(), Ipv4Addr::new(10, 244, 7, 4));
        pool.release(Ipv4Addr::new(10, 244, 7, 2));
        // Round robin: a freed address is not handed out again at once.
        assert_eq!(pool.allocate(), Ipv4Addr::new(10, 244, 7, 5));
        let all: Vec<Ipv4Addr> = (0..250).map(|_| pool.allocate()).collect();
        assert!(all.iter().all(|ip| ip.octets()[3] >= 2 && ip.octets()[3] <= 254), "never .0, .1 or .255");
        assert!(all.contains(&Ipv4Addr::new(10, 244, 7, 2)), "freed addresses come back once the others are used");
        // Full: it keeps answering (the next in turn).
        let _ = pool.allocate();
        let mut small = IpPool::new(Cidr::parse("10.0.0.0/30").unwrap());
        assert_eq!(small.allocate(), Ipv4Addr::new(10, 0, 0, 2));
        assert_eq!(small.allocate(), Ipv4Addr::new(10, 0, 0, 2));
        // A large podCIDR uses its first 4096 addresses.
        let mut big = IpPool::new(Cidr::parse("10.8.0.0/16").unwrap());
        assert_eq!(big.allocate(), Ipv4Addr::new(10, 8, 0, 2));
    }

    #[test]
    fn invented_addresses_and_names() {
        assert_eq!(invented_cidr(0).to_string(), "100.64.0.0/24");
        assert_eq!(invented_cidr(999).to_string(), "100.67.231.0/24");
        assert_eq!(node_ip(0), Ipv4Addr::new(198, 18, 0, 1));
        assert_eq!(node_ip(999), Ipv4Addr::new(198, 18, 3, 232));
        assert_eq!(node_name("sim-", 42), "sim-42");
        assert_ne!(container_id("u", "a"), container_id("u", "b"));
        assert!(container_id("u", "a").starts_with("simulated://"));
    }

    #[test]
    fn leases_are_spread_over_the_period() {
        let s = lease_schedule(4, Duration::from_secs(10));
        assert_eq!(s, [0, 2500, 5000, 7500].map(Duration::from_millis));
        assert!(lease_schedule(0, Duration::from_secs(10)).is_empty());
    }

    #[test]
    fn status_patch_carries_the_uid() {
        let p = bound_pod();
        let body = status_patch("u-1", &running_status(&p, Ipv4Addr::new(10, 0, 0, 2), "198.18.0.1", Timestamp::now())).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["metadata"]["uid"], "u-1");
        assert_eq!(v["status"]["phase"], "Running");
    }
}
