// Node/V8 flags for a module process, derived from its memory budget (docs/supervision.md).
// The old-space cap makes a leaking JavaScript module die early with "JavaScript heap out of memory"
// (SIGABRT) instead of growing until the board swaps; it does not cover Buffers or native memory, which
// the sampler and the kernel limit catch. The rest trims the start-up peak: a 1 MiB semi-space,
// size-optimised code, one V8 platform thread. Not --jitless/--lite-mode: they disable WebAssembly,
// which makes global fetch() crash, and slow start-up.

/** private memory a bare node process costs before any module code: not available to the JS heap */
const NODE_BASELINE_MIB = 8
/** the smallest heap cap that still lets the SDK start */
const MIN_HEAP_MIB = 16

export function heapCapMiB (budgetMiB: number): number {
  // three quarters of what is left after the baseline: the rest is for buffers, code space and the stack
  return Math.max(MIN_HEAP_MIB, Math.floor((budgetMiB - NODE_BASELINE_MIB) * 0.75))
}

export function moduleNodeFlags (budgetMiB: number): string[] {
  return [
    `--max-old-space-size=${heapCapMiB(budgetMiB)}`,
    '--max-semi-space-size=1',
    '--optimize-for-size',
    '--v8-pool-size=1',
  ]
}
