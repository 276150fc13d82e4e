//! `resource.Quantity` as upstream apimachinery parses, compares and prints it.
//!
//! A quantity is held exactly as a count of nano-units (`value × 10⁹`), which is the
//! finest scale upstream keeps: anything smaller is rounded up (away from zero) to one
//! nano, and magnitudes are capped at `2⁶³-1`, as `resource.ParseQuantity` does.
//! `to_string()` gives the canonical form the API server answers with
//! (`"0.5"` → `"500m"`, `"1024Mi"` → `"1Gi"`, `"1.5Gi"` → `"1536Mi"`).

use std::cmp::Ordering;
use std::fmt;

/// How a quantity prints: with SI suffixes (`k`, `M`, `m`), binary suffixes (`Ki`, `Mi`)
/// or decimal exponents (`1e3`). Kept from the parsed text, as upstream does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    DecimalSI,
    BinarySI,
    DecimalExponent,
}

/// Why a string is not a quantity; the messages are upstream's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    #[error("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")]
    FormatWrong,
    #[error("unable to parse numeric part of quantity")]
    Numeric,
    #[error("unable to parse quantity's suffix")]
    Suffix,
}

/// A parsed `resource.Quantity`.
#[derive(Debug, Clone, Copy)]
pub struct Quantity {
    nanos: i128,
    format: Format,
}

const NANOS_PER_UNIT: i128 = 1_000_000_000;
/// Upstream caps quantities at the largest int64 (in whole units).
const MAX_NANOS: i128 = (i64::MAX as i128) * NANOS_PER_UNIT;

impl PartialEq for Quantity {
    fn eq(&self, other: &Self) -> bool {
        self.nanos == other.nanos
    }
}
impl Eq for Quantity {}
impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Quantity {
    fn cmp(&self, other: &Self) -> Ordering {
        self.nanos.cmp(&other.nanos)
    }
}
impl std::hash::Hash for Quantity {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.nanos.hash(state);
    }
}

impl Default for Quantity {
    fn default() -> Self {
        Quantity { nanos: 0, format: Format::DecimalSI }
    }
}

/// The pieces of a quantity string, split as upstream's `parseQuantityString` does.
struct Parts<'a> {
    positive: bool,
    num: &'a str,
    denom: &'a str,
    suffix: &'a str,
}

fn split_quantity(s: &str) -> Result<Parts<'_>, QuantityError> {
    let b = s.as_bytes();
    let end = b.len();
    let mut pos = 0;
    let mut positive = true;
    if let Some(&c) = b.first() {
        if c == b'-' {
            positive = false;
            pos += 1;
        } else if c == b'+' {
            pos += 1;
        }
    }
    // Leading zeros carry no value.
    while pos < end && b[pos] == b'0' {
        pos += 1;
    }
    if pos >= end {
        return Ok(Parts { positive, num: "0", denom: "", suffix: "" });
    }
    let num_start = pos;
    while pos < end && b[pos].is_ascii_digit() {
        pos += 1;
    }
    let mut num = &s[num_start..pos];
    if num.is_empty() {
        num = "0";
    }
    let mut denom = "";
    if pos < end && b[pos] == b'.' {
        pos += 1;
        let d_start = pos;
        while pos < end && b[pos].is_ascii_digit() {
            pos += 1;
        }
        denom = &s[d_start..pos];
    }
    let suffix_start = pos;
    while pos < end && b"eEinumkKMGTP".contains(&b[pos]) {
        pos += 1;
    }
    if pos < end && (b[pos] == b'-' || b[pos] == b'+') {
        pos += 1;
    }
    while pos < end && b[pos].is_ascii_digit() {
        pos += 1;
    }
    if pos < end {
        return Err(QuantityError::FormatWrong);
    }
    Ok(Parts { positive, num, denom, suffix: &s[suffix_start..end] })
}

/// (base, exponent, format) of a suffix, as upstream's suffixer interprets it.
fn interpret_suffix(suffix: &str) -> Option<(u32, i64, Format)> {
    let dec = |e| Some((10, e, Format::DecimalSI));
    let bin = |e| Some((2, e, Format::BinarySI));
    match suffix {
        "n" => dec(-9),
        "u" => dec(-6),
        "m" => dec(-3),
        "" => dec(0),
        "k" => dec(3),
        "M" => dec(6),
        "G" => dec(9),
        "T" => dec(12),
        "P" => dec(15),
        "E" => dec(18),
        "Ki" => bin(10),
        "Mi" => bin(20),
        "Gi" => bin(30),
        "Ti" => bin(40),
        "Pi" => bin(50),
        "Ei" => bin(60),
        _ => {
            let rest = suffix.strip_prefix('e').or_else(|| suffix.strip_prefix('E'))?;
            if rest.is_empty() {
                return None;
            }
            // Go's ParseInt accepts a leading sign.
            let exp: i64 = rest.parse().ok()?;
            Some((10, exp, Format::DecimalExponent))
        }
    }
}

fn pow10(exp: u32) -> u128 {
    10u128.checked_pow(exp).unwrap_or(u128::MAX)
}

/// The magnitude in nano-units of `num.denom × base^exponent`, rounded up to a whole
/// nano and capped, computed exactly for every realistic input. Digits past 38 (20 for
/// binary suffixes) are dropped but still make the value round up.
fn magnitude_nanos(num: &str, denom: &str, base: u32, exponent: i64) -> u128 {
    let cap = MAX_NANOS as u128;
    let joined = format!("{num}{denom}");
    let mut digits = joined.trim_start_matches('0');
    if digits.is_empty() {
        return 0;
    }
    let mut x: i64 = if base == 10 { exponent } else { 0 };
    x = x.saturating_sub(denom.len() as i64);
    let max_digits = if base == 10 { 38 } else { 20 };
    let mut sticky = false;
    if digits.len() > max_digits {
        let (keep, dropped) = digits.split_at(max_digits);
        sticky = dropped.bytes().any(|c| c != b'0');
        x = x.saturating_add(dropped.len() as i64);
        digits = keep;
    }
    let mut d: u128 = 0;
    for c in digits.bytes() {
        d = d * 10 + u128::from(c - b'0');
    }
    if base == 2 {
        match d.checked_mul(1u128 << exponent.clamp(0, 62)) {
            Some(v) => d = v,
            None => return cap,
        }
    }
    let k = x.saturating_add(9);
    let nanos = if k >= 0 {
        if k > 38 {
            return cap;
        }
        match d.checked_mul(pow10(k as u32)) {
            Some(v) => v + u128::from(sticky),
            None => return cap,
        }
    } else if k < -38 {
        1
    } else {
        let div = pow10((-k) as u32);
        let q = d / div;
        if !d.is_multiple_of(div) || sticky {
            q + 1
        } else {
            q
        }
    };
    nanos.min(cap)
}

fn ceil_div(a: i128, b: i128) -> i128 {
    let q = a / b;
    if a % b != 0 && (a > 0) == (b > 0) {
        q + 1
    } else {
        q
    }
}

impl Quantity {
    /// Parses a quantity as `resource.ParseQuantity` does (no surrounding whitespace).
    pub fn parse(s: &str) -> Result<Quantity, QuantityError> {
        if s.is_empty() {
            return Err(QuantityError::FormatWrong);
        }
        let parts = split_quantity(s)?;
        let (base, exponent, mut format) = interpret_suffix(parts.suffix).ok_or(QuantityError::Suffix)?;
        let mut nanos = magnitude_nanos(parts.num, parts.denom, base, exponent) as i128;
        if format == Format::BinarySI && nanos > 0 && nanos < NANOS_PER_UNIT {
            // Fractions of a unit cannot be shown with binary suffixes.
            format = Format::DecimalSI;
        }
        if !parts.positive {
            nanos = -nanos;
        }
        Ok(Quantity { nanos, format })
    }

    /// A whole number of units, printed with SI suffixes.
    pub fn from_value(v: i64) -> Quantity {
        Quantity { nanos: i128::from(v) * NANOS_PER_UNIT, format: Format::DecimalSI }
    }

    /// A number of thousandths of a unit (`250` → `250m`).
    pub fn from_milli(v: i64) -> Quantity {
        Quantity { nanos: i128::from(v) * 1_000_000, format: Format::DecimalSI }
    }

    /// A whole number of units, printed with binary suffixes (`1073741824` → `1Gi`).
    pub fn from_binary_value(v: i64) -> Quantity {
        Quantity { nanos: i128::from(v) * NANOS_PER_UNIT, format: Format::BinarySI }
    }

    pub fn format(&self) -> Format {
        self.format
    }

    pub fn is_zero(&self) -> bool {
        self.nanos == 0
    }

    pub fn is_negative(&self) -> bool {
        self.nanos < 0
    }

    /// The exact value in nano-units.
    pub fn nano_value(&self) -> i128 {
        self.nanos
    }

    /// Thousandths of a unit, rounded up (`MilliValue()`).
    pub fn milli_value(&self) -> i64 {
        saturate(ceil_div(self.nanos, 1_000_000))
    }

    /// Whole units, rounded up (`Value()`).
    pub fn value(&self) -> i64 {
        saturate(ceil_div(self.nanos, NANOS_PER_UNIT))
    }

    /// Rounds up to a multiple of 10^scale units (scale -3 is milli), as
    /// `RoundUp(scale)` does; upstream applies it to every ResourceList at milli scale.
    pub fn round_up(&self, scale: i32) -> Quantity {
        let exp = scale + 9;
        if exp <= 0 {
            return *self;
        }
        let step = pow10(exp as u32) as i128;
        let rounded = ceil_away(self.nanos, step) * step;
        Quantity { nanos: rounded.clamp(-MAX_NANOS, MAX_NANOS), format: self.format }
    }

    /// The canonical text (`Quantity.String()`).
    pub fn canonical(&self) -> String {
        if self.nanos == 0 {
            return "0".to_string();
        }
        let mut format = self.format;
        if format == Format::BinarySI {
            let small = self.nanos > -1024 * NANOS_PER_UNIT && self.nanos < 1024 * NANOS_PER_UNIT;
            if small || self.nanos % NANOS_PER_UNIT != 0 {
                // Binary suffixes would round or confuse; upstream falls back to SI.
                format = Format::DecimalSI;
            }
        }
        let sign = if self.nanos < 0 { "-" } else { "" };
        let mut mag = self.nanos.unsigned_abs();
        if format == Format::BinarySI {
            mag /= NANOS_PER_UNIT as u128;
            let mut exp = 0;
            while exp < 6 && mag.is_multiple_of(1024) {
                mag /= 1024;
                exp += 1;
            }
            let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][exp];
            return format!("{sign}{mag}{suffix}");
        }
        // Move factors of ten into the exponent, then lower it to a multiple of three.
        let mut exp: i32 = -9;
        while mag.is_multiple_of(10) {
            mag /= 10;
            exp += 1;
        }
        while exp.rem_euclid(3) != 0 {
            mag *= 10;
            exp -= 1;
        }
        let suffix = match format {
            Format::DecimalExponent => {
                if exp == 0 {
                    String::new()
                } else {
                    format!("e{exp}")
                }
            }
            _ => match exp {
                -9 => "n",
                -6 => "u",
                -3 => "m",
                0 => "",
                3 => "k",
                6 => "M",
                9 => "G",
                12 => "T",
                15 => "P",
                _ => "E",
            }
            .to_string(),
        };
        format!("{sign}{mag}{suffix}")
    }
}

fn ceil_away(a: i128, b: i128) -> i128 {
    let q = a / b;
    if a % b != 0 {
        if a > 0 {
            q + 1
        } else {
            q - 1
        }
    } else {
        q
    }
}

fn saturate(v: i128) -> i64 {
    v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.canonical())
    }
}

impl std::str::FromStr for Quantity {
    type Err = QuantityError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Quantity::parse(s)
    }
}

impl std::ops::Add for Quantity {
    type Output = Quantity;
    fn add(self, rhs: Quantity) -> Quantity {
        Quantity { nanos: (self.nanos + rhs.nanos).clamp(-MAX_NANOS, MAX_NANOS), format: self.format }
    }
}

impl std::ops::Sub for Quantity {
    type Output = Quantity;
    fn sub(self, rhs: Quantity) -> Quantity {
        Quantity { nanos: (self.nanos - rhs.nanos).clamp(-MAX_NANOS, MAX_NANOS), format: self.format }
    }
}

impl std::ops::AddAssign for Quantity {
    fn add_assign(&mut self, rhs: Quantity) {
        *self = *self + rhs;
    }
}

impl std::iter::Sum for Quantity {
    fn sum<I: Iterator<Item = Quantity>>(iter: I) -> Quantity {
        iter.fold(Quantity::default(), |a, b| a + b)
    }
}

/// Reads a quantity from JSON as upstream's `UnmarshalJSON` does: a string (trimmed)
/// or a bare number.
pub fn from_json(v: &serde_json::Value) -> Option<Result<Quantity, QuantityError>> {
    match v {
        serde_json::Value::String(s) => Some(Quantity::parse(s.trim())),
        serde_json::Value::Number(n) => Some(Quantity::parse(&n.to_string())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(s: &str) -> String {
        Quantity::parse(s).map(|q| q.to_string()).unwrap_or_else(|e| format!("ERR {e}"))
    }

    #[test]
    fn quantity_canonical_forms() {
        let cases = [
            ("100m", "100m"),
            ("200Mi", "200Mi"),
            ("1.5", "1500m"),
            ("1e3", "1e3"),
            ("2Gi", "2Gi"),
            ("0.5", "500m"),
            ("1024Mi", "1Gi"),
            ("1.5Gi", "1536Mi"),
            ("1000m", "1"),
            ("0", "0"),
            ("0Gi", "0"),
            ("1k", "1k"),
            ("1000", "1k"),
            ("1500", "1500"),
            ("12e6", "12e6"),
            ("1E", "1E"),
            ("-100m", "-100m"),
            ("+5", "5"),
            ("0.0001", "100u"),
            ("1n", "1n"),
            ("0.1n", "1n"),
            ("512Ki", "512Ki"),
            ("0.5Ki", "512"),
            ("1Ki", "1Ki"),
            ("1023", "1023"),
            ("128974848", "128974848"),
            ("129e6", "129e6"),
            ("123Mi", "123Mi"),
            ("100M", "100M"),
            (".5", "500m"),
            ("007", "7"),
            ("1e-3", "1e-3"),
            ("99999999999999999999", "9223372036854775807"),
        ];
        for (input, want) in cases {
            assert_eq!(canon(input), want, "input {input}");
        }
    }

    #[test]
    fn quantity_parse_errors() {
        assert_eq!(Quantity::parse(""), Err(QuantityError::FormatWrong));
        assert_eq!(Quantity::parse("abc"), Err(QuantityError::FormatWrong));
        assert_eq!(Quantity::parse("1Gb"), Err(QuantityError::FormatWrong));
        assert_eq!(Quantity::parse("1.5.5"), Err(QuantityError::FormatWrong));
        assert_eq!(Quantity::parse("1kk"), Err(QuantityError::Suffix));
        assert_eq!(Quantity::parse("1e"), Err(QuantityError::Suffix));
        assert_eq!(
            QuantityError::FormatWrong.to_string(),
            "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
        );
    }

    #[test]
    fn quantity_values_round_up() {
        let q = Quantity::parse("100m").unwrap_or_default();
        assert_eq!(q.milli_value(), 100);
        assert_eq!(q.value(), 1);
        let q = Quantity::parse("2Gi").unwrap_or_default();
        assert_eq!(q.value(), 2 * 1024 * 1024 * 1024);
        assert_eq!(q.milli_value(), 2 * 1024 * 1024 * 1024 * 1000);
        let q = Quantity::parse("1.5").unwrap_or_default();
        assert_eq!(q.value(), 2);
        assert_eq!(q.milli_value(), 1500);
        let q = Quantity::parse("0.1m").unwrap_or_default();
        assert_eq!(q.milli_value(), 1);
        let q = Quantity::parse("-1.5").unwrap_or_default();
        assert_eq!(q.value(), -1);
    }

    #[test]
    fn quantity_ordering() {
        let p = |s| Quantity::parse(s).unwrap_or_default();
        assert!(p("1") > p("999m"));
        assert!(p("1Gi") > p("1G"));
        assert_eq!(p("1000m"), p("1"));
        assert_eq!(p("1Ki"), p("1024"));
        assert!(p("-1") < p("0"));
        let mut v = vec![p("2"), p("100m"), p("1Ki")];
        v.sort();
        assert_eq!(v.iter().map(|q| q.to_string()).collect::<Vec<_>>(), ["100m", "2", "1Ki"]);
    }

    #[test]
    fn quantity_round_up_to_milli() {
        let q = Quantity::parse("0.0001").unwrap_or_default().round_up(-3);
        assert_eq!(q.to_string(), "1m");
        let q = Quantity::parse("100m").unwrap_or_default().round_up(-3);
        assert_eq!(q.to_string(), "100m");
    }

    #[test]
    fn quantity_from_json_numbers() {
        let q = from_json(&serde_json::json!(0.5));
        assert_eq!(q.map(|r| r.map(|q| q.to_string())), Some(Ok("500m".to_string())));
        let q = from_json(&serde_json::json!(2));
        assert_eq!(q.map(|r| r.map(|q| q.to_string())), Some(Ok("2".to_string())));
    }
}
