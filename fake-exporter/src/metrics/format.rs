//! Exposition formats and Accept-header negotiation, following client_golang's
//! `expfmt.NegotiateIncludingOpenMetrics`.

/// An exposition format the fake exporter can write.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Format {
    /// Prometheus text format 0.0.4.
    #[default]
    Text004,
    /// OpenMetrics 1.0.0 text (ends with `# EOF`).
    OpenMetrics,
}

impl Format {
    /// `Content-Type` of a body in this format.
    pub const TEXT_004_CONTENT_TYPE: &'static str = "text/plain; version=0.0.4; charset=utf-8";
    /// `Content-Type` of an OpenMetrics 1.0.0 body.
    pub const OPENMETRICS_CONTENT_TYPE: &'static str =
        "application/openmetrics-text; version=1.0.0; charset=utf-8";

    /// Picks the format for a request's `Accept` header, as client_golang's
    /// `expfmt.NegotiateIncludingOpenMetrics` does: media ranges are tried by descending
    /// q-value (ties keep header order); the first `text/plain` (no version or `0.0.4`)
    /// gives text 0.0.4 and the first `application/openmetrics-text` (no version, `0.0.1` or
    /// `1.0.0`) gives OpenMetrics; anything else (protobuf, `*/*`, other versions) is
    /// skipped. No header, or no match, gives text 0.0.4.
    ///
    /// One deliberate difference: a range with `q=0` ("not acceptable", RFC 9110) is ignored,
    /// where Go's parser would still try it last. Both OpenMetrics versions are answered with
    /// OpenMetrics 1.0.0, which Prometheus reads either way.
    pub fn negotiate(accept: Option<&str>) -> Format {
        let Some(accept) = accept else {
            return Format::Text004;
        };
        let mut candidates: Vec<(f32, Format)> = accept
            .split(',')
            .filter_map(MediaRange::parse)
            .filter(|range| range.q > 0.0)
            .filter_map(|range| range.format().map(|format| (range.q, format)))
            .collect();
        // Stable: equal q-values keep the order of the header.
        candidates.sort_by(|a, b| b.0.total_cmp(&a.0));
        candidates
            .first()
            .map_or(Format::Text004, |&(_, format)| format)
    }

    /// The `Content-Type` header value for a body in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text004 => Self::TEXT_004_CONTENT_TYPE,
            Format::OpenMetrics => Self::OPENMETRICS_CONTENT_TYPE,
        }
    }
}

/// One media range of an `Accept` header, reduced to what negotiation needs.
struct MediaRange<'a> {
    media_type: &'a str,
    version: Option<&'a str>,
    q: f32,
}

impl<'a> MediaRange<'a> {
    /// Parses `type/subtype;param=value;...`; `None` for an empty element.
    fn parse(element: &'a str) -> Option<Self> {
        let mut parts = element.split(';');
        let media_type = parts.next()?.trim();
        if media_type.is_empty() {
            return None;
        }
        let mut range = MediaRange {
            media_type,
            version: None,
            q: 1.0,
        };
        for param in parts {
            let Some((key, value)) = param.split_once('=') else {
                continue;
            };
            let value = value.trim().trim_matches('"');
            match key.trim() {
                k if k.eq_ignore_ascii_case("q") => {
                    // Like Go's goautoneg: an unparsable q-value counts as 0.
                    range.q = value.parse().unwrap_or(0.0);
                }
                k if k.eq_ignore_ascii_case("version") => range.version = Some(value),
                _ => {}
            }
        }
        Some(range)
    }

    /// The format this range selects, if it is one we serve.
    fn format(&self) -> Option<Format> {
        let is = |name: &str| self.media_type.eq_ignore_ascii_case(name);
        if is("text/plain") && matches!(self.version, None | Some("0.0.4")) {
            Some(Format::Text004)
        } else if is("application/openmetrics-text")
            && matches!(self.version, None | Some("0.0.1") | Some("1.0.0"))
        {
            Some(Format::OpenMetrics)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What Prometheus 2.42 sends on every scrape.
    const PROMETHEUS_2_42: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    /// What Prometheus 3.x sends by default.
    const PROMETHEUS_3: &str = "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1";
    /// Prometheus with `scrape_protocols: [PrometheusProto, PrometheusText0.0.4]`.
    const PROTOBUF_FIRST: &str = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.5,text/plain;version=0.0.4;q=0.4,*/*;q=0.1";

    #[test]
    fn negotiation_table() {
        for (accept, want) in [
            (None, Format::Text004),
            (Some(""), Format::Text004),
            (Some(PROMETHEUS_2_42), Format::OpenMetrics),
            (Some(PROMETHEUS_3), Format::OpenMetrics),
            (Some(PROTOBUF_FIRST), Format::Text004),
            (Some("*/*"), Format::Text004),
            (Some("text/plain"), Format::Text004),
            (Some("application/openmetrics-text"), Format::OpenMetrics),
            (
                Some("application/openmetrics-text; version=0.0.1"),
                Format::OpenMetrics,
            ),
            (
                Some("Application/OpenMetrics-Text;Version=\"1.0.0\""),
                Format::OpenMetrics,
            ),
            // A version we do not speak is skipped.
            (
                Some("application/openmetrics-text;version=2.0.0"),
                Format::Text004,
            ),
            // q-values beat header order.
            (
                Some("application/openmetrics-text;q=0.2,text/plain;q=0.5"),
                Format::Text004,
            ),
            (
                Some("text/plain;version=0.0.4;q=0.3, application/openmetrics-text;q=0.9"),
                Format::OpenMetrics,
            ),
            // Equal q-values keep header order.
            (
                Some("text/plain, application/openmetrics-text"),
                Format::Text004,
            ),
            (
                Some("application/openmetrics-text, text/plain"),
                Format::OpenMetrics,
            ),
            // q=0 means "not acceptable"; an unparsable q counts as 0.
            (Some("application/openmetrics-text;q=0"), Format::Text004),
            (Some("application/openmetrics-text;q=abc"), Format::Text004),
            (Some(",,;"), Format::Text004),
        ] {
            assert_eq!(Format::negotiate(accept), want, "Accept: {accept:?}");
        }
    }

    #[test]
    fn content_types_match_client_golang() {
        assert_eq!(
            Format::Text004.content_type(),
            "text/plain; version=0.0.4; charset=utf-8"
        );
        assert_eq!(
            Format::OpenMetrics.content_type(),
            "application/openmetrics-text; version=1.0.0; charset=utf-8"
        );
    }
}
