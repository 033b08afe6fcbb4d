package kernel

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/flowlab/flowlab/kernel/display"
	"github.com/flowlab/flowlab/kernel/jupyter"
)

// execute answers an execute_request. When the cell fails with stop_on_error
// set, it returns how many requests were queued behind it, for the caller to
// abort once this request is idle.
func (s *Session) execute(ctx context.Context, req *jupyter.Message) (abort int) {
	// Protocol defaults for fields a client may omit.
	c := jupyter.ExecuteRequest{StoreHistory: true, StopOnError: true}
	if err := req.DecodeContent(&c); err != nil {
		s.reply(req, "execute_reply", errorReply(s.count, &CellError{Name: "BadRequest", Value: err.Error(), Traceback: []string{err.Error()}}))
		return 0
	}
	if c.Silent {
		c.StoreHistory = false
	}
	// The cell is interruptible from here on, before the front end can see
	// it start: an interrupt racing with its start is not lost.
	ctx, cancel := context.WithCancel(ctx)
	s.cellMu.Lock()
	s.cellCancel = cancel
	s.cellMu.Unlock()
	defer func() {
		s.cellMu.Lock()
		s.cellCancel = nil
		s.cellMu.Unlock()
		cancel()
	}()

	count := s.count
	if c.StoreHistory {
		s.count++
		count = s.count
	}
	if !c.Silent {
		s.publish(req, "execute_input", jupyter.ExecuteInput{Code: c.Code, ExecutionCount: count})
	}

	s.beginOutput(req, c.Silent)
	values, cellErr := s.runCell(ctx, req, c)
	s.flushOutput()
	s.endOutput()

	var plain string
	if cellErr == nil && shown(values) && !c.Silent {
		data := renderValues(values)
		plain, _ = data[display.MIMEText].(string)
		s.publish(req, "execute_result", jupyter.ExecuteResult{ExecutionCount: count, Data: data, Metadata: map[string]any{}})
	}
	if c.StoreHistory {
		s.history.add(count, c.Code, plain)
	}
	if cellErr != nil {
		if !c.Silent {
			s.publish(req, "error", jupyter.ErrorContent{EName: cellErr.Name, EValue: cellErr.Value, Traceback: cellErr.Traceback})
		}
		s.reply(req, "execute_reply", errorReply(count, cellErr))
		if c.StopOnError {
			return len(s.wire.Shell())
		}
		return 0
	}
	content := map[string]any{
		"status":           "ok",
		"execution_count":  count,
		"user_expressions": s.userExpressions(ctx, c.UserExpressions),
		"payload":          []any{},
	}
	s.reply(req, "execute_reply", content)
	return 0
}

func errorReply(count int, e *CellError) map[string]any {
	return map[string]any{
		"status":           "error",
		"execution_count":  count,
		"ename":            e.Name,
		"evalue":           e.Value,
		"traceback":        e.Traceback,
		"user_expressions": map[string]any{},
		"payload":          []any{},
	}
}

// runCell runs the magics and code of one cell and returns its final values
// or the error to report.
func (s *Session) runCell(ctx context.Context, req *jupyter.Message, c jupyter.ExecuteRequest) ([]any, *CellError) {
	magics, code, err := splitMagics(c.Code)
	if err != nil {
		return nil, err
	}
	var timed *magicLine
	for i := range magics {
		m := &magics[i]
		if m.name == "time" {
			timed = m
			continue
		}
		if err := s.runMagic(*m); err != nil {
			return nil, err
		}
	}
	if strings.TrimSpace(code) == "" {
		return nil, nil
	}
	cell := Cell{Source: code}
	if c.AllowStdin {
		cell.Input = func(ctx context.Context, prompt string, password bool) (string, error) {
			return s.input(ctx, req, prompt, password)
		}
	}
	var clock *cellClock
	if timed != nil {
		clock = startClock(s.opts.Now)
	}
	values, err := s.executeCell(ctx, cell)
	if clock != nil {
		s.flushOutput()
		s.WriteStream("stdout", clock.report(s.opts.Now))
	}
	return values, err
}

// executeCell calls the executor; ctx is the cell's, cancelled by interrupts.
func (s *Session) executeCell(ctx context.Context, cell Cell) ([]any, *CellError) {
	if ctx.Err() != nil {
		return nil, Interrupted()
	}
	res, err := s.exec.Execute(ctx, cell)
	if err == nil {
		return res.Values, nil
	}
	var ce *CellError
	if errors.As(err, &ce) {
		return nil, ce
	}
	if ctx.Err() != nil {
		return nil, Interrupted()
	}
	s.log.Error("executor failed", "err", err)
	return nil, &CellError{Name: "KernelError", Value: err.Error(), Traceback: []string{"KernelError: " + err.Error()}}
}

// shown reports whether a cell's final values make an execute_result. A
// lone nil (typically the nil error of a call like RegisterTempTable) is
// not shown, as IPython does not show None; in a tuple it is.
func shown(values []any) bool {
	return len(values) > 1 || len(values) == 1 && values[0] != nil
}

// renderValues is the execute_result bundle for a cell's final values.
func renderValues(values []any) map[string]any {
	if len(values) == 1 {
		return display.Render(values[0])
	}
	return display.RenderTuple(values)
}

// userExpressions evaluates the expressions of an execute_request after the
// cell, as the protocol asks, without touching the execution count.
func (s *Session) userExpressions(ctx context.Context, exprs map[string]string) map[string]any {
	out := make(map[string]any, len(exprs))
	for name, expr := range exprs {
		values, err := s.executeCell(ctx, Cell{Source: expr})
		if err != nil {
			out[name] = map[string]any{"status": "error", "ename": err.Name, "evalue": err.Value, "traceback": err.Traceback}
			continue
		}
		data := map[string]any{display.MIMEText: ""}
		if len(values) > 0 {
			data = renderValues(values)
		}
		out[name] = map[string]any{"status": "ok", "data": data, "metadata": map[string]any{}}
	}
	return out
}

// abortQueued answers the first n requests waiting on the shell channel:
// execute_requests with status "aborted", as stop_on_error asks, and others
// normally, in order. n is how many had arrived when the cell failed, so a
// request sent after the front end saw the failed cell's idle status runs.
func (s *Session) abortQueued(ctx context.Context, n int) {
	for ; n > 0; n-- {
		var req *jupyter.Message
		select {
		case r, ok := <-s.wire.Shell():
			if !ok {
				return
			}
			req = r
		case <-ctx.Done():
			return
		}
		if req.Type() != "execute_request" {
			s.handleShell(ctx, req)
			continue
		}
		s.withStatus(req, func() {
			s.reply(req, "execute_reply", map[string]any{"status": "aborted", "execution_count": s.count})
		})
	}
}

// input sends an input_request for req and waits for the front end's
// input_reply, or for an interrupt.
func (s *Session) input(ctx context.Context, req *jupyter.Message, prompt string, password bool) (string, error) {
	// The prompt the cell printed must be on screen before the input box.
	s.flushOutput()
	// Drop replies to an earlier request that was interrupted.
	for drained := false; !drained; {
		select {
		case <-s.wire.Stdin():
		default:
			drained = true
		}
	}
	m, err := s.wire.Session().NewReply(req, "input_request", jupyter.InputRequest{Prompt: prompt, Password: password})
	if err != nil {
		return "", err
	}
	if err := s.wire.Send(jupyter.Stdin, m); err != nil {
		return "", fmt.Errorf("ask the front end for input: %w", err)
	}
	for {
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("waiting for input: %w", ErrInterrupted)
		case rep, ok := <-s.wire.Stdin():
			if !ok {
				return "", errors.New("the stdin channel closed while waiting for input")
			}
			if rep.Type() != "input_reply" {
				continue
			}
			var c jupyter.InputReply
			if err := rep.DecodeContent(&c); err != nil {
				return "", err
			}
			return c.Value, nil
		}
	}
}
