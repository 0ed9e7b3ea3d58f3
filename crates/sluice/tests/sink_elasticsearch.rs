//! MariaDB → sluice → Elasticsearch sink in one process (embedded mode): the seed scenario
//! (100,000 rows inserted, updated, deleted), a counter raced by two sessions, kill -9 in the
//! middle of a load, and documents Elasticsearch refuses.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::search::Search;
use common::{wait_until, Maria, Work};
use serde_json::{json, Value};

/// The Elasticsearch connector of a typical MySQL → Elasticsearch deployment.
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

/// `id → (name, v)` of `app.items` as MariaDB has it.
fn db_items(db: &Maria) -> BTreeMap<String, (String, i64)> {
    db.sql("SELECT id, name, v FROM app.items")
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f[0].to_string(), (f[1].to_string(), f[2].parse().unwrap()))
        })
        .collect()
}

/// The same, as the index holds it.
fn es_items(es: &Search, index: &str) -> BTreeMap<String, (String, i64)> {
    es.docs(index)
        .into_iter()
        .map(|(id, d)| {
            (
                id,
                (
                    d["name"].as_str().unwrap_or_default().to_string(),
                    d["v"].as_i64().unwrap_or(i64::MIN),
                ),
            )
        })
        .collect()
}

fn items_db() -> Maria {
    let db = Maria::start();
    db.sql(
        "CREATE DATABASE app; USE app;
         CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL, v BIGINT NOT NULL);
         DELIMITER //
         CREATE PROCEDURE load_items(n INT) BEGIN
           DECLARE i INT DEFAULT 0;
           WHILE i < n DO
             INSERT INTO items SELECT i + seq, CONCAT('item-', i + seq), i + seq FROM seq_0_to_999
               WHERE i + seq < n;
             SET i = i + 1000;
           END WHILE;
         END //
         DELIMITER ;",
    );
    db
}

/// Runs the procedure phases of the seed scenario.
fn phase(db: &Maria, sql: &str) {
    db.sql(&format!("USE app; {sql}"));
}

#[test]
fn seed_scenario_insert_update_delete_100k_rows_embedded() {
    let db = Maria::start();
    db.sql(
        "CREATE DATABASE app; USE app;
         CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL, v BIGINT NOT NULL);
         DELIMITER //
         CREATE PROCEDURE insert_all() BEGIN
           DECLARE i INT DEFAULT 0;
           WHILE i < 100000 DO
             INSERT INTO items SELECT i + seq, CONCAT('item-', i + seq), i + seq FROM seq_0_to_999;
             SET i = i + 1000;
           END WHILE;
         END //
         DELIMITER ;
         DELIMITER //
         CREATE PROCEDURE update_all() BEGIN
           DECLARE i INT DEFAULT 0;
           WHILE i < 100000 DO
             UPDATE items SET v = v * 2 + 1, name = CONCAT(name, '-u') WHERE id >= i AND id < i + 1000;
             SET i = i + 1000;
           END WHILE;
         END //
         DELIMITER ;
         DELIMITER //
         CREATE PROCEDURE delete_all() BEGIN
           DECLARE i INT DEFAULT 0;
           WHILE i < 100000 DO
             DELETE FROM items WHERE id >= i AND id < i + 1000;
             SET i = i + 1000;
           END WHILE;
         END //
         DELIMITER ;",
    );
    let es = Search::start();
    let work = Work::new();
    let source = work.write_connector(
        "source.json",
        &db.connector("src", &[("table.include.list", "app.items")]),
    );
    let sink = work.write_connector(
        "es.json",
        &es_connector(&es, "es", "test.app.items", &[("batch.size", "3000")]),
    );
    let catch_up = || {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_sluice"));
        c.arg("run")
            .arg(&source)
            .arg(&sink)
            .arg("--data-dir")
            .arg(work.path("data"))
            .arg("--exit-when-caught-up");
        common::succeeded(c)
    };
    catch_up(); // capture starts here (snapshot.mode=no_data)
    for (name, sql, rows) in [
        ("insert", "CALL insert_all()", 100_000),
        ("update", "CALL update_all()", 100_000),
        ("delete", "CALL delete_all()", 0),
    ] {
        let t = std::time::Instant::now();
        phase(&db, sql);
        let t1 = t.elapsed();
        catch_up();
        eprintln!("{name}: sql {t1:?}, sluice {:?}", t.elapsed() - t1);
        let want = db_items(&db);
        assert_eq!(want.len(), rows, "{name}: rows in MariaDB");
        let got = es_items(&es, "test.app.items");
        assert_eq!(got.len(), want.len(), "{name}: documents in the index");
        assert!(got == want, "{name}: the index holds exactly the table's rows");
    }
}

#[test]
fn a_counter_raced_by_two_sessions_ends_equal() {
    let db = Maria::start();
    db.sql(
        "CREATE DATABASE app; USE app;
         CREATE TABLE counters (id INT PRIMARY KEY, c BIGINT NOT NULL);
         INSERT INTO counters VALUES (1, 0);
         DELIMITER //
         CREATE PROCEDURE add_two(n INT) BEGIN
           DECLARE i INT DEFAULT 0;
           WHILE i < n DO UPDATE counters SET c = c + 2 WHERE id = 1; SET i = i + 1; END WHILE;
         END //
         DELIMITER ;",
    );
    let es = Search::start();
    let work = Work::new();
    let source = work.write_connector(
        "source.json",
        &db.connector(
            "src",
            &[("table.include.list", "app.counters"), ("snapshot.mode", "initial")],
        ),
    );
    let sink = work.write_connector("es.json", &es_connector(&es, "es", "test.app.counters", &[]));
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
        .arg("run")
        .arg(&source)
        .arg(&sink)
        .arg("--data-dir")
        .arg(work.path("data"))
        .stderr(std::fs::File::create(work.path("run.log")).unwrap())
        .spawn()
        .unwrap();
    let a = db.sql_in_background("USE app; CALL add_two(10000);".into());
    std::thread::sleep(Duration::from_millis(500));
    db.sql("UPDATE app.counters SET c = c + 1 WHERE id = 1");
    a.join().unwrap();
    let want: i64 = db.sql("SELECT c FROM app.counters WHERE id = 1").parse().unwrap();
    assert_eq!(want, 20_001);
    let converged = wait_until(Duration::from_secs(60), || {
        es.docs("test.app.counters")
            .get("1")
            .is_some_and(|d| d["c"].as_i64() == Some(want))
    });
    common::signal(&mut child, "-TERM");
    assert!(
        converged,
        "Elasticsearch shows {:?}, MariaDB {want}",
        es.docs("test.app.counters").get("1")
    );
}

#[test]
fn kill_9_in_the_middle_of_a_load_then_restart_converges() {
    let db = items_db();
    let es = Search::start();
    let work = Work::new();
    let source = work.write_connector(
        "source.json",
        &db.connector("src", &[("table.include.list", "app.items")]),
    );
    let sink = work.write_connector("es.json", &es_connector(&es, "es", "test.app.items", &[]));
    let command = || {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_sluice"));
        c.arg("run")
            .arg(&source)
            .arg(&sink)
            .arg("--data-dir")
            .arg(work.path("data"));
        c
    };
    common::succeeded({
        let mut c = command();
        c.arg("--exit-when-caught-up");
        c
    });
    let mut child = command()
        .stderr(std::fs::File::create(work.path("run.log")).unwrap())
        .spawn()
        .unwrap();
    phase(&db, "CALL load_items(60000)");
    assert!(wait_until(Duration::from_secs(60), || es.count("test.app.items") > 10_000));
    common::signal(&mut child, "-KILL");
    phase(
        &db,
        "UPDATE items SET v = -v WHERE id < 30000; DELETE FROM items WHERE id >= 50000;",
    );
    common::succeeded({
        let mut c = command();
        c.arg("--exit-when-caught-up");
        c
    });
    let want = db_items(&db);
    assert_eq!(want.len(), 50_000);
    assert!(es_items(&es, "test.app.items") == want, "converged after kill -9");
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
        std::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
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
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        es.docs("test.app.items").keys().cloned().collect::<Vec<_>>(),
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
    assert!(h["__connect.errors.exception.message"]
        .as_str()
        .unwrap()
        .contains("document_parsing_exception"));

    // with errors.tolerance=none (the default) the task stops, and the offset stays put
    let strict = work.write_connector("strict.json", &es_connector(&es, "es2", "test.app.items", &[]));
    let before = work.offsets("src").unwrap();
    db.sql("INSERT INTO app.items VALUES (4, 'also text', 4)");
    let out = run(&strict);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the task fails");
    assert!(err.contains("document_parsing_exception") && err.contains("errors.tolerance"), "{err}");
    assert_eq!(work.offsets("src").unwrap(), before, "the offset did not move past the refused record");
}
