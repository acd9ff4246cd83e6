package cloudapi

import (
	"encoding/json"
	"fmt"
)

// contentVersion prefixes stored content so the format can change later.
const contentVersion byte = 1

// EncodeContent is the one place that turns a message's content into the
// bytes that are stored (and, in a later step, sealed). It keeps only what
// the recipient sees: no recipient, no callback data.
func EncodeContent(r *SendRequest) ([]byte, error) {
	b, err := json.Marshal(r.MessageContent())
	if err != nil {
		return nil, fmt.Errorf("encode content: %w", err)
	}
	return append([]byte{contentVersion}, b...), nil
}

// DecodeContent reverses EncodeContent.
func DecodeContent(b []byte) (*SendRequest, error) {
	if len(b) == 0 || b[0] != contentVersion {
		return nil, fmt.Errorf("decode content: unknown version")
	}
	var r SendRequest
	if err := json.Unmarshal(b[1:], &r); err != nil {
		return nil, fmt.Errorf("decode content: %w", err)
	}
	return &r, nil
}

// SendResponse is the answer to an accepted message.
type SendResponse struct {
	MessagingProduct string            `json:"messaging_product"`
	Contacts         []ResponseContact `json:"contacts"`
	Messages         []ResponseMessage `json:"messages"`
}

// ResponseContact echoes the recipient.
type ResponseContact struct {
	Input string `json:"input"`
	WAID  string `json:"wa_id"`
}

// ResponseMessage carries the new message id.
type ResponseMessage struct {
	ID            string `json:"id"`
	MessageStatus string `json:"message_status,omitempty"`
}

// NewSendResponse builds the response for an accepted message.
func NewSendResponse(r *SendRequest, wamid string) SendResponse {
	m := ResponseMessage{ID: wamid}
	if r.Type == "template" {
		m.MessageStatus = "accepted"
	}
	return SendResponse{
		MessagingProduct: "whatsapp",
		Contacts:         []ResponseContact{{Input: r.To, WAID: r.WAID()}},
		Messages:         []ResponseMessage{m},
	}
}
