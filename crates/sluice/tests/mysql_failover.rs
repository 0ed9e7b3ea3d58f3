//! Primary failover (MHA-style): the connector reaches MariaDB through an address that moves to
//! the promoted replica. After the reconnect lands on a different server it resumes from its
//! GTID set there: every row written before and after the switch arrives exactly once.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::proxy::Proxy;
use common::{ops, wait_until, Maria, Work};

fn counts(work: &Work) -> BTreeMap<i64, usize> {
    let mut m = BTreeMap::new();
    for (op, id) in ops(&work.lines("out.jsonl")) {
        assert_eq!(op, "c");
        *m.entry(id).or_default() += 1;
    }
    m
}

/// Inserts ids `from..=to`, one transaction of 10 rows at a time.
fn insert(db: &Maria, from: i64, to: i64) {
    let mut s = String::from("USE app;");
    for start in (from..=to).step_by(10) {
        s.push_str(&format!(
            "INSERT INTO t SELECT seq, seq FROM seq_{start}_to_{};",
            (start + 9).min(to)
        ));
    }
    db.sql(&s);
}

#[test]
fn failover_to_a_promoted_replica_resumes_by_gtid_exactly_once() {
    let primary = Maria::start();
    let replica = Maria::start_with(&["--server-id=2"]);
    replica.sql(&format!(
        "RESET MASTER; SET GLOBAL gtid_slave_pos = '';
         CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={}, MASTER_USER='admin',
           MASTER_PASSWORD='admin', MASTER_USE_GTID=slave_pos;
         START SLAVE;",
        primary.port
    ));
    primary.sql("CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY, v INT)");
    let count = |db: &Maria| db.try_sql("SELECT COUNT(*) FROM app.t").unwrap_or_default();
    assert!(wait_until(Duration::from_secs(30), || count(&replica) == "0"));

    let vip = Proxy::start(primary.port);
    let work = Work::new();
    let mut doc = primary.connector("f", &[]);
    doc["config"]["database.port"] = vip.port.to_string().into();
    let conn = work.write_connector("f.json", &doc);
    work.catch_up(&conn, "out.jsonl");
    let mut child = work.spawn(&conn, "out.jsonl");

    insert(&primary, 1, 300);
    assert!(wait_until(Duration::from_secs(60), || count(&replica) == "300"));
    assert!(wait_until(Duration::from_secs(60), || counts(&work).len() >= 100));

    // the primary dies; the replica is promoted; the address moves to it
    primary.stop();
    replica.sql("STOP SLAVE; RESET SLAVE ALL;");
    vip.switch(replica.port);
    insert(&replica, 301, 600);

    let done = wait_until(Duration::from_secs(90), || counts(&work).len() >= 600);
    let log = std::fs::read_to_string(work.path("out.jsonl.log")).unwrap_or_default();
    assert!(
        done,
        "not every row arrived after the failover: {} of 600\n{log}",
        counts(&work).len()
    );
    assert!(log.contains("resuming from the GTID set"), "{log}");
    std::thread::sleep(Duration::from_millis(500));
    assert!(common::signal(&mut child, "-TERM").success());
    let c = counts(&work);
    assert_eq!(c.len(), 600);
    assert!(
        c.values().all(|n| *n == 1),
        "duplicates: {:?}",
        c.iter()
            .filter(|(_, n)| **n > 1)
            .take(5)
            .collect::<Vec<_>>()
    );
    assert_eq!(c.keys().next(), Some(&1));
    assert_eq!(c.keys().last(), Some(&600));
}

#[test]
fn a_different_server_without_gtids_in_the_offset_is_refused() {
    let a = Maria::start();
    let b = Maria::start_with(&["--server-id=7"]);
    for db in [&a, &b] {
        db.sql("CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY, v INT)");
    }
    let vip = Proxy::start(a.port);
    let work = Work::new();
    let mut doc = a.connector("g", &[]);
    doc["config"]["database.port"] = vip.port.to_string().into();
    let conn = work.write_connector("g.json", &doc);
    work.catch_up(&conn, "out.jsonl");
    insert(&a, 1, 10);
    work.catch_up(&conn, "out.jsonl");
    // an offset without GTIDs, as `offsets set --binlog` leaves it
    let path = work.path("data/offsets/g.json");
    let mut offsets: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    offsets["offsets"][0]["value"]
        .as_object_mut()
        .unwrap()
        .remove("gtids");
    std::fs::write(&path, offsets.to_string()).unwrap();
    let before = std::fs::read(&path).unwrap();

    vip.switch(b.port);
    insert(&b, 1, 10);
    let out = work
        .command(&conn, "out.jsonl", &["--exit-when-caught-up"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("is not the one the offset was taken on"),
        "{err}"
    );
    assert!(err.contains("offsets set --binlog"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), before, "offset unchanged");
}
