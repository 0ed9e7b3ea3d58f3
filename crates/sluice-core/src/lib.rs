//! sluice core: the data model every other crate speaks.
//!
//! * [`schema`] and [`value`]: the Kafka Connect data model (`Schema`, `Struct`, logical types),
//!   because Debezium events are Connect records and converters must reproduce Connect's output.
//! * [`event`]: a [`ChangeEvent`] is one Connect record (topic, key, value) plus the typed
//!   [`Position`] it came from.
//! * [`position`]: positions (each source brings its own type) and their Connect offset JSON.
//! * [`traits`]: the `Sink` and `OffsetStore` contracts the runtime drives.
//! * [`error`]: the retryable/fatal split every error in the workspace follows.
//! * [`failpoint`]: named crash points tests switch on (`FAILPOINTS`).
//! * [`props`]: reading connector properties (flags, numbers, choices) with one set of messages.

pub mod civil;
pub mod decimal;
pub mod errant;
pub mod error;
pub mod event;
pub mod failpoint;
pub mod health;
pub mod history;
pub mod modes;
pub mod position;
pub mod props;
pub mod schema;
#[cfg(any(test, feature = "test-util"))]
pub mod test_util;
pub mod traits;
pub mod value;

pub use errant::{ErrantReporter, Failure, RawRecord, Stage};
pub use error::{ErrorClass, Retryable};
pub use event::{ChangeEvent, Data};
pub use health::{SnapshotStatus, SourceHealth};
pub use history::{FileHistoryStore, HistoryStoreError, SchemaHistoryStore};
pub use position::{
    KafkaPosition, OffsetKey, OffsetMap, Position, SnapshotProgress, SourceOffset, SourcePosition,
};
pub use schema::{Field, Schema, SchemaBuilder, SchemaType};
pub use traits::{OffsetStore, Sink, SinkError, SourceError, SourceMessage};
pub use value::Value;
