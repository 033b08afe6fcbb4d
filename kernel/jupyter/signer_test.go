package jupyter

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
)

type hmacVector struct {
	Name, Scheme, Key, Header, Metadata, Content, Digest string
	Parent                                               string `json:"parent_header"`
}

// TestSignerVectors checks our HMACs against digests computed by Python's
// hmac module (the command that made them is in the file).
func TestSignerVectors(t *testing.T) {
	data, err := os.ReadFile("testdata/hmac_vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Command string
		Vectors []hmacVector
	}
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	if len(file.Vectors) < 5 || !strings.Contains(file.Command, "/usr/bin/python3") {
		t.Fatalf("vector file incomplete: %d vectors, command %q", len(file.Vectors), file.Command)
	}
	for _, v := range file.Vectors {
		t.Run(v.Name, func(t *testing.T) {
			if len(v.Digest) == 0 {
				t.Fatal("vector has no digest")
			}
			s, err := NewSigner(v.Scheme, []byte(v.Key))
			if err != nil {
				t.Fatal(err)
			}
			h, p, md, c := []byte(v.Header), []byte(v.Parent), []byte(v.Metadata), []byte(v.Content)
			if got := s.Sign(h, p, md, c); got != v.Digest {
				t.Errorf("Sign = %s, python says %s", got, v.Digest)
			}
			if err := s.Verify([]byte(v.Digest), h, p, md, c); err != nil {
				t.Errorf("Verify(python digest) = %v", err)
			}
			if err := s.Verify([]byte(strings.ToUpper(v.Digest)), h, p, md, c); err != nil {
				t.Errorf("Verify(upper-case digest) = %v", err)
			}
			tampered := append([]byte(nil), c...)
			tampered[len(tampered)-1] = ' '
			if err := s.Verify([]byte(v.Digest), h, p, md, tampered); !errors.Is(err, ErrBadSignature) {
				t.Errorf("Verify(tampered content) = %v, want ErrBadSignature", err)
			}
		})
	}
}

func TestSignerVerifyErrors(t *testing.T) {
	s, err := NewSigner("hmac-sha256", []byte("key"))
	if err != nil {
		t.Fatal(err)
	}
	h, p, md, c := []byte(`{"msg_id":"1"}`), []byte(`{}`), []byte(`{}`), []byte(`{}`)
	good := s.Sign(h, p, md, c)
	other, _ := NewSigner("hmac-sha256", []byte("other key"))
	tests := []struct {
		name, sig, want string
	}{
		{"missing", "", "not signed"},
		{"too short", good[:10], "characters"},
		{"too long", good + "00", "characters"},
		{"not hex", strings.Repeat("zz", 32), "not hex"},
		{"wrong key", other.Sign(h, p, md, c), "does not match"},
		{"one digit off", good[:63] + string("0123456789abcdef"[(strings.IndexByte("0123456789abcdef", good[63])+1)%16]), "does not match"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Verify([]byte(tt.sig), h, p, md, c)
			if !errors.Is(err, ErrBadSignature) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Verify = %v, want ErrBadSignature mentioning %q", err, tt.want)
			}
		})
	}
	t.Run("disabled signer accepts anything", func(t *testing.T) {
		for _, d := range []*Signer{nil, mustSigner(t, "", nil)} {
			if d.Enabled() {
				t.Fatal("empty key should disable")
			}
			if sig := d.Sign(h, p, md, c); sig != "" {
				t.Errorf("Sign = %q, want empty", sig)
			}
			if err := d.Verify([]byte("junk"), h, p, md, c); err != nil {
				t.Errorf("Verify = %v", err)
			}
		}
	})
}

func mustSigner(t *testing.T, scheme string, key []byte) *Signer {
	t.Helper()
	s, err := NewSigner(scheme, key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestNewSignerSchemes(t *testing.T) {
	tests := []struct {
		scheme  string
		wantErr bool
	}{
		{"", false}, {"hmac-sha256", false}, {"hmac-sha512", false}, {"hmac-sha1", false},
		{"hmac-sha3", true}, {"sha256", true}, {"HMAC-SHA256", true}, {"none", true},
	}
	for _, tt := range tests {
		t.Run("scheme="+tt.scheme, func(t *testing.T) {
			s, err := NewSigner(tt.scheme, []byte("k"))
			if tt.wantErr {
				if !errors.Is(err, ErrUnsupportedScheme) || !strings.Contains(err.Error(), "hmac-sha256") {
					t.Errorf("err = %v, want ErrUnsupportedScheme naming the supported one", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.scheme == "" && s.Scheme() != DefaultSignatureScheme {
				t.Errorf("Scheme = %q", s.Scheme())
			}
		})
	}
}
