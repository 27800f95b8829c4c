//! A link whose peer is configured by name: the name is looked up before every attempt (the
//! node's resolver answers `Event::Lookup` with `Input::Resolved`), a name that does not
//! resolve keeps only this link down and is tried again with the usual back-off, and a link
//! that comes back after a failure goes to the address the name has then.

use super::*;

const NAME: &str = "edge.example.net";

fn named() -> LinkConfig {
    LinkConfig {
        peer: addr("0.0.0.0:7001"),
        peer_host: NAME.into(),
        resolve: Some(NAME.into()),
        ..config()
    }
}

impl Fixture {
    /// The client's due attempt: it asks for its name; the lookup's token.
    fn expect_lookup(&mut self) -> u64 {
        let (out, ev) = self.fire();
        assert!(
            out.is_empty(),
            "nothing is sent before the name is known: {out:?}"
        );
        match ev {
            Some(Event::Lookup { token, host, port }) => {
                assert_eq!((host.as_str(), port), (NAME, 7001));
                assert!(self.client.owns_token(token), "the answer comes back to it");
                token
            }
            other => panic!("expected a lookup, got {other:?}"),
        }
    }

    fn resolved(&mut self, token: u64, answer: Result<&[SocketAddr], &str>) -> Vec<Transmit> {
        let mut out = Vec::new();
        let input = Input::Resolved { token, answer };
        let ev = self.client.handle(input, self.now, &mut out);
        assert_eq!(ev, None, "an answer is no link event");
        out
    }
}

#[test]
fn a_named_peer_is_looked_up_then_registered_with_at_the_address_found() {
    let mut f = Fixture::with(named());
    assert_eq!(f.client.status().peer, "edge.example.net:7001");
    let token = f.expect_lookup();
    assert_eq!(f.client.status().state, "connecting");
    let out = f.resolved(token, Ok(&[addr("127.0.0.1:5061"), addr("192.0.2.9:5061")]));
    let reg = only_register(&out);
    // the first address, at the zone's port; the TLS name and the URIs stay the configured name
    assert_eq!(reg.dest, addr(E_ZONE));
    assert_eq!(reg.server_name.as_deref(), Some(NAME));
    assert_eq!(
        parse(&reg).request_uri_str(),
        Some("sip:edge.example.net:7001;transport=tls")
    );
    assert_eq!(f.client.status().peer, E_ZONE);
    let (out, _) = f.answer(challenge_401(&reg, &digest_server(), f.wall), LINK);
    let (_, ev) = f.answer(ok_200(&only_register(&out), EXPIRES), LINK);
    assert!(matches!(ev, Some(Event::Up { .. })), "{ev:?}");
}

#[test]
fn a_name_that_does_not_resolve_keeps_the_link_down_and_is_tried_again() {
    let mut f = Fixture::with(named());
    let token = f.expect_lookup();
    let out = f.resolved(token, Err("no record found"));
    assert!(out.is_empty());
    let st = f.client.status();
    assert_eq!(st.state, "down");
    let error = st.last_error.unwrap_or_default();
    assert!(
        error.contains("does not resolve") && error.contains(NAME),
        "{error}"
    );
    assert_eq!(f.client.poll_timeout(), Some(f.now + RETRY_FIRST));
    // an answer with no address is a failure too, and the back-off doubles
    let token = f.expect_lookup();
    assert!(f.resolved(token, Ok(&[])).is_empty());
    assert!(f
        .client
        .status()
        .last_error
        .unwrap_or_default()
        .contains("no address"));
    assert_eq!(f.client.poll_timeout(), Some(f.now + 2 * RETRY_FIRST));
    // no answer at all: the attempt ends at its deadline
    let token = f.expect_lookup();
    let (out, ev) = f.fire();
    assert!(out.is_empty() && ev.is_none());
    assert_eq!(f.elapsed(), 3 * RETRY_FIRST + REGISTER_TIMEOUT);
    assert!(f
        .client
        .status()
        .last_error
        .unwrap_or_default()
        .contains("no answer"));
    // and its late answer starts nothing
    assert!(f.resolved(token, Ok(&[addr("127.0.0.1:1")])).is_empty());
    assert_eq!(f.client.status().state, "down");
    // the name resolves at last: the link registers
    let token = f.expect_lookup();
    let out = f.resolved(token, Ok(&[addr("127.0.0.1:1")]));
    assert_eq!(only_register(&out).dest, addr(E_ZONE));
    assert_eq!(f.client.status().attempts, 4);
}

#[test]
fn rfc3263_4_3_attempts_take_the_addresses_in_turn() {
    let mut f = Fixture::with(named());
    let both = [addr("[::1]:0"), addr("127.0.0.1:0")];
    let mut dests = Vec::new();
    for _ in 0..3 {
        let token = f.expect_lookup();
        dests.push(only_register(&f.resolved(token, Ok(&both))).dest);
        let mut out = Vec::new();
        let input = Input::SendFailed { error: "refused" };
        assert_eq!(f.client.handle(input, f.now, &mut out), None);
    }
    let v6 = addr("[::1]:7001");
    assert_eq!(dests, [v6, addr(E_ZONE), v6]);
}

#[test]
fn after_a_failure_the_next_attempt_goes_where_the_name_points_now() {
    let mut f = Fixture::with(named());
    let token = f.expect_lookup();
    let reg = only_register(&f.resolved(token, Ok(&[addr("127.0.0.1:0")])));
    let (out, _) = f.answer(challenge_401(&reg, &digest_server(), f.wall), LINK);
    let (_, ev) = f.answer(ok_200(&only_register(&out), EXPIRES), LINK);
    assert!(matches!(ev, Some(Event::Up { .. })), "{ev:?}");
    let mut out = Vec::new();
    let input = Input::Closed {
        conn: LINK,
        remote: addr(E_ZONE),
    };
    let ev = f.client.handle(input, f.now, &mut out);
    assert!(matches!(ev, Some(Event::Down { .. })), "{ev:?}");
    // E moved: the next attempt looks the name up again and follows it
    let token = f.expect_lookup();
    let reg = only_register(&f.resolved(token, Ok(&[addr("[2001:db8::7]:0")])));
    assert_eq!(reg.dest, addr("[2001:db8::7]:7001"));
    assert_eq!(f.client.status().peer, "[2001:db8::7]:7001");
}

#[test]
fn a_peer_given_as_an_address_is_never_looked_up() {
    let mut f = Fixture::new();
    let (out, ev) = f.fire();
    assert_eq!(ev, None);
    assert_eq!(only_register(&out).dest, addr(E_ZONE));
}

#[test]
fn an_unspecified_address_is_never_dialled() {
    let mut f = Fixture::with(named());
    let token = f.expect_lookup();
    let out = f.resolved(token, Ok(&[addr("0.0.0.0:0"), addr("127.0.0.1:0")]));
    assert_eq!(only_register(&out).dest, addr(E_ZONE));
    let mut out = Vec::new();
    let input = Input::SendFailed { error: "refused" };
    f.client.handle(input, f.now, &mut out);
    // a sinkholed name (only 0.0.0.0) is a name without an address
    let token = f.expect_lookup();
    assert!(f.resolved(token, Ok(&[addr("0.0.0.0:0")])).is_empty());
    assert!(f
        .client
        .status()
        .last_error
        .unwrap_or_default()
        .contains("no address"));
}

#[test]
fn an_answer_to_a_failed_attempt_does_nothing_while_the_next_one_looks_up() {
    let mut f = Fixture::with(named());
    let token = f.expect_lookup();
    let first = only_register(&f.resolved(token, Ok(&[addr("127.0.0.1:0")])));
    // E does not answer in time: the attempt fails, the next one starts with a lookup
    let (out, _) = f.fire();
    assert!(out.is_empty());
    f.expect_lookup();
    // E's late challenge to the first REGISTER: nothing is sent, the lookup goes on
    let (out, ev) = f.answer(challenge_401(&first, &digest_server(), f.wall), LINK);
    assert!(out.is_empty() && ev.is_none(), "{out:?} {ev:?}");
    let (out, ev) = f.answer(ok_200(&first, EXPIRES), LINK);
    assert!(out.is_empty() && ev.is_none(), "{out:?} {ev:?}");
    assert_eq!(f.client.status().state, "connecting");
}
