//! What the controllers know of a pod: a slim projection of the watched Pod (10,000 pods
//! cost a few MB, not the full objects), and upstream's pod predicates on it: active,
//! ready, available after minReadySeconds, and the order in which a controller deletes
//! pods when it scales down (`ActivePodsWithRanks`).

use std::cmp::Ordering;
use std::collections::BTreeMap;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

use crate::informer::Cached;

pub const DELETION_COST_ANNOTATION: &str = "controller.kubernetes.io/pod-deletion-cost";

#[derive(Debug, Clone, PartialEq, Default)]
pub struct PodInfo {
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub resource_version: String,
    pub labels: BTreeMap<String, String>,
    pub owners: Vec<OwnerReference>,
    pub finalizers: Vec<String>,
    pub created: Option<Timestamp>,
    /// metadata.deletionTimestamp is set.
    pub deleting: bool,
    pub node_name: String,
    pub phase: String,
    /// The Ready condition is True, and since when.
    pub ready: bool,
    pub ready_since: Option<Timestamp>,
    pub deletion_cost: i32,
    /// Highest restart count of the app containers, and of the sidecars.
    pub restarts: (i32, i32),
    /// Exit codes, conditions and completion index of a Job's pod (None for other pods).
    pub job: Option<Box<crate::job::JobPodFacts>>,
    /// The node a required node affinity term names (`matchFields: metadata.name In
    /// [node]`, as the DaemonSet controller pins its pods), for pods not yet bound.
    pub affinity_node: Option<String>,
}

impl Cached for PodInfo {
    fn namespace(&self) -> &str {
        &self.namespace
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn resource_version(&self) -> &str {
        &self.resource_version
    }
}

impl PodInfo {
    pub fn from_pod(p: Pod) -> Option<PodInfo> {
        let meta = p.metadata;
        let status = p.status.unwrap_or_default();
        let spec = p.spec.unwrap_or_default();
        let job = crate::job::pod_facts(&meta, Some(&status));
        let ready_cond = status.conditions.unwrap_or_default().into_iter().find(|c| c.type_ == "Ready" && c.status == "True");
        let annotations = meta.annotations.unwrap_or_default();
        let regular = status.container_statuses.unwrap_or_default().iter().map(|c| c.restart_count).max().unwrap_or(0);
        let affinity_node = affinity_node(&spec);
        let sidecar_names: Vec<String> = spec
            .init_containers
            .unwrap_or_default()
            .into_iter()
            .filter(|c| c.restart_policy.as_deref() == Some("Always"))
            .map(|c| c.name)
            .collect();
        let sidecar = status
            .init_container_statuses
            .unwrap_or_default()
            .iter()
            .filter(|c| sidecar_names.contains(&c.name))
            .map(|c| c.restart_count)
            .max()
            .unwrap_or(0);
        Some(PodInfo {
            namespace: meta.namespace.unwrap_or_default(),
            name: meta.name?,
            uid: meta.uid.unwrap_or_default(),
            resource_version: meta.resource_version.unwrap_or_default(),
            labels: meta.labels.unwrap_or_default(),
            owners: meta.owner_references.unwrap_or_default(),
            finalizers: meta.finalizers.unwrap_or_default(),
            created: meta.creation_timestamp.map(|t| t.0),
            deleting: meta.deletion_timestamp.is_some(),
            node_name: spec.node_name.unwrap_or_default(),
            phase: status.phase.unwrap_or_default(),
            ready: ready_cond.is_some(),
            ready_since: ready_cond.and_then(|c| c.last_transition_time).map(|t| t.0),
            deletion_cost: annotations.get(DELETION_COST_ANNOTATION).and_then(|v| v.parse().ok()).unwrap_or(0),
            restarts: (regular, sidecar),
            job,
            affinity_node,
        })
    }

    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// The owner reference with controller=true.
    pub fn controller(&self) -> Option<&OwnerReference> {
        controller_of(&self.owners)
    }

    /// Not terminated and not being deleted (upstream `IsPodActive`).
    pub fn is_active(&self) -> bool {
        self.phase != "Succeeded" && self.phase != "Failed" && !self.deleting
    }

    /// Ready for at least minReadySeconds (upstream `IsPodAvailable`).
    pub fn is_available(&self, min_ready_seconds: i32, now: Timestamp) -> bool {
        if !self.ready {
            return false;
        }
        if min_ready_seconds <= 0 {
            return true;
        }
        match self.ready_since {
            Some(since) => since + jiff::SignedDuration::from_secs(i64::from(min_ready_seconds)) < now,
            None => false,
        }
    }
}

/// The first `matchFields: metadata.name In [one node]` of the required node affinity
/// (upstream `GetTargetNodeName` without the nodeName).
fn affinity_node(spec: &k8s_openapi::api::core::v1::PodSpec) -> Option<String> {
    let required = spec.affinity.as_ref()?.node_affinity.as_ref()?.required_during_scheduling_ignored_during_execution.as_ref()?;
    required.node_selector_terms.iter().flat_map(|t| t.match_fields.iter().flatten()).find(|f| f.key == "metadata.name" && f.operator == "In").and_then(|f| match f.values.as_deref() {
        Some([one]) => Some(one.clone()),
        _ => None,
    })
}

pub fn controller_of(owners: &[OwnerReference]) -> Option<&OwnerReference> {
    owners.iter().find(|o| o.controller == Some(true))
}

fn phase_ordinal(phase: &str) -> u8 {
    match phase {
        "Pending" => 0,
        "Unknown" => 1,
        "Running" => 2,
        _ => 0,
    }
}

/// The age bucket of a time: log2 of the age in nanoseconds (upstream's
/// LogarithmicScaleDown ranks); a missing time sorts first, then newer buckets.
fn age_bucket(t: Option<Timestamp>, now: Timestamp) -> i64 {
    match t {
        None => i64::MIN,
        Some(t) => {
            let d = now.duration_since(t).as_nanos();
            if d > 0 {
                (d as f64).log2() as i64
            } else {
                -1
            }
        }
    }
}

/// The order in which pods are deleted on scale-down, first to go first (upstream
/// `ActivePodsWithRanks.Less`): unassigned, then pending < unknown < running, not ready,
/// lower deletion cost, more related pods on the same node, ready for less time, more
/// restarts, newer; times compared in logarithmic buckets of age, ties broken by UID.
/// Written as a key comparison so that it is a total order (upstream's pairwise rules
/// are not always transitive, which Rust's sort does not allow).
pub fn deletion_order(a: &PodInfo, rank_a: usize, b: &PodInfo, rank_b: usize, now: Timestamp) -> Ordering {
    let key = |p: &PodInfo, rank: usize| {
        (
            !p.node_name.is_empty(),
            phase_ordinal(&p.phase),
            p.ready,
            p.deletion_cost,
            std::cmp::Reverse(rank),
            if p.ready { age_bucket(p.ready_since, now) } else { 0 },
            std::cmp::Reverse(p.restarts.0),
            std::cmp::Reverse(p.restarts.1),
            age_bucket(p.created, now),
        )
    };
    key(a, rank_a).cmp(&key(b, rank_b)).then_with(|| a.uid.cmp(&b.uid))
}

/// Picks `n` pods to delete out of `pods`; `related` are the active pods of the same
/// controller family (a Deployment's ReplicaSets), counted per node to rank doubled-up
/// pods first.
pub fn pods_to_delete<'a>(pods: &'a [std::sync::Arc<PodInfo>], related: &[std::sync::Arc<PodInfo>], n: usize, now: Timestamp) -> Vec<&'a std::sync::Arc<PodInfo>> {
    if n >= pods.len() {
        return pods.iter().collect();
    }
    let mut on_node: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for p in related.iter().filter(|p| p.is_active()) {
        *on_node.entry(p.node_name.as_str()).or_default() += 1;
    }
    let mut ranked: Vec<(&std::sync::Arc<PodInfo>, usize)> =
        pods.iter().map(|p| (p, on_node.get(p.node_name.as_str()).copied().unwrap_or(0))).collect();
    ranked.sort_by(|(a, ra), (b, rb)| deletion_order(a, *ra, b, *rb, now));
    ranked.into_iter().take(n).map(|(p, _)| p).collect()
}

#[cfg(test)]
pub(crate) mod testutil {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

    pub fn ts(secs: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + secs).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    pub fn owner(kind: &str, name: &str, uid: &str) -> OwnerReference {
        OwnerReference {
            api_version: if kind == "ReplicationController" { "v1".into() } else { "apps/v1".into() },
            kind: kind.into(),
            name: name.into(),
            uid: uid.into(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        }
    }

    pub fn pod(name: &str, labels: &[(&str, &str)]) -> PodInfo {
        PodInfo {
            namespace: "default".into(),
            name: name.into(),
            uid: format!("uid-{name}"),
            resource_version: "1".into(),
            labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            created: Some(ts(0)),
            phase: "Pending".into(),
            ..Default::default()
        }
    }

    pub fn running(mut p: PodInfo, node: &str, ready_since: Option<i64>) -> PodInfo {
        p.node_name = node.into();
        p.phase = "Running".into();
        p.ready = ready_since.is_some();
        p.ready_since = ready_since.map(ts);
        p
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::*;
    use super::*;
    use std::sync::Arc;

    #[test]
    fn availability_waits_min_ready_seconds() {
        let p = running(pod("a", &[]), "n1", Some(0));
        assert!(p.is_available(0, ts(0)));
        assert!(!p.is_available(10, ts(10)));
        assert!(p.is_available(10, ts(11)));
        assert!(!pod("b", &[]).is_available(0, ts(100)));
        let mut gone = p.clone();
        gone.deleting = true;
        assert!(!gone.is_active());
        let mut done = p;
        done.phase = "Succeeded".into();
        assert!(!done.is_active());
    }

    #[test]
    fn deletion_order_prefers_the_least_useful_pods() {
        let now = ts(100_000);
        let unscheduled = pod("unscheduled", &[]);
        let mut pending = pod("pending", &[]);
        pending.node_name = "n1".into();
        let not_ready = running(pod("not-ready", &[]), "n1", None);
        let mut cheap = running(pod("cheap", &[]), "n2", Some(0));
        cheap.deletion_cost = -10;
        let young = running(pod("young", &[]), "n2", Some(99_990));
        let old = running(pod("old", &[]), "n3", Some(10));
        let mut crashy = running(pod("crashy", &[]), "n3", Some(10));
        crashy.restarts = (5, 0);
        let pods: Vec<Arc<PodInfo>> =
            [old.clone(), crashy, young, cheap, not_ready, pending, unscheduled].into_iter().map(Arc::new).collect();
        let order: Vec<&str> = pods_to_delete(&pods, &[], 6, now).iter().map(|p| p.name.as_str()).collect();
        assert_eq!(order, ["unscheduled", "pending", "not-ready", "cheap", "young", "crashy"]);
        assert_eq!(pods_to_delete(&pods, &[], 7, now).len(), 7);
    }

    #[test]
    fn deletion_order_is_a_total_order() {
        // Equal ready times, times in one bucket, different restarts and UIDs: the mix on
        // which pairwise rules can cycle.
        let now = ts(100_000);
        let mut pods = Vec::new();
        for (i, (ready, restarts)) in [(50_000, 0), (50_000, 3), (50_001, 1), (50_002, 0), (99_999, 2), (50_000, 1)].iter().enumerate() {
            let mut p = running(pod(&format!("p{i}"), &[]), "n1", Some(*ready));
            p.uid = format!("{}", [5, 3, 1, 4, 0, 2][i]);
            p.restarts = (*restarts, 0);
            pods.push(p);
        }
        for a in &pods {
            for b in &pods {
                for c in &pods {
                    let (ab, bc, ac) = (deletion_order(a, 0, b, 0, now), deletion_order(b, 0, c, 0, now), deletion_order(a, 0, c, 0, now));
                    if ab == Ordering::Less && bc == Ordering::Less {
                        assert_eq!(ac, Ordering::Less, "{} {} {}", a.name, b.name, c.name);
                    }
                }
                assert_eq!(deletion_order(a, 0, b, 0, now), deletion_order(b, 0, a, 0, now).reverse());
            }
        }
    }

    #[test]
    fn doubled_up_pods_go_first() {
        let now = ts(1000);
        let a = Arc::new(running(pod("a", &[]), "n1", Some(0)));
        let b = Arc::new(running(pod("b", &[]), "n2", Some(0)));
        let sibling = Arc::new(running(pod("sibling", &[]), "n2", Some(0)));
        let pods = vec![a.clone(), b.clone()];
        let related = vec![a, b, sibling];
        let order: Vec<&str> = pods_to_delete(&pods, &related, 1, now).iter().map(|p| p.name.as_str()).collect();
        assert_eq!(order, ["b"]);
    }

    #[test]
    fn newer_pods_go_first_in_log_buckets() {
        let now = ts(10_000);
        let mut newer = running(pod("newer", &[]), "n1", Some(0));
        newer.created = Some(ts(9_000));
        let mut older = running(pod("older", &[]), "n1", Some(0));
        older.created = Some(ts(0));
        let pods: Vec<Arc<PodInfo>> = vec![Arc::new(older), Arc::new(newer)];
        assert_eq!(pods_to_delete(&pods, &[], 1, now)[0].name, "newer");
    }
}
