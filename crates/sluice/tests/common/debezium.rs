//! Debezium itself, as the oracle: one Kafka Connect worker with Debezium's connectors
//! (scripts/connect.sh) and one Apache Kafka broker (scripts/kafka.sh), shared by every test of a
//! binary, and the REST calls a test makes to run a Debezium connector on that worker.
//!
//! Statics are never dropped: as for [`super::shared`], a watcher stops each server and removes
//! its directory once the test process has ended, however it ended.

use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::Value;

use super::kafka::Broker;
use super::shared::stop_when_the_tests_end;
use super::{free_port, http_json, repo_root, wait_until};

/// The binary's broker (one node), shared by Debezium and sluice.
pub fn broker() -> &'static Broker {
    static BROKER: OnceLock<Broker> = OnceLock::new();
    BROKER.get_or_init(|| {
        let b = Broker::start();
        stop_when_the_tests_end("kafka.sh", b.dir.path());
        b
    })
}

/// The binary's Kafka Connect worker with Debezium's plugins, on [`broker`].
pub fn worker() -> &'static Worker {
    static WORKER: OnceLock<Worker> = OnceLock::new();
    WORKER.get_or_init(|| Worker::start(broker()))
}

pub struct Worker {
    dir: tempfile::TempDir,
    port: u16,
}

impl Worker {
    fn start(broker: &Broker) -> Worker {
        let dir = tempfile::Builder::new()
            .prefix("sluice-dbz-")
            .tempdir()
            .unwrap();
        let port = free_port();
        let out = Command::new(repo_root().join("scripts/connect.sh"))
            .arg("start")
            .arg(dir.path())
            .arg(port.to_string())
            .arg(broker.bootstrap())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "Kafka Connect with Debezium did not start (scripts/deps.sh test installs it): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        stop_when_the_tests_end("connect.sh", dir.path());
        Worker { dir, port }
    }

    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let url = format!("http://127.0.0.1:{}{path}", self.port);
        http_json(method, &url, body, "application/json")
    }

    /// Creates connector `doc` (`{"name", "config"}`) and waits until its task runs.
    pub fn create(&self, doc: &Value) {
        let (status, answer) = self.call("POST", "/connectors", Some(doc));
        assert_eq!(status, 201, "Debezium refused the connector: {answer}");
        self.wait_state(doc["name"].as_str().unwrap(), "RUNNING");
    }

    /// Stops a connector (KIP-875): once STOPPED its task has ended and everything it produced
    /// has been acknowledged by the broker.
    pub fn stop(&self, name: &str) {
        let (status, answer) = self.call("PUT", &format!("/connectors/{name}/stop"), None);
        assert!(status < 300, "stop {name}: {status} {answer}");
        self.wait_state(name, "STOPPED");
    }

    fn wait_state(&self, name: &str, state: &str) {
        let mut last = Value::Null;
        let ok = wait_until(Duration::from_secs(120), || {
            last = self
                .call("GET", &format!("/connectors/{name}/status"), None)
                .1;
            let conn = last["connector"]["state"].as_str().unwrap_or("");
            let task = last["tasks"][0]["state"].as_str().unwrap_or("");
            assert_ne!(task, "FAILED", "Debezium connector {name} failed: {last}");
            match state {
                "STOPPED" => conn == "STOPPED",
                _ => task == state,
            }
        });
        assert!(
            ok,
            "Debezium connector {name} did not reach {state}: {last}\nworker log: {}",
            self.dir.path().join("connect.log").display()
        );
    }
}
