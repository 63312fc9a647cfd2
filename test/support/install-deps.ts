// Run by `npm test` before anything else: the Debian packages the whole suite
// needs (namespace tier, VM tier, release smoke tests) must be installed, or
// half the suite would skip. As root, what is missing is installed from
// Debian (apt-get update first); when everything is present this costs one
// dpkg-query. Not root: stop at once with the exact command to run.
//   bun test/support/install-deps.ts [--print]   --print lists the packages and exits
import { DEBIAN_TEST_PACKAGES } from "./debian-packages.ts";

function installed(packages: readonly string[]): Set<string> {
  // dpkg-query's own ${field} format, not a template.
  // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's format string
  const p = Bun.spawnSync(["dpkg-query", "-W", "-f", "${Package} ${db:Status-Status}\n", ...packages], { stdout: "pipe", stderr: "ignore" });
  const out = new Set<string>();
  for (const line of p.stdout.toString().split("\n")) {
    const [name, status] = line.split(" ");
    // Multi-arch names come back as name:arch.
    if (name && status === "installed") out.add(name.split(":")[0]!);
  }
  return out;
}

function step(argv: string[]): void {
  console.log(`install-deps: ${argv.join(" ")}`);
  const p = Bun.spawnSync(argv, { stdout: "inherit", stderr: "inherit", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
  if (p.exitCode !== 0) {
    console.error(`install-deps: \`${argv.join(" ")}\` exited ${p.exitCode}`);
    process.exit(1);
  }
}

function main(): void {
  if (process.argv.includes("--print")) {
    console.log(DEBIAN_TEST_PACKAGES.join(" "));
    return;
  }
  if (!Bun.which("dpkg-query") || !Bun.which("apt-get")) {
    console.error(
      `install-deps: the test suite installs its tools from Debian's packages (no dpkg-query/apt-get here); install the equivalents of: ${DEBIAN_TEST_PACKAGES.join(" ")}`,
    );
    process.exit(1);
  }
  const have = installed(DEBIAN_TEST_PACKAGES);
  const missing = DEBIAN_TEST_PACKAGES.filter((p) => !have.has(p));
  if (missing.length === 0) return;
  // --no-install-recommends: wireguard-tools would pull in a kernel image, ansible-core a pile of docs.
  const install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", ...missing];
  if (process.getuid?.() !== 0) {
    console.error(`install-deps: missing Debian packages: ${missing.join(" ")}\nRun as root:\n  apt-get update && ${install.join(" ")}`);
    process.exit(1);
  }
  // Another apt-get on the machine holds the lock for a while: wait for it rather than fail.
  const wait = ["-o", "DPkg::Lock::Timeout=600"];
  step(["apt-get", ...wait, "update", "-q"]);
  step([install[0]!, ...wait, ...install.slice(1)]);
  const still = DEBIAN_TEST_PACKAGES.filter((p) => !installed(DEBIAN_TEST_PACKAGES).has(p));
  if (still.length > 0) {
    console.error(`install-deps: still missing after apt-get install: ${still.join(" ")}`);
    process.exit(1);
  }
}

main();
