//! core/v1 Events about pods, as the kubelet records them (`kubectl describe pod` shows
//! them). A repeated event (same pod, reason and message) bumps the count of the first
//! one instead of piling up new objects, as Kubernetes' event correlator does.

use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::{Api, Patch, PatchParams, PostParams};
use parking_lot::Mutex;
use serde_json::json;

#[derive(Clone)]
pub struct Recorder {
    client: kube::Client,
    node: String,
    seen: Arc<Mutex<HashMap<(String, String, String), (String, i32)>>>,
}

impl Recorder {
    pub fn new(client: kube::Client, node: &str) -> Recorder {
        Recorder { client, node: node.to_string(), seen: Arc::default() }
    }

    /// Records an event about `pod`, or about one of its containers when `container` is set.
    pub async fn record(&self, pod: &Pod, container: Option<&str>, warning: bool, reason: &str, message: &str) {
        let ns = pod.metadata.namespace.clone().unwrap_or_default();
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let events: Api<Event> = Api::namespaced(self.client.clone(), &ns);
        let now = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
        let key = (uid.clone(), reason.to_string(), message.to_string());
        let repeat = self.seen.lock().get(&key).cloned();
        if let Some((name, count)) = repeat {
            let patch = json!({"count": count + 1, "lastTimestamp": now});
            if events.patch(&name, &PatchParams::default(), &Patch::Merge(patch)).await.is_ok() {
                self.seen.lock().insert(key, (name, count + 1));
                return;
            }
        }
        let pod_name = pod.metadata.name.clone().unwrap_or_default();
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        let name = format!("{pod_name}.{nanos:x}");
        let mut involved = json!({"apiVersion": "v1", "kind": "Pod", "name": pod_name, "namespace": ns, "uid": uid,
            "resourceVersion": pod.metadata.resource_version});
        if let Some(c) = container {
            let init = pod.spec.as_ref().and_then(|s| s.init_containers.as_ref()).is_some_and(|ics| ics.iter().any(|ic| ic.name == c));
            involved["fieldPath"] = json!(format!("spec.{}{{{c}}}", if init { "initContainers" } else { "containers" }));
        }
        let ev = json!({
            "metadata": {"name": name, "namespace": ns},
            "involvedObject": involved,
            "reason": reason, "message": message, "type": if warning { "Warning" } else { "Normal" },
            "source": {"component": "kubelet", "host": self.node},
            "reportingComponent": "kubelet", "reportingInstance": self.node,
            "firstTimestamp": now, "lastTimestamp": now, "count": 1,
        });
        let Ok(ev) = serde_json::from_value::<Event>(ev) else { return };
        match events.create(&PostParams::default(), &ev).await {
            Ok(_) => {
                let mut seen = self.seen.lock();
                if seen.len() > 4096 {
                    seen.clear(); // bounded: correlation is a courtesy, not a record
                }
                seen.insert(key, (name, 1));
            }
            Err(e) => tracing::debug!("event {reason} for {ns}/{pod_name}: {e}"),
        }
    }

    /// Forgets a pod's events (it is gone).
    pub fn forget(&self, uid: &str) {
        self.seen.lock().retain(|k, _| k.0 != uid);
    }
}
