// The manifest checker process: reads a CheckRequest (JSON) on stdin, runs the checks (check.ts) and prints
// one CheckReply (JSON) on stdout, then exits. The core starts it (checker.ts) so zod never loads in the core.
import { OutpostError } from '../errors.js'
import { checkManifest } from './check.js'
import type { CheckLog, CheckReply, CheckRequest } from './checker.js'

const chunks: Buffer[] = []
for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
const { input, file } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as CheckRequest

const log: CheckLog['log'] = []
let reply: CheckReply
try {
  const checked = await checkManifest(input, file, {
    info: text => { log.push({ level: 'info', text }) },
    warn: text => { log.push({ level: 'warn', text }) },
  })
  // the schemas stay here: the core needs each module's spec and entry only
  reply = { loaded: { ...checked, modules: checked.modules.map(({ spec, entry, runAs }) => (runAs === undefined ? { spec, entry } : { spec, entry, runAs })) }, log }
} catch (err) {
  reply = { error: err instanceof OutpostError ? { code: err.code, message: err.message, ...(err.details === undefined ? {} : { details: err.details }) } : { message: String((err as Error).message ?? err) }, log }
}
process.stdout.write(JSON.stringify(reply))
