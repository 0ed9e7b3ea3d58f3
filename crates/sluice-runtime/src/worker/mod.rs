//! The Kafka Connect-compatible worker: connectors managed through the REST API
//! ([`crate::rest`]), run by a [`ConnectorRunner`] the binary provides.
//!
//! State. The worker's view is the connectors' configs and target states (STARTED, PAUSED,
//! STOPPED), and their statuses (RUNNING, PAUSED, STOPPED, FAILED with the error's trace,
//! UNASSIGNED, RESTARTING). Changes go through a [`ConfigLog`]: in standalone mode straight back
//! into the view (nothing is kept across restarts, as in Connect); in distributed mode into
//! Connect's config and status topics, read back by every worker of the group
//! ([`cluster`]), so all views agree.
//!
//! Supervision. Every connector has a supervisor task that owns its pipeline: it runs it while
//! the connector is STARTED and assigned to this worker, stops it cleanly (stop signal, drain,
//! final commit) when it is paused, stopped, reassigned, reconfigured, restarted or deleted,
//! and restarts it after a failure — at once for a restart request, else with backoff
//! (1 s doubling to 60 s) when the error may be transient. A fatal error (bad config, a record
//! refused with `errors.tolerance=none`) leaves the connector FAILED, its trace in the status,
//! until it is restarted or reconfigured.

pub mod assign;
pub mod cluster;
pub mod config;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{json, Value as Json};
use tokio::sync::watch;
use tracing::{info, warn};

pub use config::WorkerConfig;

/// What an operator asked a connector to be (`target-state-<name>` in the config topic).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetState {
    Started,
    Paused,
    Stopped,
}

impl TargetState {
    pub fn name(self) -> &'static str {
        match self {
            TargetState::Started => "STARTED",
            TargetState::Paused => "PAUSED",
            TargetState::Stopped => "STOPPED",
        }
    }

    pub fn parse(s: &str) -> Option<TargetState> {
        match s {
            "STARTED" => Some(TargetState::Started),
            "PAUSED" => Some(TargetState::Paused),
            "STOPPED" => Some(TargetState::Stopped),
            _ => None,
        }
    }
}

/// A connector's or task's status (`status-connector-<name>` / `status-task-<name>-0`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// RUNNING, PAUSED, STOPPED, FAILED, UNASSIGNED, RESTARTING.
    pub state: String,
    pub trace: Option<String>,
    pub worker_id: String,
    pub generation: u64,
}

impl Status {
    pub fn to_json(&self) -> Json {
        json!({"state": self.state, "trace": self.trace, "worker_id": self.worker_id, "generation": self.generation})
    }

    pub fn from_json(j: &Json) -> Option<Status> {
        Some(Status {
            state: j["state"].as_str()?.to_string(),
            trace: j["trace"].as_str().map(str::to_string),
            worker_id: j["worker_id"].as_str().unwrap_or_default().to_string(),
            generation: j["generation"].as_u64().unwrap_or(0),
        })
    }
}

/// Why a connector run ended badly.
#[derive(Debug, Clone)]
pub struct RunError {
    pub message: String,
    pub retryable: bool,
}

/// What the worker needs from the binary: connector plugins.
#[async_trait]
pub trait ConnectorRunner: Send + Sync + 'static {
    /// Checks a config (class known, properties valid); returns "source" or "sink".
    fn validate(
        &self,
        name: &str,
        props: &BTreeMap<String, String>,
    ) -> Result<&'static str, String>;
    /// Runs the connector until `stop` turns true (clean stop, `Ok`) or it fails.
    async fn run(
        &self,
        name: &str,
        props: BTreeMap<String, String>,
        stop: watch::Receiver<bool>,
    ) -> Result<(), RunError>;
    /// The connector's offsets as Connect's REST API shows them (`{"partition", "offset"}`).
    async fn offsets(
        &self,
        name: &str,
        props: &BTreeMap<String, String>,
    ) -> Result<Vec<Json>, String>;
    /// Sets (or, with a null offset, removes) offsets; the connector is STOPPED.
    async fn alter_offsets(
        &self,
        name: &str,
        props: &BTreeMap<String, String>,
        entries: &[Json],
    ) -> Result<(), String>;
    /// Removes every offset (and a source's schema history); the connector is STOPPED.
    async fn reset_offsets(
        &self,
        name: &str,
        props: &BTreeMap<String, String>,
    ) -> Result<(), String>;
    /// Topics a connector has used (`GET /connectors/{name}/topics`).
    fn topics(&self, name: &str) -> Vec<String>;
    /// The plugins: (class, type, version).
    fn plugins(&self) -> Vec<(String, &'static str, String)>;
}

/// Changes to the shared state, as they are recorded.
#[derive(Debug, Clone)]
pub enum Change {
    /// A connector's config; `None`: deleted.
    Config {
        name: String,
        props: Option<BTreeMap<String, String>>,
    },
    Target {
        name: String,
        state: TargetState,
    },
    Restart {
        name: String,
        only_failed: bool,
    },
    Status {
        name: String,
        status: Option<Status>,
    },
    /// Distributed mode: which worker runs which connector, as the group's leader decided
    /// ([`assign`]).
    Assignment {
        owners: assign::Owners,
    },
}

/// Where changes are recorded (the worker sees them come back through [`Worker::apply`]).
#[async_trait]
pub trait ConfigLog: Send + Sync {
    async fn record(&self, change: Change) -> Result<(), String>;
}

/// Which connectors this worker runs (by name).
pub type Owned = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// What a connector's supervisor works towards.
#[derive(Debug, Clone, PartialEq)]
struct Desired {
    props: Option<BTreeMap<String, String>>,
    target: TargetState,
    owned: bool,
    /// Bumped by restart requests (and config changes).
    restarts: u64,
    only_failed: bool,
}

/// One connector as the worker knows it.
struct Entry {
    props: BTreeMap<String, String>,
    target: TargetState,
    kind: &'static str,
    desired: watch::Sender<Desired>,
}

#[derive(Default)]
struct View {
    connectors: BTreeMap<String, Entry>,
    statuses: BTreeMap<String, Status>,
    owns_all: bool,
    owned: Option<Owned>,
    /// The latest assignment (distributed mode).
    assignment: assign::Owners,
}

/// The worker: its view, the log its changes go through, and the connectors' supervisors.
pub struct Worker {
    pub id: String,
    pub standalone: bool,
    runner: Arc<dyn ConnectorRunner>,
    log: Mutex<Option<Arc<dyn ConfigLog>>>,
    view: Mutex<View>,
    generation: std::sync::atomic::AtomicU64,
    /// Pipelines running now.
    running: std::sync::atomic::AtomicUsize,
}

impl Worker {
    pub fn new(id: &str, standalone: bool, runner: Arc<dyn ConnectorRunner>) -> Arc<Worker> {
        Arc::new(Worker {
            id: id.to_string(),
            standalone,
            runner,
            log: Mutex::new(None),
            view: Mutex::new(View {
                owns_all: standalone,
                ..Default::default()
            }),
            generation: Default::default(),
            running: Default::default(),
        })
    }

    pub fn runner(&self) -> &Arc<dyn ConnectorRunner> {
        &self.runner
    }

    /// Where this worker's changes go (set once at start).
    pub fn set_log(&self, log: Arc<dyn ConfigLog>) {
        *self.log.lock().unwrap_or_else(|p| p.into_inner()) = Some(log);
    }

    /// Records a change (it takes effect when it comes back through [`Worker::apply`]).
    pub async fn record(&self, change: Change) -> Result<(), String> {
        let log = self.log.lock().unwrap_or_else(|p| p.into_inner()).clone();
        match log {
            Some(l) => l.record(change).await,
            None => Err("the worker is not started".into()),
        }
    }

    fn owns(v: &View, name: &str) -> bool {
        v.owns_all || v.owned.as_ref().is_some_and(|f| f(name))
    }

    /// Applies a recorded change to the view and the supervisors.
    pub fn apply(self: &Arc<Self>, change: Change) {
        let mut v = self.view.lock().unwrap_or_else(|p| p.into_inner());
        match change {
            Change::Config {
                name,
                props: Some(props),
            } => {
                let kind = self.runner.validate(&name, &props).unwrap_or("source");
                if let Some(e) = v.connectors.get_mut(&name) {
                    e.props = props.clone();
                    e.kind = kind;
                    e.desired.send_modify(|d| {
                        d.props = Some(props);
                        d.restarts += 1;
                        d.only_failed = false;
                    });
                } else {
                    let owned = Self::owns(&v, &name);
                    let target = TargetState::Started;
                    let (tx, rx) = watch::channel(Desired {
                        props: Some(props.clone()),
                        target,
                        owned,
                        restarts: 0,
                        only_failed: false,
                    });
                    v.connectors.insert(
                        name.clone(),
                        Entry {
                            props,
                            target,
                            kind,
                            desired: tx,
                        },
                    );
                    tokio::spawn(supervise(Arc::clone(self), name, rx));
                }
            }
            Change::Config { name, props: None } => {
                if let Some(e) = v.connectors.remove(&name) {
                    e.desired.send_modify(|d| d.props = None);
                }
                v.statuses.remove(&name);
            }
            Change::Target { name, state } => {
                if let Some(e) = v.connectors.get_mut(&name) {
                    e.target = state;
                    e.desired.send_if_modified(|d| {
                        let changed = d.target != state;
                        d.target = state;
                        changed
                    });
                }
            }
            Change::Restart { name, only_failed } => {
                if let Some(e) = v.connectors.get(&name) {
                    e.desired.send_modify(|d| {
                        d.restarts += 1;
                        d.only_failed = only_failed;
                    });
                }
            }
            Change::Assignment { owners } => {
                let me = self.id.clone();
                let mine = owners.clone();
                v.assignment = owners;
                v.owns_all = false;
                let owned: Owned = Arc::new(move |name: &str| mine.get(name) == Some(&me));
                v.owned = Some(Arc::clone(&owned));
                for (name, e) in &v.connectors {
                    // every worker reads every assignment: only a connector whose owner
                    // changed hears of it (a restart is a replay since the last commit)
                    let o = owned(name);
                    e.desired.send_if_modified(|d| {
                        let changed = d.owned != o;
                        d.owned = o;
                        changed
                    });
                }
            }
            Change::Status { name, status } => match status {
                Some(s) => {
                    // a status from an older generation (a worker that lost the connector) does
                    // not overwrite a newer one
                    let newer = v.statuses.get(&name).is_none_or(|old| {
                        s.generation >= old.generation || old.worker_id == s.worker_id
                    });
                    if newer {
                        v.statuses.insert(name, s);
                    }
                }
                None => {
                    v.statuses.remove(&name);
                }
            },
        }
    }

    /// Stops every connector cleanly (their pipelines drain and commit) and waits for them.
    pub async fn shutdown(self: &Arc<Self>) {
        {
            let mut v = self.view.lock().unwrap_or_else(|p| p.into_inner());
            v.owns_all = false;
            v.owned = None;
            for e in v.connectors.values() {
                e.desired.send_modify(|d| d.owned = false);
            }
        }
        for _ in 0..1200 {
            if self.running.load(std::sync::atomic::Ordering::SeqCst) == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        warn!("connectors still running at shutdown");
    }

    pub fn connector_names(&self) -> Vec<String> {
        self.view
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .connectors
            .keys()
            .cloned()
            .collect()
    }

    /// (config, target state, "source"/"sink").
    pub fn connector(
        &self,
        name: &str,
    ) -> Option<(BTreeMap<String, String>, TargetState, &'static str)> {
        let v = self.view.lock().unwrap_or_else(|p| p.into_inner());
        v.connectors
            .get(name)
            .map(|e| (e.props.clone(), e.target, e.kind))
    }

    /// The latest assignment of connectors to workers (distributed mode).
    pub fn assignment(&self) -> assign::Owners {
        self.view
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .assignment
            .clone()
    }

    /// Connector → the worker whose latest status says it runs it (RUNNING or RESTARTING).
    pub fn running_on(&self) -> BTreeMap<String, String> {
        let v = self.view.lock().unwrap_or_else(|p| p.into_inner());
        v.statuses
            .iter()
            .filter(|(n, s)| {
                v.connectors.contains_key(*n)
                    && matches!(s.state.as_str(), "RUNNING" | "RESTARTING")
            })
            .map(|(n, s)| (n.clone(), s.worker_id.clone()))
            .collect()
    }

    pub fn status(&self, name: &str) -> Option<Status> {
        let v = self.view.lock().unwrap_or_else(|p| p.into_inner());
        if !v.connectors.contains_key(name) {
            return None;
        }
        Some(v.statuses.get(name).cloned().unwrap_or(Status {
            state: "UNASSIGNED".into(),
            trace: None,
            worker_id: self.id.clone(),
            generation: 0,
        }))
    }

    /// Publishes this worker's status of a connector.
    async fn report(&self, name: &str, state: &str, trace: Option<String>) {
        let generation = self
            .generation
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1;
        let status = Status {
            state: state.to_string(),
            trace,
            worker_id: self.id.clone(),
            generation: generation + epoch_millis() * 1000,
        };
        if let Err(e) = self
            .record(Change::Status {
                name: name.to_string(),
                status: Some(status),
            })
            .await
        {
            warn!(connector = name, error = %e, "cannot publish the connector status");
        }
    }
}

fn epoch_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The supervisor of one connector (see the module doc).
async fn supervise(worker: Arc<Worker>, name: String, mut desired: watch::Receiver<Desired>) {
    let mut backoff = Duration::from_secs(1);
    loop {
        let want = desired.borrow_and_update().clone();
        let Some(props) = want.props.clone() else {
            info!(connector = %name, "connector deleted");
            return;
        };
        if !want.owned {
            if desired.changed().await.is_err() {
                return;
            }
            continue;
        }
        if want.target != TargetState::Started {
            let state = if want.target == TargetState::Paused {
                "PAUSED"
            } else {
                "STOPPED"
            };
            worker.report(&name, state, None).await;
            if desired.changed().await.is_err() {
                return;
            }
            continue;
        }
        worker.report(&name, "RUNNING", None).await;
        let (stop_tx, stop_rx) = watch::channel(false);
        let runner = Arc::clone(&worker.runner);
        let run_name = name.clone();
        worker
            .running
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let counter = Arc::clone(&worker);
        let mut run = tokio::spawn(async move {
            let r = runner.run(&run_name, props, stop_rx).await;
            counter
                .running
                .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            r
        });
        let seen = want.restarts;
        loop {
            tokio::select! {
                result = &mut run => {
                    match result {
                        Ok(Ok(())) => {
                            worker.report(&name, "UNASSIGNED", None).await;
                            if desired.changed().await.is_err() { return; }
                        }
                        Ok(Err(e)) => {
                            warn!(connector = %name, error = %e.message, retryable = e.retryable, "connector failed");
                            worker.report(&name, "FAILED", Some(e.message.clone())).await;
                            if e.retryable {
                                tokio::select! {
                                    _ = tokio::time::sleep(backoff) => {}
                                    r = desired.changed() => if r.is_err() { return; },
                                }
                                backoff = (backoff * 2).min(Duration::from_secs(60));
                            } else if desired.changed().await.is_err() {
                                return;
                            }
                        }
                        Err(join) => {
                            worker.report(&name, "FAILED", Some(format!("connector task panicked: {join}"))).await;
                            if desired.changed().await.is_err() { return; }
                        }
                    }
                    break;
                }
                changed = desired.changed() => {
                    let now = desired.borrow().clone();
                    // restart?onlyFailed=true leaves a healthy running connector alone, and
                    // so does a notification that changes nothing this run depends on
                    let same_run = changed.is_ok()
                        && now.props == want.props
                        && now.target == want.target
                        && now.owned == want.owned
                        && (now.only_failed || now.restarts == seen);
                    if same_run {
                        continue;
                    }
                    let _ = stop_tx.send(true);
                    let ended = run.await;
                    drop(ended);
                    if changed.is_err() { return; }
                    if !now.owned && now.props.is_some() {
                        // the leader waits for this before another worker starts it
                        worker.report(&name, "UNASSIGNED", None).await;
                    }
                    if now.restarts != seen {
                        backoff = Duration::from_secs(1);
                        worker.report(&name, "RESTARTING", None).await;
                    }
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Connector runs that last until they are told to stop; counts how many began.
    #[derive(Default)]
    struct CountingRuns {
        started: AtomicUsize,
    }

    #[async_trait]
    impl ConnectorRunner for CountingRuns {
        fn validate(&self, _: &str, _: &BTreeMap<String, String>) -> Result<&'static str, String> {
            Ok("source")
        }
        async fn run(
            &self,
            _: &str,
            _: BTreeMap<String, String>,
            mut stop: watch::Receiver<bool>,
        ) -> Result<(), RunError> {
            self.started.fetch_add(1, Ordering::SeqCst);
            let _ = stop.wait_for(|s| *s).await;
            Ok(())
        }
        async fn offsets(
            &self,
            _: &str,
            _: &BTreeMap<String, String>,
        ) -> Result<Vec<Json>, String> {
            Ok(Vec::new())
        }
        async fn alter_offsets(
            &self,
            _: &str,
            _: &BTreeMap<String, String>,
            _: &[Json],
        ) -> Result<(), String> {
            Ok(())
        }
        async fn reset_offsets(&self, _: &str, _: &BTreeMap<String, String>) -> Result<(), String> {
            Ok(())
        }
        fn topics(&self, _: &str) -> Vec<String> {
            Vec::new()
        }
        fn plugins(&self) -> Vec<(String, &'static str, String)> {
            Vec::new()
        }
    }

    fn assignment(pairs: &[(&str, &str)]) -> Change {
        Change::Assignment {
            owners: pairs
                .iter()
                .map(|(c, w)| (c.to_string(), w.to_string()))
                .collect(),
        }
    }

    async fn settle() {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_new_assignment_restarts_only_the_connectors_whose_owner_changed() {
        let runs = Arc::new(CountingRuns::default());
        let worker = Worker::new("w1", false, Arc::clone(&runs) as Arc<dyn ConnectorRunner>);
        worker.apply(Change::Config {
            name: "a".into(),
            props: Some(BTreeMap::new()),
        });
        worker.apply(assignment(&[("a", "w1")]));
        settle().await;
        assert_eq!(runs.started.load(Ordering::SeqCst), 1);
        assert_eq!(worker.running.load(Ordering::SeqCst), 1);

        // a worker joins and takes another connector: "a" keeps running, uninterrupted
        worker.apply(assignment(&[("a", "w1"), ("b", "w2")]));
        worker.apply(assignment(&[("a", "w1"), ("b", "w2")]));
        worker.apply(Change::Target {
            name: "a".into(),
            state: TargetState::Started,
        });
        settle().await;
        assert_eq!(runs.started.load(Ordering::SeqCst), 1);

        // "a" moves to w2: this worker stops it
        worker.apply(assignment(&[("a", "w2")]));
        settle().await;
        assert_eq!(worker.running.load(Ordering::SeqCst), 0);
        assert_eq!(runs.started.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_restart_request_restarts_a_running_connector() {
        let runs = Arc::new(CountingRuns::default());
        let worker = Worker::new("w1", true, Arc::clone(&runs) as Arc<dyn ConnectorRunner>);
        worker.apply(Change::Config {
            name: "a".into(),
            props: Some(BTreeMap::new()),
        });
        settle().await;
        worker.apply(Change::Restart {
            name: "a".into(),
            only_failed: false,
        });
        settle().await;
        assert_eq!(runs.started.load(Ordering::SeqCst), 2);
        // onlyFailed leaves a healthy connector alone
        worker.apply(Change::Restart {
            name: "a".into(),
            only_failed: true,
        });
        settle().await;
        assert_eq!(runs.started.load(Ordering::SeqCst), 2);
    }
}
