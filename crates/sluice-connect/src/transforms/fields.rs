//! Field-level transforms of Kafka Connect (`org.apache.kafka.connect.transforms.*`), each with
//! Connect's behaviour for struct values (with schema) and map values (schemaless):
//! `ExtractField`, `ValueToKey`, `ReplaceField`, `MaskField`, `InsertField`, `Cast`, `Flatten`,
//! `HoistField`.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use sluice_core::decimal::Decimal;
use sluice_core::schema::{logical, Schema, SchemaBuilder, SchemaType};
use sluice_core::{ChangeEvent, Data, Position, Value};

use super::{
    config_err, data_err, non_null, require_map, require_struct, struct_like, Props, SchemaCache,
    Side, Transform, TransformError,
};

fn key(name: &str) -> Value {
    Value::String(Arc::from(name))
}

/// `ExtractField$Key` / `$Value`: the part becomes the value of one of its fields.
pub struct ExtractField {
    side: Side,
    field: String,
}

impl ExtractField {
    pub fn new(p: &Props, side: Side) -> Result<Self, TransformError> {
        Ok(ExtractField {
            side,
            field: p.required("field")?.to_string(),
        })
    }
}

impl Transform for ExtractField {
    fn apply(&mut self, mut r: ChangeEvent) -> Result<Option<ChangeEvent>, TransformError> {
        let Some(d) = self.side.take(&mut r) else {
            return Ok(Some(r));
        };
        let out = match &d.schema {
            None => {
                let v = if d.value.is_null() {
                    Value::Null
                } else {
                    entry(require_map(&d.value, "field extraction")?, &self.field)
                };
                Data::schemaless(v)
            }
            Some(s) => {
                let i = s
                    .field_index(&self.field)
                    .ok_or_else(|| data_err(format!("Unknown field: {}", self.field)))?;
                let v = if d.value.is_null() {
                    Value::Null
                } else {
                    require_struct(&d.value, "field extraction")?[i].clone()
                };
                Data::new(Arc::clone(&s.fields[i].schema), v)
            }
        };
        self.side.set(&mut r, Some(out));
        Ok(Some(r))
    }
}

/// The value under `name` in a map's entries (null when absent).
fn entry(entries: &[(Value, Value)], name: &str) -> Value {
    entries
        .iter()
        .find(|(k, _)| k.as_str() == Some(name))
        .map(|(_, v)| v.clone())
        .unwrap_or(Value::Null)
}

/// `ValueToKey`: the key becomes the listed fields of the value.
pub struct ValueToKey {
    fields: Vec<String>,
    cache: SchemaCache,
}

impl ValueToKey {
    pub fn new(p: &Props) -> Result<Self, TransformError> {
        let fields = p.list("fields");
        if fields.is_empty() {
            return Err(config_err(format!(
                "transforms.{}.fields is required",
                p.alias
            )));
        }
        Ok(ValueToKey {
            fields,
            cache: SchemaCache::default(),
        })
    }
}

impl Transform for ValueToKey {
    fn apply(&mut self, mut r: ChangeEvent) -> Result<Option<ChangeEvent>, TransformError> {
        let purpose = "copying fields from value to key";
        let Some(v) = non_null(r.value.as_ref()) else {
            return Err(data_err(format!(
                "Only Map objects supported in absence of schema for [{purpose}], found: null"
            )));
        };
        let key = match &v.schema {
            None => {
                let m = require_map(&v.value, purpose)?;
                Data::schemaless(Value::Map(
                    self.fields.iter().map(|f| (key(f), entry(m, f))).collect(),
                ))
            }
            Some(s) => {
                let values = require_struct(&v.value, purpose)?;
                let fields = self.fields.clone();
                let ks = self.cache.get_or_try(s, |s| {
                    let mut b = SchemaBuilder::structure();
                    for f in &fields {
                        let field = s
                            .field(f)
                            .ok_or_else(|| data_err(format!("Field does not exist: {f}")))?;
                        b = b.field(f.clone(), Arc::clone(&field.schema));
                    }
                    Ok(b.build())
                })?;
                let kv = self
                    .fields
                    .iter()
                    .map(|f| s.field_index(f).map_or(Value::Null, |i| values[i].clone()))
                    .collect();
                Data::new(ks, Value::Struct(kv))
            }
        };
        r.key = Some(key);
        Ok(Some(r))
    }
}

/// `ReplaceField$Key` / `$Value`: keep (`include`), drop (`exclude`) and rename (`renames`)
/// fields; `whitelist`/`blacklist` are the old names.
pub struct ReplaceField {
    side: Side,
    include: HashSet<String>,
    exclude: HashSet<String>,
    renames: HashMap<String, String>,
    cache: SchemaCache,
}

impl ReplaceField {
    pub fn new(p: &Props, side: Side) -> Result<Self, TransformError> {
        let set = |a: &str, b: &str| -> HashSet<String> {
            let mut l = p.list(a);
            l.extend(p.list(b));
            l.into_iter().collect()
        };
        let mut renames = HashMap::new();
        for pair in p.list("renames") {
            let (from, to) = pair.split_once(':').ok_or_else(|| {
                config_err(format!(
                    "transforms.{}.renames entry {pair:?} must be old:new",
                    p.alias
                ))
            })?;
            renames.insert(from.to_string(), to.to_string());
        }
        Ok(ReplaceField {
            side,
            include: set("include", "whitelist"),
            exclude: set("exclude", "blacklist"),
            renames,
            cache: SchemaCache::default(),
        })
    }

    fn keep(&self, name: &str) -> bool {
        !self.exclude.contains(name) && (self.include.is_empty() || self.include.contains(name))
    }

    fn renamed<'a>(&'a self, name: &'a str) -> &'a str {
        self.renames.get(name).map_or(name, String::as_str)
    }
}

impl Transform for ReplaceField {
    fn apply(&mut self, mut r: ChangeEvent) -> Result<Option<ChangeEvent>, TransformError> {
        let Some(d) = non_null(self.side.get(&r)).cloned() else {
            return Ok(Some(r));
        };
        let out = match &d.schema {
            None => {
                let m = require_map(&d.value, "field replacement")?;
                Data::schemaless(Value::Map(
                    m.iter()
                        .filter(|(k, _)| k.as_str().is_some_and(|k| self.keep(k)))
                        .map(|(k, v)| (key(self.renamed(k.as_str().unwrap_or(""))), v.clone()))
                        .collect(),
                ))
            }
            Some(s) => {
                let values = require_struct(&d.value, "field replacement")?;
                let kept: Vec<usize> = (0..s.fields.len())
                    .filter(|&i| self.keep(&s.fields[i].name))
                    .collect();
                let this = &*self;
                let schema = {
                    let mut b = struct_like(s);
                    for &i in &kept {
                        let f = &s.fields[i];
                        b = b.field(this.renamed(&f.name).to_string(), Arc::clone(&f.schema));
                    }
                    let built = b.build();
                    self.cache.get_or_try(s, |_| Ok(built))?
                };
                Data::new(
                    schema,
                    Value::Struct(kept.iter().map(|&i| values[i].clone()).collect()),
                )
            }
        };
        self.side.set(&mut r, Some(out));
        Ok(Some(r))
    }
}

/// `MaskField$Key` / `$Value`: listed fields get an empty value of their type (or
/// `replacement`).
pub struct MaskField {
    side: Side,
    fields: HashSet<String>,
    replacement: Option<String>,
}

impl MaskField {
    pub fn new(p: &Props, side: Side) -> Result<Self, TransformError> {
        let fields: HashSet<String> = p.list("fields").into_iter().collect();
        if fields.is_empty() {
            return Err(config_err(format!(
                "transforms.{}.fields is required",
                p.alias
            )));
        }
        Ok(MaskField {
            side,
            fields,
            replacement: p.get("replacement").map(str::to_string),
        })
    }

    fn mask(&self, v: &Value) -> Result<Value, TransformError> {
        if v.is_null() {
            return Ok(Value::Null);
        }
        let rep = self.replacement.as_deref();
        let num = |t: &str| -> Result<f64, TransformError> {
            t.trim()
                .parse::<f64>()
                .map_err(|_| data_err(format!("Unable to convert {t} to a number")))
        };
        Ok(match (v, rep) {
            (Value::String(_), None) => Value::String("".into()),
            (Value::String(_), Some(t)) => Value::String(Arc::from(t)),
            (Value::Boolean(_), None) => Value::Boolean(false),
            (Value::Boolean(_), Some(t)) => Value::Boolean(t.eq_ignore_ascii_case("true")),
            (Value::Int8(_), r) => Value::Int8(r.map(num).transpose()?.unwrap_or(0.0) as i8),
            (Value::Int16(_), r) => Value::Int16(r.map(num).transpose()?.unwrap_or(0.0) as i16),
            (Value::Int32(_), r) => Value::Int32(r.map(num).transpose()?.unwrap_or(0.0) as i32),
            (Value::Int64(_), r) => Value::Int64(r.map(num).transpose()?.unwrap_or(0.0) as i64),
            (Value::Float32(_), r) => Value::Float32(r.map(num).transpose()?.unwrap_or(0.0) as f32),
            (Value::Float64(_), r) => Value::Float64(r.map(num).transpose()?.unwrap_or(0.0)),
            (Value::Decimal(d), None) => Value::Decimal(Decimal::from_i128(0, d.scale)),
            (Value::Decimal(_), Some(t)) => Value::Decimal(
                Decimal::parse(t.trim())
                    .ok_or_else(|| data_err(format!("Unable to convert {t} to a decimal")))?,
            ),
            (Value::Bytes(_), None) => Value::Bytes(Vec::new()),
            (Value::Array(_), None) => Value::Array(Vec::new()),
            (Value::Map(_), None) => Value::Map(Vec::new()),
            (_, Some(_)) => return Err(data_err(
                "Cannot mask value of this type with a replacement (only primitives and strings)",
            )),
            (Value::Struct(_), None) => return Err(data_err("Cannot mask a struct")),
            (Value::Null, _) => Value::Null,
        })
    }
}

impl Transform for MaskField {
    fn apply(&mut self, mut r: ChangeEvent) -> Result<Option<ChangeEvent>, TransformError> {
        let Some(mut d) = non_null(self.side.get(&r)).cloned() else {
            return Ok(Some(r));
        };
        match (&d.schema, &mut d.value) {
            (None, Value::Map(entries)) => {
                for (k, v) in entries.iter_mut() {
                    if k.as_str().is_some_and(|k| self.fields.contains(k)) {
                        *v = self.mask(v)?;
                    }
                }
            }
            (Some(s), Value::Struct(values)) => {
                for (f, v) in s.fields.iter().zip(values.iter_mut()) {
                    if self.fields.contains(&f.name) {
                        *v = self.mask(v)?;
                    }
                }
            }
            (None, other) => {
                require_map(other, "masking fields")?;
            }
            (Some(_), other) => {
                require_struct(other, "masking fields")?;
            }
        }
        self.side.set(&mut r, Some(d));
        Ok(Some(r))
    }
}

/// A field `InsertField` adds: its name and whether it is required (`name!`) or optional
/// (`name` / `name?`).
#[derive(Debug, Clone)]
struct NewField {
    name: String,
    required: bool,
}

fn new_field(p: &Props, key: &str) -> Option<NewField> {
    let raw = p.get(key)?.trim();
    if raw.is_empty() {
        return None;
    }
    Some(match raw.strip_suffix('!') {
        Some(n) => NewField {
            name: n.to_string(),
            required: true,
        },
        None => NewField {
            name: raw.trim_end_matches('?').to_string(),
            required: false,
        },
    })
}

/// `InsertField$Key` / `$Value`: adds the topic, partition, offset, timestamp and/or a static
/// value as fields.
pub struct InsertField {
    side: Side,
    topic: Option<NewField>,
    partition: Option<NewField>,
    offset: Option<NewField>,
    timestamp: Option<NewField>,
    static_field: Option<NewField>,
    static_value: Option<String>,
    cache: SchemaCache,
}

impl InsertField {
    pub fn new(p: &Props, side: Side) -> Result<Self, TransformError> {
        let t = InsertField {
            side,
            topic: new_field(p, "topic.field"),
            partition: new_field(p, "partition.field"),
            offset: new_field(p, "offset.field"),
            timestamp: new_field(p, "timestamp.field"),
            static_field: new_field(p, "static.field"),
            static_value: p.get("static.value").map(str::to_string),
            cache: SchemaCache::default(),
        };
        if t.static_field.is_some() != t.static_value.is_some() {
            return Err(config_err(format!(
                "transforms.{}: static.field and static.value go together",
                p.alias
            )));
        }
        Ok(t)
    }

    /// (field, schema, value) to add, in Connect's order.
    fn additions(
        &self,
        r: &ChangeEvent,
    ) -> Result<Vec<(NewField, Arc<Schema>, Value)>, TransformError> {
        let mut out = Vec::new();
        let opt = |f: &NewField, b: SchemaBuilder| b.optional_if(!f.required).build();
        if let Some(f) = &self.topic {
            out.push((
                f.clone(),
                opt(f, SchemaBuilder::string()),
                Value::String(Arc::clone(&r.topic)),
            ));
        }
        let kafka = match &r.position {
            Position::Kafka(k) => Some(k),
            _ => None,
        };
        if let Some(f) = &self.partition {
            out.push((
                f.clone(),
                opt(f, SchemaBuilder::int32()),
                kafka.map_or(Value::Null, |k| Value::Int32(k.partition)),
            ));
        }
        if let Some(f) = &self.offset {
            let k = kafka.ok_or_else(|| {
                data_err("Only SinkRecord supported for [field insertion] of the offset, found a source record")
            })?;
            out.push((
                f.clone(),
                opt(f, SchemaBuilder::int64()),
                Value::Int64(k.offset),
            ));
        }
        if let Some(f) = &self.timestamp {
            out.push((
                f.clone(),
                opt(
                    f,
                    SchemaBuilder::int64()
                        .name(logical::CONNECT_TIMESTAMP)
                        .version(1),
                ),
                r.timestamp.map_or(Value::Null, Value::Int64),
            ));
        }
        if let (Some(f), Some(v)) = (&self.static_field, &self.static_value) {
            out.push((
                f.clone(),
                opt(f, SchemaBuilder::string()),
                Value::String(Arc::from(v.as_str())),
            ));
        }
        for (f, _, v) in &out {
            if f.required && v.is_null() {
                return Err(data_err(format!(
                    "the required field {} has no value",
                    f.name
                )));
            }
        }
        Ok(out)
    }
}

impl Transform for InsertField {
    fn apply(&mut self, mut r: ChangeEvent) -> Result<Option<ChangeEvent>, TransformError> {
        let Some(d) = non_null(self.side.get(&r)).cloned() else {
            return Ok(Some(r));
        };
        let adds = self.additions(&r)?;
        let out = match d.schema {
            None => {
                let mut m = require_map(&d.value, "field insertion")?.to_vec();
                for (f, _, v) in adds {
                    m.retain(|(k, _)| k.as_str() != Some(f.name.as_str()));
                    m.push((key(&f.name), v));
                }
                Data::schemaless(Value::Map(m))
            }
            Some(s) => {
                let mut values = require_struct(&d.value, "field insertion")?.to_vec();
                let extra: Vec<(String, Arc<Schema>)> = adds
                    .iter()
                    .map(|(f, s, _)| (f.name.clone(), Arc::clone(s)))
                    .collect();
                let schema = self.cache.get_or_try(&s, |s| {
                    let mut b = struct_like(s);
                    for f in &s.fields {
                        b = b.field(f.name.clone(), Arc::clone(&f.schema));
                    }
                    for (n, fs) in extra {
                        b = b.field(n, fs);
                    }
                    Ok(b.build())
                })?;
                values.extend(adds.into_iter().map(|(_, _, v)| v));
                Data::new(schema, Value::Struct(values))
            }
        };
        self.side.set(&mut r, Some(out));
        Ok(Some(r))
    }
}

/// `HoistField$Key` / `$Value`: wraps the part in a struct (or map) with one field.
pub struct HoistField {
    side: Side,
    field: String,
    cache: SchemaCache,
}

impl HoistField {
    pub fn new(p: &Props, side: Side) -> Result<Self, TransformError> {
        Ok(HoistField {
            side,
            field: p.required("field")?.to_string(),
            cache: SchemaCache::default(),
        })
    }
}

impl Transform for HoistField {
    fn apply(&mut self, mut r: ChangeEvent) -> Result<Option<ChangeEvent>, TransformError> {
        let Some(d) = self.side.take(&mut r) else {
            return Ok(Some(r));
        };
        let out = match d.schema {
            None => Data::schemaless(Value::Map(vec![(key(&self.field), d.value)])),
            Some(s) => {
                let field = self.field.clone();
                let schema = self.cache.get_or_try(&s, |_| {
                    Ok(SchemaBuilder::structure()
                        .field(field, Arc::clone(&s))
                        .build())
                })?;
                Data::new(schema, Value::Struct(vec![d.value]))
            }
        };
        self.side.set(&mut r, Some(out));
        Ok(Some(r))
    }
}

/// `Flatten$Key` / `$Value`: nested structs (maps) become top-level fields named
/// `outer<delimiter>inner`.
pub struct Flatten {
    side: Side,
    delimiter: String,
    cache: SchemaCache,
}

impl Flatten {
    pub fn new(p: &Props, side: Side) -> Result<Self, TransformError> {
        Ok(Flatten {
            side,
            delimiter: p.get("delimiter").unwrap_or(".").to_string(),
            cache: SchemaCache::default(),
        })
    }
}

fn flat_schema(
    s: &Schema,
    prefix: &str,
    delim: &str,
    optional: bool,
    b: SchemaBuilder,
) -> SchemaBuilder {
    let mut b = b;
    for f in &s.fields {
        let name = if prefix.is_empty() {
            f.name.clone()
        } else {
            format!("{prefix}{delim}{}", f.name)
        };
        if f.schema.ty == SchemaType::Struct {
            b = flat_schema(&f.schema, &name, delim, optional || f.schema.optional, b);
        } else if optional && !f.schema.optional {
            let mut c = (*f.schema).clone();
            c.optional = true;
            b = b.field(name, Arc::new(c));
        } else {
            b = b.field(name, Arc::clone(&f.schema));
        }
    }
    b
}

fn flat_values(s: &Schema, v: &Value, out: &mut Vec<Value>) {
    let fields = v.as_struct();
    for (i, f) in s.fields.iter().enumerate() {
        let fv = fields.and_then(|fs| fs.get(i)).unwrap_or(&Value::Null);
        if f.schema.ty == SchemaType::Struct {
            flat_values(&f.schema, fv, out);
        } else {
            out.push(fv.clone());
        }
    }
}

fn flat_map(entries: &[(Value, Value)], prefix: &str, delim: &str, out: &mut Vec<(Value, Value)>) {
    for (k, v) in entries {
        let k = k.as_str().unwrap_or_default();
        let name = if prefix.is_empty() {
            k.to_string()
        } else {
            format!("{prefix}{delim}{k}")
        };
        match v {
            Value::Map(inner) => flat_map(inner, &name, delim, out),
            other => out.push((key(&name), other.clone())),
        }
    }
}

impl Transform for Flatten {
    fn apply(&mut self, mut r: ChangeEvent) -> Result<Option<ChangeEvent>, TransformError> {
        let Some(d) = non_null(self.side.get(&r)).cloned() else {
            return Ok(Some(r));
        };
        let out = match &d.schema {
            None => {
                let m = require_map(&d.value, "flattening")?;
                let mut flat = Vec::new();
                flat_map(m, "", &self.delimiter, &mut flat);
                Data::schemaless(Value::Map(flat))
            }
            Some(s) => {
                require_struct(&d.value, "flattening")?;
                let delim = self.delimiter.clone();
                let schema = self.cache.get_or_try(s, |s| {
                    Ok(flat_schema(s, "", &delim, false, struct_like(s)).build())
                })?;
                let mut values = Vec::with_capacity(schema.fields.len());
                flat_values(s, &d.value, &mut values);
                Data::new(schema, Value::Struct(values))
            }
        };
        self.side.set(&mut r, Some(out));
        Ok(Some(r))
    }
}

/// Target types of `Cast`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CastTo {
    Int8,
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    Boolean,
    String,
}

impl CastTo {
    fn parse(t: &str) -> Result<CastTo, TransformError> {
        Ok(match t.trim().to_ascii_lowercase().as_str() {
            "int8" => CastTo::Int8,
            "int16" => CastTo::Int16,
            "int32" => CastTo::Int32,
            "int64" => CastTo::Int64,
            "float32" => CastTo::Float32,
            "float64" => CastTo::Float64,
            "boolean" => CastTo::Boolean,
            "string" => CastTo::String,
            other => {
                return Err(config_err(format!(
                    "Cast: unsupported target type {other:?} (int8, int16, int32, int64, float32, float64, boolean, string)"
                )))
            }
        })
    }

    fn schema(self, optional: bool) -> Arc<Schema> {
        let b = match self {
            CastTo::Int8 => SchemaBuilder::int8(),
            CastTo::Int16 => SchemaBuilder::int16(),
            CastTo::Int32 => SchemaBuilder::int32(),
            CastTo::Int64 => SchemaBuilder::int64(),
            CastTo::Float32 => SchemaBuilder::float32(),
            CastTo::Float64 => SchemaBuilder::float64(),
            CastTo::Boolean => SchemaBuilder::boolean(),
            CastTo::String => SchemaBuilder::string(),
        };
        b.optional_if(optional).build()
    }

    fn cast(self, v: &Value) -> Result<Value, TransformError> {
        let as_f64 = |v: &Value| -> Result<f64, TransformError> {
            Ok(match v {
                Value::Boolean(b) => f64::from(u8::from(*b)),
                Value::Float32(f) => f64::from(*f),
                Value::Float64(f) => *f,
                Value::Decimal(d) => d.to_f64(),
                Value::String(s) => s
                    .trim()
                    .parse()
                    .map_err(|_| data_err(format!("Cast: {s:?} is not a number")))?,
                other => other
                    .as_i64()
                    .map(|i| i as f64)
                    .ok_or_else(|| data_err("Cast: unsupported source type"))?,
            })
        };
        let as_i64 = |v: &Value| -> Result<i64, TransformError> {
            match v {
                Value::String(s) => s
                    .trim()
                    .parse()
                    .map_err(|_| data_err(format!("Cast: {s:?} is not an integer"))),
                Value::Boolean(b) => Ok(i64::from(*b)),
                other => match other.as_i64() {
                    Some(i) => Ok(i),
                    None => as_f64(other).map(|f| f as i64),
                },
            }
        };
        if v.is_null() {
            return Ok(Value::Null);
        }
        Ok(match self {
            CastTo::Int8 => Value::Int8(as_i64(v)? as i8),
            CastTo::Int16 => Value::Int16(as_i64(v)? as i16),
            CastTo::Int32 => Value::Int32(as_i64(v)? as i32),
            CastTo::Int64 => Value::Int64(as_i64(v)?),
            CastTo::Float32 => Value::Float32(as_f64(v)? as f32),
            CastTo::Float64 => Value::Float64(as_f64(v)?),
            CastTo::Boolean => Value::Boolean(match v {
                Value::String(s) => s.trim().eq_ignore_ascii_case("true"),
                Value::Boolean(b) => *b,
                other => as_f64(other)? != 0.0,
            }),
            CastTo::String => {
                let mut out = Vec::new();
                crate::converter::java_string(None, v, &mut out);
                Value::String(Arc::from(String::from_utf8_lossy(&out).as_ref()))
            }
        })
    }
}

/// `Cast$Key` / `$Value`: `spec` is one type for the whole part, or `field:type,…`.
pub struct Cast {
    side: Side,
    whole: Option<CastTo>,
    fields: HashMap<String, CastTo>,
    cache: SchemaCache,
}

impl Cast {
    pub fn new(p: &Props, side: Side) -> Result<Self, TransformError> {
        let spec = p.list("spec");
        if spec.is_empty() {
            return Err(config_err(format!(
                "transforms.{}.spec is required",
                p.alias
            )));
        }
        let mut whole = None;
        let mut fields = HashMap::new();
        for s in spec {
            match s.split_once(':') {
                Some((f, t)) => {
                    fields.insert(f.trim().to_string(), CastTo::parse(t)?);
                }
                None => whole = Some(CastTo::parse(&s)?),
            }
        }
        if whole.is_some() && !fields.is_empty() {
            return Err(config_err(
                "Cast: a whole-value type cannot be combined with field casts",
            ));
        }
        Ok(Cast {
            side,
            whole,
            fields,
            cache: SchemaCache::default(),
        })
    }
}

impl Transform for Cast {
    fn apply(&mut self, mut r: ChangeEvent) -> Result<Option<ChangeEvent>, TransformError> {
        let Some(d) = non_null(self.side.get(&r)).cloned() else {
            return Ok(Some(r));
        };
        let out = if let Some(t) = self.whole {
            Data {
                schema: d.schema.as_ref().map(|s| t.schema(s.optional)),
                value: t.cast(&d.value)?,
            }
        } else {
            match &d.schema {
                None => {
                    let m = require_map(&d.value, "cast types")?;
                    let mut out = Vec::with_capacity(m.len());
                    for (k, v) in m {
                        let cast = k.as_str().and_then(|k| self.fields.get(k));
                        out.push((
                            k.clone(),
                            match cast {
                                Some(t) => t.cast(v)?,
                                None => v.clone(),
                            },
                        ));
                    }
                    Data::schemaless(Value::Map(out))
                }
                Some(s) => {
                    let values = require_struct(&d.value, "cast types")?;
                    let fields = self.fields.clone();
                    let schema = self.cache.get_or_try(s, |s| {
                        let mut b = struct_like(s);
                        for f in &s.fields {
                            b = b.field(
                                f.name.clone(),
                                match fields.get(&f.name) {
                                    Some(t) => t.schema(f.schema.optional),
                                    None => Arc::clone(&f.schema),
                                },
                            );
                        }
                        Ok(b.build())
                    })?;
                    let mut out = Vec::with_capacity(values.len());
                    for (f, v) in s.fields.iter().zip(values) {
                        out.push(match self.fields.get(&f.name) {
                            Some(t) => t.cast(v)?,
                            None => v.clone(),
                        });
                    }
                    Data::new(schema, Value::Struct(out))
                }
            }
        };
        self.side.set(&mut r, Some(out));
        Ok(Some(r))
    }
}
