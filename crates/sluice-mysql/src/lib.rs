//! MySQL/MariaDB binlog source producing Debezium-compatible change events.
//!
//! How it fits together:
//! * [`config`]: the Debezium MySQL connector properties sluice understands.
//! * [`catalog`] + [`ddl`] + [`history`]: table definitions — read from `information_schema` at
//!   start, changed by DDL seen in the binlog, and recorded by position so a restart at an old
//!   position decodes rows with the definitions of that time.
//! * [`mapping`]: Debezium's type mapping (column → Connect schema) and the per-table key/value/
//!   envelope schemas.
//! * [`charset`]: column character sets — resolution and decoding of text bytes.
//! * [`decode`]: row images of rows events → Connect values.
//! * [`events`]: raw binlog event bodies mysql_common does not know (MariaDB GTID, GTID_LIST,
//!   compressed events) and the rows-event header.
//! * [`stream`]: the replication connection and the binlog event loop with position tracking.
//! * [`source`]: the connector: preflight, start position, streaming into the runtime.

pub mod admin;
pub mod catalog;
pub mod charset;
mod chunks;
pub mod config;
pub mod ddl;
pub mod decode;
mod dump;
pub mod envelope;
pub mod error;
pub mod events;
pub mod filters;
pub mod history;
mod history_codec;
pub mod incremental;
pub mod mapping;
pub mod position;
pub mod preflight;
mod query_values;
pub mod registry;
pub mod seek;
pub mod snapshot;
pub mod source;
pub mod stream;
mod streaming;
pub mod table;
pub mod tls;

pub use config::MySqlConfig;
pub use error::MySqlError;
pub use position::BinlogPosition;
pub use source::{MySqlSource, SourceMessage};
