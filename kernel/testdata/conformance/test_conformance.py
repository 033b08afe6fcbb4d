"""Jupyter protocol conformance suite for the flowlab Go kernel.

Driven by Debian's jupyter_client (python3-jupyter-client) against the
installed kernelspec named by $FLOWLAB_KERNEL_NAME (default "flowlab-go").
Run it through `go test ./kernel -run Conformance`, which builds the kernel,
installs the kernelspec into a temporary prefix and sets JUPYTER_PATH.
"""

import hashlib
import hmac
import json
import os
import queue
import signal
import time
import unittest
import uuid
from datetime import datetime, timezone

import zmq
from jupyter_client.manager import KernelManager

KERNEL = os.environ.get("FLOWLAB_KERNEL_NAME", "flowlab-go")
T = 20  # generous per-message timeout; the timed checks below are separate


def start():
    km = KernelManager(kernel_name=KERNEL)
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=T)
    return km, kc


def stop(km, kc):
    kc.stop_channels()
    if km.is_alive():
        km.shutdown_kernel(now=True)


def shell_reply(kc, msg_id, timeout=T):
    deadline = time.monotonic() + timeout
    while True:
        msg = kc.get_shell_msg(timeout=max(0.01, deadline - time.monotonic()))
        if msg["parent_header"].get("msg_id") == msg_id:
            return msg


def iopub_until_idle(kc, msg_id, timeout=T):
    """Messages on iopub whose parent is msg_id, up to and including idle."""
    out = []
    deadline = time.monotonic() + timeout
    while True:
        msg = kc.get_iopub_msg(timeout=max(0.01, deadline - time.monotonic()))
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        msg["_received"] = time.monotonic()
        out.append(msg)
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return out


def run(kc, code, **kw):
    """Execute code; read iopub as it arrives (so receive times are real),
    then the shell reply."""
    msg_id = kc.execute(code, **kw)
    msgs = iopub_until_idle(kc, msg_id)
    return shell_reply(kc, msg_id), msgs


def of_type(msgs, t):
    return [m for m in msgs if m["msg_type"] == t]


def stream_text(msgs, name="stdout"):
    return "".join(m["content"]["text"] for m in of_type(msgs, "stream") if m["content"]["name"] == name)


def result_plain(msgs):
    res = of_type(msgs, "execute_result")
    return res[0]["content"]["data"]["text/plain"] if res else None


class Conformance(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.km, cls.kc = start()

    @classmethod
    def tearDownClass(cls):
        stop(cls.km, cls.kc)

    def ok(self, code, **kw):
        reply, msgs = run(self.kc, code, **kw)
        self.assertEqual(reply["content"]["status"], "ok", (code, reply["content"], msgs))
        return reply, msgs

    # --- kernel_info and status ordering ---------------------------------

    def test_kernel_info(self):
        msg_id = self.kc.kernel_info()
        reply = shell_reply(self.kc, msg_id)
        c = reply["content"]
        self.assertEqual(c["status"], "ok")
        major, minor = (int(x) for x in c["protocol_version"].split(".")[:2])
        self.assertGreaterEqual((major, minor), (5, 3))
        li = c["language_info"]
        self.assertEqual(li["name"], "go")
        self.assertTrue(li["version"].startswith("1."), li)
        self.assertEqual(li["mimetype"], "text/x-go")
        self.assertEqual(li["file_extension"], ".go")
        self.assertEqual(li["codemirror_mode"], "go")
        self.assertEqual(li["pygments_lexer"], "go")
        self.assertEqual(c["implementation"], "flowlab")
        self.assertTrue(c["banner"])
        self.assertTrue(c["help_links"] and all("url" in h and "text" in h for h in c["help_links"]))
        # the header is a proper v5 header
        h = reply["header"]
        self.assertEqual(h["msg_type"], "kernel_info_reply")
        uuid.UUID(h["msg_id"])
        self.assertIsInstance(reply["header"]["date"], datetime)

    def test_status_wraps_every_request(self):
        requests = {
            "execute": lambda: self.kc.execute("1"),
            "kernel_info": self.kc.kernel_info,
            "complete": lambda: self.kc.complete("fmt.Pri", 7),
            "inspect": lambda: self.kc.inspect("fmt.Println", 5),
            "is_complete": lambda: self.kc.is_complete("x := 1"),
            "history": lambda: self.kc.history(hist_access_type="tail", n=1),
            "comm_info": lambda: self.kc.comm_info(),
        }
        for name, send in requests.items():
            with self.subTest(request=name):
                msg_id = send()
                shell_reply(self.kc, msg_id)
                msgs = iopub_until_idle(self.kc, msg_id)
                states = [m["content"]["execution_state"] for m in of_type(msgs, "status")]
                self.assertEqual(states, ["busy", "idle"], msgs)
                self.assertEqual(msgs[0]["msg_type"], "status")
                self.assertEqual(msgs[-1]["content"]["execution_state"], "idle")

    # --- execution ---------------------------------------------------------

    def test_execute_input_and_counts(self):
        r1, m1 = self.ok("a := 40")
        n = r1["content"]["execution_count"]
        inputs = of_type(m1, "execute_input")
        self.assertEqual(len(inputs), 1)
        self.assertEqual(inputs[0]["content"]["code"], "a := 40")
        self.assertEqual(inputs[0]["content"]["execution_count"], n)
        r2, m2 = self.ok("a + 2")
        self.assertEqual(r2["content"]["execution_count"], n + 1)
        res = of_type(m2, "execute_result")
        self.assertEqual(res[0]["content"]["execution_count"], n + 1)
        self.assertEqual(res[0]["content"]["data"]["text/plain"], "42")
        # silent: no broadcast, no count
        r3, m3 = self.ok("a + 3", silent=True)
        self.assertEqual(of_type(m3, "execute_input"), [])
        self.assertEqual(of_type(m3, "execute_result"), [])
        # store_history=False: runs, but does not advance the count
        r4, m4 = self.ok("a + 4", store_history=False)
        self.assertEqual(result_plain(m4), "44")
        r5, _ = self.ok("a")
        self.assertEqual(r5["content"]["execution_count"], n + 2)

    def test_state_redefinition_and_mixed_cells(self):
        self.ok('import "strings"\nfunc shout(s string) string { return strings.ToUpper(s) }\nv := shout("go")')
        _, msgs = self.ok("v")
        self.assertEqual(result_plain(msgs), '"GO"')
        self.ok("func shout(s string) string { return s + \"!\" }")
        _, msgs = self.ok('shout("go")')
        self.assertEqual(result_plain(msgs), '"go!"')
        _, msgs = self.ok("type P struct{ A int }\np := P{A: 1}\np")
        self.assertEqual(result_plain(msgs), "{A:1}")
        _, msgs = self.ok("type P struct{ A, B int }\nP{A: 1, B: 2}")
        self.assertEqual(result_plain(msgs), "{A:1 B:2}")

    def test_tuple_result_and_suppression(self):
        self.ok("func two() (int, error) { return 3, nil }")
        _, msgs = self.ok("two()")
        self.assertEqual(result_plain(msgs), "(3, <nil>)")
        _, msgs = self.ok("two();")
        self.assertEqual(of_type(msgs, "execute_result"), [])
        _, msgs = self.ok('import "fmt"\nfmt.Println("hi")')
        self.assertEqual(of_type(msgs, "execute_result"), [])
        self.assertEqual(stream_text(msgs), "hi\n")

    def test_streams(self):
        code = (
            'import ("fmt"; "os"; "sync")\n'
            'fmt.Println("to stdout")\n'
            'fmt.Fprintln(os.Stderr, "to stderr")\n'
            'os.Stdout.WriteString("direct\\n")\n'
            "var wg sync.WaitGroup\n"
            "wg.Add(1)\n"
            'go func() { defer wg.Done(); fmt.Println("from goroutine") }()\n'
            "wg.Wait()\n"
            'fmt.Println("ünïcödé ✓")'
        )
        _, msgs = self.ok(code)
        out = stream_text(msgs)
        self.assertEqual(out, "to stdout\ndirect\nfrom goroutine\nünïcödé ✓\n")
        self.assertIn("to stderr", stream_text(msgs, "stderr"))

    def test_output_streams_live(self):
        code = 'import ("fmt"; "time")\nfmt.Println("first")\ntime.Sleep(2 * time.Second)\nfmt.Println("second")'
        sent = time.monotonic()
        _, msgs = self.ok(code)
        streams = of_type(msgs, "stream")
        self.assertGreaterEqual(len(streams), 2, streams)
        first = streams[0]
        self.assertEqual(first["content"]["text"], "first\n")
        self.assertLess(first["_received"] - sent, 1.5, "first output must arrive while the 2 s cell still runs")
        self.assertGreaterEqual(msgs[-1]["_received"] - sent, 2.0)

    def test_runaway_output_is_capped(self):
        code = 'import ("fmt"; "strings")\nline := strings.Repeat("x", 1023)\nfor i := 0; i < 40*1024; i++ { fmt.Println(line) }'
        _, msgs = self.ok(code)
        text = stream_text(msgs) + stream_text(msgs, "stderr")
        self.assertLess(len(text), 20 << 20)
        self.assertIn("output limit", text)

    def test_compile_error_points_at_cell_line(self):
        reply, msgs = run(self.kc, "x1 := 1\n\ny1 := x1 + \"s\"")
        c = reply["content"]
        self.assertEqual(c["status"], "error")
        self.assertEqual(c["ename"], "CompileError")
        self.assertIn("3:", c["evalue"])
        err = of_type(msgs, "error")[0]["content"]
        self.assertTrue(err["traceback"] and all(isinstance(line, str) for line in err["traceback"]))

    def test_panic_is_an_error_and_state_survives(self):
        self.ok("survivor := 7")
        reply, msgs = run(self.kc, "var mm map[string]int\nmm[\"a\"] = 1")
        c = reply["content"]
        self.assertEqual(c["status"], "error")
        self.assertTrue(c["ename"])
        self.assertIn("nil map", c["evalue"])
        self.assertTrue(all(isinstance(line, str) for line in c["traceback"]))
        reply, _ = run(self.kc, 'panic("boom")')
        self.assertEqual(reply["content"]["evalue"], "boom")
        reply, _ = run(self.kc, "type NP struct{ V int }\nvar np *NP\nnp.V")
        self.assertEqual(reply["content"]["status"], "error")
        self.assertIn("nil pointer", reply["content"]["evalue"])
        # a goroutine that panics does not take the kernel down
        _, msgs = self.ok('import "time"\ngo func() { panic("in goroutine") }()\ntime.Sleep(200 * time.Millisecond)')
        self.assertIn("in goroutine", stream_text(msgs, "stderr"))
        _, msgs = self.ok("survivor")
        self.assertEqual(result_plain(msgs), "7")

    def test_stop_on_error_aborts_queued_cells(self):
        # The first cell runs long enough for the others to be queued behind
        # it, as with "Run All": requests queued when a cell fails are aborted.
        first = self.kc.execute('import "time"\ntime.Sleep(300 * time.Millisecond)\npanic("stop here")')
        second = self.kc.execute("notRun := 1")
        third = self.kc.execute("notRunEither := 1")
        self.assertEqual(shell_reply(self.kc, first)["content"]["status"], "error")
        self.assertEqual(shell_reply(self.kc, second)["content"]["status"], "aborted")
        self.assertEqual(shell_reply(self.kc, third)["content"]["status"], "aborted")
        reply, _ = run(self.kc, "notRun")
        self.assertEqual(reply["content"]["status"], "error")
        # with stop_on_error false the next cell runs
        first = self.kc.execute('panic("keep going")', stop_on_error=False)
        second = self.kc.execute("didRun := 1")
        self.assertEqual(shell_reply(self.kc, first)["content"]["status"], "error")
        self.assertEqual(shell_reply(self.kc, second)["content"]["status"], "ok")

    def test_input_request(self):
        code = 'import "fmt"\nvar name string\nfmt.Print("name? ")\nfmt.Scanln(&name)\nname'
        msg_id = self.kc.execute(code, allow_stdin=True)
        req = self.kc.get_stdin_msg(timeout=T)
        self.assertEqual(req["msg_type"], "input_request")
        self.assertFalse(req["content"]["password"])
        self.kc.input("gopher")
        reply = shell_reply(self.kc, msg_id)
        self.assertEqual(reply["content"]["status"], "ok")
        self.assertEqual(result_plain(iopub_until_idle(self.kc, msg_id)), '"gopher"')
        reply, _ = run(self.kc, 'var n2 int\n_, err := fmt.Scanln(&n2)\nif err != nil { panic(err) }', allow_stdin=False)
        self.assertEqual(reply["content"]["status"], "error")
        self.assertIn("stdin", reply["content"]["evalue"])

    # --- interrupt ----------------------------------------------------------

    def test_interrupt_message_stops_busy_loop(self):
        self.ok("kept := 99")
        msg_id = self.kc.execute("for {}")
        time.sleep(0.5)
        t0 = time.monotonic()
        self.km.interrupt_kernel()
        reply = shell_reply(self.kc, msg_id, timeout=5)
        self.assertLess(time.monotonic() - t0, 1.0)
        self.assertEqual(reply["content"]["status"], "error")
        self.assertEqual(reply["content"]["ename"], "Interrupted")
        iopub_until_idle(self.kc, msg_id)
        _, msgs = self.ok("kept")
        self.assertEqual(result_plain(msgs), "99")

    def test_sigint_stops_busy_loop(self):
        self.ok("keptToo := 5")
        msg_id = self.kc.execute("for {}")
        time.sleep(0.5)
        t0 = time.monotonic()
        self.km.signal_kernel(signal.SIGINT)
        reply = shell_reply(self.kc, msg_id, timeout=5)
        self.assertLess(time.monotonic() - t0, 1.0)
        self.assertEqual(reply["content"]["ename"], "Interrupted")
        iopub_until_idle(self.kc, msg_id)
        self.assertTrue(self.km.is_alive())
        _, msgs = self.ok("keptToo")
        self.assertEqual(result_plain(msgs), "5")

    # --- introspection -------------------------------------------------------

    def test_complete(self):
        self.ok('import "fmt"\ntype Host struct{ Addr string; Port int }\nfunc (h Host) URL() string { return h.Addr }\nsrv := Host{"a", 1}\ncounter := 1')
        cases = [
            ("fmt.Pri", {"Printf", "Println", "Print"}, True),
            ("coun", {"counter"}, False),
            ("srv.", {"Addr", "Port", "URL"}, False),
        ]
        for code, want, qualified in cases:
            with self.subTest(code=code):
                msg_id = self.kc.complete(code, len(code))
                c = shell_reply(self.kc, msg_id)["content"]
                self.assertEqual(c["status"], "ok")
                got = set(c["matches"])
                self.assertTrue(want <= got, (want, got))
                self.assertEqual(c["cursor_end"], len(code))
                self.assertLessEqual(c["cursor_start"], len(code))

    def test_inspect(self):
        msg_id = self.kc.inspect("fmt.Println", len("fmt.Print"), 0)
        c = shell_reply(self.kc, msg_id)["content"]
        self.assertEqual(c["status"], "ok")
        self.assertTrue(c["found"])
        self.assertIn("func", c["data"]["text/plain"])
        msg_id = self.kc.inspect("nosuchnamehere", 5, 0)
        c = shell_reply(self.kc, msg_id)["content"]
        self.assertFalse(c["found"])

    def test_is_complete(self):
        for code, status in [("x := 1", "complete"), ("func f() {", "incomplete"), ("x := )", "invalid")]:
            with self.subTest(code=code):
                msg_id = self.kc.is_complete(code)
                c = shell_reply(self.kc, msg_id)["content"]
                self.assertEqual(c["status"], status, c)
                if status == "incomplete":
                    self.assertIn("indent", c)

    def test_history(self):
        self.ok("histMarker := 12345")
        c = shell_reply(self.kc, self.kc.history(hist_access_type="tail", n=3, output=False, raw=True))["content"]
        self.assertEqual(c["status"], "ok")
        self.assertTrue(any("histMarker" in h[2] for h in c["history"]), c)
        for h in c["history"]:
            self.assertEqual(len(h), 3)
        c = shell_reply(self.kc, self.kc.history(hist_access_type="search", pattern="histMark*", output=False, raw=True))["content"]
        self.assertTrue(c["history"] and all("histMarker" in h[2] for h in c["history"]), c)
        c = shell_reply(self.kc, self.kc.history(hist_access_type="range", session=0, start=1, stop=3, output=False, raw=True))["content"]
        self.assertEqual(c["status"], "ok")

    def test_comms(self):
        c = shell_reply(self.kc, self.kc.comm_info())["content"]
        self.assertEqual(c["status"], "ok")
        self.assertEqual(c["comms"], {})
        comm_id = uuid.uuid4().hex
        msg = self.kc.session.msg("comm_open", {"comm_id": comm_id, "target_name": "jupyter.widget", "data": {}})
        self.kc.shell_channel.send(msg)
        msgs = iopub_until_idle(self.kc, msg["header"]["msg_id"])
        closes = of_type(msgs, "comm_close")
        self.assertEqual(len(closes), 1, msgs)
        self.assertEqual(closes[0]["content"]["comm_id"], comm_id)

    # --- display --------------------------------------------------------------

    def test_display_and_update(self):
        code = 'id := display.Show(display.HTML("<b>one</b>"))\ndisplay.Update(id, display.Markdown("two"))\ndisplay.HTML("<i>last</i>")'
        _, msgs = self.ok(code)
        shown = of_type(msgs, "display_data")
        self.assertEqual(len(shown), 1)
        self.assertEqual(shown[0]["content"]["data"]["text/html"], "<b>one</b>")
        self.assertIn("text/plain", shown[0]["content"]["data"])
        did = shown[0]["content"]["transient"]["display_id"]
        upd = of_type(msgs, "update_display_data")
        self.assertEqual(upd[0]["content"]["transient"]["display_id"], did)
        self.assertEqual(upd[0]["content"]["data"]["text/markdown"], "two")
        res = of_type(msgs, "execute_result")[0]["content"]["data"]
        self.assertEqual(res["text/html"], "<i>last</i>")

    # --- magics -------------------------------------------------------------

    def test_magics(self):
        _, msgs = self.ok("%help")
        self.assertIn("%time", stream_text(msgs) + json.dumps([m["content"] for m in msgs]))
        _, msgs = self.ok("%packages")
        text = json.dumps([m["content"] for m in msgs])
        self.assertIn("strings", text)
        self.assertIn("net/netip", text)
        _, msgs = self.ok('%time\nimport "time"\ntime.Sleep(50 * time.Millisecond)')
        self.assertRegex(stream_text(msgs) + stream_text(msgs, "stderr"), r"(?i)wall")
        _, msgs = self.ok("%env FLOWLAB_CONFORMANCE=yes")
        _, msgs = self.ok('import "os"\nos.Getenv("FLOWLAB_CONFORMANCE")')
        self.assertEqual(result_plain(msgs), '"yes"')


class Signatures(unittest.TestCase):
    """A message signed with the wrong key is never answered or executed."""

    def setUp(self):
        self.km, self.kc = start()

    def tearDown(self):
        stop(self.km, self.kc)

    def raw_send(self, key, code):
        ctx = zmq.Context.instance()
        sock = ctx.socket(zmq.DEALER)
        sock.linger = 0
        ci = self.km.get_connection_info()
        sock.connect(f"{ci['transport']}://{ci['ip']}:{ci['shell_port']}")
        header = {
            "msg_id": uuid.uuid4().hex, "session": uuid.uuid4().hex, "username": "attacker",
            "date": datetime.now(timezone.utc).isoformat(), "msg_type": "execute_request", "version": "5.3",
        }
        content = {"code": code, "silent": False, "store_history": True, "user_expressions": {}, "allow_stdin": False, "stop_on_error": True}
        parts = [json.dumps(p).encode() for p in (header, {}, {}, content)]
        sig = hmac.new(key, b"".join(parts), hashlib.sha256).hexdigest().encode() if key is not None else b""
        sock.send_multipart([b"<IDS|MSG>", sig] + parts)
        return sock

    def test_wrong_or_missing_signature_is_dropped(self):
        for key in (b"not-the-key", None):
            with self.subTest(key=key):
                sock = self.raw_send(key, "pwned := 1")
                self.assertEqual(sock.poll(1000), 0, "the kernel answered a message with a bad signature")
                sock.close()
                reply, _ = run(self.kc, "pwned")
                self.assertEqual(reply["content"]["status"], "error", "a message with a bad signature was executed")

    def test_right_signature_is_answered(self):
        sock = self.raw_send(self.km.session.key, "legit := 1")
        self.assertNotEqual(sock.poll(T * 1000), 0)
        sock.close()


class Lifecycle(unittest.TestCase):
    def test_shutdown_reply_on_control_and_exit(self):
        km, kc = start()
        try:
            msg_id = kc.shutdown()
            deadline = time.monotonic() + T
            while True:
                msg = kc.get_control_msg(timeout=max(0.01, deadline - time.monotonic()))
                if msg["parent_header"].get("msg_id") == msg_id:
                    break
            self.assertEqual(msg["msg_type"], "shutdown_reply")
            self.assertEqual(msg["content"]["status"], "ok")
            self.assertFalse(msg["content"]["restart"])
            deadline = time.monotonic() + 5
            while km.is_alive() and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertFalse(km.is_alive(), "kernel still running 5 s after shutdown_reply")
        finally:
            stop(km, kc)

    def test_restart_clears_state(self):
        km, kc = start()
        try:
            reply, _ = run(kc, "beforeRestart := 1")
            self.assertEqual(reply["content"]["status"], "ok")
            km.restart_kernel(now=False)
            kc.wait_for_ready(timeout=T)
            reply, msgs = run(kc, "beforeRestart")
            self.assertEqual(reply["content"]["status"], "error")
            self.assertEqual(reply["content"]["execution_count"], 1)
        finally:
            stop(km, kc)


if __name__ == "__main__":
    unittest.main(verbosity=2)
