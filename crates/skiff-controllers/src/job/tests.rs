//! The Job controller's decisions, driven without a server.

use std::collections::HashSet;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::batch::v1::Job;
use serde_json::{json, Value};

use super::intervals::Intervals;
use super::pod::{JobPodFacts, TRACKING_FINALIZER};
use super::policy::{delay_for, match_pod_failure_policy, match_success_policy, Backoff};
use super::sync::*;
use crate::pods::PodInfo;

fn ts(secs: i64) -> Timestamp {
    Timestamp::from_second(1_700_000_000 + secs).unwrap()
}

fn job(spec: Value, status: Value) -> Job {
    let mut spec = spec;
    let s = spec.as_object_mut().unwrap();
    s.entry("template").or_insert(json!({"spec": {"restartPolicy": "Never", "containers": [{"name": "main", "image": "busybox"}]}}));
    s.entry("backoffLimit").or_insert(json!(6));
    serde_json::from_value(json!({
        "metadata": {"name": "pi", "namespace": "default", "uid": "job-uid", "generation": 1},
        "spec": spec,
        "status": status,
    }))
    .unwrap()
}

fn pod(name: &str, phase: &str) -> PodInfo {
    PodInfo {
        namespace: "default".into(),
        name: name.into(),
        uid: format!("uid-{name}"),
        phase: phase.into(),
        node_name: "n1".into(),
        finalizers: vec![TRACKING_FINALIZER.into()],
        created: Some(ts(0)),
        job: Some(Box::new(JobPodFacts { finished_at: Some(ts(10)), ..Default::default() })),
        ..Default::default()
    }
}

fn indexed(mut p: PodInfo, ix: i32) -> PodInfo {
    p.job.as_mut().unwrap().completion_index = Some(ix);
    p
}

fn exited(mut p: PodInfo, code: i32) -> PodInfo {
    p.job.as_mut().unwrap().failures = vec![("main".into(), code)];
    p
}

fn input<'a>(job: &'a Job, pods: &'a [PodInfo], now: Timestamp) -> Input<'a> {
    Input { job, pods: pods.iter().collect(), adopted: HashSet::new(), expected_removals: HashSet::new(), satisfied: true, backoff: Backoff::default(), now }
}

/// assess, then manage.
fn plan(job: &Job, pods: &[PodInfo], now: Timestamp) -> (Assessment, Manage) {
    let i = input(job, pods, now);
    let a = assess(&i);
    let m = manage(&i, &a);
    (a, m)
}

fn creates(m: &Manage) -> usize {
    match m {
        Manage::Create(v) => v.len(),
        other => panic!("expected creations, got {other:?}"),
    }
}

#[test]
fn one_shot_and_n_of_m_never_exceed_the_remaining_completions() {
    // One-shot: 1/1.
    let j = job(json!({"completions": 1, "parallelism": 1}), json!({}));
    assert_eq!(creates(&plan(&j, &[], ts(0)).1), 1);
    // Completions 5, parallelism 3: three pods, then the two remaining.
    let j = job(json!({"completions": 5, "parallelism": 3}), json!({}));
    assert_eq!(creates(&plan(&j, &[], ts(0)).1), 3);
    let j = job(json!({"completions": 5, "parallelism": 3}), json!({"succeeded": 3}));
    assert_eq!(creates(&plan(&j, &[], ts(0)).1), 2, "never more than the completions left");
    let j = job(json!({"completions": 5, "parallelism": 3}), json!({"succeeded": 4}));
    assert_eq!(plan(&j, &[pod("a", "Running")], ts(0)).1, Manage::Nothing);
    // Parallelism lowered (kubectl scale): the surplus goes, least advanced first.
    let j = job(json!({"completions": 5, "parallelism": 1}), json!({}));
    let mut pending = pod("pending", "Pending");
    pending.node_name.clear();
    let (_, m) = plan(&j, &[pod("running", "Running"), pending], ts(0));
    assert_eq!(m, Manage::Remove(vec!["pending".into()]));
}

#[test]
fn work_queues_stop_starting_pods_after_the_first_success() {
    let j = job(json!({"parallelism": 3}), json!({}));
    assert_eq!(creates(&plan(&j, &[], ts(0)).1), 3);
    // One succeeded: the two running finish, nothing new starts, and the Job is not
    // complete until they do.
    let pods = [pod("a", "Succeeded"), pod("b", "Running"), pod("c", "Running")];
    let i = input(&j, &pods, ts(20));
    let a = assess(&i);
    assert_eq!(a.succeeded, 1);
    let m = manage(&i, &a);
    assert_eq!(m, Manage::Nothing);
    assert!(conclude(&i, &a, &m, Done::default()).finished.is_none());
    let pods = [pod("a", "Succeeded"), pod("b", "Succeeded"), pod("c", "Failed")];
    let i = input(&j, &pods, ts(30));
    let a = assess(&i);
    let c = conclude(&i, &a, &manage(&i, &a), Done::default());
    assert_eq!(c.finished.as_ref().map(|f| f.type_.as_str()), Some(SUCCESS_CRITERIA_MET));
    assert_eq!(c.finished.as_ref().and_then(|f| f.reason.as_deref()), Some("CompletionsReached"));
    // Single work queue: parallelism 1.
    let j = job(json!({"parallelism": 1}), json!({}));
    assert_eq!(creates(&plan(&j, &[], ts(0)).1), 1);
}

#[test]
fn backoff_doubles_from_ten_seconds_to_six_minutes() {
    let secs: Vec<u64> = (1..=8).map(|n| delay_for(n).as_secs()).collect();
    assert_eq!(secs, [10, 20, 40, 80, 160, 320, 360, 360]);
    let failed = pod("f1", "Failed");
    let b = Backoff::default().after(&[], &[&failed]);
    assert_eq!(b, Backoff { failures: 1, last_failure: Some(ts(10)) });
    assert_eq!(b.remaining(ts(14)), Duration::from_secs(6));
    assert_eq!(b.remaining(ts(25)), Duration::ZERO);
    let mut f2 = pod("f2", "Failed");
    f2.job.as_mut().unwrap().finished_at = Some(ts(30));
    let b2 = b.after(&[], &[&f2]);
    assert_eq!(b2.remaining(ts(30)), Duration::from_secs(20));
    // A success after the failures resets it; failures after the success count again.
    let mut ok = pod("ok", "Succeeded");
    ok.job.as_mut().unwrap().finished_at = Some(ts(20));
    assert_eq!(b2.after(&[&ok], &[&f2]), Backoff { failures: 1, last_failure: Some(ts(30)) });
    assert_eq!(b2.after(&[&ok], &[]), Backoff::default());
}

#[test]
fn a_replacement_waits_for_the_backoff() {
    let j = job(json!({"completions": 1, "parallelism": 1, "backoffLimit": 3}), json!({}));
    let pods = [pod("f1", "Failed")];
    let (a, m) = plan(&j, &pods, ts(12));
    assert_eq!(a.failed, 1);
    assert_eq!(m, Manage::Wait(Duration::from_secs(8)));
    let (_, m) = plan(&j, &pods, ts(21));
    assert_eq!(creates(&m), 1);
}

#[test]
fn backoff_limit_exceeded_never_retries_forever() {
    let j = job(json!({"completions": 1, "parallelism": 1, "backoffLimit": 1}), json!({"failed": 1, "startTime": "2023-11-14T22:13:20Z"}));
    let pods = [pod("f2", "Failed")];
    let i = input(&j, &pods, ts(60));
    let a = assess(&i);
    assert_eq!(a.failed, 2);
    let f = a.finished.clone().unwrap();
    assert_eq!((f.type_.as_str(), f.reason.as_deref(), f.message.as_deref()), (FAILURE_TARGET, Some("BackoffLimitExceeded"), Some("Job has reached the specified backoff limit")));
    let m = manage(&i, &a);
    assert_eq!(m, Manage::Nothing, "no active pod to stop, none created");
    let c = conclude(&i, &a, &m, Done::default());
    let t = track(&i, &a, c);
    assert_eq!(t.release, vec!["f2".to_string()]);
    assert_eq!(t.status.uncounted_terminated_pods.as_ref().unwrap().failed, Some(vec!["uid-f2".to_string()]));
    assert!(has_condition(&t.status, FAILURE_TARGET).is_some());
    assert_eq!(t.finished.as_ref().unwrap().type_, FAILED);
    // Once the finalizer is gone the failure is counted and the Job fails.
    let mut status = t.status.clone();
    assert!(clean_uncounted(&mut status, &HashSet::new()));
    assert_eq!(status.failed, Some(2));
    assert!(enact_finished(&mut status, t.finished.as_ref(), 0, ts(60)));
    assert_eq!(has_condition(&status, FAILED).and_then(|c| c.reason.as_deref()), Some("BackoffLimitExceeded"));
    assert!(status.completion_time.is_none());

    // OnFailure: restarts in the same pod count.
    let mut j = job(json!({"completions": 1, "parallelism": 1, "backoffLimit": 2}), json!({}));
    j.spec.as_mut().unwrap().template.spec.as_mut().unwrap().restart_policy = Some("OnFailure".into());
    let mut p = pod("r", "Running");
    p.job.as_mut().unwrap().restarts = 1;
    assert!(plan(&j, &[p.clone()], ts(0)).0.finished.is_none());
    p.job.as_mut().unwrap().restarts = 2;
    let (a, m) = plan(&j, &[p], ts(0));
    assert_eq!(a.finished.unwrap().reason.as_deref(), Some("BackoffLimitExceeded"));
    assert_eq!(m, Manage::Terminate(vec!["r".into()]));
}

#[test]
fn active_deadline_stops_running_pods() {
    let j = job(json!({"completions": 1, "parallelism": 1, "activeDeadlineSeconds": 30}), json!({"startTime": "2023-11-14T22:13:20Z", "active": 1}));
    let pods = [pod("slow", "Running")];
    let (a, m) = plan(&j, &pods, ts(10));
    assert_eq!(a.requeue_after, Some(Duration::from_secs(20)));
    assert_eq!(m, Manage::Nothing);
    let i = input(&j, &pods, ts(30));
    let a = assess(&i);
    assert_eq!(a.finished.as_ref().unwrap().reason.as_deref(), Some("DeadlineExceeded"));
    let m = manage(&i, &a);
    assert_eq!(m, Manage::Terminate(vec!["slow".into()]));
    let c = conclude(&i, &a, &m, Done { count: 1, ready: 0 });
    assert_eq!((c.status.active, c.terminating), (None, 1));
    let t = track(&i, &a, c.clone());
    // The running pod is counted as failed, but the Job fails only once it stopped.
    assert_eq!(t.status.uncounted_terminated_pods.as_ref().unwrap().failed, Some(vec!["uid-slow".to_string()]));
    let mut status = t.status.clone();
    clean_uncounted(&mut status, &HashSet::new());
    assert!(!enact_finished(&mut status, t.finished.as_ref(), c.terminating, ts(30)));
    assert!(enact_finished(&mut status, t.finished.as_ref(), 0, ts(31)));
    assert_eq!(status.failed, Some(1));
}

#[test]
fn suspend_deletes_active_pods_and_resume_restarts_the_clock() {
    let j = job(json!({"completions": 2, "parallelism": 2, "suspend": true}), json!({"startTime": "2023-11-14T22:13:20Z"}));
    let pods = [pod("a", "Running"), pod("b", "Pending")];
    let i = input(&j, &pods, ts(100));
    let a = assess(&i);
    let m = manage(&i, &a);
    let Manage::Remove(names) = &m else { panic!("{m:?}") };
    assert_eq!(names.len(), 2);
    let c = conclude(&i, &a, &m, Done { count: 2, ready: 0 });
    assert_eq!(has_condition(&c.status, SUSPENDED).and_then(|c| c.reason.as_deref()), Some("JobSuspended"));
    assert_eq!(c.events, vec![Event { warning: false, reason: "Suspended".into(), message: "Job suspended".into() }]);
    // Created suspended: no start time, no pods.
    let fresh = job(json!({"completions": 2, "parallelism": 2, "suspend": true}), json!({}));
    let (a, m) = plan(&fresh, &[], ts(0));
    assert!(a.status.start_time.is_none());
    assert_eq!(m, Manage::Nothing);
    // Resumed.
    let mut resumed = job(json!({"completions": 2, "parallelism": 2, "suspend": false}), json!({"startTime": "2023-11-14T22:13:20Z"}));
    resumed.status.as_mut().unwrap().conditions = c.status.conditions.clone();
    let i = input(&resumed, &[], ts(500));
    let a = assess(&i);
    let m = manage(&i, &a);
    assert_eq!(creates(&m), 2);
    let c = conclude(&i, &a, &m, Done { count: 2, ready: 0 });
    let cond = c.status.conditions.as_ref().unwrap().iter().find(|c| c.type_ == SUSPENDED).unwrap();
    assert_eq!((cond.status.as_str(), cond.reason.as_deref()), ("False", Some("JobResumed")));
    assert_eq!(c.status.start_time.unwrap().0, ts(500));
    assert_eq!(c.status.active, Some(2));
}

#[test]
fn indexed_jobs_run_each_index_once() {
    let j = job(json!({"completions": 5, "parallelism": 2, "completionMode": "Indexed"}), json!({"completedIndexes": "0"}));
    let pods = [indexed(pod("pi-2", "Running"), 2)];
    let (a, m) = plan(&j, &pods, ts(0));
    assert_eq!(a.succeeded, 1);
    assert_eq!(m, Manage::Create(vec![Some(1)]));
    // Duplicates and indexes out of range go first.
    let pods = [indexed(pod("dup-a", "Pending"), 1), indexed(pod("dup-b", "Running"), 1), indexed(pod("stray", "Running"), 7)];
    let (_, m) = plan(&j, &pods, ts(0));
    let Manage::Remove(mut names) = m else { panic!() };
    names.sort();
    assert_eq!(names, ["dup-a", "stray"]);
    // Succeeded indexes are recorded as intervals.
    let pods = [indexed(pod("pi-1", "Succeeded"), 1), indexed(pod("pi-3", "Succeeded"), 3), indexed(pod("pi-2", "Succeeded"), 2)];
    let i = input(&j, &pods, ts(0));
    let a = assess(&i);
    let c = conclude(&i, &a, &manage(&i, &a), Done::default());
    let t = track(&i, &a, c);
    assert_eq!(t.status.completed_indexes.as_deref(), Some("0-3"));
    assert_eq!(t.status.succeeded, Some(4));
    assert!(t.status.uncounted_terminated_pods.as_ref().unwrap().succeeded.is_none(), "indexes need no uids");

    let p = pod_from_template(&j, Some(3));
    let meta = &p.metadata;
    assert_eq!(meta.generate_name.as_deref(), Some("pi-3-"));
    assert_eq!(meta.annotations.as_ref().unwrap()["batch.kubernetes.io/job-completion-index"], "3");
    assert_eq!(meta.labels.as_ref().unwrap()["batch.kubernetes.io/job-completion-index"], "3");
    assert_eq!(meta.finalizers.as_deref(), Some(&[TRACKING_FINALIZER.to_string()][..]));
    let owner = &meta.owner_references.as_ref().unwrap()[0];
    assert_eq!((owner.kind.as_str(), owner.controller, owner.block_owner_deletion), ("Job", Some(true), Some(true)));
    let spec = p.spec.unwrap();
    assert_eq!(spec.hostname.as_deref(), Some("pi-3"));
    let env = &spec.containers[0].env.as_ref().unwrap()[0];
    assert_eq!(env.name, "JOB_COMPLETION_INDEX");
    assert_eq!(env.value_from.as_ref().unwrap().field_ref.as_ref().unwrap().field_path, "metadata.labels['batch.kubernetes.io/job-completion-index']");
    assert_eq!(generate_name_with_index(&"x".repeat(60), 12), format!("{}-12-", "x".repeat(54)));
    assert_eq!(pod_from_template(&j, None).metadata.generate_name.as_deref(), Some("pi-"));
}

#[test]
fn pod_failure_policy_fail_job_ignore_and_count() {
    let policy = json!({"rules": [
        {"action": "FailJob", "onExitCodes": {"containerName": "main", "operator": "In", "values": [42]}},
        {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
        {"action": "Count", "onExitCodes": {"operator": "NotIn", "values": [0]}}
    ]});
    let j = job(json!({"completions": 2, "parallelism": 1, "backoffLimit": 0, "podFailurePolicy": policy}), json!({}));
    let pfp = spec(&j).pod_failure_policy.clone();
    let fatal = exited(pod("fatal", "Failed"), 42);
    let v = match_pod_failure_policy(pfp.as_ref(), &fatal);
    assert_eq!(v.fail_job.as_deref(), Some("Container main for pod default/fatal failed with exit code 42 matching FailJob rule at index 0"));
    let (a, _) = plan(&j, &[fatal], ts(0));
    let f = a.finished.unwrap();
    assert_eq!((f.type_.as_str(), f.reason.as_deref()), (FAILURE_TARGET, Some("PodFailurePolicy")));

    let mut evicted = exited(pod("evicted", "Failed"), 137);
    evicted.job.as_mut().unwrap().conditions = vec![("DisruptionTarget".into(), "True".into())];
    assert!(!match_pod_failure_policy(pfp.as_ref(), &evicted).counts);
    let (a, m) = plan(&j, &[evicted], ts(100));
    assert_eq!(a.failed, 0, "ignored: backoffLimit 0 is not exceeded");
    assert!(a.finished.is_none());
    assert_eq!(creates(&m), 1);

    let counted = exited(pod("counted", "Failed"), 1);
    let (a, _) = plan(&j, &[counted], ts(100));
    assert_eq!(a.failed, 1);
    assert_eq!(a.finished.unwrap().reason.as_deref(), Some("BackoffLimitExceeded"));
    // A pod being deleted is not failed until it is (only failed pods are replaced).
    let mut deleting = pod("deleting", "Running");
    deleting.deleting = true;
    assert!(!is_pod_failed(&deleting, &j));
}

#[test]
fn success_policy_of_indexed_jobs() {
    let policy: k8s_openapi::api::batch::v1::SuccessPolicy =
        serde_json::from_value(json!({"rules": [{"succeededIndexes": "0,2-3"}, {"succeededCount": 3}]})).unwrap();
    assert_eq!(match_success_policy(Some(&policy), 10, &Intervals::parse("0,2", 10)), None);
    assert_eq!(match_success_policy(Some(&policy), 10, &Intervals::parse("0,2-3", 10)).as_deref(), Some("Matched rules at index 0"));
    assert_eq!(match_success_policy(Some(&policy), 10, &Intervals::parse("5-7", 10)).as_deref(), Some("Matched rules at index 1"));
    let j = job(json!({"completions": 10, "parallelism": 2, "completionMode": "Indexed", "successPolicy": {"rules": [{"succeededCount": 1}]}}), json!({}));
    let pods = [indexed(pod("p0", "Succeeded"), 0), indexed(pod("p1", "Running"), 1)];
    let (a, m) = plan(&j, &pods, ts(0));
    assert_eq!(a.finished.as_ref().map(|f| (f.type_.as_str(), f.reason.as_deref())), Some((SUCCESS_CRITERIA_MET, Some("SuccessPolicy"))));
    assert_eq!(m, Manage::Terminate(vec!["p1".into()]), "the others stop");
}

/// The tracking finalizer protocol: each finished pod is counted exactly once, whatever
/// step a controller restart interrupts.
#[test]
fn finished_pods_are_counted_once_across_restarts() {
    let j = job(json!({"completions": 3, "parallelism": 3}), json!({"active": 3}));
    let pods = [pod("a", "Succeeded"), pod("b", "Failed"), pod("c", "Running")];
    let i = input(&j, &pods, ts(0));
    let a = assess(&i);
    let m = manage(&i, &a);
    assert_eq!(creates(&m), 1, "b is replaced at once: a succeeded as late as it failed");
    let t = track(&i, &a, conclude(&i, &a, &m, Done { count: 1, ready: 0 }));
    assert!(t.needs_flush);
    let mut release = t.release.clone();
    release.sort();
    assert_eq!(release, ["a", "b"]);
    let unc = t.status.uncounted_terminated_pods.clone().unwrap();
    assert_eq!((unc.succeeded, unc.failed), (Some(vec!["uid-a".to_string()]), Some(vec!["uid-b".to_string()])));

    // The controller restarts after writing the uids, before removing finalizers: the
    // same pods are not added again.
    let j2 = job(json!({"completions": 3, "parallelism": 3}), serde_json::to_value(&t.status).unwrap());
    let i = input(&j2, &pods, ts(1));
    let a = assess(&i);
    assert_eq!((a.succeeded, a.failed), (1, 1));
    let t2 = track(&i, &a, conclude(&i, &a, &manage(&i, &a), Done::default()));
    assert_eq!(t2.status.uncounted_terminated_pods, t.status.uncounted_terminated_pods);
    assert_eq!(t2.status.succeeded, None);

    // It restarts again after removing a's finalizer only: a is counted, b stays uncounted.
    let mut after = pods.clone();
    after[0].finalizers.clear();
    let i = input(&j2, &after, ts(2));
    let a = assess(&i);
    assert_eq!((a.succeeded, a.failed), (1, 1), "still counted once");
    let t3 = track(&i, &a, conclude(&i, &a, &manage(&i, &a), Done::default()));
    assert_eq!(t3.status.succeeded, Some(1));
    assert_eq!(t3.status.uncounted_terminated_pods.as_ref().unwrap().succeeded, None);
    assert_eq!(t3.status.uncounted_terminated_pods.as_ref().unwrap().failed, Some(vec!["uid-b".to_string()]));
    assert_eq!(t3.release, vec!["b".to_string()]);

    // Finalizers gone and counters written: nothing changes any more.
    let mut done = t3.status.clone();
    clean_uncounted(&mut done, &HashSet::new());
    assert_eq!((done.succeeded, done.failed), (Some(1), Some(1)));
    let j3 = job(json!({"completions": 3, "parallelism": 3}), serde_json::to_value(&done).unwrap());
    after[1].finalizers.clear();
    let i = input(&j3, &after, ts(30));
    let a = assess(&i);
    assert_eq!((a.succeeded, a.failed), (1, 1));
    assert_eq!(creates(&manage(&i, &a)), 1, "two to go, c still runs");
}

#[test]
fn completion_needs_every_pod_counted() {
    let j = job(json!({"completions": 1, "parallelism": 1}), json!({"active": 1}));
    let pods = [pod("a", "Succeeded")];
    let i = input(&j, &pods, ts(5));
    let a = assess(&i);
    let c = conclude(&i, &a, &manage(&i, &a), Done::default());
    let t = track(&i, &a, c);
    assert!(has_condition(&t.status, SUCCESS_CRITERIA_MET).is_some());
    let mut status = t.status.clone();
    assert!(!enact_finished(&mut status, t.finished.as_ref(), 0, ts(5)), "a is still uncounted");
    clean_uncounted(&mut status, &HashSet::new());
    assert!(enact_finished(&mut status, t.finished.as_ref(), 0, ts(6)));
    let complete = has_condition(&status, COMPLETE).unwrap();
    assert_eq!((complete.reason.as_deref(), complete.message.as_deref()), (Some("CompletionsReached"), Some("Reached expected number of succeeded pods")));
    assert_eq!(status.completion_time.as_ref().unwrap().0, ts(6));
    assert_eq!((status.succeeded, status.active, status.ready, status.terminating), (Some(1), None, Some(0), Some(0)));
    let done = job(json!({"completions": 1}), serde_json::to_value(&status).unwrap());
    assert!(is_finished(&done));
}
