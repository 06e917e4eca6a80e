//! Credentials, found the way `docker`, `crane` and `ko` find them:
//!
//! 1. `--username` with `--password-stdin` ([`Credentials`] given directly);
//! 2. the Docker config, `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`:
//!    - `credHelpers[host]`: run `docker-credential-<helper> get`;
//!    - `credsStore`: the same, for every host;
//!    - `auths[host].auth`: base64 of `user:password` (or `username` + `password`);
//! 3. none: anonymous (a bearer-token registry may still hand out an anonymous token).
//!
//! The credential-helper protocol (docker-credential-helpers): the server URL on stdin,
//! `{"ServerURL":…,"Username":…,"Secret":…}` on stdout; exit status 1 with
//! "credentials not found" when it has none. Docker Hub is asked for as
//! `https://index.docker.io/v1/`, every other registry by its `host[:port]`.
//!
//! A [`Credentials`] never shows its password: `Debug` prints `***`, and no error built
//! here quotes a config value or a helper's output.

use std::collections::HashMap;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use serde::Deserialize;

use super::RegistryError;

/// The host Docker Hub's credentials are stored under.
pub const DOCKER_HUB_SERVER: &str = "https://index.docker.io/v1/";

/// A user name and password (or token) for one registry.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Credentials({}, ***)", self.username)
    }
}

/// `config.json`, the parts we read.
#[derive(Deserialize, Default)]
struct DockerConfig {
    #[serde(default)]
    auths: HashMap<String, AuthEntry>,
    #[serde(default, rename = "credHelpers")]
    cred_helpers: HashMap<String, String>,
    #[serde(default, rename = "credsStore")]
    creds_store: Option<String>,
}

#[derive(Deserialize, Default)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

#[derive(Deserialize)]
struct HelperOutput {
    #[serde(rename = "Username")]
    username: String,
    #[serde(rename = "Secret")]
    secret: String,
}

/// The Docker config file: `$DOCKER_CONFIG/config.json`, else `$HOME/.docker/config.json`.
pub fn docker_config_path() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return Some(Path::new(&dir).join("config.json"));
    }
    let home = std::env::var_os("HOME").filter(|h| !h.is_empty())?;
    Some(Path::new(&home).join(".docker/config.json"))
}

/// Whether `registry` (as in a reference: `host[:port]`) is Docker Hub.
pub fn is_docker_hub(registry: &str) -> bool {
    matches!(
        registry,
        "docker.io" | "index.docker.io" | "registry-1.docker.io"
    )
}

/// `https://host/v1/` → `host`: how `auths` keys are compared.
fn normalize_key(key: &str) -> &str {
    let key = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    key.split('/').next().unwrap_or(key)
}

fn same_registry(key: &str, registry: &str) -> bool {
    let key = normalize_key(key);
    key == registry || (is_docker_hub(key) && is_docker_hub(registry))
}

/// The credentials the Docker config holds for `registry` (`host[:port]`, or `docker.io`),
/// if any.
pub fn lookup(registry: &str) -> Result<Option<Credentials>, RegistryError> {
    let Some(path) = docker_config_path() else {
        return Ok(None);
    };
    let text = match std::fs::read(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(RegistryError::Credentials {
                registry: registry.into(),
                reason: format!("cannot read {}: {}", path.display(), e.kind()),
            })
        }
    };
    let config = parse(&text, &path).map_err(|reason| RegistryError::Credentials {
        registry: registry.into(),
        reason,
    })?;
    lookup_in(&config, registry, &run_helper)
}

/// The Docker config `text` read from `path`, or why not. The reason gives the kind of
/// error and its line and column only: serde's own message quotes a value of the wrong
/// type (`invalid type: string "…"`), which may be a password or an `auth` token.
fn parse(text: &[u8], path: &Path) -> Result<DockerConfig, String> {
    serde_json::from_slice(text).map_err(|e| {
        let what = match e.classify() {
            serde_json::error::Category::Data => "a value of the wrong type",
            serde_json::error::Category::Eof => "it ends too early",
            serde_json::error::Category::Syntax | serde_json::error::Category::Io => "not JSON",
        };
        format!(
            "{} is not a Docker config ({what} at line {}, column {})",
            path.display(),
            e.line(),
            e.column()
        )
    })
}

/// A credential helper: `(helper name, server URL)` → credentials.
type Helper<'a> = dyn Fn(&str, &str) -> Result<Option<Credentials>, String> + 'a;

fn lookup_in(
    config: &DockerConfig,
    registry: &str,
    helper: &Helper<'_>,
) -> Result<Option<Credentials>, RegistryError> {
    let server = if is_docker_hub(registry) {
        DOCKER_HUB_SERVER.to_string()
    } else {
        registry.to_string()
    };
    let err = |reason: String| RegistryError::Credentials {
        registry: registry.into(),
        reason,
    };
    let named = config
        .cred_helpers
        .iter()
        .find(|(k, _)| same_registry(k, registry))
        .map(|(_, v)| v.as_str());
    if let Some(name) = named.or(config.creds_store.as_deref()) {
        if let Some(c) = helper(name, &server).map_err(err)? {
            return Ok(Some(c));
        }
    }
    let Some(entry) = config
        .auths
        .iter()
        .find(|(k, _)| same_registry(k, registry))
        .map(|(_, v)| v)
    else {
        return Ok(None);
    };
    if let Some(auth) = entry.auth.as_deref().filter(|a| !a.is_empty()) {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .ok()
            .and_then(|d| String::from_utf8(d).ok());
        return match decoded.as_deref().and_then(|d| d.split_once(':')) {
            Some((u, p)) => Ok(Some(Credentials {
                username: u.into(),
                password: p.into(),
            })),
            None => Err(err(
                "the `auth` entry in the Docker config is not base64 of user:password; run `docker login` again".into(),
            )),
        };
    }
    match (&entry.username, &entry.password) {
        (Some(u), Some(p)) => Ok(Some(Credentials {
            username: u.clone(),
            password: p.clone(),
        })),
        _ => Ok(None),
    }
}

/// `docker-credential-<name> get`, `server` on stdin.
fn run_helper(name: &str, server: &str) -> Result<Option<Credentials>, String> {
    let program = format!("docker-credential-{name}");
    let mut child = Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {program}: {}", e.kind()))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(server.as_bytes());
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("{program} failed: {}", e.kind()))?;
    if !out.status.success() {
        // The protocol's "no credentials" answer; anything else is an error, reported
        // by status only (a helper's output could hold a secret).
        let text = String::from_utf8_lossy(&out.stdout).to_lowercase()
            + &String::from_utf8_lossy(&out.stderr).to_lowercase();
        if text.contains("credentials not found") || text.contains("not found") {
            return Ok(None);
        }
        return Err(format!("{program} get failed ({})", out.status));
    }
    let parsed: HelperOutput = serde_json::from_slice(&out.stdout)
        .map_err(|_| format!("{program} get printed something that is not credentials JSON"))?;
    if parsed.username.is_empty() && parsed.secret.is_empty() {
        return Ok(None);
    }
    Ok(Some(Credentials {
        username: parsed.username,
        password: parsed.secret,
    }))
}

/// The key `docker login` stores `registry`'s credentials under: Docker Hub's
/// `https://index.docker.io/v1/`, any other registry its `host[:port]`.
pub fn server_key(registry: &str) -> String {
    if is_docker_hub(registry) {
        DOCKER_HUB_SERVER.to_string()
    } else {
        registry.to_string()
    }
}

/// Where `smidge login` put the credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stored {
    /// In `config.json` (`auths`), at this path.
    File(PathBuf),
    /// With `docker-credential-<name>`.
    Helper(String),
}

/// Reads `config.json` as JSON (every key kept, so a rewrite loses nothing), or `{}`.
fn read_value(path: &Path, registry: &str) -> Result<serde_json::Value, RegistryError> {
    let err = |reason: String| RegistryError::Credentials {
        registry: registry.into(),
        reason,
    };
    match std::fs::read(path) {
        Ok(text) => {
            parse(&text, path).map_err(err)?;
            let value: serde_json::Value = serde_json::from_slice(&text)
                .map_err(|_| err(format!("{} is not a Docker config", path.display())))?;
            if value.is_object() {
                Ok(value)
            } else {
                Err(err(format!("{} is not a JSON object", path.display())))
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(serde_json::json!({})),
        Err(e) => Err(err(format!("cannot read {}: {}", path.display(), e.kind()))),
    }
}

/// Writes `value` to `path` as `docker login` does: mode 0600, through a temporary file
/// in the same directory renamed over it, so a reader sees the old file or the new one.
fn write_value(
    path: &Path,
    value: &serde_json::Value,
    registry: &str,
) -> Result<(), RegistryError> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let err = |what: &Path, e: std::io::Error| RegistryError::Credentials {
        registry: registry.into(),
        reason: format!("cannot write {}: {}", what.display(), e.kind()),
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| err(dir, e))?;
    let mut text = serde_json::to_vec_pretty(value).expect("a JSON value serializes");
    text.push(b'\n');
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("config.json");
    let tmp = dir.join(format!(".{name}.smidge-{}", std::process::id()));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut f| f.write_all(&text).and_then(|()| f.sync_all()));
    if let Err(e) = written.and_then(|()| std::fs::rename(&tmp, path)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(err(path, e));
    }
    Ok(())
}

/// The helper that holds `registry`'s credentials: `credHelpers[registry]`, else
/// `credsStore`.
fn helper_for(value: &serde_json::Value, registry: &str) -> Option<String> {
    let named = value
        .get("credHelpers")
        .and_then(|h| h.as_object())
        .and_then(|h| h.iter().find(|(k, _)| same_registry(k, registry)))
        .and_then(|(_, v)| v.as_str());
    named
        .or_else(|| value.get("credsStore").and_then(|v| v.as_str()))
        .filter(|n| !n.is_empty())
        .map(str::to_string)
}

/// `docker-credential-<name> VERB` with `input` on stdin; an error says the status only.
fn helper_call(name: &str, verb: &str, input: &[u8]) -> Result<(), String> {
    let program = format!("docker-credential-{name}");
    let mut child = Command::new(&program)
        .arg(verb)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run {program}: {}", e.kind()))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(input);
    }
    let status = child
        .wait()
        .map_err(|e| format!("{program} failed: {}", e.kind()))?;
    if !status.success() {
        return Err(format!("{program} {verb} failed ({status})"));
    }
    Ok(())
}

/// Stores `credentials` for `registry` where docker would: its credential helper when
/// the config names one, else `auths` in `config.json`.
pub fn store(registry: &str, credentials: &Credentials) -> Result<Stored, RegistryError> {
    let err = |reason: String| RegistryError::Credentials {
        registry: registry.into(),
        reason,
    };
    let path =
        docker_config_path().ok_or_else(|| err("neither DOCKER_CONFIG nor HOME is set".into()))?;
    let mut value = read_value(&path, registry)?;
    let key = server_key(registry);
    if let Some(helper) = helper_for(&value, registry) {
        let input = serde_json::json!({
            "ServerURL": key,
            "Username": credentials.username,
            "Secret": credentials.password,
        });
        helper_call(&helper, "store", input.to_string().as_bytes()).map_err(err)?;
        return Ok(Stored::Helper(helper));
    }
    let auth = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:{}", credentials.username, credentials.password));
    let root = value.as_object_mut().expect("checked to be an object");
    let auths = root.entry("auths").or_insert_with(|| serde_json::json!({}));
    if !auths.is_object() {
        *auths = serde_json::json!({});
    }
    let auths = auths.as_object_mut().expect("an object");
    auths.retain(|k, _| !same_registry(k, registry));
    auths.insert(key, serde_json::json!({ "auth": auth }));
    write_value(&path, &value, registry)?;
    Ok(Stored::File(path))
}

/// Removes `registry`'s credentials (helper and `auths` both); whether there were any
/// in `config.json` or a helper was asked to erase them.
pub fn erase(registry: &str) -> Result<bool, RegistryError> {
    let err = |reason: String| RegistryError::Credentials {
        registry: registry.into(),
        reason,
    };
    let Some(path) = docker_config_path() else {
        return Ok(false);
    };
    let mut value = read_value(&path, registry)?;
    let mut removed = false;
    if let Some(helper) = helper_for(&value, registry) {
        // A helper that has nothing for this server may fail; docker ignores that too.
        removed |= helper_call(&helper, "erase", server_key(registry).as_bytes()).is_ok();
    }
    let had = value
        .get_mut("auths")
        .and_then(|a| a.as_object_mut())
        .map(|auths| {
            let before = auths.len();
            auths.retain(|k, _| !same_registry(k, registry));
            before != auths.len()
        })
        .unwrap_or(false);
    if had {
        write_value(&path, &value, registry)?;
    }
    let _ = &err;
    Ok(removed || had)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(json: &str) -> DockerConfig {
        serde_json::from_str(json).unwrap()
    }

    fn no_helper(_: &str, _: &str) -> Result<Option<Credentials>, String> {
        panic!("no helper expected")
    }

    #[test]
    fn auths_base64_matches_host_with_or_without_scheme() {
        // "alice:s3cr:et" — a password may hold a colon.
        let c =
            config(r#"{"auths":{"https://r.example:5000/v1/":{"auth":"YWxpY2U6czNjcjpldA=="}}}"#);
        let got = lookup_in(&c, "r.example:5000", &no_helper)
            .unwrap()
            .unwrap();
        assert_eq!(got.username, "alice");
        assert_eq!(got.password, "s3cr:et");
        assert_eq!(lookup_in(&c, "other:5000", &no_helper).unwrap(), None);
        assert!(!format!("{got:?}").contains("s3cr"));
    }

    /// Found by `fuzz/` (target `docker_config`): serde's message for a value of the
    /// wrong type quotes it, so a token written where an object belongs was printed.
    #[test]
    fn a_bad_config_is_not_quoted() {
        let path = Path::new("/home/u/.docker/config.json");
        for (text, what) in [
            (
                r#"{"auths":{"ghcr.io":{"uscr.io":"ghMMMcr"},"credsStore":"desktop"}"#,
                "a value of the wrong type at line 1, column 64",
            ),
            (
                r#"{"auths":{"ghcr.io":"dXNlcjpwYXNzd29yZA=="}}"#,
                "a value of the wrong type at line 1, column 42",
            ),
            (
                r#"{"auths":{"ghcr.io":"#,
                "it ends too early at line 1, column 20",
            ),
            ("{not json", "not JSON at line 1, column 2"),
        ] {
            let Err(e) = parse(text.as_bytes(), path) else {
                panic!("{text} parsed")
            };
            assert_eq!(
                e,
                format!("/home/u/.docker/config.json is not a Docker config ({what})")
            );
        }
    }

    #[test]
    fn docker_hub_aliases() {
        let c = config(r#"{"auths":{"https://index.docker.io/v1/":{"auth":"dTpw"}}}"#);
        let got = lookup_in(&c, "docker.io", &no_helper).unwrap().unwrap();
        assert_eq!((got.username.as_str(), got.password.as_str()), ("u", "p"));
    }

    #[test]
    fn helpers_come_first_and_get_the_server() {
        let c = config(
            r#"{"auths":{"r.example":{"auth":"dTpw"}},"credHelpers":{"r.example":"pass"},"credsStore":"desktop"}"#,
        );
        let helper = |name: &str, server: &str| {
            assert_eq!((name, server), ("pass", "r.example"));
            Ok(Some(Credentials {
                username: "h".into(),
                password: "x".into(),
            }))
        };
        assert_eq!(
            lookup_in(&c, "r.example", &helper)
                .unwrap()
                .unwrap()
                .username,
            "h"
        );
        // credsStore for any other host; "not found" falls back to auths.
        let store = |name: &str, server: &str| {
            assert_eq!((name, server), ("desktop", DOCKER_HUB_SERVER));
            Ok(None)
        };
        assert_eq!(lookup_in(&c, "docker.io", &store).unwrap(), None);
    }

    #[test]
    fn a_bad_auth_entry_is_an_error_without_its_value() {
        let c = config(r#"{"auths":{"r.example":{"auth":"!!not-base64!!"}}}"#);
        let e = lookup_in(&c, "r.example", &no_helper)
            .unwrap_err()
            .to_string();
        assert!(!e.contains("not-base64"), "{e}");
        assert!(e.contains("docker login"), "{e}");
    }
}
