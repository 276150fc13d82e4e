//! CronJob schedules, checked as `github.com/robfig/cron/v3`'s `ParseStandard` (which
//! upstream uses) checks them, with its error texts, and time zone names as Go's
//! `time.LoadLocation` resolves them (against a bundled IANA database, no disk reads).

use std::collections::HashSet;
use std::sync::OnceLock;

struct Bounds {
    min: u64,
    max: u64,
    names: &'static [(&'static str, u64)],
}

const MINUTES: Bounds = Bounds { min: 0, max: 59, names: &[] };
const HOURS: Bounds = Bounds { min: 0, max: 23, names: &[] };
const DOM: Bounds = Bounds { min: 1, max: 31, names: &[] };
const MONTHS: Bounds = Bounds {
    min: 1,
    max: 12,
    names: &[
        ("jan", 1),
        ("feb", 2),
        ("mar", 3),
        ("apr", 4),
        ("may", 5),
        ("jun", 6),
        ("jul", 7),
        ("aug", 8),
        ("sep", 9),
        ("oct", 10),
        ("nov", 11),
        ("dec", 12),
    ],
};
const DOW: Bounds = Bounds {
    min: 0,
    max: 6,
    names: &[("sun", 0), ("mon", 1), ("tue", 2), ("wed", 3), ("thu", 4), ("fri", 5), ("sat", 6)],
};

/// Checks a standard five-field schedule or a descriptor (`@daily`, `@every 1h`).
pub fn parse_standard(spec: &str) -> Result<(), String> {
    if spec.is_empty() {
        return Err("empty spec string".to_string());
    }
    let mut spec = spec.to_string();
    if spec.starts_with("TZ=") || spec.starts_with("CRON_TZ=") {
        let eq = spec.find('=').unwrap_or(0);
        let end = spec.find(' ').unwrap_or(spec.len());
        let name = spec.get(eq + 1..end).unwrap_or_default().to_string();
        if let Err(e) = load_location(&name) {
            return Err(format!("provided bad location {name}: {e}"));
        }
        spec = spec.get(end..).unwrap_or_default().trim().to_string();
    }
    if spec.starts_with('@') {
        return parse_descriptor(&spec);
    }
    let fields: Vec<&str> = spec.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(format!("expected exactly 5 fields, found {}: [{}]", fields.len(), fields.join(" ")));
    }
    for (field, bounds) in fields.iter().zip([&MINUTES, &HOURS, &DOM, &MONTHS, &DOW]) {
        for expr in field.split(',').filter(|e| !e.is_empty()) {
            check_range(expr, bounds)?;
        }
    }
    Ok(())
}

fn check_range(expr: &str, r: &Bounds) -> Result<(), String> {
    let range_and_step: Vec<&str> = expr.split('/').collect();
    let low_and_high: Vec<&str> = range_and_step[0].split('-').collect();
    let single = low_and_high.len() == 1;
    let (start, mut end) = if low_and_high[0] == "*" || low_and_high[0] == "?" {
        (r.min, r.max)
    } else {
        let start = parse_int_or_name(low_and_high[0], r)?;
        let end = match low_and_high.len() {
            1 => start,
            2 => parse_int_or_name(low_and_high[1], r)?,
            _ => return Err(format!("too many hyphens: {expr}")),
        };
        (start, end)
    };
    let step = match range_and_step.len() {
        1 => 1,
        2 => {
            let step = must_parse_int(range_and_step[1])?;
            if single {
                // "N/step" means "N-max/step".
                end = r.max;
            }
            step
        }
        _ => return Err(format!("too many slashes: {expr}")),
    };
    if start < r.min {
        return Err(format!("beginning of range ({start}) below minimum ({}): {expr}", r.min));
    }
    if end > r.max {
        return Err(format!("end of range ({end}) above maximum ({}): {expr}", r.max));
    }
    if start > end {
        return Err(format!("beginning of range ({start}) beyond end of range ({end}): {expr}"));
    }
    if step == 0 {
        return Err(format!("step of range should be a positive number: {expr}"));
    }
    Ok(())
}

fn parse_int_or_name(expr: &str, r: &Bounds) -> Result<u64, String> {
    let lower = expr.to_lowercase();
    if let Some((_, v)) = r.names.iter().find(|(n, _)| *n == lower) {
        return Ok(*v);
    }
    must_parse_int(expr)
}

/// `strconv.Atoi`, then a non-negative check, with robfig's wording.
fn must_parse_int(expr: &str) -> Result<u64, String> {
    let quoted = super::field_error::go_quote(expr);
    let digits = expr.strip_prefix(['+', '-']).unwrap_or(expr);
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return Err(format!("failed to parse int from {expr}: strconv.Atoi: parsing {quoted}: invalid syntax"));
    }
    let num: i64 = expr
        .parse()
        .map_err(|_| format!("failed to parse int from {expr}: strconv.Atoi: parsing {quoted}: value out of range"))?;
    if num < 0 {
        return Err(format!("negative number ({num}) not allowed: {expr}"));
    }
    Ok(num as u64)
}

fn parse_descriptor(d: &str) -> Result<(), String> {
    match d {
        "@yearly" | "@annually" | "@monthly" | "@weekly" | "@daily" | "@midnight" | "@hourly" => Ok(()),
        _ => match d.strip_prefix("@every ") {
            Some(dur) => parse_go_duration(dur).map_err(|e| format!("failed to parse duration {d}: {e}")),
            None => Err(format!("unrecognized descriptor: {d}")),
        },
    }
}

/// Go's `time.ParseDuration`, for its error texts.
fn parse_go_duration(s: &str) -> Result<(), String> {
    let quoted = super::field_error::go_quote(s);
    let invalid = || format!("time: invalid duration {quoted}");
    let mut rest = s.strip_prefix(['+', '-']).unwrap_or(s);
    if rest == "0" {
        return Ok(());
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    while !rest.is_empty() {
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let mut consumed = int_len;
        let mut frac_len = 0;
        if rest.as_bytes().get(consumed) == Some(&b'.') {
            consumed += 1;
            frac_len = rest[consumed..].bytes().take_while(u8::is_ascii_digit).count();
            consumed += frac_len;
        }
        if int_len == 0 && frac_len == 0 {
            return Err(invalid());
        }
        rest = &rest[consumed..];
        let unit_len = rest.find(|c: char| c == '.' || c.is_ascii_digit()).unwrap_or(rest.len());
        if unit_len == 0 {
            return Err(format!("time: missing unit in duration {quoted}"));
        }
        let unit = &rest[..unit_len];
        if !["ns", "us", "µs", "μs", "ms", "s", "m", "h"].contains(&unit) {
            return Err(format!("time: unknown unit {} in duration {quoted}", super::field_error::go_quote(unit)));
        }
        rest = &rest[unit_len..];
    }
    Ok(())
}

fn zone_names() -> &'static HashSet<String> {
    static NAMES: OnceLock<HashSet<String>> = OnceLock::new();
    NAMES.get_or_init(|| jiff::tz::TimeZoneDatabase::bundled().available().map(|n| n.as_str().to_string()).collect())
}

/// Go's `time.LoadLocation`: "", "UTC" and "Local" are built in; other names must
/// exist in the IANA database, spelled exactly.
pub fn load_location(name: &str) -> Result<(), String> {
    if name.is_empty() || name == "UTC" || name == "Local" {
        return Ok(());
    }
    if name.contains("..") || name.starts_with('/') || name.starts_with('\\') {
        return Err("time: invalid location name".to_string());
    }
    if zone_names().contains(name) {
        Ok(())
    } else {
        Err(format!("unknown time zone {name}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_cron_schedules() {
        for ok in ["*/5 * * * *", "0 0 * * 0", "@hourly", "@every 1h30m", "0 9 * * MON-FRI", "15 */3 1,15 jan-jun ?", "0 0 1 1 *"] {
            assert_eq!(parse_standard(ok), Ok(()), "{ok}");
        }
        assert_eq!(parse_standard("foo"), Err("expected exactly 5 fields, found 1: [foo]".to_string()));
        assert_eq!(parse_standard("60 * * * *"), Err("end of range (60) above maximum (59): 60".to_string()));
        assert_eq!(parse_standard("* * 0 * *"), Err("beginning of range (0) below minimum (1): 0".to_string()));
        assert_eq!(
            parse_standard("x * * * *"),
            Err("failed to parse int from x: strconv.Atoi: parsing \"x\": invalid syntax".to_string())
        );
        assert_eq!(parse_standard("5-1 * * * *"), Err("beginning of range (5) beyond end of range (1): 5-1".to_string()));
        assert_eq!(parse_standard("*/0 * * * *"), Err("step of range should be a positive number: */0".to_string()));
        assert_eq!(parse_standard("@fortnightly"), Err("unrecognized descriptor: @fortnightly".to_string()));
        assert_eq!(
            parse_standard("@every 1x"),
            Err("failed to parse duration @every 1x: time: unknown unit \"x\" in duration \"1x\"".to_string())
        );
    }

    #[test]
    fn validation_time_zones() {
        assert_eq!(load_location("Europe/Berlin"), Ok(()));
        assert_eq!(load_location("America/New_York"), Ok(()));
        assert_eq!(load_location("Etc/UTC"), Ok(()));
        assert_eq!(load_location("Foo/Bar"), Err("unknown time zone Foo/Bar".to_string()));
        assert_eq!(load_location("europe/berlin"), Err("unknown time zone europe/berlin".to_string()));
    }
}
