// `tunnel convert wg0.conf [-o out.toml]`: a wg-quick config in, tunnel TOML
// out. The conversion itself is pure (src/config); this file only does the
// I/O around it. The output holds the private key, so a file written with -o
// is created 0600 and an existing file is never clobbered without --force.
import { chmodSync, closeSync, existsSync, openSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs";
import { defineCommand } from "citty";
import { convertWgQuickToToml } from "../config/index.ts";
import { CliError, EXIT } from "./errors.ts";
import { log } from "./log.ts";
import { writeData } from "./output.ts";

export default defineCommand({
  meta: { name: "convert", description: "Convert a wg-quick config (wg0.conf) to tunnel TOML" },
  args: {
    file: { type: "positional", required: true, description: "The wg-quick config file" },
    output: { type: "string", alias: "o", description: "Write the TOML to this file (mode 0600) instead of stdout" },
    force: { type: "boolean", description: "With -o: replace an existing file" },
    name: { type: "string", description: "Interface name (default: the file name without .conf)" },
  },
  run({ args }) {
    const path = String(args.file);
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (error) {
      throw new CliError(`convert: cannot read ${path}: ${describeFsError(error)}`, EXIT.CONFIG);
    }

    const result = convertWgQuickToToml({ path, text }, args.name === undefined ? {} : { name: String(args.name) });
    if (!result.ok) {
      // Every problem is reported at once, as the parser collects them; the
      // last line (the CliError) is the one scripts see next to the exit code.
      if (result.errors.length === 1) throw new CliError(result.errors[0]!.formatted, EXIT.CONFIG);
      for (const issue of result.errors) log.error(issue.formatted);
      throw new CliError(`${path}: ${result.errors.length} errors; nothing converted`, EXIT.CONFIG);
    }
    for (const issue of result.warnings) log.warn(issue.formatted);

    if (args.output === undefined || args.output === "") {
      writeData(result.toml);
      return;
    }
    const out = String(args.output);
    writePrivateFile(out, result.toml, Boolean(args.force));
    log.info(`wrote ${out} (mode 0600)`);
  },
});

/**
 * writePrivateFile creates `path` with mode 0600. Without `force` it uses
 * O_EXCL, so an existing file (or a symlink planted in its place) is refused
 * atomically. With `force` it writes a fresh 0600 sibling and renames it over
 * the target: rewriting in place would keep the old file's (maybe wider) mode.
 */
function writePrivateFile(path: string, text: string, force: boolean): void {
  if (!force && existsSync(path)) {
    throw new CliError(`convert: ${path} already exists; use --force to replace it`, EXIT.USAGE);
  }
  const target = force ? `${path}.tmp-${process.pid}` : path;
  let fd: number;
  try {
    fd = openSync(target, "wx", 0o600);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EEXIST") throw new CliError(`convert: ${path} already exists; use --force to replace it`, EXIT.USAGE);
    throw new CliError(`convert: cannot create ${target}: ${describeFsError(error)}`, EXIT.FAILURE);
  }
  try {
    writeSync(fd, text.endsWith("\n") ? text : `${text}\n`);
    // The umask can only narrow the mode, but a umask such as 0277 would leave
    // the owner unable to write it later; state the intended mode explicitly.
    chmodSync(target, 0o600);
  } catch (error) {
    closeSync(fd);
    rmSync(target, { force: true });
    throw new CliError(`convert: cannot write ${target}: ${describeFsError(error)}`, EXIT.FAILURE);
  }
  closeSync(fd);
  if (force) {
    try {
      renameSync(target, path);
    } catch (error) {
      rmSync(target, { force: true });
      throw new CliError(`convert: cannot replace ${path}: ${describeFsError(error)}`, EXIT.FAILURE);
    }
  }
}

/** describeFsError turns an fs error into "no such file (ENOENT)" style text without the path noise. */
function describeFsError(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  const reasons: Record<string, string> = {
    ENOENT: "no such file",
    EACCES: "permission denied",
    EISDIR: "is a directory",
    ENOTDIR: "a path component is not a directory",
  };
  if (e?.code && reasons[e.code]) return `${reasons[e.code]} (${e.code})`;
  return e?.message ?? String(error);
}
