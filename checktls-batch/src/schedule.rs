//! When a stored batch is due: `ct:Schedule` (cron, or words) in `ct:TimeZone`, with time as a
//! parameter.
//!
//! ```text
//!   "weekly on monday 06:00" ──► cron "0 6 * * MON" ─┐
//!   "0 */6 * * *"            ──────────────────────────┼─► croner, in the named zone (chrono-tz)
//!                                                      │
//!   due(last slot, now):  the latest slot at or before now, if it is after the last slot run
//!                         (so after downtime a missed batch runs once, not once per slot)
//! ```
//!
//! ```
//! use checktls_batch::model::ScheduleSpec;
//! use checktls_batch::schedule::Schedule;
//! use time::macros::datetime;
//!
//! let s = Schedule::new(&ScheduleSpec::new("weekly on monday 06:00", "Europe/Berlin")).unwrap();
//! // Monday 2026-11-23 06:00 in Berlin is 05:00 UTC.
//! let now = datetime!(2026-11-23 05:30 UTC);
//! assert_eq!(s.due(None, now), Some(datetime!(2026-11-23 05:00 UTC)));
//! assert_eq!(s.due(Some(datetime!(2026-11-23 05:00 UTC)), now), None);
//! ```

use std::str::FromStr;

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use croner::Cron;
use time::OffsetDateTime;

use crate::model::ScheduleSpec;

/// Why a schedule cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScheduleError {
    /// The expression is neither cron nor one of the words (the parser's message).
    Expression(String),
    /// The time zone is not an IANA name.
    TimeZone,
}

/// A parsed schedule.
#[derive(Clone, Debug)]
pub struct Schedule {
    cron: Cron,
    tz: Tz,
}

const DAYS: [(&str, &str); 7] = [
    ("monday", "MON"),
    ("tuesday", "TUE"),
    ("wednesday", "WED"),
    ("thursday", "THU"),
    ("friday", "FRI"),
    ("saturday", "SAT"),
    ("sunday", "SUN"),
];

/// `HH:MM` to (hour, minute).
fn clock(s: &str) -> Option<(u32, u32)> {
    let (h, m) = s.split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some((h, m))
}

/// The words (`hourly`, `daily [HH:MM]`, `weekly [on DAY] [HH:MM]`) as cron; other text as is.
fn to_cron(expression: &str) -> Result<String, String> {
    let lower = expression.trim().to_ascii_lowercase();
    let words: Vec<&str> = lower.split_whitespace().collect();
    let at = |w: Option<&&str>| -> Result<(u32, u32), String> {
        match w {
            None => Ok((0, 0)),
            Some(t) => clock(t).ok_or_else(|| format!("{t:?} is not a time HH:MM")),
        }
    };
    match words.as_slice() {
        ["hourly"] => Ok("0 * * * *".into()),
        ["daily", rest @ ..] if rest.len() <= 1 => {
            let (h, m) = at(rest.first())?;
            Ok(format!("{m} {h} * * *"))
        }
        ["weekly", rest @ ..] => {
            let (day, time) = match rest {
                [] => ("MON", None),
                ["on", d, t @ ..] if t.len() <= 1 => {
                    let day = DAYS
                        .iter()
                        .find(|(n, short)| n == d || short.eq_ignore_ascii_case(d))
                        .map(|(_, s)| *s)
                        .ok_or_else(|| format!("{d:?} is not a day of the week"))?;
                    (day, t.first())
                }
                [t] => ("MON", Some(t)),
                _ => return Err("expected weekly [on DAY] [HH:MM]".into()),
            };
            let (h, m) = at(time)?;
            Ok(format!("{m} {h} * * {day}"))
        }
        _ => Ok(expression.trim().to_owned()),
    }
}

fn to_time(t: DateTime<Utc>) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp(t.timestamp()).ok()
}

impl Schedule {
    /// Reads a schedule.
    pub fn new(spec: &ScheduleSpec) -> Result<Self, ScheduleError> {
        let tz = Tz::from_str(spec.time_zone.trim()).map_err(|_| ScheduleError::TimeZone)?;
        let cron = to_cron(&spec.expression).map_err(ScheduleError::Expression)?;
        let cron = Cron::from_str(&cron).map_err(|e| ScheduleError::Expression(e.to_string()))?;
        Ok(Self { cron, tz })
    }

    fn zoned(&self, t: OffsetDateTime) -> Option<DateTime<Tz>> {
        self.tz.timestamp_opt(t.unix_timestamp(), 0).single()
    }

    /// The first slot strictly after `t`.
    pub fn next_after(&self, t: OffsetDateTime) -> Option<OffsetDateTime> {
        let next = self
            .cron
            .find_next_occurrence(&self.zoned(t)?, false)
            .ok()?;
        to_time(next.with_timezone(&Utc))
    }

    /// The latest slot at or before `now`.
    pub fn latest(&self, now: OffsetDateTime) -> Option<OffsetDateTime> {
        let prev = self
            .cron
            .find_previous_occurrence(&self.zoned(now)?, true)
            .ok()?;
        to_time(prev.with_timezone(&Utc))
    }

    /// The slot to run now, if any: the latest slot at or before `now`, when it is later than
    /// the last slot run (`None`: never run). However many slots were missed, one run.
    pub fn due(
        &self,
        last_run: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Option<OffsetDateTime> {
        let latest = self.latest(now)?;
        match last_run {
            Some(last) if last >= latest => None,
            _ => Some(latest),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn s(expression: &str, tz: &str) -> Schedule {
        Schedule::new(&ScheduleSpec {
            expression: expression.into(),
            time_zone: tz.into(),
        })
        .expect("schedule")
    }

    #[test]
    fn words_become_cron() {
        assert_eq!(to_cron("daily").as_deref(), Ok("0 0 * * *"));
        assert_eq!(to_cron("daily 06:30").as_deref(), Ok("30 6 * * *"));
        assert_eq!(to_cron("weekly").as_deref(), Ok("0 0 * * MON"));
        assert_eq!(
            to_cron("Weekly on Friday 17:05").as_deref(),
            Ok("5 17 * * FRI")
        );
        assert_eq!(to_cron("hourly").as_deref(), Ok("0 * * * *"));
        assert!(to_cron("daily 25:00").is_err());
        assert!(to_cron("weekly on someday").is_err());
        assert!(
            Schedule::new(&ScheduleSpec {
                expression: "every tuesday".into(),
                time_zone: "UTC".into()
            })
            .is_err()
        );
        assert_eq!(
            Schedule::new(&ScheduleSpec {
                expression: "daily".into(),
                time_zone: "Mars/Olympus".into()
            })
            .err(),
            Some(ScheduleError::TimeZone)
        );
    }

    #[test]
    fn daily_across_the_spring_dst_change_keeps_local_time() {
        // Berlin moves from UTC+1 to UTC+2 on 2026-03-29 at 02:00.
        let d = s("daily 06:00", "Europe/Berlin");
        let before = d.next_after(datetime!(2026-03-28 00:00 UTC)).unwrap();
        assert_eq!(before, datetime!(2026-03-28 05:00 UTC));
        let after = d.next_after(before).unwrap();
        assert_eq!(after, datetime!(2026-03-29 04:00 UTC));
        // 23 hours apart, not 24: the wall clock stays at 06:00.
        assert_eq!((after - before).whole_hours(), 23);
    }

    #[test]
    fn a_slot_in_the_missing_spring_hour_runs_once_and_the_autumn_hour_does_not_run_twice() {
        // 02:30 does not exist in Berlin on 2026-03-29; exists twice on 2026-10-25.
        let d = s("30 2 * * *", "Europe/Berlin");
        let mut slots = Vec::new();
        let mut t = datetime!(2026-03-28 00:00 UTC);
        loop {
            t = d.next_after(t).unwrap();
            if t >= datetime!(2026-03-31 00:00 UTC) {
                break;
            }
            slots.push(t);
        }
        // One slot per day, the spring day included: moved to 03:00 CEST, not dropped or
        // doubled.
        assert_eq!(
            slots,
            [
                datetime!(2026-03-28 01:30 UTC),
                datetime!(2026-03-29 01:00 UTC),
                datetime!(2026-03-30 00:30 UTC),
            ]
        );

        let mut slots = Vec::new();
        let mut t = datetime!(2026-10-24 00:00 UTC);
        while t < datetime!(2026-10-27 00:00 UTC) {
            t = d.next_after(t).unwrap();
            if t < datetime!(2026-10-27 00:00 UTC) {
                slots.push(t);
            }
        }
        let on_25th = slots
            .iter()
            .filter(|t| t.date() == time::macros::date!(2026 - 10 - 25))
            .count();
        assert!(on_25th <= 2, "{slots:?}");
        // However many times the wall clock shows 02:30, due() runs the latest slot once.
        let now = datetime!(2026-10-25 03:00 UTC);
        let first = d.due(None, now).unwrap();
        assert_eq!(d.due(Some(first), now), None);
    }

    #[test]
    fn missed_slots_after_downtime_run_once() {
        let h = s("hourly", "UTC");
        let last = datetime!(2026-11-22 08:00 UTC);
        // Down from 08:10 to 13:20: five slots missed, one run, for the latest slot.
        let now = datetime!(2026-11-22 13:20 UTC);
        assert_eq!(
            h.due(Some(last), now),
            Some(datetime!(2026-11-22 13:00 UTC))
        );
        assert_eq!(h.due(Some(datetime!(2026-11-22 13:00 UTC)), now), None);
        assert_eq!(
            h.next_after(datetime!(2026-11-22 13:00 UTC)),
            Some(datetime!(2026-11-22 14:00 UTC))
        );
    }
}
