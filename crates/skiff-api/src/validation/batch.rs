//! The batch group: Jobs and CronJobs (upstream `pkg/apis/batch/validation`).

use std::collections::HashSet;

use serde_json::Value;

use super::core::labels_value;
use super::field_error::{go_label_selector, go_repr, FieldError, Path};
use super::json::{arr, get, has, obj, opt_bool, opt_int, opt_str, semantic_eq, str_of, sub};
use super::meta::*;
use super::names::{is_dns1123_label, name_is_dns_subdomain};
use super::pod::{qualified_name, validate_pod_template_spec};

const MAX_PARALLELISM_INDEXED: i64 = 100_000;
const MAX_FAILED_INDEXES: i64 = 100_000;
const COMPLETIONS_SOFT_LIMIT: i64 = 100_000;
const PARALLELISM_LIMIT_HIGH_COMPLETIONS: i64 = 10_000;
const MAX_FAILED_INDEXES_HIGH_COMPLETIONS: i64 = 10_000;

pub const LEGACY_CONTROLLER_UID: &str = "controller-uid";
pub const LEGACY_JOB_NAME: &str = "job-name";
pub const CONTROLLER_UID: &str = "batch.kubernetes.io/controller-uid";
pub const JOB_NAME: &str = "batch.kubernetes.io/job-name";

/// `ValidateJob` (create) and, on update, `ValidateJob` followed by
/// `ValidateJobUpdate` as upstream's strategy runs them.
pub fn validate_job(job: &Value, old: Option<&Value>, errs: &mut Vec<FieldError>) {
    validate_object_meta(job, name_is_dns_subdomain, errs);
    let spec = sub(job, "spec");
    // Jobs created before the prefixed labels existed may lack them.
    let require_prefixed = match old {
        None => true,
        Some(o) => obj(sub(sub(sub(o, "spec"), "template"), "metadata"), "labels").map(|l| l.contains_key(CONTROLLER_UID)).unwrap_or(false),
    };
    validate_generated_selector(job, require_prefixed, errs);
    validate_job_spec_with_selector(spec, &Path::new("spec"), errs);
    let meta = sub(job, "metadata");
    if opt_str(spec, "completionMode") == Some("Indexed") {
        if let Some(c) = opt_int(spec, "completions").filter(|c| *c > 0) {
            let name = str_of(meta, "name");
            let longest = format!("{name}-{}", c - 1);
            if !is_dns1123_label(&longest).is_empty() {
                errs.push(FieldError::invalid(
                    &Path::new("metadata").child("name"),
                    name,
                    format!("will not able to create pod with invalid DNS label: {longest}"),
                ));
            }
        }
    }
    if let Some(old) = old {
        validate_job_update(job, old, errs);
    }
}

fn validate_generated_selector(job: &Value, require_prefixed: bool, errs: &mut Vec<FieldError>) {
    let spec = sub(job, "spec");
    if opt_bool(spec, "manualSelector") == Some(true) {
        return;
    }
    let Some(selector) = get(spec, "selector") else { return };
    let meta = sub(job, "metadata");
    let (uid, name) = (str_of(meta, "uid"), str_of(meta, "name"));
    if uid.is_empty() {
        errs.push(FieldError::required(&Path::new("metadata").child("uid"), ""));
    }
    let tmeta = sub(sub(spec, "template"), "metadata");
    let labels = obj(tmeta, "labels");
    let mp = Path::new("spec").child("template").child("metadata").child("labels");
    let mut expected: Vec<(&str, &str)> = vec![(LEGACY_CONTROLLER_UID, uid), (LEGACY_JOB_NAME, name)];
    if require_prefixed {
        expected.push((CONTROLLER_UID, uid));
        expected.push((JOB_NAME, name));
    }
    for (key, want) in &expected {
        match labels.and_then(|l| l.get(*key)).and_then(Value::as_str) {
            None => errs.push(FieldError::required(&mp.key(key), format!("must be '{want}'"))),
            Some(got) if got != *want => errs.push(FieldError::invalid(&mp.key(key), labels_value(labels), format!("must be '{want}'"))),
            _ => {}
        }
    }
    let mut expected_labels = serde_json::Map::new();
    for (k, v) in expected {
        expected_labels.insert(k.to_string(), Value::from(v));
    }
    if let Ok(sel) = Selector::from_label_selector(Some(selector)) {
        if !sel.matches(Some(&expected_labels)) {
            errs.push(FieldError::invalid(&Path::new("spec").child("selector"), go_repr(go_label_selector(Some(selector))), "`selector` not auto-generated"));
        }
    }
}

/// `ValidateJobSpec`: the spec, then a selector that must exist and match the template.
fn validate_job_spec_with_selector(spec: &Value, path: &Path, errs: &mut Vec<FieldError>) {
    validate_job_spec(spec, path, errs);
    let sel = get(spec, "selector");
    match sel {
        None => errs.push(FieldError::required(&path.child("selector"), "")),
        Some(s) => validate_label_selector(Some(s), &path.child("selector"), errs),
    }
    if let Ok(selector) = Selector::from_label_selector(sel) {
        let labels = obj(sub(sub(spec, "template"), "metadata"), "labels");
        if !selector.matches(labels) {
            errs.push(FieldError::invalid(
                &path.child("template").child("metadata").child("labels"),
                labels_value(labels),
                "`selector` does not match template `labels`",
            ));
        }
    }
}

/// `validateJobSpec`.
fn validate_job_spec(spec: &Value, path: &Path, errs: &mut Vec<FieldError>) {
    for key in ["parallelism", "completions", "activeDeadlineSeconds", "backoffLimit", "ttlSecondsAfterFinished", "backoffLimitPerIndex"] {
        opt_non_negative(spec, key, path, errs);
    }
    let (completions, parallelism) = (opt_int(spec, "completions"), opt_int(spec, "parallelism"));
    let (per_index, max_failed) = (opt_int(spec, "backoffLimitPerIndex"), opt_int(spec, "maxFailedIndexes"));
    if let Some(mfi) = max_failed {
        non_negative(mfi, &path.child("maxFailedIndexes"), errs);
        if per_index.is_none() {
            errs.push(FieldError::required(&path.child("backoffLimitPerIndex"), "when maxFailedIndexes is specified"));
        }
    }
    if let Some(managed_by) = opt_str(spec, "managedBy") {
        let p = path.child("managedBy");
        validate_domain_prefixed_path(managed_by, &p, errs);
        if managed_by.len() > 63 {
            errs.push(FieldError::too_long(&p, 63));
        }
    }
    let mode = opt_str(spec, "completionMode");
    if let Some(m) = mode {
        if m != "NonIndexed" && m != "Indexed" {
            errs.push(FieldError::not_supported(&path.child("completionMode"), m, &["NonIndexed", "Indexed"]));
        }
        if m == "Indexed" {
            if completions.is_none() {
                errs.push(FieldError::required(&path.child("completions"), "when completion mode is Indexed"));
            }
            if let Some(p) = parallelism.filter(|p| *p > MAX_PARALLELISM_INDEXED) {
                errs.push(FieldError::invalid(&path.child("parallelism"), p, "must be less than or equal to 100000 when completion mode is Indexed"));
            }
            if let (Some(c), Some(m)) = (completions, max_failed) {
                if m > c {
                    errs.push(FieldError::invalid(&path.child("maxFailedIndexes"), m, "must be less than or equal to completions"));
                }
            }
            if let Some(m) = max_failed.filter(|m| *m > MAX_FAILED_INDEXES) {
                errs.push(FieldError::invalid(&path.child("maxFailedIndexes"), m, "must be less than or equal to 100000"));
            }
            if completions.map(|c| c > COMPLETIONS_SOFT_LIMIT).unwrap_or(false) && per_index.is_some() {
                if max_failed.is_none() {
                    errs.push(FieldError::required(&path.child("maxFailedIndexes"), "must be specified when completions is above 100000"));
                }
                if let Some(p) = parallelism.filter(|p| *p > PARALLELISM_LIMIT_HIGH_COMPLETIONS) {
                    errs.push(FieldError::invalid(
                        &path.child("parallelism"),
                        p,
                        "must be less than or equal to 10000 when completions are above 100000 and used with backoff limit per index",
                    ));
                }
                if let Some(m) = max_failed.filter(|m| *m > MAX_FAILED_INDEXES_HIGH_COMPLETIONS) {
                    errs.push(FieldError::invalid(
                        &path.child("maxFailedIndexes"),
                        m,
                        "must be less than or equal to 10000 when completions are above 100000 and used with backoff limit per index",
                    ));
                }
            }
        }
    }
    if mode.is_none() || mode == Some("NonIndexed") {
        if let Some(b) = per_index {
            errs.push(FieldError::invalid(&path.child("backoffLimitPerIndex"), b, "requires indexed completion mode"));
        }
        if let Some(m) = max_failed {
            errs.push(FieldError::invalid(&path.child("maxFailedIndexes"), m, "requires indexed completion mode"));
        }
    }
    if let Some(pfp) = get(spec, "podFailurePolicy") {
        validate_pod_failure_policy(spec, pfp, &path.child("podFailurePolicy"), errs);
    }
    if let Some(sp) = get(spec, "successPolicy") {
        if mode != Some("Indexed") {
            errs.push(FieldError::invalid(&path.child("successPolicy"), go_repr("batch.SuccessPolicy{...}"), "requires indexed completion mode"));
        } else {
            validate_success_policy(spec, sp, &path.child("successPolicy"), errs);
        }
    }
    if let Some(prp) = opt_str(spec, "podReplacementPolicy") {
        let p = path.child("podReplacementPolicy");
        if has(spec, "podFailurePolicy") {
            if prp != "Failed" {
                errs.push(FieldError::not_supported(&p, prp, &["Failed"]));
            }
        } else if prp != "Failed" && prp != "TerminatingOrFailed" {
            errs.push(FieldError::not_supported(&p, prp, &["Failed", "TerminatingOrFailed"]));
        }
    }
    let template = sub(spec, "template");
    validate_pod_template_spec(template, &path.child("template"), errs);
    let rp_path = path.child("template").child("spec").child("restartPolicy");
    // Defaulting turns an unset policy into Always, so both read as "not chosen".
    match str_of(sub(template, "spec"), "restartPolicy") {
        "Always" | "" => errs.push(FieldError::required(&rp_path, "valid values: \"OnFailure\", \"Never\"")),
        "OnFailure" | "Never" => {
            let rp = str_of(sub(template, "spec"), "restartPolicy");
            if has(spec, "podFailurePolicy") && rp != "Never" {
                errs.push(FieldError::invalid(&rp_path, rp, "only \"Never\" is supported when podFailurePolicy is specified"));
            }
        }
        other => errs.push(FieldError::not_supported(&rp_path, other, &["OnFailure", "Never"])),
    }
}

/// `IsDomainPrefixedPath` (for `managedBy`).
fn validate_domain_prefixed_path(v: &str, path: &Path, errs: &mut Vec<FieldError>) {
    if v.is_empty() {
        errs.push(FieldError::required(path, ""));
        return;
    }
    let Some((host, rest)) = v.split_once('/').filter(|(h, r)| !h.is_empty() && !r.is_empty()) else {
        errs.push(FieldError::invalid(path, v, "must be a domain-prefixed path (such as \"acme.io/foo\")"));
        return;
    };
    for m in super::names::is_dns1123_subdomain(host) {
        errs.push(FieldError::invalid(path, host, m));
    }
    let ok = rest.bytes().all(|c| c.is_ascii_alphanumeric() || b"/-._~%!$&'()*+,;=:".contains(&c));
    if !ok {
        errs.push(FieldError::invalid(path, rest, "Invalid path (regex used for validation is '[A-Za-z0-9/\\-._~%!$&'()*+,;=:]+')"));
    }
}

fn validate_pod_failure_policy(spec: &Value, pfp: &Value, path: &Path, errs: &mut Vec<FieldError>) {
    let rules = arr(pfp, "rules");
    let rules_path = path.child("rules");
    if rules.len() > 20 {
        errs.push(FieldError::too_many(&rules_path, rules.len(), 20));
    }
    let template_spec = sub(sub(spec, "template"), "spec");
    let names: HashSet<&str> = arr(template_spec, "containers").iter().chain(arr(template_spec, "initContainers")).map(|c| str_of(c, "name")).collect();
    const ACTIONS: [&str; 4] = ["Count", "FailIndex", "FailJob", "Ignore"];
    for (i, rule) in rules.iter().enumerate() {
        let rp = rules_path.index(i);
        let action = str_of(rule, "action");
        if action.is_empty() {
            errs.push(FieldError::required(&rp.child("action"), "valid values: [\"Count\" \"FailIndex\" \"FailJob\" \"Ignore\"]"));
        } else if action == "FailIndex" {
            if !has(spec, "backoffLimitPerIndex") {
                errs.push(FieldError::invalid(&rp.child("action"), action, "requires the backoffLimitPerIndex to be set"));
            }
        } else if !ACTIONS.contains(&action) {
            errs.push(FieldError::not_supported(&rp.child("action"), action, &ACTIONS));
        }
        let on_exit = get(rule, "onExitCodes");
        let on_conditions = arr(rule, "onPodConditions");
        if let Some(oe) = on_exit {
            let p = rp.child("onExitCodes");
            let op = str_of(oe, "operator");
            if op.is_empty() {
                errs.push(FieldError::required(&p.child("operator"), "valid values: [\"In\" \"NotIn\"]"));
            } else if op != "In" && op != "NotIn" {
                errs.push(FieldError::not_supported(&p.child("operator"), op, &["In", "NotIn"]));
            }
            if let Some(c) = opt_str(oe, "containerName") {
                if !names.contains(c) {
                    errs.push(FieldError::invalid(&p.child("containerName"), c, "must be one of the container or initContainer names in the pod template"));
                }
            }
            let values = arr(oe, "values");
            let vp = p.child("values");
            if values.is_empty() {
                errs.push(FieldError::invalid(&vp, Value::Array(values.to_vec()), "at least one value is required"));
            } else if values.len() > 255 {
                errs.push(FieldError::too_many(&vp, values.len(), 255));
            }
            let mut seen: HashSet<i64> = HashSet::new();
            let mut ordered = true;
            for (j, v) in values.iter().enumerate() {
                let v = v.as_i64().unwrap_or(0);
                if op == "In" && v == 0 {
                    errs.push(FieldError::invalid(&vp.index(j), v, "must not be 0 for the In operator"));
                }
                if !seen.insert(v) {
                    errs.push(FieldError::duplicate(&vp.index(j), v));
                }
                if j > 0 && values[j - 1].as_i64().unwrap_or(0) > v {
                    ordered = false;
                }
            }
            if !ordered {
                errs.push(FieldError::invalid(&vp, Value::Array(values.to_vec()), "must be ordered"));
            }
        }
        if !on_conditions.is_empty() {
            let p = rp.child("onPodConditions");
            if on_conditions.len() > 20 {
                errs.push(FieldError::too_many(&p, on_conditions.len(), 20));
            }
            for (j, c) in on_conditions.iter().enumerate() {
                let cp = p.index(j);
                qualified_name(str_of(c, "type"), &cp.child("type"), errs);
                let st = str_of(c, "status");
                if st.is_empty() {
                    errs.push(FieldError::required(&cp.child("status"), "valid values: [\"False\" \"True\" \"Unknown\"]"));
                } else if !["False", "True", "Unknown"].contains(&st) {
                    errs.push(FieldError::not_supported(&cp.child("status"), st, &["False", "True", "Unknown"]));
                }
            }
        }
        if on_exit.is_some() && !on_conditions.is_empty() {
            errs.push(FieldError::invalid_omit(&rp, "specifying both OnExitCodes and OnPodConditions is not supported"));
        }
        if on_exit.is_none() && on_conditions.is_empty() {
            errs.push(FieldError::invalid_omit(&rp, "specifying one of OnExitCodes and OnPodConditions is required"));
        }
    }
}

fn validate_success_policy(spec: &Value, sp: &Value, path: &Path, errs: &mut Vec<FieldError>) {
    let rules = arr(sp, "rules");
    let rules_path = path.child("rules");
    if rules.is_empty() {
        errs.push(FieldError::required(&rules_path, "at least one rules must be specified when the successPolicy is specified"));
    }
    if rules.len() > 20 {
        errs.push(FieldError::too_many(&rules_path, rules.len(), 20));
    }
    let completions = opt_int(spec, "completions").unwrap_or(0);
    for (i, rule) in rules.iter().enumerate() {
        let rp = rules_path.index(i);
        let (count, indexes) = (opt_int(rule, "succeededCount"), opt_str(rule, "succeededIndexes"));
        if count.is_none() && indexes.is_none() {
            errs.push(FieldError::required(&rp, "at least one of succeededCount or succeededIndexes must be specified"));
        }
        let mut total = 0;
        if let Some(ix) = indexes {
            let ip = rp.child("succeededIndexes");
            if ix.len() > 64 * 1024 {
                errs.push(FieldError::too_long(&ip, 64 * 1024));
            }
            match parse_indexes(ix, completions) {
                Ok(t) => total = t,
                Err(e) => errs.push(FieldError::invalid(&ip, ix, format!("error parsing succeededIndexes: {e}"))),
            }
        }
        if let Some(c) = count {
            let cp = rp.child("succeededCount");
            non_negative(c, &cp, errs);
            if c > completions {
                errs.push(FieldError::invalid(&cp, c, format!("must be less than or equal to {completions} (the number of specified completions)")));
            }
            if indexes.is_some() && c > total {
                errs.push(FieldError::invalid(&cp, c, format!("must be less than or equal to {total} (the number of indexes in the specified succeededIndexes field)")));
            }
        }
    }
}

/// `validateIndexesFormat`: comma-separated, increasing indexes and ranges.
fn parse_indexes(s: &str, completions: i64) -> Result<i64, String> {
    if s.is_empty() {
        return Ok(0);
    }
    let mut last: Option<i64> = None;
    let mut total = 0;
    for interval in s.split(',') {
        let parts: Vec<&str> = interval.split('-').collect();
        if parts.len() > 2 {
            return Err(format!(
                "the fragment {} violates the requirement that an index interval can have at most two parts separated by '-'",
                super::field_error::go_quote(interval)
            ));
        }
        let parse = |p: &str| -> Result<i64, String> {
            let x: i64 = p.parse().map_err(|_| format!("cannot convert string to integer for index: {}", super::field_error::go_quote(p)))?;
            if x >= completions {
                return Err(format!("too large index: {}", super::field_error::go_quote(p)));
            }
            Ok(x)
        };
        let x = parse(parts[0])?;
        let y = if parts.len() > 1 {
            let y = parse(parts[1])?;
            if x >= y {
                return Err(format!("non-increasing order, previous: {x}, current: {y}"));
            }
            y
        } else {
            x
        };
        if let Some(l) = last {
            if l >= x {
                return Err(format!("non-increasing order, previous: {l}, current: {x}"));
            }
        }
        total += y - x + 1;
        last = Some(y);
    }
    Ok(total)
}

fn validate_job_update(job: &Value, old: &Value, errs: &mut Vec<FieldError>) {
    validate_object_meta_update(job, old, errs);
    let (spec, old_spec) = (sub(job, "spec"), sub(old, "spec"));
    let path = Path::new("spec");
    validate_job_spec_with_selector(spec, &path, errs);
    let (nc, oc) = (opt_int(spec, "completions"), opt_int(old_spec, "completions"));
    if nc != oc {
        let indexed = opt_str(spec, "completionMode") == Some("Indexed");
        let shown = nc.map(Value::from).unwrap_or(Value::Null);
        if !indexed {
            errs.push(FieldError::invalid(&path.child("completions"), shown, FIELD_IMMUTABLE));
        } else if let Some(c) = nc {
            // Elastic indexed jobs scale completions with parallelism.
            if Some(c) != opt_int(spec, "parallelism") {
                errs.push(FieldError::invalid(&path.child("completions"), c, "can only be modified in tandem with spec.parallelism"));
            }
        }
    }
    let (ns, os) = (get(spec, "selector"), get(old_spec, "selector"));
    let shown = match ns {
        Some(s) => go_repr(go_label_selector(Some(s))),
        None => Value::Null,
    };
    immutable(ns, os, &path.child("selector"), shown, errs);
    // Suspended jobs that never ran may change their scheduling directives.
    let mutable_scheduling = opt_bool(spec, "suspend") == Some(true) && get(sub(old, "status"), "startTime").is_none();
    let (nt, ot) = (sub(spec, "template"), sub(old_spec, "template"));
    let mut ot_cmp = ot.clone();
    if mutable_scheduling {
        let tspec = sub(nt, "spec");
        if let Some(m) = ot_cmp.get_mut("spec").and_then(Value::as_object_mut) {
            for key in ["nodeSelector", "tolerations", "schedulingGates"] {
                match tspec.get(key) {
                    Some(v) => m.insert(key.to_string(), v.clone()),
                    None => m.remove(key),
                };
            }
            let node_affinity = super::json::at(tspec, &["affinity", "nodeAffinity"]).cloned();
            let aff = m.entry("affinity").or_insert_with(|| Value::Object(Default::default()));
            if let Some(a) = aff.as_object_mut() {
                match node_affinity {
                    Some(na) => a.insert("nodeAffinity".to_string(), na),
                    None => a.remove("nodeAffinity"),
                };
            }
        }
        if let Some(m) = ot_cmp.get_mut("metadata").and_then(Value::as_object_mut) {
            for key in ["labels", "annotations"] {
                match sub(nt, "metadata").get(key) {
                    Some(v) => m.insert(key.to_string(), v.clone()),
                    None => m.remove(key),
                };
            }
        }
    }
    if !semantic_eq(Some(nt), Some(&ot_cmp)) {
        errs.push(FieldError::invalid(&path.child("template"), go_repr("core.PodTemplateSpec{...}"), FIELD_IMMUTABLE));
    }
    for key in ["completionMode", "podFailurePolicy", "backoffLimitPerIndex", "managedBy", "successPolicy"] {
        let (n, o) = (get(spec, key), get(old_spec, key));
        if !semantic_eq(n, o) {
            let shown = match n {
                None => Value::Null,
                Some(v) if v.is_string() || v.is_number() => v.clone(),
                Some(_) => go_repr(format!("&batch.{}{{...}}", upper_first(key))),
            };
            errs.push(FieldError::invalid(&path.child(key), shown, FIELD_IMMUTABLE));
        }
    }
}

fn upper_first(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
}

/// Status updates: counters never negative.
pub fn validate_job_status(job: &Value, old: &Value, errs: &mut Vec<FieldError>) {
    validate_object_meta_update(job, old, errs);
    let status = sub(job, "status");
    let p = Path::new("status");
    for key in ["active", "succeeded", "failed", "ready", "terminating"] {
        opt_non_negative(status, key, &p, errs);
    }
}

// ---------------------------------------------------------------- cron jobs

pub fn validate_cron_job(cj: &Value, old: Option<&Value>, errs: &mut Vec<FieldError>) {
    match old {
        None => validate_object_meta(cj, name_is_dns_subdomain, errs),
        Some(o) => validate_object_meta_update(cj, o, errs),
    }
    let spec = sub(cj, "spec");
    let old_spec = old.map(|o| sub(o, "spec"));
    let path = Path::new("spec");
    let schedule = str_of(spec, "schedule");
    let sp = path.child("schedule");
    if schedule.is_empty() {
        errs.push(FieldError::required(&sp, ""));
    } else {
        let allow_tz = old_spec.map(|o| str_of(o, "schedule").contains("TZ")).unwrap_or(false);
        if let Err(e) = super::cron::parse_standard(schedule) {
            errs.push(FieldError::invalid(&sp, schedule, e));
        }
        if allow_tz && schedule.contains("TZ") && has(spec, "timeZone") {
            errs.push(FieldError::invalid(&sp, schedule, "cannot use both timeZone field and TZ or CRON_TZ in schedule"));
        } else if !allow_tz && schedule.contains("TZ") {
            errs.push(FieldError::invalid(&sp, schedule, "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"));
        }
    }
    opt_non_negative(spec, "startingDeadlineSeconds", &path, errs);
    if old_spec.map(|o| opt_str(o, "timeZone") != opt_str(spec, "timeZone")).unwrap_or(true) {
        validate_time_zone(opt_str(spec, "timeZone"), &path.child("timeZone"), errs);
    }
    let cp = str_of(spec, "concurrencyPolicy");
    match cp {
        "Allow" | "Forbid" | "Replace" => {}
        "" => errs.push(FieldError::required(&path.child("concurrencyPolicy"), "")),
        other => errs.push(FieldError::not_supported(&path.child("concurrencyPolicy"), other, &["Allow", "Forbid", "Replace"])),
    }
    let jt = sub(spec, "jobTemplate");
    let jp = path.child("jobTemplate").child("spec");
    let jspec = sub(jt, "spec");
    validate_job_spec(jspec, &jp, errs);
    if let Some(sel) = get(jspec, "selector") {
        errs.push(FieldError::invalid(&jp.child("selector"), go_repr(go_label_selector(Some(sel))), "`selector` will be auto-generated"));
    }
    if opt_bool(jspec, "manualSelector") == Some(true) {
        errs.push(FieldError::not_supported(&jp.child("manualSelector"), true, &["nil", "false"]));
    }
    opt_non_negative(spec, "successfulJobsHistoryLimit", &path, errs);
    opt_non_negative(spec, "failedJobsHistoryLimit", &path, errs);
    if old.is_none() {
        let name = str_of(sub(cj, "metadata"), "name");
        // The controller appends an 11-character suffix to name its Jobs.
        if name.len() > 52 {
            errs.push(FieldError::invalid(&Path::new("metadata").child("name"), name, "must be no more than 52 characters"));
        }
    }
}

fn valid_tz_part(p: &str) -> bool {
    (1..=14).contains(&p.len()) && p.bytes().all(|c| c.is_ascii_alphanumeric() || b".-_+".contains(&c))
}

/// `validateTimeZone`.
fn validate_time_zone(tz: Option<&str>, path: &Path, errs: &mut Vec<FieldError>) {
    let Some(tz) = tz else { return };
    if tz.is_empty() {
        errs.push(FieldError::invalid(path, tz, "timeZone must be nil or non-empty string"));
        return;
    }
    for part in tz.split('/') {
        if part == "." || part == ".." || part.starts_with('-') || !valid_tz_part(part) {
            errs.push(FieldError::invalid(path, tz, format!("unknown time zone {tz}")));
            return;
        }
    }
    if tz.eq_ignore_ascii_case("Local") {
        errs.push(FieldError::invalid(path, tz, "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones"));
    }
    if let Err(e) = super::cron::load_location(tz) {
        errs.push(FieldError::invalid(path, tz, e));
    }
}
