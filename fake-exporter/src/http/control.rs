//! The control endpoint: every listener's counters, as JSON (`/stats`) and as
//! `fake_exporter_*` metrics (`/metrics`). Plain HTTP, no auth: it is for the harness.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use http::header;
use serde::Serialize;

use crate::stats::{ListenerHandle, StatsSnapshot};

/// One listener's counters in the `/stats` JSON.
#[derive(Debug, Serialize)]
pub struct ListenerStats {
    /// The listener's address.
    pub addr: String,
    /// Its counters.
    #[serde(flatten)]
    pub stats: StatsSnapshot,
}

/// The control router over a set of listeners.
pub fn control_app(listeners: Arc<Vec<ListenerHandle>>) -> Router {
    Router::new()
        .route("/stats", get(stats_json))
        .route("/metrics", get(stats_metrics))
        .with_state(listeners)
}

async fn stats_json(State(listeners): State<Arc<Vec<ListenerHandle>>>) -> Json<Vec<ListenerStats>> {
    Json(
        listeners
            .iter()
            .map(|l| ListenerStats {
                addr: l.addr.to_string(),
                stats: l.stats.snapshot(),
            })
            .collect(),
    )
}

async fn stats_metrics(State(listeners): State<Arc<Vec<ListenerHandle>>>) -> Response {
    let mut out = String::new();
    for l in listeners.iter() {
        l.stats
            .snapshot()
            .render_prometheus(&l.addr.to_string(), &mut out);
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response()
}
