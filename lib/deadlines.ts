// First-byte deadlines of the requests in flight, all on one timer: a timer of its own cost each
// request more than its translation (Deno's timers are Node-compatible objects).

interface Entry {
  at: number;
  fire: () => void;
}

const entries = new Set<Entry>();
let timer: ReturnType<typeof setTimeout> | undefined;
let armedAt = Infinity;

/** Calls `fire` once `ms` have passed, unless the function returned is called first. */
export function deadline(ms: number, fire: () => void): () => void {
  const entry = { at: Date.now() + ms, fire };
  entries.add(entry);
  if (entry.at < armedAt) arm(entry.at);
  return () => {
    entries.delete(entry);
  };
}

// Cancelled deadlines leave the timer as it is: when it goes off, it finds the next one due.
function arm(at: number): void {
  if (timer !== undefined) clearTimeout(timer);
  armedAt = at;
  timer = setTimeout(check, Math.max(0, at - Date.now()));
  // A request waiting on it keeps the process alive anyway; an idle timer must not.
  Deno.unrefTimer(timer);
}

function check(): void {
  timer = undefined;
  armedAt = Infinity;
  const now = Date.now();
  let next = Infinity;
  const due: Entry[] = [];
  for (const entry of entries) {
    if (entry.at <= now) {
      entries.delete(entry);
      due.push(entry);
    } else if (entry.at < next) next = entry.at;
  }
  if (next !== Infinity) arm(next);
  // A timer that went off late finds several due: they fire in the order they were due.
  due.sort((a, b) => a.at - b.at);
  for (const entry of due) entry.fire();
}
