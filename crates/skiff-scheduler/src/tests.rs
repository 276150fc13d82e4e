//! End-to-end scenarios through `schedule_one` and `Snapshot::assume`, as the loop uses them.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, Pod};
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde_json::{json, Value};

use crate::plugins::testutil::{bound, node, node_with, pod, sidecar_and_init_pod};
use crate::{schedule_one, wants_scheduling, FitError, Snapshot};

fn rng() -> StdRng {
    StdRng::seed_from_u64(42)
}

fn cluster(nodes: Vec<Arc<Node>>) -> Snapshot {
    let mut s = Snapshot::new();
    for n in nodes {
        s.upsert_node(n);
    }
    s
}

/// Schedules and assumes `pod`, returning the node.
fn place(s: &mut Snapshot, p: &Pod, rng: &mut StdRng) -> Result<String, FitError> {
    let node = schedule_one(p, s, rng)?;
    s.assume(p, &node);
    Ok(node)
}

fn err(s: &Snapshot, p: &Pod) -> String {
    match schedule_one(p, s, &mut rng()) {
        Ok(n) => panic!("expected a FitError, got node {n}"),
        Err(e) => e.to_string(),
    }
}

fn labelled(name: &str, cpu: &str, labels: Value) -> Arc<Node> {
    node(name, cpu, "16Gi", labels)
}

#[test]
fn schedule_fit_error_mixed_reasons_exact_text() {
    let s = cluster(vec![
        labelled("n1", "8", json!({})),
        labelled("n2", "1", json!({"disk": "ssd"})),
        labelled("n3", "1", json!({"disk": "ssd"})),
    ]);
    let p = pod(
        "p",
        json!({}),
        "2",
        "",
        json!({"nodeSelector": {"disk": "ssd"}}),
    );
    assert_eq!(
        err(&s, &p),
        "0/3 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 2 Insufficient cpu. \
         preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, \
         2 No preemption victims found for incoming pod."
    );
    let e = schedule_one(&p, &s, &mut rng()).expect_err("no fit");
    assert_eq!(e.num_all_nodes, 3);
    assert_eq!(
        e.reasons,
        BTreeMap::from([
            ("Insufficient cpu".to_string(), 2),
            (
                "node(s) didn't match Pod's node affinity/selector".to_string(),
                1
            )
        ])
    );
    assert_eq!(
        e.unschedulable_plugins
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        ["NodeAffinity", "NodeResourcesFit"]
    );
}

#[test]
fn schedule_fit_error_other_shapes() {
    assert_eq!(
        err(&Snapshot::new(), &pod("p", json!({}), "", "", json!({}))),
        "no nodes available to schedule pods"
    );

    let cordoned = cluster(vec![node_with(
        "n1",
        "4",
        "8Gi",
        json!({}),
        json!({"unschedulable": true}),
    )]);
    assert_eq!(
        err(&cordoned, &pod("p", json!({}), "", "", json!({}))),
        "0/1 nodes are available: 1 node(s) were unschedulable. preemption: 0/1 nodes are available: \
         1 Preemption is not helpful for scheduling."
    );

    let small = cluster(vec![labelled("n1", "1", json!({}))]);
    let never = pod(
        "p",
        json!({}),
        "2",
        "",
        json!({"preemptionPolicy": "Never"}),
    );
    assert_eq!(
        err(&small, &never),
        "0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never."
    );

    let s = cluster(vec![
        labelled("n1", "1", json!({})),
        labelled("n2", "8", json!({})),
        labelled("n3", "8", json!({})),
    ]);
    let pinned = pod(
        "p",
        json!({}),
        "2",
        "",
        json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}]}}}}),
    );
    assert_eq!(
        err(&s, &pinned),
        "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't satisfy plugin(s) [NodeAffinity]. \
         preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, \
         2 Preemption is not helpful for scheduling."
    );
    let conflict = pod(
        "p",
        json!({}),
        "",
        "",
        json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]},
                             {"key": "metadata.name", "operator": "In", "values": ["n2"]}]}]}}}}),
    );
    assert_eq!(
        err(&s, &conflict),
        "0/3 nodes are available: pod affinity terms conflict. preemption: 0/3 nodes are available: \
         3 Preemption is not helpful for scheduling."
    );
}

#[test]
fn schedule_node_selector_and_required_affinity() {
    let s = cluster(vec![
        labelled("hdd", "4", json!({"disk": "hdd", "gen": "3"})),
        labelled("ssd", "4", json!({"disk": "ssd", "gen": "5"})),
        labelled("nvme", "4", json!({"disk": "nvme", "gen": "7"})),
    ]);
    let mut r = rng();
    let p = pod(
        "p",
        json!({}),
        "",
        "",
        json!({"nodeSelector": {"disk": "ssd"}}),
    );
    for _ in 0..5 {
        assert_eq!(schedule_one(&p, &s, &mut r).expect("fits"), "ssd");
    }
    let required = |exprs: Value| {
        pod(
            "p",
            json!({}),
            "",
            "",
            json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": exprs}]}}}}),
        )
    };
    let p = required(
        json!([{"key": "disk", "operator": "In", "values": ["ssd", "nvme"]},
                            {"key": "disk", "operator": "NotIn", "values": ["nvme"]}]),
    );
    assert_eq!(schedule_one(&p, &s, &mut r).expect("fits"), "ssd");
    let p = required(json!([{"key": "gen", "operator": "Gt", "values": ["5"]}]));
    assert_eq!(schedule_one(&p, &s, &mut r).expect("fits"), "nvme");
    let p = required(json!([{"key": "gen", "operator": "Gt", "values": ["7"]}]));
    assert!(err(&s, &p).starts_with(
        "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector."
    ));
}

#[test]
fn schedule_preferred_node_affinity_picks_heavier_term() {
    let s = cluster(vec![
        labelled("light", "4", json!({"tier": "light"})),
        labelled("heavy", "4", json!({"tier": "heavy"})),
    ]);
    let p = pod(
        "p",
        json!({}),
        "",
        "",
        json!({"affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 10, "preference": {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["light"]}]}},
            {"weight": 90, "preference": {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["heavy"]}]}}]}}}),
    );
    let mut r = rng();
    for _ in 0..10 {
        assert_eq!(schedule_one(&p, &s, &mut r).expect("fits"), "heavy");
    }
}

#[test]
fn schedule_anti_affinity_spreads_replicas_over_hostnames() {
    let mut s = cluster(vec![
        labelled("n1", "8", json!({})),
        labelled("n2", "8", json!({})),
        labelled("n3", "8", json!({})),
    ]);
    let replica = |i: usize| {
        pod(
            &format!("web-{i}"),
            json!({"app": "web"}),
            "100m",
            "",
            json!({"affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "kubernetes.io/hostname"}]}}}),
        )
    };
    let mut r = rng();
    let mut used: Vec<String> = (0..3)
        .map(|i| place(&mut s, &replica(i), &mut r).expect("fits"))
        .collect();
    used.sort();
    assert_eq!(used, ["n1", "n2", "n3"]);
    assert_eq!(
        err(&s, &replica(3)),
        "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules. preemption: 0/3 nodes are available: \
         3 No preemption victims found for incoming pod."
    );
    // A binding that fails frees the host again.
    s.forget("default", "web-1");
    assert!(place(&mut s, &replica(3), &mut r).is_ok());
}

#[test]
fn schedule_pod_affinity_colocates_by_zone() {
    let mut s = cluster(vec![
        labelled("a1", "8", json!({"topology.kubernetes.io/zone": "a"})),
        labelled("a2", "8", json!({"topology.kubernetes.io/zone": "a"})),
        labelled("b1", "8", json!({"topology.kubernetes.io/zone": "b"})),
        labelled("b2", "8", json!({"topology.kubernetes.io/zone": "b"})),
    ]);
    s.upsert_pod(bound(
        pod("cache", json!({"app": "cache"}), "", "", json!({})),
        "b2",
    ));
    let web = pod(
        "web",
        json!({"app": "web"}),
        "100m",
        "",
        json!({"affinity": {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
            {"labelSelector": {"matchLabels": {"app": "cache"}}, "topologyKey": "topology.kubernetes.io/zone"}]}}}),
    );
    let mut r = rng();
    for _ in 0..20 {
        let n = schedule_one(&web, &s, &mut r).expect("fits");
        assert!(n == "b1" || n == "b2", "{n}");
    }
}

#[test]
fn schedule_symmetry_keeps_pods_off_nodes_that_repel_them() {
    let mut s = cluster(vec![
        labelled("n1", "8", json!({})),
        labelled("n2", "8", json!({})),
    ]);
    let loner = pod(
        "loner",
        json!({"app": "loner"}),
        "",
        "",
        json!({"affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
            {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "kubernetes.io/hostname"}]}}}),
    );
    s.upsert_pod(bound(loner, "n1"));
    let web = pod("web", json!({"app": "web"}), "", "", json!({}));
    let mut r = rng();
    for _ in 0..10 {
        assert_eq!(schedule_one(&web, &s, &mut r).expect("fits"), "n2");
    }
    s.upsert_node(node_with(
        "n2",
        "8",
        "16Gi",
        json!({}),
        json!({"unschedulable": true}),
    ));
    assert_eq!(
        err(&s, &web),
        "0/2 nodes are available: 1 node(s) didn't satisfy existing pods anti-affinity rules, 1 node(s) were unschedulable. \
         preemption: 0/2 nodes are available: 1 No preemption victims found for incoming pod, 1 Preemption is not helpful for scheduling."
    );
}

#[test]
fn schedule_taints_and_tolerations() {
    let tainted = |name: &str| {
        node_with(
            name,
            "8",
            "16Gi",
            json!({}),
            json!({"taints": [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]}),
        )
    };
    let mut s = cluster(vec![tainted("gpu1"), labelled("plain", "8", json!({}))]);
    let mut r = rng();
    let p = pod("p", json!({}), "", "", json!({}));
    for _ in 0..10 {
        assert_eq!(schedule_one(&p, &s, &mut r).expect("fits"), "plain");
    }
    let tolerant = pod(
        "t",
        json!({}),
        "",
        "",
        json!({"tolerations": [{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}]}),
    );
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..30 {
        seen.insert(schedule_one(&tolerant, &s, &mut r).expect("fits"));
    }
    assert_eq!(seen.len(), 2, "a toleration allows but does not attract");
    s.remove_node("plain");
    assert_eq!(
        err(&s, &p),
        "0/1 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}. preemption: 0/1 nodes are available: \
         1 Preemption is not helpful for scheduling."
    );
    // PreferNoSchedule steers away without forbidding.
    let mut s = cluster(vec![
        node_with(
            "soft",
            "8",
            "16Gi",
            json!({}),
            json!({"taints": [{"key": "x", "effect": "PreferNoSchedule"}]}),
        ),
        labelled("plain", "8", json!({})),
    ]);
    for _ in 0..10 {
        assert_eq!(schedule_one(&p, &s, &mut r).expect("fits"), "plain");
    }
    s.remove_node("plain");
    assert_eq!(schedule_one(&p, &s, &mut r).expect("fits"), "soft");
}

#[test]
fn schedule_not_ready_and_cordoned_nodes_are_skipped() {
    let not_ready: Node = serde_json::from_value(json!({
        "metadata": {"name": "down", "labels": {"kubernetes.io/hostname": "down"}},
        "status": {"allocatable": {"cpu": "8", "memory": "16Gi", "pods": "110"},
                   "conditions": [{"type": "Ready", "status": "False"}]}
    }))
    .expect("node");
    let s = cluster(vec![
        Arc::new(not_ready),
        node_with(
            "cordoned",
            "8",
            "16Gi",
            json!({}),
            json!({"unschedulable": true}),
        ),
        labelled("up", "1", json!({})),
    ]);
    let mut r = rng();
    assert_eq!(
        schedule_one(&pod("p", json!({}), "", "", json!({})), &s, &mut r).expect("fits"),
        "up"
    );
    assert_eq!(
        err(&s, &pod("p", json!({}), "2", "", json!({}))),
        "0/3 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }, \
         1 node(s) were unschedulable. preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, \
         2 Preemption is not helpful for scheduling."
    );
}

#[test]
fn schedule_host_port_conflicts() {
    let mut s = cluster(vec![
        labelled("n1", "8", json!({})),
        labelled("n2", "8", json!({})),
    ]);
    let web = |i: usize| {
        pod(
            &format!("w{i}"),
            json!({}),
            "",
            "",
            json!({"containers": [{"name": "c", "ports": [{"containerPort": 80, "hostPort": 80}]}]}),
        )
    };
    let mut r = rng();
    let a = place(&mut s, &web(0), &mut r).expect("fits");
    let b = place(&mut s, &web(1), &mut r).expect("fits");
    assert_ne!(a, b);
    assert_eq!(
        err(&s, &web(2)),
        "0/2 nodes are available: 2 node(s) didn't have free ports for the requested pod ports. \
         preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod."
    );
    // The pod finishing frees the port.
    let mut done = (*bound(web(0), &a)).clone();
    done.status = serde_json::from_value(json!({"phase": "Succeeded"})).expect("status");
    s.upsert_pod(Arc::new(done));
    assert_eq!(place(&mut s, &web(2), &mut r).expect("fits"), a);
}

#[test]
fn schedule_topology_spread_balances_zones() {
    let mut s = cluster(vec![
        labelled("a1", "8", json!({"topology.kubernetes.io/zone": "a"})),
        labelled("a2", "8", json!({"topology.kubernetes.io/zone": "a"})),
        labelled("a3", "8", json!({"topology.kubernetes.io/zone": "a"})),
        labelled("b1", "8", json!({"topology.kubernetes.io/zone": "b"})),
    ]);
    let replica = |i: usize| {
        pod(
            &format!("w{i}"),
            json!({"app": "web"}),
            "100m",
            "",
            json!({"topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
                "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {"matchLabels": {"app": "web"}}}]}),
        )
    };
    let mut r = rng();
    let mut per_zone = BTreeMap::new();
    for i in 0..6 {
        let n = place(&mut s, &replica(i), &mut r).expect("fits");
        *per_zone.entry(n.starts_with('a')).or_insert(0) += 1;
    }
    assert_eq!(
        per_zone,
        BTreeMap::from([(false, 3), (true, 3)]),
        "zone b's single node takes half"
    );
}

#[test]
fn schedule_init_and_sidecar_requests() {
    let s = cluster(vec![labelled("n1", "3", json!({}))]);
    let mut r = rng();
    // Sidecar 1 + app 1 run together (2); the init container starts after the sidecar: 1 + 2.5.
    let heavy = sidecar_and_init_pod(true);
    assert!(err(&s, &heavy).starts_with("0/1 nodes are available: 1 Insufficient cpu."));
    let ok = sidecar_and_init_pod(false);
    assert_eq!(schedule_one(&ok, &s, &mut r).expect("fits"), "n1");
    let overhead = pod(
        "p",
        json!({}),
        "2900m",
        "",
        json!({"overhead": {"cpu": "200m"}}),
    );
    assert!(err(&s, &overhead).starts_with("0/1 nodes are available: 1 Insufficient cpu."));
}

#[test]
fn schedule_random_tie_breaking_spreads_pods() {
    let s = cluster(
        (0..4)
            .map(|i| labelled(&format!("n{i}"), "8", json!({})))
            .collect(),
    );
    let p = pod("p", json!({}), "100m", "", json!({}));
    let mut r = rng();
    let mut hits = BTreeMap::new();
    for _ in 0..400 {
        *hits
            .entry(schedule_one(&p, &s, &mut r).expect("fits"))
            .or_insert(0) += 1;
    }
    assert_eq!(hits.len(), 4);
    assert!(hits.values().all(|&h| (70..=130).contains(&h)), "{hits:?}");

    // With assume, equal replicas land one per node.
    let mut s = cluster(
        (0..5)
            .map(|i| labelled(&format!("n{i}"), "8", json!({})))
            .collect(),
    );
    let mut nodes: Vec<String> = (0..5)
        .map(|i| {
            place(
                &mut s,
                &pod(&format!("r{i}"), json!({}), "100m", "", json!({})),
                &mut r,
            )
            .expect("fits")
        })
        .collect();
    nodes.sort();
    nodes.dedup();
    assert_eq!(nodes.len(), 5);
}

#[test]
fn schedule_default_spreading_by_controller() {
    let mut s = cluster(vec![
        node("n0", "128", "512Gi", json!({})),
        labelled("n1", "64", json!({})),
        labelled("n2", "64", json!({})),
    ]);
    // Half-full n1 and n2 make LeastAllocated prefer n0 for every replica; spreading by
    // the controller (upstream's default constraints) still gives each replica a node.
    s.upsert_pod(bound(pod("load1", json!({}), "32", "", json!({})), "n1"));
    s.upsert_pod(bound(pod("load2", json!({}), "32", "", json!({})), "n2"));
    let owned = |i: usize| {
        let mut p = pod(&format!("r{i}"), json!({"app": "web"}), "", "", json!({}));
        p.metadata.owner_references = serde_json::from_value(json!([
            {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web", "uid": "rs-web", "controller": true}]))
        .expect("owner");
        p
    };
    let mut r = rng();
    let mut nodes: Vec<String> = (0..3)
        .map(|i| place(&mut s, &owned(i), &mut r).expect("fits"))
        .collect();
    nodes.sort();
    assert_eq!(nodes, ["n0", "n1", "n2"]);
    // Unowned pods have no default spreading: they all prefer the emptier n0.
    let mut r = rng();
    for i in 0..3 {
        assert_eq!(
            place(
                &mut s,
                &pod(&format!("u{i}"), json!({}), "", "", json!({})),
                &mut r
            )
            .expect("fits"),
            "n0"
        );
    }
}

#[test]
fn schedule_search_rotates_and_stops_early() {
    let s = cluster(
        (0..200)
            .map(|i| labelled(&format!("n{i:03}"), "8", json!({})))
            .collect(),
    );
    let p = pod("p", json!({}), "100m", "", json!({}));
    let mut r = rng();
    schedule_one(&p, &s, &mut r).expect("fits");
    // 200 nodes: 100 feasible nodes are enough; the next search starts after them.
    assert_eq!(s.next_start.load(std::sync::atomic::Ordering::Relaxed), 100);
    schedule_one(&p, &s, &mut r).expect("fits");
    assert_eq!(s.next_start.load(std::sync::atomic::Ordering::Relaxed), 0);
}

#[test]
fn schedule_wants_scheduling() {
    let p = |spec: Value, meta: Value, status: Value| -> Pod {
        let mut m = json!({"name": "p", "namespace": "default"});
        if let (Some(dst), Some(src)) = (m.as_object_mut(), meta.as_object()) {
            for (k, v) in src {
                dst.insert(k.clone(), v.clone());
            }
        }
        let mut sp = json!({"containers": [{"name": "c"}]});
        if let (Some(dst), Some(src)) = (sp.as_object_mut(), spec.as_object()) {
            for (k, v) in src {
                dst.insert(k.clone(), v.clone());
            }
        }
        serde_json::from_value(json!({"metadata": m, "spec": sp, "status": status})).expect("pod")
    };
    assert!(wants_scheduling(&p(json!({}), json!({}), json!({}))));
    assert!(wants_scheduling(&p(
        json!({"schedulerName": "default-scheduler"}),
        json!({}),
        json!({"phase": "Pending"})
    )));
    assert!(!wants_scheduling(&p(
        json!({"schedulerName": "other"}),
        json!({}),
        json!({})
    )));
    assert!(!wants_scheduling(&p(
        json!({"nodeName": "n1"}),
        json!({}),
        json!({})
    )));
    assert!(!wants_scheduling(&p(
        json!({}),
        json!({"deletionTimestamp": "2024-01-01T00:00:00Z"}),
        json!({})
    )));
    assert!(!wants_scheduling(&p(
        json!({}),
        json!({}),
        json!({"phase": "Failed"})
    )));
    assert!(!wants_scheduling(&p(
        json!({"schedulingGates": [{"name": "wait"}]}),
        json!({}),
        json!({})
    )));
}

/// Resident set size of this process in KiB (Linux), for the benchmark's report.
fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Throughput of `schedule_one` + `assume` for 10,000 pods on 1,000 nodes. Run with
/// `cargo test -p skiff-scheduler --release -- --ignored --nocapture`.
#[test]
#[ignore]
fn bench_schedule_1000_nodes_10000_pods() {
    use std::time::{Duration, Instant};

    const NODES: usize = 1000;
    const PODS: usize = 10_000;
    let base_rss = rss_kib().unwrap_or(0);
    for variant in ["plain", "replicasets", "anti-affinity"] {
        let mut s = Snapshot::new();
        for i in 0..NODES {
            let zone = format!("zone-{}", i % 3);
            s.upsert_node(node(
                &format!("node-{i:04}"),
                "32",
                "128Gi",
                json!({"topology.kubernetes.io/zone": zone}),
            ));
        }
        let template = match variant {
            "anti-affinity" => pod(
                "t",
                json!({}),
                "100m",
                "128Mi",
                json!({"affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                    {"labelSelector": {"matchLabels": {"app": "X"}}, "topologyKey": "kubernetes.io/hostname"}]}}}),
            ),
            _ => pod("t", json!({}), "100m", "128Mi", json!({})),
        };
        let mut rng = StdRng::seed_from_u64(1);
        let mut spent = Duration::ZERO;
        let mut placed = 0;
        for i in 0..PODS {
            // 1,000 groups of 10 replicas; building the pod is not timed.
            let group = format!("app-{}", i / 10);
            let mut p = template.clone();
            p.metadata.name = Some(format!("pod-{i}"));
            p.metadata.uid = Some(format!("uid-{i}"));
            p.metadata.resource_version = Some("1".into());
            p.metadata.labels = Some([("app".to_string(), group.clone())].into());
            if variant == "replicasets" {
                p.metadata.owner_references =
                    serde_json::from_value(json!([{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                    "name": group, "uid": format!("rs-{group}"), "controller": true}]))
                    .ok();
            }
            if let Some(terms) = p
                .spec
                .as_mut()
                .and_then(|sp| sp.affinity.as_mut())
                .and_then(|a| a.pod_anti_affinity.as_mut())
                .and_then(|aa| {
                    aa.required_during_scheduling_ignored_during_execution
                        .as_mut()
                })
            {
                if let Some(sel) = terms[0].label_selector.as_mut() {
                    sel.match_labels = Some([("app".to_string(), group.clone())].into());
                }
            }
            let t = Instant::now();
            let res = schedule_one(&p, &s, &mut rng);
            if let Ok(n) = &res {
                s.assume(&p, n);
                placed += 1;
            }
            spent += t.elapsed();
        }
        let rate = PODS as f64 / spent.as_secs_f64();
        let rss = rss_kib().unwrap_or(0);
        println!(
            "{variant:>14}: {PODS} pods on {NODES} nodes in {:.3}s = {rate:.0} pods/s ({placed} placed); RSS {} MiB (base {} MiB)",
            spent.as_secs_f64(),
            rss / 1024,
            base_rss / 1024
        );
        assert_eq!(placed, PODS);
        if variant == "anti-affinity" {
            // No two replicas of a group share a node.
            for g in 0..PODS / 10 {
                let mut nodes: Vec<&str> = (0..10)
                    .filter_map(|k| s.node_of("default", &format!("pod-{}", g * 10 + k)))
                    .collect();
                nodes.sort();
                nodes.dedup();
                assert_eq!(nodes.len(), 10);
            }
        }
    }
}
