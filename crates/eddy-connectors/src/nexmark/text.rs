//! Random field values: words, padding, credit cards, prices, names and bid channels.

use std::sync::OnceLock;

use super::rng::{seed_key, EventRng};

/// US states persons live in (kept small so that queries filtering on state find results).
pub(crate) const US_STATES: [&str; 6] = ["AZ", "CA", "ID", "OR", "WA", "WY"];

/// Cities persons live in.
pub(crate) const US_CITIES: [&str; 10] = [
    "Phoenix",
    "Los Angeles",
    "San Francisco",
    "Boise",
    "Portland",
    "Bend",
    "Redmond",
    "Seattle",
    "Kent",
    "Cheyenne",
];

/// First names of persons.
pub(crate) const FIRST_NAMES: [&str; 11] = [
    "Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter",
];

/// Last names of persons.
pub(crate) const LAST_NAMES: [&str; 9] = [
    "Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris",
];

/// Shortest random word.
const MIN_WORD_LEN: usize = 3;
/// Capacity of the stack buffer random words are built in (words are shorter than this).
const WORD_BUF_LEN: usize = 100;

/// A random word built on the stack, so that callers can size their `String` exactly.
pub(crate) struct Word {
    buf: [u8; WORD_BUF_LEN],
    start: usize,
    end: usize,
}

impl Word {
    /// A word of `3..max_len` characters: lowercase letters, each replaced by `special` with
    /// probability 1/13. If `special` is a space, leading/trailing spaces are trimmed (so the
    /// word may end up shorter, even empty), as in Nexmark.
    pub(crate) fn random(rng: &mut EventRng, max_len: usize, special: u8) -> Self {
        let max_len = max_len.clamp(MIN_WORD_LEN + 1, WORD_BUF_LEN + 1);
        let len = MIN_WORD_LEN + rng.index(max_len - MIN_WORD_LEN);
        let mut buf = [0u8; WORD_BUF_LEN];
        for b in &mut buf[..len] {
            *b = if rng.below(13) == 0 {
                special
            } else {
                b'a' + rng.below(26) as u8
            };
        }
        let (mut start, mut end) = (0, len);
        if special == b' ' {
            while start < end && buf[start] == b' ' {
                start += 1;
            }
            while end > start && buf[end - 1] == b' ' {
                end -= 1;
            }
        }
        Self { buf, start, end }
    }

    /// Length in bytes.
    pub(crate) fn len(&self) -> usize {
        self.end - self.start
    }

    /// Appends the word to `out`.
    pub(crate) fn push_to(&self, out: &mut String) {
        push_ascii(out, &self.buf[self.start..self.end]);
    }

    /// The word as an exactly sized `String`.
    pub(crate) fn into_string(self) -> String {
        let mut s = String::with_capacity(self.len());
        self.push_to(&mut s);
        s
    }
}

/// Appends ASCII bytes to `out`.
#[inline]
fn push_ascii(out: &mut String, bytes: &[u8]) {
    for &b in bytes {
        out.push(char::from(b));
    }
}

/// Appends the decimal form of `value`, zero-padded to at least `min_width` digits.
fn push_decimal(out: &mut String, mut value: u64, min_width: usize) {
    let mut digits = [b'0'; 20];
    let mut i = digits.len();
    while value > 0 || digits.len() - i < min_width.clamp(1, 20) {
        i -= 1;
        digits[i] = b'0' + (value % 10) as u8;
        value /= 10;
    }
    push_ascii(out, &digits[i..]);
}

/// Fills `out` with random lowercase letters, four per 64 random bits (each letter maps a
/// 16-bit chunk onto `a..=z` by multiply-shift; the letters are independent of each other,
/// which keeps this loop free of long dependency chains and lets it vectorise).
fn fill_letters(rng: &mut EventRng, out: &mut [u8]) {
    for chunk in out.chunks_mut(4) {
        let bits = rng.next_u64();
        for (i, b) in chunk.iter_mut().enumerate() {
            let sixteen = (bits >> (16 * i)) & 0xFFFF;
            *b = b'a' + ((sixteen * 26) >> 16) as u8;
        }
    }
}

/// Padding such that `current_size + padding.len()` averages `avg_size`: the length is
/// uniform in `target ± 20%` where `target = avg_size - current_size`. Empty (no allocation)
/// if the record is already larger than the average.
pub(crate) fn extra(rng: &mut EventRng, current_size: usize, avg_size: usize) -> String {
    let Some(target) = avg_size.checked_sub(current_size) else {
        return String::new();
    };
    let delta = (2 * target + 5) / 10; // round(target * 0.2)
    let len = target - delta + if delta == 0 { 0 } else { rng.index(2 * delta) };
    // `vec![0; len]` would go through `calloc`, which measured ~5% slower overall for these
    // small buffers than `malloc` plus an inlined fill.
    #[allow(clippy::slow_vector_initialization)]
    let mut bytes = Vec::with_capacity(len);
    bytes.resize(len, 0);
    fill_letters(rng, &mut bytes);
    // Only ASCII letters were written, so this never falls back.
    String::from_utf8(bytes).unwrap_or_default()
}

/// A person name, "First Last".
pub(crate) fn person_name(rng: &mut EventRng) -> String {
    let first = FIRST_NAMES[rng.index(FIRST_NAMES.len())];
    let last = LAST_NAMES[rng.index(LAST_NAMES.len())];
    let mut s = String::with_capacity(first.len() + 1 + last.len());
    s.push_str(first);
    s.push(' ');
    s.push_str(last);
    s
}

/// An e-mail address, "word@word.com".
pub(crate) fn email(rng: &mut EventRng) -> String {
    let user = Word::random(rng, 7, b' ');
    let domain = Word::random(rng, 5, b' ');
    let mut s = String::with_capacity(user.len() + 1 + domain.len() + 4);
    user.push_to(&mut s);
    s.push('@');
    domain.push_to(&mut s);
    s.push_str(".com");
    s
}

/// A credit card number: four space-separated groups of four digits.
pub(crate) fn credit_card(rng: &mut EventRng) -> String {
    let mut s = String::with_capacity(19);
    for i in 0..4 {
        if i > 0 {
            s.push(' ');
        }
        push_decimal(&mut s, rng.below(10_000), 4);
    }
    s
}

/// A price, log-uniform between 100 and 100 000 000 (Nexmark's `round(10^(6u) * 100)`,
/// computed as `e^(6u ln 10)`, which is cheaper than `powf`).
#[inline]
pub(crate) fn price(rng: &mut EventRng) -> i64 {
    let dollars = (rng.unit_f64() * (6.0 * std::f64::consts::LN_10)).exp() * 100.0;
    // Positive, so adding 0.5 and truncating rounds half up (like Java's `Math.round`).
    (dollars + 0.5) as i64
}

/// Number of ordinary channels ("channel-0" .. "channel-9999").
const NUM_CHANNELS: usize = 10_000;
/// The hot channels; a bid uses one of them with probability 1/2.
const HOT_CHANNELS: [&str; 4] = ["Google", "Facebook", "Baidu", "Apple"];
/// Fixed seed of the channel URLs: a channel's URL depends only on the channel number, not
/// on the generator seed or the event.
const CHANNEL_SEED: u64 = 0x6368_616E_6E65_6C73; // "channels"

/// All channel names and URLs: [`NUM_CHANNELS`] ordinary channels followed by the hot
/// ones, packed into one string so that a lookup touches few cache lines.
struct ChannelTable {
    /// All names and URLs, back to back.
    text: String,
    /// Per channel: start of its name in `text`, name length, url length (url follows name).
    spans: Box<[(u32, u16, u16)]>,
}

impl ChannelTable {
    /// Builds the table (under 1 MB; takes around a millisecond).
    fn build() -> Self {
        let key = seed_key(CHANNEL_SEED);
        let mut text = String::with_capacity((NUM_CHANNELS + HOT_CHANNELS.len()) * 90);
        let mut spans = Vec::with_capacity(NUM_CHANNELS + HOT_CHANNELS.len());
        for c in 0..NUM_CHANNELS + HOT_CHANNELS.len() {
            let start = text.len();
            let mut rng = EventRng::new(key, c as u64);
            match HOT_CHANNELS.get(c.wrapping_sub(NUM_CHANNELS)) {
                Some(hot) => text.push_str(hot),
                None => {
                    text.push_str("channel-");
                    push_decimal(&mut text, c as u64, 1);
                }
            }
            let name_end = text.len();
            text.push_str("https://www.nexmark.com/");
            for _ in 0..3 {
                Word::random(&mut rng, 5, b'_').push_to(&mut text);
                text.push('/');
            }
            text.push_str("item.htm?query=1");
            if c < NUM_CHANNELS && rng.below(10) > 0 {
                text.push_str("&channel_id=");
                push_decimal(&mut text, u64::from((c as u32).reverse_bits()), 1);
            }
            spans.push((
                start as u32,
                (name_end - start) as u16,
                (text.len() - name_end) as u16,
            ));
        }
        Self {
            text,
            spans: spans.into_boxed_slice(),
        }
    }

    /// Name and URL of channel `c` (`c < NUM_CHANNELS + HOT_CHANNELS.len()`).
    #[inline]
    fn get(&self, c: usize) -> (&str, &str) {
        let (start, name_len, url_len) = self.spans[c];
        let start = start as usize;
        let name_end = start + usize::from(name_len);
        let url_end = name_end + usize::from(url_len);
        (&self.text[start..name_end], &self.text[name_end..url_end])
    }
}

/// A random bid channel name and the URL of its page: a hot channel with probability 1/2,
/// otherwise one of [`NUM_CHANNELS`] ordinary ones. Names and URLs come from a table built
/// once per process; generating them per bid is measurably slower.
#[inline]
pub(crate) fn channel(rng: &mut EventRng) -> (&'static str, &'static str) {
    static TABLE: OnceLock<ChannelTable> = OnceLock::new();
    let table = TABLE.get_or_init(ChannelTable::build);
    let c = if rng.below(2) > 0 {
        NUM_CHANNELS + rng.index(HOT_CHANNELS.len())
    } else {
        rng.index(NUM_CHANNELS)
    };
    table.get(c)
}
