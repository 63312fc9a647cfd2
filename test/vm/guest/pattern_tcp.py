#!/usr/bin/env python3
# The guest side of the lab's pattern-checked TCP transfers (lab VMs have
# python3, not bun). Same stream as test/support/tcp-push.ts: byte i of a
# connection is (i % 251) ^ 0x5a, so a lost, duplicated or corrupted byte
# anywhere is caught. Unlike tcp-push's sampling receiver, this one checks
# every byte.
#   pattern_tcp.py serve ADDRESS PORT    one connection; prints JSON when the peer closes
#   pattern_tcp.py send ADDRESS PORT BYTES
import json
import socket
import sys
import time

PERIOD = 251
CHUNK = 256 * 1024
PATTERN = bytes(((i % PERIOD) ^ 0x5A) for i in range(CHUNK + PERIOD))


def family(address):
    return socket.AF_INET6 if ":" in address else socket.AF_INET


def serve(address, port):
    with socket.socket(family(address), socket.SOCK_STREAM) as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind((address, port))
        server.listen(1)
        print("listening", file=sys.stderr, flush=True)
        conn, _ = server.accept()
        received = corrupt = 0
        started = time.monotonic()
        with conn:
            while True:
                data = conn.recv(CHUNK)
                if not data:
                    break
                phase = received % PERIOD
                expected = PATTERN[phase:phase + len(data)]
                if data != expected:
                    corrupt += sum(1 for got, want in zip(data, expected) if got != want)
                received += len(data)
        seconds = time.monotonic() - started
        print(json.dumps({"received": received, "corrupt": corrupt, "seconds": seconds}), flush=True)


def send(address, port, total):
    sent = 0
    with socket.create_connection((address, port), timeout=30) as conn:
        while sent < total:
            phase = sent % PERIOD
            n = min(CHUNK, total - sent)
            conn.sendall(PATTERN[phase:phase + n])
            sent += n
        conn.shutdown(socket.SHUT_WR)
        while conn.recv(4096):
            pass
    print(json.dumps({"sent": sent}), flush=True)


if __name__ == "__main__":
    mode, address, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if mode == "serve":
        serve(address, port)
    elif mode == "send":
        send(address, port, int(sys.argv[4]))
    else:
        sys.exit("usage: pattern_tcp.py serve ADDRESS PORT | send ADDRESS PORT BYTES")
