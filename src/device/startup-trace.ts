// TUNNEL_TRACE_STARTUP=1 prints one stderr line per start-up step with the
// milliseconds since the process started (performance.now() counts from
// there), so the time from exec to a configured interface can be split up on
// a slow host (a VM under emulation, a small board) without a profiler.
// Off, it costs one environment lookup.
const enabled = process.env.TUNNEL_TRACE_STARTUP === "1";

/** traceStartup notes that start-up reached `step`. */
export function traceStartup(step: string): void {
  if (enabled) process.stderr.write(`tunnel: startup +${performance.now().toFixed(0)} ms ${step}\n`);
}
