//! Debezium as a live oracle (issue 19): the same database changes run through Debezium on a
//! real Kafka Connect worker and through `sluice run --sink kafka`, into one Apache Kafka
//! broker, and every record is compared (tests/common/diff.rs says what and how).
//!
//! Each workload: the tables and rows of `tests/fixtures/differential/<db>_snapshot.sql`; then
//! sluice snapshots and catches up (`--exit-when-caught-up`) and Debezium's connector is created
//! and snapshots the same state (nothing is written until its snapshot records are all in Kafka);
//! then `<db>_stream.sql` runs and a row goes into table `fence`; sluice catches up again (so it
//! reads the binlog after the fact, as after any downtime) and Debezium is stopped once the
//! fence row is in its topic (a stopped connector has all its records acknowledged). Both
//! systems get the same connector document but for the name, `topic.prefix`, server id, slot,
//! publication and schema history topic.
//!
//! Every difference must be one of the test's `KNOWN` divergences, and every one of those must
//! still occur (docs/testing.md, "Differential tests").

mod common;

use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use common::debezium::{broker, worker};
use common::diff::{check, differences, Compare, Divergence, Known};
use common::generator;
use common::shared::{maria, one_at_a_time, pg};
use common::{repo_root, wait_until, Maria, Work};
use serde_json::{json, Value};

/// The MariaDB tests share one binlog: a snapshot's binlog position is compared, so nothing else
/// may write between the two systems' snapshots.
static MARIA: Mutex<()> = Mutex::new(());

/// Divergences of every MariaDB run with Debezium's MariaDB connector.
const KNOWN_MARIADB_CONNECTOR: &[Known] = &[];

/// Divergences of the fixed MariaDB workload, each a table (topic without prefix) and a path.
const KNOWN_MARIADB: &[Known] = &[
    Known {
        topic: "dm.floats",
        path: "value.payload.after.f",
        reason: "FLOAT 2.0083e18: Debezium (on Java 17) writes 2.00830004e18, the float's Java 17 \
                 Float.toString digits widened to double; sluice 2.0083e18",
        issue: "19 (new): FLOAT values",
    },
    Known {
        topic: "dm.times",
        path: "value.payload.{before,after}.ts6",
        reason: "snapshot of TIMESTAMP(6) '… 03:04:05.678900': Debezium's ZonedTimestamp drops \
                 the fraction's trailing zeros ('…05.6789Z'), sluice writes all six digits \
                 (streamed, both drop them)",
        issue: "19 (new): ZonedTimestamp text",
    },
    Known {
        topic: "dm.defaults",
        path: "value.schema.fields[{before,after}].fields[{n,s,d,e,dt}].default",
        reason: "column DEFAULTs are missing from sluice's schemas",
        issue: "19: column defaults",
    },
    Known {
        topic: "dm.defaults",
        path: "value.payload.after.{s,d,dt}",
        reason: "a NULL in a column with a DEFAULT: Connect's JsonConverter writes the schema's \
                 default instead (replace.null.with.default=true); sluice writes null",
        issue: "19: column defaults",
    },
    Known {
        topic: "dm.texts",
        path: "value.schema.fields[{before,after}].fields[extra].default",
        reason: "the DEFAULT of a column added by ALTER TABLE … ADD COLUMN is missing",
        issue: "19: column defaults",
    },
];

#[test]
fn mariadb_fixed_workload_matches_debezium() {
    let _one = one_at_a_time(&MARIA);
    let db = maria();
    db.sql(&fixture_sql("mariadb_snapshot.sql"));
    let pair = maria_pair(db, "dm", 5501);
    pair.snapshots(maria_rows(db, "dm"));
    db.sql(&fixture_sql("mariadb_stream.sql"));
    db.sql("INSERT INTO dm.fence VALUES (1)");
    let found = pair.finish("dm.fence", &[]);
    let known: Vec<&Known> = KNOWN_MARIADB_CONNECTOR
        .iter()
        .chain(KNOWN_MARIADB)
        .collect();
    check("MariaDB fixed workload", &found, &known);
}

/// The seeds CI runs. `SLUICE_DIFF_SEEDS=1-500` (a range) or `=3,17` (a list) runs others: a
/// longer soak, or one seed again to reproduce a divergence (its tables are `dg.s<seed>_…`).
const SEEDS: &[u64] = &[1, 2, 3, 4, 5, 6];

fn seeds() -> Vec<u64> {
    let Ok(spec) = std::env::var("SLUICE_DIFF_SEEDS") else {
        return SEEDS.to_vec();
    };
    match spec.split_once('-') {
        Some((a, b)) => (a.trim().parse().unwrap()..=b.trim().parse().unwrap()).collect(),
        None => spec.split(',').map(|s| s.trim().parse().unwrap()).collect(),
    }
}

/// Random tables, rows and changes (tests/common/generator.rs), one set per seed, all in one
/// database and one comparison.
#[test]
fn mariadb_generated_workloads_match_debezium() {
    let _one = one_at_a_time(&MARIA);
    let db = maria();
    let seeds = seeds();
    // the fence table last in the snapshot's order (see dm.a_empty in KNOWN_MARIADB)
    let mut before =
        "CREATE DATABASE dg; CREATE TABLE dg.zz_fence (id INT PRIMARY KEY);\n".to_string();
    let mut stream = String::new();
    for seed in &seeds {
        let (b, s) = generator::mariadb_workload(*seed, "dg");
        before += &b;
        stream += &s;
    }
    db.sql(&before);
    let pair = maria_pair(db, "dg", 5521);
    pair.snapshots(maria_rows(db, "dg"));
    db.sql(&stream);
    db.sql("INSERT INTO dg.zz_fence VALUES (1)");
    let found = pair.finish("dg.zz_fence", &[]);
    let known: Vec<&Known> = KNOWN_MARIADB_CONNECTOR.iter().collect();
    check(
        &format!("MariaDB generated, seeds {seeds:?}"),
        &found,
        &known,
    );
}

/// `CREATE TABLE … LIKE`, rows, `DROP TABLE`, all before sluice reads the binlog: the copied
/// table is gone by then, so its definition must come from the schema history (as Debezium's
/// does). Its own test: a sluice that stops on it ends the comparison there.
const KNOWN_LIKE: &[Known] = &[];

#[test]
fn mariadb_create_like_then_drop_matches_debezium() {
    let _one = one_at_a_time(&MARIA);
    let db = maria();
    db.sql(
        "CREATE DATABASE dl; USE dl;
         CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(10)); INSERT INTO t VALUES (1, 'a');
         CREATE TABLE fence (id INT PRIMARY KEY);",
    );
    let pair = maria_pair(db, "dl", 5511);
    pair.snapshots(maria_rows(db, "dl"));
    db.sql(
        "USE dl; CREATE TABLE c LIKE t; INSERT INTO c VALUES (1, 'copy'); UPDATE c SET v = 'x';
         DROP TABLE c; INSERT INTO t VALUES (2, 'b'); INSERT INTO fence VALUES (1);",
    );
    let found = pair.finish("dl.fence", &[]);
    check(
        "MariaDB CREATE … LIKE, DROP",
        &found,
        &KNOWN_LIKE.iter().collect::<Vec<_>>(),
    );
}

/// Debezium's MariaDB connector and sluice on `database`, one document for both.
fn maria_pair(db: &Maria, database: &str, server_id: u32) -> Pair {
    let doc = |who: &str, id: u32| {
        let prefix = format!("{who}_{database}");
        let mut doc = db.connector(
            &prefix,
            &[
                (
                    "connector.class",
                    "io.debezium.connector.mariadb.MariaDbConnector",
                ),
                ("database.server.id", &id.to_string()),
                ("topic.prefix", &prefix),
                ("database.include.list", database),
                ("snapshot.mode", "initial"),
            ],
        );
        doc["config"]
            .as_object_mut()
            .unwrap()
            .extend(common_config(&prefix));
        doc
    };
    Pair::new(doc("dbz", server_id), doc("sl", server_id + 1))
}

/// The rows of every table of `database`: what a snapshot of it emits.
fn maria_rows(db: &Maria, database: &str) -> usize {
    let tables = db.sql(&format!(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = '{database}'"
    ));
    let count = tables
        .lines()
        .map(|t| format!("(SELECT COUNT(*) FROM {database}.{t})"))
        .collect::<Vec<_>>()
        .join(" + ");
    db.sql(&format!("SELECT {count}")).parse().unwrap()
}

/// One comparison: a Debezium connector on the shared worker and `sluice run --sink kafka`
/// with its own data directory.
struct Pair {
    work: Work,
    debezium: Value,
    sluice: std::path::PathBuf,
    /// The two `topic.prefix` values.
    prefixes: (String, String),
}

impl Pair {
    fn new(debezium: Value, sluice: Value) -> Pair {
        let prefix = |doc: &Value| doc["config"]["topic.prefix"].as_str().unwrap().to_string();
        let work = Work::new();
        Pair {
            prefixes: (prefix(&debezium), prefix(&sluice)),
            sluice: work.write_connector("sluice.json", &sluice),
            work,
            debezium,
        }
    }

    /// sluice snapshots and catches up; then Debezium snapshots the same state, `rows` records.
    fn snapshots(&self, rows: usize) {
        if let Err(e) = self.catch_up() {
            panic!("sluice failed on the snapshot: {e}");
        }
        worker().create(&self.debezium);
        wait_records(&self.prefixes.0, rows);
    }

    fn catch_up(&self) -> Result<(), String> {
        let sink = format!("kafka:{}", broker().bootstrap());
        let out = self
            .work
            .command_to(&self.sluice, &sink, &["--exit-when-caught-up"])
            .output()
            .unwrap();
        match out.status.success() {
            true => Ok(()),
            false => Err(String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
                .to_string()),
        }
    }

    /// Once the streamed changes and the fence row are written: both systems to the end, then
    /// the comparison (`snapshot_fields`: see [`Compare`]).
    fn finish(&self, fence: &str, snapshot_fields: &[&str]) -> Vec<Divergence> {
        let sluice = self.catch_up();
        let (dbz, sl) = &self.prefixes;
        wait_records(&format!("{dbz}.{fence}"), 1);
        worker().stop(self.debezium["name"].as_str().unwrap());
        if let Err(last_line) = sluice {
            return vec![stopped(last_line)];
        }
        Compare {
            debezium: dbz,
            sluice: sl,
            partitions: PARTITIONS,
            snapshot_fields,
        }
        .run(broker())
    }
}

/// Divergences of the fixed PostgreSQL workload.
const KNOWN_POSTGRES: &[Known] = &[];

/// A snapshot runs in each connector's own transaction at its own slot's consistent point: the
/// LSN and the transaction id of snapshot records differ by design, and so does the LSN in
/// their `sequence` (`[null, "<lsn>"]`).
const PG_SNAPSHOT_FIELDS: &[&str] = &["lsn", "txId", "sequence"];

#[test]
fn postgres_fixed_workload_matches_debezium() {
    let pg = pg();
    pg.sql("CREATE DATABASE dp");
    psql_file(pg, "dp", "postgres_snapshot.sql");
    let doc = |who: &str| {
        let prefix = format!("{who}_dp");
        let mut doc = pg.connector(
            &prefix,
            "dp",
            &[
                ("topic.prefix", &prefix),
                ("plugin.name", "pgoutput"),
                ("publication.autocreate.mode", "all_tables"),
                ("snapshot.mode", "initial"),
            ],
        );
        doc["config"]
            .as_object_mut()
            .unwrap()
            .extend(common_config(&prefix));
        doc
    };
    let pair = Pair::new(doc("dbz"), doc("sl"));
    let rows: usize = pg
        .sql_in(
            "dp",
            "SELECT (SELECT count(*) FROM nums) + (SELECT count(*) FROM texts)
             + (SELECT count(*) FROM times) + (SELECT count(*) FROM docs)
             + (SELECT count(*) FROM moods) + (SELECT count(*) FROM fence)",
        )
        .parse()
        .unwrap();
    pair.snapshots(rows);
    psql_file(pg, "dp", "postgres_stream.sql");
    pg.sql_in("dp", "INSERT INTO fence VALUES (1)");
    let found = pair.finish("public.fence", PG_SNAPSHOT_FIELDS);
    check(
        "PostgreSQL fixed workload",
        &found,
        &KNOWN_POSTGRES.iter().collect::<Vec<_>>(),
    );
}

/// Runs a fixture file with psql, each statement in its own transaction unless it says BEGIN.
fn psql_file(pg: &common::postgres::Pg, db: &str, name: &str) {
    let file = repo_root().join("tests/fixtures/differential").join(name);
    let out = Command::new(repo_root().join("scripts/postgres.sh"))
        .arg("sql")
        .arg(pg.dir.path())
        .args(["-d", db, "-f"])
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The comparison itself can fail: a value that differs, a field Debezium has and sluice has not,
/// an integer written as a float, struct fields in another order are all differences.
#[test]
fn the_comparison_finds_what_differs() {
    let dbz = json!({"schema": {"fields": [
        {"field": "id", "type": "int32"}, {"field": "v", "type": "string", "default": "x"}]},
        "payload": {"id": 1, "v": "café"}});
    let sluice = json!({"schema": {"fields": [
        {"field": "v", "type": "string"}, {"field": "id", "type": "int32"}]},
        "payload": {"id": 1.0, "v": "caf\u{fffd}"}});
    let paths: Vec<String> = differences(&dbz, &sluice)
        .into_iter()
        .map(|(p, _, _)| p)
        .collect();
    assert_eq!(
        paths,
        [
            ".schema.fields<order>",
            ".schema.fields[v].default",
            ".payload.id",
            ".payload.v"
        ]
    );
    assert!(differences(&dbz, &dbz).is_empty());
}

/// A known divergence covers its table and the paths its pattern matches, nothing else.
#[test]
fn a_known_divergence_is_precise() {
    const ONE: Known = Known {
        topic: "dm.latin",
        path: "value.payload.after.v",
        reason: "self-test",
        issue: "self-test",
    };
    const EITHER: Known = Known {
        topic: "dm.defaults",
        path: "value.schema.fields[{before,after}].fields[{n,s,d,e,dt}].default",
        reason: "self-test",
        issue: "self-test",
    };
    let at = |topic: &str, path: &str| Divergence {
        topic: topic.into(),
        index: 0,
        key: "{}".into(),
        path: path.into(),
        debezium: String::new(),
        sluice: String::new(),
    };
    assert!(ONE.matches(&at("dm.latin", "value.payload.after.v")));
    assert!(!ONE.matches(&at("dm.texts", "value.payload.after.v")));
    assert!(!ONE.matches(&at("dm.latin", "value.payload.after.id")));
    assert!(EITHER.matches(&at(
        "dm.defaults",
        "value.schema.fields[before].fields[dt].default"
    )));
    assert!(!EITHER.matches(&at(
        "dm.defaults",
        "value.schema.fields[source].fields[db].default"
    )));
}

#[test]
#[should_panic(expected = "1 unexplained differences, 0 stale")]
fn an_unlisted_difference_fails() {
    let d = stopped("error".into());
    check("self-test", &[d], &[]);
}

#[test]
#[should_panic(expected = "0 unexplained differences, 1 stale")]
fn a_listed_divergence_that_no_longer_occurs_fails() {
    const GONE: Known = Known {
        topic: "*",
        path: "sluice.exit",
        reason: "self-test",
        issue: "self-test",
    };
    check("self-test", &[], &[&GONE]);
}

/// A sluice run that failed: one divergence; its records are not compared (everything after
/// the failure would only be its consequence).
fn stopped(last_line: String) -> Divergence {
    Divergence {
        topic: "*".into(),
        index: 0,
        key: "-".into(),
        path: "sluice.exit".into(),
        debezium: "caught up".into(),
        sluice: last_line,
    }
}

const PARTITIONS: i32 = 2;

/// What both systems' documents share: no schema change topic (sluice emits none yet), topics
/// of two partitions (so the key decides the partition), one task, a schema history topic of
/// its own.
fn common_config(prefix: &str) -> serde_json::Map<String, Value> {
    json!({
        "include.schema.changes": "false",
        "schema.history.internal.kafka.topic": format!("{prefix}-history"),
        "topic.creation.default.partitions": PARTITIONS.to_string(),
        "topic.creation.default.replication.factor": "1",
        "tasks.max": "1",
        "schema.history.internal.kafka.bootstrap.servers": broker().bootstrap(),
    })
    .as_object()
    .unwrap()
    .clone()
}

/// Waits until the topics `<prefix>.…` (or the one topic `prefix`) hold `n` records in all.
fn wait_records(prefix: &str, n: usize) {
    let broker = broker();
    let mut seen = 0;
    let ok = wait_until(Duration::from_secs(120), || {
        let topics = broker.topics();
        let mine: Vec<&str> = topics
            .iter()
            .filter(|t| *t == prefix || t.starts_with(&format!("{prefix}.")))
            .map(String::as_str)
            .collect();
        seen = broker.consume(&mine, false).len();
        seen >= n
    });
    assert!(ok, "Debezium wrote {seen} of {n} records to {prefix}");
}

fn fixture_sql(name: &str) -> String {
    std::fs::read_to_string(repo_root().join("tests/fixtures/differential").join(name)).unwrap()
}
