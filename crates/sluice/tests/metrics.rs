//! `/metrics` and `/health` of a running connector: counters advance under load, the lag
//! returns to about zero when the load stops, and health follows the database connection.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{free_port, wait_until, Maria, Work};

/// `GET path` on loopback: (status code, body).
fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let status = text.split(' ').nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string())?;
    Some((status, body))
}

/// Starts sluice streaming into `out.jsonl` with `/metrics` and `/health` on a free port.
fn spawn_with_http(work: &Work, conn: &std::path::Path) -> (std::process::Child, u16) {
    let port = free_port();
    let child = work
        .command(conn, "out.jsonl", &["--http", &format!("127.0.0.1:{port}")])
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(work.path("run.log")).unwrap())
        .spawn()
        .unwrap();
    (child, port)
}

/// The value of the sample line starting with `prefix` (name plus labels).
fn sample(metrics: &str, prefix: &str) -> Option<f64> {
    metrics
        .lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[test]
fn metrics_advance_under_load_and_health_follows_the_database() {
    let db = Maria::start();
    db.sql("CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY, v INT)");
    let work = Work::new();
    let conn = work.write_connector("m.json", &db.connector("m", &[]));
    work.catch_up(&conn, "out.jsonl");
    let (mut child, port) = spawn_with_http(&work, &conn);
    assert!(wait_until(Duration::from_secs(20), || {
        get(port, "/health").is_some_and(|(s, _)| s == 200)
    }));

    let created = r#"sluice_events_total{connector="m",topic="test.app.t",op="c"}"#;
    let mut script = String::from("USE app;");
    for start in (1..=20_000).step_by(500) {
        script.push_str(&format!(
            "INSERT INTO t SELECT seq, seq FROM seq_{start}_to_{}; DO SLEEP(0.05);",
            start + 499
        ));
    }
    let writer = db.sql_in_background(script);
    let mut seen = Vec::new();
    for _ in 0..40 {
        let (_, m) = get(port, "/metrics").unwrap();
        seen.push(sample(&m, created).unwrap_or(0.0));
        if seen.last() == Some(&20_000.0) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    writer.join().unwrap();
    assert!(
        seen.windows(2).any(|w| w[1] > w[0] && w[0] > 0.0),
        "the event counter advances during the load: {seen:?}"
    );
    assert!(wait_until(Duration::from_secs(30), || {
        let (_, m) = get(port, "/metrics").unwrap();
        sample(&m, created) == Some(20_000.0)
    }));
    let (_, m) = get(port, "/metrics").unwrap();
    let lag = sample(&m, r#"sluice_milliseconds_behind_source{connector="m"}"#).unwrap();
    assert!(
        lag < 3_000.0,
        "lag back to about zero after the load: {lag} ms\n{m}"
    );
    assert!(sample(&m, r#"sluice_offset_commits_total{connector="m"}"#).unwrap() > 0.0);
    assert_eq!(
        sample(&m, r#"sluice_source_connected{connector="m"}"#),
        Some(1.0)
    );

    // the database goes away: health turns 503 while the source retries
    db.stop();
    assert!(
        wait_until(Duration::from_secs(30), || {
            get(port, "/health").is_some_and(|(s, b)| s == 503 && b.contains("\"DOWN\""))
        }),
        "health must report the lost connection"
    );
    let (_, m) = get(port, "/metrics").unwrap();
    assert_eq!(
        sample(&m, r#"sluice_source_connected{connector="m"}"#),
        Some(0.0)
    );
    assert!(sample(&m, r#"sluice_source_reconnects_total{connector="m"}"#).unwrap() >= 1.0);
    common::signal(&mut child, "-KILL");
}

#[test]
fn snapshot_progress_is_a_metric() {
    let db = Maria::start();
    db.sql(
        "CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY, v INT);
         USE app; INSERT INTO t SELECT seq, seq FROM seq_1_to_50000; ANALYZE TABLE t;",
    );
    let work = Work::new();
    let conn = work.write_connector(
        "s.json",
        &db.connector("s", &[("snapshot.mode", "initial")]),
    );
    let (mut child, port) = spawn_with_http(&work, &conn);
    let mut last = String::new();
    let done = wait_until(Duration::from_secs(60), || {
        last = get(port, "/metrics").map(|(_, m)| m).unwrap_or_default();
        sample(&last, r#"sluice_snapshot_rows{connector="s"}"#) == Some(50_000.0)
            && sample(&last, r#"sluice_snapshot_running{connector="s"}"#) == Some(0.0)
    });
    assert!(done, "{last}");
    let estimate = sample(&last, r#"sluice_snapshot_rows_estimate{connector="s"}"#).unwrap();
    assert!(
        estimate > 25_000.0 && estimate < 100_000.0,
        "estimate {estimate}"
    );
    let reads = r#"sluice_events_total{connector="s",topic="test.app.t",op="r"}"#;
    assert!(wait_until(Duration::from_secs(30), || {
        get(port, "/metrics").is_some_and(|(_, m)| sample(&m, reads) == Some(50_000.0))
    }));
    assert!(common::signal(&mut child, "-TERM").success());
}
