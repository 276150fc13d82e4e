//! The pod's volumes on the host (kubelet's volume manager): emptyDir (memory-backed
//! when asked), hostPath with its type checks, configMap, secret, downwardAPI and
//! projected volumes written atomically (and rewritten when the source changes), and
//! persistentVolumeClaim resolved through its bound PersistentVolume's path.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolume, PersistentVolumeClaim, Pod, Secret, Volume};
use kube::api::Api;

use crate::volumes;

/// The ConfigMaps and Secrets (by name, in the pod's namespace) that the pod's env,
/// envFrom and volumes reference.
#[derive(Default)]
pub struct Referenced {
    pub configmaps: BTreeMap<String, ConfigMap>,
    pub secrets: BTreeMap<String, Secret>,
}

fn names(pod: &Pod) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut cms = BTreeSet::new();
    let mut secrets = BTreeSet::new();
    let Some(spec) = &pod.spec else { return (cms, secrets) };
    let containers = spec.init_containers.iter().flatten().chain(spec.containers.iter());
    for c in containers {
        for e in c.env_from.iter().flatten() {
            if let Some(r) = &e.config_map_ref {
                cms.insert(r.name.clone());
            }
            if let Some(r) = &e.secret_ref {
                secrets.insert(r.name.clone());
            }
        }
        for e in c.env.iter().flatten() {
            if let Some(vf) = &e.value_from {
                if let Some(r) = &vf.config_map_key_ref {
                    cms.insert(r.name.clone());
                }
                if let Some(r) = &vf.secret_key_ref {
                    secrets.insert(r.name.clone());
                }
            }
        }
    }
    for v in spec.volumes.iter().flatten() {
        if let Some(cm) = &v.config_map {
            cms.insert(cm.name.clone());
        }
        if let Some(s) = &v.secret {
            secrets.extend(s.secret_name.clone());
        }
        for src in v.projected.iter().flat_map(|p| p.sources.iter().flatten()) {
            if let Some(cm) = &src.config_map {
                cms.insert(cm.name.clone());
            }
            if let Some(s) = &src.secret {
                secrets.insert(s.name.clone());
            }
        }
    }
    (cms, secrets)
}

/// Fetches what the pod references; a missing object is simply absent (the caller
/// reports it in Kubernetes' words where it matters).
pub async fn fetch(client: &kube::Client, pod: &Pod) -> Result<Referenced, kube::Error> {
    let ns = pod.metadata.namespace.clone().unwrap_or_default();
    let (cm_names, secret_names) = names(pod);
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    let mut out = Referenced::default();
    for n in cm_names {
        if let Some(cm) = cms.get_opt(&n).await? {
            out.configmaps.insert(n, cm);
        }
    }
    for n in secret_names {
        if let Some(s) = secrets.get_opt(&n).await? {
            out.secrets.insert(n, s);
        }
    }
    Ok(out)
}

/// A volume that could not be set up, with kubelet's FailedMount message.
#[derive(Debug, PartialEq)]
pub struct MountError {
    pub volume: String,
    pub message: String,
}

impl std::fmt::Display for MountError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MountVolume.SetUp failed for volume \"{}\" : {}", self.volume, self.message)
    }
}

/// Whether a volume's content comes from API objects and must be kept up to date.
pub fn refreshes(v: &Volume) -> bool {
    v.config_map.is_some() || v.secret.is_some() || v.downward_api.is_some() || v.projected.is_some()
}

/// Sets up (or refreshes) every volume of the pod; returns the host path of each.
pub async fn prepare(
    client: &kube::Client,
    pod: &Pod,
    pod_dir: &Path,
    refs: &Referenced,
    allocatable: &BTreeMap<String, Quantity>,
    may_mount: bool,
) -> Result<BTreeMap<String, PathBuf>, MountError> {
    let mut out = BTreeMap::new();
    let Some(spec) = &pod.spec else { return Ok(out) };
    for v in spec.volumes.iter().flatten() {
        let err = |message: String| MountError { volume: v.name.clone(), message };
        let dir = pod_dir.join("volumes").join(&v.name);
        let path = if let Some(hp) = &v.host_path {
            host_path(&hp.path, hp.type_.as_deref().unwrap_or("")).map_err(err)?
        } else if let Some(ed) = &v.empty_dir {
            fs::create_dir_all(&dir).map_err(|e| err(e.to_string()))?;
            if ed.medium.as_deref() == Some("Memory") && may_mount {
                mount_tmpfs(&dir, ed.size_limit.as_ref().map(|q| q.0.as_str())).map_err(err)?;
            }
            dir
        } else if let Some(cm) = &v.config_map {
            let files = volumes::configmap_files(cm, refs.configmaps.get(&cm.name)).map_err(|e| err(e.to_string()))?;
            write(&dir, &files).map_err(err)?
        } else if let Some(s) = &v.secret {
            let name = s.secret_name.clone().unwrap_or_default();
            let files = volumes::secret_files(s, refs.secrets.get(&name)).map_err(|e| err(e.to_string()))?;
            write(&dir, &files).map_err(err)?
        } else if let Some(d) = &v.downward_api {
            let files = volumes::downward_api_files_with_allocatable(d, pod, allocatable).map_err(|e| err(e.to_string()))?;
            write(&dir, &files).map_err(err)?
        } else if let Some(p) = &v.projected {
            let files = volumes::projected_files_with_allocatable(p, pod, &refs.configmaps, &refs.secrets, allocatable).map_err(|e| err(e.to_string()))?;
            write(&dir, &files).map_err(err)?
        } else if let Some(claim) = &v.persistent_volume_claim {
            claim_path(client, pod, &claim.claim_name).await.map_err(err)?
        } else {
            // Volume kinds a process runtime cannot provide (cloud disks, NFS…) get an empty directory.
            fs::create_dir_all(&dir).map_err(|e| err(e.to_string()))?;
            dir
        };
        out.insert(v.name.clone(), path);
    }
    Ok(out)
}

fn write(dir: &Path, files: &[volumes::ProjectedFile]) -> Result<PathBuf, String> {
    volumes::write_atomic(dir, files).map_err(|e| e.to_string())?;
    Ok(dir.to_path_buf())
}

/// hostPath type checks as kubelet words them.
fn host_path(path: &str, type_: &str) -> Result<PathBuf, String> {
    let p = PathBuf::from(path);
    let meta = fs::metadata(&p);
    let is = |want: fn(&fs::Metadata) -> bool| meta.as_ref().map(want).unwrap_or(false);
    match type_ {
        "DirectoryOrCreate" if meta.is_err() => fs::create_dir_all(&p).map_err(|e| format!("failed to create {path}: {e}"))?,
        "FileOrCreate" if meta.is_err() => {
            if let Some(parent) = p.parent() {
                let _ = fs::create_dir_all(parent);
            }
            fs::File::create(&p).map_err(|e| format!("failed to create {path}: {e}"))?;
        }
        "Directory" if !is(|m| m.is_dir()) => return Err(format!("hostPath type check failed: {path} is not a directory")),
        "File" if !is(|m| m.is_file()) => return Err(format!("hostPath type check failed: {path} is not a file")),
        "Socket" | "CharDevice" | "BlockDevice" if meta.is_err() => {
            return Err(format!("hostPath type check failed: {path} is not a {}", type_.to_lowercase()))
        }
        // Type "" checks nothing; like container runtimes, create a missing directory.
        "" if meta.is_err() => fs::create_dir_all(&p).map_err(|e| format!("failed to create {path}: {e}"))?,
        _ => {}
    }
    Ok(p)
}

fn mount_tmpfs(dir: &Path, size: Option<&str>) -> Result<(), String> {
    let already = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default().lines().any(|l| l.split(' ').nth(4) == Some(&*dir.to_string_lossy()));
    if already {
        return Ok(());
    }
    let mut args = vec!["-t".to_string(), "tmpfs".to_string()];
    if let Some(s) = size.and_then(|s| skiff_api::quantity::Quantity::parse(s).ok()) {
        args.extend(["-o".to_string(), format!("size={}", s.value())]);
    }
    args.extend(["tmpfs".to_string(), dir.to_string_lossy().to_string()]);
    let out = std::process::Command::new("mount").args(&args).output().map_err(|e| format!("mount: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

/// The host directory behind a bound claim (a hostPath or local PersistentVolume).
async fn claim_path(client: &kube::Client, pod: &Pod, claim: &str) -> Result<PathBuf, String> {
    let ns = pod.metadata.namespace.clone().unwrap_or_default();
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), &ns);
    let pvc = pvcs.get_opt(claim).await.map_err(|e| e.to_string())?.ok_or_else(|| format!("persistentvolumeclaim \"{claim}\" not found"))?;
    let Some(pv_name) = pvc.spec.and_then(|s| s.volume_name).filter(|n| !n.is_empty()) else {
        return Err(format!("persistentvolumeclaim \"{claim}\" is not bound"));
    };
    let pvs: Api<PersistentVolume> = Api::all(client.clone());
    let pv = pvs.get_opt(&pv_name).await.map_err(|e| e.to_string())?.ok_or_else(|| format!("persistentvolume \"{pv_name}\" not found"))?;
    let spec = pv.spec.unwrap_or_default();
    let path = spec
        .host_path
        .map(|h| h.path)
        .or(spec.local.map(|l| l.path))
        .ok_or_else(|| format!("persistentvolume \"{pv_name}\" is neither hostPath nor local; the process runtime cannot attach it"))?;
    fs::create_dir_all(&path).map_err(|e| format!("failed to create {path}: {e}"))?;
    Ok(PathBuf::from(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_path_types() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("nope");
        let m = missing.to_string_lossy().to_string();
        assert_eq!(host_path(&m, "Directory"), Err(format!("hostPath type check failed: {m} is not a directory")));
        assert!(!missing.exists(), "a failed check creates nothing");
        assert_eq!(host_path(&m, "File"), Err(format!("hostPath type check failed: {m} is not a file")));
        assert_eq!(host_path(&m, "DirectoryOrCreate"), Ok(missing.clone()));
        assert!(missing.is_dir());
        let f = dir.path().join("a/b.txt").to_string_lossy().to_string();
        assert!(host_path(&f, "FileOrCreate").is_ok());
        assert!(Path::new(&f).is_file());
        assert!(host_path(&f, "File").is_ok());
    }
}
