//! The Job controller's decisions, pure: what the pods say ([`assess`]), what to do about
//! it ([`manage`]), the status that follows ([`conclude`]), which finished pods to count
//! and release ([`track`], [`clean_uncounted`]) and when the Job is done
//! ([`enact_finished`]). The loop in `mod.rs` runs them in that order around its writes,
//! as upstream's `syncJob` does.

use std::collections::HashSet;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::batch::v1::{Job, JobCondition, JobSpec, JobStatus, UncountedTerminatedPods};
use k8s_openapi::api::core::v1::{EnvVar, EnvVarSource, ObjectFieldSelector, Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

use super::intervals::Intervals;
use super::pod::{JobPod, COMPLETION_INDEX, TRACKING_FINALIZER};
use super::policy::{match_pod_failure_policy, match_success_policy, Action, Backoff};
use crate::clock::truncate;
use crate::pods::{deletion_order, PodInfo};

/// Pods created or deleted in one sync, and finished pods counted in one status write.
pub const MAX_PODS_PER_SYNC: usize = 500;
pub const MAX_UNCOUNTED: usize = 500;

pub const COMPLETE: &str = "Complete";
pub const FAILED: &str = "Failed";
pub const FAILURE_TARGET: &str = "FailureTarget";
pub const SUCCESS_CRITERIA_MET: &str = "SuccessCriteriaMet";
pub const SUSPENDED: &str = "Suspended";

pub fn spec(job: &Job) -> &JobSpec {
    static EMPTY: std::sync::OnceLock<JobSpec> = std::sync::OnceLock::new();
    job.spec.as_ref().unwrap_or_else(|| EMPTY.get_or_init(JobSpec::default))
}

pub fn is_indexed(job: &Job) -> bool {
    spec(job).completion_mode.as_deref() == Some("Indexed")
}

pub fn is_suspended(job: &Job) -> bool {
    spec(job).suspend == Some(true)
}

fn completions(job: &Job) -> Option<i32> {
    spec(job).completions
}

pub fn conditions(status: &JobStatus) -> &[JobCondition] {
    status.conditions.as_deref().unwrap_or_default()
}

/// The first condition of a type, if True.
pub fn has_condition<'a>(status: &'a JobStatus, type_: &str) -> Option<&'a JobCondition> {
    conditions(status).iter().find(|c| c.type_ == type_).filter(|c| c.status == "True")
}

/// Complete or Failed (upstream `IsJobFinished`).
pub fn finished_condition(job: &Job) -> Option<&JobCondition> {
    let status = job.status.as_ref()?;
    conditions(status).iter().find(|c| (c.type_ == COMPLETE || c.type_ == FAILED) && c.status == "True")
}

pub fn is_finished(job: &Job) -> bool {
    finished_condition(job).is_some()
}

/// Only failed pods are replaced (podReplacementPolicy Failed, implied by a pod failure
/// policy): terminating pods are waited for.
pub fn only_replace_failed(job: &Job) -> bool {
    spec(job).pod_replacement_policy.as_deref() == Some("Failed") || spec(job).pod_failure_policy.is_some()
}

/// Upstream `isPodFailed`: Failed, or being deleted before it succeeded (unless only
/// failed pods count as gone).
pub fn is_pod_failed(p: &PodInfo, job: &Job) -> bool {
    p.phase == "Failed" || (!only_replace_failed(job) && p.deleting && p.phase != "Succeeded")
}

/// Being deleted but still running. A pod never bound to a node never runs: nothing
/// will report it terminal, so it does not count (upstream's pod GC marks it Failed).
pub fn is_terminating(p: &PodInfo) -> bool {
    p.deleting && !p.terminal() && !p.node_name.is_empty()
}

pub fn new_condition(type_: &str, status: &str, reason: &str, message: &str, now: Timestamp) -> JobCondition {
    let t = Time(truncate(now));
    JobCondition {
        type_: type_.into(),
        status: status.into(),
        reason: (!reason.is_empty()).then(|| reason.into()),
        message: (!message.is_empty()).then(|| message.into()),
        last_probe_time: Some(t.clone()),
        last_transition_time: Some(t),
    }
}

/// `ensureJobConditionStatus`: sets or updates a condition; a False one is never added.
pub fn ensure_condition(status: &mut JobStatus, type_: &str, st: &str, reason: &str, message: &str, now: Timestamp) -> bool {
    let list = status.conditions.get_or_insert_with(Vec::new);
    if let Some(c) = list.iter_mut().find(|c| c.type_ == type_) {
        if c.status != st || c.reason.as_deref().unwrap_or("") != reason || c.message.as_deref().unwrap_or("") != message {
            *c = new_condition(type_, st, reason, message, now);
            return true;
        }
        return false;
    }
    if st != "False" {
        list.push(new_condition(type_, st, reason, message, now));
        return true;
    }
    false
}

/// Everything one sync needs to know, computed from the Job and its pods.
pub struct Input<'a> {
    pub job: &'a Job,
    /// The Job's pods (owned and just adopted), whatever their phase.
    pub pods: Vec<&'a PodInfo>,
    /// Pods just adopted: they get the tracking finalizer with the adoption.
    pub adopted: HashSet<String>,
    /// Pods whose finalizer removal was asked for but not yet seen.
    pub expected_removals: HashSet<String>,
    /// Creations and deletions asked for have been seen.
    pub satisfied: bool,
    pub backoff: Backoff,
    pub now: Timestamp,
}

impl Input<'_> {
    fn tracked(&self, p: &PodInfo) -> bool {
        p.has_tracking_finalizer() || self.adopted.contains(&p.uid)
    }

    fn valid_index(&self, p: &PodInfo) -> bool {
        !is_indexed(self.job) || p.index().is_some_and(|i| i < completions(self.job).unwrap_or(0))
    }
}

/// What the pods say (the first half of upstream `syncJob`).
#[derive(Debug, Clone)]
pub struct Assessment {
    pub status: JobStatus,
    pub active: Vec<String>,
    pub active_ready: Vec<bool>,
    pub ready: i32,
    pub terminating: i32,
    pub succeeded: i32,
    pub failed: i32,
    pub uncounted_succeeded: HashSet<String>,
    pub uncounted_failed: HashSet<String>,
    pub prev_succeeded_indexes: Intervals,
    pub succeeded_indexes: Intervals,
    /// The condition the Job will end with (interim FailureTarget or SuccessCriteriaMet).
    pub finished: Option<JobCondition>,
    pub backoff: Backoff,
    /// Sync again then (activeDeadlineSeconds).
    pub requeue_after: Option<Duration>,
}

pub fn assess(input: &Input) -> Assessment {
    let job = input.job;
    let spec = spec(job);
    let now = input.now;
    let mut status = job.status.clone().unwrap_or_default();
    let uncounted = status.uncounted_terminated_pods.get_or_insert_with(UncountedTerminatedPods::default);
    let uncounted_succeeded: HashSet<String> = uncounted.succeeded.iter().flatten().cloned().collect();
    let uncounted_failed: HashSet<String> = uncounted.failed.iter().flatten().cloned().collect();
    let active_pods: Vec<&PodInfo> = input.pods.iter().copied().filter(|p| p.is_active()).collect();
    let ready = active_pods.iter().filter(|p| p.ready).count() as i32;
    let terminating = input.pods.iter().filter(|p| is_terminating(p)).count() as i32;
    let valid = |p: &&PodInfo, uncounted: &HashSet<String>| {
        input.tracked(p) && !uncounted.contains(&p.uid) && !input.expected_removals.contains(&p.uid) && input.valid_index(p)
    };
    let new_succeeded: Vec<&PodInfo> = input.pods.iter().copied().filter(|p| valid(p, &uncounted_succeeded) && p.succeeded()).collect();
    let new_failed: Vec<&PodInfo> = input.pods.iter().copied().filter(|p| valid(p, &uncounted_failed) && is_pod_failed(p, job)).collect();
    let policy = spec.pod_failure_policy.as_ref();
    let counted_failures = new_failed.iter().filter(|p| match_pod_failure_policy(policy, p).counts).count();
    let mut succeeded = status.succeeded.unwrap_or(0) + new_succeeded.len() as i32 + uncounted_succeeded.len() as i32;
    let failed = status.failed.unwrap_or(0) + counted_failures as i32 + uncounted_failed.len() as i32;

    if status.start_time.is_none() && !is_suspended(job) {
        status.start_time = Some(Time(truncate(now)));
    }
    let backoff = input.backoff.after(&new_succeeded, &new_failed);

    let mut finished = has_condition(&status, SUCCESS_CRITERIA_MET).cloned();
    let mut requeue_after = None;
    if finished.is_none() {
        if let Some(target) = has_condition(&status, FAILURE_TARGET) {
            finished = Some(new_condition(FAILED, "True", target.reason.as_deref().unwrap_or(""), target.message.as_deref().unwrap_or(""), now));
        } else if let Some(message) = fail_job_message(job, &input.pods) {
            finished = Some(new_condition(FAILURE_TARGET, "True", "PodFailurePolicy", &message, now));
        }
    }
    if finished.is_none() {
        let backoff_limit = spec.backoff_limit.unwrap_or(6);
        if failed > backoff_limit || past_backoff_limit_on_failure(job, &input.pods) {
            finished = Some(new_condition(FAILURE_TARGET, "True", "BackoffLimitExceeded", "Job has reached the specified backoff limit", now));
        } else if let Some(left) = deadline_left(job, &status, now) {
            if left.is_zero() {
                finished = Some(new_condition(FAILURE_TARGET, "True", "DeadlineExceeded", "Job was active longer than specified deadline", now));
            } else {
                requeue_after = Some(left);
            }
        }
    }

    let (mut prev_succeeded_indexes, mut succeeded_indexes) = (Intervals::default(), Intervals::default());
    if is_indexed(job) {
        let c = completions(job).unwrap_or(0);
        prev_succeeded_indexes = Intervals::parse(status.completed_indexes.as_deref().unwrap_or(""), c);
        let mut new: Vec<i32> = input
            .pods
            .iter()
            .filter(|p| p.succeeded() && input.tracked(p))
            .filter_map(|p| p.index())
            .filter(|i| *i < c)
            .collect();
        new.sort_unstable();
        new.dedup();
        succeeded_indexes = prev_succeeded_indexes.with_indexes(&new);
        succeeded = succeeded_indexes.total();
        if finished.is_none() {
            if let Some(message) = match_success_policy(spec.success_policy.as_ref(), c, &succeeded_indexes) {
                finished = Some(new_condition(SUCCESS_CRITERIA_MET, "True", "SuccessPolicy", &message, now));
            }
        }
    }

    Assessment {
        status,
        active: active_pods.iter().map(|p| p.name.clone()).collect(),
        active_ready: active_pods.iter().map(|p| p.ready).collect(),
        ready,
        terminating,
        succeeded,
        failed,
        uncounted_succeeded,
        uncounted_failed,
        prev_succeeded_indexes,
        succeeded_indexes,
        finished,
        backoff,
        requeue_after,
    }
}

/// The message of the first failed pod a FailJob rule matches.
fn fail_job_message(job: &Job, pods: &[&PodInfo]) -> Option<String> {
    let policy = spec(job).pod_failure_policy.as_ref()?;
    pods.iter().filter(|p| is_pod_failed(p, job)).find_map(|p| match_pod_failure_policy(Some(policy), p).fail_job)
}

/// With restartPolicy OnFailure, container restarts of running pods count as failures.
fn past_backoff_limit_on_failure(job: &Job, pods: &[&PodInfo]) -> bool {
    let template_policy = spec(job).template.spec.as_ref().and_then(|s| s.restart_policy.as_deref());
    if template_policy != Some("OnFailure") {
        return false;
    }
    let restarts: i32 = pods.iter().filter(|p| p.phase == "Running" || p.phase == "Pending").map(|p| p.facts().restarts).sum();
    let limit = spec(job).backoff_limit.unwrap_or(6);
    if limit == 0 {
        restarts > 0
    } else {
        restarts >= limit
    }
}

/// Time left before activeDeadlineSeconds (None: no deadline, or suspended).
pub fn deadline_left(job: &Job, status: &JobStatus, now: Timestamp) -> Option<Duration> {
    let ads = spec(job).active_deadline_seconds?;
    if is_suspended(job) {
        return None;
    }
    let start = status.start_time.as_ref()?.0;
    let elapsed = now.duration_since(start);
    let allowed = jiff::SignedDuration::from_secs(ads);
    Some(Duration::try_from(allowed - elapsed).unwrap_or(Duration::ZERO))
}

/// The pod writes one sync makes.
#[derive(Debug, Clone, PartialEq)]
pub enum Manage {
    Nothing,
    /// The Job is ending: delete its active pods, keeping their finalizers so that their
    /// results are counted.
    Terminate(Vec<String>),
    /// Surplus or suspended pods: their finalizer is removed (they do not count), then
    /// they are deleted.
    Remove(Vec<String>),
    /// Pods to create (their completion index for Indexed Jobs).
    Create(Vec<Option<i32>>),
    /// Pods are missing but the back-off after failures has not passed.
    Wait(Duration),
}

pub fn manage(input: &Input, a: &Assessment) -> Manage {
    let job = input.job;
    if a.finished.is_some() {
        return if a.active.is_empty() { Manage::Nothing } else { Manage::Terminate(a.active.clone()) };
    }
    if !input.satisfied || job.metadata.deletion_timestamp.is_some() {
        return Manage::Nothing;
    }
    let active_pods: Vec<&PodInfo> = input.pods.iter().copied().filter(|p| p.is_active()).collect();
    let active = active_pods.len() as i32;
    if is_suspended(job) {
        let all = pods_for_removal(job, &active_pods, active_pods.len(), input.now);
        return if all.is_empty() { Manage::Nothing } else { Manage::Remove(all) };
    }
    let parallelism = spec(job).parallelism.unwrap_or(1).max(0);
    let want = match completions(job) {
        // A work queue: once one pod succeeded, nothing new starts; running pods finish.
        None => {
            if a.succeeded > 0 {
                active
            } else {
                parallelism
            }
        }
        Some(c) => (c - a.succeeded).clamp(0, parallelism),
    };
    let surplus = (active - want).max(0) as usize;
    let mut remove = pods_for_removal(job, &active_pods, surplus, input.now);
    remove.truncate(MAX_PODS_PER_SYNC);
    if !remove.is_empty() {
        return Manage::Remove(remove);
    }
    let terminating = if only_replace_failed(job) { a.terminating } else { 0 };
    let missing = want - terminating - active;
    if missing <= 0 {
        return Manage::Nothing;
    }
    let wait = a.backoff.remaining(input.now);
    if !wait.is_zero() {
        return Manage::Wait(wait);
    }
    let n = (missing as usize).min(MAX_PODS_PER_SYNC);
    if is_indexed(job) {
        let c = completions(job).unwrap_or(0);
        let running: Vec<i32> = {
            let mut v: Vec<i32> = active_pods.iter().filter_map(|p| p.index()).collect();
            if only_replace_failed(job) {
                v.extend(input.pods.iter().filter(|p| is_terminating(p)).filter_map(|p| p.index()));
            }
            v.sort_unstable();
            v.dedup();
            v
        };
        let taken = a.succeeded_indexes.with_indexes(&running);
        let indexes = taken.first_missing(n, c);
        if indexes.is_empty() {
            return Manage::Nothing;
        }
        return Manage::Create(indexes.into_iter().map(Some).collect());
    }
    Manage::Create(vec![None; n])
}

/// Upstream `activePodsForRemoval`: for Indexed Jobs every pod without a valid index and
/// every duplicate of an index first, then the least advanced pods, until `at_least`.
pub fn pods_for_removal(job: &Job, active: &[&PodInfo], at_least: usize, now: Timestamp) -> Vec<String> {
    let order = |a: &&PodInfo, b: &&PodInfo| deletion_order(a, 0, b, 0, now);
    let mut rm: Vec<&PodInfo> = Vec::new();
    let mut left: Vec<&PodInfo> = Vec::new();
    if is_indexed(job) {
        let c = completions(job).unwrap_or(0);
        let mut by_index: std::collections::BTreeMap<i32, Vec<&PodInfo>> = std::collections::BTreeMap::new();
        for p in active {
            match p.index().filter(|i| *i < c) {
                Some(i) => by_index.entry(i).or_default().push(p),
                None => rm.push(p),
            }
        }
        for (_, mut same) in by_index {
            same.sort_by(order);
            // The most advanced pod of the index stays.
            if let Some(keep) = same.pop() {
                left.push(keep);
            }
            rm.extend(same);
        }
    } else {
        left = active.to_vec();
    }
    if rm.len() < at_least {
        left.sort_by(order);
        let more = at_least - rm.len();
        rm.extend(left.into_iter().take(more));
    }
    rm.into_iter().map(|p| p.name.clone()).collect()
}

/// The result of the writes [`manage`] asked for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Done {
    /// Pods created, or deleted.
    pub count: i32,
    /// Of the deleted pods, how many were ready.
    pub ready: i32,
}

/// An event to record on the Job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub warning: bool,
    pub reason: String,
    pub message: String,
}

fn normal(reason: &str, message: &str) -> Event {
    Event { warning: false, reason: reason.into(), message: message.into() }
}

/// The status after the pod writes: counts, and the suspend or finish conditions.
#[derive(Debug, Clone)]
pub struct Concluded {
    pub status: JobStatus,
    pub finished: Option<JobCondition>,
    pub terminating: i32,
    pub needs_update: bool,
    pub events: Vec<Event>,
}

pub fn conclude(input: &Input, a: &Assessment, m: &Manage, done: Done) -> Concluded {
    let job = input.job;
    let now = input.now;
    let mut status = a.status.clone();
    let mut active = a.active.len() as i32;
    let mut ready = a.ready;
    let mut terminating = a.terminating;
    let mut finished = a.finished.clone();
    let mut events = Vec::new();
    let mut suspend_changed = false;
    match m {
        Manage::Terminate(_) => {
            if done.count != active || !input.satisfied {
                // Pods not deleted yet, or not yet seen: finish in a later sync.
                finished = None;
            }
            active -= done.count;
            terminating += done.count;
            ready -= done.ready;
        }
        _ if finished.is_some() => {}
        _ => {
            match m {
                Manage::Remove(_) => {
                    active -= done.count;
                    terminating += done.count;
                    ready -= done.ready;
                }
                Manage::Create(_) => active += done.count,
                _ => {}
            }
            let complete = match completions(job) {
                None => a.succeeded > 0 && active == 0,
                Some(c) => a.succeeded >= c && active == 0,
            };
            let managed = input.satisfied && job.metadata.deletion_timestamp.is_none();
            if complete {
                finished = Some(new_condition(SUCCESS_CRITERIA_MET, "True", "CompletionsReached", "Reached expected number of succeeded pods", now));
            } else if managed {
                if is_suspended(job) {
                    if ensure_condition(&mut status, SUSPENDED, "True", "JobSuspended", "Job suspended", now) {
                        suspend_changed = true;
                        events.push(normal("Suspended", "Job suspended"));
                    }
                } else if ensure_condition(&mut status, SUSPENDED, "False", "JobResumed", "Job resumed", now) {
                    suspend_changed = true;
                    events.push(normal("Resumed", "Job resumed"));
                    // activeDeadlineSeconds counts from the resumption.
                    status.start_time = Some(Time(truncate(now)));
                }
            }
        }
    }
    let old = job.status.clone().unwrap_or_default();
    let needs_update = suspend_changed
        || active != old.active.unwrap_or(0)
        || Some(ready) != old.ready
        || Some(terminating) != old.terminating
        || status.start_time != old.start_time;
    status.active = (active != 0).then_some(active);
    status.ready = Some(ready);
    status.terminating = Some(terminating);
    Concluded { status, finished, terminating, needs_update, events }
}

/// Which finished pods to count and release (upstream `trackJobStatusAndRemoveFinalizers`
/// up to the writes).
#[derive(Debug, Clone)]
pub struct Tracking {
    pub status: JobStatus,
    /// Pods whose tracking finalizer comes off once `status` is written.
    pub release: Vec<String>,
    /// Uids of the Job's pods that still hold the finalizer.
    pub with_finalizer: HashSet<String>,
    pub needs_flush: bool,
    pub reached_max: bool,
    /// The final condition (Failed or Complete) once the interim one is written.
    pub finished: Option<JobCondition>,
}

pub fn track(input: &Input, a: &Assessment, c: Concluded) -> Tracking {
    let job = input.job;
    let now = input.now;
    let mut status = c.status;
    let mut needs_flush = c.needs_update;
    let mut finished = c.finished;
    let indexed = is_indexed(job);
    let completions = completions(job).unwrap_or(0);
    let mut pods: Vec<&PodInfo> = input.pods.clone();
    if indexed {
        pods.sort_by_key(|p| p.index().unwrap_or(-1));
    }
    let with_finalizer: HashSet<String> =
        pods.iter().filter(|p| input.tracked(p) && !input.expected_removals.contains(&p.uid)).map(|p| p.uid.clone()).collect();
    if clean_uncounted(&mut status, &with_finalizer) {
        needs_flush = true;
    }
    let policy = spec(job).pod_failure_policy.as_ref();
    let mut uncounted = status.uncounted_terminated_pods.take().unwrap_or_default();
    let mut unc_succeeded = uncounted.succeeded.take().unwrap_or_default();
    let mut unc_failed = uncounted.failed.take().unwrap_or_default();
    let mut new_indexes: Vec<i32> = Vec::new();
    let mut release = Vec::new();
    let mut reached_max = false;
    let ending = finished.as_ref().is_some_and(|f| f.type_ != SUCCESS_CRITERIA_MET);
    for p in &pods {
        if !input.tracked(p) || input.expected_removals.contains(&p.uid) {
            continue;
        }
        let failed = is_pod_failed(p, job);
        let can_release = job.metadata.deletion_timestamp.is_some() || finished.is_some() || p.succeeded() || failed;
        if !can_release {
            continue;
        }
        release.push(p.name.clone());
        if p.succeeded() && !a.uncounted_failed.contains(&p.uid) {
            if indexed {
                if let Some(ix) = p.index().filter(|i| *i < completions && !a.prev_succeeded_indexes.has(*i)) {
                    new_indexes.push(ix);
                    needs_flush = true;
                }
            } else if !a.uncounted_succeeded.contains(&p.uid) && !unc_succeeded.contains(&p.uid) {
                needs_flush = true;
                unc_succeeded.push(p.uid.clone());
            }
        } else if failed || ending {
            let valid = !indexed || p.index().is_some_and(|i| i < completions);
            if !a.uncounted_failed.contains(&p.uid) && !unc_failed.contains(&p.uid) && valid {
                let counts = match policy {
                    Some(_) => {
                        let v = match_pod_failure_policy(policy, p);
                        v.counts || v.action == Some(Action::FailIndex)
                    }
                    None => true,
                };
                if counts {
                    needs_flush = true;
                    unc_failed.push(p.uid.clone());
                }
            }
        }
        if new_indexes.len() + unc_succeeded.len() + unc_failed.len() >= MAX_UNCOUNTED {
            reached_max = true;
            break;
        }
    }
    uncounted.succeeded = Some(unc_succeeded).filter(|v| !v.is_empty());
    uncounted.failed = Some(unc_failed).filter(|v| !v.is_empty());
    status.uncounted_terminated_pods = Some(uncounted);
    if indexed {
        new_indexes.sort_unstable();
        new_indexes.dedup();
        let all = a.succeeded_indexes.with_indexes(&new_indexes);
        let text = all.to_string();
        if status.completed_indexes.as_deref().unwrap_or("") != text {
            needs_flush = true;
        }
        let total = all.total();
        status.succeeded = (total != 0).then_some(total);
        status.completed_indexes = (!text.is_empty()).then_some(text);
    }
    if let Some(f) = finished.clone() {
        if f.type_ == FAILURE_TARGET {
            status.conditions.get_or_insert_with(Vec::new).push(f.clone());
            needs_flush = true;
            finished = Some(new_condition(FAILED, "True", f.reason.as_deref().unwrap_or(""), f.message.as_deref().unwrap_or(""), now));
        } else if f.type_ == SUCCESS_CRITERIA_MET {
            if has_condition(&status, SUCCESS_CRITERIA_MET).is_none() {
                status.conditions.get_or_insert_with(Vec::new).push(f.clone());
                needs_flush = true;
            }
            finished = Some(new_condition(COMPLETE, "True", f.reason.as_deref().unwrap_or(""), f.message.as_deref().unwrap_or(""), now));
        }
    }
    Tracking { status, release, with_finalizer, needs_flush, reached_max, finished }
}

/// Moves pods that lost their finalizer from uncountedTerminatedPods to the counters
/// (upstream `cleanUncountedPodsWithoutFinalizers`); whether anything changed.
pub fn clean_uncounted(status: &mut JobStatus, with_finalizer: &HashSet<String>) -> bool {
    let mut changed = false;
    let uncounted = status.uncounted_terminated_pods.get_or_insert_with(UncountedTerminatedPods::default);
    let mut add_succeeded = 0;
    let mut add_failed = 0;
    for (list, add) in [(&mut uncounted.succeeded, &mut add_succeeded), (&mut uncounted.failed, &mut add_failed)] {
        if let Some(v) = list {
            let before = v.len();
            v.retain(|uid| with_finalizer.contains(uid));
            if v.len() != before {
                changed = true;
                *add = (before - v.len()) as i32;
            }
            if v.is_empty() {
                *list = None;
            }
        }
    }
    if add_succeeded > 0 {
        status.succeeded = Some(status.succeeded.unwrap_or(0) + add_succeeded);
    }
    if add_failed > 0 {
        status.failed = Some(status.failed.unwrap_or(0) + add_failed);
    }
    changed
}

/// Adds the final condition once nothing is left uncounted or terminating (upstream
/// `enactJobFinished`); whether the Job finished.
pub fn enact_finished(status: &mut JobStatus, finished: Option<&JobCondition>, terminating: i32, now: Timestamp) -> bool {
    let Some(f) = finished else { return false };
    let uncounted = status.uncounted_terminated_pods.as_ref();
    let pending = uncounted.map(|u| u.succeeded.as_ref().map_or(0, Vec::len) + u.failed.as_ref().map_or(0, Vec::len)).unwrap_or(0);
    if pending > 0 || terminating > 0 {
        return false;
    }
    ensure_condition(status, &f.type_, &f.status, f.reason.as_deref().unwrap_or(""), f.message.as_deref().unwrap_or(""), now);
    if f.type_ == COMPLETE {
        status.completion_time = Some(Time(truncate(now)));
    }
    true
}

/// The events of a finished Job (upstream `recordJobFinished`).
pub fn finish_events(job: &Job, status: &JobStatus, f: &JobCondition) -> Vec<Event> {
    if f.type_ == COMPLETE {
        let mut out = Vec::new();
        if completions(job).is_some_and(|c| status.succeeded.unwrap_or(0) > c) {
            out.push(Event { warning: true, reason: "TooManySucceededPods".into(), message: "Too many succeeded pods running after completion count reached".into() });
        }
        out.push(normal("Completed", "Job completed"));
        out
    } else {
        vec![Event { warning: true, reason: f.reason.clone().unwrap_or_default(), message: f.message.clone().unwrap_or_default() }]
    }
}

/// The pod for one completion (index for Indexed Jobs): the template with the tracking
/// finalizer, the Job as controller, and for an index its annotation, label, hostname
/// and `JOB_COMPLETION_INDEX`.
pub fn pod_from_template(job: &Job, index: Option<i32>) -> Pod {
    let spec = spec(job);
    let PodTemplateSpec { metadata, spec: pod_spec } = spec.template.clone();
    let meta = metadata.unwrap_or_default();
    let name = job.metadata.name.clone().unwrap_or_default();
    let mut finalizers = meta.finalizers.unwrap_or_default();
    if !finalizers.iter().any(|f| f == TRACKING_FINALIZER) {
        finalizers.push(TRACKING_FINALIZER.to_string());
    }
    let mut labels = meta.labels;
    let mut annotations = meta.annotations;
    let mut pod_spec = pod_spec.unwrap_or_default();
    let generate_name = match index {
        None => format!("{name}-"),
        Some(i) => {
            let ix = i.to_string();
            annotations.get_or_insert_with(Default::default).insert(COMPLETION_INDEX.into(), ix.clone());
            labels.get_or_insert_with(Default::default).insert(COMPLETION_INDEX.into(), ix.clone());
            pod_spec.hostname = Some(format!("{name}-{i}"));
            for c in pod_spec.containers.iter_mut().chain(pod_spec.init_containers.iter_mut().flatten()) {
                let env = c.env.get_or_insert_with(Vec::new);
                if !env.iter().any(|e| e.name == "JOB_COMPLETION_INDEX") {
                    env.push(EnvVar {
                        name: "JOB_COMPLETION_INDEX".into(),
                        value: None,
                        value_from: Some(EnvVarSource {
                            field_ref: Some(ObjectFieldSelector { api_version: None, field_path: format!("metadata.labels['{COMPLETION_INDEX}']") }),
                            ..Default::default()
                        }),
                    });
                }
            }
            generate_name_with_index(&name, i)
        }
    };
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(generate_name),
            namespace: job.metadata.namespace.clone(),
            labels,
            annotations,
            finalizers: Some(finalizers),
            owner_references: Some(vec![crate::claims::controller_ref(
                "batch/v1",
                "Job",
                &name,
                job.metadata.uid.as_deref().unwrap_or(""),
            )]),
            ..Default::default()
        },
        spec: Some(pod_spec),
        status: None,
    }
}

/// `<job>-<index>-`, the job name cut so that the prefix stays within 58 characters.
pub fn generate_name_with_index(job: &str, index: i32) -> String {
    const MAX_GENERATED_NAME_LENGTH: usize = 58;
    let append = format!("-{index}-");
    let prefix = format!("{job}{append}");
    if prefix.len() > MAX_GENERATED_NAME_LENGTH {
        let keep = MAX_GENERATED_NAME_LENGTH - append.len();
        format!("{}{append}", job.get(..keep).unwrap_or(job))
    } else {
        prefix
    }
}
