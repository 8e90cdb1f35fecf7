//! The conformance suite on `MemoryDatabase`.

use std::sync::Arc;

use package_database::testing::scenarios;
use package_database::{ManualClock, MemoryDatabase};

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {$(
        #[tokio::test]
        async fn $name() {
            let clock = ManualClock::new(scenarios::START);
            let db = MemoryDatabase::with_clock(Arc::new(clock.clone()));
            scenarios::$name(&db, &clock).await;
        }
    )*};
}

conformance!(
    spec_round_trip,
    absent_title_and_description,
    missing_spec_is_not_found,
    canonical_name_collisions,
    two_versions_in_one_second,
    list_ordering,
    per_user_isolation,
    exact_filtering,
    deleting_missing_items,
    count_and_latest_time,
    credentials_round_trip,
    update_repoints_public_key,
    delete_credentials_and_all,
    authenticate_generated_credentials,
    invalid_input,
    many_specs,
    many_versions,
);

#[tokio::test]
async fn run_all_on_one_shared_database() {
    let clock = ManualClock::new(scenarios::START);
    let db = MemoryDatabase::with_clock(Arc::new(clock.clone()));
    scenarios::run_all(&db, &clock).await;
    // Behind an Arc and a Box the trait forwards.
    let shared: Arc<dyn package_database::Database> = Arc::new(db.clone());
    scenarios::spec_round_trip(&shared, &clock).await;
    let boxed: Box<dyn package_database::Database> = Box::new(db);
    scenarios::exact_filtering(&boxed, &clock).await;
}
