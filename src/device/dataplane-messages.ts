// Messages between Device (main thread) and the data-plane worker. Control
// goes over a MessagePort that the worker drains synchronously
// (receiveMessageOnPort) when the mailbox counter moves; the main thread
// bumps the counter and writes the worker's eventfd so a sleeping epoll_wait
// wakes at once. Nothing here is per packet.

export interface WorkerSocket {
  fd: number;
  family: 4 | 6;
  gso: boolean;
  gro: boolean;
}

export interface WorkerPeerConfig {
  publicKey: Uint8Array;
  presharedKey: Uint8Array | null;
  persistentKeepaliveSec: number;
  allowedIps: { addr: Uint8Array; cidr: number }[];
  /** Stats slot in the shared buffer. */
  slot: number;
  /** Present only when this apply set the endpoint. */
  endpoint?: { addr: Uint8Array; port: number };
  /** Persistent keepalive was just turned on: send one now (wireguard-go). */
  keepaliveNow: boolean;
}

export type ToWorker =
  | {
      type: "config";
      /** Clamped private key, or null (no key: the device answers nothing). */
      privateKey: Uint8Array | null;
      peers: WorkerPeerConfig[];
    }
  | { type: "sockets"; v4: WorkerSocket | null; v6: WorkerSocket | null }
  | { type: "offloads"; tcpGro: boolean; udpGro: boolean }
  | { type: "mtu"; mtu: number }
  /** workers: threads for the data plane, itself included (the pool gets workers − 1 helpers). */
  | { type: "workers"; workers: number }
  | { type: "stop" }
  /** Test hook only (service-notify.ts): block the loop forever so the watchdog sees it stop. */
  | { type: "wedgeForTest" };

export type FromWorker =
  | { type: "ready" }
  | { type: "log"; message: string }
  | { type: "closed"; reason: string }
  | { type: "stopped" }
  | { type: "gso"; family: 4 | 6; enabled: boolean };

export interface WorkerInit {
  tunFd: number;
  vnetHeader: boolean;
  tcpGro: boolean;
  udpGro: boolean;
  mtu: number;
  /** workers: threads for the data plane, itself included (≥ 1). */
  workers: number;
  env: Record<string, string | undefined>;
  stats: SharedArrayBuffer;
  /** Int32Array(1): bumped by the main thread after each posted control message. */
  mailbox: SharedArrayBuffer;
  wakeFd: number;
  port: MessagePort;
}
