//! Which worker of a distributed cluster runs which connector: the leader's plan.
//!
//! Connect's incremental cooperative rebalancing (KIP-415), applied to sluice's connectors (each
//! runs one task, so a connector is the unit of load):
//!
//! * **Sticky.** A connector stays with the live worker that has it. Nothing moves because a
//!   worker joined or left unless balance asks for it.
//! * **Balanced by load.** A worker's load is the number of connectors it runs (Connect's
//!   assignor balances the count of connectors and tasks the same way). New or orphaned
//!   connectors go to the least loaded live worker; when loads differ by more than one (a worker
//!   joined), connectors are taken from the most loaded workers until they do not.
//! * **Revoke, then assign.** A connector moving between two live workers is first *revoked*
//!   (assigned to nobody). It is given to its new worker only once the old one no longer reports
//!   it RUNNING (it stopped, drained and committed), or after [`Plan::revoke_timeout`] if the
//!   old worker never says so. Two workers never run one connector on purpose.
//! * **Delay for lost workers.** A worker that left the group keeps its connectors for
//!   `scheduled.rebalance.max.delay.ms` (Connect's default: 5 minutes), so a worker that
//!   restarts at once gets them back without a shuffle; then they go to the others.
//!
//! [`Plan::next`] is a pure function of the previous assignment, the live members, the
//! connectors and what each worker reports; the leader calls it on every membership change and
//! every second, and publishes the result when it differs.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// Connector → the worker that runs it (absent: nobody, e.g. while it is being revoked).
pub type Owners = BTreeMap<String, String>;

/// The leader's memory between two plans.
#[derive(Debug)]
pub struct Plan {
    /// `scheduled.rebalance.max.delay.ms`.
    pub lost_delay: Duration,
    /// How long a revoked connector waits for its old worker to report that it stopped.
    pub revoke_timeout: Duration,
    /// Workers that left the group, and since when.
    lost: BTreeMap<String, Instant>,
    /// Connectors revoked from a live worker, and since when.
    revoked: BTreeMap<String, (String, Instant)>,
}

/// What the leader sees when it plans.
pub struct View<'a> {
    /// The last published assignment.
    pub owners: &'a Owners,
    /// Workers in the group now (their ids).
    pub members: &'a BTreeSet<String>,
    /// Every connector of the cluster.
    pub connectors: &'a BTreeSet<String>,
    /// Connector → the worker whose latest status says it runs it (RUNNING or RESTARTING).
    pub running_on: &'a BTreeMap<String, String>,
}

impl Plan {
    pub fn new(lost_delay: Duration, revoke_timeout: Duration) -> Plan {
        Plan {
            lost_delay,
            revoke_timeout,
            lost: BTreeMap::new(),
            revoked: BTreeMap::new(),
        }
    }

    /// The next assignment.
    pub fn next(&mut self, v: &View<'_>, now: Instant) -> Owners {
        // workers that left: remember when; forget those that are back
        for w in v.owners.values() {
            if !v.members.contains(w) {
                self.lost.entry(w.clone()).or_insert(now);
            }
        }
        self.lost
            .retain(|w, _| !v.members.contains(w) && v.owners.values().any(|o| o == w));
        self.revoked.retain(|c, _| v.connectors.contains(c));

        // 1. sticky: live owners keep theirs; a lost worker keeps its own during the delay
        let mut next = Owners::new();
        for c in v.connectors {
            if let Some(w) = v.owners.get(c) {
                let keep = v.members.contains(w)
                    || self
                        .lost
                        .get(w)
                        .is_some_and(|since| now.duration_since(*since) < self.lost_delay);
                if keep {
                    next.insert(c.clone(), w.clone());
                    self.revoked.remove(c);
                }
            }
        }
        if v.members.is_empty() {
            return next;
        }
        let mut load: BTreeMap<&String, usize> = v.members.iter().map(|m| (m, 0)).collect();
        for w in next.values() {
            if let Some(n) = load.get_mut(w) {
                *n += 1;
            }
        }

        // 2. revoke from the most loaded live workers: nobody above the ceiling, and enough
        //    unplaced connectors to lift everyone to the floor
        let unplaced = |next: &Owners| {
            v.connectors
                .iter()
                .filter(|c| !next.contains_key(*c))
                .count()
        };
        let total = load.values().sum::<usize>() + unplaced(&next);
        let (floor, ceiling) = (total / load.len(), total.div_ceil(load.len()));
        loop {
            let deficit: usize = load.values().map(|n| floor.saturating_sub(*n)).sum();
            let Some((w, n)) = load
                .iter_mut()
                .max_by(|(a, x), (b, y)| x.cmp(y).then_with(|| b.cmp(a)))
            else {
                break;
            };
            if *n <= floor || (*n <= ceiling && deficit <= unplaced(&next)) {
                break;
            }
            let Some(c) = next
                .iter()
                .filter(|(_, o)| *o == *w)
                .map(|(c, _)| c.clone())
                .next_back()
            else {
                break;
            };
            next.remove(&c);
            self.revoked.insert(c, ((*w).clone(), now));
            *n -= 1;
        }

        // 3. place what has no owner on the least loaded worker, once nobody else runs it
        for c in v.connectors {
            if next.contains_key(c) {
                continue;
            }
            let still_running = v
                .running_on
                .get(c)
                .filter(|w| v.members.contains(*w))
                .is_some();
            let waited_long_enough = self
                .revoked
                .get(c)
                .is_some_and(|(_, since)| now.duration_since(*since) >= self.revoke_timeout);
            if still_running && !waited_long_enough {
                self.revoked
                    .entry(c.clone())
                    .or_insert_with(|| (v.running_on[c].clone(), now));
                continue;
            }
            let Some((w, n)) = load
                .iter_mut()
                .min_by(|(a, x), (b, y)| x.cmp(y).then_with(|| a.cmp(b)))
            else {
                break;
            };
            next.insert(c.clone(), (*w).clone());
            *n += 1;
            self.revoked.remove(c);
        }
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    fn owners(pairs: &[(&str, &str)]) -> Owners {
        pairs
            .iter()
            .map(|(c, w)| (c.to_string(), w.to_string()))
            .collect()
    }

    fn plan() -> Plan {
        Plan::new(Duration::from_secs(300), Duration::from_secs(60))
    }

    fn loads(o: &Owners) -> BTreeMap<String, usize> {
        let mut m = BTreeMap::new();
        for w in o.values() {
            *m.entry(w.clone()).or_default() += 1;
        }
        m
    }

    #[test]
    fn new_connectors_spread_evenly_over_the_workers() {
        let mut p = plan();
        let members = set(&["a", "b", "c"]);
        let connectors = set(&["c1", "c2", "c3", "c4", "c5", "c6", "c7"]);
        let next = p.next(
            &View {
                owners: &Owners::new(),
                members: &members,
                connectors: &connectors,
                running_on: &BTreeMap::new(),
            },
            Instant::now(),
        );
        assert_eq!(next.len(), 7);
        let l = loads(&next);
        assert_eq!(l.len(), 3);
        assert!(l.values().all(|n| (2..=3).contains(n)), "{l:?}");
    }

    #[test]
    fn a_worker_that_joins_takes_over_revoked_connectors_after_they_stopped() {
        let mut p = plan();
        let t0 = Instant::now();
        let before = owners(&[("c1", "a"), ("c2", "a"), ("c3", "a"), ("c4", "b")]);
        let members = set(&["a", "b", "c"]);
        let connectors = set(&["c1", "c2", "c3", "c4"]);
        let running: BTreeMap<String, String> = before.clone();
        let step1 = p.next(
            &View {
                owners: &before,
                members: &members,
                connectors: &connectors,
                running_on: &running,
            },
            t0,
        );
        // one of a's connectors is revoked, nothing else moves, nobody gets it yet
        assert_eq!(step1.len(), 3, "{step1:?}");
        assert_eq!(step1["c4"], "b");
        let revoked: Vec<_> = connectors
            .difference(&step1.keys().cloned().collect())
            .cloned()
            .collect();
        assert_eq!(revoked.len(), 1);
        // a still runs it: it stays unassigned
        let step2 = p.next(
            &View {
                owners: &step1,
                members: &members,
                connectors: &connectors,
                running_on: &running,
            },
            t0 + Duration::from_secs(1),
        );
        assert_eq!(step2, step1);
        // a reports it stopped: it goes to the new worker c
        let mut running = running.clone();
        running.remove(&revoked[0]);
        let step3 = p.next(
            &View {
                owners: &step2,
                members: &members,
                connectors: &connectors,
                running_on: &running,
            },
            t0 + Duration::from_secs(2),
        );
        assert_eq!(step3[&revoked[0]], "c");
        assert!(loads(&step3).values().all(|n| *n <= 2));
    }

    #[test]
    fn a_revoked_connector_moves_anyway_when_its_old_worker_never_reports() {
        let mut p = plan();
        let t0 = Instant::now();
        let members = set(&["a", "b"]);
        let connectors = set(&["c1"]);
        let running = owners(&[("c1", "a")]);
        let mut o = Owners::new();
        for s in [0, 30, 59] {
            o = p.next(
                &View {
                    owners: &o,
                    members: &members,
                    connectors: &connectors,
                    running_on: &running,
                },
                t0 + Duration::from_secs(s),
            );
            assert!(o.is_empty(), "still waiting at {s}s");
        }
        o = p.next(
            &View {
                owners: &o,
                members: &members,
                connectors: &connectors,
                running_on: &running,
            },
            t0 + Duration::from_secs(61),
        );
        assert_eq!(o.len(), 1);
    }

    #[test]
    fn a_lost_workers_connectors_wait_for_the_delay_then_move() {
        let mut p = Plan::new(Duration::from_secs(10), Duration::from_secs(60));
        let t0 = Instant::now();
        let before = owners(&[("c1", "a"), ("c2", "b")]);
        let members = set(&["b"]);
        let connectors = set(&["c1", "c2"]);
        // a is gone but its status still says RUNNING: that does not block a takeover
        let running = before.clone();
        let o1 = p.next(
            &View {
                owners: &before,
                members: &members,
                connectors: &connectors,
                running_on: &running,
            },
            t0,
        );
        assert_eq!(o1, before, "a keeps c1 during the delay");
        let o2 = p.next(
            &View {
                owners: &o1,
                members: &members,
                connectors: &connectors,
                running_on: &running,
            },
            t0 + Duration::from_secs(11),
        );
        assert_eq!(o2, owners(&[("c1", "b"), ("c2", "b")]));
    }

    #[test]
    fn a_worker_back_within_the_delay_keeps_its_connectors() {
        let mut p = Plan::new(Duration::from_secs(10), Duration::from_secs(60));
        let t0 = Instant::now();
        let before = owners(&[("c1", "a"), ("c2", "b")]);
        let connectors = set(&["c1", "c2"]);
        let o1 = p.next(
            &View {
                owners: &before,
                members: &set(&["b"]),
                connectors: &connectors,
                running_on: &before,
            },
            t0,
        );
        let o2 = p.next(
            &View {
                owners: &o1,
                members: &set(&["a", "b"]),
                connectors: &connectors,
                running_on: &before,
            },
            t0 + Duration::from_secs(5),
        );
        assert_eq!(o2, before);
        // and a later loss starts a new delay
        let o3 = p.next(
            &View {
                owners: &o2,
                members: &set(&["b"]),
                connectors: &connectors,
                running_on: &before,
            },
            t0 + Duration::from_secs(30),
        );
        assert_eq!(o3, before);
    }

    #[test]
    fn a_new_empty_worker_gets_a_share_even_when_nobody_is_above_the_ceiling() {
        let mut p = plan();
        let before = owners(&[("c1", "a"), ("c2", "a"), ("c3", "b"), ("c4", "b")]);
        let members = set(&["a", "b", "c"]);
        let connectors = set(&["c1", "c2", "c3", "c4"]);
        let o = p.next(
            &View {
                owners: &before,
                members: &members,
                connectors: &connectors,
                running_on: &BTreeMap::new(),
            },
            Instant::now(),
        );
        let l = loads(&o);
        assert_eq!(l.get("c"), Some(&1), "{o:?}");
        assert_eq!(l.values().sum::<usize>(), 4);
    }

    #[test]
    fn deleted_connectors_leave_the_assignment() {
        let mut p = plan();
        let before = owners(&[("c1", "a"), ("gone", "a")]);
        let o = p.next(
            &View {
                owners: &before,
                members: &set(&["a"]),
                connectors: &set(&["c1"]),
                running_on: &BTreeMap::new(),
            },
            Instant::now(),
        );
        assert_eq!(o, owners(&[("c1", "a")]));
    }
}
