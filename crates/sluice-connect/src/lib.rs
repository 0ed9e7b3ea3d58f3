//! Converters between sluice's Connect data model and bytes, and single message transforms.
//!
//! * [`json::JsonConverter`] reproduces `org.apache.kafka.connect.json.JsonConverter` byte for
//!   byte (compact JSON, `schemas.enable` true/false, `decimal.format` BASE64/NUMERIC);
//!   [`json_read`] is its `toConnectData`.
//! * [`converter`]: the [`Converter`] trait and the converters by class name
//!   (`JsonConverter`, `StringConverter`, `ByteArrayConverter`, `AvroConverter`).
//! * [`avro`]: Confluent's `AvroConverter` — `AvroData`'s schema mapping, the wire format and a
//!   Schema Registry client.
//! * [`transforms`]: Kafka Connect's and Debezium's single message transforms and predicates.

pub mod avro;
pub mod converter;
mod jnum;
pub mod json;
pub mod json_read;
pub mod transforms;

pub use converter::{ConvertError, Converter};
pub use json::{DecimalFormat, JsonConverter, JsonConverterConfig};
