//! pgoutput messages of PostgreSQL's logical replication stream (sluice-postgres pgoutput.rs):
//! Relation, Insert, Update, Delete, Truncate and the ones it skips. Input: one message.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use sluice_postgres::pgoutput::decode;

fuzz_target!(|data: &[u8]| {
    let _ = decode(data);
});
