//! The one reader of Prometheus' own log (logfmt, as 2.x writes it; 3.x's `slog` text
//! handler writes the same `key=value` pairs).
//!
//! Prometheus says some things only in its log: why it dropped a scrape job ("error
//! creating new scrape pool", `err=`, `scrape_pool=`), and why a notification or a
//! remote-write request failed (`err=`, with the receiver's URL in `alertmanager=` or
//! `url=`). The fixture's poller reads them here, once, for every command.

/// The value of `key` in a logfmt line (quoted values unescaped).
pub(crate) fn logfmt_value(line: &str, key: &str) -> Option<String> {
    let needle = format!("{key}=");
    let start = line
        .match_indices(&needle)
        .find(|(at, _)| *at == 0 || line.as_bytes()[at - 1] == b' ')
        .map(|(at, _)| at + needle.len())?;
    let rest = &line[start..];
    if let Some(quoted) = rest.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = quoted.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => out.push(chars.next()?),
                '"' => return Some(out),
                c => out.push(c),
            }
        }
        None
    } else {
        Some(rest.split(' ').next().unwrap_or_default().to_owned())
    }
}

/// Why Prometheus dropped scrape job `job`, from the last "error creating new scrape pool"
/// line that names it; `None` when the log names no such failure.
pub(crate) fn dropped_reason(log: &str, job: &str) -> Option<String> {
    log.lines()
        .rev()
        .filter(|l| l.contains("error creating new scrape pool"))
        .find(|l| logfmt_value(l, "scrape_pool").as_deref() == Some(job))
        .map(|l| logfmt_value(l, "err").unwrap_or_else(|| l.to_owned()))
}

/// The `err` of the last line that names `host` (a receiver's `127.0.0.1:port`, which the
/// notifier writes in `alertmanager=` and remote write in `url=`).
pub(crate) fn last_error_naming(log: &str, host: &str) -> Option<String> {
    log.lines()
        .rev()
        .filter(|l| l.contains(host))
        .find_map(|l| logfmt_value(l, "err"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropped_reason_reads_the_scrape_pool_error() {
        let log = "ts=2024 caller=manager.go:1 level=error component=\"scrape manager\" \
                   msg=\"error creating new scrape pool\" err=\"error creating HTTP client: \
                   unable to load specified CA cert /x/ca.crt: open /x/ca.crt: no such file or \
                   directory\" scrape_pool=dropped\n";
        assert_eq!(
            dropped_reason(log, "dropped").as_deref(),
            Some(
                "error creating HTTP client: unable to load specified CA cert /x/ca.crt: open \
                 /x/ca.crt: no such file or directory"
            )
        );
        assert_eq!(dropped_reason(log, "drop"), None);
        // A quoted pool name (a job name with spaces or quotes) is unescaped.
        let quoted = "level=error msg=\"error creating new scrape pool\" err=\"x \\\"y\\\"\" \
                      scrape_pool=\"a b\"\n";
        assert_eq!(dropped_reason(quoted, "a b").as_deref(), Some("x \"y\""));
    }

    #[test]
    fn logged_errors_are_found_by_address_and_unquoted() {
        let log = concat!(
            "ts=2026-11-30T14:00:00.000Z caller=notifier.go:532 level=error component=notifier alertmanager=https://127.0.0.1:4000/api/v2/alerts count=1 msg=\"Error sending alert\" err=\"bad response status 401 Unauthorized\"\n",
            "ts=2026-11-30T14:00:00.100Z caller=dedupe.go:112 component=remote level=warn remote_name=rw url=https://127.0.0.1:4001/api/v1/write msg=\"Failed to send batch, retrying\" err=\"Post \\\"https://127.0.0.1:4001/api/v1/write\\\": x509: certificate signed by unknown authority\"\n",
        );
        assert_eq!(
            last_error_naming(log, "127.0.0.1:4000").as_deref(),
            Some("bad response status 401 Unauthorized")
        );
        assert_eq!(
            last_error_naming(log, "127.0.0.1:4001").as_deref(),
            Some(
                "Post \"https://127.0.0.1:4001/api/v1/write\": x509: certificate signed by unknown authority"
            )
        );
        assert_eq!(last_error_naming(log, "127.0.0.1:4002"), None);
    }

    #[test]
    fn a_key_is_matched_whole() {
        let line = "remote_name=rw name=x";
        assert_eq!(logfmt_value(line, "name").as_deref(), Some("x"));
        assert_eq!(logfmt_value(line, "remote_name").as_deref(), Some("rw"));
    }
}
