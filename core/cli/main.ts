#!/usr/bin/env node
// The `outpost` command: runs a gateway and manages one over MQTT (docs/management.md). Errors are one line
// on stderr (JSON with --json) and an exit code scripts can trust (exit.ts); OUTPOST_DEBUG=1 adds stacks.
import type { Command } from './command.js'
import { EXIT, UsageError, describeError, exitCodeOf } from './exit.js'
import { jsonText, printable } from './format.js'
import { connectionOptions } from './options.js'

/**
 * The gateway itself. `outpost run` loads neither the management commands (commands.ts: the fleet CLI's
 * mqtt.js, the release tools), which cost the core ≈ 4 MiB of private memory at rest, nor they the gateway.
 */
const run: Command = {
  usage: 'run [manifest]',
  summary: 'run a gateway (default: the simulated demo gateway)',
  run: async argv => await (await import('./run.js')).run(argv),
}

function usage (commands: Record<string, Command>): string {
  const width = Math.max(...Object.values(commands).map(c => c.usage.split('  |')[0]?.split(' [')[0]?.length ?? 0))
  const lines = Object.values(commands).map(c => `  ${(c.usage.split('  |')[0]?.split(' [')[0] ?? '').padEnd(width)}  ${c.summary}`)
  return `usage: outpost <command> [arguments]   (outpost <command> --help for its options)\n\n${lines.join('\n')}\n`
}

/**
 * `outpost logs -f | head -1`: once the reader of our output has gone, writing fails with EPIPE. That is the
 * reader's way of saying "enough", not an error: end at once, with no stack trace. (`outpost run`, the
 * gateway itself, must never end because a log reader did.)
 */
function endQuietlyOnClosedPipe (): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') throw err
      process.exit(EXIT.ok)
    })
  }
}

/**
 * `outpost --via mqtts://fleet.example:8883 --gateway pi-17 ls`: connection options written before the
 * command are moved behind its name, where the command parses them with its own.
 */
function commandFirst (argv: string[]): string[] {
  let i = 0
  while (i < argv.length) {
    const word = argv[i] as string
    const name = word.startsWith('--') ? word.slice(2).split('=')[0] : Object.keys(connectionOptions).find(k => word === `-${connectionOptions[k]?.short}`)
    const spec = name === undefined ? undefined : connectionOptions[name]
    if (spec === undefined || name === 'help') break
    i += spec.type === 'string' && !word.includes('=') ? 2 : 1
  }
  if (i === 0 || i >= argv.length) return argv
  return [argv[i] as string, ...argv.slice(0, i), ...argv.slice(i + 1)]
}

async function main (argv: string[]): Promise<number> {
  const [name, ...rest] = commandFirst(argv)
  const commands: Record<string, Command> = name === 'run' ? { run } : { run, ...(await import('./commands.js')).commands }
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(usage(commands))
    return name === undefined ? EXIT.usage : EXIT.ok
  }
  const command = commands[name]
  if (command === undefined) {
    process.stderr.write(`outpost: unknown command "${name}"\n${usage(commands)}`)
    return EXIT.usage
  }
  if (command !== run) endQuietlyOnClosedPipe()
  try {
    return await command.run(rest)
  } catch (err) {
    const { code, message } = describeError(err)
    // a message may quote the gateway, a module or a fleet's upstream: printed only through printable
    if (rest.includes('--json')) process.stderr.write(jsonText({ error: { code, message } }) + '\n')
    else process.stderr.write(`outpost: ${printable(message)}\n${err instanceof UsageError ? `usage: outpost ${command.usage}\n` : ''}`)
    if (process.env.OUTPOST_DEBUG === '1' && err instanceof Error) process.stderr.write(`${err.stack ?? ''}\n`)
    return exitCodeOf(err)
  }
}

main(process.argv.slice(2)).then(code => { process.exitCode = code }, (err: unknown) => {
  process.stderr.write(`outpost: ${printable((err as Error).message ?? String(err))}\n`)
  process.exitCode = EXIT.failed
})
