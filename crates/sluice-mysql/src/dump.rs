//! Opening the binlog dump at a stored position.
//!
//! On the server the offset was taken on, the dump starts at the offset's file/position. When
//! a different server answers (`@@server_id` is not the offset's: a failover moved
//! `database.hostname` to another primary), that file/position means something else there, so
//! the dump starts from the offset's GTID set instead (MariaDB: `@slave_connect_state`; the
//! server skips every transaction in the set). Without a GTID set the connector refuses to
//! guess.

use crate::position::BinlogPosition;
use mysql_async::prelude::Queryable;
use mysql_async::{BinlogStream, BinlogStreamRequest};
use tracing::warn;

use crate::config::MySqlConfig;
use crate::error::MySqlError;
use crate::preflight;

/// Opens the binlog stream at `from`: by file/position on the server the offset was taken
/// on, by GTID set when the server changed (a failover moved `database.hostname` to another
/// primary). Returns whether the stream starts by GTID.
pub(crate) async fn open(
    cfg: &MySqlConfig,
    mariadb: bool,
    from: &BinlogPosition,
) -> Result<(BinlogStream, bool), MySqlError> {
    let mut c = preflight::connect(cfg).await?;
    let stream_err = |e: mysql_async::Error| MySqlError::Stream(e.to_string());
    c.query_drop(format!(
        "SET @master_heartbeat_period = {}",
        cfg.heartbeat_period.as_nanos()
    ))
    .await
    .map_err(stream_err)?;
    if mariadb {
        c.query_drop("SET @mariadb_slave_capability = 4")
            .await
            .map_err(stream_err)?;
    }
    let server_id: u32 = c
        .query_first("SELECT @@server_id")
        .await
        .map_err(stream_err)?
        .unwrap_or(0);
    let by_gtid = from.server_id != 0 && server_id != from.server_id;
    let mut req = BinlogStreamRequest::new(cfg.server_id)
        .with_filename(from.file.as_bytes())
        .with_pos(from.pos);
    if by_gtid {
        let gtids = from
            .gtids
            .as_deref()
            .filter(|g| !g.trim().is_empty())
            .ok_or_else(|| MySqlError::ServerChanged {
                addr: cfg.addr(),
                was: from.server_id,
                now: server_id,
            })?;
        if !mariadb {
            return Err(MySqlError::Config(format!(
                "the server changed (server_id {} → {server_id}); resuming a MySQL connector by GTID set is not implemented yet: move the offset with sluice offsets set --binlog",
                from.server_id
            )));
        }
        warn!(
            was = from.server_id, now = server_id, gtids,
            "different server behind database.hostname (failover?): resuming from the GTID set, not the old file/position"
        );
        // MariaDB: a dump with @slave_connect_state starts after these GTIDs, per domain,
        // ignoring the file/position of the request
        c.query_drop(format!(
            "SET @slave_connect_state = '{}'",
            gtids.replace('\'', "")
        ))
        .await
        .map_err(stream_err)?;
        c.query_drop("SET @slave_gtid_strict_mode = 0")
            .await
            .map_err(stream_err)?;
        req = BinlogStreamRequest::new(cfg.server_id).with_pos(4);
    }
    let stream = c.get_binlog_stream(req).await.map_err(|e| match e {
        mysql_async::Error::Server(s) if s.code == 1236 && by_gtid => MySqlError::Stream(format!(
            "the new server cannot continue from GTID set {}: {} (is it missing transactions the old primary had, or were its binlogs purged?)",
            from.gtids.as_deref().unwrap_or_default(), s.message
        )),
        mysql_async::Error::Server(s) if s.code == 1236 => MySqlError::PositionPurged {
            file: from.file.to_string(),
            pos: from.pos,
        },
        other => MySqlError::Stream(other.to_string()),
    })?;
    Ok((stream, by_gtid))
}
