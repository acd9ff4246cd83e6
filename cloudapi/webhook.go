package cloudapi

import (
	"strconv"

	"github.com/waedge/waedge/graph"
)

// Webhook object and field names.
const (
	// ObjectWABA is the object of every WhatsApp webhook.
	ObjectWABA = "whatsapp_business_account"
	// FieldMessages carries inbound messages, statuses and errors.
	FieldMessages = "messages"
	// FieldTemplateStatus carries template review outcomes.
	FieldTemplateStatus = "message_template_status_update"
	// FieldQuality carries phone-number quality and limit changes.
	FieldQuality = "phone_number_quality_update"
	// ErrorCodesURL is the href of errors inside webhooks.
	ErrorCodesURL = "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"
)

// Status values of statuses[].status.
const (
	StatusSent      = "sent"
	StatusDelivered = "delivered"
	StatusRead      = "read"
	StatusFailed    = "failed"
)

// Webhook envelope types (docs/cloud-api.md §6.2). One Notification is one POST
// body; waedge puts exactly one event in each.
type (
	// Notification is one webhook POST body.
	Notification struct {
		Object string  `json:"object"`
		Entry  []Entry `json:"entry"`
	}
	// Entry groups the changes of one WABA (ID). Time, in Unix seconds, is
	// set on non-"messages" fields only.
	Entry struct {
		ID      string   `json:"id"`
		Time    int64    `json:"time,omitempty"`
		Changes []Change `json:"changes"`
	}
	// Change is one event: Value is a MessagesValue,
	// TemplateStatusUpdate or QualityUpdate according to Field.
	Change struct {
		Field string `json:"field"`
		Value any    `json:"value"`
	}
	// MessagesValue is the value of a "messages" change: messages (with
	// contacts), statuses, or errors.
	MessagesValue struct {
		MessagingProduct string           `json:"messaging_product"`
		Metadata         Metadata         `json:"metadata"`
		Contacts         []WebhookContact `json:"contacts,omitempty"`
		Messages         []InboundMessage `json:"messages,omitempty"`
		Statuses         []Status         `json:"statuses,omitempty"`
		Errors           []WebhookError   `json:"errors,omitempty"`
	}
	// Metadata names the business number the event concerns.
	Metadata struct {
		DisplayPhoneNumber string `json:"display_phone_number"`
		PhoneNumberID      string `json:"phone_number_id"`
	}
	// WebhookContact is the consumer.
	WebhookContact struct {
		Profile Profile `json:"profile"`
		WAID    string  `json:"wa_id"`
	}
	// Profile is the consumer's public profile.
	Profile struct {
		Name string `json:"name"`
	}
	// Status is a message status event (docs/cloud-api.md §6.4).
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
		ID                  string             `json:"id"`
		ExpirationTimestamp string             `json:"expiration_timestamp,omitempty"`
		Origin              ConversationOrigin `json:"origin"`
	}
	// ConversationOrigin is the category that opened the conversation.
	ConversationOrigin struct {
		Type string `json:"type"`
	}
	// Pricing is a status's pricing object (per-message pricing, "PMP").
	Pricing struct {
		Billable     bool   `json:"billable"`
		PricingModel string `json:"pricing_model"`
		Type         string `json:"type,omitempty"`
		Category     string `json:"category"`
	}
	// WebhookError is an error inside a webhook (docs/cloud-api.md §1.5).
	WebhookError struct {
		Code      int       `json:"code"`
		Title     string    `json:"title"`
		Message   string    `json:"message"`
		ErrorData ErrorData `json:"error_data"`
		Href      string    `json:"href,omitempty"`
	}
	// ErrorData carries an error's actionable details.
	ErrorData struct {
		Details string `json:"details"`
	}
)

// Unix formats a timestamp the way webhooks carry it: a string of seconds.
func Unix(sec int64) string { return strconv.FormatInt(sec, 10) }

// WebhookErrorOf renders a Graph error as a webhook error object.
func WebhookErrorOf(e *graph.Error) WebhookError {
	return WebhookError{Code: e.Code, Title: e.Title, Message: e.Title,
		ErrorData: ErrorData{Details: e.Details}, Href: ErrorCodesURL}
}

func notification(wabaID string, at int64, field string, value any) Notification {
	return Notification{Object: ObjectWABA, Entry: []Entry{{ID: wabaID, Time: at,
		Changes: []Change{{Field: field, Value: value}}}}}
}

// MessageNotification builds the webhook for one inbound message from the
// consumer contact to the business number md of WABA wabaID. A zero
// contact is left out.
func MessageNotification(wabaID string, md Metadata, contact WebhookContact, m InboundMessage) Notification {
	v := MessagesValue{MessagingProduct: "whatsapp", Metadata: md, Messages: []InboundMessage{m}}
	if contact != (WebhookContact{}) {
		v.Contacts = []WebhookContact{contact}
	}
	return notification(wabaID, 0, FieldMessages, v)
}

// InboundTextNotification builds the webhook for one inbound text message.
func InboundTextNotification(wabaID string, md Metadata, from, profileName, wamid string, at int64, body string) Notification {
	return MessageNotification(wabaID, md, WebhookContact{Profile: Profile{Name: profileName}, WAID: from},
		TextMessage(from, wamid, at, body))
}

// StatusNotification builds the webhook for one status change. Contacts,
// if given, are included except on a failed status.
func StatusNotification(wabaID string, md Metadata, st Status, contacts ...WebhookContact) Notification {
	v := MessagesValue{MessagingProduct: "whatsapp", Metadata: md, Statuses: []Status{st}}
	if st.Status != StatusFailed && len(contacts) > 0 {
		v.Contacts = contacts
	}
	return notification(wabaID, 0, FieldMessages, v)
}

// ErrorsNotification builds the webhook for app- or number-level errors
// (value.errors).
func ErrorsNotification(wabaID string, md Metadata, errs ...WebhookError) Notification {
	return notification(wabaID, 0, FieldMessages, MessagesValue{MessagingProduct: "whatsapp", Metadata: md, Errors: errs})
}

// StatusEvent describes one status change of an outbound message.
type StatusEvent struct {
	// MessageID is the wamid the status is about.
	MessageID string
	// RecipientID is the consumer's wa_id.
	RecipientID string
	// At is the Unix second of the change.
	At int64
	// CallbackData is the send request's biz_opaque_callback_data.
	CallbackData string
	// Billing adds conversation and pricing objects; nil leaves them out.
	Billing *Billing
}

// Billing is the conversation and pricing information of a status.
type Billing struct {
	// ConversationID is conversation.id; empty leaves conversation out.
	ConversationID string
	// ConversationExpiry is the Unix second the conversation expires;
	// 0 leaves expiration_timestamp out (Meta sends it on the first status).
	ConversationExpiry int64
	// Origin is conversation.origin.type: marketing, utility,
	// authentication, service or referral_conversion.
	Origin string
	// Billable is pricing.billable.
	Billable bool
	// PricingType is pricing.type: regular, free_customer_service or
	// free_entry_point; empty leaves it out.
	PricingType string
	// Category is pricing.category (marketing, utility, authentication,
	// service, …).
	Category string
}

func (e StatusEvent) status(kind string) Status {
	st := Status{ID: e.MessageID, Status: kind, Timestamp: Unix(e.At), RecipientID: e.RecipientID,
		BizOpaqueCallbackData: e.CallbackData}
	if b := e.Billing; b != nil {
		if b.ConversationID != "" {
			st.Conversation = &Conversation{ID: b.ConversationID, Origin: ConversationOrigin{Type: b.Origin}}
			if b.ConversationExpiry != 0 {
				st.Conversation.ExpirationTimestamp = Unix(b.ConversationExpiry)
			}
		}
		st.Pricing = &Pricing{Billable: b.Billable, PricingModel: "PMP", Type: b.PricingType, Category: b.Category}
	}
	return st
}

// SentStatus is the "sent" status of e.
func SentStatus(e StatusEvent) Status { return e.status(StatusSent) }

// DeliveredStatus is the "delivered" status of e.
func DeliveredStatus(e StatusEvent) Status { return e.status(StatusDelivered) }

// ReadStatus is the "read" status of e.
func ReadStatus(e StatusEvent) Status { return e.status(StatusRead) }

// FailedStatus is the "failed" status of e with the errors that caused it;
// a failed status never carries conversation or pricing.
func FailedStatus(e StatusEvent, errs ...*graph.Error) Status {
	e.Billing = nil
	st := e.status(StatusFailed)
	for _, err := range errs {
		st.Errors = append(st.Errors, WebhookErrorOf(err))
	}
	return st
}

// TemplateStatusUpdate is the value of a message_template_status_update
// change (docs/cloud-api.md §4).
type TemplateStatusUpdate struct {
	Event                   string         `json:"event"`
	MessageTemplateID       int64          `json:"message_template_id"`
	MessageTemplateName     string         `json:"message_template_name"`
	MessageTemplateLanguage string         `json:"message_template_language"`
	Reason                  string         `json:"reason"`
	MessageTemplateCategory string         `json:"message_template_category,omitempty"`
	RejectionInfo           *RejectionInfo `json:"rejection_info,omitempty"`
}

// RejectionInfo explains a template rejection.
type RejectionInfo struct {
	Reason         string `json:"reason"`
	Recommendation string `json:"recommendation"`
}

// TemplateStatusNotification builds the webhook for one template status
// change at Unix second at. An empty reason is sent as "NONE".
func TemplateStatusNotification(wabaID string, at int64, v TemplateStatusUpdate) Notification {
	if v.Reason == "" {
		v.Reason = "NONE"
	}
	return notification(wabaID, at, FieldTemplateStatus, v)
}

// QualityUpdate is the value of a phone_number_quality_update change
// (docs/cloud-api.md §6.7).
type QualityUpdate struct {
	DisplayPhoneNumber               string `json:"display_phone_number"`
	Event                            string `json:"event"`
	OldLimit                         string `json:"old_limit,omitempty"`
	CurrentLimit                     string `json:"current_limit,omitempty"`
	MaxDailyConversationsPerBusiness string `json:"max_daily_conversations_per_business,omitempty"`
}

// QualityNotification builds the webhook for one phone-number quality or
// limit change at Unix second at.
func QualityNotification(wabaID string, at int64, v QualityUpdate) Notification {
	return notification(wabaID, at, FieldQuality, v)
}
