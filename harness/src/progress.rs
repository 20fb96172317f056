//! The one progress bar of the harness: an indicatif bar on stderr, drawn only when asked
//! for and only when stderr is a terminal (CI logs and pipes get nothing). Every method is
//! a no-op on a disabled bar, so callers never branch on it.

use std::io::IsTerminal as _;
use std::time::Duration;

/// How often the spinner moves.
const TICK: Duration = Duration::from_millis(100);

/// A progress bar on stderr, or nothing.
#[derive(Debug)]
pub(crate) struct Progress {
    bar: Option<indicatif::ProgressBar>,
}

impl Progress {
    /// A bar of `len` steps, drawn when `enabled` and stderr is a terminal, as
    /// `⠋ [=====     ] 3/10 <label> 12s <message>`; `label` says what a step is (e.g.
    /// `runs`, `jobs done`). A spinner ticks while nothing else moves, so long waits still
    /// look alive.
    pub(crate) fn new(enabled: bool, len: u64, label: &str) -> Self {
        if !enabled || !std::io::stderr().is_terminal() {
            return Self { bar: None };
        }
        let bar = indicatif::ProgressBar::new(len);
        // The template is fixed apart from the escaped label (tested below); should it still
        // not parse, the default style is good enough.
        bar.set_style(style(label).unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()));
        bar.enable_steady_tick(TICK);
        Self { bar: Some(bar) }
    }

    /// A bar that draws nothing.
    #[cfg(test)]
    pub(crate) fn hidden() -> Self {
        Self { bar: None }
    }

    /// Whether anything is drawn.
    #[cfg(test)]
    pub(crate) fn is_drawn(&self) -> bool {
        self.bar.is_some()
    }

    /// Moves to step `pos`.
    pub(crate) fn set_position(&self, pos: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(pos);
        }
    }

    /// Replaces the text after the bar.
    pub(crate) fn set_message(&self, message: impl Into<String>) {
        if let Some(bar) = &self.bar {
            bar.set_message(message.into());
        }
    }

    /// Done: removes the bar from the terminal.
    pub(crate) fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }

    /// Stopped early (error): leaves the bar where it was so the last message stays visible.
    pub(crate) fn abandon(self) {
        if let Some(bar) = self.bar {
            bar.abandon();
        }
    }
}

/// The bar's style; braces in `label` stay literal.
fn style(label: &str) -> Result<indicatif::ProgressStyle, indicatif::style::TemplateError> {
    let label = label.replace('{', "{{").replace('}', "}}");
    indicatif::ProgressStyle::with_template(&format!(
        "{{spinner}} [{{bar:30}}] {{pos}}/{{len}} {label} {{elapsed}} {{msg}}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_disabled_bar_draws_nothing_and_accepts_every_call() {
        let bar = Progress::new(false, 3, "runs");
        assert!(!bar.is_drawn());
        bar.set_message("N=1 plain");
        bar.set_position(2);
        bar.finish();
        Progress::hidden().abandon();
    }

    #[test]
    fn the_template_parses_whatever_the_label() {
        for label in ["runs", "jobs done", "odd {label} }{"] {
            assert!(style(label).is_ok(), "{label}");
        }
    }
}
