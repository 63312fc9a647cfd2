// Allowed IPs: cryptokey routing table (dossier 4.8). Two path-compressed
// binary tries (IPv4, IPv6) mapping prefixes to a value (the peer), after
// WG-KMOD allowedips.c and WG-GO device/allowedips.go: insertion masks host
// bits, an exact prefix already owned by another value moves to the new one,
// lookup is longest-prefix match, removal splices out value-less nodes that
// are left with one child so the trie stays compressed.
// Addresses live in nodes as four big-endian 32-bit words plus per-word masks,
// so the per-packet lookup reads the address straight from the packet buffer
// into four locals and compares each node with at most four XOR/AND — no
// slicing, no allocation. IPv4 uses word 0 only (masks 1..3 are zero).
// Also here: parsePrefix/formatPrefix, the text form used by UAPI and config.

/** AllowedIpEntry is one prefix owned by a value, host bits already zero. */
export interface AllowedIpEntry {
  addr: Uint8Array;
  cidr: number;
}

class Node<T> {
  w0: number;
  w1: number;
  w2: number;
  w3: number;
  m0: number;
  m1: number;
  m2: number;
  m3: number;
  child0: Node<T> | null = null;
  child1: Node<T> | null = null;
  parent: Node<T> | null = null;
  // undefined marks an intermediate (branch-only) node; values are never undefined.
  value: T | undefined = undefined;

  constructor(
    readonly len: 4 | 16,
    w: ArrayLike<number>,
    readonly cidr: number,
  ) {
    this.m0 = maskWord(cidr, 0);
    this.m1 = maskWord(cidr, 1);
    this.m2 = maskWord(cidr, 2);
    this.m3 = maskWord(cidr, 3);
    this.w0 = w[0]! & this.m0;
    this.w1 = w[1]! & this.m1;
    this.w2 = w[2]! & this.m2;
    this.w3 = w[3]! & this.m3;
  }
}

/** Mask word i (0..3, big-endian) of a /cidr prefix, as an int32. */
function maskWord(cidr: number, i: number): number {
  const b = cidr - 32 * i;
  return b <= 0 ? 0 : b >= 32 ? -1 : -1 << (32 - b);
}

function wordOf<T>(n: Node<T>, pos: number): number {
  return pos < 32 ? n.w0 : pos < 64 ? n.w1 : pos < 96 ? n.w2 : n.w3;
}

/** Bit `pos` (0 = most significant) of a node's address. */
function bitOf<T>(n: Node<T>, pos: number): 0 | 1 {
  return ((wordOf(n, pos) >>> (31 - (pos & 31))) & 1) as 0 | 1;
}

/** Number of leading bits two nodes' (masked) addresses share, capped at the family width. */
function commonBits<T>(a: Node<T>, b: Node<T>): number {
  const max = a.len * 8;
  let x = a.w0 ^ b.w0;
  if (x !== 0) return Math.min(Math.clz32(x), max);
  x = a.w1 ^ b.w1;
  if (x !== 0) return Math.min(32 + Math.clz32(x), max);
  x = a.w2 ^ b.w2;
  if (x !== 0) return Math.min(64 + Math.clz32(x), max);
  x = a.w3 ^ b.w3;
  if (x !== 0) return Math.min(96 + Math.clz32(x), max);
  return max;
}

function childAt<T>(n: Node<T>, bit: 0 | 1): Node<T> | null {
  return bit === 0 ? n.child0 : n.child1;
}

function setChild<T>(n: Node<T>, bit: 0 | 1, c: Node<T>): void {
  if (bit === 0) n.child0 = c;
  else n.child1 = c;
  c.parent = n;
}

function readWord(b: Uint8Array, o: number): number {
  return (b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!;
}

function wordsOf(addr: Uint8Array): number[] {
  return addr.length === 4 ? [readWord(addr, 0), 0, 0, 0] : [readWord(addr, 0), readWord(addr, 4), readWord(addr, 8), readWord(addr, 12)];
}

/**
 * AllowedIps maps IPv4/IPv6 prefixes to values (peers) with longest-prefix
 * lookup. Values are compared by identity and must not be undefined. Mutations
 * are not per-packet and may allocate; lookup never does.
 */
export class AllowedIps<T> {
  private root4: Node<T> | null = null;
  private root6: Node<T> | null = null;
  // Per-value node sets, in insertion order: entries() and removeByValue()
  // walk only that value's nodes, as the kernel's per-peer list does.
  private readonly byValue = new Map<T, Set<Node<T>>>();

  /** size is the number of prefixes that currently have a value. */
  get size(): number {
    let n = 0;
    for (const s of this.byValue.values()) n += s.size;
    return n;
  }

  /**
   * insert maps addr/cidr (host bits are masked off) to `value`. If that exact
   * prefix belonged to another value it moves to this one (WG-KMOD allowedips.c).
   * Throws RangeError on a bad address length or cidr — parse first.
   */
  insert(addr: Uint8Array, cidr: number, value: T): void {
    const len = checkPrefix(addr, cidr);
    const key = new Node<T>(len, wordsOf(addr), cidr);
    const root = len === 4 ? this.root4 : this.root6;
    if (root === null) {
      this.setRoot(len, key);
      this.assign(key, value);
      return;
    }
    // Walk down while the node's prefix covers ours (WG-GO nodePlacement).
    let parent: Node<T> | null = null;
    let node: Node<T> | null = root;
    while (node !== null && node.cidr <= cidr && commonBits(node, key) >= node.cidr) {
      parent = node;
      if (node.cidr === cidr) {
        this.assign(node, value);
        return;
      }
      node = childAt(node, bitOf(key, node.cidr));
    }
    this.assign(key, value);
    let down: Node<T>;
    if (parent === null) {
      down = root;
    } else {
      const bit = bitOf(key, parent.cidr);
      const d = childAt(parent, bit);
      if (d === null) {
        setChild(parent, bit, key);
        return;
      }
      down = d;
    }
    // `down` diverges from or is more specific than the new prefix: either the
    // new node becomes its parent, or both hang off a new branch node at the
    // first differing bit.
    const common = Math.min(commonBits(down, key), cidr);
    let top: Node<T>;
    if (common === cidr) {
      setChild(key, bitOf(down, cidr), down);
      top = key;
    } else {
      top = new Node<T>(len, [key.w0, key.w1, key.w2, key.w3], common);
      setChild(top, bitOf(down, common), down);
      setChild(top, bitOf(key, common), key);
    }
    this.replace(parent, down, top, len);
  }

  /**
   * remove deletes the exact prefix addr/cidr (host bits masked); if `value` is
   * given, only when it is the current owner. Returns whether anything was removed.
   */
  remove(addr: Uint8Array, cidr: number, value?: T): boolean {
    const len = checkPrefix(addr, cidr);
    const key = new Node<T>(len, wordsOf(addr), cidr);
    let node = len === 4 ? this.root4 : this.root6;
    while (node !== null && node.cidr <= cidr && commonBits(node, key) >= node.cidr) {
      if (node.cidr === cidr) {
        if (node.value === undefined || (value !== undefined && node.value !== value)) return false;
        this.removeNode(node);
        return true;
      }
      node = childAt(node, bitOf(key, node.cidr));
    }
    return false;
  }

  /** removeByValue deletes every prefix owned by `value` (peer removal). */
  removeByValue(value: T): void {
    const set = this.byValue.get(value);
    if (set === undefined) return;
    for (const node of Array.from(set)) this.removeNode(node);
    this.byValue.delete(value);
  }

  /**
   * lookup returns the value of the longest prefix containing the address of
   * `len` bytes at ip[off..off+len), or undefined. Reads the packet buffer in
   * place; the caller guarantees the bytes are there. Allocation-free.
   */
  lookup(ip: Uint8Array, off: number, len: 4 | 16): T | undefined {
    let node: Node<T> | null;
    let i1 = 0;
    let i2 = 0;
    let i3 = 0;
    const i0 = (ip[off]! << 24) | (ip[off + 1]! << 16) | (ip[off + 2]! << 8) | ip[off + 3]!;
    if (len === 16) {
      i1 = (ip[off + 4]! << 24) | (ip[off + 5]! << 16) | (ip[off + 6]! << 8) | ip[off + 7]!;
      i2 = (ip[off + 8]! << 24) | (ip[off + 9]! << 16) | (ip[off + 10]! << 8) | ip[off + 11]!;
      i3 = (ip[off + 12]! << 24) | (ip[off + 13]! << 16) | (ip[off + 14]! << 8) | ip[off + 15]!;
      node = this.root6;
    } else {
      node = this.root4;
    }
    const maxBits = len * 8;
    let found: T | undefined;
    while (node !== null) {
      if ((((i0 ^ node.w0) & node.m0) | ((i1 ^ node.w1) & node.m1) | ((i2 ^ node.w2) & node.m2) | ((i3 ^ node.w3) & node.m3)) !== 0) {
        break;
      }
      if (node.value !== undefined) found = node.value;
      const c = node.cidr;
      if (c === maxBits) break;
      const w = c < 32 ? i0 : c < 64 ? i1 : c < 96 ? i2 : i3;
      node = ((w >>> (31 - (c & 31))) & 1) === 0 ? node.child0 : node.child1;
    }
    return found;
  }

  /** entries lists the prefixes owned by `value` (fresh arrays, masked), in insertion order. */
  entries(value: T): AllowedIpEntry[] {
    const set = this.byValue.get(value);
    if (set === undefined) return [];
    const out: AllowedIpEntry[] = [];
    for (const n of set) out.push({ addr: nodeAddr(n), cidr: n.cidr });
    return out;
  }

  /** clear removes everything. */
  clear(): void {
    this.root4 = null;
    this.root6 = null;
    this.byValue.clear();
  }

  /** countNodes counts trie nodes, branch nodes included (tests, diagnostics; O(n)). */
  countNodes(): number {
    const count = (n: Node<T> | null): number => (n === null ? 0 : 1 + count(n.child0) + count(n.child1));
    return count(this.root4) + count(this.root6);
  }

  private setRoot(len: 4 | 16, n: Node<T> | null): void {
    if (len === 4) this.root4 = n;
    else this.root6 = n;
    if (n !== null) n.parent = null;
  }

  /** Puts `next` where `prev` hangs under `parent` (or at the root). */
  private replace(parent: Node<T> | null, prev: Node<T>, next: Node<T> | null, len: 4 | 16): void {
    if (parent === null) {
      this.setRoot(len, next);
      return;
    }
    if (parent.child0 === prev) parent.child0 = next;
    else parent.child1 = next;
    if (next !== null) next.parent = parent;
  }

  private assign(node: Node<T>, value: T): void {
    if (node.value === value) return;
    if (node.value !== undefined) this.byValue.get(node.value)?.delete(node);
    node.value = value;
    let set = this.byValue.get(value);
    if (set === undefined) {
      set = new Set();
      this.byValue.set(value, set);
    }
    set.add(node);
  }

  // WG-KMOD allowedips.c _remove: drop the value; a node with two children
  // stays as a branch; otherwise splice it out, and if that leaves a
  // value-less parent with a single child, splice the parent out too.
  private removeNode(node: Node<T>): void {
    const owner = node.value;
    if (owner !== undefined) {
      const set = this.byValue.get(owner);
      set?.delete(node);
      if (set !== undefined && set.size === 0) this.byValue.delete(owner);
    }
    node.value = undefined;
    if (node.child0 !== null && node.child1 !== null) return;
    const child = node.child0 ?? node.child1;
    const parent = node.parent;
    this.replace(parent, node, child, node.len);
    node.parent = node.child0 = node.child1 = null;
    if (child !== null || parent === null || parent.value !== undefined) return;
    const other = parent.child0 ?? parent.child1;
    if (other === null) return; // unreachable: branch nodes always have two children
    this.replace(parent.parent, parent, other, parent.len);
    parent.parent = parent.child0 = parent.child1 = null;
  }
}

function checkPrefix(addr: Uint8Array, cidr: number): 4 | 16 {
  const len = addr.length;
  if (len !== 4 && len !== 16) throw new RangeError(`allowed-ips: address must be 4 or 16 bytes, got ${len}`);
  if (!Number.isInteger(cidr) || cidr < 0 || cidr > len * 8) throw new RangeError(`allowed-ips: bad cidr ${cidr}`);
  return len;
}

function nodeAddr<T>(n: Node<T>): Uint8Array {
  const out = new Uint8Array(n.len);
  const ws = [n.w0, n.w1, n.w2, n.w3];
  for (let i = 0; i < n.len; i++) out[i] = ws[i >> 2]! >>> (24 - 8 * (i & 3));
  return out;
}

// ---------------------------------------------------------------------------
// Text form.

/**
 * parsePrefix parses "a.b.c.d/n" or an IPv6 "x:y::z/n" (a bare address means
 * /32 or /128, as wg(8) accepts). Address syntax follows inet_pton(3): dotted
 * quads with no leading zeros, IPv6 with at most one "::" and an optional
 * trailing dotted quad, no zone. Host bits are kept; insert masks them.
 * Returns an error message string on failure.
 */
export function parsePrefix(s: string): { addr: Uint8Array; cidr: number } | string {
  const slash = s.indexOf("/");
  const addrText = slash < 0 ? s : s.slice(0, slash);
  const addr = addrText.includes(":") ? parseIPv6(addrText) : parseIPv4(addrText);
  if (addr === null) return `invalid IP address "${addrText}"`;
  const max = addr.length * 8;
  if (slash < 0) return { addr, cidr: max };
  const cidrText = s.slice(slash + 1);
  if (!/^[0-9]{1,3}$/.test(cidrText)) return `invalid prefix length "${cidrText}"`;
  const cidr = Number(cidrText);
  if (cidr > max) return `prefix length ${cidr} exceeds ${max}`;
  return { addr, cidr };
}

/** parseAddr parses an IPv4 or IPv6 address with inet_pton(3)'s rules (a ':' selects IPv6), or returns null. */
export function parseAddr(s: string): Uint8Array | null {
  return s.includes(":") ? parseIPv6(s) : parseIPv4(s);
}

/** formatPrefix renders addr/cidr as wg(8) prints it (IPv6 per inet_ntop, i.e. RFC 5952). */
export function formatPrefix(addr: Uint8Array, cidr: number): string {
  return `${formatAddr(addr)}/${cidr}`;
}

/** formatAddr renders a 4- or 16-byte address (IPv6 canonical, as glibc inet_ntop). */
export function formatAddr(addr: Uint8Array): string {
  if (addr.length === 4) return `${addr[0]}.${addr[1]}.${addr[2]}.${addr[3]}`;
  if (addr.length !== 16) throw new RangeError(`address must be 4 or 16 bytes, got ${addr.length}`);
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push((addr[i]! << 8) | addr[i + 1]!);
  // Longest run of >= 2 zero groups, first one on a tie (RFC 5952 §4.2).
  let bestBase = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) {
      bestBase = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestLen < 2) bestBase = -1;
  let out = "";
  for (let i = 0; i < 8; i++) {
    if (bestBase >= 0 && i >= bestBase && i < bestBase + bestLen) {
      if (i === bestBase) out += ":";
      continue;
    }
    if (i !== 0) out += ":";
    // glibc inet_ntop6 prints IPv4-mapped (::ffff:a.b.c.d) and the old
    // IPv4-compatible (::a.b.c.d, run of exactly six) forms with a dotted quad.
    if (i === 6 && bestBase === 0 && (bestLen === 6 || (bestLen === 5 && words[5] === 0xffff))) {
      out += `${addr[12]}.${addr[13]}.${addr[14]}.${addr[15]}`;
      return out;
    }
    out += words[i]!.toString(16);
  }
  if (bestBase >= 0 && bestBase + bestLen === 8) out += ":";
  return out;
}

function parseIPv4(s: string): Uint8Array | null {
  const m = /^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})$/.exec(s);
  if (m === null) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const t = m[i + 1]!;
    const v = Number(t);
    if (v > 255 || (t.length > 1 && t[0] === "0")) return null;
    out[i] = v;
  }
  return out;
}

function parseIPv6(s: string): Uint8Array | null {
  const dbl = s.indexOf("::");
  if (dbl >= 0 && s.indexOf("::", dbl + 1) >= 0) return null;
  const head = dbl < 0 ? s : s.slice(0, dbl);
  const tail = dbl < 0 ? "" : s.slice(dbl + 2);
  const headParts = head === "" ? [] : head.split(":");
  const tailParts = tail === "" ? [] : tail.split(":");
  if (dbl < 0 && head === "") return null;
  // Only the very last group of the string may be a dotted quad.
  const lastList = dbl < 0 ? headParts : tailParts;
  const groups = (parts: string[], canEndWithV4: boolean): number[] | null => {
    const ws: number[] = [];
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      if (canEndWithV4 && i === parts.length - 1 && p.includes(".")) {
        const v4 = parseIPv4(p);
        if (v4 === null) return null;
        ws.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(p)) {
        ws.push(parseInt(p, 16));
      } else {
        return null;
      }
    }
    return ws;
  };
  const hw = groups(headParts, lastList === headParts);
  const tw = groups(tailParts, lastList === tailParts);
  if (hw === null || tw === null) return null;
  // Without "::" exactly eight groups; with it, "::" stands for at least one.
  if (dbl < 0 ? hw.length !== 8 : hw.length + tw.length > 7) return null;
  const words = [...hw, ...new Array<number>(8 - hw.length - tw.length).fill(0), ...tw];
  const out = new Uint8Array(16);
  words.forEach((w, i) => {
    out[2 * i] = w >>> 8;
    out[2 * i + 1] = w & 0xff;
  });
  return out;
}
