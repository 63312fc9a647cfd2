// Line commands on stdin for the helper processes the tests drive
// (test/device/run-device.ts, test/bridge/bridge.ts).

/** onStdinLines calls onLine with every trimmed line that arrives on stdin. */
export function onStdinLines(onLine: (line: string) => void): void {
  let pending = "";
  process.stdin.on("data", (chunk: Buffer) => {
    pending += chunk.toString();
    for (let nl = pending.indexOf("\n"); nl >= 0; nl = pending.indexOf("\n")) {
      const line = pending.slice(0, nl).trim();
      pending = pending.slice(nl + 1);
      onLine(line);
    }
  });
}
