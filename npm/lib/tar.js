'use strict';
// Reads one regular file out of an uncompressed tar archive (ustar/GNU/pax headers), as
// build.sh writes them: the archive holds the binary alone. Nothing is written to disk
// here, and no member path is ever used as a file name.

class TarError extends Error {}

function field(header, offset, length) {
  const raw = header.subarray(offset, offset + length);
  const end = raw.indexOf(0);
  return raw.subarray(0, end === -1 ? length : end).toString('utf8');
}

function octal(header, offset, length) {
  const text = field(header, offset, length).trim();
  if (!/^[0-7]*$/.test(text)) throw new TarError('corrupt tar header (size field)');
  return text ? parseInt(text, 8) : 0;
}

function checksumOk(header) {
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : header[i];
  return sum === octal(header, 148, 8);
}

// pax records "LEN key=value\n" ...: the path, when one is given. LEN counts the bytes
// of the whole record, itself included; a record that does not fit that shape is an
// error, so each turn of the loop moves forward by at least "1 k=\n".
function paxPath(data) {
  let path = null;
  let pos = 0;
  while (pos < data.length) {
    const bad = (why) => new TarError(`corrupt pax header: ${why} (record at byte ${pos})`);
    const space = data.indexOf(0x20, pos);
    const lenText = space === -1 ? '' : data.toString('latin1', pos, space);
    if (!/^[1-9][0-9]{0,9}$/.test(lenText)) throw bad('the record does not start with its length');
    const end = pos + Number(lenText);
    if (end <= space + 3 || end > data.length) throw bad(`length ${lenText} does not fit the header`);
    if (data[end - 1] !== 0x0a) throw bad('the record does not end with a newline');
    const record = data.toString('utf8', space + 1, end - 1);
    const eq = record.indexOf('=');
    if (eq < 1) throw bad('no key=value');
    if (record.slice(0, eq) === 'path') path = record.slice(eq + 1);
    pos = end;
  }
  return path;
}

// extractMember(tarBuffer, name): the contents of the regular file called name
// (a leading "./" is ignored); throws TarError when it is missing or the archive is corrupt.
function extractMember(buf, name) {
  const seen = [];
  let offset = 0;
  let longName = null;
  // Each turn moves offset forward by at least one 512-byte block.
  while (offset + 512 <= buf.length) {
    const header = buf.subarray(offset, offset + 512);
    if (header.every((b) => b === 0)) break;
    if (!checksumOk(header)) throw new TarError(`corrupt tar header at byte ${offset}`);
    const size = octal(header, 124, 12);
    const type = String.fromCharCode(header[156] || 48);
    const dataStart = offset + 512;
    const dataEnd = dataStart + size;
    if (dataEnd > buf.length) throw new TarError('tar archive ends inside a member');
    const data = buf.subarray(dataStart, dataEnd);
    offset = dataStart + Math.ceil(size / 512) * 512;
    if (type === 'L') { longName = field(data, 0, data.length); continue; }
    if (type === 'x') { longName = paxPath(data) || longName; continue; }
    if (type === 'g') continue;
    const prefix = field(header, 345, 155);
    let path = longName || (prefix ? `${prefix}/${field(header, 0, 100)}` : field(header, 0, 100));
    longName = null;
    path = path.replace(/^\.\//, '');
    seen.push(path);
    if (path === name) {
      if (type !== '0') throw new TarError(`${name} in the archive is not a regular file`);
      return Buffer.from(data);
    }
  }
  throw new TarError(`the archive has no ${name} (it has: ${seen.join(', ') || 'nothing'})`);
}

module.exports = { TarError, extractMember };
