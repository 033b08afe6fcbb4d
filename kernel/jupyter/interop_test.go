package jupyter

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// debianPython is the interpreter that sees Debian's python3-* packages (the
// python3 first on PATH may be another installation that does not).
const debianPython = "/usr/bin/python3"

// requirePython skips the test when Debian's python lacks module, except
// under CI (the environment variable CI is set), where it fails: the real peer
// is part of the suite there.
func requirePython(t *testing.T, module, pkg string) {
	t.Helper()
	if testing.Short() {
		t.Skip("interop with Python is slow; skipped with -short")
	}
	err := exec.Command(debianPython, "-c", "import "+module).Run()
	if err == nil {
		return
	}
	msg := debianPython + " cannot import " + module + " (" + err.Error() + "): apt-get install -y " + pkg
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// TestInteropJupyterClient serves the echo kernel and drives it with
// jupyter_client's BlockingKernelClient (testdata/interop_client.py).
func TestInteropJupyterClient(t *testing.T) {
	requirePython(t, "jupyter_client", "python3-jupyter-client")
	for _, transport := range transports {
		t.Run(transport, func(t *testing.T) {
			logs := newLogRecorder()
			srv := testServer(t, testInfo(t, transport), ServerOptions{Logger: slog.New(logs)})
			k := startEchoKernel(t, srv)
			connFile := filepath.Join(t.TempDir(), "kernel.json")
			if err := WriteConnectionFile(connFile, srv.ConnectionInfo()); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, debianPython, "testdata/interop_client.py", connFile)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("interop_client.py: %v\n%s", err, stderr.String())
			}
			var res struct {
				SignatureScheme string          `json:"signature_scheme"`
				KernelInfo      KernelInfoReply `json:"kernel_info"`
				ReplyHeader     Header          `json:"reply_header"`
				PythonMessage   struct {
					MsgID    string `json:"msg_id"`
					Session  string
					Username string
					Version  string
					Content  ExecuteRequest
					Metadata map[string]string
				} `json:"python_message"`
				ExecuteReply ExecuteReply `json:"execute_reply"`
				ExecuteIOPub []struct {
					MsgType string `json:"msg_type"`
				} `json:"execute_iopub"`
				InputPrompt   string        `json:"input_prompt"`
				InputIOPub    []string      `json:"input_iopub"`
				IntruderMsgID string        `json:"intruder_msg_id"`
				IntruderReply *string       `json:"intruder_reply"`
				HBEcho        []string      `json:"hb_echo"`
				ShutdownReply ShutdownReply `json:"shutdown_reply"`
			}
			if err := json.Unmarshal(out, &res); err != nil {
				t.Fatalf("python output: %v\n%s", err, out)
			}

			t.Run("kernel_info round trip", func(t *testing.T) {
				if res.SignatureScheme != "hmac-sha256" || res.KernelInfo.Status != "ok" || res.KernelInfo.Implementation != "echo" || res.KernelInfo.ProtocolVersion != "5.3" {
					t.Errorf("kernel_info seen by jupyter_client: %+v (scheme %s)", res.KernelInfo, res.SignatureScheme)
				}
				if res.ReplyHeader.Session != srv.Session().ID() || res.ReplyHeader.Version != "5.3" || res.ReplyHeader.MsgType != "kernel_info_reply" {
					t.Errorf("reply header seen by jupyter_client: %+v", res.ReplyHeader)
				}
			})
			t.Run("python message decoded by Go", func(t *testing.T) {
				pm := res.PythonMessage
				var got *Message
				for _, m := range k.requests() {
					if m.Header.MsgID == pm.MsgID {
						got = m
					}
				}
				if got == nil {
					t.Fatalf("Go never received python's message %s", pm.MsgID)
				}
				if got.Channel != Shell || got.Header.MsgType != "execute_request" || got.Header.Session != pm.Session ||
					got.Header.Username != pm.Username || got.Header.Version != pm.Version || len(got.Identities) != 1 {
					t.Errorf("decoded header %+v identities %q, python sent %+v", got.Header, got.Identities, pm)
				}
				if _, err := got.Header.Time(); err != nil {
					t.Errorf("python's date: %v", err)
				}
				var content ExecuteRequest
				if err := got.DecodeContent(&content); err != nil || !reflect.DeepEqual(content, pm.Content) {
					t.Errorf("decoded content %+v, %v; python sent %+v", content, err, pm.Content)
				}
				var md map[string]string
				json.Unmarshal(got.Metadata, &md)
				if !reflect.DeepEqual(md, pm.Metadata) {
					t.Errorf("metadata %s, python sent %v", got.Metadata, pm.Metadata)
				}
				var types []string
				for _, m := range res.ExecuteIOPub {
					types = append(types, m.MsgType)
				}
				if got := strings.Join(types, ","); got != "status,execute_input,stream,execute_result,status" || res.ExecuteReply.Status != "ok" {
					t.Errorf("jupyter_client saw iopub %s and reply %+v", got, res.ExecuteReply)
				}
			})
			t.Run("stdin", func(t *testing.T) {
				if res.InputPrompt != "name? " || len(res.InputIOPub) != 1 || res.InputIOPub[0] != "hello from python" {
					t.Errorf("prompt %q, output %q", res.InputPrompt, res.InputIOPub)
				}
			})
			t.Run("wrong key dropped", func(t *testing.T) {
				if res.IntruderReply != nil {
					t.Errorf("intruder got a reply to %s", *res.IntruderReply)
				}
				for _, m := range k.requests() {
					if m.Header.MsgID == res.IntruderMsgID {
						t.Errorf("badly signed message delivered")
					}
				}
				if a := logs.find("dropped message"); a == nil || a["channel"] != "shell" || !strings.Contains(a["reason"], "signature") {
					t.Errorf("drop not logged: %v", a)
				}
			})
			t.Run("heartbeat", func(t *testing.T) {
				if len(res.HBEcho) != 2 || res.HBEcho[0] != "ping" || res.HBEcho[1] != "\x00\x01two" {
					t.Errorf("echo %q", res.HBEcho)
				}
			})
			t.Run("shutdown on control", func(t *testing.T) {
				if res.ShutdownReply.Status != "ok" || !res.ShutdownReply.Restart {
					t.Errorf("shutdown reply %+v", res.ShutdownReply)
				}
			})
		})
	}
}

// TestInteropIPyKernel drives Debian's ipykernel, the reference kernel, with
// this package's Client. It is skipped when python3-ipykernel is missing.
func TestInteropIPyKernel(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	if err := exec.Command(debianPython, "-c", "import ipykernel").Run(); err != nil {
		t.Skip("python3-ipykernel not installed: " + err.Error())
	}
	for _, transport := range transports {
		t.Run(transport, func(t *testing.T) {
			info := testInfo(t, transport)
			dir := t.TempDir()
			connFile := filepath.Join(dir, "kernel.json")
			if err := WriteConnectionFile(connFile, info); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, debianPython, "-m", "ipykernel_launcher", "-f", connFile)
			cmd.Env = append(os.Environ(), "HOME="+dir, "IPYTHONDIR="+filepath.Join(dir, "ipython"), "JUPYTER_RUNTIME_DIR="+dir)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			defer func() {
				cmd.Process.Kill()
				<-exited
			}()

			c, err := Dial(ctx, info, ClientOptions{})
			if err != nil {
				t.Fatalf("Dial: %v\n%s", err, stderr.String())
			}
			defer c.Close()
			if err := c.WaitReady(ctx); err != nil {
				t.Fatalf("WaitReady: %v\n%s", err, stderr.String())
			}
			ki, err := c.KernelInfo(ctx)
			if err != nil || ki.Implementation != "ipython" || ki.LanguageInfo.Name != "python" {
				t.Fatalf("KernelInfo = %+v, %v", ki, err)
			}
			ex, err := c.Execute(ctx, "print('hi from', 6*7)\n6*7", ExecuteOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var stream, result string
			for _, m := range ex.Outputs {
				switch m.Type() {
				case "stream":
					var s Stream
					m.DecodeContent(&s)
					stream += s.Text
				case "execute_result":
					var r ExecuteResult
					m.DecodeContent(&r)
					result, _ = r.Data["text/plain"].(string)
				}
			}
			if r, _ := ex.ReplyContent(); r.Status != "ok" || stream != "hi from 42\n" || result != "42" {
				t.Errorf("reply %+v stream %q result %q", r, stream, result)
			}
			ex, err = c.Execute(ctx, "name = input('who? ')\nprint('hello', name)", ExecuteOptions{
				Input: func(ctx context.Context, prompt string, password bool) (string, error) {
					if prompt != "who? " {
						t.Errorf("prompt %q", prompt)
					}
					return "gopher", nil
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, m := range ex.Outputs {
				var s Stream
				if m.Type() == "stream" && m.DecodeContent(&s) == nil && s.Text == "hello gopher\n" {
					found = true
				}
			}
			if !found {
				t.Errorf("input round trip: outputs %v", ex.Outputs)
			}
			hctx, hcancel := context.WithTimeout(ctx, 5*time.Second)
			defer hcancel()
			if err := c.Heartbeat(hctx); err != nil {
				t.Errorf("Heartbeat: %v", err)
			}
			if err := c.Shutdown(ctx, false); err != nil {
				t.Errorf("Shutdown: %v", err)
			}
			select {
			case <-exited:
				exited <- nil // for the deferred wait
			case <-ctx.Done():
				t.Error("ipykernel did not exit after shutdown_request")
			}
		})
	}
}
