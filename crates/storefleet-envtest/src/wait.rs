//! Waiting for the components to become ready: etcd's `/health`, the apiserver's `/readyz`.

use std::time::{Duration, Instant};

use kube::Client;

use crate::Error;
use crate::process::Supervised;

/// etcd answers `/health` on its client port: a listener that is someone else's does not.
pub(crate) async fn wait_for_etcd(
    process: &mut Supervised,
    port: u16,
    timeout: Duration,
) -> Result<(), Error> {
    let deadline = Instant::now() + timeout;
    loop {
        if etcd_is_healthy(port).await {
            return Ok(());
        }
        if process.exited() || Instant::now() > deadline {
            return Err(Error::NotReady {
                component: "etcd".into(),
                detail: process.log_tail(20),
            });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn etcd_is_healthy(port: u16) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
        return false;
    };
    let request = format!("GET /health HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n");
    if stream.write_all(request.as_bytes()).await.is_err() {
        return false;
    }
    let mut response = Vec::new();
    let read =
        tokio::time::timeout(Duration::from_secs(2), stream.read_to_end(&mut response)).await;
    matches!(read, Ok(Ok(_))) && String::from_utf8_lossy(&response).contains("\"health\":\"true\"")
}

pub(crate) async fn wait_for_readyz(
    client: &Client,
    process: &mut Supervised,
    timeout: Duration,
) -> Result<(), Error> {
    let deadline = Instant::now() + timeout;
    loop {
        let request = http::Request::get("/readyz").body(Vec::new());
        if let Ok(request) = request
            && let Ok(body) = client.request_text(request).await
            && body.trim() == "ok"
        {
            return Ok(());
        }
        if process.exited() || Instant::now() > deadline {
            return Err(Error::NotReady {
                component: "kube-apiserver".into(),
                detail: process.log_tail(20),
            });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Polls `f` every 250 ms until it returns Some; panics naming `what` after `timeout` (a test's
/// wait for the cluster to reach a state).
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_listener_that_is_not_etcd_is_not_taken_for_etcd() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let stranger = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            while let Ok((mut stream, _)) = listener.accept().await {
                let _ = stream
                    .write_all(b"HTTP/1.0 200 OK\r\n\r\nsomething else\n")
                    .await;
            }
        });
        assert!(!etcd_is_healthy(port).await);
        stranger.abort();
    }
}
