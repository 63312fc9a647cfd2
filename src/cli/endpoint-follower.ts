// The daemon's side of "endpoints follow DNS": on the main thread (the
// control plane), every TICK_MS, it reads which peers `tunnel up` gave as
// host names (recorded in IF.wgquick.json), samples their counters from the
// device, resolves names when endpoint-policy.ts says so, and moves an
// endpoint with an update_only set, as `wg set IF peer K endpoint A` would.
// Lookups are asynchronous (getaddrinfo off the main thread, so /etc/hosts
// and nsswitch apply as for wg); one lookup per peer at a time, with a
// timeout, so a dead resolver never piles up work. The data plane never waits.
import { lookup } from "node:dns/promises";
import type { Device } from "../device/device.ts";
import { planChange } from "../device/uapi/model.ts";
import { parseSetBody } from "../device/uapi/protocol.ts";
import { formatEndpoint, formatKeyHex } from "../device/uapi/values.ts";
import { chooseEndpoint, DEFAULT_REFRESH_MS, initialFollowState, observe, resolveDue, type FollowState, type PeerSample } from "./endpoint-policy.ts";
import { readWgQuickState, type EndpointName } from "./wgquick-state.ts";

const TICK_MS = 5_000;
const LOOKUP_TIMEOUT_MS = 10_000;

export interface FollowerLog {
  info(message: string): void;
  warn(message: string): void;
}

/** EndpointFollower runs until stop(); names() tells status which host name each peer was given by. */
export interface EndpointFollower {
  stop(): void;
  /** By peer public key (hex): "host:port" as configured. */
  names(): Map<string, string>;
}

type Resolve = (host: string) => Promise<string[]>;

async function resolveAll(host: string): Promise<string[]> {
  const answers = await lookup(host, { all: true });
  return answers.map((a) => a.address);
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  const timeout = new Promise<T>((_, reject) => {
    setTimeout(() => reject(new Error(`no answer within ${ms / 1000} s`)), ms).unref();
  });
  return Promise.race([promise, timeout]);
}

function endpointText(address: string, port: number): string {
  return address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`;
}

export function startEndpointFollower(
  device: Device,
  ifname: string,
  log: FollowerLog,
  opts: { tickMs?: number; resolve?: Resolve; runDir?: string } = {},
): EndpointFollower {
  const resolve = opts.resolve ?? resolveAll;
  const followed = new Map<string, { name: EndpointName; state: FollowState; busy: boolean }>();
  let named = new Map<string, EndpointName>();
  let refreshMs = DEFAULT_REFRESH_MS;

  const tick = () => {
    const recorded = readWgQuickState(ifname, opts.runDir);
    named = new Map(Object.entries(recorded?.endpointNames ?? {}));
    refreshMs = recorded?.endpointRefreshMs ?? DEFAULT_REFRESH_MS;
    if (named.size === 0) {
      followed.clear();
      return; // Nothing to follow: leave the device alone.
    }
    const now = Date.now();
    const peers = new Map(device.snapshot().peers.map((p) => [formatKeyHex(p.publicKey), p]));
    for (const key of followed.keys()) if (!named.has(key) || !peers.has(key)) followed.delete(key);
    for (const [key, name] of named) {
      const p = peers.get(key);
      if (p === undefined) continue;
      const sample: PeerSample = {
        endpoint: p.endpoint === null ? null : formatEndpoint(p.endpoint),
        latestHandshakeMs: p.lastHandshakeTimeSec * 1000 + Math.floor(p.lastHandshakeTimeNsec / 1e6),
        txBytes: Number(p.txBytes),
        rxBytes: Number(p.rxBytes),
      };
      let entry = followed.get(key);
      // A new name, or `up` configured it again (resolving it itself): start over from what up set.
      if (entry === undefined || entry.name.host !== name.host || entry.name.port !== name.port || entry.name.resolved !== name.resolved) {
        entry = { name, state: initialFollowState(name.resolved, sample, now), busy: false };
        followed.set(key, entry);
        continue;
      }
      entry.state = observe(entry.state, sample, now);
      const why = entry.busy ? null : resolveDue(entry.state, sample, now, refreshMs);
      if (why === null) continue;
      entry.busy = true;
      entry.state = { ...entry.state, lastResolveMs: now };
      const current = entry;
      void withTimeout(resolve(name.host), LOOKUP_TIMEOUT_MS)
        .then((addresses) => {
          if (followed.get(key) !== current) return;
          const endpoints = addresses.map((a) => endpointText(a, name.port));
          const fresh = device.snapshot().peers.find((x) => formatKeyHex(x.publicKey) === key);
          const freshSample = fresh === undefined ? sample : { ...sample, endpoint: fresh.endpoint === null ? null : formatEndpoint(fresh.endpoint) };
          const target = chooseEndpoint(current.state, freshSample, endpoints, Date.now());
          if (endpoints.length > 0)
            current.state = { ...current.state, lastResolved: endpoints.includes(freshSample.endpoint ?? "") ? freshSample.endpoint! : endpoints[0]! };
          if (target === null) return;
          const result = device.apply(planChange(parseSetBody(`public_key=${key}\nupdate_only=true\nendpoint=${target}\n`)));
          if (result.errno === 0)
            log.info(
              `${ifname}: peer ${key.slice(0, 8)}… endpoint ${freshSample.endpoint ?? "none"} → ${target} (${name.host} resolved again: ${why === "failing" ? "no answer from the old address" : "periodic refresh"})`,
            );
          else log.warn(`${ifname}: peer ${key.slice(0, 8)}… cannot move the endpoint to ${target}: errno ${result.errno}`);
        })
        .catch((e: Error) => log.warn(`${ifname}: cannot resolve ${name.host} for peer ${key.slice(0, 8)}…: ${(e as NodeJS.ErrnoException).code ?? e.message}`))
        .finally(() => (current.busy = false));
    }
  };

  const timer = setInterval(() => {
    try {
      tick();
    } catch (e) {
      log.warn(`${ifname}: endpoint follower: ${(e as Error).message}`);
    }
  }, opts.tickMs ?? TICK_MS);
  timer.unref();
  return {
    stop: () => clearInterval(timer),
    // Read afresh: status may ask before the first tick, right after `up` recorded the names.
    names: () => new Map(Object.entries(readWgQuickState(ifname, opts.runDir)?.endpointNames ?? {}).map(([k, n]) => [k, `${n.host}:${n.port}`])),
  };
}
