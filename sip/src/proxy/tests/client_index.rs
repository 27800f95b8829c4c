//! `client_index` holds a hash of each client transaction's branch (`tables::client_key`), so
//! two branches can share an entry's key: a response is matched only to a transaction whose
//! own branch it carries, and a transaction going away removes only its own entry. The
//! collisions are planted (a real one needs 2^64 tries). And the server side's keys: hashed
//! from a request's parts (RFC 3261 17.2.3), which must still tell transactions apart.

use super::*;
use crate::proxy::tables::client_key;

/// The proxy's branch in the top Via of a forwarded request.
fn our_branch(fwd: &Transmit) -> String {
    let t = text(fwd);
    let via = header(&t, "Via")[0];
    via.split(";branch=")
        .nth(1)
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn a_response_whose_branch_shares_a_key_is_not_the_transaction_s() {
    let mut h = Harness::new();
    h.register("bob", UAS, "1.0");
    let out = h.send(UAC, &invite("z9hG4bKci1", "bob"));
    let fwd = out.iter().find(|t| t.dest == addr(UAS)).unwrap().clone();
    let ours = our_branch(&fwd);
    let id = *h.core.client_index.get(&client_key(&ours, false)).unwrap();
    // another branch of ours whose key names this transaction
    let other = format!("{ours}x");
    h.core.client_index.insert(client_key(&other, false), id);
    let busy = answer(&fwd, 486, "Busy Here", Some("b1")).replace(&ours, &other);
    let out = h.send(UAS, &busy);
    // matched, the 486 would be ACKed to the UAS and the transaction completed; not matched,
    // it is forwarded by its Via, and the transaction still waits for its answer
    assert!(!out.iter().any(|t| t.dest == addr(UAS)), "no ACK: {out:?}");
    assert!(h.core.clients.contains_key(&id));
    // its own answer still reaches it
    let out = h.send(UAS, &answer(&fwd, 486, "Busy Here", Some("b1")));
    assert!(out
        .iter()
        .any(|t| t.dest == addr(UAS) && text(t).starts_with("ACK ")));
}

#[test]
fn a_transaction_going_away_leaves_another_s_entry() {
    let mut h = Harness::new();
    h.register("bob", UAS, "1.0");
    let out = h.send(UAC, &invite("z9hG4bKci2", "bob"));
    let fwd = out.iter().find(|t| t.dest == addr(UAS)).unwrap().clone();
    let key = client_key(&our_branch(&fwd), false);
    let id = *h.core.client_index.get(&key).unwrap();
    // the key now names another transaction (as a later insert of a colliding branch would)
    h.core.client_index.insert(key, id + 1_000_000);
    h.core.remove_client(id);
    assert_eq!(h.core.client_index.get(&key), Some(&(id + 1_000_000)));
    // and without the collision the entry goes with its transaction
    let out = h.send(UAC, &invite("z9hG4bKci3", "bob"));
    let fwd = out.iter().find(|t| t.dest == addr(UAS)).unwrap().clone();
    let key = client_key(&our_branch(&fwd), false);
    let id = *h.core.client_index.get(&key).unwrap();
    h.core.remove_client(id);
    assert!(!h.core.client_index.contains_key(&key));
}

#[test]
fn rfc3261_17_2_3_a_request_matches_a_transaction_by_branch_sent_by_and_method() {
    let mut h = Harness::new();
    h.register("bob", UAS, "1.0");
    let inv = invite("z9hG4bKmatch1", "bob");
    let out = h.send(UAC, &inv);
    assert!(out.iter().any(|t| t.dest == addr(UAS)));
    // the same request again: a retransmission, absorbed (Proceeding sends its 100 again)
    let again = h.send(UAC, &inv);
    assert!(!again.iter().any(|t| t.dest == addr(UAS)), "{again:?}");
    // the same branch from another sent-by (port, or host) is another transaction
    for other in ["127.0.0.1:6009", "127.0.0.2:6001"] {
        let moved = inv.replace(
            &format!("SIP/2.0/UDP {UAC}"),
            &format!("SIP/2.0/UDP {other}"),
        );
        let out = h.send(UAC, &moved);
        assert!(out.iter().any(|t| t.dest == addr(UAS)), "{other}: {out:?}");
    }
    // a CANCEL with the INVITE's branch and sent-by is its own transaction, and matches the
    // INVITE's (answered 200, not 481)
    let cancel = inv
        .replace("INVITE sip:", "CANCEL sip:")
        .replace("CSeq: 1 INVITE", "CSeq: 1 CANCEL");
    let out = h.send(UAC, &cancel);
    assert!(
        out.iter()
            .any(|t| t.dest == addr(UAC) && status_of(t) == 200),
        "{out:?}"
    );
}
