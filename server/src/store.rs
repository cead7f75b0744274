//! The two storage backends under one set of queries: SQLite (the
//! embedded default: one file, one connection behind a lock) and
//! PostgreSQL (a pool of connections that any number of server instances
//! share). `db.rs` writes every query once, in the SQL both accept; this
//! module runs it on either and hands back the same rows.
//!
//! PostgreSQL is reached through an async client (tokio-postgres) and its
//! pool (deadpool-postgres). A request's database work runs on a blocking
//! thread and waits there for each statement, so the queries and the rules
//! around them stay one synchronous code path for both backends.

use tokio_postgres::types::{IsNull, ToSql, Type};

/// What the database layer answers besides its rows: the outcomes of the
/// data model that a caller turns into an HTTP answer, or a failure of
/// the database itself. It knows nothing of HTTP; `From<DbError> for ApiError`
/// (server/src/error.rs) maps it.
#[derive(Debug)]
pub(crate) enum DbError {
    /// What was looked up does not exist: a stable code and a message.
    NotFound(&'static str, &'static str),
    /// A row with this key exists already.
    Exists(&'static str, &'static str),
    /// A value the data model cannot hold (a number out of range, a range
    /// that does not add up).
    Invalid(String),
    /// A column held what its reader cannot take: its index and what was
    /// expected.
    Column(usize, &'static str),
    /// SQLite failed.
    Sqlite(rusqlite::Error),
    /// PostgreSQL failed.
    Postgres(tokio_postgres::Error),
    /// No PostgreSQL connection could be had from the pool.
    Pool(String),
}

impl From<tokio_postgres::Error> for DbError {
    fn from(e: tokio_postgres::Error) -> DbError {
        DbError::Postgres(e)
    }
}

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DbError::NotFound(_, m) | DbError::Exists(_, m) => f.write_str(m),
            DbError::Invalid(m) | DbError::Pool(m) => f.write_str(m),
            DbError::Column(i, what) => write!(f, "column {i} is not {what}"),
            DbError::Sqlite(e) => write!(f, "sqlite: {e}"),
            DbError::Postgres(e) => write!(f, "postgres: {e}"),
        }
    }
}

impl From<rusqlite::Error> for DbError {
    fn from(e: rusqlite::Error) -> DbError {
        DbError::Sqlite(e)
    }
}

/// Shorthand for the database layer's results.
pub(crate) type DbResult<T> = Result<T, DbError>;

/// A connection to run statements on: an SQLite connection (or its open
/// transaction), or a pooled PostgreSQL client.
pub(crate) enum Db<'a> {
    Sqlite(&'a rusqlite::Connection),
    Pg(&'a PgClient),
}

/// A pooled PostgreSQL client and the runtime its connection task runs on.
pub(crate) struct PgClient {
    client: deadpool_postgres::Object,
    runtime: tokio::runtime::Handle,
    /// A transaction was begun and its `BEGIN` not sent yet: it goes with
    /// the first statement, in the same round trip.
    begin_pending: std::cell::Cell<bool>,
}

impl PgClient {
    pub(crate) fn new(client: deadpool_postgres::Object, runtime: tokio::runtime::Handle) -> Self {
        PgClient {
            client,
            runtime,
            begin_pending: std::cell::Cell::new(false),
        }
    }

    /// Sends the pending `BEGIN`, if any, alongside `statement` (pipelined:
    /// one round trip for both).
    async fn with_begin<T>(
        &self,
        statement: impl std::future::Future<Output = DbResult<T>>,
    ) -> DbResult<T> {
        if !self.begin_pending.replace(false) {
            return statement.await;
        }
        let (began, done) = tokio::join!(self.client.batch_execute("BEGIN"), statement);
        began?;
        done
    }

    /// Waits for `f` (from a blocking thread, never a runtime worker).
    pub(crate) fn wait<T>(&self, f: impl std::future::Future<Output = T>) -> T {
        self.runtime.block_on(f)
    }
}

/// Whether `database` names a PostgreSQL database rather than a file.
pub(crate) fn is_postgres_url(database: &str) -> bool {
    database.starts_with("postgres://") || database.starts_with("postgresql://")
}

/// `database` fit for a log line: a URL without its user and password.
pub(crate) fn redacted(database: &str) -> String {
    let Some((scheme, rest)) = database.split_once("://") else {
        return database.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://…@{}", &rest[at + 1..]),
        None => database.to_owned(),
    }
}

/// Opens a pool of connections to the PostgreSQL database at `url` and
/// runs `prepare` on its first connection (the caller brings the schema
/// forward there: `database::migrate`, once, whichever instance comes first).
pub(crate) fn open_pg(
    url: &str,
    size: usize,
    runtime: &tokio::runtime::Handle,
    prepare: impl FnOnce(&Db<'_>) -> Result<(), String>,
) -> Result<deadpool_postgres::Pool, String> {
    use deadpool_postgres::{ManagerConfig, PoolConfig, RecyclingMethod, Runtime};
    let config: tokio_postgres::Config = url
        .parse()
        .map_err(|e: tokio_postgres::Error| format!("not a PostgreSQL URL: {e}"))?;
    let manager = deadpool_postgres::Manager::from_config(
        config,
        tokio_postgres::NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    let pool = deadpool_postgres::Pool::builder(manager)
        .config(PoolConfig::new(size.max(1)))
        .runtime(Runtime::Tokio1)
        .build()
        .map_err(|e| e.to_string())?;
    let client = runtime
        .block_on(pool.get())
        .map_err(|e| format!("cannot connect: {e}"))?;
    let client = PgClient::new(client, runtime.clone());
    prepare(&Db::Pg(&client))?;
    Ok(pool)
}

/// A statement's argument, borrowed from the caller.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Arg<'a> {
    Null,
    Int(i64),
    Text(&'a str),
    Blob(&'a [u8]),
}

/// What can be passed as an [`Arg`].
pub(crate) trait ToArg {
    fn to_arg(&self) -> Arg<'_>;
}

impl ToArg for str {
    fn to_arg(&self) -> Arg<'_> {
        Arg::Text(self)
    }
}
impl ToArg for String {
    fn to_arg(&self) -> Arg<'_> {
        Arg::Text(self)
    }
}
impl ToArg for [u8] {
    fn to_arg(&self) -> Arg<'_> {
        Arg::Blob(self)
    }
}
impl ToArg for Vec<u8> {
    fn to_arg(&self) -> Arg<'_> {
        Arg::Blob(self)
    }
}
impl ToArg for i64 {
    fn to_arg(&self) -> Arg<'_> {
        Arg::Int(*self)
    }
}
impl ToArg for u32 {
    fn to_arg(&self) -> Arg<'_> {
        Arg::Int(i64::from(*self))
    }
}
impl ToArg for u16 {
    fn to_arg(&self) -> Arg<'_> {
        Arg::Int(i64::from(*self))
    }
}
impl ToArg for bool {
    fn to_arg(&self) -> Arg<'_> {
        Arg::Int(i64::from(*self))
    }
}
impl<T: ToArg + ?Sized> ToArg for &T {
    fn to_arg(&self) -> Arg<'_> {
        (**self).to_arg()
    }
}
impl<T: ToArg> ToArg for Option<T> {
    fn to_arg(&self) -> Arg<'_> {
        self.as_ref().map_or(Arg::Null, ToArg::to_arg)
    }
}

/// A statement's arguments: `args![a, b]`.
macro_rules! args {
    ($($x:expr),* $(,)?) => {
        &[$($crate::store::ToArg::to_arg(&$x)),*][..]
    };
}
pub(crate) use args;

impl rusqlite::ToSql for Arg<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match *self {
            Arg::Null => ValueRef::Null,
            Arg::Int(i) => ValueRef::Integer(i),
            Arg::Text(s) => ValueRef::Text(s.as_bytes()),
            Arg::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

impl ToSql for Arg<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match *self {
            Arg::Null => Ok(IsNull::Yes),
            // The schema's integers are BIGINT; a narrower parameter (an
            // expression PostgreSQL typed itself) gets the value only if
            // it fits.
            Arg::Int(i) => match *ty {
                Type::INT4 => i32::try_from(i)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(i)?.to_sql(ty, out),
                Type::BOOL => (i != 0).to_sql(ty, out),
                _ => i.to_sql(ty, out),
            },
            Arg::Text(s) => s.to_sql(ty, out),
            Arg::Blob(b) => b.to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    tokio_postgres::types::to_sql_checked!();
}

/// One column's value, as both backends hold it.
#[derive(Debug, Clone)]
pub(crate) enum Value {
    Null,
    Int(i64),
    Text(String),
    Blob(Vec<u8>),
}

/// A row, read into values.
pub(crate) struct Row(Vec<Value>);

/// What a column can be read as.
pub(crate) trait FromValue: Sized {
    fn from_value(v: &Value) -> Option<Self>;
}

impl FromValue for i64 {
    fn from_value(v: &Value) -> Option<i64> {
        match v {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }
}
impl FromValue for u32 {
    fn from_value(v: &Value) -> Option<u32> {
        i64::from_value(v).and_then(|i| u32::try_from(i).ok())
    }
}
impl FromValue for u64 {
    fn from_value(v: &Value) -> Option<u64> {
        i64::from_value(v).and_then(|i| u64::try_from(i).ok())
    }
}
impl FromValue for u16 {
    fn from_value(v: &Value) -> Option<u16> {
        i64::from_value(v).and_then(|i| u16::try_from(i).ok())
    }
}
impl FromValue for bool {
    fn from_value(v: &Value) -> Option<bool> {
        i64::from_value(v).map(|i| i != 0)
    }
}
impl FromValue for String {
    fn from_value(v: &Value) -> Option<String> {
        match v {
            Value::Text(s) => Some(s.clone()),
            _ => None,
        }
    }
}
impl FromValue for Vec<u8> {
    fn from_value(v: &Value) -> Option<Vec<u8>> {
        match v {
            Value::Blob(b) => Some(b.clone()),
            _ => None,
        }
    }
}
impl<T: FromValue> FromValue for Option<T> {
    fn from_value(v: &Value) -> Option<Option<T>> {
        match v {
            Value::Null => Some(None),
            v => T::from_value(v).map(Some),
        }
    }
}

impl Row {
    /// Column `i` as a `T`; an error when it is missing or of another type
    /// (or out of `T`'s range).
    pub(crate) fn get<T: FromValue>(&self, i: usize) -> DbResult<T> {
        self.0
            .get(i)
            .and_then(T::from_value)
            .ok_or_else(|| DbError::Column(i, std::any::type_name::<T>()))
    }

    fn from_sqlite(r: &rusqlite::Row<'_>, columns: usize) -> DbResult<Row> {
        use rusqlite::types::ValueRef;
        let mut values = Vec::with_capacity(columns);
        for i in 0..columns {
            values.push(match r.get_ref(i)? {
                ValueRef::Null => Value::Null,
                ValueRef::Integer(n) => Value::Int(n),
                ValueRef::Real(_) => return Err(DbError::Column(i, "a number")),
                ValueRef::Text(t) => Value::Text(
                    std::str::from_utf8(t)
                        .map_err(|_| DbError::Column(i, "text"))?
                        .to_owned(),
                ),
                ValueRef::Blob(b) => Value::Blob(b.to_vec()),
            });
        }
        Ok(Row(values))
    }

    fn from_pg(r: &tokio_postgres::Row) -> DbResult<Row> {
        let mut values = Vec::with_capacity(r.len());
        for (i, column) in r.columns().iter().enumerate() {
            let value = match *column.type_() {
                Type::INT8 => r.try_get::<_, Option<i64>>(i)?.map(Value::Int),
                Type::INT4 => r
                    .try_get::<_, Option<i32>>(i)?
                    .map(|n| Value::Int(n.into())),
                Type::INT2 => r
                    .try_get::<_, Option<i16>>(i)?
                    .map(|n| Value::Int(n.into())),
                Type::BOOL => r
                    .try_get::<_, Option<bool>>(i)?
                    .map(|b| Value::Int(b.into())),
                Type::BYTEA => r.try_get::<_, Option<Vec<u8>>>(i)?.map(Value::Blob),
                _ => r.try_get::<_, Option<String>>(i)?.map(Value::Text),
            };
            values.push(value.unwrap_or(Value::Null));
        }
        Ok(Row(values))
    }
}

/// `sql` in PostgreSQL's spelling: numbered parameters `?N` become `$N`.
/// (The queries put no `?` inside a string literal.)
pub(crate) fn pg_sql(sql: &str) -> String {
    sql.replace('?', "$")
}

fn sqlite_params<'a>(args: &'a [Arg<'a>]) -> impl rusqlite::Params + 'a {
    rusqlite::params_from_iter(args.iter())
}

fn pg_params<'a>(args: &'a [Arg<'a>]) -> Vec<&'a (dyn ToSql + Sync)> {
    args.iter().map(|a| a as &(dyn ToSql + Sync)).collect()
}

/// The first row of one statement on a connection of `pool`, awaited on
/// the runtime itself: for a request whose whole database work is that
/// statement, no blocking thread (crate::seats::heartbeat).
pub(crate) async fn pg_row(
    pool: &deadpool_postgres::Pool,
    sql: &str,
    args: &[Arg<'_>],
) -> DbResult<Option<Row>> {
    let client = pool.get().await.map_err(|e| DbError::Pool(e.to_string()))?;
    let statement = client.prepare_cached(&pg_sql(sql)).await?;
    client
        .query_opt(&statement, &pg_params(args))
        .await?
        .as_ref()
        .map(Row::from_pg)
        .transpose()
}

impl Db<'_> {
    /// Every row of a query.
    pub(crate) fn rows(&self, sql: &str, args: &[Arg<'_>]) -> DbResult<Vec<Row>> {
        match self {
            Db::Sqlite(c) => {
                let mut statement = c.prepare_cached(sql)?;
                let columns = statement.column_count();
                let mut rows = statement.query(sqlite_params(args))?;
                let mut out = Vec::new();
                while let Some(r) = rows.next()? {
                    out.push(Row::from_sqlite(r, columns)?);
                }
                Ok(out)
            }
            Db::Pg(c) => c.wait(c.with_begin(async {
                let statement = c.client.prepare_cached(&pg_sql(sql)).await?;
                c.client
                    .query(&statement, &pg_params(args))
                    .await?
                    .iter()
                    .map(Row::from_pg)
                    .collect()
            })),
        }
    }

    /// The first row of a query, if any.
    pub(crate) fn row(&self, sql: &str, args: &[Arg<'_>]) -> DbResult<Option<Row>> {
        match self {
            Db::Sqlite(c) => {
                let mut statement = c.prepare_cached(sql)?;
                let columns = statement.column_count();
                let mut rows = statement.query(sqlite_params(args))?;
                rows.next()?
                    .map(|r| Row::from_sqlite(r, columns))
                    .transpose()
            }
            Db::Pg(c) => c.wait(c.with_begin(async {
                let statement = c.client.prepare_cached(&pg_sql(sql)).await?;
                c.client
                    .query_opt(&statement, &pg_params(args))
                    .await?
                    .as_ref()
                    .map(Row::from_pg)
                    .transpose()
            })),
        }
    }

    /// Runs a statement; the number of rows it changed.
    pub(crate) fn execute(&self, sql: &str, args: &[Arg<'_>]) -> DbResult<u64> {
        match self {
            Db::Sqlite(c) => Ok(c.prepare_cached(sql)?.execute(sqlite_params(args))? as u64),
            Db::Pg(c) => c.wait(c.with_begin(async {
                let statement = c.client.prepare_cached(&pg_sql(sql)).await?;
                Ok(c.client.execute(&statement, &pg_params(args)).await?)
            })),
        }
    }

    /// Runs statements that take no arguments (migrations).
    pub(crate) fn batch(&self, sql: &str) -> DbResult<()> {
        match self {
            Db::Sqlite(c) => Ok(c.execute_batch(sql)?),
            Db::Pg(c) => c.wait(c.with_begin(async { Ok(c.client.batch_execute(sql).await?) })),
        }
    }

    /// Begins a transaction: SQLite's `sqlite_begin` (`BEGIN IMMEDIATE`,
    /// `BEGIN EXCLUSIVE`), PostgreSQL's `BEGIN`, which goes out with the
    /// transaction's first statement.
    pub(crate) fn begin(&self, sqlite_begin: &str) -> DbResult<()> {
        match self {
            Db::Sqlite(c) => Ok(c.execute_batch(sqlite_begin)?),
            Db::Pg(c) => {
                c.begin_pending.set(true);
                Ok(())
            }
        }
    }

    /// Ends the transaction [`Db::begin`] opened: commits it, or rolls it
    /// back. (One that never sent a statement has nothing to end.)
    pub(crate) fn end(&self, commit: bool) -> DbResult<()> {
        let sql = if commit { "COMMIT" } else { "ROLLBACK" };
        match self {
            Db::Sqlite(c) => Ok(c.execute_batch(sql)?),
            Db::Pg(c) if c.begin_pending.replace(false) => Ok(()),
            Db::Pg(c) => c.wait(async { Ok(c.client.batch_execute(sql).await?) }),
        }
    }

    pub(crate) fn is_pg(&self) -> bool {
        matches!(self, Db::Pg(_))
    }
}

/// One row or none, through the statement cache.
pub(crate) fn one<T>(
    conn: &Db<'_>,
    sql: &str,
    args: &[Arg<'_>],
    map: impl FnOnce(&Row) -> DbResult<T>,
) -> DbResult<Option<T>> {
    conn.row(sql, args)?.as_ref().map(map).transpose()
}

/// Every row, through the statement cache.
pub(crate) fn all<T>(
    conn: &Db<'_>,
    sql: &str,
    args: &[Arg<'_>],
    map: impl FnMut(&Row) -> DbResult<T>,
) -> DbResult<Vec<T>> {
    conn.rows(sql, args)?.iter().map(map).collect()
}

/// Runs a statement through the cache; returns the rows changed.
pub(crate) fn exec(conn: &Db<'_>, sql: &str, args: &[Arg<'_>]) -> DbResult<u64> {
    conn.execute(sql, args)
}

pub(crate) fn exists(conn: &Db<'_>, sql: &str, args: &[Arg<'_>]) -> DbResult<bool> {
    Ok(one(conn, sql, args, |_| Ok(()))?.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_in_a_log_line_has_no_password() {
        assert_eq!(
            redacted("postgres://tessera:s3cret@db.example:5432/lic?sslmode=require"),
            "postgres://…@db.example:5432/lic?sslmode=require"
        );
        assert_eq!(redacted("/var/lib/tessera.db"), "/var/lib/tessera.db");
        assert_eq!(redacted("postgres://db/lic"), "postgres://db/lic");
    }

    #[test]
    fn parameters_are_renumbered_for_postgres() {
        assert_eq!(
            pg_sql("SELECT a FROM t WHERE b = ?1 AND c = ?12"),
            "SELECT a FROM t WHERE b = $1 AND c = $12"
        );
    }

    #[test]
    fn a_column_of_another_type_is_an_error_not_a_panic() {
        let row = Row(vec![Value::Int(-1), Value::Text("x".into()), Value::Null]);
        assert!(row.get::<u32>(0).is_err());
        assert!(row.get::<i64>(1).is_err());
        assert!(row.get::<String>(2).is_err());
        assert_eq!(row.get::<Option<String>>(2).ok(), Some(None));
        assert!(row.get::<i64>(3).is_err());
        assert_eq!(row.get::<i64>(0).ok(), Some(-1));
    }
}
