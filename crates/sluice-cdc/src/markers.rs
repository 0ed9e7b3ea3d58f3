//! `source.snapshot`: how a snapshot event says where it is in the snapshot.
//!
//! Debezium's rule, in this order: the last row of the last table is `last`; the first row of
//! the first table is `first` (so when the first table is empty, no row is `first`: checked
//! against Debezium by `tests/differential.rs`); otherwise the last row of a table is `last_in_data_collection`,
//! its first row `first_in_data_collection`; every other snapshot row `true`. So a one-row table
//! in the middle of a snapshot is `last_in_data_collection`, and a one-row snapshot is `last`.
//! Streaming events say `false`, incremental-snapshot events `incremental`.

use std::sync::Arc;

use sluice_core::{ChangeEvent, Value};

/// A value of `source.snapshot`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    True,
    First,
    FirstInDataCollection,
    LastInDataCollection,
    Last,
    False,
    Incremental,
}

/// Where `snapshot` sits in every Debezium `source` block (`version`, `connector`, `name`,
/// `ts_ms`, `snapshot`, …).
pub const SOURCE_SNAPSHOT_FIELD: usize = 4;

/// Where `source` sits in the envelope (`before`, `after`, `source`, …).
pub const ENVELOPE_SOURCE_FIELD: usize = 2;

impl Marker {
    /// Every marker, in the order of the `allowed` parameter of the `snapshot` field's schema.
    pub const ALL: [Marker; 7] = [
        Marker::True,
        Marker::First,
        Marker::FirstInDataCollection,
        Marker::LastInDataCollection,
        Marker::Last,
        Marker::False,
        Marker::Incremental,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Marker::True => "true",
            Marker::First => "first",
            Marker::FirstInDataCollection => "first_in_data_collection",
            Marker::LastInDataCollection => "last_in_data_collection",
            Marker::Last => "last",
            Marker::False => "false",
            Marker::Incremental => "incremental",
        }
    }

    /// The marker of a snapshot row, given its neighbours. `first_in_snapshot`: the first row
    /// of the snapshot's first table.
    pub fn of_row(
        first_in_snapshot: bool,
        last_in_snapshot: bool,
        first_in_table: bool,
        last_in_table: bool,
    ) -> Marker {
        if last_in_snapshot {
            Marker::Last
        } else if first_in_snapshot {
            Marker::First
        } else if last_in_table {
            Marker::LastInDataCollection
        } else if first_in_table {
            Marker::FirstInDataCollection
        } else {
            Marker::True
        }
    }

    /// The strings, allocated once, indexed by `Marker as usize`.
    pub fn strings() -> [Arc<str>; 7] {
        Marker::ALL.map(|m| Arc::from(m.as_str()))
    }
}

/// Sets `source.snapshot` of an event already built (a snapshot row whose neighbours are known
/// only once the next row was read).
pub fn set(ev: &mut ChangeEvent, marker: Marker) {
    if let Some(Value::Struct(env)) = ev.value.as_mut().map(|d| &mut d.value) {
        if let Some(Value::Struct(src)) = env.get_mut(ENVELOPE_SOURCE_FIELD) {
            if let Some(slot) = src.get_mut(SOURCE_SNAPSHOT_FIELD) {
                *slot = Value::String(Arc::from(marker.as_str()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Markers of a snapshot of tables with these row counts, in order.
    fn snapshot(rows_per_table: &[usize]) -> Vec<Vec<&'static str>> {
        let total: usize = rows_per_table.iter().sum();
        let mut seen = 0;
        rows_per_table
            .iter()
            .enumerate()
            .map(|(t, &n)| {
                (0..n)
                    .map(|i| {
                        seen += 1;
                        let first = t == 0 && i == 0;
                        Marker::of_row(first, seen == total, i == 0, i == n - 1).as_str()
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn a_one_row_table_in_the_middle_is_the_last_of_its_table() {
        assert_eq!(
            snapshot(&[2, 1, 2]),
            vec![
                vec!["first", "last_in_data_collection"],
                vec!["last_in_data_collection"],
                vec!["first_in_data_collection", "last"],
            ]
        );
    }

    #[test]
    fn when_the_first_table_is_empty_no_row_is_first() {
        assert_eq!(
            snapshot(&[0, 2, 1]),
            vec![
                vec![],
                vec!["first_in_data_collection", "last_in_data_collection"],
                vec!["last"],
            ]
        );
    }

    #[test]
    fn a_one_row_snapshot_is_last_and_the_middle_rows_are_true() {
        assert_eq!(snapshot(&[1]), vec![vec!["last"]]);
        assert_eq!(snapshot(&[3]), vec![vec!["first", "true", "last"]]);
    }
}
