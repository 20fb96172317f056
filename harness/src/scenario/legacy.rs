//! Legacy TLS (TLS 1.0/1.1, CBC suites) in a case: what a Go exporter does with HTTP/2 there.

use fake_exporter::TlsVersion as ExporterTlsVersion;

use super::Case;
use crate::promconfig::TlsVersion as ScrapeTlsVersion;

/// The rank of a version, oldest first (both enums list TLS10..TLS13 in order).
fn exporter_rank(v: ExporterTlsVersion) -> u8 {
    match v {
        ExporterTlsVersion::Tls10 => 0,
        ExporterTlsVersion::Tls11 => 1,
        ExporterTlsVersion::Tls12 => 2,
        ExporterTlsVersion::Tls13 => 3,
    }
}

fn scrape_rank(v: ScrapeTlsVersion) -> u8 {
    match v {
        ScrapeTlsVersion::Tls10 => 0,
        ScrapeTlsVersion::Tls11 => 1,
        ScrapeTlsVersion::Tls12 => 2,
        ScrapeTlsVersion::Tls13 => 3,
    }
}

/// Whether a Go exporter would complete the handshake with this job and then refuse HTTP/2
/// (Go's `http2` server: GOAWAY `INADEQUATE_SECURITY` below TLS 1.2 or with a suite RFC
/// 7540 prohibits): both sides allow HTTP/2, the highest version both allow is TLS 1.0/1.1,
/// or TLS 1.2 with only CBC suites configured on the exporter. The job's default
/// `min_version` is Go's client default, TLS12.
pub(crate) fn h2_refused_after_handshake(case: &Case) -> bool {
    let Some(tls) = &case.exporter.tls else {
        return false;
    };
    if !case.scrape.is_https()
        || case.exporter.http2 == Some(false)
        || case.scrape.enable_http2 == Some(false)
    {
        return false;
    }
    let job = case.scrape.tls_config.as_ref();
    let job_min = job.and_then(|t| t.min_version).map_or(2, scrape_rank);
    let job_max = job.and_then(|t| t.max_version).map_or(3, scrape_rank);
    let exporter_min = tls.min_version.map_or(2, exporter_rank);
    let exporter_max = tls.max_version.map_or(3, exporter_rank);
    let (low, high) = (job_min.max(exporter_min), job_max.min(exporter_max));
    if low > high {
        return false; // no handshake at all: a version refusal
    }
    match high {
        0 | 1 => true,
        2 => {
            let tls12: Vec<_> = tls.cipher_suites.iter().filter(|c| !c.is_tls13()).collect();
            // Every suite of the list but the ECDHE AEAD ones is prohibited in HTTP/2.
            !tls12.is_empty()
                && tls12
                    .iter()
                    .all(|c| !matches!(c.id, 0xc02b | 0xc02c | 0xc02f | 0xc030 | 0xcca8 | 0xcca9))
        }
        _ => false,
    }
}
