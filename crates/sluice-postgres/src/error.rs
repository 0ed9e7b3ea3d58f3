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
        SourceError::of(e)
    }
}

/// SQLSTATEs that say the server or the session went away, not that the statement is wrong:
/// class 08 (connection exception), 57P01-57P03 (the server shuts down, crashed, or does not
/// accept connections yet), 53300 (too many connections), 55006 (the slot is still held by an
/// ending session).
fn transient_state(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03" | "53300" | "55006")
}

/// A SQL error: connection-level failures are retryable, statement failures are not.
pub(crate) fn sql(context: &str, e: sqlx::Error) -> PgError {
    let transient = match &e {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(d) => d.code().is_some_and(|c| transient_state(&c)),
        _ => false,
    };
    if transient {
        PgError::Replication(format!("{context}: {e}"))
    } else {
        PgError::Query(format!("{context}: {e}"))
    }
}

/// A replication-protocol error, retryable unless the server said the request itself is wrong
/// (a missing slot or publication, a permission): the text is all the replication client gives.
pub(crate) fn replication(context: &str, message: String) -> PgError {
    let m = message.to_ascii_lowercase();
    let transient = m.contains("is active for pid")
        || m.contains("terminating connection")
        || m.contains("shutting down")
        || m.contains("connection")
        || m.contains("timed out")
        || m.contains("i/o")
        || m.contains("broken pipe")
        || m.contains("eof");
    if transient {
        PgError::Replication(format!("{context}: {message}"))
    } else {
        PgError::Fatal(format!("{context}: {message}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_that_went_away_is_transient_and_a_bad_request_is_not() {
        assert!(
            transient_state("57P01"),
            "terminating connection due to administrator command"
        );
        assert!(transient_state("08006"));
        assert!(
            transient_state("55006"),
            "replication slot is active for PID"
        );
        assert!(!transient_state("42P01"), "undefined table");
        assert!(!transient_state("42501"), "insufficient privilege");
        let r = replication(
            "START_REPLICATION",
            "ERROR: replication slot \"s\" is active for PID 42".into(),
        );
        assert!(r.is_retryable(), "{r}");
        let r = replication(
            "START_REPLICATION",
            "ERROR: replication slot \"s\" does not exist".into(),
        );
        assert!(!r.is_retryable(), "{r}");
    }
}
