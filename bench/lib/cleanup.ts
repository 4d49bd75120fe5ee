// Everything a benchmark starts (processes, brokers, temp dirs) registers how to undo it here; `run` undoes
// it all in reverse order, each step bounded in time, even when the benchmark failed half-way.

export interface Cleanup {
  add (what: string, undo: () => unknown): void
  run (): Promise<void>
}

const STEP_TIMEOUT_MS = 10_000

export function createCleanup (warn: (line: string) => void = line => process.stderr.write(`${line}\n`)): Cleanup {
  const steps: Array<{ what: string, undo: () => unknown }> = []
  return {
    add (what, undo) { steps.push({ what, undo }) },
    async run () {
      while (steps.length > 0) {
        const step = steps.pop()
        if (step === undefined) break
        let timer: NodeJS.Timeout | undefined
        try {
          await Promise.race([
            Promise.resolve().then(step.undo),
            new Promise((_resolve, reject) => {
              timer = setTimeout(() => reject(new Error(`did not finish within ${STEP_TIMEOUT_MS} ms`)), STEP_TIMEOUT_MS)
            }),
          ])
        } catch (err) {
          warn(`cleanup: ${step.what}: ${(err as Error).message}`)
        } finally {
          clearTimeout(timer)
        }
      }
    },
  }
}
