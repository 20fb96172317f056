//! The control endpoint: counters as JSON (`/stats`) and as `fake_exporter_*` metrics
//! (`/metrics`, per listener). Plain HTTP, no auth: it is for the harness.
//!
//! One exporter's `/stats` lists its listeners. A fleet's lists its groups, each with the
//! sum of its listeners' counters (thousands of listeners make a per-listener list of
//! hundreds of KB); `/stats?per=listener` lists every listener with its group.

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

/// One fleet group's counters, summed over its listeners, in the fleet's `/stats` JSON
/// (which a reader of a fleet it did not start parses back: `Vec<GroupStats>`).
#[derive(Debug, Serialize, serde::Deserialize)]
pub struct GroupStats {
    /// The group's name.
    pub group: String,
    /// Its listeners.
    pub listeners: usize,
    /// The first listener's address.
    pub first: String,
    /// The last listener's address.
    pub last: String,
    /// The sum of its listeners' counters.
    #[serde(flatten)]
    pub stats: StatsSnapshot,
}

/// One listener of a fleet, with its group, in `/stats?per=listener`.
#[derive(Debug, Serialize)]
pub struct GroupListenerStats {
    /// The group's name.
    pub group: String,
    /// The listener.
    #[serde(flatten)]
    pub listener: ListenerStats,
}

/// The observation routes of one exporter, to merge into its control router:
/// `GET /observations` (the log as JSON, oldest first; 404 unless the exporter observes)
/// and `POST /close-connections` (closes every open connection; 204).
pub fn observation_app(control: crate::ExporterControl) -> Router {
    Router::new()
        .route("/observations", get(observations_json))
        .route("/close-connections", axum::routing::post(close_connections))
        .with_state(control)
}

async fn observations_json(State(control): State<crate::ExporterControl>) -> Response {
    if !control.observing() {
        return (
            http::StatusCode::NOT_FOUND,
            "observations are off; start with --control.observe=N\n",
        )
            .into_response();
    }
    Json(control.observations()).into_response()
}

async fn close_connections(State(control): State<crate::ExporterControl>) -> http::StatusCode {
    control.close_connections();
    http::StatusCode::NO_CONTENT
}

/// The control router over a set of listeners.
pub fn control_app(listeners: Arc<Vec<ListenerHandle>>) -> Router {
    Router::new()
        .route("/stats", get(stats_json))
        .route("/metrics", get(stats_metrics))
        .with_state(listeners)
}

/// The control router of a fleet: `/stats` per group (`?per=listener` per listener),
/// `/metrics` per listener.
pub fn fleet_control_app(groups: Vec<(String, Vec<ListenerHandle>)>) -> Router {
    let all: Arc<Vec<ListenerHandle>> =
        Arc::new(groups.iter().flat_map(|(_, l)| l.iter().cloned()).collect());
    let groups = Arc::new(groups);
    Router::new()
        .route(
            "/stats",
            get(move |uri: http::Uri| {
                let groups = groups.clone();
                let per_listener = uri
                    .query()
                    .is_some_and(|q| q.split('&').any(|kv| kv == "per=listener"));
                async move { fleet_stats_json(&groups, per_listener) }
            }),
        )
        .route("/metrics", get(stats_metrics))
        .with_state(all)
}

fn fleet_stats_json(groups: &[(String, Vec<ListenerHandle>)], per_listener: bool) -> Response {
    if per_listener {
        let listeners: Vec<GroupListenerStats> = groups
            .iter()
            .flat_map(|(name, listeners)| {
                listeners.iter().map(move |l| GroupListenerStats {
                    group: name.clone(),
                    listener: ListenerStats {
                        addr: l.addr.to_string(),
                        stats: l.stats.snapshot(),
                    },
                })
            })
            .collect();
        return Json(listeners).into_response();
    }
    let summary: Vec<GroupStats> = groups
        .iter()
        .map(|(name, listeners)| {
            let mut stats = StatsSnapshot::default();
            for l in listeners {
                stats.merge(&l.stats.snapshot());
            }
            let addr =
                |l: Option<&ListenerHandle>| l.map(|l| l.addr.to_string()).unwrap_or_default();
            GroupStats {
                group: name.clone(),
                listeners: listeners.len(),
                first: addr(listeners.first()),
                last: addr(listeners.last()),
                stats,
            }
        })
        .collect();
    Json(summary).into_response()
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
