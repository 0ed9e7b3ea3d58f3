//! Apache Kafka started by scripts/kafka.sh (KRaft, one node or a three-node cluster), and a
//! plain consumer to read back what sluice produced.
#![allow(dead_code)]

use std::collections::HashSet;
use std::process::Command;
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use serde_json::Value;

use super::{free_port, repo_root};

/// A private Apache Kafka cluster on loopback, stopped when dropped (or, if the test process
/// dies first, by the watcher scripts/kafka.sh leaves behind).
pub struct Broker {
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub nodes: usize,
}

fn script(args: &[&str], dir: &std::path::Path) -> std::process::Output {
    Command::new(repo_root().join("scripts/kafka.sh"))
        .arg(args[0])
        .arg(dir)
        .args(&args[1..])
        .output()
        .unwrap()
}

impl Broker {
    /// One node (combined broker and controller), replication factor 1.
    pub fn start() -> Broker {
        Self::start_nodes(1)
    }

    /// `nodes` brokers (3: replication factor 3, min.insync.replicas 2), ports `port..port+nodes`.
    pub fn start_nodes(nodes: usize) -> Broker {
        let dir = tempfile::Builder::new()
            .prefix("sluice-kafka-")
            .tempdir()
            .unwrap();
        let port = loop {
            let p = free_port();
            if (1..nodes as u16).all(|i| std::net::TcpListener::bind(("127.0.0.1", p + i)).is_ok())
            {
                break p;
            }
        };
        let pid = std::process::id().to_string();
        let n = nodes.to_string();
        let out = script(
            &["start", &port.to_string(), "--nodes", &n, "--owner", &pid],
            dir.path(),
        );
        assert!(
            out.status.success(),
            "Apache Kafka did not start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Broker { dir, port, nodes }
    }

    pub fn bootstrap(&self) -> String {
        (0..self.nodes)
            .map(|i| format!("127.0.0.1:{}", self.port + i as u16))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Stops node `i` (1-based) of a cluster; the others go on.
    pub fn stop_node(&self, i: usize) {
        let out = script(&["stop-node", &i.to_string()], self.dir.path());
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Starts node `i` again.
    pub fn start_node(&self, i: usize) {
        let out = script(&["start-node", &i.to_string()], self.dir.path());
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn delete_topic(&self, topic: &str) {
        let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
            .set("bootstrap.servers", self.bootstrap())
            .create()
            .unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let r = rt
            .block_on(admin.delete_topics(&[topic], &AdminOptions::new()))
            .unwrap();
        assert!(r.iter().all(|t| t.is_ok()), "delete {topic}: {r:?}");
    }

    /// Every record of `topics`, per partition in offset order.
    pub fn consume(&self, topics: &[&str], read_committed: bool) -> Vec<Record> {
        consume(&self.bootstrap(), topics, read_committed)
    }

    /// Topic names on the broker.
    pub fn topics(&self) -> Vec<String> {
        let c: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", self.bootstrap())
            .create()
            .unwrap();
        let md = c.fetch_metadata(None, Duration::from_secs(10)).unwrap();
        md.topics().iter().map(|t| t.name().to_string()).collect()
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = script(&["stop"], self.dir.path());
    }
}

/// One consumed record; key and value parsed as JSON (`Null` when absent).
#[derive(Debug, Clone)]
pub struct Record {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub key_bytes: Vec<u8>,
    pub key: Value,
    pub value: Value,
    pub value_bytes: Option<Vec<u8>>,
    pub headers: Vec<(String, String)>,
}

pub fn consume(bootstrap: &str, topics: &[&str], read_committed: bool) -> Vec<Record> {
    topics
        .iter()
        .flat_map(|t| consume_topic(bootstrap, t, read_committed))
        .collect()
}

fn consume_topic(bootstrap: &str, topic: &str, read_committed: bool) -> Vec<Record> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "sluice-test-reader")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .set(
            "isolation.level",
            if read_committed {
                "read_committed"
            } else {
                "read_uncommitted"
            },
        )
        .create()
        .unwrap();
    let md = c
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    let mut wanted = HashSet::new();
    for t in md.topics().iter().filter(|t| t.error().is_none()) {
        for p in t.partitions() {
            tpl.add_partition_offset(topic, p.id(), Offset::Beginning)
                .unwrap();
            wanted.insert(p.id());
        }
    }
    if wanted.is_empty() {
        return Vec::new();
    }
    c.assign(&tpl).unwrap();
    let mut done = HashSet::new();
    let mut out = Vec::new();
    let start = std::time::Instant::now();
    while done.len() < wanted.len() {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "consuming {topic} did not reach the end"
        );
        match c.poll(Duration::from_millis(200)) {
            None => {}
            Some(Ok(m)) => {
                done.remove(&m.partition());
                let parse = |b: Option<&[u8]>| {
                    b.map_or(Value::Null, |b| {
                        serde_json::from_slice(b).unwrap_or_else(|_| {
                            Value::String(String::from_utf8_lossy(b).into_owned())
                        })
                    })
                };
                use rdkafka::message::Headers;
                let headers = m
                    .headers()
                    .map(|h| {
                        h.iter()
                            .map(|h| {
                                (
                                    h.key.to_string(),
                                    String::from_utf8_lossy(h.value.unwrap_or_default())
                                        .into_owned(),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                out.push(Record {
                    headers,
                    topic: m.topic().to_string(),
                    partition: m.partition(),
                    offset: m.offset(),
                    key_bytes: m.key().unwrap_or_default().to_vec(),
                    key: parse(m.key()),
                    value: parse(m.payload()),
                    value_bytes: m.payload().map(<[u8]>::to_vec),
                });
            }
            Some(Err(KafkaError::PartitionEOF(p))) => {
                done.insert(p);
            }
            Some(Err(e)) => panic!("consume {topic}: {e}"),
        }
    }
    out
}

/// The Java client's murmur2 (Utils.murmur2), which its default partitioner applies to keys.
pub fn murmur2(data: &[u8]) -> i32 {
    let seed: u32 = 0x9747_b28c;
    let m: u32 = 0x5bd1_e995;
    let r = 24;
    let len = data.len() as u32;
    let mut h: u32 = seed ^ len;
    let chunks = data.chunks_exact(4);
    let tail = chunks.remainder();
    for c in chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(m);
        k ^= k >> r;
        k = k.wrapping_mul(m);
        h = h.wrapping_mul(m);
        h ^= k;
    }
    match tail.len() {
        3 => {
            h ^= (tail[2] as u32) << 16;
            h ^= (tail[1] as u32) << 8;
            h ^= tail[0] as u32;
            h = h.wrapping_mul(m);
        }
        2 => {
            h ^= (tail[1] as u32) << 8;
            h ^= tail[0] as u32;
            h = h.wrapping_mul(m);
        }
        1 => {
            h ^= tail[0] as u32;
            h = h.wrapping_mul(m);
        }
        _ => {}
    }
    h ^= h >> 13;
    h = h.wrapping_mul(m);
    h ^= h >> 15;
    h as i32
}

/// The partition the Java producer picks for `key` among `n`: `toPositive(murmur2) % n`.
pub fn java_partition(key: &[u8], n: i32) -> i32 {
    (murmur2(key) & 0x7fff_ffff) % n
}
