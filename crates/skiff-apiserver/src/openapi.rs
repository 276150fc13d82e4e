//! The OpenAPI documents kubectl reads: `/openapi/v2` (JSON, and the gnostic
//! protobuf kubectl asks for) and `/openapi/v3` (a root that points at one JSON
//! document per group version).
//!
//! What kubectl needs from them:
//! - Every kind's PATCH operation (found by `x-kubernetes-group-version-kind`) must
//!   list the `fieldValidation` query parameter, or kubectl falls back to validating
//!   on the client and never sends `fieldValidation=Strict`.
//! - `kubectl explain` walks `components.schemas` (v3) or `definitions` (v2): the
//!   schemas come from k8s-openapi's `schemars` impls, keyed by the upstream names
//!   (`io.k8s.api.apps.v1.Deployment`).
//! - `kubectl apply` computes its strategic merge patch from the v3 schema when the
//!   PATCH operation lists `application/strategic-merge-patch+json`; see
//!   [`PATCH_CONSUMES`] for why we do not list it.
//!
//! Documents are built lazily, on first request, and then kept: building the schemas
//! costs tens of milliseconds, which must not delay readiness.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use bytes::Bytes;
use k8s_openapi::schemars::{generate::SchemaSettings, JsonSchema, SchemaGenerator};
use serde_json::{json, Map, Value};
use skiff_api::registry::{api_version, Resource, Subresource, GROUPS, RESOURCES};

use crate::discovery::fnv1a64;

/// The Kubernetes release these documents describe (the server reports v1.33).
const INFO_VERSION: &str = "v1.33.0";
const V3_REF: &str = "#/components/schemas/";
const V2_REF: &str = "#/definitions/";
const GVK_EXT: &str = "x-kubernetes-group-version-kind";
const PATCH_SCHEMA: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch";
const STATUS_SCHEMA: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Status";
const SCALE_SCHEMA: &str = "io.k8s.api.autoscaling.v1.Scale";

/// Patch media types we advertise. Strategic merge patch is deliberately absent
/// (the server still accepts it). kubectl's apply patcher (patcher.go) first asks the
/// v3 document: if the PATCH operation lists strategic-merge-patch it builds the
/// patch from the v3 schema's `x-kubernetes-patch-strategy`/`-merge-key`
/// extensions, which k8s-openapi's schemas lack, so lists such as `containers`
/// would be replaced wholesale instead of merged by name. Without it, kubectl
/// tries v2, where the PATCH `consumes` likewise lacks it (so it does not use the
/// v2 schema either), and then computes the strategic patch from its compiled-in
/// Go types: every registry kind is a built-in kind, so those are exactly
/// upstream's patch semantics.
pub const PATCH_CONSUMES: &[&str] =
    &["application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml"];

/// The Content-Type of the v2 protobuf answer. kubectl asks for
/// `application/com.github.proto-openapi.spec.v2@v1.0+protobuf`, but '@' is not
/// legal in a media type and client-go runs Go's mime parser on the response
/// ("mime: unexpected content after media subtype"), so upstream answers with this
/// dotted spelling, and so must we.
pub const V2_PROTOBUF_CONTENT_TYPE: &str = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

/// Whether an Accept header on `/openapi/v2` selects the protobuf encoding: the
/// first listed type we serve wins (either protobuf spelling, else JSON).
pub fn v2_wants_protobuf(accept: &str) -> bool {
    for part in accept.split(',') {
        let base = part.split(';').next().unwrap_or("").trim();
        if base.starts_with("application/com.github.proto-openapi.spec.v2") {
            return true;
        }
        if matches!(base, "application/json" | "application/*" | "*/*") {
            return false;
        }
    }
    false
}

/// The served OpenAPI documents. Cheap to create; each document is built on first use.
#[derive(Default)]
pub struct OpenApi {
    schemas: OnceLock<Map<String, Value>>,
    v2: OnceLock<V2Docs>,
    v3: OnceLock<V3Docs>,
}

struct V2Docs {
    json: Bytes,
    protobuf: Bytes,
    etag: String,
}

struct V3Docs {
    root: Bytes,
    /// ("apis/apps/v1", hash, document)
    groups: Vec<(String, String, Bytes)>,
}

impl OpenApi {
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds every document now (e.g. from a background task after the server is ready).
    pub fn prebuild(&self) {
        self.v2_docs();
        self.v3_docs();
    }

    /// `/openapi/v2` as `application/com.github.proto-openapi.spec.v2@v1.0+protobuf`.
    pub fn v2_protobuf(&self) -> Bytes {
        self.v2_docs().protobuf.clone()
    }

    /// `/openapi/v2` as `application/json`.
    pub fn v2_json(&self) -> Bytes {
        self.v2_docs().json.clone()
    }

    /// The ETag header value for `/openapi/v2` (quoted, as upstream sends it); it
    /// covers both encodings since they carry the same document.
    pub fn v2_etag(&self) -> String {
        self.v2_docs().etag.clone()
    }

    /// `/openapi/v3`: `{"paths": {"api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=..."}}}`.
    pub fn v3_root(&self) -> Bytes {
        self.v3_docs().root.clone()
    }

    /// `/openapi/v3/{path}` for `path` = "api/v1" or "apis/apps/v1" (a leading '/' is tolerated).
    pub fn v3_group(&self, path: &str) -> Option<Bytes> {
        let path = path.trim_start_matches('/');
        self.v3_docs().groups.iter().find(|(p, _, _)| p == path).map(|(_, _, doc)| doc.clone())
    }

    /// The hash of a v3 group document, as in its `?hash=` URL. Upstream answers a
    /// request whose `hash` matches with `ETag: "<hash>"` and
    /// `Cache-Control: public, immutable`, and redirects (301) one with a stale hash
    /// to the current URL.
    pub fn v3_hash(&self, path: &str) -> Option<String> {
        let path = path.trim_start_matches('/');
        self.v3_docs().groups.iter().find(|(p, _, _)| p == path).map(|(_, h, _)| h.clone())
    }

    fn schemas(&self) -> &Map<String, Value> {
        self.schemas.get_or_init(build_schemas)
    }

    fn v2_docs(&self) -> &V2Docs {
        self.v2.get_or_init(|| {
            let doc = v2_document(self.schemas());
            let json = Bytes::from(serde_json::to_vec(&doc).unwrap_or_default());
            let protobuf = Bytes::from(prost::Message::encode_to_vec(&gnostic::document(&doc)));
            let etag = format!("\"{}\"", doc_hash(&json));
            V2Docs { json, protobuf, etag }
        })
    }

    fn v3_docs(&self) -> &V3Docs {
        self.v3.get_or_init(|| {
            let schemas = self.schemas();
            let mut groups = Vec::new();
            let mut root_paths = Map::new();
            for (group, version) in served_group_versions() {
                let path = v3_path(group, version);
                let doc = v3_document(schemas, group, version);
                let bytes = Bytes::from(serde_json::to_vec(&doc).unwrap_or_default());
                let hash = doc_hash(&bytes);
                root_paths
                    .insert(path.clone(), json!({"serverRelativeURL": format!("/openapi/v3/{path}?hash={hash}")}));
                groups.push((path, hash, bytes));
            }
            let root = json!({"paths": root_paths});
            V3Docs { root: Bytes::from(serde_json::to_vec(&root).unwrap_or_default()), groups }
        })
    }
}

/// "api/v1", "apis/apps/v1": the keys of the v3 root.
fn v3_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// Group versions that serve at least one resource, in registry order.
fn served_group_versions() -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<(&'static str, &'static str)> = Vec::new();
    for g in GROUPS {
        for r in RESOURCES.iter().filter(|r| r.group == *g) {
            if !out.contains(&(r.group, r.version)) {
                out.push((r.group, r.version));
            }
        }
    }
    out
}

/// Hex of two differently seeded FNV-1a passes: stable across builds and Rust
/// releases, which matters because kubectl caches documents by this hash.
fn doc_hash(bytes: &[u8]) -> String {
    let a = fnv1a64(bytes);
    let mut salted = Vec::with_capacity(bytes.len() + 1);
    salted.push(0x5a);
    salted.extend_from_slice(bytes);
    let b = fnv1a64(&salted);
    format!("{a:016X}{b:016X}")
}

// ---------------------------------------------------------------------------
// Schemas

type SchemaFn = fn(&mut SchemaGenerator) -> k8s_openapi::schemars::Schema;

fn sub<T: JsonSchema>(g: &mut SchemaGenerator) -> k8s_openapi::schemars::Schema {
    g.subschema_for::<T>()
}

/// The Rust type of each registry kind, by (group, version, kind).
fn kind_schema(group: &str, version: &str, kind: &str) -> Option<SchemaFn> {
    use k8s_openapi::api::{apps, batch, coordination, core, discovery, events, policy, storage};
    let f: SchemaFn = match (group, version, kind) {
        ("", "v1", "Namespace") => sub::<core::v1::Namespace>,
        ("", "v1", "Pod") => sub::<core::v1::Pod>,
        ("", "v1", "Node") => sub::<core::v1::Node>,
        ("", "v1", "Service") => sub::<core::v1::Service>,
        ("", "v1", "Endpoints") => sub::<core::v1::Endpoints>,
        ("", "v1", "ConfigMap") => sub::<core::v1::ConfigMap>,
        ("", "v1", "Secret") => sub::<core::v1::Secret>,
        ("", "v1", "Event") => sub::<core::v1::Event>,
        ("", "v1", "ServiceAccount") => sub::<core::v1::ServiceAccount>,
        ("", "v1", "PersistentVolume") => sub::<core::v1::PersistentVolume>,
        ("", "v1", "PersistentVolumeClaim") => sub::<core::v1::PersistentVolumeClaim>,
        ("", "v1", "ReplicationController") => sub::<core::v1::ReplicationController>,
        ("", "v1", "LimitRange") => sub::<core::v1::LimitRange>,
        ("", "v1", "ResourceQuota") => sub::<core::v1::ResourceQuota>,
        ("", "v1", "Binding") => sub::<core::v1::Binding>,
        ("apps", "v1", "Deployment") => sub::<apps::v1::Deployment>,
        ("apps", "v1", "ReplicaSet") => sub::<apps::v1::ReplicaSet>,
        ("apps", "v1", "DaemonSet") => sub::<apps::v1::DaemonSet>,
        ("apps", "v1", "StatefulSet") => sub::<apps::v1::StatefulSet>,
        ("apps", "v1", "ControllerRevision") => sub::<apps::v1::ControllerRevision>,
        ("batch", "v1", "Job") => sub::<batch::v1::Job>,
        ("batch", "v1", "CronJob") => sub::<batch::v1::CronJob>,
        ("coordination.k8s.io", "v1", "Lease") => sub::<coordination::v1::Lease>,
        ("events.k8s.io", "v1", "Event") => sub::<events::v1::Event>,
        ("policy", "v1", "PodDisruptionBudget") => sub::<policy::v1::PodDisruptionBudget>,
        ("policy", "v1", "Eviction") => sub::<policy::v1::Eviction>,
        ("discovery.k8s.io", "v1", "EndpointSlice") => sub::<discovery::v1::EndpointSlice>,
        ("storage.k8s.io", "v1", "StorageClass") => sub::<storage::v1::StorageClass>,
        ("autoscaling", "v1", "Scale") => sub::<k8s_openapi::api::autoscaling::v1::Scale>,
        ("apiextensions.k8s.io", "v1", "CustomResourceDefinition") => {
            sub::<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition>
        }
        _ => return None,
    };
    Some(f)
}

/// Upstream's schema name for a kind: "io.k8s.api.apps.v1.Deployment".
fn upstream_name(group: &str, version: &str, kind: &str) -> String {
    if group == "apiextensions.k8s.io" {
        return format!("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.{version}.{kind}");
    }
    let package = match group {
        "" => "core",
        g => g.split('.').next().unwrap_or(g),
    };
    format!("io.k8s.api.{package}.{version}.{kind}")
}

fn gvk(group: &str, version: &str, kind: &str) -> Value {
    json!({"group": group, "kind": kind, "version": version})
}

/// Every schema the documents use, keyed by upstream name, with `$ref`s pointing at
/// `#/components/schemas/` and refs left next to their sibling `description`.
fn build_schemas() -> Map<String, Value> {
    let mut settings = SchemaSettings::openapi3();
    // No transforms: the v2 and v3 documents each reshape refs their own way.
    settings.transforms = Vec::new();
    settings.meta_schema = None;
    let mut gen = settings.into_generator();

    // (schema name, gvk) for each kind given an x-kubernetes-group-version-kind.
    let mut tagged: Vec<(String, Value)> = Vec::new();
    let mut fallbacks: Vec<(String, Value)> = Vec::new();
    let mut kinds: Vec<(&str, &str, &str)> = RESOURCES.iter().map(|r| (r.group, r.version, r.kind)).collect();
    for r in RESOURCES {
        for &s in r.subresources {
            let k = s.kind_of(r);
            if !kinds.contains(&k) && kind_schema(k.0, k.1, k.2).is_some() {
                kinds.push(k);
            }
        }
    }
    for (g, v, k) in kinds {
        match kind_schema(g, v, k) {
            Some(f) => {
                let reference = f(&mut gen);
                let name = reference
                    .get("$ref")
                    .and_then(Value::as_str)
                    .and_then(|r| r.strip_prefix(V3_REF))
                    .map(str::to_string)
                    .unwrap_or_else(|| upstream_name(g, v, k));
                tagged.push((name, gvk(g, v, k)));
            }
            None => {
                // A kind without a Rust type still gets a permissive schema so that
                // paths can point at it.
                let name = upstream_name(g, v, k);
                fallbacks.push((
                    name.clone(),
                    json!({
                        "description": format!("{k} ({}).", api_version(g, v)),
                        "type": "object",
                        "x-kubernetes-preserve-unknown-fields": true,
                    }),
                ));
                tagged.push((name, gvk(g, v, k)));
            }
        }
    }
    use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
    // Referenced by paths (delete responses, patch bodies) and by the List kinds.
    for f in [sub::<meta::Status> as SchemaFn, sub::<meta::ListMeta>, sub::<meta::Patch>] {
        f(&mut gen);
    }
    tagged.push((STATUS_SCHEMA.to_string(), gvk("", "v1", "Status")));

    let mut schemas = gen.take_definitions(false);
    for (name, schema) in fallbacks {
        schemas.insert(name, schema);
    }
    // The List kinds, which k8s-openapi models generically.
    for r in RESOURCES {
        let Some(item) = tagged.iter().find(|(_, t)| *t == gvk(r.group, r.version, r.kind)).map(|(n, _)| n.clone())
        else {
            continue;
        };
        let list_name = format!("{item}List");
        schemas.insert(list_name.clone(), list_schema(r, &item));
        tagged.push((list_name, gvk(r.group, r.version, &format!("{}List", r.kind))));
    }
    for (name, gvk) in tagged {
        let Some(Value::Object(schema)) = schemas.get_mut(&name) else { continue };
        // k8s-openapi marks metadata required because its Rust field is not an
        // Option; upstream does not, and explain would print "-required-".
        if let Some(Value::Array(req)) = schema.get_mut("required") {
            req.retain(|f| f != "metadata");
            if req.is_empty() {
                schema.remove("required");
            }
        }
        match schema.get_mut(GVK_EXT) {
            Some(Value::Array(list)) => list.push(gvk),
            _ => {
                schema.insert(GVK_EXT.into(), Value::Array(vec![gvk]));
            }
        }
    }
    schemas
}

fn list_schema(r: &Resource, item: &str) -> Value {
    json!({
        "description": format!("{}List is a list of {} objects.", r.kind, r.kind),
        "type": "object",
        "properties": {
            "apiVersion": {"description": "APIVersion defines the versioned schema of this representation of an object.", "type": "string"},
            "items": {"description": format!("List of {}.", r.plural), "type": "array", "items": {"$ref": format!("{V3_REF}{item}")}},
            "kind": {"description": "Kind is a string value representing the REST resource this object represents.", "type": "string"},
            "metadata": {"$ref": format!("{V3_REF}io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta"), "description": "Standard list metadata."},
        },
        "required": ["items"],
    })
}

/// Every schema name reachable from `roots` through `$ref`s.
fn closure(schemas: &Map<String, Value>, roots: Vec<String>) -> BTreeSet<String> {
    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(o) => {
                for (k, x) in o {
                    if k == "$ref" {
                        if let Some(name) = x.as_str().and_then(|r| r.strip_prefix(V3_REF)) {
                            out.push(name.to_string());
                        }
                    } else {
                        refs(x, out);
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }
    let mut seen = BTreeSet::new();
    let mut todo = roots;
    while let Some(name) = todo.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        if let Some(s) = schemas.get(&name) {
            refs(s, &mut todo);
        }
    }
    seen
}

/// v3 form: a `$ref` with siblings becomes `allOf: [{$ref}]` plus the siblings, as
/// upstream writes it (OpenAPI 3.0 ignores siblings of `$ref`).
fn to_v3(v: &Value) -> Value {
    match v {
        Value::Object(o) => {
            let mut out = Map::new();
            let wrap = o.contains_key("$ref") && o.len() > 1;
            for (k, x) in o {
                if wrap && k == "$ref" {
                    out.insert("allOf".into(), json!([{"$ref": x}]));
                } else {
                    out.insert(k.clone(), to_v3(x));
                }
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(to_v3).collect()),
        x => x.clone(),
    }
}

/// v2 form: refs point at `#/definitions/`; siblings of `$ref` stay (as upstream's).
fn to_v2(v: &Value) -> Value {
    match v {
        Value::Object(o) => {
            let mut out = Map::new();
            for (k, x) in o {
                let x = match (k.as_str(), x.as_str().and_then(|r| r.strip_prefix(V3_REF))) {
                    ("$ref", Some(name)) => Value::String(format!("{V2_REF}{name}")),
                    _ => to_v2(x),
                };
                out.insert(k.clone(), x);
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(to_v2).collect()),
        x => x.clone(),
    }
}

/// The schema name of a kind (gvk), looked up through the extension we added.
fn schema_name_of(schemas: &Map<String, Value>, group: &str, version: &str, kind: &str) -> Option<String> {
    let want = gvk(group, version, kind);
    schemas
        .iter()
        .find(|(_, s)| s.get(GVK_EXT).and_then(Value::as_array).is_some_and(|l| l.contains(&want)))
        .map(|(n, _)| n.clone())
}

// ---------------------------------------------------------------------------
// Paths and operations, shared by v2 and v3

#[derive(Clone, Copy)]
struct Param {
    name: &'static str,
    location: &'static str,
    ty: &'static str,
    description: &'static str,
}

const fn query(name: &'static str, ty: &'static str, description: &'static str) -> Param {
    Param { name, location: "query", ty, description }
}

const P_NAME: Param = Param { name: "name", location: "path", ty: "string", description: "name of the object" };
const P_NAMESPACE: Param = Param {
    name: "namespace",
    location: "path",
    ty: "string",
    description: "object name and auth scope, such as for teams and projects",
};
const P_PRETTY: Param = query("pretty", "string", "If 'true', then the output is pretty printed.");
const P_DRY_RUN: Param =
    query("dryRun", "string", "When present, indicates that modifications should not be persisted. Valid values: All.");
const P_FIELD_MANAGER: Param =
    query("fieldManager", "string", "A name associated with the actor or entity that is making these changes.");
const P_FIELD_VALIDATION: Param = query(
    "fieldValidation",
    "string",
    "How the server handles fields in the request that it does not know or that are duplicated: Ignore, Warn (the default) or Strict.",
);
const P_FORCE: Param =
    query("force", "boolean", "Force is going to \"force\" Apply requests. It must be unset for other patch types.");
const P_GRACE: Param =
    query("gracePeriodSeconds", "integer", "The duration in seconds before the object should be deleted.");
const P_PROPAGATION: Param = query(
    "propagationPolicy",
    "string",
    "Whether and how garbage collection will be performed: Orphan, Background or Foreground.",
);
const P_ORPHAN: Param = query("orphanDependents", "boolean", "Deprecated: use propagationPolicy.");
const LIST_PARAMS: &[Param] = &[
    query("allowWatchBookmarks", "boolean", "Requests watch events with type BOOKMARK."),
    query("continue", "string", "The continue token of a previous paginated list call."),
    query("fieldSelector", "string", "A selector to restrict the list of returned objects by their fields."),
    query("labelSelector", "string", "A selector to restrict the list of returned objects by their labels."),
    query("limit", "integer", "The maximum number of responses to return for a list call."),
    query("resourceVersion", "string", "Constrains which resource versions a request may be served from."),
    query("resourceVersionMatch", "string", "How resourceVersion is applied to list calls."),
    query("sendInitialEvents", "boolean", "Whether a watch starts with synthetic events for the current state."),
    query("timeoutSeconds", "integer", "Timeout for the list/watch call."),
    query("watch", "boolean", "Watch for changes to the described resources and return them as a stream."),
];

#[derive(Clone, Copy, PartialEq)]
enum Body {
    None,
    Object,
    Patch,
}

struct Op {
    method: &'static str,
    action: &'static str,
    id: String,
    description: String,
    gvk: (&'static str, &'static str, &'static str),
    params: Vec<Param>,
    body: Body,
    /// Schema name of the response body, if known.
    response: Option<String>,
}

struct PathItem {
    path: String,
    params: Vec<Param>,
    ops: Vec<Op>,
}

/// "AppsV1", "CoreV1", "CoordinationV1": as in upstream operation ids.
fn gv_camel(group: &str, version: &str) -> String {
    let g = if group.is_empty() { "core" } else { group.split('.').next().unwrap_or(group) };
    format!("{}{}", capitalize(g), capitalize(version))
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn tag(group: &str, version: &str) -> String {
    let g = if group.is_empty() { "core" } else { group.split('.').next().unwrap_or(group) };
    format!("{g}_{version}")
}

fn paths_for(schemas: &Map<String, Value>, r: &'static Resource) -> Vec<PathItem> {
    let prefix =
        if r.group.is_empty() { format!("/api/{}", r.version) } else { format!("/apis/{}/{}", r.group, r.version) };
    let gvc = gv_camel(r.group, r.version);
    let scope = if r.namespaced { "Namespaced" } else { "" };
    let own = (r.group, r.version, r.kind);
    let item = schema_name_of(schemas, r.group, r.version, r.kind);
    let list = item.as_ref().map(|n| format!("{n}List"));
    let collection = if r.namespaced {
        format!("{prefix}/namespaces/{{namespace}}/{}", r.plural)
    } else {
        format!("{prefix}/{}", r.plural)
    };
    let scope_params: Vec<Param> = if r.namespaced { vec![P_NAMESPACE, P_PRETTY] } else { vec![P_PRETTY] };
    let mut item_params = vec![P_NAME];
    item_params.extend(scope_params.iter().copied());
    let op = |method, action, verb: &str, suffix: &str, what: String, params: Vec<Param>, body, response| Op {
        method,
        action,
        id: format!("{verb}{gvc}{scope}{}{suffix}", r.kind),
        description: what,
        gvk: own,
        params,
        body,
        response,
    };
    let writes = |extra: &[Param]| {
        let mut p = vec![P_DRY_RUN, P_FIELD_MANAGER, P_FIELD_VALIDATION];
        p.extend_from_slice(extra);
        p
    };
    let kind = r.kind;
    let mut out = vec![
        PathItem {
            path: collection.clone(),
            params: scope_params.clone(),
            ops: vec![
                op(
                    "get",
                    "list",
                    "list",
                    "",
                    format!("list or watch objects of kind {kind}"),
                    LIST_PARAMS.to_vec(),
                    Body::None,
                    list.clone(),
                ),
                op("post", "post", "create", "", format!("create a {kind}"), writes(&[]), Body::Object, item.clone()),
                op(
                    "delete",
                    "deletecollection",
                    "deleteCollection",
                    "",
                    format!("delete collection of {kind}"),
                    [LIST_PARAMS, &[P_DRY_RUN, P_GRACE, P_ORPHAN, P_PROPAGATION]].concat(),
                    Body::None,
                    Some(STATUS_SCHEMA.to_string()),
                ),
            ],
        },
        PathItem {
            path: format!("{collection}/{{name}}"),
            params: item_params.clone(),
            ops: vec![
                op("get", "get", "read", "", format!("read the specified {kind}"), vec![], Body::None, item.clone()),
                op(
                    "put",
                    "put",
                    "replace",
                    "",
                    format!("replace the specified {kind}"),
                    writes(&[]),
                    Body::Object,
                    item.clone(),
                ),
                op(
                    "patch",
                    "patch",
                    "patch",
                    "",
                    format!("partially update the specified {kind}"),
                    writes(&[P_FORCE]),
                    Body::Patch,
                    item.clone(),
                ),
                op(
                    "delete",
                    "delete",
                    "delete",
                    "",
                    format!("delete a {kind}"),
                    vec![P_DRY_RUN, P_GRACE, P_ORPHAN, P_PROPAGATION],
                    Body::None,
                    Some(STATUS_SCHEMA.to_string()),
                ),
            ],
        },
    ];
    if r.namespaced {
        // Upstream also serves the cross-namespace list at /{prefix}/{plural}.
        let mut all = op(
            "get",
            "list",
            "list",
            "ForAllNamespaces",
            format!("list or watch objects of kind {kind}"),
            LIST_PARAMS.to_vec(),
            Body::None,
            list,
        );
        all.id = format!("list{gvc}{}ForAllNamespaces", r.kind);
        out.push(PathItem { path: format!("{prefix}/{}", r.plural), params: vec![P_PRETTY], ops: vec![all] });
    }
    for &s in r.subresources {
        let (suffix, sub_gvk, response) = match s {
            Subresource::Status => ("Status", own, item.clone()),
            Subresource::Scale => ("Scale", ("autoscaling", "v1", "Scale"), Some(SCALE_SCHEMA.to_string())),
            // The connect/create-only subresources are not described (kubectl reads none of them).
            _ => continue,
        };
        let what = format!("{} of the specified {kind}", s.name());
        let mut ops = vec![
            op("get", "get", "read", suffix, format!("read {what}"), vec![], Body::None, response.clone()),
            op("put", "put", "replace", suffix, format!("replace {what}"), writes(&[]), Body::Object, response.clone()),
            op(
                "patch",
                "patch",
                "patch",
                suffix,
                format!("partially update {what}"),
                writes(&[P_FORCE]),
                Body::Patch,
                response,
            ),
        ];
        for o in &mut ops {
            o.gvk = sub_gvk;
        }
        out.push(PathItem { path: format!("{collection}/{{name}}/{}", s.name()), params: item_params.clone(), ops });
    }
    // Only the verbs discovery lists (namespaces have no deletecollection).
    if !r.verbs().contains(&"deletecollection") {
        out[0].ops.retain(|o| o.action != "deletecollection");
    }
    out
}

fn v3_param(p: &Param) -> Value {
    let mut o = Map::new();
    o.insert("name".into(), p.name.into());
    o.insert("in".into(), p.location.into());
    o.insert("description".into(), p.description.into());
    if p.location == "path" {
        o.insert("required".into(), true.into());
    }
    o.insert("schema".into(), json!({"type": p.ty, "uniqueItems": true}));
    Value::Object(o)
}

fn v2_param(p: &Param) -> Value {
    let mut o = Map::new();
    o.insert("uniqueItems".into(), true.into());
    o.insert("type".into(), p.ty.into());
    o.insert("description".into(), p.description.into());
    o.insert("name".into(), p.name.into());
    o.insert("in".into(), p.location.into());
    if p.location == "path" {
        o.insert("required".into(), true.into());
    }
    Value::Object(o)
}

fn gvk_ext(o: &Op) -> Value {
    gvk(o.gvk.0, o.gvk.1, o.gvk.2)
}

fn v3_operation(o: &Op, tag: &str) -> Value {
    let mut m = Map::new();
    m.insert("tags".into(), json!([tag]));
    m.insert("description".into(), o.description.clone().into());
    m.insert("operationId".into(), o.id.clone().into());
    if !o.params.is_empty() {
        m.insert("parameters".into(), o.params.iter().map(v3_param).collect::<Vec<_>>().into());
    }
    let body_ref = |name: &str| json!({"schema": {"$ref": format!("{V3_REF}{name}")}});
    match o.body {
        Body::None => {}
        Body::Object => {
            if let Some(name) = &o.response {
                m.insert("requestBody".into(), json!({"content": {"*/*": body_ref(name)}, "required": true}));
            }
        }
        Body::Patch => {
            let content: Map<String, Value> =
                PATCH_CONSUMES.iter().map(|t| (t.to_string(), body_ref(PATCH_SCHEMA))).collect();
            m.insert("requestBody".into(), json!({"content": content, "required": true}));
        }
    }
    let ok = match &o.response {
        Some(name) => json!({"description": "OK", "content": {"application/json": body_ref(name)}}),
        None => json!({"description": "OK"}),
    };
    let mut responses = Map::new();
    responses.insert("200".into(), ok.clone());
    if matches!(o.method, "post" | "put" | "patch") {
        let mut created = ok;
        created["description"] = "Created".into();
        responses.insert("201".into(), created);
    }
    responses.insert("401".into(), json!({"description": "Unauthorized"}));
    m.insert("responses".into(), responses.into());
    m.insert("x-kubernetes-action".into(), o.action.into());
    m.insert(GVK_EXT.into(), gvk_ext(o));
    Value::Object(m)
}

fn v2_operation(o: &Op, tag: &str) -> Value {
    let mut m = Map::new();
    m.insert("description".into(), o.description.clone().into());
    let consumes: Vec<&str> = if o.body == Body::Patch { PATCH_CONSUMES.to_vec() } else { vec!["*/*"] };
    m.insert("consumes".into(), json!(consumes));
    m.insert("produces".into(), json!(["application/json", "application/yaml"]));
    m.insert("schemes".into(), json!(["https"]));
    m.insert("tags".into(), json!([tag]));
    m.insert("operationId".into(), o.id.clone().into());
    let mut params: Vec<Value> = Vec::new();
    let body_schema = match o.body {
        Body::None => None,
        Body::Object => o.response.clone(),
        Body::Patch => Some(PATCH_SCHEMA.to_string()),
    };
    if let Some(name) = body_schema {
        params.push(
            json!({"name": "body", "in": "body", "required": true, "schema": {"$ref": format!("{V2_REF}{name}")}}),
        );
    }
    params.extend(o.params.iter().map(v2_param));
    if !params.is_empty() {
        m.insert("parameters".into(), params.into());
    }
    let ok = match &o.response {
        Some(name) => json!({"description": "OK", "schema": {"$ref": format!("{V2_REF}{name}")}}),
        None => json!({"description": "OK"}),
    };
    m.insert("responses".into(), json!({"200": ok, "401": {"description": "Unauthorized"}}));
    m.insert("x-kubernetes-action".into(), o.action.into());
    m.insert(GVK_EXT.into(), gvk_ext(o));
    Value::Object(m)
}

fn v3_document(schemas: &Map<String, Value>, group: &str, version: &str) -> Value {
    let t = tag(group, version);
    let mut paths = Map::new();
    let mut roots = vec![PATCH_SCHEMA.to_string(), STATUS_SCHEMA.to_string()];
    for r in RESOURCES.iter().filter(|r| r.group == group && r.version == version) {
        for p in paths_for(schemas, r) {
            let mut item = Map::new();
            for o in &p.ops {
                roots.extend(o.response.iter().cloned());
                item.insert(o.method.into(), v3_operation(o, &t));
            }
            item.insert("parameters".into(), p.params.iter().map(v3_param).collect::<Vec<_>>().into());
            paths.insert(p.path, Value::Object(item));
        }
    }
    let components: Map<String, Value> =
        closure(schemas, roots).into_iter().filter_map(|n| schemas.get(&n).map(|s| (n, to_v3(s)))).collect();
    json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": INFO_VERSION},
        "paths": paths,
        "components": {"schemas": components},
    })
}

fn v2_document(schemas: &Map<String, Value>) -> Value {
    let mut paths = Map::new();
    for r in RESOURCES {
        let t = tag(r.group, r.version);
        for p in paths_for(schemas, r) {
            let mut item = Map::new();
            for o in &p.ops {
                item.insert(o.method.into(), v2_operation(o, &t));
            }
            item.insert("parameters".into(), p.params.iter().map(v2_param).collect::<Vec<_>>().into());
            paths.insert(p.path, Value::Object(item));
        }
    }
    let definitions: Map<String, Value> = schemas.iter().map(|(n, s)| (n.clone(), to_v2(s))).collect();
    json!({
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": INFO_VERSION},
        "paths": paths,
        "definitions": definitions,
    })
}

// ---------------------------------------------------------------------------
// gnostic's openapi_v2 protobuf (github.com/google/gnostic-models, OpenAPIv2.proto):
// the subset of messages and fields this server emits, with the .proto's field
// numbers. Fields we never set are left out; decoders skip absent fields.

pub mod gnostic {
    // Oneof arms mirror the .proto as prost generates them; boxing would only
    // obscure the mapping for documents built once.
    #![allow(clippy::large_enum_variant)]

    use serde_json::Value;

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Document {
        #[prost(string, tag = "1")]
        pub swagger: String,
        #[prost(message, optional, tag = "2")]
        pub info: Option<Info>,
        #[prost(string, tag = "3")]
        pub host: String,
        #[prost(string, tag = "4")]
        pub base_path: String,
        #[prost(string, repeated, tag = "5")]
        pub schemes: Vec<String>,
        #[prost(string, repeated, tag = "6")]
        pub consumes: Vec<String>,
        #[prost(string, repeated, tag = "7")]
        pub produces: Vec<String>,
        #[prost(message, optional, tag = "8")]
        pub paths: Option<Paths>,
        #[prost(message, optional, tag = "9")]
        pub definitions: Option<Definitions>,
        #[prost(message, repeated, tag = "16")]
        pub vendor_extension: Vec<NamedAny>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Info {
        #[prost(string, tag = "1")]
        pub title: String,
        #[prost(string, tag = "2")]
        pub version: String,
        #[prost(string, tag = "3")]
        pub description: String,
    }

    /// gnostic's `Any`: field 1 (a google.protobuf.Any) is never used by Kubernetes;
    /// values travel as YAML text (JSON text is valid YAML).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Any {
        #[prost(string, tag = "2")]
        pub yaml: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct NamedAny {
        #[prost(string, tag = "1")]
        pub name: String,
        #[prost(message, optional, tag = "2")]
        pub value: Option<Any>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Paths {
        #[prost(message, repeated, tag = "1")]
        pub vendor_extension: Vec<NamedAny>,
        #[prost(message, repeated, tag = "2")]
        pub path: Vec<NamedPathItem>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct NamedPathItem {
        #[prost(string, tag = "1")]
        pub name: String,
        #[prost(message, optional, tag = "2")]
        pub value: Option<PathItem>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct PathItem {
        #[prost(string, tag = "1")]
        pub xref: String,
        #[prost(message, optional, tag = "2")]
        pub get: Option<Operation>,
        #[prost(message, optional, tag = "3")]
        pub put: Option<Operation>,
        #[prost(message, optional, tag = "4")]
        pub post: Option<Operation>,
        #[prost(message, optional, tag = "5")]
        pub delete: Option<Operation>,
        #[prost(message, optional, tag = "6")]
        pub options: Option<Operation>,
        #[prost(message, optional, tag = "7")]
        pub head: Option<Operation>,
        #[prost(message, optional, tag = "8")]
        pub patch: Option<Operation>,
        #[prost(message, repeated, tag = "9")]
        pub parameters: Vec<ParametersItem>,
        #[prost(message, repeated, tag = "10")]
        pub vendor_extension: Vec<NamedAny>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Operation {
        #[prost(string, repeated, tag = "1")]
        pub tags: Vec<String>,
        #[prost(string, tag = "2")]
        pub summary: String,
        #[prost(string, tag = "3")]
        pub description: String,
        #[prost(string, tag = "5")]
        pub operation_id: String,
        #[prost(string, repeated, tag = "6")]
        pub produces: Vec<String>,
        #[prost(string, repeated, tag = "7")]
        pub consumes: Vec<String>,
        #[prost(message, repeated, tag = "8")]
        pub parameters: Vec<ParametersItem>,
        #[prost(message, optional, tag = "9")]
        pub responses: Option<Responses>,
        #[prost(string, repeated, tag = "10")]
        pub schemes: Vec<String>,
        #[prost(bool, tag = "11")]
        pub deprecated: bool,
        #[prost(message, repeated, tag = "13")]
        pub vendor_extension: Vec<NamedAny>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ParametersItem {
        #[prost(oneof = "parameters_item::Oneof", tags = "1, 2")]
        pub oneof: Option<parameters_item::Oneof>,
    }

    pub mod parameters_item {
        #[derive(Clone, PartialEq, prost::Oneof)]
        pub enum Oneof {
            #[prost(message, tag = "1")]
            Parameter(super::Parameter),
            #[prost(message, tag = "2")]
            JsonReference(super::JsonReference),
        }
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct JsonReference {
        #[prost(string, tag = "1")]
        pub xref: String,
        #[prost(string, tag = "2")]
        pub description: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Parameter {
        #[prost(oneof = "parameter::Oneof", tags = "1, 2")]
        pub oneof: Option<parameter::Oneof>,
    }

    pub mod parameter {
        #[derive(Clone, PartialEq, prost::Oneof)]
        pub enum Oneof {
            #[prost(message, tag = "1")]
            BodyParameter(super::BodyParameter),
            #[prost(message, tag = "2")]
            NonBodyParameter(super::NonBodyParameter),
        }
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct BodyParameter {
        #[prost(string, tag = "1")]
        pub description: String,
        #[prost(string, tag = "2")]
        pub name: String,
        #[prost(string, tag = "3")]
        pub r#in: String,
        #[prost(bool, tag = "4")]
        pub required: bool,
        #[prost(message, optional, tag = "5")]
        pub schema: Option<Schema>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct NonBodyParameter {
        #[prost(oneof = "non_body_parameter::Oneof", tags = "3, 4")]
        pub oneof: Option<non_body_parameter::Oneof>,
    }

    pub mod non_body_parameter {
        #[derive(Clone, PartialEq, prost::Oneof)]
        pub enum Oneof {
            #[prost(message, tag = "3")]
            QueryParameterSubSchema(super::QueryParameterSubSchema),
            #[prost(message, tag = "4")]
            PathParameterSubSchema(super::PathParameterSubSchema),
        }
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct QueryParameterSubSchema {
        #[prost(bool, tag = "1")]
        pub required: bool,
        #[prost(string, tag = "2")]
        pub r#in: String,
        #[prost(string, tag = "3")]
        pub description: String,
        #[prost(string, tag = "4")]
        pub name: String,
        #[prost(string, tag = "6")]
        pub r#type: String,
        #[prost(string, tag = "7")]
        pub format: String,
        #[prost(bool, tag = "20")]
        pub unique_items: bool,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct PathParameterSubSchema {
        #[prost(bool, tag = "1")]
        pub required: bool,
        #[prost(string, tag = "2")]
        pub r#in: String,
        #[prost(string, tag = "3")]
        pub description: String,
        #[prost(string, tag = "4")]
        pub name: String,
        #[prost(string, tag = "5")]
        pub r#type: String,
        #[prost(string, tag = "6")]
        pub format: String,
        #[prost(bool, tag = "19")]
        pub unique_items: bool,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Responses {
        #[prost(message, repeated, tag = "1")]
        pub response_code: Vec<NamedResponseValue>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct NamedResponseValue {
        #[prost(string, tag = "1")]
        pub name: String,
        #[prost(message, optional, tag = "2")]
        pub value: Option<ResponseValue>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ResponseValue {
        #[prost(oneof = "response_value::Oneof", tags = "1, 2")]
        pub oneof: Option<response_value::Oneof>,
    }

    pub mod response_value {
        #[derive(Clone, PartialEq, prost::Oneof)]
        pub enum Oneof {
            #[prost(message, tag = "1")]
            Response(super::Response),
            #[prost(message, tag = "2")]
            JsonReference(super::JsonReference),
        }
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Response {
        #[prost(string, tag = "1")]
        pub description: String,
        #[prost(message, optional, tag = "2")]
        pub schema: Option<SchemaItem>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct SchemaItem {
        /// Only the `schema` arm (1) of the .proto's oneof (the other is a file schema).
        #[prost(message, optional, tag = "1")]
        pub schema: Option<Schema>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Definitions {
        #[prost(message, repeated, tag = "1")]
        pub additional_properties: Vec<NamedSchema>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct NamedSchema {
        #[prost(string, tag = "1")]
        pub name: String,
        #[prost(message, optional, tag = "2")]
        pub value: Option<Schema>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Schema {
        #[prost(string, tag = "1")]
        pub xref: String,
        #[prost(string, tag = "2")]
        pub format: String,
        #[prost(string, tag = "3")]
        pub title: String,
        #[prost(string, tag = "4")]
        pub description: String,
        #[prost(message, optional, tag = "5")]
        pub default: Option<Any>,
        #[prost(double, tag = "6")]
        pub multiple_of: f64,
        #[prost(double, tag = "7")]
        pub maximum: f64,
        #[prost(bool, tag = "8")]
        pub exclusive_maximum: bool,
        #[prost(double, tag = "9")]
        pub minimum: f64,
        #[prost(bool, tag = "10")]
        pub exclusive_minimum: bool,
        #[prost(int64, tag = "11")]
        pub max_length: i64,
        #[prost(int64, tag = "12")]
        pub min_length: i64,
        #[prost(string, tag = "13")]
        pub pattern: String,
        #[prost(int64, tag = "14")]
        pub max_items: i64,
        #[prost(int64, tag = "15")]
        pub min_items: i64,
        #[prost(bool, tag = "16")]
        pub unique_items: bool,
        #[prost(int64, tag = "17")]
        pub max_properties: i64,
        #[prost(int64, tag = "18")]
        pub min_properties: i64,
        #[prost(string, repeated, tag = "19")]
        pub required: Vec<String>,
        #[prost(message, repeated, tag = "20")]
        pub r#enum: Vec<Any>,
        #[prost(message, optional, boxed, tag = "21")]
        pub additional_properties: Option<Box<AdditionalPropertiesItem>>,
        #[prost(message, optional, tag = "22")]
        pub r#type: Option<TypeItem>,
        #[prost(message, optional, tag = "23")]
        pub items: Option<ItemsItem>,
        #[prost(message, repeated, tag = "24")]
        pub all_of: Vec<Schema>,
        #[prost(message, optional, tag = "25")]
        pub properties: Option<Properties>,
        #[prost(string, tag = "26")]
        pub discriminator: String,
        #[prost(bool, tag = "27")]
        pub read_only: bool,
        #[prost(message, optional, tag = "30")]
        pub example: Option<Any>,
        #[prost(message, repeated, tag = "31")]
        pub vendor_extension: Vec<NamedAny>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct AdditionalPropertiesItem {
        #[prost(oneof = "additional_properties_item::Oneof", tags = "1, 2")]
        pub oneof: Option<additional_properties_item::Oneof>,
    }

    pub mod additional_properties_item {
        #[derive(Clone, PartialEq, prost::Oneof)]
        pub enum Oneof {
            #[prost(message, tag = "1")]
            Schema(super::Schema),
            #[prost(bool, tag = "2")]
            Boolean(bool),
        }
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct TypeItem {
        #[prost(string, repeated, tag = "1")]
        pub value: Vec<String>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ItemsItem {
        #[prost(message, repeated, tag = "1")]
        pub schema: Vec<Schema>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Properties {
        #[prost(message, repeated, tag = "1")]
        pub additional_properties: Vec<NamedSchema>,
    }

    // -- JSON (our v2 document) to protobuf --------------------------------

    fn s(v: &Value, key: &str) -> String {
        v.get(key).and_then(Value::as_str).unwrap_or_default().to_string()
    }

    fn strings(v: &Value, key: &str) -> Vec<String> {
        v.get(key)
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
            .unwrap_or_default()
    }

    fn any(v: &Value) -> Any {
        Any { yaml: serde_json::to_string(v).unwrap_or_default() }
    }

    fn extensions(v: &Value) -> Vec<NamedAny> {
        v.as_object()
            .map(|o| {
                o.iter()
                    .filter(|(k, _)| k.starts_with("x-"))
                    .map(|(k, x)| NamedAny { name: k.clone(), value: Some(any(x)) })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Converts the v2 JSON document into gnostic's Document.
    pub fn document(doc: &Value) -> Document {
        let info = doc.get("info").map(|i| Info {
            title: s(i, "title"),
            version: s(i, "version"),
            description: s(i, "description"),
        });
        let paths = doc.get("paths").and_then(Value::as_object).map(|ps| Paths {
            vendor_extension: Vec::new(),
            path: ps
                .iter()
                .map(|(name, item)| NamedPathItem { name: name.clone(), value: Some(path_item(item)) })
                .collect(),
        });
        let definitions = doc.get("definitions").and_then(Value::as_object).map(|ds| Definitions {
            additional_properties: ds
                .iter()
                .map(|(n, x)| NamedSchema { name: n.clone(), value: Some(schema(x)) })
                .collect(),
        });
        Document {
            swagger: s(doc, "swagger"),
            info,
            paths,
            definitions,
            schemes: strings(doc, "schemes"),
            consumes: strings(doc, "consumes"),
            produces: strings(doc, "produces"),
            ..Default::default()
        }
    }

    fn path_item(v: &Value) -> PathItem {
        let op = |m: &str| v.get(m).map(operation);
        PathItem {
            get: op("get"),
            put: op("put"),
            post: op("post"),
            delete: op("delete"),
            options: op("options"),
            head: op("head"),
            patch: op("patch"),
            parameters: params(v),
            vendor_extension: extensions(v),
            ..Default::default()
        }
    }

    fn params(v: &Value) -> Vec<ParametersItem> {
        v.get("parameters").and_then(Value::as_array).map(|a| a.iter().map(parameter).collect()).unwrap_or_default()
    }

    fn operation(v: &Value) -> Operation {
        let responses = v.get("responses").and_then(Value::as_object).map(|rs| Responses {
            response_code: rs
                .iter()
                .map(|(code, r)| NamedResponseValue {
                    name: code.clone(),
                    value: Some(ResponseValue {
                        oneof: Some(response_value::Oneof::Response(Response {
                            description: s(r, "description"),
                            schema: r.get("schema").map(|x| SchemaItem { schema: Some(schema(x)) }),
                        })),
                    }),
                })
                .collect(),
        });
        Operation {
            tags: strings(v, "tags"),
            summary: s(v, "summary"),
            description: s(v, "description"),
            operation_id: s(v, "operationId"),
            produces: strings(v, "produces"),
            consumes: strings(v, "consumes"),
            parameters: params(v),
            responses,
            schemes: strings(v, "schemes"),
            deprecated: v.get("deprecated").and_then(Value::as_bool).unwrap_or(false),
            vendor_extension: extensions(v),
        }
    }

    fn parameter(v: &Value) -> ParametersItem {
        if let Some(r) = v.get("$ref").and_then(Value::as_str) {
            return ParametersItem {
                oneof: Some(parameters_item::Oneof::JsonReference(JsonReference {
                    xref: r.to_string(),
                    description: s(v, "description"),
                })),
            };
        }
        let required = v.get("required").and_then(Value::as_bool).unwrap_or(false);
        let unique_items = v.get("uniqueItems").and_then(Value::as_bool).unwrap_or(false);
        let p = match v.get("in").and_then(Value::as_str) {
            Some("body") => parameter::Oneof::BodyParameter(BodyParameter {
                description: s(v, "description"),
                name: s(v, "name"),
                r#in: "body".into(),
                required,
                schema: v.get("schema").map(schema),
            }),
            Some("path") => parameter::Oneof::NonBodyParameter(NonBodyParameter {
                oneof: Some(non_body_parameter::Oneof::PathParameterSubSchema(PathParameterSubSchema {
                    required,
                    r#in: "path".into(),
                    description: s(v, "description"),
                    name: s(v, "name"),
                    r#type: s(v, "type"),
                    format: s(v, "format"),
                    unique_items,
                })),
            }),
            // We emit only query, path and body parameters.
            _ => parameter::Oneof::NonBodyParameter(NonBodyParameter {
                oneof: Some(non_body_parameter::Oneof::QueryParameterSubSchema(QueryParameterSubSchema {
                    required,
                    r#in: "query".into(),
                    description: s(v, "description"),
                    name: s(v, "name"),
                    r#type: s(v, "type"),
                    format: s(v, "format"),
                    unique_items,
                })),
            }),
        };
        ParametersItem { oneof: Some(parameters_item::Oneof::Parameter(Parameter { oneof: Some(p) })) }
    }

    /// A JSON schema object as gnostic's Schema. Keys it has no field for are dropped.
    pub fn schema(v: &Value) -> Schema {
        let f64_of = |k: &str| v.get(k).and_then(Value::as_f64).unwrap_or(0.0);
        let i64_of = |k: &str| v.get(k).and_then(Value::as_i64).unwrap_or(0);
        let bool_of = |k: &str| v.get(k).and_then(Value::as_bool).unwrap_or(false);
        let r#type = match v.get("type") {
            Some(Value::String(t)) => Some(TypeItem { value: vec![t.clone()] }),
            Some(Value::Array(ts)) => {
                Some(TypeItem { value: ts.iter().filter_map(|t| t.as_str().map(str::to_string)).collect() })
            }
            _ => None,
        };
        let items = match v.get("items") {
            Some(Value::Array(xs)) => Some(ItemsItem { schema: xs.iter().map(schema).collect() }),
            Some(x @ Value::Object(_)) => Some(ItemsItem { schema: vec![schema(x)] }),
            _ => None,
        };
        let additional_properties = match v.get("additionalProperties") {
            Some(Value::Bool(b)) => {
                Some(Box::new(AdditionalPropertiesItem { oneof: Some(additional_properties_item::Oneof::Boolean(*b)) }))
            }
            Some(x @ Value::Object(_)) => Some(Box::new(AdditionalPropertiesItem {
                oneof: Some(additional_properties_item::Oneof::Schema(schema(x))),
            })),
            _ => None,
        };
        let properties = v.get("properties").and_then(Value::as_object).map(|ps| Properties {
            additional_properties: ps
                .iter()
                .map(|(n, x)| NamedSchema { name: n.clone(), value: Some(schema(x)) })
                .collect(),
        });
        Schema {
            xref: s(v, "$ref"),
            format: s(v, "format"),
            title: s(v, "title"),
            description: s(v, "description"),
            default: v.get("default").map(any),
            multiple_of: f64_of("multipleOf"),
            maximum: f64_of("maximum"),
            exclusive_maximum: bool_of("exclusiveMaximum"),
            minimum: f64_of("minimum"),
            exclusive_minimum: bool_of("exclusiveMinimum"),
            max_length: i64_of("maxLength"),
            min_length: i64_of("minLength"),
            pattern: s(v, "pattern"),
            max_items: i64_of("maxItems"),
            min_items: i64_of("minItems"),
            unique_items: bool_of("uniqueItems"),
            max_properties: i64_of("maxProperties"),
            min_properties: i64_of("minProperties"),
            required: strings(v, "required"),
            r#enum: v.get("enum").and_then(Value::as_array).map(|a| a.iter().map(any).collect()).unwrap_or_default(),
            additional_properties,
            r#type,
            items,
            all_of: v
                .get("allOf")
                .and_then(Value::as_array)
                .map(|a| a.iter().map(schema).collect())
                .unwrap_or_default(),
            properties,
            discriminator: s(v, "discriminator"),
            read_only: bool_of("readOnly"),
            example: v.get("example").map(any),
            vendor_extension: extensions(v),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::gnostic;
    use super::*;
    use prost::Message;

    fn doc(o: &OpenApi, path: &str) -> Value {
        let bytes = o.v3_group(path).expect("group document");
        serde_json::from_slice(&bytes).expect("valid JSON")
    }

    fn all_refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    match (k.as_str(), x.as_str()) {
                        ("$ref", Some(r)) => out.push(r.to_string()),
                        _ => all_refs(x, out),
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|x| all_refs(x, out)),
            _ => {}
        }
    }

    #[test]
    fn new_is_cheap_and_lazy() {
        let t = std::time::Instant::now();
        let o = OpenApi::new();
        assert!(t.elapsed().as_millis() < 5);
        assert!(o.schemas.get().is_none() && o.v2.get().is_none() && o.v3.get().is_none());
        // Informational: the costs readiness must not wait for.
        let t = std::time::Instant::now();
        o.schemas();
        let schemas = t.elapsed();
        o.v2_docs();
        let v2 = t.elapsed() - schemas;
        o.v3_docs();
        let v3 = t.elapsed() - schemas - v2;
        eprintln!("openapi build: schemas {schemas:?}, v2 {v2:?}, v3 {v3:?}");
        eprintln!(
            "sizes: v2 json {} B, v2 protobuf {} B, v3 apps {} B",
            o.v2_json().len(),
            o.v2_protobuf().len(),
            o.v3_group("apis/apps/v1").map_or(0, |b| b.len())
        );
    }

    #[test]
    fn every_kind_has_a_typed_schema() {
        let schemas = build_schemas();
        for r in RESOURCES {
            assert!(kind_schema(r.group, r.version, r.kind).is_some(), "no Rust type for {}", r.kind);
            let name = schema_name_of(&schemas, r.group, r.version, r.kind).expect("schema tagged with its gvk");
            assert_eq!(name, upstream_name(r.group, r.version, r.kind));
            let s = &schemas[&name];
            assert_eq!(s["type"], "object");
            assert!(s["properties"].get("metadata").is_some());
            let required = s.get("required").and_then(Value::as_array).cloned().unwrap_or_default();
            assert!(!required.contains(&json!("metadata")));
            assert!(schema_name_of(&schemas, r.group, r.version, &format!("{}List", r.kind)).is_some());
        }
    }

    #[test]
    fn v3_root_points_at_every_group_version() {
        let o = OpenApi::new();
        let root: Value = serde_json::from_slice(&o.v3_root()).expect("root JSON");
        for r in RESOURCES {
            let path = v3_path(r.group, r.version);
            let url = root["paths"][&path]["serverRelativeURL"].as_str().expect("listed");
            let hash = o.v3_hash(&path).expect("hash");
            assert_eq!(url, format!("/openapi/v3/{path}?hash={hash}"));
            assert_eq!(o.v3_hash(&format!("/{path}")), Some(hash));
        }
        assert!(o.v3_group("apis/nope/v1").is_none());
        assert!(o.v3_group("apis/autoscaling/v1").is_none(), "no resources there");
    }

    /// kubectl's query-param verifier takes the first PATCH operation whose gvk
    /// matches (map order is random), so every one of them must list fieldValidation;
    /// and the apply patcher must not see strategic-merge-patch.
    #[test]
    fn v3_patch_operations_support_field_validation() {
        let o = OpenApi::new();
        for r in RESOURCES {
            let d = doc(&o, &v3_path(r.group, r.version));
            let want = gvk(r.group, r.version, r.kind);
            let mut found = 0;
            for (_, item) in d["paths"].as_object().expect("paths") {
                let Some(patch) = item.get("patch") else { continue };
                let content = patch["requestBody"]["content"].as_object().expect("patch body");
                assert!(!content.contains_key("application/strategic-merge-patch+json"));
                assert!(content.contains_key("application/merge-patch+json"));
                if patch[GVK_EXT] == want {
                    found += 1;
                    let params = patch["parameters"].as_array().expect("params");
                    assert!(params.iter().any(|p| p["name"] == "fieldValidation" && p["in"] == "query"));
                }
            }
            assert!(found >= 1, "{} has no PATCH operation", r.kind);
        }
    }

    /// What `kubectl explain` follows: a path for the resource whose operation names
    /// the gvk, a component schema carrying the same gvk, and refs that resolve.
    #[test]
    fn v3_documents_are_explainable() {
        let o = OpenApi::new();
        for (group, version) in served_group_versions() {
            let d = doc(&o, &v3_path(group, version));
            assert_eq!(d["openapi"], "3.0.0");
            let schemas = d["components"]["schemas"].as_object().expect("schemas");
            let mut refs = Vec::new();
            all_refs(&d, &mut refs);
            for r in &refs {
                let name = r.strip_prefix(V3_REF).expect("component ref");
                assert!(schemas.contains_key(name), "dangling {r}");
            }
            for r in RESOURCES.iter().filter(|r| r.group == group && r.version == version) {
                let prefix = if group.is_empty() { "/api".to_string() } else { format!("/apis/{group}") };
                let path = if r.namespaced {
                    format!("{prefix}/{version}/namespaces/{{namespace}}/{}", r.plural)
                } else {
                    format!("{prefix}/{version}/{}", r.plural)
                };
                let op_gvk = &d["paths"][&path]["get"][GVK_EXT];
                // Upstream tags list operations with the item kind, and explain prints it.
                assert_eq!(op_gvk, &gvk(group, version, r.kind));
                let item_gvk = &d["paths"][format!("{path}/{{name}}")]["get"][GVK_EXT];
                let tagged = schemas
                    .values()
                    .find(|s| s[GVK_EXT].as_array().is_some_and(|l| l.contains(item_gvk)))
                    .expect("schema for explain");
                assert!(tagged["properties"]["spec"].is_object() || r.kind != "Deployment");
            }
            // Refs with siblings are wrapped, as OpenAPI 3.0 wants.
            fn no_ref_siblings(v: &Value) {
                match v {
                    Value::Object(m) => {
                        assert!(!(m.contains_key("$ref") && m.len() > 1), "$ref with siblings: {v}");
                        m.values().for_each(no_ref_siblings);
                    }
                    Value::Array(a) => a.iter().for_each(no_ref_siblings),
                    _ => {}
                }
            }
            no_ref_siblings(&d);
        }
        let apps = doc(&o, "apis/apps/v1");
        let spec = &apps["components"]["schemas"]["io.k8s.api.apps.v1.Deployment"]["properties"]["spec"];
        assert_eq!(spec["allOf"][0]["$ref"], "#/components/schemas/io.k8s.api.apps.v1.DeploymentSpec");
        let scale = &apps["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"]["patch"];
        assert_eq!(scale[GVK_EXT], gvk("autoscaling", "v1", "Scale"));
        assert!(apps["components"]["schemas"].get(SCALE_SCHEMA).is_some());
    }

    /// Shape rules of kube-openapi's v2 parser (pkg/util/proto): every ref resolves
    /// and every array has exactly one item schema.
    #[test]
    fn v2_json_is_parseable_by_kubectl_rules() {
        let o = OpenApi::new();
        let d: Value = serde_json::from_slice(&o.v2_json()).expect("v2 JSON");
        assert_eq!(d["swagger"], "2.0");
        let defs = d["definitions"].as_object().expect("definitions");
        let mut refs = Vec::new();
        all_refs(&d, &mut refs);
        for r in &refs {
            let name = r.strip_prefix(V2_REF).expect("definitions ref");
            assert!(defs.contains_key(name), "dangling {r}");
        }
        fn arrays_have_items(v: &Value) {
            match v {
                Value::Object(m) => {
                    if m.get("type") == Some(&json!("array")) {
                        assert!(m.get("items").is_some_and(Value::is_object), "array without items: {v}");
                    }
                    m.values().for_each(arrays_have_items);
                }
                Value::Array(a) => a.iter().for_each(arrays_have_items),
                _ => {}
            }
        }
        arrays_have_items(&d);
        for r in RESOURCES {
            let want = gvk(r.group, r.version, r.kind);
            let patches: Vec<&Value> = d["paths"]
                .as_object()
                .expect("paths")
                .values()
                .filter_map(|p| p.get("patch"))
                .filter(|p| p[GVK_EXT] == want)
                .collect();
            assert!(!patches.is_empty(), "{} lacks a v2 PATCH", r.kind);
            for p in patches {
                assert_eq!(p["consumes"], json!(PATCH_CONSUMES));
                assert!(p["parameters"].as_array().is_some_and(|ps| ps.iter().any(|x| x["name"] == "fieldValidation")));
            }
        }
        assert!(o.v2_etag().starts_with('"') && o.v2_etag().ends_with('"'));
    }

    #[test]
    fn v2_protobuf_round_trips() {
        let o = OpenApi::new();
        let bytes = o.v2_protobuf();
        let decoded = gnostic::Document::decode(bytes.clone()).expect("decodes");
        let json: Value = serde_json::from_slice(&o.v2_json()).expect("json");
        assert_eq!(decoded, gnostic::document(&json));
        assert_eq!(decoded.encode_to_vec(), bytes.to_vec());
        assert_eq!(decoded.swagger, "2.0");
        let defs = decoded.definitions.as_ref().expect("definitions");
        assert_eq!(defs.additional_properties.len(), json["definitions"].as_object().map_or(0, Map::len));
        // Every kind's PATCH carries the gvk extension (YAML-readable) and fieldValidation.
        let paths = decoded.paths.as_ref().expect("paths");
        for r in RESOURCES {
            let want = gvk(r.group, r.version, r.kind);
            let ok = paths.path.iter().filter_map(|p| p.value.as_ref()?.patch.as_ref()).any(|op| {
                let ext = op.vendor_extension.iter().find(|e| e.name == GVK_EXT);
                let matches = ext
                    .and_then(|e| e.value.as_ref())
                    .and_then(|a| serde_json::from_str::<Value>(&a.yaml).ok())
                    .is_some_and(|v| v == want);
                matches
                    && op.parameters.iter().any(|p| {
                        use gnostic::{non_body_parameter as nb, parameter as pa, parameters_item as pi};
                        matches!(&p.oneof, Some(pi::Oneof::Parameter(gnostic::Parameter {
                            oneof: Some(pa::Oneof::NonBodyParameter(gnostic::NonBodyParameter {
                                oneof: Some(nb::Oneof::QueryParameterSubSchema(q)) })) })) if q.name == "fieldValidation")
                    })
            });
            assert!(ok, "{}: no PATCH with fieldValidation in protobuf", r.kind);
        }
        let deploy =
            defs.additional_properties.iter().find(|d| d.name == "io.k8s.api.apps.v1.Deployment").expect("Deployment");
        let props = deploy.value.as_ref().and_then(|s| s.properties.as_ref()).expect("properties");
        let spec =
            props.additional_properties.iter().find(|p| p.name == "spec").and_then(|p| p.value.as_ref()).expect("spec");
        assert_eq!(spec.xref, "#/definitions/io.k8s.api.apps.v1.DeploymentSpec");
        assert!(!spec.description.is_empty());
    }

    // -- A wire-level reader independent of the prost structs, to check the field
    //    numbers against gnostic's OpenAPIv2.proto.

    fn varint(b: &[u8], i: &mut usize) -> u64 {
        let mut v = 0u64;
        let mut shift = 0;
        while *i < b.len() {
            let byte = b[*i];
            *i += 1;
            v |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                break;
            }
            shift += 7;
        }
        v
    }

    /// (field number, payload) of each length-delimited field; other wire types skipped.
    fn fields(b: &[u8]) -> Vec<(u64, &[u8])> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            let key = varint(b, &mut i);
            match key & 7 {
                0 => {
                    varint(b, &mut i);
                }
                1 => i += 8,
                5 => i += 4,
                2 => {
                    let len = varint(b, &mut i) as usize;
                    out.push((key >> 3, &b[i..i + len]));
                    i += len;
                }
                w => panic!("unexpected wire type {w}"),
            }
        }
        out
    }

    fn field(b: &[u8], n: u64) -> Vec<&[u8]> {
        fields(b).into_iter().filter(|(f, _)| *f == n).map(|(_, p)| p).collect()
    }

    #[test]
    fn v2_protobuf_field_numbers_match_gnostic() {
        let o = OpenApi::new();
        let bytes = o.v2_protobuf();
        // Document: swagger = 1, info = 2, paths = 8, definitions = 9.
        assert_eq!(field(&bytes, 1), vec![b"2.0".as_slice()]);
        let info = field(&bytes, 2)[0];
        assert_eq!(field(info, 1), vec![b"Kubernetes".as_slice()]);
        let paths = field(&bytes, 8)[0];
        // Paths.path = 2 (NamedPathItem: name = 1, value = 2).
        let item = field(paths, 2)
            .into_iter()
            .find(|np| field(np, 1) == vec![b"/apis/apps/v1/namespaces/{namespace}/deployments/{name}".as_slice()])
            .expect("deployment item path");
        let path_item = field(item, 2)[0];
        // PathItem.patch = 8; Operation.vendor_extension = 13, parameters = 8, consumes = 7.
        let patch = field(path_item, 8)[0];
        let consumes: Vec<&[u8]> = field(patch, 7);
        assert!(consumes.contains(&b"application/merge-patch+json".as_slice()));
        let ext =
            field(patch, 13).into_iter().find(|na| field(na, 1) == vec![GVK_EXT.as_bytes()]).expect("gvk extension");
        // NamedAny.value = 2 -> Any.yaml = 2.
        let yaml = field(field(ext, 2)[0], 2)[0];
        let v: Value = serde_json::from_slice(yaml).expect("yaml is JSON text");
        assert_eq!(v, gvk("apps", "v1", "Deployment"));
        // ParametersItem.parameter = 1 -> Parameter.non_body_parameter = 2 ->
        // NonBodyParameter.query_parameter_sub_schema = 3 -> name = 4.
        let names: Vec<&[u8]> = field(patch, 8)
            .into_iter()
            .flat_map(|pi| field(pi, 1))
            .flat_map(|p| field(p, 2))
            .flat_map(|nb| field(nb, 3))
            .flat_map(|q| field(q, 4))
            .collect();
        assert!(names.contains(&b"fieldValidation".as_slice()));
        // Body parameter: Parameter.body_parameter = 1 -> schema = 5 -> _ref = 1.
        let body_refs: Vec<&[u8]> = field(patch, 8)
            .into_iter()
            .flat_map(|pi| field(pi, 1))
            .flat_map(|p| field(p, 1))
            .flat_map(|b| field(b, 5))
            .flat_map(|s| field(s, 1))
            .collect();
        assert_eq!(body_refs, vec![format!("{V2_REF}{PATCH_SCHEMA}").as_bytes()]);
        // Definitions.additional_properties = 1 (NamedSchema) -> Schema: type = 22
        // (TypeItem.value = 1), properties = 25, description = 4, vendor_extension = 31.
        let defs = field(&bytes, 9)[0];
        let deploy = field(defs, 1)
            .into_iter()
            .find(|ns| field(ns, 1) == vec![b"io.k8s.api.apps.v1.Deployment".as_slice()])
            .expect("Deployment definition");
        let schema = field(deploy, 2)[0];
        assert_eq!(field(field(schema, 22)[0], 1), vec![b"object".as_slice()]);
        assert!(!field(schema, 4).is_empty());
        let props = field(schema, 25)[0];
        assert!(field(props, 1).iter().any(|ns| field(ns, 1) == vec![b"spec".as_slice()]));
        let gvk_ext = field(schema, 31).into_iter().find(|na| field(na, 1) == vec![GVK_EXT.as_bytes()]).expect("gvk");
        let yaml = field(field(gvk_ext, 2)[0], 2)[0];
        assert_eq!(serde_json::from_slice::<Value>(yaml).ok(), Some(json!([gvk("apps", "v1", "Deployment")])));
        // Schema.items = 23 (ItemsItem.schema = 1), additional_properties = 21 (schema = 1).
        let containers_items = {
            let spec = field(&bytes, 9)[0];
            let pod_spec = field(spec, 1)
                .into_iter()
                .find(|ns| field(ns, 1) == vec![b"io.k8s.api.core.v1.PodSpec".as_slice()])
                .expect("PodSpec");
            let props = field(field(pod_spec, 2)[0], 25)[0];
            let containers = field(props, 1)
                .into_iter()
                .find(|ns| field(ns, 1) == vec![b"containers".as_slice()])
                .expect("containers");
            let items = field(field(containers, 2)[0], 23)[0];
            field(field(items, 1)[0], 1)[0].to_vec()
        };
        assert_eq!(containers_items, format!("{V2_REF}io.k8s.api.core.v1.Container").into_bytes());
    }

    #[test]
    fn v2_accept_negotiation() {
        assert!(v2_wants_protobuf("application/com.github.proto-openapi.spec.v2@v1.0+protobuf"));
        assert!(v2_wants_protobuf("application/com.github.proto-openapi.spec.v2.v1.0+protobuf, application/json"));
        assert!(!v2_wants_protobuf("application/json, application/com.github.proto-openapi.spec.v2@v1.0+protobuf"));
        assert!(!v2_wants_protobuf("*/*"));
        assert!(!v2_wants_protobuf(""));
        assert!(!V2_PROTOBUF_CONTENT_TYPE.contains('@'));
    }

    #[test]
    fn hashes_are_stable_and_content_sensitive() {
        assert_eq!(doc_hash(b"abc"), doc_hash(b"abc"));
        assert_ne!(doc_hash(b"abc"), doc_hash(b"abd"));
        assert_eq!(doc_hash(b"abc").len(), 32);
        let a = OpenApi::new();
        let b = OpenApi::new();
        assert_eq!(a.v3_root(), b.v3_root());
        assert_eq!(a.v2_etag(), b.v2_etag());
    }
}
