//! Records that cannot be processed: Kafka Connect's error handling (`errors.tolerance`,
//! dead letter queue) as one contract between the stages that find a bad record (converters,
//! transforms, sinks rejecting a record) and the runtime that decides what happens to it.
//!
//! [`ErrantReporter::report`] either sets the record aside — logged, and written to the dead
//! letter queue if one is configured — and returns `Ok` (`errors.tolerance=all`), or returns
//! the error that must stop the task (`errors.tolerance=none`, the default). Set-aside records
//! become durable in the dead letter queue at [`ErrantReporter::flush`], which every sink calls
//! before it reports its own writes durable: the offset never moves past a record that is
//! neither delivered nor in the dead letter queue.

use crate::event::ChangeEvent;
use crate::traits::SinkError;

/// Where a record failed (Connect's `org.apache.kafka.connect.runtime.errors.Stage`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    KeyConverter,
    ValueConverter,
    HeaderConverter,
    Transformation,
    TaskPut,
    TaskPoll,
    KafkaProduce,
    KafkaConsume,
}

impl Stage {
    /// The name Connect writes in `__connect.errors.stage`.
    pub fn name(self) -> &'static str {
        match self {
            Stage::KeyConverter => "KEY_CONVERTER",
            Stage::ValueConverter => "VALUE_CONVERTER",
            Stage::HeaderConverter => "HEADER_CONVERTER",
            Stage::Transformation => "TRANSFORMATION",
            Stage::TaskPut => "TASK_PUT",
            Stage::TaskPoll => "TASK_POLL",
            Stage::KafkaProduce => "KAFKA_PRODUCE",
            Stage::KafkaConsume => "KAFKA_CONSUME",
        }
    }
}

/// What went wrong with one record.
#[derive(Debug, Clone)]
pub struct Failure {
    pub stage: Stage,
    /// The class of the plugin that failed (`org.apache.kafka.connect.transforms.Cast$Value`).
    pub class: String,
    /// The Java exception class Connect would report (`…errors.DataException`).
    pub exception: String,
    pub message: String,
}

/// The bytes a record arrived with (sink connectors reading Kafka): what the dead letter queue
/// stores, as Connect does.
#[derive(Debug, Clone, Default)]
pub struct RawRecord {
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Vec<u8>)>,
}

/// Decides the fate of records that cannot be processed (see the module doc).
pub trait ErrantReporter: Send + Sync {
    /// Sets `record` aside, or returns the error the task must stop with.
    fn report(
        &self,
        record: &ChangeEvent,
        raw: Option<&RawRecord>,
        failure: Failure,
    ) -> Result<(), SinkError>;

    /// Makes every record set aside so far durable in the dead letter queue.
    fn flush(&self) -> Result<(), SinkError>;
}
