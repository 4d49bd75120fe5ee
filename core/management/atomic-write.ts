// Replacing a file so that a power cut at any moment leaves either the old or the new content, never a
// mix or nothing: write a temporary file beside it, fsync it, rename it over the old one (atomic within a
// file system), then fsync the folder so the rename itself is on disk. Called through the `fs` object so a
// test can inject a fault between the steps.
import fs from 'node:fs'
import path from 'node:path'

export async function writeFileAtomic (file: string, text: string): Promise<void> {
  const dir = path.dirname(file)
  const temp = path.join(dir, `.${path.basename(file)}.${process.pid}.tmp`)
  let mode = 0o600
  try {
    mode = (await fs.promises.stat(file)).mode & 0o777 // keep the manifest's permissions (it holds password hashes)
  } catch {
    // a new file: owner only
  }
  try {
    const handle = await fs.promises.open(temp, 'w', mode)
    try {
      await handle.writeFile(text)
      await handle.sync()
    } finally {
      await handle.close()
    }
    await fs.promises.rename(temp, file)
  } catch (err) {
    await fs.promises.rm(temp, { force: true })
    throw err
  }
  const folder = await fs.promises.open(dir, 'r')
  try {
    await folder.sync()
  } finally {
    await folder.close()
  }
}
