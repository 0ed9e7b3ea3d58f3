//! The driver: runs a log source and starts it again after a transient failure.
//!
//! Algorithm. An *attempt* is one run of the source, started from an offset (Debezium's offset
//! JSON; `None` on the very first start without a stored offset). The attempt hands batches to
//! the driver over a bounded channel; the driver forwards each to the pipeline and remembers its
//! position. When the attempt fails with a retryable error (the database restarted, the
//! connection dropped, a stale replication session still holds the slot), the driver waits as
//! the [`RetryPolicy`] says and starts a new attempt **from the position after the last batch
//! it forwarded**: those batches are already on their way to the sink, so nothing is lost and
//! nothing handed over is produced again. A fatal error, or a policy that gives up, ends the
//! run with that error.
//!
//! Invariants:
//! * every batch an attempt handed over is forwarded, in order, before the attempt's result is
//!   looked at (the channel is drained first);
//! * the retry count resets when an attempt handed over anything, so a connection that drops
//!   once an hour is never given up on;
//! * [`SourceHealth`] says "reconnecting" between a failure and the next attempt's connection.

use std::future::Future;
use std::sync::Arc;

use serde_json::Value as Json;
use sluice_core::{Retryable, SourceError, SourceHealth, SourceMessage};
use tokio::sync::mpsc;
use tracing::warn;

use crate::retry::RetryPolicy;

/// Runs `attempt` until it ends cleanly, fails fatally, or `policy` gives up. `offset` is where
/// the first attempt starts; `attempt(offset, tx)` must start the source from `offset` and send
/// its batches to `tx`.
pub async fn drive<F, Fut>(
    connector: &str,
    policy: RetryPolicy,
    health: Arc<SourceHealth>,
    mut offset: Option<Json>,
    tx: mpsc::Sender<SourceMessage>,
    mut attempt: F,
) -> Result<(), SourceError>
where
    F: FnMut(Option<Json>, mpsc::Sender<SourceMessage>) -> Fut,
    Fut: Future<Output = Result<(), SourceError>>,
{
    let mut failures = 0u32;
    loop {
        let (inner_tx, mut inner_rx) = mpsc::channel(1);
        let run = attempt(offset.clone(), inner_tx);
        tokio::pin!(run);
        let mut handed_over = false;
        let mut ended = None;
        let result = loop {
            tokio::select! {
                msg = inner_rx.recv() => match msg {
                    Some(msg) => {
                        let SourceMessage::Batch { position, .. } = &msg;
                        let at = position.to_offset_json();
                        if tx.send(msg).await.is_err() {
                            return Ok(()); // the pipeline stopped
                        }
                        offset = Some(at);
                        handed_over = true;
                    }
                    // the attempt dropped its sender: it has ended or is about to
                    None => break match ended.take() {
                        Some(r) => r,
                        None => (&mut run).await,
                    },
                },
                r = &mut run, if ended.is_none() => ended = Some(r),
            }
        };
        let error = match result {
            Ok(()) => return Ok(()),
            Err(e) if !e.is_retryable() => return Err(e),
            Err(e) => e,
        };
        failures = if handed_over { 1 } else { failures + 1 };
        let Some(wait) = policy.delay(failures) else {
            health.set_connected(false);
            return Err(error.giving_up(failures));
        };
        health.reconnecting();
        warn!(
            connector, error = %error.chain(), attempt = failures, wait_ms = wait.as_millis() as u64,
            "source failed with a transient error; reconnecting from the last position handed over"
        );
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_core::test_util::at;
    use sluice_core::ErrorClass;
    use std::sync::Mutex;
    use std::time::Duration;

    fn batch(pos: u64) -> SourceMessage {
        SourceMessage::Batch {
            events: Vec::new(),
            position: at(pos),
        }
    }

    fn lost() -> SourceError {
        SourceError::new(ErrorClass::Retryable, "connection lost")
    }

    fn pos_of(offset: &Option<Json>) -> Option<u64> {
        offset.as_ref().and_then(|o| o["seq"].as_u64())
    }

    #[tokio::test(start_paused = true)]
    async fn a_transient_failure_restarts_from_the_last_batch_handed_over() {
        let starts = Arc::new(Mutex::new(Vec::new()));
        let (tx, mut rx) = mpsc::channel(16);
        let seen = Arc::clone(&starts);
        let result = drive(
            "c",
            RetryPolicy::default(),
            Arc::default(),
            None,
            tx,
            move |offset, tx| {
                let seen = Arc::clone(&seen);
                async move {
                    let n = {
                        let mut s = seen.lock().unwrap();
                        s.push(pos_of(&offset));
                        s.len()
                    };
                    match n {
                        1 => {
                            tx.send(batch(10)).await.unwrap();
                            tx.send(batch(20)).await.unwrap();
                            Err(lost())
                        }
                        2 => Err(lost()),
                        _ => {
                            tx.send(batch(30)).await.unwrap();
                            Ok(())
                        }
                    }
                }
            },
        )
        .await;
        assert!(result.is_ok());
        assert_eq!(*starts.lock().unwrap(), vec![None, Some(20), Some(20)]);
        let mut forwarded = Vec::new();
        while let Ok(SourceMessage::Batch { position, .. }) = rx.try_recv() {
            forwarded.push(pos_of(&Some(position.to_offset_json())).unwrap());
        }
        assert_eq!(forwarded, vec![10, 20, 30]);
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_limit_it_never_gives_up_and_waits_at_most_the_max_delay() {
        let (tx, _rx) = mpsc::channel(16);
        let attempts = Arc::new(Mutex::new(0u32));
        let count = Arc::clone(&attempts);
        let started = tokio::time::Instant::now();
        let health: Arc<SourceHealth> = Arc::default();
        let result = drive(
            "c",
            RetryPolicy::default(),
            Arc::clone(&health),
            None,
            tx,
            move |_, _| {
                let count = Arc::clone(&count);
                async move {
                    let mut n = count.lock().unwrap();
                    *n += 1;
                    if *n < 100 {
                        Err(lost())
                    } else {
                        Ok(())
                    }
                }
            },
        )
        .await;
        assert!(result.is_ok());
        assert_eq!(*attempts.lock().unwrap(), 100);
        assert_eq!(health.reconnects(), 99);
        // 300 ms doubling to the 10 s cap: well under 100 × 10 s
        assert!(started.elapsed() < Duration::from_secs(99 * 10 + 1));
        assert!(started.elapsed() > Duration::from_secs(90 * 10));
    }

    #[tokio::test(start_paused = true)]
    async fn fatal_errors_and_exhausted_retries_end_the_run() {
        let (tx, _rx) = mpsc::channel(16);
        let fatal = drive(
            "c",
            RetryPolicy::default(),
            Arc::default(),
            None,
            tx,
            |_, _| async { Err(SourceError::new(ErrorClass::Fatal, "bad configuration")) },
        )
        .await
        .unwrap_err();
        assert_eq!(fatal.to_string(), "bad configuration");

        let (tx, _rx) = mpsc::channel(16);
        let policy = RetryPolicy {
            max_retries: Some(2),
            ..RetryPolicy::default()
        };
        let e = drive("c", policy, Arc::default(), None, tx, |_, _| async {
            Err(lost())
        })
        .await
        .unwrap_err();
        assert!(
            !e.is_retryable(),
            "a source that gave up is not retried again"
        );
        assert!(e.to_string().contains("3 attempts"), "{e}");
    }
}
