//! The sluice runtime: what turns connector JSON into running pipelines.
//!
//! * [`connector`]: Kafka Connect connector documents (`{"name":…,"config":{…}}`), plugin
//!   lookup by class name (Debezium/Confluent/Apache names and aliases), unknown-property warnings.
//! * [`http`]: `/metrics` and `/health`.
//! * [`metrics`]: Prometheus metrics of the running connectors, and their health.
//! * [`offsets`]: the local offset store (Connect's key/value offsets as JSON, written atomically).
//! * [`pipeline`]: the embedded pipeline — source → bounded queue → sink, committing offsets only
//!   after the sink reports everything before them durable.

pub mod connector;
pub mod http;
pub mod metrics;
pub mod offsets;
pub mod pipeline;

pub use connector::{ConnectorConfig, ConnectorError, SourceKind};
pub use metrics::{ConnectorMetrics, Metrics};
pub use offsets::FileOffsetStore;
pub use pipeline::{run_pipeline, PipelineError, PipelineSettings, PipelineStats};
