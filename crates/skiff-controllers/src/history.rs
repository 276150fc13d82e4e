//! ControllerRevisions (upstream `pkg/controller/history`): the history of a DaemonSet's
//! or StatefulSet's pod template. Each revision holds, in `data`, a strategic merge
//! patch that puts the template back (`{"spec": {"template": {"$patch": "replace", …}}}`),
//! which is what `kubectl rollout undo` applies; `revision` numbers them (1, 2, …, a
//! template that comes back gets the next number again rather than a new object); the
//! object is named `<owner>-<hash>` and labelled `controller-revision-hash: <hash>` with
//! the template's labels, so that kubectl finds it by the owner's selector; it is
//! controlled by its owner. Old revisions no pod uses are deleted, oldest first, down to
//! `revisionHistoryLimit`.
//!
//! Everything here is pure except [`create`], [`set_number`] and [`patch_owner`], which
//! write through the API.

use std::collections::HashSet;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::ControllerRevision;
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{json, Map, Value};

use crate::claims::{self, Candidate, Claim, Claimant};
use crate::informer::Cached;
use crate::pods::controller_of;
use crate::selector::Selector;

/// The label naming a revision's hash, on revisions and on the pods made from them.
pub const HASH_LABEL: &str = "controller-revision-hash";
/// Upstream's limit on the owner part of a revision's name (253 minus room for a hash).
const MAX_PREFIX: usize = 223;

/// The owner of a history.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Parent {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub deleting: bool,
}

impl Parent {
    pub fn controller_ref(&self) -> OwnerReference {
        claims::controller_ref(self.api_version, self.kind, &self.name, &self.uid)
    }
}

/// FNV-1 (not 1a), 32 bits: what upstream's revision hash uses.
fn fnv1_32(bytes: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in bytes {
        h = h.wrapping_mul(0x0100_0193);
        h ^= u32::from(*b);
    }
    h
}

/// Upstream's SafeEncodeString: no vowels, no look-alike characters.
pub fn safe_encode(s: &str) -> String {
    const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    s.bytes().map(|b| ALPHANUMS[b as usize % ALPHANUMS.len()] as char).collect()
}

/// The hash of a revision's data and, after a name collision, the collision count
/// (upstream `HashControllerRevision`).
pub fn hash_data(data: &Value, probe: Option<i32>) -> String {
    let mut bytes = serde_json::to_vec(data).unwrap_or_default();
    if let Some(p) = probe {
        bytes.extend_from_slice(p.to_string().as_bytes());
    }
    safe_encode(&fnv1_32(&bytes).to_string())
}

/// `<prefix>-<hash>`, the prefix cut so that the name stays a valid object name.
pub fn revision_name(prefix: &str, hash: &str) -> String {
    let cut = if prefix.len() > MAX_PREFIX {
        let mut end = MAX_PREFIX;
        while !prefix.is_char_boundary(end) {
            end -= 1;
        }
        &prefix[..end]
    } else {
        prefix
    };
    format!("{cut}-{hash}")
}

/// The patch that restores `template` (upstream `getPatch`): the template with
/// `"$patch": "replace"` under `spec.template`.
pub fn template_patch(template: &PodTemplateSpec) -> Value {
    let mut t = Map::new();
    t.insert("$patch".into(), json!("replace"));
    if let Ok(Value::Object(m)) = serde_json::to_value(template) {
        t.extend(m);
    }
    json!({"spec": {"template": Value::Object(t)}})
}

pub fn data_of(cr: &ControllerRevision) -> &Value {
    static NULL: Value = Value::Null;
    cr.data.as_ref().map(|d| &d.0).unwrap_or(&NULL)
}

/// The template a revision restores, if its data is such a patch.
pub fn template_of(cr: &ControllerRevision) -> Option<PodTemplateSpec> {
    let mut t = data_of(cr).get("spec")?.get("template")?.clone();
    t.as_object_mut()?.remove("$patch");
    serde_json::from_value(t).ok()
}

/// A new revision of `parent` (upstream `NewControllerRevision`): the template's labels
/// plus the hash label, controlled by the parent, named after the hash of its data.
pub fn new_revision(parent: &Parent, template_labels: Option<&std::collections::BTreeMap<String, String>>, data: Value, revision: i64, collision_count: i32) -> ControllerRevision {
    let hash = hash_data(&data, Some(collision_count));
    let mut labels = template_labels.cloned().unwrap_or_default();
    labels.insert(HASH_LABEL.into(), hash.clone());
    ControllerRevision {
        metadata: ObjectMeta {
            name: Some(revision_name(&parent.name, &hash)),
            namespace: Some(parent.namespace.clone()),
            labels: Some(labels),
            owner_references: Some(vec![parent.controller_ref()]),
            ..Default::default()
        },
        data: Some(RawExtension(data)),
        revision,
    }
}

/// Upstream's order: revision number, then age, then name.
pub fn sort(revisions: &mut [Arc<ControllerRevision>]) {
    revisions.sort_by(|a, b| {
        a.revision
            .cmp(&b.revision)
            .then_with(|| a.metadata.creation_timestamp.as_ref().map(|t| t.0).cmp(&b.metadata.creation_timestamp.as_ref().map(|t| t.0)))
            .then_with(|| a.name().cmp(b.name()))
    });
}

/// Two revisions hold the same state (upstream `EqualRevision`; our hashes are not
/// numbers, so only the data counts).
pub fn equal(a: &ControllerRevision, b: &ControllerRevision) -> bool {
    data_of(a) == data_of(b)
}

/// The revisions holding the same data as `needle`, in the given order.
pub fn find_equal<'a>(revisions: &'a [Arc<ControllerRevision>], needle: &ControllerRevision) -> Vec<&'a Arc<ControllerRevision>> {
    revisions.iter().filter(|r| equal(r, needle)).collect()
}

/// One more than the highest revision number (1 for an empty history); `sorted` ascending.
pub fn next_revision(sorted: &[Arc<ControllerRevision>]) -> i64 {
    sorted.last().map(|r| r.revision + 1).unwrap_or(1)
}

/// The revisions to delete to keep at most `limit` that are not live, oldest first
/// (`sorted` ascending; a negative limit keeps everything).
pub fn to_truncate(sorted: &[Arc<ControllerRevision>], live: &HashSet<String>, limit: i32) -> Vec<String> {
    let history: Vec<&Arc<ControllerRevision>> = sorted.iter().filter(|r| !live.contains(r.name())).collect();
    if limit < 0 || history.len() <= limit as usize {
        return Vec::new();
    }
    history[..history.len() - limit as usize].iter().map(|r| r.name().to_string()).collect()
}

/// The revisions a parent owns, and those it must adopt or release.
#[derive(Debug, Default)]
pub struct Claims {
    pub owned: Vec<Arc<ControllerRevision>>,
    pub adopt: Vec<Arc<ControllerRevision>>,
    pub release: Vec<Arc<ControllerRevision>>,
}

/// Sorts the revisions of the parent's namespace by claim (upstream
/// `ClaimControllerRevisions`).
pub fn claim(parent: &Parent, selector: &Selector, revisions: &[Arc<ControllerRevision>]) -> Claims {
    let me = Claimant { uid: &parent.uid, namespace: &parent.namespace, deleting: parent.deleting };
    let mut out = Claims::default();
    for r in revisions {
        let labels = r.metadata.labels.clone().unwrap_or_default();
        let owners = r.metadata.owner_references.as_deref().unwrap_or_default();
        let c = Candidate { controller: controller_of(owners), namespace: r.namespace(), deleting: r.metadata.deletion_timestamp.is_some(), matches: selector.matches(&labels) };
        match claims::claim(&me, &c) {
            Claim::Owned => out.owned.push(r.clone()),
            Claim::Adopt => out.adopt.push(r.clone()),
            Claim::Release => out.release.push(r.clone()),
            Claim::Ignore => {}
        }
    }
    out
}

fn api(client: &kube::Client, namespace: &str) -> Api<ControllerRevision> {
    Api::namespaced(client.clone(), namespace)
}

/// Creates `revision`; on a name taken by other data, bumps `collision_count` and tries
/// the next name (upstream `CreateControllerRevision`). Returns the stored revision.
pub async fn create(client: &kube::Client, parent: &Parent, revision: &ControllerRevision, collision_count: &mut i32) -> Result<ControllerRevision, kube::Error> {
    let api = api(client, &parent.namespace);
    let mut attempt = revision.clone();
    loop {
        attempt.metadata.name = Some(revision_name(&parent.name, &hash_data(data_of(revision), Some(*collision_count))));
        let name = attempt.name().to_string();
        match api.create(&PostParams::default(), &attempt).await {
            Err(kube::Error::Api(s)) if s.code == 409 => {
                let existing = api.get(&name).await?;
                if data_of(&existing) == data_of(revision) {
                    return Ok(existing);
                }
                *collision_count += 1;
            }
            other => return other,
        }
    }
}

/// Gives an existing revision a new number.
pub async fn set_number(client: &kube::Client, cr: &ControllerRevision, revision: i64) -> Result<ControllerRevision, kube::Error> {
    let patch = json!({"revision": revision});
    api(client, cr.namespace()).patch(cr.name(), &PatchParams::default(), &Patch::Merge(&patch)).await
}

/// Adopts (`Some(owner)`) or releases (`None`, the parent's uid given) a revision.
pub async fn patch_owner(client: &kube::Client, cr: &ControllerRevision, adopt: Option<&OwnerReference>, parent_uid: &str) -> Result<Option<ControllerRevision>, kube::Error> {
    let uid = cr.metadata.uid.as_deref().unwrap_or("");
    let patch = match adopt {
        Some(owner) => claims::adopt_patch(owner, uid),
        None => claims::release_patch(parent_uid, uid),
    };
    match api(client, cr.namespace()).patch(cr.name(), &PatchParams::default(), &Patch::Strategic(&patch)).await {
        Ok(r) => Ok(Some(r)),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Container, PodSpec};
    use std::collections::BTreeMap;

    pub fn template(image: &str) -> PodTemplateSpec {
        PodTemplateSpec {
            metadata: Some(ObjectMeta { labels: Some(BTreeMap::from([("app".to_string(), "web".to_string())])), ..Default::default() }),
            spec: Some(PodSpec { containers: vec![Container { name: "c".into(), image: Some(image.into()), ..Default::default() }], ..Default::default() }),
        }
    }

    pub fn parent() -> Parent {
        Parent { api_version: "apps/v1", kind: "StatefulSet", namespace: "default".into(), name: "web".into(), uid: "uid-web".into(), deleting: false }
    }

    fn rev(image: &str, n: i64) -> Arc<ControllerRevision> {
        let t = template(image);
        Arc::new(new_revision(&parent(), t.metadata.as_ref().and_then(|m| m.labels.as_ref()), template_patch(&t), n, 0))
    }

    #[test]
    fn fnv1_and_names() {
        // FNV-1 test vectors.
        assert_eq!(fnv1_32(b""), 0x811c_9dc5);
        assert_eq!(fnv1_32(b"a"), 0x050c_5d7e);
        assert_eq!(fnv1_32(b"foobar"), 0x31f0_b262);
        assert_eq!(safe_encode("0123"), "4567");
        assert!(safe_encode(&u32::MAX.to_string()).chars().all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c)));
        assert_eq!(revision_name("web", "abc"), "web-abc");
        assert_eq!(revision_name(&"x".repeat(300), "abc").len(), MAX_PREFIX + 4);
    }

    #[test]
    fn revisions_restore_their_template_and_hash_by_data() {
        let t = template("nginx:1.16");
        let patch = template_patch(&t);
        assert_eq!(patch["spec"]["template"]["$patch"], "replace");
        assert_eq!(patch["spec"]["template"].as_object().and_then(|m| m.keys().next()).map(String::as_str), Some("$patch"));
        let a = rev("nginx:1.16", 1);
        assert_eq!(template_of(&a), Some(t));
        let name = a.name().to_string();
        let hash = a.metadata.labels.as_ref().unwrap()[HASH_LABEL].clone();
        assert_eq!(name, format!("web-{hash}"));
        assert_eq!(a.metadata.labels.as_ref().unwrap()["app"], "web");
        let owner = &a.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!((owner.kind.as_str(), owner.controller, owner.block_owner_deletion), ("StatefulSet", Some(true), Some(true)));
        // Same data, same name, whatever the number; other data or a collision, another.
        assert_eq!(rev("nginx:1.16", 7).name(), name);
        assert_ne!(rev("nginx:1.17", 1).name(), name);
        assert_ne!(hash_data(data_of(&a), Some(1)), hash);
        assert!(equal(&a, &rev("nginx:1.16", 3)));
        assert!(!equal(&a, &rev("nginx:1.17", 3)));
    }

    #[test]
    fn order_next_number_and_equal_ones() {
        let mut revs = vec![rev("c", 3), rev("a", 1), rev("b", 2)];
        sort(&mut revs);
        assert_eq!(revs.iter().map(|r| r.revision).collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(next_revision(&revs), 4);
        assert_eq!(next_revision(&[]), 1);
        let found = find_equal(&revs, &rev("b", 9));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].revision, 2);
    }

    #[test]
    fn truncation_keeps_live_and_newest() {
        let revs: Vec<_> = (1..=6).map(|i| rev(&format!("img{i}"), i)).collect();
        let names: Vec<String> = revs.iter().map(|r| r.name().to_string()).collect();
        // 2 and 6 are live (a pod runs 2, 6 is current): of 1, 3, 4, 5 keep the newest 2.
        let live: HashSet<String> = [names[1].clone(), names[5].clone()].into();
        assert_eq!(to_truncate(&revs, &live, 2), vec![names[0].clone(), names[2].clone()]);
        assert_eq!(to_truncate(&revs, &live, 0), vec![names[0].clone(), names[2].clone(), names[3].clone(), names[4].clone()]);
        assert!(to_truncate(&revs, &live, 10).is_empty());
        assert!(to_truncate(&revs, &live, -1).is_empty());
    }

    #[test]
    fn claims_of_revisions() {
        let sel = Selector::from_map(&BTreeMap::from([("app".to_string(), "web".to_string())]));
        let mine = rev("a", 1);
        let mut orphan = (*rev("b", 2)).clone();
        orphan.metadata.owner_references = None;
        let mut relabelled = (*rev("c", 3)).clone();
        relabelled.metadata.labels.as_mut().unwrap().insert("app".into(), "db".into());
        let c = claim(&parent(), &sel, &[mine.clone(), Arc::new(orphan), Arc::new(relabelled)]);
        assert_eq!((c.owned.len(), c.adopt.len(), c.release.len()), (1, 1, 1));
        assert_eq!(c.owned[0].name(), mine.name());
    }
}
