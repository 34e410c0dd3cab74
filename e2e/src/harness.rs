//! A small test harness: runs each test, cleans up after it (also when it fails or panics),
//! and prints one line per test and a closing `N passed, N failed, N skipped` line in which a
//! skipped test never counts as passed.

use std::fmt;
use std::panic::AssertUnwindSafe;

use futures::FutureExt;
use futures::future::BoxFuture;

use crate::kube_env::Env;
use crate::settings::Tier;

/// A test: takes the environment, returns Ok or what went wrong.
pub type TestFn = for<'a> fn(&'a Env) -> BoxFuture<'a, Result<(), String>>;

/// One registered test.
#[derive(Clone, Copy)]
pub struct Test {
    /// Name printed in the report.
    pub name: &'static str,
    /// What it needs.
    pub tier: Tier,
    /// The body.
    pub run: TestFn,
}

impl fmt::Debug for Test {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Test")
            .field("name", &self.name)
            .field("tier", &self.tier)
            .finish()
    }
}

/// How one test ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Passed.
    Passed,
    /// Failed, with the reason.
    Failed(String),
    /// Not run, with the reason.
    Skipped(String),
}

/// Counts of outcomes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Passed tests.
    pub passed: usize,
    /// Failed tests.
    pub failed: usize,
    /// Skipped tests (never counted as passed).
    pub skipped: usize,
}

impl Summary {
    /// Records an outcome and prints its line.
    pub fn record(&mut self, name: &str, outcome: &Outcome) {
        match outcome {
            Outcome::Passed => {
                self.passed += 1;
                println!("test {name} ... ok");
            }
            Outcome::Failed(why) => {
                self.failed += 1;
                println!("test {name} ... FAILED: {why}");
            }
            Outcome::Skipped(why) => {
                self.skipped += 1;
                println!("test {name} ... skipped: {why}");
            }
        }
    }

    /// The process exit code: failure when any test failed.
    pub fn exit_code(&self) -> i32 {
        i32::from(self.failed > 0)
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "e2e: {} passed, {} failed, {} skipped",
            self.passed, self.failed, self.skipped
        )
    }
}

/// Every test skipped for the same reason (no cluster).
pub fn skip_all(tests: &[Test], reason: &str) -> Summary {
    let mut summary = Summary::default();
    for t in tests {
        summary.record(t.name, &Outcome::Skipped(reason.to_string()));
    }
    summary
}

/// Runs the enabled tests, each followed by cleanup.
pub async fn run_all(env: &Env, tests: &[Test]) -> Summary {
    let mut summary = Summary::default();
    for t in tests {
        let outcome = match env.settings.enabled(t.tier) {
            Err(reason) => Outcome::Skipped(reason),
            Ok(()) => {
                let result = AssertUnwindSafe((t.run)(env)).catch_unwind().await;
                let outcome = match result {
                    Ok(Ok(())) => Outcome::Passed,
                    Ok(Err(why)) if why.starts_with(SKIP_PREFIX) => {
                        Outcome::Skipped(why[SKIP_PREFIX.len()..].to_string())
                    }
                    Ok(Err(why)) => Outcome::Failed(why),
                    Err(panic) => Outcome::Failed(panic_message(&panic)),
                };
                if let Err(e) = env.cleanup().await {
                    println!("  cleanup after {}: {e}", t.name);
                }
                outcome
            }
        };
        summary.record(t.name, &outcome);
    }
    summary
}

/// Prefix of an `Err` that means "skipped" (for tests that find out late that they cannot run).
pub const SKIP_PREFIX: &str = "skip: ";

/// An `Err` value that skips the test with a reason.
pub fn skip(reason: &str) -> String {
    format!("{SKIP_PREFIX}{reason}")
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        format!("panicked: {s}")
    } else if let Some(s) = panic.downcast_ref::<String>() {
        format!("panicked: {s}")
    } else {
        "panicked".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skipped_never_counts_as_passed() {
        let mut s = Summary::default();
        s.record("a", &Outcome::Skipped("no cluster".into()));
        s.record("b", &Outcome::Skipped("no cluster".into()));
        assert_eq!(s.to_string(), "e2e: 0 passed, 0 failed, 2 skipped");
        assert_eq!(s.exit_code(), 0);
        s.record("c", &Outcome::Passed);
        s.record("d", &Outcome::Failed("boom".into()));
        assert_eq!(
            s,
            Summary {
                passed: 1,
                failed: 1,
                skipped: 2
            }
        );
        assert_eq!(s.exit_code(), 1);
    }

    #[test]
    fn skip_values_and_panics() {
        assert_eq!(
            skip("needs the local operator"),
            "skip: needs the local operator"
        );
        let p: Box<dyn std::any::Any + Send> = Box::new("oops");
        assert_eq!(panic_message(&p), "panicked: oops");
    }

    #[test]
    fn every_test_is_registered_once() {
        let tests = crate::suite::all();
        let mut names: Vec<&str> = tests.iter().map(|t| t.name).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len(), "duplicate test names");
        assert!(tests.iter().any(|t| t.tier == Tier::Workloads));
        assert!(tests.iter().any(|t| t.tier == Tier::Scale));
        let summary = skip_all(&tests, "no reachable cluster");
        assert_eq!(summary.skipped, tests.len());
        assert_eq!(summary.passed, 0);
    }
}
