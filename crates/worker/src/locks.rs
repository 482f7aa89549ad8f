//! Partition ownership: session-level PostgreSQL advisory locks on a connection of their own
//! (see the crate docs).

use anyhow::{Context, Result};

use crate::Worker;

/// The advisory lock class of a stream's partitions: the low 32 bits of 64-bit FNV-1a over
/// `steward-worker/<stream>`, as a signed int4 (1816471355 for `steward-events`). Fixed: workers
/// of different releases must agree.
pub fn lock_class(stream: &str) -> i32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in format!("steward-worker/{stream}").as_bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h as u32 as i32
}

/// The advisory locks of one worker, on their own connection.
/// The fence of a partition ([`steward_store::fence`]).
pub(crate) fn fence_key(stream: &str, partition: u32) -> String {
    format!("{stream}/{partition}")
}

/// This worker, as a fence's holder: host and process id.
pub(crate) fn holder() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    format!("{}:{}", host.trim(), std::process::id())
}

pub(crate) struct Locks {
    pub(crate) url: String,
    pub(crate) class: i32,
    pub(crate) client: Option<postgres::Client>,
}

impl Locks {
    pub(crate) fn connect(&mut self) -> Result<&mut postgres::Client> {
        if self.client.as_ref().is_none_or(|c| c.is_closed()) {
            // Named after the worker, so that `steward cluster status` can tell who holds a lock.
            let client = self
                .url
                .parse::<postgres::Config>()
                .context("parsing the PostgreSQL URL")?
                .application_name(&format!("steward-worker {}", holder()))
                .connect(postgres::NoTls)
                .context("connecting to PostgreSQL for the partition locks")?;
            self.client = Some(client);
        }
        Ok(self.client.as_mut().expect("connected"))
    }

    /// The lock ids (objid) this session holds in the class (an error when the connection is
    /// gone, and with it every lock).
    pub(crate) fn held_ids(&mut self) -> Result<Vec<i32>> {
        let class = self.class;
        let Some(client) = self.client.as_mut() else { return Ok(Vec::new()) };
        let rows = client.query(
            "SELECT objid::int8 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()
             AND granted AND classid::int8 = ($1::int4::int8 & 4294967295) AND objsubid = 2",
            &[&class],
        )?;
        // objid is the int4 given, read back as an unsigned oid.
        Ok(rows.iter().map(|r| r.get::<_, i64>(0) as u32 as i32).collect())
    }

    /// The partitions whose lock this session holds.
    pub(crate) fn held(&mut self) -> Result<Vec<u32>> {
        Ok(self.held_ids()?.into_iter().filter_map(|id| u32::try_from(id).ok()).collect())
    }

    pub(crate) fn try_lock_id(&mut self, id: i32) -> Result<bool> {
        let class = self.class;
        let row = self.connect()?.query_one("SELECT pg_try_advisory_lock($1, $2)", &[&class, &id])?;
        Ok(row.get(0))
    }

    pub(crate) fn try_lock(&mut self, partition: u32) -> Result<bool> {
        self.try_lock_id(partition as i32)
    }

    pub(crate) fn unlock(&mut self, partition: u32) {
        if let Some(c) = self.client.as_mut() {
            let _ = c.query("SELECT pg_advisory_unlock($1, $2)", &[&self.class, &(partition as i32)]);
        }
    }

    /// Advances the fence of a partition just locked (waiting for the last owner's batch in
    /// flight, if any, to end) and returns the epoch this worker's commits hold under.
    pub(crate) fn advance_fence(&mut self, stream: &str, partition: u32) -> Result<i64> {
        let holder = holder();
        let client = self.connect()?;
        Ok(steward_store::fence::advance(client, &fence_key(stream, partition), &holder)?)
    }

    pub(crate) fn release_all(&mut self) {
        if let Some(mut c) = self.client.take() {
            let _ = c.batch_execute("SELECT pg_advisory_unlock_all()");
            let _ = c.close();
        }
    }
}

impl Worker {
    /// Gives up partitions whose lock is gone and claims free ones, up to the maximum. Returns
    /// how many it claimed.
    pub(crate) fn claim(&mut self) -> Result<usize> {
        match self.locks.held() {
            Ok(held) => self.owned.retain(|p, _| {
                let keep = held.contains(p);
                if !keep {
                    tracing::warn!(partition = p, "partition lock lost; giving the partition up");
                }
                keep
            }),
            Err(e) => {
                tracing::warn!("partition lock connection lost ({e}); giving up every partition");
                self.owned.clear();
                self.locks.client = None;
            }
        }
        // Locks first, then every new partition's consumer at once (on an R3 stream each
        // consumer operation is a round of the cluster's consensus).
        let mut locked = Vec::new();
        for p in 0..self.config.partitions {
            if self.owned.len() + locked.len() >= self.max_owned {
                break;
            }
            if self.owned.contains_key(&p) {
                continue;
            }
            match self.locks.try_lock(p) {
                Ok(true) => match self.locks.advance_fence(&self.config.name, p) {
                    Ok(epoch) => {
                        self.fences.insert(p, epoch);
                        locked.push(p);
                    }
                    Err(e) => {
                        tracing::warn!(partition = p, "cannot advance the partition's fence: {e:#}");
                        self.locks.unlock(p);
                    }
                },
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!("cannot claim partitions: {e:#}");
                    break;
                }
            }
        }
        let consumers = self.runtime.block_on(futures_util::future::join_all(locked.iter().map(|&p| self.rewind(p))));
        let mut claimed = 0;
        for (p, consumer) in locked.into_iter().zip(consumers) {
            match consumer {
                Ok(d) => {
                    let owned = self.pull(p, d.consumer, d.next_delivery);
                    self.owned.insert(p, owned);
                    claimed += 1;
                }
                Err(e) => {
                    tracing::warn!(partition = p, "cannot set up the partition's consumer: {e:#}");
                    self.locks.unlock(p);
                }
            }
        }
        if claimed > 0 {
            tracing::info!(claimed, owned = self.owned.len(), "partitions claimed");
        }
        self.metrics.owned(self.owned.keys().copied());
        // For /healthz: the lock connection answers (a new one when it was lost).
        let up = self.locks.connect().and_then(|c| Ok(c.batch_execute("SELECT 1")?)).is_ok();
        self.metrics.store_up.store(up, std::sync::atomic::Ordering::Relaxed);
        Ok(claimed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_class_is_fixed() {
        // Part of the contract between workers of every release: never to change.
        assert_eq!(lock_class("steward-events"), 1_816_471_355);
        assert_ne!(lock_class("steward-events"), lock_class("other"));
    }
}
