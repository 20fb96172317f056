//! The one wait with a deadline for conditions that are not Prometheus observations (those
//! go through the fixture's poller): a port that opens or closes, a child's command line, a
//! process group that goes, a log line nginx writes on reload.
//!
//! [`poll_until`] is the async form; [`poll_until_blocking`] is the same loop for the few
//! places that must work without a runtime (a guard's `Drop`, a process that is being
//! torn down), where the condition is a cheap synchronous check.

use std::{fmt::Debug, future::Future, time::Duration};

use tokio::time::Instant;

/// What a [`poll_until`] probe observed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Probe<T, S> {
    /// The condition holds; stop waiting and return this.
    Done(T),
    /// Not yet; this is the state observed, reported if the deadline passes.
    Pending(S),
}

/// Why [`poll_until`] gave up.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WaitError<E: std::error::Error + 'static> {
    /// The deadline passed; `last_state` is the `Debug` text of the last pending state.
    #[error("gave up after {waited:?} ({polls} polls); last observed state: {last_state}")]
    Timeout {
        /// How long was waited.
        waited: Duration,
        /// How many times the probe ran.
        polls: u32,
        /// `Debug` text of the last [`Probe::Pending`] state, or a note if none was observed.
        last_state: String,
    },
    /// The probe failed; waiting stops at the first error.
    #[error("probe failed after {polls} polls: {source}")]
    Probe {
        /// How many times the probe ran.
        polls: u32,
        /// The probe's error.
        source: E,
    },
}

/// Runs `probe` every `poll` until it returns [`Probe::Done`], it fails, or `deadline` (from
/// now) passes. Never sleeps past the deadline; a probe still running at the deadline is
/// abandoned. The probe always runs at least once.
pub(crate) async fn poll_until<T, S, E, F, Fut>(
    deadline: Duration,
    poll: Duration,
    mut probe: F,
) -> Result<T, WaitError<E>>
where
    S: Debug,
    E: std::error::Error + 'static,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Probe<T, S>, E>>,
{
    let start = Instant::now();
    let end = start + deadline;
    let mut polls = 0;
    let mut last_state = String::from("none: the probe never completed");
    loop {
        polls += 1;
        match tokio::time::timeout_at(end, probe()).await {
            Ok(Ok(Probe::Done(value))) => return Ok(value),
            Ok(Ok(Probe::Pending(state))) => last_state = format!("{state:?}"),
            Ok(Err(source)) => return Err(WaitError::Probe { polls, source }),
            Err(_elapsed) => {}
        }
        let now = Instant::now();
        if now >= end {
            return Err(WaitError::Timeout {
                waited: now - start,
                polls,
                last_state,
            });
        }
        tokio::time::sleep_until((now + poll).min(end)).await;
    }
}

/// [`poll_until`] without a runtime, for a synchronous check: runs `done` every `poll` until
/// it holds or `deadline` (from now) passes; whether it held. Never sleeps past the deadline;
/// `done` always runs at least once.
pub(crate) fn poll_until_blocking(
    deadline: Duration,
    poll: Duration,
    mut done: impl FnMut() -> bool,
) -> bool {
    let end = std::time::Instant::now() + deadline;
    loop {
        if done() {
            return true;
        }
        let now = std::time::Instant::now();
        if now >= end {
            return false;
        }
        std::thread::sleep(poll.min(end - now)); // a poll interval, bounded by the deadline
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use super::*;

    #[tokio::test]
    async fn a_probe_that_comes_true_ends_the_wait_with_its_value() {
        let mut calls = 0;
        let got = poll_until(Duration::from_secs(5), Duration::from_millis(1), || {
            calls += 1;
            let n = calls;
            async move {
                Ok::<_, Infallible>(if n == 3 {
                    Probe::Done(n)
                } else {
                    Probe::Pending(n)
                })
            }
        })
        .await
        .expect("done on the third poll");
        assert_eq!(got, 3);
    }

    #[tokio::test]
    async fn the_deadline_reports_the_last_state_and_an_error_ends_at_once() {
        let waited = poll_until(
            Duration::from_millis(30),
            Duration::from_millis(5),
            || async { Ok::<Probe<(), _>, Infallible>(Probe::Pending("still closed")) },
        )
        .await;
        let Err(WaitError::Timeout {
            polls, last_state, ..
        }) = waited
        else {
            panic!("expected a timeout, got {waited:?}");
        };
        assert!(polls >= 2, "{polls}");
        assert_eq!(last_state, "\"still closed\"");
        let failed = poll_until(Duration::from_secs(5), Duration::from_millis(1), || async {
            Err::<Probe<(), ()>, _>(std::io::Error::other("boom"))
        })
        .await;
        assert!(
            matches!(&failed, Err(WaitError::Probe { polls: 1, source }) if source.to_string() == "boom"),
            "{failed:?}"
        );
    }

    #[test]
    fn the_blocking_form_checks_at_least_once_and_stops_at_the_deadline() {
        assert!(poll_until_blocking(
            Duration::ZERO,
            Duration::from_millis(1),
            || true
        ));
        let mut calls = 0;
        let began = std::time::Instant::now();
        let held = poll_until_blocking(Duration::from_millis(30), Duration::from_millis(5), || {
            calls += 1;
            false
        });
        assert!(!held);
        assert!(calls >= 2, "{calls}");
        assert!(began.elapsed() >= Duration::from_millis(30));
    }
}
