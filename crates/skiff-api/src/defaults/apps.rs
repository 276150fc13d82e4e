//! apps group defaults (`pkg/apis/apps/v1/defaults.go`).

use serde_json::{Map, Value};

use super::core::{persistent_volume_claim, pod_template};
use super::{child, existing, items, set_default, set_default_str, str_at};

pub(super) fn deployment(d: &mut Value) {
    let spec = child(d, "spec");
    set_default(spec, "replicas", 1);
    let strategy = child(spec, "strategy");
    set_default_str(strategy, "type", "RollingUpdate");
    if str_at(strategy, "type") == "RollingUpdate" {
        let ru = child(strategy, "rollingUpdate");
        set_default(ru, "maxUnavailable", "25%");
        set_default(ru, "maxSurge", "25%");
    }
    set_default(spec, "revisionHistoryLimit", 10);
    set_default(spec, "progressDeadlineSeconds", 600);
    pod_template(child(spec, "template"));
}

pub(super) fn replica_set(rs: &mut Value) {
    let spec = child(rs, "spec");
    set_default(spec, "replicas", 1);
    pod_template(child(spec, "template"));
}

pub(super) fn daemon_set(ds: &mut Value) {
    let spec = child(ds, "spec");
    let strategy = child(spec, "updateStrategy");
    set_default_str(strategy, "type", "RollingUpdate");
    if str_at(strategy, "type") == "RollingUpdate" {
        let ru = child(strategy, "rollingUpdate");
        set_default(ru, "maxUnavailable", 1);
        set_default(ru, "maxSurge", 0);
    }
    set_default(spec, "revisionHistoryLimit", 10);
    pod_template(child(spec, "template"));
}

pub(super) fn stateful_set(ss: &mut Value) {
    let spec = child(ss, "spec");
    set_default_str(spec, "podManagementPolicy", "OrderedReady");
    let strategy = child(spec, "updateStrategy");
    if str_at(strategy, "type").is_empty() {
        set_default_str(strategy, "type", "RollingUpdate");
        // RollingUpdate then takes its defaults below.
        set_default(strategy, "rollingUpdate", Value::Object(Map::new()));
    }
    if str_at(strategy, "type") == "RollingUpdate" {
        if let Some(ru) = existing(strategy, "rollingUpdate") {
            set_default(ru, "partition", 0);
        }
    }
    let policy = child(spec, "persistentVolumeClaimRetentionPolicy");
    set_default_str(policy, "whenDeleted", "Retain");
    set_default_str(policy, "whenScaled", "Retain");
    set_default(spec, "replicas", 1);
    set_default(spec, "revisionHistoryLimit", 10);
    pod_template(child(spec, "template"));
    for claim in items(spec, "volumeClaimTemplates") {
        persistent_volume_claim(claim);
        // apps/v1 conversion writes the templates' TypeMeta (kubectl shows it).
        if let Some(m) = claim.as_object_mut() {
            m.insert("apiVersion".to_string(), Value::from("v1"));
            m.insert("kind".to_string(), Value::from("PersistentVolumeClaim"));
        }
    }
}
