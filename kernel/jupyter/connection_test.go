package jupyter

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseConnectionInfo(t *testing.T) {
	valid := `{"transport":"tcp","ip":"127.0.0.1","shell_port":5001,"iopub_port":5002,"stdin_port":5003,
		"control_port":5004,"hb_port":5005,"key":"abc","signature_scheme":"hmac-sha256","kernel_name":"flowlab",
		"jupyter_session":"extra fields are ignored"}`
	tests := []struct {
		name    string
		json    string
		wantErr error
		mention string
	}{
		{"valid", valid, nil, ""},
		{"ipc", `{"transport":"ipc","ip":"/tmp/k","shell_port":1,"iopub_port":2,"stdin_port":3,"control_port":4,"hb_port":5,"key":"","signature_scheme":"hmac-sha256"}`, nil, ""},
		{"empty scheme means sha256", `{"transport":"tcp","ip":"127.0.0.1","shell_port":1,"iopub_port":2,"stdin_port":3,"control_port":4,"hb_port":5}`, nil, ""},
		{"not json", `{"transport":`, ErrBadConnectionInfo, "unexpected end"},
		{"port is a string", `{"transport":"tcp","ip":"127.0.0.1","shell_port":"5001"}`, ErrBadConnectionInfo, "shell_port"},
		{"unknown scheme", strings.Replace(valid, "hmac-sha256", "hmac-sha3-512", 1), ErrUnsupportedScheme, `"hmac-sha3-512"`},
		{"unknown transport", strings.Replace(valid, `"tcp"`, `"udp"`, 1), ErrBadConnectionInfo, `transport "udp"`},
		{"missing transport", strings.Replace(valid, `"transport":"tcp",`, ``, 1), ErrBadConnectionInfo, "transport is missing"},
		{"missing ip", strings.Replace(valid, `"ip":"127.0.0.1",`, ``, 1), ErrBadConnectionInfo, "ip is missing"},
		{"port out of range", strings.Replace(valid, `5005`, `70000`, 1), ErrBadConnectionInfo, "hb port 70000 is out of range"},
		{"shared port", strings.Replace(valid, `5005`, `5001`, 1), ErrBadConnectionInfo, "shell and hb share port 5001"},
		{"ipc path too long", `{"transport":"ipc","ip":"/` + strings.Repeat("x", 120) + `","shell_port":1,"iopub_port":2,"stdin_port":3,"control_port":4,"hb_port":5}`, ErrBadConnectionInfo, "unix socket"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info, err := ParseConnectionInfo([]byte(tt.json))
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				if info.Transport == "" || info.IP == "" || info.ShellPort == 0 {
					t.Errorf("info = %+v", info)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.mention) {
				t.Errorf("err = %v, want %v mentioning %q", err, tt.wantErr, tt.mention)
			}
		})
	}
}

func TestConnectionFileRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "kernel-1.json")
	info, err := NewConnectionInfo(ConnectionOptions{KernelName: "flowlab"})
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteConnectionFile(path, info); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", fi.Mode().Perm())
	}
	got, err := ReadConnectionFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != info {
		t.Errorf("read back %+v, wrote %+v", got, info)
	}
	// Overwrite atomically: no temporary file may be left behind.
	info.KernelName = "other"
	if err := WriteConnectionFile(path, info); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("dir holds %d entries after rewrite, want 1: %v", len(entries), entries)
	}
	if got, _ := ReadConnectionFile(path); got.KernelName != "other" {
		t.Errorf("rewrite not visible: %+v", got)
	}

	t.Run("invalid info is not written", func(t *testing.T) {
		bad := info
		bad.SignatureScheme = "rot13"
		p := filepath.Join(dir, "bad.json")
		if err := WriteConnectionFile(p, bad); !errors.Is(err, ErrUnsupportedScheme) {
			t.Errorf("err = %v", err)
		}
		if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("bad file exists: %v", err)
		}
	})
	t.Run("missing file", func(t *testing.T) {
		_, err := ReadConnectionFile(filepath.Join(dir, "nope.json"))
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("malformed file names the path", func(t *testing.T) {
		p := filepath.Join(dir, "broken.json")
		os.WriteFile(p, []byte("{not json"), 0o600)
		_, err := ReadConnectionFile(p)
		if !errors.Is(err, ErrBadConnectionInfo) || !strings.Contains(err.Error(), p) {
			t.Errorf("err = %v", err)
		}
	})
}

func TestNewConnectionInfo(t *testing.T) {
	t.Run("tcp", func(t *testing.T) {
		info, err := NewConnectionInfo(ConnectionOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if info.Transport != "tcp" || info.IP != "127.0.0.1" || info.SignatureScheme != "hmac-sha256" || len(info.Key) != 64 {
			t.Errorf("info = %+v", info)
		}
		seen := map[int]bool{}
		for ch := Shell; ch <= Heartbeat; ch++ {
			p := info.Port(ch)
			if p <= 0 || seen[p] {
				t.Errorf("%s port %d invalid or duplicate", ch, p)
			}
			seen[p] = true
		}
		other, _ := NewConnectionInfo(ConnectionOptions{})
		if other.Key == info.Key {
			t.Error("two connection infos share a key")
		}
	})
	t.Run("ipc", func(t *testing.T) {
		dir := t.TempDir()
		info, err := NewConnectionInfo(ConnectionOptions{Transport: "ipc", Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(info.IP, dir+"/kernel-") {
			t.Errorf("ip = %q", info.IP)
		}
		if got, want := info.Endpoint(Shell), "ipc://"+info.IP+"-1"; got != want {
			t.Errorf("Endpoint = %q, want %q", got, want)
		}
	})
	t.Run("bad transport", func(t *testing.T) {
		if _, err := NewConnectionInfo(ConnectionOptions{Transport: "pgm"}); !errors.Is(err, ErrBadConnectionInfo) {
			t.Errorf("err = %v", err)
		}
	})
}

func TestEndpoint(t *testing.T) {
	tcp := ConnectionInfo{Transport: "tcp", IP: "127.0.0.1", ShellPort: 1, IOPubPort: 2, StdinPort: 3, ControlPort: 4, HBPort: 5}
	ipc := ConnectionInfo{Transport: "ipc", IP: "/tmp/kernel-abc", ShellPort: 1, IOPubPort: 2, StdinPort: 3, ControlPort: 4, HBPort: 5}
	v6 := ConnectionInfo{Transport: "tcp", IP: "::1", ShellPort: 9}
	tests := []struct {
		name string
		info ConnectionInfo
		ch   Channel
		want string
	}{
		{"tcp shell", tcp, Shell, "tcp://127.0.0.1:1"},
		{"tcp iopub", tcp, IOPub, "tcp://127.0.0.1:2"},
		{"tcp stdin", tcp, Stdin, "tcp://127.0.0.1:3"},
		{"tcp control", tcp, Control, "tcp://127.0.0.1:4"},
		{"tcp hb", tcp, Heartbeat, "tcp://127.0.0.1:5"},
		{"ipc shell", ipc, Shell, "ipc:///tmp/kernel-abc-1"},
		{"ipc hb", ipc, Heartbeat, "ipc:///tmp/kernel-abc-5"},
		{"ipv6", v6, Shell, "tcp://[::1]:9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.info.Endpoint(tt.ch); got != tt.want {
				t.Errorf("Endpoint(%s) = %q, want %q", tt.ch, got, tt.want)
			}
		})
	}
}

func TestChannelNames(t *testing.T) {
	for ch := Shell; ch <= Heartbeat; ch++ {
		got, err := ParseChannel(ch.String())
		if err != nil || got != ch {
			t.Errorf("ParseChannel(%q) = %v, %v", ch.String(), got, err)
		}
	}
	if _, err := ParseChannel("Shell"); !errors.Is(err, ErrBadChannel) {
		t.Errorf("ParseChannel(Shell) err = %v", err)
	}
}
