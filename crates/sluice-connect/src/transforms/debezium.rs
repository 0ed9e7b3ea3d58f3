//! Debezium's transforms: `ExtractNewRecordState` (unwrap the envelope) and
//! `ByLogicalTableRouter` (merge tables into one topic).
//!
//! `ExtractNewRecordState` replaces a change event's envelope by its row state (`after`, or
//! `before` for a rewritten delete). Deletes and tombstones follow
//! `delete.tombstone.handling.mode` (Debezium 2.5+; default `tombstone`):
//!
//! | mode | delete event | tombstone |
//! |---|---|---|
//! | `drop` | dropped | dropped |
//! | `tombstone` / `delete-to-tombstone` | a record with a null value | dropped |
//! | `rewrite` | `before` + `__deleted: "true"` | dropped |
//! | `rewrite-with-tombstone` | `before` + `__deleted: "true"` | kept |
//!
//! (`rewrite` modes add `__deleted: "false"` to the other events.) When only the older
//! `drop.tombstones` (default true) / `delete.handling.mode` (`drop` default, `none`,
//! `rewrite`) are set, they are honoured as Debezium 2.x did. `add.fields` / `add.headers`
//! copy envelope fields (`op`, `ts_ms`, `source.*`, `transaction.*`; a bare name other than
//! `op`/`ts_*` means `source.<name>`) as `<prefix><name>` or `<prefix><struct>_<name>`, with
//! `name:new` renames. Records that are not envelopes (heartbeats) pass unchanged. Schemaless
//! envelopes (a map with `op` and `after`) are unwrapped the same way — Debezium passes them
//! through unchanged; sluice unwraps them, so `schemas.enable=false` topics work too.

use std::sync::Arc;

use sluice_core::schema::{Schema, SchemaBuilder, SchemaType};
use sluice_core::{ChangeEvent, Data, Value};
use tracing::warn;

use super::{
    config_err, full_match_regex, java_replacement, map_get, require_struct, struct_field,
    struct_like, Props, SchemaCache, TransformError,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DeleteMode {
    Drop,
    Tombstone,
    Rewrite,
    RewriteWithTombstone,
    /// `delete.handling.mode=none` (legacy): a null-valued record.
    None,
}

/// One `add.fields` / `add.headers` entry.
#[derive(Debug, Clone)]
struct FieldRef {
    /// `source`, `transaction`, or `None` for top-level envelope fields.
    parent: Option<String>,
    field: String,
    out: String,
}

impl FieldRef {
    fn parse(prefix: &str, spec: &str) -> Result<FieldRef, TransformError> {
        let (path, rename) = match spec.split_once(':') {
            Some((p, r)) => (p, Some(r)),
            None => (spec, None),
        };
        let (parent, field) = match path.split_once('.') {
            Some((p, f)) => (Some(p.to_string()), f.to_string()),
            None => {
                let parent = match path {
                    "op" | "ts_ms" | "ts_us" | "ts_ns" => None,
                    "id" | "total_order" | "data_collection_order" => Some("transaction".into()),
                    _ => Some("source".into()),
                };
                (parent, path.to_string())
            }
        };
        if field.is_empty() {
            return Err(config_err(format!(
                "add.fields entry {spec:?} has no field name"
            )));
        }
        let explicit = path.contains('.');
        let out = match rename {
            Some(r) => format!("{prefix}{r}"),
            None if explicit => format!("{prefix}{}_{field}", parent.as_deref().unwrap_or("")),
            None => format!("{prefix}{field}"),
        };
        Ok(FieldRef { parent, field, out })
    }

    /// The field's schema in an envelope schema (see [`FieldRef::lookup`]).
    fn schema_in(&self, env: &Schema) -> Option<Arc<Schema>> {
        if let Some(f) = self
            .parent
            .as_ref()
            .and_then(|p| env.field(p))
            .and_then(|ps| ps.schema.field(&self.field))
        {
            return Some(Arc::clone(&f.schema));
        }
        env.field(&self.field).map(|f| Arc::clone(&f.schema))
    }

    /// The field's schema and value in an envelope with a schema (falling back to the
    /// envelope's top level when the parent struct does not have it, as Debezium does).
    fn lookup<'v>(&self, env: &'v Schema, value: &'v Value) -> Option<(Arc<Schema>, &'v Value)> {
        if let Some(p) = &self.parent {
            if let Some(ps) = env.field(p) {
                if let Some(f) = ps.schema.field(&self.field) {
                    let pv = struct_field(env, value, p)?;
                    let v = if pv.is_null() {
                        &Value::Null
                    } else {
                        struct_field(&ps.schema, pv, &self.field).unwrap_or(&Value::Null)
                    };
                    return Some((Arc::clone(&f.schema), v));
                }
            }
        }
        let f = env.field(&self.field)?;
        Some((
            Arc::clone(&f.schema),
            struct_field(env, value, &self.field)?,
        ))
    }

    fn lookup_map<'v>(&self, env: &'v Value) -> Option<&'v Value> {
        if let Some(p) = &self.parent {
            if let Some(v) = map_get(env, p).and_then(|pv| map_get(pv, &self.field)) {
                return Some(v);
            }
        }
        map_get(env, &self.field)
    }
}

/// `io.debezium.transforms.ExtractNewRecordState`.
pub struct ExtractNewRecordState {
    deletes: DeleteMode,
    keep_tombstones: bool,
    add_fields: Vec<FieldRef>,
    add_headers: Vec<FieldRef>,
    route_by_field: Option<String>,
    cache: SchemaCache,
}

impl ExtractNewRecordState {
    pub fn new(p: &Props) -> Result<Self, TransformError> {
        let (deletes, keep_tombstones) = match p.get("delete.tombstone.handling.mode").map(str::trim) {
            Some(m) => match m.to_ascii_lowercase().as_str() {
                "drop" => (DeleteMode::Drop, false),
                "tombstone" | "delete-to-tombstone" => (DeleteMode::Tombstone, false),
                "rewrite" => (DeleteMode::Rewrite, false),
                "rewrite-with-tombstone" => (DeleteMode::RewriteWithTombstone, true),
                other => {
                    return Err(config_err(format!(
                        "transforms.{}.delete.tombstone.handling.mode={other:?}: use drop, tombstone, rewrite, rewrite-with-tombstone or delete-to-tombstone",
                        p.alias
                    )))
                }
            },
            None if p.get("drop.tombstones").is_some() || p.get("delete.handling.mode").is_some() => {
                warn!(transform = %p.alias, "drop.tombstones and delete.handling.mode are deprecated by Debezium; prefer delete.tombstone.handling.mode");
                let deletes = match p.get("delete.handling.mode").map(|m| m.trim().to_ascii_lowercase()) {
                    None => DeleteMode::Drop,
                    Some(m) if m == "drop" => DeleteMode::Drop,
                    Some(m) if m == "none" => DeleteMode::None,
                    Some(m) if m == "rewrite" => DeleteMode::Rewrite,
                    Some(m) => {
                        return Err(config_err(format!(
                            "transforms.{}.delete.handling.mode={m:?}: use drop, none or rewrite",
                            p.alias
                        )))
                    }
                };
                (deletes, !p.bool("drop.tombstones", true)?)
            }
            None => (DeleteMode::Tombstone, false),
        };
        let fields_prefix = p.get("add.fields.prefix").unwrap_or("__");
        let headers_prefix = p.get("add.headers.prefix").unwrap_or("__");
        Ok(ExtractNewRecordState {
            deletes,
            keep_tombstones,
            add_fields: p
                .list("add.fields")
                .iter()
                .map(|f| FieldRef::parse(fields_prefix, f))
                .collect::<Result<_, _>>()?,
            add_headers: p
                .list("add.headers")
                .iter()
                .map(|f| FieldRef::parse(headers_prefix, f))
                .collect::<Result<_, _>>()?,
            route_by_field: p
                .get("route.by.field")
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string),
            cache: SchemaCache::default(),
        })
    }

    fn rewrite(&self) -> bool {
        matches!(
            self.deletes,
            DeleteMode::Rewrite | DeleteMode::RewriteWithTombstone
        )
    }
}

fn is_envelope(d: &Data) -> bool {
    match &d.schema {
        Some(s) => {
            s.ty == SchemaType::Struct
                && s.name.as_deref().is_some_and(|n| n.ends_with(".Envelope"))
        }
        None => map_get(&d.value, "op").is_some() && map_get(&d.value, "after").is_some(),
    }
}

fn header_text(v: &Value) -> Option<Vec<u8>> {
    if v.is_null() {
        return None;
    }
    let mut out = Vec::new();
    crate::converter::java_string(None, v, &mut out);
    Some(out)
}

impl super::Transform for ExtractNewRecordState {
    fn apply(&mut self, mut r: ChangeEvent) -> Result<Option<ChangeEvent>, TransformError> {
        let Some(mut value) = r.value.take() else {
            if !self.keep_tombstones {
                return Ok(None);
            }
            for h in self
                .add_headers
                .iter()
                .filter(|h| h.parent.is_none() && h.field == "op")
            {
                r.headers.push((h.out.clone(), b"d".to_vec()));
            }
            return Ok(Some(r));
        };
        if !is_envelope(&value) {
            r.value = Some(value);
            return Ok(Some(r));
        }
        let schema = value.schema.clone();
        let get = |value: &Data, name: &str| -> Value {
            match &schema {
                Some(s) => struct_field(s, &value.value, name)
                    .cloned()
                    .unwrap_or(Value::Null),
                None => map_get(&value.value, name).cloned().unwrap_or(Value::Null),
            }
        };
        // headers first: they come from the envelope, whatever happens to the value
        for h in &self.add_headers {
            let v = match &schema {
                Some(s) => h.lookup(s, &value.value).map(|(_, v)| v.clone()),
                None => h.lookup_map(&value.value).cloned(),
            };
            if let Some(bytes) = v.as_ref().and_then(header_text) {
                r.headers.push((h.out.clone(), bytes));
            }
        }
        let op = get(&value, "op");
        // the row image is moved out of the envelope when nothing else reads the envelope later
        let after = match (&schema, &mut value.value) {
            (Some(s), Value::Struct(fields)) if self.add_fields.is_empty() => s
                .field_index("after")
                .and_then(|i| fields.get_mut(i))
                .map(|v| std::mem::replace(v, Value::Null))
                .unwrap_or(Value::Null),
            _ => get(&value, "after"),
        };
        let deleted = op.as_str() == Some("d") || after.is_null();
        let row_schema = |name: &str| {
            schema
                .as_ref()
                .and_then(|s| s.field(name))
                .map(|f| Arc::clone(&f.schema))
        };
        let (row_schema, row, deleted_flag) = if deleted {
            match self.deletes {
                DeleteMode::Drop => return Ok(None),
                DeleteMode::Tombstone | DeleteMode::None => {
                    r.value = Some(Data {
                        schema: row_schema("after"),
                        value: Value::Null,
                    });
                    return Ok(Some(r));
                }
                DeleteMode::Rewrite | DeleteMode::RewriteWithTombstone => {
                    (row_schema("before"), get(&value, "before"), Some("true"))
                }
            }
        } else {
            (
                row_schema("after"),
                after,
                self.rewrite().then_some("false"),
            )
        };
        if row.is_null() {
            r.value = Some(Data {
                schema: row_schema,
                value: Value::Null,
            });
            return Ok(Some(r));
        }
        let extra_empty = self.add_fields.is_empty() && deleted_flag.is_none();
        let out = match (&schema, &row_schema) {
            (Some(env), Some(rs)) if !extra_empty => {
                let fields = self.add_fields.clone();
                let rewrite = deleted_flag.is_some();
                let env = Arc::clone(env);
                let new_schema = self.cache.get_or_try(rs, |s| {
                    let mut b = struct_like(s);
                    for f in &s.fields {
                        b = b.field(f.name.clone(), Arc::clone(&f.schema));
                    }
                    if rewrite {
                        b = b.field("__deleted", SchemaBuilder::string().optional().build());
                    }
                    for f in &fields {
                        if let Some(fs) = f.schema_in(&env) {
                            b = b.field(f.out.clone(), optional_copy(&fs));
                        }
                    }
                    Ok(b.build())
                })?;
                let mut values = require_struct(&row, "unwrapping")?.to_vec();
                if let Some(flag) = deleted_flag {
                    values.push(Value::String(Arc::from(flag)));
                }
                for f in &self.add_fields {
                    if let Some((_, v)) = f.lookup(&env, &value.value) {
                        values.push(v.clone());
                    }
                }
                Data::new(new_schema, Value::Struct(values))
            }
            (Some(_), rs) => Data {
                schema: rs.clone(),
                value: row,
            },
            (None, _) => {
                let mut entries = match row {
                    Value::Map(m) => m,
                    other => return Ok(Some(with_value(r, Data::schemaless(other)))),
                };
                if let Some(flag) = deleted_flag {
                    entries.push((
                        Value::String("__deleted".into()),
                        Value::String(flag.into()),
                    ));
                }
                for f in &self.add_fields {
                    let v = f.lookup_map(&value.value).cloned().unwrap_or(Value::Null);
                    entries.push((Value::String(Arc::from(f.out.as_str())), v));
                }
                Data::schemaless(Value::Map(entries))
            }
        };
        if let Some(field) = &self.route_by_field {
            let topic = match &out.schema {
                Some(s) => struct_field(s, &out.value, field).and_then(Value::as_str),
                None => map_get(&out.value, field).and_then(Value::as_str),
            };
            if let Some(t) = topic.filter(|t| !t.is_empty()) {
                r.topic = Arc::from(t);
            }
        }
        r.value = Some(out);
        Ok(Some(r))
    }
}

/// A schema like `s`, optional (Connect's `copySchemaBasics(s).optional()`).
fn optional_copy(s: &Arc<Schema>) -> Arc<Schema> {
    if s.optional {
        return Arc::clone(s);
    }
    let mut c = (**s).clone();
    c.optional = true;
    Arc::new(c)
}

fn with_value(mut r: ChangeEvent, d: Data) -> ChangeEvent {
    r.value = Some(d);
    r
}

/// `io.debezium.transforms.ByLogicalTableRouter`.
pub struct ByLogicalTableRouter {
    topic_regex: regex::Regex,
    topic_replacement: String,
    enforce_unique: bool,
    key_field: String,
    key_regex: Option<(regex::Regex, String)>,
    key_schemas: SchemaCache,
    envelope_schemas: SchemaCache,
}

impl ByLogicalTableRouter {
    pub fn new(p: &Props) -> Result<Self, TransformError> {
        let key_regex = match p
            .get("key.field.regex")
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            Some(re) => Some((
                full_match_regex(re, "key.field.regex")?,
                java_replacement(p.get("key.field.replacement").unwrap_or("")),
            )),
            None => None,
        };
        Ok(ByLogicalTableRouter {
            topic_regex: full_match_regex(p.required("topic.regex")?, "topic.regex")?,
            topic_replacement: java_replacement(p.required("topic.replacement")?),
            enforce_unique: p.bool("key.enforce.uniqueness", true)?,
            key_field: p
                .get("key.field.name")
                .unwrap_or("__dbz__physicalTableIdentifier")
                .to_string(),
            key_regex,
            key_schemas: SchemaCache::default(),
            envelope_schemas: SchemaCache::default(),
        })
    }
}

/// A struct schema like `s` (fields included) under another name.
fn renamed(s: &Schema, name: String) -> Schema {
    let mut c = s.clone();
    c.name = Some(name);
    c
}

impl super::Transform for ByLogicalTableRouter {
    fn apply(&mut self, mut r: ChangeEvent) -> Result<Option<ChangeEvent>, TransformError> {
        if !self.topic_regex.is_match(&r.topic) {
            return Ok(Some(r));
        }
        let new_topic = self
            .topic_regex
            .replace(&r.topic, self.topic_replacement.as_str())
            .into_owned();
        if new_topic.is_empty() {
            warn!(topic = %r.topic, "ByLogicalTableRouter produced an empty topic name; record left as it was");
            return Ok(Some(r));
        }
        let old_topic = Arc::clone(&r.topic);
        if let Some(key) = r.key.take() {
            let physical = match &self.key_regex {
                Some((re, rep)) if re.is_match(&old_topic) => {
                    re.replace(&old_topic, rep.as_str()).into_owned()
                }
                _ => old_topic.to_string(),
            };
            let key = match (&key.schema, key.value) {
                (Some(s), Value::Struct(mut fields)) => {
                    let (enforce, field, topic) = (
                        self.enforce_unique,
                        self.key_field.clone(),
                        new_topic.clone(),
                    );
                    let schema = self.key_schemas.get_or_try(s, |s| {
                        let mut c = renamed(s, format!("{topic}.Key"));
                        if enforce {
                            c.fields.push(sluice_core::Field {
                                name: field,
                                schema: SchemaBuilder::string().build(),
                            });
                        }
                        Ok(Arc::new(c))
                    })?;
                    if self.enforce_unique {
                        fields.push(Value::String(Arc::from(physical.as_str())));
                    }
                    Data::new(schema, Value::Struct(fields))
                }
                (None, Value::Map(mut entries)) => {
                    if self.enforce_unique {
                        entries.push((
                            Value::String(Arc::from(self.key_field.as_str())),
                            Value::String(Arc::from(physical.as_str())),
                        ));
                    }
                    Data::schemaless(Value::Map(entries))
                }
                (_, other) => {
                    return Err(super::data_err(format!(
                        "Only Struct objects supported for [Updating schema], found: {}",
                        if other.is_null() {
                            "null"
                        } else {
                            "a non-struct key"
                        }
                    )))
                }
            };
            r.key = Some(key);
        }
        if let Some(v) = r.value.take() {
            r.value = Some(match &v.schema {
                Some(env) if is_envelope(&v) => {
                    let topic = new_topic.clone();
                    let schema = self.envelope_schemas.get_or_try(env, |env| {
                        let row = env
                            .field("before")
                            .map(|f| Arc::new(renamed(&f.schema, format!("{topic}.Value"))));
                        let mut c = renamed(env, format!("{topic}.Envelope"));
                        for f in c.fields.iter_mut() {
                            if f.name == "before" || f.name == "after" {
                                if let Some(row) = &row {
                                    f.schema = Arc::clone(row);
                                }
                            }
                        }
                        Ok(Arc::new(c))
                    })?;
                    Data::new(schema, v.value)
                }
                _ => v,
            });
        }
        r.topic = Arc::from(new_topic.as_str());
        Ok(Some(r))
    }
}
