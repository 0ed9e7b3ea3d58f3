//! A private OpenSearch node (scripts/search.sh) and a few reads of it.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::{http_json, start_server, stop_server};

pub struct Search {
    pub dir: tempfile::TempDir,
    pub port: u16,
}

impl Search {
    pub fn start() -> Search {
        let owner = std::process::id().to_string();
        let (dir, port) = start_server(
            "search.sh",
            "sluice-es-",
            "OpenSearch",
            &["--owner", &owner],
        );
        Search { dir, port }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        http_json(
            method,
            &format!("{}{path}", self.url()),
            body,
            "application/json",
        )
    }

    pub fn put(&self, path: &str, body: &Value) -> Value {
        self.call("PUT", path, Some(body)).1
    }

    /// Every document of `index` (after a refresh): `_id` → `_source`. Empty if the index does
    /// not exist.
    pub fn docs(&self, index: &str) -> BTreeMap<String, Value> {
        let (status, _) = self.call("POST", &format!("/{index}/_refresh"), None);
        if status == 404 {
            return BTreeMap::new();
        }
        let mut out = BTreeMap::new();
        let (_, mut page) = self.call(
            "POST",
            &format!("/{index}/_search?scroll=1m"),
            Some(&json!({"size": 5000, "query": {"match_all": {}}})),
        );
        loop {
            let hits = page["hits"]["hits"].as_array().cloned().unwrap_or_default();
            if hits.is_empty() {
                break;
            }
            for h in hits {
                out.insert(h["_id"].as_str().unwrap().to_string(), h["_source"].clone());
            }
            let id = page["_scroll_id"].as_str().unwrap_or_default().to_string();
            page = self
                .call(
                    "POST",
                    "/_search/scroll",
                    Some(&json!({"scroll": "1m", "scroll_id": id})),
                )
                .1;
        }
        out
    }

    pub fn count(&self, index: &str) -> u64 {
        self.call("POST", &format!("/{index}/_refresh"), None);
        self.call("GET", &format!("/{index}/_count"), None).1["count"]
            .as_u64()
            .unwrap_or(0)
    }
}

impl Drop for Search {
    fn drop(&mut self) {
        stop_server("search.sh", self.dir.path());
    }
}
