//! Values read with the binary protocol (snapshot and incremental snapshot SELECTs) → Connect
//! values, equal to what the binlog decoder gives for the same column.
//!
//! Text differs from the binlog in one way: the server converts result values to the
//! connection's `character_set_results`, which every sluice connection sets to utf8mb4
//! (`preflight::connect`). So a `latin1` or `gbk` column arrives here already as UTF-8, and only
//! the binlog decoder needs the column's own character set.

use std::sync::Arc;

use mysql_async::Value as My;
use sluice_core::decimal::Decimal;
use sluice_core::Value;

use crate::decode::{self, days_from_civil, zoned_timestamp};
use crate::mapping::Conv;

/// A value read with the binary protocol → the Connect value of its field (same result as the
/// binlog decoder gives for the same column).
pub(crate) fn convert(v: My, conv: &Conv, nullable: bool) -> Result<Value, String> {
    Ok(match v {
        My::NULL => Value::Null,
        My::Int(i) => decode::int_value(i128::from(i), Some(conv)),
        My::UInt(u) => decode::int_value(i128::from(u), Some(conv)),
        My::Float(f) => match conv {
            Conv::Float64 => Value::Float64(f64::from(f)),
            _ => Value::Float32(f),
        },
        My::Double(d) => match conv {
            Conv::Float32 => Value::Float32(d as f32),
            _ => Value::Float64(d),
        },
        My::Date(y, mo, d, h, mi, s, us) => {
            if y == 0 || mo == 0 || d == 0 {
                return Ok(decode::zero_temporal(nullable, Some(conv)));
            }
            let days = days_from_civil(i64::from(y), u32::from(mo), u32::from(d));
            let secs = days * 86_400 + i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(s);
            match conv {
                Conv::Date => Value::Int32(days as i32),
                Conv::ZonedTimestamp { fsp } => Value::String(Arc::from(
                    zoned_timestamp(secs, i64::from(us), *fsp).as_str(),
                )),
                Conv::DateTimeMillis => {
                    Value::Int64((secs * 1_000_000 + i64::from(us)).div_euclid(1000))
                }
                _ => Value::Int64(secs * 1_000_000 + i64::from(us)),
            }
        }
        My::Time(neg, days, h, mi, s, us) => {
            let secs =
                i64::from(days) * 86_400 + i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(s);
            let micros = secs * 1_000_000 + i64::from(us);
            decode::time_value(if neg { -micros } else { micros }, Some(conv))
        }
        My::Bytes(b) => bytes(b, conv)?,
    })
}

fn bytes(b: Vec<u8>, conv: &Conv) -> Result<Value, String> {
    let text = || std::str::from_utf8(&b).map_err(|e| e.to_string());
    Ok(match conv {
        Conv::DecimalPrecise
        | Conv::DecimalDouble
        | Conv::DecimalString
        | Conv::UnsignedPrecise => {
            let d = Decimal::parse(text()?.trim()).ok_or("not a decimal")?;
            match conv {
                Conv::DecimalDouble => Value::Float64(d.to_f64()),
                Conv::DecimalString => Value::String(Arc::from(d.to_plain_string().as_str())),
                _ => Value::Decimal(d),
            }
        }
        Conv::Int16
        | Conv::Int32
        | Conv::Int64
        | Conv::UnsignedLong
        | Conv::Year
        | Conv::IntBool => {
            let t = text()?.trim().to_string();
            let v: i128 = t.parse().map_err(|_| format!("not an integer: {t:?}"))?;
            decode::int_value(v, Some(conv))
        }
        Conv::Float32 => Value::Float32(text()?.trim().parse().map_err(|_| "not a float")?),
        Conv::Float64 => Value::Float64(text()?.trim().parse().map_err(|_| "not a double")?),
        Conv::Bool => Value::Boolean(b.iter().any(|x| *x != 0)),
        Conv::Bits { bits } => {
            let mut le: Vec<u8> = b.iter().rev().copied().collect();
            le.resize(bits.div_ceil(8) as usize, 0);
            Value::Bytes(le)
        }
        Conv::Binary { pad_to, mode } => {
            let mut v = b;
            if let Some(n) = pad_to {
                v.resize((*n as usize).max(v.len()), 0);
            }
            decode::binary_value(v, *mode)
        }
        Conv::Geometry => {
            if b.len() < 4 {
                return Err("geometry value shorter than its SRID".into());
            }
            let srid = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as i32;
            Value::Struct(vec![Value::Bytes(b[4..].to_vec()), Value::Int32(srid)])
        }
        // text values arrive converted to the connection's character_set_results, utf8mb4 on
        // every sluice connection (preflight::connect), whatever the column's character set
        _ => Value::String(match std::str::from_utf8(&b) {
            Ok(s) => Arc::from(s),
            Err(_) => Arc::from(String::from_utf8_lossy(&b).as_ref()),
        }),
    })
}
