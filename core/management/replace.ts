// Applying a module's new manifest entry: stop that module alone, swap its runtime for one built from the
// entry now in force (gw.loaded), start it again if wanted. Used by configure and by module updates.
import { OutpostError } from '../errors.js'
import { stateMessage } from '../modules/state.js'
import type { ModuleRuntime } from '../modules/table.js'
import { topics } from '../protocol/topics.js'
import type { Management } from './context.js'

export function clearRetained (m: Management, topic: string): void {
  m.gw.broker.aedes.publish({ cmd: 'publish', topic, payload: Buffer.alloc(0), qos: 0, retain: true, dup: false }, () => {})
}

/** stops the module and swaps in its new manifest entry (and instance count); it is left stopped */
export async function swapModule (m: Management, name: string): Promise<ModuleRuntime> {
  const { gw } = m
  const before = gw.modules.require(name).instances.length
  await gw.modules.stop(name)
  const loaded = gw.loaded.modules.find(l => l.spec.name === name)
  if (loaded === undefined) throw new OutpostError('NO_SUCH_MODULE', `no module named "${name}" in the manifest`)
  const runtime = gw.modules.add(loaded) // same name: replaces the stopped runtime in place
  for (let i = loaded.spec.instances; i < before; i++) clearRetained(m, topics.presence(name, i))
  gw.bus.publishRetained(topics.state(name), stateMessage(runtime))
  return runtime
}

/** swapModule, then starts it again if `run`; resolves once it has settled */
export async function replaceModule (m: Management, name: string, run: boolean): Promise<ModuleRuntime> {
  const runtime = await swapModule(m, name)
  if (run) await m.gw.modules.start(name)
  return runtime
}
