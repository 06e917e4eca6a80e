//! Interrupts (issue #14). SIGINT, SIGTERM or SIGHUP: every temporary file and directory
//! smidge made is removed ([`smidge_image::temp::remove_all`], which also stops anything
//! from being renamed into place afterwards, so a target that existed keeps its bytes),
//! then the process exits with 128 + the signal's number (130, 143, 129) and says nothing,
//! as docker and crane do. A second signal during that cleanup exits at once; one that
//! comes within [`SAME`] of the first is the same interrupt delivered twice (coreutils
//! `timeout` signals the command and then its whole process group) and changes nothing.
//!
//! The handler itself only sets a flag; the cleanup runs on a thread of its own that waits
//! for the signals (`signal_hook::iterator::Signals`), so it may take locks and allocate.
//! A signal the process was started with ignored stays ignored, as POSIX asks of
//! programs: `nohup smidge …` keeps going when the terminal hangs up, and a background job
//! of a non-interactive shell (SIGINT ignored) is not stopped by a Ctrl-C meant for the
//! foreground.

use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use signal_hook::low_level;

const HANDLED: [i32; 3] = [SIGINT, SIGTERM, SIGHUP];

/// A signal this soon after the first (50 ms, quicker than a person presses Ctrl-C twice)
/// is the first one again.
const SAME: u64 = 50_000_000;

/// When the first signal came (`CLOCK_MONOTONIC`, ns; 0 = none yet), set by its handler.
static FIRST: AtomicU64 = AtomicU64::new(0);

/// Installs the handlers and starts the thread that cleans up. Call before any work.
pub fn install() -> std::io::Result<()> {
    let handled: Vec<i32> = HANDLED.into_iter().filter(|&s| !ignored(s)).collect();
    for &sig in &handled {
        // SAFETY: the action is async-signal-safe: clock_gettime, atomics, _exit.
        unsafe {
            low_level::register(sig, move || {
                let now = monotonic_ns().max(1);
                match FIRST.compare_exchange(0, now, Ordering::SeqCst, Ordering::SeqCst) {
                    Ok(_) => {}
                    Err(first) if now.saturating_sub(first) >= SAME => low_level::exit(128 + sig),
                    Err(_) => {}
                }
            })?;
        }
    }
    let mut signals = Signals::new(&handled)?;
    thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            if let Some(sig) = signals.forever().next() {
                smidge_image::temp::remove_all();
                std::process::exit(128 + sig);
            }
        })?;
    Ok(())
}

/// Called when the command has returned, before its outcome is reported: after a signal,
/// that outcome (often an error the cleanup caused) is not the story, so wait for the
/// cleaning thread to end the process with the signal's status.
pub fn settle() {
    if FIRST.load(Ordering::SeqCst) != 0 {
        loop {
            thread::park();
        }
    }
}

/// `CLOCK_MONOTONIC` in nanoseconds (clock_gettime is async-signal-safe).
fn monotonic_ns() -> u64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid timespec to write to.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut t) };
    (t.tv_sec as u64).wrapping_mul(1_000_000_000) + t.tv_nsec as u64
}

/// Was `sig` ignored when the process started?
fn ignored(sig: i32) -> bool {
    // SAFETY: sigaction with a null new action only reads the current one into `old`.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        libc::sigaction(sig, std::ptr::null(), &mut old) == 0 && old.sa_sigaction == libc::SIG_IGN
    }
}
