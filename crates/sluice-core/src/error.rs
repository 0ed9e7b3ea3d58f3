//! Error classification shared by every crate.
//!
//! Each crate has its own `thiserror` enum; each of them implements [`Retryable`] so the runtime
//! can decide between "back off and try again" (a dropped connection, a busy broker) and "stop
//! and tell the operator" (bad configuration, a purged binlog, a record a sink rejects).

/// Whether an error may go away by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Transient: retrying the same operation later may succeed.
    Retryable,
    /// Permanent: retrying cannot help; an operator must act.
    Fatal,
}

/// Implemented by every error type of the workspace.
pub trait Retryable {
    fn class(&self) -> ErrorClass;
    fn is_retryable(&self) -> bool {
        self.class() == ErrorClass::Retryable
    }
}
