//! The checks of a loaded configuration, all problems at once, each with the path of its key:
//! every value (`values.rs`), how a plan fits together (`fit.rs`); [`Checker`] collects them.

mod fit;
mod values;

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube_quantity::ParsedQuantity;

use crate::config::{ConfigError, ConfigIssue};

/// The problems found so far.
#[derive(Default)]
pub(crate) struct Checker {
    issues: Vec<ConfigIssue>,
}

impl Checker {
    pub(super) fn issue(&mut self, path: &str, message: impl Into<String>) {
        self.issues.push(ConfigIssue {
            path: path.into(),
            message: message.into(),
        });
    }

    /// Parses a quantity that must be positive; records an issue and returns None otherwise.
    pub(super) fn positive(&mut self, path: &str, value: &Quantity) -> Option<ParsedQuantity> {
        match ParsedQuantity::try_from(value) {
            Ok(v) if v > ParsedQuantity::default() => Some(v),
            Ok(_) => {
                self.issue(path, format!("{} must be greater than zero", value.0));
                None
            }
            Err(e) => {
                self.issue(path, format!("{:?} is not a valid quantity: {e}", value.0));
                None
            }
        }
    }

    /// Records an issue when `value` (at `path`) exceeds `bound` (described by `what`).
    pub(super) fn at_most(
        &mut self,
        path: &str,
        value: &Option<ParsedQuantity>,
        bound: &Option<ParsedQuantity>,
        raw: &str,
        what: &str,
    ) {
        if let (Some(v), Some(b)) = (value, bound)
            && v > b
        {
            self.issue(path, format!("{raw} is above {what} {b}"));
        }
    }

    pub(super) fn finish(self) -> Result<(), ConfigError> {
        if self.issues.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid(self.issues))
        }
    }
}
