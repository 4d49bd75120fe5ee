// `npm run bench`: starts the systems under test (the Outpost core as `npm start` runs it, the same core at
// a baseline commit, Mosquitto, a bare Aedes, a raw-socket echo and a frame relay in front of it), runs the
// benchmarks, writes docs/benchmarks.md and prints it. `npm run bench -- soak` runs the soak instead
// (soak.ts); `npm run bench -- tracing|uplink|fleet` runs that section alone (tracing.ts, uplink.ts,
// fleet.ts) and puts it in place of the report's, or adds it before the soak's. Everything it starts is stopped again, whatever happens; the whole run is bounded in time.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { installRoot } from '../core/paths.js'
import { createCleanup } from './lib/cleanup.js'
import type { Cleanup } from './lib/cleanup.js'
import { samplePeak, rssMiB, ussMiB } from './lib/procfs.js'
import { buildAt } from './lib/before.js'
import { MOSQUITTO, benchNames, npmStart, startBareAedes, startCore, startMosquitto } from './lib/stacks.js'
import type { Stack } from './lib/stacks.js'
import { SETTLE_MS, brokerMemory, idleMemory, startBareNodes } from './memory.js'
import type { IdleMemory } from './memory.js'
import { renderReport } from './report.js'
import type { CoreRun, Results } from './report.js'
import { rawPaths, requestBytes, runRpc, sdkPath } from './rpc.js'
import type { RpcSettings } from './rpc.js'
import { runThroughput } from './throughput.js'
import { TRACING_HEADING, runTracing } from './tracing.js'
import { renderSoak, runSoak } from './soak.js'
import { runSupervision } from './supervision.js'
import { UPLINK_HEADING, uplinkSection } from './uplink.js'
import { FLEET_HEADING, fleetSection } from './fleet.js'
import type { SupervisionResults, SupervisionSettings } from './supervision.js'
import { renderSupervision } from './supervision-report.js'
import { renderDashboard } from './dashboard.js'
import { DEFAULT_POLICY } from '../core/supervisor/policy.js'
import type { ThroughputSettings } from './throughput.js'

// Seven short rounds rather than three long ones: single rounds on this kind of machine swing by a third,
// and the median of seven, alternating between the paths, stands still where the median of three does not.
const RPC: RpcSettings = {
  warmupRounds: 1,
  rounds: 7,
  sequential: { count: 2000, inflight: 1, maxMs: 3000, warmup: 300 },
  parallel: { count: 20_000, inflight: 32, maxMs: 3000, warmup: 2000 },
}
// five rounds: with three, one slow round of either core moved their paired ratio by a tenth
const THROUGHPUT: ThroughputSettings = { warmupRounds: 1, rounds: 5, count: 100_000, window: 4000, maxMs: 6000 }
const SUPERVISION: SupervisionSettings = { kills: 15, breaches: 5, samplerModules: 20, samplerWindowMs: 10_000, sampleMs: 250, graceMs: 500 }
/**
 * The baseline commit of section 4: the last one before issue 10's hardening, whose fixes may cost at most
 * 5% of the RPC p50 or the hook throughput. `npm run bench -- --before <commit>` measures against another.
 */
const BEFORE = '1f01d33'
/** the whole benchmark, start to finish (the baseline's compile included; the tracing section alone takes 4–5 min) */
const TIME_LIMIT_MS = 15 * 60_000
const REPORT = path.join(installRoot, 'docs', 'benchmarks.md')

const log = (line: string): void => { process.stderr.write(`bench: ${line}\n`) }

/** The soak writes its own section at the end of the report, and each kind of run keeps the other's part. */
const SOAK_MARK = '<!-- the soak section: written by `npm run bench -- soak` -->'

function writeReport (part: 'benchmarks' | 'soak', text: string): void {
  const old = existsSync(REPORT) ? readFileSync(REPORT, 'utf8') : ''
  const at = old.indexOf(SOAK_MARK)
  const benchmarks = part === 'benchmarks' ? text : (at < 0 ? old : old.slice(0, at)).trimEnd() + '\n'
  const soak = part === 'soak' ? text : (at < 0 ? '' : old.slice(at + SOAK_MARK.length).trimStart())
  mkdirSync(path.dirname(REPORT), { recursive: true })
  writeFileSync(REPORT, soak === '' ? benchmarks : `${benchmarks}\n${SOAK_MARK}\n\n${soak}`)
}

/** A section run alone (uplink, fleet) replaces the report's own, from its heading to the next section's, or goes at the end of the benchmarks' part (before the soak's). */
function replaceSection (heading: string, section: string): void {
  const old = existsSync(REPORT) ? readFileSync(REPORT, 'utf8') : ''
  const start = old.indexOf(heading)
  if (start < 0) {
    const at = old.indexOf(SOAK_MARK)
    writeFileSync(REPORT, at < 0 ? `${old.trimEnd()}\n\n${section}` : `${old.slice(0, at).trimEnd()}\n\n${section}\n${old.slice(at)}`)
    return
  }
  const rest = old.slice(start + heading.length)
  const next = [rest.indexOf('\n## '), rest.indexOf(`\n${SOAK_MARK}`)].filter(i => i >= 0)
  const end = next.length === 0 ? old.length : start + heading.length + Math.min(...next)
  writeFileSync(REPORT, `${old.slice(0, start)}${section}${old.slice(end)}`)
}

/** the sections that also run alone (`npm run bench -- <name>`), each replacing its own part of the report */
const SECTIONS = {
  tracing: { heading: TRACING_HEADING, run: async (_dir: string, cleanup: Cleanup) => await runTracing(cleanup, log) },
  uplink: { heading: UPLINK_HEADING, run: async (dir: string, cleanup: Cleanup) => await uplinkSection(dir, cleanup, log) },
  fleet: { heading: FLEET_HEADING, run: async (dir: string, cleanup: Cleanup) => await fleetSection(dir, cleanup, log) },
}

interface Args { soak: boolean, alone?: keyof typeof SECTIONS, minutes: number, before: string }

function parseArgs (argv: string[]): Args {
  const args: Args = { soak: false, minutes: 10, before: BEFORE }
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]
    if (word === 'soak') args.soak = true
    else if (word === 'uplink' || word === 'fleet' || word === 'tracing') args.alone = word
    else if (word === '--minutes' && Number(argv[i + 1]) > 0) args.minutes = Number(argv[++i])
    else if (word === '--before' && argv[i + 1] !== undefined) args.before = argv[++i] as string
    else throw new Error(`unknown argument "${word}": npm run bench [-- --before <commit>] | npm run bench -- soak [--minutes N] | npm run bench -- uplink|fleet|tracing`)
  }
  return args
}

async function bench (dir: string, before: string, cleanup: ReturnType<typeof createCleanup>): Promise<Results> {
  const startedAt = new Date()
  if (!existsSync(MOSQUITTO)) throw new Error(`${MOSQUITTO} is missing: install the Debian package mosquitto`)
  log(`building the baseline core at ${before}`)
  const beforeRoot = buildAt(before, path.join(dir, 'before'))
  const variants = [
    { label: 'outpost', root: installRoot, launch: npmStart() },
    { label: `outpost at ${before}`, root: beforeRoot, launch: npmStart(beforeRoot) },
  ]

  const cores: Stack[] = []
  for (const [i, v] of variants.entries()) {
    log(`starting ${v.label}: ${Object.entries(v.launch.env).map(([k, x]) => `${k}=${x} `).join('')}node ${v.launch.flags.join(' ')} build/core/cli/main.js run`)
    cores.push(await startCore(v.label, path.join(dir, `core-${i}`), v.launch, benchNames(i === 0 ? '' : `-${i}`), cleanup, { root: v.root }))
  }
  log('starting mosquitto, a bare Aedes, the raw-socket echo and the relay')
  const mosquitto = await startMosquitto('mosquitto', path.join(dir, 'mosquitto'), benchNames(''), cleanup)
  const aedes = await startBareAedes('bare Aedes', path.join(dir, 'aedes'), benchNames(''), cleanup)
  const { raw, relay } = await rawPaths(dir, cleanup)
  const bare = await startBareNodes(cleanup)

  log(`resting ${SETTLE_MS / 1000} s before the idle memory readings`)
  await new Promise(resolve => setTimeout(resolve, SETTLE_MS))
  const idle = cores.map(core => idleMemory(core, bare))
  const aedesIdle = brokerMemory(aedes)

  const brokers = [...cores, mosquitto, aedes]
  const rssSamplers = brokers.map(stack => samplePeak(() => rssMiB(stack.broker.pid), 50))
  const ussSamplers = cores.map(stack => samplePeak(() => ussMiB(stack.broker.pid), 250))
  cleanup.add('memory samplers', () => { for (const sampler of [...rssSamplers, ...ussSamplers]) sampler.stop() })
  const rpc = await runRpc([raw, relay, ...cores.map(sdkPath), sdkPath(mosquitto), sdkPath(aedes)], RPC, log)
  const throughput = await runThroughput(brokers, THROUGHPUT, log)
  const peaks = rssSamplers.map(sampler => sampler.peak())
  const peakOf = (stack: Stack): number => peaks[brokers.indexOf(stack)] ?? 0

  const find = <T extends { label: string }>(list: T[], label: string): T => {
    const found = list.find(x => x.label === label)
    if (found === undefined) throw new Error(`no result for ${label}`)
    return found
  }
  const coreRuns: CoreRun[] = variants.map((v, i) => ({
    label: v.label,
    launch: v.launch,
    idle: idle[i] as IdleMemory,
    peakRssMiB: peakOf(cores[i] as Stack),
    peakUssMiB: ussSamplers[i]?.peak() ?? 0,
    rpc: find(rpc, v.label),
    throughput: find(throughput, v.label),
  }))
  return {
    startedAt,
    before,
    durationS: (Date.now() - startedAt.getTime()) / 1000,
    cores: coreRuns,
    rpc: { settings: RPC, requestBytes: requestBytes(), raw: find(rpc, raw.label), relay: find(rpc, relay.label), mosquitto: find(rpc, mosquitto.label) },
    throughput: { settings: THROUGHPUT, mosquitto: find(throughput, mosquitto.label) },
    mosquittoPeakRssMiB: peakOf(mosquitto),
    aedes: { label: aedes.label, idle: aedesIdle, peakRssMiB: peakOf(aedes), rpc: find(rpc, aedes.label), throughput: find(throughput, aedes.label) },
  }
}

async function main (): Promise<number> {
  const args = parseArgs(process.argv.slice(2))
  const cleanup = createCleanup(line => log(line))
  const dir = mkdtempSync(path.join(os.tmpdir(), 'outpost-bench-'))
  cleanup.add(`remove ${dir}`, () => rmSync(dir, { recursive: true, force: true }))
  let stopping = false
  const stop = async (why: string, code: number): Promise<never> => {
    if (!stopping) {
      stopping = true
      log(`${why}: stopping everything`)
      await cleanup.run()
    }
    process.exit(code)
  }
  const limitMs = args.soak ? (args.minutes + 2) * 60_000 : TIME_LIMIT_MS
  const limit = setTimeout(() => { void stop(`time limit of ${limitMs / 60_000} min reached`, 1) }, limitMs)
  process.once('SIGINT', () => { void stop('SIGINT', 130) })
  process.once('SIGTERM', () => { void stop('SIGTERM', 143) })
  try {
    if (args.soak) {
      const startedAt = new Date()
      const soak = await runSoak(dir, { minutes: args.minutes, sampleEveryMs: 5000, warmupFraction: 0.2 }, cleanup, log)
      const section = renderSoak(soak, startedAt)
      writeReport('soak', section)
      process.stdout.write(section)
      log(`wrote the soak section of ${path.relative(installRoot, REPORT)}`)
      return 0
    }
    if (args.alone !== undefined) {
      const alone = SECTIONS[args.alone]
      const section = await alone.run(dir, cleanup)
      replaceSection(alone.heading, section)
      process.stdout.write(section)
      log(`wrote the ${args.alone} section of ${path.relative(installRoot, REPORT)}`)
      return 0
    }
    const results = await bench(dir, args.before, cleanup)
    // after the broker benchmarks, with their processes stopped: the supervision figures want a quiet machine
    await cleanup.run()
    const supervision: SupervisionResults = await runSupervision(SUPERVISION, log)
    const report = `${renderReport(results)}\n${renderSupervision(supervision, SUPERVISION, DEFAULT_POLICY.backoff.initialMs)}\n${await SECTIONS.tracing.run(dir, cleanup)}\n${renderDashboard()}\n${await SECTIONS.uplink.run(dir, cleanup)}\n${await SECTIONS.fleet.run(dir, cleanup)}`
    writeReport('benchmarks', report)
    process.stdout.write(report)
    log(`wrote ${path.relative(installRoot, REPORT)}`)
    return 0
  } catch (err) {
    log(`failed: ${(err as Error).stack ?? String(err)}`)
    return 1
  } finally {
    clearTimeout(limit)
    if (!stopping) await cleanup.run()
  }
}

main().then(code => { process.exitCode = code }, (err: unknown) => {
  log(`failed: ${String(err)}`)
  process.exitCode = 1
})
