//! PostgreSQL's text form of column values (sluice-postgres types.rs), as pgoutput (text mode)
//! and the snapshot's COPY deliver them: numbers, numeric, money, bytea, dates and times with
//! zones, intervals, bit strings, points, arrays.
//!
//! Input: one byte choosing the conversion, then the value's text.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use sluice_postgres::config::{BinaryMode, IntervalMode};
use sluice_postgres::infinity::Origin;
use sluice_postgres::types::{decode, Conv};

fn conv(sel: u8) -> Conv {
    let scalar = |k: u8| match k % 26 {
        0 => Conv::Bool,
        1 => Conv::I16,
        2 => Conv::I32,
        3 => Conv::I64,
        4 => Conv::F32,
        5 => Conv::F64,
        6 => Conv::Decimal(2),
        7 => Conv::VarDecimal,
        8 => Conv::DecimalDouble,
        9 => Conv::DecimalString,
        10 => Conv::Money(Box::new(Conv::Decimal(2))),
        11 => Conv::Str,
        12 => Conv::Bytes(BinaryMode::Bytes),
        13 => Conv::Bytes(BinaryMode::Hex),
        14 => Conv::Date,
        15 => Conv::TimeMillis,
        16 => Conv::TimeMicros,
        17 => Conv::TimeTz,
        18 => Conv::TimestampMillis,
        19 => Conv::TimestampMicros,
        20 => Conv::TimestampTz(u32::from(k / 26 % 7)),
        21 => Conv::Interval(IntervalMode::Numeric),
        22 => Conv::Interval(IntervalMode::String),
        23 => Conv::Bit,
        24 => Conv::Bits,
        _ => Conv::Point,
    };
    if sel >= 0xc0 {
        Conv::Array {
            item: Box::new(scalar(sel)),
            required_items: sel & 1 == 1,
        }
    } else {
        scalar(sel)
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, text)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    for origin in [Origin::Snapshot, Origin::Stream, Origin::Default] {
        let _ = decode(&conv(sel), text, origin);
    }
});
