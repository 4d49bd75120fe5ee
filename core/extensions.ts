// The built-in extensions, in start order (stopped in reverse).
import type { ExtensionFactory } from './extension.js'
import { memoryWatch } from './supervisor/memory-watch.js'
import { managementExtension } from './management/extension.js'
import { updateExtension } from './update/extension.js'

export const builtinExtensions: ExtensionFactory[] = [memoryWatch, managementExtension, updateExtension]
