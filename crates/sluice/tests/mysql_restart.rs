//! Restarts: a clean stop resumes exactly (nothing lost, nothing repeated); a `kill -9` in the
//! middle of a stream loses nothing (at-least-once: only what was not yet committed repeats).

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{ops, wait_until, Maria, Work};

const ROWS: i64 = 6000;
const PER_TXN: i64 = 100;

/// Inserts ids 1..=ROWS in transactions of PER_TXN rows, slowly enough to be interrupted.
fn writer(db: &Maria) -> std::thread::JoinHandle<()> {
    let mut s = String::from("USE app;");
    for start in (1..=ROWS).step_by(PER_TXN as usize) {
        s.push_str(&format!(
            "INSERT INTO t SELECT seq, CONCAT('v', seq) FROM seq_{start}_to_{} ; DO SLEEP(0.05);",
            start + PER_TXN - 1
        ));
    }
    db.sql_in_background(s)
}

fn counts(lines: &[serde_json::Value]) -> BTreeMap<i64, usize> {
    let mut m = BTreeMap::new();
    for (op, id) in ops(lines) {
        assert_eq!(op, "c");
        *m.entry(id).or_default() += 1;
    }
    m
}

fn interrupted_run(signal: &str) -> (BTreeMap<i64, usize>, usize) {
    let db = Maria::start();
    db.sql("CREATE DATABASE app; CREATE TABLE app.t (id BIGINT PRIMARY KEY, v VARCHAR(20))");
    let work = Work::new();
    let conn = work.write_connector("c.json", &db.connector("r", &[]));
    work.catch_up(&conn, "first.jsonl");
    let mut child = work.spawn(&conn, "first.jsonl");
    let w = writer(&db);
    let mid = wait_until(Duration::from_secs(60), || {
        work.lines("first.jsonl").len() >= (ROWS / 3) as usize
    });
    assert!(
        mid,
        "sluice did not stream: {}",
        std::fs::read_to_string(work.path("first.jsonl.log")).unwrap_or_default()
    );
    let status = common::signal(&mut child, signal);
    if signal == "-TERM" {
        assert!(status.success(), "clean stop must exit 0");
    }
    let first = work.lines("first.jsonl").len();
    assert!(first < ROWS as usize, "the stop must interrupt the stream");
    w.join().unwrap();
    work.catch_up(&conn, "second.jsonl");
    let mut all = work.lines("first.jsonl");
    all.extend(work.lines("second.jsonl"));
    (counts(&all), first)
}

#[test]
fn clean_stop_then_restart_delivers_every_row_exactly_once() {
    let (counts, _) = interrupted_run("-TERM");
    assert_eq!(counts.len() as i64, ROWS, "every row delivered");
    assert!(
        counts.values().all(|&n| n == 1),
        "no row repeated: {:?}",
        counts
            .iter()
            .filter(|(_, n)| **n > 1)
            .take(5)
            .collect::<Vec<_>>()
    );
}

#[test]
fn kill_9_mid_stream_then_restart_loses_nothing() {
    let (counts, first) = interrupted_run("-KILL");
    assert_eq!(counts.len() as i64, ROWS, "every row delivered");
    let repeated = counts.values().filter(|&&n| n > 1).count();
    assert!(counts.values().all(|&n| n <= 2));
    assert!(repeated <= first, "only rows of the first run can repeat");
}

#[test]
fn stop_inside_a_large_transaction_resumes_at_the_next_row() {
    const BIG: i64 = 300_000;
    let db = Maria::start();
    db.sql("CREATE DATABASE app; CREATE TABLE app.t (id BIGINT PRIMARY KEY, v VARCHAR(20))");
    let work = Work::new();
    let plain = [
        ("key.converter.schemas.enable", "false"),
        ("value.converter.schemas.enable", "false"),
    ];
    let conn = work.write_connector("c.json", &db.connector("big", &plain));
    work.catch_up(&conn, "first.jsonl");
    db.sql(&format!(
        "USE app; INSERT INTO t SELECT seq, 'x' FROM seq_1_to_{BIG}"
    ));
    let mut child = work.spawn(&conn, "first.jsonl");
    let started = wait_until(Duration::from_secs(60), || {
        std::fs::metadata(work.path("first.jsonl"))
            .map(|m| m.len() > 2_000_000)
            .unwrap_or(false)
    });
    assert!(started);
    assert!(common::signal(&mut child, "-TERM").success());
    let offsets = work.offsets("big").unwrap();
    let first = work.lines("first.jsonl").len();
    let value = &offsets["offsets"][0]["value"];
    if (first as i64) < BIG {
        assert!(
            value["event"].as_u64().unwrap_or(0) > 0 || value["row"].as_u64().unwrap_or(0) > 0,
            "stopped mid-transaction, so the offset points inside it: {value}"
        );
    }
    work.catch_up(&conn, "second.jsonl");
    let mut all = work.lines("first.jsonl");
    all.extend(work.lines("second.jsonl"));
    let counts = counts(&all);
    assert_eq!(counts.len() as i64, BIG);
    assert!(counts.values().all(|&n| n == 1), "no row repeated");
}
