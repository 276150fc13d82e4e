//! skiff-agent: the kubelet of skiff. It registers a Node, renews the node's Lease, runs
//! every pod bound to the node through a [`runtime::Runtime`], and reports pod status.
//! It talks to nothing but the API server.

pub mod backend;
pub mod backoff;
pub mod env;
pub mod events;
pub mod exec;
pub mod logs;
pub mod node;
pub mod podvolumes;
pub mod pods;
pub mod probe;
pub mod provisioner;
pub mod runtime;
pub mod server;
pub mod simulate;
pub mod stats;
pub mod status;
pub mod volumes;
pub mod worker;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

pub use k8s_openapi::apimachinery::pkg::api::resource::Quantity as K8sQuantity;
use runtime::network::{self, Cidr};
use runtime::process::{Isolation, ProcessRuntime};

/// How to run this node.
pub struct Config {
    pub node_name: String,
    pub data_dir: PathBuf,
    /// Added to the standard kubernetes.io labels.
    pub labels: BTreeMap<String, String>,
    /// Replaces the host's figures for the resources given.
    pub capacity: BTreeMap<String, Quantity>,
}

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("registering node {node}: {source}")]
    Register { node: String, source: kube::Error },
    #[error("{0}")]
    Setup(String),
}

/// What pod workers share.
pub struct Ctx<R> {
    pub client: kube::Client,
    pub runtime: Arc<R>,
    pub node_name: String,
    pub host_ip: String,
    /// For resourceFieldRef to a limit the container does not set.
    pub allocatable: BTreeMap<String, Quantity>,
    pub recorder: events::Recorder,
    /// Whether the agent may mount (memory-backed emptyDirs).
    pub may_mount: bool,
}

/// A short stable name for this agent on this host (its data dir), used for the
/// bridge and cgroups so that several agents on one host never clash.
pub fn agent_id(data_dir: &std::path::Path) -> String {
    let path = data_dir.canonicalize().unwrap_or_else(|_| data_dir.to_path_buf());
    let mut h: u64 = 0xcbf29ce484222325;
    for b in path.as_os_str().as_encoded_bytes() {
        h = (h ^ *b as u64).wrapping_mul(0x100000001b3);
    }
    format!("{:08x}", h as u32)
}

/// Runs the node until the process ends. Pods keep running when the agent stops.
pub async fn run(kube_config: kube::Config, config: Config) -> Result<(), AgentError> {
    let client_ca = kube_config.root_cert.clone().unwrap_or_default();
    let client = kube::Client::try_from(kube_config).map_err(|e| AgentError::Setup(format!("API client: {e}")))?;
    std::fs::create_dir_all(&config.data_dir).map_err(|e| AgentError::Setup(format!("creating {}: {e}", config.data_dir.display())))?;
    let isolation = Isolation::detect();
    if let Err(why) = &isolation.namespaces {
        eprintln!("note: {why}: pods share the host's network and mounts (no pod IPs of their own; volumes are linked into place)");
    }
    if let Err(why) = &isolation.cgroups {
        eprintln!("note: {why}: container CPU and memory limits are not enforced");
    }
    let mut capacity = node::host_capacity(&config.data_dir);
    capacity.extend(config.capacity.clone());
    let mut labels = node::default_labels(&config.node_name);
    labels.extend(config.labels.clone());
    let mut spec = node::NodeSpec {
        name: config.node_name.clone(),
        labels,
        capacity,
        internal_ip: network::host_ip().to_string(),
        kubelet_port: 0,
    };
    node::register(&client, &spec).await.map_err(|source| AgentError::Register { node: config.node_name.clone(), source })?;

    let pod_cidr = if isolation.namespaces.is_ok() {
        match node::wait_for_pod_cidr(&client, &config.node_name, Duration::from_secs(30)).await {
            Some(c) => Cidr::parse(&c),
            None => {
                eprintln!("note: node {} got no podCIDR (is the node IPAM controller running?): pods use the host network", config.node_name);
                None
            }
        }
    } else {
        None
    };
    let rt = ProcessRuntime::new(&config.data_dir, &agent_id(&config.data_dir), &isolation, pod_cidr).map_err(AgentError::Setup)?;
    tracing::info!("node {}: {}", config.node_name, rt.describe());
    let rt = Arc::new(rt);
    let index: pods::PodIndex = Default::default();
    let backend = Arc::new(backend::NodeBackend { runtime: rt.clone(), index: index.clone() });
    // The node was registered before the runtime could exist (it needs the podCIDR);
    // now that the kubelet API serves, publish its port.
    spec.kubelet_port = server::start(&config.data_dir, client_ca, backend).await.map_err(|e| AgentError::Setup(format!("kubelet API: {e}")))?;
    node::report_status(&client, &spec).await.map_err(|source| AgentError::Register { node: config.node_name.clone(), source })?;
    let ctx = Arc::new(Ctx {
        client: client.clone(),
        runtime: rt,
        node_name: config.node_name.clone(),
        host_ip: spec.internal_ip.clone(),
        allocatable: spec.capacity.clone(),
        recorder: events::Recorder::new(client.clone(), &config.node_name),
        may_mount: isolation.namespaces.is_ok(),
    });
    tokio::spawn(node::heartbeat(client.clone(), spec));
    let served = provisioner::Nodes { names: Arc::new([config.node_name.clone()].into()), volumes_dir: Some(config.data_dir.join("volumes")) };
    tokio::spawn(provisioner::run(client.clone(), served));
    pods::manage(ctx, index).await;
    Ok(())
}

/// Stops every pod an agent with this data dir ran and removes its network and
/// cgroups (`skiff reset`): what `kubeadm reset` is to a kubelet.
pub fn reset(data_dir: &std::path::Path) -> Result<(), AgentError> {
    let isolation = Isolation::detect();
    let cidr = network::saved_cidr(data_dir);
    let rt = ProcessRuntime::new(data_dir, &agent_id(data_dir), &isolation, cidr).map_err(AgentError::Setup)?;
    rt.reset();
    Ok(())
}
