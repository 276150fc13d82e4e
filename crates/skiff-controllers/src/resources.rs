//! The API's resources, from discovery (what the garbage collector watches and what the
//! namespace controller empties), refreshed now and then so that new kinds are found.

use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::discovery::{verbs, ApiCapabilities, ApiResource, Discovery, Scope};
use parking_lot::RwLock;

/// One served resource (its preferred version).
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    pub ar: ApiResource,
    pub namespaced: bool,
    pub verbs: Vec<String>,
}

impl Resource {
    pub fn supports(&self, verb: &str) -> bool {
        self.verbs.iter().any(|v| v == verb)
    }

    /// Events are many and own nothing: upstream's collector ignores them too.
    pub fn is_event(&self) -> bool {
        self.ar.kind == "Event" && (self.ar.group.is_empty() || self.ar.group == "events.k8s.io")
    }
}

/// Who an object is, as an owner reference names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Identity {
    pub api_version: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub uid: String,
}

impl Identity {
    pub fn of(api_version: &str, kind: &str, meta: &ObjectMeta) -> Identity {
        Identity {
            api_version: api_version.to_string(),
            kind: kind.to_string(),
            namespace: meta.namespace.clone().unwrap_or_default(),
            name: meta.name.clone().unwrap_or_default(),
            uid: meta.uid.clone().unwrap_or_default(),
        }
    }

    pub fn group(&self) -> &str {
        group_of(&self.api_version)
    }
}

pub fn group_of(api_version: &str) -> &str {
    api_version.split_once('/').map(|(g, _)| g).unwrap_or("")
}

#[derive(Default)]
pub struct Resources {
    all: RwLock<Vec<Resource>>,
    /// Every served group/version/kind, for owner references naming other versions.
    served: RwLock<Vec<Resource>>,
}

fn to_resource(ar: ApiResource, caps: &ApiCapabilities) -> Resource {
    Resource { ar, namespaced: caps.scope == Scope::Namespaced, verbs: caps.operations.clone() }
}

impl Resources {
    pub fn new() -> Arc<Resources> {
        Arc::new(Resources::default())
    }

    /// Runs discovery; returns whether anything changed.
    pub async fn refresh(&self, client: &kube::Client) -> Result<bool, kube::Error> {
        let discovery = match Discovery::new(client.clone()).run_aggregated().await {
            Ok(d) => d,
            Err(_) => Discovery::new(client.clone()).run().await?,
        };
        let mut all = Vec::new();
        let mut served = Vec::new();
        for group in discovery.groups() {
            for (ar, caps) in group.recommended_resources() {
                all.push(to_resource(ar, &caps));
            }
            for v in group.versions() {
                for (ar, caps) in group.versioned_resources(v) {
                    served.push(to_resource(ar, &caps));
                }
            }
        }
        let changed = *self.all.read() != all;
        *self.all.write() = all;
        *self.served.write() = served;
        Ok(changed)
    }

    pub fn all(&self) -> Vec<Resource> {
        self.all.read().clone()
    }

    pub fn is_empty(&self) -> bool {
        self.all.read().is_empty()
    }

    /// The resource an apiVersion and kind name: that version if served, else the
    /// preferred version of the group's kind.
    pub fn resolve(&self, api_version: &str, kind: &str) -> Option<Resource> {
        if let Some(r) = self.served.read().iter().find(|r| r.ar.api_version == api_version && r.ar.kind == kind) {
            return Some(r.clone());
        }
        let group = group_of(api_version);
        self.all.read().iter().find(|r| r.ar.group == group && r.ar.kind == kind).cloned()
    }

    /// Resources that can be listed, watched and deleted (what the collector tracks).
    pub fn collectable(&self) -> Vec<Resource> {
        self.all().into_iter().filter(|r| r.supports(verbs::LIST) && r.supports(verbs::WATCH) && r.supports(verbs::DELETE) && !r.is_event()).collect()
    }
}
