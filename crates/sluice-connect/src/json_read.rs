//! `JsonConverter.toConnectData`: JSON bytes → Connect data.
//!
//! With `schemas.enable=true` the record must be the `{"schema": …, "payload": …}` envelope; the
//! schema is Connect's JSON schema (`asConnectSchema`) and the payload is read against it,
//! logical types included (`Decimal` from base64 or a number, `Date`/`Time`/`Timestamp` as
//! integers, bytes from base64). With `schemas.enable=false` the value is schemaless: objects
//! become maps with string keys, integral numbers `int64`, other numbers `float64` (or decimals
//! with `decimal.format=NUMERIC`… as Connect: doubles), strings, booleans, arrays, nulls.

use std::sync::Arc;

use base64::Engine;
use serde_json::Value as Json;
use sluice_core::decimal::Decimal;
use sluice_core::schema::{logical, Schema, SchemaBuilder, SchemaType};
use sluice_core::{Data, Value};

use crate::converter::ConvertError;

/// Largest `Decimal` scale read: PostgreSQL's (MySQL's is 30). A record's schema could claim
/// any int, and rescaling a number to a scale of millions takes that many digits of memory.
const MAX_DECIMAL_SCALE: u32 = 16_383;

fn bad(message: impl Into<String>) -> ConvertError {
    ConvertError::Data(message.into())
}

/// Parses one record part. JSON `null` (or no bytes) is `None`.
pub fn read(bytes: Option<&[u8]>, schemas_enable: bool) -> Result<Option<Data>, ConvertError> {
    let Some(bytes) = bytes else {
        return Ok(None);
    };
    let json: Json = serde_json::from_slice(bytes).map_err(|e| {
        bad(format!(
            "converting byte[] to Kafka Connect data failed due to serialization error: {e}"
        ))
    })?;
    if json.is_null() {
        return Ok(None);
    }
    if !schemas_enable {
        return Ok(Some(Data::schemaless(schemaless(&json))));
    }
    let (Some(schema), Some(payload), 2) = (
        json.get("schema"),
        json.get("payload"),
        json.as_object().map_or(0, |o| o.len()),
    ) else {
        return Err(bad("JsonConverter with schemas.enable requires \"schema\" and \"payload\" fields and may not contain additional fields. If you are trying to deserialize plain JSON data, set schemas.enable=false in your converter configuration."));
    };
    if schema.is_null() {
        return Ok(Some(Data::schemaless(schemaless(payload))));
    }
    let schema = parse_schema(schema)?;
    let value = value_of(&schema, payload)?;
    if value.is_null() && !schema.optional && schema.default.is_none() {
        return Ok(None);
    }
    Ok(Some(Data::new(schema, value)))
}

/// A schemaless JSON value as Connect reads it.
pub fn schemaless(j: &Json) -> Value {
    match j {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Boolean(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::Int64(i),
            None => Value::Float64(n.as_f64().unwrap_or(f64::NAN)),
        },
        Json::String(s) => Value::String(Arc::from(s.as_str())),
        Json::Array(a) => Value::Array(a.iter().map(schemaless).collect()),
        Json::Object(o) => Value::Map(
            o.iter()
                .map(|(k, v)| (Value::String(Arc::from(k.as_str())), schemaless(v)))
                .collect(),
        ),
    }
}

/// Connect's `asConnectSchema`.
pub fn parse_schema(j: &Json) -> Result<Arc<Schema>, ConvertError> {
    let ty = j["type"]
        .as_str()
        .ok_or_else(|| bad("schema must contain a \"type\" field"))?;
    let mut b = match ty {
        "boolean" => SchemaBuilder::boolean(),
        "int8" => SchemaBuilder::int8(),
        "int16" => SchemaBuilder::int16(),
        "int32" => SchemaBuilder::int32(),
        "int64" => SchemaBuilder::int64(),
        "float" => SchemaBuilder::float32(),
        "double" => SchemaBuilder::float64(),
        "bytes" => SchemaBuilder::bytes(),
        "string" => SchemaBuilder::string(),
        "array" => SchemaBuilder::array(parse_schema(
            j.get("items")
                .ok_or_else(|| bad("array schema did not specify the items type"))?,
        )?),
        "map" => SchemaBuilder::map(
            parse_schema(
                j.get("keys")
                    .ok_or_else(|| bad("map schema did not specify the key type"))?,
            )?,
            parse_schema(
                j.get("values")
                    .ok_or_else(|| bad("map schema did not specify the value type"))?,
            )?,
        ),
        "struct" => {
            let mut b = SchemaBuilder::structure();
            for f in j["fields"]
                .as_array()
                .ok_or_else(|| bad("struct schema's \"fields\" argument is not an array"))?
            {
                let name = f["field"]
                    .as_str()
                    .ok_or_else(|| bad("struct schema's field name not specified properly"))?;
                b = b.field(name, parse_schema(f)?);
            }
            b
        }
        other => return Err(bad(format!("unknown schema type: {other}"))),
    };
    if j["optional"].as_bool() == Some(true) {
        b = b.optional();
    }
    if let Some(n) = j["name"].as_str() {
        b = b.name(n);
    }
    if let Some(v) = j["version"].as_i64() {
        b = b.version(v as i32);
    }
    if let Some(d) = j["doc"].as_str() {
        b = b.doc(d);
    }
    if let Some(params) = j["parameters"].as_object() {
        for (k, v) in params {
            b = b.parameter(k, v.as_str().map_or_else(|| v.to_string(), str::to_string));
        }
    }
    let schema = b.build();
    match j.get("default") {
        Some(d) if !d.is_null() => {
            let value = value_of(&schema, d)?;
            let mut s = (*schema).clone();
            s.default = Some(value);
            Ok(Arc::new(s))
        }
        _ => Ok(schema),
    }
}

/// Connect's `convertToConnect` for a value of `s`.
pub fn value_of(s: &Schema, j: &Json) -> Result<Value, ConvertError> {
    if j.is_null() {
        return match &s.default {
            Some(d) => Ok(d.clone()),
            None if s.optional => Ok(Value::Null),
            None => Err(bad(format!(
                "invalid null value for required {} field",
                s.ty.json_name().to_uppercase()
            ))),
        };
    }
    let mismatch = || {
        bad(format!(
            "invalid value for {} schema: {j}",
            s.ty.json_name()
        ))
    };
    let int = || j.as_i64().ok_or_else(mismatch);
    Ok(match s.ty {
        SchemaType::Boolean => Value::Boolean(j.as_bool().ok_or_else(mismatch)?),
        SchemaType::Int8 => Value::Int8(int()? as i8),
        SchemaType::Int16 => Value::Int16(int()? as i16),
        SchemaType::Int32 => Value::Int32(int()? as i32),
        SchemaType::Int64 => Value::Int64(int()?),
        SchemaType::Float32 => Value::Float32(float(j).ok_or_else(mismatch)? as f32),
        SchemaType::Float64 => Value::Float64(float(j).ok_or_else(mismatch)?),
        SchemaType::String => Value::String(Arc::from(j.as_str().ok_or_else(mismatch)?)),
        SchemaType::Bytes if s.name.as_deref() == Some(logical::DECIMAL) => {
            let scale: u32 = s
                .parameter("scale")
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| bad("Decimal schema without a scale parameter"))?;
            if scale > MAX_DECIMAL_SCALE {
                return Err(bad(format!(
                    "Decimal scale {scale} is beyond any database's (at most {MAX_DECIMAL_SCALE})"
                )));
            }
            match j {
                Json::String(t) => Value::Decimal(Decimal {
                    unscaled: base64::engine::general_purpose::STANDARD
                        .decode(t)
                        .map_err(|e| bad(format!("invalid base64 decimal: {e}")))?,
                    scale,
                }),
                Json::Number(n) => {
                    let d = Decimal::parse(&n.to_string()).ok_or_else(mismatch)?;
                    Value::Decimal(d.with_scale(scale))
                }
                _ => return Err(mismatch()),
            }
        }
        SchemaType::Bytes => Value::Bytes(
            base64::engine::general_purpose::STANDARD
                .decode(j.as_str().ok_or_else(mismatch)?)
                .map_err(|e| bad(format!("invalid base64 bytes: {e}")))?,
        ),
        SchemaType::Array => {
            let items = s.items.as_ref().ok_or_else(mismatch)?;
            Value::Array(
                j.as_array()
                    .ok_or_else(mismatch)?
                    .iter()
                    .map(|v| value_of(items, v))
                    .collect::<Result<_, _>>()?,
            )
        }
        SchemaType::Map => {
            let (ks, vs) = (
                s.items.as_ref().ok_or_else(mismatch)?,
                s.values.as_ref().ok_or_else(mismatch)?,
            );
            match j {
                Json::Object(o) if ks.ty == SchemaType::String => Value::Map(
                    o.iter()
                        .map(|(k, v)| Ok((Value::String(Arc::from(k.as_str())), value_of(vs, v)?)))
                        .collect::<Result<_, ConvertError>>()?,
                ),
                Json::Array(pairs) => Value::Map(
                    pairs
                        .iter()
                        .map(|p| match p.as_array().map(Vec::as_slice) {
                            Some([k, v]) => Ok((value_of(ks, k)?, value_of(vs, v)?)),
                            _ => Err(bad("map entries must be [key, value] arrays")),
                        })
                        .collect::<Result<_, ConvertError>>()?,
                ),
                _ => return Err(mismatch()),
            }
        }
        SchemaType::Struct => {
            let o = j.as_object().ok_or_else(mismatch)?;
            Value::Struct(
                s.fields
                    .iter()
                    .map(|f| value_of(&f.schema, o.get(&f.name).unwrap_or(&Json::Null)))
                    .collect::<Result<_, _>>()?,
            )
        }
    })
}

fn float(j: &Json) -> Option<f64> {
    match j {
        Json::Number(n) => n.as_f64(),
        Json::String(s) => match s.as_str() {
            "NaN" => Some(f64::NAN),
            "Infinity" => Some(f64::INFINITY),
            "-Infinity" => Some(f64::NEG_INFINITY),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::{JsonConverter, JsonConverterConfig};

    #[test]
    fn what_the_writer_writes_reads_back_identically() {
        let dec = SchemaBuilder::bytes()
            .optional()
            .name(logical::DECIMAL)
            .version(1)
            .parameter("scale", "2")
            .build();
        let s = SchemaBuilder::structure()
            .name("x.Value")
            .field("id", SchemaBuilder::int64().build())
            .field("amount", dec)
            .field(
                "tags",
                SchemaBuilder::array(SchemaBuilder::string().build())
                    .optional()
                    .build(),
            )
            .field("b", SchemaBuilder::bytes().optional().build())
            .field(
                "m",
                SchemaBuilder::map(
                    SchemaBuilder::int32().build(),
                    SchemaBuilder::string().build(),
                )
                .optional()
                .build(),
            )
            .build();
        let data = Data::new(
            s,
            Value::Struct(vec![
                Value::Int64(7),
                Value::Decimal(Decimal::parse("-12.50").unwrap()),
                Value::Array(vec![Value::String("a".into())]),
                Value::Bytes(vec![0, 255]),
                Value::Map(vec![(Value::Int32(1), Value::String("one".into()))]),
            ]),
        );
        let mut c = JsonConverter::new(JsonConverterConfig::default());
        let text = c.to_string(Some(&data));
        let back = read(Some(text.as_bytes()), true).unwrap().unwrap();
        assert_eq!(back.value, data.value);
        assert_eq!(c.to_string(Some(&back)), text, "schema round trip");
    }

    #[test]
    fn schemaless_json_is_maps_longs_and_doubles() {
        let d = read(
            Some(br#"{"id": 1, "x": 1.5, "s": "t", "l": [true, null]}"#),
            false,
        )
        .unwrap()
        .unwrap();
        assert!(d.schema.is_none());
        assert_eq!(d.field("id"), Some(&Value::Int64(1)));
        assert_eq!(d.field("x"), Some(&Value::Float64(1.5)));
        assert_eq!(
            d.field("l"),
            Some(&Value::Array(vec![Value::Boolean(true), Value::Null]))
        );
        assert_eq!(read(Some(b"null"), false).unwrap(), None);
    }

    #[test]
    fn a_decimal_scale_beyond_any_database_is_an_error_not_an_allocation() {
        let record = |scale: &str, value: &str| {
            format!(
                r#"{{"schema": {{"type": "bytes", "name": "org.apache.kafka.connect.data.Decimal", "parameters": {{"scale": "{scale}"}}}}, "payload": {value}}}"#
            )
        };
        let e = read(Some(record("300000860", "0").as_bytes()), true)
            .unwrap_err()
            .to_string();
        assert!(e.contains("Decimal scale 300000860"), "{e}");
        assert!(read(Some(record("300000860", "\"AA==\"").as_bytes()), true).is_err());
        let d = read(Some(record("16383", "1").as_bytes()), true)
            .unwrap()
            .unwrap();
        let Value::Decimal(d) = d.value else { panic!() };
        assert_eq!(d.scale, 16383);
    }

    #[test]
    fn an_envelope_is_required_with_schemas_enabled() {
        let e = read(Some(br#"{"id": 1}"#), true).unwrap_err().to_string();
        assert!(e.contains("schemas.enable=false"), "{e}");
        let e = read(Some(b"{not json"), true).unwrap_err().to_string();
        assert!(e.contains("serialization error"), "{e}");
    }
}
