//! Snapshot tests of what users read (issue #14): every usage error (`tests/cmd/usage.trycmd`)
//! and every `--help` (`tests/cmd/help.trycmd`), run against the real binary in an empty
//! directory. `TRYCMD=overwrite cargo test --test it snapshots` rewrites them after an intended
//! change; the diff is the review.

#[test]
fn usage_errors_and_help() {
    trycmd::TestCases::new()
        .register_bin("smidge", std::path::Path::new(env!("CARGO_BIN_EXE_smidge")))
        .env("COLUMNS", "100")
        .case("tests/cmd/*.trycmd");
}
