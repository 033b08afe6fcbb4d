package jupyter

import "encoding/json"

// Content types of the messages this package's high-level calls use, and
// that a kernel session answers. Field names follow the messaging spec.
// Other message types are plain JSON: Message.Content and DecodeContent.

// ExecuteRequest is the content of an execute_request.
type ExecuteRequest struct {
	Code            string            `json:"code"`
	Silent          bool              `json:"silent"`
	StoreHistory    bool              `json:"store_history"`
	UserExpressions map[string]string `json:"user_expressions"`
	AllowStdin      bool              `json:"allow_stdin"`
	StopOnError     bool              `json:"stop_on_error"`
}

// ExecuteReply is the content of an execute_reply. Status is "ok", "error" or
// "aborted"; the error fields are set when it is "error".
type ExecuteReply struct {
	Status          string                     `json:"status"`
	ExecutionCount  int                        `json:"execution_count"`
	UserExpressions map[string]json.RawMessage `json:"user_expressions,omitempty"`
	Payload         []json.RawMessage          `json:"payload,omitempty"`
	ErrorContent
}

// ErrorContent is the content of an error message on iopub, and the error
// part of a reply whose status is "error".
type ErrorContent struct {
	EName     string   `json:"ename,omitempty"`
	EValue    string   `json:"evalue,omitempty"`
	Traceback []string `json:"traceback,omitempty"`
}

// Status is the content of a status message; ExecutionState is "busy",
// "idle" or "starting".
type Status struct {
	ExecutionState string `json:"execution_state"`
}

// Stream is the content of a stream message; Name is "stdout" or "stderr".
type Stream struct {
	Name string `json:"name"`
	Text string `json:"text"`
}

// ExecuteInput is the content of an execute_input message.
type ExecuteInput struct {
	Code           string `json:"code"`
	ExecutionCount int    `json:"execution_count"`
}

// DisplayData is the content of display_data and update_display_data;
// Transient carries the display_id.
type DisplayData struct {
	Data      map[string]any `json:"data"`
	Metadata  map[string]any `json:"metadata"`
	Transient map[string]any `json:"transient,omitempty"`
}

// ExecuteResult is the content of an execute_result.
type ExecuteResult struct {
	ExecutionCount int            `json:"execution_count"`
	Data           map[string]any `json:"data"`
	Metadata       map[string]any `json:"metadata"`
}

// ClearOutput is the content of a clear_output message.
type ClearOutput struct {
	Wait bool `json:"wait"`
}

// InputRequest is the content of an input_request (kernel to front end, on
// stdin).
type InputRequest struct {
	Prompt   string `json:"prompt"`
	Password bool   `json:"password"`
}

// InputReply is the content of an input_reply.
type InputReply struct {
	Value string `json:"value"`
}

// ShutdownRequest is the content of a shutdown_request and shutdown_reply.
type ShutdownRequest struct {
	Restart bool `json:"restart"`
}

// ShutdownReply is the content of a shutdown_reply.
type ShutdownReply struct {
	Status  string `json:"status"`
	Restart bool   `json:"restart"`
	ErrorContent
}

// ReplyStatus is the common part of every reply: Status "ok", "error" or
// "aborted", with the error fields.
type ReplyStatus struct {
	Status string `json:"status"`
	ErrorContent
}

// KernelInfoReply is the content of a kernel_info_reply.
type KernelInfoReply struct {
	Status                string       `json:"status"`
	ProtocolVersion       string       `json:"protocol_version"`
	Implementation        string       `json:"implementation"`
	ImplementationVersion string       `json:"implementation_version"`
	LanguageInfo          LanguageInfo `json:"language_info"`
	Banner                string       `json:"banner"`
	Debugger              bool         `json:"debugger"`
	HelpLinks             []HelpLink   `json:"help_links,omitempty"`
}

// LanguageInfo describes the kernel's language in a kernel_info_reply.
type LanguageInfo struct {
	Name              string `json:"name"`
	Version           string `json:"version"`
	MIMEType          string `json:"mimetype"`
	FileExtension     string `json:"file_extension"`
	PygmentsLexer     string `json:"pygments_lexer,omitempty"`
	CodemirrorMode    any    `json:"codemirror_mode,omitempty"`
	NbconvertExporter string `json:"nbconvert_exporter,omitempty"`
}

// HelpLink is one entry of a kernel_info_reply's help_links.
type HelpLink struct {
	Text string `json:"text"`
	URL  string `json:"url"`
}
