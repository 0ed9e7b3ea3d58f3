//! `sluice offsets`: see where a connector is, move it to a binlog position (validated on the
//! server), or reset it — never under a running connector.

mod common;

use std::process::Output;
use std::time::Duration;

use common::{ops, wait_until, Maria, Work};
use serde_json::Value;

fn offsets(work: &Work, args: &[&str]) -> Output {
    common::sluice()
        .arg("offsets")
        .args(args)
        .arg("--data-dir")
        .arg(work.path("data"))
        .output()
        .unwrap()
}

fn show(work: &Work, conn: &std::path::Path) -> Value {
    let out = offsets(work, &["show", conn.to_str().unwrap(), "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn show_set_and_reset() {
    let db = Maria::start();
    db.sql("CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY)");
    let work = Work::new();
    let conn = work.write_connector(
        "c.json",
        &db.connector("o", &[("snapshot.mode", "initial")]),
    );
    let c = conn.to_str().unwrap();
    work.catch_up(&conn, "out.jsonl");
    let s = show(&work, &conn);
    assert_eq!(s["bytes_behind"], 0, "{s}");
    assert_eq!(s["file_exists"], true);

    let before: Vec<String> = db
        .sql("SHOW MASTER STATUS")
        .split('\t')
        .map(str::to_string)
        .collect();
    let (file, pos) = (before[0].clone(), before[1].clone());
    db.sql("INSERT INTO app.t VALUES (1),(2),(3)");
    assert!(
        show(&work, &conn)["bytes_behind"].as_u64().unwrap() > 0,
        "behind after new changes"
    );
    work.catch_up(&conn, "out.jsonl");
    let saved = std::fs::read(work.path("data/offsets/o.json")).unwrap();

    // a purged file, and a position inside an event: refused, offsets untouched
    let out = offsets(&work, &["set", c, "--binlog", "mysql-bin.000077:4"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("purged") && err.contains("expire_logs_days"),
        "{err}"
    );
    let inside = format!("{file}:{}", pos.parse::<u64>().unwrap() + 1);
    let out = offsets(&work, &["set", c, "--binlog", &inside]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("not the start of a binlog event"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(work.path("data/offsets/o.json")).unwrap(),
        saved
    );

    // back to before the inserts: exactly those rows again
    let out = offsets(&work, &["set", c, "--binlog", &format!("{file}:{pos}")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    work.catch_up(&conn, "replay.jsonl");
    assert_eq!(
        ops(&work.lines("replay.jsonl")),
        vec![("c".into(), 1), ("c".into(), 2), ("c".into(), 3)]
    );

    // reset: the next start snapshots the table again
    let out = offsets(&work, &["reset", c]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(show(&work, &conn)["offset"].is_null());
    work.catch_up(&conn, "again.jsonl");
    let again = work.lines("again.jsonl");
    assert_eq!(
        ops(&again),
        vec![("r".into(), 1), ("r".into(), 2), ("r".into(), 3)]
    );
}

#[test]
fn offsets_cannot_change_under_a_running_connector() {
    let db = Maria::start();
    db.sql("CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY)");
    let work = Work::new();
    let conn = work.write_connector("c.json", &db.connector("busy", &[]));
    let mut child = work.spawn(&conn, "out.jsonl");
    assert!(wait_until(Duration::from_secs(30), || work
        .offsets("busy")
        .is_some()));
    let out = offsets(&work, &["reset", conn.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    let twice = work
        .command(&conn, "second.jsonl", &["--exit-when-caught-up"])
        .output()
        .unwrap();
    let twice_err = String::from_utf8_lossy(&twice.stderr);
    common::signal(&mut child, "-TERM");
    assert!(
        !out.status.success() && err.contains("is running") && err.contains("stop it"),
        "{err}"
    );
    assert!(
        !twice.status.success() && twice_err.contains("already running"),
        "{twice_err}"
    );
    assert!(work.offsets("busy").is_some(), "offsets untouched");
}

#[test]
fn set_timestamp_replays_exactly_the_transactions_from_that_second() {
    let db = Maria::start();
    db.sql("CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY)");
    let work = Work::new();
    let conn = work.write_connector("c.json", &db.connector("ts", &[]));
    let c = conn.to_str().unwrap();
    work.catch_up(&conn, "all.jsonl");
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
    };
    let insert = |ids: std::ops::RangeInclusive<i64>| {
        for id in ids {
            db.sql(&format!("INSERT INTO app.t VALUES ({id})"));
        }
    };
    // rows 1–5 before the target second, spread over two binlog files
    insert(1..=3);
    db.sql("FLUSH BINARY LOGS");
    insert(4..=5);
    let target = now().as_secs() + 1;
    std::thread::sleep(Duration::from_secs(target) - now() + Duration::from_millis(50));
    // rows 6–10 at or after it, over two more files
    db.sql("FLUSH BINARY LOGS");
    insert(6..=8);
    db.sql("FLUSH BINARY LOGS");
    insert(9..=10);
    work.catch_up(&conn, "all.jsonl");
    assert_eq!(ops(&work.lines("all.jsonl")).len(), 10);

    let out = offsets(&work, &["set", c, "--timestamp", &target.to_string()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    work.catch_up(&conn, "replay.jsonl");
    let ids: Vec<i64> = ops(&work.lines("replay.jsonl"))
        .into_iter()
        .map(|(_, id)| id)
        .collect();
    assert_eq!(ids, (6..=10).collect::<Vec<_>>());

    // a time after the last event moves to the end: nothing is replayed
    let later = (now().as_secs() + 3600).to_string();
    let out = offsets(&work, &["set", c, "--timestamp", &later]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    work.catch_up(&conn, "nothing.jsonl");
    assert!(ops(&work.lines("nothing.jsonl")).is_empty());
}

#[test]
fn set_gtid_replays_the_transactions_after_that_gtid_position() {
    let db = Maria::start();
    db.sql("CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY)");
    let work = Work::new();
    let conn = work.write_connector("c.json", &db.connector("g", &[]));
    let c = conn.to_str().unwrap();
    work.catch_up(&conn, "all.jsonl");
    for id in 1..=3 {
        db.sql(&format!("INSERT INTO app.t VALUES ({id})"));
    }
    let after_three = db.sql("SELECT @@gtid_binlog_pos");
    db.sql("FLUSH BINARY LOGS");
    for id in 4..=6 {
        db.sql(&format!("INSERT INTO app.t VALUES ({id})"));
    }
    work.catch_up(&conn, "all.jsonl");
    assert_eq!(ops(&work.lines("all.jsonl")).len(), 6);

    let out = offsets(&work, &["set", c, "--gtid", &after_three]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(show(&work, &conn)["offset"]["gtids"], after_three.as_str());
    work.catch_up(&conn, "replay.jsonl");
    let ids: Vec<i64> = ops(&work.lines("replay.jsonl"))
        .into_iter()
        .map(|(_, id)| id)
        .collect();
    assert_eq!(ids, vec![4, 5, 6]);

    let bad = offsets(&work, &["set", c, "--gtid", "0-1-999999"]);
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("0-1-999999"), "{err}");
}
