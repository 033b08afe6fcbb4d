package kernel

import (
	"regexp"
	"strings"
	"sync"

	"github.com/flowlab/flowlab/kernel/jupyter"
)

// sessionNumber is this kernel's history session. History is kept in memory
// for the life of the kernel process, so there is only the current session;
// requests for session 0 (IPython's "current") or 1 address it.
const sessionNumber = 1

type historyEntry struct {
	line   int
	input  string
	output string
}

// history stores the executed cells of this kernel for history_request.
type history struct {
	mu      sync.Mutex
	entries []historyEntry
}

func (h *history) add(line int, input, output string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.entries = append(h.entries, historyEntry{line, input, output})
}

type historyRequest struct {
	Output         bool   `json:"output"`
	Raw            bool   `json:"raw"`
	HistAccessType string `json:"hist_access_type"`
	Session        int    `json:"session"`
	Start          int    `json:"start"`
	Stop           int    `json:"stop"`
	N              int    `json:"n"`
	Pattern        string `json:"pattern"`
	Unique         bool   `json:"unique"`
}

// answer builds the history_reply content for req.
func (h *history) answer(req *jupyter.Message) map[string]any {
	var r historyRequest
	if err := req.DecodeContent(&r); err != nil {
		return badRequest(err)
	}
	h.mu.Lock()
	entries := append([]historyEntry(nil), h.entries...)
	h.mu.Unlock()

	var picked []historyEntry
	switch r.HistAccessType {
	case "tail":
		n := r.N
		if n <= 0 || n > len(entries) {
			n = len(entries)
		}
		picked = entries[len(entries)-n:]
	case "range":
		if r.Session != 0 && r.Session != sessionNumber {
			break
		}
		for _, e := range entries {
			if e.line >= r.Start && (r.Stop <= 0 || e.line < r.Stop) {
				picked = append(picked, e)
			}
		}
	case "search":
		re := globRegexp(r.Pattern)
		for _, e := range entries {
			if re.MatchString(e.input) {
				picked = append(picked, e)
			}
		}
		if r.Unique {
			picked = uniqueInputs(picked)
		}
		if r.N > 0 && len(picked) > r.N {
			picked = picked[len(picked)-r.N:]
		}
	default:
		return map[string]any{"status": "error", "ename": "BadRequest",
			"evalue": "hist_access_type must be tail, range or search", "traceback": []string{}}
	}
	out := make([]any, 0, len(picked))
	for _, e := range picked {
		if r.Output {
			out = append(out, []any{sessionNumber, e.line, []any{e.input, e.output}})
		} else {
			out = append(out, []any{sessionNumber, e.line, e.input})
		}
	}
	return map[string]any{"status": "ok", "history": out}
}

// globRegexp turns an IPython history pattern (* and ? wildcards, matched
// against the whole input) into a regular expression.
func globRegexp(pattern string) *regexp.Regexp {
	if pattern == "" {
		pattern = "*"
	}
	var b strings.Builder
	b.WriteString("(?s)^")
	for _, r := range pattern {
		switch r {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

func uniqueInputs(entries []historyEntry) []historyEntry {
	seen := map[string]int{}
	var out []historyEntry
	for _, e := range entries {
		if i, ok := seen[e.input]; ok {
			out[i] = e // keep the latest occurrence in place of the earlier one
			continue
		}
		seen[e.input] = len(out)
		out = append(out, e)
	}
	return out
}
