//! One librdkafka producer plus the bookkeeping that turns its asynchronous delivery reports
//! into the runtime's "durable" point.
//!
//! Every delivery report is counted by the [`Delivery`] context. Records of the sink carry their
//! batch number (the opaque of the record); [`KafkaProducer::durable_batches`] is the number of
//! leading batches whose every record has a successful report, so the runtime can commit
//! offsets while later batches are still in flight. [`KafkaProducer::checkpoint`] waits for all
//! outstanding reports (`flush`) and fails if any of them was an error since the previous
//! checkpoint. In transactional mode the checkpoint is `commit_transaction`, which also flushes,
//! and a failure aborts the transaction.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::error::{KafkaError as RdError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{
    BaseRecord, DeliveryResult, NoCustomPartitioner, Producer, ProducerContext, ThreadedProducer,
};
use rdkafka::ClientContext;
use tracing::warn;

use crate::{KafkaConfig, KafkaError};

/// How long a flush or a transaction call may take before the batch is failed.
const TIMEOUT: Duration = Duration::from_secs(60);

/// The opaque of records that belong to no batch (offsets, history).
const UNTRACKED: usize = usize::MAX;

/// Records still unacknowledged per batch, from batch number `base` on.
#[derive(Default)]
struct Batches {
    base: u64,
    remaining: VecDeque<usize>,
}

/// Counts delivery failures between checkpoints and acknowledgements per batch.
#[derive(Default)]
pub struct Delivery {
    failed: AtomicU64,
    first_error: Mutex<Option<String>>,
    batches: Mutex<Batches>,
}

impl ClientContext for Delivery {}

impl ProducerContext<NoCustomPartitioner> for Delivery {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, batch: usize) {
        match result {
            Err((e, _)) => {
                self.failed.fetch_add(1, Ordering::SeqCst);
                if let Ok(mut first) = self.first_error.lock() {
                    first.get_or_insert_with(|| e.to_string());
                }
            }
            Ok(_) if batch != UNTRACKED => {
                if let Ok(mut b) = self.batches.lock() {
                    let i = (batch as u64).wrapping_sub(b.base) as usize;
                    if let Some(n) = b.remaining.get_mut(i) {
                        *n = n.saturating_sub(1);
                    }
                }
            }
            Ok(_) => {}
        }
    }
}

/// A producer shared by the sink and (in exactly-once mode) the offset store.
pub struct KafkaProducer {
    inner: ThreadedProducer<Delivery>,
    transactional: bool,
    in_transaction: AtomicBool,
}

impl KafkaProducer {
    /// A producer for `cfg`; transactional when `cfg` asks for exactly-once. A transactional
    /// producer is initialised here, which fences older instances with the same id.
    pub fn new(cfg: &KafkaConfig) -> Result<Arc<KafkaProducer>, KafkaError> {
        Self::build(cfg, cfg.transactional_id.is_some())
    }

    /// A non-transactional producer even when the connector is exactly-once (schema history).
    pub fn plain(cfg: &KafkaConfig) -> Result<Arc<KafkaProducer>, KafkaError> {
        Self::build(cfg, false)
    }

    fn build(cfg: &KafkaConfig, transactional: bool) -> Result<Arc<KafkaProducer>, KafkaError> {
        let config = if transactional {
            cfg.producer_config()
        } else {
            cfg.plain_producer_config()
        };
        let inner: ThreadedProducer<Delivery> = config
            .create_with_context(Delivery::default())
            .map_err(|e| KafkaError::Client(e.to_string()))?;
        if transactional {
            inner.init_transactions(TIMEOUT).map_err(|e| {
                KafkaError::Transaction(format!(
                    "init_transactions for transactional.id {:?}: {e} (does the broker support transactions?)",
                    cfg.transactional_id.as_deref().unwrap_or_default()
                ))
            })?;
        }
        Ok(Arc::new(KafkaProducer {
            inner,
            transactional,
            in_transaction: AtomicBool::new(false),
        }))
    }

    pub fn is_transactional(&self) -> bool {
        self.transactional
    }

    /// Opens the next batch (numbers count up from 0) of `records` records, before they are
    /// sent with [`KafkaProducer::send_in_batch`]; returns its number. A transactional producer does not track records: a batch counts as durable at once,
    /// because the offset commit that covers it commits the transaction holding its records
    /// (both become visible together, or neither does).
    pub fn begin_batch(&self, records: usize) -> u64 {
        let mut b = self.batches();
        if self.transactional {
            b.base += 1;
            return UNTRACKED as u64;
        }
        b.remaining.push_back(records);
        b.base + b.remaining.len() as u64 - 1
    }

    fn batches(&self) -> std::sync::MutexGuard<'_, Batches> {
        // the delivery callback never panics while holding it; a poisoned lock is still sound
        self.inner
            .context()
            .batches
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// How many batches, counted from the first, have every record acknowledged; fails if a
    /// record was not delivered.
    pub fn durable_batches(&self) -> Result<u64, KafkaError> {
        if self.inner.context().failed.load(Ordering::SeqCst) > 0 {
            return Err(KafkaError::Delivery(
                self.take_failures().unwrap_or_default(),
            ));
        }
        let mut b = self.batches();
        while b.remaining.front() == Some(&0) {
            b.remaining.pop_front();
            b.base += 1;
        }
        Ok(b.base)
    }

    /// Queues one record outside any batch; waits while librdkafka's local queue is full.
    pub fn send(
        &self,
        topic: &str,
        key: Option<&[u8]>,
        payload: Option<&[u8]>,
        headers: &[(String, Vec<u8>)],
    ) -> Result<(), KafkaError> {
        self.send_in_batch(UNTRACKED as u64, topic, key, payload, headers, &[])
    }

    /// Queues one record of batch `batch` with `headers` then `more_headers`; waits while
    /// librdkafka's local queue is full.
    pub fn send_in_batch(
        &self,
        batch: u64,
        topic: &str,
        key: Option<&[u8]>,
        payload: Option<&[u8]>,
        headers: &[(String, Vec<u8>)],
        more_headers: &[(String, Vec<u8>)],
    ) -> Result<(), KafkaError> {
        if self.transactional && !self.in_transaction.swap(true, Ordering::SeqCst) {
            self.inner
                .begin_transaction()
                .map_err(|e| KafkaError::Transaction(format!("begin: {e}")))?;
        }
        let mut record: BaseRecord<'_, [u8], [u8], usize> =
            BaseRecord::with_opaque_to(topic, batch as usize);
        if let Some(k) = key {
            record = record.key(k);
        }
        if let Some(p) = payload {
            record = record.payload(p);
        }
        if !headers.is_empty() || !more_headers.is_empty() {
            let mut h = OwnedHeaders::new_with_capacity(headers.len() + more_headers.len());
            for (name, value) in headers.iter().chain(more_headers) {
                h = h.insert(Header {
                    key: name,
                    value: Some(value),
                });
            }
            record = record.headers(h);
        }
        loop {
            match self.inner.send(record) {
                Ok(()) => return Ok(()),
                Err((RdError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    record = r;
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err((e, _)) => {
                    return Err(KafkaError::Delivery(format!(
                        "cannot queue a record for {topic}: {e}"
                    )))
                }
            }
        }
    }

    /// Returns once every record sent so far has a delivery report; fails if any failed.
    /// In transactional mode this commits the open transaction (if any).
    pub fn checkpoint(&self) -> Result<(), KafkaError> {
        if self.transactional {
            if !self.in_transaction.load(Ordering::SeqCst) {
                return Ok(());
            }
            let committed = self.inner.commit_transaction(TIMEOUT);
            self.in_transaction.store(false, Ordering::SeqCst);
            let failed = self.take_failures();
            if let Err(e) = committed {
                if let Err(abort) = self.inner.abort_transaction(TIMEOUT) {
                    warn!(error = %abort, "aborting the failed transaction failed too");
                }
                return Err(KafkaError::Transaction(format!(
                    "commit: {e}{}",
                    failed.map(|f| format!("; {f}")).unwrap_or_default()
                )));
            }
            return match failed {
                Some(f) => Err(KafkaError::Delivery(f)),
                None => Ok(()),
            };
        }
        self.inner
            .flush(TIMEOUT)
            .map_err(|e| KafkaError::Delivery(format!("flush: {e}")))?;
        match self.take_failures() {
            Some(f) => Err(KafkaError::Delivery(f)),
            None => Ok(()),
        }
    }

    /// Waits for outstanding delivery reports without committing a transaction; fails early if
    /// a record was rejected.
    pub fn flush(&self) -> Result<(), KafkaError> {
        if self.transactional {
            // commit_transaction flushes; a separate flush would only add a round trip
            return match self.inner.context().failed.load(Ordering::SeqCst) {
                0 => Ok(()),
                _ => Err(KafkaError::Delivery(
                    self.take_failures().unwrap_or_default(),
                )),
            };
        }
        self.checkpoint()
    }

    fn take_failures(&self) -> Option<String> {
        let ctx = self.inner.context();
        let n = ctx.failed.swap(0, Ordering::SeqCst);
        if n == 0 {
            return None;
        }
        let first = ctx
            .first_error
            .lock()
            .ok()
            .and_then(|mut f| f.take())
            .unwrap_or_default();
        Some(format!("{n} record(s) not delivered, first error: {first}"))
    }
}
