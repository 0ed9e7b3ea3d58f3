//! Record-by-record comparison of what Debezium and sluice wrote into one Kafka broker for the
//! same database changes, and the list of divergences known today.
//!
//! **Pairing.** Each system writes under its own `topic.prefix`; a topic `<prefix>.<rest>` of one
//! is paired with `<other prefix>.<rest>` of the other. Within a topic, records are grouped by
//! key payload and paired by position within their key (in offset order: Kafka keeps the order
//! of one key, not across partitions): the n-th record of a key is the same change on both
//! sides. A missing or extra record shifts every later one of its key.
//!
//! **What is compared.** The partition (the prefix is part of the key's schema name, so the
//! two systems' key bytes differ: each record must be in the partition the Java producer picks
//! for its own key bytes, murmur2), the key and the value (JsonConverter with schemas: schema
//! and payload, parsed, object key order included, `1` ≠ `1.0`), the record headers, and
//! tombstones (a `null` value). Before comparing, sluice's prefix is mapped onto Debezium's
//! where the prefix is data rather than a difference: topic names, schema names
//! `<prefix>.…`, `source.name` and header values equal to the prefix.
//!
//! **What is not.** Processing-time and version values, whose presence is still compared: the
//! envelope's and the source block's `ts_ms`/`ts_us`/`ts_ns`, `source.version`, the value of
//! header `__debezium.context.runId` (a fresh UUID per connector run), and a test's own list of
//! snapshot-only fields (`Compare::snapshot_fields`, e.g. PostgreSQL's per-slot snapshot LSN).
//! Nor the harness's own records: the WAL marker of `sluice run --exit-when-caught-up`, which
//! Debezium emits on `<prefix>.message`.
//!
//! **Known divergences.** A difference is reported as topic (without prefix), record position,
//! key and JSON path with both values. Every difference must match an entry of the test's
//! [`Known`] list, and every entry must match at least one difference: an entry that no longer
//! matches (the divergence was fixed) fails the test as stale, so the list can only shrink.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::kafka::{java_partition, Broker, Record};

/// One explicit, documented divergence: sluice differs from Debezium on `topic` (without
/// prefix; `*` any) at JSON paths matching `path` (`*` matches any run of characters, `{a,b}`
/// either alternative).
pub struct Known {
    pub topic: &'static str,
    pub path: &'static str,
    pub reason: &'static str,
    /// The point of the issue that owns the fix.
    pub issue: &'static str,
}

/// One difference between the two systems' records.
#[derive(Debug, Clone)]
pub struct Divergence {
    pub topic: String,
    pub index: usize,
    pub key: String,
    pub path: String,
    pub debezium: String,
    pub sluice: String,
}

/// What to compare: the two prefixes, and source fields that differ by design on snapshot
/// records (`op` = `r`).
pub struct Compare<'a> {
    pub debezium: &'a str,
    pub sluice: &'a str,
    /// Of every topic (`topic.creation.default.partitions`).
    pub partitions: i32,
    pub snapshot_fields: &'a [&'a str],
}

const IGNORED: &str = "<ignored>";

impl Compare<'_> {
    /// Reads both systems' topics from `broker` and lists every difference.
    pub fn run(&self, broker: &Broker) -> Vec<Divergence> {
        let (dbz, sl) = (
            self.read(broker, self.debezium),
            self.read(broker, self.sluice),
        );
        let mut out = Vec::new();
        let empty = BTreeMap::new();
        let names: std::collections::BTreeSet<&String> = dbz.keys().chain(sl.keys()).collect();
        for topic in names {
            let (d, s) = (
                dbz.get(topic).unwrap_or(&empty),
                sl.get(topic).unwrap_or(&empty),
            );
            let keys: std::collections::BTreeSet<&String> = d.keys().chain(s.keys()).collect();
            for key in keys {
                let (d, s) = (d.get(key), s.get(key));
                let n = d.map_or(0, Vec::len).max(s.map_or(0, Vec::len));
                for i in 0..n {
                    let (a, b) = (d.and_then(|d| d.get(i)), s.and_then(|s| s.get(i)));
                    let mut found = Vec::new();
                    match (a, b) {
                        (Some(a), Some(b)) => diff("", Some(a), Some(b), &mut found),
                        _ => found.push(("record".into(), summary(a), summary(b))),
                    }
                    out.extend(
                        found
                            .into_iter()
                            .map(|(path, debezium, sluice)| Divergence {
                                topic: topic.clone(),
                                index: i,
                                key: key.clone(),
                                path: path.trim_start_matches('.').to_string(),
                                debezium,
                                sluice,
                            }),
                    );
                }
            }
        }
        out
    }

    /// The topics `<prefix>.<rest>`: per `<rest>`, per key payload, the normalized records in
    /// the order of their partition.
    fn read(
        &self,
        broker: &Broker,
        prefix: &str,
    ) -> BTreeMap<String, BTreeMap<String, Vec<Value>>> {
        let topics = broker.topics();
        let mine: Vec<&str> = topics
            .iter()
            .filter(|t| t.starts_with(&format!("{prefix}.")))
            .map(String::as_str)
            .collect();
        let mut records = broker.consume(&mine, false);
        records.sort_by(|a, b| {
            (&a.topic, a.partition, a.offset).cmp(&(&b.topic, b.partition, b.offset))
        });
        let mut out: BTreeMap<String, BTreeMap<String, Vec<Value>>> = BTreeMap::new();
        for r in records.iter().filter(|r| !is_caught_up_marker(r, prefix)) {
            let doc = self.normalized(r, prefix);
            out.entry(r.topic[prefix.len() + 1..].to_string())
                .or_default()
                .entry(doc["key"]["payload"].to_string())
                .or_default()
                .push(doc);
        }
        out
    }

    /// A record as one JSON document (`partition`, `key`, `value`, `headers`), sluice's prefix
    /// mapped onto Debezium's, processing-time and version values replaced by a placeholder.
    fn normalized(&self, r: &Record, prefix: &str) -> Value {
        let mut headers = Map::new();
        for (k, v) in &r.headers {
            let v = if v == prefix { self.debezium } else { v };
            let v = if k == "__debezium.context.runId" {
                IGNORED
            } else {
                v
            };
            headers.insert(k.clone(), Value::String(v.to_string()));
        }
        let by_key = java_partition(&r.key_bytes, self.partitions);
        let partition = match r.key_bytes.is_empty() {
            true => Value::from(r.partition),
            false if r.partition == by_key => Value::from("the key's (murmur2)"),
            false => Value::from(format!("{}, not the key's {by_key}", r.partition)),
        };
        let mut doc = serde_json::json!({
            "partition": partition, "key": r.key, "value": r.value, "headers": headers,
        });
        for part in ["key", "value"] {
            rename_schemas(&mut doc[part]["schema"], prefix, self.debezium);
        }
        if let Some(p) = doc["value"]
            .get_mut("payload")
            .and_then(Value::as_object_mut)
        {
            let snapshot = p.get("op").and_then(Value::as_str) == Some("r");
            placeholder(p, &["ts_ms", "ts_us", "ts_ns"]);
            if let Some(src) = p.get_mut("source").and_then(Value::as_object_mut) {
                placeholder(src, &["ts_ms", "ts_us", "ts_ns", "version"]);
                if snapshot {
                    placeholder(src, self.snapshot_fields);
                }
                if src.get("name").and_then(Value::as_str) == Some(prefix) {
                    src.insert("name".into(), Value::String(self.debezium.into()));
                }
            }
        }
        doc
    }
}

/// The WAL message `sluice run --exit-when-caught-up` writes to find the end of the WAL
/// (`pg_logical_emit_message(false, 'sluice.caught-up', '')`, docs/postgres.md): Debezium, on
/// the same database, emits it on `<prefix>.message`. The harness's own doing, not a record of
/// the workload.
fn is_caught_up_marker(r: &Record, prefix: &str) -> bool {
    r.topic == format!("{prefix}.message") && r.key["payload"]["prefix"] == "sluice.caught-up"
}

fn placeholder(o: &mut Map<String, Value>, keys: &[&str]) {
    for k in keys {
        if let Some(v) = o.get_mut(*k) {
            *v = Value::String(IGNORED.into());
        }
    }
}

/// Schema names `<from>.…` become `<to>.…`, at any depth of a Connect schema.
fn rename_schemas(schema: &mut Value, from: &str, to: &str) {
    match schema {
        Value::Object(o) => {
            if let Some(Value::String(n)) = o.get_mut("name") {
                if let Some(rest) = n.strip_prefix(&format!("{from}.")) {
                    *n = format!("{to}.{rest}");
                }
            }
            o.values_mut().for_each(|v| rename_schemas(v, from, to));
        }
        Value::Array(a) => a.iter_mut().for_each(|v| rename_schemas(v, from, to)),
        _ => {}
    }
}

/// A whole record in one line: its op and key, or that it is a tombstone, or absent.
fn summary(r: Option<&Value>) -> String {
    match r {
        None => "<absent>".into(),
        Some(r) if r["value"].is_null() => format!("tombstone, key {}", r["key"]["payload"]),
        Some(r) => format!(
            "op {}, key {}",
            r["value"]["payload"]["op"], r["key"]["payload"]
        ),
    }
}

fn show(v: Option<&Value>) -> String {
    let s = v.map_or("<absent>".to_string(), Value::to_string);
    if s.chars().count() > 160 {
        s.chars().take(157).collect::<String>() + "..."
    } else {
        s
    }
}

/// A Connect schema's `fields` array: every element names its field.
fn named_fields(a: &[Value]) -> Option<Vec<&str>> {
    a.iter().map(|f| f.get("field")?.as_str()).collect()
}

type Found = Vec<(String, String, String)>;

/// The differences between `d` (Debezium) and `s` (sluice) under `path`. Fields of a Connect
/// struct schema are matched by name (`fields[after]`), other arrays by position; the order of
/// object keys and of struct fields is compared too.
fn diff(path: &str, d: Option<&Value>, s: Option<&Value>, out: &mut Found) {
    match (d, s) {
        (Some(Value::Object(a)), Some(Value::Object(b))) => {
            order(path, &keys(a), &keys(b), out);
            let extra = b.keys().filter(|k| !a.contains_key(*k));
            for k in a.keys().chain(extra) {
                diff(&format!("{path}.{k}"), a.get(k), b.get(k), out);
            }
        }
        (Some(Value::Array(a)), Some(Value::Array(b))) => {
            if let (Some(fa), Some(fb)) = (named_fields(a), named_fields(b)) {
                order(path, &fa, &fb, out);
                let extra = fb.iter().filter(|f| !fa.contains(f));
                for f in fa.iter().chain(extra) {
                    diff(&format!("{path}[{f}]"), field(a, f), field(b, f), out);
                }
            } else {
                for i in 0..a.len().max(b.len()) {
                    diff(&format!("{path}[{i}]"), a.get(i), b.get(i), out);
                }
            }
        }
        (a, b) if a == b => {}
        (a, b) => out.push((path.to_string(), show(a), show(b))),
    }
}

fn keys(o: &Map<String, Value>) -> Vec<&str> {
    o.keys().map(String::as_str).collect()
}

fn field<'a>(fields: &'a [Value], name: &str) -> Option<&'a Value> {
    fields.iter().find(|f| f["field"] == name)
}

/// The names both sides have must come in the same order.
fn order(path: &str, a: &[&str], b: &[&str], out: &mut Found) {
    let common = |x: &[&str], y: &[&str]| -> Vec<String> {
        x.iter()
            .filter(|k| y.contains(k))
            .map(|k| k.to_string())
            .collect()
    };
    let (ca, cb) = (common(a, b), common(b, a));
    if ca != cb {
        out.push((format!("{path}<order>"), ca.join(","), cb.join(",")));
    }
}

/// The differences between two JSON documents (Debezium's first): `(path, debezium, sluice)`.
pub fn differences(d: &Value, s: &Value) -> Found {
    let mut out = Vec::new();
    diff("", Some(d), Some(s), &mut out);
    out
}

/// `*` matches any run of characters, `{a,b}` one of the alternatives.
fn glob(p: &str, s: &str) -> bool {
    if let Some(rest) = p.strip_prefix('*') {
        return (0..=s.len())
            .filter(|i| s.is_char_boundary(*i))
            .any(|i| glob(rest, &s[i..]));
    }
    if let Some((alternatives, rest)) = p.strip_prefix('{').and_then(|p| p.split_once('}')) {
        return alternatives
            .split(',')
            .any(|a| s.strip_prefix(a).is_some_and(|s| glob(rest, s)));
    }
    match (p.chars().next(), s.chars().next()) {
        (None, _) => s.is_empty(),
        (Some(a), Some(b)) if a == b => glob(&p[a.len_utf8()..], &s[b.len_utf8()..]),
        _ => false,
    }
}

impl Known {
    pub fn matches(&self, d: &Divergence) -> bool {
        (self.topic == "*" || self.topic == d.topic) && glob(self.path, &d.path)
    }
}

/// Prints every divergence (grouped by topic and path, with its first occurrence) and fails
/// unless each is a known one and each known one still occurs.
pub fn check(what: &str, found: &[Divergence], known: &[&Known]) {
    let mut groups: BTreeMap<(&str, &str), Vec<&Divergence>> = BTreeMap::new();
    for d in found {
        groups.entry((&d.topic, &d.path)).or_default().push(d);
    }
    let mut report = format!("{what}: {} differences\n", found.len());
    let mut unexplained = 0;
    for ((topic, path), ds) in &groups {
        let d = ds[0];
        let status = match known.iter().find(|k| k.matches(d)) {
            Some(k) => format!("known ({})", k.issue),
            None => {
                unexplained += ds.len();
                "UNEXPLAINED".to_string()
            }
        };
        report += &format!(
            "  {status}: {topic} {path} ({} records; first #{} key {}): debezium {} | sluice {}\n",
            ds.len(),
            d.index,
            d.key,
            d.debezium,
            d.sluice
        );
    }
    let stale: Vec<String> = known
        .iter()
        .filter(|k| !found.iter().any(|d| k.matches(d)))
        .map(|k| {
            format!(
                "  STALE (no longer diverges, remove it): {} {} — {}\n",
                k.topic, k.path, k.reason
            )
        })
        .collect();
    report.extend(stale.iter().map(String::as_str));
    assert!(
        unexplained == 0 && stale.is_empty(),
        "{what}: {unexplained} unexplained differences, {} stale known divergences\n{report}",
        stale.len()
    );
    eprintln!("{report}");
}
