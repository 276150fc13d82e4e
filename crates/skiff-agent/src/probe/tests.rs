use super::*;

use std::convert::Infallible;
use std::net::SocketAddr;

use http_body_util::StreamBody;
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper::{HeaderMap, Response};
use k8s_openapi::api::core::v1::{ContainerPort, HTTPHeader};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

const T: Duration = Duration::from_secs(2);
const SHORT: Duration = Duration::from_millis(300);

fn container() -> Container {
    Container {
        name: "web".into(),
        ports: Some(vec![
            ContainerPort { name: Some("http".into()), container_port: 8080, ..Default::default() },
            ContainerPort { name: Some("grpc".into()), container_port: 9000, ..Default::default() },
        ]),
        ..Default::default()
    }
}

/// A port nothing listens on.
async fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap().port()
}

fn http_action(port: u16, path: &str) -> HTTPGetAction {
    HTTPGetAction { port: IntOrString::Int(port.into()), path: Some(path.into()), ..Default::default() }
}

// --- ports ------------------------------------------------------------------------------

#[test]
fn ports_resolve_as_kubelet_does() {
    let c = container();
    assert_eq!(resolve_port(&IntOrString::Int(80), &c), Ok(80));
    assert_eq!(resolve_port(&IntOrString::String("http".into()), &c), Ok(8080));
    assert_eq!(resolve_port(&IntOrString::String("8081".into()), &c), Ok(8081));
    assert_eq!(resolve_port(&IntOrString::String("nope".into()), &c), Err("strconv.Atoi: parsing \"nope\": invalid syntax".into()));
    assert_eq!(resolve_port(&IntOrString::Int(0), &c), Err("invalid port number: 0".into()));
    assert_eq!(resolve_port(&IntOrString::String("70000".into()), &c), Err("invalid port number: 70000".into()));
    assert_eq!(join_host_port("10.0.0.1", 80), "10.0.0.1:80");
    assert_eq!(join_host_port("fd00::1", 80), "[fd00::1]:80");
}

#[tokio::test]
async fn unresolvable_ports_are_errors_not_failures() {
    let a = HTTPGetAction { port: IntOrString::String("metrics".into()), ..Default::default() };
    assert_eq!(
        http_get("127.0.0.1", &a, &container(), T).await,
        ProbeOutcome::Error("strconv.Atoi: parsing \"metrics\": invalid syntax".into())
    );
    let t = TCPSocketAction { port: IntOrString::Int(0), host: None };
    assert_eq!(tcp_socket("127.0.0.1", &t, &container(), T).await, ProbeOutcome::Error("invalid port number: 0".into()));
    let (_, msg) = event(ProbeKind::Readiness, &ProbeOutcome::Error("strconv.Atoi: parsing \"metrics\": invalid syntax".into())).unwrap();
    assert_eq!(msg, "Readiness probe errored and resulted in unknown state: strconv.Atoi: parsing \"metrics\": invalid syntax");
}

// --- tcp --------------------------------------------------------------------------------

#[tokio::test]
async fn tcp_open_and_closed_ports() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let open = TCPSocketAction { port: IntOrString::Int(port.into()), host: None };
    assert_eq!(tcp_socket("127.0.0.1", &open, &container(), T).await, ProbeOutcome::Success);
    // The action's host wins over the pod IP.
    let with_host = TCPSocketAction { port: IntOrString::Int(port.into()), host: Some("127.0.0.1".into()) };
    assert_eq!(tcp_socket("192.0.2.1", &with_host, &container(), T).await, ProbeOutcome::Success);
    drop(l);
    let closed = closed_port().await;
    let a = TCPSocketAction { port: IntOrString::Int(closed.into()), host: None };
    assert_eq!(
        tcp_socket("127.0.0.1", &a, &container(), T).await,
        ProbeOutcome::Failure(format!("dial tcp 127.0.0.1:{closed}: connect: connection refused"))
    );
}

#[tokio::test]
async fn tcp_named_port() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let mut c = container();
    c.ports = Some(vec![ContainerPort { name: Some("svc".into()), container_port: port.into(), ..Default::default() }]);
    let a = TCPSocketAction { port: IntOrString::String("svc".into()), host: None };
    assert_eq!(tcp_socket("127.0.0.1", &a, &c, T).await, ProbeOutcome::Success);
}

// --- http -------------------------------------------------------------------------------

type TestBody = http_body_util::Full<Bytes>;

fn respond(status: u16, location: Option<&str>, body: &str) -> Response<TestBody> {
    let mut r = Response::builder().status(status);
    if let Some(l) = location {
        r = r.header("Location", l);
    }
    r.body(TestBody::new(Bytes::from(body.to_string()))).unwrap()
}

/// An HTTP/1.1 server whose answers depend on the path; it reports each request's
/// path and headers.
async fn http_server() -> (u16, mpsc::UnboundedReceiver<(String, HeaderMap)>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = l.accept().await else { return };
            let tx = tx.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req: Request<Incoming>| {
                    let tx = tx.clone();
                    async move {
                        let path = req.uri().path_and_query().map(|p| p.to_string()).unwrap_or_default();
                        let _ = tx.send((path.clone(), req.headers().clone()));
                        let r = match path.as_str() {
                            "/healthz" | "/" | "/a/b/ok" | "/q?x=1" => respond(200, None, "ok"),
                            "/created" => respond(201, None, ""),
                            "/fail" => respond(500, None, "boom"),
                            "/notfound" => respond(404, None, ""),
                            "/same" => respond(302, Some("/healthz"), ""),
                            "/same-abs" => respond(301, Some(&format!("http://127.0.0.1:{port}/healthz")), ""),
                            "/a/b/rel" => respond(307, Some("ok"), ""),
                            "/to-fail" => respond(302, Some("/fail"), ""),
                            "/other" => respond(302, Some(&format!("http://localhost:{port}/healthz")), "moved elsewhere"),
                            "/ftp" => respond(302, Some("ftp://127.0.0.1/x"), ""),
                            "/loop" => respond(302, Some("/loop"), ""),
                            "/multiple" => respond(300, None, "choose"),
                            "/slow" => {
                                tokio::time::sleep(Duration::from_secs(5)).await;
                                respond(200, None, "")
                            }
                            _ => respond(404, None, ""),
                        };
                        Ok::<_, Infallible>(r)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await;
            });
        }
    });
    (port, rx)
}

#[tokio::test]
async fn http_success_headers_and_user_agent() {
    let (port, mut rx) = http_server().await;
    let c = container();
    assert_eq!(http_get("127.0.0.1", &http_action(port, "/healthz"), &c, T).await, ProbeOutcome::Success);
    let (path, h) = rx.recv().await.unwrap();
    assert_eq!(path, "/healthz");
    assert_eq!(h.get("user-agent").unwrap(), "kube-probe/1.33");
    assert_eq!(h.get("accept").unwrap(), "*/*");
    assert_eq!(h.get("host").unwrap(), &format!("127.0.0.1:{port}"));

    // Custom headers; Host sets the Host; an empty Accept removes it; User-Agent replaced.
    let mut a = http_action(port, "/q?x=1");
    a.http_headers = Some(vec![
        HTTPHeader { name: "x-custom".into(), value: "1".into() },
        HTTPHeader { name: "X-Custom".into(), value: "2".into() },
        HTTPHeader { name: "host".into(), value: "example.com".into() },
        HTTPHeader { name: "Accept".into(), value: "".into() },
        HTTPHeader { name: "User-Agent".into(), value: "mine".into() },
    ]);
    assert_eq!(http_get("127.0.0.1", &a, &c, T).await, ProbeOutcome::Success);
    let (path, h) = rx.recv().await.unwrap();
    assert_eq!(path, "/q?x=1");
    let custom: Vec<_> = h.get_all("x-custom").iter().map(|v| v.to_str().unwrap().to_string()).collect();
    assert_eq!(custom, vec!["1", "2"]);
    assert_eq!(h.get("host").unwrap(), "example.com");
    assert!(h.get("accept").is_none());
    assert_eq!(h.get("user-agent").unwrap(), "mine");

    // No path: GET /.
    assert_eq!(http_get("127.0.0.1", &http_action(port, ""), &c, T).await, ProbeOutcome::Success);
    assert_eq!(rx.recv().await.unwrap().0, "/");
    assert_eq!(http_get("127.0.0.1", &http_action(port, "/created"), &c, T).await, ProbeOutcome::Success);
}

#[tokio::test]
async fn http_named_port_and_scheme_case() {
    let (port, _rx) = http_server().await;
    let mut c = container();
    c.ports = Some(vec![ContainerPort { name: Some("web".into()), container_port: port.into(), ..Default::default() }]);
    let a = HTTPGetAction { port: IntOrString::String("web".into()), path: Some("/healthz".into()), scheme: Some("HTTP".into()), ..Default::default() };
    assert_eq!(http_get("127.0.0.1", &a, &c, T).await, ProbeOutcome::Success);
}

#[tokio::test]
async fn http_failures_as_kubelet_words_them() {
    let (port, _rx) = http_server().await;
    let c = container();
    assert_eq!(
        http_get("127.0.0.1", &http_action(port, "/fail"), &c, T).await,
        ProbeOutcome::Failure("HTTP probe failed with statuscode: 500".into())
    );
    assert_eq!(
        http_get("127.0.0.1", &http_action(port, "/notfound"), &c, T).await,
        ProbeOutcome::Failure("HTTP probe failed with statuscode: 404".into())
    );
    let closed = closed_port().await;
    assert_eq!(
        http_get("127.0.0.1", &http_action(closed, "/healthz"), &c, T).await,
        ProbeOutcome::Failure(format!("Get \"http://127.0.0.1:{closed}/healthz\": dial tcp 127.0.0.1:{closed}: connect: connection refused"))
    );
    assert_eq!(
        http_get("127.0.0.1", &http_action(port, "/slow"), &c, SHORT).await,
        ProbeOutcome::Failure(format!(
            "Get \"http://127.0.0.1:{port}/slow\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
        ))
    );
}

#[tokio::test]
async fn http_redirects() {
    let (port, mut rx) = http_server().await;
    let c = container();
    assert_eq!(http_get("127.0.0.1", &http_action(port, "/same"), &c, T).await, ProbeOutcome::Success);
    assert_eq!(rx.recv().await.unwrap().0, "/same");
    assert_eq!(rx.recv().await.unwrap().0, "/healthz");
    assert_eq!(http_get("127.0.0.1", &http_action(port, "/same-abs"), &c, T).await, ProbeOutcome::Success);
    assert_eq!(http_get("127.0.0.1", &http_action(port, "/a/b/rel"), &c, T).await, ProbeOutcome::Success);
    assert_eq!(
        http_get("127.0.0.1", &http_action(port, "/to-fail"), &c, T).await,
        ProbeOutcome::Failure("HTTP probe failed with statuscode: 500".into())
    );
    // Another host: not followed; a warning with the body.
    assert_eq!(
        http_get("127.0.0.1", &http_action(port, "/other"), &c, T).await,
        ProbeOutcome::Warning("Probe terminated redirects, Response body: moved elsewhere".into())
    );
    assert_eq!(
        http_get("127.0.0.1", &http_action(port, "/multiple"), &c, T).await,
        ProbeOutcome::Warning("Probe terminated redirects, Response body: choose".into())
    );
    assert_eq!(
        http_get("127.0.0.1", &http_action(port, "/loop"), &c, T).await,
        ProbeOutcome::Failure(format!("Get \"http://127.0.0.1:{port}/loop\": stopped after 10 redirects"))
    );
    while rx.try_recv().is_ok() {}
    // 10 requests were made for the loop: the first and 9 redirects.
    let _ = http_get("127.0.0.1", &http_action(port, "/loop"), &c, T).await;
    let mut n = 0;
    while rx.try_recv().is_ok() {
        n += 1;
    }
    assert_eq!(n, 10);
    assert_eq!(
        http_get("127.0.0.1", &http_action(port, "/ftp"), &c, T).await,
        ProbeOutcome::Failure("Get \"ftp://127.0.0.1/x\": unsupported protocol scheme \"ftp\"".into())
    );
    let (_, msg) = event(ProbeKind::Liveness, &ProbeOutcome::Warning("Probe terminated redirects, Response body: x".into())).unwrap();
    assert_eq!(msg, "Liveness probe warning: Probe terminated redirects, Response body: x");
}

#[test]
fn location_resolution() {
    let t = Target { https: false, host: "10.0.0.5".into(), port: 8080, path: "/a/b/c?x=1".into() };
    let r = |l: &str| t.resolve(l).map(|t| t.url());
    assert_eq!(r("/z"), Ok("http://10.0.0.5:8080/z".into()));
    assert_eq!(r("d"), Ok("http://10.0.0.5:8080/a/b/d".into()));
    assert_eq!(r("?y=2"), Ok("http://10.0.0.5:8080/a/b/c?y=2".into()));
    assert_eq!(r("https://10.0.0.5/s"), Ok("https://10.0.0.5:443/s".into()));
    assert_eq!(r("HTTP://other:81"), Ok("http://other:81".into()));
    assert_eq!(r("//h:9/p#frag"), Ok("http://h:9/p".into()));
    assert_eq!(r("http://[fd00::1]:82/v6"), Ok("http://[fd00::1]:82/v6".into()));
    assert_eq!(r("http://user@h/p"), Ok("http://h:80/p".into()));
    assert_eq!(r("gopher://x/"), Err("unsupported protocol scheme \"gopher\"".into()));
    assert_eq!(canonical_header("x-forwarded-FOR"), "X-Forwarded-For");
}

#[tokio::test]
async fn http_server_that_hangs_up() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            drop(s);
        }
    });
    assert_eq!(
        http_get("127.0.0.1", &http_action(port, "/"), &container(), T).await,
        ProbeOutcome::Failure(format!("Get \"http://127.0.0.1:{port}/\": EOF"))
    );
}

async fn https_server() -> u16 {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert = ck.cert.der().clone();
    let key = rustls::pki_types::PrivateKeyDer::try_from(ck.signing_key.serialize_der()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(s).await else { return };
                let svc = service_fn(|req: Request<Incoming>| async move {
                    Ok::<_, Infallible>(if req.uri().path() == "/secure" { respond(200, None, "") } else { respond(503, None, "") })
                });
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(tls), svc).await;
            });
        }
    });
    port
}

#[tokio::test]
async fn https_without_verification() {
    let port = https_server().await;
    let mut a = http_action(port, "/secure");
    a.scheme = Some("HTTPS".into());
    assert_eq!(http_get("127.0.0.1", &a, &container(), T).await, ProbeOutcome::Success);
    a.path = Some("/other".into());
    assert_eq!(http_get("127.0.0.1", &a, &container(), T).await, ProbeOutcome::Failure("HTTP probe failed with statuscode: 503".into()));
    // HTTPS to a plain HTTP server.
    let (plain, _rx) = http_server().await;
    let mut a = http_action(plain, "/healthz");
    a.scheme = Some("HTTPS".into());
    assert_eq!(
        http_get("127.0.0.1", &a, &container(), T).await,
        ProbeOutcome::Failure(format!("Get \"https://127.0.0.1:{plain}/healthz\": http: server gave HTTP response to HTTPS client"))
    );
}

// --- grpc -------------------------------------------------------------------------------

type GrpcBody = StreamBody<futures::stream::Iter<std::vec::IntoIter<Result<Frame<Bytes>, Infallible>>>>;

fn grpc_reply(status: Option<u64>, grpc_status: u32, message: &str) -> Response<GrpcBody> {
    let mut frames = Vec::new();
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", grpc_status.to_string().parse().unwrap());
    if !message.is_empty() {
        trailers.insert("grpc-message", message.replace(' ', "%20").parse().unwrap());
    }
    let mut builder = Response::builder().status(200).header("content-type", "application/grpc");
    match status {
        Some(s) => {
            let mut msg = vec![0x08];
            put_varint(&mut msg, s);
            let mut framed = vec![0];
            framed.extend_from_slice(&(msg.len() as u32).to_be_bytes());
            framed.extend_from_slice(&msg);
            frames.push(Ok(Frame::data(Bytes::from(framed))));
            frames.push(Ok(Frame::trailers(trailers)));
        }
        None => {
            // Trailers-only: the status rides in the headers.
            for (k, v) in trailers.iter() {
                builder = builder.header(k, v);
            }
        }
    }
    builder.body(StreamBody::new(futures::stream::iter(frames))).unwrap()
}

/// The `service` of a framed HealthCheckRequest.
fn requested_service(body: &[u8]) -> String {
    if body.len() < 7 || body[5] != 0x0a {
        return String::new();
    }
    let mut pos = 6;
    let len = get_varint(body, &mut pos).unwrap() as usize;
    String::from_utf8_lossy(&body[pos..pos + len]).into_owned()
}

/// A gRPC server over HTTP/2 cleartext: with `health`, the health service answers per
/// service name; without, every call is Unimplemented.
async fn grpc_server(health: bool) -> (u16, mpsc::UnboundedReceiver<HeaderMap>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req: Request<Incoming>| {
                    let tx = tx.clone();
                    async move {
                        let _ = tx.send(req.headers().clone());
                        let path = req.uri().path().to_string();
                        let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                        if !health || path != "/grpc.health.v1.Health/Check" {
                            return Ok::<_, Infallible>(grpc_reply(None, 12, "unknown service grpc.health.v1.Health"));
                        }
                        Ok(match requested_service(&body).as_str() {
                            "" => grpc_reply(Some(1), 0, ""),
                            "down" => grpc_reply(Some(2), 0, ""),
                            "unknown-status" => grpc_reply(Some(7), 0, ""),
                            "slow" => {
                                tokio::time::sleep(Duration::from_secs(5)).await;
                                grpc_reply(Some(1), 0, "")
                            }
                            "denied" => grpc_reply(None, 7, "not for you"),
                            _ => grpc_reply(None, 5, "unknown service"),
                        })
                    }
                });
                let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new()).serve_connection(TokioIo::new(s), svc).await;
            });
        }
    });
    (port, rx)
}

fn grpc_action(port: u16, service: &str) -> GRPCAction {
    GRPCAction { port: port.into(), service: (!service.is_empty()).then(|| service.to_string()) }
}

#[tokio::test]
async fn grpc_health_protocol() {
    let (port, mut rx) = grpc_server(true).await;
    assert_eq!(grpc("127.0.0.1", &grpc_action(port, ""), T).await, ProbeOutcome::Success);
    let h = rx.recv().await.unwrap();
    assert_eq!(h.get("content-type").unwrap(), "application/grpc");
    assert_eq!(h.get("te").unwrap(), "trailers");
    assert!(h.get("user-agent").unwrap().to_str().unwrap().starts_with("kube-probe/1.33"));
    assert_eq!(
        grpc("127.0.0.1", &grpc_action(port, "down"), T).await,
        ProbeOutcome::Failure("service unhealthy (responded with \"NOT_SERVING\")".into())
    );
    assert_eq!(
        grpc("127.0.0.1", &grpc_action(port, "unknown-status"), T).await,
        ProbeOutcome::Failure("service unhealthy (responded with \"7\")".into())
    );
    assert_eq!(
        grpc("127.0.0.1", &grpc_action(port, "other"), T).await,
        ProbeOutcome::Failure("error: health rpc probe failed: rpc error: code = NotFound desc = unknown service".into())
    );
    assert_eq!(
        grpc("127.0.0.1", &grpc_action(port, "denied"), T).await,
        ProbeOutcome::Failure("error: health rpc probe failed: rpc error: code = PermissionDenied desc = not for you".into())
    );
    assert_eq!(
        grpc("127.0.0.1", &grpc_action(port, "slow"), SHORT).await,
        ProbeOutcome::Failure("timeout: health rpc did not complete within 300ms".into())
    );
}

#[tokio::test]
async fn grpc_unimplemented_and_closed() {
    let (port, _rx) = grpc_server(false).await;
    assert_eq!(
        grpc("127.0.0.1", &grpc_action(port, ""), T).await,
        ProbeOutcome::Failure(
            "error: this server does not implement the grpc health protocol (grpc.health.v1.Health): unknown service grpc.health.v1.Health".into()
        )
    );
    let closed = closed_port().await;
    let started = std::time::Instant::now();
    assert_eq!(
        grpc("127.0.0.1", &grpc_action(closed, ""), SHORT).await,
        ProbeOutcome::Failure(format!("timeout: failed to connect service \"127.0.0.1:{closed}\" within 300ms: context deadline exceeded"))
    );
    // Like grpc-go's blocking dial, it kept trying until the timeout.
    assert!(started.elapsed() >= Duration::from_millis(250));
    assert_eq!(grpc("127.0.0.1", &GRPCAction { port: 0, service: None }, SHORT).await, ProbeOutcome::Error("invalid port number: 0".into()));
}

#[tokio::test]
async fn grpc_to_a_server_that_is_not_http2() {
    // An HTTP/1 server never completes the HTTP/2 handshake: connecting times out.
    let (port, _rx) = http_server().await;
    let _ = SocketAddr::from(([127, 0, 0, 1], port));
    assert_eq!(
        grpc("127.0.0.1", &grpc_action(port, ""), SHORT).await,
        ProbeOutcome::Failure(format!("timeout: failed to connect service \"127.0.0.1:{port}\" within 300ms: context deadline exceeded"))
    );
}

#[test]
fn health_messages_encode_and_decode() {
    assert_eq!(health_check_request(""), vec![0, 0, 0, 0, 0]);
    assert_eq!(health_check_request("ab"), vec![0, 0, 0, 0, 4, 0x0a, 2, b'a', b'b']);
    assert_eq!(parse_health_response(&[0, 0, 0, 0, 2, 0x08, 1]), Ok(1));
    assert_eq!(parse_health_response(&[0, 0, 0, 0, 0]), Ok(0));
    // Unknown fields are skipped.
    assert_eq!(parse_health_response(&[0, 0, 0, 0, 6, 0x12, 2, b'x', b'y', 0x08, 2]), Ok(2));
    assert!(parse_health_response(&[0, 0, 0]).is_err());
    assert!(parse_health_response(&[1, 0, 0, 0, 0]).is_err());
    assert!(parse_health_response(&[0, 0, 0, 0, 9, 0x08]).is_err());
}

// --- exec -------------------------------------------------------------------------------

#[test]
fn exec_results() {
    let argv = vec!["cat".to_string(), "/tmp/healthy".to_string()];
    assert_eq!(exec_outcome(&argv, Ok((0, "fine".into()))), ProbeOutcome::Success);
    let out = "cat: can't open '/tmp/healthy': No such file or directory\n".to_string();
    assert_eq!(exec_outcome(&argv, Ok((1, out.clone()))), ProbeOutcome::Failure(out.clone()));
    let (reason, msg) = event(ProbeKind::Liveness, &ProbeOutcome::Failure(out)).unwrap();
    assert_eq!(reason, "Unhealthy");
    assert_eq!(msg, "Liveness probe failed: cat: can't open '/tmp/healthy': No such file or directory\n");
    let long = "é".repeat(6000);
    match exec_outcome(&argv, Ok((2, long))) {
        ProbeOutcome::Failure(m) => assert!(m.len() <= 10 * 1024 && m.len() >= 10 * 1024 - 1),
        other => panic!("{other:?}"),
    }
    let sleep = vec!["sh".to_string(), "-c".to_string(), "sleep 5".to_string()];
    let timeout = exec_timeout_message(&sleep, Duration::from_secs(1));
    assert_eq!(timeout, "command timed out: \"sh -c sleep 5\" timed out after 1s");
    assert_eq!(exec_outcome(&sleep, Err(timeout.clone())), ProbeOutcome::Failure(timeout));
    assert_eq!(exec_outcome(&sleep, Err("no such container".into())), ProbeOutcome::Error("no such container".into()));
}

#[test]
fn event_and_kill_messages() {
    assert_eq!(event(ProbeKind::Readiness, &ProbeOutcome::Success), None);
    assert_eq!(
        event(ProbeKind::Startup, &ProbeOutcome::Failure("HTTP probe failed with statuscode: 500".into())),
        Some(("Unhealthy", "Startup probe failed: HTTP probe failed with statuscode: 500".to_string()))
    );
    assert_eq!(kill_message(ProbeKind::Liveness, "web", true).unwrap(), "Container web failed liveness probe, will be restarted");
    assert_eq!(kill_message(ProbeKind::Startup, "web", false).unwrap(), "Container web failed startup probe");
    assert_eq!(kill_message(ProbeKind::Readiness, "web", true), None);
}

// --- tracker ----------------------------------------------------------------------------

fn probe(success: Option<i32>, failure: Option<i32>) -> Probe {
    Probe { success_threshold: success, failure_threshold: failure, ..Default::default() }
}

const OK: ProbeOutcome = ProbeOutcome::Success;
fn bad() -> ProbeOutcome {
    ProbeOutcome::Failure("x".into())
}

#[test]
fn tracker_defaults() {
    let t = ProbeTracker::new(&Probe::default());
    assert_eq!(
        (t.initial_delay(), t.period(), t.timeout(), t.success_threshold(), t.failure_threshold()),
        (Duration::ZERO, Duration::from_secs(10), Duration::from_secs(1), 1, 3)
    );
    let t = ProbeTracker::new(&Probe {
        initial_delay_seconds: Some(5),
        period_seconds: Some(2),
        timeout_seconds: Some(3),
        success_threshold: Some(2),
        failure_threshold: Some(4),
        ..Default::default()
    });
    assert_eq!(
        (t.initial_delay(), t.period(), t.timeout(), t.success_threshold(), t.failure_threshold()),
        (Duration::from_secs(5), Duration::from_secs(2), Duration::from_secs(3), 2, 4)
    );
    assert!(!t.due(Duration::from_millis(4999)));
    assert!(t.due(Duration::from_secs(5)));
}

#[test]
fn readiness_thresholds() {
    let mut t = ProbeTracker::for_kind(ProbeKind::Readiness, &probe(Some(2), Some(3)));
    assert_eq!(t.state(), Some(false));
    assert_eq!(t.record(&OK), None);
    assert_eq!(t.record(&bad()), None);
    assert_eq!(t.record(&OK), None);
    assert_eq!(t.record(&OK), Some(true));
    assert_eq!(t.record(&OK), None);
    assert_eq!(t.record(&bad()), None);
    assert_eq!(t.record(&bad()), None);
    // Errors neither count nor break the run.
    assert_eq!(t.record(&ProbeOutcome::Error("e".into())), None);
    assert_eq!(t.record(&bad()), Some(false));
    assert_eq!(t.record(&bad()), None);
    assert!(!t.on_hold(), "readiness keeps probing");
    // A warning is a success.
    assert_eq!(t.record(&ProbeOutcome::Warning("w".into())), None);
    assert_eq!(t.record(&ProbeOutcome::Warning("w".into())), Some(true));
}

#[test]
fn liveness_fails_after_threshold_then_holds() {
    let mut t = ProbeTracker::for_kind(ProbeKind::Liveness, &probe(None, None));
    assert_eq!(t.state(), Some(true));
    assert_eq!(t.record(&OK), None);
    assert_eq!(t.record(&bad()), None);
    assert_eq!(t.record(&bad()), None);
    assert_eq!(t.record(&bad()), Some(false));
    assert!(t.on_hold());
    assert!(!t.due(Duration::from_secs(100)));
    assert_eq!(t.record(&bad()), None);
    t.new_container();
    assert_eq!(t.state(), Some(true));
    assert!(t.due(Duration::ZERO));
    assert_eq!(t.record(&bad()), None);
    assert_eq!(t.record(&bad()), None);
    assert_eq!(t.record(&bad()), Some(false));
}

#[test]
fn startup_succeeds_once_and_stops() {
    let mut t = ProbeTracker::for_kind(ProbeKind::Startup, &probe(Some(5), Some(2)));
    assert_eq!(t.state(), None);
    assert_eq!(t.record(&bad()), None);
    assert_eq!(t.record(&OK), Some(true), "success threshold is 1 for startup probes");
    assert_eq!(t.record(&bad()), None);
    assert_eq!(t.record(&bad()), None);
    assert_eq!(t.state(), Some(true));
    let mut t = ProbeTracker::for_kind(ProbeKind::Startup, &probe(None, Some(2)));
    assert_eq!(t.record(&bad()), None);
    assert_eq!(t.record(&bad()), Some(false));
    assert!(t.on_hold());
}

#[test]
fn kindless_tracker_reports_first_verdict_either_way() {
    let mut t = ProbeTracker::new(&probe(None, Some(2)));
    assert_eq!(t.state(), None);
    assert_eq!(t.record(&OK), Some(true));
    assert_eq!(t.record(&OK), None);
    assert_eq!(t.record(&bad()), None);
    assert_eq!(t.record(&bad()), Some(false));
    assert_eq!(t.record(&bad()), None);
    assert_eq!(t.record(&OK), Some(true));
    let mut t = ProbeTracker::new(&probe(None, Some(1)));
    assert_eq!(t.record(&bad()), Some(false));
}
