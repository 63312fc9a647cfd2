// Composition root: parses argv, runs the command, and owns the only
// process.exit in the code base. Every error becomes one clear line on stderr
// and a non-zero exit code; stack traces only with LOG_LEVEL=debug.
import { runCommand, showUsage } from "citty";
import { rootCommand } from "./cli/index.ts";
import { CliError, EXIT } from "./cli/errors.ts";
import { VERSION } from "./version.ts";
import { isValidInterfaceName } from "./cli/ifname.ts";
import { didYouMean } from "./config/errors.ts";
import { foreignBunOptions } from "./cli/bun-environment.ts";
import { traceStartup } from "./device/startup-trace.ts";
import { writeData } from "./cli/output.ts";

async function resolveSubCommand(rawArgs: string[]) {
  const subs = rootCommand.subCommands as Record<string, () => Promise<unknown>>;
  const name = rawArgs.find((a) => !a.startsWith("-"));
  if (name && name in subs) return [(await subs[name]!()) as typeof rootCommand, rootCommand] as const;
  return [rootCommand, undefined] as const;
}

/**
 * daemonInterface recognises wireguard-go's command line, so wg-quick can use
 * us (WG_QUICK_USERSPACE_IMPLEMENTATION=tunnel): `tunnel [-f|--foreground] IFNAME`.
 * Subcommand names win over interface names.
 */
function daemonInterface(rawArgs: string[]): { name: string; foreground: boolean } | null {
  const subs = rootCommand.subCommands as Record<string, unknown>;
  const [first, second] = rawArgs;
  if (rawArgs.length === 2 && (first === "-f" || first === "--foreground") && second && isValidInterfaceName(second)) {
    return { name: second, foreground: true };
  }
  if (rawArgs.length === 1 && first && !first.startsWith("-") && !(first in subs) && isValidInterfaceName(first)) {
    // A typo of a command must not quietly create an interface named after it.
    const meant = didYouMean(first, Object.keys(subs));
    if (meant !== null)
      throw new CliError(`unknown command '${first}' (did you mean '${meant}'?); to serve an interface of that name, run 'tunnel -f ${first}'`, EXIT.USAGE);
    return { name: first, foreground: process.env.WG_PROCESS_FOREGROUND === "1" };
  }
  return null;
}

async function main(rawArgs: string[]): Promise<number> {
  traceStartup("main");
  const foreign = foreignBunOptions();
  if (foreign !== null) throw new CliError(foreign, EXIT.CONFIG);
  const daemon = daemonInterface(rawArgs);
  if (daemon) {
    const { runForeground, startBackground } = await import("./cli/daemon.ts");
    if (!daemon.foreground) {
      await startBackground(daemon.name);
      return EXIT.OK;
    }
    // The daemon ends by itself (TUN gone, socket removed, signal); exit then,
    // whatever handles are left, with the code it chose.
    process.exit(await runForeground(daemon.name));
  }
  if (rawArgs.length === 1 && (rawArgs[0] === "--version" || rawArgs[0] === "-v")) {
    writeData(VERSION);
    return EXIT.OK;
  }
  if (rawArgs.length === 0 || rawArgs.includes("--help") || rawArgs.includes("-h")) {
    const [cmd, parent] = await resolveSubCommand(rawArgs);
    await showUsage(cmd, parent);
    return rawArgs.length === 0 ? EXIT.USAGE : EXIT.OK;
  }
  await runCommand(rootCommand, { rawArgs });
  return EXIT.OK;
}

/** plain removes the ANSI colours citty puts into its messages. */
function plain(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: ESC starts the colour codes this strips
  return text.replace(/\x1b\[[0-9;]*m/g, "");
}

function describeError(error: unknown): { line: string; code: number } {
  if (error instanceof CliError) return { line: error.message, code: error.exitCode };
  if (error instanceof Error && "code" in error && String(error.code).startsWith("E_")) {
    return { line: error.message, code: EXIT.USAGE }; // citty's usage errors
  }
  if (error instanceof Error) return { line: error.message, code: EXIT.FAILURE };
  return { line: String(error), code: EXIT.FAILURE };
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    const { line, code } = describeError(error);
    process.stderr.write(`tunnel: ${plain(line)}\n`);
    if (process.env.LOG_LEVEL === "debug" && error instanceof Error) process.stderr.write(`${error.stack}\n`);
    process.exit(code);
  },
);
