// The one registry of Outpost error codes. Every error the project raises or sends on the wire carries one of
// these codes; docs/protocol.md (wire codes) and docs/errors.md (all codes) list the same set, which a test
// checks both ways. A code is never reused for a different meaning.

export const errorCodes = {
  // ── RPC wire codes (sent in reply envelopes; see docs/protocol.md) ──
  TIMEOUT: 'The call got no reply within its timeout.',
  NO_SUCH_MODULE: 'The gateway\'s manifest has no module of that name.',
  NO_SUCH_METHOD: 'The module does not declare that method.',
  BAD_ARGUMENTS: 'The method rejected its arguments.',
  BAD_REQUEST: 'The request could not be decoded or lacks a required envelope field.',
  HANDLER_FAILED: 'The method handler threw or rejected.',
  UNAVAILABLE: 'The module is known but has no live instance to take the call (details: its state), or the instance serving the call stopped before replying.',
  NOT_AUTHORISED: 'The caller may not perform this call.',
  CONFLICT: 'The request conflicts with the current state (e.g. starting a running module).',
  TOO_MANY_CALLS: 'Too many calls are in flight (from this caller to that instance, from this identity over all its connections, or through the gateway; details.limit says which): the call was refused, nothing was delivered.',
  NOT_FOUND: 'The thing the call names does not exist (e.g. a trace the tracing module does not hold).',
  TOO_LARGE: 'The answer was larger than the way back to the caller carries (details: its size in bytes and the limit), so an error was sent in its place; ask for less.',

  // ── Core ──
  MANIFEST_NOT_FOUND: 'The manifest file does not exist or cannot be read.',
  MANIFEST_SYNTAX: 'The manifest file is not valid JSON.',
  MANIFEST_INVALID: 'The manifest does not match its schema.',
  CHECKER_FAILED: 'The manifest checker process failed to run or gave no usable answer; the manifest was not checked.',
  BOARD_NOT_FOUND: 'The manifest names a board that has no definition.',
  BOARD_INVALID: 'A board definition does not match its schema.',
  RESOURCE_UNKNOWN: 'A module names a pin, port or bus the board does not have.',
  RESOURCE_CONFLICT: 'Two modules claim the same pin, port or bus.',
  BUDGET_EXCEEDS_BOARD: 'The memory budgets add up to more than the board can give.',
  ENTRY_NOT_FOUND: 'A module entry does not resolve to a runnable program.',
  BROKER_LISTEN: 'The broker could not listen on a configured address.',
  METRICS_LISTEN: 'The metrics module could not listen on its configured address (in use, or not an address of this machine).',
  NOT_CONNECTED: 'The module is not connected to the broker.',
  MODULE_ENV: 'A module process was started without the environment the core gives it.',
  HOOK_UNDECLARED: 'A module emitted a hook it did not declare.',
  MANIFEST_WRITE: 'A management change could not be written to the manifest on disk; nothing was changed.',
  GATEWAY_UNREACHABLE: 'The CLI could not connect to the gateway, or the connection was lost.',
  BAD_REPLY: 'The CLI could not read what the gateway (or a fleet\'s upstream) sent: an answer or a message not of the shape or range it should have; the command stopped with this one sentence.',
  CGROUP_SETUP: 'A module\'s memory cgroup could not be created, configured or removed.',
  RUNTIME_DIR: 'The runtime folder could not be created, or belongs to another user, is a symlink or can be written by other users.',

  // ── Releases and updates (docs/deploy.md) ──
  RELEASE_BUILD: 'A release bundle could not be built for a target (no Node binary for it, a download failed, a binary of the wrong architecture).',
  RELEASE_INVALID: 'A release bundle is malformed: not a gzip tar, a forbidden entry (link, device, a path leaving its folder), too large (unpacked, or decompressed), anything but up to 64 KiB of zeros after the tar\'s end marker, or files that do not match its release.json.',
  RELEASE_SIGNATURE: 'A release bundle carries no valid signature by a key the gateway trusts.',
  RELEASE_TARGET: 'A release bundle was built for another target than this gateway, or a module bundle for another module (or it is not the kind of bundle the update asked for).',
  UPDATE_DOWNLOAD: 'An update bundle or its signature could not be downloaded: a refused URL, an HTTP error, more bytes than allowed, or no answer in time.',
  UPDATE_UNSUPPORTED: 'This cannot be updated this way: a release update needs a core started by outpost-boot from an installed release; a module update needs a module whose entry is a JavaScript file of its own (not a shipped program, a command or a built-in module) (docs/deploy.md).',
  UPDATE_ROLLED_BACK: 'A module update failed its health check: the module was switched back to its previous program and restarted; the message and details say why.',

  // ── Hardware layers ──
  GPIO_LINE_UNKNOWN: 'The board has no GPIO line of that name.',
  GPIO_CHIP_NOT_FOUND: 'No GPIO chip with the board\'s label exists on this machine.',
  GPIO_BACKEND: 'The GPIO backend failed (tool missing, bad output, or permission denied).',
  GPIO_DIRECTION: 'The operation does not fit the line\'s direction (e.g. writing an input).',
  SERIAL_NOT_FOUND: 'The serial port does not exist.',
  SERIAL_BUSY: 'The serial port is already open elsewhere.',
  SERIAL_PERMISSION: 'The process may not open the serial port.',
  SERIAL_DISCONNECTED: 'The serial port went away.',
  SERIAL_WRITE_TIMEOUT: 'A queued write did not complete in time.',
  SERIAL_SETTINGS: 'The serial port did not take the requested settings (read back after opening).',
  MODBUS_TIMEOUT: 'The Modbus slave did not answer in time.',
  MODBUS_CRC: 'A Modbus frame failed its CRC check.',
  MODBUS_EXCEPTION: 'The Modbus slave answered with an exception code.',
  MODBUS_ECHO: 'The echo of a Modbus request (RS-485 transceiver with echo) did not match the request sent.',
} as const

export type ErrorCode = keyof typeof errorCodes

export class OutpostError extends Error {
  readonly code: ErrorCode
  readonly details: Readonly<Record<string, unknown>> | undefined

  constructor (code: ErrorCode, message: string, options: { details?: Record<string, unknown>, cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'OutpostError'
    this.code = code
    this.details = options.details
  }
}

export function isErrorCode (value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(errorCodes, value)
}
