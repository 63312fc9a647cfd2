// What this host's kernel lets the data plane do, measured the way the data
// plane itself would: a scratch TUN negotiated by TunDevice (IFF_VNET_HDR,
// TUNSETOFFLOAD from the richest set down, the GRO write probe once it is
// up), a scratch outer socket pair (UDP_SEGMENT, UDP_GRO), and the buffer
// sizes the kernel really grants. `tunnel doctor` turns these facts into
// findings; nothing here decides what is good or bad.
import { SOL_SOCKET, SO_RCVBUF, SO_RCVBUFFORCE, SO_SNDBUF } from "../sys/constants.ts";
import { SyscallError, errnoName } from "../sys/errno.ts";
import { close, getsockoptInt, setsockoptInt } from "../sys/libc.ts";
import { UDP_SOCKET_BUFFER_BYTES, openUdp } from "../sys/udp.ts";
import { closeSocketPair, openSocketPair } from "./sockets.ts";
import { TunDevice, type OffloadState } from "./tun-device.ts";

export type TunProbe = { ok: true; offloads: OffloadState; groProbeRan: boolean } | { ok: false; error: string };

/**
 * probeTun opens a scratch TUN named name, negotiates offloads with env's
 * kill switches, brings it up and runs the GRO write probe, then deletes it
 * (closing the last fd of a non-persistent TUN removes the interface).
 */
export function probeTun(name: string, env: Record<string, string | undefined>): TunProbe {
  let tun: TunDevice;
  try {
    tun = TunDevice.open(name, { env });
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  }
  try {
    let groProbeRan = false;
    try {
      tun.up();
      tun.probeGro();
      groProbeRan = true;
    } catch {
      // Cannot bring it up (e.g. no CAP_NET_ADMIN for SIOCSIFFLAGS): offloads are still known.
    }
    return { ok: true, offloads: { ...tun.offloads, reasons: [...tun.offloads.reasons] }, groProbeRan };
  } finally {
    tun.close();
  }
}

export interface UdpFamilyProbe {
  family: 4 | 6;
  gso: boolean;
  gro: boolean;
}

export type UdpProbe = { ok: true; families: UdpFamilyProbe[]; notes: string[] } | { ok: false; error: string };

/** probeUdp opens an outer socket pair on an ephemeral port, as the data plane does, and reports GSO/GRO per family. */
export function probeUdp(env: Record<string, string | undefined>): UdpProbe {
  try {
    const pair = openSocketPair(0, 0, env);
    try {
      const families = [pair.v4, pair.v6].filter((s) => s !== null).map((s) => ({ family: s.family, gso: s.gso, gro: s.gro }));
      return { ok: true, families, notes: [...pair.notes] };
    } finally {
      closeSocketPair(pair);
    }
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  }
}

export interface BufferProbe {
  /** What the data plane asks for (SO_RCVBUF and SO_SNDBUF). */
  wantBytes: number;
  /** What a socket opened the data plane's way ends up with (getsockopt halved: the kernel doubles for overhead). */
  grantedRcvBytes: number;
  grantedSndBytes: number;
  /** Whether SO_RCVBUFFORCE is allowed to this process (CAP_NET_ADMIN in the initial user namespace); null if unknown. */
  forceAllowed: boolean | null;
  forceError?: string;
}

/** probeBuffers measures the socket buffers a data-plane socket gets in this process. */
export function probeBuffers(): BufferProbe {
  const s = openUdp({ family: 4, nonBlocking: true });
  try {
    const probe: BufferProbe = {
      wantBytes: UDP_SOCKET_BUFFER_BYTES,
      grantedRcvBytes: Math.floor(getsockoptInt(s.fd, SOL_SOCKET, SO_RCVBUF, "SO_RCVBUF") / 2),
      grantedSndBytes: Math.floor(getsockoptInt(s.fd, SOL_SOCKET, SO_SNDBUF, "SO_SNDBUF") / 2),
      forceAllowed: null,
    };
    try {
      setsockoptInt(s.fd, SOL_SOCKET, SO_RCVBUFFORCE, UDP_SOCKET_BUFFER_BYTES, "SO_RCVBUFFORCE");
      probe.forceAllowed = true;
    } catch (e) {
      if (e instanceof SyscallError) {
        probe.forceAllowed = errnoName(e.errno) === "EPERM" ? false : null;
        probe.forceError = e.message;
      } else throw e;
    }
    return probe;
  } finally {
    close(s.fd);
  }
}
