//! The embedded pipeline: source → bounded queue → sink → offset commit.
//!
//! Invariant: a position is committed only after `Sink::flush` returned for every event handed
//! over before it. The loop takes every batch already queued (group commit: under load one
//! flush and one offset write cover many batches, when idle every batch is committed at once),
//! writes them to the sink in order, flushes, then commits the last batch's position.
//!
//! A sink that acknowledges asynchronously (Kafka, [`Sink::acks_async`]) is not flushed per
//! group: batches keep flowing while earlier ones are in flight, each remembered with its
//! position, and the newest position whose batch and every batch before it are durable
//! ([`Sink::durable_batches`]) is committed at most every `commit_every` (and as soon as the
//! stream goes idle). The invariant is the same: nothing is committed before it is durable.
//!
//! A clean stop (the shutdown future completes) stops the source, drains what it had already
//! handed over, flushes and commits: a restart then repeats nothing. After `kill -9` at most the
//! batches between the last commit and the crash are delivered again.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sluice_core::failpoint::crash_point;
use sluice_core::traits::OffsetStoreError;
use sluice_core::{
    ErrorClass, OffsetKey, OffsetStore, Position, Retryable, Sink, SinkError, SourceError,
    SourceMessage,
};

use crate::metrics::ConnectorMetrics;
use tokio::sync::{mpsc, oneshot, Mutex};
use tracing::{debug, info};

/// Why a pipeline stopped.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Sink(#[from] SinkError),
    #[error(transparent)]
    Offsets(#[from] OffsetStoreError),
    #[error("source task failed: {0}")]
    Task(String),
}

impl Retryable for PipelineError {
    fn class(&self) -> ErrorClass {
        match self {
            PipelineError::Source(e) => e.class(),
            PipelineError::Sink(e) => e.class(),
            PipelineError::Offsets(e) => e.class(),
            PipelineError::Task(_) => ErrorClass::Fatal,
        }
    }
}

/// Counters of one pipeline run.
#[derive(Debug, Default, Clone, Copy)]
pub struct PipelineStats {
    pub events: u64,
    pub batches: u64,
    pub commits: u64,
}

/// How a pipeline runs.
pub struct PipelineSettings {
    /// Batches the queue between source and sink holds (backpressure beyond).
    pub queue_batches: usize,
    /// For asynchronously acknowledging sinks: the longest time between offset commits.
    pub commit_every: Duration,
    pub metrics: ConnectorMetrics,
}

/// Most batches taken into one flush/commit group.
const GROUP_MAX_BATCHES: usize = 64;

/// How often an idle pipeline with batches in flight looks for new acknowledgements.
const ACK_POLL: Duration = Duration::from_millis(20);

/// What the loop woke up for.
enum Next {
    Message(Option<SourceMessage>),
    AckPoll,
    Shutdown,
}

/// Runs `source` (which sends into the queue it is given) into `sink` until the source ends,
/// fails, or `shutdown` completes.
///
/// The source runs on a thread of its own (with a single-threaded async runtime), so reading and
/// decoding the binlog overlaps with serializing and writing on the caller's runtime; the bounded
/// queue between them is the only link (backpressure when the sink is slower).
pub async fn run_pipeline<S, Fut, E, F>(
    source: S,
    settings: PipelineSettings,
    sink: Arc<Mutex<Box<dyn Sink>>>,
    store: &mut dyn OffsetStore,
    key: &OffsetKey,
    shutdown: F,
) -> Result<PipelineStats, PipelineError>
where
    S: FnOnce(mpsc::Sender<SourceMessage>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), E>> + 'static,
    E: Into<SourceError> + 'static,
    F: Future<Output = ()>,
{
    let PipelineSettings {
        queue_batches,
        commit_every,
        metrics,
    } = settings;
    let (tx, mut rx) = mpsc::channel(queue_batches.max(1));
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let (done_tx, done_rx) = oneshot::channel();
    let thread = std::thread::Builder::new()
        .name(format!("source-{}", key.connector))
        .spawn(move || {
            let result = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt.block_on(async move {
                    tokio::select! {
                        r = source(tx) => Some(r.map_err(Into::into)),
                        _ = stop_rx => None,
                    }
                }),
                Err(e) => Some(Err(SourceError::fatal(format!(
                    "cannot start the source runtime: {e}"
                )))),
            };
            let _ = done_tx.send(result);
        })
        .map_err(|e| PipelineError::Task(e.to_string()))?;
    let mut stop_tx = Some(stop_tx);
    let mut stats = PipelineStats::default();
    let started = Instant::now();
    let mut acks = sink
        .lock()
        .await
        .acks_async()
        .then(|| AsyncAcks::new(commit_every, metrics.clone()));
    tokio::pin!(shutdown);
    let failed = loop {
        let polling = acks.as_ref().is_some_and(|a| !a.inflight.is_empty());
        let recv = async {
            if polling {
                match tokio::time::timeout(ACK_POLL, rx.recv()).await {
                    Ok(m) => Next::Message(m),
                    Err(_) => Next::AckPoll,
                }
            } else {
                Next::Message(rx.recv().await)
            }
        };
        let next = if stop_tx.is_none() {
            recv.await
        } else {
            tokio::select! {
                n = recv => n,
                _ = &mut shutdown => Next::Shutdown,
            }
        };
        let result = match next {
            Next::Shutdown => {
                info!(connector = %key.connector, "stopping: draining events already read");
                if let Some(s) = stop_tx.take() {
                    let _ = s.send(());
                }
                continue;
            }
            Next::AckPoll => match acks.as_mut() {
                Some(a) => a.commit_durable(&sink, store, key, &mut stats, true).await,
                None => Ok(()),
            },
            Next::Message(None) => {
                // the source is done: wait for every acknowledgement, commit the last position
                if let Some(a) = acks.as_mut() {
                    if let Err(e) = a.finish(&sink, store, key, &mut stats).await {
                        break Some(e);
                    }
                }
                break None;
            }
            Next::Message(Some(first)) => {
                let mut group = vec![first];
                while group.len() < GROUP_MAX_BATCHES {
                    match rx.try_recv() {
                        Ok(m) => group.push(m),
                        Err(_) => break,
                    }
                }
                metrics.queue_depth(rx.len());
                match acks.as_mut() {
                    Some(a) => a.deliver(group, &sink, store, key, &mut stats).await,
                    None => deliver(group, &sink, store, key, &mut stats, &metrics).await,
                }
            }
        };
        if let Err(e) = result {
            break Some(e);
        }
    };
    if let Some(e) = failed {
        // stop the source thread; nothing past the last commit is acknowledged
        if let Some(s) = stop_tx.take() {
            let _ = s.send(());
        }
        drop(rx);
        let _ = thread.join();
        return Err(e);
    }
    let outcome = done_rx
        .await
        .map_err(|_| PipelineError::Task("source thread panicked".into()))?;
    let _ = thread.join();
    if let Some(result) = outcome {
        result?;
    }
    info!(
        connector = %key.connector, events = stats.events, commits = stats.commits,
        seconds = started.elapsed().as_secs_f64(), "pipeline finished"
    );
    Ok(stats)
}

async fn deliver(
    group: Vec<SourceMessage>,
    sink: &Arc<Mutex<Box<dyn Sink>>>,
    store: &mut dyn OffsetStore,
    key: &OffsetKey,
    stats: &mut PipelineStats,
    metrics: &ConnectorMetrics,
) -> Result<(), PipelineError> {
    let mut last: Option<Position> = None;
    let mut sink = sink.lock().await;
    for msg in group {
        let SourceMessage::Batch { events, position } = msg;
        if !events.is_empty() {
            sink.write(&events).await?;
            crash_point("sink-written");
            stats.events += events.len() as u64;
            metrics.batch(&events);
        }
        stats.batches += 1;
        last = Some(position);
    }
    let started = Instant::now();
    sink.flush().await?;
    crash_point("sink-durable");
    drop(sink);
    if let Some(p) = last {
        crash_point("offset-commit");
        store.commit(&key.for_position(&p), &p)?;
        crash_point("offset-committed");
        stats.commits += 1;
        metrics.committed(started.elapsed());
        debug!(connector = %key.connector, offset = %p.to_offset_json(), "offset committed");
    }
    Ok(())
}

/// In-flight batches of an asynchronously acknowledging sink, oldest first.
struct AsyncAcks {
    /// (batch number, position after the batch).
    inflight: VecDeque<(u64, Position)>,
    written: u64,
    /// None until the first commit: the first durable batch commits at once, so a connector
    /// that has just started (or moved to this worker) records its progress before it could
    /// be stopped without a chance to commit.
    last_commit: Option<Instant>,
    every: Duration,
    metrics: ConnectorMetrics,
}

impl AsyncAcks {
    fn new(every: Duration, metrics: ConnectorMetrics) -> AsyncAcks {
        AsyncAcks {
            inflight: VecDeque::new(),
            written: 0,
            last_commit: None,
            every,
            metrics,
        }
    }

    /// Hands every batch to the sink (empty ones too: their position still needs the batches
    /// before it to be durable), then commits what is durable if a commit is due.
    async fn deliver(
        &mut self,
        group: Vec<SourceMessage>,
        sink: &Arc<Mutex<Box<dyn Sink>>>,
        store: &mut dyn OffsetStore,
        key: &OffsetKey,
        stats: &mut PipelineStats,
    ) -> Result<(), PipelineError> {
        {
            let mut sink = sink.lock().await;
            for msg in group {
                let SourceMessage::Batch { events, position } = msg;
                sink.write(&events).await?;
                crash_point("sink-written");
                stats.events += events.len() as u64;
                stats.batches += 1;
                self.metrics.batch(&events);
                self.inflight.push_back((self.written, position));
                self.written += 1;
            }
        }
        self.commit_durable(sink, store, key, stats, false).await
    }

    /// Commits the newest position whose batch and all before it are durable; unless `force`,
    /// only when `every` has passed since the last commit.
    async fn commit_durable(
        &mut self,
        sink: &Arc<Mutex<Box<dyn Sink>>>,
        store: &mut dyn OffsetStore,
        key: &OffsetKey,
        stats: &mut PipelineStats,
        force: bool,
    ) -> Result<(), PipelineError> {
        if !force && self.last_commit.is_some_and(|t| t.elapsed() < self.every) {
            return Ok(());
        }
        let durable = sink.lock().await.durable_batches()?;
        crash_point("sink-durable");
        let mut newest = None;
        while self.inflight.front().is_some_and(|(n, _)| *n < durable) {
            newest = self.inflight.pop_front().map(|(_, p)| p);
        }
        if let Some(p) = newest {
            let started = Instant::now();
            crash_point("offset-commit");
            store.commit(&key.for_position(&p), &p)?;
            crash_point("offset-committed");
            stats.commits += 1;
            self.metrics.committed(started.elapsed());
            self.last_commit = Some(Instant::now());
            debug!(connector = %key.connector, offset = %p.to_offset_json(), "offset committed");
        }
        Ok(())
    }

    /// Waits until everything written is durable and commits the last position.
    async fn finish(
        &mut self,
        sink: &Arc<Mutex<Box<dyn Sink>>>,
        store: &mut dyn OffsetStore,
        key: &OffsetKey,
        stats: &mut PipelineStats,
    ) -> Result<(), PipelineError> {
        sink.lock().await.flush().await?;
        self.commit_durable(sink, store, key, stats, true).await?;
        if self.inflight.is_empty() {
            Ok(())
        } else {
            Err(PipelineError::Sink(SinkError::Unavailable(format!(
                "{} batch(es) still unacknowledged after the final flush",
                self.inflight.len()
            ))))
        }
    }
}
