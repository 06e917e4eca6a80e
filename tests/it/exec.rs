//! Every amd64 and 386 payload executed for real, with no Docker: natively, under
//! qemu-user (portable fit), and `pause` as PID 1 of a new PID namespace. Issue #2.

use crate::support::process::*;
use smidge::{Fit, Program};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

#[test]
#[ignore = "needs x86, binfmt"]
fn hello_prints_exactly_its_message() {
    if !require_all() {
        return;
    }
    let dir = crate::support::tempdir();
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
    for platform in crate::support::platforms() {
        for fit in Fit::ALL {
            for message in &messages {
                let exe =
                    write_payload(dir.path(), &Program::Hello(message.clone()), platform, fit);
                for runner in runners(platform, fit) {
                    let out = crate::support::output_of_new_executable(&mut command(&runner, &exe))
                        .unwrap();
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
#[ignore = "needs x86, binfmt"]
fn exit_returns_its_code() {
    if !require_all() {
        return;
    }
    let dir = crate::support::tempdir();
    for platform in crate::support::platforms() {
        for fit in Fit::ALL {
            for code in [0u8, 1, 42, 127, 128, 255] {
                let exe = write_payload(dir.path(), &Program::Exit(code), platform, fit);
                for runner in runners(platform, fit) {
                    let out = crate::support::output_of_new_executable(&mut command(&runner, &exe))
                        .unwrap();
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

#[test]
#[ignore = "needs x86, binfmt"]
fn pause_as_ordinary_process_stops_on_term_and_int_and_survives_stop_cont() {
    if !require_all() {
        return;
    }
    let dir = crate::support::tempdir();
    for platform in crate::support::platforms() {
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

#[test]
#[ignore = "needs x86, unshare"]
fn pause_as_pid1_exits_0_on_sigterm_within_half_a_second() {
    if !(crate::support::require("x86") && crate::support::require("unshare")) {
        return;
    }
    let dir = crate::support::tempdir();
    for platform in crate::support::platforms() {
        for fit in Fit::ALL {
            let exe = write_payload(dir.path(), &Program::Pause, platform, fit);
            let runs = runners(platform, fit);
            for (runner, sig) in runs.iter().flat_map(|r| [(r, "TERM"), (r, "INT")]) {
                let (mut unshare, pid1) = spawn_pid1(runner, &exe, &[]);
                // qemu-user takes a while to start, longer on a loaded machine (ppc64le
                // under CI's load used CPU 100 ms in): wait until no CPU time is used for
                // 100 ms, for at most 5 s. A pause that spins never settles, and the check
                // below fails.
                let mut ticks = cpu_ticks(pid1);
                let settling = Instant::now();
                loop {
                    std::thread::sleep(Duration::from_millis(100));
                    let now = cpu_ticks(pid1);
                    let settled = now == ticks;
                    ticks = now;
                    if settled || settling.elapsed() > Duration::from_secs(5) {
                        break;
                    }
                }
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

/// Whether process `pid` ignores SIGCHLD (`SigIgn` in /proc: bit 16 is signal 17; qemu-user
/// passes a guest's SIG_IGN on to the host).
fn ignores_sigchld(pid: u32) -> bool {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return false;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("SigIgn:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .is_some_and(|mask| mask & (1 << 16) != 0)
}

#[test]
#[ignore = "needs x86, unshare, nsenter"]
fn pause_as_pid1_reaps_orphans() {
    if !(crate::support::require("x86")
        && crate::support::require("unshare")
        && crate::support::require("nsenter"))
    {
        return;
    }
    let dir = crate::support::tempdir();
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

    for platform in crate::support::platforms() {
        for fit in Fit::ALL {
            let exe = write_payload(dir.path(), &Program::Pause, platform, fit);
            for runner in runners(platform, fit) {
                let (mut unshare, pid1) = spawn_pid1(&runner, &exe, &[]);
                // Orphans come after pause has set SIGCHLD to SIG_IGN, as in a pod: a child
                // that is already a zombie of PID 1 before then stays one (the kernel reaps
                // at exit or reparenting only). Under qemu on a loaded machine getting there
                // can take longer than the orphans take to appear.
                assert!(
                    crate::support::wait_until(Duration::from_secs(10), || ignores_sigchld(pid1)),
                    "{platform} {fit} {runner:?}: pause never set SIGCHLD to SIG_IGN"
                );
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
