//! The files of a lab: written at start (typed configs from the catalog, a fresh PKI, the
//! classic lab's openssl certificate, bcrypt hashes) and rewritten by a reference solution.

use std::fs;
use std::path::Path;

use fake_exporter::pki::{KeyType, Pki};

use super::catalog::{self, Lab, Ports, Variant};
use super::error::LabError;
use super::state;
use super::tools::{run_command, LabTools};

/// `pki/README.txt` as a learner should read it: what each file is, and how the lab makes
/// fresh ones (not the tool's own regeneration command).
fn lab_pki_readme(dir: &Path, lab: &str) -> Result<(), LabError> {
    let path = dir.join("pki/README.txt");
    let text = fs::read_to_string(&path).map_err(|e| LabError::io("reading", &path, e))?;
    let fresh = format!(
        "These files belong to this lab. For fresh ones: `scrape-harness lab stop`, then \
         `scrape-harness lab start {lab}` (your edits are overwritten)."
    );
    let text: Vec<String> = text
        .lines()
        .map(|l| {
            if l.starts_with("Regenerate:") {
                fresh.clone()
            } else {
                l.to_owned()
            }
        })
        .collect();
    write(dir, "pki/README.txt", &(text.join("\n") + "\n"))
}

/// A cheap fingerprint of a file's content (to notice edits).
pub(crate) fn fingerprint(path: &Path) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    fs::read(path).unwrap_or_default().hash(&mut h);
    format!("{:016x}", h.finish())
}

/// The openssl command line of a tutorial's self-signed certificate for `san`.
fn openssl_self_signed(san: &str) -> Vec<String> {
    [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-days",
        "365",
        "-subj",
        "/CN=localhost",
        "-addext",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .chain([
        format!("subjectAltName={san}"),
        "-keyout".into(),
        "exporter.key.new".into(),
        "-out".into(),
        "exporter.crt.new".into(),
    ])
    .collect()
}

/// Makes `exporter.crt`/`exporter.key` with openssl (written beside, then renamed: the
/// exporter reads them on every connection).
fn make_classic_cert(tools: &LabTools, dir: &Path, san: &str) -> Result<(), LabError> {
    run_command(&tools.openssl, &openssl_self_signed(san), dir)?;
    for name in ["exporter.key", "exporter.crt"] {
        let from = dir.join(format!("{name}.new"));
        fs::rename(&from, dir.join(name)).map_err(|e| LabError::io("renaming", from, e))?;
    }
    Ok(())
}

fn write(dir: &Path, name: &str, text: &str) -> Result<(), LabError> {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|e| LabError::io("creating", parent, e))?;
    }
    state::write_atomic(&path, text)
}

fn copy(dir: &Path, from: &str, to: &str) -> Result<(), LabError> {
    let text = fs::read_to_string(dir.join(from))
        .map_err(|e| LabError::io("reading", dir.join(from), e))?;
    write(dir, to, &text)
}

fn bcrypt_hash(password: &str) -> String {
    bcrypt::hash_with_result(password, 10)
        .expect("bcrypt with cost 10 cannot fail")
        .format_for_version(bcrypt::Version::TwoY)
}

fn run_as_root() -> bool {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|euid| euid == "0"))
        })
        .unwrap_or(false)
}

/// Writes the lab's files (blocking: bcrypt, key generation, openssl).
pub(crate) fn write_files(
    lab: Lab,
    dir: &Path,
    ports: &Ports,
    tools: &LabTools,
) -> Result<(), LabError> {
    let info = lab.info();
    let hash = bcrypt_hash(catalog::PASSWORD);
    write(dir, "README.md", &catalog::readme(info, dir, ports))?;
    write(
        dir,
        "prometheus.yml",
        &catalog::prometheus_yml(lab, ports, Variant::Broken),
    )?;
    if lab.is_build_it() {
        // The learner makes everything else, following the tutorial path.
        return Ok(());
    }
    write(dir, "web-config.yml", &catalog::web_config_yml(lab, &hash)?)?;
    let uses_pki = !matches!(
        lab,
        Lab::ClassicTlsBasic | Lab::BasicAuth401 | Lab::BearerRotation
    );
    if uses_pki {
        Pki::generate(KeyType::EcdsaP256)?.write_to(&dir.join("pki"))?;
        lab_pki_readme(dir, info.name)?;
    }
    match lab {
        Lab::ClassicTlsBasic => {
            make_classic_cert(tools, dir, "DNS:localhost")?;
            write(dir, "password.txt", catalog::PASSWORD)?;
        }
        Lab::BasicAuth401 => write(dir, "password.txt", &hash)?,
        Lab::ExpiredCert => {
            copy(dir, "pki/server-expired.key", "exporter/server.key")?;
            copy(dir, "pki/server-expired.crt", "exporter/server.crt")?;
        }
        Lab::BearerRotation => write(dir, "exporter-token", &format!("{}\n", catalog::NEW_TOKEN))?,
        Lab::ReverseProxy => write(dir, "password.txt", catalog::PASSWORD)?,
        _ => {}
    }
    if lab.has_proxy() {
        let nginx = catalog::nginx_config(lab, dir, ports, Variant::Broken, &hash, run_as_root());
        if let Some(htpasswd) = &nginx.htpasswd_file {
            state::write_atomic(htpasswd, &nginx.htpasswd())?;
        }
        write(dir, "nginx.conf", &catalog::nginx_conf(&nginx, dir))?;
    }
    Ok(())
}

/// Applies lab `lab`'s reference solution to the files in `dir`.
pub(crate) fn apply_solution(
    lab: Lab,
    dir: &Path,
    ports: &Ports,
    tools: &LabTools,
) -> Result<(), LabError> {
    if lab.is_build_it() {
        return build_it_solution(lab, dir, ports, tools);
    }
    match lab {
        Lab::ClassicTlsBasic => make_classic_cert(tools, dir, "DNS:localhost,IP:127.0.0.1"),
        Lab::BasicAuth401 => write(dir, "password.txt", catalog::PASSWORD),
        Lab::ExpiredCert => {
            copy(dir, "pki/server.key", "exporter/server.key")?;
            copy(dir, "pki/server.crt", "exporter/server.crt")
        }
        Lab::Keepalive => {
            let hash = bcrypt_hash(catalog::PASSWORD);
            let nginx =
                catalog::nginx_config(lab, dir, ports, Variant::Fixed, &hash, run_as_root());
            write(dir, "nginx.conf", &catalog::nginx_conf(&nginx, dir))
        }
        _ => write(
            dir,
            "prometheus.yml",
            &catalog::prometheus_yml(lab, ports, Variant::Fixed),
        ),
    }
}

/// A build-it lab's reference: the tutorial's openssl commands run through the lab's
/// `openssl`, the bcrypt hash, then the exporter's `web-config.yml` and the job.
fn build_it_solution(
    lab: Lab,
    dir: &Path,
    ports: &Ports,
    tools: &LabTools,
) -> Result<(), LabError> {
    let hash = bcrypt_hash(catalog::PASSWORD);
    match lab {
        Lab::BuildMtls => {
            for command in openssl_mtls() {
                run_command(&tools.openssl, &command, dir)?;
            }
        }
        _ => make_classic_cert(tools, dir, "DNS:localhost,IP:127.0.0.1")?,
    }
    if lab == Lab::BuildTlsBasic {
        write(dir, "password.txt", catalog::PASSWORD)?;
    }
    write(dir, "web-config.yml", &catalog::web_config_yml(lab, &hash)?)?;
    write(
        dir,
        "prometheus.yml",
        &catalog::prometheus_yml(lab, ports, Variant::Fixed),
    )
}

/// The openssl command lines of an mTLS tutorial: a CA, a server certificate for
/// `localhost`/`127.0.0.1` and a client certificate (clientAuth), both signed by the CA.
fn openssl_mtls() -> Vec<Vec<String>> {
    const EC: &str = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    let sign = |name: &str| {
        format!(
            "x509 -req -in {name}.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 365 \
             -copy_extensions copy -out {name}.crt"
        )
    };
    [
        format!("req -x509 {EC} -days 365 -subj /CN=lab-ca -keyout ca.key -out ca.crt"),
        format!(
            "req -new {EC} -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
             -keyout server.key -out server.csr"
        ),
        sign("server"),
        format!(
            "req -new {EC} -subj /CN=prometheus -addext extendedKeyUsage=clientAuth \
             -keyout client.key -out client.csr"
        ),
        sign("client"),
    ]
    .iter()
    .map(|line| line.split_whitespace().map(str::to_owned).collect())
    .collect()
}
