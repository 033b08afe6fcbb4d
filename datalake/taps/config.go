package taps

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// DefaultTimeout bounds one send (a message or a batch) when a tap sets no
// timeout: connecting, retries and the broker's acknowledgement together.
const DefaultTimeout = 10 * time.Second

// DefaultMaxMessageBytes is the largest message a tap sends when its
// configuration sets no limit; it is Kafka's default message.max.bytes.
const DefaultMaxMessageBytes = 1 << 20

// Config is the taps configuration: named taps, each a Kafka topic on a
// cluster. Its JSON form is what `flowlab kernel --taps FILE` and
// FLOWLAB_TAPS hold:
//
//	{"taps": {"Alerts": {"brokers": ["127.0.0.1:9092"], "topic": "alerts"}}}
type Config struct {
	// Taps maps a tap name (what cells pass to SendMessage) to its topic.
	Taps map[string]TapConfig `json:"taps"`
}

// Cluster says how to reach a Kafka cluster: bootstrap brokers, client id
// and security. Taps and datasinks share it.
type Cluster struct {
	// Brokers are bootstrap brokers as host:port.
	Brokers []string `json:"brokers"`
	// ClientID is the Kafka client id; empty means "flowlab".
	ClientID string `json:"client_id,omitempty"`
	// TLS, when set, encrypts connections and verifies the brokers.
	TLS *TLSConfig `json:"tls,omitempty"`
	// SASL, when set, authenticates with PLAIN or SCRAM.
	SASL *SASLConfig `json:"sasl,omitempty"`
}

// TapConfig is one tap: a topic on a cluster, with its limits.
type TapConfig struct {
	Cluster
	// Topic is the Kafka topic the tap produces to.
	Topic string `json:"topic"`
	// Timeout bounds one send, e.g. "10s"; zero means DefaultTimeout.
	Timeout Duration `json:"timeout,omitempty"`
	// MaxMessageBytes is the largest message accepted; zero means
	// DefaultMaxMessageBytes.
	MaxMessageBytes int `json:"max_message_bytes,omitempty"`
}

// TLSConfig configures TLS to the brokers. Files are PEM.
type TLSConfig struct {
	// CAFile holds the certificates that sign the brokers' certificates;
	// empty means the system's roots.
	CAFile string `json:"ca_file,omitempty"`
	// CertFile and KeyFile are the client certificate and its key, for
	// brokers that require mutual TLS. Both or neither.
	CertFile string `json:"cert_file,omitempty"`
	KeyFile  string `json:"key_file,omitempty"`
	// ServerName overrides the name checked in the brokers' certificates.
	ServerName string `json:"server_name,omitempty"`
	// InsecureSkipVerify disables verification of the brokers'
	// certificates; for tests only.
	InsecureSkipVerify bool `json:"insecure_skip_verify,omitempty"`
}

// SASL mechanisms a tap may use.
const (
	SASLPlain       = "PLAIN"
	SASLScramSHA256 = "SCRAM-SHA-256"
	SASLScramSHA512 = "SCRAM-SHA-512"
)

// SASLConfig configures SASL authentication.
type SASLConfig struct {
	// Mechanism is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.
	Mechanism string `json:"mechanism"`
	// User is the SASL user name.
	User string `json:"user"`
	// Password is the password; PasswordFile names a file holding it
	// instead (trailing newline removed), which keeps it out of the
	// configuration. One of the two.
	Password     string `json:"password,omitempty"`
	PasswordFile string `json:"password_file,omitempty"`
}

// Duration is a time.Duration written in JSON as a Go duration string
// ("10s", "1m30s") or as a number of seconds.
type Duration time.Duration

// MarshalJSON writes the duration as a string such as "10s".
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads "10s" or a number of seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("%q is not a duration: write it like \"10s\" or \"1m30s\"", s)
		}
		*d = Duration(v)
		return nil
	}
	var secs float64
	if err := json.Unmarshal(b, &secs); err != nil {
		return fmt.Errorf("%s is not a duration: write it like \"10s\" or as seconds", b)
	}
	*d = Duration(secs * float64(time.Second))
	return nil
}

// ParseConfig decodes a JSON taps configuration and validates it. Unknown
// fields are refused, so a misspelt field is an error rather than a silent
// default. Errors wrap ErrTapConfig and name what to fix.
func ParseConfig(data []byte) (Config, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var c Config
	if err := dec.Decode(&c); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line := 1 + bytes.Count(data[:min(int(se.Offset), len(data))], []byte("\n"))
			return Config{}, fmt.Errorf("%w: line %d: %v", ErrTapConfig, line, err)
		}
		return Config{}, fmt.Errorf("%w: %v", ErrTapConfig, err)
	}
	if dec.More() {
		return Config{}, fmt.Errorf("%w: more than one JSON value: the configuration is one object {\"taps\": {...}}", ErrTapConfig)
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// LoadConfig reads a taps configuration from a file, or from the value of
// an environment variable: a value starting with '{' is the JSON itself,
// anything else names a file. Errors wrap ErrTapConfig or the file error.
func LoadConfig(fileOrJSON string) (Config, error) {
	s := strings.TrimSpace(fileOrJSON)
	if strings.HasPrefix(s, "{") {
		return ParseConfig([]byte(s))
	}
	data, err := os.ReadFile(s)
	if err != nil {
		return Config{}, fmt.Errorf("read the taps configuration: %w", err)
	}
	c, err := ParseConfig(data)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", s, err)
	}
	return c, nil
}

// Names returns the configured tap names, sorted.
func (c Config) Names() []string {
	names := make([]string, 0, len(c.Taps))
	for n := range c.Taps {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Validate checks every tap and returns all problems at once, each naming
// the tap and the field and saying what to write instead. The error wraps
// ErrTapConfig.
func (c Config) Validate() error {
	var problems []string
	if len(c.Taps) == 0 {
		problems = append(problems, `no taps: add one, for example {"taps": {"Alerts": {"brokers": ["127.0.0.1:9092"], "topic": "alerts"}}}`)
	}
	for _, name := range c.Names() {
		for _, p := range validateTap(name, c.Taps[name]) {
			problems = append(problems, fmt.Sprintf("tap %q: %s", name, p))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w:\n  %s", ErrTapConfig, strings.Join(problems, "\n  "))
	}
	return nil
}

func validateTap(name string, t TapConfig) []string {
	var out []string
	if !validName(name) {
		out = append(out, "the name may hold letters, digits, '.', '_' and '-' (at most 64, starting with a letter or digit)")
	}
	out = append(out, t.Cluster.problems()...)
	switch {
	case t.Topic == "":
		out = append(out, `topic: missing: name the Kafka topic, for example "topic": "alerts"`)
	default:
		if p := topicProblem(t.Topic); p != "" {
			out = append(out, "topic: "+p)
		}
	}
	if t.Timeout < 0 {
		out = append(out, "timeout: negative: use a positive duration such as \"10s\", or leave it out for 10s")
	}
	if t.MaxMessageBytes < 0 {
		out = append(out, "max_message_bytes: negative: leave it out for 1 MiB")
	}
	return out
}

// Validate checks the cluster settings; the error wraps ErrTapConfig.
func (c Cluster) Validate() error {
	if p := c.problems(); len(p) > 0 {
		return fmt.Errorf("%w: %s", ErrTapConfig, strings.Join(p, "; "))
	}
	return nil
}

func (c Cluster) problems() []string {
	var out []string
	if len(c.Brokers) == 0 {
		out = append(out, `brokers: empty: list at least one host:port, for example "brokers": ["127.0.0.1:9092"]`)
	}
	for _, b := range c.Brokers {
		host, port, err := net.SplitHostPort(b)
		n, perr := strconv.Atoi(port)
		if err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
			out = append(out, fmt.Sprintf("brokers: %q is not host:port (for example 127.0.0.1:9092)", b))
		}
	}
	if t := c.TLS; t != nil {
		if (t.CertFile == "") != (t.KeyFile == "") {
			out = append(out, "tls: cert_file and key_file go together: set both for a client certificate, or neither")
		}
		for field, f := range map[string]string{"ca_file": t.CAFile, "cert_file": t.CertFile, "key_file": t.KeyFile} {
			if f == "" {
				continue
			}
			if _, err := os.Stat(f); err != nil {
				out = append(out, fmt.Sprintf("tls: %s: %v", field, err))
			}
		}
	}
	if s := c.SASL; s != nil {
		switch s.Mechanism {
		case SASLPlain, SASLScramSHA256, SASLScramSHA512:
		default:
			out = append(out, fmt.Sprintf("sasl: mechanism %q: use %s, %s or %s", s.Mechanism, SASLPlain, SASLScramSHA256, SASLScramSHA512))
		}
		if s.User == "" {
			out = append(out, "sasl: user: missing")
		}
		switch {
		case s.Password != "" && s.PasswordFile != "":
			out = append(out, "sasl: set password or password_file, not both")
		case s.Password == "" && s.PasswordFile == "":
			out = append(out, "sasl: password: missing: set password, or password_file naming a file that holds it")
		case s.PasswordFile != "":
			if _, err := os.Stat(s.PasswordFile); err != nil {
				out = append(out, fmt.Sprintf("sasl: password_file: %v", err))
			}
		}
	}
	return out
}

// validName reports whether s is a usable tap or datasink name.
func validName(s string) bool {
	if s == "" || len(s) > 64 || !isAlnum(s[0]) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '.' && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// topicProblem says what is wrong with a Kafka topic name, or "".
func topicProblem(t string) string {
	switch {
	case t == "." || t == "..":
		return fmt.Sprintf("%q is not a legal Kafka topic name", t)
	case len(t) > 249:
		return "longer than Kafka's 249 characters"
	}
	for i := 0; i < len(t); i++ {
		if c := t[i]; !isAlnum(c) && c != '.' && c != '_' && c != '-' {
			return fmt.Sprintf("%q holds %q: Kafka topic names use letters, digits, '.', '_' and '-'", t, c)
		}
	}
	return ""
}

// timeout returns the tap's send timeout.
func (t TapConfig) timeout() time.Duration {
	if t.Timeout <= 0 {
		return DefaultTimeout
	}
	return time.Duration(t.Timeout)
}

// maxBytes returns the tap's message size limit.
func (t TapConfig) maxBytes() int {
	if t.MaxMessageBytes <= 0 {
		return DefaultMaxMessageBytes
	}
	return t.MaxMessageBytes
}
