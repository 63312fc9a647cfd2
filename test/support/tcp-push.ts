// A dependency-free TCP bulk transfer for the demo (a fresh machine may have
// no iperf3). Run inside a namespace:
//   bun tcp-push.ts serve ADDRESS PORT      prints one JSON line when the peer closes
//   bun tcp-push.ts send ADDRESS PORT SECS  pushes for SECS seconds, prints JSON
// The receiver checks a running pattern, so corrupted bytes are caught too.
import { createServer, connect } from "node:net";

const [mode, address = "", portText = "5301", secondsText = "3"] = process.argv.slice(2);
const port = Number(portText);
const CHUNK = 256 * 1024;

const PERIOD = 251; // prime, so the pattern never lines up with segment sizes

/** patternByte is the byte expected at absolute stream offset i. */
function patternByte(i: number): number {
  return (i % PERIOD) ^ 0x5a;
}

if (mode === "serve") {
  const server = createServer((sock) => {
    let received = 0;
    let corrupt = 0;
    const started = performance.now();
    sock.on("data", (data: Buffer) => {
      for (let i = 0; i < data.length; i += 997) if (data[i] !== patternByte(received + i)) corrupt++;
      received += data.length;
    });
    sock.on("close", () => {
      const seconds = (performance.now() - started) / 1000;
      process.stdout.write(`${JSON.stringify({ received, corrupt, seconds })}\n`);
      server.close();
    });
  });
  server.listen(port, address, () => process.stderr.write("listening\n"));
} else if (mode === "send") {
  const deadline = performance.now() + Number(secondsText) * 1000;
  // One precomputed pattern; each chunk is a window into it at the stream's phase.
  const pattern = Buffer.alloc(CHUNK + PERIOD);
  for (let i = 0; i < pattern.length; i++) pattern[i] = patternByte(i);
  let sent = 0;
  const sock = connect({ host: address, port }, () => {
    const pump = () => {
      while (performance.now() < deadline) {
        const phase = sent % PERIOD;
        sent += CHUNK;
        if (!sock.write(pattern.subarray(phase, phase + CHUNK))) return void sock.once("drain", pump);
      }
      sock.end(() => process.stdout.write(`${JSON.stringify({ sent })}\n`));
    };
    pump();
  });
  sock.on("error", (e) => {
    process.stderr.write(`tcp-push: ${e.message}\n`);
    process.exitCode = 1;
  });
} else {
  process.stderr.write("usage: tcp-push.ts serve|send ADDRESS PORT [SECONDS]\n");
  process.exitCode = 64;
}
