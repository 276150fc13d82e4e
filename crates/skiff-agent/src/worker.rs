//! One pod worker per pod on the node (kubelet's pod worker): it keeps the pod's
//! containers running as the spec and restart policy say — init containers in order,
//! then the app containers, restarts with the crash-loop back-off, probes, hooks — and
//! reports the pod's status. When the pod is deleted it stops the containers gracefully
//! (preStop, SIGTERM, SIGKILL after the grace period), cleans up, and removes the pod.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Container, LifecycleHandler, Pod, Probe};
use kube::api::{Api, DeleteParams, Patch, PatchParams, Preconditions};
use serde_json::json;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::backoff::CrashBackoff;
use crate::podvolumes::{self, Referenced};
use crate::probe::{self, ProbeKind, ProbeOutcome, ProbeTracker};
use crate::runtime::{BindMount, ContainerId, ContainerSpec, ContainerState, Limits, Runtime, SandboxSpec};
use crate::status::{self, ContainerFacts, Exit, StateFacts};
use crate::{env, Ctx};

const RETRY: Duration = Duration::from_secs(5);
const VOLUME_REFRESH: Duration = Duration::from_secs(10);

pub enum Msg {
    Exited(ContainerId),
    Probe(ContainerId, ProbeKind, ProbeOutcome),
}

/// What the worker knows of one container (init or app).
struct Slot {
    spec: Container,
    init: bool,
    /// The latest run, if any; its attempt number is the restart count when it started.
    attempt: Option<u32>,
    restart_count: i32,
    running_since: Option<String>,
    exit: Option<Exit>,
    last_exit: Option<Exit>,
    waiting: Option<(String, String)>,
    ready: bool,
    started: bool,
    restart_at: Option<Instant>,
    trackers: BTreeMap<&'static str, ProbeTracker>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Slot {
    fn new(spec: Container, init: bool) -> Slot {
        Slot {
            spec,
            init,
            attempt: None,
            restart_count: 0,
            running_since: None,
            exit: None,
            last_exit: None,
            waiting: None,
            ready: false,
            started: false,
            restart_at: None,
            trackers: BTreeMap::new(),
            tasks: Vec::new(),
        }
    }

    fn running(&self) -> bool {
        self.running_since.is_some()
    }

    fn succeeded(&self) -> bool {
        self.exit.as_ref().is_some_and(|e| e.exit_code == 0) && !self.running()
    }

    fn stop_probes(&mut self) {
        for t in self.tasks.drain(..) {
            t.abort();
        }
        self.trackers.clear();
    }
}

pub struct Worker<R: Runtime> {
    ctx: Arc<Ctx<R>>,
    pod: Arc<Pod>,
    uid: String,
    pod_ip: Option<String>,
    volumes: Option<BTreeMap<String, PathBuf>>,
    volumes_at: Option<Instant>,
    slots: Vec<Slot>,
    backoff: CrashBackoff,
    terminal: bool,
    wake_at: Option<Instant>,
    tx: mpsc::UnboundedSender<Msg>,
    rx: mpsc::UnboundedReceiver<Msg>,
    last_report: Option<serde_json::Value>,
    start_time: String,
    /// Why the agent ended the pod itself (activeDeadlineSeconds): reason and message.
    eviction: Option<(String, String)>,
}

impl<R: Runtime> Worker<R> {
    pub fn new(ctx: Arc<Ctx<R>>, pod: Arc<Pod>) -> Worker<R> {
        let (tx, rx) = mpsc::unbounded_channel();
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let spec = pod.spec.clone().unwrap_or_default();
        let mut slots: Vec<Slot> = spec.init_containers.unwrap_or_default().into_iter().map(|c| Slot::new(c, true)).collect();
        slots.extend(spec.containers.into_iter().map(|c| Slot::new(c, false)));
        let start_time = pod
            .status
            .as_ref()
            .and_then(|s| s.start_time.as_ref())
            .map(|t| t.0.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
            .unwrap_or_else(crate::node::now);
        Worker {
            ctx,
            pod,
            uid,
            pod_ip: None,
            volumes: None,
            volumes_at: None,
            slots,
            backoff: CrashBackoff::default(),
            terminal: false,
            wake_at: None,
            tx,
            rx,
            last_report: None,
            start_time,
            eviction: None,
        }
    }

    fn ns_name(&self) -> (String, String) {
        (self.pod.metadata.namespace.clone().unwrap_or_default(), self.pod.metadata.name.clone().unwrap_or_default())
    }

    fn restart_policy(&self) -> &str {
        self.pod.spec.as_ref().and_then(|s| s.restart_policy.as_deref()).unwrap_or("Always")
    }

    fn id(&self, slot: &Slot) -> Option<ContainerId> {
        slot.attempt.map(|attempt| ContainerId { pod_uid: self.uid.clone(), name: slot.spec.name.clone(), attempt })
    }

    /// Picks up what the runtime already runs for this pod (after an agent restart).
    fn recover(&mut self) {
        let ids = self.ctx.runtime.containers(&self.uid);
        for i in 0..self.slots.len() {
            let name = self.slots[i].spec.name.clone();
            let mut attempts: Vec<&ContainerId> = ids.iter().filter(|id| id.name == name).collect();
            attempts.sort_by_key(|id| id.attempt);
            let Some(latest) = attempts.last().map(|id| (*id).clone()) else { continue };
            if let Some(prev) = attempts.len().checked_sub(2).map(|k| attempts[k].clone()) {
                self.slots[i].last_exit = exit_of(&self.ctx.runtime.state(&prev), &prev);
            }
            self.slots[i].attempt = Some(latest.attempt);
            self.slots[i].restart_count = latest.attempt as i32;
            match self.ctx.runtime.state(&latest) {
                ContainerState::Running { started_at, .. } => {
                    self.slots[i].running_since = Some(started_at);
                    self.watch_container(i, latest);
                }
                other => self.slots[i].exit = exit_of(&other, &latest),
            }
        }
    }

    pub async fn run(mut self, mut updates: watch::Receiver<Option<Arc<Pod>>>) {
        self.recover();
        loop {
            let latest = updates.borrow_and_update().clone();
            let Some(pod) = latest else {
                // Removed from the API without a graceful deletion: stop at once.
                self.stop_all(Duration::ZERO, None).await;
                self.cleanup();
                return;
            };
            self.pod = pod;
            if self.pod.metadata.deletion_timestamp.is_some() {
                self.terminate().await;
                return;
            }
            self.wake_at = None;
            self.sync().await;
            self.report().await;
            let wake = self.wake_at.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
            tokio::select! {
                changed = updates.changed() => {
                    if changed.is_err() {
                        return; // the agent is shutting down; containers keep running
                    }
                }
                Some(msg) = self.rx.recv() => {
                    self.handle(msg).await;
                    while let Ok(more) = self.rx.try_recv() {
                        self.handle(more).await;
                    }
                }
                _ = tokio::time::sleep_until(wake) => {}
            }
        }
    }

    fn wake(&mut self, at: Instant) {
        self.wake_at = Some(self.wake_at.map_or(at, |w| w.min(at)));
    }

    async fn event(&self, container: Option<&str>, warning: bool, reason: &str, message: &str) {
        self.ctx.recorder.record(&self.pod, container, warning, reason, message).await;
    }

    async fn sync(&mut self) {
        if self.terminal {
            return;
        }
        if self.past_deadline() {
            let message = "Pod was active on the node longer than the specified deadline";
            self.event(None, false, "DeadlineExceeded", message).await;
            self.eviction = Some(("DeadlineExceeded".into(), message.into()));
            self.stop_all(grace(&self.pod, None), Some("Killing")).await;
            self.finish().await;
            return;
        }
        // The pod's network.
        if self.pod_ip.is_none() {
            let spec = SandboxSpec { uid: self.uid.clone(), host_network: host_network(&self.pod) };
            let rt = self.ctx.runtime.clone();
            match tokio::task::spawn_blocking(move || rt.run_sandbox(&spec)).await {
                Ok(Ok(sb)) => self.pod_ip = Some(sb.ip),
                Ok(Err(e)) => {
                    self.event(None, true, "FailedCreatePodSandBox", &format!("Failed to create pod sandbox: {e}")).await;
                    self.wake(Instant::now() + RETRY);
                    return;
                }
                Err(e) => {
                    tracing::warn!("sandbox task: {e}");
                    self.wake(Instant::now() + RETRY);
                    return;
                }
            }
        }
        // Referenced ConfigMaps and Secrets, then volumes.
        let refs = match podvolumes::fetch(&self.ctx.client, &self.pod).await {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!("fetching config for pod {:?}: {e}", self.ns_name());
                self.wake(Instant::now() + RETRY);
                return;
            }
        };
        let refresh_due = self.volumes_at.is_none_or(|t| t.elapsed() >= VOLUME_REFRESH);
        if self.volumes.is_none() || refresh_due {
            let dir = self.ctx.runtime.pod_dir(&self.uid);
            match podvolumes::prepare(&self.ctx.client, &self.pod, &dir, &refs, &self.ctx.allocatable, self.ctx.may_mount).await {
                Ok(v) => {
                    self.volumes = Some(v);
                    self.volumes_at = Some(Instant::now());
                }
                Err(e) => {
                    // A failed refresh (the ConfigMap deleted, say) keeps the files the
                    // containers have and says why, as kubelet's remounts do.
                    self.event(None, true, "FailedMount", &e.to_string()).await;
                    if self.volumes.is_none() {
                        self.wake(Instant::now() + RETRY);
                        return;
                    }
                }
            }
        }
        if self.pod.spec.as_ref().and_then(|s| s.volumes.as_ref()).is_some_and(|vs| vs.iter().any(podvolumes::refreshes)) {
            self.wake(Instant::now() + VOLUME_REFRESH);
        }

        // Init containers, one at a time and in order.
        let policy = self.restart_policy().to_string();
        for i in 0..self.slots.len() {
            if !self.slots[i].init {
                continue;
            }
            if self.slots[i].succeeded() {
                continue;
            }
            if self.slots[i].running() {
                return;
            }
            if self.slots[i].exit.is_some() && policy == "Never" {
                self.finish().await;
                return;
            }
            self.start_when_due(i, &refs).await;
            return;
        }
        // App containers.
        for i in 0..self.slots.len() {
            if self.slots[i].init || self.slots[i].running() {
                continue;
            }
            let should_run = match &self.slots[i].exit {
                None => true,
                Some(e) => policy == "Always" || (policy == "OnFailure" && e.exit_code != 0),
            };
            if should_run {
                self.start_when_due(i, &refs).await;
            }
        }
        let done = self.slots.iter().filter(|s| !s.init).all(|s| {
            !s.running() && s.exit.as_ref().is_some_and(|e| policy == "Never" || (policy == "OnFailure" && e.exit_code == 0))
        });
        if done && policy != "Always" {
            self.finish().await;
        }
    }

    /// activeDeadlineSeconds, counted from the pod's start on this node; wakes the worker
    /// when the deadline is still ahead.
    fn past_deadline(&mut self) -> bool {
        let Some(secs) = self.pod.spec.as_ref().and_then(|s| s.active_deadline_seconds) else { return false };
        let Ok(started) = self.start_time.parse::<jiff::Timestamp>() else { return false };
        let left = started.as_second() + secs - jiff::Timestamp::now().as_second();
        if left <= 0 {
            return true;
        }
        self.wake(Instant::now() + Duration::from_secs(left as u64));
        false
    }

    /// The pod has run to completion: release its network and processes, keep its logs.
    async fn finish(&mut self) {
        self.terminal = true;
        for s in &mut self.slots {
            s.stop_probes();
            s.ready = false;
        }
        let rt = self.ctx.runtime.clone();
        let uid = self.uid.clone();
        let _ = tokio::task::spawn_blocking(move || rt.stop_sandbox(&uid)).await;
    }

    async fn start_when_due(&mut self, i: usize, refs: &Referenced) {
        if let Some(at) = self.slots[i].restart_at {
            if at > Instant::now() {
                self.wake(at);
                return;
            }
        }
        self.start(i, refs).await;
    }

    async fn start(&mut self, i: usize, refs: &Referenced) {
        let (ns, name) = self.ns_name();
        let pod_ip = self.pod_ip.clone().unwrap_or_default();
        let spec = self.slots[i].spec.clone();
        let env_sources = env::EnvSources { configmaps: &refs.configmaps, secrets: &refs.secrets };
        let vars = match env::container_env_report(&self.pod, &spec, &pod_ip, &self.ctx.host_ip, &self.ctx.node_name, &env_sources, &self.ctx.allocatable) {
            Ok(report) => {
                for w in &report.warnings {
                    self.event(Some(&spec.name), true, "InvalidEnvironmentVariableNames", w).await;
                }
                report.vars
            }
            Err(e) => {
                let msg = e.to_string();
                if self.slots[i].waiting.as_ref().map(|w| &w.1) != Some(&msg) {
                    self.event(Some(&spec.name), true, "Failed", &format!("Error: {msg}")).await;
                }
                self.slots[i].waiting = Some(("CreateContainerConfigError".into(), msg));
                self.wake(Instant::now() + RETRY);
                return;
            }
        };
        let Some(argv) = env::command_line(&spec, &vars) else {
            let msg = format!(
                "the process runtime runs a container's command and cannot run image {:?}: set command for container \"{}\"",
                spec.image.clone().unwrap_or_default(),
                spec.name
            );
            if self.slots[i].waiting.as_ref().map(|w| &w.1) != Some(&msg) {
                self.event(Some(&spec.name), true, "Failed", &format!("Error: {msg}")).await;
            }
            self.slots[i].waiting = Some(("CreateContainerError".into(), msg));
            return;
        };
        let volumes = self.volumes.clone().unwrap_or_default();
        let mut mounts = Vec::new();
        for m in spec.volume_mounts.iter().flatten() {
            let Some(src) = volumes.get(&m.name) else { continue };
            let mut source = src.clone();
            if let Some(sub) = m.sub_path.as_deref().filter(|s| !s.is_empty()) {
                source = source.join(sub);
                if !source.exists() {
                    let _ = std::fs::create_dir_all(&source);
                }
            }
            mounts.push(BindMount { source, target: PathBuf::from(&m.mount_path), read_only: m.read_only.unwrap_or(false) });
        }
        let mut full_env = vec![
            ("PATH".to_string(), "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_string()),
            ("HOSTNAME".to_string(), if host_network(&self.pod) { self.ctx.node_name.clone() } else { pod_hostname(&self.pod) }),
            ("HOME".to_string(), "/root".to_string()),
        ];
        for (k, v) in vars {
            full_env.retain(|(ek, _)| *ek != k);
            full_env.push((k, v));
        }
        let attempt = match self.slots[i].attempt {
            None => 0,
            Some(_) => self.slots[i].restart_count as u32 + 1,
        };
        let id = ContainerId { pod_uid: self.uid.clone(), name: spec.name.clone(), attempt };
        let cspec = ContainerSpec {
            argv,
            env: full_env,
            working_dir: spec.working_dir.clone(),
            mounts,
            hostname: (!host_network(&self.pod)).then(|| pod_hostname(&self.pod)),
            limits: limits(&spec),
            termination_message_path: spec.termination_message_path.as_deref().filter(|p| !p.is_empty()).map(PathBuf::from),
        };
        let rt = self.ctx.runtime.clone();
        let id2 = id.clone();
        let result = tokio::task::spawn_blocking(move || rt.start_container(&id2, &cspec)).await.unwrap_or_else(|e| Err(e.to_string()));
        let slot = &mut self.slots[i];
        if slot.attempt.is_some() {
            slot.restart_count += 1;
            slot.last_exit = slot.exit.take();
        }
        slot.attempt = Some(attempt);
        slot.waiting = None;
        slot.restart_at = None;
        slot.exit = None;
        self.event(Some(&spec.name), false, "Created", &format!("Created container {}", spec.name)).await;
        match result {
            Ok(()) => {
                let started_at = match self.ctx.runtime.state(&id) {
                    ContainerState::Running { started_at, .. } => started_at,
                    _ => crate::node::now(),
                };
                self.slots[i].running_since = Some(started_at);
                self.event(Some(&spec.name), false, "Started", &format!("Started container {}", spec.name)).await;
                self.watch_container(i, id.clone());
                if let Some(h) = spec.lifecycle.as_ref().and_then(|l| l.post_start.clone()) {
                    if let Err(msg) = self.run_hook(&id, &spec, &h).await {
                        self.event(Some(&spec.name), true, "FailedPostStartHook", &msg).await;
                        self.kill(&id, grace(&self.pod, None), None).await;
                    }
                }
            }
            Err(msg) => {
                tracing::info!("pod {ns}/{name} container {}: {msg}", spec.name);
                self.event(Some(&spec.name), true, "Failed", &format!("Error: {msg}")).await;
                // The shim recorded a StartError exit; the restart policy handles it.
                let _ = self.tx.send(Msg::Exited(id));
            }
        }
    }

    /// Waits for the container to exit, and runs its probes meanwhile.
    fn watch_container(&mut self, i: usize, id: ContainerId) {
        let rt = self.ctx.runtime.clone();
        let tx = self.tx.clone();
        let wait_id = id.clone();
        let mut tasks = vec![tokio::spawn(async move {
            rt.wait(&wait_id).await;
            let _ = tx.send(Msg::Exited(wait_id));
        })];
        let spec = self.slots[i].spec.clone();
        let probes = [(ProbeKind::Startup, &spec.startup_probe), (ProbeKind::Liveness, &spec.liveness_probe), (ProbeKind::Readiness, &spec.readiness_probe)];
        let mut trackers = BTreeMap::new();
        for (kind, probe) in probes {
            let Some(p) = probe.clone() else { continue };
            trackers.insert(kind.word(), ProbeTracker::for_kind(kind, &p));
            tasks.push(tokio::spawn(probe_loop(self.ctx.clone(), id.clone(), spec.clone(), self.pod_ip.clone().unwrap_or_default(), kind, p, self.tx.clone())));
        }
        let slot = &mut self.slots[i];
        slot.started = spec.startup_probe.is_none();
        slot.ready = spec.readiness_probe.is_none() && slot.started && !slot.init;
        slot.trackers = trackers;
        slot.tasks = tasks;
    }

    async fn handle(&mut self, msg: Msg) {
        match msg {
            Msg::Exited(id) => {
                let Some(i) = self.slots.iter().position(|s| s.spec.name == id.name && s.attempt == Some(id.attempt)) else { return };
                let state = self.ctx.runtime.state(&id);
                if matches!(state, ContainerState::Running { .. }) {
                    return;
                }
                let mut exit = exit_of(&state, &id);
                let spec = &self.slots[i].spec;
                if let Some(e) = exit.as_mut().filter(|e| e.exit_code != 0 && e.message.is_none()) {
                    if spec.termination_message_policy.as_deref() == Some("FallbackToLogsOnError") {
                        e.message = log_tail(&self.ctx.runtime.log_path(&id));
                    }
                }
                let policy = self.restart_policy().to_string();
                let key = format!("{}/{}", self.uid, id.name);
                let slot = &mut self.slots[i];
                slot.stop_probes();
                slot.running_since = None;
                slot.ready = false;
                let failed = exit.as_ref().is_none_or(|e| e.exit_code != 0);
                slot.exit = exit;
                let restarts = match policy.as_str() {
                    "Always" => !slot.init || failed,
                    "OnFailure" => failed,
                    _ => false,
                };
                if restarts && !self.terminal && self.pod.metadata.deletion_timestamp.is_none() {
                    let delay = self.backoff.next(&key, std::time::Instant::now());
                    let (ns, name) = self.ns_name();
                    if !delay.is_zero() {
                        let msg = crate::backoff::message(delay, &id.name, &ns, &name, &self.uid);
                        let slot = &mut self.slots[i];
                        slot.restart_at = Some(Instant::now() + delay);
                        slot.waiting = Some(("CrashLoopBackOff".into(), msg));
                        self.event(Some(&id.name), true, "BackOff", &crate::backoff::event_message(&id.name, &ns, &name, &self.uid)).await;
                    }
                }
            }
            Msg::Probe(id, kind, outcome) => {
                let Some(i) = self.slots.iter().position(|s| s.spec.name == id.name && s.attempt == Some(id.attempt) && s.running()) else { return };
                if kind != ProbeKind::Startup && !self.slots[i].started {
                    return; // liveness and readiness wait for the startup probe
                }
                if let Some((reason, message)) = probe::event(kind, &outcome) {
                    self.event(Some(&id.name), true, reason, &message).await;
                }
                let Some(flip) = self.slots[i].trackers.get_mut(kind.word()).and_then(|t| t.record(&outcome)) else { return };
                match (kind, flip) {
                    (ProbeKind::Readiness, ok) => self.slots[i].ready = ok,
                    (ProbeKind::Startup, true) => {
                        self.slots[i].started = true;
                        self.slots[i].ready = self.slots[i].spec.readiness_probe.is_none();
                    }
                    (ProbeKind::Startup | ProbeKind::Liveness, false) => {
                        let will_restart = self.restart_policy() != "Never";
                        let message = probe::kill_message(kind, &id.name, will_restart).unwrap_or_default();
                        self.event(Some(&id.name), false, "Killing", &message).await;
                        let probe_grace = self.slots[i].spec.liveness_probe.as_ref().and_then(|p| p.termination_grace_period_seconds);
                        self.kill(&id, grace(&self.pod, probe_grace), None).await;
                    }
                    (ProbeKind::Liveness, true) => {}
                }
            }
        }
    }

    /// preStop (when given), SIGTERM, then SIGKILL after `grace`.
    async fn kill(&self, id: &ContainerId, grace: Duration, pre_stop: Option<&LifecycleHandler>) {
        let deadline = Instant::now() + grace;
        if let Some(h) = pre_stop {
            let spec = self.slots.iter().find(|s| s.spec.name == id.name).map(|s| s.spec.clone()).unwrap_or_default();
            match tokio::time::timeout(grace, self.run_hook(id, &spec, h)).await {
                Ok(Err(msg)) => self.event(Some(&id.name), true, "FailedPreStopHook", &msg).await,
                Err(_) => {}
                Ok(Ok(())) => {}
            }
        }
        self.ctx.runtime.signal(id, libc::SIGTERM);
        let rt = self.ctx.runtime.clone();
        if tokio::time::timeout_at(deadline, rt.wait(id)).await.is_err() {
            self.ctx.runtime.signal(id, libc::SIGKILL);
            let _ = tokio::time::timeout(Duration::from_secs(5), rt.wait(id)).await;
        }
    }

    /// Stops every running container, concurrently, each with its preStop hook.
    async fn stop_all(&mut self, grace: Duration, announce: Option<&str>) {
        let running: Vec<(ContainerId, Option<LifecycleHandler>)> = self
            .slots
            .iter()
            .filter(|s| s.running())
            .filter_map(|s| Some((self.id(s)?, s.spec.lifecycle.as_ref().and_then(|l| l.pre_stop.clone()))))
            .collect();
        if announce.is_some() {
            for (id, _) in &running {
                self.event(Some(&id.name), false, "Killing", &format!("Stopping container {}", id.name)).await;
            }
        }
        let hooks = if grace.is_zero() { Vec::new() } else { running.clone() };
        futures::future::join_all(running.iter().map(|(id, _)| {
            let hook = hooks.iter().find(|(h, _)| h == id).and_then(|(_, h)| h.as_ref());
            self.kill(id, grace, hook)
        }))
        .await;
        for i in 0..self.slots.len() {
            if let Some(id) = self.id(&self.slots[i]) {
                if self.slots[i].running() {
                    let state = self.ctx.runtime.state(&id);
                    let slot = &mut self.slots[i];
                    slot.stop_probes();
                    slot.running_since = None;
                    slot.ready = false;
                    slot.exit = exit_of(&state, &id);
                }
            }
        }
    }

    /// Graceful deletion: stop, report the final status, clean up, remove the pod object.
    async fn terminate(&mut self) {
        let g = self.pod.metadata.deletion_grace_period_seconds.map(|s| Duration::from_secs(s.max(0) as u64)).unwrap_or_else(|| grace(&self.pod, None));
        self.stop_all(g, Some("Killing")).await;
        self.terminal = true;
        self.report().await;
        self.cleanup();
        let (ns, name) = self.ns_name();
        let pods: Api<Pod> = Api::namespaced(self.ctx.client.clone(), &ns);
        let dp = DeleteParams { grace_period_seconds: Some(0), preconditions: Some(Preconditions { uid: Some(self.uid.clone()), resource_version: None }), ..Default::default() };
        if let Err(e) = pods.delete(&name, &dp).await {
            tracing::debug!("removing pod {ns}/{name}: {e}");
        }
    }

    fn cleanup(&mut self) {
        for s in &mut self.slots {
            s.stop_probes();
        }
        self.ctx.runtime.remove_sandbox(&self.uid);
        self.ctx.recorder.forget(&self.uid);
    }

    async fn run_hook(&self, id: &ContainerId, spec: &Container, h: &LifecycleHandler) -> Result<(), String> {
        let pod = self.ns_name().1;
        let failed = |kind: &str, what: String, error: String| format!("{kind} lifecycle hook ({what}) for Container \"{}\" in Pod \"{pod}\" failed - error: {error}", id.name);
        if let Some(exec) = &h.exec {
            let argv = exec.command.clone().unwrap_or_default();
            let (code, out) = run_exec(&*self.ctx.runtime, id, &argv, Duration::from_secs(30)).await.map_err(|e| failed("Exec", format!("{argv:?}"), e))?;
            if code != 0 {
                return Err(failed("Exec", format!("{argv:?}"), format!("command '{}' exited with {code}: {out}", argv.join(" "))));
            }
        } else if let Some(http) = &h.http_get {
            let host = self.pod_ip.clone().unwrap_or_default();
            if let ProbeOutcome::Failure(m) = probe::http_get(http.host.as_deref().unwrap_or(&host), http, spec, Duration::from_secs(30)).await {
                return Err(failed("HTTP", http.path.clone().unwrap_or_default(), m));
            }
        } else if let Some(s) = &h.sleep {
            tokio::time::sleep(Duration::from_secs(s.seconds.max(0) as u64)).await;
        }
        Ok(())
    }

    async fn report(&mut self) {
        let facts: Vec<ContainerFacts> = self.slots.iter().map(|s| self.facts(s)).collect();
        let (init, app): (Vec<ContainerFacts>, Vec<ContainerFacts>) = facts.into_iter().partition(|f| f.init);
        let status = status::build(&status::StatusInput {
            pod: &self.pod,
            init: &init,
            app: &app,
            pod_ips: self.pod_ip.iter().cloned().collect(),
            host_ips: vec![self.ctx.host_ip.clone()],
            sandbox_ready: self.pod_ip.is_some() && !self.terminal,
            start_time: self.start_time.parse().ok(),
            pod_is_terminal: self.pod.metadata.deletion_timestamp.is_some(),
            eviction: self.eviction.clone(),
            now: jiff::Timestamp::now(),
        });
        let value = match serde_json::to_value(&status) {
            Ok(v) => v,
            Err(_) => return,
        };
        if self.last_report.as_ref() == Some(&value) {
            return;
        }
        let (ns, name) = self.ns_name();
        let pods: Api<Pod> = Api::namespaced(self.ctx.client.clone(), &ns);
        match pods.patch_status(&name, &PatchParams::default(), &Patch::Merge(json!({"status": value}))).await {
            Ok(_) => self.last_report = Some(value),
            Err(e) => {
                tracing::debug!("status of pod {ns}/{name}: {e}");
                self.wake(Instant::now() + Duration::from_secs(1));
            }
        }
    }

    fn facts(&self, s: &Slot) -> ContainerFacts {
        let state = if let Some(since) = &s.running_since {
            StateFacts::Running { started_at: since.clone() }
        } else if let Some((reason, message)) = &s.waiting {
            StateFacts::Waiting { reason: reason.clone(), message: Some(message.clone()) }
        } else if let Some(e) = &s.exit {
            StateFacts::Terminated(e.clone())
        } else if s.init || self.slots.iter().any(|o| o.init && !o.succeeded()) {
            StateFacts::Waiting { reason: "PodInitializing".into(), message: None }
        } else {
            StateFacts::Waiting { reason: "ContainerCreating".into(), message: None }
        };
        ContainerFacts {
            name: s.spec.name.clone(),
            image: s.spec.image.clone().unwrap_or_default(),
            init: s.init,
            container_id: self.id(s).map(|id| format!("process://{id}")),
            state,
            last_state: if s.running_since.is_some() || s.waiting.is_some() { s.exit.clone().or(s.last_exit.clone()) } else { s.last_exit.clone() },
            ready: s.ready,
            started: s.running_since.is_some() && s.started,
            restart_count: s.restart_count,
        }
    }
}

/// How a finished run is reported: Completed, Error, OOMKilled or StartError.
fn exit_of(state: &ContainerState, id: &ContainerId) -> Option<Exit> {
    match state {
        ContainerState::Exited { exit_code, oom_killed, started_at, finished_at, start_error, termination_message, .. } => Some(Exit {
            exit_code: *exit_code,
            reason: if start_error.is_some() {
                "StartError".into()
            } else if *oom_killed {
                "OOMKilled".into()
            } else if *exit_code == 0 {
                "Completed".into()
            } else {
                "Error".into()
            },
            message: start_error.clone().or_else(|| termination_message.clone()),
            started_at: started_at.clone(),
            finished_at: Some(finished_at.clone()),
            container_id: Some(format!("process://{id}")),
        }),
        ContainerState::Unknown => Some(Exit {
            exit_code: 137,
            reason: "ContainerStatusUnknown".into(),
            message: Some("The container could not be located when the pod was terminated".into()),
            started_at: None,
            finished_at: Some(crate::node::now()),
            container_id: Some(format!("process://{id}")),
        }),
        ContainerState::Running { .. } => None,
    }
}

/// FallbackToLogsOnError: the last 80 lines of the log, at most 2 KiB, as kubelet takes them.
fn log_tail(path: &std::path::Path) -> Option<String> {
    let text = std::fs::read(path).ok()?;
    let lines: Vec<&[u8]> = text.split(|b| *b == b'\n').filter_map(|l| crate::logs::parse_record(l).map(|r| r.content)).collect();
    let mut out = lines[lines.len().saturating_sub(80)..].join(&b'\n');
    if out.len() > 2048 {
        out = out.split_off(out.len() - 2048);
    }
    (!out.is_empty()).then(|| String::from_utf8_lossy(&out).to_string())
}

/// spec.hostname (StatefulSet pods) or the pod's name.
pub fn pod_hostname(pod: &Pod) -> String {
    let h = pod.spec.as_ref().and_then(|s| s.hostname.clone()).filter(|h| !h.is_empty());
    h.unwrap_or_else(|| pod.metadata.name.clone().unwrap_or_default()).chars().take(63).collect()
}

fn host_network(pod: &Pod) -> bool {
    pod.spec.as_ref().and_then(|s| s.host_network).unwrap_or(false)
}

fn grace(pod: &Pod, probe_override: Option<i64>) -> Duration {
    let s = probe_override.or(pod.spec.as_ref().and_then(|s| s.termination_grace_period_seconds)).unwrap_or(30);
    Duration::from_secs(s.max(0) as u64)
}

fn limits(c: &Container) -> Limits {
    let q = |m: Option<&BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>>, k: &str| {
        m.and_then(|m| m.get(k)).and_then(|q| skiff_api::quantity::Quantity::parse(&q.0).ok())
    };
    let res = c.resources.as_ref();
    Limits {
        memory_bytes: q(res.and_then(|r| r.limits.as_ref()), "memory").map(|q| q.value()),
        cpu_millis: q(res.and_then(|r| r.limits.as_ref()), "cpu").map(|q| q.milli_value()),
        cpu_request_millis: q(res.and_then(|r| r.requests.as_ref()), "cpu").map(|q| q.milli_value()),
    }
}

/// Runs a command in the container with a timeout; returns its exit code and output.
pub async fn run_exec<R: Runtime>(rt: &R, id: &ContainerId, argv: &[String], timeout: Duration) -> Result<(i32, String), String> {
    let cmd = rt.exec_command(id, argv)?;
    let mut cmd = tokio::process::Command::from(cmd);
    cmd.stdin(std::process::Stdio::null()).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).kill_on_drop(true);
    let child = cmd.spawn().map_err(|e| e.to_string())?;
    match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Ok(Ok(out)) => {
            let mut text = String::from_utf8_lossy(&out.stdout).to_string();
            text.push_str(&String::from_utf8_lossy(&out.stderr));
            Ok((out.status.code().unwrap_or(128 + std::os::unix::process::ExitStatusExt::signal(&out.status).unwrap_or(0)), text))
        }
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(probe::exec_timeout_message(argv, timeout)),
    }
}

async fn probe_loop<R: Runtime>(ctx: Arc<Ctx<R>>, id: ContainerId, spec: Container, pod_ip: String, kind: ProbeKind, p: Probe, tx: mpsc::UnboundedSender<Msg>) {
    let period = Duration::from_secs(p.period_seconds.unwrap_or(10).max(1) as u64);
    let timeout = Duration::from_secs(p.timeout_seconds.unwrap_or(1).max(1) as u64);
    tokio::time::sleep(Duration::from_secs(p.initial_delay_seconds.unwrap_or(0).max(0) as u64)).await;
    loop {
        let outcome = if let Some(h) = &p.http_get {
            probe::http_get(h.host.as_deref().unwrap_or(&pod_ip), h, &spec, timeout).await
        } else if let Some(t) = &p.tcp_socket {
            probe::tcp_socket(t.host.as_deref().unwrap_or(&pod_ip), t, &spec, timeout).await
        } else if let Some(g) = &p.grpc {
            probe::grpc(&pod_ip, g, timeout).await
        } else if let Some(e) = &p.exec {
            let argv = e.command.clone().unwrap_or_default();
            probe::exec_outcome(&argv, run_exec(&*ctx.runtime, &id, &argv, timeout).await)
        } else {
            ProbeOutcome::Success
        };
        if tx.send(Msg::Probe(id.clone(), kind, outcome)).is_err() {
            return;
        }
        tokio::time::sleep(period).await;
    }
}
