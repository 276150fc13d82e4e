//! The agent's kubelet API with a fake Backend: authentication, logs (tail, follow,
//! errors), exec over the websocket protocol (streams, stdin close, exit codes, TTY and
//! resize, errors) and stats, first called directly and then through the API server by
//! the real kubectl (logs, exec, top).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Empty};
use skiff_agent::server::{self, Backend, ContainerUsage, PodUsage};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

const LOG: &str = "\
2024-05-01T10:00:00.5Z stdout F hello from web
2024-05-01T10:00:01Z stderr F a warning
2024-05-01T10:00:02Z stdout P to be 
2024-05-01T10:00:02.25Z stdout F continued
";

struct Fake {
    dir: PathBuf,
    running: AtomicBool,
}

impl Fake {
    fn log(&self, container: &str, attempt: u32) -> PathBuf {
        self.dir.join(format!("{container}-{attempt}.log"))
    }
}

impl Backend for Fake {
    fn log_path(&self, namespace: &str, pod: &str, container: &str, previous: bool) -> Result<PathBuf, String> {
        match (namespace, pod, container, previous) {
            ("default", "web" | "two", c, false) => Ok(self.log(c, 1)),
            ("default", "web", "app", true) => Ok(self.log("app", 0)),
            ("default", "web", c, true) => Err(format!("previous terminated container {c:?} in pod \"web\" not found")),
            (_, pod, c, _) => Err(format!("container {c:?} in pod {pod:?} is waiting to start: ContainerCreating")),
        }
    }

    fn attempt_running(&self, _: &str, _: &str, _: &str, _: &Path) -> bool {
        self.running.load(Ordering::SeqCst)
    }

    fn exec_command(&self, _: &str, pod: &str, container: &str, argv: &[String]) -> Result<Command, String> {
        if pod != "web" && pod != "two" {
            return Err(format!("container not found ({container:?})"));
        }
        let mut c = Command::new(&argv[0]);
        c.args(&argv[1..]).env("POD", pod).current_dir(&self.dir);
        Ok(c)
    }

    fn usage(&self) -> Vec<PodUsage> {
        // A quarter of a core, whenever it is sampled.
        let elapsed = START.get_or_init(Instant::now).elapsed().as_nanos() as u64;
        vec![PodUsage {
            namespace: "default".into(),
            name: "web".into(),
            containers: vec![ContainerUsage { name: "app".into(), cpu_usage_ns: elapsed / 4, memory_working_set_bytes: 5 << 20 }],
        }]
    }
}

static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

/// A CA and client certificates it signed.
struct Pki {
    ca_der: Vec<u8>,
    apiserver: (String, String),
    intruder: (String, String),
}

fn pki() -> Pki {
    let ca_key = rcgen::KeyPair::generate().expect("key");
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name.push(rcgen::DnType::CommonName, "test-ca");
    ca.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign, rcgen::KeyUsagePurpose::DigitalSignature];
    let ca_cert = ca.self_signed(&ca_key).expect("ca");
    let issuer = rcgen::Issuer::from_params(&ca, &ca_key);
    let client = |cn: &str| {
        let key = rcgen::KeyPair::generate().expect("key");
        let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        p.distinguished_name.push(rcgen::DnType::CommonName, cn);
        p.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        (p.signed_by(&key, &issuer).expect("cert").pem(), key.serialize_pem())
    };
    Pki { ca_der: ca_cert.der().to_vec(), apiserver: client(server::APISERVER_USER), intruder: client("intruder") }
}

#[derive(Debug)]
struct AnyCert;
impl rustls::client::danger::ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(&self, _: &[u8], _: &rustls::pki_types::CertificateDer<'_>, _: &rustls::DigitallySignedStruct) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }
    fn verify_tls13_signature(&self, _: &[u8], _: &rustls::pki_types::CertificateDer<'_>, _: &rustls::DigitallySignedStruct) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        rustls::crypto::ring::default_provider().signature_verification_algorithms.supported_schemes()
    }
}

fn pem_der(pem: &str, label: &str) -> Vec<u8> {
    use base64::Engine;
    let body: String = pem.lines().skip_while(|l| !l.starts_with("-----BEGIN") || !l.contains(label)).skip(1).take_while(|l| !l.starts_with("-----END")).collect();
    base64::engine::general_purpose::STANDARD.decode(body).expect("pem")
}

async fn connect(port: u16, identity: Option<&(String, String)>) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let b = rustls::ClientConfig::builder_with_provider(provider).with_safe_default_protocol_versions().expect("tls").dangerous().with_custom_certificate_verifier(Arc::new(AnyCert));
    let cfg = match identity {
        Some((cert, key)) => b
            .with_client_auth_cert(
                vec![rustls::pki_types::CertificateDer::from(pem_der(cert, "CERTIFICATE"))],
                rustls::pki_types::PrivateKeyDer::try_from(pem_der(key, "PRIVATE KEY")).expect("key"),
            )
            .expect("client cert"),
        None => b.with_no_client_auth(),
    };
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.expect("connect");
    tokio_rustls::TlsConnector::from(Arc::new(cfg)).connect(rustls::pki_types::ServerName::try_from("localhost").expect("name"), tcp).await.expect("tls")
}

async fn get(port: u16, identity: Option<&(String, String)>, path: &str) -> hyper::Response<hyper::body::Incoming> {
    let stream = connect(port, identity).await;
    let (mut sender, conn) = hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(hyper_util::rt::TokioIo::new(stream)).await.expect("handshake");
    tokio::spawn(conn);
    let req = hyper::Request::get(path).header("host", "localhost").body(Empty::new()).expect("request");
    sender.send_request(req).await.expect("response")
}

async fn body_text(resp: hyper::Response<hyper::body::Incoming>) -> String {
    String::from_utf8(resp.into_body().collect().await.expect("body").to_bytes().to_vec()).expect("utf8")
}

async fn setup() -> (tempfile::TempDir, Arc<Fake>, Pki, u16) {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("app-1.log"), LOG).expect("log");
    std::fs::write(dir.path().join("app-0.log"), "2024-05-01T09:00:00Z stdout F the attempt before\n").expect("log");
    std::fs::write(dir.path().join("b-1.log"), "2024-05-01T09:00:00Z stdout F from b\n").expect("log");
    let fake = Arc::new(Fake { dir: dir.path().to_path_buf(), running: AtomicBool::new(false) });
    let pki = pki();
    let port = server::start(&dir.path().join("agent"), vec![pki.ca_der.clone()], fake.clone()).await.expect("server");
    (dir, fake, pki, port)
}

#[tokio::test]
async fn only_the_api_server_gets_in() {
    let (_dir, _fake, pki, port) = setup().await;
    let anon = get(port, None, "/containerLogs/default/web/app").await;
    assert_eq!(anon.status(), 401);
    let intruder = get(port, Some(&pki.intruder), "/containerLogs/default/web/app").await;
    assert_eq!(intruder.status(), 403);
    assert_eq!(body_text(intruder).await.trim(), "Forbidden (user=intruder, verb=get, resource=nodes, subresource(s)=[proxy])");
    assert_eq!(get(port, Some(&pki.apiserver), "/nothing/here").await.status(), 404);
    assert_eq!(get(port, None, "/healthz").await.status(), 200);
}

#[tokio::test]
async fn logs() {
    let (dir, fake, pki, port) = setup().await;
    let id = Some(&pki.apiserver);
    let all = get(port, id, "/containerLogs/default/web/app").await;
    assert_eq!(all.status(), 200);
    assert_eq!(body_text(all).await, "hello from web\na warning\nto be continued\n");
    let tail = body_text(get(port, id, "/containerLogs/default/web/app?tailLines=2&timestamps=true").await).await;
    assert_eq!(tail, "2024-05-01T10:00:02Z to be continued\n");
    assert_eq!(body_text(get(port, id, "/containerLogs/default/web/app?previous=true").await).await, "the attempt before\n");
    let since = body_text(get(port, id, "/containerLogs/default/web/app?sinceTime=2024-05-01T10%3A00%3A01Z&limitBytes=12").await).await;
    assert_eq!(since, "a warning\nto");
    let waiting = get(port, id, "/containerLogs/default/creating/app").await;
    assert_eq!(waiting.status(), 400);
    assert_eq!(body_text(waiting).await.trim(), "container \"app\" in pod \"creating\" is waiting to start: ContainerCreating");
    assert_eq!(get(port, id, "/containerLogs/default/web/app?tailLines=x").await.status(), 400);

    // follow: new records come as they are written, and the stream ends with the attempt.
    fake.running.store(true, Ordering::SeqCst);
    let resp = get(port, id, "/containerLogs/default/web/app?follow=true&tailLines=1").await;
    let mut body = resp.into_body();
    let first = body.frame().await.expect("frame").expect("data").into_data().expect("data");
    // tailLines counts records, as the kubelet's does: the last one ends a partial line.
    assert_eq!(first, Bytes::from_static(b"continued\n"));
    {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new().append(true).open(dir.path().join("app-1.log")).expect("open");
        f.write_all(b"2024-05-01T10:00:03Z stdout F more\n").expect("append");
    }
    let next = tokio::time::timeout(Duration::from_secs(5), body.frame()).await.expect("in time").expect("frame").expect("data").into_data().expect("data");
    assert_eq!(next, Bytes::from_static(b"more\n"));
    fake.running.store(false, Ordering::SeqCst);
    let end = tokio::time::timeout(Duration::from_secs(5), body.collect()).await.expect("stream ends").expect("body");
    assert!(end.to_bytes().is_empty());
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>;

async fn exec_ws(port: u16, identity: &(String, String), query: &str, protocol: &str) -> Result<Ws, String> {
    let stream = connect(port, Some(identity)).await;
    let req = tokio_tungstenite::tungstenite::http::Request::get(format!("wss://localhost/exec/default/web/app?{query}"))
        .header("host", "localhost")
        .header("connection", "Upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", tokio_tungstenite::tungstenite::handshake::client::generate_key())
        .header("sec-websocket-protocol", protocol)
        .body(())
        .expect("request");
    match tokio_tungstenite::client_async(req, stream).await {
        Ok((ws, resp)) => {
            assert_eq!(resp.headers().get("sec-websocket-protocol").and_then(|v| v.to_str().ok()), Some(protocol.split(',').next().unwrap_or("").trim()));
            Ok(ws)
        }
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            Err(format!("{} {}", resp.status().as_u16(), String::from_utf8_lossy(resp.body().as_deref().unwrap_or_default()).trim()))
        }
        Err(e) => Err(e.to_string()),
    }
}

/// Reads until the server closes: (stdout, stderr, error channel, close code).
async fn drain(ws: &mut Ws) -> (Vec<u8>, Vec<u8>, Vec<u8>, Option<CloseCode>) {
    let (mut out, mut err, mut status, mut close) = (Vec::new(), Vec::new(), Vec::new(), None);
    while let Ok(Some(msg)) = tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
        match msg {
            Ok(Message::Binary(b)) if !b.is_empty() => match b[0] {
                1 => out.extend_from_slice(&b[1..]),
                2 => err.extend_from_slice(&b[1..]),
                3 => status.extend_from_slice(&b[1..]),
                _ => {}
            },
            Ok(Message::Close(f)) => close = f.map(|f| f.code),
            Ok(_) => {}
            Err(_) => break,
        }
    }
    (out, err, status, close)
}

#[tokio::test]
async fn exec_streams_and_exit_codes() {
    let (_dir, _fake, pki, port) = setup().await;
    let id = &pki.apiserver;
    let mut ws = exec_ws(port, id, "command=sh&command=-c&command=cat%3B%20echo%20oops%20%3E%262%3B%20exit%203&input=1&output=1&error=1", "v5.channel.k8s.io").await.expect("upgrade");
    // The streams are up once an empty stdout message comes.
    assert_eq!(ws.next().await.expect("message").expect("ok"), Message::Binary(Bytes::from_static(&[1])));
    ws.send(Message::Binary(Bytes::from_static(b"\x00hello "))).await.expect("stdin");
    ws.send(Message::Binary(Bytes::from_static(b"\x00world"))).await.expect("stdin");
    ws.send(Message::Binary(Bytes::from_static(&[255, 0]))).await.expect("close stdin");
    let (out, err, status, close) = drain(&mut ws).await;
    assert_eq!(out, b"hello world");
    assert_eq!(err, b"oops\n");
    let status: serde_json::Value = serde_json::from_slice(&status).expect("status json");
    assert_eq!(status["reason"], "NonZeroExitCode");
    assert_eq!(status["details"]["causes"][0], serde_json::json!({"reason": "ExitCode", "message": "3"}));
    assert_eq!(close, Some(CloseCode::Normal));

    // v4: success is a Success status.
    let mut ws = exec_ws(port, id, "command=sh&command=-c&command=echo%20%24POD&output=1", "v4.channel.k8s.io").await.expect("upgrade");
    let (out, _, status, close) = drain(&mut ws).await;
    assert_eq!(out, b"web\n");
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&status).expect("json"), serde_json::json!({"metadata": {}, "status": "Success"}));
    assert_eq!(close, Some(CloseCode::Normal));

    // A command that cannot start: an internal error on the error channel.
    let mut ws = exec_ws(port, id, "command=no-such-command-here&output=1", "v5.channel.k8s.io").await.expect("upgrade");
    let (_, _, status, _) = drain(&mut ws).await;
    let status: serde_json::Value = serde_json::from_slice(&status).expect("json");
    assert_eq!(status["message"], "Internal error occurred: error executing command in container: exec: \"no-such-command-here\": executable file not found in $PATH");

    // Refusals before the upgrade are plain text, worded as the kubelet's.
    let e = exec_ws(port, id, "command=true&output=1", "v5.channel.k8s.io").await;
    assert!(e.is_ok());
    let stream = connect(port, Some(id)).await;
    let req = tokio_tungstenite::tungstenite::http::Request::get("wss://localhost/exec/default/gone/app?command=true&output=1")
        .header("host", "localhost")
        .header("connection", "Upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", tokio_tungstenite::tungstenite::handshake::client::generate_key())
        .header("sec-websocket-protocol", "v5.channel.k8s.io")
        .body(())
        .expect("request");
    match tokio_tungstenite::client_async(req, stream).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            assert_eq!(resp.status().as_u16(), 500);
            assert_eq!(String::from_utf8_lossy(resp.body().as_deref().unwrap_or_default()).trim(), "container not found (\"app\")");
        }
        other => panic!("expected a refusal, got {:?}", other.map(|_| ())),
    }
    let e = exec_ws(port, id, "command=true", "v5.channel.k8s.io").await.unwrap_err();
    assert_eq!(e, "400 you must specify at least 1 of stdin, stdout, stderr");
    let e = exec_ws(port, id, "command=true&output=1", "v9.channel.k8s.io").await.unwrap_err();
    assert!(e.starts_with("400 requested protocol(s) are not supported"), "{e}");
}

#[tokio::test]
async fn attach_follows_the_output() {
    let (dir, fake, pki, port) = setup().await;
    fake.running.store(true, Ordering::SeqCst);
    let stream = connect(port, Some(&pki.apiserver)).await;
    let req = tokio_tungstenite::tungstenite::http::Request::get("wss://localhost/attach/default/web/app?output=1&error=1")
        .header("host", "localhost")
        .header("connection", "Upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", tokio_tungstenite::tungstenite::handshake::client::generate_key())
        .header("sec-websocket-protocol", "v5.channel.k8s.io")
        .body(())
        .expect("request");
    let (mut ws, _) = tokio_tungstenite::client_async(req, stream).await.expect("upgrade");
    assert_eq!(ws.next().await.expect("message").expect("ok"), Message::Binary(Bytes::from_static(&[1])));
    tokio::time::sleep(Duration::from_millis(300)).await;
    {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new().append(true).open(dir.path().join("app-1.log")).expect("open");
        f.write_all(b"2024-05-01T10:00:03Z stdout F now\n2024-05-01T10:00:03Z stderr F and an error\n").expect("append");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    fake.running.store(false, Ordering::SeqCst);
    let (out, err, status, close) = drain(&mut ws).await;
    assert_eq!(out, b"now\n", "only what came after attaching");
    assert_eq!(err, b"and an error\n");
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&status).expect("json")["status"], "Success");
    assert_eq!(close, Some(CloseCode::Normal));
    // No stdin or terminal to attach to.
    let resp = get(port, Some(&pki.apiserver), "/attach/default/web/app?input=1&output=1").await;
    assert_eq!(resp.status(), 400);
}

#[tokio::test]
async fn exec_with_a_terminal() {
    let (_dir, _fake, pki, port) = setup().await;
    let mut ws = exec_ws(port, &pki.apiserver, "command=sh&command=-c&command=read%20x%3B%20stty%20size%3B%20test%20-t%200%20%26%26%20echo%20is-a-tty%3B%20exit%205&input=1&output=1&error=1&tty=1", "v5.channel.k8s.io")
        .await
        .expect("upgrade");
    ws.send(Message::Binary(Bytes::from(b"\x04{\"Width\":100,\"Height\":40}".to_vec()))).await.expect("resize");
    // Give the resize a moment to land before the command reads its size.
    tokio::time::sleep(Duration::from_millis(200)).await;
    ws.send(Message::Binary(Bytes::from_static(b"\x00go\r"))).await.expect("stdin");
    let (out, err, status, close) = drain(&mut ws).await;
    let out = String::from_utf8_lossy(&out);
    assert!(out.contains("40 100"), "{out:?}");
    assert!(out.contains("is-a-tty"), "{out:?}");
    assert!(err.is_empty(), "a terminal has one output stream");
    let status: serde_json::Value = serde_json::from_slice(&status).expect("json");
    assert_eq!(status["details"]["causes"][0]["message"], "5");
    assert_eq!(close, Some(CloseCode::Normal));
}

#[tokio::test]
async fn stats_summary() {
    let (_dir, _fake, pki, port) = setup().await;
    // The first sample is taken at start; a rate needs the next one at least ~1 s later.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let resp = get(port, Some(&pki.apiserver), "/stats/summary").await;
    assert_eq!(resp.status(), 200);
    let s: serde_json::Value = serde_json::from_str(&body_text(resp).await).expect("json");
    assert!(s["node"]["cpu"]["usageNanoCores"].is_u64(), "{s}");
    assert!(s["node"]["memory"]["workingSetBytes"].as_u64().is_some_and(|m| m > 0), "{s}");
    let web = &s["pods"][0];
    assert_eq!(web["podRef"]["name"], "web");
    let rate = web["containers"][0]["cpu"]["usageNanoCores"].as_u64().expect("rate");
    assert!((200_000_000..=300_000_000).contains(&rate), "about a quarter of a core: {rate}");
    assert_eq!(web["containers"][0]["memory"]["workingSetBytes"], 5 << 20);
}

// --- Through the API server, with the real kubectl -------------------------------------

struct Kubectl {
    kubeconfig: PathBuf,
    home: PathBuf,
}

impl Kubectl {
    fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        use std::io::Write;
        let mut child = Command::new("kubectl")
            .args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("HOME", &self.home)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kubectl");
        if let Some(s) = stdin {
            child.stdin.take().expect("stdin").write_all(s.as_bytes()).expect("write");
        }
        drop(child.stdin.take());
        child.wait_with_output().expect("kubectl output")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args, None);
        assert!(out.status.success(), "kubectl {args:?}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args, None);
        assert!(!out.status.success(), "kubectl {args:?} should fail: {}", String::from_utf8_lossy(&out.stdout));
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    fn apply(&self, yaml: &str) {
        let out = self.run(&["apply", "-f", "-"], Some(yaml));
        assert!(out.status.success(), "apply: {}", String::from_utf8_lossy(&out.stderr));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_through_the_api_server() {
    let (dir, fake, _pki, _) = setup().await;
    let api = skiff_apiserver::start(skiff_apiserver::Config {
        data_dir: dir.path().join("api"),
        listen: "127.0.0.1:0".parse().expect("addr"),
        store: skiff_apiserver::StoreKind::Memory,
        store_options: Default::default(),
    })
    .await
    .expect("api server");
    let ca_pem = std::fs::read_to_string(dir.path().join("api/pki/ca.crt")).expect("ca");
    let port = server::start(&dir.path().join("agent2"), vec![pem_der(&ca_pem, "CERTIFICATE")], fake.clone()).await.expect("agent server");
    let k = Kubectl { kubeconfig: api.kubeconfig.clone(), home: dir.path().to_path_buf() };
    let k = Arc::new(k);
    let run = |f: Box<dyn FnOnce(&Kubectl) + Send>| {
        let k = k.clone();
        tokio::task::spawn_blocking(move || f(&k))
    };
    run(Box::new(move |k| {
        k.apply("apiVersion: v1\nkind: Node\nmetadata: {name: n1, labels: {tier: test}}\n");
        let status = format!(
            r#"{{"status":{{"addresses":[{{"type":"InternalIP","address":"127.0.0.1"}}],"daemonEndpoints":{{"kubeletEndpoint":{{"Port":{port}}}}},"capacity":{{"cpu":"4","memory":"8Gi"}},"allocatable":{{"cpu":"4","memory":"8Gi"}}}}}}"#
        );
        k.ok(&["patch", "node", "n1", "--subresource=status", "--type=merge", "-p", &status]);
        k.apply("apiVersion: v1\nkind: Pod\nmetadata: {name: web, labels: {app: web}}\nspec:\n  nodeName: n1\n  containers: [{name: app, image: x}]\n");
        k.apply("apiVersion: v1\nkind: Pod\nmetadata: {name: two}\nspec:\n  nodeName: n1\n  containers: [{name: app, image: x}, {name: b, image: x}]\n");
        k.apply("apiVersion: v1\nkind: Pod\nmetadata: {name: creating}\nspec:\n  nodeName: n1\n  containers: [{name: app, image: x}]\n");
        k.apply("apiVersion: v1\nkind: Pod\nmetadata: {name: unscheduled}\nspec:\n  containers: [{name: app, image: x}]\n");
        // A node whose agent is not there.
        k.apply("apiVersion: v1\nkind: Node\nmetadata: {name: n2}\n");
        let gone = r#"{"status":{"addresses":[{"type":"InternalIP","address":"127.0.0.1"}],"daemonEndpoints":{"kubeletEndpoint":{"Port":1}}}}"#;
        k.ok(&["patch", "node", "n2", "--subresource=status", "--type=merge", "-p", gone]);
        k.apply("apiVersion: v1\nkind: Pod\nmetadata: {name: far}\nspec:\n  nodeName: n2\n  containers: [{name: app, image: x}]\n");
        for pod in ["web", "two", "far"] {
            k.ok(&["patch", "pod", pod, "--subresource=status", "--type=merge", "-p", r#"{"status":{"phase":"Running"}}"#]);
        }
    }))
    .await
    .expect("setup");

    run(Box::new(|k| {
        // logs
        assert_eq!(k.ok(&["logs", "web"]), "hello from web\na warning\nto be continued\n");
        assert_eq!(k.ok(&["logs", "web", "--tail=2"]), "to be continued\n");
        assert_eq!(k.ok(&["logs", "web", "--tail=1", "--timestamps"]), "2024-05-01T10:00:02.25Z continued\n");
        assert_eq!(k.ok(&["logs", "web", "-c", "app", "--previous"]), "the attempt before\n");
        assert_eq!(k.ok(&["logs", "web", "-f", "--since-time=2024-05-01T10:00:01Z"]), "a warning\nto be continued\n");
        assert_eq!(k.ok(&["logs", "web", "--limit-bytes=5"]), "hello");
        assert_eq!(k.ok(&["logs", "two", "-c", "b"]), "from b\n");
        let out = k.run(&["logs", "two"], None);
        assert!(String::from_utf8_lossy(&out.stderr).contains("Defaulted container \"app\" out of: app, b"), "{}", String::from_utf8_lossy(&out.stderr));
        let e = k.fails(&["logs", "creating"]);
        assert_eq!(e.trim(), "Error from server (BadRequest): container \"app\" in pod \"creating\" is waiting to start: ContainerCreating");
        let e = k.fails(&["logs", "web", "--previous", "-c", "app", "--tail=-5"]);
        assert!(!e.is_empty());
        let e = k.fails(&["logs", "web", "-c", "nope"]);
        assert!(e.contains("container nope is not valid for pod web"), "{e}");
        let e = k.fails(&["logs", "ghost"]);
        assert!(e.contains("pods \"ghost\" not found"), "{e}");
        assert_eq!(k.ok(&["logs", "unscheduled"]), "");
        let e = k.fails(&["logs", "far"]);
        assert!(e.contains("Get \"https://127.0.0.1:1/containerLogs/default/far/app") && e.contains("connection refused"), "{e}");

        // exec
        let out = k.run(&["exec", "web", "--", "sh", "-c", "echo out; echo err >&2; exit 3"], None);
        assert_eq!(out.status.code(), Some(3), "{out:?}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "out\n");
        assert!(String::from_utf8_lossy(&out.stderr).starts_with("err\ncommand terminated with exit code 3"), "{}", String::from_utf8_lossy(&out.stderr));
        let out = k.run(&["exec", "-i", "web", "--", "sh", "-c", "tr a-z A-Z"], Some("shout\n"));
        assert!(out.status.success(), "{out:?}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "SHOUT\n");
        let e = k.fails(&["exec", "unscheduled", "--", "true"]);
        assert!(e.contains("pod unscheduled does not have a host assigned"), "{e}");
        let e = k.fails(&["exec", "far", "--", "true"]);
        assert!(e.contains("error dialing backend: dial tcp 127.0.0.1:1: connect: connection refused"), "{e}");
        let e = k.fails(&["exec", "creating", "--", "true"]);
        assert!(e.contains("container not found (\"app\")"), "{e}");
        // -it, with a terminal for kubectl from script(1).
        let cmd = "kubectl exec -it web -- sh -c 'test -t 0 && echo has-a-tty; stty size'";
        let out = Command::new("script")
            .args(["-qec", cmd, "/dev/null"])
            .env("KUBECONFIG", &k.kubeconfig)
            .env("HOME", &k.home)
            .stdin(Stdio::null())
            .output()
            .expect("script");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{text} {}", String::from_utf8_lossy(&out.stderr));
        assert!(text.contains("has-a-tty"), "{text}");
    }))
    .await
    .expect("logs and exec");

    // attach follows the output from now until the container ends.
    let fake2 = fake.clone();
    let log = dir.path().join("app-1.log");
    run(Box::new(move |k| {
        fake2.running.store(true, Ordering::SeqCst);
        let child = Command::new("kubectl")
            .args(["attach", "web"])
            .env("KUBECONFIG", &k.kubeconfig)
            .env("HOME", &k.home)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kubectl attach");
        std::thread::sleep(Duration::from_millis(1500));
        {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new().append(true).open(&log).expect("open");
            f.write_all(b"2024-05-01T10:00:09Z stdout F attached\n").expect("append");
        }
        std::thread::sleep(Duration::from_millis(500));
        fake2.running.store(false, Ordering::SeqCst);
        let out = child.wait_with_output().expect("attach output");
        assert!(out.status.success(), "{out:?}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "attached\n");
    }))
    .await
    .expect("attach");

    run(Box::new(|k| {
        // top: the agent needs two samples; kubectl says "metrics not available yet" until then.
        let deadline = Instant::now() + Duration::from_secs(20);
        let nodes = loop {
            let out = k.run(&["top", "node"], None);
            if out.status.success() {
                break String::from_utf8_lossy(&out.stdout).into_owned();
            }
            assert!(Instant::now() < deadline, "top node: {}", String::from_utf8_lossy(&out.stderr));
            std::thread::sleep(Duration::from_millis(300));
        };
        assert!(nodes.starts_with("NAME"), "{nodes}");
        assert!(nodes.lines().any(|l| l.starts_with("n1 ")), "{nodes}");
        let pods = k.ok(&["top", "pod"]);
        let line = pods.lines().find(|l| l.starts_with("web ")).unwrap_or_else(|| panic!("{pods}"));
        assert!(line.contains("5Mi"), "{pods}");
        let cpu: u64 = line.split_whitespace().nth(1).and_then(|c| c.strip_suffix('m')).and_then(|c| c.parse().ok()).expect("millicores");
        assert!((200..=300).contains(&cpu), "{pods}");
        let containers = k.ok(&["top", "pod", "web", "--containers"]);
        assert!(containers.lines().any(|l| l.starts_with("web ") && l.contains(" app ")), "{containers}");
        let all = k.ok(&["top", "pod", "-A", "-l", "app=web"]);
        assert!(all.contains("default") && all.contains("web"), "{all}");
        let e = k.fails(&["top", "pod", "two"]);
        assert!(e.contains("podmetrics.metrics.k8s.io \"default/two\" not found") || e.contains("Metrics not available for pod default/two"), "{e}");
        let out = k.run(&["top", "pod", "-l", "app=nothing"], None);
        assert!(String::from_utf8_lossy(&out.stderr).contains("No resources found in default namespace."), "{out:?}");
        let raw = k.ok(&["get", "--raw", "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/web"]);
        let m: serde_json::Value = serde_json::from_str(&raw).expect("json");
        assert_eq!(m["kind"], "PodMetrics");
        assert_eq!(m["containers"][0]["usage"]["memory"], "5Mi");
        let resources = k.ok(&["api-resources", "--api-group=metrics.k8s.io"]);
        assert!(resources.contains("PodMetrics") && resources.contains("NodeMetrics"), "{resources}");
    }))
    .await
    .expect("top");
}
