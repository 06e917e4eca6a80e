//! The push, over the OCI distribution spec, with the `oci-client` crate:
//!
//! 1. ping `GET /v2/` to choose the scheme: HTTPS (system trust store plus `--ca-cert`);
//!    for localhost, 127.0.0.0/8 and ::1, or with `--insecure`, plain HTTP when HTTPS
//!    does not answer (as Docker does for insecure registries);
//! 2. authenticate: `oci-client` follows the `WWW-Authenticate` challenge, Basic or
//!    Bearer (`realm`, `service`, scope `repository:<name>:pull,push`);
//! 3. every blob (configs, then layers): `HEAD` first, and only when the registry does not
//!    have it, a monolithic upload (`POST` → 202 + `Location`, `PUT ?digest=` → 201);
//! 4. the manifests: one image's manifest `PUT` to the tag; for several images, each
//!    manifest by digest, then the index to the tag. The tag moves last, so a push that
//!    fails part way leaves the tag as it was.
//!
//! `oci-client` does not retry, so each request is wrapped in a bounded retry
//! ([`Retry`]) for connection errors, 429 and 5xx. It has no index type of its own that
//! keeps our bytes, so manifests and the index go through `push_manifest_raw` with
//! their `Content-Type` (the digest printed is the sha256 of exactly those bytes).

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use oci_client::client::{Certificate, CertificateEncoding, ClientConfig, ClientProtocol};
use oci_client::errors::OciDistributionError;
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, RegistryOperation};

use super::auth::{self, Credentials};
use super::manifest::{index, MediaTypes, PushImage};
use super::RegistryError;
use crate::image::{Digest, Reference};

/// How often and how patiently to retry a request that failed for a reason that may
/// pass: a connection error, 429 Too Many Requests, or a 5xx.
#[derive(Clone, Copy, Debug)]
pub struct Retry {
    /// Tries in all (at least 1).
    pub attempts: u32,
    /// The wait before the second try; it doubles after each.
    pub first_delay: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            attempts: 4,
            first_delay: Duration::from_millis(250),
        }
    }
}

/// How to push.
#[derive(Clone, Debug, Default)]
pub struct PushOptions {
    pub media_types: MediaTypes,
    /// Credentials given on the command line; `None` looks in the Docker config.
    pub credentials: Option<Credentials>,
    /// PEM files of extra certificate authorities to trust.
    pub ca_certs: Vec<PathBuf>,
    /// Allow plain HTTP, and HTTPS with any certificate, for every registry.
    pub insecure: bool,
    pub retry: Retry,
}

/// What a push did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pushed {
    /// The digest the tag now points at (the manifest, or the index).
    pub digest: Digest,
    /// Blobs uploaded, and the bytes in them.
    pub uploaded: usize,
    pub uploaded_bytes: u64,
    /// Blobs the registry already had (HEAD answered 200).
    pub existing: usize,
    /// Manifests (and index) put.
    pub manifests: usize,
    /// What the registry stores for this image: every distinct blob, manifest and index.
    pub stored_bytes: u64,
}

/// Where a push goes.
struct Target {
    /// `host[:port]` as written (or `docker.io`), for messages and credentials.
    registry: String,
    /// The repository path on that registry (Docker Hub's `library/` added).
    repository: String,
    tag: String,
}

impl Target {
    fn new(reference: &Reference) -> Result<Target, RegistryError> {
        if reference.digest().is_some() {
            return Err(RegistryError::BadTarget {
                reference: reference.to_string(),
                reason: "a push goes to a tag, not a digest (drop the @sha256:…)".into(),
            });
        }
        let registry = reference.domain().unwrap_or("docker.io").to_string();
        let mut repository = reference.path().to_string();
        if auth::is_docker_hub(&registry) && !repository.contains('/') {
            repository = format!("library/{repository}");
        }
        Ok(Target {
            registry,
            repository,
            tag: reference.tag_or_latest().to_string(),
        })
    }

    fn with_tag(&self) -> oci_client::Reference {
        oci_client::Reference::with_tag(
            self.registry.clone(),
            self.repository.clone(),
            self.tag.clone(),
        )
    }

    fn with_digest(&self, d: &Digest) -> oci_client::Reference {
        oci_client::Reference::with_digest(
            self.registry.clone(),
            self.repository.clone(),
            d.to_string(),
        )
    }

    /// The host `oci-client` talks to (Docker Hub's API host for `docker.io`).
    fn api_host(&self) -> String {
        self.with_tag().resolve_registry().to_string()
    }
}

/// Whether Docker would talk plain HTTP to `host[:port]` without being told:
/// localhost, 127.0.0.0/8, ::1.
pub fn is_local(registry: &str) -> bool {
    let host = if let Some(rest) = registry.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else {
        registry.rsplit_once(':').map_or(registry, |(h, _)| h)
    };
    host == "localhost" || host == "::1" || host.starts_with("127.")
}

/// Pushes `images` (one: a manifest; several: one per platform and an index) to `target`.
pub fn push(
    images: &[PushImage],
    target: &Reference,
    options: &PushOptions,
) -> Result<Pushed, RegistryError> {
    assert!(!images.is_empty(), "a push holds at least one image");
    let target = Target::new(target)?;
    let certs = read_certs(&options.ca_certs)?;
    let credentials = match &options.credentials {
        Some(c) => Some(c.clone()),
        None => auth::lookup(&target.registry)?,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| RegistryError::Protocol {
            registry: target.registry.clone(),
            repository: target.repository.clone(),
            detail: format!("cannot start the I/O runtime: {e}"),
        })?;
    runtime.block_on(push_async(images, &target, options, certs, credentials))
}

fn read_certs(paths: &[PathBuf]) -> Result<Vec<Vec<u8>>, RegistryError> {
    paths
        .iter()
        .map(|path| {
            let err = |reason: String| RegistryError::CaCert {
                path: path.clone(),
                reason,
            };
            let pem = std::fs::read(path).map_err(|e| err(format!("cannot read it: {e}")))?;
            match reqwest::Certificate::from_pem_bundle(&pem) {
                Ok(c)
                    if !c.is_empty()
                        && pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") =>
                {
                    Ok(pem)
                }
                _ => Err(err(
                    "not a PEM certificate (-----BEGIN CERTIFICATE-----)".into()
                )),
            }
        })
        .collect()
}

/// Context for turning a failed request into a [`RegistryError`].
struct Ctx<'a> {
    target: &'a Target,
    media_types: MediaTypes,
    has_credentials: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    Auth,
    Blob,
    Manifest,
}

async fn push_async(
    images: &[PushImage],
    target: &Target,
    options: &PushOptions,
    certs: Vec<Vec<u8>>,
    credentials: Option<Credentials>,
) -> Result<Pushed, RegistryError> {
    let ctx = Ctx {
        target,
        media_types: options.media_types,
        has_credentials: credentials.is_some(),
    };
    let host = target.api_host();
    let scheme = choose_scheme(&host, &ctx, &certs, options).await?;
    let config = ClientConfig {
        protocol: if scheme == "http" {
            ClientProtocol::Http
        } else {
            ClientProtocol::Https
        },
        extra_root_certificates: certs
            .iter()
            .map(|pem| Certificate {
                encoding: CertificateEncoding::Pem,
                data: pem.clone(),
            })
            .collect(),
        accept_invalid_certificates: options.insecure,
        use_monolithic_push: true,
        connect_timeout: Some(Duration::from_secs(10)),
        read_timeout: Some(Duration::from_secs(120)),
        user_agent: concat!("smidge/", env!("CARGO_PKG_VERSION")),
        ..ClientConfig::default()
    };
    let client = Client::try_from(config).map_err(|e| RegistryError::Tls {
        registry: target.registry.clone(),
        detail: e.to_string(),
        hint: "check --ca-cert",
    })?;
    let registry_auth = match &credentials {
        Some(c) => RegistryAuth::Basic(c.username.clone(), c.password.clone()),
        None => RegistryAuth::Anonymous,
    };
    let tagged = target.with_tag();
    let retry = options.retry;
    with_retry(retry, || {
        client.auth(&tagged, &registry_auth, RegistryOperation::Push)
    })
    .await
    .map_err(|e| classify(e, &ctx, Stage::Auth))?;

    // Blobs: configs and layers, each distinct digest once, HEAD before upload.
    let mut pushed = Pushed {
        digest: Digest::of(b""),
        uploaded: 0,
        uploaded_bytes: 0,
        existing: 0,
        manifests: 0,
        stored_bytes: 0,
    };
    let mut done: Vec<Digest> = Vec::new();
    for image in images {
        let blobs = std::iter::once((&image.config_digest, &image.config))
            .chain(image.layers.iter().map(|l| (&l.digest, &l.bytes)));
        for (digest, bytes) in blobs {
            if done.contains(digest) {
                continue;
            }
            done.push(*digest);
            pushed.stored_bytes += bytes.len() as u64;
            let d = digest.to_string();
            let exists = with_retry(retry, || client.blob_exists(&tagged, &d))
                .await
                .map_err(|e| classify(e, &ctx, Stage::Blob))?;
            if exists {
                pushed.existing += 1;
                continue;
            }
            let data = bytes::Bytes::copy_from_slice(bytes);
            with_retry(retry, || client.push_blob(&tagged, data.clone(), &d))
                .await
                .map_err(|e| classify(e, &ctx, Stage::Blob))?;
            pushed.uploaded += 1;
            pushed.uploaded_bytes += bytes.len() as u64;
        }
    }

    // Manifests, then the index; the tag last.
    let types = options.media_types;
    let manifests: Vec<Vec<u8>> = images.iter().map(|i| i.manifest(types)).collect();
    let put = |reference: oci_client::Reference, body: Vec<u8>, media_type: &'static str| {
        let client = &client;
        async move {
            let body = bytes::Bytes::from(body);
            with_retry(retry, || {
                client.push_manifest_raw(
                    &reference,
                    body.clone(),
                    reqwest::header::HeaderValue::from_static(media_type),
                )
            })
            .await
        }
    };
    let top = if let [one] = &manifests[..] {
        put(tagged.clone(), one.clone(), types.manifest())
            .await
            .map_err(|e| classify(e, &ctx, Stage::Manifest))?;
        pushed.manifests += 1;
        pushed.stored_bytes += one.len() as u64;
        Digest::of(one)
    } else {
        let mut entries = Vec::new();
        for (image, m) in images.iter().zip(&manifests) {
            let d = Digest::of(m);
            put(target.with_digest(&d), m.clone(), types.manifest())
                .await
                .map_err(|e| classify(e, &ctx, Stage::Manifest))?;
            pushed.manifests += 1;
            pushed.stored_bytes += m.len() as u64;
            entries.push((m.as_slice(), image.platform()));
        }
        let idx = index(&entries, types);
        put(tagged.clone(), idx.clone(), types.index())
            .await
            .map_err(|e| classify(e, &ctx, Stage::Manifest))?;
        pushed.manifests += 1;
        pushed.stored_bytes += idx.len() as u64;
        Digest::of(&idx)
    };
    pushed.digest = top;
    Ok(pushed)
}

/// `GET /v2/` over HTTPS, or plain HTTP where that is allowed and HTTPS does not answer.
async fn choose_scheme(
    host: &str,
    ctx: &Ctx<'_>,
    certs: &[Vec<u8>],
    options: &PushOptions,
) -> Result<&'static str, RegistryError> {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .danger_accept_invalid_certs(options.insecure);
    let mut roots = Vec::new();
    for pem in certs {
        roots.extend(reqwest::Certificate::from_pem_bundle(pem).unwrap_or_default());
    }
    builder = builder.tls_certs_merge(roots);
    let client = builder.build().map_err(|e| RegistryError::Tls {
        registry: ctx.target.registry.clone(),
        detail: innermost(&e),
        hint: "check --ca-cert",
    })?;
    let ping = |scheme: &'static str| {
        let url = format!("{scheme}://{host}/v2/");
        let client = &client;
        async move {
            with_retry_if(
                options.retry,
                || client.get(&url).send(),
                |e: &reqwest::Error| e.is_connect() || e.is_timeout(),
            )
            .await
        }
    };
    let https = ping("https").await;
    let https_err = match https {
        Ok(_) => return Ok("https"),
        Err(e) => e,
    };
    let plain_allowed = options.insecure || is_local(&ctx.target.registry);
    let tls_failed = !https_err.is_connect() || is_tls(&https_err);
    if plain_allowed {
        match ping("http").await {
            Ok(resp) => {
                // Go's TLS server answers plain HTTP with 400 and this text.
                let speaks_tls = resp.status() == reqwest::StatusCode::BAD_REQUEST
                    && resp
                        .text()
                        .await
                        .unwrap_or_default()
                        .contains("HTTPS server");
                if !speaks_tls {
                    return Ok("http");
                }
            }
            Err(e) if !tls_failed => {
                return Err(RegistryError::Unreachable {
                    registry: ctx.target.registry.clone(),
                    detail: innermost(&e),
                })
            }
            Err(_) => {}
        }
    }
    if tls_failed || is_tls(&https_err) {
        return Err(RegistryError::Tls {
            registry: ctx.target.registry.clone(),
            detail: innermost(&https_err),
            hint: if plain_allowed {
                "pass the registry's CA with --ca-cert FILE"
            } else {
                "pass the registry's CA with --ca-cert FILE, or --insecure for a registry that speaks plain HTTP"
            },
        });
    }
    Err(RegistryError::Unreachable {
        registry: ctx.target.registry.clone(),
        detail: innermost(&https_err),
    })
}

fn is_tls(e: &reqwest::Error) -> bool {
    let mut text = String::new();
    let mut source: Option<&dyn std::error::Error> = Some(e);
    while let Some(s) = source {
        text.push_str(&s.to_string().to_lowercase());
        text.push(' ');
        source = s.source();
    }
    // rustls: "invalid peer certificate: …"; HTTPS to a plain-HTTP server: "received
    // corrupt message of type InvalidContentType".
    ["certificate", "tls", "handshake", "ssl", "corrupt message"]
        .iter()
        .any(|w| text.contains(w))
}

/// The innermost cause of an error (e.g. "Connection refused (os error 111)", "invalid
/// peer certificate: UnknownIssuer"), without URLs.
fn innermost(e: &(dyn std::error::Error + 'static)) -> String {
    let mut last = e;
    while let Some(s) = last.source() {
        last = s;
    }
    last.to_string()
}

async fn with_retry<T, F, Fut>(retry: Retry, op: F) -> Result<T, OciDistributionError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, OciDistributionError>>,
{
    with_retry_if(retry, op, transient).await
}

async fn with_retry_if<T, E, F, Fut>(
    retry: Retry,
    mut op: F,
    again: impl Fn(&E) -> bool,
) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut delay = retry.first_delay;
    let mut tries = 1;
    loop {
        match op().await {
            Err(e) if tries < retry.attempts.max(1) && again(&e) => {
                tokio::time::sleep(delay).await;
                delay *= 2;
                tries += 1;
            }
            other => return other,
        }
    }
}

/// The HTTP status an error carries, if any.
fn status(e: &OciDistributionError) -> Option<u16> {
    match e {
        OciDistributionError::RequestError(r) => r.status().map(|s| s.as_u16()),
        OciDistributionError::ServerError { code, .. } => Some(*code),
        OciDistributionError::UnauthorizedError { .. } => Some(401),
        OciDistributionError::AuthenticationFailure(_) => Some(401),
        _ => None,
    }
}

/// Worth another try: a connection error, 429 or 5xx.
fn transient(e: &OciDistributionError) -> bool {
    match e {
        OciDistributionError::RequestError(r) if r.status().is_none() => {
            r.is_connect() || r.is_timeout() || r.is_request() || r.is_body()
        }
        _ => matches!(status(e), Some(429 | 500..=599)),
    }
}

/// The registry's own words from an error body: `CODE: message` of the first error of a
/// distribution error envelope, else the body's first line (shortened).
fn registry_words(body: &str) -> String {
    #[derive(serde::Deserialize)]
    struct Envelope {
        errors: Vec<Item>,
    }
    #[derive(serde::Deserialize)]
    struct Item {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    if let Ok(env) = serde_json::from_str::<Envelope>(body) {
        if let Some(first) = env.errors.first() {
            return format!("{}: {}", first.code, first.message);
        }
    }
    let line = body.lines().next().unwrap_or("").trim();
    line.chars().take(200).collect()
}

fn classify(e: OciDistributionError, ctx: &Ctx<'_>, stage: Stage) -> RegistryError {
    let registry = ctx.target.registry.clone();
    let repository = ctx.target.repository.clone();
    let login =
        format!("log in with `docker login {registry}` or pass --username and --password-stdin");
    match status(&e) {
        Some(401) => {
            let (what, hint) = if ctx.has_credentials {
                (
                    "the credentials",
                    format!("check the user name and password (--username/--password-stdin or `docker login {registry}`)"),
                )
            } else {
                ("an anonymous push", login)
            };
            return RegistryError::Unauthorized {
                registry,
                repository,
                what,
                hint,
            };
        }
        Some(403) => {
            return RegistryError::Forbidden {
                registry,
                repository,
            }
        }
        Some(404) if stage != Stage::Manifest => {
            return RegistryError::NotFound {
                registry,
                repository,
            }
        }
        _ => {}
    }
    let detail = match &e {
        OciDistributionError::ServerError { code, message, .. } => {
            format!("HTTP {code}, {}", registry_words(message))
        }
        OciDistributionError::RegistryError { envelope, .. } => envelope
            .errors
            .first()
            .map(|x| x.message.clone())
            .unwrap_or_default(),
        OciDistributionError::RequestError(r) => {
            if r.status().is_none() && (r.is_connect() || r.is_timeout()) {
                return RegistryError::Unreachable {
                    registry,
                    detail: innermost(r),
                };
            }
            innermost(r)
        }
        other => other.to_string(),
    };
    if stage == Stage::Manifest && matches!(status(&e), Some(400 | 404 | 415)) {
        return RegistryError::ManifestRefused {
            registry,
            repository,
            detail,
            hint: match ctx.media_types {
                MediaTypes::Oci => {
                    "this registry may want Docker media types: try --media-types docker"
                }
                MediaTypes::Docker => "try the OCI media types (leave out --media-types docker)",
            },
        };
    }
    RegistryError::Protocol {
        registry,
        repository,
        detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_registries() {
        for r in [
            "localhost",
            "localhost:5000",
            "127.0.0.1:5000",
            "[::1]:5000",
            "127.1.2.3",
        ] {
            assert!(is_local(r), "{r}");
        }
        for r in [
            "docker.io",
            "r.example:5000",
            "10.0.0.1:5000",
            "localhost.example",
        ] {
            assert!(!is_local(r), "{r}");
        }
    }

    #[test]
    fn targets() {
        let t = Target::new(&"alpine".parse().unwrap()).unwrap();
        assert_eq!(
            (t.registry.as_str(), t.repository.as_str(), t.tag.as_str()),
            ("docker.io", "library/alpine", "latest")
        );
        let t = Target::new(&"127.0.0.1:5000/smidge/pause:1".parse().unwrap()).unwrap();
        assert_eq!(
            (t.registry.as_str(), t.repository.as_str(), t.tag.as_str()),
            ("127.0.0.1:5000", "smidge/pause", "1")
        );
        let d = format!("x.example/a@{}", Digest::of(b""));
        let e = Target::new(&d.parse().unwrap()).err().unwrap();
        assert!(e.is_usage());
    }

    #[test]
    fn registry_words_reads_the_error_envelope() {
        assert_eq!(
            registry_words(
                r#"{"errors":[{"code":"MANIFEST_INVALID","message":"manifest invalid","detail":{}}]}"#
            ),
            "MANIFEST_INVALID: manifest invalid"
        );
        assert_eq!(registry_words("oops\nmore"), "oops");
    }

    #[test]
    fn retries_are_bounded() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let mut calls = 0;
        let retry = Retry {
            attempts: 3,
            first_delay: Duration::from_millis(1),
        };
        let r: Result<(), u16> = rt.block_on(with_retry_if(
            retry,
            || {
                calls += 1;
                async { Err(503) }
            },
            |&c| c >= 500,
        ));
        assert_eq!((r, calls), (Err(503), 3));
        calls = 0;
        let r: Result<(), u16> = rt.block_on(with_retry_if(
            retry,
            || {
                calls += 1;
                async { Err(401) }
            },
            |&c| c >= 500,
        ));
        assert_eq!((r, calls), (Err(401), 1));
    }
}
