//! Debezium's capture filters, for every log source.
//!
//! A source names its tables in two levels: a *container* (a MySQL database, a PostgreSQL
//! schema) and the table in it. The properties are Debezium's:
//! `<container>.include.list` / `<container>.exclude.list` (`database.*` or `schema.*`),
//! `table.include.list` / `table.exclude.list` (matched against `container.table`) and
//! `column.include.list` / `column.exclude.list` (`container.table.column`). Each is a
//! comma-separated list of regular expressions, matched against the whole name and without
//! regard to case, as Debezium matches them.
//!
//! Rules, as Debezium's: an include list and its exclude list cannot both be set; with an
//! include list only what it matches is captured, else everything its exclude list does not
//! match; a table is captured only when its container is; the source's system containers
//! (`mysql`, `pg_catalog`, …) never are.

use std::collections::BTreeMap;

use regex::{Regex, RegexBuilder};

/// How a source names its containers.
#[derive(Debug, Clone, Copy)]
pub struct Namespace {
    /// The properties' first word: `database` or `schema`.
    pub container: &'static str,
    /// The containers never captured (the server's own catalogs).
    pub is_system: fn(&str) -> bool,
}

#[derive(Debug, Clone)]
pub struct Filters {
    is_system: fn(&str) -> bool,
    container: Include,
    table: Include,
    column: Include,
}

/// One include/exclude pair.
#[derive(Debug, Clone, Default)]
struct Include {
    include: Vec<Regex>,
    exclude: Vec<Regex>,
}

impl Include {
    fn read(props: &BTreeMap<String, String>, what: &str) -> Result<Include, String> {
        let (inc, exc) = (
            format!("{what}.include.list"),
            format!("{what}.exclude.list"),
        );
        let pair = Include {
            include: regexes(props, &inc)?,
            exclude: regexes(props, &exc)?,
        };
        if !pair.include.is_empty() && !pair.exclude.is_empty() {
            return Err(format!("{inc} and {exc} cannot both be set"));
        }
        Ok(pair)
    }

    fn matches(&self, name: &str) -> bool {
        if !self.include.is_empty() {
            return self.include.iter().any(|r| r.is_match(name));
        }
        !self.exclude.iter().any(|r| r.is_match(name))
    }

    fn is_empty(&self) -> bool {
        self.include.is_empty() && self.exclude.is_empty()
    }
}

fn regexes(props: &BTreeMap<String, String>, key: &str) -> Result<Vec<Regex>, String> {
    let Some(v) = props.get(key) else {
        return Ok(Vec::new());
    };
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|p| {
            RegexBuilder::new(&format!("^(?:{p})$"))
                .case_insensitive(true)
                .build()
                .map_err(|e| format!("{key}: invalid regular expression {p:?}: {e}"))
        })
        .collect()
}

impl Filters {
    /// Reads the filter properties; an error names the property.
    pub fn from_props(props: &BTreeMap<String, String>, ns: Namespace) -> Result<Filters, String> {
        Ok(Filters {
            is_system: ns.is_system,
            container: Include::read(props, ns.container)?,
            table: Include::read(props, "table")?,
            column: Include::read(props, "column")?,
        })
    }

    /// Filters that capture every table of every non-system container.
    pub fn everything(ns: Namespace) -> Filters {
        Filters {
            is_system: ns.is_system,
            container: Include::default(),
            table: Include::default(),
            column: Include::default(),
        }
    }

    /// Whether tables of `container` may be captured.
    pub fn container(&self, container: &str) -> bool {
        !(self.is_system)(container) && self.container.matches(container)
    }

    /// Whether `container.table` is captured.
    pub fn table(&self, container: &str, table: &str) -> bool {
        self.container(container) && self.table.matches(&format!("{container}.{table}"))
    }

    /// Whether `container.table.column` is captured (key columns are, whatever this says).
    pub fn column(&self, container: &str, table: &str, column: &str) -> bool {
        self.column
            .matches(&format!("{container}.{table}.{column}"))
    }

    /// Where the table comes in `table.include.list` (snapshots read tables in that order, as
    /// Debezium does; tables matched by no entry, or without a list, come after, by name).
    pub fn include_rank(&self, container: &str, table: &str) -> usize {
        let full = format!("{container}.{table}");
        self.table
            .include
            .iter()
            .position(|r| r.is_match(&full))
            .unwrap_or(usize::MAX)
    }

    /// True when no container or table list is set: every non-system table is captured.
    pub fn is_unfiltered(&self) -> bool {
        self.container.is_empty() && self.table.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_core::props::from_pairs;

    const DB: Namespace = Namespace {
        container: "database",
        is_system: |c| c.eq_ignore_ascii_case("mysql"),
    };

    fn filters(pairs: &[(&str, &str)]) -> Result<Filters, String> {
        Filters::from_props(&from_pairs(pairs), DB)
    }

    #[test]
    fn include_lists_are_anchored_case_insensitive_regexes() {
        let f = filters(&[(
            "table.include.list",
            "inventory.customers, inventory.order.*",
        )])
        .unwrap();
        assert!(f.table("inventory", "customers"));
        assert!(f.table("Inventory", "ORDERS"));
        assert!(!f.table("inventory", "customers2"));
        assert!(
            !f.table("mysql", "user"),
            "system containers are never captured"
        );
        assert!(!f.is_unfiltered());
    }

    #[test]
    fn exclude_lists_and_columns() {
        let f = filters(&[
            ("database.exclude.list", "secret"),
            ("column.exclude.list", "app.users.password"),
        ])
        .unwrap();
        assert!(!f.table("secret", "t"));
        assert!(f.table("app", "users"));
        assert!(!f.column("app", "users", "password"));
        assert!(f.column("app", "users", "email"));
    }

    #[test]
    fn the_schema_namespace_reads_schema_lists() {
        let schema = Namespace {
            container: "schema",
            is_system: |c| c.starts_with("pg_"),
        };
        let f =
            Filters::from_props(&from_pairs(&[("schema.include.list", "app")]), schema).unwrap();
        assert!(f.table("app", "t"));
        assert!(!f.table("public", "t"));
        assert!(Filters::everything(schema).table("public", "t"));
        assert!(!Filters::everything(schema).table("pg_catalog", "pg_class"));
    }

    #[test]
    fn tables_snapshot_in_include_list_order() {
        let f = filters(&[("table.include.list", "app.b,app.a")]).unwrap();
        assert!(f.include_rank("app", "b") < f.include_rank("app", "a"));
        assert_eq!(f.include_rank("app", "c"), usize::MAX);
    }

    #[test]
    fn conflicting_or_broken_lists_are_config_errors() {
        let e =
            filters(&[("table.include.list", "a.b"), ("table.exclude.list", "a.c")]).unwrap_err();
        assert!(e.contains("cannot both be set"), "{e}");
        let e = filters(&[("table.include.list", "a.(b")]).unwrap_err();
        assert!(e.contains("table.include.list"), "{e}");
    }
}
