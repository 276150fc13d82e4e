//! One DaemonSet sync as pure functions of the DaemonSet, the nodes, its pods by node and
//! its revisions: which nodes need a pod and which pods must go ([`manage`]), which old
//! pods a rolling update replaces now ([`rolling_update`]), the status ([`status`]), and
//! the revision bookkeeping ([`construct_history`], [`cleanup_history`]).

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet, DaemonSetStatus};
use k8s_openapi::api::core::v1::{Pod, PodSpec, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::nodes::{self, DaemonNode};
use crate::deployment::util::{compute_hash, scaled_value};
use crate::history::{self, Parent, HASH_LABEL};
use crate::pods::PodInfo;

/// The label with the DaemonSet's template generation (deprecated upstream, still set).
pub const TEMPLATE_GENERATION_LABEL: &str = "pod-template-generation";
/// The annotation the API server keeps the template generation in.
pub const TEMPLATE_GENERATION_ANNOTATION: &str = "deprecated.daemonset.template.generation";

#[derive(Debug, Clone, PartialEq)]
pub enum Strategy {
    OnDelete,
    RollingUpdate { max_unavailable: Option<IntOrString>, max_surge: Option<IntOrString> },
}

/// A DaemonSet as this controller sees it.
#[derive(Debug, Clone)]
pub struct Daemon {
    pub parent: Parent,
    pub generation: i64,
    pub annotations: BTreeMap<String, String>,
    pub template: PodTemplateSpec,
    /// The template's spec with the daemon tolerations: what node predicates test.
    pub daemon_spec: PodSpec,
    pub min_ready_seconds: i32,
    pub strategy: Strategy,
    pub revision_history_limit: i32,
    pub template_generation: Option<i64>,
    pub status: DaemonSetStatus,
}

impl Daemon {
    pub fn from(ds: &DaemonSet) -> Daemon {
        let m = &ds.metadata;
        let spec = ds.spec.clone().unwrap_or_default();
        let mut daemon_spec = spec.template.spec.clone().unwrap_or_default();
        nodes::add_daemon_tolerations(&mut daemon_spec);
        let strategy = match spec.update_strategy.as_ref().and_then(|s| s.type_.as_deref()) {
            Some("OnDelete") => Strategy::OnDelete,
            _ => {
                let ru = spec.update_strategy.as_ref().and_then(|s| s.rolling_update.clone()).unwrap_or_default();
                Strategy::RollingUpdate { max_unavailable: ru.max_unavailable, max_surge: ru.max_surge }
            }
        };
        let annotations = m.annotations.clone().unwrap_or_default();
        Daemon {
            parent: Parent {
                api_version: "apps/v1",
                kind: "DaemonSet",
                namespace: m.namespace.clone().unwrap_or_default(),
                name: m.name.clone().unwrap_or_default(),
                uid: m.uid.clone().unwrap_or_default(),
                deleting: m.deletion_timestamp.is_some(),
            },
            generation: m.generation.unwrap_or(0),
            template_generation: annotations.get(TEMPLATE_GENERATION_ANNOTATION).and_then(|g| g.parse().ok()),
            annotations,
            template: spec.template,
            daemon_spec,
            min_ready_seconds: spec.min_ready_seconds.unwrap_or(0),
            strategy,
            revision_history_limit: spec.revision_history_limit.unwrap_or(10),
            status: ds.status.clone().unwrap_or_default(),
        }
    }

    pub fn should_run(&self, node: &DaemonNode) -> (bool, bool) {
        nodes::should_run(&self.daemon_spec, node)
    }

    /// (maxSurge, maxUnavailable) for `desired` nodes (upstream `SurgeCount` and
    /// `UnavailableCount`, both rounding up).
    pub fn surge_and_unavailable(&self, desired: i32) -> (i32, i32) {
        match &self.strategy {
            Strategy::OnDelete => (0, 0),
            Strategy::RollingUpdate { max_unavailable, max_surge } => {
                let f = |v: &Option<IntOrString>| v.as_ref().and_then(|v| scaled_value(v, desired, true).ok()).unwrap_or(0);
                (f(max_surge), f(max_unavailable))
            }
        }
    }

    pub fn allows_surge(&self) -> bool {
        self.surge_and_unavailable(1).0 != 0
    }

    /// The pod to create on `node` with the current revision's hash (upstream
    /// `CreatePodTemplate` and the node affinity pin).
    pub fn new_pod(&self, node: &str, hash: &str) -> Pod {
        let meta = self.template.metadata.clone().unwrap_or_default();
        let mut labels = meta.labels.unwrap_or_default();
        if let Some(g) = self.template_generation {
            labels.insert(TEMPLATE_GENERATION_LABEL.into(), g.to_string());
        }
        if !hash.is_empty() {
            labels.insert(HASH_LABEL.into(), hash.into());
        }
        let mut spec = self.daemon_spec.clone();
        spec.affinity = Some(nodes::pin_to_node(spec.affinity.take(), node));
        let prefix = format!("{}-", self.parent.name);
        Pod {
            metadata: ObjectMeta {
                generate_name: Some(if prefix.len() <= 253 { prefix } else { self.parent.name.clone() }),
                namespace: Some(self.parent.namespace.clone()),
                labels: Some(labels),
                annotations: meta.annotations,
                finalizers: meta.finalizers,
                owner_references: Some(vec![self.parent.controller_ref()]),
                ..Default::default()
            },
            spec: Some(spec),
            status: None,
        }
    }
}

/// A pod is of the current revision (upstream `IsPodUpdated`).
pub fn is_updated(pod: &PodInfo, hash: &str, template_generation: Option<i64>) -> bool {
    let by_generation = template_generation.is_some_and(|g| pod.labels.get(TEMPLATE_GENERATION_LABEL) == Some(&g.to_string()));
    let by_hash = !hash.is_empty() && pod.labels.get(HASH_LABEL).map(String::as_str) == Some(hash);
    by_hash || by_generation
}

/// The node a daemon pod is for: where it runs, or where its affinity pins it.
pub fn target_node(pod: &PodInfo) -> Option<&str> {
    if !pod.node_name.is_empty() {
        return Some(&pod.node_name);
    }
    pod.affinity_node.as_deref()
}

pub type NodePods = HashMap<String, Vec<Arc<PodInfo>>>;

pub fn pods_by_node(pods: &[Arc<PodInfo>]) -> NodePods {
    let mut out = NodePods::new();
    for p in pods {
        if let Some(n) = target_node(p) {
            out.entry(n.to_string()).or_default().push(p.clone());
        }
    }
    out
}

/// Scheduled pods first, then the oldest, then by name (upstream
/// `podByCreationTimestampAndPhase`).
pub fn oldest_first(a: &PodInfo, b: &PodInfo) -> Ordering {
    match (a.node_name.is_empty(), b.node_name.is_empty()) {
        (false, true) => return Ordering::Less,
        (true, false) => return Ordering::Greater,
        _ => {}
    }
    match a.created.cmp(&b.created) {
        Ordering::Equal => a.name.cmp(&b.name),
        o => o,
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub type_: &'static str,
    pub reason: &'static str,
    pub message: String,
}

/// What [`manage`] decided.
#[derive(Debug, Default, PartialEq)]
pub struct Manage {
    /// Nodes that need a daemon pod.
    pub create_on: Vec<String>,
    /// Pods to delete.
    pub delete: Vec<String>,
    /// Nodes whose failed pod is deleted now (their back-off moves on).
    pub failed_on: Vec<String>,
    /// A failed pod waits for its back-off: look again after this long.
    pub retry_after: Option<Duration>,
    pub events: Vec<Event>,
}

fn phase(p: &PodInfo) -> &str {
    &p.phase
}

/// Pods to create and delete so that each node runs one daemon pod exactly when it should
/// (upstream `manage` and `podsShouldBeOnNode`). `in_backoff` says how long a node's failed
/// pod must still wait before it is deleted again.
pub fn manage(d: &Daemon, nodes: &[Arc<DaemonNode>], by_node: &NodePods, hash: &str, now: Timestamp, in_backoff: &dyn Fn(&str) -> Option<Duration>) -> Manage {
    let mut out = Manage::default();
    let mut sorted: Vec<&Arc<DaemonNode>> = nodes.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    let ns = &d.parent.namespace;
    for node in sorted {
        let (should_run, should_continue) = d.should_run(node);
        let pods = by_node.get(&node.name);
        match pods {
            None if should_run => out.create_on.push(node.name.clone()),
            Some(pods) if should_continue => {
                let mut running: Vec<&Arc<PodInfo>> = Vec::new();
                for p in pods {
                    if p.deleting {
                        continue;
                    }
                    match phase(p) {
                        "Failed" => {
                            if let Some(wait) = in_backoff(&node.name) {
                                out.retry_after = Some(out.retry_after.map_or(wait, |w| w.min(wait)));
                                continue;
                            }
                            out.events.push(Event {
                                type_: "Warning",
                                reason: "FailedDaemonPod",
                                message: format!("Found failed daemon pod {ns}/{} on node {}, will try to kill it", p.name, node.name),
                            });
                            out.failed_on.push(node.name.clone());
                            out.delete.push(p.name.clone());
                        }
                        "Succeeded" => {
                            out.events.push(Event {
                                type_: "Normal",
                                reason: "SucceededDaemonPod",
                                message: format!("Found succeeded daemon pod {ns}/{} on node {}, will try to delete it", p.name, node.name),
                            });
                            out.delete.push(p.name.clone());
                        }
                        _ => running.push(p),
                    }
                }
                running.sort_by(|a, b| oldest_first(a, b));
                if !d.allows_surge() {
                    // One pod per node: all but the oldest go.
                    out.delete.extend(running.iter().skip(1).map(|p| p.name.clone()));
                    continue;
                }
                if running.is_empty() {
                    if should_run {
                        out.create_on.push(node.name.clone());
                    }
                    continue;
                }
                // Surging: at most the oldest new and the oldest old pod; the old one
                // goes once it is not ready or the new one is available.
                let (mut oldest_new, mut oldest_old) = (None, None);
                for p in running {
                    let slot = if p.labels.get(HASH_LABEL).map(String::as_str) == Some(hash) { &mut oldest_new } else { &mut oldest_old };
                    if slot.is_none() {
                        *slot = Some(p);
                    } else {
                        out.delete.push(p.name.clone());
                    }
                }
                if let (Some(new), Some(old)) = (oldest_new, oldest_old) {
                    if !old.ready || new.is_available(d.min_ready_seconds, now) {
                        out.delete.push(old.name.clone());
                    }
                }
            }
            Some(pods) if !should_continue => out.delete.extend(pods.iter().filter(|p| !p.deleting).map(|p| p.name.clone())),
            _ => {}
        }
    }
    // Unscheduled pods for nodes that are gone would wait forever.
    let existing: HashSet<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
    let mut orphans: Vec<&String> = by_node.keys().filter(|n| !existing.contains(n.as_str())).collect();
    orphans.sort();
    for n in orphans {
        out.delete.extend(by_node[n].iter().filter(|p| p.node_name.is_empty()).map(|p| p.name.clone()));
    }
    out
}

/// The new and the old pod on a node, or None if it has more than one of either
/// (upstream `findUpdatedPodsOnNode`; pods being deleted do not count).
/// The new and the old pod of a node, either possibly missing.
type NewAndOld<'a> = (Option<&'a Arc<PodInfo>>, Option<&'a Arc<PodInfo>>);

fn new_and_old<'a>(d: &Daemon, pods: &'a [Arc<PodInfo>], hash: &str) -> Option<NewAndOld<'a>> {
    let (mut new, mut old) = (None, None);
    for p in pods.iter().filter(|p| !p.deleting) {
        let slot = if is_updated(p, hash, d.template_generation) { &mut new } else { &mut old };
        if slot.is_some() {
            return None;
        }
        *slot = Some(p);
    }
    Some((new, old))
}

/// Old pods to delete and nodes to surge onto in one step of a rolling update (upstream
/// `rollingUpdate`). Without surge, old pods are deleted while fewer than maxUnavailable
/// nodes lack an available pod (the manage step then creates their replacements); with
/// surge, new pods start next to at most maxSurge available old ones, and each old pod
/// goes once its replacement is available.
pub fn rolling_update(d: &Daemon, nodes: &[Arc<DaemonNode>], by_node: &NodePods, hash: &str, now: Timestamp) -> (Vec<String>, Vec<String>) {
    let available = |p: &PodInfo| p.is_available(d.min_ready_seconds, now);
    let node_map: HashMap<&str, &Arc<DaemonNode>> = nodes.iter().map(|n| (n.name.as_str(), n)).collect();
    // Every node that should run a pod, with or without pods; and those with pods.
    let mut desired = 0;
    let mut all: BTreeMap<&str, &[Arc<PodInfo>]> = BTreeMap::new();
    for n in nodes {
        if d.should_run(n).0 {
            desired += 1;
            all.insert(&n.name, &[]);
        }
    }
    for (n, pods) in by_node {
        all.insert(n, pods);
    }
    if d.strategy == Strategy::OnDelete {
        return (Vec::new(), Vec::new());
    }
    let (max_surge, mut max_unavailable) = d.surge_and_unavailable(desired);
    if desired > 0 && max_surge == 0 && max_unavailable == 0 {
        max_unavailable = 1;
    }

    if max_surge == 0 {
        let mut unavailable = 0;
        let mut replace = Vec::new();
        let mut candidates = Vec::new();
        for pods in all.values() {
            let Some((new, old)) = new_and_old(d, pods, hash) else {
                unavailable += 1;
                continue;
            };
            match (new, old) {
                (None, None) | (Some(_), Some(_)) => unavailable += 1,
                (Some(new), None) => {
                    if !available(new) {
                        unavailable += 1;
                    }
                }
                (None, Some(old)) => {
                    if !available(old) {
                        replace.push(old.name.clone());
                        unavailable += 1;
                    } else if unavailable < max_unavailable {
                        candidates.push(old.name.clone());
                    }
                }
            }
        }
        let room = (max_unavailable - unavailable).max(0) as usize;
        replace.extend(candidates.into_iter().take(room));
        return (replace, Vec::new());
    }

    let mut delete = Vec::new();
    let mut off_node: Vec<&Arc<PodInfo>> = Vec::new();
    let mut allowed = Vec::new();
    let mut candidates = Vec::new();
    let (mut surging, mut available_nodes) = (0, 0);
    for (node, pods) in &all {
        let Some((new, old)) = new_and_old(d, pods, hash) else {
            surging += 1;
            continue;
        };
        if let Some(p) = old.or(new) {
            if available(p) {
                available_nodes += 1;
            }
        }
        let should_run = node_map.get(node).is_some_and(|n| d.should_run(n).0);
        match (new, old) {
            (_, None) => {}
            (None, Some(old)) => {
                if !available(old) {
                    if should_run {
                        allowed.push(node.to_string());
                    } else {
                        delete.push(old.name.clone());
                    }
                } else if !should_run {
                    off_node.push(old);
                } else if surging < max_surge {
                    candidates.push(node.to_string());
                }
            }
            (Some(new), Some(old)) => {
                if available(new) {
                    delete.push(old.name.clone());
                } else {
                    surging += 1;
                }
            }
        }
    }
    // An old pod on a node it no longer belongs on goes only once enough pods elsewhere
    // are available, so that the daemon never has fewer than desired.
    let deletable = (available_nodes - desired).max(0) as usize;
    delete.extend(off_node.iter().take(deletable).map(|p| p.name.clone()));
    let room = (max_surge - surging).max(0) as usize;
    allowed.extend(candidates.into_iter().take(room));
    (delete, allowed)
}

/// The counters of the status (upstream `updateDaemonSetStatus`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub desired: i32,
    pub current: i32,
    pub misscheduled: i32,
    pub ready: i32,
    pub updated: i32,
    pub available: i32,
    pub unavailable: i32,
}

pub fn status(d: &Daemon, nodes: &[Arc<DaemonNode>], by_node: &NodePods, hash: &str, now: Timestamp) -> Counts {
    let mut c = Counts::default();
    for node in nodes {
        let should_run = d.should_run(node).0;
        let pods = by_node.get(&node.name).filter(|p| !p.is_empty());
        match (should_run, pods) {
            (true, None) => c.desired += 1,
            (true, Some(pods)) => {
                c.desired += 1;
                c.current += 1;
                let Some(pod) = pods.iter().min_by(|a, b| oldest_first(a, b)) else { continue };
                if pod.ready {
                    c.ready += 1;
                    if pod.is_available(d.min_ready_seconds, now) {
                        c.available += 1;
                    }
                }
                if is_updated(pod, hash, d.template_generation) {
                    c.updated += 1;
                }
            }
            (false, Some(_)) => c.misscheduled += 1,
            (false, None) => {}
        }
    }
    c.unavailable = c.desired - c.available;
    c
}

/// Go's omitempty.
fn nonzero(n: i32) -> Option<i32> {
    (n != 0).then_some(n)
}

/// The status to write, or None if nothing changed (upstream `storeDaemonSetStatus`).
pub fn new_status(d: &Daemon, c: Counts, observe_generation: bool) -> Option<DaemonSetStatus> {
    let s = &d.status;
    let same = s.desired_number_scheduled == c.desired
        && s.current_number_scheduled == c.current
        && s.number_misscheduled == c.misscheduled
        && s.number_ready == c.ready
        && s.updated_number_scheduled.unwrap_or(0) == c.updated
        && s.number_available.unwrap_or(0) == c.available
        && s.number_unavailable.unwrap_or(0) == c.unavailable
        && s.observed_generation.unwrap_or(0) >= d.generation;
    if same {
        return None;
    }
    let mut new = s.clone();
    if observe_generation {
        new.observed_generation = Some(d.generation);
    }
    new.desired_number_scheduled = c.desired;
    new.current_number_scheduled = c.current;
    new.number_misscheduled = c.misscheduled;
    new.number_ready = c.ready;
    new.updated_number_scheduled = nonzero(c.updated);
    new.number_available = nonzero(c.available);
    new.number_unavailable = nonzero(c.unavailable);
    Some(new)
}

/// The revision of the DaemonSet's current template (upstream `snapshot`): named by the
/// template's hash, labelled with it, carrying the DaemonSet's annotations.
pub fn snapshot(d: &Daemon, revision: i64) -> ControllerRevision {
    let hash = compute_hash(&d.template, d.status.collision_count);
    let mut labels = d.template.metadata.as_ref().and_then(|m| m.labels.clone()).unwrap_or_default();
    labels.insert(HASH_LABEL.into(), hash.clone());
    ControllerRevision {
        metadata: ObjectMeta {
            name: Some(format!("{}-{hash}", d.parent.name)),
            namespace: Some(d.parent.namespace.clone()),
            labels: Some(labels),
            annotations: (!d.annotations.is_empty()).then(|| d.annotations.clone()),
            owner_references: Some(vec![d.parent.controller_ref()]),
            ..Default::default()
        },
        data: Some(RawExtension(history::template_patch(&d.template))),
        revision,
    }
}

/// Whether a revision holds the DaemonSet's current template (upstream `Match`).
pub fn matches(d: &Daemon, cr: &ControllerRevision) -> bool {
    *history::data_of(cr) == history::template_patch(&d.template)
}

/// What to do with the history (upstream `constructHistory`).
#[derive(Debug, PartialEq)]
pub enum Current {
    /// A revision matches the template and has the right number.
    Keep(Arc<ControllerRevision>),
    /// A revision matches but must be renumbered (a rollback to it).
    Renumber(Arc<ControllerRevision>, i64),
    /// No revision matches: create this one.
    Create(Box<ControllerRevision>),
}

#[derive(Debug)]
pub struct HistoryPlan {
    pub current: Current,
    /// Revisions of other templates.
    pub old: Vec<Arc<ControllerRevision>>,
    /// Other revisions of the current template, to delete (their pods relabelled).
    pub duplicates: Vec<Arc<ControllerRevision>>,
}

pub fn construct_history(d: &Daemon, owned: &[Arc<ControllerRevision>]) -> HistoryPlan {
    let (mut current, old): (Vec<Arc<ControllerRevision>>, Vec<Arc<ControllerRevision>>) = owned.iter().cloned().partition(|r| matches(d, r));
    let next = old.iter().map(|r| r.revision).max().unwrap_or(0) + 1;
    if current.is_empty() {
        return HistoryPlan { current: Current::Create(Box::new(snapshot(d, next))), old, duplicates: Vec::new() };
    }
    // Keep the one with the highest revision (the last of equals).
    current.sort_by_key(|r| r.revision);
    let keep = current.pop().expect("not empty");
    let cur = if keep.revision < next { Current::Renumber(keep, next) } else { Current::Keep(keep) };
    HistoryPlan { current: cur, old, duplicates: current }
}

/// The hash pods of a revision carry.
pub fn hash_of(cr: &ControllerRevision) -> String {
    cr.metadata.labels.as_ref().and_then(|l| l.get(HASH_LABEL)).cloned().unwrap_or_default()
}

/// Old revisions to delete beyond revisionHistoryLimit, oldest first, sparing those a
/// pod still runs (upstream `cleanupHistory`).
pub fn cleanup_history(d: &Daemon, old: &[Arc<ControllerRevision>], pods: &[Arc<PodInfo>]) -> Vec<String> {
    let to_kill = old.len() as i64 - i64::from(d.revision_history_limit.max(0));
    if to_kill <= 0 {
        return Vec::new();
    }
    let live: HashSet<&str> = pods.iter().filter_map(|p| p.labels.get(HASH_LABEL)).map(String::as_str).filter(|h| !h.is_empty()).collect();
    let mut sorted: Vec<&Arc<ControllerRevision>> = old.iter().collect();
    sorted.sort_by_key(|r| r.revision);
    sorted.into_iter().filter(|r| !live.contains(hash_of(r).as_str())).take(to_kill as usize).map(|r| r.metadata.name.clone().unwrap_or_default()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pods::testutil::{owner, pod, running, ts};
    use k8s_openapi::api::core::v1::Taint;
    use serde_json::json;

    fn ds(strategy: serde_json::Value) -> Daemon {
        let ds: DaemonSet = serde_json::from_value(json!({
            "metadata": {"name": "agent", "namespace": "default", "uid": "uid-agent", "generation": 2},
            "spec": {
                "selector": {"matchLabels": {"app": "agent"}},
                "template": {"metadata": {"labels": {"app": "agent"}}, "spec": {"containers": [{"name": "a", "image": "agent:1"}], "nodeSelector": {"role": "worker"}}},
                "updateStrategy": strategy
            }
        }))
        .unwrap();
        Daemon::from(&ds)
    }

    fn rolling(unavailable: serde_json::Value, surge: serde_json::Value) -> Daemon {
        ds(json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": unavailable, "maxSurge": surge}}))
    }

    fn worker(name: &str) -> Arc<DaemonNode> {
        Arc::new(DaemonNode { name: name.into(), labels: [("role".to_string(), "worker".to_string())].into(), ..Default::default() })
    }

    fn other(name: &str) -> Arc<DaemonNode> {
        Arc::new(DaemonNode { name: name.into(), ..Default::default() })
    }

    /// A ready daemon pod of `hash` on `node`, created at `created`.
    fn dpod(name: &str, node: &str, hash: &str, created: i64) -> PodInfo {
        let mut p = running(pod(name, &[("app", "agent"), (HASH_LABEL, hash)]), node, Some(created));
        p.created = Some(ts(created));
        p.owners = vec![owner("DaemonSet", "agent", "uid-agent")];
        p
    }

    fn arcs(v: Vec<PodInfo>) -> Vec<Arc<PodInfo>> {
        v.into_iter().map(Arc::new).collect()
    }

    fn never(_: &str) -> Option<Duration> {
        None
    }

    #[test]
    fn one_pod_per_eligible_node() {
        let d = rolling(json!(1), json!(0));
        let nodes = vec![worker("n1"), worker("n2"), other("db"), worker("n3")];
        // n1 has its pod; n2 two (the newer goes); db one it should not have; n3 none.
        let pods = arcs(vec![dpod("a", "n1", "h", 0), dpod("b", "n2", "h", 0), dpod("b2", "n2", "h", 5), dpod("c", "db", "h", 0)]);
        let m = manage(&d, &nodes, &pods_by_node(&pods), "h", ts(100), &never);
        assert_eq!(m.create_on, ["n3"]);
        assert_eq!(m.delete, ["c", "b2"], "nodes in name order");
        // A pod pinned by affinity but not yet bound counts for its node.
        let mut pending = pod("p", &[("app", "agent")]);
        pending.affinity_node = Some("n3".into());
        let mut all = pods.clone();
        all.push(Arc::new(pending));
        assert!(manage(&d, &nodes, &pods_by_node(&all), "h", ts(100), &never).create_on.is_empty());
        // An unbound pod for a node that is gone is deleted.
        let mut lost = pod("lost", &[("app", "agent")]);
        lost.affinity_node = Some("gone".into());
        all.push(Arc::new(lost));
        assert!(manage(&d, &nodes, &pods_by_node(&all), "h", ts(100), &never).delete.contains(&"lost".to_string()));
    }

    #[test]
    fn failed_pods_are_replaced_with_backoff_and_succeeded_ones_removed() {
        let d = rolling(json!(1), json!(0));
        let nodes = vec![worker("n1"), worker("n2")];
        let mut failed = dpod("f", "n1", "h", 0);
        failed.phase = "Failed".into();
        let mut done = dpod("s", "n2", "h", 0);
        done.phase = "Succeeded".into();
        let by_node = pods_by_node(&arcs(vec![failed, done]));
        let m = manage(&d, &nodes, &by_node, "h", ts(0), &never);
        assert_eq!(m.delete, ["f", "s"]);
        assert_eq!(m.failed_on, ["n1"]);
        assert_eq!(m.events[0].reason, "FailedDaemonPod");
        assert_eq!(m.events[0].message, "Found failed daemon pod default/f on node n1, will try to kill it");
        assert!(m.create_on.is_empty(), "replacements come once the old pods are gone");
        let m = manage(&d, &nodes, &by_node, "h", ts(0), &|n| (n == "n1").then_some(Duration::from_secs(2)));
        assert_eq!((m.delete.as_slice(), m.retry_after), (&["s".to_string()][..], Some(Duration::from_secs(2))));
    }

    #[test]
    fn relabelled_and_tainted_nodes() {
        let d = rolling(json!(1), json!(0));
        let mut tainted = (*worker("n1")).clone();
        tainted.taints = vec![Taint { key: "dedicated".into(), effect: "NoSchedule".into(), ..Default::default() }];
        let by_node = pods_by_node(&arcs(vec![dpod("a", "n1", "h", 0)]));
        // NoSchedule: the running pod stays, nothing new.
        let m = manage(&d, &[Arc::new(tainted.clone())], &by_node, "h", ts(0), &never);
        assert_eq!(m, Manage::default());
        assert!(manage(&d, &[Arc::new(tainted.clone())], &NodePods::new(), "h", ts(0), &never).create_on.is_empty());
        tainted.taints[0].effect = "NoExecute".into();
        assert_eq!(manage(&d, &[Arc::new(tainted)], &by_node, "h", ts(0), &never).delete, ["a"]);
    }

    #[test]
    fn rolling_update_without_surge_respects_max_unavailable() {
        let nodes: Vec<_> = (1..=5).map(|i| worker(&format!("n{i}"))).collect();
        let old: Vec<PodInfo> = (1..=5).map(|i| dpod(&format!("p{i}"), &format!("n{i}"), "old", 0)).collect();
        let by_node = pods_by_node(&arcs(old.clone()));
        let (delete, create) = rolling_update(&rolling(json!(1), json!(0)), &nodes, &by_node, "new", ts(100));
        assert_eq!((delete.len(), create.len()), (1, 0));
        let (delete, _) = rolling_update(&rolling(json!(2), json!(0)), &nodes, &by_node, "new", ts(100));
        assert_eq!(delete, ["p1", "p2"]);
        // 40% of 5 rounds up to 2.
        assert_eq!(rolling_update(&rolling(json!("40%"), json!(0)), &nodes, &by_node, "new", ts(100)).0.len(), 2);
        // One node already lacks an available pod (its new pod is starting): one more at most with 2.
        let mut mixed = old.clone();
        mixed[0] = dpod("p1", "n1", "new", 0);
        mixed[0].ready = false;
        let (delete, _) = rolling_update(&rolling(json!(2), json!(0)), &nodes, &pods_by_node(&arcs(mixed.clone())), "new", ts(100));
        assert_eq!(delete, ["p2"]);
        // An old pod that is not available is replaced whatever the budget.
        mixed[4].ready = false;
        let (delete, _) = rolling_update(&rolling(json!(1), json!(0)), &nodes, &pods_by_node(&arcs(mixed)), "new", ts(100));
        assert_eq!(delete, ["p5"]);
        // Everything updated: nothing to do. OnDelete: never anything.
        let new: Vec<PodInfo> = (1..=5).map(|i| dpod(&format!("p{i}"), &format!("n{i}"), "new", 0)).collect();
        assert_eq!(rolling_update(&rolling(json!(1), json!(0)), &nodes, &pods_by_node(&arcs(new)), "new", ts(100)), (vec![], vec![]));
        assert_eq!(rolling_update(&ds(json!({"type": "OnDelete"})), &nodes, &by_node, "new", ts(100)), (vec![], vec![]));
    }

    #[test]
    fn rolling_update_with_surge() {
        let d = rolling(json!(0), json!(2));
        assert!(d.allows_surge());
        let nodes: Vec<_> = (1..=4).map(|i| worker(&format!("n{i}"))).collect();
        let old: Vec<PodInfo> = (1..=4).map(|i| dpod(&format!("p{i}"), &format!("n{i}"), "old", 0)).collect();
        let (delete, create) = rolling_update(&d, &nodes, &pods_by_node(&arcs(old.clone())), "new", ts(100));
        assert_eq!((delete, create), (vec![], vec!["n1".to_string(), "n2".to_string()]));
        // n1's new pod is available: its old pod goes; n2's is starting: it still counts
        // against the surge, so only one more node (n3) starts.
        let mut pods = old.clone();
        pods.push(dpod("q1", "n1", "new", 10));
        let mut starting = dpod("q2", "n2", "new", 10);
        starting.ready = false;
        pods.push(starting);
        let (delete, create) = rolling_update(&d, &nodes, &pods_by_node(&arcs(pods.clone())), "new", ts(100));
        assert_eq!((delete, create), (vec!["p1".to_string()], vec!["n3".to_string()]));
        // manage keeps both pods on a surging node until the new one is available.
        let m = manage(&d, &nodes, &pods_by_node(&arcs(pods)), "new", ts(100), &never);
        assert_eq!(m.delete, ["p1"]);
        assert!(m.create_on.is_empty());
    }

    #[test]
    fn status_counts() {
        let mut d = rolling(json!(1), json!(0));
        d.min_ready_seconds = 10;
        let nodes = vec![worker("n1"), worker("n2"), worker("n3"), other("db")];
        let mut not_ready = dpod("b", "n2", "old", 0);
        not_ready.ready = false;
        let pods = arcs(vec![dpod("a", "n1", "new", 95), not_ready, dpod("c", "db", "new", 0)]);
        let c = status(&d, &nodes, &pods_by_node(&pods), "new", ts(100));
        assert_eq!(c, Counts { desired: 3, current: 2, misscheduled: 1, ready: 1, updated: 1, available: 0, unavailable: 3 });
        let s = new_status(&d, c, true).unwrap();
        assert_eq!((s.desired_number_scheduled, s.number_available, s.number_unavailable, s.observed_generation), (3, None, Some(3), Some(2)));
        d.status = s;
        assert!(new_status(&d, c, true).is_none(), "unchanged");
        assert!(is_updated(&pods[0], "new", None));
        let mut by_generation = (*pods[1]).clone();
        by_generation.labels.insert(TEMPLATE_GENERATION_LABEL.into(), "2".into());
        assert!(is_updated(&by_generation, "new", Some(2)));
    }

    #[test]
    fn new_pods_are_pinned_labelled_and_tolerant() {
        let d = rolling(json!(1), json!(0));
        let p = d.new_pod("n2", "abc");
        assert_eq!(p.metadata.generate_name.as_deref(), Some("agent-"));
        let labels = p.metadata.labels.clone().unwrap();
        assert_eq!((labels["app"].as_str(), labels[HASH_LABEL].as_str()), ("agent", "abc"));
        let spec = serde_json::to_value(p.spec.unwrap()).unwrap();
        assert_eq!(spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0]["matchFields"][0]["values"], json!(["n2"]));
        assert_eq!(spec["tolerations"].as_array().map(Vec::len), Some(6));
        let r = &p.metadata.owner_references.unwrap()[0];
        assert_eq!((r.kind.as_str(), r.name.as_str(), r.controller), ("DaemonSet", "agent", Some(true)));
    }

    #[test]
    fn history_creation_rollback_and_cleanup() {
        let mut d = rolling(json!(1), json!(0));
        let plan = construct_history(&d, &[]);
        let Current::Create(first) = plan.current else { panic!() };
        assert_eq!(first.revision, 1);
        let hash = hash_of(&first);
        assert_eq!(first.metadata.name.as_deref(), Some(format!("agent-{hash}").as_str()));
        assert_eq!(first.metadata.labels.as_ref().unwrap()["app"], "agent");
        assert!(matches(&d, &first));
        let first = Arc::new(*first);
        assert!(matches!(construct_history(&d, std::slice::from_ref(&first)).current, Current::Keep(_)));

        // A new template: revision 2; rolling back to the first: it becomes 3.
        let v1 = d.template.clone();
        d.template.spec.as_mut().unwrap().containers[0].image = Some("agent:2".into());
        let Current::Create(second) = construct_history(&d, std::slice::from_ref(&first)).current else { panic!() };
        assert_eq!(second.revision, 2);
        assert_ne!(hash_of(&second), hash);
        let second = Arc::new(*second);
        d.template = v1;
        let plan = construct_history(&d, &[first.clone(), second.clone()]);
        assert_eq!(plan.current, Current::Renumber(first.clone(), 3));
        assert_eq!(plan.old.len(), 1);

        // Cleanup: limit 0 deletes old revisions no pod runs.
        d.revision_history_limit = 0;
        assert_eq!(cleanup_history(&d, std::slice::from_ref(&second), &[]), vec![second.metadata.name.clone().unwrap()]);
        let live = arcs(vec![dpod("a", "n1", &hash_of(&second), 0)]);
        assert!(cleanup_history(&d, std::slice::from_ref(&second), &live).is_empty());
        d.revision_history_limit = 10;
        assert!(cleanup_history(&d, &[second], &[]).is_empty());
    }
}
