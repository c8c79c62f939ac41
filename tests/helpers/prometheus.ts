// A strict reader of Prometheus text exposition format 0.0.4, refusing what Prometheus's own
// parsers refuse (and what they only tolerate: a family split in two, a second HELP or TYPE, a
// duplicate series), and checking histograms as PromQL's histogram_quantile expects them.

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface MetricFamily {
  name: string;
  help?: string;
  type: "counter" | "gauge" | "histogram" | "summary" | "untyped";
  samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;
const TYPES = ["counter", "gauge", "histogram", "summary", "untyped"];

/** Parses `text` or throws with the line at fault. */
export function parsePrometheus(text: string): Map<string, MetricFamily> {
  if (text !== "" && !text.endsWith("\n")) throw new Error("the text does not end with a newline");
  const families = new Map<string, MetricFamily>();
  const seenSeries = new Set<string>();
  let current: MetricFamily | undefined;
  const lines = text.split("\n");
  lines.pop();
  lines.forEach((line, i) => {
    const fail = (why: string): never => {
      throw new Error(`line ${i + 1}: ${why}: ${JSON.stringify(line)}`);
    };
    if (line.trim() === "") return;
    if (line.startsWith("#")) {
      const m = /^#\s+(HELP|TYPE)\s+(\S+)(?:\s(.*))?$/.exec(line);
      if (!m) return; // a plain comment
      const [, kind, name, rest = ""] = m;
      if (METRIC_NAME.exec(name)?.[0] !== name) fail("bad metric name");
      let family = families.get(name);
      if (family && family !== current) fail(`${name} appears again after another family`);
      if (!family) {
        family = { name, type: "untyped", samples: [] };
        families.set(name, family);
      }
      current = family;
      if (kind === "HELP") {
        if (family.help !== undefined) fail("a second HELP");
        family.help = unescapeHelp(rest, fail);
      } else {
        if ((family as { typed?: boolean }).typed) fail("a second TYPE");
        if (family.samples.length > 0) fail("TYPE after samples");
        if (!TYPES.includes(rest)) fail("unknown type");
        family.type = rest as MetricFamily["type"];
        (family as { typed?: boolean }).typed = true;
      }
      return;
    }
    const sample = parseSample(line, fail);
    const familyName = familyOf(sample.name, families);
    let family = families.get(familyName);
    if (family && family !== current) fail(`${familyName} is split in two`);
    if (!family) {
      family = { name: familyName, type: "untyped", samples: [] };
      families.set(familyName, family);
    }
    current = family;
    const id = sample.name + "\u0000" +
      Object.entries(sample.labels).sort(([a], [b]) => a < b ? -1 : 1).map(([k, v]) => `${k}=${v}`)
        .join("\u0000");
    if (seenSeries.has(id)) fail("duplicate series");
    seenSeries.add(id);
    if (family.type === "counter" && !(sample.value >= 0)) fail("a counter below zero");
    family.samples.push(sample);
  });
  for (const family of families.values()) {
    if (family.type === "histogram") checkHistogram(family);
  }
  return families;
}

function familyOf(name: string, families: Map<string, MetricFamily>): string {
  for (const suffix of ["_bucket", "_sum", "_count"]) {
    if (!name.endsWith(suffix)) continue;
    const base = name.slice(0, -suffix.length);
    const type = families.get(base)?.type;
    if (type === "histogram" || (type === "summary" && suffix !== "_bucket")) return base;
  }
  return name;
}

function unescapeHelp(text: string, fail: (why: string) => never): string {
  return text.replace(/\\(.?)/g, (_, c) => {
    if (c === "\\") return "\\";
    if (c === "n") return "\n";
    return fail("bad escape in HELP");
  });
}

function parseSample(line: string, fail: (why: string) => never): Sample {
  const name = METRIC_NAME.exec(line)?.[0] ?? fail("no metric name");
  let at = name.length;
  const labels: Record<string, string> = {};
  if (line[at] === "{") {
    at++;
    while (line[at] !== "}") {
      const label = LABEL_NAME.exec(line.slice(at))?.[0] ?? fail("bad label name");
      at += label.length;
      if (line[at] !== "=" || line[at + 1] !== '"') fail(`no ="…" after ${label}`);
      at += 2;
      let value = "";
      for (;;) {
        const c = line[at++];
        if (c === undefined) fail("unterminated label value");
        if (c === '"') break;
        if (c === "\\") {
          const e = line[at++];
          if (e === "\\") value += "\\";
          else if (e === '"') value += '"';
          else if (e === "n") value += "\n";
          else fail("bad escape in a label value");
        } else value += c;
      }
      if (label in labels) fail(`label ${label} twice`);
      labels[label] = value;
      if (line[at] === ",") at++;
      else if (line[at] !== "}") fail("no , or } after a label");
    }
    at++;
  }
  const rest = line.slice(at);
  const m = /^ (\S+)(?: (-?\d+))?$/.exec(rest) ?? fail("bad value part");
  return { name, labels, value: parseValue(m[1], fail) };
}

function parseValue(text: string, fail: (why: string) => never): number {
  if (text === "NaN") return NaN;
  if (text === "+Inf" || text === "Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) fail("bad number");
  return Number(text);
}

function checkHistogram(family: MetricFamily): void {
  const series = new Map<
    string,
    { buckets: Array<[number, number]>; sum?: number; count?: number }
  >();
  for (const s of family.samples) {
    const { le, ...rest } = s.labels;
    const id = JSON.stringify(Object.entries(rest).sort());
    let h = series.get(id);
    if (!h) series.set(id, h = { buckets: [] });
    if (s.name === `${family.name}_bucket`) {
      if (le === undefined) throw new Error(`${family.name}: a bucket without le`);
      h.buckets.push([le === "+Inf" ? Infinity : Number(le), s.value]);
    } else if (s.name === `${family.name}_sum`) h.sum = s.value;
    else if (s.name === `${family.name}_count`) h.count = s.value;
    else throw new Error(`${family.name}: sample ${s.name} in a histogram`);
  }
  for (const [id, h] of series) {
    const where = `${family.name}${id}`;
    if (h.sum === undefined) throw new Error(`${where}: no _sum`);
    if (h.count === undefined) throw new Error(`${where}: no _count`);
    for (let i = 1; i < h.buckets.length; i++) {
      if (!(h.buckets[i][0] > h.buckets[i - 1][0])) throw new Error(`${where}: le out of order`);
      if (h.buckets[i][1] < h.buckets[i - 1][1]) throw new Error(`${where}: buckets decrease`);
    }
    const inf = h.buckets.at(-1);
    if (!inf || inf[0] !== Infinity) throw new Error(`${where}: no le="+Inf"`);
    if (inf[1] !== h.count) throw new Error(`${where}: +Inf ${inf[1]} != _count ${h.count}`);
  }
}

/** The value of the one series of `name` with exactly these labels (0 when absent). */
export function sampleValue(
  families: Map<string, MetricFamily>,
  name: string,
  labels: Record<string, string>,
): number {
  for (const f of families.values()) {
    for (const s of f.samples) {
      if (s.name !== name) continue;
      const keys = Object.keys(s.labels);
      if (keys.length !== Object.keys(labels).length) continue;
      if (keys.every((k) => s.labels[k] === labels[k])) return s.value;
    }
  }
  return 0;
}

/** The sum of every series of `name` whose labels include these. */
export function sampleSum(
  families: Map<string, MetricFamily>,
  name: string,
  labels: Record<string, string> = {},
): number {
  let total = 0;
  for (const f of families.values()) {
    for (const s of f.samples) {
      if (s.name !== name) continue;
      if (Object.entries(labels).every(([k, v]) => s.labels[k] === v)) total += s.value;
    }
  }
  return total;
}
