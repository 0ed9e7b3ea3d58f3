//! `sluice connect` with Kafka: a poison record set aside in a dead letter queue topic with
//! Connect's context headers (or the task failing with its trace in the status), and two
//! distributed workers in one group handing connectors over when one dies.

mod common;

use std::time::Duration;

use common::connect::ConnectWorker;
use common::kafka::Broker;
use common::postgres::Pg;
use common::search::Search;
use common::{wait_until, Maria, Work};
use serde_json::{json, Value};

fn props(broker: &Broker, extra: &str) -> String {
    format!(
        "bootstrap.servers={}\nkey.converter=org.apache.kafka.connect.json.JsonConverter\nvalue.converter=org.apache.kafka.connect.json.JsonConverter\n{extra}",
        broker.bootstrap()
    )
}

fn es_sink(es: &Search, name: &str, extra: &[(&str, &str)]) -> Value {
    let mut c = json!({
        "connector.class": "io.confluent.connect.elasticsearch.ElasticsearchSinkConnector",
        "topics": "test.app.t", "connection.url": es.url(), "key.ignore": "false",
        "behavior.on.null.values": "delete",
        "transforms": "extractKey,unwrap,cast",
        "transforms.extractKey.type": "org.apache.kafka.connect.transforms.ExtractField$Key",
        "transforms.extractKey.field": "id",
        "transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState",
        "transforms.cast.type": "org.apache.kafka.connect.transforms.Cast$Value",
        "transforms.cast.spec": "code:int32",
    });
    for (k, v) in extra {
        c[*k] = json!(v);
    }
    json!({"name": name, "config": c})
}

#[test]
fn a_poison_record_goes_to_the_dead_letter_queue_and_the_pipeline_goes_on() {
    let db = Maria::start();
    db.sql("CREATE DATABASE app; USE app; CREATE TABLE t (id INT PRIMARY KEY, code VARCHAR(10));");
    let broker = Broker::start();
    let es = Search::start();
    let work = Work::new();
    let w = ConnectWorker::start(work.dir.path(), "w", &props(&broker, ""), true);
    // an initial snapshot: RUNNING is reported when the connector is started, possibly before
    // the source has read its binlog position; the snapshot covers rows written meanwhile
    let source = db.connector(
        "src",
        &[
            ("table.include.list", "app.t"),
            ("snapshot.mode", "initial"),
        ],
    );
    assert_eq!(w.call("POST", "/connectors", Some(&source)).0, 201);
    w.wait_state("src", "RUNNING", Duration::from_secs(60));
    db.sql("INSERT INTO app.t VALUES (1, '10'), (2, 'ten'), (3, '30')");
    let tolerant = es_sink(
        &es,
        "es-tolerant",
        &[
            ("errors.tolerance", "all"),
            ("errors.log.enable", "true"),
            ("errors.deadletterqueue.topic.name", "dlq-es"),
            ("errors.deadletterqueue.topic.replication.factor", "1"),
            ("errors.deadletterqueue.context.headers.enable", "true"),
        ],
    );
    assert_eq!(w.call("POST", "/connectors", Some(&tolerant)).0, 201);
    assert!(
        wait_until(Duration::from_secs(90), || es.docs("test.app.t").len() == 2),
        "the records that cast go through: {:?}\n{}",
        es.docs("test.app.t"),
        std::fs::read_to_string(work.path("w.log")).unwrap_or_default()
    );
    assert_eq!(es.docs("test.app.t")["3"]["code"], 30, "cast to an integer");
    let dlq = broker.consume(&["dlq-es"], false);
    assert_eq!(dlq.len(), 1, "{dlq:?}");
    let h = |k: &str| {
        dlq[0]
            .headers
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("header {k} missing: {:?}", dlq[0].headers))
    };
    assert_eq!(h("__connect.errors.topic"), "test.app.t");
    assert_eq!(h("__connect.errors.partition"), "0");
    assert!(h("__connect.errors.offset").parse::<i64>().is_ok());
    assert_eq!(h("__connect.errors.connector.name"), "es-tolerant");
    assert_eq!(h("__connect.errors.task.id"), "0");
    assert_eq!(h("__connect.errors.stage"), "TRANSFORMATION");
    assert_eq!(
        h("__connect.errors.class.name"),
        "org.apache.kafka.connect.transforms.Cast$Value"
    );
    assert_eq!(
        h("__connect.errors.exception.class.name"),
        "org.apache.kafka.connect.errors.DataException"
    );
    assert!(h("__connect.errors.exception.message").contains("ten"));
    assert_eq!(
        dlq[0].value["payload"]["after"]["code"], "ten",
        "the record as it was consumed"
    );
    assert_eq!(
        w.call("GET", "/connectors/es-tolerant/status", None).1["tasks"][0]["state"],
        "RUNNING"
    );

    // errors.tolerance=none: the task fails and says why
    let strict = es_sink(&es, "es-strict", &[]);
    assert_eq!(w.call("POST", "/connectors", Some(&strict)).0, 201);
    let status = w.wait_state("es-strict", "FAILED", Duration::from_secs(60));
    let trace = status["tasks"][0]["trace"].as_str().unwrap();
    assert!(
        trace.contains("Cast$Value") && trace.contains("errors.tolerance"),
        "{trace}"
    );
}

/// `id → v` of `t` in PostgreSQL.
fn pg_rows(pg: &Pg) -> Vec<(i64, i64)> {
    pg.try_sql("SELECT id, v FROM t ORDER BY id")
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (a, b) = l.split_once('\t').unwrap();
            (a.parse().unwrap(), b.parse().unwrap())
        })
        .collect()
}

#[test]
fn two_workers_share_connectors_and_one_takes_over_when_the_other_dies() {
    let db = Maria::start();
    db.sql("CREATE DATABASE app; USE app; CREATE TABLE t (id INT PRIMARY KEY, v INT NOT NULL);");
    let broker = Broker::start();
    let pg = Pg::start();
    let work = Work::new();
    let cluster = props(&broker, "group.id=sluice-cluster\nconfig.storage.replication.factor=1\noffset.storage.replication.factor=1\nstatus.storage.replication.factor=1\nscheduled.rebalance.max.delay.ms=3000\n");
    let mut workers = [
        ConnectWorker::start(work.dir.path(), "a", &cluster, false),
        ConnectWorker::start(work.dir.path(), "b", &cluster, false),
    ];
    let source = db.connector(
        "src",
        &[
            ("table.include.list", "app.t"),
            ("snapshot.mode", "initial"),
        ],
    );
    let sink = json!({"name": "pg", "config": {
        "connector.class": "io.debezium.connector.jdbc.JdbcSinkConnector",
        "connection.url": pg.jdbc_url(), "topics": "test.app.t", "insert.mode": "upsert",
        "primary.key.mode": "record_key", "delete.enabled": "true", "schema.evolution": "basic",
        "table.name.format": "t"}});
    assert_eq!(workers[0].call("POST", "/connectors", Some(&source)).0, 201);
    assert_eq!(
        workers[1].call("POST", "/connectors", Some(&sink)).0,
        201,
        "any worker takes REST calls"
    );
    // the posting worker answers after reading its write back; the other one sees it as soon as
    // it reads the config topic (as in Kafka Connect, a follower's view is eventually consistent)
    for w in &workers {
        let seen = || {
            w.call("GET", "/connectors", None)
                .1
                .as_array()
                .map(Vec::len)
        };
        assert!(
            wait_until(Duration::from_secs(30), || seen() == Some(2)),
            "both workers see both connectors: {:?}",
            seen()
        );
    }
    let running_on = |w: &ConnectWorker, name: &str| -> Option<String> {
        let s = w.call("GET", &format!("/connectors/{name}/status"), None).1;
        (s["tasks"][0]["state"] == "RUNNING").then(|| {
            s["tasks"][0]["worker_id"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
    };
    assert!(wait_until(Duration::from_secs(90), || running_on(
        &workers[0],
        "src"
    )
    .is_some()
        && running_on(&workers[0], "pg").is_some()));
    db.sql("USE app; INSERT INTO t SELECT seq, seq FROM seq_1_to_2000;");
    assert!(
        wait_until(Duration::from_secs(90), || pg_rows(&pg).len() == 2000),
        "{} rows",
        pg_rows(&pg).len()
    );

    // kill -9 the worker that runs the source
    let src_worker = running_on(&workers[0], "src").unwrap();
    let (dead, alive) = if src_worker == format!("127.0.0.1:{}", workers[0].port) {
        (0, 1)
    } else {
        (1, 0)
    };
    workers[dead].kill("-KILL");
    db.sql("USE app; UPDATE t SET v = -v WHERE id <= 500; DELETE FROM t WHERE id > 1500; INSERT INTO t SELECT seq, seq FROM seq_3001_to_3500;");
    let alive_id = format!("127.0.0.1:{}", workers[alive].port);
    assert!(
        wait_until(Duration::from_secs(120), || {
            running_on(&workers[alive], "src").as_deref() == Some(alive_id.as_str())
                && running_on(&workers[alive], "pg").as_deref() == Some(alive_id.as_str())
        }),
        "the connectors moved to the surviving worker: {} / {}",
        workers[alive].call("GET", "/connectors/src/status", None).1,
        workers[alive].call("GET", "/connectors/pg/status", None).1
    );
    let want: Vec<(i64, i64)> = db
        .sql("SELECT id, v FROM app.t ORDER BY id")
        .lines()
        .map(|l| {
            let (a, b) = l.split_once('\t').unwrap();
            (a.parse().unwrap(), b.parse().unwrap())
        })
        .collect();
    assert_eq!(want.len(), 2000);
    assert!(
        wait_until(Duration::from_secs(120), || pg_rows(&pg) == want),
        "PostgreSQL converged after the takeover ({} rows)",
        pg_rows(&pg).len()
    );
}

/// The connectors' (task) states and workers, as one worker's REST API shows them.
fn statuses(w: &ConnectWorker, names: &[&str]) -> Vec<(String, String)> {
    names
        .iter()
        .map(|n| {
            let s = w.call("GET", &format!("/connectors/{n}/status"), None).1;
            (
                s["tasks"][0]["state"].as_str().unwrap_or("?").to_string(),
                s["tasks"][0]["worker_id"]
                    .as_str()
                    .unwrap_or("?")
                    .to_string(),
            )
        })
        .collect()
}

/// `id → v` of a PostgreSQL table.
fn pg_table(pg: &Pg, table: &str) -> Vec<(i64, i64)> {
    pg.try_sql(&format!("SELECT id, v FROM {table} ORDER BY id"))
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (a, b) = l.split_once('\t').unwrap();
            (a.parse().unwrap(), b.parse().unwrap())
        })
        .collect()
}

#[test]
fn three_workers_on_three_brokers_lose_nothing_when_a_worker_dies_and_a_broker_stops() {
    const ROWS: i64 = 100_000;
    let db = Maria::start();
    db.sql("CREATE DATABASE app; USE app; CREATE TABLE t (id INT PRIMARY KEY, v INT NOT NULL);");
    let broker = Broker::start_nodes(3);
    let pg = Pg::start();
    let work = Work::new();
    // internal topics take the brokers' replication factor (3, min.insync.replicas 2); a lost
    // worker's connectors wait 3 s for it to come back (Connect's default is 5 minutes)
    let cluster = props(
        &broker,
        "group.id=sluice-three\nscheduled.rebalance.max.delay.ms=3000\noffset.flush.interval.ms=1000\n",
    );
    let mut workers: Vec<ConnectWorker> = ["a", "b", "c"]
        .iter()
        .map(|n| ConnectWorker::start(work.dir.path(), n, &cluster, false))
        .collect();
    let ids: Vec<String> = workers
        .iter()
        .map(|w| format!("127.0.0.1:{}", w.port))
        .collect();
    let source = db.connector(
        "src",
        &[
            ("table.include.list", "app.t"),
            ("snapshot.mode", "initial"),
            ("max.batch.size", "512"),
        ],
    );
    let sink = |name: &str, table: &str| {
        json!({"name": name, "config": {
            "connector.class": "io.debezium.connector.jdbc.JdbcSinkConnector",
            "connection.url": pg.jdbc_url(), "topics": "test.app.t", "insert.mode": "upsert",
            "primary.key.mode": "record_key", "delete.enabled": "true",
            "schema.evolution": "basic", "table.name.format": table}})
    };
    assert_eq!(workers[0].call("POST", "/connectors", Some(&source)).0, 201);
    assert_eq!(
        workers[1]
            .call("POST", "/connectors", Some(&sink("pg1", "t1")))
            .0,
        201
    );
    assert_eq!(
        workers[2]
            .call("POST", "/connectors", Some(&sink("pg2", "t2")))
            .0,
        201
    );
    let names = ["src", "pg1", "pg2"];
    let mut last = Vec::new();
    assert!(
        wait_until(Duration::from_secs(120), || {
            last = statuses(&workers[0], &names);
            let on: std::collections::BTreeSet<&String> = last.iter().map(|(_, w)| w).collect();
            last.iter().all(|(s, _)| s == "RUNNING") && on.len() == 3
        }),
        "three connectors run, one on each worker (balanced, not hashed): {last:?}"
    );

    // 100 transactions of 1,000 rows, about 30 s in all
    let mut script = String::from("USE app;");
    for start in (1..=ROWS).step_by(1000) {
        script.push_str(&format!(
            "INSERT INTO t SELECT seq, seq FROM seq_{start}_to_{}; DO SLEEP(0.3);",
            start + 999
        ));
    }
    let writer = db.sql_in_background(script);
    let count = || db.sql("SELECT COUNT(*) FROM app.t").parse::<i64>().unwrap();

    // a worker dies: the one that runs the source
    assert!(wait_until(Duration::from_secs(120), || count() >= ROWS / 6));
    let src_on = statuses(&workers[0], &["src"])[0].1.clone();
    let dead = ids
        .iter()
        .position(|i| *i == src_on)
        .expect("src runs on a worker");
    workers[dead].kill("-KILL");
    let alive: Vec<usize> = (0..3).filter(|i| *i != dead).collect();
    let watcher = alive[0];
    let moved = || {
        let s = statuses(&workers[watcher], &names);
        s.iter()
            .all(|(state, w)| state == "RUNNING" && *w != ids[dead] && ids.contains(w))
    };
    assert!(
        wait_until(Duration::from_secs(120), moved),
        "the connectors of the dead worker moved to the others: {:?}",
        statuses(&workers[watcher], &names)
    );

    // from now on the REST status stays correct: RUNNING, on a live worker, even while a broker
    // is down
    let check = |when: &str| {
        for i in &alive {
            let s = statuses(&workers[*i], &names);
            for (name, (state, w)) in names.iter().zip(&s) {
                assert!(
                    state == "RUNNING" && *w != ids[dead],
                    "{when}: worker {} says {name} is {state} on {w}",
                    ids[*i]
                );
            }
        }
    };
    check("after the takeover");
    assert!(wait_until(Duration::from_secs(120), || count() >= ROWS * 2 / 3));
    broker.stop_node(1);
    let stopped = std::time::Instant::now();
    while stopped.elapsed() < Duration::from_secs(10) {
        check("with broker 1 stopped");
        std::thread::sleep(Duration::from_millis(500));
    }
    writer.join().unwrap();
    assert_eq!(count(), ROWS);
    broker.start_node(1);
    check("with broker 1 back");

    // no row lost: both sinks hold the table
    let want: Vec<(i64, i64)> = (1..=ROWS).map(|i| (i, i)).collect();
    for table in ["t1", "t2"] {
        assert!(
            wait_until(Duration::from_secs(180), || pg_table(&pg, table) == want),
            "{table} converged ({} rows); {:?}",
            pg_table(&pg, table).len(),
            statuses(&workers[watcher], &names)
        );
    }
    check("at the end");

    // duplicates only from the batches the dead worker had not committed: one replay of a
    // contiguous run of the binlog, nothing from the stopped broker (idempotent producer)
    let mut seen = std::collections::BTreeMap::<i64, usize>::new();
    for r in broker.consume(&["test.app.t"], false) {
        if let Some(id) = r.value["payload"]["after"]["id"].as_i64() {
            *seen.entry(id).or_default() += 1;
        }
    }
    assert_eq!(seen.len() as i64, ROWS, "every row in the topic");
    let dups: Vec<i64> = seen
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(i, _)| *i)
        .collect();
    if let (Some(first), Some(last)) = (dups.first(), dups.last()) {
        assert_eq!(
            (last - first + 1) as usize,
            dups.len(),
            "the duplicates are one replayed range: {first}..={last} but only {} ids",
            dups.len()
        );
        assert!(seen.values().all(|n| *n <= 2), "nothing replayed twice");
    }
}
