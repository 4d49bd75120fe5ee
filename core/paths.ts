// Where things are, from the compiled core's own location (build/core/paths.js).
import { fileURLToPath } from 'node:url'
import path from 'node:path'

/** the repository / install root: holds boards/, build/, package.json */
export const installRoot = path.resolve(fileURLToPath(new URL('../../', import.meta.url)))
/** compiled JavaScript: build/core, build/drivers, build/modules */
export const buildRoot = path.join(installRoot, 'build')
export const boardsDir = path.join(installRoot, 'boards')
export const defaultManifest = path.join(installRoot, 'core', 'default-manifest.json')
