//! The sluice runtime: what turns connector JSON into running pipelines.
//!
//! * [`connector`]: Kafka Connect connector documents (`{"name":…,"config":{…}}`), plugin
//!   lookup by class name (Debezium/Confluent/Apache names and aliases), unknown-property warnings.
//! * [`errors`]: `errors.tolerance`, retries, error logging and the dead letter queue.
//! * [`http`]: `/metrics` and `/health`.
//! * [`metrics`]: Prometheus metrics of the running connectors, and their health.
//! * [`offsets`]: the local offset store (Connect's key/value offsets as JSON, written atomically).
//! * [`pipeline`]: the embedded pipeline — source → bounded queue → sink, committing offsets only
//!   after the sink reports everything before them durable.
//! * [`stage`]: transform chains in front of sinks, and one source fanned out to several sinks.
//! * [`worker`]: the Kafka Connect-compatible worker (connector lifecycle, supervision,
//!   standalone and distributed modes); [`rest`]: its REST API.

pub mod config_providers;
pub mod connector;
pub mod errors;
pub mod http;
pub mod metrics;
pub mod offsets;
pub mod pipeline;
pub mod rest;
pub mod stage;
pub mod worker;

pub use config_providers::{ConfigProviderError, ConfigProviders};
pub use connector::{ConnectorConfig, ConnectorError};
pub use metrics::{ConnectorMetrics, Metrics};
pub use offsets::FileOffsetStore;
pub use pipeline::{run_pipeline, PipelineError, PipelineSettings, PipelineStats};
