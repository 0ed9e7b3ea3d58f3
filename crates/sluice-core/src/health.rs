//! What a source reports about itself while it runs, read by the metrics and health endpoints.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Shared between a running source and the HTTP endpoints; all fields are plain atomics.
#[derive(Debug, Default)]
pub struct SourceHealth {
    connected: AtomicBool,
    reconnecting: AtomicBool,
    reconnects: AtomicU64,
    snapshot_running: AtomicBool,
    snapshot_rows: AtomicU64,
    snapshot_estimate: AtomicU64,
}

/// Where an initial snapshot is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotStatus {
    pub running: bool,
    /// Rows read so far.
    pub rows: u64,
    /// The server's estimate of the rows to read (approximate for InnoDB).
    pub estimate: u64,
}

impl SourceHealth {
    /// The source holds a working connection to its database.
    pub fn set_connected(&self, yes: bool) {
        self.connected.store(yes, Ordering::Relaxed);
        if yes {
            self.reconnecting.store(false, Ordering::Relaxed);
        }
    }

    pub fn connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    /// A lost connection is being retried.
    pub fn reconnecting(&self) {
        self.connected.store(false, Ordering::Relaxed);
        self.reconnecting.store(true, Ordering::Relaxed);
        self.reconnects.fetch_add(1, Ordering::Relaxed);
    }

    /// `connected`, `reconnecting` (a transient failure is being retried) or `disconnected`.
    pub fn state(&self) -> &'static str {
        if self.connected() {
            "connected"
        } else if self.reconnecting.load(Ordering::Relaxed) {
            "reconnecting"
        } else {
            "disconnected"
        }
    }

    pub fn reconnects(&self) -> u64 {
        self.reconnects.load(Ordering::Relaxed)
    }

    /// A snapshot starts, of about `estimate` rows.
    pub fn snapshot_started(&self, estimate: u64) {
        self.snapshot_estimate.store(estimate, Ordering::Relaxed);
        self.snapshot_rows.store(0, Ordering::Relaxed);
        self.snapshot_running.store(true, Ordering::Relaxed);
    }

    pub fn snapshot_rows(&self, rows: u64) {
        self.snapshot_rows.store(rows, Ordering::Relaxed);
    }

    pub fn snapshot_done(&self, rows: u64) {
        self.snapshot_rows.store(rows, Ordering::Relaxed);
        self.snapshot_running.store(false, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> SnapshotStatus {
        SnapshotStatus {
            running: self.snapshot_running.load(Ordering::Relaxed),
            rows: self.snapshot_rows.load(Ordering::Relaxed),
            estimate: self.snapshot_estimate.load(Ordering::Relaxed),
        }
    }
}
