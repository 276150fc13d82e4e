//! Pod requests and node allocatable, computed as upstream does
//! (component-helpers `resource.PodRequests`, scheduler `framework.Resource`).
//!
//! A pod's request is, per resource, the larger of
//! * the sum of its app containers plus its sidecars (init containers with
//!   `restartPolicy: Always`, which keep running), and
//! * the largest init container, each counted together with the sidecars started before it,
//!
//! plus the pod overhead. Quantities are summed exactly (in nano-units) and only then
//! rounded up to milli-CPU and whole bytes, as upstream sums `resource.Quantity` values.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1 as core;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as K8sQuantity;
use skiff_api::quantity::Quantity;

use crate::framework::{is_sidecar, Resources};

pub const CPU: &str = "cpu";
pub const MEMORY: &str = "memory";
pub const EPHEMERAL_STORAGE: &str = "ephemeral-storage";
pub const PODS: &str = "pods";

/// What the scorers assume a container without a CPU request uses (upstream
/// `DefaultMilliCPURequest`), so that request-less pods do not all pile onto one node.
pub const DEFAULT_MILLI_CPU_REQUEST: i64 = 100;
/// The memory counterpart (`DefaultMemoryRequest`, 200Mi).
pub const DEFAULT_MEMORY_REQUEST: i64 = 200 * 1024 * 1024;

const NANOS_PER_MILLI: i128 = 1_000_000;
const NANOS_PER_UNIT: i128 = 1_000_000_000;

/// A resource list held exactly, in nano-units.
type NanoList = BTreeMap<String, i128>;

fn parse_nanos(q: &K8sQuantity) -> i128 {
    // The API server rejects malformed quantities; one that slips through counts 0.
    Quantity::parse(q.0.trim())
        .map(|q| q.nano_value())
        .unwrap_or(0)
}

fn parse_list(list: Option<&BTreeMap<String, K8sQuantity>>) -> NanoList {
    list.into_iter()
        .flatten()
        .map(|(k, q)| (k.clone(), parse_nanos(q)))
        .collect()
}

fn add_into(dst: &mut NanoList, src: &NanoList) {
    for (k, v) in src {
        *dst.entry(k.clone()).or_insert(0) += v;
    }
}

fn max_into(dst: &mut NanoList, src: &NanoList) {
    for (k, v) in src {
        let e = dst.entry(k.clone()).or_insert(*v);
        if *v > *e {
            *e = *v;
        }
    }
}

fn ceil_div(a: i128, b: i128) -> i64 {
    let q = a / b + i128::from(a % b > 0);
    q.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// Resources the scheduler accounts as scalars: extended resources (a domain-prefixed
/// name outside kubernetes.io), prefixed native resources, hugepages and attachable
/// volumes (upstream `IsScalarResourceName`).
pub fn is_scalar_resource_name(name: &str) -> bool {
    name.starts_with("hugepages-")
        || name.starts_with("attachable-volumes-")
        || (name.contains('/') && !name.starts_with("requests."))
}

/// Converts an exact list into the scheduler's integer units (upstream `Resource.Add`):
/// milli-CPU, and whole units rounded up for everything else.
fn to_resources(list: &NanoList) -> Resources {
    let mut r = Resources::default();
    for (name, &nanos) in list {
        match name.as_str() {
            CPU => r.milli_cpu = ceil_div(nanos, NANOS_PER_MILLI),
            MEMORY => r.memory = ceil_div(nanos, NANOS_PER_UNIT),
            EPHEMERAL_STORAGE => r.ephemeral_storage = ceil_div(nanos, NANOS_PER_UNIT),
            n if is_scalar_resource_name(n) => r.add_scalar(n, ceil_div(nanos, NANOS_PER_UNIT)),
            _ => {}
        }
    }
    r
}

/// A resize the kubelet marked infeasible: only what the node actually granted counts.
fn resize_infeasible(pod: &core::Pod) -> bool {
    let Some(status) = pod.status.as_ref() else {
        return false;
    };
    status.resize.as_deref() == Some("Infeasible")
        || status
            .conditions
            .iter()
            .flatten()
            .any(|c| c.type_ == "PodResizePending" && c.reason.as_deref() == Some("Infeasible"))
}

/// A container's effective requests. For a running container whose status reports
/// resources (in-place resize), upstream takes the larger of spec, actual and allocated.
fn container_requests(
    c: &core::Container,
    status: Option<&core::ContainerStatus>,
    infeasible: bool,
) -> NanoList {
    let spec = parse_list(c.resources.as_ref().and_then(|r| r.requests.as_ref()));
    let Some(cs) = status.filter(|cs| cs.resources.is_some()) else {
        return spec;
    };
    let actual = parse_list(cs.resources.as_ref().and_then(|r| r.requests.as_ref()));
    let allocated = parse_list(cs.allocated_resources.as_ref());
    let mut out = if infeasible { NanoList::new() } else { spec };
    max_into(&mut out, &actual);
    max_into(&mut out, &allocated);
    out
}

/// Adds the scorer defaults for containers that request no CPU or memory at all (an
/// explicit zero stays zero, as upstream's `NonMissingContainerRequests`).
fn with_defaults(mut reqs: NanoList) -> NanoList {
    reqs.entry(CPU.to_string())
        .or_insert(i128::from(DEFAULT_MILLI_CPU_REQUEST) * NANOS_PER_MILLI);
    reqs.entry(MEMORY.to_string())
        .or_insert(i128::from(DEFAULT_MEMORY_REQUEST) * NANOS_PER_UNIT);
    reqs
}

/// upstream `resource.PodRequests` (container-level; pod-level resources are an alpha
/// feature in v1.33 and are not read). `non_missing` applies the scorer defaults.
fn pod_request_list(pod: &core::Pod, non_missing: bool) -> NanoList {
    let Some(spec) = pod.spec.as_ref() else {
        return NanoList::new();
    };
    let infeasible = resize_infeasible(pod);
    let status = pod.status.as_ref();
    let find_status = |name: &str| {
        status.and_then(|s| {
            s.container_statuses
                .iter()
                .flatten()
                .chain(s.init_container_statuses.iter().flatten())
                .find(|cs| cs.name == name)
        })
    };
    let prepare = |reqs: NanoList| {
        if non_missing {
            with_defaults(reqs)
        } else {
            reqs
        }
    };

    let mut result = NanoList::new();
    for c in &spec.containers {
        add_into(
            &mut result,
            &prepare(container_requests(c, find_status(&c.name), infeasible)),
        );
    }
    let mut sidecars = NanoList::new();
    let mut init_peak = NanoList::new();
    for c in spec.init_containers.iter().flatten() {
        if is_sidecar(c) {
            // A sidecar keeps running: it adds to the pod's steady state, and every later
            // init container runs alongside all sidecars started so far.
            let reqs = prepare(container_requests(c, find_status(&c.name), infeasible));
            add_into(&mut result, &reqs);
            add_into(&mut sidecars, &reqs);
            max_into(&mut init_peak, &sidecars);
        } else {
            let mut reqs = prepare(parse_list(
                c.resources.as_ref().and_then(|r| r.requests.as_ref()),
            ));
            add_into(&mut reqs, &sidecars);
            max_into(&mut init_peak, &reqs);
        }
    }
    max_into(&mut result, &init_peak);
    if let Some(overhead) = spec.overhead.as_ref() {
        add_into(&mut result, &parse_list(Some(overhead)));
    }
    result
}

/// A pod's requests as the scheduler accounts them: the filter's requests (missing
/// requests count 0), and the CPU and memory the LeastAllocated scorer assumes (missing
/// requests count 100m / 200Mi per container).
pub fn pod_requests_for_scheduling(pod: &core::Pod) -> (Resources, i64, i64) {
    let requests = to_resources(&pod_request_list(pod, false));
    let non_zero = pod_request_list(pod, true);
    let cpu = non_zero
        .get(CPU)
        .map_or(0, |&n| ceil_div(n, NANOS_PER_MILLI));
    let mem = non_zero
        .get(MEMORY)
        .map_or(0, |&n| ceil_div(n, NANOS_PER_UNIT));
    (requests, cpu, mem)
}

/// A node's allocatable resources and pod capacity: `status.allocatable`, or
/// `status.capacity` when allocatable is not reported (as the API server defaults it).
pub fn node_allocatable(node: &core::Node) -> (Resources, i64) {
    let status = node.status.as_ref();
    let list = status
        .and_then(|s| s.allocatable.as_ref())
        .filter(|a| !a.is_empty())
        .or_else(|| status.and_then(|s| s.capacity.as_ref()));
    let nanos = parse_list(list);
    let pods = nanos.get(PODS).map_or(0, |&n| ceil_div(n, NANOS_PER_UNIT));
    let mut r = to_resources(&nanos);
    // Keep zero-valued scalars: upstream records every scalar the node reports.
    for (name, _) in nanos.iter().filter(|(n, _)| is_scalar_resource_name(n)) {
        if !r.has_scalar(name) {
            r.add_scalar(name, 0);
        }
    }
    (r, pods)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(spec: serde_json::Value) -> core::Pod {
        serde_json::from_value(
            json!({"metadata": {"name": "p", "namespace": "default"}, "spec": spec}),
        )
        .expect("pod json")
    }

    fn c(name: &str, cpu: &str, mem: &str) -> serde_json::Value {
        json!({"name": name, "resources": {"requests": {"cpu": cpu, "memory": mem}}})
    }

    fn sidecar(name: &str, cpu: &str, mem: &str) -> serde_json::Value {
        let mut v = c(name, cpu, mem);
        v["restartPolicy"] = json!("Always");
        v
    }

    #[test]
    fn resources_app_containers_sum_and_init_max() {
        // upstream's doc example: init 2/1G and 2/3G, app 2/1G + 1/1G -> 3 CPU, 3G.
        let p = pod(json!({
            "initContainers": [c("i1", "2", "1G"), c("i2", "2", "3G")],
            "containers": [c("a", "2", "1G"), c("b", "1", "1G")]
        }));
        let (r, _, _) = pod_requests_for_scheduling(&p);
        assert_eq!(r.milli_cpu, 3000);
        assert_eq!(r.memory, 3_000_000_000);
    }

    #[test]
    fn resources_sidecars_add_to_steady_state_and_later_inits() {
        // Sidecar s1 (1 CPU) starts, then init i1 (3 CPU) runs next to it: peak 4.
        // Steady state: app 1 + sidecars 1 + 0.5 = 2.5. Result max(2.5, 4) = 4.
        let p = pod(json!({
            "initContainers": [sidecar("s1", "1", "100Mi"), c("i1", "3", "100Mi"), sidecar("s2", "500m", "100Mi")],
            "containers": [c("a", "1", "100Mi")]
        }));
        let (r, _, _) = pod_requests_for_scheduling(&p);
        assert_eq!(r.milli_cpu, 4000);
        // Memory: steady 300Mi; i1 runs with s1: 200Mi. max = 300Mi.
        assert_eq!(r.memory, 300 * 1024 * 1024);

        // An init container before any sidecar does not see them.
        let p = pod(json!({
            "initContainers": [c("i0", "2", "1Mi"), sidecar("s1", "1", "1Mi")],
            "containers": [c("a", "500m", "1Mi")]
        }));
        assert_eq!(pod_requests_for_scheduling(&p).0.milli_cpu, 2000);
    }

    #[test]
    fn resources_overhead_is_added() {
        let p = pod(
            json!({"containers": [c("a", "250m", "64Mi")], "overhead": {"cpu": "100m", "memory": "10Mi"}}),
        );
        let (r, cpu, mem) = pod_requests_for_scheduling(&p);
        assert_eq!(r.milli_cpu, 350);
        assert_eq!(r.memory, 74 * 1024 * 1024);
        assert_eq!((cpu, mem), (350, 74 * 1024 * 1024));
    }

    #[test]
    fn resources_missing_requests_are_zero_for_filter_and_defaulted_for_scoring() {
        let p = pod(
            json!({"containers": [{"name": "a"}, {"name": "b", "resources": {"requests": {"cpu": "0"}}}]}),
        );
        let (r, cpu, mem) = pod_requests_for_scheduling(&p);
        assert!(r.is_zero());
        // a gets 100m and 200Mi; b's explicit zero CPU stays zero but its memory defaults.
        assert_eq!(cpu, 100);
        assert_eq!(mem, 2 * DEFAULT_MEMORY_REQUEST);
    }

    #[test]
    fn resources_exact_sum_then_round() {
        // Two 0.5-byte requests sum to exactly one byte.
        let p = pod(json!({"containers": [c("a", "1m", "0.5"), c("b", "1m", "0.5")]}));
        assert_eq!(pod_requests_for_scheduling(&p).0.memory, 1);
    }

    #[test]
    fn resources_extended_and_hugepages_are_scalars() {
        let p = pod(
            json!({"containers": [{"name": "a", "resources": {"requests": {
            "example.com/gpu": "2", "hugepages-2Mi": "4Mi", "storage": "1Gi"}}}]}),
        );
        let (r, _, _) = pod_requests_for_scheduling(&p);
        assert_eq!(r.scalar("example.com/gpu"), 2);
        assert_eq!(r.scalar("hugepages-2Mi"), 4 * 1024 * 1024);
        assert!(!r.has_scalar("storage"));
    }

    #[test]
    fn resources_status_resources_raise_existing_pod_requests() {
        let p: core::Pod = serde_json::from_value(json!({
            "metadata": {"name": "p"},
            "spec": {"containers": [c("a", "100m", "64Mi")]},
            "status": {"containerStatuses": [{"name": "a", "image": "", "imageID": "", "ready": true, "restartCount": 0,
                "allocatedResources": {"cpu": "300m"}, "resources": {"requests": {"cpu": "200m", "memory": "64Mi"}}}]}
        }))
        .expect("pod json");
        assert_eq!(pod_requests_for_scheduling(&p).0.milli_cpu, 300);
    }

    #[test]
    fn resources_node_allocatable_falls_back_to_capacity() {
        let n: core::Node = serde_json::from_value(json!({
            "metadata": {"name": "n"},
            "status": {"capacity": {"cpu": "4", "memory": "8Gi", "pods": "110", "example.com/gpu": "0"}}
        }))
        .expect("node json");
        let (r, pods) = node_allocatable(&n);
        assert_eq!(
            (r.milli_cpu, r.memory, pods),
            (4000, 8 * 1024 * 1024 * 1024, 110)
        );
        assert!(r.has_scalar("example.com/gpu"));
        let n: core::Node = serde_json::from_value(json!({
            "metadata": {"name": "n"},
            "status": {"capacity": {"cpu": "4"}, "allocatable": {"cpu": "3500m"}}
        }))
        .expect("node json");
        assert_eq!(node_allocatable(&n).0.milli_cpu, 3500);
    }
}
