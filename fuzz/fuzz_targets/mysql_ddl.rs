//! DDL statement text from the binlog (sluice-mysql ddl.rs): parsed with sqlparser and applied
//! to a tracked definition, then mapped to Connect schemas as the registry does for a new table
//! definition.
//!
//! Input: one byte (bit 0: MariaDB; the rest: connector modes), then the statement text.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use sluice_mysql::ddl::{interpret, is_ddl_candidate, DdlChange};
use sluice_mysql::mapping::TableSchemas;
use sluice_mysql::table::{parse_sql_type, ColumnDef, TableDef, TableId};

/// What every table already looks like when an ALTER or RENAME names it.
fn tracked(id: &TableId) -> Option<TableDef> {
    let col = |name: &str, ty: &str, nullable: bool| ColumnDef {
        name: name.into(),
        ty: parse_sql_type(ty),
        nullable,
        charset: ty.starts_with("varchar").then(|| "koi8r".into()),
    };
    Some(TableDef {
        id: id.clone(),
        columns: vec![
            col("id", "bigint unsigned", false),
            col("name", "varchar(40)", true),
            col("amount", "decimal(12,2)", true),
            col("at", "datetime(6)", true),
        ],
        primary_key: vec!["id".into()],
        default_charset: Some("latin2".into()),
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, text)) = data.split_first() else {
        return;
    };
    let Ok(sql) = std::str::from_utf8(text) else {
        return;
    };
    let _ = is_ddl_candidate(sql);
    let (cfg, source) = common::mysql_config(flags >> 1);
    let defaults = sluice_mysql::charset::Defaults::default();
    for change in interpret("app", sql, flags & 1 == 1, &tracked, &defaults) {
        if let DdlChange::Define(def) = change {
            let _ = TableSchemas::build(&def, cfg, source);
        }
    }
});
