//! NodeResourcesFit: the pod's requests must fit the node's allocatable resources minus
//! what its pods already request, and the node must have room for one more pod (filter).
//! Scoring uses the default LeastAllocated strategy over CPU and memory (weight 1 each),
//! counting request-less containers as 100m / 200Mi so empty-request pods still spread.

use std::borrow::Cow;

use super::CycleState;
use crate::framework::{names, Code, NodeInfo, PodInfo, Status, MAX_NODE_SCORE};

pub const ERR_TOO_MANY_PODS: &str = "Too many pods";
pub const ERR_INSUFFICIENT_CPU: &str = "Insufficient cpu";
pub const ERR_INSUFFICIENT_MEMORY: &str = "Insufficient memory";
pub const ERR_INSUFFICIENT_EPHEMERAL: &str = "Insufficient ephemeral-storage";

/// Every insufficient resource is reported (each counts in the FitError histogram). In
/// v1.33 all of them are `Unschedulable`: preemption might free the room.
pub fn filter(pod: &PodInfo, node: &NodeInfo) -> Option<Status> {
    let mut reasons: Vec<Cow<'static, str>> = Vec::new();
    if node.pod_count + 1 > node.allowed_pod_number {
        reasons.push(ERR_TOO_MANY_PODS.into());
    }
    let req = &pod.requests;
    if !req.is_zero() {
        let alloc = &node.allocatable;
        let used = &node.requested;
        if req.milli_cpu > 0 && req.milli_cpu > alloc.milli_cpu - used.milli_cpu {
            reasons.push(ERR_INSUFFICIENT_CPU.into());
        }
        if req.memory > 0 && req.memory > alloc.memory - used.memory {
            reasons.push(ERR_INSUFFICIENT_MEMORY.into());
        }
        if req.ephemeral_storage > 0
            && req.ephemeral_storage > alloc.ephemeral_storage - used.ephemeral_storage
        {
            reasons.push(ERR_INSUFFICIENT_EPHEMERAL.into());
        }
        for (name, want) in &req.scalars {
            if *want > 0 && *want > alloc.scalar(name) - used.scalar(name) {
                reasons.push(Cow::Owned(format!("Insufficient {name}")));
            }
        }
    }
    if reasons.is_empty() {
        None
    } else {
        Some(Status {
            code: Code::Unschedulable,
            plugin: names::NODE_RESOURCES_FIT,
            reasons,
        })
    }
}

/// upstream `leastRequestedScore`: the free share of a resource, 0..=100.
pub fn least_requested_score(requested: i64, capacity: i64) -> i64 {
    if capacity == 0 || requested > capacity {
        return 0;
    }
    (capacity - requested) * MAX_NODE_SCORE / capacity
}

/// LeastAllocated: the average free share of CPU and memory after placing the pod.
pub(crate) fn score(cs: &CycleState<'_>, feasible: &[u32]) -> Vec<i64> {
    let pod = cs.pod;
    feasible
        .iter()
        .map(|&slot| {
            let node = cs.snapshot.node(slot);
            let mut sum = 0;
            let mut weights = 0;
            for (alloc, req) in [
                (
                    node.allocatable.milli_cpu,
                    node.non_zero_milli_cpu + pod.non_zero_milli_cpu,
                ),
                (
                    node.allocatable.memory,
                    node.non_zero_memory + pod.non_zero_memory,
                ),
            ] {
                // A resource the node does not report is left out of the average.
                if alloc == 0 {
                    continue;
                }
                sum += least_requested_score(req, alloc);
                weights += 1;
            }
            if weights == 0 {
                0
            } else {
                sum / weights
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;
    use crate::plugins::testutil::{
        bound, filter_result, node, pod, sidecar_and_init_pod, slots, with_cycle,
    };
    use crate::snapshot::Snapshot;

    #[test]
    fn fit_filter_reports_every_insufficient_resource() {
        let mut s = Snapshot::new();
        s.upsert_node(node("n1", "2", "4Gi", json!({})));
        s.upsert_pod(bound(
            pod("old", json!({}), "1500m", "3Gi", json!({})),
            "n1",
        ));
        assert_eq!(
            filter_result(&s, &pod("p", json!({}), "500m", "1Gi", json!({})), "n1"),
            None
        );
        assert_eq!(
            filter_result(&s, &pod("p", json!({}), "501m", "1Gi", json!({})), "n1").as_deref(),
            Some("NodeResourcesFit: Insufficient cpu")
        );
        assert_eq!(
            filter_result(&s, &pod("p", json!({}), "1", "2Gi", json!({})), "n1").as_deref(),
            Some("NodeResourcesFit: Insufficient cpu, Insufficient memory")
        );
        // A pod without requests fits even an overcommitted node.
        s.upsert_pod(bound(pod("big", json!({}), "4", "", json!({})), "n1"));
        assert_eq!(
            filter_result(&s, &pod("p", json!({}), "", "", json!({})), "n1"),
            None
        );
    }

    #[test]
    fn fit_filter_pods_ephemeral_and_extended() {
        let mut s = Snapshot::new();
        let mut n: k8s_openapi::api::core::v1::Node = (*node("n1", "4", "8Gi", json!({}))).clone();
        if let Some(st) = n.status.as_mut() {
            st.allocatable =
                serde_json::from_value(json!({"cpu": "4", "memory": "8Gi", "pods": "1",
                "ephemeral-storage": "1Gi", "example.com/gpu": "1"}))
                .expect("json");
        }
        s.upsert_node(Arc::new(n));
        let gpu2 = pod(
            "p",
            json!({}),
            "",
            "",
            json!({"containers": [{"name": "c", "resources": {"requests": {
            "example.com/gpu": "2", "ephemeral-storage": "2Gi"}}}]}),
        );
        assert_eq!(
            filter_result(&s, &gpu2, "n1").as_deref(),
            Some("NodeResourcesFit: Insufficient ephemeral-storage, Insufficient example.com/gpu")
        );
        let fpga = pod(
            "p",
            json!({}),
            "",
            "",
            json!({"containers": [{"name": "c", "resources": {"requests": {"example.com/fpga": "1"}}}]}),
        );
        assert_eq!(
            filter_result(&s, &fpga, "n1").as_deref(),
            Some("NodeResourcesFit: Insufficient example.com/fpga")
        );
        s.upsert_pod(bound(pod("old", json!({}), "", "", json!({})), "n1"));
        assert_eq!(
            filter_result(&s, &pod("p", json!({}), "", "", json!({})), "n1").as_deref(),
            Some("NodeResourcesFit: Too many pods")
        );
    }

    #[test]
    fn fit_filter_counts_init_and_sidecar_arithmetic() {
        let mut s = Snapshot::new();
        s.upsert_node(node("n1", "3", "8Gi", json!({})));
        // App 1 CPU + sidecar 1 CPU = 2; init 2.5 CPU after the sidecar: 3.5 > 3.
        let p = sidecar_and_init_pod(true);
        assert_eq!(
            filter_result(&s, &p, "n1").as_deref(),
            Some("NodeResourcesFit: Insufficient cpu")
        );
        // The same init container before the sidecar peaks at 2.5 and fits.
        let p = sidecar_and_init_pod(false);
        assert_eq!(filter_result(&s, &p, "n1"), None);
    }

    #[test]
    fn fit_score_least_allocated() {
        let mut s = Snapshot::new();
        s.upsert_node(node("empty", "4", "8Gi", json!({})));
        s.upsert_node(node("busy", "4", "8Gi", json!({})));
        s.upsert_pod(bound(pod("old", json!({}), "2", "4Gi", json!({})), "busy"));
        let p = pod("p", json!({}), "1", "2Gi", json!({}));
        let nodes = slots(&s, &["empty", "busy"]);
        // empty: cpu (4-1)/4 = 75, mem 75 -> 75; busy: cpu (4-3)/4 = 25, mem 25 -> 25.
        assert_eq!(with_cycle(&s, &p, |cs| score(cs, &nodes)), [75, 25]);
        // Request-less pods count 100m / 200Mi.
        let none = pod("p", json!({}), "", "", json!({}));
        let got = with_cycle(&s, &none, |cs| score(cs, &nodes));
        // cpu (4000-100)*100/4000 = 97; mem (8Gi-200Mi)*100/8Gi = 97 -> 97.
        assert_eq!(got[0], 97);
    }
}
