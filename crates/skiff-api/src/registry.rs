//! The resource registry: every kind the API server serves, with the names kubectl
//! resolves (plural, singular, short names, categories), its scope, verbs and
//! subresources. Discovery, OpenAPI, routing and storage keys are all derived from it.

/// One served resource, e.g. apps/v1 deployments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resource {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
    pub singular: &'static str,
    pub short_names: &'static [&'static str],
    pub namespaced: bool,
    pub categories: &'static [&'static str],
    pub subresources: &'static [Subresource],
    /// Whether spec changes bump metadata.generation (objects with a spec/status split).
    pub has_status: bool,
    /// Served for reading only (get, list, watch).
    pub read_only: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subresource {
    Status,
    Scale,
    Binding,
    Eviction,
    Log,
    Exec,
    Attach,
    PortForward,
}

impl Subresource {
    pub fn name(self) -> &'static str {
        match self {
            Subresource::Status => "status",
            Subresource::Scale => "scale",
            Subresource::Binding => "binding",
            Subresource::Eviction => "eviction",
            Subresource::Log => "log",
            Subresource::Exec => "exec",
            Subresource::Attach => "attach",
            Subresource::PortForward => "portforward",
        }
    }
    /// The (group, version, kind) a subresource speaks, for discovery.
    pub fn kind_of<'a>(self, parent: &'a Resource) -> (&'a str, &'a str, &'a str) {
        match self {
            Subresource::Status => (parent.group, parent.version, parent.kind),
            Subresource::Scale => ("autoscaling", "v1", "Scale"),
            Subresource::Binding => ("", "v1", "Binding"),
            Subresource::Eviction => ("policy", "v1", "Eviction"),
            Subresource::Log => ("", "v1", "Pod"),
            Subresource::Exec => ("", "v1", "PodExecOptions"),
            Subresource::Attach => ("", "v1", "PodAttachOptions"),
            Subresource::PortForward => ("", "v1", "PodPortForwardOptions"),
        }
    }
    pub fn verbs(self) -> &'static [&'static str] {
        match self {
            Subresource::Status | Subresource::Scale => &["get", "patch", "update"],
            Subresource::Binding | Subresource::Eviction => &["create"],
            Subresource::Log => &["get"],
            Subresource::Exec | Subresource::Attach | Subresource::PortForward => &["create", "get"],
        }
    }
}

pub const VERBS: &[&str] = &["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];
pub const NAMESPACE_VERBS: &[&str] = &["create", "delete", "get", "list", "patch", "update", "watch"];
pub const READ_VERBS: &[&str] = &["get", "list", "watch"];

use Subresource::*;

macro_rules! res {
    ($group:expr, $kind:expr, $plural:expr, $singular:expr, [$($short:expr),*], $ns:expr, [$($cat:expr),*], [$($sub:expr),*], $status:expr) => {
        Resource {
            group: $group,
            version: "v1",
            kind: $kind,
            plural: $plural,
            singular: $singular,
            short_names: &[$($short),*],
            namespaced: $ns,
            categories: &[$($cat),*],
            subresources: &[$($sub),*],
            has_status: $status,
            read_only: false,
        }
    };
}

/// Every resource served, in discovery order.
pub static RESOURCES: &[Resource] = &[
    res!("", "Namespace", "namespaces", "namespace", ["ns"], false, [], [Status], true),
    res!("", "Pod", "pods", "pod", ["po"], true, ["all"], [Attach, Binding, Eviction, Exec, Log, PortForward, Status], true),
    res!("", "Node", "nodes", "node", ["no"], false, [], [Status], true),
    res!("", "Service", "services", "service", ["svc"], true, ["all"], [Status], true),
    res!("", "Endpoints", "endpoints", "endpoints", ["ep"], true, [], [], false),
    res!("", "ConfigMap", "configmaps", "configmap", ["cm"], true, [], [], false),
    res!("", "Secret", "secrets", "secret", [], true, [], [], false),
    res!("", "Event", "events", "event", ["ev"], true, [], [], false),
    res!("", "ServiceAccount", "serviceaccounts", "serviceaccount", ["sa"], true, [], [], false),
    res!("", "PersistentVolume", "persistentvolumes", "persistentvolume", ["pv"], false, [], [Status], true),
    res!("", "PersistentVolumeClaim", "persistentvolumeclaims", "persistentvolumeclaim", ["pvc"], true, [], [Status], true),
    res!("", "ReplicationController", "replicationcontrollers", "replicationcontroller", ["rc"], true, ["all"], [Status, Scale], true),
    res!("", "LimitRange", "limitranges", "limitrange", ["limits"], true, [], [], false),
    res!("", "ResourceQuota", "resourcequotas", "resourcequota", ["quota"], true, [], [Status], true),
    res!("apps", "Deployment", "deployments", "deployment", ["deploy"], true, ["all"], [Status, Scale], true),
    res!("apps", "ReplicaSet", "replicasets", "replicaset", ["rs"], true, ["all"], [Status, Scale], true),
    res!("apps", "DaemonSet", "daemonsets", "daemonset", ["ds"], true, ["all"], [Status], true),
    res!("apps", "StatefulSet", "statefulsets", "statefulset", ["sts"], true, ["all"], [Status, Scale], true),
    res!("apps", "ControllerRevision", "controllerrevisions", "controllerrevision", [], true, [], [], false),
    res!("batch", "Job", "jobs", "job", [], true, ["all"], [Status], true),
    res!("batch", "CronJob", "cronjobs", "cronjob", ["cj"], true, ["all"], [Status], true),
    res!("coordination.k8s.io", "Lease", "leases", "lease", [], true, [], [], false),
    res!("events.k8s.io", "Event", "events", "event", ["ev"], true, [], [], false),
    res!("policy", "PodDisruptionBudget", "poddisruptionbudgets", "poddisruptionbudget", ["pdb"], true, [], [Status], true),
    res!("discovery.k8s.io", "EndpointSlice", "endpointslices", "endpointslice", [], true, [], [], false),
    res!("storage.k8s.io", "StorageClass", "storageclasses", "storageclass", ["sc"], false, [], [], false),
    // Custom resources are not served; kubectl lists CRDs to tell an unknown kind
    // from a custom one, so the (always empty) list is.
    Resource { read_only: true, ..res!("apiextensions.k8s.io", "CustomResourceDefinition", "customresourcedefinitions", "customresourcedefinition", ["crd", "crds"], false, ["api-extensions"], [], true) },
];

/// API groups in discovery order (the core group "" first), each with its one version.
pub static GROUPS: &[&str] = &[
    "",
    "apps",
    "batch",
    "coordination.k8s.io",
    "events.k8s.io",
    "policy",
    "discovery.k8s.io",
    "storage.k8s.io",
    "apiextensions.k8s.io",
    "autoscaling",
];

impl Resource {
    /// "v1" or "apps/v1".
    pub fn api_version(&self) -> String {
        api_version(self.group, self.version)
    }
    /// "deployments.apps", or "pods" for the core group: the name Kubernetes uses in messages.
    pub fn qualified_plural(&self) -> String {
        qualify(self.plural, self.group)
    }
    /// "Deployment.apps", "Pod": as in `Deployment.apps "web" is invalid`.
    pub fn qualified_kind(&self) -> String {
        qualify(self.kind, self.group)
    }
    pub fn verbs(&self) -> &'static [&'static str] {
        if self.read_only {
            READ_VERBS
        } else if self.group.is_empty() && self.kind == "Namespace" {
            // Upstream's namespace storage has no deletecollection.
            NAMESPACE_VERBS
        } else {
            VERBS
        }
    }
    pub fn has_subresource(&self, sub: Subresource) -> bool {
        self.subresources.contains(&sub)
    }
}

fn qualify(name: &str, group: &str) -> String {
    if group.is_empty() {
        name.to_string()
    } else {
        format!("{name}.{group}")
    }
}

pub fn api_version(group: &str, version: &str) -> String {
    if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    }
}

/// Splits "apps/v1" into ("apps", "v1") and "v1" into ("", "v1").
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    }
}

/// The resource for a URL segment: /apis/{group}/{version}/{plural}.
pub fn by_plural(group: &str, version: &str, plural: &str) -> Option<&'static Resource> {
    RESOURCES.iter().find(|r| r.group == group && r.version == version && r.plural == plural)
}

/// The resource for a manifest's apiVersion and kind.
pub fn by_kind(group: &str, version: &str, kind: &str) -> Option<&'static Resource> {
    RESOURCES.iter().find(|r| r.group == group && r.version == version && r.kind == kind)
}

/// Whether any version of this group is served (to tell "no such version" from "no such group").
pub fn group_served(group: &str) -> bool {
    GROUPS.contains(&group)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups() {
        let d = by_plural("apps", "v1", "deployments").expect("deployments served");
        assert_eq!(d.kind, "Deployment");
        assert_eq!(d.qualified_kind(), "Deployment.apps");
        assert_eq!(by_kind("", "v1", "Pod").map(|r| r.plural), Some("pods"));
        assert!(by_kind("apps", "v1", "DemonSet").is_none());
        assert!(by_kind("apps", "v1beta2", "Deployment").is_none());
        assert_eq!(split_api_version("batch/v1"), ("batch", "v1"));
        assert_eq!(split_api_version("v1"), ("", "v1"));
    }

    #[test]
    fn names_are_unique_per_group() {
        for (i, a) in RESOURCES.iter().enumerate() {
            for b in &RESOURCES[i + 1..] {
                if a.group == b.group {
                    assert_ne!(a.plural, b.plural);
                    assert_ne!(a.kind, b.kind);
                }
            }
            assert!(group_served(a.group), "{} has an unlisted group", a.kind);
        }
    }
}
