//! Errors of the MySQL source, each saying what the operator can do.

use sluice_core::{ErrorClass, Retryable};

#[derive(Debug, thiserror::Error)]
pub enum MySqlError {
    #[error("invalid connector configuration: {0}")]
    Config(String),
    #[error("cannot connect to MySQL/MariaDB at {addr}: {message}")]
    Connect { addr: String, message: String },
    #[error("access denied for user '{user}' at {addr}: check database.user / database.password ({message})")]
    AccessDenied {
        user: String,
        addr: String,
        message: String,
    },
    #[error("server is not ready for change data capture: {0}")]
    Preflight(String),
    #[error("binlog position {file}:{pos} is no longer on the server (purged). Raise expire_logs_days / binlog_expire_logs_seconds to keep binlogs longer; to recover, reset the connector's offsets (delete the offset entry) and start again with a fresh snapshot")]
    PositionPurged { file: String, pos: u64 },
    #[error("database error: {0}")]
    Query(String),
    #[error("replication stream error: {0}")]
    Stream(String),
    #[error("cannot decode binlog event at {file}:{pos}: {message}")]
    Decode {
        file: String,
        pos: u64,
        message: String,
    },
    #[error("unsupported column type for `{table}`.`{column}`: {message}")]
    UnsupportedType {
        table: String,
        column: String,
        message: String,
    },
    #[error("schema history: {0}")]
    History(String),
    #[error("the server at {addr} (server_id {now}) is not the one the offset was taken on (server_id {was}), and the offset has no GTID set: its binlog file/position would mean something else here. Move the offset to a position on this server (sluice offsets set --binlog FILE:POS) or reset it and snapshot again")]
    ServerChanged { addr: String, was: u32, now: u32 },
    #[error("the event consumer stopped")]
    ConsumerGone,
}

impl Retryable for MySqlError {
    fn class(&self) -> ErrorClass {
        match self {
            MySqlError::Connect { .. } | MySqlError::Stream(_) => ErrorClass::Retryable,
            _ => ErrorClass::Fatal,
        }
    }
}

impl MySqlError {
    pub(crate) fn query(e: impl std::fmt::Display) -> MySqlError {
        MySqlError::Query(e.to_string())
    }
}

impl From<MySqlError> for sluice_core::SourceError {
    fn from(e: MySqlError) -> Self {
        sluice_core::SourceError::of(&e)
    }
}
