//! The `Database` trait: every access pattern of the OpenAlchemy package database.

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;

use crate::error::Result;
use crate::model::{CredentialsInfo, NewCredentials, NewSpec, SpecInfo, User};

/// Per-user storage of API spec versions and API credentials.
///
/// Spec names are identified by their canonical form ([`canonicalize_name`](crate::canonicalize_name)),
/// so `My_Spec.Name` and `my-spec-name` are the same spec. Every backend passes the conformance
/// suite in [`testing`](crate#features) and behaves the same, including the original's rule that
/// two versions stored within the same second share one row (the later one wins).
#[async_trait]
pub trait Database: Send + Sync + Debug + 'static {
    /// The sum of `model_count` over the latest version of every spec of `sub` (0 when none).
    async fn count_customer_models(&self, sub: &str) -> Result<u64>;

    /// Stores a new version of a spec and makes it the latest, atomically.
    async fn create_update_spec(&self, spec: &NewSpec) -> Result<()>;

    /// The latest version of a spec; [`Error::NotFound`](crate::Error::NotFound) when there is none.
    async fn get_latest_spec_version(&self, sub: &str, name: &str) -> Result<String>;

    /// The latest version of every spec of `sub`, ordered by id.
    async fn list_specs(&self, sub: &str) -> Result<Vec<SpecInfo>>;

    /// The latest version of a spec; [`Error::NotFound`](crate::Error::NotFound) when there is none.
    async fn get_spec(&self, sub: &str, name: &str) -> Result<SpecInfo>;

    /// Deletes every version of a spec (exactly that spec: `a` never touches `a#b`); no-op when
    /// missing.
    async fn delete_spec(&self, sub: &str, name: &str) -> Result<()>;

    /// Every stored version of a spec, oldest first; [`Error::NotFound`](crate::Error::NotFound)
    /// when there is none.
    async fn list_spec_versions(&self, sub: &str, name: &str) -> Result<Vec<SpecInfo>>;

    /// Deletes every spec of `sub`.
    async fn delete_all_specs(&self, sub: &str) -> Result<()>;

    /// Every credentials of `sub`, ordered by id.
    async fn list_credentials(&self, sub: &str) -> Result<Vec<CredentialsInfo>>;

    /// Stores credentials, replacing any with the same `sub` and `id` (and so re-pointing the
    /// public key lookup of [`Database::get_user`]).
    async fn create_update_credentials(&self, credentials: &NewCredentials) -> Result<()>;

    /// The credentials `id` of `sub`, or `None`.
    async fn get_credentials(&self, sub: &str, id: &str) -> Result<Option<CredentialsInfo>>;

    /// The owner of a public key with the salt and secret key hash, or `None`.
    async fn get_user(&self, public_key: &str) -> Result<Option<User>>;

    /// Deletes the credentials `id` of `sub`; no-op when missing.
    async fn delete_credentials(&self, sub: &str, id: &str) -> Result<()>;

    /// Deletes every credentials of `sub`.
    async fn delete_all_credentials(&self, sub: &str) -> Result<()>;

    /// Deletes everything stored for `sub`: specs, then credentials.
    async fn delete_all(&self, sub: &str) -> Result<()> {
        self.delete_all_specs(sub).await?;
        self.delete_all_credentials(sub).await
    }
}

macro_rules! forward_database {
    ($($ty:ty),*) => {$(
        #[async_trait]
        impl<T: Database + ?Sized> Database for $ty {
            async fn count_customer_models(&self, sub: &str) -> Result<u64> {
                (**self).count_customer_models(sub).await
            }
            async fn create_update_spec(&self, spec: &NewSpec) -> Result<()> {
                (**self).create_update_spec(spec).await
            }
            async fn get_latest_spec_version(&self, sub: &str, name: &str) -> Result<String> {
                (**self).get_latest_spec_version(sub, name).await
            }
            async fn list_specs(&self, sub: &str) -> Result<Vec<SpecInfo>> {
                (**self).list_specs(sub).await
            }
            async fn get_spec(&self, sub: &str, name: &str) -> Result<SpecInfo> {
                (**self).get_spec(sub, name).await
            }
            async fn delete_spec(&self, sub: &str, name: &str) -> Result<()> {
                (**self).delete_spec(sub, name).await
            }
            async fn list_spec_versions(&self, sub: &str, name: &str) -> Result<Vec<SpecInfo>> {
                (**self).list_spec_versions(sub, name).await
            }
            async fn delete_all_specs(&self, sub: &str) -> Result<()> {
                (**self).delete_all_specs(sub).await
            }
            async fn list_credentials(&self, sub: &str) -> Result<Vec<CredentialsInfo>> {
                (**self).list_credentials(sub).await
            }
            async fn create_update_credentials(&self, credentials: &NewCredentials) -> Result<()> {
                (**self).create_update_credentials(credentials).await
            }
            async fn get_credentials(&self, sub: &str, id: &str) -> Result<Option<CredentialsInfo>> {
                (**self).get_credentials(sub, id).await
            }
            async fn get_user(&self, public_key: &str) -> Result<Option<User>> {
                (**self).get_user(public_key).await
            }
            async fn delete_credentials(&self, sub: &str, id: &str) -> Result<()> {
                (**self).delete_credentials(sub, id).await
            }
            async fn delete_all_credentials(&self, sub: &str) -> Result<()> {
                (**self).delete_all_credentials(sub).await
            }
            async fn delete_all(&self, sub: &str) -> Result<()> {
                (**self).delete_all(sub).await
            }
        }
    )*};
}

forward_database!(Arc<T>, Box<T>);
