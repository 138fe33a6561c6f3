//! One SQL interface over both backends, SQLite and PostgreSQL, so that the store's
//! domain code is written once.
//!
//! Statements are written with SQLite's placeholders (`?1`, `?2`, or `?`) and
//! rusqlite's value traits: parameters are anything rusqlite can bind
//! ([`rusqlite::ToSql`], so `rusqlite::params!` works), and columns are read as
//! anything rusqlite can read ([`rusqlite::types::FromSql`]). On PostgreSQL the
//! placeholders become `$1`, `$2`, …, each parameter is bound as the type the
//! server inferred for it (an integer as `int8`, `int4` or `bool`), and each column
//! is read through the same conversions as SQLite's, so `r.get::<_, bool>(3)` means
//! the same on both. The few statements whose SQL differs (JSON functions) ask
//! [`Db::backend`].

use std::cell::RefCell;
use std::collections::HashMap;

use postgres::types::{IsNull, ToSql as PgToSql, Type};
use rusqlite::ToSql;
use rusqlite::types::{FromSql, ToSqlOutput, Value, ValueRef};

use super::{Result, StoreError};

/// Which database a [`Db`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A PostgreSQL connection with the statements prepared on it.
pub struct PgConn {
    client: Option<postgres::Client>,
    statements: HashMap<String, postgres::Statement>,
}

impl Drop for PgConn {
    /// The driver closes a connection by running its own small runtime, which may
    /// not start on a thread that drives async tasks (a store dropped there): such a
    /// connection is closed on a thread of its own.
    fn drop(&mut self) {
        self.statements.clear();
        if let Some(client) = self.client.take()
            && tokio::runtime::Handle::try_current().is_ok()
        {
            let _ = std::thread::Builder::new()
                .name("store-close".into())
                .spawn(move || drop(client));
        }
    }
}

/// Statements kept prepared per connection; beyond this the cache starts over.
const PG_STATEMENTS: usize = 512;

impl PgConn {
    pub fn new(client: postgres::Client) -> PgConn {
        PgConn {
            client: Some(client),
            statements: HashMap::new(),
        }
    }

    /// Whether a pooled connection still reaches the server (an empty query, one
    /// round trip): a server restarted since its last use closed it without this
    /// side knowing yet, and the read given it would fail.
    pub fn is_alive(&mut self) -> bool {
        self.client
            .as_mut()
            .is_some_and(|c| c.is_valid(std::time::Duration::from_secs(2)).is_ok())
    }

    /// Whether the server closed this connection (it went away, or restarted).
    pub fn is_closed(&self) -> bool {
        self.client.as_ref().is_none_or(|c| c.is_closed())
    }
}

enum PgSide<'a> {
    Client(&'a mut postgres::Client),
    Tx(postgres::Transaction<'a>),
}

struct Pg<'a> {
    side: PgSide<'a>,
    statements: &'a mut HashMap<String, postgres::Statement>,
}

impl Pg<'_> {
    fn statement(&mut self, sql: &str) -> Result<postgres::Statement> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let translated = placeholders(sql);
        let s = match &mut self.side {
            PgSide::Client(c) => c.prepare(&translated),
            PgSide::Tx(t) => t.prepare(&translated),
        }
        .map_err(|e| pg_error(e, sql))?;
        if self.statements.len() >= PG_STATEMENTS {
            self.statements.clear();
        }
        self.statements.insert(sql.to_string(), s.clone());
        Ok(s)
    }

    fn query(&mut self, sql: &str, params: &[&dyn ToSql]) -> Result<Vec<postgres::Row>> {
        let s = self.statement(sql)?;
        let owned = pg_params(params)?;
        let refs: Vec<&(dyn PgToSql + Sync)> = owned.iter().map(|p| p as _).collect();
        match &mut self.side {
            PgSide::Client(c) => c.query(&s, &refs),
            PgSide::Tx(t) => t.query(&s, &refs),
        }
        .map_err(|e| pg_error(e, sql))
    }

    fn execute(&mut self, sql: &str, params: &[&dyn ToSql]) -> Result<u64> {
        let s = self.statement(sql)?;
        let owned = pg_params(params)?;
        let refs: Vec<&(dyn PgToSql + Sync)> = owned.iter().map(|p| p as _).collect();
        match &mut self.side {
            PgSide::Client(c) => c.execute(&s, &refs),
            PgSide::Tx(t) => t.execute(&s, &refs),
        }
        .map_err(|e| pg_error(e, sql))
    }

    fn batch(&mut self, sql: &str) -> Result<()> {
        match &mut self.side {
            PgSide::Client(c) => c.batch_execute(sql),
            PgSide::Tx(t) => t.batch_execute(sql),
        }
        .map_err(|e| pg_error(e, sql))
    }
}

/// A connection or a transaction of either backend: what the store's domain code
/// reads and writes through.
pub struct Db<'a> {
    inner: Inner<'a>,
}

enum Inner<'a> {
    Lite(&'a rusqlite::Connection),
    Pg(RefCell<Pg<'a>>),
}

/// One row of a result, read by column index.
pub struct Row<'r> {
    inner: RowInner<'r>,
}

enum RowInner<'r> {
    Lite(&'r rusqlite::Row<'r>),
    Pg(&'r postgres::Row),
}

impl Row<'_> {
    /// Column `i`, a blob, without copying it.
    pub fn get_blob(&self, i: usize) -> Result<&[u8]> {
        match &self.inner {
            RowInner::Lite(r) => Ok(r.get_ref(i)?.as_blob().map_err(rusqlite::Error::from)?),
            RowInner::Pg(r) => match pg_value(r, i)? {
                ValueRef::Blob(b) => Ok(b),
                other => Err(StoreError::Sqlite(rusqlite::Error::InvalidColumnType(
                    i,
                    r.columns()[i].name().to_string(),
                    other.data_type(),
                ))),
            },
        }
    }

    /// Column `i` (from 0) as `T`, converted as rusqlite converts SQLite's values.
    pub fn get<T: FromSql>(&self, i: usize) -> Result<T> {
        match &self.inner {
            RowInner::Lite(r) => Ok(r.get(i)?),
            RowInner::Pg(r) => {
                let v = pg_value(r, i)?;
                T::column_result(v).map_err(|e| {
                    StoreError::Sqlite(rusqlite::Error::FromSqlConversionFailure(
                        i,
                        v.data_type(),
                        Box::new(e),
                    ))
                })
            }
        }
    }
}

impl<'a> Db<'a> {
    /// SQLite: a connection, or a transaction through the connection it derefs to.
    pub fn lite(conn: &'a rusqlite::Connection) -> Db<'a> {
        Db {
            inner: Inner::Lite(conn),
        }
    }

    /// PostgreSQL: statements run on their own (autocommit).
    pub fn pg(conn: &'a mut PgConn) -> Db<'a> {
        Db {
            inner: Inner::Pg(RefCell::new(Pg {
                side: PgSide::Client(
                    conn.client
                        .as_mut()
                        .expect("a connection is closed only when dropped"),
                ),
                statements: &mut conn.statements,
            })),
        }
    }

    /// PostgreSQL: statements run inside one transaction, committed by [`commit`](Self::commit).
    pub fn pg_transaction(conn: &'a mut PgConn) -> Result<Db<'a>> {
        let tx = conn
            .client
            .as_mut()
            .expect("a connection is closed only when dropped")
            .transaction()
            .map_err(|e| pg_error(e, "BEGIN"))?;
        Ok(Db {
            inner: Inner::Pg(RefCell::new(Pg {
                side: PgSide::Tx(tx),
                statements: &mut conn.statements,
            })),
        })
    }

    /// Commits a PostgreSQL transaction (SQLite's are committed by their owner).
    pub fn commit(self) -> Result<()> {
        if let Inner::Pg(pg) = self.inner
            && let PgSide::Tx(tx) = pg.into_inner().side
        {
            tx.commit().map_err(|e| pg_error(e, "COMMIT"))?;
        }
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        match self.inner {
            Inner::Lite(_) => Backend::Sqlite,
            Inner::Pg(_) => Backend::Postgres,
        }
    }

    /// `sql` to run with [`Stmt`]'s methods (prepared, and kept prepared, on first use).
    pub fn prepare(&self, sql: &str) -> Result<Stmt<'_, 'a>> {
        Ok(Stmt {
            db: self,
            sql: sql.to_string(),
        })
    }

    /// The same as [`prepare`](Self::prepare): every statement is kept prepared.
    pub fn prepare_cached(&self, sql: &str) -> Result<Stmt<'_, 'a>> {
        self.prepare(sql)
    }

    /// Runs one statement; returns the number of rows it changed.
    pub fn execute(&self, sql: &str, params: impl Args) -> Result<usize> {
        let params = params.args();
        match &self.inner {
            Inner::Lite(c) => Ok(c.prepare_cached(sql)?.execute(&*params)?),
            Inner::Pg(pg) => Ok(pg.borrow_mut().execute(sql, &params)? as usize),
        }
    }

    /// Runs statements without parameters, separated by semicolons.
    pub fn execute_batch(&self, sql: &str) -> Result<()> {
        match &self.inner {
            Inner::Lite(c) => Ok(c.execute_batch(sql)?),
            Inner::Pg(pg) => pg.borrow_mut().batch(sql),
        }
    }

    /// The first row of the result through `f`; no row is
    /// `rusqlite::Error::QueryReturnedNoRows` on both backends (see [`Optional`]).
    pub fn query_row<T>(
        &self,
        sql: &str,
        params: impl Args,
        f: impl FnOnce(&Row<'_>) -> Result<T>,
    ) -> Result<T> {
        self.query_opt(sql, params, f)?
            .ok_or(StoreError::Sqlite(rusqlite::Error::QueryReturnedNoRows))
    }

    /// The first row of the result through `f`, if there is one.
    pub fn query_opt<T>(
        &self,
        sql: &str,
        params: impl Args,
        f: impl FnOnce(&Row<'_>) -> Result<T>,
    ) -> Result<Option<T>> {
        let params = params.args();
        match &self.inner {
            Inner::Lite(c) => {
                let mut stmt = c.prepare_cached(sql)?;
                let mut rows = stmt.query(&*params)?;
                match rows.next()? {
                    Some(r) => Ok(Some(f(&Row {
                        inner: RowInner::Lite(r),
                    })?)),
                    None => Ok(None),
                }
            }
            Inner::Pg(pg) => {
                let rows = pg.borrow_mut().query(sql, &params)?;
                match rows.first() {
                    Some(r) => Ok(Some(f(&Row {
                        inner: RowInner::Pg(r),
                    })?)),
                    None => Ok(None),
                }
            }
        }
    }

    /// Every row of the result through `f`.
    pub fn query_map<T>(
        &self,
        sql: &str,
        params: impl Args,
        mut f: impl FnMut(&Row<'_>) -> Result<T>,
    ) -> Result<Vec<T>> {
        let mut out = Vec::new();
        self.for_each(sql, params, |r| {
            out.push(f(r)?);
            Ok(())
        })?;
        Ok(out)
    }

    /// Each row of the result through `f`, in order; on SQLite one row is held at a
    /// time. `f` must not use this `Db`.
    pub fn for_each(
        &self,
        sql: &str,
        params: impl Args,
        mut f: impl FnMut(&Row<'_>) -> Result<()>,
    ) -> Result<()> {
        let params = params.args();
        match &self.inner {
            Inner::Lite(c) => {
                let mut stmt = c.prepare_cached(sql)?;
                let mut rows = stmt.query(&*params)?;
                while let Some(r) = rows.next()? {
                    f(&Row {
                        inner: RowInner::Lite(r),
                    })?;
                }
                Ok(())
            }
            Inner::Pg(pg) => {
                let mut pg = pg.borrow_mut();
                let s = pg.statement(sql)?;
                let owned = pg_params(&params)?;
                let refs = owned.iter().map(|p| p as &dyn PgToSql);
                let mut rows = match &mut pg.side {
                    PgSide::Client(c) => c.query_raw(&s, refs),
                    PgSide::Tx(t) => t.query_raw(&s, refs),
                }
                .map_err(|e| pg_error(e, sql))?;
                // Rows arrive as the server sends them: one is held at a time here too.
                while let Some(r) = postgres::fallible_iterator::FallibleIterator::next(&mut rows)
                    .map_err(|e| pg_error(e, sql))?
                {
                    f(&Row {
                        inner: RowInner::Pg(&r),
                    })?;
                }
                Ok(())
            }
        }
    }
}

/// Whether the check spec (JSON text) in `column` is enabled, as SQL that means the
/// same on both backends: `json_extract` gives SQLite's `1`/`0` for JSON's
/// `true`/`false` and PostgreSQL's (see the schema) `'true'`/`'false'`.
pub fn spec_enabled(column: &str) -> String {
    format!(
        "COALESCE(CAST(json_extract({column}, '$.enabled') AS TEXT), 'true') NOT IN ('0', 'false')"
    )
}

/// The rows of [`Stmt::query_map`], each a `Result` as rusqlite's are.
pub type Rows<T> = std::iter::Map<std::vec::IntoIter<T>, fn(T) -> Result<T>>;

/// A statement to run later, in the shape of rusqlite's: `db.prepare(sql)?.query_row(…)`.
pub struct Stmt<'d, 'a> {
    db: &'d Db<'a>,
    sql: String,
}

impl Stmt<'_, '_> {
    pub fn execute(&mut self, params: impl Args) -> Result<usize> {
        self.db.execute(&self.sql, params)
    }

    pub fn query_row<T>(
        &mut self,
        params: impl Args,
        f: impl FnOnce(&Row<'_>) -> Result<T>,
    ) -> Result<T> {
        self.db.query_row(&self.sql, params, f)
    }

    /// Every row through `f`, read before this returns.
    pub fn query_map<T>(
        &mut self,
        params: impl Args,
        f: impl FnMut(&Row<'_>) -> Result<T>,
    ) -> Result<Rows<T>> {
        Ok(self
            .db
            .query_map(&self.sql, params, f)?
            .into_iter()
            .map(Ok as fn(T) -> Result<T>))
    }

    /// Each row through `f`, in order (see [`Db::for_each`]).
    pub fn for_each(
        &mut self,
        params: impl Args,
        f: impl FnMut(&Row<'_>) -> Result<()>,
    ) -> Result<()> {
        self.db.for_each(&self.sql, params, f)
    }

    pub fn exists(&mut self, params: impl Args) -> Result<bool> {
        Ok(self.db.query_opt(&self.sql, params, |_| Ok(()))?.is_some())
    }
}

/// The parameters of a statement: `rusqlite::params![…]`, `&[&a, &b]`, an
/// array of values of one type (`[tenant]`), or `[]`.
pub trait Args {
    fn args(&self) -> Vec<&dyn ToSql>;
}

impl Args for &[&dyn ToSql] {
    fn args(&self) -> Vec<&dyn ToSql> {
        self.to_vec()
    }
}

impl<const N: usize> Args for &[&dyn ToSql; N] {
    fn args(&self) -> Vec<&dyn ToSql> {
        self.to_vec()
    }
}

impl Args for [&dyn ToSql; 0] {
    fn args(&self) -> Vec<&dyn ToSql> {
        Vec::new()
    }
}

macro_rules! args_for_arrays {
    ($($n:literal)+) => {$(
        impl<T: ToSql> Args for [T; $n] {
            fn args(&self) -> Vec<&dyn ToSql> {
                self.iter().map(|v| v as &dyn ToSql).collect()
            }
        }
    )+};
}

args_for_arrays!(1 2 3 4 5 6 7 8 9 10 11 12);

/// `.optional()` on a [`Db::query_row`] result, as rusqlite's `OptionalExtension`.
pub trait Optional<T> {
    fn optional(self) -> Result<Option<T>>;
}

impl<T> Optional<T> for Result<T> {
    fn optional(self) -> Result<Option<T>> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(StoreError::Sqlite(rusqlite::Error::QueryReturnedNoRows)) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// A PostgreSQL error with the server's message (the driver's own display of
/// one is only "db error") and the statement, in one line. The server's detail
/// is left out: it quotes row values (a key that already exists), and this
/// message may reach a log or an API caller.
pub(super) fn pg_error(e: postgres::Error, sql: &str) -> StoreError {
    let message = match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => match std::error::Error::source(&e) {
            Some(cause) => format!("{e}: {cause}"),
            None => e.to_string(),
        },
    };
    StoreError::Postgres {
        message,
        sql: sql.split_whitespace().collect::<Vec<_>>().join(" "),
        error: e,
    }
}

/// SQLite's placeholders (`?`, `?NNN`) as PostgreSQL's (`$N`), outside string
/// literals, quoted names and comments.
pub fn placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut next = 1;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
                out.push(c);
                for d in chars.by_ref() {
                    out.push(d);
                    if d == c {
                        break;
                    }
                }
            }
            '-' if chars.peek() == Some(&'-') => {
                out.push(c);
                for d in chars.by_ref() {
                    out.push(d);
                    if d == '\n' {
                        break;
                    }
                }
            }
            '?' => {
                let mut digits = String::new();
                while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    digits.push(*d);
                    chars.next();
                }
                out.push('$');
                if digits.is_empty() {
                    out.push_str(&next.to_string());
                    next += 1;
                } else {
                    out.push_str(&digits);
                }
            }
            _ => out.push(c),
        }
    }
    out
}

/// A parameter as PostgreSQL binds it: the value rusqlite would bind, converted to
/// the type the server inferred for its placeholder.
#[derive(Debug)]
struct PgValue(Value);

fn pg_params(params: &[&dyn ToSql]) -> Result<Vec<PgValue>> {
    params
        .iter()
        .map(|p| {
            Ok(PgValue(match p.to_sql()? {
                ToSqlOutput::Borrowed(v) => owned(v),
                ToSqlOutput::Owned(v) => v,
                other => {
                    return Err(StoreError::Corrupt(format!(
                        "a parameter PostgreSQL cannot take: {other:?}"
                    )));
                }
            }))
        })
        .collect()
}

fn owned(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Integer(i),
        ValueRef::Real(f) => Value::Real(f),
        ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    }
}

type BoxError = Box<dyn std::error::Error + Sync + Send>;

impl PgToSql for PgValue {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> std::result::Result<IsNull, BoxError> {
        let textual = [
            Type::TEXT,
            Type::VARCHAR,
            Type::BPCHAR,
            Type::NAME,
            Type::UNKNOWN,
        ];
        match &self.0 {
            Value::Null => Ok(IsNull::Yes),
            Value::Integer(v) => {
                if *ty == Type::INT8 {
                    PgToSql::to_sql(&v, ty, out)
                } else if *ty == Type::INT4 {
                    PgToSql::to_sql(&i32::try_from(*v)?, ty, out)
                } else if *ty == Type::INT2 {
                    PgToSql::to_sql(&i16::try_from(*v)?, ty, out)
                } else if *ty == Type::BOOL {
                    PgToSql::to_sql(&(*v != 0), ty, out)
                } else if *ty == Type::FLOAT8 {
                    PgToSql::to_sql(&(*v as f64), ty, out)
                } else if textual.contains(ty) {
                    PgToSql::to_sql(&v.to_string().as_str(), &Type::TEXT, out)
                } else {
                    Err(format!("an integer cannot be bound where PostgreSQL expects {ty}").into())
                }
            }
            Value::Real(v) => {
                if *ty == Type::FLOAT8 {
                    PgToSql::to_sql(&v, ty, out)
                } else if *ty == Type::FLOAT4 {
                    PgToSql::to_sql(&(*v as f32), ty, out)
                } else {
                    Err(format!("a real cannot be bound where PostgreSQL expects {ty}").into())
                }
            }
            Value::Text(s) => {
                if textual.contains(ty) {
                    PgToSql::to_sql(&s.as_str(), &Type::TEXT, out)
                } else if *ty == Type::JSON {
                    out.extend_from_slice(s.as_bytes());
                    Ok(IsNull::No)
                } else if *ty == Type::JSONB {
                    out.extend_from_slice(&[1]);
                    out.extend_from_slice(s.as_bytes());
                    Ok(IsNull::No)
                } else {
                    Err(format!("text cannot be bound where PostgreSQL expects {ty}").into())
                }
            }
            Value::Blob(b) => {
                if *ty == Type::BYTEA {
                    PgToSql::to_sql(&b.as_slice(), ty, out)
                } else {
                    Err(format!("bytes cannot be bound where PostgreSQL expects {ty}").into())
                }
            }
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

/// Column `i` of a PostgreSQL row as the SQLite value it stands for.
fn pg_value(r: &postgres::Row, i: usize) -> Result<ValueRef<'_>> {
    let column = r
        .columns()
        .get(i)
        .ok_or(StoreError::Sqlite(rusqlite::Error::InvalidColumnIndex(i)))?;
    let ty = column.type_();
    let e = |e: postgres::Error| pg_error(e, column.name());
    let v = if *ty == Type::INT8 {
        r.try_get::<_, Option<i64>>(i)
            .map_err(e)?
            .map(ValueRef::Integer)
    } else if *ty == Type::INT4 {
        r.try_get::<_, Option<i32>>(i)
            .map_err(e)?
            .map(|v| ValueRef::Integer(v.into()))
    } else if *ty == Type::INT2 {
        r.try_get::<_, Option<i16>>(i)
            .map_err(e)?
            .map(|v| ValueRef::Integer(v.into()))
    } else if *ty == Type::BOOL {
        r.try_get::<_, Option<bool>>(i)
            .map_err(e)?
            .map(|v| ValueRef::Integer(v.into()))
    } else if *ty == Type::FLOAT8 {
        r.try_get::<_, Option<f64>>(i)
            .map_err(e)?
            .map(ValueRef::Real)
    } else if *ty == Type::FLOAT4 {
        r.try_get::<_, Option<f32>>(i)
            .map_err(e)?
            .map(|v| ValueRef::Real(v.into()))
    } else if *ty == Type::BYTEA {
        r.try_get::<_, Option<&[u8]>>(i)
            .map_err(e)?
            .map(ValueRef::Blob)
    } else if [Type::TEXT, Type::VARCHAR, Type::BPCHAR, Type::NAME].contains(ty) {
        r.try_get::<_, Option<&str>>(i)
            .map_err(e)?
            .map(|s| ValueRef::Text(s.as_bytes()))
    } else {
        return Err(StoreError::Corrupt(format!(
            "column `{}` is of type {ty}, which the store does not read: cast it in the query",
            column.name()
        )));
    };
    Ok(v.unwrap_or(ValueRef::Null))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_outside_literals() {
        assert_eq!(
            placeholders("SELECT ?1, ?2, ?1 WHERE a = '?' AND \"b?\" = ? -- ?\n AND c = ?"),
            "SELECT $1, $2, $1 WHERE a = '?' AND \"b?\" = $1 -- ?\n AND c = $2"
        );
        assert_eq!(
            placeholders("json_extract(spec, '$.a') = ?12"),
            "json_extract(spec, '$.a') = $12"
        );
    }

    /// The same statements, the same values back, on both backends.
    fn round_trip(db: &Db<'_>) {
        db.execute_batch(match db.backend() {
            Backend::Sqlite => "CREATE TABLE t (i INTEGER, f REAL, s TEXT, b BLOB, flag INTEGER)",
            Backend::Postgres => {
                "CREATE TABLE t (i BIGINT, f DOUBLE PRECISION, s TEXT, b BYTEA, flag BIGINT)"
            }
        })
        .unwrap();
        let n = db
            .execute(
                "INSERT INTO t (i, f, s, b, flag) VALUES (?1, ?2, ?3, ?4, ?5), (?6, NULL, NULL, NULL, ?7)",
                rusqlite::params![
                    i64::MAX,
                    1.5f64,
                    "snow ☃ '?'",
                    vec![0u8, 1, 255],
                    true,
                    -3i64,
                    false
                ],
            )
            .unwrap();
        assert_eq!(n, 2);
        let rows = db
            .query_map("SELECT i, f, s, b, flag FROM t ORDER BY i DESC", [], |r| {
                Ok((
                    r.get::<i64>(0)?,
                    r.get::<Option<f64>>(1)?,
                    r.get::<Option<String>>(2)?,
                    r.get::<Option<Vec<u8>>>(3)?,
                    r.get::<bool>(4)?,
                ))
            })
            .unwrap();
        assert_eq!(
            rows,
            vec![
                (
                    i64::MAX,
                    Some(1.5),
                    Some("snow ☃ '?'".to_string()),
                    Some(vec![0, 1, 255]),
                    true
                ),
                (-3, None, None, None, false),
            ]
        );
        let count: i64 = db
            .query_row("SELECT COUNT(*) FROM t WHERE i > ?", [0i64], |r| r.get(0))
            .unwrap();
        assert_eq!(count, 1);
        let none = db
            .query_row("SELECT i FROM t WHERE i = ?", [42i64], |r| r.get::<i64>(0))
            .optional()
            .unwrap();
        assert_eq!(none, None);
        // A real where an integer is wanted is refused, not truncated.
        assert!(
            db.query_row("SELECT f FROM t WHERE f IS NOT NULL", [], |r| r
                .get::<i64>(0))
                .is_err()
        );
    }

    #[test]
    fn values_round_trip_on_sqlite() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        round_trip(&Db::lite(&conn));
    }

    #[test]
    fn values_round_trip_on_postgres() {
        let url = super::super::test_postgres::fresh_database();
        let mut conn = PgConn::new(postgres::Client::connect(&url, postgres::NoTls).unwrap());
        let db = Db::pg_transaction(&mut conn).unwrap();
        round_trip(&db);
        db.commit().unwrap();
        // Committed: another connection sees the rows.
        let mut other = PgConn::new(postgres::Client::connect(&url, postgres::NoTls).unwrap());
        let n: i64 = Db::pg(&mut other)
            .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 2);
    }
}
