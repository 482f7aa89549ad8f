//! Signed checkpoints of the audit log's head, kept outside the database.
//!
//! The hash chain shows an entry changed inside the log, but whoever can write the database
//! can also cut entries off its end, or change an entry and compute every hash after it
//! again. A checkpoint is the head of the log (`seq`, which is also the number of entries,
//! and `hash`) and a time, signed with an ed25519 key that is not in the database, and
//! appended as one JSON line to a file outside it, which the operator keeps, copies away or
//! publishes, as Certificate Transparency publishes signed tree heads. Anyone with the
//! public key can then check the log ([`crate::audit::verify_with`]): entries cut off below
//! a checkpoint, and a chain recomputed below one, are named.
//!
//! Entries after the last checkpoint are anchored by the next one: a [`Checkpointer`] signs
//! the head every interval while the head moves ([`Checkpointer::spawn`]), and once more when
//! its [`CheckpointTask`] finishes (at shutdown). Every entry point that writes (the server,
//! `steward ingest`, a worker or a bot) runs one the same way.
//!
//! Entries are not keyed with a secret (HMAC) as well: an attacker who can only reach the
//! database is caught by the checkpoints up to the last one, one holding the host has the
//! key either way, and a keyed hash could be checked only by whoever holds the secret,
//! where a checkpoint can be checked by anyone with the public key.
//!
//! ```no_run
//! use steward_store::checkpoint::{AuditKey, Checkpointer};
//! let store = steward_store::open(std::path::Path::new("steward-data"), None).unwrap();
//! let key = AuditKey::load(std::path::Path::new("audit.key")).unwrap();
//! let mut checkpoints = Checkpointer::new(store, key, "audit-checkpoints.jsonl".into()).unwrap();
//! checkpoints.checkpoint().unwrap();
//! ```

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::{Store, StoreError};

/// Why a key or checkpoint could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path}: {reason}")]
    Key { path: String, reason: String },
    #[error("{path}:{line}: {reason}")]
    Line { path: String, line: usize, reason: String },
    #[error("the checkpoint thread panicked")]
    Panicked,
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> CheckpointError + '_ {
    move |source| CheckpointError::Io { path: path.display().to_string(), source }
}

/// The key that signs checkpoints: an ed25519 secret key, kept in a file of its own outside
/// the database (64 hex digits).
pub struct AuditKey(SigningKey);

impl AuditKey {
    /// A new key, from the operating system's random source.
    pub fn generate() -> AuditKey {
        AuditKey(SigningKey::from_bytes(&rand::random()))
    }

    /// Writes a new key to `path` (which must not exist), readable by its owner only, and
    /// its public key beside it (`path` + `.pub`). Returns the public key.
    pub fn create(path: &Path) -> Result<PublicKey, CheckpointError> {
        let key = AuditKey::generate();
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path).map_err(io_error(path))?;
        file.write_all(format!("{}\n", hex::encode(key.0.to_bytes())).as_bytes()).map_err(io_error(path))?;
        file.sync_all().map_err(io_error(path))?;
        let public = key.public();
        let public_path = public_path(path);
        std::fs::write(&public_path, format!("{public}\n")).map_err(io_error(&public_path))?;
        Ok(public)
    }

    /// Reads a key written by [`AuditKey::create`].
    pub fn load(path: &Path) -> Result<AuditKey, CheckpointError> {
        let text = std::fs::read_to_string(path).map_err(io_error(path))?;
        let bytes = parse_hex32(text.trim()).ok_or_else(|| CheckpointError::Key {
            path: path.display().to_string(),
            reason: "not an audit key (64 hex digits, as `steward audit keygen` writes)".into(),
        })?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            if let Ok(meta) = std::fs::metadata(path)
                && meta.permissions().mode() & 0o077 != 0
            {
                tracing::warn!(path = %path.display(), "the audit key can be read by others than its owner");
            }
        }
        Ok(AuditKey(SigningKey::from_bytes(&bytes)))
    }

    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    /// Signs the head `seq`, `hash` at `at` (kept to the microsecond).
    pub fn sign(&self, seq: u64, hash: &str, at: DateTime<Utc>) -> Checkpoint {
        let at = at.trunc_subsecs(6);
        let signature = self.0.sign(&Checkpoint::message(seq, hash, at));
        Checkpoint {
            seq,
            hash: hash.to_string(),
            at,
            key: self.public().to_string(),
            signature: hex::encode(signature.to_bytes()),
        }
    }
}

/// Where [`AuditKey::create`] writes the public key of `key_path`.
pub fn public_path(key_path: &Path) -> PathBuf {
    let mut name = key_path.as_os_str().to_owned();
    name.push(".pub");
    PathBuf::from(name)
}

fn parse_hex32(s: &str) -> Option<[u8; 32]> {
    let bytes = hex::decode(s).ok()?;
    bytes.try_into().ok()
}

/// The public half of an [`AuditKey`], written as 64 hex digits: what checks checkpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl std::fmt::Display for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex::encode(self.0.to_bytes()))
    }
}

impl std::str::FromStr for PublicKey {
    type Err = String;

    fn from_str(s: &str) -> Result<PublicKey, String> {
        let bytes = parse_hex32(s.trim()).ok_or("a public key is 64 hex digits")?;
        VerifyingKey::from_bytes(&bytes).map(PublicKey).map_err(|_| "not an ed25519 public key".to_string())
    }
}

impl PublicKey {
    /// A public key given as its 64 hex digits, or as a file holding them (`.pub`).
    pub fn from_arg(arg: &str) -> Result<PublicKey, CheckpointError> {
        if let Ok(key) = arg.parse() {
            return Ok(key);
        }
        let path = Path::new(arg);
        let text = std::fs::read_to_string(path).map_err(io_error(path))?;
        text.parse().map_err(|reason| CheckpointError::Key { path: arg.to_string(), reason })
    }
}

/// The head of the audit log, signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    /// The last entry's `seq`: also the number of entries.
    pub seq: u64,
    /// The last entry's hash.
    pub hash: String,
    /// When it was signed.
    pub at: DateTime<Utc>,
    /// The public key that signed it (hex).
    pub key: String,
    /// ed25519 signature of [`Checkpoint::message`] (hex).
    pub signature: String,
}

impl Checkpoint {
    /// What is signed: a version line, then `seq`, `hash` and `at` (RFC 3339, UTC, six
    /// fractional digits), one a line.
    pub fn message(seq: u64, hash: &str, at: DateTime<Utc>) -> Vec<u8> {
        format!("steward-checkpoint-v1\n{seq}\n{hash}\n{}\n", at.to_rfc3339_opts(SecondsFormat::Micros, true))
            .into_bytes()
    }

    /// Whether `key` signed it.
    pub fn signed_by(&self, key: &PublicKey) -> bool {
        let Some(signature) = hex::decode(&self.signature).ok().and_then(|b| Signature::from_slice(&b).ok()) else {
            return false;
        };
        self.key == key.to_string()
            && key.0.verify(&Checkpoint::message(self.seq, &self.hash, self.at), &signature).is_ok()
    }
}

/// Appends a checkpoint to the file at `path` (created if missing) as one line, on disk
/// before it returns. A line cut short by a crash is ended first.
pub fn append(path: &Path, checkpoint: &Checkpoint) -> Result<(), CheckpointError> {
    let mut file =
        std::fs::OpenOptions::new().read(true).append(true).create(true).open(path).map_err(io_error(path))?;
    let mut line = serde_json::to_vec(checkpoint).map_err(|e| CheckpointError::Key {
        path: path.display().to_string(),
        reason: format!("checkpoint cannot be written: {e}"),
    })?;
    line.push(b'\n');
    if file.metadata().map_err(io_error(path))?.len() > 0 {
        let mut last = [0u8];
        file.seek(SeekFrom::End(-1)).map_err(io_error(path))?;
        file.read_exact(&mut last).map_err(io_error(path))?;
        if last[0] != b'\n' {
            line.insert(0, b'\n');
        }
    }
    file.write_all(&line).map_err(io_error(path))?;
    file.sync_data().map_err(io_error(path))
}

/// Reads a checkpoint file and checks every signature against `key`: the checkpoints, in
/// the order written, or the first line that is not a checkpoint signed by `key`.
pub fn read(path: &Path, key: &PublicKey) -> Result<Vec<Checkpoint>, CheckpointError> {
    let text = std::fs::read_to_string(path).map_err(io_error(path))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad = |reason: String| CheckpointError::Line { path: path.display().to_string(), line: i + 1, reason };
        let c: Checkpoint = serde_json::from_str(line).map_err(|e| bad(format!("not a checkpoint: {e}")))?;
        if c.key != key.to_string() {
            return Err(bad(format!("checkpoint of {} signed by another key ({})", c.at.to_rfc3339(), c.key)));
        }
        if !c.signed_by(key) {
            return Err(bad(format!(
                "the signature of the checkpoint of {} (head seq {}) does not verify: the line was changed",
                c.at.to_rfc3339(),
                c.seq
            )));
        }
        out.push(c);
    }
    Ok(out)
}

/// Signs the head of a store's audit log into a checkpoint file, when it has moved.
pub struct Checkpointer {
    store: Arc<dyn Store>,
    key: AuditKey,
    path: PathBuf,
    /// The head signed last (`seq`, `hash`).
    last: Option<(u64, String)>,
}

impl Checkpointer {
    /// Reads the last checkpoint `key` wrote to `path`, if any, so an unchanged head is not
    /// signed again, and logs an error when the log no longer holds it. The file (and its
    /// folder) is created now, so that a path that cannot be written fails at start.
    pub fn new(store: Arc<dyn Store>, key: AuditKey, path: PathBuf) -> Result<Checkpointer, CheckpointError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io_error(dir))?;
        }
        std::fs::OpenOptions::new().append(true).create(true).open(&path).map_err(io_error(&path))?;
        let public = key.public().to_string();
        let last = match std::fs::read_to_string(&path) {
            Ok(text) => {
                text.lines().filter_map(|l| serde_json::from_str::<Checkpoint>(l).ok()).rfind(|c| c.key == public)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(io_error(&path)(e)),
        };
        if let Some(c) = &last {
            let head = store.audit_head()?;
            let held = match &head {
                Some(h) if h.seq == c.seq => h.hash == c.hash,
                Some(h) if h.seq > c.seq => true, // checked in full by `steward audit verify`
                _ => false,
            };
            if !held {
                tracing::error!(
                    checkpoints = %path.display(),
                    "the audit log does not hold the last signed checkpoint (head seq {}, signed {}): it was cut \
                     short or rewritten; run `steward audit verify`",
                    c.seq,
                    c.at.to_rfc3339()
                );
            }
        }
        Ok(Checkpointer { store, key, path, last: last.map(|c| (c.seq, c.hash)) })
    }

    /// The file checkpoints are appended to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Signs the head now and appends the checkpoint, unless the log is empty or its head
    /// was signed already.
    pub fn checkpoint(&mut self) -> Result<Option<Checkpoint>, CheckpointError> {
        let Some(head) = self.store.audit_head()? else { return Ok(None) };
        if self.last.as_ref().is_some_and(|(seq, hash)| *seq == head.seq && *hash == head.hash) {
            return Ok(None);
        }
        let c = self.key.sign(head.seq, &head.hash, Utc::now());
        append(&self.path, &c)?;
        self.last = Some((c.seq, c.hash.clone()));
        Ok(Some(c))
    }

    /// Signs the head every `every` on a thread of its own until the task finishes, and once
    /// more then.
    pub fn spawn(mut self, every: Duration) -> Result<CheckpointTask, CheckpointError> {
        let (stop, stopped) = mpsc::channel::<()>();
        let path = self.path.clone();
        let thread = std::thread::Builder::new()
            .name("audit-checkpoints".into())
            .spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
                    if let Err(e) = self.checkpoint() {
                        tracing::error!("cannot write an audit checkpoint: {e}");
                    }
                }
                self
            })
            .map_err(io_error(&path))?;
        Ok(CheckpointTask { stop: Some(stop), thread: Some(thread) })
    }
}

/// Checkpoints written periodically (see [`Checkpointer::spawn`]). Finishing it, or
/// dropping it, stops them and signs the head once more.
pub struct CheckpointTask {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Checkpointer>>,
}

impl CheckpointTask {
    /// Stops the periodic checkpoints and signs the head now: at shutdown, after the last
    /// commit. Returns the checkpoint written, if the head had moved.
    pub fn finish(mut self) -> Result<Option<Checkpoint>, CheckpointError> {
        self.stop_and_sign()
    }

    fn stop_and_sign(&mut self) -> Result<Option<Checkpoint>, CheckpointError> {
        drop(self.stop.take());
        match self.thread.take().map(|t| t.join()) {
            Some(Ok(mut checkpointer)) => checkpointer.checkpoint(),
            Some(Err(_)) => Err(CheckpointError::Panicked),
            None => Ok(None),
        }
    }
}

impl Drop for CheckpointTask {
    fn drop(&mut self) {
        if let Err(e) = self.stop_and_sign() {
            tracing::error!("cannot write the last audit checkpoint: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(store: &dyn Store, i: usize) {
        let record = crate::AuditRecord {
            at: Utc::now(),
            action: "note".into(),
            subject: format!("n{i}"),
            body: serde_json::json!({ "i": i }).into(),
        };
        store.commit(&crate::Batch { audit: vec![record], ..Default::default() }).unwrap();
    }

    #[test]
    fn the_head_is_signed_when_it_moves_periodically_and_at_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(crate::SqliteStore::open(dir.path()).unwrap());
        let path = dir.path().join("heads").join("checkpoints.jsonl");
        let key = || AuditKey::load(&dir.path().join("k")).unwrap();
        AuditKey::create(&dir.path().join("k")).unwrap();
        let mut c = Checkpointer::new(store.clone(), key(), path.clone()).unwrap();
        assert!(path.exists(), "created at start");
        assert_eq!(c.checkpoint().unwrap(), None, "an empty log has no head");
        note(&*store, 1);
        assert_eq!(c.checkpoint().unwrap().map(|c| c.seq), Some(1));
        assert_eq!(c.checkpoint().unwrap(), None, "unchanged");
        // A new process does not sign the same head again.
        let c = Checkpointer::new(store.clone(), key(), path.clone()).unwrap();
        let task = c.spawn(Duration::from_millis(20)).unwrap();
        note(&*store, 2);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while read(&path, &key().public()).unwrap().len() < 2 {
            assert!(std::time::Instant::now() < deadline, "no periodic checkpoint");
            std::thread::sleep(Duration::from_millis(10));
        }
        note(&*store, 3);
        note(&*store, 4);
        assert_eq!(task.finish().unwrap().map(|c| c.seq), Some(4));
        let seqs: Vec<u64> = read(&path, &key().public()).unwrap().iter().map(|c| c.seq).collect();
        assert_eq!(seqs.first(), Some(&1));
        assert_eq!(seqs.last(), Some(&4));
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
        let v = crate::audit::verify_with(&*store, &read(&path, &key().public()).unwrap(), 10).unwrap();
        assert_eq!((v.entries, v.unanchored()), (4, 0));
    }

    #[test]
    fn a_checkpoint_verifies_with_its_key_only_and_any_change_breaks_it() {
        let key = AuditKey::generate();
        let at = DateTime::parse_from_rfc3339("2026-11-22T08:00:00.1234567Z").unwrap().with_timezone(&Utc);
        let c = key.sign(1240, &"ab".repeat(32), at);
        assert_eq!(c.at.timestamp_subsec_nanos(), 123_456_000);
        assert!(c.signed_by(&key.public()));
        assert!(!c.signed_by(&AuditKey::generate().public()));
        let changed = [
            Checkpoint { seq: 1239, ..c.clone() },
            Checkpoint { hash: "cd".repeat(32), ..c.clone() },
            Checkpoint { at: c.at + chrono::Duration::microseconds(1), ..c.clone() },
        ];
        for other in changed {
            assert!(!other.signed_by(&key.public()));
        }
        // A line round trip keeps it verifiable.
        let line = serde_json::to_string(&c).unwrap();
        assert!(serde_json::from_str::<Checkpoint>(&line).unwrap().signed_by(&key.public()));
    }

    #[test]
    fn keys_are_written_private_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.key");
        let public = AuditKey::create(&path).unwrap();
        assert!(AuditKey::create(&path).is_err(), "an existing key is never overwritten");
        assert_eq!(AuditKey::load(&path).unwrap().public(), public);
        let exported = std::fs::read_to_string(public_path(&path)).unwrap();
        assert_eq!(PublicKey::from_arg(exported.trim()).unwrap(), public);
        assert_eq!(PublicKey::from_arg(public_path(&path).to_str().unwrap()).unwrap(), public);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }

    #[test]
    fn the_file_names_a_changed_line_and_survives_a_torn_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("checkpoints.jsonl");
        let key = AuditKey::generate();
        append(&path, &key.sign(1, &"a".repeat(64), Utc::now())).unwrap();
        // A crash cut the next line short; the one after still starts a line of its own.
        let mut f = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"seq\":2,").unwrap();
        drop(f);
        append(&path, &key.sign(3, &"c".repeat(64), Utc::now())).unwrap();
        let err = read(&path, &key.public()).unwrap_err().to_string();
        assert!(err.ends_with(":2: not a checkpoint: EOF while parsing a value at line 1 column 9"), "{err}");
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        std::fs::write(&path, format!("{}\n{}\n", lines[0], lines[2].replace("\"seq\":3", "\"seq\":4"))).unwrap();
        let err = read(&path, &key.public()).unwrap_err().to_string();
        assert!(err.contains(":2: the signature of the checkpoint of") && err.contains("head seq 4"), "{err}");
        std::fs::write(&path, format!("{}\n\n{}\n", lines[0], lines[2])).unwrap();
        assert_eq!(read(&path, &key.public()).unwrap().iter().map(|c| c.seq).collect::<Vec<_>>(), [1, 3]);
        let other = AuditKey::generate().public();
        assert!(read(&path, &other).unwrap_err().to_string().contains("signed by another key"));
    }
}
