// Charts drawn on the server as inline SVG: no client library, no CDN, readable without script.

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
  width?: number;
  height?: number;
}

const PAD = { top: 12, right: 12, bottom: 24, left: 52 };

export function formatCount(n: number): string {
  if (n >= 1e9) return `${trim(n / 1e9)}G`;
  if (n >= 1e6) return `${trim(n / 1e6)}M`;
  if (n >= 1e4) return `${trim(n / 1e3)}k`;
  return String(Math.round(n * 100) / 100);
}

export function formatMs(n: number): string {
  return n >= 1000 ? `${trim(n / 1000)}s` : `${Math.round(n)}ms`;
}

function trim(n: number): string {
  return (Math.round(n * 10) / 10).toString();
}

/** A round number at or above `max`, so grid lines land on readable values. */
function niceMax(max: number): number {
  if (max <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(max));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= max) return m * p;
  return 10 * p;
}

function Frame(
  props: ChartProps & { max: number; children: unknown },
) {
  const width = props.width ?? 640;
  const height = props.height ?? 180;
  const format = props.format ?? formatCount;
  const innerH = height - PAD.top - PAD.bottom;
  const innerW = width - PAD.left - PAD.right;
  const grid = [0, 0.5, 1];
  const every = Math.max(1, Math.ceil(props.labels.length / 8));
  const step = innerW / Math.max(1, props.labels.length);
  return (
    <figure class="chart">
      <figcaption>
        {props.title}
        {props.series.map((s) => (
          <span class="chart-legend">
            {"\u2003"}
            <svg width="10" height="10" aria-hidden="true">
              <rect width="10" height="10" fill={s.color} />
            </svg>{" "}
            {s.name}
          </span>
        ))}
      </figcaption>
      <svg
        viewBox={`0 0 ${width} ${height}`}
        width="100%"
        role="img"
        aria-label={props.title}
      >
        {grid.map((g) => {
          const y = PAD.top + innerH * (1 - g);
          return (
            <g>
              <line
                x1={PAD.left}
                x2={width - PAD.right}
                y1={y}
                y2={y}
                stroke="#ddd"
                stroke-width="1"
              />
              <text x={PAD.left - 6} y={y + 4} text-anchor="end" font-size="10" fill="#666">
                {format(props.max * g)}
              </text>
            </g>
          );
        })}
        {props.labels.map((label, i) =>
          i % every === 0
            ? (
              <text
                x={PAD.left + step * i + step / 2}
                y={height - 8}
                text-anchor="middle"
                font-size="10"
                fill="#666"
              >
                {label}
              </text>
            )
            : null
        )}
        {props.children}
      </svg>
    </figure>
  );
}

/** Bars per point; several series are stacked (`stack`) or drawn over each other (`overlay`). */
export function BarChart(props: ChartProps & { mode?: "stack" | "overlay" }) {
  const width = props.width ?? 640;
  const height = props.height ?? 180;
  const format = props.format ?? formatCount;
  const stack = props.mode === "stack";
  const n = props.labels.length;
  const totals = props.labels.map((_, i) =>
    stack
      ? props.series.reduce((a, s) => a + (s.values[i] ?? 0), 0)
      : Math.max(0, ...props.series.map((s) => s.values[i] ?? 0))
  );
  const max = niceMax(Math.max(0, ...totals));
  const innerH = height - PAD.top - PAD.bottom;
  const step = (width - PAD.left - PAD.right) / Math.max(1, n);
  const barW = Math.max(1, step * 0.8);
  const bars: unknown[] = [];
  for (let i = 0; i < n; i++) {
    let base = 0;
    for (const s of props.series) {
      const v = s.values[i] ?? 0;
      if (v <= 0) continue;
      const h = (v / max) * innerH;
      const y = PAD.top + innerH - h - (stack ? (base / max) * innerH : 0);
      bars.push(
        <rect
          x={PAD.left + step * i + (step - barW) / 2}
          y={y}
          width={barW}
          height={h}
          fill={s.color}
        >
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
  const width = props.width ?? 640;
  const height = props.height ?? 180;
  const format = props.format ?? formatCount;
  const n = props.labels.length;
  const max = niceMax(Math.max(0, ...props.series.flatMap((s) => s.values.map((v) => v ?? 0))));
  const innerH = height - PAD.top - PAD.bottom;
  const step = (width - PAD.left - PAD.right) / Math.max(1, n);
  const x = (i: number) => PAD.left + step * i + step / 2;
  const y = (v: number) => PAD.top + innerH - (v / max) * innerH;
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
      d += `${pen ? "L" : "M"}${x(i).toFixed(1)},${y(v).toFixed(1)} `;
      pen = true;
      shapes.push(
        <circle cx={x(i)} cy={y(v)} r="2.5" fill={s.color}>
          <title>{`${props.labels[i]} · ${s.name}: ${format(v)}`}</title>
        </circle>,
      );
    }
    if (d) shapes.unshift(<path d={d.trim()} fill="none" stroke={s.color} stroke-width="1.5" />);
  }
  return <Frame {...props} max={max}>{shapes}</Frame>;
}
