//! `org.apache.kafka.connect.json.JsonConverter`, reproduced byte for byte.
//!
//! With `schemas.enable=true` a record is `{"schema":S,"payload":P}`, where S is Connect's JSON
//! schema: keys in the order `type`, (`fields` | `items` | `keys`,`values`), `optional`, `name`,
//! `version`, `doc`, `parameters`, `default`, and for struct fields a trailing `field`. Bytes and
//! decimals (with the default `decimal.format=BASE64`) are standard base64; floats use Java's
//! number layout; a null optional value with a schema default is replaced by the default
//! (`replace.null.with.default=true`, Connect's default).
//!
//! The schema part only depends on the schema, so its text is rendered once per schema (keyed by
//! the `Arc` pointer, with the `Arc` kept alive in the cache so a pointer is never reused) and
//! copied into every record. The payload is written straight into the caller's buffer.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine;
use sluice_core::schema::{Schema, SchemaType};
use sluice_core::{Data, Value};

use crate::jnum;

/// `decimal.format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DecimalFormat {
    #[default]
    Base64,
    Numeric,
}

/// Settings of one converter instance (key or value side).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonConverterConfig {
    pub schemas_enable: bool,
    pub decimal_format: DecimalFormat,
}

impl Default for JsonConverterConfig {
    fn default() -> Self {
        JsonConverterConfig {
            schemas_enable: true,
            decimal_format: DecimalFormat::Base64,
        }
    }
}

/// Most schemas a converter keeps rendered; past this the cache starts over.
const SCHEMA_CACHE_LIMIT: usize = 4096;

/// A JSON converter with its rendered-schema cache.
#[derive(Debug, Default)]
pub struct JsonConverter {
    config: JsonConverterConfig,
    cache: HashMap<usize, (Arc<Schema>, Box<[u8]>)>,
}

impl JsonConverter {
    pub fn new(config: JsonConverterConfig) -> Self {
        JsonConverter {
            config,
            cache: HashMap::new(),
        }
    }

    pub fn config(&self) -> JsonConverterConfig {
        self.config
    }

    /// Appends the JSON of a record's key or value; `None` (a tombstone) is JSON `null`.
    pub fn write(&mut self, data: Option<&Data>, out: &mut Vec<u8>) {
        let Some(data) = data else {
            out.extend_from_slice(b"null");
            return;
        };
        if self.config.schemas_enable {
            out.extend_from_slice(b"{\"schema\":");
            match &data.schema {
                Some(schema) => out.extend_from_slice(self.schema_json(schema)),
                None => out.extend_from_slice(b"null"),
            }
            out.extend_from_slice(b",\"payload\":");
            self.write_payload(data, out);
            out.push(b'}');
        } else {
            self.write_payload(data, out);
        }
    }

    fn write_payload(&self, data: &Data, out: &mut Vec<u8>) {
        match &data.schema {
            Some(schema) => write_value(&self.config, schema, &data.value, out),
            None => write_schemaless(&self.config, &data.value, out),
        }
    }

    /// Convenience: the JSON text of one record part.
    pub fn to_string(&mut self, data: Option<&Data>) -> String {
        let mut out = Vec::new();
        self.write(data, &mut out);
        String::from_utf8(out).unwrap_or_default()
    }

    fn schema_json(&mut self, schema: &Arc<Schema>) -> &[u8] {
        let key = Arc::as_ptr(schema) as usize;
        if !self.cache.contains_key(&key) {
            if self.cache.len() >= SCHEMA_CACHE_LIMIT {
                self.cache.clear();
            }
            let mut text = Vec::with_capacity(1024);
            write_schema(&self.config, schema, None, &mut text);
            self.cache
                .insert(key, (Arc::clone(schema), text.into_boxed_slice()));
        }
        self.cache.get(&key).map(|(_, t)| &t[..]).unwrap_or(b"null")
    }
}

/// Connect's `asJsonSchema`, with `field` appended for struct members.
fn write_schema(cfg: &JsonConverterConfig, s: &Schema, field: Option<&str>, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"type\":\"");
    out.extend_from_slice(s.ty.json_name().as_bytes());
    out.push(b'"');
    match s.ty {
        SchemaType::Struct => {
            out.extend_from_slice(b",\"fields\":[");
            for (i, f) in s.fields.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_schema(cfg, &f.schema, Some(&f.name), out);
            }
            out.push(b']');
        }
        SchemaType::Array => {
            out.extend_from_slice(b",\"items\":");
            if let Some(items) = &s.items {
                write_schema(cfg, items, None, out);
            }
        }
        SchemaType::Map => {
            out.extend_from_slice(b",\"keys\":");
            if let Some(k) = &s.items {
                write_schema(cfg, k, None, out);
            }
            out.extend_from_slice(b",\"values\":");
            if let Some(v) = &s.values {
                write_schema(cfg, v, None, out);
            }
        }
        _ => {}
    }
    out.extend_from_slice(if s.optional {
        b",\"optional\":true"
    } else {
        b",\"optional\":false"
    });
    if let Some(name) = &s.name {
        out.extend_from_slice(b",\"name\":");
        write_str(name, out);
    }
    if let Some(v) = s.version {
        out.extend_from_slice(b",\"version\":");
        out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
    }
    if let Some(doc) = &s.doc {
        out.extend_from_slice(b",\"doc\":");
        write_str(doc, out);
    }
    if !s.parameters.is_empty() {
        out.extend_from_slice(b",\"parameters\":{");
        for (i, (k, v)) in s.parameters.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_str(k, out);
            out.push(b':');
            write_str(v, out);
        }
        out.push(b'}');
    }
    if let Some(d) = &s.default {
        out.extend_from_slice(b",\"default\":");
        write_value(cfg, s, d, out);
    }
    if let Some(f) = field {
        out.extend_from_slice(b",\"field\":");
        write_str(f, out);
    }
    out.push(b'}');
}

/// Connect's `convertToJson` for one value of schema `s`.
pub fn write_value(cfg: &JsonConverterConfig, s: &Schema, v: &Value, out: &mut Vec<u8>) {
    let mut ib = itoa::Buffer::new();
    match v {
        Value::Null => match &s.default {
            Some(d) if !d.is_null() => write_value(cfg, s, d, out),
            _ => out.extend_from_slice(b"null"),
        },
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Int8(n) => out.extend_from_slice(ib.format(*n).as_bytes()),
        Value::Int16(n) => out.extend_from_slice(ib.format(*n).as_bytes()),
        Value::Int32(n) => out.extend_from_slice(ib.format(*n).as_bytes()),
        Value::Int64(n) => out.extend_from_slice(ib.format(*n).as_bytes()),
        Value::Float32(f) => json_float(out, f.is_finite(), |o| jnum::write_f32(o, *f)),
        Value::Float64(f) => json_float(out, f.is_finite(), |o| jnum::write_f64(o, *f)),
        Value::String(t) => write_str(t, out),
        Value::Bytes(b) => write_base64(b, out),
        Value::Decimal(d) => match cfg.decimal_format {
            DecimalFormat::Base64 => write_base64(&d.unscaled, out),
            DecimalFormat::Numeric => out.extend_from_slice(d.to_plain_string().as_bytes()),
        },
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                match &s.items {
                    Some(is) => write_value(cfg, is, item, out),
                    None => out.extend_from_slice(b"null"),
                }
            }
            out.push(b']');
        }
        Value::Map(entries) => write_map(cfg, s, entries, out),
        Value::Struct(fields) => {
            out.push(b'{');
            for (i, f) in s.fields.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(&f.name, out);
                out.push(b':');
                write_value(cfg, &f.schema, fields.get(i).unwrap_or(&Value::Null), out);
            }
            out.push(b'}');
        }
    }
}

/// A value without schema (Connect's `convertToJson` with a null schema): maps with string
/// keys are objects, other maps arrays of pairs; a struct cannot be schemaless and is `null`.
pub fn write_schemaless(cfg: &JsonConverterConfig, v: &Value, out: &mut Vec<u8>) {
    let mut ib = itoa::Buffer::new();
    match v {
        Value::Null | Value::Struct(_) => out.extend_from_slice(b"null"),
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Int8(n) => out.extend_from_slice(ib.format(*n).as_bytes()),
        Value::Int16(n) => out.extend_from_slice(ib.format(*n).as_bytes()),
        Value::Int32(n) => out.extend_from_slice(ib.format(*n).as_bytes()),
        Value::Int64(n) => out.extend_from_slice(ib.format(*n).as_bytes()),
        Value::Float32(f) => json_float(out, f.is_finite(), |o| jnum::write_f32(o, *f)),
        Value::Float64(f) => json_float(out, f.is_finite(), |o| jnum::write_f64(o, *f)),
        Value::String(t) => write_str(t, out),
        Value::Bytes(b) => write_base64(b, out),
        Value::Decimal(d) => match cfg.decimal_format {
            DecimalFormat::Base64 => write_base64(&d.unscaled, out),
            DecimalFormat::Numeric => out.extend_from_slice(d.to_plain_string().as_bytes()),
        },
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_schemaless(cfg, item, out);
            }
            out.push(b']');
        }
        Value::Map(entries) => {
            let object = entries.iter().all(|(k, _)| matches!(k, Value::String(_)));
            out.push(if object { b'{' } else { b'[' });
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                if object {
                    write_schemaless(cfg, k, out);
                    out.push(b':');
                    write_schemaless(cfg, v, out);
                } else {
                    out.push(b'[');
                    write_schemaless(cfg, k, out);
                    out.push(b',');
                    write_schemaless(cfg, v, out);
                    out.push(b']');
                }
            }
            out.push(if object { b'}' } else { b']' });
        }
    }
}

/// Maps with string keys are JSON objects; others are arrays of `[key, value]` pairs.
fn write_map(cfg: &JsonConverterConfig, s: &Schema, entries: &[(Value, Value)], out: &mut Vec<u8>) {
    let (Some(ks), Some(vs)) = (&s.items, &s.values) else {
        out.extend_from_slice(b"null");
        return;
    };
    let object = ks.ty == SchemaType::String;
    out.push(if object { b'{' } else { b'[' });
    for (i, (k, v)) in entries.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        if object {
            write_value(cfg, ks, k, out);
            out.push(b':');
            write_value(cfg, vs, v, out);
        } else {
            out.push(b'[');
            write_value(cfg, ks, k, out);
            out.push(b',');
            write_value(cfg, vs, v, out);
            out.push(b']');
        }
    }
    out.push(if object { b'}' } else { b']' });
}

fn write_base64(bytes: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    let start = out.len();
    let len = base64::encoded_len(bytes.len(), true).unwrap_or(0);
    out.resize(start + len, 0);
    let n = base64::engine::general_purpose::STANDARD
        .encode_slice(bytes, &mut out[start..])
        .unwrap_or(0);
    out.truncate(start + n);
    out.push(b'"');
}

/// Bytes that need escaping in a JSON string: control characters, `"` and `\\`.
static NEEDS_ESCAPE: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

/// True if any byte of `w` is a control character, `"` or `\\` (may report true for a word
/// without one, never false for a word with one: a false positive only takes the slow path).
#[inline]
fn word_needs_escape(w: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let control = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
    let q = w ^ (ONES * u64::from(b'"'));
    let quote = q.wrapping_sub(ONES) & !q & HIGH;
    let b = w ^ (ONES * u64::from(b'\\'));
    let backslash = b.wrapping_sub(ONES) & !b & HIGH;
    (control | quote | backslash) != 0
}

/// A JSON string as Jackson escapes it: `"` `\\` and control characters; UTF-8 passes through.
pub fn write_str(s: &str, out: &mut Vec<u8>) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        if let Some(word) = bytes.get(i..i + 8) {
            // eight bytes at a time while none of them needs escaping (the common case)
            let w = u64::from_le_bytes(word.try_into().unwrap_or([0; 8]));
            if !word_needs_escape(w) {
                i += 8;
                continue;
            }
        }
        let (at, b) = (i, bytes[i]);
        i += 1;
        if !NEEDS_ESCAPE[b as usize] {
            continue;
        }
        out.extend_from_slice(&bytes[start..at]);
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            _ => {
                const HEX: &[u8; 16] = b"0123456789ABCDEF";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 0xf)]);
            }
        }
        start = at + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// A float as Jackson writes it for Connect's JsonConverter: a number, or for NaN and the
/// infinities the strings `"NaN"`, `"Infinity"`, `"-Infinity"` (JSON has no such numbers).
fn json_float(out: &mut Vec<u8>, finite: bool, write: impl FnOnce(&mut Vec<u8>)) {
    if finite {
        write(out);
    } else {
        out.push(b'"');
        write(out);
        out.push(b'"');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_core::decimal::Decimal;
    use sluice_core::schema::logical;
    use sluice_core::SchemaBuilder;

    fn key_data() -> Data {
        let schema = SchemaBuilder::structure()
            .name("bench.benchdb.bench.Key")
            .field("id", SchemaBuilder::int64().build())
            .build();
        Data::new(schema, Value::Struct(vec![Value::Int64(1)]))
    }

    #[test]
    fn key_matches_debezium_output_byte_for_byte() {
        let mut c = JsonConverter::new(JsonConverterConfig::default());
        assert_eq!(
            c.to_string(Some(&key_data())),
            r#"{"schema":{"type":"struct","fields":[{"type":"int64","optional":false,"field":"id"}],"optional":false,"name":"bench.benchdb.bench.Key"},"payload":{"id":1}}"#
        );
        let mut plain = JsonConverter::new(JsonConverterConfig {
            schemas_enable: false,
            ..Default::default()
        });
        assert_eq!(plain.to_string(Some(&key_data())), r#"{"id":1}"#);
        assert_eq!(plain.to_string(None), "null");
    }

    #[test]
    fn decimal_parameters_default_and_escapes() {
        let dec = SchemaBuilder::bytes()
            .optional()
            .name(logical::DECIMAL)
            .version(1)
            .parameter("scale", "2")
            .parameter("connect.decimal.precision", "12")
            .build();
        let snap = SchemaBuilder::string()
            .optional()
            .name(logical::ENUM)
            .version(1)
            .parameter("allowed", "true,false")
            .default_value(Value::String("false".into()))
            .build();
        let s = SchemaBuilder::structure()
            .field("amount", dec)
            .field("snapshot", snap)
            .field("t", SchemaBuilder::string().optional().build())
            .build();
        let data = Data::new(
            s,
            Value::Struct(vec![
                Value::Decimal(Decimal::parse("0.01").unwrap()),
                Value::Null,
                Value::String("a\"b\\c\n\u{1}한".into()),
            ]),
        );
        let mut c = JsonConverter::new(JsonConverterConfig::default());
        assert_eq!(
            c.to_string(Some(&data)),
            concat!(
                r#"{"schema":{"type":"struct","fields":[{"type":"bytes","optional":true,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2","connect.decimal.precision":"12"},"field":"amount"},"#,
                r#"{"type":"string","optional":true,"name":"io.debezium.data.Enum","version":1,"parameters":{"allowed":"true,false"},"default":"false","field":"snapshot"},"#,
                r#"{"type":"string","optional":true,"field":"t"}],"optional":false},"#,
                r#""payload":{"amount":"AQ==","snapshot":"false","t":"a\"b\\c\n\u0001한"}}"#
            )
        );
    }

    proptest::proptest! {
        #[test]
        fn escaped_strings_read_back_identically(text in "\\PC*|[\\x00-\\x7f]{0,40}") {
            let mut out = Vec::new();
            write_str(&text, &mut out);
            let back: String = serde_json::from_slice(&out).unwrap();
            proptest::prop_assert_eq!(back, text);
        }
    }

    #[test]
    fn output_is_valid_json_for_nested_values() {
        let arr = SchemaBuilder::array(SchemaBuilder::float64().build()).build();
        let map = SchemaBuilder::map(
            SchemaBuilder::string().build(),
            SchemaBuilder::int32().build(),
        )
        .build();
        let s = SchemaBuilder::structure()
            .field("a", arr)
            .field("m", map)
            .build();
        let v = Value::Struct(vec![
            Value::Array(vec![Value::Float64(1.5), Value::Float64(1e20)]),
            Value::Map(vec![(Value::String("k".into()), Value::Int32(3))]),
        ]);
        let mut c = JsonConverter::new(JsonConverterConfig::default());
        let text = c.to_string(Some(&Data::new(s, v)));
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed["payload"]["a"][1], serde_json::json!(1e20));
        assert_eq!(parsed["payload"]["m"]["k"], 3);
        assert!(text.contains(r#""a":[1.5,1.0E20]"#));
    }
}
