//! Teaching labs: broken secure-scrape set-ups a learner repairs, checked by a real
//! Prometheus.
//!
//! [`start`] writes a lab folder (a `README.md` with the task, `prometheus.yml`, the
//! exporter's `web-config.yml`, certificates; every config built as a typed value and written
//! by its one writer) and starts the exporter(s), nginx where the lab has a proxy, and a
//! Prometheus through the backend's detached mode (it outlives `start`), all on 127.0.0.1.
//! What runs is recorded in `<dir>/.lab/state.json` (Prometheus also in the backend's record
//! under `.lab/prometheus/`), so [`check`], [`hint`] and [`stop`] work from any later process.
//! [`check`] applies the learner's files (promtool first, then `/-/reload`), waits for fresh
//! scrapes and explains each failing target from what Prometheus says ([`crate::classify`])
//! and what the learner's files hold — never from the lab's name, so a fault moved from one
//! lab to another is named for what it is.
//!
//! Build-it labs ([`Lab::is_build_it`]) start from a README and a `prometheus.yml` without a
//! job: the learner makes the certificates, the exporter's `web-config.yml` and the job, and
//! [`check`] (re)starts the exporter with that `web-config.yml` when it (or a file it names)
//! appears or changes, since the exporter, like exporter-toolkit, decides TLS at start.
//!
//! # Cleanup
//!
//! Every process a lab starts is a detached child of the one child-process guard
//! (`supervise::Spec::spawn_detached`): its own process group, a record of its pid and start
//! time (`.lab/exporter.json`, `.lab/nginx.json`; Prometheus' in the backend's folder), and a
//! command line that names the lab folder. [`stop`] stops Prometheus through the backend and
//! the other servers through their records (each verified first: a recycled pid is never
//! signalled), kills whatever of the lab is still left, and then checks that no process,
//! no listening port is left. A `start` (or `up`) interrupted by Ctrl-C kills what it started
//! before returning; one killed with SIGKILL leaves its labs in phase `starting` with a dead
//! owner pid (registry in `$TMPDIR/scrape-harness-labs`), and the next `lab` command sweeps
//! them, like `backend::sweep_leftovers` does for dead harness runs.

mod catalog;
mod check;
pub(crate) mod diagnose;
mod error;
mod files;
mod html;
mod procs;
mod protects;
mod report;
mod run;
mod state;
mod teacher;
mod tools;

pub use catalog::{Lab, LabInfo, LABS};
pub use check::{check, CheckOptions, CheckReport, TargetReport};
pub use diagnose::Finding;
pub use error::LabError;
pub use html::write_html;
pub use protects::{Protected, ServerFacts};
pub use report::{
    gather as gather_progress, html as progress_html, table as progress_table, timestamp, Progress,
};
pub use run::{hint, solution, solution_text, start, stop, up, Started, Stopped};
pub use state::sweep_interrupted_starts;
pub use teacher::{
    check as check_teacher_key, lock as lock_with_teacher_key, make_key as make_teacher_key,
};
pub use tools::LabTools;
