//! A `sluice connect` worker started by a test, and its REST API.

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

use serde_json::Value;

use super::{free_port, wait_until};

pub struct ConnectWorker {
    pub child: Child,
    pub port: u16,
    pub auth: Option<(String, String)>,
}

impl ConnectWorker {
    /// Starts a worker; `properties` is worker.properties text (listeners is added).
    pub fn start(dir: &Path, name: &str, properties: &str, standalone: bool) -> ConnectWorker {
        let port = free_port();
        let file = dir.join(format!("{name}.properties"));
        std::fs::write(
            &file,
            format!("{properties}\nlisteners=http://127.0.0.1:{port}\n"),
        )
        .unwrap();
        let mut c = super::sluice();
        c.arg("connect")
            .arg(&file)
            .arg("--data-dir")
            .arg(dir.join(format!("{name}-data")));
        if standalone {
            c.arg("--standalone");
        }
        let child = c
            .env("SLUICE_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join(format!("{name}.log"))).unwrap())
            .spawn()
            .unwrap();
        let auth = properties
            .lines()
            .find_map(|l| l.strip_prefix("rest.basic.auth.credentials="))
            .and_then(|c| c.split(',').next())
            .and_then(|c| c.split_once(':'))
            .map(|(u, p)| (u.to_string(), p.to_string()));
        let w = ConnectWorker { child, port, auth };
        assert!(
            wait_until(Duration::from_secs(60), || w.call("GET", "/", None).0
                == 200),
            "worker {name} did not start: {}",
            std::fs::read_to_string(dir.join(format!("{name}.log"))).unwrap_or_default()
        );
        w
    }

    /// A request; (status, JSON body or Null).
    pub fn call(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        self.call_as(
            self.auth.as_ref().map(|(u, p)| (u.as_str(), p.as_str())),
            method,
            path,
            body,
        )
    }

    pub fn call_as(
        &self,
        auth: Option<(&str, &str)>,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let mut req = ureq::request(method, &format!("http://127.0.0.1:{}{path}", self.port))
            .timeout(Duration::from_secs(60));
        if let Some((u, p)) = auth {
            use base64::Engine;
            let token = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
            req = req.set("Authorization", &format!("Basic {token}"));
        }
        let resp = match body {
            Some(b) => req
                .set("Content-Type", "application/json")
                .send_string(&b.to_string()),
            None => req.call(),
        };
        let (status, text) = match resp {
            Ok(r) => (r.status(), r.into_string().unwrap_or_default()),
            Err(ureq::Error::Status(s, r)) => (s, r.into_string().unwrap_or_default()),
            Err(_) => return (0, Value::Null),
        };
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Waits until the connector's (task) state is `state`.
    pub fn wait_state(&self, name: &str, state: &str, timeout: Duration) -> Value {
        let mut last = Value::Null;
        let ok = wait_until(timeout, || {
            last = self
                .call("GET", &format!("/connectors/{name}/status"), None)
                .1;
            let task = last["tasks"][0]["state"].as_str().unwrap_or("");
            let conn = last["connector"]["state"].as_str().unwrap_or("");
            task == state || (state == "STOPPED" && conn == "STOPPED")
        });
        assert!(ok, "connector {name} did not reach {state}: {last}");
        last
    }

    pub fn kill(&mut self, signal: &str) {
        super::signal(&mut self.child, signal);
    }
}

impl Drop for ConnectWorker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
