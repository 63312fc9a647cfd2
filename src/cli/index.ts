// The root command. Subcommands load lazily so `tunnel --help` does not open
// libc or libcrypto.
import { defineCommand } from "citty";
import { VERSION } from "../version.ts";

export const rootCommand = defineCommand({
  meta: {
    name: "tunnel",
    version: VERSION,
    description: "A fast WireGuard-compatible VPN for Linux that uses the kernel's TUN offloads",
  },
  subCommands: {
    up: () => import("./up.ts").then((m) => m.default),
    check: () => import("./check.ts").then((m) => m.default),
    down: () => import("./down.ts").then((m) => m.default),
    status: () => import("./status.ts").then((m) => m.default),
    doctor: () => import("./doctor.ts").then((m) => m.default),
    convert: () => import("./convert.ts").then((m) => m.default),
    genkey: () => import("./keys.ts").then((m) => m.genkey),
    genpsk: () => import("./keys.ts").then((m) => m.genpsk),
    pubkey: () => import("./keys.ts").then((m) => m.pubkey),
    selftest: () => import("./selftest.ts").then((m) => m.default),
    version: () => import("./version.ts").then((m) => m.default),
  },
});
