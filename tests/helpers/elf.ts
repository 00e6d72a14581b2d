// reads what a shared library needs and which CUDA code it carries, straight
// from its ELF file (no binutils, no cuobjdump: neither is on every machine).
//   neededLibraries: the DT_NEEDED entries of .dynamic (what `ldd` starts from)
//   cudaImages: the entries of the .nv_fatbin section, as `cuobjdump
//     --list-elf` (machine code, SASS) and `--list-ptx` list them
// the fat binary layout: a container header { u32 magic 0xBA55ED50, u16
// version, u16 header size, u64 payload size } then entries { u16 kind (1 PTX,
// 2 ELF), u16 version, u32 header size, u64 payload size, ..., u32 arch at
// byte 28 (90 for sm_90) }, each followed by its payload.
import fs from 'fs';

interface Section {
  name: string;
  type: number;
  offset: number;
  size: number;
  link: number;
}

function sections(buf: Buffer, file: string): Section[] {
  if (buf.readUInt32BE(0) !== 0x7f454c46 || buf[4] !== 2 || buf[5] !== 1) throw new Error(`${file}: not a little-endian 64-bit ELF file`);
  const shoff = Number(buf.readBigUInt64LE(0x28));
  const shentsize = buf.readUInt16LE(0x3a);
  const shnum = buf.readUInt16LE(0x3c);
  const shstrndx = buf.readUInt16LE(0x3e);
  const raw = Array.from({ length: shnum }, (_, i) => {
    const at = shoff + i * shentsize;
    return {
      nameAt: buf.readUInt32LE(at),
      type: buf.readUInt32LE(at + 4),
      offset: Number(buf.readBigUInt64LE(at + 0x18)),
      size: Number(buf.readBigUInt64LE(at + 0x20)),
      link: buf.readUInt32LE(at + 0x28),
    };
  });
  const names = raw[shstrndx];
  return raw.map((s) => ({ ...s, name: cString(buf, names.offset + s.nameAt) }));
}

function cString(buf: Buffer, at: number): string {
  return buf.toString('latin1', at, buf.indexOf(0, at));
}

/** the shared libraries the file names in DT_NEEDED */
export function neededLibraries(file: string): string[] {
  const buf = fs.readFileSync(file);
  const all = sections(buf, file);
  const dynamic = all.find((s) => s.name === '.dynamic');
  if (!dynamic) return [];
  const strings = all[dynamic.link];
  const out: string[] = [];
  for (let at = dynamic.offset; at + 16 <= dynamic.offset + dynamic.size; at += 16) {
    const tag = buf.readBigInt64LE(at);
    if (tag === 0n) break; // DT_NULL
    if (tag === 1n) out.push(cString(buf, strings.offset + Number(buf.readBigUInt64LE(at + 8)))); // DT_NEEDED
  }
  return out;
}

/** the architectures with machine code (SASS) and with PTX in the file's fat binaries, sorted, each once */
export function cudaImages(file: string): { sass: number[]; ptx: number[] } {
  const buf = fs.readFileSync(file);
  const fatbin = sections(buf, file).find((s) => s.name === '.nv_fatbin');
  const sass = new Set<number>(), ptx = new Set<number>();
  if (fatbin) {
    const end = fatbin.offset + fatbin.size;
    let at = fatbin.offset;
    while (at + 16 <= end) {
      // containers are 8-byte aligned, with padding between them
      if (buf.readUInt32LE(at) !== 0xba55ed50) {
        at += 8;
        continue;
      }
      const entriesEnd = at + buf.readUInt16LE(at + 6) + Number(buf.readBigUInt64LE(at + 8));
      let entry = at + buf.readUInt16LE(at + 6);
      while (entry < entriesEnd) {
        const kind = buf.readUInt16LE(entry);
        const arch = buf.readUInt32LE(entry + 28);
        if (kind === 1) ptx.add(arch);
        else if (kind === 2) sass.add(arch);
        else throw new Error(`${file}: fat binary entry of unknown kind ${kind} at byte ${entry}`);
        entry += buf.readUInt32LE(entry + 4) + Number(buf.readBigUInt64LE(entry + 8));
      }
      at = entriesEnd;
    }
  }
  const sorted = (s: Set<number>) => [...s].sort((a, b) => a - b);
  return { sass: sorted(sass), ptx: sorted(ptx) };
}
