// Stand-ins for the Debian gpiod tools, in the output style of v1 (1.6.3) or v2 (2.1), for machines with no
// GPIO. One bash script (fake-gpiod.sh), linked under each tool's name in a temp bin directory; its state
// lives in files next to it:
//   calls            every invocation: tool and argv, tab-separated, one per line
//   chips            what gpiodetect prints
//   names            "NAME chip offset" lines, for gpiofind (v1) and gpioinfo NAME (v2)
//   level/<chip>-<o> the level gpioget reads and the last level gpioset drove
//   held/<chip>-<o>  "<tool> <direction> <pid>" while a gpioset/gpiomon holds the line (as the kernel would,
//                    a second request for a held line fails with "Device or resource busy"; a holder that
//                    died, even by SIGKILL, holds nothing; pid "-" stands for a holder outside the test)
//   events/<chip>-<o> lines a test appends; gpiomon prints them as they come (the test writes them in the
//                    format the backend asked for with -F)
import { appendFileSync, copyFileSync, chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { gone } from '../helpers/wait.js'

// the script is source, not build output: build/test/gpio/ → test/gpio/
const SCRIPT = fileURLToPath(new URL('../../../test/gpio/fake-gpiod.sh', import.meta.url))

export interface FakeGpiod {
  bin: string
  state: string
  /** every call so far: [tool, ...argv] */
  calls (): string[][]
  /** calls other than the readiness polls (v1 gpioinfo), which vary in number */
  steps (): string[][]
  level (chip: string, offset: number): string | undefined
  setLevel (chip: string, offset: number, level: 0 | 1): void
  holder (chip: string, offset: number): { tool: string, direction: string, pid: number } | undefined
  event (chip: string, offset: number, line: string): void
}

export function fakeGpiod (t: { after: (fn: () => void) => void }, version: 1 | 2, chips: string, names = ''): FakeGpiod {
  const root = mkdtempSync(path.join(os.tmpdir(), `outpost-gpiod-v${version}-`))
  const bin = path.join(root, 'bin')
  const state = path.join(root, 'state')
  t.after(() => {
    // a test that failed half-way may leave a stand-in holding a line
    for (const file of readdirSync(path.join(state, 'held'))) {
      const [tool, , pidText] = readFileSync(path.join(state, 'held', file), 'utf8').trim().split(' ')
      const pid = Number(pidText)
      // only the stand-ins' own processes (a test may fake a holder with no process behind it)
      if ((tool !== 'gpioset' && tool !== 'gpiomon') || !Number.isInteger(pid) || pid <= 1) continue
      try {
        process.kill(pid, 'SIGTERM')
      } catch {
        // gone already
      }
    }
    rmSync(root, { recursive: true, force: true })
  })
  for (const dir of [bin, state, path.join(state, 'level'), path.join(state, 'held'), path.join(state, 'events')]) mkdirSync(dir, { recursive: true })
  writeFileSync(path.join(state, 'chips'), chips)
  writeFileSync(path.join(state, 'names'), names)
  writeFileSync(path.join(state, 'calls'), '')
  writeFileSync(path.join(state, 'version'), String(version))
  const script = path.join(bin, 'fake-gpiod')
  copyFileSync(SCRIPT, script)
  chmodSync(script, 0o755)
  for (const tool of ['gpiodetect', 'gpiofind', 'gpioinfo', 'gpioget', 'gpioset', 'gpiomon']) symlinkSync('fake-gpiod', path.join(bin, tool))
  const calls = (): string[][] => readFileSync(path.join(state, 'calls'), 'utf8').split('\n').filter(l => l !== '').map(l => l.split('\t'))
  return {
    bin,
    state,
    calls,
    steps: () => calls().filter(c => !(version === 1 && c[0] === 'gpioinfo' && c.length === 2 && /^gpiochip\d+$/.test(c[1] ?? ''))),
    level: (chip, offset) => (existsSync(path.join(state, 'level', `${chip}-${offset}`)) ? readFileSync(path.join(state, 'level', `${chip}-${offset}`), 'utf8').trim() : undefined),
    setLevel: (chip, offset, level) => writeFileSync(path.join(state, 'level', `${chip}-${offset}`), `${level}\n`),
    holder (chip, offset) {
      const file = path.join(state, 'held', `${chip}-${offset}`)
      if (!existsSync(file)) return undefined
      const [tool = '', direction = '', pid = ''] = readFileSync(file, 'utf8').trim().split(' ')
      return gone(Number(pid)) ? undefined : { tool, direction, pid: Number(pid) }
    },
    event: (chip, offset, line) => appendFileSync(path.join(state, 'events', `${chip}-${offset}`), `${line}\n`),
  }
}
