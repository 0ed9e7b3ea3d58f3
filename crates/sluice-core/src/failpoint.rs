//! Crash points for tests: named seams where a test can make the process die on purpose, at a
//! precise step instead of after a guessed delay.
//!
//! Off unless the `FAILPOINTS` environment variable names them when the process starts
//! ([`setup`], called once by the binary), with the `fail` crate's syntax: `NAME=ACTIONS` pairs
//! separated by `;`, e.g. `FAILPOINTS='sink-durable=3*off->return'` lets the seam pass three
//! times and crashes on the fourth. `return` at a crash point aborts the process (as `kill -9`
//! would: no destructor, no flush, no offset commit); `panic`, `sleep(ms)` and `print` do what
//! the `fail` crate says. An unset seam costs a read-locked map lookup, and seams sit at batch,
//! chunk and DDL granularity, never per event.
//!
//! The seams ([`SEAMS`]) are where delivery could lose or repeat data if the code were wrong:
//! after a batch is handed to the sink, once the sink says it is durable, right before and right
//! after the offset commit, after a snapshot chunk was handed over, after a DDL reached the
//! schema history but before its position was handed over.

/// Every crash point, by name.
pub const SEAMS: [&str; 6] = [
    "sink-written",
    "sink-durable",
    "offset-commit",
    "offset-committed",
    "snapshot-chunk",
    "ddl-recorded",
];

/// Reads `FAILPOINTS`; the returned guard keeps them configured for the process's life.
pub fn setup() -> fail::FailScenario<'static> {
    fail::FailScenario::setup()
}

/// A crash point: aborts the process when `FAILPOINTS` sets `name` to `return` and its turn
/// has come.
pub fn crash_point(name: &str) {
    fail::fail_point!(name, |_| {
        eprintln!("failpoint {name}: aborting the process");
        std::process::abort()
    });
}
