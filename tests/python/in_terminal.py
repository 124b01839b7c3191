#!/usr/bin/env python3
"""Runs a program with a pseudo-terminal as its stdout, so it takes the path it takes
for a person at a terminal, and copies what it wrote to this stdout.

Usage: in_terminal.py ROWS COLUMNS TIMEOUT_S PROGRAM [ARGS...]

Exits with the program's exit code, or 124 if it outlived TIMEOUT_S (it is then
killed).
"""
import fcntl
import os
import pty
import select
import signal
import struct
import sys
import termios
import time

rows, columns, timeout = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
program = sys.argv[4:]

size = struct.pack("HHHH", rows, columns, 0, 0)
pid, fd = pty.fork()
if pid == 0:
    # Set here, before the program can ask for it.
    fcntl.ioctl(sys.stdout.fileno(), termios.TIOCSWINSZ, size)
    os.execv(program[0], program)
deadline = time.monotonic() + timeout
output = bytearray()
while time.monotonic() < deadline:
    ready, _, _ = select.select([fd], [], [], 0.2)
    if not ready:
        continue
    try:
        data = os.read(fd, 65536)
    except OSError:  # EIO: the program closed the terminal (it exited)
        break
    if not data:
        break
    output += data

sys.stdout.buffer.write(bytes(output))
sys.stdout.flush()
if time.monotonic() >= deadline:
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    sys.exit(124)
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
