//! The two timestamp formats SigV4 uses: `x-amz-date` (ISO 8601 basic, `20150830T123600Z`) and
//! the HTTP `Date` header (IMF-fixdate, `Sun, 30 Aug 2015 12:36:00 GMT`).

use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

use crate::Error;

/// `YYYYMMDD'T'HHMMSS'Z'` in UTC.
pub(crate) fn format_amz_date(t: OffsetDateTime) -> Result<String, Error> {
    let t = t.to_offset(UtcOffset::UTC);
    if !(0..=9999).contains(&t.year()) {
        return Err(Error::Malformed("signing time is outside years 0000-9999".to_owned()));
    }
    Ok(format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    ))
}

fn digits(s: &[u8]) -> Option<u32> {
    s.iter().try_fold(0u32, |acc, &b| b.is_ascii_digit().then(|| acc * 10 + u32::from(b - b'0')))
}

/// Parses `YYYYMMDD'T'HHMMSS'Z'`.
pub(crate) fn parse_amz_date(s: &str) -> Option<OffsetDateTime> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let year = i32::try_from(digits(&b[0..4])?).ok()?;
    let month = Month::try_from(u8::try_from(digits(&b[4..6])?).ok()?).ok()?;
    let day = u8::try_from(digits(&b[6..8])?).ok()?;
    let hour = u8::try_from(digits(&b[9..11])?).ok()?;
    let minute = u8::try_from(digits(&b[11..13])?).ok()?;
    let second = u8::try_from(digits(&b[13..15])?).ok()?;
    let date = Date::from_calendar_date(year, month, day).ok()?;
    let time = Time::from_hms(hour, minute, second).ok()?;
    Some(PrimitiveDateTime::new(date, time).assume_utc())
}

const IMF_FIXDATE_NO_ZONE: &[BorrowedFormatItem<'static>] =
    format_description!("[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second]");

/// Parses an HTTP `Date` header value: IMF-fixdate (`... GMT`, what HTTP senders must use), or
/// the RFC 2822 spelling with a zero offset (`... -0000`, what botocore sends).
pub(crate) fn parse_http_date(s: &str) -> Option<OffsetDateTime> {
    let s = s.trim();
    let rest = [" GMT", " UTC", " +0000", " -0000"].iter().find_map(|zone| s.strip_suffix(zone))?;
    PrimitiveDateTime::parse(rest, IMF_FIXDATE_NO_ZONE).ok().map(PrimitiveDateTime::assume_utc)
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn amz_date_round_trip() {
        let cases = [
            (datetime!(1970-01-01 00:00:00 UTC), "19700101T000000Z"),
            (datetime!(2013-05-24 00:00:00 UTC), "20130524T000000Z"),
            (datetime!(2000-02-29 01:01:01 UTC), "20000229T010101Z"),
            (datetime!(2025-12-31 23:59:59 UTC), "20251231T235959Z"),
        ];
        for (t, s) in cases {
            assert_eq!(format_amz_date(t).expect("in range"), s);
            assert_eq!(parse_amz_date(s), Some(t));
        }
        // Converted to UTC first.
        assert_eq!(format_amz_date(datetime!(2015-08-30 14:36:00 +02:00)).expect("in range"), "20150830T123600Z");
        assert!(format_amz_date(datetime!(2015-08-30 12:36:00 UTC).replace_year(-1).expect("year")).is_err());
    }

    #[test]
    fn amz_date_rejects_garbage() {
        for s in [
            "",
            "20150830T123600",
            "20150830 123600Z",
            "2015083OT123600Z",
            "20151330T123600Z",
            "20150230T123600Z",
            "20150830T246000Z",
            "20150830T123600Zx",
            "+0150830T123600Z",
            "２0150830T12360Z",
        ] {
            assert_eq!(parse_amz_date(s), None, "{s:?}");
        }
    }

    #[test]
    fn http_date() {
        assert_eq!(parse_http_date("Fri, 24 May 2013 00:00:00 GMT"), Some(datetime!(2013-05-24 00:00:00 UTC)));
        assert_eq!(parse_http_date("Sun, 30 Aug 2015 12:36:00 GMT"), Some(datetime!(2015-08-30 12:36:00 UTC)));
        assert_eq!(parse_http_date("Sun, 30 Aug 2015 12:36:00 -0000"), Some(datetime!(2015-08-30 12:36:00 UTC)));
        assert_eq!(parse_http_date("30 Aug 2015 12:36:00 GMT"), None);
        assert_eq!(parse_http_date("Sun, 30 Aug 2015 12:36:00 +0200"), None);
        assert_eq!(parse_http_date("Sun, 30 Aug 2015 12:36:00"), None);
    }
}
