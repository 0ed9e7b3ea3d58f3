//! A private PostgreSQL cluster (scripts/postgres.sh), stopped when dropped.

use std::process::Command;

use super::{repo_root, start_server, stop_server};

pub struct Pg {
    pub dir: tempfile::TempDir,
    pub port: u16,
}

impl Pg {
    pub fn start() -> Pg {
        let (dir, port) = start_server("postgres.sh", "sluice-pg-", "PostgreSQL", &[]);
        Pg { dir, port }
    }

    /// `jdbc:postgresql://127.0.0.1:PORT/postgres?user=postgres`
    pub fn jdbc_url(&self) -> String {
        format!(
            "jdbc:postgresql://127.0.0.1:{}/postgres?user=postgres",
            self.port
        )
    }

    pub fn try_sql(&self, sql: &str) -> Result<String, String> {
        let out = Command::new(repo_root().join("scripts/postgres.sh"))
            .arg("sql")
            .arg(self.dir.path())
            .args(["-At", "-F", "\t", "-c", sql])
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
}

impl Drop for Pg {
    fn drop(&mut self) {
        stop_server("postgres.sh", self.dir.path());
    }
}
