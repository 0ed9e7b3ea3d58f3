//! What a source plugin gets to run its connector: the offset store and the stored offset, the
//! sink behind the connector's transforms, the pipeline settings, the retry policy and health,
//! and where the connector keeps its schema history. `sluice run` and `sluice connect` build it
//! the same way (`run_cmd::run_source`); the plugin only supplies its source.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

use anyhow::Result;
use serde_json::Value as Json;
use sluice_cdc::{drive, RetryPolicy};
use sluice_core::{OffsetKey, OffsetStore, Sink, SourceError, SourceHealth, SourceMessage};
use sluice_runtime::{run_pipeline, PipelineSettings, PipelineStats};
use tokio::sync::{mpsc, Mutex};

use crate::state;

/// One run of a source connector, up to the source itself.
pub(crate) struct SourceRun {
    pub(crate) name: String,
    /// The connector's offset key (`["<name>", {"server": <topic.prefix>}]`).
    pub(crate) key: OffsetKey,
    /// The connector's offsets; a source may wrap it (PostgreSQL confirms its slot on commit).
    pub(crate) store: Box<dyn OffsetStore>,
    /// The offset stored under `key`, if any.
    pub(crate) offset: Option<Json>,
    pub(crate) sink: Arc<Mutex<Box<dyn Sink>>>,
    pub(crate) settings: PipelineSettings,
    pub(crate) shutdown: Pin<Box<dyn Future<Output = ()> + Send>>,
    /// `errors.max.retries` / `errors.retry.delay.*`, for log sources under the driver.
    pub(crate) policy: RetryPolicy,
    pub(crate) health: Arc<SourceHealth>,
    pub(crate) exit_when_caught_up: bool,
    /// `max.batch.size`.
    pub(crate) max_batch: usize,
    pub(crate) state: state::State,
    /// The schema history file (when the history is kept in a file).
    pub(crate) history: PathBuf,
}

impl SourceRun {
    /// The same run with its offset store wrapped (PostgreSQL confirms its slot on commit).
    pub(crate) fn map_store(
        self,
        wrap: impl FnOnce(Box<dyn OffsetStore>) -> Box<dyn OffsetStore>,
    ) -> SourceRun {
        SourceRun {
            store: wrap(self.store),
            ..self
        }
    }

    /// Runs a log source under the driver ([`sluice_cdc::driver`]): `attempt(offset, tx)` starts
    /// the source from `offset` and sends its batches to `tx`; after a transient failure the
    /// driver calls it again from the last position handed over.
    pub(crate) async fn drive<F, Fut>(self, attempt: F) -> Result<PipelineStats>
    where
        F: FnMut(Option<Json>, mpsc::Sender<SourceMessage>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), SourceError>> + 'static,
    {
        let SourceRun {
            name,
            key,
            mut store,
            offset,
            sink,
            settings,
            shutdown,
            policy,
            health,
            ..
        } = self;
        let source =
            move |tx| async move { drive(&name, policy, health, offset, tx, attempt).await };
        Ok(run_pipeline(source, settings, sink, store.as_mut(), &key, shutdown).await?)
    }

    /// Runs a source that needs no driver (a query-based source polls, it has no connection to
    /// lose between polls).
    pub(crate) async fn pipeline<S, Fut, E>(mut self, source: S) -> Result<PipelineStats>
    where
        S: FnOnce(mpsc::Sender<SourceMessage>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), E>> + 'static,
        E: Into<SourceError> + 'static,
    {
        Ok(run_pipeline(
            source,
            self.settings,
            self.sink,
            self.store.as_mut(),
            &self.key,
            self.shutdown,
        )
        .await?)
    }
}
