//! Telling the slot what is durable.
//!
//! The server keeps WAL from the slot's `confirmed_flush_lsn` on, and after a reconnect sends
//! every transaction that commits at or after it. Confirming more than is durably delivered
//! would free WAL for events nobody has: so the source confirms only what the offset store has
//! committed. [`ConfirmingStore`] wraps the connector's offset store and publishes the `lsn` of
//! each committed PostgreSQL position; the replication loop reads it and reports it to the
//! server as flushed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use sluice_core::traits::OffsetStoreError;
use sluice_core::{OffsetKey, OffsetStore, Position};

use crate::position::PgPosition;

/// The newest LSN whose events are all durable (0: nothing yet).
#[derive(Debug, Default, Clone)]
pub struct Confirmed(Arc<AtomicU64>);

impl Confirmed {
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }

    pub fn set(&self, lsn: u64) {
        self.0.fetch_max(lsn, Ordering::AcqRel);
    }
}

/// An offset store that publishes each committed PostgreSQL position's `lsn`.
pub struct ConfirmingStore {
    inner: Box<dyn OffsetStore>,
    confirmed: Confirmed,
}

impl ConfirmingStore {
    pub fn new(inner: Box<dyn OffsetStore>, confirmed: Confirmed) -> ConfirmingStore {
        ConfirmingStore { inner, confirmed }
    }
}

impl OffsetStore for ConfirmingStore {
    fn load(&self, key: &OffsetKey) -> Result<Option<serde_json::Value>, OffsetStoreError> {
        self.inner.load(key)
    }

    fn commit(&mut self, key: &OffsetKey, position: &Position) -> Result<(), OffsetStoreError> {
        self.inner.commit(key, position)?;
        if let Some(p) = position.source_as::<PgPosition>() {
            if !p.snapshot {
                self.confirmed.set(p.lsn);
            }
        }
        Ok(())
    }
}
