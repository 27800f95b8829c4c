//! Strategies shared by the mapping tests: arbitrary [`Media`] of the codecs the gateway knows.

use crate::media::{Codec, Direction, Format, Kind, Media, Stream};
use proptest::prelude::*;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

pub(crate) fn addr() -> impl Strategy<Value = SocketAddr> {
    // a unicast IPv4 address and an even RTP port (never 0)
    (1u8..=223, any::<[u8; 3]>(), 1024u16..32000)
        .prop_map(|(a, [b, c, d], p)| SocketAddr::new(IpAddr::V4(Ipv4Addr::new(a, b, c, d)), p * 2))
}

fn audio_formats() -> impl Strategy<Value = Vec<Format>> {
    let codecs = Just(vec![Codec::Pcmu, Codec::Pcma, Codec::G722, Codec::G729]).prop_shuffle();
    (codecs, 1usize..=4, proptest::option::of(96u8..=127)).prop_map(|(c, n, te)| {
        let mut f: Vec<Format> = c.into_iter().take(n).map(Format::of).collect();
        if let Some(pt) = te {
            f.push(Format {
                pt,
                codec: Codec::TelephoneEvent,
                fmtp: Some("0-16".into()),
            });
        }
        f
    })
}

fn video_formats() -> impl Strategy<Value = Vec<Format>> {
    (
        96u8..=127,
        prop::sample::select(vec!["42e01f", "42801e", "4d0028", "640033"]),
    )
        .prop_map(|(pt, pli)| {
            vec![Format {
                pt,
                codec: Codec::H264,
                fmtp: Some(format!("profile-level-id={pli}")),
            }]
        })
}

pub(crate) fn direction() -> impl Strategy<Value = Direction> {
    prop::sample::select(vec![
        Direction::SendRecv,
        Direction::SendOnly,
        Direction::RecvOnly,
    ])
}

fn stream(kind: Kind) -> impl Strategy<Value = Stream> {
    let formats = match kind {
        Kind::Audio => audio_formats().boxed(),
        Kind::Video => video_formats().boxed(),
    };
    (addr(), any::<bool>(), formats, direction()).prop_map(
        move |(rtp, next, formats, direction)| {
            // RTCP on the next port, or elsewhere (RFC 3605)
            let port = if next {
                rtp.port() + 1
            } else {
                rtp.port() + 1001
            };
            Stream {
                kind,
                rtp,
                rtcp: SocketAddr::new(rtp.ip(), port),
                formats,
                direction,
            }
        },
    )
}

/// At most one audio and one video stream, each live, in either order.
pub(crate) fn media() -> impl Strategy<Value = Media> {
    (
        proptest::option::of(stream(Kind::Audio)),
        proptest::option::of(stream(Kind::Video)),
        any::<bool>(),
    )
        .prop_filter("one stream at least", |(a, v, _)| {
            a.is_some() || v.is_some()
        })
        .prop_map(|(a, v, video_first)| {
            let mut streams: Vec<Stream> = a.into_iter().chain(v).collect();
            if video_first {
                streams.reverse();
            }
            Media { streams }
        })
}
