//! Registers a spec, lists its versions, creates credentials and authenticates with them, on the
//! in-memory backend. Run with `cargo run -p package-database --example quickstart`.

use package_database::{Database, MemoryDatabase, NewSpec, keys};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), package_database::Error> {
    let db = MemoryDatabase::new();
    let sub = "user-1";

    db.create_update_spec(&NewSpec::new(sub, "Pet_Store", "1.0.0", 2).with_title("Pet store"))
        .await?;
    for spec in db.list_specs(sub).await? {
        println!(
            "spec {} ({}) latest version {}",
            spec.id, spec.name, spec.version
        );
    }
    for version in db.list_spec_versions(sub, "pet-store").await? {
        println!(
            "  version {} at {} with {} models",
            version.version, version.updated_at, version.model_count
        );
    }
    println!("models in use: {}", db.count_customer_models(sub).await?);

    let created =
        keys::create_credentials(&db, sub, keys::DEFAULT_CREDENTIALS_ID, b"service secret").await?;
    let public_key = created.credentials.public_key.clone();
    println!("public key {public_key} (secret key shown to the user once, never stored)");

    let who = keys::authenticate(&db, &public_key, created.secret_key.expose_secret()).await?;
    println!("authenticated as {who:?}");
    let nobody = keys::authenticate(&db, &public_key, "sk_wrong").await?;
    println!("with a wrong secret: {nobody:?}");
    assert_eq!(who.as_deref(), Some(sub));
    assert_eq!(nobody, None);
    Ok(())
}
