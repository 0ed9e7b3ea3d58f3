//! The Kafka Connect schema model (`org.apache.kafka.connect.data.Schema`).
//!
//! A [`Schema`] is immutable and shared through `Arc`; struct values are positional (field `i` of
//! a `Value::Struct` belongs to `schema.fields[i]`). Parameters keep insertion order because
//! Connect's `SchemaBuilder` uses a `LinkedHashMap` and the JSON converter prints them in order.

use std::sync::Arc;

use crate::value::Value;

/// Connect's `Schema.Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SchemaType {
    Int8,
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    Boolean,
    String,
    Bytes,
    Array,
    Map,
    Struct,
}

impl SchemaType {
    /// The lower-case name Connect's JSON converter writes (`"int64"`, `"struct"`, …).
    pub fn json_name(self) -> &'static str {
        match self {
            SchemaType::Int8 => "int8",
            SchemaType::Int16 => "int16",
            SchemaType::Int32 => "int32",
            SchemaType::Int64 => "int64",
            SchemaType::Float32 => "float",
            SchemaType::Float64 => "double",
            SchemaType::Boolean => "boolean",
            SchemaType::String => "string",
            SchemaType::Bytes => "bytes",
            SchemaType::Array => "array",
            SchemaType::Map => "map",
            SchemaType::Struct => "struct",
        }
    }
}

/// One field of a struct schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: String,
    pub schema: Arc<Schema>,
}

/// A Connect schema. Build it with [`SchemaBuilder`].
#[derive(Debug, Clone, PartialEq)]
pub struct Schema {
    pub ty: SchemaType,
    pub optional: bool,
    pub name: Option<String>,
    pub version: Option<i32>,
    pub doc: Option<String>,
    pub parameters: Vec<(String, String)>,
    pub default: Option<Value>,
    /// Struct fields, in order.
    pub fields: Vec<Field>,
    /// Array element schema, or map key schema.
    pub items: Option<Arc<Schema>>,
    /// Map value schema.
    pub values: Option<Arc<Schema>>,
}

impl Schema {
    /// Index of the field called `name`.
    pub fn field_index(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|f| f.name == name)
    }

    /// The field called `name`.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Value of the parameter `key`.
    pub fn parameter(&self, key: &str) -> Option<&str> {
        self.parameters
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Fluent builder mirroring Connect's `SchemaBuilder`.
#[derive(Debug, Clone)]
pub struct SchemaBuilder {
    schema: Schema,
}

impl SchemaBuilder {
    pub fn new(ty: SchemaType) -> Self {
        SchemaBuilder {
            schema: Schema {
                ty,
                optional: false,
                name: None,
                version: None,
                doc: None,
                parameters: Vec::new(),
                default: None,
                fields: Vec::new(),
                items: None,
                values: None,
            },
        }
    }
    pub fn int8() -> Self {
        Self::new(SchemaType::Int8)
    }
    pub fn int16() -> Self {
        Self::new(SchemaType::Int16)
    }
    pub fn int32() -> Self {
        Self::new(SchemaType::Int32)
    }
    pub fn int64() -> Self {
        Self::new(SchemaType::Int64)
    }
    pub fn float32() -> Self {
        Self::new(SchemaType::Float32)
    }
    pub fn float64() -> Self {
        Self::new(SchemaType::Float64)
    }
    pub fn boolean() -> Self {
        Self::new(SchemaType::Boolean)
    }
    pub fn string() -> Self {
        Self::new(SchemaType::String)
    }
    pub fn bytes() -> Self {
        Self::new(SchemaType::Bytes)
    }
    pub fn structure() -> Self {
        Self::new(SchemaType::Struct)
    }
    pub fn array(items: Arc<Schema>) -> Self {
        let mut b = Self::new(SchemaType::Array);
        b.schema.items = Some(items);
        b
    }
    pub fn map(keys: Arc<Schema>, values: Arc<Schema>) -> Self {
        let mut b = Self::new(SchemaType::Map);
        b.schema.items = Some(keys);
        b.schema.values = Some(values);
        b
    }
    pub fn optional(mut self) -> Self {
        self.schema.optional = true;
        self
    }
    pub fn optional_if(mut self, optional: bool) -> Self {
        self.schema.optional = optional;
        self
    }
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.schema.name = Some(name.into());
        self
    }
    pub fn version(mut self, version: i32) -> Self {
        self.schema.version = Some(version);
        self
    }
    pub fn doc(mut self, doc: impl Into<String>) -> Self {
        self.schema.doc = Some(doc.into());
        self
    }
    /// Sets a parameter; a key set again keeps its place (Java's `LinkedHashMap.put`).
    pub fn parameter(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        let (key, value) = (key.into(), value.into());
        match self.schema.parameters.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.schema.parameters.push((key, value)),
        }
        self
    }
    pub fn default_value(mut self, value: Value) -> Self {
        self.schema.default = Some(value);
        self
    }
    pub fn field(mut self, name: impl Into<String>, schema: Arc<Schema>) -> Self {
        self.schema.fields.push(Field {
            name: name.into(),
            schema,
        });
        self
    }
    pub fn build(self) -> Arc<Schema> {
        Arc::new(self.schema)
    }
}

/// Names of the logical/semantic types sluice emits.
pub mod logical {
    pub const DECIMAL: &str = "org.apache.kafka.connect.data.Decimal";
    pub const CONNECT_DATE: &str = "org.apache.kafka.connect.data.Date";
    pub const CONNECT_TIME: &str = "org.apache.kafka.connect.data.Time";
    pub const CONNECT_TIMESTAMP: &str = "org.apache.kafka.connect.data.Timestamp";
    pub const DATE: &str = "io.debezium.time.Date";
    pub const TIME: &str = "io.debezium.time.Time";
    pub const MICRO_TIME: &str = "io.debezium.time.MicroTime";
    pub const TIMESTAMP: &str = "io.debezium.time.Timestamp";
    pub const MICRO_TIMESTAMP: &str = "io.debezium.time.MicroTimestamp";
    pub const ZONED_TIMESTAMP: &str = "io.debezium.time.ZonedTimestamp";
    pub const YEAR: &str = "io.debezium.time.Year";
    pub const ENUM: &str = "io.debezium.data.Enum";
    pub const ENUM_SET: &str = "io.debezium.data.EnumSet";
    pub const JSON: &str = "io.debezium.data.Json";
    pub const BITS: &str = "io.debezium.data.Bits";
}
