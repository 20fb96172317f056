//! OAuth2 `client_credentials` through the real Prometheus: `scenarios/oauth2.yaml` (one
//! Prometheus for all its cases), each case's class and its token endpoint's counters
//! asserted here, beside the scenario's own `expect`.

use anyhow::{ensure, Context, Result};

use scrape_harness::{report, run, CaseResult, Plan, RunOptions};

use crate::support::{heavy, repo_root};

/// Runs a scenario file of the repository with the default options.
pub(crate) fn run_scenario(file: &str) -> Result<scrape_harness::RunReport> {
    let plan = Plan::load(&[repo_root().join(file)])?;
    let runtime = tokio::runtime::Runtime::new()?;
    Ok(runtime.block_on(run(&plan, &RunOptions::default()))?)
}

/// The case called `name`, or an error listing the cases there are.
pub(crate) fn case<'a>(
    report: &'a scrape_harness::RunReport,
    name: &str,
) -> Result<&'a CaseResult> {
    report
        .cases
        .iter()
        .find(|c| c.name == name)
        .with_context(|| {
            let names: Vec<&str> = report.cases.iter().map(|c| c.name.as_str()).collect();
            format!(
                "no case `{name}` in the report; cases: {}",
                names.join(", ")
            )
        })
}

/// Every failed case's full report block (empty when all passed).
pub(crate) fn failed_blocks(report: &scrape_harness::RunReport) -> String {
    report
        .cases
        .iter()
        .filter(|c| !c.pass)
        .map(report::failure_block)
        .collect::<Vec<_>>()
        .join("\n")
}

/// The observed class label (`none` for up, `not scraped` when skipped).
pub(crate) fn class(c: &CaseResult) -> String {
    c.observed
        .map_or("not scraped".into(), |o| o.class.to_string())
}

#[test]
fn oauth2_cases_get_their_class_and_token_counts_from_the_real_prometheus() -> Result<()> {
    let _lock = heavy();
    // Arrange + Act: one Prometheus for every case of the file.
    let report = run_scenario("scenarios/oauth2.yaml")?;

    // Assert: every case as its file says, and the exact class of each.
    ensure!(
        report.cases.len() == 10,
        "10 cases, got {}",
        report.cases.len()
    );
    ensure!(report.all_passed(), "{}", failed_blocks(&report));
    for (name, want) in [
        ("oauth2-ok", "none"),
        ("oauth2-no-token", "unauthorized"),
        ("oauth2-secret-file", "none"),
        ("oauth2-wrong-secret", "oauth2_token_refused"),
        ("oauth2-bad-scope", "oauth2_token_refused"),
        ("oauth2-untrusted-endpoint", "oauth2_token_untrusted"),
        ("oauth2-refreshed", "none"),
        ("oauth2-expired-not-refreshed", "unauthorized"),
        ("oauth2-endpoint-params", "none"),
        ("oauth2-endpoint-params-missing", "oauth2_token_refused"),
    ] {
        let c = case(&report, name)?;
        ensure!(class(c) == want, "{name}: class {} not {want}", class(c));
    }
    let tokens = |name: &str| -> Result<fake_exporter::TokenStats> {
        case(&report, name)?
            .token_endpoint
            .with_context(|| format!("{name}: no token endpoint counters"))
    };
    // One token for the whole run (1 h lifetime), fetched once, header style accepted.
    let ok = tokens("oauth2-ok")?;
    ensure!((ok.requests, ok.issued) == (1, 1), "oauth2-ok: {ok:?}");
    // Every request refused; Go tries the header style, then the form style, per scrape.
    let wrong = tokens("oauth2-wrong-secret")?;
    ensure!(
        wrong.issued == 0 && wrong.invalid_client == wrong.requests && wrong.requests >= 2,
        "oauth2-wrong-secret: {wrong:?}"
    );
    let scope = tokens("oauth2-bad-scope")?;
    ensure!(
        scope.issued == 0 && scope.invalid_scope == scope.requests && scope.requests >= 1,
        "oauth2-bad-scope: {scope:?}"
    );
    // The untrusted endpoint never sees a request: the handshake fails first.
    ensure!(tokens("oauth2-untrusted-endpoint")?.requests == 0);
    // Expired (in Go's eyes, 10 s early) and refreshed, with every scrape up.
    let refreshed = tokens("oauth2-refreshed")?;
    ensure!(refreshed.issued >= 2, "oauth2-refreshed: {refreshed:?}");
    // A lying expires_in: one token, never refreshed, then 401.
    ensure!(tokens("oauth2-expired-not-refreshed")?.issued == 1);
    // endpoint_params reach the token request as form fields.
    ensure!(tokens("oauth2-endpoint-params")?.issued == 1);
    let params = tokens("oauth2-endpoint-params-missing")?;
    ensure!(
        params.issued == 0 && params.invalid_request == params.requests && params.requests >= 1,
        "oauth2-endpoint-params-missing: {params:?}"
    );
    let raw = &case(&report, "oauth2-wrong-secret")?.last_error;
    ensure!(
        raw.contains("oauth2: cannot fetch token: 401 Unauthorized"),
        "raw lastError of a refused token request: {raw:?}"
    );
    Ok(())
}
