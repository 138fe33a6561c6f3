//! The state store: SQLite in WAL mode, one writer thread, a small pool of readers.
//!
//! Everything above this module talks to it through the domain methods in its
//! submodules (resources, results, incidents, outbox, auth), which is the interface
//! another backend would implement.

mod audit;
mod auth;
mod burn;
pub mod decode;
mod incidents;
mod migrations;
mod outbox;
mod policy;
mod report;
mod resources;
mod results;
mod rollups;
mod scrape;
pub mod sql;
mod status;
#[cfg(test)]
#[path = "../../../tests/support/postgres.rs"]
pub(crate) mod test_postgres;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, Transaction};
use tokio::sync::{mpsc, oneshot};

pub use audit::{AuditQuery, AuditRow};
pub use auth::{
    InvitationRow, KeyCheck, KeyRow, NewKey, NewSession, Principal, PrincipalKind, Refreshed, Role,
    SessionRow, UserRow, hash as secret_hash, is_api_key, random_alnum,
};
pub use decode::Unreadable;
pub use incidents::{
    MAX_COMMENT_CHARS, MAX_UPDATE_MESSAGE_CHARS, MAX_UPDATES_PER_INCIDENT, Transition,
    action_comment, severity_str as severity_name, update_message,
};
pub use outbox::{OutboxRow, SentMessage};
pub use resources::{
    CheckRuntime, Decision, Edit, Listing, PageAddress, StateRow, StoredResource, TenantState,
    Whole,
};
pub use results::ResultRow;
pub use scrape::{CheckSeries, Snapshot};
pub use status::{MAX_INCIDENT_EVENTS, MAX_PAGE_CHECKS, MAX_PAGE_INCIDENTS, page_lists};

/// How long a connection waits for a lock before failing: longer than any write
/// transaction takes, short enough to surface a stuck database.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Read connections kept open; requests beyond this open one for themselves.
const READ_POOL: usize = 4;
/// Page cache of the writer's connection, in KiB. Every result reads and updates
/// its check's state, its rollup buckets and the results index; with SQLite's
/// default of 2 MiB the state and rollup pages of a few thousand checks fall out of
/// the cache between one run of a check and the next. 8 MiB holds those of about
/// 100,000 checks; the results index outgrows any cache and is read from the OS's
/// page cache. Measured at 30,000 checks every 5 s, 32 MiB cost the same CPU
/// (6,415 and 5,924 checks per CPU-second against 6,894 and 6,653) and 30 MiB
/// more of resident memory. Readers keep the default.
const WRITER_CACHE_KIB: i64 = 8 * 1024;
/// Writes waiting for the writer thread; senders wait when it is full.
const WRITE_QUEUE: usize = 256;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("database: {source} (in `{sql}`)")]
    Postgres {
        sql: String,
        #[source]
        source: postgres::Error,
    },
    #[error("stored JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("the store is shut down")]
    Closed,
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// Stored data that cannot be read back.
    #[error("{0}")]
    Corrupt(String),
}

pub type Result<T> = std::result::Result<T, StoreError>;

impl StoreError {
    /// Whether the failure lies with the disk or the files (full, read-only, I/O
    /// error, locked by another program), not with what was written: the same write can succeed once the
    /// operator fixes that, so callers holding data keep it and try again.
    pub fn is_storage(&self) -> bool {
        match self {
            StoreError::Sqlite(e) => storage_code(e).is_some(),
            StoreError::Io(_) => true,
            _ => false,
        }
    }
}

fn storage_code(e: &rusqlite::Error) -> Option<rusqlite::ErrorCode> {
    use rusqlite::ErrorCode as C;
    e.sqlite_error_code().filter(|c| {
        matches!(
            c,
            C::DiskFull
                | C::SystemIoFailure
                | C::ReadOnly
                | C::CannotOpen
                | C::DatabaseBusy
                | C::DatabaseLocked
        )
    })
}

/// What the operator should do about a write that failed for storage reasons.
fn storage_advice(e: &StoreError, db: &Path) -> Option<String> {
    use rusqlite::ErrorCode as C;
    let dir = db.parent().unwrap_or(Path::new(".")).display();
    let code = match e {
        StoreError::Sqlite(s) => storage_code(s)?,
        StoreError::Io(io) => {
            return Some(format!(
                "cannot write `{}` ({io}); check the disk and the permissions of `{dir}`",
                db.display()
            ));
        }
        _ => return None,
    };
    Some(match code {
        C::DiskFull => format!(
            "the disk is full: free space on the filesystem that holds `{dir}` (or move the data directory); writing resumes by itself"
        ),
        C::DatabaseBusy | C::DatabaseLocked => format!(
            "another program holds `{}` locked for longer than {}s: close it (e.g. an open sqlite3 shell); writing resumes by itself",
            db.display(),
            BUSY_TIMEOUT.as_secs()
        ),
        C::ReadOnly => format!(
            "the database is read-only: make `{dir}` and the files in it writable by this user"
        ),
        _ => format!(
            "cannot write `{}` ({e}); check the disk holding `{dir}`, its free space and its permissions",
            db.display()
        ),
    })
}

type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// A handle to the store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    path: Arc<PathBuf>,
    writes: mpsc::Sender<Job>,
    /// Bumped after every commit that changes checks or their pause state.
    changes: Arc<tokio::sync::watch::Sender<u64>>,
    readers: Arc<Mutex<Vec<Connection>>>,
    /// Why writes fail at the moment, for `/readyz`; `None` while they succeed.
    write_problem: Arc<Mutex<Option<String>>>,
    /// Unix ms from which results may stand for time: when this store was opened.
    running_since: Arc<std::sync::atomic::AtomicI64>,
    /// The host name of the daemon's own `public_url`, which no status page may
    /// claim as its `domain`.
    own_host: Arc<Mutex<Option<String>>>,
    /// Connections running a statement or a transaction right now, for `/metrics`.
    busy: Arc<AtomicUsize>,
}

/// Counts a connection as busy while it lives.
struct Busy(Arc<AtomicUsize>);

impl Busy {
    fn new(n: &Arc<AtomicUsize>) -> Busy {
        n.fetch_add(1, Ordering::Relaxed);
        Busy(Arc::clone(n))
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

fn open(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // NORMAL is durable across process crashes in WAL mode; only an OS crash can lose
    // the last transactions, and it never corrupts the file.
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

impl Store {
    /// Opens (creating and migrating if needed) the database at `path` and starts the writer.
    pub fn open(path: &Path) -> Result<Store> {
        // Created 0600 before SQLite sees it: SQLite gives the -wal and -shm files it
        // creates later the mode of the database file, so none of them is readable
        // by others even for a moment.
        crate::private_file::create_empty(path)?;
        let mut conn = open(path)?;
        migrations::migrate(&mut conn)?;
        // A negative size is in KiB.
        conn.pragma_update(None, "cache_size", -WRITER_CACHE_KIB)?;
        let (tx, mut rx) = mpsc::channel::<Job>(WRITE_QUEUE);
        let busy = Arc::new(AtomicUsize::new(0));
        let writer_busy = Arc::clone(&busy);
        std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || {
                while let Some(job) = rx.blocking_recv() {
                    let _busy = Busy::new(&writer_busy);
                    job(&mut conn);
                }
                // Leaving the loop drops the connection, which checkpoints the WAL.
            })
            .map_err(|e| {
                StoreError::Sqlite(rusqlite::Error::InvalidParameterName(format!(
                    "cannot start the writer thread: {e}"
                )))
            })?;
        Ok(Store {
            path: Arc::new(path.to_path_buf()),
            writes: tx,
            changes: Arc::new(tokio::sync::watch::Sender::new(0)),
            readers: Arc::new(Mutex::new(Vec::new())),
            write_problem: Arc::new(Mutex::new(None)),
            running_since: Arc::new(std::sync::atomic::AtomicI64::new(now_ms())),
            own_host: Arc::new(Mutex::new(None)),
            busy,
        })
    }

    /// Runs `f` in one write transaction on the writer thread; commits if it succeeds.
    pub async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T> + Send + 'static,
    {
        self.write_changing(move |tx| f(tx).map(|out| (out, false)))
            .await
    }

    /// Like [`write`](Self::write), for writes that change what is scheduled: when `f`
    /// says so, subscribers are told right after the commit, on the writer thread, so
    /// the notice cannot be lost even if the caller goes away meanwhile.
    pub async fn write_changing<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<(T, bool)> + Send + 'static,
    {
        let (done, wait) = oneshot::channel();
        let changes = Arc::clone(&self.changes);
        let problem = Arc::clone(&self.write_problem);
        let path = Arc::clone(&self.path);
        let job: Job = Box::new(move |conn: &mut Connection| {
            let before = conn.total_changes();
            let result = (|| {
                let tx = conn.transaction()?;
                let (out, changed) = f(&tx)?;
                tx.commit()?;
                if changed {
                    changes.send_modify(|n| *n += 1);
                }
                Ok(out)
            })();
            // Only a commit that wrote something proves the disk takes writes again.
            let now = match &result {
                Ok(_) if conn.total_changes() > before => Some(None),
                Err(e) => storage_advice(e, &path).map(Some),
                Ok(_) => None,
            };
            if let Some(now) = now {
                *problem.lock().unwrap_or_else(|p| p.into_inner()) = now;
            }
            let _ = done.send(result);
        });
        self.writes
            .send(job)
            .await
            .map_err(|_| StoreError::Closed)?;
        wait.await.map_err(|_| StoreError::Closed)?
    }

    /// Runs `f` on a read connection, off the async threads. Readers never block the writer.
    pub async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let readers = Arc::clone(&self.readers);
        let path = Arc::clone(&self.path);
        let busy = Arc::clone(&self.busy);
        tokio::task::spawn_blocking(move || {
            let _busy = Busy::new(&busy);
            let pooled = readers.lock().unwrap_or_else(|p| p.into_inner()).pop();
            let conn = match pooled {
                Some(c) => c,
                None => open(&path)?,
            };
            let out = f(&conn);
            let mut pool = readers.lock().unwrap_or_else(|p| p.into_inner());
            if pool.len() < READ_POOL {
                pool.push(conn);
            }
            out
        })
        .await
        .map_err(|_| StoreError::Closed)?
    }

    /// Notices of changes to checks (applies, deletes, pause and resume).
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// Whether the database answers, for `/readyz`.
    pub async fn ping(&self) -> bool {
        self.read(|c| Ok(c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?))
            .await
            .is_ok()
    }

    /// Why the store cannot write at the moment (with what to do about it), or
    /// `None` if its last write that failed has been followed by one that succeeded.
    pub fn write_problem(&self) -> Option<String> {
        self.write_problem
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Unix ms from which results may stand for time (uptime by time): time before
    /// it, when this daemon was not running, is unknown.
    pub fn running_since(&self) -> i64 {
        self.running_since
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Moves [`running_since`](Self::running_since) back, for writers of results
    /// with timestamps of their own (tests, the storage benchmark).
    pub fn set_running_since(&self, ms: i64) {
        self.running_since
            .store(ms, std::sync::atomic::Ordering::Relaxed);
    }

    /// Takes the host of the daemon's `public_url` (lowercase, without a trailing
    /// dot) as its own: an apply refuses a status page whose `domain` is it, or
    /// that page would take over the daemon's own address.
    pub fn set_public_url(&self, public_url: Option<&str>) {
        let host = public_url
            .and_then(|u| url::Url::parse(u).ok())
            .and_then(|u| {
                u.host_str()
                    .map(|h| h.trim_end_matches('.').to_ascii_lowercase())
            });
        *self.own_host.lock().unwrap_or_else(|p| p.into_inner()) = host;
    }

    /// The host of the daemon's `public_url`, if one is set.
    pub fn own_host(&self) -> Option<String> {
        self.own_host
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Connections to the database busy with a statement or a transaction right now
    /// (the writer's and the readers'), for `uptime_db_connections_active`.
    pub fn connections_busy(&self) -> usize {
        self.busy.load(Ordering::Relaxed)
    }

    /// Waits until every write queued so far has been done.
    pub async fn flush(&self) -> Result<()> {
        self.write(|_| Ok(())).await
    }
}

/// Milliseconds since the Unix epoch, the store's time unit.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

pub fn to_time(ms: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default()
}
