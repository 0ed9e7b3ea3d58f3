//! The query-based JDBC source (`io.confluent.connect.jdbc.JdbcSourceConnector`) against a
//! private PostgreSQL and MariaDB and an SQLite file: `timestamp+incrementing` mode, ties on the timestamp, updates,
//! restarts from Connect's per-table offsets.

mod common;

use common::postgres::Pg;
use common::{payload, Maria, Work};
use serde_json::{json, Value};

fn source(name: &str, url: &str, table: &str, extra: &[(&str, &str)]) -> Value {
    let mut config = json!({
        "connector.class": "io.confluent.connect.jdbc.JdbcSourceConnector",
        "connection.url": url,
        "mode": "timestamp+incrementing",
        "incrementing.column.name": "id",
        "timestamp.column.name": "updated",
        "table.whitelist": table,
        "topic.prefix": "jdbc-",
        "poll.interval.ms": "200",
        "batch.max.rows": "2",
    });
    for (k, v) in extra {
        config[*k] = Value::String(v.to_string());
    }
    json!({"name": name, "config": config})
}

/// `(id, amount)` of every record of `out` after `from`.
fn rows(work: &Work, out: &str, from: usize) -> Vec<(i64, i64)> {
    work.lines(out)[from..]
        .iter()
        .map(|l| {
            let p = payload(l);
            (p["id"].as_i64().unwrap(), p["amount"].as_i64().unwrap())
        })
        .collect()
}

/// Runs the scenario with `sql` executing statements on the source database.
fn scenario(work: &Work, connector: &std::path::Path, sql: &dyn Fn(&str)) {
    // three timestamps; two rows share the second one
    sql("INSERT INTO orders (id, amount, updated) VALUES
         (1, 10, '2024-01-01 00:00:01'), (2, 20, '2024-01-01 00:00:02'),
         (3, 30, '2024-01-01 00:00:02'), (4, 40, '2024-01-01 00:00:03')");
    work.catch_up(connector, "out.jsonl");
    assert_eq!(
        rows(work, "out.jsonl", 0),
        [(1, 10), (2, 20), (3, 30), (4, 40)],
        "every row once, ties ordered by id"
    );
    let offsets = work.offsets("orders").unwrap();
    let entry = offsets["offsets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["key"][1]["table"] == "orders")
        .unwrap()
        .clone();
    assert_eq!(
        entry["key"],
        json!(["orders", {"protocol": "1", "table": "orders"}])
    );
    assert_eq!(entry["value"]["incrementing"], 4);
    assert_eq!(entry["value"]["timestamp"], 1_704_067_203_000i64);
    assert_eq!(entry["value"]["timestamp_nanos"], 0);

    // a restart with nothing new repeats nothing
    work.catch_up(connector, "out.jsonl");
    assert_eq!(work.lines("out.jsonl").len(), 4);

    // an update (newer timestamp), a row tied with the last offset's timestamp but a higher id,
    // and a new row: each appears once; an older-timestamp row is not seen (documented)
    sql(
        "UPDATE orders SET amount = 11, updated = '2024-01-01 00:00:05' WHERE id = 1;
         INSERT INTO orders (id, amount, updated) VALUES
         (5, 50, '2024-01-01 00:00:03'), (6, 60, '2024-01-01 00:00:06')",
    );
    work.catch_up(connector, "out.jsonl");
    assert_eq!(rows(work, "out.jsonl", 4), [(5, 50), (1, 11), (6, 60)]);
    let schema = &work.lines("out.jsonl")[0]["value"]["schema"];
    assert_eq!(schema["name"], "orders");
    let updated = schema["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["field"] == "updated")
        .unwrap();
    assert_eq!(updated["name"], "org.apache.kafka.connect.data.Timestamp");
    assert_eq!(updated["optional"], false);
    assert_eq!(
        payload(&work.lines("out.jsonl")[0])["updated"],
        1_704_067_201_000i64
    );
}

#[test]
fn timestamp_and_incrementing_on_postgresql() {
    let pg = Pg::start();
    pg.sql("CREATE TABLE orders (id int PRIMARY KEY, amount int, updated timestamp NOT NULL)");
    let work = Work::new();
    let c = work.write_connector("c.json", &source("orders", &pg.jdbc_url(), "orders", &[]));
    scenario(&work, &c, &|s| {
        pg.sql(s);
    });
}

#[test]
fn timestamp_and_incrementing_on_mariadb() {
    let db = Maria::start();
    db.sql("CREATE DATABASE app; USE app; CREATE TABLE orders (id INT PRIMARY KEY, amount INT, updated DATETIME(6) NOT NULL);");
    let work = Work::new();
    let url = format!("jdbc:mariadb://127.0.0.1:{}/app", db.port);
    let c = work.write_connector(
        "c.json",
        &source(
            "orders",
            &url,
            "orders",
            &[
                ("connection.user", "admin"),
                ("connection.password", "admin"),
            ],
        ),
    );
    scenario(&work, &c, &|s| {
        db.sql(&format!("USE app; {s};"));
    });
}

#[test]
fn timestamp_and_incrementing_on_sqlite() {
    let work = Work::new();
    let file = work.path("app.db");
    let sql = |s: &str| {
        let out = std::process::Command::new("sqlite3")
            .arg(&file)
            .arg(s)
            .output()
            .expect("sqlite3 (scripts/deps.sh installs it)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    sql("CREATE TABLE orders (id INTEGER PRIMARY KEY, amount INTEGER, updated DATETIME NOT NULL)");
    let url = format!("jdbc:sqlite:{}", file.display());
    let c = work.write_connector("c.json", &source("orders", &url, "orders", &[]));
    scenario(&work, &c, &sql);
}
