//! The Docker `config.json` reader behind `smidge push` / `--push` credentials
//! (`registry::auth::lookup`, which reads `$DOCKER_CONFIG/config.json`): never a panic,
//! an error is one line, and it never quotes a value of the config (serde's "invalid
//! type: string \"…\"" would print a password or an `auth` token). `PATH` is pointed at
//! an empty directory, so a `credsStore` or `credHelpers` entry names a helper that
//! cannot be found (nothing is run).
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use smidge_image::registry::auth::lookup;

/// `$DOCKER_CONFIG/config.json`, set up once.
fn config() -> &'static PathBuf {
    static DIR: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, path) = DIR.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("smidge-fuzz-docker-config-")
            .tempdir()
            .unwrap();
        let empty = dir.path().join("bin");
        std::fs::create_dir(&empty).unwrap();
        // SAFETY: set once, before anything else in this process reads the environment
        // (libFuzzer runs one input at a time on this thread).
        unsafe {
            std::env::set_var("DOCKER_CONFIG", dir.path());
            std::env::set_var("PATH", &empty);
        }
        let path = dir.path().join("config.json");
        (dir, path)
    });
    path
}

/// Registries asked for: Docker Hub (looked up under its `https://index.docker.io/v1/`
/// key), a host with a port, a plain host.
const REGISTRIES: [&str; 3] = ["docker.io", "localhost:5000", "ghcr.io"];

/// The config is read whole; the inputs are a few KiB.
const LIMIT: usize = 1 << 20;

fuzz_target!(init: smidge_fuzz::limit_allocations(LIMIT), |data: &[u8]| {
    std::fs::write(config(), data).unwrap();
    for registry in REGISTRIES {
        if let Err(e) = lookup(registry) {
            let e = e.to_string();
            assert!(!e.contains('\n'), "{e}");
            assert!(!e.contains("string \""), "an error quotes the config: {e}");
        }
    }
});
