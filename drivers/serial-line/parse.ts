// Turning one line of text into the data of a hook, or undefined when the line does not match the parser.
import type { ParserConfig } from './schema.js'

export type LineParser = (line: string) => Record<string, unknown> | undefined

const NUMERIC = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/

/** a number when the text is one (`21.5`, `-3`, `1e3`), the text otherwise */
export function toValue (text: string): string | number {
  const trimmed = text.trim()
  return NUMERIC.test(trimmed) ? Number(trimmed) : text
}

function regexParser (pattern: string, fields: string[] | undefined): LineParser {
  const re = new RegExp(pattern)
  return line => {
    const match = re.exec(line)
    if (match === null) return undefined
    // Object.fromEntries makes own properties, so a field called __proto__ is just a field
    if (match.groups !== undefined) {
      return Object.fromEntries(Object.entries(match.groups).map(([name, text]) => [name, text === undefined ? null : toValue(text)]))
    }
    if (fields !== undefined) return Object.fromEntries(fields.map((name, i) => [name, match[i + 1] === undefined ? null : toValue(match[i + 1] ?? '')]))
    return { line }
  }
}

function keyValueParser (pairSeparator: string | undefined, kvSeparator: string): LineParser {
  return line => {
    const pieces = pairSeparator === undefined ? line.trim().split(/\s+/) : line.split(pairSeparator)
    const entries: Array<[string, string | number]> = []
    for (const piece of pieces.map(p => p.trim())) {
      if (piece === '') continue
      const at = piece.indexOf(kvSeparator)
      // every piece must be a pair: a line with stray words is not a reading
      if (at <= 0) return undefined
      entries.push([piece.slice(0, at).trim(), toValue(piece.slice(at + kvSeparator.length).trim())])
    }
    return entries.length === 0 ? undefined : Object.fromEntries(entries)
  }
}

export function createLineParser (config: ParserConfig): LineParser {
  switch (config.type) {
    case 'raw': return line => ({ line })
    case 'regex': return regexParser(config.pattern, config.fields)
    case 'keyvalue': return keyValueParser(config.pairSeparator, config.kvSeparator)
  }
}
