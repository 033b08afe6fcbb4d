package kernel

import (
	"github.com/flowlab/flowlab/kernel/jupyter"
)

func (s *Session) complete(req *jupyter.Message) {
	var c struct {
		Code      string `json:"code"`
		CursorPos int    `json:"cursor_pos"`
	}
	if err := req.DecodeContent(&c); err != nil {
		s.reply(req, "complete_reply", badRequest(err))
		return
	}
	comp := s.exec.Complete(c.Code, c.CursorPos)
	matches := comp.Matches
	if matches == nil {
		matches = []string{}
	}
	meta := comp.Metadata
	if meta == nil {
		meta = map[string]any{}
	}
	s.reply(req, "complete_reply", map[string]any{
		"status":       "ok",
		"matches":      matches,
		"cursor_start": comp.CursorStart,
		"cursor_end":   comp.CursorEnd,
		"metadata":     meta,
	})
}

func (s *Session) inspect(req *jupyter.Message) {
	var c struct {
		Code        string `json:"code"`
		CursorPos   int    `json:"cursor_pos"`
		DetailLevel int    `json:"detail_level"`
	}
	if err := req.DecodeContent(&c); err != nil {
		s.reply(req, "inspect_reply", badRequest(err))
		return
	}
	insp, found := s.exec.Inspect(c.Code, c.CursorPos, c.DetailLevel)
	data := insp.Data
	if !found || data == nil {
		data = map[string]any{}
	}
	s.reply(req, "inspect_reply", map[string]any{
		"status":   "ok",
		"found":    found,
		"data":     data,
		"metadata": map[string]any{},
	})
}

func (s *Session) isComplete(req *jupyter.Message) {
	var c struct {
		Code string `json:"code"`
	}
	if err := req.DecodeContent(&c); err != nil {
		s.reply(req, "is_complete_reply", badRequest(err))
		return
	}
	// A cell of magics alone is complete.
	if magics, code, merr := splitMagics(c.Code); merr == nil && len(magics) > 0 && code == "" {
		s.reply(req, "is_complete_reply", map[string]any{"status": "complete"})
		return
	}
	res := s.exec.IsComplete(c.Code)
	content := map[string]any{"status": res.Status}
	if res.Status == "incomplete" {
		content["indent"] = res.Indent
	}
	s.reply(req, "is_complete_reply", content)
}

func badRequest(err error) map[string]any {
	return map[string]any{"status": "error", "ename": "BadRequest", "evalue": err.Error(), "traceback": []string{err.Error()}}
}
