//! Publishing to a real registry (issue #4): Debian's `docker-registry`
//! (distribution 2.8) on 127.0.0.1, anonymous over HTTP, htpasswd over HTTPS
//! with a CA made by the test, and bearer tokens from a token issuer the test
//! runs; then what users pull with: skopeo, docker, containerd's `ctr`.
//!
//! Each test starts its own registry (tests/support/registry.rs) on its own
//! port, so the tests run in parallel and every reference is unique.

mod support;

use std::path::Path;
use std::process::{Command, Stdio};

use support::registry::{Mode, Registry};
use support::*;

// ---------------------------------------------------------------- helpers

/// `skopeo inspect`'s `Digest` of `reference`.
fn skopeo_digest(registry: &Registry, reference: &str) -> String {
    let json: serde_json::Value =
        serde_json::from_str(&registry.skopeo_inspect(reference, &[])).unwrap();
    json["Digest"].as_str().expect("Digest").to_owned()
}

/// `docker pull` (with `docker --config DIR` when credentials are needed, and
/// `--platform` when given) then `docker run --rm`: the container's stdout.
/// The pulled tag is removed afterwards.
fn docker_pull_run(reference: &str, config: Option<&Path>, platform: Option<&str>) -> String {
    let base = |cmd: &str| {
        let mut args: Vec<String> = Vec::new();
        if let Some(dir) = config {
            args.extend(["--config".into(), dir.display().to_string()]);
        }
        args.push(cmd.into());
        if let Some(p) = platform {
            args.extend(["--platform".into(), p.into()]);
        }
        args
    };
    let _pulled = Loaded {
        engine: "docker",
        tag: reference.to_owned(),
    };
    let mut pull = base("pull");
    pull.extend(["-q".into(), reference.into()]);
    docker_ok(&pull);
    let mut run = base("run");
    run.extend(["--rm".into(), reference.into()]);
    let out = docker(&run);
    assert!(out.status.success(), "docker {run:?}:\n{}", show(&out));
    String::from_utf8(out.stdout).unwrap()
}

// ---------------------------------------------------------------- harness

// The harness itself, with tools that are not smidge: an image smidge wrote
// to an OCI layout goes in with `skopeo copy` and comes out with `docker
// pull`, in every mode. If these fail, the registry setup is wrong, not the
// push client.
fn harness_round_trip(mode: Mode) {
    require!("docker", "skopeo");
    let Some(registry) = Registry::start(mode) else {
        return;
    };
    let dir = tempdir();
    let layout = dir.path().join("layout");
    ok([
        "hello",
        "harness",
        "--platform",
        "linux/amd64",
        "--format",
        "oci-dir",
        "-o",
        layout.to_str().unwrap(),
    ]);
    let reference = registry.reference("harness/hello:t");
    let out = Command::new("skopeo")
        .arg("copy")
        .args(
            registry
                .skopeo_flags()
                .iter()
                .map(|f| f.replace("--creds", "--dest-creds"))
                .map(|f| f.replace("--tls-verify", "--dest-tls-verify"))
                .map(|f| f.replace("--cert-dir", "--dest-cert-dir")),
        )
        .arg(format!("oci:{}", layout.display()))
        .arg(format!("docker://{reference}"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "skopeo copy:\n{}", show(&out));
    skopeo_digest(&registry, &reference);
    let config = registry.docker_config();
    let auth = (mode != Mode::Anonymous).then_some(config.path());
    assert_eq!(docker_pull_run(&reference, auth, None), "harness\n");
    if let Some(issuer) = &registry.issuer {
        assert!(issuer.issued() > 0, "no token was issued");
    }
}

#[test]
fn harness_anonymous() {
    harness_round_trip(Mode::Anonymous)
}

#[test]
fn harness_htpasswd_https() {
    harness_round_trip(Mode::Htpasswd)
}

#[test]
fn harness_token() {
    harness_round_trip(Mode::Token)
}

#[test]
fn harness_libtrust_key_id() {
    // The format of libtrust's key IDs on a fixed input, computed
    // independently: python3 -c "import hashlib, base64;
    // print(base64.b32encode(hashlib.sha256(b'').digest()[:30]))", then
    // groups of 4. (The registry accepting the issuer's tokens is the real
    // check: harness_token.)
    let id = support::registry::libtrust_key_id(b"");
    assert_eq!(
        id,
        "4OYM:IQUY:7QOB:JGX3:6TEJ:S35Z:EQT2:4QPE:MSNZ:GTFE:SWMR:W6CS"
    );
}
