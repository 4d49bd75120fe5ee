// modbus-rtu: a Modbus RTU master on an RS-485 port, polling registers and coils on a schedule.
// See docs/drivers/modbus-rtu.md.
import { z } from 'zod'
import { checkPortChoice, portClaims, portFields } from '../lib/serial/config-schema.js'

const BIT_FUNCTIONS = ['coils', 'discrete']
/** the protocol's limits per read: 2000 coils or inputs, 125 registers */
const MAX_COUNT = { coils: 2000, discrete: 2000, holding: 125, input: 125 }

const poll = z.object({
  /** the hook is poll/<name> */
  name: z.string().regex(/^[A-Za-z0-9_-]+$/, 'expected letters, digits, _ and -'),
  unit: z.number().int().min(1).max(247),
  function: z.enum(['coils', 'discrete', 'holding', 'input']),
  /** 0-based protocol address (holding register 40001 in a data sheet is 0) */
  address: z.number().int().min(0).max(65535),
  /** coils, inputs or registers read (two registers per 32-bit value) */
  count: z.number().int().min(1).default(1),
  everyMs: z.number().int().min(50),
  /** how registers become values; not for coils and discrete inputs */
  type: z.enum(['uint16', 'int16', 'uint32', 'int32', 'float32']).optional(),
  /** for 32-bit types: `big` when the first register holds the high word (the common order) */
  wordOrder: z.enum(['big', 'little']).optional(),
  /** each value is multiplied by this (e.g. 0.1 for tenths of a degree); not for coils and discrete inputs */
  scale: z.number().optional(),
}).strict().superRefine((p, ctx) => {
  const issue = (key: string, message: string): void => { ctx.addIssue({ code: 'custom', path: [key], message }) }
  if (BIT_FUNCTIONS.includes(p.function)) {
    for (const key of ['type', 'wordOrder', 'scale'] as const) if (p[key] !== undefined) issue(key, `${p.function} are bits: "${key}" is for registers`)
  }
  if (p.count > MAX_COUNT[p.function]) issue('count', `at most ${MAX_COUNT[p.function]} ${p.function} per read`)
  if (p.address + p.count > 0x10000) issue('count', `addresses ${p.address}..${p.address + p.count - 1} go past 65535`)
  const wide = p.type === 'uint32' || p.type === 'int32' || p.type === 'float32'
  if (wide && p.count % 2 !== 0) issue('count', `${p.type} values take two registers each: count must be even`)
  if (!wide && p.wordOrder !== undefined) issue('wordOrder', 'word order is for 32-bit types')
})

export const config = z.object({
  ...portFields,
  /** how long one attempt waits for the whole answer */
  timeoutMs: z.number().int().min(10).default(1000),
  /** attempts after the first, on a timeout or a bad CRC */
  retries: z.number().int().min(0).max(10).default(1),
  /** the least silence before each request; the gap is 3.5 characters at the baud rate anyway (4 ms at 9600) */
  interFrameDelayMs: z.number().int().min(0).max(1000).optional(),
  /** the RS-485 transceiver echoes every request back: skip the echo (checked against the request) */
  echo: z.boolean().default(false),
  polls: z.array(poll).default([]),
}).strict().superRefine(checkPortChoice).superRefine((c, ctx) => {
  const seen = new Set<string>()
  c.polls.forEach((p, i) => {
    if (seen.has(p.name)) ctx.addIssue({ code: 'custom', path: ['polls', i, 'name'], message: `a poll named "${p.name}" comes earlier` })
    seen.add(p.name)
  })
})

export type Config = z.infer<typeof config>
export type PollConfig = Config['polls'][number]

export const claims = portClaims
