// `tunnel selftest`: re-runs every crypto known-answer vector (RFC 8439,
// RFC 7748, RFC 7693, BLAKE2 KATs, XChaCha20-Poly1305, wireguard-go's KDF
// cases) inside this binary, against every backend this machine can load,
// so a broken libcrypto or a miscompiled fallback is caught where it runs.
import { defineCommand } from "citty";
import { selectBackend } from "../crypto/select.ts";
import { createTypeScriptBackend } from "../crypto/typescript-backend.ts";
import { runSelftest } from "../crypto/selftest.ts";
import type { CryptoBackendExt } from "../crypto/types.ts";
import { CliError } from "./errors.ts";
import { log } from "./log.ts";
import { writeData } from "./output.ts";

export default defineCommand({
  meta: { name: "selftest", description: "Run the crypto known-answer tests inside this binary" },
  args: {
    json: { type: "boolean", description: "Print the results as JSON" },
    slow: { type: "boolean", description: "Include the 1,000,000-iteration X25519 vector" },
  },
  run({ args }) {
    const selection = selectBackend();
    if (selection.warning) log.warn(selection.warning);
    const backends: CryptoBackendExt[] = [selection.backend];
    if (selection.backend.name !== "typescript") backends.push(createTypeScriptBackend());
    const report = backends.map((b) => ({ backend: b.name, results: runSelftest(b, { slow: args.slow }) }));
    const failed = report.flatMap((r) => r.results.filter((x) => !x.passed).map((x) => `${r.backend}: ${x.name}: ${x.detail}`));
    if (args.json) {
      writeData(JSON.stringify({ selected: selection.backend.name, report }, null, 2));
    } else {
      for (const r of report) {
        const passed = r.results.filter((x) => x.passed).length;
        writeData(`${r.backend}: ${passed}/${r.results.length} vectors passed`);
        for (const x of r.results) if (!x.passed) writeData(`  FAIL ${x.name}: ${x.detail}`);
      }
      writeData(`selected backend: ${selection.backend.name}`);
    }
    if (failed.length > 0) throw new CliError(`selftest: ${failed.length} vector(s) failed: ${failed[0]}`);
  },
});
