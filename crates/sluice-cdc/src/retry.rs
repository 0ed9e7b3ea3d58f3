//! Debezium's retry policy for a source whose database went away.
//!
//! `errors.max.retries` (default -1: without limit, 0: never) counts consecutive failed
//! attempts; an attempt that handed over anything resets the count. The wait before attempt
//! *n* is `errors.retry.delay.initial.ms` (300) doubled per attempt, capped at
//! `errors.retry.delay.max.ms` (10,000). Kafka Connect reads `errors.retry.delay.max.ms` too
//! (for converter and transform retries, default 60,000): both read the same property, each with
//! its own default, as on Kafka Connect with Debezium.

use std::collections::BTreeMap;
use std::time::Duration;

use sluice_core::props;

/// When and how often a failed source is started again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// `None`: without limit.
    pub max_retries: Option<u32>,
    pub initial: Duration,
    pub max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: None,
            initial: Duration::from_millis(300),
            max: Duration::from_millis(10_000),
        }
    }
}

/// The properties [`RetryPolicy::from_props`] reads.
pub const PROPERTIES: [&str; 3] = [
    "errors.max.retries",
    "errors.retry.delay.initial.ms",
    "errors.retry.delay.max.ms",
];

impl RetryPolicy {
    pub fn from_props(p: &BTreeMap<String, String>) -> Result<RetryPolicy, String> {
        let d = RetryPolicy::default();
        let max_retries: i64 = props::number(p, "errors.max.retries", -1)?;
        if max_retries < -1 {
            return Err(format!(
                "errors.max.retries={max_retries} must be -1 (without limit), 0 (never) or a positive count"
            ));
        }
        let ms = |key: &str, default: Duration| -> Result<Duration, String> {
            let v: u64 = props::number(p, key, default.as_millis() as u64)?;
            if v == 0 {
                return Err(format!("{key}=0 must be at least 1"));
            }
            Ok(Duration::from_millis(v))
        };
        let initial = ms("errors.retry.delay.initial.ms", d.initial)?;
        let max = ms("errors.retry.delay.max.ms", d.max)?.max(initial);
        Ok(RetryPolicy {
            max_retries: u32::try_from(max_retries).ok(),
            initial,
            max,
        })
    }

    /// The wait before retry `attempt` (1 = the first retry), or `None` when the policy gives up.
    pub fn delay(&self, attempt: u32) -> Option<Duration> {
        if self.max_retries.is_some_and(|m| attempt > m) {
            return None;
        }
        let factor = 1u32 << attempt.saturating_sub(1).min(20);
        Some(self.initial.saturating_mul(factor).min(self.max))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use sluice_core::props::from_pairs as props;

    #[test]
    fn defaults_are_debeziums_retry_without_limit() {
        let p = RetryPolicy::from_props(&props(&[])).unwrap();
        assert_eq!(p, RetryPolicy::default());
        assert_eq!(p.delay(1), Some(Duration::from_millis(300)));
        assert_eq!(p.delay(2), Some(Duration::from_millis(600)));
        assert_eq!(p.delay(6), Some(Duration::from_millis(9_600)));
        assert_eq!(p.delay(7), Some(Duration::from_millis(10_000)));
        assert_eq!(p.delay(10_000), Some(Duration::from_millis(10_000)));
    }

    #[test]
    fn a_retry_limit_gives_up_after_that_many_attempts() {
        let p = RetryPolicy::from_props(&props(&[
            ("errors.max.retries", "2"),
            ("errors.retry.delay.initial.ms", "100"),
            ("errors.retry.delay.max.ms", "150"),
        ]))
        .unwrap();
        assert_eq!(p.delay(1), Some(Duration::from_millis(100)));
        assert_eq!(p.delay(2), Some(Duration::from_millis(150)));
        assert_eq!(p.delay(3), None);
        let never = RetryPolicy::from_props(&props(&[("errors.max.retries", "0")])).unwrap();
        assert_eq!(never.delay(1), None);
    }

    #[test]
    fn mistakes_are_named() {
        let e = RetryPolicy::from_props(&props(&[("errors.max.retries", "-5")])).unwrap_err();
        assert!(e.contains("errors.max.retries=-5"), "{e}");
        let e = RetryPolicy::from_props(&props(&[("errors.retry.delay.initial.ms", "soon")]))
            .unwrap_err();
        assert!(e.contains("errors.retry.delay.initial.ms"), "{e}");
    }
}
