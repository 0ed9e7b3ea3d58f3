//! Runs of sluice that crash on purpose at a named crash point (`FAILPOINTS`,
//! crates/sluice-core/src/failpoint.rs), the restart after them, and what both delivered.

use std::collections::{BTreeMap, HashSet};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Stdio;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::{apply, payload, succeeded, Work};

/// What the first run left behind.
pub struct Crash {
    pub stderr: String,
    /// The offsets it logged as committed, in order.
    pub commits: Vec<Value>,
}

/// A concurrent writer: started (`.1`) once sluice has logged the message `.0` (its source is
/// about to read), so the writes meet a running pipeline however long the start took; joined
/// once sluice died.
pub type Writer<'a> = (&'a str, &'a dyn Fn() -> JoinHandle<()>);

/// Runs sluice into the file sink `out` with `FAILPOINTS=failpoints` (and `writer`) until it
/// dies; it must die by the abort of crash point `seam`.
pub fn run(
    work: &Work,
    conn: &Path,
    out: &str,
    seam: &str,
    failpoints: &str,
    writer: Option<Writer>,
) -> Crash {
    let log = work.path(&format!("{out}.log"));
    let mut child = work
        .command(conn, out, &["--log-format", "json"])
        .env("FAILPOINTS", failpoints)
        .env("SLUICE_LOG", "info,sluice_runtime::pipeline=debug")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let mut writer = writer;
    let mut writing = None;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if let Some((ready, start)) = writer {
            let log = std::fs::read_to_string(&log).unwrap_or_default();
            if log
                .lines()
                .any(|l| l.contains(&format!(r#""message":"{ready}""#)))
            {
                writing = Some(start());
                writer = None;
            }
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    if let Some(w) = writing {
        w.join().unwrap();
    }
    let stderr = std::fs::read_to_string(&log).unwrap_or_default();
    let status = status.unwrap_or_else(|| {
        panic!(
            "{failpoints}: sluice did not die within 60 s:\n{}",
            tail(&stderr)
        )
    });
    assert_eq!(
        status.signal(),
        Some(libc::SIGABRT),
        "{failpoints}: sluice must die by the abort, not {status}:\n{}",
        tail(&stderr)
    );
    assert!(
        stderr.contains(&format!("failpoint {seam}: aborting the process")),
        "{failpoints}: the abort must come from crash point {seam}:\n{}",
        tail(&stderr)
    );
    let commits = stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["fields"]["message"] == "offset committed")
        .map(|l| serde_json::from_str(l["fields"]["offset"].as_str().unwrap()).unwrap())
        .collect();
    Crash { stderr, commits }
}

/// Runs sluice without failpoints (whatever the test process has in its environment) until it
/// caught up with the log end seen at its start.
pub fn catch_up(work: &Work, conn: &Path, out: &str) {
    let mut c = work.command(conn, out, &["--exit-when-caught-up"]);
    c.env_remove("FAILPOINTS");
    succeeded(c);
}

pub fn tail(s: &str) -> &str {
    let mut from = s.len().saturating_sub(4000);
    while !s.is_char_boundary(from) {
        from += 1;
    }
    &s[from..]
}

/// The committed offset of connector `name`.
pub fn offset(work: &Work, name: &str) -> Value {
    let o = work
        .offsets(name)
        .unwrap_or_else(|| panic!("no offsets for {name}"));
    o["offsets"][0]["value"].clone()
}

/// What makes an event the same event in both runs (processing times and snapshot markers
/// aside). The writers make every event unique by it.
pub fn identity(line: &Value) -> String {
    let p = payload(line);
    json!([line["topic"], line["key"], p["op"], p["before"], p["after"]]).to_string()
}

pub fn assert_unique(lines: &[Value], what: &str) {
    let mut seen = HashSet::new();
    for l in lines {
        assert!(seen.insert(identity(l)), "{what} holds an event twice: {l}");
    }
}

/// The events the second run delivered again: they must be the first run's last `n` events,
/// repeated in order at the very start of the second run (the tail the crash left
/// uncommitted), and nothing else. Returns `n`.
pub fn repeated_tail(first: &[Value], second: &[Value]) -> usize {
    assert_unique(first, "the first run");
    assert_unique(second, "the second run");
    let seen: HashSet<String> = first.iter().map(identity).collect();
    let n = second
        .iter()
        .filter(|l| seen.contains(&identity(l)))
        .count();
    let head: Vec<String> = second[..n].iter().map(identity).collect();
    let tail: Vec<String> = first[first.len() - n..].iter().map(identity).collect();
    assert!(
        head == tail,
        "{n} events of the first run came again, but not as its tail at the start of the second run"
    );
    n
}

/// `id → v` after applying every run's events in order.
pub fn applied(runs: &[&[Value]]) -> BTreeMap<i64, i64> {
    let all: Vec<Value> = runs.iter().flat_map(|r| r.iter().cloned()).collect();
    apply(&all)
        .into_iter()
        .map(|(k, v)| (k, v["v"].as_i64().unwrap()))
        .collect()
}

pub fn assert_same_rows(got: &BTreeMap<i64, i64>, want: &BTreeMap<i64, i64>) {
    let missing: Vec<_> = want
        .keys()
        .filter(|k| !got.contains_key(k))
        .take(5)
        .collect();
    let extra: Vec<_> = got
        .keys()
        .filter(|k| !want.contains_key(k))
        .take(5)
        .collect();
    let wrong: Vec<_> = want
        .iter()
        .filter(|(k, v)| got.get(k).is_some_and(|g| g != *v))
        .take(5)
        .collect();
    assert!(
        got == want,
        "the events do not give the table: {} rows of {}; missing {missing:?}, extra {extra:?}, different {wrong:?}",
        got.len(),
        want.len()
    );
}

pub fn id_of(line: &Value) -> i64 {
    let p = payload(line);
    let row = if p["after"].is_null() {
        &p["before"]
    } else {
        &p["after"]
    };
    row["id"].as_i64().unwrap()
}
