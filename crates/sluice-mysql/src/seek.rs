//! Binlog positions of a point in time (`sluice offsets set --timestamp`) and of a GTID set
//! (`--gtid`).
//!
//! GTID set (MariaDB): a non-blocking dump with `@slave_connect_state` = the set makes the
//! server itself skip every transaction in the set; the first transaction it sends is where the
//! connector resumes.
//!
//! Time:
//! Event headers carry the second their statement started, and the first event of every binlog
//! file (FORMAT_DESCRIPTION) the second the file was opened, so files are ordered in time. The
//! search:
//! 1. binary search over `SHOW BINARY LOGS` by each file's first-event time for the last file
//!    opened before the target second (earlier files hold only older events);
//! 2. scan from that file on for the first transaction whose GTID event (every transaction of
//!    MariaDB and of MySQL, anonymous or not, starts with one) is at or after the target.
//!
//! The result is a transaction boundary, so the connector replays whole transactions: exactly
//! those that started at or after the target second. A target after the last event gives the
//! current end of the binlog (nothing to replay).

use futures_util::StreamExt;
use mysql_async::prelude::Queryable;
use mysql_async::{BinlogStream, BinlogStreamRequest};

use crate::config::MySqlConfig;
use crate::error::MySqlError;
use crate::events::{self, kind};
use crate::preflight;

/// Where the first transaction at or after a time starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimePosition {
    pub file: String,
    pub pos: u64,
    /// Start second of that transaction (`None`: no transaction at or after the target).
    pub event_ts: Option<u32>,
}

async fn open(cfg: &MySqlConfig, file: &str) -> Result<BinlogStream, MySqlError> {
    open_at(cfg, file, None).await
}

async fn open_at(
    cfg: &MySqlConfig,
    file: &str,
    gtids: Option<&str>,
) -> Result<BinlogStream, MySqlError> {
    let mut conn = preflight::connect(cfg).await?;
    if let Some(g) = gtids {
        conn.query_drop(format!(
            "SET @slave_connect_state = '{}'",
            g.replace('\'', "")
        ))
        .await
        .map_err(MySqlError::query)?;
    }
    // MariaDB sends its GTID events only to replicas that say they understand them (else it
    // rewrites them as BEGIN); a MySQL server ignores the variable
    conn.query_drop("SET @mariadb_slave_capability = 4")
        .await
        .map_err(MySqlError::query)?;
    let req = BinlogStreamRequest::new(cfg.server_id)
        .with_filename(file.as_bytes())
        .with_pos(4u64)
        .with_non_blocking();
    conn.get_binlog_stream(req)
        .await
        .map_err(|e| MySqlError::Stream(format!("reading {file}: {e}")))
}

/// The second `file` was opened (its FORMAT_DESCRIPTION event's time).
async fn file_start(cfg: &MySqlConfig, file: &str) -> Result<u32, MySqlError> {
    let mut stream = open(cfg, file).await?;
    while let Some(ev) = stream.next().await {
        let ev = ev.map_err(|e| MySqlError::Stream(e.to_string()))?;
        let h = ev.header();
        if h.flags_raw() & events::LOG_EVENT_ARTIFICIAL == 0
            && h.log_pos() != 0
            && h.timestamp() != 0
        {
            return Ok(h.timestamp());
        }
    }
    Err(MySqlError::Stream(format!("{file} has no events")))
}

/// Finds the first transaction starting at or after `ts` (seconds since the epoch).
pub async fn position_at(cfg: &MySqlConfig, ts: u32) -> Result<TimePosition, MySqlError> {
    let mut conn = preflight::connect(cfg).await?;
    let files = preflight::binlog_files(&mut conn).await?;
    let (end_file, end_pos) = preflight::current_position(&mut conn).await?;
    if files.is_empty() {
        return Err(MySqlError::Preflight(
            "the server lists no binary logs".into(),
        ));
    }
    // the last file opened before ts (a file opened in the target second itself may follow one
    // holding earlier transactions of that second); the first file if none is older
    let (mut lo, mut hi) = (0usize, files.len() - 1);
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if file_start(cfg, &files[mid]).await? < ts {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    let stream = open(cfg, &files[lo]).await?;
    let found = first_transaction(
        stream,
        files[lo].clone(),
        |ts_of| ts_of >= ts,
        |e| MySqlError::Stream(e.to_string()),
    )
    .await?;
    Ok(found.unwrap_or(TimePosition {
        file: end_file,
        pos: end_pos,
        event_ts: None,
    }))
}

/// Reads `stream` (starting in binlog `file`) up to the first transaction — its GTID event —
/// whose start second satisfies `wanted`; `None` at the end of the binlog.
async fn first_transaction(
    mut stream: BinlogStream,
    mut file: String,
    wanted: impl Fn(u32) -> bool,
    read_error: impl Fn(mysql_async::Error) -> MySqlError,
) -> Result<Option<TimePosition>, MySqlError> {
    while let Some(ev) = stream.next().await {
        let ev = ev.map_err(&read_error)?;
        let h = ev.header();
        let etype = h.event_type_raw();
        if etype == kind::ROTATE {
            file = events::rotate_target(&ev).map_err(MySqlError::Stream)?.0;
            continue;
        }
        if h.flags_raw() & events::LOG_EVENT_ARTIFICIAL != 0 || h.log_pos() == 0 {
            continue;
        }
        let gtid = matches!(
            etype,
            kind::MARIADB_GTID | kind::MYSQL_GTID | kind::MYSQL_ANONYMOUS_GTID
        );
        if gtid && wanted(h.timestamp()) {
            let end = u64::from(h.log_pos());
            return Ok(Some(TimePosition {
                file,
                pos: end - u64::from(h.event_size()),
                event_ts: Some(h.timestamp()),
            }));
        }
    }
    Ok(None)
}

/// Where the first transaction not in `gtids` starts (MariaDB `domain-server-seq` list).
pub async fn position_after_gtids(
    cfg: &MySqlConfig,
    gtids: &str,
) -> Result<TimePosition, MySqlError> {
    let mut conn = preflight::connect(cfg).await?;
    let version: String = conn
        .query_first("SELECT @@version")
        .await
        .map_err(MySqlError::query)?
        .unwrap_or_default();
    if !version.contains("MariaDB") {
        return Err(MySqlError::Config(
            "--gtid is implemented for MariaDB GTIDs only; on MySQL use --binlog or --timestamp"
                .into(),
        ));
    }
    let (end_file, end_pos) = preflight::current_position(&mut conn).await?;
    let stream = open_at(cfg, "", Some(gtids)).await.map_err(|e| {
        MySqlError::Config(format!(
            "the server cannot start from GTID set {gtids}: {e} (are those GTIDs in its binlogs, or purged?)"
        ))
    })?;
    // the server skips every transaction in the set: the first one it sends is the answer
    let found = first_transaction(
        stream,
        String::new(),
        |_| true,
        |e| {
            MySqlError::Config(format!(
                "the server cannot start from GTID set {gtids}: {e}"
            ))
        },
    )
    .await?;
    Ok(found.unwrap_or(TimePosition {
        file: end_file,
        pos: end_pos,
        event_ts: None,
    }))
}
