//! `metrics.k8s.io/v1beta1`, what metrics-server serves and `kubectl top` reads:
//! NodeMetrics (`/apis/metrics.k8s.io/v1beta1/nodes[/{name}]`) and PodMetrics
//! (`…/pods`, `…/namespaces/{ns}/pods[/{name}]`), list and get, with label (and, for
//! pods, field) selectors. Each request asks the agents concerned for their
//! `/stats/summary` (see skiff-agent's stats module) and answers as metrics-server
//! does: usage cpu in nano-cores printed canonically (`12345678n`, `5m`), memory
//! working set in bytes (`1Mi`, `123456Ki`), `timestamp` and `window` of the CPU rate,
//! only Running pods whose every container has a rate, items sorted by namespace and
//! name, and `podmetrics.metrics.k8s.io "ns/name" not found` for a pod without metrics.
//! Discovery lists the group (discovery.rs) so that kubectl finds it.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};
use skiff_api::quantity::Quantity;

use crate::handlers::{json_response, Selectors};
use crate::kubelet::Endpoint;
use crate::objects;
use crate::query::Query;
use crate::server::AppState;
use crate::status::ApiError;
use crate::storage;

pub const GROUP: &str = "metrics.k8s.io";
pub const VERSION: &str = "v1beta1";
/// How long an agent has to answer.
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(10);

/// The served resources: (plural, kind, namespaced).
pub const RESOURCES: &[(&str, &str, bool)] = &[("nodes", "NodeMetrics", false), ("pods", "PodMetrics", true)];

/// Serves `path` if it is below `/apis/metrics.k8s.io/v1beta1/` (None otherwise).
pub async fn route(state: &AppState, method: &Method, path: &str, q: &Query) -> Option<Result<Response, ApiError>> {
    let rest = path.strip_prefix("/apis/metrics.k8s.io/v1beta1/")?;
    let segs: Vec<&str> = rest.split('/').collect();
    if method != Method::GET {
        return Some(Err(ApiError::method_not_allowed()));
    }
    if q.flag("watch") && q.get("watch").is_some() {
        return Some(Err(ApiError::method_not_allowed()));
    }
    Some(match segs.as_slice() {
        ["nodes"] => nodes(state, None, q).await,
        ["nodes", name] => nodes(state, Some(name), q).await,
        ["pods"] => pods(state, None, None, q).await,
        ["namespaces", ns, "pods"] => pods(state, Some(ns), None, q).await,
        ["namespaces", ns, "pods", name] => pods(state, Some(ns), Some(name), q).await,
        _ => Err(ApiError::no_route()),
    })
}

fn core(plural: &str) -> Result<&'static skiff_api::registry::Resource, ApiError> {
    skiff_api::registry::by_plural("", "v1", plural).ok_or_else(|| ApiError::internal(format!("{plural} are not registered")))
}

fn not_found(plural: &str, name: &str) -> ApiError {
    let mut e = ApiError::new(404, "NotFound", format!("{plural}.{GROUP} \"{name}\" not found"));
    e.details = Some(json!({"name": name, "group": GROUP, "kind": plural}));
    e
}

/// metav1.Time: RFC 3339 to the second.
fn seconds(t: &str) -> String {
    t.parse::<jiff::Timestamp>().map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()).unwrap_or_else(|_| objects::now_rfc3339())
}

/// CPU in nano-cores as metrics-server prints it (`resource.NewScaledQuantity(n, Nano)`).
pub fn cpu_quantity(nano_cores: u64) -> String {
    Quantity::parse(&format!("{nano_cores}n")).map(|q| q.canonical()).unwrap_or_else(|_| format!("{nano_cores}n"))
}

/// Memory in bytes as metrics-server prints it (`resource.NewQuantity(b, BinarySI)`).
pub fn memory_quantity(bytes: u64) -> String {
    Quantity::from_binary_value(i64::try_from(bytes).unwrap_or(i64::MAX)).canonical()
}

/// `{cpu, memory}` usage, timestamp and window from one summary entry (`node`, a pod, a
/// container); None without a CPU rate.
fn usage(entry: &Value) -> Option<(Value, String, String)> {
    let cpu = entry.get("cpu")?;
    let nanos = cpu["usageNanoCores"].as_u64()?;
    let mem = entry.pointer("/memory/workingSetBytes").and_then(Value::as_u64).unwrap_or(0);
    let ts = seconds(cpu["time"].as_str().unwrap_or(""));
    let window = cpu["window"].as_str().unwrap_or("0s").to_string();
    Some((json!({"cpu": cpu_quantity(nanos), "memory": memory_quantity(mem)}), ts, window))
}

/// Asks the agents of these nodes for their summaries, all at once.
async fn summaries(state: &AppState, nodes: &[Value]) -> HashMap<String, Value> {
    let calls = nodes.iter().filter_map(|node| {
        let name = objects::name(node)?.to_string();
        let ep = Endpoint::of_node(node).ok()?;
        Some(async move {
            let fetch = async {
                let resp = state.kubelet.request(&ep, Method::GET, "/stats/summary", &HeaderMap::new(), false).await.ok()?;
                if !resp.status().is_success() {
                    return None;
                }
                use http_body_util::BodyExt;
                let body = resp.into_body().collect().await.ok()?.to_bytes();
                serde_json::from_slice::<Value>(&body).ok()
            };
            match tokio::time::timeout(SCRAPE_TIMEOUT, fetch).await {
                Ok(Some(s)) => Some((name, s)),
                _ => {
                    tracing::debug!("no stats from node {name} at {}", ep.url());
                    None
                }
            }
        })
    });
    futures::future::join_all(calls).await.into_iter().flatten().collect()
}

fn list_objects(state: &AppState, plural: &str, ns: Option<&str>) -> Result<Vec<Value>, ApiError> {
    let r = core(plural)?;
    Ok(state.storage.store.list(&storage::prefix(r, ns), None, None).items.iter().map(|kv| objects::parse_json(&kv.value)).collect())
}

fn list_response(kind: &str, items: Vec<Value>) -> Result<Response, ApiError> {
    json_response(StatusCode::OK, &json!({"kind": kind, "apiVersion": format!("{GROUP}/{VERSION}"), "metadata": {}, "items": items}), &[])
}

fn labels_of(obj: &Value) -> Value {
    objects::labels(obj).map(|l| Value::Object(l.clone())).unwrap_or_else(|| json!({}))
}

async fn nodes(state: &AppState, name: Option<&str>, q: &Query) -> Result<Response, ApiError> {
    let r = core("nodes")?;
    let selected: Vec<Value> = match name {
        Some(n) => match state.storage.get(r, None, n) {
            Ok(kv) => vec![objects::parse_json(&kv.value)],
            Err(e) if e.code == 404 => return Err(not_found("nodemetrics", n)),
            Err(e) => return Err(e),
        },
        None => {
            let sel = Selectors::parse(r, q)?;
            list_objects(state, "nodes", None)?.into_iter().filter(|n| sel.matches(r, n)).collect()
        }
    };
    let stats = summaries(state, &selected).await;
    let mut items = Vec::new();
    for node in &selected {
        let Some(node_name) = objects::name(node) else { continue };
        let Some((usage, timestamp, window)) = stats.get(node_name).and_then(|s| usage(&s["node"])) else { continue };
        items.push(json!({
            "metadata": {"name": node_name, "creationTimestamp": objects::now_rfc3339(), "labels": labels_of(node)},
            "timestamp": timestamp,
            "window": window,
            "usage": usage,
        }));
    }
    match name {
        Some(n) => {
            let Some(mut item) = items.pop() else { return Err(not_found("nodemetrics", n)) };
            item["kind"] = json!("NodeMetrics");
            item["apiVersion"] = json!(format!("{GROUP}/{VERSION}"));
            json_response(StatusCode::OK, &item, &[])
        }
        None => list_response("NodeMetricsList", items),
    }
}

/// A pod's metrics from its node's summary: every container needs a rate.
fn pod_metrics(pod: &Value, summary: &Value) -> Option<Value> {
    let (ns, name) = (objects::meta_str(pod, "namespace")?, objects::name(pod)?);
    let entry = summary["pods"].as_array()?.iter().find(|p| p["podRef"]["namespace"] == ns && p["podRef"]["name"] == name)?;
    let (_, timestamp, window) = usage(entry)?;
    let mut containers = Vec::new();
    for c in entry["containers"].as_array()? {
        let (u, _, _) = usage(c)?;
        containers.push(json!({"name": c["name"], "usage": u}));
    }
    Some(json!({
        "metadata": {"name": name, "namespace": ns, "creationTimestamp": objects::now_rfc3339(), "labels": labels_of(pod)},
        "timestamp": timestamp,
        "window": window,
        "containers": containers,
    }))
}

async fn pods(state: &AppState, ns: Option<&str>, name: Option<&str>, q: &Query) -> Result<Response, ApiError> {
    let r = core("pods")?;
    let selected: Vec<Value> = match (ns, name) {
        (Some(ns), Some(n)) => vec![objects::parse_json(&state.storage.get(r, Some(ns), n)?.value)],
        _ => {
            let sel = Selectors::parse(r, q)?;
            let mut pods: Vec<Value> = list_objects(state, "pods", ns)?.into_iter().filter(|p| sel.matches(r, p)).collect();
            pods.sort_by(|a, b| (objects::meta_str(a, "namespace"), objects::name(a)).cmp(&(objects::meta_str(b, "namespace"), objects::name(b))));
            pods
        }
    };
    let running: Vec<&Value> = selected.iter().filter(|p| p.pointer("/status/phase") == Some(&json!("Running"))).collect();
    let wanted: BTreeMap<&str, ()> = running.iter().filter_map(|p| p.pointer("/spec/nodeName").and_then(Value::as_str)).filter(|n| !n.is_empty()).map(|n| (n, ())).collect();
    let nodes: Vec<Value> = list_objects(state, "nodes", None)?.into_iter().filter(|n| objects::name(n).is_some_and(|x| wanted.contains_key(x))).collect();
    let stats = summaries(state, &nodes).await;
    let items: Vec<Value> = running
        .iter()
        .filter_map(|p| {
            let node = p.pointer("/spec/nodeName").and_then(Value::as_str)?;
            pod_metrics(p, stats.get(node)?)
        })
        .collect();
    match (ns, name) {
        (Some(ns), Some(n)) => {
            let Some(mut item) = items.into_iter().next() else { return Err(not_found("podmetrics", &format!("{ns}/{n}"))) };
            item["kind"] = json!("PodMetrics");
            item["apiVersion"] = json!(format!("{GROUP}/{VERSION}"));
            json_response(StatusCode::OK, &item, &[])
        }
        _ => list_response("PodMetricsList", items),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_as_metrics_server_prints_them() {
        assert_eq!(cpu_quantity(0), "0");
        assert_eq!(cpu_quantity(1_234_567), "1234567n");
        assert_eq!(cpu_quantity(5_000_000), "5m");
        assert_eq!(cpu_quantity(250_000), "250u");
        assert_eq!(cpu_quantity(2_000_000_000), "2");
        assert_eq!(memory_quantity(1_048_576), "1Mi");
        assert_eq!(memory_quantity(12_345 * 1024), "12345Ki");
        assert_eq!(memory_quantity(12_345_678), "12345678");
    }

    #[test]
    fn pod_metrics_from_a_summary() {
        let summary = json!({"pods": [{
            "podRef": {"name": "web", "namespace": "default"},
            "cpu": {"time": "2024-05-01T10:00:00.5Z", "usageNanoCores": 3_000_000, "window": "5.001s"},
            "memory": {"workingSetBytes": 2048},
            "containers": [{"name": "app", "cpu": {"time": "2024-05-01T10:00:00.5Z", "usageNanoCores": 3_000_000, "window": "5.001s"}, "memory": {"workingSetBytes": 2048}}]
        }, {
            "podRef": {"name": "young", "namespace": "default"},
            "memory": {"workingSetBytes": 1},
            "containers": [{"name": "app", "memory": {"workingSetBytes": 1}}]
        }]});
        let pod = json!({"metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}}, "status": {"phase": "Running"}});
        let m = pod_metrics(&pod, &summary).expect("metrics");
        assert_eq!(m["timestamp"], "2024-05-01T10:00:00Z");
        assert_eq!(m["window"], "5.001s");
        assert_eq!(m["metadata"]["labels"], json!({"app": "web"}));
        assert_eq!(m["containers"], json!([{"name": "app", "usage": {"cpu": "3m", "memory": "2Ki"}}]));
        let young = json!({"metadata": {"name": "young", "namespace": "default"}});
        assert!(pod_metrics(&young, &summary).is_none(), "no rate yet");
        let other = json!({"metadata": {"name": "web", "namespace": "other"}});
        assert!(pod_metrics(&other, &summary).is_none());
    }
}
