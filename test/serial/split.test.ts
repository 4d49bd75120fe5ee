// The bounded frame splitter and SLIP decoder on their own (issue 10 G4): every way a delimiter can fall
// across chunks, frames exactly at the limit and one byte past it, and what follows a dropped frame.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createSplitter } from '../../drivers/lib/serial/split.js'
import { createSlipDecoder } from '../../drivers/lib/serial/slip.js'

function collect (delimiter: string, max: number) {
  const frames: string[] = []
  let overflows = 0
  const splitter = createSplitter(Buffer.from(delimiter), max, { frame: f => { frames.push(f.toString('latin1')) }, overflow: () => { overflows++ } })
  return { frames, overflows: () => overflows, push: (text: string) => { splitter.push(Buffer.from(text, 'latin1')) } }
}

test('issue 10 G4: a delimiter split across chunks at every position is found; every cut of the stream gives the same frames; two delimiters in a row make no frame', () => {
  const stream = 'ab<END>cde<END><END>f<EN<END>g'
  const expected = ['ab', 'cde', 'f<EN']
  for (let cut1 = 0; cut1 <= stream.length; cut1++) {
    for (let cut2 = cut1; cut2 <= stream.length; cut2++) {
      const s = collect('<END>', 100)
      s.push(stream.slice(0, cut1))
      s.push(stream.slice(cut1, cut2))
      s.push(stream.slice(cut2))
      assert.deepEqual(s.frames, expected, `cuts at ${cut1} and ${cut2}`)
    }
  }
  // one byte at a time
  const s = collect('\r\n', 100)
  for (const ch of 'one\r\ntwo\r\r\nthree\n\r\n') s.push(ch)
  assert.deepEqual(s.frames, ['one', 'two\r', 'three\n'])
})

test('issue 10 G4: a frame at the limit passes, one byte more is dropped up to the next delimiter and counted', () => {
  for (const delimiter of ['\n', '\r\n', '<END>']) {
    for (const chunk of [1, 3, 1000]) {
      const s = collect(delimiter, 8)
      const text = `12345678${delimiter}123456789${delimiter}after${delimiter}` + 'x'.repeat(50) + `${delimiter}ok${delimiter}`
      for (let i = 0; i < text.length; i += chunk) s.push(text.slice(i, i + chunk))
      assert.deepEqual(s.frames, ['12345678', 'after', 'ok'], `delimiter ${JSON.stringify(delimiter)}, chunks of ${chunk}`)
      assert.equal(s.overflows(), 2)
    }
  }
  // 5 MiB without a delimiter: one overflow, nothing held, and the line after it arrives whole
  const s = collect('\n', 65_536)
  const block = 'y'.repeat(4096)
  for (let i = 0; i < 1280; i++) s.push(block)
  s.push('tail\nnext line\n')
  assert.deepEqual(s.frames, ['next line'])
  assert.equal(s.overflows(), 1)
})

test('issue 10 G4: SLIP packets bounded: at the limit kept, past it dropped up to the next END', () => {
  const frames: Buffer[] = []
  let overflows = 0
  const slip = createSlipDecoder(4, { frame: f => { frames.push(f) }, overflow: () => { overflows++ } })
  slip.push(Buffer.from([0xc0, 1, 2, 0xdb, 0xdc, 4, 0xc0, 1, 2, 3, 4, 5, 6, 0xc0, 7, 0xdb]))
  slip.push(Buffer.from([0xdd, 0xc0]))
  assert.deepEqual(frames, [Buffer.from([1, 2, 0xc0, 4]), Buffer.from([7, 0xdb])])
  assert.equal(overflows, 1)
})
