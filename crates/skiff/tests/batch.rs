//! End to end: Jobs and CronJobs with the real kubectl and real processes (the agent's
//! `process` runtime), following the seeds' chapter on batch workloads.

mod common;

use std::collections::BTreeSet;

use common::{eventually, text, Cluster};
use serde_json::Value;

fn apply(c: &Cluster, yaml: &str) {
    let out = c.apply(yaml);
    assert!(out.status.success(), "{}", text(&out));
}

fn job(c: &Cluster, name: &str) -> Value {
    c.json(&["get", "job", name])
}

/// The status of the first condition of that type.
fn condition(j: &Value, type_: &str) -> Option<Value> {
    j["status"]["conditions"].as_array().into_iter().flatten().find(|c| c["type"] == type_).cloned()
}

/// Waits for Complete or Failed; returns the Job and the finishing condition.
fn finished(c: &Cluster, name: &str, secs: u64) -> (Value, Value) {
    eventually(secs, || {
        let j = job(c, name);
        ["Complete", "Failed"].iter().find_map(|t| condition(&j, t).filter(|c| c["status"] == "True")).map(|cond| (j.clone(), cond))
    })
}

fn n(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

/// Pods of a Job: (name, phase).
fn job_pods(c: &Cluster, name: &str) -> Vec<(String, String)> {
    let v = c.json(&["get", "pods", "-l", &format!("batch.kubernetes.io/job-name={name}")]);
    v["items"].as_array().into_iter().flatten().map(|p| (p["metadata"]["name"].as_str().unwrap_or("").to_string(), p["status"]["phase"].as_str().unwrap_or("").to_string())).collect()
}

/// Minutes since the epoch of an RFC 3339 UTC time (`2024-05-01T10:01:00Z`).
fn epoch_minutes(t: &str) -> i64 {
    let num = |r: std::ops::Range<usize>| t.get(r).and_then(|s| s.parse::<i64>().ok()).unwrap_or(0);
    let (y, m, d, h, min) = (num(0..4), num(5..7), num(8..10), num(11..13), num(14..16));
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    (days * 24 + h) * 60 + min
}

fn job_yaml(name: &str, spec: &str, restart: &str, command: &str) -> String {
    format!(
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {name}\nspec:\n{spec}  template:\n    spec:\n      restartPolicy: {restart}\n      containers:\n      - name: main\n        image: busybox\n        command: [\"sh\", \"-c\", {command:?}]\n"
    )
}

#[test]
fn minutes_since_the_epoch() {
    assert_eq!(epoch_minutes("2024-05-01T10:01:00Z"), 28_575_961);
    assert_eq!(epoch_minutes("1970-01-01T00:01:00Z"), 1);
}

#[test]
fn the_seeds_job_patterns() {
    let c = Cluster::start_with_agent();
    // One-shot, N of M in parallel, a single and a parallel work queue.
    apply(&c, &job_yaml("one-shot", "  completions: 1\n  parallelism: 1\n  backoffLimit: 0\n", "Never", "echo done"));
    apply(&c, &job_yaml("multi", "  completions: 5\n  parallelism: 3\n", "Never", "sleep 5"));
    apply(&c, &job_yaml("single-queue", "  parallelism: 1\n  backoffLimit: 1\n", "Never", "sleep 1"));
    apply(&c, &job_yaml("multi-queue", "  parallelism: 3\n  backoffLimit: 1\n", "Never", "sleep 1"));
    c.ok(&["create", "job", "by-cli", "--image=busybox", "--", "sh", "-c", "echo from the cli"]);

    // Never more pods at once than parallelism, nor than the completions left.
    let mut seen = BTreeSet::new();
    let mut most = 0;
    eventually(90, || {
        let j = job(&c, "multi");
        let (active, succeeded) = (n(&j["status"]["active"]), n(&j["status"]["succeeded"]));
        assert!(active <= 3 && active + succeeded <= 5, "active {active}, succeeded {succeeded}");
        let running: Vec<(String, String)> = job_pods(&c, "multi").into_iter().filter(|(_, p)| p == "Pending" || p == "Running").collect();
        assert!(running.len() <= 3, "{running:?}");
        most = most.max(running.len());
        seen.extend(job_pods(&c, "multi").into_iter().map(|(name, _)| name));
        condition(&j, "Complete").filter(|c| c["status"] == "True")
    });
    assert_eq!(most, 3, "three at once at first");
    let (multi, cond) = finished(&c, "multi", 5);
    assert_eq!((cond["reason"].as_str(), cond["message"].as_str()), (Some("CompletionsReached"), Some("Reached expected number of succeeded pods")));
    assert_eq!(n(&multi["status"]["succeeded"]), 5);
    assert_eq!(job_pods(&c, "multi").len(), 5, "one pod per completion: {seen:?}");
    assert!(condition(&multi, "SuccessCriteriaMet").is_some());
    assert_eq!(multi["status"]["uncountedTerminatedPods"], serde_json::json!({}));
    assert!(multi["status"]["completionTime"].is_string() && multi["status"]["startTime"].is_string());

    for name in ["one-shot", "single-queue", "by-cli"] {
        let (j, cond) = finished(&c, name, 60);
        assert_eq!(cond["type"], "Complete", "{name}: {j}");
        assert_eq!(n(&j["status"]["succeeded"]), 1, "{name}");
        assert_eq!(job_pods(&c, name).len(), 1, "{name}");
    }
    // A parallel work queue: once one succeeded, the others finish and nothing new starts.
    let (queue, cond) = finished(&c, "multi-queue", 60);
    assert_eq!(cond["type"], "Complete");
    assert_eq!(n(&queue["status"]["succeeded"]), 3);
    assert_eq!(job_pods(&c, "multi-queue").len(), 3);

    // The pods carry the Job's labels, its controller reference, and lost the finalizer.
    let pods = c.json(&["get", "pods", "-l", "job-name=one-shot"]);
    let p = &pods["items"][0];
    let uid = c.json(&["get", "job", "one-shot"])["metadata"]["uid"].as_str().unwrap_or("").to_string();
    assert_eq!(p["metadata"]["labels"]["batch.kubernetes.io/controller-uid"], uid.as_str());
    assert_eq!(p["metadata"]["labels"]["controller-uid"], uid.as_str());
    let owner = &p["metadata"]["ownerReferences"][0];
    assert_eq!((owner["kind"].as_str(), owner["controller"].as_bool(), owner["blockOwnerDeletion"].as_bool()), (Some("Job"), Some(true), Some(true)));
    assert!(p["metadata"]["finalizers"].as_array().is_none_or(|f| f.is_empty()), "{p}");
    let name = p["metadata"]["name"].as_str().unwrap_or("");
    assert_eq!(c.ok(&["logs", name]).trim(), "done");

    // kubectl get jobs: STATUS COMPLETIONS DURATION AGE; finished pods show Completed.
    let table = c.ok(&["get", "jobs"]);
    let header: Vec<&str> = table.lines().next().unwrap_or("").split_whitespace().collect();
    assert_eq!(header, ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]);
    let row = |name: &str| table.lines().find(|l| l.starts_with(&format!("{name} "))).unwrap_or("").split_whitespace().map(str::to_string).collect::<Vec<_>>();
    assert_eq!(row("multi")[1..3], ["Complete", "5/5"]);
    assert_eq!(row("multi-queue")[1..5], ["Complete", "3/1", "of", "3"]);
    assert_eq!(row("single-queue")[1..3], ["Complete", "1/1"]);
    let pods = c.ok(&["get", "pods", "-l", "job-name=one-shot", "--no-headers"]);
    assert!(pods.contains("Completed"), "{pods}");
    let events = c.ok(&["get", "events", "--field-selector", "involvedObject.name=one-shot", "-o", "custom-columns=R:.reason,M:.message", "--no-headers"]);
    assert!(events.contains("SuccessfulCreate") && events.contains("Completed") && events.contains("Job completed"), "{events}");
}

#[test]
fn failures_back_off_deadlines_and_policies() {
    let c = Cluster::start_with_agent();
    // Never: a new pod per failure, 10 s apart, until more than backoffLimit failed.
    apply(&c, &job_yaml("never", "  backoffLimit: 1\n", "Never", "exit 1"));
    // OnFailure: the container restarts in the same pod.
    apply(&c, &job_yaml("onfailure", "  backoffLimit: 1\n", "OnFailure", "exit 1"));
    apply(&c, &job_yaml("deadline", "  activeDeadlineSeconds: 3\n", "Never", "sleep 300"));
    // The pod failure policy: exit 42 fails the Job at once; exit 3 is ignored.
    let marker = c.path().join("ignored-once");
    let policy = "  backoffLimit: 0\n  podFailurePolicy:\n    rules:\n    - action: FailJob\n      onExitCodes:\n        containerName: main\n        operator: In\n        values: [42]\n    - action: Ignore\n      onExitCodes:\n        operator: In\n        values: [3]\n";
    apply(&c, &job_yaml("fatal", policy, "Never", "exit 42"));
    apply(&c, &job_yaml("ignored", policy, "Never", &format!("test -f {0} || {{ touch {0}; exit 3; }}", marker.display())));

    let (fatal, cond) = finished(&c, "fatal", 60);
    assert_eq!((cond["type"].as_str(), cond["reason"].as_str()), (Some("Failed"), Some("PodFailurePolicy")));
    let msg = cond["message"].as_str().unwrap_or("");
    assert!(msg.starts_with("Container main for pod default/fatal-") && msg.ends_with(" failed with exit code 42 matching FailJob rule at index 0"), "{msg}");
    assert!(condition(&fatal, "FailureTarget").is_some());
    assert_eq!(n(&fatal["status"]["failed"]), 1);

    let (ignored, cond) = finished(&c, "ignored", 60);
    assert_eq!(cond["type"], "Complete", "{ignored}");
    assert_eq!((n(&ignored["status"]["failed"]), n(&ignored["status"]["succeeded"])), (0, 1), "the failure did not count");
    assert_eq!(job_pods(&c, "ignored").len(), 2);

    let (deadline, cond) = finished(&c, "deadline", 60);
    assert_eq!((cond["type"].as_str(), cond["reason"].as_str(), cond["message"].as_str()), (Some("Failed"), Some("DeadlineExceeded"), Some("Job was active longer than specified deadline")));
    assert_eq!(n(&deadline["status"]["failed"]), 1);
    eventually(30, || job_pods(&c, "deadline").is_empty().then_some(()));

    let (never, cond) = finished(&c, "never", 90);
    assert_eq!((cond["type"].as_str(), cond["reason"].as_str()), (Some("Failed"), Some("BackoffLimitExceeded")));
    assert_eq!(cond["message"], "Job has reached the specified backoff limit");
    assert_eq!(n(&never["status"]["failed"]), 2);
    let pods = job_pods(&c, "never");
    assert_eq!(pods.len(), 2, "{pods:?}");
    assert!(pods.iter().all(|(_, p)| p == "Failed"));

    let (onfailure, cond) = finished(&c, "onfailure", 90);
    assert_eq!(cond["reason"], "BackoffLimitExceeded", "{onfailure}");
    assert_eq!(job_pods(&c, "onfailure").len(), 0, "the restarting pod was stopped");
    let table = c.ok(&["get", "jobs", "never", "--no-headers"]);
    assert!(table.contains("Failed") && table.contains("0/1"), "{table}");
}

#[test]
fn indexed_suspended_and_expiring_jobs_and_bad_input() {
    let c = Cluster::start_with_agent();
    apply(&c, &job_yaml("indexed", "  completions: 3\n  parallelism: 3\n  completionMode: Indexed\n", "Never", "echo index=$JOB_COMPLETION_INDEX host=$HOSTNAME"));
    apply(&c, &job_yaml("paused", "  suspend: true\n", "Never", "echo resumed"));
    apply(&c, &job_yaml("expiring", "  ttlSecondsAfterFinished: 2\n", "Never", "echo bye"));

    let (indexed, cond) = finished(&c, "indexed", 60);
    assert_eq!(cond["type"], "Complete");
    assert_eq!(indexed["status"]["completedIndexes"], "0-2");
    for i in 0..3 {
        let sel = format!("job-name=indexed,batch.kubernetes.io/job-completion-index={i}");
        let pods = c.json(&["get", "pods", "-l", &sel]);
        let p = &pods["items"][0];
        assert_eq!(p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"], i.to_string().as_str());
        assert_eq!(p["spec"]["hostname"], format!("indexed-{i}").as_str());
        let name = p["metadata"]["name"].as_str().unwrap_or("");
        assert!(name.starts_with(&format!("indexed-{i}-")), "{name}");
        assert_eq!(c.ok(&["logs", name]).trim(), format!("index={i} host=indexed-{i}"));
    }

    // Suspended: no pods until resumed.
    let paused = eventually(20, || condition(&job(&c, "paused"), "Suspended"));
    assert_eq!((paused["status"].as_str(), paused["reason"].as_str()), (Some("True"), Some("JobSuspended")));
    assert!(job(&c, "paused")["status"]["startTime"].is_null());
    assert!(job_pods(&c, "paused").is_empty());
    assert!(c.ok(&["get", "job", "paused", "--no-headers"]).contains("Suspended"));
    c.ok(&["patch", "job", "paused", "--type=merge", "-p", r#"{"spec":{"suspend":false}}"#]);
    let (resumed, cond) = finished(&c, "paused", 60);
    assert_eq!(cond["type"], "Complete");
    let s = condition(&resumed, "Suspended").unwrap_or_default();
    assert_eq!((s["status"].as_str(), s["reason"].as_str()), (Some("False"), Some("JobResumed")));

    // ttlSecondsAfterFinished: the Job and its pods go that long after it finished.
    eventually(60, || (!c.kubectl(&["get", "job", "expiring"]).status.success()).then_some(()));
    let events = c.ok(&["get", "events", "--field-selector", "involvedObject.name=expiring", "-o", "custom-columns=R:.reason", "--no-headers"]);
    assert!(events.contains("Completed"), "it finished before it went: {events}");
    eventually(30, || job_pods(&c, "expiring").is_empty().then_some(()));

    // 422s with upstream's field paths and words.
    let bad = c.apply(&job_yaml("always", "", "Always", "true"));
    assert!(text(&bad).contains(r#"The Job "always" is invalid: spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never""#), "{}", text(&bad));
    let bad = c.apply(&job_yaml("negative", "  parallelism: -1\n", "Never", "true"));
    assert!(text(&bad).contains("spec.parallelism: Invalid value: -1: must be greater than or equal to 0"), "{}", text(&bad));
    let out = c.kubectl(&["patch", "job", "indexed", "--type=merge", "-p", r#"{"spec":{"completions":4}}"#]);
    assert!(text(&out).contains("spec.completions: Invalid value: 4: can only be modified in tandem with spec.parallelism"), "{}", text(&out));
    let out = c.kubectl(&["patch", "job", "paused", "--type=merge", "-p", r#"{"spec":{"completions":2}}"#]);
    assert!(text(&out).contains("spec.completions: Invalid value: 2: field is immutable"), "{}", text(&out));
    let out = c.kubectl(&["patch", "job", "paused", "--type=merge", "-p", r#"{"spec":{"selector":{"matchLabels":{"a":"b"}}}}"#]);
    assert!(text(&out).contains("spec.selector: Invalid value:") && text(&out).contains("field is immutable"), "{}", text(&out));
    // parallelism and backoffLimit may change.
    c.ok(&["patch", "job", "paused", "--type=merge", "-p", r#"{"spec":{"parallelism":2,"backoffLimit":3}}"#]);
    let cj = |schedule: &str, tz: &str| format!("apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: bad\nspec:\n  schedule: {schedule:?}\n{tz}  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: Never\n          containers:\n          - name: c\n            image: busybox\n");
    let bad = c.apply(&cj("every minute", ""));
    assert!(text(&bad).contains(r#"spec.schedule: Invalid value: "every minute": expected exactly 5 fields, found 2: [every minute]"#), "{}", text(&bad));
    let bad = c.apply(&cj("61 * * * *", ""));
    assert!(text(&bad).contains("end of range (61) above maximum (59): 61"), "{}", text(&bad));
    let bad = c.apply(&cj("@daily", "  timeZone: Mars/Olympus\n"));
    assert!(text(&bad).contains(r#"spec.timeZone: Invalid value: "Mars/Olympus": unknown time zone Mars/Olympus"#), "{}", text(&bad));
}

#[test]
fn cronjob_every_minute_manual_runs_and_history() {
    let c = Cluster::start_with_agent();
    c.ok(&["create", "cronjob", "hello", "--image", "busybox", "--schedule", "*/1 * * * *", "--", "sh", "-c", "echo hello from cron"]);
    c.ok(&["patch", "cronjob", "hello", "--type=merge", "-p", r#"{"spec":{"successfulJobsHistoryLimit":1}}"#]);
    // Run it now, as the seeds do.
    c.ok(&["create", "job", "manual", "--from=cronjob/hello"]);
    let manual = job(&c, "manual");
    assert_eq!(manual["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"], "manual");
    assert_eq!(manual["metadata"]["ownerReferences"][0]["kind"], "CronJob");
    let (_, cond) = finished(&c, "manual", 60);
    assert_eq!(cond["type"], "Complete");

    // The first scheduled Job, named after its minute.
    let cron = eventually(75, || {
        let cj = c.json(&["get", "cronjob", "hello"]);
        cj["status"]["lastScheduleTime"].is_string().then_some(cj)
    });
    let name = format!("hello-{}", epoch_minutes(cron["status"]["lastScheduleTime"].as_str().unwrap_or("")));
    let j = job(&c, &name);
    assert_eq!(j["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"], cron["status"]["lastScheduleTime"]);
    let (_, cond) = finished(&c, &name, 60);
    assert_eq!(cond["type"], "Complete");
    let pods = c.json(&["get", "pods", "-l", &format!("job-name={name}")]);
    let pod = pods["items"][0]["metadata"]["name"].as_str().unwrap_or("").to_string();
    assert_eq!(c.ok(&["logs", &pod]).trim(), "hello from cron");

    // lastSuccessfulTime, and the history limit of 1 keeps only the newest success.
    eventually(30, || {
        let cj = c.json(&["get", "cronjob", "hello"]);
        (cj["status"]["lastSuccessfulTime"].is_string() && cj["status"]["active"].as_array().is_none_or(|a| a.is_empty())).then_some(())
    });
    eventually(30, || (!c.kubectl(&["get", "job", "manual"]).status.success()).then_some(()));
    assert!(c.kubectl(&["get", "job", &name]).status.success());

    // kubectl get cronjobs columns; suspend.
    c.ok(&["patch", "cronjob", "hello", "--type=merge", "-p", r#"{"spec":{"suspend":true}}"#]);
    let table = c.ok(&["get", "cronjobs"]);
    let header: Vec<&str> = table.lines().next().unwrap_or("").split_whitespace().collect();
    assert_eq!(header, ["NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST", "SCHEDULE", "AGE"]);
    let row: Vec<&str> = table.lines().nth(1).unwrap_or("").split_whitespace().collect();
    assert_eq!(row[..4], ["hello", "*/1", "*", "*"]);
    assert!(table.contains("<none>") && table.contains("True"), "{table}");
    let events = c.ok(&["get", "events", "--field-selector", "involvedObject.name=hello", "-o", "custom-columns=R:.reason,M:.message", "--no-headers"]);
    assert!(events.contains(&format!("Created job {name}")) && events.contains("SawCompletedJob") && events.contains("UnexpectedJob"), "{events}");
}

#[test]
fn results_are_counted_once_across_a_restart() {
    let mut c = Cluster::start_with_agent();
    apply(&c, &job_yaml("steady", "  completions: 12\n  parallelism: 4\n", "Never", "sleep 1"));
    eventually(60, || (n(&job(&c, "steady")["status"]["succeeded"]) >= 3).then_some(()));
    // kill -9 of the whole process (controllers, API server, agent) in mid-run.
    c.crash_and_restart();
    let (j, cond) = finished(&c, "steady", 120);
    assert_eq!(cond["type"], "Complete", "{j}");
    assert_eq!((n(&j["status"]["succeeded"]), n(&j["status"]["failed"])), (12, 0));
    let pods = job_pods(&c, "steady");
    assert_eq!(pods.iter().filter(|(_, p)| p == "Succeeded").count(), 12, "{pods:?}");
    assert_eq!(pods.len(), 12, "no pod too many: {pods:?}");
    let events = c.ok(&["get", "events", "--field-selector", "involvedObject.name=steady", "-o", "custom-columns=R:.reason", "--no-headers"]);
    assert!(!events.contains("TooManySucceededPods"), "{events}");
}
