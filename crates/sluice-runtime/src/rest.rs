//! Kafka Connect's REST API over a [`Worker`]: the routes, bodies and status codes of Connect,
//! so existing scripts, UIs and `curl` habits keep working.
//!
//! | route | success |
//! |---|---|
//! | `GET /` | 200 `{"version","commit","kafka_cluster_id"}` |
//! | `GET /connectors[?expand=status&expand=info]` | 200 names, or name → `{status, info}` |
//! | `POST /connectors` `{"name","config"}` | 201 info; 409 if it exists; 400 if invalid |
//! | `GET/DELETE /connectors/{name}` | 200 info / 204 |
//! | `GET/PUT/PATCH /connectors/{name}/config` | 200 config / 201 created, 200 updated / 200 |
//! | `GET /connectors/{name}/status`, `…/tasks`, `…/tasks/{id}/status` | 200 |
//! | `POST /connectors/{name}/restart[?includeTasks=&onlyFailed=]` | 204, or 202 with status |
//! | `POST /connectors/{name}/tasks/{id}/restart` | 204 |
//! | `PUT /connectors/{name}/pause` / `resume` / `stop` | 202 / 202 / 204 |
//! | `GET /connectors/{name}/topics`, `PUT …/topics/reset` | 200 / 204 |
//! | `GET/PATCH/DELETE /connectors/{name}/offsets` (KIP-875, STOPPED only to change) | 200 |
//! | `GET /connector-plugins[?connectorsOnly=false]` | 200 |
//! | `PUT /connector-plugins/{class}/config/validate` | 200 |
//!
//! Errors are `{"error_code": <status>, "message": "…"}`. With basic auth configured every
//! route needs it (401 otherwise).

// the error of a handler's step is the HTTP response to send, as is
#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;
use base64::Engine;
use serde_json::{json, Map, Value as Json};

use crate::worker::{Change, TargetState, Worker};

/// A response body with its status.
fn reply(status: StatusCode, body: Json) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    reply(
        status,
        json!({"error_code": status.as_u16(), "message": message.into()}),
    )
}

fn not_found(name: &str) -> Response {
    error(StatusCode::NOT_FOUND, format!("Connector {name} not found"))
}

fn no_content(status: StatusCode) -> Response {
    status.into_response()
}

#[derive(Clone)]
struct App {
    worker: Arc<Worker>,
    auth: Arc<Vec<(String, String)>>,
}

/// Binds `addr` and returns the REST server to spawn.
pub async fn bind(
    addr: SocketAddr,
    worker: Arc<Worker>,
    basic_auth: Vec<(String, String)>,
) -> std::io::Result<impl std::future::Future<Output = std::io::Result<()>>> {
    let app = App {
        worker,
        auth: Arc::new(basic_auth),
    };
    let router = Router::new()
        .route("/", get(root))
        .route("/connectors", get(list).post(create))
        .route("/connectors/{name}", get(info).delete(delete))
        .route(
            "/connectors/{name}/config",
            get(get_config).put(put_config).patch(patch_config),
        )
        .route("/connectors/{name}/status", get(status))
        .route("/connectors/{name}/tasks", get(tasks))
        .route("/connectors/{name}/tasks/{id}/status", get(task_status))
        .route("/connectors/{name}/tasks/{id}/restart", post(task_restart))
        .route("/connectors/{name}/restart", post(restart))
        .route("/connectors/{name}/pause", put(pause))
        .route("/connectors/{name}/resume", put(resume))
        .route("/connectors/{name}/stop", put(stop))
        .route("/connectors/{name}/topics", get(topics))
        .route("/connectors/{name}/topics/reset", put(topics_reset))
        .route(
            "/connectors/{name}/offsets",
            get(offsets).patch(alter_offsets).delete(reset_offsets),
        )
        .route("/connector-plugins", get(plugins))
        .route("/connector-plugins/{class}/config/validate", put(validate))
        .layer(middleware::from_fn_with_state(app.clone(), authenticate))
        .with_state(app);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(%addr, "Kafka Connect REST API listening");
    Ok(async move { axum::serve(listener, router).await })
}

async fn authenticate(
    State(app): State<App>,
    headers: HeaderMap,
    req: Request,
    next: Next,
) -> Response {
    if app.auth.is_empty() {
        return next.run(req).await;
    }
    let ok = headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Basic "))
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| {
            s.split_once(':')
                .map(|(u, p)| (u.to_string(), p.to_string()))
        })
        .is_some_and(|(u, p)| app.auth.iter().any(|(au, ap)| *au == u && *ap == p));
    if ok {
        next.run(req).await
    } else {
        let mut r = error(StatusCode::UNAUTHORIZED, "Basic authentication is required");
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            "Basic realm=\"sluice\""
                .parse()
                .unwrap_or(header::HeaderValue::from_static("Basic")),
        );
        r
    }
}

fn query(raw: &Option<String>) -> Vec<(String, String)> {
    raw.as_deref()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (p.to_string(), String::new()),
        })
        .collect()
}

fn flag(q: &[(String, String)], key: &str) -> bool {
    q.iter()
        .any(|(k, v)| k == key && v.eq_ignore_ascii_case("true"))
}

async fn root() -> Response {
    reply(
        StatusCode::OK,
        json!({"version": concat!("sluice-", env!("CARGO_PKG_VERSION")), "commit": "sluice", "kafka_cluster_id": null}),
    )
}

fn info_json(worker: &Worker, name: &str) -> Option<Json> {
    let (props, target, kind) = worker.connector(name)?;
    let tasks = if target == TargetState::Stopped {
        json!([])
    } else {
        json!([{"connector": name, "task": 0}])
    };
    Some(json!({"name": name, "config": props, "tasks": tasks, "type": kind}))
}

fn status_json(worker: &Worker, name: &str) -> Option<Json> {
    let (_, target, kind) = worker.connector(name)?;
    let s = worker.status(name)?;
    let connector_state = if s.state == "FAILED" {
        "RUNNING"
    } else {
        s.state.as_str()
    };
    let mut connector = json!({"state": connector_state, "worker_id": s.worker_id});
    let mut task = json!({"id": 0, "state": s.state, "worker_id": s.worker_id});
    if let Some(t) = &s.trace {
        task["trace"] = json!(t);
    }
    if target == TargetState::Stopped {
        connector["state"] = json!("STOPPED");
    }
    let tasks = if target == TargetState::Stopped {
        json!([])
    } else {
        json!([task])
    };
    Some(json!({"name": name, "connector": connector, "tasks": tasks, "type": kind}))
}

async fn list(State(app): State<App>, RawQuery(raw): RawQuery) -> Response {
    let q = query(&raw);
    let expand: Vec<&str> = q
        .iter()
        .filter(|(k, _)| k == "expand")
        .map(|(_, v)| v.as_str())
        .collect();
    let names = app.worker.connector_names();
    if expand.is_empty() {
        return reply(StatusCode::OK, json!(names));
    }
    let mut out = Map::new();
    for n in names {
        let mut e = Map::new();
        if expand.contains(&"status") {
            e.insert(
                "status".into(),
                status_json(&app.worker, &n).unwrap_or(Json::Null),
            );
        }
        if expand.contains(&"info") {
            e.insert(
                "info".into(),
                info_json(&app.worker, &n).unwrap_or(Json::Null),
            );
        }
        out.insert(n, Json::Object(e));
    }
    reply(StatusCode::OK, Json::Object(out))
}

/// A config object of string values (numbers and booleans are taken as their text). Public for
/// the fuzz target of request bodies (fuzz/).
#[doc(hidden)]
pub fn config_map(j: &Json) -> Result<BTreeMap<String, String>, String> {
    let o = j
        .as_object()
        .ok_or("the connector config must be a JSON object")?;
    let mut out = BTreeMap::new();
    for (k, v) in o {
        let s = match v {
            Json::String(s) => s.clone(),
            Json::Number(n) => n.to_string(),
            Json::Bool(b) => b.to_string(),
            Json::Null => continue,
            other => return Err(format!("config property {k} must be a string, got {other}")),
        };
        out.insert(k.clone(), s);
    }
    Ok(out)
}

fn invalid(name: &str, e: &str) -> Response {
    let _ = name;
    error(
        StatusCode::BAD_REQUEST,
        format!("Connector configuration is invalid and contains the following 1 error(s):\n{e}\nYou can also find the above list of errors at the endpoint `/connector-plugins/{{connectorType}}/config/validate`"),
    )
}

/// Waits until the worker's view satisfies `done` (distributed mode: the change comes back
/// through the config topic).
async fn settle(worker: &Worker, done: impl Fn(&Worker) -> bool) {
    for _ in 0..600 {
        if done(worker) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn write_config(
    app: &App,
    name: &str,
    mut props: BTreeMap<String, String>,
) -> Result<Json, Response> {
    props.insert("name".into(), name.to_string());
    if let Err(e) = app.worker.runner().validate(name, &props) {
        return Err(invalid(name, &e));
    }
    let want = props.clone();
    app.worker
        .record(Change::Config {
            name: name.to_string(),
            props: Some(props),
        })
        .await
        .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, e))?;
    settle(&app.worker, |w| {
        w.connector(name).is_some_and(|(p, _, _)| p == want)
    })
    .await;
    info_json(&app.worker, name).ok_or_else(|| {
        error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the connector config was written but is not visible yet; retry",
        )
    })
}

async fn create(State(app): State<App>, body: Bytes) -> Response {
    let doc: Json = match serde_json::from_slice(&body) {
        Ok(d) => d,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("Request body is not valid JSON: {e}"),
            )
        }
    };
    let Some(name) = doc["name"]
        .as_str()
        .filter(|n| !n.trim().is_empty())
        .map(str::to_string)
    else {
        return error(
            StatusCode::BAD_REQUEST,
            "Connector name must be specified (\"name\")",
        );
    };
    let props = match config_map(doc.get("config").unwrap_or(&Json::Null)) {
        Ok(p) => p,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    if let Some(n) = props.get("name").filter(|n| **n != name) {
        return error(StatusCode::BAD_REQUEST, format!("Connector name configuration ({n}) doesn't match connector name in the URL/body ({name})"));
    }
    if app.worker.connector(&name).is_some() {
        return error(
            StatusCode::CONFLICT,
            format!("Connector {name} already exists"),
        );
    }
    match write_config(&app, &name, props).await {
        Ok(info) => reply(StatusCode::CREATED, info),
        Err(r) => r,
    }
}

async fn info(State(app): State<App>, Path(name): Path<String>) -> Response {
    match info_json(&app.worker, &name) {
        Some(i) => reply(StatusCode::OK, i),
        None => not_found(&name),
    }
}

async fn delete(State(app): State<App>, Path(name): Path<String>) -> Response {
    if app.worker.connector(&name).is_none() {
        return not_found(&name);
    }
    if let Err(e) = app
        .worker
        .record(Change::Config {
            name: name.clone(),
            props: None,
        })
        .await
    {
        return error(StatusCode::INTERNAL_SERVER_ERROR, e);
    }
    settle(&app.worker, |w| w.connector(&name).is_none()).await;
    no_content(StatusCode::NO_CONTENT)
}

async fn get_config(State(app): State<App>, Path(name): Path<String>) -> Response {
    match app.worker.connector(&name) {
        Some((props, _, _)) => reply(StatusCode::OK, json!(props)),
        None => not_found(&name),
    }
}

async fn put_config(State(app): State<App>, Path(name): Path<String>, body: Bytes) -> Response {
    let props = match serde_json::from_slice::<Json>(&body)
        .map_err(|e| e.to_string())
        .and_then(|j| config_map(&j))
    {
        Ok(p) => p,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    if let Some(n) = props.get("name").filter(|n| **n != name) {
        return error(StatusCode::BAD_REQUEST, format!("Connector name configuration ({n}) doesn't match connector name in the URL ({name})"));
    }
    let existed = app.worker.connector(&name).is_some();
    match write_config(&app, &name, props).await {
        Ok(info) => reply(
            if existed {
                StatusCode::OK
            } else {
                StatusCode::CREATED
            },
            info,
        ),
        Err(r) => r,
    }
}

async fn patch_config(State(app): State<App>, Path(name): Path<String>, body: Bytes) -> Response {
    let Some((mut props, _, _)) = app.worker.connector(&name) else {
        return not_found(&name);
    };
    let patch: Json = match serde_json::from_slice(&body) {
        Ok(j) => j,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let Some(o) = patch.as_object() else {
        return error(StatusCode::BAD_REQUEST, "the patch must be a JSON object");
    };
    for (k, v) in o {
        match v {
            Json::Null => {
                props.remove(k);
            }
            Json::String(s) => {
                props.insert(k.clone(), s.clone());
            }
            other => {
                props.insert(k.clone(), other.to_string());
            }
        }
    }
    match write_config(&app, &name, props).await {
        Ok(info) => reply(StatusCode::OK, info),
        Err(r) => r,
    }
}

async fn status(State(app): State<App>, Path(name): Path<String>) -> Response {
    match status_json(&app.worker, &name) {
        Some(s) => reply(StatusCode::OK, s),
        None => not_found(&name),
    }
}

async fn tasks(State(app): State<App>, Path(name): Path<String>) -> Response {
    match app.worker.connector(&name) {
        Some((props, target, _)) => {
            let tasks = if target == TargetState::Stopped {
                json!([])
            } else {
                json!([{"id": {"connector": name, "task": 0}, "config": props}])
            };
            reply(StatusCode::OK, tasks)
        }
        None => not_found(&name),
    }
}

async fn task_status(State(app): State<App>, Path((name, id)): Path<(String, u32)>) -> Response {
    let Some(s) = status_json(&app.worker, &name) else {
        return not_found(&name);
    };
    match s["tasks"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["id"] == id))
    {
        Some(t) => reply(StatusCode::OK, t.clone()),
        None => error(StatusCode::NOT_FOUND, format!("Task {name}-{id} not found")),
    }
}

async fn request_restart(app: &App, name: &str, only_failed: bool) -> Result<(), Response> {
    if app.worker.connector(name).is_none() {
        return Err(not_found(name));
    }
    app.worker
        .record(Change::Restart {
            name: name.to_string(),
            only_failed,
        })
        .await
        .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, e))
}

async fn restart(
    State(app): State<App>,
    Path(name): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let q = query(&raw);
    let (include_tasks, only_failed) = (flag(&q, "includeTasks"), flag(&q, "onlyFailed"));
    if let Err(r) = request_restart(&app, &name, only_failed).await {
        return r;
    }
    if !include_tasks && !only_failed {
        return no_content(StatusCode::NO_CONTENT);
    }
    let mut s = status_json(&app.worker, &name).unwrap_or(Json::Null);
    let failed = s["tasks"][0]["state"] == "FAILED";
    if !only_failed || failed {
        s["connector"]["state"] = json!("RESTARTING");
        if let Some(t) = s["tasks"].get_mut(0) {
            t["state"] = json!("RESTARTING");
        }
    }
    reply(StatusCode::ACCEPTED, s)
}

async fn task_restart(State(app): State<App>, Path((name, id)): Path<(String, u32)>) -> Response {
    if id != 0 && app.worker.connector(&name).is_some() {
        return error(StatusCode::NOT_FOUND, format!("Task {name}-{id} not found"));
    }
    match request_restart(&app, &name, false).await {
        Ok(()) => no_content(StatusCode::NO_CONTENT),
        Err(r) => r,
    }
}

async fn set_target(app: &App, name: &str, state: TargetState, code: StatusCode) -> Response {
    if app.worker.connector(name).is_none() {
        return not_found(name);
    }
    if let Err(e) = app
        .worker
        .record(Change::Target {
            name: name.to_string(),
            state,
        })
        .await
    {
        return error(StatusCode::INTERNAL_SERVER_ERROR, e);
    }
    settle(&app.worker, |w| {
        w.connector(name).is_some_and(|(_, t, _)| t == state)
    })
    .await;
    no_content(code)
}

async fn pause(State(app): State<App>, Path(name): Path<String>) -> Response {
    set_target(&app, &name, TargetState::Paused, StatusCode::ACCEPTED).await
}

async fn resume(State(app): State<App>, Path(name): Path<String>) -> Response {
    set_target(&app, &name, TargetState::Started, StatusCode::ACCEPTED).await
}

async fn stop(State(app): State<App>, Path(name): Path<String>) -> Response {
    let r = set_target(&app, &name, TargetState::Stopped, StatusCode::NO_CONTENT).await;
    // the stop is done when the connector's pipeline has ended (its status says STOPPED)
    settle(&app.worker, |w| {
        w.status(&name).is_none_or(|s| s.state == "STOPPED")
    })
    .await;
    r
}

async fn topics(State(app): State<App>, Path(name): Path<String>) -> Response {
    if app.worker.connector(&name).is_none() {
        return not_found(&name);
    }
    reply(
        StatusCode::OK,
        json!({ name.clone(): {"topics": app.worker.runner().topics(&name)} }),
    )
}

async fn topics_reset(State(app): State<App>, Path(name): Path<String>) -> Response {
    if app.worker.connector(&name).is_none() {
        return not_found(&name);
    }
    no_content(StatusCode::NO_CONTENT)
}

async fn offsets(State(app): State<App>, Path(name): Path<String>) -> Response {
    let Some((props, _, _)) = app.worker.connector(&name) else {
        return not_found(&name);
    };
    match app.worker.runner().offsets(&name, &props).await {
        Ok(o) => reply(StatusCode::OK, json!({"offsets": o})),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

fn require_stopped(app: &App, name: &str) -> Result<BTreeMap<String, String>, Response> {
    let Some((props, target, _)) = app.worker.connector(name) else {
        return Err(not_found(name));
    };
    let stopped = target == TargetState::Stopped
        && app
            .worker
            .status(name)
            .is_some_and(|s| s.state == "STOPPED");
    if !stopped {
        return Err(error(
            StatusCode::BAD_REQUEST,
            format!("Connectors must be in the STOPPED state before their offsets can be modified. This can be done for the specified connector by issuing a 'PUT' request to the '/connectors/{name}/stop' endpoint"),
        ));
    }
    Ok(props)
}

async fn alter_offsets(State(app): State<App>, Path(name): Path<String>, body: Bytes) -> Response {
    let props = match require_stopped(&app, &name) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let doc: Json = match serde_json::from_slice(&body) {
        Ok(d) => d,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("Request body is not valid JSON: {e}"),
            )
        }
    };
    let Some(entries) = doc["offsets"].as_array() else {
        return error(StatusCode::BAD_REQUEST, "The request body must contain an \"offsets\" array of {\"partition\", \"offset\"} objects");
    };
    match app
        .worker
        .runner()
        .alter_offsets(&name, &props, entries)
        .await
    {
        Ok(()) => reply(
            StatusCode::OK,
            json!({"message": "The offsets for this connector have been altered successfully"}),
        ),
        Err(e) => error(StatusCode::BAD_REQUEST, e),
    }
}

async fn reset_offsets(State(app): State<App>, Path(name): Path<String>) -> Response {
    let props = match require_stopped(&app, &name) {
        Ok(p) => p,
        Err(r) => return r,
    };
    match app.worker.runner().reset_offsets(&name, &props).await {
        Ok(()) => reply(
            StatusCode::OK,
            json!({"message": "The offsets for this connector have been reset successfully"}),
        ),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

async fn plugins(State(app): State<App>, RawQuery(raw): RawQuery) -> Response {
    let q = query(&raw);
    let connectors_only = !q
        .iter()
        .any(|(k, v)| k == "connectorsOnly" && v.eq_ignore_ascii_case("false"));
    let version = env!("CARGO_PKG_VERSION");
    let mut out: Vec<Json> = app
        .worker
        .runner()
        .plugins()
        .into_iter()
        .map(|(class, ty, v)| json!({"class": class, "type": ty, "version": v}))
        .collect();
    if !connectors_only {
        for c in sluice_connect::transforms::TRANSFORM_CLASSES {
            out.push(json!({"class": c, "type": "transformation", "version": version}));
        }
        for c in sluice_connect::transforms::PREDICATE_CLASSES {
            out.push(json!({"class": c, "type": "predicate", "version": version}));
        }
        for c in sluice_connect::converter::CONVERTER_CLASSES {
            out.push(json!({"class": c, "type": "converter", "version": version}));
        }
    }
    reply(StatusCode::OK, json!(out))
}

async fn validate(State(app): State<App>, Path(class): Path<String>, body: Bytes) -> Response {
    let mut props = match serde_json::from_slice::<Json>(&body)
        .map_err(|e| e.to_string())
        .and_then(|j| config_map(&j))
    {
        Ok(p) => p,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    props
        .entry("connector.class".into())
        .or_insert(class.clone());
    let name = props
        .get("name")
        .cloned()
        .unwrap_or_else(|| "validate".into());
    let err = app.worker.runner().validate(&name, &props).err();
    // the error belongs to the first property it names, else to connector.class
    let owner = err
        .as_ref()
        .and_then(|e| {
            props
                .keys()
                .filter(|k| e.contains(k.as_str()))
                .max_by_key(|k| k.len())
                .cloned()
        })
        .unwrap_or_else(|| "connector.class".into());
    let configs: Vec<Json> = props
        .iter()
        .map(|(k, v)| {
            let errors: Vec<&String> = err.iter().filter(|_| *k == owner).collect();
            json!({
                "definition": {"name": k, "type": "STRING", "required": false, "default_value": null,
                    "importance": "MEDIUM", "documentation": "", "group": "Common", "width": "NONE",
                    "display_name": k, "dependents": [], "order": 0},
                "value": {"name": k, "value": v, "recommended_values": [], "errors": errors, "visible": true}
            })
        })
        .collect();
    reply(
        StatusCode::OK,
        json!({"name": class, "error_count": usize::from(err.is_some()), "groups": ["Common"], "configs": configs}),
    )
}
