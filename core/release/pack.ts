// Packs a staged bundle folder as a gzip'd ustar, the one form the bundle reader (tar.ts) takes: release
// bundles (release/build.ts) and module bundles (module-bundle.ts) alike. The system's tar writes it (GNU
// tar, as on Debian and Raspberry Pi OS): sorted names, owner root, one mtime, no pax headers.
import { spawn } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { pipeline } from 'node:stream/promises'
import { createGzip } from 'node:zlib'
import { OutpostError } from '../errors.js'

/** packs `stagingParent/folder` into `file` */
export async function pack (stagingParent: string, folder: string, file: string, mtime: number, level = 6): Promise<void> {
  const tar = spawn('tar', ['--format=ustar', '--sort=name', '--owner=0', '--group=0', '--numeric-owner', `--mtime=@${mtime}`, '-C', stagingParent, '-cf', '-', folder], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  tar.stderr.on('data', chunk => { stderr += String(chunk) })
  const exited = new Promise<number | null>(resolve => tar.once('close', resolve))
  await pipeline(tar.stdout, createGzip({ level }), createWriteStream(file))
  const code = await exited
  if (code !== 0) throw new OutpostError('RELEASE_BUILD', `tar failed for ${folder}: ${stderr.trim()}`)
}
