//! persistentvolume: every PersistentVolumeClaim that can be bound is bound to one
//! PersistentVolume and both say so (claim.spec.volumeName, volume.spec.claimRef, phases
//! Bound). A claim of an Immediate class takes the smallest Available volume that fits it;
//! a claim of a WaitForFirstConsumer class waits for the scheduler's
//! `volume.kubernetes.io/selected-node`, then takes a fitting volume reachable from that
//! node or, when its class has a provisioner, is handed to the provisioner (the node
//! agents provision `skiff.io/local`). A volume whose claim is gone is Released; its
//! reclaim policy (Retain or Delete) is then the provisioner's or the admin's business.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;

use k8s_openapi::api::core::v1::{ObjectReference, PersistentVolume, PersistentVolumeClaim};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;
use skiff_api::quantity::Quantity;

use crate::events::Recorder;
use crate::informer::{Change, Informer, Store};
use crate::queue::Queue;

pub const SELECTED_NODE: &str = "volume.kubernetes.io/selected-node";
pub const STORAGE_PROVISIONER: &str = "volume.kubernetes.io/storage-provisioner";
const BETA_STORAGE_PROVISIONER: &str = "volume.beta.kubernetes.io/storage-provisioner";
const NO_PROVISIONER: &str = "kubernetes.io/no-provisioner";
const HOSTNAME: &str = "kubernetes.io/hostname";
const CONCURRENT_WRITES: usize = 32;


#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// volume.spec.claimRef = the claim (the first half of a bind, as upstream orders it).
    ClaimVolume { volume: String, namespace: String, claim: String, uid: String },
    /// claim.spec.volumeName = the volume (the second half).
    SetVolumeName { namespace: String, claim: String, volume: String },
    ClaimBound { namespace: String, claim: String, capacity: BTreeMap<String, String>, access_modes: Vec<String> },
    VolumePhase { volume: String, phase: &'static str },
    /// Hands the claim to its class's provisioner.
    Provision { namespace: String, claim: String, provisioner: String },
    Event { namespace: String, claim: String, warning: bool, reason: &'static str, message: String },
}

fn claim_key(c: &PersistentVolumeClaim) -> (String, String) {
    (c.metadata.namespace.clone().unwrap_or_default(), c.metadata.name.clone().unwrap_or_default())
}

fn storage(q: Option<&k8s_openapi::apimachinery::pkg::api::resource::Quantity>) -> i128 {
    q.and_then(|q| Quantity::parse(&q.0).ok()).map(|q| q.value() as i128).unwrap_or(0)
}

fn phase_of_volume(pv: &PersistentVolume) -> &str {
    pv.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("")
}

/// Whether `pv` can serve `pvc`: class, access modes, size, selector, volume mode.
fn fits(pv: &PersistentVolume, pvc: &PersistentVolumeClaim) -> bool {
    let (Some(vs), Some(cs)) = (&pv.spec, &pvc.spec) else { return false };
    if vs.storage_class_name.clone().unwrap_or_default() != cs.storage_class_name.clone().unwrap_or_default() {
        return false;
    }
    let have = vs.access_modes.clone().unwrap_or_default();
    if !cs.access_modes.iter().flatten().all(|m| have.contains(m)) {
        return false;
    }
    let want = storage(cs.resources.as_ref().and_then(|r| r.requests.as_ref()).and_then(|r| r.get("storage")));
    if storage(vs.capacity.as_ref().and_then(|c| c.get("storage"))) < want {
        return false;
    }
    if vs.volume_mode.as_deref().unwrap_or("Filesystem") != cs.volume_mode.as_deref().unwrap_or("Filesystem") {
        return false;
    }
    if let Some(sel) = &cs.selector {
        let labels: serde_json::Map<String, serde_json::Value> =
            pv.metadata.labels.iter().flatten().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect();
        let sel = serde_json::to_value(sel).ok().and_then(|v| skiff_api::selector::LabelSelector::from_json(&v).ok());
        if !sel.is_some_and(|s| s.matches(&labels)) {
            return false;
        }
    }
    true
}

/// Whether the volume's required node affinity names `node` (local volumes name their node
/// by hostname; a volume without node affinity is reachable everywhere).
fn reachable_from(pv: &PersistentVolume, node: &str) -> bool {
    let Some(req) = pv.spec.as_ref().and_then(|s| s.node_affinity.as_ref()).and_then(|a| a.required.as_ref()) else { return true };
    req.node_selector_terms.iter().any(|t| {
        t.match_expressions.iter().flatten().all(|e| e.key != HOSTNAME || (e.operator == "In" && e.values.iter().flatten().any(|v| v == node)))
    })
}

/// What to do, given every volume, claim and class.
pub fn plan(pvs: &[Arc<PersistentVolume>], pvcs: &[Arc<PersistentVolumeClaim>], classes: &[Arc<StorageClass>]) -> Vec<Action> {
    let mut out = Vec::new();
    let claims: BTreeMap<(String, String), &Arc<PersistentVolumeClaim>> = pvcs.iter().map(|c| (claim_key(c), c)).collect();
    // Indexes, so that a plan over thousands of claims and volumes stays linear.
    let by_name: HashMap<&str, &Arc<PersistentVolume>> = pvs.iter().filter_map(|pv| Some((pv.metadata.name.as_deref()?, pv))).collect();
    let mut claimed_by: HashMap<(String, String), Vec<&Arc<PersistentVolume>>> = HashMap::new();
    for pv in pvs {
        if let Some(r) = pv.spec.as_ref().and_then(|s| s.claim_ref.as_ref()) {
            claimed_by.entry((r.namespace.clone().unwrap_or_default(), r.name.clone().unwrap_or_default())).or_default().push(pv);
        }
    }
    let mut taken: HashSet<String> = HashSet::new();

    // Volumes: a claimRef whose claim is gone makes the volume Released; none, Available.
    for pv in pvs {
        let name = pv.metadata.name.clone().unwrap_or_default();
        let Some(spec) = &pv.spec else { continue };
        let phase: Option<&'static str> = match &spec.claim_ref {
            None => Some("Available"),
            Some(r) => {
                let key = (r.namespace.clone().unwrap_or_default(), r.name.clone().unwrap_or_default());
                match claims.get(&key) {
                    Some(c) if r.uid.is_none() || r.uid == c.metadata.uid => {
                        taken.insert(name.clone());
                        let bound_here = c.spec.as_ref().and_then(|s| s.volume_name.as_deref()) == Some(name.as_str());
                        bound_here.then_some("Bound")
                    }
                    _ if r.uid.is_some() => Some("Released"),
                    // Pre-bound to a claim that does not exist yet: it waits for it.
                    _ => None,
                }
            }
        };
        if let Some(p) = phase.filter(|p| *p != phase_of_volume(pv)) {
            out.push(Action::VolumePhase { volume: name, phase: p });
        }
    }

    for pvc in pvcs {
        let (ns, name) = claim_key(pvc);
        if pvc.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let spec = pvc.spec.clone().unwrap_or_default();
        let phase = pvc.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("Pending");
        if let Some(vol) = spec.volume_name.as_deref().filter(|v| !v.is_empty()) {
            // Bound, or pre-bound by the user: finish what is missing.
            let Some(pv) = by_name.get(vol) else {
                if phase == "Bound" {
                    out.push(Action::Event { namespace: ns.clone(), claim: name.clone(), warning: true, reason: "ClaimLost", message: "Bound claim has lost its PersistentVolume. Data on the volume is lost!".into() });
                }
                continue;
            };
            let claim_ref = pv.spec.as_ref().and_then(|s| s.claim_ref.as_ref());
            match claim_ref {
                None => out.push(Action::ClaimVolume { volume: vol.to_string(), namespace: ns.clone(), claim: name.clone(), uid: pvc.metadata.uid.clone().unwrap_or_default() }),
                Some(r) if r.name.as_deref() == Some(name.as_str()) && r.namespace.as_deref() == Some(ns.as_str()) => {
                    if phase != "Bound" {
                        out.push(bound(pvc, pv));
                    }
                }
                Some(_) => {
                    out.push(Action::Event { namespace: ns, claim: name, warning: true, reason: "FailedBinding", message: format!("volume \"{vol}\" already bound to a different claim.") });
                }
            }
            continue;
        }
        // A volume pre-bound to this claim (a provisioned one, or the admin's).
        let prebound = claimed_by.get(&(ns.clone(), name.clone())).into_iter().flatten().find(|pv| {
            pv.spec.as_ref().and_then(|s| s.claim_ref.as_ref()).is_some_and(|r| r.uid.is_none() || r.uid == pvc.metadata.uid)
        });
        if let Some(pv) = prebound {
            out.push(Action::SetVolumeName { namespace: ns, claim: name, volume: pv.metadata.name.clone().unwrap_or_default() });
            continue;
        }
        let class_name = spec.storage_class_name.clone().unwrap_or_default();
        let class = classes.iter().find(|c| c.metadata.name.as_deref() == Some(class_name.as_str()));
        let wait = class.is_some_and(|c| c.volume_binding_mode.as_deref() == Some("WaitForFirstConsumer"));
        let annotations = pvc.metadata.annotations.clone().unwrap_or_default();
        let selected = annotations.get(SELECTED_NODE).cloned();
        if wait && selected.is_none() {
            out.push(Action::Event { namespace: ns, claim: name, warning: false, reason: "WaitForFirstConsumer", message: "waiting for first consumer to be created before binding".into() });
            continue;
        }
        // The smallest Available volume that fits (and is reachable from the chosen node).
        let candidate = pvs
            .iter()
            .filter(|pv| pv.spec.as_ref().is_some_and(|s| s.claim_ref.is_none()) && !taken.contains(pv.metadata.name.as_deref().unwrap_or_default()))
            .filter(|pv| fits(pv, pvc))
            .filter(|pv| selected.as_deref().is_none_or(|n| reachable_from(pv, n)))
            .min_by_key(|pv| storage(pv.spec.as_ref().and_then(|s| s.capacity.as_ref()).and_then(|c| c.get("storage"))));
        if let Some(pv) = candidate {
            let vol = pv.metadata.name.clone().unwrap_or_default();
            taken.insert(vol.clone());
            out.push(Action::ClaimVolume { volume: vol, namespace: ns, claim: name, uid: pvc.metadata.uid.clone().unwrap_or_default() });
            continue;
        }
        match class {
            Some(c) if c.provisioner != NO_PROVISIONER => {
                if annotations.get(STORAGE_PROVISIONER) != Some(&c.provisioner) {
                    out.push(Action::Provision { namespace: ns.clone(), claim: name.clone(), provisioner: c.provisioner.clone() });
                }
                let message = format!(
                    "Waiting for a volume to be created either by the external provisioner '{}' or manually by the system administrator. If volume creation is delayed, please verify that the provisioner is running and correctly registered.",
                    c.provisioner
                );
                out.push(Action::Event { namespace: ns, claim: name, warning: false, reason: "ExternalProvisioning", message });
            }
            None if !class_name.is_empty() => {
                out.push(Action::Event { namespace: ns, claim: name, warning: true, reason: "ProvisioningFailed", message: format!("storageclass.storage.k8s.io \"{class_name}\" not found") });
            }
            _ => {
                out.push(Action::Event { namespace: ns, claim: name, warning: false, reason: "FailedBinding", message: "no persistent volumes available for this claim and no storage class is set".into() });
            }
        }
    }
    out
}

fn bound(pvc: &PersistentVolumeClaim, pv: &PersistentVolume) -> Action {
    let (namespace, claim) = claim_key(pvc);
    let spec = pv.spec.clone().unwrap_or_default();
    Action::ClaimBound {
        namespace,
        claim,
        capacity: spec.capacity.unwrap_or_default().into_iter().map(|(k, v)| (k, v.0)).collect(),
        access_modes: spec.access_modes.unwrap_or_default(),
    }
}

pub fn start(client: kube::Client, recorder: Recorder) {
    let pvs: Arc<Informer<PersistentVolume>> = Informer::new();
    let pvcs: Arc<Informer<PersistentVolumeClaim>> = Informer::new();
    let classes: Arc<Informer<StorageClass>> = Informer::new();
    let queue: Arc<Queue<String>> = Arc::new(Queue::new());
    pvs.on_change(kick(&queue));
    pvcs.on_change(kick(&queue));
    classes.on_change(kick(&queue));
    pvs.start(Api::<PersistentVolume>::all(client.clone()), Some);
    pvcs.start(Api::<PersistentVolumeClaim>::all(client.clone()), Some);
    classes.start(Api::<StorageClass>::all(client.clone()), Some);
    let stores = (pvs.store.clone(), pvcs.store.clone(), classes.store.clone());
    tokio::spawn(run(client, stores, queue, recorder));
}

/// Any change recomputes the one plan.
fn kick<T>(queue: &Arc<Queue<String>>) -> impl Fn(&Change<T>) + Send + Sync + 'static {
    let q = queue.clone();
    move |_| q.add("all".to_string())
}

type Stores = (Arc<Store<PersistentVolume>>, Arc<Store<PersistentVolumeClaim>>, Arc<Store<StorageClass>>);

async fn run(client: kube::Client, (pvs, pvcs, classes): Stores, queue: Arc<Queue<String>>, recorder: Recorder) {
    pvs.wait_synced().await;
    pvcs.wait_synced().await;
    classes.wait_synced().await;
    let mut said: BTreeMap<(String, String), String> = BTreeMap::new();
    let mut writes: BTreeMap<String, Vec<Action>> = BTreeMap::new();
    loop {
        // Level-triggered: any change, or every few seconds, recomputes the whole plan.
        let key = tokio::time::timeout(Duration::from_secs(5), queue.get()).await.ok();
        for action in plan(&pvs.list(), &pvcs.list(), &classes.list()) {
            if let Action::Event { namespace, claim, warning, reason, message } = &action {
                // Say each thing once per claim until it changes.
                if said.get(&(namespace.clone(), claim.clone())) == Some(message) {
                    continue;
                }
                said.insert((namespace.clone(), claim.clone()), message.clone());
                let r = ObjectReference { api_version: Some("v1".into()), kind: Some("PersistentVolumeClaim".into()), namespace: Some(namespace.clone()), name: Some(claim.clone()), uid: pvcs.get(namespace, claim).and_then(|c| c.metadata.uid.clone()), ..Default::default() };
                recorder.event(r, if *warning { "Warning" } else { "Normal" }, reason, message.clone());
                continue;
            }
            let subject = match &action {
                Action::VolumePhase { volume, .. } => format!("volume {volume}"),
                Action::ClaimVolume { namespace, claim, .. } | Action::SetVolumeName { namespace, claim, .. } | Action::ClaimBound { namespace, claim, .. } | Action::Provision { namespace, claim, .. } | Action::Event { namespace, claim, .. } => {
                    format!("claim {namespace}/{claim}")
                }
            };
            writes.entry(subject).or_default().push(action);
        }
        // A claim's steps stay in plan order (volume first, then claim, as upstream binds);
        // different claims and volumes are written concurrently, or a thousand claims
        // of a StatefulSet would bind one round trip at a time.
        futures::stream::iter(std::mem::take(&mut writes).into_values())
            .for_each_concurrent(CONCURRENT_WRITES, |actions| {
                let client = &client;
                async move {
                    for action in actions {
                        if let Err(e) = apply(client, &action).await {
                            tracing::debug!("persistentvolume {action:?}: {e}");
                            break;
                        }
                    }
                }
            })
            .await;
        if let Some(k) = key {
            queue.done(&k);
        }
    }
}

async fn apply(client: &kube::Client, action: &Action) -> Result<(), kube::Error> {
    let pp = PatchParams::default();
    match action {
        Action::ClaimVolume { volume, namespace, claim, uid } => {
            let patch = json!({"spec": {"claimRef": {"kind": "PersistentVolumeClaim", "apiVersion": "v1", "namespace": namespace, "name": claim, "uid": uid}}});
            Api::<PersistentVolume>::all(client.clone()).patch(volume, &pp, &Patch::Merge(patch)).await?;
        }
        Action::SetVolumeName { namespace, claim, volume } => {
            let patch = json!({"metadata": {"annotations": {"pv.kubernetes.io/bind-completed": "yes"}}, "spec": {"volumeName": volume}});
            Api::<PersistentVolumeClaim>::namespaced(client.clone(), namespace).patch(claim, &pp, &Patch::Merge(patch)).await?;
        }
        Action::ClaimBound { namespace, claim, capacity, access_modes } => {
            let patch = json!({"status": {"phase": "Bound", "capacity": capacity, "accessModes": access_modes}});
            Api::<PersistentVolumeClaim>::namespaced(client.clone(), namespace).patch_status(claim, &pp, &Patch::Merge(patch)).await?;
        }
        Action::VolumePhase { volume, phase } => {
            Api::<PersistentVolume>::all(client.clone()).patch_status(volume, &pp, &Patch::Merge(json!({"status": {"phase": phase}}))).await?;
        }
        Action::Provision { namespace, claim, provisioner } => {
            let patch = json!({"metadata": {"annotations": {STORAGE_PROVISIONER: provisioner, BETA_STORAGE_PROVISIONER: provisioner}}});
            Api::<PersistentVolumeClaim>::namespaced(client.clone(), namespace).patch(claim, &pp, &Patch::Merge(patch)).await?;
        }
        Action::Event { .. } => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn pv(v: Value) -> Arc<PersistentVolume> {
        Arc::new(serde_json::from_value(v).expect("pv"))
    }
    fn pvc(v: Value) -> Arc<PersistentVolumeClaim> {
        Arc::new(serde_json::from_value(v).expect("pvc"))
    }
    fn class(name: &str, mode: &str, prov: &str) -> Arc<StorageClass> {
        Arc::new(serde_json::from_value(json!({"metadata": {"name": name}, "provisioner": prov, "volumeBindingMode": mode})).expect("class"))
    }
    fn volume(name: &str, size: &str, class: &str, status: &str) -> Arc<PersistentVolume> {
        pv(json!({"metadata": {"name": name}, "spec": {"capacity": {"storage": size}, "accessModes": ["ReadWriteOnce"], "storageClassName": class, "hostPath": {"path": "/tmp"}}, "status": {"phase": status}}))
    }
    fn claim(name: &str, size: &str, class: &str) -> Arc<PersistentVolumeClaim> {
        pvc(json!({"metadata": {"name": name, "namespace": "default", "uid": format!("u-{name}")},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}, "storageClassName": class}, "status": {"phase": "Pending"}}))
    }

    #[test]
    fn immediate_claims_take_the_smallest_fitting_volume() {
        let pvs = [volume("big", "10Gi", "", "Available"), volume("small", "1Gi", "", "Available"), volume("tiny", "100Mi", "", "Available")];
        let actions = plan(&pvs, &[claim("data", "500Mi", "")], &[]);
        assert_eq!(actions, [Action::ClaimVolume { volume: "small".into(), namespace: "default".into(), claim: "data".into(), uid: "u-data".into() }]);
        let none = plan(&[], &[claim("data", "1Gi", "")], &[]);
        assert!(matches!(&none[0], Action::Event { reason: "FailedBinding", message, .. } if message == "no persistent volumes available for this claim and no storage class is set"));
    }

    #[test]
    fn binding_completes_in_steps() {
        let claimed = pv(json!({"metadata": {"name": "small"}, "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
            "claimRef": {"namespace": "default", "name": "data", "uid": "u-data"}}, "status": {"phase": "Available"}}));
        let c = claim("data", "500Mi", "");
        let actions = plan(&[claimed.clone()], &[c], &[]);
        assert!(actions.contains(&Action::SetVolumeName { namespace: "default".into(), claim: "data".into(), volume: "small".into() }));
        let mut with_name = (*claim("data", "500Mi", "")).clone();
        with_name.spec.as_mut().expect("spec").volume_name = Some("small".into());
        let actions = plan(&[claimed], &[Arc::new(with_name)], &[]);
        assert!(actions.contains(&Action::VolumePhase { volume: "small".into(), phase: "Bound" }));
        assert!(actions.iter().any(|a| matches!(a, Action::ClaimBound { claim, capacity, .. } if claim == "data" && capacity["storage"] == "1Gi")));
    }

    #[test]
    fn released_when_the_claim_is_gone() {
        let orphan = pv(json!({"metadata": {"name": "old"}, "spec": {"claimRef": {"namespace": "default", "name": "gone", "uid": "u-gone"}}, "status": {"phase": "Bound"}}));
        assert_eq!(plan(&[orphan], &[], &[]), [Action::VolumePhase { volume: "old".into(), phase: "Released" }]);
    }

    #[test]
    fn wait_for_first_consumer_then_provision() {
        let classes = [class("local", "WaitForFirstConsumer", "skiff.io/local")];
        let c = claim("data", "1Gi", "local");
        let a = plan(&[], &[c.clone()], &classes);
        assert!(matches!(&a[0], Action::Event { reason: "WaitForFirstConsumer", .. }));
        let mut selected = (*c).clone();
        selected.metadata.annotations = Some([(SELECTED_NODE.to_string(), "node-a".to_string())].into());
        let a = plan(&[], &[Arc::new(selected)], &classes);
        assert_eq!(a[0], Action::Provision { namespace: "default".into(), claim: "data".into(), provisioner: "skiff.io/local".into() });
        assert!(matches!(&a[1], Action::Event { reason: "ExternalProvisioning", .. }));
    }

    #[test]
    fn static_local_volumes_must_be_on_the_selected_node() {
        let classes = [class("manual", "WaitForFirstConsumer", NO_PROVISIONER)];
        let local = |name: &str, node: &str| {
            pv(json!({"metadata": {"name": name}, "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "storageClassName": "manual",
                "local": {"path": "/mnt"}, "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [{"key": HOSTNAME, "operator": "In", "values": [node]}]}]}}},
                "status": {"phase": "Available"}}))
        };
        let mut c = (*claim("data", "1Gi", "manual")).clone();
        c.metadata.annotations = Some([(SELECTED_NODE.to_string(), "node-b".to_string())].into());
        let a = plan(&[local("on-a", "node-a"), local("on-b", "node-b")], &[Arc::new(c)], &classes);
        assert_eq!(a, [Action::ClaimVolume { volume: "on-b".into(), namespace: "default".into(), claim: "data".into(), uid: "u-data".into() }]);
    }
}
