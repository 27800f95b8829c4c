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
    let s = server();
    let now = SystemTime::now();
    let ch = s.challenge(now, false);
    assert_eq!(ch.len(), 2);
    assert!(ch[0].contains("algorithm=SHA-256"));
    assert!(ch[1].contains("algorithm=MD5"));
    for c in &ch {
        let a = respond(
            c,
            "REGISTER",
            "sip:example.com",
            "alice",
            "secret",
            "abc",
            1,
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
    let s = server();
    let then = SystemTime::now();
    let ch = &s.challenge(then, false)[0];
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
    let other = DigestServer::new(
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
        let s = DigestServer::new("r", &[Algorithm::Sha256], [1; 32], Duration::from_secs(60));
        let now = SystemTime::now();
        let ch = &s.challenge(now, false)[0];
        let pass2 = pass.replace(['"', '\\'], "");
        let a = respond(ch, "REGISTER", "sip:r", &user, &pass2, "cn", 7).unwrap();
        let ok = s.verify(&a, "REGISTER", |_| Some(pass2.clone()), now);
        prop_assert_eq!(ok, Ok(AuthOk { username: user.clone() }));
    }

    #[test]
    fn verify_never_panics(v in ".{0,300}") {
        let _ = server().verify(&v, "REGISTER", pw, SystemTime::now());
    }
}
