//! Avro records in Confluent's wire format (sluice-connect avro/binary.rs), as the AvroConverter
//! reads them: the writer schema's text as the registry returns it (parsed by apache-avro and
//! mapped to a Connect schema, avro/schema.rs), the frame (magic byte, schema id), the datum
//! decoded with the writer schema and mapped onto the Connect schema.
//!
//! Input: one byte (bit 0: connect.meta.data, bit 1: enhanced.avro.schema.support), the schema
//! text's length (2 bytes, LE), the schema text, then the framed record.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use sluice_connect::avro::{binary, schema};

fuzz_target!(|data: &[u8]| {
    // apache-avro bounds what a collection's block count may reserve (512 MiB by default, a
    // process-wide setting): lower here, under the targets' allocation limit (common.rs)
    apache_avro::util::max_allocation_bytes(64 << 20);
    let [flags, l0, l1, rest @ ..] = data else {
        return;
    };
    let len = usize::from(u16::from_le_bytes([*l0, *l1])).min(rest.len());
    let (text, record) = rest.split_at(len);
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    let opts = schema::Options {
        connect_meta_data: flags & 1 == 1,
        enhanced: flags & 2 == 2,
    };
    let connect = schema::to_connect(text, opts);
    let (Ok(avro), Ok(connect)) = (apache_avro::Schema::parse_str(text), connect) else {
        return;
    };
    if let Ok((id, datum)) = binary::split_frame(record) {
        let _ = binary::decode(&avro, &connect, id, datum);
    }
});
