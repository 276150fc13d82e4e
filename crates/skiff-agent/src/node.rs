//! The agent's Node: registration with capacity, labels and addresses, the heartbeat
//! Lease in kube-node-lease (renewed every 10 s), and node status (Ready) kept fresh.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Node;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;

pub const LEASE_DURATION_SECONDS: i32 = 40;
const LEASE_RENEW: Duration = Duration::from_secs(10);
const STATUS_REPORT: Duration = Duration::from_secs(60);
pub const KUBELET_VERSION: &str = "v1.33.0";

#[derive(Clone)]
pub struct NodeSpec {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub capacity: BTreeMap<String, Quantity>,
    pub internal_ip: String,
    pub kubelet_port: u16,
}

/// What the host has: CPUs, memory, disk under the data dir, and kubelet's default of 110 pods.
pub fn host_capacity(data_dir: &std::path::Path) -> BTreeMap<String, Quantity> {
    let mut cap = BTreeMap::new();
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    cap.insert("cpu".to_string(), Quantity(cpus.to_string()));
    let mem_kib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| t.lines().find_map(|l| l.strip_prefix("MemTotal:").map(|v| v.trim().trim_end_matches("kB").trim().to_string())))
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    cap.insert("memory".to_string(), Quantity(format!("{mem_kib}Ki")));
    if let Ok(st) = nix::sys::statvfs::statvfs(data_dir) {
        let bytes = st.blocks() as u64 * st.fragment_size() as u64;
        cap.insert("ephemeral-storage".to_string(), Quantity(format!("{}Ki", bytes / 1024)));
    }
    cap.insert("pods".to_string(), Quantity("110".to_string()));
    cap
}

/// kubernetes.io/arch uses Go's names.
pub fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

pub fn default_labels(name: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("kubernetes.io/hostname".to_string(), name.to_string()),
        ("kubernetes.io/os".to_string(), "linux".to_string()),
        ("kubernetes.io/arch".to_string(), go_arch().to_string()),
        ("beta.kubernetes.io/os".to_string(), "linux".to_string()),
        ("beta.kubernetes.io/arch".to_string(), go_arch().to_string()),
    ])
}

fn read_trimmed(path: &str) -> String {
    std::fs::read_to_string(path).map(|s| s.trim().to_string()).unwrap_or_default()
}

fn os_image() -> String {
    let text = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_else(|| "Linux".to_string())
}

pub fn now() -> String {
    jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The status the agent reports: capacity, Ready and the pressure conditions, addresses,
/// the kubelet endpoint and node info.
pub fn status(spec: &NodeSpec, transition: &str) -> serde_json::Value {
    let now = now();
    let cond = |type_: &str, status: &str, reason: &str, message: &str| {
        json!({"type": type_, "status": status, "reason": reason, "message": message,
               "lastHeartbeatTime": now, "lastTransitionTime": transition})
    };
    json!({
        "capacity": spec.capacity,
        "allocatable": spec.capacity,
        "conditions": [
            cond("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
            cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
            cond("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
            cond("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
        ],
        "addresses": [
            {"type": "InternalIP", "address": spec.internal_ip},
            {"type": "Hostname", "address": spec.name},
        ],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": spec.kubelet_port}},
        "nodeInfo": {
            "machineID": read_trimmed("/etc/machine-id"),
            "systemUUID": read_trimmed("/sys/class/dmi/id/product_uuid"),
            "bootID": read_trimmed("/proc/sys/kernel/random/boot_id"),
            "kernelVersion": read_trimmed("/proc/sys/kernel/osrelease"),
            "osImage": os_image(),
            "containerRuntimeVersion": format!("process://{}", env!("CARGO_PKG_VERSION")),
            "kubeletVersion": KUBELET_VERSION,
            "kubeProxyVersion": "",
            "operatingSystem": "linux",
            "architecture": go_arch(),
        },
    })
}

/// Creates the Node, or takes over an existing one (an agent restart, or a node that
/// rejoins): labels are merged in and the status replaced.
pub async fn register(client: &kube::Client, spec: &NodeSpec) -> Result<Node, kube::Error> {
    let nodes: Api<Node> = Api::all(client.clone());
    let node: Node = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": spec.name, "labels": spec.labels},
    }))
    .map_err(kube::Error::SerdeError)?;
    match nodes.create(&PostParams::default(), &node).await {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 409 => {
            nodes.patch(&spec.name, &PatchParams::default(), &Patch::Merge(json!({"metadata": {"labels": spec.labels}}))).await?;
        }
        Err(e) => return Err(e),
    }
    report_status(client, spec).await
}

pub async fn report_status(client: &kube::Client, spec: &NodeSpec) -> Result<Node, kube::Error> {
    let nodes: Api<Node> = Api::all(client.clone());
    let st = status(spec, &now());
    nodes.patch_status(&spec.name, &PatchParams::default(), &Patch::Merge(json!({"status": st}))).await
}

/// Waits until the node has a podCIDR (assigned by the node IPAM controller).
pub async fn wait_for_pod_cidr(client: &kube::Client, name: &str, timeout: Duration) -> Option<String> {
    let nodes: Api<Node> = Api::all(client.clone());
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Ok(n) = nodes.get(name).await {
            if let Some(cidr) = n.spec.and_then(|s| s.pod_cidr) {
                return Some(cidr);
            }
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Renews the Lease every 10 s and reports node status every minute, forever.
pub async fn heartbeat(client: kube::Client, spec: NodeSpec) {
    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-node-lease");
    let nodes: Api<Node> = Api::all(client.clone());
    let ready_since = now();
    let mut last_status = tokio::time::Instant::now();
    loop {
        if let Err(e) = renew_lease(&leases, &nodes, &spec.name).await {
            tracing::warn!("renewing the node lease: {e}");
        }
        if last_status.elapsed() >= STATUS_REPORT {
            let st = status(&spec, &ready_since);
            match nodes.patch_status(&spec.name, &PatchParams::default(), &Patch::Merge(json!({"status": st}))).await {
                Ok(_) => last_status = tokio::time::Instant::now(),
                Err(e) => tracing::warn!("updating node status: {e}"),
            }
        }
        tokio::time::sleep(LEASE_RENEW).await;
    }
}

/// Renews the node's Lease, creating it (owned by the Node) when missing.
pub async fn renew_lease(leases: &Api<Lease>, nodes: &Api<Node>, name: &str) -> Result<(), kube::Error> {
    let now = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
    let renew = json!({"spec": {"holderIdentity": name, "leaseDurationSeconds": LEASE_DURATION_SECONDS, "renewTime": now}});
    match leases.patch(name, &PatchParams::default(), &Patch::Merge(renew)).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => {
            let uid = nodes.get(name).await?.metadata.uid;
            let lease: Lease = serde_json::from_value(json!({
                "metadata": {"name": name, "namespace": "kube-node-lease",
                    "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": name, "uid": uid}]},
                "spec": {"holderIdentity": name, "leaseDurationSeconds": LEASE_DURATION_SECONDS, "renewTime": now},
            }))
            .map_err(kube::Error::SerdeError)?;
            leases.create(&PostParams::default(), &lease).await.map(|_| ())
        }
        Err(e) => Err(e),
    }
}
