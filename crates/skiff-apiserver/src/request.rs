//! What a request URL names: group, version, resource, namespace, name, subresource,
//! as upstream's RequestInfoFactory reads it.

use skiff_api::registry::{self, Resource};

#[derive(Debug, Clone)]
pub struct Target {
    pub resource: &'static Resource,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub subresource: Option<String>,
    /// The legacy `/watch/` path prefix.
    pub watch_path: bool,
}

pub enum Parsed {
    Target(Target),
    /// A known group/version with an unknown resource, or a malformed path.
    NotFound,
}

/// Parses `/api/v1/...` and `/apis/{group}/{version}/...` below the group-version root.
pub fn parse(path: &str) -> Option<Parsed> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match segs.as_slice() {
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return None,
    };
    if rest.is_empty() {
        return None;
    }
    let mut parts: Vec<String> = rest.iter().map(|s| decode(s)).collect();
    let mut watch_path = false;
    if parts[0] == "watch" {
        watch_path = true;
        parts.remove(0);
    }
    let mut namespace = None;
    if parts.len() > 1 && parts[0] == "namespaces" {
        namespace = Some(parts[1].clone());
        // namespaces/{name}/status and /finalize address the Namespace itself.
        if parts.len() > 2 && !matches!(parts[2].as_str(), "status" | "finalize") {
            parts.drain(..2);
        }
    }
    let Some(resource) = parts.first().and_then(|p| registry::by_plural(group, version, p)) else {
        return Some(Parsed::NotFound);
    };
    if resource.plural == "namespaces" && resource.group.is_empty() {
        // The Namespace object: namespace_name is its name, not a scope.
        return Some(Parsed::Target(Target {
            resource,
            namespace: None,
            name: parts.get(1).cloned(),
            subresource: parts.get(2).cloned(),
            watch_path,
        }));
    }
    if parts.len() > 3 || (namespace.is_some() && !resource.namespaced) {
        return Some(Parsed::NotFound);
    }
    Some(Parsed::Target(Target {
        resource,
        namespace,
        name: parts.get(1).cloned(),
        subresource: parts.get(2).cloned(),
        watch_path,
    }))
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(path: &str) -> Target {
        match parse(path) {
            Some(Parsed::Target(t)) => t,
            _ => panic!("{path} should parse"),
        }
    }

    #[test]
    fn paths() {
        let t = target("/api/v1/namespaces/default/pods/web/status");
        assert_eq!((t.resource.plural, t.namespace.as_deref(), t.name.as_deref(), t.subresource.as_deref()),
            ("pods", Some("default"), Some("web"), Some("status")));
        let t = target("/apis/apps/v1/deployments");
        assert_eq!((t.resource.kind, t.namespace, t.name), ("Deployment", None, None));
        let t = target("/api/v1/namespaces/kube-system");
        assert_eq!((t.resource.kind, t.name.as_deref()), ("Namespace", Some("kube-system")));
        let t = target("/api/v1/namespaces/x/finalize");
        assert_eq!((t.name.as_deref(), t.subresource.as_deref()), (Some("x"), Some("finalize")));
        let t = target("/api/v1/watch/namespaces/default/pods");
        assert!(t.watch_path);
        assert_eq!(t.namespace.as_deref(), Some("default"));
        assert!(matches!(parse("/apis/apps/v1/demonsets"), Some(Parsed::NotFound)));
        assert!(matches!(parse("/api/v1/namespaces/default/nodes"), Some(Parsed::NotFound)));
        assert!(parse("/version").is_none());
    }
}
