//! Unit tests of `sip/src/proxy/register.rs`.

use super::*;

#[test]
fn split_commas_respects_brackets_and_quotes() {
    let v: Vec<&str> = split_commas("<sip:a@x;lr>, \"b, c\" <sip:b@y>,<sip:c@z?h=1,2>").collect();
    assert_eq!(
        v,
        vec!["<sip:a@x;lr>", "\"b, c\" <sip:b@y>", "<sip:c@z?h=1,2>"]
    );
}

#[test]
fn unescape_compare() {
    assert!(unescape_eq("alice", "%61lice"));
    assert!(!unescape_eq("alice", "bob"));
    assert!(unescape_eq("a%", "a%"));
}
