//! Single message transforms (SMTs) and predicates, configured as Kafka Connect configures them:
//!
//! ```text
//! transforms=unwrap,route
//! transforms.unwrap.type=io.debezium.transforms.ExtractNewRecordState
//! transforms.route.type=org.apache.kafka.connect.transforms.RegexRouter
//! transforms.route.regex=(.*)
//! transforms.route.replacement=$1-copy
//! transforms.route.predicate=onlyOrders
//! transforms.route.negate=false
//! predicates=onlyOrders
//! predicates.onlyOrders.type=org.apache.kafka.connect.transforms.predicates.TopicNameMatches
//! predicates.onlyOrders.pattern=.*orders
//! ```
//!
//! The chain applies its transforms in order; one that returns no record drops it (the rest of
//! the chain does not run). A transform with a predicate only runs on the records the predicate
//! accepts (or rejects, with `negate=true`). Every transform works with schemas (structs) and
//! without (maps), like its Connect original; where a schema changes, the new schema is built
//! once per input schema and cached.
//!
//! Modules: [`debezium`] (`ExtractNewRecordState`, `ByLogicalTableRouter`), [`fields`] (field
//! level transforms), [`routing`] (topic routers, `Filter`, `SetSchemaMetadata`), [`headers`].

pub mod debezium;
pub mod fields;
pub mod headers;
pub mod routing;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use sluice_core::schema::Schema;
use sluice_core::{ChangeEvent, Data, ErrorClass, Retryable, Value};

/// Why a transform could not be configured or applied.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TransformError {
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    Data(String),
}

impl TransformError {
    /// The Java exception class Connect would report.
    pub fn java_class(&self) -> &'static str {
        match self {
            TransformError::Config(_) => "org.apache.kafka.common.config.ConfigException",
            TransformError::Data(_) => "org.apache.kafka.connect.errors.DataException",
        }
    }
}

impl Retryable for TransformError {
    fn class(&self) -> ErrorClass {
        ErrorClass::Fatal
    }
}

pub(crate) fn data_err(m: impl Into<String>) -> TransformError {
    TransformError::Data(m.into())
}

pub(crate) fn config_err(m: impl Into<String>) -> TransformError {
    TransformError::Config(m.into())
}

/// One transform: a record in, zero or one record out.
pub trait Transform: Send {
    fn apply(&mut self, record: ChangeEvent) -> Result<Option<ChangeEvent>, TransformError>;
}

/// A condition on a record (`predicates.<name>.type`).
pub trait Predicate: Send + Sync {
    fn test(&self, record: &ChangeEvent) -> bool;
}

/// Which part of the record a `$Key` / `$Value` transform works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Key,
    Value,
}

impl Side {
    pub fn get(self, r: &ChangeEvent) -> Option<&Data> {
        match self {
            Side::Key => r.key.as_ref(),
            Side::Value => r.value.as_ref(),
        }
    }

    pub fn set(self, r: &mut ChangeEvent, d: Option<Data>) {
        match self {
            Side::Key => r.key = d,
            Side::Value => r.value = d,
        }
    }

    pub fn take(self, r: &mut ChangeEvent) -> Option<Data> {
        match self {
            Side::Key => r.key.take(),
            Side::Value => r.value.take(),
        }
    }
}

/// The value of a record part, `None` when absent or null.
pub(crate) fn non_null(d: Option<&Data>) -> Option<&Data> {
    d.filter(|d| !d.value.is_null())
}

/// One transform's settings (`transforms.<alias>.*` without the prefix).
#[derive(Debug, Clone)]
pub struct Props {
    pub alias: String,
    map: BTreeMap<String, String>,
}

impl Props {
    pub fn new(alias: &str, map: BTreeMap<String, String>) -> Props {
        Props {
            alias: alias.to_string(),
            map,
        }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.map.get(key).map(|s| s.as_str())
    }

    pub fn required(&self, key: &str) -> Result<&str, TransformError> {
        self.get(key)
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| config_err(format!("transforms.{}.{key} is required", self.alias)))
    }

    /// A comma-separated list (empty entries dropped).
    pub fn list(&self, key: &str) -> Vec<String> {
        self.get(key)
            .map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn bool(&self, key: &str, default: bool) -> Result<bool, TransformError> {
        match self.get(key).map(|v| v.trim().to_ascii_lowercase()) {
            None => Ok(default),
            Some(v) if v == "true" => Ok(true),
            Some(v) if v == "false" => Ok(false),
            Some(v) => Err(config_err(format!(
                "transforms.{}.{key}={v:?} must be true or false",
                self.alias
            ))),
        }
    }
}

/// New schemas derived from input schemas, one per input (keyed by the `Arc`'s address, which
/// stays valid because the input `Arc` is kept in the cache).
#[derive(Debug, Default)]
pub(crate) struct SchemaCache {
    map: HashMap<usize, (Arc<Schema>, Arc<Schema>)>,
}

impl SchemaCache {
    pub(crate) fn get_or_try<F>(
        &mut self,
        input: &Arc<Schema>,
        build: F,
    ) -> Result<Arc<Schema>, TransformError>
    where
        F: FnOnce(&Schema) -> Result<Arc<Schema>, TransformError>,
    {
        let key = Arc::as_ptr(input) as usize;
        if let Some((_, out)) = self.map.get(&key) {
            return Ok(Arc::clone(out));
        }
        if self.map.len() >= 1024 {
            self.map.clear();
        }
        let out = build(input)?;
        self.map.insert(key, (Arc::clone(input), Arc::clone(&out)));
        Ok(out)
    }
}

/// A struct's field value by name.
pub(crate) fn struct_field<'v>(schema: &Schema, value: &'v Value, name: &str) -> Option<&'v Value> {
    let i = schema.field_index(name)?;
    value.as_struct().and_then(|f| f.get(i))
}

/// A schemaless map's value by key.
pub(crate) fn map_get<'v>(value: &'v Value, key: &str) -> Option<&'v Value> {
    match value {
        Value::Map(entries) => entries
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v),
        _ => None,
    }
}

pub(crate) fn require_map<'v>(
    value: &'v Value,
    purpose: &str,
) -> Result<&'v [(Value, Value)], TransformError> {
    match value {
        Value::Map(m) => Ok(m),
        _ => Err(data_err(format!(
            "Only Map objects supported in absence of schema for [{purpose}], found: {}",
            kind(value)
        ))),
    }
}

pub(crate) fn require_struct<'v>(
    value: &'v Value,
    purpose: &str,
) -> Result<&'v [Value], TransformError> {
    match value {
        Value::Struct(f) => Ok(f),
        _ => Err(data_err(format!(
            "Only Struct objects supported for [{purpose}], found: {}",
            kind(value)
        ))),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Boolean(_) => "java.lang.Boolean",
        Value::Int8(_) => "java.lang.Byte",
        Value::Int16(_) => "java.lang.Short",
        Value::Int32(_) => "java.lang.Integer",
        Value::Int64(_) => "java.lang.Long",
        Value::Float32(_) => "java.lang.Float",
        Value::Float64(_) => "java.lang.Double",
        Value::String(_) => "java.lang.String",
        Value::Bytes(_) => "[B",
        Value::Decimal(_) => "java.math.BigDecimal",
        Value::Array(_) => "java.util.ArrayList",
        Value::Map(_) => "java.util.HashMap",
        Value::Struct(_) => "org.apache.kafka.connect.data.Struct",
    }
}

/// Connect's `SchemaUtil.copySchemaBasics` onto a struct builder: name, version, doc,
/// parameters, optional.
pub(crate) fn struct_like(s: &Schema) -> sluice_core::SchemaBuilder {
    let mut b = sluice_core::SchemaBuilder::structure().optional_if(s.optional);
    if let Some(n) = &s.name {
        b = b.name(n.clone());
    }
    if let Some(v) = s.version {
        b = b.version(v);
    }
    if let Some(d) = &s.doc {
        b = b.doc(d.clone());
    }
    for (k, v) in &s.parameters {
        b = b.parameter(k.clone(), v.clone());
    }
    b
}

/// A Java regular expression as the Rust `regex` crate reads it, anchored for `matches()`.
pub(crate) fn full_match_regex(pattern: &str, what: &str) -> Result<regex::Regex, TransformError> {
    regex::Regex::new(&format!("^(?:{pattern})$")).map_err(|e| {
        config_err(format!(
            "{what}={pattern:?} is not a valid regular expression: {e}"
        ))
    })
}

/// Java's `Matcher.replaceFirst` replacement syntax (`$1`, `\$`) in the `regex` crate's
/// (`${1}`, `$$`).
pub(crate) fn java_replacement(r: &str) -> String {
    let mut out = String::with_capacity(r.len() + 4);
    let mut chars = r.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('$') => out.push_str("$$"),
                Some(other) => out.push(other),
                None => {}
            },
            '$' => {
                let mut digits = String::new();
                while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    digits.push(*d);
                    chars.next();
                }
                if digits.is_empty() {
                    out.push_str("$$");
                } else {
                    out.push_str(&format!("${{{digits}}}"));
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// A step of the chain.
struct Step {
    alias: String,
    class: String,
    transform: Box<dyn Transform>,
    predicate: Option<(Arc<dyn Predicate>, bool)>,
}

/// A connector's transform chain.
#[derive(Default)]
pub struct Chain {
    steps: Vec<Step>,
}

/// A record failed in the chain: which transform, and why.
#[derive(Debug, Clone, thiserror::Error)]
#[error("transform {alias} ({class}) failed: {error}")]
pub struct ChainError {
    pub alias: String,
    pub class: String,
    pub error: TransformError,
}

impl Chain {
    /// Builds the chain from a connector's properties (`transforms`, `transforms.*`,
    /// `predicates`, `predicates.*`).
    pub fn from_config(props: &BTreeMap<String, String>) -> Result<Chain, TransformError> {
        let list = |k: &str| -> Vec<String> {
            props
                .get(k)
                .map(|v| {
                    v.split(',')
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty())
                        .collect()
                })
                .unwrap_or_default()
        };
        let sub = |prefix: &str| -> BTreeMap<String, String> {
            props
                .iter()
                .filter_map(|(k, v)| k.strip_prefix(prefix).map(|k| (k.to_string(), v.clone())))
                .collect()
        };
        let mut predicates: HashMap<String, Arc<dyn Predicate>> = HashMap::new();
        for name in list("predicates") {
            let p = Props::new(&name, sub(&format!("predicates.{name}.")));
            let class = p
                .get("type")
                .ok_or_else(|| config_err(format!("predicates.{name}.type is required")))?;
            predicates.insert(name.clone(), routing::predicate(class, &p)?);
        }
        let mut steps = Vec::new();
        for alias in list("transforms") {
            let p = Props::new(&alias, sub(&format!("transforms.{alias}.")));
            let class = p
                .get("type")
                .ok_or_else(|| config_err(format!("transforms.{alias}.type is required")))?
                .trim()
                .to_string();
            let transform = build(&class, &p)?;
            let class = class.to_string();
            let predicate = match p.get("predicate").map(str::trim).filter(|s| !s.is_empty()) {
                Some(name) => Some((
                    predicates.get(name).cloned().ok_or_else(|| {
                        config_err(format!(
                            "transforms.{alias}.predicate={name:?} is not listed in predicates"
                        ))
                    })?,
                    p.bool("negate", false)?,
                )),
                None => None,
            };
            steps.push(Step {
                alias: alias.clone(),
                class,
                transform,
                predicate,
            });
        }
        Ok(Chain { steps })
    }

    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Runs the record through every step; `Ok(None)` when a step dropped it.
    pub fn apply(&mut self, record: ChangeEvent) -> Result<Option<ChangeEvent>, ChainError> {
        let mut r = record;
        for step in &mut self.steps {
            if let Some((p, negate)) = &step.predicate {
                if p.test(&r) == *negate {
                    continue;
                }
            }
            match step.transform.apply(r) {
                Ok(Some(next)) => r = next,
                Ok(None) => return Ok(None),
                Err(error) => {
                    return Err(ChainError {
                        alias: step.alias.clone(),
                        class: step.class.clone(),
                        error,
                    })
                }
            }
        }
        Ok(Some(r))
    }
}

/// Transform classes sluice provides (`$Key`/`$Value` variants where Connect has them).
pub const TRANSFORM_CLASSES: &[&str] = &[
    "io.debezium.transforms.ExtractNewRecordState",
    "io.debezium.transforms.ByLogicalTableRouter",
    "org.apache.kafka.connect.transforms.ExtractField$Key",
    "org.apache.kafka.connect.transforms.ExtractField$Value",
    "org.apache.kafka.connect.transforms.ValueToKey",
    "org.apache.kafka.connect.transforms.ReplaceField$Key",
    "org.apache.kafka.connect.transforms.ReplaceField$Value",
    "org.apache.kafka.connect.transforms.MaskField$Key",
    "org.apache.kafka.connect.transforms.MaskField$Value",
    "org.apache.kafka.connect.transforms.InsertField$Key",
    "org.apache.kafka.connect.transforms.InsertField$Value",
    "org.apache.kafka.connect.transforms.Cast$Key",
    "org.apache.kafka.connect.transforms.Cast$Value",
    "org.apache.kafka.connect.transforms.Flatten$Key",
    "org.apache.kafka.connect.transforms.Flatten$Value",
    "org.apache.kafka.connect.transforms.HoistField$Key",
    "org.apache.kafka.connect.transforms.HoistField$Value",
    "org.apache.kafka.connect.transforms.RegexRouter",
    "org.apache.kafka.connect.transforms.TimestampRouter",
    "org.apache.kafka.connect.transforms.Filter",
    "org.apache.kafka.connect.transforms.SetSchemaMetadata$Key",
    "org.apache.kafka.connect.transforms.SetSchemaMetadata$Value",
    "org.apache.kafka.connect.transforms.InsertHeader",
    "org.apache.kafka.connect.transforms.DropHeaders",
    "org.apache.kafka.connect.transforms.HeaderFrom$Key",
    "org.apache.kafka.connect.transforms.HeaderFrom$Value",
];

/// Predicate classes sluice provides.
pub const PREDICATE_CLASSES: &[&str] = &[
    "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
    "org.apache.kafka.connect.transforms.predicates.HasHeaderKey",
    "org.apache.kafka.connect.transforms.predicates.RecordIsTombstone",
];

/// Builds one transform by class name.
pub fn build(class: &str, p: &Props) -> Result<Box<dyn Transform>, TransformError> {
    let (base, side) = match class.rsplit_once('$') {
        Some((b, "Key")) => (b, Some(Side::Key)),
        Some((b, "Value")) => (b, Some(Side::Value)),
        _ => (class, None),
    };
    let short = base.rsplit('.').next().unwrap_or(base);
    let side_of = || {
        side.ok_or_else(|| {
            config_err(format!(
                "transforms.{}.type={class}: use {class}$Key or {class}$Value",
                p.alias
            ))
        })
    };
    let t: Box<dyn Transform> = match (base, short) {
        ("io.debezium.transforms.ExtractNewRecordState", _) => {
            Box::new(debezium::ExtractNewRecordState::new(p)?)
        }
        ("io.debezium.transforms.ByLogicalTableRouter", _) => {
            Box::new(debezium::ByLogicalTableRouter::new(p)?)
        }
        ("io.debezium.transforms.ContentBasedRouter" | "io.debezium.transforms.Filter", _) => {
            return Err(config_err(format!(
                "transforms.{}.type={class} evaluates Groovy/JavaScript expressions, which sluice does not embed; \
                 use org.apache.kafka.connect.transforms.Filter or RegexRouter with predicates (TopicNameMatches, HasHeaderKey, RecordIsTombstone)",
                p.alias
            )))
        }
        (b, s) if b.starts_with("org.apache.kafka.connect.transforms.") => match s {
            "ExtractField" => Box::new(fields::ExtractField::new(p, side_of()?)?),
            "ValueToKey" => Box::new(fields::ValueToKey::new(p)?),
            "ReplaceField" => Box::new(fields::ReplaceField::new(p, side_of()?)?),
            "MaskField" => Box::new(fields::MaskField::new(p, side_of()?)?),
            "InsertField" => Box::new(fields::InsertField::new(p, side_of()?)?),
            "Cast" => Box::new(fields::Cast::new(p, side_of()?)?),
            "Flatten" => Box::new(fields::Flatten::new(p, side_of()?)?),
            "HoistField" => Box::new(fields::HoistField::new(p, side_of()?)?),
            "RegexRouter" => Box::new(routing::RegexRouter::new(p)?),
            "TimestampRouter" => Box::new(routing::TimestampRouter::new(p)?),
            "Filter" => Box::new(routing::Filter),
            "SetSchemaMetadata" => Box::new(routing::SetSchemaMetadata::new(p, side_of()?)?),
            "InsertHeader" => Box::new(headers::InsertHeader::new(p)?),
            "DropHeaders" => Box::new(headers::DropHeaders::new(p)?),
            "HeaderFrom" => Box::new(headers::HeaderFrom::new(p, side_of()?)?),
            _ => return Err(unknown(class, p)),
        },
        _ => return Err(unknown(class, p)),
    };
    Ok(t)
}

fn unknown(class: &str, p: &Props) -> TransformError {
    config_err(format!(
        "transforms.{}.type={class:?} is not a transform sluice provides; available: {}",
        p.alias,
        TRANSFORM_CLASSES.join(", ")
    ))
}

#[cfg(test)]
pub(crate) mod test_util {
    use super::*;
    use sluice_core::{Position, SchemaBuilder};

    pub fn props(pairs: &[(&str, &str)]) -> Props {
        Props::new(
            "t",
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    pub fn record(key: Option<Data>, value: Option<Data>) -> ChangeEvent {
        ChangeEvent {
            topic: Arc::from("db.inv.orders"),
            key,
            value,
            headers: Vec::new(),
            position: Position::Unknown,
            timestamp: Some(1_700_000_000_000),
        }
    }

    /// `{id: int32, name: optional string}` with a value.
    pub fn row(id: i32, name: Option<&str>) -> Data {
        let s = SchemaBuilder::structure()
            .name("db.inv.orders.Value")
            .optional()
            .field("id", SchemaBuilder::int32().build())
            .field("name", SchemaBuilder::string().optional().build())
            .build();
        Data::new(
            s,
            Value::Struct(vec![
                Value::Int32(id),
                name.map_or(Value::Null, |n| Value::String(n.into())),
            ]),
        )
    }

    /// The same row as a schemaless map.
    pub fn map_row(id: i64, name: &str) -> Data {
        Data::schemaless(Value::Map(vec![
            (Value::String("id".into()), Value::Int64(id)),
            (Value::String("name".into()), Value::String(name.into())),
        ]))
    }

    pub fn json(d: Option<&Data>) -> String {
        let mut c = crate::json::JsonConverter::new(crate::json::JsonConverterConfig {
            schemas_enable: false,
            ..Default::default()
        });
        c.to_string(d)
    }
}

#[cfg(test)]
mod tests {
    use super::test_util::*;
    use super::*;

    fn chain(pairs: &[(&str, &str)]) -> Result<Chain, TransformError> {
        Chain::from_config(
            &pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn predicates_select_the_records_a_transform_runs_on() {
        let mut c = chain(&[
            ("transforms", "drop"),
            (
                "transforms.drop.type",
                "org.apache.kafka.connect.transforms.Filter",
            ),
            ("transforms.drop.predicate", "isTombstone"),
            ("predicates", "isTombstone"),
            (
                "predicates.isTombstone.type",
                "org.apache.kafka.connect.transforms.predicates.RecordIsTombstone",
            ),
        ])
        .unwrap();
        assert!(c.apply(record(None, None)).unwrap().is_none());
        assert!(c.apply(record(None, Some(row(1, None)))).unwrap().is_some());
        let mut negated = chain(&[
            ("transforms", "drop"),
            (
                "transforms.drop.type",
                "org.apache.kafka.connect.transforms.Filter",
            ),
            ("transforms.drop.predicate", "isTombstone"),
            ("transforms.drop.negate", "true"),
            ("predicates", "isTombstone"),
            (
                "predicates.isTombstone.type",
                "org.apache.kafka.connect.transforms.predicates.RecordIsTombstone",
            ),
        ])
        .unwrap();
        assert!(negated.apply(record(None, None)).unwrap().is_some());
        assert!(negated
            .apply(record(None, Some(row(1, None))))
            .unwrap()
            .is_none());
    }

    #[test]
    fn configuration_mistakes_are_named() {
        let e = chain(&[("transforms", "x")]).err().unwrap().to_string();
        assert!(e.contains("transforms.x.type is required"), "{e}");
        let e = chain(&[
            ("transforms", "x"),
            (
                "transforms.x.type",
                "org.apache.kafka.connect.transforms.ExtractField",
            ),
        ])
        .err()
        .unwrap()
        .to_string();
        assert!(e.contains("ExtractField$Key"), "{e}");
        let e = chain(&[("transforms", "x"), ("transforms.x.type", "com.acme.Magic")])
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("com.acme.Magic") && e.contains("RegexRouter"),
            "{e}"
        );
        let e = chain(&[
            ("transforms", "x"),
            (
                "transforms.x.type",
                "org.apache.kafka.connect.transforms.Filter",
            ),
            ("transforms.x.predicate", "nope"),
        ])
        .err()
        .unwrap()
        .to_string();
        assert!(e.contains("not listed in predicates"), "{e}");
        let e = chain(&[
            ("transforms", "x"),
            (
                "transforms.x.type",
                "io.debezium.transforms.ContentBasedRouter",
            ),
        ])
        .err()
        .unwrap()
        .to_string();
        assert!(e.contains("Groovy"), "{e}");
    }

    #[test]
    fn java_replacements_become_regex_crate_replacements() {
        assert_eq!(java_replacement("$1-x"), "${1}-x");
        assert_eq!(java_replacement("$1a$2"), "${1}a${2}");
        assert_eq!(java_replacement("cost \\$5"), "cost $$5");
    }
}

#[cfg(test)]
mod tests_behaviour;
