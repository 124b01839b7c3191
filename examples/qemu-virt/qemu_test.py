#!/usr/bin/env python3
"""Tests of the nal-echo firmware on emulated RISC-V boards (QEMU virt).

    python3 qemu_test.py [--figures] [--only NAME]... [--firmware FW]... [--keep-logs]

Builds no firmware: run ci.sh (or the cargo commands in README.md) first. It needs, in
target/riscv64gc-unknown-none-elf/release/: `server`, `server-async`, `raw` (for
--figures) and `client-test` (the client built with a small PERIOD_MS and COUNT, see
ci.sh; the port it connects to is read from its first serial line), and `cargo` to
build the main crate's `qemu_frame` example (once, when a test first needs it).

Every test runs against each server firmware (--firmware picks some: `server`, the
poll EchoServer over smoltcp, and `server-async`, the AsyncEchoServer over
embassy-net); the UDP tests only against firmware that answers UDP.

Tests (all by default; --only picks some, by name):
  tutorial      the tutorial's two messages echoed by the server firmware
  frame         the frame on serial shows the last message (and not another one)
  each-message  20 clients in turn send a message and close: the screen shows each
  blob          1 MiB echoed byte-exact
  slots         4 clients served at once, a 5th closed cleanly, freed slots reused
  at-once       5 clients connecting in the same instant: 4 served, the 5th closed
  two-boards    server firmware and client firmware in two QEMUs, >= 10 echoes
  udp           datagrams echoed beside TCP (firmware that answers UDP)
  two-boards-udp  two-boards with the client over UDP (likewise)
--figures adds firmware sizes and echo throughput (1 MiB, random and text) and
64-byte round trip of the library servers (poll and async) against the raw smoltcp
server, all boards running and measured in turn (--runs N times), as markdown
tables; `--only none --figures` measures only.

Every QEMU it starts is killed at the end; every wait has a timeout. Exit status:
0 if all tests passed, 1 otherwise. The last line is `N passed, M failed`.
"""

import argparse
import functools
import json
import os
import re
import select
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
ELF_DIR = os.path.join(HERE, "target", "riscv64gc-unknown-none-elf", "release")
RUN_SH = os.path.join(HERE, "run.sh")

BOOT_TIMEOUT = 30.0  # seconds until `listening on` (QEMU start + boot)
IO_TIMEOUT = 10.0  # any single socket operation
TUTORIAL = [b"Hello Handbit", b"I'am MixNo"]
# The server firmware the tests run against, and whether each answers UDP on 5001.
FIRMWARE = {"server": True, "server-async": False}

QEMUS = []  # every QEMU process started, to kill at the end


# --------------------------------------------------------------------------- QEMU


class Board:
    """One QEMU running a firmware ELF. Serial goes to one log file and what QEMU
    itself prints to another, so that a warning of QEMU's never lands inside a
    frame block or an event line of the firmware's."""

    def __init__(self, elf, host_port, logdir, name, monitor=False):
        self.name = name
        self.host_port = host_port
        self.log_path = os.path.join(logdir, f"{name}.log")
        self.qemu_log_path = os.path.join(logdir, f"{name}.qemu.log")
        # QEMU's human monitor on a unix socket (see `Monitor`), if asked for.
        self.monitor_path = os.path.join(logdir, f"{name}.monitor") if monitor else None
        if not os.path.exists(elf):
            raise TestError(f"missing {elf}: build the firmware first (ci.sh)")
        env = dict(os.environ, HOST_PORT=str(host_port) if host_port else "none",
                   SERIAL_LOG=self.log_path)
        if self.monitor_path:
            env["QEMU_MONITOR"] = self.monitor_path
        open(self.log_path, "wb").close()  # readable before QEMU opens it
        self.log = open(self.qemu_log_path, "wb")
        self.proc = subprocess.Popen(
            [RUN_SH, elf],
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        QEMUS.append(self.proc)

    def text(self):
        """What the firmware wrote to serial so far."""
        return read_text(self.log_path)

    def qemu_text(self):
        """What QEMU itself printed so far (warnings, errors)."""
        return read_text(self.qemu_log_path)

    def tails(self):
        """The ends of both logs, for an error message."""
        text = f"serial log tail:\n{tail(self.text())}"
        if self.qemu_text().strip():
            text += f"\n  QEMU's output:\n{tail(self.qemu_text())}"
        return text

    def wait_for(self, pattern, timeout, after=0):
        """The first match of regex `pattern` in the log at or after offset `after`;
        raises if QEMU exits or the time runs out first."""
        regex = re.compile(pattern, re.M)
        deadline = time.monotonic() + timeout
        while True:
            m = regex.search(self.text(), after)
            if m:
                return m
            if self.proc.poll() is not None:
                m = regex.search(self.text(), after)
                if m:
                    return m
                raise TestError(
                    f"{self.name}: QEMU exited ({self.proc.returncode}) before "
                    f"/{pattern}/; {self.tails()}"
                )
            if time.monotonic() > deadline:
                raise TestError(f"{self.name}: no /{pattern}/ within {timeout:.0f} s; {self.tails()}")
            time.sleep(0.05)

    def wait_exit(self, timeout):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise TestError(f"{self.name}: still running after {timeout:.0f} s; {self.tails()}") from None

    def stop(self):
        kill(self.proc)
        self.log.close()


class Monitor:
    """QEMU's human monitor of a board started with `monitor=True`."""

    PROMPT = b"(qemu) "

    def __init__(self, board, timeout=IO_TIMEOUT):
        self.sock = socket.socket(socket.AF_UNIX)
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock.connect(board.monitor_path)
                break
            except (FileNotFoundError, ConnectionRefusedError):
                if time.monotonic() > deadline:
                    raise TestError(f"{board.name}: no monitor at {board.monitor_path}") from None
                time.sleep(0.05)
        self.sock.settimeout(timeout)
        self._read_to_prompt()

    def _read_to_prompt(self):
        data = b""
        while not data.endswith(self.PROMPT):
            chunk = self.sock.recv(4096)
            if not chunk:
                raise TestError("QEMU closed its monitor")
            data += chunk
        return data

    def command(self, line):
        """Runs `line` and returns its output, without the echo's escape codes."""
        self.sock.sendall(line.encode() + b"\n")
        out = self._read_to_prompt()[: -len(self.PROMPT)].decode("utf-8", "replace")
        return re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", out)

    def close(self):
        self.sock.close()


def kill(proc):
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=5)


def kill_all():
    for proc in QEMUS:
        try:
            kill(proc)
        except Exception:  # keep killing the others
            pass


def read_text(path):
    with open(path, "rb") as f:
        return f.read().decode("utf-8", "replace")


def tail(text, lines=15):
    return "\n".join("    " + l for l in text.splitlines()[-lines:] if not is_frame_line(l))


def is_frame_line(line):
    return bool(re.fullmatch(r"[0-9a-f]{32}", line.strip()))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def boot_server(elf, logdir, name, port=None, monitor=False):
    """A board running a server firmware, listening; retries with another port if
    QEMU could not set up the forward (the port was taken meanwhile)."""
    for attempt in range(3):
        board = Board(elf, port or free_port(), logdir, f"{name}-{attempt}" if attempt else name, monitor)
        try:
            board.wait_for(r"^listening on 10\.0\.2\.15:5001", BOOT_TIMEOUT)
            return board
        except TestError:
            board.stop()
            if port is None and "host forwarding" in board.qemu_text() and attempt < 2:
                continue
            raise
    raise TestError("unreachable")


# --------------------------------------------------------------------- sockets


class TestError(Exception):
    pass


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def recv_exact(s, n, timeout=IO_TIMEOUT):
    data = bytearray()
    deadline = time.monotonic() + timeout
    while len(data) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TestError(f"timed out after {len(data)} of {n} bytes")
        s.settimeout(left)
        try:
            chunk = s.recv(n - len(data))
        except socket.timeout:
            raise TestError(f"timed out after {len(data)} of {n} bytes") from None
        if not chunk:
            raise TestError(f"connection closed after {len(data)} of {n} bytes")
        data += chunk
    return bytes(data)


def echo(s, msg):
    s.sendall(msg)
    got = recv_exact(s, len(msg))
    if got != msg:
        raise TestError(f"sent {msg!r}, echo {got!r}")


def text_bytes(size):
    """`size` bytes of printable ASCII text (what the screen is for)."""
    line = b"The quick brown fox jumps over the lazy dog; Hello Handbit, I'am MixNo.\n"
    return (line * (size // len(line) + 1))[:size]


def echo_blob(port, size, timeout=120.0, data=None):
    """Send `size` bytes (random unless `data` is given) while reading the echo;
    seconds taken from connect to the last byte checked."""
    data = os.urandom(size) if data is None else data
    t0 = time.perf_counter()
    s = connect(port)
    try:
        result = {}

        def reader():
            try:
                result["data"] = recv_exact(s, size, timeout)
            except Exception as e:  # reported below
                result["error"] = e

        th = threading.Thread(target=reader, daemon=True)
        th.start()
        s.settimeout(timeout)
        s.sendall(data)
        th.join(timeout + 1)
        elapsed = time.perf_counter() - t0
        if th.is_alive():
            raise TestError("reader did not finish")
        if "error" in result:
            raise TestError(f"echo of {size} bytes: {result['error']}")
        if result["data"] != data:
            first = next(i for i, (a, b) in enumerate(zip(result["data"], data)) if a != b)
            raise TestError(f"echo differs from byte {first} on")
        return elapsed
    finally:
        s.close()


def rtt_median(port, rounds=200, size=64, udp=False):
    """Median of `rounds` round trips of `size` bytes, over TCP or UDP."""
    s = udp_socket(port) if udp else connect(port)
    exchange = udp_echo if udp else echo
    try:
        msg = bytes(range(size))
        times = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            exchange(s, msg)
            times.append(time.perf_counter() - t0)
        return statistics.median(times)
    finally:
        s.close()


def udp_socket(port, timeout=IO_TIMEOUT):
    """A UDP socket connected to the board's forwarded port."""
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.connect(("127.0.0.1", port))
    u.settimeout(timeout)
    return u


def udp_echo(u, msg):
    """Sends `msg` and checks that the next datagram back is the same."""
    u.send(msg)
    try:
        back = u.recv(65536)
    except socket.timeout:
        raise TestError(f"no echo of a {len(msg)}-byte datagram within {u.gettimeout()} s")
    if back != msg:
        raise TestError(f"datagram of {len(msg)} bytes came back as {len(back)} bytes, changed")


def udp_rate(port, count=2000, window=8, size=64):
    """Datagrams echoed per second with up to `window` in flight, each echo checked
    against the datagram of its number; one lost (1 s without an echo) ends it."""
    u = udp_socket(port, timeout=1.0)
    try:
        def datagram(k):
            return k.to_bytes(4, "little") + bytes((k + i) % 251 for i in range(size - 4))
        sent = got = 0
        t0 = time.perf_counter()
        while got < count:
            while sent < count and sent - got < window:
                u.send(datagram(sent))
                sent += 1
            try:
                back = u.recv(65536)
            except socket.timeout:
                raise TestError(f"datagram lost after {got} echoes")
            if back != datagram(int.from_bytes(back[:4], "little")):
                raise TestError("an echoed datagram changed")
            got += 1
        return count / (time.perf_counter() - t0)
    finally:
        u.close()


def expect_eof(s, timeout=IO_TIMEOUT):
    """The server closed `s` (recv gives b""); a reset counts as a failure."""
    s.settimeout(timeout)
    try:
        data = s.recv(100)
    except socket.timeout:
        raise TestError("connection neither closed nor served") from None
    except ConnectionResetError:
        raise TestError("connection reset instead of closed") from None
    if data:
        raise TestError(f"expected EOF, got {data!r}")


# ------------------------------------------------------------------- the tests


def test_tutorial(ctx):
    board = ctx.server()
    mark = len(board.text())
    s = connect(board.host_port)
    try:
        for msg in TUTORIAL:
            echo(s, msg)
    finally:
        s.close()
    board.wait_for(rf"^connect {ctx.peer()} slot \d", 5, mark)
    board.wait_for(rf"^disconnect {ctx.peer()} slot \d \(peer closed\)", 5, mark)


def test_udp(ctx):
    """The tutorial's messages as datagrams, the largest datagram a frame carries,
    a larger one (QEMU cuts it into IP fragments, which smoltcp does not
    reassemble: no echo, and the next one is echoed), and TCP on the same port at
    the same time."""
    board = ctx.server()
    board.wait_for(r"^udp on 10\.0\.2\.15:5001", BOOT_TIMEOUT)
    tcp = connect(board.host_port)
    u = udp_socket(board.host_port)
    try:
        for msg in TUTORIAL:
            udp_echo(u, msg)
            echo(tcp, msg)
        udp_echo(u, bytes(i % 256 for i in range(1472)))
        udp_echo(u, b"")
        u.send(b"F" * 2000)
        udp_echo(u, b"after the fragments")
        for k in range(50):
            udp_echo(u, b"datagram %d" % k)
        echo(tcp, b"still here")
    finally:
        u.close()
        tcp.close()


def test_frame(ctx):
    board = ctx.server()
    last = "I'am MixNo"
    # The screen shows the text of one poll of a connection: two messages that
    # arrive within one poll show together (TCP has no message boundaries). So the
    # last message goes on a connection of its own.
    start = len(board.text())
    first = connect(board.host_port)
    try:
        echo(first, TUTORIAL[0])
    finally:
        first.close()
    board.wait_for(r"^disconnect ", 5, start)
    # The screen redraws at most every 100 ms. Had the last message come within
    # that interval of the first, the line could go from a previous test's
    # "I'am MixNo" through "Hello Handbit" back to "I'am MixNo" with no redraw at
    # all, or be redrawn with the first message after `mark`: wait until the
    # screen shows the first one before going on.
    wait_for_message(board, ctx, "Hello Handbit", 5)
    mark = len(board.text())
    s = connect(board.host_port)
    try:
        echo(s, TUTORIAL[1])
        # The message changed after `mark`: the next block that redraws the message
        # line shows it, and nothing later touches that line while `s` is open.
        wait_for_block(board, MESSAGE_ROWS, 5, mark)
    finally:
        s.close()
    snapshot = os.path.join(ctx.logdir, f"frame-{ctx.firmware}.log")
    shutil.copyfile(board.log_path, snapshot)
    png = os.path.join(ctx.logdir, f"frame-{ctx.firmware}.png")
    out = run_frame_tool([snapshot, "--png", png, "--expect-message", last])
    if out.returncode != 0:
        raise TestError(f"qemu_frame --expect-message {last!r}: exit {out.returncode}\n{out.stdout}{out.stderr}")
    print(indent(out.stdout))
    wrong = run_frame_tool([snapshot, "--expect-message", "Hello Handbit"])
    if wrong.returncode != 1:
        raise TestError(f"qemu_frame accepted a wrong message: exit {wrong.returncode}\n{wrong.stderr}")
    if not os.path.getsize(png):
        raise TestError("empty PNG")
    if ctx.args.keep_logs:
        print(f"    PNG: {png}")


def test_each_message(ctx):
    """The tutorial's client sends, waits for the echo and closes at once: each
    such message must reach the screen, also when the close comes in the same
    poll as the message (the poll server once dropped it then)."""
    board = ctx.server()
    for k in range(EACH_MESSAGE_COUNT):
        message = f"{k}:{TUTORIAL[k % 2].decode()}"
        start = len(board.text())
        s = connect(board.host_port)
        try:
            echo(s, message.encode())
        finally:
            s.close()
        board.wait_for(r"^disconnect ", 5, start)
        wait_for_message(board, ctx, message, 5)


EACH_MESSAGE_COUNT = 20


def wait_for_message(board, ctx, message, timeout):
    """Until the frames the board printed so far show `message` on the message
    line (read back by the qemu_frame tool), checked every half refresh. The last
    check reads a log copied after the deadline, however long the tool takes."""
    snapshot = os.path.join(ctx.logdir, f"frame-wait-{ctx.firmware}.log")
    deadline = time.monotonic() + timeout
    while True:
        late = time.monotonic() > deadline
        shutil.copyfile(board.log_path, snapshot)
        out = run_frame_tool([snapshot, "--expect-message", message])
        if out.returncode == 0:
            return
        if late:
            raise TestError(
                f"the screen did not show {message!r} within {timeout} s; qemu_frame "
                f"(exit {out.returncode}) on the last copy:\n{indent(out.stderr + out.stdout)}\n"
                f"  {board.tails()}"
            )
        time.sleep(REFRESH_S / 2)


MESSAGE_ROWS = range(48, 64)  # pixel rows of the screen's message line
REFRESH_S = 0.1  # the servers redraw the screen at most this often
BLOCK = r"^(?:FRAME 128x64 \d+|ROWS 128x64 \d+ (\d+))\n((?:[0-9a-f]{32}\n){1,64})END$"


def wait_for_block(board, rows, timeout, after):
    """The first complete frame block at or after offset `after` that redraws any
    of the pixel `rows`."""
    deadline = time.monotonic() + timeout
    while True:
        m = board.wait_for(BLOCK, max(deadline - time.monotonic(), 0), after)
        first = int(m.group(1) or 0)
        if first < rows.stop and first + m.group(2).count("\n") > rows.start:
            return m
        after = m.end()


def run_frame_tool(args):
    """Runs the main crate's `qemu_frame` example, built once per run of this
    script (then run directly: no cargo, no build lock, in every check)."""
    try:
        return subprocess.run([build_example("qemu_frame")] + args, capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        raise TestError("qemu_frame took more than 60 s") from None


@functools.cache
def build_example(name):
    """Builds example `name` of the main crate (once); returns its executable's path."""
    cmd = ["cargo", "build", "--quiet", "--example", name, "--message-format=json"]
    try:
        out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=900)
    except subprocess.TimeoutExpired:
        raise TestError(f"building {name} took more than 15 minutes") from None
    for line in out.stdout.splitlines():
        if '"executable"' not in line:
            continue
        artifact = json.loads(line)
        if artifact.get("target", {}).get("name") == name and artifact.get("executable"):
            return artifact["executable"]
    raise TestError(f"cargo build --example {name} gave no executable (exit {out.returncode}):\n{out.stderr}")


def test_blob(ctx):
    board = ctx.server()
    secs = echo_blob(board.host_port, 1 << 20)
    print(f"    1 MiB echoed byte-exact in {secs:.2f} s ({(1 << 20) / secs / 1e6:.2f} MB/s)")


def test_slots(ctx):
    board = ctx.server()
    port = board.host_port
    clients = []
    try:
        # One after another: QEMU's forward has a backlog of 1, and a client counts as
        # served only once its echo came back.
        for i in range(4):
            mark = len(board.text())
            s = connect(port)
            clients.append(s)
            echo(s, f"client {i}".encode())
            board.wait_for(rf"^connect {ctx.peer()} slot \d", 5, mark)
        for i, s in enumerate(clients):
            echo(s, f"still {i}".encode())
        mark = len(board.text())
        fifth = connect(port)
        try:
            expect_eof(fifth)
        finally:
            fifth.close()
        board.wait_for(rf"^reject {ctx.peer()} \(slots full\)", 5, mark)
        for i, s in enumerate(clients):
            echo(s, f"after reject {i}".encode())
        mark = len(board.text())
        for s in clients:
            s.close()
        clients = []
        deadline = time.monotonic() + 10
        while len(re.findall(r"^disconnect ", board.text()[mark:], re.M)) < 4:
            if time.monotonic() > deadline:
                raise TestError("the 4 clients' slots were not freed")
            time.sleep(0.05)
        for i in range(4):
            s = connect(port)
            clients.append(s)
            echo(s, f"again {i}".encode())
    finally:
        for s in clients:
            s.close()


def wait_for_count(board, pattern, count, timeout, after):
    """Waits until `pattern` matched `count` times at or after offset `after`."""
    deadline = time.monotonic() + timeout
    for found in range(count):
        try:
            after = board.wait_for(pattern, max(deadline - time.monotonic(), 0), after).end()
        except TestError as e:
            raise TestError(f"{found} of {count} matches: {e}") from None


def closed_by_server(socks, timeout=IO_TIMEOUT):
    """The one socket of `socks` the server closed without being sent anything
    (the others stay silent); a reset or unasked-for data fails."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TestError("no connection was closed")
        readable, _, _ = select.select(socks, [], [], left)
        for s in readable:
            try:
                data = s.recv(100)
            except ConnectionResetError:
                raise TestError("a connection was reset instead of closed") from None
            if data:
                raise TestError(f"the server sent {data!r} unasked")
            return s


def wait_for_forwarded_syns(monitor, count, timeout=IO_TIMEOUT):
    """Waits until QEMU's user network holds `count` connections from the host
    whose SYN to the board is sent or queued (`info usernet`: SYN_SENT)."""
    deadline = time.monotonic() + timeout
    while True:
        table = monitor.command("info usernet")
        found = table.count("TCP[SYN_SENT]")
        if found == count:
            return
        if time.monotonic() > deadline:
            raise TestError(f"{found} of {count} connections reached QEMU's user network:\n{table}")
        time.sleep(0.05)


def connect_while_paused(port, monitor, count):
    """`count` connections from the host to a paused board: each is taken by QEMU's
    user network, whose SYN to the board waits in QEMU's queue, before the next
    connects (the forward's listen backlog is 1, so more at once would be held back
    by the host's kernel instead)."""
    socks = []
    try:
        for i in range(count):
            socks.append(connect(port))
            wait_for_forwarded_syns(monitor, i + 1)
        return socks
    except BaseException:
        for s in socks:
            s.close()
        raise


def test_at_once(ctx):
    """The board has 4 slots, all free: 5 clients connect in the same instant. The
    board is paused meanwhile, so that their 5 SYNs reach it together (QEMU queues
    them and hands them to the card at `cont`), as on a LAN where five cameras power
    up at once. Each of the 4 served ones gets its own bytes back; the 5th is closed
    (FIN, not a reset)."""
    board = boot_server(ctx.elf(), ctx.logdir, f"at-once-{ctx.firmware}", monitor=True)
    monitor = Monitor(board)
    socks = []
    try:
        monitor.command("stop")
        socks = connect_while_paused(board.host_port, monitor, 5)
        mark = len(board.text())
        monitor.command("cont")
        wait_for_count(board, rf"^connect {ctx.peer()} slot \d", 4, 10, mark)
        board.wait_for(rf"^reject {ctx.peer()} \(slots full\)", 10, mark)
        fifth = closed_by_server(socks)
        served = [s for s in socks if s is not fifth]
        for i, s in enumerate(served):
            s.sendall(f"at once {i}".encode())
        for i, s in enumerate(served):
            msg = f"at once {i}".encode()
            got = recv_exact(s, len(msg))
            if got != msg:
                raise TestError(f"sent {msg!r}, echo {got!r}")
    finally:
        for s in socks:
            s.close()
        monitor.close()
        board.stop()


def test_two_boards(ctx, elf_name="client-test", name="two-boards", udp=False):
    elf = os.path.join(ELF_DIR, elf_name)
    port = client_port(ctx, elf, udp)
    server = boot_server(ctx.elf(), ctx.logdir, f"{name}-{ctx.firmware}", port)
    try:
        if udp:
            server.wait_for(r"^udp on 10\.0\.2\.15:5001", BOOT_TIMEOUT)
        client = Board(elf, None, ctx.logdir, f"{name}-client")
        code = client.wait_exit(90)
        text = client.text()
        stats = re.findall(r"^stats sent (\d+) echoed (\d+) mismatches (\d+) lost \d+ rtt min/avg/max (\S+) ms", text, re.M)
        if code != 0:
            raise TestError(f"client firmware exit status {code}; {client.tails()}")
        if not stats:
            raise TestError(f"no stats line; {client.tails()}")
        sent, echoed, mismatches, rtt = stats[-1]
        if int(echoed) < 10 or int(mismatches) != 0:
            raise TestError(f"client: echoed {echoed}, mismatches {mismatches}")
        if not udp:
            server.wait_for(rf"^connect {ctx.peer()} slot \d", 5)
        print(f"    client firmware: sent {sent} echoed {echoed} mismatches {mismatches} rtt min/avg/max {rtt} ms")
    finally:
        server.stop()


def test_two_boards_udp(ctx):
    """The tutorial's two boards over UDP: the client firmware built with UDP=1."""
    test_two_boards(ctx, "client-test-udp", "two-boards-udp", udp=True)


def client_port(ctx, elf, udp=False):
    """The port the client firmware was built for, from its first serial line."""
    probe = Board(elf, None, ctx.logdir, "client-probe")
    try:
        over = " over UDP" if udp else ","
        m = probe.wait_for(r"^client to 10\.0\.2\.2:(\d+)" + over, BOOT_TIMEOUT)
        return int(m.group(1))
    finally:
        probe.stop()


# ------------------------------------------------------------------- figures


def elf_sizes(path):
    """(text, data, bss) in bytes like `size`, from the section headers; the heap and
    stack regions of riscv-rt's link.x (.heap, .stack) are not counted."""
    with open(path, "rb") as f:
        elf = f.read()
    if elf[:4] != b"\x7fELF" or elf[4] != 2:
        raise TestError(f"{path}: not a 64-bit ELF")
    e_shoff, = struct.unpack_from("<Q", elf, 0x28)
    e_shentsize, e_shnum, e_shstrndx = struct.unpack_from("<HHH", elf, 0x3A)
    sections = []
    for i in range(e_shnum):
        name, stype, flags, _addr, offset, size = struct.unpack_from("<IIQQQQ", elf, e_shoff + i * e_shentsize)
        sections.append((name, stype, flags, offset, size))
    strtab = sections[e_shstrndx]
    names = elf[strtab[3] : strtab[3] + strtab[4]]
    text = data = bss = 0
    SHF_WRITE, SHF_ALLOC, SHF_EXEC = 1, 2, 4
    SHT_NOBITS = 8
    for name_off, stype, flags, _off, size in sections:
        name = names[name_off : names.index(b"\0", name_off)].decode()
        if not flags & SHF_ALLOC or name in (".heap", ".stack"):
            continue
        if stype == SHT_NOBITS:
            bss += size
        elif flags & SHF_WRITE:
            data += size
        else:
            text += size  # code and read-only data, as `size` counts them
    return text, data, bss


MIB = 1 << 20


def figures(ctx):
    """Sizes, then throughput and round trip of the library servers (poll and async)
    and the raw one. All boards run at once (an idle board sleeps, so it costs the
    others nothing). Each measure is taken of the boards back to back, in turns (the
    order rotates from run to run, so each board goes first equally often), so that
    changes in the host's load and any cost of going first or last hit all alike. A
    ratio is the median of the per-run ratios to raw; the absolute figures are
    medians too. UDP is measured only on firmware that answers it."""
    libs = [n for n in FIRMWARE if not ctx.args.firmware or n in ctx.args.firmware]
    names = libs + ["raw"]
    udp = {n: FIRMWARE.get(n, True) for n in names}
    sizes = {n: elf_sizes(os.path.join(ELF_DIR, n)) for n in names}
    runs = ctx.args.runs
    boards = {}
    measures = {
        "random": lambda port: MIB / echo_blob(port, MIB) / MIB,
        "text": lambda port, text=text_bytes(MIB): MIB / echo_blob(port, MIB, data=text) / MIB,
        "rtt": lambda port: rtt_median(port, 200) * 1e3,
        "udp-rtt": lambda port: rtt_median(port, 200, udp=True) * 1e3,
        "udp-rate": lambda port: udp_rate(port, 2000),
    }
    UDP_MEASURES = ("udp-rtt", "udp-rate")
    try:
        for name in names:
            boards[name] = boot_server(os.path.join(ELF_DIR, name), ctx.logdir, f"fig-{name}")
            if udp[name]:
                boards[name].wait_for(r"^udp on 10\.0\.2\.15:5001", BOOT_TIMEOUT)
        results = {n: {k: [] for k in measures} for n in names}
        for name in names:  # warm up
            echo_blob(boards[name].host_port, 64 * 1024)
            rtt_median(boards[name].host_port, 20)
        for run in range(runs):
            r = run % len(names)
            order = names[r:] + names[:r]
            for key, measure in measures.items():
                for name in order:
                    if key in UDP_MEASURES and not udp[name]:
                        continue
                    results[name][key].append(measure(boards[name].host_port))
    finally:
        for board in boards.values():
            board.stop()
    med = {n: {k: statistics.median(v) for k, v in results[n].items() if v} for n in names}
    ratio, quartiles = {}, {}
    for n in libs:
        for k in measures:
            if not results[n][k]:
                continue
            v = sorted(a / b for a, b in zip(results[n][k], results["raw"][k]))
            ratio[n, k] = statistics.median(v)
            quartiles[n, k] = (v[len(v) // 4], v[(3 * len(v)) // 4])

    print()
    print("| firmware | text | data | bss |")
    print("|---|---:|---:|---:|")
    for name in names:
        t, d, b = sizes[name]
        print(f"| {name} | {t} | {d} | {b} |")
    print()
    print("(bytes, as `size` counts them: text = code + read-only data; bss without riscv-rt's"
          " stack region; `server` and `raw` include 256 KiB of socket buffers, `server-async`"
          " 160 KiB (5 sockets of 2 x 16 KiB, edge-nal-embassy's TcpBuffers); all include"
          " 64 KiB of packet buffers and 32 KiB of virtqueue memory)")
    print()
    print("| measure | " + " | ".join(names) + " | " + " | ".join(f"{n} / raw (quartiles)" for n in libs) + " | goal |")
    print("|---|" + "---:|" * (len(names) + len(libs)) + "---|")
    rows = (
        ("random", "echo throughput, 1 MiB random bytes", "{:.1f} MiB/s", ">= 0.9x", lambda x: x >= 0.9),
        ("text", "echo throughput, 1 MiB text", "{:.1f} MiB/s", ">= 0.9x", lambda x: x >= 0.9),
        ("rtt", "64-byte round trip", "{:.3f} ms", "<= 1.1x", lambda x: x <= 1.1),
        ("udp-rtt", "UDP 64-byte round trip", "{:.3f} ms", None, None),
        ("udp-rate", "UDP 64-byte datagrams per second, 8 in flight", "{:.0f}", None, None),
    )
    for key, label, fmt, goal, met in rows:
        cells = [fmt.format(med[n][key]) if key in med[n] else "-" for n in names]
        for n in libs:
            if (n, key) in ratio:
                lo, hi = quartiles[n, key]
                cells.append(f"{ratio[n, key]:.2f}x ({lo:.2f}..{hi:.2f})")
            else:
                cells.append("-")
        if goal:
            verdicts = ", ".join(f"{n} {'met' if met(ratio[n, key]) else 'not met'}" for n in libs)
            cells.append(f"{goal}: {verdicts}")
        else:
            cells.append("-")
        print(f"| {label} | " + " | ".join(cells) + " |")
    print()
    print(f"(medians of {runs} runs, each measure taken of all boards back to back in"
          " rotating order; ratio: median of the per-run ratios, with its quartiles;"
          " round trip: median of 200 per run; datagrams per second: 2000 per run)")


# ------------------------------------------------------------------- driver


class Context:
    def __init__(self, args, logdir):
        self.args = args
        self.logdir = logdir
        self.firmware = "server"
        self._server = None

    def use(self, firmware):
        """Run the next tests against `firmware` (a name in FIRMWARE)."""
        if firmware != self.firmware:
            self.close()
            self.firmware = firmware

    def elf(self):
        return os.path.join(ELF_DIR, self.firmware)

    def peer(self):
        """Regex of the peer address in the firmware's event lines: the host's
        connections come from 10.0.2.2 (QEMU's user network). edge-nal-embassy 0.9.0's
        `TcpAccept::accept` hands back the socket's local endpoint where edge-nal
        documents the peer's, so the async firmware names the board's own address
        (10.0.2.15:5001) instead; either is accepted from it."""
        if self.firmware == "server-async":
            return r"(?:10\.0\.2\.2:\d+|10\.0\.2\.15:5001)"
        return r"10\.0\.2\.2:\d+"

    def server(self):
        """The shared server board of the host-client tests (booted once per firmware)."""
        if self._server is None or self._server.proc.poll() is not None:
            self._server = boot_server(self.elf(), self.logdir, self.firmware)
        return self._server

    def close(self):
        if self._server:
            self._server.stop()
            self._server = None


def indent(text):
    return "\n".join("    " + l for l in text.rstrip().splitlines())


TESTS = [
    ("tutorial", test_tutorial),
    ("frame", test_frame),
    ("each-message", test_each_message),
    ("blob", test_blob),
    ("slots", test_slots),
    ("at-once", test_at_once),
    ("two-boards", test_two_boards),
    ("udp", test_udp),
    ("two-boards-udp", test_two_boards_udp),
]
UDP_TESTS = {"udp", "two-boards-udp"}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--figures", action="store_true", help="also measure sizes, throughput and round trip")
    parser.add_argument("--only", action="append", choices=[n for n, _ in TESTS] + ["none"], help="run only these tests")
    parser.add_argument("--firmware", action="append", choices=list(FIRMWARE),
                        help="run the tests against these server firmware (default: all)")
    parser.add_argument("--runs", type=int, default=15, help="--figures: runs of each measure per firmware")
    parser.add_argument("--keep-logs", action="store_true", help="keep the serial logs and the PNG")
    args = parser.parse_args()
    if shutil.which("qemu-system-riscv64") is None and "QEMU" not in os.environ:
        print("qemu-system-riscv64 not found (apt-get install qemu-system-misc)")
        print("0 passed, 1 failed")
        return 1
    logdir = tempfile.mkdtemp(prefix="qemu-virt-test-")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ctx = Context(args, logdir)
    passed = failed = 0
    try:
        for firmware in args.firmware or list(FIRMWARE):
            ctx.use(firmware)
            for name, test in TESTS:
                if args.only and name not in args.only:
                    continue
                if name in UDP_TESTS and not FIRMWARE[firmware]:
                    print(f"skip {name} [{firmware}] (answers no UDP)", flush=True)
                    continue
                t0 = time.monotonic()
                try:
                    test(ctx)
                except (TestError, OSError) as e:
                    failed += 1
                    print(f"FAIL {name} [{firmware}] ({time.monotonic() - t0:.1f} s): {e}", flush=True)
                else:
                    passed += 1
                    print(f"PASS {name} [{firmware}] ({time.monotonic() - t0:.1f} s)", flush=True)
            ctx.close()
        if args.figures:
            try:
                figures(ctx)
            except (TestError, OSError) as e:
                failed += 1
                print(f"FAIL figures: {e}", flush=True)
    finally:
        ctx.close()
        kill_all()
        if args.keep_logs or failed:
            print(f"serial logs in {logdir}")
        else:
            shutil.rmtree(logdir, ignore_errors=True)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
