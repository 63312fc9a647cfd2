// A strict reader of the Prometheus text format 0.0.4 for tests: it rejects
// what a real scraper would (a sample before its family's # TYPE, a family
// declared twice, a bad name, an unterminated or badly escaped label) and
// returns every sample by family name.
export interface Sample {
  labels: Record<string, string>;
  value: number;
}

export interface ParsedFamily {
  help: string;
  type: string;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

function parseLabels(text: string, line: string): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < text.length) {
    const eq = text.indexOf("=", i);
    if (eq < 0) throw new Error(`bad labels in: ${line}`);
    const name = text.slice(i, eq);
    if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(name)) throw new Error(`bad label name ${name} in: ${line}`);
    if (text[eq + 1] !== '"') throw new Error(`unquoted label value in: ${line}`);
    let v = "";
    let j = eq + 2;
    for (; j < text.length && text[j] !== '"'; j++) {
      if (text[j] === "\\") {
        const n = text[++j];
        if (n === "n") v += "\n";
        else if (n === "\\" || n === '"') v += n;
        else throw new Error(`bad escape in: ${line}`);
      } else v += text[j];
    }
    if (j >= text.length) throw new Error(`unterminated label value in: ${line}`);
    if (name in out) throw new Error(`duplicate label ${name} in: ${line}`);
    out[name] = v;
    i = j + 1;
    if (text[i] === ",") i++;
    else if (i < text.length) throw new Error(`expected ',' in: ${line}`);
  }
  return out;
}

export function parseExposition(text: string): Map<string, ParsedFamily> {
  if (!text.endsWith("\n")) throw new Error("the exposition must end with a newline");
  const families = new Map<string, ParsedFamily>();
  const closed = new Set<string>();
  let current: string | null = null;
  for (const line of text.slice(0, -1).split("\n")) {
    if (line.startsWith("# HELP ") || line.startsWith("# TYPE ")) {
      const [, kind, name, ...rest] = line.split(" ");
      if (!NAME.test(name!)) throw new Error(`bad metric name: ${line}`);
      if (current !== name && current !== null) closed.add(current);
      if (closed.has(name!)) throw new Error(`family ${name} appears twice`);
      current = name!;
      const f = families.get(name!) ?? { help: "", type: "", samples: [] };
      if (kind === "HELP") f.help = rest.join(" ");
      else {
        if (f.type !== "") throw new Error(`two # TYPE lines for ${name}`);
        f.type = rest.join(" ");
      }
      families.set(name!, f);
      continue;
    }
    if (line.startsWith("#") || line === "") continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m === null) throw new Error(`bad sample line: ${line}`);
    const name = m[1]!;
    if (name !== current) throw new Error(`sample ${name} outside its family block (current ${current})`);
    const f = families.get(name)!;
    if (f.type === "") throw new Error(`sample before # TYPE: ${line}`);
    const value = m[3] === "+Inf" ? Infinity : m[3] === "-Inf" ? -Infinity : Number(m[3]);
    if (m[3] !== "NaN" && Number.isNaN(value)) throw new Error(`bad value: ${line}`);
    f.samples.push({ labels: m[2] ? parseLabels(m[2], line) : {}, value });
  }
  return families;
}

/** sampleValue finds the one sample of family whose labels include want. */
export function sampleValue(families: Map<string, ParsedFamily>, family: string, want: Record<string, string>): number {
  const f = families.get(family);
  if (f === undefined) throw new Error(`no family ${family}`);
  const hits = f.samples.filter((s) => Object.entries(want).every(([k, v]) => s.labels[k] === v));
  if (hits.length !== 1) throw new Error(`${family}${JSON.stringify(want)}: ${hits.length} samples`);
  return hits[0]!.value;
}
