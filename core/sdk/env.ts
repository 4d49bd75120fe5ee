// What the core hands a module process: its environment, and its secret on file descriptor 3
// (docs/protocol.md, "The life of a module process").
import { closeSync, fstatSync, readFileSync } from 'node:fs'
import { OutpostError } from '../errors.js'
import { isModuleName } from '../protocol/topics.js'

export interface ModuleEnv {
  module: string
  instance: number
  brokerUrl: string
  username: string
  password: string
  keepaliveSeconds: number
  config: unknown
  boardFile: string | undefined
  simRoot: string | undefined
  logLevel: string
  /** OUTPOST_TRACE_SAMPLE_RATE: tracing is on (docs/observability.md), with this rate for the traces this module starts */
  traceSampleRate: number | undefined
}

function required (env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name]
  if (value === undefined || value === '') {
    throw new OutpostError('MODULE_ENV', `${name} is not set: module processes are started by the Outpost core (outpost run), which sets it`)
  }
  return value
}

function sampleRate (value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined
  const rate = Number(value)
  if (!(rate >= 0 && rate <= 1)) throw new OutpostError('MODULE_ENV', `OUTPOST_TRACE_SAMPLE_RATE=${value} is not a number from 0 to 1`)
  return rate
}

const STARTED_BY_CORE = 'module processes are started by the Outpost core (outpost run), which hands each its password on fd 3'

/**
 * Reads the password on the fd OUTPOST_CREDENTIAL_FD names (always 3) to its end, once, and closes that fd: the
 * password is in no environment (which any process of the same user can read for the module's whole life)
 * and in no file. The variable says the fd was handed over: without it fd 3 may be anything the runtime
 * opened itself (node's own epoll fd or signal pipe), which must not be read.
 */
export function readCredential (env: NodeJS.ProcessEnv = process.env): string {
  const named = env.OUTPOST_CREDENTIAL_FD
  if (named === undefined || named === '') throw new OutpostError('MODULE_ENV', `no credential: OUTPOST_CREDENTIAL_FD is not set (${STARTED_BY_CORE})`)
  const fd = Number(named)
  if (!Number.isInteger(fd) || fd < 3) throw new OutpostError('MODULE_ENV', `OUTPOST_CREDENTIAL_FD=${named} is not a file descriptor above 2 (${STARTED_BY_CORE})`)
  let stat
  try {
    stat = fstatSync(fd)
  } catch {
    throw new OutpostError('MODULE_ENV', `no credential: file descriptor ${fd} is not open (${STARTED_BY_CORE})`)
  }
  if (!stat.isSocket() && !stat.isFIFO()) throw new OutpostError('MODULE_ENV', `no credential: file descriptor ${fd} is not a pipe (${STARTED_BY_CORE})`)
  let secret: string
  try {
    secret = readFileSync(fd, 'utf8')
  } finally {
    closeSync(fd)
  }
  if (secret === '') throw new OutpostError('MODULE_ENV', `no credential: file descriptor ${fd} held nothing (${STARTED_BY_CORE})`)
  return secret
}

export function readModuleEnv (env: NodeJS.ProcessEnv = process.env): ModuleEnv {
  const module = required(env, 'OUTPOST_MODULE')
  if (!isModuleName(module)) throw new OutpostError('MODULE_ENV', `OUTPOST_MODULE=${module} is not a valid module name`)
  const instance = Number(env.OUTPOST_INSTANCE ?? '0')
  if (!Number.isInteger(instance) || instance < 0) throw new OutpostError('MODULE_ENV', `OUTPOST_INSTANCE=${env.OUTPOST_INSTANCE} is not a non-negative integer`)
  // the core always names the file; a process started by hand without it has an empty config
  const configFile = env.OUTPOST_CONFIG_FILE
  let config: unknown = {}
  if (configFile !== undefined && configFile !== '') {
    try {
      config = JSON.parse(readFileSync(configFile, 'utf8'))
    } catch (err) {
      throw new OutpostError('MODULE_ENV', `OUTPOST_CONFIG_FILE=${configFile} cannot be read as JSON: ${(err as Error).message}`)
    }
  }
  const keepaliveSeconds = Number(env.OUTPOST_KEEPALIVE ?? '5')
  return {
    module,
    instance,
    brokerUrl: required(env, 'OUTPOST_BROKER'),
    username: required(env, 'OUTPOST_USERNAME'),
    password: readCredential(env),
    keepaliveSeconds: Number.isFinite(keepaliveSeconds) && keepaliveSeconds >= 0 ? keepaliveSeconds : 5,
    config,
    boardFile: env.OUTPOST_BOARD_FILE,
    simRoot: env.OUTPOST_SIM_ROOT,
    logLevel: env.OUTPOST_LOG_LEVEL ?? 'info',
    traceSampleRate: sampleRate(env.OUTPOST_TRACE_SAMPLE_RATE),
  }
}
