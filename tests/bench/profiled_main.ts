// The proxy's main.ts, exiting cleanly on SIGTERM so that `--cpu-prof` writes its profile.
// Used by the bench when BENCH_CPU_PROF=<dir> is set.
Deno.addSignalListener("SIGTERM", () => Deno.exit(0));
await import("../../main.ts");
