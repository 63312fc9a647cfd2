// writeData writes fd 1 with write(2) instead of process.stdout (start-up
// cost, see output.ts): it must deliver everything through a pipe, larger
// than the pipe's buffer, and stop quietly when the reader goes away.
import { expect, test } from "bun:test";

const OUTPUT = new URL("../../src/cli/output.ts", import.meta.url).pathname;

/** writer is a bun process that prints the value of the JS expression `text` with writeData. */
function writer(text: string): string[] {
  return [process.execPath, "-e", `const { writeData } = await import(${JSON.stringify(OUTPUT)}); writeData(${text});`];
}

test("a document larger than a pipe's buffer arrives whole, with one trailing newline", async () => {
  const child = Bun.spawn(writer('"0123456789abcdef".repeat(20_000)'), { stdout: "pipe", stderr: "pipe" });
  const [out, code] = await Promise.all([new Response(child.stdout).text(), child.exited]);
  expect(code).toBe(0);
  expect(out).toBe(`${"0123456789abcdef".repeat(20_000)}\n`); // 320 KB against 64 KiB of pipe
});

test("text that ends in a newline gets no second one", async () => {
  const child = Bun.spawn(writer('"a\\nb\\n"'), { stdout: "pipe" });
  expect(await new Response(child.stdout).text()).toBe("a\nb\n");
});

test("a reader that stops early (| head -c 5) ends the output quietly: exit 0, nothing on stderr", () => {
  const quoted = writer('"x".repeat(1_000_000)').map((a) => `'${a.replaceAll("'", "'\\''")}'`);
  const r = Bun.spawnSync(["bash", "-c", `${quoted.join(" ")} | head -c 5 >/dev/null; echo "\${PIPESTATUS[0]}"`], { stdout: "pipe", stderr: "pipe" });
  expect(r.stdout.toString().trim()).toBe("0");
  expect(r.stderr.toString()).toBe("");
});
