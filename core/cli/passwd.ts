// `outpost passwd`: turns a password into the salted scrypt hash the manifest stores (never the password).
// On a terminal it asks twice without echo; otherwise it reads the first line of standard input.
import { parseArgs } from 'node:util'
import { hashPassword } from '../broker/credentials.js'
import type { Command } from './command.js'
import { UsageError } from './exit.js'

function readLine (): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = ''
    process.stdin.setEncoding('utf8')
    process.stdin.on('data', chunk => { text += chunk })
    process.stdin.once('end', () => resolve(text.split(/\r?\n/)[0] ?? ''))
    process.stdin.once('error', reject)
  })
}

/** reads a line from the terminal without echoing it */
function askHidden (prompt: string): Promise<string> {
  return new Promise(resolve => {
    process.stderr.write(prompt)
    const stdin = process.stdin
    stdin.setRawMode(true)
    stdin.setEncoding('utf8')
    stdin.resume()
    let text = ''
    const onData = (chunk: string): void => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') {
          stdin.off('data', onData)
          stdin.setRawMode(false)
          stdin.pause()
          process.stderr.write('\n')
          resolve(text)
          return
        }
        if (ch === '\u0003') process.exit(130) // Ctrl-C
        text = ch === '\u007f' ? text.slice(0, -1) : text + ch
      }
    }
    stdin.on('data', onData)
  })
}

export const passwd: Command = {
  usage: 'passwd [--user <name> --role admin|viewer]',
  summary: 'hash a password for the manifest\'s "operators" (with --user and --role: print the whole entry)',
  async run (argv) {
    let values
    try {
      values = parseArgs({ args: argv, options: { user: { type: 'string' }, role: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, strict: true }).values
    } catch (err) {
      throw new UsageError((err as Error).message)
    }
    if (values.help === true) {
      process.stdout.write(`usage: outpost ${passwd.usage}\n\n${passwd.summary}\n`)
      return 0
    }
    if (values.role !== undefined && values.role !== 'admin' && values.role !== 'viewer') throw new UsageError('--role is admin or viewer')
    let password: string
    if (process.stdin.isTTY === true) {
      password = await askHidden('password: ')
      if (await askHidden('again: ') !== password) throw new UsageError('the two passwords differ')
    } else password = await readLine()
    if (password.length < 8) throw new UsageError('a password needs at least 8 characters')
    const hash = await hashPassword(password)
    process.stdout.write(values.user === undefined
      ? `${hash}\n`
      : `${JSON.stringify({ user: values.user, role: values.role ?? 'viewer', passwordHash: hash })}\n`)
    return 0
  },
}
