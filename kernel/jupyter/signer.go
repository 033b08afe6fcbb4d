package jupyter

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"hash"
	"sync"
)

// hashForScheme maps a Jupyter signature scheme ("hmac-" + a hashlib name) to
// its hash. Empty means the default, hmac-sha256.
func hashForScheme(scheme string) (func() hash.Hash, bool) {
	switch scheme {
	case "", "hmac-sha256":
		return sha256.New, true
	case "hmac-sha224":
		return sha256.New224, true
	case "hmac-sha384":
		return sha512.New384, true
	case "hmac-sha512":
		return sha512.New, true
	case "hmac-sha1":
		return sha1.New, true
	case "hmac-md5":
		return md5.New, true
	}
	return nil, false
}

// Signer computes and checks the HMAC signature of Jupyter messages: the
// lower-case hex digest over the header, parent_header, metadata and content
// frames, in that order (buffers are not signed).
//
// A Signer with an empty key (and a nil *Signer) is disabled: it produces
// empty signatures and accepts any. A Signer is safe for concurrent use.
type Signer struct {
	scheme string
	key    []byte
	size   int
	pool   sync.Pool // of hash.Hash, keyed HMACs reset before use
}

// NewSigner returns a Signer for a scheme ("hmac-sha256", the standard; also
// hmac-sha224, -sha384, -sha512, -sha1 and -md5 as jupyter_client accepts any
// hashlib name; empty means hmac-sha256) and key. The key is copied. It
// returns an error wrapping ErrUnsupportedScheme for any other scheme.
func NewSigner(scheme string, key []byte) (*Signer, error) {
	newHash, ok := hashForScheme(scheme)
	if !ok {
		return nil, fmt.Errorf("%w %q (want %s)", ErrUnsupportedScheme, scheme, DefaultSignatureScheme)
	}
	if scheme == "" {
		scheme = DefaultSignatureScheme
	}
	s := &Signer{scheme: scheme, key: append([]byte(nil), key...), size: newHash().Size()}
	s.pool.New = func() any { return hmac.New(newHash, s.key) }
	return s, nil
}

// Enabled reports whether the Signer signs and verifies (its key is not empty).
func (s *Signer) Enabled() bool { return s != nil && len(s.key) > 0 }

// Scheme returns the signature scheme, e.g. "hmac-sha256".
func (s *Signer) Scheme() string {
	if s == nil {
		return DefaultSignatureScheme
	}
	return s.scheme
}

// maxDigest is the largest digest of the supported hashes (sha512).
const maxDigest = 64

// sum computes the raw HMAC of the four frames into dst, which must hold
// s.size bytes, and returns it.
func (s *Signer) sum(dst *[maxDigest]byte, header, parent, metadata, content []byte) []byte {
	h := s.pool.Get().(hash.Hash)
	h.Reset()
	h.Write(header)
	h.Write(parent)
	h.Write(metadata)
	h.Write(content)
	out := h.Sum(dst[:0])
	s.pool.Put(h)
	return out
}

// AppendSignature appends the hex signature of the four JSON frames to dst.
// A disabled Signer appends nothing.
func (s *Signer) AppendSignature(dst, header, parent, metadata, content []byte) []byte {
	if !s.Enabled() {
		return dst
	}
	var raw [maxDigest]byte
	d := s.sum(&raw, header, parent, metadata, content)
	n := len(dst)
	dst = append(dst, make([]byte, hex.EncodedLen(len(d)))...)
	hex.Encode(dst[n:], d)
	return dst
}

// Sign returns the hex signature of the four JSON frames, "" when disabled.
func (s *Signer) Sign(header, parent, metadata, content []byte) string {
	return string(s.AppendSignature(nil, header, parent, metadata, content))
}

// Verify checks sig (the hex signature frame) against the four JSON frames in
// constant time. A disabled Signer accepts anything. It returns an error
// wrapping ErrBadSignature when sig is missing, not hex of the right length,
// or wrong.
func (s *Signer) Verify(sig, header, parent, metadata, content []byte) error {
	if !s.Enabled() {
		return nil
	}
	if len(sig) == 0 {
		return fmt.Errorf("%w: message is not signed", ErrBadSignature)
	}
	if len(sig) != 2*s.size {
		return fmt.Errorf("%w: signature has %d characters, want %d for %s", ErrBadSignature, len(sig), 2*s.size, s.scheme)
	}
	var got [maxDigest]byte
	if _, err := hex.Decode(got[:s.size], sig); err != nil {
		return fmt.Errorf("%w: signature is not hex", ErrBadSignature)
	}
	var raw [maxDigest]byte
	want := s.sum(&raw, header, parent, metadata, content)
	if !hmac.Equal(got[:s.size], want) {
		return fmt.Errorf("%w: signature does not match (wrong key?)", ErrBadSignature)
	}
	return nil
}
