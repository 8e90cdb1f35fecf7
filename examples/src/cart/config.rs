//! Settings: the original's environment names, command-line flags, embedded defaults.

use super::{Error, ServerOptions};
use cart_core::{Archive, CartStore, Engine, EngineConfig, LocalArchive, MemoryStore, SqliteStore};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The original's port.
pub const DEFAULT_PORT: u16 = 8081;
const DEFAULT_VOLUME: &str = "./cartd/volume";
const DEFAULT_ARCHIVE: &str = "./cartd/archive";
const DEFAULT_STORE: &str = "./cartd/carts.db";
/// Largest accepted `POST` body by default (16 MiB: about 100,000 file entries).
const DEFAULT_MAX_REQUEST_BYTES: usize = 16 << 20;

/// Cart server settings. Every field has a flag and an environment variable; the ones Pacifica
/// Cartd had keep its names (`VOLUME_PATH`, `LRU_BUFFER_TIME`, `ARCHIVE_INTERFACE_URL`).
#[derive(Debug, Clone, clap::Args)]
pub struct CartConfig {
    /// Address to listen on.
    #[arg(long, env = "CARTD_ADDRESS", default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    pub address: IpAddr,
    /// Port to listen on (0: any free port).
    #[arg(long, env = "CARTD_PORT", default_value_t = DEFAULT_PORT)]
    pub port: u16,
    /// Root directory of staged files and bundles.
    #[arg(long, env = "VOLUME_PATH", default_value = DEFAULT_VOLUME)]
    pub volume_path: PathBuf,
    /// Seconds during which a used cart is safe from LRU eviction (0: no buffer).
    #[arg(long, env = "LRU_BUFFER_TIME", default_value_t = 0)]
    pub lru_buffer_time: u64,
    /// The Pacifica archive interface (`http://host:port/`); when set it is the archive.
    #[arg(long, env = "ARCHIVE_INTERFACE_URL")]
    pub archive_interface_url: Option<String>,
    /// The archive when no archive interface is set: a directory (`./dir`, `file:///dir`) or
    /// `s3://bucket/prefix`.
    #[arg(long, env = "CARTD_ARCHIVE", default_value = DEFAULT_ARCHIVE)]
    pub archive: String,
    /// Where staged files and finished tars live: `s3://bucket/prefix` (shared by every server
    /// on the same cart store, so any server answers any cart; key layout in
    /// `cart_core::bundles`), or unset for the volume.
    #[arg(long, env = "CARTD_BUNDLES")]
    pub bundles: Option<String>,
    /// The cart store: a SQLite file (`./carts.db`, `sqlite://./carts.db`),
    /// `dynamodb://table` (shared by several servers) or `memory`.
    #[arg(long, env = "CARTD_STORE", default_value = DEFAULT_STORE)]
    pub store: String,
    /// This server's name in work leases (distinct per server when sharing a DynamoDB store).
    #[arg(long, env = "CARTD_NODE_ID", default_value = "local")]
    pub node_id: String,
    /// Carts worked on at once.
    #[arg(long, env = "CARTD_MAX_CARTS", default_value = "4")]
    pub max_concurrent_carts: NonZeroUsize,
    /// File transfers from the archive at once.
    #[arg(long, env = "CARTD_MAX_FILES", default_value = "8")]
    pub max_concurrent_files: NonZeroUsize,
    /// Seconds a file may take to become readable after staging.
    #[arg(long, env = "CARTD_STAGE_TIMEOUT", default_value_t = 3600)]
    pub stage_timeout: u64,
    /// Seconds in-flight downloads get to finish on shutdown before they are cut.
    #[arg(long, env = "CARTD_SHUTDOWN_GRACE", default_value_t = 30)]
    pub shutdown_grace: u64,
    /// Seconds between scans for carts whose work was abandoned (a dead server's carts in a
    /// shared store); 0: only at start.
    #[arg(long, env = "CARTD_RECOVER_INTERVAL", default_value_t = 60)]
    pub recover_interval: u64,
    /// Seconds a work lease lasts unless renewed (renewed every third of it); another server
    /// takes a cart over after seeing its lease unchanged this long.
    #[arg(long, env = "CARTD_LEASE_TTL", default_value_t = 60)]
    pub lease_ttl: u64,
    /// Seconds a deleted cart's record is kept before it is purged (checked with recovery).
    #[arg(long, env = "CARTD_DELETED_RETENTION", default_value_t = 86_400)]
    pub deleted_retention: u64,
    /// Largest accepted `POST` body, in bytes.
    #[arg(long, env = "CARTD_MAX_REQUEST_BYTES", default_value_t = DEFAULT_MAX_REQUEST_BYTES)]
    pub max_request_bytes: usize,
    /// Byte-identical tars (every mtime = the cart's creation time).
    #[arg(long, env = "CARTD_DETERMINISTIC_TAR")]
    pub deterministic_tar: bool,
    /// Bytes of the volume always left free.
    #[arg(long, env = "CARTD_SPACE_RESERVE", default_value_t = 0)]
    pub space_reserve: u64,
    /// Largest file accepted when the archive does not report its size, in bytes.
    #[arg(long, env = "CARTD_MAX_UNKNOWN_SIZE", default_value_t = 1 << 30)]
    pub max_unknown_size: u64,
    /// Downloads served at once (over it: 503 with `Retry-After`).
    #[arg(long, env = "CARTD_MAX_DOWNLOADS", default_value = "1024")]
    pub max_downloads: NonZeroUsize,
    /// Seconds a client has to send a request head (also the idle keep-alive timeout).
    #[arg(long, env = "CARTD_HEADER_TIMEOUT", default_value_t = 30)]
    pub header_read_timeout: u64,
    /// Seconds to produce a response head (a download's body then streams without limit).
    #[arg(long, env = "CARTD_REQUEST_TIMEOUT", default_value_t = 60)]
    pub request_timeout: u64,
}

impl Default for CartConfig {
    fn default() -> Self {
        let engine = EngineConfig::default();
        CartConfig {
            address: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: DEFAULT_PORT,
            volume_path: PathBuf::from(DEFAULT_VOLUME),
            lru_buffer_time: 0,
            archive_interface_url: None,
            archive: DEFAULT_ARCHIVE.to_owned(),
            bundles: None,
            store: DEFAULT_STORE.to_owned(),
            node_id: engine.node_id,
            max_concurrent_carts: engine.max_concurrent_carts,
            max_concurrent_files: engine.max_concurrent_files,
            stage_timeout: engine.stage_timeout.as_secs(),
            shutdown_grace: 30,
            recover_interval: 60,
            lease_ttl: engine.lease_ttl.as_secs(),
            deleted_retention: engine.deleted_retention.as_secs(),
            max_request_bytes: DEFAULT_MAX_REQUEST_BYTES,
            deterministic_tar: false,
            space_reserve: 0,
            max_unknown_size: engine.max_unknown_size,
            max_downloads: NonZeroUsize::new(1024).unwrap_or(NonZeroUsize::MIN),
            header_read_timeout: 30,
            request_timeout: 60,
        }
    }
}

/// The store named by a `--store` value.
#[derive(Debug, Clone, PartialEq, Eq)]
enum StoreKind {
    Memory,
    Sqlite(PathBuf),
    DynamoDb(String),
}

fn store_kind(spec: &str) -> Result<StoreKind, Error> {
    let spec = spec.trim();
    if spec == "memory" {
        return Ok(StoreKind::Memory);
    }
    if let Some(table) = spec.strip_prefix("dynamodb://") {
        if table.is_empty() || table.contains('/') {
            return Err(Error::Config(format!("bad DynamoDB table in {spec:?}")));
        }
        return Ok(StoreKind::DynamoDb(table.to_owned()));
    }
    let path = spec
        .strip_prefix("sqlite://")
        .or_else(|| spec.strip_prefix("file://"))
        .unwrap_or(spec);
    if path.is_empty() || path.contains("://") {
        return Err(Error::Config(format!(
            "bad store {spec:?} (use a SQLite file path, dynamodb://table or memory)"
        )));
    }
    Ok(StoreKind::Sqlite(PathBuf::from(path)))
}

/// The archive named by the settings.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ArchiveKind {
    Pacifica(String),
    Local(PathBuf),
    S3 { bucket: String, prefix: String },
}

fn archive_kind(interface_url: Option<&str>, spec: &str) -> Result<ArchiveKind, Error> {
    if let Some(url) = interface_url.map(str::trim).filter(|u| !u.is_empty()) {
        return Ok(ArchiveKind::Pacifica(url.to_owned()));
    }
    let spec = spec.trim();
    if spec.starts_with("http://") || spec.starts_with("https://") {
        return Ok(ArchiveKind::Pacifica(spec.to_owned()));
    }
    if let Some(rest) = spec.strip_prefix("s3://") {
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(Error::Config(format!("no bucket in {spec:?}")));
        }
        return Ok(ArchiveKind::S3 {
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
        });
    }
    let path = spec.strip_prefix("file://").unwrap_or(spec);
    if path.is_empty() || path.contains("://") {
        return Err(Error::Config(format!(
            "bad archive {spec:?} (use a directory, s3://bucket/prefix or http(s)://)"
        )));
    }
    Ok(ArchiveKind::Local(PathBuf::from(path)))
}

/// The bucket and prefix of a `--bundles` value (`s3://bucket/prefix`; a prefix that is not
/// empty gets a trailing `/`).
fn bundles_kind(spec: &str) -> Result<(String, String), Error> {
    let spec = spec.trim();
    let Some(rest) = spec.strip_prefix("s3://") else {
        return Err(Error::Config(format!(
            "bad bundle store {spec:?} (use s3://bucket/prefix, or leave it unset for the volume)"
        )));
    };
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(Error::Config(format!("no bucket in {spec:?}")));
    }
    let mut prefix = prefix.to_owned();
    if !prefix.is_empty() && !prefix.ends_with('/') {
        prefix.push('/');
    }
    Ok((bucket.to_owned(), prefix))
}

async fn aws_config() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

async fn s3_client() -> aws_sdk_s3::Client {
    let config = aws_config().await;
    // Emulators and most S3-compatible stores need path-style addressing.
    let path_style = std::env::var_os("AWS_ENDPOINT_URL").is_some()
        || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some();
    let s3 = aws_sdk_s3::config::Builder::from(&config)
        .force_path_style(path_style)
        .build();
    aws_sdk_s3::Client::from_conf(s3)
}

impl CartConfig {
    /// Defaults with every path under `dir` (`dir/volume`, `dir/archive`, `dir/carts.db`).
    pub fn in_dir(dir: impl AsRef<Path>) -> Self {
        let dir = dir.as_ref();
        CartConfig {
            volume_path: dir.join("volume"),
            archive: dir.join("archive").display().to_string(),
            store: dir.join("carts.db").display().to_string(),
            ..CartConfig::default()
        }
    }

    /// The address to listen on.
    pub fn socket_addr(&self) -> SocketAddr {
        SocketAddr::new(self.address, self.port)
    }

    /// The engine settings these flags give.
    pub fn engine_config(&self) -> EngineConfig {
        EngineConfig {
            node_id: self.node_id.clone(),
            max_concurrent_carts: self.max_concurrent_carts,
            max_concurrent_files: self.max_concurrent_files,
            stage_timeout: Duration::from_secs(self.stage_timeout),
            lru_buffer: Duration::from_secs(self.lru_buffer_time),
            deleted_retention: Duration::from_secs(self.deleted_retention),
            lease_ttl: Duration::from_secs(self.lease_ttl.max(1)),
            deterministic_tar: self.deterministic_tar,
            space_reserve: self.space_reserve,
            max_unknown_size: self.max_unknown_size,
            ..EngineConfig::default()
        }
    }

    /// The HTTP server settings these flags give.
    pub fn server_options(&self) -> ServerOptions {
        ServerOptions {
            shutdown_grace: Duration::from_secs(self.shutdown_grace),
            recover_interval: (self.recover_interval > 0)
                .then(|| Duration::from_secs(self.recover_interval)),
            max_request_bytes: self.max_request_bytes,
            max_downloads: self.max_downloads,
            header_read_timeout: Duration::from_secs(self.header_read_timeout.max(1)),
            request_timeout: Duration::from_secs(self.request_timeout.max(1)),
        }
    }

    /// Opens the store (creating a SQLite file's directory, or a DynamoDB table, if missing).
    pub async fn open_store(&self) -> Result<Arc<dyn CartStore>, Error> {
        Ok(match store_kind(&self.store)? {
            StoreKind::Memory => Arc::new(MemoryStore::new()),
            StoreKind::Sqlite(path) => {
                if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    tokio::fs::create_dir_all(parent).await?;
                }
                Arc::new(SqliteStore::open(&path).await?)
            }
            StoreKind::DynamoDb(table) => {
                let client = aws_sdk_dynamodb::Client::new(&aws_config().await);
                let store = cart_core::DynamoDbStore::new(client, table);
                store.create_table().await?;
                Arc::new(store)
            }
        })
    }

    /// Opens the archive (creating a local archive directory if missing).
    pub async fn open_archive(&self) -> Result<Arc<dyn Archive>, Error> {
        Ok(
            match archive_kind(self.archive_interface_url.as_deref(), &self.archive)? {
                ArchiveKind::Pacifica(url) => Arc::new(cart_core::PacificaArchive::new(url)?),
                ArchiveKind::Local(dir) => {
                    tokio::fs::create_dir_all(&dir).await?;
                    Arc::new(LocalArchive::new(&dir)?)
                }
                ArchiveKind::S3 { bucket, prefix } => Arc::new(
                    cart_core::S3Archive::new(s3_client().await, bucket).with_prefix(prefix),
                ),
            },
        )
    }

    /// The engine on the configured store, archive and volume.
    pub async fn build_engine(&self) -> Result<Engine, Error> {
        let store = self.open_store().await?;
        let archive = self.open_archive().await?;
        let mut builder = Engine::builder(store, archive)
            .volume(&self.volume_path)
            .config(self.engine_config());
        if let Some(spec) = self.bundles.as_deref().filter(|s| !s.trim().is_empty()) {
            let (bucket, prefix) = bundles_kind(spec)?;
            let bundles = cart_core::S3Bundles::new(s3_client().await, bucket, prefix);
            builder = builder.bundles(Arc::new(bundles));
        }
        Ok(builder.build()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        config: CartConfig,
    }

    #[test]
    fn flag_defaults_match_default() {
        let parsed = Cli::try_parse_from(["cart-server"]).unwrap().config;
        let default = CartConfig::default();
        assert_eq!(
            format!("{:?}", parsed.engine_config()),
            format!("{:?}", default.engine_config())
        );
        assert_eq!(parsed.socket_addr(), default.socket_addr());
        assert_eq!(parsed.volume_path, default.volume_path);
        assert_eq!(parsed.store, default.store);
        assert_eq!(parsed.archive, default.archive);
        assert_eq!(parsed.server_options(), default.server_options());
    }

    #[test]
    fn the_original_environment_names_are_read() {
        use clap::CommandFactory;
        let command = Cli::command();
        let env = |id: &str| {
            command
                .get_arguments()
                .find(|a| a.get_id() == id)
                .and_then(|a| a.get_env())
                .and_then(|e| e.to_str())
                .map(str::to_owned)
        };
        assert_eq!(env("volume_path").as_deref(), Some("VOLUME_PATH"));
        assert_eq!(env("lru_buffer_time").as_deref(), Some("LRU_BUFFER_TIME"));
        assert_eq!(
            env("archive_interface_url").as_deref(),
            Some("ARCHIVE_INTERFACE_URL")
        );
    }

    #[test]
    fn flags_set_the_engine() {
        let c = Cli::try_parse_from([
            "cart-server",
            "--lru-buffer-time",
            "90",
            "--port",
            "0",
            "--max-concurrent-files",
            "3",
            "--recover-interval",
            "0",
        ])
        .unwrap()
        .config;
        assert_eq!(c.engine_config().lru_buffer, Duration::from_secs(90));
        assert_eq!(c.engine_config().max_concurrent_files.get(), 3);
        assert_eq!(c.socket_addr().port(), 0);
        assert_eq!(c.server_options().recover_interval, None);
        assert!(Cli::try_parse_from(["cart-server", "--max-concurrent-carts", "0"]).is_err());
    }

    #[test]
    fn store_specs() {
        assert_eq!(store_kind("memory").unwrap(), StoreKind::Memory);
        assert_eq!(
            store_kind("sqlite://./a.db").unwrap(),
            StoreKind::Sqlite("./a.db".into())
        );
        assert_eq!(
            store_kind("a.db").unwrap(),
            StoreKind::Sqlite("a.db".into())
        );
        assert_eq!(
            store_kind("dynamodb://carts").unwrap(),
            StoreKind::DynamoDb("carts".into())
        );
        assert!(matches!(store_kind("dynamodb://"), Err(Error::Config(_))));
        assert!(matches!(store_kind("redis://x"), Err(Error::Config(_))));
        assert!(matches!(store_kind(""), Err(Error::Config(_))));
    }

    #[test]
    fn bundles_specs() {
        assert_eq!(
            bundles_kind("s3://b/some/prefix").unwrap(),
            ("b".to_owned(), "some/prefix/".to_owned())
        );
        assert_eq!(
            bundles_kind("s3://b").unwrap(),
            ("b".to_owned(), String::new())
        );
        assert!(matches!(bundles_kind("s3:///p"), Err(Error::Config(_))));
        assert!(matches!(bundles_kind("/srv/x"), Err(Error::Config(_))));
        let c = Cli::try_parse_from(["cart-server", "--bundles", "s3://b/p"])
            .unwrap()
            .config;
        assert_eq!(c.bundles.as_deref(), Some("s3://b/p"));
    }

    #[test]
    fn archive_specs() {
        let url = "http://127.0.0.1:8080/";
        assert_eq!(
            archive_kind(Some(url), "./dir").unwrap(),
            ArchiveKind::Pacifica(url.into())
        );
        assert_eq!(
            archive_kind(Some(" "), "./dir").unwrap(),
            ArchiveKind::Local("./dir".into())
        );
        assert_eq!(
            archive_kind(None, "file:///srv/a").unwrap(),
            ArchiveKind::Local("/srv/a".into())
        );
        assert_eq!(
            archive_kind(None, "s3://bucket/some/prefix/").unwrap(),
            ArchiveKind::S3 {
                bucket: "bucket".into(),
                prefix: "some/prefix/".into()
            }
        );
        assert!(matches!(
            archive_kind(None, "s3:///x"),
            Err(Error::Config(_))
        ));
        assert!(matches!(
            archive_kind(None, "ftp://x"),
            Err(Error::Config(_))
        ));
    }
}
