// Preloaded into a profiled service (--cpu-prof): exit on request so that Node writes the profile
// (the graceful SIGTERM path re-raises the signal, and a process killed by a signal writes none).
process.on('message', (/** @type {{ cmd?: string } | undefined} */ msg) => {
  if (msg?.cmd === 'exit') process.exit(0);
});
