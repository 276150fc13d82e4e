//! The files of configMap, secret, downwardAPI and projected volumes, and the kubelet's
//! atomic writer that puts them on disk so that a running pod sees each update whole.
//!
//! On disk a volume directory looks as the kubelet makes it:
//! ```text
//! ..2024_05_01_10_00_00.123456789/   the data, one directory per version
//! ..data -> ..2024_05_01_10_00_00.123456789
//! key    -> ..data/key               one link per top-level name
//! ```
//! An update writes a new timestamped directory and swaps `..data` with one rename, so a
//! reader never sees half of an update.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapVolumeSource, DownwardAPIVolumeFile, DownwardAPIVolumeSource, KeyToPath, Pod,
    ProjectedVolumeSource, Secret, SecretVolumeSource,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use skiff_api::validation::field_error::go_quote;

use crate::env::{extract_field_path, resource_ref_value};

/// The mode of projected files when the volume sets no defaultMode (0644).
pub const DEFAULT_MODE: u32 = 0o644;
/// The link to the current data directory.
pub const DATA_DIR: &str = "..data";
/// The link that is renamed over `..data`.
const NEW_DATA_DIR: &str = "..data_tmp";
const MAX_PATH_LENGTH: usize = 4096;
const MAX_FILE_NAME_LENGTH: usize = 255;

/// One file of a volume: its path relative to the volume, content and mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectedFile {
    pub path: String,
    pub data: Vec<u8>,
    pub mode: u32,
}

/// Why a volume cannot be set up; the text is what follows
/// `MountVolume.SetUp failed for volume "v" : ` in the kubelet's FailedMount Event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VolumeError {
    #[error("configmap {} not found", go_quote(.0))]
    ConfigMapNotFound(String),
    #[error("secret {} not found", go_quote(.0))]
    SecretNotFound(String),
    #[error("configmap references non-existent config key: {0}")]
    MissingConfigMapKey(String),
    #[error("secret references non-existent secret key: {0}")]
    MissingSecretKey(String),
    /// A downward API item that cannot be resolved (`unsupported fieldPath: …`).
    #[error("{0}")]
    DownwardApi(String),
    /// Several of the above, joined as upstream's `utilerrors.NewAggregate` does.
    #[error("{}", aggregate_message(.0))]
    Aggregate(Vec<VolumeError>),
}

fn aggregate_message(errs: &[VolumeError]) -> String {
    let mut seen: Vec<String> = Vec::new();
    for e in errs {
        let m = e.to_string();
        if !seen.contains(&m) {
            seen.push(m);
        }
    }
    if seen.len() == 1 {
        return seen.remove(0);
    }
    format!("[{}]", seen.join(", "))
}

fn aggregate(mut errs: Vec<VolumeError>) -> Result<(), VolumeError> {
    match errs.len() {
        0 => Ok(()),
        1 => Err(errs.remove(0)),
        _ => Err(VolumeError::Aggregate(errs)),
    }
}

/// API modes are int32 with the permission bits only.
fn mode_of(m: Option<i32>, default: u32) -> u32 {
    m.map(|m| (m as u32) & 0o7777).unwrap_or(default)
}

/// Files of a configMap volume. `cm` is the ConfigMap named by the source, `None` when
/// it does not exist (an error unless the source is optional, which gives no files).
pub fn configmap_files(src: &ConfigMapVolumeSource, cm: Option<&ConfigMap>) -> Result<Vec<ProjectedFile>, VolumeError> {
    configmap_payload(&src.name, src.items.as_deref(), src.optional == Some(true), cm, mode_of(src.default_mode, DEFAULT_MODE))
}

fn configmap_payload(
    name: &str,
    items: Option<&[KeyToPath]>,
    optional: bool,
    cm: Option<&ConfigMap>,
    default_mode: u32,
) -> Result<Vec<ProjectedFile>, VolumeError> {
    let Some(cm) = cm else {
        return if optional { Ok(Vec::new()) } else { Err(VolumeError::ConfigMapNotFound(name.to_string())) };
    };
    let mut data: BTreeMap<&str, Vec<u8>> = BTreeMap::new();
    for (k, v) in cm.data.iter().flatten() {
        data.insert(k, v.as_bytes().to_vec());
    }
    for (k, v) in cm.binary_data.iter().flatten() {
        data.insert(k, v.0.clone());
    }
    make_payload(items, &data, default_mode, optional, VolumeError::MissingConfigMapKey)
}

/// Files of a secret volume (`data` decoded, with `stringData` on top as the API server
/// merges it); `None` when the Secret does not exist.
pub fn secret_files(src: &SecretVolumeSource, secret: Option<&Secret>) -> Result<Vec<ProjectedFile>, VolumeError> {
    let name = src.secret_name.as_deref().unwrap_or("");
    secret_payload(name, src.items.as_deref(), src.optional == Some(true), secret, mode_of(src.default_mode, DEFAULT_MODE))
}

fn secret_payload(
    name: &str,
    items: Option<&[KeyToPath]>,
    optional: bool,
    secret: Option<&Secret>,
    default_mode: u32,
) -> Result<Vec<ProjectedFile>, VolumeError> {
    let Some(secret) = secret else {
        return if optional { Ok(Vec::new()) } else { Err(VolumeError::SecretNotFound(name.to_string())) };
    };
    let mut data: BTreeMap<&str, Vec<u8>> = BTreeMap::new();
    for (k, v) in secret.data.iter().flatten() {
        data.insert(k, v.0.clone());
    }
    for (k, v) in secret.string_data.iter().flatten() {
        data.insert(k, v.as_bytes().to_vec());
    }
    make_payload(items, &data, default_mode, optional, VolumeError::MissingSecretKey)
}

/// Upstream's `MakePayload`: every key under its own name, or only the listed items at
/// their paths; a listed key that is missing is an error unless the source is optional.
fn make_payload(
    items: Option<&[KeyToPath]>,
    data: &BTreeMap<&str, Vec<u8>>,
    default_mode: u32,
    optional: bool,
    missing: fn(String) -> VolumeError,
) -> Result<Vec<ProjectedFile>, VolumeError> {
    let items = items.unwrap_or_default();
    if items.is_empty() {
        return Ok(data
            .iter()
            .map(|(k, v)| ProjectedFile { path: k.to_string(), data: v.clone(), mode: default_mode })
            .collect());
    }
    let mut out = Vec::new();
    for item in items {
        let Some(v) = data.get(item.key.as_str()) else {
            if optional {
                continue;
            }
            return Err(missing(item.key.clone()));
        };
        out.push(ProjectedFile { path: item.path.clone(), data: v.clone(), mode: mode_of(item.mode, default_mode) });
    }
    Ok(out)
}

/// Files of a downwardAPI volume. A `resourceFieldRef` to a limit the container does not
/// set reads 0 here; [`downward_api_files_with_allocatable`] gives the node's allocatable
/// as the kubelet does.
pub fn downward_api_files(src: &DownwardAPIVolumeSource, pod: &Pod) -> Result<Vec<ProjectedFile>, VolumeError> {
    downward_api_files_with_allocatable(src, pod, &BTreeMap::new())
}

/// [`downward_api_files`] with the node's allocatable for unset limits.
pub fn downward_api_files_with_allocatable(
    src: &DownwardAPIVolumeSource,
    pod: &Pod,
    node_allocatable: &BTreeMap<String, Quantity>,
) -> Result<Vec<ProjectedFile>, VolumeError> {
    collect_downward(src.items.as_deref().unwrap_or_default(), pod, mode_of(src.default_mode, DEFAULT_MODE), node_allocatable)
}

/// Upstream's `downwardapi.CollectData`: labels and annotations as sorted `key="value"`
/// lines, name, namespace, uid, single labels/annotations, and container resources.
fn collect_downward(
    items: &[DownwardAPIVolumeFile],
    pod: &Pod,
    default_mode: u32,
    node_allocatable: &BTreeMap<String, Quantity>,
) -> Result<Vec<ProjectedFile>, VolumeError> {
    let mut out = Vec::new();
    let mut errs = Vec::new();
    for item in items {
        let value = if let Some(f) = &item.field_ref {
            extract_field_path(pod, &f.field_path)
        } else if let Some(r) = &item.resource_field_ref {
            resource_ref_value(r, pod, None, node_allocatable)
        } else {
            Ok(String::new())
        };
        match value {
            Ok(v) => out.push(ProjectedFile { path: clean_path(&item.path), data: v.into_bytes(), mode: mode_of(item.mode, default_mode) }),
            Err(e) => errs.push(VolumeError::DownwardApi(e)),
        }
    }
    aggregate(errs)?;
    Ok(out)
}

/// Files of a projected volume from its configMap, secret and downwardAPI sources; a
/// later source wins a path that an earlier one also writes. serviceAccountToken and
/// clusterTrustBundle sources are left to the caller (they need the TokenRequest and
/// ClusterTrustBundle APIs, not just the pod). Errors of all sources are reported together.
pub fn projected_files(
    src: &ProjectedVolumeSource,
    pod: &Pod,
    configmaps: &BTreeMap<String, ConfigMap>,
    secrets: &BTreeMap<String, Secret>,
) -> Result<Vec<ProjectedFile>, VolumeError> {
    projected_files_with_allocatable(src, pod, configmaps, secrets, &BTreeMap::new())
}

/// [`projected_files`] with the node's allocatable for unset limits.
pub fn projected_files_with_allocatable(
    src: &ProjectedVolumeSource,
    pod: &Pod,
    configmaps: &BTreeMap<String, ConfigMap>,
    secrets: &BTreeMap<String, Secret>,
    node_allocatable: &BTreeMap<String, Quantity>,
) -> Result<Vec<ProjectedFile>, VolumeError> {
    let default_mode = mode_of(src.default_mode, DEFAULT_MODE);
    let mut payload: BTreeMap<String, ProjectedFile> = BTreeMap::new();
    let mut errs = Vec::new();
    for source in src.sources.iter().flatten() {
        let files = if let Some(s) = &source.secret {
            let name = s.name.as_str();
            secret_payload(name, s.items.as_deref(), s.optional == Some(true), secrets.get(name), default_mode)
        } else if let Some(c) = &source.config_map {
            let name = c.name.as_str();
            configmap_payload(name, c.items.as_deref(), c.optional == Some(true), configmaps.get(name), default_mode)
        } else if let Some(d) = &source.downward_api {
            collect_downward(d.items.as_deref().unwrap_or_default(), pod, default_mode, node_allocatable)
        } else {
            continue;
        };
        match files {
            Ok(files) => {
                for f in files {
                    payload.insert(f.path.clone(), f);
                }
            }
            Err(e) => errs.push(e),
        }
    }
    aggregate(errs)?;
    Ok(payload.into_values().collect())
}

/// Go's `filepath.Clean` for the relative paths of a payload.
fn clean_path(p: &str) -> String {
    let absolute = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !absolute {
                    parts.push("..");
                }
            }
            s => parts.push(s),
        }
    }
    let joined = parts.join("/");
    match (absolute, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

/// The atomic writer's path rules (`validatePath`), with its messages.
fn validate_path(p: &str) -> io::Result<()> {
    let invalid = |m: String| Err(io::Error::new(io::ErrorKind::InvalidInput, m));
    if p.is_empty() {
        return invalid(format!("invalid path: must not be empty: {}", go_quote(p)));
    }
    if p.starts_with('/') {
        return invalid(format!("invalid path: must be relative path: {p}"));
    }
    if p.len() > MAX_PATH_LENGTH {
        return invalid(format!("invalid path: must be less than or equal to {MAX_PATH_LENGTH} characters"));
    }
    let items: Vec<&str> = p.split('/').collect();
    for item in &items {
        if *item == ".." {
            return invalid(format!("invalid path: must not contain '..': {p}"));
        }
        if item.len() > MAX_FILE_NAME_LENGTH {
            return invalid(format!("invalid path: filenames must be less than or equal to {MAX_FILE_NAME_LENGTH} characters"));
        }
    }
    if items[0].starts_with("..") && items[0].len() > 2 {
        return invalid(format!("invalid path: must not start with '..': {p}"));
    }
    Ok(())
}

/// Writes `files` into `dir` with the kubelet's AtomicWriter scheme (see the module
/// docs): a new timestamped data directory, `..data` swapped to it with a rename,
/// top-level links `name -> ..data/name`, links of names no longer present removed, the
/// old data directory removed. Returns whether anything changed: writing the same
/// content again touches nothing.
pub fn write_atomic(dir: &Path, files: &[ProjectedFile]) -> io::Result<bool> {
    let mut payload: BTreeMap<String, (&[u8], u32)> = BTreeMap::new();
    for f in files {
        validate_path(&f.path)?;
        payload.insert(clean_path(&f.path), (&f.data, f.mode));
    }
    fs::create_dir_all(dir)?;
    let data_link = dir.join(DATA_DIR);
    let old_ts = match fs::read_link(&data_link) {
        Ok(t) => Some(t),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    let old_ts_path = old_ts.as_ref().map(|t| dir.join(t));
    let to_remove = match &old_ts_path {
        Some(old) => paths_to_remove(&payload, old)?,
        None => BTreeSet::new(),
    };
    if let Some(old) = &old_ts_path {
        if !should_write(&payload, old)? && to_remove.is_empty() {
            // Up to date; the user-visible links may still be missing (upstream #121472).
            return create_user_visible(dir, &payload);
        }
    }

    let ts_dir = new_ts_dir(dir)?;
    let ts_name = ts_dir.file_name().map(PathBuf::from).unwrap_or_default();
    if let Err(e) = write_payload(&payload, &ts_dir) {
        let _ = fs::remove_dir_all(&ts_dir);
        return Err(e);
    }
    let tmp_link = dir.join(NEW_DATA_DIR);
    // A leftover from an interrupted write would make symlink fail.
    let _ = fs::remove_file(&tmp_link);
    if let Err(e) = std::os::unix::fs::symlink(&ts_name, &tmp_link) {
        let _ = fs::remove_dir_all(&ts_dir);
        return Err(e);
    }
    if let Err(e) = fs::rename(&tmp_link, &data_link) {
        let _ = fs::remove_file(&tmp_link);
        let _ = fs::remove_dir_all(&ts_dir);
        return Err(e);
    }
    create_user_visible(dir, &payload)?;
    remove_user_visible(dir, &to_remove)?;
    if let Some(old) = old_ts_path {
        match fs::remove_dir_all(&old) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    Ok(true)
}

/// Every path (files and directories) under the old data directory that the new
/// payload neither has nor needs as a parent directory.
fn paths_to_remove(payload: &BTreeMap<String, (&[u8], u32)>, old: &Path) -> io::Result<BTreeSet<String>> {
    let mut existing = BTreeSet::new();
    match walk(old, "", &mut existing) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(BTreeSet::new()),
        r => r?,
    }
    let mut wanted = BTreeSet::new();
    for p in payload.keys() {
        let mut sub = p.as_str();
        loop {
            wanted.insert(sub.to_string());
            match sub.rfind('/') {
                Some(i) => sub = &sub[..i],
                None => break,
            }
        }
    }
    Ok(existing.difference(&wanted).cloned().collect())
}

fn walk(dir: &Path, prefix: &str, out: &mut BTreeSet<String>) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let rel = if prefix.is_empty() { name } else { format!("{prefix}/{name}") };
        // Walk does not follow symlinks.
        if entry.file_type()?.is_dir() {
            walk(&entry.path(), &rel, out)?;
        }
        out.insert(rel);
    }
    Ok(())
}

/// Whether any file is new or differs from the old data directory. Upstream compares
/// content only; the mode is compared too (a changed mode is rewritten).
fn should_write(payload: &BTreeMap<String, (&[u8], u32)>, old: &Path) -> io::Result<bool> {
    for (path, (data, mode)) in payload {
        let p = old.join(path);
        let meta = match fs::symlink_metadata(&p) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(true),
            Err(e) => return Err(e),
        };
        if !meta.is_file() || meta.permissions().mode() & 0o7777 != *mode {
            return Ok(true);
        }
        if fs::read(&p)? != *data {
            return Ok(true);
        }
    }
    Ok(false)
}

/// `..YYYY_MM_DD_HH_MM_SS.<random>`, mode 0755 whatever the umask.
fn new_ts_dir(dir: &Path) -> io::Result<PathBuf> {
    let prefix = jiff::Timestamp::now().strftime("..%Y_%m_%d_%H_%M_%S.").to_string();
    for _ in 0..10_000 {
        let candidate = dir.join(format!("{prefix}{}", rand::random::<u32>()));
        match fs::create_dir(&candidate) {
            Ok(()) => {
                fs::set_permissions(&candidate, fs::Permissions::from_mode(0o755))?;
                return Ok(candidate);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(io::ErrorKind::AlreadyExists, "no free name for a new data directory"))
}

fn write_payload(payload: &BTreeMap<String, (&[u8], u32)>, ts_dir: &Path) -> io::Result<()> {
    for (path, (data, mode)) in payload {
        let full = ts_dir.join(path);
        if let Some(parent) = full.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::write(&full, data)?;
        // The file was created with mode & ~umask; set the mode asked for.
        fs::set_permissions(&full, fs::Permissions::from_mode(*mode))?;
    }
    Ok(())
}

/// `name -> ..data/name` for each top-level name of the payload that has no link yet;
/// returns whether any was made.
fn create_user_visible(dir: &Path, payload: &BTreeMap<String, (&[u8], u32)>) -> io::Result<bool> {
    let mut created = false;
    let tops: BTreeSet<&str> = payload.keys().map(|p| p.split('/').next().unwrap_or(p)).collect();
    for top in tops {
        let visible = dir.join(top);
        match fs::read_link(&visible) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                std::os::unix::fs::symlink(Path::new(DATA_DIR).join(top), &visible)?;
                created = true;
            }
            // Present (or not a link at all, which upstream also leaves alone).
            _ => {}
        }
    }
    Ok(created)
}

/// Removes the top-level links of names the payload no longer has.
fn remove_user_visible(dir: &Path, paths: &BTreeSet<String>) -> io::Result<()> {
    let mut last = Ok(());
    for p in paths.iter().filter(|p| !p.contains('/')) {
        match fs::remove_file(dir.join(p)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => last = Err(e),
            _ => {}
        }
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{
        ConfigMapProjection, Container, DownwardAPIProjection, ObjectFieldSelector, PodSpec, ResourceFieldSelector,
        ResourceRequirements, SecretProjection, ServiceAccountTokenProjection, VolumeProjection,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use k8s_openapi::ByteString;

    fn cm(data: &[(&str, &str)], binary: &[(&str, &[u8])]) -> ConfigMap {
        ConfigMap {
            metadata: ObjectMeta { name: Some("cfg".into()), ..Default::default() },
            data: Some(data.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()),
            binary_data: Some(binary.iter().map(|(k, v)| (k.to_string(), ByteString(v.to_vec()))).collect()),
            ..Default::default()
        }
    }

    fn secret(data: &[(&str, &[u8])]) -> Secret {
        Secret {
            metadata: ObjectMeta { name: Some("s".into()), ..Default::default() },
            data: Some(data.iter().map(|(k, v)| (k.to_string(), ByteString(v.to_vec()))).collect()),
            ..Default::default()
        }
    }

    fn ktp(key: &str, path: &str, mode: Option<i32>) -> KeyToPath {
        KeyToPath { key: key.into(), path: path.into(), mode }
    }

    fn file(path: &str, data: &str, mode: u32) -> ProjectedFile {
        ProjectedFile { path: path.into(), data: data.as_bytes().to_vec(), mode }
    }

    #[test]
    fn configmap_all_keys_with_default_mode() {
        let src = ConfigMapVolumeSource { name: "cfg".into(), ..Default::default() };
        let files = configmap_files(&src, Some(&cm(&[("b", "2"), ("a", "1")], &[("bin", &[0, 1, 2])]))).unwrap();
        assert_eq!(files, vec![file("a", "1", 0o644), file("b", "2", 0o644), ProjectedFile { path: "bin".into(), data: vec![0, 1, 2], mode: 0o644 }]);
    }

    #[test]
    fn configmap_items_and_modes() {
        let src = ConfigMapVolumeSource {
            name: "cfg".into(),
            default_mode: Some(0o400),
            items: Some(vec![ktp("a", "conf/a.txt", None), ktp("bin", "b.bin", Some(0o755))]),
            ..Default::default()
        };
        let files = configmap_files(&src, Some(&cm(&[("a", "1"), ("b", "2")], &[("bin", b"x")]))).unwrap();
        assert_eq!(files, vec![file("conf/a.txt", "1", 0o400), file("b.bin", "x", 0o755)]);
    }

    #[test]
    fn configmap_errors_and_optional() {
        let mut src = ConfigMapVolumeSource { name: "cfg".into(), items: Some(vec![ktp("nope", "x", None)]), ..Default::default() };
        let have = cm(&[("a", "1")], &[]);
        assert_eq!(configmap_files(&src, None).unwrap_err().to_string(), r#"configmap "cfg" not found"#);
        assert_eq!(configmap_files(&src, Some(&have)).unwrap_err().to_string(), "configmap references non-existent config key: nope");
        src.optional = Some(true);
        assert_eq!(configmap_files(&src, None).unwrap(), vec![]);
        assert_eq!(configmap_files(&src, Some(&have)).unwrap(), vec![]);
    }

    #[test]
    fn secret_files_decoded() {
        let src = SecretVolumeSource { secret_name: Some("s".into()), ..Default::default() };
        let mut s = secret(&[("password", b"hunter2"), ("other", b"o")]);
        s.string_data = Some([("other".to_string(), "from-string-data".to_string())].into());
        let files = secret_files(&src, Some(&s)).unwrap();
        assert_eq!(files, vec![file("other", "from-string-data", 0o644), file("password", "hunter2", 0o644)]);
        assert_eq!(secret_files(&src, None).unwrap_err().to_string(), r#"secret "s" not found"#);
        let src = SecretVolumeSource { secret_name: Some("s".into()), items: Some(vec![ktp("k", "k", None)]), ..Default::default() };
        assert_eq!(secret_files(&src, Some(&s)).unwrap_err().to_string(), "secret references non-existent secret key: k");
        let src = SecretVolumeSource { optional: Some(true), ..src };
        assert_eq!(secret_files(&src, None).unwrap(), vec![]);
    }

    fn pod() -> Pod {
        let q = |s: &str| Quantity(s.into());
        Pod {
            metadata: ObjectMeta {
                name: Some("web".into()),
                namespace: Some("prod".into()),
                uid: Some("u-1".into()),
                labels: Some([("zone".to_string(), "us-est-coast".to_string()), ("cluster".to_string(), "test-cluster1".to_string()), ("rack".to_string(), "rack-22".to_string())].into()),
                annotations: Some([("build".to_string(), "two".to_string()), ("builder".to_string(), "john-doe".to_string())].into()),
                ..Default::default()
            },
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "client".into(),
                    resources: Some(ResourceRequirements {
                        limits: Some([("memory".to_string(), q("64Mi"))].into()),
                        requests: Some([("cpu".to_string(), q("250m"))].into()),
                        ..Default::default()
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn field_item(path: &str, field: &str) -> DownwardAPIVolumeFile {
        DownwardAPIVolumeFile {
            path: path.into(),
            field_ref: Some(ObjectFieldSelector { api_version: Some("v1".into()), field_path: field.into() }),
            ..Default::default()
        }
    }

    fn resource_item(path: &str, resource: &str, divisor: Option<&str>) -> DownwardAPIVolumeFile {
        DownwardAPIVolumeFile {
            path: path.into(),
            resource_field_ref: Some(ResourceFieldSelector {
                container_name: Some("client".into()),
                resource: resource.into(),
                divisor: divisor.map(|d| Quantity(d.into())),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn downward_api_files_as_kubelet_writes_them() {
        let src = DownwardAPIVolumeSource {
            default_mode: Some(0o600),
            items: Some(vec![
                field_item("labels", "metadata.labels"),
                field_item("annotations", "metadata.annotations"),
                field_item("./meta//name", "metadata.name"),
                field_item("namespace", "metadata.namespace"),
                field_item("uid", "metadata.uid"),
                field_item("zone", "metadata.labels['zone']"),
                resource_item("mem_limit", "limits.memory", Some("1Mi")),
                resource_item("cpu_request", "requests.cpu", Some("1m")),
                DownwardAPIVolumeFile { mode: Some(0o444), ..resource_item("cpu_limit", "limits.cpu", None) },
            ]),
        };
        let files = downward_api_files(&src, &pod()).unwrap();
        assert_eq!(
            files,
            vec![
                file("labels", "cluster=\"test-cluster1\"\nrack=\"rack-22\"\nzone=\"us-est-coast\"", 0o600),
                file("annotations", "build=\"two\"\nbuilder=\"john-doe\"", 0o600),
                file("meta/name", "web", 0o600),
                file("namespace", "prod", 0o600),
                file("uid", "u-1", 0o600),
                file("zone", "us-est-coast", 0o600),
                file("mem_limit", "64", 0o600),
                file("cpu_request", "250", 0o600),
                file("cpu_limit", "0", 0o444),
            ]
        );
        let alloc: BTreeMap<String, Quantity> = [("cpu".to_string(), Quantity("2".into()))].into();
        let src = DownwardAPIVolumeSource { items: Some(vec![resource_item("cpu_limit", "limits.cpu", None)]), default_mode: None };
        assert_eq!(downward_api_files_with_allocatable(&src, &pod(), &alloc).unwrap(), vec![file("cpu_limit", "2", 0o644)]);
    }

    #[test]
    fn downward_api_errors_aggregate() {
        let src = DownwardAPIVolumeSource {
            items: Some(vec![field_item("a", "spec.nodeName"), field_item("b", "metadata.name")]),
            default_mode: None,
        };
        assert_eq!(downward_api_files(&src, &pod()).unwrap_err().to_string(), "unsupported fieldPath: spec.nodeName");
        let src = DownwardAPIVolumeSource {
            items: Some(vec![field_item("a", "spec.nodeName"), resource_item("b", "limits.gpu", None)]),
            default_mode: None,
        };
        assert_eq!(
            downward_api_files(&src, &pod()).unwrap_err().to_string(),
            "[unsupported fieldPath: spec.nodeName, unsupported container resource : limits.gpu]"
        );
    }

    #[test]
    fn projected_sources_merge_and_report_all_errors() {
        let cms: BTreeMap<String, ConfigMap> = [("cfg".to_string(), cm(&[("a", "from-cm"), ("b", "b")], &[]))].into();
        let secrets: BTreeMap<String, Secret> = [("s".to_string(), secret(&[("a", b"from-secret")]))].into();
        let src = ProjectedVolumeSource {
            default_mode: Some(0o440),
            sources: Some(vec![
                VolumeProjection { config_map: Some(ConfigMapProjection { name: "cfg".into(), ..Default::default() }), ..Default::default() },
                VolumeProjection {
                    secret: Some(SecretProjection { name: "s".into(), items: Some(vec![ktp("a", "a", Some(0o400))]), ..Default::default() }),
                    ..Default::default()
                },
                VolumeProjection {
                    downward_api: Some(DownwardAPIProjection { items: Some(vec![field_item("podname", "metadata.name")]) }),
                    ..Default::default()
                },
                VolumeProjection {
                    service_account_token: Some(ServiceAccountTokenProjection { path: "token".into(), ..Default::default() }),
                    ..Default::default()
                },
                VolumeProjection {
                    config_map: Some(ConfigMapProjection { name: "gone".into(), optional: Some(true), ..Default::default() }),
                    ..Default::default()
                },
            ]),
        };
        let files = projected_files(&src, &pod(), &cms, &secrets).unwrap();
        assert_eq!(files, vec![file("a", "from-secret", 0o400), file("b", "b", 0o440), file("podname", "web", 0o440)]);

        let src = ProjectedVolumeSource {
            default_mode: None,
            sources: Some(vec![
                VolumeProjection { config_map: Some(ConfigMapProjection { name: "nocm".into(), ..Default::default() }), ..Default::default() },
                VolumeProjection { secret: Some(SecretProjection { name: "nos".into(), ..Default::default() }), ..Default::default() },
            ]),
        };
        assert_eq!(projected_files(&src, &pod(), &cms, &secrets).unwrap_err().to_string(), r#"[configmap "nocm" not found, secret "nos" not found]"#);
    }

    #[test]
    fn clean_paths() {
        for (p, want) in [("a", "a"), ("./a", "a"), ("a//b/", "a/b"), ("a/./b", "a/b"), ("a/../b", "b"), ("", "."), ("/x/../y", "/y")] {
            assert_eq!(clean_path(p), want, "{p}");
        }
    }

    fn read(dir: &Path, p: &str) -> String {
        fs::read_to_string(dir.join(p)).unwrap()
    }

    fn data_target(dir: &Path) -> PathBuf {
        fs::read_link(dir.join(DATA_DIR)).unwrap()
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        v.sort();
        v
    }

    fn sorted(mut v: Vec<String>) -> Vec<String> {
        v.sort();
        v
    }

    #[test]
    fn atomic_writer_layout_update_no_churn_and_removal() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("vol");

        // First write: the layout the kubelet makes.
        assert!(write_atomic(&dir, &[file("app.conf", "v1", 0o644), file("sub/dir/key", "k1", 0o600)]).unwrap());
        let ts1 = data_target(&dir);
        let ts1_name = ts1.to_string_lossy().into_owned();
        assert!(ts1_name.starts_with("..") && ts1_name.len() > "..2024_01_01_00_00_00.".len(), "{ts1_name}");
        assert_eq!(fs::read_link(dir.join("app.conf")).unwrap(), Path::new("..data/app.conf"));
        assert_eq!(fs::read_link(dir.join("sub")).unwrap(), Path::new("..data/sub"));
        assert_eq!(read(&dir, "app.conf"), "v1");
        assert_eq!(read(&dir, "sub/dir/key"), "k1");
        let mode = |p: &str| fs::metadata(dir.join(p)).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode("app.conf"), 0o644);
        assert_eq!(mode("sub/dir/key"), 0o600);
        assert_eq!(fs::metadata(dir.join(&ts1)).unwrap().permissions().mode() & 0o777, 0o755);
        assert_eq!(entries(&dir), sorted(vec!["..data".to_string(), ts1_name.clone(), "app.conf".into(), "sub".into()]));

        // Same content again: nothing changes, not even the data directory.
        assert!(!write_atomic(&dir, &[file("app.conf", "v1", 0o644), file("sub/dir/key", "k1", 0o600)]).unwrap());
        assert_eq!(data_target(&dir), ts1);

        // An update: new data directory, old one gone, links unchanged, content new.
        assert!(write_atomic(&dir, &[file("app.conf", "v2", 0o644), file("sub/dir/key", "k1", 0o600)]).unwrap());
        let ts2 = data_target(&dir);
        assert_ne!(ts2, ts1);
        assert!(!dir.join(&ts1).exists());
        assert_eq!(read(&dir, "app.conf"), "v2");

        // A mode change alone is rewritten too.
        assert!(write_atomic(&dir, &[file("app.conf", "v2", 0o400), file("sub/dir/key", "k1", 0o600)]).unwrap());
        assert_eq!(mode("app.conf"), 0o400);

        // A key removed: its link goes; a nested file removed: its dir goes from the data.
        assert!(write_atomic(&dir, &[file("new", "n", 0o644), file("sub/other", "o", 0o644)]).unwrap());
        let ts3 = data_target(&dir);
        assert_eq!(entries(&dir), sorted(vec!["..data".to_string(), ts3.to_string_lossy().into_owned(), "new".into(), "sub".into()]));
        assert!(!dir.join("app.conf").exists() && fs::symlink_metadata(dir.join("app.conf")).is_err());
        assert!(!dir.join("sub/dir").exists());
        assert_eq!(read(&dir, "sub/other"), "o");

        // Everything removed.
        assert!(write_atomic(&dir, &[]).unwrap());
        let ts4 = data_target(&dir);
        assert_eq!(entries(&dir), sorted(vec!["..data".to_string(), ts4.to_string_lossy().into_owned()]));
        assert!(!write_atomic(&dir, &[]).unwrap());
    }

    #[test]
    fn atomic_writer_restores_missing_links_without_rewriting() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        assert!(write_atomic(dir, &[file("a", "1", 0o644)]).unwrap());
        let ts = data_target(dir);
        fs::remove_file(dir.join("a")).unwrap();
        assert!(write_atomic(dir, &[file("a", "1", 0o644)]).unwrap());
        assert_eq!(data_target(dir), ts);
        assert_eq!(read(dir, "a"), "1");
        // A stale ..data_tmp from an interrupted write does not block the next one.
        std::os::unix::fs::symlink("nowhere", dir.join(NEW_DATA_DIR)).unwrap();
        assert!(write_atomic(dir, &[file("a", "2", 0o644)]).unwrap());
        assert_eq!(read(dir, "a"), "2");
        assert!(fs::symlink_metadata(dir.join(NEW_DATA_DIR)).is_err());
    }

    #[test]
    fn atomic_writer_rejects_bad_paths() {
        let tmp = tempfile::tempdir().unwrap();
        let cases = [
            ("", "invalid path: must not be empty: \"\""),
            ("/etc/passwd", "invalid path: must be relative path: /etc/passwd"),
            ("a/../../b", "invalid path: must not contain '..': a/../../b"),
            ("..data", "invalid path: must not start with '..': ..data"),
        ];
        for (p, msg) in cases {
            let err = write_atomic(tmp.path(), &[file(p, "x", 0o644)]).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
            assert_eq!(err.to_string(), msg);
        }
        let long = "x".repeat(256);
        assert_eq!(
            write_atomic(tmp.path(), &[file(&long, "x", 0o644)]).unwrap_err().to_string(),
            "invalid path: filenames must be less than or equal to 255 characters"
        );
        // Nothing was written for the rejected payloads.
        assert!(fs::symlink_metadata(tmp.path().join(DATA_DIR)).is_err());
    }
}
