//! `explain --config prometheus.yml`: promtool's verdict, then a throwaway Prometheus
//! (loopback only, through the fixture) running the file's jobs until each target was
//! scraped, explained like a running one, and stopped.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use super::{explain, ExplainError, ExplainOptions, Explanation};
use crate::backend::PrometheusChoice;
use crate::fixture::PrometheusFixture;
use crate::lab::diagnose;
use crate::promconfig::{self, PromConfigError, PromtoolCheck, ScrapeConfig};

/// How to explain a configuration file.
#[derive(Clone, Debug)]
pub struct ConfigOptions {
    /// Which Prometheus to start.
    pub prometheus: PrometheusChoice,
    /// How long to wait until every target was scraped once.
    pub scrape_deadline: Duration,
    /// The scrape interval of the throwaway Prometheus (jobs that set their own keep it).
    pub scrape_interval: Duration,
    /// How to explain it once it runs.
    pub explain: ExplainOptions,
}

impl Default for ConfigOptions {
    fn default() -> Self {
        Self {
            prometheus: PrometheusChoice::default(),
            scrape_deadline: Duration::from_secs(60),
            scrape_interval: Duration::from_secs(1),
            explain: ExplainOptions {
                keepalive_window: Duration::from_secs(5),
                ..ExplainOptions::default()
            },
        }
    }
}

/// promtool's verdict on the file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PromtoolVerdict {
    /// Whether `promtool check config` accepted the file.
    pub passed: bool,
    /// What promtool printed.
    pub output: String,
    /// Where the refusal points (`prometheus.yml line N: ...`), when refused.
    pub look_at: String,
}

/// A configuration file, explained.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ConfigExplanation {
    /// The file.
    pub config: PathBuf,
    /// promtool's verdict.
    pub promtool: PromtoolVerdict,
    /// The throwaway Prometheus' targets; none when promtool refused the file.
    #[serde(flatten)]
    pub explanation: Option<Explanation>,
}

/// `path` made absolute against `base` (Prometheus reads a relative path in a job from the
/// configuration file's folder; the throwaway Prometheus runs its own copy elsewhere).
fn rebase(path: &mut Option<PathBuf>, base: &Path) {
    if let Some(p) = path.as_mut().filter(|p| p.is_relative()) {
        *p = base.join(&*p);
    }
}

fn rebase_job(job: &mut ScrapeConfig, base: &Path) {
    if let Some(tls) = job.tls_config.as_mut() {
        rebase(&mut tls.ca_file, base);
        rebase(&mut tls.cert_file, base);
        rebase(&mut tls.key_file, base);
    }
    if let Some(basic) = job.basic_auth.as_mut() {
        rebase(&mut basic.password_file, base);
    }
    if let Some(auth) = job.authorization.as_mut() {
        rebase(&mut auth.credentials_file, base);
    }
}

/// Explains the configuration file at `path`.
pub async fn explain_config(
    path: &Path,
    options: &ConfigOptions,
) -> Result<ConfigExplanation, ExplainError> {
    let config_error = |e: PromConfigError| ExplainError::Config(e.to_string());
    let yaml = std::fs::read_to_string(path)
        .map_err(|e| ExplainError::Config(format!("{}: cannot read it: {e}", path.display())))?;
    let owned = path.to_owned();
    let checked = tokio::task::spawn_blocking(move || promconfig::promtool_check(&owned))
        .await
        .map_err(|e| ExplainError::Config(format!("promtool did not finish: {e}")))?;
    let promtool = match checked {
        Ok(PromtoolCheck::Passed { output }) => PromtoolVerdict {
            passed: true,
            output,
            look_at: String::new(),
        },
        Err(PromConfigError::PromtoolRejected { output, .. }) => {
            let finding = diagnose::config_refused(&output, &yaml);
            return Ok(ConfigExplanation {
                config: path.to_owned(),
                promtool: PromtoolVerdict {
                    passed: false,
                    output,
                    look_at: finding.look_at,
                },
                explanation: None,
            });
        }
        Err(other) => return Err(config_error(other)),
    };
    let loaded = promconfig::load(path).map_err(config_error)?;
    let base = path
        .canonicalize()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("."));
    let mut builder = PrometheusFixture::builder()
        .prometheus(&options.prometheus)
        .scrape_interval(options.scrape_interval)
        .mount(base.clone());
    for mut job in loaded.scrape_configs {
        rebase_job(&mut job, &base);
        builder = builder.job(job);
    }
    let fixture_error = |e: crate::fixture::FixtureError| ExplainError::Config(e.to_string());
    let prom = builder.start().await.map_err(fixture_error)?;
    // Every target scraped once (or its job dropped); a target never scraped in time is
    // shown as Prometheus has it (`unknown`).
    let _ = prom.wait_scraped(1, options.scrape_deadline).await;
    let explained = explain(prom.api().clone(), &options.explain).await;
    prom.stop().await.map_err(fixture_error)?;
    Ok(ConfigExplanation {
        config: path.to_owned(),
        promtool,
        explanation: Some(explained?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_files_are_read_from_the_configuration_folder() {
        let mut job: ScrapeConfig = serde_norway::from_str::<crate::promconfig::PrometheusConfig>(
            "scrape_configs:\n  - job_name: n\n    tls_config:\n      ca_file: ca.crt\n      cert_file: /abs/c.crt\n    basic_auth:\n      username: u\n      password_file: pw\n    static_configs:\n      - targets: [a:1]\n",
        )
        .unwrap()
        .scrape_configs
        .remove(0);
        rebase_job(&mut job, Path::new("/etc/prometheus"));
        let tls = job.tls_config.unwrap();
        assert_eq!(tls.ca_file.unwrap(), Path::new("/etc/prometheus/ca.crt"));
        assert_eq!(tls.cert_file.unwrap(), Path::new("/abs/c.crt"));
        assert_eq!(
            job.basic_auth.unwrap().password_file.unwrap(),
            Path::new("/etc/prometheus/pw")
        );
    }
}
