//! Connect values. Struct values are positional, aligned with their schema's fields.

use std::sync::Arc;

use crate::decimal::Decimal;

/// A Connect value. `Null` stands for a missing optional value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Boolean(bool),
    Int8(i8),
    Int16(i16),
    Int32(i32),
    Int64(i64),
    Float32(f32),
    Float64(f64),
    /// Text, shared: strings repeated on every event (names, file) are not copied.
    String(Arc<str>),
    Bytes(Vec<u8>),
    /// `org.apache.kafka.connect.data.Decimal` (schema type BYTES).
    Decimal(Decimal),
    Array(Vec<Value>),
    Map(Vec<(Value, Value)>),
    Struct(Vec<Value>),
}

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The fields of a struct value, or `None` for any other value.
    pub fn as_struct(&self) -> Option<&[Value]> {
        match self {
            Value::Struct(f) => Some(f),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Value::Int8(v) => Some(v.into()),
            Value::Int16(v) => Some(v.into()),
            Value::Int32(v) => Some(v.into()),
            Value::Int64(v) => Some(v),
            _ => None,
        }
    }
}
