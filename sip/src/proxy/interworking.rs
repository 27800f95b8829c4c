//! The SIP side of SIP <-> H.323 interworking as routing sees it: a `LocalZone` target that no
//! SIP UA registered but an H.323 endpoint did (the alias table shared with the gatekeeper)
//! goes to the node's interworking gateway, after every SIP target of the route (the native
//! protocol is searched first). A request that came from the gateway is never sent back to it.
//!
//! `[interworking] mode = "on"` would also interwork a route whose targets all lie in zones
//! that carry H.323 only; no zone type is H.323-only today (a neighbor zone and a traversal
//! zone always carry SIP), so on the SIP side "on" behaves as "registered".
//!
//! Pure: reads the shared alias table, builds targets and refusal texts; sends nothing.

use super::hop::NextHop;
use super::tables::Target;
use causeway_config::{InterworkingMode, Transport};
use causeway_zones::{Alias, Owner, Protocol, SharedAliases};
use std::fmt::Write;
use std::net::SocketAddr;
use std::time::Instant;

/// Where the node's interworking gateway takes SIP requests, and when it is used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interworking {
    /// The gateway's SIP UDP address (loopback, in the node).
    pub gateway: SocketAddr,
    pub mode: InterworkingMode,
}

/// What routing knows about interworking for one request.
#[derive(Clone, Copy, Debug)]
pub(super) struct InterworkCtx<'a> {
    pub config: Option<&'a Interworking>,
    /// Where the request came from (the gateway itself: never back to it).
    pub source: SocketAddr,
}

impl InterworkCtx<'_> {
    /// The request came from the gateway.
    fn came_from_gateway(&self) -> bool {
        self.config.is_some_and(|i| i.gateway == self.source)
    }
}

/// The H.323 endpoint that holds `alias` in the shared table, if one does.
pub(super) fn h323_owner(
    shared: Option<&SharedAliases>,
    alias: &Alias,
    now: Instant,
) -> Option<Owner> {
    shared
        .and_then(|sh| sh.owner(&alias.to_string(), now))
        .filter(|o| o.protocol == Protocol::H323)
}

/// The target to the gateway for a `LocalZone` alias an H.323 endpoint holds, when the mode
/// allows it and the request did not come from the gateway.
pub(super) fn gateway_target(ctx: &InterworkCtx<'_>, alias: &Alias) -> Option<Target> {
    let iw = ctx.config.filter(|i| i.mode.enabled())?;
    if ctx.came_from_gateway() {
        return None;
    }
    let hop = NextHop {
        kind: Transport::Udp,
        addr: iw.gateway,
        conn: None,
        server_name: None,
        link: None,
        flow: false,
        local: None,
    };
    Some(Target::to(Some(gateway_uri(alias, iw.gateway)), hop))
}

/// `sip:<alias as a user part>@<gateway>`: the gateway reads the H.323 alias back from the
/// user part.
pub(super) fn gateway_uri(alias: &Alias, gateway: SocketAddr) -> String {
    format!("sip:{}@{gateway}", escape_user(&alias.to_string()))
}

/// RFC 3261 25.1 `user`: unreserved and user-unreserved characters as they are, every other
/// byte `%XX` (`;` and `?` too, which the grammar allows but many parsers split at).
fn escape_user(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        let plain = b.is_ascii_alphanumeric() || b"-_.!~*'()&=+$,/".contains(&b);
        if plain {
            out.push(char::from(b));
        } else {
            // writing to a String cannot fail
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Why an alias an H.323 endpoint holds was not reached, for the 404's reason phrase.
pub(super) fn refusal(ctx: &InterworkCtx<'_>, alias: &Alias, owner: &Owner) -> String {
    let why = match ctx.config {
        None => "SIP/H.323 interworking is not available".to_string(),
        Some(i) if !i.mode.enabled() => {
            "SIP/H.323 interworking is off ([interworking] mode = \"off\")".to_string()
        }
        Some(_) if ctx.came_from_gateway() => {
            "not sent back to the SIP/H.323 interworking gateway it came from".to_string()
        }
        Some(_) => "SIP/H.323 interworking is not available".to_string(),
    };
    format!(
        "Not Found ({alias} is registered by H.323 endpoint {}; {why})",
        owner.id
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_alias_is_escaped_as_a_user_part() {
        let gw: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let uri = |a: &str| gateway_uri(&Alias::parse(a), gw);
        assert_eq!(uri("2002"), "sip:2002@127.0.0.1:40000");
        assert_eq!(
            uri("bob@example.com"),
            "sip:bob%40example.com@127.0.0.1:40000"
        );
        assert_eq!(uri("a b;c?d%"), "sip:a%20b%3Bc%3Fd%25@127.0.0.1:40000");
        assert_eq!(uri("+44(0)1,2"), "sip:+44(0)1,2@127.0.0.1:40000");
        let v6: SocketAddr = "[::1]:5070".parse().unwrap();
        assert_eq!(gateway_uri(&Alias::parse("é"), v6), "sip:%C3%A9@[::1]:5070");
    }
}
