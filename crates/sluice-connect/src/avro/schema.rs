//! Connect schema ↔ Avro schema, as Confluent's `AvroData` converts them, so the schema text
//! sluice registers is the text Java's `AvroConverter` registers for the same Connect schema
//! (same registry id, same subject versions).
//!
//! Connect → Avro ([`to_avro`]):
//! * int8/int16 → `int` with `"connect.type":"int8|int16"`; int32 → `int`; int64 → `long`;
//!   float32/float64 → `float`/`double`; boolean, string, bytes as they are.
//! * `Decimal` → `bytes` with `scale`, `precision` (`connect.decimal.precision`, else 38) and
//!   `"logicalType":"decimal"`; Connect `Date` → `date`, `Time` → `time-millis`, `Timestamp` →
//!   `timestamp-millis`. Other named schemas (Debezium's `io.debezium.time.Timestamp`, …) keep
//!   their name in `connect.name`.
//! * struct → `record` named after the schema (namespace = up to the last dot), or
//!   `io.confluent.connect.avro.ConnectDefault` when unnamed; a record already written is
//!   referred to by name (the `after` field of an envelope is `["null","Value"]`).
//! * map with non-optional string keys → `map`; any other map → an array of
//!   `io.confluent.connect.avro.MapEntry` records (`key`, `value`).
//! * optional → union with `null` first, or `[type, "null"]` when the schema has a default
//!   (Avro defaults must match the first branch); optional fields default to `null`.
//! * with `connect.meta.data=true` (default) every type carries, in this order, `connect.doc`,
//!   `connect.version`, `connect.parameters`, `connect.default`, `connect.name`, `connect.type`.
//!
//! Avro → Connect ([`to_connect`]) reverses this, and reads Avro schemas that did not come from
//! Connect: unions of `null` and one type → optional; other unions → a struct named
//! `io.confluent.connect.avro.Union` with one field per branch; enums → string (with the symbols
//! as parameters); fixed → bytes.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde_json::{json, Map, Value as Json};
use sluice_core::decimal::Decimal;
use sluice_core::schema::{Schema, SchemaBuilder, SchemaType};
use sluice_core::Value;

use crate::ConvertError;

pub const NAMESPACE: &str = "io.confluent.connect.avro";
pub const DEFAULT_NAME: &str = "ConnectDefault";
pub const MAP_ENTRY: &str = "MapEntry";
pub const UNION: &str = "io.confluent.connect.avro.Union";
pub const ENUM: &str = "io.confluent.connect.avro.Enum";
const DECIMAL: &str = "org.apache.kafka.connect.data.Decimal";
const DATE: &str = "org.apache.kafka.connect.data.Date";
const TIME: &str = "org.apache.kafka.connect.data.Time";
const TIMESTAMP: &str = "org.apache.kafka.connect.data.Timestamp";
const PRECISION: &str = "connect.decimal.precision";
const DEFAULT_PRECISION: u32 = 38;

/// `connect.meta.data` and `enhanced.avro.schema.support`.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub connect_meta_data: bool,
    pub enhanced: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            connect_meta_data: true,
            enhanced: false,
        }
    }
}

/// The Avro schema text (compact JSON, Java's `Schema.toString()`) for a Connect schema.
pub fn to_avro(schema: &Schema, opts: Options) -> Result<String, ConvertError> {
    let mut w = Writer {
        opts,
        defined: HashSet::new(),
        space: None,
        unnamed: 0,
    };
    let j = w.ty(schema, false)?;
    Ok(j.to_string())
}

/// The full name of the record a struct schema becomes (`RecordNameStrategy` subjects), or the
/// Avro type name of any other schema.
pub fn record_full_name(schema: &Schema) -> String {
    match schema.ty {
        SchemaType::Struct => schema
            .name
            .clone()
            .unwrap_or_else(|| format!("{NAMESPACE}.{DEFAULT_NAME}")),
        other => avro_type_name(other).to_string(),
    }
}

fn split(full: &str) -> (Option<&str>, &str) {
    match full.rfind('.') {
        Some(i) => (Some(&full[..i]), &full[i + 1..]),
        None => (None, full),
    }
}

fn valid_name(n: &str) -> bool {
    let mut chars = n.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn check_name(what: &str, full: &str) -> Result<(), ConvertError> {
    if full.split('.').all(valid_name) {
        Ok(())
    } else {
        Err(ConvertError::Data(format!(
            "{what} {full:?} is not a valid Avro name (letters, digits and _, not starting with a digit); \
             on the source set schema.name.adjustment.mode=avro / field.name.adjustment.mode=avro, or rename it with a transform"
        )))
    }
}

struct Writer {
    opts: Options,
    /// Full names of the records written so far: later uses are references.
    defined: HashSet<String>,
    /// The enclosing namespace (names relative to it are written short).
    space: Option<String>,
    unnamed: usize,
}

impl Writer {
    /// The Avro type of `s`, as a union with null when optional (unless `ignore_optional`).
    fn ty(&mut self, s: &Schema, ignore_optional: bool) -> Result<Json, ConvertError> {
        let base = match s.ty {
            SchemaType::Struct => self.record(s)?,
            _ => self.non_record(s)?,
        };
        if !s.optional || ignore_optional {
            return Ok(base);
        }
        Ok(if s.ty != SchemaType::Struct && s.default.is_some() {
            json!([base, "null"])
        } else {
            json!(["null", base])
        })
    }

    fn non_record(&mut self, s: &Schema) -> Result<Json, ConvertError> {
        let mut m = Map::new();
        let mut connect_type = None;
        let t = match s.ty {
            SchemaType::Int8 => {
                connect_type = Some("int8");
                "int"
            }
            SchemaType::Int16 => {
                connect_type = Some("int16");
                "int"
            }
            SchemaType::Int32 => "int",
            SchemaType::Int64 => "long",
            SchemaType::Float32 => "float",
            SchemaType::Float64 => "double",
            SchemaType::Boolean => "boolean",
            SchemaType::String => "string",
            SchemaType::Bytes => "bytes",
            SchemaType::Array => "array",
            SchemaType::Map => "map",
            SchemaType::Struct => unreachable!("records are written by Writer::record"),
        };
        let enum_name = (self.opts.enhanced && s.ty == SchemaType::String)
            .then(|| s.parameter(ENUM))
            .flatten();
        if let Some(full) = enum_name {
            check_name("enum", full)?;
            let (space, name) = split(full);
            m.insert("type".into(), json!("enum"));
            m.insert("name".into(), json!(name));
            self.namespace(&mut m, space);
            if let Some(doc) = s.parameter("connect.enum.doc") {
                m.insert("doc".into(), json!(doc));
            }
            let prefix = format!("{ENUM}.");
            let symbols: Vec<&str> = s
                .parameters
                .iter()
                .filter(|(k, _)| k.starts_with(&prefix))
                .map(|(_, v)| v.as_str())
                .collect();
            m.insert("symbols".into(), json!(symbols));
        } else {
            m.insert("type".into(), json!(t));
        }
        match s.ty {
            SchemaType::Array => {
                let items = s
                    .items
                    .as_deref()
                    .ok_or_else(|| ConvertError::Data("array schema without items".into()))?;
                m.insert("items".into(), self.ty(items, false)?);
            }
            SchemaType::Map => {
                let (k, v) = match (s.items.as_deref(), s.values.as_deref()) {
                    (Some(k), Some(v)) => (k, v),
                    _ => return Err(ConvertError::Data("map schema without key/value".into())),
                };
                if k.ty == SchemaType::String && !k.optional {
                    m.insert("values".into(), self.ty(v, false)?);
                } else {
                    m.insert("type".into(), json!("array"));
                    m.insert("items".into(), self.map_entry(k, v)?);
                }
            }
            SchemaType::Bytes if s.name.as_deref() == Some(DECIMAL) => {
                let scale: u32 = s
                    .parameter("scale")
                    .and_then(|v| v.parse().ok())
                    .ok_or_else(|| ConvertError::Data("Decimal schema without a scale".into()))?;
                let precision: u32 = s
                    .parameter(PRECISION)
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(DEFAULT_PRECISION);
                m.insert("scale".into(), json!(scale));
                m.insert("precision".into(), json!(precision));
            }
            _ => {}
        }
        self.meta(&mut m, s)?;
        if let Some(ct) = connect_type.filter(|_| self.opts.connect_meta_data) {
            m.insert("connect.type".into(), json!(ct));
        }
        let logical = match s.name.as_deref() {
            Some(DECIMAL) => Some("decimal"),
            Some(TIME) => Some("time-millis"),
            Some(TIMESTAMP) => Some("timestamp-millis"),
            Some(DATE) => Some("date"),
            _ => None,
        };
        if let Some(l) = logical {
            m.insert("logicalType".into(), json!(l));
        }
        self.avro_params(&mut m, s);
        if m.len() == 1 {
            return Ok(m.remove("type").unwrap_or(Json::Null));
        }
        Ok(Json::Object(m))
    }

    /// `connect.doc`, `connect.version`, `connect.parameters`, `connect.default`,
    /// `connect.name`, in the order AvroData adds them.
    fn meta(&self, m: &mut Map<String, Json>, s: &Schema) -> Result<(), ConvertError> {
        if !self.opts.connect_meta_data {
            return Ok(());
        }
        if let Some(doc) = &s.doc {
            m.insert("connect.doc".into(), json!(doc));
        }
        if let Some(v) = s.version {
            m.insert("connect.version".into(), json!(v));
        }
        if !s.parameters.is_empty() {
            let p: Map<String, Json> = s
                .parameters
                .iter()
                .map(|(k, v)| (k.clone(), json!(v)))
                .collect();
            m.insert("connect.parameters".into(), Json::Object(p));
        }
        if let Some(d) = &s.default {
            if s.ty != SchemaType::Struct {
                m.insert("connect.default".into(), default_json(s, d)?);
            }
        }
        if let Some(n) = &s.name {
            m.insert("connect.name".into(), json!(n));
        }
        Ok(())
    }

    fn avro_params(&self, m: &mut Map<String, Json>, s: &Schema) {
        for (k, v) in &s.parameters {
            if k.starts_with("avro") {
                m.insert(k.clone(), json!(v));
            }
        }
    }

    fn namespace(&self, m: &mut Map<String, Json>, space: Option<&str>) {
        match space {
            Some(sp) if Some(sp) != self.space.as_deref() => {
                m.insert("namespace".into(), json!(sp));
            }
            None if self.space.is_some() => {
                m.insert("namespace".into(), json!(""));
            }
            _ => {}
        }
    }

    /// A reference to an already written name, relative to the enclosing namespace.
    fn reference(&self, full: &str) -> Json {
        let (space, name) = split(full);
        if space.is_some() && space == self.space.as_deref() {
            json!(name)
        } else {
            json!(full)
        }
    }

    fn record(&mut self, s: &Schema) -> Result<Json, ConvertError> {
        let full = match &s.name {
            Some(n) => n.clone(),
            None => {
                self.unnamed += 1;
                match self.unnamed {
                    1 => format!("{NAMESPACE}.{DEFAULT_NAME}"),
                    n => format!("{NAMESPACE}.{DEFAULT_NAME}{n}"),
                }
            }
        };
        check_name("record name", &full)?;
        if self.defined.contains(&full) {
            return Ok(self.reference(&full));
        }
        self.defined.insert(full.clone());
        let (space, name) = split(&full);
        let mut m = Map::new();
        m.insert("type".into(), json!("record"));
        m.insert("name".into(), json!(name));
        self.namespace(&mut m, space);
        if let Some(doc) = s.parameter("connect.record.doc") {
            m.insert("doc".into(), json!(doc));
        }
        let saved = std::mem::replace(&mut self.space, space.map(str::to_string));
        let mut fields = Vec::with_capacity(s.fields.len());
        for f in &s.fields {
            if !valid_name(&f.name) {
                check_name("field", &f.name)?;
            }
            let mut fj = Map::new();
            fj.insert("name".into(), json!(f.name));
            fj.insert("type".into(), self.ty(&f.schema, false)?);
            if let Some(doc) = &f.schema.doc {
                fj.insert("doc".into(), json!(doc));
            }
            match &f.schema.default {
                Some(d) if f.schema.ty != SchemaType::Struct => {
                    fj.insert("default".into(), default_json(&f.schema, d)?);
                }
                _ if f.schema.optional => {
                    fj.insert("default".into(), Json::Null);
                }
                _ => {}
            }
            fields.push(Json::Object(fj));
        }
        self.space = saved;
        m.insert("fields".into(), Json::Array(fields));
        self.meta(&mut m, s)?;
        self.avro_params(&mut m, s);
        Ok(Json::Object(m))
    }

    fn map_entry(&mut self, k: &Schema, v: &Schema) -> Result<Json, ConvertError> {
        let full = format!("{NAMESPACE}.{MAP_ENTRY}");
        if self.defined.contains(&full) {
            return Ok(self.reference(&full));
        }
        self.defined.insert(full);
        let mut m = Map::new();
        m.insert("type".into(), json!("record"));
        m.insert("name".into(), json!(MAP_ENTRY));
        self.namespace(&mut m, Some(NAMESPACE));
        let saved = self.space.replace(NAMESPACE.into());
        let mut fields = Vec::new();
        for (name, s) in [("key", k), ("value", v)] {
            let mut fj = Map::new();
            fj.insert("name".into(), json!(name));
            fj.insert("type".into(), self.ty(s, false)?);
            if let Some(d) = &s.default {
                fj.insert("default".into(), default_json(s, d)?);
            } else if s.optional {
                fj.insert("default".into(), Json::Null);
            }
            fields.push(Json::Object(fj));
        }
        self.space = saved;
        m.insert("fields".into(), Json::Array(fields));
        Ok(Json::Object(m))
    }
}

/// Bytes as an Avro JSON default: one char per byte (ISO-8859-1), as the Avro spec says.
fn latin1(b: &[u8]) -> Json {
    json!(b.iter().map(|&c| c as char).collect::<String>())
}

/// A Connect default value as an Avro JSON default.
fn default_json(s: &Schema, v: &Value) -> Result<Json, ConvertError> {
    Ok(match v {
        Value::Null => Json::Null,
        Value::Boolean(b) => json!(b),
        Value::Int8(n) => json!(n),
        Value::Int16(n) => json!(n),
        Value::Int32(n) => json!(n),
        Value::Int64(n) => json!(n),
        Value::Float32(f) => json!(f),
        Value::Float64(f) => json!(f),
        Value::String(t) => json!(t.as_ref()),
        Value::Bytes(b) => latin1(b),
        Value::Decimal(d) => latin1(&d.unscaled),
        Value::Array(items) => {
            let item = s.items.as_deref().ok_or_else(|| no_schema("array"))?;
            Json::Array(
                items
                    .iter()
                    .map(|i| default_json(item, i))
                    .collect::<Result<_, _>>()?,
            )
        }
        Value::Map(entries) => {
            let (ks, vs) = match (s.items.as_deref(), s.values.as_deref()) {
                (Some(k), Some(v)) => (k, v),
                _ => return Err(no_schema("map")),
            };
            if ks.ty == SchemaType::String && !ks.optional {
                let mut m = Map::new();
                for (k, v) in entries {
                    if let Value::String(k) = k {
                        m.insert(k.to_string(), default_json(vs, v)?);
                    }
                }
                Json::Object(m)
            } else {
                Json::Array(
                    entries
                        .iter()
                        .map(|(k, v)| Ok(json!([default_json(ks, k)?, default_json(vs, v)?])))
                        .collect::<Result<_, ConvertError>>()?,
                )
            }
        }
        Value::Struct(values) => {
            let mut m = Map::new();
            for (f, v) in s.fields.iter().zip(values) {
                m.insert(f.name.clone(), default_json(&f.schema, v)?);
            }
            Json::Object(m)
        }
    })
}

fn no_schema(what: &str) -> ConvertError {
    ConvertError::Data(format!("{what} default without element schemas"))
}

/// The Connect schema of an Avro schema text (a registered writer schema).
pub fn to_connect(text: &str, opts: Options) -> Result<Arc<Schema>, ConvertError> {
    let j: Json = serde_json::from_str(text).map_err(|e| {
        ConvertError::Data(format!("the registry returned an invalid Avro schema: {e}"))
    })?;
    let mut r = Reader {
        opts,
        names: HashMap::new(),
    };
    r.conv(&j, None, false, None, None)
}

struct Reader {
    opts: Options,
    names: HashMap<String, Arc<Schema>>,
}

fn bad(msg: String) -> ConvertError {
    ConvertError::Data(msg)
}

fn qualify(name: &str, space: Option<&str>) -> String {
    match (name.contains('.'), space) {
        (false, Some(sp)) if !sp.is_empty() => format!("{sp}.{name}"),
        _ => name.to_string(),
    }
}

impl Reader {
    fn conv(
        &mut self,
        j: &Json,
        space: Option<&str>,
        force_optional: bool,
        field_default: Option<&Json>,
        field_doc: Option<&str>,
    ) -> Result<Arc<Schema>, ConvertError> {
        let empty = Map::new();
        let (t, props) = match j {
            Json::String(t) => (t.as_str(), &empty),
            Json::Array(branches) => return self.union(branches, space, field_doc),
            Json::Object(m) => match m.get("type") {
                Some(Json::String(t)) => (t.as_str(), m),
                Some(inner @ (Json::Object(_) | Json::Array(_))) => {
                    return self.conv(inner, space, force_optional, field_default, field_doc)
                }
                _ => return Err(bad(format!("Avro schema without a type: {j}"))),
            },
            _ => return Err(bad(format!("not an Avro schema: {j}"))),
        };
        let prop = |k: &str| props.get(k);
        let logical = prop("logicalType").and_then(Json::as_str);
        let mut full_name: Option<String> = None;
        let mut b = match t {
            "null" => {
                return Err(bad(
                    "standalone null schemas are not supported by this converter".into(),
                ))
            }
            "boolean" => SchemaBuilder::boolean(),
            "int" => match (prop("connect.type").and_then(Json::as_str), logical) {
                (Some("int8"), _) => SchemaBuilder::int8(),
                (Some("int16"), _) => SchemaBuilder::int16(),
                (_, Some("date")) => SchemaBuilder::int32().name(DATE).version(1),
                (_, Some("time-millis")) => SchemaBuilder::int32().name(TIME).version(1),
                _ => SchemaBuilder::int32(),
            },
            "long" => match logical {
                Some("timestamp-millis") => SchemaBuilder::int64().name(TIMESTAMP).version(1),
                _ => SchemaBuilder::int64(),
            },
            "float" => SchemaBuilder::float32(),
            "double" => SchemaBuilder::float64(),
            "string" => SchemaBuilder::string(),
            "bytes" | "fixed" => {
                if t == "fixed" {
                    full_name = Some(self.named(props, space)?);
                }
                if logical == Some("decimal") {
                    let scale = prop("scale").and_then(Json::as_u64).ok_or_else(|| {
                        bad("scale must be specified and must be a number".into())
                    })?;
                    let precision = prop("precision")
                        .and_then(Json::as_u64)
                        .unwrap_or(DEFAULT_PRECISION as u64);
                    SchemaBuilder::bytes()
                        .name(DECIMAL)
                        .version(1)
                        .parameter("scale", scale.to_string())
                        .parameter(PRECISION, precision.to_string())
                } else {
                    SchemaBuilder::bytes()
                }
            }
            "array" => {
                let items = prop("items").ok_or_else(|| bad("array without items".into()))?;
                let is_entry = match items {
                    Json::Object(m) => {
                        m.get("type").and_then(Json::as_str) == Some("record")
                            && self.named(m, space).ok().as_deref()
                                == Some(&format!("{NAMESPACE}.{MAP_ENTRY}"))
                    }
                    _ => false,
                };
                let item = self.conv(items, space, false, None, None)?;
                if is_entry {
                    let k = item.field("key").map(|f| f.schema.clone());
                    let v = item.field("value").map(|f| f.schema.clone());
                    match (k, v) {
                        (Some(k), Some(v)) if item.fields.len() == 2 => SchemaBuilder::map(k, v),
                        _ => {
                            return Err(bad(
                                "found a map encoded as an array of key-value records, but the records do not match the expected format".into(),
                            ))
                        }
                    }
                } else {
                    SchemaBuilder::array(item)
                }
            }
            "map" => {
                let values = prop("values").ok_or_else(|| bad("map without values".into()))?;
                let v = self.conv(values, space, false, None, None)?;
                SchemaBuilder::map(SchemaBuilder::string().build(), v)
            }
            "enum" => {
                let full = self.named(props, space)?;
                let mut b = SchemaBuilder::string();
                if let Some(doc) = props.get("doc").and_then(Json::as_str) {
                    b = b.parameter("connect.enum.doc", doc);
                }
                b = b.parameter(ENUM, full.clone());
                for s in props
                    .get("symbols")
                    .and_then(Json::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Json::as_str)
                {
                    b = b.parameter(format!("{ENUM}.{s}"), s);
                }
                full_name = Some(full);
                b
            }
            "record" | "error" => {
                let full = self.named(props, space)?;
                let (inner_space, _) = split(&full);
                let inner_space = inner_space.map(str::to_string);
                let mut b = SchemaBuilder::structure();
                for f in props
                    .get("fields")
                    .and_then(Json::as_array)
                    .into_iter()
                    .flatten()
                {
                    let name = f
                        .get("name")
                        .and_then(Json::as_str)
                        .ok_or_else(|| bad(format!("record field without a name in {full}")))?;
                    let fty = f
                        .get("type")
                        .ok_or_else(|| bad(format!("field {name} of {full} has no type")))?;
                    let fs = self.conv(
                        fty,
                        inner_space.as_deref(),
                        false,
                        f.get("default"),
                        f.get("doc").and_then(Json::as_str),
                    )?;
                    b = b.field(name, fs);
                }
                full_name = Some(full);
                b
            }
            other => {
                let full = qualify(other, space);
                return match self.names.get(&full).or_else(|| self.names.get(other)) {
                    Some(s) if force_optional && !s.optional => {
                        let mut o = (**s).clone();
                        o.optional = true;
                        Ok(Arc::new(o))
                    }
                    Some(s) => Ok(s.clone()),
                    None => Err(bad(format!("unknown Avro type {other:?}"))),
                };
            }
        };
        let doc = field_doc
            .or_else(|| props.get("doc").and_then(Json::as_str))
            .or_else(|| props.get("connect.doc").and_then(Json::as_str));
        if let Some(d) = doc {
            b = b.doc(d);
        }
        if t == "record" {
            if let Some(d) = props.get("doc").and_then(Json::as_str) {
                b = b.parameter("connect.record.doc", d);
            }
        }
        if let Some(v) = props.get("connect.version") {
            let v = v
                .as_i64()
                .ok_or_else(|| bad(format!("invalid Connect version found: {v}")))?;
            b = b.version(v as i32);
        }
        if let Some(p) = props.get("connect.parameters") {
            let p = p.as_object().ok_or_else(|| {
                bad(format!(
                    "expected a JSON object for schema parameters but found: {p}"
                ))
            })?;
            for (k, v) in p {
                let v = v.as_str().ok_or_else(|| {
                    bad(format!(
                        "expected schema parameter values to be strings but found: {v}"
                    ))
                })?;
                b = b.parameter(k.clone(), v);
            }
        }
        for (k, v) in props {
            if k.starts_with("avro") {
                if let Some(v) = v.as_str() {
                    b = b.parameter(k.clone(), v);
                }
            }
        }
        let name = match props.get("connect.name") {
            Some(Json::String(n)) => Some(n.clone()),
            Some(other) => return Err(bad(format!("invalid schema name: {other}"))),
            None if matches!(t, "record" | "error") || (t == "enum" && self.opts.enhanced) => {
                full_name.clone()
            }
            None => None,
        };
        if let Some(n) = name.filter(|n| *n != format!("{NAMESPACE}.{DEFAULT_NAME}")) {
            b = b.name(n);
        }
        let mut schema = b.build();
        let default = field_default.or_else(|| props.get("connect.default"));
        if let Some(d) = default.filter(|d| !d.is_null()) {
            let v = default_from_json(&schema, d)?;
            let mut s = (*schema).clone();
            s.default = Some(v);
            schema = Arc::new(s);
        }
        if let Some(full) = full_name {
            self.names.insert(full, schema.clone());
        }
        if force_optional {
            let mut s = (*schema).clone();
            s.optional = true;
            schema = Arc::new(s);
        }
        Ok(schema)
    }

    /// The full name of a named type (`name` + `namespace`, or the enclosing namespace).
    fn named(&self, m: &Map<String, Json>, space: Option<&str>) -> Result<String, ConvertError> {
        let name = m
            .get("name")
            .and_then(Json::as_str)
            .ok_or_else(|| bad("named Avro type without a name".into()))?;
        if name.contains('.') {
            return Ok(name.to_string());
        }
        let ns = match m.get("namespace").and_then(Json::as_str) {
            Some(ns) => Some(ns),
            None => space,
        };
        Ok(qualify(name, ns))
    }

    fn union(
        &mut self,
        branches: &[Json],
        space: Option<&str>,
        field_doc: Option<&str>,
    ) -> Result<Arc<Schema>, ConvertError> {
        let is_null = |j: &Json| j.as_str() == Some("null");
        if branches.len() == 2 && branches.iter().any(is_null) {
            let other = branches.iter().find(|j| !is_null(j)).unwrap_or(&Json::Null);
            return self.conv(other, space, true, None, field_doc);
        }
        let mut b = SchemaBuilder::structure().name(UNION);
        let mut seen = HashSet::new();
        for br in branches {
            if is_null(br) {
                b = b.optional();
                continue;
            }
            let s = self.conv(br, space, true, None, None)?;
            let field = match s.ty {
                SchemaType::Struct => {
                    let n = s.name.clone().unwrap_or_default();
                    if self.opts.enhanced {
                        n
                    } else {
                        split(&n).1.to_string()
                    }
                }
                SchemaType::String if s.parameter(ENUM).is_some() => {
                    let n = s.parameter(ENUM).unwrap_or_default().to_string();
                    if self.opts.enhanced {
                        n
                    } else {
                        split(&n).1.to_string()
                    }
                }
                _ => avro_type_name(s.ty).to_string(),
            };
            if !seen.insert(field.clone()) {
                return Err(bad(
                    "multiple union schemas map to the same Connect union field name".into(),
                ));
            }
            b = b.field(field, s);
        }
        Ok(b.build())
    }
}

fn avro_type_name(t: SchemaType) -> &'static str {
    match t {
        SchemaType::Int8 | SchemaType::Int16 | SchemaType::Int32 => "int",
        SchemaType::Int64 => "long",
        SchemaType::Float32 => "float",
        SchemaType::Float64 => "double",
        SchemaType::Boolean => "boolean",
        SchemaType::String => "string",
        SchemaType::Bytes => "bytes",
        SchemaType::Array => "array",
        SchemaType::Map => "map",
        SchemaType::Struct => "record",
    }
}

/// An Avro JSON default as a Connect value of `s`.
fn default_from_json(s: &Schema, j: &Json) -> Result<Value, ConvertError> {
    let wrong = || bad(format!("invalid default {j} for a {:?} schema", s.ty));
    if j.is_null() {
        return Ok(Value::Null);
    }
    Ok(match s.ty {
        SchemaType::Int8 => Value::Int8(j.as_i64().ok_or_else(wrong)? as i8),
        SchemaType::Int16 => Value::Int16(j.as_i64().ok_or_else(wrong)? as i16),
        SchemaType::Int32 => Value::Int32(j.as_i64().ok_or_else(wrong)? as i32),
        SchemaType::Int64 => Value::Int64(j.as_i64().ok_or_else(wrong)?),
        SchemaType::Float32 => Value::Float32(j.as_f64().ok_or_else(wrong)? as f32),
        SchemaType::Float64 => Value::Float64(j.as_f64().ok_or_else(wrong)?),
        SchemaType::Boolean => Value::Boolean(j.as_bool().ok_or_else(wrong)?),
        SchemaType::String => Value::String(Arc::from(j.as_str().ok_or_else(wrong)?)),
        SchemaType::Bytes => {
            let b: Vec<u8> = j
                .as_str()
                .ok_or_else(wrong)?
                .chars()
                .map(|c| c as u8)
                .collect();
            if s.name.as_deref() == Some(DECIMAL) {
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
        SchemaType::Array => {
            let item = s.items.as_deref().ok_or_else(wrong)?;
            Value::Array(
                j.as_array()
                    .ok_or_else(wrong)?
                    .iter()
                    .map(|i| default_from_json(item, i))
                    .collect::<Result<_, _>>()?,
            )
        }
        SchemaType::Map => {
            let (ks, vs) = match (s.items.as_deref(), s.values.as_deref()) {
                (Some(k), Some(v)) => (k, v),
                _ => return Err(wrong()),
            };
            match j {
                Json::Object(m) => Value::Map(
                    m.iter()
                        .map(|(k, v)| {
                            Ok((
                                Value::String(Arc::from(k.as_str())),
                                default_from_json(vs, v)?,
                            ))
                        })
                        .collect::<Result<_, ConvertError>>()?,
                ),
                Json::Array(pairs) => Value::Map(
                    pairs
                        .iter()
                        .map(|p| match p.as_array().map(Vec::as_slice) {
                            Some([k, v]) => {
                                Ok((default_from_json(ks, k)?, default_from_json(vs, v)?))
                            }
                            _ => Err(wrong()),
                        })
                        .collect::<Result<_, ConvertError>>()?,
                ),
                _ => return Err(wrong()),
            }
        }
        SchemaType::Struct => {
            let m = j.as_object().ok_or_else(wrong)?;
            Value::Struct(
                s.fields
                    .iter()
                    .map(|f| match m.get(&f.name) {
                        Some(v) => default_from_json(&f.schema, v),
                        None => Ok(f.schema.default.clone().unwrap_or(Value::Null)),
                    })
                    .collect::<Result<_, _>>()?,
            )
        }
    })
}
