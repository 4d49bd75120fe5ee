// Waiting in GPIO tests, without importing the gateway test helpers (which load the broker).
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

/** true when no process with this pid exists any more */
export function gone (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return false
  } catch {
    return true
  }
}
