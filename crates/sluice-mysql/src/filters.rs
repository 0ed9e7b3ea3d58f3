//! Debezium's capture filters: `database.include.list` / `database.exclude.list` and
//! `table.include.list` / `table.exclude.list` (comma-separated regular expressions matched
//! against the whole name, tables as `db.table`), `column.include.list` / `column.exclude.list`
//! (`db.table.column`). Matching is anchored and case-insensitive like Debezium's.

use regex::{Regex, RegexBuilder};

use crate::error::MySqlError;

#[derive(Debug, Clone, Default)]
pub struct Filters {
    db_include: Vec<Regex>,
    db_exclude: Vec<Regex>,
    table_include: Vec<Regex>,
    table_exclude: Vec<Regex>,
    column_include: Vec<Regex>,
    column_exclude: Vec<Regex>,
}

/// System schemas Debezium never captures.
const SYSTEM_DBS: [&str; 4] = ["mysql", "information_schema", "performance_schema", "sys"];

fn parse_list(property: &str, value: Option<&str>) -> Result<Vec<Regex>, MySqlError> {
    let Some(v) = value else {
        return Ok(Vec::new());
    };
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|p| {
            RegexBuilder::new(&format!("^(?:{p})$"))
                .case_insensitive(true)
                .build()
                .map_err(|e| {
                    MySqlError::Config(format!("{property}: invalid regular expression {p:?}: {e}"))
                })
        })
        .collect()
}

impl Filters {
    pub fn new(get: impl Fn(&str) -> Option<String>) -> Result<Filters, MySqlError> {
        let f = |k: &str| parse_list(k, get(k).as_deref());
        let filters = Filters {
            db_include: f("database.include.list")?,
            db_exclude: f("database.exclude.list")?,
            table_include: f("table.include.list")?,
            table_exclude: f("table.exclude.list")?,
            column_include: f("column.include.list")?,
            column_exclude: f("column.exclude.list")?,
        };
        if !filters.db_include.is_empty() && !filters.db_exclude.is_empty() {
            return Err(MySqlError::Config(
                "database.include.list and database.exclude.list cannot both be set".into(),
            ));
        }
        if !filters.table_include.is_empty() && !filters.table_exclude.is_empty() {
            return Err(MySqlError::Config(
                "table.include.list and table.exclude.list cannot both be set".into(),
            ));
        }
        if !filters.column_include.is_empty() && !filters.column_exclude.is_empty() {
            return Err(MySqlError::Config(
                "column.include.list and column.exclude.list cannot both be set".into(),
            ));
        }
        Ok(filters)
    }

    pub fn database(&self, db: &str) -> bool {
        if SYSTEM_DBS.iter().any(|s| s.eq_ignore_ascii_case(db)) {
            return false;
        }
        if !self.db_include.is_empty() {
            return self.db_include.iter().any(|r| r.is_match(db));
        }
        !self.db_exclude.iter().any(|r| r.is_match(db))
    }

    pub fn table(&self, db: &str, table: &str) -> bool {
        if !self.database(db) {
            return false;
        }
        let name = format!("{db}.{table}");
        if !self.table_include.is_empty() {
            return self.table_include.iter().any(|r| r.is_match(&name));
        }
        !self.table_exclude.iter().any(|r| r.is_match(&name))
    }

    pub fn column(&self, db: &str, table: &str, column: &str) -> bool {
        let name = format!("{db}.{table}.{column}");
        if !self.column_include.is_empty() {
            return self.column_include.iter().any(|r| r.is_match(&name));
        }
        !self.column_exclude.iter().any(|r| r.is_match(&name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn filters(pairs: &[(&str, &str)]) -> Result<Filters, MySqlError> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Filters::new(|k| m.get(k).cloned())
    }

    #[test]
    fn include_lists_are_anchored_regexes() {
        let f = filters(&[(
            "table.include.list",
            "inventory.customers, inventory.order.*",
        )])
        .unwrap();
        assert!(f.table("inventory", "customers"));
        assert!(f.table("inventory", "orders"));
        assert!(!f.table("inventory", "customers2"));
        assert!(!f.table("mysql", "user"));
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
    fn conflicting_or_broken_lists_are_config_errors() {
        assert!(filters(&[("table.include.list", "a.b"), ("table.exclude.list", "a.c")]).is_err());
        let e = filters(&[("table.include.list", "a.(b")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("table.include.list"), "{e}");
    }
}
