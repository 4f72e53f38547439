// Child process for test/js-callback.test.ts: lib.callback({ ref }) and the event loop. With
// ref: true the registered callback keeps the process alive, so an unref'd timer gets to fire
// and close it (printing 'closed'); with ref: false nothing keeps the process alive and it exits
// before that timer.
import { open } from '../../dist/index.js';

const [path, mode] = process.argv.slice(2);
const lib = open(path, { call_here: { parameters: ['function', 'i32'], result: 'i32' } });
const cb = lib.callback({ parameters: ['u32', 'u32'], result: 'void' }, () => {}, { ref: mode === 'ref' });
setTimeout(() => {
  cb.close();
  console.log('closed');
}, 100).unref();
