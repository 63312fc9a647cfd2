// `tunnel version [--json]`: the package version, plus (with --json) the build
// facts a fleet inventory needs to tell binaries apart.
import { defineCommand } from "citty";
import { BUILD, VERSION } from "../version.ts";
import { writeData } from "./output.ts";

export default defineCommand({
  meta: { name: "version", description: "Print the version (--json: also commit, target and Bun runtime)" },
  args: {
    json: { type: "boolean", description: "Print version, git commit, target, baseline and Bun version as JSON" },
  },
  run({ args }) {
    if (!args.json) {
      writeData(VERSION);
      return;
    }
    writeData(
      JSON.stringify(
        {
          version: VERSION,
          commit: BUILD.commit,
          dirty: BUILD.dirty,
          target: BUILD.target,
          baseline: BUILD.baseline,
          bun: Bun.version,
          bunRevision: Bun.revision,
        },
        null,
        2,
      ),
    );
  },
});
