//! Discovery documents, derived from the resource registry: the legacy ones
//! (`/api`, `/api/v1`, `/apis`, `/apis/{group}`, `/apis/{group}/{version}`) and the
//! aggregated `APIGroupDiscoveryList` that kubectl asks for first on `/api` and `/apis`.
//!
//! Everything here is a pure function of the registry, so callers may build the
//! documents once and cache the bytes.
//!
//! Serving notes (for the HTTP layer): the aggregated form must be sent with
//! `Content-Type: application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList`
//! (or `v=v2beta1` when only that one was accepted): client-go decides which
//! format it got from the response Content-Type alone, not from the body.

use serde_json::{json, Map, Value};
use skiff_api::registry::{api_version, Resource, Subresource, GROUPS, RESOURCES};

use crate::metrics;

/// Media type parameters that select the aggregated form.
pub const AGGREGATED_V2: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";
pub const AGGREGATED_V2BETA1: &str = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList";

/// Which discovery form an `Accept` header asks for, honouring the client's order
/// (kubectl lists v2, then v2beta1, then plain JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiscoveryFormat {
    Legacy,
    AggregatedV2,
    AggregatedV2Beta1,
}

impl DiscoveryFormat {
    /// Parses an Accept header; anything unrecognised means the legacy form.
    pub fn from_accept(accept: &str) -> Self {
        for part in accept.split(',') {
            let mut params = part.split(';').map(str::trim);
            let base = params.next().unwrap_or("");
            if base != "application/json" && base != "*/*" && base != "application/*" {
                continue;
            }
            let (mut g, mut v, mut as_) = (None, None, None);
            for p in params {
                match p.split_once('=') {
                    Some(("g", x)) => g = Some(x),
                    Some(("v", x)) => v = Some(x),
                    Some(("as", x)) => as_ = Some(x),
                    _ => {}
                }
            }
            match (g, v, as_) {
                (None, None, None) => return DiscoveryFormat::Legacy,
                (Some("apidiscovery.k8s.io"), Some("v2"), Some("APIGroupDiscoveryList")) => {
                    return DiscoveryFormat::AggregatedV2
                }
                (Some("apidiscovery.k8s.io"), Some("v2beta1"), Some("APIGroupDiscoveryList")) => {
                    return DiscoveryFormat::AggregatedV2Beta1
                }
                // Some other typed form (e.g. a future version): try the next choice.
                _ => continue,
            }
        }
        DiscoveryFormat::Legacy
    }

    /// The Content-Type to answer with.
    pub fn content_type(self) -> &'static str {
        match self {
            DiscoveryFormat::Legacy => "application/json",
            DiscoveryFormat::AggregatedV2 => AGGREGATED_V2,
            DiscoveryFormat::AggregatedV2Beta1 => AGGREGATED_V2BETA1,
        }
    }
}

/// `/api`: the core group's versions. The server address is unknown to a pure
/// function; clients (kubectl included) do not use it, so an empty one is given.
pub fn api_versions() -> Value {
    api_versions_at("")
}

/// `/api` with the address clients should use, as `host:port`.
pub fn api_versions_at(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": versions_of(""),
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
        ]
    })
}

/// `/apis`: every named group (the core group lives at `/api`) that serves
/// resources. A group with none (the registry lists "autoscaling" for the Scale
/// kind) is left out: with legacy discovery kubectl reports an empty group version
/// as an error ("received empty response for: autoscaling/v1").
pub fn group_list() -> Value {
    let mut groups: Vec<Value> =
        GROUPS.iter().filter(|g| !g.is_empty() && has_resources(g)).map(|g| api_group_body(g)).collect();
    groups.push(metrics_group_body());
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `/apis/{group}`: one named group, or None if it is not served.
pub fn group(name: &str) -> Option<Value> {
    if name != metrics::GROUP && (name.is_empty() || !GROUPS.contains(&name)) {
        return None;
    }
    let mut body = if name == metrics::GROUP { metrics_group_body() } else { api_group_body(name) };
    if let Some(obj) = body.as_object_mut() {
        // Same field order as upstream: kind and apiVersion first.
        let mut out = Map::new();
        out.insert("kind".into(), "APIGroup".into());
        out.insert("apiVersion".into(), "v1".into());
        out.append(obj);
        return Some(Value::Object(out));
    }
    None
}

/// `/api/v1` or `/apis/{group}/{version}`: the APIResourceList, or None if that
/// group/version is not served. Subresources appear as their own entries
/// ("pods/status"), as upstream lists them.
pub fn resource_list(group: &str, version: &str) -> Option<Value> {
    if (group, version) == (metrics::GROUP, metrics::VERSION) {
        let resources: Vec<Value> = metrics::RESOURCES
            .iter()
            .map(|(plural, kind, namespaced)| json!({"name": plural, "singularName": "", "namespaced": namespaced, "kind": kind, "verbs": ["get", "list"]}))
            .collect();
        return Some(json!({
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": api_version(group, version),
            "resources": resources
        }));
    }
    if !GROUPS.contains(&group) || !versions_of(group).contains(&version) {
        return None;
    }
    let mut resources = Vec::new();
    for r in resources_in(group, version) {
        resources.push(legacy_resource(r));
        for &sub in r.subresources {
            resources.push(legacy_subresource(r, sub));
        }
    }
    Some(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": api_version(group, version),
        "resources": resources
    }))
}

/// The aggregated discovery document: for `/api` when `core`, else for `/apis`.
/// `v2beta1` only changes the apiVersion: the v2 and v2beta1 types have the same
/// fields, so one builder serves both.
pub fn aggregated(core: bool, v2beta1: bool) -> Value {
    let mut items: Vec<Value> =
        GROUPS.iter().filter(|g| g.is_empty() == core && has_resources(g)).map(|g| aggregated_group(g)).collect();
    if !core {
        items.push(aggregated_metrics_group());
    }
    let version = if v2beta1 { "v2beta1" } else { "v2" };
    json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": format!("apidiscovery.k8s.io/{version}"),
        "metadata": {},
        "items": items
    })
}

/// The served versions of a group, preferred first. The registry serves one
/// version per group: that of its resources, or "v1" for a group with none yet.
fn versions_of(group: &str) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for r in RESOURCES.iter().filter(|r| r.group == group) {
        if !out.contains(&r.version) {
            out.push(r.version);
        }
    }
    if out.is_empty() {
        out.push("v1");
    }
    out
}

fn has_resources(group: &str) -> bool {
    RESOURCES.iter().any(|r| r.group == group)
}

fn resources_in<'a>(group: &'a str, version: &'a str) -> impl Iterator<Item = &'static Resource> + 'a {
    RESOURCES.iter().filter(move |r| r.group == group && r.version == version)
}

fn api_group_body(group: &str) -> Value {
    let versions: Vec<Value> =
        versions_of(group).into_iter().map(|v| json!({"groupVersion": api_version(group, v), "version": v})).collect();
    let preferred = versions.first().cloned().unwrap_or(Value::Null);
    json!({"name": group, "versions": versions, "preferredVersion": preferred})
}

/// metrics.k8s.io, served from the node agents' stats rather than the registry: in
/// upstream clusters metrics-server adds it through API aggregation.
fn metrics_group_body() -> Value {
    let gv = json!({"groupVersion": api_version(metrics::GROUP, metrics::VERSION), "version": metrics::VERSION});
    json!({"name": metrics::GROUP, "versions": [gv.clone()], "preferredVersion": gv})
}

fn aggregated_metrics_group() -> Value {
    let resources: Vec<Value> = metrics::RESOURCES
        .iter()
        .map(|(plural, kind, namespaced)| {
            json!({
                "resource": plural,
                "responseKind": {"group": "", "version": "", "kind": kind},
                "scope": if *namespaced { "Namespaced" } else { "Cluster" },
                "singularResource": "",
                "verbs": ["get", "list"],
            })
        })
        .collect();
    json!({
        "metadata": {"name": metrics::GROUP, "creationTimestamp": null},
        "versions": [{"version": metrics::VERSION, "resources": resources, "freshness": "Current"}]
    })
}

fn legacy_resource(r: &Resource) -> Value {
    let mut o = Map::new();
    o.insert("name".into(), r.plural.into());
    o.insert("singularName".into(), r.singular.into());
    o.insert("namespaced".into(), r.namespaced.into());
    o.insert("kind".into(), r.kind.into());
    o.insert("verbs".into(), json!(r.verbs()));
    if !r.short_names.is_empty() {
        o.insert("shortNames".into(), json!(r.short_names));
    }
    if !r.categories.is_empty() {
        o.insert("categories".into(), json!(r.categories));
    }
    o.insert("storageVersionHash".into(), storage_version_hash(r).into());
    Value::Object(o)
}

fn legacy_subresource(parent: &Resource, sub: Subresource) -> Value {
    let (group, version, kind) = sub.kind_of(parent);
    let mut o = Map::new();
    o.insert("name".into(), format!("{}/{}", parent.plural, sub.name()).into());
    o.insert("singularName".into(), "".into());
    o.insert("namespaced".into(), parent.namespaced.into());
    // Upstream names the group/version only when the subresource speaks another one
    // (deployments/scale is autoscaling/v1 Scale).
    if (group, version) != (parent.group, parent.version) {
        o.insert("group".into(), group.into());
        o.insert("version".into(), version.into());
    }
    o.insert("kind".into(), kind.into());
    o.insert("verbs".into(), json!(sub.verbs()));
    Value::Object(o)
}

fn aggregated_group(group: &str) -> Value {
    let versions: Vec<Value> = versions_of(group)
        .into_iter()
        .map(|v| {
            let resources: Vec<Value> = resources_in(group, v).map(aggregated_resource).collect();
            let mut o = Map::new();
            o.insert("version".into(), v.into());
            if !resources.is_empty() {
                o.insert("resources".into(), resources.into());
            }
            o.insert("freshness".into(), "Current".into());
            Value::Object(o)
        })
        .collect();
    // The core group has no name; upstream then leaves it out of metadata.
    let metadata = if group.is_empty() {
        json!({"creationTimestamp": null})
    } else {
        json!({"name": group, "creationTimestamp": null})
    };
    json!({"metadata": metadata, "versions": versions})
}

/// The group/version/kind triple as aggregated discovery writes it: group and
/// version are left empty when they are those of the enclosing group version.
fn response_kind(parent: &Resource, (group, version, kind): (&str, &str, &str)) -> Value {
    if (group, version) == (parent.group, parent.version) {
        json!({"group": "", "version": "", "kind": kind})
    } else {
        json!({"group": group, "version": version, "kind": kind})
    }
}

fn aggregated_resource(r: &Resource) -> Value {
    let mut o = Map::new();
    o.insert("resource".into(), r.plural.into());
    o.insert("responseKind".into(), response_kind(r, (r.group, r.version, r.kind)));
    o.insert("scope".into(), if r.namespaced { "Namespaced" } else { "Cluster" }.into());
    o.insert("singularResource".into(), r.singular.into());
    o.insert("verbs".into(), json!(r.verbs()));
    if !r.short_names.is_empty() {
        o.insert("shortNames".into(), json!(r.short_names));
    }
    if !r.categories.is_empty() {
        o.insert("categories".into(), json!(r.categories));
    }
    if !r.subresources.is_empty() {
        let subs: Vec<Value> = r
            .subresources
            .iter()
            .map(|&s| {
                json!({
                    "subresource": s.name(),
                    "responseKind": response_kind(r, s.kind_of(r)),
                    "verbs": s.verbs(),
                })
            })
            .collect();
        o.insert("subresources".into(), subs.into());
    }
    Value::Object(o)
}

/// A stable per-kind hash. Upstream hashes the storage group/version/kind too;
/// clients only compare it for equality, so any stable value will do.
fn storage_version_hash(r: &Resource) -> String {
    use base64::Engine;
    let key = format!("{}/{}/{}", r.group, r.version, r.kind);
    base64::engine::general_purpose::STANDARD.encode(fnv1a64(key.as_bytes()).to_be_bytes())
}

/// FNV-1a, 64 bits: a small stable hash (std's hasher may change between releases).
pub(crate) fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find<'a>(list: &'a Value, key: &str, name: &str) -> Option<&'a Value> {
        list.as_array()?.iter().find(|e| e[key] == name)
    }

    #[test]
    fn api_versions_shape() {
        let v = api_versions_at("10.0.0.1:6443");
        assert_eq!(v["kind"], "APIVersions");
        assert_eq!(v["versions"], json!(["v1"]));
        assert_eq!(v["serverAddressByClientCIDRs"][0]["serverAddress"], "10.0.0.1:6443");
        assert_eq!(api_versions()["serverAddressByClientCIDRs"][0]["clientCIDR"], "0.0.0.0/0");
    }

    #[test]
    fn group_list_has_every_named_group_with_preferred_version() {
        let v = group_list();
        assert_eq!(v["kind"], "APIGroupList");
        for g in GROUPS.iter().filter(|g| !g.is_empty() && has_resources(g)) {
            let e = find(&v["groups"], "name", g).expect("group listed");
            assert_eq!(e["preferredVersion"]["groupVersion"], format!("{g}/v1"));
            assert_eq!(e["versions"][0]["version"], "v1");
        }
        assert!(find(&v["groups"], "name", "").is_none(), "core group belongs to /api");
        assert!(find(&v["groups"], "name", "autoscaling").is_none(), "no resources there");
        let apps = group("apps").expect("apps group");
        assert_eq!(apps["kind"], "APIGroup");
        assert_eq!(apps["preferredVersion"]["version"], "v1");
        assert!(group("").is_none());
        assert!(group("nope.example.com").is_none());
    }

    #[test]
    fn resource_lists_cover_every_kind_and_subresource() {
        for r in RESOURCES {
            let list = resource_list(r.group, r.version).expect("served group version");
            assert_eq!(list["kind"], "APIResourceList");
            assert_eq!(list["groupVersion"], r.api_version());
            let e = find(&list["resources"], "name", r.plural).expect("resource listed");
            assert_eq!(e["kind"], r.kind);
            assert_eq!(e["singularName"], r.singular);
            assert_eq!(e["namespaced"], r.namespaced);
            assert_eq!(e["verbs"], json!(r.verbs()));
            assert_eq!(e["shortNames"].as_array().map_or(0, Vec::len), r.short_names.len());
            assert!(e["storageVersionHash"].as_str().is_some_and(|h| !h.is_empty()));
            for &s in r.subresources {
                let name = format!("{}/{}", r.plural, s.name());
                let e = find(&list["resources"], "name", &name).expect("subresource listed");
                assert_eq!(e["verbs"], json!(s.verbs()));
                assert!(e.get("storageVersionHash").is_none());
            }
        }
        let core = resource_list("", "v1").expect("core");
        let scale = find(&core["resources"], "name", "replicationcontrollers/scale").expect("rc scale");
        assert_eq!(
            (&scale["group"], &scale["version"], &scale["kind"]),
            (&json!("autoscaling"), &json!("v1"), &json!("Scale"))
        );
        let status = find(&core["resources"], "name", "pods/status").expect("pod status");
        assert_eq!(status["kind"], "Pod");
        assert!(status.get("group").is_none(), "same group/version is implied");
        let evict = find(&core["resources"], "name", "pods/eviction").expect("eviction");
        assert_eq!(evict["group"], "policy");
        assert!(resource_list("apps", "v2").is_none());
        assert!(resource_list("nope", "v1").is_none());
        // A served group with no resources yet still answers.
        assert_eq!(resource_list("autoscaling", "v1").map(|l| l["resources"].clone()), Some(json!([])));
    }

    #[test]
    fn aggregated_documents() {
        for v2beta1 in [false, true] {
            let core = aggregated(true, v2beta1);
            let apis = aggregated(false, v2beta1);
            let want = if v2beta1 { "apidiscovery.k8s.io/v2beta1" } else { "apidiscovery.k8s.io/v2" };
            assert_eq!(core["apiVersion"], want);
            assert_eq!(core["kind"], "APIGroupDiscoveryList");
            assert_eq!(core["items"].as_array().map(Vec::len), Some(1));
            assert!(core["items"][0]["metadata"].get("name").is_none());
            let names: Vec<&Value> = apis["items"]
                .as_array()
                .map(|i| i.iter().map(|g| &g["metadata"]["name"]).collect())
                .unwrap_or_default();
            assert!(!names.contains(&&json!("autoscaling")), "a group without resources is left out");
            for r in RESOURCES {
                let doc = if r.group.is_empty() { &core } else { &apis };
                let g = doc["items"]
                    .as_array()
                    .and_then(|items| items.iter().find(|i| i["metadata"]["name"].as_str().unwrap_or("") == r.group))
                    .expect("group present");
                let ver = find(&g["versions"], "version", r.version).expect("version present");
                assert_eq!(ver["freshness"], "Current");
                let e = find(&ver["resources"], "resource", r.plural).expect("resource present");
                assert_eq!(e["responseKind"]["kind"], r.kind);
                assert_eq!(e["scope"], if r.namespaced { "Namespaced" } else { "Cluster" });
                assert_eq!(e["singularResource"], r.singular);
                assert_eq!(e["verbs"], json!(r.verbs()));
                for &s in r.subresources {
                    let se = find(&e["subresources"], "subresource", s.name()).expect("subresource");
                    assert_eq!(se["responseKind"]["kind"], s.kind_of(r).2);
                    assert_eq!(se["verbs"], json!(s.verbs()));
                }
            }
        }
        let apis = aggregated(false, false);
        let deploy = apis["items"]
            .as_array()
            .and_then(|i| i.iter().find(|g| g["metadata"]["name"] == "apps"))
            .and_then(|g| find(&g["versions"][0]["resources"], "resource", "deployments"))
            .expect("deployments");
        let scale = find(&deploy["subresources"], "subresource", "scale").expect("scale");
        assert_eq!(scale["responseKind"], json!({"group": "autoscaling", "version": "v1", "kind": "Scale"}));
        assert_eq!(deploy["responseKind"], json!({"group": "", "version": "", "kind": "Deployment"}));
        assert_eq!(deploy["categories"], json!(["all"]));
    }

    #[test]
    fn metrics_group_is_discoverable() {
        let list = group_list();
        let m = find(&list["groups"], "name", "metrics.k8s.io").expect("metrics group listed");
        assert_eq!(m["preferredVersion"]["groupVersion"], "metrics.k8s.io/v1beta1");
        assert_eq!(group("metrics.k8s.io").map(|g| g["kind"].clone()), Some(json!("APIGroup")));
        let rl = resource_list("metrics.k8s.io", "v1beta1").expect("resource list");
        let pods = find(&rl["resources"], "name", "pods").expect("pods");
        assert_eq!((&pods["kind"], &pods["namespaced"], &pods["verbs"]), (&json!("PodMetrics"), &json!(true), &json!(["get", "list"])));
        assert!(resource_list("metrics.k8s.io", "v1").is_none());
        let agg = aggregated(false, false);
        let g = agg["items"].as_array().and_then(|i| i.iter().find(|g| g["metadata"]["name"] == "metrics.k8s.io")).expect("aggregated");
        let nodes = find(&g["versions"][0]["resources"], "resource", "nodes").expect("nodes");
        assert_eq!((&nodes["responseKind"]["kind"], &nodes["scope"]), (&json!("NodeMetrics"), &json!("Cluster")));
        assert!(aggregated(true, false)["items"].as_array().is_some_and(|i| i.iter().all(|g| g["metadata"]["name"] != "metrics.k8s.io")));
    }

    #[test]
    fn accept_negotiation() {
        let kubectl = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
        assert_eq!(DiscoveryFormat::from_accept(kubectl), DiscoveryFormat::AggregatedV2);
        let beta = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
        assert_eq!(DiscoveryFormat::from_accept(beta), DiscoveryFormat::AggregatedV2Beta1);
        assert_eq!(DiscoveryFormat::from_accept("application/json"), DiscoveryFormat::Legacy);
        assert_eq!(DiscoveryFormat::from_accept(""), DiscoveryFormat::Legacy);
        let future = "application/json;g=apidiscovery.k8s.io;v=v3;as=APIGroupDiscoveryList, application/json; g=apidiscovery.k8s.io; v=v2; as=APIGroupDiscoveryList";
        assert_eq!(DiscoveryFormat::from_accept(future), DiscoveryFormat::AggregatedV2);
        assert_eq!(DiscoveryFormat::AggregatedV2.content_type(), AGGREGATED_V2);
    }

    #[test]
    fn storage_version_hashes_are_distinct_and_stable() {
        let hashes: Vec<String> = RESOURCES.iter().map(storage_version_hash).collect();
        for (i, h) in hashes.iter().enumerate() {
            assert!(!hashes[i + 1..].contains(h));
        }
        assert_eq!(storage_version_hash(&RESOURCES[0]), storage_version_hash(&RESOURCES[0]));
    }
}
