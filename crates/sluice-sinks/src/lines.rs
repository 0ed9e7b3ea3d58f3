//! Line sinks: `stdout`, `file`, `null`.
//!
//! Each writes one JSON line per record — `{"topic":…,"key":…,"value":…}` where key and value
//! are exactly what Kafka Connect's `JsonConverter` would put in the Kafka record (`null` for a
//! tombstone value) — so the output can be diffed against Debezium's or replayed into Kafka.
//! `flush` is the durability point: `file` fsyncs, `stdout` flushes the pipe, `null` only counts.

use std::io::Write;
use std::path::Path;

use async_trait::async_trait;
use sluice_connect::{JsonConverter, JsonConverterConfig};
use sluice_core::{ChangeEvent, Sink, SinkError};

/// Key and value converters of a line sink.
pub struct LineFormat {
    key: JsonConverter,
    value: JsonConverter,
}

impl LineFormat {
    pub fn new(key: JsonConverterConfig, value: JsonConverterConfig) -> Self {
        LineFormat {
            key: JsonConverter::new(key),
            value: JsonConverter::new(value),
        }
    }

    /// Appends one line for `ev`.
    pub fn line(&mut self, ev: &ChangeEvent, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"topic\":");
        sluice_connect::json::write_str(&ev.topic, out);
        out.extend_from_slice(b",\"key\":");
        self.key.write(ev.key.as_ref(), out);
        out.extend_from_slice(b",\"value\":");
        self.value.write(ev.value.as_ref(), out);
        out.extend_from_slice(b"}\n");
    }
}

/// Writes lines to standard output.
pub struct StdoutSink {
    format: LineFormat,
    buf: Vec<u8>,
}

impl StdoutSink {
    pub fn new(format: LineFormat) -> Self {
        StdoutSink {
            format,
            buf: Vec::with_capacity(1 << 20),
        }
    }
}

#[async_trait]
impl Sink for StdoutSink {
    async fn write(&mut self, events: &[ChangeEvent]) -> Result<(), SinkError> {
        for ev in events {
            self.format.line(ev, &mut self.buf);
        }
        if self.buf.len() > 1 << 20 {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), SinkError> {
        let mut out = std::io::stdout().lock();
        out.write_all(&self.buf)?;
        out.flush()?;
        self.buf.clear();
        Ok(())
    }
}

/// Appends lines to a file; `flush` makes them durable (fsync).
pub struct FileSink {
    format: LineFormat,
    file: std::fs::File,
    buf: Vec<u8>,
}

impl FileSink {
    pub fn open(path: &Path, format: LineFormat) -> Result<Self, SinkError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        drop_torn_tail(path)?;
        Ok(FileSink {
            format,
            file,
            buf: Vec::with_capacity(1 << 20),
        })
    }
}

#[async_trait]
impl Sink for FileSink {
    async fn write(&mut self, events: &[ChangeEvent]) -> Result<(), SinkError> {
        for ev in events {
            self.format.line(ev, &mut self.buf);
        }
        if self.buf.len() > 4 << 20 {
            self.file.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), SinkError> {
        self.file.write_all(&self.buf)?;
        self.buf.clear();
        self.file.sync_data()?;
        Ok(())
    }
}

/// Cuts a last line without its newline: a write torn by a crash (`kill -9`, power loss). Those
/// records were never acknowledged (the offset is committed only after write + fsync), so they
/// are delivered again after the restart; without the cut the file would hold half a record
/// glued to the first record written again.
fn drop_torn_tail(path: &Path) -> std::io::Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)?;
    let len = f.metadata()?.len();
    if len == 0 {
        return Ok(());
    }
    // read backwards in blocks until a newline (or the file's start) is found
    let mut end = len;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let start = end.saturating_sub(buf.len() as u64);
        let n = (end - start) as usize;
        f.seek(SeekFrom::Start(start))?;
        f.read_exact(&mut buf[..n])?;
        if let Some(i) = buf[..n].iter().rposition(|b| *b == b'\n') {
            let keep = start + i as u64 + 1;
            if keep < len {
                tracing::warn!(path = %path.display(), bytes = len - keep, "dropping a torn last line left by a crash; its records are delivered again");
                f.set_len(keep)?;
                f.sync_data()?;
            }
            return Ok(());
        }
        if start == 0 {
            tracing::warn!(path = %path.display(), bytes = len, "dropping a torn line left by a crash; its records are delivered again");
            f.set_len(0)?;
            return f.sync_data();
        }
        end = start;
    }
}

/// Serializes every record like the other sinks, then discards it (for benchmarks).
pub struct NullSink {
    format: LineFormat,
    buf: Vec<u8>,
    pub records: u64,
    pub bytes: u64,
}

impl NullSink {
    pub fn new(format: LineFormat) -> Self {
        NullSink {
            format,
            buf: Vec::with_capacity(1 << 16),
            records: 0,
            bytes: 0,
        }
    }
}

#[async_trait]
impl Sink for NullSink {
    async fn write(&mut self, events: &[ChangeEvent]) -> Result<(), SinkError> {
        for ev in events {
            self.buf.clear();
            self.format.line(ev, &mut self.buf);
            self.records += 1;
            self.bytes += self.buf.len() as u64;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_core::{Data, SchemaBuilder, Value};
    use std::sync::Arc;

    fn event(v: Option<i64>) -> ChangeEvent {
        let s = SchemaBuilder::structure()
            .name("k")
            .field("id", SchemaBuilder::int64().build())
            .build();
        ChangeEvent {
            topic: Arc::from("p.db.t"),
            key: Some(Data::new(
                Arc::clone(&s),
                Value::Struct(vec![Value::Int64(1)]),
            )),
            value: v.map(|n| Data::new(s, Value::Struct(vec![Value::Int64(n)]))),
            headers: vec![],
            position: sluice_core::test_util::at(1),
            timestamp: None,
        }
    }

    #[tokio::test]
    async fn a_torn_last_line_is_cut_when_the_file_is_opened_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl");
        std::fs::write(&path, "{\"a\":1}\n{\"a\":2}\n{\"topic\":\"p.db").unwrap();
        let plain = JsonConverterConfig {
            schemas_enable: false,
            ..Default::default()
        };
        let mut sink = FileSink::open(&path, LineFormat::new(plain, plain)).unwrap();
        sink.write(&[event(Some(5))]).await.unwrap();
        sink.flush().await.unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            "{\"a\":1}\n{\"a\":2}\n{\"topic\":\"p.db.t\",\"key\":{\"id\":1},\"value\":{\"id\":5}}\n"
        );
        // a file that is nothing but a torn line is emptied; a complete file is left alone
        std::fs::write(&path, "{\"to").unwrap();
        drop(FileSink::open(&path, LineFormat::new(plain, plain)).unwrap());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "");
        std::fs::write(&path, "{}\n").unwrap();
        drop(FileSink::open(&path, LineFormat::new(plain, plain)).unwrap());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{}\n");
    }

    #[tokio::test]
    async fn file_sink_writes_connect_json_lines_including_tombstones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl");
        let plain = JsonConverterConfig {
            schemas_enable: false,
            ..Default::default()
        };
        let mut sink = FileSink::open(&path, LineFormat::new(plain, plain)).unwrap();
        sink.write(&[event(Some(5)), event(None)]).await.unwrap();
        sink.flush().await.unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            "{\"topic\":\"p.db.t\",\"key\":{\"id\":1},\"value\":{\"id\":5}}\n{\"topic\":\"p.db.t\",\"key\":{\"id\":1},\"value\":null}\n"
        );
        for line in text.lines() {
            serde_json::from_str::<serde_json::Value>(line).unwrap();
        }
    }
}
