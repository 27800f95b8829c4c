//! Unit tests of `zones/src/pattern.rs`.

use super::*;
use PatternBehavior::*;

fn apply(
    kind: PatternType,
    pat: &str,
    repl: &str,
    b: PatternBehavior,
    text: &str,
) -> Option<String> {
    Pattern::compile(kind, pat, repl).apply(text, b, repl)
}

#[test]
fn exact_matches_only_the_whole_text() {
    let t = PatternType::Exact;
    assert_eq!(
        apply(t, "1234", "x", Leave, "1234").as_deref(),
        Some("1234")
    );
    assert_eq!(apply(t, "1234", "x", Strip, "1234").as_deref(), Some(""));
    assert_eq!(apply(t, "1234", "x", Replace, "1234").as_deref(), Some("x"));
    assert_eq!(apply(t, "1234", "x", Leave, "12345"), None);
}

#[test]
fn prefix_rewrites_the_start() {
    let t = PatternType::Prefix;
    assert_eq!(
        apply(t, "9", "0044", Leave, "9123").as_deref(),
        Some("9123")
    );
    assert_eq!(apply(t, "9", "0044", Strip, "9123").as_deref(), Some("123"));
    assert_eq!(
        apply(t, "9", "0044", Replace, "9123").as_deref(),
        Some("0044123")
    );
    assert_eq!(apply(t, "9", "0044", Leave, "8123"), None);
}

#[test]
fn suffix_rewrites_the_end() {
    let t = PatternType::Suffix;
    let (p, r) = ("@old.example", "@example.com");
    assert_eq!(
        apply(t, p, r, Leave, "bob@old.example").as_deref(),
        Some("bob@old.example")
    );
    assert_eq!(
        apply(t, p, r, Strip, "bob@old.example").as_deref(),
        Some("bob")
    );
    assert_eq!(
        apply(t, p, r, Replace, "bob@old.example").as_deref(),
        Some("bob@example.com")
    );
    assert_eq!(apply(t, p, r, Leave, "bob@old.example.org"), None);
}

#[test]
fn regex_is_anchored_to_the_whole_alias() {
    let t = PatternType::Regex;
    assert_eq!(apply(t, "bob", "", Leave, "bob@example.com"), None);
    assert_eq!(
        apply(t, "bob|alice", "", Leave, "alice").as_deref(),
        Some("alice")
    );
    // the alternation is grouped before anchoring: `^bob|alice$` would match "bobby"
    assert_eq!(apply(t, "bob|alice", "", Leave, "bobby"), None);
}

#[test]
fn regex_behaviours() {
    let t = PatternType::Regex;
    let (p, r) = (r"(\d+)@(.*)", r"\2/\1");
    assert_eq!(
        apply(t, p, r, Leave, "42@x.org").as_deref(),
        Some("42@x.org")
    );
    assert_eq!(apply(t, p, r, Strip, "42@x.org").as_deref(), Some(""));
    assert_eq!(
        apply(t, p, r, Replace, "42@x.org").as_deref(),
        Some("x.org/42")
    );
}

#[test]
fn regex_replacement_is_literal_apart_from_capture_groups() {
    let t = PatternType::Regex;
    assert_eq!(
        apply(t, "(.)(.)", r"$1\2\10\\\x$$", Replace, "ab").as_deref(),
        Some(r"$1ba0\\x$$")
    );
    // a group that did not take part expands to nothing
    assert_eq!(
        apply(t, "(a)?b", r"[\1]", Replace, "b").as_deref(),
        Some("[]")
    );
}

#[test]
fn a_bad_regex_matches_nothing() {
    let p = Pattern::compile(PatternType::Regex, "(", "");
    assert!(p.invalid().is_some());
    assert_eq!(p.apply("(", Leave, ""), None);
}
