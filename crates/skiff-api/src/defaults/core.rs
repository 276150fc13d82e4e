//! Core ("") group defaults (`pkg/apis/core/v1/defaults.go` and the generated
//! defaulters that walk into nested structs).

use serde_json::{Map, Value};

use crate::validation::pod::VOLUME_SOURCES;

use super::{child, existing, items, quantity_field, resource_list, set_default, set_default_int, set_default_str, str_at};

/// What an image reference's tag means for pulling: `:latest` or no tag pulls
/// always, anything else (a tag, a digest, an unparsable name) only if missing.
pub(super) fn pull_policy_for(image: &str) -> &'static str {
    if image.is_empty() {
        return "IfNotPresent";
    }
    let (name, digest) = match image.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (image, None),
    };
    let last_slash = name.rfind('/').map(|i| i + 1).unwrap_or(0);
    let (repo, tag) = match name[last_slash..].rfind(':') {
        Some(i) => (&name[..last_slash + i], Some(&name[last_slash + i + 1..])),
        None => (name, None),
    };
    // Upstream's reference parser rejects upper case repositories; it then finds no tag.
    let path = repo.split_once('/').map(|(host, rest)| if host.contains(['.', ':']) || host == "localhost" { rest } else { repo }).unwrap_or(repo);
    if path.chars().any(|c| c.is_ascii_uppercase()) || repo.is_empty() {
        return "IfNotPresent";
    }
    match (tag, digest) {
        (Some("latest"), _) => "Always",
        (None, None) => "Always",
        _ => "IfNotPresent",
    }
}

fn object_field_selector(v: &mut Value) {
    set_default_str(v, "apiVersion", "v1");
}

fn http_get(v: &mut Value) {
    if let Some(h) = existing(v, "httpGet") {
        set_default_str(h, "path", "/");
        set_default_str(h, "scheme", "HTTP");
    }
}

fn probe(p: &mut Value) {
    set_default_int(p, "timeoutSeconds", 1);
    set_default_int(p, "periodSeconds", 10);
    set_default_int(p, "successThreshold", 1);
    set_default_int(p, "failureThreshold", 3);
    http_get(p);
    if let Some(g) = existing(p, "grpc") {
        set_default(g, "service", "");
    }
}

fn container(c: &mut Value) {
    if str_at(c, "imagePullPolicy").is_empty() {
        let policy = pull_policy_for(str_at(c, "image"));
        set_default_str(c, "imagePullPolicy", policy);
    }
    set_default_str(c, "terminationMessagePath", "/dev/termination-log");
    set_default_str(c, "terminationMessagePolicy", "File");
    for port in items(c, "ports") {
        set_default_str(port, "protocol", "TCP");
    }
    for env in items(c, "env") {
        if let Some(fr) = existing(env, "valueFrom").and_then(|vf| existing(vf, "fieldRef")) {
            object_field_selector(fr);
        }
        if let Some(rf) = existing(env, "valueFrom").and_then(|vf| existing(vf, "resourceFieldRef")) {
            quantity_field(rf, "divisor");
        }
    }
    for kind in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(p) = existing(c, kind) {
            probe(p);
        }
    }
    if let Some(lc) = existing(c, "lifecycle") {
        for hook in ["postStart", "preStop"] {
            if let Some(h) = existing(lc, hook) {
                http_get(h);
            }
        }
    }
    if let Some(r) = existing(c, "resources") {
        resource_list(r, "limits");
        resource_list(r, "requests");
    }
}

fn downward_api_items(v: &mut Value) {
    for item in items(v, "items") {
        if let Some(fr) = existing(item, "fieldRef") {
            object_field_selector(fr);
        }
        if let Some(rf) = existing(item, "resourceFieldRef") {
            quantity_field(rf, "divisor");
        }
    }
}

/// A volume with none of the source kinds becomes an emptyDir.
fn volume(v: &mut Value) {
    if !VOLUME_SOURCES.iter().any(|k| v.get(*k).map(|x| !x.is_null()).unwrap_or(false)) {
        if let Some(m) = v.as_object_mut() {
            m.insert("emptyDir".to_string(), Value::Object(Map::new()));
        }
    }
    if let Some(e) = existing(v, "emptyDir") {
        quantity_field(e, "sizeLimit");
    }
    for kind in ["secret", "configMap"] {
        if let Some(s) = existing(v, kind) {
            set_default(s, "defaultMode", 420);
        }
    }
    if let Some(d) = existing(v, "downwardAPI") {
        set_default(d, "defaultMode", 420);
        downward_api_items(d);
    }
    if let Some(p) = existing(v, "projected") {
        set_default(p, "defaultMode", 420);
        for source in items(p, "sources") {
            if let Some(t) = existing(source, "serviceAccountToken") {
                set_default(t, "expirationSeconds", 3600);
            }
            if let Some(d) = existing(source, "downwardAPI") {
                downward_api_items(d);
            }
        }
    }
    if let Some(h) = existing(v, "hostPath") {
        set_default(h, "type", "");
    }
    if let Some(t) = existing(v, "ephemeral").and_then(|e| existing(e, "volumeClaimTemplate")) {
        pvc_spec(child(t, "spec"));
    }
    if let Some(i) = existing(v, "image") {
        if str_at(i, "pullPolicy").is_empty() {
            let policy = pull_policy_for(str_at(i, "reference"));
            set_default_str(i, "pullPolicy", policy);
        }
    }
}

/// `SetDefaults_PodSpec` and everything it contains; shared by Pods and templates.
pub(super) fn pod_spec(spec: &mut Value) {
    set_default_str(spec, "dnsPolicy", "ClusterFirst");
    set_default_str(spec, "restartPolicy", "Always");
    set_default(spec, "securityContext", Value::Object(Map::new()));
    set_default(spec, "terminationGracePeriodSeconds", 30);
    set_default_str(spec, "schedulerName", "default-scheduler");
    // v1 conversion: the deprecated serviceAccount fills an empty serviceAccountName
    // and then always mirrors it.
    let sa = match str_at(spec, "serviceAccountName") {
        "" => str_at(spec, "serviceAccount").to_string(),
        name => name.to_string(),
    };
    if let Some(m) = spec.as_object_mut() {
        if sa.is_empty() {
            m.remove("serviceAccount");
        } else {
            m.insert("serviceAccountName".to_string(), Value::from(sa.clone()));
            m.insert("serviceAccount".to_string(), Value::from(sa));
        }
    }
    for v in items(spec, "volumes") {
        volume(v);
    }
    for key in ["containers", "initContainers", "ephemeralContainers"] {
        for c in items(spec, key) {
            container(c);
        }
    }
    resource_list(spec, "overhead");
    if let Some(r) = existing(spec, "resources") {
        resource_list(r, "limits");
        resource_list(r, "requests");
    }
}

/// A pod template (`spec.template` of workloads, the PodTemplate kind).
pub(super) fn pod_template(template: &mut Value) {
    pod_spec(child(template, "spec"));
}

pub(super) fn pod(pod: &mut Value) {
    let spec = child(pod, "spec");
    pod_spec(spec);
    // Pods alone get requests copied from limits (not templates).
    for key in ["containers", "initContainers"] {
        for c in items(spec, key) {
            let Some(res) = existing(c, "resources") else { continue };
            let Some(limits) = res.get("limits").and_then(Value::as_object).cloned() else { continue };
            let requests = child(res, "requests");
            if let Some(req) = requests.as_object_mut() {
                for (k, v) in limits {
                    req.entry(k).or_insert(v);
                }
            }
        }
    }
    set_default(spec, "enableServiceLinks", true);
    if spec.get("hostNetwork").and_then(Value::as_bool).unwrap_or(false) {
        for key in ["containers", "initContainers"] {
            for c in items(spec, key) {
                for port in items(c, "ports") {
                    let cp = port.get("containerPort").cloned().unwrap_or(Value::from(0));
                    set_default_int(port, "hostPort", cp.as_i64().unwrap_or(0));
                }
            }
        }
    }
    // The Priority admission plugin resolves the class into a number.
    if spec.get("priority").map(Value::is_null).unwrap_or(true) {
        let priority = match str_at(spec, "priorityClassName") {
            "system-node-critical" => Some(2_000_001_000),
            "system-cluster-critical" => Some(2_000_000_000),
            "" => Some(0),
            _ => None,
        };
        if let Some(p) = priority {
            set_default(spec, "priority", p);
        }
    }
    set_default_str(spec, "preemptionPolicy", "PreemptLowerPriority");
    if let Some(status) = existing(pod, "status") {
        fn ip_of(v: &Value) -> Option<&str> {
            v.get("ip").and_then(Value::as_str)
        }
        let ip = |s: &str| serde_json::json!({"ip": s});
        super::sync_plural(status, "podIP", "podIPs", ip, ip_of);
        super::sync_plural(status, "hostIP", "hostIPs", ip, ip_of);
    }
}

pub(super) fn replication_controller(rc: &mut Value) {
    let labels = rc.get("spec").and_then(|s| s.get("template")).and_then(|t| t.get("metadata")).and_then(|m| m.get("labels")).filter(|l| l.is_object()).cloned();
    if let Some(labels) = labels {
        let spec = child(rc, "spec");
        if spec.get("selector").and_then(Value::as_object).map(Map::is_empty).unwrap_or(true) {
            if let Some(m) = spec.as_object_mut() {
                m.insert("selector".to_string(), labels.clone());
            }
        }
        let meta = child(rc, "metadata");
        if meta.get("labels").and_then(Value::as_object).map(Map::is_empty).unwrap_or(true) {
            if let Some(m) = meta.as_object_mut() {
                m.insert("labels".to_string(), labels);
            }
        }
    }
    let spec = child(rc, "spec");
    set_default(spec, "replicas", 1);
    if let Some(t) = existing(spec, "template") {
        pod_template(t);
    }
}

fn externally_accessible(spec: &Value) -> bool {
    let t = str_at(spec, "type");
    t == "LoadBalancer" || t == "NodePort" || (t == "ClusterIP" && spec.get("externalIPs").and_then(Value::as_array).map(|a| !a.is_empty()).unwrap_or(false))
}

pub(super) fn service(svc: &mut Value) {
    let spec = child(svc, "spec");
    set_default_str(spec, "sessionAffinity", "None");
    match str_at(spec, "sessionAffinity") {
        "None" => {
            if let Some(m) = spec.as_object_mut() {
                m.remove("sessionAffinityConfig");
            }
        }
        "ClientIP" => {
            let has_timeout = spec
                .get("sessionAffinityConfig")
                .and_then(|c| c.get("clientIP"))
                .and_then(|c| c.get("timeoutSeconds"))
                .map(|t| !t.is_null())
                .unwrap_or(false);
            if !has_timeout {
                if let Some(m) = spec.as_object_mut() {
                    m.insert("sessionAffinityConfig".to_string(), serde_json::json!({"clientIP": {"timeoutSeconds": 10800}}));
                }
            }
        }
        _ => {}
    }
    set_default_str(spec, "type", "ClusterIP");
    for port in items(spec, "ports") {
        set_default_str(port, "protocol", "TCP");
        let target_unset = match port.get("targetPort") {
            None | Some(Value::Null) => true,
            Some(Value::String(s)) => s.is_empty(),
            Some(v) => v.as_i64() == Some(0),
        };
        if target_unset {
            let p = port.get("port").cloned().unwrap_or(Value::from(0));
            if let Some(m) = port.as_object_mut() {
                m.insert("targetPort".to_string(), p);
            }
        }
    }
    if externally_accessible(spec) {
        set_default_str(spec, "externalTrafficPolicy", "Cluster");
    }
    let svc_type = str_at(spec, "type").to_string();
    if ["NodePort", "LoadBalancer", "ClusterIP"].contains(&svc_type.as_str()) {
        set_default(spec, "internalTrafficPolicy", "Cluster");
    }
    if svc_type == "LoadBalancer" {
        set_default(spec, "allocateLoadBalancerNodePorts", true);
    }
    if svc_type != "ExternalName" {
        // Keep clusterIP and clusterIPs in step, as the service registry does.
        let ip = str_at(spec, "clusterIP").to_string();
        let ips_empty = spec.get("clusterIPs").and_then(Value::as_array).map(Vec::is_empty).unwrap_or(true);
        if !ip.is_empty() && ips_empty {
            if let Some(m) = spec.as_object_mut() {
                m.insert("clusterIPs".to_string(), Value::Array(vec![Value::from(ip)]));
            }
        } else if ip.is_empty() && !ips_empty {
            let first = spec.get("clusterIPs").and_then(Value::as_array).and_then(|a| a.first()).cloned();
            if let (Some(first), Some(m)) = (first, spec.as_object_mut()) {
                m.insert("clusterIP".to_string(), first);
            }
        }
        // The IP allocator settles families; a single IPv4 stack unless told otherwise.
        let headless = str_at(spec, "clusterIP") == "None";
        let has_selector = spec.get("selector").and_then(Value::as_object).map(|m| !m.is_empty()).unwrap_or(false);
        // Headless services without a selector may list addresses of either family.
        let policy = if headless && !has_selector { "RequireDualStack" } else { "SingleStack" };
        set_default(spec, "ipFamilyPolicy", policy);
        if spec.get("ipFamilies").and_then(Value::as_array).map(Vec::is_empty).unwrap_or(true) {
            let ips: Vec<String> = spec
                .get("clusterIPs")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
                .unwrap_or_default();
            let families: Vec<Value> = if headless || ips.is_empty() {
                vec![Value::from("IPv4")]
            } else {
                ips.iter().map(|ip| Value::from(if ip.contains(':') { "IPv6" } else { "IPv4" })).collect()
            };
            if let Some(m) = spec.as_object_mut() {
                m.insert("ipFamilies".to_string(), Value::Array(families));
            }
        }
    }
}

pub(super) fn namespace(ns: &mut Value) {
    let name = ns.get("metadata").map(|m| str_at(m, "name").to_string()).unwrap_or_default();
    if !name.is_empty() {
        let labels = child(child(ns, "metadata"), "labels");
        if let Some(m) = labels.as_object_mut() {
            m.insert("kubernetes.io/metadata.name".to_string(), Value::from(name));
        }
    }
    let spec = child(ns, "spec");
    set_default(spec, "finalizers", Value::Array(vec![Value::from("kubernetes")]));
    set_default_str(child(ns, "status"), "phase", "Active");
}

pub(super) fn secret(s: &mut Value) {
    set_default_str(s, "type", "Opaque");
    // stringData is write-only: upstream's conversion folds it into data, base64
    // encoded, overriding keys data already has.
    let string_data = s.as_object_mut().and_then(|m| m.remove("stringData"));
    if let Some(Value::Object(sd)) = string_data {
        use base64::Engine;
        let data = child(s, "data");
        if let Some(d) = data.as_object_mut() {
            for (k, v) in sd {
                let text = v.as_str().unwrap_or_default().to_string();
                d.insert(k, Value::from(base64::engine::general_purpose::STANDARD.encode(text)));
            }
        }
    }
}

fn pvc_spec(spec: &mut Value) {
    set_default(spec, "volumeMode", "Filesystem");
    if let Some(r) = existing(spec, "resources") {
        resource_list(r, "requests");
        resource_list(r, "limits");
    }
}

/// A PersistentVolumeClaim, also as it appears in StatefulSet claim templates.
pub(super) fn persistent_volume_claim(pvc: &mut Value) {
    pvc_spec(child(pvc, "spec"));
    set_default_str(child(pvc, "status"), "phase", "Pending");
}

pub(super) fn persistent_volume(pv: &mut Value) {
    let spec = child(pv, "spec");
    set_default_str(spec, "persistentVolumeReclaimPolicy", "Retain");
    set_default(spec, "volumeMode", "Filesystem");
    resource_list(spec, "capacity");
    if let Some(h) = existing(spec, "hostPath") {
        set_default(h, "type", "");
    }
    set_default_str(child(pv, "status"), "phase", "Pending");
}

pub(super) fn endpoints(ep: &mut Value) {
    for subset in items(ep, "subsets") {
        for port in items(subset, "ports") {
            set_default_str(port, "protocol", "TCP");
        }
    }
}

pub(super) fn node(node: &mut Value) {
    if let Some(spec) = existing(node, "spec") {
        super::sync_plural(spec, "podCIDR", "podCIDRs", |s| Value::from(s), Value::as_str);
    }
    let status = child(node, "status");
    resource_list(status, "capacity");
    resource_list(status, "allocatable");
    if status.get("allocatable").map(Value::is_null).unwrap_or(true) {
        if let Some(cap) = status.get("capacity").filter(|c| c.is_object()).cloned() {
            if let Some(m) = status.as_object_mut() {
                m.insert("allocatable".to_string(), cap);
            }
        }
    }
}

pub(super) fn limit_range(lr: &mut Value) {
    for item in items(child(lr, "spec"), "limits") {
        for key in ["max", "min", "default", "defaultRequest", "maxLimitRequestRatio"] {
            resource_list(item, key);
        }
        if str_at(item, "type") != "Container" {
            continue;
        }
        // Default limits come from max; default requests from the default, then min.
        let max = item.get("max").and_then(Value::as_object).cloned().unwrap_or_default();
        let min = item.get("min").and_then(Value::as_object).cloned().unwrap_or_default();
        let default = child(item, "default");
        if let Some(d) = default.as_object_mut() {
            for (k, v) in max {
                d.entry(k).or_insert(v);
            }
        }
        let default = item.get("default").and_then(Value::as_object).cloned().unwrap_or_default();
        let default_request = child(item, "defaultRequest");
        if let Some(d) = default_request.as_object_mut() {
            for (k, v) in default {
                d.entry(k).or_insert(v);
            }
            for (k, v) in min {
                d.entry(k).or_insert(v);
            }
        }
        // Empty maps do not show in upstream's JSON.
        if let Some(m) = item.as_object_mut() {
            for key in ["default", "defaultRequest"] {
                if m.get(key).and_then(Value::as_object).map(Map::is_empty).unwrap_or(false) {
                    m.remove(key);
                }
            }
        }
    }
}

pub(super) fn resource_quota(rq: &mut Value) {
    resource_list(child(rq, "spec"), "hard");
    if let Some(status) = existing(rq, "status") {
        resource_list(status, "hard");
        resource_list(status, "used");
    }
}
