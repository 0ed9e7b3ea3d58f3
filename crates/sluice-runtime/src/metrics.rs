//! Prometheus metrics of the running connectors (`GET /metrics`, text exposition format).
//!
//! Per connector: events delivered by topic and op (`c`/`u`/`d`/`r`, `tombstone`,
//! `heartbeat`), batches, offset commits and their latency, the source queue depth, how far the
//! last delivered event is behind the source (`milliseconds_behind_source`, as Debezium's JMX
//! metric: now minus the event's binlog time, one-second resolution), whether the source is
//! connected and how often it reconnected, and the initial snapshot's progress (rows read
//! against the server's estimate). Counting is per batch, not per event, so it costs
//! nothing measurable on the hot path.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use sluice_core::{ChangeEvent, SourceHealth, Value};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ConnectorLabel {
    connector: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EventLabels {
    connector: String,
    topic: String,
    op: String,
}

/// Every metric of the process.
pub struct Metrics {
    registry: Registry,
    events: Family<EventLabels, Counter>,
    batches: Family<ConnectorLabel, Counter>,
    commits: Family<ConnectorLabel, Counter>,
    commit_seconds: Family<ConnectorLabel, Histogram, fn() -> Histogram>,
    queue: Family<ConnectorLabel, Gauge>,
    behind_ms: Family<ConnectorLabel, Gauge>,
    connected: Family<ConnectorLabel, Gauge>,
    reconnects: Family<ConnectorLabel, Counter>,
    snapshot_running: Family<ConnectorLabel, Gauge>,
    snapshot_rows: Family<ConnectorLabel, Gauge>,
    snapshot_estimate: Family<ConnectorLabel, Gauge>,
    sources: Mutex<Vec<(String, Arc<SourceHealth>)>>,
    /// Topics each connector's events went to (the REST API's `/connectors/{name}/topics`).
    topics: Mutex<std::collections::BTreeMap<String, std::collections::BTreeSet<String>>>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("sluice");
        let events = Family::<EventLabels, Counter>::default();
        let batches = Family::<ConnectorLabel, Counter>::default();
        let commits = Family::<ConnectorLabel, Counter>::default();
        let commit_seconds = Family::<ConnectorLabel, Histogram>::new_with_constructor(
            (|| Histogram::new(exponential_buckets(0.0005, 2.0, 14))) as fn() -> Histogram,
        );
        let queue = Family::<ConnectorLabel, Gauge>::default();
        let behind_ms = Family::<ConnectorLabel, Gauge>::default();
        let connected = Family::<ConnectorLabel, Gauge>::default();
        let reconnects = Family::<ConnectorLabel, Counter>::default();
        let snapshot_running = Family::<ConnectorLabel, Gauge>::default();
        let snapshot_rows = Family::<ConnectorLabel, Gauge>::default();
        let snapshot_estimate = Family::<ConnectorLabel, Gauge>::default();
        registry.register(
            "snapshot_running",
            "1 while the initial snapshot reads tables",
            snapshot_running.clone(),
        );
        registry.register(
            "snapshot_rows",
            "Rows read by the initial snapshot (updated every 4096 rows)",
            snapshot_rows.clone(),
        );
        registry.register(
            "snapshot_rows_estimate",
            "The server's estimate of the rows the snapshot reads",
            snapshot_estimate.clone(),
        );
        registry.register("events", "Change events delivered", events.clone());
        registry.register("batches", "Batches delivered", batches.clone());
        registry.register("offset_commits", "Offsets committed", commits.clone());
        registry.register(
            "offset_commit_seconds",
            "Time to make a group durable and commit its offset",
            commit_seconds.clone(),
        );
        registry.register(
            "queue_batches",
            "Batches waiting between source and sink",
            queue.clone(),
        );
        registry.register(
            "milliseconds_behind_source",
            "Now minus the binlog time of the last delivered event",
            behind_ms.clone(),
        );
        registry.register(
            "source_connected",
            "1 while the source holds a database connection",
            connected.clone(),
        );
        registry.register(
            "source_reconnects",
            "Lost database connections retried",
            reconnects.clone(),
        );
        Metrics {
            registry,
            events,
            batches,
            commits,
            commit_seconds,
            queue,
            behind_ms,
            connected,
            reconnects,
            snapshot_running,
            snapshot_rows,
            snapshot_estimate,
            sources: Mutex::new(Vec::new()),
            topics: Mutex::new(Default::default()),
        }
    }
}

impl Metrics {
    /// The handle a connector's pipeline reports through; `health` is its source's.
    pub fn connector(self: &Arc<Self>, name: &str, health: Arc<SourceHealth>) -> ConnectorMetrics {
        if let Ok(mut s) = self.sources.lock() {
            s.retain(|(n, _)| n != name); // a restarted connector replaces its old entry
            s.push((name.to_string(), health));
        }
        ConnectorMetrics {
            metrics: Arc::clone(self),
            label: ConnectorLabel {
                connector: name.to_string(),
            },
        }
    }

    /// The topics a connector's events went to.
    pub fn topics(&self, connector: &str) -> Vec<String> {
        self.topics
            .lock()
            .map(|t| {
                t.get(connector)
                    .map(|s| s.iter().cloned().collect())
                    .unwrap_or_default()
            })
            .unwrap_or_default()
    }

    /// Connector names and the state of each source ([`SourceHealth::state`]).
    pub fn health(&self) -> Vec<(String, &'static str)> {
        self.sources
            .lock()
            .map(|s| s.iter().map(|(n, h)| (n.clone(), h.state())).collect())
            .unwrap_or_default()
    }

    /// The text exposition of every metric.
    pub fn render(&self) -> String {
        if let Ok(sources) = self.sources.lock() {
            for (name, h) in sources.iter() {
                let label = ConnectorLabel {
                    connector: name.clone(),
                };
                self.connected
                    .get_or_create(&label)
                    .set(i64::from(h.connected()));
                let c = self.reconnects.get_or_create(&label);
                c.inc_by(h.reconnects().saturating_sub(c.get()));
                let snap = h.snapshot();
                let gauge = |f: &Family<ConnectorLabel, Gauge>, v: u64| {
                    f.get_or_create(&label).set(v as i64);
                };
                gauge(&self.snapshot_running, u64::from(snap.running));
                gauge(&self.snapshot_rows, snap.rows);
                gauge(&self.snapshot_estimate, snap.estimate);
            }
        }
        let mut out = String::new();
        let _ = encode(&mut out, &self.registry);
        out
    }
}

/// One connector's view of the metrics.
#[derive(Clone)]
pub struct ConnectorMetrics {
    metrics: Arc<Metrics>,
    label: ConnectorLabel,
}

impl ConnectorMetrics {
    /// A batch was handed to the sink.
    pub fn batch(&self, events: &[ChangeEvent]) {
        let m = &self.metrics;
        m.batches.get_or_create(&self.label).inc();
        let mut counts: Vec<(&str, &str, u64)> = Vec::new();
        for ev in events {
            let op = op_of(ev);
            match counts
                .iter_mut()
                .find(|(t, o, _)| *t == &*ev.topic && *o == op)
            {
                Some(c) => c.2 += 1,
                None => counts.push((&ev.topic, op, 1)),
            }
        }
        if let Ok(mut t) = m.topics.lock() {
            let set = t.entry(self.label.connector.clone()).or_default();
            for (topic, _, _) in &counts {
                if !set.contains(*topic) {
                    set.insert(topic.to_string());
                }
            }
        }
        for (topic, op, n) in counts {
            m.events
                .get_or_create(&EventLabels {
                    connector: self.label.connector.clone(),
                    topic: topic.to_string(),
                    op: op.to_string(),
                })
                .inc_by(n);
        }
        if let Some(ts) = events
            .iter()
            .rev()
            .find_map(|e| e.position.as_source()?.event_time_sec())
        {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64);
            m.behind_ms
                .get_or_create(&self.label)
                .set((now - ts as i64 * 1000).max(0));
        }
    }

    /// An offset was committed, `took` after its group started to be made durable.
    pub fn committed(&self, took: Duration) {
        self.metrics.commits.get_or_create(&self.label).inc();
        self.metrics
            .commit_seconds
            .get_or_create(&self.label)
            .observe(took.as_secs_f64());
    }

    /// Batches waiting in the queue.
    pub fn queue_depth(&self, batches: usize) {
        self.metrics
            .queue
            .get_or_create(&self.label)
            .set(batches as i64);
    }
}

/// The envelope's `op`, or what kind of record it is.
fn op_of(ev: &ChangeEvent) -> &str {
    let Some(v) = &ev.value else {
        return "tombstone";
    };
    let Some(i) = v.schema.as_ref().and_then(|s| s.field_index("op")) else {
        return "heartbeat";
    };
    match v.value.as_struct().and_then(|f| f.get(i)) {
        Some(Value::String(op)) => match &**op {
            "c" => "c",
            "u" => "u",
            "d" => "d",
            "r" => "r",
            "t" => "t",
            "m" => "m",
            _ => "other",
        },
        _ => "other",
    }
}
