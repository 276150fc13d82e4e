//! The types the plugins share: statuses, parsed selectors and affinity terms, taints and
//! tolerations, resource vectors, and the parsed forms of a pod and a node
//! (upstream's `framework.PodInfo`, `framework.NodeInfo` and `framework.Resource`).
//!
//! Everything here is parsed once (when a pod or node enters the snapshot, or once per
//! scheduling cycle for the incoming pod) so the per-node filter and score loops only
//! compare integers and look up labels.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::hash::{BuildHasherDefault, Hasher};

use k8s_openapi::api::core::v1 as core;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector as K8sLabelSelector;
use skiff_api::selector::{Operator, Requirement};

/// Scores are normalised to `0..=MAX_NODE_SCORE` before weighting (upstream `MaxNodeScore`).
pub const MAX_NODE_SCORE: i64 = 100;

/// The label that names a node; the fast paths for hostname topology key on it.
pub const LABEL_HOSTNAME: &str = "kubernetes.io/hostname";
pub const LABEL_ZONE: &str = "topology.kubernetes.io/zone";
pub const LABEL_REGION: &str = "topology.kubernetes.io/region";
const LABEL_ZONE_BETA: &str = "failure-domain.beta.kubernetes.io/zone";
const LABEL_REGION_BETA: &str = "failure-domain.beta.kubernetes.io/region";

pub const TAINT_UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";
pub const TAINT_NOT_READY: &str = "node.kubernetes.io/not-ready";
pub const TAINT_UNREACHABLE: &str = "node.kubernetes.io/unreachable";

pub const EFFECT_NO_SCHEDULE: &str = "NoSchedule";
pub const EFFECT_PREFER_NO_SCHEDULE: &str = "PreferNoSchedule";
pub const EFFECT_NO_EXECUTE: &str = "NoExecute";

/// Plugin names, as upstream registers them (they appear in `FitError::unschedulable_plugins`).
pub mod names {
    pub const NODE_UNSCHEDULABLE: &str = "NodeUnschedulable";
    pub const NODE_NAME: &str = "NodeName";
    pub const TAINT_TOLERATION: &str = "TaintToleration";
    pub const NODE_AFFINITY: &str = "NodeAffinity";
    pub const NODE_PORTS: &str = "NodePorts";
    pub const NODE_RESOURCES_FIT: &str = "NodeResourcesFit";
    pub const POD_TOPOLOGY_SPREAD: &str = "PodTopologySpread";
    pub const INTER_POD_AFFINITY: &str = "InterPodAffinity";
    pub const BALANCED_ALLOCATION: &str = "NodeResourcesBalancedAllocation";
    pub const VOLUME_BINDING: &str = "VolumeBinding";
}

/// Upstream's default score weights (`getDefaultPlugins` in the v1 config defaults).
pub mod weights {
    pub const TAINT_TOLERATION: i64 = 3;
    pub const NODE_AFFINITY: i64 = 2;
    pub const POD_TOPOLOGY_SPREAD: i64 = 2;
    pub const INTER_POD_AFFINITY: i64 = 2;
    pub const NODE_RESOURCES_FIT: i64 = 1;
    pub const BALANCED_ALLOCATION: i64 = 1;
}

// ---------------------------------------------------------------------------
// Hashing
// ---------------------------------------------------------------------------

/// A small multiplicative hasher (the Fx hash rustc uses) for maps keyed by our own
/// integers; std's SipHash costs more than the work these maps save.
#[derive(Default, Clone, Copy)]
pub struct FxHasher {
    hash: u64,
}

const FX_SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.hash = (self.hash.rotate_left(5) ^ u64::from(b)).wrapping_mul(FX_SEED);
        }
    }
    fn write_u32(&mut self, i: u32) {
        self.hash = (self.hash.rotate_left(5) ^ u64::from(i)).wrapping_mul(FX_SEED);
    }
    fn write_u64(&mut self, i: u64) {
        self.hash = (self.hash.rotate_left(5) ^ i).wrapping_mul(FX_SEED);
    }
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }
    fn finish(&self) -> u64 {
        self.hash
    }
}

/// A hash map keyed by node or pod slot numbers.
pub type SlotMap<V> = std::collections::HashMap<u32, V, BuildHasherDefault<FxHasher>>;

// ---------------------------------------------------------------------------
// Status
// ---------------------------------------------------------------------------

/// Why a filter rejected a node. Upstream distinguishes failures preemption could fix
/// (`Unschedulable`) from those it cannot (`UnschedulableAndUnresolvable`); the FitError's
/// preemption text depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    Unschedulable,
    UnschedulableAndUnresolvable,
}

/// A rejecting filter result: the code, the plugin and its reasons (each counted in the
/// FitError histogram).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub code: Code,
    pub plugin: &'static str,
    pub reasons: Vec<Cow<'static, str>>,
}

impl Status {
    pub fn new(code: Code, plugin: &'static str, reason: impl Into<Cow<'static, str>>) -> Status {
        Status {
            code,
            plugin,
            reasons: vec![reason.into()],
        }
    }
}

// ---------------------------------------------------------------------------
// Label selectors
// ---------------------------------------------------------------------------

pub type Labels = BTreeMap<String, String>;

/// A parsed label selector (apimachinery `labels.Selector`) matched against the typed
/// label maps of pods and nodes. Requirements are validated by skiff-api's
/// `Requirement::new`, which applies upstream's `NewRequirement` checks.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Selector {
    reqs: Vec<Requirement>,
    nothing: bool,
}

impl Selector {
    /// Matches every label set (an empty, non-null selector).
    pub fn everything() -> Selector {
        Selector {
            reqs: Vec::new(),
            nothing: false,
        }
    }

    /// Matches nothing (what a null selector means).
    pub fn nothing() -> Selector {
        Selector {
            reqs: Vec::new(),
            nothing: true,
        }
    }

    /// upstream `metav1.LabelSelectorAsSelector`: null selects nothing, `{}` everything.
    pub fn from_label_selector(ls: Option<&K8sLabelSelector>) -> Result<Selector, String> {
        let Some(ls) = ls else {
            return Ok(Selector::nothing());
        };
        let mut sel = Selector::everything();
        for (k, v) in ls.match_labels.iter().flatten() {
            sel.push(Requirement::new(k, Operator::Equals, vec![v.clone()]).map_err(|e| e.0)?);
        }
        for e in ls.match_expressions.iter().flatten() {
            let op = match e.operator.as_str() {
                "In" => Operator::In,
                "NotIn" => Operator::NotIn,
                "Exists" => Operator::Exists,
                "DoesNotExist" => Operator::DoesNotExist,
                other => return Err(format!("{other:?} is not a valid label selector operator")),
            };
            let values = e.values.clone().unwrap_or_default();
            sel.push(Requirement::new(&e.key, op, values).map_err(|e| e.0)?);
        }
        Ok(sel)
    }

    pub fn push(&mut self, r: Requirement) {
        let at = self.reqs.partition_point(|x| x.key() <= r.key());
        self.reqs.insert(at, r);
    }

    pub fn is_nothing(&self) -> bool {
        self.nothing
    }

    /// True when the selector matches every label set.
    pub fn is_everything(&self) -> bool {
        !self.nothing && self.reqs.is_empty()
    }

    pub fn requirements(&self) -> &[Requirement] {
        &self.reqs
    }

    pub fn matches(&self, labels: &Labels) -> bool {
        !self.nothing && self.reqs.iter().all(|r| requirement_matches(r, labels))
    }

    /// A requirement every matching label set must satisfy by equality: its key and the
    /// values one of which the label must carry. Indexes use it to look up candidates
    /// instead of scanning every pod.
    pub fn anchor(&self) -> Option<(&str, &[String])> {
        if self.nothing {
            return None;
        }
        self.reqs
            .iter()
            .filter(|r| {
                matches!(
                    r.operator(),
                    Operator::In | Operator::Equals | Operator::DoubleEquals
                )
            })
            .min_by_key(|r| r.values().len())
            .map(|r| (r.key(), r.values()))
    }

    /// A stable text form, used to group identical terms of different pods.
    pub fn canonical(&self) -> String {
        if self.nothing {
            return "<none>".to_string();
        }
        let parts: Vec<String> = self.reqs.iter().map(|r| r.to_string()).collect();
        parts.join(",")
    }
}

/// upstream `Requirement.Matches` over a typed label map.
pub fn requirement_matches(r: &Requirement, labels: &Labels) -> bool {
    let got = labels.get(r.key());
    match r.operator() {
        Operator::In | Operator::Equals | Operator::DoubleEquals => {
            got.is_some_and(|v| r.values().iter().any(|x| x == v))
        }
        Operator::NotIn | Operator::NotEquals => {
            got.is_none_or(|v| !r.values().iter().any(|x| x == v))
        }
        Operator::Exists => got.is_some(),
        Operator::DoesNotExist => got.is_none(),
        Operator::GreaterThan | Operator::LessThan => {
            let Some(have) = got.and_then(|v| v.parse::<i64>().ok()) else {
                return false;
            };
            let Some(want) = r.values().first().and_then(|v| v.parse::<i64>().ok()) else {
                return false;
            };
            if r.operator() == Operator::GreaterThan {
                have > want
            } else {
                have < want
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Inter-pod affinity terms
// ---------------------------------------------------------------------------

/// A parsed `PodAffinityTerm` (upstream `framework.AffinityTerm`).
#[derive(Debug, Clone, PartialEq)]
pub struct AffinityTerm {
    /// Sorted, deduplicated namespace names the term applies to.
    pub namespaces: Vec<String>,
    /// Namespaces whose labels match also apply; nothing when the term has none.
    pub namespace_selector: Selector,
    pub selector: Selector,
    pub topology_key: String,
}

impl AffinityTerm {
    /// Parses a term of a pod in `pod_ns` carrying `pod_labels`. The term's
    /// `matchLabelKeys`/`mismatchLabelKeys` are merged into its selector with the pod's
    /// own label values, as upstream's API server does at pod creation (merging twice is
    /// harmless: the requirement is the same).
    pub fn parse(
        pod_ns: &str,
        pod_labels: &Labels,
        term: &core::PodAffinityTerm,
    ) -> Result<AffinityTerm, String> {
        let mut selector = Selector::from_label_selector(term.label_selector.as_ref())?;
        if term.label_selector.is_some() {
            for key in term.match_label_keys.iter().flatten() {
                if let Some(v) = pod_labels.get(key) {
                    selector.push(
                        Requirement::new(key, Operator::In, vec![v.clone()]).map_err(|e| e.0)?,
                    );
                }
            }
            for key in term.mismatch_label_keys.iter().flatten() {
                if let Some(v) = pod_labels.get(key) {
                    selector.push(
                        Requirement::new(key, Operator::NotIn, vec![v.clone()]).map_err(|e| e.0)?,
                    );
                }
            }
        }
        let listed = term.namespaces.as_deref().unwrap_or_default();
        let mut namespaces: Vec<String> = if listed.is_empty() && term.namespace_selector.is_none()
        {
            // Neither given: the term is about the pod's own namespace.
            vec![pod_ns.to_string()]
        } else {
            listed.to_vec()
        };
        namespaces.sort();
        namespaces.dedup();
        let namespace_selector = Selector::from_label_selector(term.namespace_selector.as_ref())?;
        Ok(AffinityTerm {
            namespaces,
            namespace_selector,
            selector,
            topology_key: term.topology_key.clone(),
        })
    }

    /// upstream `AffinityTerm.Matches`: the pod's namespace is named or its labels
    /// (`ns_labels`) match the namespace selector, and the pod's labels match.
    pub fn matches(&self, pod_ns: &str, pod_labels: &Labels, ns_labels: &Labels) -> bool {
        let ns_ok = self
            .namespaces
            .binary_search_by(|n| n.as_str().cmp(pod_ns))
            .is_ok()
            || self.namespace_selector.matches(ns_labels);
        ns_ok && self.selector.matches(pod_labels)
    }

    /// A text form identical for identical terms.
    pub fn canonical(&self) -> String {
        format!(
            "{}|{}|{}|{}",
            self.namespaces.join(","),
            self.namespace_selector.canonical(),
            self.selector.canonical(),
            self.topology_key
        )
    }
}

/// A preferred (scored) term with its weight.
#[derive(Debug, Clone, PartialEq)]
pub struct WeightedAffinityTerm {
    pub term: AffinityTerm,
    pub weight: i32,
}

/// The parsed pod (anti-)affinity of one pod, as upstream's `PodInfo` holds it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PodAffinityTerms {
    pub required_affinity: Vec<AffinityTerm>,
    pub required_anti_affinity: Vec<AffinityTerm>,
    pub preferred_affinity: Vec<WeightedAffinityTerm>,
    pub preferred_anti_affinity: Vec<WeightedAffinityTerm>,
    /// The first term that failed to parse (upstream keeps the error; for an incoming pod
    /// it makes InterPodAffinity's PreFilter reject the pod).
    pub parse_error: Option<String>,
}

impl PodAffinityTerms {
    pub fn parse(pod: &core::Pod) -> PodAffinityTerms {
        let mut out = PodAffinityTerms::default();
        let ns = pod.metadata.namespace.as_deref().unwrap_or_default();
        let empty = Labels::new();
        let labels = pod.metadata.labels.as_ref().unwrap_or(&empty);
        let Some(aff) = pod.spec.as_ref().and_then(|s| s.affinity.as_ref()) else {
            return out;
        };
        let mut err = None;
        let required = |terms: Option<&Vec<core::PodAffinityTerm>>,
                        err: &mut Option<String>|
         -> Vec<AffinityTerm> {
            let mut v = Vec::new();
            for t in terms.into_iter().flatten() {
                match AffinityTerm::parse(ns, labels, t) {
                    Ok(t) => v.push(t),
                    // Upstream drops the whole list when one term is invalid.
                    Err(e) => {
                        err.get_or_insert(e);
                        return Vec::new();
                    }
                }
            }
            v
        };
        if let Some(pa) = &aff.pod_affinity {
            out.required_affinity = required(
                pa.required_during_scheduling_ignored_during_execution
                    .as_ref(),
                &mut err,
            );
        }
        if let Some(pa) = &aff.pod_anti_affinity {
            out.required_anti_affinity = required(
                pa.required_during_scheduling_ignored_during_execution
                    .as_ref(),
                &mut err,
            );
        }
        let weighted = |terms: Option<&Vec<core::WeightedPodAffinityTerm>>,
                        err: &mut Option<String>| {
            let mut v = Vec::new();
            for t in terms.into_iter().flatten() {
                match AffinityTerm::parse(ns, labels, &t.pod_affinity_term) {
                    Ok(term) => v.push(WeightedAffinityTerm {
                        term,
                        weight: t.weight,
                    }),
                    Err(e) => {
                        err.get_or_insert(e);
                        return Vec::new();
                    }
                }
            }
            v
        };
        if let Some(pa) = &aff.pod_affinity {
            out.preferred_affinity = weighted(
                pa.preferred_during_scheduling_ignored_during_execution
                    .as_ref(),
                &mut err,
            );
        }
        if let Some(pa) = &aff.pod_anti_affinity {
            out.preferred_anti_affinity = weighted(
                pa.preferred_during_scheduling_ignored_during_execution
                    .as_ref(),
                &mut err,
            );
        }
        out.parse_error = err;
        out
    }

    pub fn is_empty(&self) -> bool {
        self.required_affinity.is_empty()
            && self.required_anti_affinity.is_empty()
            && self.preferred_affinity.is_empty()
            && self.preferred_anti_affinity.is_empty()
    }
}

// ---------------------------------------------------------------------------
// Node affinity
// ---------------------------------------------------------------------------

/// One `matchFields` requirement; only `metadata.name` is a node field.
#[derive(Debug, Clone, PartialEq)]
struct FieldRequirement {
    key: String,
    equal: bool,
    value: String,
}

/// A parsed `NodeSelectorTerm` (component-helpers `nodeSelectorTerm`).
#[derive(Debug, Clone, PartialEq)]
pub struct NodeSelectorTerm {
    labels: Option<Selector>,
    fields: Option<Vec<FieldRequirement>>,
    /// A term that failed to parse never matches; upstream ignores the error otherwise.
    invalid: bool,
}

impl NodeSelectorTerm {
    pub fn parse(term: &core::NodeSelectorTerm) -> NodeSelectorTerm {
        let mut invalid = false;
        let exprs = term.match_expressions.as_deref().unwrap_or_default();
        let labels = if exprs.is_empty() {
            None
        } else {
            let mut sel = Selector::everything();
            for e in exprs {
                let op = match e.operator.as_str() {
                    "In" => Operator::In,
                    "NotIn" => Operator::NotIn,
                    "Exists" => Operator::Exists,
                    "DoesNotExist" => Operator::DoesNotExist,
                    "Gt" => Operator::GreaterThan,
                    "Lt" => Operator::LessThan,
                    _ => {
                        invalid = true;
                        continue;
                    }
                };
                match Requirement::new(&e.key, op, e.values.clone().unwrap_or_default()) {
                    Ok(r) => sel.push(r),
                    Err(_) => invalid = true,
                }
            }
            Some(sel)
        };
        let field_exprs = term.match_fields.as_deref().unwrap_or_default();
        let fields = if field_exprs.is_empty() {
            None
        } else {
            let mut v = Vec::new();
            for e in field_exprs {
                let values = e.values.as_deref().unwrap_or_default();
                let equal = match e.operator.as_str() {
                    "In" => true,
                    "NotIn" => false,
                    _ => {
                        invalid = true;
                        continue;
                    }
                };
                // Field selectors take exactly one value.
                if values.len() != 1 {
                    invalid = true;
                    continue;
                }
                v.push(FieldRequirement {
                    key: e.key.clone(),
                    equal,
                    value: values[0].clone(),
                });
            }
            Some(v)
        };
        NodeSelectorTerm {
            labels,
            fields,
            invalid,
        }
    }

    /// An empty term (no expressions, no fields) matches no node.
    pub fn matches(&self, node: &NodeInfo) -> bool {
        if self.invalid || (self.labels.is_none() && self.fields.is_none()) {
            return false;
        }
        if let Some(sel) = &self.labels {
            if !sel.matches(&node.labels) {
                return false;
            }
        }
        if let Some(fields) = &self.fields {
            for f in fields {
                let have = if f.key == "metadata.name" {
                    node.name.as_str()
                } else {
                    ""
                };
                if (have == f.value) != f.equal {
                    return false;
                }
            }
        }
        true
    }

    /// The node names a term is limited to by `matchFields metadata.name In`, if any
    /// (several such requirements intersect).
    pub fn node_names(&self) -> Option<Vec<String>> {
        let mut out: Option<Vec<String>> = None;
        for f in self.fields.iter().flatten() {
            if f.key == "metadata.name" && f.equal {
                out = Some(match out {
                    None => vec![f.value.clone()],
                    Some(prev) => prev.into_iter().filter(|n| *n == f.value).collect(),
                });
            }
        }
        out
    }
}

/// `nodeSelector` ANDed with `requiredDuringSchedulingIgnoredDuringExecution`
/// (component-helpers `RequiredNodeAffinity`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RequiredNodeAffinity {
    /// `spec.nodeSelector`: every pair must be a node label (upstream `SelectorFromSet`).
    pub node_selector: Option<Labels>,
    /// `None` when the pod has no required node affinity; the terms are ORed.
    pub terms: Option<Vec<NodeSelectorTerm>>,
}

impl RequiredNodeAffinity {
    pub fn parse(spec: &core::PodSpec) -> RequiredNodeAffinity {
        let node_selector = spec.node_selector.clone();
        let terms = spec
            .affinity
            .as_ref()
            .and_then(|a| a.node_affinity.as_ref())
            .and_then(|na| {
                na.required_during_scheduling_ignored_during_execution
                    .as_ref()
            })
            .map(|ns| {
                ns.node_selector_terms
                    .iter()
                    .map(NodeSelectorTerm::parse)
                    .collect()
            });
        RequiredNodeAffinity {
            node_selector,
            terms,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.node_selector.is_none() && self.terms.is_none()
    }

    pub fn matches(&self, node: &NodeInfo) -> bool {
        if let Some(want) = &self.node_selector {
            if !want.iter().all(|(k, v)| node.labels.get(k) == Some(v)) {
                return false;
            }
        }
        match &self.terms {
            None => true,
            Some(terms) => terms.iter().any(|t| t.matches(node)),
        }
    }
}

/// A `PreferredSchedulingTerm`; zero weights are dropped at parse time as upstream does.
#[derive(Debug, Clone, PartialEq)]
pub struct PreferredNodeTerm {
    pub weight: i64,
    pub term: NodeSelectorTerm,
}

// ---------------------------------------------------------------------------
// Taints and tolerations
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taint {
    pub key: String,
    pub value: String,
    pub effect: String,
}

impl Taint {
    pub fn from_k8s(t: &core::Taint) -> Taint {
        Taint {
            key: t.key.clone(),
            value: t.value.clone().unwrap_or_default(),
            effect: t.effect.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Toleration {
    pub key: String,
    pub operator: String,
    pub value: String,
    pub effect: String,
}

impl Toleration {
    pub fn from_k8s(t: &core::Toleration) -> Toleration {
        Toleration {
            key: t.key.clone().unwrap_or_default(),
            operator: t.operator.clone().unwrap_or_default(),
            value: t.value.clone().unwrap_or_default(),
            effect: t.effect.clone().unwrap_or_default(),
        }
    }

    /// upstream `Toleration.ToleratesTaint`: an empty effect matches every effect, an
    /// empty key (only valid with Exists) matches every key; the operator defaults to Equal.
    pub fn tolerates(&self, taint: &Taint) -> bool {
        if !self.effect.is_empty() && self.effect != taint.effect {
            return false;
        }
        if !self.key.is_empty() && self.key != taint.key {
            return false;
        }
        match self.operator.as_str() {
            "" | "Equal" => self.value == taint.value,
            "Exists" => true,
            _ => false,
        }
    }
}

pub fn tolerations_tolerate(tolerations: &[Toleration], taint: &Taint) -> bool {
    tolerations.iter().any(|t| t.tolerates(taint))
}

/// The first NoSchedule/NoExecute taint no toleration tolerates (upstream
/// `FindMatchingUntoleratedTaint` with `DoNotScheduleTaintsFilterFunc`).
pub fn first_untolerated_hard_taint<'a>(
    taints: &'a [Taint],
    tolerations: &[Toleration],
) -> Option<&'a Taint> {
    taints.iter().find(|t| {
        (t.effect == EFFECT_NO_SCHEDULE || t.effect == EFFECT_NO_EXECUTE)
            && !tolerations_tolerate(tolerations, t)
    })
}

// ---------------------------------------------------------------------------
// Resources and host ports
// ---------------------------------------------------------------------------

/// A resource vector in the scheduler's integer units: milli-CPU, bytes, and whole units
/// for everything else (upstream `framework.Resource`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resources {
    pub milli_cpu: i64,
    pub memory: i64,
    pub ephemeral_storage: i64,
    /// Extended resources, hugepages and other scalar resources, sorted by name.
    pub scalars: Vec<(String, i64)>,
}

impl Resources {
    pub fn scalar(&self, name: &str) -> i64 {
        match self.scalars.binary_search_by(|(n, _)| n.as_str().cmp(name)) {
            Ok(i) => self.scalars[i].1,
            Err(_) => 0,
        }
    }

    pub fn has_scalar(&self, name: &str) -> bool {
        self.scalars
            .binary_search_by(|(n, _)| n.as_str().cmp(name))
            .is_ok()
    }

    pub fn add_scalar(&mut self, name: &str, v: i64) {
        match self.scalars.binary_search_by(|(n, _)| n.as_str().cmp(name)) {
            Ok(i) => self.scalars[i].1 += v,
            Err(i) => self.scalars.insert(i, (name.to_string(), v)),
        }
    }

    /// Adds (`sign` 1) or subtracts (`sign` -1) another vector.
    pub fn accumulate(&mut self, other: &Resources, sign: i64) {
        self.milli_cpu += sign * other.milli_cpu;
        self.memory += sign * other.memory;
        self.ephemeral_storage += sign * other.ephemeral_storage;
        for (n, v) in &other.scalars {
            self.add_scalar(n, sign * v);
        }
        if sign < 0 {
            self.scalars.retain(|(_, v)| *v != 0);
        }
    }

    pub fn is_zero(&self) -> bool {
        self.milli_cpu == 0
            && self.memory == 0
            && self.ephemeral_storage == 0
            && self.scalars.iter().all(|(_, v)| *v == 0)
    }
}

/// A host port a container binds (hostIP defaults to 0.0.0.0, protocol to TCP).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HostPort {
    pub ip: String,
    pub protocol: String,
    pub port: i32,
}

pub const BIND_ALL_HOST_IP: &str = "0.0.0.0";

impl HostPort {
    fn new(ip: Option<&str>, protocol: Option<&str>, port: i32) -> HostPort {
        let ip = match ip {
            None | Some("") => BIND_ALL_HOST_IP,
            Some(ip) => ip,
        };
        let protocol = match protocol {
            None | Some("") => "TCP",
            Some(p) => p,
        };
        HostPort {
            ip: ip.to_string(),
            protocol: protocol.to_string(),
            port,
        }
    }
}

/// The host ports of a pod's containers and of its sidecars (restartable init
/// containers), which run for the pod's whole life (upstream `GetHostPorts`).
pub fn pod_host_ports(spec: &core::PodSpec) -> Vec<HostPort> {
    let sidecars = spec
        .init_containers
        .iter()
        .flatten()
        .filter(|c| is_sidecar(c));
    sidecars
        .chain(spec.containers.iter())
        .flat_map(|c| c.ports.iter().flatten())
        .filter_map(|p| {
            let port = p.host_port.unwrap_or(0);
            (port > 0).then(|| HostPort::new(p.host_ip.as_deref(), p.protocol.as_deref(), port))
        })
        .collect()
}

/// An init container with `restartPolicy: Always` (a sidecar).
pub fn is_sidecar(c: &core::Container) -> bool {
    c.restart_policy.as_deref() == Some("Always")
}

// ---------------------------------------------------------------------------
// Topology spread constraints
// ---------------------------------------------------------------------------

/// A parsed `TopologySpreadConstraint` (upstream `topologySpreadConstraint`).
#[derive(Debug, Clone, PartialEq)]
pub struct SpreadConstraint {
    pub max_skew: i64,
    pub topology_key: String,
    pub selector: Selector,
    pub min_domains: i64,
    /// nodeAffinityPolicy: Honor (the default) counts only nodes the pod's node
    /// affinity/selector accepts.
    pub honor_node_affinity: bool,
    /// nodeTaintsPolicy: Honor counts only nodes whose taints the pod tolerates (the
    /// default, Ignore, counts all).
    pub honor_node_taints: bool,
}

impl SpreadConstraint {
    pub fn parse(
        c: &core::TopologySpreadConstraint,
        pod_labels: &Labels,
    ) -> Result<SpreadConstraint, String> {
        let mut selector = Selector::from_label_selector(c.label_selector.as_ref())?;
        // matchLabelKeys: the pod's own values for those keys join the selector.
        if c.label_selector.is_some() {
            for key in c.match_label_keys.iter().flatten() {
                if let Some(v) = pod_labels.get(key) {
                    selector.push(
                        Requirement::new(key, Operator::In, vec![v.clone()]).map_err(|e| e.0)?,
                    );
                }
            }
        }
        Ok(SpreadConstraint {
            max_skew: i64::from(c.max_skew),
            topology_key: c.topology_key.clone(),
            selector,
            min_domains: c.min_domains.map_or(1, i64::from),
            honor_node_affinity: c.node_affinity_policy.as_deref() != Some("Ignore"),
            honor_node_taints: c.node_taints_policy.as_deref() == Some("Honor"),
        })
    }
}

// ---------------------------------------------------------------------------
// The incoming pod
// ---------------------------------------------------------------------------

/// Everything the plugins need to know about the pod being scheduled, parsed once per
/// scheduling cycle.
#[derive(Debug, Clone)]
pub struct PodInfo {
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub resource_version: String,
    pub labels: Labels,
    pub node_name: String,
    /// Requests as the filter sees them (missing requests count 0).
    pub requests: Resources,
    /// CPU and memory requests with upstream's defaults (100m, 200Mi) for containers that
    /// set none, as the LeastAllocated scorer sees them.
    pub non_zero_milli_cpu: i64,
    pub non_zero_memory: i64,
    pub host_ports: Vec<HostPort>,
    pub tolerations: Vec<Toleration>,
    pub required_node_affinity: RequiredNodeAffinity,
    pub preferred_node_affinity: Vec<PreferredNodeTerm>,
    pub affinity: PodAffinityTerms,
    /// DoNotSchedule constraints (filter) and ScheduleAnyway constraints (score).
    pub hard_spread: Vec<SpreadConstraint>,
    pub soft_spread: Vec<SpreadConstraint>,
    pub has_spread_constraints: bool,
    pub spread_parse_error: Option<String>,
    /// The controller owner's uid: the stand-in for upstream's default spreading selector.
    pub controller_uid: Option<String>,
    pub priority: i32,
    pub preemption_never: bool,
    /// The PersistentVolumeClaims the pod uses (VolumeBinding).
    pub claims: Vec<String>,
}

impl PodInfo {
    pub fn parse(pod: &core::Pod) -> PodInfo {
        let meta = &pod.metadata;
        let empty_spec = core::PodSpec::default();
        let spec = pod.spec.as_ref().unwrap_or(&empty_spec);
        let labels = meta.labels.clone().unwrap_or_default();
        let (requests, non_zero_milli_cpu, non_zero_memory) =
            crate::resources::pod_requests_for_scheduling(pod);

        let mut hard_spread = Vec::new();
        let mut soft_spread = Vec::new();
        let mut spread_parse_error = None;
        let constraints = spec
            .topology_spread_constraints
            .as_deref()
            .unwrap_or_default();
        for c in constraints {
            match SpreadConstraint::parse(c, &labels) {
                Ok(sc) if c.when_unsatisfiable == "DoNotSchedule" => hard_spread.push(sc),
                Ok(sc) if c.when_unsatisfiable == "ScheduleAnyway" => soft_spread.push(sc),
                Ok(_) => {}
                Err(e) => {
                    spread_parse_error.get_or_insert(e);
                }
            }
        }

        let preferred_node_affinity = spec
            .affinity
            .as_ref()
            .and_then(|a| a.node_affinity.as_ref())
            .and_then(|na| {
                na.preferred_during_scheduling_ignored_during_execution
                    .as_ref()
            })
            .map(|terms| {
                terms
                    .iter()
                    .filter(|t| t.weight != 0)
                    .map(|t| PreferredNodeTerm {
                        weight: i64::from(t.weight),
                        term: NodeSelectorTerm::parse(&t.preference),
                    })
                    .collect()
            })
            .unwrap_or_default();

        PodInfo {
            namespace: meta.namespace.clone().unwrap_or_default(),
            name: meta.name.clone().unwrap_or_default(),
            uid: meta.uid.clone().unwrap_or_default(),
            resource_version: meta.resource_version.clone().unwrap_or_default(),
            node_name: spec.node_name.clone().unwrap_or_default(),
            requests,
            non_zero_milli_cpu,
            non_zero_memory,
            host_ports: pod_host_ports(spec),
            tolerations: spec
                .tolerations
                .iter()
                .flatten()
                .map(Toleration::from_k8s)
                .collect(),
            required_node_affinity: RequiredNodeAffinity::parse(spec),
            preferred_node_affinity,
            affinity: PodAffinityTerms::parse(pod),
            hard_spread,
            soft_spread,
            has_spread_constraints: !constraints.is_empty(),
            spread_parse_error,
            controller_uid: controller_uid(meta),
            priority: spec.priority.unwrap_or(0),
            preemption_never: spec.preemption_policy.as_deref() == Some("Never"),
            claims: crate::plugins::volume_binding::pod_claims(pod),
            labels,
        }
    }
}

/// The uid of the owner reference marked `controller: true`.
pub fn controller_uid(
    meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
) -> Option<String> {
    meta.owner_references
        .iter()
        .flatten()
        .find(|o| o.controller == Some(true))
        .map(|o| o.uid.clone())
}

// ---------------------------------------------------------------------------
// Nodes
// ---------------------------------------------------------------------------

/// A node as the scheduler keeps it: the parsed parts of the Node object plus the
/// aggregates of the pods assigned to it, maintained incrementally by the snapshot.
#[derive(Debug, Clone, Default)]
pub struct NodeInfo {
    pub name: String,
    /// False while only pods name the node (the Node object is unknown or deleted).
    pub present: bool,
    pub labels: Labels,
    pub unschedulable: bool,
    /// spec.taints, followed by the not-ready/unreachable NoSchedule taint the node
    /// lifecycle controller would add when the Ready condition is not True.
    pub taints: Vec<Taint>,
    pub has_prefer_no_schedule: bool,
    pub allocatable: Resources,
    pub allowed_pod_number: i64,
    pub requested: Resources,
    pub non_zero_milli_cpu: i64,
    pub non_zero_memory: i64,
    pub pod_count: i64,
    /// Host ports in use, with the number of pods using each.
    pub used_ports: Vec<(HostPort, u32)>,
    /// Upstream's zone key (`region:\0:zone`), which orders nodes round-robin by zone.
    pub zone_key: String,
}

impl NodeInfo {
    /// Fills the node-derived fields from a Node object, keeping the pod aggregates.
    pub fn set_node(&mut self, node: &core::Node) {
        self.name = node.metadata.name.clone().unwrap_or_default();
        self.present = true;
        self.labels = node.metadata.labels.clone().unwrap_or_default();
        let spec = node.spec.as_ref();
        self.unschedulable = spec.and_then(|s| s.unschedulable).unwrap_or(false);
        let mut taints: Vec<Taint> = spec
            .and_then(|s| s.taints.as_ref())
            .into_iter()
            .flatten()
            .map(Taint::from_k8s)
            .collect();
        if let Some(key) = readiness_taint_key(node) {
            if !taints
                .iter()
                .any(|t| t.key == key && t.effect == EFFECT_NO_SCHEDULE)
            {
                taints.push(Taint {
                    key: key.to_string(),
                    value: String::new(),
                    effect: EFFECT_NO_SCHEDULE.to_string(),
                });
            }
        }
        self.has_prefer_no_schedule = taints.iter().any(|t| t.effect == EFFECT_PREFER_NO_SCHEDULE);
        self.taints = taints;
        let (alloc, pods) = crate::resources::node_allocatable(node);
        self.allocatable = alloc;
        self.allowed_pod_number = pods;
        self.zone_key = zone_key(&self.labels);
    }

    pub fn port_in_use(&self, want: &HostPort) -> bool {
        // upstream HostPortInfo.CheckConflict: 0.0.0.0 conflicts with any IP.
        self.used_ports.iter().any(|(p, _)| {
            p.port == want.port
                && p.protocol == want.protocol
                && (want.ip == BIND_ALL_HOST_IP || p.ip == BIND_ALL_HOST_IP || p.ip == want.ip)
        })
    }
}

/// The NoSchedule taint the node lifecycle controller keeps on a node whose Ready
/// condition is not True: not-ready for False (and for a node that reports no Ready
/// condition yet, which kubelet registers with that taint), unreachable for Unknown.
fn readiness_taint_key(node: &core::Node) -> Option<&'static str> {
    let ready = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"));
    match ready.map(|c| c.status.as_str()) {
        Some("True") => None,
        Some("Unknown") => Some(TAINT_UNREACHABLE),
        _ => Some(TAINT_NOT_READY),
    }
}

/// upstream `utilnode.GetZoneKey`.
pub fn zone_key(labels: &Labels) -> String {
    let zone = labels
        .get(LABEL_ZONE)
        .or_else(|| labels.get(LABEL_ZONE_BETA));
    let region = labels
        .get(LABEL_REGION)
        .or_else(|| labels.get(LABEL_REGION_BETA));
    if zone.is_none_or(|z| z.is_empty()) && region.is_none_or(|r| r.is_empty()) {
        return String::new();
    }
    format!("{}:\0:{}", region.map_or("", |s| s), zone.map_or("", |s| s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sel(v: serde_json::Value) -> Selector {
        let ls: K8sLabelSelector = serde_json::from_value(v).expect("selector json");
        Selector::from_label_selector(Some(&ls)).expect("valid selector")
    }

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn selector_null_selects_nothing_and_empty_everything() {
        assert!(!Selector::from_label_selector(None)
            .expect("ok")
            .matches(&Labels::new()));
        assert!(sel(json!({})).matches(&labels(&[("a", "b")])));
    }

    #[test]
    fn selector_matching_and_anchor() {
        let s = sel(json!({"matchLabels": {"app": "web"}, "matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["a", "b"]},
            {"key": "gone", "operator": "DoesNotExist"}]}));
        assert!(s.matches(&labels(&[("app", "web"), ("tier", "b")])));
        assert!(!s.matches(&labels(&[("app", "web"), ("tier", "c")])));
        assert!(!s.matches(&labels(&[("app", "web"), ("tier", "a"), ("gone", "x")])));
        assert_eq!(s.anchor(), Some(("app", &["web".to_string()][..])));
        let e = Selector::from_label_selector(Some(
            &serde_json::from_value(
                json!({"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]}),
            )
            .expect("json"),
        ));
        assert_eq!(
            e.err().as_deref(),
            Some("\"Gt\" is not a valid label selector operator")
        );
    }

    #[test]
    fn toleration_semantics() {
        let taint = Taint {
            key: "k".into(),
            value: "v".into(),
            effect: "NoSchedule".into(),
        };
        let t = |key: &str, op: &str, value: &str, effect: &str| Toleration {
            key: key.into(),
            operator: op.into(),
            value: value.into(),
            effect: effect.into(),
        };
        assert!(t("k", "Equal", "v", "NoSchedule").tolerates(&taint));
        assert!(
            t("k", "", "v", "").tolerates(&taint),
            "empty operator is Equal, empty effect matches all"
        );
        assert!(!t("k", "Equal", "w", "").tolerates(&taint));
        assert!(t("k", "Exists", "", "").tolerates(&taint));
        assert!(
            t("", "Exists", "", "").tolerates(&taint),
            "empty key with Exists tolerates everything"
        );
        assert!(!t("k", "Exists", "", "NoExecute").tolerates(&taint));
        assert!(!t("other", "Exists", "", "").tolerates(&taint));
    }

    #[test]
    fn zone_key_matches_upstream() {
        assert_eq!(zone_key(&labels(&[])), "");
        assert_eq!(
            zone_key(&labels(&[(LABEL_ZONE, "z1"), (LABEL_REGION, "r")])),
            "r:\0:z1"
        );
        assert_eq!(zone_key(&labels(&[(LABEL_ZONE_BETA, "z2")])), ":\0:z2");
    }

    #[test]
    fn resources_accumulate_scalars() {
        let mut a = Resources::default();
        let b = Resources {
            milli_cpu: 100,
            memory: 5,
            ephemeral_storage: 0,
            scalars: vec![("x/gpu".into(), 2)],
        };
        a.accumulate(&b, 1);
        a.accumulate(&b, 1);
        assert_eq!(a.milli_cpu, 200);
        assert_eq!(a.scalar("x/gpu"), 4);
        a.accumulate(&b, -1);
        a.accumulate(&b, -1);
        assert!(a.is_zero());
        assert!(a.scalars.is_empty());
    }
}
