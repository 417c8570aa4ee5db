//! The command-line value parsers every chapter uses, for clap's `value_parser`: a count, a
//! number of seconds, a byte size and a probability, each within bounds the caller names.
//!
//! Each bound is a named limit in the chapter that uses it; the error says what was accepted,
//! so `--max-conns 0` answers "`0` is not a count from 1 to 100000" rather than a parse error.

use std::time::Duration;

/// A parser of whole counts from 1 to `max`.
pub fn count(max: usize) -> impl Fn(&str) -> Result<usize, String> + Clone + Send + Sync + 'static {
    move |text| match text.parse::<usize>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(format!("`{text}` is not a count from 1 to {max}")),
    }
}

/// A parser of seconds, fractions allowed (`0.5`), from `min` to `max`; never 0, which as a
/// socket timeout would mean "wait for ever".
pub fn seconds(
    min: f64,
    max: f64,
) -> impl Fn(&str) -> Result<Duration, String> + Clone + Send + Sync + 'static {
    let range =
        if min > 0.0 { format!("from {min} to {max}") } else { format!("above 0, up to {max}") };
    move |text| match text.parse::<f64>() {
        Ok(secs) if (min..=max).contains(&secs) && secs > 0.0 => Ok(Duration::from_secs_f64(secs)),
        _ => Err(format!("`{text}` is not a number of seconds {range} (0.5 works)")),
    }
}

/// A parser of byte sizes (`4096`, `64K`, `10M`, read by [`crate::text::parse_size`]) from
/// `min` to `max` bytes; `why` follows the range in the error, e.g. " (the largest UDP
/// datagram)", or is empty.
pub fn size(
    min: usize,
    max: usize,
    why: &'static str,
) -> impl Fn(&str) -> Result<usize, String> + Clone + Send + Sync + 'static {
    move |text| {
        let size = crate::text::parse_size(text)?;
        match usize::try_from(size) {
            Ok(size) if (min..=max).contains(&size) => Ok(size),
            _ => Err(format!(
                "must be between {} and {}{why}",
                crate::text::exact_bytes(min as u64),
                crate::text::exact_bytes(max as u64)
            )),
        }
    }
}

/// Parses a probability from 0.0 to 1.0 (chapter 04's simulated loss and duplication).
///
/// # Errors
/// Anything else, with the range in the message.
pub fn probability(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err(format!("`{text}` is not a probability: use a number from 0.0 to 1.0")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_inclusive_and_named_in_the_error() {
        let c = count(10);
        assert_eq!(c("10"), Ok(10));
        assert_eq!(c("0"), Err("`0` is not a count from 1 to 10".into()));
        assert!(c("11").is_err() && c("x").is_err());
        let s = seconds(0.01, 60.0);
        assert_eq!(s("0.5"), Ok(Duration::from_millis(500)));
        assert!(s("0").is_err() && s("61").is_err() && s("NaN").is_err());
        assert_eq!(
            seconds(0.0, 60.0)("0"),
            Err("`0` is not a number of seconds above 0, up to 60 (0.5 works)".into())
        );
        let b = size(1, 65_535, " (the largest UDP datagram)");
        assert_eq!(
            b("64K"),
            Err("must be between 1 byte and 65535 bytes (the largest UDP datagram)".into())
        );
        assert_eq!(b("1"), Ok(1));
        assert_eq!(size(64, 1 << 20, "")("32"), Err("must be between 64 bytes and 1 MiB".into()));
        assert_eq!(
            probability("1.5"),
            Err("`1.5` is not a probability: use a number from 0.0 to 1.0".into())
        );
    }
}
