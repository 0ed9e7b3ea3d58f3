//! Kafka Connect converters by class name: Connect data ↔ the bytes of a Kafka record's key or
//! value.
//!
//! | class | serialize | deserialize |
//! |---|---|---|
//! | `org.apache.kafka.connect.json.JsonConverter` | [`crate::json`] (`schemas.enable`, `decimal.format`) | [`crate::json_read`] |
//! | `org.apache.kafka.connect.storage.StringConverter` | the value's text (Java `toString`) | an optional string |
//! | `org.apache.kafka.connect.converters.ByteArrayConverter` | bytes as they are | optional bytes |
//! | `io.confluent.connect.avro.AvroConverter` | [`crate::avro`]: Confluent wire format, Schema Registry | same |
//!
//! A converter's settings are the properties after its prefix (`value.converter.schemas.enable`
//! → `schemas.enable`), with the connector's own `key.converter`/`value.converter` overriding
//! the worker's, as in Connect.

use std::collections::BTreeMap;
use std::sync::Arc;

use sluice_core::schema::{Schema, SchemaBuilder, SchemaType};
use sluice_core::{Data, ErrorClass, Failure, Retryable, Stage, Value};

use crate::json::{DecimalFormat, JsonConverter, JsonConverterConfig};

/// Why a record part could not be converted.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    /// The data does not fit the converter (Connect's `DataException`).
    #[error("{0}")]
    Data(String),
    /// The converter is misconfigured.
    #[error("converter configuration: {0}")]
    Config(String),
    /// A service the converter needs (a schema registry) is unreachable.
    #[error("{0}")]
    Unavailable(String),
}

impl ConvertError {
    /// The Java exception class Connect would report (DLQ headers, REST traces).
    pub fn java_class(&self) -> &'static str {
        match self {
            ConvertError::Data(_) => "org.apache.kafka.connect.errors.DataException",
            ConvertError::Config(_) => "org.apache.kafka.common.config.ConfigException",
            ConvertError::Unavailable(_) => "org.apache.kafka.connect.errors.RetriableException",
        }
    }
}

impl ConvertError {
    /// This error as a record failure in `stage` (`KeyConverter` or `ValueConverter`), for the
    /// connector's error handling.
    pub fn failure(&self, stage: Stage) -> Failure {
        Failure {
            stage,
            class: if stage == Stage::KeyConverter {
                "key.converter"
            } else {
                "value.converter"
            }
            .into(),
            exception: self.java_class().into(),
            message: self.to_string(),
        }
    }
}

impl Retryable for ConvertError {
    fn class(&self) -> ErrorClass {
        match self {
            ConvertError::Unavailable(_) => ErrorClass::Retryable,
            _ => ErrorClass::Fatal,
        }
    }
}

/// One key or value converter.
pub trait Converter: Send {
    /// Appends the bytes of `data` to `out`; `Ok(false)` (nothing appended) for a null.
    fn serialize(
        &mut self,
        topic: &str,
        data: Option<&Data>,
        out: &mut Vec<u8>,
    ) -> Result<bool, ConvertError>;

    /// Reads the bytes of a record part; `None` bytes (a null key, a tombstone) read as `None`.
    fn deserialize(
        &mut self,
        topic: &str,
        bytes: Option<&[u8]>,
    ) -> Result<Option<Data>, ConvertError>;
}

impl Converter for JsonConverter {
    fn serialize(
        &mut self,
        _topic: &str,
        data: Option<&Data>,
        out: &mut Vec<u8>,
    ) -> Result<bool, ConvertError> {
        match data {
            None => Ok(false),
            Some(d) => {
                self.write(Some(d), out);
                Ok(true)
            }
        }
    }

    fn deserialize(
        &mut self,
        _topic: &str,
        bytes: Option<&[u8]>,
    ) -> Result<Option<Data>, ConvertError> {
        crate::json_read::read(bytes, self.config().schemas_enable)
    }
}

/// `org.apache.kafka.connect.storage.StringConverter` (UTF-8).
#[derive(Debug, Default)]
pub struct StringConverter;

impl Converter for StringConverter {
    fn serialize(
        &mut self,
        _topic: &str,
        data: Option<&Data>,
        out: &mut Vec<u8>,
    ) -> Result<bool, ConvertError> {
        match data {
            None => Ok(false),
            Some(d) if d.value.is_null() => Ok(false),
            Some(d) => {
                java_string(d.schema.as_deref(), &d.value, out);
                Ok(true)
            }
        }
    }

    fn deserialize(
        &mut self,
        _topic: &str,
        bytes: Option<&[u8]>,
    ) -> Result<Option<Data>, ConvertError> {
        Ok(bytes.map(|b| {
            Data::new(
                optional_string(),
                Value::String(Arc::from(String::from_utf8_lossy(b).as_ref())),
            )
        }))
    }
}

/// `org.apache.kafka.connect.converters.ByteArrayConverter`.
#[derive(Debug, Default)]
pub struct ByteArrayConverter;

impl Converter for ByteArrayConverter {
    fn serialize(
        &mut self,
        _topic: &str,
        data: Option<&Data>,
        out: &mut Vec<u8>,
    ) -> Result<bool, ConvertError> {
        match data.map(|d| &d.value) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bytes(b)) => {
                out.extend_from_slice(b);
                Ok(true)
            }
            Some(_) => Err(ConvertError::Data(
                "ByteArrayConverter is not compatible with objects of this type: the value must be bytes".into(),
            )),
        }
    }

    fn deserialize(
        &mut self,
        _topic: &str,
        bytes: Option<&[u8]>,
    ) -> Result<Option<Data>, ConvertError> {
        Ok(bytes.map(|b| {
            Data::new(
                SchemaBuilder::bytes().optional().build(),
                Value::Bytes(b.to_vec()),
            )
        }))
    }
}

fn optional_string() -> Arc<Schema> {
    SchemaBuilder::string().optional().build()
}

/// A Connect value as Java's `toString` prints it (`Struct{a=1,b=x}`, `[1, 2]`, `{k=v}`).
pub fn java_string(schema: Option<&Schema>, v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Int8(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Value::Int16(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Value::Int32(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Value::Int64(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Value::Float32(f) => crate::jnum::write_f32(out, *f),
        Value::Float64(f) => crate::jnum::write_f64(out, *f),
        Value::String(s) => out.extend_from_slice(s.as_bytes()),
        Value::Bytes(b) => out.extend_from_slice(format!("{b:?}").as_bytes()),
        Value::Decimal(d) => out.extend_from_slice(d.to_plain_string().as_bytes()),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(b", ");
                }
                java_string(schema.and_then(|s| s.items.as_deref()), item, out);
            }
            out.push(b']');
        }
        Value::Map(entries) => {
            out.push(b'{');
            for (i, (k, val)) in entries.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(b", ");
                }
                java_string(schema.and_then(|s| s.items.as_deref()), k, out);
                out.push(b'=');
                java_string(schema.and_then(|s| s.values.as_deref()), val, out);
            }
            out.push(b'}');
        }
        Value::Struct(fields) => {
            out.extend_from_slice(b"Struct{");
            let mut first = true;
            if let Some(s) = schema.filter(|s| s.ty == SchemaType::Struct) {
                for (f, val) in s.fields.iter().zip(fields) {
                    if val.is_null() {
                        continue;
                    }
                    if !first {
                        out.push(b',');
                    }
                    first = false;
                    out.extend_from_slice(f.name.as_bytes());
                    out.push(b'=');
                    java_string(Some(&f.schema), val, out);
                }
            }
            out.push(b'}');
        }
    }
}

/// Class names (and short aliases) of the converters sluice has.
pub const CONVERTER_CLASSES: &[&str] = &[
    "org.apache.kafka.connect.json.JsonConverter",
    "org.apache.kafka.connect.storage.StringConverter",
    "org.apache.kafka.connect.converters.ByteArrayConverter",
    "io.confluent.connect.avro.AvroConverter",
];

/// Builds the converter named `class` from its settings (`props` without the prefix).
pub fn build(
    class: &str,
    props: &BTreeMap<String, String>,
    is_key: bool,
) -> Result<Box<dyn Converter>, ConvertError> {
    let flag = |k: &str, default: bool| {
        sluice_core::props::flag(props, k, default).map_err(ConvertError::Config)
    };
    match class.trim() {
        "org.apache.kafka.connect.json.JsonConverter" | "JsonConverter" | "json" => {
            let decimal_format = match props.get("decimal.format").map(|v| v.trim()) {
                None => DecimalFormat::Base64,
                Some(v) if v.eq_ignore_ascii_case("BASE64") => DecimalFormat::Base64,
                Some(v) if v.eq_ignore_ascii_case("NUMERIC") => DecimalFormat::Numeric,
                Some(v) => {
                    return Err(ConvertError::Config(format!(
                        "decimal.format={v:?}: use BASE64 or NUMERIC"
                    )))
                }
            };
            Ok(Box::new(JsonConverter::new(JsonConverterConfig {
                schemas_enable: flag("schemas.enable", true)?,
                decimal_format,
            })))
        }
        "org.apache.kafka.connect.storage.StringConverter" | "StringConverter" | "string" => {
            match props.get("converter.encoding").or(props.get("encoding")) {
                Some(e) if !e.eq_ignore_ascii_case("UTF8") && !e.eq_ignore_ascii_case("UTF-8") => {
                    Err(ConvertError::Config(format!(
                        "StringConverter encoding {e:?} is not supported; use UTF-8"
                    )))
                }
                _ => Ok(Box::new(StringConverter)),
            }
        }
        "org.apache.kafka.connect.converters.ByteArrayConverter" | "ByteArrayConverter" => {
            Ok(Box::new(ByteArrayConverter))
        }
        "io.confluent.connect.avro.AvroConverter" | "AvroConverter" | "avro" => {
            let cfg = crate::avro::AvroConfig::from_properties(props, is_key)?;
            Ok(Box::new(crate::avro::AvroConverter::new(cfg, is_key)))
        }
        other => Err(ConvertError::Config(format!(
            "unknown converter class {other:?}; sluice provides: {}",
            CONVERTER_CLASSES.join(", ")
        ))),
    }
}

/// The `key.converter` (`is_key`) or `value.converter` of a connector: its own settings first,
/// then the worker's, then Connect's default (`JsonConverter`). Debezium's
/// `converter.schemas.enable` is honoured as a fallback for `schemas.enable`.
pub fn for_connector(
    connector: &BTreeMap<String, String>,
    worker: &BTreeMap<String, String>,
    is_key: bool,
) -> Result<Box<dyn Converter>, ConvertError> {
    let prefix = if is_key {
        "key.converter"
    } else {
        "value.converter"
    };
    let (class, source) = match connector.get(prefix) {
        Some(c) => (c.clone(), connector),
        None => match worker.get(prefix) {
            Some(c) => (c.clone(), worker),
            None => (CONVERTER_CLASSES[0].to_string(), connector),
        },
    };
    let dotted = format!("{prefix}.");
    let mut props: BTreeMap<String, String> = source
        .iter()
        .filter_map(|(k, v)| k.strip_prefix(&dotted).map(|k| (k.to_string(), v.clone())))
        .collect();
    if !props.contains_key("schemas.enable") {
        if let Some(v) = connector.get("converter.schemas.enable") {
            props.insert("schemas.enable".into(), v.clone());
        }
    }
    build(&class, &props, is_key)
}

#[cfg(test)]
mod tests {
    use super::*;

    use sluice_core::props::from_pairs as props;

    #[test]
    fn connector_settings_override_the_workers() {
        let worker = props(&[
            (
                "value.converter",
                "org.apache.kafka.connect.json.JsonConverter",
            ),
            ("value.converter.schemas.enable", "true"),
        ]);
        let conn = props(&[
            (
                "value.converter",
                "org.apache.kafka.connect.json.JsonConverter",
            ),
            ("value.converter.schemas.enable", "false"),
        ]);
        let mut c = for_connector(&conn, &worker, false).unwrap();
        let s = SchemaBuilder::structure()
            .field("id", SchemaBuilder::int32().build())
            .build();
        let mut out = Vec::new();
        c.serialize(
            "t",
            Some(&Data::new(s, Value::Struct(vec![Value::Int32(1)]))),
            &mut out,
        )
        .unwrap();
        assert_eq!(out, br#"{"id":1}"#);
        let e = for_connector(&props(&[("key.converter", "com.acme.Nope")]), &worker, true)
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("com.acme.Nope") && e.contains("StringConverter"),
            "{e}"
        );
    }

    #[test]
    fn string_and_byte_array_converters_behave_as_connects() {
        let s = SchemaBuilder::structure()
            .field("id", SchemaBuilder::int32().build())
            .field("n", SchemaBuilder::string().optional().build())
            .field("x", SchemaBuilder::string().optional().build())
            .build();
        let mut out = Vec::new();
        StringConverter
            .serialize(
                "t",
                Some(&Data::new(
                    s,
                    Value::Struct(vec![
                        Value::Int32(1),
                        Value::String("a".into()),
                        Value::Null,
                    ]),
                )),
                &mut out,
            )
            .unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "Struct{id=1,n=a}");
        let d = StringConverter
            .deserialize("t", Some(b"hi"))
            .unwrap()
            .unwrap();
        assert_eq!(d.value, Value::String("hi".into()));
        assert!(d.schema.unwrap().optional);
        let mut out = Vec::new();
        assert!(ByteArrayConverter
            .serialize(
                "t",
                Some(&Data::schemaless(Value::Bytes(vec![1, 2]))),
                &mut out
            )
            .unwrap());
        assert_eq!(out, vec![1, 2]);
        assert!(ByteArrayConverter
            .serialize("t", Some(&Data::schemaless(Value::Int32(1))), &mut out)
            .is_err());
        assert_eq!(ByteArrayConverter.deserialize("t", None).unwrap(), None);
    }
}
