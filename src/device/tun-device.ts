// The TUN device with offloads (dossier 1 and 2): open with IFF_VNET_HDR,
// negotiate TUNSETOFFLOAD from the richest set down, honour the environment
// kill switches, probe that the kernel accepts coalesced writes, and report
// what is on and why anything is off. Packet work lives in src/offload/; this
// file only decides what the offload engine is allowed to do.
import { IFF_VNET_HDR, TUNGETIFF, TUN_F_CSUM, TUN_F_TSO4, TUN_F_TSO6, TUN_F_USO4, TUN_F_USO6 } from "../sys/constants.ts";
import { EBADFD, EINVAL, EIO, SyscallError, errnoName } from "../sys/errno.ts";
import { WOULD_BLOCK, close, ioctl, read, rawLibc, errno } from "../sys/libc.ts";
import { readIfreqFlags, readIfreqName } from "../sys/layout.ts";
import { getMtu, openTun, setLinkUp, setMtu, setTunOffload } from "../sys/tun.ts";
import { VNET_HDR_LEN } from "../offload/index.ts";
import { buildProbeWrite, type ProbeProtocol } from "./gro-probe.ts";

/** TUN_READ_BUFFER_LEN holds the largest super-packet: header + 64 KiB IP packet (dossier 1.4). */
export const TUN_READ_BUFFER_LEN = VNET_HDR_LEN + 65535;

/**
 * DEFAULT_TUN_MTU is what a new interface starts with: 1500 − 80 (the
 * largest IPv6 + UDP + WireGuard overhead), wireguard-go's DefaultMTU and the
 * kernel module's default. The kernel's TUN default (1500) would make every
 * full-size inner packet need a fragmented outer one.
 */
export const DEFAULT_TUN_MTU = 1420;

/** KILL_SWITCHES are the environment variables that turn offloads off (dossier 3.5). */
export const KILL_SWITCHES = {
  vnetHeader: "TUNNEL_DISABLE_VNET_HDR",
  tcpGro: "TUNNEL_DISABLE_TCP_GRO",
  udpGro: "TUNNEL_DISABLE_UDP_GRO",
} as const;

const OFFLOADS_WITH_USO = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_USO4 | TUN_F_USO6;
const OFFLOADS_TSO = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;

/** OffloadState is what the device may do, with one sentence per thing that is off. */
export interface OffloadState {
  /** Every read and write carries a 10-byte virtio_net_hdr. */
  vnetHeader: boolean;
  /** The TUN_F_* flags TUNSETOFFLOAD accepted (0 without vnet header). */
  offloadFlags: number;
  /** The kernel hands us TCP super-packets (TSO4/TSO6) to split. */
  tso: boolean;
  /** The kernel hands us UDP super-packets (USO4/USO6) to split. */
  uso: boolean;
  /** We may write coalesced TCP super-packets. */
  tcpGro: boolean;
  /** We may write coalesced UDP super-packets (needs USO). */
  udpGro: boolean;
  /** Why each disabled feature is off, for logs and `tunnel status`. */
  reasons: string[];
}

/** isSet reads a kill switch: any value but "", "0", "false" or "no" turns the feature off. */
export function isSet(env: Record<string, string | undefined>, name: string): boolean {
  const v = env[name];
  return v !== undefined && !["", "0", "false", "no"].includes(v.toLowerCase());
}

/** offloadFlagNames renders TUN_F_* bits for humans. */
export function offloadFlagNames(flags: number): string {
  const names: string[] = [];
  if (flags & TUN_F_CSUM) names.push("CSUM");
  if (flags & TUN_F_TSO4) names.push("TSO4");
  if (flags & TUN_F_TSO6) names.push("TSO6");
  if (flags & TUN_F_USO4) names.push("USO4");
  if (flags & TUN_F_USO6) names.push("USO6");
  return names.length ? names.join("|") : "none";
}

export interface TunDeviceOptions {
  /** Environment holding the kill switches (process.env in the product). */
  env?: Record<string, string | undefined>;
  /** MTU to set; leave undefined to keep the kernel's. */
  mtu?: number;
}

/**
 * TunDevice is one TUN queue with negotiated offloads. Reads and writes are
 * raw (blocking unless the fd was made non-blocking); the caller owns the
 * buffers. Not thread-safe: one reader and one writer per fd.
 */
export class TunDevice {
  private closed = false;

  private constructor(
    readonly fd: number,
    readonly name: string,
    readonly offloads: OffloadState,
  ) {}

  /** open creates (or attaches to) the TUN name and negotiates offloads. */
  static open(name: string, opts: TunDeviceOptions = {}): TunDevice {
    const env = opts.env ?? {};
    const reasons: string[] = [];
    const wantVnet = !isSet(env, KILL_SWITCHES.vnetHeader);
    if (!wantVnet) reasons.push(`vnet header off: ${KILL_SWITCHES.vnetHeader} is set (one packet per read, no offloads)`);
    const tun = openTun(name, { vnetHeader: wantVnet });
    const state: OffloadState = { vnetHeader: false, offloadFlags: 0, tso: false, uso: false, tcpGro: false, udpGro: false, reasons };
    try {
      if (wantVnet) negotiateOffloads(tun.fd, (tun.flags & IFF_VNET_HDR) !== 0, env, state);
      if (opts.mtu !== undefined) setMtu(tun.name, opts.mtu);
    } catch (e) {
      close(tun.fd);
      throw e;
    }
    return new TunDevice(tun.fd, tun.name, state);
  }

  /**
   * adopt takes over an open TUN fd (inherited across a re-exec, like
   * wireguard-go's WG_TUN_FD): TUNGETIFF gives its name and flags, and
   * offloads are negotiated as open() does. The vnet header cannot be added
   * to an fd opened without it; that is reported as a reason.
   */
  static adopt(fd: number, opts: TunDeviceOptions = {}): TunDevice {
    const env = opts.env ?? {};
    const got = new Uint8Array(40);
    const view = new DataView(got.buffer);
    ioctl(fd, TUNGETIFF, got, "TUNGETIFF");
    const name = readIfreqName(view, 0);
    const flags = readIfreqFlags(view, 0);
    const reasons: string[] = [];
    const wantVnet = !isSet(env, KILL_SWITCHES.vnetHeader);
    const state: OffloadState = { vnetHeader: false, offloadFlags: 0, tso: false, uso: false, tcpGro: false, udpGro: false, reasons };
    if (!wantVnet) {
      reasons.push(`vnet header off: ${KILL_SWITCHES.vnetHeader} is set (one packet per read, no offloads)`);
      if (flags & IFF_VNET_HDR) throw new Error(`inherited TUN fd ${fd} (${name}) has IFF_VNET_HDR but ${KILL_SWITCHES.vnetHeader} is set`);
    } else {
      negotiateOffloads(fd, (flags & IFF_VNET_HDR) !== 0, env, state);
    }
    if (opts.mtu !== undefined) setMtu(name, opts.mtu);
    return new TunDevice(fd, name, state);
  }

  /** mtu reads the interface MTU from the kernel. */
  mtu(): number {
    return getMtu(this.name);
  }

  /** up brings the link up (only possible while it is in this process's namespace). */
  up(): void {
    setLinkUp(this.name, true);
  }

  /**
   * probeGro writes one coalesced super-packet per enabled GRO protocol. The
   * link must be up. A kernel that answers EINVAL gets coalescing switched
   * off (both protocols, as a kernel that rejects one rejects the other's
   * checks too); the reason lands in offloads.reasons.
   */
  probeGro(): void {
    if (!this.offloads.vnetHeader) return;
    for (const protocol of ["tcp", "udp"] as const satisfies readonly ProbeProtocol[]) {
      if (protocol === "tcp" ? !this.offloads.tcpGro : !this.offloads.udpGro) continue;
      const failure = this.writeProbe(protocol);
      if (failure === null) continue;
      this.offloads.tcpGro = false;
      this.offloads.udpGro = false;
      this.offloads.reasons.push(`GRO off: ${failure}`);
      return;
    }
  }

  private writeProbe(protocol: ProbeProtocol): string | null {
    const bytes = buildProbeWrite(protocol);
    if (bytes === null) return `the offload engine did not coalesce the ${protocol} probe (a bug; please report)`;
    const n = rawLibc().write(this.fd, bytes, bytes.length);
    if (n === bytes.length) return null;
    if (n >= 0) return `short write of the ${protocol} probe (${n} of ${bytes.length} bytes)`;
    const e = errno();
    if (e === EIO) return null; // link down: the probe proves nothing either way; writes will fail loudly later
    if (e === EINVAL) return `the kernel rejected a valid coalesced ${protocol} write with EINVAL (known on 6.6.44-class kernels)`;
    return `the ${protocol} probe write failed with ${errnoName(e)}`;
  }

  /**
   * read reads one packet (with its virtio_net_hdr when vnetHeader) into
   * buf[off, off+len). Returns the byte count, or WOULD_BLOCK on a
   * non-blocking fd. A return equal to len may be truncated (the kernel
   * silently drops what does not fit), so callers pass TUN_READ_BUFFER_LEN
   * and count n === len as a truncated read. EBADFD means the device is gone.
   */
  read(buf: Uint8Array, off: number, len: number): number {
    return read(this.fd, off === 0 ? buf : buf.subarray(off), len);
  }

  /** write writes one packet (header first when vnetHeader); throws SyscallError on failure. */
  write(buf: Uint8Array, off: number, len: number): number {
    const L = rawLibc();
    const n = L.write(this.fd, off === 0 ? buf : buf.subarray(off), len);
    if (n < 0) throw new SyscallError("write(tun)", errno());
    return n;
  }

  /** describe returns one line per fact, for start-up logs and `tunnel status`. */
  describe(): string[] {
    const o = this.offloads;
    const lines = [
      `${this.name}: vnet header ${o.vnetHeader ? "on" : "off"}, TUNSETOFFLOAD ${offloadFlagNames(o.offloadFlags)}`,
      `${this.name}: split TCP super-packets ${o.tso ? "on" : "off"}, UDP ${o.uso ? "on" : "off"}; coalesce TCP ${o.tcpGro ? "on" : "off"}, UDP ${o.udpGro ? "on" : "off"}`,
    ];
    for (const r of o.reasons) lines.push(`${this.name}: ${r}`);
    return lines;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    close(this.fd);
  }
}

/** isDeviceGone reports whether an error means the TUN was deleted (EBADFD, dossier 1.7). */
export function isDeviceGone(e: unknown): boolean {
  return e instanceof SyscallError && e.errno === EBADFD;
}

/**
 * negotiateOffloads asks for CSUM|TSO4|TSO6|USO4|USO6, then CSUM|TSO4|TSO6,
 * then nothing (writes still carry a zeroed header), honouring the kill
 * switches. USO is only requested when UDP GRO is allowed: the kernel would
 * otherwise hand us UDP super-packets we may not write back coalesced.
 */
function negotiateOffloads(fd: number, kernelHasVnet: boolean, env: Record<string, string | undefined>, state: OffloadState): void {
  if (!kernelHasVnet) {
    state.reasons.push("vnet header off: TUNGETIFF does not report IFF_VNET_HDR");
    return;
  }
  state.vnetHeader = true;
  const tcpGroAllowed = !isSet(env, KILL_SWITCHES.tcpGro);
  const udpGroAllowed = !isSet(env, KILL_SWITCHES.udpGro);
  if (!tcpGroAllowed) state.reasons.push(`TCP coalescing off: ${KILL_SWITCHES.tcpGro} is set`);
  if (!udpGroAllowed) state.reasons.push(`UDP segmentation offload and coalescing off: ${KILL_SWITCHES.udpGro} is set`);

  let accepted = 0;
  if (udpGroAllowed) {
    const err = setTunOffload(fd, OFFLOADS_WITH_USO);
    if (err === 0) accepted = OFFLOADS_WITH_USO;
    else state.reasons.push(`USO off: TUNSETOFFLOAD(${offloadFlagNames(OFFLOADS_WITH_USO)}) failed with ${errnoName(err)} (needs Linux 6.2+)`);
  }
  if (accepted === 0) {
    const err = setTunOffload(fd, OFFLOADS_TSO);
    if (err === 0) accepted = OFFLOADS_TSO;
    else state.reasons.push(`TSO off: TUNSETOFFLOAD(${offloadFlagNames(OFFLOADS_TSO)}) failed with ${errnoName(err)}`);
  }
  state.offloadFlags = accepted;
  state.tso = (accepted & TUN_F_TSO4) !== 0;
  state.uso = (accepted & TUN_F_USO4) !== 0;
  state.tcpGro = state.tso && tcpGroAllowed;
  state.udpGro = state.uso && udpGroAllowed;
}

export { WOULD_BLOCK };
