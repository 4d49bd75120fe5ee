// The MQTT 3.1.1 PUBLISH packet [MQTT-3.3], encoded into one buffer: the hot path of both the module SDK's
// client and the broker's direct delivery (broker/direct.ts), so each message costs one allocation and one write.

/** `tail`: written after `payload`, as more of it (a traced request's context: trace-context.ts contextEntries) */
export function encodePublish (topic: string, payload: Buffer, retain: boolean, qos: 0 | 1, messageId: number, tail?: Buffer): Buffer {
  const topicLength = Buffer.byteLength(topic)
  const remaining = 2 + topicLength + (qos === 1 ? 2 : 0) + payload.length + (tail === undefined ? 0 : tail.length)
  let lengthBytes = 1
  for (let n = remaining; n > 127; n = Math.floor(n / 128)) lengthBytes++
  const out = Buffer.allocUnsafe(1 + lengthBytes + remaining)
  out[0] = 0x30 | (qos << 1) | (retain ? 1 : 0)
  let offset = 1
  let n = remaining
  do {
    let byte = n % 128
    n = Math.floor(n / 128)
    if (n > 0) byte |= 0x80
    out[offset++] = byte
  } while (n > 0)
  out.writeUInt16BE(topicLength, offset)
  offset += 2
  offset += out.write(topic, offset)
  if (qos === 1) {
    out.writeUInt16BE(messageId, offset)
    offset += 2
  }
  payload.copy(out, offset)
  if (tail !== undefined) tail.copy(out, offset + payload.length)
  return out
}
