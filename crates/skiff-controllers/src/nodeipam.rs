//! nodeipam: every Node holds a distinct pod CIDR. A Node without `spec.podCIDR` gets the
//! next free /24 of the cluster CIDR (`--cluster-cidr`, 10.244.0.0/16 by default) in `spec.podCIDR` and
//! `spec.podCIDRs`; a CIDR held by an existing Node is never handed out again while that
//! Node exists (CIDRs of existing Nodes are taken before anything is allocated). As
//! kube-controller-manager's range allocator, the search for a free CIDR starts after the
//! last one handed out, so a CIDR freed by a deleted Node is reused as late as possible.
//! When the range is full the Node gets a `CIDRNotAvailable` event and waits.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, ObjectReference};
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;
use tokio::sync::mpsc;

use crate::events::Recorder;
use crate::informer::{Cached, Change, Informer};

/// The default cluster CIDR.
pub const CLUSTER_CIDR: &str = "10.244.0.0/16";
pub const NODE_MASK: u8 = 24;

/// A Node as this controller sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeCidrs {
    pub name: String,
    pub uid: String,
    pub resource_version: String,
    pub cidrs: Vec<String>,
}

impl Cached for NodeCidrs {
    fn namespace(&self) -> &str {
        ""
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn resource_version(&self) -> &str {
        &self.resource_version
    }
}

impl NodeCidrs {
    pub fn from_node(n: Node) -> Option<NodeCidrs> {
        let spec = n.spec.unwrap_or_default();
        let mut cidrs = spec.pod_cidrs.unwrap_or_default();
        if cidrs.is_empty() {
            cidrs.extend(spec.pod_cidr.filter(|c| !c.is_empty()));
        }
        Some(NodeCidrs {
            name: n.metadata.name?,
            uid: n.metadata.uid.unwrap_or_default(),
            resource_version: n.metadata.resource_version.unwrap_or_default(),
            cidrs,
        })
    }
}

/// The subnets of one IPv4 cluster CIDR, each marked used or free.
#[derive(Debug, Clone)]
pub struct CidrSet {
    base: u32,
    node_mask: u8,
    used: Vec<bool>,
    next: usize,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CidrError {
    #[error("invalid CIDR {0:?}")]
    Invalid(String),
    #[error("node mask /{0} does not fit the cluster CIDR")]
    Mask(u8),
}

fn parse_cidr(s: &str) -> Result<(u32, u8), CidrError> {
    let (ip, len) = s.split_once('/').ok_or_else(|| CidrError::Invalid(s.into()))?;
    let ip: Ipv4Addr = ip.parse().map_err(|_| CidrError::Invalid(s.into()))?;
    let len: u8 = len.parse().map_err(|_| CidrError::Invalid(s.into()))?;
    if len > 32 {
        return Err(CidrError::Invalid(s.into()));
    }
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    Ok((u32::from(ip) & mask, len))
}

impl CidrSet {
    pub fn new(cluster_cidr: &str, node_mask: u8) -> Result<CidrSet, CidrError> {
        let (base, len) = parse_cidr(cluster_cidr)?;
        // At most 2^16 subnets: plenty, and a bounded bitmap.
        if node_mask < len || node_mask > 32 || node_mask - len > 16 {
            return Err(CidrError::Mask(node_mask));
        }
        Ok(CidrSet { base, node_mask, used: vec![false; 1usize << (node_mask - len)], next: 0 })
    }

    fn index_of(&self, cidr: &str) -> Option<usize> {
        let (ip, len) = parse_cidr(cidr).ok()?;
        if len != self.node_mask || ip < self.base {
            return None;
        }
        let i = ((ip - self.base) >> (32 - self.node_mask)) as usize;
        (i < self.used.len()).then_some(i)
    }

    fn cidr_at(&self, i: usize) -> String {
        let ip = self.base + ((i as u32) << (32 - self.node_mask));
        format!("{}/{}", Ipv4Addr::from(ip), self.node_mask)
    }

    /// Marks a CIDR as taken; false if it is not one of this set's subnets.
    pub fn occupy(&mut self, cidr: &str) -> bool {
        match self.index_of(cidr) {
            Some(i) => {
                self.used[i] = true;
                true
            }
            None => false,
        }
    }

    pub fn release(&mut self, cidr: &str) {
        if let Some(i) = self.index_of(cidr) {
            self.used[i] = false;
        }
    }

    /// The next free subnet, searching from just after the last one handed out.
    pub fn allocate_next(&mut self) -> Option<String> {
        let n = self.used.len();
        for k in 0..n {
            let i = (self.next + k) % n;
            if !self.used[i] {
                self.used[i] = true;
                self.next = (i + 1) % n;
                return Some(self.cidr_at(i));
            }
        }
        None
    }
}

/// What to do for one Node.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Assign { node: String, cidr: String },
    RangeFull { node: String },
}

/// The allocator's memory: the set, and what each Node holds (observed or assigned by us
/// and not yet observed).
pub struct Allocator {
    set: CidrSet,
    held: HashMap<String, Vec<String>>,
}

impl Allocator {
    pub fn new(set: CidrSet) -> Allocator {
        Allocator { set, held: HashMap::new() }
    }

    /// Takes the CIDRs a Node already has, without allocating anything (used first for
    /// every existing Node, so that no allocation can hand out a CIDR already held).
    pub fn occupy(&mut self, node: &NodeCidrs) {
        if node.cidrs.is_empty() {
            return;
        }
        if let Some(old) = self.held.insert(node.name.clone(), node.cidrs.clone()) {
            for c in old.iter().filter(|c| !node.cidrs.contains(c)) {
                self.set.release(c);
            }
        }
        for c in &node.cidrs {
            self.set.occupy(c);
        }
    }

    /// The decision for one Node: keep what it has, or assign a CIDR.
    pub fn reconcile(&mut self, node: &NodeCidrs) -> Option<Action> {
        if !node.cidrs.is_empty() {
            self.occupy(node);
            return None;
        }
        if let Some(pending) = self.held.get(&node.name) {
            // Assigned by us, not yet observed: assign the same again (idempotent).
            return pending.first().map(|c| Action::Assign { node: node.name.clone(), cidr: c.clone() });
        }
        match self.set.allocate_next() {
            Some(cidr) => {
                self.held.insert(node.name.clone(), vec![cidr.clone()]);
                Some(Action::Assign { node: node.name.clone(), cidr })
            }
            None => Some(Action::RangeFull { node: node.name.clone() }),
        }
    }

    /// A Node is gone: its CIDRs are free again.
    pub fn release(&mut self, node: &str) {
        for c in self.held.remove(node).unwrap_or_default() {
            self.set.release(&c);
        }
    }

    /// An assignment failed: forget it so that the next attempt allocates afresh.
    pub fn forget(&mut self, node: &str) {
        self.release(node)
    }
}

enum Msg {
    Change(Change<NodeCidrs>),
    Retry(String),
}

/// Runs the allocator on the Node informer's events.
pub fn start(client: kube::Client, nodes: &Arc<Informer<NodeCidrs>>, recorder: Recorder, cluster_cidr: String) {
    let (tx, rx) = mpsc::unbounded_channel();
    let tx2 = tx.clone();
    nodes.on_change(move |c| {
        let c = match c {
            Change::Added(n) => Change::Added(n.clone()),
            Change::Updated(o, n) => Change::Updated(o.clone(), n.clone()),
            Change::Deleted(n) => Change::Deleted(n.clone()),
        };
        let _ = tx2.send(Msg::Change(c));
    });
    let nodes = nodes.clone();
    tokio::spawn(run(client, nodes, tx, rx, recorder, cluster_cidr));
}

async fn run(
    client: kube::Client,
    nodes: Arc<Informer<NodeCidrs>>,
    tx: mpsc::UnboundedSender<Msg>,
    mut rx: mpsc::UnboundedReceiver<Msg>,
    recorder: Recorder,
    cluster_cidr: String,
) {
    let set = match CidrSet::new(&cluster_cidr, NODE_MASK) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("nodeipam: {e}");
            return;
        }
    };
    let mut alloc = Allocator::new(set);
    nodes.store.wait_synced().await;
    let all = nodes.store.list();
    for n in &all {
        alloc.occupy(n);
    }
    for n in &all {
        act(&client, &mut alloc, n, &tx, &recorder).await;
    }
    while let Some(msg) = rx.recv().await {
        match msg {
            Msg::Change(Change::Deleted(n)) => alloc.release(&n.name),
            Msg::Change(Change::Added(n) | Change::Updated(_, n)) => act(&client, &mut alloc, &n, &tx, &recorder).await,
            Msg::Retry(name) => {
                if let Some(n) = nodes.store.get("", &name) {
                    act(&client, &mut alloc, &n, &tx, &recorder).await;
                }
            }
        }
    }
}

fn retry_later(tx: &mpsc::UnboundedSender<Msg>, node: &str, after: Duration) {
    let (tx, node) = (tx.clone(), node.to_string());
    tokio::spawn(async move {
        tokio::time::sleep(after).await;
        let _ = tx.send(Msg::Retry(node));
    });
}

async fn act(client: &kube::Client, alloc: &mut Allocator, node: &NodeCidrs, tx: &mpsc::UnboundedSender<Msg>, recorder: &Recorder) {
    let reference = ObjectReference {
        api_version: Some("v1".into()),
        kind: Some("Node".into()),
        name: Some(node.name.clone()),
        uid: Some(node.name.clone()),
        ..Default::default()
    };
    match alloc.reconcile(node) {
        None => {}
        Some(Action::Assign { node: name, cidr }) => {
            let api: Api<Node> = Api::all(client.clone());
            let patch = json!({"spec": {"podCIDR": cidr, "podCIDRs": [cidr]}});
            match api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await {
                Ok(_) => tracing::info!("node {name}: podCIDR {cidr}"),
                Err(kube::Error::Api(s)) if s.code == 404 => alloc.release(&name),
                Err(e) => {
                    tracing::warn!("node {name}: assigning {cidr}: {e}");
                    recorder.warning(reference, "CIDRAssignmentFailed", format!("Node {name} status is now: CIDRAssignmentFailed"));
                    alloc.forget(&name);
                    retry_later(tx, &name, Duration::from_secs(1));
                }
            }
        }
        Some(Action::RangeFull { node: name }) => {
            recorder.warning(reference, "CIDRNotAvailable", format!("Node {name} status is now: CIDRNotAvailable"));
            retry_later(tx, &name, Duration::from_secs(30));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, cidrs: &[&str]) -> NodeCidrs {
        NodeCidrs { name: name.into(), uid: name.into(), resource_version: "1".into(), cidrs: cidrs.iter().map(|s| s.to_string()).collect() }
    }

    fn assigned(a: Option<Action>) -> String {
        match a {
            Some(Action::Assign { cidr, .. }) => cidr,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn distinct_24s_from_the_cluster_cidr() {
        let mut a = Allocator::new(CidrSet::new(CLUSTER_CIDR, NODE_MASK).unwrap());
        assert_eq!(assigned(a.reconcile(&node("n1", &[]))), "10.244.0.0/24");
        assert_eq!(assigned(a.reconcile(&node("n2", &[]))), "10.244.1.0/24");
        // Not yet observed: the same answer again.
        assert_eq!(assigned(a.reconcile(&node("n2", &[]))), "10.244.1.0/24");
        assert_eq!(a.reconcile(&node("n2", &["10.244.1.0/24"])), None);
    }

    #[test]
    fn existing_cidrs_are_never_handed_out() {
        let mut a = Allocator::new(CidrSet::new(CLUSTER_CIDR, NODE_MASK).unwrap());
        let existing = [node("a", &["10.244.0.0/24"]), node("b", &["10.244.1.0/24"]), node("c", &[])];
        for n in &existing {
            a.occupy(n);
        }
        assert_eq!(assigned(a.reconcile(&existing[2])), "10.244.2.0/24");
        // A node deleted frees its CIDR, reused only after the others.
        a.release("a");
        assert_eq!(assigned(a.reconcile(&node("d", &[]))), "10.244.3.0/24");
    }

    #[test]
    fn full_range() {
        let mut a = Allocator::new(CidrSet::new("10.0.0.0/23", 24).unwrap());
        assigned(a.reconcile(&node("a", &[])));
        assigned(a.reconcile(&node("b", &[])));
        assert_eq!(a.reconcile(&node("c", &[])), Some(Action::RangeFull { node: "c".into() }));
        a.release("a");
        assert_eq!(assigned(a.reconcile(&node("c", &[]))), "10.0.0.0/24");
    }

    #[test]
    fn foreign_cidrs_and_bad_input() {
        let mut set = CidrSet::new(CLUSTER_CIDR, NODE_MASK).unwrap();
        assert!(!set.occupy("192.168.0.0/24"));
        assert!(!set.occupy("10.244.1.0/25"));
        assert!(!set.occupy("garbage"));
        assert!(set.occupy("10.244.255.0/24"));
        assert_eq!(CidrSet::new("10.244.0.0/16", 8).unwrap_err(), CidrError::Mask(8));
        assert!(CidrSet::new("10.244.0.0", 24).is_err());
    }
}
