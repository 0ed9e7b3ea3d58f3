//! Row images → Connect values.
//!
//! A rows event holds, per row, a NULL bitmap over the *present* columns followed by the
//! non-NULL values in the storage format of each column's binlog type (read from the table map:
//! type code + metadata). Every present column must be parsed to reach the next one, but only
//! captured columns are converted. This is the hot path of streaming, hence hand-written: one
//! pass, no intermediate value type, one allocation per string/bytes value.

use std::sync::Arc;

use base64::Engine;
use mysql_common::binlog::events::TableMapEvent;
use sluice_core::decimal::Decimal;
use sluice_core::Value;

use crate::config::BinaryMode;
use crate::events::take;
use crate::mapping::{Conv, TableSchemas};

/// MySQL column type codes as they appear in table maps.
mod ty {
    pub const DECIMAL: u8 = 0;
    pub const TINY: u8 = 1;
    pub const SHORT: u8 = 2;
    pub const LONG: u8 = 3;
    pub const FLOAT: u8 = 4;
    pub const DOUBLE: u8 = 5;
    pub const TIMESTAMP: u8 = 7;
    pub const LONGLONG: u8 = 8;
    pub const INT24: u8 = 9;
    pub const DATE: u8 = 10;
    pub const TIME: u8 = 11;
    pub const DATETIME: u8 = 12;
    pub const YEAR: u8 = 13;
    pub const NEWDATE: u8 = 14;
    pub const VARCHAR: u8 = 15;
    pub const BIT: u8 = 16;
    pub const TIMESTAMP2: u8 = 17;
    pub const DATETIME2: u8 = 18;
    pub const TIME2: u8 = 19;
    pub const JSON: u8 = 245;
    pub const NEWDECIMAL: u8 = 246;
    pub const ENUM: u8 = 247;
    pub const SET: u8 = 248;
    pub const TINY_BLOB: u8 = 249;
    pub const MEDIUM_BLOB: u8 = 250;
    pub const LONG_BLOB: u8 = 251;
    pub const BLOB: u8 = 252;
    pub const VAR_STRING: u8 = 253;
    pub const STRING: u8 = 254;
    pub const GEOMETRY: u8 = 255;
}

/// How to read one column of the row image.
#[derive(Debug, Clone, PartialEq)]
pub struct ColCodec {
    /// Real binlog type (ENUM/SET resolved from STRING metadata).
    pub btype: u8,
    /// Type-specific metadata: max length, length bytes, (precision, scale), fsp, …
    pub meta: (u16, u16),
    pub unsigned: bool,
    /// Index in `TableSchemas::columns` when the column is captured.
    pub plan: Option<usize>,
}

/// Builds the per-column codecs of a table from its table map and current definition.
pub fn codecs(tme: &TableMapEvent<'_>, schemas: &TableSchemas) -> Result<Vec<ColCodec>, String> {
    let n = usize::try_from(tme.columns_count()).map_err(|e| e.to_string())?;
    if n != schemas.def.columns.len() {
        return Err(format!(
            "table map of {} has {n} columns, the tracked definition has {}",
            schemas.def.id,
            schemas.def.columns.len()
        ));
    }
    let mut plan_of = vec![None; n];
    for (p, c) in schemas.columns.iter().enumerate() {
        plan_of[c.table_index] = Some(p);
    }
    let mut offset_meta = MetaReader::new(tme);
    (0..n)
        .map(|i| {
            let raw = offset_meta.next(i)?;
            let unsigned = matches!(
                schemas.def.columns[i].ty,
                crate::table::SqlType::TinyInt { unsigned: true }
                    | crate::table::SqlType::SmallInt { unsigned: true }
                    | crate::table::SqlType::MediumInt { unsigned: true }
                    | crate::table::SqlType::Int { unsigned: true }
                    | crate::table::SqlType::BigInt { unsigned: true }
            );
            Ok(ColCodec {
                btype: raw.0,
                meta: raw.1,
                unsigned,
                plan: plan_of[i],
            })
        })
        .collect()
}

/// Walks the table map's column types and metadata once (mysql_common's per-column lookup
/// rescans from the first column).
struct MetaReader<'a> {
    tme: &'a TableMapEvent<'a>,
}

impl<'a> MetaReader<'a> {
    fn new(tme: &'a TableMapEvent<'a>) -> Self {
        MetaReader { tme }
    }

    fn next(&mut self, i: usize) -> Result<(u8, (u16, u16)), String> {
        let raw_type =
            self.tme
                .get_raw_column_type(i)
                .map_err(|e| format!("column {i}: {e}"))?
                .ok_or_else(|| format!("column {i} missing from table map"))? as u8;
        let meta = self.tme.get_column_metadata(i).unwrap_or(&[]);
        let m = |k: usize| u16::from(*meta.get(k).unwrap_or(&0));
        Ok(match raw_type {
            ty::STRING => {
                let (real, len) = (m(0) as u8, m(1));
                if real & 0x30 != 0x30 {
                    // long CHAR: two length bits hide in the type byte
                    let max_len = ((u16::from(real & 0x30) ^ 0x30) << 4) | len;
                    (real | 0x30, (max_len, 0))
                } else if real == ty::ENUM || real == ty::SET {
                    (real, (len, 0))
                } else {
                    (ty::STRING, (len, 0))
                }
            }
            ty::VARCHAR | ty::VAR_STRING => (raw_type, (m(0) | m(1) << 8, 0)),
            ty::BIT => (raw_type, (m(0), m(1))), // (bits % 8, bytes)
            ty::NEWDECIMAL => (raw_type, (m(0), m(1))), // (precision, scale)
            _ => (raw_type, (m(0), m(1))),
        })
    }
}

/// Decodes one row image into the captured columns' values (`out` is cleared first).
/// `present` marks the columns in the image.
pub fn decode_row(
    buf: &mut &[u8],
    codecs: &[ColCodec],
    present: &[bool],
    schemas: &TableSchemas,
    out: &mut Vec<Value>,
) -> Result<(), String> {
    out.clear();
    out.resize(schemas.columns.len(), Value::Null);
    if present.len() != codecs.len() {
        return Err(format!(
            "the rows event has {} columns, its table map {}",
            present.len(),
            codecs.len()
        ));
    }
    let n_present = present.iter().filter(|p| **p).count();
    if n_present == 0 && !buf.is_empty() {
        // an image of no columns takes no bytes: the caller's loop over the rows would not end
        return Err(format!(
            "a row image of no columns with {} bytes left in the rows event",
            buf.len()
        ));
    }
    let nulls = take(buf, n_present.div_ceil(8))?;
    let mut k = 0;
    for (i, codec) in codecs.iter().enumerate() {
        if !present[i] {
            continue;
        }
        let is_null = nulls[k / 8] & (1 << (k % 8)) != 0;
        k += 1;
        if is_null {
            continue;
        }
        let conv = codec.plan.map(|p| (p, &schemas.columns[p].conv));
        let nullable = schemas.def.columns[i].nullable;
        let v = read(buf, codec, conv.map(|c| c.1), nullable)
            .map_err(|e| format!("column `{}`: {e}", schemas.def.columns[i].name))?;
        if let Some((p, _)) = conv {
            out[p] = v;
        }
    }
    Ok(())
}

fn le(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .rev()
        .fold(0, |acc, b| (acc << 8) | u64::from(*b))
}

fn be(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0, |acc, b| (acc << 8) | u64::from(*b))
}

/// Reads one non-NULL value; converts it when `conv` is given, else only skips it.
fn read(
    buf: &mut &[u8],
    c: &ColCodec,
    conv: Option<&Conv>,
    nullable: bool,
) -> Result<Value, String> {
    let int = |buf: &mut &[u8], n: usize| -> Result<i128, String> {
        let raw = le(take(buf, n)?);
        Ok(if c.unsigned {
            i128::from(raw)
        } else {
            let shift = 64 - 8 * n as u32;
            i128::from(((raw << shift) as i64) >> shift)
        })
    };
    Ok(match c.btype {
        ty::TINY => int_value(int(buf, 1)?, conv),
        ty::SHORT => int_value(int(buf, 2)?, conv),
        ty::INT24 => int_value(int(buf, 3)?, conv),
        ty::LONG => int_value(int(buf, 4)?, conv),
        ty::LONGLONG => int_value(int(buf, 8)?, conv),
        ty::YEAR => {
            // the byte is the year minus 1900, and 0 for the zero year 0000; Debezium's binlog
            // reader adds 1900 to every value, so a zero year streams as 1900 there: sluice
            // emits what Debezium emits (its snapshot, read through SQL, says 0 in both)
            let v = take(buf, 1)?[0];
            Value::Int32(1900 + i32::from(v))
        }
        ty::FLOAT => {
            let f = f32::from_le_bytes(take(buf, 4)?.try_into().map_err(|_| "float")?);
            match conv {
                Some(Conv::Float64) => Value::Float64(f64::from(f)),
                _ => Value::Float32(f),
            }
        }
        ty::DOUBLE => Value::Float64(f64::from_le_bytes(
            take(buf, 8)?.try_into().map_err(|_| "double")?,
        )),
        ty::NEWDECIMAL => {
            let (neg, digits) = read_decimal(buf, u32::from(c.meta.0), u32::from(c.meta.1))?;
            decimal_value(neg, &digits, u32::from(c.meta.1), conv)
        }
        ty::DATE | ty::NEWDATE => {
            let v = le(take(buf, 3)?);
            let (y, m, d) = ((v >> 9) as i64, ((v >> 5) & 15) as u32, (v & 31) as u32);
            if y == 0 && m == 0 && d == 0 {
                zero_temporal(nullable, conv)
            } else {
                Value::Int32(days_from_civil(y, m, d) as i32)
            }
        }
        ty::TIME => {
            let v = int(buf, 3)?;
            let (neg, a) = (v < 0, v.unsigned_abs() as i64);
            let secs = (a / 10000) * 3600 + (a / 100 % 100) * 60 + a % 100;
            time_value(if neg { -secs } else { secs } * 1_000_000, conv)
        }
        ty::TIME2 => time_value(read_time2(buf, c.meta.0)?, conv),
        ty::DATETIME => {
            let v = le(take(buf, 8)?);
            let (date, time) = (v / 1_000_000, v % 1_000_000);
            datetime_value(
                date / 10000,
                (date / 100 % 100) as u32,
                (date % 100) as u32,
                time / 10000,
                time / 100 % 100,
                time % 100,
                0,
                nullable,
                conv,
            )
        }
        ty::DATETIME2 => {
            let packed = be(take(buf, 5)?) as i64 - 0x80_0000_0000;
            let us = read_fraction(buf, c.meta.0)?;
            let (ymd, hms) = (packed >> 17, packed % (1 << 17));
            let ym = ymd >> 5;
            datetime_value(
                (ym / 13) as u64,
                (ym % 13) as u32,
                (ymd % 32) as u32,
                (hms >> 12) as u64,
                ((hms >> 6) % 64) as u64,
                (hms % 64) as u64,
                us,
                nullable,
                conv,
            )
        }
        ty::TIMESTAMP => timestamp_value(le(take(buf, 4)?), 0, 0, nullable, conv),
        ty::TIMESTAMP2 => {
            let secs = be(take(buf, 4)?);
            let us = read_fraction(buf, c.meta.0)?;
            timestamp_value(secs, us, u32::from(c.meta.0), nullable, conv)
        }
        ty::VARCHAR | ty::VAR_STRING | ty::STRING => {
            let len_bytes = if c.meta.0 > 255 { 2 } else { 1 };
            let len = le(take(buf, len_bytes)?) as usize;
            bytes_value(take(buf, len)?, conv)
        }
        ty::ENUM => {
            let idx = le(take(buf, usize::from(c.meta.0.clamp(1, 2)))?) as usize;
            match conv {
                Some(Conv::Enum(labels)) => Value::String(Arc::from(
                    idx.checked_sub(1)
                        .and_then(|i| labels.get(i))
                        .map_or("", String::as_str),
                )),
                _ => Value::Null,
            }
        }
        ty::SET => {
            let bits = le(take(buf, usize::from(c.meta.0.clamp(1, 8)))?);
            match conv {
                Some(Conv::Set(labels)) => {
                    let chosen: Vec<&str> = labels
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| *i < 64 && bits & (1 << i) != 0)
                        .map(|(_, l)| l.as_str())
                        .collect();
                    Value::String(Arc::from(chosen.join(",").as_str()))
                }
                _ => Value::Null,
            }
        }
        ty::BIT => {
            let nbits = u32::from(c.meta.1) * 8 + u32::from(c.meta.0);
            let raw = take(buf, nbits.div_ceil(8) as usize)?;
            match conv {
                Some(Conv::Bool) => Value::Boolean(raw.iter().any(|b| *b != 0)),
                Some(Conv::Bits { bits }) => {
                    // big-endian in the binlog, little-endian in Debezium's Bits
                    let n = bits.div_ceil(8) as usize;
                    let mut le_bytes: Vec<u8> = raw.iter().rev().copied().collect();
                    le_bytes.resize(n, 0);
                    Value::Bytes(le_bytes)
                }
                _ => Value::Null,
            }
        }
        ty::TINY_BLOB | ty::MEDIUM_BLOB | ty::LONG_BLOB | ty::BLOB | ty::JSON | ty::GEOMETRY => {
            let len = le(take(buf, usize::from(c.meta.0.clamp(1, 4)))?) as usize;
            let data = take(buf, len)?;
            match (c.btype, conv) {
                (_, None) => Value::Null,
                (ty::JSON, Some(_)) => Value::String(Arc::from(mysql_json_text(data)?.as_str())),
                (ty::GEOMETRY, Some(_)) => {
                    if data.len() < 4 {
                        return Err("geometry value shorter than its SRID".into());
                    }
                    let srid = u32::from_le_bytes([data[0], data[1], data[2], data[3]]) as i32;
                    Value::Struct(vec![Value::Bytes(data[4..].to_vec()), Value::Int32(srid)])
                }
                _ => bytes_value(data, conv),
            }
        }
        ty::DECIMAL => {
            return Err(
                "pre-5.0 DECIMAL columns are not supported; ALTER the column to a modern DECIMAL"
                    .into(),
            )
        }
        other => return Err(format!("unknown binlog column type {other}")),
    })
}

pub(crate) fn int_value(v: i128, conv: Option<&Conv>) -> Value {
    match conv {
        Some(Conv::Int16) => Value::Int16(v as i16),
        Some(Conv::Int32) => Value::Int32(v as i32),
        Some(Conv::UnsignedLong) => Value::Int64(v as u64 as i64),
        Some(Conv::UnsignedPrecise) => Value::Decimal(Decimal::from_i128(v, 0)),
        Some(Conv::Year) => Value::Int32(v as i32),
        Some(Conv::IntBool) => Value::Boolean(v != 0),
        _ => Value::Int64(v as i64),
    }
}

/// Binary DECIMAL → (negative, all digits: integer part then `scale` fraction digits).
fn read_decimal(buf: &mut &[u8], precision: u32, scale: u32) -> Result<(bool, Vec<u8>), String> {
    const DIG2BYTES: [usize; 10] = [0, 1, 1, 2, 2, 3, 3, 4, 4, 4];
    let intg = precision.saturating_sub(scale) as usize;
    let (intg0, intg0x) = (intg / 9, intg % 9);
    let (frac0, frac0x) = (scale as usize / 9, scale as usize % 9);
    let size = intg0 * 4 + DIG2BYTES[intg0x] + frac0 * 4 + DIG2BYTES[frac0x];
    let mut d = take(buf, size)?.to_vec();
    if d.is_empty() {
        return Ok((false, b"0".to_vec()));
    }
    let negative = d[0] & 0x80 == 0;
    d[0] ^= 0x80;
    if negative {
        d.iter_mut().for_each(|b| *b ^= 0xff);
    }
    let mut digits = Vec::with_capacity(intg + scale as usize);
    let mut pos = 0;
    let mut group = |n_bytes: usize, n_digits: usize, digits: &mut Vec<u8>| {
        let mut v = be(&d[pos..pos + n_bytes]);
        pos += n_bytes;
        let at = digits.len();
        digits.resize(at + n_digits, b'0');
        for slot in digits[at..].iter_mut().rev() {
            *slot = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    if intg0x > 0 {
        group(DIG2BYTES[intg0x], intg0x, &mut digits);
    }
    for _ in 0..intg0 {
        group(4, 9, &mut digits);
    }
    for _ in 0..frac0 {
        group(4, 9, &mut digits);
    }
    if frac0x > 0 {
        group(DIG2BYTES[frac0x], frac0x, &mut digits);
    }
    Ok((negative, digits))
}

fn decimal_value(negative: bool, digits: &[u8], scale: u32, conv: Option<&Conv>) -> Value {
    let d = Decimal::from_digits(negative, digits, scale);
    match conv {
        Some(Conv::DecimalDouble) => Value::Float64(d.to_f64()),
        Some(Conv::DecimalString) => Value::String(Arc::from(d.to_plain_string().as_str())),
        _ => Value::Decimal(d),
    }
}

/// Fractional seconds of TIME2/DATETIME2/TIMESTAMP2 (fsp = metadata), in microseconds.
fn read_fraction(buf: &mut &[u8], fsp: u16) -> Result<i64, String> {
    Ok(match fsp {
        1 | 2 => be(take(buf, 1)?) as i64 * 10_000,
        3 | 4 => be(take(buf, 2)?) as i64 * 100,
        5 | 6 => be(take(buf, 3)?) as i64,
        _ => 0,
    })
}

/// TIME2 → signed microseconds.
fn read_time2(buf: &mut &[u8], fsp: u16) -> Result<i64, String> {
    let packed: i64 = match fsp {
        1 | 2 => {
            let mut int = be(take(buf, 3)?) as i64 - 0x80_0000;
            let mut frac = i64::from(take(buf, 1)?[0]);
            if int < 0 && frac != 0 {
                int += 1;
                frac -= 0x100;
            }
            (int << 24) + frac * 10_000
        }
        3 | 4 => {
            let mut int = be(take(buf, 3)?) as i64 - 0x80_0000;
            let mut frac = be(take(buf, 2)?) as i64;
            if int < 0 && frac != 0 {
                int += 1;
                frac -= 0x1_0000;
            }
            (int << 24) + frac * 100
        }
        5 | 6 => be(take(buf, 6)?) as i64 - 0x8000_0000_0000,
        _ => (be(take(buf, 3)?) as i64 - 0x80_0000) << 24,
    };
    let a = packed.abs();
    let hms = a >> 24;
    let us = a % (1 << 24);
    let secs = ((hms >> 12) % (1 << 10)) * 3600 + ((hms >> 6) % 64) * 60 + hms % 64;
    let total = secs * 1_000_000 + us;
    Ok(if packed < 0 { -total } else { total })
}

pub(crate) fn time_value(micros: i64, conv: Option<&Conv>) -> Value {
    match conv {
        Some(Conv::TimeMillis) => Value::Int32(micros.div_euclid(1000) as i32),
        _ => Value::Int64(micros),
    }
}

/// A zero date/datetime: NULL for nullable columns, the epoch otherwise (as Debezium).
pub(crate) fn zero_temporal(nullable: bool, conv: Option<&Conv>) -> Value {
    if nullable {
        return Value::Null;
    }
    match conv {
        Some(Conv::Date) | Some(Conv::TimeMillis) | Some(Conv::Year) => Value::Int32(0),
        Some(Conv::ZonedTimestamp { .. }) => Value::String(Arc::from("1970-01-01T00:00:00Z")),
        _ => Value::Int64(0),
    }
}

#[allow(clippy::too_many_arguments)]
fn datetime_value(
    y: u64,
    mo: u32,
    d: u32,
    h: u64,
    mi: u64,
    s: u64,
    us: i64,
    nullable: bool,
    conv: Option<&Conv>,
) -> Value {
    if y == 0 || mo == 0 || d == 0 {
        return zero_temporal(nullable, conv);
    }
    // wrapping: corrupt input must not panic; valid values are far from the limits
    let secs = days_from_civil((y % 100_000) as i64, mo % 13, d % 32)
        .wrapping_mul(86_400)
        .wrapping_add(
            (h.wrapping_mul(3600)
                .wrapping_add(mi.wrapping_mul(60))
                .wrapping_add(s)) as i64,
        );
    let micros = secs.wrapping_mul(1_000_000).wrapping_add(us);
    match conv {
        Some(Conv::DateTimeMillis) => Value::Int64(micros.div_euclid(1000)),
        _ => Value::Int64(micros),
    }
}

fn timestamp_value(secs: u64, us: i64, fsp: u32, nullable: bool, conv: Option<&Conv>) -> Value {
    if secs == 0 && us == 0 {
        return zero_temporal(nullable, conv);
    }
    Value::String(Arc::from(zoned_timestamp(secs as i64, us, fsp).as_str()))
}

/// `YYYY-MM-DDTHH:MM:SS[.f{fsp}]Z` in UTC, as Debezium's ZonedTimestamp with the column's fsp.
pub fn zoned_timestamp(secs: i64, micros: i64, fsp: u32) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    let mut s = format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    );
    if fsp > 0 {
        let frac = format!("{micros:06}");
        s.push('.');
        s.push_str(&frac[..(fsp as usize).min(6)]);
    }
    s.push('Z');
    s
}

fn bytes_value(data: &[u8], conv: Option<&Conv>) -> Value {
    match conv {
        None => Value::Null,
        // the binlog carries the column's bytes in the column's character set
        Some(Conv::Text(charset)) => Value::String(Arc::from(charset.decode(data).as_ref())),
        Some(Conv::Json) | Some(Conv::Enum(_)) | Some(Conv::Set(_)) => {
            Value::String(match std::str::from_utf8(data) {
                Ok(s) => Arc::from(s),
                Err(_) => Arc::from(String::from_utf8_lossy(data).as_ref()),
            })
        }
        Some(Conv::Binary { pad_to, mode }) => {
            let mut bytes = data.to_vec();
            if let Some(n) = pad_to {
                // the binlog drops trailing 0x00 of BINARY(n); the column value has all n bytes
                bytes.resize((*n as usize).max(bytes.len()), 0);
            }
            binary_value(bytes, *mode)
        }
        Some(Conv::Uuid) => {
            let mut b = data.to_vec();
            b.resize(16, 0);
            Value::String(Arc::from(mariadb_uuid_text(&b).as_str()))
        }
        Some(Conv::Inet4) => {
            let mut b = data.to_vec();
            b.resize(4, 0);
            Value::String(Arc::from(
                std::net::Ipv4Addr::new(b[0], b[1], b[2], b[3])
                    .to_string()
                    .as_str(),
            ))
        }
        Some(Conv::Inet6) => {
            let mut b = [0u8; 16];
            for (i, v) in data.iter().take(16).enumerate() {
                b[i] = *v;
            }
            Value::String(Arc::from(std::net::Ipv6Addr::from(b).to_string().as_str()))
        }
        Some(_) => Value::Bytes(data.to_vec()),
    }
}

pub(crate) fn binary_value(bytes: Vec<u8>, mode: BinaryMode) -> Value {
    use base64::engine::general_purpose::{STANDARD, URL_SAFE};
    match mode {
        BinaryMode::Bytes => Value::Bytes(bytes),
        BinaryMode::Base64 => Value::String(Arc::from(STANDARD.encode(bytes).as_str())),
        BinaryMode::Base64UrlSafe => Value::String(Arc::from(URL_SAFE.encode(bytes).as_str())),
        BinaryMode::Hex => Value::String(Arc::from(
            bytes
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
                .as_str(),
        )),
    }
}

/// MariaDB stores a UUID's groups in reverse order for index locality
/// (`nnnnnnnnnnnn-vsss-Vhhh-mmmm-llllllll`) when it is a time-based UUID (version 1–5 with the
/// RFC variant); other values are stored as written.
fn mariadb_uuid_text(b: &[u8]) -> String {
    let hex =
        |r: std::ops::Range<usize>| b[r].iter().map(|x| format!("{x:02x}")).collect::<String>();
    let stored_swapped = (1..=5).contains(&(b[6] >> 4)) && b[8] & 0xc0 == 0x80;
    let swapped_version = b[10] >> 4;
    let swapped_variant = b[8] & 0xc0 == 0x80;
    if !stored_swapped && (1..=5).contains(&swapped_version) && swapped_variant {
        // storage: node(6) clock(2) hi(2) mid(2) low(4)
        format!(
            "{}-{}-{}-{}-{}",
            hex(12..16),
            hex(10..12),
            hex(8..10),
            hex(6..8),
            hex(0..6)
        )
    } else {
        format!(
            "{}-{}-{}-{}-{}",
            hex(0..4),
            hex(4..6),
            hex(6..8),
            hex(8..10),
            hex(10..16)
        )
    }
}

fn mysql_json_text(data: &[u8]) -> Result<String, String> {
    use mysql_common::binlog::jsonb;
    use mysql_common::io::ParseBuf;
    if data.is_empty() {
        return Ok("null".into());
    }
    let v: jsonb::Value<'_> = ParseBuf(data)
        .parse(())
        .map_err(|e| format!("binary JSON: {e}"))?;
    let dom = v.parse().map_err(|e| format!("binary JSON: {e}"))?;
    Ok(serde_json::Value::from(dom).to_string())
}

/// The calendar arithmetic lives in sluice-core (shared with the PostgreSQL and JDBC sources).
pub use sluice_core::civil::{civil_from_days, days_from_civil};

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn calendar_conversions() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2024, 2, 29), 19782); // Debezium: c_date
        assert_eq!(
            zoned_timestamp(2147483647, 654321, 6),
            "2038-01-19T03:14:07.654321Z"
        );
        assert_eq!(zoned_timestamp(1704110400, 0, 0), "2024-01-01T12:00:00Z");
        assert_eq!(
            zoned_timestamp(1704110400, 120000, 3),
            "2024-01-01T12:00:00.120Z"
        );
    }

    #[test]
    fn binary_decimal() {
        // DECIMAL(10,2) -12345678.91 as MySQL stores it: 8 integer digits in 4 bytes, 2 fraction
        // digits in 1 byte, sign bit flipped, every byte inverted for a negative value
        let int = 12345678u32.to_be_bytes();
        let mut d = [int[0] | 0x80, int[1], int[2], int[3], 91];
        d.iter_mut().for_each(|b| *b ^= 0xff); // negative
        let (neg, digits) = read_decimal(&mut &d[..], 10, 2).unwrap();
        assert!(neg);
        assert_eq!(std::str::from_utf8(&digits).unwrap(), "1234567891");
        let v = decimal_value(neg, &digits, 2, None);
        let Value::Decimal(dec) = v else { panic!() };
        assert_eq!(dec.to_plain_string(), "-12345678.91");
    }

    #[test]
    fn time2_negative_with_fraction() {
        // TIME(1) '-00:00:01.5': MySQL writes int part -2 (floor of the packed value) and the
        // fraction byte (char)(-50) = 0xce
        let bytes = [0x7f, 0xff, 0xfe, 0xce];
        assert_eq!(read_time2(&mut &bytes[..], 1).unwrap(), -1_500_000);
        // TIME(0) '-838:59:59'
        let hms: i64 = (838 << 12) | (59 << 6) | 59;
        let b = (0x80_0000 - hms).to_be_bytes();
        assert_eq!(read_time2(&mut &b[5..8], 0).unwrap(), -3_020_399_000_000);
    }

    fn two_ints() -> (TableSchemas, Vec<ColCodec>) {
        use crate::table::{ColumnDef, SqlType, TableDef, TableId};
        let col = |name: &str| ColumnDef {
            name: name.into(),
            ty: SqlType::Int { unsigned: false },
            nullable: false,
            charset: None,
        };
        let def = TableDef {
            id: TableId::new("app", "t"),
            columns: vec![col("id"), col("v")],
            primary_key: vec!["id".into()],
            default_charset: None,
        };
        let props = [
            ("database.hostname", "127.0.0.1"),
            ("database.user", "cdc"),
            ("database.server.id", "1"),
            ("topic.prefix", "p"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let cfg = crate::MySqlConfig::from_properties("t", &props).unwrap();
        let schemas =
            TableSchemas::build(&def, &cfg, &crate::mapping::source_schema("mysql")).unwrap();
        let codecs = (0..2)
            .map(|p| ColCodec {
                btype: ty::LONG,
                meta: (0, 0),
                unsigned: false,
                plan: Some(p),
            })
            .collect();
        (schemas, codecs)
    }

    #[test]
    fn a_row_image_decodes_its_present_columns() {
        let (schemas, codecs) = two_ints();
        let image = [0u8, 7, 0, 0, 0, 9, 0, 0, 0];
        let mut buf = &image[..];
        let mut out = Vec::new();
        decode_row(&mut buf, &codecs, &[true, true], &schemas, &mut out).unwrap();
        assert_eq!(out, [Value::Int32(7), Value::Int32(9)]);
        assert!(buf.is_empty());
    }

    #[test]
    fn a_rows_event_with_fewer_columns_than_its_table_map_is_an_error_not_a_panic() {
        let (schemas, codecs) = two_ints();
        let image = [0u8, 7, 0, 0, 0];
        let e =
            decode_row(&mut &image[..], &codecs, &[true], &schemas, &mut Vec::new()).unwrap_err();
        assert!(e.contains("1 columns, its table map 2"), "{e}");
    }

    #[test]
    fn a_row_image_of_no_columns_with_bytes_left_is_an_error_not_an_endless_loop() {
        // the rows loop decodes images while bytes are left: an image that takes none
        // would never end it
        let (schemas, codecs) = two_ints();
        let image = [1u8, 2, 3];
        let e = decode_row(
            &mut &image[..],
            &codecs,
            &[false, false],
            &schemas,
            &mut Vec::new(),
        )
        .unwrap_err();
        assert!(e.contains("no columns"), "{e}");
        // at the end of the event an empty after image is fine
        decode_row(
            &mut &[][..],
            &codecs,
            &[false, false],
            &schemas,
            &mut Vec::new(),
        )
        .unwrap();
    }

    proptest! {
        #[test]
        fn civil_round_trip(days in -800_000i64..800_000) {
            let (y, m, d) = civil_from_days(days);
            prop_assert_eq!(days_from_civil(y, m, d), days);
        }

        #[test]
        fn decoding_garbage_never_panics(data in proptest::collection::vec(any::<u8>(), 0..64), btype in any::<u8>(), m0 in 0u16..300, m1 in 0u16..40) {
            let c = ColCodec { btype, meta: (m0, m1), unsigned: false, plan: None };
            let _ = read(&mut &data[..], &c, Some(&Conv::Int64), true);
            let _ = read(&mut &data[..], &c, Some(&Conv::DecimalPrecise), false);
        }
    }
}
