//! The filter and score plugins of upstream's default profile, one file each, named as
//! upstream names their directories. Filters run in upstream's order and stop at the
//! first rejection (so a node reports one plugin's reasons, as upstream does); scores are
//! normalised per plugin and weighted with upstream's default weights.

pub mod balanced_allocation;
pub mod inter_pod_affinity;
pub mod node_affinity;
pub mod node_name;
pub mod node_ports;
pub mod node_resources_fit;
pub mod node_unschedulable;
pub mod pod_topology_spread;
pub mod taint_toleration;
pub mod volume_binding;

use crate::framework::{weights, Labels, NodeInfo, PodInfo, Status, MAX_NODE_SCORE};
use crate::snapshot::Snapshot;

/// What PreFilter computed once for this scheduling cycle, read by every Filter call.
pub(crate) struct CycleState<'a> {
    pub snapshot: &'a Snapshot,
    pub pod: &'a PodInfo,
    /// Labels of the pod's namespace (for namespace selectors of existing pods' terms).
    pub namespace_labels: &'a Labels,
    pub spread: Option<pod_topology_spread::PreFilterState<'a>>,
    pub inter_pod: Option<inter_pod_affinity::PreFilterState<'a>>,
}

/// Runs the filters in upstream's order; `None` means the node fits.
pub(crate) fn run_filters(cs: &CycleState<'_>, node: &NodeInfo) -> Option<Status> {
    let pod = cs.pod;
    if let Some(s) = node_unschedulable::filter(pod, node) {
        return Some(s);
    }
    if let Some(s) = node_name::filter(pod, node) {
        return Some(s);
    }
    if let Some(s) = taint_toleration::filter(pod, node) {
        return Some(s);
    }
    if let Some(s) = node_affinity::filter(pod, node) {
        return Some(s);
    }
    if let Some(s) = node_ports::filter(pod, node) {
        return Some(s);
    }
    if let Some(s) = node_resources_fit::filter(pod, node) {
        return Some(s);
    }
    if !pod.claims.is_empty() {
        if let Some(s) = cs.snapshot.volumes.filter(&pod.namespace, &pod.claims, node) {
            return Some(s);
        }
    }
    if let Some(state) = &cs.spread {
        if let Some(s) = pod_topology_spread::filter(state, pod, node) {
            return Some(s);
        }
    }
    if let Some(state) = &cs.inter_pod {
        if let Some(s) = inter_pod_affinity::filter(state, node) {
            return Some(s);
        }
    }
    None
}

/// Scores the feasible nodes (snapshot slots) with every score plugin and returns the
/// weighted totals, in the same order.
pub(crate) fn score_nodes(cs: &CycleState<'_>, feasible: &[u32]) -> Vec<i64> {
    let mut total = vec![0i64; feasible.len()];
    let mut add = |weight: i64, scores: Option<Vec<i64>>| {
        if let Some(scores) = scores {
            for (t, s) in total.iter_mut().zip(scores) {
                *t += weight * s;
            }
        }
    };
    add(
        weights::TAINT_TOLERATION,
        Some(taint_toleration::score(cs, feasible)),
    );
    add(weights::NODE_AFFINITY, node_affinity::score(cs, feasible));
    add(
        weights::POD_TOPOLOGY_SPREAD,
        pod_topology_spread::score(cs, feasible),
    );
    add(
        weights::INTER_POD_AFFINITY,
        inter_pod_affinity::score(cs, feasible),
    );
    add(
        weights::NODE_RESOURCES_FIT,
        Some(node_resources_fit::score(cs, feasible)),
    );
    add(
        weights::BALANCED_ALLOCATION,
        balanced_allocation::score(cs, feasible),
    );
    total
}

/// upstream `helper.DefaultNormalizeScore`: scales to 0..=100 by the maximum, reversed
/// for plugins where a higher raw value is worse.
pub(crate) fn default_normalize(scores: &mut [i64], reverse: bool) {
    let max = scores.iter().copied().max().unwrap_or(0).max(0);
    if max == 0 {
        if reverse {
            scores.iter_mut().for_each(|s| *s = MAX_NODE_SCORE);
        }
        return;
    }
    for s in scores.iter_mut() {
        let v = MAX_NODE_SCORE * *s / max;
        *s = if reverse { MAX_NODE_SCORE - v } else { v };
    }
}

#[cfg(test)]
pub(crate) mod testutil {
    //! Builders for hand-made nodes and pods.
    use std::sync::Arc;

    use k8s_openapi::api::core::v1::{Node, Pod};
    use serde_json::{json, Value};

    use crate::framework::PodInfo;
    use crate::snapshot::Snapshot;

    use super::CycleState;

    /// A ready node with the given allocatable CPU and memory, 110 pods, and labels.
    pub fn node(name: &str, cpu: &str, mem: &str, labels: Value) -> Arc<Node> {
        node_with(name, cpu, mem, labels, json!({}))
    }

    pub fn node_with(name: &str, cpu: &str, mem: &str, labels: Value, spec: Value) -> Arc<Node> {
        let mut l = json!({"kubernetes.io/hostname": name});
        if let (Some(dst), Some(src)) = (l.as_object_mut(), labels.as_object()) {
            for (k, v) in src {
                dst.insert(k.clone(), v.clone());
            }
        }
        Arc::new(
            serde_json::from_value(json!({
                "metadata": {"name": name, "labels": l},
                "spec": spec,
                "status": {"allocatable": {"cpu": cpu, "memory": mem, "pods": "110", "ephemeral-storage": "100Gi"},
                           "conditions": [{"type": "Ready", "status": "True"}]}
            }))
            .expect("node json"),
        )
    }

    /// Nodes a1 and a2 in zone a, b1 in zone b, and nozone without a zone label.
    pub fn zoned_cluster() -> Snapshot {
        let mut s = Snapshot::new();
        s.upsert_node(node(
            "a1",
            "8",
            "16Gi",
            json!({"topology.kubernetes.io/zone": "a"}),
        ));
        s.upsert_node(node(
            "a2",
            "8",
            "16Gi",
            json!({"topology.kubernetes.io/zone": "a"}),
        ));
        s.upsert_node(node(
            "b1",
            "8",
            "16Gi",
            json!({"topology.kubernetes.io/zone": "b"}),
        ));
        s.upsert_node(node("nozone", "8", "16Gi", json!({})));
        s
    }

    /// A pod in `default` with one container requesting `cpu`/`mem` ("" for none), and
    /// `spec` merged into its spec.
    pub fn pod(name: &str, labels: Value, cpu: &str, mem: &str, spec: Value) -> Pod {
        let mut requests = serde_json::Map::new();
        if !cpu.is_empty() {
            requests.insert("cpu".into(), json!(cpu));
        }
        if !mem.is_empty() {
            requests.insert("memory".into(), json!(mem));
        }
        let mut s = json!({"containers": [{"name": "c", "image": "i", "resources": {"requests": requests}}]});
        if let (Some(dst), Some(src)) = (s.as_object_mut(), spec.as_object()) {
            for (k, v) in src {
                dst.insert(k.clone(), v.clone());
            }
        }
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}"), "labels": labels},
            "spec": s
        }))
        .expect("pod json")
    }

    /// A pod with a 1-CPU app container, a 1-CPU sidecar and a 2.5-CPU init container,
    /// the sidecar first (peak 3.5 CPU) or after the init container (peak 2.5).
    pub fn sidecar_and_init_pod(sidecar_first: bool) -> Pod {
        let sidecar = json!({"name": "s", "restartPolicy": "Always", "resources": {"requests": {"cpu": "1"}}});
        let init = json!({"name": "i", "resources": {"requests": {"cpu": "2500m"}}});
        let inits = if sidecar_first { [sidecar, init] } else { [init, sidecar] };
        pod("p", json!({}), "1", "", json!({"initContainers": inits}))
    }

    /// The same pod bound to `node`.
    pub fn bound(mut p: Pod, node: &str) -> Arc<Pod> {
        if let Some(spec) = p.spec.as_mut() {
            spec.node_name = Some(node.to_string());
        }
        Arc::new(p)
    }

    /// Runs `f` with a cycle state for `pod` (PreFilter done).
    pub fn with_cycle<R>(snap: &Snapshot, pod: &Pod, f: impl FnOnce(&CycleState<'_>) -> R) -> R {
        let info = PodInfo::parse(pod);
        let ns_labels = snap.namespace_labels(&info.namespace);
        let spread = super::pod_topology_spread::pre_filter(snap, &info).expect("spread prefilter");
        let inter_pod =
            super::inter_pod_affinity::pre_filter(snap, &info, ns_labels).expect("ipa prefilter");
        let cs = CycleState {
            snapshot: snap,
            pod: &info,
            namespace_labels: ns_labels,
            spread,
            inter_pod,
        };
        f(&cs)
    }

    /// Slots of the named nodes, for score calls.
    pub fn slots(snap: &Snapshot, names: &[&str]) -> Vec<u32> {
        names
            .iter()
            .map(|n| {
                snap.order
                    .iter()
                    .copied()
                    .find(|&s| snap.node(s).name == *n)
                    .expect("node in snapshot")
            })
            .collect()
    }

    /// The first filter rejection of `pod` on node `name`, as "plugin: reasons".
    pub fn filter_result(snap: &Snapshot, pod: &Pod, name: &str) -> Option<String> {
        let slot = slots(snap, &[name])[0];
        with_cycle(snap, pod, |cs| {
            super::run_filters(cs, snap.node(slot)).map(|s| {
                let reasons: Vec<&str> = s.reasons.iter().map(|r| r.as_ref()).collect();
                format!("{}: {}", s.plugin, reasons.join(", "))
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_default_and_reverse() {
        let mut s = vec![0, 5, 10];
        default_normalize(&mut s, false);
        assert_eq!(s, [0, 50, 100]);
        let mut s = vec![0, 5, 10];
        default_normalize(&mut s, true);
        assert_eq!(s, [100, 50, 0]);
        let mut s = vec![0, 0];
        default_normalize(&mut s, true);
        assert_eq!(s, [100, 100]);
        let mut s = vec![0, 0];
        default_normalize(&mut s, false);
        assert_eq!(s, [0, 0]);
    }
}
