// Loaded with `node --import` by lean-core.test.ts: notes the package of every module the process resolves
// and, as it exits, writes their names (JSON) to the file OUTPOST_TEST_PACKAGES names.
import { registerHooks } from 'node:module'
import { writeFileSync } from 'node:fs'

const packages = new Set<string>()
registerHooks({
  resolve (specifier, context, next) {
    const resolved = next(specifier, context)
    const pkg = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(resolved.url)?.[1]
    if (pkg !== undefined) packages.add(pkg)
    return resolved
  },
})
process.on('exit', () => { writeFileSync(process.env.OUTPOST_TEST_PACKAGES as string, JSON.stringify([...packages].sort())) })
