//! The host programs against real sockets on loopback: the tutorial's own Python
//! client and server, and std::net clients. Every wait is bounded; every process
//! started is killed when its guard drops.

mod common;

use std::collections::BTreeSet;
use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use nal_echo::display::RecordingDisplay;
use nal_echo::StatusScreen;

mod process;
use process::{example, Proc, WAIT};

fn python_script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/python")
        .join(name)
}

/// A port nobody listens on now, and never one handed out before in this run: the
/// tests run in parallel, and two of them given the same port would each find the
/// other's server there.
fn free_port() -> u16 {
    static GIVEN: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    for _ in 0..1000 {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if given.insert(port) {
            return port;
        }
    }
    panic!("no fresh port in 1000 tries");
}

/// A port on 127.0.0.1 that refuses every connect for as long as the socket lives:
/// it is bound but not listening, so no other test or program can listen there and
/// the kernel never picks it as a connecting socket's own port.
fn refusing_port() -> (socket2::Socket, u16) {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket
        .bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .unwrap();
    let port = socket.local_addr().unwrap().as_socket().unwrap().port();
    (socket, port)
}

/// The tutorial's Python server on 127.0.0.1:`port`, once it is accepting.
fn tutorial_server(port: u16) -> Proc {
    let mut py = Proc::start(
        Command::new("python3")
            .arg(python_script("tutorial_server.py"))
            .arg(port.to_string()),
    );
    py.expect_line("'accepting.....'", |l| l == "accepting.....");
    py
}

/// The client example against 127.0.0.1:`port`, a message every 100 ms, with `args`.
fn client_example(port: u16, args: &[&str]) -> Proc {
    Proc::start(
        Command::new(example("client"))
            .args([
                "--connect",
                &format!("127.0.0.1:{port}"),
                "--period-ms",
                "100",
            ])
            .args(args),
    )
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

/// The server example on a port the OS picks on `ip`, and that port (read from its
/// first line): no other test or program can have it.
fn server_on_free_port(ip: &str, extra: &[&str]) -> (Proc, u16) {
    let p = server(&format!("{ip}:0"), extra);
    let first = p.seen.first().cloned().unwrap_or_default();
    let addr: SocketAddr = first
        .strip_prefix("listening on ")
        .and_then(|rest| rest.split(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("no address in {first:?}"));
    assert_ne!(addr.port(), 0, "the server must say the port the OS chose");
    (p, addr.port())
}

/// [`server_on_free_port`] with `mode`'s arguments first (`--async`, or none).
fn server_on_free_port_in(mode: &[&str], ip: &str, extra: &[&str]) -> (Proc, u16) {
    server_on_free_port(ip, &[mode, extra].concat())
}

/// [`client_example`] with `mode`'s arguments first (`--async`, or none).
fn client_example_in(mode: &[&str], port: u16, args: &[&str]) -> Proc {
    client_example(port, &[mode, args].concat())
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
    the_tutorials_python_client_is_echoed_and_its_reset_is_survived_in(&[]);
}

/// The same with the async front end.
#[test]
fn the_tutorials_python_client_is_echoed_and_its_reset_is_survived_async() {
    the_tutorials_python_client_is_echoed_and_its_reset_is_survived_in(&["--async"]);
}

fn the_tutorials_python_client_is_echoed_and_its_reset_is_survived_in(mode: &[&str]) {
    let (mut srv, port) = server_on_free_port_in(mode, "127.0.0.1", &[]);
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
    the_client_example_gets_six_echoes_from_the_tutorials_python_server_in(&[]);
}

/// The same with the async front end.
#[test]
fn the_client_example_gets_six_echoes_from_the_tutorials_python_server_async() {
    the_client_example_gets_six_echoes_from_the_tutorials_python_server_in(&["--async"]);
}

fn the_client_example_gets_six_echoes_from_the_tutorials_python_server_in(mode: &[&str]) {
    let port = free_port();
    let mut py = tutorial_server(port);
    let mut client = client_example_in(mode, port, &["--count", "6"]);
    assert_eq!(client.wait_exit(), 0, "client output: {:?}", client.seen);
    let rtt = client.expect_line("with the rtt", |l| l.contains("rtt min/avg/max"));
    assert!(rtt.ends_with(" ms"), "{rtt}");
    py.expect_line("the tutorial's message", |l| l == "Hello Handbit");
}

#[test]
fn the_client_example_fails_when_it_cannot_connect() {
    the_client_example_fails_when_it_cannot_connect_in(&[]);
}

/// The same with the async front end.
#[test]
fn the_client_example_fails_when_it_cannot_connect_async() {
    the_client_example_fails_when_it_cannot_connect_in(&["--async"]);
}

fn the_client_example_fails_when_it_cannot_connect_in(mode: &[&str]) {
    let (_bound, port) = refusing_port();
    let mut client = client_example_in(mode, port, &["--count", "1"]);
    // 1 is the client's "could not do it"; 2 would be a usage error, 101 a panic.
    assert_eq!(client.wait_exit(), 1, "client output: {:?}", client.seen);
}

#[test]
fn ipv4_and_ipv6_clients_are_echoed() {
    ipv4_and_ipv6_clients_are_echoed_in(&[]);
}

/// The same with the async front end.
#[test]
fn ipv4_and_ipv6_clients_are_echoed_async() {
    ipv4_and_ipv6_clients_are_echoed_in(&["--async"]);
}

fn ipv4_and_ipv6_clients_are_echoed_in(mode: &[&str]) {
    let (_srv, port) = server_on_free_port_in(mode, "[::]", &[]);
    let mut v4 = connect(localhost(port));
    echo_exact(&mut v4, b"over IPv4");
    if !common::ipv6::ipv6_loopback("ipv4_and_ipv6_clients_are_echoed") {
        return;
    }
    let mut v6 = connect(SocketAddr::from((Ipv6Addr::LOCALHOST, port)));
    echo_exact(&mut v6, b"over IPv6");
}

#[test]
fn a_one_mebibyte_blob_comes_back_byte_exact() {
    a_one_mebibyte_blob_comes_back_byte_exact_in(&[]);
}

/// The same with the async front end.
#[test]
fn a_one_mebibyte_blob_comes_back_byte_exact_async() {
    a_one_mebibyte_blob_comes_back_byte_exact_in(&["--async"]);
}

fn a_one_mebibyte_blob_comes_back_byte_exact_in(mode: &[&str]) {
    let (_srv, port) = server_on_free_port_in(mode, "127.0.0.1", &[]);
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
    eight_clients_against_four_slots(&["--threads", "1"], " (1 loops x 4 slots, UDP too)");
}

/// The same with the async front end.
#[test]
fn eight_clients_against_four_slots_four_served_four_closed_cleanly_async() {
    eight_clients_against_four_slots(&["--async"], " (async, 4 slots)");
}

fn eight_clients_against_four_slots(args: &[&str], first_ends: &str) {
    let (mut srv, port) = server_on_free_port("127.0.0.1", args);
    let first = srv.seen.first().cloned().unwrap_or_default();
    assert!(first.ends_with(first_ends), "{first:?}");
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

/// With two loops of one slot, the kernel spreads 32 clients over both loops (a
/// hash of the addresses: all 32 on one loop has a chance of 2 in 2^32), each loop
/// serves one and closes the others of its own at once.
#[test]
fn two_loops_of_one_slot_serve_two_clients_at_once_and_close_the_rest() {
    let (mut srv, port) = server_on_free_port("127.0.0.1", &["--threads", "2", "--slots", "1"]);
    let first = srv.seen.first().cloned().unwrap_or_default();
    assert!(
        first.ends_with(" (2 loops x 1 slots, UDP too)"),
        "{first:?}"
    );
    let clients: Vec<TcpStream> = (0..32).map(|_| connect(localhost(port))).collect();
    let mut served = Vec::new();
    for (i, s) in clients.into_iter().enumerate() {
        let me = s.local_addr().unwrap().to_string();
        let about_me =
            |l: &str| (l.starts_with("connect ") || l.starts_with("reject ")) && l.contains(&me);
        // The loops log independently: a later client's line may have come first.
        let line = match srv.seen.iter().find(|l| about_me(l)).cloned() {
            Some(line) => line,
            None => srv.expect_line("connect or reject", about_me),
        };
        if line.starts_with("connect ") {
            served.push((i, s));
        } else {
            let mut s = s;
            assert_eq!(read_until_closed(&mut s), Ok(()), "client {i}");
        }
    }
    assert_eq!(served.len(), 2, "one client per loop: {:?}", srv.seen);
    for (i, s) in &mut served {
        echo_exact(s, format!("client {i}").as_bytes());
    }
}

#[test]
fn invalid_utf8_and_ansi_escapes_are_echoed_exactly_and_the_server_lives() {
    invalid_utf8_and_ansi_escapes_are_echoed_exactly_and_the_server_lives_in(&[]);
}

/// The same with the async front end.
#[test]
fn invalid_utf8_and_ansi_escapes_are_echoed_exactly_and_the_server_lives_async() {
    invalid_utf8_and_ansi_escapes_are_echoed_exactly_and_the_server_lives_in(&["--async"]);
}

fn invalid_utf8_and_ansi_escapes_are_echoed_exactly_and_the_server_lives_in(mode: &[&str]) {
    let (mut srv, port) = server_on_free_port_in(mode, "127.0.0.1", &[]);
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
    a_client_that_never_reads_does_not_stop_a_reader_in(&[]);
}

/// The same with the async front end.
#[test]
fn a_client_that_never_reads_does_not_stop_a_reader_async() {
    a_client_that_never_reads_does_not_stop_a_reader_in(&["--async"]);
}

fn a_client_that_never_reads_does_not_stop_a_reader_in(mode: &[&str]) {
    let (_srv, port) = server_on_free_port_in(mode, "127.0.0.1", &["--idle-timeout", "0"]);
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
    rows_of(|x, y| display.pixel(x as i32, y as i32))
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

/// The demo takes port 5001 when it is free; its tests run one at a time so that each
/// sees 5001 held by itself, not by the other's demo.
static DEMO: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Holds 127.0.0.1:5001 if it can; if something else holds it, it is taken all the same.
fn hold_port_5001() -> Option<TcpListener> {
    TcpListener::bind("127.0.0.1:5001").ok()
}

/// The rows of the screen's message line, and how they look with each of the
/// tutorial's messages on it.
fn message_band() -> (std::ops::Range<usize>, [Vec<String>; 2]) {
    let (hello, mixno) = (hex_rows("Hello Handbit"), hex_rows("I'am MixNo"));
    let changed: Vec<usize> = (0..64).filter(|&y| hello[y] != mixno[y]).collect();
    let band = changed[0]..changed[changed.len() - 1] + 1;
    let looks = [hello[band.clone()].to_vec(), mixno[band.clone()].to_vec()];
    (band, looks)
}

/// `lit(x, y)` of a 128x64 screen as 64 rows of 32 hex digits, like [`hex_rows`].
fn rows_of(lit: impl Fn(u32, u32) -> bool) -> Vec<String> {
    (0..64)
        .map(|y| {
            (0..16)
                .map(|byte| {
                    let bits =
                        (0..8).fold(0u8, |acc, bit| acc << 1 | u8::from(lit(byte * 8 + bit, y)));
                    format!("{bits:02x}")
                })
                .collect()
        })
        .collect()
}

/// The 128x64 screen in a PNG written by the examples (4 image pixels per screen
/// pixel and a 1-pixel gap: 639x319), as hex rows.
fn png_rows(path: &std::path::Path) -> Vec<String> {
    let image = image::open(path).expect("a PNG").to_luma8();
    assert_eq!(
        image.dimensions(),
        (128 * 5 - 1, 64 * 5 - 1),
        "scale 4, gap 1"
    );
    rows_of(|x, y| image.get_pixel(x * 5 + 2, y * 5 + 2).0[0] > 128)
}

/// The summary's `sent N, echoed M, mismatches K`.
fn demo_summary(line: &str) -> (u32, u32, u32) {
    let number = |key: &str| -> u32 {
        let at = line
            .find(key)
            .unwrap_or_else(|| panic!("{key:?} in {line:?}"))
            + key.len();
        line[at..]
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    (number("sent "), number("echoed "), number("mismatches "))
}

#[test]
fn the_demo_shows_the_tutorials_messages_verifies_every_echo_and_moves_off_a_taken_port() {
    let _one = DEMO.lock().unwrap_or_else(|e| e.into_inner());
    let _held = hold_port_5001();
    let dir = std::env::temp_dir().join(format!("nal-echo-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let png = dir.join("screen.png");
    let mut demo = Command::new(example("demo"))
        // Ends on the third echo; --seconds only bounds a broken run.
        .args(["--count", "3", "--seconds", "60", "--png"])
        .arg(&png)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (mut out, mut err) = (demo.stdout.take().unwrap(), demo.stderr.take().unwrap());
    let reader = thread::spawn(move || {
        let mut text = String::new();
        out.read_to_string(&mut text).unwrap();
        text
    });
    let mut errors = String::new();
    err.read_to_string(&mut errors).unwrap(); // ends when the demo exits
    let (stdout, status) = (reader.join().unwrap(), demo.wait().unwrap());
    assert_eq!(
        status.code(),
        Some(0),
        "stdout {stdout:?} stderr {errors:?}"
    );

    // It says which port it took instead, and the screen's header shows it.
    let port: u16 = errors
        .lines()
        .find_map(|l| l.strip_prefix("demo: port 5001 is taken, using "))
        .unwrap_or_else(|| panic!("no port notice in {errors:?}"))
        .parse()
        .unwrap();
    assert_ne!(port, 5001);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], format!("header: 127.0.0.1:{port}"));
    assert!(lines.contains(&"state: accepting....."), "{lines:?}");
    assert!(lines.contains(&"message: Hello Handbit"), "{lines:?}");
    assert!(lines.contains(&"message: I'am MixNo"), "{lines:?}");
    let (sent, echoed, mismatches) = demo_summary(lines[lines.len() - 1]);
    assert_eq!((sent, echoed, mismatches), (3, 3, 0));

    // The PNG is the screen: its message line shows one of the tutorial's messages.
    let (band, looks) = message_band();
    let shown = png_rows(&png)[band].to_vec();
    assert!(
        looks.contains(&shown),
        "the PNG's message line is neither message"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Screen pixels from the half-block characters of the terminal view: each
/// character is two pixels, one above the other.
fn half_block_rows(frame: &[&str]) -> Vec<String> {
    let cells: Vec<Vec<char>> = frame.iter().map(|l| l.chars().collect()).collect();
    rows_of(|x, y| {
        let c = cells[y as usize / 2][x as usize];
        let top = y % 2 == 0;
        c == '█' || (top && c == '▀') || (!top && c == '▄')
    })
}

#[test]
fn the_demo_draws_the_screen_in_a_terminal_with_half_blocks_redrawn_in_place() {
    let _one = DEMO.lock().unwrap_or_else(|e| e.into_inner());
    let demo = example("demo");
    let out = Command::new("python3")
        .arg(python_script("in_terminal.py"))
        .args(["40", "200", "20"])
        .arg(&demo)
        .args(["--count", "3", "--seconds", "60"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).expect("UTF-8");
    assert_eq!(out.status.code(), Some(0), "{text:?}");

    // Each view is one synchronized update; after the first, the cursor goes back up
    // over the last one and draws over it.
    let views: Vec<&str> = text.split("\x1b[?2026h").skip(1).collect();
    assert!(views.len() >= 2, "{} views", views.len());
    let up = format!("\x1b[{}A\r", views[0].matches('\n').count());
    assert!(
        views[1].starts_with(&up),
        "redraw starts with {up:?}: {:?}",
        &views[1][..20]
    );

    // The last view: the screen in a box of 64 half-block rows, two pixels per row,
    // with the client's statistics beside it (200 columns are enough).
    let last = views[views.len() - 1];
    let last = last.strip_prefix(up.as_str()).unwrap_or(last);
    let rows: Vec<&str> = last.split("\r\n").collect();
    assert!(
        rows[0].starts_with("┌─ Handbit OLED 128x64 "),
        "{:?}",
        rows[0]
    );
    assert!(
        rows[1].contains("│  MixNo client -> 127.0.0.1:"),
        "{:?}",
        rows[1]
    );
    let inside: Vec<&str> = rows[1..33]
        .iter()
        .map(|r| {
            let r = r.strip_prefix('│').expect("box edge");
            let end = r.char_indices().nth(128).map_or(r.len(), |(i, _)| i);
            &r[..end]
        })
        .collect();
    let (band, looks) = message_band();
    let shown = half_block_rows(&inside)[band].to_vec();
    assert!(
        looks.contains(&shown),
        "the message line is neither message"
    );

    // The terminal is given back (cursor shown, line wrap on) before the summary.
    let (view, summary) = text.rsplit_once("\x1b[?25h").expect("cursor shown again");
    assert!(view.ends_with("\x1b[?7h"), "line wrap back on");
    let (sent, echoed, mismatches) = demo_summary(summary.trim_end());
    assert!(sent >= 2);
    assert_eq!((echoed, mismatches), (sent, 0));
}

#[test]
fn the_server_rewrites_its_png_after_each_message() {
    let dir = std::env::temp_dir().join(format!("nal-echo-server-png-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let png = dir.join("screen.png");
    let port = free_port();
    let _srv = server(
        &format!("127.0.0.1:{port}"),
        &["--png", png.to_str().unwrap()],
    );
    let (band, looks) = message_band();
    let mut s = connect(localhost(port));
    for (message, look) in ["Hello Handbit", "I'am MixNo"].iter().zip(&looks) {
        echo_exact(&mut s, message.as_bytes());
        let deadline = Instant::now() + WAIT;
        // The file is replaced by a rename, so a read sees a whole PNG or the last one.
        while !png.exists() || png_rows(&png)[band.clone()] != look[..] {
            assert!(
                Instant::now() < deadline,
                "the PNG never showed {message:?}"
            );
            thread::sleep(Duration::from_millis(20));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Reads until the peer ends the connection: `Ok(())` for an orderly close or a reset.
fn read_until_closed(s: &mut TcpStream) -> Result<(), String> {
    s.set_read_timeout(Some(WAIT)).unwrap();
    let mut buf = [0u8; 64];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return Ok(()),
            Err(e) => return Err(format!("still open after {WAIT:?}: {e}")),
        }
    }
}

#[test]
fn the_server_evicts_an_idle_client_and_keeps_a_busy_one() {
    the_server_evicts_an_idle_client_and_keeps_a_busy_one_in(&[]);
}

/// The same with the async front end.
#[test]
fn the_server_evicts_an_idle_client_and_keeps_a_busy_one_async() {
    the_server_evicts_an_idle_client_and_keeps_a_busy_one_in(&["--async"]);
}

fn the_server_evicts_an_idle_client_and_keeps_a_busy_one_in(mode: &[&str]) {
    let (srv, port) = server_on_free_port_in(mode, "127.0.0.1", &["--idle-timeout", "1"]);
    let mut idle = connect(localhost(port));
    let idle_port = idle.local_addr().unwrap().port();
    let mut busy = connect(localhost(port));
    let busy_port = busy.local_addr().unwrap().port();
    // Taken before the idle client's last message reaches the server, so the
    // eviction can be no earlier than a second after it, however loaded the machine.
    let last_word = Instant::now();
    echo_exact(&mut idle, b"then silence");
    let evicted = format!("evict 127.0.0.1:{idle_port} slot ");
    // The busy client talks without pause until the idle one's eviction is logged.
    let mut round = 0;
    loop {
        echo_exact(&mut busy, format!("busy {round}").as_bytes());
        round += 1;
        match srv.lines.try_recv() {
            Ok(line) if line.starts_with(&evicted) => {
                assert!(line.ends_with(" (idle)"), "{line}");
                break;
            }
            Ok(line) => assert!(!line.contains("(idle)"), "{line}"),
            Err(_) => {}
        }
        assert!(last_word.elapsed() < WAIT, "no eviction within {WAIT:?}");
    }
    // The server's clock counts whole milliseconds from its poll's start: allow that.
    let idle_for = last_word.elapsed();
    assert!(
        idle_for >= Duration::from_millis(990),
        "evicted {idle_for:?} after its last message: before its idle timeout"
    );
    read_until_closed(&mut idle).unwrap();
    // The busy one, which talked all along, is still served and was never evicted.
    echo_exact(&mut busy, b"still here");
    let busy_evicted = format!("evict 127.0.0.1:{busy_port} ");
    while let Ok(line) = srv.lines.try_recv() {
        assert!(!line.starts_with(&busy_evicted), "{line}");
    }
}

#[test]
fn the_server_denies_a_peer_not_on_its_allowlist() {
    the_server_denies_a_peer_not_on_its_allowlist_in(&[]);
}

/// The same with the async front end.
#[test]
fn the_server_denies_a_peer_not_on_its_allowlist_async() {
    the_server_denies_a_peer_not_on_its_allowlist_in(&["--async"]);
}

fn the_server_denies_a_peer_not_on_its_allowlist_in(mode: &[&str]) {
    let (mut srv, port) = server_on_free_port_in(mode, "127.0.0.1", &["--allow", "127.0.0.2"]);
    let mut denied = connect(localhost(port));
    let from = denied.local_addr().unwrap().port();
    srv.expect_line("'deny'", |l| {
        l == format!("deny 127.0.0.1:{from} (not allowed)")
    });
    let _ = denied.write_all(b"anyone there?");
    read_until_closed(&mut denied).unwrap();
    // The same address on the list is served.
    let (_srv, port) = server_on_free_port_in(mode, "127.0.0.1", &["--allow", "127.0.0.1"]);
    let mut allowed = connect(localhost(port));
    echo_exact(&mut allowed, b"allowed");
}

#[test]
fn the_client_example_sends_its_messages_in_turn() {
    the_client_example_sends_its_messages_in_turn_in(&[]);
}

/// The same with the async front end.
#[test]
fn the_client_example_sends_its_messages_in_turn_async() {
    the_client_example_sends_its_messages_in_turn_in(&["--async"]);
}

fn the_client_example_sends_its_messages_in_turn_in(mode: &[&str]) {
    let port = free_port();
    let mut py = tutorial_server(port);
    let mut client = client_example_in(
        mode,
        port,
        &[
            "--message",
            "掌控板 one",
            "--message",
            "two",
            "--count",
            "3",
        ],
    );
    assert_eq!(client.wait_exit(), 0, "client output: {:?}", client.seen);
    // recv(1024) may join messages that arrive together; their order is kept.
    let mut received = String::new();
    while !received.contains("掌控板 onetwo掌控板 one") {
        received += &py.expect_line("a message", |_| true);
    }
}

#[test]
fn the_client_example_fails_on_a_wrong_echo() {
    the_client_example_fails_on_a_wrong_echo_in(&[]);
}

/// The same with the async front end.
#[test]
fn the_client_example_fails_on_a_wrong_echo_async() {
    the_client_example_fails_on_a_wrong_echo_in(&["--async"]);
}

fn the_client_example_fails_on_a_wrong_echo_in(mode: &[&str]) {
    let port = free_port();
    // Echoes everything in upper case: not what was sent.
    let upper = "import socket,sys\n\
        l=socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
        l.bind(('127.0.0.1', int(sys.argv[1]))); l.listen(1); print('ready', flush=True)\n\
        c,_=l.accept()\n\
        while (d:=c.recv(1024)): c.send(d.upper())\n";
    let mut py = Proc::start(Command::new("python3").args(["-c", upper, &port.to_string()]));
    py.expect_line("'ready'", |l| l == "ready");
    let mut client = client_example_in(mode, port, &["--count", "3"]);
    client.expect_line("'mismatch'", |l| l.starts_with("mismatch"));
    assert_eq!(client.wait_exit(), 1, "client output: {:?}", client.seen);
}

/// Ctrl-C stops every loop: the process exits 0, and a client of any loop sees its
/// connection end. Each loop has a slot for every client, however the kernel
/// spreads them.
#[test]
#[cfg(target_os = "linux")]
fn the_server_stops_every_loop_on_ctrl_c() {
    stops_on_ctrl_c(&["--threads", "3", "--slots", "8"], 6);
}

/// The async server stops on Ctrl-C too, and its clients see their connections end.
#[test]
#[cfg(target_os = "linux")]
fn the_async_server_stops_on_ctrl_c() {
    stops_on_ctrl_c(&["--async"], 3);
}

/// `clients` clients are echoed, Ctrl-C ends the server with exit code 0, and each
/// client sees its connection end.
#[cfg(target_os = "linux")]
fn stops_on_ctrl_c(args: &[&str], clients: usize) {
    let (mut srv, port) = server_on_free_port("127.0.0.1", args);
    let mut clients: Vec<TcpStream> = (0..clients).map(|_| connect(localhost(port))).collect();
    for (i, s) in clients.iter_mut().enumerate() {
        echo_exact(s, format!("client {i}").as_bytes());
    }
    // SAFETY: a signal to our own child, whose pid is valid until it is waited for.
    let sent = unsafe { libc::kill(srv.child.id() as libc::pid_t, libc::SIGINT) };
    assert_eq!(sent, 0);
    assert_eq!(srv.wait_exit(), 0, "{:?}", srv.seen);
    for (i, s) in clients.iter_mut().enumerate() {
        assert_eq!(read_until_closed(s), Ok(()), "client {i}");
    }
}

/// `--async` is TCP on one thread: what it cannot do is a usage error (exit 2).
#[test]
fn async_with_what_it_cannot_do_is_a_usage_error() {
    let refused: [&[&str]; 3] = [
        &["--async", "--threads", "2"],
        &["--async", "--no-tcp"],
        &["--async", "--png", "/tmp/x.png"],
    ];
    for args in refused {
        let mut srv = Proc::start(Command::new(example("server")).args(args));
        assert_eq!(srv.wait_exit(), 2, "server {args:?}");
    }
    let mut client = client_example(1, &["--async", "--udp"]);
    assert_eq!(client.wait_exit(), 2, "client --async --udp");
}

#[test]
#[cfg(target_os = "linux")]
fn the_demo_stops_on_ctrl_c_with_its_summary() {
    let _one = DEMO.lock().unwrap_or_else(|e| e.into_inner());
    let mut demo = Proc::start(&mut Command::new(example("demo")));
    demo.expect_line("the first message", |l| l == "message: Hello Handbit");
    // SAFETY: a signal to our own child, whose pid is valid until it is waited for.
    let sent = unsafe { libc::kill(demo.child.id() as libc::pid_t, libc::SIGINT) };
    assert_eq!(sent, 0);
    assert_eq!(demo.wait_exit(), 0, "{:?}", demo.seen);
    let summary = demo.expect_line("the summary", |l| l.starts_with("demo: sent "));
    let (sent, echoed, mismatches) = demo_summary(&summary);
    assert!(sent >= 1);
    assert_eq!((echoed, mismatches), (sent, 0));
}
