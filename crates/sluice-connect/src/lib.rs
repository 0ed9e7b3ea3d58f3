//! Converters between sluice's Connect data model and bytes.
//!
//! [`json::JsonConverter`] reproduces `org.apache.kafka.connect.json.JsonConverter` byte for byte
//! (compact JSON, `schemas.enable` true/false, `decimal.format` BASE64/NUMERIC).

pub mod json;
mod jnum;

pub use json::{DecimalFormat, JsonConverter, JsonConverterConfig};
