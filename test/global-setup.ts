// Vitest global setup: child processes and worker threads in the future tests import dist/, so
// compile src/ into dist/ first when any source is newer than its output.
import { freshDist } from '../scripts/dist.mjs';

export default function setup(): void {
  freshDist('global-setup');
}
