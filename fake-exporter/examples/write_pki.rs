//! Generates the test PKI (CA, intermediate, rogue CA, good and broken server and client
//! certificates) and writes it to a directory under stable file names, with a README.txt.
//!
//! ```text
//! cargo run -p fake-exporter --example write_pki -- DIR [ecdsa-p256|ed25519|rsa2048]
//! ```
//!
//! The key type defaults to `ecdsa-p256`. Expired and not-yet-valid certificates are relative
//! to now, so regenerate rather than commit the output.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use fake_exporter::pki::{ClientCert, KeyType, Pki, ServerCert};

const USAGE: &str =
    "usage: cargo run -p fake-exporter --example write_pki -- DIR [ecdsa-p256|ed25519|rsa2048]";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}

fn run() -> anyhow::Result<()> {
    let mut args = std::env::args_os().skip(1);
    let dir = PathBuf::from(args.next().context(USAGE)?);
    let key_type = match args.next() {
        None => KeyType::default(),
        Some(name) => name
            .to_str()
            .context("the key type is not UTF-8")?
            .parse::<KeyType>()?,
    };
    anyhow::ensure!(args.next().is_none(), "too many arguments\n{USAGE}");

    let pki = Pki::generate(key_type)?;
    let files = pki.write_to(&dir)?;

    println!("{key_type} test PKI in {}", files.dir().display());
    println!("  {:<28} {}", "ca", files.ca().display());
    println!(
        "  {:<28} {}",
        "intermediate",
        files.intermediate().display()
    );
    println!("  {:<28} {}", "rogue-ca", files.rogue_ca().display());
    for &which in ServerCert::ALL {
        println!(
            "  {:<28} {}",
            format!("server {which}"),
            files.server_cert(which).display()
        );
    }
    for &which in ClientCert::ALL {
        println!(
            "  {:<28} {}",
            format!("client {which}"),
            files.client_cert(which).display()
        );
    }
    println!("  see {} for every file", files.readme().display());
    Ok(())
}
