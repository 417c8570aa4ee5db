//! What the chapter 06 tests share: the binary, servers written for the tests (scripted raw
//! TCP, TLS with a certificate made at test time), and outside servers (python3 -m http.server,
//! httpbin under gunicorn).

// Each test binary uses a different part of this module, and `pub` here means "for the tests".
#![allow(dead_code, unreachable_pub)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::thread;

use testkit::{Finished, Proc, run};

/// The chapter's binary.
pub fn client() -> Command {
    Command::new(env!("CARGO_BIN_EXE_06-http-client"))
}

/// Runs the client with `args` and returns what it left.
pub fn fetch(args: &[&str]) -> Finished {
    run(client().args(args))
}

/// The exit code, or -1 for a signal.
pub fn code(done: &Finished) -> i32 {
    done.status.code().unwrap_or(-1)
}

// ---- scripted servers ----------------------------------------------------------------------

/// A server written for one test: a thread that accepts `connections` connections on an
/// ephemeral loopback port and hands each to the test's handler.
pub struct Scripted {
    /// Where it listens.
    pub addr: SocketAddr,
}

impl Scripted {
    /// `http://ADDR` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

/// Starts a scripted server; `handler(i, stream)` serves the i-th connection.
pub fn scripted<F>(connections: usize, handler: F) -> Scripted
where
    F: Fn(usize, TcpStream) + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for i in 0..connections {
            let Ok((stream, _)) = listener.accept() else { return };
            handler(i, stream);
        }
    });
    Scripted { addr }
}

/// Reads one request head (up to the blank line, at most 64 KiB) and returns it as text;
/// empty when the client closed first.
pub fn read_request(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 64 * 1024 {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// Reads the request, then writes `response` and closes.
pub fn answer_once(response: &'static [u8]) -> Scripted {
    scripted(1, move |_, mut stream| {
        read_request(&mut stream);
        let _ = stream.write_all(response);
    })
}

/// Blocks until the client closes its end (a stalled server "holds" the connection this way,
/// with no sleeping and no timing in the test).
pub fn hold_until_client_closes(stream: &mut TcpStream) {
    let mut sink = [0u8; 1024];
    while let Ok(1..) = stream.read(&mut sink) {}
}

// ---- python3 -m http.server -----------------------------------------------------------------

/// `python3 -m http.server` serving `dir` over HTTP/1.1 (keep-alive) on an ephemeral port.
pub struct PyServer {
    proc: Proc,
    /// `http://127.0.0.1:PORT` (or `http://[::1]:PORT`).
    pub base: String,
}

/// Starts Python's file server on `bind` (`127.0.0.1` or `::1`) for `dir`.
pub fn python_http_server(dir: &Path, bind: &str) -> PyServer {
    // -u: unbuffered, so the "Serving HTTP on ..." line reaches us at once.
    let proc = Proc::spawn(
        Command::new("python3")
            .args(["-u", "-m", "http.server", "0", "--bind", bind, "--protocol", "HTTP/1.1"])
            .arg("--directory")
            .arg(dir),
    );
    let line = proc.expect_line("Serving HTTP on");
    let port = line.split(" port ").nth(1).and_then(|r| r.split_whitespace().next()).unwrap();
    let host = if bind.contains(':') { format!("[{bind}]") } else { bind.to_owned() };
    PyServer { proc, base: format!("http://{host}:{port}") }
}

impl PyServer {
    /// Waits until the server's log (one line per request, on stderr) shows `needle`, and
    /// fails the test after testkit's patience. Python writes the line before its response,
    /// but our thread that reads its stderr may not have read it when the response is in.
    pub fn wait_for_log(&self, needle: &str) {
        self.proc.wait_for_stderr(needle);
    }
}

// ---- httpbin under gunicorn -----------------------------------------------------------------

/// A local httpbin, shared by the tests of one binary that run at the same time and stopped
/// (Ctrl-C, then reaped) when the last of them drops it.
pub struct Httpbin {
    proc: Mutex<Option<Proc>>,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

impl Httpbin {
    /// `base` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for Httpbin {
    fn drop(&mut self) {
        if let Some(proc) = self.proc.lock().unwrap_or_else(|e| e.into_inner()).take() {
            // SIGINT is gunicorn's quick shutdown: the master stops its worker, then exits.
            // A worker that outlives its master (seen once on a loaded machine) would keep
            // serving, and holding the test's pipes: the whole process group goes after it.
            let group = proc.pid();
            proc.interrupt();
            proc.finish();
            testkit::kill_group(group);
        }
    }
}

/// The venv lives under the workspace's target directory, made once by `httpbin-venv.sh`.
fn venv() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("httpbin-venv")
}

/// Creates the venv if it is missing (once per machine; `.ci/run` does it ahead of time).
fn ensure_venv() -> PathBuf {
    static READY: OnceLock<PathBuf> = OnceLock::new();
    READY
        .get_or_init(|| {
            let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/httpbin-venv.sh");
            let venv = venv();
            let out = Command::new("sh").arg(script).arg(&venv).output().unwrap();
            assert!(
                out.status.success(),
                "could not create the httpbin venv at {}: {}\nThese tests need PyPI (pip install \
                 httpbin gunicorn) once; .ci/run does it ahead of time.",
                venv.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            venv
        })
        .clone()
}

/// The running httpbin, started if no test holds one.
pub fn httpbin() -> Arc<Httpbin> {
    static SHARED: Mutex<Weak<Httpbin>> = Mutex::new(Weak::new());
    let mut shared = SHARED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(running) = shared.upgrade() {
        return running;
    }
    let venv = ensure_venv();
    // Port 0: gunicorn binds an ephemeral port and reports it in "Listening at: URL (pid)".
    // gthread workers keep connections alive; a second thread serves /delay beside others.
    let mut gunicorn = Command::new(venv.join("bin/gunicorn"));
    gunicorn
        .args(["-b", "127.0.0.1:0", "--threads", "4", "--no-control-socket"])
        .args(["--log-level", "info", "httpbin:app"])
        // Its own process group (the master's pid), so that Drop can end the master and every
        // worker it forked, and nothing else.
        .process_group(0);
    let proc = Proc::spawn(&mut gunicorn);
    proc.wait_for_stderr("Booting worker");
    let log = proc.stderr();
    let base = log
        .split("Listening at: ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no 'Listening at' in gunicorn's log:\n{log}"))
        .to_owned();
    let running = Arc::new(Httpbin { proc: Mutex::new(Some(proc)), base });
    *shared = Arc::downgrade(&running);
    running
}

// ---- TLS --------------------------------------------------------------------------------------

/// A certificate authority and a server certificate for `localhost` and `127.0.0.1`, made now.
pub struct TestPki {
    /// The CA certificate, PEM, written to a file for `--cacert`.
    pub ca_file: tempfile::NamedTempFile,
    /// The server's certificate chain and key, for rustls.
    pub server_config: Arc<rustls::ServerConfig>,
    /// The server's certificate and key as PEM files, for `openssl s_server`.
    pub server_cert_file: tempfile::NamedTempFile,
    /// See `server_cert_file`.
    pub server_key_file: tempfile::NamedTempFile,
}

/// Makes a fresh CA and server certificate (rcgen, ring keys).
pub fn test_pki() -> TestPki {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, "sockets-by-example test CA");
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);

    let server_key = KeyPair::generate().unwrap();
    // rcgen turns a name that parses as an IP address into an IP subject-alternative name.
    let server_params =
        CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    let server_cert = server_params.signed_by(&server_key, &issuer).unwrap();

    let pem_file = |text: String| {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(text.as_bytes()).unwrap();
        file
    };
    let ca_file = pem_file(ca_cert.pem());
    let server_cert_file = pem_file(server_cert.pem());
    let server_key_file = pem_file(server_key.serialize_pem());
    let key_der = rustls::pki_types::PrivateKeyDer::try_from(server_key.serialize_der()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server_config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![server_cert.der().clone()], key_der)
        .unwrap();
    TestPki { ca_file, server_config: Arc::new(server_config), server_cert_file, server_key_file }
}

/// An https server: `connections` connections, each answering every request on it with
/// `body`, until the client closes or the handshake fails.
pub fn tls_server(
    config: Arc<rustls::ServerConfig>,
    connections: usize,
    body: &'static str,
) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for _ in 0..connections {
            let Ok((tcp, _)) = listener.accept() else { return };
            let session = rustls::ServerConnection::new(Arc::clone(&config)).unwrap();
            let mut tls = rustls::StreamOwned::new(session, tcp);
            loop {
                let head = read_tls_request(&mut tls);
                if head.is_empty() {
                    break;
                }
                let response =
                    format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}", body.len());
                if tls.write_all(response.as_bytes()).and_then(|()| tls.flush()).is_err() {
                    break;
                }
            }
        }
    });
    addr
}

fn read_tls_request(tls: &mut impl Read) -> Vec<u8> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 64 * 1024 {
        match tls.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return Vec::new(),
        }
    }
    head
}
