//! The host programs against real sockets on loopback: the tutorial's own Python
//! client and server, and std::net clients. Every wait is bounded; every process
//! started is killed when its guard drops.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::thread;
use std::time::{Duration, Instant};

use nal_echo::stack::mock::RecordingDisplay;
use nal_echo::StatusScreen;

const WAIT: Duration = Duration::from_secs(20);

/// A program's path: examples are built next to the test binaries' `deps` folder.
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join(name);
    assert!(
        path.exists(),
        "{} not built (cargo test builds the examples)",
        path.display()
    );
    path
}

fn python_script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/python")
        .join(name)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process whose stdout lines arrive on a channel; killed on drop.
struct Proc {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Proc {
    fn start(cmd: &mut Command) -> Self {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for a line that satisfies `want`, returning it.
    fn expect_line(&mut self, what: &str, want: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + WAIT;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if want(&line) {
                        return line;
                    }
                }
                Err(_) => break,
            }
        }
        panic!("no line {what} within {WAIT:?}; saw {:?}", self.seen);
    }

    fn wait_exit(&mut self) -> i32 {
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code().unwrap_or(-1);
            }
            thread::sleep(Duration::from_millis(20));
        }
        panic!("process did not exit within {WAIT:?}; saw {:?}", self.seen);
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The server example listening on `bind`; returns it once it said so.
fn server(bind: &str, extra: &[&str]) -> Proc {
    let mut p = Proc::start(
        Command::new(example("server"))
            .args(["--bind", bind, "--no-screen"])
            .args(extra),
    );
    let first = p.expect_line("'listening on'", |_| true);
    assert!(
        first.starts_with("listening on "),
        "first line must say where it listens: {first:?}"
    );
    p
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect_timeout(&addr, WAIT).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.set_write_timeout(Some(WAIT)).unwrap();
    s
}

fn echo_exact(stream: &mut TcpStream, bytes: &[u8]) {
    stream.write_all(bytes).unwrap();
    let mut back = vec![0u8; bytes.len()];
    stream.read_exact(&mut back).unwrap();
    assert_eq!(back, bytes);
}

fn localhost(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

#[test]
fn the_tutorials_python_client_is_echoed_and_its_reset_is_survived() {
    let port = free_port();
    let mut srv = server(&format!("127.0.0.1:{port}"), &[]);
    let mut client = Proc::start(
        Command::new("python3")
            .arg(python_script("tutorial_client.py"))
            .args(["127.0.0.1", &port.to_string(), "100"]),
    );
    // The echoes pile up unread in the client's receive queue, as in the tutorial.
    client.expect_line("with both echoes", |l| {
        l.starts_with("peek Hello HandbitI'am MixNoHello Handbit")
    });
    srv.expect_line("'connect'", |l| l.starts_with("connect 127.0.0.1:"));
    client.kill(); // unread echoes: the kernel answers with a reset
    srv.expect_line("'disconnect'", |l| l.starts_with("disconnect 127.0.0.1:"));
    // Still serving.
    let mut s = connect(localhost(port));
    echo_exact(&mut s, "掌控板 still here".as_bytes());
    assert!(srv.child.try_wait().unwrap().is_none(), "server died");
}

#[test]
fn the_client_example_gets_six_echoes_from_the_tutorials_python_server() {
    let port = free_port();
    let mut py = Proc::start(
        Command::new("python3")
            .arg(python_script("tutorial_server.py"))
            .arg(port.to_string()),
    );
    py.expect_line("'accepting.....'", |l| l == "accepting.....");
    let mut client = Proc::start(Command::new(example("client")).args([
        "--connect",
        &format!("127.0.0.1:{port}"),
        "--period-ms",
        "100",
        "--count",
        "6",
    ]));
    assert_eq!(client.wait_exit(), 0, "client output: {:?}", client.seen);
    let rtt = client.expect_line("with the rtt", |l| l.contains("rtt min/avg/max"));
    assert!(rtt.ends_with(" ms"), "{rtt}");
    py.expect_line("the tutorial's message", |l| l == "Hello Handbit");
}

#[test]
fn the_client_example_fails_when_it_cannot_connect() {
    let port = free_port(); // nobody listens there
    let mut client = Proc::start(Command::new(example("client")).args([
        "--connect",
        &format!("127.0.0.1:{port}"),
        "--period-ms",
        "100",
        "--count",
        "1",
    ]));
    assert_ne!(client.wait_exit(), 0);
}

#[test]
fn ipv4_and_ipv6_clients_are_echoed() {
    let port = free_port();
    let _srv = server(&format!("[::]:{port}"), &[]);
    let mut v4 = connect(localhost(port));
    echo_exact(&mut v4, b"over IPv4");
    if TcpListener::bind((Ipv6Addr::LOCALHOST, 0)).is_err() {
        println!("skipping IPv6: this machine has no ::1");
        return;
    }
    let mut v6 = connect(SocketAddr::from((Ipv6Addr::LOCALHOST, port)));
    echo_exact(&mut v6, b"over IPv6");
}

#[test]
fn a_one_mebibyte_blob_comes_back_byte_exact() {
    let port = free_port();
    let _srv = server(&format!("127.0.0.1:{port}"), &[]);
    let blob: Vec<u8> = (0..1u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let mut s = connect(localhost(port));
    let mut writer = s.try_clone().unwrap();
    let sent = blob.clone();
    // Write and read at once: the server applies backpressure, never drops.
    let w = thread::spawn(move || writer.write_all(&sent).unwrap());
    let mut back = vec![0u8; blob.len()];
    s.read_exact(&mut back).unwrap();
    w.join().unwrap();
    assert!(back == blob, "echo differs from the blob");
}

#[test]
fn eight_clients_against_four_slots_four_served_four_closed_cleanly() {
    let port = free_port();
    let mut srv = server(&format!("127.0.0.1:{port}"), &[]);
    let mut clients = Vec::new();
    for i in 0..8 {
        let s = connect(localhost(port));
        let me = s.local_addr().unwrap().to_string();
        let verb = if i < 4 { "connect " } else { "reject " };
        srv.expect_line(verb, |l| l.starts_with(verb) && l.contains(&me));
        clients.push(s);
    }
    for (i, s) in clients.iter_mut().enumerate() {
        if i < 4 {
            echo_exact(s, format!("client {i}").as_bytes());
        } else {
            let mut buf = [0u8; 8];
            assert_eq!(
                s.read(&mut buf).unwrap(),
                0,
                "a rejected client sees an orderly close"
            );
        }
    }
}

#[test]
fn invalid_utf8_and_ansi_escapes_are_echoed_exactly_and_the_server_lives() {
    let port = free_port();
    let mut srv = server(&format!("127.0.0.1:{port}"), &[]);
    let mut s = connect(localhost(port));
    let nasty: &[&[u8]] = &[
        b"\xff\xfe\xc0\xaf\xed\xa0\x80",
        b"\x1b[2J\x1b[31mred\x1b]0;title\x07\x00\r\n",
        &[0xE6],       // the first byte of 掌 ...
        &[0x8E, 0x8C], // ... and the rest
    ];
    for bytes in nasty {
        echo_exact(&mut s, bytes);
    }
    s.shutdown(Shutdown::Write).unwrap();
    srv.expect_line("'disconnect'", |l| l.starts_with("disconnect "));
    let mut again = connect(localhost(port));
    echo_exact(&mut again, b"alive");
}

#[test]
fn a_client_that_never_reads_does_not_stop_a_reader() {
    let port = free_port();
    let _srv = server(&format!("127.0.0.1:{port}"), &["--idle-timeout", "0"]);
    let hog = connect(localhost(port));
    hog.set_nonblocking(true).unwrap();
    let mut reader = connect(localhost(port));
    let chunk = [b'x'; 16 * 1024];
    let mut hogged = 0usize;
    for round in 0..200 {
        // Fill the hog's direction until the kernel buffers are full.
        loop {
            match (&hog).write(&chunk) {
                Ok(n) => hogged += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => panic!("hog write: {e}"),
            }
        }
        echo_exact(&mut reader, format!("ping {round}").as_bytes());
    }
    assert!(
        hogged > 64 * 1024,
        "the hog should have filled its buffers ({hogged} bytes)"
    );
}

/// The screen with `message` as 64 rows of 32 hex digits, as the emulated board
/// prints them.
fn hex_rows(message: &str) -> Vec<String> {
    let mut screen = StatusScreen::new();
    screen.set_message_chars(message.chars());
    let mut display = RecordingDisplay::default();
    screen
        .draw(&mut display)
        .expect("the recording display does not fail");
    (0..64)
        .map(|y| {
            (0..16)
                .map(|byte| {
                    let bits = (0..8).fold(0u8, |acc, bit| {
                        acc << 1 | u8::from(display.pixel(byte * 8 + bit, y))
                    });
                    format!("{bits:02x}")
                })
                .collect()
        })
        .collect()
}

#[test]
fn qemu_frame_replays_a_frame_and_the_rows_that_changed_after_it() {
    let (first, second) = (hex_rows("Hello Handbit"), hex_rows("I'am MixNo"));
    let changed: Vec<usize> = (0..64).filter(|&y| first[y] != second[y]).collect();
    let (lo, hi) = (
        changed[0],
        *changed.last().expect("the message line differs"),
    );
    let mut log = format!("boot\nFRAME 128x64 1\n{}\nEND\n", first.join("\n"));
    log += &format!("connect 10.0.2.2:40000 slot 0\nROWS 128x64 2 {lo}\n");
    log += &format!("{}\nEND\n", second[lo..=hi].join("\n"));
    let dir = std::env::temp_dir().join(format!("nal-echo-frame-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    // Exit status and the screen's first line ("frame SEQ of ...") of qemu_frame.
    let run = |log: &str, expect: Option<&str>| {
        let path = dir.join("serial.log");
        std::fs::write(&path, log).expect("write log");
        let mut cmd = Command::new(example("qemu_frame"));
        cmd.arg(&path);
        if let Some(text) = expect {
            cmd.args(["--expect-message", text]);
        }
        let out = cmd.output().expect("run qemu_frame");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let seq = stdout
            .lines()
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .map(String::from);
        (out.status.code(), seq)
    };
    // The update is applied on top of the whole frame.
    assert_eq!(run(&log, None), (Some(0), Some("2".into())));
    // The message comparison is drawn in the monospace font (refused with `cjk`).
    if !cfg!(feature = "cjk") {
        assert_eq!(run(&log, Some("I'am MixNo")).0, Some(0));
        assert_eq!(run(&log, Some("Hello Handbit")).0, Some(1));
    }
    // An update cut off by the end of the log is left out.
    let cut = format!("{log}ROWS 128x64 3 {lo}\n{}\n", first[lo]);
    assert_eq!(run(&cut, None), (Some(0), Some("2".into())));
    // A garbled update leaves the screen unknown: no screen, exit 2.
    let garbled = format!("{log}ROWS 128x64 3 {lo}\nnot hex\nEND\n");
    assert_eq!(run(&garbled, None).0, Some(2));
    // Updates without a whole frame before them show nothing.
    let rows_only = format!("ROWS 128x64 2 {lo}\n{}\nEND\n", second[lo..=hi].join("\n"));
    assert_eq!(run(&rows_only, None).0, Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}
