//! Calls from the API server to node agents (the kubelet API): TLS with the API server's
//! client certificate (`pki::kubelet_client`), without checking the agent's self-signed
//! serving certificate, as kube-apiserver does by default. The agent is found at the
//! Node's InternalIP (else its Hostname or ExternalIP) and
//! `status.daemonEndpoints.kubeletEndpoint.Port`.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Empty;
use hyper::body::Incoming;
use hyper::{HeaderMap, Method, Request, Response};
use hyper_util::rt::TokioIo;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use serde_json::Value;

use crate::ServerError;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Where a node's agent listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
}

impl Endpoint {
    /// Reads the address and port a Node publishes.
    pub fn of_node(node: &Value) -> Result<Endpoint, String> {
        let name = node.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("");
        let addresses = node.pointer("/status/addresses").and_then(Value::as_array).cloned().unwrap_or_default();
        let find = |t: &str| addresses.iter().find(|a| a["type"] == t).and_then(|a| a["address"].as_str()).filter(|a| !a.is_empty()).map(str::to_string);
        let host = find("InternalIP")
            .or_else(|| find("Hostname"))
            .or_else(|| find("ExternalIP"))
            .ok_or_else(|| format!("no preferred addresses found; known addresses: [] for node {name:?}"))?;
        let port = node.pointer("/status/daemonEndpoints/kubeletEndpoint/Port").and_then(Value::as_u64).unwrap_or(0);
        if port == 0 || port > u64::from(u16::MAX) {
            return Err(format!("node {name:?} publishes no kubelet port (status.daemonEndpoints.kubeletEndpoint.Port)"));
        }
        Ok(Endpoint { host, port: port as u16 })
    }

    /// `https://host:port` (brackets around IPv6), for messages.
    pub fn url(&self) -> String {
        if self.host.contains(':') {
            format!("https://[{}]:{}", self.host, self.port)
        } else {
            format!("https://{}:{}", self.host, self.port)
        }
    }

    fn authority(&self) -> String {
        self.url().trim_start_matches("https://").to_string()
    }
}

/// Accepts any server certificate (agents serve self-signed ones); signatures are still
/// checked so that the handshake itself is sound.
#[derive(Debug)]
struct AnyServerCert(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyServerCert {
    fn verify_server_cert(&self, _: &CertificateDer<'_>, _: &[CertificateDer<'_>], _: &ServerName<'_>, _: &[u8], _: UnixTime) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(&self, message: &[u8], cert: &CertificateDer<'_>, dss: &DigitallySignedStruct) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }
    fn verify_tls13_signature(&self, message: &[u8], cert: &CertificateDer<'_>, dss: &DigitallySignedStruct) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A client for node agents.
#[derive(Clone)]
pub struct KubeletClient {
    tls: tokio_rustls::TlsConnector,
}

impl KubeletClient {
    /// With the client certificate and key (PEM) the API server presents to agents.
    pub fn new(cert_pem: &str, key_pem: &str) -> Result<KubeletClient, ServerError> {
        let tls = |e: &dyn std::fmt::Display| ServerError::Tls(e.to_string());
        let certs: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut cert_pem.as_bytes()).collect::<Result<_, _>>().map_err(|e| tls(&e))?;
        let key = rustls_pemfile::private_key(&mut key_pem.as_bytes()).map_err(|e| tls(&e))?.ok_or_else(|| ServerError::Tls("no kubelet client key".into()))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut cfg = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| tls(&e))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyServerCert(provider)))
            .with_client_auth_cert(certs, key)
            .map_err(|e| tls(&e))?;
        cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(KubeletClient { tls: tokio_rustls::TlsConnector::from(Arc::new(cfg)) })
    }

    /// Sends one request to an agent on a new connection. `upgrade` keeps the connection
    /// usable for a protocol switch (exec).
    pub async fn request(&self, ep: &Endpoint, method: Method, path_and_query: &str, headers: &HeaderMap, upgrade: bool) -> Result<Response<Incoming>, RequestError> {
        let url = format!("{}{path_and_query}", ep.url());
        let verb = {
            let m = method.as_str();
            let mut c = m.chars();
            c.next().map(|f| f.to_string() + &c.as_str().to_lowercase()).unwrap_or_default()
        };
        let fail = |cause: String| RequestError { request: format!("{verb} {url:?}"), cause };
        let addr = ep.authority();
        let tcp = match tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(&addr)).await {
            Ok(Ok(t)) => t,
            Ok(Err(e)) => return Err(fail(format!("dial tcp {addr}: connect: {}", lower_first(&e.to_string())))),
            Err(_) => return Err(fail(format!("dial tcp {addr}: i/o timeout"))),
        };
        let _ = tcp.set_nodelay(true);
        let name = ServerName::try_from(ep.host.clone()).map_err(|e| fail(e.to_string()))?;
        let stream = match tokio::time::timeout(CONNECT_TIMEOUT, self.tls.connect(name, tcp)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return Err(fail(format!("remote error: tls: {e}"))),
            Err(_) => return Err(fail("net/http: TLS handshake timeout".into())),
        };
        let (mut sender, conn) = hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(TokioIo::new(stream)).await.map_err(|e| fail(e.to_string()))?;
        if upgrade {
            tokio::spawn(async move {
                let _ = conn.with_upgrades().await;
            });
        } else {
            tokio::spawn(async move {
                let _ = conn.await;
            });
        }
        let mut req = Request::builder().method(method).uri(path_and_query).header(hyper::header::HOST, addr.as_str());
        for (k, v) in headers {
            req = req.header(k, v);
        }
        let req = req.body(Empty::new()).map_err(|e| fail(e.to_string()))?;
        sender.send_request(req).await.map_err(|e| fail(e.to_string()))
    }
}

/// A call to an agent that failed: `Get "https://…": dial tcp …: connect: connection refused`.
#[derive(Debug, Clone)]
pub struct RequestError {
    pub request: String,
    pub cause: String,
}

impl std::fmt::Display for RequestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.request, self.cause)
    }
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_lowercase().collect::<String>() + c.as_str()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn endpoints_of_nodes() {
        let node = json!({"metadata": {"name": "n1"}, "status": {
            "addresses": [{"type": "Hostname", "address": "n1"}, {"type": "InternalIP", "address": "10.0.0.5"}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}}}});
        let ep = Endpoint::of_node(&node).expect("endpoint");
        assert_eq!(ep, Endpoint { host: "10.0.0.5".into(), port: 10250 });
        assert_eq!(ep.url(), "https://10.0.0.5:10250");
        let v6 = Endpoint { host: "::1".into(), port: 1 };
        assert_eq!(v6.url(), "https://[::1]:1");
        let no_port = json!({"metadata": {"name": "n1"}, "status": {"addresses": [{"type": "Hostname", "address": "n1"}]}});
        assert!(Endpoint::of_node(&no_port).unwrap_err().contains("no kubelet port"));
        assert!(Endpoint::of_node(&json!({"metadata": {"name": "n1"}})).is_err());
    }
}
