package taps_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowlab/flowlab/datalake/taps"
	"github.com/twmb/franz-go/pkg/kfake"
)

func TestParseConfig(t *testing.T) {
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwFile, []byte("secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		json string
		// want is what the first tap must parse to; problems are substrings
		// the error must hold.
		want     *taps.TapConfig
		problems []string
	}{
		{
			name: "minimal",
			json: `{"taps": {"Alerts": {"brokers": ["127.0.0.1:9092"], "topic": "alerts"}}}`,
			want: &taps.TapConfig{Cluster: taps.Cluster{Brokers: []string{"127.0.0.1:9092"}}, Topic: "alerts"},
		},
		{
			name: "everything",
			json: `{"taps": {"Alerts": {"brokers": ["k1:9093", "k2:9093"], "topic": "siem.alerts", "client_id": "lab", "timeout": "2.5s",
				"max_message_bytes": 2048, "tls": {"server_name": "kafka"}, "sasl": {"mechanism": "SCRAM-SHA-512", "user": "u", "password_file": "` + pwFile + `"}}}}`,
			want: &taps.TapConfig{Cluster: taps.Cluster{Brokers: []string{"k1:9093", "k2:9093"}, ClientID: "lab", TLS: &taps.TLSConfig{ServerName: "kafka"},
				SASL: &taps.SASLConfig{Mechanism: "SCRAM-SHA-512", User: "u", PasswordFile: pwFile}}, Topic: "siem.alerts", Timeout: taps.Duration(2500 * time.Millisecond), MaxMessageBytes: 2048},
		},
		{name: "timeout in seconds", json: `{"taps": {"A": {"brokers": ["h:1"], "topic": "t", "timeout": 3}}}`,
			want: &taps.TapConfig{Cluster: taps.Cluster{Brokers: []string{"h:1"}}, Topic: "t", Timeout: taps.Duration(3 * time.Second)}},
		{name: "no taps", json: `{"taps": {}}`, problems: []string{"no taps: add one"}},
		{name: "syntax", json: "{\"taps\": {\n\"A\": }", problems: []string{"line 2"}},
		{name: "unknown field", json: `{"taps": {"A": {"brokers": ["h:1"], "topic": "t", "brokerz": []}}}`, problems: []string{`unknown field "brokerz"`}},
		{name: "two values", json: `{"taps": {"A": {"brokers": ["h:1"], "topic": "t"}}} {}`, problems: []string{"more than one JSON value"}},
		{name: "missing brokers and topic", json: `{"taps": {"Alerts": {}}}`, problems: []string{`tap "Alerts": brokers: empty`, `tap "Alerts": topic: missing`}},
		{name: "bad broker", json: `{"taps": {"A": {"brokers": ["kafka"], "topic": "t"}}}`, problems: []string{`"kafka" is not host:port`}},
		{name: "bad port", json: `{"taps": {"A": {"brokers": ["kafka:99999"], "topic": "t"}}}`, problems: []string{`"kafka:99999" is not host:port`}},
		{name: "bad topic", json: `{"taps": {"A": {"brokers": ["h:1"], "topic": "my alerts"}}}`, problems: []string{`holds ' '`}},
		{name: "bad name", json: `{"taps": {"-A": {"brokers": ["h:1"], "topic": "t"}}}`, problems: []string{`tap "-A": the name may hold`}},
		{name: "bad duration", json: `{"taps": {"A": {"brokers": ["h:1"], "topic": "t", "timeout": "ten"}}}`, problems: []string{`"ten" is not a duration`}},
		{name: "negative timeout", json: `{"taps": {"A": {"brokers": ["h:1"], "topic": "t", "timeout": "-1s"}}}`, problems: []string{"timeout: negative"}},
		{name: "sasl mechanism", json: `{"taps": {"A": {"brokers": ["h:1"], "topic": "t", "sasl": {"mechanism": "GSSAPI", "user": "u", "password": "p"}}}}`,
			problems: []string{`mechanism "GSSAPI": use PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512`}},
		{name: "sasl without password", json: `{"taps": {"A": {"brokers": ["h:1"], "topic": "t", "sasl": {"mechanism": "PLAIN", "user": "u"}}}}`,
			problems: []string{"sasl: password: missing"}},
		{name: "sasl two passwords", json: `{"taps": {"A": {"brokers": ["h:1"], "topic": "t", "sasl": {"mechanism": "PLAIN", "user": "u", "password": "p", "password_file": "` + pwFile + `"}}}}`,
			problems: []string{"not both"}},
		{name: "tls cert without key", json: `{"taps": {"A": {"brokers": ["h:1"], "topic": "t", "tls": {"cert_file": "` + pwFile + `"}}}}`,
			problems: []string{"cert_file and key_file go together"}},
		{name: "tls missing ca", json: `{"taps": {"A": {"brokers": ["h:1"], "topic": "t", "tls": {"ca_file": "/nonexistent/ca.pem"}}}}`,
			problems: []string{"tls: ca_file", "no such file"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := taps.ParseConfig([]byte(tc.json))
			if tc.want != nil {
				if err != nil {
					t.Fatal(err)
				}
				got := cfg.Taps[cfg.Names()[0]]
				if !equalTap(got, *tc.want) {
					t.Errorf("parsed %+v, want %+v", got, *tc.want)
				}
				return
			}
			if !errors.Is(err, taps.ErrTapConfig) {
				t.Fatalf("error %v, want ErrTapConfig", err)
			}
			for _, p := range tc.problems {
				if !strings.Contains(err.Error(), p) {
					t.Errorf("error %q does not say %q", err, p)
				}
			}
		})
	}
}

func equalTap(a, b taps.TapConfig) bool {
	if strings.Join(a.Brokers, ",") != strings.Join(b.Brokers, ",") || a.ClientID != b.ClientID || a.Topic != b.Topic ||
		a.Timeout != b.Timeout || a.MaxMessageBytes != b.MaxMessageBytes || (a.TLS == nil) != (b.TLS == nil) || (a.SASL == nil) != (b.SASL == nil) {
		return false
	}
	return (a.TLS == nil || *a.TLS == *b.TLS) && (a.SASL == nil || *a.SASL == *b.SASL)
}

func TestLoadConfig(t *testing.T) {
	js := `{"taps": {"Alerts": {"brokers": ["127.0.0.1:9092"], "topic": "alerts"}}}`
	file := filepath.Join(t.TempDir(), "taps.json")
	if err := os.WriteFile(file, []byte(js), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, src := range []string{js, " " + js, file} {
		c, err := taps.LoadConfig(src)
		if err != nil || len(c.Taps) != 1 {
			t.Errorf("LoadConfig(%.20q): %v %v", src, c, err)
		}
	}
	if _, err := taps.LoadConfig(filepath.Join(t.TempDir(), "none.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// TestSASL authenticates against a broker that requires SASL, with each
// mechanism, and checks a wrong password is refused with a clear error.
func TestSASL(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(), kfake.SeedTopics(1, "alerts"),
		kfake.Superuser("PLAIN", "plain-user", "pw-plain"),
		kfake.Superuser("SCRAM-SHA-256", "scram256", "pw-256"),
		kfake.Superuser("SCRAM-SHA-512", "scram512", "pw-512"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	addr := c.ListenAddrs()[0]
	for _, tc := range []struct {
		mech, user, pass string
		ok               bool
	}{
		{taps.SASLPlain, "plain-user", "pw-plain", true},
		{taps.SASLScramSHA256, "scram256", "pw-256", true},
		{taps.SASLScramSHA512, "scram512", "pw-512", true},
		{taps.SASLScramSHA256, "scram256", "wrong", false},
		{taps.SASLPlain, "plain-user", "wrong", false},
	} {
		t.Run(tc.mech+"/"+tc.pass, func(t *testing.T) {
			cfg := oneTap(addr, "alerts", 3*time.Second)
			tap := cfg.Taps["Alerts"]
			tap.SASL = &taps.SASLConfig{Mechanism: tc.mech, User: tc.user, Password: tc.pass}
			cfg.Taps["Alerts"] = tap
			s := newSet(t, cfg, taps.Options{})
			d, err := s.Send(context.Background(), "Alerts", []string{"authenticated " + tc.mech})
			if tc.ok {
				if err != nil {
					t.Fatalf("send: %v", err)
				}
				if d[0].Offset < 0 {
					t.Errorf("delivery %+v", d)
				}
				return
			}
			if !errors.Is(err, taps.ErrTapSend) {
				t.Fatalf("wrong password: %v, want ErrTapSend", err)
			}
		})
	}
}
