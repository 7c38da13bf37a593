//! Parsing `Retry-After` (RFC 9110 §10.2.3): delay-seconds or an HTTP date.

use std::time::{Duration, SystemTime};

use http::HeaderMap;
use http::header::RETRY_AFTER;

/// How long a `Retry-After` value asks the client to wait, measured from
/// `now` for the HTTP-date form.
///
/// * `"120"` is 120 s. Digits too many for a `u64` saturate to
///   [`Duration::MAX`] (the caller caps it).
/// * An HTTP date (`"Wed, 21 Oct 2015 07:28:00 GMT"`, or the obsolete RFC 850
///   and asctime forms) is the time from `now` to that date; a date in the
///   past is [`Duration::ZERO`].
/// * Anything else (empty, negative, fractional, text, non-ASCII) is `None`:
///   the header is ignored and the caller falls back to its backoff.
///
/// Never panics.
///
/// ```
/// use brace_reqwest::parse_retry_after;
/// use std::time::{Duration, SystemTime, UNIX_EPOCH};
///
/// let now = UNIX_EPOCH + Duration::from_secs(1_445_412_000); // 2015-10-21 07:20:00 UTC
/// assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
/// assert_eq!(
///     parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now),
///     Some(Duration::from_secs(480)),
/// );
/// assert_eq!(parse_retry_after("-5", now), None);
/// assert_eq!(parse_retry_after("soon", now), None);
/// ```
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    if value.bytes().all(|b| b.is_ascii_digit()) {
        return Some(match value.parse::<u64>() {
            Ok(secs) => Duration::from_secs(secs),
            Err(_) => Duration::MAX, // only digits, so the number overflowed
        });
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The wait asked for by the first `Retry-After` header in `headers`, if it
/// is present and valid UTF-8 (see [`parse_retry_after`]).
///
/// ```
/// use brace_reqwest::retry_after_header;
/// use http::{HeaderMap, HeaderValue, header::RETRY_AFTER};
/// use std::time::{Duration, SystemTime};
///
/// let mut headers = HeaderMap::new();
/// headers.insert(RETRY_AFTER, HeaderValue::from_static("3"));
/// assert_eq!(retry_after_header(&headers, SystemTime::now()), Some(Duration::from_secs(3)));
/// ```
pub fn retry_after_header(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?;
    parse_retry_after(value, now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use std::time::UNIX_EPOCH;

    /// 2015-10-21 07:20:00 UTC.
    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_445_412_000)
    }

    #[test]
    fn seconds() {
        assert_eq!(parse_retry_after("0", now()), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after(" 30 ", now()),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("007", now()),
            Some(Duration::from_secs(7))
        );
    }

    #[test]
    fn huge_seconds_saturate() {
        assert_eq!(
            parse_retry_after("18446744073709551615", now()),
            Some(Duration::from_secs(u64::MAX))
        );
        assert_eq!(
            parse_retry_after("99999999999999999999999999", now()),
            Some(Duration::MAX)
        );
    }

    #[test]
    fn garbage_and_negative_are_ignored() {
        for bad in [
            "",
            "   ",
            "-1",
            "-0",
            "+5",
            "1.5",
            "5s",
            "soon",
            "0x10",
            "１２",
            "Wed, 99 Foo",
        ] {
            assert_eq!(parse_retry_after(bad, now()), None, "{bad:?}");
        }
    }

    #[test]
    fn http_dates_in_all_three_forms() {
        let eight_minutes = Some(Duration::from_secs(480));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now()),
            eight_minutes
        );
        assert_eq!(
            parse_retry_after("Wednesday, 21-Oct-15 07:28:00 GMT", now()),
            eight_minutes
        );
        assert_eq!(
            parse_retry_after("Wed Oct 21 07:28:00 2015", now()),
            eight_minutes
        );
    }

    #[test]
    fn past_date_means_now_and_far_future_is_large() {
        assert_eq!(
            parse_retry_after("Thu, 01 Jan 1970 00:00:00 GMT", now()),
            Some(Duration::ZERO)
        );
        let far = parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", now()).unwrap();
        assert!(far > Duration::from_secs(200 * 365 * 24 * 3600));
    }

    #[test]
    fn header_lookup() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after_header(&headers, now()), None);
        headers.insert(RETRY_AFTER, HeaderValue::from_bytes(b"\xff\xfe").unwrap());
        assert_eq!(retry_after_header(&headers, now()), None);
        headers.insert(RETRY_AFTER, HeaderValue::from_static("12"));
        assert_eq!(
            retry_after_header(&headers, now()),
            Some(Duration::from_secs(12))
        );
    }
}
