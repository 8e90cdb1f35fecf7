//! How an S3 failure reads, shared by the S3 archive and the S3 bundle store: not found, or a
//! message and whether it is worth retrying.

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};

/// S3 error codes (from the response's error metadata) that mean "no such object".
const NOT_FOUND_CODES: &[&str] = &["NoSuchKey", "NotFound", "NoSuchBucket"];
/// S3 error codes worth retrying.
const RETRYABLE_CODES: &[&str] = &[
    "SlowDown",
    "InternalError",
    "ServiceUnavailable",
    "RequestTimeout",
];

/// What an S3 request's failure means.
pub(crate) enum S3Failure {
    /// The object (or bucket) is not there.
    NotFound,
    /// Anything else: what to say, and whether trying again may succeed.
    Failed {
        /// `"{what} {subject}"`, with the status and code S3 answered if it answered.
        message: String,
        /// Server errors, throttling, timeouts and connection failures.
        retryable: bool,
    },
}

/// Classifies the failure of `what` (an operation) on `subject` (a key or an id).
pub(crate) fn classify<E>(
    e: &SdkError<E, HttpResponse>,
    what: &str,
    subject: &dyn std::fmt::Display,
) -> S3Failure
where
    E: ProvideErrorMetadata,
{
    let (message, retryable) = match e {
        SdkError::ServiceError(ctx) => {
            let status = ctx.raw().status().as_u16();
            let code = e.code();
            // HEAD answers carry no body, so no code: the status says it.
            if status == 404 || code.is_some_and(|c| NOT_FOUND_CODES.contains(&c)) {
                return S3Failure::NotFound;
            }
            let retryable = status >= 500
                || status == 429
                || code.is_some_and(|c| RETRYABLE_CODES.contains(&c));
            let message = match code {
                Some(code) => format!("{what} {subject}: S3 answered {status} {code}"),
                None => format!("{what} {subject}: S3 answered {status}"),
            };
            (message, retryable)
        }
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            (format!("{what} {subject}"), true)
        }
        _ => (format!("{what} {subject}"), false),
    };
    S3Failure::Failed { message, retryable }
}
