package taps

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
)

// scramClient runs the client side of a SCRAM exchange (RFC 5802, without
// channel binding), as sarama's SCRAMClient. One client serves one
// authentication.
type scramClient struct {
	newHash func() hash.Hash

	user, pass, authz string
	step              int
	nonce             string
	clientFirstBare   string
	serverSignature   []byte
	done              bool
}

func newSCRAM256() *scramClient { return &scramClient{newHash: sha256.New} }
func newSCRAM512() *scramClient { return &scramClient{newHash: sha512.New} }

// Begin records the credentials and resets the exchange.
func (c *scramClient) Begin(user, pass, authz string) error {
	c.user, c.pass, c.authz = user, pass, authz
	c.step, c.done = 0, false
	var b [18]byte
	if _, err := rand.Read(b[:]); err != nil {
		return err
	}
	c.nonce = base64.RawStdEncoding.EncodeToString(b[:])
	return nil
}

// gs2Header is the GS2 header: no channel binding, and the authorization
// identity if any.
func (c *scramClient) gs2Header() string {
	if c.authz == "" {
		return "n,,"
	}
	return "n,a=" + saslName(c.authz) + ","
}

// Step answers the server's challenge.
func (c *scramClient) Step(challenge string) (string, error) {
	defer func() { c.step++ }()
	switch c.step {
	case 0:
		c.clientFirstBare = "n=" + saslName(c.user) + ",r=" + c.nonce
		return c.gs2Header() + c.clientFirstBare, nil
	case 1:
		return c.clientFinal(challenge)
	case 2:
		c.done = true
		attrs := scramAttrs(challenge)
		if e, ok := attrs["e"]; ok {
			return "", fmt.Errorf("SCRAM: the broker refused the credentials: %s", e)
		}
		v, err := base64.StdEncoding.DecodeString(attrs["v"])
		if err != nil || subtle.ConstantTimeCompare(v, c.serverSignature) != 1 {
			return "", errors.New("SCRAM: the broker's signature does not match: it does not know this password, or it is not the broker it claims to be")
		}
		return "", nil
	}
	return "", errors.New("SCRAM: unexpected extra challenge")
}

func (c *scramClient) clientFinal(serverFirst string) (string, error) {
	attrs := scramAttrs(serverFirst)
	if e, ok := attrs["e"]; ok {
		return "", fmt.Errorf("SCRAM: the broker refused the exchange: %s", e)
	}
	nonce, salt64, iters := attrs["r"], attrs["s"], attrs["i"]
	if !strings.HasPrefix(nonce, c.nonce) || len(nonce) == len(c.nonce) {
		return "", errors.New("SCRAM: the broker's nonce does not extend ours")
	}
	salt, err := base64.StdEncoding.DecodeString(salt64)
	if err != nil {
		return "", fmt.Errorf("SCRAM: bad salt from the broker: %v", err)
	}
	n, err := strconv.Atoi(iters)
	if err != nil || n < 1 {
		return "", fmt.Errorf("SCRAM: bad iteration count %q from the broker", iters)
	}
	salted, err := pbkdf2.Key(c.newHash, c.pass, salt, n, c.newHash().Size())
	if err != nil {
		return "", fmt.Errorf("SCRAM: %v", err)
	}
	clientKey := c.hmac(salted, "Client Key")
	h := c.newHash()
	h.Write(clientKey)
	storedKey := h.Sum(nil)
	finalNoProof := "c=" + base64.StdEncoding.EncodeToString([]byte(c.gs2Header())) + ",r=" + nonce
	authMessage := c.clientFirstBare + "," + serverFirst + "," + finalNoProof
	sig := c.hmac(storedKey, authMessage)
	proof := make([]byte, len(clientKey))
	for i := range clientKey {
		proof[i] = clientKey[i] ^ sig[i]
	}
	c.serverSignature = c.hmac(c.hmac(salted, "Server Key"), authMessage)
	return finalNoProof + ",p=" + base64.StdEncoding.EncodeToString(proof), nil
}

// Done reports whether the exchange is over.
func (c *scramClient) Done() bool { return c.done }

func (c *scramClient) hmac(key []byte, msg string) []byte {
	m := hmac.New(c.newHash, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// saslName escapes '=' and ',' in a SCRAM user name.
func saslName(s string) string {
	return strings.NewReplacer("=", "=3D", ",", "=2C").Replace(s)
}

// scramAttrs splits "k=v,k=v" into a map.
func scramAttrs(s string) map[string]string {
	out := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		if k, v, ok := strings.Cut(kv, "="); ok && len(k) == 1 {
			out[k] = v
		}
	}
	return out
}
