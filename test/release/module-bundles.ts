// Module programs and bundles for the module update tests: a real module (it imports the compiled SDK by
// its file URL, as a bundled module would carry it) whose `version` method says which program runs, made
// into bundles with `outpost release module` and signed with `outpost release sign`, and hostile bundles
// signed with signFile (a trusted key's signature over a bundle the gateway must still refuse).
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { signFile } from '../../core/release/signing.js'

export const MAIN = fileURLToPath(new URL('../../core/cli/main.js', import.meta.url))
const SDK = new URL('../../core/sdk/index.js', import.meta.url).href

/** runs the CLI, synchronously (no gateway involved) */
export function cli (args: string[], cwd: string): { code: number | null, stdout: string, stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { cwd, encoding: 'utf8' })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

/** a module folder (index.mjs + version.mjs) answering `version`; `broken`: it exits 1 as it starts */
export function moduleFolder (dir: string, version: string, broken = false): string {
  const folder = path.join(dir, 'src', `folder-${version}`)
  mkdirSync(folder, { recursive: true })
  writeFileSync(path.join(folder, 'version.mjs'), `export const VERSION = ${JSON.stringify(version)}\n`)
  writeFileSync(path.join(folder, 'index.mjs'), broken
    ? 'process.stderr.write("broken on purpose\\n")\nprocess.exit(1)\n'
    : `import { runModule } from ${JSON.stringify(SDK)}\nimport { VERSION } from './version.mjs'\nrunModule(async (m) => {\n  m.method('version', () => VERSION)\n  await m.start()\n})\n`)
  return folder
}

/** the same module as one file; `padBytes` of comment make it that much bigger (and hard to compress) */
export function moduleFile (dir: string, version: string, padBytes = 0): string {
  const file = path.join(dir, 'src', `single-${version}.mjs`)
  mkdirSync(path.dirname(file), { recursive: true })
  const pad = padBytes === 0 ? '' : `// ${Buffer.from(Array.from({ length: padBytes }, () => Math.floor(Math.random() * 256))).toString('base64')}\n`
  writeFileSync(file, `import { runModule } from ${JSON.stringify(SDK)}\nrunModule(async (m) => {\n  m.method('version', () => ${JSON.stringify(version)})\n  await m.start()\n})\n${pad}`)
  return file
}

/** `outpost release module` then `outpost release sign`: the bundle's file (its .sig beside it) */
export function bundle (dir: string, source: string, module: string, version: string, keyFile: string): string {
  const out = path.join(dir, 'bundles')
  const made = cli(['release', 'module', source, '--name', module, '--version', version, '--out', out], dir)
  if (made.code !== 0) throw new Error(`release module: ${made.stderr}`)
  const file = path.join(out, `${module}-${version}.tar.gz`)
  const signed = cli(['release', 'sign', file, '--key', keyFile], dir)
  if (signed.code !== 0) throw new Error(`release sign: ${signed.stderr}`)
  return file
}

/** `file` signed as module `module`'s `version`, whatever it holds */
export async function signAs (file: string, module: string, version: string, privatePem: string): Promise<string> {
  writeFileSync(`${file}.sig`, JSON.stringify(await signFile(file, privatePem, { version, target: `module:${module}` })))
  return file
}

/** a tarball with exactly these members ([name, kind f|d|l, data or link target]), written by Python's tarfile */
export function hostileTar (file: string, members: Array<[string, string, string?]>): string {
  const script = `
import io, sys, tarfile, json
with tarfile.open(sys.argv[1], "w:gz", format=tarfile.USTAR_FORMAT) as t:
    for name, kind, data in json.loads(sys.argv[2]):
        info = tarfile.TarInfo(name)
        if kind == "f":
            raw = (data or "").encode()
            info.size = len(raw)
            t.addfile(info, io.BytesIO(raw))
            continue
        info.type = {"d": tarfile.DIRTYPE, "l": tarfile.SYMTYPE}[kind]
        if kind == "l": info.linkname = data
        t.addfile(info)
`
  execFileSync('python3', ['-c', script, file, JSON.stringify(members.map(([n, k, d]) => [n, k, d ?? null]))])
  return file
}
