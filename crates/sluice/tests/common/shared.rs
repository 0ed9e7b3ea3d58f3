//! One server for a whole test binary, started by the first test that asks for it: tests then
//! share it with a database (or table) of their own instead of starting a server each.
//!
//! A static is never dropped, so the server is stopped (and its directory removed) by a watcher
//! left behind when it starts (`scripts/tools.sh watch`): once the test process has ended, however
//! it ended.

use std::path::Path;
use std::process::Command;
use std::sync::{Mutex, MutexGuard, OnceLock};

use super::postgres::Pg;
use super::{repo_root, Maria};

/// The binary's MariaDB (started as [`Maria::start`] does).
pub fn maria() -> &'static Maria {
    static SERVER: OnceLock<Maria> = OnceLock::new();
    SERVER.get_or_init(|| {
        let db = Maria::start();
        stop_when_the_tests_end("mariadb.sh", db.dir.path());
        db
    })
}

/// The binary's PostgreSQL (started as [`Pg::start`] does).
pub fn pg() -> &'static Pg {
    static SERVER: OnceLock<Pg> = OnceLock::new();
    SERVER.get_or_init(|| {
        let pg = Pg::start();
        stop_when_the_tests_end("postgres.sh", pg.dir.path());
        pg
    })
}

/// Holds `lock` for one test: tests of a binary that must not overlap (a poisoned lock, left by
/// a test that failed, is taken over).
pub fn one_at_a_time(lock: &'static Mutex<()>) -> MutexGuard<'static, ()> {
    lock.lock().unwrap_or_else(|e| e.into_inner())
}

/// Leaves a watcher that runs `scripts/<script> stop DIR` and removes DIR once this process has
/// ended.
pub fn stop_when_the_tests_end(script: &str, dir: &Path) {
    let stop = format!(
        "{} stop {dir}; rm -rf {dir}",
        repo_root().join("scripts").join(script).display(),
        dir = dir.display()
    );
    let status = Command::new(repo_root().join("scripts/tools.sh"))
        .args(["watch", &std::process::id().to_string(), "sh", "-c", &stop])
        .status()
        .unwrap();
    assert!(status.success(), "could not leave a watcher for {script}");
}
