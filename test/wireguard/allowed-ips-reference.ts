// Deliberately naive allowed-IPs table for differential tests: a flat list
// kept sorted by prefix length (longest first), first match wins. Port of
// "horrible_allowedips" from Linux drivers/net/wireguard/selftest/allowedips.c
// (and SlowRouter in wireguard-go device/allowedips_rand_test.go).

interface HorribleNode<T> {
  ip: Uint8Array; // masked
  cidr: number;
  value: T;
}

function masked(ip: Uint8Array, cidr: number): Uint8Array {
  const out = new Uint8Array(ip.length);
  for (let i = 0; i < ip.length; i++) {
    const bits = Math.max(0, Math.min(8, cidr - 8 * i));
    out[i] = ip[i]! & ((0xff00 >> bits) & 0xff);
  }
  return out;
}

function matches(node: { ip: Uint8Array; cidr: number }, ip: Uint8Array): boolean {
  if (node.ip.length !== ip.length) return false;
  for (let i = 0; i < ip.length; i++) {
    const bits = Math.max(0, Math.min(8, node.cidr - 8 * i));
    if ((ip[i]! & ((0xff00 >> bits) & 0xff)) !== node.ip[i]) return false;
  }
  return true;
}

export class HorribleAllowedIps<T> {
  private list: HorribleNode<T>[] = [];

  insert(ip: Uint8Array, cidr: number, value: T): void {
    const node = { ip: masked(ip, cidr), cidr, value };
    const same = this.list.find((o) => o.cidr === cidr && o.ip.length === ip.length && matches(o, node.ip));
    if (same !== undefined) {
      same.value = value;
      return;
    }
    let at = this.list.findIndex((o) => o.cidr <= cidr);
    if (at < 0) at = this.list.length;
    this.list.splice(at, 0, node);
  }

  remove(ip: Uint8Array, cidr: number, value?: T): boolean {
    const m = masked(ip, cidr);
    const i = this.list.findIndex((o) => o.cidr === cidr && o.ip.length === ip.length && matches(o, m));
    if (i < 0 || (value !== undefined && this.list[i]!.value !== value)) return false;
    this.list.splice(i, 1);
    return true;
  }

  removeByValue(value: T): void {
    this.list = this.list.filter((o) => o.value !== value);
  }

  lookup(ip: Uint8Array): T | undefined {
    for (const node of this.list) if (matches(node, ip)) return node.value;
    return undefined;
  }

  get size(): number {
    return this.list.length;
  }
}
