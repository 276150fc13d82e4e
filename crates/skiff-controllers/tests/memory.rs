//! What the caches cost per pod, measured with a counting allocator:
//! `cargo test -p skiff-controllers --release --test memory -- --ignored --nocapture`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;
use skiff_controllers::garbagecollector::{GraphEvent, Graph, ObjectInfo};
use skiff_controllers::informer::Informer;
use skiff_controllers::pods::PodInfo;

struct Counting;
static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static A: Counting = Counting;

fn pod(i: usize) -> Pod {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": format!("big-{i:05}"), "namespace": "rs", "uid": format!("8f7d2c4e-1b2a-4c3d-9e8f-{i:012}"), "resourceVersion": format!("{}", 100000 + i),
            "creationTimestamp": "2026-11-21T10:00:00Z", "labels": {"app": "big"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "big", "uid": "0d3c5a8e-2f1b-4e6a-8c7d-123456789abc", "controller": true, "blockOwnerDeletion": true}]},
        "spec": {"containers": [{"name": "main", "image": "busybox:1.36", "command": ["sleep", "3600"]}], "nodeName": format!("sim-{}", i % 100)},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2026-11-21T10:00:01Z"}],
            "containerStatuses": [{"name": "main", "image": "busybox:1.36", "imageID": "", "ready": true, "restartCount": 0}]}
    }))
    .expect("pod")
}

#[test]
#[ignore]
fn bytes_per_pod() {
    const N: usize = 10_000;
    let pods: Vec<Pod> = (0..N).map(pod).collect();
    let before = LIVE.load(Ordering::Relaxed);
    let informer: Arc<Informer<PodInfo>> = Informer::new();
    for p in pods.iter().cloned() {
        if let Some(info) = PodInfo::from_pod(p) {
            informer.apply(info);
        }
    }
    let cache = LIVE.load(Ordering::Relaxed) - before;
    let mut graph = Graph::new();
    for p in informer.store.list() {
        graph.process(GraphEvent::Upsert(ObjectInfo::from_pod(&p)));
    }
    let gc = LIVE.load(Ordering::Relaxed) - before - cache;
    println!("pod cache: {} bytes per pod; collector graph: {} bytes per pod", cache / N as isize, gc / N as isize);
}
