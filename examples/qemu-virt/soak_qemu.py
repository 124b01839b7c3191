#!/usr/bin/env python3
"""The `soak` load tool against the server firmware and the raw smoltcp firmware,
each booted in QEMU with user networking and a forward from a loopback port.

    python3 soak_qemu.py [--firmware server|server-async|raw]... [--runs N] [--together]
                         [--capture DIR] [--keep-logs] [-- SOAK_ARGS...]

Builds nothing: build the firmware first (`cargo build --release --bins` here, or
ci.sh) and the host tool (`cargo build --release --example soak` at the repository
root). SOAK_ARGS go to soak after `--connect`; default `--clients 64 --seconds 60`.

Each run boots one firmware at a time (in turn; the order alternates between runs
so that a changing host load hits both alike), waits for `listening on`, runs soak,
and stops QEMU. With --together both firmware run at once, each with its own soak,
so that the host's load hits both alike within a run (they then share the host's
cores, so the figures are lower than one at a time). It prints soak's summary line per firmware and run, then a markdown
table, and with both firmware the ratio of messages per second (server / raw, per
run, and the median over the runs; likewise server-async / raw when it is picked
with --firmware).

--capture DIR records, per firmware and run, what crossed the emulated card
(QEMU's filter-dump: DIR/NAME-RUN-guest.pcap) and, with tcpdump if installed, the
host side of the forward on loopback (DIR/NAME-RUN-host.pcap), and writes a
SYN accounting of both (see `syn_report`) next to them.

What the captures showed (libslirp 4.7, Linux host; details in the nal-echo
history): QEMU's forward listens on the host with a backlog of 1, so a burst of
connects overflows that socket's queue in the host's kernel. With SYN cookies on,
the kernel answers some SYNs with a cookie and then drops the client's last ACK
because the queue is full again; the client believes it is connected, its data is
never acknowledged, slirp never accepts the connection and the board never sees a
SYN for it (soak: `hangs unacked`). With `tcp_syncookies=0 tcp_abort_on_overflow=1`
in a private network namespace (`unshare -n sh -c 'ip link set lo up && sysctl -qw
net.ipv4.tcp_syncookies=0 net.ipv4.tcp_abort_on_overflow=1 && python3
soak_qemu.py'`, as root) the same hangs turn into unanswered connects (`hangs
connecting`). Either way the board answered every SYN that reached it. The summary
counts the hangs with no byte acknowledged by the host's end of the forward as the
emulator's, with those whose connect the host's end never answered.

Exit status: 0 if every soak run exited 0 (no hang, no corrupt or lost byte), 1
otherwise, 2 on bad arguments. Every QEMU and tcpdump started is stopped at the end;
every wait is bounded.
"""

import argparse
import json
import os
import re
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
ELF_DIR = os.path.join(HERE, "target", "riscv64gc-unknown-none-elf", "release")
SOAK = os.path.join(REPO, "target", "release", "examples", "soak")
BOOT_TIMEOUT = 30.0  # seconds until `listening on`
DEFAULT_SOAK_ARGS = ["--clients", "64", "--seconds", "60"]
GUEST_PORT = 5001


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(proc):
    """SIGTERM to the process group, SIGKILL if it lingers (bounded)."""
    if proc.poll() is not None:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=5)
            return
        except subprocess.TimeoutExpired:
            continue


class Qemu:
    """One firmware in QEMU, as run.sh starts it, plus an optional filter-dump."""

    def __init__(self, elf, host_port, log_path, guest_pcap=None):
        netdev = f"user,id=n0,hostfwd=tcp:127.0.0.1:{host_port}-:{GUEST_PORT}"
        cmd = [os.environ.get("QEMU", "qemu-system-riscv64"), "-machine", "virt",
               "-m", "128M", "-nographic", "-bios", "none",
               "-device", "virtio-net-device,netdev=n0", "-netdev", netdev]
        if guest_pcap:
            cmd += ["-object", f"filter-dump,id=f0,netdev=n0,file={guest_pcap}"]
        cmd += ["-kernel", elf]
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)

    def wait_listening(self):
        deadline = time.monotonic() + BOOT_TIMEOUT
        while time.monotonic() < deadline:
            with open(self.log_path, "rb") as f:
                if re.search(rb"^listening on 10\.0\.2\.15:5001", f.read(), re.M):
                    return
            if self.proc.poll() is not None:
                raise RuntimeError(f"QEMU exited ({self.proc.returncode}) before listening")
            time.sleep(0.05)
        raise RuntimeError(f"no 'listening on' within {BOOT_TIMEOUT:.0f} s")

    def stop(self):
        stop(self.proc)
        self.log.close()


def start_tcpdump(port, pcap):
    """tcpdump on loopback for the forward's port, once it reports listening; None
    without tcpdump."""
    try:
        proc = subprocess.Popen(
            ["tcpdump", "-i", "lo", "-U", "-B", "65536", "-s", "128", "-w", pcap,
             f"tcp port {port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    except FileNotFoundError:
        print("soak_qemu: no tcpdump; host side not captured", file=sys.stderr)
        return None
    # tcpdump says "listening on lo" on stderr once the capture runs.
    deadline = time.monotonic() + 10
    line = b""
    while time.monotonic() < deadline and b"listening on" not in line:
        line = proc.stderr.readline()
        if not line:
            break
    return proc


def start_soak(port, soak_args):
    cmd = [SOAK, "--connect", f"127.0.0.1:{port}", "--json"] + soak_args
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def soak_result(proc, timeout):
    """soak's exit code, summary line, JSON figures and the local ports of its hangs."""
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    sys.stderr.write(err)
    lines = out.strip().splitlines()
    summary = next((l for l in lines if l.startswith("messages ")), "(no summary)")
    figures = next((json.loads(l) for l in lines if l.startswith("{")), None)
    hung_ports = [int(p) for p in re.findall(r"^soak: hang: local port (\d+)", err, re.M)]
    return proc.returncode, summary, figures, hung_ports


# ------------------------------------------------------------------- captures


def pcap_packets(path):
    """(time, ip payload offset, frame bytes) of each packet of a classic pcap
    (Ethernet or Linux loopback/cooked link types)."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    nano = magic in (0xA1B23C4D, 0x4D3CB2A1)
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    ip_at = {1: 14, 0: 4, 113: 16, 276: 20}.get(linktype, 14)
    pos = 24
    while pos + 16 <= len(data):
        sec, frac, incl, _ = struct.unpack(endian + "IIII", data[pos:pos + 16])
        frame = data[pos + 16:pos + 16 + incl]
        pos += 16 + incl
        yield sec + frac / (1e9 if nano else 1e6), ip_at, frame


def tcp_segments(path, port):
    """(time, src port, dst port, flags, seq, ack) of the IPv4 TCP segments to or
    from `port`."""
    for t, ip_at, frame in pcap_packets(path):
        ip = frame[ip_at:]
        if len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != 6:
            continue
        tcp = ip[(ip[0] & 0xF) * 4:]
        if len(tcp) < 14:
            continue
        sport, dport, seq, ack = struct.unpack(">HHII", tcp[:12])
        if port in (sport, dport):
            yield t, sport, dport, tcp[13], seq, ack


SYN, RST, ACK, FIN = 0x02, 0x04, 0x10, 0x01


def connections(pcap, server_port):
    """The connections to `server_port` in a capture, by client port, in order: each
    a dict of its first SYN's time, SYN count (retransmissions included), the
    server's first answer (`syn-ack`, `rst` or None), when the server first
    acknowledged data (None: never), whether it sent FIN or RST, and the last
    segment's time."""
    by_port = {}
    for t, sport, dport, flags, seq, ack in tcp_segments(pcap, server_port):
        if dport == server_port and flags & SYN and not flags & ACK:
            conns = by_port.setdefault(sport, [])
            if not conns or conns[-1]["isn"] != seq:
                conns.append({"isn": seq, "t": t, "end": t, "syns": 0, "answer": None,
                              "data_acked": None, "closed": False})
            conns[-1]["syns"] += 1
        elif by_port.get(dport if sport == server_port else sport):
            conn = by_port[dport if sport == server_port else sport][-1]
            conn["end"] = t
            if sport != server_port:
                continue
            if conn["answer"] is None and flags & SYN and flags & ACK:
                conn["answer"] = "syn-ack"
            elif conn["answer"] is None and flags & RST:
                conn["answer"] = "rst"
            if flags & ACK and not flags & SYN and ack - conn["isn"] > 1:
                conn["data_acked"] = conn["data_acked"] or t
            conn["closed"] |= bool(flags & (FIN | RST))
    return by_port


def clock_offset(host, guest):
    """Guest capture time minus host capture time (filter-dump stamps QEMU's virtual
    clock from a whole second): the median over client ports used once on each side."""
    deltas = [guest[p][0]["t"] - c[0]["t"] for p, c in host.items()
              if len(c) == 1 and len(guest.get(p, [])) == 1]
    return statistics.median(deltas) if deltas else None


def syn_report(guest_pcap, host_pcap, host_port, hung_ports):
    """What became of the SYNs: on the guest side (slirp to the board) how many
    connections and the board's first answer to each; on the host side (clients to
    slirp's listening socket) how many slirp closed; and for the connections soak
    reported as hung, whether the host's kernel ever acknowledged their data and
    whether slirp sent the board a SYN for them while they lived."""
    guest = connections(guest_pcap, GUEST_PORT)
    answers = {}
    for conns in guest.values():
        for c in conns:
            key = c["answer"] or "none"
            answers[key] = answers.get(key, 0) + 1
    retried = sum(1 for conns in guest.values() for c in conns if c["syns"] > 1)
    summary = [f"guest side: {sum(answers.values())} connections slirp opened to the "
               f"board; the board's first answer: {answers}; SYN sent more than once: "
               f"{retried}"]
    host = connections(host_pcap, host_port) if host_pcap and os.path.exists(host_pcap) else {}
    if not host:
        return summary, []
    total = sum(len(c) for c in host.values())
    closed = sum(1 for conns in host.values() for c in conns if c["closed"])
    summary.append(f"host side: {total} client connections; closed by slirp: {closed}")
    offset = clock_offset(host, guest)
    tally = {}
    details = []
    unmatched = []
    for port in hung_ports:
        # The hung connection: the longest-lived on that port whose data the host's
        # end did not acknowledge within a second (on loopback it takes microseconds;
        # refused ones are short-lived: slirp closes them at once).
        stuck = [c for c in host.get(port, []) if acked_after(c) is None or acked_after(c) > 1]
        if not stuck:
            unmatched.append(port)
            continue
        c = max(stuck, key=lambda c: c["end"] - c["t"])
        # The hung connection's life in guest time, with 50 ms of slack.
        lo, hi = c["t"] + (offset or 0) - 0.05, c["end"] + (offset or 0) + 0.05
        to_guest = [g for g in guest.get(port, []) if lo <= g["t"] <= hi]
        late = acked_after(c)
        acked = "never" if late is None else f"after {late:.0f} s"
        key = (f"SYN sent {c['syns']}x, data acknowledged {acked}, "
               f"SYN to the board {[g['answer'] for g in to_guest] or 'none'}")
        tally[key] = tally.get(key, 0) + 1
        details.append(f"port {port} from {c['t'] - first_time(host):.3f} s for "
                       f"{c['end'] - c['t']:.3f} s: {key}")
    summary.append(f"hung connections (clock offset {offset or 0:.3f} s): "
                   + "; ".join(f"{n} x [{k}]" for k, n in sorted(tally.items()))
                   + (f"; not found on the host side: {unmatched}" if unmatched else ""))
    return summary, details


def acked_after(conn):
    """Seconds from a connection's first SYN to the first acknowledgement of its data."""
    return None if conn["data_acked"] is None else conn["data_acked"] - conn["t"]


def first_time(by_port):
    return min(c["t"] for conns in by_port.values() for c in conns)


# ----------------------------------------------------------------------- main


class Trial:
    """One firmware booted for one run, soak against it, and what came of it."""

    def __init__(self, name, run, workdir, capture):
        elf = os.path.join(ELF_DIR, name)
        if not os.path.exists(elf):
            raise RuntimeError(f"missing {elf}: build the firmware first")
        self.name, self.run, self.capture = name, run, capture
        self.port = free_port()
        self.guest_pcap = os.path.join(capture, f"{name}-{run}-guest.pcap") if capture else None
        self.host_pcap = os.path.join(capture, f"{name}-{run}-host.pcap") if capture else None
        self.dump = self.soak = None
        self.qemu = Qemu(elf, self.port, os.path.join(workdir, f"{name}-{run}.log"),
                         self.guest_pcap)
        try:
            self.qemu.wait_listening()
            if capture:
                self.dump = start_tcpdump(self.port, self.host_pcap)
        except BaseException:
            self.qemu.stop()
            raise

    def start(self, soak_args):
        self.soak = start_soak(self.port, soak_args)

    def finish(self, timeout=3600):
        """Waits for soak, stops QEMU (and tcpdump), prints the results; soak's exit
        code and JSON figures."""
        try:
            code, summary, figures, hung_ports = soak_result(self.soak, timeout)
        finally:
            if self.dump:
                stop(self.dump)
            self.qemu.stop()
        print(f"{self.name} run {self.run}: exit {code}: {summary}", flush=True)
        if figures and figures["hangs"]:
            unseen = figures["hangs_unacked"] + figures["hangs_connecting"]
            print(f"  hangs the board never saw (the host's end of the forward did not "
                  f"finish the handshake or acknowledged no byte): {unseen} of "
                  f"{figures['hangs']}", flush=True)
        if self.capture:
            report, details = syn_report(self.guest_pcap, self.host_pcap if self.dump else None,
                                         self.port, hung_ports)
            path = os.path.join(self.capture, f"{self.name}-{self.run}-syn.txt")
            with open(path, "w") as f:
                f.write("\n".join(report + details) + "\n")
            for line in report:
                print(f"  {line}", flush=True)
        return code, figures

    def abandon(self):
        if self.soak and self.soak.poll() is None:
            self.soak.kill()
            self.soak.wait()
        if self.dump:
            stop(self.dump)
        self.qemu.stop()


def run_trials(names, soak_args, run, workdir, capture, together):
    """Soak against each firmware in `names`: one after another, or all at once (so
    that the host's load hits them alike); {name: (exit code, figures)}."""
    results = {}
    batches = [names] if together else [[name] for name in names]
    for batch in batches:
        trials = []
        try:
            for name in batch:
                trials.append(Trial(name, run, workdir, capture))
            for trial in trials:
                trial.start(soak_args)
            for trial in trials:
                results[trial.name] = trial.finish()
        finally:
            for trial in trials:
                trial.abandon()
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--firmware", action="append", choices=["server", "server-async", "raw"])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--capture", metavar="DIR")
    parser.add_argument("--keep-logs", action="store_true")
    parser.add_argument("--together", action="store_true")
    parser.add_argument("soak_args", nargs="*")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if not os.path.exists(SOAK):
        parser.error(f"missing {SOAK}: cargo build --release --example soak")
    firmware = args.firmware or ["server", "raw"]
    soak_args = args.soak_args or DEFAULT_SOAK_ARGS
    if args.capture:
        os.makedirs(args.capture, exist_ok=True)
    workdir = tempfile.mkdtemp(prefix="soak-qemu-")
    results = {name: [] for name in firmware}
    failed = False
    try:
        for run in range(args.runs):
            order = firmware if run % 2 == 0 else firmware[::-1]
            trials = run_trials(order, soak_args, run, workdir, args.capture, args.together)
            for name, (code, figures) in trials.items():
                failed |= code != 0
                results[name].append(figures)
    finally:
        if args.keep_logs:
            print(f"serial logs in {workdir}")
        else:
            for entry in os.listdir(workdir):
                os.remove(os.path.join(workdir, entry))
            os.rmdir(workdir)
    print_table(results)
    return 1 if failed else 0


def print_table(results):
    keys = ["msgs_per_s", "messages", "connects", "served", "refused", "hangs",
            "hangs_connecting", "hangs_first_message", "hangs_unacked", "corrupt", "lost",
            "rtt_p50_ms", "rtt_p99_ms"]
    print("\n| firmware | run | " + " | ".join(keys) + " |")
    print("|---|---|" + "---|" * len(keys))
    for name, runs in results.items():
        for run, fig in enumerate(runs):
            cells = [str(fig.get(k, "?")) if fig else "?" for k in keys]
            print(f"| {name} | {run} | " + " | ".join(cells) + " |")
    raw = results.get("raw")
    for name in ("server", "server-async"):
        server = results.get(name)
        if not (server and raw):
            continue
        ratios = [s["msgs_per_s"] / r["msgs_per_s"] for s, r in zip(server, raw)
                  if s and r and r["msgs_per_s"] > 0]
        if ratios:
            shown = ", ".join(f"{x:.2f}" for x in ratios)
            print(f"\nmsgs/s {name} / raw: {shown} (median {statistics.median(ratios):.2f}x)")


if __name__ == "__main__":
    sys.exit(main())
