// Issue 10 F2: nothing a module started outlives it. A `detached` (setsid) child and a double-forked
// grandchild leave the module's process group; stopping the module must still kill them — by its cgroup
// where the kernel offers one (this machine: a writable v1 memory hierarchy), by the tree the memory
// sampler measured where it does not — and remove the group, and the gateway's own group with the last one.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import path from 'node:path'
import { startTestGateway, connectOperator, fixture, gone, waitFor } from '../helpers/gateway.js'
import { detectCgroups } from '../../core/supervisor/cgroups.js'

test('issue 10 F2: a module\'s setsid() child and double-forked grandchild die with its stop; its cgroup and the gateway\'s are removed', { timeout: 60_000 }, async (t) => {
  const gw = await startTestGateway({ modules: [{ name: 'forker', entry: fixture('forker') }] })
  t.after(() => gw.stop())
  const op = await connectOperator(gw.url)
  t.after(() => op.end())
  const { result } = await op.call('forker', 'children')
  const { child, grandchild } = result as { child: number, grandchild: number }
  const module = gw.gateway.modules.require('forker').instances[0]?.process?.pid ?? 0
  assert.ok(!gone(child) && !gone(grandchild) && !gone(module), 'the module and both escapees run')

  const info = detectCgroups()
  const group = info.memoryRoot === undefined ? undefined : path.join(info.memoryRoot, 'outpost', `test-${process.pid}`, 'forker.0')
  if (group !== undefined) assert.ok(existsSync(group), `the instance runs in ${group}`)
  else {
    // no cgroups: only the sampler's tree knows them; its scan runs every 2 s
    await waitFor('the memory sampler to have measured the tree', () => (gw.gateway.usage('forker.0')?.processes ?? 0) >= 2)
  }

  await gw.gateway.modules.stop('forker')
  assert.ok(gone(module), 'the module is gone')
  assert.ok(gone(child), 'the setsid() child is gone once the stop has completed')
  assert.ok(gone(grandchild), 'the double-forked grandchild is gone once the stop has completed')
  if (group !== undefined) {
    assert.ok(!existsSync(group), 'the instance\'s cgroup is removed with it')
    assert.ok(!existsSync(path.dirname(group)), 'the gateway\'s own group went with its last instance group')
  }
})
