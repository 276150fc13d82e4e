//! Defaults of the smaller groups (storage.k8s.io, discovery.k8s.io).

use serde_json::Value;

use super::{items, set_default};

pub(super) fn storage_class(sc: &mut Value) {
    set_default(sc, "reclaimPolicy", "Delete");
    set_default(sc, "volumeBindingMode", "Immediate");
}

pub(super) fn endpoint_slice(es: &mut Value) {
    for port in items(es, "ports") {
        set_default(port, "name", "");
        set_default(port, "protocol", "TCP");
    }
}
