// Node/V8 flags for a module process, derived from its memory budget (docs/supervision.md).
// The old-space cap makes a leaking JavaScript module die early and legibly — SIGABRT with "JavaScript heap
// out of memory" on stderr — instead of growing until the sampler or the kernel kills it without a word.
// It does not cover Buffers or native memory: those the sampler and the kernel limit catch.
// The rest trims the start-up peak: a 1 MiB semi-space, size-optimised code, one V8 platform thread.
// Not --jitless/--lite-mode: they disable WebAssembly, which makes global fetch() crash, and slow start-up.
// Every flag here exists on Node 20 and 24, and all are passed on the command line (NODE_OPTIONS refuses
// --optimize-for-size).

/**
 * Private memory a module costs outside the V8 heap (malloc'd state, libuv, the semi-spaces, thread stacks):
 * measured on Node 24 with the SDK loaded, RssAnon ≈ 17 MiB with heapUsed ≈ 6.5 MiB; a JavaScript leak
 * dies at RssAnon ≈ cap + 5–8 MiB.
 */
const OUTSIDE_HEAP_MIB = 8
/** of what is left, the share kept for Buffers, native add-ons and code; the heap gets the rest */
const BUFFER_SHARE = 0.25
/** an SDK module uses ≈ 6.5 MiB of heap at rest; a 6 MiB cap crashes Node 24 at start-up (SIGSEGV) */
const MIN_HEAP_MIB = 12

/** the `--max-old-space-size` for a budget: a JavaScript leak hits it before the whole budget is spent */
export function heapCapMiB (budgetMiB: number): number {
  return Math.max(MIN_HEAP_MIB, Math.floor((budgetMiB - OUTSIDE_HEAP_MIB) * (1 - BUFFER_SHARE)))
}

export function moduleNodeFlags (budgetMiB: number): string[] {
  return [
    `--max-old-space-size=${heapCapMiB(budgetMiB)}`,
    '--max-semi-space-size=1',
    '--optimize-for-size',
    '--v8-pool-size=1',
  ]
}
