package cloudapi

import (
	"encoding/json"
	"fmt"
)

// Stored content starts with one byte naming its kind, so the format can
// grow without guessing. Kind 1 is what the first release stored for
// outbound messages and stays readable.
const (
	contentOutbound byte = 1 // JSON of SendRequest.MessageContent
	contentInbound  byte = 2 // JSON of InboundMessage.MessageContent
)

// EncodeContent is the one place that turns an outbound message's content
// into the bytes that are stored (and sealed by the caller). It keeps only
// what the recipient sees: no recipient, no callback data.
func EncodeContent(r *SendRequest) ([]byte, error) {
	c := r.MessageContent()
	if b, ok := appendContentFast(append(make([]byte, 0, 512), contentOutbound), c); ok {
		return b, nil
	}
	return encodeContent(contentOutbound, c)
}

// DecodeContent reverses EncodeContent.
func DecodeContent(b []byte) (*SendRequest, error) {
	var r SendRequest
	if err := decodeContent(b, contentOutbound, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// EncodeInboundContent is EncodeContent for a message a consumer sent: the
// message without its sender, id and timestamp, which the store keeps as
// metadata.
func EncodeInboundContent(m *InboundMessage) ([]byte, error) {
	return encodeContent(contentInbound, m.MessageContent())
}

// DecodeInboundContent reverses EncodeInboundContent.
func DecodeInboundContent(b []byte) (*InboundMessage, error) {
	var m InboundMessage
	if err := decodeContent(b, contentInbound, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// IsInboundContent reports whether stored bytes hold an inbound message.
func IsInboundContent(b []byte) bool { return len(b) > 0 && b[0] == contentInbound }

func encodeContent(kind byte, v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode content: %w", err)
	}
	out := make([]byte, 0, len(b)+1)
	out = append(out, kind)
	return append(out, b...), nil
}

func decodeContent(b []byte, kind byte, v any) error {
	if len(b) == 0 || b[0] != kind {
		return fmt.Errorf("decode content: %w: want kind %d", ErrBadContent, kind)
	}
	if err := json.Unmarshal(b[1:], v); err != nil {
		return fmt.Errorf("decode content: %w: %w", ErrBadContent, err)
	}
	return nil
}
