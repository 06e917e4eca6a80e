//! The integration tests, one binary (as cargo and uv do), so `support` compiles once.
//!
//! Tests that need a tool this machine may lack (docker, podman, skopeo, umoci, qemu and
//! binfmt_misc, a registry, a PID namespace, a pty) are `#[ignore = "needs …"]`: plain
//! `cargo test` lists them as ignored instead of reporting a test that returned early as
//! passed. `cargo test -- --include-ignored` runs them, each skipping (or, under
//! `SMIDGE_TEST_STRICT=1`, failing) when its tool is missing; `scripts/test` does that,
//! strict.

#[macro_use]
mod support;

mod cli;
mod docker_e2e;
mod exec;
mod explain;
mod hostile;
mod interrupt;
mod oci_tools;
mod pack;
mod payloads;
mod pipeline;
mod push_cli;
mod quine;
mod registry;
mod serve;
mod snapshots;
mod wrap;
