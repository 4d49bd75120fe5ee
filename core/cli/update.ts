// `outpost update [--module <name>] <bundle|url>` and `outpost update --status` (docs/deploy.md, "Updates",
// "Module updates"). The gateway downloads the bundle itself (core.update): a local file is served to it
// from this machine's loopback for the length of the call, so the CLI must run on the gateway for a file; a
// remote gateway takes a URL.
import { createReadStream, readFileSync, statSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import type { ModuleUpdateResult } from '../management/module-update.js'
import type { UpdateState } from '../update/install.js'
import type { ModuleUpdateState } from '../update/module-store.js'
import { gatewayCommand } from './command.js'
import type { Command, Io } from './command.js'
import { UsageError } from './exit.js'
import { isoTime } from './format.js'
import { parseJson } from './options.js'

/** unless --timeout says otherwise, how long the CLI waits for the gateway to download and unpack a bundle */
const UPDATE_CALL_TIMEOUT_MS = 30 * 60_000

type Status = { release: string, last: UpdateState | null } | null

function statusText (status: Status, modules: Record<string, ModuleUpdateState>): string {
  return releaseText(status) + Object.values(modules).map(u =>
    `module ${u.module}: ${u.from} → ${u.to}: ${u.state} (${isoTime(u.at)}, by ${u.by})${u.reason === undefined ? '' : `\n  reason: ${u.reason}`}\n`).join('')
}

function releaseText (status: Status): string {
  if (status === null) return 'this gateway does not run from an installed release (outpost-boot): only its modules can be updated\n'
  const last = status.last
  const when = last === null ? '' : ` (${isoTime(last.at)}, by ${last.by})`
  return `release ${status.release}\n` + (last === null
    ? 'no update recorded\n'
    : `last update: ${last.from} → ${last.to}: ${last.state}${when}${last.reason === undefined ? '' : `\n  reason: ${last.reason}`}\n`)
}

/** serves `file` alone, under an unguessable path, on 127.0.0.1 until `close` */
async function serveFile (file: string): Promise<{ url: string, close: () => Promise<void> }> {
  const size = statSync(file).size
  const route = `/${randomBytes(16).toString('hex')}/${encodeURIComponent(path.basename(file))}`
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || req.url !== route) {
      res.writeHead(404).end()
      return
    }
    res.writeHead(200, { 'content-type': 'application/gzip', 'content-length': size })
    createReadStream(file).pipe(res)
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}${route}`,
    close: () => new Promise(resolve => { server.closeAllConnections(); server.close(() => resolve()) }),
  }
}

const spec = gatewayCommand({
  usage: 'update [--module <name>] <bundle.tar.gz|https://…> [--sig <file>] | update --status',
  summary: 'update the gateway, or one module\'s program, from a signed bundle (rolled back unless it runs again), or show the last updates',
  options: { status: { type: 'boolean' }, sig: { type: 'string' }, module: { type: 'string' } },
  async run (session, parsed, io: Io) {
    const [source, ...rest] = parsed.positionals
    const module = parsed.values.module as string | undefined
    if (parsed.values.status === true) {
      if (source !== undefined || module !== undefined) throw new UsageError('--status takes no bundle or module')
      const info = await session.call<{ update: Status, moduleUpdates: Record<string, ModuleUpdateState> }>('core', 'info')
      io.print({ update: info.update, moduleUpdates: info.moduleUpdates }, shown => statusText(shown.update, shown.moduleUpdates))
      return 0
    }
    if (source === undefined || rest.length > 0) throw new UsageError('name one bundle file or URL')
    const remote = /^https?:\/\//.test(source)
    const sigFile = typeof parsed.values.sig === 'string' ? parsed.values.sig : remote ? undefined : `${source}.sig`
    const signature = sigFile === undefined ? undefined : parseJson(readFileSync(sigFile, 'utf8'), sigFile)
    const served = remote ? undefined : await serveFile(source)
    try {
      const args = { url: served?.url ?? source, ...(signature === undefined ? {} : { signature }) }
      if (module !== undefined) {
        const result = await session.call<ModuleUpdateResult>('core', 'update', { ...args, module })
        io.print(result, r => `module ${r.module}: ${r.to} runs and is kept (was ${r.from})${r.removed.length === 0 ? '' : `; removed ${r.removed.join(', ')}`}\n`)
        return 0
      }
      const result = await session.call<{ from: string, to: string, healthTimeoutMs: number, modules: string[] }>('core', 'update', args)
      io.print(result, r => `release ${r.to} installed beside ${r.from}; the gateway restarts into it and keeps it if ${r.modules.length === 0 ? 'its core starts' : `${r.modules.join(', ')} run`} within ${r.healthTimeoutMs / 1000} s, or goes back to ${r.from}.\nsee the outcome with: outpost update --status\n`)
      return 0
    } finally {
      await served?.close()
    }
  },
})

export const update: Command = {
  ...spec,
  // a bundle takes longer than the default 30 s to download and unpack: a later --timeout still wins
  run: argv => spec.run(['--timeout', String(UPDATE_CALL_TIMEOUT_MS), ...argv]),
}
