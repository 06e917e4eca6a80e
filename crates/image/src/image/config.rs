//! The image configuration (OCI image-spec `config.md`; also what Docker reads as the
//! "image JSON"), built in one place for the built-in programs and for `pack`.
//!
//! Small serde structs in `oci_spec`'s field order (which is the spec's), not
//! `oci_spec::image::ImageConfiguration` itself: its `Labels` are a `HashMap`, which
//! serializes in an order that changes from run to run, and the bytes must not (the
//! config's digest is the image ID). Every field is OPTIONAL and left out when empty,
//! except:
//!
//! - `created` — OPTIONAL; only when `SOURCE_DATE_EPOCH` is given, so the bytes do not
//!   change between runs.
//! - `architecture`, `os` — REQUIRED; `variant` when the platform has one.
//! - `rootfs` — REQUIRED: `type` "layers" and the `diff_ids` (sha256 of each *uncompressed*
//!   layer tar, which Docker verifies).
//!
//! `config` holds, in this order: `User`, `ExposedPorts` (a map of `port/proto` to `{}`),
//! `Env`, `Entrypoint`, `Cmd`, `WorkingDir`, `Labels` (sorted by key), `StopSignal`.

use std::collections::BTreeMap;

use serde::Serialize;

use super::Digest;
use smidge_elf::Platform;

/// What an image runs and how: the `config` object of the image configuration. Every
/// field is OPTIONAL in the spec and left out when empty.
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
    /// `ExposedPorts`: `port/proto` keys, written in the order given (a port given twice
    /// once).
    pub exposed_ports: Vec<String>,
    /// `StopSignal`, e.g. `SIGTERM`.
    pub stop_signal: Option<String>,
}

#[derive(Serialize)]
struct Configuration<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    created: Option<String>,
    architecture: &'static str,
    os: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    variant: Option<&'static str>,
    config: Container<'a>,
    rootfs: RootFs,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Container<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty", serialize_with = "port_map")]
    exposed_ports: Vec<&'a str>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    env: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    entrypoint: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cmd: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    working_dir: Option<&'a str>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    labels: BTreeMap<&'a str, &'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop_signal: Option<&'a str>,
}

/// `["80/tcp"]` as `{"80/tcp":{}}`, in the order given.
fn port_map<S: serde::Serializer>(ports: &Vec<&str>, s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut m = s.serialize_map(Some(ports.len()))?;
    for p in ports {
        m.serialize_entry(p, &BTreeMap::<(), ()>::new())?;
    }
    m.end()
}

#[derive(Serialize)]
struct RootFs {
    #[serde(rename = "type")]
    typ: &'static str,
    diff_ids: Vec<String>,
}

/// The configuration JSON of an image that runs `run` on `platform`, with the layers
/// `diff_ids` (base first), created at `created` seconds when given.
pub fn configuration_json(
    platform: Platform,
    run: &RunConfig,
    diff_ids: &[Digest],
    created: Option<u64>,
) -> Vec<u8> {
    let mut ports: Vec<&str> = Vec::new();
    for p in &run.exposed_ports {
        if !ports.contains(&p.as_str()) {
            ports.push(p);
        }
    }
    let config = Configuration {
        created: created.map(rfc3339),
        architecture: platform.architecture(),
        os: platform.os(),
        variant: platform.variant(),
        config: Container {
            user: run.user.as_deref(),
            exposed_ports: ports,
            env: &run.env,
            entrypoint: run.entrypoint.as_deref(),
            cmd: run.cmd.as_deref(),
            working_dir: run.working_dir.as_deref(),
            labels: run
                .labels
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect(),
            stop_signal: run.stop_signal.as_deref(),
        },
        rootfs: RootFs {
            typ: "layers",
            diff_ids: diff_ids.iter().map(Digest::to_string).collect(),
        },
    };
    serde_json::to_vec(&config).expect("a configuration always serializes")
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
    fn labels_are_sorted() {
        let run = RunConfig {
            labels: vec![("z".into(), "1".into()), ("a".into(), "2".into())],
            ..Default::default()
        };
        let s = String::from_utf8(configuration_json(Platform::ArmV7, &run, &[], None)).unwrap();
        assert!(
            s.contains(r#""variant":"v7","config":{"Labels":{"a":"2","z":"1"}}"#),
            "{s}"
        );
    }

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
        let a = configuration_json(Platform::Amd64, &run, &[d], None);
        for _ in 0..5 {
            assert_eq!(a, configuration_json(Platform::Amd64, &run, &[d], None));
        }
        let s = String::from_utf8(a).unwrap();
        assert!(s.contains(r#""Env":["B=2","A=1"]"#), "{s}");
        assert!(
            s.contains(r#""ExposedPorts":{"80/tcp":{},"53/udp":{}}"#),
            "{s}"
        );
        assert!(s.contains(r#""StopSignal":"SIGINT""#), "{s}");
        assert!(s.contains(r#""WorkingDir":"/w""#), "{s}");
    }

    #[test]
    fn config_json_is_pinned() {
        let d = Digest::of(b"");
        let run = |entrypoint: &str, port: Option<&str>| RunConfig {
            entrypoint: Some(vec![entrypoint.into()]),
            exposed_ports: port.into_iter().map(String::from).collect(),
            ..Default::default()
        };
        let c = configuration_json(Platform::Amd64, &run("/hello", None), &[d], None);
        assert_eq!(
            String::from_utf8(c).unwrap(),
            r#"{"architecture":"amd64","os":"linux","config":{"Entrypoint":["/hello"]},"rootfs":{"type":"layers","diff_ids":["sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"]}}"#
        );
        let c = configuration_json(Platform::I386, &run("/x", Some("8080/tcp")), &[d], Some(0));
        let s = String::from_utf8(c).unwrap();
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
