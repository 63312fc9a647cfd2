// The client side of UAPI, for `tunnel up/down/status`: one request per
// connection, exactly what wg(8) sends, so our CLI works against any
// userspace WireGuard (ours or wireguard-go).
import net from "node:net";
import { DEFAULT_UAPI_RUN_DIR, uapiSocketPath } from "../socket-paths.ts";

/** LiveWgPeer is one peer as `get=1` reports it (keys as lowercase hex). */
export interface LiveWgPeer {
  publicKeyHex: string;
  presharedKeyHex: string;
  endpoint: string | null;
  lastHandshakeSec: number;
  txBytes: number;
  rxBytes: number;
  persistentKeepalive: number;
  allowedIps: string[];
}

/** LiveWgState is the whole `get=1` reply. */
export interface LiveWgState {
  privateKeyHex: string | null;
  listenPort: number;
  fwmark: number;
  peers: LiveWgPeer[];
}

const REQUEST_TIMEOUT_MS = 5000;

/** request sends one UAPI request and resolves with the reply text (through the blank line after errno). */
export function uapiRequest(interfaceName: string, request: string, runDir = DEFAULT_UAPI_RUN_DIR): Promise<string> {
  const path = uapiSocketPath(runDir, interfaceName);
  return new Promise((resolve, reject) => {
    const socket = net.createConnection(path);
    let text = "";
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`${path}: no answer within ${REQUEST_TIMEOUT_MS} ms`));
    }, REQUEST_TIMEOUT_MS);
    socket.on("connect", () => socket.write(request));
    socket.on("data", (chunk) => {
      text += chunk.toString("utf8");
      if (/(^|\n)errno=-?\d+\n\n$/.test(text)) {
        clearTimeout(timer);
        socket.destroy();
        resolve(text);
      }
    });
    socket.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    socket.on("close", () => {
      clearTimeout(timer);
      reject(new Error(`${path}: connection closed before a complete reply`));
    });
  });
}

/** isUapiRunning reports whether something answers on the interface's UAPI socket. */
export async function isUapiRunning(interfaceName: string, runDir = DEFAULT_UAPI_RUN_DIR): Promise<boolean> {
  try {
    await uapiGet(interfaceName, runDir);
    return true;
  } catch {
    return false;
  }
}

/** errnoOf extracts the errno line's value from a reply. */
function errnoOf(reply: string): number {
  const m = /(?:^|\n)errno=(-?\d+)\n\n$/.exec(reply);
  return m ? Number(m[1]) : Number.NaN;
}

/** uapiSet sends a set=1 body (lines without the trailing blank line) and throws on a non-zero errno. */
export async function uapiSet(interfaceName: string, lines: string[], runDir = DEFAULT_UAPI_RUN_DIR): Promise<void> {
  const reply = await uapiRequest(interfaceName, `set=1\n${lines.map((l) => `${l}\n`).join("")}\n`, runDir);
  const errno = errnoOf(reply);
  if (errno !== 0) throw new Error(`UAPI set on ${interfaceName} failed with errno=${errno}`);
}

/** uapiGet reads and parses the device state. */
export async function uapiGet(interfaceName: string, runDir = DEFAULT_UAPI_RUN_DIR): Promise<LiveWgState> {
  const reply = await uapiRequest(interfaceName, "get=1\n\n", runDir);
  const errno = errnoOf(reply);
  if (errno !== 0) throw new Error(`UAPI get on ${interfaceName} failed with errno=${errno}`);
  return parseGetReply(reply);
}

/** parseGetReply turns `get=1` lines into LiveWgState; unknown keys are ignored, as wg(8) does. */
export function parseGetReply(reply: string): LiveWgState {
  const state: LiveWgState = { privateKeyHex: null, listenPort: 0, fwmark: 0, peers: [] };
  let peer: LiveWgPeer | null = null;
  for (const line of reply.split("\n")) {
    const eq = line.indexOf("=");
    if (eq <= 0) continue;
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    if (key === "public_key") {
      peer = {
        publicKeyHex: value,
        presharedKeyHex: "0".repeat(64),
        endpoint: null,
        lastHandshakeSec: 0,
        txBytes: 0,
        rxBytes: 0,
        persistentKeepalive: 0,
        allowedIps: [],
      };
      state.peers.push(peer);
      continue;
    }
    if (peer === null) {
      if (key === "private_key") state.privateKeyHex = value;
      else if (key === "listen_port") state.listenPort = Number(value);
      else if (key === "fwmark") state.fwmark = Number(value);
      continue;
    }
    switch (key) {
      case "preshared_key":
        peer.presharedKeyHex = value;
        break;
      case "endpoint":
        peer.endpoint = value;
        break;
      case "last_handshake_time_sec":
        peer.lastHandshakeSec = Number(value);
        break;
      case "tx_bytes":
        peer.txBytes = Number(value);
        break;
      case "rx_bytes":
        peer.rxBytes = Number(value);
        break;
      case "persistent_keepalive_interval":
        peer.persistentKeepalive = Number(value);
        break;
      case "allowed_ip":
        peer.allowedIps.push(value);
        break;
    }
  }
  return state;
}
