//! Exercise 03-who, the reference: `/who` answered to the asker, names sorted.
//!
//! Run: `cargo run -q -p exercise --bin ref-03-who -- 127.0.0.1:7878`

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;

/// The address used when none is given: chapter 03's port.
const DEFAULT_ADDR: &str = "127.0.0.1:7878";

/// The longest line (name or text) read; a longer one ends its sender's connection.
const MAX_LINE: usize = 4 * 1024;

/// One member: its id, its name, and a handle on its socket to write to.
struct Member {
    id: usize,
    name: String,
    stream: TcpStream,
}

/// Everyone in the room.
type Room = Arc<Mutex<Vec<Member>>>;

fn main() -> io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| DEFAULT_ADDR.to_owned());
    let listener = TcpListener::bind(&addr)?;
    println!("listening on {}", listener.local_addr()?);
    let room: Room = Arc::default();
    for (id, conn) in listener.incoming().enumerate() {
        let conn = match conn {
            Ok(conn) => conn,
            Err(e) => {
                eprintln!("accept failed: {e}");
                continue;
            }
        };
        let room = Arc::clone(&room);
        thread::spawn(move || {
            if let Err(e) = member(conn, id, &room) {
                eprintln!("member {id} ended with an error: {e}");
            }
            leave(&room, id);
        });
    }
    Ok(())
}

/// A member's life: its name (the first line), `welcome NAME`, then its lines.
fn member(conn: TcpStream, id: usize, room: &Room) -> io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let Some(name) = read_line(&mut reader)? else { return Ok(()) };
    let mut own = conn.try_clone()?;
    lock(room).push(Member { id, name: name.clone(), stream: conn });
    // In the room before the greeting: a client that has read it will get every line.
    own.write_all(format!("welcome {name}\n").as_bytes())?;
    while let Some(line) = read_line(&mut reader)? {
        if line == "/who" {
            // The asker only, and the names sorted: the answer does not depend on who joined
            // first. Written outside the lock, so a slow asker holds up no one.
            let mut names: Vec<String> = lock(room).iter().map(|m| m.name.clone()).collect();
            names.sort();
            own.write_all(format!("here: {}\n", names.join(" ")).as_bytes())?;
        } else {
            broadcast(room, id, &format!("{name}: {line}\n"));
        }
    }
    Ok(())
}

/// Sends `line` to every member but its sender; a member whose socket fails is dropped.
fn broadcast(room: &Room, from: usize, line: &str) {
    let mut members = lock(room);
    members.retain_mut(|m| m.id == from || m.stream.write_all(line.as_bytes()).is_ok());
}

/// Takes the member out of the room and closes its socket.
fn leave(room: &Room, id: usize) {
    let mut members = lock(room);
    if let Some(i) = members.iter().position(|m| m.id == id) {
        let _ = members[i].stream.shutdown(Shutdown::Both);
        members.remove(i);
    }
}

/// One line without its `\n` (or `\r\n`); `None` at the close, or for a line too long.
fn read_line(reader: &mut impl BufRead) -> io::Result<Option<String>> {
    let mut line = Vec::new();
    reader.by_ref().take(MAX_LINE as u64 + 1).read_until(b'\n', &mut line)?;
    if !line.ends_with(b"\n") {
        return Ok(None);
    }
    line.pop();
    if line.ends_with(b"\r") {
        line.pop();
    }
    Ok(Some(String::from_utf8_lossy(&line).into_owned()))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
