//! `reuseaddr`: why a restarted server says "Address already in use", and what `SO_REUSEADDR`
//! changes.
//!
//! TCP's rule: the side that closes a connection *first* keeps a memory of it in the
//! `TIME_WAIT` state for twice the maximum segment lifetime (60 s on Linux), so that a late
//! packet of the old connection cannot be taken for part of a new one. When a server closes
//! first, its TIME_WAIT entries carry the server's address and port, and a new `bind()` to
//! that port is refused unless the socket sets `SO_REUSEADDR` first (and, on Linux, the old
//! socket had set it too).
//!
//! Rust's `std::net::TcpListener::bind` sets `SO_REUSEADDR` on Unix by itself (on Windows the
//! option means "let another socket steal this port", so std leaves it off there). A program
//! built on std never meets the error, and never learns why: this chapter builds its sockets
//! with socket2, where every option is a visible call.

use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use common::narrate::{Narrator, family, fd};
use common::{narrate, step};
use socket2::{Domain, Protocol, Socket, Type};

use crate::sockets;

/// How long to wait for the kernel to move the closed connection to TIME_WAIT (it happens
/// as soon as the peer's FIN arrives; on loopback, in microseconds).
const TIME_WAIT_PATIENCE: Duration = Duration::from_secs(2);

/// A TCP socket for `addr`'s family, with or without `SO_REUSEADDR`, narrated.
fn new_socket(addr: SocketAddr, reuse: bool, n: Narrator) -> Result<Socket> {
    step!(n, "socket({}, SOCK_STREAM)", family(addr.ip()));
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))
        .context("could not create a socket")?;
    narrate!(n, "socket({}, SOCK_STREAM) -> {}", family(addr.ip()), fd(&socket));
    step!(n, "setsockopt(SOL_SOCKET, SO_REUSEADDR, {})", u8::from(reuse));
    socket.set_reuse_address(reuse).context("could not set SO_REUSEADDR")?;
    narrate!(n, "setsockopt(SOL_SOCKET, SO_REUSEADDR, {})", u8::from(reuse));
    Ok(socket)
}

// ANCHOR: listen_and_connect
/// Runs the experiment on `host` and prints each step.
///
/// # Errors
/// When a step that should work does not (the loopback address cannot be bound, the connection
/// fails), or when the kernel does not behave as TCP says it should.
pub fn run(host: std::net::IpAddr, trace: bool) -> Result<()> {
    let (server, client) = (Narrator::new("server", trace), Narrator::new("client", trace));

    // 1. A server with SO_REUSEADDR (as std and most servers do) accepts one client.
    let any_port = SocketAddr::new(host, 0);
    let listener = new_socket(any_port, true, server)?;
    step!(server, "bind({any_port})");
    listener.bind(&any_port.into()).with_context(|| format!("could not bind {any_port}"))?;
    let addr = listener.local_addr()?.as_socket().context("a TCP socket has an IP address")?;
    narrate!(server, "bind({any_port}) -> port {}", addr.port());
    step!(server, "listen(backlog=1)");
    listener.listen(1).context("could not listen")?;
    narrate::kernel::note_backlog(&listener, 1);
    narrate!(server, &listener, "listen(backlog=1)");
    println!("1. a server listens on {addr} (SO_REUSEADDR=1), and a client connects");
    step!(client, "connect({addr})");
    let mut conn_client =
        TcpStream::connect(addr).with_context(|| format!("could not connect to {addr}"))?;
    narrate!(client, &conn_client, "connect({addr})");
    step!(server, &listener, "accept()");
    let (conn_server, peer) = listener.accept().context("could not accept")?;
    let (conn, seen) = (fd(&conn_server), crate::bind_matrix::show_addr(&peer));
    narrate!(server, (&listener, &conn_server), "accept() -> {conn}, peer {seen}");

    // ANCHOR_END: listen_and_connect
    // ANCHOR: close_first
    // 2. The server closes first: *its* side goes to TIME_WAIT once the client closes too.
    // With --kernel, each close() line shows what the kernel keeps of that side: the server's
    // side is in FIN-WAIT until the client's FIN comes, then in TIME-WAIT (step 3).
    narrate::close(server, conn_server, " (the connection: the server closes first)");
    let mut buf = [0u8; 1];
    step!(client, &conn_client, "recv(1)");
    let got = conn_client.read(&mut buf).context("could not read")?;
    narrate!(client, &conn_client, "recv(1) -> {got} bytes (the server's FIN)");
    narrate::close(client, conn_client, "");
    narrate::close(server, listener, " (the listener: the server has stopped)");
    println!("2. the server closes the connection first, then stops listening");

    // 3. The socket table shows the server's port held by a connection nobody owns.
    match wait_for_time_wait(addr) {
        Ok(Some(entry)) => println!(
            "3. the socket table still holds the port: {} {} -> {} (inode {}: no process owns it)",
            entry.state, entry.local, entry.remote, entry.inode
        ),
        Ok(None) => bail!("no TIME-WAIT entry for {addr} appeared within {TIME_WAIT_PATIENCE:?}"),
        Err(e) => println!("3. (cannot show the socket table here: {e:#})"),
    }

    // ANCHOR_END: close_first
    // ANCHOR: rebind
    // 4. A restart without SO_REUSEADDR fails ...
    let again = new_socket(addr, false, server)?;
    step!(server, "bind({addr})");
    match again.bind(&addr.into()) {
        Ok(()) => println!(
            "4. bind({addr}) without SO_REUSEADDR -> ok (this system does not keep the port \
             in TIME_WAIT)"
        ),
        Err(e) => {
            narrate!(server, "bind({addr}) -> {e}");
            println!("4. bind({addr}) without SO_REUSEADDR -> {e}");
        }
    }
    drop(again);

    // 5. ... and with it, works.
    let again = new_socket(addr, true, server)?;
    step!(server, "bind({addr})");
    again
        .bind(&addr.into())
        .with_context(|| format!("could not bind {addr} even with SO_REUSEADDR"))?;
    narrate!(server, "bind({addr})");
    step!(server, "listen(backlog=1)");
    again.listen(1).context("could not listen")?;
    narrate::kernel::note_backlog(&again, 1);
    narrate!(server, &again, "listen(backlog=1)");
    println!("5. bind({addr}) with SO_REUSEADDR    -> ok, listening again");
    println!(
        "\nstd's TcpListener::bind sets SO_REUSEADDR for you on Unix (not on Windows, where it \
         would let\nanother program take the port): that is why this chapter builds sockets \
         with socket2."
    );
    Ok(())
}
// ANCHOR_END: rebind

/// Polls the socket table until the TIME-WAIT entry for `addr` shows up.
///
/// # Errors
/// When the table cannot be read (not Linux).
fn wait_for_time_wait(addr: SocketAddr) -> Result<Option<sockets::Entry>> {
    let deadline = Instant::now() + TIME_WAIT_PATIENCE;
    loop {
        let found =
            sockets::read_table()?.into_iter().find(|e| e.local == addr && e.state == "TIME-WAIT");
        if found.is_some() || Instant::now() >= deadline {
            return Ok(found);
        }
        std::thread::sleep(Duration::from_millis(5)); // Polling a condition, with a deadline.
    }
}
