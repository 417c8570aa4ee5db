//! Exercise 02-pool-lock (fix it): a thread pool whose workers hold the lock through the job.
//!
//! The accept loop hands each connection to a pool of `WORKERS` threads, as in the Rust
//! Book's web server. With one client at a time it works. A client that connects and says
//! nothing stops everybody else. Fix it, then: `cargo exercise check 02-pool-lock`.
//!
//! Try it by hand: `cargo run -q -p ex02-pool-lock`, then `nc 127.0.0.1 65433` (and type
//! nothing) in one terminal, and `nc 127.0.0.1 65433` in another. The book:
//! docs/src/02-multi-conn.md, "A thread per connection".

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::thread;

/// Chapter 02's address, used when no address is given.
const DEFAULT_ADDR: &str = "127.0.0.1:65433";

/// How many connections are served at once; the rest wait for a free worker.
const WORKERS: usize = 4;

/// The size of one recv.
const BUF_SIZE: usize = 16 * 1024;

/// A piece of work for the pool: here, serving one connection.
type Job = Box<dyn FnOnce() + Send + 'static>;

fn main() -> io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| DEFAULT_ADDR.to_owned());
    let listener = TcpListener::bind(&addr)?;
    println!("listening on {}", listener.local_addr()?);
    let (jobs, receiver) = mpsc::channel::<Job>();
    // One receiver, shared by every worker behind a lock: mpsc has a single consumer.
    let receiver = Arc::new(Mutex::new(receiver));
    for _ in 0..WORKERS {
        let receiver = Arc::clone(&receiver);
        thread::spawn(move || worker(&receiver));
    }
    for conn in listener.incoming() {
        let conn = conn?;
        let job: Job = Box::new(move || {
            if let Err(e) = echo_until_closed(conn) {
                eprintln!("connection ended with an error: {e}");
            }
        });
        if jobs.send(job).is_err() {
            break;
        }
    }
    Ok(())
}

/// Takes jobs from the shared channel and runs them, until the channel closes.
fn worker(receiver: &Mutex<Receiver<Job>>) {
    while let Ok(job) = receiver.lock().expect("no worker panics holding the lock").recv() {
        job();
    }
}

/// Echoes everything the client sends until it closes.
fn echo_until_closed(mut conn: TcpStream) -> io::Result<()> {
    let mut buf = [0u8; BUF_SIZE];
    loop {
        let n = conn.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        conn.write_all(&buf[..n])?;
    }
}
