//! An HTTP server for the client exercises (chapter 06): it answers each request with a reply
//! the check wrote byte for byte, paced the way a real network delivers (whole, one byte per
//! write, pieces with pauses), and by default keeps the connection open afterwards, as an
//! HTTP/1.1 server does, so that a client that waits for the close waits in vain.
//!
//! It records every request line and every connection, so a check can say "your client never
//! asked" or "your client connected to the other host". Every wait has a deadline.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// One piece of a reply.
#[derive(Debug, Clone)]
pub enum Part {
    /// These bytes.
    Bytes(Vec<u8>),
    /// Nothing for a while: the next piece is still on its way.
    Pause(Duration),
    /// These bytes, again and again (a large body without holding it all).
    Repeat(Vec<u8>, usize),
}

/// What the server sends for one request.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The pieces, in order.
    pub parts: Vec<Part>,
    /// Every byte in its own write, Nagle off.
    pub one_byte_per_write: bool,
    /// Close after the reply; otherwise keep the connection open until the client closes.
    pub close: bool,
}

impl Reply {
    /// `bytes` in one write; the connection stays open.
    pub fn whole(bytes: impl Into<Vec<u8>>) -> Self {
        Self { parts: vec![Part::Bytes(bytes.into())], one_byte_per_write: false, close: false }
    }
}

/// A request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// Its request line, `GET /path HTTP/1.1`.
    pub request_line: String,
    /// Its whole head, for reports.
    pub head: String,
}

type Routes = dyn Fn(&str) -> Reply + Send + Sync;

/// The server, running until dropped (or until its limit passes).
pub struct Origin {
    /// Where it listens.
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    connections: Arc<Mutex<usize>>,
    stop: Arc<AtomicBool>,
    worker: Option<JoinHandle<()>>,
}

impl Origin {
    /// Listens on `ip` port 0 and answers each request with `routes(path)`, for at most `limit`.
    ///
    /// # Errors
    /// When the listening socket cannot be made.
    pub fn start(
        ip: &str,
        routes: impl Fn(&str) -> Reply + Send + Sync + 'static,
        limit: Duration,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind((ip, 0))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let seen = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(Mutex::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let routes: Arc<Routes> = Arc::new(routes);
        let (s, c, st) = (Arc::clone(&seen), Arc::clone(&connections), Arc::clone(&stop));
        let worker = thread::spawn(move || {
            let deadline = Instant::now() + limit;
            // accept() with a deadline and a stop flag: nothing here may outlive the check.
            while !st.load(Ordering::Relaxed) && Instant::now() < deadline {
                match listener.accept() {
                    Ok((conn, _)) => {
                        *lock(&c) += 1;
                        let (routes, seen) = (Arc::clone(&routes), Arc::clone(&s));
                        thread::spawn(move || serve(conn, &*routes, &seen, deadline));
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        thread::sleep(Duration::from_millis(2));
                    }
                    Err(_) => thread::sleep(Duration::from_millis(2)),
                }
            }
        });
        Ok(Self { addr, seen, connections, stop, worker: Some(worker) })
    }

    /// The requests seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        lock(&self.seen).clone()
    }

    /// How many connections were accepted so far.
    pub fn connections(&self) -> usize {
        *lock(&self.connections)
    }
}

impl Drop for Origin {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

/// One connection: read a head, answer it, and again, until the client closes or the deadline.
fn serve(mut conn: TcpStream, routes: &Routes, seen: &Mutex<Vec<Seen>>, deadline: Instant) {
    let _ = conn.set_nonblocking(false);
    let _ = conn.set_nodelay(true);
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || buf.len() > 64 * 1024 {
                return;
            }
            let _ = conn.set_read_timeout(Some(left));
            match conn.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        buf.drain(..head_end);
        let request_line = head.lines().next().unwrap_or("").to_owned();
        let path = request_line.split(' ').nth(1).unwrap_or("/").to_owned();
        lock(seen).push(Seen { request_line, head });
        let reply = routes(&path);
        if send(&mut conn, &reply).is_err() || reply.close {
            return;
        }
    }
}

fn send(conn: &mut TcpStream, reply: &Reply) -> std::io::Result<()> {
    conn.set_write_timeout(Some(Duration::from_secs(5)))?;
    let mut write = |bytes: &[u8]| -> std::io::Result<()> {
        if reply.one_byte_per_write {
            for byte in bytes {
                conn.write_all(std::slice::from_ref(byte))?;
            }
            Ok(())
        } else {
            conn.write_all(bytes)
        }
    };
    for part in &reply.parts {
        match part {
            Part::Bytes(bytes) => write(bytes)?,
            Part::Pause(pause) => thread::sleep(*pause),
            Part::Repeat(bytes, times) => {
                for _ in 0..*times {
                    write(bytes)?;
                }
            }
        }
    }
    Ok(())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
