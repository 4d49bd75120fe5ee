// The built-in extensions, in start order (stopped in reverse).
import type { ExtensionFactory } from './extension.js'

export const builtinExtensions: ExtensionFactory[] = []
