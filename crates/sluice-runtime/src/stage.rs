//! Sink wrappers that make up a pipeline's delivery side:
//!
//! * [`TransformSink`]: a connector's transform chain in front of a sink. A record the chain
//!   drops is not delivered; one it fails on goes to the connector's [`ErrantReporter`] (set
//!   aside, or the task stops). Flushing flushes the sink, then the dead letter queue, so a
//!   batch counts as durable only when every one of its records is delivered or set aside.
//! * [`FanOut`]: one source feeding several sink connectors in-process (embedded mode), each
//!   taking the topics it subscribes to (`topics` list or `topics.regex`).

use std::sync::Arc;

use async_trait::async_trait;
use sluice_connect::transforms::Chain;
use sluice_core::{ChangeEvent, ErrantReporter, Failure, Sink, SinkError, Stage};

/// A transform chain in front of a sink.
pub struct TransformSink {
    chain: Chain,
    errors: Arc<dyn ErrantReporter>,
    inner: Box<dyn Sink>,
    out: Vec<ChangeEvent>,
}

impl TransformSink {
    pub fn new(chain: Chain, errors: Arc<dyn ErrantReporter>, inner: Box<dyn Sink>) -> Self {
        TransformSink {
            chain,
            errors,
            inner,
            out: Vec::new(),
        }
    }
}

#[async_trait]
impl Sink for TransformSink {
    async fn write(&mut self, events: &[ChangeEvent]) -> Result<(), SinkError> {
        if self.chain.is_empty() {
            return self.inner.write(events).await;
        }
        self.out.clear();
        for ev in events {
            match self.chain.apply(ev.clone()) {
                Ok(Some(e)) => self.out.push(e),
                Ok(None) => {}
                Err(e) => self.errors.report(
                    ev,
                    None,
                    Failure {
                        stage: Stage::Transformation,
                        class: e.class.clone(),
                        exception: e.error.java_class().to_string(),
                        message: e.error.to_string(),
                    },
                )?,
            }
        }
        // an empty batch is written too: asynchronous sinks count batches
        let out = std::mem::take(&mut self.out);
        let r = self.inner.write(&out).await;
        self.out = out;
        r
    }

    async fn flush(&mut self) -> Result<(), SinkError> {
        self.inner.flush().await?;
        self.errors.flush()
    }

    fn acks_async(&self) -> bool {
        self.inner.acks_async()
    }

    fn durable_batches(&mut self) -> Result<u64, SinkError> {
        self.errors.flush()?;
        self.inner.durable_batches()
    }
}

/// Which topics a sink connector takes.
#[derive(Debug, Clone)]
pub enum Topics {
    List(Vec<String>),
    Regex(regex::Regex),
}

impl Topics {
    /// From `topics` / `topics.regex` (exactly one of them, as Connect requires).
    pub fn from_properties(
        props: &std::collections::BTreeMap<String, String>,
    ) -> Result<Topics, String> {
        let list: Vec<String> = props
            .get("topics")
            .map(|t| {
                t.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        match (
            list.is_empty(),
            props
                .get("topics.regex")
                .map(|s| s.trim())
                .filter(|s| !s.is_empty()),
        ) {
            (false, None) => Ok(Topics::List(list)),
            (true, Some(re)) => regex::Regex::new(&format!("^(?:{re})$"))
                .map(Topics::Regex)
                .map_err(|e| format!("topics.regex={re:?} is not a valid regular expression: {e}")),
            (true, None) => Err("a sink connector needs topics or topics.regex".into()),
            (false, Some(_)) => Err("set topics or topics.regex, not both".into()),
        }
    }

    pub fn matches(&self, topic: &str) -> bool {
        match self {
            Topics::List(l) => l.iter().any(|t| t == topic),
            Topics::Regex(r) => r.is_match(topic),
        }
    }
}

/// Several sinks fed from one source; each gets the events of its topics.
pub struct FanOut {
    sinks: Vec<(Topics, Box<dyn Sink>)>,
    part: Vec<ChangeEvent>,
    unrouted: std::collections::HashSet<Arc<str>>,
}

impl FanOut {
    pub fn new(sinks: Vec<(Topics, Box<dyn Sink>)>) -> FanOut {
        FanOut {
            sinks,
            part: Vec::new(),
            unrouted: Default::default(),
        }
    }
}

#[async_trait]
impl Sink for FanOut {
    async fn write(&mut self, events: &[ChangeEvent]) -> Result<(), SinkError> {
        for ev in events {
            if !self.sinks.iter().any(|(t, _)| t.matches(&ev.topic))
                && self.unrouted.insert(Arc::clone(&ev.topic))
            {
                tracing::warn!(topic = %ev.topic, "no sink connector takes this topic (topics / topics.regex); its events are not delivered");
            }
        }
        for (topics, sink) in &mut self.sinks {
            if events.iter().all(|e| topics.matches(&e.topic)) {
                // the whole batch is this sink's (one sink, or sinks of every topic): no copy
                sink.write(events).await?;
                continue;
            }
            self.part.clear();
            self.part
                .extend(events.iter().filter(|e| topics.matches(&e.topic)).cloned());
            sink.write(&self.part).await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), SinkError> {
        for (_, sink) in &mut self.sinks {
            sink.flush().await?;
        }
        Ok(())
    }
}
