package network

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
)

// FrameVersion is the only frame format version this package speaks.
const FrameVersion = 1

// FrameHeaderLen is the size of a frame header: version, type, request id (big-endian uint32).
const FrameHeaderLen = 6

// FrameType says what a frame's payload is.
type FrameType uint8

// Frame types. Relay → device: Challenge (once, first), Result (answer to a request), Deliver.
// Device → relay: every other type is a request with a non-zero request id answered by one Result.
const (
	FrameChallenge   FrameType = 1  // JSON Challenge
	FrameResult      FrameType = 2  // JSON Result, ReqID of the request
	FrameDeliver     FrameType = 3  // binary Delivery (EncodeDelivery)
	FrameRegister    FrameType = 10 // JSON RegisterRequest
	FrameLogin       FrameType = 11 // JSON LoginRequest
	FrameAddPreKeys  FrameType = 12 // JSON PreKeysRequest
	FramePreKeyCount FrameType = 13 // JSON NumberRequest
	FrameFetchBundle FrameType = 14 // JSON NumberRequest
	FrameSend        FrameType = 15 // binary Envelope (MarshalEnvelope)
	FrameAck         FrameType = 16 // JSON AckRequest
	FrameReceipt     FrameType = 17 // JSON Receipt
	FrameTyping      FrameType = 18 // JSON Typing
	FrameReport      FrameType = 19 // JSON ReportRequest
)

// IsRequest reports whether t is a device → relay request type.
func (t FrameType) IsRequest() bool { return t >= FrameRegister && t <= FrameReport }

func (t FrameType) known() bool {
	return t == FrameChallenge || t == FrameResult || t == FrameDeliver || t.IsRequest()
}

// Frame is one message on the relay's WebSocket.
type Frame struct {
	Type    FrameType
	ReqID   uint32
	Payload []byte
}

// Challenge is the first frame the relay sends on a connection.
type Challenge struct {
	Nonce    []byte `json:"nonce"`     // sign AuthMessage(Nonce, number) to authenticate a number
	Window   int    `json:"window"`    // deliveries the relay sends before it waits for acks
	MaxFrame int    `json:"max_frame"` // largest frame the relay accepts
}

// RegisterRequest registers a device; Signature signs AuthMessage(nonce, number) with the new identity key.
type RegisterRequest struct {
	Registration Registration `json:"registration"`
	Signature    []byte       `json:"signature"`
}

// LoginRequest authenticates a registered number; Signature signs AuthMessage(nonce, number).
type LoginRequest struct {
	Number    string `json:"number"`
	Signature []byte `json:"signature"`
}

// PreKeysRequest adds one-time prekeys.
type PreKeysRequest struct {
	Number  string          `json:"number"`
	PreKeys []OneTimePreKey `json:"prekeys"`
}

// NumberRequest names one number (PreKeyCount, FetchBundle).
type NumberRequest struct {
	Number string `json:"number"`
}

// AckRequest acknowledges deliveries to Number.
type AckRequest struct {
	Number string   `json:"number"`
	IDs    []string `json:"ids"`
}

// ReportRequest reports an integrity event from a consumer about a business.
type ReportRequest struct {
	From     string `json:"from"`
	Business string `json:"business"`
	Kind     string `json:"kind"`
}

// Result answers one request. Code is empty on success (see ErrorCode and CodeError).
type Result struct {
	Code    string        `json:"code,omitempty"`
	Message string        `json:"message,omitempty"`
	Count   int           `json:"count,omitempty"`
	Bundle  *PreKeyBundle `json:"bundle,omitempty"`
}

// Err returns the error the result carries, or nil.
func (r *Result) Err() error { return CodeError(r.Code, r.Message) }

// AppendFrame appends the encoding of f to dst. It fails with ErrFrameTooLarge if the frame would
// exceed MaxFrameSize.
func AppendFrame(dst []byte, f Frame) ([]byte, error) {
	if FrameHeaderLen+len(f.Payload) > MaxFrameSize {
		return dst, ErrFrameTooLarge
	}
	if !f.Type.known() {
		return dst, fmt.Errorf("frame type %d: %w", f.Type, ErrBadFrame)
	}
	dst = append(dst, FrameVersion, byte(f.Type))
	dst = binary.BigEndian.AppendUint32(dst, f.ReqID)
	return append(dst, f.Payload...), nil
}

// EncodeFrame returns the encoding of f.
func EncodeFrame(f Frame) ([]byte, error) {
	return AppendFrame(make([]byte, 0, FrameHeaderLen+len(f.Payload)), f)
}

// EncodeJSONFrame encodes v as the JSON payload of a frame.
func EncodeJSONFrame(t FrameType, reqID uint32, v any) ([]byte, error) {
	p, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode %d payload: %w", t, err)
	}
	return EncodeFrame(Frame{Type: t, ReqID: reqID, Payload: p})
}

// DecodeFrame parses one frame. The returned Payload aliases b. It rejects frames larger than
// MaxFrameSize, other versions and unknown types; requests must carry a non-zero request id.
func DecodeFrame(b []byte) (Frame, error) {
	if len(b) > MaxFrameSize {
		return Frame{}, ErrFrameTooLarge
	}
	if len(b) < FrameHeaderLen {
		return Frame{}, fmt.Errorf("short frame: %w", ErrBadFrame)
	}
	if b[0] != FrameVersion {
		return Frame{}, fmt.Errorf("frame version %d: %w", b[0], ErrBadFrame)
	}
	f := Frame{Type: FrameType(b[1]), ReqID: binary.BigEndian.Uint32(b[2:6]), Payload: b[FrameHeaderLen:]}
	if !f.Type.known() {
		return Frame{}, fmt.Errorf("frame type %d: %w", f.Type, ErrBadFrame)
	}
	if f.Type.IsRequest() && f.ReqID == 0 {
		return Frame{}, fmt.Errorf("request without id: %w", ErrBadFrame)
	}
	return f, nil
}

// DecodeJSON decodes a frame's JSON payload into v. The payload must be exactly one JSON value.
func (f Frame) DecodeJSON(v any) error { return decodeJSON(f.Payload, v) }

func decodeJSON(p []byte, v any) error {
	if len(p) > MaxFrameSize {
		return ErrFrameTooLarge
	}
	dec := json.NewDecoder(bytes.NewReader(p))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("json payload: %w", ErrBadFrame)
	}
	if dec.More() {
		return fmt.Errorf("trailing data after json payload: %w", ErrBadFrame)
	}
	return nil
}
