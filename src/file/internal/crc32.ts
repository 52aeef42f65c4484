/**
 * CRC-32 (IEEE 802.3, the polynomial of zip and PNG), table-driven. Written out
 * here rather than taken from `node:zlib` so the file store runs on any
 * platform's `FileSystem` and on every Node 20 release.
 */

const table: Uint32Array = (() => {
  const t = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    t[n] = c >>> 0
  }
  return t
})()

/** The CRC-32 of `bytes[from, to)`, an unsigned 32-bit integer. */
export const crc32 = (bytes: Uint8Array, from = 0, to = bytes.length): number => {
  let c = 0xffffffff
  for (let i = from; i < to; i++) c = table[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}
