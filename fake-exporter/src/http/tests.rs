//! The request gate and the metrics endpoint, driven without sockets.

use std::path::Path;

use axum::body::Body;
use http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

use super::*;
use crate::web_config::WebConfig;

fn config(yaml: &str) -> WebConfig {
    WebConfig::from_yaml_str(yaml, Path::new("/tmp/web-config.yml")).expect("valid test config")
}

fn basic_config() -> WebConfig {
    let hash = bcrypt::hash("s3cret", 4).expect("hash");
    config(&format!("basic_auth_users:\n  prom: '{hash}'\n"))
}

async fn send(app: Router, req: Request<Body>) -> (StatusCode, http::HeaderMap, String) {
    let response = app.oneshot(req).await.expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

fn get(path: &str) -> http::request::Builder {
    Request::get(path)
}

#[tokio::test]
async fn missing_credentials_get_a_basic_challenge_and_go_body() {
    let state = AppState::for_test(Some(basic_config()));
    let (status, headers, body) = send(
        app(state.clone()),
        get("/metrics").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(headers[header::WWW_AUTHENTICATE], "Basic");
    assert_eq!(body, "Unauthorized\n");
    assert_eq!(headers[header::CONTENT_TYPE], "text/plain; charset=utf-8");
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    let stats = state.stats().snapshot();
    assert_eq!(stats.requests_with_auth(AuthOutcome::Missing), 1);
}

#[tokio::test]
async fn right_wrong_and_unknown_basic_credentials() {
    let state = AppState::for_test(Some(basic_config()));
    let auth = crate::auth::basic_header;
    let ok = get("/metrics")
        .header(header::AUTHORIZATION, auth("prom", "s3cret"))
        .body(Body::empty())
        .unwrap();
    let (status, headers, body) = send(app(state.clone()), ok).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    assert!(body.contains("# TYPE"), "{body}");

    let wrong = get("/metrics")
        .header(header::AUTHORIZATION, auth("prom", "nope"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        send(app(state.clone()), wrong).await.0,
        StatusCode::UNAUTHORIZED
    );
    let unknown = get("/metrics")
        .header(header::AUTHORIZATION, auth("eve", "fakepassword"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        send(app(state.clone()), unknown).await.0,
        StatusCode::UNAUTHORIZED
    );
    let bearer = get("/metrics")
        .header(header::AUTHORIZATION, "Bearer s3cret")
        .body(Body::empty())
        .unwrap();
    let (status, headers, _) = send(app(state.clone()), bearer).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(headers[header::WWW_AUTHENTICATE], "Basic");

    let s = state.stats().snapshot();
    assert_eq!(s.requests_with_auth(AuthOutcome::Ok), 1);
    assert_eq!(s.requests_with_auth(AuthOutcome::WrongPassword), 1);
    assert_eq!(s.requests_with_auth(AuthOutcome::UnknownUser), 1);
    assert_eq!(s.requests_with_auth(AuthOutcome::Missing), 1);
}

#[tokio::test]
async fn bearer_tokens_extension() {
    let state = AppState::for_test(Some(config(
        "fake_exporter:\n  bearer_auth:\n    tokens: [abc]\n    expiring_tokens:\n      - token: old\n        expires_at: 2001-01-01T00:00:00Z\n",
    )));
    let req = |t: &str| {
        get("/metrics")
            .header(header::AUTHORIZATION, format!("Bearer {t}"))
            .body(Body::empty())
            .unwrap()
    };
    assert_eq!(send(app(state.clone()), req("abc")).await.0, StatusCode::OK);
    let (status, headers, _) = send(app(state.clone()), req("old")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(headers[header::WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
        .contains("expired"));
    let (status, headers, _) = send(
        app(state.clone()),
        get("/metrics").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(headers[header::WWW_AUTHENTICATE], "Bearer");
    assert_eq!(
        state
            .stats()
            .snapshot()
            .requests_with_auth(AuthOutcome::ExpiredToken),
        1
    );
}

#[tokio::test]
async fn openmetrics_only_when_asked_and_gzip_when_accepted() {
    let state = AppState::for_test(None);
    let om = get("/metrics")
        .header(header::ACCEPT, "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
        .body(Body::empty())
        .unwrap();
    let (status, headers, body) = send(app(state.clone()), om).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("application/openmetrics-text"));
    assert!(body.ends_with("# EOF\n"), "{body}");

    let plain = get("/metrics").body(Body::empty()).unwrap();
    let (_, headers, body) = send(app(state.clone()), plain).await;
    assert!(headers[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    assert!(!body.contains("# EOF"));

    let gz = get("/metrics")
        .header(header::ACCEPT_ENCODING, "gzip")
        .body(Body::empty())
        .unwrap();
    let response = app(state).oneshot(gz).await.unwrap();
    assert_eq!(response.headers()[header::CONTENT_ENCODING], "gzip");
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut text)
        .expect("valid gzip");
    assert!(text.contains("# TYPE"));
}

#[tokio::test]
async fn unknown_paths_get_go_404_and_root_a_landing_page() {
    let state = AppState::for_test(None);
    let (status, _, body) = send(
        app(state.clone()),
        get("/nope").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body, "404 page not found\n");
    let (status, _, body) = send(app(state), get("/").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("/metrics"));
}

#[tokio::test]
async fn extra_headers_are_set_on_success_and_on_401() {
    let hash = bcrypt::hash("x", 4).expect("hash");
    let state = AppState::for_test(Some(config(&format!(
        "http_server_config:\n  headers:\n    X-Frame-Options: deny\nbasic_auth_users:\n  u: '{hash}'\n"
    ))));
    let (status, headers, _) = send(app(state), get("/metrics").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(headers["x-frame-options"], "deny");
}

#[tokio::test]
async fn broken_config_file_gives_500_before_anything_else() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("web-config.yml");
    std::fs::write(&path, "basic_auth_users: {}\n").unwrap();
    let source = Arc::new(ConfigSource::file(&path));
    let state = AppState::new(
        source,
        Arc::new(Metrics::new(Default::default())),
        FaultSpec::default(),
        Vec::new(),
        "/metrics",
        Arc::new(Stats::default()),
        Some(RateLimiter::new(Duration::from_secs(3600), 1)),
        None,
    );
    assert_eq!(
        send(
            app(state.clone()),
            get("/metrics").body(Body::empty()).unwrap()
        )
        .await
        .0,
        StatusCode::OK
    );
    // rate limit: burst 1 used up
    assert_eq!(
        send(
            app(state.clone()),
            get("/metrics").body(Body::empty()).unwrap()
        )
        .await
        .0,
        StatusCode::TOO_MANY_REQUESTS
    );
    std::fs::write(&path, "this: is: not: valid\n").unwrap();
    let (status, _, body) = send(app(state), get("/metrics").body(Body::empty()).unwrap()).await;
    assert_eq!(
        status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "500 comes before 429"
    );
    assert_eq!(body, "Internal Server Error\n");
}

#[tokio::test]
async fn status_and_content_type_faults() {
    let mut state = AppState::for_test(None);
    Arc::get_mut(&mut state.inner).unwrap().faults = FaultSpec::parse_flag("status=503").unwrap();
    let (status, _, _) = send(app(state), get("/metrics").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);

    let mut state = AppState::for_test(None);
    Arc::get_mut(&mut state.inner).unwrap().faults =
        FaultSpec::parse_flag("content-type=missing,oversize-body=50000").unwrap();
    let (status, headers, body) =
        send(app(state), get("/metrics").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers.get(header::CONTENT_TYPE).is_none());
    assert!(body.len() >= 50000);
}
