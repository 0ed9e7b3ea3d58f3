//! Kafka Connect JSON records (sluice-connect json_read.rs, `JsonConverter.toConnectData`), as
//! a sink reading Kafka topics gets them: the `{"schema", "payload"}` envelope with Connect's
//! JSON schema and logical types, or schemaless JSON. What reads is written back with the
//! JsonConverter (a record read is a record some sink writes).
//!
//! Input: one byte (bit 0: schemas.enable, bit 1: decimal.format=NUMERIC), then the record.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use sluice_connect::json_read::read;
use sluice_connect::{DecimalFormat, JsonConverter, JsonConverterConfig};

fuzz_target!(|data: &[u8]| {
    let Some((&flags, record)) = data.split_first() else {
        return;
    };
    let schemas_enable = flags & 1 == 1;
    if let Ok(Some(d)) = read(Some(record), schemas_enable) {
        let mut w = JsonConverter::new(JsonConverterConfig {
            schemas_enable,
            decimal_format: if flags & 2 == 0 {
                DecimalFormat::Base64
            } else {
                DecimalFormat::Numeric
            },
        });
        let mut out = Vec::new();
        w.write(Some(&d), &mut out);
    }
});
