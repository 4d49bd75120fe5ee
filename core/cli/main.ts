#!/usr/bin/env node
// The `outpost` command: runs a gateway and manages one over MQTT.
import { run } from './run.js'

const USAGE = `usage: outpost <command> [arguments]

  run [manifest]      run a gateway (default: the simulated demo gateway)
`

async function main (argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  switch (command) {
    case 'run': return run(rest)
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE)
      return command === undefined ? 2 : 0
    default:
      process.stderr.write(`outpost: unknown command "${command}"\n${USAGE}`)
      return 2
  }
}

main(process.argv.slice(2)).then(code => { process.exitCode = code }, (err: unknown) => {
  process.stderr.write(`outpost: ${(err as Error).stack ?? String(err)}\n`)
  process.exitCode = 1
})
