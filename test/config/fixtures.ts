// Deterministic, obviously fake keys for config tests: base64 of 32 copies of one byte.
export function testKey(byte: number): string {
  return Buffer.alloc(32, byte).toString("base64");
}

export const PRIVATE_KEY = testKey(0x11);
export const PEER_A_KEY = testKey(0x22);
export const PEER_B_KEY = testKey(0x33);
export const PSK = testKey(0x44);

/** formatted returns just the printable lines of a list of issues, for exact assertions. */
export function formatted(issues: { formatted: string }[]): string[] {
  return issues.map((issue) => issue.formatted);
}
