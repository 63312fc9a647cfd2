import { describe, expect, test } from "bun:test";
import { EFD_CLOEXEC, EFD_NONBLOCK, EPOLL_CLOEXEC, EPOLL_CTL_ADD, EPOLLIN, POLLIN } from "../../src/sys/constants.ts";
import { EBADF, EINVAL, errnoMessage, errnoName, isSyscallError, SyscallError } from "../../src/sys/errno.ts";
import { close, cString, epollCreate1, epollCtl, epollWait, errno, eventfd, ioctl, open, poll, rawLibc, read, write, WOULD_BLOCK } from "../../src/sys/libc.ts";
import { LAYOUT, readEpollToken, readPollRevents, writeEpollEvent, writePollfd } from "../../src/sys/layout.ts";

describe("errno", () => {
  test("names and messages", () => {
    expect(errnoName(22)).toBe("EINVAL");
    expect(errnoName(95)).toBe("EOPNOTSUPP");
    expect(errnoName(4242)).toBe("E4242");
    expect(errnoMessage(77)).toBe("File descriptor in bad state");
  });

  test("SyscallError carries syscall, errno and code", () => {
    const e = new SyscallError("ioctl(TUNSETOFFLOAD)", EINVAL);
    expect(e.message).toBe("ioctl(TUNSETOFFLOAD): EINVAL (Invalid argument)");
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe("SyscallError");
    expect(isSyscallError(e, "EINVAL")).toBe(true);
    expect(isSyscallError(e, "EIO")).toBe(false);
    expect(isSyscallError(new Error("x"))).toBe(false);
  });
});

describe.if(process.platform === "linux")("libc", () => {
  test("raw calls return -1 and errno is read right after", () => {
    expect(rawLibc().close(-1)).toBe(-1);
    expect(errno()).toBe(EBADF);
  });

  test("checked wrappers throw SyscallError naming the call", () => {
    expect(() => close(-1)).toThrow("close: EBADF (Bad file descriptor)");
    expect(() => open("/nonexistent/tsys", 0)).toThrow("open(/nonexistent/tsys): ENOENT (No such file or directory)");
    expect(() => ioctl(-1, 0x8921, null, "SIOCGIFMTU")).toThrow("ioctl(SIOCGIFMTU): EBADF");
  });

  test("cString is NUL-terminated UTF-8", () => {
    expect(Array.from(cString("ab"))).toEqual([0x61, 0x62, 0]);
  });

  test("eventfd + poll + epoll wake a waiter, and an empty non-blocking read is WOULD_BLOCK", () => {
    const efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    const ep = epollCreate1(EPOLL_CLOEXEC);
    try {
      const counter = new BigUint64Array(1);
      expect(read(efd, counter, 8)).toBe(WOULD_BLOCK);

      const pfd = new Uint8Array(8);
      const pv = new DataView(pfd.buffer);
      writePollfd(pv, 0, efd, POLLIN);
      expect(poll(pfd, 1, 0)).toBe(0);

      const ev = new Uint8Array(LAYOUT.epollEvent.size * 4);
      const evView = new DataView(ev.buffer);
      writeEpollEvent(evView, 0, EPOLLIN, 7);
      epollCtl(ep, EPOLL_CTL_ADD, efd, ev);
      expect(epollWait(ep, ev, 4, 0)).toBe(0);

      counter[0] = 3n;
      expect(write(efd, counter, 8)).toBe(8);
      expect(poll(pfd, 1, 1000)).toBe(1);
      expect(readPollRevents(pv, 0) & POLLIN).toBe(POLLIN);
      ev.fill(0);
      expect(epollWait(ep, ev, 4, 1000)).toBe(1);
      // The token lands at the host's data offset: this fails if the epoll_event stride is wrong for this arch.
      expect(readEpollToken(evView, 0)).toBe(7);
      counter[0] = 0n;
      expect(read(efd, counter, 8)).toBe(8);
      expect(counter[0]).toBe(3n);
    } finally {
      close(ep);
      close(efd);
    }
  });
});
