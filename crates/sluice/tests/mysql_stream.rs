//! Streaming behaviour against a real MariaDB: operations, transactions, binlog rotation, large
//! rows, key changes, filters, and DDL in the middle of the stream.

mod common;

use common::{ops, payload, Maria, Work};
use serde_json::Value;

fn setup(db: &Maria, ddl: &str) -> (Work, std::path::PathBuf) {
    db.sql("CREATE DATABASE app");
    db.sql(&format!("USE app; {ddl}"));
    let work = Work::new();
    let conn = work.write_connector(
        "c.json",
        &db.connector("app", &[("table.include.list", "app.t")]),
    );
    work.catch_up(&conn, "out.jsonl");
    (work, conn)
}

#[test]
fn insert_update_delete_in_order_with_tombstones() {
    let db = Maria::start();
    let (work, conn) = setup(&db, "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20))");
    db.sql("USE app; INSERT INTO t VALUES (1,'a'),(2,'b'),(3,'c');
            BEGIN; UPDATE t SET v='bb' WHERE id=2; DELETE FROM t WHERE id=3; INSERT INTO t VALUES (4,'d'); COMMIT;
            UPDATE t SET v='x';");
    work.catch_up(&conn, "out.jsonl");
    let lines = work.lines("out.jsonl");
    let got: Vec<(String, i64)> = ops(&lines);
    let want: Vec<(String, i64)> = [
        ("c", 1),
        ("c", 2),
        ("c", 3),
        ("u", 2),
        ("d", 3),
        ("c", 4),
        ("u", 1),
        ("u", 2),
        ("u", 4),
    ]
    .iter()
    .map(|(o, i)| (o.to_string(), *i))
    .collect();
    assert_eq!(got, want);
    let tombstones: Vec<&Value> = lines.iter().filter(|l| l["value"].is_null()).collect();
    assert_eq!(tombstones.len(), 1);
    assert_eq!(tombstones[0]["key"]["payload"]["id"], 3);
    let upd = lines.iter().find(|l| payload(l)["op"] == "u").unwrap();
    assert_eq!(payload(upd)["before"]["v"], "b");
    assert_eq!(payload(upd)["after"]["v"], "bb");
    // rows of one statement: same pos, increasing row index
    let rows: Vec<i64> = lines[..3]
        .iter()
        .map(|l| payload(l)["source"]["row"].as_i64().unwrap())
        .collect();
    assert_eq!(rows, [0, 1, 2]);
    let offsets = work.offsets("app").unwrap();
    let value = &offsets["offsets"][0]["value"];
    assert_eq!(
        offsets["offsets"][0]["key"],
        serde_json::json!(["app", {"server": "test"}])
    );
    assert!(value["file"].as_str().unwrap().starts_with("mysql-bin."));
    assert!(value["gtids"].as_str().unwrap().starts_with("0-1-"));
}

#[test]
fn primary_key_change_is_delete_then_create() {
    let db = Maria::start();
    let (work, conn) = setup(&db, "CREATE TABLE t (id INT PRIMARY KEY, v INT)");
    db.sql("USE app; INSERT INTO t VALUES (1, 10); UPDATE t SET id = 7 WHERE id = 1;");
    work.catch_up(&conn, "out.jsonl");
    let lines = work.lines("out.jsonl");
    assert_eq!(
        ops(&lines),
        vec![("c".into(), 1), ("d".into(), 1), ("c".into(), 7)]
    );
    assert!(lines[2]["value"].is_null(), "tombstone for the old key");
}

#[test]
fn rotation_and_a_20_mib_row() {
    let db = Maria::start();
    let (work, conn) = setup(&db, "CREATE TABLE t (id INT PRIMARY KEY, v LONGTEXT)");
    db.sql("USE app; INSERT INTO t VALUES (1, 'before rotation'); FLUSH BINARY LOGS;
            INSERT INTO t VALUES (2, REPEAT('x', 20*1024*1024)); FLUSH BINARY LOGS; INSERT INTO t VALUES (3, 'z');");
    work.catch_up(&conn, "out.jsonl");
    let lines = work.lines("out.jsonl");
    assert_eq!(
        ops(&lines),
        vec![("c".into(), 1), ("c".into(), 2), ("c".into(), 3)]
    );
    let big = payload(&lines[1])["after"]["v"].as_str().unwrap();
    assert_eq!(big.len(), 20 * 1024 * 1024);
    let files: Vec<&str> = lines
        .iter()
        .map(|l| payload(l)["source"]["file"].as_str().unwrap())
        .collect();
    assert_eq!(
        files,
        ["mysql-bin.000001", "mysql-bin.000002", "mysql-bin.000003"]
    );
}

#[test]
fn filters_choose_tables_and_columns() {
    let db = Maria::start();
    db.sql(
        "CREATE DATABASE app; CREATE DATABASE other;
            CREATE TABLE app.t (id INT PRIMARY KEY, secret VARCHAR(10), v INT);
            CREATE TABLE app.u (id INT PRIMARY KEY); CREATE TABLE other.t (id INT PRIMARY KEY);",
    );
    let work = Work::new();
    let conn = work.write_connector(
        "c.json",
        &db.connector(
            "f",
            &[
                ("database.include.list", "app"),
                ("table.exclude.list", "app.u"),
                ("column.exclude.list", "app.t.secret"),
            ],
        ),
    );
    work.catch_up(&conn, "out.jsonl");
    db.sql("INSERT INTO app.t VALUES (1,'pw',5); INSERT INTO app.u VALUES (1); INSERT INTO other.t VALUES (1);");
    work.catch_up(&conn, "out.jsonl");
    let lines = work.lines("out.jsonl");
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["topic"], "test.app.t");
    let after = &payload(&lines[0])["after"];
    assert_eq!(after, &serde_json::json!({"id": 1, "v": 5}));
}

#[test]
fn alter_mid_stream_and_restart_at_an_old_offset_uses_the_old_schema() {
    let db = Maria::start();
    let (work, conn) = setup(&db, "CREATE TABLE t (id INT PRIMARY KEY, a VARCHAR(10))");
    let old_offsets = std::fs::read(work.path("data/offsets/app.json")).unwrap();
    db.sql(
        "USE app; INSERT INTO t VALUES (1, 'old');
            ALTER TABLE t ADD COLUMN b INT NOT NULL DEFAULT 7 AFTER id;
            INSERT INTO t (id, a, b) VALUES (2, 'new', 8);",
    );
    work.catch_up(&conn, "out.jsonl");
    let lines = work.lines("out.jsonl");
    assert_eq!(
        payload(&lines[0])["after"],
        serde_json::json!({"id": 1, "a": "old"})
    );
    assert_eq!(
        payload(&lines[1])["after"],
        serde_json::json!({"id": 2, "b": 8, "a": "new"})
    );

    // Rewind to the offset from before the ALTER: row 1 must still decode with two columns.
    std::fs::write(work.path("data/offsets/app.json"), old_offsets).unwrap();
    work.catch_up(&conn, "replay.jsonl");
    let replay = work.lines("replay.jsonl");
    assert_eq!(replay.len(), 2);
    assert_eq!(payload(&replay[0])["after"], payload(&lines[0])["after"]);
    assert_eq!(payload(&replay[1])["after"], payload(&lines[1])["after"]);
    let fields = |l: &Value| {
        l["value"]["schema"]["fields"][1]["fields"]
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!((fields(&replay[0]), fields(&replay[1])), (2, 3));
}

#[test]
fn include_query_on_mariadb_warns_that_the_statement_is_unavailable() {
    let db = Maria::start();
    db.sql("CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY)");
    let work = Work::new();
    let conn = work.write_connector("c.json", &db.connector("q", &[("include.query", "true")]));
    work.catch_up(&conn, "out.jsonl");
    db.sql("INSERT INTO app.t VALUES (42)");
    let out = work.catch_up(&conn, "out.jsonl");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains("include.query=true has no effect on MariaDB"),
        "{log}"
    );
    let lines = work.lines("out.jsonl");
    assert!(payload(&lines[0])["source"]["query"].is_null());
}

#[test]
fn exit_when_caught_up_also_ends_after_a_trailing_rotation() {
    let db = Maria::start();
    let (work, conn) = setup(&db, "CREATE TABLE t (id INT PRIMARY KEY)");
    db.sql("USE app; INSERT INTO t VALUES (1); FLUSH BINARY LOGS;");
    let out = work
        .command(&conn, "out.jsonl", &["--exit-when-caught-up"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut out = out;
    let done = common::wait_until(std::time::Duration::from_secs(20), || {
        matches!(out.try_wait(), Ok(Some(_)))
    });
    if !done {
        let _ = out.kill();
    }
    assert!(
        done,
        "sluice must stop at the binlog end seen at start even when it ends with a rotation"
    );
    assert_eq!(ops(&work.lines("out.jsonl")), vec![("c".into(), 1)]);
}

#[test]
fn a_killed_replication_connection_is_resumed_without_loss_or_repeats() {
    let db = Maria::start();
    let (work, conn) = setup(&db, "CREATE TABLE t (id INT PRIMARY KEY, v INT)");
    let mut child = work.spawn(&conn, "out.jsonl");
    db.sql("USE app; INSERT INTO t SELECT seq, 1 FROM seq_1_to_100; ALTER TABLE t ADD COLUMN x INT DEFAULT 5;
            INSERT INTO t SELECT seq, 2, 9 FROM seq_101_to_200;");
    assert!(common::wait_until(
        std::time::Duration::from_secs(30),
        || work.lines("out.jsonl").len() >= 200
    ));
    // the server drops sluice's replication connection, as a network failure or failover would
    let dump =
        db.sql("SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND = 'Binlog Dump'");
    assert!(
        !dump.is_empty(),
        "sluice's replication connection is visible"
    );
    for id in dump.lines() {
        db.sql(&format!("KILL {id}"));
    }
    db.sql("USE app; INSERT INTO t SELECT seq, 3, 7 FROM seq_201_to_300;");
    let done = common::wait_until(std::time::Duration::from_secs(60), || {
        work.lines("out.jsonl").len() >= 300
    });
    common::signal(&mut child, "-TERM");
    let log = std::fs::read_to_string(work.path("out.jsonl.log")).unwrap_or_default();
    assert!(
        done,
        "stream resumed after the connection was killed:\n{log}"
    );
    assert!(log.contains("reconnecting"), "{log}");
    let lines = work.lines("out.jsonl");
    let ids: Vec<i64> = ops(&lines).into_iter().map(|(_, id)| id).collect();
    assert_eq!(
        ids,
        (1..=300).collect::<Vec<_>>(),
        "every row once, in order"
    );
    assert_eq!(
        payload(&lines[299])["after"],
        serde_json::json!({"id": 300, "v": 3, "x": 7})
    );
}
