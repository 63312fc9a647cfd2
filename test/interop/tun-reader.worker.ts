// Blocking TUN reads for mini-peer.ts. read(2) on a blocking TUN fd parks the
// thread, so it lives here and not on the event loop that serves UDP and
// timers. Each packet is posted as its own ArrayBuffer (transferred, not
// copied) laid out the way Tunn.encapsulate wants it: 16 bytes of headroom
// for the transport header, the IP packet, then 32 bytes of tailroom for
// padding (≤15) and the Poly1305 tag (16). Test-only: no batching, no reuse.
import { errno, rawLibc } from "../../src/sys/libc.ts";
import { EBADFD, EINTR } from "../../src/sys/errno.ts";

export interface TunReaderInit {
  fd: number;
}

/** HEADROOM and TAILROOM match Tunn.encapsulate's buffer contract. */
export const HEADROOM = 16;
export const TAILROOM = 32;

declare const self: Worker;

function run(init: TunReaderInit): void {
  const L = rawLibc();
  // Without a vnet header one read is one packet of at most the MTU; 64 KiB covers any MTU.
  const readBuf = new Uint8Array(65536);
  for (;;) {
    const n = L.read(init.fd, readBuf, readBuf.length);
    if (n < 0) {
      const e = errno();
      if (e === EINTR) continue;
      if (e === EBADFD) return; // the TUN is gone: the peer is shutting down
      throw new Error(`tun read failed: errno ${e}`);
    }
    if (n === 0) continue;
    const out = new Uint8Array(HEADROOM + n + TAILROOM);
    out.set(readBuf.subarray(0, n), HEADROOM);
    self.postMessage({ buf: out.buffer, len: n }, [out.buffer]);
  }
}

self.onmessage = (event: MessageEvent<TunReaderInit>) => {
  run(event.data);
};
