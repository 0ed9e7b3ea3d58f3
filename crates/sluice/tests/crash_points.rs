//! Crash tests at every named crash point (crates/sluice-core/src/failpoint.rs): `sluice run`
//! is made to abort (SIGABRT: no flush, no offset commit, as `kill -9`) at one precise step in
//! the middle of its work, then restarted without failpoints until caught up.
//!
//! Every test checks that the first run died by that crash point and at the pass asked for (from
//! the offsets it logged as committed, the offsets file it left and what it had delivered), that
//! both runs' events applied in order give exactly the table (no loss), and that the only events
//! delivered twice are the first run's uncommitted tail, repeated in order at the very start of
//! the second run.
//!
//! One MariaDB and one PostgreSQL serve the whole file, a database per test. The tests of one
//! server run one at a time: a transaction in another test's database moves the binlog position
//! too, and the position-only batch it makes would be a flush group without events, while the
//! pipeline seams count groups. The crashing run, the restart and the comparison of what they
//! delivered are in common/crash.rs.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::Instant;

use common::crash::{
    applied, assert_same_rows, catch_up, id_of, offset, repeated_tail, tail, Crash,
};
use common::postgres::Pg;
use common::{apply, payload, repo_root, shared, table_state, Maria, Work};
use serde_json::Value;

static MARIA_TESTS: Mutex<()> = Mutex::new(());
static PG_TESTS: Mutex<()> = Mutex::new(());

/// Flush groups (or batches, or DDLs) a seam lets pass before it aborts the process.
const PASSES: usize = 5;

/// Transactions of the concurrent writers: long enough (~3 s) to outlast the crash.
const WRITER_TXNS: u32 = 150;

// ---------------------------------------------------------------------------------------------
// MariaDB

/// A database of its own on the shared MariaDB, `t (id BIGINT PK, v BIGINT)` holding ids
/// 1..=200 (v = 0), and a connector capturing it whose first catch-up took the snapshot.
struct MariaCase {
    db: &'static Maria,
    schema: String,
    name: String,
    work: Work,
    conn: PathBuf,
    snapshot: Vec<Value>,
}

impl MariaCase {
    fn new(schema: &str, server_id: &str) -> MariaCase {
        let db = shared::maria();
        db.sql(&format!(
            "CREATE DATABASE {schema}; USE {schema}; CREATE TABLE t (id BIGINT PRIMARY KEY, v BIGINT NOT NULL);
             INSERT INTO t SELECT seq, 0 FROM seq_1_to_200;"
        ));
        let work = Work::new();
        let include = format!("{schema}.t");
        let props = [
            ("snapshot.mode", "initial"),
            ("converter.schemas.enable", "false"),
            ("table.include.list", include.as_str()),
            ("database.server.id", server_id),
        ];
        let conn = work.write_connector("c.json", &db.connector(schema, &props));
        catch_up(&work, &conn, "snapshot.jsonl");
        let snapshot = work.lines("snapshot.jsonl");
        assert_eq!(snapshot.len(), 200);
        MariaCase {
            db,
            schema: schema.to_string(),
            name: schema.to_string(),
            work,
            conn,
            snapshot,
        }
    }

    /// The first run, with `writer` started once its source starts.
    fn crash(&self, seam: &str, failpoints: &str, writer: &dyn Fn() -> JoinHandle<()>) -> Crash {
        common::crash::run(
            &self.work,
            &self.conn,
            "first.jsonl",
            seam,
            failpoints,
            Some(("starting", writer)),
        )
    }

    fn offset(&self) -> Value {
        offset(&self.work, &self.name)
    }

    fn state(&self) -> BTreeMap<i64, i64> {
        table_state(self.db, &format!("{}.t", self.schema))
    }
}

/// One client session running `txns` small transactions 20 ms apart: each inserts five new rows
/// (`v` = id), adds 1000 to an older row's `v` and deletes a row of the snapshot, so every
/// change event is unique.
fn maria_writer(db: &Maria, schema: &str, txns: u32) -> JoinHandle<()> {
    let mut s = format!("USE {schema};\n");
    for i in 0..txns {
        let base = 1000 + 5 * i;
        let rows: Vec<String> = (base..base + 5).map(|id| format!("({id}, {id})")).collect();
        s.push_str(&format!(
            "BEGIN; INSERT INTO t VALUES {}; UPDATE t SET v = v + 1000 WHERE id = {}; DELETE FROM t WHERE id = {}; COMMIT; DO SLEEP(0.02);\n",
            rows.join(", "),
            1 + (i * 7) % 200,
            200 - i % 200
        ));
    }
    db.sql_in_background(s)
}

/// The first run, crashing at a pipeline seam while a writer works, and the catch-up after it.
struct PipelineRun {
    crash: Crash,
    /// The committed offset before the first run, and what the crash left.
    offset_before: Value,
    offset_after: Value,
    first: Vec<Value>,
    second: Vec<Value>,
    repeated: usize,
}

fn maria_pipeline_crash(schema: &str, server_id: &str, seam: &str) -> PipelineRun {
    let case = MariaCase::new(schema, server_id);
    let offset_before = case.offset();
    let crash = case.crash(seam, &format!("{seam}={PASSES}*off->return"), &|| {
        maria_writer(case.db, schema, WRITER_TXNS)
    });
    let offset_after = case.offset();
    let first = case.work.lines("first.jsonl");
    catch_up(&case.work, &case.conn, "second.jsonl");
    let second = case.work.lines("second.jsonl");
    let repeated = repeated_tail(&first, &second);
    assert!(
        !first.is_empty(),
        "the first run delivered before the crash"
    );
    assert!(
        second.len() > repeated,
        "the crash came in the middle of the stream"
    );
    assert_same_rows(&applied(&[&case.snapshot, &first, &second]), &case.state());
    eprintln!(
        "{seam}: {} commits before the crash, {} + {} events, {repeated} repeated",
        crash.commits.len(),
        first.len(),
        second.len()
    );
    PipelineRun {
        crash,
        offset_before,
        offset_after,
        first,
        second,
        repeated,
    }
}

#[test]
fn a_crash_after_a_batch_was_written_but_not_flushed_loses_nothing_and_repeats_nothing() {
    let _serial = shared::one_at_a_time(&MARIA_TESTS);
    let started = Instant::now();
    let run = maria_pipeline_crash("crash_written", "5501", "sink-written");
    // every flush group passed sink-written at least once before its commit
    assert!(
        run.crash.commits.len() <= PASSES,
        "{}",
        tail(&run.crash.stderr)
    );
    let last = run.crash.commits.last().unwrap_or(&run.offset_before);
    assert_eq!(
        &run.offset_after, last,
        "nothing committed after the last logged commit"
    );
    // the file sink only buffers what it is handed until it is flushed: the written batch never
    // reached the file, and everything in it was committed
    assert_eq!(run.repeated, 0, "nothing delivered twice");
    eprintln!("sink-written: {:.1?}", started.elapsed());
}

#[test]
fn a_crash_after_the_sink_flushed_but_before_the_offset_commit_repeats_only_that_group() {
    let _serial = shared::one_at_a_time(&MARIA_TESTS);
    let started = Instant::now();
    let run = maria_pipeline_crash("crash_durable", "5502", "sink-durable");
    flushed_but_uncommitted(&run);
    eprintln!("sink-durable: {:.1?}", started.elapsed());
}

#[test]
fn a_crash_right_before_the_offset_commit_repeats_only_the_uncommitted_group() {
    let _serial = shared::one_at_a_time(&MARIA_TESTS);
    let started = Instant::now();
    let run = maria_pipeline_crash("crash_commit", "5503", "offset-commit");
    flushed_but_uncommitted(&run);
    eprintln!("offset-commit: {:.1?}", started.elapsed());
}

/// The seam let PASSES groups through, each flushed and committed; the next one was flushed
/// (its events are in the file) but its offset never committed: exactly those events come
/// again.
fn flushed_but_uncommitted(run: &PipelineRun) {
    assert_eq!(
        run.crash.commits.len(),
        PASSES,
        "one commit per group that passed:\n{}",
        tail(&run.crash.stderr)
    );
    assert_eq!(
        &run.offset_after,
        run.crash.commits.last().unwrap(),
        "the crashed group's offset is not committed"
    );
    assert!(
        run.repeated >= 1,
        "the flushed but uncommitted group is delivered again ({} + {} events)",
        run.first.len(),
        run.second.len()
    );
}

#[test]
fn a_crash_right_after_the_offset_commit_repeats_nothing() {
    let _serial = shared::one_at_a_time(&MARIA_TESTS);
    let started = Instant::now();
    let run = maria_pipeline_crash("crash_committed", "5504", "offset-committed");
    assert_eq!(
        run.crash.commits.len(),
        PASSES,
        "{}",
        tail(&run.crash.stderr)
    );
    // the crash came right after one more commit, which the log never showed
    let last = run.crash.commits.last().unwrap();
    assert_eq!(run.offset_after["file"], last["file"]);
    assert!(
        run.offset_after["pos"].as_u64() > last["pos"].as_u64(),
        "one more commit ({}) than logged ({last})",
        run.offset_after
    );
    assert_eq!(run.repeated, 0, "nothing delivered twice");
    eprintln!("offset-committed: {:.1?}", started.elapsed());
}

#[test]
fn a_crash_after_a_ddl_was_recorded_but_before_its_position_was_handed_over_decodes_every_row_with_its_columns(
) {
    let _serial = shared::one_at_a_time(&MARIA_TESTS);
    let started = Instant::now();
    let case = MariaCase::new("crash_ddl", "5505");
    // A: rows of (id, v); ALTER 1 adds w; B: rows with w, seed rows updated; a pause (B is
    // delivered); ALTER 2 adds x, where the first run crashes; C: rows with w and x
    let mut s = String::from("USE crash_ddl;\n");
    let txns = |s: &mut String, from: u32, f: &dyn Fn(u32) -> String| {
        for i in 0..20 {
            let id = from + i;
            s.push_str(&format!("{}; DO SLEEP(0.02);\n", f(id)));
        }
    };
    txns(&mut s, 1000, &|id| {
        format!("INSERT INTO t VALUES ({id}, {id})")
    });
    s.push_str("ALTER TABLE t ADD COLUMN w BIGINT;\n");
    txns(&mut s, 2000, &|id| {
        format!(
            "BEGIN; INSERT INTO t VALUES ({id}, {id}, {id}); UPDATE t SET v = v + 1000, w = id WHERE id = {}; COMMIT",
            id - 1999
        )
    });
    s.push_str("DO SLEEP(0.5); ALTER TABLE t ADD COLUMN x BIGINT;\n");
    txns(&mut s, 3000, &|id| {
        format!(
            "BEGIN; INSERT INTO t VALUES ({id}, {id}, {id}, {id}); UPDATE t SET v = v + 1000, x = id WHERE id = {}; COMMIT",
            id - 2999
        )
    });
    let crash = case.crash("ddl-recorded", "ddl-recorded=1*off->return", &|| {
        case.db.sql_in_background(s.clone())
    });
    let first = case.work.lines("first.jsonl");

    // it died at the second ALTER: the first was applied, nothing after the second was read
    assert!(
        first.iter().any(|l| id_of(l) >= 2000 && id_of(l) < 3000),
        "rows between the two ALTERs were delivered before the crash:\n{}",
        tail(&crash.stderr)
    );
    let late = first.iter().find(|l| {
        let id = id_of(l);
        id >= 3000 || (id <= 200 && payload(l)["after"]["v"].as_i64() >= Some(2000))
    });
    assert!(
        late.is_none(),
        "nothing after the second ALTER was delivered, but {}:\n{}",
        late.unwrap(),
        tail(&crash.stderr)
    );
    let history = std::fs::read_to_string(case.work.path("data/history/crash_ddl.jsonl")).unwrap();
    assert!(
        history.contains("ADD COLUMN x"),
        "the second ALTER reached the schema history before the crash"
    );
    let offset = case.offset();
    let events = case.db.sql(&format!(
        "SHOW BINLOG EVENTS IN '{}'",
        offset["file"].as_str().unwrap()
    ));
    let alter_at: u64 = events
        .lines()
        .find(|l| l.contains("ADD COLUMN x"))
        .and_then(|l| l.split('\t').nth(1))
        .and_then(|p| p.parse().ok())
        .expect("the second ALTER in the offset's binlog file");
    assert!(
        offset["pos"].as_u64().unwrap() < alter_at,
        "the committed offset {offset} is before the second ALTER (at {alter_at})"
    );

    catch_up(&case.work, &case.conn, "second.jsonl");
    let second = case.work.lines("second.jsonl");
    repeated_tail(&first, &second);
    // a third start reads the history the crash and the restart left
    case.db.sql(
        "INSERT INTO crash_ddl.t VALUES (4000, 4000, 4000, 4000); DELETE FROM crash_ddl.t WHERE id = 150",
    );
    catch_up(&case.work, &case.conn, "third.jsonl");
    let third = case.work.lines("third.jsonl");
    assert_eq!(third.len(), 3, "an insert, a delete and its tombstone");

    let runs = [&case.snapshot[..], &first, &second, &third];
    for l in runs.iter().flat_map(|r| r.iter()) {
        let after = &payload(l)["after"];
        if after.is_null() {
            continue;
        }
        let id = after["id"].as_i64().unwrap();
        let v = after["v"].as_i64().unwrap();
        // rows of the snapshot by the updates they had (+1000 in B, +1000 in C), new rows by
        // the phase that inserted them (ids from 1000 in A, 2000 in B, 3000 in C, 4000 after)
        let (w, x) = if id <= 200 {
            (v >= 1000, v >= 2000)
        } else {
            (id >= 2000, id >= 3000)
        };
        assert_eq!(after.get("w").is_some(), w, "column w in {l}");
        assert_eq!(after.get("x").is_some(), x, "column x in {l}");
        if id >= 2000 {
            assert_eq!(after["w"], id, "{l}");
        }
        if id >= 3000 {
            assert_eq!(after["x"], id, "{l}");
        }
    }
    // every column of every row, as the table holds them
    let mut got: BTreeMap<i64, [i64; 3]> = BTreeMap::new();
    let all: Vec<Value> = runs.iter().flat_map(|r| r.iter().cloned()).collect();
    for (id, after) in apply(&all) {
        let col = |c: &str| after.get(c).and_then(Value::as_i64).unwrap_or(-1);
        got.insert(id, [col("v"), col("w"), col("x")]);
    }
    let want: BTreeMap<i64, [i64; 3]> = case
        .db
        .sql("SELECT id, v, IFNULL(w, -1), IFNULL(x, -1) FROM crash_ddl.t ORDER BY id")
        .lines()
        .map(|l| {
            let c: Vec<i64> = l.split('\t').map(|c| c.parse().unwrap()).collect();
            (c[0], [c[1], c[2], c[3]])
        })
        .collect();
    assert!(got == want, "the events do not give the table");
    eprintln!("ddl-recorded: {:.1?}", started.elapsed());
}

/// Rows of the snapshotted tables.
const SNAPSHOT_ROWS: i64 = 5000;
/// Rows per snapshot batch (`max.batch.size`).
const SNAPSHOT_BATCH: usize = 100;
/// Snapshot batches the crash point lets through.
const SNAPSHOT_PASSES: usize = 20;

/// Batches of SNAPSHOT_BATCH rows, two of them in the queue at most: the source cannot run far
/// ahead of what is committed.
fn snapshot_props() -> Vec<(&'static str, &'static str)> {
    vec![
        ("snapshot.mode", "initial"),
        ("converter.schemas.enable", "false"),
        ("max.batch.size", "100"),
        ("max.queue.size", "200"),
    ]
}

/// The first run of a snapshot that crashed after SNAPSHOT_PASSES + 1 batches were handed
/// over, then the changes made while it was down, then the second run: checks both and returns
/// the last key the first run committed.
fn snapshot_crash_checks(
    crash: &Crash,
    first: &[Value],
    offset_after: &Value,
    second: &[Value],
) -> i64 {
    assert!(
        offset_after["snapshot"] == true,
        "the crash left the snapshot unfinished: {offset_after}"
    );
    let key: i64 = offset_after["snapshot_key"][0]
        .as_str()
        .and_then(|k| k.parse().ok())
        .unwrap_or_else(|| panic!("no committed progress: {offset_after}"));
    assert!(
        key >= 1000,
        "progress was committed before the crash: {offset_after}\n{}",
        tail(&crash.stderr)
    );
    assert!(
        first.len() <= (SNAPSHOT_PASSES + 1) * SNAPSHOT_BATCH,
        "no more than the batches handed over before the crash: {}",
        first.len()
    );
    assert!(first.iter().all(|l| payload(l)["op"] == "r"));
    let ids: Vec<i64> = first.iter().map(id_of).collect();
    assert!(
        ids.iter().copied().eq(1..=ids.len() as i64),
        "rows in key order"
    );
    assert!(
        ids.len() as i64 >= key,
        "every committed row is in the file"
    );
    let repeated = repeated_tail(first, second);
    assert_eq!(
        repeated,
        ids.iter().filter(|&&id| id > key).count(),
        "exactly the rows after the committed key come again"
    );
    assert!(
        repeated < first.len(),
        "the snapshot resumed, not restarted"
    );
    let reads: Vec<i64> = second
        .iter()
        .filter(|l| payload(l)["op"] == "r")
        .map(id_of)
        .collect();
    assert_eq!(reads.first(), Some(&(key + 1)), "resumed after key {key}");
    eprintln!(
        "snapshot-chunk: committed up to key {key}, {} + {} events, {repeated} repeated",
        first.len(),
        second.len()
    );
    key
}

#[test]
fn a_crash_after_a_snapshot_batch_was_handed_over_resumes_after_the_last_committed_row() {
    let _serial = shared::one_at_a_time(&MARIA_TESTS);
    let started = Instant::now();
    let db = shared::maria();
    db.sql(&format!(
        "CREATE DATABASE crash_snap; USE crash_snap; CREATE TABLE t (id BIGINT PRIMARY KEY, v BIGINT NOT NULL);
         INSERT INTO t SELECT seq, seq FROM seq_1_to_{SNAPSHOT_ROWS};"
    ));
    let work = Work::new();
    let mut props = snapshot_props();
    props.extend([
        ("table.include.list", "crash_snap.t"),
        ("database.server.id", "5506"),
    ]);
    let conn = work.write_connector("c.json", &db.connector("crash_snap", &props));
    let crash = common::crash::run(
        &work,
        &conn,
        "first.jsonl",
        "snapshot-chunk",
        &format!("snapshot-chunk={SNAPSHOT_PASSES}*off->return"),
        None,
    );
    let first = work.lines("first.jsonl");
    let offset_after = offset(&work, "crash_snap");
    // rows change while it is down, read before the crash or not yet: the stream brings them
    db.sql("UPDATE crash_snap.t SET v = -v WHERE id IN (1, 500, 4000); DELETE FROM crash_snap.t WHERE id IN (2, 4500)");
    catch_up(&work, &conn, "second.jsonl");
    let second = work.lines("second.jsonl");
    snapshot_crash_checks(&crash, &first, &offset_after, &second);
    assert_same_rows(
        &applied(&[&first, &second]),
        &table_state(db, "crash_snap.t"),
    );
    eprintln!("snapshot-chunk (MariaDB): {:.1?}", started.elapsed());
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

fn pg_state(pg: &Pg, db: &str) -> BTreeMap<i64, i64> {
    pg.sql_in(db, "SELECT id, v FROM t ORDER BY id")
        .lines()
        .map(|l| {
            let (a, b) = l.split_once('\t').unwrap();
            (a.parse().unwrap(), b.parse().unwrap())
        })
        .collect()
}

/// A psql script on database `db` in the background.
fn pg_script(pg: &Pg, db: &str, work: &Work, script: String) -> JoinHandle<()> {
    let file = work.path("writer.sql");
    std::fs::write(&file, script).unwrap();
    let dir = pg.dir.path().to_path_buf();
    let db = db.to_string();
    std::thread::spawn(move || {
        let out = std::process::Command::new(repo_root().join("scripts/postgres.sh"))
            .arg("sql")
            .arg(&dir)
            .args(["-d", &db, "-v", "ON_ERROR_STOP=1", "-f"])
            .arg(&file)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    })
}

#[test]
fn a_postgres_crash_after_the_sink_flushed_repeats_only_that_group_and_the_slot_stays_behind_the_offset(
) {
    let _serial = shared::one_at_a_time(&PG_TESTS);
    let started = Instant::now();
    let pg = shared::pg();
    pg.sql("CREATE DATABASE crash_pg_durable");
    pg.sql_in(
        "crash_pg_durable",
        "CREATE TABLE t (id int PRIMARY KEY, v int NOT NULL); INSERT INTO t SELECT g, 0 FROM generate_series(1, 200) g;",
    );
    let work = Work::new();
    let conn = work.write_connector(
        "c.json",
        &pg.connector(
            "pgdurable",
            "crash_pg_durable",
            &[("converter.schemas.enable", "false")],
        ),
    );
    catch_up(&work, &conn, "snapshot.jsonl");
    let snapshot = work.lines("snapshot.jsonl");
    assert_eq!(snapshot.len(), 200);
    // the same writer as on MariaDB: five new rows, an update and a delete per transaction
    let script: String = (0..WRITER_TXNS)
        .map(|i| {
            let base = 1000 + 5 * i;
            format!(
                "BEGIN; INSERT INTO t SELECT g, g FROM generate_series({base}, {}) g; UPDATE t SET v = v + 1000 WHERE id = {}; DELETE FROM t WHERE id = {}; COMMIT; SELECT pg_sleep(0.02);\n",
                base + 4,
                1 + (i * 7) % 200,
                200 - i % 200
            )
        })
        .collect();
    let crash = common::crash::run(
        &work,
        &conn,
        "first.jsonl",
        "sink-durable",
        &format!("sink-durable={PASSES}*off->return"),
        Some(("streaming from the replication slot", &|| {
            pg_script(pg, "crash_pg_durable", &work, script.clone())
        })),
    );
    let offset_after = offset(&work, "pgdurable");
    let confirmed = pg
        .confirmed_flush("crash_pg_durable", "pgdurable_slot")
        .unwrap();
    let first = work.lines("first.jsonl");
    assert_eq!(crash.commits.len(), PASSES, "{}", tail(&crash.stderr));
    assert_eq!(&offset_after, crash.commits.last().unwrap());
    assert!(
        confirmed <= offset_after["lsn"].as_u64().unwrap(),
        "the slot ({confirmed}) was confirmed past the committed offset {offset_after}"
    );

    catch_up(&work, &conn, "second.jsonl");
    let second = work.lines("second.jsonl");
    let repeated = repeated_tail(&first, &second);
    assert!(
        repeated >= 1,
        "the flushed but uncommitted group is delivered again"
    );
    assert!(
        second.len() > repeated,
        "the crash came in the middle of the stream"
    );
    assert_same_rows(
        &applied(&[&snapshot, &first, &second]),
        &pg_state(pg, "crash_pg_durable"),
    );
    eprintln!(
        "sink-durable (PostgreSQL): {} commits before the crash, {} + {} events, {repeated} repeated",
        crash.commits.len(),
        first.len(),
        second.len()
    );
    eprintln!("sink-durable (PostgreSQL): {:.1?}", started.elapsed());
}

#[test]
fn a_postgres_crash_after_a_snapshot_batch_was_handed_over_resumes_after_the_last_committed_chunk()
{
    let _serial = shared::one_at_a_time(&PG_TESTS);
    let started = Instant::now();
    let pg = shared::pg();
    pg.sql("CREATE DATABASE crash_pg_snap");
    pg.sql_in(
        "crash_pg_snap",
        &format!("CREATE TABLE t (id int PRIMARY KEY, v int NOT NULL); INSERT INTO t SELECT g, g FROM generate_series(1, {SNAPSHOT_ROWS}) g;"),
    );
    let work = Work::new();
    let mut props = snapshot_props();
    // batches are cut at chunk ends: chunks of one batch each
    props.push(("snapshot.chunk.size", "100"));
    let conn = work.write_connector("c.json", &pg.connector("pgsnap", "crash_pg_snap", &props));
    let crash = common::crash::run(
        &work,
        &conn,
        "first.jsonl",
        "snapshot-chunk",
        &format!("snapshot-chunk={SNAPSHOT_PASSES}*off->return"),
        None,
    );
    let first = work.lines("first.jsonl");
    let offset_after = offset(&work, "pgsnap");
    pg.sql_in(
        "crash_pg_snap",
        "UPDATE t SET v = -v WHERE id IN (1, 500, 4000); DELETE FROM t WHERE id IN (2, 4500)",
    );
    catch_up(&work, &conn, "second.jsonl");
    let second = work.lines("second.jsonl");
    let key = snapshot_crash_checks(&crash, &first, &offset_after, &second);
    assert_eq!(key % 100, 0, "progress is committed per chunk: {key}");
    assert_same_rows(&applied(&[&first, &second]), &pg_state(pg, "crash_pg_snap"));
    eprintln!("snapshot-chunk (PostgreSQL): {:.1?}", started.elapsed());
}
