//! Position tracking along the binlog, and GTID sets.
//!
//! Restart semantics (the contract behind every offset sluice writes):
//! * A transaction starts at its first event (MariaDB GTID, MySQL GTID, or `BEGIN` without
//!   GTIDs). Its coordinates `(file, pos)` and the GTID set executed *before* it are what an
//!   offset stores while inside it.
//! * `event` counts the transaction's events (artificial events excluded) already handled;
//!   `row` counts rows handled in the next rows event. After row `r` of `n` in the rows event at
//!   index `k`, the restart point is `(k, r+1)`, or `(k+1, 0)` after the last row.
//! * At a transaction boundary the restart point is the next event: `(file, next_pos, 0, 0)`
//!   with the transaction's GTID added to the set.
//! * Resuming connects at `(file, pos)`, re-reads the events with index < `event` only to rebuild
//!   state (GTID, table maps), and drops the first `row` rows of the event at index `event`.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::position::BinlogPosition;

/// A GTID set in either server's notation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GtidSet {
    /// MariaDB: the last `server-seq` per domain (`D-S-N,…`).
    MariaDb(BTreeMap<u32, (u32, u64)>),
    /// MySQL: intervals per source UUID (`uuid:1-5:7,…`).
    MySql(BTreeMap<String, Vec<(u64, u64)>>),
}

impl GtidSet {
    pub fn empty(mariadb: bool) -> GtidSet {
        if mariadb {
            GtidSet::MariaDb(BTreeMap::new())
        } else {
            GtidSet::MySql(BTreeMap::new())
        }
    }

    /// Parses either notation (empty text is the empty set).
    pub fn parse(text: &str, mariadb: bool) -> Result<GtidSet, String> {
        let mut set = GtidSet::empty(mariadb);
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match &mut set {
                GtidSet::MariaDb(m) => {
                    let n: Vec<&str> = part.split('-').collect();
                    let [d, s, q] = n.as_slice() else {
                        return Err(format!(
                            "bad MariaDB GTID {part:?} (expected domain-server-seq)"
                        ));
                    };
                    let p = |x: &str| {
                        x.parse::<u64>()
                            .map_err(|_| format!("bad MariaDB GTID {part:?}"))
                    };
                    m.insert(p(d)? as u32, (p(s)? as u32, p(q)?));
                }
                GtidSet::MySql(m) => {
                    let mut it = part.split(':');
                    let uuid = it.next().unwrap_or_default().to_ascii_lowercase();
                    let ranges = m.entry(uuid).or_default();
                    for r in it {
                        let (a, b) = r.split_once('-').unwrap_or((r, r));
                        let p = |x: &str| {
                            x.parse::<u64>()
                                .map_err(|_| format!("bad MySQL GTID interval {r:?}"))
                        };
                        ranges.push((p(a)?, p(b)?));
                    }
                    ranges.sort_unstable();
                }
            }
        }
        Ok(set)
    }

    /// Adds one MariaDB GTID (the newest per domain wins).
    pub fn add_mariadb(&mut self, domain: u32, server: u32, seq: u64) {
        if let GtidSet::MariaDb(m) = self {
            m.insert(domain, (server, seq));
        }
    }

    /// Adds one MySQL GTID, merging intervals.
    pub fn add_mysql(&mut self, uuid: &str, gno: u64) {
        if let GtidSet::MySql(m) = self {
            let ranges = m.entry(uuid.to_string()).or_default();
            ranges.push((gno, gno));
            ranges.sort_unstable();
            let mut merged: Vec<(u64, u64)> = Vec::with_capacity(ranges.len());
            for &(a, b) in ranges.iter() {
                match merged.last_mut() {
                    Some(last) if a <= last.1 + 1 => last.1 = last.1.max(b),
                    _ => merged.push((a, b)),
                }
            }
            *ranges = merged;
        }
    }

    pub fn is_empty(&self) -> bool {
        match self {
            GtidSet::MariaDb(m) => m.is_empty(),
            GtidSet::MySql(m) => m.is_empty(),
        }
    }
}

impl std::fmt::Display for GtidSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = match self {
            GtidSet::MariaDb(m) => m.iter().map(|(d, (s, n))| format!("{d}-{s}-{n}")).collect(),
            GtidSet::MySql(m) => m
                .iter()
                .map(|(u, rs)| {
                    let r: Vec<String> = rs
                        .iter()
                        .map(|(a, b)| {
                            if a == b {
                                a.to_string()
                            } else {
                                format!("{a}-{b}")
                            }
                        })
                        .collect();
                    format!("{u}:{}", r.join(":"))
                })
                .collect(),
        };
        f.write_str(&parts.join(","))
    }
}

/// The GTID of the transaction being read, applied to the set when it commits.
#[derive(Debug, Clone)]
pub enum PendingGtid {
    MariaDb { domain: u32, server: u32, seq: u64 },
    MySql { uuid: String, gno: u64 },
}

/// Where the reader is, in restart terms.
#[derive(Debug, Clone)]
pub struct Tracker {
    pub file: Arc<str>,
    /// Position just after the last event read.
    pub next_pos: u64,
    pub in_txn: bool,
    /// The transaction opened with `BEGIN` (so a DDL inside does not end it).
    pub begun: bool,
    pub txn_start: u64,
    /// Transaction events handled so far (its first event included).
    pub txn_events: u64,
    pub gtids: GtidSet,
    gtids_text: Option<Arc<str>>,
    pub pending: Option<PendingGtid>,
    /// Text of the current transaction's GTID, for `source.gtid`.
    pub current_gtid: Option<Arc<str>>,
    pub thread: Option<u32>,
    pub server_id: u32,
    pub ts_sec: u32,
    /// Incremental snapshot state carried into every position (see `incremental`).
    pub incremental: Option<Arc<serde_json::Value>>,
}

impl Tracker {
    pub fn new(file: &str, pos: u64, gtids: GtidSet) -> Tracker {
        Tracker {
            file: Arc::from(file),
            next_pos: pos,
            in_txn: false,
            begun: false,
            txn_start: pos,
            txn_events: 0,
            gtids_text: text_of(&gtids),
            gtids,
            pending: None,
            current_gtid: None,
            thread: None,
            server_id: 0,
            ts_sec: 0,
            incremental: None,
        }
    }

    /// Opens a transaction at the event starting at `pos`.
    pub fn begin(&mut self, pos: u64) {
        self.in_txn = true;
        self.begun = false;
        self.txn_start = pos;
        self.txn_events = 0;
        self.thread = None;
    }

    /// Closes the current transaction: its GTID joins the set.
    pub fn commit(&mut self) {
        match self.pending.take() {
            Some(PendingGtid::MariaDb {
                domain,
                server,
                seq,
            }) => self.gtids.add_mariadb(domain, server, seq),
            Some(PendingGtid::MySql { uuid, gno }) => self.gtids.add_mysql(&uuid, gno),
            None => {}
        }
        self.gtids_text = text_of(&self.gtids);
        self.in_txn = false;
        self.begun = false;
        self.txn_events = 0;
        self.current_gtid = None;
        self.thread = None;
    }

    /// A new binlog file starts.
    pub fn rotate(&mut self, file: &str, pos: u64) {
        self.file = Arc::from(file);
        self.next_pos = pos;
        if !self.in_txn {
            self.txn_start = pos;
        }
    }

    /// Restart point inside the current transaction.
    pub fn in_txn_position(&self, event: u64, row: u64) -> BinlogPosition {
        self.position(self.txn_start, event, row)
    }

    /// Restart point between transactions (the next event).
    pub fn boundary_position(&self) -> BinlogPosition {
        self.position(self.next_pos, 0, 0)
    }

    fn position(&self, pos: u64, event: u64, row: u64) -> BinlogPosition {
        BinlogPosition {
            file: Arc::clone(&self.file),
            pos,
            event,
            row,
            server_id: self.server_id,
            gtids: self.gtids_text.clone(),
            ts_sec: u64::from(self.ts_sec),
            snapshot: false,
            snapshot_progress: None,
            incremental: self.incremental.clone(),
        }
    }
}

fn text_of(g: &GtidSet) -> Option<Arc<str>> {
    (!g.is_empty()).then(|| Arc::from(g.to_string().as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mariadb_sets_keep_the_newest_per_domain() {
        let mut g = GtidSet::parse("0-1-10,1-2-5", true).unwrap();
        g.add_mariadb(0, 1, 11);
        assert_eq!(g.to_string(), "0-1-11,1-2-5");
        assert!(GtidSet::parse("0-1", true).is_err());
    }

    #[test]
    fn mysql_sets_merge_intervals() {
        let mut g = GtidSet::parse("3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5:7", false).unwrap();
        g.add_mysql("3e11fa47-71ca-11e1-9e33-c80aa9429562", 6);
        assert_eq!(g.to_string(), "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-7");
    }

    #[test]
    fn positions_follow_the_restart_contract() {
        let mut t = Tracker::new("b.000001", 4, GtidSet::empty(true));
        t.begin(100);
        t.pending = Some(PendingGtid::MariaDb {
            domain: 0,
            server: 1,
            seq: 9,
        });
        let p = t.in_txn_position(3, 2);
        assert_eq!((p.pos, p.event, p.row, p.gtids.clone()), (100, 3, 2, None));
        t.next_pos = 400;
        t.commit();
        let b = t.boundary_position();
        assert_eq!(
            (b.pos, b.event, b.gtids.as_deref()),
            (400, 0, Some("0-1-9"))
        );
    }
}
