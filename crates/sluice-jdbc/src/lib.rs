//! JDBC-style connectors over sqlx, for PostgreSQL, MySQL/MariaDB and SQLite.
//!
//! * [`url`]: JDBC connection URLs → sqlx targets.
//! * [`dialect`]: quoting, column types from Connect schemas, parameters per database.
//! * [`db`]: connection pools, transactions, error classification (retry vs refused record).
//! * [`sink`]: the JDBC sink connector (insert / upsert / update, deletes, auto.create/evolve).
//! * [`source`]: the query-based JDBC source connector (bulk / incrementing / timestamp modes).

pub mod db;
pub mod dialect;
pub mod sink;
pub mod source;
pub mod url;

pub use db::JdbcError;
pub use sink::{JdbcSink, JdbcSinkConfig};
pub use source::{JdbcSource, JdbcSourceConfig};
