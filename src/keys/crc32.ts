// CRC-32 (IEEE 802.3, the zlib polynomial). Written by hand because it is a dozen lines
// and the npm packages for it ship CommonJS with Node-only code paths; Web Crypto has no CRC.
const TABLE = new Uint32Array(256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  TABLE[n] = c >>> 0;
}

/** CRC-32 of a string's UTF-16 code units; keys are ASCII, so this equals the CRC of their bytes. */
export function crc32(text: string): number {
  let crc = 0xffffffff;
  for (let i = 0; i < text.length; i++) crc = TABLE[(crc ^ text.charCodeAt(i)) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
