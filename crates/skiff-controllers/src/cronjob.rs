//! CronJob: starts a Job from the template at each time of the schedule (five fields or a
//! descriptor, in `spec.timeZone` or the controller's zone), named `<cronjob>-<scheduled
//! time in minutes since the epoch>` so that one scheduled time never gets two Jobs.
//! After a downtime only the most recent missed time is started (and more than 100
//! missed times give upstream's TooManyMissedTimes warning); a time older than
//! `startingDeadlineSeconds` is skipped with a MissSchedule event. concurrencyPolicy
//! Forbid skips a time while a Job runs, Replace deletes the running Jobs first. A
//! suspended CronJob starts nothing. Finished Jobs beyond the history limits
//! (successfulJobsHistoryLimit, failedJobsHistoryLimit) are deleted, oldest first.
//! Status: `active` (the running Jobs), `lastScheduleTime`, `lastSuccessfulTime`.
//!
//! [`plan`] decides from the CronJob, its Jobs and the time; the loop applies it.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use jiff::tz::TimeZone;
use jiff::Timestamp;
use k8s_openapi::api::batch::v1::{CronJob, CronJobStatus, Job};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};
use kube::api::{Api, DeleteParams, PostParams, PropagationPolicy};
use skiff_api::validation::cron::{self, Schedule};

use crate::informer::{Cached, Change, Informer};
use crate::job::sync::{finished_condition, COMPLETE, FAILED};
use crate::queue::Queue;
use crate::{is_namespace_terminating, spawn_workers, Shared, SyncError};

pub const SCHEDULED_TIMESTAMP: &str = "batch.kubernetes.io/cronjob-scheduled-timestamp";
/// A little after the scheduled time, for clock skew (upstream `nextScheduleDelta`).
const NEXT_SCHEDULE_DELTA: Duration = Duration::from_millis(100);
/// Many CronJobs come due at the same second: enough workers to start them together (the
/// writes are bounded by the shared write slots).
const WORKERS: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missed {
    None,
    Few,
    Many,
}

fn creation(cj: &CronJob) -> Timestamp {
    cj.metadata.creation_timestamp.as_ref().map(|t| t.0).unwrap_or(Timestamp::UNIX_EPOCH)
}

fn status(cj: &CronJob) -> CronJobStatus {
    cj.status.clone().unwrap_or_default()
}

/// Upstream `mostRecentScheduleTime`: the time counted from (last schedule or creation,
/// or `now - startingDeadlineSeconds` if later and asked for), the most recent scheduled
/// time not after `now`, and how many were missed.
pub fn most_recent(cj: &CronJob, now: Timestamp, sched: &Schedule, zone: &TimeZone, with_deadline: bool) -> Result<(Timestamp, Option<Timestamp>, Missed), String> {
    let spec = cj.spec.clone().unwrap_or_default();
    let mut earliest = status(cj).last_schedule_time.map(|t| t.0).unwrap_or_else(|| creation(cj));
    if with_deadline {
        if let Some(d) = spec.starting_deadline_seconds {
            let deadline = now - jiff::SignedDuration::from_secs(d);
            if deadline > earliest {
                earliest = deadline;
            }
        }
    }
    let Some(t1) = sched.next(earliest, zone) else { return Ok((earliest, None, Missed::None)) };
    if now < t1 {
        return Ok((earliest, None, Missed::None));
    }
    let Some(t2) = sched.next(t1, zone) else { return Ok((earliest, Some(t1), Missed::None)) };
    if now < t2 {
        return Ok((earliest, Some(t1), Missed::None));
    }
    let between = t2.duration_since(t1).as_secs_f64().round() as i64;
    if between < 1 {
        return Err("time difference between two schedules is less than 1 second".into());
    }
    let elapsed = now.duration_since(t1).as_secs();
    let missed = elapsed / between + 1;
    // Back one interval more than the estimate, then walk the schedule up to now.
    let start = t1 + jiff::SignedDuration::from_secs((missed - 2) * between);
    let mut most_recent = None;
    let mut t = sched.next(start, zone);
    while let Some(x) = t.filter(|x| *x <= now) {
        most_recent = Some(x);
        t = sched.next(x, zone);
    }
    let kind = if missed > 100 { Missed::Many } else { Missed::Few };
    Ok((earliest, most_recent, kind))
}

/// When to look again: just after the next scheduled time (upstream
/// `nextScheduleTimeDuration`).
pub fn next_schedule_in(cj: &CronJob, now: Timestamp, sched: &Schedule, zone: &TimeZone) -> Option<Duration> {
    let from = match most_recent(cj, now, sched, zone, false) {
        Err(_) => now,
        Ok((_, Some(t), _)) => t,
        Ok((earliest, None, Missed::None)) => earliest,
        Ok((_, None, _)) => now,
    };
    let next = sched.next(from, zone)?;
    let d = Duration::try_from(next.duration_since(now)).unwrap_or(Duration::ZERO);
    Some(d + NEXT_SCHEDULE_DELTA)
}

/// The schedule with the CronJob's time zone applied (upstream `formatSchedule`).
fn schedule_of(cj: &CronJob) -> (String, bool) {
    let spec = cj.spec.clone().unwrap_or_default();
    if spec.schedule.contains("TZ") {
        return (spec.schedule, true);
    }
    match spec.time_zone {
        Some(tz) if cron::load_location(&tz).is_ok() => (format!("TZ={tz} {}", spec.schedule), false),
        _ => (spec.schedule, false),
    }
}

/// `<cronjob>-<scheduled time in minutes>`.
pub fn job_name(cj: &CronJob, scheduled: Timestamp) -> String {
    format!("{}-{}", cj.name(), scheduled.as_second() / 60)
}

/// Go's RFC 3339 (`Z` for a zero offset).
fn rfc3339(t: Timestamp, zone: &TimeZone) -> String {
    let z = t.to_zoned(zone.clone());
    if z.offset().seconds() == 0 {
        z.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
    } else {
        z.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
    }
}

/// The Job for a scheduled time (upstream `getJobFromTemplate2`).
pub fn job_from_template(cj: &CronJob, scheduled: Timestamp) -> Job {
    let spec = cj.spec.clone().unwrap_or_default();
    let template = spec.job_template;
    let meta = template.metadata.unwrap_or_default();
    let zone = match spec.time_zone.as_deref() {
        Some(tz) if !tz.is_empty() && tz != "UTC" => TimeZone::get(tz).unwrap_or(TimeZone::UTC),
        _ => TimeZone::UTC,
    };
    let mut annotations = meta.annotations.unwrap_or_default();
    annotations.insert(SCHEDULED_TIMESTAMP.into(), rfc3339(scheduled, &zone));
    Job {
        metadata: ObjectMeta {
            name: Some(job_name(cj, scheduled)),
            namespace: cj.metadata.namespace.clone(),
            labels: meta.labels,
            annotations: Some(annotations),
            owner_references: Some(vec![OwnerReference {
                api_version: "batch/v1".into(),
                kind: "CronJob".into(),
                name: cj.name().to_string(),
                uid: cj.metadata.uid.clone().unwrap_or_default(),
                controller: Some(true),
                block_owner_deletion: Some(true),
            }]),
            ..Default::default()
        },
        spec: Some(template.spec.unwrap_or_default()),
        status: None,
    }
}

pub fn job_ref(job: &Job) -> ObjectReference {
    ObjectReference {
        api_version: Some("batch/v1".into()),
        kind: Some("Job".into()),
        name: job.metadata.name.clone(),
        namespace: job.metadata.namespace.clone(),
        uid: job.metadata.uid.clone(),
        resource_version: job.metadata.resource_version.clone(),
        field_path: None,
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub warning: bool,
    pub reason: String,
    pub message: String,
}

fn ev(warning: bool, reason: &str, message: impl Into<String>) -> Event {
    Event { warning, reason: reason.into(), message: message.into() }
}

/// What one sync of a CronJob does.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The status once the finished Jobs are accounted for (the loop adds the Job it
    /// creates, and drops those it deletes).
    pub status: CronJobStatus,
    pub status_changed: bool,
    /// Finished Jobs beyond the history limits, oldest first.
    pub prune: Vec<Arc<Job>>,
    /// Running Jobs to delete before creating (Replace).
    pub replace: Vec<ObjectReference>,
    pub create: Option<(Job, Timestamp)>,
    pub events: Vec<Event>,
    pub requeue_after: Option<Duration>,
}

fn in_active(status: &CronJobStatus, uid: &str) -> bool {
    status.active.iter().flatten().any(|r| r.uid.as_deref() == Some(uid))
}

fn remove_active(status: &mut CronJobStatus, uid: &str) {
    if let Some(a) = status.active.as_mut() {
        a.retain(|r| r.uid.as_deref() != Some(uid));
    }
}

/// Finished Jobs of one kind beyond `limit`, oldest start first (upstream
/// `removeOldestJobs`: no start time sorts last, names break ties).
fn oldest_beyond(mut jobs: Vec<Arc<Job>>, limit: Option<i32>) -> Vec<Arc<Job>> {
    let Some(limit) = limit else { return Vec::new() };
    let n = jobs.len().saturating_sub(limit.max(0) as usize);
    if n == 0 {
        return Vec::new();
    }
    let start = |j: &Job| j.status.as_ref().and_then(|s| s.start_time.as_ref()).map(|t| t.0);
    jobs.sort_by(|a, b| match (start(a), start(b)) {
        (Some(x), Some(y)) if x != y => x.cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        _ => a.name().cmp(b.name()),
    });
    jobs.truncate(n);
    jobs
}

/// Decides one sync (upstream `cleanupFinishedJobs` then `syncCronJob`). `jobs` are the
/// Jobs the CronJob controls; `gone` the uids of active Jobs the API no longer has;
/// `zone` the controller's time zone for schedules without `timeZone`.
pub fn plan(cj: &CronJob, jobs: &[Arc<Job>], gone: &HashSet<String>, now: Timestamp, zone: &TimeZone) -> Plan {
    let spec = cj.spec.clone().unwrap_or_default();
    let mut st = status(cj);
    let mut changed = false;
    let mut events = Vec::new();
    let finished_as = |j: &Job| finished_condition(j).map(|c| c.type_.clone());

    // History limits.
    let successful: Vec<Arc<Job>> = jobs.iter().filter(|j| finished_as(j).as_deref() == Some(COMPLETE)).cloned().collect();
    let failed: Vec<Arc<Job>> = jobs.iter().filter(|j| finished_as(j).as_deref() == Some(FAILED)).cloned().collect();
    let mut prune = oldest_beyond(successful, spec.successful_jobs_history_limit);
    prune.extend(oldest_beyond(failed, spec.failed_jobs_history_limit));
    let pruned: HashSet<String> = prune.iter().filter_map(|j| j.metadata.uid.clone()).collect();

    let mut children = HashSet::new();
    for j in jobs {
        let uid = j.metadata.uid.clone().unwrap_or_default();
        children.insert(uid.clone());
        let found = in_active(&st, &uid);
        match finished_condition(j) {
            None if !found => events.push(ev(true, "UnexpectedJob", format!("Saw a job that the controller did not create or forgot: {}", j.name()))),
            None => {}
            Some(cond) => {
                if found {
                    remove_active(&mut st, &uid);
                    if !pruned.contains(&uid) {
                        events.push(ev(false, "SawCompletedJob", format!("Saw completed job: {}, condition: {}", j.name(), cond.type_)));
                    }
                    changed = true;
                }
                if cond.type_ == COMPLETE {
                    let done = j.status.as_ref().and_then(|s| s.completion_time.clone());
                    match (&st.last_successful_time, done) {
                        (None, d) => {
                            st.last_successful_time = d;
                            changed = true;
                        }
                        (Some(last), Some(d)) if d.0 > last.0 => {
                            st.last_successful_time = Some(d);
                            changed = true;
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    for r in st.active.clone().unwrap_or_default() {
        let uid = r.uid.clone().unwrap_or_default();
        if !children.contains(&uid) && gone.contains(&uid) {
            events.push(ev(false, "MissingJob", format!("Active job went missing: {}", r.name.as_deref().unwrap_or(""))));
            remove_active(&mut st, &uid);
            changed = true;
        }
    }
    let mut out = Plan { status: st, status_changed: changed, prune, replace: Vec::new(), create: None, events, requeue_after: None };
    if cj.metadata.deletion_timestamp.is_some() {
        return out;
    }
    if let Some(tz) = &spec.time_zone {
        if let Err(e) = cron::load_location(tz) {
            out.events.push(ev(true, "UnknownTimeZone", format!("invalid timeZone: {}: {e}", skiff_api::validation::field_error::go_quote(tz))));
            return out;
        }
    }
    if spec.suspend == Some(true) {
        return out;
    }
    let (text, tz_in_schedule) = schedule_of(cj);
    if tz_in_schedule {
        out.events.push(ev(
            true,
            "UnsupportedSchedule",
            format!(
                "CRON_TZ or TZ used in schedule {} is not officially supported, see https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/ for more details",
                skiff_api::validation::field_error::go_quote(&spec.schedule)
            ),
        ));
    }
    let sched = match cron::parse(&text) {
        Ok(s) => s,
        Err(e) => {
            out.events.push(ev(true, "UnparseableSchedule", format!("unparseable schedule: {} : {e}", skiff_api::validation::field_error::go_quote(&spec.schedule))));
            return out;
        }
    };
    // The CronJob as it will be after this sync, for the next wake-up.
    let requeue = |st: &CronJobStatus| {
        let mut after = cj.clone();
        after.status = Some(st.clone());
        next_schedule_in(&after, now, &sched, zone)
    };
    // A scheduled time that is past the starting deadline is skipped, with an event.
    if let Some(d) = spec.starting_deadline_seconds {
        if let Ok((_, Some(t), _)) = most_recent(cj, now, &sched, zone, false) {
            let processed = out.status.last_schedule_time.as_ref().is_some_and(|l| l.0 == t);
            if !processed && t + jiff::SignedDuration::from_secs(d) < now {
                let when = t.to_zoned(TimeZone::UTC).strftime("%a, %d %b %Y %H:%M:%S %z").to_string();
                out.events.push(ev(true, "MissSchedule", format!("Missed scheduled time to start a job: {when}")));
            }
        }
    }
    let scheduled = match most_recent(cj, now, &sched, zone, true) {
        Err(e) => {
            out.events.push(ev(true, "InvalidSchedule", format!("invalid schedule: {} : {e}", spec.schedule)));
            return out;
        }
        Ok((_, t, missed)) => {
            if t.is_some() && missed == Missed::Many {
                out.events.push(ev(true, "TooManyMissedTimes", "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew"));
            }
            t
        }
    };
    let Some(scheduled) = scheduled else {
        out.requeue_after = requeue(&out.status);
        return out;
    };
    let name = job_name(cj, scheduled);
    let already = out.status.active.iter().flatten().any(|r| r.name.as_deref() == Some(name.as_str()))
        || out.status.last_schedule_time.as_ref().is_some_and(|l| l.0 == scheduled);
    if already {
        out.requeue_after = requeue(&out.status);
        return out;
    }
    let active = out.status.active.as_ref().is_some_and(|a| !a.is_empty());
    match spec.concurrency_policy.as_deref() {
        Some("Forbid") if active => {
            out.events.push(ev(false, "JobAlreadyActive", "Not starting job because prior execution is running and concurrency policy is Forbid"));
            out.requeue_after = requeue(&out.status);
            return out;
        }
        Some("Replace") => out.replace = out.status.active.clone().unwrap_or_default(),
        _ => {}
    }
    out.create = Some((job_from_template(cj, scheduled), scheduled));
    let mut next = out.status.clone();
    next.last_schedule_time = Some(Time(scheduled));
    out.requeue_after = requeue(&next);
    out
}

/// A delete that found nothing succeeded.
fn gone_ok(e: kube::Error) -> Option<kube::Error> {
    match &e {
        kube::Error::Api(s) if s.code == 404 => None,
        _ => Some(e),
    }
}

pub struct Controller {
    shared: Arc<Shared>,
    cronjobs: Arc<Informer<CronJob>>,
    jobs: Arc<Informer<Job>>,
    queue: Arc<Queue<String>>,
    recorder: crate::events::Recorder,
    zone: TimeZone,
}

fn key_of<T: Cached>(o: &T) -> String {
    format!("{}/{}", o.namespace(), o.name())
}

pub fn start(shared: &Arc<Shared>, cronjobs: &Arc<Informer<CronJob>>, jobs: &Arc<Informer<Job>>) {
    let c = Arc::new(Controller {
        shared: shared.clone(),
        cronjobs: cronjobs.clone(),
        jobs: jobs.clone(),
        queue: Arc::new(Queue::new()),
        recorder: shared.recorder("cronjob-controller"),
        // Schedules without a timeZone are read in the controller's zone, as upstream.
        zone: TimeZone::system(),
    });
    let h = c.clone();
    cronjobs.on_change(move |change| h.cronjob_changed(change));
    let h = c.clone();
    jobs.on_change(move |change| h.job_changed(change));
    let w = c.clone();
    spawn_workers(c.queue.clone(), WORKERS, vec![cronjobs.store.clone(), jobs.store.clone()], move |key| {
        let w = w.clone();
        async move { w.sync(&key).await }
    });
}

impl Controller {
    fn cronjob_changed(&self, change: &Change<CronJob>) {
        match change {
            Change::Updated(old, new) => {
                let (o, n) = (old.spec.clone().unwrap_or_default(), new.spec.clone().unwrap_or_default());
                if o.schedule != n.schedule || o.time_zone != n.time_zone {
                    let (text, _) = schedule_of(new);
                    match cron::parse(&text) {
                        Ok(s) => {
                            let after = next_schedule_in(new, self.shared.clock.now(), &s, &self.zone).unwrap_or(Duration::ZERO);
                            self.queue.add_after(key_of(&**new), after);
                        }
                        Err(_) => self.recorder.warning(
                            crate::events::reference(&**new),
                            "UnParseableCronJobSchedule",
                            format!("unparseable schedule for cronjob: {}", n.schedule),
                        ),
                    }
                    return;
                }
                self.queue.add(key_of(&**new));
            }
            Change::Added(c) | Change::Deleted(c) => self.queue.add(key_of(&**c)),
        }
    }

    fn resolve(&self, namespace: &str, r: &OwnerReference) -> Option<Arc<CronJob>> {
        if r.kind != "CronJob" {
            return None;
        }
        let c = self.cronjobs.store.get(namespace, &r.name)?;
        (c.metadata.uid.as_deref() == Some(r.uid.as_str())).then_some(c)
    }

    fn job_changed(&self, change: &Change<Job>) {
        let mut owners = Vec::new();
        match change {
            Change::Updated(old, new) => {
                owners.extend(crate::pods::controller_of(old.metadata.owner_references.as_deref().unwrap_or_default()).cloned());
                owners.extend(crate::pods::controller_of(new.metadata.owner_references.as_deref().unwrap_or_default()).cloned());
            }
            Change::Added(j) | Change::Deleted(j) => owners.extend(crate::pods::controller_of(j.metadata.owner_references.as_deref().unwrap_or_default()).cloned()),
        }
        let ns = change.latest().namespace().to_string();
        for r in owners {
            if let Some(c) = self.resolve(&ns, &r) {
                self.queue.add(key_of(&*c));
            }
        }
    }

    fn owned_jobs(&self, cj: &CronJob) -> Vec<Arc<Job>> {
        let uid = cj.metadata.uid.as_deref().unwrap_or("");
        self.jobs
            .store
            .list_namespace(cj.namespace())
            .into_iter()
            .filter(|j| crate::pods::controller_of(j.metadata.owner_references.as_deref().unwrap_or_default()).is_some_and(|r| r.uid == uid))
            .collect()
    }

    async fn sync(&self, key: &str) -> Result<(), SyncError> {
        let Some((ns, name)) = key.split_once('/') else { return Ok(()) };
        let Some(mut cj) = self.cronjobs.store.get(ns, name) else { return Ok(()) };
        let jobs = self.owned_jobs(&cj);
        let jobs_api: Api<Job> = Api::namespaced(self.shared.client.clone(), ns);
        let cj_api: Api<CronJob> = Api::namespaced(self.shared.client.clone(), ns);
        // A running Job not in the active list may be one the cached status does not
        // show yet: read the CronJob afresh before calling it unexpected.
        let listed = |c: &CronJob, uid: &str| c.status.iter().flat_map(|s| s.active.iter().flatten()).any(|r| r.uid.as_deref() == Some(uid));
        if jobs.iter().any(|j| finished_condition(j).is_none() && !listed(&cj, j.metadata.uid.as_deref().unwrap_or(""))) {
            match cj_api.get(name).await {
                Ok(fresh) if fresh.metadata.uid == cj.metadata.uid => cj = Arc::new(fresh),
                Ok(_) => return Ok(()),
                Err(kube::Error::Api(s)) if s.code == 404 => return Ok(()),
                Err(e) => return Err(e.into()),
            }
        }
        // Active Jobs the cache lacks: gone only if the API says so.
        let known: HashSet<String> = jobs.iter().filter_map(|j| j.metadata.uid.clone()).collect();
        let mut gone = HashSet::new();
        for r in cj.status.iter().flat_map(|s| s.active.iter().flatten()) {
            let uid = r.uid.clone().unwrap_or_default();
            if known.contains(&uid) {
                continue;
            }
            match jobs_api.get(r.name.as_deref().unwrap_or("")).await {
                Err(kube::Error::Api(s)) if s.code == 404 => {
                    gone.insert(uid);
                }
                Ok(j) if j.metadata.uid.as_deref() != Some(uid.as_str()) => {
                    gone.insert(uid);
                }
                Ok(_) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let now = self.shared.clock.now();
        let plan = plan(&cj, &jobs, &gone, now, &self.zone);
        let reference = crate::events::reference(&*cj);
        for e in &plan.events {
            if e.warning {
                self.recorder.warning(reference.clone(), &e.reason, e.message.clone());
            } else {
                self.recorder.normal(reference.clone(), &e.reason, e.message.clone());
            }
        }
        let mut status = plan.status.clone();
        let mut changed = plan.status_changed;
        let background = DeleteParams { propagation_policy: Some(PropagationPolicy::Background), ..Default::default() };
        for j in &plan.prune {
            match jobs_api.delete(j.name(), &background).await.map_err(gone_ok) {
                Ok(_) | Err(None) => {
                    remove_active(&mut status, j.metadata.uid.as_deref().unwrap_or(""));
                    changed = true;
                    self.recorder.normal(reference.clone(), "SuccessfulDelete", format!("Deleted job {}", j.name()));
                }
                Err(Some(e)) => self.recorder.warning(reference.clone(), "FailedDelete", format!("Deleted job: {}", crate::replicaset::api_message(&e))),
            }
        }
        let mut result = Ok(());
        let mut requeue = plan.requeue_after;
        if let Some((job, scheduled)) = &plan.create {
            for r in &plan.replace {
                let name = r.name.clone().unwrap_or_default();
                match jobs_api.delete(&name, &background).await.map_err(gone_ok) {
                    Ok(_) | Err(None) => {
                        remove_active(&mut status, r.uid.as_deref().unwrap_or(""));
                        changed = true;
                        self.recorder.normal(reference.clone(), "SuccessfulDelete", format!("Deleted job {name}"));
                    }
                    Err(Some(e)) => {
                        self.recorder.warning(reference.clone(), "FailedDelete", format!("Deleted job: {}", crate::replicaset::api_message(&e)));
                        result = Err(SyncError::Other(format!("could not replace job {ns}/{name}")));
                    }
                }
            }
            if result.is_ok() {
                let created = {
                    let _slot = self.shared.write_slot().await;
                    jobs_api.create(&PostParams::default(), job).await
                };
                let job_name = job.metadata.name.clone().unwrap_or_default();
                let made = match created {
                    Ok(j) => {
                        self.recorder.normal(reference.clone(), "SuccessfulCreate", format!("Created job {job_name}"));
                        Some(j)
                    }
                    Err(kube::Error::Api(s)) if s.code == 409 => match jobs_api.get(&job_name).await {
                        // Created before, but the status did not say so.
                        Ok(j) if crate::pods::controller_of(j.metadata.owner_references.as_deref().unwrap_or_default()).is_some_and(|r| Some(&r.uid) == cj.metadata.uid.as_ref())
                            && !in_active(&status, j.metadata.uid.as_deref().unwrap_or("")) =>
                        {
                            Some(j)
                        }
                        Ok(_) => None,
                        Err(e) => {
                            result = Err(e.into());
                            None
                        }
                    },
                    Err(e) if is_namespace_terminating(&e) => {
                        result = Err(e.into());
                        requeue = None;
                        None
                    }
                    Err(e) => {
                        self.recorder.warning(reference.clone(), "FailedCreate", format!("Error creating job: {}", crate::replicaset::api_message(&e)));
                        result = Err(e.into());
                        requeue = None;
                        None
                    }
                };
                if let Some(j) = made {
                    status.active.get_or_insert_with(Vec::new).push(job_ref(&j));
                    status.last_schedule_time = Some(Time(*scheduled));
                    changed = true;
                }
            }
        }
        if changed {
            let mut updated = (*cj).clone();
            updated.status = Some(status);
            cj_api.replace_status(name, &PostParams::default(), &updated).await?;
        }
        if let Some(after) = requeue {
            self.queue.add_after(key.to_string(), after);
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn cronjob(spec: serde_json::Value, status: serde_json::Value) -> CronJob {
        let mut spec = spec;
        let s = spec.as_object_mut().unwrap();
        s.entry("concurrencyPolicy").or_insert(json!("Allow"));
        s.entry("successfulJobsHistoryLimit").or_insert(json!(3));
        s.entry("failedJobsHistoryLimit").or_insert(json!(1));
        s.entry("jobTemplate").or_insert(json!({"metadata": {"labels": {"app": "hello"}}, "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}}));
        serde_json::from_value(json!({
            "metadata": {"name": "hello", "namespace": "default", "uid": "cj-uid", "creationTimestamp": "2024-05-01T10:00:30Z"},
            "spec": spec,
            "status": status,
        }))
        .unwrap()
    }

    fn child(name: &str, finished: Option<(&str, &str)>, start: &str) -> Arc<Job> {
        let mut status = json!({"startTime": start});
        if let Some((ty, at)) = finished {
            status["conditions"] = json!([{"type": ty, "status": "True"}]);
            if ty == "Complete" {
                status["completionTime"] = json!(at);
            }
        }
        Arc::new(
            serde_json::from_value(json!({
                "metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}"),
                             "ownerReferences": [{"apiVersion": "batch/v1", "kind": "CronJob", "name": "hello", "uid": "cj-uid", "controller": true}]},
                "spec": {"template": {}},
                "status": status,
            }))
            .unwrap(),
        )
    }

    fn utc() -> TimeZone {
        TimeZone::UTC
    }

    #[test]
    fn every_minute_creates_a_job_named_after_the_minute() {
        let cj = cronjob(json!({"schedule": "*/1 * * * *"}), json!({}));
        // Created 10:00:30; nothing due before 10:01.
        let p = plan(&cj, &[], &HashSet::new(), t("2024-05-01T10:00:50Z"), &utc());
        assert!(p.create.is_none());
        assert_eq!(p.requeue_after, Some(Duration::from_millis(10_100)));
        let p = plan(&cj, &[], &HashSet::new(), t("2024-05-01T10:01:00.2Z"), &utc());
        let (job, at) = p.create.clone().unwrap();
        assert_eq!(at, t("2024-05-01T10:01:00Z"));
        assert_eq!(job.metadata.name.as_deref(), Some(format!("hello-{}", at.as_second() / 60).as_str()));
        assert_eq!(job.metadata.name.as_deref(), Some("hello-28575961"));
        assert_eq!(job.metadata.annotations.as_ref().unwrap()[SCHEDULED_TIMESTAMP], "2024-05-01T10:01:00Z");
        assert_eq!(job.metadata.labels.as_ref().unwrap()["app"], "hello");
        let owner = &job.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!((owner.kind.as_str(), owner.controller), ("CronJob", Some(true)));
        // Next look: just after 10:02.
        assert_eq!(p.requeue_after, Some(Duration::from_millis(59_900)));
        // The same minute again (the status says it was scheduled): nothing.
        let done = cronjob(json!({"schedule": "*/1 * * * *"}), json!({"lastScheduleTime": "2024-05-01T10:01:00Z", "active": [{"name": "hello-28575961", "uid": "uid-hello-28575961"}]}));
        let p = plan(&done, &[child("hello-28575961", None, "2024-05-01T10:01:01Z")], &HashSet::new(), t("2024-05-01T10:01:30Z"), &utc());
        assert!(p.create.is_none());
        assert!(p.events.is_empty(), "{:?}", p.events);
    }

    #[test]
    fn time_zones_name_the_scheduled_time() {
        let cj = cronjob(json!({"schedule": "0 9 * * *", "timeZone": "Asia/Seoul"}), json!({}));
        let p = plan(&cj, &[], &HashSet::new(), t("2024-05-02T00:00:05Z"), &utc());
        let (job, at) = p.create.unwrap();
        assert_eq!(at, t("2024-05-02T00:00:00Z"), "09:00 in Seoul");
        assert_eq!(job.metadata.annotations.unwrap()[SCHEDULED_TIMESTAMP], "2024-05-02T09:00:00+09:00");
        // Without timeZone the controller's zone applies.
        let local = cronjob(json!({"schedule": "0 9 * * *"}), json!({}));
        let berlin = TimeZone::get("Europe/Berlin").unwrap();
        let p = plan(&local, &[], &HashSet::new(), t("2024-05-02T07:00:01Z"), &berlin);
        assert_eq!(p.create.unwrap().1, t("2024-05-02T07:00:00Z"));
        let bad = cronjob(json!({"schedule": "0 9 * * *", "timeZone": "Mars/Olympus"}), json!({}));
        let p = plan(&bad, &[], &HashSet::new(), t("2024-05-02T00:00:05Z"), &utc());
        assert_eq!(p.events[0].reason, "UnknownTimeZone");
        assert!(p.create.is_none());
    }

    #[test]
    fn missed_runs_start_only_the_latest_and_warn_past_100() {
        // Down from 10:00:30 to 10:05:10: one Job, for 10:05.
        let cj = cronjob(json!({"schedule": "*/1 * * * *"}), json!({}));
        let p = plan(&cj, &[], &HashSet::new(), t("2024-05-01T10:05:10Z"), &utc());
        assert_eq!(p.create.unwrap().1, t("2024-05-01T10:05:00Z"));
        assert!(p.events.is_empty());
        // Two days down for a job every minute: still one Job, and the warning.
        let p = plan(&cj, &[], &HashSet::new(), t("2024-05-03T10:05:10Z"), &utc());
        assert_eq!(p.create.unwrap().1, t("2024-05-03T10:05:00Z"));
        assert_eq!(p.events[0].reason, "TooManyMissedTimes");
        assert_eq!(p.events[0].message, "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew");
        // An irregular schedule (weekdays 6:30, 10:30, 14:30) after a long weekend.
        let cj = cronjob(json!({"schedule": "30 6-16/4 * * 1-5"}), json!({"lastScheduleTime": "2024-05-03T14:30:00Z"}));
        let p = plan(&cj, &[], &HashSet::new(), t("2024-05-06T11:00:00Z"), &utc());
        assert_eq!(p.create.unwrap().1, t("2024-05-06T10:30:00Z"));
        let (_, recent, missed) = most_recent(&cj, t("2024-05-06T11:00:00Z"), &cron::parse("30 6-16/4 * * 1-5").unwrap(), &utc(), false).unwrap();
        assert_eq!((recent, missed), (Some(t("2024-05-06T10:30:00Z")), Missed::Few));
    }

    #[test]
    fn starting_deadline_skips_late_runs_with_an_event() {
        let cj = cronjob(json!({"schedule": "0 * * * *", "startingDeadlineSeconds": 30}), json!({"lastScheduleTime": "2024-05-01T10:00:00Z"}));
        // 11:00 is 45 s old: too late.
        let p = plan(&cj, &[], &HashSet::new(), t("2024-05-01T11:00:45Z"), &utc());
        assert!(p.create.is_none());
        assert_eq!(p.events, vec![ev(true, "MissSchedule", "Missed scheduled time to start a job: Wed, 01 May 2024 11:00:00 +0000")]);
        assert_eq!(p.requeue_after, Some(Duration::from_secs(3555) + NEXT_SCHEDULE_DELTA));
        // 20 s late is in time.
        let p = plan(&cj, &[], &HashSet::new(), t("2024-05-01T11:00:20Z"), &utc());
        assert_eq!(p.create.unwrap().1, t("2024-05-01T11:00:00Z"));
    }

    #[test]
    fn forbid_skips_and_replace_deletes_the_running_job() {
        let status = json!({"lastScheduleTime": "2024-05-01T10:01:00Z", "active": [{"name": "hello-28575961", "uid": "uid-hello-28575961"}]});
        let running = [child("hello-28575961", None, "2024-05-01T10:01:01Z")];
        let now = t("2024-05-01T10:02:01Z");
        let forbid = cronjob(json!({"schedule": "*/1 * * * *", "concurrencyPolicy": "Forbid"}), status.clone());
        let p = plan(&forbid, &running, &HashSet::new(), now, &utc());
        assert!(p.create.is_none());
        assert_eq!(p.events[0].reason, "JobAlreadyActive");
        let replace = cronjob(json!({"schedule": "*/1 * * * *", "concurrencyPolicy": "Replace"}), status.clone());
        let p = plan(&replace, &running, &HashSet::new(), now, &utc());
        assert_eq!(p.replace.iter().map(|r| r.name.clone().unwrap()).collect::<Vec<_>>(), ["hello-28575961"]);
        assert_eq!(p.create.unwrap().1, t("2024-05-01T10:02:00Z"));
        let allow = cronjob(json!({"schedule": "*/1 * * * *"}), status);
        let p = plan(&allow, &running, &HashSet::new(), now, &utc());
        assert!(p.replace.is_empty() && p.create.is_some());
    }

    #[test]
    fn suspend_history_limits_and_status() {
        let s = json!({"active": [{"name": "j4", "uid": "uid-j4"}], "lastScheduleTime": "2024-05-01T10:04:00Z"});
        let jobs = vec![
            child("j1", Some(("Complete", "2024-05-01T10:01:05Z")), "2024-05-01T10:01:01Z"),
            child("j2", Some(("Complete", "2024-05-01T10:02:05Z")), "2024-05-01T10:02:01Z"),
            child("j3", Some(("Failed", "")), "2024-05-01T10:03:01Z"),
            child("j0", Some(("Failed", "")), "2024-05-01T10:00:01Z"),
            child("j4", Some(("Complete", "2024-05-01T10:04:05Z")), "2024-05-01T10:04:01Z"),
            child("j5", Some(("Complete", "2024-05-01T10:05:05Z")), "2024-05-01T10:05:01Z"),
        ];
        let cj = cronjob(json!({"schedule": "*/1 * * * *", "suspend": true, "successfulJobsHistoryLimit": 2}), s);
        let p = plan(&cj, &jobs, &HashSet::new(), t("2024-05-01T10:06:30Z"), &utc());
        let pruned: Vec<&str> = p.prune.iter().map(|j| j.metadata.name.as_deref().unwrap()).collect();
        assert_eq!(pruned, ["j1", "j2", "j0"], "oldest successful beyond 2, oldest failed beyond 1");
        assert!(p.create.is_none(), "suspended");
        assert_eq!(p.status.active, Some(vec![]), "j4 finished");
        assert_eq!(p.status.last_successful_time.unwrap().0, t("2024-05-01T10:05:05Z"));
        assert!(p.events.iter().any(|e| e.reason == "SawCompletedJob" && e.message == "Saw completed job: j4, condition: Complete"));
        // A job the CronJob owns but did not list (kubectl create job --from): an event.
        let manual = cronjob(json!({"schedule": "*/1 * * * *"}), json!({"lastScheduleTime": "2024-05-01T10:06:00Z"}));
        let p = plan(&manual, &[child("manual", None, "2024-05-01T10:06:10Z")], &HashSet::new(), t("2024-05-01T10:06:30Z"), &utc());
        assert_eq!(p.events[0], ev(true, "UnexpectedJob", "Saw a job that the controller did not create or forgot: manual"));
        // An active Job deleted behind the controller's back.
        let missing = cronjob(json!({"schedule": "*/1 * * * *"}), json!({"active": [{"name": "x", "uid": "uid-x"}], "lastScheduleTime": "2024-05-01T10:06:00Z"}));
        let p = plan(&missing, &[], &["uid-x".to_string()].into_iter().collect(), t("2024-05-01T10:06:30Z"), &utc());
        assert_eq!(p.status.active, Some(vec![]));
        assert_eq!(p.events[0].reason, "MissingJob");
    }

    #[test]
    fn schedules_across_months_and_dst() {
        // Midnight on the 31st: April and June have none.
        let cj = cronjob(json!({"schedule": "0 0 31 * *"}), json!({"lastScheduleTime": "2024-03-31T00:00:00Z"}));
        let s = cron::parse("0 0 31 * *").unwrap();
        assert_eq!(next_schedule_in(&cj, t("2024-04-15T00:00:00Z"), &s, &utc()), Some(Duration::from_secs(46 * 86400) + NEXT_SCHEDULE_DELTA), "May 31st");
        // 02:30 in New York does not exist on 2024-03-10: that day is skipped.
        let ny = cronjob(json!({"schedule": "30 2 * * *", "timeZone": "America/New_York"}), json!({"lastScheduleTime": "2024-03-09T07:30:00Z"}));
        let p = plan(&ny, &[], &HashSet::new(), t("2024-03-10T12:00:00Z"), &utc());
        assert!(p.create.is_none());
        let p = plan(&ny, &[], &HashSet::new(), t("2024-03-11T06:30:01Z"), &utc());
        let (job, at) = p.create.unwrap();
        assert_eq!(at, t("2024-03-11T06:30:00Z"));
        assert_eq!(job.metadata.annotations.unwrap()[SCHEDULED_TIMESTAMP], "2024-03-11T02:30:00-04:00");
    }
}
