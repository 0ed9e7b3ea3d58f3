//! A writer that keeps inserting through an outage: each transaction in a client session of its
//! own, a failed one retried every 200 ms until the server takes it (as an application would
//! wait for its database), idempotently (a commit whose answer was lost is not applied twice).

use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::postgres::Pg;
use super::{repo_root, Maria};

/// Runs one SQL text in a client session of its own.
pub type Client = Box<dyn Fn(&str) -> Result<String, String> + Send>;

fn client_output(mut c: Command) -> Result<String, String> {
    let out = c.output().map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_string())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim_end().to_string())
    }
}

pub fn maria_client(db: &Maria) -> Client {
    let dir = db.dir.path().to_path_buf();
    Box::new(move |sql| {
        let mut c = Command::new(repo_root().join("scripts/mariadb.sh"));
        c.arg("sql").arg(&dir).args(["-N", "-B", "-e", sql]);
        client_output(c)
    })
}

pub fn pg_client(pg: &Pg) -> Client {
    let dir = pg.dir.path().to_path_buf();
    Box::new(move |sql| {
        let mut c = Command::new(repo_root().join("scripts/postgres.sh"));
        c.arg("sql")
            .arg(&dir)
            .args(["-v", "ON_ERROR_STOP=1", "-At", "-c", sql]);
        client_output(c)
    })
}

/// One transaction inserting ids `lo..=hi` with `v = id` into `app.t (id, v)`; idempotent, for
/// the retry of a commit whose answer was lost when the server went down.
pub fn maria_insert(lo: i64, hi: i64) -> String {
    format!("USE app; INSERT IGNORE INTO t SELECT seq, seq FROM seq_{lo}_to_{hi}")
}

/// The same for PostgreSQL's `t (id, v)` in database `postgres`.
pub fn pg_insert(lo: i64, hi: i64) -> String {
    format!("INSERT INTO t SELECT g, g FROM generate_series({lo}, {hi}) g ON CONFLICT DO NOTHING")
}

/// Rows per transaction and the pause after each.
#[derive(Clone, Copy)]
pub struct Pace {
    pub rows: i64,
    pub pause: Duration,
}

/// Inserts ids 1, 2, … in transactions at `pace` until stopped (or dropped), and
/// retries a failed transaction every 200 ms until the server takes it.
pub struct Writer {
    stop: Arc<AtomicBool>,
    committed: Arc<AtomicI64>,
    handle: Option<JoinHandle<WriterReport>>,
}

#[derive(Debug)]
pub struct WriterReport {
    /// The highest id acknowledged by the server.
    pub committed: i64,
    pub failed_attempts: u32,
    pub longest_wait: Duration,
    pub last_error: String,
}

impl Writer {
    pub fn start(client: Client, statement: fn(i64, i64) -> String, pace: Pace) -> Writer {
        let stop = Arc::new(AtomicBool::new(false));
        let committed = Arc::new(AtomicI64::new(0));
        let (s, c) = (stop.clone(), committed.clone());
        let handle = std::thread::spawn(move || {
            let mut report = WriterReport {
                committed: 0,
                failed_attempts: 0,
                longest_wait: Duration::ZERO,
                last_error: String::new(),
            };
            let mut next = 1;
            'write: while !s.load(Ordering::SeqCst) {
                let sql = statement(next, next + pace.rows - 1);
                let first_try = Instant::now();
                let mut failures = 0;
                while let Err(e) = client(&sql) {
                    if failures == 0 {
                        eprintln!("writer: ids from {next} failed, retrying every 200 ms: {e}");
                    }
                    failures += 1;
                    report.last_error = e;
                    if s.load(Ordering::SeqCst) {
                        break 'write;
                    }
                    std::thread::sleep(Duration::from_millis(200));
                }
                if failures > 0 {
                    eprintln!(
                        "writer: ids from {next} committed after {failures} failed attempts, {:.1?}",
                        first_try.elapsed()
                    );
                }
                report.failed_attempts += failures;
                report.longest_wait = report.longest_wait.max(first_try.elapsed());
                next += pace.rows;
                report.committed = next - 1;
                c.store(next - 1, Ordering::SeqCst);
                std::thread::sleep(pace.pause);
            }
            report
        });
        Writer {
            stop,
            committed,
            handle: Some(handle),
        }
    }

    pub fn committed(&self) -> i64 {
        self.committed.load(Ordering::SeqCst)
    }

    pub fn finish(mut self) -> WriterReport {
        self.stop.store(true, Ordering::SeqCst);
        let report = self.handle.take().unwrap().join().unwrap();
        eprintln!("writer: {report:?}");
        report
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}
