//! The initial snapshot: lock-free, consistent with the binlog position it hands over to, with
//! Debezium's `op: "r"` events and `source.snapshot` markers.

mod common;

use std::time::Duration;

use common::{
    assert_converged, fixture, hot_writer, payload, seeded, wait_until, with_signal_table, Maria,
    Work,
};
use serde_json::Value;

const PLAIN: [(&str, &str); 3] = [
    ("snapshot.mode", "initial"),
    ("key.converter.schemas.enable", "false"),
    ("value.converter.schemas.enable", "false"),
];

#[test]
fn snapshot_marks_first_and_last_then_streams() {
    let db = Maria::start();
    db.sql(
        "CREATE DATABASE app; USE app;
            CREATE TABLE a (id INT PRIMARY KEY, v INT); INSERT INTO a VALUES (1,1),(2,2),(3,3);
            CREATE TABLE b (id INT PRIMARY KEY, v INT);
            CREATE TABLE c (id INT PRIMARY KEY, v INT); INSERT INTO c VALUES (10,1),(11,2);",
    );
    let work = Work::new();
    let conn = work.write_connector("c.json", &db.connector("s", &PLAIN));
    work.catch_up(&conn, "out.jsonl");
    let lines = work.lines("out.jsonl");
    let got: Vec<(String, String, i64)> = lines
        .iter()
        .map(|l| {
            let p = payload(l);
            (
                p["op"].as_str().unwrap().to_string(),
                p["source"]["snapshot"].as_str().unwrap().to_string(),
                p["after"]["id"].as_i64().unwrap(),
            )
        })
        .collect();
    let want = [
        ("r", "first", 1),
        ("r", "true", 2),
        ("r", "last_in_data_collection", 3),
        ("r", "first_in_data_collection", 10),
        ("r", "last", 11),
    ];
    assert_eq!(
        got,
        want.iter()
            .map(|(o, s, i)| (o.to_string(), s.to_string(), *i))
            .collect::<Vec<_>>()
    );
    assert!(payload(&lines[0])["before"].is_null());
    let offset = &work.offsets("s").unwrap()["offsets"][0]["value"];
    assert!(
        offset.get("snapshot").is_none(),
        "snapshot finished: {offset}"
    );

    db.sql("INSERT INTO app.b VALUES (5, 5)");
    work.catch_up(&conn, "more.jsonl");
    let more = work.lines("more.jsonl");
    assert_eq!(
        more.len(),
        1,
        "only the new change; the snapshot is not repeated"
    );
    assert_eq!(payload(&more[0])["op"], "c");
    assert_eq!(payload(&more[0])["source"]["snapshot"], "false");
}

#[test]
fn snapshot_values_match_debezium_for_every_type() {
    let db = Maria::start();
    db.sql("CREATE DATABASE testdb");
    db.sql(&format!("USE testdb; {}", fixture("types.sql")));
    db.sql(&format!("USE testdb; {}", fixture("types_rows.sql")));
    let work = Work::new();
    let conn = work.write_connector(
        "c.json",
        &db.connector(
            "t",
            &[
                ("snapshot.mode", "initial"),
                ("topic.prefix", "bench"),
                ("table.include.list", "testdb.types"),
            ],
        ),
    );
    work.catch_up(&conn, "out.jsonl");
    let lines = work.lines("out.jsonl");
    let golden: Value = serde_json::from_str(&fixture("types_debezium.json")).unwrap();
    assert_eq!(lines.len(), 2);
    for (line, want) in lines.iter().zip(golden["rows"].as_array().unwrap()) {
        assert_eq!(line["key"], want["key"]);
        assert_eq!(
            line["value"]["schema"]["fields"][1],
            want["value_schema_after"]
        );
        let after = &payload(line)["after"];
        for (k, exp) in want["after"].as_object().unwrap() {
            assert_eq!(after[k], *exp, "snapshot value of {k}");
        }
        assert_eq!(payload(line)["op"], "r");
    }
}

/// Writes continuously: updates, deletes and inserts, for about `secs` seconds.
fn writer(db: &Maria, secs: u32) -> std::thread::JoinHandle<()> {
    let mut s = String::from("USE app;");
    for i in 0..(secs * 20) {
        let k = (i * 7919) % 200_000 + 1;
        s.push_str(&format!(
            "UPDATE t SET v = v + 1 WHERE id BETWEEN {k} AND {k} + 50; DELETE FROM t WHERE id = {}; INSERT INTO t VALUES ({}, 1); DO SLEEP(0.05);",
            (k + 99) % 200_000 + 1,
            300_000 + i
        ));
    }
    db.sql_in_background(s)
}

#[test]
fn concurrent_writer_during_snapshot_converges_exactly() {
    let db = seeded(200_000);
    let work = Work::new();
    let conn = work.write_connector("c.json", &db.connector("w", &PLAIN));
    let w = writer(&db, 4);
    std::thread::sleep(Duration::from_millis(300));
    work.catch_up(&conn, "out.jsonl");
    w.join().unwrap();
    work.catch_up(&conn, "out.jsonl");
    let lines = work.lines("out.jsonl");
    assert!(lines.iter().filter(|l| payload(l)["op"] == "r").count() >= 199_000);
    assert!(
        lines.iter().any(|l| payload(l)["op"] == "u"),
        "changes streamed after the snapshot"
    );
    assert_converged(&db, &lines);
}

#[test]
fn snapshot_takes_no_global_lock() {
    // rows of ~220 bytes: a 150,000-row chunk (33 MB) is far larger than socket buffers, so a
    // reader ahead of the consumer keeps its query open on the server, blocked sending, and
    // concurrent reads show in the process list
    let db = Maria::start_with(&["--innodb-log-file-size=512M"]);
    db.sql(
        "CREATE DATABASE app; USE app;
         CREATE TABLE t (id BIGINT PRIMARY KEY, v BIGINT NOT NULL, pad VARCHAR(200) NOT NULL);
         INSERT INTO t SELECT seq, 0, REPEAT('x', 200) FROM seq_1_to_1000000;
         CREATE TABLE other (id INT PRIMARY KEY);",
    );
    // the same statements, timed by the server itself in one session (client start-up is not
    // what is tested): once on a quiet server, then while the snapshot reads
    let timed = |k: i64| -> Duration {
        let micros: u64 = db
            .sql(&format!(
                "SET @t = NOW(6); INSERT INTO app.t VALUES ({k}, 1, 'x'); FLUSH TABLES app.other;
                 INSERT INTO app.other VALUES ({k}); SELECT TIMESTAMPDIFF(MICROSECOND, @t, NOW(6));"
            ))
            .trim()
            .parse()
            .unwrap();
        Duration::from_micros(micros)
    };
    let quiet = timed(2_000_001);
    let work = Work::new();
    // app.other is not captured: tables the snapshot reads keep a shared metadata lock until
    // its transaction ends (as any InnoDB transaction does), other tables are untouched
    let mut props = PLAIN.to_vec();
    props.push(("table.include.list", "app.t"));
    props.push(("snapshot.max.threads", "4"));
    props.push(("snapshot.chunk.size", "150000"));
    let conn = work.write_connector("c.json", &db.connector("l", &props));
    // the null sink keeps the disk quiet: what is measured is locking, not I/O contention
    let mut child = common::sluice()
        .args([
            "run",
            conn.to_str().unwrap(),
            "--sink",
            "null",
            "--data-dir",
        ])
        .arg(work.path("data"))
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let in_progress = |w: &Work| {
        w.offsets("l").is_some_and(|o| {
            o["offsets"][0]["value"]["snapshot"] == true
                && o["offsets"][0]["value"]["snapshot_key"].is_array()
        })
    };
    assert!(
        wait_until(Duration::from_secs(60), || in_progress(&work)),
        "snapshot did not start"
    );
    let took = timed(2_000_002);
    let still_running = in_progress(&work);
    // the readers work at once: several chunk SELECTs of app.t are open on the server together
    // (the chunk boundary queries, `… LIMIT 1 OFFSET n`, are not counted)
    let readers = || -> usize {
        db.sql("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = 'cdc' AND INFO LIKE 'SELECT%FROM `app`.`t`%' AND INFO NOT LIKE '%OFFSET%'")
            .trim()
            .parse()
            .unwrap()
    };
    let mut most = 0;
    wait_until(Duration::from_secs(10), || {
        most = most.max(readers());
        most >= 2
    });
    common::signal(&mut child, "-TERM");
    assert!(
        still_running,
        "the statements must run while the snapshot is in progress"
    );
    assert!(
        most >= 2,
        "parallel readers: at most {most} chunk read(s) open at once"
    );
    assert!(
        took < quiet + Duration::from_millis(500),
        "writes waited {took:?} during the snapshot (quiet server: {quiet:?})"
    );
}

#[test]
fn kill_9_mid_snapshot_then_restart_converges() {
    let db = seeded(300_000);
    let work = Work::new();
    let conn = work.write_connector("c.json", &db.connector("k", &PLAIN));
    let mut child = work.spawn(&conn, "first.jsonl");
    assert!(wait_until(Duration::from_secs(60), || {
        std::fs::metadata(work.path("first.jsonl"))
            .map(|m| m.len() > 3_000_000)
            .unwrap_or(false)
    }));
    common::signal(&mut child, "-KILL");
    let first = work.lines("first.jsonl");
    assert!(first.len() < 300_000, "killed mid-snapshot");
    db.sql("USE app; UPDATE t SET v = 42 WHERE id <= 10; DELETE FROM t WHERE id = 20;");
    work.catch_up(&conn, "second.jsonl");
    let mut all = first;
    all.extend(work.lines("second.jsonl"));
    assert_converged(&db, &all);
}

fn incremental_connector(db: &Maria, name: &str) -> serde_json::Value {
    db.connector(
        name,
        &[
            ("snapshot.mode", "no_data"),
            ("table.include.list", "app.t"),
            ("signal.data.collection", "app.debezium_signal"),
            ("incremental.snapshot.chunk.size", "4096"),
            ("key.converter.schemas.enable", "false"),
            ("value.converter.schemas.enable", "false"),
        ],
    )
}

fn incremental_done(work: &Work, name: &str) -> bool {
    work.offsets(name).is_some_and(|o| {
        o["offsets"][0]["value"]
            .get("incremental_snapshot")
            .is_none()
    })
}

#[test]
fn incremental_snapshot_with_a_concurrent_writer_converges_exactly() {
    let db = seeded(200_000);
    with_signal_table(&db);
    let work = Work::new();
    let conn = work.write_connector("c.json", &incremental_connector(&db, "inc"));
    work.catch_up(&conn, "out.jsonl"); // streaming starts now: no initial snapshot
    let mut child = work.spawn(&conn, "out.jsonl");
    let w = hot_writer(&db, 30_000);
    std::thread::sleep(Duration::from_millis(200));
    db.sql(r#"INSERT INTO app.debezium_signal VALUES ('sig-1', 'execute-snapshot', '{"data-collections": ["app.t"], "type": "incremental"}')"#);
    w.join().unwrap();
    let finished = wait_until(Duration::from_secs(120), || {
        incremental_done(&work, "inc")
            && work
                .lines("out.jsonl")
                .iter()
                .filter(|l| payload(l)["op"] == "r")
                .count()
                > 150_000
    });
    common::signal(&mut child, "-TERM");
    let log = std::fs::read_to_string(work.path("out.jsonl.log")).unwrap_or_default();
    assert!(
        finished,
        "incremental snapshot did not finish:\n{}",
        &log[log.len().saturating_sub(3000)..]
    );
    let lines = work.lines("out.jsonl");
    let reads: Vec<&Value> = lines.iter().filter(|l| payload(l)["op"] == "r").collect();
    assert!(reads
        .iter()
        .all(|l| payload(l)["source"]["snapshot"] == "incremental"));
    assert!(
        lines.iter().any(|l| payload(l)["op"] == "u"),
        "the writer's changes were streamed"
    );
    assert!(
        lines
            .iter()
            .all(|l| l["topic"] != "test.app.debezium_signal"),
        "signal and watermark rows are not change events"
    );
    assert_converged(&db, &lines);
}

#[test]
fn incremental_snapshot_resumes_after_kill_9() {
    let db = seeded(200_000);
    with_signal_table(&db);
    let work = Work::new();
    let conn = work.write_connector("c.json", &incremental_connector(&db, "ik"));
    work.catch_up(&conn, "first.jsonl");
    let mut child = work.spawn(&conn, "first.jsonl");
    db.sql(r#"INSERT INTO app.debezium_signal VALUES ('sig-2', 'execute-snapshot', '{"data-collections": ["app.t"]}')"#);
    assert!(wait_until(Duration::from_secs(60), || {
        work.offsets("ik")
            .is_some_and(|o| o["offsets"][0]["value"]["incremental_snapshot"]["key"].is_array())
    }));
    common::signal(&mut child, "-KILL");
    let first = work.lines("first.jsonl");
    assert!(
        first.len() < 200_000,
        "killed in the middle of the incremental snapshot"
    );
    db.sql("USE app; UPDATE t SET v = 7 WHERE id <= 100; DELETE FROM t WHERE id BETWEEN 150000 AND 150010;");
    let mut again = work.spawn(&conn, "second.jsonl");
    let finished = wait_until(Duration::from_secs(120), || incremental_done(&work, "ik"));
    common::signal(&mut again, "-TERM");
    assert!(
        finished,
        "the incremental snapshot continued after the restart"
    );
    let mut all = first;
    all.extend(work.lines("second.jsonl"));
    assert_converged(&db, &all);
}

#[test]
fn the_cli_signals_an_incremental_snapshot() {
    let db = seeded(5_000);
    with_signal_table(&db);
    let work = Work::new();
    let conn = work.write_connector("c.json", &incremental_connector(&db, "cli"));
    let cli = |args: &[&str]| {
        common::sluice()
            .arg("snapshot")
            .arg(&conn)
            .args(args)
            .arg("--data-dir")
            .arg(work.path("data"))
            .output()
            .unwrap()
    };
    work.catch_up(&conn, "out.jsonl");
    let mut child = work.spawn(&conn, "out.jsonl");
    let out = cli(&["--tables", "app.t"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let done = wait_until(Duration::from_secs(60), || {
        work.lines("out.jsonl").len() >= 5_000
    });
    common::signal(&mut child, "-TERM");
    assert!(done, "the snapshot ran");
    assert_converged(&db, &work.lines("out.jsonl"));

    // a connector without a signal table is told how to set one up
    let plain = work.write_connector("plain.json", &db.connector("plain", &[]));
    let out = common::sluice()
        .args(["snapshot", plain.to_str().unwrap(), "--tables", "app.t"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("signal.data.collection"),
        "{err}"
    );
}
