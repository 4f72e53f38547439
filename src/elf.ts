// A small ELF reader: just enough of a shared object to explain, before dlopen, why it would
// not load and what it contains. Reads with positioned reads on one fd (never the whole file),
// checks every offset against the file size, and reports every problem as a PluginError.
// Whatever the headers claim, a parse reads at most READ_BUDGET bytes and walks no table longer
// than what those bytes hold, so a hostile file costs bounded time and memory.

import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { endianness } from 'node:os';

import { PluginArchError, PluginError, PluginFormatError, PluginNotFoundError } from './errors.js';

export type ElfClass = 32 | 64;
export type ElfEndian = 'little' | 'big';

/** Class, byte order and machine of an ELF file or of this process. */
export interface ElfTarget {
  class: ElfClass;
  endian: ElfEndian;
  /** `e_machine` value (EM_X86_64 = 62, EM_AARCH64 = 183, ...). */
  machineCode: number;
  /** Conventional name: `x86_64`, `aarch64`, `i386`, ... */
  machine: string;
}

/** The ELF file header, after validation of the identification bytes. */
export interface ElfHeader extends ElfTarget {
  /** `e_type`: 1 ET_REL, 2 ET_EXEC, 3 ET_DYN, 4 ET_CORE. */
  type: number;
  osabi: number;
  phoff: number;
  phentsize: number;
  phnum: number;
  shoff: number;
  shentsize: number;
  shnum: number;
  shstrndx: number;
  /** Size of the file in bytes. */
  fileSize: number;
}

/** What rustplug needs to know about a shared object. */
export interface ElfInfo extends ElfHeader {
  /** The path as passed to `readElf`. */
  path: string;
  soname: string | null;
  /** `DT_NEEDED` names, in file order. */
  needed: string[];
  /** Raw `DT_RPATH` string (colon-separated, `$ORIGIN` unexpanded), or null. */
  rpath: string | null;
  /** Raw `DT_RUNPATH` string, or null. */
  runpath: string | null;
  /** `DT_FLAGS_1` (0 when absent). */
  flags1: number;
  /** `DF_1_PIE` is set: a position-independent executable (glibc ≥ 2.30 refuses to dlopen it). */
  pie: boolean;
  /** True when the file has section headers (false for `sstrip`ped files: names, comments and `.rustc` are then unknown). */
  hasSectionHeaders: boolean;
  /** Section names in file order. */
  sections: string[];
  /** A `.rustc` metadata section exists: a Rust `dylib`. */
  hasRustcSection: boolean;
  /** Non-empty strings of the `.comment` section (compiler and linker identification). */
  comments: string[];
  /** The compiler version from a `rustc version X` comment, in `rustc -V` form (`rustc X`), or null. */
  rustc: string | null;
  /** Defined GLOBAL/WEAK functions of default/protected visibility in `.dynsym`, sorted, unique. */
  exports: string[];
  /** Defined GLOBAL/WEAK data objects of default/protected visibility in `.dynsym`, sorted, unique. */
  exportedObjects: string[];
  /**
   * Rust runtime symbols (`__rust_*`, `rust_eh_personality`, Rust-mangled names) were seen in
   * `.dynsym`, or — only looked for when there is neither a `.rustc` section nor a rustc comment —
   * in `.symtab`.
   */
  rustSymbols: boolean;
  /** The exported data objects asked for with `ReadElfOptions.dataSymbols` that the file defines. */
  dataSymbols: DataSymbol[];
}

/** An exported data object and the bytes the file stores for it. */
export interface DataSymbol {
  name: string;
  /** `st_size`. */
  size: number;
  /** The first min(size, `maxDataBytes`) bytes as stored in the file, or null when the object has
   *  no bytes in the file (in `.bss`, or outside every loadable segment's file image). */
  bytes: Buffer | null;
}

export interface ReadElfOptions {
  /** Skip the check that class, byte order and machine match this process (for inspecting cross builds). */
  anyArch?: boolean;
  /** Read the exported symbols (default true); without them a parse reads only the headers,
   *  the dynamic section and `.comment`. */
  symbols?: boolean;
  /** Exported data objects (e.g. `RUSTPLUG_MANIFEST`) whose stored bytes to return, read with
   *  the same bounds as every table. */
  dataSymbols?: readonly string[];
  /** The most bytes read per data symbol (default 64 KiB). */
  maxDataBytes?: number;
}

export type PluginKind = 'cdylib' | 'rust-dylib' | 'c';

// ---------------------------------------------------------------------------------------------
// Constants

const ET_REL = 1;
const ET_EXEC = 2;
const ET_DYN = 3;
const ET_CORE = 4;

const SHT_SYMTAB = 2;
const SHT_STRTAB = 3;
const SHT_DYNAMIC = 6;
const SHT_NOBITS = 8;
const SHT_DYNSYM = 11;

const PT_LOAD = 1;
const PT_DYNAMIC = 2;

const DT_NULL = 0;
const DT_NEEDED = 1;
const DT_HASH = 4;
const DT_STRTAB = 5;
const DT_SYMTAB = 6;
const DT_STRSZ = 10;
const DT_SYMENT = 11;
const DT_SONAME = 14;
const DT_RPATH = 15;
const DT_RUNPATH = 29;
const DT_GNU_HASH = 0x6ffffef5;
const DT_FLAGS_1 = 0x6ffffffb;
const DF_1_PIE = 0x08000000;

const STB_GLOBAL = 1;
const STB_WEAK = 2;
const STB_GNU_UNIQUE = 10;
const STT_OBJECT = 1;
const STT_FUNC = 2;
const STT_COMMON = 5;
const STT_GNU_IFUNC = 10;
const STV_DEFAULT = 0;
const STV_PROTECTED = 3;
const SHN_UNDEF = 0;
const SHN_ABS = 0xfff1;
const SHN_XINDEX = 0xffff;

const MAX_COMMENT_BYTES = 1 << 20;
const MAX_SYMTAB_STRINGS = 8 << 20;
// The largest tables of real libraries are far below these (libLLVM: 1.1 MiB of .dynsym,
// 3.2 MiB of .dynstr), so a file that needs more is treated as damaged rather than read.
const MAX_TABLE_BYTES = 16 << 20;
const READ_BUDGET = 40 << 20;
const MAX_DYNAMIC_BYTES = 1 << 20;
const MAX_NEEDED = 4096;

const MACHINES: Record<number, string> = {
  2: 'sparc',
  3: 'i386',
  8: 'mips',
  20: 'powerpc',
  21: 'powerpc64',
  22: 's390x',
  40: 'arm',
  42: 'superh',
  43: 'sparc64',
  50: 'ia64',
  62: 'x86_64',
  183: 'aarch64',
  243: 'riscv',
  247: 'bpf',
  258: 'loongarch',
};

/** The conventional name of an `e_machine` value (`EM_<n>` when unknown). */
export function machineName(code: number, elfClass?: ElfClass): string {
  if (code === 62 && elfClass === 32) return 'x32';
  if (code === 243 && elfClass !== undefined) return `riscv${elfClass}`;
  if (code === 258 && elfClass !== undefined) return `loongarch${elfClass}`;
  if (code === 8 && elfClass === 64) return 'mips64';
  return MACHINES[code] ?? `EM_${code}`;
}

const HOSTS: Record<string, { class: ElfClass; machineCode: number; rust: string }> = {
  x64: { class: 64, machineCode: 62, rust: 'x86_64-unknown-linux-gnu' },
  arm64: { class: 64, machineCode: 183, rust: 'aarch64-unknown-linux-gnu' },
  ia32: { class: 32, machineCode: 3, rust: 'i686-unknown-linux-gnu' },
  arm: { class: 32, machineCode: 40, rust: 'armv7-unknown-linux-gnueabihf' },
  riscv64: { class: 64, machineCode: 243, rust: 'riscv64gc-unknown-linux-gnu' },
  ppc64: { class: 64, machineCode: 21, rust: 'powerpc64le-unknown-linux-gnu' },
  s390x: { class: 64, machineCode: 22, rust: 's390x-unknown-linux-gnu' },
  loong64: { class: 64, machineCode: 258, rust: 'loongarch64-unknown-linux-gnu' },
  mips64el: { class: 64, machineCode: 8, rust: 'mips64el-unknown-linux-gnuabi64' },
};

/** The ELF target of this process (from `process.arch`), or null for an architecture rustplug does not know. */
export function hostTarget(): ElfTarget | null {
  const h = HOSTS[process.arch];
  if (!h) return null;
  const endian: ElfEndian = endianness() === 'LE' ? 'little' : 'big';
  return { class: h.class, endian, machineCode: h.machineCode, machine: machineName(h.machineCode, h.class) };
}

/** The Rust target triple of this process, e.g. `x86_64-unknown-linux-gnu`. */
export function hostRustTarget(): string | null {
  return HOSTS[process.arch]?.rust ?? null;
}

/**
 * What kind of library this is: a `.rustc` section means a Rust `dylib`; otherwise a rustc
 * `.comment` or Rust runtime symbols mean a `cdylib`; otherwise a C (or other language) library.
 */
export function pluginKind(info: Pick<ElfInfo, 'hasRustcSection' | 'rustc' | 'rustSymbols'>): PluginKind {
  if (info.hasRustcSection) return 'rust-dylib';
  if (info.rustc !== null || info.rustSymbols) return 'cdylib';
  return 'c';
}

// ---------------------------------------------------------------------------------------------
// Errors

function malformed(path: string, detail: string): PluginFormatError {
  return new PluginFormatError(
    'ERR_PLUGIN_MALFORMED',
    `${path} is a damaged ELF file: ${detail}. It may have been truncated by an interrupted build, copy or download; rebuild the plugin (cargo build --release) or copy it again`,
    { path },
  );
}

function describeNonElf(head: Buffer, size: number): string {
  if (size === 0) return 'the file is empty';
  const ascii = head.subarray(0, Math.min(head.length, 64)).toString('latin1');
  if (ascii.startsWith('!<arch>\n')) return 'it is a static library (ar archive, .a); a plugin must be a shared library: set crate-type = ["cdylib"] in Cargo.toml';
  if (ascii.startsWith('/* GNU ld script') || ascii.startsWith('GROUP') || ascii.startsWith('INPUT')) {
    return 'it is a GNU ld linker script (text), not a library; point to the real .so it references';
  }
  if (head.length >= 4) {
    const be = head.readUInt32BE(0);
    if (be === 0xfeedfacf || be === 0xcffaedfe || be === 0xfeedface || be === 0xcefaedfe || be === 0xcafebabe) {
      return 'it is a macOS Mach-O file; build the plugin on/for Linux (.so)';
    }
  }
  if (ascii.startsWith('MZ')) return 'it is a Windows PE file (.dll/.exe); build the plugin for Linux (.so)';
  if (ascii.startsWith('#!')) return `it is a script (${JSON.stringify(ascii.split('\n')[0])})`;
  const sample = head.subarray(0, Math.min(head.length, 512));
  const texty = sample.every((b) => b === 9 || b === 10 || b === 13 || (b >= 32 && b < 127) || b >= 128);
  if (texty) return `it is a text file (starts with ${JSON.stringify(ascii.split('\n')[0]!.slice(0, 40))})`;
  return `it starts with bytes ${[...head.subarray(0, Math.min(4, head.length))].map((b) => b.toString(16).padStart(2, '0')).join(' ')}, not 7f 45 4c 46 ("\\x7fELF")`;
}

function notElf(path: string, head: Buffer, size: number): PluginFormatError {
  return new PluginFormatError(
    'ERR_PLUGIN_NOT_ELF',
    `${path} is not an ELF shared library: ${describeNonElf(head, size)}. Pass the path of the compiled library, e.g. target/release/lib<crate>.so`,
    { path },
  );
}

function describeTarget(t: ElfTarget, versus: ElfTarget): string {
  const parts = [t.machine];
  if (t.class !== versus.class) parts.push(`${t.class}-bit`);
  if (t.endian !== versus.endian) parts.push(`${t.endian}-endian`);
  return parts.join(' ');
}

function checkArch(path: string, file: ElfTarget): void {
  const host = hostTarget();
  if (!host) return;
  if (file.class === host.class && file.endian === host.endian && file.machineCode === host.machineCode) return;
  const expected = describeTarget(host, file);
  const actual = describeTarget(file, host);
  const rust = hostRustTarget();
  const fix = rust
    ? `rebuild the plugin for ${host.machine} (cargo build --target ${rust})`
    : `rebuild the plugin for ${host.machine}`;
  throw new PluginArchError(
    `${path} was built for ${actual} (ELFCLASS${file.class}, ${file.endian}-endian, e_machine ${file.machineCode}), but this process is ${expected} (node ${process.arch}): ${fix}, or load it with a node built for ${file.machine}`,
    expected,
    actual,
    { path },
  );
}

function checkType(path: string, type: number): void {
  if (type === ET_DYN) return;
  const fix = 'build the crate as a library: [lib] crate-type = ["cdylib"] in Cargo.toml (or link C code with cc -shared -fPIC)';
  let what: string;
  switch (type) {
    case ET_EXEC:
      what = 'an executable (ET_EXEC), not a shared library';
      break;
    case ET_REL:
      what = 'a relocatable object file (ET_REL, a .o), not a shared library';
      break;
    case ET_CORE:
      what = 'a core dump (ET_CORE), not a shared library';
      break;
    default:
      what = `an ELF file of type ${type}, not a shared library (ET_DYN)`;
  }
  throw new PluginFormatError('ERR_PLUGIN_NOT_SHARED_OBJECT', `${path} is ${what}; ${fix}`, { path });
}

// ---------------------------------------------------------------------------------------------
// Positioned, bounds-checked reading

class FileReader {
  private spent = 0;
  constructor(
    readonly fd: number,
    readonly size: number,
    readonly path: string,
  ) {}

  read(offset: number, length: number, what: string): Buffer {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
      throw malformed(this.path, `${what} has an impossible offset or size (${offset}, ${length})`);
    }
    if (offset + length > this.size) {
      throw malformed(
        this.path,
        `${what} (${length} bytes at offset ${offset}) extends past the end of the ${this.size}-byte file`,
      );
    }
    if (length > MAX_TABLE_BYTES || this.spent + length > READ_BUDGET) {
      throw malformed(this.path, `${what} claims ${length} bytes, more than any shared library holds (rustplug reads at most ${MAX_TABLE_BYTES >> 20} MiB per table)`);
    }
    this.spent += length;
    const buf = Buffer.alloc(length);
    let got = 0;
    while (got < length) {
      const n = readSync(this.fd, buf, got, length - got, offset + got);
      if (n === 0) throw malformed(this.path, `the file ended while reading ${what} (it shrank while being read)`);
      got += n;
    }
    return buf;
  }
}

/** Endian- and class-aware field access on a buffer. Out-of-range reads become MALFORMED. */
class View {
  constructor(
    readonly buf: Buffer,
    readonly le: boolean,
    readonly is64: boolean,
    readonly path: string,
    readonly what: string,
  ) {}

  private check(off: number, n: number): void {
    if (off < 0 || off + n > this.buf.length) throw malformed(this.path, `${this.what} is too short`);
  }
  u8(off: number): number {
    this.check(off, 1);
    return this.buf[off]!;
  }
  u16(off: number): number {
    this.check(off, 2);
    return this.le ? this.buf.readUInt16LE(off) : this.buf.readUInt16BE(off);
  }
  u32(off: number): number {
    this.check(off, 4);
    return this.le ? this.buf.readUInt32LE(off) : this.buf.readUInt32BE(off);
  }
  big64(off: number): bigint {
    this.check(off, 8);
    return this.le ? this.buf.readBigUInt64LE(off) : this.buf.readBigUInt64BE(off);
  }
  /** A 64-bit field that must fit in a JS number. */
  u64(off: number, field: string): number {
    const v = this.big64(off);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw malformed(this.path, `${field} is out of range (${v})`);
    return Number(v);
  }
  /** An address/offset/size field: 8 bytes in ELFCLASS64, 4 in ELFCLASS32. */
  word(off: number, field: string): number {
    return this.is64 ? this.u64(off, field) : this.u32(off);
  }
  /** Like `word` but as a bigint, for values that may legitimately be huge (d_val). */
  bigWord(off: number): bigint {
    return this.is64 ? this.big64(off) : BigInt(this.u32(off));
  }
}

function cstring(table: Buffer, off: number, path: string, what: string): string {
  if (!Number.isSafeInteger(off) || off < 0 || off >= table.length) {
    throw malformed(path, `${what} points outside its string table (offset ${off}, table of ${table.length} bytes)`);
  }
  const end = table.indexOf(0, off);
  if (end < 0) throw malformed(path, `${what} is not NUL-terminated`);
  return table.toString('utf8', off, end);
}

/** Opens `path` for reading the way rustplug opens every file it may load: never blocking (a
 *  FIFO or device is refused after fstat, not read). libuv adds O_CLOEXEC to every open. */
export function openNonBlocking(path: string): number {
  try {
    return openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    throw openError(path, e);
  }
}

/** fstat of an fd opened by openNonBlocking; ERR_PLUGIN_NOT_A_FILE unless a regular file. */
export function regularFileStat(fd: number, path: string): Stats {
  const st = fstatSync(fd);
  if (!st.isFile()) {
    const what = st.isDirectory()
      ? 'a directory'
      : st.isFIFO()
        ? 'a named pipe'
        : st.isSocket()
          ? 'a socket'
          : st.isCharacterDevice() || st.isBlockDevice()
            ? 'a device'
            : 'not a regular file';
    throw new PluginNotFoundError('ERR_PLUGIN_NOT_A_FILE', `${path} is ${what}; pass the path of the plugin's .so file`, { path });
  }
  return st;
}

function withFd<T>(fd: number, path: string, size: number, body: (r: FileReader) => T): T {
  const reader = new FileReader(fd, size, path);
  try {
    return body(reader);
  } catch (e) {
    if (e instanceof PluginError) throw e;
    // Belt and braces: no bad file may surface as a raw RangeError or similar.
    throw malformed(path, `it could not be parsed (${e instanceof Error ? e.message : String(e)})`);
  }
}

function withFile<T>(path: string, body: (r: FileReader) => T): T {
  const fd = openNonBlocking(path);
  try {
    return withFd(fd, path, regularFileStat(fd, path).size, body);
  } finally {
    closeSync(fd);
  }
}

function openError(path: string, e: unknown): PluginError {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code === 'ENOENT' || code === 'ENOTDIR') {
    return new PluginNotFoundError('ERR_PLUGIN_NOT_FOUND', `no plugin file at ${path}: it does not exist; check the path (relative paths are resolved from ${process.cwd()}) and that the plugin was built`, { path, cause: e });
  }
  if (code === 'EISDIR') {
    return new PluginNotFoundError('ERR_PLUGIN_NOT_A_FILE', `${path} is a directory; pass the path of the plugin's .so file`, { path, cause: e });
  }
  if (code === 'EACCES' || code === 'EPERM') {
    return new PluginNotFoundError('ERR_PLUGIN_NOT_FOUND', `cannot read ${path}: permission denied (${code}); make it readable by this user (chmod u+r)`, { path, cause: e });
  }
  return new PluginNotFoundError('ERR_PLUGIN_NOT_FOUND', `cannot open ${path}: ${e instanceof Error ? e.message : String(e)}`, { path, cause: e });
}

// ---------------------------------------------------------------------------------------------
// Header

function parseHeader(r: FileReader, options: ReadElfOptions): ElfHeader {
  const path = r.path;
  const head = r.read(0, Math.min(r.size, 64), 'the ELF header');
  if (head.length < 4 || head[0] !== 0x7f || head[1] !== 0x45 || head[2] !== 0x4c || head[3] !== 0x46) {
    throw notElf(path, head, r.size);
  }
  if (head.length < 20) throw malformed(path, `it is only ${r.size} bytes long, shorter than an ELF header`);
  const cls = head[4];
  const data = head[5];
  if (cls !== 1 && cls !== 2) throw malformed(path, `EI_CLASS is ${cls} (expected 1 for 32-bit or 2 for 64-bit)`);
  if (data !== 1 && data !== 2) throw malformed(path, `EI_DATA is ${data} (expected 1 for little- or 2 for big-endian)`);
  if (head[6] !== 1) throw malformed(path, `EI_VERSION is ${head[6]} (expected 1)`);
  const elfClass: ElfClass = cls === 2 ? 64 : 32;
  const le = data === 1;
  const v = new View(head, le, elfClass === 64, path, 'the ELF header');
  const type = v.u16(16);
  const machineCode = v.u16(18);
  const target: ElfTarget = {
    class: elfClass,
    endian: le ? 'little' : 'big',
    machineCode,
    machine: machineName(machineCode, elfClass),
  };
  if (!options.anyArch) checkArch(path, target);
  checkType(path, type);
  const ehsize = elfClass === 64 ? 64 : 52;
  if (head.length < ehsize) throw malformed(path, `it is only ${r.size} bytes long, shorter than an ELF header (${ehsize} bytes)`);
  const version = v.u32(20);
  if (version !== 1) throw malformed(path, `e_version is ${version} (expected 1)`);
  let o = 24 + (elfClass === 64 ? 8 : 4); // skip e_entry
  const phoff = v.word(o, 'e_phoff');
  o += elfClass === 64 ? 8 : 4;
  const shoff = v.word(o, 'e_shoff');
  o += elfClass === 64 ? 8 : 4;
  o += 4; // e_flags
  o += 2; // e_ehsize
  const phentsize = v.u16(o);
  const phnum = v.u16(o + 2);
  const shentsize = v.u16(o + 4);
  const shnum = v.u16(o + 6);
  const shstrndx = v.u16(o + 8);
  return {
    ...target,
    type,
    osabi: head[7]!,
    phoff,
    phentsize,
    phnum,
    shoff,
    shentsize,
    shnum,
    shstrndx,
    fileSize: r.size,
  };
}

/**
 * Reads and validates only the ELF header: magic, class, byte order, machine (unless
 * `anyArch`) and type (must be ET_DYN).
 */
export function readElfHeader(path: string, options: ReadElfOptions = {}): ElfHeader {
  return withFile(path, (r) => parseHeader(r, options));
}

/** readElfHeader on an open regular file of `size` bytes (`path` only names it in errors). */
export function readElfHeaderFd(fd: number, path: string, size: number, options: ReadElfOptions = {}): ElfHeader {
  return withFd(fd, path, size, (r) => parseHeader(r, options));
}

// ---------------------------------------------------------------------------------------------
// Full parse

interface Section {
  name: number;
  type: number;
  addr: number;
  offset: number;
  size: number;
  link: number;
  info: number;
  entsize: number;
}

interface Segment {
  type: number;
  offset: number;
  vaddr: number;
  filesz: number;
}

interface DynEntry {
  tag: number;
  val: bigint;
}

function readSectionHeaders(r: FileReader, h: ElfHeader): { sections: Section[]; shstrndx: number } {
  const is64 = h.class === 64;
  const le = h.endian === 'little';
  const minEnt = is64 ? 64 : 40;
  if (h.shoff === 0) return { sections: [], shstrndx: 0 };
  if (h.shentsize < minEnt) throw malformed(r.path, `e_shentsize is ${h.shentsize} (at least ${minEnt} expected)`);
  const parse = (buf: Buffer, base: number): Section => {
    const v = new View(buf, le, is64, r.path, 'a section header');
    return is64
      ? {
          name: v.u32(base),
          type: v.u32(base + 4),
          addr: v.u64(base + 16, 'sh_addr'),
          offset: v.u64(base + 24, 'sh_offset'),
          size: v.u64(base + 32, 'sh_size'),
          link: v.u32(base + 40),
          info: v.u32(base + 44),
          entsize: v.u64(base + 56, 'sh_entsize'),
        }
      : {
          name: v.u32(base),
          type: v.u32(base + 4),
          addr: v.u32(base + 12),
          offset: v.u32(base + 16),
          size: v.u32(base + 20),
          link: v.u32(base + 24),
          info: v.u32(base + 28),
          entsize: v.u32(base + 36),
        };
  };
  let shnum = h.shnum;
  let shstrndx = h.shstrndx;
  if (shnum === 0 || shstrndx === SHN_XINDEX) {
    // Extended numbering: the real values live in section header 0.
    const s0 = parse(r.read(h.shoff, minEnt, 'section header 0'), 0);
    if (shnum === 0) shnum = s0.size;
    if (shstrndx === SHN_XINDEX) shstrndx = s0.link;
  }
  if (shnum === 0) return { sections: [], shstrndx: 0 };
  const table = r.read(h.shoff, shnum * h.shentsize, `the section header table (${shnum} entries of ${h.shentsize} bytes)`);
  const sections: Section[] = [];
  for (let i = 0; i < shnum; i++) sections.push(parse(table, i * h.shentsize));
  return { sections, shstrndx };
}

function readSegments(r: FileReader, h: ElfHeader): Segment[] {
  const is64 = h.class === 64;
  const minEnt = is64 ? 56 : 32;
  if (h.phoff === 0 || h.phnum === 0) return [];
  if (h.phentsize < minEnt) throw malformed(r.path, `e_phentsize is ${h.phentsize} (at least ${minEnt} expected)`);
  const table = r.read(h.phoff, h.phnum * h.phentsize, 'the program header table');
  const v = new View(table, h.endian === 'little', is64, r.path, 'the program header table');
  const out: Segment[] = [];
  for (let i = 0; i < h.phnum; i++) {
    const b = i * h.phentsize;
    out.push(
      is64
        ? { type: v.u32(b), offset: v.u64(b + 8, 'p_offset'), vaddr: v.u64(b + 16, 'p_vaddr'), filesz: v.u64(b + 32, 'p_filesz') }
        : { type: v.u32(b), offset: v.u32(b + 4), vaddr: v.u32(b + 8), filesz: v.u32(b + 16) },
    );
  }
  return out;
}

function sectionData(r: FileReader, s: Section, what: string): Buffer {
  if (s.type === SHT_NOBITS) return Buffer.alloc(0);
  return r.read(s.offset, s.size, what);
}

function parseDynamic(buf: Buffer, h: ElfHeader, path: string): DynEntry[] {
  const is64 = h.class === 64;
  const ent = is64 ? 16 : 8;
  const v = new View(buf, h.endian === 'little', is64, path, 'the dynamic section');
  const out: DynEntry[] = [];
  let needed = 0;
  for (let o = 0; o + ent <= buf.length; o += ent) {
    const tagBig = is64 ? v.big64(o) : BigInt(v.u32(o));
    // d_tag is signed; tags we care about are small positive numbers or in the OS range.
    const tag = tagBig > 0xffffffffn ? -1 : Number(tagBig);
    if (tag === DT_NULL) break;
    if (tag === DT_NEEDED && ++needed > MAX_NEEDED) throw malformed(path, `the dynamic section lists more than ${MAX_NEEDED} NEEDED libraries`);
    out.push({ tag, val: v.bigWord(o + (is64 ? 8 : 4)) });
  }
  return out;
}

function dynNumber(e: DynEntry, path: string, what: string): number {
  if (e.val > BigInt(Number.MAX_SAFE_INTEGER)) throw malformed(path, `${what} is out of range (${e.val})`);
  return Number(e.val);
}

/** Maps a virtual address to a file offset through the PT_LOAD segments. */
function vaddrToOffset(segments: Segment[], addr: number, path: string, what: string): number {
  for (const s of segments) {
    if (s.type === PT_LOAD && addr >= s.vaddr && addr < s.vaddr + s.filesz) return s.offset + (addr - s.vaddr);
  }
  throw malformed(path, `${what} (address 0x${addr.toString(16)}) is not inside any loadable segment`);
}

const RUST_MANGLED_LEGACY = /^_ZN.*17h[0-9a-f]{16}E$/;
const RUST_MANGLED_V0 = /^_R[0-9]*[CMXYNIB]/;

function isRustSymbolName(name: string): boolean {
  return (
    name.includes('__rust') ||
    name === 'rust_eh_personality' ||
    name === 'rust_begin_unwind' ||
    RUST_MANGLED_LEGACY.test(name) ||
    (name.length > 8 && RUST_MANGLED_V0.test(name))
  );
}

interface SymbolScan {
  exports: string[];
  objects: string[];
  rust: boolean;
  /** Wanted data objects: name → st_value, st_size. */
  wanted: Map<string, { value: number; size: number }>;
}

function scanSymbols(syms: Buffer, strtab: Buffer, h: ElfHeader, path: string, entsize: number, want: ReadonlySet<string> = new Set()): SymbolScan {
  const is64 = h.class === 64;
  const minEnt = is64 ? 24 : 16;
  if (entsize === 0) entsize = minEnt;
  if (entsize < minEnt) throw malformed(path, `the dynamic symbol table has entries of ${entsize} bytes (at least ${minEnt} expected)`);
  const v = new View(syms, h.endian === 'little', is64, path, 'the dynamic symbol table');
  const fns = new Set<string>();
  const objs = new Set<string>();
  const wanted = new Map<string, { value: number; size: number }>();
  let rust = false;
  const count = Math.floor(syms.length / entsize);
  for (let i = 1; i < count; i++) {
    const b = i * entsize;
    const nameOff = v.u32(b);
    let info: number, other: number, shndx: number, size: number, value: number;
    if (is64) {
      info = v.u8(b + 4);
      other = v.u8(b + 5);
      shndx = v.u16(b + 6);
      value = Number(v.big64(b + 8) & 0xffffffffffffn);
      size = Number(v.big64(b + 16) & 0xffffffffffffn);
    } else {
      value = v.u32(b + 4);
      size = v.u32(b + 8);
      info = v.u8(b + 12);
      other = v.u8(b + 13);
      shndx = v.u16(b + 14);
    }
    if (nameOff === 0) continue;
    const name = cstring(strtab, nameOff, path, `the name of dynamic symbol ${i}`);
    if (!rust && isRustSymbolName(name)) rust = true;
    if (shndx === SHN_UNDEF) continue;
    const bind = info >> 4;
    const type = info & 0xf;
    const vis = other & 3;
    if (bind !== STB_GLOBAL && bind !== STB_WEAK && bind !== STB_GNU_UNIQUE) continue;
    if (vis !== STV_DEFAULT && vis !== STV_PROTECTED) continue;
    if (type === STT_FUNC || type === STT_GNU_IFUNC) fns.add(name);
    else if (type === STT_OBJECT || type === STT_COMMON) {
      // Old binutils emit version names (GLIBC_2.2.5) as absolute zero-size objects: not data.
      if (shndx === SHN_ABS && size === 0) continue;
      objs.add(name);
      if (want.has(name) && !wanted.has(name)) wanted.set(name, { value, size });
    }
  }
  return { exports: [...fns].sort(), objects: [...objs].sort(), rust, wanted };
}

/**
 * Number of symbols in .dynsym from DT_HASH or DT_GNU_HASH (no section headers to tell).
 * `limit` is how many symbols the file can really hold after DT_SYMTAB: no count or chain walk
 * goes past it, so a cyclic or endless chain ends in MALFORMED after one bounded read.
 */
function countDynamicSymbols(r: FileReader, h: ElfHeader, segments: Segment[], dyn: DynEntry[], limit: number): number {
  const path = r.path;
  const le = h.endian === 'little';
  const is64 = h.class === 64;
  const tooMany = (n: number | string) => malformed(path, `the symbol hash table claims ${n} symbols, more than the file holds`);
  const hash = dyn.find((e) => e.tag === DT_HASH);
  if (hash) {
    const off = vaddrToOffset(segments, dynNumber(hash, path, 'DT_HASH'), path, 'DT_HASH');
    const v = new View(r.read(off, 8, 'the symbol hash table'), le, is64, path, 'the symbol hash table');
    const nchain = v.u32(4); // nchain == number of symbols
    if (nchain > limit) throw tooMany(nchain);
    return nchain;
  }
  const gnu = dyn.find((e) => e.tag === DT_GNU_HASH);
  if (!gnu) return 0;
  const off = vaddrToOffset(segments, dynNumber(gnu, path, 'DT_GNU_HASH'), path, 'DT_GNU_HASH');
  const hv = new View(r.read(off, 16, 'the GNU hash table'), le, is64, path, 'the GNU hash table');
  const nbuckets = hv.u32(0);
  const symoffset = hv.u32(4);
  const bloomSize = hv.u32(8);
  const bloomBytes = bloomSize * (is64 ? 8 : 4);
  const bucketsOff = off + 16 + bloomBytes;
  if (nbuckets > limit + 1) throw malformed(path, `the GNU hash table claims ${nbuckets} buckets for at most ${limit} symbols`);
  const buckets = new View(r.read(bucketsOff, nbuckets * 4, 'the GNU hash buckets'), le, is64, path, 'the GNU hash buckets');
  let max = 0;
  for (let i = 0; i < nbuckets; i++) max = Math.max(max, buckets.u32(i * 4));
  if (symoffset > limit) throw tooMany(symoffset);
  if (max < symoffset) return symoffset;
  if (max >= limit) throw tooMany(`more than ${max}`);
  // The symbol count is the end of the last chain (the entry with the low bit set). Read the
  // rest of the chain array that the symbol limit allows at once and look for that end.
  const chainsOff = bucketsOff + nbuckets * 4;
  const from = chainsOff + (max - symoffset) * 4;
  const words = Math.min(limit - max, Math.floor((r.size - Math.min(from, r.size)) / 4));
  const chain = new View(r.read(from, words * 4, 'the GNU hash chains'), le, is64, path, 'the GNU hash chains');
  for (let i = 0; i < words; i++) if (chain.u32(i * 4) & 1) return max + i + 1;
  throw malformed(path, 'the last GNU hash chain does not end within the symbol table');
}

/** The stored bytes of each wanted data object, found through the PT_LOAD segment holding it. */
function readDataSymbols(r: FileReader, segments: Segment[], wanted: Map<string, { value: number; size: number }>, max: number): DataSymbol[] {
  const out: DataSymbol[] = [];
  for (const [name, { value, size }] of wanted) {
    const seg = segments.find((s) => s.type === PT_LOAD && value >= s.vaddr && value + size <= s.vaddr + s.filesz);
    const bytes = seg === undefined ? null : r.read(seg.offset + (value - seg.vaddr), Math.min(size, max), `the data of ${name}`);
    out.push({ name, size, bytes });
  }
  return out;
}

function parseComments(buf: Buffer): string[] {
  const seen = new Set<string>();
  for (const part of buf.toString('utf8').split('\0')) {
    const s = part.trim();
    if (s) seen.add(s);
  }
  return [...seen];
}

function rustcFromComments(comments: string[]): string | null {
  for (const c of comments) {
    const m = /^rustc version (.+)$/.exec(c);
    if (m) return `rustc ${m[1]}`;
  }
  return null;
}

/**
 * Reads what rustplug needs from a shared object: header checks, dynamic section (NEEDED,
 * SONAME, RPATH, RUNPATH), section names, `.comment`, exported symbols.
 *
 * Throws PluginNotFoundError (ERR_PLUGIN_NOT_FOUND, ERR_PLUGIN_NOT_A_FILE), PluginFormatError
 * (ERR_PLUGIN_NOT_ELF, ERR_PLUGIN_MALFORMED, ERR_PLUGIN_NOT_SHARED_OBJECT) or PluginArchError.
 */
export function readElf(path: string, options: ReadElfOptions = {}): ElfInfo {
  return withFile(path, (r) => parseElf(r, options));
}

/** readElf on an open regular file of `size` bytes (`path` only names it in errors and in `.path`). */
export function readElfFd(fd: number, path: string, size: number, options: ReadElfOptions = {}): ElfInfo {
  return withFd(fd, path, size, (r) => parseElf(r, options));
}

function parseElf(r: FileReader, options: ReadElfOptions): ElfInfo {
  const path = r.path;
  {
    const h = parseHeader(r, options);
    const { sections, shstrndx } = readSectionHeaders(r, h);
    const segments = readSegments(r, h);

    let names: string[] = [];
    let comments: string[] = [];
    let dyn: DynEntry[] = [];
    let dynstr: Buffer | null = null;
    let symScan: SymbolScan = { exports: [], objects: [], rust: false, wanted: new Map() };
    const want = new Set(options.dataSymbols ?? []);
    let symtabSection: Section | undefined;

    if (sections.length > 0) {
      if (shstrndx >= sections.length) {
        throw malformed(r.path, `the section name table index (${shstrndx}) is past the ${sections.length} sections`);
      }
      const shstr = sectionData(r, sections[shstrndx]!, 'the section name table');
      names = sections.map((s, i) => (i === 0 && s.name === 0 ? '' : cstring(shstr, s.name, r.path, `the name of section ${i}`)));
      const linked = (s: Section, what: string): Buffer => {
        const t = sections[s.link];
        if (!t || s.link === 0) throw malformed(r.path, `${what} links to section ${s.link}, which does not exist`);
        if (t.type !== SHT_STRTAB) throw malformed(r.path, `${what} links to section ${s.link}, which is not a string table`);
        return sectionData(r, t, `the string table of ${what}`);
      };
      const dynSec = sections.find((s) => s.type === SHT_DYNAMIC);
      if (dynSec) {
        dyn = parseDynamic(r.read(dynSec.offset, Math.min(dynSec.type === SHT_NOBITS ? 0 : dynSec.size, MAX_DYNAMIC_BYTES), 'the dynamic section'), h, r.path);
        dynstr = linked(dynSec, 'the dynamic section');
      }
      const dynsym = sections.find((s) => s.type === SHT_DYNSYM);
      if (dynsym && options.symbols !== false) {
        const strs = linked(dynsym, 'the dynamic symbol table');
        symScan = scanSymbols(sectionData(r, dynsym, 'the dynamic symbol table'), strs, h, r.path, dynsym.entsize, want);
      }
      const ci = names.indexOf('.comment');
      if (ci >= 0 && sections[ci]!.type !== SHT_NOBITS) {
        const s = sections[ci]!;
        comments = parseComments(r.read(s.offset, Math.min(s.size, MAX_COMMENT_BYTES), 'the .comment section'));
      }
      symtabSection = sections.find((s) => s.type === SHT_SYMTAB);
    }

    if (dynstr === null) {
      // No section headers (or no SHT_DYNAMIC): use PT_DYNAMIC and the addresses it holds.
      const pd = segments.find((s) => s.type === PT_DYNAMIC);
      if (pd) {
        dyn = parseDynamic(r.read(pd.offset, Math.min(pd.filesz, MAX_DYNAMIC_BYTES), 'the dynamic segment'), h, r.path);
        const strtab = dyn.find((e) => e.tag === DT_STRTAB);
        const strsz = dyn.find((e) => e.tag === DT_STRSZ);
        if (strtab && strsz) {
          const off = vaddrToOffset(segments, dynNumber(strtab, r.path, 'DT_STRTAB'), r.path, 'DT_STRTAB');
          dynstr = r.read(off, dynNumber(strsz, r.path, 'DT_STRSZ'), 'the dynamic string table');
        } else if (dyn.some((e) => [DT_NEEDED, DT_SONAME, DT_RPATH, DT_RUNPATH].includes(e.tag))) {
          throw malformed(r.path, 'the dynamic segment has names but no string table (DT_STRTAB/DT_STRSZ)');
        }
        const symtab = dyn.find((e) => e.tag === DT_SYMTAB);
        if (symtab && dynstr && sections.length === 0 && options.symbols !== false) {
          const entEntry = dyn.find((e) => e.tag === DT_SYMENT);
          const ent = entEntry ? dynNumber(entEntry, r.path, 'DT_SYMENT') : h.class === 64 ? 24 : 16;
          const off = vaddrToOffset(segments, dynNumber(symtab, r.path, 'DT_SYMTAB'), r.path, 'DT_SYMTAB');
          if (ent < (h.class === 64 ? 24 : 16)) throw malformed(r.path, `DT_SYMENT is ${ent}`);
          const limit = Math.floor(Math.min(Math.max(r.size - off, 0), MAX_TABLE_BYTES) / ent);
          const count = countDynamicSymbols(r, h, segments, dyn, limit);
          symScan = scanSymbols(r.read(off, count * ent, 'the dynamic symbol table'), dynstr, h, r.path, ent, want);
        }
      }
    }

    const str = (e: DynEntry, what: string): string => {
      if (!dynstr) throw malformed(r.path, `${what} has no string table`);
      return cstring(dynstr, dynNumber(e, r.path, what), r.path, what);
    };
    const needed: string[] = [];
    let soname: string | null = null;
    let rpath: string | null = null;
    let runpath: string | null = null;
    let flags1 = 0;
    for (const e of dyn) {
      if (e.tag === DT_NEEDED) needed.push(str(e, 'a DT_NEEDED entry'));
      else if (e.tag === DT_SONAME) soname = str(e, 'DT_SONAME');
      else if (e.tag === DT_RPATH) rpath = str(e, 'DT_RPATH');
      else if (e.tag === DT_RUNPATH) runpath = str(e, 'DT_RUNPATH');
      else if (e.tag === DT_FLAGS_1) flags1 = Number(e.val & 0xffffffffn);
    }

    const hasRustcSection = names.includes('.rustc');
    const rustc = rustcFromComments(comments);
    let rustSymbols = symScan.rust;
    if (!rustSymbols && !hasRustcSection && rustc === null && symtabSection && options.symbols !== false) {
      const t = sections[symtabSection.link];
      if (t && t.type === SHT_STRTAB && symtabSection.link !== 0) {
        const strings = r.read(t.offset, Math.min(t.size, MAX_SYMTAB_STRINGS), 'the symbol string table');
        rustSymbols = strings.includes('__rust') || strings.includes('rust_eh_personality') || strings.includes('rust_begin_unwind');
      }
    }

    return {
      ...h,
      path,
      soname,
      needed,
      rpath,
      runpath,
      flags1,
      pie: (flags1 & DF_1_PIE) !== 0,
      hasSectionHeaders: sections.length > 0,
      sections: names,
      hasRustcSection,
      comments,
      rustc,
      exports: symScan.exports,
      exportedObjects: symScan.objects,
      rustSymbols,
      dataSymbols: readDataSymbols(r, segments, symScan.wanted, options.maxDataBytes ?? 64 << 10),
    };
  }
}
