//! The `process` runtime: each container is a host process started by a shim (see
//! `shim.rs`), in the pod's network namespace, with its own UTS and mount namespaces and
//! a cgroup with the container's limits, where the host allows each of those.
//!
//! On disk, under `<agent data dir>/pods/<pod uid>/`:
//! `sandbox.json` (the pod's IP), `containers/<name>-<attempt>/` (shim state),
//! `logs/<name>/<attempt>.log` (CRI logs), `volumes/` (the pod's volumes).

use std::fs;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::cgroup::Cgroups;
use super::network::{self, Cidr, Network};
use super::shim::{self, ExitRecord, ShimConfig, StartRecord};
use super::{ContainerId, ContainerSpec, ContainerState, Runtime, Sandbox, SandboxSpec};

pub struct ProcessRuntime {
    root: PathBuf,
    exe: PathBuf,
    cgroups: Option<Cgroups>,
    cgroup_base: PathBuf,
    namespaces: bool,
    network: Option<Network>,
    host_ip: String,
}

/// What the host allows; each missing right is reported at start.
pub struct Isolation {
    pub namespaces: Result<(), String>,
    pub cgroups: Result<Cgroups, String>,
}

impl Isolation {
    pub fn detect() -> Isolation {
        let namespaces = if unsafe { libc::geteuid() } != 0 {
            Err("not running as root".to_string())
        } else {
            let probe = format!("skiff-probe-{}", std::process::id());
            network::netns_add(&probe).map(|()| network::netns_del(&probe)).map_err(|e| format!("cannot create network namespaces ({e})"))
        };
        Isolation { namespaces, cgroups: Cgroups::detect() }
    }
}

#[derive(Serialize, Deserialize)]
struct SandboxRecord {
    ip: String,
    netns: Option<String>,
}

impl ProcessRuntime {
    /// `agent_id` names this agent's bridge and cgroups so several agents share a host.
    pub fn new(data_dir: &Path, agent_id: &str, isolation: &Isolation, pod_cidr: Option<Cidr>) -> Result<ProcessRuntime, String> {
        let root = data_dir.join("pods");
        fs::create_dir_all(&root).map_err(|e| format!("creating {}: {e}", root.display()))?;
        let exe = std::env::current_exe().map_err(|e| format!("finding the skiff binary: {e}"))?;
        let namespaces = isolation.namespaces.is_ok();
        let network = match (namespaces, pod_cidr) {
            (true, Some(cidr)) => Some(Network::setup(&bridge_name(agent_id), cidr, data_dir)?),
            _ => None,
        };
        Ok(ProcessRuntime {
            root,
            exe,
            cgroups: isolation.cgroups.clone().ok(),
            cgroup_base: PathBuf::from("skiff").join(agent_id),
            namespaces,
            network,
            host_ip: network::host_ip().to_string(),
        })
    }

    fn container_dir(&self, id: &ContainerId) -> PathBuf {
        self.pod_dir(&id.pod_uid).join("containers").join(format!("{}-{}", id.name, id.attempt))
    }

    fn cgroup_rel(&self, id: &ContainerId) -> PathBuf {
        self.cgroup_base.join(&id.pod_uid).join(format!("{}-{}", id.name, id.attempt))
    }

    fn shim_pid(&self, id: &ContainerId) -> Option<i32> {
        let pid: i32 = fs::read_to_string(self.container_dir(id).join("shim.pid")).ok()?.trim().parse().ok()?;
        let cmdline = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        // The pid may have been reused by an unrelated process after the shim ended.
        let dir = self.container_dir(id);
        let ours = String::from_utf8_lossy(&cmdline).contains(&*dir.to_string_lossy());
        ours.then_some(pid)
    }

    fn started(&self, id: &ContainerId) -> Option<StartRecord> {
        serde_json::from_slice(&fs::read(self.container_dir(id).join("state.json")).ok()?).ok()
    }

    /// Removes, newest first, what the shims created on the host for mount targets.
    fn remove_created_targets(&self, uid: &str) {
        let Ok(entries) = fs::read_dir(self.pod_dir(uid).join("containers")) else { return };
        for e in entries.flatten() {
            let created: Vec<PathBuf> = fs::read(e.path().join(shim::CREATED)).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
            for p in created.iter().rev() {
                match fs::symlink_metadata(p) {
                    Ok(m) if m.is_dir() => {
                        let _ = fs::remove_dir(p); // only if empty: it may be shared
                    }
                    Ok(m) if m.is_symlink() || m.len() == 0 => {
                        let _ = fs::remove_file(p);
                    }
                    _ => {}
                }
            }
        }
    }

    /// Describes the isolation in effect, for the agent's start-up message.
    pub fn describe(&self) -> String {
        format!(
            "network namespaces: {}, cgroups: {}",
            match &self.network {
                Some(n) => format!("on (bridge {}, {})", n.bridge, n.cidr),
                None => "off (pods use the host network)".to_string(),
            },
            match &self.cgroups {
                Some(Cgroups::V2) => "v2",
                Some(Cgroups::V1) => "v1",
                None => "off (no limits enforced)",
            }
        )
    }

    /// Stops every pod this agent ran and removes its bridge (`skiff reset`).
    pub fn reset(&self) {
        for uid in self.pods() {
            self.remove_sandbox(&uid);
        }
        if let Some(net) = &self.network {
            Network::teardown(&net.bridge, Some(net.cidr));
        }
        if let Some(cg) = &self.cgroups {
            cg.remove(&self.cgroup_base);
        }
    }
}

/// Linux interface names are at most 15 bytes.
fn bridge_name(agent_id: &str) -> String {
    format!("skb{}", &agent_id[..agent_id.len().min(10)])
}

fn veth_name(uid: &str) -> String {
    let hex: String = uid.chars().filter(|c| c.is_ascii_hexdigit()).take(12).collect();
    format!("skv{hex}")
}

fn netns_name(uid: &str) -> String {
    format!("skiff-{uid}")
}

fn read_prefix(path: &Path, max: usize) -> Option<String> {
    let bytes = fs::read(path).ok()?;
    Some(String::from_utf8_lossy(&bytes[..bytes.len().min(max)]).to_string())
}

/// Unmounts whatever the agent mounted under `dir` (memory-backed emptyDirs) so that
/// removing the directory cannot reach through a mount.
fn unmount_below(dir: &Path) {
    let Ok(info) = fs::read_to_string("/proc/self/mountinfo") else { return };
    let prefix = dir.to_string_lossy().to_string();
    let mut points: Vec<&str> = info.lines().filter_map(|l| l.split(' ').nth(4)).filter(|p| p.starts_with(&prefix)).collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in points {
        if let Ok(c) = std::ffi::CString::new(p) {
            unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
        }
    }
}

impl Runtime for ProcessRuntime {
    fn run_sandbox(&self, spec: &SandboxSpec) -> Result<Sandbox, String> {
        let dir = self.pod_dir(&spec.uid);
        let record_path = dir.join("sandbox.json");
        if let Some(rec) = fs::read(&record_path).ok().and_then(|b| serde_json::from_slice::<SandboxRecord>(&b).ok()) {
            return Ok(Sandbox { ip: rec.ip });
        }
        fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        let record = match &self.network {
            Some(net) if !spec.host_network => {
                let ip = net.ipam.allocate(&spec.uid).ok_or_else(|| format!("no free address left in {}", net.cidr))?;
                let ns = netns_name(&spec.uid);
                let made = network::netns_add(&ns).and_then(|()| net.attach(&ns, &veth_name(&spec.uid), ip));
                if let Err(e) = made {
                    network::netns_del(&ns);
                    net.ipam.release(&spec.uid);
                    return Err(format!("failed to set up the pod network: {e}"));
                }
                SandboxRecord { ip: ip.to_string(), netns: Some(ns) }
            }
            _ => SandboxRecord { ip: self.host_ip.clone(), netns: None },
        };
        let bytes = serde_json::to_vec(&record).map_err(|e| e.to_string())?;
        fs::write(&record_path, bytes).map_err(|e| format!("writing {}: {e}", record_path.display()))?;
        Ok(Sandbox { ip: record.ip })
    }

    fn pod_dir(&self, uid: &str) -> PathBuf {
        self.root.join(uid)
    }

    fn stop_sandbox(&self, pod_uid: &str) {
        for id in self.containers(pod_uid) {
            self.signal(&id, libc::SIGKILL);
        }
        // Give killed processes a moment to go, so their cgroups can be removed.
        for _ in 0..50 {
            if self.containers(pod_uid).iter().all(|id| self.shim_pid(id).is_none()) {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        if let Some(cg) = &self.cgroups {
            cg.remove(&self.cgroup_base.join(pod_uid));
        }
        network::netns_del(&netns_name(pod_uid));
        if let Some(net) = &self.network {
            net.ipam.release(pod_uid);
        }
    }

    fn remove_sandbox(&self, pod_uid: &str) {
        self.stop_sandbox(pod_uid);
        self.remove_created_targets(pod_uid);
        let dir = self.pod_dir(pod_uid);
        unmount_below(&dir);
        let _ = fs::remove_dir_all(&dir);
    }

    fn start_container(&self, id: &ContainerId, spec: &ContainerSpec) -> Result<(), String> {
        let dir = self.container_dir(id);
        let _ = fs::remove_dir_all(&dir); // a failed earlier try of the same attempt
        fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        let cgroups = match &self.cgroups {
            Some(cg) => cg.create(&self.cgroup_rel(id), &spec.limits).map_err(|e| format!("creating the container's cgroup: {e}"))?,
            None => Vec::new(),
        };
        let netns = fs::read(self.pod_dir(&id.pod_uid).join("sandbox.json"))
            .ok()
            .and_then(|b| serde_json::from_slice::<SandboxRecord>(&b).ok())
            .and_then(|r| r.netns)
            .map(|n| network::netns_path(&n));
        let mut mounts = spec.mounts.clone();
        if let (Some(target), true) = (&spec.termination_message_path, self.namespaces) {
            // As kubelet does: a host file of the container's, mounted where it writes.
            let source = dir.join("termination-log");
            fs::write(&source, b"").map_err(|e| e.to_string())?;
            mounts.push(super::BindMount { source, target: target.clone(), read_only: false });
        }
        let config = ShimConfig {
            argv: spec.argv.clone(),
            env: spec.env.clone(),
            working_dir: spec.working_dir.clone(),
            netns,
            hostname: spec.hostname.clone().filter(|_| self.namespaces),
            mounts,
            link_mounts: !self.namespaces,
            cgroups,
            log: self.log_path(id),
        };
        fs::write(dir.join("config.json"), serde_json::to_vec(&config).map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
        let shim_log = fs::File::create(dir.join("shim.log")).map_err(|e| e.to_string())?;
        let mut cmd = Command::new(&self.exe);
        // No pre_exec here: without one std spawns with posix_spawn (vfork), not fork,
        // which would copy the page tables of this whole process for every container.
        // The shim leaves the agent's session itself.
        cmd.arg("container-shim").arg(&dir).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(shim_log);
        let mut child = cmd.spawn().map_err(|e| format!("starting the container shim: {e}"))?;
        let mut line = String::new();
        if let Some(out) = child.stdout.take() {
            let _ = BufReader::new(out).read_line(&mut line);
        }
        // The shim forks and its first process ends at once; reap it here.
        let _ = child.wait();
        match line.trim().strip_prefix("started ") {
            Some(pid) => {
                fs::write(dir.join("shim.pid"), pid).map_err(|e| e.to_string())?;
                Ok(())
            }
            None => Err(line.trim().strip_prefix("error: ").unwrap_or("the container shim ended without a word").to_string()),
        }
    }

    fn state(&self, id: &ContainerId) -> ContainerState {
        let dir = self.container_dir(id);
        if let Some(exit) = fs::read(dir.join("exit.json")).ok().and_then(|b| serde_json::from_slice::<ExitRecord>(&b).ok()) {
            let oom_file = dir.join("oom");
            let oom_killed = match (&self.cgroups, fs::read_to_string(&oom_file)) {
                (_, Ok(s)) => s == "1",
                (Some(cg), Err(_)) => {
                    // Read once, then the attempt's cgroup can go.
                    let oom = exit.signal == Some(libc::SIGKILL) && cg.oom_killed(&self.cgroup_rel(id));
                    let _ = fs::write(&oom_file, if oom { "1" } else { "0" });
                    cg.remove(&self.cgroup_rel(id));
                    oom
                }
                (None, Err(_)) => false,
            };
            return ContainerState::Exited {
                exit_code: exit.exit_code,
                signal: exit.signal,
                oom_killed,
                started_at: self.started(id).map(|s| s.started_at),
                finished_at: exit.finished_at,
                start_error: exit.start_error,
                termination_message: read_prefix(&dir.join("termination-log"), 4096).filter(|m| !m.is_empty()),
            };
        }
        match (self.started(id), self.shim_pid(id)) {
            (Some(s), Some(_)) => ContainerState::Running { pid: s.pid, started_at: s.started_at },
            _ => ContainerState::Unknown,
        }
    }

    async fn wait(&self, id: &ContainerId) -> ContainerState {
        if let Some(pid) = self.shim_pid(id) {
            let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
            if fd >= 0 {
                let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
                // SAFETY: the descriptor is ours and stays open as long as the AsyncFd.
                if let Ok(afd) = unsafe { tokio::io::unix::AsyncFd::register(fd) } {
                    let _ = afd.readable().await;
                }
            }
            // Without pidfds, poll.
            while self.shim_pid(id).is_some() {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        self.state(id)
    }

    fn signal(&self, id: &ContainerId, signal: i32) {
        if let ContainerState::Running { pid, .. } = self.state(id) {
            unsafe { libc::kill(-pid, signal) };
            if let Some(cg) = &self.cgroups {
                for p in cg.pids(&self.cgroup_rel(id)) {
                    unsafe { libc::kill(p, signal) };
                }
            }
        }
    }

    fn exec_command(&self, id: &ContainerId, argv: &[String]) -> Result<Command, String> {
        let ContainerState::Running { pid, .. } = self.state(id) else {
            return Err(format!("container {} is not running", id.name));
        };
        let program = argv.first().ok_or("no command given")?;
        let config: ShimConfig = fs::read(self.container_dir(id).join("config.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or("the container's configuration is missing")?;
        let mut cmd = Command::new(program);
        cmd.args(&argv[1..]).env_clear().envs(config.env.iter().map(|(k, v)| (k, v)));
        let open = |p: String| fs::File::open(&p).map_err(|e| format!("opening {p}: {e}"));
        let mut namespaces = Vec::new();
        if self.namespaces {
            for (ns, flag) in [("net", libc::CLONE_NEWNET), ("uts", libc::CLONE_NEWUTS), ("mnt", libc::CLONE_NEWNS)] {
                namespaces.push((open(format!("/proc/{pid}/ns/{ns}"))?, flag));
            }
        }
        let procs: Vec<fs::File> = config
            .cgroups
            .iter()
            .filter_map(|d| fs::OpenOptions::new().write(true).open(d.join("cgroup.procs")).ok())
            .collect();
        let cwd = config.working_dir.and_then(|w| std::ffi::CString::new(w).ok());
        // SAFETY: only raw syscalls on descriptors opened above between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                use std::os::fd::AsRawFd;
                for mut f in &procs {
                    f.write_all(b"0")?;
                }
                for (f, flag) in &namespaces {
                    if libc::setns(f.as_raw_fd(), *flag) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                if let Some(c) = &cwd {
                    libc::chdir(c.as_ptr());
                }
                Ok(())
            });
        }
        Ok(cmd)
    }

    fn usage(&self, id: &ContainerId) -> Option<(u64, u64)> {
        self.cgroups.as_ref()?.usage(&self.cgroup_rel(id))
    }

    fn log_path(&self, id: &ContainerId) -> PathBuf {
        self.pod_dir(&id.pod_uid).join("logs").join(&id.name).join(format!("{}.log", id.attempt))
    }

    fn pods(&self) -> Vec<String> {
        let Ok(entries) = fs::read_dir(&self.root) else { return Vec::new() };
        entries.flatten().filter(|e| e.path().is_dir()).map(|e| e.file_name().to_string_lossy().to_string()).collect()
    }

    fn containers(&self, pod_uid: &str) -> Vec<ContainerId> {
        let Ok(entries) = fs::read_dir(self.pod_dir(pod_uid).join("containers")) else { return Vec::new() };
        let mut out: Vec<ContainerId> = entries
            .flatten()
            .filter_map(|e| {
                let n = e.file_name().to_string_lossy().to_string();
                let (name, attempt) = n.rsplit_once('-')?;
                Some(ContainerId { pod_uid: pod_uid.to_string(), name: name.to_string(), attempt: attempt.parse().ok()? })
            })
            .collect();
        out.sort_by(|a, b| (&a.name, a.attempt).cmp(&(&b.name, b.attempt)));
        out
    }
}
