// Small waiting helpers the real-kernel tests share.

/** collect accumulates a stream's text as it arrives (logs for assertions and failure messages). */
export function collect(stream: ReadableStream<Uint8Array>, onText?: (all: string) => void): { text: () => string } {
  let all = "";
  void (async () => {
    const dec = new TextDecoder();
    for await (const chunk of stream) {
      all += dec.decode(chunk, { stream: true });
      onText?.(all);
    }
  })();
  return { text: () => all };
}

/** until polls cond every 20 ms and fails with what after timeoutMs. */
export async function until(what: string, cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await Bun.sleep(20);
  }
}
