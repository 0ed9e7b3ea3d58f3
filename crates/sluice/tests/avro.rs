//! Avro with a Schema Registry (Apicurio Registry's Confluent-compatible API), checked by a consumer that is not sluice:
//! Python's confluent-kafka AvroDeserializer decodes every MariaDB change event sluice wrote to
//! the same content as the JsonConverter output of the same changes; schema evolution registers
//! a new version, an incompatible change stops the connector with a clear error and nothing
//! lost; the Elasticsearch and JDBC sinks consume Avro topics.

mod common;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use common::kafka::Broker;
use common::postgres::Pg;
use common::registry::{python_read, python_resolve, Registry};
use common::search::Search;
use common::{succeeded, Maria, Work};
use serde_json::{json, Value};

fn avro(reg: &Registry) -> Vec<(&'static str, String)> {
    vec![
        (
            "key.converter",
            "io.confluent.connect.avro.AvroConverter".into(),
        ),
        ("key.converter.schema.registry.url", reg.url()),
        (
            "value.converter",
            "io.confluent.connect.avro.AvroConverter".into(),
        ),
        ("value.converter.schema.registry.url", reg.url()),
    ]
}

fn with(base: Value, extra: &[(&str, String)]) -> Value {
    let mut doc = base;
    for (k, v) in extra {
        doc["config"][*k] = json!(v);
    }
    doc
}

/// `sluice run ARGS --exit-when-caught-up` in the test's data directory.
fn sluice(work: &Work, args: &[&std::ffi::OsStr]) -> Command {
    let mut c = common::sluice();
    c.arg("run")
        .args(args)
        .arg("--data-dir")
        .arg(work.path("data"))
        .arg("--exit-when-caught-up");
    c
}

/// The parts of an event that differ between two connectors capturing the same change:
/// processing times and the connector's logical name.
fn comparable(mut v: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        for k in ["ts_ms", "ts_us", "ts_ns"] {
            o.remove(k);
        }
        if let Some(s) = o.get_mut("source").and_then(Value::as_object_mut) {
            s.remove("name");
        }
    }
    v
}

#[test]
fn mariadb_events_in_avro_read_in_python_as_the_json_converter_writes_them() {
    let db = Maria::start();
    db.sql(
        "CREATE DATABASE app; USE app;
         CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL, qty INT, price DECIMAL(10,2),
           flag TINYINT(1), small SMALLINT, big BIGINT UNSIGNED, created DATETIME(6), d DATE,
           data VARBINARY(8), note TEXT, f FLOAT, dbl DOUBLE) ENGINE=InnoDB;",
    );
    let broker = Broker::start();
    let reg = Registry::start();
    let work = Work::new();
    let table = [("table.include.list", "app.t")];
    let avro_src = work.write_connector(
        "avro.json",
        &with(
            db.connector("avro", &[("topic.prefix", "avro"), table[0]]),
            &avro(&reg),
        ),
    );
    let json_src = work.write_connector(
        "json.json",
        &with(
            db.connector(
                "json",
                &[
                    ("topic.prefix", "json"),
                    ("database.server.id", "5401"),
                    table[0],
                ],
            ),
            &[
                ("key.converter.schemas.enable", "false".into()),
                ("value.converter.schemas.enable", "false".into()),
                ("key.converter.decimal.format", "NUMERIC".into()),
                ("value.converter.decimal.format", "NUMERIC".into()),
            ],
        ),
    );
    let to = format!("kafka:{}", broker.bootstrap());
    let run_both = || {
        succeeded(sluice(
            &work,
            &[
                avro_src.as_os_str(),
                json_src.as_os_str(),
                "--sink".as_ref(),
                to.as_ref(),
            ],
        ))
    };
    run_both(); // capture starts here (snapshot.mode=no_data)
    db.sql(
        "USE app;
         INSERT INTO t VALUES
           (1, 'Anne Marie', 3, 12.30, 1, -7, 18446744073709551615, '2024-02-29 23:59:59.123456', '2024-02-29', x'00ff10', 'ü ✓', 1.5, -2.25),
           (2, 'b', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
           (3, 'c', 0, -0.01, 0, 0, 0, '1970-01-01 00:00:00', '1970-01-01', x'', '', 0, 0);
         UPDATE t SET qty = qty + 1, price = 99999999.99 WHERE id = 1;
         DELETE FROM t WHERE id = 3;",
    );
    run_both();
    let read = python_read(
        &broker.bootstrap(),
        &reg,
        &["avro:avro.app.t", "json:json.app.t"],
    );
    let (a, j) = (
        read["avro.app.t"].as_array().unwrap(),
        read["json.app.t"].as_array().unwrap(),
    );
    assert_eq!(
        a.len(),
        6,
        "3 inserts, 1 update, 1 delete + tombstone: {a:?}"
    );
    assert_eq!(a.len(), j.len());
    for (x, y) in a.iter().zip(j) {
        assert_eq!(x["key"], y["key"], "keys decode alike");
        assert_eq!(
            comparable(x["value"].clone()),
            comparable(y["value"].clone()),
            "values decode alike"
        );
    }
    assert_eq!(a[3]["value"]["after"]["price"], "99999999.99");
    assert_eq!(a[0]["value"]["after"]["note"], "ü ✓");
    assert_eq!(
        a[5]["value"],
        Value::Null,
        "the tombstone stays a null value"
    );
    let latest = reg.get("/subjects/avro.app.t-value/versions/latest");
    assert_eq!(
        a[0]["value_schema_id"], latest["id"],
        "records carry the registered id"
    );
    let subjects = reg.get("/subjects");
    for s in ["avro.app.t-key", "avro.app.t-value"] {
        assert!(
            subjects.as_array().unwrap().contains(&json!(s)),
            "{s} in {subjects}"
        );
    }

    // a compatible change (a nullable column with a default) under the registry's BACKWARD
    // rule: a second version; and Avro schema resolution itself (fastavro) agrees: every record
    // written with version 1 reads with version 2, the new field at its default
    let set_compat = |level: &str| {
        let (status, body) = reg.call(
            "PUT",
            "/config/avro.app.t-value",
            Some(&json!({ "compatibility": level })),
        );
        assert_eq!(status, 200, "{body}");
    };
    db.sql(
        "USE app; ALTER TABLE t ADD COLUMN tag VARCHAR(20) DEFAULT 'x'; INSERT INTO t (id, name) VALUES (4, 'd');",
    );
    let run_avro = || {
        sluice(
            &work,
            &[avro_src.as_os_str(), "--sink".as_ref(), to.as_ref()],
        )
    };
    succeeded(run_avro());
    assert_eq!(
        reg.get("/subjects/avro.app.t-value/versions"),
        json!([1, 2]),
        "the new column registers version 2"
    );
    let v2 = reg.get("/subjects/avro.app.t-value/versions/2")["id"].clone();
    let read = python_read(&broker.bootstrap(), &reg, &["avro:avro.app.t"]);
    let last = read["avro.app.t"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["value"]["after"]["tag"], "x");
    assert_eq!(last["value_schema_id"], v2);
    let raw: Vec<Vec<u8>> = broker
        .consume(&["avro.app.t"], false)
        .into_iter()
        .filter_map(|r| r.value_bytes)
        .collect();
    let resolved = python_resolve(&reg, v2.as_u64().unwrap(), &raw[..5]);
    for r in &resolved {
        assert!(r.get("ok").is_some(), "version 2 reads version 1 data: {r}");
    }
    assert_eq!(
        resolved[0]["ok"]["after"]["tag"],
        Value::Null,
        "the default of the new field"
    );

    // an incompatible change (int → string) under BACKWARD: the connector stops, at once,
    // with the reason and the way out
    set_compat("BACKWARD");
    db.sql(
        "USE app; ALTER TABLE t MODIFY qty VARCHAR(10); INSERT INTO t (id, name, qty) VALUES (5, 'e', 'many');",
    );
    let t = Instant::now();
    let failed = run_avro().output().unwrap();
    assert!(
        !failed.status.success(),
        "an incompatible schema must stop the connector"
    );
    assert!(
        t.elapsed() < Duration::from_secs(60),
        "reported, not retried in a loop"
    );
    let err = String::from_utf8_lossy(&failed.stderr);
    assert!(
        err.contains("incompatible")
            && err.contains("avro.app.t-value")
            && err.contains("BACKWARD"),
        "{err}"
    );
    // nothing was skipped: once the operator relaxes the subject, the record is delivered
    set_compat("NONE");
    succeeded(run_avro());
    let read = python_read(&broker.bootstrap(), &reg, &["avro:avro.app.t"]);
    let last = read["avro.app.t"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["value"]["after"]["id"], 5);
    assert_eq!(last["value"]["after"]["qty"], "many");
    let v3 = last["value_schema_id"].as_u64().unwrap();
    let resolved = python_resolve(&reg, v3, &raw[..1]);
    assert!(
        resolved[0].get("error").is_some(),
        "and Avro itself agrees the change was incompatible: {resolved:?}"
    );
}

fn rows_of(text: &str) -> BTreeMap<i64, (String, String, i64)> {
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            (
                c[0].parse().unwrap(),
                (c[1].to_string(), c[2].to_string(), c[3].parse().unwrap()),
            )
        })
        .collect()
}

#[test]
fn elasticsearch_and_jdbc_sinks_consume_avro_topics() {
    let db = Maria::start();
    db.sql(
        "CREATE DATABASE app; USE app;
         CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL, price DECIMAL(10,2) NOT NULL, qty INT NOT NULL);",
    );
    let broker = Broker::start();
    let reg = Registry::start();
    let es = Search::start();
    let pg = Pg::start();
    let work = Work::new();
    let source = work.write_connector(
        "src.json",
        &with(
            db.connector("src", &[("table.include.list", "app.items")]),
            &avro(&reg),
        ),
    );
    let unwrap = [
        (
            "transforms.unwrap.type",
            "io.debezium.transforms.ExtractNewRecordState".to_string(),
        ),
        ("transforms.unwrap.drop.tombstones", "false".into()),
    ];
    let mut es_extra = avro(&reg);
    es_extra.extend([
        ("transforms", "key,unwrap".to_string()),
        (
            "transforms.key.type",
            "org.apache.kafka.connect.transforms.ExtractField$Key".into(),
        ),
        ("transforms.key.field", "id".into()),
    ]);
    es_extra.extend(unwrap.clone());
    let es_sink = work.write_connector(
        "es.json",
        &with(
            json!({"name": "es", "config": {
                "connector.class": "io.confluent.connect.elasticsearch.ElasticsearchSinkConnector",
                "connection.url": es.url(), "topics": "test.app.items", "key.ignore": "false",
                "schema.ignore": "true", "behavior.on.null.values": "delete"}}),
            &es_extra,
        ),
    );
    let mut pg_extra = avro(&reg);
    pg_extra.push(("transforms", "unwrap".to_string()));
    pg_extra.extend(unwrap);
    let pg_sink = work.write_connector(
        "pg.json",
        &with(
            json!({"name": "pg", "config": {
                "connector.class": "io.confluent.connect.jdbc.JdbcSinkConnector",
                "connection.url": pg.jdbc_url(), "topics": "test.app.items", "insert.mode": "upsert",
                "pk.mode": "record_key", "delete.enabled": "true", "auto.create": "true",
                "table.name.format": "items"}}),
            &pg_extra,
        ),
    );
    let to = format!("kafka:{}", broker.bootstrap());
    let from = broker.bootstrap();
    let run_source = || {
        succeeded(sluice(
            &work,
            &[source.as_os_str(), "--sink".as_ref(), to.as_ref()],
        ))
    };
    let run_sinks = || {
        succeeded(sluice(
            &work,
            &[
                es_sink.as_os_str(),
                pg_sink.as_os_str(),
                "--kafka".as_ref(),
                from.as_ref(),
            ],
        ))
    };
    run_source();
    db.sql(
        "USE app;
         INSERT INTO items SELECT seq, CONCAT('item-', seq), seq / 100, seq FROM seq_1_to_500;
         UPDATE items SET qty = -qty, price = price + 0.05 WHERE id % 3 = 0;
         DELETE FROM items WHERE id % 7 = 0;",
    );
    run_source();
    run_sinks();
    let want = rows_of(&db.sql("SELECT id, name, price, qty FROM app.items ORDER BY id"));
    assert_eq!(want.len(), 500 - 500 / 7);
    let got_pg = rows_of(&pg.sql("SELECT id, name, price, qty FROM items ORDER BY id"));
    assert!(
        got_pg == want,
        "PostgreSQL holds the table's rows ({} rows)",
        got_pg.len()
    );
    let docs = es.docs("test.app.items");
    assert_eq!(docs.len(), want.len(), "documents in the index");
    for (id, (name, _, qty)) in &want {
        let d = &docs[&id.to_string()];
        assert_eq!(
            (d["name"].as_str(), d["qty"].as_i64()),
            (Some(name.as_str()), Some(*qty)),
            "document {id}"
        );
    }
}
