//! `expect.response` matched as a TCP peer's bytes arrive, looking at each new
//! byte a bounded number of times: a peer that writes forever must cost time in
//! proportion to what it sent, not to the square of it.

use memchr::memmem;
use regex_automata::hybrid::LazyStateID;
use regex_automata::hybrid::dfa::{Cache, DFA};
use regex_automata::nfa::thompson;
use regex_automata::util::{start, syntax};
use regex_automata::{Anchored, MatchError};

use crate::spec::ResponseMatch;

/// What the bytes read so far say about the expected response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Matched,
    /// Not yet; more bytes may complete it.
    Pending,
    /// No continuation can match (an anchored pattern already failed).
    Never,
}

/// Incremental state of one match over a growing buffer.
pub struct Scanner(Kind);

enum Kind {
    /// Searches only the bytes not searched yet, plus the `needle - 1` before
    /// them where a match may have begun.
    Substring {
        finder: Box<memmem::Finder<'static>>,
        searched: usize,
    },
    /// The lazy DFA fed one byte at a time, its state kept between reads, so the
    /// answer is the same as matching the whole buffer, at the cost of the new bytes.
    Stream {
        dfa: Box<DFA>,
        cache: Box<Cache>,
        state: LazyStateID,
        fed: usize,
        pattern: String,
    },
    /// For the rare pattern the DFA gives up on (a Unicode `\b` meeting non-ASCII
    /// text): the whole buffer again, but only once it has doubled or the peer
    /// paused, so the total stays linear in what was read.
    Rescan {
        re: regex::bytes::Regex,
        scanned: usize,
    },
}

impl Scanner {
    pub fn new(m: &ResponseMatch) -> Self {
        match m {
            ResponseMatch::Substring(s) => Self(Kind::Substring {
                finder: Box::new(memmem::Finder::new(s.as_bytes()).into_owned()),
                searched: 0,
            }),
            ResponseMatch::Regex(re) => Self(stream(re.as_str()).unwrap_or_else(|| Kind::Rescan {
                re: re.clone(),
                scanned: 0,
            })),
        }
    }

    /// Looks at what `body` gained since the last call. `paused` says the last
    /// read returned less than asked, i.e. the peer has nothing more right now.
    pub fn advance(&mut self, body: &[u8], paused: bool) -> Verdict {
        match &mut self.0 {
            Kind::Substring { finder, searched } => {
                let from = searched.saturating_sub(finder.needle().len().saturating_sub(1));
                *searched = body.len();
                match finder.find(&body[from.min(body.len())..]) {
                    Some(_) => Verdict::Matched,
                    None => Verdict::Pending,
                }
            }
            Kind::Stream {
                dfa,
                cache,
                state,
                fed,
                pattern,
            } => match feed(dfa, cache, state, &body[(*fed).min(body.len())..]) {
                Ok(v) => {
                    *fed = body.len();
                    v
                }
                Err(_) => match crate::spec::expr::bytes_regex(pattern) {
                    Ok(re) => {
                        self.0 = Kind::Rescan { re, scanned: 0 };
                        self.advance(body, paused)
                    }
                    Err(_) => Verdict::Never,
                },
            },
            Kind::Rescan { re, scanned } => {
                if !paused && body.len() < scanned.saturating_mul(2) {
                    return Verdict::Pending;
                }
                *scanned = body.len().max(1);
                if re.is_match(body) {
                    Verdict::Matched
                } else {
                    Verdict::Pending
                }
            }
        }
    }
}

/// A streaming DFA for `pattern`, with the syntax `regex::bytes` uses, so that it
/// agrees with the final judgement; `None` when the DFA cannot be built.
fn stream(pattern: &str) -> Option<Kind> {
    let dfa = DFA::builder()
        .configure(DFA::config().unicode_word_boundary(true))
        .syntax(syntax::Config::new().utf8(false))
        .thompson(thompson::Config::new().utf8(false))
        .build(pattern)
        .ok()?;
    let mut cache = Cache::new(&dfa);
    let state = dfa
        .start_state(&mut cache, &start::Config::new().anchored(Anchored::No))
        .ok()?;
    Some(Kind::Stream {
        dfa: Box::new(dfa),
        cache: Box::new(cache),
        state,
        fed: 0,
        pattern: pattern.to_string(),
    })
}

/// Feeds `bytes` to the DFA from `state`. A match state means a match ended at
/// the byte before; the end-of-input transition finds one ending at the last byte
/// read (and `$`), without consuming anything.
fn feed(
    dfa: &DFA,
    cache: &mut Cache,
    state: &mut LazyStateID,
    bytes: &[u8],
) -> Result<Verdict, MatchError> {
    if state.is_dead() {
        return Ok(Verdict::Never);
    }
    for &b in bytes {
        *state = dfa
            .next_state(cache, *state, b)
            .map_err(|_| MatchError::gave_up(0))?;
        if state.is_tagged() {
            if state.is_match() {
                return Ok(Verdict::Matched);
            }
            if state.is_dead() {
                return Ok(Verdict::Never);
            }
            if state.is_quit() {
                return Err(MatchError::quit(b, 0));
            }
        }
    }
    let end = dfa
        .next_eoi_state(cache, *state)
        .map_err(|_| MatchError::gave_up(0))?;
    Ok(if end.is_match() {
        Verdict::Matched
    } else {
        Verdict::Pending
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `text` in pieces of `step` bytes, as reads would deliver it.
    fn verdicts(pattern: &str, text: &[u8], step: usize) -> Vec<Verdict> {
        let m = ResponseMatch::parse(pattern).unwrap();
        let mut s = Scanner::new(&m);
        let mut out = Vec::new();
        for end in (step..=text.len()).step_by(step).chain([text.len()]) {
            out.push(s.advance(&text[..end], true));
        }
        out
    }

    fn first_match(pattern: &str, text: &[u8], step: usize) -> Option<usize> {
        verdicts(pattern, text, step)
            .iter()
            .position(|v| *v == Verdict::Matched)
    }

    #[test]
    fn a_match_split_across_reads_is_found_when_it_completes() {
        let text = b"xxxxxxx220 readyyyyy";
        for step in 1..=text.len() {
            for pattern in ["220 ready", "/220 re+ady/", "/\\d{3} \\w+/"] {
                assert!(
                    first_match(pattern, text, step).is_some(),
                    "{pattern}, step {step}"
                );
            }
        }
    }

    #[test]
    fn anchors_see_the_whole_stream_not_each_read() {
        let text = b"hello\r\n220 ok";
        for step in 1..=text.len() {
            assert_eq!(first_match("/^220/", text, step), None, "step {step}");
            assert!(
                first_match("/(?m)^220/", text, step).is_some(),
                "step {step}"
            );
            assert!(first_match("/ok$/", text, step).is_some(), "step {step}");
        }
        // `^` that has failed can never match: the read may stop.
        assert_eq!(
            verdicts("/^220/", b"554 no", 6),
            [Verdict::Never, Verdict::Never]
        );
    }

    #[test]
    fn streaming_agrees_with_matching_the_whole_buffer() {
        let patterns = [
            "/a.c/",
            "/(?i)ERR/",
            "/\\bok\\b/",
            "/x{3,}$/",
            "é",
            "/\\w+é/",
        ];
        let texts: [&[u8]; 4] = [
            b"abc",
            b"an ok day",
            "caf\u{e9} \u{e9}".as_bytes(),
            b"\xffxxx",
        ];
        for p in patterns {
            let m = ResponseMatch::parse(p).unwrap();
            for t in texts {
                for step in 1..=t.len() {
                    let streamed = first_match(p, t, step).is_some();
                    assert_eq!(streamed, m.is_match(t), "{p} on {t:?}, step {step}");
                }
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: 256,
            failure_persistence: None,
            ..Default::default()
        })]

        /// Whatever the pattern, text and reads, streaming finds a match exactly
        /// when matching the whole buffer after some read would (which is what
        /// re-matching after every read did): `$` may match at a read's end.
        #[test]
        fn streamed_matches_equal_whole_buffer_matches(
            pattern in "(/\\^?[ab.]{1,3}\\*?[ab]?\\$?/)|[ab]{1,3}",
            text in proptest::collection::vec(proptest::sample::select(b"ab\n\xff".to_vec()), 0..40),
            step in 1usize..8,
        ) {
            let m = ResponseMatch::parse(&pattern).unwrap();
            let streamed = first_match(&pattern, &text, step);
            let ends = (step..=text.len()).step_by(step).chain([text.len()]);
            let whole = ends.enumerate().find(|(_, end)| m.is_match(&text[..*end])).map(|(i, _)| i);
            proptest::prop_assert_eq!(streamed, whole);
        }
    }
}
