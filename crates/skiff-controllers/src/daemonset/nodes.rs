//! Which nodes a daemon pod belongs on (upstream `NodeShouldRunDaemonPod`): the
//! template's nodeName, nodeSelector and required node affinity must match the node, and
//! its tolerations, with the ones every daemon pod gets, must tolerate the node's
//! NoSchedule and NoExecute taints. A node whose only untolerated taints are NoSchedule
//! keeps a pod it already runs. The node's cordon (`spec.unschedulable`) does not count:
//! daemon pods tolerate it, and the scheduler places them past it.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Affinity, Node, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, PodSpec, Taint, Toleration};

use crate::informer::Cached;

/// What the DaemonSet controller keeps of a Node.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DaemonNode {
    pub name: String,
    pub resource_version: String,
    pub labels: BTreeMap<String, String>,
    pub taints: Vec<Taint>,
}

impl Cached for DaemonNode {
    fn namespace(&self) -> &str {
        ""
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn resource_version(&self) -> &str {
        &self.resource_version
    }
}

impl DaemonNode {
    pub fn from_node(n: Node) -> Option<DaemonNode> {
        Some(DaemonNode {
            name: n.metadata.name?,
            resource_version: n.metadata.resource_version.unwrap_or_default(),
            labels: n.metadata.labels.unwrap_or_default(),
            taints: n.spec.and_then(|s| s.taints).unwrap_or_default(),
        })
    }

    /// The same node as far as daemon pods are concerned (heartbeats change nothing).
    pub fn same_placement(&self, other: &DaemonNode) -> bool {
        self.labels == other.labels && self.taints == other.taints
    }
}

/// The tolerations upstream gives every daemon pod (`AddOrUpdateDaemonPodTolerations`):
/// a node going not-ready or unreachable never evicts it, and pressure, a cordon or (for
/// host-network pods) a missing network never keep it off a node.
pub fn add_daemon_tolerations(spec: &mut PodSpec) {
    let mut wanted = vec![
        ("node.kubernetes.io/not-ready", "NoExecute"),
        ("node.kubernetes.io/unreachable", "NoExecute"),
        ("node.kubernetes.io/disk-pressure", "NoSchedule"),
        ("node.kubernetes.io/memory-pressure", "NoSchedule"),
        ("node.kubernetes.io/pid-pressure", "NoSchedule"),
        ("node.kubernetes.io/unschedulable", "NoSchedule"),
    ];
    if spec.host_network == Some(true) {
        wanted.push(("node.kubernetes.io/network-unavailable", "NoSchedule"));
    }
    for (key, effect) in wanted {
        let t = Toleration { key: Some(key.into()), operator: Some("Exists".into()), effect: Some(effect.into()), ..Default::default() };
        add_or_update_toleration(spec, t);
    }
}

fn s(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("")
}

/// Upstream `AddOrUpdateTolerationInPodSpec`: a toleration with the same key, operator,
/// value and effect is replaced (dropping its tolerationSeconds); otherwise appended.
fn add_or_update_toleration(spec: &mut PodSpec, t: Toleration) {
    let list = spec.tolerations.get_or_insert_with(Vec::new);
    let same = |o: &Toleration| s(&o.key) == s(&t.key) && s(&o.operator) == s(&t.operator) && s(&o.value) == s(&t.value) && s(&o.effect) == s(&t.effect);
    match list.iter_mut().find(|o| same(o)) {
        Some(o) => *o = t,
        None => list.push(t),
    }
}

/// Toleration.ToleratesTaint.
pub fn tolerates(t: &Toleration, taint: &Taint) -> bool {
    if !s(&t.effect).is_empty() && s(&t.effect) != taint.effect {
        return false;
    }
    if !s(&t.key).is_empty() && s(&t.key) != taint.key {
        return false;
    }
    match s(&t.operator) {
        "" | "Equal" => s(&t.value) == s(&taint.value),
        "Exists" => true,
        _ => false,
    }
}

fn untolerated<'a>(taints: &'a [Taint], tolerations: &[Toleration], effects: &[&str]) -> Option<&'a Taint> {
    taints.iter().filter(|t| effects.contains(&t.effect.as_str())).find(|taint| !tolerations.iter().any(|t| tolerates(t, taint)))
}

fn requirement_matches(r: &NodeSelectorRequirement, value: Option<&str>) -> bool {
    let values = r.values.as_deref().unwrap_or_default();
    match r.operator.as_str() {
        "In" => value.is_some_and(|v| values.iter().any(|x| x == v)),
        "NotIn" => value.is_none_or(|v| !values.iter().any(|x| x == v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" | "Lt" => {
            let (Some(have), [want]) = (value.and_then(|v| v.parse::<i64>().ok()), values) else { return false };
            let Ok(want) = want.parse::<i64>() else { return false };
            if r.operator == "Gt" {
                have > want
            } else {
                have < want
            }
        }
        _ => false,
    }
}

/// One node selector term: all its requirements hold (a term without any matches nothing;
/// only `metadata.name` is a field, with In and NotIn).
fn term_matches(term: &NodeSelectorTerm, node: &DaemonNode) -> bool {
    let exprs = term.match_expressions.as_deref().unwrap_or_default();
    let fields = term.match_fields.as_deref().unwrap_or_default();
    if exprs.is_empty() && fields.is_empty() {
        return false;
    }
    exprs.iter().all(|r| requirement_matches(r, node.labels.get(&r.key).map(String::as_str)))
        && fields.iter().all(|r| r.key == "metadata.name" && matches!(r.operator.as_str(), "In" | "NotIn") && requirement_matches(r, Some(&node.name)))
}

/// nodeSelector and the required node affinity (upstream `GetRequiredNodeAffinity.Match`).
pub fn affinity_matches(spec: &PodSpec, node: &DaemonNode) -> bool {
    let selector_ok = spec.node_selector.as_ref().is_none_or(|sel| sel.iter().all(|(k, v)| node.labels.get(k) == Some(v)));
    let required = spec.affinity.as_ref().and_then(|a| a.node_affinity.as_ref()).and_then(|n| n.required_during_scheduling_ignored_during_execution.as_ref());
    selector_ok && required.is_none_or(|r| r.node_selector_terms.iter().any(|t| term_matches(t, node)))
}

/// (shouldRun, shouldContinueRunning) for a daemon pod of `spec` (its template's spec
/// with [`add_daemon_tolerations`] applied) on `node`.
pub fn should_run(spec: &PodSpec, node: &DaemonNode) -> (bool, bool) {
    if spec.node_name.as_deref().is_some_and(|n| !n.is_empty() && n != node.name) {
        return (false, false);
    }
    if !affinity_matches(spec, node) {
        return (false, false);
    }
    let tolerations = spec.tolerations.as_deref().unwrap_or_default();
    if untolerated(&node.taints, tolerations, &["NoSchedule", "NoExecute"]).is_some() {
        return (false, untolerated(&node.taints, tolerations, &["NoExecute"]).is_none());
    }
    (true, true)
}

/// The pod's affinity pinned to `node` (upstream `ReplaceDaemonSetPodNodeNameNodeAffinity`):
/// the required terms become one `matchFields: metadata.name In [node]` term; preferred
/// terms and pod (anti-)affinity stay.
pub fn pin_to_node(affinity: Option<Affinity>, node: &str) -> Affinity {
    let selector = NodeSelector {
        node_selector_terms: vec![NodeSelectorTerm {
            match_fields: Some(vec![NodeSelectorRequirement { key: "metadata.name".into(), operator: "In".into(), values: Some(vec![node.to_string()]) }]),
            match_expressions: None,
        }],
    };
    let mut affinity = affinity.unwrap_or_default();
    let na = affinity.node_affinity.get_or_insert_with(NodeAffinity::default);
    na.required_during_scheduling_ignored_during_execution = Some(selector);
    affinity
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    pub fn node(name: &str, labels: &[(&str, &str)], taints: &[(&str, &str)]) -> DaemonNode {
        DaemonNode {
            name: name.into(),
            resource_version: "1".into(),
            labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            taints: taints.iter().map(|(k, e)| Taint { key: k.to_string(), effect: e.to_string(), ..Default::default() }).collect(),
        }
    }

    fn spec(v: serde_json::Value) -> PodSpec {
        let mut s: PodSpec = serde_json::from_value(v).unwrap();
        add_daemon_tolerations(&mut s);
        s
    }

    #[test]
    fn default_tolerations_are_added_once_and_replace_equal_ones() {
        let mut s: PodSpec = serde_json::from_value(json!({"containers": [], "hostNetwork": true, "tolerations": [
            {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
            {"key": "dedicated", "operator": "Equal", "value": "logs", "effect": "NoSchedule"}]}))
        .unwrap();
        add_daemon_tolerations(&mut s);
        add_daemon_tolerations(&mut s);
        let t = s.tolerations.unwrap();
        let keys: Vec<&str> = t.iter().map(|t| t.key.as_deref().unwrap_or("")).collect();
        assert_eq!(
            keys,
            [
                "node.kubernetes.io/not-ready",
                "dedicated",
                "node.kubernetes.io/unreachable",
                "node.kubernetes.io/disk-pressure",
                "node.kubernetes.io/memory-pressure",
                "node.kubernetes.io/pid-pressure",
                "node.kubernetes.io/unschedulable",
                "node.kubernetes.io/network-unavailable"
            ]
        );
        assert_eq!(t[0].toleration_seconds, None, "replaced by the infinite one");
    }

    #[test]
    fn node_selector_affinity_and_name() {
        let ssd = node("a", &[("disk", "ssd"), ("gen", "5")], &[]);
        let hdd = node("b", &[("disk", "hdd")], &[]);
        let by_selector = spec(json!({"containers": [], "nodeSelector": {"disk": "ssd"}}));
        assert_eq!(should_run(&by_selector, &ssd), (true, true));
        assert_eq!(should_run(&by_selector, &hdd), (false, false), "relabelled out: the pod goes");
        let by_affinity = spec(json!({"containers": [], "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "gen", "operator": "Gt", "values": ["4"]}]},
            {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["b"]}]}]}}}}));
        assert!(should_run(&by_affinity, &ssd).0);
        assert!(should_run(&by_affinity, &hdd).0, "second term by node name");
        assert!(!should_run(&by_affinity, &node("c", &[("gen", "3")], &[])).0);
        let empty_term = spec(json!({"containers": [], "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{}]}}}}));
        assert!(!should_run(&empty_term, &ssd).0, "an empty term matches nothing");
        let not_in = spec(json!({"containers": [], "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "disk", "operator": "NotIn", "values": ["hdd"]}, {"key": "gpu", "operator": "DoesNotExist"}]}]}}}}));
        assert!(should_run(&not_in, &ssd).0 && !should_run(&not_in, &hdd).0);
        let named = spec(json!({"containers": [], "nodeName": "b"}));
        assert_eq!((should_run(&named, &ssd).0, should_run(&named, &hdd).0), (false, true));
    }

    #[test]
    fn taints_default_tolerations_and_cordon() {
        let plain = spec(json!({"containers": []}));
        // Conditions and a cordon never keep a daemon pod off.
        for taint in ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"] {
            assert_eq!(should_run(&plain, &node("n", &[], &[(taint, "NoExecute")])), (true, true), "{taint}");
        }
        for taint in ["node.kubernetes.io/unschedulable", "node.kubernetes.io/disk-pressure", "node.kubernetes.io/memory-pressure", "node.kubernetes.io/pid-pressure"] {
            assert_eq!(should_run(&plain, &node("n", &[], &[(taint, "NoSchedule")])), (true, true), "{taint}");
        }
        // A user's NoSchedule taint: no new pod, but a running one stays; NoExecute: gone.
        assert_eq!(should_run(&plain, &node("n", &[], &[("dedicated", "NoSchedule")])), (false, true));
        assert_eq!(should_run(&plain, &node("n", &[], &[("dedicated", "NoExecute")])), (false, false));
        assert_eq!(should_run(&plain, &node("n", &[], &[("dedicated", "PreferNoSchedule")])), (true, true));
        let tolerant = spec(json!({"containers": [], "tolerations": [{"key": "dedicated", "operator": "Exists"}]}));
        assert_eq!(should_run(&tolerant, &node("n", &[], &[("dedicated", "NoExecute")])), (true, true));
        let everything = spec(json!({"containers": [], "tolerations": [{"operator": "Exists"}]}));
        assert_eq!(should_run(&everything, &node("n", &[], &[("anything", "NoExecute")])), (true, true));
        let mut valued = Taint { key: "team".into(), value: Some("a".into()), effect: "NoSchedule".into(), ..Default::default() };
        let equal = Toleration { key: Some("team".into()), value: Some("a".into()), ..Default::default() };
        assert!(tolerates(&equal, &valued));
        valued.value = Some("b".into());
        assert!(!tolerates(&equal, &valued));
    }

    #[test]
    fn pinning_replaces_required_terms_only() {
        let a: Affinity = serde_json::from_value(json!({
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]}]},
                "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 1, "preference": {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}}]},
            "podAntiAffinity": {}}))
        .unwrap();
        let pinned = serde_json::to_value(pin_to_node(Some(a), "node-b")).unwrap();
        assert_eq!(
            pinned["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"],
            json!({"nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["node-b"]}]}]})
        );
        assert_eq!(pinned["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]["weight"], 1);
        assert!(pinned.get("podAntiAffinity").is_some());
        let fresh = serde_json::to_value(pin_to_node(None, "n1")).unwrap();
        assert_eq!(fresh["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0]["matchFields"][0]["values"], json!(["n1"]));
    }
}
