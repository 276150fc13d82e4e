//! Validation of API objects as Kubernetes v1.33 validates them: the same checks,
//! in the same order, with the same field paths and messages, so that a rejected
//! object reads exactly as `kubectl` users know it (`Deployment.apps "web" is
//! invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0`).
//!
//! Objects are JSON in their v1 form, already defaulted ([`crate::defaults`]).
//! One file per API group; `field_error` holds the error type and its text,
//! `names` the format checks, `meta` ObjectMeta and selectors, `pod` the PodSpec
//! shared by Pods and every workload template.
//!
//! What the caller does before calling in, as upstream's registry does: sets
//! `metadata.namespace` from the request (and rejects a namespace on cluster-scoped
//! kinds), generates names from `generateName`, fills `metadata.uid` and
//! `creationTimestamp` on create, carries `resourceVersion`, `uid` and
//! `creationTimestamp` over from the stored object on update when the request left
//! them out, and for Jobs calls [`crate::defaults::generate_job_selector`].

pub mod apps;
pub mod batch;
pub mod core;
pub mod cron;
pub mod field_error;
pub mod json;
pub mod meta;
pub mod names;
pub mod others;
pub mod pod;

pub use field_error::{aggregate_message, ErrorType, FieldError, Path};

use serde_json::Value;

/// Validates a new object (`old` is `None`) or an update of `old`.
pub fn validate(group: &str, kind: &str, obj: &Value, old: Option<&Value>) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let e = &mut errs;
    match (group, kind) {
        ("", "Pod") => core::validate_pod(obj, old, e),
        ("", "PodTemplate") => core::validate_pod_template(obj, old, e),
        ("", "Service") => core::validate_service(obj, old, e),
        ("", "ReplicationController") => core::validate_replication_controller(obj, old, e),
        ("", "ConfigMap") => core::validate_config_map(obj, old, e),
        ("", "Secret") => core::validate_secret(obj, old, e),
        ("", "Namespace") => core::validate_namespace(obj, old, e),
        ("", "Node") => core::validate_node(obj, old, e),
        ("", "PersistentVolume") => core::validate_pv(obj, old, e),
        ("", "PersistentVolumeClaim") => core::validate_pvc(obj, old, e),
        ("", "LimitRange") => core::validate_limit_range(obj, old, e),
        ("", "ResourceQuota") => core::validate_resource_quota(obj, old, e),
        ("", "ServiceAccount") => core::validate_service_account(obj, old, e),
        ("", "Endpoints") => core::validate_endpoints(obj, old, e),
        ("", "Event") => {
            core::validate_core_event(obj, e);
            match old {
                // Upstream's generic metadata check runs once the kind's own pass.
                None if e.is_empty() => meta::validate_object_meta(obj, names::name_is_path_segment, e),
                None => {}
                Some(old) => meta::validate_object_meta_update(obj, old, e),
            }
        }
        ("apps", "Deployment") => apps::validate_deployment(obj, old, e),
        ("apps", "ReplicaSet") => apps::validate_replica_set(obj, old, e),
        ("apps", "DaemonSet") => apps::validate_daemon_set(obj, old, e),
        ("apps", "StatefulSet") => apps::validate_stateful_set(obj, old, e),
        ("apps", "ControllerRevision") => apps::validate_controller_revision(obj, old, e),
        ("batch", "Job") => batch::validate_job(obj, old, e),
        ("batch", "CronJob") => batch::validate_cron_job(obj, old, e),
        ("coordination.k8s.io", "Lease") => others::validate_lease(obj, old, e),
        ("events.k8s.io", "Event") => others::validate_events_event(obj, old, e),
        ("policy", "PodDisruptionBudget") => others::validate_pdb(obj, old, e),
        ("discovery.k8s.io", "EndpointSlice") => others::validate_endpoint_slice(obj, old, e),
        ("storage.k8s.io", "StorageClass") => others::validate_storage_class(obj, old, e),
        // Unknown kinds still get their metadata checked.
        _ => match old {
            None => meta::validate_object_meta(obj, names::name_is_path_segment, e),
            Some(old) => meta::validate_object_meta_update(obj, old, e),
        },
    }
    errs
}

/// Validates an update through the `/status` subresource, where upstream has rules
/// of its own; other kinds only get the metadata checks.
pub fn validate_status(group: &str, kind: &str, obj: &Value, old: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let e = &mut errs;
    match (group, kind) {
        ("", "Pod") => core::validate_pod_status(obj, old, e),
        ("", "Namespace") => core::validate_namespace_status(obj, old, e),
        ("", "ResourceQuota") => core::validate_resource_quota_status(obj, old, e),
        ("", "ReplicationController") | ("apps", "ReplicaSet" | "Deployment" | "StatefulSet" | "DaemonSet") => {
            apps::validate_workload_status(kind, obj, old, e)
        }
        ("batch", "Job") => batch::validate_job_status(obj, old, e),
        _ => meta::validate_object_meta_update(obj, old, e),
    }
    errs
}

#[cfg(test)]
mod tests;
