//! Signed checkpoints of the audit log for the commands that write (`serve`, `ingest`, the
//! imports) and `steward audit keygen` / `verify`: the operator's key, kept outside the
//! database, and the file the checkpoints go to.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use steward_store::Store;
use steward_store::audit::Verified;
use steward_store::checkpoint::{self, AuditKey, CheckpointTask, Checkpointer, PublicKey};

/// Where checkpoints go when no file is named: beside the SQLite database, outside it.
const DEFAULT_FILE: &str = "audit-checkpoints.jsonl";

/// How a writing command anchors the audit log.
#[derive(Args, Clone)]
pub struct AnchorArgs {
    /// Secret key (from `steward audit keygen`) that signs checkpoints of the audit log's head,
    /// every --checkpoint-every seconds and at the end. Keep it outside the data directory and
    /// its backups. Without it the log is not anchored.
    #[arg(long, env = "STEWARD_AUDIT_KEY")]
    audit_key: Option<PathBuf>,
    /// File the signed checkpoints are appended to (JSON lines); copy it away or publish it
    /// [default: audit-checkpoints.jsonl in the data directory; a worker's, in the working
    /// directory].
    #[arg(long, env = "STEWARD_AUDIT_CHECKPOINTS")]
    checkpoints: Option<PathBuf>,
    /// Seconds between checkpoints while running.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    checkpoint_every: u64,
}

impl AnchorArgs {
    /// Starts signing the head of `store`'s log, when a key is given.
    pub fn start(&self, store: &Arc<dyn Store>, data_dir: &Path) -> Result<Option<CheckpointTask>> {
        let Some(key_path) = &self.audit_key else { return Ok(None) };
        let key = AuditKey::load(key_path).context("reading the audit key")?;
        let path = checkpoints_file(self.checkpoints.as_deref(), data_dir);
        let checkpointer = Checkpointer::new(store.clone(), key, path).context("opening the checkpoint file")?;
        let task = checkpointer.spawn(Duration::from_secs(self.checkpoint_every))?;
        Ok(Some(task))
    }
}

fn checkpoints_file(given: Option<&Path>, data_dir: &Path) -> PathBuf {
    given.map_or_else(|| data_dir.join(DEFAULT_FILE), Path::to_path_buf)
}

/// Signs the head once more, after the last commit.
pub fn finish(task: Option<CheckpointTask>) -> Result<()> {
    if let Some(task) = task {
        task.finish().context("writing the last audit checkpoint")?;
    }
    Ok(())
}

/// `steward audit keygen`: a new key, private to its owner, and its public key beside it
/// (printed alone on standard output).
pub fn keygen(out: &Path) -> Result<ExitCode> {
    let public = AuditKey::create(out).with_context(|| format!("writing a new audit key to {}", out.display()))?;
    println!("{public}");
    eprintln!(
        "secret key written to {} (readable by its owner only), public key to {}: run `steward serve`, \
         `steward ingest` and `steward worker` with --audit-key {0}, keep the key out of the data directory and its backups, and give \
         the public key to whoever checks the log",
        out.display(),
        checkpoint::public_path(out).display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `steward audit verify`: the chain, the rows it covers and, given a public key, the signed
/// checkpoints. Exits 1 naming the first problem.
pub fn verify(
    store: &dyn Store,
    data_dir: &Path,
    checkpoints: Option<&Path>,
    public_key: Option<&str>,
) -> Result<ExitCode> {
    let default = data_dir.join(DEFAULT_FILE);
    let file = checkpoints.map(Path::to_path_buf).or_else(|| default.exists().then_some(default));
    let signed = match (&file, public_key) {
        (Some(file), Some(key)) => {
            let key = PublicKey::from_arg(key).context("reading the public key")?;
            match checkpoint::read(file, &key) {
                Ok(signed) => Some(signed),
                Err(e) => {
                    eprintln!("the checkpoint file does not verify: {e}");
                    return Ok(ExitCode::FAILURE);
                }
            }
        }
        (Some(file), None) if checkpoints.is_some() => {
            anyhow::bail!("{} is given but no --public-key to check it with", file.display())
        }
        (Some(file), None) => {
            eprintln!("warning: the checkpoints in {} are not checked: give --public-key", file.display());
            None
        }
        (None, Some(_)) => anyhow::bail!("no checkpoint file: give --checkpoints FILE"),
        (None, None) => None,
    };
    let result = steward_store::audit::verify_with(
        store,
        signed.as_deref().unwrap_or_default(),
        steward_store::audit::VERIFY_PAGE,
    );
    match result {
        Ok(v) => {
            println!("{}", summary(&v));
            if signed.is_none() {
                eprintln!(
                    "warning: the chain is unanchored: no signed checkpoint was checked, so entries cut off its end \
                     or a chain recomputed after a change would not show (`steward audit keygen`, then run with \
                     --audit-key, and verify with --public-key)"
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(b) => {
            eprintln!("{b}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// One line: entries, rows covered, and how far the log is anchored.
pub fn summary(v: &Verified) -> String {
    let anchored = match &v.anchored {
        Some(c) => format!(
            "; anchored by {} signed checkpoints up to entry {} ({}), {} entries after it not yet",
            v.checkpoints,
            c.seq,
            c.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            v.unanchored()
        ),
        None => "; unanchored".to_string(),
    };
    let chains = match v.chains {
        0 => String::new(),
        n => format!(", and {n} partition chains of {} entries intact", v.chain_entries),
    };
    format!("audit log ok: {} entries, chain intact{chains}; rows covered: {}{anchored}", v.entries, v.rows)
}
