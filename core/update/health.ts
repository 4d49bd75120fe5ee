// The health check of an update (docs/deploy.md, "Updates"): the modules named are `running`, all at once
// and for HEALTH_SETTLE_MS, within a deadline; a module that is `failed` or missing fails it at once. A new
// release's core checks the modules that ran before it (extension.ts), a module update checks its module
// (management/module-update.ts): one rule for both.
import type { GatewayContext } from '../extension.js'
import { describeState } from '../modules/state.js'

/** how long the modules must stay running together before an update is kept */
export const HEALTH_SETTLE_MS = 5000
const POLL_MS = 250

export type Verdict = { healthy: true } | { healthy: false, reason: string }

/** what keeps the modules from passing: a failed one at once, otherwise every one not running */
function problems (gw: GatewayContext, modules: readonly string[]): { failed: boolean, text: string[] } {
  const text: string[] = []
  let failed = false
  for (const name of modules) {
    const runtime = gw.modules.get(name)
    if (runtime === undefined) {
      text.push(`${name}: not in the manifest`)
      failed = true
      continue
    }
    const doc = describeState(runtime)
    if (doc.state === 'running') continue
    if (doc.state === 'failed') failed = true
    const exit = doc.instances.map(i => i.lastExit).find(e => e !== null)
    text.push(`${name}: ${doc.state}${exit == null ? '' : ` (last exit: ${exit.reason}${exit.code === null ? '' : ` code ${exit.code}`}${exit.signal === null ? '' : ` ${exit.signal}`})`}`)
  }
  return { failed, text }
}

/**
 * Watches `modules` from now for at most `timeoutMs`; resolves with the verdict, or with undefined once
 * `signal` aborts (the core is stopping: the update stays on trial, decided at the next start).
 */
export function checkHealth (gw: GatewayContext, modules: readonly string[], timeoutMs: number, signal: AbortSignal): Promise<Verdict | undefined> {
  const deadline = Date.now() + timeoutMs
  let since: number | undefined
  return new Promise(resolve => {
    let timer: NodeJS.Timeout | undefined
    const onAbort = (): void => {
      clearTimeout(timer)
      resolve(undefined)
    }
    const done = (verdict: Verdict): void => {
      signal.removeEventListener('abort', onAbort)
      resolve(verdict)
    }
    const check = (): void => {
      const now = Date.now()
      const found = problems(gw, modules)
      since = found.text.length === 0 ? since ?? now : undefined
      if (since !== undefined && now - since >= HEALTH_SETTLE_MS) done({ healthy: true })
      else if (found.failed) done({ healthy: false, reason: found.text.join('; ') })
      else if (now >= deadline) done({ healthy: false, reason: `not every module ran within ${timeoutMs} ms: ${found.text.join('; ') || 'they did not stay running together'}` })
      else timer = setTimeout(check, POLL_MS)
    }
    if (signal.aborted) return resolve(undefined)
    signal.addEventListener('abort', onAbort, { once: true })
    timer = setTimeout(check, POLL_MS)
  })
}
