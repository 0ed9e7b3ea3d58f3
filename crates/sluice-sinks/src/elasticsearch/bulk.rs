//! Records → `_bulk` actions, and the per-item outcome of a `_bulk` response.
//!
//! An action is `index` (write.method=insert), `update` + `doc_as_upsert` (upsert) or
//! `delete` (a null value with behavior.on.null.values=delete). The document id is the record
//! key (a string or an integer, as Confluent's sink requires; `key.ignore=true`: topic +
//! partition + offset for Kafka records, topic + source position in embedded mode). With
//! `write.method=insert` and keys as ids, every action carries the record's position as an
//! external version (`external` for Kafka offsets, `external_gte` for source positions, which
//! are equal for the events of one transaction), so an older write that arrives late — a retry,
//! a replay after a restart — never replaces newer data: Elasticsearch answers it with a 409
//! version conflict, which counts as done.

use std::sync::Arc;

use sluice_connect::json::{write_str, JsonConverterConfig};
use sluice_connect::{DecimalFormat, JsonConverter};
use sluice_core::{ChangeEvent, Position, Value};

use super::config::{ElasticsearchConfig, NullValues, WriteMethod};

/// What to do with one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Index,
    Upsert,
    Delete,
}

/// One bulk action with its document.
#[derive(Debug, Clone)]
pub struct Op {
    pub index: Arc<str>,
    pub id: String,
    pub action: Action,
    /// `(version, version_type)`.
    pub version: Option<(u64, &'static str)>,
    /// The document JSON (empty for deletes).
    pub doc: Vec<u8>,
    /// Where the record came from (dead letter queue context).
    pub topic: Arc<str>,
    pub position: Position,
}

/// Why a record cannot become an action.
#[derive(Debug)]
pub enum Skip {
    /// Nothing to do (a null value with behavior.on.null.values=ignore).
    Ignore,
    /// The record cannot be written (reported to the error handling).
    Invalid(String),
}

/// Elasticsearch index names are lower case (as Confluent derives them from the topic).
pub fn index_name(topic: &str) -> String {
    topic.to_lowercase()
}

fn doc_id(cfg: &ElasticsearchConfig, r: &ChangeEvent) -> Result<String, Skip> {
    if cfg.key_ignore {
        return Ok(match &r.position {
            Position::Kafka(k) => format!("{}+{}+{}", k.topic, k.partition, k.offset),
            p => format!("{}+{}", r.topic, p.to_offset_json()),
        });
    }
    let key = r.key.as_ref().filter(|k| !k.value.is_null()).ok_or_else(|| {
        Skip::Invalid("Key is used as document id and can not be null (set key.ignore=true to use topic+partition+offset)".into())
    })?;
    Ok(match &key.value {
        Value::String(s) => s.to_string(),
        Value::Int8(_) | Value::Int16(_) | Value::Int32(_) | Value::Int64(_) => {
            key.value.as_i64().unwrap_or_default().to_string()
        }
        _ => {
            return Err(Skip::Invalid(
                "the record key must be a string or an integer to be a document id; a struct key needs \
                 transforms ExtractField$Key (field = the key column) first, or key.ignore=true"
                    .into(),
            ))
        }
    })
}

/// Builds the action for one record (`json`: a `JsonConverter` with schemas off and numeric
/// decimals, kept by the sink).
pub fn op(
    cfg: &ElasticsearchConfig,
    json: &mut JsonConverter,
    r: &ChangeEvent,
) -> Result<Op, Skip> {
    let null = r.value.as_ref().is_none_or(|v| v.value.is_null());
    let action = match (null, cfg.null_values) {
        (false, _) => match cfg.write_method {
            WriteMethod::Insert => Action::Index,
            WriteMethod::Upsert => Action::Upsert,
        },
        (true, NullValues::Ignore) => return Err(Skip::Ignore),
        (true, NullValues::Delete) if cfg.key_ignore => return Err(Skip::Ignore),
        (true, NullValues::Delete) => Action::Delete,
        (true, NullValues::Fail) => {
            return Err(Skip::Invalid(
                "the record value is null and behavior.on.null.values=fail (use delete to remove the document, or ignore)".into(),
            ))
        }
    };
    let id = doc_id(cfg, r)?;
    let mut doc = Vec::new();
    if action != Action::Delete {
        json.write(r.value.as_ref(), &mut doc);
    }
    let version = (cfg.write_method == WriteMethod::Insert && !cfg.key_ignore)
        .then(|| r.position.version())
        .flatten()
        .map(|v| match r.position {
            Position::Kafka(_) => (v, "external"),
            _ => (v, "external_gte"),
        });
    Ok(Op {
        index: Arc::from(index_name(&r.topic).as_str()),
        id,
        action,
        version,
        doc,
        topic: Arc::clone(&r.topic),
        position: r.position.clone(),
    })
}

/// The converter documents are written with.
pub fn doc_converter() -> JsonConverter {
    JsonConverter::new(JsonConverterConfig {
        schemas_enable: false,
        decimal_format: DecimalFormat::Numeric,
    })
}

/// Appends the NDJSON lines of `op` to a bulk body.
pub fn append(op: &Op, body: &mut Vec<u8>) {
    body.extend_from_slice(match op.action {
        Action::Index => b"{\"index\":{\"_index\":",
        Action::Upsert => b"{\"update\":{\"_index\":",
        Action::Delete => b"{\"delete\":{\"_index\":",
    });
    write_str(&op.index, body);
    body.extend_from_slice(b",\"_id\":");
    write_str(&op.id, body);
    if let Some((v, ty)) = op.version {
        body.extend_from_slice(format!(",\"version\":{v},\"version_type\":\"{ty}\"").as_bytes());
    }
    body.extend_from_slice(b"}}\n");
    match op.action {
        Action::Index => {
            body.extend_from_slice(&op.doc);
            body.push(b'\n');
        }
        Action::Upsert => {
            body.extend_from_slice(b"{\"doc\":");
            body.extend_from_slice(&op.doc);
            body.extend_from_slice(b",\"doc_as_upsert\":true}\n");
        }
        Action::Delete => {}
    }
}

/// The outcome of one bulk item.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Done,
    /// Worth sending again (429, 5xx).
    Retry(String),
    /// The document cannot be indexed (a mapping conflict, a parse error).
    Malformed(String),
}

/// The outcomes of a `_bulk` response, in request order. Per item, as Elasticsearch requires
/// (the top-level `errors` flag is only a hint: a delete of a missing document sets it too on
/// some servers).
pub fn outcomes(response: &serde_json::Value, n: usize) -> Result<Vec<Outcome>, String> {
    let items = response["items"]
        .as_array()
        .ok_or("the _bulk response has no items")?;
    if items.len() != n {
        return Err(format!(
            "the _bulk response has {} items for {n} actions",
            items.len()
        ));
    }
    Ok(items
        .iter()
        .map(|item| {
            let (kind, body) = match item.as_object().and_then(|o| o.iter().next()) {
                Some((k, b)) => (k.as_str(), b),
                None => return Outcome::Retry("an empty bulk item".into()),
            };
            let status = body["status"].as_u64().unwrap_or(0);
            let reason = || {
                let e = &body["error"];
                format!(
                    "{}: {}",
                    e["type"].as_str().unwrap_or("error"),
                    e["reason"].as_str().unwrap_or_default()
                )
            };
            match status {
                200..=299 => Outcome::Done,
                404 if kind == "delete" => Outcome::Done,
                409 => Outcome::Done, // an older version than the one indexed: already superseded
                429 | 500..=599 => Outcome::Retry(reason()),
                _ => Outcome::Malformed(reason()),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use sluice_core::{test_util, Data, SchemaBuilder};

    fn cfg(pairs: &[(&str, &str)]) -> ElasticsearchConfig {
        let mut p: std::collections::BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        p.insert("connection.url".into(), "http://localhost:9200".into());
        ElasticsearchConfig::from_properties("es", &p).unwrap()
    }

    fn rec(key: Option<Value>, value: Option<Value>) -> ChangeEvent {
        let s = SchemaBuilder::structure()
            .field("v", SchemaBuilder::int32().build())
            .build();
        ChangeEvent {
            topic: "Db.Inv.Orders".into(),
            key: key.map(Data::schemaless),
            value: value.map(|v| Data::new(s, v)),
            headers: vec![],
            position: test_util::at((7u64 << 32) | 1234),
            timestamp: None,
        }
    }

    #[test]
    fn records_become_versioned_index_and_delete_actions() {
        let c = cfg(&[("behavior.on.null.values", "delete")]);
        let mut j = doc_converter();
        let o = op(
            &c,
            &mut j,
            &rec(
                Some(Value::Int64(5)),
                Some(Value::Struct(vec![Value::Int32(1)])),
            ),
        )
        .unwrap();
        let mut body = Vec::new();
        append(&o, &mut body);
        assert_eq!(
            String::from_utf8(body).unwrap(),
            format!(
                "{{\"index\":{{\"_index\":\"db.inv.orders\",\"_id\":\"5\",\"version\":{},\"version_type\":\"external_gte\"}}}}\n{{\"v\":1}}\n",
                (7u64 << 32) | 1234
            )
        );
        let d = op(&c, &mut j, &rec(Some(Value::String("k".into())), None)).unwrap();
        assert_eq!(d.action, Action::Delete);
        let e = op(&cfg(&[]), &mut j, &rec(Some(Value::Int64(5)), None)).unwrap_err();
        assert!(matches!(e, Skip::Invalid(m) if m.contains("behavior.on.null.values")));
        let e = op(
            &c,
            &mut j,
            &rec(Some(Value::Map(vec![])), Some(Value::Null)),
        )
        .unwrap_err();
        assert!(matches!(e, Skip::Invalid(_)));
    }

    #[test]
    fn upserts_carry_no_version() {
        let c = cfg(&[("write.method", "upsert")]);
        let o = op(
            &c,
            &mut doc_converter(),
            &rec(
                Some(Value::Int64(5)),
                Some(Value::Struct(vec![Value::Int32(1)])),
            ),
        )
        .unwrap();
        let mut body = Vec::new();
        append(&o, &mut body);
        assert_eq!(
            String::from_utf8(body).unwrap(),
            "{\"update\":{\"_index\":\"db.inv.orders\",\"_id\":\"5\"}}\n{\"doc\":{\"v\":1},\"doc_as_upsert\":true}\n"
        );
    }

    #[test]
    fn item_outcomes_are_read_per_item() {
        let r = json!({"errors": true, "items": [
            {"index": {"status": 201}},
            {"delete": {"status": 404, "result": "not_found"}},
            {"index": {"status": 409, "error": {"type": "version_conflict_engine_exception"}}},
            {"index": {"status": 429, "error": {"type": "es_rejected_execution_exception", "reason": "queue full"}}},
            {"index": {"status": 400, "error": {"type": "document_parsing_exception", "reason": "failed to parse field [a]"}}}
        ]});
        let o = outcomes(&r, 5).unwrap();
        assert_eq!(o[..3], [Outcome::Done, Outcome::Done, Outcome::Done]);
        assert!(matches!(&o[3], Outcome::Retry(m) if m.contains("queue full")));
        assert!(matches!(&o[4], Outcome::Malformed(m) if m.contains("document_parsing_exception")));
        assert!(outcomes(&r, 4).is_err());
    }

    /// One request (`recorded/bulk-request.ndjson`: a write, an older external version, a
    /// string into a `long` field, an upsert, a delete of a missing document, a newer delete)
    /// answered by OpenSearch 2.19 (recorded) and shaped as Elasticsearch 7.17 and 8.15 answer
    /// it: the same outcomes from all three.
    #[test]
    fn the_answers_of_opensearch_and_elasticsearch_7_and_8_read_alike() {
        let request = include_str!("recorded/bulk-request.ndjson");
        let actions = request.lines().filter(|l| l.contains("\"_index\"")).count();
        for (server, text, refusal) in [
            (
                "OpenSearch 2.19.6",
                include_str!("recorded/opensearch-2.19.6-bulk.json"),
                "mapper_parsing_exception",
            ),
            (
                "Elasticsearch 7.17",
                include_str!("recorded/elasticsearch-7.17-bulk.json"),
                "mapper_parsing_exception",
            ),
            (
                "Elasticsearch 8.15",
                include_str!("recorded/elasticsearch-8.15-bulk.json"),
                "document_parsing_exception",
            ),
        ] {
            let answer: serde_json::Value = serde_json::from_str(text).unwrap();
            let o = outcomes(&answer, actions).unwrap();
            assert_eq!(o.len(), 6, "{server}");
            assert_eq!(o[0], Outcome::Done, "{server}: created");
            assert_eq!(
                o[1],
                Outcome::Done,
                "{server}: an older version is superseded"
            );
            assert!(
                matches!(&o[2], Outcome::Malformed(m) if m.contains(refusal) && m.contains("qty")),
                "{server}: the refusal names its reason: {:?}",
                o[2]
            );
            assert_eq!(
                o[3..],
                [Outcome::Done, Outcome::Done, Outcome::Done],
                "{server}"
            );
        }
    }
}
