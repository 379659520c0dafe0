//! Fingerprints of what an image is made of, the same from one Rust release to the next.
//!
//! The algorithm is FNV-1a, 64 bits (offset basis 0xcbf29ce484222325, prime 0x100000001b3:
//! <http://www.isthe.com/chongo/tech/comp/fnv/>), fixed by its definition rather than by the
//! toolchain as `std`'s `DefaultHasher` is. It tells changes apart; it does not resist
//! someone crafting a collision, which nothing here needs. What it hashes is a sequence of
//! records, each framed as one kind byte, the length of its data (8 bytes, little-endian),
//! then the data: no two different sequences of records make the same bytes, so inputs
//! cannot collide by running into one another ("ab" + "c" against "a" + "bc").

const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
const PRIME: u64 = 0x0000_0100_0000_01b3;

pub struct Fingerprint(u64);

impl Fingerprint {
    pub fn new() -> Fingerprint {
        Fingerprint(OFFSET_BASIS)
    }

    fn bytes(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(PRIME);
        }
    }

    /// Adds one record: `kind` says what `data` is.
    pub fn record(&mut self, kind: u8, data: &[u8]) {
        self.bytes(&[kind]);
        self.bytes(&(data.len() as u64).to_le_bytes());
        self.bytes(data);
    }

    /// The fingerprint as 16 hex digits.
    pub fn hex(&self) -> String {
        format!("{:016x}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fnv1a(bytes: &[u8]) -> String {
        let mut fingerprint = Fingerprint::new();
        fingerprint.bytes(bytes);
        fingerprint.hex()
    }

    fn records(records: &[(u8, &str)]) -> String {
        let mut fingerprint = Fingerprint::new();
        for (kind, data) in records {
            fingerprint.record(*kind, data.as_bytes());
        }
        fingerprint.hex()
    }

    /// The published FNV-1a 64 test vectors. A change here changes every image's fingerprint,
    /// and so rebuilds every dev image once: make it a decision, not an accident.
    #[test]
    fn the_algorithm_is_fnv_1a_64() {
        assert_eq!(fnv1a(b""), "cbf29ce484222325");
        assert_eq!(fnv1a(b"a"), "af63dc4c8601ec8c");
        assert_eq!(fnv1a(b"foobar"), "85944171f73967e8");
    }

    /// The framing, pinned: kind, length as 8 bytes little-endian, data.
    #[test]
    fn a_record_is_its_kind_its_length_and_its_data() {
        let framed = [b'f', 1, 0, 0, 0, 0, 0, 0, 0, b'a'];
        assert_eq!(records(&[(b'f', "a")]), fnv1a(&framed));
        assert_eq!(records(&[(b'f', "a")]), "b9c271d7efbfc95b");
    }

    #[test]
    fn records_never_run_into_one_another() {
        assert_ne!(
            records(&[(b'f', "ab"), (b'f', "c")]),
            records(&[(b'f', "a"), (b'f', "bc")])
        );
        assert_ne!(records(&[(b'f', "a"), (b'f', "")]), records(&[(b'f', "a")]));
        assert_ne!(records(&[(b'd', "scripts")]), records(&[(b'f', "scripts")]));
    }
}
