//! The scheduler's view of the cluster (upstream's scheduler cache and its snapshot),
//! updated incrementally from watch events.
//!
//! Per node it keeps the parsed Node plus running totals of the pods assigned to it
//! (requested and non-zero requested resources, pod count, host ports), so a filter is a
//! handful of integer comparisons. Across pods it keeps three indexes so that no
//! scheduling cycle walks every pod:
//! * pods by label key and value, to find the pods an affinity term or spread
//!   constraint selects;
//! * identical (anti-)affinity terms of existing pods grouped together, each group with
//!   its per-node pod counts, found by one label of the incoming pod (the symmetry check
//!   and the existing pods' preferences);
//! * pods by controller owner, with per-node counts (default topology spreading).
//!
//! Nodes live in slots that never move; the node list used for the search is ordered
//! round-robin across zones as upstream's node tree orders it.

use std::collections::HashMap;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};

use k8s_openapi::api::core::v1::{Namespace, Node, Pod};

use crate::framework::{
    controller_uid, pod_host_ports, AffinityTerm, HostPort, Labels, NodeInfo, PodAffinityTerms,
    PodInfo, Resources, Selector, SlotMap,
};

/// A pod assigned (or assumed) to a node, reduced to what the plugins read.
#[derive(Debug, Clone)]
pub(crate) struct ExistingPod {
    pub namespace: String,
    pub node: u32,
    pub labels: Labels,
    pub requests: Resources,
    pub non_zero_milli_cpu: i64,
    pub non_zero_memory: i64,
    pub host_ports: Vec<HostPort>,
    /// Being deleted: topology spreading does not count it.
    pub terminating: bool,
    /// Counted before the API confirmed the binding.
    pub assumed: bool,
    pub controller_uid: Option<String>,
    /// The term groups this pod's (anti-)affinity terms belong to.
    term_groups: Vec<u32>,
    affinity: Option<Box<PodAffinityTerms>>,
}

impl ExistingPod {
    fn from_pod(pod: &Pod, node: u32) -> ExistingPod {
        let meta = &pod.metadata;
        let (requests, non_zero_milli_cpu, non_zero_memory) =
            crate::resources::pod_requests_for_scheduling(pod);
        let affinity = PodAffinityTerms::parse(pod);
        ExistingPod {
            namespace: meta.namespace.clone().unwrap_or_default(),
            node,
            labels: meta.labels.clone().unwrap_or_default(),
            requests,
            non_zero_milli_cpu,
            non_zero_memory,
            host_ports: pod.spec.as_ref().map(pod_host_ports).unwrap_or_default(),
            terminating: meta.deletion_timestamp.is_some(),
            assumed: false,
            controller_uid: controller_uid(meta),
            term_groups: Vec::new(),
            affinity: (!affinity.is_empty()).then(|| Box::new(affinity)),
        }
    }

    fn from_info(info: &PodInfo, node: u32) -> ExistingPod {
        ExistingPod {
            namespace: info.namespace.clone(),
            node,
            labels: info.labels.clone(),
            requests: info.requests.clone(),
            non_zero_milli_cpu: info.non_zero_milli_cpu,
            non_zero_memory: info.non_zero_memory,
            host_ports: info.host_ports.clone(),
            terminating: false,
            assumed: true,
            controller_uid: info.controller_uid.clone(),
            term_groups: Vec::new(),
            affinity: (!info.affinity.is_empty()).then(|| Box::new(info.affinity.clone())),
        }
    }
}

// ---------------------------------------------------------------------------
// Term groups
// ---------------------------------------------------------------------------

/// Which list of a pod's affinity a term came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TermKind {
    RequiredAffinity,
    RequiredAntiAffinity,
    PreferredAffinity,
    PreferredAntiAffinity,
}

/// Identical terms of existing pods, with how many such pods each node holds.
#[derive(Debug)]
pub(crate) struct TermGroup {
    pub kind: TermKind,
    pub weight: i32,
    pub term: AffinityTerm,
    pub nodes: SlotMap<u32>,
    refs: u32,
    key: String,
    anchor: Option<(String, Vec<String>)>,
}

/// The existing pods' affinity terms, grouped and indexed by one label the pods they can
/// match must carry (the selector's anchor).
#[derive(Debug, Default)]
pub(crate) struct TermIndex {
    groups: Vec<Option<TermGroup>>,
    free: Vec<u32>,
    by_key: HashMap<String, u32>,
    anchors: HashMap<String, HashMap<String, Vec<u32>>>,
    unanchored: Vec<u32>,
}

impl TermIndex {
    fn add(&mut self, kind: TermKind, weight: i32, term: &AffinityTerm, node: u32) -> u32 {
        let key = format!("{kind:?}|{weight}|{}", term.canonical());
        let gid = match self.by_key.get(&key) {
            Some(&g) => g,
            None => {
                let anchor = term.selector.anchor().map(|(k, vs)| {
                    let mut vs = vs.to_vec();
                    vs.sort();
                    vs.dedup();
                    (k.to_string(), vs)
                });
                let group = TermGroup {
                    kind,
                    weight,
                    term: term.clone(),
                    nodes: SlotMap::default(),
                    refs: 0,
                    key: key.clone(),
                    anchor: anchor.clone(),
                };
                let gid = match self.free.pop() {
                    Some(g) => {
                        self.groups[g as usize] = Some(group);
                        g
                    }
                    None => {
                        self.groups.push(Some(group));
                        (self.groups.len() - 1) as u32
                    }
                };
                match anchor {
                    Some((k, vs)) => {
                        let by_value = self.anchors.entry(k).or_default();
                        for v in vs {
                            by_value.entry(v).or_default().push(gid);
                        }
                    }
                    None => self.unanchored.push(gid),
                }
                self.by_key.insert(key, gid);
                gid
            }
        };
        if let Some(g) = self.groups.get_mut(gid as usize).and_then(Option::as_mut) {
            g.refs += 1;
            *g.nodes.entry(node).or_insert(0) += 1;
        }
        gid
    }

    fn remove(&mut self, gid: u32, node: u32) {
        let Some(g) = self.groups.get_mut(gid as usize).and_then(Option::as_mut) else {
            return;
        };
        g.refs = g.refs.saturating_sub(1);
        if let Some(c) = g.nodes.get_mut(&node) {
            *c = c.saturating_sub(1);
            if *c == 0 {
                g.nodes.remove(&node);
            }
        }
        if g.refs > 0 {
            return;
        }
        let Some(g) = self.groups[gid as usize].take() else {
            return;
        };
        self.by_key.remove(&g.key);
        match g.anchor {
            Some((k, vs)) => {
                if let Some(by_value) = self.anchors.get_mut(&k) {
                    for v in vs {
                        if let Some(list) = by_value.get_mut(&v) {
                            remove_item(list, gid);
                            if list.is_empty() {
                                by_value.remove(&v);
                            }
                        }
                    }
                    if by_value.is_empty() {
                        self.anchors.remove(&k);
                    }
                }
            }
            None => remove_item(&mut self.unanchored, gid),
        }
        self.free.push(gid);
    }

    /// Calls `f` with every group whose term matches a pod in `ns` with `labels`
    /// (`ns_labels` are the labels of that namespace, for namespace selectors).
    pub(crate) fn for_each_match<'s>(
        &'s self,
        ns: &str,
        labels: &Labels,
        ns_labels: &Labels,
        mut f: impl FnMut(&'s TermGroup),
    ) {
        let mut visit = |gid: u32| {
            if let Some(g) = self.groups.get(gid as usize).and_then(Option::as_ref) {
                if g.term.matches(ns, labels, ns_labels) {
                    f(g);
                }
            }
        };
        // A group sits under one anchor key, and a pod has one value per key, so no group
        // is visited twice.
        for (k, v) in labels {
            if let Some(gids) = self.anchors.get(k).and_then(|m| m.get(v)) {
                for &gid in gids {
                    visit(gid);
                }
            }
        }
        for &gid in &self.unanchored {
            visit(gid);
        }
    }

    #[cfg(test)]
    pub(crate) fn group_count(&self) -> usize {
        self.by_key.len()
    }
}

fn remove_item(list: &mut Vec<u32>, item: u32) {
    if let Some(i) = list.iter().position(|&x| x == item) {
        list.swap_remove(i);
    }
}

// ---------------------------------------------------------------------------
// Snapshot
// ---------------------------------------------------------------------------

/// The scheduler's view of the cluster, updated incrementally from watch events.
pub struct Snapshot {
    pub(crate) nodes: Vec<NodeInfo>,
    node_slots: HashMap<String, u32>,
    free_node_slots: Vec<u32>,
    /// Present nodes, round-robin across zones: the order searches walk.
    pub(crate) order: Vec<u32>,
    zones: Vec<(String, Vec<u32>)>,
    pub(crate) pods: Vec<Option<ExistingPod>>,
    free_pod_slots: Vec<u32>,
    pod_slots: HashMap<String, u32>,
    /// label key -> value -> pod slots.
    label_index: HashMap<String, HashMap<String, Vec<u32>>>,
    pub(crate) terms: TermIndex,
    /// controller uid -> node slot -> pods (not terminating) of that controller there.
    pub(crate) owners: HashMap<String, SlotMap<u32>>,
    namespaces: HashMap<String, Labels>,
    /// Where the next search starts (upstream `nextStartNodeIndex`).
    pub(crate) next_start: AtomicUsize,
    /// The last incoming pod parsed, reused by `assume` and by a retry of the same pod.
    last_parsed: Mutex<Option<Arc<PodInfo>>>,
    empty_labels: Labels,
    /// PersistentVolumeClaims, PersistentVolumes and StorageClasses (VolumeBinding).
    pub volumes: crate::plugins::volume_binding::VolumeIndex,
}

impl Default for Snapshot {
    fn default() -> Self {
        Snapshot::new()
    }
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("nodes", &self.order.len())
            .field("pods", &self.pod_slots.len())
            .finish_non_exhaustive()
    }
}

fn pod_key(namespace: &str, name: &str) -> String {
    format!("{namespace}/{name}")
}

impl Snapshot {
    pub fn new() -> Snapshot {
        Snapshot {
            nodes: Vec::new(),
            node_slots: HashMap::new(),
            free_node_slots: Vec::new(),
            order: Vec::new(),
            zones: Vec::new(),
            pods: Vec::new(),
            free_pod_slots: Vec::new(),
            pod_slots: HashMap::new(),
            label_index: HashMap::new(),
            terms: TermIndex::default(),
            owners: HashMap::new(),
            namespaces: HashMap::new(),
            next_start: AtomicUsize::new(0),
            last_parsed: Mutex::new(None),
            empty_labels: Labels::new(),
            volumes: Default::default(),
        }
    }

    /// The number of nodes pods can be scheduled to.
    pub fn node_count(&self) -> usize {
        self.order.len()
    }

    /// The number of pods counted against nodes (bound and assumed).
    pub fn pod_count(&self) -> usize {
        self.pod_slots.len()
    }

    /// Whether `namespace/name` is counted only as an assumed pod (binding not confirmed).
    pub fn is_assumed(&self, namespace: &str, name: &str) -> bool {
        self.pod_slots
            .get(&pod_key(namespace, name))
            .and_then(|&s| self.pods[s as usize].as_ref())
            .is_some_and(|p| p.assumed)
    }

    /// The node a pod is counted on, if any.
    pub fn node_of(&self, namespace: &str, name: &str) -> Option<&str> {
        let slot = *self.pod_slots.get(&pod_key(namespace, name))?;
        let pod = self.pods[slot as usize].as_ref()?;
        Some(self.nodes[pod.node as usize].name.as_str())
    }

    // -- nodes -----------------------------------------------------------------

    fn slot_for_node(&mut self, name: &str) -> u32 {
        if let Some(&s) = self.node_slots.get(name) {
            return s;
        }
        let info = NodeInfo {
            name: name.to_string(),
            ..NodeInfo::default()
        };
        let slot = match self.free_node_slots.pop() {
            Some(s) => {
                self.nodes[s as usize] = info;
                s
            }
            None => {
                self.nodes.push(info);
                (self.nodes.len() - 1) as u32
            }
        };
        self.node_slots.insert(name.to_string(), slot);
        slot
    }

    pub fn upsert_node(&mut self, node: Arc<Node>) {
        let Some(name) = node.metadata.name.as_deref().filter(|n| !n.is_empty()) else {
            return;
        };
        let slot = self.slot_for_node(name);
        let info = &mut self.nodes[slot as usize];
        let was_present = info.present;
        let old_zone = std::mem::take(&mut info.zone_key);
        info.set_node(&node);
        let new_zone = info.zone_key.clone();
        if was_present && old_zone == new_zone {
            return;
        }
        if was_present {
            self.zone_remove(&old_zone, slot);
        }
        self.zone_add(new_zone, slot);
        self.rebuild_order();
    }

    pub fn remove_node(&mut self, name: &str) {
        let Some(&slot) = self.node_slots.get(name) else {
            return;
        };
        let info = &mut self.nodes[slot as usize];
        if !info.present {
            return;
        }
        info.present = false;
        let zone = info.zone_key.clone();
        self.zone_remove(&zone, slot);
        self.rebuild_order();
        // Pods still naming the node keep its slot (as a ghost) until they go.
        self.release_node_if_unused(slot);
    }

    fn release_node_if_unused(&mut self, slot: u32) {
        let info = &self.nodes[slot as usize];
        if info.present || info.pod_count > 0 {
            return;
        }
        self.node_slots.remove(&info.name);
        self.nodes[slot as usize] = NodeInfo::default();
        self.free_node_slots.push(slot);
    }

    fn zone_add(&mut self, zone: String, slot: u32) {
        match self.zones.iter_mut().find(|(z, _)| *z == zone) {
            Some((_, nodes)) => nodes.push(slot),
            None => self.zones.push((zone, vec![slot])),
        }
    }

    fn zone_remove(&mut self, zone: &str, slot: u32) {
        if let Some(i) = self.zones.iter().position(|(z, _)| z == zone) {
            self.zones[i].1.retain(|&s| s != slot);
            if self.zones[i].1.is_empty() {
                self.zones.remove(i);
            }
        }
    }

    /// Upstream's node tree order: the first node of each zone, then the second of each,
    /// and so on, so any window of the list spans the zones evenly.
    fn rebuild_order(&mut self) {
        self.order.clear();
        let mut i = 0;
        loop {
            let before = self.order.len();
            for (_, nodes) in &self.zones {
                if let Some(&s) = nodes.get(i) {
                    self.order.push(s);
                }
            }
            if self.order.len() == before {
                break;
            }
            i += 1;
        }
    }

    // -- pods ------------------------------------------------------------------

    /// Pods with `spec.nodeName` set count against that node; others are ignored here.
    /// Terminal pods (Succeeded, Failed) release their node's resources, as upstream's
    /// pod informer drops them. Keyed by namespace/name; a new uid replaces the old pod.
    pub fn upsert_pod(&mut self, pod: Arc<Pod>) {
        let ns = pod.metadata.namespace.as_deref().unwrap_or_default();
        let name = pod.metadata.name.as_deref().unwrap_or_default();
        let key = pod_key(ns, name);
        let node_name = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .unwrap_or_default();
        let phase = pod
            .status
            .as_ref()
            .and_then(|s| s.phase.as_deref())
            .unwrap_or_default();
        if matches!(phase, "Succeeded" | "Failed") {
            self.remove_by_key(&key);
            return;
        }
        if node_name.is_empty() {
            // Not bound (yet): an assumed entry stays until the bound pod arrives.
            return;
        }
        // Remove first: dropping the old entry may release a ghost node slot.
        self.remove_by_key(&key);
        let node = self.slot_for_node(node_name);
        let entry = ExistingPod::from_pod(&pod, node);
        self.insert_pod(key, entry);
    }

    pub fn remove_pod(&mut self, namespace: &str, name: &str) {
        self.remove_by_key(&pod_key(namespace, name));
    }

    /// Counts `pod` on `node` before the API confirms the binding (upstream's "assume");
    /// a later `upsert_pod` of the bound pod replaces it; `forget` undoes a failed binding.
    pub fn assume(&mut self, pod: &Pod, node: &str) {
        let info = self.parsed(pod);
        let key = pod_key(&info.namespace, &info.name);
        self.remove_by_key(&key);
        let slot = self.slot_for_node(node);
        let entry = ExistingPod::from_info(&info, slot);
        self.insert_pod(key, entry);
    }

    /// Drops an assumed pod whose binding failed; a confirmed pod is left alone.
    pub fn forget(&mut self, namespace: &str, name: &str) {
        let key = pod_key(namespace, name);
        if let Some(&slot) = self.pod_slots.get(&key) {
            if self.pods[slot as usize].as_ref().is_some_and(|p| p.assumed) {
                self.remove_by_key(&key);
            }
        }
    }

    fn insert_pod(&mut self, key: String, mut pod: ExistingPod) {
        let slot = match self.free_pod_slots.pop() {
            Some(s) => s,
            None => {
                self.pods.push(None);
                (self.pods.len() - 1) as u32
            }
        };
        let node = &mut self.nodes[pod.node as usize];
        node.requested.accumulate(&pod.requests, 1);
        node.non_zero_milli_cpu += pod.non_zero_milli_cpu;
        node.non_zero_memory += pod.non_zero_memory;
        node.pod_count += 1;
        for hp in &pod.host_ports {
            match node.used_ports.iter_mut().find(|(p, _)| p == hp) {
                Some((_, n)) => *n += 1,
                None => node.used_ports.push((hp.clone(), 1)),
            }
        }
        for (k, v) in &pod.labels {
            self.label_index
                .entry(k.clone())
                .or_default()
                .entry(v.clone())
                .or_default()
                .push(slot);
        }
        if let Some(aff) = pod.affinity.as_deref() {
            let mut gids = Vec::new();
            for t in &aff.required_affinity {
                gids.push(self.terms.add(TermKind::RequiredAffinity, 0, t, pod.node));
            }
            for t in &aff.required_anti_affinity {
                gids.push(
                    self.terms
                        .add(TermKind::RequiredAntiAffinity, 0, t, pod.node),
                );
            }
            for t in &aff.preferred_affinity {
                gids.push(
                    self.terms
                        .add(TermKind::PreferredAffinity, t.weight, &t.term, pod.node),
                );
            }
            for t in &aff.preferred_anti_affinity {
                gids.push(self.terms.add(
                    TermKind::PreferredAntiAffinity,
                    t.weight,
                    &t.term,
                    pod.node,
                ));
            }
            pod.term_groups = gids;
        }
        if let (Some(owner), false) = (&pod.controller_uid, pod.terminating) {
            *self
                .owners
                .entry(owner.clone())
                .or_default()
                .entry(pod.node)
                .or_insert(0) += 1;
        }
        self.pods[slot as usize] = Some(pod);
        self.pod_slots.insert(key, slot);
    }

    fn remove_by_key(&mut self, key: &str) {
        let Some(slot) = self.pod_slots.remove(key) else {
            return;
        };
        let Some(pod) = self.pods[slot as usize].take() else {
            return;
        };
        self.free_pod_slots.push(slot);
        let node = &mut self.nodes[pod.node as usize];
        node.requested.accumulate(&pod.requests, -1);
        node.non_zero_milli_cpu -= pod.non_zero_milli_cpu;
        node.non_zero_memory -= pod.non_zero_memory;
        node.pod_count -= 1;
        for hp in &pod.host_ports {
            if let Some(i) = node.used_ports.iter().position(|(p, _)| p == hp) {
                node.used_ports[i].1 -= 1;
                if node.used_ports[i].1 == 0 {
                    node.used_ports.swap_remove(i);
                }
            }
        }
        for (k, v) in &pod.labels {
            if let Some(by_value) = self.label_index.get_mut(k) {
                if let Some(list) = by_value.get_mut(v) {
                    remove_item(list, slot);
                    if list.is_empty() {
                        by_value.remove(v);
                    }
                }
                if by_value.is_empty() {
                    self.label_index.remove(k);
                }
            }
        }
        for &gid in &pod.term_groups {
            self.terms.remove(gid, pod.node);
        }
        if let (Some(owner), false) = (&pod.controller_uid, pod.terminating) {
            if let Some(per_node) = self.owners.get_mut(owner) {
                if let Some(c) = per_node.get_mut(&pod.node) {
                    *c -= 1;
                    if *c == 0 {
                        per_node.remove(&pod.node);
                    }
                }
                if per_node.is_empty() {
                    self.owners.remove(owner);
                }
            }
        }
        self.release_node_if_unused(pod.node);
    }

    // -- namespaces ------------------------------------------------------------

    /// Namespace labels, for `namespaceSelector` in pod affinity terms.
    pub fn upsert_namespace(&mut self, ns: Arc<Namespace>) {
        if let Some(name) = ns.metadata.name.as_deref() {
            self.namespaces.insert(
                name.to_string(),
                ns.metadata.labels.clone().unwrap_or_default(),
            );
        }
    }

    pub fn remove_namespace(&mut self, name: &str) {
        self.namespaces.remove(name);
    }

    // -- queries for the plugins ----------------------------------------------

    pub(crate) fn node(&self, slot: u32) -> &NodeInfo {
        &self.nodes[slot as usize]
    }

    /// The labels of a namespace (empty when unknown, as upstream's snapshot lookup).
    pub(crate) fn namespace_labels(&self, ns: &str) -> &Labels {
        self.namespaces.get(ns).unwrap_or(&self.empty_labels)
    }

    /// Namespaces whose labels match a namespace selector.
    pub(crate) fn namespaces_matching<'a>(
        &'a self,
        sel: &'a Selector,
    ) -> impl Iterator<Item = &'a str> + 'a {
        self.namespaces
            .iter()
            .filter(move |(_, l)| sel.matches(l))
            .map(|(n, _)| n.as_str())
    }

    /// Calls `f` with every pod on a present node that `selector` may select: those
    /// carrying the selector's anchor label, or all pods when it has none. Callers check
    /// the full selector and namespace.
    pub(crate) fn for_each_candidate_pod<'a>(
        &'a self,
        selector: &Selector,
        mut f: impl FnMut(&'a ExistingPod),
    ) {
        if selector.is_nothing() {
            return;
        }
        let mut visit = |slot: u32| {
            if let Some(p) = self.pods[slot as usize].as_ref() {
                if self.nodes[p.node as usize].present {
                    f(p);
                }
            }
        };
        match selector.anchor() {
            Some((key, values)) => {
                let Some(by_value) = self.label_index.get(key) else {
                    return;
                };
                for (i, v) in values.iter().enumerate() {
                    if values[..i].contains(v) {
                        continue;
                    }
                    for &slot in by_value.get(v).into_iter().flatten() {
                        visit(slot);
                    }
                }
            }
            None => {
                for slot in 0..self.pods.len() {
                    visit(slot as u32);
                }
            }
        }
    }

    /// Parses the incoming pod, reusing the last parse when it is the same object
    /// (same uid and resourceVersion).
    pub(crate) fn parsed(&self, pod: &Pod) -> Arc<PodInfo> {
        let uid = pod.metadata.uid.as_deref().unwrap_or_default();
        let rv = pod.metadata.resource_version.as_deref().unwrap_or_default();
        let cacheable = !uid.is_empty() && !rv.is_empty();
        if cacheable {
            if let Ok(guard) = self.last_parsed.lock() {
                if let Some(p) = guard
                    .as_ref()
                    .filter(|p| p.uid == uid && p.resource_version == rv)
                {
                    return Arc::clone(p);
                }
            }
        }
        let info = Arc::new(PodInfo::parse(pod));
        if cacheable {
            if let Ok(mut guard) = self.last_parsed.lock() {
                *guard = Some(Arc::clone(&info));
            }
        }
        info
    }

    #[cfg(test)]
    pub(crate) fn term_group_count(&self) -> usize {
        self.terms.group_count()
    }

    #[cfg(test)]
    pub(crate) fn node_by_name(&self, name: &str) -> Option<&NodeInfo> {
        self.node_slots.get(name).map(|&s| &self.nodes[s as usize])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(name: &str, zone: &str) -> Arc<Node> {
        Arc::new(
            serde_json::from_value(json!({
                "metadata": {"name": name, "labels": {"topology.kubernetes.io/zone": zone}},
                "status": {"allocatable": {"cpu": "4", "memory": "8Gi", "pods": "10"},
                           "conditions": [{"type": "Ready", "status": "True"}]}
            }))
            .expect("node json"),
        )
    }

    fn pod(name: &str, node: &str, cpu: &str, extra: serde_json::Value) -> Arc<Pod> {
        let mut v = json!({
            "metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}"), "labels": {"app": "web"}},
            "spec": {"nodeName": node, "containers": [{"name": "c", "resources": {"requests": {"cpu": cpu}},
                     "ports": [{"containerPort": 80, "hostPort": 8080}]}]}
        });
        if let (Some(dst), Some(src)) = (v.as_object_mut(), extra.as_object()) {
            for (k, val) in src {
                dst.insert(k.clone(), val.clone());
            }
        }
        Arc::new(serde_json::from_value(v).expect("pod json"))
    }

    #[test]
    fn snapshot_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Snapshot>();
    }

    #[test]
    fn snapshot_aggregates_follow_pod_events() {
        let mut s = Snapshot::new();
        s.upsert_node(node("n1", "a"));
        s.upsert_pod(pod("p1", "n1", "500m", json!({})));
        s.upsert_pod(pod("p2", "n1", "250m", json!({})));
        let n = s.node_by_name("n1").expect("node");
        assert_eq!((n.requested.milli_cpu, n.pod_count), (750, 2));
        assert_eq!(n.used_ports.len(), 1);
        assert_eq!(n.used_ports[0].1, 2);
        // An update replaces the old accounting.
        s.upsert_pod(pod("p2", "n1", "1", json!({})));
        assert_eq!(
            s.node_by_name("n1").expect("node").requested.milli_cpu,
            1500
        );
        // A terminal pod releases its resources.
        s.upsert_pod(pod(
            "p1",
            "n1",
            "500m",
            json!({"status": {"phase": "Succeeded"}}),
        ));
        let n = s.node_by_name("n1").expect("node");
        assert_eq!((n.requested.milli_cpu, n.pod_count), (1000, 1));
        s.remove_pod("default", "p2");
        let n = s.node_by_name("n1").expect("node");
        assert_eq!(
            (n.requested.milli_cpu, n.pod_count, n.used_ports.len()),
            (0, 0, 0)
        );
        assert!(s.label_index.is_empty());
    }

    #[test]
    fn snapshot_pods_before_their_node_and_after_it() {
        let mut s = Snapshot::new();
        s.upsert_pod(pod("p1", "late", "1", json!({})));
        assert_eq!(s.node_count(), 0);
        s.upsert_node(node("late", "a"));
        assert_eq!(s.node_count(), 1);
        assert_eq!(
            s.node_by_name("late").expect("node").requested.milli_cpu,
            1000
        );
        s.remove_node("late");
        assert_eq!(s.node_count(), 0);
        assert!(
            s.node_by_name("late").is_some(),
            "ghost kept while a pod names it"
        );
        s.remove_pod("default", "p1");
        assert!(s.node_by_name("late").is_none());
    }

    #[test]
    fn snapshot_assume_then_confirm_or_forget() {
        let mut s = Snapshot::new();
        s.upsert_node(node("n1", "a"));
        let unbound = pod("p1", "", "1", json!({}));
        s.assume(&unbound, "n1");
        assert!(s.is_assumed("default", "p1"));
        assert_eq!(
            s.node_by_name("n1").expect("node").requested.milli_cpu,
            1000
        );
        // A watch event for the still-unbound pod does not drop the assumption.
        s.upsert_pod(Arc::clone(&unbound));
        assert!(s.is_assumed("default", "p1"));
        s.forget("default", "p1");
        assert_eq!(s.node_by_name("n1").expect("node").pod_count, 0);
        s.assume(&unbound, "n1");
        s.upsert_pod(pod("p1", "n1", "1", json!({})));
        assert!(!s.is_assumed("default", "p1"));
        s.forget("default", "p1");
        assert_eq!(
            s.node_by_name("n1").expect("node").pod_count,
            1,
            "forget leaves confirmed pods"
        );
    }

    #[test]
    fn snapshot_zone_round_robin_order() {
        let mut s = Snapshot::new();
        for (n, z) in [
            ("a1", "a"),
            ("a2", "a"),
            ("a3", "a"),
            ("b1", "b"),
            ("c1", "c"),
            ("b2", "b"),
        ] {
            s.upsert_node(node(n, z));
        }
        let names: Vec<&str> = s.order.iter().map(|&i| s.node(i).name.as_str()).collect();
        assert_eq!(names, ["a1", "b1", "c1", "a2", "b2", "a3"]);
        s.upsert_node(node("a1", "c"));
        let names: Vec<&str> = s.order.iter().map(|&i| s.node(i).name.as_str()).collect();
        assert_eq!(names, ["a2", "b1", "c1", "a3", "b2", "a1"]);
    }

    #[test]
    fn snapshot_term_groups_share_identical_terms() {
        let mut s = Snapshot::new();
        s.upsert_node(node("n1", "a"));
        s.upsert_node(node("n2", "a"));
        let anti = json!({"affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
            {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "kubernetes.io/hostname"}]}}});
        let with_anti = |name: &str, node: &str| {
            let mut p = (*pod(name, node, "1", json!({}))).clone();
            p.spec.as_mut().expect("spec").affinity =
                serde_json::from_value(anti["affinity"].clone()).expect("affinity");
            Arc::new(p)
        };
        s.upsert_pod(with_anti("p1", "n1"));
        s.upsert_pod(with_anti("p2", "n2"));
        s.upsert_pod(with_anti("p3", "n2"));
        assert_eq!(s.term_group_count(), 1);
        let mut seen = Vec::new();
        let labels: Labels = [("app".to_string(), "web".to_string())].into();
        s.terms
            .for_each_match("default", &labels, &Labels::new(), |g| {
                let mut v: Vec<(u32, u32)> = g.nodes.iter().map(|(a, b)| (*a, *b)).collect();
                v.sort();
                seen.push(v);
            });
        assert_eq!(seen, vec![vec![(0, 1), (1, 2)]]);
        let other: Labels = [("app".to_string(), "db".to_string())].into();
        let mut hits = 0;
        s.terms
            .for_each_match("default", &other, &Labels::new(), |_| hits += 1);
        assert_eq!(hits, 0);
        for p in ["p1", "p2", "p3"] {
            s.remove_pod("default", p);
        }
        assert_eq!(s.term_group_count(), 0);
    }
}
