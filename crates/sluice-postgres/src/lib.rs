//! sluice's PostgreSQL source: logical replication with the built-in `pgoutput` plugin,
//! emitting the change events Debezium's PostgreSQL connector emits.
//!
//! * [`config`]: the Debezium connector properties.
//! * [`admin`]: the slot and server positions behind `sluice offsets` (show, set by LSN).
//! * [`catalog`] and [`types`]: tables, columns and the Debezium type mapping; [`infinity`]:
//!   Debezium's values for infinite dates and timestamps.
//! * [`pgoutput`]: decoding the replication messages.
//! * [`envelope`]: per-table schemas and Debezium events.
//! * [`snapshot`]: the consistent, lock-free, parallel initial snapshot.
//! * [`stream`]: the replication loop and its restart positions.
//! * [`incremental`]: signal-table incremental snapshots (chunks between watermarks).
//! * [`confirm`]: confirming to the slot only what is durable.
//! * [`source`]: start-up (publication, slot, snapshot decision), then streaming.

pub mod admin;
pub mod catalog;
pub mod config;
pub mod confirm;
pub mod envelope;
pub mod error;
pub mod incremental;
pub mod infinity;
pub mod pgoutput;
pub mod position;
pub mod snapshot;
pub mod source;
pub mod stream;
pub mod tls;
pub mod types;

pub use config::PgConfig;
pub use confirm::{Confirmed, ConfirmingStore};
pub use error::PgError;
pub use position::PgPosition;
pub use source::PostgresSource;
