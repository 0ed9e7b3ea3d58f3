//! The PostgreSQL source against a private PostgreSQL 15 (scripts/postgres.sh, wal_level=logical).
//!
//! The reference events in tests/fixtures/postgres_debezium.jsonl were recorded from Debezium
//! 3.6.3's PostgreSQL connector (embedded engine, JsonConverter with schemas) on the rows of
//! tests/fixtures/postgres_types.sql (snapshot) and postgres_changes.sql (streamed).

mod common;

use std::collections::BTreeMap;
use std::io::BufRead;
use std::time::Duration;

use common::postgres::Pg;
use common::{fixture, payload, signal, wait_until, Work};
use serde_json::Value;

/// An event without what differs from run to run (times, LSNs, transaction ids, version).
fn normalized(line: &Value) -> Value {
    let mut l = line.clone();
    if let Some(p) = l["value"].get_mut("payload") {
        let o = p.as_object_mut().unwrap();
        for k in ["ts_ms", "ts_us", "ts_ns"] {
            o.remove(k);
        }
        let src = o.get_mut("source").unwrap().as_object_mut().unwrap();
        for k in [
            "version", "ts_ms", "ts_us", "ts_ns", "txId", "lsn", "sequence",
        ] {
            src.remove(k);
        }
        // Debezium 3.6 streams a `name` column as null (its pgoutput decoder lacks the type);
        // sluice streams the value. Compared in the snapshot only.
        if src_op(line) != "r" {
            for image in ["before", "after"] {
                if let Some(row) = o.get_mut(image).and_then(Value::as_object_mut) {
                    row.remove("c_citext_like");
                }
            }
        }
    }
    l
}

fn src_op(line: &Value) -> String {
    line["value"]["payload"]["op"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

/// Snapshot events in (topic, key) order, then the streamed ones as they came.
fn comparable(lines: &[Value]) -> Vec<Value> {
    let n = lines.iter().take_while(|l| src_op(l) == "r").count();
    let mut snap: Vec<Value> = lines[..n].iter().map(normalized).collect();
    snap.sort_by_key(|l| (l["topic"].to_string(), l["key"].to_string()));
    snap.extend(lines[n..].iter().map(normalized));
    snap
}

/// Runs sluice (connector and topic prefix `ref`, a filtered publication over `tables`, `extra`
/// properties) on a database holding `setup`'s rows, streams `changes`, and compares every event
/// with Debezium's, recorded in `reference`: key, value schema and payload (see `normalized`).
fn assert_matches_debezium(
    setup: &str,
    changes: &str,
    reference: &str,
    tables: &str,
    extra: &[(&str, &str)],
) {
    let pg = Pg::start();
    pg.sql("CREATE DATABASE ref");
    pg.sql_in("ref", &fixture(setup));
    let work = Work::new();
    let mut props = vec![
        ("publication.autocreate.mode", "filtered"),
        ("table.include.list", tables),
    ];
    props.extend_from_slice(extra);
    let mut doc = pg.connector("ref", "ref", &props);
    doc["config"]["topic.prefix"] = "ref".into();
    let c = work.write_connector("ref.json", &doc);
    let want: Vec<Value> = fixture(reference)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let snapshot = want.iter().take_while(|l| src_op(l) == "r").count();
    let mut child = work.spawn(&c, "out.jsonl");
    assert!(
        wait_until(Duration::from_secs(60), || work.lines("out.jsonl").len()
            >= snapshot),
        "snapshot events"
    );
    pg.sql_in("ref", &fixture(changes));
    assert!(
        wait_until(Duration::from_secs(60), || work.lines("out.jsonl").len()
            >= want.len()),
        "streamed events"
    );
    signal(&mut child, "-TERM");
    let got = work.lines("out.jsonl");
    assert_eq!(got.len(), want.len());
    let (got, want) = (comparable(&got), comparable(&want));
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g["topic"], w["topic"]);
        assert_eq!(g["key"], w["key"], "key of {}", w["topic"]);
        assert_eq!(
            g["value"]["schema"], w["value"]["schema"],
            "schema of {}",
            w["topic"]
        );
        assert_eq!(
            g["value"]["payload"], w["value"]["payload"],
            "payload of {} {}",
            w["topic"], w["key"]
        );
    }
}

#[test]
fn types_snapshot_and_changes_match_debezium_3_6() {
    assert_matches_debezium(
        "postgres_types.sql",
        "postgres_changes.sql",
        "postgres_debezium.jsonl",
        "public.types,public.toasty,public.full_ident,public.nokey",
        &[],
    );
}

/// Issue 19, recorded from Debezium 3.6.1 (scripts/record-postgres.sh, time.precision.mode
/// adaptive): `infinity` / `-infinity` dates and timestamps (in the snapshot, the stream, arrays
/// and column defaults), `tsvector` named `io.debezium.data.Tsvector`, `tsquery` left out,
/// enum and tsvector array items required, the arrays Debezium has no converter for left out,
/// an enum array holding a NULL item emitted as null.
#[test]
fn infinity_tsvector_and_array_items_match_debezium_3_6_1() {
    assert_matches_debezium(
        "postgres_issue19.sql",
        "postgres_issue19_changes.sql",
        "postgres_issue19_debezium.jsonl",
        ISSUE19_TABLES,
        &[],
    );
}

/// The same in time.precision.mode=connect (Connect's Date and Timestamp, millisecond
/// timestamps), recorded from Debezium 3.6.1 likewise.
#[test]
fn infinity_in_connect_time_precision_matches_debezium_3_6_1() {
    assert_matches_debezium(
        "postgres_issue19.sql",
        "postgres_issue19_changes.sql",
        "postgres_issue19_debezium_connect.jsonl",
        ISSUE19_TABLES,
        &[("time.precision.mode", "connect")],
    );
}

const ISSUE19_TABLES: &str = "public.inf,public.inf_def,public.tsv,public.arrays";

/// `end_lsn` of transaction `xid`'s commit record, read from the WAL (pg_walinspect) between
/// `from` and now: where the next transaction's WAL starts, and what pgoutput sends as the
/// commit's end LSN.
fn commit_end(pg: &Pg, from: &str, xid: &str) -> String {
    pg.sql(&format!(
        "SELECT end_lsn - '0/0' FROM pg_get_wal_records_info('{from}', pg_current_wal_flush_lsn()) \
         WHERE resource_manager = 'Transaction' AND record_type = 'COMMIT' AND xid = {xid}"
    ))
}

/// A transaction of `n` inserts into `s` from id `first` on; its xid.
fn transaction(pg: &Pg, first: i64, n: i64) -> String {
    pg.sql(&format!(
        "BEGIN; INSERT INTO s SELECT g FROM generate_series({first}, {}) g; SELECT txid_current(); COMMIT;",
        first + n - 1
    ))
    .lines()
    .last()
    .unwrap()
    .to_string()
}

/// `source.sequence` as Debezium 3.6.1 writes it (observed on Kafka Connect, PostgreSQL 15):
/// `["<end LSN of the previous transaction's commit>", "<lsn>"]`, both numbers as strings; the
/// first element is null in the snapshot and in the first transaction streamed after it, and a
/// restart keeps it (the first transaction after the restart has the end of the last one
/// before).
#[test]
fn source_sequence_starts_with_the_previous_transactions_end_lsn_across_restarts() {
    let pg = Pg::start();
    pg.sql("CREATE EXTENSION pg_walinspect; CREATE TABLE s (id int PRIMARY KEY); INSERT INTO s VALUES (1);");
    let work = Work::new();
    let c = work.write_connector(
        "c.json",
        &pg.connector("seq", "postgres", &[("table.include.list", "public\\.s")]),
    );
    let from = pg.sql("SELECT pg_current_wal_lsn()");
    work.catch_up(&c, "out.jsonl"); // the slot and the snapshot
    let a = transaction(&pg, 10, 2);
    let b = transaction(&pg, 20, 1);
    work.catch_up(&c, "out.jsonl");
    let c_xid = transaction(&pg, 30, 1);
    let d = transaction(&pg, 40, 2);
    work.catch_up(&c, "out.jsonl"); // a restart between b and c
    let (a_end, b_end, c_end) = (
        commit_end(&pg, &from, &a),
        commit_end(&pg, &from, &b),
        commit_end(&pg, &from, &c_xid),
    );
    assert!(commit_end(&pg, &from, &d).parse::<u64>().is_ok());
    let lines = work.lines("out.jsonl");
    let got: Vec<(i64, Value)> = lines
        .iter()
        .map(|l| {
            let p = payload(l);
            let seq: Value = serde_json::from_str(p["source"]["sequence"].as_str().unwrap())
                .expect("sequence is a JSON array in a string");
            assert_eq!(
                seq[1],
                p["source"]["lsn"].to_string(),
                "sequence[1] is the event's lsn"
            );
            (p["after"]["id"].as_i64().unwrap(), seq[0].clone())
        })
        .collect();
    let s = |v: &str| Value::String(v.to_string());
    assert_eq!(
        got,
        [
            (1, Value::Null),
            (10, Value::Null),
            (11, Value::Null),
            (20, s(&a_end)),
            (30, s(&b_end)),
            (40, s(&c_end)),
            (41, s(&c_end)),
        ]
    );
}

#[test]
fn truncate_and_an_unchanged_toasted_value() {
    let pg = Pg::start();
    pg.sql(
        "CREATE TABLE doc (id int PRIMARY KEY, body text, n int);
         CREATE TABLE full_doc (id int PRIMARY KEY, body text, n int);
         ALTER TABLE full_doc REPLICA IDENTITY FULL;",
    );
    let work = Work::new();
    let c = work.write_connector(
        "c.json",
        &pg.connector("toast", "postgres", &[("skipped.operations", "none")]),
    );
    let mut child = work.spawn(&c, "out.jsonl");
    assert!(wait_until(Duration::from_secs(30), || pg
        .confirmed_flush("postgres", "toast_slot")
        .is_some()));
    std::thread::sleep(Duration::from_millis(500));
    // ~10 kB of hexadecimal text: stored out of line (TOAST)
    let big = "(SELECT string_agg(md5(g::text), '') FROM generate_series(1, 300) g)";
    pg.sql(&format!(
        "INSERT INTO doc VALUES (1, {big}, 1); INSERT INTO full_doc VALUES (1, {big}, 1);"
    ));
    pg.sql("UPDATE doc SET n = 2; UPDATE full_doc SET n = 2;");
    pg.sql("TRUNCATE doc");
    assert!(wait_until(Duration::from_secs(30), || work
        .lines("out.jsonl")
        .len()
        >= 5));
    signal(&mut child, "-TERM");
    let lines = work.lines("out.jsonl");
    let body = pg.sql("SELECT string_agg(md5(g::text), '') FROM generate_series(1, 300) g");
    let ops: Vec<(String, String)> = lines
        .iter()
        .map(|l| {
            (
                l["topic"].as_str().unwrap().to_string(),
                payload(l)["op"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        ops,
        [
            ("pg.public.doc", "c"),
            ("pg.public.full_doc", "c"),
            ("pg.public.doc", "u"),
            ("pg.public.full_doc", "u"),
            ("pg.public.doc", "t"),
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    assert_eq!(payload(&lines[0])["after"]["body"], body.as_str());
    // the server did not send the unchanged value: Debezium's placeholder stands in
    assert_eq!(
        payload(&lines[2])["after"]["body"],
        "__debezium_unavailable_value"
    );
    assert!(
        payload(&lines[2])["before"].is_null(),
        "no before image without REPLICA IDENTITY FULL"
    );
    // with REPLICA IDENTITY FULL the old row carries it
    assert_eq!(payload(&lines[3])["after"]["body"], body.as_str());
    assert_eq!(payload(&lines[3])["before"]["n"], 1);
    assert!(lines[4]["key"].is_null());
    assert!(payload(&lines[4])["after"].is_null());
}

#[test]
fn column_exclude_list_leaves_the_column_out_of_snapshot_and_stream_events() {
    let pg = Pg::start();
    pg.sql(
        "CREATE TABLE acct (id int PRIMARY KEY, name text, secret text);
         INSERT INTO acct VALUES (1, 'a', 'hidden-1');",
    );
    let work = Work::new();
    let c = work.write_connector(
        "c.json",
        &pg.connector(
            "cols",
            "postgres",
            &[
                ("table.include.list", "public\\.acct"),
                ("column.exclude.list", "public\\.acct\\.secret"),
            ],
        ),
    );
    let mut child = work.spawn(&c, "out.jsonl");
    assert!(wait_until(Duration::from_secs(30), || !work
        .lines("out.jsonl")
        .is_empty()));
    pg.sql("INSERT INTO acct VALUES (2, 'b', 'hidden-2')");
    assert!(wait_until(Duration::from_secs(30), || work
        .lines("out.jsonl")
        .len()
        >= 2));
    signal(&mut child, "-TERM");
    let lines = work.lines("out.jsonl");
    for (line, (id, op)) in lines.iter().zip([(1, "r"), (2, "c")]) {
        let after = &payload(line)["after"];
        assert_eq!(
            (after["id"].as_i64(), payload(line)["op"].as_str()),
            (Some(id), Some(op))
        );
        assert_eq!(after["name"].as_str().map(str::len), Some(1));
        assert!(
            after.get("secret").is_none(),
            "excluded column emitted: {after}"
        );
        assert!(
            !line.to_string().contains("hidden-"),
            "excluded value emitted"
        );
    }
}

/// `id → v` from a file sink's events, applied in order (read line by line: large outputs).
fn applied(path: &std::path::Path) -> BTreeMap<i64, i64> {
    let mut state = BTreeMap::new();
    let f = std::fs::File::open(path).unwrap();
    let mut text = String::new();
    let mut r = std::io::BufReader::new(f);
    loop {
        text.clear();
        if r.read_line(&mut text).unwrap() == 0 || !text.ends_with('\n') {
            break; // end, or a line torn by kill -9 (never acknowledged)
        }
        let l: Value = serde_json::from_str(&text).unwrap();
        if l["value"].is_null() {
            continue;
        }
        let p = payload(&l);
        match p["op"].as_str().unwrap() {
            "d" => {
                state.remove(&p["before"]["id"].as_i64().unwrap());
            }
            _ => {
                state.insert(
                    p["after"]["id"].as_i64().unwrap(),
                    p["after"]["v"].as_i64().unwrap(),
                );
            }
        }
    }
    state
}

fn table(pg: &Pg) -> BTreeMap<i64, i64> {
    pg.sql("SELECT id, v FROM t ORDER BY id")
        .lines()
        .map(|l| {
            let (a, b) = l.split_once('\t').unwrap();
            (a.parse().unwrap(), b.parse().unwrap())
        })
        .collect()
}

fn offset_lsn(work: &Work, name: &str) -> Option<u64> {
    work.offsets(name)?["offsets"][0]["value"]["lsn"].as_u64()
}

#[test]
fn kill_9_and_restart_lose_nothing_and_the_slot_never_runs_ahead_of_delivery() {
    let pg = Pg::start();
    pg.sql("CREATE TABLE t (id int PRIMARY KEY, v int NOT NULL); INSERT INTO t SELECT g, 0 FROM generate_series(1, 1000) g;");
    let work = Work::new();
    let c = work.write_connector(
        "c.json",
        &pg.connector(
            "crash",
            "postgres",
            &[("converter.schemas.enable", "false")],
        ),
    );
    let out = work.path("out.jsonl");
    let mut child = work.spawn(&c, "out.jsonl");
    assert!(wait_until(Duration::from_secs(60), || work
        .lines("out.jsonl")
        .len()
        >= 1000));
    let created = pg.confirmed_flush("postgres", "crash_slot").unwrap();
    // a writer: 200 transactions of inserts, updates and deletes
    let script: String = (0..200)
        .map(|i| {
            format!(
                "BEGIN; INSERT INTO t SELECT g, {i} FROM generate_series({lo}, {hi}) g; UPDATE t SET v = v + 1 WHERE id % 7 = {m}; DELETE FROM t WHERE id % 50 = {m} AND id < {lo}; COMMIT;\n",
                lo = 2000 + i * 100,
                hi = 2000 + i * 100 + 99,
                m = i % 7
            )
        })
        .collect();
    let dir = pg.dir.path().to_path_buf();
    let writer = std::thread::spawn(move || {
        let st = std::process::Command::new(common::repo_root().join("scripts/postgres.sh"))
            .arg("sql")
            .arg(&dir)
            .args(["-c", &script])
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(st.success());
    });
    // while it runs: the slot's confirmed LSN never passes the committed offset
    let mut samples = 0;
    let mut killed = false;
    while !writer.is_finished() || samples < 20 {
        let confirmed = pg.confirmed_flush("postgres", "crash_slot").unwrap_or(0);
        if let Some(committed) = offset_lsn(&work, "crash") {
            assert!(
                confirmed <= committed,
                "slot confirmed {confirmed} past the committed offset {committed}"
            );
        }
        samples += 1;
        if samples == 10 && !killed {
            signal(&mut child, "-KILL");
            killed = true;
            child = work.spawn(&c, "out.jsonl");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    writer.join().unwrap();
    let want = table(&pg);
    assert!(
        wait_until(Duration::from_secs(90), || applied(&out) == want),
        "converged after kill -9 ({} rows of {})",
        applied(&out).len(),
        want.len()
    );
    // a clean stop, more changes, a restart: each change exactly once
    signal(&mut child, "-TERM");
    let before = work.lines("out.jsonl").len();
    pg.sql("INSERT INTO t SELECT g, 5 FROM generate_series(100000, 100099) g");
    let mut child = work.spawn(&c, "out.jsonl");
    assert!(wait_until(Duration::from_secs(60), || work
        .lines("out.jsonl")
        .len()
        >= before + 100));
    std::thread::sleep(Duration::from_secs(1));
    signal(&mut child, "-TERM");
    let after = work.lines("out.jsonl");
    assert_eq!(
        after.len(),
        before + 100,
        "nothing repeated after a clean stop"
    );
    assert_eq!(applied(&out), table(&pg));
    let confirmed = pg.confirmed_flush("postgres", "crash_slot").unwrap();
    assert!(confirmed <= offset_lsn(&work, "crash").unwrap());
    assert!(
        confirmed > created,
        "delivered changes were confirmed to the slot"
    );
}

#[test]
fn snapshot_of_a_million_rows_with_a_concurrent_writer_converges() {
    let pg = Pg::start();
    pg.sql("CREATE TABLE t (id int PRIMARY KEY, v int NOT NULL); INSERT INTO t SELECT g, 0 FROM generate_series(1, 1000000) g;");
    let work = Work::new();
    let c = work.write_connector(
        "c.json",
        &pg.connector(
            "big",
            "postgres",
            &[
                ("converter.schemas.enable", "false"),
                ("snapshot.max.threads", "2"),
            ],
        ),
    );
    let out = work.path("out.jsonl");
    let mut child = work.spawn(&c, "out.jsonl");
    // writes while the snapshot runs: updates across the key range, deletes, new rows
    let script: String = (0..50)
        .map(|i| {
            format!(
                "UPDATE t SET v = v + 1 WHERE id % 1000 = {i}; DELETE FROM t WHERE id % 10007 = {i}; INSERT INTO t VALUES ({}, {i});\n",
                2_000_000 + i
            )
        })
        .collect();
    pg.sql(&script.replace('\n', " "));
    let want = table(&pg);
    assert!(
        wait_until(Duration::from_secs(300), || applied(&out) == want),
        "converged ({} rows of {})",
        applied(&out).len(),
        want.len()
    );
    signal(&mut child, "-TERM");
    let log = std::fs::read_to_string(work.path("out.jsonl.log")).unwrap();
    assert!(log.contains("snapshot completed"), "{log}");
}

/// A psql script run in the background: `n` small transactions back to back, each updating
/// ten pseudo-random keys of `1..=keys`, deleting one and inserting a new key from
/// `first_new_key` on: many of them commit while a chunk is between its watermarks.
fn background_writer(
    pg: &Pg,
    n: usize,
    keys: u64,
    first_new_key: usize,
) -> std::thread::JoinHandle<()> {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        1 + seed % keys
    };
    let script: String = (0..n)
        .map(|i| {
            let ids: Vec<String> = (0..10).map(|_| next().to_string()).collect();
            format!(
                "BEGIN; UPDATE t SET v = v + 1 WHERE id IN ({}); DELETE FROM t WHERE id = {}; INSERT INTO t VALUES ({}, {i}); COMMIT;\n",
                ids.join(","),
                next(),
                first_new_key + i,
            )
        })
        .collect();
    let dir = pg.dir.path().to_path_buf();
    let file = dir.join("writer.sql");
    std::fs::write(&file, script).unwrap();
    std::thread::spawn(move || {
        let st = std::process::Command::new(common::repo_root().join("scripts/postgres.sh"))
            .arg("sql")
            .arg(&dir)
            .args(["-q", "-v", "ON_ERROR_STOP=1", "-f"])
            .arg(&file)
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(st.success());
    })
}

fn incremental_in_progress(work: &Work, name: &str) -> bool {
    work.offsets(name)
        .is_some_and(|o| !o["offsets"][0]["value"]["incremental_snapshot"].is_null())
}

#[test]
fn incremental_snapshot_by_signal_with_a_concurrent_writer_and_a_kill_9_converges() {
    let pg = Pg::start();
    pg.sql("CREATE TABLE t (id int PRIMARY KEY, v int NOT NULL); INSERT INTO t SELECT g, 0 FROM generate_series(1, 200000) g; \
            CREATE TABLE dbz_signal (id varchar(64) PRIMARY KEY, type varchar(32) NOT NULL, data text);");
    let work = Work::new();
    let c = work.write_connector(
        "c.json",
        &pg.connector(
            "inc",
            "postgres",
            &[
                ("converter.schemas.enable", "false"),
                ("snapshot.mode", "no_data"),
                // the signal table joins the filtered publication without being captured
                ("publication.autocreate.mode", "filtered"),
                ("table.include.list", "public\\.t"),
                ("signal.data.collection", "public.dbz_signal"),
                ("incremental.snapshot.chunk.size", "4096"),
            ],
        ),
    );
    work.catch_up(&c, "out.jsonl"); // creates the slot: streaming starts here, no snapshot
    assert!(work.lines("out.jsonl").is_empty());
    let out = work.path("out.jsonl");
    let mut child = work.spawn(&c, "out.jsonl");
    let writer = background_writer(&pg, 15_000, 200_000, 300_000);
    std::thread::sleep(Duration::from_millis(300));
    pg.sql(r#"INSERT INTO dbz_signal VALUES ('sig-1', 'execute-snapshot', '{"data-collections": ["public.t"], "type": "incremental"}')"#);
    writer.join().unwrap();
    let want = table(&pg);
    let done = wait_until(Duration::from_secs(120), || {
        !incremental_in_progress(&work, "inc") && applied(&out) == want
    });
    signal(&mut child, "-TERM");
    let log = std::fs::read_to_string(work.path("out.jsonl.log")).unwrap_or_default();
    assert!(
        done,
        "incremental snapshot converged ({} rows of {}):\n{}",
        applied(&out).len(),
        want.len(),
        &log[log.len().saturating_sub(3000)..]
    );
    let lines = work.lines("out.jsonl");
    let reads: Vec<&Value> = lines.iter().filter(|l| payload(l)["op"] == "r").collect();
    assert!(reads.len() > 150_000, "{} reads", reads.len());
    assert!(reads
        .iter()
        .all(|l| payload(l)["source"]["snapshot"] == "incremental"));
    assert!(lines.iter().any(|l| payload(l)["op"] == "u"));
    assert!(
        lines.iter().all(|l| l["topic"] == "pg.public.t"),
        "signal and watermark rows are not change events"
    );

    // a signal written by the CLI while the connector is stopped is read from the slot; a
    // kill -9 in the middle resumes from the last chunk delivered
    let cli = common::sluice()
        .arg("snapshot")
        .arg(&c)
        .args(["--tables", "public.t", "--data-dir"])
        .arg(work.path("data"))
        .output()
        .unwrap();
    assert!(
        cli.status.success(),
        "{}",
        String::from_utf8_lossy(&cli.stderr)
    );
    let mut child = work.spawn(&c, "out.jsonl");
    assert!(wait_until(Duration::from_secs(60), || {
        work.offsets("inc")
            .is_some_and(|o| o["offsets"][0]["value"]["incremental_snapshot"]["key"].is_array())
    }));
    signal(&mut child, "-KILL");
    pg.sql("UPDATE t SET v = 7 WHERE id <= 100; DELETE FROM t WHERE id BETWEEN 150000 AND 150010;");
    let mut child = work.spawn(&c, "out.jsonl");
    let want = table(&pg);
    let done = wait_until(Duration::from_secs(120), || {
        !incremental_in_progress(&work, "inc") && applied(&out) == want
    });
    signal(&mut child, "-TERM");
    assert!(done, "the incremental snapshot continued after kill -9");
}

#[test]
fn offsets_show_and_set_by_lsn_skip_ahead_but_never_behind_the_slot() {
    let pg = Pg::start();
    pg.sql("CREATE TABLE t (id int PRIMARY KEY, v int NOT NULL)");
    let work = Work::new();
    let c = work.write_connector(
        "c.json",
        &pg.connector(
            "lsn",
            "postgres",
            &[
                ("converter.schemas.enable", "false"),
                ("snapshot.mode", "no_data"),
            ],
        ),
    );
    work.catch_up(&c, "out.jsonl"); // creates the slot
    pg.sql("INSERT INTO t VALUES (0, 0)");
    work.catch_up(&c, "out.jsonl"); // delivers it: an offset is stored
    let offsets = |args: &[&str]| {
        common::sluice()
            .arg("offsets")
            .args(args)
            .arg(&c)
            .arg("--data-dir")
            .arg(work.path("data"))
            .output()
            .unwrap()
    };
    let shown = offsets(&["show", "--json"]);
    assert!(
        shown.status.success(),
        "{}",
        String::from_utf8_lossy(&shown.stderr)
    );
    let shown: Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(shown["slot"]["exists"], true, "{shown}");
    assert!(shown["offset"]["lsn"].is_u64(), "{shown}");

    pg.sql("INSERT INTO t SELECT g, 1 FROM generate_series(1, 10) g");
    let skip_to = pg.sql("SELECT pg_current_wal_insert_lsn()");
    pg.sql("INSERT INTO t SELECT g, 2 FROM generate_series(11, 15) g");
    let set = offsets(&["set", "--lsn", &skip_to]);
    assert!(
        set.status.success(),
        "{}",
        String::from_utf8_lossy(&set.stderr)
    );
    work.catch_up(&c, "out.jsonl");
    let ids: Vec<i64> = work
        .lines("out.jsonl")
        .iter()
        .map(|l| payload(l)["after"]["id"].as_i64().unwrap())
        .collect();
    assert_eq!(
        ids,
        [0, 11, 12, 13, 14, 15],
        "the transaction before the LSN is skipped"
    );

    let back = offsets(&["set", "--lsn", "0/1"]);
    assert!(!back.status.success());
    let err = String::from_utf8_lossy(&back.stderr);
    assert!(err.contains("cannot go back"), "{err}");
    let bad = offsets(&["set", "--lsn", "yesterday"]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("X/Y"));
}
