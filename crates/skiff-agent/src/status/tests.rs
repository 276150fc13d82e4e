use super::*;

use k8s_openapi::api::core::v1::{PodReadinessGate, PodSpec, ResourceRequirements, VolumeMount};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as K8sQuantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

const T0: &str = "2024-05-01T10:00:00Z";
const T1: &str = "2024-05-01T10:00:05Z";
const NOW: &str = "2024-05-01T11:00:00Z";

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn container(name: &str) -> Container {
    Container { name: name.into(), image: Some(format!("{name}:1")), ..Default::default() }
}

fn pod(policy: &str, init: &[&str], app: &[&str]) -> Pod {
    Pod {
        metadata: ObjectMeta { name: Some("p".into()), namespace: Some("default".into()), uid: Some("u".into()), ..Default::default() },
        spec: Some(PodSpec {
            restart_policy: Some(policy.into()),
            init_containers: (!init.is_empty()).then(|| init.iter().map(|n| container(n)).collect()),
            containers: app.iter().map(|n| container(n)).collect(),
            ..Default::default()
        }),
        status: Some(PodStatus {
            phase: Some(PENDING.into()),
            qos_class: Some("BestEffort".into()),
            conditions: Some(vec![PodCondition {
                type_: "PodScheduled".into(),
                status: "True".into(),
                last_transition_time: Some(Time(ts(T0))),
                ..Default::default()
            }]),
            ..Default::default()
        }),
    }
}

fn exit(code: i32) -> Exit {
    Exit {
        exit_code: code,
        reason: if code == 0 { "Completed".into() } else { "Error".into() },
        message: None,
        started_at: Some(T0.into()),
        finished_at: Some(T1.into()),
        container_id: Some("process://old".into()),
    }
}

fn facts(name: &str, init: bool, state: StateFacts) -> ContainerFacts {
    ContainerFacts {
        name: name.into(),
        image: format!("{name}:1"),
        init,
        container_id: Some(format!("process://u-{name}-0")),
        state,
        last_state: None,
        ready: true,
        started: true,
        restart_count: 0,
    }
}

fn running(name: &str) -> ContainerFacts {
    facts(name, false, StateFacts::Running { started_at: T1.into() })
}

fn done(name: &str, code: i32) -> ContainerFacts {
    facts(name, false, StateFacts::Terminated(exit(code)))
}

fn crashloop(name: &str, last: i32) -> ContainerFacts {
    ContainerFacts {
        last_state: Some(exit(last)),
        restart_count: 3,
        ..facts(name, false, StateFacts::Waiting { reason: CRASH_LOOP_BACK_OFF.into(), message: Some("back-off 40s".into()) })
    }
}

fn init_of(mut f: ContainerFacts) -> ContainerFacts {
    f.init = true;
    f
}

fn input<'a>(pod: &'a Pod, init: &'a [ContainerFacts], app: &'a [ContainerFacts]) -> StatusInput<'a> {
    StatusInput {
        pod,
        init,
        app,
        pod_ips: vec!["10.244.0.5".into()],
        host_ips: vec!["192.168.1.10".into()],
        sandbox_ready: true,
        start_time: Some(ts(T0)),
        pod_is_terminal: false,
        eviction: None,
        now: ts(NOW),
    }
}

fn cond<'a>(s: &'a PodStatus, t: &str) -> &'a PodCondition {
    s.conditions.as_ref().unwrap().iter().find(|c| c.type_ == t).unwrap()
}

/// (status, reason, message) of a condition.
fn csum(s: &PodStatus, t: &str) -> (String, Option<String>, Option<String>) {
    let c = cond(s, t);
    (c.status.clone(), c.reason.clone(), c.message.clone())
}

fn tf(status: &str, reason: Option<&str>, message: Option<&str>) -> (String, Option<String>, Option<String>) {
    (status.into(), reason.map(String::from), message.map(String::from))
}

fn phase(s: &PodStatus) -> &str {
    s.phase.as_deref().unwrap()
}

#[test]
fn fresh_pod_is_pending_with_conditions_in_kubelet_order() {
    let p = pod("Always", &[], &["web"]);
    let mut i = input(&p, &[], &[]);
    i.sandbox_ready = false;
    i.pod_ips = vec![];
    let s = build(&i);
    assert_eq!(phase(&s), PENDING);
    let types: Vec<&str> = s.conditions.as_ref().unwrap().iter().map(|c| c.type_.as_str()).collect();
    assert_eq!(types, vec!["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"]);
    assert_eq!(csum(&s, "PodReadyToStartContainers"), tf("False", None, None));
    assert_eq!(csum(&s, "Initialized"), tf("True", None, None));
    assert_eq!(csum(&s, "Ready"), tf("False", Some("ContainersNotReady"), Some("containers with unready status: [web]")));
    assert_eq!(csum(&s, "ContainersReady"), tf("False", Some("ContainersNotReady"), Some("containers with unready status: [web]")));
    // The scheduler's PodScheduled keeps its time; the others are new.
    assert_eq!(cond(&s, "PodScheduled").last_transition_time, Some(Time(ts(T0))));
    assert_eq!(cond(&s, "Ready").last_transition_time, Some(Time(ts(NOW))));
    let cs = &s.container_statuses.as_ref().unwrap()[0];
    assert_eq!(cs.state.as_ref().unwrap().waiting.as_ref().unwrap().reason.as_deref(), Some(CONTAINER_CREATING));
    assert_eq!((cs.ready, cs.started, cs.restart_count, cs.image.as_str()), (false, Some(false), 0, "web:1"));
    assert!(s.init_container_statuses.is_none());
    assert_eq!(s.pod_ip, None);
    assert_eq!(s.host_ip.as_deref(), Some("192.168.1.10"));
    assert_eq!(s.start_time, Some(Time(ts(T0))));
    assert_eq!(s.qos_class.as_deref(), Some("BestEffort"));
}

#[test]
fn running_and_ready() {
    let p = pod("Always", &[], &["web", "a-sidecar"]);
    let app = [running("web"), running("a-sidecar")];
    let s = build(&input(&p, &[], &app));
    assert_eq!(phase(&s), RUNNING);
    for t in ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"] {
        assert_eq!(csum(&s, t), tf("True", None, None), "{t}");
    }
    let cs = s.container_statuses.as_ref().unwrap();
    let names: Vec<&str> = cs.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, vec!["a-sidecar", "web"], "sorted by name as the kubelet does");
    let web = &cs[1];
    assert_eq!((web.ready, web.started), (true, Some(true)));
    assert_eq!(web.container_id.as_deref(), Some("process://u-web-0"));
    assert_eq!(web.image_id, "");
    assert_eq!(web.state.as_ref().unwrap().running.as_ref().unwrap().started_at, Some(Time(ts(T1))));
    assert_eq!(s.pod_ip.as_deref(), Some("10.244.0.5"));
    assert_eq!(s.pod_ips.as_ref().unwrap()[0].ip, "10.244.0.5");
    let json = serde_json::to_value(web).unwrap();
    assert_eq!(json["lastState"], serde_json::json!({}));
    assert_eq!(json["imageID"], "");
    assert_eq!(json["resources"], serde_json::json!({}));
}

#[test]
fn unready_and_unstarted_containers() {
    let p = pod("Always", &[], &["web", "db"]);
    let mut web = running("web");
    web.ready = false;
    let mut db = running("db");
    db.started = false; // startup probe still running: neither started nor ready
    let s = build(&input(&p, &[], &[web, db]));
    assert_eq!(phase(&s), RUNNING);
    assert_eq!(csum(&s, "Ready"), tf("False", Some("ContainersNotReady"), Some("containers with unready status: [web db]")));
    let cs = s.container_statuses.as_ref().unwrap();
    assert_eq!((cs[0].name.as_str(), cs[0].ready, cs[0].started), ("db", false, Some(false)));
}

#[test]
fn phases_for_each_restart_policy() {
    let cases: Vec<(&str, Vec<ContainerFacts>, &str)> = vec![
        ("Always", vec![done("a", 0)], RUNNING),
        ("Always", vec![done("a", 1)], RUNNING),
        ("Always", vec![crashloop("a", 1)], RUNNING),
        ("Always", vec![running("a"), crashloop("b", 1)], RUNNING),
        ("OnFailure", vec![done("a", 0)], SUCCEEDED),
        ("OnFailure", vec![done("a", 1)], RUNNING),
        ("OnFailure", vec![crashloop("a", 2)], RUNNING),
        ("OnFailure", vec![done("a", 0), running("b")], RUNNING),
        ("Never", vec![done("a", 0)], SUCCEEDED),
        ("Never", vec![done("a", 1)], FAILED),
        ("Never", vec![done("a", 0), done("b", 137)], FAILED),
        ("Never", vec![done("a", 1), running("b")], RUNNING),
        ("Never", vec![running("a"), facts("b", false, StateFacts::Waiting { reason: CREATE_CONTAINER_CONFIG_ERROR.into(), message: Some("configmap \"x\" not found".into()) })], PENDING),
    ];
    for (policy, app, want) in cases {
        let names: Vec<&str> = app.iter().map(|f| f.name.as_str()).collect();
        let p = pod(policy, &[], &names);
        let s = build(&input(&p, &[], &app));
        assert_eq!(phase(&s), want, "{policy} {app:?}");
    }
}

#[test]
fn terminal_phases_set_completed_or_failed_conditions() {
    let p = pod("Never", &[], &["a"]);
    let s = build(&input(&p, &[], &[done("a", 0)]));
    assert_eq!(phase(&s), SUCCEEDED);
    assert_eq!(csum(&s, "Ready"), tf("False", Some("PodCompleted"), None));
    assert_eq!(csum(&s, "ContainersReady"), tf("False", Some("PodCompleted"), None));
    assert_eq!(csum(&s, "Initialized"), tf("True", Some("PodCompleted"), None));
    assert_eq!(csum(&s, "PodReadyToStartContainers"), tf("False", None, None));
    let a = &s.container_statuses.as_ref().unwrap()[0];
    let t = a.state.as_ref().unwrap().terminated.as_ref().unwrap();
    assert_eq!((t.exit_code, t.reason.as_deref(), t.container_id.as_deref()), (0, Some("Completed"), Some("process://old")));
    assert_eq!((t.started_at.clone(), t.finished_at.clone()), (Some(Time(ts(T0))), Some(Time(ts(T1)))));
    assert_eq!((a.ready, a.started), (false, Some(false)));

    let s = build(&input(&p, &[], &[done("a", 2)]));
    assert_eq!(phase(&s), FAILED);
    assert_eq!(csum(&s, "Ready"), tf("False", Some("PodFailed"), None));
    assert_eq!(csum(&s, "ContainersReady"), tf("False", Some("PodFailed"), None));
}

#[test]
fn deleted_pods_end_terminal_whatever_the_policy() {
    let p = pod("Always", &[], &["a", "b"]);
    let app = [done("a", 0), done("b", 143)];
    let mut i = input(&p, &[], &app);
    assert_eq!(phase(&build(&i)), RUNNING);
    i.pod_is_terminal = true;
    assert_eq!(phase(&build(&i)), FAILED);
    let app = [done("a", 0), done("b", 0)];
    let mut i = input(&p, &[], &app);
    i.pod_is_terminal = true;
    assert_eq!(phase(&build(&i)), SUCCEEDED);
}

#[test]
fn terminal_phase_never_changes_and_eviction_fails_the_pod() {
    let mut p = pod("Always", &[], &["a"]);
    if let Some(s) = p.status.as_mut() {
        s.phase = Some(SUCCEEDED.into());
        s.reason = Some("Done".into());
    }
    let app = [running("a")];
    let s = build(&input(&p, &[], &app));
    assert_eq!((phase(&s), s.reason.as_deref()), (SUCCEEDED, Some("Done")));

    let p = pod("Always", &[], &["a"]);
    let mut i = input(&p, &[], &app);
    i.eviction = Some(("DeadlineExceeded".into(), "Pod was active on the node longer than the specified deadline".into()));
    let s = build(&i);
    assert_eq!((phase(&s), s.reason.as_deref()), (FAILED, Some("DeadlineExceeded")));
    assert_eq!(s.message.as_deref(), Some("Pod was active on the node longer than the specified deadline"));
}

#[test]
fn init_containers() {
    let p = pod("Always", &["init-a", "init-b"], &["web"]);

    // Nothing ran yet.
    let s = build(&input(&p, &[], &[]));
    assert_eq!(phase(&s), PENDING);
    assert_eq!(
        csum(&s, "Initialized"),
        tf("False", Some("ContainersNotInitialized"), Some("containers with incomplete status: [init-a init-b]"))
    );
    let web = &s.container_statuses.as_ref().unwrap()[0];
    assert_eq!(web.state.as_ref().unwrap().waiting.as_ref().unwrap().reason.as_deref(), Some(POD_INITIALIZING));
    let inits = s.init_container_statuses.as_ref().unwrap();
    assert_eq!(inits.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), vec!["init-a", "init-b"]);
    assert_eq!(inits[0].state.as_ref().unwrap().waiting.as_ref().unwrap().reason.as_deref(), Some(POD_INITIALIZING));

    // The first one runs.
    let init = [init_of(running("init-a"))];
    let s = build(&input(&p, &init, &[]));
    assert_eq!(phase(&s), PENDING);
    let a = &s.init_container_statuses.as_ref().unwrap()[0];
    assert_eq!((a.ready, a.started), (false, Some(true)));

    // The first one is done, the second crash-loops.
    let init = [init_of(done("init-a", 0)), init_of(crashloop("init-b", 1))];
    let s = build(&input(&p, &init, &[]));
    assert_eq!(phase(&s), PENDING);
    assert_eq!(
        csum(&s, "Initialized"),
        tf("False", Some("ContainersNotInitialized"), Some("containers with incomplete status: [init-b]"))
    );
    let a = &s.init_container_statuses.as_ref().unwrap()[0];
    assert_eq!((a.ready, a.started), (true, Some(false)), "a completed init container is ready, not started");

    // Both done, the app runs.
    let init = [init_of(done("init-a", 0)), init_of(done("init-b", 0))];
    let app = [running("web")];
    let s = build(&input(&p, &init, &app));
    assert_eq!(phase(&s), RUNNING);
    assert_eq!(csum(&s, "Initialized"), tf("True", None, None));
    assert_eq!(csum(&s, "Ready"), tf("True", None, None));
}

#[test]
fn failing_init_container_with_restart_policy_never_fails_the_pod() {
    let p = pod("Never", &["init-a"], &["web"]);
    let init = [init_of(done("init-a", 1))];
    let s = build(&input(&p, &init, &[]));
    assert_eq!(phase(&s), FAILED);
    assert_eq!(csum(&s, "Initialized"), tf("False", Some("ContainersNotInitialized"), Some("containers with incomplete status: [init-a]")));
    assert_eq!(csum(&s, "Ready"), tf("False", Some("PodFailed"), None));
    let p = pod("OnFailure", &["init-a"], &["web"]);
    let init = [init_of(crashloop("init-a", 1))];
    assert_eq!(phase(&build(&input(&p, &init, &[]))), PENDING);
}

#[test]
fn sidecar_init_containers() {
    let mut p = pod("Always", &["proxy"], &["web"]);
    if let Some(spec) = p.spec.as_mut() {
        spec.init_containers.as_mut().unwrap()[0].restart_policy = Some("Always".into());
    }
    let mut proxy = init_of(running("proxy"));
    proxy.started = false;
    let init = [proxy.clone()];
    let s = build(&input(&p, &init, &[]));
    assert_eq!(phase(&s), PENDING);
    assert_eq!(csum(&s, "Initialized"), tf("False", Some("ContainersNotInitialized"), Some("containers with incomplete status: [proxy]")));
    proxy.started = true;
    let init = [proxy];
    let app = [running("web")];
    let s = build(&input(&p, &init, &app));
    assert_eq!(phase(&s), RUNNING);
    assert_eq!(csum(&s, "Initialized"), tf("True", None, None));
    assert_eq!(csum(&s, "Ready"), tf("True", None, None));
    assert!(s.init_container_statuses.as_ref().unwrap()[0].ready, "a started, ready sidecar is ready");
}

#[test]
fn last_transition_time_changes_only_with_status() {
    let mut p = pod("Always", &[], &["web"]);
    let old = |t: &str, status: &str| PodCondition {
        type_: t.into(),
        status: status.into(),
        last_transition_time: Some(Time(ts(T0))),
        ..Default::default()
    };
    if let Some(s) = p.status.as_mut() {
        s.conditions = Some(vec![
            old("example.com/other", "True"),
            old("PodReadyToStartContainers", "True"),
            old("Initialized", "True"),
            old("Ready", "False"),
            old("ContainersReady", "False"),
            old("PodScheduled", "True"),
        ]);
    }
    let app = [running("web")];
    let s = build(&input(&p, &[], &app));
    let types: Vec<&str> = s.conditions.as_ref().unwrap().iter().map(|c| c.type_.as_str()).collect();
    assert_eq!(types, vec!["example.com/other", "PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"]);
    assert_eq!(cond(&s, "Initialized").last_transition_time, Some(Time(ts(T0))));
    assert_eq!(cond(&s, "PodReadyToStartContainers").last_transition_time, Some(Time(ts(T0))));
    assert_eq!(cond(&s, "Ready").last_transition_time, Some(Time(ts(NOW))));
    assert_eq!(cond(&s, "ContainersReady").last_transition_time, Some(Time(ts(NOW))));
    assert_eq!(cond(&s, "example.com/other").last_transition_time, Some(Time(ts(T0))));
}

#[test]
fn readiness_gates() {
    let mut p = pod("Always", &[], &["web"]);
    if let Some(spec) = p.spec.as_mut() {
        spec.readiness_gates = Some(vec![PodReadinessGate { condition_type: "example.com/lb".into() }]);
    }
    let app = [running("web")];
    let s = build(&input(&p, &[], &app));
    assert_eq!(
        csum(&s, "Ready"),
        tf("False", Some("ReadinessGatesNotReady"), Some("corresponding condition of pod readiness gate \"example.com/lb\" does not exist."))
    );
    assert_eq!(csum(&s, "ContainersReady"), tf("True", None, None));
    let gate = |status: &str| PodCondition { type_: "example.com/lb".into(), status: status.into(), ..Default::default() };
    if let Some(st) = p.status.as_mut() {
        st.conditions = Some(vec![gate("False")]);
    }
    let s = build(&input(&p, &[], &app));
    assert_eq!(
        csum(&s, "Ready"),
        tf("False", Some("ReadinessGatesNotReady"), Some("the status of pod readiness gate \"example.com/lb\" is not \"True\", but False"))
    );
    if let Some(st) = p.status.as_mut() {
        st.conditions = Some(vec![gate("True")]);
    }
    let s = build(&input(&p, &[], &app));
    assert_eq!(csum(&s, "Ready"), tf("True", None, None));
}

#[test]
fn container_states_and_last_state() {
    let p = pod("Always", &[], &["web"]);
    let app = [crashloop("web", 1)];
    let s = build(&input(&p, &[], &app));
    let web = &s.container_statuses.as_ref().unwrap()[0];
    let w = web.state.as_ref().unwrap().waiting.as_ref().unwrap();
    assert_eq!((w.reason.as_deref(), w.message.as_deref()), (Some(CRASH_LOOP_BACK_OFF), Some("back-off 40s")));
    let last = web.last_state.as_ref().unwrap().terminated.as_ref().unwrap();
    assert_eq!((last.exit_code, last.reason.as_deref()), (1, Some("Error")));
    assert_eq!(web.restart_count, 3);
    assert!(!web.ready);
}

#[test]
fn a_container_gone_from_the_worker_was_running_before() {
    let mut p = pod("Always", &[], &["web"]);
    if let Some(st) = p.status.as_mut() {
        st.container_statuses = Some(vec![ContainerStatus {
            name: "web".into(),
            restart_count: 2,
            state: Some(ContainerState {
                running: Some(ContainerStateRunning { started_at: Some(Time(ts(T0))) }),
                ..Default::default()
            }),
            ..Default::default()
        }]);
    }
    let s = build(&input(&p, &[], &[]));
    let web = &s.container_statuses.as_ref().unwrap()[0];
    assert_eq!(web.restart_count, 3);
    let last = web.last_state.as_ref().unwrap().terminated.as_ref().unwrap();
    assert_eq!((last.exit_code, last.reason.as_deref()), (137, Some("ContainerStatusUnknown")));
    // A stopped container, not a pending one.
    assert_eq!(phase(&s), RUNNING);

    // A terminated status is kept as it was.
    if let Some(st) = p.status.as_mut() {
        st.container_statuses.as_mut().unwrap()[0].state =
            Some(ContainerState { terminated: Some(ContainerStateTerminated { exit_code: 0, ..Default::default() }), ..Default::default() });
    }
    let s = build(&input(&p, &[], &[]));
    let web = &s.container_statuses.as_ref().unwrap()[0];
    assert_eq!(web.restart_count, 2);
    assert!(web.state.as_ref().unwrap().terminated.is_some());
}

#[test]
fn addresses_start_time_and_qos() {
    let mut p = pod("Always", &[], &["web"]);
    let app = [running("web")];
    let mut i = input(&p, &[], &app);
    i.pod_ips = vec!["fd00::5".into(), "10.0.0.5".into(), "10.0.0.6".into()];
    i.host_ips = vec!["192.168.1.10".into(), "fd00::1".into(), "10.9.9.9".into()];
    let s = build(&i);
    assert_eq!(s.pod_ip.as_deref(), Some("10.0.0.5"));
    assert_eq!(s.pod_ips.as_ref().unwrap().iter().map(|x| x.ip.as_str()).collect::<Vec<_>>(), vec!["10.0.0.5", "fd00::5"]);
    assert_eq!(s.host_ips.as_ref().unwrap().iter().map(|x| x.ip.as_str()).collect::<Vec<_>>(), vec!["192.168.1.10", "fd00::1"]);

    // No sandbox IPs (torn down): the previous ones stay; so does the start time.
    if let Some(st) = p.status.as_mut() {
        st.pod_ip = Some("10.0.0.7".into());
        st.pod_ips = Some(vec![PodIP { ip: "10.0.0.7".into() }]);
        st.start_time = Some(Time(ts(T1)));
        st.qos_class = None;
    }
    let mut i = input(&p, &[], &app);
    i.pod_ips = vec![];
    i.start_time = Some(ts(NOW));
    let s = build(&i);
    assert_eq!(s.pod_ip.as_deref(), Some("10.0.0.7"));
    assert_eq!(s.start_time, Some(Time(ts(T1))));
    assert_eq!(s.qos_class.as_deref(), Some("BestEffort"));
}

#[test]
fn qos_classes() {
    let q = |s: &str| K8sQuantity(s.into());
    let with = |req: &[(&str, &str)], lim: &[(&str, &str)]| {
        let mut p = pod("Always", &[], &["a"]);
        if let Some(spec) = p.spec.as_mut() {
            spec.containers[0].resources = Some(ResourceRequirements {
                requests: Some(req.iter().map(|(k, v)| (k.to_string(), q(v))).collect()),
                limits: Some(lim.iter().map(|(k, v)| (k.to_string(), q(v))).collect()),
                ..Default::default()
            });
        }
        p
    };
    assert_eq!(qos_class(&with(&[], &[])), "BestEffort");
    assert_eq!(qos_class(&with(&[("cpu", "0")], &[])), "BestEffort");
    assert_eq!(qos_class(&with(&[("cpu", "100m")], &[])), "Burstable");
    assert_eq!(qos_class(&with(&[("cpu", "1"), ("memory", "1Gi")], &[("cpu", "1000m"), ("memory", "1024Mi")])), "Guaranteed");
    assert_eq!(qos_class(&with(&[("cpu", "1"), ("memory", "1Gi")], &[("cpu", "2"), ("memory", "1Gi")])), "Burstable");
    assert_eq!(qos_class(&with(&[("cpu", "1")], &[("cpu", "1")])), "Burstable");
    assert_eq!(qos_class(&with(&[("ephemeral-storage", "1Gi")], &[])), "BestEffort");
}

#[test]
fn volume_mounts_and_resources_in_container_status() {
    let mut p = pod("Always", &[], &["web"]);
    if let Some(spec) = p.spec.as_mut() {
        let c = &mut spec.containers[0];
        c.volume_mounts = Some(vec![
            VolumeMount { name: "config".into(), mount_path: "/etc/config".into(), read_only: Some(true), ..Default::default() },
            VolumeMount { name: "data".into(), mount_path: "/data".into(), ..Default::default() },
        ]);
        c.resources = Some(ResourceRequirements {
            limits: Some([("memory".to_string(), K8sQuantity("64Mi".into()))].into()),
            ..Default::default()
        });
    }
    let app = [running("web")];
    let s = build(&input(&p, &[], &app));
    let web = &s.container_statuses.as_ref().unwrap()[0];
    let json = serde_json::to_value(web).unwrap();
    assert_eq!(
        json["volumeMounts"],
        serde_json::json!([
            {"name": "config", "mountPath": "/etc/config", "readOnly": true, "recursiveReadOnly": "Disabled"},
            {"name": "data", "mountPath": "/data"}
        ])
    );
    assert_eq!(json["resources"], serde_json::json!({"limits": {"memory": "64Mi"}}));
    // Before any run: no resources reported.
    let s = build(&input(&p, &[], &[]));
    assert!(s.container_statuses.as_ref().unwrap()[0].resources.is_none());
}

