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
pub mod nodes;
mod outbox;
pub mod pg_url;
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

use rusqlite::{Connection, OpenFlags};

use sql::PgConn;
pub use sql::{Backend, Db, Optional, Row};
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
pub use scrape::{CheckSeries, LocationSeries, Snapshot};
pub use status::{MAX_INCIDENT_EVENTS, MAX_PAGE_CHECKS, MAX_PAGE_INCIDENTS, page_lists};

/// How long a connection waits for a lock before failing: longer than any write
/// transaction takes, short enough to surface a stuck database.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Read connections kept open; requests beyond this open one for themselves.
const READ_POOL: usize = 4;
/// Reads running at once; more wait. Each holds a connection, and PostgreSQL's
/// connections are a budget shared by every node (100 by default).
const MAX_READERS: usize = 16;
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
    #[error("database: {message} (in `{sql}`)")]
    Postgres {
        message: String,
        sql: String,
        /// Not a `source`: `message` says what it says already.
        error: postgres::Error,
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
            StoreError::Postgres { error, .. } => pg_unavailable(error),
            StoreError::Io(_) => true,
            _ => false,
        }
    }
}

/// Whether a PostgreSQL error says the server cannot take the work now (down,
/// unreachable, restarting, out of disk or connections, or a transaction lost to a
/// concurrent one), rather than that the statement or its data is wrong.
fn pg_unavailable(e: &postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    match e.code() {
        Some(code) => {
            let c = code.code();
            // 08: connection exception; 53: insufficient resources (disk full,
            // too many connections); 57P0x: shutting down, cannot connect now;
            // 57014: cancelled (a statement timeout, an operator); 55P03: a lock
            // not granted in time (another node's write turn); 58: I/O error
            // on the server; 25006: read-only (a standby, mid-failover);
            // 40001/40P01: serialization failure and deadlock.
            c.starts_with("08")
                || c.starts_with("53")
                || c.starts_with("57P")
                || c.starts_with("58")
                || c == "57014"
                || c == "55P03"
                || c == "25006"
                || c == "40001"
                || c == "40P01"
        }
        // No SQLSTATE: the connection itself failed (refused, timed out, reset),
        // which the driver reports with the socket's error as its source. Errors of
        // its own (a value that does not convert) are not the server's absence.
        None => std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>()),
    }
}

/// A PostgreSQL URL as logs may show it: host, port and database, never the
/// password (nor the rest of the user information).
fn pg_shown(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => format!(
            "{}:{}{}",
            u.host_str().unwrap_or("localhost"),
            u.port().unwrap_or(5432),
            u.path()
        ),
        Err(_) => "the PostgreSQL server".to_string(),
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
fn storage_advice(e: &StoreError, location: &Location) -> Option<String> {
    use rusqlite::ErrorCode as C;
    let db = match location {
        Location::Sqlite(path) => path.as_path(),
        Location::Postgres(url, _) => {
            let StoreError::Postgres { error: source, .. } = e else {
                return None;
            };
            return pg_unavailable(source).then(|| {
                format!(
                    "PostgreSQL at {} does not take writes ({source}): check that it runs and is reachable from this node; writing resumes by itself",
                    pg_shown(url)
                )
            });
        }
    };
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

/// A connection of either backend, owned by the writer thread or the reader pool.
enum Conn {
    Lite(Connection),
    Pg(Box<PgConn>),
}

impl Conn {
    /// Runs `f` in one transaction and commits if it succeeds; says whether the
    /// commit wrote anything (SQLite counts changes; PostgreSQL's commit is taken
    /// to write).
    fn transaction<T>(&mut self, f: impl FnOnce(&Db<'_>) -> Result<T>) -> (Result<T>, bool) {
        self.transaction_taking_turns(true, f)
    }

    /// Like [`transaction`](Self::transaction), without waiting for other nodes'
    /// write transactions: for a node's own rows (its heartbeat and leases).
    fn transaction_in_any_order<T>(
        &mut self,
        f: impl FnOnce(&Db<'_>) -> Result<T>,
    ) -> (Result<T>, bool) {
        self.transaction_taking_turns(false, f)
    }

    fn transaction_taking_turns<T>(
        &mut self,
        turn: bool,
        f: impl FnOnce(&Db<'_>) -> Result<T>,
    ) -> (Result<T>, bool) {
        match self {
            Conn::Lite(conn) => {
                let before = conn.total_changes();
                let result = (|| {
                    let tx = conn.transaction()?;
                    let out = f(&Db::lite(&tx))?;
                    tx.commit()?;
                    Ok(out)
                })();
                let wrote = result.is_ok() && conn.total_changes() > before;
                (result, wrote)
            }
            Conn::Pg(conn) => {
                let result = (|| {
                    let db = Db::pg_transaction(conn)?;
                    // Every node's writes take their turn: incident transitions, applies
                    // and their revision checks read state and write what follows
                    // from it, which two nodes must not do at once on one check.
                    if turn {
                        // Bounded: a node whose turn is held by a session that went
                        // quiet (until the server drops it) fails the write, which
                        // is retried as an outage is, rather than waiting forever.
                        db.execute_batch(WRITE_TURN_TIMEOUT)?;
                        db.execute("SELECT pg_advisory_xact_lock(?1)", [WRITE_TURN_LOCK])?;
                    }
                    let out = f(&db)?;
                    db.commit()?;
                    Ok(out)
                })();
                let wrote = result.is_ok();
                (result, wrote)
            }
        }
    }

    fn db(&mut self) -> Db<'_> {
        match self {
            Conn::Lite(conn) => Db::lite(conn),
            Conn::Pg(conn) => Db::pg(conn),
        }
    }
}

/// Where the store keeps its data.
#[derive(Clone, Debug)]
enum Location {
    Sqlite(PathBuf),
    /// The URL, and the name of the node this daemon is among those sharing it.
    Postgres(String, String),
}

type Job = Box<dyn FnOnce(&mut Conn) + Send>;

/// A handle to the store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    location: Arc<Location>,
    writes: mpsc::Sender<Job>,
    /// Bumped after every commit that changes checks or their pause state.
    changes: Arc<tokio::sync::watch::Sender<u64>>,
    readers: Arc<Mutex<Vec<Conn>>>,
    /// Why writes fail at the moment, for `/readyz`; `None` while they succeed.
    write_problem: Arc<Mutex<Option<String>>>,
    /// Unix ms from which results may stand for time: when this store was opened.
    running_since: Arc<std::sync::atomic::AtomicI64>,
    /// The host name of the daemon's own `public_url`, which no status page may
    /// claim as its `domain`.
    own_host: Arc<Mutex<Option<String>>>,
    /// Connections running a statement or a transaction right now, for `/metrics`.
    busy: Arc<AtomicUsize>,
    /// One permit per read running, up to [`MAX_READERS`].
    read_gate: Arc<tokio::sync::Semaphore>,
    places: Arc<Mutex<Places>>,
    /// Why this node is out of step with the others (its signing key is no longer
    /// theirs), as its heartbeat last found; `/readyz` answers 503 while set.
    cluster_problem: Arc<Mutex<Option<String>>>,
}

/// Where this node probes from, and the locations that have a live node: what
/// the quorum of a check run from several locations counts.
#[derive(Clone, Debug, Default)]
pub struct Places {
    pub location: String,
    pub live: std::collections::HashSet<String>,
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
    // Copy the log into the database every 4,000 pages (16 MiB) instead of every
    // 1,000: a busy daemon changes the same pages of its state and indexes over and
    // over, and each copy writes a page once however often it changed since.
    conn.pragma_update(None, "wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

/// Pages the write-ahead log grows to before it is copied into the database.
const WAL_AUTOCHECKPOINT_PAGES: i64 = 4_000;

/// Statements kept prepared per SQLite connection (rusqlite's default is 16, fewer
/// than the writer uses).
const STATEMENT_CACHE: usize = 128;

/// The first half of the advisory lock each node holds on its name for as long as
/// its writer's connection lives (the second half is the name's hash).
const NODE_NAME_LOCK: i32 = 728_341;
/// The transaction-scoped advisory lock every write transaction takes first.
const WRITE_TURN_LOCK: i64 = 7_283_416_553;
/// How long a write waits for its turn.
const WRITE_TURN_TIMEOUT: &str = "SET LOCAL lock_timeout = '15s'";
/// The lock a daemon of the versions that ran alone on a database held, whole.
/// Nodes hold it shared, so that none runs beside such a daemon (each would run
/// every check and send every alert).
const ALONE_LOCK: i64 = 7_283_416_552;

/// A stable 32-bit hash of a node's name, the same in every build.
fn name_hash(name: &str) -> i32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in name.bytes() {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    h as i32
}

/// Takes this node's name on the database: two daemons by one name would take
/// each other's leases for their own, so a second one is refused (the lock goes
/// with the first one's connection, so a daemon killed outright frees it at once).
fn claim_node(conn: &mut PgConn, url: &str, node: &str) -> Result<()> {
    let shared: bool = Db::pg(conn).query_row(
        "SELECT pg_try_advisory_lock_shared(?1)",
        [ALONE_LOCK],
        |r| r.get(0),
    )?;
    if !shared {
        return Err(StoreError::Conflict(format!(
            "an uptimeping daemon of an older version, which runs alone, is using the database {}; stop it before starting nodes of this version",
            pg_shown(url)
        )));
    }
    let took: bool = Db::pg(conn).query_row(
        "SELECT pg_try_advisory_lock(CAST(?1 AS INTEGER), CAST(?2 AS INTEGER))",
        rusqlite::params![NODE_NAME_LOCK, name_hash(node)],
        |r| r.get(0),
    )?;
    if took {
        Ok(())
    } else {
        Err(StoreError::Conflict(format!(
            "another uptimeping daemon is running as node `{node}` on the database {}; give this one another name with --node (each node of a cluster needs its own)",
            pg_shown(url)
        )))
    }
}

/// How long connecting to PostgreSQL may take, unless the URL says.
const PG_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Idle time before TCP keepalives start on a connection, unless the URL says.
const PG_KEEPALIVE_IDLE: Duration = Duration::from_secs(15);
/// How long sent data may go unacknowledged before the connection is given up
/// (Linux), unless the URL says: a network cut then fails this node's statements
/// within this, rather than the kernel's 15 minutes (the server's side, and the
/// locks its session holds, go with [`PG_SERVER_OPTIONS`]).
const PG_TCP_USER_TIMEOUT: Duration = Duration::from_secs(20);
/// Settings of each session on the server, unless the URL gives `options`: it
/// ends a transaction left idle for 30 s (none of the daemon's waits between
/// statements), and probes a quiet client after 15 s, dropping it 15 s later.
const PG_SERVER_OPTIONS: &str = "-c idle_in_transaction_session_timeout=30s -c tcp_keepalives_idle=15 -c tcp_keepalives_interval=5 -c tcp_keepalives_count=3";

fn pg_connect(url: &str) -> Result<postgres::Client> {
    let pg_url::Target {
        mut config,
        tls,
        prefer,
    } = pg_url::parse(url)
        .map_err(|e| StoreError::Io(std::io::Error::new(std::io::ErrorKind::InvalidInput, e)))?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(PG_CONNECT_TIMEOUT);
    }
    if !url.contains("keepalives") {
        config.keepalives(true).keepalives_idle(PG_KEEPALIVE_IDLE);
    }
    if !url.contains("tcp_user_timeout") {
        config.tcp_user_timeout(PG_TCP_USER_TIMEOUT);
    }
    if config.get_options().is_none() {
        // The server's side of the same: a node cut off or frozen mid-transaction
        // would otherwise keep its session, its locks and every other node's write
        // turn for the server's default two hours of keepalive.
        config.options(PG_SERVER_OPTIONS);
    }
    let connected = match tls {
        Some(tls) => config.connect(tls),
        None => config.connect(postgres::NoTls),
    };
    match connected {
        // libpq's `prefer`: a server whose TLS cannot be spoken is spoken to plainly.
        Err(e) if prefer && e.to_string().contains("TLS handshake") => {
            tracing::warn!(
                "the TLS handshake with the PostgreSQL server failed ({}); connecting without TLS, as sslmode=prefer allows (set sslmode=require or verify-full to refuse)",
                std::error::Error::source(&e).map(|s| s.to_string()).unwrap_or_default()
            );
            config
                .ssl_mode(postgres::config::SslMode::Disable)
                .connect(postgres::NoTls)
        }
        other => other,
    }
    .map_err(|e| sql::pg_error(e, "connecting"))
}

/// Connects the writer again after PostgreSQL closed its connection (a restart, a
/// network cut): the job that follows then runs on the new one, or fails as the
/// connection attempt did. Asked before every job (one round trip per
/// transaction, which holds a batch of results), since a restarted server closes
/// the connection without this side knowing until it is used.
fn reconnect_if_lost(conn: &mut Conn, location: &Location) {
    if let (Conn::Pg(pg), Location::Postgres(url, node)) = (&mut *conn, location)
        && !pg.is_alive()
        && let Ok(client) = pg_connect(url)
    {
        let mut fresh = PgConn::new(client);
        match claim_node(&mut fresh, url, node) {
            Ok(()) => **pg = fresh,
            // Jobs fail on the closed connection meanwhile, which `/readyz` shows.
            Err(e) => tracing::error!("{e}"),
        }
    }
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
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Store::start(Conn::Lite(conn), Location::Sqlite(path.to_path_buf()))
    }

    /// Connects to the PostgreSQL database at `url` (`postgres://user@host/db`) as
    /// the node named `node`, migrates it if needed (one node at a time) and starts
    /// the writer.
    pub fn open_postgres(url: &str, node: &str) -> Result<Store> {
        // The driver runs a small runtime of its own for each call, which may not
        // start on a thread that drives async tasks: connect off them.
        let conn = std::thread::scope(|s| {
            s.spawn(|| {
                let mut conn = PgConn::new(pg_connect(url)?);
                // Claimed first: a daemon refused must not migrate the schema
                // under the one that runs.
                claim_node(&mut conn, url, node)?;
                migrations::migrate_postgres(&mut conn)?;
                Ok::<_, StoreError>(conn)
            })
            .join()
            .map_err(|_| StoreError::Closed)?
        })?;
        Store::start(
            Conn::Pg(Box::new(conn)),
            Location::Postgres(url.to_string(), node.to_string()),
        )
    }

    fn start(mut conn: Conn, location: Location) -> Result<Store> {
        let (tx, mut rx) = mpsc::channel::<Job>(WRITE_QUEUE);
        let busy = Arc::new(AtomicUsize::new(0));
        let writer_busy = Arc::clone(&busy);
        let writer_location = location.clone();
        std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || {
                while let Some(job) = rx.blocking_recv() {
                    let _busy = Busy::new(&writer_busy);
                    reconnect_if_lost(&mut conn, &writer_location);
                    job(&mut conn);
                }
                // Leaving the loop drops the connection, which checkpoints the WAL.
            })
            .map_err(|e| {
                StoreError::Io(std::io::Error::other(format!(
                    "cannot start the writer thread: {e}"
                )))
            })?;
        Ok(Store {
            location: Arc::new(location),
            writes: tx,
            changes: Arc::new(tokio::sync::watch::Sender::new(0)),
            readers: Arc::new(Mutex::new(Vec::new())),
            write_problem: Arc::new(Mutex::new(None)),
            running_since: Arc::new(std::sync::atomic::AtomicI64::new(now_ms())),
            own_host: Arc::new(Mutex::new(None)),
            busy,
            read_gate: Arc::new(tokio::sync::Semaphore::new(MAX_READERS)),
            places: Arc::default(),
            cluster_problem: Arc::default(),
        })
    }

    /// Why this node is out of step with the others, if it is.
    pub fn cluster_problem(&self) -> Option<String> {
        self.cluster_problem
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn set_cluster_problem(&self, problem: Option<String>) {
        *self
            .cluster_problem
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = problem;
    }

    /// The database as logs may show it: the SQLite file's path, or PostgreSQL's
    /// host, port and database (never a password).
    pub fn shown(&self) -> String {
        match &*self.location {
            Location::Sqlite(path) => path.display().to_string(),
            Location::Postgres(url, _) => pg_shown(url),
        }
    }

    /// The node whose claims on shared work (outbox rows) this store makes: its
    /// `--node` on PostgreSQL; SQLite has one daemon, which needs none.
    pub fn node(&self) -> Option<&str> {
        match &*self.location {
            Location::Sqlite(_) => None,
            Location::Postgres(_, node) => Some(node),
        }
    }

    /// Where this node probes from and which locations have live nodes, as its
    /// last heartbeat saw.
    pub fn places(&self) -> Places {
        self.places
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Names this node's location; it counts as live until a heartbeat says
    /// which are.
    pub fn set_location(&self, location: &str) {
        let mut places = self.places.lock().unwrap_or_else(|p| p.into_inner());
        places.location = location.to_string();
        places.live.insert(location.to_string());
    }

    pub fn set_live_locations(&self, live: std::collections::HashSet<String>) {
        self.places.lock().unwrap_or_else(|p| p.into_inner()).live = live;
    }

    /// Tells this daemon's subscribers that checks changed elsewhere (an apply
    /// on another node).
    pub fn changed_elsewhere(&self) {
        self.changes.send_modify(|n| *n += 1);
    }

    /// A connection of this store's own, outside the writer and the readers, for
    /// work that must not wait behind them (a node's heartbeat). Blocking: call it
    /// off the async threads.
    fn own_connection(&self) -> Result<Conn> {
        Ok(match &*self.location {
            Location::Sqlite(path) => Conn::Lite(open(path)?),
            Location::Postgres(url, _) => Conn::Pg(Box::new(PgConn::new(pg_connect(url)?))),
        })
    }

    /// Which database this store keeps its data in.
    pub fn backend(&self) -> Backend {
        match *self.location {
            Location::Sqlite(_) => Backend::Sqlite,
            Location::Postgres(..) => Backend::Postgres,
        }
    }

    /// Runs `f` in one write transaction on the writer thread; commits if it succeeds.
    pub async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Db<'_>) -> Result<T> + Send + 'static,
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
        F: FnOnce(&Db<'_>) -> Result<(T, bool)> + Send + 'static,
    {
        let (done, wait) = oneshot::channel();
        let changes = Arc::clone(&self.changes);
        let problem = Arc::clone(&self.write_problem);
        let location = Arc::clone(&self.location);
        let job: Job = Box::new(move |conn: &mut Conn| {
            let (result, wrote) = conn.transaction(|db| {
                let (out, changed) = f(db)?;
                if changed {
                    // Other nodes see this and reload what they schedule; the
                    // heartbeat reads the checks again.
                    db.execute(
                        "UPDATE cluster_state SET checks_version = checks_version + 1 WHERE id = 1",
                        [],
                    )?;
                }
                Ok((out, changed))
            });
            let result = result.map(|(out, changed)| {
                if changed {
                    changes.send_modify(|n| *n += 1);
                }
                out
            });
            // Only a commit that wrote something proves the disk takes writes again.
            let now = match &result {
                Ok(_) if wrote => Some(None),
                Err(e) => storage_advice(e, &location).map(Some),
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
        F: FnOnce(&Db<'_>) -> Result<T> + Send + 'static,
    {
        let readers = Arc::clone(&self.readers);
        let location = Arc::clone(&self.location);
        let busy = Arc::clone(&self.busy);
        let permit = Arc::clone(&self.read_gate)
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Closed)?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let _busy = Busy::new(&busy);
            let pooled = readers
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .pop()
                .and_then(|mut c| {
                    // A dead one is dropped here, and a new one opened below.
                    let alive = match &mut c {
                        Conn::Pg(pg) => pg.is_alive(),
                        Conn::Lite(_) => true,
                    };
                    alive.then_some(c)
                });
            let mut conn = match pooled {
                Some(c) => c,
                None => match &*location {
                    Location::Sqlite(path) => Conn::Lite(open(path)?),
                    Location::Postgres(url, _) => Conn::Pg(Box::new(PgConn::new(pg_connect(url)?))),
                },
            };
            let out = f(&conn.db());
            let lost = matches!(&conn, Conn::Pg(c) if c.is_closed());
            let mut pool = readers.lock().unwrap_or_else(|p| p.into_inner());
            if pool.len() < READ_POOL && !lost {
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
        self.read(|c| c.query_row("SELECT 1", [], |r| r.get::<i64>(0)))
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

/// A new empty store on `backend` for a test: SQLite in the returned directory, or
/// a fresh database on the test PostgreSQL server.
#[cfg(test)]
pub(crate) fn test_store(backend: Backend) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = match backend {
        Backend::Sqlite => Store::open(&dir.path().join("t.db")),
        Backend::Postgres => Store::open_postgres(&test_postgres::fresh_database(), "test"),
    }
    .expect("open the store");
    (dir, store)
}

/// Runs each listed `async fn name(backend: Backend)` as two tests,
/// `name::sqlite` and `name::postgres`: the store's tests hold for both backends.
#[cfg(test)]
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$name($crate::daemon::store::Backend::Sqlite).await
            }
            #[tokio::test]
            async fn postgres() {
                super::$name($crate::daemon::store::Backend::Postgres).await
            }
        }
    )+};
}
#[cfg(test)]
pub(crate) use on_both_backends;

/// Milliseconds since the Unix epoch, the store's time unit.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

pub fn to_time(ms: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default()
}
