//! IPv4 addresses and socket addresses as text, without format arguments (`write!`): the
//! proxy writes its own address into every request it forwards (Via, Record-Route) and hashes
//! Route URIs for loop detection, and `Ipv4Addr`'s `Display` (a formatter, a padding check and
//! a stack buffer per address) was about 2.5 % of the proxy core's CPU per call
//! (`sip/benches/calls.rs`, perf). The numbers are `itoa`'s; the text is exactly `Display`'s
//! (tested against it). IPv6 stays with `Display`: it is rare here and its shortest form is
//! not worth redoing.
//!
//! Owns text only; it does not decide which address a message carries.

use std::fmt::{self, Write as _};
use std::net::{Ipv4Addr, SocketAddr};

/// Writes `a` as `Ipv4Addr`'s `Display` does (`192.0.2.1`), straight into `w` (a `String`, or
/// the `Formatter` of a `Display`): the numbers by `itoa`, no format arguments.
pub fn write_ipv4<W: fmt::Write>(w: &mut W, a: Ipv4Addr) -> fmt::Result {
    let mut digits = itoa::Buffer::new();
    for (i, o) in a.octets().into_iter().enumerate() {
        if i > 0 {
            w.write_char('.')?;
        }
        w.write_str(digits.format(o))?;
    }
    Ok(())
}

/// Appends `a` as `SocketAddr`'s `Display` writes it (`192.0.2.1:5060`, `[2001:db8::1]:5060`).
pub fn push_socket_addr(out: &mut String, a: SocketAddr) {
    match a {
        SocketAddr::V4(v4) => {
            // writing into a String cannot fail
            let _ = write_ipv4(out, *v4.ip());
            out.push(':');
            out.push_str(itoa::Buffer::new().format(v4.port()));
        }
        SocketAddr::V6(_) => {
            let _ = write!(out, "{a}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn writes_what_display_writes_at_the_edges() {
        for a in [
            "0.0.0.0",
            "255.255.255.255",
            "10.0.0.1",
            "192.0.2.100",
            "1.22.133.4",
        ] {
            let a: Ipv4Addr = a.parse().unwrap();
            let mut s = String::new();
            write_ipv4(&mut s, a).unwrap();
            assert_eq!(s, a.to_string());
        }
        for a in [
            "127.0.0.1:0",
            "127.0.0.1:65535",
            "[2001:db8::1]:5061",
            "[::]:5060",
        ] {
            let a: SocketAddr = a.parse().unwrap();
            let mut s = String::from("x");
            push_socket_addr(&mut s, a);
            assert_eq!(s, format!("x{a}"));
        }
    }

    proptest! {
        #[test]
        fn agrees_with_display(ip in any::<u32>(), port in any::<u16>(), v6 in any::<u128>()) {
            let a = Ipv4Addr::from(ip);
            let mut text = String::new();
            write_ipv4(&mut text, a).unwrap();
            prop_assert_eq!(text, a.to_string());
            for sa in [SocketAddr::from((a, port)), SocketAddr::from((std::net::Ipv6Addr::from(v6), port))] {
                let mut s = String::new();
                push_socket_addr(&mut s, sa);
                prop_assert_eq!(s, sa.to_string());
            }
        }
    }
}
