//! Call clearing causes across the gateway: SIP final responses <-> Q.850 cause values (the
//! Cause information element of an H.323 ReleaseComplete), and H.225.0 ReleaseCompleteReason
//! -> Q.850 for a ReleaseComplete without a Cause.
//!
//! Tables: RFC 3398 8.2.6.1 (SIP response -> ISUP cause) and 7.2.4.1 (ISUP cause -> SIP
//! response), which RFC 4497 (SIP <-> QSIG, section 8.4.1 on call failure) adopts for Q.850 and
//! which the reference B2BUAs use; H.225.0 table 5 for ReleaseCompleteReason. Values the RFC
//! leaves open are this gateway's choices, marked "ours" below.
//!
//! Pure functions; which response ends which transaction (BYE vs. final response) is the
//! gateway's decision.

use causeway_h323_asn1::h323_messages::ReleaseCompleteReason;

/// Q.850 cause 16, normal call clearing.
pub const NORMAL_CLEARING: u8 = 16;

/// The Q.850 cause for a SIP final response (RFC 3398 8.2.6.1).
pub fn cause_for_status(status: u16) -> u8 {
    match status {
        400 => 41,
        401 | 402 | 403 | 407 => 21,
        404 | 485 | 604 => 1,
        405 => 63,
        406 | 415 | 501 => 79,
        408 | 504 => 102,
        410 => 22,
        413 | 414 | 416 | 420 | 421 | 423 | 505 | 513 => 127,
        480 => 18,
        481 | 500 | 503 => 41,
        482 | 483 => 25,
        484 => 28,
        486 | 600 => 17,
        // ours: a 487 answers our own CANCEL, i.e. the calling side cleared normally
        487 => NORMAL_CLEARING,
        // RFC 3398 maps 488 and 606 "by Warning header"; ours: bearer capability not
        // implemented / not presently available, the common choice for a media mismatch
        488 => 65,
        606 => 58,
        502 => 38,
        603 => 21,
        _ => status_class_default(status),
    }
}

/// Ours: the cause of a status RFC 3398 does not list, by its class.
fn status_class_default(status: u16) -> u8 {
    match status / 100 {
        4 | 6 => 21,
        5 => 41,
        _ => 31,
    }
}

/// The SIP final response for a Q.850 cause (RFC 3398 7.2.4.1). Cause 16 normally ends the
/// call with a BYE or CANCEL; when a final response is needed anyway (the INVITE is still
/// pending), it is 480, the response of its class (RFC 3398's note on cause 16).
pub fn status_for_cause(cause: u8) -> u16 {
    match cause {
        1..=3 | 26 => 404,
        17 => 486,
        18 => 408,
        19 | 20 | 31 => 480,
        21 | 55 | 57 | 87 => 403,
        22 | 23 => 410,
        27 => 502,
        28 => 484,
        29 | 69 | 79 => 501,
        34 | 38 | 41 | 42 | 47 | 58 | 88 => 503,
        65 | 70 => 488,
        102 => 504,
        111 | 127 => 500,
        _ => cause_class_default(cause),
    }
}

/// Ours: the response to a cause RFC 3398 does not list, by its Q.850 class (table 1: normal
/// event, resource unavailable, service or option not available, not implemented, invalid
/// message, protocol error, interworking).
fn cause_class_default(cause: u8) -> u16 {
    match cause >> 4 {
        0 | 1 => 480,
        2 => 503,
        3 => 503,
        4 => 501,
        _ => 500,
    }
}

/// The Q.850 cause of a ReleaseCompleteReason (H.225.0 table 5; the alternatives added after
/// it, and the ones it leaves without a cause, as commented).
pub fn cause_for_reason(r: &ReleaseCompleteReason) -> u8 {
    use ReleaseCompleteReason as R;
    match r {
        R::noBandwidth(()) => 34,
        R::gatekeeperResources(()) => 47,
        R::unreachableDestination(()) => 3,
        R::destinationRejection(()) => 16,
        R::invalidRevision(()) => 88,
        R::noPermission(()) => 111,
        R::unreachableGatekeeper(()) => 38,
        R::gatewayResources(()) => 42,
        R::badFormatAddress(()) => 28,
        R::adaptiveBusy(()) => 41,
        R::inConf(()) => 17,
        R::undefinedReason(()) => 31,
        R::facilityCallDeflection(()) => 16,
        R::securityDenied(()) => 31,
        R::calledPartyNotRegistered(()) => 20,
        R::callerNotRegistered(()) => 31,
        R::newConnectionNeeded(()) => 47,
        R::nonStandardReason(_) => 127,
        R::replaceWithConferenceInvite(_) => 31,
        R::genericDataReason(()) => 31,
        R::neededFeatureNotSupported(()) => 31,
        R::tunnelledSignallingRejected(()) => 127,
        R::invalidCID(()) => 31,
        R::securityError(_) => 31,
        // ours: a routing loop, as SIP's 482/483 map to 25 (exchange routing error)
        R::hopCountExceeded(()) => 25,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3398_8_2_6_1_sip_to_cause() {
        for (s, c) in [
            (400, 41),
            (401, 21),
            (402, 21),
            (403, 21),
            (404, 1),
            (405, 63),
            (406, 79),
            (407, 21),
            (408, 102),
            (410, 22),
            (413, 127),
            (414, 127),
            (415, 79),
            (416, 127),
            (420, 127),
            (421, 127),
            (423, 127),
            (480, 18),
            (481, 41),
            (482, 25),
            (483, 25),
            (484, 28),
            (485, 1),
            (486, 17),
            (500, 41),
            (501, 79),
            (502, 38),
            (503, 41),
            (504, 102),
            (505, 127),
            (513, 127),
            (600, 17),
            (603, 21),
            (604, 1),
        ] {
            assert_eq!(cause_for_status(s), c, "{s}");
        }
        assert_eq!(cause_for_status(487), 16);
        assert_eq!(cause_for_status(488), 65);
        assert_eq!(cause_for_status(606), 58);
        assert_eq!(cause_for_status(499), 21);
        assert_eq!(cause_for_status(599), 41);
    }

    #[test]
    fn rfc3398_7_2_4_1_cause_to_sip() {
        for (c, s) in [
            (1, 404),
            (2, 404),
            (3, 404),
            (17, 486),
            (18, 408),
            (19, 480),
            (20, 480),
            (21, 403),
            (22, 410),
            (23, 410),
            (26, 404),
            (27, 502),
            (28, 484),
            (29, 501),
            (31, 480),
            (34, 503),
            (38, 503),
            (41, 503),
            (42, 503),
            (47, 503),
            (55, 403),
            (57, 403),
            (58, 503),
            (65, 488),
            (70, 488),
            (79, 501),
            (87, 403),
            (88, 503),
            (102, 504),
            (111, 500),
            (127, 500),
        ] {
            assert_eq!(status_for_cause(c), s, "{c}");
        }
        assert_eq!(status_for_cause(16), 480);
        assert_eq!(status_for_cause(69), 501);
        assert_eq!(status_for_cause(44), 503);
        assert_eq!(status_for_cause(95), 500);
    }

    #[test]
    fn h225_table_5_reasons() {
        use ReleaseCompleteReason as R;
        assert_eq!(cause_for_reason(&R::noBandwidth(())), 34);
        assert_eq!(cause_for_reason(&R::unreachableDestination(())), 3);
        assert_eq!(cause_for_reason(&R::destinationRejection(())), 16);
        assert_eq!(cause_for_reason(&R::inConf(())), 17);
        assert_eq!(cause_for_reason(&R::calledPartyNotRegistered(())), 20);
        assert_eq!(cause_for_reason(&R::badFormatAddress(())), 28);
        assert_eq!(cause_for_reason(&R::adaptiveBusy(())), 41);
        // and through to SIP: a busy H.323 endpoint is 486 for the SIP caller
        assert_eq!(status_for_cause(cause_for_reason(&R::inConf(()))), 486);
    }

    #[test]
    fn every_status_and_cause_maps_inside_range() {
        for s in 300..=699 {
            assert!((1..=127).contains(&cause_for_status(s)));
        }
        for c in 0..=255u8 {
            assert!((400..=699).contains(&status_for_cause(c)));
        }
    }
}
