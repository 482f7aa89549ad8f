//! The outbox (issue 17, part 6): notices stored with the batch that caused them and once
//! only, due one at a time per recipient in order, retried, dead and replayed.

use steward_model::{Audience, DeliveryState, Notice, NoticeKind};

use super::*;

suite!(
    notices_are_stored_with_their_cause_and_once,
    only_the_oldest_pending_notice_of_a_recipient_is_due,
    a_dead_notice_releases_the_next_and_can_be_replayed,
    audiences_are_delivered_apart,
);

fn notice(id: &str, recipient: &str, audience: Audience, at: DateTime<Utc>) -> Notice {
    Notice {
        id: id.to_string(),
        recipient: recipient.to_string(),
        audience,
        kind: NoticeKind::Decision,
        subject: id.to_string(),
        created_at: at,
        body: json!({"explanation": "未标识的AI生成内容", "nul": "\u{0}", "n": 1}),
    }
}

fn commit_notices(store: &dyn Store, notices: &[Notice]) {
    store.commit(&Batch { notices: notices.to_vec(), ..Batch::default() }).unwrap();
}

fn ids(notices: &[steward_model::StoredNotice]) -> Vec<&str> {
    notices.iter().map(|n| n.notice.id.as_str()).collect()
}

const ACCOUNTS: &[Audience] = &[Audience::Account];

fn notices_are_stored_with_their_cause_and_once(db: &dyn Db) {
    let store = db.open().unwrap();
    let (d, c) = decision("e1", "ai", "a1", Some("p1"), t0());
    let mut batch = decisions_batch(&[(d.clone(), c)]);
    batch.events.push(event("e1", "a1", "p1", t0()));
    let n = notice(&Notice::decision_id(&d.id), "a1", Audience::Account, t0());
    batch.notices.push(n.clone());
    batch.notices.push(n.clone()); // twice in one batch
    store.commit(&batch).unwrap();
    store.commit(&batch).unwrap(); // the cause replayed
    let stored = store.notices_for("a1", 10).unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].notice, n);
    assert_eq!(stored[0].delivery.state, DeliveryState::Pending);
    assert_eq!(stored[0].delivery.attempts, 0);
    assert_eq!(stored[0].delivery.next_attempt_at, t0());
    assert_eq!(store.notice_backlog().unwrap(), 1);
    // A batch that fails after its notices were written stores none of them.
    match db.backend() {
        "sqlite" => db.exec(
            "CREATE TRIGGER boom BEFORE INSERT ON audit WHEN NEW.action = 'boom'
             BEGIN SELECT RAISE(ABORT, 'forced failure'); END;",
        ),
        _ => db.exec(
            "CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN IF NEW.action = 'boom' THEN RAISE EXCEPTION 'forced failure'; END IF; RETURN NEW; END $$;
             CREATE TRIGGER boom BEFORE INSERT ON audit FOR EACH ROW EXECUTE FUNCTION boom();",
        ),
    }
    let bad = Batch {
        notices: vec![notice("n-bad", "a1", Audience::Account, t0())],
        audit: vec![record("boom", "n-bad", json!({}))],
        ..Batch::default()
    };
    let err = store.commit(&bad).unwrap_err();
    assert!(err.to_string().contains("forced failure"), "{err}");
    assert_eq!(ids(&store.notices_for("a1", 10).unwrap()), vec![n.id.as_str()]);
}

fn only_the_oldest_pending_notice_of_a_recipient_is_due(db: &dyn Db) {
    let store = db.open().unwrap();
    let at = t0();
    commit_notices(
        store.as_ref(),
        &[
            notice("a1-1", "a1", Audience::Account, at),
            notice("a2-1", "a2", Audience::Account, at + Duration::seconds(1)),
            notice("a1-2", "a1", Audience::Account, at + Duration::seconds(2)),
        ],
    );
    commit_notices(store.as_ref(), &[notice("a1-3", "a1", Audience::Account, at)]);
    // Nothing is due before it was made.
    assert!(store.due_notices(at - Duration::seconds(1), ACCOUNTS, 10).unwrap().is_empty());
    let later = at + Duration::minutes(1);
    assert_eq!(ids(&store.due_notices(later, ACCOUNTS, 10).unwrap()), vec!["a1-1", "a2-1"]);
    assert_eq!(store.due_notices(later, ACCOUNTS, 1).unwrap().len(), 1);

    // a1's first fails and waits: its later notices wait behind it.
    store.notice_failed("a1-1", 1, later + Duration::seconds(10), "503 Service Unavailable", false).unwrap();
    assert_eq!(ids(&store.due_notices(later, ACCOUNTS, 10).unwrap()), vec!["a2-1"]);
    let retry = later + Duration::seconds(10);
    let due = store.due_notices(retry, ACCOUNTS, 10).unwrap();
    assert_eq!(ids(&due), vec!["a2-1", "a1-1"]);
    assert_eq!(due[1].delivery.attempts, 1);
    assert_eq!(due[1].delivery.last_error.as_deref(), Some("503 Service Unavailable"));

    // Delivered, the next in outbox order comes up.
    store.notice_delivered("a1-1", retry).unwrap();
    store.notice_delivered("a2-1", retry).unwrap();
    assert_eq!(ids(&store.due_notices(retry, ACCOUNTS, 10).unwrap()), vec!["a1-2"]);
    store.notice_delivered("a1-2", retry).unwrap();
    assert_eq!(ids(&store.due_notices(retry, ACCOUNTS, 10).unwrap()), vec!["a1-3"]);
    let a1 = store.notices_for("a1", 10).unwrap();
    assert_eq!(ids(&a1), vec!["a1-3", "a1-2", "a1-1"], "newest first");
    assert_eq!(a1[2].delivery.state, DeliveryState::Delivered);
    assert_eq!(a1[2].delivery.attempts, 2);
    assert_eq!(a1[2].delivery.delivered_at, Some(retry));
    assert_eq!(a1[2].delivery.last_error, None);
    assert_eq!(store.notice_backlog().unwrap(), 1);

    // Bookkeeping on a notice no longer pending changes nothing.
    store.notice_failed("a1-1", 9, retry, "late", true).unwrap();
    assert_eq!(store.notices_for("a1", 10).unwrap()[2], a1[2]);
}

fn a_dead_notice_releases_the_next_and_can_be_replayed(db: &dyn Db) {
    let store = db.open().unwrap();
    let at = t0();
    commit_notices(
        store.as_ref(),
        &[notice("n1", "a1", Audience::Account, at), notice("n2", "a1", Audience::Account, at)],
    );
    store.notice_failed("n1", 16, at + Duration::hours(6), "connection refused", true).unwrap();
    let dead = store.dead_notices(10).unwrap();
    assert_eq!(ids(&dead), vec!["n1"]);
    assert_eq!(dead[0].delivery.state, DeliveryState::Dead);
    assert_eq!(dead[0].delivery.attempts, 16);
    assert_eq!(ids(&store.due_notices(at, ACCOUNTS, 10).unwrap()), vec!["n2"]);
    assert_eq!(store.notice_backlog().unwrap(), 1);

    let now = at + Duration::days(1);
    let (was_dead, replayed) = store.replay_notice("n1", now).unwrap().unwrap();
    assert!(was_dead);
    assert_eq!(replayed.delivery.state, DeliveryState::Pending);
    assert_eq!(replayed.delivery.attempts, 0);
    assert_eq!(replayed.delivery.next_attempt_at, now);
    assert!(store.dead_notices(10).unwrap().is_empty());
    assert_eq!(ids(&store.due_notices(now, ACCOUNTS, 10).unwrap()), vec!["n1"]);
    // Replaying what is not dead changes nothing; an unknown id is none.
    let (was_dead, n2) = store.replay_notice("n2", now + Duration::days(1)).unwrap().unwrap();
    assert!(!was_dead);
    assert_eq!(n2.delivery.next_attempt_at, at);
    assert!(store.replay_notice("nope", now).unwrap().is_none());
}

fn audiences_are_delivered_apart(db: &dyn Db) {
    let store = db.open().unwrap();
    let at = t0();
    commit_notices(
        store.as_ref(),
        &[notice("r1", "a1", Audience::Reporter, at), notice("c1", "a1", Audience::Account, at + Duration::seconds(1))],
    );
    // The reporter's notice is not ahead of the account's: they go to different endpoints.
    let now = at + Duration::minutes(1);
    assert_eq!(ids(&store.due_notices(now, ACCOUNTS, 10).unwrap()), vec!["c1"]);
    assert_eq!(ids(&store.due_notices(now, &[Audience::Reporter], 10).unwrap()), vec!["r1"]);
    assert_eq!(ids(&store.due_notices(now, &[Audience::Reporter, Audience::Account], 10).unwrap()), vec!["r1", "c1"]);
    assert!(store.due_notices(now, &[], 10).unwrap().is_empty());
}
