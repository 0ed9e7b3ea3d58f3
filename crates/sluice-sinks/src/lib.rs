//! In-process destinations.
//!
//! * [`lines`]: JSON lines on stdout, in a file, or nowhere (benchmarks) — what Kafka Connect's
//!   `JsonConverter` would put in Kafka, one record per line.
//! * [`elasticsearch`]: the Elasticsearch/OpenSearch sink connector
//!   (`io.confluent.connect.elasticsearch.ElasticsearchSinkConnector`), `_bulk` over HTTP.

pub mod elasticsearch;
pub mod lines;

pub use elasticsearch::{ElasticsearchConfig, ElasticsearchSink};
pub use lines::{FileSink, LineFormat, NullSink, StdoutSink};
