//! Container runtimes: what the pod workers ask of whatever runs containers. The
//! `process` runtime runs each container's command as host processes, isolated with
//! namespaces and cgroups where the host allows it.

pub mod cgroup;
pub mod network;
pub mod process;
pub mod shim;

use std::path::PathBuf;
use std::process::Command;

pub use cgroup::Limits;
pub use shim::BindMount;

/// Identifies one run ("attempt") of one container of one pod.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ContainerId {
    pub pod_uid: String,
    pub name: String,
    pub attempt: u32,
}

impl std::fmt::Display for ContainerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}-{}", self.pod_uid, self.name, self.attempt)
    }
}

/// The pod-level environment every container of a pod shares.
#[derive(Clone, Debug)]
pub struct SandboxSpec {
    pub uid: String,
    /// hostNetwork pods use the node's network and address.
    pub host_network: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Sandbox {
    pub ip: String,
}

#[derive(Clone, Debug, Default)]
pub struct ContainerSpec {
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    pub working_dir: Option<String>,
    pub mounts: Vec<BindMount>,
    /// None keeps the node's hostname (hostNetwork pods).
    pub hostname: Option<String>,
    pub limits: Limits,
    /// Where the container may write its termination message (terminationMessagePath).
    pub termination_message_path: Option<PathBuf>,
}

/// What the runtime knows of a container run.
#[derive(Clone, Debug, PartialEq)]
pub enum ContainerState {
    Running { pid: i32, started_at: String },
    Exited {
        exit_code: i32,
        signal: Option<i32>,
        oom_killed: bool,
        started_at: Option<String>,
        finished_at: String,
        start_error: Option<String>,
        /// What the container wrote to its terminationMessagePath (at most 4 KiB).
        termination_message: Option<String>,
    },
    /// Gone without a record (the agent's data was removed, or the host rebooted).
    Unknown,
}

pub trait Runtime: Send + Sync + 'static {
    /// Prepares the pod's network (and returns its IP); idempotent across agent restarts.
    fn run_sandbox(&self, spec: &SandboxSpec) -> Result<Sandbox, String>;
    /// Stops the pod's processes and releases its network, keeping its logs and volumes
    /// (a pod that ran to completion).
    fn stop_sandbox(&self, pod_uid: &str);
    /// Removes everything the pod had on the host: processes, mounts, network, files.
    fn remove_sandbox(&self, pod_uid: &str);
    /// Where the pod's files (volumes among them) live on the host.
    fn pod_dir(&self, pod_uid: &str) -> PathBuf;
    /// Starts a container; Err is the reason it could not start (e.g. exec failed).
    fn start_container(&self, id: &ContainerId, spec: &ContainerSpec) -> Result<(), String>;
    fn state(&self, id: &ContainerId) -> ContainerState;
    /// Resolves once the container has exited.
    fn wait(&self, id: &ContainerId) -> impl std::future::Future<Output = ContainerState> + Send;
    /// Sends `signal` to every process of the container.
    fn signal(&self, id: &ContainerId, signal: i32);
    /// A command that runs inside the container's namespaces, cgroup and environment.
    fn exec_command(&self, id: &ContainerId, argv: &[String]) -> Result<Command, String>;
    /// Cumulative CPU nanoseconds and memory working set of a running container.
    fn usage(&self, id: &ContainerId) -> Option<(u64, u64)>;
    /// The CRI log file of a container run.
    fn log_path(&self, id: &ContainerId) -> PathBuf;
    /// Pod uids with state on this node (to find pods after an agent restart).
    fn pods(&self) -> Vec<String>;
    /// The container runs recorded for a pod, newest attempt last per name.
    fn containers(&self, pod_uid: &str) -> Vec<ContainerId>;
}
