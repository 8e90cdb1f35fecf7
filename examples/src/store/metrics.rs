//! S3 requests counted per operation and bucket, for every S3 client the examples build (the
//! store's and the importer's source client), so tests and tools can say how many requests a
//! `read`, a `hisRead` or an import cost.

use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// Requests sent, by (operation, bucket). Buckets are read from path-style URLs.
#[derive(Debug, Default)]
pub struct S3Requests {
    counts: Mutex<BTreeMap<(String, String), u64>>,
}

impl S3Requests {
    /// The process-wide counter every client of the examples reports to.
    pub fn global() -> &'static S3Requests {
        static GLOBAL: OnceLock<S3Requests> = OnceLock::new();
        GLOBAL.get_or_init(S3Requests::default)
    }

    fn record(&self, operation: &str, bucket: &str) {
        if let Ok(mut c) = self.counts.lock() {
            *c.entry((operation.to_owned(), bucket.to_owned()))
                .or_default() += 1;
        }
    }

    /// Requests of `operation` (e.g. `GetObject`) sent to `bucket` so far.
    pub fn count(&self, operation: &str, bucket: &str) -> u64 {
        self.counts
            .lock()
            .ok()
            .and_then(|c| c.get(&(operation.to_owned(), bucket.to_owned())).copied())
            .unwrap_or(0)
    }

    /// Every request sent to `bucket` so far, by operation.
    pub fn for_bucket(&self, bucket: &str) -> BTreeMap<String, u64> {
        self.counts
            .lock()
            .map(|c| {
                c.iter()
                    .filter(|((_, b), _)| b == bucket)
                    .map(|((op, _), n)| (op.clone(), *n))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// All requests of `bucket`, summed.
    pub fn total(&self, bucket: &str) -> u64 {
        self.for_bucket(bucket).values().sum()
    }
}

/// The interceptor that feeds [`S3Requests::global`].
#[derive(Debug, Clone, Copy, Default)]
pub struct CountRequests;

impl Intercept for CountRequests {
    fn name(&self) -> &'static str {
        "CountRequests"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let operation = cfg.load::<Metadata>().map_or("?", Metadata::name);
        let uri = context.request().uri();
        // Path style: scheme://host/bucket/key...
        let path = uri.split_once("://").map_or(uri, |(_, rest)| rest);
        let bucket = path
            .split_once('/')
            .map(|(_, p)| p.split(['/', '?']).next().unwrap_or(""))
            .unwrap_or("");
        S3Requests::global().record(operation, bucket);
        Ok(())
    }
}

/// An S3 client from `config` with path-style addressing (as local emulators need) whose
/// requests are counted.
pub fn s3_client(config: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::config::Builder::from(config)
        .force_path_style(true)
        .interceptor(CountRequests)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}
