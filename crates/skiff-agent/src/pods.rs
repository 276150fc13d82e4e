//! The pod manager: watches the pods bound to this node and gives each its worker;
//! removes what is left on the host of pods that no longer exist.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use kube::runtime::{watcher, WatchStreamExt};
use parking_lot::RwLock;
use tokio::sync::watch;

use crate::runtime::Runtime;
use crate::worker::Worker;
use crate::Ctx;

/// The pods this node runs, by namespace and name (for logs, exec and metrics).
pub type PodIndex = Arc<RwLock<HashMap<(String, String), Arc<Pod>>>>;

pub async fn manage<R: Runtime>(ctx: Arc<Ctx<R>>, index: PodIndex) {
    let pods: Api<Pod> = Api::all(ctx.client.clone());
    let cfg = watcher::Config::default().fields(&format!("spec.nodeName={}", ctx.node_name));
    // Back off while the API server is unreachable instead of retrying in a tight loop.
    let mut stream = watcher(pods, cfg).default_backoff().boxed();
    let mut workers: HashMap<String, watch::Sender<Option<Arc<Pod>>>> = HashMap::new();
    let mut relist: Option<HashSet<String>> = None;
    while let Some(ev) = stream.next().await {
        let ev = match ev {
            Ok(ev) => ev,
            Err(e) => {
                tracing::warn!("watching pods: {e}");
                continue;
            }
        };
        match ev {
            watcher::Event::Init => relist = Some(HashSet::new()),
            watcher::Event::InitApply(p) | watcher::Event::Apply(p) => {
                let uid = p.metadata.uid.clone().unwrap_or_default();
                if let Some(seen) = relist.as_mut() {
                    seen.insert(uid.clone());
                }
                let p = Arc::new(p);
                index.write().insert(key(&p), p.clone());
                match workers.get(&uid) {
                    Some(tx) if !tx.is_closed() => {
                        let _ = tx.send(Some(p));
                    }
                    _ => {
                        let (tx, rx) = watch::channel(Some(p.clone()));
                        workers.insert(uid, tx);
                        tokio::spawn(Worker::new(ctx.clone(), p).run(rx));
                    }
                }
            }
            watcher::Event::Delete(p) => {
                index.write().remove(&key(&p));
                if let Some(tx) = workers.remove(p.metadata.uid.as_deref().unwrap_or_default()) {
                    let _ = tx.send(None);
                }
            }
            watcher::Event::InitDone => {
                let seen = relist.take().unwrap_or_default();
                // Pods deleted while we were not watching.
                workers.retain(|uid, tx| {
                    let keep = seen.contains(uid);
                    if !keep {
                        let _ = tx.send(None);
                    }
                    keep
                });
                index.write().retain(|_, p| seen.contains(p.metadata.uid.as_deref().unwrap_or_default()));
                // Whatever is on the host for pods the API no longer has.
                let rt = ctx.runtime.clone();
                let orphans: Vec<String> = rt.pods().into_iter().filter(|uid| !seen.contains(uid)).collect();
                if !orphans.is_empty() {
                    tokio::task::spawn_blocking(move || orphans.iter().for_each(|uid| rt.remove_sandbox(uid)));
                }
            }
        }
    }
}

fn key(p: &Pod) -> (String, String) {
    (p.metadata.namespace.clone().unwrap_or_default(), p.metadata.name.clone().unwrap_or_default())
}
