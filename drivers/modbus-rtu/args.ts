// RPC arguments, checked for shape here; the Modbus layer checks them against the protocol's limits
// (unit 1..247, counts, 0..65535) and answers BAD_ARGUMENTS too.
import { OutpostError } from '../../core/sdk/index.js'
import type { Decoding, RegisterType } from './decode.js'

export type ReadFunction = 'coils' | 'discrete' | 'holding' | 'input'

type Args = Record<string, unknown>

const FUNCTIONS: readonly string[] = ['coils', 'discrete', 'holding', 'input']
const TYPES: readonly string[] = ['uint16', 'int16', 'uint32', 'int32', 'float32']

function bad (usage: string, why: string): never {
  throw new OutpostError('BAD_ARGUMENTS', `${why}; expected ${usage}`)
}

function object (args: unknown, usage: string): Args {
  if (typeof args !== 'object' || args === null || Array.isArray(args)) bad(usage, 'no arguments')
  return args as Args
}

function integer (args: Args, key: string, usage: string): number {
  const value = args[key]
  if (typeof value !== 'number' || !Number.isInteger(value)) bad(usage, `${key} must be an integer, not ${JSON.stringify(value) ?? 'missing'}`)
  return value
}

/** a coil value: true/false or 1/0 */
function bit (value: unknown, key: string, usage: string): boolean {
  if (value === true || value === 1) return true
  if (value === false || value === 0) return false
  return bad(usage, `${key} must be true/false or 1/0, not ${JSON.stringify(value) ?? 'missing'}`)
}

function list (args: Args, usage: string): unknown[] {
  const values = args.values
  if (!Array.isArray(values) || values.length === 0) bad(usage, 'values must be a non-empty array')
  return values
}

const READ = '{ unit, function: "coils"|"discrete"|"holding"|"input", address, count, type?, wordOrder?, scale? }'

export function readArgs (input: unknown): { unit: number, function: ReadFunction, address: number, count: number, decoding: Decoding } {
  const args = object(input, READ)
  const fn = args.function
  if (typeof fn !== 'string' || !FUNCTIONS.includes(fn)) bad(READ, `function must be coils, discrete, holding or input, not ${JSON.stringify(fn) ?? 'missing'}`)
  const decoding: Decoding = {}
  if (args.type !== undefined) {
    if (typeof args.type !== 'string' || !TYPES.includes(args.type)) bad(READ, `type must be one of ${TYPES.join(', ')}`)
    decoding.type = args.type as RegisterType
  }
  if (args.wordOrder !== undefined) {
    if (args.wordOrder !== 'big' && args.wordOrder !== 'little') bad(READ, 'wordOrder must be big or little')
    decoding.wordOrder = args.wordOrder
  }
  if (args.scale !== undefined) {
    if (typeof args.scale !== 'number' || !Number.isFinite(args.scale)) bad(READ, 'scale must be a number')
    decoding.scale = args.scale
  }
  if ((fn === 'coils' || fn === 'discrete') && Object.keys(decoding).length > 0) bad(READ, `${fn} are bits: type, wordOrder and scale are for registers`)
  const count = integer(args, 'count', READ)
  const wide = decoding.type === 'uint32' || decoding.type === 'int32' || decoding.type === 'float32'
  if (wide && count % 2 !== 0) bad(READ, `${decoding.type} values take two registers each: count must be even, not ${count}`)
  if (!wide && decoding.wordOrder !== undefined) bad(READ, 'wordOrder is for 32-bit types')
  return { unit: integer(args, 'unit', READ), function: fn as ReadFunction, address: integer(args, 'address', READ), count, decoding }
}

export function writeCoilArgs (input: unknown): { unit: number, address: number, value: boolean } {
  const usage = '{ unit, address, value: true|false }'
  const args = object(input, usage)
  return { unit: integer(args, 'unit', usage), address: integer(args, 'address', usage), value: bit(args.value, 'value', usage) }
}

export function writeRegisterArgs (input: unknown): { unit: number, address: number, value: number } {
  const usage = '{ unit, address, value: 0..65535 }'
  const args = object(input, usage)
  return { unit: integer(args, 'unit', usage), address: integer(args, 'address', usage), value: integer(args, 'value', usage) }
}

export function writeCoilsArgs (input: unknown): { unit: number, address: number, values: boolean[] } {
  const usage = '{ unit, address, values: [true|false, …] }'
  const args = object(input, usage)
  return { unit: integer(args, 'unit', usage), address: integer(args, 'address', usage), values: list(args, usage).map((v, i) => bit(v, `values[${i}]`, usage)) }
}

export function writeRegistersArgs (input: unknown): { unit: number, address: number, values: number[] } {
  const usage = '{ unit, address, values: [0..65535, …] }'
  const args = object(input, usage)
  const values = list(args, usage).map((v, i) => {
    if (typeof v !== 'number' || !Number.isInteger(v)) bad(usage, `values[${i}] must be an integer, not ${JSON.stringify(v)}`)
    return v
  })
  return { unit: integer(args, 'unit', usage), address: integer(args, 'address', usage), values }
}
