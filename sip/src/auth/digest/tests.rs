//! Unit tests of `sip/src/auth/digest.rs`.

use super::*;
use proptest::prelude::*;

const RFC_NONCE: &str = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
const RFC_CNONCE: &str = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";

fn rfc7616_response(alg: &str) -> String {
    let ch = format!("Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", algorithm={alg}, nonce=\"{RFC_NONCE}\", opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"");
    respond(
        &ch,
        "GET",
        "/dir/index.html",
        "Mufasa",
        "Circle of Life",
        RFC_CNONCE,
        1,
    )
    .unwrap()
}

#[test]
fn rfc7616_3_9_1_md5_example() {
    let r = rfc7616_response("MD5");
    assert!(
        r.contains("response=\"8ca523f5e9506fed4657c9700eebdbec\""),
        "{r}"
    );
}

#[test]
fn rfc7616_3_9_1_sha256_example() {
    let r = rfc7616_response("SHA-256");
    assert!(
        r.contains("response=\"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1\""),
        "{r}"
    );
}

fn server() -> DigestServer {
    DigestServer::new(
        "example.com",
        &[Algorithm::Sha256, Algorithm::Md5],
        [7; 32],
        Duration::from_secs(300),
    )
}

fn pw(u: &str) -> Option<String> {
    (u == "alice").then(|| "secret".to_string())
}

#[test]
fn challenge_respond_verify_round_trip_both_algorithms() {
    let mut s = server();
    let now = SystemTime::now();
    let ch = s.challenge(now, false, 42);
    assert_eq!(ch.len(), 2);
    assert!(ch[0].contains("algorithm=SHA-256"));
    assert!(ch[1].contains("algorithm=MD5"));
    // one nonce for both algorithms: the second use counts on from the first
    for (nc, c) in (1..).zip(&ch) {
        let a = respond(
            c,
            "REGISTER",
            "sip:example.com",
            "alice",
            "secret",
            "abc",
            nc,
        )
        .unwrap();
        assert_eq!(
            s.verify(&a, "REGISTER", pw, now),
            Ok(AuthOk {
                username: "alice".into()
            })
        );
        let bad = respond(c, "REGISTER", "sip:example.com", "alice", "wrong", "abc", 1).unwrap();
        assert_eq!(
            s.verify(&bad, "REGISTER", pw, now),
            Err(AuthError::WrongResponse {
                username: "alice".into()
            })
        );
    }
}

#[test]
fn stale_forged_foreign_and_unknown() {
    let mut s = server();
    let then = SystemTime::now();
    let ch = &s.challenge(then, false, 1)[0];
    let a = respond(ch, "REGISTER", "sip:x", "alice", "secret", "c", 1).unwrap();
    assert_eq!(
        s.verify(&a, "REGISTER", pw, then + Duration::from_secs(301)),
        Err(AuthError::StaleNonce)
    );
    let forged = a.replacen("nonce=\"", "nonce=\"0", 1);
    assert!(matches!(
        s.verify(&forged, "REGISTER", pw, then),
        Err(AuthError::BadNonce)
    ));
    let mut other = DigestServer::new(
        "example.com",
        &[Algorithm::Sha256],
        [9; 32],
        Duration::from_secs(300),
    );
    assert_eq!(
        other.verify(&a, "REGISTER", pw, then),
        Err(AuthError::BadNonce)
    );
    let mallory = respond(ch, "REGISTER", "sip:x", "mallory", "x", "c", 1).unwrap();
    assert_eq!(
        s.verify(&mallory, "REGISTER", pw, then),
        Err(AuthError::UnknownUser("mallory".into()))
    );
    assert_eq!(
        s.verify("NewAuth realm=\"example.com\"", "REGISTER", pw, then),
        Err(AuthError::UnsupportedScheme("NewAuth".into()))
    );
}

proptest! {
    #[test]
    fn any_credentials_round_trip(user in "[a-zA-Z0-9._-]{1,20}", pass in "[ -~]{0,30}") {
        let mut s = DigestServer::new("r", &[Algorithm::Sha256], [1; 32], Duration::from_secs(60));
        let now = SystemTime::now();
        let ch = &s.challenge(now, false, 5)[0];
        let pass2 = pass.replace(['"', '\\'], "");
        let a = respond(ch, "REGISTER", "sip:r", &user, &pass2, "cn", 7).unwrap();
        let ok = s.verify(&a, "REGISTER", |_| Some(pass2.clone()), now);
        prop_assert_eq!(ok, Ok(AuthOk { username: user.clone() }));
    }

    #[test]
    fn nc_parses_exactly_eight_hex_digits(n in 1u32.., junk in "[^0-9a-fA-F]{1,3}") {
        prop_assert_eq!(parse_nc(&format!("{n:08x}")), Ok(n));
        prop_assert_eq!(parse_nc(&format!("{n:08X}")), Ok(n));
        let bad = format!("{n:x}{junk}");
        prop_assert!(parse_nc(&bad).is_err());
        let long = format!("{n:09x}");
        prop_assert!(parse_nc(&long).is_err());
    }

    #[test]
    fn verify_never_panics(v in ".{0,300}") {
        let _ = server().verify(&v, "REGISTER", pw, SystemTime::now());
    }
}

fn answer(s: &DigestServer, now: SystemTime, random: u64, nc: u32, password: &str) -> String {
    let ch = &s.challenge(now, false, random)[0];
    respond(
        ch,
        "REGISTER",
        "sip:example.com",
        "alice",
        password,
        "cn",
        nc,
    )
    .unwrap()
}

#[test]
fn nonces_are_unique_per_challenge() {
    let s = server();
    let now = SystemTime::now();
    let nonce = |r| {
        let c = s.challenge(now, false, r).remove(0);
        c.split("nonce=\"").nth(1).unwrap()[..64].to_string()
    };
    assert_ne!(nonce(1), nonce(2), "the same second, two clients");
    assert_eq!(
        nonce(3),
        nonce(3),
        "made from the time and the randomness alone"
    );
}

#[test]
fn rfc7616_a_replayed_or_lower_nonce_count_is_refused() {
    let mut s = server();
    let now = SystemTime::now();
    let first = answer(&s, now, 7, 1, "secret");
    assert!(s.verify(&first, "REGISTER", pw, now).is_ok());
    assert_eq!(
        s.verify(&first, "REGISTER", pw, now),
        Err(AuthError::Replayed),
        "the same Authorization again"
    );
    let third = answer(&s, now, 7, 3, "secret");
    assert!(
        s.verify(&third, "REGISTER", pw, now).is_ok(),
        "a higher count"
    );
    let second = answer(&s, now, 7, 2, "secret");
    assert_eq!(
        s.verify(&second, "REGISTER", pw, now),
        Err(AuthError::Replayed)
    );
    // another nonce has a count of its own
    let other = answer(&s, now, 8, 1, "secret");
    assert!(s.verify(&other, "REGISTER", pw, now).is_ok());
}

#[test]
fn a_wrong_password_does_not_use_the_nonce_up() {
    let mut s = server();
    let now = SystemTime::now();
    let bad = answer(&s, now, 9, 1, "wrong");
    assert!(matches!(
        s.verify(&bad, "REGISTER", pw, now),
        Err(AuthError::WrongResponse { .. })
    ));
    let good = answer(&s, now, 9, 1, "secret");
    assert!(s.verify(&good, "REGISTER", pw, now).is_ok());
}

#[test]
fn without_qop_a_nonce_is_good_once() {
    let mut s = server();
    let now = SystemTime::now();
    let ch = s
        .challenge(now, false, 11)
        .remove(0)
        .replace(", qop=\"auth\"", "");
    let a = respond(&ch, "REGISTER", "sip:x", "alice", "secret", "cn", 1).unwrap();
    assert!(!a.contains("nc="), "{a}");
    assert!(s.verify(&a, "REGISTER", pw, now).is_ok());
    assert_eq!(s.verify(&a, "REGISTER", pw, now), Err(AuthError::Replayed));
}

#[test]
fn a_full_table_forgets_the_oldest_nonce_and_makes_it_stale() {
    let mut s = server().with_nonce_table(2);
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let old = answer(&s, t0, 1, 1, "secret");
    assert!(s.verify(&old, "REGISTER", pw, t0).is_ok());
    let t1 = t0 + Duration::from_secs(1);
    let mid = answer(&s, t1, 2, 1, "secret");
    assert!(s.verify(&mid, "REGISTER", pw, t1).is_ok());
    let t2 = t0 + Duration::from_secs(2);
    let new = answer(&s, t2, 3, 1, "secret");
    assert!(
        s.verify(&new, "REGISTER", pw, t2).is_ok(),
        "evicts the oldest"
    );
    // the evicted nonce cannot be replayed: it is stale now (the client gets a new one)
    assert_eq!(
        s.verify(&old, "REGISTER", pw, t2),
        Err(AuthError::StaleNonce)
    );
    assert_eq!(s.verify(&mid, "REGISTER", pw, t2), Err(AuthError::Replayed));
}

#[test]
fn failure_texts_name_no_user() {
    for e in [
        AuthError::UnknownUser("bob".into()),
        AuthError::WrongResponse {
            username: "bob".into(),
        },
    ] {
        assert!(!e.to_string().contains("bob"), "{e}");
    }
}
