//! Tests of `call::release`: the H.225.0 table "ReleaseCompleteReason codes" (section 7.4.2)
//! for the reasons route failures are reported with.

use super::*;
use crate::call::release::route_failure_reason;

#[test]
fn h225_table_for_route_failures() {
    let c = |f| reason_cause(&route_failure_reason(&f));
    assert_eq!(c(RouteFailure::NotRegistered), 20);
    assert_eq!(c(RouteFailure::Unreachable), 3);
    assert_eq!(c(RouteFailure::Refused), 111);
    assert_eq!(c(RouteFailure::CallerNotRegistered), 31);
    assert_eq!(
        reason_cause(&ReleaseCompleteReason::gatekeeperResources(())),
        47
    );
    assert_eq!(
        reason_name(&ReleaseCompleteReason::calledPartyNotRegistered(())),
        "calledPartyNotRegistered"
    );
}
