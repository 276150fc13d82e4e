//! The `skiff.io/local` provisioner (the default StorageClass `local`), which every agent
//! runs for its own node (and `skiff agent --simulate` for its simulated ones): a claim the scheduler placed on this node (annotation
//! `volume.kubernetes.io/selected-node`) and the binder handed to this provisioner gets a
//! directory under the agent's data dir and a PersistentVolume for it with node affinity to
//! this node, pre-bound to the claim. A Released volume of ours with reclaim policy Delete
//! is removed with its data.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, DeleteParams, PostParams};
use kube::runtime::{watcher, WatchStreamExt};
use serde_json::json;

pub const PROVISIONER: &str = "skiff.io/local";
const PROVISIONED_BY: &str = "pv.kubernetes.io/provisioned-by";
const NODE_ANNOTATION: &str = "skiff.io/node";
const SELECTED_NODE: &str = "volume.kubernetes.io/selected-node";
const STORAGE_PROVISIONER: &str = "volume.kubernetes.io/storage-provisioner";

/// Which nodes this provisioner serves, and where their volumes live.
#[derive(Clone)]
pub struct Nodes {
    /// The node names served (one for an agent; all of them for simulated nodes).
    pub names: Arc<HashSet<String>>,
    /// Where volume directories are made; None for simulated nodes (nothing on disk).
    pub volumes_dir: Option<PathBuf>,
}

pub async fn run(client: kube::Client, nodes: Nodes) {
    let claims = tokio::spawn(watch_claims(client.clone(), nodes.clone()));
    let released = tokio::spawn(watch_volumes(client, nodes));
    let _ = tokio::join!(claims, released);
}

/// The served node the claim was placed on, when this provisioner should make its volume.
pub fn wants_volume<'a>(pvc: &'a PersistentVolumeClaim, nodes: &HashSet<String>) -> Option<&'a str> {
    let a = pvc.metadata.annotations.as_ref()?;
    let unbound = pvc.spec.as_ref().and_then(|s| s.volume_name.as_deref()).is_none_or(str::is_empty);
    let node = a.get(SELECTED_NODE).filter(|n| nodes.contains(*n))?;
    (unbound && pvc.metadata.deletion_timestamp.is_none() && a.get(STORAGE_PROVISIONER).map(String::as_str) == Some(PROVISIONER)).then_some(node.as_str())
}

/// The PersistentVolume for a claim, kept in `dir`.
pub fn volume_for(pvc: &PersistentVolumeClaim, node: &str, dir: &Path, reclaim: &str) -> serde_json::Value {
    let spec = pvc.spec.clone().unwrap_or_default();
    let size = spec.resources.as_ref().and_then(|r| r.requests.as_ref()).and_then(|r| r.get("storage")).map(|q| q.0.clone()).unwrap_or_else(|| "1Gi".into());
    json!({
        "apiVersion": "v1", "kind": "PersistentVolume",
        "metadata": {"name": format!("pvc-{}", pvc.metadata.uid.clone().unwrap_or_default()),
            "annotations": {PROVISIONED_BY: PROVISIONER, NODE_ANNOTATION: node}},
        "spec": {
            "capacity": {"storage": size},
            "accessModes": spec.access_modes.unwrap_or_default(),
            "persistentVolumeReclaimPolicy": reclaim,
            "storageClassName": spec.storage_class_name,
            "volumeMode": spec.volume_mode.unwrap_or_else(|| "Filesystem".into()),
            "local": {"path": dir},
            "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]}]}},
            "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "namespace": pvc.metadata.namespace,
                "name": pvc.metadata.name, "uid": pvc.metadata.uid, "resourceVersion": pvc.metadata.resource_version},
        },
    })
}

/// How many claims are provisioned (or released volumes removed) at once: a
/// StatefulSet of a thousand replicas must not wait on a thousand round trips in turn.
const CONCURRENCY: usize = 32;

/// The events of a watch that carry an object; errors are logged and the watch goes on
/// (after a back-off).
fn applied<K>(what: &'static str, ev: Result<watcher::Event<K>, watcher::Error>) -> futures::future::Ready<Option<K>> {
    futures::future::ready(match ev {
        Ok(watcher::Event::Apply(o)) | Ok(watcher::Event::InitApply(o)) => Some(o),
        Ok(_) => None,
        Err(e) => {
            tracing::debug!("provisioner: watching {what}: {e}");
            None
        }
    })
}

async fn watch_claims(client: kube::Client, nodes: Nodes) {
    watcher(Api::<PersistentVolumeClaim>::all(client.clone()), watcher::Config::default())
        .default_backoff()
        .filter_map(|ev| applied("claims", ev))
        .for_each_concurrent(CONCURRENCY, |pvc| {
            let (client, nodes) = (&client, &nodes);
            async move {
                if let Some(node) = wants_volume(&pvc, &nodes.names) {
                    if let Err(e) = provision(client, &pvc, node, nodes.volumes_dir.as_deref()).await {
                        tracing::warn!("provisioning a volume for claim {:?}: {e}", pvc.metadata.name);
                    }
                }
            }
        })
        .await;
}

async fn provision(client: &kube::Client, pvc: &PersistentVolumeClaim, node: &str, volumes_dir: Option<&Path>) -> Result<(), String> {
    let class_name = pvc.spec.as_ref().and_then(|s| s.storage_class_name.clone()).unwrap_or_default();
    let class = Api::<StorageClass>::all(client.clone()).get_opt(&class_name).await.map_err(|e| e.to_string())?;
    let reclaim = class.and_then(|c| c.reclaim_policy).unwrap_or_else(|| "Delete".into());
    let name = format!("pvc-{}", pvc.metadata.uid.clone().unwrap_or_default());
    let dir = match volumes_dir {
        Some(d) => {
            let dir = d.join(&name);
            std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
            dir
        }
        None => PathBuf::from("/simulated").join(&name),
    };
    let pv: PersistentVolume = serde_json::from_value(volume_for(pvc, node, &dir, &reclaim)).map_err(|e| e.to_string())?;
    match Api::<PersistentVolume>::all(client.clone()).create(&PostParams::default(), &pv).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(()), // provisioned already
        Err(e) => Err(e.to_string()),
    }
}

async fn watch_volumes(client: kube::Client, nodes: Nodes) {
    let pvs: Api<PersistentVolume> = Api::all(client);
    watcher(pvs.clone(), watcher::Config::default())
        .default_backoff()
        .filter_map(|ev| applied("volumes", ev))
        .for_each_concurrent(CONCURRENCY, |pv| {
            let (pvs, nodes) = (&pvs, &nodes);
            async move { remove_if_released(pvs, nodes, pv).await }
        })
        .await;
}

async fn remove_if_released(pvs: &Api<PersistentVolume>, nodes: &Nodes, pv: PersistentVolume) {
    let a = pv.metadata.annotations.clone().unwrap_or_default();
    let ours = a.get(PROVISIONED_BY).map(String::as_str) == Some(PROVISIONER) && a.get(NODE_ANNOTATION).is_some_and(|n| nodes.names.contains(n));
    let released = pv.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Released");
    let spec = pv.spec.clone().unwrap_or_default();
    if !(ours && released && spec.persistent_volume_reclaim_policy.as_deref() == Some("Delete")) {
        return;
    }
    // Only ever remove a directory of our own.
    let mine = |p: &PathBuf| nodes.volumes_dir.as_ref().is_some_and(|d| p.starts_with(d));
    if let Some(path) = spec.local.map(|l| PathBuf::from(l.path)).filter(mine) {
        let _ = std::fs::remove_dir_all(path);
    }
    let name = pv.metadata.name.clone().unwrap_or_default();
    if let Err(e) = pvs.delete(&name, &DeleteParams::default()).await {
        tracing::debug!("deleting released volume {name}: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(annotations: serde_json::Value, volume: Option<&str>) -> PersistentVolumeClaim {
        serde_json::from_value(json!({"metadata": {"name": "data-web-0", "namespace": "default", "uid": "abc", "annotations": annotations},
            "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "local", "volumeName": volume,
                "resources": {"requests": {"storage": "2Gi"}}}}))
        .expect("pvc")
    }

    #[test]
    fn provisions_only_claims_placed_here_and_handed_to_us() {
        let here = |n: &str| HashSet::from([n.to_string()]);
        let ours = json!({SELECTED_NODE: "node-a", STORAGE_PROVISIONER: PROVISIONER});
        assert_eq!(wants_volume(&claim(ours.clone(), None), &here("node-a")), Some("node-a"));
        assert_eq!(wants_volume(&claim(ours.clone(), None), &here("node-b")), None);
        assert_eq!(wants_volume(&claim(ours, Some("pvc-abc")), &here("node-a")), None, "bound already");
        assert_eq!(wants_volume(&claim(json!({SELECTED_NODE: "node-a", STORAGE_PROVISIONER: "other"}), None), &here("node-a")), None);
    }

    #[test]
    fn the_volume_is_pinned_to_the_node_and_pre_bound() {
        let pv = volume_for(&claim(json!({}), None), "node-a", Path::new("/data/volumes/pvc-abc"), "Delete");
        assert_eq!(pv["metadata"]["name"], "pvc-abc");
        assert_eq!(pv["spec"]["capacity"]["storage"], "2Gi");
        assert_eq!(pv["spec"]["local"]["path"], "/data/volumes/pvc-abc");
        assert_eq!(pv["spec"]["claimRef"]["uid"], "abc");
        assert_eq!(pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0]["values"][0], "node-a");
        assert!(serde_json::from_value::<PersistentVolume>(pv).is_ok());
    }
}
