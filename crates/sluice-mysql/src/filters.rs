//! MySQL's names for Debezium's capture filters ([`sluice_cdc::filters`]): containers are
//! databases (`database.include.list` / `database.exclude.list`), and the server's own
//! databases are never captured.

use sluice_cdc::filters::Namespace;
pub use sluice_cdc::Filters;

/// Databases, with MySQL's system schemas left out.
pub const NAMESPACE: Namespace = Namespace {
    container: "database",
    is_system: |db| {
        ["mysql", "information_schema", "performance_schema", "sys"]
            .iter()
            .any(|s| s.eq_ignore_ascii_case(db))
    },
};
