// where a test can make this process fail on purpose, at a point named by an
// environment variable; unset (as always outside tests) nothing happens.
//   CUDALAB_TEST_KILL_AT=<point>  SIGKILL to itself there: exactly what kill -9 leaves behind
//                                 (CUDALAB_TEST_KILL_SIGNAL=SIGINT or SIGTERM: that signal instead, as ctrl-c or kill send)
//   CUDALAB_TEST_FAIL_AT=<point>  a write error with code ENOSPC there: a full disk
// the points:
//   write:<file name>  in writeFileAtomic, the temporary complete, before its rename
//   step:<n>           after a run's n-th training step, counted over all its epochs
//   worker-trial-epoch:<n>  in `cudalab worker`, when its trial's process reports epoch n begun (the ones before checkpointed)
//   before-rename      in the DVC cache and checkout, a downloaded or added file complete, before its rename
// the native addon reads CUDALAB_TEST_FAIL_AT itself for one point (native/cpu/parallel.cc):
//   thread-create[:n]  starting a cpu worker thread fails (every start, or only the n-th), as at a process limit
export function testHook(point: string): void {
  if (process.env.CUDALAB_TEST_KILL_AT === point) process.kill(process.pid, process.env.CUDALAB_TEST_KILL_SIGNAL ?? 'SIGKILL');
  if (process.env.CUDALAB_TEST_FAIL_AT === point) {
    throw Object.assign(new Error(`ENOSPC: no space left on device (CUDALAB_TEST_FAIL_AT=${point})`), { code: 'ENOSPC' });
  }
}
