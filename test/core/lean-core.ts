// Run as its own process by lean-core.test.ts: notes the package of every module this process resolves from
// the first import on, runs a real gateway with a shipped driver through start, a management change that
// is accepted and one that is refused, then prints the packages and the replies as JSON.
import { registerHooks } from 'node:module'

const packages = new Set<string>()
registerHooks({
  resolve (specifier, context, next) {
    const resolved = next(specifier, context)
    const pkg = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(resolved.url)?.[1]
    if (pkg !== undefined) packages.add(pkg)
    return resolved
  },
})

// imported only now, so that the hook sees every module the gateway loads
const { startTestGateway, connectOperator } = await import('../helpers/gateway.js')
const gw = await startTestGateway({ modules: [{ name: 'relay', entry: 'drivers/gpio-output', config: { line: 'GPIO17' } }] })
const op = await connectOperator(gw.url)
const accepted = await op.call('core', 'configure', { module: 'relay', config: { safeState: 1 } }, 15_000)
const refused = await op.call('core', 'configure', { module: 'relay', config: { safeState: 2 } }, 15_000)
await op.end()
await gw.stop()
process.stdout.write(JSON.stringify({ packages: [...packages].sort(), accepted, refused }))
