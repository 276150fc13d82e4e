//! Ownership of dependents (upstream `ControllerRefManager`): a controller owns the
//! objects whose controller reference names it; it adopts orphans its selector matches
//! (unless it or they are being deleted) and releases objects it owns that its selector
//! no longer matches (unless it is being deleted). Objects controlled by another owner
//! are never touched, so two controllers with overlapping selectors do not fight.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Already ours and matching.
    Owned,
    /// An orphan to adopt.
    Adopt,
    /// Ours but no longer matching: release it.
    Release,
    /// Someone else's, or nothing to do.
    Ignore,
}

/// The controller's side of a claim.
pub struct Claimant<'a> {
    pub uid: &'a str,
    pub namespace: &'a str,
    pub deleting: bool,
}

/// The dependent's side.
pub struct Candidate<'a> {
    pub controller: Option<&'a OwnerReference>,
    pub namespace: &'a str,
    pub deleting: bool,
    pub matches: bool,
}

pub fn claim(owner: &Claimant, obj: &Candidate) -> Claim {
    match obj.controller {
        Some(c) if c.uid != owner.uid => Claim::Ignore,
        Some(_) if obj.matches => Claim::Owned,
        Some(_) if owner.deleting => Claim::Ignore,
        Some(_) => Claim::Release,
        None => {
            if owner.deleting || !obj.matches || obj.deleting || (!owner.namespace.is_empty() && owner.namespace != obj.namespace) {
                Claim::Ignore
            } else {
                Claim::Adopt
            }
        }
    }
}

/// A controller reference to the owner (controller and blockOwnerDeletion set).
pub fn controller_ref(api_version: &str, kind: &str, name: &str, uid: &str) -> OwnerReference {
    OwnerReference {
        api_version: api_version.into(),
        kind: kind.into(),
        name: name.into(),
        uid: uid.into(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// Strategic merge patch adding the controller reference (the dependent's uid guards
/// against a same-named replacement).
pub fn adopt_patch(owner: &OwnerReference, dependent_uid: &str) -> Value {
    json!({"metadata": {"ownerReferences": [owner], "uid": dependent_uid}})
}

/// Strategic merge patch removing the reference to `owner_uid`.
pub fn release_patch(owner_uid: &str, dependent_uid: &str) -> Value {
    json!({"metadata": {"ownerReferences": [{"$patch": "delete", "uid": owner_uid}], "uid": dependent_uid}})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cref(uid: &str) -> OwnerReference {
        controller_ref("apps/v1", "ReplicaSet", "rs", uid)
    }

    #[test]
    fn adoption_release_and_no_fighting() {
        let me = Claimant { uid: "me", namespace: "default", deleting: false };
        let mine = cref("me");
        let theirs = cref("them");
        let c = |controller, matches, deleting| Candidate { controller, namespace: "default", deleting, matches };
        assert_eq!(claim(&me, &c(Some(&mine), true, false)), Claim::Owned);
        assert_eq!(claim(&me, &c(Some(&mine), false, false)), Claim::Release);
        assert_eq!(claim(&me, &c(Some(&theirs), true, false)), Claim::Ignore, "another controller's pod");
        assert_eq!(claim(&me, &c(None, true, false)), Claim::Adopt);
        assert_eq!(claim(&me, &c(None, false, false)), Claim::Ignore);
        assert_eq!(claim(&me, &c(None, true, true)), Claim::Ignore, "orphan being deleted");
        let other_ns = Candidate { controller: None, namespace: "kube-system", deleting: false, matches: true };
        assert_eq!(claim(&me, &other_ns), Claim::Ignore);

        let dying = Claimant { uid: "me", namespace: "default", deleting: true };
        assert_eq!(claim(&dying, &c(None, true, false)), Claim::Ignore, "a deleting owner adopts nothing");
        assert_eq!(claim(&dying, &c(Some(&mine), false, false)), Claim::Ignore, "nor releases");
        assert_eq!(claim(&dying, &c(Some(&mine), true, false)), Claim::Owned);
    }

    #[test]
    fn patches() {
        let p = adopt_patch(&cref("me"), "pod-uid");
        assert_eq!(p["metadata"]["ownerReferences"][0]["controller"], true);
        assert_eq!(p["metadata"]["ownerReferences"][0]["blockOwnerDeletion"], true);
        assert_eq!(release_patch("me", "pod-uid")["metadata"]["ownerReferences"][0], json!({"$patch": "delete", "uid": "me"}));
    }
}
