//! RFC 3261 16.7 step 6: choosing the best final response among the branches a proxy tried.
//!
//! Pure ranking of status codes; it neither builds nor sends responses.

/// Whether `candidate` should replace `current` as the response to send upstream.
///
/// 6xx wins over everything (a global failure); otherwise the lowest class wins (3xx before 4xx
/// before 5xx), and within a class the first one received is kept, except that a 408 or a 503
/// that we made up for a dead branch gives way to anything a real peer said.
pub fn better(candidate: u16, current: Option<u16>) -> bool {
    let Some(current) = current else {
        return true;
    };
    let class = |s: u16| s / 100;
    if class(current) == 6 {
        return false;
    }
    if class(candidate) == 6 {
        return true;
    }
    let weak = |s: u16| s == 408 || s == 503;
    if class(candidate) < class(current) {
        return true;
    }
    if class(candidate) == class(current) {
        return weak(current) && !weak(candidate);
    }
    weak(current) && !weak(candidate) && class(candidate) <= 5
}

#[cfg(test)]
mod tests;
