//! The orders connector end to end over real HTTP: every record lands in the file sink, and a
//! second run resumes from the stored state and reads nothing again.

use datasource_sdk::JsonLinesSink;

#[tokio::test]
async fn connector_runs_and_resumes() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(
        async move { axum::serve(listener, examples::connector::orders_api(1_234)).await },
    );
    let out = tempfile::tempdir().unwrap();

    let first = examples::connector::run(&url, out.path(), false)
        .await
        .unwrap();
    assert_eq!(first.records, 1_234);
    assert!(!first.resumed);
    let rows = JsonLinesSink::read_table(&out.path().join("records"), "orders").unwrap();
    assert_eq!(rows.len(), 1_234);
    let mut ids: Vec<u64> = rows
        .iter()
        .filter_map(|r| r.get("id").and_then(|v| v.as_u64()))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 1_234, "every order once");
    assert!(
        rows.iter()
            .all(|r| r.get("__table").is_some() && r.get("__state").is_some())
    );

    let second = examples::connector::run(&url, out.path(), false)
        .await
        .unwrap();
    assert!(second.resumed);
    assert_eq!(second.records, 0, "nothing read twice");
}

#[tokio::test]
async fn a_wrong_key_is_an_error_not_an_empty_run() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/nowhere", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, examples::connector::orders_api(10)).await });
    let out = tempfile::tempdir().unwrap();
    assert!(
        examples::connector::run(&url, out.path(), false)
            .await
            .is_err()
    );
}
