//! One test suite, run against every backend: SQLite in a temporary directory always, and
//! PostgreSQL when `STEWARD_TEST_DATABASE_URL` is set (each test in a fresh schema). With
//! `STEWARD_REQUIRE_POSTGRES=1` a missing URL fails the PostgreSQL tests instead of
//! skipping them.

use std::collections::HashSet;
use std::io::Write;
use std::sync::atomic::{AtomicU32, Ordering};

use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use steward_model::{
    Action, Appeal, CreditEntry, Decision, GroupChange, GroupMember, Restriction, RestrictionKind, Role, decision_id,
};
use steward_store::audit::{self, AuditRecord, ChainBreak};
use steward_store::{
    ApiKey, Batch, BreakerChange, Chain, EntityRow, PolicyVersion, PostgresStore, ReviewWrite, RuleHits, SqliteStore,
    Store, StoreError, StoredEvent, TrippedBreaker,
};

// ---------------------------------------------------------------------------------------
// Backends

/// A database under test: opens store handles on it and runs raw SQL against it.
trait Db {
    /// A new store handle on the same database (running migrations, as at start).
    fn open(&self) -> Result<Box<dyn Store>, StoreError>;
    fn exec(&self, sql: &str);
    fn query_i64(&self, sql: &str) -> i64;
    fn backend(&self) -> &'static str;
    /// Another connection inside an open write transaction (holding the write lock, with an
    /// uncommitted event `held`); dropping it rolls back.
    fn hold_write_lock(&self) -> Box<dyn std::any::Any + Send>;
}

struct SqliteDb {
    dir: tempfile::TempDir,
}

impl SqliteDb {
    fn new() -> SqliteDb {
        SqliteDb { dir: tempfile::tempdir().unwrap() }
    }

    fn conn(&self) -> rusqlite::Connection {
        let conn = rusqlite::Connection::open(self.dir.path().join("steward.db")).unwrap();
        conn.busy_timeout(std::time::Duration::from_secs(30)).unwrap();
        conn
    }
}

impl Db for SqliteDb {
    fn open(&self) -> Result<Box<dyn Store>, StoreError> {
        Ok(Box::new(SqliteStore::open(self.dir.path())?))
    }
    fn exec(&self, sql: &str) {
        self.conn().execute_batch(sql).unwrap();
    }
    fn query_i64(&self, sql: &str) -> i64 {
        self.conn().query_row(sql, [], |r| r.get(0)).unwrap()
    }
    fn backend(&self) -> &'static str {
        "sqlite"
    }
    fn hold_write_lock(&self) -> Box<dyn std::any::Any + Send> {
        let conn = self.conn();
        conn.execute_batch("BEGIN IMMEDIATE; INSERT INTO events (id, type, at, body) VALUES ('held', 'x', 0, '{}');")
            .unwrap();
        Box::new(conn)
    }
}

/// A fresh schema in the test database, dropped afterwards.
struct PgDb {
    base_url: String,
    schema: String,
    url: String,
}

impl PgDb {
    /// `None` (after saying so once) when no test database is configured.
    fn new() -> Option<PgDb> {
        let base_url = match std::env::var("STEWARD_TEST_DATABASE_URL") {
            Ok(url) if !url.is_empty() => url,
            _ => {
                if std::env::var("STEWARD_REQUIRE_POSTGRES").as_deref() == Ok("1") {
                    panic!("STEWARD_REQUIRE_POSTGRES=1 but STEWARD_TEST_DATABASE_URL is not set");
                }
                static SAID: std::sync::Once = std::sync::Once::new();
                SAID.call_once(|| {
                    // Straight to stderr: the test harness does not capture this.
                    let _ = writeln!(
                        std::io::stderr(),
                        "PostgreSQL tests skipped: set STEWARD_TEST_DATABASE_URL to run them"
                    );
                });
                return None;
            }
        };
        static N: AtomicU32 = AtomicU32::new(0);
        let nanos = Utc::now().timestamp_subsec_nanos();
        let schema = format!("steward_test_{}_{}_{nanos}", std::process::id(), N.fetch_add(1, Ordering::SeqCst));
        let mut client = ::postgres::Client::connect(&base_url, ::postgres::NoTls).unwrap();
        client.batch_execute(&format!("CREATE SCHEMA {schema}")).unwrap();
        let sep = if base_url.contains('?') { '&' } else { '?' };
        let url = format!("{base_url}{sep}options=-csearch_path={schema}");
        Some(PgDb { base_url, schema, url })
    }

    fn client(&self) -> ::postgres::Client {
        ::postgres::Client::connect(&self.url, ::postgres::NoTls).unwrap()
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        if let Ok(mut c) = ::postgres::Client::connect(&self.base_url, ::postgres::NoTls) {
            let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema));
        }
    }
}

impl Db for PgDb {
    fn open(&self) -> Result<Box<dyn Store>, StoreError> {
        Ok(Box::new(PostgresStore::connect(&self.url)?))
    }
    fn exec(&self, sql: &str) {
        self.client().batch_execute(sql).unwrap();
    }
    fn query_i64(&self, sql: &str) -> i64 {
        self.client().query_one(sql, &[]).unwrap().get(0)
    }
    fn backend(&self) -> &'static str {
        "postgres"
    }
    fn hold_write_lock(&self) -> Box<dyn std::any::Any + Send> {
        let mut client = self.client();
        client
            .batch_execute(
                "BEGIN; LOCK TABLE audit IN EXCLUSIVE MODE;
                 INSERT INTO events (id, type, at, body) VALUES ('held', 'x', now(), '{}');",
            )
            .unwrap();
        Box::new(client)
    }
}

macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[test]
                fn $name() {
                    let db = super::SqliteDb::new();
                    super::$name(&db);
                }
            )*
        }
        mod postgres {
            $(
                #[test]
                fn $name() {
                    if let Some(db) = super::PgDb::new() {
                        super::$name(&db);
                    }
                }
            )*
        }
    };
}

suite!(
    round_trip,
    duplicates_are_no_ops,
    failed_batch_leaves_nothing,
    decisions_newest_first,
    enforcement_in_force_filters_by_time,
    keys,
    audit_chain_verifies_after_many_commits,
    tampering_names_the_entry,
    two_handles_keep_one_chain,
    reads_do_not_wait_for_writes,
    unusual_text_round_trips,
    migrations_are_idempotent,
    newer_schema_is_refused,
    groups_keep_members_and_merges,
    events_since_pages_in_received_order,
    shadow_decisions_policy_versions_and_breakers,
    live_decisions_page_by_decision_time,
    large_batches_keep_order_and_repeats,
    a_fenced_batch_writes_nothing,
);

// ---------------------------------------------------------------------------------------
// Fixtures

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn t0() -> DateTime<Utc> {
    t("2026-11-22T08:00:00.123456Z")
}

fn event(id: &str, account: &str, post: &str, at: DateTime<Utc>) -> StoredEvent {
    let at_text = at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    StoredEvent {
        id: id.to_string(),
        event_type: "post.created".to_string(),
        at,
        body: format!(
            r#"{{"id":"{id}","type":"post.created","at":"{at_text}","post":{{"id":"{post}","account_id":"{account}","kind":"short_post","text":"网传某地自来水被污染，请大家转告家人不要饮用。","created_at":"{at_text}","ai_generated":{{"declared":false,"implicit_label":true}},"explicit_label":false}}}}"#
        ),
    }
}

fn account_row(id: &str, at: DateTime<Utc>) -> EntityRow {
    EntityRow {
        kind: "account",
        id: id.to_string(),
        account_id: Some(id.to_string()),
        body: json!({"id": id, "handle": format!("h_{id}"), "display_name": "陈医生", "followers": 120_000})
            .to_string(),
        deleted: false,
        updated_at: at,
    }
}

fn post_row(id: &str, account: &str, text: &str, at: DateTime<Utc>) -> EntityRow {
    EntityRow {
        kind: "post",
        id: id.to_string(),
        account_id: Some(account.to_string()),
        body: json!({"id": id, "account_id": account, "kind": "short_post", "text": text, "created_at": at})
            .to_string(),
        deleted: false,
        updated_at: at,
    }
}

/// A decision on `post` by `account`: label and limit reach on the post, no posting for
/// 15 days, 2 credit points off for 90 days.
fn decision(
    event_id: &str,
    rule: &str,
    account: &str,
    post: Option<&str>,
    at: DateTime<Utc>,
) -> (Decision, CreditEntry) {
    let id = decision_id(event_id, rule);
    let mut restrictions = vec![Restriction {
        decision_id: id.clone(),
        account_id: account.to_string(),
        post_id: None,
        kind: RestrictionKind::Posting,
        detail: String::new(),
        start: at,
        end: Some(at + Duration::days(15)),
    }];
    if let Some(post) = post {
        restrictions.insert(
            0,
            Restriction {
                decision_id: id.clone(),
                account_id: account.to_string(),
                post_id: Some(post.to_string()),
                kind: RestrictionKind::Label,
                detail: "ai-generated".to_string(),
                start: at,
                end: None,
            },
        );
    }
    let d = Decision {
        id: id.clone(),
        event_id: event_id.to_string(),
        account_id: Some(account.to_string()),
        post_id: post.map(str::to_string),
        rule_id: rule.to_string(),
        policy_version: "2026.11.1".to_string(),
        ground: "《人工智能生成合成内容标识办法》第十条".to_string(),
        category: "ai_unlabelled".to_string(),
        facts: json!({
            "signals": [{"name": "unlabelled_ai", "detector": "ai_label", "version": 3, "score": 0.92,
                         "evidence": {"implicit_label": true, "explicit_label": false}}],
            "standing_before": {"credit": 100, "recent_violations": 0}
        }),
        automated_detection: true,
        automated_decision: true,
        actions: vec![
            Action::Label { label: "ai-generated".to_string() },
            Action::RestrictPosting { days: 15 },
            Action::DeductCredit { points: 2 },
        ],
        restrictions,
        credit_deducted: 2,
        explanation: "This post carries an AI-generation marker but no visible label.".to_string(),
        appeal: Appeal { how: "Reply to this notice within 7 days.".to_string(), until: at + Duration::days(7) },
        decided_at: at,
        shadow: false,
    };
    let credit = CreditEntry {
        decision_id: id,
        account_id: account.to_string(),
        at,
        points: 2,
        restores_at: Some(at + Duration::days(90)),
    };
    (d, credit)
}

/// A batch with the decisions, their restrictions and credits, and one audit record each.
fn decisions_batch(items: &[(Decision, CreditEntry)]) -> Batch {
    let mut b = Batch::default();
    for (d, c) in items {
        b.restrictions.extend(d.restrictions.iter().cloned());
        b.credits.push(c.clone());
        b.audit.push(record("decision.made", &d.id, json!({"rule": d.rule_id, "event": d.event_id})));
        b.decisions.push(d.clone());
    }
    b
}

fn record(action: &str, subject: &str, body: serde_json::Value) -> AuditRecord {
    AuditRecord { at: t0(), action: action.to_string(), subject: subject.to_string(), body: body.into() }
}

fn key(id: &str, role: Role) -> ApiKey {
    ApiKey { id: id.to_string(), hash: format!("{:0>64}", id), role, created_at: t0(), revoked_at: None }
}

fn audit_count(store: &dyn Store) -> usize {
    store.audit_entries(0, usize::MAX).unwrap().len()
}

// ---------------------------------------------------------------------------------------
// Tests

fn round_trip(db: &dyn Db) {
    let store = db.open().unwrap();
    assert_eq!(store.backend(), db.backend());
    let at = t0();
    let (d1, c1) = decision("e1", "ai_unlabelled", "a1", Some("p1"), at);
    let mut batch = decisions_batch(&[(d1.clone(), c1.clone())]);
    let events = vec![event("e1", "a1", "p1", at), event("e2", "a1", "p2", at + Duration::seconds(1))];
    batch.events = events.clone();
    let factcheck = EntityRow {
        kind: "factcheck",
        id: "f1".into(),
        account_id: None,
        body: r#"{"id":"f1","claim":"自来水被污染","verdict":"false","publisher":"辟谣平台"}"#.into(),
        deleted: false,
        updated_at: at,
    };
    let custom = EntityRow { kind: "case", id: "c1".into(), account_id: Some("a1".into()), ..factcheck.clone() };
    let p1_final = post_row("p1", "a1", "第二版", at + Duration::microseconds(7));
    batch.entities = vec![
        account_row("a1", at),
        post_row("p1", "a1", "第一版", at),
        factcheck.clone(),
        custom.clone(),
        p1_final.clone(),
    ];
    batch.audit.push(record("batch.committed", "e1..e2", json!({"events": 2, "z": null, "a": [1, 2.5]})));
    assert_eq!(store.commit(&batch).unwrap(), 2);
    assert_eq!(store.commit(&Batch::default()).unwrap(), 0);

    assert_eq!(store.event_count().unwrap(), 2);
    assert_eq!(store.event("e1").unwrap(), Some(events[0].clone()));
    assert_eq!(store.event("e2").unwrap(), Some(events[1].clone()));
    assert_eq!(store.event("nope").unwrap(), None);
    assert_eq!(store.existing_event_ids(&["e2", "nope", "e1"]).unwrap(), HashSet::from(["e1".into(), "e2".into()]));
    assert!(store.existing_event_ids(&[]).unwrap().is_empty());

    assert_eq!(store.entity("post", "p1").unwrap(), Some(p1_final.clone()), "the later row in a batch wins");
    assert_eq!(store.entity("account", "a1").unwrap(), Some(account_row("a1", at)));
    assert_eq!(store.entity("factcheck", "f1").unwrap(), Some(factcheck));
    assert_eq!(store.entity("case", "c1").unwrap(), Some(custom));
    assert_eq!(store.entity("account", "p1").unwrap(), None);
    assert_eq!(store.entities("account").unwrap(), vec![account_row("a1", at)]);
    assert!(store.entities("identity").unwrap().is_empty());

    // A later batch updates and deletes.
    let mut deleted = p1_final.clone();
    deleted.deleted = true;
    deleted.updated_at = at + Duration::hours(1);
    let more = Batch { entities: vec![post_row("p2", "a1", "另一条", at), deleted.clone()], ..Batch::default() };
    assert_eq!(store.commit(&more).unwrap(), 0);
    assert_eq!(store.entity("post", "p1").unwrap(), Some(deleted.clone()));
    assert_eq!(store.entities("post").unwrap(), vec![deleted.clone(), post_row("p2", "a1", "另一条", at)]);
    // Deleted rows are left out of the most recent; the newest come first, then by id.
    let p3 = EntityRow { updated_at: at + Duration::hours(2), ..post_row("p3", "a1", "第三条", at) };
    store
        .commit(&Batch { entities: vec![p3.clone(), post_row("p4", "a1", "第四条", at)], ..Batch::default() })
        .unwrap();
    assert_eq!(store.recent_entities("post", 2).unwrap(), vec![p3, post_row("p2", "a1", "另一条", at)]);
    assert!(store.recent_entities("identity", 10).unwrap().is_empty());

    assert_eq!(store.decision(&d1.id).unwrap(), Some(d1.clone()));
    assert_eq!(store.decision("nope").unwrap(), None);
    assert_eq!(store.decisions_for("a1", false, 10).unwrap(), vec![d1.clone()]);
    assert_eq!(store.decisions_for("p1", false, 10).unwrap(), vec![d1.clone()]);
    assert_eq!(store.restrictions_for("a1").unwrap(), d1.restrictions);
    assert_eq!(store.credits_for("a1").unwrap(), vec![c1.clone()]);
    assert!(store.restrictions_for("a2").unwrap().is_empty());
    assert!(store.credits_for("a2").unwrap().is_empty());

    let entries = store.audit_entries(0, 100).unwrap();
    assert_eq!(entries.len(), 3, "the batch's two, and the store's covering its rows");
    assert_eq!(entries[0].seq, 1);
    assert_eq!(entries[0].action, "decision.made");
    assert_eq!(entries[0].subject, d1.id);
    assert_eq!(entries[0].prev_hash, audit::GENESIS_HASH);
    assert_eq!(entries[0].at, at);
    assert_eq!(entries[1].body, r#"{"a":[1,2.5],"events":2,"z":null}"#);
    assert_eq!(entries[1].prev_hash, entries[0].hash);
    assert_eq!(entries[2].action, "rows.committed");
    assert_eq!(entries[2].subject, "1 credits, 1 decisions, 2 events, 2 restrictions");
    assert_eq!(store.audit_entries(1, 100).unwrap(), entries[1..].to_vec());
    assert_eq!(store.audit_entries(0, 1).unwrap(), entries[..1].to_vec());
    assert_eq!(store.audit_head().unwrap().as_ref(), entries.last());
    let verified = audit::verify(&*store).unwrap();
    assert_eq!(verified.entries, 3);
    assert_eq!(
        (verified.rows.events, verified.rows.decisions, verified.rows.restrictions, verified.rows.credits),
        (2, 1, 2, 1)
    );

    // Everything is there for a new handle too.
    drop(store);
    let store = db.open().unwrap();
    assert_eq!(store.decision(&d1.id).unwrap(), Some(d1));
    assert_eq!(store.event("e1").unwrap(), Some(events[0].clone()));
}

fn duplicates_are_no_ops(db: &dyn Db) {
    let store = db.open().unwrap();
    let at = t0();
    let (d1, c1) = decision("e1", "ai_unlabelled", "a1", Some("p1"), at);
    let mut batch = decisions_batch(&[(d1.clone(), c1.clone())]);
    batch.events = vec![event("e1", "a1", "p1", at), event("e2", "a1", "p2", at)];
    assert_eq!(store.commit(&batch).unwrap(), 2);

    // The same batch again: nothing new, nothing duplicated.
    assert_eq!(store.commit(&batch).unwrap(), 0);
    assert_eq!(store.event_count().unwrap(), 2);
    assert_eq!(store.decisions_for("a1", false, 10).unwrap(), vec![d1.clone()]);
    assert_eq!(store.restrictions_for("a1").unwrap(), d1.restrictions);
    assert_eq!(store.credits_for("a1").unwrap(), vec![c1.clone()]);

    // Repeats inside one batch count once; old and new mixed count only the new.
    let repeats = Batch {
        events: vec![event("e3", "a1", "p3", at), event("e3", "a1", "p3", at), event("e1", "a1", "p1", at)],
        ..Batch::default()
    };
    assert_eq!(store.commit(&repeats).unwrap(), 1);
    assert_eq!(store.event_count().unwrap(), 3);

    // A decision repeated in a batch is stored once, with its enforcement once.
    let (d2, c2) = decision("e3", "ai_unlabelled", "a1", Some("p3"), at + Duration::minutes(1));
    let mut twice = decisions_batch(&[(d2.clone(), c2.clone())]);
    twice.decisions.push(d2.clone());
    assert_eq!(store.commit(&twice).unwrap(), 0);
    assert_eq!(store.decisions_for("a1", false, 10).unwrap(), vec![d2.clone(), d1.clone()]);

    // Enforcement of a decision stored earlier is not added again, even without the decision.
    let stray = Batch { restrictions: d1.restrictions.clone(), credits: vec![c1.clone()], ..Batch::default() };
    store.commit(&stray).unwrap();
    let mut expected = d1.restrictions.clone();
    expected.extend(d2.restrictions.clone());
    assert_eq!(store.restrictions_for("a1").unwrap(), expected);
    assert_eq!(store.credits_for("a1").unwrap(), vec![c1, c2]);
    assert_eq!(audit::verify(&*store).unwrap().entries as usize, audit_count(&*store));
}

/// Batches of many rows (written many rows to a statement by SQLite): every row once, in
/// order, the last upsert of an entity winning, repeats counted once, the chain intact.
fn large_batches_keep_order_and_repeats(db: &dyn Db) {
    let store = db.open().unwrap();
    let at = t0();
    let mut batch = Batch::default();
    for i in 0..150 {
        batch.events.push(event(&format!("e{i}"), "a1", &format!("p{i}"), at + Duration::seconds(i)));
        // Three accounts upserted over and over, and a post each.
        batch.entities.push(account_row(&format!("a{}", i % 3), at + Duration::seconds(i)));
        batch.entities.push(post_row(&format!("p{i}"), "a1", &format!("text {i}"), at + Duration::seconds(i)));
    }
    batch.events.push(event("e7", "a1", "p7", at));
    let items: Vec<_> = (0..70)
        .map(|i| decision(&format!("e{i}"), "ai_unlabelled", "a1", Some(&format!("p{i}")), at + Duration::seconds(i)))
        .collect();
    let decided = decisions_batch(&items);
    batch.decisions = decided.decisions;
    batch.restrictions = decided.restrictions;
    batch.credits = decided.credits;
    batch.audit = decided.audit;
    assert_eq!(store.commit(&batch).unwrap(), 150);
    assert_eq!(store.commit(&batch).unwrap(), 0);
    assert_eq!(store.event_count().unwrap(), 150);
    let events = store.events_since(at, 0, 1000, &[]).unwrap();
    let ids: Vec<String> = events.into_iter().map(|(_, e)| e.id).collect();
    assert_eq!(ids, (0..150).map(|i| format!("e{i}")).collect::<Vec<_>>());
    for a in 0..3 {
        let last = (0..150).filter(|i| i % 3 == a).max().unwrap();
        let row = store.entity("account", &format!("a{a}")).unwrap().unwrap();
        assert_eq!(row.updated_at, at + Duration::seconds(last));
    }
    assert_eq!(store.entities("post").unwrap().len(), 150);
    let mut stored = store.decisions_for("a1", false, 1000).unwrap();
    stored.sort_by_key(|d| d.decided_at);
    assert_eq!(stored, items.iter().map(|(d, _)| d.clone()).collect::<Vec<_>>());
    let restrictions: Vec<_> = items.iter().flat_map(|(d, _)| d.restrictions.clone()).collect();
    assert_eq!(store.restrictions_for("a1").unwrap(), restrictions);
    assert_eq!(store.credits_for("a1").unwrap(), items.iter().map(|(_, c)| c.clone()).collect::<Vec<_>>());
    // Audit records are appended by every commit, the repeated one's too; the rows are covered
    // once, by the first.
    let verified = audit::verify(&*store).unwrap();
    assert_eq!(verified.entries, 141);
    assert_eq!((verified.rows.events, verified.rows.decisions), (150, 70));
}

fn failed_batch_leaves_nothing(db: &dyn Db) {
    let store = db.open().unwrap();
    // Make the last insert of a batch fail: a credit for account `boom`.
    match db.backend() {
        "sqlite" => db.exec(
            "CREATE TRIGGER boom BEFORE INSERT ON credits WHEN NEW.account_id = 'boom'
             BEGIN SELECT RAISE(ABORT, 'forced failure'); END;",
        ),
        _ => db.exec(
            "CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN IF NEW.account_id = 'boom' THEN RAISE EXCEPTION 'forced failure'; END IF; RETURN NEW; END $$;
             CREATE TRIGGER boom BEFORE INSERT ON credits FOR EACH ROW EXECUTE FUNCTION boom();",
        ),
    }
    let at = t0();
    let (d, c) = decision("e1", "ai_unlabelled", "boom", Some("p1"), at);
    let mut batch = decisions_batch(&[(d.clone(), c)]);
    batch.events = vec![event("e1", "boom", "p1", at)];
    batch.entities = vec![account_row("boom", at), post_row("p1", "boom", "x", at)];
    let err = store.commit(&batch).unwrap_err();
    assert!(err.to_string().contains("forced failure"), "{err}");

    assert_eq!(store.event_count().unwrap(), 0);
    assert_eq!(store.event("e1").unwrap(), None);
    assert_eq!(store.entity("account", "boom").unwrap(), None);
    assert_eq!(store.decision(&d.id).unwrap(), None);
    assert!(store.restrictions_for("boom").unwrap().is_empty());
    assert!(store.audit_entries(0, 10).unwrap().is_empty());

    // The same handle works afterwards, and the batch goes through once the cause is gone.
    db.exec(if db.backend() == "sqlite" { "DROP TRIGGER boom" } else { "DROP TRIGGER boom ON credits" });
    assert_eq!(store.commit(&batch).unwrap(), 1);
    assert_eq!(store.decision(&d.id).unwrap(), Some(d));
    assert_eq!(audit::verify(&*store).unwrap().entries, 2);
}

fn a_fenced_batch_writes_nothing(db: &dyn Db) {
    let store = db.open().unwrap();
    db.exec("INSERT INTO fences (key, epoch, holder) VALUES ('s/1', 1, 'w1')");
    let fence = |key: &str, epoch| steward_store::fence::Fence { key: key.into(), epoch };
    let at = t0();
    let mut batch = Batch { events: vec![event("e1", "a1", "p1", at)], ..Default::default() };
    batch.fences = vec![fence("s/1", 1)];
    assert_eq!(store.commit(&batch).unwrap(), 1);

    // Another writer took the partition over: the old epoch writes nothing.
    db.exec("UPDATE fences SET epoch = 2, holder = 'w2' WHERE key = 's/1'");
    let mut stale = Batch { events: vec![event("e2", "a1", "p2", at)], ..Default::default() };
    stale.fences = vec![fence("s/1", 1)];
    match store.commit(&stale) {
        Err(StoreError::Fenced { key, epoch: 1, found: Some(2) }) if key == "s/1" => {}
        other => panic!("expected a fenced commit, got {other:?}"),
    }
    stale.fences = vec![fence("s/1", 2), fence("s/9", 1)];
    assert!(matches!(store.commit(&stale), Err(StoreError::Fenced { found: None, .. })));
    assert_eq!(store.event("e2").unwrap(), None);
    assert_eq!(store.event_count().unwrap(), 1);
    assert_eq!(audit::verify(&*store).unwrap().entries, 1);

    stale.fences = vec![fence("s/1", 2)];
    assert_eq!(store.commit(&stale).unwrap(), 1);
}

/// PostgreSQL: a new owner's advance waits for the old owner's transaction that read the fence,
/// so that transaction commits under the old epoch or not at all.
#[test]
fn postgres_fence_advance_waits_for_readers() {
    let Some(db) = PgDb::new() else { return };
    drop(db.open().unwrap());
    let mut old = db.client();
    assert_eq!(steward_store::fence::advance(&mut old, "s/1", "w1").unwrap(), 1);
    old.batch_execute("BEGIN; SELECT epoch FROM fences WHERE key = 's/1' FOR SHARE;").unwrap();
    let mut new = db.client();
    let advancing = std::thread::spawn(move || steward_store::fence::advance(&mut new, "s/1", "w2").unwrap());
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(!advancing.is_finished(), "the advance did not wait for the reader");
    old.batch_execute("COMMIT").unwrap();
    assert_eq!(advancing.join().unwrap(), 2);
}

fn decisions_newest_first(db: &dyn Db) {
    let store = db.open().unwrap();
    let at = t0();
    let (d_mid, c_mid) = decision("e2", "r", "a1", Some("p1"), at + Duration::hours(2));
    let (d_old, c_old) = decision("e1", "r", "a1", Some("p2"), at);
    let (d_new, c_new) = decision("e3", "r", "a1", Some("p1"), at + Duration::hours(5));
    let (d_tie, c_tie) = decision("e4", "r", "a1", None, at + Duration::hours(5));
    let (d_other, c_other) = decision("e5", "r", "a2", Some("p3"), at + Duration::hours(3));
    store.commit(&decisions_batch(&[(d_mid.clone(), c_mid), (d_other.clone(), c_other)])).unwrap();
    store.commit(&decisions_batch(&[(d_new.clone(), c_new)])).unwrap();
    store.commit(&decisions_batch(&[(d_old.clone(), c_old), (d_tie.clone(), c_tie)])).unwrap();

    let ids = |subject: &str, n: usize| -> Vec<String> {
        store.decisions_for(subject, false, n).unwrap().into_iter().map(|d| d.id).collect()
    };
    // Same time: the one stored later comes first.
    assert_eq!(ids("a1", 10), vec![d_tie.id.clone(), d_new.id.clone(), d_mid.id.clone(), d_old.id.clone()]);
    assert_eq!(ids("a1", 2), vec![d_tie.id.clone(), d_new.id.clone()]);
    assert_eq!(ids("p1", 10), vec![d_new.id.clone(), d_mid.id.clone()]);
    assert_eq!(ids("p2", 10), vec![d_old.id.clone()]);
    assert_eq!(ids("a2", 10), vec![d_other.id.clone()]);
    assert_eq!(ids("p3", 10), vec![d_other.id.clone()]);
    assert!(ids("nobody", 10).is_empty());
    assert!(ids("a1", 0).is_empty());
    assert_eq!(store.decisions_for("p1", false, 1).unwrap(), vec![d_new]);
}

fn live_decisions_page_by_decision_time(db: &dyn Db) {
    let store = db.open().unwrap();
    let at = t0();
    let (before, c0) = decision("e0", "r", "a1", Some("p0"), at - Duration::microseconds(1));
    let (first, c1) = decision("e1", "r", "a1", Some("p1"), at);
    let (late, c2) = decision("e2", "r", "a2", None, at + Duration::hours(2));
    let (tie_a, c3) = decision("e3", "r", "a3", Some("p3"), at + Duration::hours(1));
    let (tie_b, c4) = decision("e4", "r", "a4", None, at + Duration::hours(1));
    let (end, c5) = decision("e5", "r", "a5", None, at + Duration::hours(3));
    let (mut shadow, _) = decision("e6", "s", "a1", Some("p6"), at + Duration::hours(1));
    shadow.shadow = true;
    // Stored out of time order, a shadow decision among them.
    store.commit(&decisions_batch(&[(late.clone(), c2), (end.clone(), c5), (before.clone(), c0)])).unwrap();
    let mut batch = decisions_batch(&[(tie_a.clone(), c3), (first.clone(), c1), (tie_b.clone(), c4)]);
    batch.decisions.push(shadow);
    store.commit(&batch).unwrap();

    let (from, to) = (at, at + Duration::hours(3));
    let all: Vec<(i64, Decision)> = store.live_decisions_between(from, to, None, 100).unwrap();
    let ids: Vec<&str> = all.iter().map(|(_, d)| d.id.as_str()).collect();
    // [from, to): by time, ties in stored order; the shadow decision and both ends left out.
    assert_eq!(ids, vec![first.id.as_str(), tie_a.id.as_str(), tie_b.id.as_str(), late.id.as_str()]);
    assert_eq!(all[0].1, first);

    // Page by page, two at a time, through the tie: the same decisions, none twice.
    let mut paged = Vec::new();
    let mut after = None;
    loop {
        let page = store.live_decisions_between(from, to, after, 2).unwrap();
        let Some((seq, d)) = page.last() else { break };
        after = Some((d.decided_at, *seq));
        paged.extend(page);
    }
    assert_eq!(paged, all);
    let page = store.live_decisions_between(from, to, Some((tie_a.decided_at, all[1].0)), 1).unwrap();
    assert_eq!(page[0].1.id, tie_b.id);
    assert!(store.live_decisions_between(to, to, None, 10).unwrap().is_empty());
    assert!(store.live_decisions_between(from, to, None, 0).unwrap().is_empty());
}

fn shadow_decisions_policy_versions_and_breakers(db: &dyn Db) {
    let store = db.open().unwrap();
    let at = t0();
    let (live, c_live) = decision("e1", "r", "a1", Some("p1"), at);
    let (mut shadow, _) = decision("e2", "s", "a1", Some("p2"), at + Duration::hours(1));
    shadow.shadow = true;
    let (mut shadow2, _) = decision("e3", "s", "a2", Some("p3"), at + Duration::hours(2));
    shadow2.shadow = true;
    let mut batch = decisions_batch(&[(live.clone(), c_live)]);
    // A shadow decision enforces nothing: no restrictions, credits or audit entries.
    batch.decisions.push(shadow.clone());
    batch.decisions.push(shadow2.clone());
    let v1 = PolicyVersion {
        version: "v1".into(),
        source: "policy.toml".into(),
        text: "version = \"v1\"\n".into(),
        activated_at: at,
        activated_by: "start".into(),
    };
    batch.policies.push(v1.clone());
    let trip = TrippedBreaker { rule_id: "r".into(), tripped_at: at, detail: "{\"decisions\":6}".into() };
    batch.breakers.push(BreakerChange::Tripped(trip.clone()));
    store.commit(&batch).unwrap();

    assert_eq!(store.decisions_for("a1", false, 10).unwrap(), vec![live.clone()]);
    assert_eq!(store.decisions_for("a1", true, 10).unwrap(), vec![shadow.clone()]);
    assert_eq!(store.shadow_decisions(None, 10).unwrap(), vec![shadow2.clone(), shadow.clone()]);
    assert_eq!(store.shadow_decisions(Some("s"), 1).unwrap(), vec![shadow2.clone()]);
    assert!(store.shadow_decisions(Some("r"), 10).unwrap().is_empty());
    assert_eq!(store.decision(&shadow.id).unwrap(), Some(shadow.clone()));
    let all = store.decisions_after(0, 10).unwrap();
    assert_eq!(
        all.iter().map(|(_, d)| d.clone()).collect::<Vec<_>>(),
        vec![live.clone(), shadow.clone(), shadow2.clone()]
    );
    assert_eq!(store.decisions_after(all[1].0, 10).unwrap(), vec![all[2].clone()]);
    assert_eq!(
        store.rule_hits().unwrap(),
        vec![
            RuleHits { rule_id: "r".into(), live: 1, shadow: 0 },
            RuleHits { rule_id: "s".into(), live: 0, shadow: 2 }
        ]
    );
    assert_eq!(store.active_policy().unwrap(), Some(v1.clone()));
    assert_eq!(store.tripped_breakers().unwrap(), vec![trip.clone()]);

    // A later version is the active one; the list has both, without their texts.
    let v2 = PolicyVersion {
        version: "v2".into(),
        text: "version = \"v2\"\n".into(),
        activated_by: "k1".into(),
        ..v1.clone()
    };
    let mut batch = Batch::default();
    batch.policies.push(v2.clone());
    batch.breakers.push(BreakerChange::Tripped(TrippedBreaker { detail: "again".into(), ..trip.clone() }));
    store.commit(&batch).unwrap();
    assert_eq!(store.active_policy().unwrap(), Some(v2.clone()));
    let versions: Vec<(String, String)> =
        store.policy_versions().unwrap().into_iter().map(|v| (v.version, v.text)).collect();
    assert_eq!(versions, vec![("v1".into(), String::new()), ("v2".into(), String::new())]);
    // A breaker tripped again keeps its first trip; re-arming clears it.
    assert_eq!(store.tripped_breakers().unwrap(), vec![trip]);
    let mut batch = Batch::default();
    batch.breakers.push(BreakerChange::Rearmed { rule_id: "r".into() });
    store.commit(&batch).unwrap();
    assert!(store.tripped_breakers().unwrap().is_empty());
}

fn enforcement_in_force_filters_by_time(db: &dyn Db) {
    let store = db.open().unwrap();
    let now = t("2026-12-01T00:00:00Z");
    let r = |id: &str, account: &str, start: DateTime<Utc>, end: Option<DateTime<Utc>>| Restriction {
        decision_id: id.to_string(),
        account_id: account.to_string(),
        post_id: None,
        kind: RestrictionKind::Suspended,
        detail: String::new(),
        start,
        end,
    };
    let c = |id: &str, account: &str, at: DateTime<Utc>, restores: Option<DateTime<Utc>>| CreditEntry {
        decision_id: id.to_string(),
        account_id: account.to_string(),
        at,
        points: 5,
        restores_at: restores,
    };
    let day = Duration::days(1);
    let ended = r("d1", "a1", now - day * 20, Some(now - day));
    let ends_now = r("d2", "a1", now - day * 20, Some(now));
    let ends_soon = r("d3", "a2", now - day, Some(now + Duration::microseconds(1)));
    let forever = r("d4", "a3", now - day * 400, None);
    let future = r("d5", "a1", now + day, Some(now + day * 15));
    let restored = c("d1", "a1", now - day * 100, Some(now - day * 10));
    let never = c("d4", "a3", now - day * 400, None);
    let later = c("d3", "a2", now - day, Some(now + day * 89));
    let batch = Batch {
        restrictions: vec![ended, ends_now, ends_soon.clone(), forever.clone(), future.clone()],
        credits: vec![restored.clone(), never.clone(), later.clone()],
        ..Batch::default()
    };
    store.commit(&batch).unwrap();

    let (rs, cs) = store.enforcement_in_force(now).unwrap();
    assert_eq!(rs, vec![ends_soon, forever.clone(), future.clone()]);
    assert_eq!(cs, vec![never.clone(), later]);
    let (rs, cs) = store.enforcement_in_force(now + day * 100).unwrap();
    assert_eq!(rs, vec![forever.clone()]);
    assert_eq!(cs, vec![never.clone()]);
    let (rs, cs) = store.enforcement_in_force(now - day * 1000).unwrap();
    assert_eq!(rs.len(), 5);
    assert_eq!(cs.len(), 3);
    assert!(cs.contains(&restored));

    // Some accounts' alone, as a partitioned engine loads them: rows, enforcement in force,
    // reversals.
    let reversal = steward_model::Reversal {
        decision_id: "d5".into(),
        account_id: Some("a1".into()),
        at: now,
        by: "k_m1".into(),
        reason: "not AI".into(),
        case_id: "c1".into(),
    };
    let batch = Batch {
        entities: vec![account_row("a1", now), account_row("a2", now)],
        review: vec![ReviewWrite::Reversal(reversal.clone())],
        ..Batch::default()
    };
    store.commit(&batch).unwrap();
    let mut states = store.account_states(&["a1", "a3", "nobody"], now).unwrap();
    assert_eq!(states.accounts.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(), ["a1"]);
    // Each account's in the order stored; the accounts' in any order.
    states.restrictions.sort_by(|a, b| a.decision_id.cmp(&b.decision_id));
    assert_eq!(states.restrictions, vec![forever, future]);
    assert_eq!(states.credits, vec![never]);
    assert_eq!(states.reversals, vec![reversal.clone()]);
    // Those made lately, for workers that loaded the account before.
    assert_eq!(store.reversals_since(now).unwrap(), vec![reversal]);
    assert!(store.reversals_since(now + Duration::microseconds(1)).unwrap().is_empty());
    assert!(store.account_states(&[], now).unwrap().accounts.is_empty());
}

fn keys(db: &dyn Db) {
    let store = db.open().unwrap();
    let admin = key("k_admin", Role::Admin);
    let ingest = key("k_ingest", Role::Ingest);
    store.insert_key(&admin).unwrap();
    store.insert_key(&ingest).unwrap();
    assert_eq!(store.key_by_hash(&admin.hash).unwrap(), Some(admin.clone()));
    assert_eq!(store.key_by_hash(&ingest.hash).unwrap(), Some(ingest.clone()));
    assert_eq!(store.key_by_hash(&"f".repeat(64)).unwrap(), None);

    let entries = store.audit_entries(0, 10).unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!((entries[0].action.as_str(), entries[0].subject.as_str()), ("key.created", "k_admin"));
    assert_eq!(entries[0].body, r#"{"role":"admin"}"#);
    assert_eq!(entries[1].body, r#"{"role":"ingest"}"#);

    // A duplicate id or hash fails and audits nothing.
    assert!(store.insert_key(&ApiKey { hash: "1".repeat(64), ..admin.clone() }).is_err());
    assert!(store.insert_key(&ApiKey { id: "k_other".into(), ..admin.clone() }).is_err());
    assert_eq!(audit_count(&*store), 2);
    assert_eq!(store.key_by_hash(&"1".repeat(64)).unwrap(), None);
    assert_eq!(audit::verify(&*store).unwrap().entries, 2);

    // Revocation: stored, audited once, the first time kept; other keys untouched.
    let at = t0() + chrono::Duration::hours(1);
    let revoked = ApiKey { revoked_at: Some(at), ..ingest.clone() };
    assert_eq!(store.revoke_key("k_ingest", at).unwrap(), Some(revoked.clone()));
    assert_eq!(store.revoke_key("k_ingest", at + chrono::Duration::hours(1)).unwrap(), Some(revoked.clone()));
    assert_eq!(store.revoke_key("k_nobody", at).unwrap(), None);
    assert_eq!(store.key_by_hash(&ingest.hash).unwrap(), Some(revoked.clone()));
    assert_eq!(store.keys().unwrap(), vec![admin.clone(), revoked]);
    let entries = store.audit_entries(2, 10).unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!((entries[0].action.as_str(), entries[0].subject.as_str()), ("key.revoked", "k_ingest"));
    assert_eq!(audit::verify(&*store).unwrap().entries, 3);
}

fn member(post: &str, account: &str, at: DateTime<Utc>) -> GroupMember {
    GroupMember { post_id: post.into(), account_id: account.into(), at }
}

fn groups_keep_members_and_merges(db: &dyn Db) {
    let store = db.open().unwrap();
    let at = t0();
    let change = |id: &str, joined: Vec<GroupMember>, absorbed: Vec<String>| GroupChange {
        kind: "campaign",
        id: id.into(),
        summary: json!({"id": id, "posts": joined.len()}),
        joined,
        absorbed,
        at,
    };
    let later = at + Duration::minutes(5);
    let batch = Batch {
        groups: vec![
            change("c1", vec![member("p2", "a2", later), member("p1", "a1", at)], vec![]),
            change("c2", vec![member("p3", "a3", at + Duration::minutes(1))], vec![]),
        ],
        ..Batch::default()
    };
    store.commit(&batch).unwrap();
    let members = store.group_members("campaign", "c1", 10).unwrap();
    assert_eq!(members, vec![member("p1", "a1", at), member("p2", "a2", later)], "oldest post first");
    assert_eq!(store.group_members("campaign", "c1", 1).unwrap().len(), 1);
    let summary = store.entity("campaign", "c1").unwrap().unwrap();
    assert_eq!(serde_json::from_str::<serde_json::Value>(&summary.body).unwrap()["posts"], 2);

    // c2 merges into c1: its members move, its summary says where they went; a replayed
    // member is not duplicated.
    let batch = Batch {
        groups: vec![change("c1", vec![member("p4", "a4", later), member("p1", "a1", at)], vec!["c2".into()])],
        ..Batch::default()
    };
    store.commit(&batch).unwrap();
    let posts: Vec<String> =
        store.group_members("campaign", "c1", 10).unwrap().into_iter().map(|m| m.post_id).collect();
    assert_eq!(posts, ["p1", "p3", "p2", "p4"]);
    assert!(store.group_members("campaign", "c2", 10).unwrap().is_empty());
    let c2 = store.entity("campaign", "c2").unwrap().unwrap();
    assert!(c2.deleted);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&c2.body).unwrap()["merged_into"], "c1");
    assert_eq!(store.entities("campaign").unwrap().len(), 2);
}

fn events_since_pages_in_received_order(db: &dyn Db) {
    let store = db.open().unwrap();
    assert_eq!(store.latest_event_at().unwrap(), None);
    let at = t0();
    // Received out of time order.
    let times = [at + Duration::hours(2), at, at + Duration::hours(1), at + Duration::hours(3)];
    let events: Vec<StoredEvent> =
        times.iter().enumerate().map(|(i, &t)| event(&format!("e{i}"), "a1", &format!("p{i}"), t)).collect();
    store.commit(&Batch { events, ..Batch::default() }).unwrap();
    assert_eq!(store.latest_event_at().unwrap(), Some(at + Duration::hours(3)));

    let since = at + Duration::hours(1);
    let first = store.events_since(since, 0, 2, &[]).unwrap();
    let ids: Vec<&str> = first.iter().map(|(_, e)| e.id.as_str()).collect();
    assert_eq!(ids, ["e0", "e2"]);
    let rest = store.events_since(since, first[1].0, 10, &[]).unwrap();
    let ids: Vec<&str> = rest.iter().map(|(_, e)| e.id.as_str()).collect();
    assert_eq!(ids, ["e3"]);
    assert!(store.events_since(since, rest[0].0, 10, &[]).unwrap().is_empty());

    // Those of some audit chains alone (a partitioned engine's partitions).
    let on = |chain: u32, id: &str| {
        let mut batch = Batch::default();
        batch.audit_on(&Chain::partition(chain));
        batch.events.push(event(id, "a2", &format!("p-{id}"), at + Duration::hours(4)));
        store.commit(&batch).unwrap();
    };
    on(3, "x3");
    on(5, "x5");
    on(7, "x7");
    let ids = |chains: &[Chain]| -> Vec<String> {
        store.events_since(since, 0, 10, chains).unwrap().into_iter().map(|(_, e)| e.id).collect()
    };
    assert_eq!(ids(&[Chain::partition(7), Chain::partition(3)]), ["x3", "x7"]);
    assert_eq!(ids(&[]), ["e0", "e2", "e3", "x3", "x5", "x7"]);
}

fn audit_chain_verifies_after_many_commits(db: &dyn Db) {
    let store = db.open().unwrap();
    let mut expected = 0u64;
    for i in 0..40 {
        let batch = Batch {
            events: vec![event(&format!("e{i}"), "a1", &format!("p{i}"), t0())],
            audit: (0..3)
                .map(|j| record("event.accepted", &format!("e{i}"), json!({"i": i, "j": j, "note": "说明"})))
                .collect(),
            ..Batch::default()
        };
        store.commit(&batch).unwrap();
        expected += 4; // and the entry covering the event
        if i % 8 == 0 {
            store.insert_key(&key(&format!("k{i}"), Role::Moderator)).unwrap();
            expected += 1;
        }
    }
    assert_eq!(audit::verify(&*store).unwrap().entries, expected);
    // Past one page of `verify`.
    let big = Batch {
        audit: (0..audit::VERIFY_PAGE + 50).map(|i| record("bulk", &format!("s{i}"), json!({ "i": i }))).collect(),
        ..Batch::default()
    };
    store.commit(&big).unwrap();
    expected += big.audit.len() as u64;
    assert_eq!(audit::verify(&*store).unwrap().entries, expected);
    assert_eq!(audit::verify_with(&*store, &[], 997).unwrap().entries, expected);
    let tail = store.audit_entries(expected - 2, 10).unwrap();
    assert_eq!(tail.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![expected - 1, expected]);
}

fn sql_text(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn tampering_names_the_entry(db: &dyn Db) {
    let store = db.open().unwrap();
    for i in 0..30 {
        store
            .commit(&Batch { audit: vec![record("a", &format!("s{i}"), json!({ "i": i }))], ..Batch::default() })
            .unwrap();
    }
    assert_eq!(audit::verify(&*store).unwrap().entries, 30);
    let entries = store.audit_entries(0, 100).unwrap();
    let broken_at = |store: &dyn Store| match audit::verify(store) {
        Err(ChainBreak::Broken { seq, .. }) => seq,
        other => panic!("expected a broken chain, got {other:?}"),
    };

    db.exec("UPDATE audit SET body = '{\"i\":1000}' WHERE seq = 17");
    assert_eq!(broken_at(&*store), 17);
    db.exec(&format!("UPDATE audit SET body = {} WHERE seq = 17", sql_text(&entries[16].body)));
    assert_eq!(audit::verify(&*store).unwrap().entries, 30);

    db.exec(&format!("UPDATE audit SET prev_hash = {} WHERE seq = 5", sql_text(&"a".repeat(64))));
    assert_eq!(broken_at(&*store), 5);
    db.exec(&format!("UPDATE audit SET prev_hash = {} WHERE seq = 5", sql_text(&entries[4].prev_hash)));

    // Rewriting an entry with a fresh hash of its own breaks the link to the next one.
    let e = &entries[11];
    let forged = audit::entry_hash(&e.prev_hash, e.seq, e.at, &e.action, "someone else", &e.body);
    db.exec(&format!("UPDATE audit SET subject = 'someone else', hash = {} WHERE seq = 12", sql_text(&forged)));
    assert_eq!(broken_at(&*store), 13);
    db.exec(&format!(
        "UPDATE audit SET subject = {}, hash = {} WHERE seq = 12",
        sql_text(&e.subject),
        sql_text(&e.hash)
    ));
    assert_eq!(audit::verify(&*store).unwrap().entries, 30);

    db.exec("DELETE FROM audit WHERE seq = 9");
    let err = audit::verify(&*store).unwrap_err();
    assert_eq!(err.seq(), Some(9), "{err}");
    assert!(err.to_string().contains("missing"), "{err}");
}

fn two_handles_keep_one_chain(db: &dyn Db) {
    let a = db.open().unwrap();
    let b = db.open().unwrap();
    // Interleaved, as `steward keys create` would while the server runs.
    for i in 0..20 {
        let (store, name) = if i % 2 == 0 { (&a, "a") } else { (&b, "b") };
        let batch = Batch {
            events: vec![event(&format!("e{i}"), "a1", "p1", t0())],
            audit: vec![record("event.accepted", &format!("{name}{i}"), json!({}))],
            ..Batch::default()
        };
        assert_eq!(store.commit(&batch).unwrap(), 1);
        if i % 5 == 0 {
            b.insert_key(&key(&format!("k{i}"), Role::Auditor)).unwrap();
        }
    }
    assert_eq!(audit::verify(&*a).unwrap().entries, 44);
    assert_eq!(b.event_count().unwrap(), 20);

    // And concurrently, from threads.
    std::thread::scope(|s| {
        for (n, store) in [&a, &b].into_iter().enumerate() {
            s.spawn(move || {
                for i in 0..25 {
                    let batch = Batch {
                        events: vec![event(&format!("t{n}_{i}"), "a1", "p1", t0())],
                        audit: vec![record("event.accepted", &format!("t{n}_{i}"), json!({ "n": n }))],
                        ..Batch::default()
                    };
                    store.commit(&batch).unwrap();
                }
            });
        }
    });
    let verified = audit::verify(&*b).unwrap();
    assert_eq!((verified.entries, verified.rows.events), (144, 70));
    assert_eq!(a.event_count().unwrap(), 70);
}

fn reads_do_not_wait_for_writes(db: &dyn Db) {
    let store = db.open().unwrap();
    let (d, c) = decision("e1", "r", "a1", Some("p1"), t0());
    let mut batch = decisions_batch(&[(d.clone(), c)]);
    batch.events = vec![event("e1", "a1", "p1", t0())];
    store.commit(&batch).unwrap();

    let held = db.hold_write_lock();
    let start = std::time::Instant::now();
    assert_eq!(store.event_count().unwrap(), 1, "the uncommitted event is not visible");
    assert_eq!(store.event("held").unwrap(), None);
    assert_eq!(store.decisions_for("a1", false, 10).unwrap(), vec![d]);
    assert_eq!(audit::verify(&*store).unwrap().entries, 2);
    assert!(start.elapsed() < std::time::Duration::from_secs(5), "reads waited {:?}", start.elapsed());

    // A commit waits for the lock and goes through once it is released.
    std::thread::scope(|s| {
        let writer = s.spawn(|| {
            let batch = Batch {
                events: vec![event("e2", "a1", "p1", t0())],
                audit: vec![record("event.accepted", "e2", json!({}))],
                ..Batch::default()
            };
            store.commit(&batch).unwrap()
        });
        std::thread::sleep(std::time::Duration::from_millis(300));
        assert!(!writer.is_finished(), "the commit should wait for the other writer");
        drop(held);
        assert_eq!(writer.join().unwrap(), 1);
    });
    assert_eq!(store.event_count().unwrap(), 2);
    assert_eq!(audit::verify(&*store).unwrap().entries, 4);
}

fn unusual_text_round_trips(db: &dyn Db) {
    let store = db.open().unwrap();
    let odd = "nul \u{0} tab \t quote \" apostrophe ' backslash \\ emoji 🧪 rtl \u{202e} 字".to_string();
    let long = "长".repeat(64 * 1024 / 3);
    let (mut d, c) = decision("e'1", "rule'x", "a'1", Some("p\"1"), t0());
    d.facts = json!({ "quoted": odd, "long": long, "score": 1e-7, "big": u64::MAX });
    d.explanation = odd.clone();
    let mut batch = decisions_batch(&[(d.clone(), c)]);
    let mut e = event("e'1", "a'1", "p1", t0());
    e.body = serde_json::to_string(&json!({ "id": "e'1", "text": odd, "long": long })).unwrap();
    batch.events = vec![e.clone()];
    let mut row = post_row("p\"1", "a'1", &odd, t0());
    row.body = serde_json::to_string(&json!({ "text": odd })).unwrap();
    batch.entities = vec![row.clone()];
    batch.audit.push(record("odd", &odd.replace('\u{0}', ""), json!({ "text": odd })));
    assert_eq!(store.commit(&batch).unwrap(), 1);
    assert_eq!(store.event("e'1").unwrap(), Some(e));
    assert_eq!(store.entity("post", "p\"1").unwrap(), Some(row));
    assert_eq!(store.decision(&d.id).unwrap(), Some(d.clone()));
    assert_eq!(store.decisions_for("a'1", false, 1).unwrap(), vec![d]);
    assert_eq!(audit::verify(&*store).unwrap().entries, 3);
}

fn migrations_are_idempotent(db: &dyn Db) {
    let store = db.open().unwrap();
    store.commit(&Batch { events: vec![event("e1", "a1", "p1", t0())], ..Batch::default() }).unwrap();
    let applied = db.query_i64("SELECT count(*) FROM schema_migrations");
    let version = db.query_i64("SELECT max(version) FROM schema_migrations");
    assert!(applied >= 1);
    drop(store);
    for _ in 0..2 {
        let store = db.open().unwrap();
        assert_eq!(store.event_count().unwrap(), 1);
    }
    assert_eq!(db.query_i64("SELECT count(*) FROM schema_migrations"), applied);
    assert_eq!(db.query_i64("SELECT max(version) FROM schema_migrations"), version);
}

fn newer_schema_is_refused(db: &dyn Db) {
    let store = db.open().unwrap();
    let known = db.query_i64("SELECT max(version) FROM schema_migrations");
    drop(store);
    match db.backend() {
        "sqlite" => db.exec(
            "INSERT INTO schema_migrations (version, description, applied_at) VALUES (9999, 'from the future', 0)",
        ),
        _ => db.exec("INSERT INTO schema_migrations (version, description) VALUES (9999, 'from the future')"),
    }
    match db.open() {
        Err(StoreError::SchemaTooNew { found, known: k }) => {
            assert_eq!(found, 9999);
            assert_eq!(k, known);
        }
        Err(e) => panic!("expected SchemaTooNew, got {e}"),
        Ok(_) => panic!("expected SchemaTooNew, the store opened"),
    }
}

// ---------------------------------------------------------------------------------------
// Not per backend

#[test]
fn postgres_rejects_other_urls() {
    for url in ["mysql://steward:secret@db/steward", "sqlite:///tmp/x.db", "host=localhost user=steward", ""] {
        match PostgresStore::connect(url) {
            Err(StoreError::BadUrl(shown)) => assert!(!shown.contains("secret"), "{shown}"),
            Err(e) => panic!("{url}: expected BadUrl, got {e}"),
            Ok(_) => panic!("{url}: connected"),
        }
    }
}

#[test]
fn postgres_urls_may_select_a_schema() {
    for url in [
        "postgres://steward@127.0.0.1:55432/postgres?options=-csearch_path%3Dsteward_x",
        "postgresql://steward@127.0.0.1:55432/postgres?options=-csearch_path=steward_x",
    ] {
        let config: ::postgres::Config = url.parse().unwrap();
        assert_eq!(config.get_options(), Some("-csearch_path=steward_x"), "{url}");
    }
}

#[test]
fn open_picks_the_backend_and_creates_the_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("nested").join("steward-data");
    let store = steward_store::open(&data, None).unwrap();
    assert_eq!(store.backend(), "sqlite");
    assert!(data.join("steward.db").exists());
    assert!(matches!(steward_store::open(&data, Some("mysql://x")), Err(StoreError::BadUrl(_))));
}

#[test]
fn a_new_sqlite_store_has_large_pages_and_an_old_one_keeps_its_own() {
    let dir = tempfile::tempdir().unwrap();
    drop(SqliteStore::open(dir.path()).unwrap());
    let page_size = |path: &std::path::Path| -> i64 {
        rusqlite::Connection::open(path.join("steward.db"))
            .unwrap()
            .query_row("PRAGMA page_size", [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(page_size(dir.path()), SqliteStore::PAGE_SIZE);
    // A store made with 4 KiB pages opens, keeps them and works.
    let old = tempfile::tempdir().unwrap();
    let conn = rusqlite::Connection::open(old.path().join("steward.db")).unwrap();
    conn.execute_batch("PRAGMA page_size = 4096; PRAGMA journal_mode = WAL; CREATE TABLE t (x);").unwrap();
    drop(conn);
    let store = SqliteStore::open(old.path()).unwrap();
    store.commit(&Batch { events: vec![event("e1", "a1", "p1", t0())], ..Batch::default() }).unwrap();
    assert_eq!(store.event_count().unwrap(), 1);
    assert_eq!(page_size(old.path()), 4096);
}

/// Commit throughput into SQLite: 100 batches of 1,000 events (about 400 bytes each) with
/// one entity row each. Run with
/// `cargo test --release -p steward-store --test suite -- --ignored --nocapture throughput`.
#[test]
#[ignore]
fn sqlite_commit_throughput() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let batches: Vec<Batch> = (0..100)
        .map(|b| {
            let mut batch = Batch::default();
            for i in 0..1000 {
                let id = format!("evt-{b:03}-{i:04}");
                let account = format!("acct-{}", (b * 1000 + i) % 5000);
                let mut e = event(&id, &account, &format!("post-{b}-{i}"), t0());
                e.body = e.body.replace("不要饮用。", "不要饮用。据说已经有多人因此住院，官方尚未回应此事。");
                batch.entities.push(post_row(&format!("post-{b}-{i}"), &account, "一条普通的帖子", t0()));
                batch.events.push(e);
            }
            batch
        })
        .collect();
    let size: usize = batches[0].events.iter().map(|e| e.body.len()).sum::<usize>() / 1000;
    let start = std::time::Instant::now();
    for batch in &batches {
        assert_eq!(store.commit(batch).unwrap(), 1000);
    }
    let secs = start.elapsed().as_secs_f64();
    println!("{} events ({size} bytes each) in {secs:.2}s: {:.0} events/s", 100_000, 100_000.0 / secs);
}

#[path = "suite/review.rs"]
mod review;
#[path = "suite/tamper.rs"]
mod tamper;

#[path = "suite/chains.rs"]
mod chains;

#[path = "suite/outbox.rs"]
mod outbox;

#[path = "suite/transparency.rs"]
mod transparency;
