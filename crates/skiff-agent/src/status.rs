//! The pod status the kubelet reports, built from what the pod worker knows of each
//! container (pure: the previous status comes from the pod, time is passed in).
//!
//! Follows the kubelet's `generateAPIPodStatus`: container statuses (`convertToAPIContainerStatuses`,
//! readiness and started as the probe manager sets them), the phase (`getPhase`), the
//! kubelet-owned conditions (`status.Generate*Condition`) in the kubelet's order —
//! PodReadyToStartContainers, Initialized, Ready, ContainersReady, PodScheduled — after
//! the conditions others own, and the status manager's rules: a condition's
//! lastTransitionTime changes only when its status does, startTime is set once, a
//! terminal phase never changes.
//!
//! `imageID` is reported empty: the process runtime runs host binaries, there is no image
//! whose digest could be given. `containerID` is what the worker passes (`process://<id>`).

use std::collections::BTreeMap;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting, ContainerStatus,
    HostIP, Pod, PodCondition, PodIP, PodStatus, VolumeMountStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use skiff_api::quantity::Quantity;

/// Phases.
pub const PENDING: &str = "Pending";
pub const RUNNING: &str = "Running";
pub const SUCCEEDED: &str = "Succeeded";
pub const FAILED: &str = "Failed";

/// Waiting reasons the kubelet sets.
pub const CONTAINER_CREATING: &str = "ContainerCreating";
pub const POD_INITIALIZING: &str = "PodInitializing";
pub const CRASH_LOOP_BACK_OFF: &str = "CrashLoopBackOff";
pub const CREATE_CONTAINER_CONFIG_ERROR: &str = "CreateContainerConfigError";
pub const CREATE_CONTAINER_ERROR: &str = "CreateContainerError";
pub const RUN_CONTAINER_ERROR: &str = "RunContainerError";

/// Condition types the kubelet owns (it replaces them on every report).
const KUBELET_CONDITIONS: [&str; 5] = ["PodScheduled", "Ready", "Initialized", "ContainersReady", "PodReadyToStartContainers"];

/// How a container run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exit {
    pub exit_code: i32,
    /// `Completed`, `Error`, `OOMKilled`, `StartError`, `ContainerStatusUnknown`…
    pub reason: String,
    pub message: Option<String>,
    /// RFC 3339.
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// The container ID of that run (`process://…`).
    pub container_id: Option<String>,
}

/// A container's current state as the worker knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateFacts {
    /// `started_at` in RFC 3339.
    Running { started_at: String },
    Waiting { reason: String, message: Option<String> },
    Terminated(Exit),
}

/// What the worker knows of one container (init or app).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerFacts {
    pub name: String,
    pub image: String,
    pub init: bool,
    /// The current (or last) run's ID, `process://…`; `None` before the first run.
    pub container_id: Option<String>,
    pub state: StateFacts,
    pub last_state: Option<Exit>,
    /// The readiness probe's verdict (true when the container has no readiness probe).
    /// Only a running, started container is reported ready.
    pub ready: bool,
    /// Whether the startup probe succeeded (true when there is none).
    pub started: bool,
    pub restart_count: i32,
}

/// Everything [`build`] needs.
#[derive(Debug, Clone)]
pub struct StatusInput<'a> {
    /// The pod as the API has it; its status is the previous status.
    pub pod: &'a Pod,
    pub init: &'a [ContainerFacts],
    pub app: &'a [ContainerFacts],
    /// The sandbox's IPs (any order; sorted by family, the node's first). Empty keeps the
    /// previous ones (a pod that ran to completion keeps its IP).
    pub pod_ips: Vec<String>,
    /// The node's IPs, primary first (at most two are reported).
    pub host_ips: Vec<String>,
    /// Whether the pod's sandbox exists with its network (PodReadyToStartContainers).
    pub sandbox_ready: bool,
    /// When the agent first saw the pod; kept once reported.
    pub start_time: Option<Timestamp>,
    /// The pod is being torn down (deleted): its containers will not be restarted, so
    /// stopped containers make it Succeeded or Failed whatever the restart policy.
    pub pod_is_terminal: bool,
    /// Set by an eviction (e.g. activeDeadlineSeconds): phase Failed with this reason and message.
    pub eviction: Option<(String, String)>,
    pub now: Timestamp,
}

/// Builds the pod status (see the module docs).
pub fn build(input: &StatusInput) -> PodStatus {
    let pod = input.pod;
    let old = pod.status.clone().unwrap_or_default();
    let spec = pod.spec.clone().unwrap_or_default();
    let init_specs = spec.init_containers.clone().unwrap_or_default();
    let has_init = !init_specs.is_empty();
    let deleting = pod.metadata.deletion_timestamp.is_some();

    let app_created = input.app.iter().any(|f| f.container_id.is_some() || !matches!(f.state, StateFacts::Waiting { .. }));
    let old_app = old.container_statuses.clone().unwrap_or_default();
    let old_init = old.init_container_statuses.clone().unwrap_or_default();
    let mut app_statuses: Vec<ContainerStatus> = spec
        .containers
        .iter()
        .map(|c| container_status(c, input.app.iter().find(|f| f.name == c.name), old_app.iter().find(|s| s.name == c.name), false, has_init, false, deleting))
        .collect();
    app_statuses.sort_by(|a, b| a.name.cmp(&b.name));
    let init_statuses: Vec<ContainerStatus> = init_specs
        .iter()
        .map(|c| container_status(c, input.init.iter().find(|f| f.name == c.name), old_init.iter().find(|s| s.name == c.name), true, has_init, app_created, deleting))
        .collect();

    // Phase, and the three-way merge with the previous and the API phase.
    let mut all: Vec<&ContainerStatus> = app_statuses.iter().collect();
    all.extend(init_statuses.iter());
    let mut phase = get_phase(pod, &init_specs, &spec.containers, &all, input.pod_is_terminal, app_created);
    let old_phase = old.phase.clone().unwrap_or_default();
    let terminal = |p: &str| p == SUCCEEDED || p == FAILED;
    if !terminal(&phase) && terminal(&old_phase) {
        phase = old_phase.clone();
    }
    let (mut reason, mut message) = (None, None);
    if phase == old_phase {
        reason = old.reason.clone();
        message = old.message.clone();
    }
    if let Some((r, m)) = &input.eviction {
        phase = FAILED.to_string();
        reason = Some(r.clone());
        message = Some(m.clone());
    }
    if terminal(&old_phase) && phase != old_phase {
        // Pods never leave a terminal phase.
        phase = old_phase.clone();
    }

    // Conditions: others' first, then the kubelet's.
    let old_conditions = old.conditions.clone().unwrap_or_default();
    let mut conditions: Vec<PodCondition> =
        old_conditions.iter().filter(|c| !KUBELET_CONDITIONS.contains(&c.type_.as_str())).cloned().collect();
    let sandbox = input.sandbox_ready && !terminal(&phase);
    conditions.push(condition("PodReadyToStartContainers", sandbox, None, None));
    let statuses: Vec<&ContainerStatus> = init_statuses.iter().chain(app_statuses.iter()).collect();
    conditions.push(initialized_condition(&init_specs, &spec.containers, &statuses, &phase));
    let ready = ready_condition(pod, &conditions, &init_specs, &spec.containers, &statuses, &phase);
    conditions.push(ready);
    conditions.push(containers_ready_condition(&init_specs, &spec.containers, &statuses, &phase));
    conditions.push(condition("PodScheduled", true, None, None));
    for c in conditions.iter_mut().filter(|c| KUBELET_CONDITIONS.contains(&c.type_.as_str())) {
        let kept = old_conditions.iter().find(|o| o.type_ == c.type_ && o.status == c.status).and_then(|o| o.last_transition_time.clone());
        c.last_transition_time = Some(kept.unwrap_or(Time(input.now)));
    }

    // Addresses and times.
    let host_v6 = input.host_ips.first().is_some_and(|ip| ip.contains(':'));
    let pod_ips = sort_pod_ips(&input.pod_ips, host_v6);
    let (pod_ip, pod_ips) = if pod_ips.is_empty() {
        (old.pod_ip.clone(), old.pod_ips.clone())
    } else {
        (Some(pod_ips[0].clone()), Some(pod_ips.iter().map(|ip| PodIP { ip: ip.clone() }).collect()))
    };
    let (host_ip, host_ips) = if input.host_ips.is_empty() {
        (old.host_ip.clone(), old.host_ips.clone())
    } else {
        (Some(input.host_ips[0].clone()), Some(input.host_ips.iter().take(2).map(|ip| HostIP { ip: ip.clone() }).collect()))
    };
    let start_time = old.start_time.clone().or(input.start_time.map(Time)).unwrap_or(Time(input.now));
    let qos_class = old.qos_class.clone().filter(|q| !q.is_empty()).unwrap_or_else(|| qos_class(pod).to_string());

    PodStatus {
        phase: Some(phase),
        reason,
        message,
        conditions: Some(conditions),
        host_ip,
        host_ips,
        pod_ip,
        pod_ips,
        start_time: Some(start_time),
        qos_class: Some(qos_class),
        init_container_statuses: if init_statuses.is_empty() { None } else { Some(init_statuses) },
        container_statuses: Some(app_statuses),
        ephemeral_container_statuses: old.ephemeral_container_statuses.clone(),
        nominated_node_name: old.nominated_node_name.clone(),
        resource_claim_statuses: old.resource_claim_statuses.clone(),
        resize: old.resize.clone(),
        observed_generation: old.observed_generation,
    }
}

fn time(s: &Option<String>) -> Option<Time> {
    s.as_deref().and_then(|s| s.parse::<Timestamp>().ok()).map(Time)
}

fn terminated(e: &Exit) -> ContainerStateTerminated {
    ContainerStateTerminated {
        exit_code: e.exit_code,
        reason: Some(e.reason.clone()).filter(|r| !r.is_empty()),
        message: e.message.clone().filter(|m| !m.is_empty()),
        started_at: time(&e.started_at),
        finished_at: time(&e.finished_at),
        container_id: e.container_id.clone(),
        signal: None,
    }
}

fn waiting(reason: &str, message: Option<String>) -> ContainerState {
    ContainerState {
        waiting: Some(ContainerStateWaiting { reason: Some(reason.to_string()), message: message.filter(|m| !m.is_empty()) }),
        ..Default::default()
    }
}

fn is_sidecar(c: &Container) -> bool {
    c.restart_policy.as_deref() == Some("Always")
}

/// `status.volumeMounts` as the kubelet fills it from the container's spec.
fn volume_mounts(c: &Container) -> Option<Vec<VolumeMountStatus>> {
    let mounts: Vec<VolumeMountStatus> = c
        .volume_mounts
        .iter()
        .flatten()
        .map(|m| {
            let read_only = m.read_only.unwrap_or(false);
            VolumeMountStatus {
                name: m.name.clone(),
                mount_path: m.mount_path.clone(),
                read_only: Some(read_only).filter(|r| *r),
                // Recursive read-only mounts are not supported by the process runtime.
                recursive_read_only: read_only.then(|| "Disabled".to_string()),
            }
        })
        .collect();
    (!mounts.is_empty()).then_some(mounts)
}

/// One container's status (the kubelet's `convertToAPIContainerStatuses`, then the probe
/// manager's `UpdatePodStatus` for `ready` and `started`).
fn container_status(
    c: &Container,
    facts: Option<&ContainerFacts>,
    old: Option<&ContainerStatus>,
    is_init: bool,
    has_init: bool,
    app_created: bool,
    deleting: bool,
) -> ContainerStatus {
    let default_reason = if has_init { POD_INITIALIZING } else { CONTAINER_CREATING };
    let Some(f) = facts else {
        // Nothing known of it now: the default waiting state, with what the previous
        // status knew (a terminated status stays as it was).
        if let Some(o) = old.filter(|o| o.state.as_ref().is_some_and(|s| s.terminated.is_some())) {
            return o.clone();
        }
        let mut s = ContainerStatus {
            name: c.name.clone(),
            image: c.image.clone().unwrap_or_default(),
            image_id: String::new(),
            state: Some(waiting(default_reason, None)),
            last_state: Some(ContainerState::default()),
            ready: false,
            started: Some(false),
            restart_count: 0,
            volume_mounts: volume_mounts(c),
            ..Default::default()
        };
        if let Some(o) = old {
            s.restart_count = o.restart_count;
            s.last_state = o.last_state.clone().or(Some(ContainerState::default()));
            let was_running = o.state.as_ref().is_some_and(|st| st.running.is_some());
            let has_last = s.last_state.as_ref().is_some_and(|l| l.terminated.is_some());
            if was_running && !has_last {
                // It ran and is gone without a trace: show it stopped, not pending.
                s.last_state = Some(ContainerState {
                    terminated: Some(ContainerStateTerminated {
                        exit_code: 137,
                        reason: Some("ContainerStatusUnknown".into()),
                        message: Some("The container could not be located when the pod was deleted.  The container used to be Running".into()),
                        ..Default::default()
                    }),
                    ..Default::default()
                });
                if !deleting {
                    s.restart_count += 1;
                }
            }
        }
        if is_init && !is_sidecar(c) && app_created {
            // The app containers ran, so this init container completed earlier.
            s.state = Some(ContainerState {
                terminated: Some(ContainerStateTerminated {
                    exit_code: 0,
                    reason: Some("Completed".into()),
                    message: Some("Unable to get init container status from container runtime and pod has been initialized, treat it as exited normally".into()),
                    ..Default::default()
                }),
                ..Default::default()
            });
            s.ready = true;
        }
        return s;
    };

    let state = match &f.state {
        StateFacts::Running { started_at } => ContainerState {
            running: Some(ContainerStateRunning { started_at: time(&Some(started_at.clone())) }),
            ..Default::default()
        },
        StateFacts::Waiting { reason, message } => waiting(reason, message.clone()),
        StateFacts::Terminated(e) => ContainerState { terminated: Some(terminated(e)), ..Default::default() },
    };
    let running = matches!(f.state, StateFacts::Running { .. });
    let started = running && f.started;
    let ready = if is_init && !is_sidecar(c) {
        matches!(&f.state, StateFacts::Terminated(e) if e.exit_code == 0)
    } else {
        started && f.ready
    };
    ContainerStatus {
        name: c.name.clone(),
        image: if f.image.is_empty() { c.image.clone().unwrap_or_default() } else { f.image.clone() },
        image_id: String::new(),
        container_id: f.container_id.clone(),
        state: Some(state),
        last_state: Some(f.last_state.as_ref().map(|e| ContainerState { terminated: Some(terminated(e)), ..Default::default() }).unwrap_or_default()),
        ready,
        started: Some(started),
        restart_count: f.restart_count,
        // A created container reports the resources it runs with.
        resources: f.container_id.as_ref().map(|_| c.resources.clone().unwrap_or_default()),
        volume_mounts: volume_mounts(c),
        ..Default::default()
    }
}

fn state_of(s: &ContainerStatus) -> (bool, bool, bool) {
    let st = s.state.as_ref();
    (
        st.is_some_and(|x| x.running.is_some()),
        st.is_some_and(|x| x.terminated.is_some()),
        st.is_some_and(|x| x.waiting.is_some()),
    )
}

fn last_terminated(s: &ContainerStatus) -> Option<&ContainerStateTerminated> {
    s.last_state.as_ref().and_then(|l| l.terminated.as_ref())
}

/// The kubelet's `getPhase`.
fn get_phase(
    pod: &Pod,
    init_specs: &[Container],
    app_specs: &[Container],
    statuses: &[&ContainerStatus],
    pod_is_terminal: bool,
    pod_has_initialized: bool,
) -> String {
    let find = |name: &str| statuses.iter().find(|s| s.name == name).copied();
    let policy = pod.spec.as_ref().and_then(|s| s.restart_policy.as_deref()).unwrap_or("Always");

    let mut pending_init = 0;
    let mut failed_init = 0;
    for c in init_specs.iter().filter(|c| !is_sidecar(c)) {
        let Some(s) = find(&c.name) else {
            pending_init += 1;
            continue;
        };
        match state_of(s) {
            (true, _, _) => pending_init += 1,
            (_, true, _) => {
                if s.state.as_ref().and_then(|x| x.terminated.as_ref()).is_some_and(|t| t.exit_code != 0) {
                    failed_init += 1;
                }
            }
            (_, _, true) => match last_terminated(s) {
                Some(t) if t.exit_code != 0 => failed_init += 1,
                Some(_) => {}
                None => pending_init += 1,
            },
            _ => pending_init += 1,
        }
    }

    let (mut unknown, mut running, mut waiting, mut stopped, mut succeeded, mut pending_sidecars) = (0, 0, 0, 0, 0, 0);
    for c in init_specs.iter().filter(|c| is_sidecar(c)) {
        let Some(s) = find(&c.name) else {
            unknown += 1;
            continue;
        };
        match state_of(s) {
            (true, _, _) => {
                if s.started != Some(true) {
                    pending_sidecars += 1;
                }
                running += 1;
            }
            // Stopped sidecars do not count towards the phase.
            (_, true, _) => {}
            (_, _, true) => {
                if last_terminated(s).is_none() {
                    pending_sidecars += 1;
                    waiting += 1;
                }
            }
            _ => {
                pending_sidecars += 1;
                unknown += 1;
            }
        }
    }
    for c in app_specs {
        let Some(s) = find(&c.name) else {
            unknown += 1;
            continue;
        };
        match state_of(s) {
            (true, _, _) => running += 1,
            (_, true, _) => {
                stopped += 1;
                if s.state.as_ref().and_then(|x| x.terminated.as_ref()).is_some_and(|t| t.exit_code == 0) {
                    succeeded += 1;
                }
            }
            (_, _, true) => {
                if last_terminated(s).is_some() {
                    stopped += 1;
                } else {
                    waiting += 1;
                }
            }
            _ => unknown += 1,
        }
    }

    if failed_init > 0 && policy == "Never" {
        return FAILED.into();
    }
    if pending_init > 0 || (pending_sidecars > 0 && !pod_has_initialized) || waiting > 0 {
        return PENDING.into();
    }
    if running > 0 && unknown == 0 {
        return RUNNING.into();
    }
    if running == 0 && stopped > 0 && unknown == 0 {
        if pod_is_terminal {
            return if stopped == succeeded { SUCCEEDED } else { FAILED }.into();
        }
        if policy == "Always" {
            return RUNNING.into();
        }
        if stopped == succeeded {
            return SUCCEEDED.into();
        }
        if policy == "Never" {
            return FAILED.into();
        }
        return RUNNING.into();
    }
    PENDING.into()
}

fn condition(type_: &str, status: bool, reason: Option<&str>, message: Option<String>) -> PodCondition {
    PodCondition {
        type_: type_.to_string(),
        status: if status { "True" } else { "False" }.to_string(),
        reason: reason.map(String::from),
        message: message.filter(|m| !m.is_empty()),
        ..Default::default()
    }
}

/// Go's `%s` of a `[]string`: `[a b]`.
fn go_list(names: &[String]) -> String {
    format!("[{}]", names.join(" "))
}

fn initialized_condition(init_specs: &[Container], app_specs: &[Container], statuses: &[&ContainerStatus], phase: &str) -> PodCondition {
    let mut unknown = Vec::new();
    let mut incomplete = Vec::new();
    for c in init_specs {
        let Some(s) = statuses.iter().find(|s| s.name == c.name) else {
            unknown.push(c.name.clone());
            continue;
        };
        let done = if is_sidecar(c) { s.started == Some(true) } else { s.ready };
        if !done {
            incomplete.push(c.name.clone());
        }
    }
    if phase == SUCCEEDED && unknown.is_empty() {
        return condition("Initialized", true, Some("PodCompleted"), None);
    }
    // A regular container that has run means the pod was initialized before.
    let app_started = app_specs.iter().any(|c| {
        statuses.iter().any(|s| {
            s.name == c.name && s.state.as_ref().is_some_and(|st| st.running.is_some() || st.terminated.is_some())
        })
    });
    if app_started {
        return condition("Initialized", true, None, None);
    }
    let mut msgs = Vec::new();
    if !unknown.is_empty() {
        msgs.push(format!("containers with unknown status: {}", go_list(&unknown)));
    }
    if !incomplete.is_empty() {
        msgs.push(format!("containers with incomplete status: {}", go_list(&incomplete)));
    }
    if msgs.is_empty() {
        condition("Initialized", true, None, None)
    } else {
        condition("Initialized", false, Some("ContainersNotInitialized"), Some(msgs.join(", ")))
    }
}

fn containers_ready_condition(init_specs: &[Container], app_specs: &[Container], statuses: &[&ContainerStatus], phase: &str) -> PodCondition {
    containers_ready("ContainersReady", init_specs, app_specs, statuses, phase)
}

fn containers_ready(type_: &str, init_specs: &[Container], app_specs: &[Container], statuses: &[&ContainerStatus], phase: &str) -> PodCondition {
    let mut unknown = Vec::new();
    let mut unready = Vec::new();
    for c in init_specs.iter().filter(|c| is_sidecar(c)).chain(app_specs.iter()) {
        match statuses.iter().find(|s| s.name == c.name) {
            Some(s) if !s.ready => unready.push(c.name.clone()),
            Some(_) => {}
            None => unknown.push(c.name.clone()),
        }
    }
    if (phase == SUCCEEDED && unknown.is_empty()) || phase == FAILED {
        let reason = if phase == FAILED { "PodFailed" } else { "PodCompleted" };
        return condition(type_, false, Some(reason), None);
    }
    let mut msgs = Vec::new();
    if !unknown.is_empty() {
        msgs.push(format!("containers with unknown status: {}", go_list(&unknown)));
    }
    if !unready.is_empty() {
        msgs.push(format!("containers with unready status: {}", go_list(&unready)));
    }
    if msgs.is_empty() {
        condition(type_, true, None, None)
    } else {
        condition(type_, false, Some("ContainersNotReady"), Some(msgs.join(", ")))
    }
}

/// Ready: ContainersReady, then every readiness gate's condition True.
fn ready_condition(
    pod: &Pod,
    conditions: &[PodCondition],
    init_specs: &[Container],
    app_specs: &[Container],
    statuses: &[&ContainerStatus],
    phase: &str,
) -> PodCondition {
    let cr = containers_ready("Ready", init_specs, app_specs, statuses, phase);
    if cr.status != "True" {
        return cr;
    }
    let mut msgs = Vec::new();
    for gate in pod.spec.as_ref().and_then(|s| s.readiness_gates.as_ref()).into_iter().flatten() {
        let t = &gate.condition_type;
        match conditions.iter().find(|c| &c.type_ == t) {
            None => msgs.push(format!("corresponding condition of pod readiness gate \"{t}\" does not exist.")),
            Some(c) if c.status != "True" => {
                msgs.push(format!("the status of pod readiness gate \"{t}\" is not \"True\", but {}", c.status))
            }
            Some(_) => {}
        }
    }
    if msgs.is_empty() {
        cr
    } else {
        condition("Ready", false, Some("ReadinessGatesNotReady"), Some(msgs.join(", ")))
    }
}

/// The kubelet's `sortPodIPs`: the first IP of the node's family, then the first of the other.
fn sort_pod_ips(ips: &[String], host_v6: bool) -> Vec<String> {
    let is_v6 = |ip: &String| ip.contains(':');
    let mut out = Vec::new();
    if let Some(p) = ips.iter().find(|ip| is_v6(ip) == host_v6) {
        out.push(p.clone());
    }
    if let Some(s) = ips.iter().find(|ip| is_v6(ip) != host_v6) {
        out.push(s.clone());
    }
    out
}

/// The pod's QoS class (`GetPodQOS`), from the cpu and memory requests and limits of all
/// its containers; used when the API server did not set one.
pub fn qos_class(pod: &Pod) -> &'static str {
    let Some(spec) = &pod.spec else { return "BestEffort" };
    // Sums in nano-units of the positive cpu and memory quantities.
    let mut requests: BTreeMap<&str, i128> = BTreeMap::new();
    let mut limits: BTreeMap<&str, i128> = BTreeMap::new();
    let mut guaranteed = true;
    let positive = |q: &k8s_openapi::apimachinery::pkg::api::resource::Quantity| {
        Quantity::parse(&q.0).ok().map(|q| q.nano_value()).filter(|n| *n > 0)
    };
    for c in spec.containers.iter().chain(spec.init_containers.iter().flatten()) {
        let res = c.resources.as_ref();
        for (name, q) in res.and_then(|r| r.requests.as_ref()).into_iter().flatten() {
            if let (Some(key), Some(n)) = (["cpu", "memory"].into_iter().find(|k| k == name), positive(q)) {
                *requests.entry(key).or_default() += n;
            }
        }
        let mut found = 0;
        for (name, q) in res.and_then(|r| r.limits.as_ref()).into_iter().flatten() {
            if let (Some(key), Some(n)) = (["cpu", "memory"].into_iter().find(|k| k == name), positive(q)) {
                found += 1;
                *limits.entry(key).or_default() += n;
            }
        }
        if found < 2 {
            guaranteed = false;
        }
    }
    if requests.is_empty() && limits.is_empty() {
        return "BestEffort";
    }
    if guaranteed && requests.iter().all(|(k, r)| limits.get(k) == Some(r)) && requests.len() == limits.len() {
        return "Guaranteed";
    }
    "Burstable"
}

#[cfg(test)]
mod tests;
