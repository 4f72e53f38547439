// Who could replace a file rustplug is about to load: the file itself and every directory on
// the way to it, including the directories that hold symlinks and the symlinks' targets.

import { lstatSync, readlinkSync, type Stats } from 'node:fs';

import { InsecurePluginError } from './errors.js';

const MAX_SYMLINKS = 40; // the kernel's limit

function octal(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, '0');
}

function currentUid(): number | null {
  return typeof process.getuid === 'function' ? process.getuid() : null;
}

function writers(mode: number): string {
  return [mode & 0o020 ? 'its group' : '', mode & 0o002 ? 'all users' : ''].filter(Boolean).join(' and ');
}

function insecure(subject: string, problem: string, fix: string): InsecurePluginError {
  return new InsecurePluginError(
    `refusing to load ${subject}: ${problem}, so another user could replace code that would run inside this process. Fix: ${fix}; or, if this is intended, pass { allowInsecure: true } to skip this check`,
    { path: subject },
  );
}

function foreignOwner(st: Stats, uid: number | null): boolean {
  return uid !== null && st.uid !== 0 && st.uid !== uid;
}

/**
 * Refuses (InsecurePluginError, ERR_PLUGIN_INSECURE) a file that other users could replace: the
 * file is group- or other-writable or owned by someone other than root or the current user; or
 * a directory passed through on the way to it (following symlinks the way the kernel does) is
 * owned by such a user, or is group- or other-writable without the sticky bit; or a symlink on
 * the way sits in a sticky directory but belongs to such a user.
 *
 * `path` is the absolute path the file was opened by; `opened` is the fstat of that descriptor:
 * the walk must end at that same file, or it was swapped in the meantime. `subject` names the
 * file in the message (default: `path`).
 */
export function checkPermissions(path: string, opened?: Stats, subject = path): void {
  const uid = currentUid();
  const checkDir = (dir: string, st: Stats) => {
    if (!(st.mode & 0o1000) && st.mode & 0o022) {
      throw insecure(
        subject,
        `the directory ${dir} is writable by ${writers(st.mode)} without the sticky bit (mode ${octal(st.mode)}), so files in it can be replaced`,
        `chmod go-w ${dir} (or chmod +t ${dir})`,
      );
    }
    if (foreignOwner(st, uid)) {
      throw insecure(subject, `the directory ${dir} is owned by uid ${st.uid}, not by root or by this process's user (uid ${uid})`, `chown ${uid} ${dir}`);
    }
  };
  checkDir('/', lstatSync('/'));
  let here: string[] = []; // the physical directory reached so far
  let hereStat = lstatSync('/');
  const todo = path.split('/').filter((c) => c !== '' && c !== '.');
  let links = 0;
  while (todo.length > 0) {
    const comp = todo.shift()!;
    if (comp === '.') continue;
    if (comp === '..') {
      here.pop(); // an ancestor, already checked
      hereStat = lstatSync(`/${here.join('/')}`);
      continue;
    }
    const p = `/${[...here, comp].join('/')}`;
    const st = lstatSync(p);
    if (st.isSymbolicLink()) {
      if (++links > MAX_SYMLINKS) throw insecure(subject, `resolving ${path} passes through more than ${MAX_SYMLINKS} symbolic links`, 'shorten the chain of links');
      // In a sticky directory the link's owner may still replace it.
      if (hereStat.mode & 0o1000 && foreignOwner(st, uid)) {
        throw insecure(subject, `the symbolic link ${p} in the sticky directory /${here.join('/')} is owned by uid ${st.uid}`, `replace it with a link owned by you or root`);
      }
      const target = readlinkSync(p);
      if (target.startsWith('/')) {
        here = [];
        hereStat = lstatSync('/');
      }
      todo.unshift(...target.split('/').filter((c) => c !== ''));
      continue;
    }
    if (todo.length > 0) {
      checkDir(p, st);
      here.push(comp);
      hereStat = st;
      continue;
    }
    // The file itself.
    if (opened && (st.dev !== opened.dev || st.ino !== opened.ino)) {
      throw insecure(subject, `${path} was replaced while it was being opened (it now names another file)`, 'make sure nothing rewrites the file while it is loaded, then retry');
    }
    if (st.mode & 0o022) throw insecure(subject, `the file${subject === p ? '' : ` ${p}`} is writable by ${writers(st.mode)} (mode ${octal(st.mode)})`, `chmod go-w ${p}`);
    if (foreignOwner(st, uid)) throw insecure(subject, `the file ${p} is owned by uid ${st.uid}, not by root or by this process's user (uid ${uid})`, `chown ${uid} ${p}`);
  }
}
