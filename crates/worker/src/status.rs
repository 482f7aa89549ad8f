//! `steward cluster status`: who owns each partition, under which fence epoch, and how far
//! behind its consumer is; the campaign stage's leader and lag; the dead letters.
//!
//! Read, never written: the owners from `pg_locks` (the workers' advisory locks, named by the
//! `application_name` of the session holding them, `steward-worker <host>:<pid>`), the epochs
//! and last holders from the `fences` table, the lag from JetStream's consumer info.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::Serialize;
use steward_stream::StreamConfig;

use crate::campaign::STAGE_LOCK;
use crate::lock_class;

/// One partition.
#[derive(Debug, Clone, Serialize)]
pub struct Partition {
    pub partition: u32,
    /// The worker holding the partition's lock now (`host:pid`), if any.
    pub owner: Option<String>,
    /// The fence's epoch: how many times the partition was claimed.
    pub epoch: Option<i64>,
    /// The fence's holder: the last worker to claim it.
    pub last_holder: Option<String>,
    pub lag: Option<Lag>,
}

/// A consumer's figures; `None` where the consumer does not exist (no owner ever read it).
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Lag {
    /// Not yet delivered.
    pub pending: u64,
    /// Delivered, not acknowledged.
    pub ack_pending: u64,
    /// Delivered more than once (the ack wait ran out).
    pub redelivered: u64,
}

impl Lag {
    pub fn total(&self) -> u64 {
        self.pending + self.ack_pending
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Stage {
    pub owner: Option<String>,
    pub lag: Option<Lag>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ClusterStatus {
    pub stream: String,
    /// Messages in the stream.
    pub messages: u64,
    pub partitions: Vec<Partition>,
    pub campaign_stage: Stage,
    /// Messages in `<stream>-dead`; `None` when it does not exist.
    pub dead_letters: Option<u64>,
}

/// Asks PostgreSQL and JetStream. Errors name which could not be reached, and why.
pub fn query(nats: &str, database_url: &str, stream: &str) -> Result<ClusterStatus> {
    let mut pg = postgres::Client::connect(database_url, postgres::NoTls)
        .with_context(|| format!("cannot connect to PostgreSQL at {}", redact(database_url)))?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let (messages, partitions, lags, stage_lag, dead_letters) = runtime.block_on(jetstream(nats, stream))?;
    let locks = lock_holders(&mut pg, lock_class(stream))?;
    let fences = fences(&mut pg, stream)?;
    let partitions = (0..partitions)
        .map(|p| {
            let (epoch, last_holder) = fences.get(&p).cloned().unzip();
            Partition {
                partition: p,
                owner: locks.get(&(p as i32)).cloned(),
                epoch,
                last_holder,
                lag: lags.get(p as usize).copied().flatten(),
            }
        })
        .collect();
    let campaign_stage = Stage { owner: locks.get(&STAGE_LOCK).cloned(), lag: stage_lag };
    Ok(ClusterStatus { stream: stream.to_string(), messages, partitions, campaign_stage, dead_letters })
}

type Figures = (u64, u32, Vec<Option<Lag>>, Option<Lag>, Option<u64>);

/// The stream's size and partition count, each partition consumer's lag, the stage's, and the
/// dead letters.
async fn jetstream(nats: &str, name: &str) -> Result<Figures> {
    let addrs: Vec<&str> = nats.split(',').map(str::trim).filter(|u| !u.is_empty()).collect();
    if addrs.is_empty() {
        bail!("no NATS URL given");
    }
    let client = async_nats::ConnectOptions::new()
        .name("steward-cluster-status")
        .connection_timeout(Duration::from_secs(5))
        .connect(addrs)
        .await
        .with_context(|| format!("cannot connect to NATS at {nats}"))?;
    let js = async_nats::jetstream::new(client);
    let mut stream = js.get_stream(name).await.with_context(|| {
        format!(
            "cannot read the stream {name} from JetStream at {nats} (nothing published yet, or another --nats-stream?)"
        )
    })?;
    let info = stream.info().await.with_context(|| format!("cannot read the stream {name}'s info"))?;
    // The publishers write the partition count into the description (`partitions=N`).
    let partitions = info
        .config
        .description
        .as_deref()
        .and_then(StreamConfig::described_partitions)
        .unwrap_or(steward_stream::DEFAULT_PARTITIONS);
    let messages = info.state.messages;
    let lag = |consumer: String| {
        let stream = &stream;
        async move {
            stream.consumer_info(consumer).await.ok().map(|i| Lag {
                pending: i.num_pending,
                ack_pending: i.num_ack_pending as u64,
                redelivered: i.num_redelivered as u64,
            })
        }
    };
    let config = StreamConfig { name: name.to_string(), ..Default::default() };
    let lags =
        futures_util::future::join_all((0..partitions).map(|p| lag(crate::consume::partition_consumer(&config, p))))
            .await;
    let stage = lag(crate::campaign::consumer_name(&config)).await;
    let dead_letters = match js.get_stream(config.dead_letter_stream()).await {
        Ok(mut dead) => Some(dead.info().await.map(|i| i.state.messages).unwrap_or(0)),
        Err(_) => None,
    };
    Ok((messages, partitions, lags, stage, dead_letters))
}

/// Who holds each lock of the class: objid → `host:pid`, from the holder's session name (its
/// PostgreSQL backend pid when it has none, as a worker of an older release).
fn lock_holders(pg: &mut postgres::Client, class: i32) -> Result<BTreeMap<i32, String>> {
    let rows = pg
        .query(
            "SELECT l.objid::int8, coalesce(a.application_name, ''), l.pid
             FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
             WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
               AND l.classid::int8 = ($1::int4::int8 & 4294967295)",
            &[&class],
        )
        .context("reading the partition locks from pg_locks")?;
    Ok(rows
        .iter()
        .map(|r| {
            let name: String = r.get(1);
            let pid: i32 = r.get(2);
            let holder = match name.strip_prefix("steward-worker ") {
                Some(h) => h.to_string(),
                None => format!("backend pid {pid}"),
            };
            (r.get::<_, i64>(0) as u32 as i32, holder)
        })
        .collect())
}

/// The fences of the stream's partitions: partition → (epoch, holder). None yet when no worker
/// ever ran against this database (no table).
fn fences(pg: &mut postgres::Client, stream: &str) -> Result<BTreeMap<u32, (i64, String)>> {
    let exists: bool = pg.query_one("SELECT to_regclass('fences') IS NOT NULL", &[])?.get(0);
    if !exists {
        return Ok(BTreeMap::new());
    }
    let prefix = format!("{stream}/");
    let rows = pg
        .query("SELECT key, epoch, holder FROM fences WHERE starts_with(key, $1)", &[&prefix])
        .context("reading the fences table")?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            let key: String = r.get(0);
            let p = key.strip_prefix(&prefix)?.parse().ok()?;
            Some((p, (r.get(1), r.get(2))))
        })
        .collect())
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

fn figure(n: Option<u64>) -> String {
    n.map_or("-".to_string(), |n| n.to_string())
}

impl ClusterStatus {
    /// One row per partition, then the campaign stage's.
    pub fn table(&self) -> String {
        let mut rows = vec![["partition", "owner", "epoch", "pending", "ack pending", "redelivered"].map(String::from)];
        for p in &self.partitions {
            let owner = match (&p.owner, &p.last_holder) {
                (Some(o), _) => o.clone(),
                (None, Some(last)) => format!("- (last {last})"),
                (None, None) => "-".to_string(),
            };
            rows.push([
                p.partition.to_string(),
                owner,
                figure(p.epoch.map(|e| e as u64)),
                figure(p.lag.map(|l| l.pending)),
                figure(p.lag.map(|l| l.ack_pending)),
                figure(p.lag.map(|l| l.redelivered)),
            ]);
        }
        let s = &self.campaign_stage;
        rows.push([
            "campaigns".to_string(),
            s.owner.clone().unwrap_or_else(|| "-".into()),
            "-".into(),
            figure(s.lag.map(|l| l.pending)),
            figure(s.lag.map(|l| l.ack_pending)),
            figure(s.lag.map(|l| l.redelivered)),
        ]);
        let widths: Vec<usize> = (0..6).map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0)).collect();
        let mut out = String::new();
        for row in &rows {
            let cells: Vec<String> = row
                .iter()
                .zip(&widths)
                .enumerate()
                .map(|(i, (c, w))| if i == 1 { format!("{c:<w$}") } else { format!("{c:>w$}") })
                .collect();
            out.push_str(cells.join("  ").trim_end());
            out.push('\n');
        }
        out
    }

    /// One line: owners, lag, the stage, dead letters.
    pub fn summary(&self) -> String {
        let owners: std::collections::BTreeSet<&String> =
            self.partitions.iter().filter_map(|p| p.owner.as_ref()).collect();
        let owned = self.partitions.iter().filter(|p| p.owner.is_some()).count();
        let lag = self.partitions.iter().filter_map(|p| p.lag).fold(Lag::default(), |a, l| Lag {
            pending: a.pending + l.pending,
            ack_pending: a.ack_pending + l.ack_pending,
            redelivered: a.redelivered + l.redelivered,
        });
        let stage = match (&self.campaign_stage.owner, self.campaign_stage.lag) {
            (Some(o), Some(l)) => format!("led by {o}, lag {}", l.total()),
            (Some(o), None) => format!("led by {o}"),
            (None, _) => "no leader".to_string(),
        };
        format!(
            "{}: {} messages; {owned} of {} partitions owned by {} workers, {} unowned; lag {} ({} pending, {} ack pending, {} redelivered); campaign stage {stage}; {} dead letters",
            self.stream,
            self.messages,
            self.partitions.len(),
            owners.len(),
            self.partitions.len() - owned,
            lag.total(),
            lag.pending,
            lag.ack_pending,
            lag.redelivered,
            figure(self.dead_letters).replace('-', "0"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_stay_out_of_messages() {
        assert_eq!(redact("postgres://u:secret@h:5432/db"), "postgres://u:***@h:5432/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("postgres://h/db"), "postgres://h/db");
    }

    #[test]
    fn the_table_has_a_row_per_partition_and_the_stage() {
        let status = ClusterStatus {
            stream: "s".into(),
            messages: 10,
            partitions: vec![
                Partition {
                    partition: 0,
                    owner: Some("h:1".into()),
                    epoch: Some(2),
                    last_holder: Some("h:1".into()),
                    lag: Some(Lag { pending: 3, ack_pending: 1, redelivered: 0 }),
                },
                Partition { partition: 1, owner: None, epoch: Some(1), last_holder: Some("h:0".into()), lag: None },
            ],
            campaign_stage: Stage { owner: Some("h:1".into()), lag: Some(Lag::default()) },
            dead_letters: None,
        };
        let table = status.table();
        assert_eq!(table.lines().count(), 4, "{table}");
        assert!(table.contains("- (last h:0)"), "{table}");
        let summary = status.summary();
        assert!(summary.contains("1 of 2 partitions owned by 1 workers, 1 unowned; lag 4"), "{summary}");
        assert!(summary.contains("campaign stage led by h:1, lag 0; 0 dead letters"), "{summary}");
    }
}
