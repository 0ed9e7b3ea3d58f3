//! Converters between sluice's Connect data model and bytes.
//!
//! [`json::JsonConverter`] reproduces `org.apache.kafka.connect.json.JsonConverter` byte for byte
//! (compact JSON, `schemas.enable` true/false, `decimal.format` BASE64/NUMERIC).

mod jnum;
pub mod json;

pub use json::{DecimalFormat, JsonConverter, JsonConverterConfig};
