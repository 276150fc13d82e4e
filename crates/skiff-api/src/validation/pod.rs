//! PodSpec validation: containers, volumes, probes, resources, security contexts and
//! scheduling fields (upstream `ValidatePodSpec` and its helpers in
//! `pkg/apis/core/validation/validation.go`), shared by Pods and every pod template.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use super::field_error::{go_repr, FieldError, Path};
use super::json::{arr, bool_of, entries, get, has, int_of, obj, opt_int, opt_str, str_of, sub};
use super::meta::{non_negative, validate_annotations, validate_label_name, validate_label_selector, validate_labels};
use super::names::*;
use crate::quantity::{self, Quantity};

const FILE_MODE_MSG: &str = "must be a number between 0 and 0777 (octal), both inclusive";
const NOT_POSITIVE: &str = "must be greater than zero";

/// What differs between validating a Pod and a pod template.
#[derive(Debug, Clone, Copy, Default)]
pub struct PodOpts {
    /// The spec belongs to a Pod (not a template inside a workload).
    pub resource_is_pod: bool,
}

fn push_msgs(errs: &mut Vec<FieldError>, path: &Path, value: &str, msgs: Vec<String>) {
    for m in msgs {
        errs.push(FieldError::invalid(path, value, m));
    }
}

/// `ValidateDNS1123Label`.
pub fn dns_label(value: &str, path: &Path, errs: &mut Vec<FieldError>) {
    push_msgs(errs, path, value, is_dns1123_label(value));
}

/// `ValidateDNS1123Subdomain`.
pub fn dns_subdomain(value: &str, path: &Path, errs: &mut Vec<FieldError>) {
    push_msgs(errs, path, value, is_dns1123_subdomain(value));
}

/// `ValidateQualifiedName`.
pub fn qualified_name(value: &str, path: &Path, errs: &mut Vec<FieldError>) {
    push_msgs(errs, path, value, is_qualified_name(value));
}

/// A field holding a quantity, read as upstream decodes it; unparsable text is
/// reported where upstream's decoder would fail.
pub fn quantity_at(v: &Value, path: &Path, errs: &mut Vec<FieldError>) -> Option<Quantity> {
    match quantity::from_json(v) {
        Some(Ok(q)) => Some(q),
        Some(Err(e)) => {
            errs.push(FieldError::invalid(path, v.clone(), e.to_string()));
            None
        }
        None => None,
    }
}

// ---------------------------------------------------------------- resources

pub fn is_hugepage_resource(name: &str) -> bool {
    name.starts_with("hugepages-")
}

pub fn is_native_resource(name: &str) -> bool {
    !name.contains('/') || name.contains("kubernetes.io/")
}

pub fn is_extended_resource(name: &str) -> bool {
    if is_native_resource(name) || name.starts_with("requests.") {
        return false;
    }
    is_qualified_name(&format!("requests.{name}")).is_empty()
}

pub fn is_overcommit_allowed(name: &str) -> bool {
    is_native_resource(name) && !is_hugepage_resource(name)
}

const STANDARD_RESOURCES: [&str; 20] = [
    "cpu",
    "memory",
    "ephemeral-storage",
    "requests.cpu",
    "requests.memory",
    "requests.ephemeral-storage",
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
    "pods",
    "resourcequotas",
    "services",
    "replicationcontrollers",
    "secrets",
    "persistentvolumeclaims",
    "configmaps",
    "services.nodeports",
    "services.loadbalancers",
    "requests.storage",
    "storage",
];

pub fn is_standard_resource(name: &str) -> bool {
    STANDARD_RESOURCES.contains(&name) || name.starts_with("hugepages-") || name.starts_with("requests.hugepages-")
}

const INTEGER_RESOURCES: [&str; 9] = [
    "pods",
    "resourcequotas",
    "services",
    "replicationcontrollers",
    "secrets",
    "configmaps",
    "persistentvolumeclaims",
    "services.nodeports",
    "services.loadbalancers",
];

pub fn is_integer_resource(name: &str) -> bool {
    INTEGER_RESOURCES.contains(&name) || is_extended_resource(name)
}

/// `validateResourceName`.
pub fn validate_resource_name(name: &str, path: &Path, errs: &mut Vec<FieldError>) -> bool {
    let before = errs.len();
    push_msgs(errs, path, name, is_qualified_name(name));
    if errs.len() != before {
        return false;
    }
    if !name.contains('/') && !is_standard_resource(name) {
        errs.push(FieldError::invalid(path, name, "must be a standard resource type or fully qualified"));
        return false;
    }
    true
}

fn validate_container_resource_name(name: &str, path: &Path, errs: &mut Vec<FieldError>) {
    validate_resource_name(name, path, errs);
    if !name.contains('/') {
        if !(["cpu", "memory", "ephemeral-storage"].contains(&name) || is_hugepage_resource(name)) {
            errs.push(FieldError::invalid(path, name, "must be a standard resource for containers"));
        }
    } else if !is_native_resource(name) && !is_extended_resource(name) {
        errs.push(FieldError::invalid(path, name, "doesn't follow extended resource name standard"));
    }
}

/// `ValidateResourceQuantityValue`: not negative, whole for integer resources.
pub fn validate_resource_quantity(name: &str, q: &Quantity, path: &Path, errs: &mut Vec<FieldError>) {
    if q.is_negative() {
        errs.push(FieldError::invalid(path, q.to_string(), super::meta::IS_NEGATIVE));
    }
    if is_integer_resource(name) && q.milli_value() % 1000 != 0 {
        errs.push(FieldError::invalid(path, go_repr(format!("resource.Quantity{{{q}}}")), "must be an integer"));
    }
}

/// `ValidateContainerResourceRequirements`.
pub fn validate_resource_requirements(res: &Value, claim_names: &HashSet<String>, path: &Path, errs: &mut Vec<FieldError>) {
    let lim_path = path.child("limits");
    let req_path = path.child("requests");
    let mut limits: HashMap<&str, Quantity> = HashMap::new();
    let (mut lim_cpu_mem, mut req_cpu_mem, mut lim_huge, mut req_huge) = (false, false, false, false);
    for (name, v) in entries(res, "limits") {
        let p = lim_path.key(name);
        validate_container_resource_name(name, &p, errs);
        if let Some(q) = quantity_at(v, &p, errs) {
            validate_resource_quantity(name, &q, &p, errs);
            limits.insert(name, q);
        }
        lim_huge |= is_hugepage_resource(name);
        lim_cpu_mem |= name == "cpu" || name == "memory";
    }
    for (name, v) in entries(res, "requests") {
        let p = req_path.key(name);
        validate_container_resource_name(name, &p, errs);
        let Some(q) = quantity_at(v, &p, errs) else { continue };
        validate_resource_quantity(name, &q, &p, errs);
        if let Some(limit) = limits.get(name.as_str()) {
            if q != *limit && !is_overcommit_allowed(name) {
                errs.push(FieldError::invalid(&req_path, q.to_string(), format!("must be equal to {name} limit of {limit}")));
            } else if q > *limit {
                errs.push(FieldError::invalid(&req_path, q.to_string(), format!("must be less than or equal to {name} limit of {limit}")));
            }
        } else if !is_overcommit_allowed(name) {
            errs.push(FieldError::required(&lim_path, "Limit must be set for non overcommitable resources"));
        }
        req_huge |= is_hugepage_resource(name);
        req_cpu_mem |= name == "cpu" || name == "memory";
    }
    if !lim_cpu_mem && !req_cpu_mem && (req_huge || lim_huge) {
        errs.push(FieldError::forbidden(path, "HugePages require cpu or memory"));
    }
    let mut seen: HashSet<String> = HashSet::new();
    for (i, c) in arr(res, "claims").iter().enumerate() {
        let p = path.child("claims").index(i);
        let name = str_of(c, "name");
        if name.is_empty() {
            errs.push(FieldError::required(&p, ""));
            continue;
        }
        let request = str_of(c, "request");
        let key = if request.is_empty() { name.to_string() } else { format!("{name}/{request}") };
        if !request.is_empty() {
            dns_label(request, &p.child("request"), errs);
        }
        if !seen.insert(key.clone()) {
            errs.push(FieldError::duplicate(&p, key));
        }
        if !claim_names.contains(name) {
            let mut e = FieldError::not_found(&p, name);
            let mut known: Vec<&String> = claim_names.iter().collect();
            known.sort();
            e.detail = if known.is_empty() {
                "must be one of the names in pod.spec.resourceClaims which is empty".to_string()
            } else {
                format!(
                    "must be one of the names in pod.spec.resourceClaims: {}",
                    known.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                )
            };
            errs.push(e);
        }
    }
}

// ---------------------------------------------------------------- volumes

/// The volumes a pod declares, by name, for mounts to refer to.
pub type Volumes<'a> = HashMap<&'a str, &'a Value>;

/// The source kinds a volume may name (`VolumeSource`'s fields); defaulting uses it too.
pub(crate) const VOLUME_SOURCES: [&str; 30] = [
    "emptyDir",
    "hostPath",
    "gitRepo",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "secret",
    "nfs",
    "iscsi",
    "glusterfs",
    "flocker",
    "persistentVolumeClaim",
    "rbd",
    "cinder",
    "cephfs",
    "quobyte",
    "downwardAPI",
    "fc",
    "flexVolume",
    "configMap",
    "azureFile",
    "vsphereVolume",
    "photonPersistentDisk",
    "portworxVolume",
    "azureDisk",
    "storageos",
    "projected",
    "scaleIO",
    "csi",
    "ephemeral",
    "image",
];

/// `ValidateVolumes`: returns the volumes that validated, for mount checks.
pub fn validate_volumes<'a>(
    volumes: &'a [Value],
    pod_name: Option<&str>,
    path: &Path,
    opts: PodOpts,
    errs: &mut Vec<FieldError>,
) -> Volumes<'a> {
    let mut out: Volumes<'a> = HashMap::new();
    let mut created_pvcs: HashSet<String> = HashSet::new();
    if let Some(pod) = pod_name.filter(|n| !n.is_empty()) {
        for v in volumes.iter().filter(|v| has(v, "ephemeral")) {
            created_pvcs.insert(format!("{pod}-{}", str_of(v, "name")));
        }
    }
    let mut names: HashSet<&str> = HashSet::new();
    for (i, vol) in volumes.iter().enumerate() {
        let p = path.index(i);
        let name = str_of(vol, "name");
        let mut el = Vec::new();
        validate_volume_source(vol, &p, name, pod_name, opts, &mut el);
        if name.is_empty() {
            el.push(FieldError::required(&p.child("name"), ""));
        } else {
            dns_label(name, &p.child("name"), &mut el);
        }
        if names.contains(name) {
            el.push(FieldError::duplicate(&p.child("name"), name));
        }
        if el.is_empty() {
            names.insert(name);
            out.insert(name, vol);
        } else {
            errs.extend(el);
        }
        if let Some(claim) = get(vol, "persistentVolumeClaim").map(|c| str_of(c, "claimName")) {
            if created_pvcs.contains(claim) {
                errs.push(FieldError::invalid(
                    &p.child("persistentVolumeClaim").child("claimName"),
                    claim,
                    "must not reference a PVC that gets created for an ephemeral volume",
                ));
            }
        }
    }
    out
}

fn validate_volume_source(vol: &Value, path: &Path, vol_name: &str, pod_name: Option<&str>, opts: PodOpts, errs: &mut Vec<FieldError>) {
    let mut count = 0;
    for kind in VOLUME_SOURCES {
        let Some(src) = get(vol, kind) else { continue };
        if count > 0 {
            // Upstream's paths keep a few historical spellings.
            let shown = match kind {
                "cephfs" => "cephFS",
                "downwardAPI" => "downwarAPI",
                other => other,
            };
            errs.push(FieldError::forbidden(&path.child(shown), "may not specify more than 1 volume type"));
            continue;
        }
        count += 1;
        let p = path.child(kind);
        match kind {
            "emptyDir" => {
                if let Some(limit) = get(src, "sizeLimit") {
                    if quantity::from_json(limit).and_then(Result::ok).map(|q| q.is_negative()).unwrap_or(false) {
                        errs.push(FieldError::forbidden(&p.child("sizeLimit"), "SizeLimit field must be a valid resource quantity"));
                    }
                }
            }
            "hostPath" => validate_host_path(src, &p, errs),
            "gitRepo" => {
                if str_of(src, "repository").is_empty() {
                    errs.push(FieldError::required(&p.child("repository"), ""));
                }
                validate_local_descending_path(str_of(src, "directory"), &p.child("directory"), errs);
            }
            "secret" => {
                if str_of(src, "secretName").is_empty() {
                    errs.push(FieldError::required(&p.child("secretName"), ""));
                }
                validate_mode(src, "defaultMode", &p, errs);
                for (j, kp) in arr(src, "items").iter().enumerate() {
                    validate_key_to_path(kp, &p.child("items").index(j), errs);
                }
            }
            "configMap" => {
                if str_of(src, "name").is_empty() {
                    errs.push(FieldError::required(&p.child("name"), ""));
                }
                validate_mode(src, "defaultMode", &p, errs);
                for (j, kp) in arr(src, "items").iter().enumerate() {
                    validate_key_to_path(kp, &p.child("items").index(j), errs);
                }
            }
            "nfs" => validate_nfs(src, &p, errs),
            "persistentVolumeClaim" => {
                if str_of(src, "claimName").is_empty() {
                    errs.push(FieldError::required(&p.child("claimName"), ""));
                }
            }
            "downwardAPI" => {
                validate_mode(src, "defaultMode", &p, errs);
                for file in arr(src, "items") {
                    validate_downward_api_file(file, &p, errs);
                }
            }
            "projected" => validate_projected(src, &p, errs),
            "csi" => {
                validate_csi_driver_name(str_of(src, "driver"), &p.child("driver"), errs);
                if let Some(r) = get(src, "nodePublishSecretRef") {
                    let n = str_of(r, "name");
                    if n.is_empty() {
                        errs.push(FieldError::required(&p.child("nodePublishSecretRef").child("name"), ""));
                    } else {
                        push_msgs(errs, &p.child("name"), n, name_is_dns_subdomain(n, false));
                    }
                }
            }
            "ephemeral" => {
                match get(src, "volumeClaimTemplate") {
                    None => errs.push(FieldError::required(&p.child("volumeClaimTemplate"), "")),
                    Some(t) => {
                        let tp = p.child("volumeClaimTemplate");
                        validate_claim_template_meta(sub(t, "metadata"), &tp.child("metadata"), errs);
                        super::core::validate_pvc_spec(sub(t, "spec"), &tp.child("spec"), errs);
                    }
                }
                if let Some(pod) = pod_name.filter(|n| !n.is_empty() && !vol_name.is_empty()) {
                    let pvc = format!("{pod}-{vol_name}");
                    for msg in name_is_dns_subdomain(&pvc, false) {
                        errs.push(FieldError::invalid(&p.child("name"), vol_name, format!("PVC name {}: {msg}", super::field_error::go_quote(&pvc))));
                    }
                }
            }
            "image" => {
                if opts.resource_is_pod && str_of(src, "reference").is_empty() {
                    errs.push(FieldError::required(&p.child("reference"), ""));
                }
                validate_pull_policy(str_of(src, "pullPolicy"), &p.child("pullPolicy"), errs);
            }
            _ => {}
        }
    }
    if count == 0 {
        errs.push(FieldError::required(path, "must specify a volume type"));
    }
}

/// Template metadata for generic ephemeral volumes: only labels and annotations may be set.
fn validate_claim_template_meta(meta: &Value, path: &Path, errs: &mut Vec<FieldError>) {
    validate_annotations(obj(meta, "annotations"), &path.child("annotations"), errs);
    validate_labels(obj(meta, "labels"), &path.child("labels"), errs);
    for (k, v) in meta.as_object().into_iter().flatten() {
        if k != "labels" && k != "annotations" && super::json::normalized(v).is_some() {
            errs.push(FieldError::forbidden(&path.child(k), "cannot be set"));
        }
    }
}

/// An nfs source, in a pod's volume or a PersistentVolume.
pub(super) fn validate_nfs(src: &Value, path: &Path, errs: &mut Vec<FieldError>) {
    let np = str_of(src, "path");
    if str_of(src, "server").is_empty() {
        errs.push(FieldError::required(&path.child("server"), ""));
    }
    if np.is_empty() {
        errs.push(FieldError::required(&path.child("path"), ""));
    }
    if !np.starts_with('/') {
        errs.push(FieldError::invalid(&path.child("path"), np, "must be an absolute path"));
    }
}

/// A hostPath or local source's `path`: required, and no `..` step.
/// Returns whether it was set.
pub(super) fn validate_source_path(src: &Value, path: &Path, errs: &mut Vec<FieldError>) -> bool {
    let sp = str_of(src, "path");
    if sp.is_empty() {
        errs.push(FieldError::required(&path.child("path"), ""));
        return false;
    }
    validate_path_no_backsteps(sp, &path.child("path"), errs);
    true
}

fn validate_host_path(src: &Value, path: &Path, errs: &mut Vec<FieldError>) {
    if !validate_source_path(src, path, errs) {
        return;
    }
    if let Some(t) = opt_str(src, "type") {
        const TYPES: [&str; 8] = ["", "BlockDevice", "CharDevice", "Directory", "DirectoryOrCreate", "File", "FileOrCreate", "Socket"];
        if !TYPES.contains(&t) {
            errs.push(FieldError::not_supported(&path.child("type"), t, &TYPES));
        }
    }
}

fn validate_mode(src: &Value, key: &str, path: &Path, errs: &mut Vec<FieldError>) {
    if let Some(m) = opt_int(src, key) {
        if !(0..=0o777).contains(&m) {
            errs.push(FieldError::invalid(&path.child(key), m, FILE_MODE_MSG));
        }
    }
}

fn validate_key_to_path(kp: &Value, path: &Path, errs: &mut Vec<FieldError>) {
    if str_of(kp, "key").is_empty() {
        errs.push(FieldError::required(&path.child("key"), ""));
    }
    let p = str_of(kp, "path");
    if p.is_empty() {
        errs.push(FieldError::required(&path.child("path"), ""));
    }
    validate_local_non_reserved_path(p, &path.child("path"), errs);
    validate_mode(kp, "mode", path, errs);
}

fn validate_path_no_backsteps(p: &str, path: &Path, errs: &mut Vec<FieldError>) {
    if p.split('/').any(|part| part == "..") {
        errs.push(FieldError::invalid(path, p, "must not contain '..'"));
    }
}

fn validate_local_descending_path(p: &str, path: &Path, errs: &mut Vec<FieldError>) {
    if p.starts_with('/') {
        errs.push(FieldError::invalid(path, p, "must be a relative path"));
    }
    validate_path_no_backsteps(p, path, errs);
}

fn validate_local_non_reserved_path(p: &str, path: &Path, errs: &mut Vec<FieldError>) {
    validate_local_descending_path(p, path, errs);
    if p.starts_with("..") && !p.starts_with("../") {
        errs.push(FieldError::invalid(path, p, "must not start with '..'"));
    }
}

const VOLUME_FIELD_PATHS: [&str; 5] = ["metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace", "metadata.uid"];
const ENV_FIELD_PATHS: [&str; 9] = [
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
];
const RESOURCE_FIELD_PATHS: [&str; 6] =
    ["limits.cpu", "limits.ephemeral-storage", "limits.memory", "requests.cpu", "requests.ephemeral-storage", "requests.memory"];
/// Every field a downward API reference may name in the v1 API.
const DOWNWARD_API_LABELS: [&str; 14] = [
    "metadata.annotations",
    "metadata.labels",
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.serviceAccountName",
    "spec.schedulerName",
    "status.phase",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
];

/// Splits `metadata.labels['key']` into its path and subscript.
fn split_subscript(p: &str) -> Option<(&str, &str)> {
    let open = p.find("['")?;
    let rest = p[open + 2..].strip_suffix("']")?;
    Some((&p[..open], rest))
}

fn validate_object_field_selector(fs: &Value, allowed: &[&str], path: &Path, errs: &mut Vec<FieldError>) {
    let api_version = str_of(fs, "apiVersion");
    if api_version.is_empty() {
        errs.push(FieldError::required(&path.child("apiVersion"), ""));
        return;
    }
    let fp = str_of(fs, "fieldPath");
    if fp.is_empty() {
        errs.push(FieldError::required(&path.child("fieldPath"), ""));
        return;
    }
    let conversion_err = if api_version != "v1" {
        Some(format!("unsupported pod version: {api_version}"))
    } else {
        let base = split_subscript(fp).map(|(p, _)| p).unwrap_or(fp);
        let subscripted_ok = split_subscript(fp).map(|(p, _)| p == "metadata.annotations" || p == "metadata.labels");
        if DOWNWARD_API_LABELS.contains(&base) && subscripted_ok != Some(false) {
            None
        } else {
            Some(format!("field label not supported: {fp}"))
        }
    };
    if let Some(e) = conversion_err {
        errs.push(FieldError::invalid(&path.child("fieldPath"), fp, format!("error converting fieldPath: {e}")));
        return;
    }
    if let Some((p, subscript)) = split_subscript(fp) {
        match p {
            "metadata.annotations" => qualified_name(&subscript.to_lowercase(), path, errs),
            "metadata.labels" => qualified_name(subscript, path, errs),
            _ => errs.push(FieldError::invalid(path, p, "does not support subscript")),
        }
    } else if !allowed.contains(&fp) {
        errs.push(FieldError::not_supported(&path.child("fieldPath"), fp, allowed));
    }
}

fn validate_resource_field_selector(fs: &Value, path: &Path, volume: bool, errs: &mut Vec<FieldError>) {
    let resource = str_of(fs, "resource");
    if volume && str_of(fs, "containerName").is_empty() {
        errs.push(FieldError::required(&path.child("containerName"), ""));
    } else if resource.is_empty() {
        errs.push(FieldError::required(&path.child("resource"), ""));
    } else if !RESOURCE_FIELD_PATHS.contains(&resource)
        && !resource.starts_with("requests.hugepages-")
        && !resource.starts_with("limits.hugepages-")
    {
        errs.push(FieldError::not_supported(&path.child("resource"), resource, &RESOURCE_FIELD_PATHS));
    }
    let Some(divisor) = get(fs, "divisor").and_then(quantity::from_json).and_then(Result::ok) else { return };
    if divisor.is_zero() {
        return;
    }
    let d = divisor.to_string();
    const MEM: [&str; 13] = ["1", "1k", "1M", "1G", "1T", "1P", "1E", "1Ki", "1Mi", "1Gi", "1Ti", "1Pi", "1Ei"];
    let (ok, what) = match resource {
        "limits.cpu" | "requests.cpu" => (d == "1m" || d == "1", "only divisor's values 1m and 1 are supported with the cpu resource"),
        "limits.memory" | "requests.memory" => (
            MEM.contains(&d.as_str()),
            "only divisor's values 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei are supported with the memory resource",
        ),
        "limits.ephemeral-storage" | "requests.ephemeral-storage" => (
            MEM.contains(&d.as_str()),
            "only divisor's values 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei are supported with the local ephemeral storage resource",
        ),
        _ => (true, ""),
    };
    if !ok {
        errs.push(FieldError::invalid(&path.child("divisor"), resource, what));
    }
}

fn validate_downward_api_file(file: &Value, path: &Path, errs: &mut Vec<FieldError>) {
    let p = str_of(file, "path");
    if p.is_empty() {
        errs.push(FieldError::required(&path.child("path"), ""));
    }
    validate_local_non_reserved_path(p, &path.child("path"), errs);
    if let Some(fr) = get(file, "fieldRef") {
        validate_object_field_selector(fr, &VOLUME_FIELD_PATHS, &path.child("fieldRef"), errs);
        if has(file, "resourceFieldRef") {
            errs.push(FieldError::invalid(path, "resource", "fieldRef and resourceFieldRef can not be specified simultaneously"));
        }
    } else if let Some(rf) = get(file, "resourceFieldRef") {
        validate_resource_field_selector(rf, &path.child("resourceFieldRef"), true, errs);
    } else {
        errs.push(FieldError::required(path, "one of fieldRef and resourceFieldRef is required"));
    }
    validate_mode(file, "mode", path, errs);
}

fn validate_projected(src: &Value, path: &Path, errs: &mut Vec<FieldError>) {
    validate_mode(src, "defaultMode", path, errs);
    let mut all_paths: HashSet<String> = HashSet::new();
    for (i, source) in arr(src, "sources").iter().enumerate() {
        let sp = path.child("sources").index(i);
        let mut n = 0;
        for kind in ["secret", "configMap"] {
            let Some(s) = get(source, kind) else { continue };
            n += 1;
            let pp = sp.child(kind);
            if str_of(s, "name").is_empty() {
                errs.push(FieldError::required(&pp.child("name"), ""));
            }
            for (j, kp) in arr(s, "items").iter().enumerate() {
                validate_key_to_path(kp, &pp.child("items").index(j), errs);
                let kpath = str_of(kp, "path");
                if !kpath.is_empty() && !all_paths.insert(kpath.to_string()) {
                    errs.push(FieldError::invalid(path, str_of(s, "name"), "conflicting duplicate paths"));
                }
            }
        }
        if let Some(d) = get(source, "downwardAPI") {
            n += 1;
            let pp = sp.child("downwardAPI");
            for file in arr(d, "items") {
                validate_downward_api_file(file, &pp, errs);
                let fp = str_of(file, "path");
                if !fp.is_empty() && !all_paths.insert(fp.to_string()) {
                    errs.push(FieldError::invalid(path, fp, "conflicting duplicate paths"));
                }
            }
        }
        if let Some(t) = get(source, "serviceAccountToken") {
            n += 1;
            let pp = sp.child("serviceAccountToken");
            let exp = int_of(t, "expirationSeconds");
            if exp < 600 {
                errs.push(FieldError::invalid(&pp.child("expirationSeconds"), exp, "may not specify a duration less than 10 minutes"));
            }
            if exp > 1 << 32 {
                errs.push(FieldError::invalid(&pp.child("expirationSeconds"), exp, "may not specify a duration larger than 2^32 seconds"));
            }
            let tp = str_of(t, "path");
            if tp.is_empty() {
                errs.push(FieldError::required(&path.child("path"), ""));
            } else {
                validate_local_non_reserved_path(tp, &path.child("path"), errs);
            }
        }
        if let Some(c) = get(source, "clusterTrustBundle") {
            n += 1;
            let pp = sp.child("clusterTrustBundle");
            match (has(c, "name"), has(c, "signerName")) {
                (true, true) => errs.push(FieldError::invalid(&pp, go_repr("&core.ClusterTrustBundleProjection{...}"), "only one of name and signerName may be used")),
                (false, false) => errs.push(FieldError::required(&pp, "either name or signerName must be specified")),
                _ => {}
            }
            let cp = str_of(c, "path");
            if cp.is_empty() {
                errs.push(FieldError::required(&pp.child("path"), ""));
            }
            validate_local_non_reserved_path(cp, &pp.child("path"), errs);
            if !all_paths.insert(cp.to_string()) {
                errs.push(FieldError::invalid(path, cp, "conflicting duplicate paths"));
            }
        }
        if n > 1 {
            errs.push(FieldError::forbidden(&sp, "may not specify more than 1 volume type per source"));
        }
    }
}

/// `ValidateCSIDriverName`.
pub fn validate_csi_driver_name(driver: &str, path: &Path, errs: &mut Vec<FieldError>) {
    if driver.is_empty() {
        errs.push(FieldError::required(path, ""));
    }
    if driver.len() > 63 {
        errs.push(FieldError::too_long(path, 63));
    }
    push_msgs(errs, path, driver, is_dns1123_subdomain(&driver.to_lowercase()));
}

// ---------------------------------------------------------------- containers

fn validate_pull_policy(policy: &str, path: &Path, errs: &mut Vec<FieldError>) {
    match policy {
        "Always" | "IfNotPresent" | "Never" => {}
        "" => errs.push(FieldError::required(path, "")),
        other => errs.push(FieldError::not_supported(path, other, &["Always", "IfNotPresent", "Never"])),
    }
}

/// `ValidatePortNumOrName` for an IntOrString read from JSON.
pub fn validate_port_num_or_name(port: Option<&Value>, path: &Path, errs: &mut Vec<FieldError>) {
    match port {
        Some(Value::String(s)) => push_msgs(errs, path, s, is_valid_port_name(s)),
        other => {
            let n = other.and_then(Value::as_i64).unwrap_or(0);
            for m in is_valid_port_num(n) {
                errs.push(FieldError::invalid(path, n, m));
            }
        }
    }
}

fn validate_container_ports(ports: &[Value], path: &Path, errs: &mut Vec<FieldError>) {
    let mut names: HashSet<&str> = HashSet::new();
    for (i, port) in ports.iter().enumerate() {
        let p = path.index(i);
        let name = str_of(port, "name");
        if !name.is_empty() {
            let msgs = is_valid_port_name(name);
            if !msgs.is_empty() {
                push_msgs(errs, &p.child("name"), name, msgs);
            } else if !names.insert(name) {
                errs.push(FieldError::duplicate(&p.child("name"), name));
            }
        }
        let cp = int_of(port, "containerPort");
        if cp == 0 {
            errs.push(FieldError::required(&p.child("containerPort"), ""));
        } else {
            for m in is_valid_port_num(cp) {
                errs.push(FieldError::invalid(&p.child("containerPort"), cp, m));
            }
        }
        let hp = int_of(port, "hostPort");
        if hp != 0 {
            for m in is_valid_port_num(hp) {
                errs.push(FieldError::invalid(&p.child("hostPort"), hp, m));
            }
        }
        validate_protocol(str_of(port, "protocol"), &p.child("protocol"), errs);
    }
}

/// A port protocol: required, and one of upstream's three.
pub fn validate_protocol(proto: &str, path: &Path, errs: &mut Vec<FieldError>) {
    if proto.is_empty() {
        errs.push(FieldError::required(path, ""));
    } else if !["SCTP", "TCP", "UDP"].contains(&proto) {
        errs.push(FieldError::not_supported(path, proto, &["SCTP", "TCP", "UDP"]));
    }
}

fn validate_env(vars: &[Value], path: &Path, errs: &mut Vec<FieldError>) {
    for (i, ev) in vars.iter().enumerate() {
        let p = path.index(i);
        let name = str_of(ev, "name");
        if name.is_empty() {
            errs.push(FieldError::required(&p.child("name"), ""));
        } else {
            push_msgs(errs, &p.child("name"), name, is_env_var_name(name));
        }
        let Some(vf) = get(ev, "valueFrom") else { continue };
        let vp = p.child("valueFrom");
        let mut n = 0;
        if let Some(fr) = get(vf, "fieldRef") {
            n += 1;
            validate_object_field_selector(fr, &ENV_FIELD_PATHS, &vp.child("fieldRef"), errs);
        }
        if let Some(rf) = get(vf, "resourceFieldRef") {
            n += 1;
            validate_resource_field_selector(rf, &vp.child("resourceFieldRef"), false, errs);
        }
        for kind in ["configMapKeyRef", "secretKeyRef"] {
            let Some(r) = get(vf, kind) else { continue };
            n += 1;
            let rp = vp.child(kind);
            let rname = str_of(r, "name");
            push_msgs(errs, &rp.child("name"), rname, name_is_dns_subdomain(rname, false));
            let key = str_of(r, "key");
            if key.is_empty() {
                errs.push(FieldError::required(&rp.child("key"), ""));
            } else {
                push_msgs(errs, &rp.child("key"), key, is_config_map_key(key));
            }
        }
        if n == 0 {
            errs.push(FieldError::invalid(&vp, "", "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"));
        } else if !str_of(ev, "value").is_empty() {
            errs.push(FieldError::invalid(&vp, "", "may not be specified when `value` is not empty"));
        } else if n > 1 {
            errs.push(FieldError::invalid(&vp, "", "may not have more than one field specified at a time"));
        }
    }
}

fn validate_env_from(list: &[Value], path: &Path, errs: &mut Vec<FieldError>) {
    for (i, ev) in list.iter().enumerate() {
        let p = path.index(i);
        let prefix = str_of(ev, "prefix");
        if !prefix.is_empty() {
            push_msgs(errs, &p.child("prefix"), prefix, is_env_var_name(prefix));
        }
        let mut n = 0;
        for kind in ["configMapRef", "secretRef"] {
            let Some(r) = get(ev, kind) else { continue };
            n += 1;
            let name = str_of(r, "name");
            if name.is_empty() {
                errs.push(FieldError::required(&p.child(kind).child("name"), ""));
            } else {
                push_msgs(errs, &p.child(kind).child("name"), name, name_is_dns_subdomain(name, true));
            }
        }
        if n == 0 {
            errs.push(FieldError::invalid(path, "", "must specify one of: `configMapRef` or `secretRef`"));
        } else if n > 1 {
            errs.push(FieldError::invalid(path, "", "may not have more than one field specified at a time"));
        }
    }
}

fn validate_volume_mounts(ctr: &Value, volumes: &Volumes, path: &Path, errs: &mut Vec<FieldError>) {
    let devices: HashMap<&str, &str> =
        arr(ctr, "volumeDevices").iter().map(|d| (str_of(d, "name"), str_of(d, "devicePath"))).collect();
    let mut mount_points: HashSet<&str> = HashSet::new();
    for (i, m) in arr(ctr, "volumeMounts").iter().enumerate() {
        let p = path.index(i);
        let name = str_of(m, "name");
        let mount_path = str_of(m, "mountPath");
        if name.is_empty() {
            errs.push(FieldError::required(&p.child("name"), ""));
        }
        if !volumes.contains_key(name) {
            errs.push(FieldError::not_found(&p.child("name"), name));
        }
        if mount_path.is_empty() {
            errs.push(FieldError::required(&p.child("mountPath"), ""));
        }
        if !mount_points.insert(mount_path) {
            errs.push(FieldError::invalid(&p.child("mountPath"), mount_path, "must be unique"));
        }
        if devices.contains_key(name) {
            errs.push(FieldError::invalid(&p.child("name"), name, "must not already exist in volumeDevices"));
        }
        if devices.values().any(|d| *d == mount_path) {
            errs.push(FieldError::invalid(&p.child("mountPath"), mount_path, "must not already exist as a path in volumeDevices"));
        }
        let sub_path = str_of(m, "subPath");
        let sub_expr = str_of(m, "subPathExpr");
        if volumes.get(name).map(|v| has(v, "image")).unwrap_or(false) {
            if !sub_path.is_empty() {
                errs.push(FieldError::invalid(&p.child("subPath"), sub_path, "not allowed in image volume sources"));
            }
            if !sub_expr.is_empty() {
                errs.push(FieldError::invalid(&p.child("subPathExpr"), sub_expr, "not allowed in image volume sources"));
            }
        }
        // Upstream reports sub-path problems against the list, not the entry.
        if !sub_path.is_empty() {
            validate_local_descending_path(sub_path, &path.child("subPath"), errs);
        }
        if !sub_expr.is_empty() {
            if !sub_path.is_empty() {
                errs.push(FieldError::invalid(&p.child("subPathExpr"), sub_expr, "subPathExpr and subPath are mutually exclusive"));
            }
            validate_local_descending_path(sub_expr, &path.child("subPathExpr"), errs);
        }
        if let Some(mp) = opt_str(m, "mountPropagation") {
            let mpp = path.child("mountPropagation");
            const MODES: [&str; 3] = ["Bidirectional", "HostToContainer", "None"];
            if !MODES.contains(&mp) {
                errs.push(FieldError::not_supported(&mpp, mp, &MODES));
            }
            let privileged = super::json::at(ctr, &["securityContext", "privileged"]).and_then(Value::as_bool).unwrap_or(false);
            if mp == "Bidirectional" && !privileged {
                errs.push(FieldError::forbidden(&mpp, "Bidirectional mount propagation is available only to privileged containers"));
            }
        }
        if let Some(rro) = opt_str(m, "recursiveReadOnly") {
            let rp = path.child("recursiveReadOnly");
            match rro {
                "Disabled" => {}
                "Enabled" | "IfPossible" => {
                    if !bool_of(m, "readOnly") {
                        errs.push(FieldError::forbidden(&rp, "may only be specified when readOnly is true"));
                    }
                    if opt_str(m, "mountPropagation").map(|x| x != "None").unwrap_or(false) {
                        errs.push(FieldError::forbidden(&rp, "may only be specified when mountPropagation is None or not specified"));
                    }
                }
                other => errs.push(FieldError::not_supported(&rp, other, &["Disabled", "Enabled", "IfPossible"])),
            }
        }
    }
}

fn validate_volume_devices(ctr: &Value, volumes: &Volumes, path: &Path, errs: &mut Vec<FieldError>) {
    let mounts: HashMap<&str, &str> = arr(ctr, "volumeMounts").iter().map(|m| (str_of(m, "name"), str_of(m, "mountPath"))).collect();
    let mut dev_paths: HashSet<&str> = HashSet::new();
    let mut dev_names: HashSet<&str> = HashSet::new();
    for (i, d) in arr(ctr, "volumeDevices").iter().enumerate() {
        let p = path.index(i);
        let name = str_of(d, "name");
        let dp = str_of(d, "devicePath");
        let vol = volumes.get(name);
        if name.is_empty() {
            errs.push(FieldError::required(&p.child("name"), ""));
        }
        if dev_names.contains(name) {
            errs.push(FieldError::invalid(&p.child("name"), name, "must be unique"));
        }
        match vol {
            Some(v) if !(has(v, "persistentVolumeClaim") || has(v, "ephemeral")) => errs.push(FieldError::invalid(
                &p.child("name"),
                name,
                "can only use volume source type of PersistentVolumeClaim or Ephemeral for block mode",
            )),
            None => errs.push(FieldError::not_found(&p.child("name"), name)),
            _ => {}
        }
        if dp.is_empty() {
            errs.push(FieldError::required(&p.child("devicePath"), ""));
        }
        if dev_paths.contains(dp) {
            errs.push(FieldError::invalid(&p.child("devicePath"), dp, "must be unique"));
        }
        if !dp.is_empty() && dp.split('/').any(|x| x == "..") {
            errs.push(FieldError::invalid(&p.child("devicePath"), dp, "can not contain backsteps ('..')"));
        } else {
            dev_paths.insert(dp);
        }
        if mounts.contains_key(name) {
            errs.push(FieldError::invalid(&p.child("name"), name, "must not already exist in volumeMounts"));
        }
        if mounts.values().any(|m| *m == dp) {
            errs.push(FieldError::invalid(&p.child("devicePath"), dp, "must not already exist as a path in volumeMounts"));
        }
        if !name.is_empty() {
            dev_names.insert(name);
        }
    }
}

fn validate_resize_policy(list: &[Value], path: &Path, restart_policy: &str, errs: &mut Vec<FieldError>) {
    let mut seen: HashSet<&str> = HashSet::new();
    for (i, p) in list.iter().enumerate() {
        let rn = str_of(p, "resourceName");
        if !seen.insert(rn) {
            errs.push(FieldError::duplicate(&path.index(i), rn));
        }
        match rn {
            "cpu" | "memory" => {}
            "" => errs.push(FieldError::required(path, "")),
            other => errs.push(FieldError::not_supported(path, other, &["cpu", "memory"])),
        }
        let rp = str_of(p, "restartPolicy");
        match rp {
            "NotRequired" | "RestartContainer" => {}
            "" => errs.push(FieldError::required(path, "")),
            other => errs.push(FieldError::not_supported(path, other, &["NotRequired", "RestartContainer"])),
        }
        if restart_policy == "Never" && rp != "NotRequired" {
            errs.push(FieldError::invalid(path, rp, "must be 'NotRequired' when `restartPolicy` is 'Never'"));
        }
    }
}

fn validate_seccomp_profile(sp: Option<&Value>, path: &Path, errs: &mut Vec<FieldError>) {
    let Some(sp) = sp else { return };
    let t = str_of(sp, "type");
    match t {
        "Localhost" | "RuntimeDefault" | "Unconfined" => {}
        "" => errs.push(FieldError::required(&path.child("type"), "type is required when seccompProfile is set")),
        other => errs.push(FieldError::not_supported(&path.child("type"), other, &["Localhost", "RuntimeDefault", "Unconfined"])),
    }
    let lp = opt_str(sp, "localhostProfile");
    if t == "Localhost" {
        match lp {
            None => errs.push(FieldError::required(&path.child("localhostProfile"), "must be set when seccomp type is Localhost")),
            Some(l) => validate_local_descending_path(l, &path.child("localhostProfile"), errs),
        }
    } else if lp.is_some() {
        errs.push(FieldError::invalid(&path.child("localhostProfile"), go_repr("core.SeccompProfile{...}"), "can only be set when seccomp type is Localhost"));
    }
}

fn validate_app_armor_profile(p: Option<&Value>, path: &Path, errs: &mut Vec<FieldError>) {
    let Some(p) = p else { return };
    match str_of(p, "type") {
        "Localhost" => match opt_str(p, "localhostProfile") {
            None => errs.push(FieldError::required(&path.child("localhostProfile"), "must be set when AppArmor type is Localhost")),
            Some(l) => {
                if l.trim() != l {
                    errs.push(FieldError::invalid(&path.child("localhostProfile"), l, "must not be padded with whitespace"));
                } else if l.is_empty() {
                    errs.push(FieldError::required(&path.child("localhostProfile"), "must be set when AppArmor type is Localhost"));
                }
                if l.len() > 4095 {
                    errs.push(FieldError::too_long(&path.child("localhostProfile"), 4095));
                }
            }
        },
        "RuntimeDefault" | "Unconfined" => {
            if let Some(l) = opt_str(p, "localhostProfile") {
                errs.push(FieldError::invalid(&path.child("localhostProfile"), l, "can only be set when AppArmor type is Localhost"));
            }
        }
        "" => errs.push(FieldError::required(&path.child("type"), "type is required when appArmorProfile is set")),
        other => errs.push(FieldError::not_supported(&path.child("type"), other, &["Localhost", "RuntimeDefault", "Unconfined"])),
    }
}

fn validate_id(sc: &Value, key: &str, path: &Path, errs: &mut Vec<FieldError>) {
    if let Some(id) = opt_int(sc, key) {
        for m in is_valid_user_id(id) {
            errs.push(FieldError::invalid(&path.child(key), id, m));
        }
    }
}

fn validate_container_security_context(sc: Option<&Value>, path: &Path, host_users: bool, errs: &mut Vec<FieldError>) {
    let Some(sc) = sc else { return };
    validate_id(sc, "runAsUser", path, errs);
    validate_id(sc, "runAsGroup", path, errs);
    if let Some(pm) = opt_str(sc, "procMount") {
        if pm != "Default" && pm != "Unmasked" {
            errs.push(FieldError::not_supported(&path.child("procMount"), pm, &["Default", "Unmasked"]));
        }
        if host_users && pm == "Unmasked" {
            errs.push(FieldError::invalid(&path.child("procMount"), pm, "`hostUsers` must be false to use `Unmasked`"));
        }
    }
    validate_seccomp_profile(get(sc, "seccompProfile"), &path.child("seccompProfile"), errs);
    if super::json::opt_bool(sc, "allowPrivilegeEscalation") == Some(false) {
        let shown = go_repr("&core.SecurityContext{...}");
        if bool_of(sc, "privileged") {
            errs.push(FieldError::invalid(path, shown.clone(), "cannot set `allowPrivilegeEscalation` to false and `privileged` to true"));
        }
        let caps = super::json::at(sc, &["capabilities", "add"]).and_then(Value::as_array).cloned().unwrap_or_default();
        if caps.iter().any(|c| c.as_str() == Some("CAP_SYS_ADMIN")) {
            errs.push(FieldError::invalid(path, shown, "cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` CAP_SYS_ADMIN"));
        }
    }
    validate_app_armor_profile(get(sc, "appArmorProfile"), &path.child("appArmorProfile"), errs);
}

fn validate_container_common(
    ctr: &Value,
    volumes: &Volumes,
    claim_names: &HashSet<String>,
    path: &Path,
    restart_policy: &str,
    host_users: bool,
    errs: &mut Vec<FieldError>,
) {
    let name = str_of(ctr, "name");
    if name.is_empty() {
        errs.push(FieldError::required(&path.child("name"), ""));
    } else {
        dns_label(name, &path.child("name"), errs);
    }
    if str_of(ctr, "image").is_empty() {
        errs.push(FieldError::required(&path.child("image"), ""));
    }
    match str_of(ctr, "terminationMessagePolicy") {
        "File" | "FallbackToLogsOnError" => {}
        "" => errs.push(FieldError::required(&path.child("terminationMessagePolicy"), "")),
        other => errs.push(FieldError::not_supported(&path.child("terminationMessagePolicy"), other, &["File", "FallbackToLogsOnError"])),
    }
    validate_container_ports(arr(ctr, "ports"), &path.child("ports"), errs);
    validate_env(arr(ctr, "env"), &path.child("env"), errs);
    validate_env_from(arr(ctr, "envFrom"), &path.child("envFrom"), errs);
    validate_volume_mounts(ctr, volumes, &path.child("volumeMounts"), errs);
    validate_volume_devices(ctr, volumes, &path.child("volumeDevices"), errs);
    validate_pull_policy(str_of(ctr, "imagePullPolicy"), &path.child("imagePullPolicy"), errs);
    validate_resource_requirements(sub(ctr, "resources"), claim_names, &path.child("resources"), errs);
    validate_resize_policy(arr(ctr, "resizePolicy"), &path.child("resizePolicy"), restart_policy, errs);
    validate_container_security_context(get(ctr, "securityContext"), &path.child("securityContext"), host_users, errs);
}

// ---------------------------------------------------------------- probes and handlers

fn validate_handler(h: &Value, grace: Option<i64>, path: &Path, lifecycle: bool, errs: &mut Vec<FieldError>) {
    let kinds: &[&str] = if lifecycle { &["exec", "httpGet", "tcpSocket", "sleep"] } else { &["exec", "httpGet", "tcpSocket", "grpc"] };
    let mut n = 0;
    for kind in kinds {
        let Some(a) = get(h, kind) else { continue };
        let p = path.child(kind);
        if n > 0 {
            errs.push(FieldError::forbidden(&p, "may not specify more than 1 handler type"));
            continue;
        }
        n += 1;
        match *kind {
            "exec" => {
                if arr(a, "command").is_empty() {
                    errs.push(FieldError::required(&p.child("command"), ""));
                }
            }
            "httpGet" => {
                if str_of(a, "path").is_empty() {
                    errs.push(FieldError::required(&p.child("path"), ""));
                }
                validate_port_num_or_name(get(a, "port"), &p.child("port"), errs);
                let scheme = str_of(a, "scheme");
                if scheme != "HTTP" && scheme != "HTTPS" {
                    errs.push(FieldError::not_supported(&p.child("scheme"), scheme, &["HTTP", "HTTPS"]));
                }
                for hdr in arr(a, "httpHeaders") {
                    let hn = str_of(hdr, "name");
                    push_msgs(errs, &p.child("httpHeaders"), hn, is_http_header_name(hn));
                }
            }
            "tcpSocket" => validate_port_num_or_name(get(a, "port"), &p.child("port"), errs),
            "grpc" => {
                let port = int_of(a, "port");
                for m in is_valid_port_num(port) {
                    errs.push(FieldError::invalid(&p.child("port"), port, m));
                }
            }
            "sleep" => {
                let secs = int_of(a, "seconds");
                if let Some(g) = grace {
                    if secs < 0 || secs > g {
                        errs.push(FieldError::invalid(
                            &p,
                            secs,
                            format!("must be non-negative and less than terminationGracePeriodSeconds ({g})"),
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    if n == 0 {
        errs.push(FieldError::required(path, "must specify a handler type"));
    }
}

fn validate_probe(probe: &Value, grace: Option<i64>, path: &Path, errs: &mut Vec<FieldError>) {
    validate_handler(probe, grace, path, false, errs);
    for key in ["initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold", "failureThreshold"] {
        non_negative(int_of(probe, key), &path.child(key), errs);
    }
    if let Some(t) = opt_int(probe, "terminationGracePeriodSeconds") {
        if t <= 0 {
            errs.push(FieldError::invalid(&path.child("terminationGracePeriodSeconds"), t, "must be greater than 0"));
        }
    }
}

fn validate_probes_and_lifecycle(ctr: &Value, grace: Option<i64>, path: &Path, errs: &mut Vec<FieldError>) {
    if let Some(lc) = get(ctr, "lifecycle") {
        for hook in ["postStart", "preStop"] {
            if let Some(h) = get(lc, hook) {
                validate_handler(h, grace, &path.child("lifecycle").child(hook), true, errs);
            }
        }
    }
    for kind in ["livenessProbe", "readinessProbe", "startupProbe"] {
        let Some(probe) = get(ctr, kind) else { continue };
        let p = path.child(kind);
        validate_probe(probe, grace, &p, errs);
        if kind == "readinessProbe" {
            if let Some(t) = opt_int(probe, "terminationGracePeriodSeconds") {
                errs.push(FieldError::invalid(&p.child("terminationGracePeriodSeconds"), t, "must not be set for readinessProbes"));
            }
        } else {
            let st = int_of(probe, "successThreshold");
            if st != 1 {
                errs.push(FieldError::invalid(&p.child("successThreshold"), st, "must be 1"));
            }
        }
    }
}

/// `checkHostPortConflicts`.
fn check_host_ports(containers: &[&Value], path: &Path, base_index: Option<usize>, errs: &mut Vec<FieldError>) {
    let mut seen: HashSet<String> = HashSet::new();
    for (ci, ctr) in containers.iter().enumerate() {
        let cpath = path.index(base_index.unwrap_or(ci));
        for (pi, port) in arr(ctr, "ports").iter().enumerate() {
            let hp = int_of(port, "hostPort");
            if hp == 0 {
                continue;
            }
            let key = format!("{}/{}/{}", str_of(port, "protocol"), str_of(port, "hostIP"), hp);
            if !seen.insert(key.clone()) {
                errs.push(FieldError::duplicate(&cpath.child("ports").index(pi).child("hostPort"), key));
            }
        }
    }
}

fn validate_containers(spec: &Value, volumes: &Volumes, claims: &HashSet<String>, grace: Option<i64>, path: &Path, host_users: bool, errs: &mut Vec<FieldError>) {
    let containers = arr(spec, "containers");
    if containers.is_empty() {
        errs.push(FieldError::required(path, ""));
        return;
    }
    let restart_policy = str_of(spec, "restartPolicy");
    let mut names: HashSet<&str> = HashSet::new();
    for (i, ctr) in containers.iter().enumerate() {
        let p = path.index(i);
        validate_container_common(ctr, volumes, claims, &p, restart_policy, host_users, errs);
        let name = str_of(ctr, "name");
        if !names.insert(name) {
            errs.push(FieldError::duplicate(&p.child("name"), name));
        }
        validate_probes_and_lifecycle(ctr, grace, &p, errs);
        if has(ctr, "restartPolicy") {
            errs.push(FieldError::forbidden(&p.child("restartPolicy"), "may not be set for non-init containers"));
        }
    }
    let all: Vec<&Value> = containers.iter().collect();
    check_host_ports(&all, path, None, errs);
}

fn validate_init_containers(spec: &Value, volumes: &Volumes, claims: &HashSet<String>, grace: Option<i64>, path: &Path, host_users: bool, errs: &mut Vec<FieldError>) {
    let restart_policy = str_of(spec, "restartPolicy");
    let mut names: HashSet<&str> = arr(spec, "containers").iter().map(|c| str_of(c, "name")).collect();
    for (i, ctr) in arr(spec, "initContainers").iter().enumerate() {
        let p = path.index(i);
        validate_container_common(ctr, volumes, claims, &p, restart_policy, host_users, errs);
        let mut restart_always = false;
        if let Some(rp) = opt_str(ctr, "restartPolicy") {
            if rp != "Always" {
                errs.push(FieldError::not_supported(&p.child("restartPolicy"), rp, &["Always"]));
            }
            restart_always = rp == "Always";
        }
        let name = str_of(ctr, "name");
        if names.contains(name) {
            errs.push(FieldError::duplicate(&p.child("name"), name));
        } else if !name.is_empty() {
            names.insert(name);
        }
        check_host_ports(&[ctr], path, Some(i), errs);
        if restart_always {
            validate_probes_and_lifecycle(ctr, grace, &p, errs);
        } else {
            for key in ["lifecycle", "livenessProbe", "readinessProbe", "startupProbe"] {
                if has(ctr, key) {
                    errs.push(FieldError::forbidden(&p.child(key), "may not be set for init containers without restartPolicy=Always"));
                }
            }
        }
    }
}

fn validate_ephemeral_containers(spec: &Value, volumes: &Volumes, claims: &HashSet<String>, path: &Path, host_users: bool, errs: &mut Vec<FieldError>) {
    let list = arr(spec, "ephemeralContainers");
    if list.is_empty() {
        return;
    }
    let restart_policy = str_of(spec, "restartPolicy");
    let others: HashSet<&str> =
        arr(spec, "containers").iter().chain(arr(spec, "initContainers")).map(|c| str_of(c, "name")).collect();
    let mut all = others.clone();
    const NOT_ALLOWED: [&str; 6] = ["ports", "resources", "livenessProbe", "readinessProbe", "startupProbe", "lifecycle"];
    for (i, ec) in list.iter().enumerate() {
        let p = path.index(i);
        validate_container_common(ec, volumes, claims, &p, restart_policy, host_users, errs);
        validate_image_whitespace(ec, &p, errs);
        let name = str_of(ec, "name");
        if !all.insert(name) {
            errs.push(FieldError::duplicate(&p.child("name"), name));
        }
        let target = str_of(ec, "targetContainerName");
        if !target.is_empty() && !others.contains(target) {
            errs.push(FieldError::not_found(&p.child("targetContainerName"), target));
        }
        for key in NOT_ALLOWED {
            if get(ec, key).and_then(super::json::normalized).is_some() {
                errs.push(FieldError::forbidden(&p.child(key), "cannot be set for an Ephemeral Container"));
            }
        }
        for (j, vm) in arr(ec, "volumeMounts").iter().enumerate() {
            for key in ["subPath", "subPathExpr"] {
                if !str_of(vm, key).is_empty() {
                    errs.push(FieldError::forbidden(&p.child("volumeMounts").index(j).child(key), "cannot be set for an Ephemeral Container"));
                }
            }
        }
    }
}

fn validate_image_whitespace(ctr: &Value, path: &Path, errs: &mut Vec<FieldError>) {
    let image = str_of(ctr, "image");
    if image.trim() != image {
        errs.push(FieldError::invalid(&path.child("image"), image, "must not have leading or trailing whitespace"));
    }
}

/// Checks only a Pod (not a template) gets: no padded images.
pub fn validate_containers_only_for_pod(spec: &Value, path: &Path, errs: &mut Vec<FieldError>) {
    for key in ["containers", "initContainers"] {
        for (i, c) in arr(spec, key).iter().enumerate() {
            validate_image_whitespace(c, &path.child(key).index(i), errs);
        }
    }
}

// ---------------------------------------------------------------- scheduling

/// `ValidateTolerations`.
pub fn validate_tolerations(list: &[Value], path: &Path, errs: &mut Vec<FieldError>) {
    for (i, t) in list.iter().enumerate() {
        let p = path.index(i);
        let key = str_of(t, "key");
        let op = str_of(t, "operator");
        let effect = str_of(t, "effect");
        let value = str_of(t, "value");
        if !key.is_empty() {
            validate_label_name(key, &p.child("key"), errs);
        }
        if key.is_empty() && op != "Exists" {
            errs.push(FieldError::invalid(
                &p.child("operator"),
                op,
                "operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
            ));
        }
        if has(t, "tolerationSeconds") && effect != "NoExecute" {
            errs.push(FieldError::invalid(&p.child("effect"), effect, "effect must be 'NoExecute' when `tolerationSeconds` is set"));
        }
        match op {
            "Equal" | "" => {
                let msgs = is_valid_label_value(value);
                if !msgs.is_empty() {
                    errs.push(FieldError::invalid(&p.child("operator"), value, msgs.join(";")));
                }
            }
            "Exists" => {
                if !value.is_empty() {
                    errs.push(FieldError::invalid(&p.child("operator"), value, "value must be empty when `operator` is 'Exists'"));
                }
            }
            other => errs.push(FieldError::not_supported(&p.child("operator"), other, &["Equal", "Exists"])),
        }
        if !effect.is_empty() {
            validate_taint_effect(effect, true, &p.child("effect"), errs);
        }
    }
}

/// `validateTaintEffect`.
pub fn validate_taint_effect(effect: &str, allow_empty: bool, path: &Path, errs: &mut Vec<FieldError>) {
    if !allow_empty && effect.is_empty() {
        errs.push(FieldError::required(path, ""));
        return;
    }
    const EFFECTS: [&str; 3] = ["NoSchedule", "PreferNoSchedule", "NoExecute"];
    if !EFFECTS.contains(&effect) {
        errs.push(FieldError::not_supported(path, effect, &EFFECTS));
    }
}

fn validate_node_selector_requirement(rq: &Value, allow_invalid_values: bool, path: &Path, errs: &mut Vec<FieldError>) {
    let values = arr(rq, "values");
    let op = str_of(rq, "operator");
    match op {
        "In" | "NotIn" => {
            if values.is_empty() {
                errs.push(FieldError::required(&path.child("values"), "must be specified when `operator` is 'In' or 'NotIn'"));
            }
        }
        "Exists" | "DoesNotExist" => {
            if !values.is_empty() {
                errs.push(FieldError::forbidden(&path.child("values"), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"));
            }
        }
        "Gt" | "Lt" => {
            if values.len() != 1 {
                errs.push(FieldError::required(&path.child("values"), "must be specified single value when `operator` is 'Lt' or 'Gt'"));
            }
        }
        other => errs.push(FieldError::invalid(&path.child("operator"), other, "not a valid selector operator")),
    }
    validate_label_name(str_of(rq, "key"), &path.child("key"), errs);
    if !allow_invalid_values {
        for (i, v) in values.iter().enumerate() {
            let v = v.as_str().unwrap_or_default();
            push_msgs(errs, &path.child("values").index(i), v, is_valid_label_value(v));
        }
    }
}

fn validate_node_selector_term(term: &Value, allow_invalid_values: bool, path: &Path, errs: &mut Vec<FieldError>) {
    for (j, rq) in arr(term, "matchExpressions").iter().enumerate() {
        validate_node_selector_requirement(rq, allow_invalid_values, &path.child("matchExpressions").index(j), errs);
    }
    for (j, rq) in arr(term, "matchFields").iter().enumerate() {
        let p = path.child("matchFields").index(j);
        let op = str_of(rq, "operator");
        let values = arr(rq, "values");
        if op == "In" || op == "NotIn" {
            if values.len() != 1 {
                errs.push(FieldError::required(&p.child("values"), "must be only one value when `operator` is 'In' or 'NotIn' for node field selector"));
            }
        } else {
            errs.push(FieldError::invalid(&p.child("operator"), op, "not a valid selector operator"));
        }
        let key = str_of(rq, "key");
        if key != "metadata.name" {
            errs.push(FieldError::invalid(&p.child("key"), key, "not a valid field selector key"));
        } else {
            for (k, v) in values.iter().enumerate() {
                let v = v.as_str().unwrap_or_default();
                push_msgs(errs, &p.child("values").index(k), v, name_is_dns_subdomain(v, false));
            }
        }
    }
}

/// `ValidateNodeSelector`.
pub fn validate_node_selector(ns: &Value, allow_invalid_values: bool, path: &Path, errs: &mut Vec<FieldError>) {
    let tp = path.child("nodeSelectorTerms");
    let terms = arr(ns, "nodeSelectorTerms");
    if terms.is_empty() {
        errs.push(FieldError::required(&tp, "must have at least one node selector term"));
        return;
    }
    for (i, t) in terms.iter().enumerate() {
        validate_node_selector_term(t, allow_invalid_values, &tp.index(i), errs);
    }
}

fn validate_pod_affinity_term(term: &Value, path: &Path, errs: &mut Vec<FieldError>) {
    validate_label_selector(get(term, "labelSelector"), &path.child("labelSelector"), errs);
    validate_label_selector(get(term, "namespaceSelector"), &path.child("namespaceSelector"), errs);
    for ns in arr(term, "namespaces") {
        let ns = ns.as_str().unwrap_or_default();
        push_msgs(errs, &path.child("namespace"), ns, name_is_dns_label(ns, false));
    }
    let selector = get(term, "labelSelector");
    for key in ["matchLabelKeys", "mismatchLabelKeys"] {
        let keys = arr(term, key);
        if keys.is_empty() {
            continue;
        }
        if selector.is_none() {
            errs.push(FieldError::forbidden(&path.child(key), "must not be specified when labelSelector is not set"));
            continue;
        }
        for (i, k) in keys.iter().enumerate() {
            validate_label_name(k.as_str().unwrap_or_default(), &path.child(key).index(i), errs);
        }
    }
    let topology_key = str_of(term, "topologyKey");
    if topology_key.is_empty() {
        errs.push(FieldError::required(&path.child("topologyKey"), "can not be empty"));
    }
    validate_label_name(topology_key, &path.child("topologyKey"), errs);
}

fn validate_affinity(affinity: Option<&Value>, path: &Path, errs: &mut Vec<FieldError>) {
    let Some(a) = affinity else { return };
    if let Some(na) = get(a, "nodeAffinity") {
        let p = path.child("nodeAffinity");
        if let Some(req) = get(na, "requiredDuringSchedulingIgnoredDuringExecution") {
            validate_node_selector(req, false, &p.child("requiredDuringSchedulingIgnoredDuringExecution"), errs);
        }
        for (i, term) in arr(na, "preferredDuringSchedulingIgnoredDuringExecution").iter().enumerate() {
            let tp = p.child("preferredDuringSchedulingIgnoredDuringExecution").index(i);
            let w = int_of(term, "weight");
            if !(1..=100).contains(&w) {
                errs.push(FieldError::invalid(&tp.child("weight"), w, "must be in the range 1-100"));
            }
            validate_node_selector_term(sub(term, "preference"), true, &tp.child("preference"), errs);
        }
    }
    for kind in ["podAffinity", "podAntiAffinity"] {
        let Some(pa) = get(a, kind) else { continue };
        let p = path.child(kind);
        for (i, term) in arr(pa, "requiredDuringSchedulingIgnoredDuringExecution").iter().enumerate() {
            validate_pod_affinity_term(term, &p.child("requiredDuringSchedulingIgnoredDuringExecution").index(i), errs);
        }
        for (i, wt) in arr(pa, "preferredDuringSchedulingIgnoredDuringExecution").iter().enumerate() {
            let tp = p.child("preferredDuringSchedulingIgnoredDuringExecution").index(i);
            let w = int_of(wt, "weight");
            if !(1..=100).contains(&w) {
                errs.push(FieldError::invalid(&tp.child("weight"), w, "must be in the range 1-100"));
            }
            validate_pod_affinity_term(sub(wt, "podAffinityTerm"), &tp.child("podAffinityTerm"), errs);
        }
    }
}

fn validate_topology_spread(list: &[Value], path: &Path, errs: &mut Vec<FieldError>) {
    for (i, c) in list.iter().enumerate() {
        let p = path.index(i);
        let skew = int_of(c, "maxSkew");
        if skew <= 0 {
            errs.push(FieldError::invalid(&p.child("maxSkew"), skew, NOT_POSITIVE));
        }
        let key = str_of(c, "topologyKey");
        if key.is_empty() {
            errs.push(FieldError::required(&p.child("topologyKey"), "can not be empty"));
        }
        let when = str_of(c, "whenUnsatisfiable");
        if when != "DoNotSchedule" && when != "ScheduleAnyway" {
            errs.push(FieldError::not_supported(&p.child("whenUnsatisfiable"), when, &["DoNotSchedule", "ScheduleAnyway"]));
        }
        if list[i + 1..].iter().any(|o| str_of(o, "topologyKey") == key && str_of(o, "whenUnsatisfiable") == when) {
            errs.push(FieldError::duplicate(&p.child("{topologyKey, whenUnsatisfiable}"), format!("{{{key}, {when}}}")));
        }
        if let Some(md) = opt_int(c, "minDomains") {
            if md <= 0 {
                errs.push(FieldError::invalid(&p.child("minDomains"), md, NOT_POSITIVE));
            }
            if when != "DoNotSchedule" {
                errs.push(FieldError::invalid(
                    &p.child("minDomains"),
                    md,
                    format!("can only use minDomains if whenUnsatisfiable=DoNotSchedule, not {when}"),
                ));
            }
        }
        for key in ["nodeAffinityPolicy", "nodeTaintsPolicy"] {
            if let Some(pol) = opt_str(c, key) {
                if pol != "Honor" && pol != "Ignore" {
                    errs.push(FieldError::not_supported(&p.child(key), pol, &["Honor", "Ignore"]));
                }
            }
        }
        let keys = arr(c, "matchLabelKeys");
        if !keys.is_empty() && get(c, "labelSelector").is_none() {
            errs.push(FieldError::forbidden(&p.child("matchLabelKeys"), "must not be specified when labelSelector is not set"));
        }
        for (j, k) in keys.iter().enumerate() {
            validate_label_name(k.as_str().unwrap_or_default(), &p.child("matchLabelKeys").index(j), errs);
        }
        validate_label_selector(get(c, "labelSelector"), &p.child("labelSelector"), errs);
    }
}

fn validate_dns_config(spec: &Value, path: &Path, errs: &mut Vec<FieldError>) {
    let cfg = get(spec, "dnsConfig");
    if str_of(spec, "dnsPolicy") == "None" {
        match cfg {
            None => {
                errs.push(FieldError::required(path, "must provide `dnsConfig` when `dnsPolicy` is None"));
                return;
            }
            Some(c) if arr(c, "nameservers").is_empty() => {
                errs.push(FieldError::required(&path.child("nameservers"), "must provide at least one DNS nameserver when `dnsPolicy` is None"));
                return;
            }
            _ => {}
        }
    }
    let Some(cfg) = cfg else { return };
    let ns = arr(cfg, "nameservers");
    if ns.len() > 3 {
        errs.push(FieldError::invalid(&path.child("nameservers"), Value::Array(ns.to_vec()), "must not have more than 3 nameservers"));
    }
    for (i, n) in ns.iter().enumerate() {
        let n = n.as_str().unwrap_or_default();
        if parse_ip(n).is_none() {
            errs.push(FieldError::invalid(&path.child("nameservers").index(i), n, INVALID_IP_MSG));
        }
    }
    let searches = arr(cfg, "searches");
    if searches.len() > 32 {
        errs.push(FieldError::invalid(&path.child("searches"), Value::Array(searches.to_vec()), "must not have more than 32 search paths"));
    }
    let joined: Vec<&str> = searches.iter().filter_map(Value::as_str).collect();
    if joined.join(" ").len() > 2048 {
        errs.push(FieldError::invalid(
            &path.child("searches"),
            Value::Array(searches.to_vec()),
            "must not have more than 2048 characters (including spaces) in the search list",
        ));
    }
    for (i, s) in searches.iter().enumerate() {
        let s = s.as_str().unwrap_or_default();
        if s == "." {
            continue;
        }
        let trimmed = s.strip_suffix('.').unwrap_or(s);
        push_msgs(errs, &path.child("searches").index(i), trimmed, is_dns1123_subdomain_with_underscore(trimmed));
    }
    for (i, o) in arr(cfg, "options").iter().enumerate() {
        if str_of(o, "name").is_empty() {
            errs.push(FieldError::required(&path.child("options").index(i), "must not be empty"));
        }
    }
}

fn validate_pod_security_context(spec: &Value, path: &Path, errs: &mut Vec<FieldError>) {
    let Some(sc) = get(spec, "securityContext") else { return };
    for key in ["fsGroup", "runAsUser", "runAsGroup"] {
        validate_id(sc, key, path, errs);
    }
    for (i, g) in arr(sc, "supplementalGroups").iter().enumerate() {
        let g = g.as_i64().unwrap_or(0);
        for m in is_valid_user_id(g) {
            errs.push(FieldError::invalid(&path.child("supplementalGroups").index(i), g, m));
        }
    }
    if super::json::opt_bool(spec, "shareProcessNamespace") == Some(true) && bool_of(spec, "hostPID") {
        errs.push(FieldError::invalid(&path.child("shareProcessNamespace"), true, "ShareProcessNamespace and HostPID cannot both be enabled"));
    }
    let mut seen: HashSet<&str> = HashSet::new();
    for (i, s) in arr(sc, "sysctls").iter().enumerate() {
        let p = path.child("sysctls").index(i).child("name");
        let name = str_of(s, "name");
        if name.is_empty() {
            errs.push(FieldError::required(&p, ""));
        } else if !is_valid_sysctl_name(name) {
            errs.push(FieldError::invalid(
                &p,
                name,
                "must have at most 253 characters and match regex ^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\\./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$",
            ));
        } else if seen.contains(name) {
            errs.push(FieldError::duplicate(&p, name));
        }
        if bool_of(spec, "hostNetwork") && name.starts_with("net.") {
            errs.push(FieldError::invalid(&p, name, "may not be specified when 'hostNetwork' is true"));
        } else if bool_of(spec, "hostIPC") && (name.starts_with("kernel.shm") || name.starts_with("kernel.msg") || name == "kernel.sem" || name.starts_with("fs.mqueue.")) {
            errs.push(FieldError::invalid(&p, name, "may not be specified when 'hostIPC' is true"));
        }
        seen.insert(name);
    }
    if let Some(pol) = opt_str(sc, "fsGroupChangePolicy") {
        if pol != "Always" && pol != "OnRootMismatch" {
            errs.push(FieldError::not_supported(&path.child("fsGroupChangePolicy"), pol, &["Always", "OnRootMismatch"]));
        }
    }
    validate_seccomp_profile(get(sc, "seccompProfile"), &path.child("seccompProfile"), errs);
    validate_app_armor_profile(get(sc, "appArmorProfile"), &path.child("appArmorProfile"), errs);
    if let Some(pol) = opt_str(sc, "supplementalGroupsPolicy") {
        if pol != "Merge" && pol != "Strict" {
            errs.push(FieldError::not_supported(&path.child("supplementalGroupsPolicy"), pol, &["Merge", "Strict"]));
        }
    }
    if let Some(pol) = opt_str(sc, "seLinuxChangePolicy") {
        if pol != "MountOption" && pol != "Recursive" {
            errs.push(FieldError::not_supported(&path.child("seLinuxChangePolicy"), pol, &["MountOption", "Recursive"]));
        }
    }
}

fn is_valid_sysctl_name(name: &str) -> bool {
    if name.len() > 253 {
        return false;
    }
    let seg_ok = |s: &str| {
        let b = s.as_bytes();
        matches!((b.first(), b.last()), (Some(f), Some(l)) if (f.is_ascii_lowercase() || f.is_ascii_digit()) && (l.is_ascii_lowercase() || l.is_ascii_digit()))
            && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-' || *c == b'_')
    };
    name.split(['.', '/']).all(seg_ok)
}

fn validate_resource_claims(spec: &Value, path: &Path, errs: &mut Vec<FieldError>) {
    let mut names: HashSet<&str> = HashSet::new();
    for (i, c) in arr(spec, "resourceClaims").iter().enumerate() {
        let p = path.index(i);
        let name = str_of(c, "name");
        if name.is_empty() {
            errs.push(FieldError::required(&p.child("name"), ""));
        } else if names.contains(name) {
            errs.push(FieldError::duplicate(&p.child("name"), name));
        } else {
            dns_label(name, &p.child("name"), errs);
            names.insert(name);
        }
        let (a, b) = (opt_str(c, "resourceClaimName"), opt_str(c, "resourceClaimTemplateName"));
        if a.is_some() && b.is_some() {
            errs.push(FieldError::invalid(&p, go_repr("core.PodResourceClaim{...}"), "at most one of `resourceClaimName` or `resourceClaimTemplateName` may be specified"));
        }
        if a.is_none() && b.is_none() {
            errs.push(FieldError::invalid(&p, go_repr("core.PodResourceClaim{...}"), "must specify one of: `resourceClaimName`, `resourceClaimTemplateName`"));
        }
        for (key, v) in [("resourceClaimName", a), ("resourceClaimTemplateName", b)] {
            if let Some(v) = v {
                push_msgs(errs, &p.child(key), v, name_is_dns_subdomain(v, false));
            }
        }
    }
}

/// `ValidatePodSpec`. `pod_name` is set for Pods (generic ephemeral volume names).
pub fn validate_pod_spec(spec: &Value, pod_name: Option<&str>, path: &Path, opts: PodOpts, errs: &mut Vec<FieldError>) {
    let grace = opt_int(spec, "terminationGracePeriodSeconds");
    if grace.is_none() {
        errs.push(FieldError::required(&path.child("terminationGracePeriodSeconds"), ""));
    }
    let host_users = super::json::at(spec, &["securityContext", "hostUsers"]).and_then(Value::as_bool).unwrap_or(true);
    let volumes = validate_volumes(arr(spec, "volumes"), pod_name, &path.child("volumes"), opts, errs);
    let claims: HashSet<String> =
        arr(spec, "resourceClaims").iter().map(|c| str_of(c, "name").to_string()).filter(|n| !n.is_empty()).collect();
    validate_resource_claims(spec, &path.child("resourceClaims"), errs);
    validate_containers(spec, &volumes, &claims, grace, &path.child("containers"), host_users, errs);
    validate_init_containers(spec, &volumes, &claims, grace, &path.child("initContainers"), host_users, errs);
    validate_ephemeral_containers(spec, &volumes, &claims, &path.child("ephemeralContainers"), host_users, errs);
    if bool_of(spec, "hostNetwork") {
        for (i, c) in arr(spec, "containers").iter().enumerate() {
            for (j, port) in arr(c, "ports").iter().enumerate() {
                let (hp, cp) = (int_of(port, "hostPort"), int_of(port, "containerPort"));
                if (opts.resource_is_pod || hp != 0) && hp != cp {
                    errs.push(FieldError::invalid(
                        &path.child("containers").index(i).child("ports").index(j).child("hostPort"),
                        hp,
                        "must match `containerPort` when `hostNetwork` is true",
                    ));
                }
            }
        }
    }
    match str_of(spec, "restartPolicy") {
        "Always" | "OnFailure" | "Never" => {}
        "" => errs.push(FieldError::required(&path.child("restartPolicy"), "")),
        other => errs.push(FieldError::not_supported(&path.child("restartPolicy"), other, &["Always", "OnFailure", "Never"])),
    }
    match str_of(spec, "dnsPolicy") {
        "ClusterFirstWithHostNet" | "ClusterFirst" | "Default" | "None" => {}
        "" => errs.push(FieldError::required(&path.child("dnsPolicy"), "")),
        other => errs.push(FieldError::not_supported(
            &path.child("dnsPolicy"),
            other,
            &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"],
        )),
    }
    validate_labels(obj(spec, "nodeSelector"), &path.child("nodeSelector"), errs);
    validate_pod_security_context(spec, &path.child("securityContext"), errs);
    for (i, s) in arr(spec, "imagePullSecrets").iter().enumerate() {
        if s.as_object().map(|m| m.keys().any(|k| k != "name")).unwrap_or(false) {
            errs.push(FieldError::invalid(&path.child("imagePullSecrets").index(i), go_repr("core.LocalObjectReference{...}"), "only name may be set"));
        }
    }
    validate_affinity(get(spec, "affinity"), &path.child("affinity"), errs);
    validate_dns_config(spec, &path.child("dnsConfig"), errs);
    for (i, g) in arr(spec, "readinessGates").iter().enumerate() {
        qualified_name(str_of(g, "conditionType"), &path.child("readinessGates").index(i).child("conditionType"), errs);
    }
    let mut gates: HashSet<&str> = HashSet::new();
    for (i, g) in arr(spec, "schedulingGates").iter().enumerate() {
        let name = str_of(g, "name");
        let p = path.child("schedulingGates").index(i);
        qualified_name(name, &p, errs);
        if !gates.insert(name) {
            errs.push(FieldError::duplicate(&p, name));
        }
    }
    validate_topology_spread(arr(spec, "topologySpreadConstraints"), &path.child("topologySpreadConstraints"), errs);
    if !host_users {
        for (key, shown) in [("hostNetwork", "hostNetwork"), ("hostPID", "HostPID"), ("hostIPC", "HostIPC")] {
            if bool_of(spec, key) {
                errs.push(FieldError::forbidden(&path.child(shown), "when `pod.Spec.HostUsers` is false"));
            }
        }
    }
    for (key, f) in [("serviceAccountName", name_is_dns_subdomain as NameFn), ("nodeName", name_is_dns_subdomain)] {
        let v = str_of(spec, key);
        if !v.is_empty() {
            push_msgs(errs, &path.child(key), v, f(v, false));
        }
    }
    if let Some(ads) = opt_int(spec, "activeDeadlineSeconds") {
        if ads < 1 || ads > i64::from(i32::MAX) {
            errs.push(FieldError::invalid(&path.child("activeDeadlineSeconds"), ads, inclusive_range_error(1, i64::from(i32::MAX))));
        }
    }
    for key in ["hostname", "subdomain"] {
        let v = str_of(spec, key);
        if !v.is_empty() {
            dns_label(v, &path.child(key), errs);
        }
    }
    validate_tolerations(arr(spec, "tolerations"), &path.child("tolerations"), errs);
    for (i, ha) in arr(spec, "hostAliases").iter().enumerate() {
        let p = path.child("hostAliases").index(i);
        let ip = str_of(ha, "ip");
        if parse_ip(ip).is_none() {
            errs.push(FieldError::invalid(&p.child("ip"), ip, INVALID_IP_MSG));
        }
        for (j, h) in arr(ha, "hostnames").iter().enumerate() {
            dns_subdomain(h.as_str().unwrap_or_default(), &p.child("hostnames").index(j), errs);
        }
    }
    let pc = str_of(spec, "priorityClassName");
    if !pc.is_empty() {
        push_msgs(errs, &path.child("priorityClassName"), pc, name_is_dns_subdomain(pc, false));
    }
    if let Some(rc) = opt_str(spec, "runtimeClassName") {
        push_msgs(errs, &path.child("runtimeClassName"), rc, name_is_dns_subdomain(rc, false));
    }
    if let Some(pp) = opt_str(spec, "preemptionPolicy") {
        match pp {
            "PreemptLowerPriority" | "Never" => {}
            "" => errs.push(FieldError::required(&path.child("preemptionPolicy"), "")),
            other => errs.push(FieldError::not_supported(&path.child("preemptionPolicy"), other, &["PreemptLowerPriority", "Never"])),
        }
    }
    if let Some(overhead) = get(spec, "overhead") {
        let mut res = Map::new();
        res.insert("limits".to_string(), overhead.clone());
        validate_resource_requirements(&Value::Object(res), &HashSet::new(), &path.child("overhead"), errs);
    }
    if let Some(os) = get(spec, "os") {
        let name = str_of(os, "name");
        if name.is_empty() {
            errs.push(FieldError::required(&path.child("os").child("name"), "cannot be empty"));
        } else if name != "linux" && name != "windows" {
            errs.push(FieldError::not_supported(&path.child("os"), name, &["linux", "windows"]));
        } else if name == "linux" {
            if super::json::at(spec, &["securityContext", "windowsOptions"]).is_some() {
                errs.push(FieldError::forbidden(&path.child("securityContext").child("windowsOptions"), "windows options cannot be set for a linux pod"));
            }
        }
    }
}

/// `ValidatePodTemplateSpec`: labels, annotations and spec of an embedded template.
pub fn validate_pod_template_spec(template: &Value, path: &Path, errs: &mut Vec<FieldError>) {
    let meta = sub(template, "metadata");
    validate_labels(obj(meta, "labels"), &path.child("labels"), errs);
    validate_annotations(obj(meta, "annotations"), &path.child("annotations"), errs);
    validate_pod_specific_annotations(meta, sub(template, "spec"), &path.child("annotations"), errs);
    let spec = sub(template, "spec");
    validate_pod_spec(spec, None, &path.child("spec"), PodOpts::default(), errs);
    if !arr(spec, "ephemeralContainers").is_empty() {
        errs.push(FieldError::forbidden(&path.child("spec").child("ephemeralContainers"), "ephemeral containers not allowed in pod template"));
    }
}

/// `ValidatePodSpecificAnnotations`.
pub fn validate_pod_specific_annotations(meta: &Value, spec: &Value, path: &Path, errs: &mut Vec<FieldError>) {
    let Some(ann) = obj(meta, "annotations") else { return };
    if let Some(v) = ann.get("kubernetes.io/config.mirror").and_then(Value::as_str) {
        if str_of(spec, "nodeName").is_empty() {
            errs.push(FieldError::invalid(&path.key("kubernetes.io/config.mirror"), v, "must set spec.nodeName if mirror pod annotation is set"));
        }
    }
    if let Some(v) = ann.get("controller.kubernetes.io/pod-deletion-cost").and_then(Value::as_str) {
        if v.parse::<i32>().is_err() || v.starts_with('+') {
            errs.push(FieldError::invalid(&path.key("controller.kubernetes.io/pod-deletion-cost"), v, "must be a 32bit integer"));
        }
    }
    for (k, v) in ann {
        let v = v.as_str().unwrap_or_default();
        let seccomp = k == "seccomp.security.alpha.kubernetes.io/pod" || k.starts_with("container.seccomp.security.alpha.kubernetes.io/");
        if seccomp && !(v == "runtime/default" || v == "docker/default" || v == "unconfined" || v.starts_with("localhost/")) {
            errs.push(FieldError::invalid(&path.child(k), v, "must be a valid seccomp profile"));
        }
    }
}

/// Fields of a PodSpec that a Pod update may change; everything else must stay.
pub const UPDATABLE_POD_SPEC_FIELDS: &str = "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";
