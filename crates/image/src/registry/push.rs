//! The push, over the OCI distribution spec, with the `oci-client` crate:
//!
//! 1. ping `GET /v2/` to choose the scheme: HTTPS (system trust store plus `--ca-cert`);
//!    for localhost, 127.0.0.0/8 and ::1, or with `--insecure`, plain HTTP when HTTPS
//!    does not answer (as Docker does for insecure registries);
//! 2. authenticate: `oci-client` follows the `WWW-Authenticate` challenge, Basic or
//!    Bearer (`realm`, `service`, scope `repository:<name>:pull,push`);
//! 3. every blob (layers, then the config): `HEAD` first, and only when the registry does
//!    not have it, a monolithic upload streamed from a file (`POST` → 202 + `Location`,
//!    `PUT ?digest=` with the body → 201), its digest checked as it is read;
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

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::auth::{self, Credentials};
use super::RegistryError;
use crate::codec::Compression;
use crate::dest::Destination;
use crate::image::document::{Descriptor, Document, Style};
use crate::image::{Digest, Image, Layer, MediaTypes, Reference};
use crate::progress::Progress;

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
    /// How layers that are not compressed yet are compressed (gzip or zstd; none is
    /// taken as gzip: registries store uncompressed layers big, or refuse them).
    pub layer_compression: Compression,
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

/// A registry as a [`Destination`]: every blob is checked with `HEAD` and uploaded only
/// when it is missing, streamed from its file (a stored blob, or a layer compressed into a
/// temporary spool file first) with its digest verified as it goes; manifests go by
/// digest and the tag moves last (the single image's manifest, or the index).
pub struct Registry {
    runtime: tokio::runtime::Runtime,
    client: Client,
    target: Target,
    tagged: oci_client::Reference,
    media_types: MediaTypes,
    has_credentials: bool,
    retry: Retry,
    layer_compression: Compression,
    done: Vec<Digest>,
    pushed: Pushed,
}

/// Layers up to this size (uncompressed) are compressed in memory; larger ones into a
/// temporary file, so memory stays flat whatever the image size.
const IN_MEMORY_LAYER: u64 = 1 << 20;

/// The piece of a blob read and sent at a time.
const CHUNK: usize = 1 << 20;

impl Registry {
    /// Whether `reference` can be pushed to (a tag, not a digest), without any I/O.
    pub fn check(reference: &Reference) -> Result<(), RegistryError> {
        Target::new(reference).map(drop)
    }

    /// Finds the credentials, chooses HTTPS or HTTP, and authenticates for a push to
    /// `reference` (a tag, not a digest).
    pub fn connect(
        reference: &Reference,
        options: &PushOptions,
    ) -> Result<Registry, RegistryError> {
        let target = Target::new(reference)?;
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
        let ctx = Ctx {
            target: &target,
            media_types: options.media_types,
            has_credentials: credentials.is_some(),
        };
        let client = runtime.block_on(async {
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
            with_retry(options.retry, || {
                client.auth(&tagged, &registry_auth, RegistryOperation::Push)
            })
            .await
            .map_err(|e| classify(e, &ctx, Stage::Auth))?;
            Ok::<_, RegistryError>(client)
        })?;
        Ok(Registry {
            runtime,
            client,
            tagged: target.with_tag(),
            has_credentials: ctx.has_credentials,
            target,
            media_types: options.media_types,
            retry: options.retry,
            layer_compression: match options.layer_compression {
                Compression::None => Compression::Gzip,
                c => c,
            },
            done: Vec::new(),
            pushed: Pushed {
                digest: Digest::of(b""),
                uploaded: 0,
                uploaded_bytes: 0,
                existing: 0,
                manifests: 0,
                stored_bytes: 0,
            },
        })
    }

    /// What the push did (complete after [`crate::dest::write`] returns).
    pub fn pushed(&self) -> &Pushed {
        &self.pushed
    }

    fn ctx(&self) -> Ctx<'_> {
        Ctx {
            target: &self.target,
            media_types: self.media_types,
            has_credentials: self.has_credentials,
        }
    }

    /// `HEAD`, then an upload of `blob` unless the registry has it.
    fn put_blob(
        &mut self,
        digest: Digest,
        size: u64,
        blob: Upload<'_>,
        progress: &dyn Progress,
    ) -> Result<(), RegistryError> {
        if self.done.contains(&digest) {
            return Ok(());
        }
        self.done.push(digest);
        self.pushed.stored_bytes += size;
        let d = digest.to_string();
        let (client, tagged, retry) = (&self.client, &self.tagged, self.retry);
        let ctx = Ctx {
            target: &self.target,
            media_types: self.media_types,
            has_credentials: self.has_credentials,
        };
        let exists = self
            .runtime
            .block_on(with_retry(retry, || client.blob_exists(tagged, &d)))
            .map_err(|e| classify(e, &ctx, Stage::Blob))?;
        if exists {
            self.pushed.existing += 1;
            return Ok(());
        }
        progress.start(&format!("blob {}", &d[..19]), size);
        let sent = Arc::new(AtomicU64::new(0));
        let upload = async {
            match &blob {
                Upload::Bytes(bytes) => {
                    let data = bytes::Bytes::copy_from_slice(bytes);
                    with_retry(retry, || client.push_blob(tagged, data.clone(), &d)).await
                }
                Upload::File(region) => {
                    with_retry(retry, || {
                        sent.store(0, Ordering::Relaxed);
                        let stream = file_stream(region.clone(), digest, sent.clone());
                        client.push_blob_stream(tagged, stream, &d, Some(size))
                    })
                    .await
                }
            }
        };
        // The upload and a ticker that tells `progress` how far it is, on one thread.
        let result = self.runtime.block_on(async {
            let mut upload = std::pin::pin!(upload);
            let mut told = 0;
            loop {
                let tick = tokio::time::sleep(Duration::from_millis(100));
                tokio::select! {
                    r = &mut upload => {
                        progress.advance(size.saturating_sub(told));
                        break r;
                    }
                    () = tick => {
                        let now = sent.load(Ordering::Relaxed).min(size);
                        if now > told {
                            progress.advance(now - told);
                            told = now;
                        }
                    }
                }
            }
        });
        progress.finish();
        result.map_err(|e| classify(e, &ctx, Stage::Blob))?;
        self.pushed.uploaded += 1;
        self.pushed.uploaded_bytes += size;
        Ok(())
    }

    fn put_document(
        &mut self,
        reference: oci_client::Reference,
        doc: &Document,
    ) -> Result<(), RegistryError> {
        let body = bytes::Bytes::from(doc.bytes.clone());
        let (client, retry) = (&self.client, self.retry);
        let media_type = doc.media_type;
        self.runtime
            .block_on(with_retry(retry, || {
                client.push_manifest_raw(
                    &reference,
                    body.clone(),
                    reqwest::header::HeaderValue::from_static(media_type),
                )
            }))
            .map_err(|e| classify(e, &self.ctx(), Stage::Manifest))?;
        self.pushed.manifests += 1;
        self.pushed.stored_bytes += doc.bytes.len() as u64;
        Ok(())
    }
}

/// What an upload reads from.
enum Upload<'a> {
    Bytes(&'a [u8]),
    File(FileRegion),
}

/// `size` bytes at `offset` of `path`.
#[derive(Clone)]
struct FileRegion {
    path: PathBuf,
    offset: u64,
    size: u64,
}

/// The bytes of `region` as a stream of [`CHUNK`]s, hashed as they go: if they do not
/// hash to `digest`, the stream ends in an error and the upload is abandoned.
fn file_stream(
    region: FileRegion,
    digest: Digest,
    sent: Arc<AtomicU64>,
) -> impl futures_util::Stream<Item = oci_client::errors::Result<bytes::Bytes>> + Send + 'static {
    use sha2::Digest as _;
    enum State {
        Start(FileRegion),
        Reading(std::io::Take<std::fs::File>, sha2::Sha256),
        Done,
    }
    let fail = |detail: String| OciDistributionError::GenericError(Some(detail));
    futures_util::stream::unfold(State::Start(region.clone()), move |state| {
        let sent = sent.clone();
        let region = region.clone();
        async move {
            let (mut r, mut hash) = match state {
                State::Done => return None,
                State::Start(reg) => {
                    use std::io::{Seek, SeekFrom};
                    let opened = std::fs::File::open(&reg.path)
                        .and_then(|mut f| f.seek(SeekFrom::Start(reg.offset)).map(|_| f));
                    match opened {
                        Ok(f) => (std::io::Read::take(f, reg.size), sha2::Sha256::new()),
                        Err(e) => {
                            return Some((
                                Err(fail(format!("cannot read {}: {e}", reg.path.display()))),
                                State::Done,
                            ))
                        }
                    }
                }
                State::Reading(r, h) => (r, h),
            };
            let mut buf = vec![0u8; CHUNK];
            let mut n = 0;
            while n < CHUNK {
                match std::io::Read::read(&mut r, &mut buf[n..]) {
                    Ok(0) => break,
                    Ok(k) => n += k,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        return Some((
                            Err(fail(format!("cannot read {}: {e}", region.path.display()))),
                            State::Done,
                        ))
                    }
                }
            }
            if n == 0 {
                let got = Digest::from_bytes(hash.finalize().into());
                if got != digest {
                    return Some((
                        Err(fail(format!(
                            "{} does not match its digest {digest} (it changed, or the source is corrupt)",
                            region.path.display()
                        ))),
                        State::Done,
                    ));
                }
                return None;
            }
            buf.truncate(n);
            hash.update(&buf);
            sent.fetch_add(n as u64, Ordering::Relaxed);
            Some((Ok(bytes::Bytes::from(buf)), State::Reading(r, hash)))
        }
    })
}

impl Destination for Registry {
    fn style(&self) -> Style {
        Style::registry(self.media_types)
    }

    /// A layer already compressed (gzip or zstd) in its source is pushed as it is; any
    /// other is compressed (gzip unless asked otherwise) by the one compressor every path
    /// uses, so the digest is the one an OCI layout or archive of the same image gets.
    fn put_layer(&mut self, layer: &Layer, progress: &dyn Progress) -> crate::Result<Descriptor> {
        let style = self.style();
        if let Some(b) = layer.stored_blob() {
            if b.compression != Compression::None {
                let region = FileRegion {
                    path: b.path.clone(),
                    offset: b.offset,
                    size: b.size,
                };
                self.put_blob(b.digest, b.size, Upload::File(region), progress)?;
                return Ok(Descriptor::new(
                    style.media_types.layer(b.compression),
                    b.digest,
                    b.size,
                ));
            }
        }
        let compression = self.layer_compression;
        let media_type = style.media_types.layer(compression);
        if layer.tar_size().is_some_and(|s| s <= IN_MEMORY_LAYER) {
            let mut bytes = Vec::new();
            let (digest, size) = layer
                .write_blob(compression, &mut bytes, &crate::progress::NoProgress)?
                .expect("a Vec takes any write");
            self.put_blob(digest, size, Upload::Bytes(&bytes), progress)?;
            return Ok(Descriptor::new(media_type, digest, size));
        }
        let spool = crate::temp::TempFile::new("smidge-layer-")
            .map_err(crate::Error::write(std::env::temp_dir()))?;
        let mut w = std::io::BufWriter::with_capacity(256 << 10, spool.as_file());
        progress.start("compressing", layer.tar_size().unwrap_or(0));
        let written = layer.write_blob(compression, &mut w, progress)?;
        progress.finish();
        let (digest, size) = written
            .and_then(|r| std::io::Write::flush(&mut w).map(|()| r))
            .map_err(crate::Error::write(spool.path()))?;
        drop(w);
        let region = FileRegion {
            path: spool.path().to_path_buf(),
            offset: 0,
            size,
        };
        self.put_blob(digest, size, Upload::File(region), progress)?;
        Ok(Descriptor::new(media_type, digest, size))
    }

    fn put_config(&mut self, image: &Image) -> crate::Result<Descriptor> {
        let d = *image.config_digest();
        let size = image.config().len() as u64;
        self.put_blob(
            d,
            size,
            Upload::Bytes(image.config()),
            &crate::progress::NoProgress,
        )?;
        Ok(Descriptor::new(self.style().media_types.config(), d, size))
    }

    fn put_manifest(&mut self, manifest: &Document, _: &Image, top: bool) -> crate::Result<()> {
        let reference = if top {
            self.tagged.clone()
        } else {
            self.target.with_digest(&manifest.digest)
        };
        Ok(self.put_document(reference, manifest)?)
    }

    fn put_index(&mut self, index: &Document) -> crate::Result<()> {
        Ok(self.put_document(self.tagged.clone(), index)?)
    }

    fn commit(
        &mut self,
        top: &Descriptor,
        _: &[Descriptor],
        _: &dyn Progress,
    ) -> crate::Result<()> {
        self.pushed.digest = top.digest;
        Ok(())
    }
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
    let plain_allowed = options.insecure || is_local(&ctx.target.registry);
    // A connection that fails may pass on a retry; a TLS handshake that fails will not.
    // Where plain HTTP is allowed, HTTPS is asked once and HTTP gets the retries (a local
    // registry speaking HTTP then costs no backoff: measured 1.8 s before this).
    let ping = |scheme: &'static str, retry: Retry| {
        let url = format!("{scheme}://{host}/v2/");
        let client = &client;
        async move {
            with_retry_if(
                retry,
                || client.get(&url).send(),
                |e: &reqwest::Error| (e.is_connect() && !is_tls(e)) || e.is_timeout(),
            )
            .await
        }
    };
    let once = Retry {
        attempts: 1,
        ..options.retry
    };
    let https = ping("https", if plain_allowed { once } else { options.retry }).await;
    let https_err = match https {
        Ok(_) => return Ok("https"),
        Err(e) => e,
    };
    let tls_failed = !https_err.is_connect() || is_tls(&https_err);
    if plain_allowed {
        match ping("http", options.retry).await {
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
