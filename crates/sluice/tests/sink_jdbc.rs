//! The JDBC sink fed by the MariaDB source in one process: column types into PostgreSQL,
//! MariaDB and SQLite; Debezium's sink (envelopes without unwrap, schema evolution, deletes);
//! rows the database refuses.

mod common;

use std::process::{Command, Output};

use common::postgres::Pg;
use common::{read_lines, Maria, Work};
use serde_json::{json, Value};

fn run(work: &Work, connectors: &[&std::path::Path]) -> Output {
    common::sluice()
        .arg("run")
        .args(connectors)
        .arg("--data-dir")
        .arg(work.path("data"))
        .arg("--exit-when-caught-up")
        .output()
        .unwrap()
}

fn ok(o: Output) -> Output {
    assert!(
        o.status.success(),
        "sluice failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn jdbc(name: &str, url: &str, topic: &str, table: &str, extra: &[(&str, &str)]) -> Value {
    let mut c = json!({
        "connector.class": "io.confluent.connect.jdbc.JdbcSinkConnector",
        "connection.url": url,
        "topics": topic,
        "insert.mode": "upsert",
        "pk.mode": "record_key",
        "delete.enabled": "true",
        "auto.create": "true",
        "auto.evolve": "true",
        "table.name.format": table,
        "transforms": "unwrap",
        "transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState",
        "transforms.unwrap.drop.tombstones": "false",
    });
    for (k, v) in extra {
        c[*k] = json!(v);
    }
    json!({"name": name, "config": c})
}

#[test]
fn column_types_land_in_postgres_mariadb_and_sqlite() {
    let db = Maria::start();
    db.sql(
        "CREATE DATABASE app; CREATE DATABASE target; USE app;
         CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL, amount DECIMAL(12,2),
           d DATE, ts DATETIME(6), flag BOOLEAN, data VARBINARY(8), note TEXT, big BIGINT UNSIGNED,
           f DOUBLE);
         INSERT INTO t VALUES (1, 'Ünïcode ✓', -1234.50, '2024-02-29', '2024-02-29 23:59:58.123456', TRUE,
           X'00FF10', NULL, 42, 2.5),
           (2, 'it''s', 0.01, '1969-12-31', '1970-01-01 00:00:00.000001', FALSE, X'', 'x', 0, -0.125);",
    );
    let pg = Pg::start();
    let work = Work::new();
    let sqlite = work.path("t.db");
    let source = work.write_connector(
        "src.json",
        &db.connector(
            "src",
            &[
                ("table.include.list", "app.t"),
                ("snapshot.mode", "initial"),
            ],
        ),
    );
    let to_pg = work.write_connector(
        "pg.json",
        &jdbc("pg", &pg.jdbc_url(), "test.app.t", "t", &[]),
    );
    let to_maria = work.write_connector(
        "my.json",
        &jdbc(
            "my",
            &format!("jdbc:mariadb://127.0.0.1:{}/target", db.port),
            "test.app.t",
            "t",
            &[
                ("connection.user", "admin"),
                ("connection.password", "admin"),
            ],
        ),
    );
    let to_sqlite = work.write_connector(
        "lite.json",
        &jdbc(
            "lite",
            &format!("jdbc:sqlite:{}", sqlite.display()),
            "test.app.t",
            "t",
            &[],
        ),
    );
    ok(run(&work, &[&source, &to_pg, &to_maria, &to_sqlite]));

    assert_eq!(
        pg.sql("SELECT id, name, amount, d, ts, flag, encode(data, 'hex'), coalesce(note, 'NULL'), big, f FROM t ORDER BY id"),
        // BOOLEAN is TINYINT(1) in MariaDB, which Debezium maps to int16
        "1\tÜnïcode ✓\t-1234.50\t2024-02-29\t2024-02-29 23:59:58.123456\t1\t00ff10\tNULL\t42\t2.5\n\
         2\tit's\t0.01\t1969-12-31\t1970-01-01 00:00:00.000001\t0\t\tx\t0\t-0.125"
    );
    assert_eq!(
        pg.sql("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 't'::regclass AND attname IN ('amount', 'd', 'ts', 'flag') ORDER BY attnum"),
        "numeric(12,2)\ndate\ntimestamp without time zone\nsmallint"
    );
    assert_eq!(
        db.sql("SELECT id, name, amount, d, ts, flag, HEX(data), COALESCE(note, 'NULL'), big, f FROM target.t ORDER BY id"),
        "1\tÜnïcode ✓\t-1234.50\t2024-02-29\t2024-02-29 23:59:58.123456\t1\t00FF10\tNULL\t42\t2.5\n\
         2\tit's\t0.01\t1969-12-31\t1970-01-01 00:00:00.000001\t0\t\tx\t0\t-0.125"
    );
    let lite = Command::new("sqlite3")
        .arg(&sqlite)
        .arg("SELECT id, name, amount, d, ts, flag, hex(data), coalesce(note, 'NULL'), big, f FROM t ORDER BY id")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&lite.stdout).trim_end(),
        "1|Ünïcode ✓|-1234.5|2024-02-29|2024-02-29 23:59:58.123456|1|00FF10|NULL|42|2.5\n\
         2|it's|0.01|1969-12-31|1970-01-01 00:00:00.000001|0||x|0|-0.125"
    );
}

#[test]
fn debeziums_sink_reads_envelopes_evolves_tables_and_deletes() {
    let db = Maria::start();
    db.sql(
        "CREATE DATABASE app; USE app; CREATE TABLE t (id INT PRIMARY KEY, v INT NOT NULL);
         INSERT INTO t VALUES (1, 10), (2, 20), (3, 30);",
    );
    let pg = Pg::start();
    let work = Work::new();
    let source = work.write_connector(
        "src.json",
        &db.connector(
            "src",
            &[
                ("table.include.list", "app.t"),
                ("snapshot.mode", "initial"),
            ],
        ),
    );
    // Debezium's JDBC sink: change events as they are, no transforms
    let sink = work.write_connector(
        "pg.json",
        &json!({"name": "dbz-sink", "config": {
            "connector.class": "io.debezium.connector.jdbc.JdbcSinkConnector",
            "connection.url": pg.jdbc_url(),
            "connection.username": "postgres",
            "topics.regex": "test\\.app\\..*",
            "insert.mode": "upsert",
            "primary.key.mode": "record_key",
            "delete.enabled": "true",
            "schema.evolution": "basic",
        }}),
    );
    ok(run(&work, &[&source, &sink]));
    assert_eq!(
        pg.sql("SELECT id, v FROM test_app_t ORDER BY id"),
        "1\t10\n2\t20\n3\t30"
    );
    db.sql("USE app; ALTER TABLE t ADD COLUMN label VARCHAR(10) NULL; UPDATE t SET v = 21, label = 'two' WHERE id = 2; DELETE FROM t WHERE id = 3; INSERT INTO t VALUES (4, 40, 'four');");
    ok(run(&work, &[&source, &sink]));
    assert_eq!(
        pg.sql("SELECT id, v, coalesce(label, '-') FROM test_app_t ORDER BY id"),
        "1\t10\t-\n2\t21\ttwo\n4\t40\tfour",
        "new column added, update and insert applied, delete applied"
    );
}

#[test]
fn a_row_postgres_refuses_goes_to_the_dead_letter_queue_or_stops_the_task() {
    let db = Maria::start();
    db.sql(
        "CREATE DATABASE app; USE app; CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(20) NULL);",
    );
    let pg = Pg::start();
    pg.sql("CREATE TABLE t (id INT PRIMARY KEY, name TEXT NOT NULL)");
    let work = Work::new();
    let source = work.write_connector(
        "src.json",
        &db.connector("src", &[("table.include.list", "app.t")]),
    );
    let tolerant = work.write_connector(
        "pg.json",
        &jdbc(
            "pg",
            &pg.jdbc_url(),
            "test.app.t",
            "t",
            &[
                ("errors.tolerance", "all"),
                ("errors.deadletterqueue.topic.name", "dlq-pg"),
                ("errors.deadletterqueue.context.headers.enable", "true"),
            ],
        ),
    );
    ok(run(&work, &[&source, &tolerant]));
    db.sql("INSERT INTO app.t VALUES (1, 'a'), (2, NULL), (3, 'c')");
    ok(run(&work, &[&source, &tolerant]));
    assert_eq!(
        pg.sql("SELECT id, name FROM t ORDER BY id"),
        "1\ta\n3\tc",
        "the other rows are committed"
    );
    let dlq = read_lines(&work.path("data/dlq/dlq-pg.jsonl"));
    assert_eq!(dlq.len(), 1, "{dlq:?}");
    assert_eq!(dlq[0]["value"]["id"], 2);
    assert!(dlq[0]["headers"]["__connect.errors.exception.message"]
        .as_str()
        .unwrap()
        .contains("null value in column"));

    let strict = work.write_connector(
        "strict.json",
        &jdbc("pg2", &pg.jdbc_url(), "test.app.t", "t", &[]),
    );
    let before = work.offsets("src").unwrap();
    db.sql("INSERT INTO app.t VALUES (4, NULL)");
    let out = run(&work, &[&source, &strict]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("null value in column") && err.contains("errors.tolerance"),
        "{err}"
    );
    assert_eq!(
        work.offsets("src").unwrap(),
        before,
        "the offset did not move past the refused row"
    );
}
