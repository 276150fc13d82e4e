//! What the agent's kubelet API (logs, exec, metrics) reads: the pods this node runs and
//! their container runs in the runtime.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;

use crate::pods::PodIndex;
use crate::runtime::{ContainerId, ContainerState, Runtime};
use crate::server::{Backend, ContainerUsage, PodUsage};

pub struct NodeBackend<R> {
    pub runtime: Arc<R>,
    pub index: PodIndex,
}

impl<R: Runtime> NodeBackend<R> {
    fn pod(&self, ns: &str, name: &str) -> Result<Arc<Pod>, String> {
        self.index.read().get(&(ns.to_string(), name.to_string())).cloned().ok_or_else(|| format!("pods \"{name}\" not found"))
    }

    /// The container's runs, oldest first; Err when the pod has no such container.
    fn runs(&self, pod: &Pod, container: &str) -> Result<Vec<ContainerId>, String> {
        let spec = pod.spec.as_ref();
        let known = spec.is_some_and(|s| s.containers.iter().chain(s.init_containers.iter().flatten()).any(|c| c.name == container));
        let name = pod.metadata.name.clone().unwrap_or_default();
        if !known {
            return Err(format!("container {container} is not valid for pod {name}"));
        }
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        Ok(self.runtime.containers(&uid).into_iter().filter(|id| id.name == container).collect())
    }

    fn waiting_reason(pod: &Pod, container: &str) -> String {
        let st = pod.status.as_ref();
        let all = st.into_iter().flat_map(|s| s.container_statuses.iter().flatten().chain(s.init_container_statuses.iter().flatten()));
        all.filter(|c| c.name == container)
            .find_map(|c| c.state.as_ref()?.waiting.as_ref()?.reason.clone())
            .unwrap_or_else(|| "ContainerCreating".to_string())
    }
}

impl<R: Runtime> Backend for NodeBackend<R> {
    fn log_path(&self, namespace: &str, pod: &str, container: &str, previous: bool) -> Result<PathBuf, String> {
        let p = self.pod(namespace, pod)?;
        let runs = self.runs(&p, container)?;
        let chosen = if previous { runs.len().checked_sub(2).map(|i| &runs[i]) } else { runs.last() };
        match chosen {
            Some(id) => Ok(self.runtime.log_path(id)),
            None if previous => Err(format!("previous terminated container \"{container}\" in pod \"{pod}\" not found")),
            None => Err(format!("container \"{container}\" in pod \"{pod}\" is waiting to start: {}", Self::waiting_reason(&p, container))),
        }
    }

    fn attempt_running(&self, namespace: &str, pod: &str, container: &str, log: &Path) -> bool {
        let Ok(p) = self.pod(namespace, pod) else { return false };
        let Ok(runs) = self.runs(&p, container) else { return false };
        runs.iter().any(|id| self.runtime.log_path(id) == log && matches!(self.runtime.state(id), ContainerState::Running { .. }))
    }

    fn exec_command(&self, namespace: &str, pod: &str, container: &str, argv: &[String]) -> Result<Command, String> {
        let p = self.pod(namespace, pod)?;
        let runs = self.runs(&p, container)?;
        // kubelet's words when the container has no running process to enter.
        let not_found = || format!("container not found (\"{container}\")");
        let id = runs.last().ok_or_else(not_found)?;
        if !matches!(self.runtime.state(id), ContainerState::Running { .. }) {
            return Err(not_found());
        }
        self.runtime.exec_command(id, argv)
    }

    fn usage(&self) -> Vec<PodUsage> {
        let pods: Vec<Arc<Pod>> = self.index.read().values().cloned().collect();
        let mut out = Vec::new();
        for p in pods {
            let uid = p.metadata.uid.clone().unwrap_or_default();
            let mut latest: Vec<ContainerId> = Vec::new();
            for id in self.runtime.containers(&uid) {
                latest.retain(|l| l.name != id.name);
                latest.push(id); // containers() sorts attempts oldest first
            }
            let containers: Vec<ContainerUsage> = latest
                .iter()
                .filter(|id| matches!(self.runtime.state(id), ContainerState::Running { .. }))
                .filter_map(|id| {
                    let (cpu, mem) = self.runtime.usage(id)?;
                    Some(ContainerUsage { name: id.name.clone(), cpu_usage_ns: cpu, memory_working_set_bytes: mem })
                })
                .collect();
            if !containers.is_empty() {
                out.push(PodUsage { namespace: p.metadata.namespace.clone().unwrap_or_default(), name: p.metadata.name.clone().unwrap_or_default(), containers });
            }
        }
        out
    }
}
