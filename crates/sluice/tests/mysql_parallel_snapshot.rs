//! Parallel chunked initial snapshots (`snapshot.max.threads`, `snapshot.chunk.size`): several
//! readers, the same events in the same order as one reader, an exact final state under a
//! writer that never pauses, and `additional-conditions` for incremental snapshots.

mod common;

use std::time::Duration;

use common::{
    assert_converged, hot_writer, payload, seeded, wait_until, with_signal_table, Maria, Work,
};
use serde_json::Value;

/// What a snapshot event says about the data: topic, key, row, op and snapshot marker.
fn essence(lines: &[Value]) -> Vec<(String, Value, Value, String, String)> {
    lines
        .iter()
        .map(|l| {
            let p = payload(l);
            (
                l["topic"].as_str().unwrap().to_string(),
                l["key"].clone(),
                p["after"].clone(),
                p["op"].as_str().unwrap().to_string(),
                p["source"]["snapshot"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn snapshot_with(db: &Maria, work: &Work, name: &str, threads: &str, chunk: &str) -> Vec<Value> {
    let conn = work.write_connector(
        &format!("{name}.json"),
        &db.connector(
            name,
            &[
                ("snapshot.mode", "initial_only"),
                ("snapshot.max.threads", threads),
                ("snapshot.chunk.size", chunk),
                ("key.converter.schemas.enable", "false"),
                ("value.converter.schemas.enable", "false"),
            ],
        ),
    );
    let out = format!("{name}.jsonl");
    work.catch_up(&conn, &out);
    work.lines(&out)
}

#[test]
fn parallel_readers_deliver_what_one_reader_delivers_in_the_same_order() {
    let db = Maria::start();
    db.sql(
        "CREATE DATABASE app; USE app;
         CREATE TABLE a (g INT, name VARCHAR(20), v INT, PRIMARY KEY (g, name));
         INSERT INTO a SELECT seq % 7, CONCAT('n', seq), seq FROM seq_1_to_5000;
         CREATE TABLE b (v INT); INSERT INTO b SELECT seq FROM seq_1_to_300;
         CREATE TABLE c (id INT PRIMARY KEY);
         CREATE TABLE d (k VARCHAR(30) PRIMARY KEY, v TEXT);
         INSERT INTO d SELECT CONCAT('key ''', seq, '\\\\'), REPEAT('x', seq % 50) FROM seq_1_to_2000;",
    );
    let work = Work::new();
    let one = snapshot_with(&db, &work, "one", "1", "20000");
    let four = snapshot_with(&db, &work, "four", "4", "333");
    assert_eq!(one.len(), 5000 + 300 + 2000);
    assert_eq!(
        essence(&one),
        essence(&four),
        "4 readers over 333-row chunks give the same events in the same order as one reader"
    );
    let markers: Vec<String> = essence(&four).into_iter().map(|e| e.4).collect();
    assert_eq!(markers[0], "first");
    assert_eq!(markers[4999], "last_in_data_collection");
    assert_eq!(markers[5000], "first_in_data_collection");
    assert_eq!(markers.last().unwrap(), "last");
}

#[test]
fn hot_writer_during_a_parallel_initial_snapshot_converges_exactly() {
    let db = seeded(200_000);
    let work = Work::new();
    let conn = work.write_connector(
        "c.json",
        &db.connector(
            "hot",
            &[
                ("snapshot.mode", "initial"),
                ("snapshot.max.threads", "4"),
                ("snapshot.chunk.size", "5000"),
                ("key.converter.schemas.enable", "false"),
                ("value.converter.schemas.enable", "false"),
            ],
        ),
    );
    let w = hot_writer(&db, 40_000);
    std::thread::sleep(Duration::from_millis(300));
    let first = work.catch_up(&conn, "out.jsonl");
    w.join().unwrap();
    work.catch_up(&conn, "out.jsonl");
    let log = String::from_utf8_lossy(&first.stderr);
    eprintln!(
        "readers aligned on one binlog position: {}",
        !log.contains("views differ")
    );
    let lines = work.lines("out.jsonl");
    assert!(lines.iter().filter(|l| payload(l)["op"] == "r").count() >= 190_000);
    assert!(lines.iter().any(|l| payload(l)["op"] == "u"));
    assert_converged(&db, &lines);
}

#[test]
fn incremental_snapshot_honours_additional_conditions() {
    let db = seeded(5_000);
    with_signal_table(&db);
    let work = Work::new();
    let conn = work.write_connector(
        "c.json",
        &db.connector(
            "cond",
            &[
                ("snapshot.mode", "no_data"),
                ("table.include.list", "app.t"),
                ("signal.data.collection", "app.debezium_signal"),
                ("incremental.snapshot.chunk.size", "300"),
                ("key.converter.schemas.enable", "false"),
                ("value.converter.schemas.enable", "false"),
            ],
        ),
    );
    work.catch_up(&conn, "out.jsonl");
    let mut child = work.spawn(&conn, "out.jsonl");
    db.sql(
        r#"INSERT INTO app.debezium_signal VALUES ('c-1', 'execute-snapshot',
           '{"data-collections": ["app.t"], "type": "incremental",
             "additional-conditions": [{"data-collection": "app.t", "filter": "id % 10 = 0 AND id > 1000"}]}')"#,
    );
    let done = wait_until(Duration::from_secs(60), || {
        work.offsets("cond").is_some_and(|o| {
            o["offsets"][0]["value"]
                .get("incremental_snapshot")
                .is_none()
        }) && !work.lines("out.jsonl").is_empty()
    });
    common::signal(&mut child, "-TERM");
    assert!(done, "the incremental snapshot finished");
    let ids: Vec<i64> = work
        .lines("out.jsonl")
        .iter()
        .filter(|l| payload(l)["op"] == "r")
        .map(|l| payload(l)["after"]["id"].as_i64().unwrap())
        .collect();
    let want: Vec<i64> = (1001..=5000).filter(|i| i % 10 == 0).collect();
    assert_eq!(ids, want, "only the rows meeting the filter, in key order");
}
