//! A private PostgreSQL cluster (scripts/postgres.sh), stopped when dropped.

use std::process::Command;

use super::{repo_root, start_server, stop_server};

pub struct Pg {
    pub dir: tempfile::TempDir,
    pub port: u16,
}

impl Pg {
    pub fn start() -> Pg {
        Self::start_with(&[])
    }

    /// Started with extra server options (`-c name=value …`).
    pub fn start_with(extra: &[&str]) -> Pg {
        let (dir, port) = start_server("postgres.sh", "sluice-pg-", "PostgreSQL", extra);
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
        self.try_sql_in("postgres", sql)
    }

    /// SQL in database `db` (psql `-c`: several statements run as one transaction).
    pub fn try_sql_in(&self, db: &str, sql: &str) -> Result<String, String> {
        let out = Command::new(repo_root().join("scripts/postgres.sh"))
            .arg("sql")
            .arg(self.dir.path())
            .args([
                "-d",
                db,
                "-v",
                "ON_ERROR_STOP=1",
                "-At",
                "-F",
                "\t",
                "-c",
                sql,
            ])
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

impl Pg {
    pub fn sql_in(&self, db: &str, sql: &str) -> String {
        self.try_sql_in(db, sql)
            .unwrap_or_else(|e| panic!("SQL failed: {e}\n{sql}"))
    }

    /// A PostgreSQL source connector on database `db` (topic prefix `pg`, slot and
    /// publication named after the connector).
    pub fn connector(&self, name: &str, db: &str, extra: &[(&str, &str)]) -> serde_json::Value {
        let mut config = serde_json::json!({
            "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
            "database.hostname": "127.0.0.1",
            "database.port": self.port.to_string(),
            "database.user": "postgres",
            "database.dbname": db,
            "topic.prefix": "pg",
            "slot.name": format!("{name}_slot"),
            "publication.name": format!("{name}_pub"),
        });
        for (k, v) in extra {
            config[*k] = serde_json::Value::String(v.to_string());
        }
        serde_json::json!({"name": name, "config": config})
    }

    /// `confirmed_flush_lsn` of `slot` as a number (`None` when the slot does not exist).
    pub fn confirmed_flush(&self, db: &str, slot: &str) -> Option<u64> {
        let t = self.sql_in(
            db,
            &format!("SELECT confirmed_flush_lsn - '0/0' FROM pg_replication_slots WHERE slot_name = '{slot}'"),
        );
        t.trim().parse().ok()
    }
}

impl Pg {
    /// Shuts the server down (`pg_ctl stop -m fast`: clients, walsenders included, are
    /// disconnected) and waits until it is gone.
    pub fn stop(&self) {
        stop_server("postgres.sh", self.dir.path());
    }

    /// Starts the server again after [`Pg::stop`], on the same data directory and port.
    pub fn start_again(&self) {
        let out = Command::new(repo_root().join("scripts/postgres.sh"))
            .arg("start")
            .arg(self.dir.path())
            .arg(self.port.to_string())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "PostgreSQL did not start again on port {}: {}",
            self.port,
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        stop_server("postgres.sh", self.dir.path());
    }
}
