//! The change-data-capture kit: what every log-based source (MySQL/MariaDB binlog, PostgreSQL
//! pgoutput) shares, written once.
//!
//! * [`envelope`]: Debezium change events from rows — key, envelope, the primary-key-change
//!   split with its `__debezium.oldkey` / `__debezium.newkey` headers, tombstones, truncates.
//! * [`filters`]: Debezium's database/schema, table and column include and exclude lists.
//! * [`heartbeat`]: Debezium heartbeat records (`heartbeat.interval.ms`).
//! * [`incremental`]: the signal-table incremental snapshot state machine (`execute-snapshot`).
//! * [`markers`]: `source.snapshot` of snapshot events (`first`, `first_in_data_collection`, …).
//! * [`retry`]: Debezium's `errors.max.retries` / `errors.retry.delay.*` policy.
//! * [`driver`]: runs a source and, after a transient failure, starts it again from the position
//!   after the last batch it handed over, until the policy gives up.
//!
//! A source crate keeps only its protocol: preflight, decoding, positions, type mapping.

pub mod driver;
pub mod envelope;
pub mod filters;
pub mod heartbeat;
pub mod incremental;
pub mod markers;
pub mod retry;

pub use driver::drive;
pub use envelope::{EventTable, Events, Op};
pub use filters::Filters;
pub use heartbeat::Heartbeat;
pub use markers::Marker;
pub use retry::RetryPolicy;
