//! The HTTP endpoints of a running sluice: `GET /metrics` (Prometheus text format) and
//! `GET /health` (200 `{"status":"UP",…}` while every connector's source is connected, else
//! 503 `{"status":"DOWN",…}` naming the ones that are not — for liveness/readiness probes).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use serde_json::json;

use crate::metrics::Metrics;

/// Binds `addr` (so a taken port is an error at start) and returns the server to spawn.
pub async fn bind(
    addr: SocketAddr,
    metrics: Arc<Metrics>,
) -> std::io::Result<impl std::future::Future<Output = std::io::Result<()>>> {
    let app = Router::new()
        .route("/metrics", get(metrics_page))
        .route("/health", get(health))
        .with_state(metrics);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(%addr, "HTTP endpoints: /metrics /health");
    Ok(async move { axum::serve(listener, app).await })
}

async fn metrics_page(State(m): State<Arc<Metrics>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        m.render(),
    )
}

async fn health(State(m): State<Arc<Metrics>>) -> impl IntoResponse {
    let connectors = m.health();
    let up = !connectors.is_empty() && connectors.iter().all(|(_, s)| *s == "connected");
    let body = json!({
        "status": if up { "UP" } else { "DOWN" },
        "connectors": connectors
            .iter()
            .map(|(n, s)| {
                let connected = *s == "connected";
                (n.clone(), json!({"source_connected": connected, "source_state": s}))
            })
            .collect::<serde_json::Map<_, _>>(),
    });
    let status = if up {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
}
