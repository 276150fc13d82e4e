//! What the Job controller reads of a pod beyond the shared [`PodInfo`] fields: its
//! completion index, exit codes, conditions, restarts and when it finished. Kept only
//! for pods a Job controls or that carry the Job tracking finalizer, so other pods cost
//! nothing.

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::core::v1::{ContainerStatus, PodStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::pods::PodInfo;

pub const TRACKING_FINALIZER: &str = "batch.kubernetes.io/job-tracking";
pub const COMPLETION_INDEX: &str = "batch.kubernetes.io/job-completion-index";

#[derive(Debug, Clone, PartialEq, Default)]
pub struct JobPodFacts {
    /// The completion index annotation, when it is a non-negative integer.
    pub completion_index: Option<i32>,
    /// Terminated containers with a non-zero exit code: app containers first, then init
    /// containers (the order upstream's pod failure policy looks at them).
    pub failures: Vec<(String, i32)>,
    /// Conditions as (type, status).
    pub conditions: Vec<(String, String)>,
    /// When the pod finished (upstream `getFinishedTime`).
    pub finished_at: Option<Timestamp>,
    /// Restarts of all its containers, init containers included.
    pub restarts: i32,
}

/// Upstream's `getCompletionIndex`.
pub fn completion_index(annotations: Option<&std::collections::BTreeMap<String, String>>) -> Option<i32> {
    annotations?.get(COMPLETION_INDEX)?.parse::<i32>().ok().filter(|i| *i >= 0)
}

/// The facts of a pod a Job cares about, None for any other pod.
pub fn facts(meta: &ObjectMeta, status: Option<&PodStatus>) -> Option<Box<JobPodFacts>> {
    let by_job = meta.owner_references.iter().flatten().any(|o| o.controller == Some(true) && o.kind == "Job");
    let tracked = meta.finalizers.iter().flatten().any(|f| f == TRACKING_FINALIZER);
    if !by_job && !tracked {
        return None;
    }
    let empty = PodStatus::default();
    let status = status.unwrap_or(&empty);
    let containers = status.container_statuses.as_deref().unwrap_or_default();
    let inits = status.init_container_statuses.as_deref().unwrap_or_default();
    let failures = containers
        .iter()
        .chain(inits)
        .filter_map(|c| {
            let t = c.state.as_ref()?.terminated.as_ref()?;
            (t.exit_code != 0).then(|| (c.name.clone(), t.exit_code))
        })
        .collect();
    let conditions: Vec<(String, String)> = status.conditions.iter().flatten().map(|c| (c.type_.clone(), c.status.clone())).collect();
    let restarts = containers.iter().chain(inits).map(|c| c.restart_count).sum();
    Some(Box::new(JobPodFacts { completion_index: completion_index(meta.annotations.as_ref()), failures, conditions, finished_at: finished_at(meta, status), restarts }))
}

/// All containers terminated: the last finish; else when Ready turned False; else the
/// deletion time less its grace period; else the creation time.
fn finished_at(meta: &ObjectMeta, status: &PodStatus) -> Option<Timestamp> {
    let from_containers = |cs: &[ContainerStatus]| -> Option<Timestamp> {
        let mut latest: Option<Timestamp> = None;
        for c in cs {
            let t = c.state.as_ref()?.terminated.as_ref()?.finished_at.as_ref()?.0;
            latest = Some(latest.map_or(t, |l| l.max(t)));
        }
        latest
    };
    if let Some(t) = from_containers(status.container_statuses.as_deref().unwrap_or_default()) {
        return Some(t);
    }
    let ready_false = status.conditions.iter().flatten().find(|c| c.type_ == "Ready").filter(|c| c.status == "False").and_then(|c| c.last_transition_time.as_ref());
    if let Some(t) = ready_false {
        return Some(t.0);
    }
    if let Some(d) = &meta.deletion_timestamp {
        return d.0.checked_sub(SignedDuration::from_secs(meta.deletion_grace_period_seconds.unwrap_or(0))).ok();
    }
    meta.creation_timestamp.as_ref().map(|t| t.0)
}

/// Read-outs of a [`PodInfo`] for the Job controller.
pub trait JobPod {
    fn facts(&self) -> &JobPodFacts;
    fn index(&self) -> Option<i32> {
        self.facts().completion_index
    }
    fn has_tracking_finalizer(&self) -> bool;
    fn succeeded(&self) -> bool;
    fn terminal(&self) -> bool;
}

static NO_FACTS: JobPodFacts = JobPodFacts { completion_index: None, failures: Vec::new(), conditions: Vec::new(), finished_at: None, restarts: 0 };

impl JobPod for PodInfo {
    fn facts(&self) -> &JobPodFacts {
        self.job.as_deref().unwrap_or(&NO_FACTS)
    }
    fn has_tracking_finalizer(&self) -> bool {
        self.finalizers.iter().any(|f| f == TRACKING_FINALIZER)
    }
    fn succeeded(&self) -> bool {
        self.phase == "Succeeded"
    }
    fn terminal(&self) -> bool {
        self.phase == "Succeeded" || self.phase == "Failed"
    }
}
