//! A small client for the Confluent Schema Registry REST API (the subset a converter needs):
//! register a schema under a subject, find a schema's id in a subject, the latest version of a
//! subject, a schema by id, and a subject's compatibility level (for error messages).
//!
//! Several `schema.registry.url`s are tried in turn on connection errors (the first that
//! answers is kept). Calls are blocking (`ureq`): a converter calls the registry only when it
//! meets a schema or an id it has not cached, i.e. once per table schema version.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine;
use serde_json::{json, Value as Json};

use crate::ConvertError;

const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

/// A failed registry call.
#[derive(Debug)]
pub enum RegistryError {
    /// No URL answered (retryable).
    Unreachable(String),
    /// The registry answered with an error (`error_code`, `message`).
    Refused {
        status: u16,
        code: i64,
        message: String,
    },
}

impl RegistryError {
    pub fn into_convert(self, what: &str) -> ConvertError {
        match self {
            RegistryError::Unreachable(e) => {
                ConvertError::Unavailable(format!("schema registry unreachable ({what}): {e}"))
            }
            RegistryError::Refused {
                status,
                code,
                message,
            } => ConvertError::Data(format!(
                "schema registry refused {what}: HTTP {status}, error_code {code}: {message}"
            )),
        }
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, RegistryError::Refused { status: 404, .. })
    }
}

/// Connection settings of one registry (a list of URLs of one cluster).
pub struct Registry {
    urls: Vec<String>,
    auth: Option<String>,
    agent: ureq::Agent,
    next: AtomicUsize,
}

fn encode_path(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Registry {
    /// `urls`: `schema.registry.url` split at commas; `user_info`: `user:password` for basic
    /// auth (from `basic.auth.user.info`, or the URL's user info).
    pub fn new(urls: Vec<String>, user_info: Option<String>) -> Registry {
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .build();
        Registry {
            urls,
            auth: user_info.map(|u| {
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(u)
                )
            }),
            agent,
            next: AtomicUsize::new(0),
        }
    }

    fn call(&self, method: &str, path: &str, body: Option<&Json>) -> Result<Json, RegistryError> {
        let start = self.next.load(Ordering::Relaxed);
        let mut last = String::from("no schema.registry.url");
        for i in 0..self.urls.len() {
            let idx = (start + i) % self.urls.len();
            let url = format!("{}{path}", self.urls[idx].trim_end_matches('/'));
            let mut req = self.agent.request(method, &url).set("Accept", CONTENT_TYPE);
            if let Some(a) = &self.auth {
                req = req.set("Authorization", a);
            }
            let resp = match body {
                Some(b) => req
                    .set("Content-Type", CONTENT_TYPE)
                    .send_string(&b.to_string()),
                None => req.call(),
            };
            match resp {
                Ok(r) => {
                    self.next.store(idx, Ordering::Relaxed);
                    let text = r.into_string().map_err(|e| {
                        RegistryError::Unreachable(format!(
                            "{}: reading the answer: {e}",
                            self.urls[idx]
                        ))
                    })?;
                    return serde_json::from_str(&text).map_err(|e| {
                        RegistryError::Unreachable(format!(
                            "{}: the answer is not JSON ({e})",
                            self.urls[idx]
                        ))
                    });
                }
                Err(ureq::Error::Status(status, r)) => {
                    self.next.store(idx, Ordering::Relaxed);
                    let text = r.into_string().unwrap_or_default();
                    let j: Json = serde_json::from_str(&text).unwrap_or(Json::Null);
                    if status >= 500 {
                        last = format!("{}: HTTP {status}: {text}", self.urls[idx]);
                        continue;
                    }
                    return Err(RegistryError::Refused {
                        status,
                        code: j["error_code"].as_i64().unwrap_or(status as i64),
                        message: j["message"].as_str().unwrap_or(&text).to_string(),
                    });
                }
                Err(ureq::Error::Transport(t)) => {
                    last = format!("{}: {t}", self.urls[idx]);
                }
            }
        }
        Err(RegistryError::Unreachable(last))
    }

    /// `POST /subjects/{subject}/versions`: registers (or finds) `schema`, returns its id.
    pub fn register(&self, subject: &str, schema: &str) -> Result<u32, RegistryError> {
        let j = self.call(
            "POST",
            &format!("/subjects/{}/versions", encode_path(subject)),
            Some(&json!({ "schema": schema })),
        )?;
        id_of(&j)
    }

    /// `POST /subjects/{subject}`: the id of `schema` if it is registered under `subject`.
    /// Registries without that route (405) are asked for every version instead.
    pub fn lookup(&self, subject: &str, schema: &str) -> Result<u32, RegistryError> {
        let path = format!("/subjects/{}", encode_path(subject));
        match self.call("POST", &path, Some(&json!({ "schema": schema }))) {
            Ok(j) => id_of(&j),
            Err(RegistryError::Refused { status: 405, .. }) => {
                let wanted = apache_avro::Schema::parse_str(schema).ok();
                let versions = self.call("GET", &format!("{path}/versions"), None)?;
                for v in versions.as_array().into_iter().flatten() {
                    let j = self.call("GET", &format!("{path}/versions/{v}"), None)?;
                    let text = j["schema"].as_str().unwrap_or("");
                    let same = text == schema
                        || matches!((&wanted, apache_avro::Schema::parse_str(text)),
                            (Some(a), Ok(b)) if a.canonical_form() == b.canonical_form());
                    if same {
                        return id_of(&j);
                    }
                }
                Err(RegistryError::Refused {
                    status: 404,
                    code: 40403,
                    message: format!("schema not found under subject {subject}"),
                })
            }
            Err(e) => Err(e),
        }
    }

    /// `GET /subjects/{subject}/versions/latest`: `(id, schema text)`.
    pub fn latest(&self, subject: &str) -> Result<(u32, String), RegistryError> {
        let j = self.call(
            "GET",
            &format!("/subjects/{}/versions/latest", encode_path(subject)),
            None,
        )?;
        Ok((id_of(&j)?, j["schema"].as_str().unwrap_or("").to_string()))
    }

    /// `GET /schemas/ids/{id}`: the schema text.
    pub fn schema(&self, id: u32) -> Result<String, RegistryError> {
        let j = self.call("GET", &format!("/schemas/ids/{id}"), None)?;
        match &j["schemaType"] {
            Json::String(t) if t != "AVRO" => Err(RegistryError::Refused {
                status: 422,
                code: 42201,
                message: format!("schema {id} is a {t} schema, not Avro"),
            }),
            _ => j["schema"].as_str().map(str::to_string).ok_or_else(|| {
                RegistryError::Unreachable(format!("schema {id}: no schema in {j}"))
            }),
        }
    }

    /// The compatibility level of `subject` (its own, else the registry's), for messages.
    pub fn compatibility(&self, subject: &str) -> Option<String> {
        let level = |j: Json| {
            j["compatibilityLevel"]
                .as_str()
                .or(j["compatibility"].as_str())
                .map(str::to_string)
        };
        // defaultToGlobal: a subject without a level of its own answers the registry's level
        // (Confluent's parameter; Apicurio otherwise answers its start-up default)
        let path = format!("/config/{}?defaultToGlobal=true", encode_path(subject));
        self.call("GET", &path, None)
            .ok()
            .and_then(level)
            .or_else(|| self.call("GET", "/config", None).ok().and_then(level))
    }
}

fn id_of(j: &Json) -> Result<u32, RegistryError> {
    j["id"]
        .as_u64()
        .map(|i| i as u32)
        .ok_or_else(|| RegistryError::Unreachable(format!("no schema id in the answer {j}")))
}
