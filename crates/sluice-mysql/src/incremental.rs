//! The MySQL side of incremental snapshots: watermark rows and chunk reads. The signal handling
//! and the window bookkeeping are [`sluice_core::incremental`]'s (its module doc has the
//! algorithm); here a chunk is a `SELECT … WHERE key > last ORDER BY key LIMIT n` in autocommit
//! between two watermark inserts into the signal table.

use std::sync::Arc;

use mysql_async::prelude::Queryable;
use mysql_async::Conn;
pub use sluice_cdc::incremental::{Incremental, Next, Signal};
use sluice_core::Value;
use tracing::warn;

use crate::error::MySqlError;
use crate::mapping::TableSchemas;
use crate::table::TableId;

/// Writes the low watermark, selects the next chunk of the current table, writes the high
/// watermark. Tables that vanished or lack a primary key are skipped with a warning.
pub async fn open_chunk(
    inc: &mut Incremental,
    conn: &mut Conn,
    signal_table: &TableId,
    chunk: usize,
    lookup: &dyn Fn(&str) -> Option<Arc<TableSchemas>>,
) -> Result<(), MySqlError> {
    while let Some(next) = inc.current() {
        let name = next.table.to_string();
        let Some(t) = lookup(&name).filter(|t| t.key.is_some()) else {
            warn!(table = %name, "incremental snapshot needs a captured table with a primary key; skipped");
            inc.skip_current();
            continue;
        };
        let sql = format!(
            "{} LIMIT {chunk}",
            crate::snapshot::select_sql(&t, next.after, None, next.condition)
        );
        let id = inc.next_window_id();
        let table = format!(
            "`{}`.`{}`",
            signal_table.db.replace('`', "``"),
            signal_table.table.replace('`', "``")
        );
        let watermark = |suffix: &str, kind: &str| {
            format!("INSERT INTO {table} (id, type, data) VALUES ('{id}-{suffix}', '{kind}', '{{\"table\":\"{}\"}}')",
                name.replace(['\'', '"', '\\'], ""))
        };
        let q = |e: mysql_async::Error| {
            MySqlError::Query(format!(
                "incremental snapshot watermark in {signal_table}: {e} (the connector user needs INSERT on the signal table)"
            ))
        };
        conn.query_drop(watermark("open", "snapshot-window-open"))
            .await
            .map_err(q)?;
        let mut rows = Vec::new();
        let mut last_key = None;
        let result: Vec<mysql_async::Row> = conn.exec(sql, ()).await.map_err(MySqlError::query)?;
        for row in result {
            let values = row.unwrap();
            last_key = Some(
                t.key_fields
                    .iter()
                    .map(|&i| values[i].as_sql(false))
                    .collect(),
            );
            let mut converted = Vec::with_capacity(values.len());
            for (v, plan) in values.into_iter().zip(&t.columns) {
                let col = &t.def.columns[plan.table_index];
                converted.push(
                    crate::query_values::convert(v, &plan.conv, col.nullable).map_err(|m| {
                        MySqlError::Decode {
                            file: format!("incremental snapshot of {name}"),
                            pos: 0,
                            message: format!("column `{}`: {m}", col.name),
                        }
                    })?,
                );
            }
            let key: Vec<Value> = t.key_fields.iter().map(|&i| converted[i].clone()).collect();
            rows.push((key, converted));
        }
        let full = rows.len() >= chunk;
        conn.query_drop(watermark("close", "snapshot-window-close"))
            .await
            .map_err(q)?;
        inc.open_window(id, rows, last_key, full);
        return Ok(());
    }
    Ok(())
}
