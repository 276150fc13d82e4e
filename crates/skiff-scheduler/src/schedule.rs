//! One scheduling cycle (upstream `schedulePod`): PreFilter, a filter pass over the nodes
//! starting where the previous cycle stopped and ending once enough feasible nodes are
//! found, scoring, and a random pick among the best. When no node fits, a [`FitError`]
//! explains why in upstream's words.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::Ordering;

use k8s_openapi::api::core::v1::Pod;
use rand::Rng;

use crate::framework::{names, Code};
use crate::plugins::{self, node_affinity, CycleState};
use crate::snapshot::Snapshot;

/// Nodes checked at least, whatever the percentage (upstream `minFeasibleNodesToFind`).
const MIN_FEASIBLE_NODES_TO_FIND: usize = 100;
/// The adaptive percentage never drops below this (`minFeasibleNodesPercentageToFind`).
const MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND: i64 = 5;

const NO_VICTIMS: &str = "No preemption victims found for incoming pod";
const PREEMPTION_NOT_HELPFUL: &str = "Preemption is not helpful for scheduling";

/// Why no node fits: counts of reasons, and the node count, formatted exactly as
/// upstream's `FitError.Error()` in v1.33, including the text its default preemption adds
/// when it finds nothing to do (skiff has no preemption; it reports what upstream reports
/// when no lower-priority pod could be evicted).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.message())]
pub struct FitError {
    pub num_all_nodes: usize,
    /// reason -> number of nodes that gave it.
    pub reasons: BTreeMap<String, usize>,
    /// Set when a PreFilter rejected the pod outright (then `reasons` is empty).
    pub pre_filter_msg: Option<String>,
    /// The preemption plugin's message ("preemption: ..."), appended after the reasons.
    pub post_filter_msg: String,
    /// Plugins that rejected at least one node: the scheduling queue retries the pod on
    /// events those plugins care about.
    pub unschedulable_plugins: BTreeSet<String>,
}

/// upstream `sortReasonsHistogram`: "count reason" strings, sorted as strings.
fn histogram(reasons: &BTreeMap<String, usize>) -> String {
    let mut items: Vec<String> = reasons.iter().map(|(r, n)| format!("{n} {r}")).collect();
    items.sort();
    items.join(", ")
}

impl FitError {
    /// The message upstream's scheduler puts in the FailedScheduling event and the
    /// PodScheduled condition.
    pub fn message(&self) -> String {
        if self.num_all_nodes == 0 {
            return "no nodes available to schedule pods".to_string();
        }
        let mut msg = format!("0/{} nodes are available:", self.num_all_nodes);
        match &self.pre_filter_msg {
            Some(pre) => msg.push_str(&format!(" {pre}.")),
            None if !self.reasons.is_empty() => {
                msg.push_str(&format!(" {}.", histogram(&self.reasons)))
            }
            None => {}
        }
        if !self.post_filter_msg.is_empty() {
            msg.push(' ');
            msg.push_str(&self.post_filter_msg);
        }
        msg
    }

    fn no_nodes() -> FitError {
        FitError {
            num_all_nodes: 0,
            reasons: BTreeMap::new(),
            pre_filter_msg: None,
            post_filter_msg: String::new(),
            unschedulable_plugins: BTreeSet::new(),
        }
    }
}

/// What upstream's DefaultPreemption says when it cannot help: nodes whose rejection
/// preemption could resolve found no victims; the others are not helped by it.
fn preemption_message(
    num_all_nodes: usize,
    resolvable_nodes: usize,
    preemption_never: bool,
) -> String {
    if preemption_never {
        return "preemption: not eligible due to preemptionPolicy=Never.".to_string();
    }
    let mut h = BTreeMap::new();
    if resolvable_nodes > 0 {
        h.insert(NO_VICTIMS.to_string(), resolvable_nodes);
    }
    if num_all_nodes > resolvable_nodes {
        h.insert(
            PREEMPTION_NOT_HELPFUL.to_string(),
            num_all_nodes - resolvable_nodes,
        );
    }
    format!(
        "preemption: 0/{num_all_nodes} nodes are available: {}.",
        histogram(&h)
    )
}

/// upstream `numFeasibleNodesToFind` with the default adaptive percentageOfNodesToScore:
/// all nodes below 100, else max(5, 50 - n/125) percent, at least 100.
pub fn num_feasible_nodes_to_find(num_all_nodes: usize) -> usize {
    if num_all_nodes < MIN_FEASIBLE_NODES_TO_FIND {
        return num_all_nodes;
    }
    let n = num_all_nodes as i64;
    let percentage = (50 - n / 125).max(MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND);
    ((n * percentage / 100) as usize).max(MIN_FEASIBLE_NODES_TO_FIND)
}

/// Whether a pod is this scheduler's to place: no nodeName, schedulerName empty or
/// "default-scheduler", not terminating, not terminal. Pods with scheduling gates wait
/// (upstream's SchedulingGates plugin keeps them out of the active queue).
pub fn wants_scheduling(pod: &Pod) -> bool {
    let Some(spec) = pod.spec.as_ref() else {
        return false;
    };
    let unassigned = spec.node_name.as_deref().unwrap_or_default().is_empty();
    let ours = matches!(
        spec.scheduler_name.as_deref(),
        None | Some("") | Some("default-scheduler")
    );
    let gated = spec
        .scheduling_gates
        .as_ref()
        .is_some_and(|g| !g.is_empty());
    let terminating = pod.metadata.deletion_timestamp.is_some();
    let terminal = matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    );
    unassigned && ours && !gated && !terminating && !terminal
}

/// Picks a node for `pod` (filters, then scores with upstream's default weights, ties
/// broken at random by `rng`).
pub fn schedule_one(
    pod: &Pod,
    snapshot: &Snapshot,
    rng: &mut impl Rng,
) -> Result<String, FitError> {
    let num_all_nodes = snapshot.node_count();
    if num_all_nodes == 0 {
        return Err(FitError::no_nodes());
    }
    let info = snapshot.parsed(pod);
    let ns_labels = snapshot.namespace_labels(&info.namespace);

    // PreFilter, in upstream's plugin order.
    let reject_all = |plugin: &str, msg: String| FitError {
        num_all_nodes,
        reasons: BTreeMap::new(),
        pre_filter_msg: Some(msg),
        post_filter_msg: preemption_message(num_all_nodes, 0, info.preemption_never),
        unschedulable_plugins: [plugin.to_string()].into(),
    };
    let allowed = match node_affinity::pre_filter(&info) {
        node_affinity::PreFilter::AllNodes => None,
        node_affinity::PreFilter::Nodes(n) => Some(n),
        node_affinity::PreFilter::Conflict => {
            return Err(reject_all(
                names::NODE_AFFINITY,
                node_affinity::ERR_REASON_CONFLICT.to_string(),
            ))
        }
    };
    snapshot.volumes.pre_filter(&info.namespace, &info.claims).map_err(|e| reject_all(names::VOLUME_BINDING, e))?;
    let spread = plugins::pod_topology_spread::pre_filter(snapshot, &info)
        .map_err(|e| reject_all(names::POD_TOPOLOGY_SPREAD, e))?;
    let inter_pod = plugins::inter_pod_affinity::pre_filter(snapshot, &info, ns_labels)
        .map_err(|e| reject_all(names::INTER_POD_AFFINITY, e))?;
    let cs = CycleState {
        snapshot,
        pod: &info,
        namespace_labels: ns_labels,
        spread,
        inter_pod,
    };

    // The nodes to search: all, or those node affinity's PreFilter named.
    let restricted: Vec<u32>;
    let nodes: &[u32] = match &allowed {
        None => &snapshot.order,
        Some(names) => {
            restricted = snapshot
                .order
                .iter()
                .copied()
                .filter(|&s| names.contains(&snapshot.node(s).name))
                .collect();
            &restricted
        }
    };

    // Filter, from where the last search stopped, until enough nodes fit.
    let to_find = num_feasible_nodes_to_find(nodes.len());
    let start = snapshot.next_start.load(Ordering::Relaxed);
    let mut feasible: Vec<u32> = Vec::with_capacity(to_find.min(nodes.len()));
    let mut reasons: HashMap<Cow<'static, str>, usize> = HashMap::new();
    let mut rejected = 0usize;
    let mut resolvable = 0usize;
    let mut plugins_seen: BTreeSet<&'static str> = BTreeSet::new();
    for i in 0..nodes.len() {
        if feasible.len() >= to_find {
            break;
        }
        let slot = nodes[(start + i) % nodes.len()];
        match plugins::run_filters(&cs, snapshot.node(slot)) {
            None => feasible.push(slot),
            Some(status) => {
                rejected += 1;
                if status.code == Code::Unschedulable {
                    resolvable += 1;
                }
                plugins_seen.insert(status.plugin);
                for r in status.reasons {
                    *reasons.entry(r).or_insert(0) += 1;
                }
            }
        }
    }
    if !nodes.is_empty() {
        let processed = feasible.len() + rejected;
        snapshot
            .next_start
            .store((start + processed) % num_all_nodes, Ordering::Relaxed);
    }

    if feasible.is_empty() {
        let mut reasons: BTreeMap<String, usize> = reasons
            .into_iter()
            .map(|(r, n)| (r.into_owned(), n))
            .collect();
        let absent = num_all_nodes - nodes.len();
        if absent > 0 {
            reasons.insert(
                format!(
                    "node(s) didn't satisfy plugin(s) [{}]",
                    names::NODE_AFFINITY
                ),
                absent,
            );
            plugins_seen.insert(names::NODE_AFFINITY);
        }
        return Err(FitError {
            num_all_nodes,
            reasons,
            pre_filter_msg: None,
            post_filter_msg: preemption_message(num_all_nodes, resolvable, info.preemption_never),
            unschedulable_plugins: plugins_seen.into_iter().map(str::to_string).collect(),
        });
    }
    if feasible.len() == 1 {
        return Ok(snapshot.node(feasible[0]).name.clone());
    }

    let totals = plugins::score_nodes(&cs, &feasible);
    Ok(snapshot
        .node(feasible[select_host(&totals, rng)])
        .name
        .clone())
}

/// The index of a highest score, uniformly at random among ties (upstream `selectHost`'s
/// reservoir sampling), so equal nodes share the replicas.
fn select_host(totals: &[i64], rng: &mut impl Rng) -> usize {
    let mut best = 0;
    let mut ties = 0u32;
    for (i, &score) in totals.iter().enumerate() {
        if i == 0 || score > totals[best] {
            best = i;
            ties = 1;
        } else if score == totals[best] {
            ties += 1;
            if rng.random_range(0..ties) == 0 {
                best = i;
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn num_feasible_nodes_matches_upstream() {
        assert_eq!(num_feasible_nodes_to_find(10), 10);
        assert_eq!(num_feasible_nodes_to_find(99), 99);
        assert_eq!(num_feasible_nodes_to_find(100), 100);
        assert_eq!(num_feasible_nodes_to_find(200), 100);
        assert_eq!(num_feasible_nodes_to_find(1000), 420);
        assert_eq!(num_feasible_nodes_to_find(5000), 500);
        assert_eq!(num_feasible_nodes_to_find(6000), 300);
    }

    #[test]
    fn fit_error_histogram_sorts_as_strings() {
        let e = FitError {
            num_all_nodes: 12,
            reasons: [
                ("Insufficient cpu".to_string(), 10),
                ("node(s) were unschedulable".to_string(), 2),
            ]
            .into(),
            pre_filter_msg: None,
            post_filter_msg: preemption_message(12, 10, false),
            unschedulable_plugins: BTreeSet::new(),
        };
        assert_eq!(
            e.to_string(),
            "0/12 nodes are available: 10 Insufficient cpu, 2 node(s) were unschedulable. preemption: 0/12 nodes are available: \
             10 No preemption victims found for incoming pod, 2 Preemption is not helpful for scheduling."
        );
        assert_eq!(
            FitError::no_nodes().to_string(),
            "no nodes available to schedule pods"
        );
    }

    #[test]
    fn select_host_is_uniform_among_ties() {
        let mut rng = StdRng::seed_from_u64(7);
        let mut hits = [0; 4];
        for _ in 0..4000 {
            hits[select_host(&[5, 9, 9, 9], &mut rng)] += 1;
        }
        assert_eq!(hits[0], 0);
        for h in &hits[1..] {
            assert!((1150..1550).contains(h), "{hits:?}");
        }
        assert_eq!(select_host(&[1, 3, 2], &mut rng), 1);
    }
}
