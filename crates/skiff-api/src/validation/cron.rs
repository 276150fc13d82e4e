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

/// A parsed schedule, as `robfig/cron/v3` holds it: one bit per allowed value of each
/// field, plus [`STAR`] when the field was `*` or `?` (which decides how day of month
/// and day of week combine), or a constant delay (`@every`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    Spec {
        minute: u64,
        hour: u64,
        dom: u64,
        month: u64,
        dow: u64,
        /// A `TZ=` or `CRON_TZ=` prefix.
        location: Option<String>,
    },
    /// `@every <duration>`, whole seconds, at least one.
    Every { secs: i64 },
}

/// Set on a field written as `*` or `?`.
pub const STAR: u64 = 1 << 63;

fn bits(min: u64, max: u64, step: u64) -> u64 {
    if step == 1 {
        return !(u64::MAX << (max + 1)) & (u64::MAX << min);
    }
    let mut b = 0;
    let mut i = min;
    while i <= max {
        b |= 1 << i;
        i += step;
    }
    b
}

fn all(r: &Bounds) -> u64 {
    bits(r.min, r.max, 1) | STAR
}

/// Checks a standard five-field schedule or a descriptor (`@daily`, `@every 1h`).
pub fn parse_standard(spec: &str) -> Result<(), String> {
    parse(spec).map(|_| ())
}

/// `cron.ParseStandard`: a five-field schedule or a descriptor, optionally prefixed with
/// `TZ=Zone ` or `CRON_TZ=Zone `.
pub fn parse(spec: &str) -> Result<Schedule, String> {
    if spec.is_empty() {
        return Err("empty spec string".to_string());
    }
    let mut spec = spec.to_string();
    let mut location = None;
    if spec.starts_with("TZ=") || spec.starts_with("CRON_TZ=") {
        let eq = spec.find('=').unwrap_or(0);
        let end = spec.find(' ').unwrap_or(spec.len());
        let name = spec.get(eq + 1..end).unwrap_or_default().to_string();
        if let Err(e) = load_location(&name) {
            return Err(format!("provided bad location {name}: {e}"));
        }
        location = Some(name);
        spec = spec.get(end..).unwrap_or_default().trim().to_string();
    }
    if spec.starts_with('@') {
        return parse_descriptor(&spec, location);
    }
    let fields: Vec<&str> = spec.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(format!("expected exactly 5 fields, found {}: [{}]", fields.len(), fields.join(" ")));
    }
    let mut out = [0u64; 5];
    for (i, (field, bounds)) in fields.iter().zip([&MINUTES, &HOURS, &DOM, &MONTHS, &DOW]).enumerate() {
        for expr in field.split(',').filter(|e| !e.is_empty()) {
            out[i] |= get_range(expr, bounds)?;
        }
    }
    Ok(Schedule::Spec { minute: out[0], hour: out[1], dom: out[2], month: out[3], dow: out[4], location })
}

fn get_range(expr: &str, r: &Bounds) -> Result<u64, String> {
    let range_and_step: Vec<&str> = expr.split('/').collect();
    let low_and_high: Vec<&str> = range_and_step[0].split('-').collect();
    let single = low_and_high.len() == 1;
    let mut extra = 0;
    let (start, mut end) = if low_and_high[0] == "*" || low_and_high[0] == "?" {
        extra = STAR;
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
            if step > 1 {
                extra = 0;
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
    Ok(bits(start, end, step) | extra)
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

fn parse_descriptor(d: &str, location: Option<String>) -> Result<Schedule, String> {
    let one = |r: &Bounds| 1u64 << r.min;
    let (minute, hour) = (one(&MINUTES), one(&HOURS));
    let spec = |minute, hour, dom, month, dow| Schedule::Spec { minute, hour, dom, month, dow, location: location.clone() };
    match d {
        "@yearly" | "@annually" => Ok(spec(minute, hour, one(&DOM), one(&MONTHS), all(&DOW))),
        "@monthly" => Ok(spec(minute, hour, one(&DOM), all(&MONTHS), all(&DOW))),
        "@weekly" => Ok(spec(minute, hour, all(&DOM), all(&MONTHS), one(&DOW))),
        "@daily" | "@midnight" => Ok(spec(minute, hour, all(&DOM), all(&MONTHS), all(&DOW))),
        "@hourly" => Ok(spec(minute, all(&HOURS), all(&DOM), all(&MONTHS), all(&DOW))),
        _ => match d.strip_prefix("@every ") {
            Some(dur) => {
                let nanos = parse_go_duration(dur).map_err(|e| format!("failed to parse duration {d}: {e}"))?;
                // cron.Every: at least a second, whole seconds.
                Ok(Schedule::Every { secs: (nanos / 1_000_000_000).max(1) as i64 })
            }
            None => Err(format!("unrecognized descriptor: {d}")),
        },
    }
}

impl Schedule {
    /// The first activation strictly after `after` (`Schedule.Next`), in the schedule's
    /// `TZ=` zone if it has one, else in `zone`. None when nothing matches within five
    /// years (a schedule such as February 30th).
    pub fn next(&self, after: jiff::Timestamp, zone: &jiff::tz::TimeZone) -> Option<jiff::Timestamp> {
        match self {
            Schedule::Every { secs } => {
                let nanos = i64::from(after.subsec_nanosecond());
                after.checked_add(jiff::SignedDuration::new(*secs, 0) - jiff::SignedDuration::from_nanos(nanos)).ok()
            }
            Schedule::Spec { minute, hour, dom, month, dow, location } => {
                let zone = match location {
                    Some(name) if name.is_empty() || name == "UTC" => jiff::tz::TimeZone::UTC,
                    Some(name) if name == "Local" => zone.clone(),
                    Some(name) => jiff::tz::TimeZone::get(name).ok()?,
                    None => zone.clone(),
                };
                next_spec(after, &zone, [*minute, *hour, *dom, *month, *dow])
            }
        }
    }
}

fn has(field: u64, v: i64) -> bool {
    (0..64).contains(&v) && field & (1 << v) != 0
}

/// Go's `time.Date`: a wall time that does not exist (a gap) or exists twice (a fold)
/// resolves to the earlier instant.
fn date(dt: jiff::civil::DateTime, zone: &jiff::tz::TimeZone) -> Option<jiff::Zoned> {
    zone.to_ambiguous_zoned(dt).earlier().ok()
}

/// `SpecSchedule.Next` for a five-field schedule (seconds are always 0).
fn next_spec(after: jiff::Timestamp, zone: &jiff::tz::TimeZone, f: [u64; 5]) -> Option<jiff::Timestamp> {
    use jiff::civil::DateTime;
    use jiff::{SignedDuration, ToSpan};
    let [minute, hour, dom, month, dow] = f;
    let day_matches = |t: &jiff::Zoned| {
        let dom_match = has(dom, i64::from(t.day()));
        let dow_match = has(dow, i64::from(t.weekday().to_sunday_zero_offset()));
        if dom & STAR != 0 || dow & STAR != 0 {
            dom_match && dow_match
        } else {
            dom_match || dow_match
        }
    };
    let abs = |t: &jiff::Zoned, d: SignedDuration| t.checked_add(d).ok();
    // The upcoming whole second.
    let start = after.checked_add(SignedDuration::from_secs(1) - SignedDuration::from_nanos(i64::from(after.subsec_nanosecond()))).ok()?;
    let mut t = start.to_zoned(zone.clone());
    let mut added = false;
    let year_limit = t.year() + 5;
    'wrap: loop {
        if t.year() > year_limit {
            return None;
        }
        while !has(month, i64::from(t.month())) {
            if !added {
                added = true;
                t = date(DateTime::new(t.year(), t.month(), 1, 0, 0, 0, 0).ok()?, zone)?;
            }
            t = date(t.datetime().checked_add(1.month()).ok()?, zone)?;
            if t.month() == 1 {
                continue 'wrap;
            }
        }
        while !day_matches(&t) {
            if !added {
                added = true;
                t = date(DateTime::new(t.year(), t.month(), t.day(), 0, 0, 0, 0).ok()?, zone)?;
            }
            t = date(t.datetime().checked_add(1.day()).ok()?, zone)?;
            // Midnight moved by a DST change: back to the day's start.
            if t.hour() != 0 {
                let h = i64::from(t.hour());
                t = if h > 12 { abs(&t, SignedDuration::from_hours(24 - h))? } else { abs(&t, SignedDuration::from_hours(-h))? };
            }
            if t.day() == 1 {
                continue 'wrap;
            }
        }
        while !has(hour, i64::from(t.hour())) {
            if !added {
                added = true;
                t = date(DateTime::new(t.year(), t.month(), t.day(), t.hour(), 0, 0, 0).ok()?, zone)?;
            }
            t = abs(&t, SignedDuration::from_hours(1))?;
            if t.hour() == 0 {
                continue 'wrap;
            }
        }
        while !has(minute, i64::from(t.minute())) {
            if !added {
                added = true;
                t = truncate(&t, 60)?;
            }
            t = abs(&t, SignedDuration::from_mins(1))?;
            if t.minute() == 0 {
                continue 'wrap;
            }
        }
        // The seconds field of a standard schedule is always 0.
        while t.second() != 0 || t.subsec_nanosecond() != 0 {
            if !added {
                added = true;
                t = truncate(&t, 1)?;
            }
            t = abs(&t, SignedDuration::from_secs(1))?;
            if t.second() == 0 {
                continue 'wrap;
            }
        }
        return Some(t.timestamp());
    }
}

/// `Time.Truncate` to whole `secs` since the epoch.
fn truncate(t: &jiff::Zoned, secs: i64) -> Option<jiff::Zoned> {
    let s = t.timestamp().as_second();
    jiff::Timestamp::from_second(s - s.rem_euclid(secs)).ok().map(|ts| ts.to_zoned(t.time_zone().clone()))
}

/// Go's `time.ParseDuration`, with its error texts; the duration in nanoseconds.
fn parse_go_duration(s: &str) -> Result<i128, String> {
    let quoted = super::field_error::go_quote(s);
    let invalid = || format!("time: invalid duration {quoted}");
    let negative = s.starts_with('-');
    let mut rest = s.strip_prefix(['+', '-']).unwrap_or(s);
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: i128 = 0;
    while !rest.is_empty() {
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let int_part = &rest[..int_len];
        let mut consumed = int_len;
        let mut frac_part = "";
        if rest.as_bytes().get(consumed) == Some(&b'.') {
            consumed += 1;
            let frac_len = rest[consumed..].bytes().take_while(u8::is_ascii_digit).count();
            frac_part = &rest[consumed..consumed + frac_len];
            consumed += frac_len;
        }
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(invalid());
        }
        rest = &rest[consumed..];
        let unit_len = rest.find(|c: char| c == '.' || c.is_ascii_digit()).unwrap_or(rest.len());
        if unit_len == 0 {
            return Err(format!("time: missing unit in duration {quoted}"));
        }
        let unit = &rest[..unit_len];
        let scale: i128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return Err(format!("time: unknown unit {} in duration {quoted}", super::field_error::go_quote(unit))),
        };
        let whole: i128 = if int_part.is_empty() { 0 } else { int_part.parse().map_err(|_| invalid())? };
        let mut value = whole.checked_mul(scale).ok_or_else(invalid)?;
        let mut place = scale;
        for d in frac_part.bytes().take(30) {
            place /= 10;
            value += i128::from(d - b'0') * place;
        }
        total = total.checked_add(value).ok_or_else(invalid)?;
        if total > i128::from(i64::MAX) {
            return Err(invalid());
        }
        rest = &rest[unit_len..];
    }
    Ok(if negative { -total } else { total })
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
    fn next_in(spec: &str, zone: &str, after: &str) -> Option<String> {
        let tz = jiff::tz::TimeZone::get(zone).unwrap();
        let after: jiff::Timestamp = after.parse().unwrap();
        parse(spec).unwrap().next(after, &tz).map(|t| t.to_zoned(tz.clone()).strftime("%Y-%m-%dT%H:%M:%S%:z").to_string())
    }

    #[test]
    fn next_activation_of_standard_schedules() {
        let n = |spec: &str, after: &str| next_in(spec, "UTC", after);
        assert_eq!(n("*/5 * * * *", "2024-01-31T10:02:30Z").as_deref(), Some("2024-01-31T10:05:00+00:00"));
        assert_eq!(n("*/1 * * * *", "2024-01-31T10:05:00Z").as_deref(), Some("2024-01-31T10:06:00+00:00"), "strictly after");
        assert_eq!(n("0 9 * * MON-FRI", "2024-02-02T10:00:00Z").as_deref(), Some("2024-02-05T09:00:00+00:00"), "Friday to Monday");
        assert_eq!(n("0,15,30,45 * * * *", "2024-02-02T10:44:59Z").as_deref(), Some("2024-02-02T10:45:00+00:00"));
        assert_eq!(n("15 */3 1,15 jan-jun ?", "2024-06-15T22:00:00Z").as_deref(), Some("2025-01-01T00:15:00+00:00"), "across the year");
        // Months without a 31st are skipped; February 29th waits for a leap year.
        assert_eq!(n("0 0 31 * *", "2024-04-01T00:00:00Z").as_deref(), Some("2024-05-31T00:00:00+00:00"));
        assert_eq!(n("0 0 29 2 *", "2024-03-01T00:00:00Z").as_deref(), Some("2028-02-29T00:00:00+00:00"));
        assert_eq!(n("0 0 30 2 *", "2024-03-01T00:00:00Z"), None, "never");
        // Day of month OR day of week when both are restricted; AND when one is `*`.
        assert_eq!(n("0 0 13 * FRI", "2024-09-01T00:00:00Z").as_deref(), Some("2024-09-06T00:00:00+00:00"));
        assert_eq!(n("0 0 * * FRI", "2024-09-01T00:00:00Z").as_deref(), Some("2024-09-06T00:00:00+00:00"));
        assert_eq!(n("0 0 */2 * FRI", "2024-09-01T00:00:00Z").as_deref(), Some("2024-09-03T00:00:00+00:00"), "*/2 is not a star");
        // Descriptors.
        assert_eq!(n("@yearly", "2024-03-01T00:00:00Z").as_deref(), Some("2025-01-01T00:00:00+00:00"));
        assert_eq!(n("@annually", "2024-03-01T00:00:00Z").as_deref(), Some("2025-01-01T00:00:00+00:00"));
        assert_eq!(n("@monthly", "2024-01-31T12:00:00Z").as_deref(), Some("2024-02-01T00:00:00+00:00"));
        assert_eq!(n("@weekly", "2024-02-01T12:00:00Z").as_deref(), Some("2024-02-04T00:00:00+00:00"), "Sunday");
        assert_eq!(n("@daily", "2024-02-28T12:00:00Z").as_deref(), Some("2024-02-29T00:00:00+00:00"));
        assert_eq!(n("@midnight", "2024-12-31T12:00:00Z").as_deref(), Some("2025-01-01T00:00:00+00:00"));
        assert_eq!(n("@hourly", "2024-12-31T23:00:00Z").as_deref(), Some("2025-01-01T00:00:00+00:00"));
        assert_eq!(n("@every 90m", "2024-12-31T23:00:00.5Z").as_deref(), Some("2025-01-01T00:30:00+00:00"));
        assert_eq!(parse("@every 100ms"), Ok(Schedule::Every { secs: 1 }));
    }

    #[test]
    fn next_activation_in_time_zones_and_across_dst() {
        // 09:00 in Seoul is 00:00 UTC.
        assert_eq!(next_in("0 9 * * *", "Asia/Seoul", "2024-01-01T00:00:00Z").as_deref(), Some("2024-01-02T09:00:00+09:00"));
        // Spring forward in New York: 02:30 does not exist on 2024-03-10, the run is skipped.
        assert_eq!(next_in("30 2 * * *", "America/New_York", "2024-03-10T05:00:00Z").as_deref(), Some("2024-03-11T02:30:00-04:00"));
        // Fall back: 01:30 happens twice on 2024-11-03, and runs twice.
        let tz = "America/New_York";
        assert_eq!(next_in("30 1 * * *", tz, "2024-11-03T04:00:00Z").as_deref(), Some("2024-11-03T01:30:00-04:00"));
        assert_eq!(next_in("30 1 * * *", tz, "2024-11-03T05:30:00Z").as_deref(), Some("2024-11-03T01:30:00-05:00"));
        assert_eq!(next_in("30 1 * * *", tz, "2024-11-03T06:30:00Z").as_deref(), Some("2024-11-04T01:30:00-05:00"));
        // A daily run keeps its wall-clock time across the change: 23 then 25 hours apart.
        assert_eq!(next_in("0 9 * * *", "Europe/Berlin", "2024-03-30T08:00:00Z").as_deref(), Some("2024-03-31T09:00:00+02:00"));
        // A TZ= prefix wins over the zone given.
        assert_eq!(next_in("TZ=Asia/Tokyo 0 9 * * *", "UTC", "2024-01-01T00:00:00Z").as_deref(), Some("2024-01-02T00:00:00+00:00"));
    }
}
