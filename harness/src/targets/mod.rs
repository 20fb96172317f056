//! Prometheus HTTP API client for verdicts (deadline-driven waits are `supervise::poll_until`).
//!
//! Everything here asks Prometheus itself: target health and `lastError` from
//! `/api/v1/targets`, instant queries from `/api/v1/query`, the build from
//! `/api/v1/status/buildinfo`, and counters Prometheus keeps about itself from its own
//! `/metrics` page (which it does not necessarily scrape), parsed from the text format.
//!
//! Scrape counts come from `count_over_time(up[1d])`: Prometheus writes one `up` sample per
//! scrape attempt, failed or not, so the count per `(job, instance)` is the number of scrapes so
//! far. Stale markers are not counted by PromQL, and each run uses a fresh TSDB, so the window
//! only needs to be longer than the run.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Timeout of every single request to Prometheus.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Deadline of `POST /-/reload`: a reload stops every scrape pool the new config drops, and
/// with thousands of jobs on a busy machine that takes longer than an API read.
const RELOAD_TIMEOUT: Duration = Duration::from_secs(60);

/// Errors talking to the Prometheus HTTP API.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request did not complete (connection refused, timeout, ...).
    #[error("{url} failed: {source}; is Prometheus running and listening there?")]
    Http {
        /// The URL requested.
        url: String,
        /// The underlying client error.
        source: reqwest::Error,
    },
    /// Prometheus answered with an error status and no API error body.
    #[error("{url} returned HTTP {status}: {body}")]
    Status {
        /// The URL requested.
        url: String,
        /// The HTTP status code.
        status: u16,
        /// The start of the response body.
        body: String,
    },
    /// Prometheus answered `"status": "error"`.
    #[error("{url}: Prometheus API error `{error_type}`: {error}")]
    Api {
        /// The URL requested.
        url: String,
        /// `errorType` (e.g. `bad_data`).
        error_type: String,
        /// `error`, Prometheus' message.
        error: String,
    },
    /// The body is not what this Prometheus API version should return.
    #[error("{url}: unexpected response: {reason}; body starts with: {body}")]
    Decode {
        /// The URL requested.
        url: String,
        /// What did not match.
        reason: String,
        /// The start of the response body.
        body: String,
    },
    /// The CA file for an `https://` Prometheus cannot be used as a trust store.
    #[error("{}: cannot trust it for Prometheus' own TLS: {reason}", .path.display())]
    Ca {
        /// The CA file.
        path: std::path::PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A query returned another result type than the one asked for.
    #[error("query `{query}` returned a {got} result; expected an instant vector or a scalar")]
    ResultType {
        /// The PromQL query.
        query: String,
        /// The `resultType` returned.
        got: String,
    },
}

/// Health of a target: what `/api/v1/targets` reports (`up`, `down`, `unknown`), or
/// `missing` when the job is not there at all because Prometheus dropped its scrape pool.
/// The one health type of the crate: verdicts, expectations and reports all use it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    /// The last scrape succeeded.
    Up,
    /// The last scrape failed; see `last_error`.
    Down,
    /// The job is not in `/api/v1/targets`: Prometheus dropped its scrape pool. Never sent
    /// by Prometheus itself.
    Missing,
    /// Not scraped yet (or a value this client does not know).
    #[default]
    #[serde(other)]
    Unknown,
}

impl Health {
    /// The lowercase label (`up`, `down`, `missing`, `unknown`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Up => "up",
            Self::Down => "down",
            Self::Missing => "missing",
            Self::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// One active target.
#[derive(Clone, Debug, PartialEq)]
pub struct TargetStatus {
    /// The job (`scrapePool`).
    pub job: String,
    /// The `instance` label (empty if relabelling removed it).
    pub instance: String,
    /// The URL Prometheus scrapes.
    pub scrape_url: String,
    /// Health after the last scrape.
    pub health: Health,
    /// Error text of the last scrape, empty when it succeeded.
    pub last_error: String,
    /// Start of the last scrape; `None` before the first one.
    pub last_scrape: Option<SystemTime>,
    /// Duration of the last scrape, in seconds.
    pub last_scrape_duration: f64,
    /// Target labels after relabelling.
    pub labels: BTreeMap<String, String>,
    /// Labels before relabelling (`__address__`, `__scheme__`, ...).
    pub discovered_labels: BTreeMap<String, String>,
}

/// A target dropped by relabelling; only its discovered labels remain.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct DroppedTarget {
    /// Labels before relabelling.
    #[serde(rename = "discoveredLabels")]
    pub discovered_labels: BTreeMap<String, String>,
}

/// One element of an instant vector (or a scalar, with no labels).
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// The series labels, `__name__` included when the query kept it.
    pub labels: BTreeMap<String, String>,
    /// Evaluation timestamp, Unix seconds.
    pub timestamp: f64,
    /// The value (`NaN` and infinities included).
    pub value: f64,
}

/// Build of the Prometheus server.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildInfo {
    /// Prometheus version (`2.42.0+ds`).
    pub version: String,
    /// VCS revision.
    #[serde(default)]
    pub revision: String,
    /// VCS branch.
    #[serde(default)]
    pub branch: String,
    /// Go version it was built with (`go1.19.8`); decides the wording of TLS errors.
    pub go_version: String,
}

impl BuildInfo {
    /// `(major, minor)` of the Go version, e.g. `(1, 19)`.
    pub fn go_major_minor(&self) -> Option<(u32, u32)> {
        let rest = self.go_version.strip_prefix("go")?;
        let mut parts = rest.split(|c: char| !c.is_ascii_digit());
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        Some((major, minor))
    }

    /// The major version (`2` for `2.42.0+ds`); 2 when the version does not parse, the
    /// oldest wording this crate knows.
    pub fn major_version(&self) -> u32 {
        self.version
            .split('.')
            .next()
            .and_then(|m| m.parse().ok())
            .unwrap_or(2)
    }

    /// Whether this build prefixes certificate errors with `tls: failed to verify certificate: `
    /// (Go ≥ 1.20).
    pub fn prefixes_tls_verify_errors(&self) -> bool {
        self.go_major_minor().is_some_and(|v| v >= (1, 20))
    }
}

/// `(job, instance)` of a target.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TargetKey {
    /// The job name.
    pub job: String,
    /// The `instance` label.
    pub instance: String,
}

/// One series of Prometheus' own `/metrics` page.
#[derive(Clone, Debug, PartialEq)]
pub struct TextSample {
    /// The metric name.
    pub name: String,
    /// The labels.
    pub labels: BTreeMap<String, String>,
    /// The value.
    pub value: f64,
}

/// A client of one Prometheus server's HTTP API (plain HTTP).
#[derive(Clone, Debug)]
pub struct PromApi {
    base: String,
    client: reqwest::Client,
    basic_auth: Option<(String, String)>,
    bearer: Option<String>,
}

impl PromApi {
    /// A client for the Prometheus at `base_url` (`http://127.0.0.1:9090`, trailing `/` allowed).
    pub fn new(base_url: &str) -> Self {
        // Prometheus always runs on loopback here: a user's HTTP(S)_PROXY must not route
        // these requests elsewhere.
        let client = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .no_proxy()
            .build()
            // Invariant: the builder only fails when a TLS backend or system configuration cannot
            // be loaded; this reqwest is built without TLS and with no proxy settings to load.
            .unwrap_or_default();
        Self {
            base: base_url.trim_end_matches('/').to_owned(),
            client,
            basic_auth: None,
            bearer: None,
        }
    }

    /// Trusts the CA in `ca_file` (PEM) for an `https://` base URL: Prometheus started with
    /// TLS in its own `--web.config.file`.
    pub fn ca_file(self, ca_file: &std::path::Path) -> Result<Self, ApiError> {
        self.tls_files(ca_file, None)
    }

    /// [`Self::ca_file`], and a client certificate and key (PEM) to present: a Prometheus
    /// whose own web config asks for one.
    pub fn tls_files(
        mut self,
        ca_file: &std::path::Path,
        client: Option<(&std::path::Path, &std::path::Path)>,
    ) -> Result<Self, ApiError> {
        let ca = |reason: String| ApiError::Ca {
            path: ca_file.to_owned(),
            reason,
        };
        let roots = crate::conformance::direct::ca_roots(ca_file).map_err(|e| ca(e.to_string()))?;
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| ca(e.to_string()))?
            .with_root_certificates(roots);
        let tls = match client {
            None => builder.with_no_client_auth(),
            Some((cert, key)) => {
                let (chain, key) = crate::conformance::direct::load_identity(cert, key)
                    .map_err(|e| ca(e.to_string()))?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| ca(e.to_string()))?
            }
        };
        self.client = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .no_proxy()
            .use_preconfigured_tls(tls)
            .build()
            .map_err(|e| ca(e.to_string()))?;
        Ok(self)
    }

    /// Sends Basic credentials on every request (Prometheus started with `--web.config.file`).
    pub fn basic_auth(mut self, username: impl Into<String>, password: impl Into<String>) -> Self {
        self.basic_auth = Some((username.into(), password.into()));
        self
    }

    /// Sends `Authorization: Bearer <token>` on every request (a Prometheus behind a proxy
    /// or web config that takes tokens).
    pub fn bearer(mut self, token: impl Into<String>) -> Self {
        self.bearer = Some(token.into());
        self
    }

    /// The base URL, without trailing `/`.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Active targets (`GET /api/v1/targets?state=active`).
    pub async fn targets(&self) -> Result<Vec<TargetStatus>, ApiError> {
        let url = format!("{}/api/v1/targets?state=active", self.base);
        let data: TargetsData = self.get_api(&url).await?;
        Ok(data.active_targets.into_iter().map(Into::into).collect())
    }

    /// Targets dropped by relabelling (`GET /api/v1/targets?state=dropped`).
    pub async fn dropped_targets(&self) -> Result<Vec<DroppedTarget>, ApiError> {
        let url = format!("{}/api/v1/targets?state=dropped", self.base);
        let data: TargetsData = self.get_api(&url).await?;
        Ok(data.dropped_targets)
    }

    /// Runs an instant query; a scalar result comes back as one sample without labels.
    pub async fn query(&self, promql: &str) -> Result<Vec<Sample>, ApiError> {
        let url = format!("{}/api/v1/query", self.base);
        let request = self.client.get(&url).query(&[("query", promql)]);
        let body = self.send(&url, request).await?;
        let data: QueryData = decode_api(&url, &body)?;
        samples(promql, data)
    }

    /// The configuration Prometheus loaded, as YAML with every default filled in
    /// (`GET /api/v1/status/config`); parse it with `promconfig::parse_loaded`.
    pub async fn loaded_config_yaml(&self) -> Result<String, ApiError> {
        #[derive(Deserialize)]
        struct ConfigData {
            yaml: String,
        }
        let url = format!("{}/api/v1/status/config", self.base);
        let data: ConfigData = self.get_api(&url).await?;
        Ok(data.yaml)
    }

    /// The server's build (`GET /api/v1/status/buildinfo`).
    pub async fn build_info(&self) -> Result<BuildInfo, ApiError> {
        let url = format!("{}/api/v1/status/buildinfo", self.base);
        self.get_api(&url).await
    }

    /// Number of scrapes so far per `(job, instance)`, failed ones included, from
    /// `count_over_time(up[1d])` (see the module documentation). Targets not scraped yet are
    /// absent; dropped scrape pools never appear.
    pub async fn scrape_counts(&self) -> Result<BTreeMap<TargetKey, u64>, ApiError> {
        let samples = self.query(SCRAPE_COUNT_QUERY).await?;
        Ok(scrape_counts_from(samples))
    }

    /// Failed scrapes so far per `(job, instance)` (`up` was 0), from
    /// `count_over_time(up[1d]) - sum_over_time(up[1d])`. Each one is a scrape whose
    /// connection Prometheus may have dropped (a timeout, a reset).
    pub async fn failed_scrape_counts(&self) -> Result<BTreeMap<TargetKey, u64>, ApiError> {
        let samples = self.query(FAILED_SCRAPE_COUNT_QUERY).await?;
        Ok(scrape_counts_from(samples))
    }

    /// Every series of Prometheus' own `/metrics` page, with the URL read.
    pub async fn self_metrics(&self) -> Result<(String, Vec<TextSample>), ApiError> {
        let url = format!("{}/metrics", self.base);
        let body = self.send(&url, self.client.get(&url)).await?;
        let samples = parse_text_format(&body).map_err(|e| ApiError::Decode {
            url: url.clone(),
            reason: e.to_string(),
            body: prefix(&body),
        })?;
        Ok((url, samples))
    }

    /// `Ok` when `/-/ready` answers 200 now (Prometheus protects it too when started with
    /// `--web.config.file`: the client's credentials are sent).
    pub async fn ready(&self) -> Result<(), ApiError> {
        let url = format!("{}/-/ready", self.base);
        self.send(&url, self.client.get(&url)).await.map(drop)
    }

    /// Asks Prometheus to reload its config file (`POST /-/reload`, needs
    /// `--web.enable-lifecycle`).
    pub async fn reload(&self) -> Result<(), ApiError> {
        let url = format!("{}/-/reload", self.base);
        let request = self.client.post(&url).timeout(RELOAD_TIMEOUT);
        self.send(&url, request).await.map(drop)
    }

    async fn get_api<T: DeserializeOwned>(&self, url: &str) -> Result<T, ApiError> {
        let body = self.send(url, self.client.get(url)).await?;
        decode_api(url, &body)
    }

    /// Sends `request` and returns the body; API error bodies (4xx/5xx JSON) are decoded into
    /// [`ApiError::Api`].
    async fn send(&self, url: &str, request: reqwest::RequestBuilder) -> Result<String, ApiError> {
        let request = match &self.basic_auth {
            Some((user, pass)) => request.basic_auth(user, Some(pass)),
            None => request,
        };
        let request = match &self.bearer {
            Some(token) => request.bearer_auth(token),
            None => request,
        };
        let http = |source| ApiError::Http {
            url: url.to_owned(),
            source,
        };
        let response = request.send().await.map_err(http)?;
        let status = response.status();
        let body = response.text().await.map_err(http)?;
        if !status.is_success() {
            if let Ok(Envelope::<serde_json::Value> {
                status,
                error: Some(error),
                error_type,
                ..
            }) = serde_json::from_str(&body)
            {
                if status == "error" {
                    return Err(ApiError::Api {
                        url: url.to_owned(),
                        error_type: error_type.unwrap_or_default(),
                        error,
                    });
                }
            }
            return Err(ApiError::Status {
                url: url.to_owned(),
                status: status.as_u16(),
                body: prefix(&body),
            });
        }
        Ok(body)
    }
}

/// The PromQL behind [`PromApi::failed_scrape_counts`].
pub(crate) const FAILED_SCRAPE_COUNT_QUERY: &str =
    "count_over_time(up[1d]) - sum_over_time(up[1d])";

/// The PromQL behind [`PromApi::scrape_counts`].
pub(crate) const SCRAPE_COUNT_QUERY: &str = "count_over_time(up[1d])";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Envelope<T> {
    status: String,
    data: Option<T>,
    error_type: Option<String>,
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TargetsData {
    #[serde(default)]
    active_targets: Vec<ApiTarget>,
    #[serde(default)]
    dropped_targets: Vec<DroppedTarget>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApiTarget {
    #[serde(default)]
    discovered_labels: BTreeMap<String, String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    scrape_pool: String,
    scrape_url: String,
    #[serde(default)]
    last_error: String,
    #[serde(default)]
    last_scrape: String,
    #[serde(default)]
    last_scrape_duration: f64,
    health: Health,
}

impl From<ApiTarget> for TargetStatus {
    fn from(raw: ApiTarget) -> Self {
        Self {
            instance: raw.labels.get("instance").cloned().unwrap_or_default(),
            job: raw.scrape_pool,
            scrape_url: raw.scrape_url,
            health: raw.health,
            last_error: raw.last_error,
            // Go's zero time ("0001-01-01T00:00:00Z") means "never"; it predates the Unix epoch
            // and humantime refuses it, which maps it to None as wanted.
            last_scrape: humantime::parse_rfc3339(&raw.last_scrape).ok(),
            last_scrape_duration: raw.last_scrape_duration,
            labels: raw.labels,
            discovered_labels: raw.discovered_labels,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct QueryData {
    result_type: String,
    result: serde_json::Value,
}

#[derive(Deserialize)]
struct ApiVectorSample {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    value: (f64, String),
}

fn decode_api<T: DeserializeOwned>(url: &str, body: &str) -> Result<T, ApiError> {
    let decode = |reason: String| ApiError::Decode {
        url: url.to_owned(),
        reason,
        body: prefix(body),
    };
    let envelope: Envelope<T> = serde_json::from_str(body).map_err(|e| decode(e.to_string()))?;
    if envelope.status != "success" {
        return Err(ApiError::Api {
            url: url.to_owned(),
            error_type: envelope.error_type.unwrap_or_default(),
            error: envelope.error.unwrap_or_default(),
        });
    }
    envelope
        .data
        .ok_or_else(|| decode("`status` is success but `data` is missing".to_owned()))
}

fn samples(query: &str, data: QueryData) -> Result<Vec<Sample>, ApiError> {
    let bad = |reason: String| ApiError::Decode {
        url: format!("/api/v1/query?query={query}"),
        reason,
        body: prefix(&data.result.to_string()),
    };
    let raw: Vec<ApiVectorSample> = match data.result_type.as_str() {
        "vector" => serde_json::from_value(data.result.clone()).map_err(|e| bad(e.to_string()))?,
        "scalar" => {
            let value: (f64, String) =
                serde_json::from_value(data.result.clone()).map_err(|e| bad(e.to_string()))?;
            vec![ApiVectorSample {
                metric: BTreeMap::new(),
                value,
            }]
        }
        other => {
            return Err(ApiError::ResultType {
                query: query.to_owned(),
                got: other.to_owned(),
            })
        }
    };
    raw.into_iter()
        .map(|s| {
            let value = parse_value(&s.value.1)
                .ok_or_else(|| bad(format!("sample value {:?} is not a number", s.value.1)))?;
            Ok(Sample {
                labels: s.metric,
                timestamp: s.value.0,
                value,
            })
        })
        .collect()
}

fn scrape_counts_from(samples: Vec<Sample>) -> BTreeMap<TargetKey, u64> {
    samples
        .into_iter()
        .map(|mut s| {
            let key = TargetKey {
                job: s.labels.remove("job").unwrap_or_default(),
                instance: s.labels.remove("instance").unwrap_or_default(),
            };
            // count_over_time yields small non-negative integers; the cast cannot lose anything.
            (key, s.value.max(0.0) as u64)
        })
        .collect()
}

/// Dials per job that failed for another reason than a refused connection
/// (`net_conntrack_dialer_conn_failed_total{reason!="refused"}`): each may have completed the
/// TCP handshake in the kernel (the exporter accepted it) before Go gave up on it.
pub(crate) fn failed_dials_from(samples: &[TextSample]) -> BTreeMap<String, f64> {
    let mut out: BTreeMap<String, f64> = BTreeMap::new();
    for s in samples
        .iter()
        .filter(|s| s.name == "net_conntrack_dialer_conn_failed_total")
        .filter(|s| s.labels.get("reason").is_some_and(|r| r != "refused"))
    {
        if let Some(job) = s.labels.get("dialer_name") {
            *out.entry(job.clone()).or_default() += s.value;
        }
    }
    out
}

pub(crate) fn conntrack_from(samples: &[TextSample]) -> BTreeMap<String, f64> {
    samples
        .iter()
        .filter(|s| s.name == "net_conntrack_dialer_conn_established_total")
        .filter_map(|s| Some((s.labels.get("dialer_name")?.clone(), s.value)))
        .collect()
}

/// Parses a Prometheus/Go float: `NaN`, `+Inf`, `-Inf` and decimal numbers.
fn parse_value(s: &str) -> Option<f64> {
    match s {
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        other => other.parse().ok(),
    }
}

/// Parses the Prometheus text exposition format (0.0.4): comments and blank lines are skipped,
/// timestamps ignored. The error names the 1-based line and what is wrong.
pub fn parse_text_format(text: &str) -> Result<Vec<TextSample>, TextFormatError> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let sample = parse_sample_line(line).map_err(|reason| TextFormatError {
            line: n + 1,
            reason,
            text: line.chars().take(200).collect(),
        })?;
        out.push(sample);
    }
    Ok(out)
}

/// A line of the text exposition format that [`parse_text_format`] cannot read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}: {text:?}")]
pub struct TextFormatError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub reason: &'static str,
    /// The line (at most 200 characters).
    pub text: String,
}

fn parse_sample_line(line: &str) -> Result<TextSample, &'static str> {
    let name_end = line
        .find(|c: char| c == '{' || c.is_whitespace())
        .ok_or("no value after the metric name")?;
    let name = &line[..name_end];
    if name.is_empty() {
        return Err("empty metric name");
    }
    let mut rest = &line[name_end..];
    let mut labels = BTreeMap::new();
    if let Some(body) = rest.strip_prefix('{') {
        let mut chars = body.char_indices().peekable();
        let mut consumed = None;
        loop {
            // Skip separators.
            while let Some((_, c)) = chars.peek() {
                if *c == ',' || c.is_whitespace() {
                    chars.next();
                } else {
                    break;
                }
            }
            match chars.peek() {
                Some((i, '}')) => {
                    consumed = Some(i + 1);
                    break;
                }
                None => break,
                _ => {}
            }
            let mut key = String::new();
            for (_, c) in chars.by_ref() {
                if c == '=' {
                    break;
                }
                key.push(c);
            }
            if chars.next().map(|(_, c)| c) != Some('"') {
                return Err("label value must be quoted");
            }
            let mut value = String::new();
            let mut closed = false;
            while let Some((_, c)) = chars.next() {
                match c {
                    '\\' => match chars.next().map(|(_, c)| c) {
                        Some('n') => value.push('\n'),
                        Some(other) => value.push(other),
                        None => return Err("dangling escape in label value"),
                    },
                    '"' => {
                        closed = true;
                        break;
                    }
                    c => value.push(c),
                }
            }
            if !closed {
                return Err("unterminated label value");
            }
            labels.insert(key.trim().to_owned(), value);
        }
        let end = consumed.ok_or("unterminated label set")?;
        rest = &body[end..];
    }
    let value_text = rest
        .split_whitespace()
        .next()
        .ok_or("missing sample value")?;
    let value = parse_value(value_text).ok_or("sample value is not a number")?;
    Ok(TextSample {
        name: name.to_owned(),
        labels,
        value,
    })
}

/// The first 300 characters of `body`, for error messages.
fn prefix(body: &str) -> String {
    body.chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // All fixtures: captured from Prometheus 2.42.0+ds (go1.19.8) on 2026-11-24; see
    // tests/fixtures/prom-2.42/capture/ for the configuration and servers used.
    const TARGETS: &str = include_str!("../../tests/fixtures/prom-2.42/targets_active.json");
    const DROPPED: &str = include_str!("../../tests/fixtures/prom-2.42/targets_dropped.json");
    const BUILDINFO: &str = include_str!("../../tests/fixtures/prom-2.42/buildinfo.json");
    const QUERY_UP: &str = include_str!("../../tests/fixtures/prom-2.42/query_up.json");
    const QUERY_SCALAR: &str = include_str!("../../tests/fixtures/prom-2.42/query_scalar.json");
    const QUERY_COUNTS: &str =
        include_str!("../../tests/fixtures/prom-2.42/query_count_over_time_up.json");
    const QUERY_BAD: &str = include_str!("../../tests/fixtures/prom-2.42/query_bad_syntax.json");
    const METRICS: &str = include_str!("../../tests/fixtures/prom-2.42/prometheus_metrics.txt");

    fn targets() -> Vec<TargetStatus> {
        let data: TargetsData = decode_api("fixture", TARGETS).expect("targets fixture");
        data.active_targets.into_iter().map(Into::into).collect()
    }

    fn find<'a>(targets: &'a [TargetStatus], job: &str) -> &'a TargetStatus {
        targets
            .iter()
            .find(|t| t.job == job)
            .unwrap_or_else(|| panic!("job {job} missing from fixture"))
    }

    #[test]
    fn active_targets_parse_with_health_and_last_error() {
        let targets = targets();
        assert_eq!(targets.len(), 63);

        let up = find(&targets, "tls_ok");
        assert_eq!(up.health, Health::Up);
        assert_eq!(up.last_error, "");
        assert_eq!(up.instance, "127.0.0.1:19103");
        assert_eq!(up.scrape_url, "https://127.0.0.1:19103/metrics");
        assert!(up.last_scrape.is_some());
        assert!(up.last_scrape_duration > 0.0);
        assert_eq!(up.labels["job"], "tls_ok");
        assert_eq!(up.discovered_labels["__scheme__"], "https");

        let down = find(&targets, "tls_rogue_ca");
        assert_eq!(down.health, Health::Down);
        assert!(
            down.last_error
                .ends_with("x509: certificate signed by unknown authority"),
            "{}",
            down.last_error
        );

        let fresh = find(&targets, "not_scraped_yet");
        assert_eq!(fresh.health, Health::Unknown);
        assert_eq!(fresh.last_scrape, None, "Go zero time means never scraped");
        assert_eq!(fresh.last_scrape_duration, 0.0);
    }

    #[test]
    fn dropped_targets_parse() {
        let data: TargetsData = decode_api("fixture", DROPPED).expect("dropped fixture");
        assert!(data.active_targets.is_empty());
        assert_eq!(data.dropped_targets.len(), 1);
        assert_eq!(
            data.dropped_targets[0].discovered_labels["__address__"],
            "127.0.0.1:19102"
        );
    }

    #[test]
    fn build_info_parses_and_knows_the_go_wording() {
        let info: BuildInfo = decode_api("fixture", BUILDINFO).expect("buildinfo fixture");
        assert_eq!(info.version, "2.42.0+ds");
        assert_eq!(info.go_version, "go1.19.8");
        assert_eq!(info.go_major_minor(), Some((1, 19)));
        assert!(!info.prefixes_tls_verify_errors());
        let newer = BuildInfo {
            go_version: "go1.23.4".into(),
            ..info
        };
        assert!(newer.prefixes_tls_verify_errors());
    }

    #[test]
    fn vector_and_scalar_queries_become_samples() {
        let data: QueryData = decode_api("fixture", QUERY_UP).expect("vector fixture");
        let vector = samples("up", data).expect("vector");
        assert_eq!(vector.len(), 3);
        let plain = vector
            .iter()
            .find(|s| s.labels["job"] == "plain_ok")
            .expect("plain_ok sample");
        assert_eq!(plain.value, 1.0);
        assert_eq!(plain.labels["__name__"], "up");
        assert!(plain.timestamp > 1.7e9);

        let data: QueryData = decode_api("fixture", QUERY_SCALAR).expect("scalar fixture");
        let scalar = samples("scalar(up)", data).expect("scalar");
        assert_eq!(scalar.len(), 1);
        assert!(scalar[0].labels.is_empty());
        assert_eq!(scalar[0].value, 1.0);

        let matrix = QueryData {
            result_type: "matrix".into(),
            result: serde_json::json!([]),
        };
        let err = samples("up[1m]", matrix).expect_err("matrix is refused");
        assert!(err.to_string().contains("matrix"), "{err}");
    }

    #[test]
    fn api_errors_carry_prometheus_message() {
        let err = decode_api::<QueryData>("http://p/api/v1/query", QUERY_BAD).expect_err("error");
        let text = err.to_string();
        assert!(text.contains("bad_data"), "{text}");
        assert!(text.contains("unclosed left parenthesis"), "{text}");
        let err = decode_api::<QueryData>("http://p/x", "<html>").expect_err("not json");
        assert!(err.to_string().contains("<html>"), "{err}");
    }

    #[test]
    fn scrape_counts_are_per_job_and_instance() {
        let data: QueryData = decode_api("fixture", QUERY_COUNTS).expect("counts fixture");
        let counts = scrape_counts_from(samples(SCRAPE_COUNT_QUERY, data).expect("vector"));
        let plain = TargetKey {
            job: "plain_ok".into(),
            instance: "127.0.0.1:19101".into(),
        };
        // The capture ran about three minutes at a 1 s interval.
        let n = counts[&plain];
        assert!((100..400).contains(&n), "plain_ok scraped {n} times");
        // Failed scrapes count too.
        let refused = TargetKey {
            job: "refused".into(),
            instance: "127.0.0.1:19199".into(),
        };
        assert!(counts[&refused] > 100);
        // Dropped scrape pools never appear.
        assert!(!counts.keys().any(|k| k.job == "tls_min_gt_max"));
    }

    #[test]
    fn self_metrics_give_conntrack_and_failed_pools() {
        let series = parse_text_format(METRICS).expect("prometheus /metrics parses");
        assert!(series.len() > 1000);
        let established = conntrack_from(&series);
        assert_eq!(established["tls_ok"], 1.0, "keep-alive: one connection");
        assert!(established["close_without_response"] > 10.0);
        assert_eq!(established["tls_min_gt_max"], 0.0);
        let failed = series
            .iter()
            .find(|s| s.name == "prometheus_target_scrape_pools_failed_total")
            .expect("metric present in 2.42");
        // Three broken jobs, counted again at each of the three `/-/reload`s of the capture run.
        assert_eq!(failed.value, 12.0);
        let build = series
            .iter()
            .find(|s| s.name == "prometheus_build_info")
            .expect("build info");
        assert_eq!(build.labels["goversion"], "go1.19.8");
    }

    #[test]
    fn text_format_edge_cases() {
        let text = "# HELP x y\n\nm{a=\"q\\\"uo\\\\te\\n\",b=\"}\"} +Inf 123\nn NaN\no{} -1.5e3\n";
        let series = parse_text_format(text).expect("parses");
        assert_eq!(series.len(), 3);
        assert_eq!(series[0].labels["a"], "q\"uo\\te\n");
        assert_eq!(series[0].labels["b"], "}");
        assert_eq!(series[0].value, f64::INFINITY);
        assert!(series[1].value.is_nan());
        assert_eq!(series[2].value, -1500.0);
        let err = parse_text_format("ok 1\nbad{a=\"x} 1\n").expect_err("unterminated");
        assert!(err.to_string().starts_with("line 2:"), "{err}");
    }
}
