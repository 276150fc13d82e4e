//! VolumeBinding: a pod's PersistentVolumeClaims must exist; a bound claim's volume must
//! be reachable from the node (the PersistentVolume's node affinity, as local volumes
//! have); an unbound claim of a WaitForFirstConsumer class is bound where the pod goes
//! (the scheduler names the node in the claim's `volume.kubernetes.io/selected-node`
//! annotation and the provisioner or binder follows); an unbound claim of an Immediate
//! class must be bound by the binder first.

use std::collections::HashMap;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::StorageClass;

use crate::framework::{names, Code, NodeInfo, NodeSelectorTerm, Status};

pub const ERR_REASON_NODE_CONFLICT: &str = "node(s) had volume node affinity conflict";
pub const ERR_REASON_BIND_CONFLICT: &str = "node(s) didn't find available persistent volumes to bind";
pub const ERR_UNBOUND_IMMEDIATE: &str = "pod has unbound immediate PersistentVolumeClaims";
/// Classes whose volumes are made by hand (static local volumes).
const NO_PROVISIONER: &str = "kubernetes.io/no-provisioner";
pub const SELECTED_NODE: &str = "volume.kubernetes.io/selected-node";

#[derive(Debug, Clone, PartialEq)]
pub struct Claim {
    pub volume_name: Option<String>,
    pub class: Option<String>,
    pub deleting: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Volume {
    pub class: String,
    pub claimed: bool,
    /// The required node affinity terms (ORed); None reaches every node.
    pub node_terms: Option<Vec<NodeSelectorTerm>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Class {
    pub wait_for_first_consumer: bool,
    pub provisioner: String,
}

/// Claims, volumes and classes as the scheduler needs them.
#[derive(Debug, Default)]
pub struct VolumeIndex {
    claims: HashMap<(String, String), Claim>,
    volumes: HashMap<String, Volume>,
    classes: HashMap<String, Class>,
}

impl VolumeIndex {
    pub fn upsert_claim(&mut self, pvc: &PersistentVolumeClaim) {
        let (Some(ns), Some(name)) = (&pvc.metadata.namespace, &pvc.metadata.name) else { return };
        let spec = pvc.spec.clone().unwrap_or_default();
        let claim = Claim {
            volume_name: spec.volume_name.filter(|v| !v.is_empty()),
            class: spec.storage_class_name,
            deleting: pvc.metadata.deletion_timestamp.is_some(),
        };
        self.claims.insert((ns.clone(), name.clone()), claim);
    }

    pub fn remove_claim(&mut self, ns: &str, name: &str) {
        self.claims.remove(&(ns.to_string(), name.to_string()));
    }

    pub fn upsert_volume(&mut self, pv: &PersistentVolume) {
        let Some(name) = &pv.metadata.name else { return };
        let spec = pv.spec.clone().unwrap_or_default();
        let node_terms = spec
            .node_affinity
            .and_then(|a| a.required)
            .map(|sel| sel.node_selector_terms.iter().map(NodeSelectorTerm::parse).collect());
        let volume = Volume { class: spec.storage_class_name.unwrap_or_default(), claimed: spec.claim_ref.is_some(), node_terms };
        self.volumes.insert(name.clone(), volume);
    }

    pub fn remove_volume(&mut self, name: &str) {
        self.volumes.remove(name);
    }

    pub fn upsert_class(&mut self, sc: &StorageClass) {
        let Some(name) = &sc.metadata.name else { return };
        let class = Class {
            wait_for_first_consumer: sc.volume_binding_mode.as_deref() == Some("WaitForFirstConsumer"),
            provisioner: sc.provisioner.clone(),
        };
        self.classes.insert(name.clone(), class);
    }

    pub fn remove_class(&mut self, name: &str) {
        self.classes.remove(name);
    }

    fn class(&self, claim: &Claim) -> Option<&Class> {
        self.classes.get(claim.class.as_deref().unwrap_or_default())
    }

    /// PreFilter: what no node can change. Err is upstream's message.
    pub fn pre_filter(&self, namespace: &str, claims: &[String]) -> Result<(), String> {
        for name in claims {
            let Some(claim) = self.claims.get(&(namespace.to_string(), name.clone())) else {
                return Err(format!("persistentvolumeclaim \"{name}\" not found"));
            };
            if claim.deleting {
                return Err(format!("persistentvolumeclaim \"{name}\" is being deleted"));
            }
            if claim.volume_name.is_none() && !self.class(claim).is_some_and(|c| c.wait_for_first_consumer) {
                return Err(ERR_UNBOUND_IMMEDIATE.to_string());
            }
        }
        Ok(())
    }

    pub fn filter(&self, namespace: &str, claims: &[String], node: &NodeInfo) -> Option<Status> {
        for name in claims {
            let Some(claim) = self.claims.get(&(namespace.to_string(), name.clone())) else { continue };
            let reachable = |v: &Volume| v.node_terms.as_ref().is_none_or(|terms| terms.iter().any(|t| t.matches(node)));
            match &claim.volume_name {
                Some(pv) => {
                    if self.volumes.get(pv).is_some_and(|v| !reachable(v)) {
                        return Some(Status::new(Code::UnschedulableAndUnresolvable, names::VOLUME_BINDING, ERR_REASON_NODE_CONFLICT));
                    }
                }
                None => {
                    let class_name = claim.class.clone().unwrap_or_default();
                    let provisioned = self.class(claim).is_some_and(|c| c.provisioner != NO_PROVISIONER);
                    let static_fits = || self.volumes.values().any(|v| !v.claimed && v.class == class_name && reachable(v));
                    if !provisioned && !static_fits() {
                        return Some(Status::new(Code::UnschedulableAndUnresolvable, names::VOLUME_BINDING, ERR_REASON_BIND_CONFLICT));
                    }
                }
            }
        }
        None
    }

    /// Whether the claim is bound to a volume (what a pod waiting on it needs).
    pub fn is_bound(&self, namespace: &str, claim: &str) -> bool {
        self.claims.get(&(namespace.to_string(), claim.to_string())).is_some_and(|c| c.volume_name.is_some())
    }

    /// The unbound claims to annotate with the chosen node before the pod is bound.
    pub fn to_select(&self, namespace: &str, claims: &[String]) -> Vec<String> {
        claims
            .iter()
            .filter(|name| self.claims.get(&(namespace.to_string(), (*name).clone())).is_some_and(|c| c.volume_name.is_none()))
            .cloned()
            .collect()
    }
}

/// The claims a pod uses: persistentVolumeClaim volumes, and the `<pod>-<volume>` claims
/// of generic ephemeral volumes.
pub fn pod_claims(pod: &Pod) -> Vec<String> {
    let name = pod.metadata.name.clone().unwrap_or_default();
    let volumes = pod.spec.as_ref().and_then(|s| s.volumes.as_ref());
    volumes
        .into_iter()
        .flatten()
        .filter_map(|v| match (&v.persistent_volume_claim, &v.ephemeral) {
            (Some(c), _) => Some(c.claim_name.clone()),
            (None, Some(_)) => Some(format!("{name}-{}", v.name)),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testutil::node_with;
    use crate::snapshot::Snapshot;
    use serde_json::json;

    fn index() -> VolumeIndex {
        let mut idx = VolumeIndex::default();
        let class = |name: &str, mode: &str, prov: &str| -> StorageClass {
            serde_json::from_value(json!({"metadata": {"name": name}, "provisioner": prov, "volumeBindingMode": mode})).expect("class")
        };
        idx.upsert_class(&class("local", "WaitForFirstConsumer", "skiff.io/local"));
        idx.upsert_class(&class("manual", "WaitForFirstConsumer", NO_PROVISIONER));
        idx.upsert_class(&class("fast", "Immediate", "example.com/fast"));
        let pvc = |name: &str, class: &str, volume: Option<&str>| -> PersistentVolumeClaim {
            serde_json::from_value(json!({"metadata": {"name": name, "namespace": "default"},
                "spec": {"storageClassName": class, "volumeName": volume, "accessModes": ["ReadWriteOnce"]}}))
            .expect("pvc")
        };
        idx.upsert_claim(&pvc("data-0", "local", Some("pv-a")));
        idx.upsert_claim(&pvc("new", "local", None));
        idx.upsert_claim(&pvc("manual-claim", "manual", None));
        idx.upsert_claim(&pvc("immediate", "fast", None));
        let pv = |name: &str, class: &str, node: &str, claimed: bool| -> PersistentVolume {
            serde_json::from_value(json!({"metadata": {"name": name}, "spec": {"storageClassName": class,
                "claimRef": if claimed { json!({"name": "x"}) } else { json!(null) },
                "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                    {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]}]}}}}))
            .expect("pv")
        };
        idx.upsert_volume(&pv("pv-a", "local", "node-a", true));
        idx.upsert_volume(&pv("spare-b", "manual", "node-b", false));
        idx
    }

    fn node(name: &str) -> NodeInfo {
        let mut s = Snapshot::new();
        s.upsert_node(node_with(name, "1", "1Gi", json!({}), json!({})));
        s.nodes[0].clone()
    }

    #[test]
    fn bound_volumes_pin_pods_to_their_node() {
        let idx = index();
        let claims = vec!["data-0".to_string()];
        assert_eq!(idx.pre_filter("default", &claims), Ok(()));
        assert!(idx.filter("default", &claims, &node("node-a")).is_none());
        let st = idx.filter("default", &claims, &node("node-b")).expect("conflict");
        assert_eq!(st.reasons[0], ERR_REASON_NODE_CONFLICT);
    }

    #[test]
    fn unbound_claims_by_binding_mode() {
        let idx = index();
        assert!(idx.filter("default", &["new".to_string()], &node("node-b")).is_none(), "a provisioner makes it anywhere");
        assert_eq!(idx.to_select("default", &["data-0".to_string(), "new".to_string()]), ["new"]);
        let manual = vec!["manual-claim".to_string()];
        assert!(idx.filter("default", &manual, &node("node-b")).is_none(), "a spare static volume there");
        assert_eq!(idx.filter("default", &manual, &node("node-a")).expect("none there").reasons[0], ERR_REASON_BIND_CONFLICT);
        assert_eq!(idx.pre_filter("default", &["immediate".to_string()]), Err(ERR_UNBOUND_IMMEDIATE.to_string()));
        assert_eq!(idx.pre_filter("default", &["nope".to_string()]), Err("persistentvolumeclaim \"nope\" not found".to_string()));
    }

    #[test]
    fn claims_of_a_pod() {
        let pod: Pod = serde_json::from_value(json!({"metadata": {"name": "web-0"}, "spec": {"containers": [], "volumes": [
            {"name": "data", "persistentVolumeClaim": {"claimName": "data-web-0"}},
            {"name": "scratch", "ephemeral": {"volumeClaimTemplate": {"spec": {}}}},
            {"name": "tmp", "emptyDir": {}}]}}))
        .expect("pod");
        assert_eq!(pod_claims(&pod), ["data-web-0", "web-0-scratch"]);
    }
}
