//! One connection pool per target database (sqlx), the statements the sink runs, and the
//! classification of database errors into "retry" (the connection) and "this record" (a
//! constraint or a value the column refuses).

use sluice_core::{ErrorClass, Retryable};
use sqlx::{MySql, Postgres, Sqlite};

use crate::dialect::{Dialect, Param, TableName};

type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;
use crate::url::Target;

/// Errors of the JDBC crate.
#[derive(Debug, thiserror::Error)]
pub enum JdbcError {
    #[error("cannot connect to {target}: {message} (check connection.url, user and password)")]
    Connect { target: String, message: String },
    /// The database refused a value or a constraint (NOT NULL, type, length).
    #[error("{0}")]
    Data(String),
    #[error("{0}")]
    Schema(String),
    #[error("database error: {0}")]
    Db(String),
}

impl Retryable for JdbcError {
    fn class(&self) -> ErrorClass {
        match self {
            JdbcError::Connect { .. } | JdbcError::Db(_) => ErrorClass::Retryable,
            _ => ErrorClass::Fatal,
        }
    }
}

/// Sorts a sqlx error: data and constraint errors belong to a record, the rest to the link.
fn classify(e: sqlx::Error) -> JdbcError {
    match &e {
        sqlx::Error::Database(d) => {
            let code = d.code().map(|c| c.to_string()).unwrap_or_default();
            let data = code.starts_with("22") // PostgreSQL data exception
                || code.starts_with("23") // PostgreSQL integrity constraint
                || code.starts_with("42") // PostgreSQL syntax / undefined column (a schema problem)
                || ["1048", "1062", "1264", "1292", "1366", "1406", "1452", "1054", "1146", "3140"].contains(&code.as_str())
                || d.message().contains("constraint failed")
                || d.message().contains("datatype mismatch")
                || d.message().contains("has no column");
            if data {
                JdbcError::Data(format!("{} (code {code})", d.message()))
            } else {
                JdbcError::Db(d.message().to_string())
            }
        }
        _ => JdbcError::Db(e.to_string()),
    }
}

/// A connection pool of one dialect.
#[derive(Clone)]
pub enum Pool {
    Pg(sqlx::PgPool),
    My(sqlx::MySqlPool),
    Lite(sqlx::SqlitePool),
}

/// An open transaction.
pub enum Tx {
    Pg(sqlx::Transaction<'static, Postgres>),
    My(sqlx::Transaction<'static, MySql>),
    Lite(sqlx::Transaction<'static, Sqlite>),
}

macro_rules! bind_all {
    ($q:expr, $params:expr) => {{
        let mut q = $q;
        for p in $params {
            q = match p {
                Param::Null => q.bind(None::<String>),
                Param::Text(t) => q.bind(t.as_str()),
                Param::Bytes(b) => q.bind(b.as_slice()),
                Param::TextArray(_) | Param::BytesArray(_) => {
                    unreachable!("array parameters are only built for PostgreSQL")
                }
            };
        }
        q
    }};
}

macro_rules! bind_pg {
    ($q:expr, $params:expr) => {{
        let mut q = $q;
        for p in $params {
            q = match p {
                Param::Null => q.bind(None::<String>),
                Param::Text(t) => q.bind(t.as_str()),
                Param::Bytes(b) => q.bind(b.as_slice()),
                Param::TextArray(a) => q.bind(a.as_slice()),
                Param::BytesArray(a) => q.bind(a.as_slice()),
            };
        }
        q
    }};
}

impl Pool {
    pub async fn connect(target: &Target, size: u32) -> Result<Pool, JdbcError> {
        let err = |e: sqlx::Error| JdbcError::Connect {
            target: target.display.clone(),
            message: e.to_string(),
        };
        let n = size.max(1);
        Ok(match target.dialect {
            Dialect::Postgres => Pool::Pg(
                sqlx::pool::PoolOptions::<Postgres>::new()
                    .max_connections(n)
                    .connect(&target.url)
                    .await
                    .map_err(err)?,
            ),
            Dialect::MySql => Pool::My(
                sqlx::pool::PoolOptions::<MySql>::new()
                    .max_connections(n)
                    .connect(&target.url)
                    .await
                    .map_err(err)?,
            ),
            Dialect::Sqlite => Pool::Lite(
                sqlx::pool::PoolOptions::<Sqlite>::new()
                    .max_connections(n)
                    .connect(&target.url)
                    .await
                    .map_err(err)?,
            ),
        })
    }

    pub fn dialect(&self) -> Dialect {
        match self {
            Pool::Pg(_) => Dialect::Postgres,
            Pool::My(_) => Dialect::MySql,
            Pool::Lite(_) => Dialect::Sqlite,
        }
    }

    /// Runs one statement outside a transaction (DDL).
    pub async fn execute(&self, sql: &str) -> Result<(), JdbcError> {
        let r = match self {
            Pool::Pg(p) => sqlx::raw_sql(sql).execute(p).await.map(|_| ()),
            Pool::My(p) => sqlx::raw_sql(sql).execute(p).await.map(|_| ()),
            Pool::Lite(p) => sqlx::raw_sql(sql).execute(p).await.map(|_| ()),
        };
        r.map_err(classify)
    }

    pub async fn begin(&self) -> Result<Tx, JdbcError> {
        Ok(match self {
            Pool::Pg(p) => Tx::Pg(p.begin().await.map_err(classify)?),
            Pool::My(p) => Tx::My(p.begin().await.map_err(classify)?),
            Pool::Lite(p) => Tx::Lite(p.begin().await.map_err(classify)?),
        })
    }

    /// The columns (name, database type) of a table, `None` if it does not exist.
    pub async fn columns(&self, t: &TableName) -> Result<Option<Vec<(String, String)>>, JdbcError> {
        let rows: Vec<(String, String)> = match self {
            Pool::Pg(p) => sqlx::query_as(
                "SELECT a.attname::text, pg_catalog.format_type(a.atttypid, a.atttypmod)
                 FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON a.attrelid = c.oid
                 JOIN pg_catalog.pg_namespace n ON c.relnamespace = n.oid
                 WHERE c.relname = $1 AND n.nspname = COALESCE($2, current_schema())
                   AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
                 ORDER BY a.attnum",
            )
            .bind(&t.table)
            .bind(t.schema.as_deref())
            .fetch_all(p)
            .await
            .map_err(classify)?,
            Pool::My(p) => sqlx::query_as(
                "SELECT CAST(COLUMN_NAME AS CHAR), CAST(COLUMN_TYPE AS CHAR) FROM information_schema.COLUMNS
                 WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
            )
            .bind(t.schema.as_deref())
            .bind(&t.table)
            .fetch_all(p)
            .await
            .map_err(classify)?,
            Pool::Lite(p) => sqlx::query_as("SELECT name, type FROM pragma_table_info(?)")
                .bind(&t.table)
                .fetch_all(p)
                .await
                .map_err(classify)?,
        };
        Ok((!rows.is_empty()).then_some(rows))
    }
}

impl Tx {
    /// Runs one statement with its parameters; the rows it affected. (A boxed future: sqlx's
    /// executor lifetimes otherwise keep the caller's future from being `Send`.)
    pub fn exec<'a>(
        &'a mut self,
        sql: &'a str,
        params: &'a [Param],
    ) -> BoxFuture<'a, Result<u64, JdbcError>> {
        Box::pin(async move { self.exec_inner(sql, params).await })
    }

    async fn exec_inner(&mut self, sql: &str, params: &[Param]) -> Result<u64, JdbcError> {
        let r = match self {
            Tx::Pg(t) => bind_pg!(sqlx::query(sql), params)
                .execute(&mut **t)
                .await
                .map(|r| r.rows_affected()),
            Tx::My(t) => bind_all!(sqlx::query(sql), params)
                .execute(&mut **t)
                .await
                .map(|r| r.rows_affected()),
            Tx::Lite(t) => bind_all!(sqlx::query(sql), params)
                .execute(&mut **t)
                .await
                .map(|r| r.rows_affected()),
        };
        r.map_err(classify)
    }

    /// A statement without parameters (savepoints).
    pub fn raw<'a>(&'a mut self, sql: &'a str) -> BoxFuture<'a, Result<(), JdbcError>> {
        Box::pin(async move { self.raw_inner(sql).await })
    }

    async fn raw_inner(&mut self, sql: &str) -> Result<(), JdbcError> {
        use sqlx::Executor;
        let r = match self {
            Tx::Pg(t) => (&mut **t).execute(sql).await.map(|_| ()),
            Tx::My(t) => (&mut **t).execute(sql).await.map(|_| ()),
            Tx::Lite(t) => (&mut **t).execute(sql).await.map(|_| ()),
        };
        r.map_err(classify)
    }

    pub async fn commit(self) -> Result<(), JdbcError> {
        match self {
            Tx::Pg(t) => t.commit().await,
            Tx::My(t) => t.commit().await,
            Tx::Lite(t) => t.commit().await,
        }
        .map_err(classify)
    }
}

/// One value of a query result: SQL NULL, text (PostgreSQL and MySQL text protocol, SQLite
/// text affinity), or bytes (binary columns).
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Text(String),
    Bytes(Vec<u8>),
}

/// A query result: `(name, type name)` per column, and the rows.
pub type TextRows = (Vec<(String, String)>, Vec<Vec<Cell>>);

/// Whether a column type holds bytes (read as bytes, not text).
pub fn is_binary_type(type_name: &str) -> bool {
    let t = type_name.to_ascii_uppercase();
    t == "BYTEA" || t.contains("BLOB") || t.contains("BINARY")
}

macro_rules! text_rows {
    ($rows:expr) => {{
        use sqlx::{Column, Row, TypeInfo};
        let rows = $rows;
        let columns: Vec<(String, String)> = rows
            .first()
            .map(|r| {
                r.columns()
                    .iter()
                    .map(|c| (c.name().to_string(), c.type_info().name().to_string()))
                    .collect()
            })
            .unwrap_or_default();
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let mut cells = Vec::with_capacity(columns.len());
            for (i, (_, ty)) in columns.iter().enumerate() {
                let cell = if is_binary_type(ty) {
                    r.try_get_unchecked::<Option<Vec<u8>>, _>(i)
                        .map(|v| v.map_or(Cell::Null, Cell::Bytes))
                } else {
                    r.try_get_unchecked::<Option<String>, _>(i)
                        .map(|v| v.map_or(Cell::Null, Cell::Text))
                };
                cells.push(cell.map_err(classify)?);
            }
            out.push(cells);
        }
        (columns, out)
    }};
}

impl Pool {
    /// Runs a query with the simple (text) protocol and returns every value as text or bytes.
    pub async fn query_text(&self, sql: &str) -> Result<TextRows, JdbcError> {
        Ok(match self {
            Pool::Pg(p) => text_rows!(sqlx::raw_sql(sql).fetch_all(p).await.map_err(classify)?),
            Pool::My(p) => text_rows!(sqlx::raw_sql(sql).fetch_all(p).await.map_err(classify)?),
            Pool::Lite(p) => text_rows!(sqlx::raw_sql(sql).fetch_all(p).await.map_err(classify)?),
        })
    }
}
