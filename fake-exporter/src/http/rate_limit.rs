//! exporter-toolkit's `rate_limit`: one token bucket per listener
//! (`rate.NewLimiter(rate.Every(interval), burst)`), created once at start.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A token bucket: `burst` tokens, refilled at one token per `interval`.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    interval: Duration,
    burst: f64,
    state: Mutex<(f64, Instant)>,
}

impl RateLimiter {
    /// A full bucket. `interval` must be non-zero (a zero interval means "no limiter").
    pub(crate) fn new(interval: Duration, burst: u32) -> Self {
        Self {
            interval,
            burst: f64::from(burst),
            state: Mutex::new((f64::from(burst), Instant::now())),
        }
    }

    /// Takes a token if one is available.
    pub(crate) fn allow(&self) -> bool {
        self.allow_at(Instant::now())
    }

    fn allow_at(&self, now: Instant) -> bool {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let (tokens, last) = *state;
        let elapsed = now.saturating_duration_since(last).as_secs_f64();
        let refill = elapsed / self.interval.as_secs_f64();
        let tokens = (tokens + refill).min(self.burst);
        if tokens >= 1.0 {
            *state = (tokens - 1.0, now);
            true
        } else {
            *state = (tokens, now);
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refill() {
        let limiter = RateLimiter::new(Duration::from_secs(1), 2);
        let t0 = Instant::now();
        assert!(limiter.allow_at(t0));
        assert!(limiter.allow_at(t0));
        assert!(!limiter.allow_at(t0), "burst exhausted");
        assert!(!limiter.allow_at(t0 + Duration::from_millis(500)));
        assert!(
            limiter.allow_at(t0 + Duration::from_millis(1001)),
            "one token refilled"
        );
        assert!(!limiter.allow_at(t0 + Duration::from_millis(1002)));
    }

    #[test]
    fn zero_burst_refuses_everything() {
        // golang.org/x/time/rate: burst 0 with a finite rate allows nothing.
        let limiter = RateLimiter::new(Duration::from_millis(1), 0);
        let t0 = Instant::now();
        assert!(!limiter.allow_at(t0 + Duration::from_secs(5)));
    }
}
