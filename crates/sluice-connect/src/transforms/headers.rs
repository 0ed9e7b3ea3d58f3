//! Header transforms: `InsertHeader`, `DropHeaders`, `HeaderFrom$Key` / `$Value`.
//!
//! Header values are stored as bytes, as Connect's `SimpleHeaderConverter` writes them: text
//! for strings and numbers, JSON for structs, maps and arrays.

use std::collections::HashSet;
use std::sync::Arc;

use sluice_core::schema::Schema;
use sluice_core::{ChangeEvent, Data, Value};

use super::{
    config_err, non_null, require_map, require_struct, struct_like, Props, SchemaCache, Side,
    Transform, TransformError,
};
use crate::json::{write_schemaless, write_value, JsonConverterConfig};

/// A value as `SimpleHeaderConverter` writes it.
pub fn header_bytes(schema: Option<&Schema>, v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    match v {
        Value::Struct(_) | Value::Map(_) | Value::Array(_) => {
            let cfg = JsonConverterConfig {
                schemas_enable: false,
                ..Default::default()
            };
            match schema {
                Some(s) => write_value(&cfg, s, v, &mut out),
                None => write_schemaless(&cfg, v, &mut out),
            }
        }
        other => crate::converter::java_string(schema, other, &mut out),
    }
    out
}

/// `InsertHeader`: adds header `header` with the text `value.literal`.
pub struct InsertHeader {
    name: String,
    value: Vec<u8>,
}

impl InsertHeader {
    pub fn new(p: &Props) -> Result<Self, TransformError> {
        Ok(InsertHeader {
            name: p.required("header")?.to_string(),
            value: p
                .get("value.literal")
                .ok_or_else(|| {
                    config_err(format!("transforms.{}.value.literal is required", p.alias))
                })?
                .as_bytes()
                .to_vec(),
        })
    }
}

impl Transform for InsertHeader {
    fn apply(&mut self, mut r: ChangeEvent) -> Result<Option<ChangeEvent>, TransformError> {
        r.headers.push((self.name.clone(), self.value.clone()));
        Ok(Some(r))
    }
}

/// `DropHeaders`: removes every header with one of the `headers` names.
pub struct DropHeaders {
    names: HashSet<String>,
}

impl DropHeaders {
    pub fn new(p: &Props) -> Result<Self, TransformError> {
        let names: HashSet<String> = p.list("headers").into_iter().collect();
        if names.is_empty() {
            return Err(config_err(format!(
                "transforms.{}.headers is required",
                p.alias
            )));
        }
        Ok(DropHeaders { names })
    }
}

impl Transform for DropHeaders {
    fn apply(&mut self, mut r: ChangeEvent) -> Result<Option<ChangeEvent>, TransformError> {
        r.headers.retain(|(k, _)| !self.names.contains(k));
        Ok(Some(r))
    }
}

/// `HeaderFrom$Key` / `$Value`: copies (`operation=copy`) or moves (`move`) `fields` into
/// `headers` (same length, in order).
pub struct HeaderFrom {
    side: Side,
    fields: Vec<String>,
    headers: Vec<String>,
    moving: bool,
    cache: SchemaCache,
}

impl HeaderFrom {
    pub fn new(p: &Props, side: Side) -> Result<Self, TransformError> {
        let fields = p.list("fields");
        let headers = p.list("headers");
        if fields.is_empty() || fields.len() != headers.len() {
            return Err(config_err(format!(
                "transforms.{}: fields and headers must be non-empty lists of the same length",
                p.alias
            )));
        }
        let moving = match p
            .required("operation")?
            .trim()
            .to_ascii_lowercase()
            .as_str()
        {
            "move" => true,
            "copy" => false,
            other => {
                return Err(config_err(format!(
                    "transforms.{}.operation={other:?}: use move or copy",
                    p.alias
                )))
            }
        };
        Ok(HeaderFrom {
            side,
            fields,
            headers,
            moving,
            cache: SchemaCache::default(),
        })
    }
}

impl Transform for HeaderFrom {
    fn apply(&mut self, mut r: ChangeEvent) -> Result<Option<ChangeEvent>, TransformError> {
        let Some(d) = non_null(self.side.get(&r)).cloned() else {
            return Ok(Some(r));
        };
        let out = match &d.schema {
            None => {
                let m = require_map(&d.value, "header from")?;
                for (f, h) in self.fields.iter().zip(&self.headers) {
                    if let Some((_, v)) = m.iter().find(|(k, _)| k.as_str() == Some(f.as_str())) {
                        r.headers.push((h.clone(), header_bytes(None, v)));
                    }
                }
                if self.moving {
                    Data::schemaless(Value::Map(
                        m.iter()
                            .filter(|(k, _)| {
                                !k.as_str()
                                    .is_some_and(|k| self.fields.iter().any(|f| f == k))
                            })
                            .cloned()
                            .collect(),
                    ))
                } else {
                    d.clone()
                }
            }
            Some(s) => {
                let values = require_struct(&d.value, "header from")?;
                for (f, h) in self.fields.iter().zip(&self.headers) {
                    let i = s
                        .field_index(f)
                        .ok_or_else(|| super::data_err(format!("Field {f} does not exist")))?;
                    r.headers.push((
                        h.clone(),
                        header_bytes(Some(&s.fields[i].schema), &values[i]),
                    ));
                }
                if self.moving {
                    let fields = self.fields.clone();
                    let schema = self.cache.get_or_try(s, |s| {
                        let mut b = struct_like(s);
                        for f in s.fields.iter().filter(|f| !fields.contains(&f.name)) {
                            b = b.field(f.name.clone(), Arc::clone(&f.schema));
                        }
                        Ok(b.build())
                    })?;
                    let kept = s
                        .fields
                        .iter()
                        .zip(values)
                        .filter(|(f, _)| !self.fields.contains(&f.name))
                        .map(|(_, v)| v.clone())
                        .collect();
                    Data::new(schema, Value::Struct(kept))
                } else {
                    d.clone()
                }
            }
        };
        self.side.set(&mut r, Some(out));
        Ok(Some(r))
    }
}
