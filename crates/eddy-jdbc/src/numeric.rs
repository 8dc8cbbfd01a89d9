//! PostgreSQL's binary `NUMERIC` format, to and from a decimal's unscaled
//! `i128` and scale: a count of base-10000 digits, the weight of the first
//! one, a sign and the display scale, then the digits.

const NBASE: i128 = 10_000;
const POSITIVE: u16 = 0x0000;
const NEGATIVE: u16 = 0x4000;
const NAN: u16 = 0xC000;

/// Appends `unscaled × 10^-scale` to `out` in the binary format.
pub(crate) fn encode(unscaled: i128, scale: u32, out: &mut Vec<u8>) {
    let negative = unscaled < 0;
    let magnitude = unscaled.unsigned_abs();
    let divisor = 10u128.pow(scale);
    let (mut integer, fraction) = (magnitude / divisor, magnitude % divisor);
    // Integer groups, least significant first.
    let mut groups: Vec<i16> = Vec::new();
    while integer > 0 {
        groups.push((integer % NBASE as u128) as i16);
        integer /= NBASE as u128;
    }
    groups.reverse();
    let mut weight = groups.len() as i16 - 1;
    // Fraction groups: the fraction's digits padded on the right to a multiple of four.
    let padded_scale = scale.div_ceil(4) * 4;
    let mut fraction = fraction * 10u128.pow(padded_scale - scale);
    let mut fraction_groups = vec![0i16; (padded_scale / 4) as usize];
    for group in fraction_groups.iter_mut().rev() {
        *group = (fraction % NBASE as u128) as i16;
        fraction /= NBASE as u128;
    }
    groups.extend(fraction_groups);
    // Leading zero groups move the weight; trailing ones are implied.
    let leading = groups.iter().take_while(|g| **g == 0).count();
    groups.drain(..leading);
    weight -= leading as i16;
    while groups.last() == Some(&0) {
        groups.pop();
    }
    if groups.is_empty() {
        weight = 0;
    }
    out.extend_from_slice(&(groups.len() as i16).to_be_bytes());
    out.extend_from_slice(&weight.to_be_bytes());
    let sign = if negative && !groups.is_empty() {
        NEGATIVE
    } else {
        POSITIVE
    };
    out.extend_from_slice(&sign.to_be_bytes());
    out.extend_from_slice(&(scale as u16).to_be_bytes());
    for group in groups {
        out.extend_from_slice(&group.to_be_bytes());
    }
}

/// The value of `raw` as an unscaled `i128` at `scale` (rounded half up),
/// or why it cannot be one.
pub(crate) fn decode(raw: &[u8], scale: u32) -> Result<i128, String> {
    let word = |i: usize| -> Result<u16, String> {
        raw.get(i * 2..i * 2 + 2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]))
            .ok_or_else(|| "truncated NUMERIC value".to_string())
    };
    let ndigits = word(0)? as usize;
    let weight = word(1)? as i16 as i32;
    let sign = word(2)?;
    if sign == NAN {
        return Err("NaN does not fit a DECIMAL".into());
    }
    if sign != POSITIVE && sign != NEGATIVE {
        return Err(format!("infinite or unknown NUMERIC (sign {sign:#x})"));
    }
    let overflow = || format!("the value does not fit a DECIMAL with scale {scale}");
    // value = Σ digit_i × 10000^(weight - i); work at the scale of its last digit.
    let mut unscaled: i128 = 0;
    for i in 0..ndigits {
        let digit = word(4 + i)? as i128;
        unscaled = unscaled
            .checked_mul(NBASE)
            .and_then(|v| v.checked_add(digit))
            .ok_or_else(overflow)?;
    }
    // The exponent (base 10) of the last digit.
    let exponent = 4 * (weight - ndigits as i32 + 1);
    let shift = exponent + scale as i32;
    let unscaled = if shift >= 0 {
        10i128
            .checked_pow(shift as u32)
            .and_then(|p| unscaled.checked_mul(p))
            .ok_or_else(overflow)?
    } else {
        let divisor = 10i128.checked_pow((-shift) as u32);
        match divisor {
            None => 0,
            Some(d) => {
                let (q, r) = (unscaled / d, unscaled % d);
                if r * 2 >= d {
                    q + 1
                } else {
                    q
                }
            }
        }
    };
    Ok(if sign == NEGATIVE {
        -unscaled
    } else {
        unscaled
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(unscaled: i128, scale: u32) -> i128 {
        let mut out = Vec::new();
        encode(unscaled, scale, &mut out);
        decode(&out, scale).expect("decodes")
    }

    #[test]
    fn values_survive_the_binary_format() {
        for (v, s) in [
            (0, 0),
            (0, 2),
            (1, 0),
            (-1, 0),
            (12345, 2),
            (-12345, 2),
            (100_000_000, 0),
            (5, 4),
            (123_456_789_012_345_678_901_234_567_890, 10),
            (-99_999, 5),
            (10_000, 0),
        ] {
            assert_eq!(round_trip(v, s), v, "{v} at scale {s}");
        }
    }

    #[test]
    fn the_layout_is_postgres_own() {
        // 12345.67 = digits [1, 2345, 6700], weight 1, dscale 2.
        let mut out = Vec::new();
        encode(1_234_567, 2, &mut out);
        let words: Vec<u16> = out
            .chunks(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
            .collect();
        assert_eq!(words, vec![3, 1, 0, 2, 1, 2345, 6700]);
    }

    #[test]
    fn decoding_rescales_and_rounds_half_up() {
        let mut out = Vec::new();
        encode(12_345, 3, &mut out); // 12.345
        assert_eq!(decode(&out, 2), Ok(1235));
        assert_eq!(decode(&out, 5), Ok(1_234_500));
        let mut nan = Vec::new();
        nan.extend_from_slice(&[0, 0, 0, 0, 0xC0, 0, 0, 0]);
        assert!(decode(&nan, 2).is_err());
        assert!(decode(&[0, 1], 0).is_err());
    }
}
