// Natural ordering as docker sorts `ls` rows (fvbommel/sortorder.NaturalLess): digit runs compare as numbers,
// so 1-foo < 2-foo < 10-foo. Byte-wise like Go, so that non-ASCII names sort the same way too.

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

type Bytes = { readonly length: number; readonly [i: number]: number };

// ASCII strings compare the same as their UTF-8 bytes: skip the encoding (sorting 10,000 names calls this a lot).
function bytesOf(s: string): Bytes {
  if (/^[\x00-\x7f]*$/.test(s)) {
    const codes = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) codes[i] = s.charCodeAt(i);
    return codes;
  }
  return Buffer.from(s, 'utf8');
}

export function naturalLess(a: string, b: string): boolean {
  const s1 = bytesOf(a);
  const s2 = bytesOf(b);
  let i1 = 0;
  let i2 = 0;
  while (i1 < s1.length && i2 < s2.length) {
    const c1 = s1[i1]!;
    const c2 = s2[i2]!;
    const d1 = isDigit(c1);
    const d2 = isDigit(c2);
    if (d1 !== d2) return d1; // digits sort before other characters
    if (!d1) {
      if (c1 !== c2) return c1 < c2;
      i1++;
      i2++;
      continue;
    }
    // Both at a digit run: skip leading zeros, then compare by length, then by digits, then by zero count.
    while (i1 < s1.length && s1[i1] === 0x30) i1++;
    while (i2 < s2.length && s2[i2] === 0x30) i2++;
    const nz1 = i1;
    const nz2 = i2;
    while (i1 < s1.length && isDigit(s1[i1]!)) i1++;
    while (i2 < s2.length && isDigit(s2[i2]!)) i2++;
    const len1 = i1 - nz1;
    const len2 = i2 - nz2;
    if (len1 !== len2) return len1 < len2;
    for (let k = 0; k < len1; k++) {
      const x = s1[nz1 + k]!;
      const y = s2[nz2 + k]!;
      if (x !== y) return x < y;
    }
    if (nz1 !== nz2) return nz1 < nz2;
  }
  return s1.length < s2.length; // identical so far: the one that ends first sorts first
}

/** A comparator for Array.prototype.sort built on naturalLess. */
export function naturalCompare(a: string, b: string): number {
  if (naturalLess(a, b)) return -1;
  if (naturalLess(b, a)) return 1;
  return 0;
}
