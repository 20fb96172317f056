//! The parties of a scrape besides Prometheus and the exporter: an OAuth2 token endpoint
//! (`exporter.oauth2` + `scrape.oauth2`), a forward proxy (`proxy:` + `scrape.proxy_*`)
//! and a reverse proxy in front of the exporter (`exporter.reverse_proxy`), with what a
//! case expects of their counters (`expect.token_endpoint`, `expect.proxy`).
//!
//! Their raw forms (as written) are in `raw::third_parties`; the typed forms and their
//! checks live here. The Prometheus version every key needs was checked with
//! `promtool check config` of 2.42: `oauth2` (with `tls_config`, `scopes`,
//! `endpoint_params`, `client_secret_file`), `proxy_url` and `proxy_connect_header` are
//! accepted; `no_proxy` and `proxy_from_environment` are refused ("field no_proxy not found
//! in type config.ScrapeConfig") and need Prometheus 2.43 or later (prometheus/common 0.42),
//! so they are refused here with that advice.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use fake_exporter::pki::ServerCert;

use super::raw::scrape::{RawCase, RawExporter, RawTlsConfig};
use super::raw::third_parties::RawCounts;
use super::{ExporterCase, FileRef, ScrapeCase, ScrapeTls, Secret};

/// A reverse proxy in front of the exporter (`exporter.reverse_proxy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReverseProxy {
    /// nginx (`nginx-light`): TLS, `auth_basic` and client certificates at nginx, a plain
    /// fake exporter on 127.0.0.1 behind it.
    Nginx,
}

/// The case's fake OAuth2 token endpoint (`exporter.oauth2`); the exporter accepts only the
/// unexpired tokens it issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenEndpointCase {
    /// The client it knows.
    pub client_id: String,
    /// Its secret.
    pub client_secret: String,
    /// Scopes a client may ask for; `None`: any.
    pub scopes: Option<Vec<String>>,
    /// How long an issued token is accepted.
    pub token_lifetime: Duration,
    /// `expires_in` advertised instead of the lifetime (a lying endpoint).
    pub advertise_expires_in: Option<u64>,
    /// Serve HTTPS with this PKI server certificate; `None`: plain HTTP.
    pub server_cert: Option<ServerCert>,
    /// Form fields every token request must carry (Prometheus' `endpoint_params`).
    pub required_params: BTreeMap<String, String>,
}

/// `scrape.oauth2` of the job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuth2Case {
    /// `client_id`.
    pub client_id: String,
    /// `client_secret` / `client_secret_file`.
    pub client_secret: Option<Secret>,
    /// `scopes`.
    pub scopes: Vec<String>,
    /// `endpoint_params`.
    pub endpoint_params: BTreeMap<String, String>,
    /// `tls_config` (for the token endpoint).
    pub tls_config: Option<ScrapeTls>,
}

/// The case's fake forward proxy (`proxy:`); the job's `proxy_url` points at it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ForwardProxyCase {
    /// Users (plaintext passwords) it requires in `Proxy-Authorization: Basic`; none: no auth.
    pub users: BTreeMap<String, String>,
    /// No proxy at all: `proxy_url` points at a closed port.
    pub absent: bool,
    /// `user:password@` written into the job's `proxy_url` (Go sends it as
    /// `Proxy-Authorization: Basic` with CONNECT and with absolute-form requests).
    pub url_credentials: Option<(String, String)>,
}

/// An expected count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum Count {
    /// Exactly this many.
    Exactly(u64),
    /// At least this many: `{ at_least: N }`.
    AtLeast {
        /// The floor.
        at_least: u64,
    },
}

impl Count {
    /// Whether `n` satisfies it.
    pub fn accepts(self, n: u64) -> bool {
        match self {
            Self::Exactly(want) => n == want,
            Self::AtLeast { at_least } => n >= at_least,
        }
    }
}

impl std::fmt::Display for Count {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Exactly(n) => write!(f, "exactly {n}"),
            Self::AtLeast { at_least } => write!(f, "at least {at_least}"),
        }
    }
}

/// The counters `expect.token_endpoint` may name.
pub(crate) const TOKEN_COUNTERS: [&str; 5] = [
    "requests",
    "issued",
    "invalid_client",
    "invalid_scope",
    "invalid_request",
];
/// The counters `expect.proxy` may name.
pub(crate) const PROXY_COUNTERS: [&str; 6] = [
    "connections",
    "tunnels",
    "forwarded",
    "auth_refused",
    "upstream_failed",
    "refused",
];

/// Everything of a case that involves a third party.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ThirdParties {
    /// `exporter.oauth2`.
    pub token_endpoint: Option<TokenEndpointCase>,
    /// `scrape.oauth2`.
    pub oauth2: Option<OAuth2Case>,
    /// `proxy:`.
    pub forward_proxy: Option<ForwardProxyCase>,
    /// `scrape.proxy_connect_header`.
    pub proxy_connect_header: BTreeMap<String, Vec<String>>,
    /// `exporter.reverse_proxy`.
    pub reverse_proxy: Option<ReverseProxy>,
    /// `expect.token_endpoint`: counter name → expected count.
    pub expect_token_endpoint: BTreeMap<String, Count>,
    /// `expect.proxy`: counter name → expected count.
    pub expect_proxy: BTreeMap<String, Count>,
}

impl ThirdParties {
    /// Whether something sits between Prometheus and the exporter (Prometheus' dialer
    /// count then describes connections to it, not to the exporter).
    pub fn intermediary(&self) -> bool {
        self.forward_proxy.is_some() || self.reverse_proxy.is_some()
    }
}

type FieldError = (String, String);

fn field_err(field: &str, message: impl Into<String>) -> FieldError {
    (field.to_owned(), message.into())
}

/// Checks the third-party keys of `raw` against the checked exporter and scrape sides.
pub(super) fn check(
    raw: &RawCase,
    exporter: &ExporterCase,
    scrape: &ScrapeCase,
) -> Result<ThirdParties, FieldError> {
    let mut out = ThirdParties::default();
    check_token_endpoint(&raw.exporter, exporter, &mut out)?;
    check_oauth2(raw, scrape, &mut out)?;
    check_proxy(raw, &mut out)?;
    check_reverse_proxy_of(&raw.exporter, exporter, &mut out)?;
    check_expected_counters(raw, &mut out)?;
    Ok(out)
}

/// The parties an `exporter:` alone sets up (token endpoint, reverse proxy): those of a
/// receiver, whose client side (`send:`) has no oauth2 or proxy keys.
pub(super) fn check_exporter_side(
    raw: &RawExporter,
    exporter: &ExporterCase,
) -> Result<ThirdParties, FieldError> {
    let mut out = ThirdParties::default();
    check_token_endpoint(raw, exporter, &mut out)?;
    check_reverse_proxy_of(raw, exporter, &mut out)?;
    Ok(out)
}

fn check_reverse_proxy_of(
    raw: &RawExporter,
    exporter: &ExporterCase,
    out: &mut ThirdParties,
) -> Result<(), FieldError> {
    if let Some(kind) = raw.reverse_proxy {
        check_reverse_proxy(raw, exporter)?;
        out.reverse_proxy = Some(kind);
    }
    Ok(())
}

/// `exporter.oauth2`: the case's token endpoint.
fn check_token_endpoint(
    raw: &RawExporter,
    exporter: &ExporterCase,
    out: &mut ThirdParties,
) -> Result<(), FieldError> {
    if let Some(t) = &raw.oauth2 {
        if t.client_id.is_empty() {
            return Err(field_err("exporter.oauth2.client_id", "must not be empty"));
        }
        if exporter.bearer.is_configured() {
            return Err(field_err(
                "exporter.oauth2",
                "cannot be combined with `bearer_tokens`/`bearer_token_file`/`expired_bearer_tokens`: \
                 the exporter then accepts only the tokens the token endpoint issued; keep one",
            ));
        }
        let server_cert = t
            .server_cert
            .as_deref()
            .map(str::parse::<ServerCert>)
            .transpose()
            .map_err(|e| field_err("exporter.oauth2.server_cert", e.to_string()))?;
        let lifetime = t.token_lifetime.unwrap_or(Duration::from_secs(3600));
        if lifetime < Duration::from_secs(1) {
            return Err(field_err(
                "exporter.oauth2.token_lifetime",
                "must be at least 1s (`expires_in` is whole seconds)",
            ));
        }
        out.token_endpoint = Some(TokenEndpointCase {
            client_id: t.client_id.clone(),
            client_secret: t.client_secret.clone(),
            scopes: t.scopes.clone(),
            token_lifetime: lifetime,
            advertise_expires_in: t.advertise_expires_in,
            server_cert,
            required_params: t.required_params.clone(),
        });
    }
    Ok(())
}

/// `scrape.oauth2`: the client side of the token endpoint.
fn check_oauth2(
    raw: &RawCase,
    scrape: &ScrapeCase,
    out: &mut ThirdParties,
) -> Result<(), FieldError> {
    if let Some(o) = &raw.scrape.oauth2 {
        if scrape.auth.is_some() {
            return Err(field_err(
                "scrape.oauth2",
                "cannot be combined with `basic_auth` or `authorization`: Prometheus refuses such \
                 a config at load time (\"at most one of basic_auth, oauth2 & authorization must \
                 be configured\"). Keep one",
            ));
        }
        if o.token_url.is_some() {
            return Err(field_err(
                "scrape.oauth2.token_url",
                "is filled in by the harness (the case's token endpoint, from `exporter.oauth2`); \
                 remove it",
            ));
        }
        if out.token_endpoint.is_none() {
            return Err(field_err(
                "scrape.oauth2",
                "needs a token endpoint to point `token_url` at; add `exporter.oauth2: \
                 { client_id: ..., client_secret: ... }`",
            ));
        }
        let client_secret = super::check::secret(
            o.client_secret.as_ref(),
            o.client_secret_file.as_ref(),
            &raw.files,
            ("client_secret", "client_secret_file"),
        )
        .map_err(|(f, m)| field_err(&format!("scrape.oauth2.{f}"), m))?;
        let tls_config = o
            .tls_config
            .as_ref()
            .map(|t| tls(t, "scrape.oauth2.tls_config"))
            .transpose()?;
        out.oauth2 = Some(OAuth2Case {
            client_id: o.client_id.clone(),
            client_secret,
            scopes: o.scopes.clone(),
            endpoint_params: o.endpoint_params.clone(),
            tls_config,
        });
    } else if out.token_endpoint.is_some() {
        // An exporter behind a token endpoint scraped without oauth2 is a fine negative
        // case (401): nothing to check.
    }
    Ok(())
}

/// `proxy:` and the proxy keys of `scrape:`.
fn check_proxy(raw: &RawCase, out: &mut ThirdParties) -> Result<(), FieldError> {
    let p = &raw.scrape;
    for (key, set) in [
        ("no_proxy", p.no_proxy.is_some()),
        ("proxy_from_environment", p.proxy_from_environment.is_some()),
    ] {
        if set {
            return Err(field_err(
                &format!("scrape.{key}"),
                format!(
                    "needs Prometheus 2.43 or later (prometheus/common 0.42); Prometheus 2.42, \
                     which CI runs, refuses the whole file (\"field {key} not found in type \
                     config.ScrapeConfig\"). Remove it, or run such a case with a newer \
                     Prometheus through --prometheus-bin/--prometheus-image in a file of its own"
                ),
            ));
        }
    }
    if p.proxy_url.is_some() {
        return Err(field_err(
            "scrape.proxy_url",
            "is filled in by the harness from the case's `proxy:` (a fake forward proxy); \
             remove it and add `proxy: {}` (or `proxy: { users: { user: password } }`)",
        ));
    }
    if let Some(fp) = &raw.proxy {
        if fp.absent && !fp.users.is_empty() {
            return Err(field_err(
                "proxy.users",
                "an absent proxy checks no credentials; remove `users` or `absent`",
            ));
        }
        let url_credentials = match &fp.url_credentials {
            None => None,
            Some(c) => {
                let plain = |s: &str| {
                    !s.is_empty()
                        && s.chars()
                            .all(|ch| ch.is_ascii_alphanumeric() || "-._~".contains(ch))
                };
                if !plain(&c.username) || !plain(&c.password) {
                    return Err(field_err(
                        "proxy.url_credentials",
                        "use only letters, digits and `-._~` in username and password (they go \
                         into the proxy URL unescaped)",
                    ));
                }
                Some((c.username.clone(), c.password.clone()))
            }
        };
        out.forward_proxy = Some(ForwardProxyCase {
            users: fp.users.clone(),
            absent: fp.absent,
            url_credentials,
        });
    }
    if !p.proxy_connect_header.is_empty() && out.forward_proxy.is_none() {
        return Err(field_err(
            "scrape.proxy_connect_header",
            "needs a proxy_url (Prometheus refuses it without: \"if proxy_connect_header is \
             configured proxy_url must also be configured\"); add `proxy: {}` to the case",
        ));
    }
    out.proxy_connect_header = p.proxy_connect_header.clone();
    Ok(())
}

/// `expect.token_endpoint` and `expect.proxy`: counters of parties the case has.
fn check_expected_counters(raw: &RawCase, out: &mut ThirdParties) -> Result<(), FieldError> {
    let x = &raw.expect;
    if let Some(RawCounts(counts)) = &x.token_endpoint {
        if out.token_endpoint.is_none() {
            return Err(field_err(
                "expect.token_endpoint",
                "needs `exporter.oauth2` (the token endpoint whose counters it checks)",
            ));
        }
        known_counters(counts, &TOKEN_COUNTERS, "expect.token_endpoint")?;
        out.expect_token_endpoint = counts.clone();
    }
    if let Some(RawCounts(counts)) = &x.proxy {
        if out.forward_proxy.as_ref().is_none_or(|p| p.absent) {
            return Err(field_err(
                "expect.proxy",
                "needs a running proxy (`proxy:` without `absent`) whose counters it checks",
            ));
        }
        known_counters(counts, &PROXY_COUNTERS, "expect.proxy")?;
        out.expect_proxy = counts.clone();
    }
    Ok(())
}

fn known_counters(
    counts: &BTreeMap<String, Count>,
    known: &[&str],
    field: &str,
) -> Result<(), FieldError> {
    match counts.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(field_err(
            &format!("{field}.{k}"),
            format!("is not a counter; use one of: {}", known.join(", ")),
        )),
        None => Ok(()),
    }
}

/// What nginx in front of the exporter can take over: TLS with a PKI server certificate,
/// Basic auth, and client certificates verified against a PKI CA.
fn check_reverse_proxy(raw: &RawExporter, exporter: &ExporterCase) -> Result<(), FieldError> {
    let unsupported = [
        ("exporter.openssl_key", raw.openssl_key),
        ("exporter.cert_file", raw.cert_file.is_some()),
        ("exporter.cipher_suites", !raw.cipher_suites.is_empty()),
        (
            "exporter.break_config_after_start",
            raw.break_config_after_start,
        ),
        (
            "exporter.client_allowed_sans",
            raw.client_allowed_sans.is_some(),
        ),
        ("exporter.min_version", raw.min_version.is_some()),
        ("exporter.max_version", raw.max_version.is_some()),
        ("exporter.http2", raw.http2.is_some()),
        ("exporter.bearer_tokens", exporter.bearer.is_configured()),
        ("exporter.oauth2", raw.oauth2.is_some()),
        ("exporter.mutants", !raw.mutants.is_empty()),
        ("exporter.absent", raw.absent),
    ];
    if let Some((field, _)) = unsupported.iter().find(|(_, set)| *set) {
        return Err(field_err(
            field,
            "is not supported with `reverse_proxy: nginx`: nginx takes over `server_cert`, \
             `basic_auth_users` and `client_ca` (with `client_auth_type: \
             RequireAndVerifyClientCert`); the exporter behind it is plain HTTP. Remove it, \
             or drop `reverse_proxy`",
        ));
    }
    if let Some(tls) = &exporter.tls {
        use fake_exporter::ClientAuthType as C;
        let policy = tls.client_auth().canonical();
        let ok = matches!(
            (policy, tls.client_ca),
            (C::NoClientCert, None) | (C::RequireAndVerifyClientCert, Some(_))
        );
        if !ok {
            return Err(field_err(
                "exporter.client_auth_type",
                "with `reverse_proxy: nginx` use either no client certificates, or \
                 `client_auth_type: RequireAndVerifyClientCert` with a `client_ca` (nginx' \
                 `ssl_verify_client on`)",
            ));
        }
    } else if raw.client_ca.is_some() || raw.client_auth_type.is_some() {
        return Err(field_err(
            "exporter.client_ca",
            "needs TLS at nginx; add `exporter.server_cert: valid`",
        ));
    }
    Ok(())
}

fn tls(t: &RawTlsConfig, field: &str) -> Result<ScrapeTls, FieldError> {
    let file = |key: &str, v: &Option<String>| -> Result<Option<FileRef>, FieldError> {
        v.as_deref()
            .map(|v| {
                super::check::tls_file_ref(v)
                    .map_err(|e| field_err(&format!("{field}.{key}"), e.to_string()))
            })
            .transpose()
    };
    let out = ScrapeTls {
        ca_file: file("ca_file", &t.ca_file)?,
        cert_file: file("cert_file", &t.cert_file)?,
        key_file: file("key_file", &t.key_file)?,
        server_name: t.server_name.clone(),
        insecure_skip_verify: t.insecure_skip_verify,
        min_version: t.min_version,
        max_version: t.max_version,
    };
    if out.cert_file.is_some() != out.key_file.is_some() {
        return Err(field_err(
            &format!("{field}.cert_file"),
            "`cert_file` and `key_file` go together (promtool refuses one without the other)",
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::{Plan, ScenarioError};
    use super::*;

    fn one_case(case: &str) -> Result<Plan, ScenarioError> {
        let yaml = format!("cases:\n  - name: c\n{case}");
        Plan::from_sources(&[("t.yaml".to_owned(), yaml)])
    }

    fn refusal(case: &str) -> String {
        match one_case(case) {
            Ok(_) => panic!("accepted:\n{case}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn oauth2_and_proxy_keys_parse_into_types() {
        let plan = one_case(
            "    files: { s: \"x\\n\" }\n    \
             exporter: { oauth2: { client_id: a, client_secret: x, scopes: [r], token_lifetime: 11s, server_cert: valid } }\n    \
             proxy: { users: { p: pw } }\n    \
             scrape: { oauth2: { client_id: a, client_secret_file: s, scopes: [r], tls_config: { ca_file: ca.crt } }, proxy_connect_header: { Proxy-Authorization: [Basic cDpwdw==] } }\n    \
             expect: { health: up, token_endpoint: { issued: { at_least: 2 }, invalid_client: 0 }, proxy: { tunnels: 1 } }\n",
        )
        .expect("valid");
        let t = &plan.cases[0].third_parties;
        let te = t.token_endpoint.as_ref().expect("token endpoint");
        assert_eq!(te.token_lifetime, Duration::from_secs(11));
        assert_eq!(te.server_cert, Some(ServerCert::Valid));
        let o = t.oauth2.as_ref().expect("oauth2");
        assert_eq!(
            o.client_secret,
            Some(Secret::File(FileRef::Case("s".into())))
        );
        assert_eq!(
            t.expect_token_endpoint["issued"],
            Count::AtLeast { at_least: 2 }
        );
        assert_eq!(t.expect_proxy["tunnels"], Count::Exactly(1));
        assert!(t.intermediary());
    }

    #[test]
    fn keys_prometheus_2_42_refuses_are_refused_with_the_version_needed() {
        let e = refusal(
            "    proxy: {}\n    scrape: { no_proxy: 127.0.0.1 }\n    expect: { health: up }\n",
        );
        assert!(
            e.starts_with("t.yaml: case `c`: scrape.no_proxy: needs Prometheus 2.43 or later"),
            "{e}"
        );
        let e =
            refusal("    scrape: { proxy_from_environment: true }\n    expect: { health: up }\n");
        assert!(
            e.contains("scrape.proxy_from_environment: needs Prometheus 2.43"),
            "{e}"
        );
    }

    #[test]
    fn combinations_prometheus_refuses_name_the_field_and_the_fix() {
        for (case, want) in [
            (
                "    exporter: { oauth2: { client_id: a, client_secret: b } }\n    scrape: { basic_auth: { username: u, password: p }, oauth2: { client_id: a, client_secret: b } }\n",
                "scrape.oauth2: cannot be combined with `basic_auth` or `authorization`",
            ),
            (
                "    scrape: { oauth2: { client_id: a, client_secret: b } }\n",
                "scrape.oauth2: needs a token endpoint",
            ),
            (
                "    exporter: { oauth2: { client_id: a, client_secret: b } }\n    scrape: { oauth2: { client_id: a, client_secret: b, token_url: 'http://x/t' } }\n",
                "scrape.oauth2.token_url: is filled in by the harness",
            ),
            (
                "    scrape: { proxy_connect_header: { X: [y] } }\n",
                "scrape.proxy_connect_header: needs a proxy_url",
            ),
            (
                "    scrape: { proxy_url: 'http://127.0.0.1:3128' }\n",
                "scrape.proxy_url: is filled in by the harness",
            ),
            (
                "    proxy: { users: { p: pw }, url_credentials: { username: p, password: 'p@ss' } }\n",
                "proxy.url_credentials: use only letters, digits",
            ),
            (
                "    proxy: {}\n    expect: { health: up, proxy: { tunnel: 1 } }\n",
                "expect.proxy.tunnel: is not a counter; use one of: connections, tunnels",
            ),
            (
                "    exporter: { reverse_proxy: nginx, server_cert: valid, http2: false }\n",
                "exporter.http2: is not supported with `reverse_proxy: nginx`",
            ),
            (
                "    exporter: { reverse_proxy: nginx, server_cert: valid, client_auth_type: RequireAnyClientCert, client_ca: ca.crt }\n",
                "exporter.client_auth_type: with `reverse_proxy: nginx` use either",
            ),
        ] {
            let case = if case.contains("expect:") {
                case.to_owned()
            } else {
                format!("{case}    expect: {{ health: up }}\n")
            };
            let e = refusal(&case);
            assert!(
                e.starts_with(&format!("t.yaml: case `c`: {want}")),
                "want `{want}`, got: {e}"
            );
        }
    }
}
