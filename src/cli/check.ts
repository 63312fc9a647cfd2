// `tunnel check FILE.toml`: validates a config as `up` would read it (syntax,
// keys, key files, addresses, every cross-check) without touching the system,
// so Ansible's `template: validate: tunnel check %s` refuses a bad file
// before it replaces the good one. Silent and 0 when valid; otherwise one
// line naming the file and the key, exit 78 (EX_CONFIG). Endpoint host names
// are not resolved: that needs the network of the host that runs `up`.
import { defineCommand } from "citty";
import { readConfigFile } from "./config-file.ts";
import { writeData } from "./output.ts";

export default defineCommand({
  meta: { name: "check", description: "Validate a TOML config without applying it" },
  args: {
    file: { type: "positional", description: "The tunnel config (TOML; see docs/config.md)", required: true },
    json: { type: "boolean", description: "Print {file, valid, interface, peers} as JSON on stdout" },
  },
  run({ args }) {
    const path = String(args.file);
    const loaded = readConfigFile(path);
    if (args.json) writeData(JSON.stringify({ file: path, valid: true, interface: loaded.config.interface.name, peers: loaded.config.peers.length }));
  },
});
