// Packages fetched from the npm registry for a release, kept in .cache/release/npm (outside git) and
// checked against the integrity the lock file (or the registry) gives, so a second run downloads nothing.
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs'
import path from 'node:path'
import { OutpostError } from '../core/errors.js'

function npm (args: string[], cwd: string): string {
  mkdirSync(cwd, { recursive: true }) // a fresh clone has no cache yet, and a missing cwd fails the spawn
  try {
    return execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 })
  } catch (err) {
    const stderr = String((err as { stderr?: unknown }).stderr ?? '')
    const reason = /E404|404 Not Found|No match found/.test(stderr) ? 'the npm registry has no such package version' : stderr.trim().split('\n').slice(-3).join(' ')
    throw new OutpostError('RELEASE_BUILD', `npm ${args.join(' ')}: ${reason}`)
  }
}

/** the registry's integrity string (sha512-…) for a package version */
export function registryIntegrity (spec: string, cacheDir: string): string {
  const integrity = JSON.parse(npm(['view', spec, 'dist.integrity', '--json'], cacheDir)) as unknown
  if (typeof integrity !== 'string') throw new OutpostError('RELEASE_BUILD', `npm view ${spec}: no dist.integrity`)
  return integrity
}

/** the path of `name@version`'s tarball in the cache, downloading it once; its sha512 must equal `integrity` */
export function cachedTarball (name: string, version: string, integrity: string, cacheDir: string): string {
  mkdirSync(cacheDir, { recursive: true })
  const file = path.join(cacheDir, `${name.replace(/^@/, '').replace('/', '-')}-${version}.tgz`)
  if (!existsSync(file)) {
    // packed in a folder of its own, then renamed into place: two builds at once (the release tests run
    // side by side) must never read a tarball the other is still writing
    const tmp = mkdtempSync(path.join(cacheDir, '.pack-'))
    try {
      npm(['pack', `${name}@${version}`, '--pack-destination', tmp, '--silent'], cacheDir)
      renameSync(path.join(tmp, path.basename(file)), file)
    } finally {
      rmSync(tmp, { recursive: true, force: true })
    }
  }
  const [algorithm, want] = integrity.split('-', 2)
  if (algorithm !== 'sha512' || want === undefined) throw new OutpostError('RELEASE_BUILD', `${name}@${version}: integrity "${integrity}" is not sha512`)
  const got = createHash('sha512').update(readFileSync(file)).digest('base64')
  if (got !== want) throw new OutpostError('RELEASE_BUILD', `${file}: its sha512 does not match ${integrity} (delete it to download it again)`)
  return file
}
