//! Namespace: a namespace being deleted (Terminating) is emptied of everything in it,
//! every namespaced resource deleted by collection (Background propagation), and once
//! nothing is left the `kubernetes` finalizer is removed through
//! `namespaces/{name}/finalize`, which lets the API server delete the namespace. While
//! content remains (pods terminating, objects with finalizers), the namespace's status
//! conditions say what, as upstream's (NamespaceContentRemaining,
//! NamespaceFinalizersRemaining, …), and it is looked at again shortly.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Namespace, NamespaceCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, PostParams};
use kube::core::PartialObjectMeta;
use kube::discovery::verbs;

use crate::informer::Informer;
use crate::queue::Queue;
use crate::resources::{Resource, Resources};
use crate::{spawn_workers, Shared, SyncError};

pub const FINALIZER: &str = "kubernetes";
const WORKERS: usize = 2;
const RECHECK: Duration = Duration::from_secs(1);

/// What is left of one resource in the namespace.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Remaining {
    /// `plural.group`, as upstream names it in messages.
    pub resource: String,
    pub count: usize,
    /// Finalizers still on those objects, with how many carry each.
    pub finalizers: BTreeMap<String, usize>,
}

/// The five deletion conditions upstream maintains, ok reason and message.
const CONDITIONS: [(&str, &str, &str); 5] = [
    ("NamespaceDeletionDiscoveryFailure", "ResourcesDiscovered", "All resources successfully discovered"),
    ("NamespaceDeletionGroupVersionParsingFailure", "ParsedGroupVersions", "All legacy kube types successfully parsed"),
    ("NamespaceDeletionContentFailure", "ContentDeleted", "All content successfully deleted, may be waiting on finalization"),
    ("NamespaceContentRemaining", "ContentRemoved", "All content successfully removed"),
    ("NamespaceFinalizersRemaining", "ContentHasNoFinalizers", "All content-preserving finalizers finished"),
];

/// Whether this controller has to empty the namespace.
pub fn needs_emptying(ns: &Namespace) -> bool {
    ns.metadata.deletion_timestamp.is_some() && ns.spec.as_ref().and_then(|s| s.finalizers.as_ref()).is_some_and(|f| f.iter().any(|x| x == FINALIZER))
}

/// The conditions for the outcome of one pass (lastTransitionTime kept when unchanged).
pub fn conditions(old: &[NamespaceCondition], discovery_error: Option<&str>, delete_errors: &[String], remaining: &[Remaining], now: Timestamp) -> Vec<NamespaceCondition> {
    let mut content: Vec<String> = remaining.iter().filter(|r| r.count > 0).map(|r| format!("{} has {} resource instances", r.resource, r.count)).collect();
    content.sort();
    let mut finalizers: BTreeMap<&str, usize> = BTreeMap::new();
    for r in remaining {
        for (f, n) in &r.finalizers {
            *finalizers.entry(f).or_default() += n;
        }
    }
    let finalizers: Vec<String> = finalizers.iter().map(|(f, n)| format!("{f} in {n} resource instances")).collect();
    let failure = |type_: &str| -> Option<(&'static str, String)> {
        match type_ {
            "NamespaceDeletionDiscoveryFailure" => discovery_error.map(|e| ("DiscoveryFailed", format!("Discovery failed for some groups: {e}"))),
            "NamespaceDeletionContentFailure" if !delete_errors.is_empty() => {
                Some(("ContentDeletionFailed", format!("Failed to delete all resource types, {} remaining: {}", delete_errors.len(), delete_errors.join(", "))))
            }
            "NamespaceContentRemaining" if !content.is_empty() => Some(("SomeResourcesRemain", format!("Some resources are remaining: {}", content.join(", ")))),
            "NamespaceFinalizersRemaining" if !finalizers.is_empty() => {
                Some(("SomeFinalizersRemain", format!("Some content in the namespace has finalizers remaining: {}", finalizers.join(", "))))
            }
            _ => None,
        }
    };
    CONDITIONS
        .iter()
        .map(|(type_, ok_reason, ok_message)| {
            let (status, reason, message) = match failure(type_) {
                Some((reason, message)) => ("True", reason.to_string(), message),
                None => ("False", ok_reason.to_string(), ok_message.to_string()),
            };
            let since = old
                .iter()
                .find(|c| c.type_ == *type_ && c.status == status)
                .and_then(|c| c.last_transition_time.clone())
                .unwrap_or(Time(crate::clock::truncate(now)));
            NamespaceCondition { type_: type_.to_string(), status: status.into(), reason: Some(reason), message: Some(message), last_transition_time: Some(since) }
        })
        .collect()
}

/// The resources to empty: namespaced, listable and deletable.
pub fn to_empty(all: &[Resource]) -> Vec<Resource> {
    all.iter().filter(|r| r.namespaced && r.supports(verbs::LIST) && (r.supports(verbs::DELETE_COLLECTION) || r.supports(verbs::DELETE))).cloned().collect()
}

struct Controller {
    shared: Arc<Shared>,
    namespaces: Arc<Informer<Namespace>>,
    resources: Arc<Resources>,
    queue: Arc<Queue<String>>,
}

pub fn start(shared: &Arc<Shared>, namespaces: &Arc<Informer<Namespace>>, resources: Arc<Resources>) {
    let c = Arc::new(Controller { shared: shared.clone(), namespaces: namespaces.clone(), resources, queue: Arc::new(Queue::new()) });
    let h = c.clone();
    namespaces.on_change(move |change| {
        let ns = change.latest();
        if needs_emptying(ns) {
            h.queue.add(ns.metadata.name.clone().unwrap_or_default());
        }
    });
    let w = c.clone();
    spawn_workers(c.queue.clone(), WORKERS, vec![namespaces.store.clone()], move |key| {
        let w = w.clone();
        async move { w.sync(&key).await }
    });
}

impl Controller {
    async fn sync(&self, name: &str) -> Result<(), SyncError> {
        let Some(ns) = self.namespaces.store.get("", name) else { return Ok(()) };
        if !needs_emptying(&ns) {
            return Ok(());
        }
        let discovery_error = self.resources.refresh(&self.shared.client).await.err().map(|e| e.to_string());
        let mut errors = Vec::new();
        let mut remaining = Vec::new();
        for r in to_empty(&self.resources.all()) {
            match self.empty(name, &r).await {
                Ok(left) => remaining.push(left),
                Err(e) => errors.push(format!("{}: {e}", r.ar.plural)),
            }
        }
        let now = self.shared.clock.now();
        let old = ns.status.as_ref().and_then(|s| s.conditions.clone()).unwrap_or_default();
        let conds = conditions(&old, discovery_error.as_deref(), &errors, &remaining, now);
        let api: Api<Namespace> = Api::all(self.shared.client.clone());
        if conds != old {
            let mut body = (*ns).clone();
            body.status.get_or_insert_with(Default::default).conditions = Some(conds);
            match api.replace_status(name, &PostParams::default(), &body).await {
                Ok(_) | Err(kube::Error::Api(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        if discovery_error.is_some() || !errors.is_empty() || remaining.iter().any(|r| r.count > 0) {
            self.queue.add_after(name.to_string(), RECHECK);
            return Ok(());
        }
        // Everything is gone: let the namespace go.
        let fresh = match api.get_opt(name).await? {
            Some(n) if n.metadata.uid == ns.metadata.uid => n,
            _ => return Ok(()),
        };
        let mut body = fresh.clone();
        if let Some(spec) = body.spec.as_mut() {
            spec.finalizers = Some(spec.finalizers.iter().flatten().filter(|f| *f != FINALIZER).cloned().collect());
        }
        match api.replace_subresource("finalize", name, &PostParams::default(), &body).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes one resource's objects in the namespace; returns what is left.
    async fn empty(&self, namespace: &str, r: &Resource) -> Result<Remaining, SyncError> {
        let client = self.shared.client.clone();
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &r.ar);
        let meta: Api<PartialObjectMeta<DynamicObject>> = Api::namespaced_with(client, namespace, &r.ar);
        let dp = DeleteParams::background();
        if r.supports(verbs::DELETE_COLLECTION) {
            api.delete_collection(&dp, &ListParams::default()).await?;
        } else {
            for o in meta.list(&ListParams::default()).await?.items {
                if o.metadata.deletion_timestamp.is_some() {
                    continue;
                }
                match api.delete(o.metadata.name.as_deref().unwrap_or(""), &dp).await {
                    Ok(_) => {}
                    Err(kube::Error::Api(s)) if s.code == 404 => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        let left = meta.list(&ListParams::default()).await?.items;
        let mut out = Remaining {
            resource: format!("{}.{}", r.ar.plural, r.ar.group),
            count: left.len(),
            finalizers: BTreeMap::new(),
        };
        for o in &left {
            for f in o.metadata.finalizers.iter().flatten() {
                *out.finalizers.entry(f.clone()).or_default() += 1;
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + s).unwrap()
    }

    #[test]
    fn conditions_say_what_remains() {
        let remaining = vec![
            Remaining { resource: "pods.".into(), count: 2, finalizers: BTreeMap::new() },
            Remaining { resource: "replicasets.apps".into(), count: 1, finalizers: [("foregroundDeletion".to_string(), 1)].into() },
            Remaining { resource: "configmaps.".into(), count: 0, finalizers: BTreeMap::new() },
        ];
        let cs = conditions(&[], None, &[], &remaining, t(0));
        let get = |ty: &str| cs.iter().find(|c| c.type_ == ty).unwrap().clone();
        let content = get("NamespaceContentRemaining");
        assert_eq!(content.status, "True");
        assert_eq!(content.reason.as_deref(), Some("SomeResourcesRemain"));
        assert_eq!(content.message.as_deref(), Some("Some resources are remaining: pods. has 2 resource instances, replicasets.apps has 1 resource instances"));
        let fin = get("NamespaceFinalizersRemaining");
        assert_eq!(fin.message.as_deref(), Some("Some content in the namespace has finalizers remaining: foregroundDeletion in 1 resource instances"));
        assert_eq!(get("NamespaceDeletionContentFailure").status, "False");
        assert_eq!(get("NamespaceDeletionDiscoveryFailure").reason.as_deref(), Some("ResourcesDiscovered"));
        // Later, all gone: the transition times move only for conditions that changed.
        let later = conditions(&cs, None, &[], &[], t(10));
        let get2 = |ty: &str| later.iter().find(|c| c.type_ == ty).unwrap().clone();
        assert_eq!(get2("NamespaceContentRemaining").status, "False");
        assert_eq!(get2("NamespaceContentRemaining").last_transition_time.unwrap().0, t(10));
        assert_eq!(get2("NamespaceDeletionContentFailure").last_transition_time.unwrap().0, t(0));
    }

    #[test]
    fn only_terminating_namespaces_with_our_finalizer() {
        let mut ns: Namespace = serde_json::from_value(serde_json::json!({"metadata": {"name": "x"}, "spec": {"finalizers": ["kubernetes"]}})).unwrap();
        assert!(!needs_emptying(&ns));
        ns.metadata.deletion_timestamp = Some(Time(t(0)));
        assert!(needs_emptying(&ns));
        ns.spec = None;
        assert!(!needs_emptying(&ns));
    }
}
