//! Kubernetes resource quantities as exact integers, for comparing plans, limits and sizes.
//!
//! A quantity is parsed into thousandths of its unit ("milli-units"), the finest precision
//! Kubernetes keeps; finer values round up, as the apiserver does. No floating point.

use std::cmp::Ordering;
use std::fmt;

/// A parsed quantity, in thousandths of the base unit (cores, bytes, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Millis(pub i128);

impl Millis {
    /// Zero.
    pub const ZERO: Self = Self(0);

    /// Sum of two quantities (saturating; quantities are far below the bound).
    #[must_use]
    pub fn plus(self, other: Self) -> Self {
        Self(self.0.saturating_add(other.0))
    }
}

impl std::iter::Sum for Millis {
    fn sum<I: Iterator<Item = Self>>(iter: I) -> Self {
        iter.fold(Self::ZERO, Self::plus)
    }
}

/// Why a string is not a quantity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not a valid quantity: {why}")]
pub struct QuantityError {
    value: String,
    why: &'static str,
}

fn err(value: &str, why: &'static str) -> QuantityError {
    QuantityError {
        value: value.to_string(),
        why,
    }
}

/// Parses a Kubernetes quantity (`500m`, `1.5Gi`, `2`, `1e3`, `10G`).
pub fn parse(input: &str) -> Result<Millis, QuantityError> {
    let s = input.trim();
    if s.is_empty() {
        return Err(err(input, "empty"));
    }
    let (negative, rest) = match s.as_bytes()[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let number_len = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    let (number, suffix) = rest.split_at(number_len);
    let (int_part, frac_part) = match number.split_once('.') {
        Some((i, f)) => (i, f),
        None => (number, ""),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return Err(err(input, "no digits"));
    }
    if frac_part.contains('.') {
        return Err(err(input, "more than one decimal point"));
    }
    let digits = format!("{int_part}{frac_part}");
    if digits.len() > 30 {
        return Err(err(input, "too many digits"));
    }
    let mantissa: i128 = digits.parse().map_err(|_| err(input, "not a number"))?;
    // value = mantissa * 10^(exp10 - frac_len) * 2^(exp2), in base units; we want * 1000.
    let (exp10, exp2): (i32, u32) = match suffix {
        "" => (0, 0),
        "m" => (-3, 0),
        "k" => (3, 0),
        "M" => (6, 0),
        "G" => (9, 0),
        "T" => (12, 0),
        "P" => (15, 0),
        "E" => (18, 0),
        "Ki" => (0, 10),
        "Mi" => (0, 20),
        "Gi" => (0, 30),
        "Ti" => (0, 40),
        "Pi" => (0, 50),
        "Ei" => (0, 60),
        other if other.starts_with(['e', 'E']) => {
            let exp: i32 = other[1..].parse().map_err(|_| err(input, "bad exponent"))?;
            if !(-30..=30).contains(&exp) {
                return Err(err(input, "exponent out of range"));
            }
            (exp, 0)
        }
        _ => return Err(err(input, "unknown suffix")),
    };
    let frac_len = i32::try_from(frac_part.len()).map_err(|_| err(input, "too many digits"))?;
    let scale = exp10 + 3 - frac_len;
    let overflow = || err(input, "too large");
    let mut value = mantissa.checked_mul(1i128 << exp2).ok_or_else(overflow)?;
    match scale.cmp(&0) {
        Ordering::Greater | Ordering::Equal => {
            let factor = 10i128
                .checked_pow(scale.unsigned_abs())
                .ok_or_else(overflow)?;
            value = value.checked_mul(factor).ok_or_else(overflow)?;
        }
        Ordering::Less => {
            let divisor = 10i128
                .checked_pow(scale.unsigned_abs())
                .ok_or_else(overflow)?;
            // Round up, as Kubernetes does for sub-milli precision.
            value = (value + divisor - 1) / divisor;
        }
    }
    Ok(Millis(if negative { -value } else { value }))
}

impl fmt::Display for Millis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.rem_euclid(1000) == 0 {
            write!(f, "{}", self.0 / 1000)
        } else {
            write!(f, "{}m", self.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_kubernetes_accepts() {
        let cases = [
            ("1", 1_000),
            ("500m", 500),
            ("0.5", 500),
            (".5", 500),
            ("1.5Gi", 1_610_612_736_000),
            ("1Ki", 1_024_000),
            ("10G", 10_000_000_000_000),
            ("1e3", 1_000_000),
            ("1E-3", 1),
            ("0.1m", 1),
            ("+2", 2_000),
            ("-1", -1_000),
            ("2Mi", 2_097_152_000),
        ];
        for (input, millis) in cases {
            assert_eq!(parse(input), Ok(Millis(millis)), "{input}");
        }
    }

    #[test]
    fn rejects_what_kubernetes_rejects() {
        for bad in [
            "",
            "Gi",
            "1GB",
            "1.2.3",
            "abc",
            "1 Gi",
            "1e",
            "1ee3",
            "99999999999999999999999999999999Ei",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn orders_and_sums() {
        let a = parse("512Mi").expect("valid");
        let b = parse("1Gi").expect("valid");
        assert!(a < b);
        assert_eq!([a, a].into_iter().sum::<Millis>(), b);
        assert_eq!(Millis(1500).to_string(), "1500m");
        assert_eq!(Millis(2000).to_string(), "2");
    }
}
