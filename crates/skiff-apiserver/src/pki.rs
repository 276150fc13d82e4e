//! The cluster's CA and the API server's serving certificate, made on first start and
//! kept in the data dir so that kubeconfigs stay valid across restarts.

use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};

use crate::ServerError;

pub struct Pki {
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
}

fn paths(dir: &Path) -> [PathBuf; 4] {
    let pki = dir.join("pki");
    [pki.join("ca.crt"), pki.join("ca.key"), pki.join("server.crt"), pki.join("server.key")]
}

/// Loads the certificates from `dir/pki`, or creates them with these subject names.
pub fn load_or_create(dir: &Path, sans: &[String]) -> Result<Pki, ServerError> {
    let [ca_crt, ca_key, crt, key] = paths(dir);
    if ca_crt.exists() && crt.exists() && key.exists() {
        return Ok(Pki { ca_pem: read(&ca_crt)?, cert_pem: read(&crt)?, key_pem: read(&key)? });
    }
    let tls = |e: rcgen::Error| ServerError::Tls(e.to_string());
    let ca_keypair = KeyPair::generate().map_err(tls)?;
    let ca_params = ca_params().map_err(tls)?;
    let ca_cert = ca_params.self_signed(&ca_keypair).map_err(tls)?;
    let issuer = Issuer::from_params(&ca_params, &ca_keypair);

    let server_keypair = KeyPair::generate().map_err(tls)?;
    let mut params = CertificateParams::new(sans.to_vec()).map_err(tls)?;
    params.distinguished_name.push(DnType::CommonName, "skiff-apiserver");
    params.not_after = rcgen::date_time_ymd(2036, 1, 1);
    let cert = params.signed_by(&server_keypair, &issuer).map_err(tls)?;

    std::fs::create_dir_all(dir.join("pki")).map_err(|e| ServerError::Io(format!("{}: {e}", dir.display())))?;
    let pki = Pki { ca_pem: ca_cert.pem(), cert_pem: cert.pem(), key_pem: server_keypair.serialize_pem() };
    write_private(&ca_key, &ca_keypair.serialize_pem())?;
    write_private(&key, &pki.key_pem)?;
    std::fs::write(&crt, &pki.cert_pem).map_err(|e| ServerError::Io(format!("{}: {e}", crt.display())))?;
    // The CA certificate last: its presence marks a complete set.
    std::fs::write(&ca_crt, &pki.ca_pem).map_err(|e| ServerError::Io(format!("{}: {e}", ca_crt.display())))?;
    Ok(pki)
}

/// The CA's parameters: what it was made with, and what signs with it later.
fn ca_params() -> Result<CertificateParams, rcgen::Error> {
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, "skiff-ca");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    ca_params.not_after = rcgen::date_time_ymd(2036, 1, 1);
    Ok(ca_params)
}

/// The user the API server is when it calls node agents (logs, exec, stats): agents let
/// this certificate subject in and no other.
pub const KUBELET_CLIENT_USER: &str = "skiff:apiserver";

/// The API server's client certificate for calling node agents, as PEM (certificate, key):
/// `pki/apiserver-kubelet-client.{crt,key}`, signed by the cluster CA on first use.
pub fn kubelet_client(dir: &Path) -> Result<(String, String), ServerError> {
    let pki = dir.join("pki");
    let (crt, key) = (pki.join("apiserver-kubelet-client.crt"), pki.join("apiserver-kubelet-client.key"));
    if let (Ok(c), Ok(k)) = (std::fs::read_to_string(&crt), std::fs::read_to_string(&key)) {
        return Ok((c, k));
    }
    let tls = |e: rcgen::Error| ServerError::Tls(e.to_string());
    let ca_key = KeyPair::from_pem(&read(&pki.join("ca.key"))?).map_err(tls)?;
    let ca_params = ca_params().map_err(tls)?;
    let issuer = Issuer::from_params(&ca_params, &ca_key);
    let keypair = KeyPair::generate().map_err(tls)?;
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(tls)?;
    params.distinguished_name.push(DnType::OrganizationName, "system:masters");
    params.distinguished_name.push(DnType::CommonName, KUBELET_CLIENT_USER);
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    params.not_after = rcgen::date_time_ymd(2036, 1, 1);
    let cert = params.signed_by(&keypair, &issuer).map_err(tls)?;
    write_private(&key, &keypair.serialize_pem())?;
    std::fs::write(&crt, cert.pem()).map_err(|e| ServerError::Io(format!("{}: {e}", crt.display())))?;
    Ok((cert.pem(), keypair.serialize_pem()))
}

fn read(p: &Path) -> Result<String, ServerError> {
    std::fs::read_to_string(p).map_err(|e| ServerError::Io(format!("{}: {e}", p.display())))
}

/// Writes a secret readable by its owner only.
pub fn write_private(p: &Path, content: &str) -> Result<(), ServerError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(p)
        .map_err(|e| ServerError::Io(format!("{}: {e}", p.display())))?;
    f.write_all(content.as_bytes()).map_err(|e| ServerError::Io(format!("{}: {e}", p.display())))
}

pub fn rustls_config(pki: &Pki) -> Result<rustls::ServerConfig, ServerError> {
    let certs: Vec<_> = rustls_pemfile::certs(&mut pki.cert_pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| ServerError::Tls(e.to_string()))?;
    let key = rustls_pemfile::private_key(&mut pki.key_pem.as_bytes())
        .map_err(|e| ServerError::Tls(e.to_string()))?
        .ok_or_else(|| ServerError::Tls("no private key in server.key".into()))?;
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ServerError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| ServerError::Tls(e.to_string()))?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(cfg)
}
