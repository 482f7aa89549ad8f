//! 2,000 slow-loris sockets against `steward serve` limited to 256 file descriptors:
//! `/healthz` keeps answering.

use std::io::Write;
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const STEWARD: &str = env!("CARGO_BIN_EXE_steward");

#[test]
fn slow_loris_sockets_do_not_stop_healthz() {
    // This process holds the 2,000 sockets: raise its own limit as far as allowed.
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile);
    let wanted = limit.maximum.map_or(8192, |max| max.min(8192));
    rustix::process::setrlimit(
        rustix::process::Resource::Nofile,
        rustix::process::Rlimit { current: Some(wanted), maximum: limit.maximum },
    )
    .unwrap();
    assert!(wanted >= 2200, "the test needs 2,200 file descriptors; the hard limit is {wanted}");

    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut server = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -n 256 && exec {STEWARD} serve --data-dir {} --listen 127.0.0.1:{port}",
            dir.path().display()
        ))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let healthz = format!("http://127.0.0.1:{port}/healthz");
    let client = reqwest::blocking::Client::builder().timeout(Duration::from_secs(2)).build().unwrap();
    let up = |client: &reqwest::blocking::Client| client.get(&healthz).send().is_ok_and(|r| r.status().is_success());
    let deadline = Instant::now() + Duration::from_secs(20);
    while !up(&client) {
        assert!(Instant::now() < deadline, "server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }

    // 2,000 sockets, each sending part of a request line and then a byte now and then.
    let mut sockets: Vec<TcpStream> = Vec::new();
    for _ in 0..2000 {
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
            let _ = s.write_all(b"GET /healthz HTTP/1.1\r\nX-a: ");
            sockets.push(s);
        }
    }
    let attack = Instant::now();
    let mut answered = 0;
    let mut slowest = Duration::ZERO;
    while attack.elapsed() < Duration::from_secs(6) {
        for s in sockets.iter_mut().step_by(7) {
            let _ = s.write_all(b"a");
        }
        // A fresh connection each time, as a health checker makes.
        let fresh = reqwest::blocking::Client::builder().timeout(Duration::from_secs(2)).build().unwrap();
        let started = Instant::now();
        assert!(up(&fresh), "/healthz did not answer {:?} into the attack", attack.elapsed());
        slowest = slowest.max(started.elapsed());
        answered += 1;
        std::thread::sleep(Duration::from_millis(200));
    }
    let metrics = client.get(format!("http://127.0.0.1:{port}/metrics")).send().unwrap().text().unwrap();
    let displaced: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("steward_connections_displaced_total "))
        .and_then(|n| n.parse().ok())
        .unwrap();
    eprintln!(
        "{} slow-loris sockets open; /healthz answered {answered} times, slowest {slowest:?}; {displaced} displaced",
        sockets.len()
    );
    // The places under 256 descriptors were full, and newcomers made room.
    assert!(displaced >= 1500, "{displaced}");
    drop(sockets);
    server.kill().unwrap();
    let output = server.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
}
