//! Elasticsearch / OpenSearch sink (`io.confluent.connect.elasticsearch.ElasticsearchSinkConnector`):
//! records become `_bulk` actions over plain HTTP (see [`bulk`] for ids, actions and
//! versions).
//!
//! Delivery. `write` turns records into actions and buffers them; `flush` (and a full buffer,
//! `max.buffered.records`) sends them. Actions are spread over `max.in.flight.requests` lanes
//! by document id: the lanes send concurrently, each sends its actions in order, in requests
//! of at most `batch.size`, so two writes of one document are never in flight at once and
//! arrive in record order. A request that fails as a whole (connection refused, timeout, 429,
//! 5xx) is sent again after `retry.backoff.ms` × 2ⁿ with jitter, up to `max.retries` times,
//! trying the next `connection.url` on connection errors. Items are then read one by one: a
//! missing document on delete and a version conflict (an older write) count as done; 429/5xx
//! items are sent again — with every later action of the same document in that request, so a
//! retried write never lands after a newer one; a document Elasticsearch refuses (a mapping
//! conflict, a parse error) goes to the connector's error handling (`errors.tolerance`, dead
//! letter queue) or per `behavior.on.malformed.documents`. `flush` returns only when every
//! action is done or set aside: then the runtime may commit the offsets behind them.
//!
//! With `schema.ignore=false` an index that does not exist yet is created with a mapping from
//! the first record's value schema ([`mapping`]); with `true`, Elasticsearch maps dynamically.
//! Tested against a real OpenSearch 2.19 node (the integration tests, scripts/search.sh); the
//! requests are the ones Elasticsearch 7.x/8.x and OpenSearch 1.x/2.x accept (typeless
//! mappings, `_bulk`, external versioning), and the answers where they differ (7.x's `_type`,
//! 8.x's `document_parsing_exception`) are read by unit tests from `recorded/`.

pub mod bulk;
pub mod config;
pub mod mapping;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::future::join_all;
use sluice_connect::JsonConverter;
use sluice_core::{
    ChangeEvent, Data, ErrantReporter, Failure, RawRecord, Schema, Sink, SinkError, Stage,
};
use tracing::{debug, warn};

use bulk::{Op, Outcome, Skip};
pub use config::ElasticsearchConfig;
use config::Malformed;

const CLASS: &str = "io.confluent.connect.elasticsearch.ElasticsearchSinkConnector";

/// An Elasticsearch sink connector.
pub struct ElasticsearchSink {
    cfg: Arc<ElasticsearchConfig>,
    http: Arc<Http>,
    json: JsonConverter,
    errors: Arc<dyn ErrantReporter>,
    buffer: Vec<Op>,
    /// Indices known to exist (or created).
    indices: HashSet<Arc<str>>,
    /// Value schema of the first record seen per index not yet known to exist.
    schemas: HashMap<Arc<str>, Option<Arc<Schema>>>,
}

impl ElasticsearchSink {
    pub fn new(
        cfg: ElasticsearchConfig,
        errors: Arc<dyn ErrantReporter>,
    ) -> Result<Self, SinkError> {
        let http = Http::new(&cfg)?;
        Ok(ElasticsearchSink {
            cfg: Arc::new(cfg),
            http: Arc::new(http),
            json: bulk::doc_converter(),
            errors,
            buffer: Vec::new(),
            indices: HashSet::new(),
            schemas: HashMap::new(),
        })
    }

    /// Sets a record aside (or fails) through the connector's error handling.
    fn reject(
        &self,
        r: &ChangeEvent,
        raw: Option<RawRecord>,
        message: String,
    ) -> Result<(), SinkError> {
        self.errors.report(
            r,
            raw.as_ref(),
            Failure {
                stage: Stage::TaskPut,
                class: CLASS.into(),
                exception: "org.apache.kafka.connect.errors.ConnectException".into(),
                message,
            },
        )
    }

    async fn ensure_indices(&mut self) -> Result<(), SinkError> {
        let wanted: Vec<(Arc<str>, Option<Arc<Schema>>)> = self.schemas.drain().collect();
        for (index, schema) in wanted {
            if self.indices.contains(&index) {
                continue;
            }
            let path = format!("/{index}");
            let (status, _) = self
                .http
                .request(&self.cfg, reqwest::Method::HEAD, &path, None)
                .await?;
            if status == 404 {
                let body = match (&schema, self.cfg.schema_ignore) {
                    (Some(s), false) => mapping::index_body(s),
                    _ => serde_json::json!({}),
                };
                let (status, text) = self
                    .http
                    .request(
                        &self.cfg,
                        reqwest::Method::PUT,
                        &path,
                        Some(body.to_string().into_bytes()),
                    )
                    .await?;
                if !created_or_exists(status, &text) {
                    return Err(SinkError::Rejected(format!(
                        "cannot create index {index}: HTTP {status}: {text}"
                    )));
                }
                debug!(connector = %self.cfg.name, index = %index, "index created");
            }
            self.indices.insert(index);
        }
        Ok(())
    }

    async fn send_buffer(&mut self) -> Result<(), SinkError> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        self.ensure_indices().await?;
        let lanes = self.cfg.max_in_flight;
        let mut by_lane: Vec<Vec<Op>> = (0..lanes).map(|_| Vec::new()).collect();
        for op in self.buffer.drain(..) {
            by_lane[lane(&op, lanes)].push(op);
        }
        let runs = by_lane
            .into_iter()
            .filter(|l| !l.is_empty())
            .map(|ops| send_lane(Arc::clone(&self.http), Arc::clone(&self.cfg), ops));
        let mut malformed = Vec::new();
        for result in join_all(runs).await {
            malformed.extend(result?);
        }
        for (op, reason) in malformed {
            match self.cfg.malformed {
                Malformed::Ignore => {}
                Malformed::Warn => {
                    warn!(connector = %self.cfg.name, index = %op.index, id = %op.id, error = %reason, "document refused by Elasticsearch; skipped (behavior.on.malformed.documents=warn)")
                }
                Malformed::Fail => {
                    let r = ChangeEvent {
                        topic: Arc::clone(&op.topic),
                        key: None,
                        value: None,
                        headers: Vec::new(),
                        position: op.position.clone(),
                        timestamp: None,
                    };
                    let raw = RawRecord {
                        key: Some(op.id.clone().into_bytes()),
                        value: (!op.doc.is_empty()).then(|| op.doc.clone()),
                        headers: Vec::new(),
                    };
                    self.reject(
                        &r,
                        Some(raw),
                        format!(
                            "Elasticsearch refused document {} in {}: {reason}",
                            op.id, op.index
                        ),
                    )?;
                }
            }
        }
        Ok(())
    }
}

/// The lane of a document: all writes of one id go through one lane, in order.
fn lane(op: &Op, lanes: usize) -> usize {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    op.index.hash(&mut h);
    op.id.hash(&mut h);
    (h.finish() % lanes as u64) as usize
}

/// Sends one lane's actions in order; returns the refused ones.
async fn send_lane(
    http: Arc<Http>,
    cfg: Arc<ElasticsearchConfig>,
    ops: Vec<Op>,
) -> Result<Vec<(Op, String)>, SinkError> {
    let mut refused = Vec::new();
    for chunk in ops.chunks(cfg.batch_size) {
        let mut pending: Vec<Op> = chunk.to_vec();
        let mut attempt = 0u32;
        while !pending.is_empty() {
            let mut body = Vec::with_capacity(pending.len() * 256);
            for op in &pending {
                bulk::append(op, &mut body);
            }
            let outcome = match http.bulk(body).await {
                Ok(json) => bulk::outcomes(&json, pending.len()).map_err(|e| (false, e)),
                Err((retryable, e)) => Err((retryable, e)),
            };
            let outcomes = match outcome {
                Ok(o) => o,
                Err((true, e)) if attempt < cfg.max_retries => {
                    attempt += 1;
                    backoff(&cfg, attempt, &e).await;
                    continue;
                }
                Err((_, e)) => {
                    return Err(SinkError::Unavailable(format!(
                        "Elasticsearch _bulk failed after {attempt} retries: {e}"
                    )))
                }
            };
            // retry failed items, with every later action of the same document in this request
            let mut again: Vec<Op> = Vec::new();
            let mut redo: HashSet<(Arc<str>, String)> = HashSet::new();
            let mut first_error = None;
            for (op, out) in pending.into_iter().zip(outcomes) {
                let key = (Arc::clone(&op.index), op.id.clone());
                match out {
                    Outcome::Retry(e) => {
                        first_error.get_or_insert(e);
                        redo.insert(key);
                        again.push(op);
                    }
                    _ if redo.contains(&key) => again.push(op),
                    Outcome::Done => {}
                    Outcome::Malformed(e) => refused.push((op, e)),
                }
            }
            if !again.is_empty() {
                let e = first_error.unwrap_or_default();
                if attempt >= cfg.max_retries {
                    return Err(SinkError::Unavailable(format!(
                        "Elasticsearch kept refusing {} action(s) after {attempt} retries: {e}",
                        again.len()
                    )));
                }
                attempt += 1;
                backoff(&cfg, attempt, &e).await;
            }
            pending = again;
        }
    }
    Ok(refused)
}

async fn backoff(cfg: &ElasticsearchConfig, attempt: u32, error: &str) {
    let base = cfg.retry_backoff.as_millis() as u64 * (1u64 << attempt.min(10));
    // jitter: up to +50 %, from the clock (no shared RNG needed)
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64)
        .unwrap_or(0);
    let wait = Duration::from_millis(base + nanos % (base / 2 + 1));
    warn!(connector = %cfg.name, attempt, wait_ms = wait.as_millis() as u64, error = %error, "Elasticsearch request failed; retrying");
    tokio::time::sleep(wait).await;
}

#[async_trait]
impl Sink for ElasticsearchSink {
    async fn write(&mut self, events: &[ChangeEvent]) -> Result<(), SinkError> {
        for r in events {
            match bulk::op(&self.cfg, &mut self.json, r) {
                Ok(op) => {
                    if !self.indices.contains(&op.index) && !self.schemas.contains_key(&op.index) {
                        let schema = r.value.as_ref().and_then(|d: &Data| d.schema.clone());
                        self.schemas.insert(Arc::clone(&op.index), schema);
                    }
                    self.buffer.push(op);
                }
                Err(Skip::Ignore) => {}
                Err(Skip::Invalid(m)) => self.reject(r, None, m)?,
            }
        }
        if self.buffer.len() >= self.cfg.max_buffered {
            self.send_buffer().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), SinkError> {
        self.send_buffer().await?;
        self.errors.flush()
    }
}

/// An error with its causes ("error sending request: operation timed out").
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}

/// The HTTP side: one client, several base URLs (tried in turn on connection errors).
struct Http {
    client: reqwest::Client,
    urls: Vec<String>,
    auth: Option<(String, Option<String>)>,
    next: std::sync::atomic::AtomicUsize,
}

impl Http {
    fn new(cfg: &ElasticsearchConfig) -> Result<Http, SinkError> {
        let client = reqwest::Client::builder()
            .connect_timeout(cfg.connect_timeout)
            // Confluent's read.timeout.ms is a socket read timeout: the longest wait for the
            // next bytes of a response (a bulk request answers only once it is applied).
            .read_timeout(cfg.read_timeout.max(Duration::from_millis(1)))
            .pool_max_idle_per_host(cfg.max_in_flight)
            .build()
            .map_err(|e| SinkError::Unavailable(format!("HTTP client: {e}")))?;
        Ok(Http {
            client,
            urls: cfg.urls.clone(),
            auth: cfg.username.clone().map(|u| (u, cfg.password.clone())),
            next: Default::default(),
        })
    }

    /// One request; on a connection error or a timeout the next URL is tried, and the whole
    /// round is retried after `retry.backoff.ms` × 2ⁿ, up to `max.retries` times (as `_bulk`).
    async fn request(
        &self,
        cfg: &ElasticsearchConfig,
        method: reqwest::Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<(u16, String), SinkError> {
        let mut attempt = 0u32;
        loop {
            match self
                .send(method.clone(), path, body.clone(), "application/json")
                .await
            {
                Ok(answer) => return Ok(answer),
                Err((_, e)) if attempt < cfg.max_retries => {
                    attempt += 1;
                    backoff(cfg, attempt, &e).await;
                }
                Err((_, e)) => {
                    return Err(SinkError::Unavailable(format!(
                        "{e} (after {attempt} retries)"
                    )))
                }
            }
        }
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Vec<u8>>,
        content_type: &str,
    ) -> Result<(u16, String), (bool, String)> {
        use std::sync::atomic::Ordering;
        let start = self.next.load(Ordering::Relaxed);
        let mut last = String::new();
        for i in 0..self.urls.len() {
            let url = &self.urls[(start + i) % self.urls.len()];
            let mut req = self
                .client
                .request(method.clone(), format!("{url}{path}"))
                .header("Content-Type", content_type);
            if let Some((u, p)) = &self.auth {
                req = req.basic_auth(u, p.as_ref());
            }
            if let Some(b) = &body {
                req = req.body(b.clone());
            }
            match req.send().await {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let text = resp.text().await.map_err(|e| {
                        (true, format!("{url}: reading the response: {}", chain(&e)))
                    })?;
                    return Ok((status, text));
                }
                Err(e) => {
                    last = format!("{url}: {}", chain(&e));
                    self.next
                        .store((start + i + 1) % self.urls.len(), Ordering::Relaxed);
                }
            }
        }
        Err((true, last))
    }

    /// `POST /_bulk`: the parsed response, or (retryable, error).
    async fn bulk(&self, body: Vec<u8>) -> Result<serde_json::Value, (bool, String)> {
        let (status, text) = self
            .send(
                reqwest::Method::POST,
                "/_bulk",
                Some(body),
                "application/x-ndjson",
            )
            .await?;
        match status {
            200 => serde_json::from_str(&text)
                .map_err(|e| (false, format!("unreadable _bulk response: {e}"))),
            429 | 500..=599 => Err((true, format!("HTTP {status}: {}", truncate(&text)))),
            401 | 403 => Err((
                false,
                format!(
                    "HTTP {status} (check connection.username / connection.password): {}",
                    truncate(&text)
                ),
            )),
            _ => Err((false, format!("HTTP {status}: {}", truncate(&text)))),
        }
    }
}

fn truncate(s: &str) -> &str {
    let mut end = s.len().min(500);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Whether `PUT /<index>` left the index there: created, or created meanwhile by another writer
/// (400 `resource_already_exists_exception`, in Elasticsearch 7/8 and OpenSearch alike).
fn created_or_exists(status: u16, answer: &str) -> bool {
    (200..300).contains(&status)
        || (status == 400 && answer.contains("resource_already_exists_exception"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_index_another_writer_created_counts_as_created() {
        let exists = include_str!("recorded/opensearch-2.19.6-index-exists.json");
        assert!(super::created_or_exists(400, exists));
        assert!(super::created_or_exists(200, r#"{"acknowledged":true}"#));
        assert!(!super::created_or_exists(
            400,
            r#"{"error":{"type":"invalid_index_name_exception"},"status":400}"#
        ));
    }
}
