//! PostgreSQL column types → Connect schemas and values, as Debezium's PostgreSQL connector maps
//! them (checked against Debezium 3.6's output, see tests/postgres_types.rs).
//!
//! Values arrive as PostgreSQL's *text* output, both from pgoutput (text mode) and from the
//! snapshot (`COPY … TO STDOUT`), so one decoder serves both; only `infinity` and `-infinity`
//! convert differently by where they were read ([`crate::infinity`]). Sessions run with
//! `TimeZone=UTC`, `DateStyle=ISO`, `IntervalStyle=iso_8601` and `extra_float_digits=3`, which
//! fixes the text forms parsed here.

use std::sync::Arc;

use base64::Engine;
use sluice_core::civil::{civil_from_days, date, offset, split_time, time, timestamp};
use sluice_core::decimal::Decimal;
use sluice_core::schema::logical;
use sluice_core::{Schema, SchemaBuilder, Value};

use crate::config::{BinaryMode, DecimalMode, IntervalMode, PgConfig, TimePrecision};
use crate::infinity::{self, Origin};

/// A type of the database (`pg_type`), resolved: domains to their base type, arrays to their
/// element type.
#[derive(Debug, Clone)]
pub struct PgType {
    pub oid: u32,
    pub name: String,
    /// `typtype`: b(ase), e(num), d(omain), r(ange), c(omposite), m(ultirange), p(seudo).
    pub kind: u8,
    /// For arrays: the element type.
    pub elem: Option<Arc<PgType>>,
    /// For domains: the base type (and the base type's modifier).
    pub base: Option<(Arc<PgType>, i32)>,
    /// For enums: the labels in sort order.
    pub labels: Vec<String>,
}

/// A column of a captured table.
#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    pub ty: Arc<PgType>,
    pub typmod: i32,
    pub not_null: bool,
    /// The default expression (`pg_get_expr` of `pg_attrdef`).
    pub default: Option<String>,
}

/// How a column's text becomes a Connect value.
#[derive(Debug, Clone, PartialEq)]
pub enum Conv {
    Bool,
    I16,
    I32,
    I64,
    F32,
    F64,
    /// NUMERIC(p,s) / MONEY in precise mode: a Connect Decimal of this scale.
    Decimal(u32),
    /// NUMERIC without a declared scale: `io.debezium.data.VariableScaleDecimal`.
    VarDecimal,
    DecimalDouble,
    DecimalString,
    /// MONEY (`$1,234.50`): strip the currency, then like NUMERIC(…,2).
    Money(Box<Conv>),
    Str,
    Bytes(BinaryMode),
    Date,
    /// TIME as int32 milliseconds (`io.debezium.time.Time`, Connect Time).
    TimeMillis,
    /// TIME as int64 microseconds (`io.debezium.time.MicroTime`).
    TimeMicros,
    /// TIMETZ as `io.debezium.time.ZonedTime` (UTC, ISO-8601).
    TimeTz,
    TimestampMillis,
    TimestampMicros,
    /// TIMESTAMPTZ as `io.debezium.time.ZonedTimestamp` with this many fraction digits.
    TimestampTz(u32),
    Interval(IntervalMode),
    /// BIT(1) as a boolean.
    Bit,
    /// BIT(n) / VARBIT as `io.debezium.data.Bits` (little-endian bytes of the number).
    Bits,
    Point,
    /// An array of `item`s; `required_items`: the items' schema is not optional (enum and
    /// tsvector items, as Debezium has them), so an array with a NULL item cannot be
    /// represented.
    Array {
        item: Box<Conv>,
        required_items: bool,
    },
    /// A type sluice does not know (`include.unknown.datatypes=true`): its text as bytes.
    Unknown,
}

/// Debezium's precision of a TIME/TIMESTAMP column from its modifier (6 when not declared).
fn precision(typmod: i32) -> u32 {
    if typmod < 0 {
        6
    } else {
        (typmod as u32).min(6)
    }
}

/// `(schema without optionality, conversion)` for a column type; `None` for an unknown type.
pub fn mapping(ty: &PgType, typmod: i32, cfg: &PgConfig) -> Option<(SchemaBuilder, Conv)> {
    if let Some((base, base_mod)) = &ty.base {
        return mapping(base, if typmod >= 0 { typmod } else { *base_mod }, cfg);
    }
    if let Some(elem) = &ty.elem {
        return array_mapping(elem, typmod, cfg);
    }
    if ty.kind == b'e' {
        return Some((
            SchemaBuilder::string()
                .name(logical::ENUM)
                .version(1)
                .parameter("allowed", ty.labels.join(",")),
            Conv::Str,
        ));
    }
    let connect = cfg.time_precision == TimePrecision::Connect;
    let decimal = |scale: Option<u32>, precision: Option<u32>| match (cfg.decimal_mode, scale) {
        (DecimalMode::Double, _) => (SchemaBuilder::float64(), Conv::DecimalDouble),
        (DecimalMode::String, _) => (SchemaBuilder::string(), Conv::DecimalString),
        (DecimalMode::Precise, None) => (
            SchemaBuilder::structure()
                .name("io.debezium.data.VariableScaleDecimal")
                .version(1)
                .doc("Variable scaled decimal")
                .field("scale", SchemaBuilder::int32().build())
                .field("value", SchemaBuilder::bytes().build()),
            Conv::VarDecimal,
        ),
        (DecimalMode::Precise, Some(s)) => {
            let mut b = SchemaBuilder::bytes()
                .name(logical::DECIMAL)
                .version(1)
                .parameter("scale", s.to_string());
            if let Some(p) = precision {
                b = b.parameter("connect.decimal.precision", p.to_string());
            }
            (b, Conv::Decimal(s))
        }
    };
    Some(match ty.name.as_str() {
        "bool" => (SchemaBuilder::boolean(), Conv::Bool),
        "int2" => (SchemaBuilder::int16(), Conv::I16),
        "int4" => (SchemaBuilder::int32(), Conv::I32),
        "int8" | "oid" => (SchemaBuilder::int64(), Conv::I64),
        "float4" => (SchemaBuilder::float32(), Conv::F32),
        "float8" => (SchemaBuilder::float64(), Conv::F64),
        "numeric" => {
            if typmod < 4 {
                decimal(None, None)
            } else {
                let m = (typmod - 4) as u32;
                decimal(Some(m & 0xffff), Some((m >> 16) & 0xffff))
            }
        }
        "money" => {
            let (s, c) = decimal(Some(2), None);
            (s, Conv::Money(Box::new(c)))
        }
        "bpchar" | "varchar" | "text" | "name" | "char" | "citext" | "inet" | "cidr"
        | "macaddr" | "macaddr8" | "ltree" => (SchemaBuilder::string(), Conv::Str),
        "tsvector" => (
            SchemaBuilder::string()
                .name("io.debezium.data.Tsvector")
                .version(1),
            Conv::Str,
        ),
        "uuid" => (
            SchemaBuilder::string()
                .name("io.debezium.data.Uuid")
                .version(1),
            Conv::Str,
        ),
        "json" | "jsonb" => (
            SchemaBuilder::string().name(logical::JSON).version(1),
            Conv::Str,
        ),
        "xml" => (
            SchemaBuilder::string()
                .name("io.debezium.data.Xml")
                .version(1),
            Conv::Str,
        ),
        "bytea" => (
            match cfg.binary_mode {
                BinaryMode::Bytes => SchemaBuilder::bytes(),
                _ => SchemaBuilder::string(),
            },
            Conv::Bytes(cfg.binary_mode),
        ),
        "date" if connect => (
            SchemaBuilder::int32()
                .name(logical::CONNECT_DATE)
                .version(1),
            Conv::Date,
        ),
        "date" => (
            SchemaBuilder::int32().name(logical::DATE).version(1),
            Conv::Date,
        ),
        "time" if connect => (
            SchemaBuilder::int32()
                .name(logical::CONNECT_TIME)
                .version(1),
            Conv::TimeMillis,
        ),
        "time" if cfg.time_precision == TimePrecision::Adaptive && precision(typmod) <= 3 => (
            SchemaBuilder::int32().name(logical::TIME).version(1),
            Conv::TimeMillis,
        ),
        "time" => (
            SchemaBuilder::int64().name(logical::MICRO_TIME).version(1),
            Conv::TimeMicros,
        ),
        "timetz" => (
            SchemaBuilder::string()
                .name("io.debezium.time.ZonedTime")
                .version(1),
            Conv::TimeTz,
        ),
        "timestamp" if connect => (
            SchemaBuilder::int64()
                .name(logical::CONNECT_TIMESTAMP)
                .version(1),
            Conv::TimestampMillis,
        ),
        "timestamp" if precision(typmod) <= 3 => (
            SchemaBuilder::int64().name(logical::TIMESTAMP).version(1),
            Conv::TimestampMillis,
        ),
        "timestamp" => (
            SchemaBuilder::int64()
                .name(logical::MICRO_TIMESTAMP)
                .version(1),
            Conv::TimestampMicros,
        ),
        "timestamptz" => (
            SchemaBuilder::string()
                .name(logical::ZONED_TIMESTAMP)
                .version(1),
            Conv::TimestampTz(precision(typmod)),
        ),
        "interval" => match cfg.interval_mode {
            IntervalMode::Numeric => (
                SchemaBuilder::int64()
                    .name("io.debezium.time.MicroDuration")
                    .version(1),
                Conv::Interval(IntervalMode::Numeric),
            ),
            IntervalMode::String => (
                SchemaBuilder::string()
                    .name("io.debezium.time.Interval")
                    .version(1),
                Conv::Interval(IntervalMode::String),
            ),
        },
        "bit" if typmod == 1 => (SchemaBuilder::boolean(), Conv::Bit),
        "bit" | "varbit" => (
            SchemaBuilder::bytes()
                .name(logical::BITS)
                .version(1)
                .parameter(
                    "length",
                    if typmod < 0 {
                        i32::MAX.to_string()
                    } else {
                        typmod.to_string()
                    },
                ),
            Conv::Bits,
        ),
        "point" => (
            SchemaBuilder::structure()
                .name("io.debezium.data.geometry.Point")
                .version(1)
                .doc("Geometry (POINT)")
                .field("x", SchemaBuilder::float64().build())
                .field("y", SchemaBuilder::float64().build())
                .field("wkb", SchemaBuilder::bytes().optional().build())
                .field("srid", SchemaBuilder::int32().optional().build()),
            Conv::Point,
        ),
        _ if ty.kind == b'r' || ty.kind == b'm' => (SchemaBuilder::string(), Conv::Str),
        _ if cfg.include_unknown_types => (SchemaBuilder::bytes(), Conv::Unknown),
        _ => return None,
    })
}

/// Element types Debezium 3.6.1 captures no array of (it logs "No converter found" and leaves
/// the column out): observed for these; `bit` arrays it maps to a scalar schema and never
/// fills, which sluice does not imitate (it leaves them out too).
const UNMAPPED_ARRAY_ITEMS: &[&str] =
    &["interval", "money", "xml", "point", "varbit", "bit", "name"];

/// An array column: the item's schema and conversion, optional items except for enums and
/// `tsvector` (as Debezium has them); element types Debezium has no array of are unknown types.
fn array_mapping(elem: &PgType, typmod: i32, cfg: &PgConfig) -> Option<(SchemaBuilder, Conv)> {
    let base = match &elem.base {
        Some((b, _)) => b.as_ref(),
        None => elem,
    };
    if UNMAPPED_ARRAY_ITEMS.contains(&base.name.as_str()) {
        return cfg
            .include_unknown_types
            .then(|| (SchemaBuilder::bytes(), Conv::Unknown));
    }
    let (item, conv) = mapping(elem, typmod, cfg)?;
    let required_items = base.kind == b'e' || base.name == "tsvector";
    let item = if required_items {
        item
    } else {
        item.optional()
    };
    Some((
        SchemaBuilder::array(item.build()),
        Conv::Array {
            item: Box::new(conv),
            required_items,
        },
    ))
}

/// The schema of a column (with its default, when Debezium would give one).
pub fn column_schema(col: &Column, cfg: &PgConfig) -> Option<(Arc<Schema>, Conv)> {
    let (mut b, conv) = mapping(&col.ty, col.typmod, cfg)?;
    if !col.not_null {
        b = b.optional();
    }
    if let Some(d) = col.default.as_deref().and_then(|d| default_value(d, &conv)) {
        b = b.default_value(d);
    }
    Some((b.build(), conv))
}

/// A column default as a value: literals (`42`, `'x'::text`, `true`) decode like data; a
/// sequence (`nextval(…)`) has Debezium's zero default; arrays (Debezium 3.6.1 gives them none)
/// and anything else (functions) none.
fn default_value(expr: &str, conv: &Conv) -> Option<Value> {
    let e = expr.trim();
    if e.starts_with("nextval(") {
        return Some(zero(conv));
    }
    if matches!(conv, Conv::Array { .. }) {
        return None;
    }
    if e.eq_ignore_ascii_case("null") || e.starts_with("NULL::") {
        return None;
    }
    let literal = match e.strip_prefix('\'') {
        Some(rest) => {
            let end = rest.rfind('\'')?;
            let tail = &rest[end + 1..];
            if !(tail.is_empty() || tail.starts_with("::")) {
                return None;
            }
            rest[..end].replace("''", "'")
        }
        None => {
            let v = e.split("::").next()?.trim_matches(|c| c == '(' || c == ')');
            if !v
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
            {
                return None;
            }
            v.to_string()
        }
    };
    decode(conv, &literal, Origin::Default).ok()
}

/// The value a required column gets when the change carries none (a delete's old key image
/// has only the key columns): the type's zero, as Debezium fills it.
pub fn zero(conv: &Conv) -> Value {
    match conv {
        Conv::Bool | Conv::Bit => Value::Boolean(false),
        Conv::I16 => Value::Int16(0),
        Conv::I32 | Conv::Date | Conv::TimeMillis => Value::Int32(0),
        Conv::I64
        | Conv::TimeMicros
        | Conv::TimestampMillis
        | Conv::TimestampMicros
        | Conv::Interval(IntervalMode::Numeric) => Value::Int64(0),
        Conv::F32 => Value::Float32(0.0),
        Conv::F64 | Conv::DecimalDouble => Value::Float64(0.0),
        Conv::Decimal(s) => Value::Decimal(Decimal::from_i128(0, *s)),
        Conv::Money(c) => zero(c),
        Conv::VarDecimal => Value::Struct(vec![Value::Int32(0), Value::Bytes(vec![0])]),
        Conv::Bytes(BinaryMode::Bytes) | Conv::Bits | Conv::Unknown => Value::Bytes(Vec::new()),
        Conv::Point => Value::Struct(vec![
            Value::Float64(0.0),
            Value::Float64(0.0),
            Value::Null,
            Value::Null,
        ]),
        Conv::Array { .. } => Value::Array(Vec::new()),
        Conv::DecimalString
        | Conv::Str
        | Conv::Bytes(_)
        | Conv::TimeTz
        | Conv::TimestampTz(_)
        | Conv::Interval(IntervalMode::String) => Value::String(Arc::from("")),
    }
}

/// The placeholder Debezium puts in place of an unchanged TOASTed value
/// (`unavailable.value.placeholder`): text for text-like types, its bytes for binary ones.
pub fn unavailable(conv: &Conv, placeholder: &str) -> Value {
    match conv {
        Conv::Bytes(BinaryMode::Bytes) | Conv::Unknown => {
            Value::Bytes(placeholder.as_bytes().to_vec())
        }
        Conv::Array { item, .. } => Value::Array(vec![unavailable(item, placeholder)]),
        Conv::Str | Conv::Bytes(_) | Conv::DecimalString | Conv::TimeTz | Conv::TimestampTz(_) => {
            Value::String(Arc::from(placeholder))
        }
        _ => Value::Null,
    }
}

fn bad(what: &str, text: &str) -> String {
    format!(
        "cannot read {what} from {:?}",
        text.chars().take(64).collect::<String>()
    )
}

/// Decodes one value's text, read from `origin`.
pub fn decode(conv: &Conv, text: &str, origin: Origin) -> Result<Value, String> {
    if let Some(v) = infinity::value(conv, text, origin) {
        return v.ok_or_else(|| bad("a default", text));
    }
    Ok(match conv {
        Conv::Bool => Value::Boolean(matches!(text, "t" | "true" | "1")),
        Conv::I16 => Value::Int16(text.parse().map_err(|_| bad("smallint", text))?),
        Conv::I32 => Value::Int32(text.parse().map_err(|_| bad("integer", text))?),
        Conv::I64 => Value::Int64(text.parse().map_err(|_| bad("bigint", text))?),
        Conv::F32 => Value::Float32(text.parse().map_err(|_| bad("real", text))?),
        Conv::F64 => Value::Float64(text.parse().map_err(|_| bad("double", text))?),
        Conv::Decimal(scale) => {
            let d = Decimal::parse(text).ok_or_else(|| bad("numeric", text))?;
            Value::Decimal(d.with_scale(*scale))
        }
        Conv::VarDecimal => {
            let d = Decimal::parse(text).ok_or_else(|| bad("numeric", text))?;
            Value::Struct(vec![Value::Int32(d.scale as i32), Value::Bytes(d.unscaled)])
        }
        Conv::DecimalDouble => Value::Float64(text.parse().map_err(|_| bad("numeric", text))?),
        Conv::DecimalString => Value::String(Arc::from(text)),
        Conv::Money(inner) => {
            let plain: String = text
                .chars()
                .filter(|c| c.is_ascii_digit() || *c == '.' || *c == '-')
                .collect();
            decode(inner, &plain, origin)?
        }
        Conv::Str => Value::String(Arc::from(text)),
        Conv::Bytes(mode) => {
            let raw = bytea(text).ok_or_else(|| bad("bytea", text))?;
            match mode {
                BinaryMode::Bytes => Value::Bytes(raw),
                BinaryMode::Base64 => {
                    Value::String(base64::engine::general_purpose::STANDARD.encode(raw).into())
                }
                BinaryMode::Base64UrlSafe => {
                    Value::String(base64::engine::general_purpose::URL_SAFE.encode(raw).into())
                }
                BinaryMode::Hex => {
                    Value::String(text.trim_start_matches("\\x").to_ascii_lowercase().into())
                }
            }
        }
        Conv::Date => {
            let (days, _) = date(text).ok_or_else(|| bad("date", text))?;
            Value::Int32(days as i32)
        }
        Conv::TimeMillis => {
            Value::Int32((time(text).ok_or_else(|| bad("time", text))? / 1000) as i32)
        }
        Conv::TimeMicros => Value::Int64(time(text).ok_or_else(|| bad("time", text))?),
        Conv::TimeTz => {
            let (t, rest) = split_time(text).ok_or_else(|| bad("timetz", text))?;
            let off = offset(rest).ok_or_else(|| bad("timetz", text))?;
            let day = 86_400_000_000i64;
            let utc = off
                .checked_mul(1_000_000)
                .and_then(|o| t.checked_sub(o))
                .ok_or_else(|| bad("timetz", text))?
                .rem_euclid(day);
            Value::String(format!("{}Z", clock(utc, None)).into())
        }
        Conv::TimestampMillis => Value::Int64(
            timestamp(text)
                .ok_or_else(|| bad("timestamp", text))?
                .div_euclid(1000),
        ),
        Conv::TimestampMicros => {
            Value::Int64(timestamp(text).ok_or_else(|| bad("timestamp", text))?)
        }
        Conv::TimestampTz(digits) => {
            let us = timestamp(text).ok_or_else(|| bad("timestamptz", text))?;
            Value::String(zoned(us, *digits).into())
        }
        Conv::Interval(mode) => {
            let (months, days, micros) = interval(text).ok_or_else(|| bad("interval", text))?;
            match mode {
                IntervalMode::Numeric => Value::Int64(
                    months
                        .checked_mul(2_629_800)
                        .and_then(|s| s.checked_add(days.checked_mul(86_400)?))
                        .and_then(|s| s.checked_mul(1_000_000)?.checked_add(micros))
                        .ok_or_else(|| bad("interval", text))?,
                ),
                IntervalMode::String => Value::String(iso_interval(months, days, micros).into()),
            }
        }
        Conv::Bit => Value::Boolean(text == "1"),
        Conv::Bits => Value::Bytes(bits(text).ok_or_else(|| bad("bit string", text))?),
        Conv::Point => {
            let inner = text.trim().trim_start_matches('(').trim_end_matches(')');
            let (x, y) = inner.split_once(',').ok_or_else(|| bad("point", text))?;
            let x: f64 = x.trim().parse().map_err(|_| bad("point", text))?;
            let y: f64 = y.trim().parse().map_err(|_| bad("point", text))?;
            let mut wkb = vec![1u8, 1, 0, 0, 0];
            wkb.extend_from_slice(&x.to_le_bytes());
            wkb.extend_from_slice(&y.to_le_bytes());
            Value::Struct(vec![
                Value::Float64(x),
                Value::Float64(y),
                Value::Bytes(wkb),
                Value::Null,
            ])
        }
        Conv::Array {
            item,
            required_items,
        } => {
            let items = array(text).ok_or_else(|| bad("array", text))?;
            Value::Array(
                items
                    .into_iter()
                    .map(|i| match i {
                        // Debezium fails to convert the whole value ("Failed to properly
                        // convert data value"), and emits it as null
                        None if *required_items => Err(bad("array without NULL items", text)),
                        None => Ok(Value::Null),
                        Some(s) => decode(item, &s, Origin::ArrayItem),
                    })
                    .collect::<Result<_, _>>()?,
            )
        }
        Conv::Unknown => Value::Bytes(text.as_bytes().to_vec()),
    })
}

/// `\x0a1b…` → bytes.
fn bytea(text: &str) -> Option<Vec<u8>> {
    let hex = text.strip_prefix("\\x")?.as_bytes();
    if hex.len() % 2 != 0 {
        return None;
    }
    // by bytes: a multi-byte character in corrupt input is no digit (and no slicing panic)
    let digit = |b: u8| char::from(b).to_digit(16);
    hex.chunks(2)
        .map(|p| Some(((digit(p[0])? << 4) | digit(p[1])?) as u8))
        .collect()
}

/// A bit string as Debezium gives it: the number's minimal two's-complement bytes
/// (`BigInteger.toByteArray`), least significant first; empty for an empty string.
fn bits(text: &str) -> Option<Vec<u8>> {
    if text.is_empty() {
        return Some(Vec::new());
    }
    if !text.bytes().all(|b| b == b'0' || b == b'1') {
        return None;
    }
    // little-endian bytes of the magnitude
    let mut le = Vec::new();
    for chunk in text.as_bytes().rchunks(8) {
        let mut b = 0u8;
        for &c in chunk {
            b = (b << 1) | (c - b'0');
        }
        le.push(b);
    }
    while le.len() > 1 && le[le.len() - 1] == 0 && le[le.len() - 2] & 0x80 == 0 {
        le.pop();
    }
    if le.last().is_some_and(|b| b & 0x80 != 0) {
        le.push(0);
    }
    Some(le)
}

/// `HH:MM:SS` plus the fraction: `digits` of them, or as few as needed when `None`.
fn clock(micros_of_day: i64, digits: Option<u32>) -> String {
    let s = micros_of_day / 1_000_000;
    let f = micros_of_day % 1_000_000;
    let mut out = format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
    match digits {
        Some(0) => {}
        Some(d) => {
            let frac = format!("{f:06}");
            out.push('.');
            out.push_str(&frac[..d as usize]);
        }
        None if f != 0 => {
            out.push('.');
            out.push_str(format!("{f:06}").trim_end_matches('0'));
        }
        None => {}
    }
    out
}

/// An instant as `io.debezium.time.ZonedTimestamp` text, in UTC.
pub fn zoned(us: i64, digits: u32) -> String {
    let days = us.div_euclid(86_400_000_000);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{}Z",
        clock(us.rem_euclid(86_400_000_000), Some(digits))
    )
}

/// ISO-8601 interval text (`IntervalStyle=iso_8601`, e.g. `P1Y2M3DT4H5M6.789S`, fields signed
/// individually) → (months, days, µs).
fn interval(text: &str) -> Option<(i64, i64, i64)> {
    let body = text.strip_prefix('P')?;
    let (mut months, mut days, mut micros) = (0i64, 0i64, 0i64);
    let mut in_time = false;
    let mut num = String::new();
    for c in body.chars() {
        match c {
            'T' => in_time = true,
            '0'..='9' | '.' | '-' | '+' => num.push(c),
            unit => {
                let v = std::mem::take(&mut num);
                // checked: an interval beyond i64 microseconds is no interval (corrupt input)
                let n = |scale: i64| v.parse::<i64>().ok()?.checked_mul(scale);
                match (in_time, unit) {
                    (false, 'Y') => months = months.checked_add(n(12)?)?,
                    (false, 'M') => months = months.checked_add(n(1)?)?,
                    (false, 'W') => days = days.checked_add(n(7)?)?,
                    (false, 'D') => days = days.checked_add(n(1)?)?,
                    (true, 'H') => micros = micros.checked_add(n(3_600_000_000)?)?,
                    (true, 'M') => micros = micros.checked_add(n(60_000_000)?)?,
                    (true, 'S') => {
                        let neg = v.starts_with('-');
                        let (i, f) = v
                            .trim_start_matches(['-', '+'])
                            .split_once('.')
                            .unwrap_or((v.trim_start_matches(['-', '+']), ""));
                        let mut f6 = f.chars().take(6).collect::<String>();
                        while f6.len() < 6 {
                            f6.push('0');
                        }
                        let us = i
                            .parse::<i64>()
                            .ok()?
                            .checked_mul(1_000_000)?
                            .checked_add(f6.parse::<i64>().ok()?)?;
                        micros = micros.checked_add(if neg { -us } else { us })?;
                    }
                    _ => return None,
                }
            }
        }
    }
    num.is_empty().then_some((months, days, micros))
}

/// Debezium's `io.debezium.time.Interval` text: `P<y>Y<m>M<d>DT<h>H<m>M<s>S`.
fn iso_interval(months: i64, days: i64, micros: i64) -> String {
    let secs = micros / 1_000_000;
    let frac = (micros % 1_000_000).abs();
    let mut s = format!("{}", secs % 60);
    if frac != 0 {
        if secs % 60 == 0 && micros < 0 {
            s = "-0".into();
        }
        s.push('.');
        s.push_str(format!("{frac:06}").trim_end_matches('0'));
    }
    format!(
        "P{}Y{}M{}DT{}H{}M{}S",
        months / 12,
        months % 12,
        days,
        secs / 3600,
        secs / 60 % 60,
        s
    )
}

/// A one-dimensional array literal (`{1,2,NULL}`, `{"a b",c}`) → its elements' text.
fn array(text: &str) -> Option<Vec<Option<String>>> {
    let body = text.strip_prefix('{')?.strip_suffix('}')?;
    let mut out = Vec::new();
    if body.is_empty() {
        return Some(out);
    }
    let mut chars = body.chars().peekable();
    loop {
        let mut item = String::new();
        let quoted = chars.peek() == Some(&'"');
        if quoted {
            chars.next();
            loop {
                match chars.next()? {
                    '\\' => item.push(chars.next()?),
                    '"' => break,
                    c => item.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                if c == '{' {
                    return None; // multi-dimensional arrays are not mapped
                }
                item.push(c);
                chars.next();
            }
        }
        out.push(if !quoted && item == "NULL" {
            None
        } else {
            Some(item)
        });
        match chars.next() {
            None => return Some(out),
            Some(',') => continue,
            Some(_) => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes as the stream reads (finite values decode alike from every origin).
    fn decode(conv: &Conv, text: &str) -> Result<Value, String> {
        super::decode(conv, text, Origin::Stream)
    }

    #[test]
    fn times_and_dates_match_debezium() {
        assert_eq!(
            decode(&Conv::Date, "2024-02-29").unwrap(),
            Value::Int32(19782)
        );
        assert_eq!(
            decode(&Conv::TimeMicros, "13:14:15.123456").unwrap(),
            Value::Int64(47_655_123_456)
        );
        assert_eq!(
            decode(&Conv::TimeMillis, "01:02:03.456").unwrap(),
            Value::Int32(3_723_456)
        );
        assert_eq!(
            decode(&Conv::TimeTz, "10:11:12+02").unwrap(),
            Value::String("08:11:12Z".into())
        );
        assert_eq!(
            decode(&Conv::TimestampMicros, "2024-01-02 03:04:05.678901").unwrap(),
            Value::Int64(1_704_164_645_678_901)
        );
        assert_eq!(
            decode(&Conv::TimestampMicros, "1969-12-31 23:59:59.999999").unwrap(),
            Value::Int64(-1)
        );
        assert_eq!(
            decode(&Conv::TimestampTz(6), "2024-01-02 01:04:05.678901+00").unwrap(),
            Value::String("2024-01-02T01:04:05.678901Z".into())
        );
        assert_eq!(
            decode(&Conv::TimestampTz(0), "2000-01-01 00:00:01+00").unwrap(),
            Value::String("2000-01-01T00:00:01Z".into())
        );
    }

    #[test]
    fn intervals_use_debeziums_average_month() {
        let n = Conv::Interval(IntervalMode::Numeric);
        assert_eq!(
            decode(&n, "P1Y2M3DT4H5M6.789S").unwrap(),
            Value::Int64(37_091_106_789_000)
        );
        assert_eq!(
            decode(&n, "P-1DT2H").unwrap(),
            Value::Int64(-79_200_000_000)
        );
        let s = Conv::Interval(IntervalMode::String);
        assert_eq!(
            decode(&s, "P1Y2M3DT4H5M6.789S").unwrap(),
            Value::String("P1Y2M3DT4H5M6.789S".into())
        );
    }

    #[test]
    fn bits_arrays_bytes() {
        assert_eq!(bits("1010101010").unwrap(), vec![0xaa, 0x02]);
        assert_eq!(bits("101").unwrap(), vec![0x05]);
        assert_eq!(bits("0000000001").unwrap(), vec![0x01]);
        assert_eq!(
            array("{1,2,NULL}").unwrap(),
            vec![Some("1".into()), Some("2".into()), None]
        );
        assert_eq!(
            array("{\"a b\",c,\"x\\\"y\"}").unwrap(),
            vec![Some("a b".into()), Some("c".into()), Some("x\"y".into())]
        );
        assert_eq!(array("{}").unwrap(), Vec::<Option<String>>::new());
        assert_eq!(bytea("\\x00ff10").unwrap(), vec![0, 255, 16]);
    }

    #[test]
    fn a_bytea_with_a_multibyte_character_is_an_error_not_a_panic() {
        let e = decode(&Conv::Bytes(BinaryMode::Bytes), "\\x76465\u{325}(").unwrap_err();
        assert!(e.contains("bytea"), "{e}");
        assert!(bytea("\\xa\u{e9}b").is_none());
    }

    #[test]
    fn an_interval_beyond_i64_microseconds_is_an_error_not_a_panic() {
        for mode in [IntervalMode::Numeric, IntervalMode::String] {
            let c = Conv::Interval(mode);
            assert!(decode(&c, "PT2562047788015216H").is_err());
            assert!(decode(&c, "P-1Y4660T44660T46H70---626H70---62.5S").is_err());
        }
        // fits as months, not as microseconds
        assert!(decode(&Conv::Interval(IntervalMode::Numeric), "P100000000000M").is_err());
        assert!(decode(&Conv::Interval(IntervalMode::String), "P100000000000M").is_ok());
    }

    #[test]
    fn a_zone_offset_beyond_range_is_an_error_not_a_panic() {
        let e = decode(&Conv::TimeTz, "12:00:00.5+01111111111111111110:5:").unwrap_err();
        assert!(e.contains("timetz"), "{e}");
        assert!(decode(
            &Conv::TimestampTz(6),
            "2024-01-01 12:00:00+99999999999999999"
        )
        .is_err());
    }

    fn pg_type(name: &str, kind: u8) -> Arc<PgType> {
        Arc::new(PgType {
            oid: 0,
            name: name.into(),
            kind,
            elem: None,
            base: None,
            labels: if kind == b'e' {
                vec!["sad".into(), "ok".into(), "happy".into()]
            } else {
                Vec::new()
            },
        })
    }

    fn array_of(elem: Arc<PgType>) -> PgType {
        PgType {
            oid: 0,
            name: format!("_{}", elem.name),
            kind: b'b',
            elem: Some(elem),
            base: None,
            labels: Vec::new(),
        }
    }

    fn cfg(extra: &[(&str, &str)]) -> PgConfig {
        let mut props = vec![
            ("database.hostname", "127.0.0.1"),
            ("database.user", "postgres"),
            ("database.dbname", "app"),
            ("topic.prefix", "pg"),
        ];
        props.extend_from_slice(extra);
        PgConfig::from_properties("c", &sluice_core::props::from_pairs(&props)).unwrap()
    }

    /// Debezium 3.6.1 (observed): `tsvector` is a string named `io.debezium.data.Tsvector`;
    /// `tsquery` has no converter and is left out unless unknown types are included.
    #[test]
    fn tsvector_is_named_and_tsquery_is_unknown() {
        let (b, conv) = mapping(&pg_type("tsvector", b'b'), -1, &cfg(&[])).unwrap();
        let s = b.build();
        assert_eq!(s.name.as_deref(), Some("io.debezium.data.Tsvector"));
        assert_eq!((s.version, conv), (Some(1), Conv::Str));
        assert!(mapping(&pg_type("tsquery", b'b'), -1, &cfg(&[])).is_none());
        let unknown = cfg(&[("include.unknown.datatypes", "true")]);
        assert_eq!(
            mapping(&pg_type("tsquery", b'b'), -1, &unknown).unwrap().1,
            Conv::Unknown
        );
    }

    /// Debezium 3.6.1 (observed): enum and tsvector array items are required, with the item
    /// type's name and parameters; items of every other array are optional.
    #[test]
    fn enum_and_tsvector_array_items_are_required_others_optional() {
        let items = |elem: Arc<PgType>| {
            let (b, conv) = mapping(&array_of(elem), -1, &cfg(&[])).unwrap();
            (b.build().items.clone().unwrap(), conv)
        };
        let (mood, conv) = items(pg_type("mood", b'e'));
        assert!(!mood.optional);
        assert_eq!(mood.name.as_deref(), Some(logical::ENUM));
        assert_eq!(mood.version, Some(1));
        assert_eq!(mood.parameter("allowed"), Some("sad,ok,happy"));
        assert_eq!(
            conv,
            Conv::Array {
                item: Box::new(Conv::Str),
                required_items: true
            }
        );
        let (tsv, _) = items(pg_type("tsvector", b'b'));
        assert!(!tsv.optional);
        assert_eq!(tsv.name.as_deref(), Some("io.debezium.data.Tsvector"));
        for name in [
            "int4",
            "text",
            "uuid",
            "date",
            "timestamptz",
            "bytea",
            "int4range",
        ] {
            let kind = if name == "int4range" { b'r' } else { b'b' };
            assert!(items(pg_type(name, kind)).0.optional, "{name}[] items");
        }
    }

    /// Debezium 3.6.1 (observed) captures no `interval[]`, `money[]`, `xml[]`, `point[]`,
    /// `varbit[]`, `name[]` column.
    #[test]
    fn arrays_debezium_has_no_converter_for_are_unknown_types() {
        for name in ["interval", "money", "xml", "point", "varbit", "name"] {
            assert!(
                mapping(&array_of(pg_type(name, b'b')), -1, &cfg(&[])).is_none(),
                "{name}[]"
            );
        }
    }

    /// Debezium 3.6.1 (observed): an enum array holding a NULL item fails to convert and the
    /// column is emitted as null (here: an error, which the row turns into null).
    #[test]
    fn a_null_item_in_an_array_of_required_items_is_not_representable() {
        let required = Conv::Array {
            item: Box::new(Conv::Str),
            required_items: true,
        };
        assert!(decode(&required, "{ok,NULL}").is_err());
        assert_eq!(
            decode(&required, "{ok,sad}").unwrap(),
            Value::Array(vec![
                Value::String("ok".into()),
                Value::String("sad".into())
            ])
        );
        let optional = Conv::Array {
            item: Box::new(Conv::Str),
            required_items: false,
        };
        assert_eq!(
            decode(&optional, "{ok,NULL}").unwrap(),
            Value::Array(vec![Value::String("ok".into()), Value::Null])
        );
    }

    /// Observed from Debezium 3.6.1: infinite array items convert as the snapshot's, whatever
    /// read the array; a scalar date converts by where it was read.
    #[test]
    fn infinite_dates_and_timestamps_in_rows_arrays_and_defaults() {
        let dates = Conv::Array {
            item: Box::new(Conv::Date),
            required_items: false,
        };
        for origin in [Origin::Snapshot, Origin::Stream] {
            assert_eq!(
                super::decode(&dates, "{infinity,-infinity,2024-01-01}", origin).unwrap(),
                Value::Array(vec![
                    Value::Int32(-622191234),
                    Value::Int32(-625821272),
                    Value::Int32(19723)
                ])
            );
        }
        assert_eq!(
            super::decode(&Conv::Date, "infinity", Origin::Stream).unwrap(),
            Value::Int32(-2147472692)
        );
        assert_eq!(
            default_value("'infinity'::date", &Conv::Date),
            Some(Value::Int32(169560311))
        );
        assert_eq!(
            default_value(
                "'-infinity'::timestamp without time zone",
                &Conv::TimestampMicros
            ),
            Some(Value::Int64(i64::MIN))
        );
        assert_eq!(
            default_value(
                "'infinity'::timestamp with time zone",
                &Conv::TimestampTz(6)
            ),
            None
        );
    }

    #[test]
    fn array_columns_have_no_default() {
        let moods = Conv::Array {
            item: Box::new(Conv::Str),
            required_items: true,
        };
        assert_eq!(default_value("'{ok}'::mood[]", &moods), None);
    }

    #[test]
    fn defaults() {
        assert_eq!(
            default_value("nextval('t_id_seq'::regclass)", &Conv::I32),
            Some(Value::Int32(0))
        );
        assert_eq!(default_value("42", &Conv::I32), Some(Value::Int32(42)));
        assert_eq!(
            default_value("'it''s'::text", &Conv::Str),
            Some(Value::String("it's".into()))
        );
        assert_eq!(default_value("now()", &Conv::TimestampTz(6)), None);
    }
}
