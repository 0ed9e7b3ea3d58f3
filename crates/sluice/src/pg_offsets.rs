//! `sluice offsets show` and `sluice offsets set --lsn` for PostgreSQL connectors.

use anyhow::{Context, Result};
use serde_json::json;
use sluice_core::{OffsetKey, OffsetStore, PgPosition, Position};
use sluice_postgres::admin::{self, Lsn};
use sluice_postgres::PgConfig;

/// Checks `lsn` against the slot and the server, then stores it as the offset.
pub(crate) async fn set(
    cfg: &PgConfig,
    key: &OffsetKey,
    store: &mut dyn OffsetStore,
    current: Option<serde_json::Value>,
    lsn: u64,
) -> Result<()> {
    admin::validate_lsn(cfg, lsn)
        .await
        .with_context(|| format!("connector {}", cfg.name))?;
    let new = Position::Postgres(PgPosition {
        lsn,
        lsn_proc: lsn,
        lsn_commit: lsn,
        ..Default::default()
    });
    store.commit(key, &new)?;
    println!(
        "{}: offset moved\n  from {}\n  to   {}\nThe connector resumes at {} on its next start; transactions committed before it are skipped.",
        cfg.name,
        current.map_or_else(|| "(none)".to_string(), |c| c.to_string()),
        new.to_offset_json(),
        Lsn(lsn)
    );
    Ok(())
}

/// Where the connector is, where its slot is, and how far behind the server.
pub(crate) async fn show(
    cfg: &PgConfig,
    key: &OffsetKey,
    current: Option<serde_json::Value>,
    as_json: bool,
    location: &str,
) -> Result<()> {
    let at = current
        .as_ref()
        .map(PgPosition::from_offset_json)
        .transpose()
        .map_err(|e| anyhow::anyhow!("stored offset is unusable: {e}"))?;
    let slot = admin::slot_state(cfg).await?;
    let behind = at.as_ref().map(|a| slot.server.saturating_sub(a.lsn));
    let text = |l: Option<u64>| l.map(|l| Lsn(l).to_string());
    if as_json {
        println!(
            "{}",
            json!({
                "connector": key.connector, "server": key.server, "offsets": location,
                "offset": current,
                "slot": {"name": cfg.slot_name, "exists": slot.confirmed_flush.is_some(),
                         "confirmed_flush_lsn": text(slot.confirmed_flush), "restart_lsn": text(slot.restart),
                         "active": slot.active},
                "server_lsn": Lsn(slot.server).to_string(), "bytes_behind": behind,
            })
        );
        return Ok(());
    }
    println!(
        "connector:   {} (topic.prefix {})",
        key.connector, key.server
    );
    println!("offsets:     {location}");
    match &at {
        None => println!("position:    none stored; the next start follows snapshot.mode"),
        Some(a) => {
            println!(
                "position:    {} (last commit {}, {} events of it delivered)",
                Lsn(a.lsn),
                Lsn(a.lsn_commit),
                a.event
            );
            if let Some(t) = a.tx_id {
                println!("txId:        {t}");
            }
            crate::offsets_cmd::print_snapshot(a.snapshot, a.snapshot_progress.as_ref());
            if let Some(i) = &a.incremental {
                println!("incremental: {i}");
            }
        }
    }
    match slot.confirmed_flush {
        Some(c) => println!(
            "slot:        {} confirmed {}, restart {}, {}",
            cfg.slot_name,
            Lsn(c),
            text(slot.restart).unwrap_or_default(),
            if slot.active { "in use" } else { "idle" }
        ),
        None => println!(
            "slot:        {} does not exist (created on the next start)",
            cfg.slot_name
        ),
    }
    println!("server:      {}", Lsn(slot.server));
    if let Some(b) = behind {
        println!("behind:      {b} bytes of WAL");
    }
    Ok(())
}
