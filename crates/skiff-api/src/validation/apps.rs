//! The apps group: Deployments, ReplicaSets, DaemonSets, StatefulSets and
//! ControllerRevisions (upstream `pkg/apis/apps/validation` plus the selector
//! immutability the registry strategies add on update).

use serde_json::Value;

use super::core::{check_template_restart_always, labels_value};
use super::field_error::{go_int_or_string, go_label_selector, go_pointer, go_quote, go_repr, FieldError, Path};
use super::json::{get, has, int_of, obj, opt_int, semantic_eq, str_of, sub};
use super::meta::*;
use super::names::{is_valid_percent, name_is_dns_label, name_is_dns_subdomain};
use super::pod::validate_pod_template_spec;

/// Create checks the name, update checks what may not change; both as upstream.
fn validate_meta(obj_: &Value, old: Option<&Value>, name_fn: super::names::NameFn, errs: &mut Vec<FieldError>) {
    match old {
        None => validate_object_meta(obj_, name_fn, errs),
        Some(old) => validate_object_meta_update(obj_, old, errs),
    }
}

/// A required, non-empty selector, then the template's labels against it.
fn validate_selector_and_template(spec: &Value, kind_word: &str, path: &Path, errs: &mut Vec<FieldError>) -> Result<Selector, InvalidSelector> {
    let sel = get(spec, "selector");
    match sel {
        None => errs.push(FieldError::required(&path.child("selector"), "")),
        Some(s) => {
            validate_label_selector(Some(s), &path.child("selector"), errs);
            if obj(s, "matchLabels").map(|m| m.len()).unwrap_or(0) + super::json::arr(s, "matchExpressions").len() == 0 {
                errs.push(FieldError::invalid(
                    &path.child("selector"),
                    go_repr(go_label_selector(Some(s))),
                    format!("empty selector is invalid for {kind_word}"),
                ));
            }
        }
    }
    Selector::from_label_selector(sel)
}

fn check_template_labels(selector: &Selector, template: &Value, path: &Path, errs: &mut Vec<FieldError>) {
    let labels = obj(sub(template, "metadata"), "labels");
    if !selector.is_empty() && !selector.matches(labels) {
        errs.push(FieldError::invalid(&path.child("metadata").child("labels"), labels_value(labels), "`selector` does not match template `labels`"));
    }
}

/// `ValidatePodTemplateSpecForReplicaSet` (Deployments use it too).
fn validate_template_for_replica_set(spec: &Value, selector: &Selector, path: &Path, errs: &mut Vec<FieldError>) {
    let template = sub(spec, "template");
    let tp = path.child("template");
    check_template_labels(selector, template, &tp, errs);
    validate_pod_template_spec(template, &tp, errs);
    check_template_restart_always(sub(template, "spec"), &tp.child("spec"), "ReplicaSet", errs);
}

fn selector_immutable(new: &Value, old: &Value, errs: &mut Vec<FieldError>) {
    let (ns, os) = (get(sub(new, "spec"), "selector"), get(sub(old, "spec"), "selector"));
    immutable(ns, os, &Path::new("spec").child("selector"), go_repr(go_label_selector(ns)), errs);
}

fn int_or_percent_value(v: Option<&Value>) -> i64 {
    match v {
        Some(Value::String(s)) => {
            if is_valid_percent(s).is_empty() {
                s.trim_end_matches('%').parse().unwrap_or(0)
            } else {
                // Go's IntValue() of a non-percent string.
                s.parse().unwrap_or(0)
            }
        }
        Some(v) => v.as_i64().unwrap_or(0),
        None => 0,
    }
}

/// `ValidatePositiveIntOrPercent`.
fn positive_int_or_percent(v: Option<&Value>, path: &Path, errs: &mut Vec<FieldError>) {
    match v {
        Some(Value::String(s)) => {
            for m in is_valid_percent(s) {
                errs.push(FieldError::invalid(path, go_repr(go_int_or_string(v)), m));
            }
        }
        other => non_negative(other.and_then(Value::as_i64).unwrap_or(0), path, errs),
    }
}

/// `IsNotMoreThan100Percent`.
fn not_more_than_100_percent(v: Option<&Value>, path: &Path, errs: &mut Vec<FieldError>) {
    if let Some(Value::String(s)) = v {
        if is_valid_percent(s).is_empty() && int_or_percent_value(v) > 100 {
            errs.push(FieldError::invalid(path, go_repr(go_int_or_string(v)), "must not be greater than 100%"));
        }
    }
}

// ---------------------------------------------------------------- deployments

pub fn validate_deployment(d: &Value, old: Option<&Value>, errs: &mut Vec<FieldError>) {
    validate_meta(d, old, name_is_dns_subdomain, errs);
    let spec = sub(d, "spec");
    let path = Path::new("spec");
    non_negative(opt_int(spec, "replicas").unwrap_or(0), &path.child("replicas"), errs);
    match validate_selector_and_template(spec, "deployment", &path, errs) {
        Err(InvalidSelector) => errs.push(FieldError::invalid(&path.child("selector"), go_repr(go_label_selector(get(spec, "selector"))), "invalid label selector")),
        Ok(sel) => validate_template_for_replica_set(spec, &sel, &path, errs),
    }
    validate_deployment_strategy(sub(spec, "strategy"), &path.child("strategy"), errs);
    opt_non_negative(spec, "minReadySeconds", &path, errs);
    opt_non_negative(spec, "revisionHistoryLimit", &path, errs);
    if let Some(pds) = opt_int(spec, "progressDeadlineSeconds") {
        non_negative(pds, &path.child("progressDeadlineSeconds"), errs);
        if pds <= int_of(spec, "minReadySeconds") {
            errs.push(FieldError::invalid(&path.child("progressDeadlineSeconds"), pds, "must be greater than minReadySeconds"));
        }
    }
    if let Some(old) = old {
        selector_immutable(d, old, errs);
    }
}

fn validate_deployment_strategy(strategy: &Value, path: &Path, errs: &mut Vec<FieldError>) {
    let ru = get(strategy, "rollingUpdate");
    match str_of(strategy, "type") {
        "Recreate" => {
            if ru.is_some() {
                errs.push(FieldError::forbidden(&path.child("rollingUpdate"), "may not be specified when strategy `type` is 'Recreate'"));
            }
        }
        "RollingUpdate" => match ru {
            None => errs.push(FieldError::required(&path.child("rollingUpdate"), "this should be defaulted and never be nil")),
            Some(ru) => {
                let p = path.child("rollingUpdate");
                let (mu, ms) = (get(ru, "maxUnavailable"), get(ru, "maxSurge"));
                positive_int_or_percent(mu, &p.child("maxUnavailable"), errs);
                positive_int_or_percent(ms, &p.child("maxSurge"), errs);
                if int_or_percent_value(mu) == 0 && int_or_percent_value(ms) == 0 {
                    errs.push(FieldError::invalid(&p.child("maxUnavailable"), go_repr(go_int_or_string(mu)), "may not be 0 when `maxSurge` is 0"));
                }
                not_more_than_100_percent(mu, &p.child("maxUnavailable"), errs);
            }
        },
        other => {
            let shown = format!(
                "apps.DeploymentStrategy{{Type:{}, RollingUpdate:{}}}",
                go_quote(other),
                go_pointer("apps.RollingUpdateDeployment", ru.is_some())
            );
            errs.push(FieldError::not_supported(path, go_repr(shown), &["Recreate", "RollingUpdate"]));
        }
    }
}

// ---------------------------------------------------------------- replica sets

pub fn validate_replica_set(rs: &Value, old: Option<&Value>, errs: &mut Vec<FieldError>) {
    validate_meta(rs, old, name_is_dns_subdomain, errs);
    let spec = sub(rs, "spec");
    let path = Path::new("spec");
    non_negative(opt_int(spec, "replicas").unwrap_or(0), &path.child("replicas"), errs);
    opt_non_negative(spec, "minReadySeconds", &path, errs);
    // Upstream's ReplicaSet message names deployments too.
    match validate_selector_and_template(spec, "deployment", &path, errs) {
        Err(InvalidSelector) => errs.push(FieldError::invalid(&path.child("selector"), go_repr(go_label_selector(get(spec, "selector"))), "invalid label selector")),
        Ok(sel) => validate_template_for_replica_set(spec, &sel, &path, errs),
    }
    if let Some(old) = old {
        selector_immutable(rs, old, errs);
    }
}

// ---------------------------------------------------------------- daemon sets

pub fn validate_daemon_set(ds: &Value, old: Option<&Value>, errs: &mut Vec<FieldError>) {
    validate_meta(ds, old, name_is_dns_subdomain, errs);
    let spec = sub(ds, "spec");
    let path = Path::new("spec");
    let sel = get(spec, "selector");
    validate_label_selector(sel, &path.child("selector"), errs);
    let template = sub(spec, "template");
    if let Ok(selector) = Selector::from_label_selector(sel) {
        // An absent selector matches nothing, so this also fires then.
        if !selector.matches(obj(sub(template, "metadata"), "labels")) {
            errs.push(FieldError::invalid(
                &path.child("template").child("metadata").child("labels"),
                labels_value(obj(sub(template, "metadata"), "labels")),
                "`selector` does not match template `labels`",
            ));
        }
    }
    if let Some(s) = sel {
        if obj(s, "matchLabels").map(|m| m.len()).unwrap_or(0) + super::json::arr(s, "matchExpressions").len() == 0 {
            errs.push(FieldError::invalid(&path.child("selector"), go_repr(go_label_selector(Some(s))), "empty selector is invalid for daemonset"));
        }
    }
    validate_pod_template_spec(template, &path.child("template"), errs);
    check_template_restart_always(sub(template, "spec"), &path.child("template").child("spec"), "DaemonSet", errs);
    opt_non_negative(spec, "minReadySeconds", &path, errs);
    validate_daemon_set_strategy(sub(spec, "updateStrategy"), &path.child("updateStrategy"), errs);
    opt_non_negative(spec, "revisionHistoryLimit", &path, errs);
    if let Some(old) = old {
        selector_immutable(ds, old, errs);
    }
}

fn validate_daemon_set_strategy(strategy: &Value, path: &Path, errs: &mut Vec<FieldError>) {
    let ru = get(strategy, "rollingUpdate");
    match str_of(strategy, "type") {
        "OnDelete" => {}
        "RollingUpdate" => {
            let Some(ru) = ru else {
                errs.push(FieldError::required(&path.child("rollingUpdate"), ""));
                return;
            };
            let p = path.child("rollingUpdate");
            let (mu, ms) = (get(ru, "maxUnavailable"), get(ru, "maxSurge"));
            positive_int_or_percent(mu, &p.child("maxUnavailable"), errs);
            positive_int_or_percent(ms, &p.child("maxSurge"), errs);
            not_more_than_100_percent(mu, &p.child("maxUnavailable"), errs);
            not_more_than_100_percent(ms, &p.child("maxSurge"), errs);
            let (has_unavailable, has_surge) = (int_or_percent_value(mu) != 0, int_or_percent_value(ms) != 0);
            if has_unavailable && has_surge {
                errs.push(FieldError::invalid(&p.child("maxSurge"), go_repr(go_int_or_string(ms)), "may not be set when maxUnavailable is non-zero"));
            } else if !has_unavailable && !has_surge {
                errs.push(FieldError::required(&p.child("maxUnavailable"), "cannot be 0 when maxSurge is 0"));
            }
        }
        other => {
            let shown = format!(
                "apps.DaemonSetUpdateStrategy{{Type:{}, RollingUpdate:{}}}",
                go_quote(other),
                go_pointer("apps.RollingUpdateDaemonSet", ru.is_some())
            );
            errs.push(FieldError::not_supported(path, go_repr(shown), &["RollingUpdate", "OnDelete"]));
        }
    }
}

// ---------------------------------------------------------------- stateful sets

pub fn validate_stateful_set(ss: &Value, old: Option<&Value>, errs: &mut Vec<FieldError>) {
    validate_meta(ss, old, name_is_dns_label, errs);
    let spec = sub(ss, "spec");
    let path = Path::new("spec");
    match str_of(spec, "podManagementPolicy") {
        "" => errs.push(FieldError::required(&path.child("podManagementPolicy"), "")),
        "OrderedReady" | "Parallel" => {}
        other => errs.push(FieldError::invalid(&path.child("podManagementPolicy"), other, "must be 'OrderedReady' or 'Parallel'")),
    }
    let strategy = sub(spec, "updateStrategy");
    let ru = get(strategy, "rollingUpdate");
    let sp = path.child("updateStrategy");
    match str_of(strategy, "type") {
        "" => errs.push(FieldError::required(&sp, "")),
        "OnDelete" => {
            if let Some(ru) = ru {
                errs.push(FieldError::invalid(&sp.child("rollingUpdate"), go_repr(go_sts_rolling_update(ru)), "only allowed for updateStrategy 'RollingUpdate'"));
            }
        }
        "RollingUpdate" => {
            if let Some(ru) = ru {
                let p = sp.child("rollingUpdate");
                non_negative(int_of(ru, "partition"), &p.child("partition"), errs);
                if let Some(mu) = get(ru, "maxUnavailable") {
                    positive_int_or_percent(Some(mu), &p.child("maxUnavailable"), errs);
                    if int_or_percent_value(Some(mu)) == 0 {
                        errs.push(FieldError::invalid(&p.child("maxUnavailable"), go_repr(go_int_or_string(Some(mu))), "cannot be 0"));
                    }
                    not_more_than_100_percent(Some(mu), &p.child("maxUnavailable"), errs);
                }
            }
        }
        other => {
            let shown = format!(
                "apps.StatefulSetUpdateStrategy{{Type:{}, RollingUpdate:{}}}",
                go_quote(other),
                go_pointer("apps.RollingUpdateStatefulSetStrategy", ru.is_some())
            );
            errs.push(FieldError::invalid(&sp, go_repr(shown), "must be 'RollingUpdate' or 'OnDelete'"));
        }
    }
    if let Some(policy) = get(spec, "persistentVolumeClaimRetentionPolicy") {
        let p = path.child("persistentVolumeClaimRetentionPolicy");
        for key in ["whenDeleted", "whenScaled"] {
            let v = str_of(policy, key);
            if v != "Retain" && v != "Delete" {
                errs.push(FieldError::not_supported(&p.child(key), v, &["Retain", "Delete"]));
            }
        }
    }
    non_negative(opt_int(spec, "replicas").unwrap_or(0), &path.child("replicas"), errs);
    opt_non_negative(spec, "minReadySeconds", &path, errs);
    if let Some(ord) = get(spec, "ordinals") {
        non_negative(int_of(ord, "start"), &path.child("ordinals.start"), errs);
    }
    match validate_selector_and_template(spec, "statefulset", &path, errs) {
        Err(InvalidSelector) => errs.push(FieldError::invalid(&path.child("selector"), go_repr(go_label_selector(get(spec, "selector"))), "")),
        Ok(sel) => {
            // Upstream checks only the template's metadata here, not its pod spec.
            let template = sub(spec, "template");
            let tp = path.child("template");
            check_template_labels(&sel, template, &tp, errs);
            let meta = sub(template, "metadata");
            validate_labels(obj(meta, "labels"), &tp.child("labels"), errs);
            validate_annotations(obj(meta, "annotations"), &tp.child("annotations"), errs);
            super::pod::validate_pod_specific_annotations(meta, sub(template, "spec"), &tp.child("annotations"), errs);
        }
    }
    let tspec = sub(sub(spec, "template"), "spec");
    let rp = str_of(tspec, "restartPolicy");
    if rp != "Always" {
        errs.push(FieldError::not_supported(&path.child("template").child("spec").child("restartPolicy"), rp, &["Always"]));
    }
    if has(tspec, "activeDeadlineSeconds") {
        errs.push(FieldError::forbidden(
            &path.child("template").child("spec").child("activeDeadlineSeconds"),
            "activeDeadlineSeconds in StatefulSet is not Supported",
        ));
    }
    if let Some(old) = old {
        let (mut n, o) = (spec.clone(), sub(old, "spec"));
        if let Some(m) = n.as_object_mut() {
            for key in ["replicas", "template", "updateStrategy", "minReadySeconds", "ordinals", "persistentVolumeClaimRetentionPolicy"] {
                match o.get(key) {
                    Some(v) => m.insert(key.to_string(), v.clone()),
                    None => m.remove(key),
                };
            }
        }
        if !semantic_eq(Some(&n), Some(o)) {
            errs.push(FieldError::forbidden(
                &path,
                "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
            ));
        }
    }
}

fn go_sts_rolling_update(ru: &Value) -> String {
    let mu = match get(ru, "maxUnavailable") {
        None => "(*intstr.IntOrString)(nil)".to_string(),
        Some(_) => "(*intstr.IntOrString)(0xc000000000)".to_string(),
    };
    format!("apps.RollingUpdateStatefulSetStrategy{{Partition:{}, MaxUnavailable:{mu}}}", int_of(ru, "partition"))
}

// ---------------------------------------------------------------- controller revisions

pub fn validate_controller_revision(cr: &Value, old: Option<&Value>, errs: &mut Vec<FieldError>) {
    if let Some(old) = old {
        validate_object_meta_update(cr, old, errs);
    }
    validate_object_meta(cr, name_is_dns_subdomain, errs);
    if get(cr, "data").is_none() {
        errs.push(FieldError::required(&Path::new("data"), "data is mandatory"));
    }
    non_negative(int_of(cr, "revision"), &Path::new("revision"), errs);
    if let Some(old) = old {
        immutable(get(cr, "data"), get(old, "data"), &Path::new("data"), go_repr("runtime.RawExtension{...}"), errs);
    }
}

// ---------------------------------------------------------------- status

/// Status updates: counters never negative nor above `replicas`.
pub fn validate_workload_status(kind: &str, obj_: &Value, old: &Value, errs: &mut Vec<FieldError>) {
    let status = sub(obj_, "status");
    let p = Path::new("status");
    let counters: &[&str] = match kind {
        "DaemonSet" => &[
            "currentNumberScheduled",
            "numberMisscheduled",
            "desiredNumberScheduled",
            "numberReady",
            "observedGeneration",
            "updatedNumberScheduled",
            "numberAvailable",
            "numberUnavailable",
            "collisionCount",
        ],
        "Deployment" => &["observedGeneration", "replicas", "updatedReplicas", "readyReplicas", "availableReplicas", "unavailableReplicas", "collisionCount"],
        "StatefulSet" => &["replicas", "readyReplicas", "currentReplicas", "updatedReplicas", "availableReplicas", "observedGeneration", "collisionCount"],
        _ => &["replicas", "fullyLabeledReplicas", "readyReplicas", "availableReplicas", "observedGeneration"],
    };
    validate_object_meta_update(obj_, old, errs);
    for key in counters {
        opt_non_negative(status, key, &p, errs);
    }
    if kind != "DaemonSet" {
        let replicas = int_of(status, "replicas");
        let msg = "cannot be greater than status.replicas";
        for key in ["fullyLabeledReplicas", "updatedReplicas", "currentReplicas", "readyReplicas", "availableReplicas"] {
            if counters.contains(&key) && int_of(status, key) > replicas {
                errs.push(FieldError::invalid(&p.child(key), int_of(status, key), msg));
            }
        }
        if int_of(status, "availableReplicas") > int_of(status, "readyReplicas") {
            let detail = if kind == "StatefulSet" { "cannot be greater than status.readyReplicas" } else { "cannot be greater than readyReplicas" };
            errs.push(FieldError::invalid(&p.child("availableReplicas"), int_of(status, "availableReplicas"), detail));
        }
    }
    let (nc, oc) = (opt_int(status, "collisionCount"), opt_int(sub(old, "status"), "collisionCount"));
    let decremented = match (nc, oc) {
        (None, Some(_)) => true,
        (Some(n), Some(o)) => n < o,
        _ => false,
    };
    if decremented {
        errs.push(FieldError::invalid(&p.child("collisionCount"), nc.unwrap_or(0), "cannot be decremented"));
    }
}
