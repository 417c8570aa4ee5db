//! A tokio echo server, the async-Rust peer in `scripts/bench/02-multi-conn.sh`: what a Rust
//! programmer would write with tokio, a task per connection copying what it reads back out.
//! It binds 127.0.0.1:0 and prints `listening on 127.0.0.1:PORT`, the readiness line the bench
//! waits for. Runs until killed.

use std::io::Write;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

// The current-thread runtime, not rt-multi-thread: the bench pins every server to one CPU
// (taskset -c 0), and our poll mode and the C epoll server each run one thread with one epoll.
// This is tokio's configuration for exactly that. The multi-thread runtime on one CPU would run
// the same tasks on a worker thread that shares the CPU with the main thread, and would add
// cross-thread wake-ups and locking to each message for no parallelism at all.
#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    println!("listening on {}", listener.local_addr()?);
    std::io::stdout().flush()?;
    loop {
        let (mut stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            // Out of descriptors, a client that gave up while queued: keep serving the others.
            Err(e) => {
                eprintln!("accept: {e}");
                continue;
            }
        };
        // Small echoes go out at once, as in our server and the C one.
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let mut buf = vec![0u8; 64 << 10];
            loop {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        if stream.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                }
            }
        });
    }
}
