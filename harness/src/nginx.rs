//! nginx (`nginx-light`) as a reverse proxy in front of an exporter on loopback: TLS
//! termination, `auth_basic` (bcrypt htpasswd) and client certificates
//! (`ssl_verify_client on`), the exporter behind it on 127.0.0.1 in plain HTTP.
//!
//! One foreground process (`daemon off; master_process off;`), so there is one pid to kill
//! and no `user` directive is needed (nginx switches users only in its workers, and without
//! a master there are none): it runs as whoever runs the harness, root or not, under the
//! crate's child-process guard (`supervise::Supervised`: own process group, SIGTERM then
//! SIGKILL on drop). Everything it writes (pid, logs, temp paths) is under its own run
//! directory (`supervise::RunDir`), removed on drop. A harness killed with SIGKILL cannot
//! drop it: the process carries `SCRAPE_HARNESS_OWNER_PID` and the prefix an `owner.pid`,
//! so the next run's leftover sweep kills and removes them (see `backend::sweep`).
//! Client keep-alive is held for 5 minutes (Prometheus' own idle timeout) and nginx keeps
//! its upstream connection alive too (`keepalive` in the `upstream` block, HTTP/1.1 with an
//! empty `Connection` header), so an exporter behind it sees one connection for many
//! scrapes, as it would without nginx.
//!
//! Debian's nginx checks `$2b$`/`$2y$` bcrypt hashes through libc's `crypt(3)` (libxcrypt):
//! the hashes the harness writes for `basic_auth_users` work unchanged, and nginx runs
//! bcrypt on every request (it has no cache, unlike exporter-toolkit).

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::supervise::{find_program, NotReady, Output, RunDir, Spec, Supervised};

/// How long nginx may take to listen.
const START_DEADLINE: Duration = Duration::from_secs(15);

/// Why nginx could not be started.
#[derive(Debug, thiserror::Error)]
pub enum NginxError {
    /// No nginx binary.
    #[error("nginx not found on PATH nor in /usr/sbin; install it with `bash scripts/setup` (Debian package nginx-light) or set NGINX to its path")]
    Missing,
    /// Writing its files failed.
    #[error("{}: cannot write nginx' files: {source}", .path.display())]
    Write {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Spawning failed.
    #[error("cannot run {}: {source}", .binary.display())]
    Spawn {
        /// The binary.
        binary: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// It exited or did not listen in time.
    #[error("nginx did not come up on {addr} ({why}); its error log says:\n{log}\nits config was:\n{conf}")]
    NotReady {
        /// Where it should listen.
        addr: SocketAddr,
        /// Exited (with what) or timed out.
        why: String,
        /// `error.log`.
        log: String,
        /// `nginx.conf`.
        conf: String,
    },
}

/// What nginx does in front of the upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NginxConfig {
    /// Where nginx listens (loopback).
    pub listen: SocketAddr,
    /// The exporter behind it (plain HTTP, loopback).
    pub upstream: SocketAddr,
    /// Serve TLS with this certificate (chain) and key file.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Require client certificates signed by this CA file (`ssl_verify_client on`); needs
    /// `tls`.
    pub client_ca: Option<PathBuf>,
    /// `auth_basic` users: user → bcrypt hash (htpasswd lines).
    pub basic_auth_users: Vec<(String, String)>,
}

impl NginxConfig {
    /// A plain reverse proxy from `listen` to `upstream`.
    pub fn new(listen: SocketAddr, upstream: SocketAddr) -> Self {
        Self {
            listen,
            upstream,
            tls: None,
            client_ca: None,
            basic_auth_users: Vec::new(),
        }
    }

    /// The full `nginx.conf`, with every path under `prefix` (the htpasswd file is
    /// `prefix/htpasswd`).
    pub fn render(&self, prefix: &Path) -> String {
        let p = prefix.display();
        let mut server = String::new();
        let ssl = if self.tls.is_some() { " ssl" } else { "" };
        let _ = writeln!(server, "        listen {}{ssl};", self.listen);
        if let Some((cert, key)) = &self.tls {
            let _ = writeln!(server, "        ssl_certificate {};", cert.display());
            let _ = writeln!(server, "        ssl_certificate_key {};", key.display());
            let _ = writeln!(server, "        ssl_protocols TLSv1.2 TLSv1.3;");
        }
        if let Some(ca) = &self.client_ca {
            let _ = writeln!(server, "        ssl_client_certificate {};", ca.display());
            let _ = writeln!(server, "        ssl_verify_client on;");
        }
        if !self.basic_auth_users.is_empty() {
            let _ = writeln!(server, "        auth_basic \"metrics\";");
            let _ = writeln!(server, "        auth_basic_user_file {p}/htpasswd;");
        }
        format!(
            "# Generated by scrape-harness: a reverse proxy in front of {upstream}.\n\
             daemon off;\n\
             master_process off;\n\
             worker_processes 1;\n\
             pid {p}/nginx.pid;\n\
             error_log {p}/error.log notice;\n\
             events {{\n    worker_connections 512;\n}}\n\
             http {{\n\
             \x20   access_log off;\n\
             \x20   client_body_temp_path {p}/client_body;\n\
             \x20   proxy_temp_path {p}/proxy;\n\
             \x20   fastcgi_temp_path {p}/fastcgi;\n\
             \x20   uwsgi_temp_path {p}/uwsgi;\n\
             \x20   scgi_temp_path {p}/scgi;\n\
             \x20   keepalive_timeout 5m;\n\
             \x20   keepalive_requests 1000000;\n\
             \x20   upstream exporter {{\n\
             \x20       server {upstream};\n\
             \x20       keepalive 8;\n\
             \x20       keepalive_timeout 5m;\n\
             \x20   }}\n\
             \x20   server {{\n\
             {server}\
             \x20       location / {{\n\
             \x20           proxy_pass http://exporter;\n\
             \x20           proxy_http_version 1.1;\n\
             \x20           proxy_set_header Connection \"\";\n\
             \x20       }}\n\
             \x20   }}\n\
             }}\n",
            upstream = self.upstream,
        )
    }

    /// The htpasswd file's content.
    pub fn htpasswd(&self) -> String {
        self.basic_auth_users
            .iter()
            .map(|(user, hash)| format!("{user}:{hash}\n"))
            .collect()
    }
}

/// A running nginx; dropping it stops the process (SIGTERM, SIGKILL after a grace period)
/// and removes its prefix directory (no runtime needed).
#[derive(Debug)]
#[must_use = "dropping a RunningNginx kills nginx"]
pub struct RunningNginx {
    // Declared before `dir`: nginx stops before its prefix is removed.
    child: Supervised,
    addr: SocketAddr,
    conf: String,
    dir: RunDir,
}

/// The nginx binary: `$NGINX`, else `nginx` on PATH or in /usr/sbin.
pub fn nginx_binary() -> Result<PathBuf, NginxError> {
    find_program("NGINX", &["nginx"]).ok_or(NginxError::Missing)
}

impl RunningNginx {
    /// Writes the config into a new temporary prefix, starts nginx and returns once it
    /// accepts TCP connections on `config.listen` (polled, 15 s deadline).
    pub async fn start(config: &NginxConfig) -> Result<Self, NginxError> {
        let binary = nginx_binary()?;
        let write_error = |e: crate::supervise::SuperviseError| {
            let (_, path, source) = e.into_parts();
            NginxError::Write { path, source }
        };
        let dir = RunDir::create("nginx").map_err(write_error)?;
        let prefix = dir.path().to_owned();
        let conf = config.render(&prefix);
        let write = |name: &str, text: &str| {
            let path = prefix.join(name);
            std::fs::write(&path, text).map_err(|source| NginxError::Write { path, source })
        };
        write("nginx.conf", &conf)?;
        write("htpasswd", &config.htpasswd())?;
        let child = Spec::new(&binary)
            // -e: the error log before the config is read (the default is /var/log/nginx).
            .arg("-e")
            .arg(prefix.join("error.log"))
            .arg("-p")
            .arg(&prefix)
            .arg("-c")
            .arg(prefix.join("nginx.conf"))
            .output(Output::Null)
            .spawn()
            .map_err(|e| {
                let (_, binary, source) = e.into_parts();
                NginxError::Spawn { binary, source }
            })?;
        let running = Self {
            child,
            addr: config.listen,
            conf,
            dir,
        };
        let listen = config.listen;
        let listening = move || async move {
            let probe = tokio::time::timeout(
                Duration::from_secs(1),
                tokio::net::TcpStream::connect(listen),
            )
            .await;
            matches!(probe, Ok(Ok(_)))
        };
        match running.child.wait_until(START_DEADLINE, listening).await {
            Ok(()) => Ok(running),
            Err(NotReady::Exited(status)) => {
                Err(running.not_ready(format!("it exited with {status}")))
            }
            Err(NotReady::TimedOut) => {
                Err(running.not_ready(format!("not listening after {}s", START_DEADLINE.as_secs())))
            }
        }
    }

    fn not_ready(&self, why: String) -> NginxError {
        NginxError::NotReady {
            addr: self.addr,
            why,
            log: std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default(),
            conf: self.conf.clone(),
        }
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its pid.
    pub fn pid(&self) -> u32 {
        self.child.pid()
    }

    /// The `nginx.conf` it runs.
    pub fn conf(&self) -> &str {
        &self.conf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_basic_and_client_certs_are_rendered_with_upstream_keepalive() {
        let mut config = NginxConfig::new(
            "127.0.0.1:8443".parse().expect("addr"),
            "127.0.0.1:9100".parse().expect("addr"),
        );
        config.tls = Some(("/pki/server.crt".into(), "/pki/server.key".into()));
        config.client_ca = Some("/pki/ca.crt".into());
        config.basic_auth_users = vec![("prom".into(), "$2b$04$hash".into())];
        let conf = config.render(Path::new("/run/x"));
        for line in [
            "listen 127.0.0.1:8443 ssl;",
            "ssl_certificate /pki/server.crt;",
            "ssl_verify_client on;",
            "auth_basic_user_file /run/x/htpasswd;",
            "server 127.0.0.1:9100;",
            "keepalive 8;",
            "proxy_set_header Connection \"\";",
            "master_process off;",
        ] {
            assert!(conf.contains(line), "missing {line:?} in:\n{conf}");
        }
        assert!(!conf.contains("\nuser "), "no user directive: {conf}");
        assert_eq!(config.htpasswd(), "prom:$2b$04$hash\n");
    }

    #[test]
    fn a_plain_proxy_has_no_tls_nor_auth() {
        let config = NginxConfig::new(
            "[::1]:8080".parse().expect("addr"),
            "127.0.0.1:9100".parse().expect("addr"),
        );
        let conf = config.render(Path::new("/p"));
        assert!(conf.contains("listen [::1]:8080;"), "{conf}");
        assert!(
            !conf.contains("ssl") && !conf.contains("auth_basic"),
            "{conf}"
        );
    }

    #[tokio::test]
    async fn nginx_refusing_its_config_is_reported_with_its_error_log_and_config() {
        let listen = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listen.local_addr().expect("addr");
        drop(listen);
        let mut config = NginxConfig::new(addr, "127.0.0.1:9".parse().expect("addr"));
        config.tls = Some((
            "/nonexistent/server.crt".into(),
            "/nonexistent/server.key".into(),
        ));
        let err = RunningNginx::start(&config)
            .await
            .expect_err("nginx cannot load a missing certificate");
        let text = err.to_string();
        assert!(
            text.starts_with(&format!("nginx did not come up on {addr} (it exited")),
            "{text}"
        );
        assert!(
            text.contains("/nonexistent/server.crt"),
            "the error log is quoted: {text}"
        );
        assert!(
            text.contains("ssl_certificate /nonexistent/server.crt;"),
            "the config too: {text}"
        );
    }
}
