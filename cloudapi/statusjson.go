package cloudapi

import (
	"strconv"
)

// MarshalStatusNotification returns exactly the bytes of
// MarshalASCII(StatusNotification(wabaID, md, st)) without reflection.
// The leader's connector builds a status webhook for every sent, delivered
// and read message; encoding/json's reflective walk of the notification
// was most of that cost. The equality is checked field by field against
// MarshalASCII in the tests, over every optional field and escaping case.
func MarshalStatusNotification(wabaID string, md Metadata, st Status) []byte {
	b := appendMessagesHead(make([]byte, 0, 768+len(st.BizOpaqueCallbackData)), wabaID, md)
	b = append(b, `,"statuses":[{"id":`...)
	b = appendASCIIString(b, st.ID)
	b = append(b, `,"status":`...)
	b = appendASCIIString(b, st.Status)
	b = append(b, `,"timestamp":`...)
	b = appendASCIIString(b, st.Timestamp)
	b = append(b, `,"recipient_id":`...)
	b = appendASCIIString(b, st.RecipientID)
	if st.BizOpaqueCallbackData != "" {
		b = append(b, `,"biz_opaque_callback_data":`...)
		b = appendASCIIString(b, st.BizOpaqueCallbackData)
	}
	if c := st.Conversation; c != nil {
		b = append(b, `,"conversation":{"id":`...)
		b = appendASCIIString(b, c.ID)
		if c.ExpirationTimestamp != "" {
			b = append(b, `,"expiration_timestamp":`...)
			b = appendASCIIString(b, c.ExpirationTimestamp)
		}
		b = append(b, `,"origin":{"type":`...)
		b = appendASCIIString(b, c.Origin.Type)
		b = append(b, `}}`...)
	}
	if p := st.Pricing; p != nil {
		b = append(b, `,"pricing":{"billable":`...)
		b = strconv.AppendBool(b, p.Billable)
		b = append(b, `,"pricing_model":`...)
		b = appendASCIIString(b, p.PricingModel)
		if p.Type != "" {
			b = append(b, `,"type":`...)
			b = appendASCIIString(b, p.Type)
		}
		b = append(b, `,"category":`...)
		b = appendASCIIString(b, p.Category)
		b = append(b, '}')
	}
	if len(st.Errors) > 0 {
		b = append(b, `,"errors":[`...)
		for i, e := range st.Errors {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"code":`...)
			b = strconv.AppendInt(b, int64(e.Code), 10)
			b = append(b, `,"title":`...)
			b = appendASCIIString(b, e.Title)
			b = append(b, `,"message":`...)
			b = appendASCIIString(b, e.Message)
			b = append(b, `,"error_data":{"details":`...)
			b = appendASCIIString(b, e.ErrorData.Details)
			b = append(b, '}')
			if e.Href != "" {
				b = append(b, `,"href":`...)
				b = appendASCIIString(b, e.Href)
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return append(b, `}]}}]}]}`...)
}

// appendMessagesHead appends a messages notification up to the end of its
// value's metadata object.
func appendMessagesHead(b []byte, wabaID string, md Metadata) []byte {
	b = append(b, `{"object":"`+ObjectWABA+`","entry":[{"id":`...)
	b = appendASCIIString(b, wabaID)
	b = append(b, `,"changes":[{"field":"`+FieldMessages+`","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":`...)
	b = appendASCIIString(b, md.DisplayPhoneNumber)
	b = append(b, `,"phone_number_id":`...)
	b = appendASCIIString(b, md.PhoneNumberID)
	return append(b, '}')
}

// appendASCIIString appends s as MarshalASCII encodes a string. Printable
// ASCII without a quote or a backslash is copied as it is; anything else
// (control characters, non-ASCII, invalid UTF-8) goes through MarshalASCII
// itself, so the escaping rules live in one place.
func appendASCIIString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			enc, err := MarshalASCII(s)
			if err != nil { // a string always encodes
				panic(err)
			}
			return append(b, enc...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// MarshalMessageNotification returns exactly the bytes of
// MarshalASCII(MessageNotification(wabaID, md, contact, m)). A plain text
// message (the common case: no context, referral or identity) is encoded
// without reflection; any other message goes through MarshalASCII.
func MarshalMessageNotification(wabaID string, md Metadata, contact WebhookContact, m InboundMessage) ([]byte, error) {
	if !plainText(&m) {
		return MarshalASCII(MessageNotification(wabaID, md, contact, m))
	}
	b := appendMessagesHead(make([]byte, 0, 512+len(m.Text.Body)+len(contact.Profile.Name)), wabaID, md)
	if contact != (WebhookContact{}) {
		b = append(b, `,"contacts":[{"profile":{"name":`...)
		b = appendASCIIString(b, contact.Profile.Name)
		b = append(b, `},"wa_id":`...)
		b = appendASCIIString(b, contact.WAID)
		b = append(b, `}]`...)
	}
	b = append(b, `,"messages":[{`...)
	if m.From != "" {
		b = append(b, `"from":`...)
		b = appendASCIIString(b, m.From)
		b = append(b, ',')
	}
	if m.ID != "" {
		b = append(b, `"id":`...)
		b = appendASCIIString(b, m.ID)
		b = append(b, ',')
	}
	if m.Timestamp != "" {
		b = append(b, `"timestamp":`...)
		b = appendASCIIString(b, m.Timestamp)
		b = append(b, ',')
	}
	b = append(b, `"type":`...)
	b = appendASCIIString(b, m.Type)
	b = append(b, `,"text":{"body":`...)
	b = appendASCIIString(b, m.Text.Body)
	return append(b, `}}]}}]}]}`...), nil
}

// plainText reports whether m is a text message with nothing but its
// sender, id, timestamp and body (TestPlainTextCoversInboundMessage fails
// when InboundMessage gains a field this does not look at).
func plainText(m *InboundMessage) bool {
	return m.Type == "text" && m.Text != nil && m.Context == nil && m.Referral == nil && m.Identity == nil &&
		m.Image == nil && m.Audio == nil && m.Video == nil && m.Document == nil && m.Sticker == nil &&
		m.Location == nil && len(m.Contacts) == 0 && m.Interactive == nil && m.Button == nil &&
		m.Reaction == nil && m.Order == nil && m.System == nil && m.Unsupported == nil && m.Edit == nil &&
		m.Revoke == nil && len(m.Errors) == 0
}
