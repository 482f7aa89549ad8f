//! `steward bot` and `steward demo --bot` as processes: a OneBot simulator connects to the
//! bot's reverse WebSocket with its token, and a group's rule is enforced.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::{STEWARD, free_port};
use steward_onebot::event::Role;
use steward_onebot::simulator::{Format, SimError, Simulator};

const GROUPS: &str = r#"
[[groups]]
id = "900100"
name = "Rust learners"
language = "en"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bot_takes_a_napcat_connection_with_its_token_and_enforces_the_group_rules() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    bot_process(&dir, &["--data-dir", data.to_str().unwrap()]).await;
}

/// The same on PostgreSQL, in a schema of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bot_runs_on_postgresql() {
    let Ok(url) = std::env::var("STEWARD_TEST_DATABASE_URL") else {
        assert_ne!(std::env::var("STEWARD_REQUIRE_POSTGRES").as_deref(), Ok("1"), "STEWARD_TEST_DATABASE_URL is unset");
        eprintln!("PostgreSQL skipped: set STEWARD_TEST_DATABASE_URL to run it");
        return;
    };
    let schema = format!("steward_bot_{}", std::process::id());
    // The synchronous client runs a runtime of its own: off this one.
    let sql = |statement: String, url: String| {
        tokio::task::spawn_blocking(move || {
            postgres::Client::connect(&url, postgres::NoTls).unwrap().batch_execute(&statement).unwrap()
        })
    };
    sql(format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"), url.clone()).await.unwrap();
    let sep = if url.contains('?') { '&' } else { '?' };
    let scoped = format!("{url}{sep}options=-csearch_path%3D{schema}");
    let dir = tempfile::tempdir().unwrap();
    bot_process(&dir, &["--database-url", &scoped]).await;
    sql(format!("DROP SCHEMA {schema} CASCADE"), url).await.unwrap();
}

/// Runs `steward bot` on the store `store` names, connects a simulator and checks a group
/// rule is enforced and its decision served by the API.
async fn bot_process(dir: &tempfile::TempDir, store: &[&str]) {
    let policy = dir.path().join("policy.toml");
    let default = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../policies/default.toml")).unwrap();
    std::fs::write(&policy, format!("{default}\n{GROUPS}")).unwrap();
    let created = Command::new(STEWARD).args(["keys", "create", "--role", "admin"]).args(store).output().unwrap();
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let admin = String::from_utf8(created.stdout).unwrap().trim().to_string();
    let (port, api) = (free_port(), free_port());
    let mut child = Command::new(STEWARD)
        .arg("bot")
        .args(store)
        .arg("--policy")
        .arg(&policy)
        .args(["--listen", &format!("127.0.0.1:{port}"), "--api-listen", &format!("127.0.0.1:{api}")])
        .args(["--access-token", "napcat-token"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("ws://127.0.0.1:{port}/onebot/v11/ws");
    let mut sim = None;
    for _ in 0..200 {
        match Simulator::connect(&url, Some("napcat-token"), "30000").await {
            Ok(s) => {
                sim = Some(s);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    let sim = sim.expect("the bot listens");
    assert!(matches!(Simulator::connect(&url, Some("wrong"), "30001").await, Err(SimError::Refused(401))));

    sim.send_group_text("900100", "777", Role::Member, "Good morning, all", Format::CQ).await.unwrap();
    let id =
        sim.send_group_text("900100", "777", Role::Member, "我想问一个关于生命周期的问题。", Format::CQ).await.unwrap();
    let mut actions = Vec::new();
    while let Some(a) = sim.next_action(Duration::from_secs(2)).await {
        actions.push(a);
    }
    let names: Vec<&str> = actions.iter().map(|a| a.action.as_str()).collect();
    assert_eq!(names, ["delete_msg", "set_group_ban", "send_group_msg"]);
    assert_eq!(actions[0].params["message_id"].to_string(), id);

    // The decision is in the store like any other, and the API serves it.
    let decisions: serde_json::Value = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{api}/v1/decisions?subject=777"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let text = decisions.to_string();
    assert!(text.contains("group-language@onebot:30000:") && text.contains("\"muted\""), "{text}");
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn the_bot_demo_plays_both_groups() {
    let out = Command::new(STEWARD).args(["demo", "--bot"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    for part in [
        "bot: recalls message",
        "bot: mutes 502 for 600 s",
        "[AI] I withdrew my answer because it was not in this group's language (en).",
        "I know of no fact-check about that message.",
        "is rated false by 中国互联网联合辟谣平台",
        "18 messages went through the engine",
    ] {
        assert!(stdout.contains(part), "no {part:?} in:\n{stdout}");
    }
}
