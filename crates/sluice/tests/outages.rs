//! Outages (issue #18): the database down for longer than any fixed give-up time, the
//! replication connection killed by an administrator, and `sluice run` started again at once
//! after a stop while MariaDB may still hold the old binlog dump thread. With Debezium's default
//! error handling (`errors.max.retries=-1`: retry without limit, `errors.retry.delay.initial.ms`
//! 300 up to `errors.retry.delay.max.ms` 10000) `sluice run` keeps running through all of them
//! and loses nothing.
//!
//! A writer (common/writer.rs) keeps inserting throughout, in its own client session per
//! transaction; while the server is away it retries the same transaction until the server takes
//! it, as an application would. Every data event is an insert of `(id, v = id)`, so "nothing lost" is exact: the ids
//! delivered are the ids the table holds, and the events applied in order give the table.
//!
//! These tests stop or disturb their server, so each starts its own.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

use common::postgres::Pg;
use common::writer::{maria_client, maria_insert, pg_client, pg_insert, Pace, Writer};
use common::{apply, payload, Maria, Work};
use serde_json::Value;

/// How long the server stays down: longer than the ~90 s after which sluice used to give up.
const OUTAGE: Duration = Duration::from_secs(100);
/// The writer's pace: 10 rows per transaction, a short pause between transactions.
const STEADY: Pace = Pace {
    rows: 10,
    pause: Duration::from_millis(20),
};
/// Small lines (the checks read the output file many times).
const PLAIN: [(&str, &str); 1] = [("converter.schemas.enable", "false")];

// ---------------------------------------------------------------------------------------------
// sluice run in the background

/// A `sluice run` into the file sink `out`, its log in `<out>.log`.
struct Run {
    child: Child,
    log: PathBuf,
    started: Instant,
}

impl Run {
    fn spawn(work: &Work, conn: &Path, out: &str) -> Run {
        Run {
            child: work.spawn(conn, out),
            log: work.path(&format!("{out}.log")),
            started: Instant::now(),
        }
    }

    /// The end of sluice's log, for failure messages (without terminal colours).
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let text = without_colours(&text);
        let lines: Vec<&str> = text.lines().collect();
        let from = lines.len().saturating_sub(60);
        format!(
            "--- sluice log ({}, last {} lines) ---\n{}\n---",
            self.log.display(),
            lines.len() - from,
            lines[from..].join("\n")
        )
    }

    /// Panics (with the log) if sluice has exited: it must keep running.
    fn assert_running(&mut self, when: &str) {
        if let Some(status) = self.child.try_wait().unwrap() {
            panic!(
                "sluice run exited ({status}) {:.1?} after it started (during: {when}); it must keep running\n{}",
                self.started.elapsed(),
                self.log_tail()
            );
        }
    }

    /// Waits until `f` holds, at most `timeout`, while sluice keeps running. False on timeout.
    fn wait_running(&mut self, timeout: Duration, when: &str, mut f: impl FnMut() -> bool) -> bool {
        let start = Instant::now();
        loop {
            self.assert_running(when);
            if f() {
                return true;
            }
            if start.elapsed() >= timeout {
                return false;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// Like [`Run::wait_running`], and a timeout fails the test with `what` and the log.
    fn await_running(&mut self, timeout: Duration, what: &str, f: impl FnMut() -> bool) {
        if !self.wait_running(timeout, what, f) {
            panic!("timed out after {timeout:?}: {what}\n{}", self.log_tail());
        }
    }

    /// Sends `signal` (`-TERM`, `-KILL`) and waits for the exit.
    fn stop(&mut self, signal: &str) -> ExitStatus {
        common::signal(&mut self.child, signal)
    }
}

/// `text` without ANSI escape sequences (`ESC [ … letter`).
fn without_colours(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for e in chars.by_ref() {
                if e.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

impl Drop for Run {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// checks

/// The ids of the data events, in order; every data event here is an insert.
fn created(lines: &[Value]) -> Vec<i64> {
    lines
        .iter()
        .filter(|l| !l["value"].is_null())
        .map(payload)
        .filter(|p| p.get("op").is_some())
        .map(|p| {
            assert_eq!(p["op"], "c", "only inserts were written: {p}");
            p["after"]["id"].as_i64().unwrap()
        })
        .collect()
}

/// `id → v` after applying the events in order.
fn state(lines: &[Value]) -> BTreeMap<i64, i64> {
    apply(lines)
        .into_iter()
        .map(|(k, v)| (k, v["v"].as_i64().unwrap()))
        .collect()
}

fn pg_table(pg: &Pg) -> BTreeMap<i64, i64> {
    pg.sql("SELECT id, v FROM t ORDER BY id")
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (id, v) = l.split_once('\t').unwrap();
            (id.parse().unwrap(), v.parse().unwrap())
        })
        .collect()
}

/// Every committed row was delivered, nothing else was, and the events applied in order give
/// the table. Returns how many ids were delivered more than once.
fn assert_nothing_lost(lines: &[Value], table: &BTreeMap<i64, i64>, log: &str) -> usize {
    let mut counts: BTreeMap<i64, usize> = BTreeMap::new();
    for id in created(lines) {
        *counts.entry(id).or_default() += 1;
    }
    let missing: Vec<i64> = table
        .keys()
        .filter(|id| !counts.contains_key(id))
        .copied()
        .collect();
    let unknown: Vec<i64> = counts
        .keys()
        .filter(|id| !table.contains_key(id))
        .copied()
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} committed rows never delivered (ids {}..={}, first {:?}); {} delivered\n{log}",
        missing.len(),
        table.len(),
        missing[0],
        missing[missing.len() - 1],
        &missing[..missing.len().min(10)],
        counts.len(),
    );
    assert!(
        unknown.is_empty(),
        "delivered rows the table does not hold: {:?}",
        &unknown[..unknown.len().min(10)]
    );
    assert!(
        state(lines) == *table,
        "the events applied in order differ from the table\n{log}"
    );
    let repeated = counts.values().filter(|&&n| n > 1).count();
    eprintln!(
        "{} rows, {} events, {repeated} rows delivered more than once",
        table.len(),
        lines.len()
    );
    repeated
}

/// MariaDB: stopped while sluice streams and the writer writes, kept down for [`OUTAGE`] while
/// sluice must keep running, started again on its data directory and port.
/// After the server `what` came back at `back`: sluice, still running, catches up with `table`
/// without losing a row, and stops cleanly.
fn converges_after_the_outage(
    run: &mut Run,
    work: &Work,
    table: &BTreeMap<i64, i64>,
    what: &str,
    back: Instant,
) {
    let caught_up = run.wait_running(
        Duration::from_secs(90),
        &format!("after {what} is back"),
        || state(&work.lines("out.jsonl")) == *table,
    );
    eprintln!(
        "caught up: {caught_up}, {:.1?} after {what} came back",
        back.elapsed()
    );
    let repeated = assert_nothing_lost(&work.lines("out.jsonl"), table, &run.log_tail());
    assert!(caught_up);
    assert!(
        run.stop("-TERM").success(),
        "clean stop\n{}",
        run.log_tail()
    );
    eprintln!("after the outage: {repeated} rows repeated");
}

#[test]
fn mariadb_down_for_100_seconds_then_back_loses_nothing() {
    let db = Maria::start();
    db.sql("CREATE DATABASE app; CREATE TABLE app.t (id BIGINT PRIMARY KEY, v BIGINT NOT NULL)");
    let work = Work::new();
    let conn = work.write_connector("c.json", &db.connector("outage", &PLAIN));
    work.catch_up(&conn, "out.jsonl"); // the start position, before any row
    let mut run = Run::spawn(&work, &conn, "out.jsonl");
    let writer = Writer::start(maria_client(&db), maria_insert, STEADY);
    run.await_running(Duration::from_secs(30), "sluice streams 500 rows", || {
        created(&work.lines("out.jsonl")).len() >= 500
    });

    db.stop();
    assert!(
        common::wait_until(Duration::from_secs(30), || db.try_sql("SELECT 1").is_err()),
        "MariaDB is down"
    );
    let at_stop = writer.committed();
    eprintln!("MariaDB down, {at_stop} rows committed");
    let down = Instant::now();
    run.wait_running(OUTAGE, "MariaDB is down", || false);
    db.start_again(&[]);
    let back = Instant::now();
    eprintln!("MariaDB back after {:.1?}", down.elapsed());

    run.await_running(
        Duration::from_secs(30),
        "the writer commits 1000 more rows",
        || writer.committed() >= at_stop + 1000,
    );
    writer.finish();
    let table = common::table_state(&db, "app.t");
    converges_after_the_outage(&mut run, &work, &table, "MariaDB", back);
}

/// PostgreSQL: the same outage (`pg_ctl stop -m fast`, 100 s, start again).
#[test]
fn postgres_down_for_100_seconds_then_back_loses_nothing() {
    let pg = Pg::start();
    pg.sql("CREATE TABLE t (id bigint PRIMARY KEY, v bigint NOT NULL)");
    let work = Work::new();
    let conn = work.write_connector("c.json", &pg.connector("outage", "postgres", &PLAIN));
    let mut run = Run::spawn(&work, &conn, "out.jsonl");
    run.await_running(Duration::from_secs(60), "sluice's slot is active", || {
        slot_pid(&pg, "outage_slot").is_some()
    });
    let writer = Writer::start(pg_client(&pg), pg_insert, STEADY);
    run.await_running(Duration::from_secs(30), "sluice streams 500 rows", || {
        created(&work.lines("out.jsonl")).len() >= 500
    });

    pg.stop();
    assert!(pg.try_sql("SELECT 1").is_err(), "PostgreSQL is down");
    assert!(
        !pg.dir.path().join("data/postmaster.pid").exists(),
        "PostgreSQL did not finish shutting down while sluice was connected"
    );
    let at_stop = writer.committed();
    eprintln!("PostgreSQL down, {at_stop} rows committed");
    let down = Instant::now();
    run.wait_running(OUTAGE, "PostgreSQL is down", || false);
    pg.start_again();
    let back = Instant::now();
    eprintln!("PostgreSQL back after {:.1?}", down.elapsed());

    run.await_running(
        Duration::from_secs(30),
        "the writer commits 1000 more rows",
        || writer.committed() >= at_stop + 1000,
    );
    writer.finish();
    let table = pg_table(&pg);
    converges_after_the_outage(&mut run, &work, &table, "PostgreSQL", back);
}

/// A server shuts down promptly while sluice streams from it, even when the last WAL it sent is
/// no commit sluice delivered (here a rolled-back transaction): the walsender waits until the
/// client's flush LSN reaches the last record it decoded, which sluice reports once idle.
#[test]
fn postgres_shuts_down_promptly_while_sluice_is_connected() {
    let pg = Pg::start();
    pg.sql("CREATE TABLE t (id bigint PRIMARY KEY, v bigint NOT NULL)");
    let work = Work::new();
    let conn = work.write_connector("c.json", &pg.connector("idle", "postgres", &PLAIN));
    let mut run = Run::spawn(&work, &conn, "out.jsonl");
    run.await_running(Duration::from_secs(60), "sluice's slot is active", || {
        slot_pid(&pg, "idle_slot").is_some()
    });
    pg.sql("INSERT INTO t VALUES (1, 1)");
    run.await_running(Duration::from_secs(30), "sluice streams the row", || {
        created(&work.lines("out.jsonl")).len() == 1
    });
    pg.sql("BEGIN; INSERT INTO t VALUES (2, 2); ROLLBACK;");
    std::thread::sleep(Duration::from_secs(2));
    let stopping = Instant::now();
    pg.stop();
    assert!(
        !pg.dir.path().join("data/postmaster.pid").exists(),
        "PostgreSQL did not finish shutting down within pg_ctl's 60 s while sluice was connected"
    );
    assert!(
        stopping.elapsed() < Duration::from_secs(30),
        "{:?}",
        stopping.elapsed()
    );
    pg.start_again();
    pg.sql("INSERT INTO t VALUES (3, 3)");
    run.await_running(
        Duration::from_secs(60),
        "sluice resumes after the restart",
        || created(&work.lines("out.jsonl")).len() == 2,
    );
}

/// The pid of the walsender serving `slot`, if one is.
fn slot_pid(pg: &Pg, slot: &str) -> Option<u32> {
    pg.try_sql(&format!(
        "SELECT active_pid FROM pg_replication_slots WHERE slot_name = '{slot}'"
    ))
    .ok()
    .and_then(|t| t.trim().parse().ok())
}

/// PostgreSQL: an administrator terminates sluice's walsender (`pg_terminate_backend`), three
/// times while the writer writes; sluice reconnects each time.
#[test]
fn postgres_walsender_terminated_by_an_administrator_sluice_reconnects_and_loses_nothing() {
    let pg = Pg::start();
    pg.sql("CREATE TABLE t (id bigint PRIMARY KEY, v bigint NOT NULL)");
    let work = Work::new();
    let conn = work.write_connector("c.json", &pg.connector("term", "postgres", &PLAIN));
    let mut run = Run::spawn(&work, &conn, "out.jsonl");
    run.await_running(Duration::from_secs(60), "sluice's slot is active", || {
        slot_pid(&pg, "term_slot").is_some()
    });
    let writer = Writer::start(pg_client(&pg), pg_insert, STEADY);
    for round in 1..=3 {
        let want = 300 * round;
        run.await_running(
            Duration::from_secs(30),
            &format!("sluice streams {want} rows"),
            || created(&work.lines("out.jsonl")).len() >= want,
        );
        let pid = slot_pid(&pg, "term_slot").expect("the slot is active");
        let killed = pg.sql(&format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_replication WHERE pid = {pid}"
        ));
        assert_eq!(killed, "t", "walsender {pid} terminated");
        let at = Instant::now();
        run.await_running(
            Duration::from_secs(60),
            &format!("sluice reconnects after its walsender {pid} was terminated"),
            || slot_pid(&pg, "term_slot").is_some_and(|p| p != pid),
        );
        eprintln!(
            "round {round}: walsender {pid} terminated, sluice back after {:.1?}",
            at.elapsed()
        );
    }
    let at_last = writer.committed();
    run.await_running(
        Duration::from_secs(30),
        "the writer commits 300 more rows",
        || writer.committed() >= at_last + 300,
    );
    writer.finish();
    let table = pg_table(&pg);
    let caught_up = run.wait_running(Duration::from_secs(90), "after the terminations", || {
        state(&work.lines("out.jsonl")) == table
    });
    let repeated = assert_nothing_lost(&work.lines("out.jsonl"), &table, &run.log_tail());
    assert!(caught_up);
    assert!(
        run.stop("-TERM").success(),
        "clean stop\n{}",
        run.log_tail()
    );
    eprintln!("after three terminations: {repeated} rows repeated");
}

// ---------------------------------------------------------------------------------------------
// MariaDB: stopped and started again at once

/// The ids of the binlog dump threads MariaDB holds.
fn dump_threads(db: &Maria) -> Vec<u64> {
    db.sql("SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%'")
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// The writer's pace around a restart: 50 rows per transaction, half a second apart. MariaDB's
/// dump thread for a replica that went away notices only when a write to its socket fails, at
/// the next transaction after the one that drew the peer's reset: with pauses between
/// transactions it lingers, holding the replica's server id, while the second run starts.
const PAUSED: Pace = Pace {
    rows: 50,
    pause: Duration::from_millis(500),
};

/// The first run streams while the writer writes, is stopped with `signal`, and a second run
/// starts the moment the first has exited (no pause): it must start and stream, even while
/// MariaDB still holds the first run's binlog dump thread (registered with the same server id).
/// Returns the ids the first and the second run delivered.
fn stopped_and_started_again_at_once(signal: &str) -> (Vec<i64>, Vec<i64>) {
    let db = Maria::start();
    db.sql("CREATE DATABASE app; CREATE TABLE app.t (id BIGINT PRIMARY KEY, v BIGINT NOT NULL)");
    // a connector user that may list the replicas (as one with ALL PRIVILEGES may): the server
    // shows it the first run's registration while the old dump thread lives
    db.sql("GRANT REPLICATION MASTER ADMIN ON *.* TO 'cdc'@'%'");
    let work = Work::new();
    let conn = work.write_connector("c.json", &db.connector("again", &PLAIN));
    work.catch_up(&conn, "first.jsonl"); // the start position, before any row
    let mut first = Run::spawn(&work, &conn, "first.jsonl");
    let writer = Writer::start(maria_client(&db), maria_insert, PAUSED);
    first.await_running(
        Duration::from_secs(30),
        "the first run streams 500 rows",
        || created(&work.lines("first.jsonl")).len() >= 500,
    );
    let old = dump_threads(&db);
    eprintln!("the first run's binlog dump thread(s): {old:?}");

    let status = first.stop(signal);
    let stopped = Instant::now();
    let mut second = Run::spawn(&work, &conn, "second.jsonl");
    if signal == "-TERM" {
        assert!(status.success(), "clean stop\n{}", first.log_tail());
    }
    let lingering = |db: &Maria| -> Vec<u64> {
        dump_threads(db)
            .into_iter()
            .filter(|id| old.contains(id))
            .collect()
    };
    let at_start = lingering(&db);
    eprintln!(
        "second run started {:.1?} after the first exited ({signal}); old dump thread still there: {at_start:?}; SHOW SLAVE HOSTS: {:?}",
        stopped.elapsed(),
        db.sql("SHOW SLAVE HOSTS")
    );
    let mut gone_after = None;
    second.await_running(
        Duration::from_secs(30),
        "the second run streams 500 rows",
        || {
            if gone_after.is_none() && lingering(&db).is_empty() {
                gone_after = Some(stopped.elapsed());
            }
            created(&work.lines("second.jsonl")).len() >= 500
        },
    );
    eprintln!(
        "old dump thread lingered: {} (gone after {gone_after:?})",
        if at_start.is_empty() { "no" } else { "yes" }
    );

    writer.finish();
    let table = common::table_state(&db, "app.t");
    let all = || {
        let mut lines = work.lines("first.jsonl");
        lines.extend(work.lines("second.jsonl"));
        lines
    };
    let caught_up = second.wait_running(Duration::from_secs(90), "after the restart", || {
        state(&all()) == table
    });
    let log = format!("{}\n{}", first.log_tail(), second.log_tail());
    assert_nothing_lost(&all(), &table, &log);
    assert!(caught_up);
    assert!(
        second.stop("-TERM").success(),
        "clean stop\n{}",
        second.log_tail()
    );
    (
        created(&work.lines("first.jsonl")),
        created(&work.lines("second.jsonl")),
    )
}

#[test]
fn mariadb_sigterm_then_immediate_restart_starts_and_delivers_each_row_exactly_once() {
    let (first, second) = stopped_and_started_again_at_once("-TERM");
    let mut counts: BTreeMap<i64, usize> = BTreeMap::new();
    for id in first.iter().chain(&second) {
        *counts.entry(*id).or_default() += 1;
    }
    let repeated: Vec<i64> = counts
        .iter()
        .filter(|(_, &n)| n > 1)
        .map(|(&id, _)| id)
        .collect();
    assert!(
        repeated.is_empty(),
        "after a clean stop no row repeats; {} did (first {:?})",
        repeated.len(),
        &repeated[..repeated.len().min(10)]
    );
}

#[test]
fn mariadb_sigkill_then_immediate_restart_starts_and_loses_nothing() {
    let (first, second) = stopped_and_started_again_at_once("-KILL");
    // the second run resumes at the last committed offset: it repeats a tail of the first run's
    // output (what was written but not yet committed), in the same order, and nothing else
    let k = (0..=first.len().min(second.len()))
        .rev()
        .find(|&k| first[first.len() - k..] == second[..k])
        .unwrap();
    let mut seen = std::collections::BTreeSet::new();
    let repeats_outside_tail = first
        .iter()
        .chain(&second[k..])
        .filter(|id| !seen.insert(**id))
        .count();
    eprintln!("kill -9: {k} rows of the first run's uncommitted tail delivered again");
    assert_eq!(
        repeats_outside_tail, 0,
        "rows repeated beyond the first run's uncommitted tail ({k} rows)"
    );
}
