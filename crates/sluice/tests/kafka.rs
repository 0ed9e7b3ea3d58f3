//! MariaDB → Kafka: what lands in the topics is what the embedded mode writes, offsets live in
//! Connect's offsets topic, a kill -9 loses nothing (and with exactly-once, a read_committed
//! consumer sees nothing twice), and a lost schema history is never papered over.
//!
//! Every test runs against Apache Kafka started by scripts/kafka.sh.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use common::kafka::{java_partition, murmur2, Broker, Record};
use common::{wait_until, Maria, Work};
use serde_json::Value;

fn kafka_command(work: &Work, conn: &Path, broker: &Broker, extra: &[&str]) -> Command {
    work.command_to(conn, &format!("kafka:{}", broker.bootstrap()), extra)
}

fn kafka_catch_up(work: &Work, conn: &Path, broker: &Broker) -> Output {
    common::succeeded(kafka_command(
        work,
        conn,
        broker,
        &["--exit-when-caught-up"],
    ))
}

fn kafka_spawn(work: &Work, conn: &Path, broker: &Broker, log: &str) -> Child {
    kafka_command(work, conn, broker, &[])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(work.path(log)).unwrap())
        .spawn()
        .unwrap()
}

/// Per (topic, key): the values in order (per-key order is what Kafka guarantees), without the
/// envelope's processing time (`ts_ms`/`ts_us`/`ts_ns` say when sluice read the event, which
/// differs between two runs).
fn by_key(
    items: impl Iterator<Item = (String, Value, Value)>,
) -> BTreeMap<(String, String), Vec<String>> {
    let mut m: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for (topic, key, mut value) in items {
        if let Some(p) = value.get_mut("payload").and_then(Value::as_object_mut) {
            for k in ["ts_ms", "ts_us", "ts_ns"] {
                p.remove(k);
            }
        }
        m.entry((topic, key.to_string()))
            .or_default()
            .push(value.to_string());
    }
    m
}

const WORKLOAD: &str = "
    CREATE DATABASE app;
    USE app;
    CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(20), d DECIMAL(10,2), ts DATETIME(6));
    CREATE TABLE app.u (a INT, b VARCHAR(10), x INT, PRIMARY KEY (a, b));
    INSERT INTO app.t SELECT seq, CONCAT('v', seq), seq / 7, '2026-11-22 10:00:00.123456' FROM seq_1_to_300;
    UPDATE app.t SET v = CONCAT(v, '!'), d = d + 1 WHERE id % 4 = 0;
    DELETE FROM app.t WHERE id % 15 = 0;
    INSERT INTO app.u SELECT seq, CONCAT('k', seq % 3), seq FROM seq_1_to_60;
    UPDATE app.u SET x = x * 2 WHERE a < 10;
    DELETE FROM app.u WHERE a > 50;";

#[test]
fn events_in_kafka_equal_the_embedded_output() {
    let db = Maria::start();
    let broker = Broker::start();
    let work = Work::new();
    let settings = [
        ("topic.creation.default.partitions", "3"),
        ("topic.creation.default.replication.factor", "1"),
    ];
    let embedded = work.write_connector("e.json", &db.connector("e", &settings));
    let kafka = work.write_connector("k.json", &db.connector("k", &settings));
    // both start at the position before the workload (snapshot.mode=no_data)
    work.catch_up(&embedded, "out.jsonl");
    kafka_catch_up(&work, &kafka, &broker);
    db.sql(WORKLOAD);
    work.catch_up(&embedded, "out.jsonl");
    kafka_catch_up(&work, &kafka, &broker);

    let lines = work.lines("out.jsonl");
    assert!(
        lines.len() > 400,
        "workload produced {} events",
        lines.len()
    );
    let records = broker.consume(&["test.app.t", "test.app.u"], false);
    assert_eq!(records.len(), lines.len(), "same number of records");
    let expected = by_key(lines.iter().map(|l| {
        (
            l["topic"].as_str().unwrap().to_string(),
            l["key"].clone(),
            l["value"].clone(),
        )
    }));
    let actual = by_key(
        records
            .iter()
            .map(|r| (r.topic.clone(), r.key.clone(), r.value.clone())),
    );
    assert_eq!(actual.len(), expected.len(), "same keys");
    for (k, want) in &expected {
        assert_eq!(actual.get(k), Some(want), "values and order of key {k:?}");
    }
    for r in &records {
        assert_eq!(
            r.partition,
            java_partition(&r.key_bytes, 3),
            "key {} must be in the partition the Java client picks",
            r.key
        );
    }
    let partitions: BTreeSet<i32> = records.iter().map(|r| r.partition).collect();
    assert_eq!(partitions.len(), 3, "keys spread over the 3 partitions");
    // tombstones are records with a key and a null value
    assert!(records
        .iter()
        .any(|r| r.value.is_null() && !r.key.is_null()));
}

#[test]
fn murmur2_matches_the_java_client() {
    // values from Kafka's UtilsTest.testMurmur2
    assert_eq!(murmur2(b"21"), -973932308);
    assert_eq!(murmur2(b"foobar"), -790332482);
    assert_eq!(murmur2(b"a-little-bit-long-string"), -985981536);
    assert_eq!(murmur2(b"a-little-bit-longer-string"), -1486304829);
    assert_eq!(
        murmur2(b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"),
        -58897971
    );
    assert_eq!(murmur2(b"abc"), 479470107);
}

fn offset_records(broker: &Broker, connector: &str) -> Vec<Record> {
    broker
        .consume(&["connect-offsets"], true)
        .into_iter()
        .filter(|r| r.key == serde_json::json!([connector, {"server": "test"}]))
        .collect()
}

fn ids(records: &[Record], topic: &str) -> Vec<i64> {
    records
        .iter()
        .filter(|r| r.topic == topic && !r.value.is_null())
        .map(|r| {
            let p = &r.value["payload"];
            let row = if p["after"].is_null() {
                &p["before"]
            } else {
                &p["after"]
            };
            row["id"].as_i64().unwrap()
        })
        .collect()
}

#[test]
fn offsets_live_in_the_offsets_topic_and_a_restart_resumes_from_them() {
    let db = Maria::start();
    let broker = Broker::start();
    let work = Work::new();
    db.sql("CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY, v INT)");
    let conn = work.write_connector("k.json", &db.connector("k", &[]));
    kafka_catch_up(&work, &conn, &broker);
    db.sql("USE app; INSERT INTO app.t SELECT seq, seq FROM seq_1_to_100");
    kafka_catch_up(&work, &conn, &broker);
    let offsets = offset_records(&broker, "k");
    let last = &offsets
        .last()
        .expect("an offset record for connector k")
        .value;
    assert!(
        last["file"].as_str().unwrap().starts_with("mysql-bin."),
        "{last}"
    );
    assert!(last["pos"].as_u64().unwrap() > 4, "{last}");
    assert_eq!(
        offsets[0].partition,
        java_partition(&offsets[0].key_bytes, 25),
        "the offset key is in the partition Kafka Connect would write it to"
    );
    assert!(
        !work.path("data/offsets/k.json").exists(),
        "no offsets file when offsets live in Kafka"
    );
    db.sql("USE app; INSERT INTO app.t SELECT seq, seq FROM seq_101_to_150");
    kafka_catch_up(&work, &conn, &broker);
    let mut got = ids(&broker.consume(&["test.app.t"], false), "test.app.t");
    got.sort();
    assert_eq!(got, (1..=150).collect::<Vec<_>>(), "every row exactly once");
}

#[test]
fn switching_offset_storage_from_file_to_kafka_keeps_the_position() {
    let db = Maria::start();
    let broker = Broker::start();
    let work = Work::new();
    db.sql("CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY, v INT)");
    let conn = work.write_connector("c.json", &db.connector("c", &[]));
    work.catch_up(&conn, "file.jsonl");
    db.sql("USE app; INSERT INTO app.t SELECT seq, seq FROM seq_1_to_40");
    work.catch_up(&conn, "file.jsonl");
    assert_eq!(common::ops(&work.lines("file.jsonl")).len(), 40);
    db.sql("USE app; INSERT INTO app.t SELECT seq, seq FROM seq_41_to_70");
    let out = kafka_catch_up(&work, &conn, &broker);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("copied into the offsets topic"), "{log}");
    let mut got = ids(&broker.consume(&["test.app.t"], false), "test.app.t");
    got.sort();
    assert_eq!(
        got,
        (41..=70).collect::<Vec<_>>(),
        "Kafka continues where the file offsets were"
    );
    assert!(!offset_records(&broker, "c").is_empty());
}

const BIG: i64 = 100_000;

/// Inserts ids 1..=BIG in transactions of 1,000 rows, slowly enough to be interrupted.
fn big_writer(db: &Maria) -> std::thread::JoinHandle<()> {
    let mut s = String::from("USE app;");
    for start in (1..=BIG).step_by(1000) {
        s.push_str(&format!(
            "INSERT INTO t SELECT seq, seq FROM seq_{start}_to_{}; DO SLEEP(0.02);",
            start + 999
        ));
    }
    db.sql_in_background(s)
}

fn kill_9_mid_stream(exactly_once: bool) -> (Vec<i64>, Vec<i64>) {
    let db = Maria::start();
    let broker = Broker::start();
    let work = Work::new();
    db.sql("CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY, v INT)");
    let mut extra = vec![("max.batch.size", "512")];
    if exactly_once {
        extra.push(("exactly.once.support", "required"));
    }
    let conn = work.write_connector("k.json", &db.connector("k", &extra));
    kafka_catch_up(&work, &conn, &broker);
    let mut child = kafka_spawn(&work, &conn, &broker, "run.log");
    let log = || std::fs::read_to_string(work.path("run.log")).unwrap_or_default();
    assert!(
        wait_until(Duration::from_secs(60), || log().contains("starting")),
        "sluice did not start streaming: {}",
        log()
    );
    let w = big_writer(&db);
    let count = || db.sql("SELECT COUNT(*) FROM app.t").parse::<i64>().unwrap();
    assert!(wait_until(Duration::from_secs(120), || count() >= BIG / 3));
    std::thread::sleep(Duration::from_millis(300));
    common::signal(&mut child, "-KILL");
    let before = ids(&broker.consume(&["test.app.t"], true), "test.app.t").len();
    assert!(
        before > 0 && (before as i64) < BIG,
        "the kill must interrupt a running stream ({before} delivered); log: {}",
        std::fs::read_to_string(work.path("run.log")).unwrap_or_default()
    );
    w.join().unwrap();
    kafka_catch_up(&work, &conn, &broker);
    let committed = ids(&broker.consume(&["test.app.t"], true), "test.app.t");
    let all = ids(&broker.consume(&["test.app.t"], false), "test.app.t");
    (committed, all)
}

fn assert_nothing_lost(ids: &[i64]) {
    let distinct: BTreeSet<i64> = ids.iter().copied().collect();
    assert_eq!(distinct.len() as i64, BIG, "every row delivered");
    assert_eq!(distinct.first(), Some(&1));
    assert_eq!(distinct.last(), Some(&BIG));
}

#[test]
fn kill_9_during_a_100k_event_stream_loses_nothing_at_least_once() {
    let (committed, _) = kill_9_mid_stream(false);
    assert_nothing_lost(&committed);
}

#[test]
fn kill_9_with_exactly_once_read_committed_sees_every_event_once() {
    let (committed, all) = kill_9_mid_stream(true);
    let mut sorted = committed.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        (1..=BIG).collect::<Vec<_>>(),
        "read_committed: every row exactly once"
    );
    // what the killed instance left in its open transaction is in the log but aborted (seen
    // here: 108,000 records read uncommitted, 100,000 committed)
    assert!(all.len() >= committed.len());
}

#[test]
fn a_deleted_schema_history_topic_stops_the_connector_until_recovery() {
    let db = Maria::start();
    let broker = Broker::start();
    let work = Work::new();
    db.sql("CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY, v INT)");
    let history = [("schema.history.internal.kafka.topic", "schemahistory.k")];
    let conn = work.write_connector("k.json", &db.connector("k", &history));
    kafka_catch_up(&work, &conn, &broker);
    db.sql("INSERT INTO app.t VALUES (1, 1)");
    kafka_catch_up(&work, &conn, &broker);
    let records = broker.consume(&["schemahistory.k"], false);
    assert!(!records.is_empty(), "history records in the topic");
    assert!(
        records[0].value["tableChanges"].is_array(),
        "Debezium's record format"
    );

    broker.delete_topic("schemahistory.k");
    db.sql("INSERT INTO app.t VALUES (2, 2)");
    let out = kafka_command(&work, &conn, &broker, &["--exit-when-caught-up"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "must stop: {err}");
    assert!(err.contains("snapshot.mode=recovery"), "{err}");
    assert_eq!(
        ids(&broker.consume(&["test.app.t"], false), "test.app.t"),
        vec![1]
    );

    let mut recovery = db.connector("k", &history);
    recovery["config"]["snapshot.mode"] = "recovery".into();
    let conn = work.write_connector("k.json", &recovery);
    let out = kafka_catch_up(&work, &conn, &broker);
    assert!(String::from_utf8_lossy(&out.stderr).contains("SCHEMA HISTORY REBUILT"));
    assert_eq!(
        ids(&broker.consume(&["test.app.t"], false), "test.app.t"),
        vec![1, 2]
    );
    assert!(!broker.consume(&["schemahistory.k"], false).is_empty());
}

#[test]
fn heartbeats_move_the_offset_while_captured_tables_are_idle() {
    let db = Maria::start();
    let broker = Broker::start();
    let work = Work::new();
    db.sql(
        "CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY);
         CREATE TABLE app.other (id INT AUTO_INCREMENT PRIMARY KEY, v INT)",
    );
    let conn = work.write_connector(
        "k.json",
        &db.connector(
            "k",
            &[
                ("table.include.list", "app.t"),
                ("heartbeat.interval.ms", "200"),
            ],
        ),
    );
    kafka_catch_up(&work, &conn, &broker);
    let start = offset_records(&broker, "k").last().unwrap().value.clone();
    let mut child = kafka_spawn(&work, &conn, &broker, "run.log");
    for i in 0..20 {
        db.sql(&format!("INSERT INTO app.other (v) VALUES ({i})"));
        std::thread::sleep(Duration::from_millis(100));
    }
    let end_pos: u64 = db
        .sql("SHOW MASTER STATUS")
        .split('\t')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    assert!(common::signal(&mut child, "-TERM").success());

    let beats = broker.consume(&["__debezium-heartbeat.test"], false);
    assert!(beats.len() >= 3, "{} heartbeats", beats.len());
    assert_eq!(
        beats[0].key["payload"],
        serde_json::json!({"serverName": "test"})
    );
    assert_eq!(
        beats[0].key["schema"]["name"],
        "io.debezium.connector.common.ServerNameKey"
    );
    assert!(beats[0].value["payload"]["ts_ms"].as_i64().unwrap() > 1_700_000_000_000);
    assert!(
        broker.consume(&["test.app.t"], false).is_empty(),
        "no data events"
    );
    let last = offset_records(&broker, "k").last().unwrap().value.clone();
    assert!(
        last["pos"].as_u64().unwrap() >= end_pos && last["pos"] != start["pos"],
        "offset moved from {start} to {last}, binlog end {end_pos}"
    );
}

#[test]
fn a_record_the_broker_cannot_take_stops_the_connector_without_moving_the_offset() {
    let db = Maria::start();
    let broker = Broker::start();
    let work = Work::new();
    db.sql("CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY, v TEXT)");
    let small = [("producer.message.max.bytes", "4000")];
    let conn = work.write_connector("k.json", &db.connector("k", &small));
    kafka_catch_up(&work, &conn, &broker);
    let before = offset_records(&broker, "k").last().unwrap().value.clone();
    db.sql("INSERT INTO app.t VALUES (1, REPEAT('x', 20000))");
    let out = kafka_command(&work, &conn, &broker, &["--exit-when-caught-up"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "must fail: {err}");
    assert!(
        err.contains("test.app.t"),
        "the error names the topic: {err}"
    );
    assert_eq!(
        offset_records(&broker, "k").last().unwrap().value,
        before,
        "offset unchanged"
    );
    // with a limit the record fits in, the same row is delivered: nothing was lost
    let conn = work.write_connector("k.json", &db.connector("k", &[]));
    kafka_catch_up(&work, &conn, &broker);
    assert_eq!(
        ids(&broker.consume(&["test.app.t"], false), "test.app.t"),
        vec![1]
    );
}

fn offsets_cli(work: &Work, broker: &Broker, args: &[&str]) -> Output {
    let out = common::sluice()
        .arg("offsets")
        .args(args)
        .arg("--data-dir")
        .arg(work.path("data"))
        .arg("--sink")
        .arg(format!("kafka:{}", broker.bootstrap()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "sluice offsets {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn offsets_in_kafka_can_be_shown_moved_and_reset() {
    let db = Maria::start();
    let broker = Broker::start();
    let work = Work::new();
    db.sql("CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY)");
    let history = [("schema.history.internal.kafka.topic", "schemahistory.k")];
    let conn = work.write_connector("k.json", &db.connector("k", &history));
    let c = conn.to_str().unwrap();
    kafka_catch_up(&work, &conn, &broker);
    let master: Vec<String> = db
        .sql("SHOW MASTER STATUS")
        .split('\t')
        .map(str::to_string)
        .collect();
    db.sql("INSERT INTO app.t VALUES (1),(2)");
    kafka_catch_up(&work, &conn, &broker);

    let show = |work: &Work| -> Value {
        serde_json::from_slice(&offsets_cli(work, &broker, &["show", c, "--json"]).stdout).unwrap()
    };
    let s = show(&work);
    assert_eq!(s["offsets"], "kafka topic connect-offsets", "{s}");
    assert_eq!(s["bytes_behind"], 0, "{s}");

    // replay from before the inserts: the rows come again
    let target = format!("{}:{}", master[0], master[1]);
    offsets_cli(&work, &broker, &["set", c, "--binlog", &target]);
    assert_eq!(show(&work)["offset"]["pos"].to_string(), master[1]);
    let last = offset_records(&broker, "k").last().unwrap().value.clone();
    assert_eq!(
        last["pos"].to_string(),
        master[1],
        "the move is a record in connect-offsets"
    );
    kafka_catch_up(&work, &conn, &broker);
    assert_eq!(
        ids(&broker.consume(&["test.app.t"], false), "test.app.t"),
        vec![1, 2, 1, 2]
    );

    // reset: a tombstone for the key and the history topic deleted
    offsets_cli(&work, &broker, &["reset", c]);
    assert!(offset_records(&broker, "k").last().unwrap().value.is_null());
    assert!(show(&work)["offset"].is_null());
    assert!(!broker.topics().contains(&"schemahistory.k".to_string()));
}
