//! LEB128 varints (7 bits a byte, low bits first) and zigzag, for the rollup
//! encodings. Reading is of bytes from disk: overlong, overflowing and truncated
//! varints are errors, never panics.

use super::bucket::DecodeError;

pub fn write_u64(out: &mut Vec<u8>, v: u64) {
    write_u128(out, u128::from(v));
}

pub fn write_u128(out: &mut Vec<u8>, mut v: u128) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

pub fn write_i64(out: &mut Vec<u8>, v: i64) {
    write_u64(out, zigzag(v));
}

pub fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

pub fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// Reads a varint of at most `bits` bits (64 or 128).
fn read(buf: &mut &[u8], bits: u32, what: &str) -> Result<u128, DecodeError> {
    let mut v: u128 = 0;
    let mut shift = 0u32;
    loop {
        let Some((&byte, rest)) = buf.split_first() else {
            return Err(DecodeError(format!("{what} is cut short")));
        };
        *buf = rest;
        let low = u128::from(byte & 0x7f);
        if shift >= bits || (bits - shift < 7 && low >> (bits - shift) != 0) {
            return Err(DecodeError(format!("{what} does not fit in {bits} bits")));
        }
        v |= low << shift;
        if byte & 0x80 == 0 {
            if byte == 0 && shift > 0 {
                return Err(DecodeError(format!(
                    "{what} is written in more bytes than it needs"
                )));
            }
            return Ok(v);
        }
        shift += 7;
    }
}

pub fn read_u64(buf: &mut &[u8], what: &str) -> Result<u64, DecodeError> {
    // `read` checked the value against 64 bits.
    read(buf, 64, what).map(|v| v as u64)
}

pub fn read_u128(buf: &mut &[u8], what: &str) -> Result<u128, DecodeError> {
    read(buf, 128, what)
}

pub fn read_i64(buf: &mut &[u8], what: &str) -> Result<i64, DecodeError> {
    read_u64(buf, what).map(unzigzag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_at_the_edges() {
        for v in [
            0,
            1,
            127,
            128,
            300,
            u64::from(u32::MAX),
            u64::MAX - 1,
            u64::MAX,
        ] {
            let mut out = Vec::new();
            write_u64(&mut out, v);
            let mut buf = out.as_slice();
            assert_eq!(read_u64(&mut buf, "v"), Ok(v));
            assert!(buf.is_empty());
        }
        for v in [0, -1, 1, i64::MIN, i64::MAX] {
            let mut out = Vec::new();
            write_i64(&mut out, v);
            assert_eq!(read_i64(&mut out.as_slice(), "v"), Ok(v));
        }
        let mut out = Vec::new();
        write_u128(&mut out, u128::MAX);
        assert_eq!(read_u128(&mut out.as_slice(), "v"), Ok(u128::MAX));
    }

    #[test]
    fn varints_that_overflow_are_overlong_or_cut_short_are_refused() {
        // 2^64 does not fit a u64.
        let mut out = Vec::new();
        write_u128(&mut out, 1u128 << 64);
        assert!(read_u64(&mut out.as_slice(), "v").is_err());
        // Eleven continuation bytes.
        assert!(read_u64(&mut [0xff; 11].as_slice(), "v").is_err());
        // 1 written in two bytes.
        assert!(read_u64(&mut [0x81, 0x00].as_slice(), "v").is_err());
        assert!(read_u64(&mut [0x80].as_slice(), "v").is_err());
        assert!(read_u64(&mut [].as_slice(), "v").is_err());
    }
}
