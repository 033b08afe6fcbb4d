package jupyter

import (
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/google/uuid"
)

// SessionOptions configures a Session. The zero value works: an unsigned
// session with a random id, the $USER name and the real clock.
type SessionOptions struct {
	// Key and SignatureScheme sign and verify messages (see NewSigner); an
	// empty Key disables signing. Server and Client take both from the
	// ConnectionInfo and ignore these.
	Key             []byte
	SignatureScheme string
	// ID is the session id stamped on every header; default a random UUID.
	ID string
	// Username is stamped on every header; default $USER, else "flowlab".
	Username string
	// Now is the clock for header dates; default time.Now.
	Now func() time.Time
	// NewID returns fresh msg_ids; default random UUIDs. Tests inject
	// fixed ids for golden files.
	NewID func() string
	// ReplayHistory is how many signatures are remembered to refuse replayed
	// messages; default 65536 (jupyter_client's), negative disables.
	ReplayHistory int
}

// Session is one party of a Jupyter conversation: it stamps new messages with
// its session id and username, a fresh msg_id, the date and the protocol
// version; signs outgoing frames; and verifies incoming ones, refusing a
// signature it has seen before (a replayed message) as jupyter_client does.
//
// A Session is safe for concurrent use.
type Session struct {
	id       string
	username string
	signer   *Signer
	now      func() time.Time
	newID    func() string

	mu      sync.Mutex
	seen    map[[32]byte]struct{}
	maxSeen int
}

// NewSession returns a Session. It returns an error wrapping
// ErrUnsupportedScheme for an unknown signature scheme.
func NewSession(opts SessionOptions) (*Session, error) {
	signer, err := NewSigner(opts.SignatureScheme, opts.Key)
	if err != nil {
		return nil, err
	}
	s := &Session{id: opts.ID, username: opts.Username, signer: signer, now: opts.Now, newID: opts.NewID, maxSeen: opts.ReplayHistory}
	if s.id == "" {
		s.id = uuid.NewString()
	}
	if s.username == "" {
		s.username = os.Getenv("USER")
		if s.username == "" {
			s.username = "flowlab"
		}
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.newID == nil {
		s.newID = uuid.NewString
	}
	if s.maxSeen == 0 {
		s.maxSeen = 1 << 16
	}
	if s.maxSeen > 0 && signer.Enabled() {
		s.seen = make(map[[32]byte]struct{})
	}
	return s, nil
}

// ID returns the session id.
func (s *Session) ID() string { return s.id }

// Username returns the username stamped on headers.
func (s *Session) Username() string { return s.username }

// Signer returns the session's signer.
func (s *Session) Signer() *Signer { return s.signer }

// NewHeader returns a fresh header of msgType: new msg_id, current date.
func (s *Session) NewHeader(msgType string) Header {
	var buf [len(DateLayout) + 8]byte
	return Header{
		MsgID:    s.newID(),
		MsgType:  msgType,
		Username: s.username,
		Session:  s.id,
		Date:     string(s.now().UTC().AppendFormat(buf[:0], DateLayout)),
		Version:  ProtocolVersion,
	}
}

// marshalContent turns content into a JSON object: nil is {}, json.RawMessage
// and []byte are used as they are (they must hold a JSON object), anything
// else goes through encoding/json.
func marshalContent(content any) (json.RawMessage, error) {
	switch c := content.(type) {
	case nil:
		return nil, nil
	case json.RawMessage:
		return c, nil
	case []byte:
		return c, nil
	}
	b, err := json.Marshal(content)
	if err != nil {
		return nil, err
	}
	if !isJSONObject(b) {
		return nil, fmt.Errorf("content must encode as a JSON object, got %.40s", b)
	}
	return b, nil
}

// NewMessage returns a new message of msgType that answers nothing, with
// content (see below) and empty metadata.
//
// content may be nil ({}), a json.RawMessage or []byte holding a JSON object
// (used as is), or any value encoding/json turns into an object. The error
// is the marshaling error.
func (s *Session) NewMessage(msgType string, content any) (*Message, error) {
	c, err := marshalContent(content)
	if err != nil {
		return nil, fmt.Errorf("new %s message: %w", msgType, err)
	}
	return &Message{Header: s.NewHeader(msgType), Content: c}, nil
}

// NewReply returns a new message of msgType answering parent: it carries
// parent's identities (so a ROUTER send reaches the peer that asked) and
// parent's header as its parent header. Content is as for NewMessage.
func (s *Session) NewReply(parent *Message, msgType string, content any) (*Message, error) {
	m, err := s.NewMessage(msgType, content)
	if err != nil {
		return nil, err
	}
	m.Identities = parent.Identities
	m.ParentHeader = parent.Header
	return m, nil
}

// Encode returns the signed wire frames of m (see EncodeFrames).
func (s *Session) Encode(m *Message) [][]byte { return EncodeFrames(m, s.signer) }

// Decode parses and verifies frames like DecodeFrames, and also refuses a
// signature seen before with an error wrapping ErrDuplicateSignature.
func (s *Session) Decode(frames [][]byte) (*Message, error) {
	m, sig, err := decodeFrames(frames, s.signer)
	if err != nil {
		return nil, err
	}
	if err := s.checkReplay(sig); err != nil {
		return nil, err
	}
	return m, nil
}

// checkReplay remembers a verified signature and refuses one already seen.
func (s *Session) checkReplay(sig []byte) error {
	if s.seen == nil {
		return nil
	}
	var k [32]byte
	copy(k[:], sig) // 128 bits of digest (32 hex digits): unique enough
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.seen[k]; dup {
		return fmt.Errorf("%w: %s", ErrDuplicateSignature, sig)
	}
	if len(s.seen) >= s.maxSeen {
		// Forget about a tenth, like jupyter_client: map iteration order is
		// unspecified, which is all the randomness this needs.
		n := s.maxSeen/10 + 1
		for old := range s.seen {
			delete(s.seen, old)
			if n--; n == 0 {
				break
			}
		}
	}
	s.seen[k] = struct{}{}
	return nil
}

// appendWire appends m as ZMTP frames to w: route frames first (ROUTER
// envelope or PUB topic), then the delimiter and the signed message.
func (s *Session) appendWire(w *wireWriter, route [][]byte, m *Message) {
	sc := w.scratch[:0]
	sc = appendHeaderJSON(sc, &m.Header)
	hn := len(sc)
	sc = appendHeaderJSON(sc, &m.ParentHeader)
	pn := len(sc)
	md, c := orEmpty(m.Metadata), orEmpty(m.Content)
	sc = s.signer.AppendSignature(sc, sc[:hn], sc[hn:pn], md, c)
	w.scratch = sc
	h, p, sig := sc[:hn], sc[hn:pn], sc[pn:]
	for _, id := range route {
		w.frame(id, true)
	}
	w.frame([]byte(Delimiter), true)
	w.frame(sig, true)
	w.frame(h, true)
	w.frame(p, true)
	w.frame(md, true)
	w.frame(c, len(m.Buffers) > 0)
	for i, b := range m.Buffers {
		w.frame(b, i < len(m.Buffers)-1)
	}
}
