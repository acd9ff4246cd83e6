package cloudapi

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"unicode/utf8"
)

// MarshalASCII encodes v as JSON with every non-ASCII character escaped as
// \uXXXX (lowercase hex, surrogate pairs beyond the BMP), the form Meta
// signs, so receivers that re-serialise with ensure_ascii verify the same
// bytes.
func MarshalASCII(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	raw := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	out := make([]byte, 0, len(raw)+16)
	for len(raw) > 0 {
		r, size := utf8.DecodeRune(raw)
		if r < utf8.RuneSelf {
			out = append(out, raw[0])
			raw = raw[1:]
			continue
		}
		if r >= 0x10000 {
			r -= 0x10000
			out = fmt.Appendf(out, `\u%04x\u%04x`, 0xd800+(r>>10), 0xdc00+(r&0x3ff))
		} else {
			out = fmt.Appendf(out, `\u%04x`, r)
		}
		raw = raw[size:]
	}
	return out, nil
}

// Sign returns the X-Hub-Signature-256 header value for body.
func Sign(appSecret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(appSecret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// VerifySignature checks an X-Hub-Signature-256 header in constant time.
func VerifySignature(appSecret string, body []byte, header string) bool {
	return hmac.Equal([]byte(Sign(appSecret, body)), []byte(header))
}

// ChallengeURL is the GET a subscriber must answer with the challenge.
func ChallengeURL(callback, verifyToken, challenge string) (string, error) {
	u, err := url.Parse(callback)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", fmt.Errorf("callback must be an http(s) URL")
	}
	q := u.Query()
	q.Set("hub.mode", "subscribe")
	q.Set("hub.verify_token", verifyToken)
	q.Set("hub.challenge", challenge)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// Webhook envelope types (Meta's shape).
type (
	// Notification is one webhook POST body.
	Notification struct {
		Object string  `json:"object"`
		Entry  []Entry `json:"entry"`
	}
	// Entry groups changes of one WABA.
	Entry struct {
		ID      string   `json:"id"`
		Changes []Change `json:"changes"`
	}
	// Change is one event.
	Change struct {
		Field string `json:"field"`
		Value any    `json:"value"`
	}
	// MessagesValue is the value of a "messages" change.
	MessagesValue struct {
		MessagingProduct string            `json:"messaging_product"`
		Metadata         Metadata          `json:"metadata"`
		Contacts         []WebhookContact  `json:"contacts,omitempty"`
		Messages         []json.RawMessage `json:"messages,omitempty"`
		Statuses         []Status          `json:"statuses,omitempty"`
	}
	// Metadata names the business number.
	Metadata struct {
		DisplayPhoneNumber string `json:"display_phone_number"`
		PhoneNumberID      string `json:"phone_number_id"`
	}
	// WebhookContact is the consumer.
	WebhookContact struct {
		Profile struct {
			Name string `json:"name"`
		} `json:"profile"`
		WAID string `json:"wa_id"`
	}
	// Status is a message status event.
	Status struct {
		ID                    string         `json:"id"`
		Status                string         `json:"status"`
		Timestamp             string         `json:"timestamp"`
		RecipientID           string         `json:"recipient_id"`
		BizOpaqueCallbackData string         `json:"biz_opaque_callback_data,omitempty"`
		Conversation          *Conversation  `json:"conversation,omitempty"`
		Pricing               *Pricing       `json:"pricing,omitempty"`
		Errors                []WebhookError `json:"errors,omitempty"`
	}
	// Conversation is a status's conversation object.
	Conversation struct {
		ID                  string `json:"id"`
		ExpirationTimestamp string `json:"expiration_timestamp,omitempty"`
		Origin              struct {
			Type string `json:"type"`
		} `json:"origin"`
	}
	// Pricing is a status's pricing object (per-message pricing).
	Pricing struct {
		Billable     bool   `json:"billable"`
		PricingModel string `json:"pricing_model"`
		Type         string `json:"type,omitempty"`
		Category     string `json:"category"`
	}
	// WebhookError is an error inside a webhook.
	WebhookError struct {
		Code      int    `json:"code"`
		Title     string `json:"title"`
		Message   string `json:"message"`
		ErrorData struct {
			Details string `json:"details"`
		} `json:"error_data"`
	}
)

// Unix formats a timestamp the way webhooks carry it: a string of seconds.
func Unix(sec int64) string { return strconv.FormatInt(sec, 10) }

// InboundTextNotification builds the webhook for one inbound text message.
func InboundTextNotification(wabaID string, md Metadata, from, profileName, wamid string, at int64, body string) Notification {
	n, _ := InboundNotification(wabaID, md, profileName, InboundMessage{
		From: from, ID: wamid, Timestamp: at, Type: "text", Text: &InboundText{Body: body}})
	return n
}

// StatusNotification builds the webhook for one status change.
func StatusNotification(wabaID string, md Metadata, st Status) Notification {
	return Notification{Object: "whatsapp_business_account", Entry: []Entry{{ID: wabaID, Changes: []Change{{
		Field: "messages", Value: MessagesValue{MessagingProduct: "whatsapp", Metadata: md, Statuses: []Status{st}},
	}}}}}
}
