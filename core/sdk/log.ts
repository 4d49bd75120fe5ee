// Module logging: one line per entry on stdout, prefixed with its syslog priority in the sd-daemon style
// (`<3>` error, `<4>` warning, `<6>` info, `<7>` debug). The core reads the prefix to keep levels, so a
// module in any language logs by printing lines; an unprefixed stdout line is info, stderr is error.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error'

export interface Logger {
  debug (message: string, fields?: Record<string, unknown>): void
  info (message: string, fields?: Record<string, unknown>): void
  warn (message: string, fields?: Record<string, unknown>): void
  error (message: string, fields?: Record<string, unknown>): void
}

export const priorities: Record<LogLevel, number> = { error: 3, warn: 4, info: 6, debug: 7 }

function format (fields: Record<string, unknown> | undefined): string {
  if (fields === undefined) return ''
  let out = ''
  for (const [key, value] of Object.entries(fields)) {
    const text = value instanceof Error ? value.message : typeof value === 'string' ? value : JSON.stringify(value)
    out += ` ${key}=${/[\s"=]/.test(text ?? '') ? JSON.stringify(text) : text}`
  }
  return out
}

export function createLogger (level: string, write: (line: string) => void = line => { process.stdout.write(line) }): Logger {
  const threshold = priorities[level as LogLevel] ?? priorities.info
  const at = (name: LogLevel) => (message: string, fields?: Record<string, unknown>): void => {
    const priority = priorities[name]
    if (priority > threshold) return
    write(`<${priority}>${message.replaceAll('\n', ' ')}${format(fields)}\n`)
  }
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }
}
