//! Integration: the API server in process on a memory store, driven by kube-rs as the
//! controllers, scheduler and node agent will drive it.

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, Preconditions, WatchEvent, WatchParams};
use kube::runtime::watcher;
use serde_json::json;

struct Server {
    _dir: tempfile::TempDir,
    client: kube::Client,
}

async fn start() -> Server {
    start_with(Default::default()).await
}

async fn start_with(store_options: skiff_store::StoreOptions) -> Server {
    let dir = tempfile::tempdir().expect("temp dir");
    let running = skiff_apiserver::start(skiff_apiserver::Config {
        data_dir: dir.path().to_path_buf(),
        listen: "127.0.0.1:0".parse().expect("addr"),
        store: skiff_apiserver::StoreKind::Memory,
        store_options,
    })
    .await
    .expect("server starts");
    let kubeconfig = kube::config::Kubeconfig::read_from(&running.kubeconfig).expect("kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await.expect("config");
    let client = kube::Client::try_from(config).expect("client");
    Server { _dir: dir, client }
}

fn configmap(name: &str) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name, "labels": {"app": "x"}}, "data": {"k": "v"}})).expect("configmap")
}

#[tokio::test]
async fn crud_and_errors_through_kube_rs() {
    let s = start().await;
    let cms: Api<ConfigMap> = Api::namespaced(s.client.clone(), "default");
    let created = cms.create(&PostParams::default(), &configmap("a")).await.expect("create");
    assert!(created.metadata.uid.is_some());
    let err = cms.create(&PostParams::default(), &configmap("a")).await.expect_err("duplicate");
    assert!(matches!(err, kube::Error::Api(ref e) if e.code == 409 && e.reason == "AlreadyExists"), "{err:?}");

    // A stale replace conflicts; the current one goes through.
    let mut stale = created.clone();
    cms.patch("a", &PatchParams::default(), &Patch::Merge(json!({"data": {"k": "w"}}))).await.expect("merge patch");
    stale.data = Some([("k".to_string(), "z".to_string())].into());
    let err = cms.replace("a", &PostParams::default(), &stale).await.expect_err("stale");
    assert!(matches!(err, kube::Error::Api(ref e) if e.code == 409 && e.reason == "Conflict"), "{err:?}");

    cms.patch("a", &PatchParams::default(), &Patch::Strategic(json!({"metadata": {"labels": {"b": "c"}}}))).await.expect("strategic");
    let got = cms.get("a").await.expect("get");
    assert_eq!(got.data.as_ref().and_then(|d| d.get("k")).map(String::as_str), Some("w"));
    assert_eq!(got.metadata.labels.as_ref().map(|l| l.len()), Some(2));

    let listed = cms.list(&ListParams::default().labels("b=c")).await.expect("list");
    assert_eq!(listed.items.len(), 1);
    cms.delete("a", &DeleteParams::default()).await.expect("delete");
    let err = cms.get("a").await.expect_err("gone");
    assert!(matches!(err, kube::Error::Api(ref e) if e.code == 404), "{err:?}");
}

#[tokio::test]
async fn status_and_scale_subresources() {
    let s = start().await;
    let deploys: Api<Deployment> = Api::namespaced(s.client.clone(), "default");
    let d: Deployment = serde_json::from_value(json!({"metadata": {"name": "web"}, "spec": {
        "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}))
    .expect("deployment");
    deploys.create(&PostParams::default(), &d).await.expect("create");
    // The main resource ignores status; /status takes only status.
    deploys.patch("web", &PatchParams::default(), &Patch::Merge(json!({"status": {"replicas": 9}}))).await.expect("patch main");
    assert_eq!(deploys.get("web").await.expect("get").status.and_then(|s| s.replicas), None);
    let got = deploys
        .patch_status("web", &PatchParams::default(), &Patch::Merge(json!({"status": {"replicas": 3}, "spec": {"replicas": 7}})))
        .await
        .expect("patch status");
    assert_eq!(got.status.and_then(|s| s.replicas), Some(3));
    assert_eq!(got.spec.and_then(|s| s.replicas), Some(1));
    assert_eq!(got.metadata.generation, Some(1), "status writes do not move generation");

    let scale = deploys.patch_scale("web", &PatchParams::default(), &Patch::Merge(json!({"spec": {"replicas": 4}}))).await.expect("scale");
    assert_eq!(scale.spec.and_then(|s| s.replicas), Some(4));
    assert_eq!(scale.status.map(|s| s.selector), Some(Some("app=web".to_string())));
    let d = deploys.get("web").await.expect("get");
    assert_eq!(d.spec.and_then(|s| s.replicas), Some(4));
    assert_eq!(d.metadata.generation, Some(2));
}

#[tokio::test]
async fn watches_resume_and_reflect() {
    let s = start().await;
    let cms: Api<ConfigMap> = Api::namespaced(s.client.clone(), "default");
    let first = cms.create(&PostParams::default(), &configmap("one")).await.expect("create");
    let rv = first.metadata.resource_version.clone().expect("rv");

    // A raw watch from a resourceVersion sees only what came after it.
    let mut stream = cms.watch(&WatchParams::default().timeout(10), &rv).await.expect("watch").boxed();
    cms.create(&PostParams::default(), &configmap("two")).await.expect("create two");
    match tokio::time::timeout(Duration::from_secs(5), stream.try_next()).await {
        Ok(Ok(Some(WatchEvent::Added(cm)))) => assert_eq!(cm.metadata.name.as_deref(), Some("two")),
        other => panic!("expected ADDED two, got {other:?}"),
    }
    cms.delete("two", &DeleteParams::default()).await.expect("delete");
    match tokio::time::timeout(Duration::from_secs(5), stream.try_next()).await {
        Ok(Ok(Some(WatchEvent::Deleted(cm)))) => assert_eq!(cm.metadata.name.as_deref(), Some("two")),
        other => panic!("expected DELETED two, got {other:?}"),
    }

    // kube-runtime's watcher (list, then watch with bookmarks) as controllers use it.
    let pods: Api<Pod> = Api::namespaced(s.client.clone(), "default");
    let mut w = watcher(pods.clone(), watcher::Config::default()).boxed();
    let p: Pod = serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}})).expect("pod");
    let creator = tokio::spawn(async move {
        pods.create(&PostParams::default(), &p).await.expect("create pod");
    });
    // The pod arrives in the initial list or as a later event, whichever comes first.
    let seen = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(ev) = w.try_next().await.expect("watcher") {
            if let watcher::Event::Apply(pod) | watcher::Event::InitApply(pod) = ev {
                return pod.metadata.name;
            }
        }
        None
    })
    .await
    .expect("watcher saw the pod");
    creator.await.expect("creator");
    assert_eq!(seen.as_deref(), Some("p"));
}

#[tokio::test]
async fn finalizers_hold_a_delete_until_cleared() {
    let s = start().await;
    let cms: Api<ConfigMap> = Api::namespaced(s.client.clone(), "default");
    let mut cm = configmap("held");
    cm.metadata.finalizers = Some(vec!["example.com/hold".into()]);
    cms.create(&PostParams::default(), &cm).await.expect("create");
    let pending = cms.delete("held", &DeleteParams::default()).await.expect("delete");
    assert!(pending.is_left(), "the object stays while finalizers remain");
    let got = cms.get("held").await.expect("still there");
    assert!(got.metadata.deletion_timestamp.is_some());
    // Finalizers may be removed, and the last one's removal completes the delete.
    cms.patch("held", &PatchParams::default(), &Patch::Merge(json!({"metadata": {"finalizers": null}}))).await.expect("clear");
    assert!(matches!(cms.get("held").await, Err(kube::Error::Api(e)) if e.code == 404));
}

#[tokio::test]
async fn preconditions_generate_name_and_delete_collection() {
    let s = start().await;
    let cms: Api<ConfigMap> = Api::namespaced(s.client.clone(), "default");
    let mut cm = configmap("");
    cm.metadata.name = None;
    cm.metadata.generate_name = Some("gen-".into());
    let made = cms.create(&PostParams::default(), &cm).await.expect("create");
    let name = made.metadata.name.clone().expect("generated");
    assert!(name.starts_with("gen-") && name.len() == 9, "{name}");

    let wrong = DeleteParams { preconditions: Some(Preconditions { uid: Some("nope".into()), resource_version: None }), ..Default::default() };
    let err = cms.delete(&name, &wrong).await.expect_err("uid precondition");
    assert!(matches!(err, kube::Error::Api(ref e) if e.code == 409 && e.message.contains("Precondition failed: UID in precondition: nope")), "{err:?}");

    for n in ["x1", "x2", "x3"] {
        cms.create(&PostParams::default(), &configmap(n)).await.expect("create");
    }
    cms.patch("x3", &PatchParams::default(), &Patch::Merge(json!({"metadata": {"labels": {"keep": "yes"}}}))).await.expect("label");
    cms.delete_collection(&DeleteParams::default(), &ListParams::default().labels("app=x,!keep")).await.expect("delete collection");
    let left: Vec<String> = cms.list(&ListParams::default()).await.expect("list").items.into_iter().filter_map(|c| c.metadata.name).collect();
    assert_eq!(left, vec!["x3".to_string()]);
}

#[tokio::test]
async fn a_watch_from_a_compacted_revision_gets_410() {
    let s = start_with(skiff_store::StoreOptions { history: 16, ..Default::default() }).await;
    let cms: Api<ConfigMap> = Api::namespaced(s.client.clone(), "default");
    let first = cms.create(&PostParams::default(), &configmap("c0")).await.expect("create");
    for i in 1..40 {
        cms.create(&PostParams::default(), &configmap(&format!("c{i}"))).await.expect("create");
    }
    let rv = first.metadata.resource_version.expect("rv");
    let mut stream = cms.watch(&WatchParams::default(), &rv).await.expect("watch").boxed();
    match tokio::time::timeout(Duration::from_secs(5), stream.try_next()).await {
        Ok(Ok(Some(WatchEvent::Error(e)))) => {
            assert_eq!(e.code, 410);
            assert!(e.message.starts_with(&format!("too old resource version: {rv}")), "{}", e.message);
        }
        other => panic!("expected a 410 ERROR event, got {other:?}"),
    }
    // kube-runtime's watcher recovers from that by re-listing.
    let mut w = watcher(cms.clone(), watcher::Config::default()).boxed();
    let init = tokio::time::timeout(Duration::from_secs(5), w.try_next()).await.expect("watcher starts").expect("no error");
    assert!(matches!(init, Some(watcher::Event::Init)));
}

#[tokio::test]
async fn a_flood_of_watches_and_requests_leaves_the_server_serving() {
    let s = start().await;
    let cms: Api<ConfigMap> = Api::namespaced(s.client.clone(), "default");
    let mut watches = Vec::new();
    for _ in 0..200 {
        watches.push(cms.watch(&WatchParams::default().timeout(30), "0").await.expect("watch").boxed());
    }
    let writes = futures::future::join_all((0..500).map(|i| {
        let cms = cms.clone();
        async move { cms.create(&PostParams::default(), &configmap(&format!("f{i}"))).await }
    }))
    .await;
    let ok = writes.iter().filter(|w| w.is_ok()).count();
    // Past the in-flight limit the server answers 429 rather than queueing without bound.
    for w in writes.iter().filter_map(|w| w.as_ref().err()) {
        assert!(matches!(w, kube::Error::Api(e) if e.code == 429), "{w:?}");
    }
    drop(watches);
    let listed = cms.list(&ListParams::default()).await.expect("list after the flood");
    assert_eq!(listed.items.len(), ok);
}

#[tokio::test]
async fn binding_assigns_a_pod_once() {
    let s = start().await;
    let pods: Api<Pod> = Api::namespaced(s.client.clone(), "default");
    let p: Pod = serde_json::from_value(json!({"metadata": {"name": "b"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}})).expect("pod");
    pods.create(&PostParams::default(), &p).await.expect("create");
    let binding = |node: &str| json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "b"}, "target": {"kind": "Node", "name": node}});
    let _: serde_json::Value = pods.create_subresource("binding", "b", &PostParams::default(), &binding("n1")).await.expect("bind");
    let got = pods.get("b").await.expect("get");
    assert_eq!(got.spec.and_then(|s| s.node_name).as_deref(), Some("n1"));
    let conds = got.status.and_then(|s| s.conditions).unwrap_or_default();
    assert!(conds.iter().any(|c| c.type_ == "PodScheduled" && c.status == "True"), "{conds:?}");
    let err = pods.create_subresource::<serde_json::Value, serde_json::Value>("binding", "b", &PostParams::default(), &binding("n2")).await.expect_err("bound once");
    assert!(matches!(err, kube::Error::Api(ref e) if e.code == 409 && e.message.contains("is already assigned to node \"n1\"")), "{err:?}");
}
