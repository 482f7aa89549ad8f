//! The audit log against rewriting (issue 21, part 7): rows changed, removed or added,
//! entries cut off the end of the log, a chain computed again after a change. Each is caught
//! and named, by the rows' covering entries or by a signed checkpoint.

use sha2::{Digest, Sha256};
use steward_store::checkpoint::{AuditKey, Checkpoint};
use steward_store::{AuditEntry, Table};

use super::*;

suite!(
    a_clean_store_verifies_every_row,
    an_edited_decision_is_named,
    deleted_events_are_named,
    an_added_row_is_named,
    an_edited_restriction_is_named,
    a_truncated_log_is_caught,
    a_recomputed_chain_is_caught_by_a_checkpoint,
    rows_stored_before_coverage_are_adopted,
    a_store_verifies_while_it_is_written,
);

/// Three commits as the engine makes them: five events each, three live decisions with
/// their `decision.created` entries, restrictions and credits, and a shadow decision.
/// Entries 4, 8 and 12 cover the rows.
fn filled(db: &dyn Db) -> Box<dyn Store> {
    let store = db.open().unwrap();
    for b in 0..3 {
        let mut batch = Batch::default();
        for i in 0..4 {
            let at = t0() + Duration::seconds(b * 10 + i);
            let (d, c) = decision(&format!("e{b}-{i}"), "ai", "a1", Some(&format!("p{b}-{i}")), at);
            batch.events.push(event(&d.event_id, "a1", &format!("p{b}-{i}"), at));
            if i == 3 {
                batch.decisions.push(Decision { shadow: true, ..d });
                continue;
            }
            batch.audit.push(created(&d));
            batch.restrictions.extend(d.restrictions.iter().cloned());
            batch.credits.push(c);
            batch.decisions.push(d);
        }
        batch.events.push(event(&format!("e{b}-quiet"), "a2", &format!("q{b}"), t0()));
        store.commit(&batch).unwrap();
    }
    store
}

/// The `decision.created` entry the engine writes: what a decision enforces.
fn created(d: &Decision) -> AuditRecord {
    record(
        "decision.created",
        &d.id,
        json!({
            "account_id": d.account_id, "actions": d.actions, "credit_deducted": d.credit_deducted,
            "event_id": d.event_id, "policy_version": d.policy_version, "post_id": d.post_id,
            "restrictions": d.restrictions, "rule_id": d.rule_id,
        }),
    )
}

fn broken(store: &dyn Store) -> String {
    match audit::verify(store) {
        Err(e) => e.to_string(),
        Ok(v) => panic!("expected the log not to verify, it did: {v:?}"),
    }
}

/// Replaces text in a decision's stored body.
fn edit_decision(db: &dyn Db, id: &str, from: &str, to: &str) {
    let (from, to, id) = (sql_text(from), sql_text(to), sql_text(id));
    db.exec(&match db.backend() {
        "sqlite" => format!("UPDATE decisions SET body = replace(body, {from}, {to}) WHERE id = {id}"),
        _ => format!("UPDATE decisions SET body = replace(body::text, {from}, {to})::json WHERE id = {id}"),
    });
}

fn a_clean_store_verifies_every_row(db: &dyn Db) {
    let store = filled(db);
    let v = audit::verify(&*store).unwrap();
    assert_eq!(v.entries, 12);
    assert_eq!((v.rows.events, v.rows.decisions, v.rows.restrictions, v.rows.credits), (15, 12, 18, 9));
    assert_eq!((v.checkpoints, v.anchored.as_ref(), v.unanchored()), (0, None, 12));
    let entries = store.audit_entries(0, 100).unwrap();
    assert_eq!(entries[3].action, "rows.committed");
    assert_eq!(entries[3].subject, "3 credits, 4 decisions, 5 events, 6 restrictions");
    // Read a row at a time, too.
    assert_eq!(audit::verify_with(&*store, &[], 1).unwrap(), v);
}

fn an_edited_decision_is_named(db: &dyn Db) {
    let store = filled(db);
    // What it enforces: named against its decision.created entry.
    edit_decision(db, "ai@e1-2", r#""credit_deducted":2"#, r#""credit_deducted":0"#);
    assert_eq!(
        broken(&*store),
        "the decisions table does not match the audit log: decision ai@e1-2 (seq 7) differs from what audit \
         entry 8 recorded: credit_deducted is 0 in the row but 2 in its decision.created entry 7"
    );
    edit_decision(db, "ai@e1-2", r#""credit_deducted":0"#, r#""credit_deducted":2"#);
    audit::verify(&*store).unwrap();

    // A column against the row's own body.
    db.exec("UPDATE decisions SET account_id = 'a9' WHERE id = 'ai@e0-1'");
    let err = broken(&*store);
    assert!(err.contains("decision ai@e0-1 (seq 2) differs from what audit entry 4 recorded"), "{err}");
    assert!(err.ends_with(r#"column account_id is "a9" but its body says "a1""#), "{err}");
    db.exec("UPDATE decisions SET account_id = 'a1' WHERE id = 'ai@e0-1'");

    // The statement of reasons, of a live and of a shadow decision.
    for (id, entry) in [("ai@e2-0", 12), ("ai@e2-3", 12)] {
        edit_decision(db, id, "no visible label", "a visible label");
        let err = broken(&*store);
        assert!(err.contains(&format!("decision {id} (seq ")), "{err}");
        assert!(err.contains(&format!("differs from what audit entry {entry} recorded: its body")), "{err}");
        edit_decision(db, id, "a visible label", "no visible label");
    }
    assert_eq!(audit::verify(&*store).unwrap().rows.decisions, 12);
}

fn deleted_events_are_named(db: &dyn Db) {
    let store = filled(db);
    db.exec("DELETE FROM events WHERE id = 'e2-2'");
    assert_eq!(
        broken(&*store),
        "the events table does not match the audit log: event after e2-1 is missing: audited by entry 12 (row 3 \
         of 5), not in the table"
    );
    // The first problem is named: now the first event of the commit before.
    db.exec("DELETE FROM events WHERE id = 'e1-0'");
    assert_eq!(
        broken(&*store),
        "the events table does not match the audit log: event e1-0 is missing: audited by entry 8 (row 1 of 5), \
         not in the table"
    );
}

fn an_added_row_is_named(db: &dyn Db) {
    let store = filled(db);
    db.exec(match db.backend() {
        "sqlite" => "INSERT INTO events (id, type, at, body) VALUES ('forged', 'post.created', 0, '{}')",
        _ => "INSERT INTO events (id, type, at, body) VALUES ('forged', 'post.created', now(), '{}')",
    });
    let err = broken(&*store);
    assert!(
        err.starts_with("the events table does not match the audit log: event forged (seq 16) is not covered"),
        "{err}"
    );
    db.exec("DELETE FROM events WHERE id = 'forged'");
    audit::verify(&*store).unwrap();
    // A credit slipped in among the rows of a commit.
    db.exec("UPDATE credits SET points = 20 WHERE decision_id = 'ai@e0-0'");
    let err = broken(&*store);
    assert!(
        err.contains("credit of decision ai@e0-0 (seq 1) differs from what audit entry 4 recorded: 20 points"),
        "{err}"
    );
}

fn an_edited_restriction_is_named(db: &dyn Db) {
    let store = filled(db);
    // Lifting a ban in the table the engine loads at start, leaving the decision alone.
    db.exec("UPDATE restrictions SET end_at = NULL WHERE decision_id = 'ai@e0-1' AND kind = 'posting'");
    assert_eq!(
        broken(&*store),
        "the restrictions table does not match the audit log: restriction of decision ai@e0-1 (seq 4) differs \
         from what audit entry 4 recorded: kind posting, end none"
    );
}

fn sign_head(store: &dyn Store, key: &AuditKey) -> Checkpoint {
    let head = store.audit_head().unwrap().unwrap();
    key.sign(head.seq, &head.hash, t0() + Duration::hours(1))
}

fn checked(store: &dyn Store, checkpoints: &[Checkpoint]) -> Result<audit::Verified, String> {
    audit::verify_with(store, checkpoints, audit::VERIFY_PAGE).map_err(|e| e.to_string())
}

fn a_truncated_log_is_caught(db: &dyn Db) {
    let store = filled(db);
    store.insert_key(&key("k1", Role::Auditor)).unwrap();
    store.insert_key(&key("k2", Role::Auditor)).unwrap();
    let key = AuditKey::generate();
    let signed = [sign_head(&*store, &key)];
    let v = checked(&*store, &signed).unwrap();
    assert_eq!((v.entries, v.checkpoints, v.anchored.as_ref().map(|c| c.seq), v.unanchored()), (14, 1, Some(14), 0));

    // Entries that cover no rows, cut off: only the checkpoint shows it.
    db.exec("DELETE FROM audit WHERE seq > 12");
    assert_eq!(audit::verify(&*store).unwrap().entries, 12);
    assert_eq!(
        checked(&*store, &signed).unwrap_err(),
        "the audit log does not match a signed checkpoint: entry 13 missing: checkpoint of \
         2026-11-22T09:00:00.123456+00:00 signed head seq 14, and the log ends at entry 12"
    );

    // The last 10 rows: the rows they covered are left uncovered, and the checkpoint names
    // the first entry missing.
    db.exec("DELETE FROM audit WHERE seq > 2");
    let err = broken(&*store);
    assert!(
        err.starts_with("the events table does not match the audit log: event e0-0 (seq 1) is not covered"),
        "{err}"
    );
    assert!(checked(&*store, &signed).unwrap_err().contains("entry 3 missing: checkpoint of"));
}

/// Computes the chain again from entry `from` on, as someone who changed it would.
fn recompute_chain(db: &dyn Db, store: &dyn Store, from: u64) {
    let mut prev = match from {
        1 => audit::GENESIS_HASH.to_string(),
        _ => store.audit_entries(from - 2, 1).unwrap()[0].hash.clone(),
    };
    for e in store.audit_entries(from - 1, usize::MAX).unwrap() {
        let hash = audit::entry_hash(&prev, e.seq, e.at, &e.action, &e.subject, &e.body);
        db.exec(&format!(
            "UPDATE audit SET prev_hash = {}, hash = {} WHERE seq = {}",
            sql_text(&prev),
            sql_text(&hash),
            e.seq
        ));
        prev = hash;
    }
}

/// Rewrites a covering entry's decisions as the table now holds them (`rows`: the
/// decisions it covers, by position in the table).
fn forge_cover(db: &dyn Db, store: &dyn Store, entry: &AuditEntry, rows: std::ops::Range<usize>) {
    let decisions = store.table_rows(Table::Decisions, &steward_store::Chain::root(), 0, 1000).unwrap();
    let mut tags = String::new();
    let mut digest = Sha256::new();
    for row in &decisions[rows] {
        let hash = row.hash();
        tags.push_str(&hex::encode(&hash[..8]));
        digest.update(hash);
    }
    let mut body: serde_json::Value = serde_json::from_str(&entry.body).unwrap();
    body["decisions"]["rows"] = json!(tags);
    body["decisions"]["digest"] = json!(hex::encode(digest.finalize()));
    let body = audit::canonical_json(&body);
    db.exec(&format!("UPDATE audit SET body = {} WHERE seq = {}", sql_text(&body), entry.seq));
}

fn a_recomputed_chain_is_caught_by_a_checkpoint(db: &dyn Db) {
    let store = filled(db);
    let key = AuditKey::generate();
    let signed = [sign_head(&*store, &key)];
    let entries = store.audit_entries(0, 100).unwrap();

    // An entry changed and the chain computed again from it: intact, but not what was signed.
    let e = &entries[4];
    db.exec(&format!("UPDATE audit SET body = {} WHERE seq = 5", sql_text(&e.body.replace("\"ai\"", "\"none\""))));
    assert!(broken(&*store).contains("the audit chain is broken at entry 5"));
    recompute_chain(db, &*store, 5);
    assert_eq!(audit::verify(&*store).unwrap().entries, 12);
    let err = checked(&*store, &signed).unwrap_err();
    assert!(
        err.starts_with(
            "the audit log does not match a signed checkpoint: entry 12 hash differs from the signed checkpoint of \
             2026-11-22T09:00:00.123456+00:00: the log was rewritten at or before entry 12"
        ),
        "{err}"
    );

    // A decision changed, its covering entry rewritten to match and the chain computed again.
    db.exec(&format!("UPDATE audit SET body = {} WHERE seq = 5", sql_text(&e.body)));
    recompute_chain(db, &*store, 5);
    checked(&*store, &signed).unwrap();
    edit_decision(db, "ai@e1-2", r#""credit_deducted":2"#, r#""credit_deducted":0"#);
    assert!(broken(&*store).contains("decision ai@e1-2 (seq 7) differs from what audit entry 8 recorded"));
    forge_cover(db, &*store, &entries[7], 4..8);
    recompute_chain(db, &*store, 8);
    assert_eq!(audit::verify(&*store).unwrap().rows.decisions, 12, "recomputed without a secret, it verifies");
    assert!(checked(&*store, &signed).unwrap_err().contains("entry 12 hash differs from the signed checkpoint"));
}

fn rows_stored_before_coverage_are_adopted(db: &dyn Db) {
    // A store as an older steward left it: rows, and a log that does not cover them.
    drop(filled(db));
    // It had none of the tables of the versions from 6 on either.
    super::chains::before_chains(db);
    db.exec(
        "DELETE FROM audit; DELETE FROM schema_migrations WHERE version >= 6;
         DROP TABLE cases; DROP TABLE case_log; DROP TABLE case_reports; DROP TABLE appeals;
         DROP TABLE reversals; DROP TABLE reporter_mutes; DROP TABLE notices;
         DROP INDEX restrictions_start; DROP TABLE fences;",
    );
    let store = db.open().unwrap();
    let entries = store.audit_entries(0, 100).unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].action, "rows.adopted");
    assert_eq!(entries[0].subject, "9 credits, 12 decisions, 15 events, 18 restrictions");
    let v = audit::verify(&*store).unwrap();
    assert_eq!((v.entries, v.rows.events, v.rows.decisions), (1, 15, 12));
    // Adopted once; covered from then on like any rows.
    drop(store);
    let store = db.open().unwrap();
    assert_eq!(audit::verify(&*store).unwrap().entries, 1);
    edit_decision(db, "ai@e0-0", "no visible label", "a visible label");
    assert!(broken(&*store).contains("decision ai@e0-0 (seq 1) differs from what audit entry 1 recorded"));
}

fn a_store_verifies_while_it_is_written(db: &dyn Db) {
    let store = filled(db);
    let writer = db.open().unwrap();
    let done = std::sync::atomic::AtomicBool::new(false);
    let mut runs = 0;
    std::thread::scope(|s| {
        s.spawn(|| {
            for i in 0..40 {
                let (d, c) = decision(&format!("w{i}"), "ai", "a3", None, t0());
                let mut batch = decisions_batch(&[(d, c)]);
                batch.events = vec![event(&format!("w{i}"), "a3", "p", t0())];
                writer.commit(&batch).unwrap();
            }
            done.store(true, Ordering::SeqCst);
        });
        // Small pages: rows read past the entries read so far are the rule, not the exception.
        while !done.load(Ordering::SeqCst) || runs == 0 {
            audit::verify_with(&*store, &[], 2).unwrap();
            runs += 1;
        }
    });
    let v = audit::verify(&*store).unwrap();
    assert_eq!((v.rows.events, v.rows.decisions), (55, 52), "after {runs} runs beside the writer");
}
