//! Connect values ↔ Avro binary data, for the schemas [`super::schema`] derives.
//!
//! Encoding is written out here (it runs for every record and needs no intermediate tree): ints
//! and longs are zig-zag varints, floats little-endian IEEE 754, strings and bytes
//! length-prefixed, a union is its branch index then the value, arrays and maps one block of
//! `count` items then a zero count, records their fields in order. The union branch follows the
//! schema text: optional structs and optional schemas without a default are `["null", T]`,
//! optional schemas with a default `[T, "null"]`. Decoding uses `apache-avro` with the writer's
//! schema from the registry, then maps its values onto the Connect schema of that text.

use std::sync::Arc;

use apache_avro::types::Value as Avro;
use sluice_core::decimal::Decimal;
use sluice_core::schema::{Schema, SchemaType};
use sluice_core::Value;

use crate::ConvertError;

fn long(out: &mut Vec<u8>, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

fn bytes(out: &mut Vec<u8>, b: &[u8]) {
    long(out, b.len() as i64);
    out.extend_from_slice(b);
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Boolean(_) => "boolean",
        Value::Int8(_) => "int8",
        Value::Int16(_) => "int16",
        Value::Int32(_) => "int32",
        Value::Int64(_) => "int64",
        Value::Float32(_) => "float32",
        Value::Float64(_) => "float64",
        Value::String(_) => "string",
        Value::Bytes(_) => "bytes",
        Value::Decimal(_) => "decimal",
        Value::Array(_) => "array",
        Value::Map(_) => "map",
        Value::Struct(_) => "struct",
    }
}

fn mismatch(s: &Schema, v: &Value) -> ConvertError {
    ConvertError::Data(format!(
        "value: a {} value does not fit the schema type {}",
        kind(v),
        s.ty.json_name()
    ))
}

/// An error about a value inside field `name`, as seen from the enclosing struct
/// (`value: …` becomes `name: …`, `inner: …` becomes `name.inner: …`).
fn in_field(e: ConvertError, name: &str) -> ConvertError {
    match e {
        ConvertError::Data(m) => ConvertError::Data(match m.strip_prefix("value: ") {
            Some(rest) => format!("{name}: {rest}"),
            None => format!("{name}.{m}"),
        }),
        other => other,
    }
}

/// Appends the Avro binary encoding of `v` (of schema `s`).
pub fn encode(s: &Schema, v: &Value, out: &mut Vec<u8>) -> Result<(), ConvertError> {
    write(s, v, out)
}

fn write(s: &Schema, v: &Value, out: &mut Vec<u8>) -> Result<(), ConvertError> {
    let v = match (v, &s.default) {
        (Value::Null, Some(d)) if !s.optional => d,
        _ => v,
    };
    if s.optional {
        let null_first = s.ty == SchemaType::Struct || s.default.is_none();
        let is_null = v.is_null();
        long(out, if is_null == null_first { 0 } else { 1 });
        if is_null {
            return Ok(());
        }
    } else if v.is_null() {
        return Err(ConvertError::Data(format!(
            "value: null for a required {} schema",
            s.ty.json_name()
        )));
    }
    match (s.ty, v) {
        (SchemaType::Int8 | SchemaType::Int16 | SchemaType::Int32, Value::Int8(n)) => {
            long(out, *n as i64)
        }
        (SchemaType::Int8 | SchemaType::Int16 | SchemaType::Int32, Value::Int16(n)) => {
            long(out, *n as i64)
        }
        (SchemaType::Int8 | SchemaType::Int16 | SchemaType::Int32, Value::Int32(n)) => {
            long(out, *n as i64)
        }
        (SchemaType::Int64, Value::Int64(n)) => long(out, *n),
        (SchemaType::Float32, Value::Float32(f)) => out.extend_from_slice(&f.to_le_bytes()),
        (SchemaType::Float64, Value::Float64(f)) => out.extend_from_slice(&f.to_le_bytes()),
        (SchemaType::Boolean, Value::Boolean(b)) => out.push(*b as u8),
        (SchemaType::String, Value::String(t)) => bytes(out, t.as_bytes()),
        (SchemaType::Bytes, Value::Bytes(b)) => bytes(out, b),
        (SchemaType::Bytes, Value::Decimal(d)) => bytes(out, &d.unscaled),
        (SchemaType::Array, Value::Array(items)) => {
            let item = s.items.as_deref().ok_or_else(|| mismatch(s, v))?;
            if !items.is_empty() {
                long(out, items.len() as i64);
                for i in items {
                    write(item, i, out)?;
                }
            }
            out.push(0);
        }
        (SchemaType::Map, Value::Map(entries)) => {
            let (ks, vs) = match (s.items.as_deref(), s.values.as_deref()) {
                (Some(k), Some(v)) => (k, v),
                _ => return Err(mismatch(s, v)),
            };
            if !entries.is_empty() {
                long(out, entries.len() as i64);
                for (k, val) in entries {
                    // a string-keyed map's key is a plain string; MapEntry records hold a
                    // key of the key schema: both are written by the key schema
                    write(ks, k, out)?;
                    write(vs, val, out)?;
                }
            }
            out.push(0);
        }
        (SchemaType::Struct, Value::Struct(values)) => {
            if values.len() != s.fields.len() {
                return Err(ConvertError::Data(format!(
                    "value: a struct of {} values for a schema of {} fields",
                    values.len(),
                    s.fields.len()
                )));
            }
            for (f, val) in s.fields.iter().zip(values) {
                // the field's path is only spelled out for an error (no allocation per field)
                if let Err(e) = write(&f.schema, val, out) {
                    return Err(in_field(e, &f.name));
                }
            }
        }
        _ => return Err(mismatch(s, v)),
    }
    Ok(())
}

/// Splits Confluent's wire format: magic byte `0`, the writer schema's id (4 bytes,
/// big-endian), then the Avro binary datum.
pub fn split_frame(bytes: &[u8]) -> Result<(u32, &[u8]), ConvertError> {
    match bytes {
        [0, a, b, c, d, datum @ ..] => Ok((u32::from_be_bytes([*a, *b, *c, *d]), datum)),
        _ => Err(ConvertError::Data(
            "Unknown magic byte: the record is not in Confluent's Avro wire format".into(),
        )),
    }
}

/// Decodes one datum written with `writer` (registry id `id`, for the error) and maps it onto
/// `connect`, the Connect schema of the same schema text.
pub fn decode(
    writer: &apache_avro::Schema,
    connect: &Schema,
    id: u32,
    mut datum: &[u8],
) -> Result<Value, ConvertError> {
    let v = apache_avro::reader::datum::GenericDatumReader::builder(writer)
        .build()
        .and_then(|r| r.read_value(&mut datum))
        .map_err(|e| {
            ConvertError::Data(format!(
                "the record does not decode with schema id {id}: {e}"
            ))
        })?;
    to_connect(connect, v)
}

/// Maps a value `apache-avro` decoded onto the Connect schema of its writer schema.
pub fn to_connect(s: &Schema, v: Avro) -> Result<Value, ConvertError> {
    let wrong = |v: &Avro| {
        ConvertError::Data(format!(
            "Avro value {v:?} does not fit the Connect schema type {:?}",
            s.ty
        ))
    };
    Ok(match v {
        Avro::Null => Value::Null,
        Avro::Union(_, inner) if s.name.as_deref() != Some(super::schema::UNION) => {
            return to_connect(s, *inner)
        }
        Avro::Union(_, inner) => {
            // a general union: the struct's one set field is the branch of the value's type
            let inner = *inner;
            if matches!(inner, Avro::Null) {
                return Ok(Value::Null);
            }
            let mut values = vec![Value::Null; s.fields.len()];
            let (i, f) = s
                .fields
                .iter()
                .enumerate()
                .find(|(_, f)| fits(&f.schema, &inner))
                .ok_or_else(|| wrong(&inner))?;
            values[i] = to_connect(&f.schema, inner)?;
            Value::Struct(values)
        }
        Avro::Boolean(b) => Value::Boolean(b),
        Avro::Int(n) | Avro::Date(n) | Avro::TimeMillis(n) => match s.ty {
            SchemaType::Int8 => Value::Int8(n as i8),
            SchemaType::Int16 => Value::Int16(n as i16),
            SchemaType::Int32 => Value::Int32(n),
            _ => return Err(wrong(&Avro::Int(n))),
        },
        Avro::Long(n)
        | Avro::TimestampMillis(n)
        | Avro::TimestampMicros(n)
        | Avro::TimestampNanos(n)
        | Avro::TimeMicros(n)
        | Avro::LocalTimestampMillis(n)
        | Avro::LocalTimestampMicros(n)
        | Avro::LocalTimestampNanos(n) => Value::Int64(n),
        Avro::Float(f) => Value::Float32(f),
        Avro::Double(f) => Value::Float64(f),
        Avro::String(t) => Value::String(Arc::from(t)),
        Avro::Enum(_, t) => Value::String(Arc::from(t)),
        Avro::Uuid(u) => Value::String(Arc::from(u.to_string())),
        Avro::Bytes(b) | Avro::Fixed(_, b) => decimal_or_bytes(s, b),
        Avro::Decimal(d) => {
            let b: Vec<u8> = Vec::try_from(&d)
                .map_err(|e| ConvertError::Data(format!("invalid Avro decimal: {e}")))?;
            decimal_or_bytes(s, b)
        }
        Avro::Array(items) => match s.ty {
            SchemaType::Array => {
                let item = s.items.as_deref().ok_or_else(|| wrong(&Avro::Null))?;
                Value::Array(
                    items
                        .into_iter()
                        .map(|i| to_connect(item, i))
                        .collect::<Result<_, _>>()?,
                )
            }
            SchemaType::Map => {
                let (ks, vs) = match (s.items.as_deref(), s.values.as_deref()) {
                    (Some(k), Some(v)) => (k, v),
                    _ => return Err(wrong(&Avro::Null)),
                };
                let mut entries = Vec::with_capacity(items.len());
                for e in items {
                    let Avro::Record(mut kv) = e else {
                        return Err(wrong(&e));
                    };
                    let value = kv.pop().map(|(_, v)| v).unwrap_or(Avro::Null);
                    let key = kv.pop().map(|(_, v)| v).unwrap_or(Avro::Null);
                    entries.push((to_connect(ks, key)?, to_connect(vs, value)?));
                }
                Value::Map(entries)
            }
            _ => return Err(wrong(&Avro::Array(items))),
        },
        Avro::Map(m) => {
            let vs = s.values.as_deref().ok_or_else(|| wrong(&Avro::Null))?;
            let mut entries: Vec<(Value, Value)> = m
                .into_iter()
                .map(|(k, v)| Ok((Value::String(Arc::from(k)), to_connect(vs, v)?)))
                .collect::<Result<_, ConvertError>>()?;
            entries.sort_by(|a, b| match (&a.0, &b.0) {
                (Value::String(x), Value::String(y)) => x.cmp(y),
                _ => std::cmp::Ordering::Equal,
            });
            Value::Map(entries)
        }
        Avro::Record(fields) => {
            if s.ty != SchemaType::Struct {
                return Err(wrong(&Avro::Record(fields)));
            }
            let mut values = Vec::with_capacity(s.fields.len());
            let mut fields = fields.into_iter();
            for f in &s.fields {
                let v = match fields.next() {
                    Some((name, v)) if name == f.name => v,
                    _ => {
                        return Err(ConvertError::Data(format!(
                            "Avro record does not have the field {} of its schema",
                            f.name
                        )))
                    }
                };
                values.push(to_connect(&f.schema, v)?);
            }
            Value::Struct(values)
        }
        other => return Err(wrong(&other)),
    })
}

fn decimal_or_bytes(s: &Schema, b: Vec<u8>) -> Value {
    if s.name.as_deref() == Some(sluice_core::schema::logical::DECIMAL) {
        let scale = s
            .parameter("scale")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        Value::Decimal(Decimal {
            unscaled: if b.is_empty() { vec![0] } else { b },
            scale,
        })
    } else {
        Value::Bytes(b)
    }
}

/// Whether a decoded value belongs to a union branch of Connect schema `s`.
fn fits(s: &Schema, v: &Avro) -> bool {
    match v {
        Avro::Boolean(_) => s.ty == SchemaType::Boolean,
        Avro::Int(_) | Avro::Date(_) | Avro::TimeMillis(_) => {
            matches!(
                s.ty,
                SchemaType::Int8 | SchemaType::Int16 | SchemaType::Int32
            )
        }
        Avro::Long(_) | Avro::TimestampMillis(_) | Avro::TimestampMicros(_) => {
            s.ty == SchemaType::Int64
        }
        Avro::Float(_) => s.ty == SchemaType::Float32,
        Avro::Double(_) => s.ty == SchemaType::Float64,
        Avro::String(_) | Avro::Enum(..) | Avro::Uuid(_) => s.ty == SchemaType::String,
        Avro::Bytes(_) | Avro::Fixed(..) | Avro::Decimal(_) => s.ty == SchemaType::Bytes,
        Avro::Array(_) => matches!(s.ty, SchemaType::Array | SchemaType::Map),
        Avro::Map(_) => s.ty == SchemaType::Map,
        Avro::Record(fields) => {
            s.ty == SchemaType::Struct
                && s.fields.len() == fields.len()
                && s.fields.iter().zip(fields).all(|(f, (n, _))| f.name == *n)
        }
        _ => false,
    }
}
