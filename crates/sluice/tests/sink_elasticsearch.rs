//! The Elasticsearch sink and documents Elasticsearch refuses: to the dead letter queue with
//! Connect's context headers (`errors.tolerance=all`), or the task stops without moving the
//! offset (`none`).

mod common;

use common::search::Search;
use common::{Maria, Work};
use serde_json::{json, Value};

fn es_connector(es: &Search, name: &str, topics: &str, extra: &[(&str, &str)]) -> Value {
    let mut config = json!({
        "connector.class": "io.confluent.connect.elasticsearch.ElasticsearchSinkConnector",
        "connection.url": es.url(),
        "topics": topics,
        "key.ignore": "false",
        "schema.ignore": "true",
        "behavior.on.null.values": "delete",
        "transforms": "extractKey,unwrap",
        "transforms.extractKey.type": "org.apache.kafka.connect.transforms.ExtractField$Key",
        "transforms.extractKey.field": "id",
        "transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState",
        "transforms.unwrap.drop.tombstones": "false",
    });
    for (k, v) in extra {
        config[*k] = json!(v);
    }
    json!({"name": name, "config": config})
}

#[test]
fn a_document_elasticsearch_refuses_goes_to_the_dead_letter_queue_or_stops_the_task() {
    let db = Maria::start();
    db.sql(
        "CREATE DATABASE app; USE app;
         CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL, v BIGINT NOT NULL);",
    );
    let es = Search::start();
    // `name` mapped as a number: a row whose name is text cannot be indexed
    es.put(
        "/test.app.items",
        &json!({"mappings": {"properties": {"name": {"type": "long"}, "v": {"type": "long"}}}}),
    );
    let work = Work::new();
    let source = work.write_connector(
        "source.json",
        &db.connector("src", &[("table.include.list", "app.items")]),
    );
    let tolerant = work.write_connector(
        "es.json",
        &es_connector(
            &es,
            "es",
            "test.app.items",
            &[
                ("errors.tolerance", "all"),
                ("errors.deadletterqueue.topic.name", "dlq-es"),
                ("errors.deadletterqueue.context.headers.enable", "true"),
            ],
        ),
    );
    let run = |sink: &std::path::Path| {
        common::sluice()
            .arg("run")
            .arg(&source)
            .arg(sink)
            .arg("--data-dir")
            .arg(work.path("data"))
            .arg("--exit-when-caught-up")
            .output()
            .unwrap()
    };
    assert!(run(&tolerant).status.success());
    db.sql("INSERT INTO app.items VALUES (1, '42', 1), (2, 'not a number', 2), (3, '7', 3)");
    let out = run(&tolerant);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        es.docs("test.app.items")
            .keys()
            .cloned()
            .collect::<Vec<_>>(),
        ["1", "3"],
        "the pipeline goes on past the refused document"
    );
    let dlq = common::read_lines(&work.path("data/dlq/dlq-es.jsonl"));
    assert_eq!(dlq.len(), 1, "{dlq:?}");
    assert_eq!(dlq[0]["value"]["name"], "not a number");
    let h = &dlq[0]["headers"];
    assert_eq!(h["__connect.errors.stage"], "TASK_PUT");
    assert_eq!(h["__connect.errors.connector.name"], "es");
    assert_eq!(
        h["__connect.errors.class.name"],
        "io.confluent.connect.elasticsearch.ElasticsearchSinkConnector"
    );
    // OpenSearch (and Elasticsearch 7) say mapper_parsing_exception, Elasticsearch 8.8+
    // document_parsing_exception (the sink's unit tests read both from recorded answers)
    assert!(
        h["__connect.errors.exception.message"]
            .as_str()
            .unwrap()
            .contains("mapper_parsing_exception"),
        "{h}"
    );

    // with errors.tolerance=none (the default) the task stops, and the offset stays put
    let strict = work.write_connector(
        "strict.json",
        &es_connector(&es, "es2", "test.app.items", &[]),
    );
    let before = work.offsets("src").unwrap();
    db.sql("INSERT INTO app.items VALUES (4, 'also text', 4)");
    let out = run(&strict);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the task fails");
    assert!(
        err.contains("mapper_parsing_exception") && err.contains("errors.tolerance"),
        "{err}"
    );
    assert_eq!(
        work.offsets("src").unwrap(),
        before,
        "the offset did not move past the refused record"
    );
}
