//! The Deployment controller's arithmetic and bookkeeping, pure (upstream
//! `pkg/controller/deployment/util`): maxSurge/maxUnavailable fenceposts, the new
//! ReplicaSet's size, proportions for scaling during a rollout, template hashes,
//! revision and replica annotations, conditions, and the progress predicates.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentCondition, DeploymentStatus, ReplicaSet};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::Value;

pub const REVISION: &str = "deployment.kubernetes.io/revision";
pub const REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";
pub const DESIRED_REPLICAS: &str = "deployment.kubernetes.io/desired-replicas";
pub const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";
pub const ROLLBACK_TO: &str = "deprecated.deployment.rollback.to";
pub const HASH_LABEL: &str = "pod-template-hash";
/// Upstream's limit on the revision-history annotation.
pub const MAX_REV_HISTORY_CHARS: usize = 2000;

// Condition reasons, as upstream words them.
pub const NEW_RS_REASON: &str = "NewReplicaSetCreated";
pub const FOUND_NEW_RS_REASON: &str = "FoundNewReplicaSet";
pub const NEW_RS_AVAILABLE_REASON: &str = "NewReplicaSetAvailable";
pub const RS_UPDATED_REASON: &str = "ReplicaSetUpdated";
pub const TIMED_OUT_REASON: &str = "ProgressDeadlineExceeded";
pub const PAUSED_REASON: &str = "DeploymentPaused";
pub const RESUMED_REASON: &str = "DeploymentResumed";
pub const FAILED_RS_CREATE_REASON: &str = "ReplicaSetCreateError";
pub const MIN_AVAILABLE_REASON: &str = "MinimumReplicasAvailable";
pub const MIN_UNAVAILABLE_REASON: &str = "MinimumReplicasUnavailable";

/// Annotations a ReplicaSet does not copy from its Deployment.
pub fn skip_copy(key: &str) -> bool {
    matches!(key, LAST_APPLIED | REVISION | REVISION_HISTORY | DESIRED_REPLICAS | MAX_REPLICAS | ROLLBACK_TO)
}

pub fn d_replicas(d: &Deployment) -> i32 {
    d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

pub fn rs_replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

pub fn set_rs_replicas(rs: &mut ReplicaSet, n: i32) {
    rs.spec.get_or_insert_with(Default::default).replicas = Some(n);
}

pub fn rs_status(rs: &ReplicaSet) -> (i32, i32, i32) {
    let s = rs.status.as_ref();
    (
        s.map(|s| s.replicas).unwrap_or(0),
        s.and_then(|s| s.ready_replicas).unwrap_or(0),
        s.and_then(|s| s.available_replicas).unwrap_or(0),
    )
}

pub fn is_rolling_update(d: &Deployment) -> bool {
    d.spec.as_ref().and_then(|s| s.strategy.as_ref()).and_then(|s| s.type_.as_deref()).unwrap_or("RollingUpdate") == "RollingUpdate"
}

fn rolling(d: &Deployment) -> (Option<IntOrString>, Option<IntOrString>) {
    let ru = d.spec.as_ref().and_then(|s| s.strategy.as_ref()).and_then(|s| s.rolling_update.as_ref());
    // The API server defaults both to 25%.
    match ru {
        Some(ru) => (ru.max_surge.clone(), ru.max_unavailable.clone()),
        None => (Some(IntOrString::String("25%".into())), Some(IntOrString::String("25%".into()))),
    }
}

/// intstr.GetScaledValueFromIntOrPercent.
pub fn scaled_value(v: &IntOrString, total: i32, round_up: bool) -> Result<i32, String> {
    match v {
        IntOrString::Int(i) => Ok(*i),
        IntOrString::String(s) => {
            let Some(n) = s.strip_suffix('%') else { return Err("invalid value for IntOrString: invalid type: string is not a percentage".to_string()) };
            let n: i64 = n.parse().map_err(|_| format!("invalid value for IntOrString: invalid value {s:?}"))?;
            let x = n as f64 * f64::from(total) / 100.0;
            Ok(if round_up { x.ceil() } else { x.floor() } as i32)
        }
    }
}

/// Both fenceposts at once; if both round to zero, one pod may be unavailable.
pub fn resolve_fenceposts(max_surge: Option<&IntOrString>, max_unavailable: Option<&IntOrString>, desired: i32) -> (i32, i32) {
    let zero = IntOrString::Int(0);
    let surge = scaled_value(max_surge.unwrap_or(&zero), desired, true).unwrap_or(0);
    let mut unavailable = scaled_value(max_unavailable.unwrap_or(&zero), desired, false).unwrap_or(0);
    if surge == 0 && unavailable == 0 {
        unavailable = 1;
    }
    (surge, unavailable)
}

pub fn max_unavailable(d: &Deployment) -> i32 {
    let replicas = d_replicas(d);
    if !is_rolling_update(d) || replicas == 0 {
        return 0;
    }
    let (s, u) = rolling(d);
    let (_, unavailable) = resolve_fenceposts(s.as_ref(), u.as_ref(), replicas);
    unavailable.min(replicas)
}

pub fn max_surge(d: &Deployment) -> i32 {
    if !is_rolling_update(d) {
        return 0;
    }
    let (s, u) = rolling(d);
    resolve_fenceposts(s.as_ref(), u.as_ref(), d_replicas(d)).0
}

pub fn sum_replicas<'a>(rss: impl IntoIterator<Item = &'a ReplicaSet>) -> i32 {
    rss.into_iter().map(rs_replicas).sum()
}

/// The size the new ReplicaSet may have now (upstream `NewRSNewReplicas`).
pub fn new_rs_new_replicas(d: &Deployment, all: &[&ReplicaSet], new_rs: &ReplicaSet) -> i32 {
    let replicas = d_replicas(d);
    if !is_rolling_update(d) {
        return replicas;
    }
    let (s, _) = rolling(d);
    let surge = s.as_ref().and_then(|s| scaled_value(s, replicas, true).ok()).unwrap_or(0);
    let current = sum_replicas(all.iter().copied());
    let max_total = replicas + surge;
    if current >= max_total {
        return rs_replicas(new_rs);
    }
    let up = (max_total - current).min(replicas - rs_replicas(new_rs));
    rs_replicas(new_rs) + up
}

/// Template without the hash label, with empty maps and lists dropped (apimachinery's
/// semantic equality treats nil and empty alike).
fn comparable(t: &PodTemplateSpec) -> Value {
    let mut v = serde_json::to_value(t).unwrap_or(Value::Null);
    if let Some(labels) = v.pointer_mut("/metadata/labels").and_then(Value::as_object_mut) {
        labels.remove(HASH_LABEL);
    }
    prune(&mut v);
    v
}

fn prune(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for x in m.values_mut() {
                prune(x);
            }
            m.retain(|_, x| !(x.is_null() || x.as_object().is_some_and(|o| o.is_empty()) || x.as_array().is_some_and(|a| a.is_empty())));
        }
        Value::Array(a) => a.iter_mut().for_each(prune),
        _ => {}
    }
}

pub fn equal_ignore_hash(a: &PodTemplateSpec, b: &PodTemplateSpec) -> bool {
    comparable(a) == comparable(b)
}

pub fn template_of(rs: &ReplicaSet) -> PodTemplateSpec {
    rs.spec.as_ref().and_then(|s| s.template.clone()).unwrap_or_default()
}

pub fn d_template(d: &Deployment) -> PodTemplateSpec {
    d.spec.as_ref().map(|s| s.template.clone()).unwrap_or_default()
}

fn created(rs: &ReplicaSet) -> Option<Timestamp> {
    rs.metadata.creation_timestamp.as_ref().map(|t| t.0)
}

fn name(rs: &ReplicaSet) -> &str {
    rs.metadata.name.as_deref().unwrap_or("")
}

/// Older first, then by name.
pub fn by_creation(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    match created(a).cmp(&created(b)) {
        Ordering::Equal => name(a).cmp(name(b)),
        o => o,
    }
}

/// Larger first; among equals, older first (scaling down).
pub fn by_size_older(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    match rs_replicas(b).cmp(&rs_replicas(a)) {
        Ordering::Equal => by_creation(a, b),
        o => o,
    }
}

/// Larger first; among equals, newer first (scaling up).
pub fn by_size_newer(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    match rs_replicas(b).cmp(&rs_replicas(a)) {
        Ordering::Equal => by_creation(b, a),
        o => o,
    }
}

/// Lower revision first, then older.
pub fn by_revision(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    match revision(a).unwrap_or(0).cmp(&revision(b).unwrap_or(0)) {
        Ordering::Equal => by_creation(a, b),
        o => o,
    }
}

fn annotation<'a>(rs: &'a ReplicaSet, key: &str) -> Option<&'a str> {
    rs.metadata.annotations.as_ref().and_then(|a| a.get(key)).map(String::as_str)
}

pub fn revision(rs: &ReplicaSet) -> Option<i64> {
    annotation(rs, REVISION).and_then(|v| v.parse().ok())
}

pub fn max_revision<'a>(rss: impl IntoIterator<Item = &'a ReplicaSet>) -> i64 {
    rss.into_iter().filter_map(revision).max().unwrap_or(0)
}

pub fn desired_replicas_annotation(rs: &ReplicaSet) -> Option<i32> {
    annotation(rs, DESIRED_REPLICAS).and_then(|v| v.parse().ok())
}

pub fn max_replicas_annotation(rs: &ReplicaSet) -> Option<i32> {
    annotation(rs, MAX_REPLICAS).and_then(|v| v.parse().ok())
}

/// Sets desired-replicas and max-replicas; true if anything changed.
pub fn set_replicas_annotations(rs: &mut ReplicaSet, desired: i32, max: i32) -> bool {
    let a = rs.metadata.annotations.get_or_insert_with(BTreeMap::new);
    let mut changed = false;
    for (k, v) in [(DESIRED_REPLICAS, desired), (MAX_REPLICAS, max)] {
        let v = v.to_string();
        if a.get(k) != Some(&v) {
            a.insert(k.to_string(), v);
            changed = true;
        }
    }
    changed
}

pub fn replicas_annotations_need_update(rs: &ReplicaSet, desired: i32, max: i32) -> bool {
    annotation(rs, DESIRED_REPLICAS) != Some(desired.to_string().as_str()) || annotation(rs, MAX_REPLICAS) != Some(max.to_string().as_str())
}

/// Copies the Deployment's annotations (but not revision, apply, replica ones) to the ReplicaSet.
fn copy_annotations(d: &Deployment, rs: &mut ReplicaSet) -> bool {
    let a = rs.metadata.annotations.get_or_insert_with(BTreeMap::new);
    let mut changed = false;
    for (k, v) in d.metadata.annotations.iter().flatten() {
        if skip_copy(k) || a.get(k) == Some(v) {
            continue;
        }
        a.insert(k.clone(), v.clone());
        changed = true;
    }
    changed
}

/// The new ReplicaSet's annotations (upstream `SetNewReplicaSetAnnotations`): the
/// Deployment's, the revision (never lowered; an older revision that becomes new again,
/// as on rollback, is remembered in revision-history), and on creation the replica
/// annotations.
pub fn set_new_rs_annotations(d: &Deployment, rs: &mut ReplicaSet, new_revision: &str, exists: bool) -> bool {
    let mut changed = copy_annotations(d, rs);
    let a = rs.metadata.annotations.get_or_insert_with(BTreeMap::new);
    let old = a.get(REVISION).cloned();
    let old_int = match old.as_deref().map(str::parse::<i64>) {
        None => 0,
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let Ok(new_int) = new_revision.parse::<i64>() else { return false };
    if old_int < new_int {
        a.insert(REVISION.into(), new_revision.into());
        changed = true;
    }
    if let Some(old) = old.filter(|_| old_int < new_int) {
        let history = a.get(REVISION_HISTORY).cloned().unwrap_or_default();
        if history.is_empty() {
            a.insert(REVISION_HISTORY.into(), old);
        } else {
            let mut revisions: Vec<&str> = history.split(',').collect();
            let mut total = history.len() + old.len() + 1;
            let mut start = 0;
            while total > MAX_REV_HISTORY_CHARS && start < revisions.len() {
                total -= revisions[start].len() + 1;
                start += 1;
            }
            if total <= MAX_REV_HISTORY_CHARS {
                revisions = revisions.split_off(start);
                revisions.push(&old);
                let joined = revisions.join(",");
                a.insert(REVISION_HISTORY.into(), joined);
            }
        }
    }
    if !exists {
        let replicas = d_replicas(d);
        if set_replicas_annotations(rs, replicas, replicas + max_surge(d)) {
            changed = true;
        }
    }
    changed
}

/// Sets the Deployment's revision annotation; true if it changed.
pub fn set_deployment_revision(d: &mut Deployment, revision: &str) -> bool {
    let a = d.metadata.annotations.get_or_insert_with(BTreeMap::new);
    if a.get(REVISION).map(String::as_str) == Some(revision) {
        return false;
    }
    a.insert(REVISION.into(), revision.into());
    true
}

/// FNV-32a.
fn fnv32a(bytes: &[u8]) -> u32 {
    let mut h: u32 = 0x811c9dc5;
    for b in bytes {
        h ^= u32::from(*b);
        h = h.wrapping_mul(0x01000193);
    }
    h
}

/// Upstream's SafeEncodeString: no vowels, no look-alikes.
fn safe_encode(s: &str) -> String {
    const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    s.bytes().map(|b| ALPHANUMS[b as usize % ALPHANUMS.len()] as char).collect()
}

/// The pod-template-hash of a template and collision count.
pub fn compute_hash(template: &PodTemplateSpec, collision_count: Option<i32>) -> String {
    let mut bytes = serde_json::to_vec(template).unwrap_or_default();
    if let Some(c) = collision_count {
        bytes.extend_from_slice(&(c as u32).to_le_bytes());
    }
    safe_encode(&fnv32a(&bytes).to_string())
}

pub fn get_condition<'a>(s: &'a DeploymentStatus, type_: &str) -> Option<&'a DeploymentCondition> {
    s.conditions.as_ref()?.iter().find(|c| c.type_ == type_)
}

pub fn new_condition(type_: &str, status: &str, reason: &str, message: &str, now: Timestamp) -> DeploymentCondition {
    let now = crate::clock::truncate(now);
    DeploymentCondition {
        type_: type_.into(),
        status: status.into(),
        reason: Some(reason.into()),
        message: Some(message.into()),
        last_update_time: Some(Time(now)),
        last_transition_time: Some(Time(now)),
    }
}

/// Sets a condition: nothing if status and reason are the same; lastTransitionTime kept
/// if only the reason changed.
pub fn set_condition(s: &mut DeploymentStatus, mut c: DeploymentCondition) {
    if let Some(cur) = get_condition(s, &c.type_) {
        if cur.status == c.status && cur.reason == c.reason {
            return;
        }
        if cur.status == c.status {
            c.last_transition_time = cur.last_transition_time.clone();
        }
    }
    remove_condition(s, &c.type_);
    s.conditions.get_or_insert_with(Vec::new).push(c);
}

pub fn remove_condition(s: &mut DeploymentStatus, type_: &str) {
    if let Some(cs) = &mut s.conditions {
        cs.retain(|c| c.type_ != type_);
        if cs.is_empty() {
            s.conditions = None;
        }
    }
}

pub fn has_progress_deadline(d: &Deployment) -> bool {
    d.spec.as_ref().and_then(|s| s.progress_deadline_seconds).is_some_and(|p| p != i32::MAX)
}

pub fn revision_history_limit(d: &Deployment) -> Option<i32> {
    d.spec.as_ref().and_then(|s| s.revision_history_limit).filter(|l| *l != i32::MAX)
}

pub fn status_of(d: &Deployment) -> DeploymentStatus {
    d.status.clone().unwrap_or_default()
}

fn n(v: Option<i32>) -> i32 {
    v.unwrap_or(0)
}

/// All replicas updated and available, no old ones, generation observed.
pub fn deployment_complete(d: &Deployment, s: &DeploymentStatus) -> bool {
    let r = d_replicas(d);
    n(s.updated_replicas) == r && n(s.replicas) == r && n(s.available_replicas) == r && s.observed_generation.unwrap_or(0) >= d.metadata.generation.unwrap_or(0)
}

/// New pods were added or became ready or available, or old ones went away.
pub fn deployment_progressing(d: &Deployment, new: &DeploymentStatus) -> bool {
    let old = status_of(d);
    let old_old = n(old.replicas) - n(old.updated_replicas);
    let new_old = n(new.replicas) - n(new.updated_replicas);
    n(new.updated_replicas) > n(old.updated_replicas)
        || new_old < old_old
        || n(new.ready_replicas) > n(old.ready_replicas)
        || n(new.available_replicas) > n(old.available_replicas)
}

/// The last progress is older than progressDeadlineSeconds (or already timed out).
pub fn deployment_timed_out(d: &Deployment, new: &DeploymentStatus, now: Timestamp) -> bool {
    if !has_progress_deadline(d) {
        return false;
    }
    let Some(c) = get_condition(new, "Progressing") else { return false };
    match c.reason.as_deref() {
        Some(NEW_RS_AVAILABLE_REASON) => return false,
        Some(TIMED_OUT_REASON) => return true,
        _ => {}
    }
    let Some(from) = c.last_update_time.as_ref().map(|t| t.0) else { return false };
    let deadline = i64::from(d.spec.as_ref().and_then(|s| s.progress_deadline_seconds).unwrap_or(600));
    from + jiff::SignedDuration::from_secs(deadline) < now
}

/// The new ReplicaSet owns all the Deployment's replicas, all available.
pub fn is_saturated(d: &Deployment, rs: Option<&ReplicaSet>) -> bool {
    let Some(rs) = rs else { return false };
    let r = d_replicas(d);
    rs_replicas(rs) == r && desired_replicas_annotation(rs) == Some(r) && rs_status(rs).2 == r
}

/// The estimated share of a scaling event for one ReplicaSet (upstream `GetProportion`).
pub fn get_proportion(rs: &ReplicaSet, d: &Deployment, to_add: i32, added: i32) -> i32 {
    if rs_replicas(rs) == 0 || to_add == 0 || to_add == added {
        return 0;
    }
    let fraction = rs_fraction(rs, d);
    let allowed = to_add - added;
    if to_add > 0 {
        fraction.min(allowed)
    } else {
        fraction.max(allowed)
    }
}

fn rs_fraction(rs: &ReplicaSet, d: &Deployment) -> i32 {
    if d_replicas(d) == 0 {
        return -rs_replicas(rs);
    }
    let max = d_replicas(d) + max_surge(d);
    let before = match max_replicas_annotation(rs) {
        Some(v) if v != 0 => v,
        _ => {
            let r = n(d.status.as_ref().and_then(|s| s.replicas));
            if r == 0 {
                return 0;
            }
            r
        }
    };
    let size = f64::from(rs_replicas(rs)) * f64::from(max) / f64::from(before);
    // Go's integer.RoundToInt32: math.Round, half away from zero.
    size.round() as i32 - rs_replicas(rs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::{DeploymentSpec, DeploymentStrategy, ReplicaSetSpec, RollingUpdateDeployment};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    pub fn ios(s: &str) -> IntOrString {
        match s.parse::<i32>() {
            Ok(i) => IntOrString::Int(i),
            Err(_) => IntOrString::String(s.into()),
        }
    }

    fn dep(replicas: i32, surge: &str, unavailable: &str) -> Deployment {
        Deployment {
            metadata: ObjectMeta { name: Some("web".into()), ..Default::default() },
            spec: Some(DeploymentSpec {
                replicas: Some(replicas),
                strategy: Some(DeploymentStrategy {
                    type_: Some("RollingUpdate".into()),
                    rolling_update: Some(RollingUpdateDeployment { max_surge: Some(ios(surge)), max_unavailable: Some(ios(unavailable)) }),
                }),
                ..Default::default()
            }),
            status: None,
        }
    }

    fn rs(replicas: i32, annotations: &[(&str, &str)]) -> ReplicaSet {
        ReplicaSet {
            metadata: ObjectMeta {
                annotations: Some(annotations.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()),
                ..Default::default()
            },
            spec: Some(ReplicaSetSpec { replicas: Some(replicas), ..Default::default() }),
            status: None,
        }
    }

    #[test]
    fn fenceposts_numbers_and_percents() {
        // Defaults 25%/25%: surge rounds up, unavailable down.
        assert_eq!(resolve_fenceposts(Some(&ios("25%")), Some(&ios("25%")), 10), (3, 2));
        assert_eq!(resolve_fenceposts(Some(&ios("25%")), Some(&ios("25%")), 3), (1, 0));
        assert_eq!(resolve_fenceposts(Some(&ios("25%")), Some(&ios("25%")), 1), (1, 0));
        // Both zero after rounding: one may be unavailable.
        assert_eq!(resolve_fenceposts(Some(&ios("0")), Some(&ios("1%")), 2), (0, 1));
        assert_eq!(resolve_fenceposts(Some(&ios("2")), Some(&ios("3")), 10), (2, 3));
        assert_eq!(max_unavailable(&dep(10, "3", "20")), 10, "capped at replicas");
        assert_eq!(max_unavailable(&dep(0, "1", "1")), 0);
        assert_eq!(max_surge(&dep(10, "50%", "0")), 5);
        assert_eq!(scaled_value(&ios("33%"), 10, true), Ok(4));
        assert_eq!(scaled_value(&ios("33%"), 10, false), Ok(3));
        assert!(scaled_value(&ios("abc"), 10, false).is_err());
        let mut recreate = dep(5, "1", "1");
        recreate.spec.as_mut().unwrap().strategy = Some(DeploymentStrategy { type_: Some("Recreate".into()), rolling_update: None });
        assert_eq!((max_surge(&recreate), max_unavailable(&recreate)), (0, 0));
    }

    #[test]
    fn new_replica_set_size() {
        let d = dep(10, "3", "2");
        let old = rs(10, &[]);
        let new = rs(0, &[]);
        assert_eq!(new_rs_new_replicas(&d, &[&old, &new], &new), 3, "up to the surge");
        let old8 = rs(8, &[]);
        let new3 = rs(3, &[]);
        assert_eq!(new_rs_new_replicas(&d, &[&old8, &new3], &new3), 5);
        let full = rs(13, &[]);
        assert_eq!(new_rs_new_replicas(&d, &[&full, &new3], &new3), 3, "at max, no scale-up");
        let nearly = rs(9, &[]);
        assert_eq!(new_rs_new_replicas(&d, &[&nearly], &nearly), 10, "never above desired");
    }

    #[test]
    fn proportions() {
        // 10 -> 15 replicas during a rollout; max-replicas annotation 13 (10 + surge 3).
        let mut d = dep(15, "3", "2");
        d.status = Some(DeploymentStatus { replicas: Some(13), ..Default::default() });
        let old = rs(8, &[(MAX_REPLICAS, "13")]);
        let new = rs(5, &[(MAX_REPLICAS, "13")]);
        // allowed = 15 + 4 (25% of 15 rounded up? surge is 3 here) = 18; to add 18 - 13 = 5.
        let to_add = 15 + max_surge(&d) - 13;
        assert_eq!(to_add, 5);
        let p_old = get_proportion(&old, &d, to_add, 0);
        assert_eq!(p_old, 3, "8 * 18/13 = 11.08 -> 11");
        let p_new = get_proportion(&new, &d, to_add, p_old);
        assert_eq!(p_new, 2, "5 * 18/13 = 6.9 -> 7, capped by the 2 left");
        // Scaling to zero removes everything.
        let zero = dep(0, "3", "2");
        assert_eq!(get_proportion(&old, &zero, -13, 0), -8);
        assert_eq!(get_proportion(&rs(0, &[]), &d, 5, 0), 0);
    }

    #[test]
    fn hashes_are_stable_and_collisions_change_them() {
        let t = PodTemplateSpec::default();
        let h = compute_hash(&t, None);
        assert_eq!(h, compute_hash(&t, None));
        assert_ne!(h, compute_hash(&t, Some(1)));
        assert!(h.chars().all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c)) && !h.is_empty());
    }

    #[test]
    fn templates_equal_ignoring_the_hash_label_and_empty_fields() {
        let a: PodTemplateSpec = serde_json::from_value(serde_json::json!({"metadata": {"labels": {"app": "web", "pod-template-hash": "abc"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}})).unwrap();
        let b: PodTemplateSpec = serde_json::from_value(serde_json::json!({"metadata": {"labels": {"app": "web"}, "annotations": {}}, "spec": {"containers": [{"name": "c", "image": "nginx", "env": []}]}})).unwrap();
        assert!(equal_ignore_hash(&a, &b));
        let c: PodTemplateSpec = serde_json::from_value(serde_json::json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx:2"}]}})).unwrap();
        assert!(!equal_ignore_hash(&a, &c));
    }

    #[test]
    fn revisions_and_history() {
        let mut d = dep(3, "1", "1");
        d.metadata.annotations = Some([("kubernetes.io/change-cause".to_string(), "v2".to_string()), (LAST_APPLIED.to_string(), "{}".to_string())].into());
        let mut r = rs(0, &[]);
        assert!(set_new_rs_annotations(&d, &mut r, "1", false));
        let a = r.metadata.annotations.clone().unwrap();
        assert_eq!(a[REVISION], "1");
        assert_eq!(a["kubernetes.io/change-cause"], "v2");
        assert!(!a.contains_key(LAST_APPLIED));
        assert_eq!((a[DESIRED_REPLICAS].as_str(), a[MAX_REPLICAS].as_str()), ("3", "4"));
        // Rolled back to: revision 3, history "1".
        assert!(set_new_rs_annotations(&d, &mut r, "3", true));
        let a = r.metadata.annotations.clone().unwrap();
        assert_eq!((a[REVISION].as_str(), a[REVISION_HISTORY].as_str()), ("3", "1"));
        assert!(set_new_rs_annotations(&d, &mut r, "5", true));
        assert_eq!(r.metadata.annotations.as_ref().unwrap()[REVISION_HISTORY], "1,3");
        // Never lowered.
        assert!(!set_new_rs_annotations(&d, &mut r, "2", true));
        assert_eq!(revision(&r), Some(5));
    }

    #[test]
    fn conditions_keep_transition_times() {
        let mut s = DeploymentStatus::default();
        set_condition(&mut s, new_condition("Progressing", "True", NEW_RS_REASON, "a", Timestamp::from_second(100).unwrap()));
        set_condition(&mut s, new_condition("Progressing", "True", RS_UPDATED_REASON, "b", Timestamp::from_second(200).unwrap()));
        let c = get_condition(&s, "Progressing").unwrap();
        assert_eq!(c.reason.as_deref(), Some(RS_UPDATED_REASON));
        assert_eq!(c.last_transition_time.as_ref().unwrap().0.as_second(), 100);
        assert_eq!(c.last_update_time.as_ref().unwrap().0.as_second(), 200);
        // Same status and reason: untouched.
        set_condition(&mut s, new_condition("Progressing", "True", RS_UPDATED_REASON, "c", Timestamp::from_second(300).unwrap()));
        assert_eq!(get_condition(&s, "Progressing").unwrap().message.as_deref(), Some("b"));
        remove_condition(&mut s, "Progressing");
        assert!(s.conditions.is_none());
    }

    #[test]
    fn timed_out() {
        let mut d = dep(1, "1", "0");
        d.spec.as_mut().unwrap().progress_deadline_seconds = Some(10);
        let mut s = DeploymentStatus::default();
        set_condition(&mut s, new_condition("Progressing", "True", RS_UPDATED_REASON, "", Timestamp::from_second(100).unwrap()));
        assert!(!deployment_timed_out(&d, &s, Timestamp::from_second(110).unwrap()));
        assert!(deployment_timed_out(&d, &s, Timestamp::from_second(111).unwrap()));
        d.spec.as_mut().unwrap().progress_deadline_seconds = Some(i32::MAX);
        assert!(!deployment_timed_out(&d, &s, Timestamp::from_second(10_000).unwrap()));
    }
}
