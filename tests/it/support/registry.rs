//! A real registry for the push tests (issue #4): Debian's `docker-registry`
//! (the CNCF distribution registry, 2.8) on 127.0.0.1, on a free port, with
//! its own config, storage and log in a temporary directory, stopped by its
//! PID when dropped.
//!
//! Three ways in, one per [`Mode`]:
//! - [`Mode::Anonymous`]: plain HTTP, no authentication.
//! - [`Mode::Htpasswd`]: HTTPS with a certificate from a CA made here
//!   ([`Registry::ca`], for `--ca-cert`), basic auth against an htpasswd file
//!   (bcrypt, the only hash distribution accepts, from `htpasswd -B`).
//! - [`Mode::Token`]: plain HTTP, `auth: token`: the registry answers 401 with
//!   `WWW-Authenticate: Bearer realm=…,service=…,scope=…`, and a token issuer
//!   running in the test process checks the client's basic credentials and
//!   returns a JWT (RS256, signed with `openssl dgst`) granting the scope
//!   asked for. The registry finds the signing key through the JWT header's
//!   `kid`, the libtrust key ID of the certificate in its `rootcertbundle`.
//!
//! Tools: `docker-registry`, `openssl`, and `htpasswd` (apache2-utils) for
//! the htpasswd mode; [`Registry::start`] returns `None` (test skipped) when
//! one is missing, or panics under `SMIDGE_TEST_STRICT=1`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use sha2::{Digest as _, Sha256};

/// The one account of the htpasswd and token registries. The password is
/// distinctive so a test can check it never shows up in smidge's output.
pub const USER: &str = "smidge-tester";
pub const PASSWORD: &str = "pw-9f3Kq-never-print-me";

/// `service` and `issuer` of the token registry and of the tokens issued.
const SERVICE: &str = "smidge-test-registry";
const ISSUER: &str = "smidge-test-issuer";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Plain HTTP, no authentication.
    Anonymous,
    /// HTTPS (a CA made by the test) + htpasswd basic auth.
    Htpasswd,
    /// Plain HTTP + bearer tokens from [`TokenIssuer`].
    Token,
    /// HTTPS with the certificate Docker's registry documentation makes (issue #13):
    /// `openssl req -x509 -newkey rsa -nodes … -addext "subjectAltName = IP:127.0.0.1"`,
    /// its own CA (`CA:TRUE`). [`Registry::ca`] is that certificate. No authentication.
    SelfSigned,
    /// [`Mode::SelfSigned`] that also asks for a client certificate signed by a
    /// client CA made here ([`Registry::client`]: `client.cert` + `client.key`).
    MutualTls,
}

/// A running `docker-registry serve`.
pub struct Registry {
    pub mode: Mode,
    /// `127.0.0.1:PORT`, the registry part of a reference.
    pub host: String,
    /// The CA certificate (PEM) the HTTPS registry's certificate chains to.
    pub ca: Option<PathBuf>,
    /// A directory holding `ca.crt` only: `skopeo --cert-dir`.
    pub cert_dir: Option<PathBuf>,
    /// The token issuer of [`Mode::Token`].
    pub issuer: Option<TokenIssuer>,
    /// [`Mode::MutualTls`]: the client certificate and its key.
    pub client: Option<(PathBuf, PathBuf)>,
    storage: PathBuf,
    log: PathBuf,
    child: Child,
    // Last: removed after the registry has stopped.
    dir: tempfile::TempDir,
}

impl Registry {
    /// Start a registry in `mode`, or `None` (after `skipped: …`) when a tool
    /// it needs is missing; panics under `SMIDGE_TEST_STRICT=1`.
    pub fn start(mode: Mode) -> Option<Registry> {
        if !super::require("docker-registry") || !tool("openssl", &["version"]) {
            return None;
        }
        if mode == Mode::Htpasswd && !tool("htpasswd", &["-nbB", "u", "p"]) {
            return None;
        }
        Some(Registry::start_now(mode))
    }

    fn start_now(mode: Mode) -> Registry {
        let dir = tempfile::Builder::new()
            .prefix("smidge-registry.")
            .tempdir()
            .expect("temp dir");
        let storage = dir.path().join("storage");
        std::fs::create_dir(&storage).unwrap();
        let mut auth = String::new();
        let mut tls = String::new();
        let (mut ca, mut cert_dir, mut issuer, mut client) = (None, None, None, None);
        match mode {
            Mode::Anonymous => {}
            Mode::Htpasswd => {
                let certs = make_tls_certs(dir.path());
                tls = format!(
                    "  tls:\n    certificate: {}\n    key: {}\n",
                    certs.server_cert.display(),
                    certs.server_key.display()
                );
                let htpasswd = dir.path().join("htpasswd");
                let out = checked(Command::new("htpasswd").args(["-nbB", USER, PASSWORD]));
                std::fs::write(&htpasswd, out.stdout).unwrap();
                auth = format!(
                    "auth:\n  htpasswd:\n    realm: smidge-test\n    path: {}\n",
                    htpasswd.display()
                );
                ca = Some(certs.ca);
                cert_dir = Some(certs.dir);
            }
            Mode::SelfSigned | Mode::MutualTls => {
                let made = make_self_signed(dir.path(), mode == Mode::MutualTls);
                tls = format!(
                    "  tls:\n    certificate: {}\n    key: {}\n",
                    made.cert.display(),
                    made.key.display()
                );
                if let Some((client_ca, _, _)) = &made.client {
                    tls.push_str(&format!(
                        "    clientcas:\n      - {}\n",
                        client_ca.display()
                    ));
                }
                ca = Some(made.cert);
                cert_dir = Some(made.dir);
                client = made.client.map(|(_, c, k)| (c, k));
            }
            Mode::Token => {
                let key = TokenKey::new(dir.path());
                auth = format!(
                    "auth:\n  token:\n    realm: PLACEHOLDER\n    service: {SERVICE}\n    \
                     issuer: {ISSUER}\n    rootcertbundle: {}\n",
                    key.cert.display()
                );
                let started = TokenIssuer::start(key);
                auth = auth.replace("PLACEHOLDER", &started.realm());
                issuer = Some(started);
            }
        }
        let log = dir.path().join("registry.log");
        // A port that was free a moment ago may be taken by the time the
        // registry binds it: try a few.
        let mut last_log = String::new();
        for _ in 0..5 {
            let port = free_port();
            let host = format!("127.0.0.1:{port}");
            let config = dir.path().join("config.yml");
            std::fs::write(
                &config,
                format!(
                    "version: 0.1\n\
                     log:\n  level: info\n  formatter: text\n\
                     storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
                     http:\n  addr: {host}\n  secret: smidge-test-secret\n{tls}\
                     {auth}",
                    storage.display()
                ),
            )
            .unwrap();
            let log_file = std::fs::File::create(&log).unwrap();
            let mut child = Command::new("docker-registry")
                .arg("serve")
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(log_file.try_clone().unwrap())
                .stderr(log_file)
                .spawn()
                .expect("spawn docker-registry");
            if wait_ready(&mut child, &host) {
                return Registry {
                    mode,
                    host,
                    ca,
                    cert_dir,
                    issuer,
                    client,
                    storage,
                    log,
                    child,
                    dir,
                };
            }
            stop(&mut child);
            last_log = std::fs::read_to_string(&log).unwrap_or_default();
        }
        panic!("docker-registry did not start; its log:\n{last_log}");
    }

    /// `127.0.0.1:PORT/NAME` (NAME = `repo:tag` or `repo@digest`).
    pub fn reference(&self, name: &str) -> String {
        format!("{}/{name}", self.host)
    }

    /// The registry's log so far (access log lines and its own messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// How many blob uploads were started in `repo` (`POST
    /// /v2/REPO/blobs/uploads/` in the access log), whatever their outcome.
    pub fn uploads(&self, repo: &str) -> usize {
        let needle = format!("\"POST /v2/{repo}/blobs/uploads/");
        self.log().lines().filter(|l| l.contains(&needle)).count()
    }

    /// The bytes of every blob stored (manifests, configs and layers alike;
    /// `docker/registry/v2/blobs/sha256/XX/DIGEST/data`), and how many.
    pub fn blob_bytes(&self) -> (u64, usize) {
        fn walk(dir: &Path, total: &mut (u64, usize)) {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return;
            };
            for e in entries {
                let e = e.unwrap();
                let meta = e.metadata().unwrap();
                if meta.is_dir() {
                    walk(&e.path(), total);
                } else if e.file_name() == "data" {
                    total.0 += meta.len();
                    total.1 += 1;
                }
            }
        }
        let mut total = (0, 0);
        walk(&self.storage.join("docker/registry/v2/blobs"), &mut total);
        total
    }

    /// A `$DOCKER_CONFIG` directory whose `config.json` has an `auths` entry
    /// for this registry (the way `docker login` writes it). Also usable as
    /// `docker --config DIR` so that the Docker daemon pulls with it.
    pub fn docker_config(&self) -> tempfile::TempDir {
        let dir = super::tempdir();
        let auth = STANDARD.encode(format!("{USER}:{PASSWORD}"));
        let config = serde_json::json!({ "auths": { self.host.clone(): { "auth": auth } } });
        std::fs::write(dir.path().join("config.json"), config.to_string()).unwrap();
        dir
    }

    /// The transport flags `skopeo` needs for this registry: `--tls-verify=false`
    /// for plain HTTP, `--cert-dir` holding the test CA for HTTPS, and
    /// `--creds` when it needs authentication.
    pub fn skopeo_flags(&self) -> Vec<String> {
        let mut flags = match &self.cert_dir {
            Some(dir) => vec![format!("--cert-dir={}", dir.display())],
            None => vec!["--tls-verify=false".to_owned()],
        };
        if matches!(self.mode, Mode::Htpasswd | Mode::Token) {
            flags.push(format!("--creds={USER}:{PASSWORD}"));
        }
        flags
    }

    /// `skopeo inspect FLAGS docker://REF` (plus `extra`, e.g. `--raw`):
    /// stdout, or a panic with skopeo's output.
    pub fn skopeo_inspect(&self, reference: &str, extra: &[&str]) -> String {
        let out = Command::new("skopeo")
            .arg("inspect")
            .args(self.skopeo_flags())
            .args(extra)
            .arg(format!("docker://{reference}"))
            .stdin(Stdio::null())
            .output()
            .expect("spawn skopeo");
        assert!(
            out.status.success(),
            "skopeo inspect {reference}:\n{}",
            super::show(&out)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// Wait until the registry accepts connections (it binds, then serves);
/// false when it exits first (e.g. the port was taken) or takes over 20 s.
fn wait_ready(child: &mut Child, host: &str) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        if TcpStream::connect(host).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// SIGTERM, then SIGKILL after 5 s; always reaped.
fn stop(child: &mut Child) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(5) {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

/// Does `program ARGS` run? Like [`super::require`] for tools without `--version`.
fn tool(program: &str, args: &[&str]) -> bool {
    let why = match Command::new(program).args(args).output() {
        Ok(out) if out.status.success() => return true,
        Ok(out) => format!(
            "`{program} {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(e) => format!("{program} not found ({e})"),
    };
    if super::strict() {
        panic!("SMIDGE_TEST_STRICT=1 and {program} is not usable: {why}");
    }
    eprintln!("skipped: {why}");
    false
}

/// Run `cmd`, require success.
fn checked(cmd: &mut Command) -> Output {
    let out = cmd.stdin(Stdio::null()).output().expect("spawn");
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}",
        super::show(&out)
    );
    out
}

fn openssl(dir: &Path, args: &[&str]) -> Output {
    checked(Command::new("openssl").current_dir(dir).args(args))
}

// ---------------------------------------------------------------- TLS

/// The host name of this machine when it resolves to a loopback address (so a
/// proxy on 127.0.0.1 reaches a registry on 127.0.0.1 by a name that is not
/// `localhost`, which Go and smidge never send through a proxy).
pub fn loopback_hostname() -> Option<String> {
    use std::net::ToSocketAddrs;
    let name = String::from_utf8(Command::new("hostname").output().ok()?.stdout).ok()?;
    let name = name.trim().to_string();
    let loopback = (name.as_str(), 443)
        .to_socket_addrs()
        .ok()?
        .all(|a| a.ip().is_loopback());
    (!name.is_empty() && name != "localhost" && loopback).then_some(name)
}

struct SelfSigned {
    /// Holds `ca.crt` (= the certificate) and, for mutual TLS, `client.cert` +
    /// `client.key` (`skopeo --cert-dir`, a certs.d directory).
    dir: PathBuf,
    cert: PathBuf,
    key: PathBuf,
    /// (client CA, client certificate, client key).
    client: Option<(PathBuf, PathBuf, PathBuf)>,
}

/// The one-liner of Docker's "deploy a registry" page (RSA 2048 rather than
/// 4096 to keep the test quick; the shape is the same: `req -x509`, so
/// `CA:TRUE`), for IP:127.0.0.1 and, when it resolves to loopback, this
/// machine's host name. With `client`, a client CA and a client certificate.
fn make_self_signed(dir: &Path, client: bool) -> SelfSigned {
    let mut san = "subjectAltName = IP:127.0.0.1".to_string();
    if let Some(name) = loopback_hostname() {
        san.push_str(&format!(",DNS:{name}"));
    }
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "domain.key",
            "-out",
            "domain.crt",
            "-days",
            "2",
            "-subj",
            "/CN=smidge-self-signed",
            "-addext",
            &san,
        ],
    );
    let certs = dir.join("certs");
    std::fs::create_dir(&certs).unwrap();
    std::fs::copy(dir.join("domain.crt"), certs.join("ca.crt")).unwrap();
    let client = client.then(|| {
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];
        let mut args = vec!["req", "-x509", "-nodes", "-days", "2"];
        args.extend(ec);
        args.extend(["-keyout", "client-ca.key", "-out", "client-ca.pem", "-subj", "/CN=smidge client CA"]);
        openssl(dir, &args);
        let mut args = vec!["req", "-new", "-nodes"];
        args.extend(ec);
        args.extend(["-keyout", "client.key", "-out", "client.csr", "-subj", "/CN=smidge client"]);
        openssl(dir, &args);
        std::fs::write(
            dir.join("client.ext"),
            "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n",
        )
        .unwrap();
        openssl(
            dir,
            &[
                "x509", "-req", "-in", "client.csr", "-CA", "client-ca.pem", "-CAkey",
                "client-ca.key", "-set_serial", "3", "-days", "2", "-extfile", "client.ext",
                "-out", "client.cert",
            ],
        );
        std::fs::copy(dir.join("client.cert"), certs.join("client.cert")).unwrap();
        std::fs::copy(dir.join("client.key"), certs.join("client.key")).unwrap();
        (
            dir.join("client-ca.pem"),
            dir.join("client.cert"),
            dir.join("client.key"),
        )
    });
    SelfSigned {
        dir: certs,
        cert: dir.join("domain.crt"),
        key: dir.join("domain.key"),
        client,
    }
}

struct TlsCerts {
    /// Holds `ca.crt` only (`skopeo --cert-dir`).
    dir: PathBuf,
    ca: PathBuf,
    server_cert: PathBuf,
    server_key: PathBuf,
}

/// A CA (P-256, self-signed, `CA:TRUE`) and a server certificate it signed
/// for `IP:127.0.0.1` and `DNS:localhost` (`CA:FALSE`, `serverAuth`): a real
/// chain, since rustls and webpki refuse a CA certificate as a server's.
fn make_tls_certs(dir: &Path) -> TlsCerts {
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];
    let mut args = vec!["req", "-x509", "-nodes", "-days", "2"];
    args.extend(ec);
    args.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-subj",
        "/CN=smidge test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    openssl(dir, &args);
    let mut args = vec!["req", "-new", "-nodes"];
    args.extend(ec);
    args.extend([
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    openssl(dir, &args);
    std::fs::write(
        dir.join("server.ext"),
        "basicConstraints=critical,CA:FALSE\n\
         keyUsage=critical,digitalSignature\n\
         extendedKeyUsage=serverAuth\n\
         subjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-set_serial",
            "2",
            "-days",
            "2",
            "-extfile",
            "server.ext",
            "-out",
            "server.pem",
        ],
    );
    let cert_dir = dir.join("certs");
    std::fs::create_dir(&cert_dir).unwrap();
    std::fs::copy(dir.join("ca.pem"), cert_dir.join("ca.crt")).unwrap();
    TlsCerts {
        dir: cert_dir,
        ca: dir.join("ca.pem"),
        server_cert: dir.join("server.pem"),
        server_key: dir.join("server.key"),
    }
}

// ---------------------------------------------------------------- tokens

/// The token signing key (RSA 2048, RS256) and its self-signed certificate,
/// which is the registry's `rootcertbundle`.
struct TokenKey {
    key: PathBuf,
    cert: PathBuf,
    /// The libtrust key ID the registry computes for the certificate's key.
    kid: String,
}

impl TokenKey {
    fn new(dir: &Path) -> TokenKey {
        openssl(
            dir,
            &[
                "req",
                "-x509",
                "-nodes",
                "-newkey",
                "rsa:2048",
                "-days",
                "2",
                "-keyout",
                "token.key",
                "-out",
                "token.crt",
                "-subj",
                "/CN=smidge test token issuer",
            ],
        );
        let spki = openssl(
            dir,
            &["pkey", "-in", "token.key", "-pubout", "-outform", "DER"],
        )
        .stdout;
        TokenKey {
            key: dir.join("token.key"),
            cert: dir.join("token.crt"),
            kid: libtrust_key_id(&spki),
        }
    }

    /// RS256 (RSASSA-PKCS1-v1_5 with SHA-256) over `data`.
    fn sign(&self, data: &[u8]) -> Vec<u8> {
        let mut cmd = Command::new("openssl");
        cmd.args(["dgst", "-sha256", "-sign"]).arg(&self.key);
        let out = super::pipe(&mut cmd, data);
        assert!(out.status.success(), "openssl dgst:\n{}", super::show(&out));
        out.stdout
    }
}

/// libtrust's key ID (what distribution 2.8 matches a JWT's `kid` against):
/// the SHA-256 of the DER SubjectPublicKeyInfo, first 240 bits, base32
/// (RFC 4648 alphabet, 48 characters), in 12 groups of 4 joined by `:`.
pub fn libtrust_key_id(spki_der: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let hash = Sha256::digest(spki_der);
    let mut chars = String::new();
    for chunk in hash[..30].chunks(5) {
        let n = chunk.iter().fold(0u64, |n, &b| n << 8 | u64::from(b));
        for i in (0..8).rev() {
            chars.push(ALPHABET[(n >> (5 * i) & 31) as usize] as char);
        }
    }
    let groups: Vec<&str> = (0..12).map(|i| &chars[4 * i..4 * i + 4]).collect();
    groups.join(":")
}

/// A token endpoint (`GET /token?service=…&scope=…` with basic credentials,
/// or the OAuth2 `POST /token` form with `grant_type=password`), serving one
/// connection at a time on a thread of the test process.
pub struct TokenIssuer {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    issued: Arc<AtomicUsize>,
    refused: Arc<AtomicUsize>,
}

impl TokenIssuer {
    fn start(key: TokenKey) -> TokenIssuer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind token issuer");
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let issued = Arc::new(AtomicUsize::new(0));
        let refused = Arc::new(AtomicUsize::new(0));
        let thread = {
            let (stop, issued, refused) = (stop.clone(), issued.clone(), refused.clone());
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
                    match serve_token(conn, &key) {
                        Ok(true) => issued.fetch_add(1, Ordering::SeqCst),
                        Ok(false) => refused.fetch_add(1, Ordering::SeqCst),
                        Err(_) => 0,
                    };
                }
            })
        };
        TokenIssuer {
            port,
            stop,
            thread: Some(thread),
            issued,
            refused,
        }
    }

    /// The `realm` the registry sends clients to.
    pub fn realm(&self) -> String {
        format!("http://127.0.0.1:{}/token", self.port)
    }

    /// Tokens handed out so far.
    pub fn issued(&self) -> usize {
        self.issued.load(Ordering::SeqCst)
    }

    /// Requests refused (no or wrong credentials) so far.
    pub fn refused(&self) -> usize {
        self.refused.load(Ordering::SeqCst)
    }
}

impl Drop for TokenIssuer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Answer one token request: `Ok(true)` when a token was issued.
fn serve_token(mut conn: TcpStream, key: &TokenKey) -> std::io::Result<bool> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let mut parts = request_line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut params = form(query);
    let mut credentials = header("authorization")
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| STANDARD.decode(b.trim()).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.split_once(':').map(|(u, p)| (u.to_owned(), p.to_owned())));
    if method == "POST" {
        let len: usize = header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        reader.read_exact(&mut body)?;
        let body = form(&String::from_utf8_lossy(&body));
        if let (Some((_, u)), Some((_, p))) = (
            body.iter().find(|(k, _)| k == "username"),
            body.iter().find(|(k, _)| k == "password"),
        ) {
            credentials = Some((u.clone(), p.clone()));
        }
        params.extend(body);
    }
    let reply = |conn: &mut TcpStream, status: &str, body: &str| {
        write!(
            conn,
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    };
    if path != "/token" {
        reply(&mut conn, "404 Not Found", "{}")?;
        return Ok(false);
    }
    let Some((user, _)) = credentials.filter(|(u, p)| u == USER && p == PASSWORD) else {
        reply(
            &mut conn,
            "401 Unauthorized",
            r#"{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}"#,
        )?;
        return Ok(false);
    };
    // Grant every scope asked for: `repository:NAME:pull,push` (several
    // `scope` parameters, or one with several space-separated scopes).
    let access: Vec<serde_json::Value> = params
        .iter()
        .filter(|(k, _)| k == "scope")
        .flat_map(|(_, v)| v.split(' ').map(str::to_owned).collect::<Vec<_>>())
        .filter_map(|scope| {
            let (kind, rest) = scope.split_once(':')?;
            let (name, actions) = rest.rsplit_once(':')?;
            Some(serde_json::json!({
                "type": kind, "name": name, "actions": actions.split(',').collect::<Vec<_>>(),
            }))
        })
        .collect();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let header = serde_json::json!({ "typ": "JWT", "alg": "RS256", "kid": key.kid });
    let claims = serde_json::json!({
        "iss": ISSUER, "sub": user, "aud": SERVICE,
        "iat": now, "nbf": now - 10, "exp": now + 600,
        "jti": format!("{}-{now}", std::process::id()),
        "access": access,
    });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = URL_SAFE_NO_PAD.encode(key.sign(signing_input.as_bytes()));
    let token = format!("{signing_input}.{signature}");
    let body = serde_json::json!({
        "token": token, "access_token": token, "expires_in": 600,
    });
    reply(&mut conn, "200 OK", &body.to_string())?;
    Ok(true)
}

/// `a=b&c=d` (URL-encoded) as pairs, in order.
fn form(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (unescape(k), unescape(v))
        })
        .collect()
}

fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => match u8::from_str_radix(&s[i + 1..i + 3], 16) {
                Ok(v) => {
                    out.push(v);
                    i += 2;
                }
                Err(_) => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
