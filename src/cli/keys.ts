// `tunnel genkey`, `tunnel pubkey`, `tunnel genpsk`: wg(8)-compatible key
// tools. Keys go to stdout, nothing else does.
import { defineCommand } from "citty";
import { selectBackend } from "../crypto/select.ts";
import { decodeKey, encodeKey, generatePresharedKey, generatePrivateKey, publicKeyOf } from "../wireguard/keys.ts";
import { CliError, EXIT } from "./errors.ts";
import { writeData } from "./output.ts";

export const genkey = defineCommand({
  meta: { name: "genkey", description: "Print a new private key (base64) on stdout" },
  run() {
    writeData(encodeKey(generatePrivateKey(selectBackend().backend)));
  },
});

export const genpsk = defineCommand({
  meta: { name: "genpsk", description: "Print a new preshared key (base64) on stdout" },
  run() {
    writeData(encodeKey(generatePresharedKey(selectBackend().backend)));
  },
});

export const pubkey = defineCommand({
  meta: { name: "pubkey", description: "Read a private key on stdin, print its public key on stdout" },
  async run() {
    const text = await new Response(Bun.stdin.stream()).text();
    const key = decodeKey(text);
    if (key === null) throw new CliError("pubkey: stdin is not a base64 WireGuard private key (44 characters)", EXIT.USAGE);
    writeData(encodeKey(publicKeyOf(selectBackend().backend, key)));
  },
});
