// What a core that died without stopping (kill -9, OOM, power cut of the core alone) left behind, cleared by
// the next core before it starts anything: the modules themselves died with it (parent-death signal), but
// their own children may live on in its cgroups, and its broker socket is still on disk.
import { existsSync } from 'node:fs'
import net from 'node:net'
import { OutpostError } from '../errors.js'
import type { KernelLimits } from './kernel-limits.js'

/** true when a live process accepts connections on the Unix socket */
function answers (socketPath: string): Promise<boolean> {
  return new Promise(resolve => {
    const socket = net.connect(socketPath)
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

/** clears a dead core's leftovers; returns one line for the log, or undefined when there were none */
export async function clearLeftovers (socketPath: string, kernel: Pick<KernelLimits, 'clearStale'>): Promise<string | undefined> {
  const found: string[] = []
  if (existsSync(socketPath)) {
    // another core serving this runtime directory: starting a second one would take its modules' socket away
    if (await answers(socketPath)) throw new OutpostError('BROKER_LISTEN', `another core is serving modules on ${socketPath}: stop it first, or give this gateway its own runtime directory`, { details: { path: socketPath } })
    found.push(`a stale broker socket (${socketPath}, replaced)`)
  }
  const stale = await kernel.clearStale()
  if (stale.cores.length > 0) {
    found.push(`the cgroups of core pid ${stale.cores.join(', ')} with ${stale.processes} process(es) still in them (killed, groups removed)`)
  }
  return found.length === 0 ? undefined : `a core that did not stop cleanly left ${found.join(' and ')}`
}
