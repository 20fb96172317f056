//! Scenario cases as written turned into typed values: PKI names, file names, and the
//! combinations Prometheus itself would refuse at load time are refused here, each with the
//! field path and the fix.

use std::collections::BTreeMap;
use std::path::PathBuf;

use fake_exporter::pki::{PkiFiles, ServerCert};
use fake_exporter::ClientAuthType;

use super::raw::receiver::RawReceiver;
use super::raw::scrape::{ClientKeys, RawCase, RawExpect, RawExporter, RawHealth, RawScrape};
use super::raw::OneOrMany;
use super::{
    third_parties, BearerCase, Case, Expectation, Expected, ExporterCase, ExporterStart,
    ExporterTls, FileRef, KeepAlive, PkiFile, ScenarioError, ScrapeAuth, ScrapeCase, ScrapeTls,
    Secret, TargetHost,
};
use crate::classify::ErrorClass;
use crate::promconfig::Scheme;
use crate::targets::Health;

/// Names a job may use: Prometheus job names are free text, but we keep them to
/// `[a-zA-Z0-9_-]` so they work unquoted in PromQL selectors and file names.
fn valid_case_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// What a case name that is not [`valid_case_name`] must be instead.
const CASE_NAME_RULE: &str =
    "use only letters, digits, `-` and `_` (the name becomes a Prometheus job and a directory)";

/// The scenario case a receiver's `exporter:` and `send:` make: the receiver side and
/// Prometheus' client side, checked by the functions of a scrape case's `exporter:` and
/// `scrape:` (same PKI names, same refusals of what Prometheus refuses at load time), with
/// errors naming `send.` paths. The case expects `up`: a receiver must run.
pub(crate) fn receiver_case(file: &str, raw: &RawReceiver) -> Result<Case, ScenarioError> {
    let err = |field: &str, message: String| ScenarioError::Case {
        file: file.to_owned(),
        case: raw.name.clone(),
        field: field.to_owned(),
        message,
    };
    if !valid_case_name(&raw.name) {
        return Err(err("name", CASE_NAME_RULE.into()));
    }
    check_files(&raw.files).map_err(|(f, m)| err(&f, m))?;
    let exporter = check_exporter(&raw.exporter, &raw.files).map_err(|(f, m)| err(f, m))?;
    let client =
        check_client("send", raw.send.client(), &raw.files).map_err(|(f, m)| err(&f, m))?;
    if let Some((f, m)) = below_a_millisecond("send.timeout", raw.send.timeout) {
        return Err(err(&f, m));
    }
    let scrape = ScrapeCase {
        scheme: client.scheme,
        auth: client.auth,
        tls_config: client.tls_config,
        ..ScrapeCase::default()
    };
    let third_parties = third_parties::check_exporter_side(&raw.exporter, &exporter)
        .map_err(|(f, m)| err(&f, m))?;
    let up = RawExpect {
        health: Some(RawHealth::Up),
        ..RawExpect::default()
    };
    let expect =
        scrape_expectation(&up, &exporter, &scrape, "send").map_err(|(f, m)| err(&f, m))?;
    let mut case = Case::new(raw.name.clone(), file, expect);
    case.files = raw.files.clone();
    case.exporter = exporter;
    case.scrape = scrape;
    case.third_parties = third_parties;
    Ok(case)
}

/// Whether `name` can be a key of `files:`: one plain file name, written in the case's own
/// directory of the run; nothing with `/`, nothing that is `.` or `..`, so no key can
/// point outside the run, whatever the directory holds.
pub(crate) fn valid_file_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\0'])
}

/// A name like `name` that [`valid_file_name`] takes (its last component, else `token`):
/// what errors suggest instead, so no suggestion names a path outside the run.
fn suggested_file_name(name: &str) -> String {
    name.rsplit('/')
        .find(|c| valid_file_name(c))
        .unwrap_or("token")
        .to_owned()
}

/// The keys of a case's `files:`: each a plain file name (the files are written inside the
/// run directory, and only there).
fn check_files(files: &BTreeMap<String, String>) -> Result<(), (String, String)> {
    let Some(bad) = files.keys().find(|n| !valid_file_name(n)) else {
        return Ok(());
    };
    let why = if bad.starts_with('/') {
        "is an absolute path"
    } else if bad.split('/').any(|c| c == "..") {
        "climbs out of the case's directory (`..`)"
    } else {
        "is not a plain file name"
    };
    Err((
        format!("files.{bad}"),
        format!(
            "{why}; a key of `files:` is one file name (no `/`, not `.` or `..`), written in \
             the case's directory of the run and nowhere else, e.g. `files: {{ {}: ... }}`. A \
             file outside the run can only be read: name it by its absolute path in \
             `password_file`, `credentials_file` or `tls_config`",
            suggested_file_name(bad)
        ),
    ))
}

/// Turns a case as written into a typed [`Case`], refusing what cannot run.
pub(super) fn check(file: &str, raw: RawCase) -> Result<Case, ScenarioError> {
    let err = |field: &str, message: String| ScenarioError::Case {
        file: file.to_owned(),
        case: raw.name.clone(),
        field: field.to_owned(),
        message,
    };
    if !valid_case_name(&raw.name) {
        return Err(err("name", CASE_NAME_RULE.into()));
    }
    check_files(&raw.files).map_err(|(f, m)| err(&f, m))?;
    let exporter = check_exporter(&raw.exporter, &raw.files).map_err(|(f, m)| err(f, m))?;
    let scrape = check_scrape(&raw.scrape, &raw.files).map_err(|(f, m)| err(&f, m))?;
    let third_parties =
        third_parties::check(&raw, &exporter, &scrape).map_err(|(f, m)| err(&f, m))?;
    let expect = match raw.expect.exporter {
        Some(super::raw::scrape::RawExporterStart::RefusesConfig) => {
            refused_config_expectation(&raw.expect, &exporter)
        }
        _ => scrape_expectation(&raw.expect, &exporter, &scrape, "scrape"),
    }
    .map_err(|(f, m)| err(&f, m))?;
    Ok(Case {
        file: file.to_owned(),
        description: raw.description.clone(),
        level: raw.level,
        rationale: raw.rationale.clone(),
        reference: raw.reference.clone(),
        files: raw.files.clone(),
        exporter,
        scrape,
        expect,
        third_parties,
        name: raw.name,
    })
}

/// The expectation of a case whose exporter must refuse its web-config at start: such an
/// exporter is never scraped, so no scrape outcome may be expected.
fn refused_config_expectation(
    x: &RawExpect,
    exporter: &ExporterCase,
) -> Result<Expectation, (String, String)> {
    let scrape_fields = [
        ("expect.health", x.health.is_some()),
        ("expect.error", x.error.is_some()),
        (
            "expect.last_error_contains",
            x.last_error_contains.is_some(),
        ),
        ("expect.keep_alive", x.keep_alive.is_some()),
        ("expect.http_version", x.http_version.is_some()),
        ("expect.prometheus_3", x.prometheus_3.is_some()),
    ];
    if let Some((field, _)) = scrape_fields.iter().find(|(_, set)| *set) {
        return Err((
            (*field).to_owned(),
            "cannot be combined with `exporter: refuses_config`: an exporter that refuses \
             its web-config is never scraped; drop this field, or drop \
             `exporter: refuses_config` to expect a scrape outcome"
                .into(),
        ));
    }
    if exporter.absent {
        return Err((
            "exporter.absent".into(),
            "an absent exporter never reads a web-config, so it cannot refuse one; drop \
             `absent` or `expect.exporter`"
                .into(),
        ));
    }
    Ok(Expectation::refuses_config(x.message_contains.clone()))
}

/// The expectation of a scraped case: health and classes (per Prometheus major), the
/// keep-alive it implies, the HTTP version. `client` names the client side's key in errors
/// (`scrape`, or `send` for a receiver).
fn scrape_expectation(
    x: &RawExpect,
    exporter: &ExporterCase,
    scrape: &ScrapeCase,
    client: &str,
) -> Result<Expectation, (String, String)> {
    if x.message_contains.is_some() {
        return Err((
            "expect.message_contains".into(),
            "is the exporter's start-up error and needs `exporter: refuses_config`; for \
             Prometheus' error use `last_error_contains`"
                .into(),
        ));
    }
    let Some(health) = x.health else {
        return Err((
            "expect.health".into(),
            "missing; give `health: up`, `down` or `missing`, or `exporter: refuses_config` \
             for an exporter that refuses this web-config at start"
                .into(),
        ));
    };
    let outcome = checked_outcome(health.into(), x.error.as_ref())
        .map_err(|e| ("expect.error".to_owned(), e.to_string()))?;
    let prometheus_3 = match &x.prometheus_3 {
        None => None,
        Some(o) => Some(
            checked_outcome(o.health.into(), o.error.as_ref())
                .map_err(|e| ("expect.prometheus_3.error".to_owned(), e.to_string()))?,
        ),
    };
    if let Some(problem) = half_client_cert(scrape.tls_config.as_ref(), outcome.health, client) {
        return Err(problem);
    }
    let keep_alive = x.keep_alive.unwrap_or(match outcome.health {
        Health::Up if exporter.faults.close_after_response => KeepAlive::PerScrape,
        Health::Up => KeepAlive::One,
        _ => KeepAlive::Any,
    });
    Ok(Expectation {
        exporter: ExporterStart::Serves,
        outcome,
        prometheus_3,
        last_error_contains: x.last_error_contains.clone(),
        keep_alive,
        keep_alive_declared: x.keep_alive.is_some(),
        http_version: x.http_version,
    })
}

/// `tls_config.cert_file` without `key_file` (or the reverse): `promtool check config`
/// refuses it ("client cert file ... specified without client key file"); Prometheus 2.42
/// itself starts and drops only that job ("error creating new scrape pool"). So it is
/// refused here unless the case expects exactly that (`health: missing`).
fn half_client_cert(
    tls: Option<&ScrapeTls>,
    health: Health,
    client: &str,
) -> Option<(String, String)> {
    let tls = tls?;
    let (set, unset) = match (&tls.cert_file, &tls.key_file) {
        (Some(_), None) => ("cert_file", "key_file"),
        (None, Some(_)) => ("key_file", "cert_file"),
        _ => return None,
    };
    if health == Health::Missing {
        return None;
    }
    Some((
        format!("{client}.tls_config.{set}"),
        format!(
            "is set without `{unset}`; promtool refuses that and Prometheus drops the job. Add \
             `{unset}`, or expect `health: missing` to test the dropped job"
        ),
    ))
}

/// Why an `expect` outcome cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum OutcomeError {
    #[error(transparent)]
    UnknownClass(#[from] crate::classify::UnknownClass),
    #[error("an empty list; give one class, or a list of the classes a racy outcome may show")]
    EmptyList,
    #[error("a `down` expectation needs an error class, e.g. `error: unauthorized`")]
    DownWithoutClass,
    #[error("an `up` target has no error, but `{0}` is expected; drop `error:` or expect `down`")]
    UpWithClass(String),
    #[error("a `down` target needs an error class other than `none`")]
    DownWithNone,
}

/// Health plus the class label(s), checked against each other.
fn checked_outcome(health: Health, error: Option<&OneOrMany>) -> Result<Expected, OutcomeError> {
    let labels = error.map(OneOrMany::as_slice).unwrap_or_default();
    let mut classes = Vec::new();
    for label in labels {
        let class = label.parse::<ErrorClass>()?;
        if !classes.contains(&class) {
            classes.push(class);
        }
    }
    if error.is_some() && classes.is_empty() {
        return Err(OutcomeError::EmptyList);
    }
    if classes.is_empty() {
        classes.push(match health {
            Health::Up => ErrorClass::None,
            Health::Missing => ErrorClass::JobMissing,
            _ => return Err(OutcomeError::DownWithoutClass),
        });
    }
    match health {
        Health::Up if classes != [ErrorClass::None] => Err(OutcomeError::UpWithClass(
            classes
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
        )),
        Health::Down if classes.contains(&ErrorClass::None) => Err(OutcomeError::DownWithNone),
        _ => Ok(Expected { health, classes }),
    }
}

type FieldError = (&'static str, String);

fn check_exporter(
    e: &RawExporter,
    files: &BTreeMap<String, String>,
) -> Result<ExporterCase, FieldError> {
    let tls = match &e.server_cert {
        Some(name) => Some(check_exporter_tls(e, name)?),
        None => {
            let tls_only = [
                ("exporter.client_auth_type", e.client_auth_type.is_some()),
                ("exporter.client_ca", e.client_ca.is_some()),
                (
                    "exporter.client_allowed_sans",
                    e.client_allowed_sans.is_some(),
                ),
                ("exporter.min_version", e.min_version.is_some()),
                ("exporter.max_version", e.max_version.is_some()),
                ("exporter.openssl_key", e.openssl_key),
                ("exporter.cert_file", e.cert_file.is_some()),
                ("exporter.key_file", e.key_file.is_some()),
                ("exporter.cipher_suites", !e.cipher_suites.is_empty()),
            ];
            if let Some((field, _)) = tls_only.iter().find(|(_, set)| *set) {
                return Err((
                    field,
                    "needs TLS on the exporter; add `exporter.server_cert: valid` (or another \
                     server certificate)"
                        .into(),
                ));
            }
            None
        }
    };
    if let Some(f) = &e.bearer_token_file {
        if !files.contains_key(f) {
            let fix = if valid_file_name(f) {
                format!("add `files: {{ {f}: <token> }}`")
            } else {
                let name = suggested_file_name(f);
                format!(
                    "the exporter reads its token file from the case's `files:` only, which \
                     are written inside the run: write `files: {{ {name}: <token> }}` and \
                     `bearer_token_file: {name}`"
                )
            };
            return Err((
                "exporter.bearer_token_file",
                format!("`{f}` is not in the case's `files:`; {fix}"),
            ));
        }
    }
    if e.absent && (tls.is_some() || !e.basic_auth_users.is_empty() || !e.faults.is_none()) {
        return Err((
            "exporter.absent",
            "an absent exporter has no TLS, auth or faults; remove them or `absent`".into(),
        ));
    }
    Ok(ExporterCase {
        tls,
        http2: e.http2,
        compat: e.compat.unwrap_or_default(),
        basic_auth_users: e.basic_auth_users.clone(),
        bearer: BearerCase {
            tokens: e.bearer_tokens.clone(),
            token_file: e.bearer_token_file.clone(),
            expired_tokens: e.expired_bearer_tokens.clone(),
        },
        faults: e.faults.clone(),
        mutants: e.mutants.clone(),
        series: e.series,
        absent: e.absent,
        break_config_after_start: e.break_config_after_start,
    })
}

fn check_exporter_tls(e: &RawExporter, server_cert: &str) -> Result<ExporterTls, FieldError> {
    let server_cert = server_cert
        .parse::<ServerCert>()
        .map_err(|x| ("exporter.server_cert", x.to_string()))?;
    let serve_files = match (&e.cert_file, &e.key_file) {
        (Some(c), Some(k)) => Some((
            pki_file(c).map_err(|e| ("exporter.cert_file", e.to_string()))?,
            pki_file(k).map_err(|e| ("exporter.key_file", e.to_string()))?,
        )),
        (None, None) => None,
        (Some(_), None) => return Err(("exporter.cert_file", "needs `key_file` too".into())),
        (None, Some(_)) => return Err(("exporter.key_file", "needs `cert_file` too".into())),
    };
    let client_auth_type = match &e.client_auth_type {
        None => None,
        Some(name) => Some(ClientAuthType::parse(name).ok_or_else(|| {
            (
                "exporter.client_auth_type",
                format!(
                    "`{name}` is not a client_auth_type; use NoClientCert, RequestClientCert, \
                     RequireAnyClientCert, VerifyClientCertIfGiven, RequireAndVerifyClientCert \
                     (or the alias RequireClientCert)"
                ),
            )
        })?),
    };
    let client_ca = match &e.client_ca {
        None => None,
        Some(name) => Some(pki_file(name).map_err(|e| ("exporter.client_ca", e.to_string()))?),
    };
    Ok(ExporterTls {
        server_cert,
        openssl_key: e.openssl_key,
        serve_files,
        cipher_suites: e.cipher_suites.clone(),
        client_auth_type,
        client_ca,
        client_allowed_sans: e.client_allowed_sans.clone(),
        min_version: e.min_version,
        max_version: e.max_version,
    })
}

fn check_scrape(
    s: &RawScrape,
    files: &BTreeMap<String, String>,
) -> Result<ScrapeCase, (String, String)> {
    let target_host = match s.target_host.as_deref() {
        None | Some("127.0.0.1") => TargetHost::Ipv4Loopback,
        Some("localhost") => TargetHost::Localhost,
        Some("[::1]") => TargetHost::Ipv6Loopback,
        Some(h) => {
            return Err((
                "scrape.target_host".into(),
                format!(
                    "`{h}`: targets must be on loopback; use `127.0.0.1`, `localhost` or `[::1]`"
                ),
            ))
        }
    };
    let client = check_client("scrape", s.client(), files)?;
    if let Some(problem) = below_a_millisecond("scrape.scrape_timeout", s.scrape_timeout) {
        return Err(problem);
    }
    Ok(ScrapeCase {
        scheme: client.scheme,
        target_host,
        auth: client.auth,
        tls_config: client.tls_config,
        enable_http2: s.enable_http2,
        scrape_timeout: s.scrape_timeout,
        body_size_limit: s.body_size_limit.clone(),
        metrics_path: s.metrics_path.clone(),
        sample_limit: s.sample_limit,
    })
}

/// A duration key of a case that is zero or below Prometheus' millisecond resolution (which
/// would reach Prometheus as `0s`): `(field, fix)`.
fn below_a_millisecond(
    field: &str,
    value: Option<std::time::Duration>,
) -> Option<(String, String)> {
    let d = value.filter(|d| *d < std::time::Duration::from_millis(1))?;
    Some((
        field.to_owned(),
        format!(
            "{} cannot work: must be above zero, and Prometheus durations count whole \
             milliseconds; give at least 1ms, or leave the key out for the default",
            humantime::format_duration(d)
        ),
    ))
}

/// The client side a scrape job (`scrape:`) and a receiver's sender (`send:`) share:
/// `scheme`, the auth and `tls_config`. `at` (`scrape` or `send`) starts the field paths
/// of errors.
fn check_client(
    at: &str,
    c: ClientKeys<'_>,
    files: &BTreeMap<String, String>,
) -> Result<ClientSide, (String, String)> {
    let auth = client_auth(at, c, files)?;
    let tls_config = match c.tls_config {
        None => None,
        Some(t) => {
            let file =
                |key: &str, v: &Option<String>| -> Result<Option<FileRef>, (String, String)> {
                    v.as_deref()
                        .map(|v| {
                            tls_file_ref(v)
                                .map_err(|e| (format!("{at}.tls_config.{key}"), e.to_string()))
                        })
                        .transpose()
                };
            Some(ScrapeTls {
                ca_file: file("ca_file", &t.ca_file)?,
                cert_file: file("cert_file", &t.cert_file)?,
                key_file: file("key_file", &t.key_file)?,
                server_name: t.server_name.clone(),
                insecure_skip_verify: t.insecure_skip_verify,
                min_version: t.min_version,
                max_version: t.max_version,
            })
        }
    };
    Ok(ClientSide {
        scheme: c.scheme,
        auth,
        tls_config,
    })
}

/// The client side of a scrape job or of a receiver's sender, checked.
struct ClientSide {
    scheme: Option<Scheme>,
    auth: Option<ScrapeAuth>,
    tls_config: Option<ScrapeTls>,
}

/// `basic_auth` or `authorization` of a client side, refusing what Prometheus refuses at
/// load.
fn client_auth(
    at: &str,
    c: ClientKeys<'_>,
    files: &BTreeMap<String, String>,
) -> Result<Option<ScrapeAuth>, (String, String)> {
    match (c.basic_auth, c.authorization) {
        (Some(_), Some(_)) => Err((
            at.to_owned(),
            "`basic_auth` and `authorization` are both set; Prometheus refuses such a config \
             at load time (it would fail the whole run). Keep one"
                .into(),
        )),
        (Some(b), None) => Ok(Some(ScrapeAuth::Basic {
            username: b.username.clone(),
            password: secret(
                b.password.as_ref(),
                b.password_file.as_ref(),
                files,
                ("password", "password_file"),
            )
            .map_err(|(f, m)| (format!("{at}.basic_auth.{f}"), m))?,
        })),
        (None, Some(a)) => {
            if a.kind
                .as_deref()
                .is_some_and(|t| t.eq_ignore_ascii_case("basic"))
            {
                return Err((
                    format!("{at}.authorization.type"),
                    "Prometheus refuses `type: Basic` in `authorization` (\"authorization type \
                     cannot be set to basic, use basic_auth instead\"); use `basic_auth` with \
                     `username` and `password`"
                        .into(),
                ));
            }
            Ok(Some(ScrapeAuth::Authorization {
                auth_type: a.kind.clone(),
                credentials: secret(
                    a.credentials.as_ref(),
                    a.credentials_file.as_ref(),
                    files,
                    ("credentials", "credentials_file"),
                )
                .map_err(|(f, m)| (format!("{at}.authorization.{f}"), m))?,
            }))
        }
        (None, None) => Ok(None),
    }
}

/// An inline value or a file from `files:` (or an absolute path); both is refused like
/// Prometheus does.
pub(super) fn secret(
    inline: Option<&String>,
    file: Option<&String>,
    files: &BTreeMap<String, String>,
    (inline_key, file_key): (&'static str, &'static str),
) -> Result<Option<Secret>, (&'static str, String)> {
    match (inline, file) {
        (Some(_), Some(_)) => Err((
            file_key,
            format!(
                "`{inline_key}` and `{file_key}` are both set; Prometheus refuses that. Keep one"
            ),
        )),
        (Some(v), None) => Ok(Some(Secret::Inline(v.clone()))),
        (None, Some(name)) => {
            if name.starts_with('/') {
                readable_path(name)
                    .map(|p| Some(Secret::File(FileRef::Absolute(p))))
                    .map_err(|m| (file_key, m))
            } else if files.contains_key(name) {
                Ok(Some(Secret::File(FileRef::Case(name.clone()))))
            } else if valid_file_name(name) {
                Err((
                    file_key,
                    format!(
                        "`{name}` is not in the case's `files:`; add `files: {{ {name}: <content> }}` \
                         or give an absolute path"
                    ),
                ))
            } else {
                let short = suggested_file_name(name);
                Err((
                    file_key,
                    format!(
                        "`{name}` is neither an absolute path nor a name of the case's `files:` \
                         (plain file names, written inside the run); write `files: {{ {short}: \
                         <content> }}` and `{file_key}: {short}`, or give the absolute path of a \
                         file to read"
                    ),
                ))
            }
        }
        (None, None) => Ok(None),
    }
}

/// A file a case names that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(super) enum BadFileRef {
    /// A name that is not one of the generated PKI's.
    #[error(
        "`{name}` is not a file of the generated PKI; use one of: {} (or an absolute path)",
        PkiFiles::names().join(", ")
    )]
    UnknownPki { name: String },
    /// An absolute path that exists and is not a regular file.
    #[error("{0}")]
    Special(String),
}

/// An absolute path a case names for reading (by Prometheus, or by the harness for the
/// credentials it checks): refused when it exists and is not a regular file, since a FIFO
/// blocks its reader and a device such as `/dev/zero` never ends. A path that does not exist
/// is kept (Prometheus then drops the job, which a case may expect). Such files are only
/// ever read, never written.
fn readable_path(path: &str) -> Result<PathBuf, String> {
    match super::limits::special_file(std::path::Path::new(path)) {
        None => Ok(PathBuf::from(path)),
        Some(kind) => Err(format!(
            "`{path}` is {kind}, not a regular file; a file read on every scrape must be a \
             regular file (a FIFO blocks its reader, a device never ends)"
        )),
    }
}

/// A `tls_config` file: a PKI name or an absolute path.
pub(super) fn tls_file_ref(value: &str) -> Result<FileRef, BadFileRef> {
    if value.starts_with('/') {
        return readable_path(value)
            .map(FileRef::Absolute)
            .map_err(BadFileRef::Special);
    }
    pki_file(value).map(FileRef::Pki)
}

fn pki_file(name: &str) -> Result<PkiFile, BadFileRef> {
    PkiFile::named(name).ok_or_else(|| BadFileRef::UnknownPki {
        name: name.to_owned(),
    })
}

/// Deserializes entry `index` of a file's `cases:` list. A mistake goes to `errors`, named by
/// the case's `name` (or `#N`) and the path of the field, and gives `None`; otherwise the
/// label and the case.
pub(crate) fn deserialize_case<T: serde::de::DeserializeOwned>(
    file: &str,
    index: usize,
    value: serde_norway::Value,
    errors: &mut Vec<ScenarioError>,
) -> Option<(String, T)> {
    let label = value
        .get("name")
        .and_then(|n| n.as_str())
        .map(str::to_owned)
        .unwrap_or_else(|| format!("#{}", index + 1));
    match serde_path_to_error::deserialize(value) {
        Ok(case) => Some((label, case)),
        Err(e) => {
            let path = e.path().to_string();
            errors.push(ScenarioError::Case {
                file: file.to_owned(),
                case: label,
                // `.` is serde_path_to_error's name for the case itself.
                field: if path == "." { "(case)".into() } else { path },
                message: e.into_inner().to_string(),
            });
            None
        }
    }
}
