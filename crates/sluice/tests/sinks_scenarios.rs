//! MariaDB → sluice → the Elasticsearch and JDBC (PostgreSQL) sinks at once, in one process
//! (embedded mode) and through Kafka: the seed scenario (100,000 rows inserted, updated,
//! deleted — after each phase the index and the table hold exactly the source's rows), a
//! counter raced by two sessions, and kill -9 in the middle of a load.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::kafka::Broker;
use common::postgres::Pg;
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

/// The JDBC sink of the same deployment: upserts by key into PostgreSQL, deletes on tombstones.
fn pg_connector(pg: &Pg, name: &str, topics: &str, table: &str) -> Value {
    json!({"name": name, "config": {
        "connector.class": "io.confluent.connect.jdbc.JdbcSinkConnector",
        "connection.url": pg.jdbc_url(),
        "topics": topics,
        "insert.mode": "upsert",
        "pk.mode": "record_key",
        "delete.enabled": "true",
        "auto.create": "true",
        "auto.evolve": "true",
        "table.name.format": table,
        "transforms": "unwrap",
        "transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState",
        "transforms.unwrap.drop.tombstones": "false",
    }})
}

/// `id → (name, v)` of a PostgreSQL table.
fn pg_items(pg: &Pg, table: &str) -> BTreeMap<String, (String, i64)> {
    match pg.try_sql(&format!("SELECT id, name, v FROM {table}")) {
        Ok(out) => out
            .lines()
            .filter(|l| !l.is_empty())
            .map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                (f[0].to_string(), (f[1].to_string(), f[2].parse().unwrap()))
            })
            .collect(),
        Err(_) => BTreeMap::new(),
    }
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

/// A server with `app.items` and the seed scenario's procedures.
fn seed_db() -> Maria {
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
    db
}

/// How the events get from the source to the sinks.
#[derive(Clone, Copy, Debug)]
enum Path {
    /// One process: source → sinks in-process.
    Embedded,
    /// Source → Kafka topics, then the sinks read Kafka (consumer groups).
    Kafka,
}

/// The seed scenario: 100,000 rows inserted, updated, deleted; after each phase the index and
/// the PostgreSQL table hold exactly MariaDB's rows.
fn seed_scenario(path: Path) {
    let db = seed_db();
    let es = Search::start();
    let pg = Pg::start();
    let broker = matches!(path, Path::Kafka).then(Broker::start);
    let work = Work::new();
    let source = work.write_connector(
        "source.json",
        &db.connector("src", &[("table.include.list", "app.items")]),
    );
    let sink = work.write_connector(
        "es.json",
        &es_connector(&es, "es", "test.app.items", &[("batch.size", "3000")]),
    );
    let jdbc = work.write_connector(
        "pg.json",
        &pg_connector(&pg, "pg", "test.app.items", "items"),
    );
    let sluice = |args: &[&std::ffi::OsStr]| {
        let mut c = common::sluice();
        c.arg("run")
            .args(args)
            .arg("--data-dir")
            .arg(work.path("data"))
            .arg("--exit-when-caught-up");
        common::succeeded(c)
    };
    let catch_up = |first: bool| match &broker {
        None => {
            sluice(&[source.as_os_str(), sink.as_os_str(), jdbc.as_os_str()]);
        }
        Some(b) => {
            let to = format!("kafka:{}", b.bootstrap());
            sluice(&[source.as_os_str(), "--sink".as_ref(), to.as_ref()]);
            if !first {
                let from = b.bootstrap();
                sluice(&[
                    sink.as_os_str(),
                    jdbc.as_os_str(),
                    "--kafka".as_ref(),
                    from.as_ref(),
                ]);
            }
        }
    };
    catch_up(true); // capture starts here (snapshot.mode=no_data)
    for (name, sql, rows) in [
        ("insert", "CALL insert_all()", 100_000),
        ("update", "CALL update_all()", 100_000),
        ("delete", "CALL delete_all()", 0),
    ] {
        let t = std::time::Instant::now();
        phase(&db, sql);
        let t1 = t.elapsed();
        catch_up(false);
        eprintln!("{path:?} {name}: sql {t1:?}, sluice {:?}", t.elapsed() - t1);
        let want = db_items(&db);
        assert_eq!(want.len(), rows, "{name}: rows in MariaDB");
        let got = es_items(&es, "test.app.items");
        assert_eq!(
            got.len(),
            want.len(),
            "{path:?} {name}: documents in the index"
        );
        assert!(
            got == want,
            "{path:?} {name}: the index holds exactly the table's rows"
        );
        let rows = pg_items(&pg, "items");
        assert_eq!(
            rows.len(),
            want.len(),
            "{path:?} {name}: rows in PostgreSQL"
        );
        assert!(
            rows == want,
            "{path:?} {name}: PostgreSQL holds exactly the table's rows"
        );
    }
}

#[test]
fn seed_scenario_insert_update_delete_100k_rows_embedded() {
    seed_scenario(Path::Embedded);
}

#[test]
fn seed_scenario_insert_update_delete_100k_rows_through_kafka() {
    seed_scenario(Path::Kafka);
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
            &[
                ("table.include.list", "app.counters"),
                ("snapshot.mode", "initial"),
            ],
        ),
    );
    let sink = work.write_connector(
        "es.json",
        &es_connector(&es, "es", "test.app.counters", &[]),
    );
    let pg = Pg::start();
    let jdbc = work.write_connector(
        "pg.json",
        &pg_connector(&pg, "pg", "test.app.counters", "counters"),
    );
    let mut child = common::sluice()
        .arg("run")
        .arg(&source)
        .arg(&sink)
        .arg(&jdbc)
        .arg("--data-dir")
        .arg(work.path("data"))
        .stderr(std::fs::File::create(work.path("run.log")).unwrap())
        .spawn()
        .unwrap();
    let a = db.sql_in_background("USE app; CALL add_two(10000);".into());
    std::thread::sleep(Duration::from_millis(500));
    db.sql("UPDATE app.counters SET c = c + 1 WHERE id = 1");
    a.join().unwrap();
    let want: i64 = db
        .sql("SELECT c FROM app.counters WHERE id = 1")
        .parse()
        .unwrap();
    assert_eq!(want, 20_001);
    let pg_value = || {
        pg.try_sql("SELECT c FROM counters WHERE id = 1")
            .unwrap_or_default()
    };
    let converged = wait_until(Duration::from_secs(60), || {
        es.docs("test.app.counters")
            .get("1")
            .is_some_and(|d| d["c"].as_i64() == Some(want))
            && pg_value() == want.to_string()
    });
    common::signal(&mut child, "-TERM");
    assert!(
        converged,
        "Elasticsearch shows {:?}, PostgreSQL {}, MariaDB {want}",
        es.docs("test.app.counters").get("1"),
        pg_value()
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
    let pg = Pg::start();
    let jdbc = work.write_connector(
        "pg.json",
        &pg_connector(&pg, "pg", "test.app.items", "items"),
    );
    let command = || {
        let mut c = common::sluice();
        c.arg("run")
            .arg(&source)
            .arg(&sink)
            .arg(&jdbc)
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
    assert!(wait_until(Duration::from_secs(60), || es
        .count("test.app.items")
        > 10_000));
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
    assert!(
        es_items(&es, "test.app.items") == want,
        "the index converged after kill -9"
    );
    assert!(
        pg_items(&pg, "items") == want,
        "PostgreSQL converged after kill -9"
    );
}

#[test]
fn kill_9_of_sinks_reading_kafka_then_restart_converges() {
    let db = items_db();
    let es = Search::start();
    let pg = Pg::start();
    let broker = Broker::start();
    let work = Work::new();
    let source = work.write_connector(
        "source.json",
        &db.connector("src", &[("table.include.list", "app.items")]),
    );
    let sink = work.write_connector("es.json", &es_connector(&es, "es", "test.app.items", &[]));
    let jdbc = work.write_connector(
        "pg.json",
        &pg_connector(&pg, "pg", "test.app.items", "items"),
    );
    let to_kafka = || {
        common::succeeded(work.command_to(
            &source,
            &format!("kafka:{}", broker.bootstrap()),
            &["--exit-when-caught-up"],
        ))
    };
    let sinks = || {
        let mut c = common::sluice();
        c.arg("run")
            .arg(&sink)
            .arg(&jdbc)
            .arg("--kafka")
            .arg(broker.bootstrap())
            .arg("--data-dir")
            .arg(work.path("data"));
        c
    };
    to_kafka();
    phase(&db, "CALL load_items(60000)");
    to_kafka();
    let mut child = sinks()
        .stderr(std::fs::File::create(work.path("sinks.log")).unwrap())
        .spawn()
        .unwrap();
    assert!(
        wait_until(Duration::from_secs(90), || es.count("test.app.items")
            > 10_000),
        "the sinks did not get going: {}",
        std::fs::read_to_string(work.path("sinks.log")).unwrap_or_default()
    );
    common::signal(&mut child, "-KILL");
    phase(
        &db,
        "UPDATE items SET v = -v WHERE id < 30000; DELETE FROM items WHERE id >= 50000;",
    );
    to_kafka();
    common::succeeded({
        let mut c = sinks();
        c.arg("--exit-when-caught-up");
        c
    });
    let want = db_items(&db);
    assert_eq!(want.len(), 50_000);
    assert!(
        es_items(&es, "test.app.items") == want,
        "the index converged after kill -9"
    );
    assert!(
        pg_items(&pg, "items") == want,
        "PostgreSQL converged after kill -9"
    );
}
