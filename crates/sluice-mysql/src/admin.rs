//! Operator tools on offsets: where a connector is, and checking a position before moving there.
//!
//! Positions are validated on the server: the binlog file must still exist and the position must
//! be the start of an event (`SHOW BINLOG EVENTS IN … FROM … LIMIT 1` fails otherwise), so an
//! operator cannot point a connector into the middle of an event or at a purged file.

use crate::position::BinlogPosition;
use mysql_async::prelude::Queryable;

use crate::config::MySqlConfig;
use crate::error::MySqlError;
use crate::history::cmp_position;
use crate::preflight;

/// A connector's position compared with the server's.
#[derive(Debug, Clone)]
pub struct Lag {
    pub server_file: String,
    pub server_pos: u64,
    /// Binlog bytes between the connector's position and the server's end.
    pub bytes_behind: u64,
    /// Whether the connector's binlog file is still on the server.
    pub file_exists: bool,
}

/// Compares `at` with the server's current binlog end.
pub async fn lag(cfg: &MySqlConfig, at: &BinlogPosition) -> Result<Lag, MySqlError> {
    let mut conn = preflight::connect(cfg).await?;
    let (server_file, server_pos) = preflight::current_position(&mut conn).await?;
    let logs: Vec<(String, u64)> = conn
        .query::<mysql_async::Row, _>("SHOW BINARY LOGS")
        .await
        .map_err(MySqlError::query)?
        .into_iter()
        .filter_map(|r| Some((r.get::<String, _>(0)?, r.get::<u64, _>(1)?)))
        .collect();
    let file_exists = logs.iter().any(|(f, _)| f.as_str() == at.file.as_ref());
    let mut bytes_behind = 0u64;
    if file_exists {
        for (f, size) in &logs {
            match cmp_position(f, 0, &at.file, 0) {
                std::cmp::Ordering::Less => {}
                std::cmp::Ordering::Equal => {
                    let end = if f == &server_file { server_pos } else { *size };
                    bytes_behind += end.saturating_sub(at.pos);
                }
                std::cmp::Ordering::Greater => {
                    bytes_behind += if f == &server_file { server_pos } else { *size };
                }
            }
        }
    }
    Ok(Lag {
        server_file,
        server_pos,
        bytes_behind,
        file_exists,
    })
}

/// Checks that (`file`, `pos`) can be streamed from; returns the server id of this server.
pub async fn validate(cfg: &MySqlConfig, file: &str, pos: u64) -> Result<u32, MySqlError> {
    let mut conn = preflight::connect(cfg).await?;
    let files = preflight::binlog_files(&mut conn).await?;
    if !files.iter().any(|f| f == file) {
        return Err(MySqlError::PositionPurged {
            file: file.to_string(),
            pos,
        });
    }
    let escaped = file.replace('\\', "\\\\").replace('\'', "''");
    if let Err(e) = conn
        .query_drop(format!(
            "SHOW BINLOG EVENTS IN '{escaped}' FROM {pos} LIMIT 1"
        ))
        .await
    {
        return Err(MySqlError::Config(format!(
            "{file}:{pos} is not the start of a binlog event ({e}); use a position from SHOW BINLOG EVENTS or mariadb-binlog"
        )));
    }
    let server_id: Option<u32> = conn
        .query_first("SELECT @@server_id")
        .await
        .map_err(MySqlError::query)?;
    Ok(server_id.unwrap_or(0))
}

/// Inserts a Debezium signal row (`execute-snapshot`, `stop-snapshot`, `pause-snapshot`,
/// `resume-snapshot`) into the connector's `signal.data.collection`; the running connector
/// acts on it when it reads it from the binlog. Returns the signal id.
pub async fn send_signal(
    cfg: &MySqlConfig,
    kind: &str,
    tables: &[String],
) -> Result<String, MySqlError> {
    let signal = cfg.signal_table.as_ref().ok_or_else(|| {
        MySqlError::Config(
            "signal.data.collection is not set: create a signal table (id VARCHAR(42) PRIMARY KEY, type VARCHAR(32), data VARCHAR(2048)) and name it in the connector config".into(),
        )
    })?;
    let mut conn = preflight::connect(cfg).await?;
    let s = sluice_cdc::incremental::Signal::from_cli(kind, tables);
    let sql = format!(
        "INSERT INTO `{}`.`{}` (id, type, data) VALUES (?, ?, ?)",
        signal.db.replace('`', "``"),
        signal.table.replace('`', "``")
    );
    conn.exec_drop(sql, (s.id.as_str(), s.kind.as_str(), s.data.as_str()))
        .await
        .map_err(|e| MySqlError::Query(format!("cannot write to the signal table {signal}: {e} (the connector user needs INSERT on it)")))?;
    Ok(s.id)
}
