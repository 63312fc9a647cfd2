// Interface names as the kernel accepts them (dev_valid_name): 1..15 bytes,
// no '/', ':' or whitespace, not "." or "..".

/** isValidInterfaceName reports whether the kernel would accept name for a link. */
export function isValidInterfaceName(name: string): boolean {
  return /^[^/:\s]{1,15}$/.test(name) && name !== "." && name !== ".." && Buffer.byteLength(name) <= 15;
}
