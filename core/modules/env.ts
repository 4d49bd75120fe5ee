// The environment a module process starts with (docs/protocol.md, "Module environment"). Only a few of the
// core's own variables pass through: a module sees its identity, its broker and where its config file is (the
// config itself may be larger than the kernel allows an environment to be). Its secret is not here: any
// process of the same user can read an environment, so the secret goes down fd 3 (spawn.ts).
export interface ModuleEnvInput {
  module: string
  instance: number
  brokerUrl: string
  username: string
  keepaliveSeconds: number
  /** the module's config as JSON, written by the core in the runtime folder (0600) */
  configFile: string
  boardFile: string
  simRoot: string | undefined
  /** tracing's sampling rate for this module; undefined: tracing is off for it */
  traceSampleRate: number | undefined
}

/** where a module process reads its password (spawn.ts writes it there) */
export const CREDENTIAL_FD = 3

const PASSED_THROUGH = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ', 'OUTPOST_LOG_LEVEL', 'NO_COLOR']

export function moduleEnv (input: ModuleEnvInput, parent: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const env: Record<string, string> = {}
  for (const name of PASSED_THROUGH) {
    const value = parent[name]
    if (value !== undefined) env[name] = value
  }
  // as for the core (docs/architecture.md): glibc, once a large block is freed, raises its threshold and serves
  // the next ones from its heap, which it keeps; a module holding replies of a few MiB (the uplink under
  // flooding fleet operators) kept 57 MiB at rest of a 64 MiB budget without it, 39 with it
  env.MALLOC_MMAP_THRESHOLD_ = '131072'
  env.OUTPOST_MODULE = input.module
  env.OUTPOST_INSTANCE = String(input.instance)
  env.OUTPOST_BROKER = input.brokerUrl
  env.OUTPOST_USERNAME = input.username
  env.OUTPOST_CREDENTIAL_FD = String(CREDENTIAL_FD)
  env.OUTPOST_KEEPALIVE = String(input.keepaliveSeconds)
  env.OUTPOST_CONFIG_FILE = input.configFile
  env.OUTPOST_BOARD_FILE = input.boardFile
  if (input.simRoot !== undefined) env.OUTPOST_SIM_ROOT = input.simRoot
  if (input.traceSampleRate !== undefined) env.OUTPOST_TRACE_SAMPLE_RATE = String(input.traceSampleRate)
  return env
}
