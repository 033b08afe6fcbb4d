package jupyter

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Request sends a new msgType message with content on ch (shell, control or
// stdin) and returns the reply on ch whose parent is that message. Other
// messages with that parent (iopub status) go to Recv. Safe for concurrent
// use.
//
// Errors are NewMessage's, Send's, ctx's, or ErrClosed.
func (c *Client) Request(ctx context.Context, ch Channel, msgType string, content any) (*Message, error) {
	m, err := c.sess.NewMessage(msgType, content)
	if err != nil {
		return nil, err
	}
	w := newWaiter(ch)
	c.register(m.Header.MsgID, w)
	defer c.unregister(m.Header.MsgID)
	if err := c.Send(ctx, ch, m); err != nil {
		return nil, err
	}
	r, err := w.next(ctx, c.quit)
	if err != nil {
		return nil, fmt.Errorf("%s: waiting for the reply: %w", msgType, err)
	}
	return r, nil
}

// requestStatus is Request for replies whose content is a ReplyStatus; a
// status other than "ok" becomes an error.
func (c *Client) requestStatus(ctx context.Context, ch Channel, msgType string, content any, v any) error {
	r, err := c.Request(ctx, ch, msgType, content)
	if err != nil {
		return err
	}
	var st ReplyStatus
	if err := r.DecodeContent(&st); err != nil {
		return err
	}
	if st.Status != "ok" {
		return fmt.Errorf("%s: kernel replied %s: %s: %s", msgType, st.Status, st.EName, st.EValue)
	}
	if v != nil {
		return r.DecodeContent(v)
	}
	return nil
}

// KernelInfo sends a kernel_info_request on shell and returns the reply.
// Errors are Request's, ErrMalformed for undecodable content, or the
// kernel's error status.
func (c *Client) KernelInfo(ctx context.Context) (*KernelInfoReply, error) {
	var info KernelInfoReply
	if err := c.requestStatus(ctx, Shell, "kernel_info_request", nil, &info); err != nil {
		return nil, err
	}
	return &info, nil
}

// Interrupt sends an interrupt_request on control and waits for the reply.
// It works while a shell request is running: control is its own socket.
// Errors are as for KernelInfo.
func (c *Client) Interrupt(ctx context.Context) error {
	return c.requestStatus(ctx, Control, "interrupt_request", nil, nil)
}

// Shutdown sends a shutdown_request on control and waits for the reply.
// Errors are as for KernelInfo.
func (c *Client) Shutdown(ctx context.Context, restart bool) error {
	err := c.requestStatus(ctx, Control, "shutdown_request", ShutdownRequest{Restart: restart}, nil)
	if err == nil {
		// The kernel now closes its sockets on purpose: not worth a warning.
		if restart {
			c.expected.Store(expectRestart)
		} else {
			c.expected.Store(expectShutdown)
		}
	}
	return err
}

// Heartbeat sends one heartbeat and waits for its echo until ctx is done:
// use context.WithTimeout. It returns nil when the kernel answered, or an
// error wrapping ErrNoHeartbeat (and the cause). Pings are serialized; safe
// for concurrent use.
func (c *Client) Heartbeat(ctx context.Context) error {
	if err := c.hb.ping(ctx); err != nil {
		if errors.Is(err, ErrClosed) {
			return err
		}
		return fmt.Errorf("%w: %w", ErrNoHeartbeat, err)
	}
	return nil
}

// WaitReady returns once the kernel answers a kernel_info_request and an
// iopub message has arrived on the current iopub connection, which proves
// the iopub subscription is in place (a PUB socket drops everything until
// then: ZeroMQ's slow joiner). It resends kernel_info_request at growing
// intervals (50 ms up to 1 s) until both hold or ctx is done; every request
// makes the kernel publish a status, so the first one after the subscription
// lands completes the wait. Replies to the extra requests that arrive after
// WaitReady returns go to Recv.
//
// It returns ctx's error (wrapped) or ErrClosed.
func (c *Client) WaitReady(ctx context.Context) error {
	w := newWaiter(Shell)
	var ids []string
	defer func() { c.unregister(ids...) }()
	interval := 50 * time.Millisecond
	replied, iopubUp := false, false
	for {
		m, err := c.sess.NewMessage("kernel_info_request", nil)
		if err != nil {
			return err
		}
		ids = append(ids, m.Header.MsgID)
		c.register(m.Header.MsgID, w)
		if err := c.Send(ctx, Shell, m); err != nil {
			return fmt.Errorf("wait for kernel: %w", err)
		}
		var iopub <-chan struct{}
		if !iopubUp {
			iopub = c.iopubReadyChan()
		}
		timer := time.NewTimer(interval)
		for !replied || !iopubUp {
			select {
			case <-w.notify:
				replied = w.drain() > 0 || replied
				continue
			case <-iopub:
				iopubUp, iopub = true, nil
				continue
			case <-timer.C:
			case <-ctx.Done():
				timer.Stop()
				return fmt.Errorf("wait for kernel: %w", ctx.Err())
			case <-c.quit:
				timer.Stop()
				return ErrClosed
			}
			break // timer fired: send another request
		}
		if replied && iopubUp {
			timer.Stop()
			return nil
		}
		interval = min(2*interval, time.Second)
	}
}

// ExecuteOptions configures Execute. The zero value runs the code visibly,
// stores history, stops queued cells on error and refuses stdin.
type ExecuteOptions struct {
	Silent          bool
	SkipHistory     bool // store_history false
	ContinueOnError bool // stop_on_error false
	UserExpressions map[string]string
	// Input answers the kernel's input_requests; non-nil sets allow_stdin.
	// It runs in Execute's goroutine. An error is returned by Execute after
	// the cell finishes; the kernel gets an empty line.
	Input func(ctx context.Context, prompt string, password bool) (string, error)
	// Output, if set, sees each iopub message of the request as it arrives,
	// in Execute's goroutine (progress display, streaming to a log).
	Output func(*Message)
}

// Execution is what Execute collected for one execute_request.
type Execution struct {
	// Request is the execute_request sent.
	Request *Message
	// Outputs are the iopub messages whose parent is Request, in arrival
	// order: status, execute_input, stream, display_data,
	// update_display_data, execute_result, error, clear_output...
	Outputs []*Message
	// Reply is the execute_reply.
	Reply *Message
}

// ReplyContent decodes the execute_reply's content.
func (e *Execution) ReplyContent() (ExecuteReply, error) {
	var r ExecuteReply
	if e.Reply == nil {
		return r, fmt.Errorf("%w: no execute_reply", ErrMalformed)
	}
	err := e.Reply.DecodeContent(&r)
	return r, err
}

// Execute sends an execute_request for code on shell and collects the iopub
// messages whose parent is that request until both the idle status and the
// execute_reply have arrived. input_requests on stdin are answered with
// opts.Input. Several Executes may be in flight; the kernel runs them in
// order.
//
// On ctx cancellation it returns what it collected so far with ctx's error;
// call WaitReady first, or iopub messages (and so the idle status) may be
// lost to the slow joiner and Execute wait until ctx is done. Errors are
// NewMessage's, Send's, ctx's, ErrClosed or opts.Input's; a cell that failed
// is not an error here: see the reply's status.
func (c *Client) Execute(ctx context.Context, code string, opts ExecuteOptions) (*Execution, error) {
	req, err := c.sess.NewMessage("execute_request", ExecuteRequest{
		Code:            code,
		Silent:          opts.Silent,
		StoreHistory:    !opts.SkipHistory,
		UserExpressions: orEmptyMap(opts.UserExpressions),
		AllowStdin:      opts.Input != nil,
		StopOnError:     !opts.ContinueOnError,
	})
	if err != nil {
		return nil, err
	}
	w := newWaiter(Shell, IOPub, Stdin)
	c.register(req.Header.MsgID, w)
	defer c.unregister(req.Header.MsgID)
	if err := c.Send(ctx, Shell, req); err != nil {
		return nil, err
	}
	ex := &Execution{Request: req}
	idle := false
	var inputErr error
	for !idle || ex.Reply == nil {
		m, err := w.next(ctx, c.quit)
		if err != nil {
			return ex, fmt.Errorf("execute: %w", err)
		}
		switch m.Channel {
		case Shell:
			if m.Header.MsgType == "execute_reply" {
				ex.Reply = m
			}
		case IOPub:
			ex.Outputs = append(ex.Outputs, m)
			if opts.Output != nil {
				opts.Output(m)
			}
			if m.Header.MsgType == "status" {
				var st Status
				if m.DecodeContent(&st) == nil && st.ExecutionState == "idle" {
					idle = true
				}
			}
		case Stdin:
			if m.Header.MsgType != "input_request" {
				continue
			}
			var ir InputRequest
			value := ""
			if err := m.DecodeContent(&ir); err != nil {
				inputErr = errors.Join(inputErr, err)
			} else if opts.Input != nil {
				v, err := opts.Input(ctx, ir.Prompt, ir.Password)
				if err != nil {
					inputErr = errors.Join(inputErr, fmt.Errorf("input: %w", err))
				}
				value = v
			}
			reply, err := c.sess.NewReply(m, "input_reply", InputReply{Value: value})
			if err != nil {
				return ex, err
			}
			if err := c.Send(ctx, Stdin, reply); err != nil {
				return ex, fmt.Errorf("execute: %w", err)
			}
		}
	}
	return ex, inputErr
}

func orEmptyMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}
