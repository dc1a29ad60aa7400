//! Entry point for the fuzz target of the metrics endpoint's request parser (hidden from the
//! documentation, not part of the API).

use super::http::{parse_head, RequestError, Route};

/// What the endpoint's request parser made of `buf`: `Ok(None)` while incomplete,
/// `Ok(Some(route))` with the route's name, or the error's message.
pub fn parse_request_head(buf: &[u8]) -> Result<Option<&'static str>, String> {
    match parse_head(buf) {
        Ok(None) => Ok(None),
        Ok(Some(route)) => Ok(Some(match route {
            Route::Metrics => "metrics",
            Route::MetricsHead => "metrics-head",
            Route::NotFound => "not-found",
            Route::MethodNotAllowed => "method-not-allowed",
        })),
        Err(e @ (RequestError::TooLarge | RequestError::Malformed)) => Err(e.to_string()),
    }
}
