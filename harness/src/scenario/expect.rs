//! What a scrape case expects: the outcome (health and error classes) per Prometheus major,
//! what the exporter does with its web-config at start, and the connection behaviour.

use serde::Serialize;

use super::{HttpVersion, KeepAlive};
use crate::classify::ErrorClass;
use crate::targets::Health;

/// Health and error class of a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Outcome {
    /// Health.
    pub health: Health,
    /// Class of `lastError` (`none` when up).
    pub class: ErrorClass,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.health {
            Health::Up => f.write_str("up"),
            health => write!(f, "{health} ({})", self.class),
        }
    }
}

/// The health and the error class(es) a case accepts. More than one class states a racy
/// outcome (e.g. Go's TLS 1.3 client-certificate rejection reads `bad certificate`,
/// `broken pipe` or `connection reset` from run to run): any of them passes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Expected {
    /// Health.
    pub health: Health,
    /// Accepted classes, at least one (`none` when up).
    pub classes: Vec<ErrorClass>,
}

impl Expected {
    /// One health and one class.
    pub fn one(health: Health, class: ErrorClass) -> Self {
        Self {
            health,
            classes: vec![class],
        }
    }

    /// Whether `outcome` is one this expectation accepts.
    pub fn accepts(&self, outcome: &Outcome) -> bool {
        outcome.health == self.health && self.classes.contains(&outcome.class)
    }

    /// Whether `class` is among the accepted classes.
    pub fn accepts_class(&self, class: ErrorClass) -> bool {
        self.classes.contains(&class)
    }
}

impl std::fmt::Display for Expected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.health == Health::Up {
            return f.write_str("up");
        }
        let classes: Vec<String> = self.classes.iter().map(ToString::to_string).collect();
        write!(f, "{} ({})", self.health, classes.join(" | "))
    }
}

/// What the exporter should do with the case's web-config when it starts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ExporterStart {
    /// It starts and serves; Prometheus' verdict is what is judged.
    #[default]
    Serves,
    /// It refuses the web-config at start (`expect: { exporter: refuses_config }`): nothing
    /// is scraped; the case passes when the start fails and, when given, the exporter's
    /// error message contains `message_contains`.
    RefusesConfig {
        /// A substring of the exporter's error message.
        message_contains: Option<String>,
    },
}

/// What Prometheus should report about a case.
#[derive(Debug, Clone, PartialEq)]
pub struct Expectation {
    /// What the exporter does at start. With [`ExporterStart::RefusesConfig`] nothing is
    /// scraped and the fields below are placeholders (a job that is missing).
    pub exporter: ExporterStart,
    /// Health and class(es) from Prometheus 2.x.
    pub outcome: Expected,
    /// Health and class(es) from Prometheus 3.x and later, where they differ.
    pub prometheus_3: Option<Expected>,
    /// A substring the raw `lastError` must contain.
    pub last_error_contains: Option<String>,
    /// Connection behaviour.
    pub keep_alive: KeepAlive,
    /// Whether the file said `keep_alive:` (otherwise it follows the health).
    pub keep_alive_declared: bool,
    /// HTTP version every scrape must have used.
    pub http_version: Option<HttpVersion>,
}

impl Expectation {
    /// Scrapes succeed, over one kept-alive connection.
    pub fn up() -> Self {
        Self::outcome(Health::Up, ErrorClass::None, KeepAlive::One)
    }

    /// Scrapes fail with `class`; connections are not checked.
    pub fn down(class: ErrorClass) -> Self {
        Self::outcome(Health::Down, class, KeepAlive::Any)
    }

    fn outcome(health: Health, class: ErrorClass, keep_alive: KeepAlive) -> Self {
        Self {
            exporter: ExporterStart::Serves,
            outcome: Expected::one(health, class),
            prometheus_3: None,
            last_error_contains: None,
            keep_alive,
            keep_alive_declared: false,
            http_version: None,
        }
    }

    /// The exporter should refuse its web-config at start (nothing is scraped).
    pub fn refuses_config(message_contains: Option<String>) -> Self {
        Self {
            exporter: ExporterStart::RefusesConfig { message_contains },
            ..Self::outcome(Health::Missing, ErrorClass::JobMissing, KeepAlive::Any)
        }
    }

    /// Whether the case is about the exporter refusing its web-config at start.
    pub fn refuses_config_at_start(&self) -> bool {
        matches!(self.exporter, ExporterStart::RefusesConfig { .. })
    }

    /// The outcome expected from a Prometheus of this major version.
    pub fn outcome_for(&self, prometheus_major: u32) -> &Expected {
        match (prometheus_major >= 3, &self.prometheus_3) {
            (true, Some(v3)) => v3,
            _ => &self.outcome,
        }
    }
}
