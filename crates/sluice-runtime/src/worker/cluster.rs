//! Where a worker's changes are recorded.
//!
//! * [`Standalone`]: in memory — every change is applied to the worker at once.
//! * [`Distributed`]: in Kafka Connect's topics, read back by every worker of the group —
//!   `config.storage.topic` (`connector-<name>` → `{"properties": {…}}`, a null value when
//!   deleted; `target-state-<name>` → `{"state": "STARTED|PAUSED|STOPPED"}`;
//!   `restart-connector-<name>` → `{"include-tasks": …, "only-failed": …}`; `task-<name>-0`
//!   and `commit-<name>` as Connect writes them) and `status.storage.topic`
//!   (`status-connector-<name>` / `status-task-<name>-0` → `{"state", "trace", "worker_id",
//!   "generation"}`).
//!
//! Which worker runs which connector. Every worker joins Kafka consumer group `group.id` on a
//! small slots topic (`<config.storage.topic>-sluice-slots`) with the cooperative-sticky
//! assignor and its worker id as `client.id`. The group is only membership and leadership: the
//! worker holding slot 0 is the leader (sticky, so it stays leader while others join and
//! leave). Every second, and after every rebalance, the leader lists the group's members and
//! plans the assignment ([`super::assign`]: sticky, balanced by load, revoke before assign,
//! `scheduled.rebalance.max.delay.ms` for lost workers); when it changes, it writes it to the
//! config topic (`sluice-assignment` → `{"leader", "assignments": {connector: worker}}`), which
//! every worker follows. A worker that dies leaves the group after `session.timeout.ms`; its
//! connectors restart elsewhere from their committed offsets.

use std::sync::{Arc, Weak};

use async_trait::async_trait;

use super::{Change, ConfigLog, Worker};

/// Standalone mode: changes apply directly.
pub struct Standalone {
    pub worker: Weak<Worker>,
}

#[async_trait]
impl ConfigLog for Standalone {
    async fn record(&self, change: Change) -> Result<(), String> {
        match self.worker.upgrade() {
            Some(w) => {
                w.apply(change);
                Ok(())
            }
            None => Err("the worker stopped".into()),
        }
    }
}

/// Installs the standalone log on `worker`.
pub fn standalone(worker: &Arc<Worker>) {
    worker.set_log(Arc::new(Standalone {
        worker: Arc::downgrade(worker),
    }));
}

/// Partitions of the slots topic (only slot 0 means something: its holder leads).
const SLOTS: i32 = 12;

/// The config topic key of the leader's assignment.
const ASSIGNMENT_KEY: &str = "sluice-assignment";

/// Distributed mode: Connect's config and status topics, and the slots group.
pub struct Distributed {
    producer: Arc<sluice_kafka::KafkaProducer>,
    config_topic: String,
    status_topic: String,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    slots: Arc<rdkafka::consumer::StreamConsumer<SlotsContext>>,
}

fn key_value(change: &Change) -> (String, bool, Option<serde_json::Value>) {
    use serde_json::json;
    match change {
        Change::Config { name, props } => (
            format!("connector-{name}"),
            false,
            props.as_ref().map(|p| json!({"properties": p})),
        ),
        Change::Target { name, state } => (
            format!("target-state-{name}"),
            false,
            Some(
                json!({"state": if *state == super::TargetState::Stopped { "PAUSED" } else { state.name() }, "state.v2": state.name()}),
            ),
        ),
        Change::Restart { name, only_failed } => (
            format!("restart-connector-{name}"),
            false,
            Some(json!({"include-tasks": true, "only-failed": only_failed})),
        ),
        Change::Status { name, status } => (
            format!("status-connector-{name}"),
            true,
            status.as_ref().map(super::Status::to_json),
        ),
        Change::Assignment { owners } => (
            ASSIGNMENT_KEY.to_string(),
            false,
            Some(json!({"assignments": owners})),
        ),
    }
}

/// A record of the config or status topic as a change (`None`: a record sluice does not use).
fn parse(key: &str, value: Option<&[u8]>) -> Option<Change> {
    let v: Option<serde_json::Value> = value.and_then(|b| serde_json::from_slice(b).ok());
    if let Some(name) = key.strip_prefix("connector-") {
        let props = match v {
            None => None,
            Some(v) => Some(
                v["properties"]
                    .as_object()?
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            v.as_str().map_or_else(|| v.to_string(), str::to_string),
                        )
                    })
                    .collect(),
            ),
        };
        return Some(Change::Config {
            name: name.to_string(),
            props,
        });
    }
    if let Some(name) = key.strip_prefix("target-state-") {
        let v = v?;
        let s = v["state.v2"].as_str().or(v["state"].as_str())?;
        return Some(Change::Target {
            name: name.to_string(),
            state: super::TargetState::parse(s)?,
        });
    }
    if let Some(name) = key.strip_prefix("restart-connector-") {
        let only_failed = v
            .as_ref()
            .and_then(|v| v["only-failed"].as_bool())
            .unwrap_or(false);
        return Some(Change::Restart {
            name: name.to_string(),
            only_failed,
        });
    }
    if key == ASSIGNMENT_KEY {
        let owners = v?["assignments"]
            .as_object()?
            .iter()
            .filter_map(|(c, w)| Some((c.clone(), w.as_str()?.to_string())))
            .collect();
        return Some(Change::Assignment { owners });
    }
    if let Some(name) = key.strip_prefix("status-connector-") {
        return Some(Change::Status {
            name: name.to_string(),
            status: v.as_ref().and_then(super::Status::from_json),
        });
    }
    None
}

#[async_trait]
impl ConfigLog for Distributed {
    async fn record(&self, change: Change) -> Result<(), String> {
        let (key, status, value) = key_value(&change);
        let topic = if status {
            &self.status_topic
        } else {
            &self.config_topic
        };
        let bytes = value.as_ref().map(|v| v.to_string().into_bytes());
        self.producer
            .send(topic, Some(key.as_bytes()), bytes.as_deref(), &[])
            .map_err(|e| e.to_string())?;
        if let (
            Change::Config {
                name,
                props: Some(p),
            },
            false,
        ) = (&change, status)
        {
            // Connect's task config and commit records, for tools that read them
            let task = serde_json::json!({"properties": p}).to_string();
            let _ = self.producer.send(
                topic,
                Some(format!("task-{name}-0").as_bytes()),
                Some(task.as_bytes()),
                &[],
            );
            let _ = self.producer.send(
                topic,
                Some(format!("commit-{name}").as_bytes()),
                Some(br#"{"tasks":1}"#),
                &[],
            );
        }
        let producer = Arc::clone(&self.producer);
        tokio::task::spawn_blocking(move || producer.checkpoint())
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())
    }
}

/// Tracks the slots this worker holds: holding slot 0 makes it the leader.
pub struct SlotsContext {
    worker_id: String,
    held: std::sync::Mutex<std::collections::BTreeSet<i32>>,
    /// Set on every rebalance, so the leader plans at once.
    rebalanced: tokio::sync::Notify,
}

impl SlotsContext {
    fn publish(&self) {
        let held = self.held.lock().map(|h| h.clone()).unwrap_or_default();
        tracing::info!(worker = %self.worker_id, slots = ?held, leader = held.contains(&0), "group slots held");
        self.rebalanced.notify_one();
    }

    fn is_leader(&self) -> bool {
        self.held.lock().is_ok_and(|h| h.contains(&0))
    }
}

impl rdkafka::ClientContext for SlotsContext {}

impl rdkafka::consumer::ConsumerContext for SlotsContext {
    fn pre_rebalance(
        &self,
        _: &rdkafka::consumer::BaseConsumer<Self>,
        r: &rdkafka::consumer::Rebalance<'_>,
    ) {
        if let rdkafka::consumer::Rebalance::Revoke(tpl) = r {
            if let Ok(mut h) = self.held.lock() {
                for e in tpl.elements() {
                    h.remove(&e.partition());
                }
            }
            self.publish();
        }
    }

    fn post_rebalance(
        &self,
        _: &rdkafka::consumer::BaseConsumer<Self>,
        r: &rdkafka::consumer::Rebalance<'_>,
    ) {
        if let rdkafka::consumer::Rebalance::Assign(tpl) = r {
            if let Ok(mut h) = self.held.lock() {
                for e in tpl.elements() {
                    h.insert(e.partition());
                }
            }
            self.publish();
        }
    }
}

impl Distributed {
    /// Stops taking part: leaves the slots group (its connectors move to the other workers).
    pub async fn leave(self) {
        use rdkafka::consumer::Consumer;
        self.slots.unsubscribe();
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Joins the Connect cluster of `cfg.group_id`: creates the topics if needed, reads the config
/// and status topics into the worker (and keeps following them), installs the Kafka log, and
/// joins the slots group.
pub async fn distributed(
    worker: &Arc<Worker>,
    cfg: &super::WorkerConfig,
) -> Result<Distributed, String> {
    use rdkafka::consumer::Consumer;
    use sluice_kafka::{ensure_topic, KafkaConfig, KafkaProducer, TopicSpec};
    let kafka = KafkaConfig::from_properties("worker", &cfg.props, Some(&cfg.bootstrap))
        .map_err(|e| e.to_string())?;
    let compact = || -> std::collections::BTreeMap<String, String> {
        [("cleanup.policy".to_string(), "compact".to_string())].into()
    };
    let rf = |k: &str| cfg.props.get(k).and_then(|v| v.parse().ok()).unwrap_or(-1);
    for (name, partitions, rf) in [
        (
            &cfg.config_topic,
            1,
            rf("config.storage.replication.factor"),
        ),
        (
            &cfg.status_topic,
            5,
            rf("status.storage.replication.factor"),
        ),
        (
            &cfg.offset_topic,
            25,
            rf("offset.storage.replication.factor"),
        ),
    ] {
        ensure_topic(
            &kafka,
            &TopicSpec {
                name: name.clone(),
                partitions,
                replication_factor: rf,
                configs: compact(),
            },
        )
        .await
        .map_err(|e| e.to_string())?;
    }
    let slots_topic = format!("{}-sluice-slots", cfg.config_topic);
    ensure_topic(
        &kafka,
        &TopicSpec {
            name: slots_topic.clone(),
            partitions: SLOTS,
            replication_factor: rf("config.storage.replication.factor"),
            configs: compact(),
        },
    )
    .await
    .map_err(|e| e.to_string())?;
    // read what the cluster knows so far, then keep following
    let mut loaded = 0;
    for topic in [&cfg.config_topic, &cfg.status_topic] {
        let records = tokio::task::block_in_place(|| sluice_kafka::read_topic(&kafka, topic))
            .map_err(|e| e.to_string())?;
        for r in records {
            let Some(key) = r.key.as_deref().and_then(|k| std::str::from_utf8(k).ok()) else {
                continue;
            };
            if let Some(change) = parse(key, r.payload.as_deref()) {
                worker.apply(change);
                loaded += 1;
            }
        }
    }
    tracing::info!(records = loaded, "Connect config and status topics read");
    let mut tasks = Vec::new();
    for topic in [cfg.config_topic.clone(), cfg.status_topic.clone()] {
        let mut c = rdkafka::ClientConfig::new();
        c.set("bootstrap.servers", &cfg.bootstrap)
            .set(
                "group.id",
                format!("{}-{}-tail", cfg.group_id, cfg.worker_id),
            )
            .set("enable.auto.commit", "false");
        let consumer: rdkafka::consumer::StreamConsumer = c.create().map_err(|e| e.to_string())?;
        let md = consumer
            .fetch_metadata(Some(&topic), std::time::Duration::from_secs(10))
            .map_err(|e| e.to_string())?;
        let mut tpl = rdkafka::TopicPartitionList::new();
        for t in md.topics() {
            for p in t.partitions() {
                let (_, high) = consumer
                    .fetch_watermarks(&topic, p.id(), std::time::Duration::from_secs(10))
                    .map_err(|e| e.to_string())?;
                tpl.add_partition_offset(&topic, p.id(), rdkafka::Offset::Offset(high))
                    .map_err(|e| e.to_string())?;
            }
        }
        consumer.assign(&tpl).map_err(|e| e.to_string())?;
        let w = Arc::downgrade(worker);
        tasks.push(tokio::spawn(async move {
            use rdkafka::Message;
            loop {
                match consumer.recv().await {
                    Ok(m) => {
                        let Some(w) = w.upgrade() else { return };
                        let Some(key) = m.key().and_then(|k| std::str::from_utf8(k).ok()) else {
                            continue;
                        };
                        if let Some(change) = parse(key, m.payload()) {
                            w.apply(change);
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "reading the Connect state topics"),
                }
            }
        }));
    }
    let producer = KafkaProducer::plain(&kafka).map_err(|e| e.to_string())?;
    let log = Arc::new(Distributed {
        producer,
        config_topic: cfg.config_topic.clone(),
        status_topic: cfg.status_topic.clone(),
        tasks: Vec::new(),
        slots: Arc::new({
            let mut c = rdkafka::ClientConfig::new();
            c.set("bootstrap.servers", &cfg.bootstrap)
                .set("group.id", &cfg.group_id)
                .set("enable.auto.commit", "false")
                .set("client.id", &cfg.worker_id)
                .set("partition.assignment.strategy", "cooperative-sticky")
                .set("session.timeout.ms", "10000")
                .set("heartbeat.interval.ms", "3000");
            c.create_with_context(SlotsContext {
                worker_id: cfg.worker_id.clone(),
                held: Default::default(),
                rebalanced: Default::default(),
            })
            .map_err(|e| e.to_string())?
        }),
    });
    worker.set_log(Arc::clone(&log) as Arc<dyn ConfigLog>);
    log.slots
        .subscribe(&[&slots_topic])
        .map_err(|e| e.to_string())?;
    let slots = Arc::clone(&log.slots);
    tasks.push(tokio::spawn(async move {
        // membership lives on polling: the slots topic has no records, recv only keeps the
        // member alive and runs the rebalance callbacks
        loop {
            if let Err(e) = slots.recv().await {
                tracing::warn!(error = %e, "Connect group membership");
            }
        }
    }));
    let lost_delay = cfg
        .props
        .get("scheduled.rebalance.max.delay.ms")
        .and_then(|v| v.parse().ok())
        .map_or(LOST_WORKER_DELAY, std::time::Duration::from_millis);
    tasks.push(tokio::spawn(lead(
        Arc::clone(&log.slots),
        Arc::downgrade(worker),
        cfg.group_id.clone(),
        lost_delay,
    )));
    Ok(Distributed {
        producer: Arc::clone(&log.producer),
        config_topic: log.config_topic.clone(),
        status_topic: log.status_topic.clone(),
        tasks,
        slots: Arc::clone(&log.slots),
    })
}

/// Connect's default `scheduled.rebalance.max.delay.ms`.
const LOST_WORKER_DELAY: std::time::Duration = std::time::Duration::from_secs(300);

/// The leader's loop: while this worker holds slot 0, plan the assignment after every
/// rebalance and every second, and publish it when it changed.
async fn lead(
    slots: Arc<rdkafka::consumer::StreamConsumer<SlotsContext>>,
    worker: Weak<Worker>,
    group: String,
    lost_delay: std::time::Duration,
) {
    use rdkafka::consumer::Consumer;
    let mut plan = super::assign::Plan::new(lost_delay, std::time::Duration::from_secs(60));
    // what this leader wrote last: not written again while it travels back through the topic
    let mut published = None;
    loop {
        tokio::select! {
            _ = slots.context().rebalanced.notified() => {}
            _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
        }
        if !slots.context().is_leader() {
            continue;
        }
        let Some(w) = worker.upgrade() else { return };
        let s = Arc::clone(&slots);
        let g = group.clone();
        let members = tokio::task::spawn_blocking(move || {
            let list = s.fetch_group_list(Some(&g), std::time::Duration::from_secs(5))?;
            Ok::<_, rdkafka::error::KafkaError>(list.groups().first().and_then(|g| {
                // plan on a settled group only: mid-rebalance, the member list is in flux
                (g.state() == "Stable").then(|| {
                    g.members()
                        .iter()
                        .map(|m| m.client_id().to_string())
                        .collect::<std::collections::BTreeSet<_>>()
                })
            }))
        })
        .await;
        let members = match members {
            Ok(Ok(Some(m))) if !m.is_empty() => m,
            Ok(Ok(_)) => continue,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "listing the Connect group's members");
                continue;
            }
            Err(_) => continue,
        };
        let owners = w.assignment();
        let connectors = w.connector_names().into_iter().collect();
        let running_on = w.running_on();
        let next = plan.next(
            &super::assign::View {
                owners: &owners,
                members: &members,
                connectors: &connectors,
                running_on: &running_on,
            },
            std::time::Instant::now(),
        );
        if next != owners && published.as_ref() != Some(&next) {
            published = Some(next.clone());
            tracing::info!(worker = %w.id, members = ?members, assignment = ?next, "new connector assignment");
            if let Err(e) = w.record(Change::Assignment { owners: next }).await {
                published = None;
                tracing::warn!(error = %e, "cannot publish the connector assignment");
            }
        }
    }
}
