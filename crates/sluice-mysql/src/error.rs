//! Errors of the MySQL source, each saying what the operator can do.

use sluice_core::{ErrorClass, Retryable};

#[derive(Debug, thiserror::Error)]
pub enum MySqlError {
    #[error("invalid connector configuration: {0}")]
    Config(String),
    #[error("cannot connect to MySQL/MariaDB at {addr}: {message}")]
    Connect { addr: String, message: String },
    #[error("TLS connection to MySQL/MariaDB at {addr} failed: {message}")]
    Tls { addr: String, message: String },
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
    #[error("the connection to the server was lost: {0}")]
    Lost(#[source] mysql_async::Error),
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
            MySqlError::Connect { .. } | MySqlError::Stream(_) | MySqlError::Lost(_) => {
                ErrorClass::Retryable
            }
            _ => ErrorClass::Fatal,
        }
    }
}

impl MySqlError {
    /// A failed statement: retryable when the connection or the server went away (the server
    /// restarts, fails over, or killed the session), definite when the statement itself failed.
    pub(crate) fn query(e: mysql_async::Error) -> MySqlError {
        if transient(&e) {
            MySqlError::Lost(e)
        } else {
            MySqlError::Query(e.to_string())
        }
    }
}

/// Server error codes that say the session or the server went away: too many connections,
/// shutdown in progress, connection killed, disconnected for inactivity.
const TRANSIENT_CODES: [u16; 4] = [1040, 1053, 1927, 4031];

fn transient(e: &mysql_async::Error) -> bool {
    match e {
        mysql_async::Error::Io(_) => true,
        mysql_async::Error::Driver(d) => matches!(
            d,
            mysql_async::DriverError::ConnectionClosed | mysql_async::DriverError::PoolDisconnected
        ),
        mysql_async::Error::Server(s) => TRANSIENT_CODES.contains(&s.code),
        _ => false,
    }
}

impl From<MySqlError> for sluice_core::SourceError {
    fn from(e: MySqlError) -> Self {
        sluice_core::SourceError::of(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(code: u16) -> mysql_async::Error {
        mysql_async::Error::Server(mysql_async::ServerError {
            code,
            message: String::new(),
            state: String::new(),
        })
    }

    #[test]
    fn a_server_that_went_away_is_transient_and_a_bad_statement_is_not() {
        assert!(
            MySqlError::query(server(1053)).is_retryable(),
            "shutdown in progress"
        );
        assert!(
            MySqlError::query(server(1927)).is_retryable(),
            "connection killed"
        );
        assert!(
            MySqlError::query(mysql_async::DriverError::ConnectionClosed.into()).is_retryable()
        );
        assert!(
            !MySqlError::query(server(1146)).is_retryable(),
            "table does not exist"
        );
        assert!(
            !MySqlError::query(server(1142)).is_retryable(),
            "command denied"
        );
    }
}
