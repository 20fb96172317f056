//! Scenario files generated from axes: the cartesian product of the chosen axes (server
//! certificate, `client_auth_type`, client certificate, TLS versions on each side, HTTP/2 on
//! each side, Basic/Bearer credentials), each combination one case whose expectation comes
//! from the rules table in [`rules`]. `scrape-harness generate` is the command line over
//! [`generate`]; the format written is the one [`crate::Plan`] reads.
//!
//! Combinations that differ only in axes that cannot matter are written once: a plain-HTTP
//! exporter has no client-certificate, TLS-version or HTTP/2 variants. When `cases` is
//! given, a larger product is sampled (a seeded shuffle, so every value of every axis
//! shows up) and a smaller one is repeated, each copy its own job (`-r2`, `-r3`, ...).

pub mod rules;
mod yaml;

use std::str::FromStr;
use std::time::Duration;

use fake_exporter::pki::{ClientCert, ServerCert};
use fake_exporter::ClientAuthType;

/// A generator input that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GenerateError {
    /// An axis name that is not one.
    #[error("{flag}: unknown axis `{name}`; use one of: {}", AxisName::ALL.map(AxisName::as_str).join(", "))]
    UnknownAxis {
        /// The flag it was given to.
        flag: &'static str,
        /// The name.
        name: String,
    },
    /// A value that is not one of the axis'.
    #[error("{flag}: `{value}` is not a value of axis `{axis}`; use one of: {}", .allowed.join(", "))]
    UnknownValue {
        /// The flag it was given to.
        flag: &'static str,
        /// The axis.
        axis: &'static str,
        /// The value.
        value: String,
        /// Its values.
        allowed: Vec<&'static str>,
    },
    /// An axis given twice.
    #[error("{flag}: axis `{axis}` is given twice; give it once with every value it should take")]
    Twice {
        /// The flag.
        flag: &'static str,
        /// The axis.
        axis: &'static str,
    },
    /// `--cases 0`.
    #[error("--cases: must be at least 1")]
    NoCases,
    /// `--cases` above the case limit of a run: such a file could not be run, and the
    /// cases are built in memory.
    #[error("--cases: {cases} is above {limit}, the most cases one run takes; generate several files (different --seed) for several runs, or raise {}", crate::scenario::limits::CASES.env)]
    TooManyCases {
        /// Asked for.
        cases: usize,
        /// The limit in force.
        limit: usize,
    },
}

/// The axes, by their command-line names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AxisName {
    /// `server-cert`: the exporter's certificate, or `none` for plain HTTP.
    ServerCert,
    /// `client-auth`: `client_auth_type`.
    ClientAuth,
    /// `client-cert`: the certificate the job presents.
    ClientCert,
    /// `server-tls`: the exporter's TLS versions.
    ServerTls,
    /// `client-tls`: the job's TLS versions.
    ClientTls,
    /// `exporter-http2`: `http_server_config.http2`.
    ExporterHttp2,
    /// `scrape-http2`: the job's `enable_http2`.
    ScrapeHttp2,
    /// `auth`: Basic/Bearer on the exporter and what the job sends.
    Auth,
}

impl AxisName {
    /// Every axis, in the order they vary in a product (the last fastest).
    pub const ALL: [Self; 8] = [
        Self::ServerCert,
        Self::ClientAuth,
        Self::ClientCert,
        Self::ServerTls,
        Self::ClientTls,
        Self::ExporterHttp2,
        Self::ScrapeHttp2,
        Self::Auth,
    ];

    /// The command-line name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ServerCert => "server-cert",
            Self::ClientAuth => "client-auth",
            Self::ClientCert => "client-cert",
            Self::ServerTls => "server-tls",
            Self::ClientTls => "client-tls",
            Self::ExporterHttp2 => "exporter-http2",
            Self::ScrapeHttp2 => "scrape-http2",
            Self::Auth => "auth",
        }
    }

    /// Every value the axis takes when it varies (the first is its value when it does not).
    pub fn values(self) -> Vec<&'static str> {
        match self {
            Self::ServerCert => {
                let mut v = vec!["valid", "none"];
                v.extend(
                    ServerCert::ALL
                        .iter()
                        .filter(|c| **c != ServerCert::Valid)
                        .map(|c| server_cert_name(*c)),
                );
                v
            }
            Self::ClientAuth => vec![
                "NoClientCert",
                "RequestClientCert",
                "RequireAnyClientCert",
                "VerifyClientCertIfGiven",
                "RequireAndVerifyClientCert",
            ],
            Self::ClientCert => vec!["none", "valid", "expired", "rogue-ca"],
            Self::ServerTls | Self::ClientTls => vec!["any", "tls12", "tls13"],
            Self::ExporterHttp2 | Self::ScrapeHttp2 => vec!["on", "off"],
            Self::Auth => Auth::ALL.iter().map(|a| a.as_str()).collect(),
        }
    }
}

impl FromStr for AxisName {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Self::ALL.into_iter().find(|a| a.as_str() == s).ok_or(())
    }
}

fn server_cert_name(c: ServerCert) -> &'static str {
    match c {
        ServerCert::Valid => "valid",
        ServerCert::Chain => "chain",
        ServerCert::Expired => "expired",
        ServerCert::NotYetValid => "not-yet-valid",
        ServerCert::WrongHost => "wrong-host",
        ServerCert::SelfSigned => "self-signed",
        ServerCert::RogueCa => "rogue-ca",
        ServerCert::CnOnly => "cn-only",
        ServerCert::MissingIntermediate => "missing-intermediate",
    }
}

/// TLS versions one side allows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum TlsRange {
    /// No `min_version`/`max_version`: TLS 1.2 and 1.3.
    #[default]
    Any,
    /// `max_version: TLS12`.
    Tls12,
    /// `min_version: TLS13`.
    Tls13,
}

/// Credentials: what the exporter wants and what the job sends.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Auth {
    /// Neither.
    #[default]
    None,
    /// Basic on the exporter, the right password from the job.
    BasicRight,
    /// Basic, a wrong password.
    BasicWrong,
    /// Basic, no credentials from the job.
    BasicMissing,
    /// Bearer (fake-exporter extension), the right token.
    BearerRight,
    /// Bearer, a wrong token.
    BearerWrong,
    /// Bearer, no token.
    BearerMissing,
}

impl Auth {
    /// Every value.
    pub const ALL: [Self; 7] = [
        Self::None,
        Self::BasicRight,
        Self::BasicWrong,
        Self::BasicMissing,
        Self::BearerRight,
        Self::BearerWrong,
        Self::BearerMissing,
    ];

    /// The command-line name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::BasicRight => "basic-right",
            Self::BasicWrong => "basic-wrong",
            Self::BasicMissing => "basic-missing",
            Self::BearerRight => "bearer-right",
            Self::BearerWrong => "bearer-wrong",
            Self::BearerMissing => "bearer-missing",
        }
    }

    /// Whether only fake-exporter can serve it (Bearer is not part of exporter-toolkit).
    pub const fn fake_only(self) -> bool {
        matches!(
            self,
            Self::BearerRight | Self::BearerWrong | Self::BearerMissing
        )
    }
}

/// One point of the product.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Combination {
    /// `None`: plain HTTP.
    pub server_cert: Option<ServerCert>,
    /// `client_auth_type`.
    pub client_auth: ClientAuthType,
    /// The job's client certificate.
    pub client_cert: Option<ClientCert>,
    /// The exporter's versions.
    pub server_tls: TlsRange,
    /// The job's versions.
    pub client_tls: TlsRange,
    /// `http_server_config.http2`.
    pub exporter_http2: bool,
    /// `enable_http2`.
    pub scrape_http2: bool,
    /// Credentials.
    pub auth: Auth,
}

impl Default for Combination {
    fn default() -> Self {
        Self {
            server_cert: Some(ServerCert::Valid),
            client_auth: ClientAuthType::NoClientCert,
            client_cert: None,
            server_tls: TlsRange::Any,
            client_tls: TlsRange::Any,
            exporter_http2: true,
            scrape_http2: true,
            auth: Auth::None,
        }
    }
}

impl Combination {
    /// Sets one axis from its (checked) value name.
    fn set(&mut self, axis: AxisName, value: &str) {
        let tls = |v: &str| match v {
            "tls12" => TlsRange::Tls12,
            "tls13" => TlsRange::Tls13,
            _ => TlsRange::Any,
        };
        match axis {
            AxisName::ServerCert => {
                self.server_cert = (value != "none").then(|| {
                    ServerCert::ALL
                        .iter()
                        .copied()
                        .find(|c| server_cert_name(*c) == value)
                        .unwrap_or(ServerCert::Valid)
                })
            }
            AxisName::ClientAuth => {
                self.client_auth = ClientAuthType::parse(value).unwrap_or_default()
            }
            AxisName::ClientCert => {
                self.client_cert = match value {
                    "valid" => Some(ClientCert::Valid),
                    "expired" => Some(ClientCert::Expired),
                    "rogue-ca" => Some(ClientCert::RogueCa),
                    _ => None,
                }
            }
            AxisName::ServerTls => self.server_tls = tls(value),
            AxisName::ClientTls => self.client_tls = tls(value),
            AxisName::ExporterHttp2 => self.exporter_http2 = value == "on",
            AxisName::ScrapeHttp2 => self.scrape_http2 = value == "on",
            AxisName::Auth => {
                self.auth = Auth::ALL
                    .into_iter()
                    .find(|a| a.as_str() == value)
                    .unwrap_or_default()
            }
        }
    }

    /// Whether a plain-HTTP exporter carries TLS-only variations (written once instead).
    fn redundant(&self) -> bool {
        let d = Self::default();
        self.server_cert.is_none()
            && (self.client_auth != d.client_auth
                || self.client_cert != d.client_cert
                || self.server_tls != d.server_tls
                || self.client_tls != d.client_tls
                || self.exporter_http2 != d.exporter_http2
                || self.scrape_http2 != d.scrape_http2)
    }

    /// Whether only fake-exporter can serve it.
    pub fn fake_only(&self) -> bool {
        self.auth.fake_only()
    }
}

/// Which axes vary, over which values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Axes(Vec<(AxisName, Vec<&'static str>)>);

impl Axes {
    /// Every axis over every value.
    pub fn all() -> Self {
        Self(AxisName::ALL.iter().map(|a| (*a, a.values())).collect())
    }

    /// From `--axes a,b,c` (each over all its values) and `--axis name=v1,v2` (each over
    /// the values given). Nothing given: every axis.
    pub fn parse(names: &[String], restricted: &[String]) -> Result<Self, GenerateError> {
        let mut axes: Vec<(AxisName, Vec<&'static str>)> = Vec::new();
        let mut add = |flag: &'static str,
                       axis: AxisName,
                       values: Vec<&'static str>|
         -> Result<(), GenerateError> {
            if axes.iter().any(|(a, _)| *a == axis) {
                return Err(GenerateError::Twice {
                    flag,
                    axis: axis.as_str(),
                });
            }
            axes.push((axis, values));
            Ok(())
        };
        let axis_named = |flag: &'static str, name: &str| {
            name.trim()
                .parse::<AxisName>()
                .map_err(|()| GenerateError::UnknownAxis {
                    flag,
                    name: name.trim().to_owned(),
                })
        };
        for name in names
            .iter()
            .flat_map(|n| n.split(','))
            .filter(|n| !n.trim().is_empty())
        {
            let axis = axis_named("--axes", name)?;
            add("--axes", axis, axis.values())?;
        }
        for spec in restricted {
            let (name, list) = spec.split_once('=').unwrap_or((spec, ""));
            let axis = axis_named("--axis", name)?;
            let allowed = axis.values();
            let mut values = Vec::new();
            for v in list.split(',').map(str::trim).filter(|v| !v.is_empty()) {
                let Some(known) = allowed.iter().find(|a| **a == v) else {
                    return Err(GenerateError::UnknownValue {
                        flag: "--axis",
                        axis: axis.as_str(),
                        value: v.to_owned(),
                        allowed,
                    });
                };
                values.push(*known);
            }
            if values.is_empty() {
                values = allowed;
            }
            add("--axis", axis, values)?;
        }
        if axes.is_empty() {
            return Ok(Self::all());
        }
        axes.sort_by_key(|(a, _)| *a);
        Ok(Self(axes))
    }

    /// The product, without redundant combinations, in axis order.
    pub fn product(&self) -> Vec<Combination> {
        let mut out = vec![Combination::default()];
        for (axis, values) in &self.0 {
            out = out
                .into_iter()
                .flat_map(|c| {
                    values.iter().map(move |v| {
                        let mut c = c;
                        c.set(*axis, v);
                        c
                    })
                })
                .collect();
        }
        out.retain(|c| !c.redundant());
        out
    }
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    /// The axes.
    pub axes: Axes,
    /// Exactly this many cases (sampled or repeated); `None`: the product.
    pub cases: Option<usize>,
    /// Scrape interval (and timeout); `None`: [`crate::pacing::interval_for`] the case count
    /// and this machine's cores.
    pub interval: Option<Duration>,
    /// Scrapes per target before verdicts.
    pub scrapes: u32,
    /// Leave out what only fake-exporter can serve (Bearer), for exporter-toolkit exporters.
    pub toolkit_only: bool,
    /// Seed of the sample.
    pub seed: u64,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        Self {
            axes: Axes::all(),
            cases: None,
            interval: None,
            scrapes: 3,
            toolkit_only: false,
            seed: 15,
        }
    }
}

/// A generated scenario file.
#[derive(Debug, Clone)]
pub struct Generated {
    /// The YAML text.
    pub yaml: String,
    /// Cases written.
    pub cases: usize,
    /// Distinct combinations among them.
    pub combinations: usize,
    /// Size of the product they came from.
    pub product: usize,
    /// The scrape interval written.
    pub interval: Duration,
    /// Whether the interval was picked from the case count and the machine.
    pub paced: bool,
}

/// Generates the scenario file.
pub fn generate(opts: &GenerateOptions) -> Result<Generated, GenerateError> {
    if opts.cases == Some(0) {
        return Err(GenerateError::NoCases);
    }
    // The limit in force when the file is run; an unreadable variable leaves the default
    // (`run` names it).
    let limit = crate::scenario::limits::Limits::from_env()
        .unwrap_or_default()
        .cases;
    if let Some(cases) = opts.cases.filter(|n| *n > limit) {
        return Err(GenerateError::TooManyCases { cases, limit });
    }
    let mut product = opts.axes.product();
    if opts.toolkit_only {
        product.retain(|c| !c.fake_only());
    }
    let total = product.len();
    let picked: Vec<(Combination, usize)> = match opts.cases {
        Some(n) if n < total => {
            let mut idx: Vec<usize> = (0..total).collect();
            shuffle(&mut idx, opts.seed);
            let mut idx = idx[..n].to_vec();
            idx.sort_unstable();
            idx.into_iter().map(|i| (product[i], 0)).collect()
        }
        Some(n) => (0..n).map(|i| (product[i % total], i / total)).collect(),
        None => product.iter().map(|c| (*c, 0)).collect(),
    };
    let interval = opts
        .interval
        .unwrap_or_else(|| crate::pacing::interval_for(picked.len(), crate::pacing::cores()));
    let combinations = picked.iter().filter(|(_, copy)| *copy == 0).count();
    let yaml = yaml::render(&picked, interval, opts.scrapes);
    Ok(Generated {
        yaml,
        cases: picked.len(),
        combinations,
        product: total,
        interval,
        paced: opts.interval.is_none(),
    })
}

/// Fisher-Yates with splitmix64: the same seed gives the same sample everywhere.
fn shuffle(v: &mut [usize], seed: u64) {
    let mut state = seed;
    let mut next = || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    for i in (1..v.len()).rev() {
        let j = (next() % (i as u64 + 1)) as usize;
        v.swap(i, j);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Plan;

    #[test]
    fn generated_files_parse_and_carry_the_rules_expectations() {
        let opts = GenerateOptions {
            cases: Some(300),
            interval: Some(Duration::from_secs(1)),
            ..GenerateOptions::default()
        };
        let g = generate(&opts).expect("generates");
        assert_eq!(g.cases, 300);
        let plan = Plan::from_sources(&[("gen.yaml".into(), g.yaml.clone())]).expect("parses");
        assert_eq!(plan.cases.len(), 300);
        assert_eq!(plan.defaults.scrape_interval, Duration::from_secs(1));
        assert_eq!(plan.defaults.scrapes, 3);
        let downs = plan
            .cases
            .iter()
            .filter(|c| c.expect.outcome.health == crate::targets::Health::Down)
            .count();
        assert!(downs > 0 && downs < 300, "{downs} down of 300");
        // The same options give the same file.
        assert_eq!(generate(&opts).expect("again").yaml, g.yaml);
    }

    #[test]
    fn a_small_product_is_repeated_and_plain_http_has_no_tls_variants() {
        let axes = Axes::parse(
            &["auth".into()],
            &[
                "server-cert=none,valid".into(),
                "client-tls=any,tls12".into(),
            ],
        )
        .expect("axes");
        // valid: 7 auth × 2 client-tls; none: 7 auth (client-tls variants dropped).
        assert_eq!(axes.product().len(), 21);
        let g = generate(&GenerateOptions {
            axes,
            cases: Some(50),
            interval: Some(Duration::from_secs(1)),
            ..GenerateOptions::default()
        })
        .expect("generates");
        assert_eq!((g.cases, g.combinations, g.product), (50, 21, 21));
        let plan = Plan::from_sources(&[("gen.yaml".into(), g.yaml)]).expect("parses");
        assert_eq!(plan.cases.len(), 50);
    }

    #[test]
    fn more_cases_than_a_run_takes_are_refused_before_any_is_built() {
        let opts = GenerateOptions {
            cases: Some(1_000_000_000),
            ..GenerateOptions::default()
        };
        let err = generate(&opts).expect_err("a billion cases").to_string();
        assert!(
            err.starts_with("--cases: 1000000000 is above 10000, the most cases one run takes"),
            "{err}"
        );
    }

    #[test]
    fn bad_axes_name_the_flag_and_the_choices() {
        let err = Axes::parse(&["server-certs".into()], &[]).expect_err("unknown axis");
        assert!(
            err.to_string()
                .starts_with("--axes: unknown axis `server-certs`; use one of: server-cert"),
            "{err}"
        );
        let err = Axes::parse(&[], &["client-auth=Nope".into()]).expect_err("unknown value");
        assert!(
            err.to_string().contains(
                "--axis: `Nope` is not a value of axis `client-auth`; use one of: NoClientCert"
            ),
            "{err}"
        );
        let err = Axes::parse(&["auth".into()], &["auth=none".into()]).expect_err("twice");
        assert!(err.to_string().contains("given twice"), "{err}");
    }

    #[test]
    fn toolkit_only_leaves_bearer_out() {
        let g = generate(&GenerateOptions {
            axes: Axes::parse(&["auth".into()], &[]).expect("axes"),
            toolkit_only: true,
            interval: Some(Duration::from_secs(1)),
            ..GenerateOptions::default()
        })
        .expect("generates");
        assert_eq!(g.cases, 4);
        assert!(!g.yaml.contains("bearer"), "{}", g.yaml);
    }
}
