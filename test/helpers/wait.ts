// Bounded waiting in tests. Kept apart from gateway.ts so tests that need no broker do not load it.
import { readFileSync } from 'node:fs'

export function waitFor<T> (what: string, check: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const started = Date.now()
    const poll = setInterval(() => {
      const value = check()
      if (value !== undefined && value !== false) {
        clearInterval(poll)
        resolve(value)
      } else if (Date.now() - started > timeoutMs) {
        clearInterval(poll)
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`))
      }
    }, 10)
  })
}

/** true when no process with this pid exists any more, or only its zombie (dead, not yet reaped by its parent) */
export function gone (pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch {
    return true
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z'
  } catch {
    return true
  }
}

/** Repeats an async check (e.g. an RPC) until it returns something, at most `tries` times. */
export async function poll<T> (check: () => Promise<T | undefined>, tries = 100, everyMs = 100): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const value = await check()
    if (value !== undefined) return value
    await new Promise(resolve => setTimeout(resolve, everyMs))
  }
  throw new Error(`condition not met after ${tries} tries`)
}
