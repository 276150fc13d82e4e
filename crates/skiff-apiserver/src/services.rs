//! ClusterIP and NodePort allocation for Services, as upstream's service registry does
//! it: from 10.96.0.0/12 (10.96.0.1 is the `kubernetes` Service) and 30000-32767.

use std::collections::HashSet;
use std::net::Ipv4Addr;

use serde_json::{json, Value};
use skiff_api::validation::{ErrorType, FieldError};
use skiff_store::Store;

pub const SERVICE_CIDR_BASE: Ipv4Addr = Ipv4Addr::new(10, 96, 0, 0);
const SERVICE_CIDR_SIZE: u32 = 1 << 20;
const NODE_PORTS: std::ops::RangeInclusive<i64> = 30000..=32767;

/// Fills in spec.clusterIP(s) and missing nodePorts of a new Service, refusing ones
/// already taken by another Service.
pub fn allocate(store: &Store, svc: &mut Value) -> Result<(), Vec<FieldError>> {
    let (used_ips, used_ports) = in_use(store);
    let spec_type = svc.pointer("/spec/type").and_then(Value::as_str).unwrap_or("ClusterIP").to_string();
    let mut errs = Vec::new();
    if spec_type != "ExternalName" {
        match svc.pointer("/spec/clusterIP").and_then(Value::as_str).filter(|s| !s.is_empty()) {
            Some("None") => {}
            Some(ip) => {
                if used_ips.contains(ip) {
                    errs.push(FieldError {
                        error_type: ErrorType::Invalid,
                        field: "spec.clusterIPs".into(),
                        bad_value: Some(json!([ip])),
                        detail: format!("failed to allocate IP {ip}: provided IP is already allocated"),
                    });
                }
            }
            None => match free_ip(&used_ips) {
                Some(ip) => {
                    svc["spec"]["clusterIP"] = json!(ip);
                    svc["spec"]["clusterIPs"] = json!([ip]);
                }
                None => errs.push(FieldError {
                    error_type: ErrorType::Internal,
                    field: "spec.clusterIPs".into(),
                    bad_value: None,
                    detail: "failed to allocate a serviceIP: range is full".into(),
                }),
            },
        }
    }
    if spec_type == "NodePort" || spec_type == "LoadBalancer" {
        let mut taken = used_ports;
        if let Some(ports) = svc.pointer_mut("/spec/ports").and_then(Value::as_array_mut) {
            for (i, p) in ports.iter_mut().enumerate() {
                match p.get("nodePort").and_then(Value::as_i64).filter(|n| *n != 0) {
                    Some(n) if taken.contains(&n) => errs.push(FieldError {
                        error_type: ErrorType::Invalid,
                        field: format!("spec.ports[{i}].nodePort"),
                        bad_value: Some(json!(n)),
                        detail: "provided port is already allocated".into(),
                    }),
                    Some(n) if !NODE_PORTS.contains(&n) => errs.push(FieldError {
                        error_type: ErrorType::Invalid,
                        field: format!("spec.ports[{i}].nodePort"),
                        bad_value: Some(json!(n)),
                        detail: "provided port is not in the valid range. The range of valid ports is 30000-32767".into(),
                    }),
                    Some(n) => {
                        taken.insert(n);
                    }
                    None => {
                        let start = 30000 + rand::random_range(0..2768);
                        let free = (0..2768).map(|k| 30000 + (start - 30000 + k) % 2768).find(|n| !taken.contains(n));
                        if let Some(n) = free {
                            taken.insert(n);
                            p["nodePort"] = json!(n);
                        }
                    }
                }
            }
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(errs)
    }
}

fn in_use(store: &Store) -> (HashSet<String>, HashSet<i64>) {
    let mut ips = HashSet::new();
    let mut ports = HashSet::new();
    for kv in store.list("/core/services/", None, None).items {
        let v: Value = serde_json::from_slice(&kv.value).unwrap_or(Value::Null);
        if let Some(ip) = v.pointer("/spec/clusterIP").and_then(Value::as_str) {
            ips.insert(ip.to_string());
        }
        for p in v.pointer("/spec/ports").and_then(Value::as_array).into_iter().flatten() {
            if let Some(n) = p.get("nodePort").and_then(Value::as_i64) {
                ports.insert(n);
            }
        }
    }
    (ips, ports)
}

fn free_ip(used: &HashSet<String>) -> Option<String> {
    let base = u32::from(SERVICE_CIDR_BASE);
    // Random start so that deleted and re-created Services rarely reuse an IP at once.
    let start = rand::random_range(2..SERVICE_CIDR_SIZE - 1);
    (0..SERVICE_CIDR_SIZE - 3)
        .map(|k| 2 + (start - 2 + k) % (SERVICE_CIDR_SIZE - 3))
        .map(|off| Ipv4Addr::from(base + off).to_string())
        .find(|ip| !used.contains(ip))
}
