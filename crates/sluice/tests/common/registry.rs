//! A private Apicurio Registry (scripts/registry.sh) through its Confluent-compatible API, and
//! the Python reader of
//! `tests/python/read_topics.py` (confluent-kafka's AvroDeserializer).

use std::process::Command;

use serde_json::Value;

use super::{http_json, repo_root, start_server, stop_server};

pub struct Registry {
    pub dir: tempfile::TempDir,
    pub port: u16,
}

impl Registry {
    pub fn start() -> Registry {
        let owner = std::process::id().to_string();
        let (dir, port) = start_server(
            "registry.sh",
            "sluice-sr-",
            "Apicurio Registry",
            &["--owner", &owner],
        );
        Registry { dir, port }
    }

    /// The Confluent-compatible API (what `schema.registry.url` points at).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/apis/ccompat/v7", self.port)
    }

    pub fn call(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        http_json(
            method,
            &format!("{}{path}", self.url()),
            body,
            "application/vnd.schemaregistry.v1+json",
        )
    }

    pub fn get(&self, path: &str) -> Value {
        self.call("GET", path, None).1
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        stop_server("registry.sh", self.dir.path());
    }
}

/// The Python of scripts/registry.sh's venv (confluent-kafka, fastavro).
fn python() -> String {
    let out = Command::new(repo_root().join("scripts/registry.sh"))
        .arg("python")
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Topics read by Python (`avro:<topic>` or `json:<topic>`): topic → records.
pub fn python_read(bootstrap: &str, registry: &Registry, specs: &[&str]) -> Value {
    let py = python();
    let out = Command::new(py)
        .arg(repo_root().join("crates/sluice/tests/python/read_topics.py"))
        .arg(bootstrap)
        .arg(registry.url())
        .args(specs)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the Python reader failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Each record (Confluent wire format) read by fastavro with its writer schema and the
/// registry's schema `reader_id` as reader: `{"ok": value}` or `{"error": …}` per record.
pub fn python_resolve(registry: &Registry, reader_id: u64, records: &[Vec<u8>]) -> Vec<Value> {
    let py = python();
    let hex: Vec<String> = records
        .iter()
        .map(|r| r.iter().map(|b| format!("{b:02x}")).collect())
        .collect();
    let out = Command::new(py)
        .arg(repo_root().join("crates/sluice/tests/python/resolve.py"))
        .arg(registry.url())
        .arg(reader_id.to_string())
        .args(&hex)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the Python resolver failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Value>(&out.stdout)
        .unwrap()
        .as_array()
        .cloned()
        .unwrap()
}
