//! The checks `validate` is made of: hosts and domains, e-mail addresses, volume sizes.

use super::*;

pub(super) fn invalid(field: &'static str, message: String) -> ValidationError {
    ValidationError::InvalidField { field, message }
}

/// The host a Store is served at: `spec.domain`, else `<name>.<baseDomain>`.
pub fn host_of(store: &Store, config: &OperatorConfig) -> String {
    match &store.spec.domain {
        Some(domain) => domain.clone(),
        None => format!(
            "{}.{}",
            store.metadata.name.as_deref().unwrap_or_default(),
            config.base_domain
        ),
    }
}

/// Whether the store `name` of `owner` may be served at `domain`: its own name under the base
/// domain (or below it), or a domain an admin allowed for the owner. Names are unique, so no
/// store can take another store's host under the base domain.
pub(super) fn domain_allowed(
    domain: &str,
    name: &str,
    owner: &str,
    config: &OperatorConfig,
) -> bool {
    let own = format!("{name}.{}", config.base_domain);
    if domain == own || domain.ends_with(&format!(".{own}")) {
        return true;
    }
    config.owner_domains.get(owner).is_some_and(|allowed| {
        allowed.iter().any(|a| match a.strip_prefix("*.") {
            Some(parent) => domain.ends_with(&format!(".{parent}")),
            None => a == domain,
        })
    })
}

pub(super) fn looks_like_email(s: &str) -> bool {
    match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !s.contains(char::is_whitespace)
                // As the CRD's pattern: the address reaches JSON and shell arguments in setup.
                && !s.contains(['"', '\\'])
        }
        None => false,
    }
}

pub(super) fn size(field: &'static str, q: &Quantity) -> Result<ParsedQuantity, ValidationError> {
    match ParsedQuantity::try_from(q) {
        Ok(v) if v > ParsedQuantity::default() => Ok(v),
        Ok(_) => Err(invalid(field, format!("{} must be greater than zero", q.0))),
        Err(e) => Err(invalid(
            field,
            format!("{:?} is not a valid quantity: {e}", q.0),
        )),
    }
}

pub(super) fn check_sizes(
    plan_name: Plan,
    plan: &PlanConfig,
    db: &Quantity,
    sf: &Quantity,
) -> Result<(), ValidationError> {
    let db_v = size("spec.storage.databaseSize", db)?;
    let sf_v = size("spec.storage.storefrontSize", sf)?;
    // The config check guarantees these parse.
    let max = ParsedQuantity::try_from(&plan.limit_range.volume_max).ok();
    let total = ParsedQuantity::try_from(&plan.quota.requests_storage).ok();
    for (field, q, v) in [
        ("spec.storage.databaseSize", db, &db_v),
        ("spec.storage.storefrontSize", sf, &sf_v),
    ] {
        if max.as_ref().is_some_and(|max| v > max) {
            return Err(ValidationError::SizeExceedsPlan {
                field,
                size: q.0.clone(),
                plan: plan_name.as_str(),
                why: format!(
                    "the largest volume allowed is {}",
                    plan.limit_range.volume_max.0
                ),
            });
        }
    }
    if total.is_some_and(|total| db_v + sf_v > total) {
        return Err(ValidationError::SizeExceedsPlan {
            field: "spec.storage",
            size: format!("{} + {}", db.0, sf.0),
            plan: plan_name.as_str(),
            why: format!(
                "both volumes together may use {}",
                plan.quota.requests_storage.0
            ),
        });
    }
    Ok(())
}
