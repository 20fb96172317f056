//! `scrape-harness lab …`: teaching labs (see `scrape_harness::lab`).

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{Args, Subcommand};
use scrape_harness::lab::{self, CheckOptions, Lab, LabTools, LABS};
use scrape_harness::report;

use super::{say_written, EXIT_FAIL, EXIT_PASS};

/// `lab` arguments.
#[derive(Debug, Args)]
pub(crate) struct LabArgs {
    /// What to do.
    #[command(subcommand)]
    pub(crate) action: LabAction,
}

/// The programs a lab runs (only the commands that start or apply something take them):
/// Prometheus always as a local process that outlives the command.
#[derive(Debug, Args, Clone)]
pub(crate) struct ToolArgs {
    /// The fake-exporter binary (default: next to this binary, else on PATH).
    #[arg(long, value_name = "FILE")]
    pub(crate) fake_exporter: Option<PathBuf>,
    /// The Prometheus binary (promtool is taken from its folder when it is there).
    /// Default: `prometheus` on PATH.
    #[arg(long, value_name = "FILE")]
    pub(crate) prometheus_bin: Option<PathBuf>,
}

impl ToolArgs {
    fn find(&self) -> anyhow::Result<LabTools> {
        Ok(LabTools::find(
            self.fake_exporter.clone(),
            self.prometheus_bin.clone(),
        )?)
    }
}

/// `lab` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum LabAction {
    /// List the labs.
    List,
    /// Make a teacher's key (a new file, readable by its owner only): start labs with it
    /// (`--teacher-key`) and only it unlocks `lab solution` there.
    TeacherKey {
        /// Where to write it (never overwritten; keep it out of the learners' folders).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Write a lab folder and start its exporter(s) and Prometheus.
    Start {
        /// The lab (see `lab list`).
        name: String,
        /// The lab folder (default: ./NAME).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// The teacher's key (`lab teacher-key`): only it unlocks `lab solution` here.
        #[arg(long, value_name = "FILE")]
        teacher_key: Option<PathBuf>,
        #[command(flatten)]
        tools: ToolArgs,
    },
    /// Apply your files and say what is still wrong (exit 0: solved, 1: not yet).
    Check {
        /// The lab folder.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// Also write a one-page HTML report here (see --reports-dir).
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
        /// How long to wait for fresh scrapes.
        #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
        deadline: std::time::Duration,
        /// Where --html goes when given a bare file name; missing folders are created.
        #[arg(long, default_value = "reports", value_name = "DIR")]
        reports_dir: PathBuf,
        #[command(flatten)]
        tools: ToolArgs,
    },
    /// One more hint each time.
    Hint {
        /// The lab folder.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
    /// For teachers: print a lab's reference solution, or apply it (--apply) to the lab in
    /// --dir; needs the key the lab was started with.
    Solution {
        /// The lab.
        name: String,
        /// Apply it to the lab's files instead of printing it.
        #[arg(long)]
        apply: bool,
        /// The lab folder.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// The teacher's key the lab was started with.
        #[arg(long, value_name = "FILE")]
        teacher_key: Option<PathBuf>,
        #[command(flatten)]
        tools: ToolArgs,
    },
    /// Stop everything the lab in --dir started (after `lab up`: every lab below it).
    Stop {
        /// The lab folder, or the folder of `lab up`.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
    /// For teachers: every lab folder's progress (checks, hints, weakenings tried, time to
    /// solve, state) in one table; a `lab up` folder stands for every lab below it.
    Report {
        /// Lab folders, or folders of `lab up`.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Also write the table as JSON here (see --reports-dir).
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
        /// Also write it as one self-contained HTML page here (see --reports-dir).
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
        /// Where --json and --html go when given a bare file name.
        #[arg(long, default_value = "reports", value_name = "DIR")]
        reports_dir: PathBuf,
    },
    /// Start every lab for one learner, each in DIR/NAME with its own ports.
    Up {
        /// The folder for all labs.
        #[arg(long, default_value = "labs")]
        dir: PathBuf,
        /// The teacher's key (`lab teacher-key`): only it unlocks `lab solution` there.
        #[arg(long, value_name = "FILE")]
        teacher_key: Option<PathBuf>,
        #[command(flatten)]
        tools: ToolArgs,
    },
}

/// `lab check`: the report, the legend and `N passed, M failed` (targets up; what is still
/// wrong); exit 0 when solved.
async fn check(
    tools: &LabTools,
    dir: &std::path::Path,
    (html, reports_dir): (Option<PathBuf>, &std::path::Path),
    deadline: std::time::Duration,
) -> anyhow::Result<u8> {
    let report = lab::check(dir, tools, CheckOptions { deadline }).await?;
    if let Some(path) = html {
        let path = super::report_path(reports_dir, &path)?;
        lab::write_html(&report, &path)?;
        say_written(&[path]);
    }
    print!("{}", report.text());
    let up = report.targets.iter().filter(|t| t.health == "up").count();
    // Solved means nothing is wrong: a lab that is not solved fails at least once.
    let wrong = report.findings.len().max(usize::from(!report.solved));
    print!(
        "{}",
        report::legend_and_summary(report::LAB_LEGEND, up, wrong)
    );
    Ok(if report.solved { EXIT_PASS } else { EXIT_FAIL })
}

/// Runs a `lab` command; returns the exit code.
pub(crate) async fn run(args: LabArgs) -> anyhow::Result<u8> {
    let swept = lab::sweep_interrupted_starts();
    for dir in swept {
        eprintln!(
            "lab: stopped the half-started lab in {} (its start was killed)",
            dir.display()
        );
    }
    match args.action {
        LabAction::List => {
            for info in &LABS {
                println!("{:<20} {:>3} min  {}", info.name, info.minutes, info.title);
            }
        }
        LabAction::TeacherKey { out } => {
            let print = lab::make_teacher_key(&out)?;
            println!(
                "teacher key written to {} (SHA-256 {print}); start labs with `--teacher-key {}` \
                 and keep the file out of the learners' folders",
                out.display(),
                out.display()
            );
        }
        LabAction::Start {
            name,
            dir,
            teacher_key,
            tools,
        } => start(&name, dir, teacher_key.as_deref(), &tools).await?,
        LabAction::Check {
            dir,
            html,
            deadline,
            reports_dir,
            tools,
        } => return check(&tools.find()?, &dir, (html, &reports_dir), deadline).await,
        LabAction::Report {
            dirs,
            json,
            html,
            reports_dir,
        } => class_report(&dirs, (json, html), &reports_dir)?,
        LabAction::Hint { dir } => {
            let (n, of, text) = lab::hint(&dir)?;
            println!("hint {n}/{of}: {text}");
        }
        LabAction::Solution {
            name,
            apply,
            dir,
            teacher_key,
            tools,
        } => solution(&name, apply, &dir, teacher_key.as_deref(), &tools)?,
        LabAction::Stop { dir } => {
            for s in lab::stop(&dir).await? {
                println!(
                    "lab {} in {} stopped: killed {:?}; nothing left (ports {:?} free)",
                    s.lab,
                    s.dir.display(),
                    s.killed,
                    s.ports
                );
            }
        }
        LabAction::Up {
            dir,
            teacher_key,
            tools,
        } => up(&dir, teacher_key.as_deref(), &tools).await?,
    }
    Ok(EXIT_PASS)
}

/// `lab start`: the lab, locked with the teacher's key when one is given.
async fn start(
    name: &str,
    dir: Option<PathBuf>,
    teacher_key: Option<&Path>,
    tools: &ToolArgs,
) -> anyhow::Result<()> {
    let lab: Lab = name.parse()?;
    let dir = dir.unwrap_or_else(|| PathBuf::from(lab.name()));
    if let Some(key) = teacher_key {
        lab::check_teacher_key(key)?;
    }
    let started = lab::start(lab, &dir, &tools.find()?).await?;
    if let Some(key) = teacher_key {
        lab::lock_with_teacher_key(&[&started.dir], key)?;
    }
    let shown = started.dir.display();
    println!(
        "lab {} started in {shown}\n  task:       {shown}/README.md\n  Prometheus: {}/targets\n  check:      scrape-harness lab check --dir {shown}\n  stop:       scrape-harness lab stop --dir {shown}",
        started.lab, started.prometheus_url,
    );
    Ok(())
}

/// `lab up`: every lab, each locked with the teacher's key when one is given.
async fn up(dir: &Path, teacher_key: Option<&Path>, tools: &ToolArgs) -> anyhow::Result<()> {
    let begun = std::time::Instant::now();
    if let Some(key) = teacher_key {
        lab::check_teacher_key(key)?;
    }
    let started = lab::up(dir, &tools.find()?).await?;
    if let Some(key) = teacher_key {
        let dirs: Vec<&Path> = started.iter().map(|s| s.dir.as_path()).collect();
        lab::lock_with_teacher_key(&dirs, key)?;
    }
    for s in &started {
        println!(
            "{:<20} {}/targets  {}",
            s.lab.name(),
            s.prometheus_url,
            s.dir.display()
        );
    }
    println!(
        "{} labs up in {:.1} s; stop them all with `scrape-harness lab stop --dir {}`",
        started.len(),
        begun.elapsed().as_secs_f64(),
        dir.display()
    );
    Ok(())
}

/// `lab solution`: printed, or applied, for the teacher whose key started the lab.
fn solution(
    name: &str,
    apply: bool,
    dir: &Path,
    teacher_key: Option<&Path>,
    tools: &ToolArgs,
) -> anyhow::Result<()> {
    let lab: Lab = name.parse()?;
    if !apply {
        println!("{}", lab::solution_text(lab, dir, teacher_key)?);
        return Ok(());
    }
    lab::solution(lab, dir, &tools.find()?, teacher_key)
        .with_context(|| format!("applying the solution of {lab} in {}", dir.display()))?;
    println!(
        "solution of {lab} applied in {}; run `scrape-harness lab check --dir {}`",
        dir.display(),
        dir.display()
    );
    Ok(())
}

/// `lab report`: the class table, printed and written as JSON and HTML when asked.
fn class_report(
    dirs: &[PathBuf],
    (json, html): (Option<PathBuf>, Option<PathBuf>),
    reports_dir: &Path,
) -> anyhow::Result<()> {
    let all = lab::gather_progress(dirs)?;
    let mut written = Vec::new();
    for (given, text) in [
        (json, serde_json::to_string_pretty(&all)?),
        (html, lab::progress_html(&all)),
    ] {
        if let Some(given) = given {
            let path = super::report_path(reports_dir, &given)?;
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
            written.push(path);
        }
    }
    say_written(&written);
    print!("{}", lab::progress_table(&all));
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    /// The long flags of `lab <sub>`.
    fn flags(sub: &str) -> Vec<String> {
        let cli = super::super::Cli::command();
        let lab = cli.find_subcommand("lab").expect("lab");
        let sub = lab.find_subcommand(sub).expect("a lab subcommand");
        sub.get_arguments()
            .filter_map(|a| a.get_long().map(str::to_owned))
            .collect()
    }

    #[test]
    fn each_lab_command_shows_only_the_flags_it_uses() {
        for (sub, want) in [
            ("hint", &["dir"][..]),
            ("stop", &["dir"]),
            ("list", &[]),
            (
                "solution",
                &[
                    "apply",
                    "dir",
                    "teacher-key",
                    "fake-exporter",
                    "prometheus-bin",
                ],
            ),
            (
                "start",
                &["dir", "teacher-key", "fake-exporter", "prometheus-bin"],
            ),
            (
                "up",
                &["dir", "teacher-key", "fake-exporter", "prometheus-bin"],
            ),
            ("teacher-key", &["out"]),
            ("report", &["json", "html", "reports-dir"]),
            (
                "check",
                &[
                    "dir",
                    "html",
                    "deadline",
                    "reports-dir",
                    "fake-exporter",
                    "prometheus-bin",
                ],
            ),
        ] {
            assert_eq!(flags(sub), want, "lab {sub}");
        }
    }
}
