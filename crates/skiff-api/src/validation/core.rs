//! The core ("") group: Pods, Services, ConfigMaps, Secrets, Namespaces, Nodes,
//! PersistentVolumes and claims, LimitRanges, ResourceQuotas, ServiceAccounts,
//! Endpoints, Events and ReplicationControllers.

use std::collections::HashSet;

use serde_json::Value;

use super::field_error::{go_int_or_string, go_quote, go_repr, FieldError, Path};
use super::json::{arr, entries, get, has, int_of, obj, opt_bool, opt_int, opt_str, semantic_eq, str_of, sub};
use super::meta::*;
use super::names::*;
use super::pod::*;
use crate::quantity::{self, Quantity};

// ---------------------------------------------------------------- pods

/// `ValidatePodCreate` / `ValidatePodUpdate`.
pub fn validate_pod(pod: &Value, old: Option<&Value>, errs: &mut Vec<FieldError>) {
    if let Some(old) = old {
        validate_object_meta_update(pod, old, errs);
    }
    let spec = sub(pod, "spec");
    let spec_path = Path::new("spec");
    validate_object_meta(pod, name_is_dns_subdomain, errs);
    let meta = sub(pod, "metadata");
    validate_pod_specific_annotations(meta, spec, &Path::new("metadata").child("annotations"), errs);
    validate_pod_spec(spec, Some(str_of(meta, "name")), &spec_path, PodOpts { resource_is_pod: true }, errs);
    if str_of(spec, "serviceAccountName").is_empty() {
        for (vi, vol) in arr(spec, "volumes").iter().enumerate() {
            let Some(projected) = get(vol, "projected") else { continue };
            for (si, source) in arr(projected, "sources").iter().enumerate() {
                if has(source, "serviceAccountToken") {
                    let p = spec_path.child("volumes").index(vi).child("projected").child("sources").index(si).child("serviceAccountToken");
                    errs.push(FieldError::forbidden(&p, "must not be specified when serviceAccountName is not set"));
                }
            }
        }
    }
    validate_containers_only_for_pod(spec, &spec_path, errs);
    match old {
        None => {
            if !arr(spec, "ephemeralContainers").is_empty() {
                errs.push(FieldError::forbidden(&spec_path.child("ephemeralContainers"), "cannot be set on create"));
            }
            if !str_of(spec, "nodeName").is_empty() && !arr(spec, "schedulingGates").is_empty() {
                errs.push(FieldError::forbidden(&spec_path.child("nodeName"), "cannot be set until all schedulingGates have been cleared"));
            }
        }
        Some(old) => validate_pod_update(pod, old, errs),
    }
}

fn validate_pod_update(pod: &Value, old: &Value, errs: &mut Vec<FieldError>) {
    let (nm, om) = (sub(pod, "metadata"), sub(old, "metadata"));
    let ann_path = Path::new("metadata").child("annotations");
    let mirror = "kubernetes.io/config.mirror";
    let (na, oa) = (obj(nm, "annotations"), obj(om, "annotations"));
    for (k, v) in oa.into_iter().flatten() {
        if na.and_then(|m| m.get(k)) == Some(v) {
            continue;
        }
        if k.starts_with("container.apparmor.security.beta.kubernetes.io/") {
            errs.push(FieldError::forbidden(&ann_path.key(k), "may not remove or update AppArmor annotations"));
        }
        if k == mirror {
            errs.push(FieldError::forbidden(&ann_path.key(k), "may not remove or update mirror pod annotation"));
        }
    }
    for k in na.into_iter().flatten().map(|(k, _)| k) {
        if oa.map(|m| m.contains_key(k)).unwrap_or(false) {
            continue;
        }
        if k.starts_with("container.apparmor.security.beta.kubernetes.io/") {
            errs.push(FieldError::forbidden(&ann_path.key(k), "may not add AppArmor annotations"));
        }
        if k == mirror {
            errs.push(FieldError::forbidden(&ann_path.key(k), "may not add mirror pod annotation"));
        }
    }
    let (spec, old_spec) = (sub(pod, "spec"), sub(old, "spec"));
    let spec_path = Path::new("spec");
    for key in ["containers", "initContainers"] {
        let (n, o) = (arr(spec, key), arr(old_spec, key));
        if n.len() != o.len() {
            errs.push(FieldError::forbidden(&spec_path.child(key), "pod updates may not add or remove containers"));
            return;
        }
        for (i, c) in n.iter().enumerate() {
            let image = str_of(c, "image");
            if image.is_empty() {
                errs.push(FieldError::required(&spec_path.child(key).index(i).child("image"), ""));
            }
            if image.trim() != image {
                errs.push(FieldError::invalid(&spec_path.child(key).index(i).child("image"), image, "must not have leading or trailing whitespace"));
            }
        }
    }
    let ads_path = spec_path.child("activeDeadlineSeconds");
    match (opt_int(spec, "activeDeadlineSeconds"), opt_int(old_spec, "activeDeadlineSeconds")) {
        (Some(n), old_ads) => {
            if n < 0 || n > i64::from(i32::MAX) {
                errs.push(FieldError::invalid(&ads_path, n, inclusive_range_error(0, i64::from(i32::MAX))));
                return;
            }
            if let Some(o) = old_ads {
                if o < n {
                    errs.push(FieldError::invalid(&ads_path, n, "must be less than or equal to previous value"));
                    return;
                }
            }
        }
        (None, Some(_)) => errs.push(FieldError::invalid(&ads_path, Value::Null, "must not update from a positive integer to nil value")),
        (None, None) => {}
    }
    // Tolerations: existing ones may only change their tolerationSeconds.
    let new_tols = arr(spec, "tolerations");
    for ot in arr(old_spec, "tolerations") {
        let strip = |t: &Value| {
            let mut t = t.clone();
            if let Some(m) = t.as_object_mut() {
                m.remove("tolerationSeconds");
            }
            t
        };
        if !new_tols.iter().any(|nt| semantic_eq(Some(&strip(nt)), Some(&strip(ot)))) {
            errs.push(FieldError::forbidden(&spec_path.child("tolerations"), "existing toleration can not be modified except its tolerationSeconds"));
            break;
        }
    }
    let old_gates: HashSet<&str> = arr(old_spec, "schedulingGates").iter().map(|g| str_of(g, "name")).collect();
    for (i, g) in arr(spec, "schedulingGates").iter().enumerate() {
        let name = str_of(g, "name");
        if !old_gates.contains(name) {
            errs.push(FieldError::forbidden(
                &spec_path.child("schedulingGates").index(i).child("name"),
                format!("only deletion is allowed, but found new scheduling gate '{name}'"),
            ));
        }
    }
    // Everything else must be unchanged once the updatable fields are set aside.
    let mut munged = spec.clone();
    if let Some(m) = munged.as_object_mut() {
        for key in ["containers", "initContainers"] {
            if let Some(list) = m.get_mut(key).and_then(Value::as_array_mut) {
                for (i, c) in list.iter_mut().enumerate() {
                    let old_image = arr(old_spec, key).get(i).map(|o| str_of(o, "image")).unwrap_or_default();
                    if let Some(cm) = c.as_object_mut() {
                        cm.insert("image".into(), Value::from(old_image));
                    }
                }
            }
        }
        for key in ["activeDeadlineSeconds", "schedulingGates", "tolerations"] {
            match old_spec.get(key) {
                Some(v) => m.insert(key.into(), v.clone()),
                None => m.remove(key),
            };
        }
        let old_grace = opt_int(old_spec, "terminationGracePeriodSeconds");
        if old_grace.map(|g| g < 0).unwrap_or(false) && opt_int(spec, "terminationGracePeriodSeconds") == Some(1) {
            m.insert("terminationGracePeriodSeconds".into(), Value::from(old_grace.unwrap_or(0)));
        }
        if !old_gates.is_empty() {
            // Gated pods may add node selectors.
            let (nsel, osel) = (obj(spec, "nodeSelector"), obj(old_spec, "nodeSelector"));
            if nsel != osel {
                let removed = osel.into_iter().flatten().any(|(k, v)| nsel.and_then(|n| n.get(k)) != Some(v));
                if removed {
                    errs.push(FieldError::invalid(
                        &spec_path.child("nodeSelector"),
                        nsel.map(|n| Value::Object(n.clone())).unwrap_or(Value::Null),
                        "only additions to spec.nodeSelector are allowed (no mutations or deletions)",
                    ));
                }
                match old_spec.get("nodeSelector") {
                    Some(v) => m.insert("nodeSelector".into(), v.clone()),
                    None => m.remove("nodeSelector"),
                };
            }
        }
    }
    if !semantic_eq(Some(&munged), Some(old_spec)) {
        errs.push(FieldError::forbidden(
            &spec_path,
            format!("pod updates may not change fields other than {UPDATABLE_POD_SPEC_FIELDS}\n{}", spec_diff("core.PodSpec", old_spec, &munged)),
        ));
    }
}

/// A short account of what changed between two specs, in the spirit of the
/// `cmp.Diff` upstream appends (its exact layout is not reproduced).
pub fn spec_diff(type_name: &str, old: &Value, new: &Value) -> String {
    let mut lines = vec![format!("  {type_name}{{")];
    let keys: Vec<&String> = {
        let mut k: Vec<&String> = old.as_object().into_iter().flatten().map(|(k, _)| k).collect();
        for nk in new.as_object().into_iter().flatten().map(|(k, _)| k) {
            if !k.contains(&nk) {
                k.push(nk);
            }
        }
        k
    };
    for k in keys {
        let (o, n) = (old.get(k), new.get(k));
        if semantic_eq(o, n) {
            continue;
        }
        let field = upper_first(k);
        if let Some(o) = o {
            lines.push(format!("- \t{field}: {},", o));
        }
        if let Some(n) = n {
            lines.push(format!("+ \t{field}: {},", n));
        }
    }
    lines.push("  }".to_string());
    lines.join("\n")
}

fn upper_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// `ValidatePodStatusUpdate`, the checks that matter for clients.
pub fn validate_pod_status(pod: &Value, old: &Value, errs: &mut Vec<FieldError>) {
    validate_object_meta_update(pod, old, errs);
    let status = sub(pod, "status");
    for (i, c) in arr(status, "conditions").iter().enumerate() {
        let t = str_of(c, "type");
        if !["PodScheduled", "Ready", "Initialized"].contains(&t) {
            qualified_name(t, &Path::new("metadata").child("conditions").index(i).child("Type"), errs);
        }
    }
    let sp = Path::new("status");
    if str_of(sub(pod, "spec"), "nodeName") != str_of(sub(old, "spec"), "nodeName") {
        errs.push(FieldError::forbidden(&sp.child("nodeName"), "may not be changed directly"));
    }
    let (nq, oq) = (str_of(status, "qosClass"), str_of(sub(old, "status"), "qosClass"));
    if nq != oq {
        errs.push(FieldError::invalid(&sp.child("qosClass"), nq, FIELD_IMMUTABLE));
    }
    for (i, ip) in arr(status, "podIPs").iter().enumerate() {
        let ip = str_of(ip, "ip");
        if parse_ip(ip).is_none() {
            errs.push(FieldError::invalid(&sp.child("podIPs").index(i), ip, INVALID_IP_MSG));
        }
    }
}

/// `ValidatePodTemplate` (the PodTemplate kind).
pub fn validate_pod_template(pt: &Value, old: Option<&Value>, errs: &mut Vec<FieldError>) {
    match old {
        None => validate_object_meta(pt, name_is_dns_subdomain, errs),
        Some(old) => validate_object_meta_update(pt, old, errs),
    }
    validate_pod_template_spec(sub(pt, "template"), &Path::new("template"), errs);
}

// ---------------------------------------------------------------- replication controllers

pub fn validate_replication_controller(rc: &Value, old: Option<&Value>, errs: &mut Vec<FieldError>) {
    match old {
        None => validate_object_meta(rc, name_is_dns_subdomain, errs),
        Some(old) => validate_object_meta_update(rc, old, errs),
    }
    let spec = sub(rc, "spec");
    let path = Path::new("spec");
    opt_non_negative(spec, "minReadySeconds", &path, errs);
    let selector = obj(spec, "selector");
    let sel = Selector::from_map(selector);
    if sel.is_empty() {
        errs.push(FieldError::required(&path.child("selector"), ""));
    }
    non_negative(int_of(spec, "replicas"), &path.child("replicas"), errs);
    let tp = path.child("template");
    match get(spec, "template") {
        None => errs.push(FieldError::required(&tp, "")),
        Some(template) => {
            let labels = obj(sub(template, "metadata"), "labels");
            if !sel.is_empty() && !sel.matches(labels) {
                errs.push(FieldError::invalid(&tp.child("metadata").child("labels"), labels_value(labels), "`selector` does not match template `labels`"));
            }
            validate_pod_template_spec(template, &tp, errs);
            check_template_restart_always(sub(template, "spec"), &tp.child("spec"), "ReplicationController", errs);
        }
    }
}

/// A labels map as a bad value (`map[string]string(nil)` when absent).
pub fn labels_value(labels: Option<&serde_json::Map<String, Value>>) -> Value {
    match labels {
        Some(m) => Value::Object(m.clone()),
        None => go_repr("map[string]string(nil)"),
    }
}

/// Workload templates must restart always and may not set a deadline.
pub fn check_template_restart_always(spec: &Value, path: &Path, kind: &str, errs: &mut Vec<FieldError>) {
    let rp = str_of(spec, "restartPolicy");
    if rp != "Always" {
        errs.push(FieldError::not_supported(&path.child("restartPolicy"), rp, &["Always"]));
    }
    if has(spec, "activeDeadlineSeconds") {
        errs.push(FieldError::forbidden(&path.child("activeDeadlineSeconds"), format!("activeDeadlineSeconds in {kind} is not Supported")));
    }
}

// ---------------------------------------------------------------- services

fn is_headless(spec: &Value) -> bool {
    let ips = arr(spec, "clusterIPs");
    ips.len() == 1 && ips[0].as_str() == Some("None")
}

fn string_list(v: &Value, key: &str) -> Value {
    Value::Array(arr(v, key).to_vec())
}

fn externally_accessible(spec: &Value) -> bool {
    let t = str_of(spec, "type");
    t == "LoadBalancer" || t == "NodePort" || (t == "ClusterIP" && !arr(spec, "externalIPs").is_empty())
}

fn go_service_port(protocol: &str, port: i64) -> String {
    format!(
        "core.ServicePort{{Name:\"\", Protocol:{}, AppProtocol:(*string)(nil), Port:{port}, TargetPort:{}, NodePort:0}}",
        go_quote(protocol),
        go_int_or_string(None)
    )
}

pub fn validate_service(svc: &Value, old: Option<&Value>, errs: &mut Vec<FieldError>) {
    let spec = sub(svc, "spec");
    let path = Path::new("spec");
    if let Some(old) = old {
        validate_object_meta_update(svc, old, errs);
        validate_service_update(spec, sub(old, "spec"), errs);
    }
    validate_object_meta(svc, name_is_dns1035_label, errs);
    let ann = obj(sub(svc, "metadata"), "annotations");
    let hints = ann.and_then(|a| a.get("service.kubernetes.io/topology-aware-hints")).and_then(Value::as_str);
    let mode = ann.and_then(|a| a.get("service.kubernetes.io/topology-mode")).and_then(Value::as_str);
    if let (Some(h), Some(m)) = (hints, mode) {
        if h != m {
            errs.push(FieldError::invalid(
                &Path::new("metadata").child("annotations").key("service.kubernetes.io/topology-mode"),
                m,
                "must match annotations[service.kubernetes.io/topology-aware-hints] when both are specified",
            ));
        }
    }
    let svc_type = str_of(spec, "type");
    let headless = is_headless(spec);
    let ports = arr(spec, "ports");
    if ports.is_empty() && !headless && svc_type != "ExternalName" {
        errs.push(FieldError::required(&path.child("ports"), ""));
    }
    let first_ip = arr(spec, "clusterIPs").first().and_then(Value::as_str).unwrap_or_default();
    match svc_type {
        "LoadBalancer" if headless => {
            errs.push(FieldError::invalid(&path.child("clusterIPs").index(0), first_ip, "may not be set to 'None' for LoadBalancer services"))
        }
        "NodePort" if headless => {
            errs.push(FieldError::invalid(&path.child("clusterIPs").index(0), first_ip, "may not be set to 'None' for NodePort services"))
        }
        "ExternalName" => {
            if !arr(spec, "clusterIPs").is_empty() {
                errs.push(FieldError::forbidden(&path.child("clusterIPs"), "may not be set for ExternalName services"));
            }
            if !arr(spec, "ipFamilies").is_empty() {
                errs.push(FieldError::forbidden(&path.child("ipFamilies"), "may not be set for ExternalName services"));
            }
            if has(spec, "ipFamilyPolicy") {
                errs.push(FieldError::forbidden(&path.child("ipFamilyPolicy"), "may not be set for ExternalName services"));
            }
            let cname = str_of(spec, "externalName");
            let cname = cname.strip_suffix('.').unwrap_or(cname);
            if cname.is_empty() {
                errs.push(FieldError::required(&path.child("externalName"), ""));
            } else {
                dns_subdomain(cname, &path.child("externalName"), errs);
            }
        }
        _ => {}
    }
    let mut port_names: HashSet<&str> = HashSet::new();
    for (i, sp) in ports.iter().enumerate() {
        let p = path.child("ports").index(i);
        let name = str_of(sp, "name");
        if ports.len() > 1 && name.is_empty() {
            errs.push(FieldError::required(&p.child("name"), ""));
        } else if !name.is_empty() {
            dns_label(name, &p.child("name"), errs);
            if !port_names.insert(name) {
                errs.push(FieldError::duplicate(&p.child("name"), name));
            }
        }
        let port = int_of(sp, "port");
        for m in is_valid_port_num(port) {
            errs.push(FieldError::invalid(&p.child("port"), port, m));
        }
        validate_protocol(str_of(sp, "protocol"), &p.child("protocol"), errs);
        validate_port_num_or_name(get(sp, "targetPort"), &p.child("targetPort"), errs);
        if let Some(ap) = opt_str(sp, "appProtocol") {
            qualified_name(ap, &p.child("appProtocol"), errs);
        }
    }
    validate_labels(obj(spec, "selector"), &path.child("selector"), errs);
    let affinity = str_of(spec, "sessionAffinity");
    if affinity.is_empty() {
        errs.push(FieldError::required(&path.child("sessionAffinity"), ""));
    } else if affinity != "ClientIP" && affinity != "None" {
        errs.push(FieldError::not_supported(&path.child("sessionAffinity"), affinity, &["ClientIP", "None"]));
    }
    let cfg_path = path.child("sessionAffinityConfig");
    if affinity == "ClientIP" {
        let timeout = get(spec, "sessionAffinityConfig").and_then(|c| get(c, "clientIP")).and_then(|c| get(c, "timeoutSeconds"));
        match (get(spec, "sessionAffinityConfig"), timeout) {
            (None, _) => errs.push(FieldError::required(&cfg_path, "when session affinity type is ClientIP")),
            (Some(c), _) if get(c, "clientIP").is_none() => {
                errs.push(FieldError::required(&cfg_path.child("clientIP"), "when session affinity type is ClientIP"))
            }
            (Some(_), None) => errs.push(FieldError::required(
                &cfg_path.child("clientIP").child("timeoutSeconds"),
                "when session affinity type is ClientIP",
            )),
            (Some(_), Some(t)) => {
                let t = t.as_i64().unwrap_or(0);
                if t <= 0 || t > 86400 {
                    errs.push(FieldError::invalid(&cfg_path.child("clientIP").child("timeoutSeconds"), t, "must be greater than 0 and less than 86400"));
                }
            }
        }
    } else if affinity == "None" && has(spec, "sessionAffinityConfig") {
        errs.push(FieldError::forbidden(&cfg_path, "must not be set when session affinity is None"));
    }
    validate_cluster_ips(spec, errs);
    for (i, ip) in arr(spec, "externalIPs").iter().enumerate() {
        let ip = ip.as_str().unwrap_or_default();
        let p = path.child("externalIPs").index(i);
        if parse_ip(ip).is_none() {
            errs.push(FieldError::invalid(&p, ip, INVALID_IP_MSG));
        } else {
            validate_non_special_ip(ip, &p, errs);
        }
    }
    const TYPES: [&str; 4] = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"];
    if svc_type.is_empty() {
        errs.push(FieldError::required(&path.child("type"), ""));
    } else if !TYPES.contains(&svc_type) {
        errs.push(FieldError::not_supported(&path.child("type"), svc_type, &TYPES));
    }
    if svc_type == "ClusterIP" {
        for (i, sp) in ports.iter().enumerate() {
            if int_of(sp, "nodePort") != 0 {
                errs.push(FieldError::forbidden(&path.child("ports").index(i).child("nodePort"), "may not be used when `type` is 'ClusterIP'"));
            }
        }
    }
    let mut node_ports: HashSet<(String, i64)> = HashSet::new();
    for (i, sp) in ports.iter().enumerate() {
        let np = int_of(sp, "nodePort");
        if np != 0 && !node_ports.insert((str_of(sp, "protocol").to_string(), np)) {
            errs.push(FieldError::duplicate(&path.child("ports").index(i).child("nodePort"), np));
        }
    }
    let mut seen_ports: HashSet<(String, i64)> = HashSet::new();
    for (i, sp) in ports.iter().enumerate() {
        let (proto, port) = (str_of(sp, "protocol"), int_of(sp, "port"));
        if !seen_ports.insert((proto.to_string(), port)) {
            errs.push(FieldError::duplicate(&path.child("ports").index(i), go_repr(go_service_port(proto, port))));
        }
    }
    let ranges = arr(spec, "loadBalancerSourceRanges");
    if !ranges.is_empty() {
        let fp = path.child("LoadBalancerSourceRanges");
        if svc_type != "LoadBalancer" {
            errs.push(FieldError::forbidden(&fp, "may only be used when `type` is 'LoadBalancer'"));
        }
        for (i, r) in ranges.iter().enumerate() {
            let r = r.as_str().unwrap_or_default().trim();
            if !is_valid_cidr(r) {
                errs.push(FieldError::invalid(&fp.index(i), r, INVALID_CIDR_MSG));
            }
        }
    }
    if has(spec, "allocateLoadBalancerNodePorts") && svc_type != "LoadBalancer" {
        errs.push(FieldError::forbidden(&path.child("allocateLoadBalancerNodePorts"), "may only be used when `type` is 'LoadBalancer'"));
    }
    if svc_type == "LoadBalancer" && !has(spec, "allocateLoadBalancerNodePorts") {
        errs.push(FieldError::required(&Path::new("allocateLoadBalancerNodePorts"), ""));
    }
    if let Some(class) = opt_str(spec, "loadBalancerClass") {
        if svc_type == "LoadBalancer" {
            qualified_name(class, &path.child("loadBalancerClass"), errs);
        } else {
            errs.push(FieldError::forbidden(&path.child("loadBalancerClass"), "may only be used when `type` is 'LoadBalancer'"));
        }
    }
    let etp = str_of(spec, "externalTrafficPolicy");
    if !externally_accessible(spec) {
        if !etp.is_empty() {
            errs.push(FieldError::invalid(&path.child("externalTrafficPolicy"), etp, "may only be set for externally-accessible services"));
        }
    } else if etp.is_empty() {
        errs.push(FieldError::required(&path.child("externalTrafficPolicy"), ""));
    } else if etp != "Cluster" && etp != "Local" {
        errs.push(FieldError::not_supported(&path.child("externalTrafficPolicy"), etp, &["Cluster", "Local"]));
    }
    let hc = int_of(spec, "healthCheckNodePort");
    if !(svc_type == "LoadBalancer" && etp == "Local") {
        if hc != 0 {
            errs.push(FieldError::invalid(
                &path.child("healthCheckNodePort"),
                hc,
                "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
            ));
        }
    } else if hc == 0 {
        errs.push(FieldError::required(&path.child("healthCheckNodePort"), ""));
    } else {
        for m in is_valid_port_num(hc) {
            errs.push(FieldError::invalid(&path.child("healthCheckNodePort"), hc, m));
        }
    }
    match opt_str(spec, "internalTrafficPolicy") {
        None => {
            if ["NodePort", "LoadBalancer", "ClusterIP"].contains(&svc_type) {
                errs.push(FieldError::required(&path.child("internalTrafficPolicy"), ""));
            }
        }
        Some(p) if p != "Cluster" && p != "Local" => {
            errs.push(FieldError::not_supported(&path.child("internalTrafficPolicy"), p, &["Cluster", "Local"]))
        }
        _ => {}
    }
    if let Some(td) = opt_str(spec, "trafficDistribution") {
        if td != "PreferClose" {
            errs.push(FieldError::not_supported(&path.child("trafficDistribution"), td, &["PreferClose"]));
        }
    }
}

fn validate_non_special_ip(ip: &str, path: &Path, errs: &mut Vec<FieldError>) {
    let Some(addr) = parse_ip(ip) else {
        errs.push(FieldError::invalid(path, ip, "must be a valid IP address"));
        return;
    };
    if addr.is_unspecified() {
        errs.push(FieldError::invalid(path, ip, format!("may not be unspecified ({ip})")));
    }
    if addr.is_loopback() {
        errs.push(FieldError::invalid(path, ip, "may not be in the loopback range (127.0.0.0/8, ::1/128)"));
    }
    let link_local = match addr {
        std::net::IpAddr::V4(a) => a.is_link_local(),
        std::net::IpAddr::V6(a) => (a.segments()[0] & 0xffc0) == 0xfe80,
    };
    if link_local {
        errs.push(FieldError::invalid(path, ip, "may not be in the link-local range (169.254.0.0/16, fe80::/10)"));
    }
    let ll_multicast = match addr {
        std::net::IpAddr::V4(a) => a.octets()[0] == 224 && a.octets()[1] == 0 && a.octets()[2] == 0,
        std::net::IpAddr::V6(a) => (a.segments()[0] & 0xff0f) == 0xff02,
    };
    if ll_multicast {
        errs.push(FieldError::invalid(path, ip, "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"));
    }
}

/// `ValidateServiceClusterIPsRelatedFields`.
fn validate_cluster_ips(spec: &Value, errs: &mut Vec<FieldError>) {
    if str_of(spec, "type") == "ExternalName" {
        return;
    }
    let path = Path::new("spec");
    let ips_path = path.child("clusterIPs");
    let cluster_ip = str_of(spec, "clusterIP");
    let ips: Vec<&str> = arr(spec, "clusterIPs").iter().map(|v| v.as_str().unwrap_or_default()).collect();
    if !cluster_ip.is_empty() {
        if ips.is_empty() {
            errs.push(FieldError::required(&ips_path, ""));
        } else if ips[0] != cluster_ip {
            errs.push(FieldError::invalid(&ips_path, string_list(spec, "clusterIPs"), "first value must match `clusterIP`"));
        }
    } else if !ips.is_empty() {
        errs.push(FieldError::invalid(&ips_path, string_list(spec, "clusterIPs"), "must be empty when `clusterIP` is not specified"));
    }
    let families: Vec<&str> = arr(spec, "ipFamilies").iter().map(|v| v.as_str().unwrap_or_default()).collect();
    let mut seen: HashSet<&str> = HashSet::new();
    for (i, f) in families.iter().enumerate() {
        if *f != "IPv4" && *f != "IPv6" {
            errs.push(FieldError::not_supported(&path.child("ipFamilies").index(i), *f, &["IPv4", "IPv6"]));
        }
        if !seen.insert(f) {
            errs.push(FieldError::duplicate(&path.child("ipFamilies").index(i), *f));
        }
    }
    if let Some(pol) = opt_str(spec, "ipFamilyPolicy") {
        const POLICIES: [&str; 3] = ["PreferDualStack", "RequireDualStack", "SingleStack"];
        if !POLICIES.contains(&pol) {
            errs.push(FieldError::not_supported(&path.child("ipFamilyPolicy"), pol, &POLICIES));
        }
    }
    let mut invalid = false;
    for (i, ip) in ips.iter().enumerate() {
        if i == 0 && *ip == "None" {
            if ips.len() > 1 {
                invalid = true;
                errs.push(FieldError::invalid(&ips_path, string_list(spec, "clusterIPs"), "'None' must be the first and only value"));
            }
            continue;
        }
        if parse_ip(ip).is_none() {
            invalid = true;
            errs.push(FieldError::invalid(&ips_path.index(i), *ip, INVALID_IP_MSG));
        }
    }
    if ips.len() > 2 {
        errs.push(FieldError::invalid(&ips_path, string_list(spec, "clusterIPs"), "may only hold up to 2 values"));
    }
    if invalid {
        return;
    }
    if ips.len() > 1 {
        let v6: Vec<bool> = ips.iter().map(|ip| parse_ip(ip).map(|a| a.is_ipv6()).unwrap_or(false)).collect();
        if v6.iter().all(|x| *x) || v6.iter().all(|x| !*x) {
            errs.push(FieldError::invalid(&ips_path, string_list(spec, "clusterIPs"), "may specify no more than one IP for each IP family"));
        }
    }
    if !is_headless(spec) {
        for (i, ip) in ips.iter().enumerate() {
            let Some(f) = families.get(i) else { break };
            let is_v6 = parse_ip(ip).map(|a| a.is_ipv6()).unwrap_or(false);
            if *f == "IPv4" && is_v6 {
                errs.push(FieldError::invalid(&ips_path.index(i), *ip, format!("expected an IPv4 value as indicated by `ipFamilies[{i}]`")));
            }
            if *f == "IPv6" && !is_v6 {
                errs.push(FieldError::invalid(&ips_path.index(i), *ip, format!("expected an IPv6 value as indicated by `ipFamilies[{i}]`")));
            }
        }
    }
}

fn validate_service_update(spec: &Value, old: &Value, errs: &mut Vec<FieldError>) {
    let path = Path::new("spec");
    let external = str_of(spec, "type") == "ExternalName" || str_of(old, "type") == "ExternalName";
    let (new_h, old_h) = (is_headless(spec), is_headless(old));
    let ips: Vec<&str> = arr(spec, "clusterIPs").iter().map(|v| v.as_str().unwrap_or_default()).collect();
    let old_ips: Vec<&str> = arr(old, "clusterIPs").iter().map(|v| v.as_str().unwrap_or_default()).collect();
    let ips_val = string_list(spec, "clusterIPs");
    let single_stack = opt_str(spec, "ipFamilyPolicy") == Some("SingleStack");
    let policy_val = opt_str(spec, "ipFamilyPolicy").map(Value::from).unwrap_or(Value::Null);
    if !(external || new_h && old_h) {
        if ips.len() == old_ips.len() {
            for (i, ip) in old_ips.iter().enumerate() {
                if ips.get(i) != Some(ip) {
                    errs.push(FieldError::invalid(&path.child("clusterIPs").index(i), ips_val.clone(), "may not change once set"));
                }
            }
        } else if old_ips.len() > ips.len() {
            if ips.is_empty() {
                errs.push(FieldError::invalid(&path.child("clusterIPs").index(0), ips_val.clone(), "primary clusterIP can not be unset"));
            }
            if !ips.is_empty() && !old_ips.is_empty() && ips[0] != old_ips[0] {
                errs.push(FieldError::invalid(&path.child("clusterIPs").index(0), ips_val.clone(), "may not change once set"));
            }
            if ips.len() == 1 && !single_stack {
                errs.push(FieldError::invalid(&path.child("ipFamilyPolicy"), policy_val.clone(), "must be set to 'SingleStack' when releasing the secondary clusterIP"));
            }
        } else if !old_ips.is_empty() && ips[0] != old_ips[0] {
            errs.push(FieldError::invalid(&path.child("clusterIPs").index(0), ips_val.clone(), "may not change once set"));
        }
    }
    let fams: Vec<&str> = arr(spec, "ipFamilies").iter().map(|v| v.as_str().unwrap_or_default()).collect();
    let old_fams: Vec<&str> = arr(old, "ipFamilies").iter().map(|v| v.as_str().unwrap_or_default()).collect();
    let fams_val = string_list(spec, "ipFamilies");
    if !external && new_h == old_h && !new_h {
        if fams.len() == old_fams.len() {
            for (i, f) in old_fams.iter().enumerate() {
                if fams.get(i) != Some(f) {
                    errs.push(FieldError::invalid(&path.child("ipFamilies").index(0), fams_val.clone(), "may not change once set"));
                }
            }
        } else if old_fams.len() > fams.len() {
            if ips.is_empty() {
                errs.push(FieldError::invalid(&path.child("ipFamilies").index(0), fams_val.clone(), "primary ipFamily can not be unset"));
            }
            if !fams.is_empty() && fams[0] != old_fams[0] {
                errs.push(FieldError::invalid(&path.child("ipFamilies").index(0), ips_val.clone(), "may not change once set"));
            }
            if fams.len() == 1 && !single_stack {
                errs.push(FieldError::invalid(&path.child("ipFamilyPolicy"), policy_val, "must be set to 'SingleStack' when releasing the secondary ipFamily"));
            }
        } else if !old_fams.is_empty() && !fams.is_empty() && fams[0] != old_fams[0] {
            errs.push(FieldError::invalid(&path.child("ipFamilies").index(0), ips_val, "may not change once set"));
        }
    }
    if str_of(spec, "type") == "LoadBalancer" && str_of(old, "type") == "LoadBalancer" && opt_str(spec, "loadBalancerClass") != opt_str(old, "loadBalancerClass") {
        let shown = opt_str(spec, "loadBalancerClass").map(Value::from).unwrap_or(Value::Null);
        errs.push(FieldError::invalid(&path.child("loadBalancerClass"), shown, "may not change once set"));
    }
    let needs_hc = |s: &Value| str_of(s, "type") == "LoadBalancer" && str_of(s, "externalTrafficPolicy") == "Local";
    if needs_hc(spec) && needs_hc(old) && int_of(spec, "healthCheckNodePort") != int_of(old, "healthCheckNodePort") {
        errs.push(FieldError::forbidden(&path.child("healthCheckNodePort"), FIELD_IMMUTABLE));
    }
}

// ---------------------------------------------------------------- config and secrets

const MAX_SECRET_SIZE: usize = 1024 * 1024;

pub fn validate_config_map(cm: &Value, old: Option<&Value>, errs: &mut Vec<FieldError>) {
    if let Some(old) = old {
        validate_object_meta_update(cm, old, errs);
        if opt_bool(old, "immutable") == Some(true) {
            if opt_bool(cm, "immutable") != Some(true) {
                errs.push(FieldError::forbidden(&Path::new("immutable"), "field is immutable when `immutable` is set"));
            }
            for key in ["data", "binaryData"] {
                if !semantic_eq(get(cm, key), get(old, key)) {
                    errs.push(FieldError::forbidden(&Path::new(key), "field is immutable when `immutable` is set"));
                }
            }
        }
    }
    validate_object_meta(cm, name_is_dns_subdomain, errs);
    let mut total = 0;
    let binary = obj(cm, "binaryData");
    for (k, v) in entries(cm, "data") {
        let p = Path::new("data").key(k);
        for m in is_config_map_key(k) {
            errs.push(FieldError::invalid(&p, k.as_str(), m));
        }
        if binary.map(|b| b.contains_key(k)).unwrap_or(false) {
            errs.push(FieldError::invalid(&p, k.as_str(), "duplicate of key present in binaryData"));
        }
        total += v.as_str().map(str::len).unwrap_or(0);
    }
    for (k, v) in entries(cm, "binaryData") {
        for m in is_config_map_key(k) {
            errs.push(FieldError::invalid(&Path::new("binaryData").key(k), k.as_str(), m));
        }
        total += decoded_len(v);
    }
    if total > MAX_SECRET_SIZE {
        errs.push(FieldError::too_long(&Path::new(""), MAX_SECRET_SIZE));
    }
}

/// The byte length of a base64 field once decoded.
fn decoded_len(v: &Value) -> usize {
    let s = v.as_str().unwrap_or_default();
    let pad = s.bytes().rev().take_while(|c| *c == b'=').count();
    ((s.len() / 4) * 3).saturating_sub(pad.min(2))
}

pub fn validate_secret(secret: &Value, old: Option<&Value>, errs: &mut Vec<FieldError>) {
    if let Some(old) = old {
        validate_object_meta_update(secret, old, errs);
        let (nt, ot) = (str_of(secret, "type"), str_of(old, "type"));
        if nt != ot {
            errs.push(FieldError::invalid(&Path::new("type"), nt, FIELD_IMMUTABLE));
        }
        if opt_bool(old, "immutable") == Some(true) {
            if opt_bool(secret, "immutable") != Some(true) {
                errs.push(FieldError::forbidden(&Path::new("immutable"), "field is immutable when `immutable` is set"));
            }
            if !semantic_eq(get(secret, "data"), get(old, "data")) {
                errs.push(FieldError::forbidden(&Path::new("data"), "field is immutable when `immutable` is set"));
            }
        }
    }
    validate_object_meta(secret, name_is_dns_subdomain, errs);
    let data_path = Path::new("data");
    let mut total = 0;
    for (k, v) in entries(secret, "data") {
        for m in is_config_map_key(k) {
            errs.push(FieldError::invalid(&data_path.key(k), k.as_str(), m));
        }
        total += decoded_len(v);
    }
    if total > MAX_SECRET_SIZE {
        errs.push(FieldError::too_long(&data_path, MAX_SECRET_SIZE));
    }
    let data = obj(secret, "data");
    let has_key = |k: &str| data.map(|d| d.contains_key(k)).unwrap_or(false);
    let nonempty = |k: &str| data.and_then(|d| d.get(k)).and_then(Value::as_str).map(|s| !s.is_empty()).unwrap_or(false);
    match str_of(secret, "type") {
        "kubernetes.io/service-account-token" => {
            let name = obj(sub(secret, "metadata"), "annotations").and_then(|a| a.get("kubernetes.io/service-account.name")).and_then(Value::as_str);
            if name.map(str::is_empty).unwrap_or(true) {
                errs.push(FieldError::required(&Path::new("metadata").child("annotations").key("kubernetes.io/service-account.name"), ""));
            }
        }
        "kubernetes.io/dockercfg" => {
            if !has_key(".dockercfg") {
                errs.push(FieldError::required(&data_path.key(".dockercfg"), ""));
            }
        }
        "kubernetes.io/dockerconfigjson" => {
            if !has_key(".dockerconfigjson") {
                errs.push(FieldError::required(&data_path.key(".dockerconfigjson"), ""));
            }
        }
        "kubernetes.io/basic-auth" => {
            if !has_key("username") && !has_key("password") {
                errs.push(FieldError::required(&data_path.key("username"), ""));
                errs.push(FieldError::required(&data_path.key("password"), ""));
            }
        }
        "kubernetes.io/ssh-auth" => {
            if !nonempty("ssh-privatekey") {
                errs.push(FieldError::required(&data_path.key("ssh-privatekey"), ""));
            }
        }
        "kubernetes.io/tls" => {
            if !has_key("tls.crt") {
                errs.push(FieldError::required(&data_path.key("tls.crt"), ""));
            }
            if !has_key("tls.key") {
                errs.push(FieldError::required(&data_path.key("tls.key"), ""));
            }
        }
        _ => {}
    }
}

pub fn validate_service_account(sa: &Value, old: Option<&Value>, errs: &mut Vec<FieldError>) {
    if let Some(old) = old {
        validate_object_meta_update(sa, old, errs);
    }
    validate_object_meta(sa, name_is_dns_subdomain, errs);
}

// ---------------------------------------------------------------- namespaces and nodes

pub fn validate_namespace(ns: &Value, old: Option<&Value>, errs: &mut Vec<FieldError>) {
    if let Some(old) = old {
        // Updates only check metadata upstream; spec.finalizers moves via /finalize.
        validate_object_meta_update(ns, old, errs);
        return;
    }
    validate_object_meta(ns, name_is_dns_label, errs);
    let p = Path::new("spec").child("finalizers");
    for f in arr(sub(ns, "spec"), "finalizers") {
        let f = f.as_str().unwrap_or_default();
        for m in is_qualified_name(f) {
            errs.push(FieldError::invalid(&p, f, m));
        }
        validate_kube_finalizer_name(f, &p, errs);
    }
}

pub fn validate_namespace_status(ns: &Value, old: &Value, errs: &mut Vec<FieldError>) {
    validate_object_meta_update(ns, old, errs);
    let phase = str_of(sub(ns, "status"), "phase");
    let p = Path::new("status").child("Phase");
    if get(sub(ns, "metadata"), "deletionTimestamp").is_none() {
        if phase != "Active" {
            errs.push(FieldError::invalid(&p, phase, "may only be 'Active' if `deletionTimestamp` is empty"));
        }
    } else if phase != "Terminating" {
        errs.push(FieldError::invalid(&p, phase, "may only be 'Terminating' if `deletionTimestamp` is not empty"));
    }
}

fn validate_node_taints(taints: &[Value], path: &Path, errs: &mut Vec<FieldError>) {
    let mut unique: HashSet<(String, String)> = HashSet::new();
    for (i, t) in taints.iter().enumerate() {
        let p = path.index(i);
        let (key, value, effect) = (str_of(t, "key"), str_of(t, "value"), str_of(t, "effect"));
        validate_label_name(key, &p.child("key"), errs);
        let msgs = is_valid_label_value(value);
        if !msgs.is_empty() {
            errs.push(FieldError::invalid(&p.child("value"), value, msgs.join(";")));
        }
        validate_taint_effect(effect, false, &p.child("effect"), errs);
        if !unique.insert((effect.to_string(), key.to_string())) {
            let mut e = FieldError::duplicate(
                &p,
                go_repr(format!("core.Taint{{Key:{}, Value:{}, Effect:{}, TimeAdded:<nil>}}", go_quote(key), go_quote(value), go_quote(effect))),
            );
            e.detail = "taints must be unique by key and effect pair".to_string();
            errs.push(e);
        }
    }
}

fn validate_node_resources(node: &Value, errs: &mut Vec<FieldError>) {
    let status = sub(node, "status");
    for key in ["capacity", "allocatable"] {
        for (k, v) in entries(status, key) {
            // Upstream joins these with dots, not brackets.
            let p = Path::new("status").child(key).child(k);
            if let Some(q) = quantity_at(v, &p, errs) {
                validate_resource_quantity(k, &q, &p, errs);
            }
        }
    }
}

pub fn validate_node(node: &Value, old: Option<&Value>, errs: &mut Vec<FieldError>) {
    let spec = sub(node, "spec");
    // Upstream files node taints under metadata, a long-standing quirk.
    let taints_path = Path::new("metadata").child("taints");
    let Some(old) = old else {
        validate_object_meta(node, name_is_dns_subdomain, errs);
        validate_node_taints(arr(spec, "taints"), &taints_path, errs);
        validate_node_resources(node, errs);
        validate_pod_cidrs(spec, errs);
        return;
    };
    validate_object_meta_update(node, old, errs);
    validate_node_resources(node, errs);
    let mut seen: Vec<&Value> = Vec::new();
    for (i, a) in arr(sub(node, "status"), "addresses").iter().enumerate() {
        if seen.contains(&a) {
            errs.push(FieldError::duplicate(
                &Path::new("status").child("addresses").index(i),
                go_repr(format!("core.NodeAddress{{Type:{}, Address:{}}}", go_quote(str_of(a, "type")), go_quote(str_of(a, "address")))),
            ));
        }
        seen.push(a);
    }
    let old_spec = sub(old, "spec");
    let old_cidrs = arr(old_spec, "podCIDRs");
    if !old_cidrs.is_empty() {
        let new_cidrs = arr(spec, "podCIDRs");
        let msg = "node updates may not change podCIDR except from \"\" to valid";
        if old_cidrs.len() != new_cidrs.len() {
            errs.push(FieldError::forbidden(&Path::new("spec").child("podCIDRs"), msg));
        } else {
            for (o, n) in old_cidrs.iter().zip(new_cidrs) {
                if o != n {
                    errs.push(FieldError::forbidden(&Path::new("spec").child("podCIDRs"), msg));
                }
            }
        }
    }
    let old_provider = str_of(old_spec, "providerID");
    if !old_provider.is_empty() && old_provider != str_of(spec, "providerID") {
        errs.push(FieldError::forbidden(&Path::new("spec").child("providerID"), "node updates may not change providerID except from \"\" to valid"));
    }
    validate_node_taints(arr(spec, "taints"), &taints_path, errs);
    if str_of(spec, "externalID") != str_of(old_spec, "externalID") {
        errs.push(FieldError::forbidden(&Path::new("spec").child("externalID"), "may not be updated"));
    }
}

fn validate_pod_cidrs(spec: &Value, errs: &mut Vec<FieldError>) {
    let cidrs = arr(spec, "podCIDRs");
    let p = Path::new("spec").child("podCIDRs");
    for (i, c) in cidrs.iter().enumerate() {
        let c = c.as_str().unwrap_or_default();
        if !is_valid_cidr(c) {
            errs.push(FieldError::invalid(&p.index(i), c, INVALID_CIDR_MSG));
        }
    }
    if cidrs.len() > 1 {
        let mut seen: HashSet<&str> = HashSet::new();
        for (i, c) in cidrs.iter().enumerate() {
            let c = c.as_str().unwrap_or_default();
            if !seen.insert(c) {
                errs.push(FieldError::duplicate(&p.index(i), c));
            }
        }
    }
}

// ---------------------------------------------------------------- storage

const ACCESS_MODES: [&str; 4] = ["ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"];

fn validate_access_modes(spec: &Value, path: &Path, required_detail: &str, errs: &mut Vec<FieldError>) {
    let modes = arr(spec, "accessModes");
    if modes.is_empty() {
        errs.push(FieldError::required(&path.child("accessModes"), required_detail));
    }
    let (mut rwop, mut other) = (false, false);
    for m in modes {
        let m = m.as_str().unwrap_or_default();
        if !ACCESS_MODES.contains(&m) {
            errs.push(FieldError::not_supported(&path.child("accessModes"), m, &ACCESS_MODES));
        }
        if m == "ReadWriteOncePod" {
            rwop = true;
        } else if ACCESS_MODES.contains(&m) {
            other = true;
        }
    }
    if rwop && other {
        errs.push(FieldError::forbidden(&path.child("accessModes"), "may not use ReadWriteOncePod with other access modes"));
    }
}

fn validate_class_name(spec: &Value, key: &str, path: &Path, errs: &mut Vec<FieldError>) {
    if let Some(name) = opt_str(spec, key).filter(|n| !n.is_empty()) {
        for m in name_is_dns_subdomain(name, false) {
            errs.push(FieldError::invalid(&path.child(key), name, m));
        }
    }
}

/// `ValidatePersistentVolumeClaimSpec`.
pub fn validate_pvc_spec(spec: &Value, path: &Path, errs: &mut Vec<FieldError>) {
    if arr(spec, "accessModes").is_empty() {
        errs.push(FieldError::required(&path.child("accessModes"), "at least 1 access mode is required"));
    }
    validate_label_selector(get(spec, "selector"), &path.child("selector"), errs);
    let mut tmp = Vec::new();
    validate_access_modes(spec, path, "", &mut tmp);
    // The empty-list case was reported above with upstream's PVC wording.
    errs.extend(tmp.into_iter().filter(|e| e.error_type != super::field_error::ErrorType::Required));
    let storage_path = path.child("resources").key("storage");
    match at_storage(spec) {
        None => errs.push(FieldError::required(&storage_path, "")),
        Some(v) => {
            if let Some(q) = quantity_at(v, &storage_path, errs) {
                if q <= Quantity::default() {
                    errs.push(FieldError::invalid(&storage_path, q.to_string(), "must be greater than zero"));
                } else {
                    validate_resource_quantity("storage", &q, &storage_path, errs);
                }
            }
        }
    }
    validate_class_name(spec, "storageClassName", path, errs);
    if let Some(vm) = opt_str(spec, "volumeMode") {
        if vm != "Block" && vm != "Filesystem" {
            errs.push(FieldError::not_supported(&path.child("volumeMode"), vm, &["Block", "Filesystem"]));
        }
    }
    for key in ["dataSource", "dataSourceRef"] {
        let Some(ds) = get(spec, key) else { continue };
        let p = path.child(key);
        if str_of(ds, "name").is_empty() {
            errs.push(FieldError::required(&p.child("name"), ""));
        }
        let kind = str_of(ds, "kind");
        if kind.is_empty() {
            errs.push(FieldError::required(&p.child("kind"), ""));
        }
        let group = str_of(ds, "apiGroup");
        if group.is_empty() && kind != "PersistentVolumeClaim" {
            errs.push(FieldError::invalid(&p, kind, "must be 'PersistentVolumeClaim' when referencing the default apiGroup"));
        }
        if !group.is_empty() {
            for m in is_dns1123_subdomain(group) {
                errs.push(FieldError::invalid(&p.child("apiGroup"), group, m));
            }
        }
    }
    validate_class_name(spec, "volumeAttributesClassName", path, errs);
}

fn at_storage(spec: &Value) -> Option<&Value> {
    super::json::at(spec, &["resources", "requests", "storage"])
}

pub fn validate_pvc(pvc: &Value, old: Option<&Value>, errs: &mut Vec<FieldError>) {
    if let Some(old) = old {
        validate_object_meta_update(pvc, old, errs);
    }
    validate_object_meta(pvc, name_is_dns_subdomain, errs);
    let spec = sub(pvc, "spec");
    validate_pvc_spec(spec, &Path::new("spec"), errs);
    let Some(old) = old else { return };
    let old_spec = sub(old, "spec");
    let mut new_clone = spec.clone();
    let mut old_clone = old_spec.clone();
    if str_of(old_spec, "volumeName").is_empty() {
        // The volume name may be set once, by the binder.
        if let (Some(o), Some(v)) = (old_clone.as_object_mut(), spec.get("volumeName")) {
            o.insert("volumeName".into(), v.clone());
        }
    }
    if opt_str(old_spec, "storageClassName").is_none() && opt_str(spec, "storageClassName").is_some() {
        if let (Some(o), Some(v)) = (old_clone.as_object_mut(), spec.get("storageClassName")) {
            o.insert("storageClassName".into(), v.clone());
        }
    }
    if str_of(sub(pvc, "status"), "phase") == "Bound" {
        if let (Some(n), Some(o)) = (new_clone.as_object_mut(), at_storage(old_spec)) {
            if let Some(req) = n.get_mut("resources").and_then(|r| r.get_mut("requests")).and_then(Value::as_object_mut) {
                req.insert("storage".into(), o.clone());
            }
        }
        if let Some(n) = new_clone.as_object_mut() {
            match old_spec.get("volumeAttributesClassName") {
                Some(v) => n.insert("volumeAttributesClassName".into(), v.clone()),
                None => n.remove("volumeAttributesClassName"),
            };
        }
    }
    if !semantic_eq(Some(&new_clone), Some(&old_clone)) {
        errs.push(FieldError::forbidden(
            &Path::new("spec"),
            format!(
                "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims\n{}",
                spec_diff("core.PersistentVolumeClaimSpec", &old_clone, &new_clone)
            ),
        ));
    }
    let size = |s: &Value| at_storage(s).and_then(quantity::from_json).and_then(Result::ok).unwrap_or_default();
    let (new_size, old_size) = (size(spec), size(old_spec));
    if new_size < old_size {
        let status_size = super::json::at(old, &["status", "capacity", "storage"])
            .and_then(quantity::from_json)
            .and_then(Result::ok)
            .unwrap_or_default();
        if new_size <= status_size {
            errs.push(FieldError::forbidden(&Path::new("spec").child("resources").child("requests").child("storage"), "field can not be less than status.capacity"));
        }
    }
    let (nm, om) = (opt_str(spec, "volumeMode"), opt_str(old_spec, "volumeMode"));
    if nm != om {
        errs.push(FieldError::invalid(&Path::new("volumeMode"), nm.map(Value::from).unwrap_or(Value::Null), FIELD_IMMUTABLE));
    }
}

const PV_SOURCES: [&str; 21] = [
    "hostPath",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "glusterfs",
    "flocker",
    "nfs",
    "rbd",
    "quobyte",
    "cephfs",
    "iscsi",
    "cinder",
    "fc",
    "flexVolume",
    "azureFile",
    "vsphereVolume",
    "photonPersistentDisk",
    "portworxVolume",
    "azureDisk",
    "scaleIO",
    "local",
    "storageos",
];

pub fn validate_pv(pv: &Value, old: Option<&Value>, errs: &mut Vec<FieldError>) {
    validate_object_meta(pv, name_is_dns_subdomain, errs);
    let spec = sub(pv, "spec");
    let path = Path::new("spec");
    validate_access_modes(spec, &path, "", errs);
    let capacity = obj(spec, "capacity");
    if capacity.map(|c| c.is_empty()).unwrap_or(true) {
        errs.push(FieldError::required(&path.child("capacity"), ""));
    }
    if !capacity.map(|c| c.contains_key("storage")).unwrap_or(false) || capacity.map(|c| c.len()).unwrap_or(0) > 1 {
        errs.push(FieldError::not_supported(
            &path.child("capacity"),
            capacity.map(|c| go_repr(format!("core.ResourceList{{{}}}", c.keys().map(|k| go_quote(k)).collect::<Vec<_>>().join(", ")))).unwrap_or(go_repr("core.ResourceList(nil)")),
            &["storage"],
        ));
    }
    for (k, v) in entries(spec, "capacity") {
        let p = path.child("capacity").key(k);
        if let Some(q) = quantity_at(v, &p, errs) {
            if q.is_negative() {
                errs.push(FieldError::invalid(&p, q.value(), "must be a valid resource quantity"));
            }
            if q <= Quantity::default() {
                errs.push(FieldError::invalid(&p, q.to_string(), "must be greater than zero"));
            }
        }
    }
    let policy = str_of(spec, "persistentVolumeReclaimPolicy");
    if !policy.is_empty() && !["Delete", "Recycle", "Retain"].contains(&policy) {
        errs.push(FieldError::not_supported(&path.child("persistentVolumeReclaimPolicy"), policy, &["Delete", "Recycle", "Retain"]));
    }
    let mut node_affinity = false;
    if let Some(na) = get(spec, "nodeAffinity") {
        node_affinity = true;
        match get(na, "required") {
            Some(r) => validate_node_selector(r, false, &path.child("nodeAffinity").child("required"), errs),
            None => errs.push(FieldError::required(&path.child("nodeAffinity").child("required"), "must specify required node constraints")),
        }
    }
    let mut count = 0;
    for kind in PV_SOURCES.iter().chain(["csi"].iter()) {
        let Some(src) = get(spec, kind) else { continue };
        let p = path.child(kind);
        if count > 0 && *kind != "flexVolume" {
            errs.push(FieldError::forbidden(&p, "may not specify more than 1 volume type"));
            continue;
        }
        count += 1;
        match *kind {
            "hostPath" => {
                validate_source_path(src, &p, errs);
            }
            "nfs" => validate_nfs(src, &p, errs),
            "local" => {
                validate_source_path(src, &p, errs);
                if !node_affinity {
                    errs.push(FieldError::required(&path.child("nodeAffinity"), "Local volume requires node affinity"));
                }
            }
            "csi" => {
                validate_csi_driver_name(str_of(src, "driver"), &p.child("driver"), errs);
                if str_of(src, "volumeHandle").is_empty() {
                    errs.push(FieldError::required(&p.child("volumeHandle"), ""));
                }
            }
            _ => {}
        }
    }
    if count == 0 {
        errs.push(FieldError::required(&path, "must specify a volume type"));
    }
    if policy == "Recycle" && get(spec, "hostPath").map(|h| str_of(h, "path").trim_end_matches('/').is_empty()).unwrap_or(false) {
        errs.push(FieldError::forbidden(&path.child("persistentVolumeReclaimPolicy"), "may not be 'recycle' for a hostPath mount of '/'"));
    }
    validate_class_name(spec, "storageClassName", &path, errs);
    if let Some(vm) = opt_str(spec, "volumeMode") {
        if vm != "Block" && vm != "Filesystem" {
            errs.push(FieldError::not_supported(&path.child("volumeMode"), vm, &["Block", "Filesystem"]));
        }
    }
    let Some(old) = old else { return };
    validate_object_meta_update(pv, old, errs);
    let old_spec = sub(old, "spec");
    let source = |s: &Value| {
        let mut m = serde_json::Map::new();
        for k in PV_SOURCES.iter().chain(["csi"].iter()) {
            if let Some(v) = s.get(*k) {
                m.insert((*k).to_string(), v.clone());
            }
        }
        Value::Object(m)
    };
    let (ns, os) = (source(spec), source(old_spec));
    if !semantic_eq(Some(&ns), Some(&os)) {
        errs.push(FieldError::forbidden(
            &Path::new("spec").child("persistentvolumesource"),
            format!("spec.persistentvolumesource is immutable after creation\n{}", spec_diff("core.PersistentVolumeSource", &os, &ns)),
        ));
    }
    let (nm, om) = (opt_str(spec, "volumeMode"), opt_str(old_spec, "volumeMode"));
    if nm != om {
        errs.push(FieldError::invalid(&Path::new("volumeMode"), nm.map(Value::from).unwrap_or(Value::Null), FIELD_IMMUTABLE));
    }
    if let Some(ona) = get(old_spec, "nodeAffinity") {
        if !semantic_eq(get(spec, "nodeAffinity"), Some(ona)) {
            errs.push(FieldError::invalid(&Path::new("nodeAffinity"), go_repr("&core.VolumeNodeAffinity{...}"), format!("{FIELD_IMMUTABLE}, except for updating from beta label to GA")));
        }
    }
}

// ---------------------------------------------------------------- quota and limits

pub fn validate_limit_range(lr: &Value, old: Option<&Value>, errs: &mut Vec<FieldError>) {
    match old {
        None => validate_object_meta(lr, name_is_dns_subdomain, errs),
        Some(old) => {
            validate_object_meta_update(lr, old, errs);
            validate_object_meta(lr, name_is_dns_subdomain, errs);
        }
    }
    let path = Path::new("spec").child("limits");
    let mut types: HashSet<&str> = HashSet::new();
    for (i, limit) in arr(sub(lr, "spec"), "limits").iter().enumerate() {
        let p = path.index(i);
        let t = str_of(limit, "type");
        let before = errs.len();
        for m in is_qualified_name(t) {
            errs.push(FieldError::invalid(&p.child("type"), t, m));
        }
        if errs.len() == before && !t.contains('/') && !["Pod", "Container", "PersistentVolumeClaim"].contains(&t) {
            errs.push(FieldError::invalid(&p.child("type"), t, "must be a standard limit type or fully qualified"));
        }
        if !types.insert(t) {
            errs.push(FieldError::duplicate(&p.child("type"), t));
        }
        let mut keys: Vec<String> = Vec::new();
        let mut read = |key: &str, errs: &mut Vec<FieldError>| -> std::collections::HashMap<String, Quantity> {
            let mut out = std::collections::HashMap::new();
            for (k, v) in entries(limit, key) {
                let kp = p.child(key).key(k);
                validate_limit_range_resource_name(t, k, &kp, errs);
                if !keys.contains(k) {
                    keys.push(k.clone());
                }
                if let Some(q) = quantity_at(v, &kp, errs) {
                    out.insert(k.clone(), q);
                }
            }
            out
        };
        let max = read("max", errs);
        let min = read("min", errs);
        let (defaults, default_requests) = if t == "Pod" {
            if obj(limit, "default").map(|m| !m.is_empty()).unwrap_or(false) {
                errs.push(FieldError::forbidden(&p.child("default"), "may not be specified when `type` is 'Pod'"));
            }
            if obj(limit, "defaultRequest").map(|m| !m.is_empty()).unwrap_or(false) {
                errs.push(FieldError::forbidden(&p.child("defaultRequest"), "may not be specified when `type` is 'Pod'"));
            }
            Default::default()
        } else {
            (read("default", errs), read("defaultRequest", errs))
        };
        if t == "PersistentVolumeClaim" && !min.contains_key("storage") && !max.contains_key("storage") {
            errs.push(FieldError::required(&p.child("limits"), "either minimum or maximum storage value is required, but neither was provided"));
        }
        let ratios = read("maxLimitRequestRatio", errs);
        for k in &keys {
            let (mn, mx, df, dr, ratio) = (min.get(k), max.get(k), defaults.get(k), default_requests.get(k), ratios.get(k));
            let shown = |q: &Quantity| go_repr(format!("resource.Quantity{{{q}}}"));
            if let (Some(mn), Some(mx)) = (mn, mx) {
                if mn > mx {
                    errs.push(FieldError::invalid(&p.child("min").key(k), shown(mn), format!("min value {mn} is greater than max value {mx}")));
                }
            }
            if let (Some(dr), Some(mn)) = (dr, mn) {
                if mn > dr {
                    errs.push(FieldError::invalid(&p.child("defaultRequest").key(k), shown(dr), format!("min value {mn} is greater than default request value {dr}")));
                }
            }
            if let (Some(dr), Some(mx)) = (dr, mx) {
                if dr > mx {
                    errs.push(FieldError::invalid(&p.child("defaultRequest").key(k), shown(dr), format!("default request value {dr} is greater than max value {mx}")));
                }
            }
            if let (Some(dr), Some(df)) = (dr, df) {
                if dr > df {
                    errs.push(FieldError::invalid(&p.child("defaultRequest").key(k), shown(dr), format!("default request value {dr} is greater than default limit value {df}")));
                }
            }
            if let (Some(df), Some(mn)) = (df, mn) {
                if mn > df {
                    errs.push(FieldError::invalid(&p.child("default").key(k), shown(mn), format!("min value {mn} is greater than default value {df}")));
                }
            }
            if let (Some(df), Some(mx)) = (df, mx) {
                if df > mx {
                    errs.push(FieldError::invalid(&p.child("default").key(k), shown(mx), format!("default value {df} is greater than max value {mx}")));
                }
            }
            if let Some(r) = ratio {
                if *r < Quantity::from_value(1) {
                    errs.push(FieldError::invalid(&p.child("maxLimitRequestRatio").key(k), shown(r), format!("ratio {r} is less than 1")));
                }
                if let (Some(mn), Some(mx)) = (mn, mx) {
                    let limit = mx.milli_value() as f64 / mn.milli_value() as f64;
                    if (r.milli_value() as f64 / 1000.0) > limit {
                        errs.push(FieldError::invalid(&p.child("maxLimitRequestRatio").key(k), shown(r), format!("ratio {r} is greater than max/min = {limit:.6}")));
                    }
                }
            }
            if !is_overcommit_allowed(k) {
                if let (Some(df), Some(dr)) = (df, dr) {
                    if df != dr {
                        errs.push(FieldError::invalid(
                            &p.child("defaultRequest").key(k),
                            shown(dr),
                            format!("default value {df} must equal to defaultRequest value {dr} in {k}"),
                        ));
                    }
                }
            }
        }
    }
}

fn validate_limit_range_resource_name(limit_type: &str, name: &str, path: &Path, errs: &mut Vec<FieldError>) {
    if limit_type == "Pod" || limit_type == "Container" {
        validate_resource_name(name, path, errs);
        if !name.contains('/') {
            if !(["cpu", "memory", "ephemeral-storage"].contains(&name) || is_hugepage_resource(name)) {
                errs.push(FieldError::invalid(path, name, "must be a standard resource for containers"));
            }
        } else if !is_native_resource(name) && !is_extended_resource(name) {
            errs.push(FieldError::invalid(path, name, "doesn't follow extended resource name standard"));
        }
    } else {
        validate_resource_name(name, path, errs);
    }
}

const QUOTA_SCOPES: [&str; 6] = ["Terminating", "NotTerminating", "BestEffort", "NotBestEffort", "PriorityClass", "CrossNamespacePodAffinity"];

fn validate_quota_resource_name(name: &str, path: &Path, errs: &mut Vec<FieldError>) {
    validate_resource_name(name, path, errs);
    if !name.contains('/') && !is_standard_resource(name) && !name.starts_with("count/") {
        errs.push(FieldError::invalid(path, name, "must be a standard resource for quota"));
    }
}

pub fn validate_resource_quota(rq: &Value, old: Option<&Value>, errs: &mut Vec<FieldError>) {
    let spec = sub(rq, "spec");
    let path = Path::new("spec");
    match old {
        None => validate_object_meta(rq, name_is_dns_subdomain, errs),
        Some(old) => validate_object_meta_update(rq, old, errs),
    }
    for (k, v) in entries(spec, "hard") {
        let p = path.child("hard").key(k);
        validate_quota_resource_name(k, &p, errs);
        if let Some(q) = quantity_at(v, &p, errs) {
            validate_resource_quantity(k, &q, &p, errs);
        }
    }
    let scopes: Vec<&str> = arr(spec, "scopes").iter().filter_map(Value::as_str).collect();
    let scopes_val = Value::Array(arr(spec, "scopes").to_vec());
    for s in &scopes {
        if !QUOTA_SCOPES.contains(s) {
            errs.push(FieldError::invalid(&path.child("scopes"), scopes_val.clone(), "unsupported scope"));
        }
    }
    for (a, b) in [("BestEffort", "NotBestEffort"), ("Terminating", "NotTerminating")] {
        if scopes.contains(&a) && scopes.contains(&b) {
            errs.push(FieldError::invalid(&path.child("scopes"), scopes_val.clone(), "conflicting scopes"));
        }
    }
    if let Some(sel) = get(spec, "scopeSelector") {
        let p = path.child("scopeSelector").child("matchExpressions");
        for req in arr(sel, "matchExpressions") {
            let scope = str_of(req, "scopeName");
            if !QUOTA_SCOPES.contains(&scope) {
                errs.push(FieldError::invalid(&p.child("scopeName"), scope, "unsupported scope"));
            }
            let op = str_of(req, "operator");
            let values = arr(req, "values");
            match op {
                "In" | "NotIn" => {
                    if values.is_empty() {
                        errs.push(FieldError::required(&p.child("values"), "must be at least one value when `operator` is 'In' or 'NotIn' for scope selector"));
                    }
                }
                "Exists" | "DoesNotExist" => {
                    if !values.is_empty() {
                        errs.push(FieldError::invalid(&p.child("values"), Value::Array(values.to_vec()), "must be no value when `operator` is 'Exist' or 'DoesNotExist' for scope selector"));
                    }
                }
                other => errs.push(FieldError::invalid(&p.child("operator"), other, "not a valid selector operator")),
            }
        }
    }
    match old {
        None => validate_quota_status(rq, errs),
        Some(old) => {
            let mut a: Vec<&str> = scopes.clone();
            let mut b: Vec<&str> = arr(sub(old, "spec"), "scopes").iter().filter_map(Value::as_str).collect();
            a.sort_unstable();
            a.dedup();
            b.sort_unstable();
            b.dedup();
            if a != b {
                errs.push(FieldError::invalid(&path.child("scopes"), scopes_val, FIELD_IMMUTABLE));
            }
        }
    }
}

fn validate_quota_status(rq: &Value, errs: &mut Vec<FieldError>) {
    let status = sub(rq, "status");
    for key in ["hard", "used"] {
        for (k, v) in entries(status, key) {
            let p = Path::new("status").child(key).key(k);
            validate_quota_resource_name(k, &p, errs);
            if let Some(q) = quantity_at(v, &p, errs) {
                validate_resource_quantity(k, &q, &p, errs);
            }
        }
    }
}

pub fn validate_resource_quota_status(rq: &Value, old: &Value, errs: &mut Vec<FieldError>) {
    validate_object_meta_update(rq, old, errs);
    validate_quota_status(rq, errs);
}

// ---------------------------------------------------------------- endpoints and events

pub fn validate_endpoints(ep: &Value, old: Option<&Value>, errs: &mut Vec<FieldError>) {
    if let Some(old) = old {
        validate_object_meta_update(ep, old, errs);
    }
    validate_object_meta(ep, name_is_dns_subdomain, errs);
    let path = Path::new("subsets");
    for (i, ss) in arr(ep, "subsets").iter().enumerate() {
        let p = path.index(i);
        if arr(ss, "addresses").is_empty() && arr(ss, "notReadyAddresses").is_empty() {
            errs.push(FieldError::required(&p, "must specify `addresses` or `notReadyAddresses`"));
        }
        for key in ["addresses", "notReadyAddresses"] {
            for (j, a) in arr(ss, key).iter().enumerate() {
                let ap = p.child(key).index(j);
                let ip = str_of(a, "ip");
                if parse_ip(ip).is_none() {
                    errs.push(FieldError::invalid(&ap.child("ip"), ip, INVALID_IP_MSG));
                }
                let host = str_of(a, "hostname");
                if !host.is_empty() {
                    dns_label(host, &ap.child("hostname"), errs);
                }
                if let Some(node) = opt_str(a, "nodeName") {
                    for m in name_is_dns_subdomain(node, false) {
                        errs.push(FieldError::invalid(&ap.child("nodeName"), node, m));
                    }
                }
                validate_non_special_ip(ip, &ap.child("ip"), errs);
            }
        }
        let ports = arr(ss, "ports");
        for (j, port) in ports.iter().enumerate() {
            let pp = p.child("ports").index(j);
            let name = str_of(port, "name");
            if ports.len() > 1 && name.is_empty() {
                errs.push(FieldError::required(&pp.child("name"), ""));
            } else if !name.is_empty() {
                dns_label(name, &pp.child("name"), errs);
            }
            let n = int_of(port, "port");
            for m in is_valid_port_num(n) {
                errs.push(FieldError::invalid(&pp.child("port"), n, m));
            }
            validate_protocol(str_of(port, "protocol"), &pp.child("protocol"), errs);
            if let Some(ap) = opt_str(port, "appProtocol") {
                qualified_name(ap, &pp.child("appProtocol"), errs);
            }
        }
    }
}

/// The legacy checks every core/v1 Event gets.
pub fn validate_core_event(ev: &Value, errs: &mut Vec<FieldError>) {
    let involved_ns = str_of(sub(ev, "involvedObject"), "namespace");
    legacy_event_checks(ev, involved_ns, "reportingComponent", "message", errs);
}

/// The legacy Event checks shared with events.k8s.io, which names its involved
/// object's namespace, reporting field and message differently.
pub(crate) fn legacy_event_checks(ev: &Value, involved_ns: &str, reporting_key: &str, message_key: &str, errs: &mut Vec<FieldError>) {
    let ns = str_of(sub(ev, "metadata"), "namespace");
    let p = Path::new("involvedObject").child("namespace");
    if !has(ev, "eventTime") {
        if involved_ns.is_empty() {
            if !ns.is_empty() && ns != "default" {
                errs.push(FieldError::invalid(&p, involved_ns, "does not match event.namespace"));
            }
        } else if ns != involved_ns {
            errs.push(FieldError::invalid(&p, involved_ns, "does not match event.namespace"));
        }
    } else {
        if involved_ns.is_empty() && ns != "default" && ns != "kube-system" {
            errs.push(FieldError::invalid(&p, involved_ns, "does not match event.namespace"));
        }
        let rc = str_of(ev, reporting_key);
        if rc.is_empty() {
            errs.push(FieldError::required(&Path::new(reporting_key), ""));
        }
        qualified_name(rc, &Path::new(reporting_key), errs);
        for (key, limit) in [("reportingInstance", 128), ("action", 128), ("reason", 128)] {
            let v = str_of(ev, key);
            if v.is_empty() {
                errs.push(FieldError::required(&Path::new(key), ""));
            }
            if v.len() > limit {
                errs.push(FieldError::invalid(&Path::new(key), "", format!("can have at most {limit} characters")));
            }
        }
        // Both APIs report the message's path as "message".
        if str_of(ev, message_key).len() > 1024 {
            errs.push(FieldError::invalid(&Path::new("message"), "", "can have at most 1024 characters"));
        }
    }
    for m in is_dns1123_subdomain(ns) {
        errs.push(FieldError::invalid(&Path::new("namespace"), ns, m));
    }
}
