// `outpost keygen`, `outpost release sign|verify` (docs/deploy.md, "Signing keys") and `outpost release
// module` (a module bundle, "Module updates"): signing happens where the private key is, verifying anywhere;
// a gateway trusts the public keys in its manifest's updates.keys.
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { loadManifest } from '../manifest/load.js'
import { makeModuleBundle } from '../release/module-bundle.js'
import { generateKeys, readSignature, signBundle, verifyBundle } from '../release/signing.js'
import type { Command } from './command.js'
import { printable } from './format.js'
import { UsageError } from './exit.js'

function parse (argv: string[], options: NonNullable<Parameters<typeof parseArgs>[0]>['options'], usage: string): { values: Record<string, unknown>, positionals: string[] } | undefined {
  let parsed
  try {
    parsed = parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true })
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
  if (parsed.values.help === true) {
    process.stdout.write(`usage: outpost ${usage}\n`)
    return undefined
  }
  return parsed as { values: Record<string, unknown>, positionals: string[] }
}

export const keygen: Command = {
  usage: 'keygen <name>',
  summary: 'make an Ed25519 signing key: <name>.key (private, 0600) and <name>.pub; prints the public key for updates.keys',
  async run (argv) {
    const parsed = parse(argv, {}, keygen.usage)
    if (parsed === undefined) return 0
    const [name] = parsed.positionals
    if (name === undefined || parsed.positionals.length > 1) throw new UsageError('keygen takes one name')
    for (const file of [`${name}.key`, `${name}.pub`]) if (existsSync(file)) throw new UsageError(`${file} exists: keygen never overwrites a key`)
    const keys = generateKeys()
    writeFileSync(`${name}.key`, keys.privatePem, { mode: 0o600, flag: 'wx' })
    writeFileSync(`${name}.pub`, `${keys.publicKey}\n`, { flag: 'wx' })
    process.stdout.write(`${keys.publicKey}\n`)
    return 0
  },
}

const RELEASE_USAGE = 'release sign <bundle> --key <name.key>  |  release verify <bundle> (--key <ed25519:…|name.pub> … | --manifest <gateway.json>)  |  release module <folder|file.js> --name <module> --version <v> [--main <file>] [--out <dir>]'

export const release: Command = {
  usage: RELEASE_USAGE,
  summary: 'sign a release or module bundle (writes <bundle>.sig), check its signature against trusted keys, or make a module bundle',
  async run (argv) {
    const parsed = parse(argv, { key: { type: 'string', multiple: true }, manifest: { type: 'string' }, name: { type: 'string' }, version: { type: 'string' }, main: { type: 'string' }, out: { type: 'string' } }, RELEASE_USAGE)
    if (parsed === undefined) return 0
    const [action, bundle, ...extra] = parsed.positionals
    if (bundle === undefined || extra.length > 0) throw new UsageError(action === 'module' ? 'name one folder or .js file' : 'name one bundle')
    const moduleOptions = (['name', 'version', 'main', 'out'] as const).filter(o => parsed.values[o] !== undefined)
    if (action !== 'module' && moduleOptions.length > 0) throw new UsageError(`--${moduleOptions[0] ?? ''} is for release module`)
    if (action === 'module') {
      const { name, version, main, out } = parsed.values as { name?: string, version?: string, main?: string, out?: string }
      if (name === undefined || version === undefined) throw new UsageError('release module needs --name <module> and --version <v>')
      const made = await makeModuleBundle({ source: bundle, module: name, version, outDir: out ?? '.', ...(main === undefined ? {} : { main }) })
      process.stdout.write(`${made.file}: module ${name} ${version}, ${made.info.files.length} file(s), runs ${made.info.main}\nsign it with: outpost release sign ${made.file} --key <name.key>\n`)
      return 0
    }
    const keys = (parsed.values.key as string[] | undefined) ?? []
    if (action === 'sign') {
      if (keys.length !== 1 || keys[0] === undefined) throw new UsageError('sign needs one --key <name.key>')
      const signature = await signBundle(bundle, readFileSync(keys[0], 'utf8'))
      writeFileSync(`${bundle}.sig`, JSON.stringify(signature, null, 2) + '\n')
      process.stdout.write(`${bundle}.sig: ${signature.version} for ${signature.target}, signed by ${signature.key}\n`)
      return 0
    }
    if (action === 'verify') {
      const manifest = parsed.values.manifest as string | undefined
      if ((keys.length === 0) === (manifest === undefined)) throw new UsageError('verify needs --key (one or more) or --manifest')
      const trusted = manifest === undefined
        ? keys.map(k => (k.startsWith('ed25519:') ? k : readFileSync(k, 'utf8').trim()))
        : (await loadManifest(manifest)).manifest.updates.keys
      const ok = await verifyBundle(bundle, readSignature(`${bundle}.sig`), trusted)
      // the target is whatever the signer wrote: a trusted key, not a trusted terminal
      process.stdout.write(`${printable(`${bundle}: ${ok.version} for ${ok.target}, signed by ${ok.key}`)}\n`)
      return 0
    }
    throw new UsageError(`release ${action ?? ''}: sign or verify`)
  },
}
