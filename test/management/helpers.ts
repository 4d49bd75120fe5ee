// Shared by the management and CLI tests: operators with real password hashes, the manifest on disk as the
// gateway would load it, the audit log, and the CLI run as a real process.
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { hashPassword } from '../../core/broker/credentials.js'
import { loadManifest } from '../../core/manifest/load.js'
import type { AuditRecord } from '../../core/management/audit.js'

export const PASSWORDS = { admin: 'admin-secret-1', viewer: 'viewer-secret-1' }

export async function operators (): Promise<Array<{ user: string, role: string, passwordHash: string }>> {
  return [
    { user: 'admin', role: 'admin', passwordHash: await hashPassword(PASSWORDS.admin) },
    { user: 'viewer', role: 'viewer', passwordHash: await hashPassword(PASSWORDS.viewer) },
  ]
}

/** compiled fixtures of this folder: build/test/management/fixtures/<name>.js */
export function managementFixture (name: string): string {
  return fileURLToPath(new URL(`./fixtures/${name}.js`, import.meta.url))
}

/** the manifest file as JSON, and proof that the gateway would load it as it is */
export async function manifestOnDisk (file: string): Promise<any> {
  await loadManifest(file) // throws when invalid
  return JSON.parse(readFileSync(file, 'utf8'))
}

export function auditRecords (dir: string): AuditRecord[] {
  let text = ''
  try {
    text = readFileSync(path.join(dir, 'audit.log'), 'utf8')
  } catch {
    return []
  }
  return text.split('\n').filter(l => l !== '').map(l => JSON.parse(l) as AuditRecord)
}

export const CLI = fileURLToPath(new URL('../../core/cli/main.js', import.meta.url))

export interface CliResult { code: number | null, stdout: string, stderr: string }

/** runs `outpost <args>` as a real process; kills it if it outlives timeoutMs */
export function cli (args: string[], env: Record<string, string> = {}, input?: string, timeoutMs = 30_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', chunk => { stdout += chunk })
    child.stderr.on('data', chunk => { stderr += chunk })
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`outpost ${args.join(' ')}: still running after ${timeoutMs} ms; stdout: ${stdout}; stderr: ${stderr}`))
    }, timeoutMs)
    child.once('error', reject)
    child.once('close', code => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
    child.stdin.end(input ?? '')
  })
}
