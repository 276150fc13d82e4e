//! Server-side printing: the meta.k8s.io/v1 Table columns and row cells that
//! `kubectl get` shows, computed as upstream's printers (pkg/printers/internalversion)
//! compute them from v1 JSON objects.
//!
//! The API server prints with `Wide: true` and lets kubectl hide priority-1 columns,
//! so `cells` always returns every column, wide ones included.

use std::collections::BTreeSet;

use jiff::{SignedDuration, Timestamp};
use serde_json::{json, Map, Value};

use crate::selector::LabelSelector;

// ---------------------------------------------------------------------------
// Column definitions
// ---------------------------------------------------------------------------

#[derive(Clone, Copy)]
struct Col {
    name: &'static str,
    ty: &'static str,
    format: &'static str,
    desc: &'static str,
    priority: u8,
}

const fn c(name: &'static str, ty: &'static str, desc: &'static str) -> Col {
    Col {
        name,
        ty,
        format: "",
        desc,
        priority: 0,
    }
}

/// A priority-1 column: shown by `kubectl get -o wide` only.
const fn w(name: &'static str, ty: &'static str, desc: &'static str) -> Col {
    Col {
        name,
        ty,
        format: "",
        desc,
        priority: 1,
    }
}

const NAME_DESC: &str = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
const AGE_DESC: &str = "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";
const CONTAINERS_DESC: &str = "Names of each container in the template.";
const IMAGES_DESC: &str = "Images referenced by each container in the template.";

const NAME: Col = Col {
    name: "Name",
    ty: "string",
    format: "name",
    desc: NAME_DESC,
    priority: 0,
};
const AGE: Col = c("Age", "string", AGE_DESC);
const W_CONTAINERS: Col = w("Containers", "string", CONTAINERS_DESC);
const W_IMAGES: Col = w("Images", "string", IMAGES_DESC);

static POD: &[Col] = &[
    NAME,
    c("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
    c("Status", "string", "The aggregate status of the containers in this pod."),
    c("Restarts", "string", "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."),
    AGE,
    w("IP", "string", "podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated."),
    w("Node", "string", "NodeName indicates in which node this pod is scheduled."),
    w("Nominated Node", "string", "nominatedNodeName is set only when this pod preempts other pods on the node."),
    w("Readiness Gates", "string", "If specified, all readiness gates will be evaluated for pod readiness."),
];

static POD_TEMPLATE: &[Col] = &[
    NAME,
    c("Containers", "string", CONTAINERS_DESC),
    c("Images", "string", IMAGES_DESC),
    c("Pod Labels", "string", "The labels for the pod template."),
];

static PDB: &[Col] = &[
    NAME,
    c(
        "Min Available",
        "string",
        "The minimum number of pods that must be available.",
    ),
    c(
        "Max Unavailable",
        "string",
        "The maximum number of pods that may be unavailable.",
    ),
    c(
        "Allowed Disruptions",
        "integer",
        "Calculated number of pods that may be disrupted at this time.",
    ),
    AGE,
];

static REPLICAS: &[Col] = &[
    NAME,
    c(
        "Desired",
        "integer",
        "Replicas is the number of desired replicas.",
    ),
    c(
        "Current",
        "integer",
        "Replicas is the most recently observed number of replicas.",
    ),
    c("Ready", "integer", "The number of ready replicas."),
    AGE,
    W_CONTAINERS,
    W_IMAGES,
    w(
        "Selector",
        "string",
        "Selector is a label query over pods that should match the replica count.",
    ),
];

static DAEMON_SET: &[Col] = &[
    NAME,
    c("Desired", "integer", "The total number of nodes that should be running the daemon pod."),
    c("Current", "integer", "The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod."),
    c("Ready", "integer", "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running with a Ready Condition."),
    c("Up-to-date", "integer", "The total number of nodes that are running updated daemon pod"),
    c("Available", "integer", "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available."),
    c("Node Selector", "string", "NodeSelector is a selector which must be true for the pod to fit on a node."),
    AGE,
    W_CONTAINERS,
    W_IMAGES,
    w("Selector", "string", "A label query over pods that are managed by the daemon set."),
];

static JOB: &[Col] = &[
    NAME,
    c("Status", "string", "Status of the job."),
    c(
        "Completions",
        "string",
        "The number of pods which reached phase Succeeded.",
    ),
    c("Duration", "string", "Time required to complete the job."),
    AGE,
    W_CONTAINERS,
    W_IMAGES,
    w(
        "Selector",
        "string",
        "A label query over pods that should match the pod count.",
    ),
];

static CRON_JOB: &[Col] = &[
    NAME,
    c("Schedule", "string", "The schedule in Cron format."),
    c(
        "Timezone",
        "string",
        "The time zone name for the given schedule.",
    ),
    c(
        "Suspend",
        "boolean",
        "This flag tells the controller to suspend subsequent executions.",
    ),
    c(
        "Active",
        "integer",
        "A list of pointers to currently running jobs.",
    ),
    c(
        "Last Schedule",
        "string",
        "Information when was the last time the job was successfully scheduled.",
    ),
    AGE,
    W_CONTAINERS,
    W_IMAGES,
    w(
        "Selector",
        "string",
        "A label query over pods that should match the pod count.",
    ),
];

static SERVICE: &[Col] = &[
    NAME,
    c("Type", "string", "type determines how the Service is exposed."),
    c("Cluster-IP", "string", "clusterIP is the IP address of the service."),
    c("External-IP", "string", "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service."),
    c("Port(s)", "string", "The list of ports that are exposed by this service."),
    AGE,
    w("Selector", "string", "Route service traffic to pods with label keys and values matching this selector."),
];

static INGRESS: &[Col] = &[
    NAME,
    c(
        "Class",
        "string",
        "The name of the IngressClass resource that should be used for additional configuration",
    ),
    c(
        "Hosts",
        "string",
        "Hosts that incoming requests are matched against before the ingress rule",
    ),
    c(
        "Address",
        "string",
        "Address is a list containing ingress points for the load-balancer",
    ),
    c("Ports", "string", "Ports of TLS configurations that open"),
    AGE,
];

static INGRESS_CLASS: &[Col] = &[
    NAME,
    c(
        "Controller",
        "string",
        "Controller that is responsible for handling this class",
    ),
    c(
        "Parameters",
        "string",
        "A reference to a resource with additional parameters",
    ),
    AGE,
];

static STATEFUL_SET: &[Col] = &[
    NAME,
    c("Ready", "string", "Number of the pod with ready state"),
    AGE,
    W_CONTAINERS,
    W_IMAGES,
];

static ENDPOINTS: &[Col] = &[
    NAME,
    c(
        "Endpoints",
        "string",
        "The set of all endpoints is the union of all subsets.",
    ),
    AGE,
];

static NODE: &[Col] = &[
    NAME,
    c("Status", "string", "The status of the node"),
    c("Roles", "string", "The roles of the node"),
    AGE,
    c("Version", "string", "Kubelet Version reported by the node."),
    w("Internal-IP", "string", "List of addresses reachable to the node."),
    w("External-IP", "string", "List of addresses reachable to the node."),
    w("OS-Image", "string", "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy))."),
    w("Kernel-Version", "string", "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64)."),
    w("Container-Runtime", "string", "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2)."),
];

static EVENT: &[Col] = &[
    c("Last Seen", "string", "The time at which the most recent occurrence of this event was recorded."),
    c("Type", "string", "Type of this event (Normal, Warning), new types could be added in the future"),
    c("Reason", "string", "This should be a short, machine understandable string that gives the reason for the transition into the object's current status."),
    c("Object", "string", "The object that this event is about."),
    w("Subobject", "string", "If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement."),
    w("Source", "string", "The component reporting this event."),
    c("Message", "string", "A human-readable description of the status of this operation."),
    w("First Seen", "string", "The time at which the event was first recorded."),
    w("Count", "string", "The number of times this event has occurred."),
    Col { name: "Name", ty: "string", format: "name", desc: NAME_DESC, priority: 1 },
];

static NAMESPACE: &[Col] = &[
    NAME,
    c("Status", "string", "The status of the namespace"),
    AGE,
];

static SECRET: &[Col] = &[
    NAME,
    c(
        "Type",
        "string",
        "Used to facilitate programmatic handling of secret data.",
    ),
    c("Data", "string", "Data contains the secret data."),
    AGE,
];

static SERVICE_ACCOUNT: &[Col] = &[
    NAME,
    c("Secrets", "string", "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use."),
    AGE,
];

static PERSISTENT_VOLUME: &[Col] = &[
    NAME,
    c("Capacity", "string", "capacity is the description of the persistent volume's resources and capacity."),
    c("Access Modes", "string", "accessModes contains all ways the volume can be mounted."),
    c("Reclaim Policy", "string", "persistentVolumeReclaimPolicy defines what happens to a persistent volume when released from its claim."),
    c("Status", "string", "phase indicates if a volume is available, bound to a claim, or released by a claim."),
    c("Claim", "string", "claimRef is part of a bi-directional binding between PersistentVolume and PersistentVolumeClaim."),
    c("StorageClass", "string", "StorageClass of the pv"),
    c("VolumeAttributesClass", "string", "VolumeAttributesClass of the pv"),
    c("Reason", "string", "reason is a brief CamelCase string that describes any failure and is meant for machine parsing and tidy display in the CLI."),
    AGE,
    w("VolumeMode", "string", "volumeMode defines if a volume is intended to be used with a formatted filesystem or to remain in raw block state."),
];

static PERSISTENT_VOLUME_CLAIM: &[Col] = &[
    NAME,
    c(
        "Status",
        "string",
        "phase represents the current phase of PersistentVolumeClaim.",
    ),
    c(
        "Volume",
        "string",
        "volumeName is the binding reference to the PersistentVolume backing this claim.",
    ),
    c(
        "Capacity",
        "string",
        "capacity represents the actual resources of the underlying volume.",
    ),
    c(
        "Access Modes",
        "string",
        "accessModes contains the actual access modes the volume backing the PVC has.",
    ),
    c("StorageClass", "string", "StorageClass of the pvc"),
    c(
        "VolumeAttributesClass",
        "string",
        "VolumeAttributesClass of the pvc",
    ),
    AGE,
    w(
        "VolumeMode",
        "string",
        "volumeMode defines what type of volume is required by the claim.",
    ),
];

static COMPONENT_STATUS: &[Col] = &[
    NAME,
    c("Status", "string", "Status of the component conditions"),
    c("Message", "string", "Message of the component conditions"),
    c("Error", "string", "Error of the component conditions"),
];

static DEPLOYMENT: &[Col] = &[
    NAME,
    c("Ready", "string", "Number of the pod with ready state"),
    c("Up-to-date", "string", "Total number of non-terminated pods targeted by this deployment that have the desired template spec."),
    c("Available", "string", "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment."),
    AGE,
    W_CONTAINERS,
    W_IMAGES,
    w("Selector", "string", "Label selector for pods."),
];

static HPA: &[Col] = &[
    NAME,
    c("Reference", "string", "reference to scaled resource; horizontal pod autoscaler will learn the current resource consumption and will set the desired number of pods by using its Scale subresource."),
    c("Targets", "string", "metrics contains the specifications for which to use to calculate the desired replica count."),
    c("MinPods", "string", "minReplicas is the lower limit for the number of replicas to which the autoscaler can scale down."),
    c("MaxPods", "string", "maxReplicas is the upper limit for the number of replicas to which the autoscaler can scale up."),
    c("Replicas", "string", "currentReplicas is current number of replicas of pods managed by this autoscaler."),
    AGE,
];

static CONFIG_MAP: &[Col] = &[
    NAME,
    c("Data", "string", "Data contains the configuration data."),
    AGE,
];

static NETWORK_POLICY: &[Col] = &[
    NAME,
    c(
        "Pod-Selector",
        "string",
        "Selects the pods to which this NetworkPolicy object applies.",
    ),
    AGE,
];

static ROLE_BINDING: &[Col] = &[
    NAME,
    c("Role", "string", "RoleRef can reference a Role in the current namespace or a ClusterRole in the global namespace."),
    AGE,
    w("Users", "string", "Users in the roleBinding"),
    w("Groups", "string", "Groups in the roleBinding"),
    w("ServiceAccounts", "string", "ServiceAccounts in the roleBinding"),
];

static CLUSTER_ROLE_BINDING: &[Col] = &[
    NAME,
    c(
        "Role",
        "string",
        "RoleRef can only reference a ClusterRole in the global namespace.",
    ),
    AGE,
    w("Users", "string", "Users in the clusterRoleBinding"),
    w("Groups", "string", "Groups in the clusterRoleBinding"),
    w(
        "ServiceAccounts",
        "string",
        "ServiceAccounts in the clusterRoleBinding",
    ),
];

static CSR: &[Col] = &[
    NAME,
    AGE,
    c("SignerName", "string", "Requested signer for the request."),
    c("Requestor", "string", "Base64-encoded PKCS#10 CSR data"),
    c(
        "RequestedDuration",
        "string",
        "expirationSeconds is the requested duration of validity of the issued certificate.",
    ),
    c(
        "Condition",
        "string",
        "Conditions applied to the request, such as approval or denial.",
    ),
];

static LEASE: &[Col] = &[
    NAME,
    c(
        "Holder",
        "string",
        "holderIdentity contains the identity of the holder of a current lease.",
    ),
    AGE,
];

static STORAGE_CLASS: &[Col] = &[
    NAME,
    c("Provisioner", "string", "provisioner indicates the type of the provisioner."),
    c("ReclaimPolicy", "string", "reclaimPolicy controls the reclaimPolicy for dynamically provisioned PersistentVolumes of this storage class."),
    c("VolumeBindingMode", "string", "volumeBindingMode indicates how PersistentVolumeClaims should be provisioned and bound."),
    c("AllowVolumeExpansion", "string", "allowVolumeExpansion shows whether the storage class allow volume expand."),
    AGE,
];

static CONTROLLER_REVISION: &[Col] = &[
    NAME,
    c("Controller", "string", "Controller of the object"),
    c(
        "Revision",
        "string",
        "Revision indicates the revision of the state represented by Data.",
    ),
    AGE,
];

static RESOURCE_QUOTA: &[Col] = &[
    NAME,
    c("Request", "string", "Request represents a minimum amount of cpu/memory that a container may consume."),
    c("Limit", "string", "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node."),
    AGE,
];

static PRIORITY_CLASS: &[Col] = &[
    NAME,
    c("Value", "integer", "value represents the integer value of this priority class."),
    c("Global-Default", "boolean", "globalDefault specifies whether this PriorityClass should be considered as the default priority for pods that do not have any priority class."),
    AGE,
    c("PreemptionPolicy", "string", "preemptionPolicy is the Policy for preempting pods with lower priority."),
];

static RUNTIME_CLASS: &[Col] = &[NAME, c("Handler", "string", "handler specifies the underlying runtime and configuration that the CRI implementation will use to handle pods of this class."), AGE];

static VOLUME_ATTACHMENT: &[Col] = &[
    NAME,
    Col {
        name: "Attacher",
        ty: "string",
        format: "name",
        desc: "attacher indicates the name of the volume driver that MUST handle this request.",
        priority: 0,
    },
    c(
        "PV",
        "string",
        "persistentVolumeName represents the name of the persistent volume to attach.",
    ),
    c(
        "Node",
        "string",
        "nodeName represents the node that the volume should be attached to.",
    ),
    c(
        "Attached",
        "boolean",
        "attached indicates the volume is successfully attached.",
    ),
    AGE,
];

static ENDPOINT_SLICE: &[Col] = &[
    NAME,
    c(
        "AddressType",
        "string",
        "addressType specifies the type of address carried by this EndpointSlice.",
    ),
    c(
        "Ports",
        "string",
        "ports specifies the list of network ports exposed by each endpoint in this slice.",
    ),
    c(
        "Endpoints",
        "string",
        "endpoints is a list of unique endpoints in this slice.",
    ),
    AGE,
];

static CSI_NODE: &[Col] = &[
    NAME,
    c(
        "Drivers",
        "integer",
        "Drivers indicates the number of CSI drivers registered on the node",
    ),
    AGE,
];

static CSI_DRIVER: &[Col] = &[
    NAME,
    c("AttachRequired", "boolean", "attachRequired indicates this CSI volume driver requires an attach operation."),
    c("PodInfoOnMount", "boolean", "podInfoOnMount indicates this CSI volume driver requires additional pod information during mount operations."),
    c("StorageCapacity", "boolean", "storageCapacity indicates that the CSI volume driver wants pod scheduling to consider the storage capacity."),
    c("TokenRequests", "string", "tokenRequests indicates the CSI driver needs pods' service account tokens it is mounting volume for."),
    c("RequiresRepublish", "boolean", "requiresRepublish indicates the CSI driver wants NodePublishVolume being periodically called."),
    c("Modes", "string", "volumeLifecycleModes defines what kind of volumes this CSI volume driver supports."),
    AGE,
];

static WEBHOOK_CONFIG: &[Col] = &[
    NAME,
    c(
        "Webhooks",
        "integer",
        "Webhooks indicates the number of webhooks registered in this configuration",
    ),
    AGE,
];

/// What upstream's default table convertor gives kinds without a printer.
static DEFAULT: &[Col] = &[NAME, c("Created At", "date", AGE_DESC)];

fn defs(group: &str, kind: &str) -> &'static [Col] {
    match (group, kind) {
        ("", "Pod") => POD,
        ("", "PodTemplate") => POD_TEMPLATE,
        ("policy", "PodDisruptionBudget") => PDB,
        ("", "ReplicationController") | ("apps", "ReplicaSet") => REPLICAS,
        ("apps", "DaemonSet") => DAEMON_SET,
        ("batch", "Job") => JOB,
        ("batch", "CronJob") => CRON_JOB,
        ("", "Service") => SERVICE,
        ("networking.k8s.io", "Ingress") => INGRESS,
        ("networking.k8s.io", "IngressClass") => INGRESS_CLASS,
        ("apps", "StatefulSet") => STATEFUL_SET,
        ("", "Endpoints") => ENDPOINTS,
        ("", "Node") => NODE,
        // events.k8s.io shares the core Event storage and so its printer.
        ("", "Event") | ("events.k8s.io", "Event") => EVENT,
        ("", "Namespace") => NAMESPACE,
        ("", "Secret") => SECRET,
        ("", "ServiceAccount") => SERVICE_ACCOUNT,
        ("", "PersistentVolume") => PERSISTENT_VOLUME,
        ("", "PersistentVolumeClaim") => PERSISTENT_VOLUME_CLAIM,
        ("", "ComponentStatus") => COMPONENT_STATUS,
        ("apps", "Deployment") => DEPLOYMENT,
        ("autoscaling", "HorizontalPodAutoscaler") => HPA,
        ("", "ConfigMap") => CONFIG_MAP,
        ("networking.k8s.io", "NetworkPolicy") => NETWORK_POLICY,
        ("rbac.authorization.k8s.io", "RoleBinding") => ROLE_BINDING,
        ("rbac.authorization.k8s.io", "ClusterRoleBinding") => CLUSTER_ROLE_BINDING,
        ("certificates.k8s.io", "CertificateSigningRequest") => CSR,
        ("coordination.k8s.io", "Lease") => LEASE,
        ("storage.k8s.io", "StorageClass") => STORAGE_CLASS,
        ("apps", "ControllerRevision") => CONTROLLER_REVISION,
        ("", "ResourceQuota") => RESOURCE_QUOTA,
        ("scheduling.k8s.io", "PriorityClass") => PRIORITY_CLASS,
        ("node.k8s.io", "RuntimeClass") => RUNTIME_CLASS,
        ("storage.k8s.io", "VolumeAttachment") => VOLUME_ATTACHMENT,
        ("discovery.k8s.io", "EndpointSlice") => ENDPOINT_SLICE,
        ("storage.k8s.io", "CSINode") => CSI_NODE,
        ("storage.k8s.io", "CSIDriver") => CSI_DRIVER,
        ("admissionregistration.k8s.io", "MutatingWebhookConfiguration")
        | ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration") => WEBHOOK_CONFIG,
        // LimitRange, Role, ClusterRole and the rest have no printer upstream.
        _ => DEFAULT,
    }
}

/// Column definitions for a kind: JSON objects {name, type, format, description, priority}
/// as in meta.k8s.io/v1 TableColumnDefinition.
pub fn columns(group: &str, kind: &str) -> Vec<Value> {
    defs(group, kind)
        .iter()
        .map(|c| {
            json!({
                "name": c.name,
                "type": c.ty,
                "format": c.format,
                "description": c.desc,
                "priority": c.priority,
            })
        })
        .collect()
}

/// The cells of one row, in column order (wide columns included). `now` is injected so
/// ages do not depend on the clock.
pub fn cells(group: &str, kind: &str, obj: &Value, now: Timestamp) -> Vec<Value> {
    let o = Obj { v: obj, now };
    match (group, kind) {
        ("", "Pod") => pod(&o),
        ("", "PodTemplate") => pod_template(&o),
        ("policy", "PodDisruptionBudget") => pdb(&o),
        ("", "ReplicationController") => replicas(&o, format_labels(o.get(&["spec", "selector"]))),
        ("apps", "ReplicaSet") => replicas(&o, format_label_selector(o.get(&["spec", "selector"]))),
        ("apps", "DaemonSet") => daemon_set(&o),
        ("batch", "Job") => job(&o),
        ("batch", "CronJob") => cron_job(&o),
        ("", "Service") => service(&o),
        ("networking.k8s.io", "Ingress") => ingress(&o),
        ("networking.k8s.io", "IngressClass") => ingress_class(&o),
        ("apps", "StatefulSet") => stateful_set(&o),
        ("", "Endpoints") => endpoints(&o),
        ("", "Node") => node(&o),
        ("", "Event") | ("events.k8s.io", "Event") => event(&o),
        ("", "Namespace") => vec![o.name(), s(o.str(&["status", "phase"])), o.age()],
        ("", "Secret") => vec![o.name(), s(o.str(&["type"])), n(o.len(&["data"])), o.age()],
        ("", "ServiceAccount") => vec![o.name(), n(o.len(&["secrets"])), o.age()],
        ("", "PersistentVolume") => persistent_volume(&o),
        ("", "PersistentVolumeClaim") => persistent_volume_claim(&o),
        ("", "ComponentStatus") => component_status(&o),
        ("apps", "Deployment") => deployment(&o),
        ("autoscaling", "HorizontalPodAutoscaler") => hpa(&o),
        ("", "ConfigMap") => vec![
            o.name(),
            n(o.len(&["data"]) + o.len(&["binaryData"])),
            o.age(),
        ],
        ("networking.k8s.io", "NetworkPolicy") => {
            let sel = o
                .get(&["spec", "podSelector"])
                .cloned()
                .unwrap_or_else(|| json!({}));
            vec![o.name(), s(format_label_selector(Some(&sel))), o.age()]
        }
        ("rbac.authorization.k8s.io", "RoleBinding")
        | ("rbac.authorization.k8s.io", "ClusterRoleBinding") => role_binding(&o),
        ("certificates.k8s.io", "CertificateSigningRequest") => csr(&o),
        ("coordination.k8s.io", "Lease") => {
            vec![o.name(), s(o.str(&["spec", "holderIdentity"])), o.age()]
        }
        ("storage.k8s.io", "StorageClass") => storage_class(&o),
        ("apps", "ControllerRevision") => controller_revision(&o),
        ("", "ResourceQuota") => resource_quota(&o),
        ("scheduling.k8s.io", "PriorityClass") => vec![
            o.name(),
            n(o.int(&["value"])),
            Value::Bool(o.bool(&["globalDefault"])),
            o.age(),
            s(o.str(&["preemptionPolicy"])),
        ],
        ("node.k8s.io", "RuntimeClass") => vec![o.name(), s(o.str(&["handler"])), o.age()],
        ("storage.k8s.io", "VolumeAttachment") => vec![
            o.name(),
            s(o.str(&["spec", "attacher"])),
            s(o.str(&["spec", "source", "persistentVolumeName"])),
            s(o.str(&["spec", "nodeName"])),
            Value::Bool(o.bool(&["status", "attached"])),
            o.age(),
        ],
        ("discovery.k8s.io", "EndpointSlice") => endpoint_slice(&o),
        ("storage.k8s.io", "CSINode") => vec![o.name(), n(o.len(&["spec", "drivers"])), o.age()],
        ("storage.k8s.io", "CSIDriver") => csi_driver(&o),
        ("admissionregistration.k8s.io", "MutatingWebhookConfiguration")
        | ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration") => {
            vec![o.name(), n(o.len(&["webhooks"])), o.age()]
        }
        _ => {
            // Upstream's default convertor prints the creation time in RFC3339, the zero
            // time when unset.
            let created = o
                .ts(&["metadata", "creationTimestamp"])
                .map(rfc3339)
                .unwrap_or_else(|| "0001-01-01T00:00:00Z".to_string());
            vec![o.name(), s(created)]
        }
    }
}

/// Upstream `duration.HumanDuration`, the AGE format: "45s", "3m20s", "12m", "5h10m",
/// "20h", "3d4h", "30d", "2y10d", "9y".
pub fn human_duration(d: std::time::Duration) -> String {
    human_secs(i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Upstream `duration.ShortHumanDuration` (one unit only), as some kubectl outputs use.
pub fn short_human_duration(d: std::time::Duration) -> String {
    let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
    if secs < 60 {
        format!("{secs}s")
    } else if secs / 60 < 60 {
        format!("{}m", secs / 60)
    } else if secs / 3600 < 24 {
        format!("{}h", secs / 3600)
    } else if secs / 3600 < 24 * 365 {
        format!("{}d", secs / 3600 / 24)
    } else {
        format!("{}y", secs / 3600 / 24 / 365)
    }
}

/// HumanDuration over whole seconds, signed: a little clock skew reads "0s",
/// more is "<invalid>", exactly as upstream.
fn human_secs(secs: i64) -> String {
    if secs < -1 {
        return "<invalid>".to_string();
    }
    if secs < 0 {
        return "0s".to_string();
    }
    if secs < 60 * 2 {
        return format!("{secs}s");
    }
    let minutes = secs / 60;
    if minutes < 10 {
        let s = secs % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = secs / 3600;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{}h", hours / 24, h)
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        return if dy == 0 {
            format!("{}y", hours / 24 / 365)
        } else {
            format!("{}y{}d", hours / 24 / 365, dy)
        };
    }
    format!("{}y", hours / 24 / 365)
}

fn human_signed(d: SignedDuration) -> String {
    // Go's int(d.Seconds()) truncates toward zero, as as_secs does.
    human_secs(d.as_secs())
}

fn rfc3339(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

// ---------------------------------------------------------------------------
// JSON access helpers
// ---------------------------------------------------------------------------

struct Obj<'a> {
    v: &'a Value,
    now: Timestamp,
}

fn get<'a>(v: &'a Value, keys: &[&str]) -> Option<&'a Value> {
    let mut cur = v;
    for k in keys {
        cur = cur.get(k)?;
    }
    if cur.is_null() {
        None
    } else {
        Some(cur)
    }
}

fn gstr<'a>(v: &'a Value, keys: &[&str]) -> &'a str {
    get(v, keys).and_then(Value::as_str).unwrap_or("")
}

fn gint(v: &Value, keys: &[&str]) -> i64 {
    get(v, keys).and_then(Value::as_i64).unwrap_or(0)
}

fn garr<'a>(v: &'a Value, keys: &[&str]) -> &'a [Value] {
    get(v, keys)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn gbool(v: &Value, keys: &[&str]) -> bool {
    get(v, keys).and_then(Value::as_bool).unwrap_or(false)
}

/// A metav1.Time; None for unset or the zero time, which upstream treats alike.
fn parse_ts(v: Option<&Value>) -> Option<Timestamp> {
    let t: Timestamp = v?.as_str()?.parse().ok()?;
    if t.as_second() <= -62135596800 {
        return None;
    }
    Some(t)
}

fn gts(v: &Value, keys: &[&str]) -> Option<Timestamp> {
    parse_ts(get(v, keys))
}

/// Quantities print in canonical form, as upstream's printers do ("1024Mi" shows as "1Gi").
fn quantity(v: Option<&Value>) -> Option<String> {
    let raw = match v? {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    Some(crate::quantity::Quantity::parse(&raw).map(|q| q.to_string()).unwrap_or(raw))
}

impl<'a> Obj<'a> {
    fn get(&self, keys: &[&str]) -> Option<&'a Value> {
        get(self.v, keys)
    }
    fn str(&self, keys: &[&str]) -> &'a str {
        gstr(self.v, keys)
    }
    fn int(&self, keys: &[&str]) -> i64 {
        gint(self.v, keys)
    }
    fn bool(&self, keys: &[&str]) -> bool {
        gbool(self.v, keys)
    }
    fn arr(&self, keys: &[&str]) -> &'a [Value] {
        garr(self.v, keys)
    }
    /// Entry count of a list or map field.
    fn len(&self, keys: &[&str]) -> i64 {
        let n = match self.get(keys) {
            Some(Value::Array(a)) => a.len(),
            Some(Value::Object(m)) => m.len(),
            _ => 0,
        };
        i64::try_from(n).unwrap_or(i64::MAX)
    }
    fn ts(&self, keys: &[&str]) -> Option<Timestamp> {
        gts(self.v, keys)
    }
    fn name(&self) -> Value {
        s(self.str(&["metadata", "name"]))
    }
    fn deleting(&self) -> bool {
        self.get(&["metadata", "deletionTimestamp"]).is_some()
    }
    /// translateTimestampSince.
    fn since(&self, t: Option<Timestamp>) -> String {
        match t {
            Some(t) => human_signed(self.now.duration_since(t)),
            None => "<unknown>".to_string(),
        }
    }
    fn age(&self) -> Value {
        s(self.since(self.ts(&["metadata", "creationTimestamp"])))
    }
    /// spec.replicas as the defaulted internal object has it (v1 defaults it to 1).
    fn replicas(&self) -> i64 {
        self.get(&["spec", "replicas"])
            .and_then(Value::as_i64)
            .unwrap_or(1)
    }
}

fn s(v: impl Into<String>) -> Value {
    Value::String(v.into())
}

fn n(v: i64) -> Value {
    Value::from(v)
}

fn or_none(v: &str) -> String {
    if v.is_empty() {
        "<none>".to_string()
    } else {
        v.to_string()
    }
}

/// labels.FormatLabels: sorted `k=v` joined by commas, "<none>" when empty.
fn format_labels(m: Option<&Value>) -> String {
    let Some(Value::Object(m)) = m else {
        return "<none>".to_string();
    };
    let mut pairs: Vec<(&String, String)> = m
        .iter()
        .map(|(k, v)| {
            (
                k,
                v.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string()),
            )
        })
        .collect();
    pairs.sort();
    let out: Vec<String> = pairs.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
    or_none(&out.join(","))
}

/// metav1.FormatLabelSelector: "<error>" when invalid, "<none>" when it selects all or nothing.
fn format_label_selector(sel: Option<&Value>) -> String {
    match LabelSelector::from_json(sel.unwrap_or(&Value::Null)) {
        Ok(s) => or_none(&s.to_string()),
        Err(_) => "<error>".to_string(),
    }
}

/// layoutContainerCells: names and images, each comma joined.
fn containers(list: &[Value]) -> (Value, Value) {
    let names: Vec<&str> = list.iter().map(|c| gstr(c, &["name"])).collect();
    let images: Vec<&str> = list.iter().map(|c| gstr(c, &["image"])).collect();
    (s(names.join(",")), s(images.join(",")))
}

fn print_bool(b: bool) -> &'static str {
    if b {
        "True"
    } else {
        "False"
    }
}

fn condition_true(conds: &[Value], ty: &str) -> bool {
    conds
        .iter()
        .find(|c| gstr(c, &["type"]) == ty)
        .is_some_and(|c| gstr(c, &["status"]) == "True")
}

/// Upstream sets of strings print sorted and de-duplicated.
fn sorted_set<'a>(items: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    items.collect::<BTreeSet<_>>().into_iter().collect()
}

// ---------------------------------------------------------------------------
// Per-kind printers
// ---------------------------------------------------------------------------

fn later(cur: Option<Timestamp>, t: Option<Timestamp>) -> Option<Timestamp> {
    match (cur, t) {
        (Some(c), Some(t)) if t > c => Some(t),
        (None, Some(t)) => Some(t),
        (c, _) => c,
    }
}

fn pod(o: &Obj) -> Vec<Value> {
    let init_specs = o.arr(&["spec", "initContainers"]);
    let mut total = o.arr(&["spec", "containers"]).len();
    // Sidecars (init containers that restart Always) count as regular containers.
    let is_sidecar = |name: &str| {
        init_specs
            .iter()
            .any(|c| gstr(c, &["name"]) == name && gstr(c, &["restartPolicy"]) == "Always")
    };
    total += init_specs
        .iter()
        .filter(|c| gstr(c, &["restartPolicy"]) == "Always")
        .count();

    let mut restarts: i64 = 0;
    let mut sidecar_restarts: i64 = 0;
    let mut ready = 0usize;
    let mut last_restart: Option<Timestamp> = None;
    let mut last_sidecar_restart: Option<Timestamp> = None;

    let phase = o.str(&["status", "phase"]);
    let mut reason = phase.to_string();
    let status_reason = o.str(&["status", "reason"]);
    if !status_reason.is_empty() {
        reason = status_reason.to_string();
    }
    let conditions = o.arr(&["status", "conditions"]);
    for cond in conditions {
        if gstr(cond, &["type"]) == "PodScheduled" && gstr(cond, &["reason"]) == "SchedulingGated" {
            reason = "SchedulingGated".to_string();
        }
    }

    let mut initializing = false;
    for (i, cs) in o
        .arr(&["status", "initContainerStatuses"])
        .iter()
        .enumerate()
    {
        let rc = gint(cs, &["restartCount"]);
        restarts += rc;
        let finished = gts(cs, &["lastState", "terminated", "finishedAt"]);
        if get(cs, &["lastState", "terminated"]).is_some() {
            last_restart = later(last_restart, finished);
        }
        let sidecar = is_sidecar(gstr(cs, &["name"]));
        if sidecar {
            sidecar_restarts += rc;
            if get(cs, &["lastState", "terminated"]).is_some() {
                last_sidecar_restart = later(last_sidecar_restart, finished);
            }
        }
        let terminated = get(cs, &["state", "terminated"]);
        let waiting_reason = gstr(cs, &["state", "waiting", "reason"]);
        if terminated.is_some_and(|t| gint(t, &["exitCode"]) == 0) {
            continue;
        }
        if sidecar && get(cs, &["started"]).and_then(Value::as_bool) == Some(true) {
            if gbool(cs, &["ready"]) {
                ready += 1;
            }
            continue;
        }
        if let Some(t) = terminated {
            let r = gstr(t, &["reason"]);
            reason = if r.is_empty() {
                let signal = gint(t, &["signal"]);
                if signal != 0 {
                    format!("Init:Signal:{signal}")
                } else {
                    format!("Init:ExitCode:{}", gint(t, &["exitCode"]))
                }
            } else {
                format!("Init:{r}")
            };
        } else if get(cs, &["state", "waiting"]).is_some()
            && !waiting_reason.is_empty()
            && waiting_reason != "PodInitializing"
        {
            reason = format!("Init:{waiting_reason}");
        } else {
            reason = format!("Init:{}/{}", i, init_specs.len());
        }
        initializing = true;
        break;
    }

    let initialized = conditions
        .iter()
        .find(|c| gstr(c, &["type"]) == "Initialized")
        .is_some_and(|c| gstr(c, &["status"]) == "True");
    if !initializing || initialized {
        restarts = sidecar_restarts;
        last_restart = last_sidecar_restart;
        let mut has_running = false;
        // Walked backwards so the first container's state has the last word.
        for cs in o.arr(&["status", "containerStatuses"]).iter().rev() {
            restarts += gint(cs, &["restartCount"]);
            if get(cs, &["lastState", "terminated"]).is_some() {
                last_restart = later(
                    last_restart,
                    gts(cs, &["lastState", "terminated", "finishedAt"]),
                );
            }
            let waiting_reason = gstr(cs, &["state", "waiting", "reason"]);
            let terminated = get(cs, &["state", "terminated"]);
            if get(cs, &["state", "waiting"]).is_some() && !waiting_reason.is_empty() {
                reason = waiting_reason.to_string();
            } else if let Some(t) = terminated {
                let r = gstr(t, &["reason"]);
                reason = if !r.is_empty() {
                    r.to_string()
                } else {
                    let signal = gint(t, &["signal"]);
                    if signal != 0 {
                        format!("Signal:{signal}")
                    } else {
                        format!("ExitCode:{}", gint(t, &["exitCode"]))
                    }
                };
            } else if gbool(cs, &["ready"]) && get(cs, &["state", "running"]).is_some() {
                has_running = true;
                ready += 1;
            }
        }
        if reason == "Completed" && has_running {
            reason = if condition_true(conditions, "Ready") {
                "Running"
            } else {
                "NotReady"
            }
            .to_string();
        }
    }

    if o.deleting() && status_reason == "NodeLost" {
        reason = "Unknown".to_string();
    } else if o.deleting() && phase != "Succeeded" && phase != "Failed" {
        reason = "Terminating".to_string();
    }

    let restarts_str = match last_restart {
        Some(t) if restarts != 0 => format!("{restarts} ({} ago)", o.since(Some(t))),
        _ => restarts.to_string(),
    };

    let gates = o.arr(&["spec", "readinessGates"]);
    let readiness = if gates.is_empty() {
        "<none>".to_string()
    } else {
        let true_count = gates
            .iter()
            .filter(|g| {
                let ty = gstr(g, &["conditionType"]);
                conditions
                    .iter()
                    .find(|c| gstr(c, &["type"]) == ty)
                    .is_some_and(|c| gstr(c, &["status"]) == "True")
            })
            .count();
        format!("{}/{}", true_count, gates.len())
    };

    vec![
        o.name(),
        s(format!("{ready}/{total}")),
        s(reason),
        s(restarts_str),
        o.age(),
        s(or_none(&pod_ip(o))),
        s(or_none(o.str(&["spec", "nodeName"]))),
        s(or_none(o.str(&["status", "nominatedNodeName"]))),
        s(readiness),
    ]
}

/// The primary pod IP: v1's podIP wins over podIPs[0], as in the v1→internal conversion.
fn pod_ip(o: &Obj) -> String {
    let ip = o.str(&["status", "podIP"]);
    if !ip.is_empty() {
        return ip.to_string();
    }
    o.arr(&["status", "podIPs"])
        .first()
        .map(|p| gstr(p, &["ip"]).to_string())
        .unwrap_or_default()
}

fn pod_template(o: &Obj) -> Vec<Value> {
    let (names, images) = containers(o.arr(&["template", "spec", "containers"]));
    vec![
        o.name(),
        names,
        images,
        s(format_labels(o.get(&["template", "metadata", "labels"]))),
    ]
}

/// An IntOrString as its String() form.
fn int_or_string(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(x) => Some(x.clone()),
        Value::Number(x) => Some(x.to_string()),
        _ => None,
    }
}

fn pdb(o: &Obj) -> Vec<Value> {
    let min = int_or_string(o.get(&["spec", "minAvailable"])).unwrap_or_else(|| "N/A".to_string());
    let max =
        int_or_string(o.get(&["spec", "maxUnavailable"])).unwrap_or_else(|| "N/A".to_string());
    vec![
        o.name(),
        s(min),
        s(max),
        n(o.int(&["status", "disruptionsAllowed"])),
        o.age(),
    ]
}

/// ReplicationControllers and ReplicaSets: the same columns; only the selector's
/// form differs (a plain label map for the former).
fn replicas(o: &Obj, selector: String) -> Vec<Value> {
    let (names, images) = containers(o.arr(&["spec", "template", "spec", "containers"]));
    vec![
        o.name(),
        n(o.replicas()),
        n(o.int(&["status", "replicas"])),
        n(o.int(&["status", "readyReplicas"])),
        o.age(),
        names,
        images,
        s(selector),
    ]
}

fn daemon_set(o: &Obj) -> Vec<Value> {
    let (names, images) = containers(o.arr(&["spec", "template", "spec", "containers"]));
    vec![
        o.name(),
        n(o.int(&["status", "desiredNumberScheduled"])),
        n(o.int(&["status", "currentNumberScheduled"])),
        n(o.int(&["status", "numberReady"])),
        n(o.int(&["status", "updatedNumberScheduled"])),
        n(o.int(&["status", "numberAvailable"])),
        s(format_labels(o.get(&[
            "spec",
            "template",
            "spec",
            "nodeSelector",
        ]))),
        o.age(),
        names,
        images,
        s(format_label_selector(o.get(&["spec", "selector"]))),
    ]
}

fn job(o: &Obj) -> Vec<Value> {
    let succeeded = o.int(&["status", "succeeded"]);
    let completions = match o.get(&["spec", "completions"]).and_then(Value::as_i64) {
        Some(c) => format!("{succeeded}/{c}"),
        None => {
            let parallelism = o.int(&["spec", "parallelism"]);
            if parallelism > 1 {
                format!("{succeeded}/1 of {parallelism}")
            } else {
                format!("{succeeded}/1")
            }
        }
    };
    let duration = match (
        o.ts(&["status", "startTime"]),
        o.ts(&["status", "completionTime"]),
    ) {
        (None, _) => String::new(),
        (Some(start), None) => human_signed(o.now.duration_since(start)),
        (Some(start), Some(done)) => human_signed(done.duration_since(start)),
    };
    let conds = o.arr(&["status", "conditions"]);
    // First condition of a type decides, as upstream's hasJobCondition.
    let has = |ty: &str| {
        conds
            .iter()
            .find(|c| gstr(c, &["type"]) == ty)
            .is_some_and(|c| gstr(c, &["status"]) == "True")
    };
    let status = if has("Complete") {
        "Complete"
    } else if has("Failed") {
        "Failed"
    } else if o.deleting() {
        "Terminating"
    } else if has("Suspended") {
        "Suspended"
    } else if has("FailureTarget") {
        "FailureTarget"
    } else {
        "Running"
    };
    let (names, images) = containers(o.arr(&["spec", "template", "spec", "containers"]));
    vec![
        o.name(),
        s(status),
        s(completions),
        s(duration),
        o.age(),
        names,
        images,
        s(format_label_selector(o.get(&["spec", "selector"]))),
    ]
}

fn cron_job(o: &Obj) -> Vec<Value> {
    let last = match o.ts(&["status", "lastScheduleTime"]) {
        Some(t) => o.since(Some(t)),
        None => "<none>".to_string(),
    };
    let tz = o
        .get(&["spec", "timeZone"])
        .and_then(Value::as_str)
        .unwrap_or("<none>");
    let suspend = match o.get(&["spec", "suspend"]).and_then(Value::as_bool) {
        Some(b) => print_bool(b),
        None => "<unset>",
    };
    let (names, images) = containers(o.arr(&[
        "spec",
        "jobTemplate",
        "spec",
        "template",
        "spec",
        "containers",
    ]));
    vec![
        o.name(),
        s(o.str(&["spec", "schedule"])),
        s(tz),
        s(suspend),
        n(o.len(&["status", "active"])),
        s(last),
        o.age(),
        names,
        images,
        s(format_label_selector(o.get(&[
            "spec",
            "jobTemplate",
            "spec",
            "selector",
        ]))),
    ]
}

/// Load-balancer ingress points: IPs, else hostnames, sorted and de-duplicated.
/// The server prints wide, so the list is never clipped.
fn lb_ingress(list: &[Value]) -> String {
    let items = sorted_set(list.iter().filter_map(|i| {
        let ip = gstr(i, &["ip"]);
        let host = gstr(i, &["hostname"]);
        if !ip.is_empty() {
            Some(ip)
        } else if !host.is_empty() {
            Some(host)
        } else {
            None
        }
    }));
    items.join(",")
}

fn service(o: &Obj) -> Vec<Value> {
    // The v1 default; only an undefaulted object lacks it.
    let ty = match o.str(&["spec", "type"]) {
        "" => "ClusterIP",
        t => t,
    };
    let cluster_ip = o
        .arr(&["spec", "clusterIPs"])
        .first()
        .and_then(Value::as_str)
        .filter(|x| !x.is_empty())
        .unwrap_or_else(|| o.str(&["spec", "clusterIP"]));
    let external: Vec<&str> = o
        .arr(&["spec", "externalIPs"])
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let external_ip = match ty {
        "ClusterIP" | "NodePort" => or_none(&external.join(",")),
        "LoadBalancer" => {
            let lb = lb_ingress(o.arr(&["status", "loadBalancer", "ingress"]));
            if !external.is_empty() {
                let mut all: Vec<&str> = if lb.is_empty() {
                    Vec::new()
                } else {
                    lb.split(',').collect()
                };
                all.extend(external.iter().copied());
                all.join(",")
            } else if !lb.is_empty() {
                lb
            } else {
                "<pending>".to_string()
            }
        }
        "ExternalName" => o.str(&["spec", "externalName"]).to_string(),
        _ => "<unknown>".to_string(),
    };
    let ports: Vec<String> = o
        .arr(&["spec", "ports"])
        .iter()
        .map(|p| {
            let port = gint(p, &["port"]);
            let proto = match gstr(p, &["protocol"]) {
                "" => "TCP",
                x => x,
            };
            let node_port = gint(p, &["nodePort"]);
            if node_port > 0 {
                format!("{port}:{node_port}/{proto}")
            } else {
                format!("{port}/{proto}")
            }
        })
        .collect();
    vec![
        o.name(),
        s(ty),
        s(or_none(cluster_ip)),
        s(external_ip),
        s(or_none(&ports.join(","))),
        o.age(),
        s(format_labels(o.get(&["spec", "selector"]))),
    ]
}

fn ingress(o: &Obj) -> Vec<Value> {
    let class = o
        .get(&["spec", "ingressClassName"])
        .and_then(Value::as_str)
        .unwrap_or("<none>");
    let rules = o.arr(&["spec", "rules"]);
    let max = 3;
    let mut list: Vec<&str> = Vec::new();
    let mut more = false;
    for r in rules {
        if list.len() == max {
            more = true;
        }
        let host = gstr(r, &["host"]);
        if !more && !host.is_empty() {
            list.push(host);
        }
    }
    let hosts = if list.is_empty() {
        "*".to_string()
    } else if more {
        format!(
            "{} + {} more...",
            list.join(","),
            rules.len().saturating_sub(max)
        )
    } else {
        list.join(",")
    };
    let address = lb_ingress(o.arr(&["status", "loadBalancer", "ingress"]));
    let ports = if o.arr(&["spec", "tls"]).is_empty() {
        "80"
    } else {
        "80, 443"
    };
    vec![o.name(), s(class), s(hosts), s(address), s(ports), o.age()]
}

fn ingress_class(o: &Obj) -> Vec<Value> {
    let params = match o.get(&["spec", "parameters"]) {
        Some(p) => {
            let mut out = gstr(p, &["kind"]).to_string();
            if let Some(g) = get(p, &["apiGroup"]).and_then(Value::as_str) {
                out = format!("{out}.{g}");
            }
            format!("{out}/{}", gstr(p, &["name"]))
        }
        None => "<none>".to_string(),
    };
    vec![
        o.name(),
        s(o.str(&["spec", "controller"])),
        s(params),
        o.age(),
    ]
}

fn stateful_set(o: &Obj) -> Vec<Value> {
    let (names, images) = containers(o.arr(&["spec", "template", "spec", "containers"]));
    vec![
        o.name(),
        s(format!(
            "{}/{}",
            o.int(&["status", "readyReplicas"]),
            o.replicas()
        )),
        o.age(),
        names,
        images,
    ]
}

/// net.JoinHostPort: IPv6 addresses get brackets.
fn join_host_port(host: &str, port: i64) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

fn endpoints(o: &Obj) -> Vec<Value> {
    vec![o.name(), s(format_endpoints(o.arr(&["subsets"]))), o.age()]
}

fn format_endpoints(subsets: &[Value]) -> String {
    if subsets.is_empty() {
        return "<none>".to_string();
    }
    let max = 3;
    let mut list: Vec<String> = Vec::new();
    let mut more = false;
    let mut count = 0usize;
    for ss in subsets {
        let addrs = garr(ss, &["addresses"]);
        let ports = garr(ss, &["ports"]);
        // Headless services may have no ports: list the bare IPs once.
        let ports: Vec<Option<&Value>> = if ports.is_empty() {
            vec![None]
        } else {
            ports.iter().map(Some).collect()
        };
        for p in ports {
            count += addrs.len();
            for a in addrs {
                if list.len() == max {
                    more = true;
                    break;
                }
                let ip = gstr(a, &["ip"]);
                list.push(match p {
                    Some(p) => join_host_port(ip, gint(p, &["port"])),
                    None => ip.to_string(),
                });
            }
        }
    }
    let ret = list.join(",");
    if more {
        format!("{ret} + {} more...", count.saturating_sub(max))
    } else {
        ret
    }
}

fn node(o: &Obj) -> Vec<Value> {
    // The last Ready condition listed wins, as upstream builds a map by type.
    let ready = o
        .arr(&["status", "conditions"])
        .iter()
        .rev()
        .find(|c| gstr(c, &["type"]) == "Ready");
    let mut status: Vec<&str> = Vec::new();
    match ready {
        Some(c) if gstr(c, &["status"]) == "True" => status.push("Ready"),
        Some(_) => status.push("NotReady"),
        None => status.push("Unknown"),
    }
    if o.bool(&["spec", "unschedulable"]) {
        status.push("SchedulingDisabled");
    }
    let mut roles: BTreeSet<String> = BTreeSet::new();
    if let Some(Value::Object(labels)) = o.get(&["metadata", "labels"]) {
        for (k, v) in labels {
            if let Some(role) = k.strip_prefix("node-role.kubernetes.io/") {
                if !role.is_empty() {
                    roles.insert(role.to_string());
                }
            } else if k == "kubernetes.io/role" {
                if let Some(v) = v.as_str().filter(|v| !v.is_empty()) {
                    roles.insert(v.to_string());
                }
            }
        }
    }
    let roles: Vec<String> = roles.into_iter().collect();
    let addr = |ty: &str| {
        o.arr(&["status", "addresses"])
            .iter()
            .find(|a| gstr(a, &["type"]) == ty)
            .map(|a| gstr(a, &["address"]).to_string())
            .unwrap_or_else(|| "<none>".to_string())
    };
    let unknown = |v: &str| {
        if v.is_empty() {
            "<unknown>".to_string()
        } else {
            v.to_string()
        }
    };
    vec![
        o.name(),
        s(status.join(",")),
        s(or_none(&roles.join(","))),
        o.age(),
        s(o.str(&["status", "nodeInfo", "kubeletVersion"])),
        s(addr("InternalIP")),
        s(addr("ExternalIP")),
        s(unknown(o.str(&["status", "nodeInfo", "osImage"]))),
        s(unknown(o.str(&["status", "nodeInfo", "kernelVersion"]))),
        s(unknown(o.str(&[
            "status",
            "nodeInfo",
            "containerRuntimeVersion",
        ]))),
    ]
}

/// Reads a core/v1 Event field, falling back to its events.k8s.io/v1 spelling.
fn ev<'a>(o: &Obj<'a>, core: &[&str], events: &[&str]) -> Option<&'a Value> {
    o.get(core).or_else(|| o.get(events))
}

fn event(o: &Obj) -> Vec<Value> {
    let first = match parse_ts(ev(o, &["firstTimestamp"], &["deprecatedFirstTimestamp"])) {
        Some(t) => o.since(Some(t)),
        None => o.since(o.ts(&["eventTime"])),
    };
    let mut last = match parse_ts(ev(o, &["lastTimestamp"], &["deprecatedLastTimestamp"])) {
        Some(t) => o.since(Some(t)),
        None => first.clone(),
    };
    let mut count = ev(o, &["count"], &["deprecatedCount"])
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if let Some(series) = o.get(&["series"]) {
        last = o.since(gts(series, &["lastObservedTime"]));
        count = gint(series, &["count"]);
    } else if count == 0 {
        // Singleton events don't have a count set in the new API.
        count = 1;
    }
    let involved = ev(o, &["involvedObject"], &["regarding"])
        .cloned()
        .unwrap_or(Value::Null);
    let kind = gstr(&involved, &["kind"]).to_lowercase();
    let target = match gstr(&involved, &["name"]) {
        "" => kind,
        name => format!("{kind}/{name}"),
    };
    let source_obj = ev(o, &["source"], &["deprecatedSource"])
        .cloned()
        .unwrap_or(Value::Null);
    let first_nonempty = |a: &str, b: &str| {
        if a.is_empty() {
            b.to_string()
        } else {
            a.to_string()
        }
    };
    let reporting_controller = first_nonempty(
        o.str(&["reportingComponent"]),
        o.str(&["reportingController"]),
    );
    let component = first_nonempty(gstr(&source_obj, &["component"]), &reporting_controller);
    let instance = first_nonempty(gstr(&source_obj, &["host"]), o.str(&["reportingInstance"]));
    let source = if instance.is_empty() {
        component
    } else {
        format!("{component}, {instance}")
    };
    let message = ev(o, &["message"], &["note"])
        .and_then(Value::as_str)
        .unwrap_or("")
        .trim();
    vec![
        s(last),
        s(o.str(&["type"])),
        s(o.str(&["reason"])),
        s(target),
        s(gstr(&involved, &["fieldPath"])),
        s(source),
        s(message),
        s(first),
        n(count),
        o.name(),
    ]
}

/// helper.GetAccessModesAsString: fixed order, duplicates dropped.
fn access_modes(modes: &[Value]) -> String {
    let has = |m: &str| modes.iter().any(|x| x.as_str() == Some(m));
    let mut out = Vec::new();
    for (mode, short) in [
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    ] {
        if has(mode) {
            out.push(short);
        }
    }
    out.join(",")
}

const BETA_STORAGE_CLASS_ANNOTATION: &str = "volume.beta.kubernetes.io/storage-class";

/// A PV's or PVC's phase, or Terminating once deleted.
fn volume_phase<'a>(o: &Obj<'a>) -> &'a str {
    if o.deleting() {
        "Terminating"
    } else {
        o.str(&["status", "phase"])
    }
}

/// A PV's or PVC's class: the beta annotation wins over spec.storageClassName.
fn volume_class<'a>(o: &Obj<'a>) -> &'a str {
    match o
        .get(&["metadata", "annotations", BETA_STORAGE_CLASS_ANNOTATION])
        .and_then(Value::as_str)
    {
        Some(c) => c,
        None => o.str(&["spec", "storageClassName"]),
    }
}

fn str_or_unset<'a>(o: &Obj<'a>, keys: &[&str]) -> &'a str {
    o.get(keys).and_then(Value::as_str).unwrap_or("<unset>")
}

fn persistent_volume(o: &Obj) -> Vec<Value> {
    let claim = match o.get(&["spec", "claimRef"]) {
        Some(r) => format!("{}/{}", gstr(r, &["namespace"]), gstr(r, &["name"])),
        None => String::new(),
    };
    let capacity =
        quantity(o.get(&["spec", "capacity", "storage"])).unwrap_or_else(|| "0".to_string());
    let phase = volume_phase(o);
    let class = volume_class(o);
    let vac = str_or_unset(o, &["spec", "volumeAttributesClassName"]);
    let mode = str_or_unset(o, &["spec", "volumeMode"]);
    vec![
        o.name(),
        s(capacity),
        s(access_modes(o.arr(&["spec", "accessModes"]))),
        s(o.str(&["spec", "persistentVolumeReclaimPolicy"])),
        s(phase),
        s(claim),
        s(class),
        s(vac),
        s(o.str(&["status", "reason"])),
        o.age(),
        s(mode),
    ]
}

fn persistent_volume_claim(o: &Obj) -> Vec<Value> {
    let phase = volume_phase(o);
    let volume = o.str(&["spec", "volumeName"]);
    // Capacity and modes are only shown once bound.
    let (capacity, modes) = if volume.is_empty() {
        (String::new(), String::new())
    } else {
        (
            quantity(o.get(&["status", "capacity", "storage"])).unwrap_or_else(|| "0".to_string()),
            access_modes(o.arr(&["status", "accessModes"])),
        )
    };
    let class = volume_class(o);
    let vac = str_or_unset(o, &["spec", "volumeAttributesClassName"]);
    let mode = str_or_unset(o, &["spec", "volumeMode"]);
    vec![
        o.name(),
        s(phase),
        s(volume),
        s(capacity),
        s(modes),
        s(class),
        s(vac),
        o.age(),
        s(mode),
    ]
}

fn component_status(o: &Obj) -> Vec<Value> {
    let healthy = o
        .arr(&["conditions"])
        .iter()
        .find(|c| gstr(c, &["type"]) == "Healthy");
    let (status, message, error) = match healthy {
        Some(c) => (
            if gstr(c, &["status"]) == "True" {
                "Healthy"
            } else {
                "Unhealthy"
            },
            gstr(c, &["message"]),
            gstr(c, &["error"]),
        ),
        None => ("Unknown", "", ""),
    };
    vec![o.name(), s(status), s(message), s(error)]
}

fn deployment(o: &Obj) -> Vec<Value> {
    let selector =
        match LabelSelector::from_json(o.get(&["spec", "selector"]).unwrap_or(&Value::Null)) {
            Ok(sel) => sel.to_string(),
            Err(_) => "<invalid>".to_string(),
        };
    let (names, images) = containers(o.arr(&["spec", "template", "spec", "containers"]));
    vec![
        o.name(),
        s(format!(
            "{}/{}",
            o.int(&["status", "readyReplicas"]),
            o.replicas()
        )),
        n(o.int(&["status", "updatedReplicas"])),
        n(o.int(&["status", "availableReplicas"])),
        o.age(),
        names,
        images,
        s(selector),
    ]
}

/// A *Quantity's String(): "<nil>" when unset, as Go prints a nil pointer receiver.
fn qty_or_nil(v: Option<&Value>) -> String {
    quantity(v).unwrap_or_else(|| "<nil>".to_string())
}

fn format_hpa_metrics(specs: &[Value], statuses: &[Value]) -> String {
    if specs.is_empty() {
        return "<none>".to_string();
    }
    let max = 2;
    let mut list: Vec<String> = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        let status = statuses.get(i);
        let st = |src: &str| status.and_then(|x| get(x, &[src]));
        let item = match gstr(spec, &["type"]) {
            ty @ ("External" | "Object") => {
                let src = if ty == "External" {
                    "external"
                } else {
                    "object"
                };
                let target = get(spec, &[src, "target"]).cloned().unwrap_or(Value::Null);
                if let Some(avg) = get(&target, &["averageValue"]) {
                    let current = st(src)
                        .and_then(|x| quantity(get(x, &["current", "averageValue"])))
                        .unwrap_or_else(|| "<unknown>".to_string());
                    format!("{current}/{} (avg)", qty_or_nil(Some(avg)))
                } else {
                    let current = match st(src) {
                        Some(x) => qty_or_nil(get(x, &["current", "value"])),
                        None => "<unknown>".to_string(),
                    };
                    format!("{current}/{}", qty_or_nil(get(&target, &["value"])))
                }
            }
            "Pods" => {
                let current = match st("pods") {
                    Some(x) => qty_or_nil(get(x, &["current", "averageValue"])),
                    None => "<unknown>".to_string(),
                };
                format!(
                    "{current}/{}",
                    qty_or_nil(get(spec, &["pods", "target", "averageValue"]))
                )
            }
            ty @ ("Resource" | "ContainerResource") => {
                let src = if ty == "Resource" {
                    "resource"
                } else {
                    "containerResource"
                };
                let name = gstr(spec, &[src, "name"]);
                let target = get(spec, &[src, "target"]).cloned().unwrap_or(Value::Null);
                if let Some(avg) = get(&target, &["averageValue"]) {
                    let current = match st(src) {
                        Some(x) => qty_or_nil(get(x, &["current", "averageValue"])),
                        None => "<unknown>".to_string(),
                    };
                    format!("{name}: {current}/{}", qty_or_nil(Some(avg)))
                } else {
                    let current = st(src)
                        .and_then(|x| get(x, &["current", "averageUtilization"]))
                        .and_then(Value::as_i64)
                        .map(|u| format!("{u}%"))
                        .unwrap_or_else(|| "<unknown>".to_string());
                    let want = get(&target, &["averageUtilization"])
                        .and_then(Value::as_i64)
                        .map(|u| format!("{u}%"))
                        .unwrap_or_else(|| "<auto>".to_string());
                    format!("{name}: {current}/{want}")
                }
            }
            _ => "<unknown type>".to_string(),
        };
        list.push(item);
    }
    let count = list.len();
    if count > max {
        list.truncate(max);
        return format!("{} + {} more...", list.join(", "), count - max);
    }
    list.join(", ")
}

fn hpa(o: &Obj) -> Vec<Value> {
    let reference = format!(
        "{}/{}",
        o.str(&["spec", "scaleTargetRef", "kind"]),
        o.str(&["spec", "scaleTargetRef", "name"])
    );
    let min = match o.get(&["spec", "minReplicas"]).and_then(Value::as_i64) {
        Some(m) => m.to_string(),
        None => "<unset>".to_string(),
    };
    vec![
        o.name(),
        s(reference),
        s(format_hpa_metrics(
            o.arr(&["spec", "metrics"]),
            o.arr(&["status", "currentMetrics"]),
        )),
        s(min),
        n(o.int(&["spec", "maxReplicas"])),
        n(o.int(&["status", "currentReplicas"])),
        o.age(),
    ]
}

fn role_binding(o: &Obj) -> Vec<Value> {
    let role = format!(
        "{}/{}",
        o.str(&["roleRef", "kind"]),
        o.str(&["roleRef", "name"])
    );
    let mut users = Vec::new();
    let mut groups = Vec::new();
    let mut sas = Vec::new();
    for sub in o.arr(&["subjects"]) {
        match gstr(sub, &["kind"]) {
            "ServiceAccount" => sas.push(format!(
                "{}/{}",
                gstr(sub, &["namespace"]),
                gstr(sub, &["name"])
            )),
            "User" => users.push(gstr(sub, &["name"]).to_string()),
            "Group" => groups.push(gstr(sub, &["name"]).to_string()),
            _ => {}
        }
    }
    vec![
        o.name(),
        s(role),
        o.age(),
        s(users.join(", ")),
        s(groups.join(", ")),
        s(sas.join(", ")),
    ]
}

fn csr(o: &Obj) -> Vec<Value> {
    let (mut approved, mut denied, mut failed) = (false, false, false);
    for c in o.arr(&["status", "conditions"]) {
        match gstr(c, &["type"]) {
            "Approved" => approved = true,
            "Denied" => denied = true,
            "Failed" => failed = true,
            _ => {}
        }
    }
    // Denied outranks Approved, as upstream orders them.
    let mut status = if denied {
        "Denied"
    } else if approved {
        "Approved"
    } else {
        "Pending"
    }
    .to_string();
    if failed {
        status.push_str(",Failed");
    }
    if !o.str(&["status", "certificate"]).is_empty() {
        status.push_str(",Issued");
    }
    let requested = match o
        .get(&["spec", "expirationSeconds"])
        .and_then(Value::as_i64)
    {
        Some(secs) => human_secs(secs),
        None => "<none>".to_string(),
    };
    vec![
        o.name(),
        o.age(),
        s(or_none(o.str(&["spec", "signerName"]))),
        s(o.str(&["spec", "username"])),
        s(requested),
        s(status),
    ]
}

fn storage_class(o: &Obj) -> Vec<Value> {
    let is_default = |key: &str| {
        o.get(&["metadata", "annotations", key])
            .and_then(Value::as_str)
            == Some("true")
    };
    let mut name = o.str(&["metadata", "name"]).to_string();
    if is_default("storageclass.kubernetes.io/is-default-class")
        || is_default("storageclass.beta.kubernetes.io/is-default-class")
    {
        name.push_str(" (default)");
    }
    let reclaim = o
        .get(&["reclaimPolicy"])
        .and_then(Value::as_str)
        .unwrap_or("Delete");
    let binding = o
        .get(&["volumeBindingMode"])
        .and_then(Value::as_str)
        .unwrap_or("Immediate");
    vec![
        s(name),
        s(o.str(&["provisioner"])),
        s(reclaim),
        s(binding),
        Value::Bool(o.bool(&["allowVolumeExpansion"])),
        o.age(),
    ]
}

fn controller_revision(o: &Obj) -> Vec<Value> {
    let owner = o
        .arr(&["metadata", "ownerReferences"])
        .iter()
        .find(|r| get(r, &["controller"]).and_then(Value::as_bool) == Some(true));
    let controller = match owner {
        Some(r) => {
            let api_version = gstr(r, &["apiVersion"]);
            let group = match api_version.split_once('/') {
                Some((g, _)) => g,
                None => "",
            };
            let kind = gstr(r, &["kind"]);
            let name = gstr(r, &["name"]);
            if kind.is_empty() && group.is_empty() {
                name.to_string()
            } else if group.is_empty() {
                format!("{}/{name}", kind.to_lowercase())
            } else {
                format!("{}/{name}", format!("{kind}.{group}").to_lowercase())
            }
        }
        None => "<none>".to_string(),
    };
    vec![o.name(), s(controller), n(o.int(&["revision"])), o.age()]
}

fn resource_quota(o: &Obj) -> Vec<Value> {
    let mut request = Vec::new();
    let mut limit = Vec::new();
    if let Some(Value::Object(hard)) = o.get(&["status", "hard"]) {
        let mut names: Vec<&String> = hard.keys().collect();
        names.sort();
        for res in names {
            let used = quantity(o.get(&["status", "used", res])).unwrap_or_else(|| "0".to_string());
            let want = quantity(hard.get(res.as_str())).unwrap_or_else(|| "0".to_string());
            let item = format!("{res}: {used}/{want}");
            let pieces: Vec<&str> = res.split('.').collect();
            if pieces.len() > 1 && pieces[0] == "limits" {
                limit.push(item);
            } else {
                request.push(item);
            }
        }
    }
    vec![
        o.name(),
        s(request.join(", ")),
        s(limit.join(", ")),
        o.age(),
    ]
}

fn list_with_more(list: Vec<String>, more: bool, count: usize, max: usize) -> String {
    let ret = list.join(",");
    if more {
        return format!("{ret} + {} more...", count.saturating_sub(max));
    }
    if ret.is_empty() {
        "<unset>".to_string()
    } else {
        ret
    }
}

fn endpoint_slice(o: &Obj) -> Vec<Value> {
    let max = 3;
    let (mut ports, mut more, mut count) = (Vec::new(), false, 0usize);
    for p in o.arr(&["ports"]) {
        if ports.len() < max {
            let num = match get(p, &["port"]).and_then(Value::as_i64) {
                Some(x) => x.to_string(),
                None => get(p, &["name"])
                    .and_then(Value::as_str)
                    .unwrap_or("*")
                    .to_string(),
            };
            ports.push(num);
        } else if ports.len() == max {
            more = true;
        }
        count += 1;
    }
    let ports = list_with_more(ports, more, count, max);
    let (mut addrs, mut more, mut count) = (Vec::new(), false, 0usize);
    for e in o.arr(&["endpoints"]) {
        for a in garr(e, &["addresses"]) {
            if addrs.len() < max {
                addrs.push(a.as_str().unwrap_or("").to_string());
            } else if addrs.len() == max {
                more = true;
            }
            count += 1;
        }
    }
    let addrs = list_with_more(addrs, more, count, max);
    vec![
        o.name(),
        s(o.str(&["addressType"])),
        s(ports),
        s(addrs),
        o.age(),
    ]
}

fn csi_driver(o: &Obj) -> Vec<Value> {
    let opt_bool =
        |k: &str, dflt: bool| o.get(&["spec", k]).and_then(Value::as_bool).unwrap_or(dflt);
    let modes: Vec<&str> = o
        .arr(&["spec", "volumeLifecycleModes"])
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let tokens = match o.get(&["spec", "tokenRequests"]).and_then(Value::as_array) {
        Some(t) => t
            .iter()
            .map(|x| gstr(x, &["audience"]))
            .collect::<Vec<_>>()
            .join(","),
        None => "<unset>".to_string(),
    };
    vec![
        o.name(),
        Value::Bool(opt_bool("attachRequired", true)),
        Value::Bool(opt_bool("podInfoOnMount", false)),
        Value::Bool(opt_bool("storageCapacity", false)),
        s(tokens),
        Value::Bool(opt_bool("requiresRepublish", false)),
        s(or_none(&modes.join(","))),
        o.age(),
    ]
}

/// Convenience for callers that hold labels as a JSON map (kept here so table
/// and selector code format label sets the same way).
pub fn format_label_map(labels: &Map<String, Value>) -> String {
    format_labels(Some(&Value::Object(labels.clone())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const NOW: &str = "2024-05-01T12:00:00Z";

    fn now() -> Timestamp {
        NOW.parse().unwrap_or(Timestamp::UNIX_EPOCH)
    }

    /// An RFC3339 time `secs` seconds before NOW.
    fn ago(secs: i64) -> String {
        rfc3339(now() - SignedDuration::from_secs(secs))
    }

    fn row(group: &str, kind: &str, obj: Value) -> Vec<Value> {
        let r = cells(group, kind, &obj, now());
        assert_eq!(
            r.len(),
            columns(group, kind).len(),
            "cells match columns for {kind}"
        );
        r
    }

    fn strs(r: &[Value]) -> Vec<String> {
        r.iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string())
            })
            .collect()
    }

    fn col_names(group: &str, kind: &str) -> Vec<String> {
        columns(group, kind)
            .iter()
            .map(|c| c["name"].as_str().unwrap_or("").to_string())
            .collect()
    }

    #[test]
    fn table_human_duration_matches_upstream() {
        let h = |s: u64| human_duration(Duration::from_secs(s));
        assert_eq!(h(0), "0s");
        assert_eq!(h(5), "5s");
        assert_eq!(h(119), "119s");
        assert_eq!(h(120), "2m");
        assert_eq!(h(200), "3m20s");
        assert_eq!(h(599), "9m59s");
        assert_eq!(h(600), "10m");
        assert_eq!(h(3 * 3600 - 1), "179m");
        assert_eq!(h(3 * 3600), "3h");
        assert_eq!(h(5 * 3600 + 10 * 60), "5h10m");
        assert_eq!(h(8 * 3600), "8h");
        assert_eq!(h(47 * 3600 + 59 * 60), "47h");
        assert_eq!(h(2 * 86400 + 3 * 3600), "2d3h");
        assert_eq!(h(7 * 86400), "7d");
        assert_eq!(h(8 * 86400 + 5 * 3600), "8d");
        assert_eq!(h(729 * 86400), "729d");
        assert_eq!(h(2 * 365 * 86400 + 10 * 86400), "2y10d");
        assert_eq!(h(3 * 365 * 86400), "3y");
        assert_eq!(h(9 * 365 * 86400 + 40 * 86400), "9y");
        assert_eq!(human_secs(-1), "0s");
        assert_eq!(human_secs(-2), "<invalid>");
        assert_eq!(short_human_duration(Duration::from_secs(3700)), "1h");
    }

    #[test]
    fn table_pod_columns_are_upstreams() {
        assert_eq!(
            col_names("", "Pod"),
            [
                "Name",
                "Ready",
                "Status",
                "Restarts",
                "Age",
                "IP",
                "Node",
                "Nominated Node",
                "Readiness Gates"
            ]
        );
        let cols = columns("", "Pod");
        assert_eq!(cols[0]["format"], "name");
        assert_eq!(cols[3]["type"], "string");
        assert_eq!(cols[4]["priority"], 0);
        assert_eq!(cols[5]["priority"], 1);
        assert_eq!(
            cols[0]
                .as_object()
                .map(|m| m.keys().cloned().collect::<Vec<_>>())
                .unwrap_or_default(),
            ["name", "type", "format", "description", "priority"]
        );
    }

    fn pod(status: Value) -> Value {
        json!({
            "metadata": {"name": "web-1", "namespace": "default", "creationTimestamp": ago(200)},
            "spec": {"containers": [{"name": "a", "image": "nginx"}, {"name": "b", "image": "redis"}], "nodeName": "node-1"},
            "status": status
        })
    }

    #[test]
    fn table_pod_pending_running_completed() {
        let r = row("", "Pod", pod(json!({"phase": "Pending"})));
        assert_eq!(
            strs(&r),
            ["web-1", "0/2", "Pending", "0", "3m20s", "<none>", "node-1", "<none>", "<none>"]
        );

        let r = row(
            "",
            "Pod",
            pod(json!({
                "phase": "Pending",
                "containerStatuses": [
                    {"name": "a", "ready": false, "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}}},
                    {"name": "b", "ready": false, "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}}}
                ]
            })),
        );
        assert_eq!(r[2], "ContainerCreating");

        let running = json!({
            "phase": "Running",
            "podIP": "10.1.0.7",
            "podIPs": [{"ip": "10.1.0.7"}],
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [
                {"name": "a", "ready": true, "restartCount": 0, "state": {"running": {"startedAt": ago(100)}}},
                {"name": "b", "ready": false, "restartCount": 0, "state": {"running": {"startedAt": ago(100)}}}
            ]
        });
        let r = row("", "Pod", pod(running));
        assert_eq!(
            strs(&r),
            ["web-1", "1/2", "Running", "0", "3m20s", "10.1.0.7", "node-1", "<none>", "<none>"]
        );

        let done = json!({
            "phase": "Succeeded",
            "containerStatuses": [
                {"name": "a", "ready": false, "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                {"name": "b", "ready": false, "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}
            ]
        });
        assert_eq!(row("", "Pod", pod(done))[2], "Completed");

        // A finished container next to a running one reads as Running/NotReady.
        let mixed = json!({
            "phase": "Running",
            "containerStatuses": [
                {"name": "a", "ready": false, "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                {"name": "b", "ready": true, "restartCount": 0, "state": {"running": {}}}
            ]
        });
        assert_eq!(row("", "Pod", pod(mixed))[2], "NotReady");

        let err = json!({
            "phase": "Failed",
            "containerStatuses": [
                {"name": "a", "ready": false, "restartCount": 0, "state": {"terminated": {"exitCode": 2}}},
                {"name": "b", "ready": false, "restartCount": 0, "state": {"terminated": {"exitCode": 0, "signal": 9}}}
            ]
        });
        assert_eq!(row("", "Pod", pod(err))[2], "ExitCode:2");
    }

    #[test]
    fn table_pod_crashloop_restarts_ago() {
        let st = json!({
            "phase": "Running",
            "containerStatuses": [
                {"name": "a", "ready": false, "restartCount": 3,
                 "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                 "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": ago(300)}}},
                {"name": "b", "ready": true, "restartCount": 1, "state": {"running": {}},
                 "lastState": {"terminated": {"exitCode": 1, "finishedAt": ago(4000)}}}
            ]
        });
        let r = row("", "Pod", pod(st));
        assert_eq!(strs(&r)[1..4], ["1/2", "CrashLoopBackOff", "4 (5m ago)"]);
    }

    #[test]
    fn table_pod_init_containers() {
        let mut p = pod(json!({
            "phase": "Pending",
            "initContainerStatuses": [
                {"name": "i1", "ready": true, "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                {"name": "i2", "ready": false, "restartCount": 0, "state": {"running": {}}}
            ],
            "containerStatuses": [
                {"name": "a", "ready": false, "restartCount": 0, "state": {"waiting": {"reason": "PodInitializing"}}},
                {"name": "b", "ready": false, "restartCount": 0, "state": {"waiting": {"reason": "PodInitializing"}}}
            ]
        }));
        p["spec"]["initContainers"] =
            json!([{"name": "i1", "image": "busybox"}, {"name": "i2", "image": "busybox"}]);
        assert_eq!(
            strs(&row("", "Pod", p.clone()))[1..4],
            ["0/2", "Init:1/2", "0"]
        );

        p["status"]["initContainerStatuses"][1]["state"] =
            json!({"waiting": {"reason": "CrashLoopBackOff"}});
        p["status"]["initContainerStatuses"][1]["restartCount"] = json!(2);
        assert_eq!(
            strs(&row("", "Pod", p.clone()))[1..4],
            ["0/2", "Init:CrashLoopBackOff", "2"]
        );

        p["status"]["initContainerStatuses"][1]["state"] =
            json!({"terminated": {"exitCode": 1, "reason": "Error"}});
        assert_eq!(row("", "Pod", p.clone())[2], "Init:Error");

        // A started sidecar counts toward READY and the total.
        let mut sc = pod(json!({
            "phase": "Running",
            "conditions": [{"type": "Initialized", "status": "True"}, {"type": "Ready", "status": "True"}],
            "initContainerStatuses": [
                {"name": "proxy", "ready": true, "started": true, "restartCount": 1, "state": {"running": {}}}
            ],
            "containerStatuses": [
                {"name": "a", "ready": true, "restartCount": 0, "state": {"running": {}}},
                {"name": "b", "ready": true, "restartCount": 0, "state": {"running": {}}}
            ]
        }));
        sc["spec"]["initContainers"] =
            json!([{"name": "proxy", "image": "envoy", "restartPolicy": "Always"}]);
        assert_eq!(strs(&row("", "Pod", sc))[1..4], ["3/3", "Running", "1"]);
    }

    #[test]
    fn table_pod_terminating_and_node_lost() {
        let mut p = pod(json!({"phase": "Running"}));
        p["metadata"]["deletionTimestamp"] = json!(ago(1));
        assert_eq!(row("", "Pod", p.clone())[2], "Terminating");
        p["status"]["reason"] = json!("NodeLost");
        assert_eq!(row("", "Pod", p.clone())[2], "Unknown");
        let mut done = pod(json!({"phase": "Succeeded"}));
        done["metadata"]["deletionTimestamp"] = json!(ago(1));
        assert_eq!(row("", "Pod", done)[2], "Succeeded");
    }

    #[test]
    fn table_pod_readiness_gates_and_gated() {
        let mut p = pod(json!({
            "phase": "Pending",
            "conditions": [{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}, {"type": "x/ok", "status": "True"}]
        }));
        p["spec"]["readinessGates"] = json!([{"conditionType": "x/ok"}, {"conditionType": "x/no"}]);
        let r = row("", "Pod", p);
        assert_eq!(r[2], "SchedulingGated");
        assert_eq!(r[8], "1/2");
    }

    #[test]
    fn table_deployment_and_replicasets() {
        assert_eq!(
            col_names("apps", "Deployment"),
            [
                "Name",
                "Ready",
                "Up-to-date",
                "Available",
                "Age",
                "Containers",
                "Images",
                "Selector"
            ]
        );
        let d = json!({
            "metadata": {"name": "web", "creationTimestamp": ago(3 * 86400 + 3600)},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}, {"name": "log", "image": "fluent"}]}}},
            "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}
        });
        let r = row("apps", "Deployment", d);
        assert_eq!(
            r,
            vec![
                json!("web"),
                json!("2/3"),
                json!(3),
                json!(2),
                json!("3d1h"),
                json!("nginx,log"),
                json!("nginx:1.27,fluent"),
                json!("app=web")
            ]
        );

        let rs = json!({
            "metadata": {"name": "web-abc", "creationTimestamp": ago(30)},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web", "pod-template-hash": "abc"}},
                     "template": {"spec": {"containers": [{"name": "nginx", "image": "nginx"}]}}},
            "status": {"replicas": 2, "readyReplicas": 1}
        });
        assert_eq!(
            row("apps", "ReplicaSet", rs),
            vec![
                json!("web-abc"),
                json!(2),
                json!(2),
                json!(1),
                json!("30s"),
                json!("nginx"),
                json!("nginx"),
                json!("app=web,pod-template-hash=abc")
            ]
        );

        let rc = json!({"metadata": {"name": "rc"}, "spec": {"replicas": 1, "selector": {"b": "2", "a": "1"}}, "status": {}});
        assert_eq!(
            strs(&row("", "ReplicationController", rc)),
            ["rc", "1", "0", "0", "<unknown>", "", "", "a=1,b=2"]
        );

        let sts = json!({"metadata": {"name": "db", "creationTimestamp": ago(60)}, "spec": {"replicas": 3}, "status": {"readyReplicas": 1}});
        assert_eq!(
            strs(&row("apps", "StatefulSet", sts))[..3],
            ["db", "1/3", "60s"]
        );

        let ds = json!({
            "metadata": {"name": "agent", "creationTimestamp": ago(86400)},
            "spec": {"selector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["agent"]}]},
                     "template": {"spec": {"containers": [{"name": "a", "image": "agent:1"}]}}},
            "status": {"desiredNumberScheduled": 3, "currentNumberScheduled": 3, "numberReady": 2, "updatedNumberScheduled": 3, "numberAvailable": 2}
        });
        assert_eq!(
            strs(&row("apps", "DaemonSet", ds)),
            [
                "agent",
                "3",
                "3",
                "2",
                "3",
                "2",
                "<none>",
                "24h",
                "a",
                "agent:1",
                "app in (agent)"
            ]
        );
    }

    #[test]
    fn table_job_and_cronjob() {
        assert_eq!(
            col_names("batch", "Job"),
            [
                "Name",
                "Status",
                "Completions",
                "Duration",
                "Age",
                "Containers",
                "Images",
                "Selector"
            ]
        );
        let j = json!({
            "metadata": {"name": "pi", "creationTimestamp": ago(600)},
            "spec": {"completions": 5, "parallelism": 2, "template": {"spec": {"containers": [{"name": "pi", "image": "perl"}]}},
                     "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "u1"}}},
            "status": {"succeeded": 3, "active": 2, "startTime": ago(590)}
        });
        assert_eq!(
            strs(&row("batch", "Job", j)),
            [
                "pi",
                "Running",
                "3/5",
                "9m50s",
                "10m",
                "pi",
                "perl",
                "batch.kubernetes.io/controller-uid=u1"
            ]
        );
        let done = json!({
            "metadata": {"name": "once", "creationTimestamp": ago(7200)},
            "spec": {"parallelism": 1},
            "status": {"succeeded": 1, "startTime": ago(7000), "completionTime": ago(6935),
                       "conditions": [{"type": "SuccessCriteriaMet", "status": "True"}, {"type": "Complete", "status": "True"}]}
        });
        assert_eq!(
            strs(&row("batch", "Job", done))[1..5],
            ["Complete", "1/1", "65s", "120m"]
        );
        let par = json!({"metadata": {"name": "p"}, "spec": {"parallelism": 4},
                         "status": {"conditions": [{"type": "Failed", "status": "True"}]}});
        assert_eq!(
            strs(&row("batch", "Job", par))[1..4],
            ["Failed", "0/1 of 4", ""]
        );

        let cj = json!({
            "metadata": {"name": "hello", "creationTimestamp": ago(3600)},
            "spec": {"schedule": "*/1 * * * *", "suspend": false,
                     "jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "h", "image": "busybox"}]}}}}},
            "status": {"active": [{"name": "hello-1"}], "lastScheduleTime": ago(42)}
        });
        let r = row("batch", "CronJob", cj);
        assert_eq!(
            strs(&r),
            [
                "hello",
                "*/1 * * * *",
                "<none>",
                "False",
                "1",
                "42s",
                "60m",
                "h",
                "busybox",
                "<none>"
            ]
        );
        assert_eq!(r[4], json!(1));
    }

    #[test]
    fn table_node_status_and_roles() {
        let node = |ready: &str, unsched: bool, labels: Value| {
            json!({
                "metadata": {"name": "n1", "creationTimestamp": ago(10 * 86400), "labels": labels},
                "spec": {"unschedulable": unsched},
                "status": {
                    "conditions": [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": ready}],
                    "addresses": [{"type": "InternalIP", "address": "192.168.1.10"}, {"type": "Hostname", "address": "n1"}],
                    "nodeInfo": {"kubeletVersion": "v1.33.0", "osImage": "Debian GNU/Linux 12 (bookworm)", "kernelVersion": "6.1.0", "containerRuntimeVersion": "containerd://1.7.0"}
                }
            })
        };
        let r = row(
            "",
            "Node",
            node("True", false, json!({"kubernetes.io/hostname": "n1"})),
        );
        assert_eq!(
            strs(&r),
            [
                "n1",
                "Ready",
                "<none>",
                "10d",
                "v1.33.0",
                "192.168.1.10",
                "<none>",
                "Debian GNU/Linux 12 (bookworm)",
                "6.1.0",
                "containerd://1.7.0"
            ]
        );
        let r = row(
            "",
            "Node",
            node(
                "Unknown",
                true,
                json!({"node-role.kubernetes.io/worker": "", "node-role.kubernetes.io/control-plane": ""}),
            ),
        );
        assert_eq!(
            strs(&r)[1..3],
            ["NotReady,SchedulingDisabled", "control-plane,worker"]
        );
        let bare = json!({"metadata": {"name": "n2", "labels": {"kubernetes.io/role": "edge"}}, "spec": {}, "status": {}});
        assert_eq!(strs(&row("", "Node", bare))[1..3], ["Unknown", "edge"]);
    }

    #[test]
    fn table_service_ports_and_ips() {
        let svc = |ty: &str, extra: Value| {
            let mut v = json!({
                "metadata": {"name": "web", "creationTimestamp": ago(5)},
                "spec": {"type": ty, "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"], "selector": {"app": "web"},
                         "ports": [{"port": 80, "protocol": "TCP", "nodePort": 30080}, {"port": 53, "protocol": "UDP"}]}
            });
            if let (Some(spec), Value::Object(extra)) = (v["spec"].as_object_mut(), extra) {
                spec.extend(extra);
            }
            v
        };
        let r = row("", "Service", svc("NodePort", json!({})));
        assert_eq!(
            strs(&r),
            [
                "web",
                "NodePort",
                "10.96.0.10",
                "<none>",
                "80:30080/TCP,53/UDP",
                "5s",
                "app=web"
            ]
        );
        let r = row("", "Service", svc("LoadBalancer", json!({})));
        assert_eq!(r[3], "<pending>");
        let mut lb = svc("LoadBalancer", json!({"externalIPs": ["1.2.3.4"]}));
        lb["status"] = json!({"loadBalancer": {"ingress": [{"ip": "5.6.7.8"}, {"hostname": "lb.example.com"}]}});
        assert_eq!(row("", "Service", lb)[3], "5.6.7.8,lb.example.com,1.2.3.4");
        let en = json!({"metadata": {"name": "ext"}, "spec": {"type": "ExternalName", "externalName": "example.com"}});
        assert_eq!(
            strs(&row("", "Service", en))[1..6],
            [
                "ExternalName",
                "<none>",
                "example.com",
                "<none>",
                "<unknown>"
            ]
        );
    }

    #[test]
    fn table_simple_kinds() {
        let cm = json!({"metadata": {"name": "cfg", "creationTimestamp": ago(90)}, "data": {"a": "1", "b": "2"}, "binaryData": {"c": ""}});
        assert_eq!(
            row("", "ConfigMap", cm),
            vec![json!("cfg"), json!(3), json!("90s")]
        );
        let sec = json!({"metadata": {"name": "tok", "creationTimestamp": ago(90)}, "type": "Opaque", "data": {"k": "dg=="}});
        assert_eq!(
            row("", "Secret", sec),
            vec![json!("tok"), json!("Opaque"), json!(1), json!("90s")]
        );
        let ns = json!({"metadata": {"name": "default", "creationTimestamp": ago(400 * 86400)}, "status": {"phase": "Active"}});
        assert_eq!(
            strs(&row("", "Namespace", ns)),
            ["default", "Active", "400d"]
        );
        let sa = json!({"metadata": {"name": "default", "creationTimestamp": ago(1)}});
        assert_eq!(
            row("", "ServiceAccount", sa),
            vec![json!("default"), json!(0), json!("1s")]
        );
        let lease = json!({"metadata": {"name": "kube-scheduler", "creationTimestamp": ago(60)}, "spec": {"holderIdentity": "node-1_abc"}});
        assert_eq!(
            strs(&row("coordination.k8s.io", "Lease", lease)),
            ["kube-scheduler", "node-1_abc", "60s"]
        );
        let lr = json!({"metadata": {"name": "limits", "creationTimestamp": "2024-04-30T08:01:02.123456Z"}});
        assert_eq!(col_names("", "LimitRange"), ["Name", "Created At"]);
        assert_eq!(columns("", "LimitRange")[1]["type"], "date");
        assert_eq!(
            strs(&row("", "LimitRange", lr)),
            ["limits", "2024-04-30T08:01:02Z"]
        );
        let pdb = json!({"metadata": {"name": "web", "creationTimestamp": ago(60)}, "spec": {"minAvailable": 2}, "status": {"disruptionsAllowed": 1}});
        assert_eq!(
            row("policy", "PodDisruptionBudget", pdb),
            vec![
                json!("web"),
                json!("2"),
                json!("N/A"),
                json!(1),
                json!("60s")
            ]
        );
        let sc = json!({"metadata": {"name": "standard", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
                        "provisioner": "rancher.io/local-path", "volumeBindingMode": "WaitForFirstConsumer"});
        assert_eq!(
            row("storage.k8s.io", "StorageClass", sc),
            vec![
                json!("standard (default)"),
                json!("rancher.io/local-path"),
                json!("Delete"),
                json!("WaitForFirstConsumer"),
                json!(false),
                json!("<unknown>")
            ]
        );
        let cr = json!({"metadata": {"name": "web-5d4", "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "controller": true}]}, "revision": 2});
        assert_eq!(
            row("apps", "ControllerRevision", cr),
            vec![
                json!("web-5d4"),
                json!("statefulset.apps/web"),
                json!(2),
                json!("<unknown>")
            ]
        );
        let rq = json!({"metadata": {"name": "q"}, "status": {"hard": {"pods": "10", "limits.cpu": "2", "requests.cpu": "1"}, "used": {"pods": "3"}}});
        assert_eq!(
            strs(&row("", "ResourceQuota", rq)),
            [
                "q",
                "pods: 3/10, requests.cpu: 0/1",
                "limits.cpu: 0/2",
                "<unknown>"
            ]
        );
    }

    #[test]
    fn table_volumes() {
        let pv = json!({
            "metadata": {"name": "pv1", "creationTimestamp": ago(60)},
            "spec": {"capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteMany", "ReadWriteOnce"], "persistentVolumeReclaimPolicy": "Retain",
                     "claimRef": {"namespace": "default", "name": "data"}, "storageClassName": "standard", "volumeMode": "Filesystem"},
            "status": {"phase": "Bound"}
        });
        assert_eq!(
            strs(&row("", "PersistentVolume", pv)),
            [
                "pv1",
                "10Gi",
                "RWO,RWX",
                "Retain",
                "Bound",
                "default/data",
                "standard",
                "<unset>",
                "",
                "60s",
                "Filesystem"
            ]
        );
        let pvc = json!({
            "metadata": {"name": "data", "creationTimestamp": ago(60)},
            "spec": {"storageClassName": "standard", "resources": {"requests": {"storage": "1Gi"}}},
            "status": {"phase": "Pending"}
        });
        assert_eq!(
            strs(&row("", "PersistentVolumeClaim", pvc)),
            ["data", "Pending", "", "", "", "standard", "<unset>", "60s", "<unset>"]
        );
    }

    #[test]
    fn table_events_both_groups() {
        assert_eq!(
            col_names("", "Event"),
            [
                "Last Seen",
                "Type",
                "Reason",
                "Object",
                "Subobject",
                "Source",
                "Message",
                "First Seen",
                "Count",
                "Name"
            ]
        );
        let e = json!({
            "metadata": {"name": "web-1.17a", "namespace": "default"},
            "involvedObject": {"kind": "Pod", "name": "web-1", "fieldPath": "spec.containers{nginx}"},
            "reason": "Pulled", "type": "Normal", "message": "Container image pulled \n",
            "source": {"component": "kubelet", "host": "node-1"},
            "firstTimestamp": ago(600), "lastTimestamp": ago(30), "count": 4
        });
        assert_eq!(
            row("", "Event", e),
            vec![
                json!("30s"),
                json!("Normal"),
                json!("Pulled"),
                json!("pod/web-1"),
                json!("spec.containers{nginx}"),
                json!("kubelet, node-1"),
                json!("Container image pulled"),
                json!("10m"),
                json!(4),
                json!("web-1.17a")
            ]
        );
        let e2 = json!({
            "metadata": {"name": "x"},
            "regarding": {"kind": "Deployment", "name": "web"},
            "reason": "ScalingReplicaSet", "type": "Normal", "note": "Scaled up",
            "eventTime": "2024-05-01T11:59:00.000000Z", "reportingController": "deployment-controller"
        });
        assert_eq!(
            strs(&row("events.k8s.io", "Event", e2)),
            [
                "60s",
                "Normal",
                "ScalingReplicaSet",
                "deployment/web",
                "",
                "deployment-controller",
                "Scaled up",
                "60s",
                "1",
                "x"
            ]
        );
    }

    #[test]
    fn table_endpoints_and_slices() {
        let ep = json!({"metadata": {"name": "web"}, "subsets": [{"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}, {"ip": "fd00::3"}, {"ip": "10.0.0.4"}],
                                                          "ports": [{"port": 80}]}]});
        assert_eq!(
            row("", "Endpoints", ep)[1],
            "10.0.0.1:80,10.0.0.2:80,[fd00::3]:80 + 1 more..."
        );
        assert_eq!(
            row("", "Endpoints", json!({"metadata": {"name": "x"}}))[1],
            "<none>"
        );
        let es = json!({"metadata": {"name": "web-abc"}, "addressType": "IPv4", "ports": [{"port": 80}, {"name": "dns"}],
                        "endpoints": [{"addresses": ["10.0.0.1"]}, {"addresses": ["10.0.0.2"]}]});
        assert_eq!(
            strs(&row("discovery.k8s.io", "EndpointSlice", es)),
            [
                "web-abc",
                "IPv4",
                "80,dns",
                "10.0.0.1,10.0.0.2",
                "<unknown>"
            ]
        );
        let empty = json!({"metadata": {"name": "e"}, "addressType": "IPv4"});
        assert_eq!(
            strs(&row("discovery.k8s.io", "EndpointSlice", empty))[2..4],
            ["<unset>", "<unset>"]
        );
    }

    #[test]
    fn table_hpa_targets() {
        let h = json!({
            "metadata": {"name": "web"},
            "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "minReplicas": 1, "maxReplicas": 5,
                     "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}},
                                 {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "100Mi"}}},
                                 {"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {"type": "AverageValue", "averageValue": "10"}}}]},
            "status": {"currentReplicas": 2, "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 20}}}]}
        });
        assert_eq!(
            row("autoscaling", "HorizontalPodAutoscaler", h),
            vec![
                json!("web"),
                json!("Deployment/web"),
                json!("cpu: 20%/50%, memory: <unknown>/100Mi + 1 more..."),
                json!("1"),
                json!(5),
                json!(2),
                json!("<unknown>")
            ]
        );
    }

    #[test]
    fn table_unknown_kind_uses_default_convertor() {
        let r = row("example.com", "Widget", json!({"metadata": {"name": "w"}}));
        assert_eq!(strs(&r), ["w", "0001-01-01T00:00:00Z"]);
        let r = row("", "Pod", json!({}));
        assert_eq!(
            strs(&r),
            [
                "",
                "0/0",
                "",
                "0",
                "<unknown>",
                "<none>",
                "<none>",
                "<none>",
                "<none>"
            ]
        );
    }

    #[test]
    fn quantities_print_canonically() {
        assert_eq!(quantity(Some(&serde_json::json!("1024Mi"))).as_deref(), Some("1Gi"));
        assert_eq!(quantity(Some(&serde_json::json!("500m"))).as_deref(), Some("500m"));
        assert_eq!(quantity(Some(&serde_json::json!(2))).as_deref(), Some("2"));
        assert_eq!(quantity(Some(&serde_json::json!("bogus"))).as_deref(), Some("bogus"), "unparsable text is shown as written");
        assert_eq!(quantity(None), None);
    }
}
