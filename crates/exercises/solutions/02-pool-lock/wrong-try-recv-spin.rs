//! Exercise 02-pool-lock, a wrong answer: `try_recv` in a loop.
//!
//! No worker blocks the others any more, and every idle worker burns a core asking.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc::{self, Receiver, TryRecvError};
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
    // try_recv never waits, so the lock is held only for a moment; but a worker with nothing
    // to do asks again at once, for ever: every idle worker spins a core.
    loop {
        let job = receiver.lock().expect("no worker panics holding the lock").try_recv();
        match job {
            Ok(job) => job(),
            Err(TryRecvError::Empty) => {}
            Err(TryRecvError::Disconnected) => return,
        }
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
