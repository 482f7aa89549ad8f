//! Fencing tokens: a commit that holds only if its writer still owns what it writes for.
//!
//! In distributed mode a worker owns a partition while it holds an advisory lock on a
//! connection of its own. That alone cannot stop a worker whose lock connection is gone, but
//! whose store connection is not, from committing the batch in hand after another worker took
//! the partition over. So each claim advances the partition's fence (`fences.epoch`), and each
//! batch commits only if the fences it names still hold the epochs its writer got:
//!
//! - the batch's transaction reads its fences `FOR SHARE` before writing anything, and fails
//!   with [`StoreError::Fenced`] when one has moved on (nothing is written);
//! - a new owner advances the fence with an `UPDATE`, which waits for every transaction that
//!   read it to end. A batch of the old owner either commits before the new owner starts
//!   (its events then come again to the new owner, as duplicates), or sees the new epoch and
//!   writes nothing.

use crate::{Result, StoreError};

/// A fence a batch commits under: `key` (e.g. `steward-events/17`) must still hold `epoch`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    pub key: String,
    pub epoch: i64,
}

pub(crate) const SCHEMA: &str = r#"
CREATE TABLE fences (
    key     TEXT   PRIMARY KEY,
    epoch   BIGINT NOT NULL,
    holder  TEXT   NOT NULL
);
"#;

/// Advances the fence `key` for a new holder and returns its epoch (1 for a new key). Waits
/// for the transactions that read the fence to end.
pub fn advance(client: &mut impl postgres::GenericClient, key: &str, holder: &str) -> Result<i64> {
    let row = client.query_one(
        "INSERT INTO fences (key, epoch, holder) VALUES ($1, 1, $2)
         ON CONFLICT (key) DO UPDATE SET epoch = fences.epoch + 1, holder = EXCLUDED.holder
         RETURNING epoch",
        &[&key, &holder],
    )?;
    Ok(row.get(0))
}

fn check(fence: &Fence, found: Option<i64>) -> Result<()> {
    if found == Some(fence.epoch) {
        return Ok(());
    }
    Err(StoreError::Fenced { key: fence.key.clone(), epoch: fence.epoch, found })
}

/// Checks the fences inside a PostgreSQL transaction, holding them until it ends.
pub(crate) fn check_postgres(tx: &mut postgres::Transaction<'_>, fences: &[Fence]) -> Result<()> {
    for fence in fences {
        let row = tx.query_opt("SELECT epoch FROM fences WHERE key = $1 FOR SHARE", &[&fence.key])?;
        check(fence, row.map(|r| r.get(0)))?;
    }
    Ok(())
}

/// Checks the fences inside a SQLite transaction (one writer at a time: reading is enough).
pub(crate) fn check_sqlite(tx: &rusqlite::Transaction<'_>, fences: &[Fence]) -> Result<()> {
    use rusqlite::OptionalExtension;
    for fence in fences {
        let found = tx.query_row("SELECT epoch FROM fences WHERE key = ?1", [&fence.key], |r| r.get(0)).optional()?;
        check(fence, found)?;
    }
    Ok(())
}
