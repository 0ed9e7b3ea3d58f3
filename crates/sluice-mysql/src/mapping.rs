//! Debezium's MySQL type mapping and the per-table Connect schemas.
//!
//! For every captured column, [`column_mapping`] yields the field schema Debezium would declare
//! and a [`Conv`] telling the row decoder how to turn the binlog value into that Connect value.
//! The facts were checked against Debezium 3.6 output on the same rows (tests/fixtures): e.g.
//! TINYINT(1) stays INT16, unsigned BIGINT wraps in `long` mode, MariaDB's JSON (a LONGTEXT
//! alias) is a plain string while MySQL's native JSON is `io.debezium.data.Json`, BIT(n) bytes
//! are little-endian, TIMESTAMP(n) is a UTC `ZonedTimestamp` with exactly n fraction digits.

use std::sync::Arc;

use sluice_core::schema::logical;
use sluice_core::{Schema, SchemaBuilder};

use crate::charset::Charset;
use crate::config::{BigintUnsignedMode, BinaryMode, DecimalMode, MySqlConfig, TimePrecisionMode};
use crate::error::MySqlError;
use crate::table::{ColumnDef, SqlType, TableDef, TableId};

/// How a decoded binlog value becomes the Connect value of its field.
#[derive(Debug, Clone, PartialEq)]
pub enum Conv {
    Bool,
    /// A BOOLEAN (TINYINT) column: any non-zero integer is true.
    IntBool,
    Bits {
        bits: u32,
    },
    Int16,
    Int32,
    Int64,
    /// BIGINT UNSIGNED in `long` mode: the 64 bits reinterpreted as a signed long.
    UnsignedLong,
    UnsignedPrecise,
    Float32,
    Float64,
    DecimalPrecise,
    DecimalDouble,
    DecimalString,
    /// Text in the column's character set (binlog bytes are decoded with it; snapshot values
    /// arrive as utf8mb4, see `charset`).
    Text(Charset),
    Binary {
        pad_to: Option<u32>,
        mode: BinaryMode,
    },
    Date,
    TimeMicros,
    TimeMillis,
    DateTimeMillis,
    DateTimeMicros,
    ZonedTimestamp {
        fsp: u32,
    },
    Year,
    /// MySQL's binary JSON (type 245) rendered as text; MariaDB's JSON is [`Conv::Text`].
    Json,
    Enum(Arc<[String]>),
    Set(Arc<[String]>),
    Geometry,
    Uuid,
    Inet4,
    Inet6,
}

/// The field schema and value conversion of one column. `table_charset` is the table's default
/// character set, used for a text column whose own is not recorded (histories written before
/// sluice kept it); without either, utf8mb4.
pub fn column_mapping(
    table: &TableId,
    col: &ColumnDef,
    table_charset: Option<&str>,
    cfg: &MySqlConfig,
) -> Result<(Arc<Schema>, Conv), MySqlError> {
    use SqlType as T;
    let b = |builder: SchemaBuilder| builder.optional_if(col.nullable);
    let named = |builder: SchemaBuilder, name: &str| b(builder.name(name).version(1));
    let adaptive = cfg.time_precision != TimePrecisionMode::Connect;
    let (builder, conv) = match &col.ty {
        T::Bit(1) => (b(SchemaBuilder::boolean()), Conv::Bool),
        T::Bit(n) => (
            named(SchemaBuilder::bytes(), logical::BITS).parameter("length", n.to_string()),
            Conv::Bits { bits: *n },
        ),
        T::TinyInt { .. } => (b(SchemaBuilder::int16()), Conv::Int16),
        T::Boolean => (b(SchemaBuilder::boolean()), Conv::IntBool),
        T::SmallInt { unsigned: false } => (b(SchemaBuilder::int16()), Conv::Int16),
        T::SmallInt { unsigned: true } | T::MediumInt { .. } | T::Int { unsigned: false } => {
            (b(SchemaBuilder::int32()), Conv::Int32)
        }
        T::Int { unsigned: true } | T::BigInt { unsigned: false } => (b(SchemaBuilder::int64()), Conv::Int64),
        T::BigInt { unsigned: true } => match cfg.bigint_unsigned {
            BigintUnsignedMode::Long => (b(SchemaBuilder::int64()), Conv::UnsignedLong),
            BigintUnsignedMode::Precise => (decimal_schema(20, 0, col.nullable), Conv::UnsignedPrecise),
        },
        T::Float { precision } if precision.is_some_and(|p| p > 23) => {
            (b(SchemaBuilder::float64()), Conv::Float64)
        }
        T::Float { .. } => (b(SchemaBuilder::float32()), Conv::Float32),
        T::Double => (b(SchemaBuilder::float64()), Conv::Float64),
        T::Decimal { precision, scale } => match cfg.decimal_mode {
            DecimalMode::Precise => (decimal_schema(*precision, *scale, col.nullable), Conv::DecimalPrecise),
            DecimalMode::Double => (b(SchemaBuilder::float64()), Conv::DecimalDouble),
            DecimalMode::String => (b(SchemaBuilder::string()), Conv::DecimalString),
        },
        T::Char | T::VarChar | T::Text => {
            let name = col.charset.as_deref().or(table_charset).unwrap_or("utf8mb4");
            match Charset::by_name(name) {
                Ok(Charset::Binary) => binary(col, cfg.binary_mode, None),
                Ok(cs) => (b(SchemaBuilder::string()), Conv::Text(cs)),
                Err(e) => {
                    return Err(MySqlError::UnsupportedType {
                        table: table.to_string(),
                        column: col.name.clone(),
                        message: format!("{e} (here: column.exclude.list={table}.{})", col.name),
                    })
                }
            }
        }
        T::Binary(n) => binary(col, cfg.binary_mode, Some(*n)),
        T::VarBinary | T::Blob => binary(col, cfg.binary_mode, None),
        T::Date if adaptive => (named(SchemaBuilder::int32(), logical::DATE), Conv::Date),
        T::Date => (named(SchemaBuilder::int32(), logical::CONNECT_DATE), Conv::Date),
        T::Time { fsp } => match cfg.time_precision {
            TimePrecisionMode::AdaptiveTimeMicroseconds => {
                (named(SchemaBuilder::int64(), logical::MICRO_TIME), Conv::TimeMicros)
            }
            TimePrecisionMode::Adaptive if *fsp <= 3 => {
                (named(SchemaBuilder::int32(), logical::TIME), Conv::TimeMillis)
            }
            TimePrecisionMode::Adaptive => (named(SchemaBuilder::int64(), logical::MICRO_TIME), Conv::TimeMicros),
            TimePrecisionMode::Connect => {
                (named(SchemaBuilder::int32(), logical::CONNECT_TIME), Conv::TimeMillis)
            }
        },
        T::DateTime { fsp } if adaptive && *fsp <= 3 => {
            (named(SchemaBuilder::int64(), logical::TIMESTAMP), Conv::DateTimeMillis)
        }
        T::DateTime { .. } if adaptive => {
            (named(SchemaBuilder::int64(), logical::MICRO_TIMESTAMP), Conv::DateTimeMicros)
        }
        T::DateTime { .. } => (
            named(SchemaBuilder::int64(), logical::CONNECT_TIMESTAMP),
            Conv::DateTimeMillis,
        ),
        T::Timestamp { fsp } => (
            named(SchemaBuilder::string(), logical::ZONED_TIMESTAMP),
            Conv::ZonedTimestamp { fsp: *fsp },
        ),
        T::Year => (named(SchemaBuilder::int32(), logical::YEAR), Conv::Year),
        T::Json => (named(SchemaBuilder::string(), logical::JSON), Conv::Json),
        T::Enum(labels) => (
            named(SchemaBuilder::string(), logical::ENUM).parameter("allowed", labels.join(",")),
            Conv::Enum(labels.clone().into()),
        ),
        T::Set(labels) => (
            named(SchemaBuilder::string(), logical::ENUM_SET).parameter("allowed", labels.join(",")),
            Conv::Set(labels.clone().into()),
        ),
        T::Geometry => (
            b(SchemaBuilder::structure()
                .name("io.debezium.data.geometry.Geometry")
                .version(1)
                .doc("Geometry")
                .field("wkb", SchemaBuilder::bytes().build())
                .field("srid", SchemaBuilder::int32().optional().build())),
            Conv::Geometry,
        ),
        T::Uuid => (b(SchemaBuilder::string()), Conv::Uuid),
        T::Inet4 => (b(SchemaBuilder::string()), Conv::Inet4),
        T::Inet6 => (b(SchemaBuilder::string()), Conv::Inet6),
        T::Other(name) => {
            return Err(MySqlError::UnsupportedType {
                table: table.to_string(),
                column: col.name.clone(),
                message: format!(
                    "type {name:?} has no Debezium mapping in sluice; exclude the column with column.exclude.list={table}.{}",
                    col.name
                ),
            })
        }
    };
    Ok((builder.build(), conv))
}

fn decimal_schema(precision: u32, scale: u32, optional: bool) -> SchemaBuilder {
    SchemaBuilder::bytes()
        .optional_if(optional)
        .name(logical::DECIMAL)
        .version(1)
        .parameter("scale", scale.to_string())
        .parameter("connect.decimal.precision", precision.to_string())
}

fn binary(col: &ColumnDef, mode: BinaryMode, pad_to: Option<u32>) -> (SchemaBuilder, Conv) {
    let schema = match mode {
        BinaryMode::Bytes => SchemaBuilder::bytes(),
        _ => SchemaBuilder::string(),
    };
    (
        schema.optional_if(col.nullable),
        Conv::Binary { pad_to, mode },
    )
}

/// The Debezium `source` block schema of the MySQL connector (field order as Debezium 3.6);
/// `connector` is "mysql" or "mariadb" (Debezium's MariaDB connector names it
/// `io.debezium.connector.mariadb.Source`, with the same fields).
pub fn source_schema(connector: &str) -> Arc<Schema> {
    let s = || SchemaBuilder::string().build();
    let os = || SchemaBuilder::string().optional().build();
    let oi64 = || SchemaBuilder::int64().optional().build();
    sluice_cdc::envelope::source_schema_head(&format!("io.debezium.connector.{connector}.Source"))
        .field("table", os())
        .field("server_id", SchemaBuilder::int64().build())
        .field("gtid", os())
        .field("file", s())
        .field("pos", SchemaBuilder::int64().build())
        .field("row", SchemaBuilder::int32().build())
        .field("thread", oi64())
        .field("query", os())
        .build()
}

/// A captured column: where it is in the row image and how to convert it.
#[derive(Debug, Clone)]
pub struct ColumnPlan {
    pub table_index: usize,
    pub conv: Conv,
}

/// Everything needed to turn rows of one table into Debezium events.
#[derive(Debug, Clone)]
pub struct TableSchemas {
    pub def: TableDef,
    /// `source.db` and `source.table`, shared by every event of the table.
    pub db: Arc<str>,
    pub table: Arc<str>,
    pub topic: Arc<str>,
    /// Key struct schema; `None` when the table has no primary key (events have a null key).
    pub key: Option<Arc<Schema>>,
    pub value: Arc<Schema>,
    pub envelope: Arc<Schema>,
    /// Captured columns, in value-struct field order.
    pub columns: Vec<ColumnPlan>,
    /// For each key field, its index in `columns`.
    pub key_fields: Vec<usize>,
}

impl TableSchemas {
    pub fn build(
        def: &TableDef,
        cfg: &MySqlConfig,
        source: &Arc<Schema>,
    ) -> Result<TableSchemas, MySqlError> {
        let id = &def.id;
        let base = format!("{}.{}.{}", cfg.topic_prefix, id.db, id.table);
        let mut value = SchemaBuilder::structure()
            .optional()
            .name(format!("{base}.Value"));
        let mut columns = Vec::new();
        let mut fields = Vec::new();
        for (i, col) in def.columns.iter().enumerate() {
            let is_key = def
                .primary_key
                .iter()
                .any(|k| k.eq_ignore_ascii_case(&col.name));
            if !is_key && !cfg.filters.column(&id.db, &id.table, &col.name) {
                continue;
            }
            let (schema, conv) = column_mapping(id, col, def.default_charset.as_deref(), cfg)?;
            value = value.field(col.name.clone(), Arc::clone(&schema));
            fields.push((col.name.clone(), schema));
            columns.push(ColumnPlan {
                table_index: i,
                conv,
            });
        }
        let value = value.build();
        let mut key_fields = Vec::new();
        let key = if def.primary_key.is_empty() {
            None
        } else {
            let mut k = SchemaBuilder::structure().name(format!("{base}.Key"));
            for pk in &def.primary_key {
                let idx = fields
                    .iter()
                    .position(|(n, _)| n.eq_ignore_ascii_case(pk))
                    .ok_or_else(|| {
                        MySqlError::History(format!("primary key column {pk} missing from {id}"))
                    })?;
                k = k.field(fields[idx].0.clone(), Arc::clone(&fields[idx].1));
                key_fields.push(idx);
            }
            Some(k.build())
        };
        let envelope = sluice_cdc::envelope::envelope_schema(&base, &value, source);
        Ok(TableSchemas {
            def: def.clone(),
            db: Arc::from(id.db.as_str()),
            table: Arc::from(id.table.as_str()),
            topic: Arc::from(base.as_str()),
            key,
            value,
            envelope,
            columns,
            key_fields,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> MySqlConfig {
        let props = [
            ("database.hostname", "127.0.0.1"),
            ("database.user", "cdc"),
            ("database.server.id", "1"),
            ("topic.prefix", "p"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        MySqlConfig::from_properties("t", &props).unwrap()
    }

    fn text(charset: Option<&str>) -> ColumnDef {
        ColumnDef {
            name: "c".into(),
            ty: SqlType::VarChar,
            nullable: true,
            charset: charset.map(str::to_string),
        }
    }

    #[test]
    fn a_text_column_decodes_with_its_own_charset_else_the_tables() {
        let id = TableId::new("app", "t");
        let conv = |col: &ColumnDef, table: Option<&str>| {
            column_mapping(&id, col, table, &cfg()).unwrap().1
        };
        let latin2 = Charset::by_name("latin2").unwrap();
        assert_eq!(
            conv(&text(Some("latin2")), Some("koi8r")),
            Conv::Text(latin2)
        );
        assert_eq!(conv(&text(None), Some("latin2")), Conv::Text(latin2));
        assert_eq!(conv(&text(None), None), Conv::Text(Charset::Utf8));
        // a text column in character set binary is bytes
        let (schema, conv) = column_mapping(&id, &text(Some("binary")), None, &cfg()).unwrap();
        assert!(matches!(conv, Conv::Binary { pad_to: None, .. }));
        assert_eq!(schema.ty, sluice_core::schema::SchemaType::Bytes);
    }

    #[test]
    fn a_charset_without_a_decoder_is_refused_naming_the_column_to_exclude() {
        let id = TableId::new("app", "t");
        let e = column_mapping(&id, &text(Some("cp850")), None, &cfg()).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("\"cp850\""), "{msg}");
        assert!(msg.contains("column.exclude.list=app.t.c"), "{msg}");
    }
}
