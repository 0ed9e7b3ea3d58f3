//! Test harness: private MariaDB servers started by the project's own script, and the sluice
//! binary driven like a user would drive it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

pub mod connect;
pub mod crash;
pub mod debezium;
pub mod diff;
pub mod generator;
pub mod kafka;
pub mod pki;
pub mod postgres;
pub mod proxy;
pub mod registry;
pub mod search;
pub mod shared;
pub mod writer;

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// A file of tests/fixtures.
pub fn fixture(name: &str) -> String {
    std::fs::read_to_string(repo_root().join("tests/fixtures").join(name)).unwrap()
}

/// The sluice binary as a command that dies with the test thread that started it
/// (`PR_SET_PDEATHSIG`): a test that fails half-way leaves no sluice running behind it, holding
/// ports, CPU or the test runner's output pipe. `SLUICE_BIN` runs another build of sluice than
/// the one cargo built beside the tests (e.g. a copy, when a target directory is shared by
/// several checkouts).
pub fn sluice() -> Command {
    use std::os::unix::process::CommandExt;
    let bin = std::env::var_os("SLUICE_BIN").unwrap_or_else(|| env!("CARGO_BIN_EXE_sluice").into());
    let mut c = Command::new(bin);
    // SAFETY: prctl is async-signal-safe and touches nothing of the parent's state
    unsafe {
        c.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    c
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts a private server with `scripts/<script> start DIR PORT [extra…]`: its directory and
/// port (`what` names it in the failure message).
pub fn start_server(
    script: &str,
    prefix: &str,
    what: &str,
    extra: &[&str],
) -> (tempfile::TempDir, u16) {
    let dir = tempfile::Builder::new().prefix(prefix).tempdir().unwrap();
    let port = free_port();
    let out = Command::new(repo_root().join("scripts").join(script))
        .arg("start")
        .arg(dir.path())
        .arg(port.to_string())
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{what} did not start: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (dir, port)
}

/// Stops what [`start_server`] started (`scripts/<script> stop DIR`).
pub fn stop_server(script: &str, dir: &Path) {
    let _ = Command::new(repo_root().join("scripts").join(script))
        .arg("stop")
        .arg(dir)
        .output();
}

/// One HTTP call with a JSON body (sent as `content_type`): status and parsed answer (`Null`
/// when it is not JSON).
pub fn http_json(
    method: &str,
    url: &str,
    body: Option<&Value>,
    content_type: &str,
) -> (u16, Value) {
    let req = ureq::request(method, url);
    let resp = match body {
        Some(b) => req
            .set("Content-Type", content_type)
            .send_string(&b.to_string()),
        None => req.call(),
    };
    let (status, text) = match resp {
        Ok(r) => (r.status(), r.into_string().unwrap()),
        Err(ureq::Error::Status(s, r)) => (s, r.into_string().unwrap_or_default()),
        Err(e) => panic!("{method} {url}: {e}"),
    };
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// A private MariaDB with binlog (ROW, FULL), stopped when dropped.
pub struct Maria {
    pub dir: tempfile::TempDir,
    pub port: u16,
}

impl Maria {
    pub fn start() -> Maria {
        Self::start_with(&[])
    }

    pub fn start_with(extra: &[&str]) -> Maria {
        let dir = tempfile::Builder::new()
            .prefix("sluice-my-")
            .tempdir()
            .unwrap();
        let port = free_port();
        let out = Command::new(repo_root().join("scripts/mariadb.sh"))
            .arg("start")
            .arg(dir.path())
            .arg(port.to_string())
            .args(extra)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "MariaDB did not start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Maria { dir, port }
    }

    pub fn try_sql(&self, sql: &str) -> Result<String, String> {
        let out = Command::new(repo_root().join("scripts/mariadb.sh"))
            .arg("sql")
            .arg(self.dir.path())
            .args(["-N", "-B", "-e", sql])
            .output()
            .unwrap();
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_string())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    pub fn sql(&self, sql: &str) -> String {
        self.try_sql(sql)
            .unwrap_or_else(|e| panic!("SQL failed: {e}\n{sql}"))
    }

    /// Runs a script in its own client session on another thread (a concurrent writer). The
    /// script goes through stdin: it may be far larger than a command line.
    pub fn sql_in_background(&self, script: String) -> std::thread::JoinHandle<()> {
        let dir = self.dir.path().to_path_buf();
        std::thread::spawn(move || {
            use std::io::Write;
            let mut child = Command::new(repo_root().join("scripts/mariadb.sh"))
                .arg("sql")
                .arg(&dir)
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            child
                .stdin
                .take()
                .unwrap()
                .write_all(script.as_bytes())
                .unwrap();
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        })
    }

    /// A Debezium MySQL connector document for this server.
    pub fn connector(&self, name: &str, extra: &[(&str, &str)]) -> Value {
        let mut config = json!({
            "connector.class": "io.debezium.connector.mysql.MySqlConnector",
            "database.hostname": "127.0.0.1",
            "database.port": self.port.to_string(),
            "database.user": "cdc",
            "database.password": "cdc",
            "database.server.id": "5400",
            "topic.prefix": "test",
            "snapshot.mode": "no_data",
            "include.schema.changes": "false",
        });
        for (k, v) in extra {
            config[*k] = json!(v);
        }
        json!({"name": name, "config": config})
    }
}

impl Maria {
    /// Shuts the server down (as a failed primary would go away).
    pub fn stop(&self) {
        let _ = Command::new(repo_root().join("scripts/mariadb.sh"))
            .arg("stop")
            .arg(self.dir.path())
            .output();
    }
}

impl Maria {
    /// Starts this server again after [`Maria::stop`], on the same data directory and port
    /// (`extra`: the options it was first started with): the server coming back after an outage.
    pub fn start_again(&self, extra: &[&str]) {
        let out = Command::new(repo_root().join("scripts/mariadb.sh"))
            .arg("start")
            .arg(self.dir.path())
            .arg(self.port.to_string())
            .args(extra)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "MariaDB did not start again on port {}: {}",
            self.port,
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Maria {
    fn drop(&mut self) {
        let _ = Command::new(repo_root().join("scripts/mariadb.sh"))
            .arg("stop")
            .arg(self.dir.path())
            .output();
    }
}

/// A scratch directory holding a connector file, data dir and output file.
pub struct Work {
    pub dir: tempfile::TempDir,
}

impl Work {
    pub fn new() -> Work {
        Work {
            dir: tempfile::Builder::new()
                .prefix("sluice-run-")
                .tempdir()
                .unwrap(),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write_connector(&self, name: &str, doc: &Value) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, serde_json::to_vec_pretty(doc).unwrap()).unwrap();
        p
    }

    /// `sluice run` into the file sink `out`.
    pub fn command(&self, connector: &Path, out: &str, extra: &[&str]) -> Command {
        self.command_to(
            connector,
            &format!("file:{}", self.path(out).display()),
            extra,
        )
    }

    /// `sluice run` into any `--sink`, with this work's data dir.
    pub fn command_to(&self, connector: &Path, sink: &str, extra: &[&str]) -> Command {
        let mut c = sluice();
        c.arg("run")
            .arg(connector)
            .arg("--sink")
            .arg(sink)
            .arg("--data-dir")
            .arg(self.path("data"))
            .args(extra)
            .env("SLUICE_LOG", "info");
        c
    }

    /// Writes `doc` and runs `sluice run` on it until caught up, into the file sink `out`:
    /// (succeeded, stderr). For tests that expect a failure as well as a success.
    pub fn try_catch_up(&self, doc: &Value, out: &str) -> (bool, String) {
        let conn = self.write_connector(&format!("{out}.json"), doc);
        let o = self
            .command(&conn, out, &["--exit-when-caught-up"])
            .output()
            .unwrap();
        (
            o.status.success(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    }

    /// Runs until caught up with the binlog end seen at start.
    pub fn catch_up(&self, connector: &Path, out: &str) -> Output {
        succeeded(self.command(connector, out, &["--exit-when-caught-up"]))
    }

    /// Starts sluice streaming in the background.
    pub fn spawn(&self, connector: &Path, out: &str) -> Child {
        self.command(connector, out, &[])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.path(&format!("{out}.log"))).unwrap())
            .spawn()
            .unwrap()
    }

    pub fn lines(&self, out: &str) -> Vec<Value> {
        read_lines(&self.path(out))
    }

    pub fn offsets(&self, connector_name: &str) -> Option<Value> {
        let p = self
            .path("data")
            .join("offsets")
            .join(format!("{connector_name}.json"));
        std::fs::read_to_string(p)
            .ok()
            .map(|t| serde_json::from_str(&t).unwrap())
    }
}

/// Runs `c` to the end; it must succeed.
pub fn succeeded(mut c: Command) -> Output {
    let o = c.output().unwrap();
    assert!(
        o.status.success(),
        "sluice failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// The JSON lines of a file sink's output. A final line without its newline is a write torn by
/// `kill -9`: never acknowledged (the offset is committed only after write + fsync), so it is
/// delivered again after the restart and is not part of the output. Every complete line must
/// parse.
pub fn read_lines(path: &Path) -> Vec<Value> {
    match std::fs::read_to_string(path) {
        Ok(t) => t[..t.rfind('\n').map_or(0, |i| i + 1)]
            .lines()
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad line {e}: {l}")))
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Waits until `f` holds or `timeout` passes.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    f()
}

/// The value payload of a line (with or without the schema envelope).
pub fn payload(line: &Value) -> &Value {
    let v = &line["value"];
    if v.get("payload").is_some() {
        &v["payload"]
    } else {
        v
    }
}

/// `(op, after.id or before.id)` of data events, tombstones skipped.
pub fn ops(lines: &[Value]) -> Vec<(String, i64)> {
    lines
        .iter()
        .filter(|l| !l["value"].is_null())
        .map(|l| {
            let p = payload(l);
            let row = if p["after"].is_null() {
                &p["before"]
            } else {
                &p["after"]
            };
            (
                p["op"].as_str().unwrap().to_string(),
                row["id"].as_i64().unwrap(),
            )
        })
        .collect()
}

/// Applies change events in order to a map `id → after-image` (what an upserting sink holds).
pub fn apply(lines: &[Value]) -> std::collections::BTreeMap<i64, Value> {
    let mut state = std::collections::BTreeMap::new();
    for l in lines.iter().filter(|l| !l["value"].is_null()) {
        let p = payload(l);
        match p["op"].as_str().unwrap() {
            "d" => {
                state.remove(&p["before"]["id"].as_i64().unwrap());
            }
            _ => {
                state.insert(p["after"]["id"].as_i64().unwrap(), p["after"].clone());
            }
        }
    }
    state
}

/// `id → v` of a two-column table, as the database has it now.
pub fn table_state(db: &Maria, table: &str) -> std::collections::BTreeMap<i64, i64> {
    db.sql(&format!("SELECT id, v FROM {table} ORDER BY id"))
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let mut it = l.split('\t');
            (
                it.next().unwrap().parse().unwrap(),
                it.next().unwrap().parse().unwrap(),
            )
        })
        .collect()
}

/// Sends `signal` (`-TERM`, `-KILL`) to a sluice process started by the test and waits for it.
pub fn signal(child: &mut std::process::Child, signal: &str) -> std::process::ExitStatus {
    Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    child.wait().unwrap()
}

/// A server with `app.t (id BIGINT PK, v BIGINT)` holding `rows` rows (`v` = 0).
pub fn seeded(rows: u32) -> Maria {
    // a redo log large enough that the bulk load below does not stall later writes on checkpoints
    let db = Maria::start_with(&["--innodb-log-file-size=512M"]);
    db.sql(&format!(
        "CREATE DATABASE app; USE app; CREATE TABLE t (id BIGINT PRIMARY KEY, v BIGINT NOT NULL);
         INSERT INTO t SELECT seq, 0 FROM seq_1_to_{rows};"
    ));
    db
}

/// The events, applied in order, leave exactly the rows `app.t` holds now.
pub fn assert_converged(db: &Maria, lines: &[Value]) {
    let got: std::collections::BTreeMap<i64, i64> = apply(lines)
        .into_iter()
        .map(|(k, v)| (k, v["v"].as_i64().unwrap()))
        .collect();
    let want = table_state(db, "app.t");
    assert_eq!(got.len(), want.len(), "row count");
    assert!(got == want, "final state differs from the table");
}

/// Back-to-back single-row changes over the whole key space, no pauses: every chunk window of an
/// incremental snapshot sees some, so a chunk row that is not evicted would overwrite newer state.
pub fn hot_writer(db: &Maria, statements: u32) -> std::thread::JoinHandle<()> {
    let mut s = String::from("USE app;");
    for i in 0..statements {
        let k = (u64::from(i) * 7919) % 200_000 + 1;
        if i % 50 == 0 {
            s.push_str(&format!("DELETE FROM t WHERE id = {k};"));
        } else {
            s.push_str(&format!("UPDATE t SET v = v + 1 WHERE id = {k};"));
        }
    }
    db.sql_in_background(s)
}

/// The Debezium signal table, writable by the connector user (watermarks are written there).
pub fn with_signal_table(db: &Maria) {
    db.sql("CREATE TABLE app.debezium_signal (id VARCHAR(42) PRIMARY KEY, type VARCHAR(32) NOT NULL, data VARCHAR(2048));
            GRANT INSERT ON app.debezium_signal TO 'cdc'@'%';");
}
