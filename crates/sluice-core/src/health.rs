//! What a source reports about itself while it runs, read by the metrics and health endpoints.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Shared between a running source and the HTTP endpoints; all fields are plain atomics.
#[derive(Debug, Default)]
pub struct SourceHealth {
    connected: AtomicBool,
    reconnects: AtomicU64,
}

impl SourceHealth {
    /// The source holds a working connection to its database.
    pub fn set_connected(&self, yes: bool) {
        self.connected.store(yes, Ordering::Relaxed);
    }

    pub fn connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    /// A lost connection is being retried.
    pub fn reconnecting(&self) {
        self.connected.store(false, Ordering::Relaxed);
        self.reconnects.fetch_add(1, Ordering::Relaxed);
    }

    pub fn reconnects(&self) -> u64 {
        self.reconnects.load(Ordering::Relaxed)
    }
}
