//! Every amd64 and 386 payload executed for real, with no Docker: natively, under
//! qemu-user (portable fit), and `pause` as PID 1 of a new PID namespace. Issue #2.

mod support;

use smidge::elf;
use smidge::{Fit, Platform, Program};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn write_payload(dir: &Path, program: &Program, platform: Platform, fit: Fit) -> PathBuf {
    let bytes = elf::build(program, platform, fit).unwrap().bytes;
    let path = dir.join(format!(
        "{}-{}-{fit}",
        program.name(),
        platform.architecture()
    ));
    std::fs::write(&path, bytes).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn qemu(platform: Platform) -> &'static str {
    match platform {
        Platform::Amd64 => "qemu-x86_64",
        Platform::I386 => "qemu-i386",
        Platform::Arm64 => "qemu-aarch64",
        Platform::ArmV7 => "qemu-arm",
        Platform::Riscv64 => "qemu-riscv64",
        Platform::Ppc64le => "qemu-ppc64le",
        Platform::S390x => "qemu-s390x",
    }
}

fn native(platform: Platform) -> bool {
    matches!(platform, Platform::Amd64 | Platform::I386)
}

/// The ways a payload is run: amd64 and 386 natively, the others under qemu-user; and the
/// portable fit also the other way: under qemu-user (x86), or executed directly, which the
/// kernel hands to qemu-user-static through binfmt_misc (the others).
fn runners(platform: Platform, fit: Fit) -> Vec<Vec<String>> {
    let qemu = vec![qemu(platform).to_string()];
    let mut r = vec![if native(platform) {
        vec![]
    } else {
        qemu.clone()
    }];
    if fit == Fit::Portable {
        r.push(if native(platform) { qemu } else { vec![] });
    }
    r
}

fn command(runner: &[String], exe: &Path) -> Command {
    match runner.split_first() {
        None => Command::new(exe),
        Some((first, rest)) => {
            let mut c = Command::new(first);
            c.args(rest).arg(exe);
            c
        }
    }
}

fn require_all() -> bool {
    support::require("x86")
        && support::require("binfmt")
        && support::platforms()
            .iter()
            .all(|&p| support::require(qemu(p)))
}

#[test]
fn hello_prints_exactly_its_message() {
    if !require_all() {
        return;
    }
    let dir = support::tempdir();
    let messages: Vec<Vec<u8>> = vec![
        b"Hello, world!\n".to_vec(),
        Vec::new(),
        b"\0".to_vec(),
        // Short messages go into header holes: one for each hole size.
        b"abc".to_vec(),
        b"abcdefgh\n".to_vec(),
        b"abcdefghijk\n".to_vec(),
        // 40 bytes: bit 5 of the length set, which the 386 kernel-fit hello leaves to the
        // planner (its exit status would be len & 0x20).
        b"0123456789012345678901234567890123456789".to_vec(),
        "h\u{e9}llo, w\u{f6}rld \u{1f980}\n".as_bytes().to_vec(),
        (0..=255u8).collect(),
        (0..(1 << 20) + 3).map(|i| (i * 7 % 251) as u8).collect(),
    ];
    for platform in support::platforms() {
        for fit in Fit::ALL {
            for message in &messages {
                let exe =
                    write_payload(dir.path(), &Program::Hello(message.clone()), platform, fit);
                for runner in runners(platform, fit) {
                    let out =
                        support::output_of_new_executable(&mut command(&runner, &exe)).unwrap();
                    assert!(
                        out.stdout == *message && out.status.code() == Some(0),
                        "{platform} {fit} {runner:?}: {}-byte message: got {} bytes, {}",
                        message.len(),
                        out.stdout.len(),
                        out.status
                    );
                }
            }
        }
    }
}

#[test]
fn exit_returns_its_code() {
    if !require_all() {
        return;
    }
    let dir = support::tempdir();
    for platform in support::platforms() {
        for fit in Fit::ALL {
            for code in [0u8, 1, 42, 127, 128, 255] {
                let exe = write_payload(dir.path(), &Program::Exit(code), platform, fit);
                for runner in runners(platform, fit) {
                    let out =
                        support::output_of_new_executable(&mut command(&runner, &exe)).unwrap();
                    assert_eq!(
                        out.status.code(),
                        Some(i32::from(code)),
                        "{platform} {fit} {runner:?}"
                    );
                    assert!(out.stdout.is_empty());
                }
            }
        }
    }
}

/// Spawns `cmd`, retrying while its freshly written executable is still open for writing
/// in a child another test thread forked (ETXTBSY until that child execs).
// The child goes back to the caller, which waits for it.
#[allow(clippy::zombie_processes)]
fn spawn(cmd: &mut Command) -> Child {
    let start = Instant::now();
    loop {
        match cmd.spawn() {
            Err(e)
                if e.kind() == std::io::ErrorKind::ExecutableFileBusy
                    && start.elapsed() < Duration::from_secs(5) =>
            {
                std::thread::sleep(Duration::from_millis(10))
            }
            other => return other.unwrap(),
        }
    }
}

/// Waits for `child` to exit, up to `limit`.
fn wait_within(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    None
}

fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args(["-s", sig, &pid.to_string()])
        .status()
        .unwrap();
    assert!(ok.success(), "kill -s {sig} {pid}");
}

/// State letter of /proc/PID/stat ('S' sleeping, 'R' running, 'Z' zombie, ...).
fn state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(") ")
        .and_then(|(_, rest)| rest.chars().next())
}

/// CPU ticks (utime + stime) a process used.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest = stat.rsplit_once(") ").unwrap().1;
    let f: Vec<&str> = rest.split(' ').collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

#[test]
fn pause_as_ordinary_process_stops_on_term_and_int_and_survives_stop_cont() {
    if !require_all() {
        return;
    }
    let dir = support::tempdir();
    for platform in support::platforms() {
        for fit in Fit::ALL {
            let exe = write_payload(dir.path(), &Program::Pause, platform, fit);
            for runner in runners(platform, fit) {
                for sig in ["TERM", "INT"] {
                    let mut child = spawn(&mut command(&runner, &exe));
                    std::thread::sleep(Duration::from_millis(150));
                    assert!(
                        child.try_wait().unwrap().is_none(),
                        "{platform} {fit}: pause exited by itself"
                    );
                    // Stopped and continued (what SIGSTOP/SIGCONT do to a waiting syscall):
                    // it must keep waiting, not exit.
                    signal(child.id(), "STOP");
                    std::thread::sleep(Duration::from_millis(50));
                    signal(child.id(), "CONT");
                    std::thread::sleep(Duration::from_millis(100));
                    assert!(
                        child.try_wait().unwrap().is_none(),
                        "{platform} {fit} {runner:?}: exited after STOP/CONT"
                    );
                    assert_eq!(state(child.id()), Some('S'), "waits asleep");
                    signal(child.id(), sig);
                    let status = wait_within(&mut child, Duration::from_millis(500));
                    assert_eq!(
                        status.and_then(|s| s.code()),
                        Some(0),
                        "{platform} {fit} {runner:?}: SIG{sig} → {status:?}"
                    );
                }
            }
        }
    }
}

/// `unshare --pid --fork [RUNNER] EXE ARGS`: the payload (or qemu-user running it) is PID 1
/// of a new PID namespace. Returns the unshare process and PID 1's PID as the host sees it.
// The child goes back to the caller, which waits for it.
#[allow(clippy::zombie_processes)]
fn spawn_pid1(runner: &[String], exe: &Path, args: &[&str]) -> (Child, u32) {
    let mut child = spawn(
        Command::new("unshare")
            .args(["--pid", "--fork", "--kill-child", "--"])
            .args(runner)
            .arg(exe)
            .args(args),
    );
    let start = Instant::now();
    loop {
        let children = std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", child.id()))
            .unwrap_or_default();
        if let Some(pid) = children.split_whitespace().next() {
            let pid: u32 = pid.parse().unwrap();
            // Wait for unshare's child to have exec'd.
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let argv0 = cmdline.split(|&b| b == 0).next().unwrap_or_default();
            if !argv0.is_empty() && !argv0.ends_with(b"unshare") {
                return (child, pid);
            }
        }
        if start.elapsed() > Duration::from_secs(5) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{} did not start", exe.display());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn pause_as_pid1_exits_0_on_sigterm_within_half_a_second() {
    if !(support::require("x86") && support::require("unshare")) {
        return;
    }
    let dir = support::tempdir();
    for platform in support::platforms() {
        for fit in Fit::ALL {
            let exe = write_payload(dir.path(), &Program::Pause, platform, fit);
            let runs = runners(platform, fit);
            for (runner, sig) in runs.iter().flat_map(|r| [(r, "TERM"), (r, "INT")]) {
                let (mut unshare, pid1) = spawn_pid1(runner, &exe, &[]);
                std::thread::sleep(Duration::from_millis(100));
                let ticks = cpu_ticks(pid1);
                std::thread::sleep(Duration::from_millis(300));
                assert_eq!(
                    cpu_ticks(pid1),
                    ticks,
                    "{platform} {fit} {runner:?}: pause uses CPU while waiting"
                );
                let sent = Instant::now();
                signal(pid1, sig);
                let status = wait_within(&mut unshare, Duration::from_millis(500));
                assert_eq!(
                    status.and_then(|s| s.code()),
                    Some(0),
                    "{platform} {fit} {runner:?}: PID 1 got SIG{sig}: {status:?} after {:?}",
                    sent.elapsed()
                );
            }
        }
    }
}

/// Hands `pid1` two orphans, one already a zombie and one still running when its parent
/// exits, and reports whether either is left as a zombie child of `pid1` afterwards.
fn leaves_zombie(pid1: u32) -> bool {
    // The shell starts two sleepers and becomes `sleep 0.4`, which never waits: the 0.2 s
    // sleeper is a zombie by the time its parent exits, the 0.6 s one is still running.
    // Both are reparented to the namespace's init, which must reap them.
    let status = Command::new("nsenter")
        .args(["--target", &pid1.to_string(), "--pid", "--"])
        .args(["sh", "-c", "sleep 0.2 & sleep 0.6 & exec sleep 0.4"])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    std::thread::sleep(Duration::from_millis(1000));
    let children =
        std::fs::read_to_string(format!("/proc/{pid1}/task/{pid1}/children")).unwrap_or_default();
    children
        .split_whitespace()
        .any(|c| state(c.parse().unwrap()) == Some('Z'))
}

#[test]
fn pause_as_pid1_reaps_orphans() {
    if !(support::require("x86") && support::require("unshare") && support::require("nsenter")) {
        return;
    }
    let dir = support::tempdir();
    // The check can fail: a PID 1 that never waits (sleep) keeps the orphan as a zombie.
    let sleep = PathBuf::from(
        String::from_utf8(
            Command::new("sh")
                .args(["-c", "command -v sleep"])
                .output()
                .unwrap()
                .stdout,
        )
        .unwrap()
        .trim(),
    );
    let (mut control, pid1) = spawn_pid1(&[], &std::fs::canonicalize(sleep).unwrap(), &["30"]);
    assert!(
        leaves_zombie(pid1),
        "control: `sleep` as PID 1 should leave a zombie"
    );
    control.kill().unwrap();
    let _ = control.wait();

    for platform in support::platforms() {
        for fit in Fit::ALL {
            let exe = write_payload(dir.path(), &Program::Pause, platform, fit);
            for runner in runners(platform, fit) {
                let (mut unshare, pid1) = spawn_pid1(&runner, &exe, &[]);
                assert!(
                    !leaves_zombie(pid1),
                    "{platform} {fit} {runner:?}: pause left a zombie"
                );
                signal(pid1, "TERM");
                let status = wait_within(&mut unshare, Duration::from_millis(500));
                assert_eq!(status.and_then(|s| s.code()), Some(0));
            }
        }
    }
}
