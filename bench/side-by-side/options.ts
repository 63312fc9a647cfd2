// Command line of `npm run bench` (bun bench/run.ts). Defaults are the full
// issue 6 spec; --quick is for development only and says so in its output.

export interface Options {
  seconds: number;
  runs: number;
  /** extras: one -P 4 and one -R run per configuration. */
  extras: boolean;
  /** soak: seconds of the memory soak through tunnel; 0 = off. */
  soak: number;
  /** soakOnly: skip the comparison (for checking memory alone). */
  soakOnly: boolean;
  /** only: restrict to these configuration ids (wireguard-go stays: ratios need it). */
  only: string[] | null;
  pings: number;
  json: string | null;
  /** workers: extra tunnel rows with TUNNEL_WORKERS set to each count (the plain tunnel row is "auto"). */
  workers: number[];
}

export const USAGE = `usage: bun bench/run.ts [--seconds N] [--runs N] [--quick] [--no-extras]
                        [--only id,id] [--pings N] [--soak SECONDS] [--soak-only] [--json PATH]
                        [--workers N,N]
  default: 10 s × 3 single-stream runs + one -P 4 + one -R per configuration
  --quick      3 s × 1 run, no -P 4 / -R (development)
  --soak N     also run N s of saturating TCP through tunnel, sampling RSS each second
  --workers 2  also measure tunnel with that many data-plane threads (TUNNEL_WORKERS)
  env BENCH_IMPLS="/path/a /path/b" adds wireguard-go-compatible daemons`;

export function parseOptions(argv: string[]): Options {
  const o: Options = { seconds: 10, runs: 3, extras: true, soak: 0, soakOnly: false, only: null, pings: 100, json: null, workers: [] };
  const quick = argv.includes("--quick");
  if (quick) Object.assign(o, { seconds: 3, runs: 1, extras: false });
  const num = (name: string, v: string | undefined, min: number): number => {
    const n = Number(v);
    if (v === undefined || !Number.isInteger(n) || n < min) throw new Error(`--${name} needs an integer ≥ ${min}, got ${v ?? "nothing"}\n${USAGE}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = () => argv[++i];
    switch (a) {
      case "--quick":
        break;
      case "--seconds":
        o.seconds = num("seconds", next(), 1);
        break;
      case "--runs":
        o.runs = num("runs", next(), 1);
        break;
      case "--no-extras":
        o.extras = false;
        break;
      case "--soak":
        o.soak = num("soak", next(), 5);
        break;
      case "--soak-only":
        o.soakOnly = true;
        break;
      case "--workers":
        o.workers = (next() ?? "").split(",").map((w) => num("workers", w, 1));
        break;
      case "--only":
        o.only = (next() ?? "").split(",").filter((x) => x !== "");
        break;
      case "--pings":
        o.pings = num("pings", next(), 1);
        break;
      case "--json":
        o.json = next() ?? null;
        break;
      case "-h":
      case "--help":
        process.stdout.write(`${USAGE}\n`);
        process.exit(0);
        break;
      default:
        throw new Error(`unknown argument ${a}\n${USAGE}`);
    }
  }
  if (o.soakOnly && o.soak === 0) o.soak = 60;
  return o;
}
