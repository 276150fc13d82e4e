//! The smaller groups: coordination.k8s.io Leases, events.k8s.io Events, policy
//! PodDisruptionBudgets, discovery.k8s.io EndpointSlices and storage.k8s.io
//! StorageClasses.

use std::collections::HashSet;

use serde_json::Value;

use super::field_error::{go_repr, FieldError, Path};
use super::json::{arr, entries, get, has, int_of, opt_int, opt_str, semantic_eq, str_of, sub};
use super::meta::*;
use super::names::*;
use super::pod::{dns_label, qualified_name, validate_protocol};

pub fn validate_lease(lease: &Value, old: Option<&Value>, errs: &mut Vec<FieldError>) {
    match old {
        None => validate_object_meta(lease, name_is_dns_subdomain, errs),
        Some(o) => validate_object_meta_update(lease, o, errs),
    }
    let spec = sub(lease, "spec");
    let path = Path::new("spec");
    if let Some(d) = opt_int(spec, "leaseDurationSeconds").filter(|d| *d <= 0) {
        errs.push(FieldError::invalid(&path.child("leaseDurationSeconds"), d, "must be greater than 0"));
    }
    if let Some(t) = opt_int(spec, "leaseTransitions").filter(|t| *t < 0) {
        errs.push(FieldError::invalid(&path.child("leaseTransitions"), t, "must be greater than or equal to 0"));
    }
    let strategy = opt_str(spec, "strategy");
    if let Some(s) = strategy {
        if s != "OldestEmulationVersion" {
            errs.push(FieldError::not_supported(&path.child("strategy"), s, &["OldestEmulationVersion"]));
        }
    }
    if opt_str(spec, "preferredHolder").map(|h| !h.is_empty()).unwrap_or(false) && strategy.map(str::is_empty).unwrap_or(true) {
        errs.push(FieldError::forbidden(&path.child("preferredHolder"), "may only be specified if `strategy` is defined"));
    }
}

/// events.k8s.io/v1 Events: the legacy checks plus the strict ones for the new API.
pub fn validate_events_event(ev: &Value, old: Option<&Value>, errs: &mut Vec<FieldError>) {
    let regarding_ns = str_of(sub(ev, "regarding"), "namespace");
    let has_time = has(ev, "eventTime");
    super::core::legacy_event_checks(ev, regarding_ns, "reportingController", "note", errs);
    if let Some(old) = old {
        validate_object_meta_update(ev, old, errs);
        return;
    }
    validate_object_meta(ev, name_is_dns_subdomain, errs);
    if let Some(series) = get(ev, "series") {
        if int_of(series, "count") < 2 {
            errs.push(FieldError::invalid(&Path::new("series").child("count"), "", "should be at least 2"));
        }
        if !has(series, "lastObservedTime") {
            errs.push(FieldError::required(&Path::new("series").child("lastObservedTime"), ""));
        }
    }
    if !has_time {
        errs.push(FieldError::required(&Path::new("eventTime"), ""));
    }
    let t = str_of(ev, "type");
    if t != "Normal" && t != "Warning" {
        errs.push(FieldError::invalid(&Path::new("type"), "", format!("has invalid value: {t}")));
    }
    for (key, shown) in [("deprecatedFirstTimestamp", "firstTimestamp"), ("deprecatedLastTimestamp", "lastTimestamp")] {
        if has(ev, key) {
            errs.push(FieldError::invalid(&Path::new(shown), "", "needs to be unset"));
        }
    }
    if int_of(ev, "deprecatedCount") != 0 {
        errs.push(FieldError::invalid(&Path::new("count"), "", "needs to be unset"));
    }
    let source = sub(ev, "deprecatedSource");
    if !str_of(source, "component").is_empty() || !str_of(source, "host").is_empty() {
        errs.push(FieldError::invalid(&Path::new("source"), "", "needs to be unset"));
    }
}

fn int_or_percent(v: Option<&Value>, path: &Path, errs: &mut Vec<FieldError>) {
    match v {
        Some(Value::String(s)) => {
            let msgs = is_valid_percent(s);
            let shown = go_repr(super::field_error::go_int_or_string(v));
            for m in msgs.iter() {
                errs.push(FieldError::invalid(path, shown.clone(), m.clone()));
            }
            if msgs.is_empty() && s.trim_end_matches('%').parse::<i64>().unwrap_or(0) > 100 {
                errs.push(FieldError::invalid(path, shown, "must not be greater than 100%"));
            }
        }
        Some(other) => non_negative(other.as_i64().unwrap_or(0), path, errs),
        None => {}
    }
}

pub fn validate_pdb(pdb: &Value, old: Option<&Value>, errs: &mut Vec<FieldError>) {
    match old {
        None => validate_object_meta(pdb, name_is_dns_subdomain, errs),
        Some(o) => validate_object_meta_update(pdb, o, errs),
    }
    let spec = sub(pdb, "spec");
    let path = Path::new("spec");
    let (min, max) = (get(spec, "minAvailable"), get(spec, "maxUnavailable"));
    if min.is_some() && max.is_some() {
        errs.push(FieldError::invalid(&path, go_repr("policy.PodDisruptionBudgetSpec{...}"), "minAvailable and maxUnavailable cannot be both set"));
    }
    int_or_percent(min, &path.child("minAvailable"), errs);
    int_or_percent(max, &path.child("maxUnavailable"), errs);
    validate_label_selector(get(spec, "selector"), &path.child("selector"), errs);
    if let Some(p) = opt_str(spec, "unhealthyPodEvictionPolicy") {
        if p != "AlwaysAllow" && p != "IfHealthyBudget" {
            errs.push(FieldError::not_supported(&path.child("unhealthyPodEvictionPolicy"), p, &["AlwaysAllow", "IfHealthyBudget"]));
        }
    }
}

pub fn validate_endpoint_slice(es: &Value, old: Option<&Value>, errs: &mut Vec<FieldError>) {
    if let Some(o) = old {
        validate_object_meta_update(es, o, errs);
    }
    validate_object_meta(es, name_is_dns_subdomain, errs);
    let address_type = str_of(es, "addressType");
    let eps = arr(es, "endpoints");
    let path = Path::new("endpoints");
    if eps.len() > 1000 {
        errs.push(FieldError::too_many(&path, eps.len(), 1000));
    }
    for (i, ep) in eps.iter().enumerate() {
        let p = path.index(i);
        let addrs = arr(ep, "addresses");
        let ap = p.child("addresses");
        if addrs.is_empty() {
            errs.push(FieldError::required(&ap, "must contain at least 1 address"));
        } else if addrs.len() > 100 {
            errs.push(FieldError::too_many(&ap, addrs.len(), 100));
        }
        for (j, a) in addrs.iter().enumerate() {
            let a = a.as_str().unwrap_or_default();
            let aj = ap.index(j);
            match address_type {
                "IPv4" => {
                    if !matches!(parse_ip(a), Some(std::net::IpAddr::V4(_))) {
                        errs.push(FieldError::invalid(&aj, a, "must be a valid IPv4 address"));
                    }
                }
                "IPv6" => {
                    if !matches!(parse_ip(a), Some(std::net::IpAddr::V6(_))) {
                        errs.push(FieldError::invalid(&aj, a, "must be a valid IPv6 address"));
                    }
                }
                "FQDN" => {
                    for m in is_dns1123_subdomain(a) {
                        errs.push(FieldError::invalid(&aj, a, m));
                    }
                }
                _ => {}
            }
        }
        if let Some(node) = opt_str(ep, "nodeName") {
            for m in name_is_dns_subdomain(node, false) {
                errs.push(FieldError::invalid(&p.child("nodeName"), node, m));
            }
        }
        if let Some(h) = opt_str(ep, "hostname") {
            dns_label(h, &p.child("hostname"), errs);
        }
    }
    let ports = arr(es, "ports");
    let pp = Path::new("ports");
    if ports.len() > 20000 {
        errs.push(FieldError::too_many(&pp, ports.len(), 20000));
    }
    let mut names: HashSet<&str> = HashSet::new();
    for (i, port) in ports.iter().enumerate() {
        let p = pp.index(i);
        let name = str_of(port, "name");
        if !name.is_empty() {
            dns_label(name, &p.child("name"), errs);
        }
        if !names.insert(name) {
            errs.push(FieldError::duplicate(&p.child("name"), name));
        }
        match opt_str(port, "protocol") {
            None => errs.push(FieldError::required(&p.child("protocol"), "")),
            Some(proto) => validate_protocol(proto, &p.child("protocol"), errs),
        }
        if let Some(n) = opt_int(port, "port") {
            for m in is_valid_port_num(n) {
                errs.push(FieldError::invalid(&p.child("port"), n, m));
            }
        }
        if let Some(ap) = opt_str(port, "appProtocol") {
            qualified_name(ap, &p.child("appProtocol"), errs);
        }
    }
    let tp = Path::new("addressType");
    if address_type.is_empty() {
        errs.push(FieldError::required(&tp, ""));
    } else if !["FQDN", "IPv4", "IPv6"].contains(&address_type) {
        errs.push(FieldError::not_supported(&tp, address_type, &["FQDN", "IPv4", "IPv6"]));
    }
    if let Some(o) = old {
        let oa = str_of(o, "addressType");
        if oa != address_type {
            errs.push(FieldError::invalid(&tp, address_type, FIELD_IMMUTABLE));
        }
    }
}

pub fn validate_storage_class(sc: &Value, old: Option<&Value>, errs: &mut Vec<FieldError>) {
    validate_object_meta(sc, name_is_dns_subdomain, errs);
    let provisioner = str_of(sc, "provisioner");
    let pp = Path::new("provisioner");
    if provisioner.is_empty() {
        errs.push(FieldError::required(&pp, ""));
    } else {
        qualified_name(&provisioner.to_lowercase(), &pp, errs);
    }
    let mut total = 0;
    for (k, v) in entries(sc, "parameters") {
        if k.is_empty() {
            errs.push(FieldError::invalid(&Path::new("parameters"), "", "key must not be empty"));
        }
        total += k.len() + v.as_str().map(str::len).unwrap_or(0);
    }
    if total > 256 * 1024 {
        errs.push(FieldError::too_long(&Path::new("parameters"), 256 * 1024));
    }
    if let Some(rp) = opt_str(sc, "reclaimPolicy") {
        if rp != "Delete" && rp != "Retain" {
            errs.push(FieldError::not_supported(&Path::new("reclaimPolicy"), rp, &["Delete", "Retain"]));
        }
    }
    match opt_str(sc, "volumeBindingMode") {
        None => errs.push(FieldError::required(&Path::new("volumeBindingMode"), "")),
        Some(m) if m != "Immediate" && m != "WaitForFirstConsumer" => {
            errs.push(FieldError::not_supported(&Path::new("volumeBindingMode"), m, &["Immediate", "WaitForFirstConsumer"]))
        }
        _ => {}
    }
    let Some(old) = old else { return };
    validate_object_meta_update(sc, old, errs);
    if !semantic_eq(get(sc, "parameters"), get(old, "parameters")) {
        errs.push(FieldError::forbidden(&Path::new("parameters"), "updates to parameters are forbidden."));
    }
    if provisioner != str_of(old, "provisioner") {
        errs.push(FieldError::forbidden(&pp, "updates to provisioner are forbidden."));
    }
    if opt_str(sc, "reclaimPolicy") != opt_str(old, "reclaimPolicy") {
        errs.push(FieldError::forbidden(&Path::new("reclaimPolicy"), "updates to reclaimPolicy are forbidden."));
    }
    let (nm, om) = (opt_str(sc, "volumeBindingMode"), opt_str(old, "volumeBindingMode"));
    if nm != om {
        errs.push(FieldError::invalid(&Path::new("volumeBindingMode"), nm.map(Value::from).unwrap_or(Value::Null), FIELD_IMMUTABLE));
    }
}
