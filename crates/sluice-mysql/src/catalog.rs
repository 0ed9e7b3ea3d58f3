//! Reading table definitions from `information_schema`.
//!
//! Used at first start (the baseline of the schema history), for tables the binlog mentions that
//! history does not know, and as the fallback for DDL sluice cannot apply itself.

use mysql_async::prelude::Queryable;
use mysql_async::Conn;

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
    let rows: Vec<(String, String, String, String, String, Option<String>)> = conn
        .query(format!(
            "SELECT c.TABLE_SCHEMA, c.TABLE_NAME, c.COLUMN_NAME, c.IS_NULLABLE, c.COLUMN_TYPE, c.CHARACTER_SET_NAME \
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
    for (db, table, name, nullable, column_type, charset) in rows {
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

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\'', "''")
}
