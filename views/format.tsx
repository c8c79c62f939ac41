// Small display helpers shared by the admin views.

import { pathSegment } from "../lib/url_query.ts";

/** `1 h 02 min`, `3 min 05 s`, `42 s`. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.ceil(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (h > 0) return `${h} h ${String(m).padStart(2, "0")} min`;
  if (m > 0) return `${m} min ${String(sec).padStart(2, "0")} s`;
  return `${sec} s`;
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** Where an upstream's pages live. */
export function upstreamPath(name: string, rest = ""): string {
  return `/admin/upstreams/${pathSegment(name)}${rest}`;
}

/** Breaks after a "/" and before a ".", the places a reader expects a URL to wrap. */
const URL_BREAKS = /(?<=\/)(?!\/)|(?=\.)/;
/** Model names may be paths (`meta-llama/llama-3.1-8b`); a version's "." stays put. */
const NAME_BREAKS = /(?<=\/)(?!\/)/;

/** Longer than any real name's part: such a part may wrap anywhere. */
const LONG_PART = 48;

/** Text that may wrap only between its parts; each part stays whole, hyphens included. */
function Parts(props: { text: string; at: RegExp }) {
  return (
    <>
      {props.text.split(props.at).map((part, i) => (
        <>
          {i > 0 && <wbr />}
          <span class={part.length > LONG_PART ? "part long" : "part"}>{part}</span>
        </>
      ))}
    </>
  );
}

export function BreakableUrl(props: { url: string }) {
  return <Parts text={props.url} at={URL_BREAKS} />;
}

/** A model or upstream name: "claude-sonnet-4-5" broken at a hyphen reads as two names. */
export function Name(props: { name: string }) {
  return <Parts text={props.name} at={NAME_BREAKS} />;
}
