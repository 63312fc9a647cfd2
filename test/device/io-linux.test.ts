// The Linux I/O's poller (src/device/io-linux.ts) is closed by its data
// plane's shutdown and again by whoever owns the fds around it (the JIT
// warm-up's loopback links): the second close must not close whatever fd
// took the epoll set's number in between.
import { expect, test } from "bun:test";
import { readdirSync, readlinkSync } from "node:fs";
import { linuxIo } from "../../src/device/io-linux.ts";
import { AF_UNIX, EFD_CLOEXEC, EFD_NONBLOCK, F_GETFD, SOCK_CLOEXEC, SOCK_DGRAM } from "../../src/sys/constants.ts";
import { close, eventfd, fcntl, socketpair } from "../../src/sys/libc.ts";

/** epollFds counts this process's open epoll sets. */
function epollFds(): number {
  let n = 0;
  for (const fd of readdirSync("/proc/self/fd")) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) === "anon_inode:[eventpoll]") n++;
    } catch {
      // closed while listing
    }
  }
  return n;
}

test("closing the poller twice closes its epoll fd once, not the fd that reused the number", () => {
  const [tun, outside] = socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC);
  const wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  const before = epollFds();
  const io = linuxIo(tun, true, wake);
  expect(epollFds()).toBe(before + 1);
  io.poller.close();
  expect(epollFds()).toBe(before);
  const reused = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); // takes the lowest free number: the epoll set's
  try {
    io.poller.close();
    expect(fcntl(reused, F_GETFD)).toBeGreaterThanOrEqual(0); // still open
  } finally {
    for (const fd of [reused, tun, outside, wake]) close(fd);
  }
});
