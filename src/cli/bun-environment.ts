// The compiled binary is a Bun runtime, and Bun reads a few variables before
// any of our code runs. build.ts switches off what Bun lets us switch off
// (.env and bunfig.toml autoloading). Two remain, with no switch in Bun 1.4.4:
// - BUN_BE_BUN=1 turns the binary into the bun CLI; our code never runs, so
//   nothing here can see it. Only the caller can clear it (the systemd unit
//   does: UnsetEnvironment=BUN_OPTIONS BUN_BE_BUN).
// - BUN_OPTIONS is parsed as Bun command-line flags (--preload, --inspect,
//   --smol, ...) and applied before main.ts. A --preload has run by the time
//   we look, so re-executing without it would hide that, not undo it. We
//   refuse instead: nothing privileged happens under a runtime someone else
//   configured, and the operator learns the variable is set.
// - BUN_JSC_* set JavaScriptCore's options (its JIT tiers and thresholds,
//   its debugging and logging switches) as the runtime starts. They are
//   refused the same way; systemd's UnsetEnvironment= cannot name a prefix.
// Under `bun src/main.ts` the developer chose Bun's flags; only the compiled
// binary refuses.

const JSC_PREFIX = "BUN_JSC_";

/** foreignBunOptions explains why the runtime was configured from outside, or returns null. */
export function foreignBunOptions(
  env: Record<string, string | undefined> = process.env,
  execArgv: readonly string[] = process.execArgv,
  standalone: boolean = Bun.isStandaloneExecutable,
): string | null {
  if (!standalone) return null;
  const jsc = Object.keys(env).filter((k) => k.startsWith(JSC_PREFIX) && env[k] !== undefined);
  if (jsc.length > 0) {
    return (
      `${jsc.join(", ")} ${jsc.length === 1 ? "is" : "are"} set: JavaScriptCore applied ${jsc.length === 1 ? "it" : "them"} before tunnel started; refusing to continue. ` +
      `Unset every ${JSC_PREFIX}* variable`
    );
  }
  const options = env.BUN_OPTIONS?.trim() ?? "";
  if (options === "" && execArgv.length === 0) return null;
  const what = options !== "" ? `BUN_OPTIONS is set (${JSON.stringify(options)})` : `Bun runtime flags are set (${execArgv.join(" ")})`;
  return (
    `${what}: Bun applied it before tunnel started, so foreign code may already have run; refusing to continue. ` +
    "Unset BUN_OPTIONS (systemd: UnsetEnvironment=BUN_OPTIONS BUN_BE_BUN)"
  );
}
