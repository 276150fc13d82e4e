//! A container's environment, command and args, as the kubelet builds them.
//!
//! `envFrom` sources come first (later sources override earlier ones), then `env` in
//! declaration order, each entry overriding what came before; `$(VAR)` references in
//! `env[].value`, `command` and `args` expand against the variables defined before them
//! (kubelet's `makeEnvironmentVariables` and `ExpandContainerCommandAndArgs`).
//! Service link variables (`*_SERVICE_HOST`…) are not generated.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ConfigMap, Container, ObjectFieldSelector, Pod, ResourceFieldSelector, Secret};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use skiff_api::quantity::Quantity as Q;
use skiff_api::validation::field_error::go_quote;
use skiff_api::validation::names::{is_env_var_name, is_qualified_name};

/// The ConfigMaps and Secrets of the pod's namespace that the container refers to,
/// keyed by name; the caller fetched them. A name missing from the map is "not found".
#[derive(Debug, Clone, Copy)]
pub struct EnvSources<'a> {
    pub configmaps: &'a BTreeMap<String, ConfigMap>,
    pub secrets: &'a BTreeMap<String, Secret>,
}

/// Why a container's configuration cannot be built: the waiting reason is
/// `CreateContainerConfigError` and the message is this error's text, worded as the
/// kubelet words it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The kubelet's watch-based ConfigMap manager names the resource in the singular.
    #[error("configmap {} not found", go_quote(.name))]
    ConfigMapNotFound { name: String },
    #[error("secret {} not found", go_quote(.name))]
    SecretNotFound { name: String },
    #[error("couldn't find key {key} in ConfigMap {namespace}/{name}")]
    ConfigMapKeyNotFound { key: String, namespace: String, name: String },
    #[error("couldn't find key {key} in Secret {namespace}/{name}")]
    SecretKeyNotFound { key: String, namespace: String, name: String },
    /// A `fieldRef` the kubelet cannot resolve (`field label not supported: …`).
    #[error("{0}")]
    FieldRef(String),
    /// A `resourceFieldRef` the kubelet cannot resolve (`unsupported container resource : …`).
    #[error("{0}")]
    ResourceFieldRef(String),
}

/// A container's environment plus the warnings the kubelet turns into Events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerEnv {
    /// Variables in a stable order: first definition wins the position, last wins the value.
    pub vars: Vec<(String, String)>,
    /// Event messages (reason `InvalidEnvironmentVariableNames`, type Warning).
    pub warnings: Vec<String>,
}

/// Event reason for envFrom keys skipped because they cannot be variable names.
pub const REASON_INVALID_ENV_NAMES: &str = "InvalidEnvironmentVariableNames";

/// The environment of `container` in `pod`. `pod_ip` and `host_ip` are the primary
/// addresses; either may be a comma-separated dual-stack list (primary first), which is
/// what `status.podIPs` / `status.hostIPs` return. A `resourceFieldRef` to a limit the
/// container does not set reads 0 here: use [`container_env_report`] with the node's
/// allocatable to get the kubelet's default.
pub fn container_env(
    pod: &Pod,
    container: &Container,
    pod_ip: &str,
    host_ip: &str,
    node_name: &str,
    src: &EnvSources,
) -> Result<Vec<(String, String)>, ConfigError> {
    container_env_report(pod, container, pod_ip, host_ip, node_name, src, &BTreeMap::new()).map(|e| e.vars)
}

/// [`container_env`] with the node's allocatable (what `resourceFieldRef` limits default
/// to when the container sets none, as the kubelet does), also returning the warnings to
/// record as Events (reason [`REASON_INVALID_ENV_NAMES`]).
pub fn container_env_report(
    pod: &Pod,
    container: &Container,
    pod_ip: &str,
    host_ip: &str,
    node_name: &str,
    src: &EnvSources,
    node_allocatable: &BTreeMap<String, Quantity>,
) -> Result<ContainerEnv, ConfigError> {
    let namespace = pod.metadata.namespace.as_deref().unwrap_or("default");
    let mut env = OrderedEnv::default();
    let mut warnings = Vec::new();

    // Env overrides envFrom, so envFrom goes first.
    for from in container.env_from.iter().flatten() {
        let prefix = from.prefix.as_deref().unwrap_or("");
        let (kind, name, entries): (&str, &str, Vec<(String, String)>) = if let Some(cm_ref) = &from.config_map_ref {
            let name = cm_ref.name.as_str();
            match src.configmaps.get(name) {
                Some(cm) => ("configMap", name, cm.data.iter().flatten().map(|(k, v)| (k.clone(), v.clone())).collect()),
                None if cm_ref.optional == Some(true) => continue,
                None => return Err(ConfigError::ConfigMapNotFound { name: name.to_string() }),
            }
        } else if let Some(s_ref) = &from.secret_ref {
            let name = s_ref.name.as_str();
            match src.secrets.get(name) {
                Some(s) => ("secret", name, secret_entries(s)),
                None if s_ref.optional == Some(true) => continue,
                None => return Err(ConfigError::SecretNotFound { name: name.to_string() }),
            }
        } else {
            continue;
        };
        // API validation makes every key a valid name (1.33's relaxed rules); keys that
        // still are not (a store written around validation) are skipped as the kubelet
        // used to, with its Event.
        let mut invalid = Vec::new();
        for (k, v) in entries {
            let k = format!("{prefix}{k}");
            if !is_env_var_name(&k).is_empty() || v.contains('\0') {
                invalid.push(k);
                continue;
            }
            env.set(k, v);
        }
        if !invalid.is_empty() {
            invalid.sort();
            warnings.push(format!(
                "Keys [{}] from the EnvFrom {kind} {namespace}/{name} were skipped since they are considered invalid environment variable names.",
                invalid.join(", ")
            ));
        }
    }

    let pod_ips = split_ips(pod_ip);
    let host_ips = split_ips(host_ip);
    for var in container.env.iter().flatten() {
        let value = var.value.as_deref().unwrap_or("");
        let resolved = if !value.is_empty() {
            expand(value, env.as_slice())
        } else if let Some(from) = &var.value_from {
            if let Some(f) = &from.field_ref {
                field_ref_value(f, pod, &pod_ips, &host_ips, node_name)?
            } else if let Some(r) = &from.resource_field_ref {
                resource_ref_value(r, pod, Some(container), node_allocatable).map_err(ConfigError::ResourceFieldRef)?
            } else if let Some(k) = &from.config_map_key_ref {
                let optional = k.optional == Some(true);
                let Some(cm) = src.configmaps.get(&k.name) else {
                    if optional {
                        continue;
                    }
                    return Err(ConfigError::ConfigMapNotFound { name: k.name.clone() });
                };
                // Only `data` feeds env vars; `binaryData` is for volumes.
                match cm.data.as_ref().and_then(|d| d.get(&k.key)) {
                    Some(v) => v.clone(),
                    None if optional => continue,
                    None => {
                        return Err(ConfigError::ConfigMapKeyNotFound {
                            key: k.key.clone(),
                            namespace: namespace.to_string(),
                            name: k.name.clone(),
                        })
                    }
                }
            } else if let Some(k) = &from.secret_key_ref {
                let optional = k.optional == Some(true);
                let Some(s) = src.secrets.get(&k.name) else {
                    if optional {
                        continue;
                    }
                    return Err(ConfigError::SecretNotFound { name: k.name.clone() });
                };
                match secret_value(s, &k.key) {
                    Some(v) => v,
                    None if optional => continue,
                    None => {
                        return Err(ConfigError::SecretKeyNotFound {
                            key: k.key.clone(),
                            namespace: namespace.to_string(),
                            name: k.name.clone(),
                        })
                    }
                }
            } else {
                String::new()
            }
        } else {
            String::new()
        };
        env.set(var.name.clone(), resolved);
    }
    Ok(ContainerEnv { vars: env.vars, warnings })
}

/// Insertion-ordered map; small, so a linear scan is fine.
#[derive(Default)]
struct OrderedEnv {
    vars: Vec<(String, String)>,
}

impl OrderedEnv {
    fn set(&mut self, k: String, v: String) {
        match self.vars.iter_mut().find(|(name, _)| *name == k) {
            Some(slot) => slot.1 = v,
            None => self.vars.push((k, v)),
        }
    }
    fn as_slice(&self) -> &[(String, String)] {
        &self.vars
    }
}

fn split_ips(s: &str) -> Vec<String> {
    s.split(',').map(str::trim).filter(|x| !x.is_empty()).map(String::from).collect()
}

/// Secret `data` (already base64-decoded by the client) with `stringData` on top, as the
/// API server merges them. Bytes that are not UTF-8 are replaced: env values are text here.
fn secret_entries(s: &Secret) -> Vec<(String, String)> {
    let mut m: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in s.data.iter().flatten() {
        m.insert(k.clone(), String::from_utf8_lossy(&v.0).into_owned());
    }
    for (k, v) in s.string_data.iter().flatten() {
        m.insert(k.clone(), v.clone());
    }
    m.into_iter().collect()
}

fn secret_value(s: &Secret, key: &str) -> Option<String> {
    if let Some(v) = s.string_data.as_ref().and_then(|d| d.get(key)) {
        return Some(v.clone());
    }
    s.data.as_ref().and_then(|d| d.get(key)).map(|v| String::from_utf8_lossy(&v.0).into_owned())
}

/// `fieldRef` for env vars (kubelet's `podFieldSelectorRuntimeValue`).
fn field_ref_value(
    f: &ObjectFieldSelector,
    pod: &Pod,
    pod_ips: &[String],
    host_ips: &[String],
    node_name: &str,
) -> Result<String, ConfigError> {
    let path = convert_field_label(f.api_version.as_deref(), &f.field_path).map_err(ConfigError::FieldRef)?;
    let spec = pod.spec.as_ref();
    Ok(match path.as_str() {
        "spec.nodeName" => {
            let n = spec.and_then(|s| s.node_name.as_deref()).unwrap_or("");
            if n.is_empty() { node_name } else { n }.to_string()
        }
        "spec.serviceAccountName" => spec.and_then(|s| s.service_account_name.clone()).unwrap_or_default(),
        "status.hostIP" => host_ips.first().cloned().unwrap_or_default(),
        "status.hostIPs" => host_ips.join(","),
        "status.podIP" => pod_ips.first().cloned().unwrap_or_default(),
        "status.podIPs" => pod_ips.join(","),
        _ => extract_field_path(pod, &path).map_err(ConfigError::FieldRef)?,
    })
}

/// Upstream's `ConvertDownwardAPIFieldLabel`: which pod fields env vars may select.
fn convert_field_label(api_version: Option<&str>, label: &str) -> Result<String, String> {
    let version = api_version.filter(|v| !v.is_empty()).unwrap_or("v1");
    if version != "v1" {
        return Err(format!("unsupported pod version: {version}"));
    }
    if let Some((path, _)) = split_subscript(label) {
        return match path {
            "metadata.annotations" | "metadata.labels" => Ok(label.to_string()),
            _ => Err(format!("field label does not support subscript: {label}")),
        };
    }
    match label {
        "metadata.annotations" | "metadata.labels" | "metadata.name" | "metadata.namespace" | "metadata.uid"
        | "spec.nodeName" | "spec.restartPolicy" | "spec.serviceAccountName" | "spec.schedulerName"
        | "status.phase" | "status.hostIP" | "status.hostIPs" | "status.podIP" | "status.podIPs" => {
            Ok(label.to_string())
        }
        // Old v1 clients sent spec.host.
        "spec.host" => Ok("spec.nodeName".to_string()),
        _ => Err(format!("field label not supported: {label}")),
    }
}

/// `metadata.labels['key']` → (`metadata.labels`, `key`), as `SplitMaybeSubscriptedPath`.
pub(crate) fn split_subscript(path: &str) -> Option<(&str, &str)> {
    let s = path.strip_suffix("']")?;
    let (head, key) = s.split_once("['")?;
    if head.is_empty() {
        return None;
    }
    Some((head, key))
}

/// Upstream's `fieldpath.ExtractFieldPathAsString`: the metadata fields of a pod, as the
/// downward API exposes them (used by env vars and by downwardAPI volumes).
pub(crate) fn extract_field_path(pod: &Pod, path: &str) -> Result<String, String> {
    let meta = &pod.metadata;
    if let Some((head, key)) = split_subscript(path) {
        return match head {
            "metadata.annotations" => {
                let errs = is_qualified_name(&key.to_lowercase());
                if !errs.is_empty() {
                    return Err(format!("invalid key subscript in {path}: {}", errs.join(";")));
                }
                Ok(meta.annotations.as_ref().and_then(|m| m.get(key)).cloned().unwrap_or_default())
            }
            "metadata.labels" => {
                let errs = is_qualified_name(key);
                if !errs.is_empty() {
                    return Err(format!("invalid key subscript in {path}: {}", errs.join(";")));
                }
                Ok(meta.labels.as_ref().and_then(|m| m.get(key)).cloned().unwrap_or_default())
            }
            _ => Err(format!("fieldPath {} does not support subscript", go_quote(path))),
        };
    }
    match path {
        "metadata.annotations" => Ok(format_map(meta.annotations.as_ref())),
        "metadata.labels" => Ok(format_map(meta.labels.as_ref())),
        "metadata.name" => Ok(meta.name.clone().unwrap_or_default()),
        "metadata.namespace" => Ok(meta.namespace.clone().unwrap_or_default()),
        "metadata.uid" => Ok(meta.uid.clone().unwrap_or_default()),
        _ => Err(format!("unsupported fieldPath: {path}")),
    }
}

/// `key="value"` lines, sorted by key, values quoted as Go's `%q` (`fieldpath.FormatMap`).
pub(crate) fn format_map(m: Option<&BTreeMap<String, String>>) -> String {
    m.into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", go_quote(v)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `resourceFieldRef` (upstream's `ExtractContainerResourceValue` after
/// `MergeContainerResourceLimits`): limits the container does not set are the node's
/// allocatable; values are divided by the divisor (default 1) and rounded up.
/// `container` is the container the env var belongs to; a `containerName` in the
/// selector names another one (volumes always name one).
pub(crate) fn resource_ref_value(
    sel: &ResourceFieldSelector,
    pod: &Pod,
    container: Option<&Container>,
    node_allocatable: &BTreeMap<String, Quantity>,
) -> Result<String, String> {
    let target = match sel.container_name.as_deref().filter(|n| !n.is_empty()) {
        Some(name) => find_container(pod, name).ok_or_else(|| format!("container {name} not found"))?,
        None => container.ok_or_else(|| "container  not found".to_string())?,
    };
    let resources = target.resources.as_ref();
    let (kind, resource) = sel
        .resource
        .split_once('.')
        .ok_or_else(|| format!("unsupported container resource : {}", sel.resource))?;
    let supported = matches!(resource, "cpu" | "memory" | "ephemeral-storage") || resource.starts_with("hugepages-");
    if !supported || !matches!(kind, "limits" | "requests") {
        return Err(format!("unsupported container resource : {}", sel.resource));
    }
    let list = if kind == "limits" { resources.and_then(|r| r.limits.as_ref()) } else { resources.and_then(|r| r.requests.as_ref()) };
    let mut value = list.and_then(|l| l.get(resource)).and_then(|q| Q::parse(&q.0).ok()).unwrap_or_default();
    if kind == "limits" && value.is_zero() {
        // A limit the container does not set is the node's allocatable.
        if let Some(a) = node_allocatable.get(resource).and_then(|q| Q::parse(&q.0).ok()) {
            value = a;
        }
    }
    let divisor = sel
        .divisor
        .as_ref()
        .and_then(|q| Q::parse(&q.0).ok())
        .filter(|d| !d.is_zero())
        .unwrap_or_else(|| Q::from_value(1));
    let out = if resource == "cpu" {
        ceil_div(value.milli_value(), divisor.milli_value())
    } else {
        ceil_div(value.value(), divisor.value())
    };
    Ok(out.to_string())
}

fn ceil_div(a: i64, b: i64) -> i64 {
    if b == 0 {
        return a;
    }
    let q = a / b;
    if a % b != 0 && ((a > 0) == (b > 0)) {
        q + 1
    } else {
        q
    }
}

fn find_container<'a>(pod: &'a Pod, name: &str) -> Option<&'a Container> {
    let spec = pod.spec.as_ref()?;
    spec.containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .find(|c| c.name == name)
}

/// Kubernetes' `$(VAR)` expansion: `$(NAME)` becomes NAME's value when NAME is defined
/// in `env` (last definition wins), `$$` becomes `$`, and anything else — unknown names,
/// an unclosed `$(`, a `$` before any other character — is left as written.
pub fn expand(input: &str, env: &[(String, String)]) -> String {
    let lookup = |name: &str| env.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let bytes = input.as_bytes();
    let mut out = String::with_capacity(input.len());
    let mut checkpoint = 0;
    let mut cursor = 0;
    while cursor < bytes.len() {
        if bytes[cursor] == b'$' && cursor + 1 < bytes.len() {
            out.push_str(&input[checkpoint..cursor]);
            let rest = &input[cursor + 1..];
            // `advance` counts the bytes consumed after the `$`.
            let advance = match rest.as_bytes()[0] {
                b'$' => {
                    out.push('$');
                    1
                }
                b'(' => match rest.find(')') {
                    Some(close) => {
                        let name = &rest[1..close];
                        match lookup(name) {
                            Some(v) => out.push_str(v),
                            None => {
                                out.push_str("$(");
                                out.push_str(name);
                                out.push(')');
                            }
                        }
                        close + 1
                    }
                    None => {
                        // Incomplete reference: keep `$(` and scan on after it.
                        out.push_str("$(");
                        1
                    }
                },
                _ => {
                    // Not a reference: the `$` and the next character stay as they are.
                    let ch = rest.chars().next().map(char::len_utf8).unwrap_or(1);
                    out.push('$');
                    out.push_str(&rest[..ch]);
                    ch
                }
            };
            cursor += advance + 1;
            checkpoint = cursor;
        } else {
            cursor += 1;
        }
    }
    out.push_str(&input[checkpoint..]);
    out
}

/// The command line to run: `command` followed by `args`, each expanded against `env`.
/// The process runtime has no image entrypoint: without `command`, `args` are the whole
/// command line (as for images like busybox that have none, and what `kubectl run …
/// -- cmd` writes); `None` when there is neither.
pub fn command_line(container: &Container, env: &[(String, String)]) -> Option<Vec<String>> {
    let command = container.command.iter().flatten();
    let line: Vec<String> = command.chain(container.args.iter().flatten()).map(|a| expand(a, env)).collect();
    (!line.is_empty()).then_some(line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{
        ConfigMapEnvSource, ConfigMapKeySelector, EnvFromSource, EnvVar, EnvVarSource, PodSpec,
        ResourceRequirements, SecretEnvSource, SecretKeySelector,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use k8s_openapi::ByteString;

    fn e(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn expand_corner_cases() {
        let env = e(&[("VAR_A", "A"), ("VAR_B", "B"), ("EMPTY", ""), ("DOLLAR", "$(VAR_A)")]);
        let cases = [
            ("$(VAR_A)", "A"),
            ("___$(VAR_B)___", "___B___"),
            ("$(VAR_A)-$(VAR_B)", "A-B"),
            ("$(VAR_A)$(VAR_B)", "AB"),
            ("$(UNKNOWN)", "$(UNKNOWN)"),
            ("$(VAR_A", "$(VAR_A"),
            ("$$(VAR_A)", "$(VAR_A)"),
            ("$$$(VAR_A)", "$A"),
            ("$$$$(VAR_A)", "$$(VAR_A)"),
            ("$$", "$"),
            ("$", "$"),
            ("x$", "x$"),
            ("$VAR_A", "$VAR_A"),
            ("$()", "$()"),
            ("$(EMPTY)", ""),
            ("$(DOLLAR)", "$(VAR_A)"), // values are not expanded again
            ("(VAR_A)", "(VAR_A)"),
            ("$(VAR_A)$", "A$"),
            ("$(VAR_A)$$", "A$"),
            ("caf\u{e9}$\u{e9}$(VAR_B)", "caf\u{e9}$\u{e9}B"),
            ("$(VAR_A)(", "A("),
            ("$(($(VAR_A)", "$(($(VAR_A)"),
            ("", ""),
        ];
        for (input, want) in cases {
            assert_eq!(expand(input, &env), want, "input {input:?}");
        }
    }

    #[test]
    fn expand_last_definition_wins() {
        let env = e(&[("A", "1"), ("A", "2")]);
        assert_eq!(expand("$(A)", &env), "2");
    }

    #[test]
    fn command_line_from_command_and_args() {
        let env = e(&[("WHO", "world")]);
        let mut c = Container { name: "c".into(), ..Default::default() };
        assert_eq!(command_line(&c, &env), None);
        c.args = Some(vec!["sleep".into(), "$(WHO)".into()]);
        assert_eq!(command_line(&c, &env), Some(vec!["sleep".into(), "world".into()]), "args alone are the command line");
        c.args = Some(vec![]);
        c.command = Some(vec![]);
        assert_eq!(command_line(&c, &env), None);
        c.command = Some(vec!["echo".into(), "hello $(WHO)".into()]);
        c.args = Some(vec!["$(WHO)".into(), "$$(WHO)".into(), "$(NOPE)".into()]);
        assert_eq!(
            command_line(&c, &env),
            Some(vec!["echo".into(), "hello world".into(), "world".into(), "$(WHO)".into(), "$(NOPE)".into()])
        );
    }

    fn pod() -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some("web-0".into()),
                namespace: Some("default".into()),
                uid: Some("1234-uid".into()),
                labels: Some([("app".to_string(), "web".to_string()), ("tier".into(), "front \"end\"".into())].into()),
                annotations: Some([("batch.kubernetes.io/job-completion-index".to_string(), "3".to_string())].into()),
                ..Default::default()
            },
            spec: Some(PodSpec {
                node_name: Some("node-a".into()),
                service_account_name: Some("builder".into()),
                containers: vec![],
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn cm(name: &str, data: &[(&str, &str)]) -> ConfigMap {
        ConfigMap {
            metadata: ObjectMeta { name: Some(name.into()), ..Default::default() },
            data: Some(data.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()),
            ..Default::default()
        }
    }

    fn secret(name: &str, data: &[(&str, &[u8])]) -> Secret {
        Secret {
            metadata: ObjectMeta { name: Some(name.into()), ..Default::default() },
            data: Some(data.iter().map(|(k, v)| (k.to_string(), ByteString(v.to_vec()))).collect()),
            ..Default::default()
        }
    }

    fn val(name: &str, value: &str) -> EnvVar {
        EnvVar { name: name.into(), value: Some(value.into()), value_from: None }
    }

    fn from(name: &str, src: EnvVarSource) -> EnvVar {
        EnvVar { name: name.into(), value: None, value_from: Some(src) }
    }

    fn field(path: &str) -> EnvVarSource {
        EnvVarSource {
            field_ref: Some(ObjectFieldSelector { api_version: Some("v1".into()), field_path: path.into() }),
            ..Default::default()
        }
    }

    fn cm_key(name: &str, key: &str, optional: Option<bool>) -> EnvVarSource {
        EnvVarSource {
            config_map_key_ref: Some(ConfigMapKeySelector { name: name.into(), key: key.into(), optional }),
            ..Default::default()
        }
    }

    fn secret_key(name: &str, key: &str, optional: Option<bool>) -> EnvVarSource {
        EnvVarSource {
            secret_key_ref: Some(SecretKeySelector { name: name.into(), key: key.into(), optional }),
            ..Default::default()
        }
    }

    fn run(container: &Container, cms: &[ConfigMap], secrets: &[Secret]) -> Result<ContainerEnv, ConfigError> {
        let cms: BTreeMap<String, ConfigMap> =
            cms.iter().map(|c| (c.metadata.name.clone().unwrap_or_default(), c.clone())).collect();
        let ss: BTreeMap<String, Secret> =
            secrets.iter().map(|c| (c.metadata.name.clone().unwrap_or_default(), c.clone())).collect();
        let src = EnvSources { configmaps: &cms, secrets: &ss };
        let alloc: BTreeMap<String, Quantity> =
            [("cpu".to_string(), Quantity("4".into())), ("memory".to_string(), Quantity("8Gi".into()))].into();
        container_env_report(&pod(), container, "10.244.0.5", "192.168.1.10", "node-a", &src, &alloc)
    }

    #[test]
    fn override_order_env_from_then_env() {
        let c = Container {
            name: "app".into(),
            env_from: Some(vec![
                EnvFromSource { config_map_ref: Some(ConfigMapEnvSource { name: "one".into(), optional: None }), ..Default::default() },
                EnvFromSource { secret_ref: Some(SecretEnvSource { name: "s".into(), optional: None }), ..Default::default() },
                EnvFromSource {
                    prefix: Some("P_".into()),
                    config_map_ref: Some(ConfigMapEnvSource { name: "one".into(), optional: None }),
                    ..Default::default()
                },
            ]),
            env: Some(vec![
                val("B", "from-env"),
                val("REF", "$(A)-$(B)-$(LATER)"),
                val("LATER", "late"),
                val("EMPTY", ""),
                val("A", "again"),
            ]),
            ..Default::default()
        };
        let out = run(&c, &[cm("one", &[("A", "a1"), ("B", "b1")])], &[secret("s", &[("A", b"secret-a")])]).unwrap();
        assert_eq!(
            out.vars,
            e(&[
                ("A", "again"),
                ("B", "from-env"),
                ("P_A", "a1"),
                ("P_B", "b1"),
                ("REF", "secret-a-from-env-$(LATER)"),
                ("LATER", "late"),
                ("EMPTY", ""),
            ])
        );
        assert!(out.warnings.is_empty());
    }

    #[test]
    fn env_from_invalid_keys_are_skipped_with_a_warning() {
        let c = Container {
            name: "app".into(),
            env_from: Some(vec![EnvFromSource {
                config_map_ref: Some(ConfigMapEnvSource { name: "cfg".into(), optional: None }),
                ..Default::default()
            }]),
            ..Default::default()
        };
        let out = run(&c, &[cm("cfg", &[("good", "1"), ("b=ad", "2"), ("a=lso", "3"), ("1dot.ok", "4")])], &[]).unwrap();
        assert_eq!(out.vars, e(&[("1dot.ok", "4"), ("good", "1")]));
        assert_eq!(
            out.warnings,
            vec!["Keys [a=lso, b=ad] from the EnvFrom configMap default/cfg were skipped since they are considered invalid environment variable names."]
        );
    }

    #[test]
    fn optional_sources_and_keys() {
        let c = Container {
            name: "app".into(),
            env_from: Some(vec![
                EnvFromSource { config_map_ref: Some(ConfigMapEnvSource { name: "gone".into(), optional: Some(true) }), ..Default::default() },
                EnvFromSource { secret_ref: Some(SecretEnvSource { name: "gone".into(), optional: Some(true) }), ..Default::default() },
            ]),
            env: Some(vec![
                from("A", cm_key("gone", "k", Some(true))),
                from("B", cm_key("cfg", "missing", Some(true))),
                from("C", secret_key("gone", "k", Some(true))),
                from("D", secret_key("s", "missing", Some(true))),
                from("E", cm_key("cfg", "k", None)),
                from("F", secret_key("s", "k", Some(false))),
            ]),
            ..Default::default()
        };
        let out = run(&c, &[cm("cfg", &[("k", "v")])], &[secret("s", &[("k", b"sv")])]).unwrap();
        assert_eq!(out.vars, e(&[("E", "v"), ("F", "sv")]));
    }

    #[test]
    fn every_config_error_message() {
        let one = |src: EnvVarSource| Container { name: "app".into(), env: Some(vec![from("X", src)]), ..Default::default() };
        let cms = [cm("cfg", &[("k", "v")])];
        let ss = [secret("s", &[("k", b"v")])];
        let msg = |c: &Container| run(c, &cms, &ss).unwrap_err().to_string();
        assert_eq!(msg(&one(cm_key("x", "k", None))), r#"configmap "x" not found"#);
        assert_eq!(msg(&one(cm_key("cfg", "nope", None))), "couldn't find key nope in ConfigMap default/cfg");
        assert_eq!(msg(&one(secret_key("sx", "k", Some(false)))), r#"secret "sx" not found"#);
        assert_eq!(msg(&one(secret_key("s", "nope", None))), "couldn't find key nope in Secret default/s");
        assert_eq!(msg(&one(field("spec.bogus"))), "field label not supported: spec.bogus");
        assert_eq!(msg(&one(field("spec.nodeName['x']"))), "field label does not support subscript: spec.nodeName['x']");
        assert_eq!(msg(&one(field("status.phase"))), "unsupported fieldPath: status.phase");
        let mut v2 = field("metadata.name");
        if let Some(f) = v2.field_ref.as_mut() {
            f.api_version = Some("v2".into());
        }
        assert_eq!(msg(&one(v2)), "unsupported pod version: v2");
        let res = |r: &str, container: Option<&str>| EnvVarSource {
            resource_field_ref: Some(ResourceFieldSelector {
                resource: r.into(),
                container_name: container.map(String::from),
                divisor: None,
            }),
            ..Default::default()
        };
        assert_eq!(msg(&one(res("limits.gpu", None))), "unsupported container resource : limits.gpu");
        assert_eq!(msg(&one(res("limits.cpu", Some("other")))), "container other not found");
        let ef = |cm_ref: Option<&str>, s_ref: Option<&str>| Container {
            name: "app".into(),
            env_from: Some(vec![EnvFromSource {
                config_map_ref: cm_ref.map(|n| ConfigMapEnvSource { name: n.into(), optional: Some(false) }),
                secret_ref: s_ref.map(|n| SecretEnvSource { name: n.into(), optional: None }),
                ..Default::default()
            }]),
            ..Default::default()
        };
        assert_eq!(msg(&ef(Some("nocm"), None)), r#"configmap "nocm" not found"#);
        assert_eq!(msg(&ef(None, Some("nos"))), r#"secret "nos" not found"#);
    }

    #[test]
    fn field_refs() {
        let c = Container {
            name: "app".into(),
            env: Some(vec![
                from("NAME", field("metadata.name")),
                from("NS", field("metadata.namespace")),
                from("UID", field("metadata.uid")),
                from("APP", field("metadata.labels['app']")),
                from("NOLABEL", field("metadata.labels['missing']")),
                from("JOB_COMPLETION_INDEX", field("metadata.annotations['batch.kubernetes.io/job-completion-index']")),
                from("LABELS", field("metadata.labels")),
                from("NODE", field("spec.nodeName")),
                from("SA", field("spec.serviceAccountName")),
                from("HOST_IP", field("status.hostIP")),
                from("HOST_IPS", field("status.hostIPs")),
                from("POD_IP", field("status.podIP")),
                from("POD_IPS", field("status.podIPs")),
                val("URL", "http://$(POD_IP):8080/$(JOB_COMPLETION_INDEX)"),
            ]),
            ..Default::default()
        };
        let out = run(&c, &[], &[]).unwrap();
        assert_eq!(
            out.vars,
            e(&[
                ("NAME", "web-0"),
                ("NS", "default"),
                ("UID", "1234-uid"),
                ("APP", "web"),
                ("NOLABEL", ""),
                ("JOB_COMPLETION_INDEX", "3"),
                ("LABELS", "app=\"web\"\ntier=\"front \\\"end\\\"\""),
                ("NODE", "node-a"),
                ("SA", "builder"),
                ("HOST_IP", "192.168.1.10"),
                ("HOST_IPS", "192.168.1.10"),
                ("POD_IP", "10.244.0.5"),
                ("POD_IPS", "10.244.0.5"),
                ("URL", "http://10.244.0.5:8080/3"),
            ])
        );
    }

    #[test]
    fn dual_stack_ips() {
        let c = Container {
            name: "app".into(),
            env: Some(vec![from("IP", field("status.podIP")), from("IPS", field("status.podIPs"))]),
            ..Default::default()
        };
        let src = EnvSources { configmaps: &BTreeMap::new(), secrets: &BTreeMap::new() };
        let out = container_env(&pod(), &c, "10.0.0.5,fd00::5", "", "n", &src).unwrap();
        assert_eq!(out, e(&[("IP", "10.0.0.5"), ("IPS", "10.0.0.5,fd00::5")]));
    }

    #[test]
    fn resource_field_refs() {
        let q = |s: &str| Quantity(s.into());
        let res = |r: &str, divisor: Option<&str>| EnvVarSource {
            resource_field_ref: Some(ResourceFieldSelector {
                resource: r.into(),
                container_name: None,
                divisor: divisor.map(q),
            }),
            ..Default::default()
        };
        let c = Container {
            name: "app".into(),
            resources: Some(ResourceRequirements {
                limits: Some([("memory".to_string(), q("64Mi")), ("cpu".to_string(), q("250m"))].into()),
                requests: Some([("cpu".to_string(), q("100m")), ("ephemeral-storage".to_string(), q("1Gi"))].into()),
                ..Default::default()
            }),
            env: Some(vec![
                from("CPU_LIMIT", res("limits.cpu", None)),
                from("CPU_LIMIT_M", res("limits.cpu", Some("1m"))),
                from("CPU_REQ_M", res("requests.cpu", Some("1m"))),
                from("MEM_LIMIT", res("limits.memory", None)),
                from("MEM_LIMIT_MI", res("limits.memory", Some("1Mi"))),
                from("MEM_REQ", res("requests.memory", None)),
                from("EPH_REQ_GI", res("requests.ephemeral-storage", Some("1Gi"))),
                from("EPH_LIMIT", res("limits.ephemeral-storage", None)),
                from("ZERO_DIVISOR", res("limits.memory", Some("0"))),
            ]),
            ..Default::default()
        };
        let out = run(&c, &[], &[]).unwrap();
        assert_eq!(
            out.vars,
            e(&[
                ("CPU_LIMIT", "1"),
                ("CPU_LIMIT_M", "250"),
                ("CPU_REQ_M", "100"),
                ("MEM_LIMIT", "67108864"),
                ("MEM_LIMIT_MI", "64"),
                ("MEM_REQ", "0"),
                ("EPH_REQ_GI", "1"),
                ("EPH_LIMIT", "0"),
                ("ZERO_DIVISOR", "67108864"),
            ])
        );
        // No limits at all: node allocatable.
        let c = Container {
            name: "app".into(),
            env: Some(vec![from("CPU", res("limits.cpu", None)), from("MEM_GI", res("limits.memory", Some("1Gi")))]),
            ..Default::default()
        };
        assert_eq!(run(&c, &[], &[]).unwrap().vars, e(&[("CPU", "4"), ("MEM_GI", "8")]));
    }

    #[test]
    fn secret_values_are_decoded_bytes() {
        let c = Container {
            name: "app".into(),
            env: Some(vec![from("PW", secret_key("s", "pw", None))]),
            env_from: Some(vec![EnvFromSource {
                prefix: Some("S_".into()),
                secret_ref: Some(SecretEnvSource { name: "s".into(), optional: None }),
                ..Default::default()
            }]),
            ..Default::default()
        };
        let out = run(&c, &[], &[secret("s", &[("pw", b"hunter2")])]).unwrap();
        assert_eq!(out.vars, e(&[("S_pw", "hunter2"), ("PW", "hunter2")]));
    }
}
