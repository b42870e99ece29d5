// Package childproc runs the helper processes of tests and of the local stack (Envoy, nginx, the
// emulators, example apps, service replicas), which is its one job: find a tool's binary (or skip a
// test without it, failing it in CI), pick free loopback ports, start a process tied to ours with
// its output in a log file, wait until it is ready, stop it (a signal, then SIGKILL after a bound),
// report how it ended, and tail its log for a failure message.
package childproc
