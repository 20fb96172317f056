//! Proxies through the real Prometheus: a forward proxy on the job's `proxy_url`
//! (`scenarios/proxy.yaml`) and nginx in front of the exporter
//! (`scenarios/reverse-proxy.yaml`), one Prometheus per file. Each case's class and the
//! proxy's tunnel / request counts are asserted here, and nginx must be gone afterwards.

use anyhow::{ensure, Context, Result};

use crate::oauth2::{case, class, failed_blocks, run_scenario};
use crate::support::heavy;

#[test]
fn forward_proxy_cases_count_tunnels_and_get_their_class() -> Result<()> {
    let _lock = heavy();
    // Arrange + Act
    let report = run_scenario("scenarios/proxy.yaml")?;

    // Assert
    ensure!(
        report.cases.len() == 9,
        "9 cases, got {}",
        report.cases.len()
    );
    ensure!(report.all_passed(), "{}", failed_blocks(&report));
    for (name, want) in [
        ("proxy-connect-ok", "none"),
        ("proxy-absent", "proxy_unreachable"),
        ("proxy-target-unreachable", "proxy_target_unreachable"),
        ("proxy-auth-ok", "none"),
        ("proxy-auth-missing", "proxy_auth_required"),
        ("proxy-auth-wrong", "proxy_auth_required"),
        ("proxy-plain-http", "none"),
        (
            "proxy-plain-http-connect-header-unused",
            "proxy_auth_required",
        ),
        ("proxy-plain-http-url-credentials", "none"),
    ] {
        let c = case(&report, name)?;
        ensure!(class(c) == want, "{name}: class {} not {want}", class(c));
    }
    let stats = |name: &str| -> Result<fake_exporter::ProxyStats> {
        case(&report, name)?
            .proxy
            .with_context(|| format!("{name}: no proxy counters"))
    };
    // https: one CONNECT tunnel carries every scrape (keep-alive), nothing forwarded.
    for name in ["proxy-connect-ok", "proxy-auth-ok"] {
        let s = stats(name)?;
        ensure!(
            (s.connections, s.tunnels, s.forwarded, s.auth_refused) == (1, 1, 0, 0),
            "{name}: {s:?}"
        );
        ensure!(
            case(&report, name)?.connections == 1,
            "{name}: the exporter saw one connection"
        );
    }
    // http: absolute-form GETs, one per scrape, on one connection; no tunnel.
    let plain = stats("proxy-plain-http")?;
    let scrapes = case(&report, "proxy-plain-http")?.scrapes;
    ensure!(
        plain.tunnels == 0 && plain.connections == 1 && plain.forwarded >= scrapes && scrapes >= 10,
        "proxy-plain-http: {plain:?} for {scrapes} scrapes"
    );
    // Refused CONNECTs: one 407 per scrape, each on a new connection (Go closes it).
    for name in ["proxy-auth-missing", "proxy-auth-wrong"] {
        let s = stats(name)?;
        ensure!(
            s.tunnels == 0 && s.auth_refused >= 10 && s.connections == s.auth_refused,
            "{name}: {s:?}"
        );
    }
    // proxy_connect_header is for CONNECT only: the plain GETs carry no credentials.
    let unused = stats("proxy-plain-http-connect-header-unused")?;
    ensure!(
        unused.forwarded == 0 && unused.auth_refused >= 10,
        "proxy-plain-http-connect-header-unused: {unused:?}"
    );
    // Credentials in proxy_url go with the absolute-form GETs too.
    let in_url = stats("proxy-plain-http-url-credentials")?;
    ensure!(
        in_url.auth_refused == 0 && in_url.forwarded >= 10 && in_url.tunnels == 0,
        "proxy-plain-http-url-credentials: {in_url:?}"
    );
    let unreachable = stats("proxy-target-unreachable")?;
    ensure!(
        unreachable.tunnels == 0 && unreachable.upstream_failed >= 10,
        "proxy-target-unreachable: {unreachable:?}"
    );
    Ok(())
}

#[test]
fn nginx_in_front_of_an_exporter_is_judged_like_an_exporter_and_is_gone_after() -> Result<()> {
    let _lock = heavy();
    crate::real_targets::require_program("nginx")?;
    // Arrange + Act
    let report = run_scenario("scenarios/reverse-proxy.yaml")?;

    // Assert
    ensure!(
        report.cases.len() == 7,
        "7 cases, got {}",
        report.cases.len()
    );
    ensure!(report.all_passed(), "{}", failed_blocks(&report));
    for (name, want) in [
        ("nginx-tls-basic-ok", "none"),
        ("nginx-tls-basic-wrong-password", "unauthorized"),
        ("nginx-tls-untrusted", "unknown_authority"),
        ("nginx-tls-scraped-over-http", "http_to_https"),
        ("nginx-mtls-ok", "none"),
        ("nginx-mtls-no-cert", "http_status_400"),
        ("nginx-mtls-rogue-cert", "http_status_400"),
    ] {
        let c = case(&report, name)?;
        ensure!(class(c) == want, "{name}: class {} not {want}", class(c));
    }
    // nginx keeps one upstream connection for every scrape; refused scrapes never reach
    // the exporter.
    for name in ["nginx-tls-basic-ok", "nginx-mtls-ok"] {
        let c = case(&report, name)?;
        ensure!(
            c.connections == 1 && c.requests >= 5 && c.handshakes == Some(0),
            "{name}: {} connection(s), {} request(s), {:?} handshake(s) at the exporter",
            c.connections,
            c.requests,
            c.handshakes
        );
        ensure!(
            c.web_config_yaml.contains("proxy_pass http://exporter;"),
            "{name}: the report shows nginx.conf: {}",
            c.web_config_yaml
        );
    }
    for name in ["nginx-tls-basic-wrong-password", "nginx-mtls-no-cert"] {
        ensure!(
            case(&report, name)?.requests == 0,
            "{name}: reached the exporter"
        );
    }
    let left = crate::real_targets::processes_mentioning("scrape-harness-nginx-")?;
    ensure!(left.is_empty(), "nginx left running: {left:?}");
    Ok(())
}
