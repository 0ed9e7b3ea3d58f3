//! MySQL/MariaDB binlog event bodies, as the streaming loop (sluice-mysql streaming.rs) decodes
//! them: table maps (mysql_common), rows events of every variant with their row images against
//! the mapped table, query events, MariaDB and MySQL GTIDs, GTID lists, rotates.
//!
//! Input: one byte of connector modes, then records `type (1) | length (2, LE) | body`. A table
//! map defines its table from its own column types (the bytes of its table name choose signed or
//! unsigned, text or binary, enum/set labels, …), so later rows events decode against it.
#![no_main]

#[path = "common.rs"]
mod common;

use std::collections::HashMap;
use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use mysql_common::binlog::consts::BinlogVersion;
use mysql_common::binlog::events::{FormatDescriptionEvent, TableMapEvent};
use mysql_common::binlog::BinlogCtx;
use mysql_common::io::ParseBuf;
use sluice_mysql::decode::{codecs, decode_row, ColCodec};
use sluice_mysql::events::{self, kind, MariaGtid, QueryEvent, RowsEvent, RowsKind};
use sluice_mysql::mapping::TableSchemas;
use sluice_mysql::table::{parse_sql_type, ColumnDef, TableDef, TableId};

/// Character sets given to text columns (every decoder, chosen by the table name's bytes).
const CHARSETS: [&str; 12] = [
    "utf8mb4", "latin1", "latin5", "cp866", "big5", "sjis", "ujis", "gb2312", "ucs2", "utf16",
    "utf32", "binary",
];

/// SQL type text of a column whose table map type is `btype`, varied by `sel`.
fn type_text(btype: u8, meta: &[u8], sel: u8) -> String {
    let m = |k: usize| u32::from(*meta.get(k).unwrap_or(&0));
    let unsigned = if sel & 1 == 1 { " unsigned" } else { "" };
    match btype {
        1 => format!("tinyint{unsigned}"),
        2 => format!("smallint{unsigned}"),
        9 => format!("mediumint{unsigned}"),
        3 => format!("int{unsigned}"),
        8 => format!("bigint{unsigned}"),
        4 => "float".into(),
        5 => "double".into(),
        0 | 246 => format!("decimal({},{})", m(0), m(1)),
        10 | 14 => "date".into(),
        11 | 19 => format!("time({})", m(0)),
        12 | 18 => format!("datetime({})", m(0)),
        7 | 17 => format!("timestamp({})", m(0)),
        13 => "year".into(),
        16 => format!("bit({})", m(1) * 8 + m(0)),
        245 => "json".into(),
        255 => "geometry".into(),
        249..=252 => ["text", "blob", "longtext", "mediumblob"][usize::from(sel % 4)].into(),
        _ => match sel % 8 {
            0 => "varchar(20)".into(),
            1 => "varbinary(20)".into(),
            2 => "char(4)".into(),
            3 => format!("binary({})", m(1)),
            4 => "enum('a','b','c')".into(),
            5 => "set('x','y','z')".into(),
            6 => ["uuid", "inet4", "inet6"][usize::from(sel / 8 % 3)].into(),
            _ => "varchar(300)".into(),
        },
    }
}

/// The definition of the table a table map describes, as the catalog or DDL would give it.
fn define(tme: &TableMapEvent<'_>) -> Option<TableDef> {
    let n = usize::try_from(tme.columns_count()).ok()?;
    let sel = tme.table_name_raw().to_vec();
    let columns = (0..n.min(4096))
        .map(|i| {
            let btype = tme
                .get_raw_column_type(i)
                .ok()
                .flatten()
                .map_or(254, |t| t as u8);
            let meta = tme.get_column_metadata(i).unwrap_or(&[]);
            let s = sel.get(i % sel.len().max(1)).copied().unwrap_or(0);
            ColumnDef {
                name: format!("c{i}"),
                ty: parse_sql_type(&type_text(btype, meta, s)),
                nullable: s & 2 == 0,
                charset: Some(CHARSETS[usize::from(s >> 2) % CHARSETS.len()].into()),
            }
        })
        .collect();
    Some(TableDef {
        id: TableId::new(tme.database_name(), tme.table_name()),
        columns,
        primary_key: if n > 0 { vec!["c0".into()] } else { Vec::new() },
        default_charset: None,
    })
}

struct Mapped {
    schemas: TableSchemas,
    codecs: Vec<ColCodec>,
}

fuzz_target!(|data: &[u8]| {
    let Some((&modes, mut rest)) = data.split_first() else {
        return;
    };
    let (cfg, source) = common::mysql_config(modes);
    let fde = FormatDescriptionEvent::new(BinlogVersion::Version4);
    let mut tables: HashMap<u64, Arc<Mapped>> = HashMap::new();
    let mut row_buf = Vec::new();
    while rest.len() >= 3 {
        let etype = rest[0];
        let len = usize::from(u16::from_le_bytes([rest[1], rest[2]])).min(rest.len() - 3);
        let body = &rest[3..3 + len];
        rest = &rest[3 + len..];
        match etype {
            kind::TABLE_MAP => {
                let Ok(tme) =
                    ParseBuf(body).parse::<TableMapEvent<'_>>(BinlogCtx::new(body.len(), &fde))
                else {
                    continue;
                };
                let Some(def) = define(&tme) else { continue };
                let Ok(schemas) = TableSchemas::build(&def, cfg, source) else {
                    continue;
                };
                if let Ok(codecs) = codecs(&tme, &schemas) {
                    tables.insert(tme.table_id(), Arc::new(Mapped { schemas, codecs }));
                }
            }
            kind::QUERY | kind::MARIADB_QUERY_COMPRESSED => {
                let _ = QueryEvent::parse(etype, body);
            }
            kind::MARIADB_GTID => {
                let _ = MariaGtid::parse(body, 1).map(|g| g.to_string());
            }
            kind::MARIADB_GTID_LIST => {
                let _ = events::parse_gtid_list(body);
            }
            kind::MYSQL_GTID => {
                let _ = events::parse_mysql_gtid(body);
            }
            kind::ROTATE => {
                let _ = events::parse_rotate(&[0; 19], body);
            }
            et if events::rows_kind(et).is_some() => {
                let Ok(rows) = RowsEvent::parse(et, body) else {
                    continue;
                };
                let Some(t) = tables.get(&rows.table_id) else {
                    continue;
                };
                let mut buf: &[u8] = &rows.rows;
                let mut image = |buf: &mut &[u8], present: &[bool]| {
                    decode_row(buf, &t.codecs, present, &t.schemas, &mut row_buf)
                };
                while !buf.is_empty() {
                    let ok = match rows.kind {
                        RowsKind::Write | RowsKind::Delete => image(&mut buf, &rows.present),
                        RowsKind::Update => image(&mut buf, &rows.present)
                            .and_then(|()| image(&mut buf, &rows.present_after)),
                    };
                    if ok.is_err() {
                        break;
                    }
                }
            }
            _ => {}
        }
    }
});
