//! The generic registry store: create, update, patch and delete of any kind against the
//! revisioned store, with upstream's rules for metadata, generation, status, finalizers,
//! graceful deletion and optimistic concurrency. Kind-specific rules live in `strategy`.

use bytes::Bytes;
use serde_json::{json, Value};
use skiff_api::registry::Resource;
use skiff_api::{decode, defaults, validation};
use skiff_store::{KeyValue, Store, StoreError};

use crate::objects::{self, meta_mut};
use crate::status::ApiError;
use crate::strategy;

/// Upstream rejects objects above etcd's request limit.
pub const MAX_OBJECT_BYTES: usize = 1_572_864;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FieldValidation {
    Ignore,
    #[default]
    Warn,
    Strict,
}

#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    pub dry_run: bool,
    pub field_validation: FieldValidation,
}

#[derive(Debug, Clone, Default)]
pub struct DeleteOptions {
    pub dry_run: bool,
    pub grace_period_seconds: Option<i64>,
    pub propagation_policy: Option<String>,
    pub precondition_uid: Option<String>,
    pub precondition_resource_version: Option<String>,
}

/// The part of an object a write addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Main,
    Status,
    /// pods/binding: spec.nodeName and the PodScheduled condition in one write,
    /// past the pod update rules that forbid changing nodeName.
    Binding,
    /// namespaces/finalize: only spec.finalizers changes (past the update rule that keeps
    /// them), which is how the namespace controller lets a Terminating namespace go.
    Finalize,
}

/// A successful write: the stored bytes and any warnings for the `Warning` header.
pub struct Written {
    pub object: Bytes,
    pub created: bool,
    pub warnings: Vec<String>,
}

pub enum Deleted {
    /// Gone from the store; the last state.
    Now(Value),
    /// Marked for deletion (finalizers or a grace period pending).
    Pending(Bytes),
}

#[derive(Clone)]
pub struct Storage {
    pub store: Store,
    /// Whether a garbage collector runs (skiff-controllers' garbagecollector): only then
    /// do deletes add the orphan and foregroundDeletion finalizers (upstream's
    /// --enable-garbage-collector), which the collector removes.
    pub gc_enabled: bool,
    pub service_alloc: std::sync::Arc<tokio::sync::Mutex<()>>,
}

pub fn key(r: &Resource, namespace: Option<&str>, name: &str) -> String {
    match namespace {
        Some(ns) if r.namespaced => format!("/{}/{}/{}/{}", group_dir(r), r.plural, ns, name),
        _ => format!("/{}/{}/{}", group_dir(r), r.plural, name),
    }
}

/// The prefix holding all objects of a resource, or those of one namespace.
pub fn prefix(r: &Resource, namespace: Option<&str>) -> String {
    match namespace {
        Some(ns) if r.namespaced => format!("/{}/{}/{}/", group_dir(r), r.plural, ns),
        _ => format!("/{}/{}/", group_dir(r), r.plural),
    }
}

fn group_dir(r: &Resource) -> &'static str {
    if r.group.is_empty() {
        "core"
    } else {
        r.group
    }
}

/// The stored form: JSON with resourceVersion set to the revision of the write.
fn stamp(mut obj: Value) -> skiff_store::MakeValue {
    Box::new(move |rev| {
        meta_mut(&mut obj).insert("resourceVersion".into(), Value::String(rev.to_string()));
        Bytes::from(serde_json::to_vec(&obj).unwrap_or_default())
    })
}

fn size_check(obj: &Value) -> Result<(), ApiError> {
    let len = serde_json::to_vec(obj).map(|v| v.len()).unwrap_or(0);
    if len > MAX_OBJECT_BYTES {
        return Err(ApiError::too_large("etcdserver: request is too large"));
    }
    Ok(())
}

/// Checks the body's types and collects unknown fields per fieldValidation.
fn decode_check(r: &Resource, obj: &Value, fv: FieldValidation) -> Result<Vec<String>, ApiError> {
    let unknown = decode::check(r, obj).map_err(|e| {
        ApiError::bad_request(format!("{} in version \"{}\" cannot be handled as a {}: {}", r.kind, r.version, r.kind, e.0))
    })?;
    let unknown: Vec<String> = unknown.into_iter().map(|f| format!("unknown field \"{f}\"")).collect();
    match fv {
        FieldValidation::Ignore => Ok(vec![]),
        FieldValidation::Warn => Ok(unknown),
        FieldValidation::Strict if unknown.is_empty() => Ok(vec![]),
        FieldValidation::Strict => Err(ApiError::bad_request(format!(
            "{} in version \"{}\" cannot be handled as a {}: strict decoding error: {}",
            r.kind,
            r.version,
            r.kind,
            unknown.join(", ")
        ))),
    }
}

/// The body's apiVersion and kind must be the URL's (or absent).
fn check_type_meta(r: &Resource, obj: &mut Value) -> Result<(), ApiError> {
    let Some(map) = obj.as_object_mut() else {
        return Err(ApiError::bad_request(format!("Object '{}' is missing in 'null'", "Kind")));
    };
    let want = r.api_version();
    match map.get("apiVersion").and_then(Value::as_str) {
        Some(v) if v != want => {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({v}) does not match the expected API version ({want})"
            )))
        }
        _ => {}
    }
    match map.get("kind").and_then(Value::as_str) {
        // Upstream's decoder looks the kind up in its scheme first (`kind: pod` fails here).
        Some(k) if skiff_api::registry::by_kind(r.group, r.version, k).is_none() => {
            return Err(ApiError::bad_request(format!(
                "no kind \"{k}\" is registered for version \"{want}\" in scheme \"k8s.io/kubernetes/pkg/api/legacyscheme/scheme.go:30\""
            )))
        }
        Some(k) if k != r.kind => {
            return Err(ApiError::bad_request(format!("the kind in the data ({k}) does not match the expected kind ({})", r.kind)))
        }
        _ => {}
    }
    map.insert("apiVersion".into(), Value::String(want));
    map.insert("kind".into(), Value::String(r.kind.to_string()));
    Ok(())
}

fn invalid(r: &Resource, name: &str, errs: Vec<validation::FieldError>) -> Result<(), ApiError> {
    if errs.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(&r.qualified_kind(), name, &errs))
    }
}

fn generate_name(prefix: &str) -> String {
    // Upstream's alphabet: no vowels (no words) and no look-alike characters.
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let suffix: String = (0..5).map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char).collect();
    format!("{prefix}{suffix}")
}

impl Storage {
    pub fn get(&self, r: &Resource, namespace: Option<&str>, name: &str) -> Result<KeyValue, ApiError> {
        self.store.get(&key(r, namespace, name)).ok_or_else(|| ApiError::not_found(r, name))
    }

    pub async fn create(&self, r: &Resource, namespace: Option<&str>, mut obj: Value, opts: &WriteOptions) -> Result<Written, ApiError> {
        check_type_meta(r, &mut obj)?;
        let warnings = decode_check(r, &obj, opts.field_validation)?;
        let namespace = if r.namespaced {
            let ns = namespace.map(str::to_string).or_else(|| objects::meta_str(&obj, "namespace").map(str::to_string));
            let Some(ns) = ns else { return Err(ApiError::bad_request("the namespace of the object cannot be empty")) };
            if let Some(body_ns) = objects::meta_str(&obj, "namespace") {
                if body_ns != ns {
                    return Err(ApiError::bad_request("the namespace of the provided object does not match the namespace sent on the request"));
                }
            }
            self.check_namespace_open(&ns)?;
            Some(ns)
        } else {
            None
        };
        {
            let m = meta_mut(&mut obj);
            match &namespace {
                Some(ns) => m.insert("namespace".into(), Value::String(ns.clone())),
                None => m.remove("namespace"),
            };
            if m.get("name").and_then(Value::as_str).is_none_or(str::is_empty) {
                if let Some(prefix) = m.get("generateName").and_then(Value::as_str).filter(|p| !p.is_empty()) {
                    let generated = generate_name(prefix);
                    m.insert("name".into(), Value::String(generated));
                }
            }
            let uid = uuid::Uuid::new_v4().to_string();
            m.insert("uid".into(), Value::String(uid));
            m.insert("creationTimestamp".into(), Value::String(objects::now_rfc3339()));
            for f in ["resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "managedFields", "selfLink"] {
                m.remove(f);
            }
            // Kinds without generation tracking keep what the client sent, as upstream.
            if strategy::tracks_generation(r) {
                m.insert("generation".into(), json!(1));
            }
        }
        strategy::prepare_for_create(r, &mut obj);
        if r.group.is_empty() && r.kind == "PersistentVolumeClaim" {
            self.default_storage_class(&mut obj);
        }
        defaults::apply_defaults(r.group, r.kind, &mut obj);
        let name = objects::name(&obj).unwrap_or_default().to_string();
        // Held from allocation until the Service is stored, so no two get one IP.
        let _alloc = if r.group.is_empty() && r.kind == "Service" {
            let guard = self.service_alloc.lock().await;
            crate::services::allocate(&self.store, &mut obj).map_err(|errs| ApiError::invalid(&r.qualified_kind(), &name, &errs))?;
            Some(guard)
        } else {
            None
        };
        if r.group == "batch" && r.kind == "Job" {
            let uid = objects::meta_str(&obj, "uid").unwrap_or_default().to_string();
            defaults::generate_job_selector(&mut obj, &uid);
        }
        invalid(r, &name, validation::validate(r.group, r.kind, &obj, None))?;
        size_check(&obj)?;
        if opts.dry_run {
            if self.store.get(&key(r, namespace.as_deref(), &name)).is_some() {
                return Err(ApiError::already_exists(r, &name));
            }
            meta_mut(&mut obj).insert("resourceVersion".into(), Value::String(String::new()));
            return Ok(Written { object: Bytes::from(serde_json::to_vec(&obj).unwrap_or_default()), created: true, warnings });
        }
        match self.store.create(&key(r, namespace.as_deref(), &name), stamp(obj)).await {
            Ok(kv) => Ok(Written { object: kv.value, created: true, warnings }),
            Err(StoreError::AlreadyExists) => Err(ApiError::already_exists(r, &name)),
            Err(e) => Err(e.into()),
        }
    }

    fn check_namespace_open(&self, ns: &str) -> Result<(), ApiError> {
        let nsr = skiff_api::registry::by_plural("", "v1", "namespaces").ok_or_else(|| ApiError::internal("no namespaces"))?;
        let kv = self.store.get(&key(nsr, None, ns)).ok_or_else(|| ApiError::not_found(nsr, ns))?;
        if objects::is_deleting(&objects::parse_json(&kv.value)) {
            return Err(ApiError::forbidden(format!(
                "unable to create new content in namespace {ns} because it is being terminated"
            )));
        }
        Ok(())
    }

    /// Upstream's DefaultStorageClass admission: a claim that names no class (absent, not
    /// "") gets the class annotated `storageclass.kubernetes.io/is-default-class`.
    fn default_storage_class(&self, pvc: &mut Value) {
        if pvc.pointer("/spec/storageClassName").is_some_and(|c| !c.is_null()) {
            return;
        }
        let Some(sc) = skiff_api::registry::by_plural("storage.k8s.io", "v1", "storageclasses") else { return };
        let classes = self.store.list(&prefix(sc, None), None, None).items;
        let default = classes.iter().map(|kv| objects::parse_json(&kv.value)).find(|c| {
            c.pointer("/metadata/annotations/storageclass.kubernetes.io~1is-default-class").and_then(Value::as_str) == Some("true")
        });
        if let (Some(name), Some(spec)) = (default.as_ref().and_then(objects::name), pvc.get_mut("spec").and_then(Value::as_object_mut)) {
            spec.insert("storageClassName".into(), Value::String(name.to_string()));
        }
    }

    /// Read-modify-write with optimistic concurrency, like upstream's GuaranteedUpdate:
    /// `change` gets the current object and returns the desired one. A conflict with a
    /// concurrent writer is retried unless the client pinned a resourceVersion.
    pub async fn update_with<F>(
        &self,
        r: &Resource,
        namespace: Option<&str>,
        name: &str,
        part: Part,
        opts: &WriteOptions,
        mut change: F,
    ) -> Result<Written, ApiError>
    where
        F: FnMut(&Value) -> Result<Value, ApiError>,
    {
        let k = key(r, namespace, name);
        loop {
            let current = self.store.get(&k).ok_or_else(|| ApiError::not_found(r, name))?;
            let old = objects::parse_json(&current.value);
            let mut new = change(&old)?;
            check_type_meta(r, &mut new)?;
            let warnings = decode_check(r, &new, opts.field_validation)?;
            if let Some(body_name) = objects::name(&new) {
                if body_name != name {
                    return Err(ApiError::bad_request(format!(
                        "the name of the object ({body_name}) does not match the name on the URL ({name})"
                    )));
                }
            }
            let pinned = objects::meta_str(&new, "resourceVersion").map(str::to_string);
            match &pinned {
                Some(rv) if rv.parse::<i64>().ok() != Some(current.mod_revision) => return Err(ApiError::stale(r, name)),
                Some(_) => {}
                None => {
                    meta_mut(&mut new).insert("resourceVersion".into(), Value::String(current.mod_revision.to_string()));
                }
            }
            let mut new = match part {
                Part::Main => strategy::prepare_for_update(r, new, &old),
                Part::Status => strategy::prepare_for_status_update(new, &old),
                Part::Binding | Part::Finalize => new,
            };
            defaults::apply_defaults(r.group, r.kind, &mut new);
            if part == Part::Main {
                strategy::update_generation(r, &mut new, &old);
            }
            let errs = match part {
                Part::Main => validation::validate(r.group, r.kind, &new, Some(&old)),
                Part::Status => validation::validate_status(r.group, r.kind, &new, &old),
                Part::Binding | Part::Finalize => Vec::new(),
            };
            invalid(r, name, errs)?;
            size_check(&new)?;
            meta_mut(&mut new).insert("resourceVersion".into(), Value::String(current.mod_revision.to_string()));
            if new == old {
                // No-op updates neither write nor move the resourceVersion.
                return Ok(Written { object: current.value, created: false, warnings });
            }
            if objects::is_deleting(&new) && objects::finalizers(&new).is_empty() && !strategy::blocks_deletion(r, &new) {
                // The last finalizer is gone: the deletion completes.
                if opts.dry_run {
                    return Ok(Written { object: current.value, created: false, warnings });
                }
                return match self.store.delete(&k, Some(current.mod_revision)).await {
                    Ok((kv, _)) => Ok(Written { object: kv.value, created: false, warnings }),
                    Err(StoreError::Conflict { .. }) if pinned.is_none() => continue,
                    Err(StoreError::Conflict { .. }) => Err(ApiError::stale(r, name)),
                    Err(StoreError::NotFound) => Err(ApiError::not_found(r, name)),
                    Err(e) => Err(e.into()),
                };
            }
            if opts.dry_run {
                return Ok(Written { object: Bytes::from(serde_json::to_vec(&new).unwrap_or_default()), created: false, warnings });
            }
            match self.store.update(&k, Some(current.mod_revision), stamp(new)).await {
                Ok(kv) => return Ok(Written { object: kv.value, created: false, warnings }),
                Err(StoreError::Conflict { .. }) if pinned.is_none() => continue,
                Err(StoreError::Conflict { .. }) => return Err(ApiError::stale(r, name)),
                Err(StoreError::NotFound) => return Err(ApiError::not_found(r, name)),
                Err(e) => return Err(e.into()),
            }
        }
    }

    pub async fn delete(&self, r: &Resource, namespace: Option<&str>, name: &str, opts: &DeleteOptions) -> Result<Deleted, ApiError> {
        strategy::admit_delete(r, name).map_err(|why| ApiError::forbidden_object(r, name, &why))?;
        let k = key(r, namespace, name);
        loop {
            let current = self.store.get(&k).ok_or_else(|| ApiError::not_found(r, name))?;
            let mut obj = objects::parse_json(&current.value);
            if let Some(uid) = &opts.precondition_uid {
                let actual = objects::meta_str(&obj, "uid").unwrap_or_default();
                if uid != actual {
                    return Err(ApiError::conflict(r, name, &format!(
                        "Precondition failed: UID in precondition: {uid}, UID in object meta: {actual}"
                    )));
                }
            }
            if let Some(rv) = &opts.precondition_resource_version {
                let actual = current.mod_revision.to_string();
                if *rv != actual {
                    return Err(ApiError::conflict(r, name, &format!(
                        "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {actual}"
                    )));
                }
            }
            let mut finalizers = objects::finalizers(&obj);
            if self.gc_enabled {
                strategy::gc_finalizers(r, opts.propagation_policy.as_deref(), &mut finalizers);
            }
            let grace = strategy::grace_period(r, &obj, opts.grace_period_seconds);
            let pending = !finalizers.is_empty() || grace > 0 || strategy::has_spec_finalizers(r, &obj);
            if pending {
                if objects::is_deleting(&obj) && finalizers == objects::finalizers(&obj) {
                    // Already being deleted: upstream only shortens a pending grace period.
                    return Ok(Deleted::Pending(current.value));
                }
                let m = meta_mut(&mut obj);
                if !m.contains_key("deletionTimestamp") {
                    let at = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(grace);
                    m.insert("deletionTimestamp".into(), Value::String(at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()));
                    m.insert("deletionGracePeriodSeconds".into(), json!(grace));
                }
                objects::set_finalizers(&mut obj, &finalizers);
                strategy::prepare_for_delete(r, &mut obj);
                if opts.dry_run {
                    return Ok(Deleted::Pending(Bytes::from(serde_json::to_vec(&obj).unwrap_or_default())));
                }
                match self.store.update(&k, Some(current.mod_revision), stamp(obj)).await {
                    Ok(kv) => return Ok(Deleted::Pending(kv.value)),
                    Err(StoreError::Conflict { .. }) => continue,
                    Err(StoreError::NotFound) => return Err(ApiError::not_found(r, name)),
                    Err(e) => return Err(e.into()),
                }
            }
            if opts.dry_run {
                return Ok(Deleted::Now(obj));
            }
            match self.store.delete(&k, Some(current.mod_revision)).await {
                Ok(_) => return Ok(Deleted::Now(obj)),
                Err(StoreError::Conflict { .. }) => continue,
                Err(StoreError::NotFound) => return Err(ApiError::not_found(r, name)),
                Err(e) => return Err(e.into()),
            }
        }
    }
}
