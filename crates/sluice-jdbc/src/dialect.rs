//! What differs between PostgreSQL, MySQL/MariaDB and SQLite: identifier quoting, column
//! types for Connect schemas, parameters, and the upsert / delete statements.
//!
//! Values are bound as text (or bytes) and the database converts them: PostgreSQL through an
//! explicit cast to the column's type (`$1::numeric(12,2)`), MySQL and SQLite implicitly. Text is
//! rendered from the value's Connect schema, logical types included: Connect and Debezium
//! dates (days), times (ms/µs) and timestamps (ms/µs/ns) as ISO text, `ZonedTimestamp` as
//! given (PostgreSQL `timestamptz`) or as UTC without the zone (MySQL `DATETIME`), decimals as
//! plain numbers, booleans as `true`/`false` (PostgreSQL) or `1`/`0`.

use sluice_core::schema::{logical, Schema, SchemaType};
use sluice_core::Value;

pub use crate::url::Dialect;

/// One bound parameter.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Param {
    Null,
    Text(String),
    Bytes(Vec<u8>),
    /// A PostgreSQL `text[]` (one column of a batch, for `UNNEST`).
    TextArray(Vec<Option<String>>),
    /// A PostgreSQL `bytea[]`.
    BytesArray(Vec<Option<Vec<u8>>>),
}

const NANO_TIMESTAMP: &str = "io.debezium.time.NanoTimestamp";
const NANO_TIME: &str = "io.debezium.time.NanoTime";

impl Dialect {
    pub fn quote(self, ident: &str) -> String {
        match self {
            Dialect::MySql => format!("`{}`", ident.replace('`', "``")),
            _ => format!("\"{}\"", ident.replace('"', "\"\"")),
        }
    }

    /// A (possibly schema-qualified, `schema.table`) table name, quoted.
    pub fn table(self, name: &TableName) -> String {
        match &name.schema {
            Some(s) => format!("{}.{}", self.quote(s), self.quote(&name.table)),
            None => self.quote(&name.table),
        }
    }

    /// The most parameters one statement may bind.
    pub fn max_params(self) -> usize {
        match self {
            Dialect::Postgres => 65_535,
            Dialect::MySql => 65_535,
            Dialect::Sqlite => 32_766,
        }
    }

    /// The `n`-th placeholder (1-based) for a column of database type `ty`.
    pub fn placeholder(self, n: usize, ty: &str) -> String {
        match self {
            Dialect::Postgres => format!("${n}::{ty}"),
            _ => "?".to_string(),
        }
    }

    /// The column type `CREATE TABLE` / `ALTER TABLE` uses for a Connect schema (`key`: part
    /// of the primary key, where MySQL needs bounded types).
    pub fn column_type(self, s: &Schema, key: bool) -> String {
        use Dialect::*;
        let name = s.name.as_deref();
        let t = match (self, name) {
            (_, Some(logical::DECIMAL)) => {
                let scale = s.parameter("scale").unwrap_or("0");
                match (self, s.parameter("connect.decimal.precision")) {
                    (Postgres, Some(p)) => format!("NUMERIC({p},{scale})"),
                    (Postgres, None) => "NUMERIC".into(),
                    (MySql, Some(p)) => format!("DECIMAL({p},{scale})"),
                    (MySql, None) => format!("DECIMAL(65,{scale})"),
                    (Sqlite, _) => "NUMERIC".into(),
                }
            }
            (
                Sqlite,
                Some(
                    logical::CONNECT_DATE
                    | logical::DATE
                    | logical::CONNECT_TIME
                    | logical::TIME
                    | logical::MICRO_TIME
                    | NANO_TIME
                    | logical::CONNECT_TIMESTAMP
                    | logical::TIMESTAMP
                    | logical::MICRO_TIMESTAMP
                    | NANO_TIMESTAMP
                    | logical::ZONED_TIMESTAMP,
                ),
            ) => "TEXT".into(),
            (_, Some(logical::CONNECT_DATE | logical::DATE)) => "DATE".into(),
            (
                Postgres,
                Some(logical::CONNECT_TIME | logical::TIME | logical::MICRO_TIME | NANO_TIME),
            ) => "TIME".into(),
            (MySql, Some(logical::CONNECT_TIME | logical::TIME)) => "TIME(3)".into(),
            (MySql, Some(logical::MICRO_TIME | NANO_TIME)) => "TIME(6)".into(),
            (
                Postgres,
                Some(
                    logical::CONNECT_TIMESTAMP
                    | logical::TIMESTAMP
                    | logical::MICRO_TIMESTAMP
                    | NANO_TIMESTAMP,
                ),
            ) => "TIMESTAMP".into(),
            (MySql, Some(logical::CONNECT_TIMESTAMP | logical::TIMESTAMP)) => "DATETIME(3)".into(),
            (MySql, Some(logical::MICRO_TIMESTAMP | NANO_TIMESTAMP)) => "DATETIME(6)".into(),
            (Postgres, Some(logical::ZONED_TIMESTAMP)) => "TIMESTAMPTZ".into(),
            (MySql, Some(logical::ZONED_TIMESTAMP)) => "DATETIME(6)".into(),
            (Postgres, Some(logical::JSON)) => "JSONB".into(),
            (MySql, Some(logical::JSON)) if !key => "JSON".into(),
            _ => match (self, s.ty) {
                (
                    Sqlite,
                    SchemaType::Int8
                    | SchemaType::Int16
                    | SchemaType::Int32
                    | SchemaType::Int64
                    | SchemaType::Boolean,
                ) => "INTEGER".into(),
                (Sqlite, SchemaType::Float32 | SchemaType::Float64) => "REAL".into(),
                (Sqlite, SchemaType::Bytes) => "BLOB".into(),
                (Sqlite, _) => "TEXT".into(),
                (MySql, SchemaType::Int8) => "TINYINT".into(),
                (_, SchemaType::Int8 | SchemaType::Int16) => "SMALLINT".into(),
                (MySql, SchemaType::Int32) => "INT".into(),
                (_, SchemaType::Int32) => "INTEGER".into(),
                (_, SchemaType::Int64) => "BIGINT".into(),
                (MySql, SchemaType::Float32) => "FLOAT".into(),
                (_, SchemaType::Float32) => "REAL".into(),
                (MySql, SchemaType::Float64) => "DOUBLE".into(),
                (_, SchemaType::Float64) => "DOUBLE PRECISION".into(),
                (MySql, SchemaType::Boolean) => "TINYINT(1)".into(),
                (_, SchemaType::Boolean) => "BOOLEAN".into(),
                (Postgres, SchemaType::Bytes) => "BYTEA".into(),
                (MySql, SchemaType::Bytes) if key => "VARBINARY(255)".into(),
                (MySql, SchemaType::Bytes) => "LONGBLOB".into(),
                (MySql, _) if key => "VARCHAR(255)".into(),
                (MySql, _) => "LONGTEXT".into(),
                (Postgres, _) => "TEXT".into(),
            },
        };
        t
    }

    /// A value of Connect schema `s` as a parameter.
    pub fn param(self, s: &Schema, v: &Value) -> Param {
        if v.is_null() {
            return Param::Null;
        }
        let name = s.name.as_deref();
        let int = v.as_i64();
        let text = |t: String| Param::Text(t);
        match (name, v) {
            (Some(logical::CONNECT_DATE | logical::DATE), _) if int.is_some() => {
                text(date(int.unwrap_or(0)))
            }
            (Some(logical::CONNECT_TIME | logical::TIME), _) if int.is_some() => {
                text(time(int.unwrap_or(0) * 1000))
            }
            (Some(logical::MICRO_TIME), _) if int.is_some() => text(time(int.unwrap_or(0))),
            (Some(NANO_TIME), _) if int.is_some() => text(time(int.unwrap_or(0) / 1000)),
            (Some(logical::CONNECT_TIMESTAMP | logical::TIMESTAMP), _) if int.is_some() => {
                text(timestamp(int.unwrap_or(0) * 1000))
            }
            (Some(logical::MICRO_TIMESTAMP), _) if int.is_some() => {
                text(timestamp(int.unwrap_or(0)))
            }
            (Some(NANO_TIMESTAMP), _) if int.is_some() => text(timestamp(int.unwrap_or(0) / 1000)),
            (Some(logical::ZONED_TIMESTAMP), Value::String(z)) if self == Dialect::MySql => {
                text(z.trim_end_matches('Z').replace('T', " "))
            }
            (_, Value::Boolean(b)) => match self {
                Dialect::Postgres => text(b.to_string()),
                _ => text(if *b { "1" } else { "0" }.into()),
            },
            (_, Value::Bytes(b)) => Param::Bytes(b.clone()),
            (_, Value::Decimal(d)) => text(d.to_plain_string()),
            (_, Value::String(t)) => text(t.to_string()),
            (_, Value::Float32(f)) => text(float(f64::from(*f))),
            (_, Value::Float64(f)) => text(float(*f)),
            (_, Value::Array(_) | Value::Map(_) | Value::Struct(_)) => {
                let mut out = Vec::new();
                sluice_connect::json::write_value(
                    &sluice_connect::JsonConverterConfig {
                        schemas_enable: false,
                        decimal_format: sluice_connect::DecimalFormat::Numeric,
                    },
                    s,
                    v,
                    &mut out,
                );
                text(String::from_utf8_lossy(&out).into_owned())
            }
            _ => text(int.map(|i| i.to_string()).unwrap_or_default()),
        }
    }
}

fn float(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f.is_infinite() {
        if f > 0.0 { "Infinity" } else { "-Infinity" }.into()
    } else {
        f.to_string()
    }
}

/// (year, month, day) of a day number since 1970-01-01.
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

// Dates and times are rendered by hand into one buffer: one allocation per value, no
// formatting machinery (a batch renders hundreds of thousands of them).

/// Appends `v` in decimal, zero-padded to `width` digits.
fn push_padded(out: &mut String, v: u64, width: usize) {
    let mut buf = itoa::Buffer::new();
    let digits = buf.format(v);
    for _ in digits.len()..width {
        out.push('0');
    }
    out.push_str(digits);
}

/// `YYYY-MM-DD` of a day number since 1970-01-01 (a negative year gets a sign).
fn push_date(out: &mut String, days: i64) {
    let (y, m, d) = civil(days);
    if y < 0 {
        out.push('-');
    }
    push_padded(out, y.unsigned_abs(), 4);
    out.push('-');
    push_padded(out, u64::from(m), 2);
    out.push('-');
    push_padded(out, u64::from(d), 2);
}

/// `HH:MM:SS.ffffff` of microseconds (past midnight, or of a duration: hours may exceed 23).
fn push_time(out: &mut String, micros: i64) {
    if micros < 0 {
        out.push('-');
    }
    let m = micros.unsigned_abs();
    let rest = m % 3_600_000_000;
    push_padded(out, m / 3_600_000_000, 2);
    out.push(':');
    push_padded(out, rest / 60_000_000, 2);
    out.push(':');
    push_padded(out, rest / 1_000_000 % 60, 2);
    out.push('.');
    push_padded(out, rest % 1_000_000, 6);
}

fn date(days: i64) -> String {
    let mut out = String::with_capacity(10);
    push_date(&mut out, days);
    out
}

fn time(micros: i64) -> String {
    let mut out = String::with_capacity(15);
    push_time(&mut out, micros);
    out
}

fn timestamp(micros: i64) -> String {
    let mut out = String::with_capacity(26);
    push_date(&mut out, micros.div_euclid(86_400_000_000));
    out.push(' ');
    push_time(&mut out, micros.rem_euclid(86_400_000_000));
    out
}

/// A target table: `schema.table` or just `table`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TableName {
    pub schema: Option<String>,
    pub table: String,
}

impl TableName {
    /// `table.name.format` applied to a topic: `${topic}` (dots in the topic become
    /// underscores); a dot in the format itself separates schema and table.
    pub fn from_format(format: &str, topic: &str) -> TableName {
        let (schema, table) = match format.split_once('.') {
            Some((s, t)) if !s.contains("${topic}") => (Some(s.to_string()), t.to_string()),
            _ => (None, format.to_string()),
        };
        let fill = |s: &str| s.replace("${topic}", &topic.replace('.', "_"));
        TableName {
            schema: schema.map(|s| fill(&s)),
            table: fill(&table),
        }
    }
}

impl std::fmt::Display for TableName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.schema {
            Some(s) => write!(f, "{s}.{}", self.table),
            None => write!(f, "{}", self.table),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_core::SchemaBuilder;

    #[test]
    fn temporal_values_render_as_iso_text() {
        let d = SchemaBuilder::int32().name(logical::DATE).build();
        assert_eq!(
            Dialect::Postgres.param(&d, &Value::Int32(-1)),
            Param::Text("1969-12-31".into())
        );
        let ts = SchemaBuilder::int64()
            .name(logical::MICRO_TIMESTAMP)
            .build();
        assert_eq!(
            Dialect::MySql.param(&ts, &Value::Int64(1_700_000_000_123_456)),
            Param::Text("2023-11-14 22:13:20.123456".into())
        );
        assert_eq!(
            Dialect::Postgres.param(&ts, &Value::Int64(-1)),
            Param::Text("1969-12-31 23:59:59.999999".into())
        );
        assert_eq!(
            Dialect::Postgres.param(&ts, &Value::Int64(253_402_300_799_000_000)),
            Param::Text("9999-12-31 23:59:59.000000".into())
        );
        let t = SchemaBuilder::int64().name(logical::MICRO_TIME).build();
        assert_eq!(
            Dialect::Postgres.param(&t, &Value::Int64(3_723_000_001)),
            Param::Text("01:02:03.000001".into())
        );
        assert_eq!(time(-3_723_000_001), "-01:02:03.000001");
        assert_eq!(time(100 * 3_600_000_000), "100:00:00.000000");
        let z = SchemaBuilder::string()
            .name(logical::ZONED_TIMESTAMP)
            .build();
        assert_eq!(
            Dialect::MySql.param(&z, &Value::String("2024-01-02T03:04:05.5Z".into())),
            Param::Text("2024-01-02 03:04:05.5".into())
        );
        let b = SchemaBuilder::boolean().build();
        assert_eq!(
            Dialect::MySql.param(&b, &Value::Boolean(true)),
            Param::Text("1".into())
        );
        assert_eq!(
            Dialect::Postgres.param(&b, &Value::Boolean(true)),
            Param::Text("true".into())
        );
    }

    #[test]
    fn types_per_dialect() {
        let dec = SchemaBuilder::bytes()
            .name(logical::DECIMAL)
            .parameter("scale", "2")
            .parameter("connect.decimal.precision", "12")
            .build();
        assert_eq!(Dialect::Postgres.column_type(&dec, false), "NUMERIC(12,2)");
        assert_eq!(Dialect::MySql.column_type(&dec, false), "DECIMAL(12,2)");
        let s = SchemaBuilder::string().build();
        assert_eq!(Dialect::MySql.column_type(&s, true), "VARCHAR(255)");
        assert_eq!(Dialect::Postgres.column_type(&s, true), "TEXT");
    }

    #[test]
    fn table_names_from_topics() {
        assert_eq!(
            TableName::from_format("${topic}", "db1.inv.orders"),
            TableName {
                schema: None,
                table: "db1_inv_orders".into()
            }
        );
        assert_eq!(
            TableName::from_format("public.${topic}_copy", "orders"),
            TableName {
                schema: Some("public".into()),
                table: "orders_copy".into()
            }
        );
    }
}
