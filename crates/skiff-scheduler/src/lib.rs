//! skiff-scheduler: kube-scheduler's placement decisions as pure logic.
//!
//! The scheduling loop (watches, queue, binding, events) feeds a [`Snapshot`] with watch
//! events and asks [`schedule_one`] for a node for each pending pod; on success it
//! [`Snapshot::assume`]s the pod on that node before binding, so the next decision already
//! counts it, and [`Snapshot::forget`]s it if the binding fails. On failure the
//! [`FitError`] carries upstream's FailedScheduling message.
//!
//! The semantics are kube-scheduler v1.33's default profile:
//!
//! | plugin | filter | score weight |
//! |---|---|---|
//! | NodeUnschedulable (`plugins/node_unschedulable.rs`) | cordoned nodes | |
//! | NodeName (`plugins/node_name.rs`) | `spec.nodeName` | |
//! | TaintToleration (`plugins/taint_toleration.rs`) | NoSchedule/NoExecute taints, not-ready nodes | 3 |
//! | NodeAffinity (`plugins/node_affinity.rs`) | nodeSelector, required node affinity | 2 |
//! | NodePorts (`plugins/node_ports.rs`) | host ports | |
//! | NodeResourcesFit (`plugins/node_resources_fit.rs`) | requests vs allocatable, pod count | 1 (LeastAllocated) |
//! | PodTopologySpread (`plugins/pod_topology_spread.rs`) | DoNotSchedule constraints | 2 |
//! | InterPodAffinity (`plugins/inter_pod_affinity.rs`) | required (anti-)affinity, symmetry | 2 |
//! | NodeResourcesBalancedAllocation (`plugins/balanced_allocation.rs`) | | 1 |
//!
//! Modules: [`framework`] holds the shared types (parsed pods, nodes, selectors, terms),
//! [`resources`] the request arithmetic (init containers, sidecars, overhead), [`snapshot`]
//! the incremental cache and its indexes, [`plugins`] one file per plugin, and [`schedule`]
//! the cycle itself; all of these are pure. [`queue`] is the scheduling queue and
//! `scheduler.rs` the loop that watches the API, schedules and binds ([`run`]).

pub mod framework;
pub mod plugins;
pub mod queue;
pub mod resources;
pub mod schedule;
mod scheduler;
pub mod snapshot;

pub use schedule::{num_feasible_nodes_to_find, schedule_one, wants_scheduling, FitError};
pub use scheduler::{run, SCHEDULER_NAME};
pub use snapshot::Snapshot;

#[cfg(test)]
mod tests;
