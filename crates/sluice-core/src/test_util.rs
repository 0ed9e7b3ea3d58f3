//! For the tests of crates that carry source positions without making them (the runtime, the
//! sinks, the driver): a position that is just a growing number.

use serde_json::{json, Value as Json};

use crate::position::{Position, SourceOffset};

/// A source position `n`: offset JSON `{"seq": n}`, version `n`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seq(pub u64);

impl SourceOffset for Seq {
    fn to_offset_json(&self) -> Json {
        json!({ "seq": self.0 })
    }

    fn version(&self) -> Option<u64> {
        Some(self.0)
    }
}

/// `Position` of [`Seq`] `n`.
pub fn at(n: u64) -> Position {
    Position::from_source(Seq(n))
}
