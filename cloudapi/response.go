package cloudapi

// SendResponse is the answer to an accepted message (docs/cloud-api.md §2.5).
type SendResponse struct {
	MessagingProduct string            `json:"messaging_product"`
	Contacts         []ResponseContact `json:"contacts"`
	Messages         []ResponseMessage `json:"messages"`
}

// ResponseContact echoes the recipient as sent (Input) and as the
// canonical WhatsApp id (WAID).
type ResponseContact struct {
	Input string `json:"input"`
	WAID  string `json:"wa_id"`
}

// ResponseMessage carries the new message id; MessageStatus is set for
// templates only ("accepted").
type ResponseMessage struct {
	ID            string `json:"id"`
	MessageStatus string `json:"message_status,omitempty"`
}

// MessageStatusAccepted is the message_status of an accepted template.
const MessageStatusAccepted = "accepted"

// NewSendResponse builds the response for an accepted message with id
// wamid: contacts[].input is the request's to exactly as given.
func NewSendResponse(r *SendRequest, wamid string) SendResponse {
	m := ResponseMessage{ID: wamid}
	if r.MessageType() == "template" {
		m.MessageStatus = MessageStatusAccepted
	}
	return SendResponse{
		MessagingProduct: "whatsapp",
		Contacts:         []ResponseContact{{Input: r.To, WAID: r.WAID()}},
		Messages:         []ResponseMessage{m},
	}
}

// AppendSendResponse appends the JSON of NewSendResponse(r, wamid) to dst:
// the bytes json.Marshal writes (TestAppendSendResponseMatchesMarshal).
// Written member by member, with no closures, so that dst does not escape:
// a caller passing a stack buffer allocates nothing for an answer that
// fits it.
func AppendSendResponse(dst []byte, r *SendRequest, wamid string) []byte {
	w := jsonObj{b: dst}
	w.str("messaging_product", "whatsapp", false)
	w.key("contacts")
	c := jsonObj{b: append(w.b, '[')}
	c.str("input", r.To, false)
	c.str("wa_id", r.WAID(), false)
	w.b = append(c.end(), ']')
	w.key("messages")
	m := jsonObj{b: append(w.b, '[')}
	m.str("id", wamid, false)
	if r.MessageType() == "template" {
		m.str("message_status", MessageStatusAccepted, false)
	}
	w.b = append(m.end(), ']')
	return w.end()
}

// SuccessResponse is the {"success":true} answer of mutations such as
// mark-as-read.
type SuccessResponse struct {
	Success bool `json:"success"`
}

// Success is the {"success":true} answer.
func Success() SuccessResponse { return SuccessResponse{Success: true} }
