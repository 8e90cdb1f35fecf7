//! The DynamoDB sink sends the chunks of one batch with bounded concurrency, against a counting
//! fake of the DynamoDB JSON protocol on loopback (no emulator needed). The fake holds every
//! `BatchWriteItem` call until as many as the cap are open at once (or all that are left), and
//! then a little longer before answering: a sink that sent more at once would be seen doing so
//! in that window, and one that sent fewer would never be answered (bounded by a timeout). The
//! window only gives a wrong sink time to show itself: a right one passes however short it is.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use datasource_sdk::{Batch, BatchId, DynamoDbSink, Sink};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

#[derive(Debug, Default)]
struct Counts {
    open: usize,
    done: usize,
    max_open: usize,
    items: usize,
}

/// The fake's shared state: calls open now, answered, the most open at once.
#[derive(Debug)]
struct Fake {
    cap: usize,
    /// `BatchWriteItem` calls the test will make in all.
    calls: usize,
    counts: Mutex<Counts>,
    changed: Notify,
}

/// How long a call is held once the cap is reached, for calls beyond it to arrive.
const WINDOW: Duration = Duration::from_millis(20);

impl Fake {
    /// Waits until `cap` calls are open at once, or every call left is open.
    async fn hold(&self) {
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let c = self.counts.lock().unwrap();
                if c.open >= self.cap || c.open + c.done >= self.calls {
                    break;
                }
            }
            notified.await;
        }
        tokio::time::sleep(WINDOW).await;
    }
}

/// One HTTP/1.1 request: its `x-amz-target` header and body. `None` at the end of the stream.
async fn read_request(reader: &mut BufReader<TcpStream>) -> Option<(String, Vec<u8>)> {
    let mut target = String::new();
    let mut length = 0usize;
    let mut started = false;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await.ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            if started {
                break;
            }
            continue;
        }
        started = true;
        if let Some((name, value)) = line.split_once(':') {
            match name.trim().to_ascii_lowercase().as_str() {
                "x-amz-target" => target = value.trim().to_owned(),
                "content-length" => length = value.trim().parse().ok()?,
                _ => {}
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).await.ok()?;
    Some((target, body))
}

async fn serve(fake: Arc<Fake>, socket: TcpStream) {
    let mut reader = BufReader::new(socket);
    while let Some((target, body)) = read_request(&mut reader).await {
        let answer = if target.ends_with(".DescribeTable") {
            r#"{"Table":{"TableName":"items","KeySchema":[{"AttributeName":"id","KeyType":"HASH"}]}}"#
                .to_owned()
        } else if target.ends_with(".BatchWriteItem") {
            let request: serde_json::Value = serde_json::from_slice(&body).unwrap();
            let items = request["RequestItems"]["items"].as_array().unwrap().len();
            {
                let mut c = fake.counts.lock().unwrap();
                c.open += 1;
                c.max_open = c.max_open.max(c.open);
                c.items += items;
            }
            fake.changed.notify_waiters();
            fake.hold().await;
            {
                let mut c = fake.counts.lock().unwrap();
                c.open -= 1;
                c.done += 1;
            }
            fake.changed.notify_waiters();
            r#"{"UnprocessedItems":{}}"#.to_owned()
        } else {
            panic!("unexpected call {target}");
        };
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: {}\r\n\r\n{answer}",
            answer.len()
        );
        if reader
            .get_mut()
            .write_all(response.as_bytes())
            .await
            .is_err()
        {
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chunks_of_a_batch_go_with_bounded_concurrency() {
    // 250 records make 10 chunks of 25 items (DynamoDB's limit per call); caps below and above
    // the number of chunks.
    for cap in [1, 3, 16] {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let fake = Arc::new(Fake {
            cap,
            calls: 10,
            counts: Mutex::new(Counts::default()),
            changed: Notify::new(),
        });
        let server = {
            let fake = Arc::clone(&fake);
            tokio::spawn(async move {
                while let Ok((socket, _)) = listener.accept().await {
                    tokio::spawn(serve(Arc::clone(&fake), socket));
                }
            })
        };
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(endpoint)
            .credentials_provider(aws_credential_types::Credentials::from_keys(
                "testing", "testing", None,
            ))
            .load()
            .await;
        let sink = DynamoDbSink::new(aws_sdk_dynamodb::Client::new(&config), "")
            .with_concurrency(NonZeroUsize::new(cap).unwrap());
        let records = (0..250)
            .map(|id| format!(r#"{{"id":"k{id}","n":{id}}}"#).into_bytes())
            .collect();
        let batch = Batch::new(BatchId { writer: 1, seq: 0 }, "items", records);
        tokio::time::timeout(Duration::from_secs(30), sink.deliver(&batch))
            .await
            .expect("the sink sent fewer calls at once than its cap allows")
            .unwrap();
        let c = fake.counts.lock().unwrap();
        assert_eq!((c.done, c.items), (10, 250));
        assert_eq!(c.max_open, cap.min(10), "cap {cap}");
        server.abort();
    }
}
