//! Audit chains per partition (issue 20): each verifies on its own, a `chains.checkpoint`
//! entry of the root records their heads, and verify names a changed entry by chain and seq
//! and a partition chain cut below a recorded head. Data stored before chains still verifies.

use steward_store::Chain;

use super::*;

suite!(
    partition_chains_verify,
    a_changed_partition_entry_is_named,
    a_partition_chain_cut_below_a_checkpoint_is_caught,
    a_recomputed_partition_chain_is_caught_by_a_checkpoint,
    a_store_from_before_chains_still_verifies,
);

/// A worker's batch as the engine stages it: events of partitions 0 and 1 interleaved, in
/// stream order, each with a decision (its restrictions, credit and audit record) on the
/// event's partition chain.
fn partitions_batch(n: u32, round: u32) -> Batch {
    let mut batch = Batch::default();
    for i in 0..n {
        let p = i % 2;
        batch.audit_on(&Chain::partition(p));
        let at = t0() + Duration::seconds(i64::from(round * 100 + i));
        let id = format!("r{round}-e{i}");
        let account = format!("a{p}");
        batch.events.push(event(&id, &account, &format!("post-{id}"), at));
        let (d, c) = decision(&id, "ai", &account, Some(&format!("post-{id}")), at);
        batch.restrictions.extend(d.restrictions.iter().cloned());
        batch.credits.push(c);
        batch.audit.push(record("decision.made", &d.id, json!({"rule": d.rule_id})));
        batch.decisions.push(d);
    }
    batch
}

/// Two rounds of partition batches (entries 1-3 of p0 and p1 each: two decisions and a
/// covering entry, then one of each), a root commit between them, and a checkpoint of the
/// heads (root entry 3).
fn filled(db: &dyn Db) -> Box<dyn Store> {
    let store = db.open().unwrap();
    store.commit(&partitions_batch(4, 0)).unwrap();
    store.insert_key(&key("k1", Role::Admin)).unwrap();
    store.commit(&partitions_batch(2, 1)).unwrap();
    let entry = store.checkpoint_chains(t0()).unwrap().expect("partition chains to record");
    assert_eq!((entry.seq, entry.action.as_str(), entry.subject.as_str()), (2, "chains.checkpoint", "2 chains"));
    store
}

fn broken(store: &dyn Store) -> ChainBreak {
    match audit::verify(store) {
        Err(e) => e,
        Ok(v) => panic!("expected the log not to verify, it did: {v:?}"),
    }
}

fn partition_chains_verify(db: &dyn Db) {
    let store = filled(db);
    // Each partition's entries on its own chain: 2 decisions and their covering entry, then 1
    // and its covering entry.
    for p in 0..2 {
        let entries = store.chain_entries(&Chain::partition(p), 0, 100).unwrap();
        let actions: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, ["decision.made", "decision.made", "rows.committed", "decision.made", "rows.committed"]);
        assert_eq!(entries[2].subject, "2 credits, 2 decisions, 2 events, 4 restrictions");
    }
    // The root holds the key and the checkpoint, which records both heads.
    let root = store.audit_entries(0, 100).unwrap();
    assert_eq!(root.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(), ["key.created", "chains.checkpoint"]);
    let heads = store.chain_heads().unwrap();
    assert_eq!(
        heads.iter().map(|h| (h.chain.to_string(), h.seq)).collect::<Vec<_>>(),
        [("p0".into(), 5), ("p1".into(), 5)]
    );
    let body: serde_json::Value = serde_json::from_str(&root[1].body).unwrap();
    assert_eq!(body["heads"][1], json!({"chain": "p1", "seq": 5, "hash": heads[1].hash}));
    assert_eq!(db.query_i64("SELECT count(*) FROM events WHERE chain = 'p1'"), 3);
    assert_eq!(db.query_i64("SELECT count(*) FROM restrictions WHERE chain = ''"), 0);

    let v = audit::verify(&*store).unwrap();
    assert_eq!((v.entries, v.chains, v.chain_entries), (2, 2, 10));
    assert_eq!((v.rows.events, v.rows.decisions, v.rows.restrictions, v.rows.credits), (6, 6, 12, 6));
    // A batch repeating a stored event: the new one alone is covered, on its chain.
    let mut again = Batch::default();
    again.audit_on(&Chain::partition(0));
    again.events.push(event("r1-e0", "a0", "post-r1-e0", t0()));
    again.events.push(event("late", "a0", "post-late", t0()));
    assert_eq!(store.commit(&again).unwrap(), 1);
    let last = store.chain_entries(&Chain::partition(0), 5, 10).unwrap();
    assert_eq!((last.len(), last[0].subject.as_str()), (1, "1 events"));
    // A page at a time, and a root commit of rows beside them.
    store.commit(&decisions_batch(&[decision("root-e", "ai", "a9", None, t0())])).unwrap();
    let v = audit::verify_with(&*store, &[], 1).unwrap();
    assert_eq!((v.entries, v.chain_entries, v.rows.events, v.rows.decisions), (4, 11, 7, 7));
}

fn a_changed_partition_entry_is_named(db: &dyn Db) {
    let store = filled(db);
    db.exec("UPDATE audit SET subject = 'ai@r0-e9' WHERE chain = 'p1' AND seq = 2");
    let err = broken(&*store);
    assert_eq!((err.chain(), err.seq()), (Some(&Chain::partition(1)), Some(2)));
    assert!(err.to_string().starts_with("the audit chain p1 is broken at entry 2: stored hash "), "{err}");

    // A row of a partition chain, named with it.
    db.exec("UPDATE audit SET subject = 'ai@r0-e3' WHERE chain = 'p1' AND seq = 2");
    db.exec("UPDATE credits SET points = 9 WHERE decision_id = 'ai@r1-e0'");
    let err = broken(&*store).to_string();
    assert!(
        err.starts_with("the credits table does not match the audit log (chain p0): credit of decision ai@r1-e0"),
        "{err}"
    );
    db.exec("UPDATE credits SET points = 2 WHERE decision_id = 'ai@r1-e0'");
    // A row moved to another chain is missing from its own.
    db.exec("UPDATE events SET chain = 'p1' WHERE id = 'r0-e0'");
    let err = broken(&*store).to_string();
    assert!(err.contains("(chain p0): event r0-e0 is missing: audited by entry 3"), "{err}");
}

fn a_partition_chain_cut_below_a_checkpoint_is_caught(db: &dyn Db) {
    let store = filled(db);
    // Entries after the checkpoint are not anchored by it: cut off, the chain still verifies.
    let mut batch = Batch::default();
    batch.audit_on(&Chain::partition(1));
    batch.audit.push(record("note", "n1", json!({})));
    store.commit(&batch).unwrap();
    db.exec("DELETE FROM audit WHERE chain = 'p1' AND seq = 6");
    assert_eq!(audit::verify(&*store).unwrap().chain_entries, 10);

    // Below the recorded head: named, whether or not the entries cut covered rows.
    db.exec("DELETE FROM audit WHERE chain = 'p1' AND seq >= 4");
    let err = broken(&*store);
    assert_eq!(
        err.to_string(),
        "the audit chain p1 does not match the head a root checkpoint recorded: chain p1 ends at seq 3 but \
         checkpoint 2 recorded seq 5: entries were cut off its end"
    );
    assert_eq!((err.chain(), err.seq()), (Some(&Chain::partition(1)), Some(4)));
    // A whole chain gone: its rows are left, and the checkpoint still names it.
    db.exec("DELETE FROM audit WHERE chain = 'p1'; DELETE FROM events WHERE chain = 'p1';");
    db.exec("DELETE FROM decisions WHERE chain = 'p1'; DELETE FROM restrictions WHERE chain = 'p1';");
    db.exec("DELETE FROM credits WHERE chain = 'p1'");
    assert!(broken(&*store).to_string().contains("chain p1 ends at seq 0 but checkpoint 2 recorded seq 5"));
}

fn a_recomputed_partition_chain_is_caught_by_a_checkpoint(db: &dyn Db) {
    let store = filled(db);
    let entries = store.chain_entries(&Chain::partition(0), 0, 100).unwrap();
    // Entry 4 changed, and the chain from it computed again: intact, but not what the root
    // recorded.
    let mut prev = entries[2].hash.clone();
    for e in &entries[3..] {
        let subject = if e.seq == 4 { "ai@forged" } else { e.subject.as_str() };
        let hash = audit::entry_hash(&prev, e.seq, e.at, &e.action, subject, &e.body);
        db.exec(&format!(
            "UPDATE audit SET subject = {}, prev_hash = {}, hash = {} WHERE chain = 'p0' AND seq = {}",
            sql_text(subject),
            sql_text(&prev),
            sql_text(&hash),
            e.seq
        ));
        prev = hash;
    }
    let err = broken(&*store);
    assert_eq!((err.chain(), err.seq()), (Some(&Chain::partition(0)), Some(5)));
    assert!(
        err.to_string()
            .contains("entry 5 hash differs from the head root checkpoint 2 recorded: chain p0 was rewritten"),
        "{err}"
    );
}

/// Undoes migration 13, as a store written before chains holds its data.
pub(super) fn before_chains(db: &dyn Db) {
    let mut sql = String::new();
    for table in ["events", "decisions", "restrictions", "credits"] {
        sql += &format!("DROP INDEX {table}_chain; ALTER TABLE {table} DROP COLUMN chain;");
    }
    sql += match db.backend() {
        "sqlite" => {
            "CREATE TABLE audit_old (seq INTEGER PRIMARY KEY, at INTEGER NOT NULL, action TEXT NOT NULL,
                 subject TEXT NOT NULL, body TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
             INSERT INTO audit_old SELECT seq, at, action, subject, body, prev_hash, hash FROM audit;
             DROP TABLE audit; ALTER TABLE audit_old RENAME TO audit;"
        }
        _ => {
            "ALTER TABLE audit DROP CONSTRAINT audit_pkey; ALTER TABLE audit DROP COLUMN chain;
              ALTER TABLE audit ADD PRIMARY KEY (seq);"
        }
    };
    sql += "DELETE FROM schema_migrations WHERE version = 13;";
    db.exec(&sql);
}

fn a_store_from_before_chains_still_verifies(db: &dyn Db) {
    let store = db.open().unwrap();
    for round in 0..2 {
        let at = t0() + Duration::seconds(round);
        let mut batch = decisions_batch(&[decision(&format!("old-{round}"), "ai", "a1", None, at)]);
        batch.events.push(event(&format!("old-{round}"), "a1", "p", at));
        store.commit(&batch).unwrap();
    }
    store.insert_key(&key("k1", Role::Admin)).unwrap();
    let before = store.audit_entries(0, 100).unwrap();
    drop(store);
    before_chains(db);
    assert_eq!(db.query_i64("SELECT count(*) FROM audit"), 5);

    // Migrated: the same entries, on the root chain, verify as before.
    let store = db.open().unwrap();
    assert_eq!(store.audit_entries(0, 100).unwrap(), before);
    let v = audit::verify(&*store).unwrap();
    assert_eq!((v.entries, v.chains, v.rows.events, v.rows.decisions), (5, 0, 2, 2));
    assert_eq!(store.checkpoint_chains(t0()).unwrap(), None, "no partition chains to record");
    // Partition chains then start beside it.
    store.commit(&partitions_batch(2, 0)).unwrap();
    store.checkpoint_chains(t0()).unwrap();
    let v = audit::verify(&*store).unwrap();
    assert_eq!((v.entries, v.chains, v.chain_entries, v.rows.events), (6, 2, 4, 4));
}

/// PostgreSQL: a commit on one partition chain holds that chain's head alone. With a writer
/// of p0 stuck inside its transaction (waiting for a fence another connection holds), a
/// commit on p1 goes through, while another on p0, and one on the root, wait for it.
#[test]
fn postgres_partition_chains_do_not_wait_for_each_other() {
    use std::time::{Duration as Wait, Instant};
    let Some(db) = PgDb::new() else { return };
    let open = || -> std::sync::Arc<dyn Store> { std::sync::Arc::from(db.open().unwrap()) };
    let store = open();
    store.commit(&partitions_batch(2, 0)).unwrap();
    let mut holder = db.client();
    steward_store::fence::advance(&mut holder, "s/0", "w1").unwrap();
    holder.batch_execute("BEGIN; SELECT epoch FROM fences WHERE key = 's/0' FOR UPDATE;").unwrap();

    let on = |p: u32, id: &str| {
        let mut b = Batch::default();
        b.audit_on(&Chain::partition(p));
        b.events.push(event(id, "a", id, t0()));
        b
    };
    let mut stuck_batch = on(0, "stuck");
    stuck_batch.fences = vec![steward_store::fence::Fence { key: "s/0".into(), epoch: 1 }];
    let spawn = |store: std::sync::Arc<dyn Store>, batch: Batch| std::thread::spawn(move || store.commit(&batch));
    let stuck = spawn(open(), stuck_batch);
    std::thread::sleep(Wait::from_millis(200));
    assert!(!stuck.is_finished(), "the p0 writer should wait for its fence");

    let other = spawn(open(), on(1, "other-partition"));
    let began = Instant::now();
    while !other.is_finished() && began.elapsed() < Wait::from_secs(5) {
        std::thread::sleep(Wait::from_millis(10));
    }
    assert!(other.is_finished(), "a p1 commit waited for the p0 writer");
    let same = spawn(open(), on(0, "same-partition"));
    let root = spawn(open(), Batch { events: vec![event("root", "a", "root", t0())], ..Default::default() });
    std::thread::sleep(Wait::from_millis(300));
    assert!(!same.is_finished(), "a second p0 writer did not wait for the first");
    assert!(!root.is_finished(), "a root writer did not wait for the p0 writer");

    holder.batch_execute("COMMIT").unwrap();
    for writer in [other, stuck, same, root] {
        assert_eq!(writer.join().unwrap().unwrap(), 1);
    }
    let v = audit::verify(&*store).unwrap();
    assert_eq!((v.chains, v.rows.events), (2, 6));
}

/// PostgreSQL, measured by hand (`-- --ignored --nocapture`): two writers committing batches
/// of events with a decision each, on the root chain (one head, so one at a time) and on a
/// partition chain each.
#[test]
#[ignore]
fn postgres_two_writers_throughput() {
    use std::time::Instant;
    const BATCHES: u32 = 60;
    const EVENTS: u32 = 200;
    for on_partitions in [false, true] {
        let Some(db) = PgDb::new() else { return };
        let stores: Vec<std::sync::Arc<dyn Store>> = (0..2).map(|_| std::sync::Arc::from(db.open().unwrap())).collect();
        let start = Instant::now();
        let writers: Vec<_> = stores
            .into_iter()
            .enumerate()
            .map(|(w, store)| {
                std::thread::spawn(move || {
                    for b in 0..BATCHES {
                        let mut batch = Batch::default();
                        if on_partitions {
                            batch.audit_on(&Chain::partition(w as u32));
                        }
                        for i in 0..EVENTS {
                            let id = format!("w{w}-b{b}-e{i}");
                            batch.events.push(event(&id, &format!("a{w}"), &format!("p-{id}"), t0()));
                            let (d, c) = decision(&id, "ai", &format!("a{w}"), Some(&format!("p-{id}")), t0());
                            batch.restrictions.extend(d.restrictions.iter().cloned());
                            batch.credits.push(c);
                            batch.audit.push(record("decision.made", &d.id, json!({})));
                            batch.decisions.push(d);
                        }
                        store.commit(&batch).unwrap();
                    }
                })
            })
            .collect();
        writers.into_iter().for_each(|w| w.join().unwrap());
        let secs = start.elapsed().as_secs_f64();
        let events = f64::from(2 * BATCHES * EVENTS);
        let store = db.open().unwrap();
        let v = audit::verify(&*store).unwrap();
        assert_eq!(v.rows.events, 2 * u64::from(BATCHES * EVENTS));
        let mode = if on_partitions { "a partition chain each" } else { "the root chain" };
        println!("two writers on {mode}: {events} events in {secs:.2} s, {:.0} events/s", events / secs);
    }
}
