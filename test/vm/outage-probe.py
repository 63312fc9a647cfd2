# Times an outage from inside a guest without adding to it: kill -9 PID,
# then one ICMP echo to DST every 50 ms from this one process until the
# first reply, and print the milliseconds from the kill to that reply (-1
# after 30 s). A shell loop of `ping -c 1` runs two programs per attempt,
# and on a one-vCPU emulated guest those take the CPU the restarting daemon
# needs. While the tunnel's route is gone a send fails at once; that is
# expected and only means "not yet".
import os
import select
import socket
import struct
import sys
import time

pid, dst = int(sys.argv[1]), sys.argv[2]
sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
ident = os.getpid() & 0xFFFF


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def echo(seq):
    body = struct.pack("!BBHHH", 8, 0, 0, ident, seq) + b"tunnel outage probe"
    return body[:2] + struct.pack("!H", checksum(body)) + body[4:]


def answered(until):
    while True:
        wait = until - time.monotonic()
        if wait <= 0:
            return False
        ready, _, _ = select.select([sock], [], [], wait)
        if not ready:
            return False
        packet = sock.recv(2048)
        ihl = (packet[0] & 15) * 4
        kind, _, _, rid, _ = struct.unpack("!BBHHH", packet[ihl : ihl + 8])
        if kind == 0 and rid == ident:
            return True


t0 = time.monotonic()
os.kill(pid, 9)
seq = 0
while time.monotonic() - t0 < 30:
    seq += 1
    try:
        sock.sendto(echo(seq), (dst, 0))
    except OSError:
        pass
    if answered(time.monotonic() + 0.05):
        print(round((time.monotonic() - t0) * 1000))
        sys.exit(0)
print(-1)
sys.exit(1)
