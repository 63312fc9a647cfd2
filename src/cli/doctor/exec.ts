// Running the read-only system tools doctor consults (ip, ping, nft,
// iptables-save, ethtool, timedatectl): found on a fixed system PATH, never
// the caller's, and killed after a time limit so one slow tool cannot hang
// the report.
const SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin";

export interface ToolResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function findTool(name: string): string | null {
  return Bun.which(name, { PATH: SYSTEM_PATH });
}

/** runTool runs argv[0] from the system PATH; null when the tool is missing. */
export async function runTool(argv: string[], timeoutMs = 3000): Promise<ToolResult | null> {
  const bin = findTool(argv[0]!);
  if (bin === null) return null;
  const p = Bun.spawn([bin, ...argv.slice(1)], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    timeout: timeoutMs,
    env: { PATH: SYSTEM_PATH, LC_ALL: "C" },
  });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr };
}
