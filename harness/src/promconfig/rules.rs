//! Rule files (`rule_files:`): the groups of alerting rules a run makes Prometheus
//! evaluate, written through serde like `prometheus.yml`.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{PromConfigError, PromDuration};

/// One rule file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RuleFile {
    /// Its groups.
    pub groups: Vec<RuleGroup>,
}

/// A group of rules evaluated together.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RuleGroup {
    /// The group's name.
    pub name: String,
    /// Its rules.
    pub rules: Vec<AlertingRule>,
}

/// An alerting rule.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AlertingRule {
    /// The alert's name.
    pub alert: String,
    /// The PromQL expression; every series it returns is an alert.
    pub expr: String,
    /// How long the expression must hold before the alert fires (none: at once).
    #[serde(default, rename = "for", skip_serializing_if = "Option::is_none")]
    pub for_: Option<PromDuration>,
    /// Labels added to the alert.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

impl RuleFile {
    /// One group with one alert that fires at every evaluation (`expr: vector(1)`, no `for`).
    pub fn always_firing(group: &str, alert: &str) -> Self {
        Self {
            groups: vec![RuleGroup {
                name: group.to_owned(),
                rules: vec![AlertingRule {
                    alert: alert.to_owned(),
                    expr: "vector(1)".to_owned(),
                    for_: None,
                    labels: BTreeMap::from([("severity".to_owned(), "none".to_owned())]),
                }],
            }],
        }
    }

    /// Writes the file as YAML.
    pub fn write(&self, path: &Path) -> Result<(), PromConfigError> {
        // Invariant: strings, maps and sequences only; serde_norway cannot fail on them.
        let yaml = serde_norway::to_string(self).expect("a rule file always serialises");
        std::fs::write(path, yaml).map_err(|source| PromConfigError::Write {
            path: path.to_owned(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_always_firing_rule_reads_like_a_hand_written_one() {
        let yaml = serde_norway::to_string(&RuleFile::always_firing("g", "A")).expect("yaml");
        assert_eq!(
            yaml,
            "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: vector(1)\n    labels:\n      severity: none\n"
        );
    }
}
