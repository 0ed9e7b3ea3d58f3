//! Operator commands on a PostgreSQL connector's position: where the slot and the server are
//! (`sluice offsets show`) and checking an LSN before it becomes the offset (`sluice offsets set
//! --lsn`).
//!
//! A logical slot never goes back: the server streams from the later of the requested LSN and
//! the slot's `confirmed_flush_lsn`, so a new offset before that point would silently resume at
//! it. Moving forward skips every transaction that commits before the new LSN.

pub use pgwire_replication::Lsn;
use sqlx::Row;

use crate::config::PgConfig;
use crate::error::{sql, PgError};

/// The server's view of the connector's slot.
#[derive(Debug, Clone, PartialEq)]
pub struct SlotState {
    /// `None`: the slot does not exist.
    pub confirmed_flush: Option<u64>,
    pub restart: Option<u64>,
    pub active: bool,
    /// `pg_current_wal_insert_lsn()`: where the server writes WAL now (with
    /// `synchronous_commit=off`, `pg_current_wal_lsn()` lags behind committed transactions).
    pub server: u64,
}

fn lsn(text: Option<String>) -> Option<u64> {
    text.and_then(|t| Lsn::parse(&t).ok()).map(|l| l.0)
}

/// Reads the slot of `cfg` and the server's current WAL position.
pub async fn slot_state(cfg: &PgConfig) -> Result<SlotState, PgError> {
    let mut conn = crate::source::connect(cfg).await?;
    let server: String = sqlx::query_scalar("SELECT pg_current_wal_insert_lsn()::text")
        .fetch_one(&mut conn)
        .await
        .map_err(|e| sql("reading pg_current_wal_insert_lsn()", e))?;
    let row = sqlx::query(
        "SELECT confirmed_flush_lsn::text, restart_lsn::text, active FROM pg_replication_slots \
         WHERE slot_name = $1 AND database = current_database()",
    )
    .bind(&cfg.slot_name)
    .fetch_optional(&mut conn)
    .await
    .map_err(|e| sql("reading pg_replication_slots", e))?;
    Ok(SlotState {
        confirmed_flush: row.as_ref().and_then(|r| lsn(r.get(0))),
        restart: row.as_ref().and_then(|r| lsn(r.get(1))),
        active: row.as_ref().is_some_and(|r| r.get(2)),
        server: lsn(Some(server)).unwrap_or(0),
    })
}

/// Checks that streaming can resume at `at`: the slot exists, has not confirmed past it, and
/// the server has written that far.
pub async fn validate_lsn(cfg: &PgConfig, at: u64) -> Result<SlotState, PgError> {
    let s = slot_state(cfg).await?;
    let Some(confirmed) = s.confirmed_flush else {
        return Err(PgError::Config(format!(
            "replication slot {} does not exist; start the connector once (it creates the slot) or reset its offsets",
            cfg.slot_name
        )));
    };
    if at < confirmed {
        return Err(PgError::Config(format!(
            "slot {} has confirmed everything before {}; a logical slot cannot go back, so {} would resume at {} anyway (to read older data again, run an incremental snapshot or use a new slot)",
            cfg.slot_name,
            Lsn(confirmed),
            Lsn(at),
            Lsn(confirmed)
        )));
    }
    if at > s.server {
        return Err(PgError::Config(format!(
            "{} is past the server's current WAL position {}",
            Lsn(at),
            Lsn(s.server)
        )));
    }
    Ok(s)
}
