//! The image configuration (OCI image-spec `config.md`; also what Docker reads as the
//! "image JSON").
//!
//! We use `oci_spec::image::ImageConfiguration`: with only the fields we set it serializes
//! to exactly the compact JSON we want (every optional field is skipped when `None`, field
//! order is the struct's), so no hand-made struct is needed. What we set:
//!
//! - `created` — OPTIONAL; only when `SOURCE_DATE_EPOCH` is given, so the bytes do not
//!   change between runs.
//! - `architecture`, `os` — REQUIRED; `variant` when the platform has one.
//! - `config.Entrypoint` — the one file of the layer.
//! - `rootfs` — REQUIRED: `type` "layers" and the `diff_ids` (sha256 of each *uncompressed*
//!   layer tar, which Docker verifies).

use oci_spec::image::{
    Arch, ConfigBuilder, ImageConfiguration, ImageConfigurationBuilder, Os, RootFsBuilder,
};

use super::Digest;
use crate::Error as ImageError;
use smidge_elf::Platform;

/// The configuration for a one-layer image that runs `entrypoint`, with `exposed_port`
/// (e.g. `8080/tcp`) in `ExposedPorts` when given.
pub fn image_configuration(
    platform: Platform,
    entrypoint: &str,
    diff_id: &Digest,
    created: Option<u64>,
    exposed_port: Option<&str>,
) -> Result<ImageConfiguration, ImageError> {
    let mut config = ConfigBuilder::default().entrypoint(vec![entrypoint.to_string()]);
    if let Some(port) = exposed_port {
        config = config.exposed_ports(vec![port.to_string()]);
    }
    let config = config
        .build()
        .map_err(|e| ImageError::Spec(e.to_string()))?;
    let rootfs = RootFsBuilder::default()
        .typ("layers")
        .diff_ids(vec![diff_id.to_string()])
        .build()
        .map_err(|e| ImageError::Spec(e.to_string()))?;
    let mut b = ImageConfigurationBuilder::default()
        .architecture(Arch::from(platform.architecture()))
        .os(Os::from(platform.os()))
        .config(config)
        .rootfs(rootfs);
    if let Some(v) = platform.variant() {
        b = b.variant(v);
    }
    if let Some(t) = created {
        b = b.created(rfc3339(t));
    }
    b.build().map_err(|e| ImageError::Spec(e.to_string()))
}

/// What a packed image runs and how (issue #5): the `config` fields of the image
/// configuration besides `Entrypoint`. Every field is OPTIONAL in the spec and left out
/// when empty.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunConfig {
    /// `Entrypoint`: the executable and its first arguments.
    pub entrypoint: Option<Vec<String>>,
    /// `Cmd`: default arguments to the entrypoint (or the command when there is none).
    pub cmd: Option<Vec<String>>,
    /// `Env`: `KEY=VALUE` entries, in the order given.
    pub env: Vec<String>,
    /// `Labels`: written sorted by key.
    pub labels: Vec<(String, String)>,
    /// `WorkingDir`.
    pub working_dir: Option<String>,
    /// `User`: `uid[:gid]` or a name.
    pub user: Option<String>,
    /// `ExposedPorts`: `port/proto` keys, written sorted.
    pub exposed_ports: Vec<String>,
    /// `StopSignal`, e.g. `SIGTERM`.
    pub stop_signal: Option<String>,
}

/// The configuration JSON of a packed image with `run`, for `platform`, with one layer
/// `diff_id`. Deterministic: object keys are written sorted (labels and exposed ports
/// are maps, which `oci_spec` holds as `HashMap`s). The JSON of the built-in programs
/// ([`image_configuration`] + [`to_json`]) is not affected.
pub fn run_configuration_json(
    platform: Platform,
    run: &RunConfig,
    diff_id: &Digest,
    created: Option<u64>,
) -> Result<Vec<u8>, ImageError> {
    fn spec(e: impl std::fmt::Display) -> ImageError {
        ImageError::Spec(e.to_string())
    }
    let mut c = ConfigBuilder::default();
    if let Some(e) = &run.entrypoint {
        c = c.entrypoint(e.clone());
    }
    if let Some(cmd) = &run.cmd {
        c = c.cmd(cmd.clone());
    }
    if !run.env.is_empty() {
        c = c.env(run.env.clone());
    }
    if !run.labels.is_empty() {
        c = c.labels(
            run.labels
                .iter()
                .cloned()
                .collect::<std::collections::HashMap<_, _>>(),
        );
    }
    if let Some(w) = &run.working_dir {
        c = c.working_dir(w.clone());
    }
    if let Some(u) = &run.user {
        c = c.user(u.clone());
    }
    if !run.exposed_ports.is_empty() {
        c = c.exposed_ports(run.exposed_ports.clone());
    }
    if let Some(s) = &run.stop_signal {
        c = c.stop_signal(s.clone());
    }
    let config = c.build().map_err(spec)?;
    let rootfs = RootFsBuilder::default()
        .typ("layers")
        .diff_ids(vec![diff_id.to_string()])
        .build()
        .map_err(spec)?;
    let mut b = ImageConfigurationBuilder::default()
        .architecture(Arch::from(platform.architecture()))
        .os(Os::from(platform.os()))
        .config(config)
        .rootfs(rootfs);
    if let Some(v) = platform.variant() {
        b = b.variant(v);
    }
    if let Some(t) = created {
        b = b.created(rfc3339(t));
    }
    let image = b.build().map_err(spec)?;
    // Through serde_json::Value, whose maps are sorted: HashMap order is not.
    let value = serde_json::to_value(&image).map_err(|e| ImageError::Spec(e.to_string()))?;
    Ok(serde_json::to_vec(&value).expect("a JSON value always serializes"))
}

/// The compact JSON bytes of `config` (no whitespace, fields in the struct's order).
pub fn to_json(config: &ImageConfiguration) -> Vec<u8> {
    serde_json::to_vec(config).expect("an image configuration always serializes")
}

/// Seconds since the epoch as RFC 3339 UTC, e.g. `2023-11-14T22:13:20Z`.
pub fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// An `ExposedPorts` key from `PORT` or `PORT/tcp|udp|sctp`, as the config's `ExposedPorts` key.
pub fn exposed_port(s: &str) -> Result<String, String> {
    let (port, proto) = s.split_once('/').unwrap_or((s, "tcp"));
    let proto = proto.to_ascii_lowercase();
    match port.parse::<u16>() {
        Ok(n) if n > 0 && matches!(proto.as_str(), "tcp" | "udp" | "sctp") => {
            Ok(format!("{n}/{proto}"))
        }
        _ => Err(format!(
            "`{s}`: expected PORT[/tcp|udp|sctp] with PORT from 1 to 65535"
        )),
    }
}

/// `StopSignal` from a signal name (with or without SIG) or number, as `SIGNAME` or the
/// number.
pub fn stop_signal(s: &str) -> Result<String, String> {
    const NAMES: [&str; 31] = [
        "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2",
        "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG",
        "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS",
    ];
    if let Ok(n) = s.parse::<u8>() {
        if (1..=64).contains(&n) {
            return Ok(n.to_string());
        }
    }
    let upper = s.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if NAMES.contains(&name) || name.starts_with("RTMIN") || name.starts_with("RTMAX") {
        return Ok(format!("SIG{name}"));
    }
    Err(format!(
        "`{s}`: expected a signal name (SIGTERM, INT, ...) or number"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_known_values() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(4_107_542_399), "2100-02-28T23:59:59Z");
    }

    #[test]
    fn run_config_is_sorted_and_deterministic() {
        let d = Digest::of(b"");
        let run = RunConfig {
            entrypoint: Some(vec!["/busybox".into()]),
            cmd: Some(vec!["sh".into()]),
            env: vec!["B=2".into(), "A=1".into()],
            labels: (0..20).map(|i| (format!("k{i}"), "v".into())).collect(),
            exposed_ports: vec!["80/tcp".into(), "53/udp".into()],
            stop_signal: Some("SIGINT".into()),
            working_dir: Some("/w".into()),
            user: Some("1:2".into()),
        };
        let a = run_configuration_json(Platform::Amd64, &run, &d, None).unwrap();
        for _ in 0..5 {
            assert_eq!(
                a,
                run_configuration_json(Platform::Amd64, &run, &d, None).unwrap()
            );
        }
        let s = String::from_utf8(a).unwrap();
        assert!(s.contains(r#""Env":["B=2","A=1"]"#), "{s}");
        assert!(
            s.contains(r#""ExposedPorts":{"53/udp":{},"80/tcp":{}}"#),
            "{s}"
        );
        assert!(s.contains(r#""StopSignal":"SIGINT""#), "{s}");
        assert!(s.contains(r#""WorkingDir":"/w""#), "{s}");
    }

    #[test]
    fn config_json_is_pinned() {
        let d = Digest::of(b"");
        let c = image_configuration(Platform::Amd64, "/hello", &d, None, None).unwrap();
        assert_eq!(
            String::from_utf8(to_json(&c)).unwrap(),
            r#"{"architecture":"amd64","os":"linux","config":{"Entrypoint":["/hello"]},"rootfs":{"type":"layers","diff_ids":["sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"]}}"#
        );
        let c = image_configuration(Platform::I386, "/x", &d, Some(0), Some("8080/tcp")).unwrap();
        let s = String::from_utf8(to_json(&c)).unwrap();
        assert!(
            s.starts_with(
                r#"{"created":"1970-01-01T00:00:00Z","architecture":"386","os":"linux","#
            ),
            "{s}"
        );
        assert!(
            s.contains(r#""config":{"ExposedPorts":{"8080/tcp":{}},"Entrypoint":["/x"]}"#),
            "{s}"
        );
    }
}
