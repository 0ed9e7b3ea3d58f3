//! Contracts between the runtime and its plugins.
//!
//! Delivery is two-phase: [`Sink::write`] accepts a batch (it may buffer), [`Sink::flush`]
//! returns only when everything accepted so far is durable in the destination. The runtime
//! commits a position to the [`OffsetStore`] only after a successful `flush` covering every event
//! up to that position, so the stored offset never runs ahead of durable delivery. A sink that
//! acknowledges asynchronously ([`Sink::acks_async`]) instead reports, per batch, what is
//! durable, and the runtime commits the newest position below which everything is.

use async_trait::async_trait;

use crate::error::{ErrorClass, Retryable};
use crate::event::ChangeEvent;
use crate::position::{OffsetKey, Position};

/// What a source hands to the runtime.
#[derive(Debug)]
pub enum SourceMessage {
    /// Events in order, and the restart position to commit once all of them are durable.
    Batch {
        events: Vec<ChangeEvent>,
        position: Position,
    },
}

/// A source's failure as the runtime sees it: the error itself (its cause chain kept, see
/// [`SourceError::chain`]) and whether retrying may help.
#[derive(Debug)]
pub struct SourceError {
    class: ErrorClass,
    cause: Box<dyn std::error::Error + Send + Sync + 'static>,
}

/// A plain message as an error (for failures that have no error value of their own).
#[derive(Debug)]
struct Message(String);

impl std::fmt::Display for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Message {}

/// The driver gave up on a transient error.
#[derive(Debug)]
struct GaveUp {
    attempts: u32,
    last: SourceError,
}

impl std::fmt::Display for GaveUp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "gave up after {} attempts (errors.max.retries): {}",
            self.attempts, self.last
        )
    }
}

impl std::error::Error for GaveUp {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.last.cause.source()
    }
}

impl SourceError {
    /// A classified error, kept whole.
    pub fn of<E>(e: E) -> SourceError
    where
        E: std::error::Error + Retryable + Send + Sync + 'static,
    {
        SourceError {
            class: e.class(),
            cause: Box::new(e),
        }
    }

    /// A failure described by a message.
    pub fn new(class: ErrorClass, message: impl Into<String>) -> SourceError {
        SourceError {
            class,
            cause: Box::new(Message(message.into())),
        }
    }

    pub fn fatal(message: impl Into<String>) -> SourceError {
        SourceError::new(ErrorClass::Fatal, message)
    }

    /// The definite error a retry policy ends with after `attempts` failed attempts.
    pub fn giving_up(self, attempts: u32) -> SourceError {
        SourceError {
            class: ErrorClass::Fatal,
            cause: Box::new(GaveUp {
                attempts,
                last: self,
            }),
        }
    }

    /// The message and every cause below it, joined with ": " (for logs and REST status).
    pub fn chain(&self) -> String {
        let mut out = self.cause.to_string();
        let mut next = self.cause.source();
        while let Some(e) = next {
            let text = e.to_string();
            if !out.contains(&text) {
                out.push_str(": ");
                out.push_str(&text);
            }
            next = e.source();
        }
        out
    }

    /// The error as its source crate typed it, when it is an `E`.
    pub fn downcast_ref<E: std::error::Error + 'static>(&self) -> Option<&E> {
        self.cause.downcast_ref::<E>()
    }
}

impl std::fmt::Display for SourceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.cause.fmt(f)
    }
}

impl std::error::Error for SourceError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.cause.source()
    }
}

impl Retryable for SourceError {
    fn class(&self) -> ErrorClass {
        self.class
    }
}

/// Why a sink could not take or persist records.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("sink I/O error: {0} (check the destination is reachable and writable)")]
    Io(#[from] std::io::Error),
    #[error("sink rejected a record: {0}")]
    Rejected(String),
    #[error("sink is unavailable: {0}")]
    Unavailable(String),
}

impl Retryable for SinkError {
    fn class(&self) -> ErrorClass {
        match self {
            SinkError::Io(_) | SinkError::Unavailable(_) => ErrorClass::Retryable,
            SinkError::Rejected(_) => ErrorClass::Fatal,
        }
    }
}

/// A destination of change events.
#[async_trait]
pub trait Sink: Send {
    /// Accepts a batch, in order. May buffer.
    async fn write(&mut self, events: &[ChangeEvent]) -> Result<(), SinkError>;
    /// Makes everything accepted so far durable.
    async fn flush(&mut self) -> Result<(), SinkError>;

    /// `true` when the sink acknowledges asynchronously (Kafka): `write` only queues, and
    /// [`Sink::durable_batches`] tells how far delivery got. The runtime then keeps writing
    /// while earlier batches are in flight, and commits the newest position whose batches, and
    /// every batch before them, are durable.
    fn acks_async(&self) -> bool {
        false
    }

    /// For an asynchronous sink: how many `write` calls, counted from the first, are durable
    /// (every one of their records acknowledged), or — for a transactional sink whose offset
    /// commit commits the events' transaction — become durable atomically with the next offset
    /// commit. Fails if a record was rejected.
    fn durable_batches(&mut self) -> Result<u64, SinkError> {
        Ok(0)
    }
}

/// Errors of an offset store.
#[derive(Debug, thiserror::Error)]
pub enum OffsetStoreError {
    #[error("offset store I/O error on {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("offset store {path} is corrupt: {reason} (fix or remove the file to start over)")]
    Corrupt { path: String, reason: String },
}

impl Retryable for OffsetStoreError {
    fn class(&self) -> ErrorClass {
        match self {
            OffsetStoreError::Io { .. } => ErrorClass::Retryable,
            OffsetStoreError::Corrupt { .. } => ErrorClass::Fatal,
        }
    }
}

/// Where committed positions live (a local file, a Kafka topic, …).
pub trait OffsetStore: Send {
    /// The committed offset of a partition, as Debezium's offset JSON.
    fn load(&self, key: &OffsetKey) -> Result<Option<serde_json::Value>, OffsetStoreError>;
    /// Durably replaces the committed position of a partition.
    fn commit(&mut self, key: &OffsetKey, position: &Position) -> Result<(), OffsetStoreError>;
}
