//! ReleaseComplete reasons and Q.931 causes: the H.225.0 table "ReleaseCompleteReason codes"
//! (the Q.850 cause that corresponds to each reason), the reason a route failure is reported
//! with, and reason names for events.
//!
//! Pure functions; no call state, no message building (that is `uuie`).

use super::RouteFailure;
use causeway_h323_asn1::h323_messages::ReleaseCompleteReason;

/// The Q.850 cause value that H.225.0 (table "ReleaseCompleteReason codes", section 7.4.2 in
/// v7) pairs with a ReleaseComplete reason. Reasons added after that table (invalidCID,
/// securityError, hopCountExceeded) are not in it: 31 "normal, unspecified", as the table does
/// for the other late additions.
pub fn reason_cause(reason: &ReleaseCompleteReason) -> u8 {
    use ReleaseCompleteReason as R;
    match reason {
        R::noBandwidth(_) => 34,
        R::gatekeeperResources(_) => 47,
        R::unreachableDestination(_) => 3,
        R::destinationRejection(_) => 16,
        R::invalidRevision(_) => 88,
        R::noPermission(_) => 111,
        R::unreachableGatekeeper(_) => 38,
        R::gatewayResources(_) => 42,
        R::badFormatAddress(_) => 28,
        R::adaptiveBusy(_) => 41,
        R::inConf(_) => 17,
        R::undefinedReason(_) => 31,
        R::facilityCallDeflection(_) => 16,
        R::securityDenied(_) => 31,
        R::calledPartyNotRegistered(_) => 20,
        R::callerNotRegistered(_) => 31,
        R::newConnectionNeeded(_) => 47,
        R::nonStandardReason(_) => 127,
        R::replaceWithConferenceInvite(_) => 31,
        R::genericDataReason(_) => 31,
        R::neededFeatureNotSupported(_) => 31,
        R::tunnelledSignallingRejected(_) => 127,
        _ => 31,
    }
}

/// The ASN.1 name of a reason, for events and logs.
pub fn reason_name(reason: &ReleaseCompleteReason) -> &'static str {
    use ReleaseCompleteReason as R;
    match reason {
        R::noBandwidth(_) => "noBandwidth",
        R::gatekeeperResources(_) => "gatekeeperResources",
        R::unreachableDestination(_) => "unreachableDestination",
        R::destinationRejection(_) => "destinationRejection",
        R::invalidRevision(_) => "invalidRevision",
        R::noPermission(_) => "noPermission",
        R::unreachableGatekeeper(_) => "unreachableGatekeeper",
        R::gatewayResources(_) => "gatewayResources",
        R::badFormatAddress(_) => "badFormatAddress",
        R::adaptiveBusy(_) => "adaptiveBusy",
        R::inConf(_) => "inConf",
        R::undefinedReason(_) => "undefinedReason",
        R::facilityCallDeflection(_) => "facilityCallDeflection",
        R::securityDenied(_) => "securityDenied",
        R::calledPartyNotRegistered(_) => "calledPartyNotRegistered",
        R::callerNotRegistered(_) => "callerNotRegistered",
        R::newConnectionNeeded(_) => "newConnectionNeeded",
        R::nonStandardReason(_) => "nonStandardReason",
        R::replaceWithConferenceInvite(_) => "replaceWithConferenceInvite",
        R::genericDataReason(_) => "genericDataReason",
        R::neededFeatureNotSupported(_) => "neededFeatureNotSupported",
        R::tunnelledSignallingRejected(_) => "tunnelledSignallingRejected",
        R::invalidCID(_) => "invalidCID",
        R::securityError(_) => "securityError",
        R::hopCountExceeded(_) => "hopCountExceeded",
        _ => "unknown",
    }
}

/// The reason a route failure is reported to the caller with.
pub(crate) fn route_failure_reason(f: &RouteFailure) -> ReleaseCompleteReason {
    match f {
        RouteFailure::NotRegistered => ReleaseCompleteReason::calledPartyNotRegistered(()),
        RouteFailure::Unreachable => ReleaseCompleteReason::unreachableDestination(()),
        RouteFailure::Refused => ReleaseCompleteReason::noPermission(()),
        RouteFailure::CallerNotRegistered => ReleaseCompleteReason::callerNotRegistered(()),
    }
}

/// What a ReleaseComplete that causeway itself sends carries: a reason (UUIE) and the Q.931
/// Cause. Both are sent: H.225.0 7.4.2 lets a receiver use either, and older endpoints only
/// read the Cause element.
#[derive(Clone, Debug)]
pub(crate) struct Release {
    pub reason: ReleaseCompleteReason,
    pub cause: u8,
}

impl Release {
    /// A reason with the cause the H.225.0 table gives it.
    pub fn reason(reason: ReleaseCompleteReason) -> Self {
        let cause = reason_cause(&reason);
        Release { reason, cause }
    }

    /// A reason with a more precise cause than the table's (timeouts, transport failures).
    pub fn with_cause(reason: ReleaseCompleteReason, cause: u8) -> Self {
        Release { reason, cause }
    }
}
