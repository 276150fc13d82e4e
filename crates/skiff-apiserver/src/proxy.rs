//! The pod subresources served by the pod's node agent: `pods/log` (streamed, `follow`
//! included) and `pods/exec` (a websocket upgrade passed through to the agent, then bytes
//! copied both ways), with upstream's checks and messages before the agent is called:
//! the container defaulting and validation of `streamLocation`/`LogLocation`, and
//! `pod x does not have a host assigned`. Errors from the agent's log endpoint become
//! Status objects as upstream's GenericHttpResponseChecker makes them (400 BadRequest
//! with the agent's text); a refused exec upgrade is passed to the client unchanged, as
//! upstream's upgrade-aware proxy does (kubectl then prints
//! `error: unable to upgrade connection: container not found ("x")`).
//! `pods/attach` goes the same way as exec (the agent streams the container's output);
//! `pods/portforward` is refused for now.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use skiff_api::validation::{ErrorType, FieldError};

use crate::kubelet::Endpoint;
use crate::objects;
use crate::query::Query;
use crate::server::AppState;
use crate::status::ApiError;

/// The pod subresources handled here.
const SUBRESOURCES: &[&str] = &["log", "exec", "attach", "portforward"];

/// Headers of an upgrade request passed on to the agent.
const UPGRADE_HEADERS: &[&str] = &[
    "upgrade",
    "connection",
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-protocol",
    "x-stream-protocol-version",
];

/// Serves `req` if it is one of the pod subresources above (None otherwise). Runs outside
/// the in-flight limit: these requests last as long as the stream.
pub async fn intercept(state: &AppState, req: &mut Request) -> Option<Response> {
    let path = req.uri().path().trim_end_matches('/').to_string();
    let segs: Vec<String> = path.trim_start_matches('/').split('/').map(|s| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()).collect();
    let (ns, name, sub) = match segs.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["api", "v1", "namespaces", ns, "pods", name, sub] if SUBRESOURCES.contains(sub) => (ns.to_string(), name.to_string(), sub.to_string()),
        _ => return None,
    };
    let q = Query::parse(req.uri().query());
    let result = match sub.as_str() {
        "log" if req.method() == Method::GET => log(state, &ns, &name, &q).await,
        "log" => Err(ApiError::method_not_allowed()),
        _ if req.method() == Method::GET || req.method() == Method::POST => stream(state, &ns, &name, &sub, &q, req).await,
        _ => Err(ApiError::method_not_allowed()),
    };
    Some(result.unwrap_or_else(IntoResponse::into_response))
}

fn pods() -> &'static skiff_api::registry::Resource {
    skiff_api::registry::by_plural("", "v1", "pods").expect("pods are registered")
}

fn container_names(pod: &Value, field: &str) -> Vec<String> {
    pod.pointer(&format!("/spec/{field}")).and_then(Value::as_array).map(|cs| cs.iter().filter_map(|c| c["name"].as_str().map(str::to_string)).collect()).unwrap_or_default()
}

/// Go's `%v` of a string slice: `[a b]`.
fn go_list(names: &[String]) -> String {
    format!("[{}]", names.join(" "))
}

/// The container a request is for: the one named, or the pod's only one (upstream's
/// `validateContainer` for logs, `streamLocation` for exec and attach).
fn pick_container(pod: &Value, name: &str, requested: Option<&str>, for_logs: bool) -> Result<String, ApiError> {
    let (containers, init, ephemeral) = (container_names(pod, "containers"), container_names(pod, "initContainers"), container_names(pod, "ephemeralContainers"));
    match requested.filter(|c| !c.is_empty()) {
        Some(c) => {
            if containers.iter().chain(&init).chain(&ephemeral).any(|n| n == c) {
                Ok(c.to_string())
            } else {
                Err(ApiError::bad_request(format!("container {c} is not valid for pod {name}")))
            }
        }
        None => match containers.len() {
            1 => Ok(containers[0].clone()),
            0 => Err(ApiError::bad_request(format!("a container name must be specified for pod {name}"))),
            _ if for_logs => {
                let all: Vec<String> = init.iter().chain(&containers).chain(&ephemeral).cloned().collect();
                Err(ApiError::bad_request(format!("a container name must be specified for pod {name}, choose one of: {}", go_list(&all))))
            }
            _ => {
                let mut msg = format!("a container name must be specified for pod {name}, choose one of: {}", go_list(&containers));
                if !init.is_empty() {
                    msg.push_str(&format!(" or one of the init containers: {}", go_list(&init)));
                }
                Err(ApiError::bad_request(msg))
            }
        },
    }
}

fn node_endpoint(state: &AppState, node_name: &str) -> Result<Endpoint, ApiError> {
    let nodes = skiff_api::registry::by_plural("", "v1", "nodes").ok_or_else(|| ApiError::internal("nodes are not registered"))?;
    let kv = state.storage.get(nodes, None, node_name)?;
    Endpoint::of_node(&objects::parse_json(&kv.value)).map_err(ApiError::internal)
}

fn invalid(name: &str, field: &str, value: Value, detail: &str) -> ApiError {
    ApiError::invalid("PodLogOptions", name, &[FieldError { error_type: ErrorType::Invalid, field: field.into(), bad_value: Some(value), detail: detail.into() }])
}

/// Upstream's ValidatePodLogOptions, then the query the kubelet gets.
fn log_query(name: &str, q: &Query) -> Result<String, ApiError> {
    let tail = q.int("tailLines")?;
    let limit = q.int("limitBytes")?;
    let since_seconds = q.int("sinceSeconds")?;
    let since_time = q.get("sinceTime").filter(|t| !t.is_empty());
    if let Some(t) = tail.filter(|t| *t < 0) {
        return Err(invalid(name, "tailLines", json!(t), "must be greater than or equal to 0"));
    }
    if let Some(l) = limit.filter(|l| *l < 1) {
        return Err(invalid(name, "limitBytes", json!(l), "must be greater than 0"));
    }
    if since_seconds.is_some() && since_time.is_some() {
        return Err(ApiError::invalid("PodLogOptions", name, &[FieldError { error_type: ErrorType::Forbidden, field: String::new(), bad_value: None, detail: "at most one of `sinceTime` or `sinceSeconds` may be specified".into() }]));
    }
    if let Some(s) = since_seconds.filter(|s| *s < 1) {
        return Err(invalid(name, "sinceSeconds", json!(s), "must be greater than 0"));
    }
    if let Some(t) = since_time {
        if t.parse::<jiff::Timestamp>().is_err() {
            return Err(ApiError::bad_request(format!("parsing time {t:?} as \"2006-01-02T15:04:05Z07:00\": cannot parse {t:?} as \"2006\"")));
        }
    }
    let mut params: Vec<(String, String)> = Vec::new();
    for flag in ["follow", "previous", "timestamps"] {
        if q.flag(flag) && q.get(flag).is_some() {
            params.push((flag.into(), "true".into()));
        }
    }
    if let Some(s) = since_seconds {
        params.push(("sinceSeconds".into(), s.to_string()));
    }
    if let Some(t) = since_time {
        params.push(("sinceTime".into(), t.to_string()));
    }
    if let Some(t) = tail {
        params.push(("tailLines".into(), t.to_string()));
    }
    if let Some(l) = limit {
        params.push(("limitBytes".into(), l.to_string()));
    }
    Ok(encode_query(&params))
}

fn encode_query(params: &[(String, String)]) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
    params
        .iter()
        .map(|(k, v)| format!("{}={}", percent_encoding::utf8_percent_encode(k, SET), percent_encoding::utf8_percent_encode(v, SET)))
        .collect::<Vec<_>>()
        .join("&")
}

fn seg(s: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
    percent_encoding::utf8_percent_encode(s, SET).to_string()
}

async fn log(state: &AppState, ns: &str, name: &str, q: &Query) -> Result<Response, ApiError> {
    let pod = objects::parse_json(&state.storage.get(pods(), Some(ns), name)?.value);
    let container = pick_container(&pod, name, q.get("container"), true)?;
    let query = log_query(name, q)?;
    let node = pod.pointer("/spec/nodeName").and_then(Value::as_str).unwrap_or("");
    if node.is_empty() {
        // Not scheduled yet: upstream has no location to stream from and answers 204.
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let ep = node_endpoint(state, node)?;
    let path = format!("/containerLogs/{}/{}/{}?{query}", seg(ns), seg(name), seg(&container));
    let resp = state.kubelet.request(&ep, Method::GET, &path, &HeaderMap::new(), false).await.map_err(|e| ApiError::internal(e.to_string()))?;
    let status = resp.status();
    if !status.is_success() {
        use http_body_util::BodyExt;
        let body = resp.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
        let text = String::from_utf8_lossy(&body[..body.len().min(64 * 1024)]).trim().to_string();
        return Err(match status.as_u16() {
            400 => ApiError::bad_request(text),
            404 => ApiError::new(404, "NotFound", text),
            500 => ApiError::internal(text),
            code => ApiError::new(code, "InternalError", text),
        });
    }
    Ok(text_response(Body::new(resp.into_body())))
}

fn text_response(body: Body) -> Response {
    let mut r = (StatusCode::OK, body).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    r
}

/// exec, attach, portforward: checks, then the agent's upgrade passed through.
async fn stream(state: &AppState, ns: &str, name: &str, sub: &str, q: &Query, req: &mut Request) -> Result<Response, ApiError> {
    let pod = objects::parse_json(&state.storage.get(pods(), Some(ns), name)?.value);
    if sub == "portforward" {
        return Err(ApiError::bad_request("port forwarding is not supported by skiff nodes yet"));
    }
    let container = pick_container(&pod, name, q.get("container"), false)?;
    let node = pod.pointer("/spec/nodeName").and_then(Value::as_str).unwrap_or("");
    if node.is_empty() {
        return Err(ApiError::bad_request(format!("pod {name} does not have a host assigned")));
    }
    let ep = node_endpoint(state, node)?;
    let mut params: Vec<(String, String)> = Vec::new();
    for (flag, param) in [("stdin", "input"), ("stdout", "output"), ("stderr", "error"), ("tty", "tty")] {
        if q.flag(flag) && q.get(flag).is_some() {
            params.push((param.into(), "1".into()));
        }
    }
    if sub == "exec" {
        for c in q.all("command") {
            params.push(("command".into(), c.to_string()));
        }
    }
    let path = format!("/{sub}/{}/{}/{}?{}", seg(ns), seg(name), seg(&container), encode_query(&params));
    let mut headers = HeaderMap::new();
    for h in UPGRADE_HEADERS {
        for v in req.headers().get_all(*h) {
            headers.append(*h, v.clone());
        }
    }
    let method = req.method().clone();
    // As upstream's upgrade-aware proxy words it.
    let mut upstream = state.kubelet.request(&ep, method, &path, &headers, true).await.map_err(|e| ApiError::internal(format!("error dialing backend: {}", e.cause)))?;
    if upstream.status() != StatusCode::SWITCHING_PROTOCOLS {
        // A refusal goes to the client as the agent gave it.
        let (parts, body) = upstream.into_parts();
        let mut r = Response::from_parts(parts, Body::new(body));
        r.headers_mut().remove(header::CONNECTION);
        r.headers_mut().remove(header::TRANSFER_ENCODING);
        return Ok(r);
    }
    let mut resp = Response::builder().status(StatusCode::SWITCHING_PROTOCOLS);
    for (k, v) in upstream.headers() {
        resp = resp.header(k, v);
    }
    let agent_side = hyper::upgrade::on(&mut upstream);
    let client_side = hyper::upgrade::on(req);
    tokio::spawn(async move {
        let (Ok(agent), Ok(client)) = (agent_side.await, client_side.await) else { return };
        let mut agent = hyper_util::rt::TokioIo::new(agent);
        let mut client = hyper_util::rt::TokioIo::new(client);
        let _ = tokio::io::copy_bidirectional(&mut client, &mut agent).await;
    });
    resp.body(Body::empty()).map_err(|e| ApiError::internal(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(containers: &[&str], init: &[&str]) -> Value {
        let cs = |names: &[&str]| names.iter().map(|n| json!({"name": n, "image": "x"})).collect::<Vec<_>>();
        json!({"metadata": {"name": "p"}, "spec": {"containers": cs(containers), "initContainers": cs(init)}})
    }

    #[test]
    fn containers_are_picked_as_upstream_does() {
        assert_eq!(pick_container(&pod(&["a"], &[]), "p", None, true).ok().as_deref(), Some("a"));
        assert_eq!(pick_container(&pod(&["a", "b"], &["i"]), "p", Some("i"), false).ok().as_deref(), Some("i"));
        let e = pick_container(&pod(&["a"], &[]), "p", Some("z"), true).unwrap_err();
        assert_eq!((e.code, e.message.as_str()), (400, "container z is not valid for pod p"));
        let e = pick_container(&pod(&["a", "b"], &["i"]), "p", None, false).unwrap_err();
        assert_eq!(e.message, "a container name must be specified for pod p, choose one of: [a b] or one of the init containers: [i]");
        let e = pick_container(&pod(&["a", "b"], &["i"]), "p", None, true).unwrap_err();
        assert_eq!(e.message, "a container name must be specified for pod p, choose one of: [i a b]");
    }

    #[test]
    fn log_options_are_validated_and_passed_on() {
        let q = |s: &str| Query::parse(Some(s));
        assert_eq!(log_query("p", &q("follow=true&tailLines=5&timestamps=true&container=c")).ok().as_deref(), Some("follow=true&timestamps=true&tailLines=5"));
        assert_eq!(log_query("p", &q("sinceTime=2024-01-01T00%3A00%3A00Z&limitBytes=7")).ok().as_deref(), Some("sinceTime=2024-01-01T00%3A00%3A00Z&limitBytes=7"));
        let e = log_query("p", &q("tailLines=-2")).unwrap_err();
        assert_eq!((e.code, e.message.as_str()), (422, "PodLogOptions \"p\" is invalid: tailLines: Invalid value: -2: must be greater than or equal to 0"));
        let e = log_query("p", &q("sinceSeconds=5&sinceTime=2024-01-01T00:00:00Z")).unwrap_err();
        assert!(e.message.contains("at most one of `sinceTime` or `sinceSeconds` may be specified"), "{}", e.message);
        assert_eq!(log_query("p", &q("sinceSeconds=0")).unwrap_err().code, 422);
        assert_eq!(log_query("p", &q("limitBytes=0")).unwrap_err().code, 422);
    }
}
