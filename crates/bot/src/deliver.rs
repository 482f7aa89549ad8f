//! The bot as the outbox's deliverer for chat groups. The engine writes one `group_actions`
//! notice for the live decisions on a group message, in the same commit as the decisions;
//! the bot reads the due ones, enforces them in the group (see [`enforce`]) and records each
//! as delivered. A bot stopped at any point enforces after its restart what was not
//! recorded; a group whose implementation is away has its notices retried with backoff,
//! in order (only the oldest pending notice of a group is ever due), and dead after the
//! last attempt, listed for admins to replay like any notice.
//!
//! [`enforce`]: crate::enforce

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use steward_model::{Audience, Decision, Post, StoredNotice};
use steward_onebot::ActionError;
use steward_server::webhooks::Settings;

use crate::Bot;
use crate::enforce::{self, Target};

/// Retries: 8 attempts, from 2 s doubling to 5 minutes; the outbox read every 200 ms when
/// nothing woke the deliverer sooner.
pub const SETTINGS: Settings = Settings {
    attempts: 8,
    backoff_base: Duration::from_secs(2),
    backoff_cap: Duration::from_secs(300),
    timeout: Duration::from_secs(10),
    concurrency: 64,
    poll: Duration::from_millis(200),
};

/// Why a notice was not delivered this time.
#[derive(Debug)]
enum Failure {
    /// Worth another attempt: the implementation was away or slow, the store failed.
    Retry(String),
}

/// Delivers group notices until the runtime stops.
pub(crate) async fn run(bot: Arc<Bot>) {
    loop {
        let store = bot.state.store.clone();
        let due = tokio::task::spawn_blocking(move || {
            store.due_notices(Utc::now(), &[Audience::Group], SETTINGS.concurrency)
        })
        .await;
        let due = match due {
            Ok(Ok(due)) => due,
            Ok(Err(e)) => {
                tracing::error!("reading the group outbox: {e}");
                Vec::new()
            }
            Err(e) => {
                tracing::error!("reading the group outbox: {e}");
                Vec::new()
            }
        };
        if due.is_empty() {
            let _ = tokio::time::timeout(SETTINGS.poll, bot.wake.notified()).await;
            continue;
        }
        // Each is the head of a different group: they go at once.
        let mut attempts = tokio::task::JoinSet::new();
        for notice in due {
            let bot = bot.clone();
            attempts.spawn(async move {
                let result = deliver(&bot, &notice).await;
                record(&bot, &notice, result).await;
            });
        }
        while attempts.join_next().await.is_some() {}
    }
}

/// Enforces one notice's decisions.
async fn deliver(bot: &Bot, notice: &StoredNotice) -> Result<(), Failure> {
    let n = &notice.notice;
    let store = bot.state.store.clone();
    let body = n.body.clone();
    let loaded = tokio::task::spawn_blocking(move || -> Result<_, String> {
        let post_id = body["post_id"].as_str().unwrap_or_default();
        let row = store.entity("post", post_id).map_err(|e| e.to_string())?;
        let post = row.and_then(|row| serde_json::from_str::<Post>(&row.body).ok());
        let mut decisions = Vec::new();
        for id in body["decisions"].as_array().into_iter().flatten().filter_map(|v| v.as_str()) {
            decisions.extend(store.decision(id).map_err(|e| e.to_string())?);
        }
        Ok((post, decisions))
    })
    .await
    .map_err(|e| Failure::Retry(e.to_string()))?
    .map_err(Failure::Retry)?;
    let (Some(post), decisions) = loaded else {
        tracing::warn!(notice = %n.id, "group actions for a message that is not stored; nothing done");
        return Ok(());
    };
    let Some(target) = Target::of_post(&post) else {
        tracing::warn!(notice = %n.id, post = %post.id, "group actions for a message no bot received; nothing done");
        return Ok(());
    };
    let policy = bot.state.policy();
    let rules = policy.groups.iter().find(|g| g.id == target.group_id);
    let refs: Vec<&Decision> = decisions.iter().filter(|d| !d.shadow).collect();
    let plan = enforce::plan(&target, &refs, rules);
    let client = bot.client(&target.self_id);
    for action in plan.actions.iter().chain(&plan.notice).chain(&plan.admin_details) {
        match client.call(action).await {
            Ok(_) => {}
            // The implementation refused (no permission, the message already gone): another
            // attempt would be refused too.
            Err(ActionError::Failed { .. }) => {
                tracing::warn!(group = %target.group_id, action = action.name(), "group action refused");
            }
            Err(e) => return Err(Failure::Retry(format!("{}: {e}", action.name()))),
        }
    }
    Ok(())
}

/// Records an attempt's result in the outbox.
async fn record(bot: &Bot, notice: &StoredNotice, result: Result<(), Failure>) {
    let store = bot.state.store.clone();
    let id = notice.notice.id.clone();
    let attempts = notice.delivery.attempts + 1;
    let recorded = tokio::task::spawn_blocking(move || match result {
        Ok(()) => store.notice_delivered(&id, Utc::now()),
        Err(Failure::Retry(error)) => {
            let dead = attempts >= SETTINGS.attempts;
            let wait = steward_server::deliver::backoff(&SETTINGS, attempts, 1.0);
            let next = Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default();
            tracing::warn!(notice = %id, attempts, dead, "group actions not delivered: {error}");
            store.notice_failed(&id, attempts, next, &error, dead)
        }
    })
    .await;
    match recorded {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::error!("recording a group delivery: {e}"),
        Err(e) => tracing::error!("recording a group delivery: {e}"),
    }
}
