//! The bare rustls server of `bench servers` (`scrape-harness bench raw-tls-server`): a
//! tokio-rustls accept loop that answers every HTTP/1.1 request head with a response
//! prepared at start, either a fixed 69-byte body or fake-exporter's own answer
//! ([`RawBody`]). It does nothing per request but find the end of the head, read `Accept`
//! and `Accept-Encoding` (same-body mode) and write: the floor a real exporter is compared
//! with.

use std::net::SocketAddr;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

use super::ServersError;

/// A fixed body of typical exporter lines.
const RAW_BODY: &str = "# HELP up_example A fixed body.\n# TYPE up_example gauge\nup_example 1\n";

/// What the bare rustls server answers (`bench raw-tls-server --body`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RawBody {
    /// `tiny`: a fixed 69-byte body of typical exporter lines, whatever was asked.
    #[default]
    Tiny,
    /// `fake-exporter`: what fake-exporter (default metrics, no web config faults) answers
    /// its first scrape: the same body bytes (rendered once by fake-exporter's metrics
    /// code, text 0.0.4 or OpenMetrics as `Accept` negotiates), the same headers
    /// (`content-type`, `content-encoding` when gzipped, `content-length`, `date`), gzip
    /// when `Accept-Encoding` asks for it as fake-exporter decides. Every body is prepared
    /// at start: the server does no work per request but parse and send.
    FakeExporter,
}

impl RawBody {
    /// The `--body` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tiny => "tiny",
            Self::FakeExporter => "fake-exporter",
        }
    }
}

/// A `--body` other than `tiny` and `fake-exporter`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("body `{given}`: use tiny or fake-exporter")]
pub struct ParseRawBodyError {
    /// What was given.
    pub given: String,
}

impl FromStr for RawBody {
    type Err = ParseRawBodyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "tiny" => Ok(Self::Tiny),
            "fake-exporter" => Ok(Self::FakeExporter),
            other => Err(ParseRawBodyError {
                given: other.to_owned(),
            }),
        }
    }
}

/// The bare rustls server: answers every HTTP/1.1 request on every connection as `body`
/// says. Runs until killed.
pub async fn serve_raw_tls(
    listen: SocketAddr,
    cert: &Path,
    key: &Path,
    body: RawBody,
) -> Result<(), ServersError> {
    let acceptor = raw_acceptor(cert, key)?;
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|source| ServersError::Listen {
            what: "binding",
            addr: listen,
            source,
        })?;
    serve_raw(listener, acceptor, Answers::new(body)).await
}

/// The raw server's TLS side: the certificate chain and key, ALPN `http/1.1`.
fn raw_acceptor(cert: &Path, key: &Path) -> Result<tokio_rustls::TlsAcceptor, ServersError> {
    let pem = |path: &Path| {
        let path = path.to_owned();
        move |source| ServersError::Pem { path, source }
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(pem(cert))?
        .collect::<Result<_, _>>()
        .map_err(pem(cert))?;
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(pem(key))?;
    let tls = |source| ServersError::Tls {
        what: "the raw server's TLS configuration",
        source,
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(tls)?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)
        .map_err(tls)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// Accepts on `listener` until an accept fails; one task per connection.
async fn serve_raw(
    listener: TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    answers: Answers,
) -> Result<(), ServersError> {
    let answers = Arc::new(answers);
    loop {
        let (tcp, _) = listener
            .accept()
            .await
            .map_err(|source| ServersError::Listen {
                what: "accepting on",
                addr: listener
                    .local_addr()
                    .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0))),
                source,
            })?;
        let acceptor = acceptor.clone();
        let answers = answers.clone();
        tokio::spawn(async move {
            let _ = tcp.set_nodelay(true);
            let Ok(tls) = acceptor.accept(tcp).await else {
                return;
            };
            answer_connection(tls, &answers).await;
        });
    }
}

/// Answers once per complete request head until the client closes (or sends a head
/// larger than 8 KiB).
async fn answer_connection<S>(mut conn: S, answers: &Answers)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut buf = vec![0u8; 8192];
    let mut have = 0;
    let mut out = Vec::new();
    let mut date = DateHeader::default();
    loop {
        let Ok(n) = conn.read(&mut buf[have..]).await else {
            return;
        };
        if n == 0 {
            return;
        }
        have += n;
        while let Some(end) = buf[..have].windows(4).position(|w| w == b"\r\n\r\n") {
            let response = answers.response(&buf[..end], &mut date, &mut out);
            if conn.write_all(response).await.is_err() {
                return;
            }
            buf.copy_within(end + 4..have, 0);
            have -= end + 4;
        }
        if have == buf.len() {
            return;
        }
    }
}

/// Every response of the raw server, prepared before the first connection.
enum Answers {
    /// The whole fixed response.
    Tiny(Vec<u8>),
    /// fake-exporter's answers, in the order of [`Answers::key`].
    SameBody([Prepared; 4]),
}

/// One of fake-exporter's answers: the head up to (not including) `date`, and the body.
struct Prepared {
    head: Vec<u8>,
    body: bytes::Bytes,
}

impl Answers {
    fn new(body: RawBody) -> Self {
        match body {
            RawBody::Tiny => Self::Tiny(
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\n\r\n{RAW_BODY}",
                    RAW_BODY.len()
                )
                .into_bytes(),
            ),
            RawBody::FakeExporter => {
                // fake-exporter's defaults: the binary serves `MetricsSpec::default()`
                // unless `--metrics.series` says otherwise, and `bench servers` passes none.
                let metrics = fake_exporter::Metrics::new(fake_exporter::MetricsSpec::default());
                let prepare = |index: usize| {
                    let (format, gzip) = Self::key(index);
                    let plain = metrics.render(format, 0);
                    let body = if gzip {
                        fake_exporter::gzip_body(&plain)
                    } else {
                        plain
                    };
                    let mut head = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: {}\r\n",
                        format.content_type()
                    );
                    if gzip {
                        head.push_str("content-encoding: gzip\r\n");
                    }
                    head.push_str(&format!("content-length: {}\r\n", body.len()));
                    Prepared {
                        head: head.into_bytes(),
                        body,
                    }
                };
                Self::SameBody([prepare(0), prepare(1), prepare(2), prepare(3)])
            }
        }
    }

    /// (format, gzip) of prepared answer `index`.
    fn key(index: usize) -> (fake_exporter::Format, bool) {
        let format = if index & 2 == 0 {
            fake_exporter::Format::Text004
        } else {
            fake_exporter::Format::OpenMetrics
        };
        (format, index & 1 == 1)
    }

    /// The answer to the request whose head (without its final blank line) is `head`:
    /// the fixed response, or fake-exporter's assembled in `out`.
    fn response<'a>(
        &'a self,
        head: &[u8],
        date: &mut DateHeader,
        out: &'a mut Vec<u8>,
    ) -> &'a [u8] {
        let prepared = match self {
            Self::Tiny(response) => return response,
            Self::SameBody(prepared) => prepared,
        };
        // As fake-exporter's metrics endpoint: the first `Accept`, every `Accept-Encoding`.
        let format = fake_exporter::Format::negotiate(header_values(head, "accept").next());
        let gzip = fake_exporter::accepts_gzip(header_values(head, "accept-encoding"));
        let index =
            usize::from(format == fake_exporter::Format::OpenMetrics) * 2 + usize::from(gzip);
        let answer = &prepared[index];
        out.clear();
        out.extend_from_slice(&answer.head);
        out.extend_from_slice(b"date: ");
        out.extend_from_slice(date.now().as_bytes());
        out.extend_from_slice(b"\r\n\r\n");
        out.extend_from_slice(&answer.body);
        out
    }
}

/// The values of header `name` (lower case) in a request head, in order.
fn header_values<'a>(head: &'a [u8], name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    head.split(|&b| b == b'\n').skip(1).filter_map(move |line| {
        let line = std::str::from_utf8(line).ok()?.trim_end_matches('\r');
        let (key, value) = line.split_once(':')?;
        key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

/// The `date` header value, formatted once per second as hyper does.
#[derive(Default)]
struct DateHeader {
    second: u64,
    text: String,
}

impl DateHeader {
    fn now(&mut self) -> &str {
        let now = std::time::SystemTime::now();
        let second = now
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if self.text.is_empty() || second != self.second {
            self.second = second;
            self.text = httpdate::fmt_http_date(now);
        }
        &self.text
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use fake_exporter::pki::{KeyType, ServerCert};
    use http_body_util::{BodyExt as _, Empty};

    use super::super::{tls_connector, Client, Sender};
    use super::*;

    #[test]
    fn raw_bodies_parse_from_their_names_only() {
        for body in [RawBody::Tiny, RawBody::FakeExporter] {
            assert_eq!(body.as_str().parse(), Ok(body));
        }
        let err = "fake_exporter".parse::<RawBody>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "body `fake_exporter`: use tiny or fake-exporter"
        );
    }

    /// Status, headers (in order) and body of one request on `sender`.
    async fn fetch(
        sender: &mut Sender,
        headers: &[(&str, &str)],
    ) -> (http::StatusCode, Vec<(String, String)>, Bytes) {
        let mut req = http::Request::get("/metrics").header(http::header::HOST, "localhost");
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        sender.ready().await.expect("the connection is open");
        let response = sender
            .send_request(req.body(Empty::new()).expect("a valid request"))
            .await
            .expect("an answer");
        let status = response.status();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| {
                let v = v.to_str().expect("ASCII header values");
                (k.as_str().to_owned(), v.to_owned())
            })
            .collect();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("a whole body")
            .to_bytes();
        (status, headers, body)
    }

    /// The headers without `date`, after checking it is there and is an HTTP date.
    fn without_date(headers: &[(String, String)], who: &str) -> Vec<(String, String)> {
        let dates: Vec<&String> = headers
            .iter()
            .filter(|(k, _)| k == "date")
            .map(|(_, v)| v)
            .collect();
        assert_eq!(dates.len(), 1, "{who}: one date header in {headers:?}");
        httpdate::parse_http_date(dates[0]).expect("an HTTP date");
        headers
            .iter()
            .filter(|(k, _)| k != "date")
            .cloned()
            .collect()
    }

    #[tokio::test]
    async fn the_same_body_floor_answers_what_fake_exporter_answers() {
        // Arrange: one PKI; the floor on a port of its own.
        let pki = fake_exporter::Pki::generate(KeyType::EcdsaP256).expect("a PKI");
        let dir = tempfile::tempdir().expect("a temp dir");
        let files = pki.write_to(dir.path()).expect("PKI files");
        let acceptor = raw_acceptor(
            &files.server_cert(ServerCert::Valid),
            &files.server_key(ServerCert::Valid),
        )
        .expect("the floor's TLS config");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let floor_addr = listener.local_addr().expect("its address");
        let floor = tokio::spawn(serve_raw(
            listener,
            acceptor,
            Answers::new(RawBody::FakeExporter),
        ));
        let connector = tls_connector(&files.ca(), None).expect("a client");
        let client = |addr| Client {
            addr,
            tls: Some(connector.clone()),
            auth: None,
            path: "/metrics",
        };
        let openmetrics = "application/openmetrics-text;version=1.0.0,text/plain;q=0.5";
        let variants: [&[(&str, &str)]; 4] = [
            &[],
            &[("accept-encoding", "gzip")],
            &[("accept", openmetrics)],
            &[
                ("accept", openmetrics),
                ("accept-encoding", "deflate, GZIP;q=0.8"),
            ],
        ];
        for headers in variants {
            // A fresh fake-exporter each time: its first scrape is the body the floor serves.
            let exporter = fake_exporter::FakeExporter::builder()
                .tls(pki.server(ServerCert::Valid))
                .start()
                .await
                .expect("fake-exporter starts");

            // Act
            let mut to_fake = client(exporter.addr())
                .connect()
                .await
                .expect("TLS to fake");
            let fake = fetch(&mut to_fake, headers).await;
            let mut to_floor = client(floor_addr)
                .connect()
                .await
                .expect("TLS to the floor");
            let first = fetch(&mut to_floor, headers).await;
            let again = fetch(&mut to_floor, headers).await;

            // Assert: the same status, headers and bytes, also on a kept-alive connection.
            assert_eq!(fake.0, http::StatusCode::OK, "{headers:?}");
            for floor in [&first, &again] {
                assert_eq!(floor.0, fake.0, "{headers:?}");
                assert_eq!(
                    without_date(&floor.1, "floor"),
                    without_date(&fake.1, "fake-exporter"),
                    "headers for {headers:?}"
                );
                assert_eq!(floor.2, fake.2, "body for {headers:?}");
            }
            let gzip = headers.iter().any(|(k, _)| *k == "accept-encoding");
            assert_eq!(fake.2.starts_with(&[0x1f, 0x8b]), gzip, "{headers:?}");
            let om = headers.iter().any(|(k, _)| *k == "accept");
            let content_type = &fake
                .1
                .iter()
                .find(|(k, _)| k == "content-type")
                .expect("a type")
                .1;
            assert_eq!(content_type.starts_with("application/openmetrics-text"), om);
            assert!(fake.2.len() > 1_000, "a real body, {} bytes", fake.2.len());
        }
        floor.abort();
    }
}
