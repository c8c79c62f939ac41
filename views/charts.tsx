// Charts drawn on the server: no client library, no CDN, readable without script. The plot is an
// SVG stretched to its box; the axis labels are HTML text beside it, so they keep their size on a
// phone instead of shrinking with the drawing.

export interface Series {
  name: string;
  values: Array<number | undefined>;
  color: string;
}

interface ChartProps {
  title: string;
  /** One label per point (the x axis). */
  labels: string[];
  series: Series[];
  /** How a value is printed on the axis and in tooltips. */
  format?: (n: number) => string;
  /** The values are counts (requests, tokens): the axis shows no fraction of one. */
  whole?: boolean;
  /** Shown instead of the plot when no value is above zero. */
  empty: string;
}

/** Plot units: each point gets a slot SLOT wide; the plot is HEIGHT tall. */
const SLOT = 10;
const HEIGHT = 100;

export function formatCount(n: number): string {
  if (n >= 1e9) return `${trim(n / 1e9)}G`;
  if (n >= 1e6) return `${trim(n / 1e6)}M`;
  if (n >= 1e4) return `${trim(n / 1e3)}k`;
  return String(Math.round(n * 100) / 100);
}

export function formatMs(n: number): string {
  if (n >= 1000) return `${trim(n / 1000)}s`;
  if (n >= 10 || n === 0) return `${Math.round(n)}ms`;
  // Rounded to whole ms, 0.5 and 1 would both read "1ms".
  return `${Number(n.toPrecision(2))}ms`;
}

function trim(n: number): string {
  return (Math.round(n * 10) / 10).toString();
}

/**
 * A round number at or above `max` whose half is round too, so the three grid lines land on
 * readable values; for counts, one whose half is a whole number (or 1, drawn without a middle).
 */
function niceMax(max: number, whole: boolean): number {
  if (max <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(max));
  for (const m of [1, 2, 4, 5, 10]) {
    const top = m * p;
    if (top >= max && (!whole || top === 1 || Number.isInteger(top / 2))) return top;
  }
  return 10 * p;
}

function hasData(series: Series[]): boolean {
  return series.some((s) => s.values.some((v) => v !== undefined && v > 0));
}

function Frame(props: ChartProps & { max: number; children: unknown }) {
  const format = props.format ?? formatCount;
  const n = props.labels.length;
  const width = SLOT * Math.max(1, n);
  // Fractions of the maximum, top to bottom.
  const ticks = props.whole && props.max === 1 ? [1, 0] : [1, 0.5, 0];
  const every = Math.max(1, Math.ceil(n / 8));
  // hono/jsx renders to a string and needs no keys.
  // deno-lint-ignore jsx-key
  const yLabels = ticks.map((g) => <span>{format(props.max * g)}</span>);
  // deno-lint-ignore jsx-key
  const xLabels = props.labels.map((label, i) => <span>{i % every === 0 ? label : ""}</span>);
  return (
    <figure class="chart">
      <figcaption>
        {props.title}
        {props.series.map((s) => (
          <span class="chart-legend">
            <svg width="10" height="10" aria-hidden="true">
              <rect width="10" height="10" fill={s.color} />
            </svg>
            {s.name}
          </span>
        ))}
      </figcaption>
      <div class="chart-body">
        <div class="chart-y" aria-hidden="true">
          {yLabels}
        </div>
        <svg
          class="chart-plot"
          viewBox={`0 0 ${width} ${HEIGHT}`}
          preserveAspectRatio="none"
          role="img"
          aria-label={props.title}
        >
          {ticks.map((g) => (
            <line
              class="chart-grid"
              x1="0"
              x2={width}
              y1={HEIGHT * (1 - g)}
              y2={HEIGHT * (1 - g)}
              vector-effect="non-scaling-stroke"
            />
          ))}
          {props.children}
        </svg>
        <div class="chart-x" aria-hidden="true">
          {xLabels}
        </div>
      </div>
    </figure>
  );
}

function EmptyChart(props: { title: string; text: string }) {
  return (
    <figure class="chart">
      <figcaption>{props.title}</figcaption>
      <p class="chart-empty">{props.text}</p>
    </figure>
  );
}

/** Bars per point; several series are stacked (`stack`) or drawn over each other (`overlay`). */
export function BarChart(props: ChartProps & { mode?: "stack" | "overlay" }) {
  if (!hasData(props.series)) return <EmptyChart title={props.title} text={props.empty} />;
  const format = props.format ?? formatCount;
  const stack = props.mode === "stack";
  const n = props.labels.length;
  const totals = props.labels.map((_, i) =>
    stack
      ? props.series.reduce((a, s) => a + (s.values[i] ?? 0), 0)
      : Math.max(0, ...props.series.map((s) => s.values[i] ?? 0))
  );
  const max = niceMax(Math.max(0, ...totals), props.whole ?? false);
  const barW = SLOT * 0.8;
  const bars: unknown[] = [];
  for (let i = 0; i < n; i++) {
    let base = 0;
    for (const s of props.series) {
      const v = s.values[i] ?? 0;
      if (v <= 0) continue;
      const h = (v / max) * HEIGHT;
      const y = HEIGHT - h - (stack ? (base / max) * HEIGHT : 0);
      bars.push(
        <rect x={SLOT * i + (SLOT - barW) / 2} y={y} width={barW} height={h} fill={s.color}>
          <title>{`${props.labels[i]} · ${s.name}: ${format(v)}`}</title>
        </rect>,
      );
      if (stack) base += v;
    }
  }
  return <Frame {...props} max={max}>{bars}</Frame>;
}

/** One line per series; a missing value breaks the line. */
export function LineChart(props: ChartProps) {
  if (!hasData(props.series)) return <EmptyChart title={props.title} text={props.empty} />;
  const format = props.format ?? formatCount;
  const n = props.labels.length;
  const max = niceMax(
    Math.max(0, ...props.series.flatMap((s) => s.values.map((v) => v ?? 0))),
    props.whole ?? false,
  );
  const x = (i: number) => (SLOT * i + SLOT / 2).toFixed(1);
  const y = (v: number) => (HEIGHT - (v / max) * HEIGHT).toFixed(1);
  const shapes: unknown[] = [];
  for (const s of props.series) {
    let d = "";
    let pen = false;
    for (let i = 0; i < n; i++) {
      const v = s.values[i];
      if (v === undefined) {
        pen = false;
        continue;
      }
      d += `${pen ? "L" : "M"}${x(i)},${y(v)} `;
      pen = true;
      // A round-capped stroke of no length: a dot that stays round however the plot stretches.
      shapes.push(
        <path
          d={`M${x(i)},${y(v)} h0`}
          stroke={s.color}
          stroke-width="6"
          stroke-linecap="round"
          vector-effect="non-scaling-stroke"
        >
          <title>{`${props.labels[i]} · ${s.name}: ${format(v)}`}</title>
        </path>,
      );
    }
    if (d) {
      shapes.unshift(
        <path
          d={d.trim()}
          fill="none"
          stroke={s.color}
          stroke-width="1.5"
          vector-effect="non-scaling-stroke"
        />,
      );
    }
  }
  return <Frame {...props} max={max}>{shapes}</Frame>;
}
