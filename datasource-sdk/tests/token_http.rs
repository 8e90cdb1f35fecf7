//! The HTTP token refresher against a local one-shot OAuth2 token endpoint.

use datasource_sdk::{Error, HttpTokenRefresher, TokenRefresher};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Serves one request with `status` and `body`; returns the request text.
async fn serve_once(
    status: &'static str,
    body: &'static str,
) -> (String, tokio::task::JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/token", listener.local_addr().unwrap());
    let handle = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = socket.read(&mut buf).await.unwrap();
            request.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&request).to_string();
            if let Some(head_end) = text.find("\r\n\r\n") {
                let length = text
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse::<usize>().unwrap())
                    })
                    .unwrap_or(0);
                if request.len() >= head_end + 4 + length {
                    break;
                }
            }
            if n == 0 {
                break;
            }
        }
        let response = format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        socket.write_all(response.as_bytes()).await.unwrap();
        String::from_utf8_lossy(&request).to_string()
    });
    (url, handle)
}

#[tokio::test]
async fn refreshes_with_a_form_post() {
    let (url, server) = serve_once(
        "200 OK",
        r#"{"access_token":"a2","refresh_token":"r2","expires_in":3600}"#,
    )
    .await;
    let refresher = HttpTokenRefresher::new(url)
        .unwrap()
        .with_client("id", "secret");
    let tokens = refresher.refresh("r1").await.unwrap();
    assert_eq!(tokens.access_token, "a2");
    assert_eq!(tokens.refresh_token.as_deref(), Some("r2"));
    assert_eq!(tokens.expires_in, Some(3600));
    let request = server.await.unwrap();
    assert!(request.starts_with("POST /token"), "{request}");
    assert!(request.contains("grant_type=refresh_token"), "{request}");
    assert!(request.contains("refresh_token=r1"), "{request}");
    assert!(request.contains("client_id=id"), "{request}");
}

#[tokio::test]
async fn a_refused_refresh_is_unauthorized_and_a_server_error_is_retryable() {
    let (url, server) = serve_once("400 Bad Request", r#"{"error":"invalid_grant"}"#).await;
    let err = HttpTokenRefresher::new(url)
        .unwrap()
        .refresh("old")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unauthorized(_)), "{err}");
    server.await.unwrap();
    let (url, server) = serve_once("503 Service Unavailable", "{}").await;
    let err = HttpTokenRefresher::new(url)
        .unwrap()
        .refresh("old")
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err}");
    server.await.unwrap();
}
