//! `serve` (issue #6) run for real: every platform and fit natively or under qemu-user (and
//! through binfmt_misc), answering curl over HTTP/1.0 and 1.1, not held up by slow or
//! silent clients, still serving after a flood, stopping at once as PID 1, refusing a taken
//! port; `wrk` load with no errors; `docker run -p` and `docker stop`.

use crate::support::process::*;
use smidge::program::{Response, Serve};
use smidge::{Fit, Platform, Program};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

/// A port no other test (or test binary running at the same time) uses, below Linux's
/// ephemeral range (32768 and up): the flood's client sockets take ports from there, and a
/// server port one of them holds would fail to bind.
fn port() -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let base = 10_000 + (std::process::id() % 200) as u16 * 100;
    loop {
        let p = base + NEXT.fetch_add(1, Ordering::Relaxed) % 100;
        if std::net::TcpListener::bind(("0.0.0.0", p)).is_ok() {
            return p;
        }
    }
}

fn serve(port: u16, response: &Response) -> Program {
    Program::Serve(Serve::new(port, response).unwrap())
}

/// A running server; killed on drop.
struct Server {
    child: Child,
    what: String,
}

impl Server {
    /// Runs `exe` with `runner` and waits until it accepts connections.
    fn start(runner: &[String], exe: &Path, port: u16) -> Server {
        let child = spawn(command(runner, exe).stdin(Stdio::null()));
        Server::wait(child, port, format!("{} {runner:?}", exe.display()))
    }

    fn wait(mut child: Child, port: u16, what: String) -> Server {
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = child.try_wait().unwrap() {
                panic!("{what}: exited before serving: {status}");
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "{what}: not serving on {port}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        Server { child, what }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends `request`, reads until the server closes; panics on a reset or after 5 s.
fn exchange(port: u16, request: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(request).unwrap();
    let mut got = Vec::new();
    s.read_to_end(&mut got)
        .unwrap_or_else(|e| panic!("port {port}: {e} after {} bytes", got.len()));
    got
}

const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: test\r\n\r\n";

/// `curl -si --http1.x`: what curl received, headers and body, byte for byte.
fn curl(port: u16, version: &str) -> Vec<u8> {
    let out = Command::new("curl")
        .args(["-si", "--max-time", "5", version])
        .arg(format!("http://127.0.0.1:{port}/any/path?q=1"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "curl {version}: {}",
        crate::support::show(&out)
    );
    out.stdout
}

/// The default response's payload on a fresh port, portable fit, and how to run it.
fn default_server(dir: &Path, platform: Platform) -> (u16, std::path::PathBuf, Vec<String>) {
    let port = port();
    let exe = write_payload(
        dir,
        &serve(port, &Response::default()),
        platform,
        Fit::Portable,
    );
    (port, exe, first_runner(platform, Fit::Portable))
}

/// The first way each platform runs (natively for x86, qemu-user for the others).
fn first_runner(platform: Platform, fit: Fit) -> Vec<String> {
    runners(platform, fit).swap_remove(0)
}

fn threads(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .count()
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
#[ignore = "needs curl, x86, binfmt"]
fn curl_gets_the_exact_response_over_http_1_0_and_1_1() {
    if !(require_all() && crate::support::require("curl")) {
        return;
    }
    let dir = crate::support::tempdir();
    let custom = Response {
        status: 404,
        content_type: "application/octet-stream".into(),
        headers: vec!["X-Smidge: yes".into(), "Cache-Control: no-store".into()],
        // Every byte value, CR and LF included: the body is bytes, not text.
        body: (0..300u32).map(|i| (i * 7 % 256) as u8).collect(),
    };
    for platform in crate::support::platforms() {
        for fit in Fit::ALL {
            for response in [Response::default(), custom.clone()] {
                let port = port();
                let program = serve(port, &response);
                let Program::Serve(s) = &program else {
                    unreachable!()
                };
                let want = s.response.clone();
                let exe = write_payload(dir.path(), &program, platform, fit);
                for runner in runners(platform, fit) {
                    let server = Server::start(&runner, &exe, port);
                    for version in ["--http1.1", "--http1.0"] {
                        assert!(
                            curl(port, version) == want,
                            "{platform} {fit} {runner:?} {version}: not the response"
                        );
                    }
                    // A request larger than one read: drained, answered, no reset.
                    let mut big = b"POST / HTTP/1.1\r\nContent-Length: 70000\r\n\r\n".to_vec();
                    big.resize(big.len() + 70_000, b'x');
                    assert!(exchange(port, &big) == want, "{}: big request", server.what);
                    // Natively the threads are the workers alone (qemu adds its own).
                    if native(platform) && runner.is_empty() {
                        let pid = server.child.id();
                        let all = || threads(pid) == Serve::WORKERS as usize;
                        assert!(
                            crate::support::wait_until(Duration::from_secs(2), all),
                            "{}: {} threads",
                            server.what,
                            threads(pid)
                        );
                    }
                }
            }
        }
    }
}

/// issue #6: "Body and headers are any bytes the user gives (size limit documented, at least
/// 1 MiB)": a body of 1 MiB + 3 bytes arrives whole, on every platform.
#[test]
#[ignore = "needs x86, binfmt"]
fn a_body_of_a_mebibyte_arrives_whole() {
    if !require_all() {
        return;
    }
    let dir = crate::support::tempdir();
    let body: Vec<u8> = (0..(1 << 20) + 3).map(|i| (i * 13 % 251) as u8).collect();
    let response = Response {
        body: body.clone(),
        ..Default::default()
    };
    for platform in crate::support::platforms() {
        for fit in Fit::ALL {
            let port = port();
            let program = serve(port, &response);
            let exe = write_payload(dir.path(), &program, platform, fit);
            let server = Server::start(&first_runner(platform, fit), &exe, port);
            let got = exchange(port, GET);
            assert!(got.ends_with(&body), "{}: {} bytes", server.what, got.len());
            assert!(
                got.starts_with(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1048579\r\n"
                ),
                "{}",
                server.what
            );
        }
    }
}

#[test]
#[ignore = "needs x86, binfmt"]
fn slow_and_silent_clients_do_not_hold_up_others() {
    if !require_all() {
        return;
    }
    let dir = crate::support::tempdir();
    for platform in crate::support::platforms() {
        let (port, exe, runner) = default_server(dir.path(), platform);
        let server = Server::start(&runner, &exe, port);
        // One client connects and says nothing; another sends its request one byte a second.
        let silent = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let slow = std::thread::spawn(move || {
            let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            for b in GET.iter().take(3) {
                s.write_all(&[*b]).unwrap();
                std::thread::sleep(Duration::from_secs(1));
            }
            let mut got = Vec::new();
            let _ = s.read_to_end(&mut got);
            got
        });
        std::thread::sleep(Duration::from_millis(200));
        let mut worst = Duration::ZERO;
        for _ in 0..20 {
            let t = Instant::now();
            assert_eq!(exchange(port, GET).len(), 97, "{}", server.what);
            worst = worst.max(t.elapsed());
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(
            worst < Duration::from_secs(1),
            "{}: a request took {worst:?} beside a silent and a slow client",
            server.what
        );
        // The slow client got the response once (then end of file), not a reset.
        let got = slow.join().unwrap();
        assert!(got.starts_with(b"HTTP/1.1 200 OK\r\n"), "{}", server.what);
        assert_eq!(got.len(), 97, "{}: slow client", server.what);
        // The silent one is let go after the timeout.
        let mut silent = silent;
        silent
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let t = Instant::now();
        assert_eq!(silent.read(&mut [0; 16]).unwrap_or(0), 0);
        assert!(t.elapsed() < Duration::from_secs(4), "{}", server.what);
    }
}

#[test]
#[ignore = "needs x86, binfmt"]
fn a_flood_of_dropped_connections_leaves_it_serving_with_the_same_resources() {
    if !require_all() {
        return;
    }
    let dir = crate::support::tempdir();
    for platform in crate::support::platforms() {
        let (port, exe, runner) = default_server(dir.path(), platform);
        let server = Server::start(&runner, &exe, port);
        let pid = server.child.id();
        assert_eq!(exchange(port, GET).len(), 97);
        // It serves as soon as it listens; the threads start a moment later.
        std::thread::sleep(Duration::from_millis(300));
        let (threads_before, rss_before) = (threads(pid), rss_kib(pid));
        // 10,000 connections opened and dropped at once, then 1,000 that send a request and
        // reset (SO_LINGER 0) before reading the answer.
        for _ in 0..10_000 {
            drop(TcpStream::connect(("127.0.0.1", port)).unwrap());
        }
        for _ in 0..1_000 {
            let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
            socket2::SockRef::from(&s)
                .set_linger(Some(Duration::ZERO))
                .unwrap();
            let _ = (&s).write_all(GET);
            let _ = s.shutdown(Shutdown::Both);
        }
        for _ in 0..20 {
            assert_eq!(exchange(port, GET).len(), 97, "{}", server.what);
        }
        assert_eq!(threads(pid), threads_before, "{}: threads", server.what);
        let rss = rss_kib(pid);
        assert!(
            rss <= rss_before + 1024,
            "{}: resident memory grew from {rss_before} to {rss} KiB",
            server.what
        );
    }
}

#[test]
#[ignore = "needs unshare, nsenter, x86, binfmt"]
fn as_pid_1_it_stops_at_once_on_sigterm_and_sigint_and_reaps_orphans() {
    if !(require_all() && crate::support::require("unshare") && crate::support::require("nsenter"))
    {
        return;
    }
    let dir = crate::support::tempdir();
    for platform in crate::support::platforms() {
        for fit in Fit::ALL {
            let port = port();
            let exe = write_payload(
                dir.path(),
                &serve(port, &Response::default()),
                platform,
                fit,
            );
            let runner = first_runner(platform, fit);
            for sig in ["TERM", "INT"] {
                let (unshare, pid1) = spawn_pid1(&runner, &exe, &[]);
                let mut server = Server::wait(unshare, port, format!("{platform} {fit} PID 1"));
                assert_eq!(exchange(port, GET).len(), 97);
                if sig == "TERM" {
                    assert!(!leaves_zombie(pid1), "{}: left a zombie", server.what);
                }
                let sent = Instant::now();
                signal(pid1, sig);
                let status = wait_within(&mut server.child, Duration::from_secs(1));
                assert_eq!(
                    status.and_then(|s| s.code()),
                    Some(0),
                    "{}: SIG{sig} → {status:?} after {:?}",
                    server.what,
                    sent.elapsed()
                );
            }
        }
    }
}

#[test]
#[ignore = "needs x86, binfmt"]
fn a_taken_port_exits_98_eaddrinuse() {
    if !require_all() {
        return;
    }
    let dir = crate::support::tempdir();
    for platform in crate::support::platforms() {
        let (port, exe, runner) = default_server(dir.path(), platform);
        let _first = Server::start(&runner, &exe, port);
        let mut second = spawn(&mut command(&runner, &exe));
        let status = wait_within(&mut second, Duration::from_secs(5));
        let _ = second.kill();
        assert_eq!(status.and_then(|s| s.code()), Some(98), "{platform}");
    }
}

/// issue #6: "wrk with 64 connections ... zero socket errors and zero non-2xx". The rate
/// itself is the benchmark's (scripts/bench, beside nginx); here only correctness under load.
#[test]
#[ignore = "needs x86, wrk"]
fn wrk_with_64_connections_sees_no_errors() {
    if !(crate::support::require("x86") && crate::support::require("wrk")) {
        return;
    }
    let dir = crate::support::tempdir();
    let port = port();
    let exe = write_payload(
        dir.path(),
        &serve(port, &Response::default()),
        Platform::Amd64,
        Fit::Portable,
    );
    let _server = Server::start(&[], &exe, port);
    let out = Command::new("wrk")
        .args(["-t2", "-c64", "-d3s"])
        .arg(format!("http://127.0.0.1:{port}/"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", crate::support::show(&out));
    assert!(!text.contains("Socket errors"), "{text}");
    assert!(!text.contains("Non-2xx"), "{text}");
    let requests: u64 = text
        .lines()
        .find_map(|l| l.trim().split_once(" requests in "))
        .map(|(n, _)| n.trim().parse().unwrap())
        .unwrap_or_else(|| panic!("{text}"));
    assert!(requests > 1000, "{text}");
}

// ---------------------------------------------------------------- docker

/// `docker run -p HOST:PORT` reaches it from the host; `docker stop` returns in under a
/// second with exit 0; the image lists the port in ExposedPorts. Every platform: the foreign
/// ones through binfmt_misc.
#[test]
#[ignore = "needs docker, curl"]
fn docker_run_publishes_the_port_and_docker_stop_is_instant() {
    if !(crate::support::require("docker") && crate::support::require("curl")) {
        return;
    }
    let dir = crate::support::tempdir();
    for platform in crate::support::platforms() {
        let tag = crate::support::test_tag(&format!("serve-{}", platform.architecture()));
        let archive = dir
            .path()
            .join(format!("serve-{}.tar.gz", platform.architecture()));
        crate::support::ok([
            "serve",
            "--port",
            "80",
            "--body",
            "from docker\n",
            "--platform",
            &platform.to_string(),
            "-t",
            &tag,
            "-o",
            archive.to_str().unwrap(),
        ]);
        let loaded = crate::support::Loaded::load("docker", &archive, &tag);
        assert_eq!(
            loaded.inspect("{{json .Config.ExposedPorts}}"),
            r#"{"80/tcp":{}}"#
        );
        let host_port = port();
        let id = crate::support::docker_ok([
            "run",
            "-d",
            "--platform",
            &platform.to_string(),
            "-p",
            &format!("127.0.0.1:{host_port}:80"),
            &tag,
        ]);
        let container = crate::support::Container(id.clone());
        let answered = crate::support::wait_until(Duration::from_secs(10), || {
            Command::new("curl")
                .args(["-sf", "--max-time", "2"])
                .arg(format!("http://127.0.0.1:{host_port}/"))
                .output()
                .is_ok_and(|o| o.status.success() && o.stdout == b"from docker\n")
        });
        assert!(answered, "{platform}: no answer through docker run -p");
        let started = Instant::now();
        crate::support::docker_ok(["stop", &id]);
        let took = started.elapsed();
        // An ignored SIGTERM costs docker's whole 10 s grace and ends in SIGKILL (exit 137,
        // checked below); 2 s leaves room for a busy machine (1.01-1.14 s seen while other
        // tests ran beside this one).
        assert!(
            took < Duration::from_secs(2),
            "{platform}: docker stop took {took:?}"
        );
        assert_eq!(
            crate::support::docker_ok(["inspect", "--format", "{{.State.ExitCode}}", &id]),
            "0"
        );
        drop(container);
    }
}
