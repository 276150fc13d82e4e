//! Sets of completion indexes as ordered, disjoint, non-adjacent intervals, written as
//! upstream writes `status.completedIndexes` (`1,3-5,7`: two neighbours are listed with a
//! comma, three or more as a range).

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interval {
    pub first: i32,
    pub last: i32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Intervals(pub Vec<Interval>);

impl Intervals {
    /// Reads `1,3-5`, keeping only indexes below `completions`; corrupted parts are skipped.
    pub fn parse(s: &str, completions: i32) -> Intervals {
        let mut out: Vec<Interval> = Vec::new();
        if s.is_empty() {
            return Intervals(out);
        }
        for part in s.split(',') {
            let mut limits = part.split('-');
            let Some(Ok(first)) = limits.next().map(str::parse::<i32>) else { continue };
            if first >= completions {
                break;
            }
            let last = match limits.next() {
                Some(l) => match l.parse::<i32>() {
                    Ok(l) => l.min(completions - 1),
                    Err(_) => continue,
                },
                None => first,
            };
            match out.last_mut() {
                Some(prev) if prev.last == first - 1 => prev.last = last,
                _ => out.push(Interval { first, last }),
            }
        }
        Intervals(out)
    }

    /// These intervals plus `indexes` (in increasing order).
    pub fn with_indexes(&self, indexes: &[i32]) -> Intervals {
        self.merge(&Intervals(indexes.iter().map(|&i| Interval { first: i, last: i }).collect()))
    }

    pub fn merge(&self, other: &Intervals) -> Intervals {
        let mut out: Vec<Interval> = Vec::with_capacity(self.0.len() + other.0.len());
        let mut push = |iv: Interval| match out.last_mut() {
            Some(last) if iv.first <= last.last + 1 => last.last = last.last.max(iv.last),
            _ => out.push(iv),
        };
        let (mut i, mut j) = (0, 0);
        while i < self.0.len() && j < other.0.len() {
            if self.0[i].first < other.0[j].first {
                push(self.0[i]);
                i += 1;
            } else {
                push(other.0[j]);
                j += 1;
            }
        }
        self.0[i..].iter().chain(&other.0[j..]).for_each(|iv| push(*iv));
        Intervals(out)
    }

    pub fn total(&self) -> i32 {
        self.0.iter().map(|iv| iv.last - iv.first + 1).sum()
    }

    pub fn has(&self, ix: i32) -> bool {
        let pos = self.0.partition_point(|iv| iv.last < ix);
        self.0.get(pos).is_some_and(|iv| iv.first <= ix)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The `count` lowest indexes below `completions` not in these intervals.
    pub fn first_missing(&self, count: usize, completions: i32) -> Vec<i32> {
        let mut out = Vec::with_capacity(count);
        let mut candidate = 0;
        for iv in &self.0 {
            while candidate < completions && out.len() < count && candidate < iv.first {
                out.push(candidate);
                candidate += 1;
            }
            candidate = candidate.max(iv.last + 1);
        }
        while candidate < completions && out.len() < count {
            out.push(candidate);
            candidate += 1;
        }
        out
    }
}

impl fmt::Display for Intervals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, iv) in self.0.iter().enumerate() {
            if n > 0 {
                f.write_str(",")?;
            }
            write!(f, "{}", iv.first)?;
            if iv.last == iv.first + 1 {
                write!(f, ",{}", iv.last)?;
            } else if iv.last > iv.first {
                write!(f, "-{}", iv.last)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_merge_and_print() {
        let a = Intervals::parse("0,2-4,7,x,9-12", 11);
        assert_eq!(a.to_string(), "0,2-4,7,9,10", "indexes past completions are dropped, two neighbours as a list");
        assert_eq!(a.total(), 7);
        let b = a.with_indexes(&[1, 5, 8]);
        assert_eq!(b.to_string(), "0-5,7-10");
        assert!(b.has(0) && b.has(5) && !b.has(6) && b.has(10) && !b.has(11));
        assert_eq!(Intervals::parse("", 3), Intervals::default());
        assert_eq!(Intervals::parse("1,2", 5).to_string(), "1,2");
        assert_eq!(Intervals::parse("1,2,3", 5).to_string(), "1-3");
    }

    #[test]
    fn first_missing_indexes() {
        let done = Intervals::parse("0,2-4", 10);
        assert_eq!(done.first_missing(3, 10), vec![1, 5, 6]);
        assert_eq!(done.first_missing(10, 6), vec![1, 5]);
        assert_eq!(Intervals::default().first_missing(2, 10), vec![0, 1]);
        assert_eq!(done.first_missing(0, 10), Vec::<i32>::new());
    }
}
