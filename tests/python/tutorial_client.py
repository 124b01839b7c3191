#!/usr/bin/env python3
"""The tutorial's MixNo TCP client (MicroPython), run under CPython.

Usage: tutorial_client.py HOST PORT [SLEEP_MS]

Below the shim is the tutorial's code, with the Wi-Fi lines (network_no) left out
because the host is already on the network. The tutorial's client never reads the
echoes; the harness only *peeks* at them (MSG_PEEK leaves them unread), so that
killing this process still makes the kernel send a reset, as on the board.
"""
import socket
import sys
import time

HOST, PORT = sys.argv[1], int(sys.argv[2])
SLEEP_MS = int(sys.argv[3]) if len(sys.argv) > 3 else 1000

# --- shim: MicroPython's send(str) and time.sleep_ms ---------------------------
socket.socket.send = (lambda send: lambda self, d: send(self, d.encode() if isinstance(d, str) else d))(socket.socket.send)
time.sleep_ms = lambda ms: (time.sleep(SLEEP_MS / 1000), _peek())


# --- harness: report the echoes waiting in the receive queue, without reading ---
def _peek():
    try:
        waiting = sock.recv(1 << 20, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except BlockingIOError:
        waiting = b""
    print("peek", waiting.decode("utf-8", "replace"), flush=True)


# --- the tutorial's client ------------------------------------------------------
try:
    sock = socket.socket()
    sock.settimeout(5)
    sock.connect((HOST, PORT))
    while True:
        sock.send("Hello Handbit")
        time.sleep_ms(1000)
        sock.send("I'am MixNo")
        time.sleep_ms(1000)
except:  # noqa: E722 (the tutorial's blanket except)
    sock.close()
    print("client stopped", flush=True)
