//! Schema history records in Debezium's format, so a history written by Debezium's MySQL
//! connector (file or Kafka topic) can be read by sluice and the other way round.
//!
//! A record is `{"source":{"server":…},"position":{file,pos,server_id},"ts_ms":…,
//! "databaseName":…,"ddl":…,"tableChanges":[{"type":"CREATE"|"ALTER"|"DROP","id":"\"db\".\"t\"",
//! "table":{"primaryKeyColumnNames":[…],"columns":[{name,jdbcType,typeName,typeExpression,
//! charsetName,length,scale,position,optional,enumValues…}],"defaultCharsetName":…}}]}`: each text
//! column's resolved character set and the table's default travel with the definition, so a
//! restart decodes text exactly as before. sluice adds `"baseline":true`
//! to a record holding every captured table (a full definition set; Debezium ignores the flag).
//! A history without any baseline flag (written by Debezium) is replayed from its first record.
//! A baseline also carries `"serverCharset"` and `"databaseCharsets": {db: charset}` (sluice's,
//! ignored by Debezium), and a CREATE/ALTER/DROP DATABASE that changes a default is a record
//! with its statement and no table changes, as Debezium writes them.
//!
//! Types travel as Debezium spells them (`typeName` with ` UNSIGNED`, `length`/`scale`,
//! `enumValues`); decoding rebuilds the SQL type text and reads it with the same parser as
//! `information_schema`, so both directions agree.

use serde_json::{json, Value as Json};

use crate::charset::Defaults;
use crate::history::HistoryRecord;
use crate::table::{parse_sql_type, ColumnDef, SqlType, TableDef, TableId};

/// The Debezium record of `r`. `server` is the topic prefix, `server_id` the source server's.
pub fn encode(r: &HistoryRecord, server: &str, server_id: u32, ts_ms: i64) -> Json {
    let mut changes: Vec<Json> = r
        .tables
        .iter()
        .map(|t| {
            json!({
                "type": if r.baseline { "CREATE" } else { "ALTER" },
                "id": quoted_id(&t.id),
                "table": table_json(t),
                "comment": null,
            })
        })
        .collect();
    changes.extend(
        r.dropped
            .iter()
            .map(|id| json!({"type": "DROP", "id": quoted_id(id)})),
    );
    let db =
        r.db.clone()
            .or_else(|| r.tables.first().map(|t| t.id.db.clone()))
            .or_else(|| r.dropped.first().map(|d| d.db.clone()))
            .unwrap_or_default();
    let mut doc = json!({
        "source": {"server": server},
        "position": {"file": r.file, "pos": r.pos, "server_id": server_id},
        "ts_ms": ts_ms,
        "databaseName": db,
        "ddl": r.ddl.clone().unwrap_or_default(),
        "tableChanges": changes,
    });
    if r.baseline {
        doc["baseline"] = Json::Bool(true);
    }
    if let Some(c) = &r.charsets {
        let databases: std::collections::BTreeMap<&String, &String> = c.databases.iter().collect();
        doc["serverCharset"] = json!(c.server);
        doc["databaseCharsets"] = json!(databases);
    }
    doc
}

/// Reads a Debezium history record (or sluice's earlier line format).
pub fn decode(doc: &Json) -> Result<HistoryRecord, String> {
    if doc.get("tableChanges").is_none() && doc.get("tables").is_some() {
        return serde_json::from_value(doc.clone()).map_err(|e| e.to_string());
    }
    let position = doc.get("position").ok_or("no position")?;
    let file = position
        .get("file")
        .and_then(Json::as_str)
        .ok_or("position without file")?
        .to_string();
    let pos = position
        .get("pos")
        .and_then(Json::as_u64)
        .ok_or("position without pos")?;
    let mut tables = Vec::new();
    let mut dropped = Vec::new();
    for change in doc
        .get("tableChanges")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
    {
        let id = change
            .get("id")
            .and_then(Json::as_str)
            .and_then(parse_quoted_id)
            .ok_or_else(|| format!("bad table id in {change}"))?;
        match change.get("type").and_then(Json::as_str) {
            Some("DROP") => dropped.push(id),
            _ => tables.push(table_def(
                id,
                change.get("table").ok_or("change without table")?,
            )?),
        }
    }
    Ok(HistoryRecord {
        file,
        pos,
        baseline: doc.get("baseline").and_then(Json::as_bool).unwrap_or(false),
        ddl: doc
            .get("ddl")
            .and_then(Json::as_str)
            .filter(|d| !d.is_empty())
            .map(str::to_string),
        tables,
        dropped,
        db: doc
            .get("databaseName")
            .and_then(Json::as_str)
            .filter(|d| !d.is_empty())
            .map(str::to_string),
        charsets: doc
            .get("serverCharset")
            .and_then(Json::as_str)
            .map(|server| Defaults {
                server: server.to_string(),
                databases: doc
                    .get("databaseCharsets")
                    .and_then(Json::as_object)
                    .into_iter()
                    .flatten()
                    .filter_map(|(db, cs)| Some((db.clone(), cs.as_str()?.to_string())))
                    .collect(),
            }),
    })
}

fn quoted_id(id: &TableId) -> String {
    let q = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    format!("{}.{}", q(&id.db), q(&id.table))
}

/// `"db"."table"` (quotes doubled inside names) → id.
fn parse_quoted_id(s: &str) -> Option<TableId> {
    let mut parts = Vec::new();
    let mut chars = s.chars().peekable();
    while chars.peek().is_some() {
        if chars.next()? != '"' {
            return None;
        }
        let mut name = String::new();
        loop {
            match chars.next()? {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    name.push('"');
                }
                '"' => break,
                c => name.push(c),
            }
        }
        parts.push(name);
        match chars.next() {
            Some('.') | None => {}
            Some(_) => return None,
        }
    }
    match parts.as_slice() {
        [db, table] => Some(TableId::new(db.as_str(), table.as_str())),
        [db, _schema, table] => Some(TableId::new(db.as_str(), table.as_str())),
        _ => None,
    }
}

fn table_json(t: &TableDef) -> Json {
    let columns: Vec<Json> = t
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let (name, jdbc, length, scale, values) = type_parts(&c.ty);
            let mut col = json!({
                "name": c.name,
                "jdbcType": jdbc,
                "typeName": name,
                "typeExpression": name,
                "charsetName": c.charset,
                "position": i + 1,
                "optional": c.nullable,
                "autoIncremented": false,
                "generated": false,
                "comment": null,
                "hasDefaultValue": false,
                "enumValues": values,
            });
            if let Some(l) = length {
                col["length"] = json!(l);
            }
            if let Some(s) = scale {
                col["scale"] = json!(s);
            }
            col
        })
        .collect();
    json!({
        "defaultCharsetName": t.default_charset,
        "primaryKeyColumnNames": t.primary_key,
        "columns": columns,
        "attributes": [],
    })
}

fn table_def(id: TableId, table: &Json) -> Result<TableDef, String> {
    let mut cols: Vec<(u64, ColumnDef)> = Vec::new();
    for (i, c) in table
        .get("columns")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let name = c
            .get("name")
            .and_then(Json::as_str)
            .ok_or_else(|| format!("column without name in {id}"))?;
        let type_name = c.get("typeName").and_then(Json::as_str).unwrap_or("");
        let values: Vec<String> = c
            .get("enumValues")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
        let num = |k: &str| c.get(k).and_then(Json::as_u64);
        let ty = parse_sql_type(&type_text(type_name, num("length"), num("scale"), &values));
        cols.push((
            num("position").unwrap_or(i as u64 + 1),
            ColumnDef {
                name: name.to_string(),
                ty,
                nullable: c.get("optional").and_then(Json::as_bool).unwrap_or(true),
                charset: c
                    .get("charsetName")
                    .and_then(Json::as_str)
                    .map(str::to_string),
            },
        ));
    }
    cols.sort_by_key(|(p, _)| *p);
    Ok(TableDef {
        id,
        columns: cols.into_iter().map(|(_, c)| c).collect(),
        primary_key: table
            .get("primaryKeyColumnNames")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        default_charset: table
            .get("defaultCharsetName")
            .and_then(Json::as_str)
            .map(str::to_string),
    })
}

/// SQL type text from Debezium's parts: `DECIMAL(12,2) UNSIGNED`, `ENUM('a','b')`.
fn type_text(name: &str, length: Option<u64>, scale: Option<u64>, values: &[String]) -> String {
    let upper = name.to_ascii_uppercase();
    let (base, unsigned) = match upper.strip_suffix(" UNSIGNED") {
        Some(b) => (b.to_string(), " UNSIGNED"),
        None => (upper.clone(), ""),
    };
    if base == "ENUM" || base == "SET" {
        let quoted: Vec<String> = values
            .iter()
            .map(|v| format!("'{}'", v.replace('\\', "\\\\").replace('\'', "''")))
            .collect();
        return format!("{base}({})", quoted.join(","));
    }
    let args = match (length, scale) {
        (Some(l), Some(s)) => format!("({l},{s})"),
        (Some(l), None) => format!("({l})"),
        _ => String::new(),
    };
    format!("{base}{args}{unsigned}")
}

/// (typeName, java.sql.Types code, length, scale, enum values) as Debezium records a column.
fn type_parts(ty: &SqlType) -> (String, i32, Option<u32>, Option<u32>, Vec<String>) {
    let int = |name: &str, unsigned: bool, jdbc: i32| {
        let n = if unsigned {
            format!("{name} UNSIGNED")
        } else {
            name.to_string()
        };
        (n, jdbc, None, None, Vec::new())
    };
    let plain = |name: &str, jdbc: i32| (name.to_string(), jdbc, None, None, Vec::new());
    let fsp = |name: &str, jdbc: i32, fsp: u32| {
        (
            name.to_string(),
            jdbc,
            (fsp > 0).then_some(fsp),
            None,
            Vec::new(),
        )
    };
    match ty {
        SqlType::Bit(n) => ("BIT".into(), -7, Some(*n), None, Vec::new()),
        SqlType::TinyInt { unsigned } => int("TINYINT", *unsigned, -6),
        SqlType::Boolean => ("BOOLEAN".into(), 16, None, None, Vec::new()),
        SqlType::SmallInt { unsigned } => int("SMALLINT", *unsigned, 5),
        SqlType::MediumInt { unsigned } => int("MEDIUMINT", *unsigned, 4),
        SqlType::Int { unsigned } => int("INT", *unsigned, 4),
        SqlType::BigInt { unsigned } => int("BIGINT", *unsigned, -5),
        SqlType::Float { precision } => ("FLOAT".into(), 6, *precision, None, Vec::new()),
        SqlType::Double => plain("DOUBLE", 8),
        SqlType::Decimal { precision, scale } => (
            "DECIMAL".into(),
            3,
            Some(*precision),
            Some(*scale),
            Vec::new(),
        ),
        SqlType::Char => plain("CHAR", 1),
        SqlType::VarChar => plain("VARCHAR", 12),
        SqlType::Text => plain("TEXT", 12),
        SqlType::Binary(n) => ("BINARY".into(), -2, Some(*n), None, Vec::new()),
        SqlType::VarBinary => plain("VARBINARY", -3),
        SqlType::Blob => plain("BLOB", 2004),
        SqlType::Date => plain("DATE", 91),
        SqlType::Time { fsp: f } => fsp("TIME", 92, *f),
        SqlType::DateTime { fsp: f } => fsp("DATETIME", 93, *f),
        SqlType::Timestamp { fsp: f } => fsp("TIMESTAMP", 2014, *f),
        SqlType::Year => plain("YEAR", 4),
        SqlType::Json => plain("JSON", 1111),
        SqlType::Enum(v) => ("ENUM".into(), 1, None, None, v.clone()),
        SqlType::Set(v) => ("SET".into(), 1, None, None, v.clone()),
        SqlType::Geometry => plain("GEOMETRY", 1111),
        SqlType::Uuid => plain("UUID", 1111),
        SqlType::Inet4 => plain("INET4", 1111),
        SqlType::Inet6 => plain("INET6", 1111),
        SqlType::Other(name) => (name.to_ascii_uppercase(), 1111, None, None, Vec::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_type() -> Vec<SqlType> {
        use SqlType::*;
        vec![
            Bit(1),
            Bit(10),
            TinyInt { unsigned: true },
            SmallInt { unsigned: false },
            MediumInt { unsigned: true },
            Int { unsigned: false },
            BigInt { unsigned: true },
            Float { precision: None },
            Float {
                precision: Some(30),
            },
            Double,
            Decimal {
                precision: 65,
                scale: 30,
            },
            Char,
            VarChar,
            Text,
            Binary(16),
            VarBinary,
            Blob,
            Date,
            Time { fsp: 0 },
            Time { fsp: 6 },
            DateTime { fsp: 3 },
            Timestamp { fsp: 6 },
            Year,
            Json,
            Enum(vec!["a".into(), "it's".into(), "b\\c".into()]),
            Set(vec!["x".into(), "y,z".into()]),
            Geometry,
            Uuid,
            Inet4,
            Inet6,
        ]
    }

    #[test]
    fn every_type_survives_a_round_trip_through_debeziums_record() {
        let table = TableDef {
            id: TableId::new("app", "odd\"name"),
            columns: every_type()
                .into_iter()
                .enumerate()
                .map(|(i, ty)| ColumnDef {
                    name: format!("c{i}"),
                    ty,
                    nullable: i % 2 == 0,
                    charset: (i == 12).then(|| "utf8mb4".to_string()),
                })
                .collect(),
            primary_key: vec!["c3".into()],
            default_charset: Some("latin2".into()),
        };
        let record = HistoryRecord {
            file: "mysql-bin.000002".into(),
            pos: 4711,
            baseline: true,
            ddl: None,
            tables: vec![table],
            dropped: vec![TableId::new("app", "gone")],
            db: Some("app".into()),
            charsets: Some(Defaults {
                server: "latin1".into(),
                databases: [("app".to_string(), "koi8r".to_string())].into(),
            }),
        };
        let doc = encode(&record, "inv", 1, 0);
        assert_eq!(doc["tableChanges"][0]["id"], "\"app\".\"odd\"\"name\"");
        assert_eq!(doc["tableChanges"][1]["type"], "DROP");
        assert_eq!(decode(&doc).unwrap(), record);
        // the line format of earlier sluice versions still reads
        let legacy = serde_json::to_value(&record).unwrap();
        assert_eq!(decode(&legacy).unwrap(), record);
    }

    #[test]
    fn reads_a_history_record_as_debezium_writes_it() {
        let doc: Json = serde_json::from_str(
            r#"{"source":{"server":"dbserver1"},"position":{"ts_sec":1700000000,"file":"mysql-bin.000003","pos":1234,"server_id":223344},
            "ts_ms":1700000000000,"databaseName":"inventory","ddl":"ALTER TABLE customers ADD COLUMN note VARCHAR(10)",
            "tableChanges":[{"type":"ALTER","id":"\"inventory\".\"customers\"","table":{"defaultCharsetName":"utf8mb4",
            "primaryKeyColumnNames":["id"],"columns":[
            {"name":"id","jdbcType":4,"typeName":"INT","typeExpression":"INT","charsetName":null,"position":1,"optional":false,"autoIncremented":true,"generated":true,"comment":null,"hasDefaultValue":false,"enumValues":[]},
            {"name":"price","jdbcType":3,"typeName":"DECIMAL UNSIGNED","typeExpression":"DECIMAL UNSIGNED","charsetName":null,"length":10,"scale":2,"position":2,"optional":true,"autoIncremented":false,"generated":false,"comment":null,"hasDefaultValue":false,"enumValues":[]},
            {"name":"note","jdbcType":12,"typeName":"VARCHAR","typeExpression":"VARCHAR","charsetName":"utf8mb4","length":10,"position":3,"optional":true,"autoIncremented":false,"generated":false,"comment":null,"hasDefaultValue":false,"enumValues":[]}],
            "attributes":[]},"comment":null}]}"#,
        )
        .unwrap();
        let r = decode(&doc).unwrap();
        assert_eq!(
            (r.file.as_str(), r.pos, r.baseline),
            ("mysql-bin.000003", 1234, false)
        );
        let t = &r.tables[0];
        assert_eq!(t.id, TableId::new("inventory", "customers"));
        assert_eq!(t.primary_key, vec!["id".to_string()]);
        assert_eq!(
            t.columns[1].ty,
            SqlType::Decimal {
                precision: 10,
                scale: 2
            }
        );
        assert_eq!(t.columns[2].ty, SqlType::VarChar);
        assert!(!t.columns[0].nullable);
        assert_eq!(t.columns[2].charset.as_deref(), Some("utf8mb4"));
        assert_eq!(t.default_charset.as_deref(), Some("utf8mb4"));
    }
}
