//! Shared informers: one watch per resource, a cache of what it saw (optionally a slim
//! projection of each object, to keep memory low with many pods), and handlers that the
//! controllers register to hear of additions, updates and deletions (they enqueue keys
//! and note expectations; they never block). A re-list after a broken watch turns objects
//! that vanished meanwhile into deletions.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use futures::StreamExt;
use kube::api::Api;
use kube::runtime::watcher;
use parking_lot::{Mutex, RwLock};
use tokio::sync::watch;

/// What the cache needs of an object.
pub trait Cached: Send + Sync + 'static {
    fn namespace(&self) -> &str;
    fn name(&self) -> &str;
    fn resource_version(&self) -> &str;
}

macro_rules! cached_k8s {
    ($($t:ty),* $(,)?) => {$(
        impl Cached for $t {
            fn namespace(&self) -> &str {
                self.metadata.namespace.as_deref().unwrap_or("")
            }
            fn name(&self) -> &str {
                self.metadata.name.as_deref().unwrap_or("")
            }
            fn resource_version(&self) -> &str {
                self.metadata.resource_version.as_deref().unwrap_or("")
            }
        }
    )*};
}

cached_k8s!(
    k8s_openapi::api::apps::v1::ReplicaSet,
    k8s_openapi::api::apps::v1::Deployment,
    k8s_openapi::api::core::v1::ReplicationController,
    k8s_openapi::api::core::v1::Namespace,
    k8s_openapi::api::core::v1::PersistentVolume,
    k8s_openapi::api::core::v1::PersistentVolumeClaim,
    k8s_openapi::api::storage::v1::StorageClass,
    k8s_openapi::api::apps::v1::DaemonSet,
    k8s_openapi::api::apps::v1::StatefulSet,
    k8s_openapi::api::apps::v1::ControllerRevision,
    k8s_openapi::api::batch::v1::Job,
    k8s_openapi::api::batch::v1::CronJob,
);

#[derive(Debug)]
pub enum Change<T> {
    Added(Arc<T>),
    Updated(Arc<T>, Arc<T>),
    Deleted(Arc<T>),
}

impl<T> Change<T> {
    /// The object as it is now (or was last, for a deletion).
    pub fn latest(&self) -> &Arc<T> {
        match self {
            Change::Added(o) | Change::Updated(_, o) | Change::Deleted(o) => o,
        }
    }
}

pub type Handler<T> = Box<dyn Fn(&Change<T>) + Send + Sync>;

/// Objects by namespace ("" for cluster-scoped ones) and name.
pub struct Store<T> {
    objects: RwLock<HashMap<String, HashMap<String, Arc<T>>>>,
    synced: watch::Sender<bool>,
}

impl<T: Cached> Store<T> {
    pub fn new() -> Store<T> {
        Store { objects: RwLock::new(HashMap::new()), synced: watch::channel(false).0 }
    }

    pub fn get(&self, namespace: &str, name: &str) -> Option<Arc<T>> {
        self.objects.read().get(namespace).and_then(|m| m.get(name)).cloned()
    }

    pub fn list_namespace(&self, namespace: &str) -> Vec<Arc<T>> {
        self.objects.read().get(namespace).map(|m| m.values().cloned().collect()).unwrap_or_default()
    }

    pub fn list(&self) -> Vec<Arc<T>> {
        self.objects.read().values().flat_map(|m| m.values().cloned()).collect()
    }

    pub fn len(&self) -> usize {
        self.objects.read().values().map(HashMap::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Inserts or replaces; returns the previous object.
    pub fn upsert(&self, obj: Arc<T>) -> Option<Arc<T>> {
        let mut objects = self.objects.write();
        objects.entry(obj.namespace().to_string()).or_default().insert(obj.name().to_string(), obj)
    }

    pub fn remove(&self, namespace: &str, name: &str) -> Option<Arc<T>> {
        let mut objects = self.objects.write();
        let per_ns = objects.get_mut(namespace)?;
        let gone = per_ns.remove(name);
        if per_ns.is_empty() {
            objects.remove(namespace);
        }
        gone
    }

    pub fn is_synced(&self) -> bool {
        *self.synced.borrow()
    }

    /// Waits until the first list has been loaded.
    pub async fn wait_synced(&self) {
        let mut rx = self.synced.subscribe();
        let _ = rx.wait_for(|s| *s).await;
    }

    fn mark_synced(&self) {
        self.synced.send_replace(true);
    }
}

impl<T: Cached> Default for Store<T> {
    fn default() -> Self {
        Store::new()
    }
}

/// A store plus the handlers to call on changes; [`Informer::start`] runs the watch.
pub struct Informer<T> {
    pub store: Arc<Store<T>>,
    handlers: Mutex<Vec<Handler<T>>>,
}

impl<T: Cached> Informer<T> {
    pub fn new() -> Arc<Informer<T>> {
        Arc::new(Informer { store: Arc::new(Store::new()), handlers: Mutex::new(Vec::new()) })
    }

    pub fn on_change(&self, h: impl Fn(&Change<T>) + Send + Sync + 'static) {
        self.handlers.lock().push(Box::new(h));
    }

    fn notify(&self, change: Change<T>) {
        for h in self.handlers.lock().iter() {
            h(&change);
        }
    }

    /// Applies one observed object (from a list or a watch event).
    pub fn apply(&self, obj: T) {
        let obj = Arc::new(obj);
        match self.store.upsert(obj.clone()) {
            None => self.notify(Change::Added(obj)),
            Some(old) if old.resource_version() == obj.resource_version() && !obj.resource_version().is_empty() => {}
            Some(old) => self.notify(Change::Updated(old, obj)),
        }
    }

    /// A deletion, with the object's final state as the delete event carried it.
    pub fn delete(&self, obj: T) {
        self.store.remove(obj.namespace(), obj.name());
        self.notify(Change::Deleted(Arc::new(obj)));
    }

    fn forget_missing(&self, seen: &HashSet<(String, String)>) {
        let gone: Vec<Arc<T>> =
            self.store.list().into_iter().filter(|o| !seen.contains(&(o.namespace().to_string(), o.name().to_string()))).collect();
        for o in gone {
            if let Some(old) = self.store.remove(o.namespace(), o.name()) {
                self.notify(Change::Deleted(old));
            }
        }
    }

    /// Runs the watch for as long as the process lives. `project` turns each object into
    /// what is cached (None: not of interest).
    pub fn start<K, F>(self: &Arc<Self>, api: Api<K>, project: F)
    where
        K: kube::Resource + Clone + std::fmt::Debug + serde::de::DeserializeOwned + Send + 'static,
        F: Fn(K) -> Option<T> + Send + 'static,
    {
        let this = self.clone();
        tokio::spawn(async move {
            let mut stream = watcher(api, watcher::Config::default()).boxed();
            let mut relist: Option<HashSet<(String, String)>> = None;
            while let Some(ev) = stream.next().await {
                match ev {
                    Ok(watcher::Event::Init) => relist = Some(HashSet::new()),
                    Ok(watcher::Event::InitApply(k)) => {
                        if let Some(obj) = project(k) {
                            if let Some(seen) = &mut relist {
                                seen.insert((obj.namespace().to_string(), obj.name().to_string()));
                            }
                            this.apply(obj);
                        }
                    }
                    Ok(watcher::Event::InitDone) => {
                        if let Some(seen) = relist.take() {
                            this.forget_missing(&seen);
                        }
                        this.store.mark_synced();
                    }
                    Ok(watcher::Event::Apply(k)) => {
                        if let Some(obj) = project(k) {
                            this.apply(obj);
                        }
                    }
                    Ok(watcher::Event::Delete(k)) => {
                        if let Some(obj) = project(k) {
                            this.delete(obj);
                        }
                    }
                    // The watcher re-lists by itself; errors are transient (API restarts).
                    Err(e) => {
                        tracing::debug!("watch: {e}");
                        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                    }
                }
            }
        });
    }
}
