// Package jupyter speaks the Jupyter messaging protocol (version 5.3) over
// ZeroMQ, on both sides of the wire.
//
// It knows nothing about Go, cells or flowlab: the kernel session (package
// kernel) serves a [Server], and the user-app manager, which must never link
// the interpreter, drives kernel processes and bridges browser websockets with
// a [Client].
//
// The pieces, bottom up:
//
//   - [ConnectionInfo]: the connection file a launcher writes and a kernel
//     reads (ports, transport, key, signature scheme).
//   - [Signer]: the HMAC over the four JSON frames of a message.
//   - [Message], [EncodeFrames] and [DecodeFrames]: the frames
//     identities..., "<IDS|MSG>", signature, header, parent_header, metadata,
//     content, buffers...
//   - [Session]: the sender's identity (session id, username) that stamps
//     every new message with a fresh msg_id and date, signs outgoing frames
//     and verifies incoming ones, refusing replayed signatures.
//   - [Server]: the kernel's five sockets (shell, control and stdin ROUTER,
//     iopub PUB, heartbeat REP).
//   - [Client]: the front end's sockets (DEALER, SUB, REQ) with raw
//     send/receive for bridges and request/reply, execute, interrupt,
//     shutdown, heartbeat and readiness for managers and runners.
//
// ZeroMQ: the ZMTP greeting and NULL-mechanism handshake come from
// github.com/go-zeromq/zmq4; the socket semantics the Jupyter protocol needs
// (ROUTER identity routing, PUB subscriptions, REQ/REP envelopes, reconnecting
// dialers) are implemented here on top of it, with buffered reads and one
// vectored write per message. The zmq4 socket types were measured at about
// 140 µs per ROUTER/DEALER round trip on a 2-core machine (7x the raw TCP
// round trip) because they write each frame with two system calls and spawn a
// goroutine per send, and their PUB socket leaks a goroutine on Close. With
// this package, a whole trivial execute (request, five iopub messages and the
// reply, all signed) takes about 110-140 µs over tcp or ipc on that machine
// (BenchmarkExecuteRoundTrip), and encoding plus decoding one signed message
// about 4 µs (BenchmarkEncodeDecode).
package jupyter
