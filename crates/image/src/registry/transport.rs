//! How smidge reaches a registry (issue #13): one `reqwest` client per registry with a
//! TLS configuration of our own, so that it trusts what docker trusts.
//!
//! - **Roots**: the system's, plus `--ca-cert` files, plus `*.crt` in the registry's
//!   directory of `certs.d` (`/etc/docker/certs.d/HOST[:PORT]/`,
//!   `/etc/containers/certs.d/HOST[:PORT]/`; `SMIDGE_CERTS_D=dir1:dir2` replaces that list).
//! - **A trusted certificate is trusted as itself**: a server certificate whose DER is
//!   exactly one of those files' certificates is accepted even when it says `CA:TRUE`
//!   (what `openssl req -x509` makes, and what Docker's registry documentation uses),
//!   as Go's crypto/tls and OpenSSL accept it; webpki alone refuses it with
//!   `CaUsedAsEndEntity`. The name (host or IP) is still checked against the certificate,
//!   and the handshake signature is still verified with the certificate's key.
//! - **Client certificate** (mutual TLS): `NAME.cert` with `NAME.key` in that directory,
//!   as `docker push` reads them.
//! - **Proxies**: `HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY` (and their lower-case forms),
//!   except for `localhost` and loopback addresses, which Go's `ProxyFromEnvironment`
//!   (docker, crane) never sends through a proxy.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use super::{RegistryError, TlsCause};

/// The directories searched for `HOST[:PORT]/` when `SMIDGE_CERTS_D` is not set.
pub const DEFAULT_CERTS_D: [&str; 2] = ["/etc/docker/certs.d", "/etc/containers/certs.d"];

/// The environment variable that replaces [`DEFAULT_CERTS_D`] (`:`-separated).
pub const CERTS_D_ENV: &str = "SMIDGE_CERTS_D";

/// What to trust and present for one registry.
#[derive(Clone, Debug, Default)]
pub struct TlsOptions {
    /// `--ca-cert` files (PEM).
    pub ca_certs: Vec<PathBuf>,
    /// Accept any server certificate (`--insecure`).
    pub insecure: bool,
}

/// The certificates found for one registry.
struct Trust {
    /// Extra roots, also trusted as server certificates themselves.
    roots: Vec<CertificateDer<'static>>,
    /// `NAME.cert` + `NAME.key` from certs.d.
    client: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
}

/// The certs.d directories, in order.
pub fn certs_d_dirs() -> Vec<PathBuf> {
    match std::env::var_os(CERTS_D_ENV) {
        Some(v) => std::env::split_paths(&v)
            .filter(|p| !p.as_os_str().is_empty())
            .collect(),
        None => DEFAULT_CERTS_D.iter().map(PathBuf::from).collect(),
    }
}

fn pem_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let pem = std::fs::read(path).map_err(|e| format!("cannot read it: {}", e.kind()))?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<_, _>>()
        .map_err(|_| "not a PEM certificate (-----BEGIN CERTIFICATE-----)".to_string())?;
    if certs.is_empty() {
        return Err("not a PEM certificate (-----BEGIN CERTIFICATE-----)".into());
    }
    Ok(certs)
}

fn load_trust(registry: &str, options: &TlsOptions) -> Result<Trust, RegistryError> {
    let mut roots = Vec::new();
    for path in &options.ca_certs {
        roots.extend(pem_certs(path).map_err(|reason| RegistryError::CaCert {
            path: path.clone(),
            reason,
        })?);
    }
    let mut client = None;
    let bad = |path: &Path, reason: String| RegistryError::CertsD {
        registry: registry.to_string(),
        path: path.to_path_buf(),
        reason,
    };
    for base in certs_d_dirs() {
        let dir = base.join(registry);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut names: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        names.sort();
        for path in &names {
            match path.extension().and_then(|e| e.to_str()) {
                Some("crt") => roots.extend(pem_certs(path).map_err(|r| bad(path, r))?),
                Some("cert") => {
                    let key = path.with_extension("key");
                    if !key.exists() {
                        return Err(bad(path, format!("missing key {}", key.display())));
                    }
                    if client.is_some() {
                        continue;
                    }
                    let chain = pem_certs(path).map_err(|r| bad(path, r))?;
                    let pem = std::fs::read(&key)
                        .map_err(|e| bad(&key, format!("cannot read it: {}", e.kind())))?;
                    let key_der = PrivateKeyDer::from_pem_slice(&pem)
                        .map_err(|_| bad(&key, "not a PEM private key".into()))?;
                    client = Some((chain, key_der));
                }
                Some("key") => {
                    let cert = path.with_extension("cert");
                    if !cert.exists() {
                        return Err(bad(
                            path,
                            format!("missing client certificate {}", cert.display()),
                        ));
                    }
                }
                _ => {}
            }
        }
    }
    Ok(Trust { roots, client })
}

/// Whether Go's proxy rules (docker, crane) bypass any proxy for `registry`
/// (`host[:port]`): `localhost` and loopback addresses.
pub fn bypasses_proxy(registry: &str) -> bool {
    let host = if let Some(rest) = registry.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else {
        registry.rsplit_once(':').map_or(registry, |(h, _)| h)
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A client for `registry` that trusts and presents what [`TlsOptions`] and certs.d say.
pub fn client(
    registry: &str,
    options: &TlsOptions,
    timeout: Option<Duration>,
) -> Result<reqwest::Client, RegistryError> {
    let trust = load_trust(registry, options)?;
    let tls_err = |detail: String| RegistryError::Tls {
        registry: registry.to_string(),
        detail,
        cause: TlsCause::Setup,
    };
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier: Arc<dyn ServerCertVerifier> = if options.insecure {
        Arc::new(AnyCertificate(provider.clone()))
    } else {
        let inner = rustls_platform_verifier::Verifier::new_with_extra_roots(
            trust.roots.clone(),
            provider.clone(),
        )
        .map_err(|e| tls_err(e.to_string()))?;
        Arc::new(TrustedOrWebPki {
            trusted: trust.roots,
            inner,
            provider: provider.clone(),
        })
    };
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_err(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let tls = match trust.client {
        Some((chain, key)) => builder
            .with_client_auth_cert(chain, key)
            .map_err(|e| tls_err(format!("client certificate: {e}")))?,
        None => builder.with_no_client_auth(),
    };
    let mut http = reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .connect_timeout(Duration::from_secs(10))
        .read_timeout(Duration::from_secs(120))
        .user_agent(concat!("smidge/", env!("CARGO_PKG_VERSION")));
    if let Some(t) = timeout {
        http = http.timeout(t);
    }
    if bypasses_proxy(registry) {
        http = http.no_proxy();
    }
    http.build().map_err(|e| tls_err(e.to_string()))
}

/// A server certificate that is exactly a trusted one is accepted as it is (name and
/// handshake signature still checked); any other goes to the platform's verifier.
#[derive(Debug)]
struct TrustedOrWebPki {
    trusted: Vec<CertificateDer<'static>>,
    inner: rustls_platform_verifier::Verifier,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for TrustedOrWebPki {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if self
            .trusted
            .iter()
            .any(|c| c.as_ref() == end_entity.as_ref())
        {
            let parsed = rustls::server::ParsedCertificate::try_from(end_entity)?;
            rustls::client::verify_server_name(&parsed, server_name)?;
            return Ok(ServerCertVerified::assertion());
        }
        // A self-signed certificate that is not trusted: webpki calls that
        // CaUsedAsEndEntity, which reads like a fault of the certificate; it is one of
        // trust, as for any unknown issuer.
        self.inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            .map_err(|e| match e {
                rustls::Error::InvalidCertificate(rustls::CertificateError::Other(ref o))
                    if format!("{o:?}").contains("CaUsedAsEndEntity") =>
                {
                    rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer)
                }
                e => e,
            })
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// `--insecure`: any certificate (the handshake signature is still checked, so the
/// connection is at least with the holder of the certificate shown).
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_registries_bypass_proxies() {
        for r in [
            "localhost:5000",
            "127.0.0.1:5000",
            "[::1]:5000",
            "LOCALHOST",
        ] {
            assert!(bypasses_proxy(r), "{r}");
        }
        for r in ["vm:5000", "r.example", "10.0.0.1:5000", "localhost.example"] {
            assert!(!bypasses_proxy(r), "{r}");
        }
    }
}
