//! Finished transactions of the core's own answers (the done log) across many chunks: each
//! retransmission gets its own transaction's response back, byte for byte, wherever in the
//! log it sits; all of them go at timer J.

use super::*;

/// The `n`th refresh of one binding: its own branch and CSeq, so its own 200.
fn register(n: usize) -> String {
    format!(
        "REGISTER sip:example.com SIP/2.0
Via: SIP/2.0/UDP {UAS};branch=z9hG4bKmany{n}
Max-Forwards: 70
From: <sip:erin@example.com>;tag=r{n}
To: <sip:erin@example.com>
Call-ID: reg-many
CSeq: {cseq} REGISTER
Contact: <sip:erin@127.0.0.1:6010>
Expires: 600
Content-Length: 0

",
        cseq = n + 1
    )
}

#[test]
fn rfc3261_17_2_2_each_retransmission_gets_its_own_response_across_chunks() {
    let mut h = Harness::new();
    // a few hundred 200s of a few hundred bytes: more than one 64 KiB chunk of the log
    let n = 600;
    let firsts: Vec<Transmit> = (0..n)
        .map(|u| {
            let out = h.send(UAS, &register(u));
            assert_eq!(status_of(&out[0]), 200);
            out[0].clone()
        })
        .collect();
    let kept: usize = firsts.iter().map(|t| t.data.len()).sum();
    assert!(
        kept > 2 * 64 * 1024,
        "{kept} bytes of responses: one chunk would do"
    );
    assert_eq!(h.core.transaction_count(), n);
    h.advance(Duration::from_secs(20));
    for u in [n - 1, n / 2, 0, 7] {
        let again = h.send(UAS, &register(u));
        assert_eq!(again.len(), 1, "user {u}");
        assert_eq!(again[0].data, firsts[u].data, "user {u}: its own response");
    }
    h.advance(Duration::from_secs(13)); // past timer J of all of them
    assert_eq!(h.core.transaction_count(), 0);
    let late = h.send(UAS, &register(n / 2));
    assert_eq!(
        status_of(&late[0]),
        500,
        "a new transaction, not the kept answer"
    );
}
