#!/usr/bin/env python3
"""The tutorial's Handbit TCP echo server (MicroPython), run under CPython.

Usage: tutorial_server.py PORT

The OLED calls become prints and the Wi-Fi lines are left out; the socket code is
the tutorial's: bind, listen(3), accept, recv(1024), echo. It binds 127.0.0.1
where the board bound the address that ifconfig() reported.
"""
import socket
import sys

ip = "127.0.0.1"
port = int(sys.argv[1])
listenSocket = None
try:
    listenSocket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listenSocket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listenSocket.bind((ip, port))
    listenSocket.listen(3)
    print("tcp waiting...", flush=True)
    print("%s:%s" % (ip, port), flush=True)  # oled.DispChar(..., 0, 0)
    while True:
        print("accepting.....", flush=True)
        conn, addr = listenSocket.accept()
        print(addr, "connected", flush=True)
        while True:
            data = conn.recv(1024)
            if len(data) == 0:
                print("close socket", flush=True)
                conn.close()
                break
            data_utf = data.decode()
            print(data_utf, flush=True)  # oled.DispChar(data_utf, 0, 48)
            conn.send(data)
except:  # noqa: E722 (the tutorial's blanket except)
    if listenSocket:
        listenSocket.close()
