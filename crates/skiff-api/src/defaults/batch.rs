//! batch group defaults (`pkg/apis/batch/v1/defaults.go`) and the selector the Job
//! registry generates on create.

use serde_json::{Map, Value};

use super::core::pod_template;
use super::{child, existing, items, set_default, set_default_str};

pub(super) fn job(job: &mut Value) {
    // Copied before the spec is touched: a Job without labels takes its pods'.
    let template_labels = job.get("spec").and_then(|s| s.get("template")).and_then(|t| t.get("metadata")).and_then(|m| m.get("labels")).filter(|l| l.is_object()).cloned();
    let spec = child(job, "spec");
    let unset = |v: &Value, k: &str| v.get(k).map(Value::is_null).unwrap_or(true);
    // A Job that sets neither runs one pod once; a work queue sets only parallelism.
    if unset(spec, "completions") && unset(spec, "parallelism") {
        set_default(spec, "completions", 1);
        set_default(spec, "parallelism", 1);
    }
    set_default(spec, "parallelism", 1);
    if unset(spec, "backoffLimit") {
        let limit = if unset(spec, "backoffLimitPerIndex") { 6 } else { i64::from(i32::MAX) };
        set_default(spec, "backoffLimit", limit);
    }
    set_default(spec, "completionMode", "NonIndexed");
    set_default(spec, "suspend", false);
    if let Some(pfp) = existing(spec, "podFailurePolicy") {
        for rule in items(pfp, "rules") {
            for cond in items(rule, "onPodConditions") {
                set_default_str(cond, "status", "True");
            }
        }
    }
    let replacement = if unset(spec, "podFailurePolicy") { "TerminatingOrFailed" } else { "Failed" };
    set_default(spec, "podReplacementPolicy", replacement);
    pod_template(child(spec, "template"));
    if let Some(labels) = template_labels {
        let meta = child(job, "metadata");
        if meta.get("labels").and_then(Value::as_object).map(Map::is_empty).unwrap_or(true) {
            if let Some(m) = meta.as_object_mut() {
                m.insert("labels".to_string(), labels);
            }
        }
    }
}

pub(super) fn cron_job(cj: &mut Value) {
    let spec = child(cj, "spec");
    set_default_str(spec, "concurrencyPolicy", "Allow");
    set_default(spec, "suspend", false);
    set_default(spec, "successfulJobsHistoryLimit", 3);
    set_default(spec, "failedJobsHistoryLimit", 1);
    pod_template(child(child(child(spec, "jobTemplate"), "spec"), "template"));
}

/// What the Job registry does on create unless `spec.manualSelector` is true:
/// labels the pod template with the Job's uid and name (both the
/// `batch.kubernetes.io/` and the legacy keys, keeping any the user set) and
/// selects on `batch.kubernetes.io/controller-uid`.
///
/// Upstream's Job labels default to the very map of its template labels, so the
/// generated labels show on the Job too; a Job whose labels equal its template's
/// gets them here as well.
pub fn generate_job_selector(job: &mut Value, uid: &str) {
    let manual = job.get("spec").and_then(|s| s.get("manualSelector")).and_then(Value::as_bool).unwrap_or(false);
    if manual {
        return;
    }
    let name = job.get("metadata").and_then(|m| m.get("name")).and_then(Value::as_str).unwrap_or("").to_string();
    let template_labels_before = job.get("spec").and_then(|s| s.get("template")).and_then(|t| t.get("metadata")).and_then(|m| m.get("labels")).cloned();
    let job_labels = job.get("metadata").and_then(|m| m.get("labels")).cloned();
    // A Job without labels gets its template's when upstream reads it back from
    // storage (decoding defaults it again), so it shows the generated ones as well.
    let no_labels = job_labels.as_ref().and_then(Value::as_object).is_none_or(Map::is_empty);
    let shared = no_labels || (template_labels_before.is_some() && template_labels_before == job_labels);
    let generated = [
        ("job-name", name.as_str()),
        ("batch.kubernetes.io/job-name", name.as_str()),
        ("controller-uid", uid),
        ("batch.kubernetes.io/controller-uid", uid),
    ];
    let spec = child(job, "spec");
    let labels = child(child(child(spec, "template"), "metadata"), "labels");
    if let Some(m) = labels.as_object_mut() {
        for (k, v) in generated {
            m.entry(k.to_string()).or_insert_with(|| Value::from(v));
        }
    }
    let template_labels = labels.clone();
    let match_labels = child(child(spec, "selector"), "matchLabels");
    if let Some(m) = match_labels.as_object_mut() {
        m.entry("batch.kubernetes.io/controller-uid".to_string()).or_insert_with(|| Value::from(uid));
    }
    if shared {
        if let Some(m) = child(job, "metadata").as_object_mut() {
            m.insert("labels".to_string(), template_labels);
        }
    }
}
