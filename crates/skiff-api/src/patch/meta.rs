//! Strategic-merge-patch metadata of the built-in types.
//!
//! Kubernetes declares it with Go struct tags in k8s.io/api (`patchStrategy:"merge"
//! patchMergeKey:"name"`), published in the OpenAPI spec as `x-kubernetes-patch-strategy`
//! and `x-kubernetes-patch-merge-key`. This table is that data for v1.33.
//!
//! Only fields that carry a strategy, or that lead to a type whose fields do, are listed:
//! everything else patches with the defaults (objects merge key by key, lists are replaced
//! whole). To add a field, add one line to its type in [`TYPES`] (and the type itself if it
//! is new); to add a kind, add one line to [`KINDS`].

/// `patchStrategy` of a field (`retainKeys` is carried separately, as it combines with these).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Strategy {
    /// No tag: objects merge recursively, lists are replaced whole.
    Default,
    /// `merge`: lists merge element-wise by `merge_key`, or as a set for primitives.
    Merge,
    /// `replace`: the patch value replaces the whole object.
    Replace,
}

/// Patch metadata of one field, named by its JSON name.
#[derive(Debug)]
pub(crate) struct Field {
    pub name: &'static str,
    pub strategy: Strategy,
    /// `retainKeys` is part of the strategy. Kept as data only: applying a patch honours
    /// whatever `$retainKeys` it carries, as upstream does; a patch generator needs the flag.
    #[allow(dead_code)]
    pub retain_keys: bool,
    /// `patchMergeKey`; empty for lists of primitives and non-list fields.
    pub merge_key: &'static str,
    /// Go type name of the value, or of the list elements. When that type's own fields carry
    /// metadata it has an entry in [`TYPES`].
    pub ty: &'static str,
}

/// A field without a strategy of its own whose type has fields that carry one.
const fn nested(name: &'static str, ty: &'static str) -> Field {
    Field {
        name,
        strategy: Strategy::Default,
        retain_keys: false,
        merge_key: "",
        ty,
    }
}

/// `patchStrategy:"merge" patchMergeKey:"<key>"`: a list of objects merged by `key`.
const fn merge_by(name: &'static str, key: &'static str, ty: &'static str) -> Field {
    Field {
        name,
        strategy: Strategy::Merge,
        retain_keys: false,
        merge_key: key,
        ty,
    }
}

/// `patchStrategy:"merge,retainKeys" patchMergeKey:"<key>"`.
const fn merge_retain_by(name: &'static str, key: &'static str, ty: &'static str) -> Field {
    Field {
        name,
        strategy: Strategy::Merge,
        retain_keys: true,
        merge_key: key,
        ty,
    }
}

/// `patchStrategy:"merge"` on a list of strings: merged as a set.
const fn set(name: &'static str) -> Field {
    Field {
        name,
        strategy: Strategy::Merge,
        retain_keys: false,
        merge_key: "",
        ty: "string",
    }
}

/// `patchStrategy:"retainKeys"` on an object (a union such as a deployment strategy).
const fn retain(name: &'static str, ty: &'static str) -> Field {
    Field {
        name,
        strategy: Strategy::Default,
        retain_keys: true,
        merge_key: "",
        ty,
    }
}

/// `patchStrategy:"replace"` on an object.
const fn replace(name: &'static str, ty: &'static str) -> Field {
    Field {
        name,
        strategy: Strategy::Replace,
        retain_keys: false,
        merge_key: "",
        ty,
    }
}

const METADATA: Field = nested("metadata", "ObjectMeta");

/// (API group, kind) -> the root type in [`TYPES`]. Kinds whose only metadata is in
/// ObjectMeta share the type `Object`.
#[rustfmt::skip]
pub(crate) static KINDS: &[(&str, &str, &str)] = &[
    // core/v1
    ("", "Pod", "Pod"),
    ("", "PodTemplate", "PodTemplate"),
    ("", "Node", "Node"),
    ("", "Service", "Service"),
    ("", "Endpoints", "Object"),
    ("", "ConfigMap", "Object"),
    ("", "Secret", "Object"),
    ("", "Namespace", "Namespace"),
    ("", "Event", "Object"),
    ("", "ServiceAccount", "ServiceAccount"),
    ("", "PersistentVolume", "Object"),
    ("", "PersistentVolumeClaim", "PersistentVolumeClaim"),
    ("", "ReplicationController", "ReplicationController"),
    ("", "LimitRange", "Object"),
    ("", "ResourceQuota", "Object"),
    // apps/v1
    ("apps", "Deployment", "Deployment"),
    ("apps", "ReplicaSet", "ReplicaSet"),
    ("apps", "DaemonSet", "DaemonSet"),
    ("apps", "StatefulSet", "StatefulSet"),
    ("apps", "ControllerRevision", "Object"),
    // batch/v1
    ("batch", "Job", "Job"),
    ("batch", "CronJob", "CronJob"),
    // others
    ("coordination.k8s.io", "Lease", "Object"),
    ("events.k8s.io", "Event", "Object"),
    ("policy", "PodDisruptionBudget", "PodDisruptionBudget"),
    ("discovery.k8s.io", "EndpointSlice", "Object"),
    ("storage.k8s.io", "StorageClass", "Object"),
    ("autoscaling", "Scale", "Object"),
    ("autoscaling", "HorizontalPodAutoscaler", "HorizontalPodAutoscaler"),
];

/// Type name -> its fields that carry, or lead to, patch metadata.
#[rustfmt::skip]
pub(crate) static TYPES: &[(&str, &[Field])] = &[
    ("Object", &[METADATA]),
    // meta/v1
    ("ObjectMeta", &[set("finalizers"), merge_by("ownerReferences", "uid", "OwnerReference")]),
    // core/v1: pods
    ("Pod", &[METADATA, nested("spec", "PodSpec"), nested("status", "PodStatus")]),
    ("PodTemplate", &[METADATA, nested("template", "PodTemplateSpec")]),
    ("PodTemplateSpec", &[METADATA, nested("spec", "PodSpec")]),
    ("PodSpec", &[
        merge_retain_by("volumes", "name", "Volume"),
        merge_by("initContainers", "name", "Container"),
        merge_by("containers", "name", "Container"),
        merge_by("ephemeralContainers", "name", "EphemeralContainer"),
        merge_by("imagePullSecrets", "name", "LocalObjectReference"),
        merge_by("hostAliases", "ip", "HostAlias"),
        merge_by("topologySpreadConstraints", "topologyKey", "TopologySpreadConstraint"),
        merge_by("schedulingGates", "name", "PodSchedulingGate"),
        merge_retain_by("resourceClaims", "name", "PodResourceClaim"),
    ]),
    ("Container", CONTAINER_FIELDS),
    ("EphemeralContainer", CONTAINER_FIELDS),
    ("Volume", &[nested("ephemeral", "EphemeralVolumeSource")]),
    ("EphemeralVolumeSource", &[nested("volumeClaimTemplate", "PersistentVolumeClaimTemplate")]),
    ("PersistentVolumeClaimTemplate", &[METADATA]),
    ("PodStatus", &[
        merge_by("conditions", "type", "PodCondition"),
        merge_by("hostIPs", "ip", "HostIP"),
        merge_by("podIPs", "ip", "PodIP"),
        merge_retain_by("resourceClaimStatuses", "name", "PodResourceClaimStatus"),
    ]),
    // core/v1: others
    ("Node", &[METADATA, nested("spec", "NodeSpec"), nested("status", "NodeStatus")]),
    ("NodeSpec", &[set("podCIDRs")]),
    ("NodeStatus", &[
        merge_by("conditions", "type", "NodeCondition"),
        merge_by("addresses", "type", "NodeAddress"),
    ]),
    ("Service", &[METADATA, nested("spec", "ServiceSpec"), nested("status", "ServiceStatus")]),
    ("ServiceSpec", &[merge_by("ports", "port", "ServicePort")]),
    ("ServiceStatus", &[merge_by("conditions", "type", "Condition")]),
    ("Namespace", &[METADATA, nested("status", "NamespaceStatus")]),
    ("NamespaceStatus", &[merge_by("conditions", "type", "NamespaceCondition")]),
    ("ServiceAccount", &[METADATA, merge_by("secrets", "name", "ObjectReference")]),
    ("PersistentVolumeClaim", &[METADATA, nested("status", "PersistentVolumeClaimStatus")]),
    ("PersistentVolumeClaimStatus", &[merge_by("conditions", "type", "PersistentVolumeClaimCondition")]),
    ("ReplicationController", &[
        METADATA,
        nested("spec", "ReplicationControllerSpec"),
        nested("status", "ReplicationControllerStatus"),
    ]),
    ("ReplicationControllerSpec", &[nested("template", "PodTemplateSpec")]),
    ("ReplicationControllerStatus", &[merge_by("conditions", "type", "ReplicationControllerCondition")]),
    // apps/v1
    ("Deployment", &[METADATA, nested("spec", "DeploymentSpec"), nested("status", "DeploymentStatus")]),
    ("DeploymentSpec", &[nested("template", "PodTemplateSpec"), retain("strategy", "DeploymentStrategy")]),
    ("DeploymentStatus", &[merge_by("conditions", "type", "DeploymentCondition")]),
    ("ReplicaSet", &[METADATA, nested("spec", "ReplicaSetSpec"), nested("status", "ReplicaSetStatus")]),
    ("ReplicaSetSpec", &[nested("template", "PodTemplateSpec")]),
    ("ReplicaSetStatus", &[merge_by("conditions", "type", "ReplicaSetCondition")]),
    ("DaemonSet", &[METADATA, nested("spec", "DaemonSetSpec"), nested("status", "DaemonSetStatus")]),
    ("DaemonSetSpec", &[nested("template", "PodTemplateSpec")]),
    ("DaemonSetStatus", &[merge_by("conditions", "type", "DaemonSetCondition")]),
    ("StatefulSet", &[METADATA, nested("spec", "StatefulSetSpec"), nested("status", "StatefulSetStatus")]),
    // volumeClaimTemplates carries no strategy: it is replaced whole.
    ("StatefulSetSpec", &[nested("template", "PodTemplateSpec")]),
    ("StatefulSetStatus", &[merge_by("conditions", "type", "StatefulSetCondition")]),
    // batch/v1
    ("Job", &[METADATA, nested("spec", "JobSpec"), nested("status", "JobStatus")]),
    ("JobSpec", &[nested("template", "PodTemplateSpec")]),
    ("JobStatus", &[merge_by("conditions", "type", "JobCondition")]),
    ("CronJob", &[METADATA, nested("spec", "CronJobSpec")]),
    ("CronJobSpec", &[nested("jobTemplate", "JobTemplateSpec")]),
    ("JobTemplateSpec", &[METADATA, nested("spec", "JobSpec")]),
    // policy/v1
    ("PodDisruptionBudget", &[
        METADATA,
        nested("spec", "PodDisruptionBudgetSpec"),
        nested("status", "PodDisruptionBudgetStatus"),
    ]),
    ("PodDisruptionBudgetSpec", &[replace("selector", "LabelSelector")]),
    ("PodDisruptionBudgetStatus", &[merge_by("conditions", "type", "Condition")]),
    // autoscaling/v2 (v1 has no status.conditions, so sharing the entry is harmless)
    ("HorizontalPodAutoscaler", &[METADATA, nested("status", "HorizontalPodAutoscalerStatus")]),
    ("HorizontalPodAutoscalerStatus", &[merge_by("conditions", "type", "HorizontalPodAutoscalerCondition")]),
];

/// Container and EphemeralContainer (EphemeralContainerCommon) carry the same tags.
const CONTAINER_FIELDS: &[Field] = &[
    merge_by("ports", "containerPort", "ContainerPort"),
    merge_by("env", "name", "EnvVar"),
    merge_by("volumeMounts", "mountPath", "VolumeMount"),
    merge_by("volumeDevices", "devicePath", "VolumeDevice"),
];

/// The patch metadata of one type; `NONE` (unknown types, plain maps) has no field metadata.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Schema(Option<&'static [Field]>);

impl Schema {
    pub(crate) const NONE: Schema = Schema(None);

    /// Root schema of a kind; the core group may be given as "" or "core".
    pub(crate) fn for_kind(group: &str, kind: &str) -> Schema {
        let group = if group == "core" { "" } else { group };
        KINDS
            .iter()
            .find(|(g, k, _)| *g == group && *k == kind)
            .map_or(Schema::NONE, |(_, _, ty)| Schema::named(ty))
    }

    pub(crate) fn named(ty: &str) -> Schema {
        Schema(
            TYPES
                .iter()
                .find(|(name, _)| *name == ty)
                .map(|(_, fields)| *fields),
        )
    }

    pub(crate) fn field(self, name: &str) -> Option<&'static Field> {
        self.0
            .and_then(|fields| fields.iter().find(|f| f.name == name))
    }

    /// Schema of the value (or list elements) of field `name`.
    pub(crate) fn child(self, name: &str) -> Schema {
        self.field(name)
            .map_or(Schema::NONE, |f| Schema::named(f.ty))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every type a field points at and every kind's root must resolve, or metadata below it
    /// would silently be lost.
    #[test]
    fn patch_meta_table_is_consistent() {
        for (group, kind, ty) in KINDS {
            assert!(
                Schema::named(ty).0.is_some(),
                "{group}/{kind} -> unknown type {ty}"
            );
        }
        for (name, fields) in TYPES {
            assert_eq!(
                TYPES.iter().filter(|(n, _)| n == name).count(),
                1,
                "duplicate {name}"
            );
            for f in *fields {
                let has_own = f.strategy != Strategy::Default || f.retain_keys;
                let leads_on = Schema::named(f.ty).0.is_some();
                assert!(has_own || leads_on, "{name}.{} carries no metadata", f.name);
                if !f.merge_key.is_empty() {
                    assert_eq!(f.strategy, Strategy::Merge, "{name}.{}", f.name);
                }
            }
        }
    }

    #[test]
    fn patch_meta_lookup() {
        let pod = Schema::for_kind("", "Pod");
        let spec = pod.child("spec");
        let containers = spec.field("containers").map(|f| (f.strategy, f.merge_key));
        assert_eq!(containers, Some((Strategy::Merge, "name")));
        let ports = spec.child("containers").field("ports").map(|f| f.merge_key);
        assert_eq!(ports, Some("containerPort"));
        assert!(spec.field("tolerations").is_none());
        assert!(Schema::for_kind("core", "Pod").field("metadata").is_some());
        assert!(Schema::for_kind("example.com", "Widget")
            .field("metadata")
            .is_none());
        let strategy = Schema::for_kind("apps", "Deployment")
            .child("spec")
            .field("strategy");
        assert!(strategy.is_some_and(|f| f.retain_keys));
    }
}
