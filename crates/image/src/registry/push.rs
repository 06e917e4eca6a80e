//! The push, over the OCI distribution spec, with our own requests over one `reqwest`
//! client per registry ([`super::transport`]: system roots, `--ca-cert`, certs.d, a
//! trusted self-signed certificate, client certificates, proxies):
//!
//! 1. ping `GET /v2/` to choose the scheme: HTTPS;
//!    for localhost, 127.0.0.0/8 and ::1, or with `--insecure`, plain HTTP when HTTPS
//!    does not answer (as Docker does for insecure registries);
//! 2. authenticate: follow the `WWW-Authenticate` challenge of the ping, Basic or
//!    Bearer (`realm`, `service`, scope `repository:<name>:pull,push`);
//! 3. every blob (layers, then the config): `HEAD` first, and only when the registry does
//!    not have it, a monolithic upload streamed from a file (`POST` → 202 + `Location`,
//!    `PUT ?digest=` with the body → 201), its digest checked as it is read;
//! 4. the manifests: one image's manifest `PUT` to the tag; for several images, each
//!    manifest by digest, then the index to the tag. The tag moves last, so a push that
//!    fails part way leaves the tag as it was.
//!
//! Each request is wrapped in a bounded retry ([`Retry`]) for connection errors, 429 and
//! 5xx. Manifests and the index are put as the bytes we made, with their `Content-Type`
//! (the digest printed is the sha256 of exactly those bytes).
//!
//! (`oci-client` did this before issue #13; it builds its own `reqwest` client and has
//! no way to take a TLS verifier or a client certificate.)

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, LOCATION};

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::auth::{self, Credentials};
use super::transport::{self, TlsOptions};
use super::{RegistryError, TlsCause};
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
    /// PEM files of extra certificate authorities (or self-signed server certificates)
    /// to trust, besides the system's and the registry's certs.d directory.
    pub ca_certs: Vec<PathBuf>,
    /// Allow plain HTTP, and HTTPS with any certificate, for every registry.
    pub insecure: bool,
    pub retry: Retry,
    /// How layers that are not compressed yet are compressed (gzip or zstd; none is
    /// taken as gzip: registries store uncompressed layers big, or refuse them).
    pub layer_compression: Compression,
}

impl PushOptions {
    fn tls(&self) -> TlsOptions {
        TlsOptions {
            ca_certs: self.ca_certs.clone(),
            insecure: self.insecure,
        }
    }
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

    /// The host the API is on (Docker Hub's API host for `docker.io`).
    fn api_host(&self) -> String {
        api_host(&self.registry)
    }
}

/// The host a registry's API is on: Docker Hub's for `docker.io`, else itself.
fn api_host(registry: &str) -> String {
    if auth::is_docker_hub(registry) {
        "registry-1.docker.io".into()
    } else {
        registry.into()
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
    session: Session,
    target: Target,
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

/// A request that did not get the answer it needed, before it is classified.
#[derive(Debug)]
enum Failure {
    /// The registry (or its token service) answered with this status.
    Status { code: u16, body: String },
    /// No answer: connection, TLS, timeout, or the body could not be sent.
    Transport(reqwest::Error),
    /// An answer we cannot use (a token service's reply without a token, a 202 without
    /// a `Location`).
    Protocol(String),
}

/// One registry's client, base URL and `Authorization` header.
struct Session {
    http: reqwest::Client,
    /// `https://host[:port]` or `http://…`.
    base: String,
    authorization: Option<HeaderValue>,
}

impl Session {
    fn request(&self, method: reqwest::Method, url: &str) -> reqwest::RequestBuilder {
        let r = self.http.request(method, url);
        match &self.authorization {
            Some(a) => r.header(AUTHORIZATION, a.clone()),
            None => r,
        }
    }
}

/// Sends `req`; a status not in `ok` is a [`Failure::Status`] with the body's start.
async fn send(req: reqwest::RequestBuilder, ok: &[u16]) -> Result<reqwest::Response, Failure> {
    let resp = req.send().await.map_err(Failure::Transport)?;
    let code = resp.status().as_u16();
    if ok.contains(&code) {
        return Ok(resp);
    }
    let body = resp.text().await.unwrap_or_default();
    Err(Failure::Status {
        code,
        body: body.chars().take(2000).collect(),
    })
}

fn basic(c: &Credentials) -> HeaderValue {
    use base64::Engine as _;
    let token =
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", c.username, c.password));
    let mut h = HeaderValue::from_str(&format!("Basic {token}"))
        .unwrap_or_else(|_| HeaderValue::from_static("Basic"));
    h.set_sensitive(true);
    h
}

/// A `WWW-Authenticate` challenge, `Bearer realm="…",service="…"` → ("bearer", [(realm,
/// …), (service, …)]): the scheme and the parameter names lower-cased, quoted values
/// unescaped. Any text parses (what a registry sends is untrusted; fuzzed by
/// `fuzz/fuzz_targets/challenge.rs`).
pub fn parse_challenge(header: &str) -> (String, Vec<(String, String)>) {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    let mut params = Vec::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if key.is_empty() {
            break;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            value = chars.by_ref().take_while(|c| *c != ',').collect();
        }
        params.push((key.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    (scheme.to_ascii_lowercase(), params)
}

/// The `Authorization` header a challenge asks for: Basic with the credentials, or a
/// Bearer token from the realm for `scope` (none: a token for logging in).
async fn authorize(
    http: &reqwest::Client,
    challenge: Option<&str>,
    credentials: Option<&Credentials>,
    scope: Option<&str>,
) -> Result<Option<HeaderValue>, Failure> {
    let Some(challenge) = challenge else {
        return Ok(None);
    };
    let (scheme, params) = parse_challenge(challenge);
    let param = |k: &str| {
        params
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    match scheme.as_str() {
        "basic" => Ok(credentials.map(basic)),
        "bearer" => {
            let realm = param("realm")
                .ok_or_else(|| Failure::Protocol("a Bearer challenge without a realm".into()))?;
            let mut url = reqwest::Url::parse(realm).map_err(|_| {
                Failure::Protocol("a Bearer challenge whose realm is not a URL".into())
            })?;
            {
                let mut q = url.query_pairs_mut();
                if let Some(service) = param("service") {
                    q.append_pair("service", service);
                }
                if let Some(scope) = scope {
                    q.append_pair("scope", scope);
                }
                if let Some(c) = credentials {
                    q.append_pair("account", &c.username);
                }
            }
            let mut req = http.get(url).timeout(Duration::from_secs(30));
            if let Some(c) = credentials {
                req = req.header(AUTHORIZATION, basic(c));
            }
            let resp = send(req, &[200]).await?;
            #[derive(serde::Deserialize)]
            struct Token {
                #[serde(default)]
                token: Option<String>,
                #[serde(default)]
                access_token: Option<String>,
            }
            let bytes = resp.bytes().await.map_err(Failure::Transport)?;
            let token = serde_json::from_slice::<Token>(&bytes)
                .ok()
                .and_then(|t| t.token.or(t.access_token))
                .filter(|t| !t.is_empty())
                .ok_or_else(|| {
                    Failure::Protocol("the token service answered without a token".into())
                })?;
            let mut h = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
                Failure::Protocol("the token service answered an unusable token".into())
            })?;
            h.set_sensitive(true);
            Ok(Some(h))
        }
        _ => Ok(None),
    }
}

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
        let http = transport::client(&target.registry, &options.tls(), None)?;
        let credentials = match &options.credentials {
            Some(c) => Some(c.clone()),
            None => auth::lookup(&target.registry)?,
        };
        let runtime = runtime(&target)?;
        let ctx = Ctx {
            target: &target,
            media_types: options.media_types,
            has_credentials: credentials.is_some(),
        };
        let session = runtime.block_on(async {
            let host = target.api_host();
            let (scheme, challenge) = choose_scheme(&http, &host, &ctx, options).await?;
            let scope = format!("repository:{}:pull,push", target.repository);
            let authorization = with_retry(options.retry, || {
                authorize(
                    &http,
                    challenge.as_deref(),
                    credentials.as_ref(),
                    Some(&scope),
                )
            })
            .await
            .map_err(|e| classify(e, &ctx, Stage::Auth))?;
            Ok::<_, RegistryError>(Session {
                http,
                base: format!("{scheme}://{host}"),
                authorization,
            })
        })?;
        Ok(Registry {
            runtime,
            session,
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

    /// What the push did so far (complete once [`crate::dest::write`] has returned).
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

    fn url(&self, tail: &str) -> String {
        format!("{}/v2/{}/{tail}", self.session.base, self.target.repository)
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
        let (session, retry) = (&self.session, self.retry);
        let ctx = self.ctx();
        let head = self.url(&format!("blobs/{d}"));
        let exists = self
            .runtime
            .block_on(with_retry(retry, || async {
                let r = send(session.request(reqwest::Method::HEAD, &head), &[200, 404]).await?;
                Ok(r.status().as_u16() == 200)
            }))
            .map_err(|e| classify(e, &ctx, Stage::Blob))?;
        if exists {
            self.pushed.existing += 1;
            return Ok(());
        }
        progress.start(&format!("blob {}", &d[..19]), size);
        let sent = Arc::new(AtomicU64::new(0));
        let uploads = self.url("blobs/uploads/");
        let upload = with_retry(retry, || async {
            // POST → 202 + Location; PUT Location?digest= with the bytes → 201.
            let r = send(session.request(reqwest::Method::POST, &uploads), &[202]).await?;
            let location = r
                .headers()
                .get(LOCATION)
                .and_then(|l| l.to_str().ok())
                .ok_or_else(|| Failure::Protocol("upload started without a Location".into()))?;
            let mut url = reqwest::Url::parse(&uploads)
                .and_then(|u| u.join(location))
                .map_err(|_| Failure::Protocol("upload Location is not a URL".into()))?;
            url.query_pairs_mut().append_pair("digest", &d);
            let body = match &blob {
                Upload::Bytes(bytes) => reqwest::Body::from(bytes.to_vec()),
                Upload::File(region) => {
                    sent.store(0, Ordering::Relaxed);
                    reqwest::Body::wrap_stream(file_stream(region.clone(), digest, sent.clone()))
                }
            };
            let put = session
                .request(reqwest::Method::PUT, url.as_str())
                .header(CONTENT_TYPE, "application/octet-stream")
                .header(CONTENT_LENGTH, size)
                .body(body);
            send(put, &[201]).await.map(drop)
        });
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

    /// `PUT /v2/<name>/manifests/<reference>` with the document's bytes.
    fn put_document(&mut self, reference: &str, doc: &Document) -> Result<(), RegistryError> {
        let url = self.url(&format!("manifests/{reference}"));
        let (session, retry) = (&self.session, self.retry);
        let media_type = doc.media_type;
        self.runtime
            .block_on(with_retry(retry, || {
                let put = session
                    .request(reqwest::Method::PUT, &url)
                    .header(CONTENT_TYPE, media_type)
                    .body(doc.bytes.clone());
                async move { send(put, &[200, 201]).await.map(drop) }
            }))
            .map_err(|e| classify(e, &self.ctx(), Stage::Manifest))?;
        self.pushed.manifests += 1;
        self.pushed.stored_bytes += doc.bytes.len() as u64;
        Ok(())
    }
}

/// What `smidge login` checks before storing anything: that `registry` (`host[:port]`,
/// or `docker.io`) accepts `credentials`, as `docker login` checks them: `GET /v2/`, then
/// Basic with the credentials, or a Bearer token asked for with them (no scope).
pub fn verify_login(
    registry: &str,
    credentials: &Credentials,
    options: &PushOptions,
) -> Result<(), RegistryError> {
    let target = Target {
        registry: registry.to_string(),
        repository: String::new(),
        tag: String::new(),
    };
    let http = transport::client(&target.registry, &options.tls(), None)?;
    let runtime = runtime(&target)?;
    let ctx = Ctx {
        target: &target,
        media_types: options.media_types,
        has_credentials: true,
    };
    let refused = || RegistryError::LoginRefused {
        registry: registry.to_string(),
    };
    runtime.block_on(async {
        let host = target.api_host();
        let (scheme, challenge) = choose_scheme(&http, &host, &ctx, options).await?;
        let Some(challenge) = challenge else {
            return Ok(());
        };
        let login_err = |e: Failure| match status(&e) {
            Some(401 | 403) => refused(),
            _ => classify(e, &ctx, Stage::Auth),
        };
        let authorization = with_retry(options.retry, || {
            authorize(&http, Some(&challenge), Some(credentials), None)
        })
        .await
        .map_err(login_err)?;
        let url = format!("{scheme}://{host}/v2/");
        with_retry(options.retry, || {
            let mut req = http.get(&url).timeout(Duration::from_secs(30));
            if let Some(a) = &authorization {
                req = req.header(AUTHORIZATION, a.clone());
            }
            async move { send(req, &[200]).await.map(drop) }
        })
        .await
        .map_err(login_err)
    })
}

fn runtime(target: &Target) -> Result<tokio::runtime::Runtime, RegistryError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| RegistryError::Protocol {
            registry: target.registry.clone(),
            repository: target.repository.clone(),
            detail: format!("cannot start the I/O runtime: {e}"),
        })
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
) -> impl futures_util::Stream<Item = std::io::Result<bytes::Bytes>> + Send + 'static {
    use sha2::Digest as _;
    enum State {
        Start(FileRegion),
        Reading(std::io::Take<std::fs::File>, sha2::Sha256),
        Done,
    }
    let fail = std::io::Error::other;
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
            self.target.tag.clone()
        } else {
            manifest.digest.to_string()
        };
        Ok(self.put_document(&reference, manifest)?)
    }

    fn put_index(&mut self, index: &Document) -> crate::Result<()> {
        let tag = self.target.tag.clone();
        Ok(self.put_document(&tag, index)?)
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

/// `GET /v2/` over HTTPS, or plain HTTP where that is allowed and HTTPS does not answer:
/// the scheme, and the `WWW-Authenticate` challenge when the answer was 401.
async fn choose_scheme(
    client: &reqwest::Client,
    host: &str,
    ctx: &Ctx<'_>,
    options: &PushOptions,
) -> Result<(&'static str, Option<String>), RegistryError> {
    let challenge = |resp: &reqwest::Response| {
        (resp.status() == reqwest::StatusCode::UNAUTHORIZED)
            .then(|| {
                resp.headers()
                    .get(reqwest::header::WWW_AUTHENTICATE)
                    .and_then(|h| h.to_str().ok())
                    .map(str::to_string)
            })
            .flatten()
    };
    let plain_allowed = options.insecure || is_local(&ctx.target.registry);
    // A connection that fails may pass on a retry; a TLS handshake that fails will not.
    // Where plain HTTP is allowed, HTTPS is asked once and HTTP gets the retries (a local
    // registry speaking HTTP then costs no backoff: measured 1.8 s before this).
    let ping = |scheme: &'static str, retry: Retry| {
        let url = format!("{scheme}://{host}/v2/");
        async move {
            with_retry_if(
                retry,
                || client.get(&url).timeout(Duration::from_secs(30)).send(),
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
        Ok(resp) => return Ok(("https", challenge(&resp))),
        Err(e) => e,
    };
    let tls_failed = !https_err.is_connect() || is_tls(&https_err);
    if plain_allowed {
        match ping("http", options.retry).await {
            Ok(resp) => {
                let auth = challenge(&resp);
                // Go's TLS server answers plain HTTP with 400 and this text.
                let speaks_tls = resp.status() == reqwest::StatusCode::BAD_REQUEST
                    && resp
                        .text()
                        .await
                        .unwrap_or_default()
                        .contains("HTTPS server");
                if !speaks_tls {
                    return Ok(("http", auth));
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
        let detail = innermost(&https_err);
        let wants_client_cert =
            detail.contains("BadCertificate") || detail.contains("CertificateRequired");
        return Err(RegistryError::Tls {
            registry: ctx.target.registry.clone(),
            detail,
            cause: if wants_client_cert {
                TlsCause::ClientCertificate
            } else {
                TlsCause::Untrusted {
                    plain_http_tried: plain_allowed,
                }
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

async fn with_retry<T, F, Fut>(retry: Retry, op: F) -> Result<T, Failure>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Failure>>,
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

/// The HTTP status a failure carries, if any.
fn status(e: &Failure) -> Option<u16> {
    match e {
        Failure::Status { code, .. } => Some(*code),
        Failure::Transport(r) => r.status().map(|s| s.as_u16()),
        Failure::Protocol(_) => None,
    }
}

/// Worth another try: a connection error, 429 or 5xx.
fn transient(e: &Failure) -> bool {
    match e {
        Failure::Transport(r) => {
            !is_tls(r) && (r.is_connect() || r.is_timeout() || r.is_request() || r.is_body())
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

fn classify(e: Failure, ctx: &Ctx<'_>, stage: Stage) -> RegistryError {
    let registry = ctx.target.registry.clone();
    let repository = ctx.target.repository.clone();
    match status(&e) {
        Some(401) => {
            return RegistryError::Unauthorized {
                registry,
                repository,
                anonymous: !ctx.has_credentials,
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
        Failure::Status { code, body } => format!("HTTP {code}, {}", registry_words(body)),
        Failure::Transport(r) => {
            if r.status().is_none() && (r.is_connect() || r.is_timeout()) {
                return RegistryError::Unreachable {
                    registry,
                    detail: innermost(r),
                };
            }
            innermost(r)
        }
        Failure::Protocol(p) => p.clone(),
    };
    if stage == Stage::Manifest && matches!(status(&e), Some(400 | 404 | 415)) {
        return RegistryError::ManifestRefused {
            registry,
            repository,
            detail,
            media_types: ctx.media_types,
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
    fn challenges_are_parsed_with_quoted_commas() {
        let (scheme, params) = parse_challenge(
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push""#,
        );
        assert_eq!(scheme, "bearer");
        let get = |k: &str| {
            params
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("realm"), Some("https://auth.example/token"));
        assert_eq!(get("service"), Some("registry.example"));
        assert_eq!(get("scope"), Some("repository:a/b:pull,push"));
        let (scheme, params) = parse_challenge(r#"Basic realm="Registry Realm""#);
        assert_eq!((scheme.as_str(), params.len()), ("basic", 1));
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
