//! Kafka Connect worker settings (`worker.properties` — Java properties — or a JSON object).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use crate::config_providers::ConfigProviders;

/// The worker settings sluice reads.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Every property as given (converters, producer.*, consumer.* … pass on to connectors).
    pub props: BTreeMap<String, String>,
    pub bootstrap: String,
    pub group_id: String,
    pub config_topic: String,
    pub offset_topic: String,
    pub status_topic: String,
    pub listen: SocketAddr,
    /// `host:port` other workers and clients know this worker by.
    pub worker_id: String,
    pub offset_flush_interval: Duration,
    /// Standalone: where source offsets live.
    pub offsets_file: Option<String>,
    /// `rest.basic.auth.credentials=user:password[,user2:password2]` (sluice): basic auth on
    /// every REST route.
    pub basic_auth: Vec<(String, String)>,
    /// `config.providers`: resolves `${provider:path:key}` in these settings (done when they
    /// are read) and in connector configs (when a connector starts).
    pub providers: ConfigProviders,
}

/// Parses Java `.properties` text: `key=value`, `key: value` or `key value`, `#`/`!`
/// comments, `\` line continuations, `\t \n \uXXXX` escapes.
pub fn parse_properties(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut logical = String::new();
    for line in text.lines() {
        let l = line.trim_start();
        if logical.is_empty() && (l.is_empty() || l.starts_with('#') || l.starts_with('!')) {
            continue;
        }
        let backslashes = l.chars().rev().take_while(|c| *c == '\\').count();
        if backslashes % 2 == 1 {
            logical.push_str(&l[..l.len() - 1]);
            continue;
        }
        logical.push_str(l);
        let entry = std::mem::take(&mut logical);
        let sep = entry
            .char_indices()
            .scan(false, |escaped, (i, c)| {
                let hit = !*escaped && matches!(c, '=' | ':' | ' ' | '\t');
                *escaped = !*escaped && c == '\\';
                Some((i, hit))
            })
            .find(|(_, hit)| *hit)
            .map(|(i, _)| i);
        let (k, v) = match sep {
            Some(i) => {
                let rest = entry[i..].trim_start_matches([' ', '\t']);
                let rest = rest
                    .strip_prefix(['=', ':'])
                    .unwrap_or(rest)
                    .trim_start_matches([' ', '\t']);
                (&entry[..i], rest)
            }
            None => (entry.as_str(), ""),
        };
        out.insert(unescape(k), unescape(v));
    }
    out
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                if let Some(ch) = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    out.push(ch);
                }
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

impl WorkerConfig {
    /// Reads a worker file: JSON if it starts with `{`, else Java properties.
    pub fn from_file(path: &Path, standalone: bool) -> Result<WorkerConfig, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read worker config {}: {e}", path.display()))?;
        let props = if text.trim_start().starts_with('{') {
            let j: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| format!("worker config {} is not valid JSON: {e}", path.display()))?;
            j.as_object()
                .ok_or("the worker config must be a JSON object")?
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str().map_or_else(|| v.to_string(), str::to_string),
                    )
                })
                .collect()
        } else {
            parse_properties(&text)
        };
        Self::from_properties(props, standalone)
    }

    pub fn from_properties(
        props: BTreeMap<String, String>,
        standalone: bool,
    ) -> Result<WorkerConfig, String> {
        let providers = ConfigProviders::from_props(&props).map_err(|e| e.to_string())?;
        let props = providers
            .resolve(&props)
            .map_err(|e| format!("worker config: {e}"))?;
        let get = |k: &str| {
            props
                .get(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let bootstrap =
            get("bootstrap.servers").ok_or("bootstrap.servers is required in the worker config")?;
        let group_id = match (get("group.id"), standalone) {
            (Some(g), _) => g,
            (None, true) => "connect-standalone".into(),
            (None, false) => return Err(
                "group.id is required in distributed mode (the workers of one cluster share it)"
                    .into(),
            ),
        };
        let listen: SocketAddr = match (get("listeners"), get("rest.port")) {
            (Some(l), _) => {
                let first = l.split(',').next().unwrap_or("").trim();
                let hostport = first.strip_prefix("http://").ok_or_else(|| {
                    format!("listeners={l:?}: only http:// listeners are supported")
                })?;
                let hostport = if hostport.starts_with(':') {
                    format!("0.0.0.0{hostport}")
                } else {
                    hostport.to_string()
                };
                resolve(&hostport)?
            }
            (None, Some(p)) => resolve(&format!(
                "{}:{p}",
                get("rest.host.name").unwrap_or_else(|| "0.0.0.0".into())
            ))?,
            (None, None) => "0.0.0.0:8083".parse().map_err(|e| format!("{e}"))?,
        };
        let advertised_host = get("rest.advertised.host.name").unwrap_or_else(|| {
            if listen.ip().is_unspecified() {
                "127.0.0.1".into()
            } else {
                listen.ip().to_string()
            }
        });
        let advertised_port =
            get("rest.advertised.port").unwrap_or_else(|| listen.port().to_string());
        let basic_auth = get("rest.basic.auth.credentials")
            .map(|c| {
                c.split(',')
                    .filter_map(|p| {
                        p.trim()
                            .split_once(':')
                            .map(|(u, w)| (u.to_string(), w.to_string()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let flush_ms: u64 = match get("offset.flush.interval.ms") {
            Some(v) => v
                .parse()
                .map_err(|_| format!("offset.flush.interval.ms={v:?} is not a number"))?,
            None => 1000,
        };
        Ok(WorkerConfig {
            bootstrap,
            group_id,
            config_topic: get("config.storage.topic").unwrap_or_else(|| "connect-configs".into()),
            offset_topic: get("offset.storage.topic").unwrap_or_else(|| "connect-offsets".into()),
            status_topic: get("status.storage.topic").unwrap_or_else(|| "connect-status".into()),
            listen,
            worker_id: format!("{advertised_host}:{advertised_port}"),
            offset_flush_interval: Duration::from_millis(flush_ms),
            offsets_file: get("offset.storage.file.filename"),
            basic_auth,
            props,
            providers,
        })
    }

    /// A connector's effective properties: the worker's Kafka, converter and storage settings
    /// under the connector's own (which win).
    pub fn connector_props(
        &self,
        connector: &BTreeMap<String, String>,
        standalone: bool,
    ) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for (k, v) in &self.props {
            let pass = k == "bootstrap.servers"
                || k == "group.id"
                || k.starts_with("key.converter")
                || k.starts_with("value.converter")
                || k.starts_with("producer.")
                || k.starts_with("consumer.")
                || k.starts_with("offset.storage.")
                || k == "offset.flush.interval.ms"
                || k.starts_with("exactly.once.source.support");
            if pass {
                out.insert(k.clone(), v.clone());
            }
        }
        if standalone {
            out.insert(
                "offset.storage".into(),
                "org.apache.kafka.connect.storage.FileOffsetBackingStore".into(),
            );
        } else {
            out.insert(
                "offset.storage".into(),
                "org.apache.kafka.connect.storage.KafkaOffsetBackingStore".into(),
            );
        }
        for (k, v) in connector {
            out.insert(k.clone(), v.clone());
        }
        out
    }
}

fn resolve(hostport: &str) -> Result<SocketAddr, String> {
    use std::net::ToSocketAddrs;
    hostport
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {hostport}: {e}"))?
        .next()
        .ok_or_else(|| format!("{hostport} resolves to nothing"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_properties_are_read_like_java_reads_them() {
        let p = parse_properties(
            "# comment\n! another\nbootstrap.servers=localhost:9092\n key.converter : org.apache.kafka.connect.json.JsonConverter\nlisteners http://:8083\nlong=a\\\n  b\nescaped\\=key=v\\u00e9\n",
        );
        assert_eq!(p["bootstrap.servers"], "localhost:9092");
        assert_eq!(
            p["key.converter"],
            "org.apache.kafka.connect.json.JsonConverter"
        );
        assert_eq!(p["listeners"], "http://:8083");
        assert_eq!(p["long"], "ab");
        assert_eq!(p["escaped=key"], "vé");
    }

    #[test]
    fn worker_defaults_are_connects() {
        let props = parse_properties(
            "bootstrap.servers=b:9092\ngroup.id=g\nlisteners=http://127.0.0.1:18083\n",
        );
        let w = WorkerConfig::from_properties(props, false).unwrap();
        assert_eq!(
            (
                w.config_topic.as_str(),
                w.offset_topic.as_str(),
                w.status_topic.as_str()
            ),
            ("connect-configs", "connect-offsets", "connect-status")
        );
        assert_eq!(w.worker_id, "127.0.0.1:18083");
        let e = WorkerConfig::from_properties(parse_properties("bootstrap.servers=b:9092"), false)
            .unwrap_err();
        assert!(e.contains("group.id"), "{e}");
    }
}
