//! Reading table definitions from `information_schema`.
//!
//! Used at first start (the baseline of the schema history), for tables the binlog mentions that
//! history does not know, and as the fallback for DDL sluice cannot apply itself.
//!
//! `information_schema` states each column's effective character set
//! (`COLUMNS.CHARACTER_SET_NAME`, already resolved by the server from column, table and database
//! defaults) and the table's default collation (`TABLES.TABLE_COLLATION`, whose character set a
//! column added later without one inherits). [`charset_defaults`] reads the database and server
//! defaults that DDL seen in the binlog resolves against.

use mysql_async::prelude::Queryable;
use mysql_async::Conn;

use crate::charset::{self, Defaults};
use crate::error::MySqlError;
use crate::filters::Filters;
use crate::table::{parse_sql_type, ColumnDef, SqlType, TableDef, TableId};

const SYSTEM: &str = "('mysql','information_schema','performance_schema','sys')";

/// Definitions of all base tables the filters capture (or just `only`).
pub async fn load(
    conn: &mut Conn,
    filters: &Filters,
    only: Option<&TableId>,
    mariadb: bool,
) -> Result<Vec<TableDef>, MySqlError> {
    let scope = match only {
        Some(id) => format!(
            "c.TABLE_SCHEMA = '{}' AND c.TABLE_NAME = '{}'",
            escape(&id.db),
            escape(&id.table)
        ),
        None => format!("c.TABLE_SCHEMA NOT IN {SYSTEM}"),
    };
    type Row = (
        String,
        String,
        String,
        String,
        String,
        Option<String>,
        Option<String>,
    );
    let rows: Vec<Row> = conn
        .query(format!(
            "SELECT c.TABLE_SCHEMA, c.TABLE_NAME, c.COLUMN_NAME, c.IS_NULLABLE, c.COLUMN_TYPE, c.CHARACTER_SET_NAME, t.TABLE_COLLATION \
             FROM information_schema.COLUMNS c JOIN information_schema.TABLES t \
               ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME \
             WHERE t.TABLE_TYPE = 'BASE TABLE' AND {scope} \
             ORDER BY c.TABLE_SCHEMA, c.TABLE_NAME, c.ORDINAL_POSITION"
        ))
        .await
        .map_err(MySqlError::query)?;
    let keys: Vec<(String, String, String)> = conn
        .query(format!(
            "SELECT c.TABLE_SCHEMA, c.TABLE_NAME, c.COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE c \
             WHERE c.CONSTRAINT_NAME = 'PRIMARY' AND {scope} \
             ORDER BY c.TABLE_SCHEMA, c.TABLE_NAME, c.ORDINAL_POSITION"
        ))
        .await
        .map_err(MySqlError::query)?;
    let mut tables: Vec<TableDef> = Vec::new();
    for (db, table, name, nullable, column_type, charset, collation) in rows {
        if !filters.table(&db, &table) {
            continue;
        }
        if tables
            .last()
            .is_none_or(|t| t.id.db != db || t.id.table != table)
        {
            tables.push(TableDef {
                id: TableId::new(db.clone(), table.clone()),
                columns: Vec::new(),
                primary_key: Vec::new(),
                default_charset: collation.as_deref().and_then(charset::of_collation),
            });
        }
        let mut ty = parse_sql_type(&column_type);
        if mariadb && ty == SqlType::Json {
            ty = SqlType::Text;
        }
        if let Some(t) = tables.last_mut() {
            t.columns.push(ColumnDef {
                name,
                ty,
                nullable: nullable.eq_ignore_ascii_case("YES"),
                charset,
            });
        }
    }
    for (db, table, column) in keys {
        if let Some(t) = tables
            .iter_mut()
            .find(|t| t.id.db == db && t.id.table == table)
        {
            t.primary_key.push(column);
        }
    }
    Ok(tables)
}

/// One table's definition, if it exists.
pub async fn load_one(
    conn: &mut Conn,
    id: &TableId,
    mariadb: bool,
) -> Result<Option<TableDef>, MySqlError> {
    let everything = Filters::everything(crate::filters::NAMESPACE);
    Ok(load(conn, &everything, Some(id), mariadb).await?.pop())
}

/// The server's `character_set_server` and every database's default character set.
pub async fn charset_defaults(conn: &mut Conn) -> Result<Defaults, MySqlError> {
    let server: Option<String> = conn
        .query_first("SELECT @@GLOBAL.character_set_server")
        .await
        .map_err(MySqlError::query)?;
    let databases: Vec<(String, String)> = conn
        .query("SELECT SCHEMA_NAME, DEFAULT_CHARACTER_SET_NAME FROM information_schema.SCHEMATA")
        .await
        .map_err(MySqlError::query)?;
    let mut d = Defaults::default();
    if let Some(s) = server {
        d.server = charset::resolve(Some(&s), None, &d.server);
    }
    for (db, cs) in databases {
        let cs = charset::resolve(Some(&cs), None, &d.server);
        d.set_database(&db, Some(cs));
    }
    Ok(d)
}

/// Collation id → character set name, as the server numbers them (query events name the
/// client's character set by a collation id).
pub async fn collation_charsets(
    conn: &mut Conn,
) -> Result<std::collections::HashMap<u16, String>, MySqlError> {
    let rows: Vec<(Option<u64>, Option<String>)> = conn
        .query("SELECT ID, CHARACTER_SET_NAME FROM information_schema.COLLATIONS")
        .await
        .map_err(MySqlError::query)?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, cs)| Some((u16::try_from(id?).ok()?, cs?)))
        .collect())
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\'', "''")
}
