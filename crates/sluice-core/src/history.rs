//! Schema history storage: an append-only list of JSON records a source replays at start.
//!
//! The store does not interpret records (the MySQL source writes Debezium's history record
//! format). `append` returns only when the record is durable, and a source appends a DDL's
//! record before any event decoded with the new definition can be acknowledged, so the history
//! is never behind the offsets.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde_json::Value as Json;

use crate::error::{ErrorClass, Retryable};

/// Why the history could not be read or extended.
#[derive(Debug, thiserror::Error)]
#[error("schema history {location}: {message}")]
pub struct HistoryStoreError {
    pub location: String,
    pub message: String,
    pub retryable: bool,
}

impl Retryable for HistoryStoreError {
    fn class(&self) -> ErrorClass {
        if self.retryable {
            ErrorClass::Retryable
        } else {
            ErrorClass::Fatal
        }
    }
}

/// Where history records live (a JSON-lines file, a Kafka topic).
pub trait SchemaHistoryStore: Send {
    /// Where it is, for logs and error messages.
    fn location(&self) -> String;
    /// Every record, oldest first; storage that does not exist yet reads as empty.
    fn load(&mut self) -> Result<Vec<Json>, HistoryStoreError>;
    /// Durably appends one record.
    fn append(&mut self, record: &Json) -> Result<(), HistoryStoreError>;
}

/// History in a JSON-lines file (the same layout as Debezium's `FileSchemaHistory`), appended
/// and fsynced record by record.
#[derive(Debug)]
pub struct FileHistoryStore {
    path: PathBuf,
}

impl FileHistoryStore {
    pub fn new(path: &Path) -> FileHistoryStore {
        FileHistoryStore {
            path: path.to_path_buf(),
        }
    }

    fn error(&self, message: impl std::fmt::Display, retryable: bool) -> HistoryStoreError {
        HistoryStoreError {
            location: self.path.display().to_string(),
            message: message.to_string(),
            retryable,
        }
    }
}

impl SchemaHistoryStore for FileHistoryStore {
    fn location(&self) -> String {
        self.path.display().to_string()
    }

    fn load(&mut self) -> Result<Vec<Json>, HistoryStoreError> {
        if !self.path.exists() {
            return Ok(Vec::new());
        }
        let f = File::open(&self.path).map_err(|e| self.error(e, true))?;
        let lines: Vec<String> = BufReader::new(f)
            .lines()
            .collect::<Result<_, _>>()
            .map_err(|e| self.error(e, true))?;
        let mut records = Vec::new();
        for (n, line) in lines.iter().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str(line) {
                Ok(r) => records.push(r),
                // a torn last line from a crash mid-append: the DDL it described will be read
                // from the binlog again, because the offset never passed it
                Err(_) if n + 1 == lines.len() => break,
                Err(e) => return Err(self.error(
                    format!("line {}: {e}; the schema history is corrupt — restore it, or delete it and restart with snapshot.mode=recovery to rebuild it from the live database", n + 1),
                    false,
                )),
            }
        }
        Ok(records)
    }

    fn append(&mut self, record: &Json) -> Result<(), HistoryStoreError> {
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| self.error(e, true))?;
        }
        let mut line = record.to_string().into_bytes();
        line.push(b'\n');
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| self.error(e, true))?;
        f.write_all(&line).map_err(|e| self.error(e, true))?;
        f.sync_data().map_err(|e| self.error(e, true))?;
        Ok(())
    }
}
