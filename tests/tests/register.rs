//! REGISTER against the real binary (RFC 3261 10.3, RFC 7616/8760): digest challenge with
//! SHA-256 and MD5, the right password accepted with either, a wrong one refused, 423 with
//! Min-Expires, removal by Expires: 0 and Contact: *.

use causeway_sip::auth::respond;
use causeway_tests::{crlf, header_values, status, Node, NodeOptions, UdpClient, UA_HEADERS as UA};

const AUTH: &str = "[registrar]\nauthenticate = true\n\n[[credential]]\nusername = \"alice\"\npassword = \"secret\"\n";

fn register(
    c: &UdpClient,
    node: &Node,
    cseq: u32,
    expires: u32,
    contact: &str,
    auth: Option<&str>,
) -> String {
    let auth = auth
        .map(|a| format!("Authorization: {a}\n"))
        .unwrap_or_default();
    let msg = crlf(&format!(
        "REGISTER sip:example.com SIP/2.0
Via: SIP/2.0/UDP {local};branch=z9hG4bKr{cseq}x{expires}
Max-Forwards: 70
From: <sip:alice@example.com>;tag=a
To: <sip:alice@example.com>
Call-ID: reg-alice@test
CSeq: {cseq} REGISTER
Contact: {contact}
Expires: {expires}
{UA}{auth}Content-Length: 0

",
        local = c.local()
    ));
    c.request(node.udp(), &msg)
}

#[test]
fn rfc7616_digest_challenge_and_both_algorithms() {
    let node = Node::start(NodeOptions {
        extra: AUTH,
        ..Default::default()
    });
    let c = UdpClient::new();
    let contact = "<sip:alice@127.0.0.1:5999>";
    let r = register(&c, &node, 1, 600, contact, None);
    assert_eq!(status(&r), 401, "{r}");
    let challenges = header_values(&r, "WWW-Authenticate");
    assert_eq!(challenges.len(), 2, "{r}");
    assert!(challenges[0].contains("algorithm=SHA-256"), "{r}");
    assert!(challenges[1].contains("algorithm=MD5"), "{r}");
    let mut cseq = 2;
    // one nonce in both challenges: its second use counts on (RFC 7616 nc)
    let mut last = String::new();
    for (nc, ch) in (1..).zip(&challenges) {
        let a = respond(
            ch,
            "REGISTER",
            "sip:example.com",
            "alice",
            "secret",
            "0a4f113b",
            nc,
        )
        .unwrap();
        last = a.clone();
        let r = register(&c, &node, cseq, 600, contact, Some(&a));
        assert_eq!(status(&r), 200, "{ch}\n{r}");
        assert!(
            header_values(&r, "Contact")[0].contains("expires=600"),
            "{r}"
        );
        cseq += 1;
    }
    // the same Authorization again (a replay, new CSeq): a fresh challenge, not a 200
    let r = register(&c, &node, cseq, 600, contact, Some(&last));
    assert_eq!(status(&r), 401, "{r}");
    assert_ne!(
        header_values(&r, "WWW-Authenticate")[0],
        challenges[0],
        "a new nonce"
    );
    cseq += 1;
    let wrong = respond(
        &challenges[0],
        "REGISTER",
        "sip:example.com",
        "alice",
        "guess",
        "x",
        1,
    )
    .unwrap();
    let r = register(&c, &node, cseq, 600, contact, Some(&wrong));
    assert_eq!(status(&r), 403, "{r}");
    assert!(
        r.starts_with("SIP/2.0 403 Forbidden (authentication failed)\r\n"),
        "the reason names no user: {r}"
    );
    assert!(
        node.log().contains("authentication failed for `alice`"),
        "a wrong password is logged with the user"
    );
}

#[test]
fn rfc3261_10_3_expiry_rules_and_removal() {
    let node = Node::start(NodeOptions::default());
    let c = UdpClient::new();
    let r = register(&c, &node, 1, 10, "<sip:alice@127.0.0.1:5999>", None);
    assert_eq!(status(&r), 423, "{r}");
    assert_eq!(header_values(&r, "Min-Expires"), vec!["60"]);
    let r = register(&c, &node, 2, 120, "<sip:alice@127.0.0.1:5999>", None);
    assert_eq!(status(&r), 200, "{r}");
    let r = register(&c, &node, 3, 120, "<sip:alice@127.0.0.1:5998>", None);
    assert_eq!(
        header_values(&r, "Contact").len(),
        2,
        "two contacts for one AOR: {r}"
    );
    let r = register(&c, &node, 4, 0, "<sip:alice@127.0.0.1:5999>", None);
    assert_eq!(header_values(&r, "Contact").len(), 1, "{r}");
    let r = register(&c, &node, 5, 0, "*", None);
    assert_eq!(status(&r), 200, "{r}");
    assert!(header_values(&r, "Contact").is_empty(), "{r}");
}
