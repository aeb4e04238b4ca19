/**
 * The checksum Flyway stores for a SQL migration: CRC-32 (java.util.zip.CRC32) fed each line of
 * the file without its terminator (BufferedReader.readLine splits on \n, \r\n and a lone \r), a
 * leading byte-order mark dropped, as a signed 32-bit integer. Line endings therefore never change
 * it, and `flyway validate` accepts a file ship applied.
 */
const TABLE = (() => {
  const table = new Int32Array(256);
  for (let byte = 0; byte < 256; byte++) {
    let value = byte;
    for (let bit = 0; bit < 8; bit++) value = value & 1 ? 0xedb88320 ^ (value >>> 1) : value >>> 1;
    table[byte] = value;
  }
  return table;
})();

function crc32(bytes: Uint8Array): number {
  let crc = -1;
  for (const byte of bytes) crc = (TABLE[(crc ^ byte) & 0xff] as number) ^ (crc >>> 8);
  return ~crc;
}

export function flywayChecksum(text: string): number {
  // Feeding the lines one after another is feeding their concatenation: the text without terminators.
  const withoutBom = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  return crc32(Buffer.from(withoutBom.replace(/[\r\n]/g, ''), 'utf8')) | 0;
}
