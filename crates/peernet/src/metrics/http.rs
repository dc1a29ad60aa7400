//! A tiny HTTP/1.1 endpoint for Prometheus: `GET /metrics` (and `HEAD`) answers
//! [`Metrics::encode`]; other paths get 404, other methods 405, anything that is not an HTTP/1.x
//! request 400, a request head over [`MAX_REQUEST_BYTES`] 431. One request per connection
//! (`Connection: close`), [`REQUEST_TIMEOUT`] to send the request and as much to take the
//! answer, at most [`MAX_CONNECTIONS`] served at once (further ones wait in the kernel's queue).

use std::io;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use super::Metrics;

/// The content type of [`Metrics::encode`]'s output (OpenMetrics text 1.0.0).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// Largest request head (request line and headers) the endpoint reads.
pub const MAX_REQUEST_BYTES: usize = 8 * 1024;
/// Time a client gets to send its request head, and again to read the answer.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections the endpoint serves at once.
pub const MAX_CONNECTIONS: usize = 16;

/// Why a request was not understood. Both are the client's fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum RequestError {
    /// The request head grew past [`MAX_REQUEST_BYTES`] without ending (the client's fault).
    #[error("request head larger than {MAX_REQUEST_BYTES} bytes")]
    TooLarge,
    /// The request line is not `METHOD TARGET HTTP/1.x` (the client's fault).
    #[error("malformed request line")]
    Malformed,
}

/// What a complete, well-formed request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    /// `GET /metrics` (the query string is ignored).
    Metrics,
    /// `HEAD /metrics`: the headers of the answer, no body.
    MetricsHead,
    /// `GET` or `HEAD` of another path.
    NotFound,
    /// Another method.
    MethodNotAllowed,
}

/// Reads the request head in `buf`: `Ok(None)` while it is incomplete. Accepts `\r\n` and
/// bare `\n` line ends; only the request line is looked at.
pub(crate) fn parse_head(buf: &[u8]) -> Result<Option<Route>, RequestError> {
    let end = find(buf, b"\r\n\r\n")
        .map(|i| i + 4)
        .or_else(|| find(buf, b"\n\n").map(|i| i + 2));
    let Some(end) = end else {
        return if buf.len() >= MAX_REQUEST_BYTES {
            Err(RequestError::TooLarge)
        } else {
            Ok(None)
        };
    };
    if end > MAX_REQUEST_BYTES {
        return Err(RequestError::TooLarge);
    }
    let line_end = find(buf, b"\n").unwrap_or(0);
    let line = buf.get(..line_end).ok_or(RequestError::Malformed)?;
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let line = std::str::from_utf8(line).map_err(|_| RequestError::Malformed)?;
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(RequestError::Malformed);
    };
    if !version.starts_with("HTTP/1.") || method.is_empty() || !target.starts_with('/') {
        return Err(RequestError::Malformed);
    }
    let path = target.split('?').next().unwrap_or(target);
    let route = match (method, path) {
        ("GET", "/metrics") => Route::Metrics,
        ("HEAD", "/metrics") => Route::MetricsHead,
        ("GET" | "HEAD", _) => Route::NotFound,
        _ => Route::MethodNotAllowed,
    };
    Ok(Some(route))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Serves `metrics` on `listener` until accepting fails for a reason other than a connection
/// that went away before we took it; each connection on a task of its own.
///
/// # Errors
///
/// The listener's error (for example when the process runs out of file descriptors).
pub async fn serve(listener: TcpListener, metrics: Metrics) -> io::Result<()> {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let permit = Arc::clone(&slots)
            .acquire_owned()
            .await
            .map_err(io::Error::other)?;
        let socket = match listener.accept().await {
            Ok((socket, _)) => socket,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionAborted
                        | io::ErrorKind::ConnectionReset
                        | io::ErrorKind::Interrupted
                ) =>
            {
                continue
            }
            Err(e) => return Err(e),
        };
        let metrics = metrics.clone();
        tokio::spawn(async move {
            if let Err(e) = answer(socket, &metrics).await {
                tracing::debug!(error = %e, "metrics request failed");
            }
            drop(permit);
        });
    }
}

/// Reads one request and answers it.
async fn answer(mut socket: TcpStream, metrics: &Metrics) -> io::Result<()> {
    let route = match tokio::time::timeout(REQUEST_TIMEOUT, read_head(&mut socket)).await {
        Err(_) => return Err(io::Error::new(io::ErrorKind::TimedOut, "request timed out")),
        Ok(Err(e)) => return Err(e),
        Ok(Ok(route)) => route,
    };
    let response = match route {
        Ok(Route::Metrics) => response("200 OK", CONTENT_TYPE, &metrics.encode(), true),
        Ok(Route::MetricsHead) => response("200 OK", CONTENT_TYPE, &metrics.encode(), false),
        Ok(Route::NotFound) => response("404 Not Found", "text/plain", "not found\n", true),
        Ok(Route::MethodNotAllowed) => {
            response("405 Method Not Allowed", "text/plain", "GET only\n", true)
        }
        Err(RequestError::Malformed) => {
            response("400 Bad Request", "text/plain", "bad request\n", true)
        }
        Err(RequestError::TooLarge) => response(
            "431 Request Header Fields Too Large",
            "text/plain",
            "request too large\n",
            true,
        ),
    };
    let write = async {
        socket.write_all(&response).await?;
        socket.shutdown().await
    };
    tokio::time::timeout(REQUEST_TIMEOUT, write)
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "response timed out"))?
}

/// Reads until the request head is complete, too large or malformed.
async fn read_head(socket: &mut TcpStream) -> io::Result<Result<Route, RequestError>> {
    let mut buf = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    loop {
        let n = socket.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "client closed before the request was complete",
            ));
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
        match parse_head(&buf) {
            Ok(None) => {}
            Ok(Some(route)) => return Ok(Ok(route)),
            Err(e) => return Ok(Err(e)),
        }
    }
}

fn response(status: &str, content_type: &str, body: &str, with_body: bool) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    if status.starts_with("405") {
        out.push_str("Allow: GET, HEAD\r\n");
    }
    out.push_str("\r\n");
    let mut out = out.into_bytes();
    if with_body {
        out.extend_from_slice(body.as_bytes());
    }
    out
}
