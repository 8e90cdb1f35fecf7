//! The conformance scenarios. Each panics, naming what went wrong, when the backend misbehaves.

use crate::clock::ManualClock;
use crate::database::Database;
use crate::error::{Error, Missing};
use crate::keys;
use crate::model::{NewCredentials, NewSpec, SpecInfo};

/// The time every scenario starts at (the spec's wire example).
pub const START: u64 = 1_612_345_678;
/// How many versions [`many_versions`] stores for one spec.
pub const MANY_VERSIONS: u64 = 2_000;
/// How many specs [`many_specs`] stores for one user.
pub const MANY_SPECS: usize = 150;

fn spec(sub: &str, name: &str, version: &str, model_count: u64) -> NewSpec {
    NewSpec::new(sub, name, version, model_count)
}

fn expected(new: &NewSpec, updated_at: u64) -> SpecInfo {
    SpecInfo::from_new(new, crate::canonicalize_name(&new.name), updated_at)
}

async fn put(db: &dyn Database, new: &NewSpec) {
    if let Err(e) = db.create_update_spec(new).await {
        panic!("create_update_spec({new:?}) failed: {e}");
    }
}

fn ok<T>(what: &str, result: Result<T, Error>) -> T {
    match result {
        Ok(value) => value,
        Err(e) => panic!("{what} failed: {e} ({e:?})"),
    }
}

fn assert_spec_not_found<T: std::fmt::Debug>(
    what: &str,
    result: Result<T, Error>,
    sub: &str,
    name: &str,
) {
    match result {
        Err(Error::NotFound(Missing::Spec { sub: s, name: n })) => {
            assert_eq!(
                (s.as_str(), n.as_str()),
                (sub, name),
                "{what}: NotFound names the spec"
            );
        }
        other => panic!("{what}: expected NotFound for spec {name:?} of {sub:?}, got {other:?}"),
    }
}

fn versions_of(infos: &[SpecInfo]) -> Vec<&str> {
    infos.iter().map(|i| i.version.as_str()).collect()
}

/// A spec written with title and description reads back identically from every access pattern.
pub async fn spec_round_trip(db: &dyn Database, clock: &ManualClock) {
    let sub = "conformance-round-trip";
    clock.set(START);
    let new = spec(sub, "My_Spec.Name", "1.0.0", 3)
        .with_title("Pet store")
        .with_description("Pets, owners and visits");
    put(db, &new).await;
    let info = expected(&new, START);
    assert_eq!(info.id, "my-spec-name");
    assert_eq!(ok("get_spec", db.get_spec(sub, "My_Spec.Name").await), info);
    assert_eq!(
        ok("get_spec by id", db.get_spec(sub, "my-spec-name").await),
        info
    );
    assert_eq!(
        ok(
            "get_latest_spec_version",
            db.get_latest_spec_version(sub, "My_Spec.Name").await
        ),
        "1.0.0"
    );
    assert_eq!(
        ok("list_specs", db.list_specs(sub).await),
        vec![info.clone()]
    );
    assert_eq!(
        ok(
            "list_spec_versions",
            db.list_spec_versions(sub, "My_Spec.Name").await
        ),
        vec![info]
    );
    assert_eq!(
        ok("count_customer_models", db.count_customer_models(sub).await),
        3
    );
}

/// Title and description are absent (not empty) when not given, also after an update drops them.
pub async fn absent_title_and_description(db: &dyn Database, clock: &ManualClock) {
    let sub = "conformance-absent-optionals";
    clock.set(START);
    put(db, &spec(sub, "plain", "1", 1)).await;
    let info = ok("get_spec", db.get_spec(sub, "plain").await);
    assert_eq!((info.title, info.description), (None, None));

    clock.advance(1);
    put(
        db,
        &spec(sub, "plain", "2", 1)
            .with_title("T")
            .with_description(""),
    )
    .await;
    let info = ok("get_spec", db.get_spec(sub, "plain").await);
    assert_eq!(info.title.as_deref(), Some("T"));
    assert_eq!(
        info.description.as_deref(),
        Some(""),
        "an empty description is kept"
    );

    clock.advance(1);
    put(db, &spec(sub, "plain", "3", 1)).await;
    let info = ok("get_spec", db.get_spec(sub, "plain").await);
    assert_eq!(
        (info.title, info.description),
        (None, None),
        "latest row fully replaced"
    );
    let versions = ok(
        "list_spec_versions",
        db.list_spec_versions(sub, "plain").await,
    );
    assert_eq!(versions_of(&versions), ["1", "2", "3"]);
    assert_eq!(versions[1].title.as_deref(), Some("T"));
}

/// Reads of a missing spec say which spec was not found; counts and lists are empty.
pub async fn missing_spec_is_not_found(db: &dyn Database, _clock: &ManualClock) {
    let sub = "conformance-missing";
    assert_spec_not_found("get_spec", db.get_spec(sub, "Nope").await, sub, "Nope");
    assert_spec_not_found(
        "get_latest_spec_version",
        db.get_latest_spec_version(sub, "Nope").await,
        sub,
        "Nope",
    );
    assert_spec_not_found(
        "list_spec_versions",
        db.list_spec_versions(sub, "Nope").await,
        sub,
        "Nope",
    );
    assert_eq!(
        ok("count_customer_models", db.count_customer_models(sub).await),
        0
    );
    assert!(ok("list_specs", db.list_specs(sub).await).is_empty());
}

/// Names with the same canonical form are one spec; `NAME 1` and `name_1` are two.
pub async fn canonical_name_collisions(db: &dyn Database, clock: &ManualClock) {
    let sub = "conformance-canonical";
    clock.set(START);
    put(db, &spec(sub, "My_Spec.Name", "1", 1)).await;
    clock.advance(1);
    put(db, &spec(sub, "my-spec--name", "2", 2)).await;
    let latest = ok("get_spec", db.get_spec(sub, "MY.SPEC_NAME").await);
    assert_eq!(
        (latest.id.as_str(), latest.name.as_str()),
        ("my-spec-name", "my-spec--name")
    );
    let versions = ok(
        "list_spec_versions",
        db.list_spec_versions(sub, "my_spec_name").await,
    );
    assert_eq!(versions_of(&versions), ["1", "2"]);
    assert_eq!(
        versions[0].name, "My_Spec.Name",
        "each version keeps its own name"
    );

    put(db, &spec(sub, "NAME 1", "a", 1)).await;
    put(db, &spec(sub, "name_1", "b", 1)).await;
    let ids: Vec<String> = ok("list_specs", db.list_specs(sub).await)
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(ids, ["my-spec-name", "name 1", "name-1"]);
    assert_eq!(
        ok(
            "get_latest",
            db.get_latest_spec_version(sub, "name 1").await
        ),
        "a"
    );
    assert_eq!(
        ok(
            "get_latest",
            db.get_latest_spec_version(sub, "NAME-1").await
        ),
        "b"
    );
    assert_eq!(
        ok("count_customer_models", db.count_customer_models(sub).await),
        4
    );
}

/// Two versions stored within one second share a row: the later one wins, as in the original.
pub async fn two_versions_in_one_second(db: &dyn Database, clock: &ManualClock) {
    let sub = "conformance-same-second";
    clock.set(START);
    put(db, &spec(sub, "spec", "1", 1)).await;
    put(db, &spec(sub, "spec", "2", 2)).await;
    let versions = ok(
        "list_spec_versions",
        db.list_spec_versions(sub, "spec").await,
    );
    assert_eq!(versions_of(&versions), ["2"]);
    assert_eq!(
        ok("get_latest", db.get_latest_spec_version(sub, "spec").await),
        "2"
    );
    clock.advance(1);
    put(db, &spec(sub, "spec", "3", 3)).await;
    let versions = ok(
        "list_spec_versions",
        db.list_spec_versions(sub, "spec").await,
    );
    assert_eq!(versions_of(&versions), ["2", "3"]);
    assert_eq!(versions[1].updated_at, START + 1);
    assert_eq!(
        ok("count_customer_models", db.count_customer_models(sub).await),
        3
    );
}

/// Specs and credentials are listed by id; versions oldest first, by time, not by text.
pub async fn list_ordering(db: &dyn Database, clock: &ManualClock) {
    let sub = "conformance-ordering";
    for (time, name) in [(9, "b"), (10, "a#b"), (100, "a"), (11, "C")] {
        clock.set(time);
        put(db, &spec(sub, name, &time.to_string(), 1)).await;
    }
    let ids: Vec<String> = ok("list_specs", db.list_specs(sub).await)
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(ids, ["a", "a#b", "b", "c"]);

    for time in [100, 9, 10] {
        clock.set(time);
        put(db, &spec(sub, "timed", &time.to_string(), 1)).await;
    }
    let versions = ok(
        "list_spec_versions",
        db.list_spec_versions(sub, "timed").await,
    );
    assert_eq!(versions_of(&versions), ["9", "10", "100"]);
    assert_eq!(
        ok("get_latest", db.get_latest_spec_version(sub, "timed").await),
        "10",
        "latest is the last written, whatever its time"
    );

    for id in ["z", "default", "b"] {
        let creds = NewCredentials::new(sub, id, format!("pk_order_{id}"), vec![1], vec![2]);
        ok(
            "create_update_credentials",
            db.create_update_credentials(&creds).await,
        );
    }
    let ids: Vec<String> = ok("list_credentials", db.list_credentials(sub).await)
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(ids, ["b", "default", "z"]);
}

/// One user never sees or deletes another's specs or credentials.
pub async fn per_user_isolation(db: &dyn Database, clock: &ManualClock) {
    let (a, b) = ("conformance-isolation-a", "conformance-isolation-b");
    clock.set(START);
    put(db, &spec(a, "shared", "a1", 1)).await;
    put(db, &spec(b, "shared", "b1", 10)).await;
    for sub in [a, b] {
        let creds = NewCredentials::new(sub, "default", format!("pk_iso_{sub}"), vec![1], vec![2]);
        ok(
            "create_update_credentials",
            db.create_update_credentials(&creds).await,
        );
    }
    assert_eq!(
        ok("get_latest", db.get_latest_spec_version(a, "shared").await),
        "a1"
    );
    assert_eq!(
        ok("get_latest", db.get_latest_spec_version(b, "shared").await),
        "b1"
    );
    assert_eq!(ok("count", db.count_customer_models(a).await), 1);
    assert_eq!(
        ok("versions", db.list_spec_versions(b, "shared").await).len(),
        1
    );

    ok("delete_all", db.delete_all(a).await);
    assert!(ok("list_specs", db.list_specs(a).await).is_empty());
    assert!(ok("list_credentials", db.list_credentials(a).await).is_empty());
    assert_eq!(
        ok("get_user", db.get_user(&format!("pk_iso_{a}")).await),
        None
    );
    assert_eq!(
        ok("get_latest", db.get_latest_spec_version(b, "shared").await),
        "b1"
    );
    assert_eq!(
        ok("list_credentials", db.list_credentials(b).await).len(),
        1
    );
    let user = ok("get_user", db.get_user(&format!("pk_iso_{b}")).await);
    assert_eq!(user.map(|u| u.sub).as_deref(), Some(b));
}

/// Spec `a` never matches spec `a#b` (ids may contain `#`), nor `latest` match `latest#x`.
pub async fn exact_filtering(db: &dyn Database, clock: &ManualClock) {
    let sub = "conformance-exact";
    clock.set(START);
    for name in ["a", "a#b", "a#latest", "latest", "latest#x"] {
        put(db, &spec(sub, name, &format!("{name} v1"), 1)).await;
    }
    clock.advance(1);
    put(db, &spec(sub, "a#b", "a#b v2", 1)).await;
    for name in ["a", "latest"] {
        let versions = ok("list_spec_versions", db.list_spec_versions(sub, name).await);
        assert_eq!(
            versions_of(&versions),
            [format!("{name} v1")],
            "versions of {name:?}"
        );
    }
    let versions = ok(
        "list_spec_versions",
        db.list_spec_versions(sub, "a#b").await,
    );
    assert_eq!(versions_of(&versions), ["a#b v1", "a#b v2"]);

    ok("delete_spec", db.delete_spec(sub, "a").await);
    assert_spec_not_found("get_spec", db.get_spec(sub, "a").await, sub, "a");
    assert_spec_not_found("versions", db.list_spec_versions(sub, "a").await, sub, "a");
    assert_eq!(
        ok("versions a#b", db.list_spec_versions(sub, "a#b").await).len(),
        2
    );
    assert_eq!(
        ok(
            "versions a#latest",
            db.list_spec_versions(sub, "a#latest").await
        )
        .len(),
        1
    );
    ok("delete_spec", db.delete_spec(sub, "latest").await);
    assert_eq!(
        ok(
            "get_latest",
            db.get_latest_spec_version(sub, "latest#x").await
        ),
        "latest#x v1"
    );
    assert_eq!(ok("count", db.count_customer_models(sub).await), 3);
}

/// Deleting what does not exist succeeds and changes nothing else.
pub async fn deleting_missing_items(db: &dyn Database, clock: &ManualClock) {
    let sub = "conformance-delete-missing";
    clock.set(START);
    put(db, &spec(sub, "kept", "1", 1)).await;
    ok("delete_spec", db.delete_spec(sub, "missing").await);
    ok(
        "delete_credentials",
        db.delete_credentials(sub, "missing").await,
    );
    ok(
        "delete_all_specs",
        db.delete_all_specs("conformance-nobody").await,
    );
    ok(
        "delete_all_credentials",
        db.delete_all_credentials("conformance-nobody").await,
    );
    ok("delete_all", db.delete_all("conformance-nobody").await);
    assert_eq!(
        ok("get_latest", db.get_latest_spec_version(sub, "kept").await),
        "1"
    );
    ok("delete_spec", db.delete_spec(sub, "kept").await);
    ok("delete_spec twice", db.delete_spec(sub, "kept").await);
    assert!(ok("list_specs", db.list_specs(sub).await).is_empty());
}

/// The model count sums the latest version of every spec; the latest row keeps the real time.
pub async fn count_and_latest_time(db: &dyn Database, clock: &ManualClock) {
    let sub = "conformance-count";
    clock.set(START);
    put(db, &spec(sub, "x", "1", 3)).await;
    clock.set(START + 60);
    put(db, &spec(sub, "x", "2", 5)).await;
    put(db, &spec(sub, "y", "1", 2)).await;
    assert_eq!(ok("count", db.count_customer_models(sub).await), 7);
    let x = ok("get_spec", db.get_spec(sub, "x").await);
    assert_eq!((x.updated_at, x.model_count), (START + 60, 5));
    let listed = ok("list_specs", db.list_specs(sub).await);
    assert!(listed.iter().all(|s| s.updated_at == START + 60));
    ok("delete_all_specs", db.delete_all_specs(sub).await);
    assert_eq!(ok("count", db.count_customer_models(sub).await), 0);
}

/// Credentials (binary salt and hash included) read back from every access pattern.
pub async fn credentials_round_trip(db: &dyn Database, _clock: &ManualClock) {
    let sub = "conformance-credentials";
    let salt = b"\xffsalt\x00".to_vec();
    let hash = vec![0u8, 1, 2, 254, 255];
    let creds = NewCredentials::new(sub, "default", "pk_round_trip", hash.clone(), salt.clone());
    ok(
        "create_update_credentials",
        db.create_update_credentials(&creds).await,
    );
    let info = ok("get_credentials", db.get_credentials(sub, "default").await);
    let info = info.unwrap_or_else(|| panic!("get_credentials found nothing"));
    assert_eq!(
        (info.id.as_str(), info.public_key.as_str()),
        ("default", "pk_round_trip")
    );
    assert_eq!(info.salt, salt);
    assert_eq!(
        ok("list_credentials", db.list_credentials(sub).await),
        vec![info]
    );
    let user = ok("get_user", db.get_user("pk_round_trip").await);
    let user = user.unwrap_or_else(|| panic!("get_user found nothing"));
    assert_eq!(
        (user.sub.as_str(), &user.salt, &user.secret_key_hash),
        (sub, &salt, &hash)
    );
    assert_eq!(
        ok("get_credentials", db.get_credentials(sub, "other").await),
        None
    );
    assert_eq!(ok("get_user", db.get_user("pk_nobody").await), None);
}

/// Updating credentials replaces them and re-points the public key lookup.
pub async fn update_repoints_public_key(db: &dyn Database, _clock: &ManualClock) {
    let sub = "conformance-repoint";
    let first = NewCredentials::new(sub, "default", "pk_repoint_1", vec![1; 32], vec![2; 32]);
    ok("create", db.create_update_credentials(&first).await);
    let second = NewCredentials::new(sub, "default", "pk_repoint_2", vec![3; 32], vec![4; 32]);
    ok("update", db.create_update_credentials(&second).await);
    assert_eq!(ok("get_user old", db.get_user("pk_repoint_1").await), None);
    let user = ok("get_user new", db.get_user("pk_repoint_2").await);
    assert_eq!(
        user.map(|u| (u.sub, u.salt)),
        Some((sub.to_owned(), vec![4; 32]))
    );
    let listed = ok("list_credentials", db.list_credentials(sub).await);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].public_key, "pk_repoint_2");
}

/// Deleting one credentials, all of a user's, and everything of a user.
pub async fn delete_credentials_and_all(db: &dyn Database, clock: &ManualClock) {
    let sub = "conformance-delete-creds";
    clock.set(START);
    for id in ["one", "two", "three"] {
        let creds = NewCredentials::new(sub, id, format!("pk_del_{id}"), vec![1], vec![2]);
        ok("create", db.create_update_credentials(&creds).await);
    }
    ok(
        "delete_credentials",
        db.delete_credentials(sub, "two").await,
    );
    assert_eq!(ok("get_user", db.get_user("pk_del_two").await), None);
    assert_eq!(ok("list", db.list_credentials(sub).await).len(), 2);
    ok(
        "delete_all_credentials",
        db.delete_all_credentials(sub).await,
    );
    assert!(ok("list", db.list_credentials(sub).await).is_empty());

    put(db, &spec(sub, "s", "1", 1)).await;
    let creds = NewCredentials::new(sub, "default", "pk_del_default", vec![1], vec![2]);
    ok("create", db.create_update_credentials(&creds).await);
    ok("delete_all", db.delete_all(sub).await);
    assert!(ok("list_specs", db.list_specs(sub).await).is_empty());
    assert!(ok("list_credentials", db.list_credentials(sub).await).is_empty());
    assert_eq!(ok("get_user", db.get_user("pk_del_default").await), None);
}

/// Generated credentials authenticate; wrong secrets and unknown public keys do not.
pub async fn authenticate_generated_credentials(db: &dyn Database, _clock: &ManualClock) {
    let sub = "conformance-auth";
    let made = ok(
        "create_credentials",
        keys::create_credentials(db, sub, keys::DEFAULT_CREDENTIALS_ID, b"service secret").await,
    );
    let pk = made.credentials.public_key.clone();
    let sk = made.secret_key.expose_secret().to_owned();
    assert_eq!(
        ok("authenticate", keys::authenticate(db, &pk, &sk).await).as_deref(),
        Some(sub)
    );
    let salt = ok("get_credentials", db.get_credentials(sub, "default").await)
        .map(|c| c.salt)
        .unwrap_or_default();
    let rederived = keys::derive_secret_key(sub, &salt, b"service secret");
    assert_eq!(
        rederived.expose_secret(),
        sk,
        "the secret key is re-derivable"
    );
    assert_eq!(
        ok(
            "wrong secret",
            keys::authenticate(db, &pk, "sk_wrong").await
        ),
        None
    );
    assert_eq!(
        ok(
            "unknown key",
            keys::authenticate(db, "pk_unknown", &sk).await
        ),
        None
    );
    assert_eq!(ok("empty key", keys::authenticate(db, "", &sk).await), None);
}

/// Invalid input is rejected with [`Error::InvalidInput`] naming the argument.
pub async fn invalid_input(db: &dyn Database, _clock: &ManualClock) {
    fn field<T: std::fmt::Debug>(result: Result<T, Error>) -> &'static str {
        match result {
            Err(Error::InvalidInput { field, .. }) => field,
            other => panic!("expected InvalidInput, got {other:?}"),
        }
    }
    assert_eq!(
        field(db.create_update_spec(&spec("", "n", "1", 1)).await),
        "sub"
    );
    assert_eq!(
        field(db.create_update_spec(&spec("s", "", "1", 1)).await),
        "name"
    );
    let long_title = spec("s", "n", "1", 1).with_title("t".repeat(crate::MAX_TITLE_BYTES + 1));
    assert_eq!(field(db.create_update_spec(&long_title).await), "title");
    assert_eq!(field(db.list_specs("").await), "sub");
    assert_eq!(field(db.get_spec("s", "").await), "name");
    let creds = NewCredentials::new("s", "default", "", vec![1], vec![2]);
    assert_eq!(
        field(db.create_update_credentials(&creds).await),
        "public_key"
    );
    let creds = NewCredentials::new("s", "", "pk", vec![1], vec![2]);
    assert_eq!(field(db.create_update_credentials(&creds).await), "id");
    assert_eq!(field(db.get_user("").await), "public_key");
}

/// [`MANY_VERSIONS`] versions of one spec are all listed, oldest first, and all deleted.
pub async fn many_versions(db: &dyn Database, clock: &ManualClock) {
    many_versions_with(db, clock, MANY_VERSIONS).await;
}

/// `count` (at least 1) versions of one spec are all listed, oldest first, and all deleted.
///
/// For backends where writing thousands of versions one by one is slow (emulators that copy
/// the table on every transaction); pair it with a small query page size.
pub async fn many_versions_with(db: &dyn Database, clock: &ManualClock, count: u64) {
    let sub = "conformance-many-versions";
    let name = "Big.Spec";
    let count = count.max(1);
    for n in 0..count {
        clock.set(START + n);
        put(db, &spec(sub, name, &n.to_string(), n)).await;
    }
    let versions = ok("list_spec_versions", db.list_spec_versions(sub, name).await);
    assert_eq!(versions.len() as u64, count);
    assert!(
        versions
            .iter()
            .enumerate()
            .all(|(i, v)| v.version == i.to_string() && v.updated_at == START + i as u64),
        "versions are complete and oldest first"
    );
    assert_eq!(ok("count", db.count_customer_models(sub).await), count - 1);
    ok("delete_spec", db.delete_spec(sub, name).await);
    assert_spec_not_found(
        "list_spec_versions",
        db.list_spec_versions(sub, name).await,
        sub,
        name,
    );
    assert!(ok("list_specs", db.list_specs(sub).await).is_empty());
}

/// [`MANY_SPECS`] specs of one user are all listed, counted and deleted.
pub async fn many_specs(db: &dyn Database, clock: &ManualClock) {
    let sub = "conformance-many-specs";
    clock.set(START);
    for n in 0..MANY_SPECS {
        put(db, &spec(sub, &format!("spec-{n:04}"), "1", 2)).await;
    }
    let listed = ok("list_specs", db.list_specs(sub).await);
    assert_eq!(listed.len(), MANY_SPECS);
    assert!(
        listed.windows(2).all(|w| w[0].id < w[1].id),
        "ordered by id"
    );
    assert_eq!(
        ok("count", db.count_customer_models(sub).await),
        2 * MANY_SPECS as u64
    );
    ok("delete_all_specs", db.delete_all_specs(sub).await);
    assert!(ok("list_specs", db.list_specs(sub).await).is_empty());
}

/// Runs every scenario in order on one database.
pub async fn run_all(db: &dyn Database, clock: &ManualClock) {
    spec_round_trip(db, clock).await;
    absent_title_and_description(db, clock).await;
    missing_spec_is_not_found(db, clock).await;
    canonical_name_collisions(db, clock).await;
    two_versions_in_one_second(db, clock).await;
    list_ordering(db, clock).await;
    per_user_isolation(db, clock).await;
    exact_filtering(db, clock).await;
    deleting_missing_items(db, clock).await;
    count_and_latest_time(db, clock).await;
    credentials_round_trip(db, clock).await;
    update_repoints_public_key(db, clock).await;
    delete_credentials_and_all(db, clock).await;
    authenticate_generated_credentials(db, clock).await;
    invalid_input(db, clock).await;
    many_specs(db, clock).await;
    many_versions(db, clock).await;
}
