"""Drive a kernel served by kernel/jupyter with Debian's jupyter_client.

Run by interop_test.go as:  /usr/bin/python3 testdata/interop_client.py CONNECTION_FILE
It prints one JSON object with what it observed and exits non-zero (with a
traceback) on any protocol error. jupyter_client verifies every signature it
receives and raises on a bad or missing one, so a clean run proves it accepted
the Go side's HMACs.
"""
import json
import sys
import time

import zmq
from jupyter_client import BlockingKernelClient
from jupyter_client.session import Session


def collect_iopub(kc, parent_id, timeout=10):
    """iopub messages whose parent is parent_id, up to the idle status."""
    out = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        msg = kc.get_iopub_msg(timeout=timeout)
        if msg["parent_header"].get("msg_id") != parent_id:
            continue
        out.append(msg)
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return out
    raise TimeoutError("no idle status for %s" % parent_id)


def main():
    result = {}
    kc = BlockingKernelClient(connection_file=sys.argv[1])
    kc.load_connection_file()
    assert kc.session.auth is not None, "the connection file's key must enable signing"
    result["signature_scheme"] = kc.session.signature_scheme
    kc.start_channels()
    kc.wait_for_ready(timeout=30)

    # kernel_info round trip.
    msg_id = kc.kernel_info()
    reply = kc.get_shell_msg(timeout=10)
    assert reply["parent_header"]["msg_id"] == msg_id, reply["parent_header"]
    assert reply["msg_type"] == "kernel_info_reply", reply["msg_type"]
    result["kernel_info"] = reply["content"]
    result["reply_header"] = {k: str(v) for k, v in reply["header"].items()}

    # A message built by Python, decoded by Go: the Go test compares these.
    content = {
        "code": "héllo := \"wörld\" // ✓",
        "silent": False,
        "store_history": True,
        "user_expressions": {"x": "1+1"},
        "allow_stdin": False,
        "stop_on_error": True,
    }
    msg = kc.session.msg("execute_request", content, metadata={"cellId": "c-42"})
    kc.shell_channel.send(msg)
    result["python_message"] = {
        "msg_id": msg["header"]["msg_id"],
        "session": msg["header"]["session"],
        "username": msg["header"]["username"],
        "version": msg["header"]["version"],
        "content": content,
        "metadata": {"cellId": "c-42"},
    }
    reply = kc.get_shell_msg(timeout=10)
    assert reply["parent_header"]["msg_id"] == msg["header"]["msg_id"]
    result["execute_reply"] = reply["content"]
    result["execute_iopub"] = [
        {"msg_type": m["msg_type"], "content": m["content"]}
        for m in collect_iopub(kc, msg["header"]["msg_id"])
    ]

    # stdin: the kernel asks, jupyter_client answers.
    msg_id = kc.execute("input", allow_stdin=True)
    req = kc.get_stdin_msg(timeout=10)
    assert req["msg_type"] == "input_request", req["msg_type"]
    assert req["parent_header"]["msg_id"] == msg_id
    result["input_prompt"] = req["content"]["prompt"]
    kc.input("from python")
    kc.get_shell_msg(timeout=10)
    result["input_iopub"] = [
        m["content"]["text"] for m in collect_iopub(kc, msg_id) if m["msg_type"] == "stream"
    ]

    # A message signed with another key must be dropped: no reply.
    intruder = Session(key=b"wrong key", username="intruder")
    bad = intruder.msg("kernel_info_request", {})
    intruder.send(kc.shell_channel.socket, bad)
    result["intruder_msg_id"] = bad["header"]["msg_id"]
    try:
        r = kc.get_shell_msg(timeout=1)
        result["intruder_reply"] = r["parent_header"].get("msg_id")
    except Exception:  # queue.Empty: nothing came back, as it should
        result["intruder_reply"] = None

    # Heartbeat: a libzmq REQ socket, two frames, echoed as is.
    ctx = zmq.Context.instance()
    hb = ctx.socket(zmq.REQ)
    hb.linger = 0
    hb.connect(kc._make_url("hb"))
    hb.send_multipart([b"ping", b"\x00\x01two"])
    assert hb.poll(5000), "no heartbeat echo"
    result["hb_echo"] = [f.decode("latin-1") for f in hb.recv_multipart()]
    hb.close()

    # Control: shutdown_request on the control channel.
    msg_id = kc.shutdown(restart=True)
    reply = kc.get_control_msg(timeout=10)
    assert reply["parent_header"]["msg_id"] == msg_id
    result["shutdown_reply"] = reply["content"]

    kc.stop_channels()
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
