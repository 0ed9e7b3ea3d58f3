//! Errors of the PostgreSQL source, split into retryable (the server or network may come back)
//! and fatal (configuration, permissions, data sluice cannot represent).

use sluice_core::{ErrorClass, Retryable, SourceError};

#[derive(Debug, thiserror::Error)]
pub enum PgError {
    #[error("PostgreSQL connector configuration: {0}")]
    Config(String),
    #[error("PostgreSQL connection to {target} failed: {message} (check database.hostname/port, that the server runs and accepts replication connections)")]
    Connect { target: String, message: String },
    #[error("PostgreSQL query failed: {0}")]
    Query(String),
    #[error("PostgreSQL replication stream: {0}")]
    Replication(String),
    #[error("PostgreSQL: {0}")]
    Fatal(String),
}

impl Retryable for PgError {
    fn class(&self) -> ErrorClass {
        match self {
            PgError::Connect { .. } | PgError::Replication(_) => ErrorClass::Retryable,
            PgError::Query(_) | PgError::Config(_) | PgError::Fatal(_) => ErrorClass::Fatal,
        }
    }
}

impl From<PgError> for SourceError {
    fn from(e: PgError) -> SourceError {
        SourceError::of(&e)
    }
}

/// A SQL error: connection-level failures are retryable, statement failures are not.
pub(crate) fn sql(context: &str, e: sqlx::Error) -> PgError {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => PgError::Replication(format!("{context}: {e}")),
        other => PgError::Query(format!("{context}: {other}")),
    }
}
