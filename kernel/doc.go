// Package kernel is flowlab's Jupyter kernel: the session loop that turns
// Jupyter requests into cell executions, the execution queue, output capture,
// display publishing and magics.
//
// The package is split the way the wire, the dispatcher and the executor are
// split in the Jupyter architecture:
//
//   - kernel/jupyter speaks the wire protocol (frames, signatures, sockets) and
//     knows nothing about Go or cells; the user-app manager uses its client side.
//   - this package (the session) answers requests in the order and with the
//     status messages the protocol prescribes.
//   - an Executor evaluates cells; kernel/yaegi implements it with the yaegi
//     interpreter. The session depends only on the interface declared here.
package kernel
