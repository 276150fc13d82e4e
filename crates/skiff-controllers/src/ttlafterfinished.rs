//! TTL after finished: a Job that finished (Complete or Failed) and sets
//! `ttlSecondsAfterFinished` is deleted, with its pods (propagation Foreground), that many
//! seconds after the finishing condition's lastTransitionTime. The Job is read afresh
//! from the API and deleted with its uid and resourceVersion as preconditions, so a Job
//! whose TTL was raised meanwhile, or a new Job of the same name, is never deleted.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::batch::v1::Job;
use kube::api::{Api, DeleteParams, Preconditions, PropagationPolicy};

use crate::informer::{Cached, Change, Informer};
use crate::job::sync::finished_condition;
use crate::queue::Queue;
use crate::{spawn_workers, Shared, SyncError};

const WORKERS: usize = 2;

/// Whether the Job is one to delete some day.
pub fn needs_cleanup(job: &Job) -> bool {
    job.spec.as_ref().is_some_and(|s| s.ttl_seconds_after_finished.is_some()) && job.metadata.deletion_timestamp.is_none() && finished_condition(job).is_some()
}

/// Time left before the Job expires (zero: delete it now); None if it never does.
pub fn time_left(job: &Job, now: Timestamp) -> Option<Duration> {
    if !needs_cleanup(job) {
        return None;
    }
    let ttl = job.spec.as_ref()?.ttl_seconds_after_finished?;
    let finished = finished_condition(job)?.last_transition_time.as_ref()?.0;
    let expire = finished + jiff::SignedDuration::from_secs(i64::from(ttl));
    Some(Duration::try_from(expire.duration_since(now)).unwrap_or(Duration::ZERO))
}

pub struct Controller {
    shared: Arc<Shared>,
    jobs: Arc<Informer<Job>>,
    queue: Arc<Queue<String>>,
}

pub fn start(shared: &Arc<Shared>, jobs: &Arc<Informer<Job>>) {
    let c = Arc::new(Controller { shared: shared.clone(), jobs: jobs.clone(), queue: Arc::new(Queue::new()) });
    let h = c.clone();
    jobs.on_change(move |change| {
        if let Change::Added(j) | Change::Updated(_, j) = change {
            if needs_cleanup(j) {
                h.queue.add(format!("{}/{}", j.namespace(), j.name()));
            }
        }
    });
    let w = c.clone();
    spawn_workers(c.queue.clone(), WORKERS, vec![jobs.store.clone()], move |key| {
        let w = w.clone();
        async move { w.sync(&key).await }
    });
}

impl Controller {
    async fn sync(&self, key: &str) -> Result<(), SyncError> {
        let Some((ns, name)) = key.split_once('/') else { return Ok(()) };
        let Some(cached) = self.jobs.store.get(ns, name) else { return Ok(()) };
        let now = self.shared.clock.now();
        match time_left(&cached, now) {
            None => return Ok(()),
            Some(left) if !left.is_zero() => {
                self.queue.add_after(key.to_string(), left);
                return Ok(());
            }
            Some(_) => {}
        }
        // The cache may be stale: decide again on the Job as the API has it.
        let api: Api<Job> = Api::namespaced(self.shared.client.clone(), ns);
        let fresh = match api.get(name).await {
            Ok(j) => j,
            Err(kube::Error::Api(s)) if s.code == 404 => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        match time_left(&fresh, now) {
            None => return Ok(()),
            Some(left) if !left.is_zero() => {
                self.queue.add_after(key.to_string(), left);
                return Ok(());
            }
            Some(_) => {}
        }
        let params = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Foreground),
            preconditions: Some(Preconditions { uid: fresh.metadata.uid.clone(), resource_version: fresh.metadata.resource_version.clone() }),
            ..Default::default()
        };
        match api.delete(name, &params).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn job(ttl: Option<i32>, finished: Option<&str>) -> Job {
        let mut status = json!({});
        if let Some(at) = finished {
            status["conditions"] = json!([{"type": "SuccessCriteriaMet", "status": "True", "lastTransitionTime": "2024-05-01T09:00:00Z"},
                                          {"type": "Complete", "status": "True", "lastTransitionTime": at}]);
        }
        serde_json::from_value(json!({"metadata": {"name": "j", "namespace": "default"}, "spec": {"template": {}, "ttlSecondsAfterFinished": ttl}, "status": status})).unwrap()
    }

    #[test]
    fn expires_ttl_seconds_after_the_finishing_condition() {
        let now: Timestamp = "2024-05-01T10:00:10Z".parse().unwrap();
        assert_eq!(time_left(&job(Some(20), Some("2024-05-01T10:00:00Z")), now), Some(Duration::from_secs(10)));
        assert_eq!(time_left(&job(Some(5), Some("2024-05-01T10:00:00Z")), now), Some(Duration::ZERO));
        assert_eq!(time_left(&job(Some(0), Some("2024-05-01T10:00:10Z")), now), Some(Duration::ZERO), "0: at once");
        assert_eq!(time_left(&job(None, Some("2024-05-01T10:00:00Z")), now), None, "no TTL");
        assert_eq!(time_left(&job(Some(20), None), now), None, "still running");
        let mut deleting = job(Some(20), Some("2024-05-01T10:00:00Z"));
        deleting.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(now));
        assert!(!needs_cleanup(&deleting));
    }
}
