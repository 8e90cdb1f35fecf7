//! Sources in S3: reads with a counted client, the HEAD/ETag check that tells whether a source
//! changed since the last import, and the bucket-to-bucket copy (CopyObject, or UploadPartCopy
//! in parts past 5 GiB) that publishes a file without downloading and uploading it again.

use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::Bytes;
use tokio::sync::OnceCell;

use super::db::DbError;
use crate::store::metrics::s3_client;

/// Largest object one CopyObject may copy; bigger ones are copied in parts.
pub const MAX_SINGLE_COPY: u64 = 5 << 30;
/// Size of each part of a multipart copy.
pub const COPY_PART_SIZE: u64 = 512 << 20;

/// An object named by an `s3://bucket/key` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    /// The bucket.
    pub bucket: String,
    /// The key.
    pub key: String,
}

/// The object an `s3://bucket/key` URL names (`None` for other URLs).
pub fn parse_s3(url: &str) -> Option<S3Location> {
    let (bucket, key) = url.strip_prefix("s3://")?.split_once('/')?;
    (!bucket.is_empty() && !key.is_empty()).then(|| S3Location {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
    })
}

/// What a HEAD says about a source object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// Its ETag (with the quotes S3 gives it).
    pub etag: String,
    /// Its size in bytes.
    pub size: u64,
}

fn source_err(loc: &S3Location, operation: &str, e: impl std::fmt::Debug) -> DbError {
    DbError::Source {
        url: format!("s3://{}/{}", loc.bucket, loc.key),
        message: format!("{operation}: {e:?}"),
    }
}

/// The client the importer reads sources with (default AWS configuration, path style, counted).
pub async fn client() -> &'static aws_sdk_s3::Client {
    static CLIENT: OnceCell<aws_sdk_s3::Client> = OnceCell::const_new();
    CLIENT
        .get_or_init(|| async {
            let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
            s3_client(&config)
        })
        .await
}

/// Downloads a source object (GetObject).
pub async fn get(loc: &S3Location) -> Result<Bytes, DbError> {
    let out = client()
        .await
        .get_object()
        .bucket(&loc.bucket)
        .key(&loc.key)
        .send()
        .await
        .map_err(|e| source_err(loc, "GetObject", e))?;
    let body = out
        .body
        .collect()
        .await
        .map_err(|e| source_err(loc, "GetObject body", e))?;
    Ok(body.into_bytes())
}

/// The ETag and size of a source object (HeadObject).
pub async fn head(loc: &S3Location) -> Result<Head, DbError> {
    let out = client()
        .await
        .head_object()
        .bucket(&loc.bucket)
        .key(&loc.key)
        .send()
        .await
        .map_err(|e| source_err(loc, "HeadObject", e))?;
    Ok(Head {
        etag: out.e_tag().unwrap_or_default().to_owned(),
        size: out.content_length().unwrap_or(0).max(0) as u64,
    })
}

async fn region(client: &aws_sdk_s3::Client, bucket: &str) -> Result<String, DbError> {
    let out = client
        .get_bucket_location()
        .bucket(bucket)
        .send()
        .await
        .map_err(|e| DbError::Source {
            url: format!("s3://{bucket}"),
            message: format!("GetBucketLocation: {e:?}"),
        })?;
    // No location constraint means us-east-1.
    Ok(out
        .location_constraint()
        .map(|c| c.as_str().to_owned())
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| "us-east-1".to_owned()))
}

/// Whether two buckets are in one region (so that a server-side copy is possible).
pub async fn same_region(client: &aws_sdk_s3::Client, a: &str, b: &str) -> Result<bool, DbError> {
    Ok(region(client, a).await? == region(client, b).await?)
}

fn copy_source(src: &S3Location) -> String {
    // The CopySource header is `bucket/key`, URL-encoded.
    let mut out = String::with_capacity(src.bucket.len() + src.key.len() + 1);
    out.push_str(&src.bucket);
    out.push('/');
    for b in src.key.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Copies `src` (as it was when its HEAD gave `head`: the copy fails if it changed since) to
/// `dst_bucket/dst_key` through `client` (the target's), server side: CopyObject up to
/// `max_single` bytes, else UploadPartCopy in parts of `part_size`. Returns the new version id.
pub async fn copy(
    client: &aws_sdk_s3::Client,
    src: &S3Location,
    head: &Head,
    dst_bucket: &str,
    dst_key: &str,
    max_single: u64,
    part_size: u64,
) -> Result<String, DbError> {
    let err = |operation: &str, e: &dyn std::fmt::Debug| DbError::Source {
        url: format!("s3://{}/{}", src.bucket, src.key),
        message: format!("{operation} to s3://{dst_bucket}/{dst_key}: {e:?}"),
    };
    let no_version = || DbError::Invalid(format!("bucket {dst_bucket} has no versioning"));
    if head.size <= max_single {
        let out = client
            .copy_object()
            .bucket(dst_bucket)
            .key(dst_key)
            .copy_source(copy_source(src))
            .copy_source_if_match(&head.etag)
            .send()
            .await
            .map_err(|e| err("CopyObject", &e))?;
        return out.version_id().map(str::to_owned).ok_or_else(no_version);
    }
    let part_size = part_size.max(5 << 20);
    let upload = client
        .create_multipart_upload()
        .bucket(dst_bucket)
        .key(dst_key)
        .send()
        .await
        .map_err(|e| err("CreateMultipartUpload", &e))?;
    let upload_id = upload.upload_id().unwrap_or_default().to_owned();
    let result = async {
        let mut parts = Vec::new();
        let mut start = 0u64;
        let mut number = 1i32;
        while start < head.size {
            let end = (start + part_size).min(head.size) - 1;
            let out = client
                .upload_part_copy()
                .bucket(dst_bucket)
                .key(dst_key)
                .upload_id(&upload_id)
                .part_number(number)
                .copy_source(copy_source(src))
                .copy_source_if_match(&head.etag)
                .copy_source_range(format!("bytes={start}-{end}"))
                .send()
                .await
                .map_err(|e| err("UploadPartCopy", &e))?;
            let etag = out
                .copy_part_result()
                .and_then(|r| r.e_tag())
                .unwrap_or_default();
            parts.push(
                CompletedPart::builder()
                    .part_number(number)
                    .e_tag(etag)
                    .build(),
            );
            start = end + 1;
            number += 1;
        }
        let done = client
            .complete_multipart_upload()
            .bucket(dst_bucket)
            .key(dst_key)
            .upload_id(&upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| err("CompleteMultipartUpload", &e))?;
        done.version_id().map(str::to_owned).ok_or_else(no_version)
    }
    .await;
    if let Err(e) = &result {
        // The copy's error is the one returned; a failed abort is reported beside it.
        if let Err(abort) = client
            .abort_multipart_upload()
            .bucket(dst_bucket)
            .key(dst_key)
            .upload_id(&upload_id)
            .send()
            .await
        {
            tracing::warn!(error = %e, abort = ?abort, "aborting a failed multipart copy failed");
        }
    }
    result
}
