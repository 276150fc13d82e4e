//! The rules a Job's pod results are judged by: the pod failure policy (FailJob, Ignore,
//! Count on exit codes or pod conditions), the success policy of Indexed Jobs, and the
//! exponential back-off between pod retries (10 s doubling, at most 6 min).

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::batch::v1::{PodFailurePolicy, SuccessPolicy};

use super::intervals::Intervals;
use super::pod::JobPod;
use crate::pods::PodInfo;

pub const BACKOFF_BASE: Duration = Duration::from_secs(10);
pub const BACKOFF_MAX: Duration = Duration::from_secs(360);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    FailJob,
    FailIndex,
    Ignore,
    Count,
}

/// How a failed pod fares under the policy (upstream `matchPodFailurePolicy`): the Job
/// failure message of a FailJob rule, whether the failure counts towards backoffLimit,
/// and the action of the rule that matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub fail_job: Option<String>,
    pub counts: bool,
    pub action: Option<Action>,
}

pub fn match_pod_failure_policy(policy: Option<&PodFailurePolicy>, pod: &PodInfo) -> Verdict {
    let counted = Verdict { fail_job: None, counts: true, action: None };
    let Some(policy) = policy else { return counted };
    let facts = pod.facts();
    for (i, rule) in policy.rules.iter().enumerate() {
        let action = match rule.action.as_str() {
            "FailJob" => Action::FailJob,
            "FailIndex" => Action::FailIndex,
            "Ignore" => Action::Ignore,
            "Count" => Action::Count,
            _ => continue,
        };
        let matched: Option<String> = if let Some(req) = &rule.on_exit_codes {
            facts
                .failures
                .iter()
                .find(|(name, code)| {
                    req.container_name.as_deref().is_none_or(|c| c == name)
                        && match req.operator.as_str() {
                            "In" => req.values.contains(code),
                            "NotIn" => !req.values.contains(code),
                            _ => false,
                        }
                })
                .map(|(name, code)| format!("Container {name} for pod {}/{} failed with exit code {code} matching FailJob rule at index {i}", pod.namespace, pod.name))
        } else if let Some(patterns) = &rule.on_pod_conditions {
            facts
                .conditions
                .iter()
                .find(|(t, s)| patterns.iter().any(|p| &p.type_ == t && &p.status == s))
                .map(|(t, _)| format!("Pod {}/{} has condition {t} matching FailJob rule at index {i}", pod.namespace, pod.name))
        } else {
            None
        };
        let Some(message) = matched else { continue };
        return match action {
            Action::Ignore => Verdict { fail_job: None, counts: false, action: Some(action) },
            Action::Count | Action::FailIndex => Verdict { fail_job: None, counts: true, action: Some(action) },
            Action::FailJob => Verdict { fail_job: Some(message), counts: true, action: Some(action) },
        };
    }
    counted
}

/// `matchSuccessPolicy`: the message of the first rule the succeeded indexes satisfy.
pub fn match_success_policy(policy: Option<&SuccessPolicy>, completions: i32, succeeded: &Intervals) -> Option<String> {
    let policy = policy?;
    if succeeded.is_empty() {
        return None;
    }
    for (i, rule) in policy.rules.iter().enumerate() {
        if let Some(ix) = &rule.succeeded_indexes {
            let required = Intervals::parse(ix, completions);
            if required.is_empty() {
                continue;
            }
            let contains = overlap(&required, succeeded);
            if contains == required.total() || rule.succeeded_count.is_some_and(|c| contains >= c) {
                return Some(format!("Matched rules at index {i}"));
            }
        } else if rule.succeeded_count.is_some_and(|c| succeeded.total() >= c) {
            return Some(format!("Matched rules at index {i}"));
        }
    }
    None
}

fn overlap(a: &Intervals, b: &Intervals) -> i32 {
    let mut n = 0;
    for x in &a.0 {
        for y in &b.0 {
            n += (x.last.min(y.last) - x.first.max(y.first) + 1).max(0);
        }
    }
    n
}

/// Failures since the last success and when the last of them happened (upstream
/// `backoffRecord`, kept in memory per Job).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Backoff {
    pub failures: u32,
    pub last_failure: Option<Timestamp>,
}

impl Backoff {
    /// The record after newly finished pods.
    pub fn after(self, succeeded: &[&PodInfo], failed: &[&PodInfo]) -> Backoff {
        let finish = |p: &&PodInfo| p.facts().finished_at.or(p.created).unwrap_or(Timestamp::UNIX_EPOCH);
        if failed.is_empty() {
            return if succeeded.is_empty() { self } else { Backoff::default() };
        }
        let mut fail_times: Vec<Timestamp> = failed.iter().map(finish).collect();
        fail_times.sort();
        let Some(last_success) = succeeded.iter().map(finish).max() else {
            return Backoff { failures: self.failures + failed.len() as u32, last_failure: fail_times.last().copied() };
        };
        let after_success: Vec<&Timestamp> = fail_times.iter().filter(|t| **t > last_success).collect();
        Backoff { failures: after_success.len() as u32, last_failure: after_success.last().map(|t| **t) }
    }

    /// How long before the next pod may be created.
    pub fn remaining(&self, now: Timestamp) -> Duration {
        let Some(last) = self.last_failure else { return Duration::ZERO };
        if self.failures == 0 {
            return Duration::ZERO;
        }
        let delay = delay_for(self.failures);
        let elapsed = Duration::try_from(now.duration_since(last)).unwrap_or(Duration::ZERO);
        delay.saturating_sub(elapsed)
    }
}

/// The delay after `failures` consecutive failures: 10 s, 20 s, 40 s, … at most 6 min.
pub fn delay_for(failures: u32) -> Duration {
    let mut d = BACKOFF_BASE;
    for _ in 1..failures {
        d *= 2;
        if d >= BACKOFF_MAX {
            return BACKOFF_MAX;
        }
    }
    d
}
