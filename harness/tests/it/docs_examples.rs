//! The example commands of README.md, docs/*.md and scenarios/README.md, tested as written:
//! every `scrape-harness …` and `fake-exporter …` command line of a ```sh block (also as
//! `./target/…/NAME` or `cargo run -p NAME -- …`) must be accepted by the binary's parser
//! (run with `SCRAPE_HARNESS_CHECK_ARGS` / `FAKE_EXPORTER_CHECK_ARGS`: parse, then exit 0),
//! every input file it names must exist in the repository (or on this machine, for an
//! absolute path) or be made by an earlier command of the same block, and the cheap ones
//! (`--help`, `generate`, `certs`, `pki`, `lab list`, `fleet --example`, ...) run for real
//! in a private folder (`/tmp/…` mapped into it). Paths under `~/` are the reader's own (a
//! Prometheus they bring) and are not checked. The number of commands per file is pinned, so
//! a block the extractor stops seeing fails the test.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{ensure, Context, Result};

use crate::support::{fake_exporter_bin, repo_root};

/// Commands found per file. Change it when you add or remove an example.
const PINNED: [(&str, usize); 17] = [
    ("README.md", 28),
    ("docs/architecture.md", 0),
    ("docs/benchmarks.md", 3),
    ("docs/beyond-scrape.md", 2),
    ("docs/ci.md", 0),
    ("docs/explain.md", 4),
    ("docs/conformance.md", 4),
    ("docs/differences-from-node-exporter.md", 0),
    ("docs/generator.md", 5),
    ("docs/labs.md", 6),
    ("docs/legacy-tls.md", 0),
    ("docs/load-benchmark.md", 10),
    ("docs/real-targets.md", 0),
    ("docs/reliability.md", 1),
    ("docs/scale-out.md", 1),
    ("docs/teaching-labs.md", 12),
    ("scenarios/README.md", 3),
];

/// Flags whose value is a file or folder the command reads.
const INPUT_FLAGS: [&str; 15] = [
    "--web.config.file",
    "--config",
    "--ca",
    "--client-cert",
    "--client-key",
    "--bearer-file",
    "--client-ca-cert",
    "--client-ca-key",
    "--catalog",
    "--prometheus-bin",
    "--fake-exporter",
    "--node-exporter",
    "--cert",
    "--key",
    "--basic-auth",
];

/// Flags whose value is a file or folder the command writes.
const OUTPUT_FLAGS: [&str; 6] = [
    "--out",
    "-o",
    "--json",
    "--junit",
    "--html",
    "--reports-dir",
];

/// Which binary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Bin {
    Harness,
    Fake,
}

/// One example command.
#[derive(Debug)]
struct Example {
    /// `file:line`.
    at: String,
    bin: Bin,
    args: Vec<String>,
    /// What it writes (checked after a real run).
    outputs: Vec<PathBuf>,
}

/// The documentation files: README.md, every docs/*.md, scenarios/README.md.
fn doc_files(root: &Path) -> Result<Vec<String>> {
    let mut files = vec!["README.md".to_owned(), "scenarios/README.md".to_owned()];
    for entry in std::fs::read_dir(root.join("docs"))? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if name.ends_with(".md") {
            files.push(format!("docs/{name}"));
        }
    }
    files.sort();
    Ok(files)
}

/// The ```sh blocks of a Markdown text: (line of the first command line, the lines).
fn sh_blocks(text: &str) -> Vec<(usize, Vec<&str>)> {
    let mut blocks = Vec::new();
    let mut current: Option<(usize, Vec<&str>)> = None;
    for (i, line) in text.lines().enumerate() {
        let fence = line.trim_start().starts_with("```");
        match (&mut current, fence) {
            (None, true) if line.trim() == "```sh" => current = Some((i + 2, Vec::new())),
            (Some(_), true) => blocks.extend(current.take()),
            (Some((_, lines)), false) => lines.push(line),
            (None, _) => {}
        }
    }
    blocks
}

/// Shell words of one logical line, quotes removed; `#` comments dropped; `;`, `&&`,
/// `||`, `|` and `&` become separate words.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if let Some(q) = quote {
            if c == q {
                quote = None;
            } else {
                word.push(c);
            }
            continue;
        }
        match c {
            '\'' | '"' => {
                quote = Some(c);
                in_word = true;
            }
            '#' if !in_word => break,
            ' ' | '\t' => {
                if in_word {
                    out.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            ';' | '|' | '&' if !word.ends_with('>') => {
                if in_word {
                    out.push(std::mem::take(&mut word));
                    in_word = false;
                }
                let mut op = c.to_string();
                if chars.peek() == Some(&c) {
                    op.push(c);
                    chars.next();
                }
                out.push(op);
            }
            _ => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        out.push(word);
    }
    out
}

/// The logical lines of a block (continuations joined, heredoc bodies skipped), each with
/// its line number.
fn logical_lines(first: usize, lines: &[&str]) -> Vec<(usize, String)> {
    let mut out: Vec<(usize, String)> = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    let mut heredoc: Option<String> = None;
    for (i, line) in lines.iter().enumerate() {
        if let Some(end) = &heredoc {
            if line.trim() == end {
                heredoc = None;
            }
            continue;
        }
        let (at, mut text) = pending.take().unwrap_or((first + i, String::new()));
        text.push_str(line.trim_end());
        if let Some(stripped) = text.strip_suffix('\\') {
            pending = Some((at, format!("{stripped} ")));
            continue;
        }
        if let Some((_, tag)) = text.split_once("<<") {
            heredoc = Some(
                tag.trim()
                    .trim_matches(|c| c == '\'' || c == '"')
                    .to_owned(),
            );
        }
        out.push((at, text));
    }
    out
}

/// Splits words into commands at `;`, `&&`, `||`, `|`, `&`.
fn commands(words: Vec<String>) -> Vec<Vec<String>> {
    let mut out = vec![Vec::new()];
    for w in words {
        if matches!(w.as_str(), ";" | "&&" | "||" | "|" | "&") {
            out.push(Vec::new());
        } else if let Some(last) = out.last_mut() {
            last.push(w);
        }
    }
    out.retain(|c| !c.is_empty());
    out
}

/// Our binary and its arguments, when `command` runs one.
fn ours(command: &[String]) -> Option<(Bin, Vec<String>)> {
    let start = command
        .iter()
        .position(|w| !w.contains('=') || w.starts_with('-'))?;
    let command = &command[start..];
    let program = command.first()?;
    let bin_of = |name: &str| match name {
        "scrape-harness" => Some(Bin::Harness),
        "fake-exporter" => Some(Bin::Fake),
        _ => None,
    };
    if let Some(bin) = bin_of(Path::new(program).file_name()?.to_str()?) {
        return Some((bin, command[1..].to_vec()));
    }
    if program == "cargo" && command.get(1).map(String::as_str) == Some("run") {
        let dash = command.iter().position(|w| w == "--");
        let head = &command[..dash.unwrap_or(command.len())];
        if head.iter().any(|w| w == "--example") {
            return None;
        }
        let package = head
            .windows(2)
            .find(|w| w[0] == "-p")
            .map(|w| w[1].as_str())?;
        let rest = dash.map_or_else(Vec::new, |d| command[d + 1..].to_vec());
        return Some((bin_of(package)?, rest));
    }
    None
}

/// Paths a shell command of a block makes (redirects, `mkdir`, `cp`, `tee`, `-out`).
fn made_by_shell(command: &[String], made: &mut Vec<PathBuf>) {
    for pair in command.windows(2) {
        if matches!(pair[0].as_str(), ">" | ">>" | "-out" | "tee") {
            made.push(PathBuf::from(&pair[1]));
        }
    }
    for w in command {
        if let Some(path) = w
            .strip_prefix('>')
            .filter(|p| !p.is_empty() && !p.starts_with('&'))
        {
            made.push(PathBuf::from(path.trim_start_matches('>')));
        }
    }
    match command.first().map(String::as_str) {
        Some("mkdir") => made.extend(
            command[1..]
                .iter()
                .filter(|w| !w.starts_with('-'))
                .map(PathBuf::from),
        ),
        Some("cp") => made.extend(command.last().map(PathBuf::from)),
        _ => {}
    }
}

/// Every example of every documentation file, and the input paths each names that are
/// neither in the repository nor made earlier in its block.
fn extract(root: &Path) -> Result<(Vec<Example>, Vec<String>)> {
    let mut examples = Vec::new();
    let mut missing = Vec::new();
    for file in doc_files(root)? {
        let text = std::fs::read_to_string(root.join(&file))?;
        for (first, lines) in sh_blocks(&text) {
            let mut made: Vec<PathBuf> = Vec::new();
            for (line, text) in logical_lines(first, &lines) {
                for command in commands(words(&text)) {
                    let at = format!("{file}:{line}");
                    let Some((bin, args)) = ours(&command) else {
                        made_by_shell(&command, &mut made);
                        continue;
                    };
                    let (inputs, outputs) = paths_of(bin, &args);
                    for input in inputs {
                        if !exists(root, &input, &made) {
                            missing.push(format!("{at}: {}", input.display()));
                        }
                    }
                    made.extend(outputs.iter().cloned());
                    examples.push(Example {
                        at,
                        bin,
                        args,
                        outputs,
                    });
                }
            }
        }
    }
    Ok((examples, missing))
}

/// The files an example reads and the files or folders it writes.
fn paths_of(bin: Bin, args: &[String]) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let mut inputs = Vec::new();
    let mut outputs = Vec::new();
    let mut flag_values: Vec<(String, String)> = Vec::new();
    let mut positional = Vec::new();
    let names_path =
        |flag: &str| INPUT_FLAGS.contains(&flag) || OUTPUT_FLAGS.contains(&flag) || flag == "--dir";
    let mut it = args.iter().peekable();
    while let Some(a) = it.next() {
        if let Some((flag, value)) = a.split_once('=').filter(|_| a.starts_with("--")) {
            if names_path(flag) {
                flag_values.push((flag.to_owned(), value.to_owned()));
            }
        } else if a.starts_with('-') {
            if names_path(a) {
                if let Some(v) = it.next() {
                    flag_values.push((a.clone(), v.clone()));
                }
            }
        } else {
            positional.push(a.clone());
        }
    }
    let sub: Vec<&str> = positional.iter().map(String::as_str).collect();
    let lab_makes = bin == Bin::Harness && matches!(sub.as_slice(), ["lab", "start" | "up", ..]);
    for (flag, value) in flag_values {
        // `--basic-auth USER:PASSWORD_FILE`
        let file = match value.split_once(':') {
            Some((_, file)) if flag == "--basic-auth" => file,
            _ => value.as_str(),
        };
        let path = PathBuf::from(file);
        if OUTPUT_FLAGS.contains(&flag.as_str()) || (flag == "--dir" && lab_makes) {
            outputs.push(path);
        } else {
            inputs.push(path);
        }
    }
    match (bin, sub.as_slice()) {
        // Their positional scenario files (values of other flags are positional here too,
        // but are no YAML file names).
        (Bin::Harness, ["run" | "rotation" | "receivers", files @ ..]) => inputs.extend(
            files
                .iter()
                .filter(|f| f.ends_with(".yaml") || f.ends_with(".yml"))
                .map(PathBuf::from),
        ),
        (Bin::Harness, ["lab", "start", name]) if !args.iter().any(|a| a == "--dir") => {
            outputs.push(PathBuf::from(name));
        }
        _ => {}
    }
    (inputs, outputs)
}

fn exists(root: &Path, path: &Path, made: &[PathBuf]) -> bool {
    path.starts_with("~")
        || made.iter().any(|m| path.starts_with(m))
        || if path.is_absolute() {
            path.exists()
        } else {
            root.join(path).exists()
        }
}

/// Whether running `args` for real is cheap (no Prometheus, no server).
fn cheap(bin: Bin, args: &[String]) -> bool {
    let help = args
        .iter()
        .any(|a| matches!(a.as_str(), "--help" | "-h" | "--version"));
    let sub: Vec<&str> = args.iter().map(String::as_str).collect();
    help || match bin {
        Bin::Harness => matches!(
            sub.as_slice(),
            ["generate", ..] | ["certs", ..] | ["lab", "list"] | ["lab", "solution", _]
        ),
        Bin::Fake => matches!(sub.as_slice(), ["pki", ..] | ["fleet", "--example"]),
    }
}

fn binary(bin: Bin) -> PathBuf {
    match bin {
        Bin::Harness => PathBuf::from(env!("CARGO_BIN_EXE_scrape-harness")),
        Bin::Fake => fake_exporter_bin(),
    }
}

/// `path` as a real run in `tmp` sees it (`/tmp/` mapped into `tmp`).
fn mapped(path: &str, tmp: &Path) -> String {
    path.replace("/tmp/", &format!("{}/tmp/", tmp.display()))
}

/// Runs `example` (for real when cheap, else parse only) with `/tmp/` mapped into `tmp`.
fn check(example: &Example, tmp: &Path, root: &Path) -> Result<()> {
    let real = cheap(example.bin, &example.args);
    let args: Vec<String> = example.args.iter().map(|a| mapped(a, tmp)).collect();
    let mut command = Command::new(binary(example.bin));
    command
        .args(&args)
        .current_dir(if real { tmp } else { root })
        .env_remove("HARNESS_BACKEND")
        .stdin(Stdio::null());
    if !real {
        command.env(
            match example.bin {
                Bin::Harness => "SCRAPE_HARNESS_CHECK_ARGS",
                Bin::Fake => "FAKE_EXPORTER_CHECK_ARGS",
            },
            "1",
        );
    }
    let out = command.output().context("running the example")?;
    // A real run writes what it names, or prints; a parse prints what it parsed.
    let written: Vec<PathBuf> = example
        .outputs
        .iter()
        .map(|p| tmp.join(mapped(&p.to_string_lossy(), tmp)))
        .collect();
    let produced = if real && !written.is_empty() {
        written.iter().all(|p| p.exists())
    } else {
        !out.stdout.is_empty()
    };
    ensure!(
        out.status.success() && produced,
        "{}: `{}` ({}): {}, wrote {written:?}\nstdout:\n{}\nstderr:\n{}",
        example.at,
        example.args.join(" "),
        if real { "run" } else { "parsed" },
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

#[test]
fn every_documented_command_parses_names_existing_files_and_the_cheap_ones_run() -> Result<()> {
    // Arrange
    let root = repo_root();
    std::fs::create_dir_all(root.join("target"))?;
    let tmp = tempfile::tempdir()?;
    std::fs::create_dir_all(tmp.path().join("tmp"))?;

    // Act
    let (examples, missing) = extract(&root)?;

    // Assert: the extractor saw what the pin says, per file.
    let mut found: BTreeMap<String, usize> =
        doc_files(&root)?.into_iter().map(|f| (f, 0)).collect();
    for e in &examples {
        let file = e.at.split_once(':').map_or(e.at.as_str(), |(f, _)| f);
        *found.entry(file.to_owned()).or_default() += 1;
    }
    let pinned: BTreeMap<String, usize> =
        PINNED.iter().map(|(f, n)| ((*f).to_owned(), *n)).collect();
    let listing: Vec<String> = examples
        .iter()
        .map(|e| format!("{}: {:?} {}", e.at, e.bin, e.args.join(" ")))
        .collect();
    assert_eq!(
        found,
        pinned,
        "commands found per file:\n{}",
        listing.join("\n")
    );
    assert!(
        missing.is_empty(),
        "files named but neither there nor made first:\n{}",
        missing.join("\n")
    );
    let mut failures = Vec::new();
    let mut ran = 0;
    for example in &examples {
        ran += usize::from(cheap(example.bin, &example.args));
        if let Err(e) = check(example, tmp.path(), &root) {
            failures.push(format!("{e:#}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(
        ran >= 8,
        "only {ran} examples ran for real:\n{}",
        listing.join("\n")
    );
    Ok(())
}

#[test]
fn the_extractor_reads_continuations_quotes_comments_and_separators() {
    let block = [
        "# a comment",
        "./target/debug/fake-exporter pki --out /tmp/pki",
        "./target/debug/scrape-harness conformance \\",
        "    --exec 'node --listen={listen}'   # trailing comment",
        "cat > /tmp/web.yml <<'EOF'",
        "./target/debug/scrape-harness run inside-a-heredoc.yaml",
        "EOF",
        "mkdir -p reports && cargo run -p scrape-harness -- run x.yaml --json a.json &",
        "cargo run -p scrape-harness --example one_case",
    ];
    let mut found = Vec::new();
    let mut made = Vec::new();
    for (_, line) in logical_lines(1, &block) {
        for command in commands(words(&line)) {
            match ours(&command) {
                Some((bin, args)) => found.push((bin, args.join(" "))),
                None => made_by_shell(&command, &mut made),
            }
        }
    }
    assert_eq!(
        found,
        [
            (Bin::Fake, "pki --out /tmp/pki".to_owned()),
            (
                Bin::Harness,
                "conformance --exec node --listen={listen}".to_owned()
            ),
            (Bin::Harness, "run x.yaml --json a.json".to_owned()),
        ]
    );
    assert_eq!(
        made,
        [PathBuf::from("/tmp/web.yml"), PathBuf::from("reports")]
    );
    let (inputs, outputs) = paths_of(
        Bin::Harness,
        &[
            "run".into(),
            "x.yaml".into(),
            "--json".into(),
            "a.json".into(),
        ],
    );
    assert_eq!(
        (inputs, outputs),
        (vec![PathBuf::from("x.yaml")], vec![PathBuf::from("a.json")])
    );
}
