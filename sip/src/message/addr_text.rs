//! IPv4 addresses and socket addresses as text, written without `core::fmt`: the proxy writes
//! its own address into every request it forwards (Via, Record-Route) and hashes Route URIs
//! for loop detection, and `Ipv4Addr`'s `Display` (a formatter, a padding check and a stack
//! buffer per address) was about 2.5 % of the proxy core's CPU per call
//! (`sip/benches/calls.rs`, perf). The text is exactly `Display`'s (tested against it).
//! IPv6 stays with `Display`: it is rare here and its shortest form is not worth redoing.
//!
//! Owns text only; it does not decide which address a message carries.

use std::net::{Ipv4Addr, SocketAddr};

/// Up to 15 bytes of dotted quad, on the stack.
pub struct Ipv4Text {
    buf: [u8; 15],
    len: usize,
}

impl Ipv4Text {
    pub fn as_str(&self) -> &str {
        // only ASCII digits and dots are ever written
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

/// `a` as `Ipv4Addr`'s `Display` writes it (`192.0.2.1`).
pub fn ipv4(a: Ipv4Addr) -> Ipv4Text {
    let mut t = Ipv4Text {
        buf: [0; 15],
        len: 0,
    };
    for (i, o) in a.octets().into_iter().enumerate() {
        if i > 0 {
            t.buf[t.len] = b'.';
            t.len += 1;
        }
        t.len += decimal(u16::from(o), &mut t.buf[t.len..]);
    }
    t
}

/// Appends `a` as `SocketAddr`'s `Display` writes it (`192.0.2.1:5060`, `[2001:db8::1]:5060`).
pub fn push_socket_addr(out: &mut String, a: SocketAddr) {
    match a {
        SocketAddr::V4(v4) => {
            out.push_str(ipv4(*v4.ip()).as_str());
            push_port(out, v4.port());
        }
        SocketAddr::V6(_) => {
            use std::fmt::Write as _;
            let _ = write!(out, "{a}");
        }
    }
}

/// Appends `:` and the port.
fn push_port(out: &mut String, port: u16) {
    let mut buf = [0u8; 6];
    buf[0] = b':';
    let n = decimal(port, &mut buf[1..]);
    out.push_str(std::str::from_utf8(&buf[..=n]).unwrap_or(""));
}

/// Writes `n` in decimal at the start of `out` (which has room for 5 digits, or 3 for an
/// octet); returns the digits written.
fn decimal(mut n: u16, out: &mut [u8]) -> usize {
    let mut digits = [0u8; 5];
    let mut k = digits.len();
    loop {
        k -= 1;
        digits[k] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let len = digits.len() - k;
    out[..len].copy_from_slice(&digits[k..]);
    len
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
            assert_eq!(ipv4(a).as_str(), a.to_string());
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
            let text = ipv4(a);
            prop_assert_eq!(text.as_str(), a.to_string());
            for sa in [SocketAddr::from((a, port)), SocketAddr::from((std::net::Ipv6Addr::from(v6), port))] {
                let mut s = String::new();
                push_socket_addr(&mut s, sa);
                prop_assert_eq!(s, sa.to_string());
            }
        }
    }
}
