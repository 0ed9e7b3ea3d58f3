//! A record → the row it writes or the key it deletes.
//!
//! The row of a flat record is its value struct; of a Debezium change event (a value whose
//! schema name ends in `.Envelope`) its `after` image — `op: "d"` is a delete, as the Debezium
//! JDBC sink reads events without `ExtractNewRecordState`. A tombstone (or a null value) is a
//! delete when `delete.enabled`. Key columns per `pk.mode`: the key struct's fields (or, for a
//! primitive key, one column named by `pk.fields`), listed value fields, or Connect's
//! `__connect_topic` / `__connect_partition` / `__connect_offset`. Value fields that are key
//! columns are not written twice.

use std::sync::Arc;

use sluice_core::schema::{Schema, SchemaBuilder, SchemaType};
use sluice_core::{ChangeEvent, Data, Position, Value};

use super::config::{JdbcSinkConfig, PkMode};

/// One column of a row: its name, Connect schema and value.
#[derive(Debug, Clone)]
pub struct Cell {
    pub name: String,
    pub schema: Arc<Schema>,
    pub value: Value,
}

/// What one record does to its table.
#[derive(Debug, Clone)]
pub enum RowOp {
    /// Key cells first, then the other columns.
    Write {
        key: usize,
        cells: Vec<Cell>,
    },
    Delete {
        key: Vec<Cell>,
    },
    /// Nothing to do (a Debezium truncate without truncate.enabled, a tombstone without
    /// delete.enabled).
    Skip,
}

fn cells_of(d: &Data) -> Result<Vec<Cell>, String> {
    match (&d.schema, &d.value) {
        (Some(s), Value::Struct(values)) if s.ty == SchemaType::Struct => Ok(s
            .fields
            .iter()
            .zip(values)
            .map(|(f, v)| Cell {
                name: f.name.clone(),
                schema: Arc::clone(&f.schema),
                value: v.clone(),
            })
            .collect()),
        (None, Value::Map(entries)) => entries
            .iter()
            .map(|(k, v)| {
                let name = k.as_str().ok_or("a schemaless row needs string field names")?;
                Ok(Cell {
                    name: name.to_string(),
                    schema: schemaless_type(v),
                    value: v.clone(),
                })
            })
            .collect(),
        _ => Err("the JDBC sink writes struct (or map) values; this record's value is neither — add transforms (e.g. HoistField$Value) first".into()),
    }
}

/// A column type for a schemaless value (JSON without schemas).
fn schemaless_type(v: &Value) -> Arc<Schema> {
    let b = match v {
        Value::Boolean(_) => SchemaBuilder::boolean(),
        Value::Int8(_) | Value::Int16(_) | Value::Int32(_) | Value::Int64(_) => {
            SchemaBuilder::int64()
        }
        Value::Float32(_) | Value::Float64(_) => SchemaBuilder::float64(),
        Value::Bytes(_) => SchemaBuilder::bytes(),
        _ => SchemaBuilder::string(),
    };
    b.optional().build()
}

fn is_envelope(d: &Data) -> bool {
    d.schema.as_ref().is_some_and(|s| {
        s.name.as_deref().is_some_and(|n| n.ends_with(".Envelope")) && s.field("op").is_some()
    })
}

fn key_cells(
    cfg: &JdbcSinkConfig,
    r: &ChangeEvent,
    row: Option<&[Cell]>,
) -> Result<Vec<Cell>, String> {
    match cfg.pk_mode {
        PkMode::None => Ok(Vec::new()),
        PkMode::Kafka => {
            let Position::Kafka(k) = &r.position else {
                return Err("pk.mode=kafka needs records read from Kafka (their topic, partition and offset)".into());
            };
            Ok(vec![
                Cell {
                    name: "__connect_topic".into(),
                    schema: SchemaBuilder::string().build(),
                    value: Value::String(Arc::clone(&k.topic)),
                },
                Cell {
                    name: "__connect_partition".into(),
                    schema: SchemaBuilder::int32().build(),
                    value: Value::Int32(k.partition),
                },
                Cell {
                    name: "__connect_offset".into(),
                    schema: SchemaBuilder::int64().build(),
                    value: Value::Int64(k.offset),
                },
            ])
        }
        PkMode::RecordKey => {
            let key = r
                .key
                .as_ref()
                .filter(|k| !k.value.is_null())
                .ok_or("pk.mode=record_key but the record has no key")?;
            let all = match cells_of(key) {
                Ok(c) => c,
                Err(_) => {
                    // a primitive key: one column, named by pk.fields
                    let name = cfg
                        .pk_fields
                        .first()
                        .ok_or("the record key is a primitive: pk.fields must name its column")?;
                    vec![Cell {
                        name: name.clone(),
                        schema: key
                            .schema
                            .clone()
                            .unwrap_or_else(|| schemaless_type(&key.value)),
                        value: key.value.clone(),
                    }]
                }
            };
            if cfg.pk_fields.is_empty() || all.len() == 1 && all[0].name == cfg.pk_fields[0] {
                return Ok(all);
            }
            cfg.pk_fields
                .iter()
                .map(|f| {
                    all.iter().find(|c| &c.name == f).cloned().ok_or_else(|| {
                        format!("pk.fields names {f:?}, which the record key does not have")
                    })
                })
                .collect()
        }
        PkMode::RecordValue => {
            let row = row.ok_or("pk.mode=record_value cannot delete (no value)")?;
            cfg.pk_fields
                .iter()
                .map(|f| {
                    row.iter().find(|c| &c.name == f).cloned().ok_or_else(|| {
                        format!("pk.fields names {f:?}, which the record value does not have")
                    })
                })
                .collect()
        }
    }
}

/// What `r` does to its table.
pub fn row_op(cfg: &JdbcSinkConfig, r: &ChangeEvent) -> Result<RowOp, String> {
    let value = r.value.as_ref().filter(|v| !v.value.is_null());
    let row = match value {
        None => None,
        Some(v) if is_envelope(v) => {
            let s = v
                .schema
                .as_ref()
                .map(Arc::clone)
                .unwrap_or_else(|| SchemaBuilder::structure().build());
            let get = |name: &str| {
                s.field_index(name)
                    .and_then(|i| v.value.as_struct().and_then(|f| f.get(i)))
            };
            match get("op").and_then(Value::as_str) {
                Some("d") => None,
                Some("t") => {
                    if cfg.truncate_enabled {
                        return Err(
                            "truncate events are not applied by this build (truncate.enabled)"
                                .into(),
                        );
                    }
                    return Ok(RowOp::Skip);
                }
                _ => {
                    let i = s.field_index("after").ok_or("envelope without after")?;
                    let after = Data {
                        schema: Some(Arc::clone(&s.fields[i].schema)),
                        value: get("after").cloned().unwrap_or(Value::Null),
                    };
                    if after.value.is_null() {
                        None
                    } else {
                        Some(cells_of(&after)?)
                    }
                }
            }
        }
        Some(v) => Some(cells_of(v)?),
    };
    match row {
        None => {
            if !cfg.delete_enabled {
                return Ok(RowOp::Skip);
            }
            Ok(RowOp::Delete {
                key: key_cells(cfg, r, None)?,
            })
        }
        Some(row) => {
            let key = key_cells(cfg, r, Some(&row))?;
            let n = key.len();
            let mut cells = key;
            for c in row {
                if !cells[..n].iter().any(|k| k.name == c.name) {
                    cells.push(c);
                }
            }
            Ok(RowOp::Write { key: n, cells })
        }
    }
}
