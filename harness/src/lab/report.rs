//! What a teacher grades: per lab folder, when it started, how many checks and hints it
//! took, which weakenings were tried, and where it stands; `lab report DIR...` gathers a
//! class's folders (a `lab up` folder stands for every lab below it) into one table, as
//! text, JSON or one self-contained HTML page.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::error::LabError;
use super::state::{self, LabState, PastCheck};
use crate::report::xml_escape as esc;

/// One lab folder's progress.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Progress {
    /// The lab.
    pub lab: String,
    /// Its folder.
    pub dir: PathBuf,
    /// When `lab start` (or `up`) wrote it, seconds since the epoch (0: unknown).
    pub started_at: u64,
    /// `lab check` runs.
    pub checks: usize,
    /// When the first and the last check ran.
    pub first_check_at: Option<u64>,
    /// When the last check ran.
    pub last_check_at: Option<u64>,
    /// When a check first said solved.
    pub first_solved_at: Option<u64>,
    /// Whether the last check said solved.
    pub solved: bool,
    /// Hints shown, and how many the lab has.
    pub hints: usize,
    /// Hints the lab has.
    pub hints_available: usize,
    /// Checks that found a weakening of what the lab protects.
    pub weakened_checks: usize,
    /// The weakenings tried, each once, in the order first seen.
    pub weakenings: Vec<String>,
    /// What the last check still found wrong (`kind: cause`).
    pub still_wrong: Vec<String>,
}

/// The property a `weakened: ...` problem names (`credentials demanded by ...`).
fn weakened_property(problem: &str) -> Option<String> {
    let rest = problem.strip_prefix("weakened: ")?;
    let named = rest
        .split_once("you weakened ")
        .map_or(rest, |(_, after)| after);
    Some(
        named
            .split_once(". This lab protects")
            .map_or(named, |(p, _)| p)
            .to_owned(),
    )
}

/// The progress of the lab in `dir`, from its state and history.
pub(crate) fn progress(dir: &Path) -> Result<Progress, LabError> {
    let state = LabState::load(dir)?;
    let hints_available = state.lab().map_or(0, |l| l.info().hints.len());
    Ok(of(
        &state,
        &state::history(&state.dir),
        state::hints_shown(&state.dir),
        hints_available,
    ))
}

/// The progress of a lab from its state, its checks and its hint count (pure).
fn of(state: &LabState, checks: &[PastCheck], hints: usize, hints_available: usize) -> Progress {
    let mut weakenings: Vec<String> = Vec::new();
    let mut weakened_checks = 0;
    for check in checks {
        let found: Vec<String> = check
            .problems
            .iter()
            .filter_map(|p| weakened_property(p))
            .collect();
        weakened_checks += usize::from(!found.is_empty());
        for w in found {
            if !weakenings.contains(&w) {
                weakenings.push(w);
            }
        }
    }
    let last = checks.last();
    Progress {
        lab: state.lab.clone(),
        dir: state.dir.clone(),
        started_at: state.started_at,
        checks: checks.len(),
        first_check_at: checks.first().map(|c| c.at),
        last_check_at: last.map(|c| c.at),
        first_solved_at: checks.iter().find(|c| c.solved).map(|c| c.at),
        solved: last.is_some_and(|c| c.solved),
        hints,
        hints_available,
        weakened_checks,
        weakenings,
        still_wrong: last.map(|c| c.problems.clone()).unwrap_or_default(),
    }
}

/// The progress of every lab in `dirs`; a folder without a lab stands for the labs in its
/// subfolders (a `lab up` folder).
pub fn gather(dirs: &[PathBuf]) -> Result<Vec<Progress>, LabError> {
    let mut out = Vec::new();
    for dir in dirs {
        match progress(dir) {
            Ok(p) => out.push(p),
            Err(LabError::LabsBelow { .. }) => {
                let mut subs: Vec<PathBuf> = std::fs::read_dir(dir)
                    .map_err(|e| LabError::io("reading", dir, e))?
                    .flatten()
                    .map(|e| e.path())
                    .filter(|p| LabState::load(p).is_ok())
                    .collect();
                subs.sort();
                for sub in subs {
                    out.push(progress(&sub)?);
                }
            }
            Err(other) => return Err(other),
        }
    }
    Ok(out)
}

/// `YYYY-MM-DD HH:MM:SS UTC` of seconds since the epoch.
pub fn timestamp(at: u64) -> String {
    let days = at / 86_400;
    let secs = at % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        secs / 3_600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Minutes from start to the first solved check, in words.
fn time_to_solve(p: &Progress) -> String {
    match (p.first_solved_at, p.started_at) {
        (Some(at), start) if start > 0 && at >= start => format!("{} min", (at - start) / 60),
        (Some(_), _) => "solved".into(),
        (None, _) => "—".into(),
    }
}

fn state_words(p: &Progress) -> &'static str {
    match (p.solved, p.checks) {
        (_, 0) => "not checked",
        (true, _) => "solved",
        (false, _) if p.still_wrong.iter().any(|w| w.starts_with("weakened")) => "weakened",
        (false, _) => "not solved",
    }
}

/// The class table for the terminal.
pub fn table(all: &[Progress]) -> String {
    let mut out = format!(
        "{:<20} {:<11} {:>6} {:>5} {:>9} {:>8} {:<23} {}\n",
        "lab", "state", "checks", "hints", "weakened", "to solve", "last check", "folder"
    );
    for p in all {
        out.push_str(&format!(
            "{:<20} {:<11} {:>6} {:>5} {:>9} {:>8} {:<23} {}\n",
            p.lab,
            state_words(p),
            p.checks,
            format!("{}/{}", p.hints, p.hints_available),
            p.weakened_checks,
            time_to_solve(p),
            p.last_check_at.map_or_else(|| "—".into(), timestamp),
            p.dir.display()
        ));
        for w in &p.weakenings {
            out.push_str(&format!("{:<20} weakening tried: {w}\n", ""));
        }
    }
    out
}

/// Counts the rows into `#summary` (and marks the page rendered).
const SUMMARY_JS: &str = "var rows = document.querySelectorAll('tr.lab'); var solved = document.querySelectorAll('tr.lab[data-state=\"solved\"]').length; var s = document.getElementById('summary'); s.textContent = solved + ' of ' + rows.length + ' lab(s) solved'; s.setAttribute('data-rendered', 'js');";

/// The class table as one self-contained page (no external resources).
pub fn html(all: &[Progress]) -> String {
    let mut rows = String::new();
    for p in all {
        let state = state_words(p);
        let weakenings: String = p
            .weakenings
            .iter()
            .map(|w| format!("<li class=\"weakening\">{}</li>", esc(w)))
            .collect();
        rows.push_str(&format!(
            "<tr class=\"lab\" data-state=\"{state_class}\"><td><code>{lab}</code></td><td class=\"state\">{state}</td><td>{checks}</td><td>{hints}/{avail}</td><td>{weakened}<ul>{weakenings}</ul></td><td>{solve}</td><td>{started}</td><td>{last}</td><td><code>{dir}</code></td></tr>\n",
            state_class = state.replace(' ', "-"),
            lab = esc(&p.lab),
            checks = p.checks,
            hints = p.hints,
            avail = p.hints_available,
            weakened = p.weakened_checks,
            solve = esc(&time_to_solve(p)),
            started = if p.started_at > 0 { timestamp(p.started_at) } else { "—".into() },
            last = p.last_check_at.map_or_else(|| "—".into(), timestamp),
            dir = esc(&p.dir.display().to_string()),
        ));
    }
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>Lab progress</title>\n<style>\n\
         body {{ font-family: sans-serif; margin: 2em; }}\n\
         table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #ccc; padding: .3em; vertical-align: top; }}\n\
         tr[data-state=\"solved\"] td.state {{ color: #070; }} tr[data-state=\"weakened\"] td.state {{ color: #a00; font-weight: bold; }}\n\
         ul {{ margin: 0; padding-left: 1.2em; }}\n\
         </style>\n</head>\n<body>\n<h1>Lab progress</h1>\n<p id=\"summary\"></p>\n\
         <table id=\"labs\">\n<tr><th>lab</th><th>state</th><th>checks</th><th>hints</th><th>weakenings tried</th><th>start to solved</th><th>started</th><th>last check</th><th>folder</th></tr>\n{rows}</table>\n\
         <script>{SUMMARY_JS}</script>\n</body>\n</html>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::catalog::Ports;

    fn check(at: u64, solved: bool, problems: &[&str]) -> PastCheck {
        PastCheck {
            at,
            solved,
            problems: problems.iter().map(|p| p.to_string()).collect(),
        }
    }

    #[test]
    fn progress_counts_checks_hints_and_weakenings_tried() {
        let state = LabState {
            lab: "untrusted-ca".into(),
            dir: "/labs/untrusted-ca".into(),
            phase: state::Phase::Running,
            owner_pid: 1,
            ports: Ports {
                prometheus: 1,
                exporter: 2,
                proxy: None,
            },
            procs: Vec::new(),
            nginx_conf_loaded: None,
            web_config_loaded: None,
            teacher: None,
            started_at: 1_000,
        };
        let skip = "weakened: not solved: you weakened TLS with server certificate verification. This lab protects it: ...";
        let checks = [
            check(1_060, false, &["unknown_authority: the certificate ..."]),
            check(1_120, false, &[skip]),
            check(1_180, false, &[skip]),
            check(1_300, true, &[]),
        ];
        let p = of(&state, &checks, 2, 3);
        assert_eq!(
            (p.checks, p.hints, p.weakened_checks, p.solved),
            (4, 2, 2, true)
        );
        assert_eq!(p.weakenings, ["TLS with server certificate verification"]);
        assert_eq!(p.first_solved_at, Some(1_300));
        assert_eq!(time_to_solve(&p), "5 min");
        let text = table(std::slice::from_ref(&p));
        assert!(
            text.contains("untrusted-ca") && text.contains("solved"),
            "{text}"
        );
        let page = html(&[p]);
        assert!(page.contains("data-state=\"solved\"") && !page.contains("<script src"));
    }

    #[test]
    fn timestamps_are_civil_utc() {
        assert_eq!(timestamp(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(timestamp(1_796_475_928), "2026-12-05 13:05:28 UTC");
        assert_eq!(timestamp(951_782_400), "2000-02-29 00:00:00 UTC");
    }
}
