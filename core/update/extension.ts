// The health check of a release on trial (docs/deploy.md, "Updates"). A core that finds update.json saying
// its own release is on trial waits until every module that ran before the update is running, all at once
// and for HEALTH_SETTLE_MS, within the state's deadline (health.ts). Then it commits (update.json "committed",
// old releases pruned to updates.keep); otherwise it writes "rolled-back" with the reason, points `current`
// back and stops to be started again (exit 75), so outpost-boot starts the previous release. Either way the
// outcome is emitted as `hooks/core/update`. A core too broken to get here is rolled back by outpost-boot.
import path from 'node:path'
import fs from 'node:fs'
import type { ExtensionFactory, GatewayContext } from '../extension.js'
import { installRoot } from '../paths.js'
import { checkHealth } from './health.js'
import type { Verdict } from './health.js'
import { installFromEnv, prune, readState, releasesDir, switchCurrent, writeState } from './install.js'
import type { Install, UpdateState } from './install.js'
import { checkpoint } from './checkpoint.js'

const RESTART_POLL_MS = 250

/** the release folder this core runs from is releases/<version> of `install` */
function runsFrom (install: Install, version: string): boolean {
  const release = path.dirname(installRoot)
  try {
    return path.basename(release) === version && fs.realpathSync(path.dirname(release)) === fs.realpathSync(releasesDir(install))
  } catch {
    return false
  }
}

export const updateExtension: ExtensionFactory = gw => {
  let timer: NodeJS.Timeout | undefined
  let stopped = false
  // `outpost run` listens for 'restart' once the gateway has started; a module that fails at once can be
  // decided on while the core still boots, so the request waits for its listener
  const restart = (reason: string): void => {
    if (gw.events.listenerCount('restart') > 0) gw.events.emit('restart', reason)
    else if (!stopped) timer = setTimeout(() => restart(reason), RESTART_POLL_MS)
  }

  const decide = async (install: Install, trial: UpdateState, verdict: Verdict): Promise<void> => {
    const by = `core ${trial.to}`
    if (verdict.healthy) {
      checkpoint('healthy')
      await writeState(install, { ...trial, state: 'committed', at: Date.now(), by })
      const removed = await prune(install, gw.loaded.manifest.updates.keep, [trial.to, trial.from])
      gw.log.info(`release ${trial.to} committed: every module runs${removed.length === 0 ? '' : `; removed release(s) ${removed.join(', ')}`}`)
      gw.bus.emit('update', { state: 'committed', from: trial.from, to: trial.to })
      return
    }
    const reason = verdict.reason
    gw.log.error(`release ${trial.to} failed its health check: ${reason}; rolling back to ${trial.from}`)
    gw.bus.emit('update', { state: 'rolled-back', from: trial.from, to: trial.to, reason })
    await writeState(install, { ...trial, state: 'rolled-back', at: Date.now(), by, reason })
    checkpoint('rollback-written')
    await switchCurrent(install, trial.from)
    restart(`rolled back to ${trial.from}`)
  }

  const abort = new AbortController()
  return {
    name: 'update',
    start () {
      const install = installFromEnv(process.env)
      if (install === undefined) return
      const trial = readState(install)
      if (trial?.state !== 'trial' || !runsFrom(install, trial.to)) return
      const modules = trial.modules ?? []
      const timeoutMs = trial.healthTimeoutMs ?? gw.loaded.manifest.updates.healthTimeoutMs
      gw.log.info(`release ${trial.to} on trial (updated from ${trial.from}): waiting up to ${timeoutMs} ms for ${modules.length === 0 ? 'the core' : modules.join(', ')} to run`)
      checkHealth(gw, modules, timeoutMs, abort.signal)
        .then(async verdict => { if (verdict !== undefined) await decide(install, trial, verdict) })
        .catch((err: Error) => {
          // update.json still says "trial": outpost-boot decides at the next start
          gw.log.error(`the update to ${trial.to} could not be decided: ${err.message}; restarting`)
          restart('update undecided')
        })
    },
    stop () {
      stopped = true
      abort.abort()
      clearTimeout(timer)
    },
  }
}
