#!/usr/bin/env python3
"""Host figures measured from outside: the `server` example as users run it
against the `baseline` example (thread per connection), each driven by the `load`
example in a process of its own, alternating in the same run.

Usage: python3 scripts/host_bench.py [--runs N] [--seconds S] [--threads N]
                                     [--only rtt|throughput] [--with-poll] [--pin]
                                     [--udp]

Builds the three examples in release mode, then for each case and run starts a
server, runs `load` against it, and stops it; the servers take turns (their order
rotates every run). Prints, per case, each server's median and range over the
runs and the median and range of the per-run ratio to the thread-per-connection
baseline (for round trips lower is better, for throughput higher is). With
`--with-poll`, the least one-thread poll loop (`baseline --mode poll`) runs too:
beside `--threads 1`, it tells the library's cost from the design's. Exit code 1
if any echo was not exact or any run failed. With `--pin` (Linux, 2 or more
cores), the servers run on the last core and `load` on the others (taskset), so
that the server does not share its core with the load generator. With `--udp`,
the UDP cases instead: 64-byte datagram round trips and datagrams per second
(up to 16 in flight per client) of the `server` (TCP and UDP on, as users run it)
against `baseline --mode udp` (one thread, blocking recv_from/send_to).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "target" / "release" / "examples"

# (name, load's --test, clients, slot buffer, metric)
CASES = [
    ("64-byte round trip p50, 1 client", "rtt", 1, 16384, "rtt_p50_us"),
    ("64-byte round trip p50, 4 clients", "rtt", 4, 16384, "rtt_p50_us"),
    ("throughput, 1 client, 1 KiB", "throughput", 1, 1024, "mib_per_s"),
    ("throughput, 4 clients, 1 KiB", "throughput", 4, 1024, "mib_per_s"),
    ("throughput, 1 client, 16 KiB", "throughput", 1, 16384, "mib_per_s"),
    ("throughput, 4 clients, 16 KiB", "throughput", 4, 16384, "mib_per_s"),
]

# (name, load's --test, clients, metric) over UDP, 64-byte datagrams.
UDP_CASES = [
    ("UDP 64-byte round trip p50, 1 client", "rtt", 1, "rtt_p50_us"),
    ("UDP 64-byte round trip p50, 4 clients", "rtt", 4, "rtt_p50_us"),
    ("UDP datagrams per second, 1 client", "throughput", 1, "datagrams_per_s"),
    ("UDP datagrams per second, 4 clients", "throughput", 4, "datagrams_per_s"),
]


PIN = {"server": [], "load": []}


def start(argv):
    """Starts a server and returns it with the address of its first line."""
    proc = subprocess.Popen(PIN["server"] + argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    first = proc.stdout.readline()
    if not first.startswith("listening on "):
        proc.kill()
        sys.exit(f"{argv[0]} did not say where it listens: {first!r}")
    return proc, first.split()[2]


def measure(server_argv, test, clients, seconds, udp=False):
    proc, addr = start(server_argv)
    try:
        out = subprocess.run(
            PIN["load"] + [str(EXAMPLES / "load"), "--connect", addr, "--clients", str(clients),
             "--test", test, "--seconds", str(seconds)] + (["--udp"] if udp else []),
            capture_output=True, text=True, timeout=seconds + 60,
        )
    finally:
        proc.kill()
        proc.wait()
    result = json.loads(out.stdout)
    result["ok"] = out.returncode == 0
    return result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--threads", type=int, default=None,
                        help="the server's --threads (default: its own, the cores)")
    parser.add_argument("--only", choices=["rtt", "throughput"])
    parser.add_argument("--with-poll", action="store_true",
                        help="also run the least one-thread poll loop")
    parser.add_argument("--pin", action="store_true",
                        help="servers on the last core, the load generator on the others")
    parser.add_argument("--udp", action="store_true",
                        help="the UDP cases instead of the TCP ones")
    args = parser.parse_args()
    if args.pin:
        cores = os.cpu_count() or 1
        if cores < 2:
            sys.exit("--pin needs 2 or more cores")
        PIN["server"] = ["taskset", "-c", str(cores - 1)]
        PIN["load"] = ["taskset", "-c", f"0-{cores - 2}"]
    subprocess.run(
        ["cargo", "build", "-q", "--release", "--example", "server", "--example", "baseline",
         "--example", "load"], cwd=ROOT, check=True)

    failed = False
    pinned = " (servers pinned to their own core)" if args.pin else ""
    print(f"{args.runs} runs of {args.seconds} s each{pinned}; medians (ranges)")
    cases = ([(name, test, clients, 16384, metric) for name, test, clients, metric in UDP_CASES]
             if args.udp else CASES)
    for name, test, clients, buf, metric in cases:
        if args.only and args.only != test:
            continue
        ours_argv = [str(EXAMPLES / "server"), "--bind", "127.0.0.1:0", "--no-screen",
                     "--idle-timeout", "0", "--buffer", str(buf), "--slots", "4"]
        if args.threads:
            ours_argv += ["--threads", str(args.threads)]
        base_argv = [str(EXAMPLES / "baseline"), "--buffer", str(buf)]
        if args.udp:
            base_argv += ["--mode", "udp"]
        base = "std-udp" if args.udp else "threads"
        servers = [("nal-echo", ours_argv), (base, base_argv)]
        if args.with_poll and not args.udp:
            servers.insert(1, ("minimal-poll", base_argv + ["--mode", "poll", "--slots", "4"]))
        got = {who: [] for who, _ in servers}
        for run in range(args.runs):
            turn = servers[run % len(servers):] + servers[:run % len(servers)]
            for who, argv in turn:
                result = measure(argv, test, clients, args.seconds, args.udp)
                if not result["ok"] or result["corrupt"] or result[metric] is None:
                    failed = True
                    print(f"  run {run} {who}: FAILED {result}")
                got[who].append(result[metric] or float("nan"))
        unit = {"rtt_p50_us": "us", "mib_per_s": "MiB/s", "datagrams_per_s": "/s"}[metric]
        span = lambda xs: f"{statistics.median(xs):.1f} ({min(xs):.1f}-{max(xs):.1f})"
        parts = []
        for who, _ in servers:
            part = f"{who} {span(got[who])} {unit}"
            if who != base:
                ratios = [a / b for a, b in zip(got[who], got[base])]
                part += (f" = {statistics.median(ratios):.2f}x"
                         f" ({min(ratios):.2f}-{max(ratios):.2f})")
            parts.append(part)
        print(f"{name}: " + ", ".join(parts))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
