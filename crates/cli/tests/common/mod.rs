//! Running `steward serve` as a process, for tests that kill and restart it.
#![allow(dead_code)] // Each test binary uses a part.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const STEWARD: &str = env!("CARGO_BIN_EXE_steward");

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `steward serve` on `dir` and `port`, once it answers `/healthz`.
pub fn serve(dir: &std::path::Path, port: u16) -> Child {
    serve_with(dir, port, |c| c)
}

/// [`serve`], with more arguments or environment set by `more`.
pub fn serve_with(dir: &std::path::Path, port: u16, more: impl FnOnce(&mut Command) -> &mut Command) -> Child {
    let mut command = Command::new(STEWARD);
    command
        .args(["serve", "--data-dir"])
        .arg(dir)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = more(&mut command).spawn().unwrap();
    // Generous: a loaded machine (or a JetStream cluster electing leaders under it) is slow
    // to start; a healthy start takes well under a second.
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if reqwest::blocking::get(format!("http://127.0.0.1:{port}/healthz")).is_ok_and(|r| r.status().is_success()) {
            return child;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("server did not start");
}

/// A key of `role` for the store in `dir`.
pub fn key(dir: &std::path::Path, role: &str) -> String {
    let out = Command::new(STEWARD).args(["keys", "create", "--role", role, "--data-dir"]).arg(dir).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// `STEWARD_TEST_NATS_URL`, set by `source scripts/nats.sh && start_nats_cluster`. Unset: the
/// test is skipped with a message, or fails when `STEWARD_REQUIRE_NATS=1`.
pub fn nats_url(test: &str) -> Option<String> {
    match std::env::var("STEWARD_TEST_NATS_URL") {
        Ok(u) if !u.trim().is_empty() => Some(u),
        _ => {
            assert!(
                std::env::var("STEWARD_REQUIRE_NATS").as_deref() != Ok("1"),
                "{test}: STEWARD_REQUIRE_NATS=1 but STEWARD_TEST_NATS_URL is not set \
                 (source scripts/nats.sh && start_nats_cluster)"
            );
            eprintln!(
                "{test}: skipped, STEWARD_TEST_NATS_URL is not set (source scripts/nats.sh && start_nats_cluster)"
            );
            None
        }
    }
}

/// `STEWARD_TEST_DATABASE_URL` (scripts/postgres.sh's `$PG_URL`), scoped to a fresh schema named
/// `schema`. Unset: the test is skipped with a message, or fails when
/// `STEWARD_REQUIRE_POSTGRES=1`.
pub fn database_url(test: &str, schema: &str) -> Option<String> {
    let url = match std::env::var("STEWARD_TEST_DATABASE_URL") {
        Ok(u) if !u.trim().is_empty() => u,
        _ => {
            assert!(
                std::env::var("STEWARD_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "{test}: STEWARD_REQUIRE_POSTGRES=1 but STEWARD_TEST_DATABASE_URL is not set \
                 (source scripts/postgres.sh && start_postgres; export STEWARD_TEST_DATABASE_URL=$PG_URL)"
            );
            eprintln!("{test}: skipped, STEWARD_TEST_DATABASE_URL is not set (source scripts/postgres.sh)");
            return None;
        }
    };
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}")).unwrap();
    let sep = if url.contains('?') { '&' } else { '?' };
    Some(format!("{url}{sep}options=-csearch_path%3D{schema}"))
}
