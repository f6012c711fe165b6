//! Bounds on every wait for another machine: the git remote, the Kubernetes API server, a
//! kubeconfig credential plugin. A server that accepts a connection and then never answers,
//! or answers one byte at a time, must not keep homelab waiting forever.
//!
//! This module owns the timeout flags' parsing and defaults, and [`Budget`]: an overall
//! deadline for blocking work (libgit2 has no way to cancel a transfer from outside) that
//! stops counting while the user answers a prompt.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// `--git-timeout`: the longest connecting to the git remote, or any wait for its next
/// bytes, may take.
pub const DEFAULT_GIT_TIMEOUT: Duration = Duration::from_secs(30);

/// A whole exchange with the git remote (a fetch, a push) may take this many times
/// `--git-timeout`: long enough for a slow upload, short enough to stop a server that
/// trickles bytes just fast enough to defeat the per-read bound.
pub const GIT_EXCHANGE_FACTOR: u32 = 10;

/// `--request-timeout`: the longest one request to the Kubernetes API server may take from
/// connecting to the last byte of the answer, and how long the kubeconfig's credential
/// plugin may run.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The bounds a timeout flag accepts: below a second nothing can answer, above a day is a
/// typo (and durations that large overflow deadlines).
const MIN_TIMEOUT: Duration = Duration::from_secs(1);
const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

/// Parse a timeout flag (`30s`, `2m`, `1h`, a bare number of seconds) for clap.
pub fn parse_timeout(text: &str) -> Result<Duration, String> {
    let duration = parse_unbounded(text)
        .ok_or_else(|| format!("{text:?} is not a duration; use e.g. 30s, 2m or 1h"))?;
    if duration < MIN_TIMEOUT || duration > MAX_TIMEOUT {
        return Err(format!(
            "{text:?} is out of range; use between {} and {}",
            human(MIN_TIMEOUT),
            human(MAX_TIMEOUT)
        ));
    }
    Ok(duration)
}

/// The longest duration accepted anywhere (a week): long enough for any wait a homelab
/// needs, short enough that adding it to the current instant can never overflow.
pub const MAX_DURATION: Duration = Duration::from_secs(7 * 24 * 3600);

/// Parse a duration like `90s`, `10m`, `1h`, `1h30m` or a bare number of seconds, of at
/// most [`MAX_DURATION`].
pub fn parse_duration(text: &str) -> Option<Duration> {
    parse_unbounded(text).filter(|d| *d <= MAX_DURATION)
}

/// The clap value parser of duration flags: a usage error (exit 2) at parse time, naming
/// the bound, instead of a failure (or an overflow) later.
pub fn duration_arg(text: &str) -> Result<String, String> {
    match parse_unbounded(text) {
        Some(d) if d <= MAX_DURATION => Ok(text.to_owned()),
        Some(_) => Err(format!(
            "{} is longer than the limit of {}h (a week); use e.g. 10m, 1h or 24h",
            crate::text::Shown(text),
            MAX_DURATION.as_secs() / 3600
        )),
        None => Err(format!(
            "{} is not a duration; use e.g. 90s, 10m or 1h30m",
            crate::text::Shown(text)
        )),
    }
}

/// A duration of any length (callers bound it: see [`parse_duration`]).
pub fn parse_unbounded(text: &str) -> Option<Duration> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if let Ok(secs) = text.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let mut total = 0u64;
    let mut number = String::new();
    for ch in text.chars() {
        if ch.is_ascii_digit() {
            number.push(ch);
            continue;
        }
        let unit = match ch {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            _ => return None,
        };
        let n: u64 = number.parse().ok()?;
        total = total.checked_add(n.checked_mul(unit)?)?;
        number.clear();
    }
    if !number.is_empty() {
        return None;
    }
    Some(Duration::from_secs(total))
}

/// A duration as people write it: `30s`, `5m`, `1m30s`, `2h`.
pub fn human(duration: Duration) -> String {
    let secs = duration.as_secs();
    if secs == 0 {
        return format!("{}ms", duration.as_millis());
    }
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let mut out = String::new();
    for (n, unit) in [(h, "h"), (m, "m"), (s, "s")] {
        if n > 0 {
            out.push_str(&format!("{n}{unit}"));
        }
    }
    out
}

/// An overall deadline for blocking work, paused while the user is being asked something.
#[derive(Debug)]
pub struct Budget {
    limit: Duration,
    state: Mutex<Clock>,
}

#[derive(Debug)]
struct Clock {
    started: Instant,
    /// Time spent in prompts so far, not counted against the limit.
    paused_for: Duration,
    /// Set while a prompt is open.
    paused_since: Option<Instant>,
}

/// The work did not finish within its budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed(pub Duration);

impl Budget {
    /// A budget of `limit`, counting from now.
    pub fn new(limit: Duration) -> Arc<Self> {
        Arc::new(Self {
            limit,
            state: Mutex::new(Clock {
                started: Instant::now(),
                paused_for: Duration::ZERO,
                paused_since: None,
            }),
        })
    }

    pub fn limit(&self) -> Duration {
        self.limit
    }

    /// What is left, or `None` while paused (the clock does not run then).
    fn remaining(&self) -> Option<Duration> {
        let clock = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if clock.paused_since.is_some() {
            return None;
        }
        let used = clock.started.elapsed().saturating_sub(clock.paused_for);
        Some(self.limit.saturating_sub(used))
    }

    /// Run `f` (a prompt) with the clock stopped.
    pub fn paused<R>(&self, f: impl FnOnce() -> R) -> R {
        let nested = {
            let mut clock = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            let nested = clock.paused_since.is_some();
            clock.paused_since.get_or_insert_with(Instant::now);
            nested
        };
        let result = f();
        if !nested {
            let mut clock = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(since) = clock.paused_since.take() {
                clock.paused_for += since.elapsed();
            }
        }
        result
    }

    /// Run `work` on a thread of its own and wait for it within the budget. When the budget
    /// runs out the thread is left behind (blocking I/O cannot be interrupted from outside;
    /// its socket is closed when the process exits) and `Elapsed` is returned.
    pub fn run<T: Send + 'static>(
        self: &Arc<Self>,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Elapsed> {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            // A panic is carried over to the waiting thread, as if the work had run there.
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
            let _ = tx.send(outcome);
        });
        loop {
            let wait = match self.remaining() {
                Some(left) if left.is_zero() => return Err(Elapsed(self.limit)),
                Some(left) => left,
                // Paused: look again soon, the prompt may end any moment.
                None => Duration::from_millis(200),
            };
            match rx.recv_timeout(wait) {
                Ok(Ok(value)) => return Ok(value),
                Ok(Err(panic)) => std::panic::resume_unwind(panic),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                // The sender lives until the work ended and its outcome was sent.
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(Elapsed(self.limit));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("10m"), Some(Duration::from_secs(600)));
        assert_eq!(parse_duration("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("45"), Some(Duration::from_secs(45)));
        assert_eq!(parse_duration("10x"), None);
        assert_eq!(parse_duration("m"), None);
        assert_eq!(parse_duration("5m3"), None);
        assert_eq!(parse_duration(""), None);
    }

    #[test]
    fn durations_are_bounded_so_deadlines_cannot_overflow() {
        assert_eq!(parse_duration("168h"), Some(MAX_DURATION));
        for huge in ["18446744073709551615", "168h1s", "99999999999h", "604801"] {
            assert_eq!(parse_duration(huge), None, "{huge}");
            let err = duration_arg(huge).unwrap_err();
            assert!(err.contains("longer than the limit"), "{err}");
        }
        assert!(
            duration_arg("forever")
                .unwrap_err()
                .contains("not a duration")
        );
        assert_eq!(duration_arg("10m").as_deref(), Ok("10m"));
        // The bound itself added to now is fine.
        let _ = std::time::Instant::now() + MAX_DURATION;
    }

    #[test]
    fn timeouts_parse_within_bounds() {
        assert_eq!(parse_timeout("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_timeout("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_timeout("5"), Ok(Duration::from_secs(5)));
        assert!(parse_timeout("0s").unwrap_err().contains("out of range"));
        assert!(parse_timeout("25h").unwrap_err().contains("out of range"));
        assert!(
            parse_timeout("18446744073709551615")
                .unwrap_err()
                .contains("out of range")
        );
        assert!(
            parse_timeout("soon")
                .unwrap_err()
                .contains("not a duration")
        );
    }

    #[test]
    fn durations_read_like_flags() {
        assert_eq!(human(Duration::from_secs(30)), "30s");
        assert_eq!(human(Duration::from_secs(300)), "5m");
        assert_eq!(human(Duration::from_secs(90)), "1m30s");
        assert_eq!(human(Duration::from_secs(7200)), "2h");
        assert_eq!(human(Duration::from_millis(250)), "250ms");
    }

    #[test]
    fn a_budget_stops_waiting_for_stuck_work() {
        let budget = Budget::new(Duration::from_millis(200));
        let start = Instant::now();
        let outcome = budget.run(|| std::thread::sleep(Duration::from_secs(30)));
        assert_eq!(outcome, Err(Elapsed(Duration::from_millis(200))));
        assert!(start.elapsed() < Duration::from_secs(10));
        assert_eq!(Budget::new(Duration::from_secs(10)).run(|| 7), Ok(7));
    }

    #[test]
    fn time_in_prompts_does_not_count() {
        let budget = Budget::new(Duration::from_millis(300));
        let inner = budget.clone();
        let outcome = budget.run(move || {
            inner.paused(|| std::thread::sleep(Duration::from_millis(600)));
            "answered"
        });
        assert_eq!(outcome, Ok("answered"));
    }
}
