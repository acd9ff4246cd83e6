package cloudapi

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Limits of the phone-number edges
// (https://developers.facebook.com/docs/whatsapp/cloud-api/phone-numbers/conversational-components,
// …/qr-codes).
const (
	MaxIceBreakers        = 4
	MaxIceBreaker         = 80
	MaxCommands           = 30
	MaxCommandName        = 32
	MaxCommandDescription = 256
	MaxQRPrefilledMessage = 140
	QRCodeLength          = 14
	qrDeepLinkPrefix      = "https://wa.me/message/"
)

// ConversationalAutomation is the body of POST
// /{phone-number-id}/conversational_automation and the
// conversational_automation field of the phone number: the welcome
// message switch, ice breakers (prompts) and commands. An edit replaces
// the fields it gives.
type ConversationalAutomation struct {
	EnableWelcomeMessage *bool      `json:"enable_welcome_message,omitempty"`
	Prompts              *[]string  `json:"prompts,omitempty"`
	Commands             *[]Command `json:"commands,omitempty"`
}

// Command is one command of a phone number (typed as /name by users).
type Command struct {
	CommandName        string `json:"command_name"`
	CommandDescription string `json:"command_description"`
}

// ParseConversationalAutomation decodes an edit of conversational
// automation and returns it applied to the current setting (nil: none).
func ParseConversationalAutomation(body []byte, current *ConversationalAutomation) (*ConversationalAutomation, error) {
	var e ConversationalAutomation
	if err := decodeStrict(body, &e); err != nil {
		return nil, err
	}
	if e.EnableWelcomeMessage == nil && e.Prompts == nil && e.Commands == nil {
		return nil, missing("enable_welcome_message, prompts or commands")
	}
	if p := e.Prompts; p != nil {
		if len(*p) > MaxIceBreakers {
			return nil, invalid("prompts must hold at most %d ice breakers", MaxIceBreakers)
		}
		for i, s := range *p {
			if strings.TrimSpace(s) == "" {
				return nil, missing(fmt.Sprintf("prompts[%d]", i))
			}
			if err := checkLen(fmt.Sprintf("prompts[%d]", i), s, MaxIceBreaker); err != nil {
				return nil, err
			}
		}
	}
	if cs := e.Commands; cs != nil {
		if len(*cs) > MaxCommands {
			return nil, invalid("commands must hold at most %d commands", MaxCommands)
		}
		seen := map[string]bool{}
		for i, c := range *cs {
			f := fmt.Sprintf("commands[%d]", i)
			switch {
			case c.CommandName == "":
				return nil, missing(f + ".command_name")
			case c.CommandDescription == "":
				return nil, missing(f + ".command_description")
			case strings.ContainsAny(c.CommandName, " /\t\n"):
				return nil, invalid("%s.command_name is the word after / (no spaces or slashes)", f)
			case seen[c.CommandName]:
				return nil, invalid("%s.command_name must be unique", f)
			}
			if err := checkLen(f+".command_name", c.CommandName, MaxCommandName); err != nil {
				return nil, err
			}
			if err := checkLen(f+".command_description", c.CommandDescription, MaxCommandDescription); err != nil {
				return nil, err
			}
			seen[c.CommandName] = true
		}
	}
	out := ConversationalAutomation{}
	if current != nil {
		out = *current
	}
	if e.EnableWelcomeMessage != nil {
		out.EnableWelcomeMessage = e.EnableWelcomeMessage
	}
	if e.Prompts != nil {
		out.Prompts = e.Prompts
	}
	if e.Commands != nil {
		out.Commands = e.Commands
	}
	return &out, nil
}

// CommerceSettings are a phone number's commerce settings (POST
// /{phone-number-id}/whatsapp_commerce_settings): cart and catalog.
type CommerceSettings struct {
	IsCartEnabled    *bool `json:"is_cart_enabled,omitempty"`
	IsCatalogVisible *bool `json:"is_catalog_visible,omitempty"`
}

// ParseCommerceSettings decodes an edit of commerce settings and returns
// it applied to the current settings (nil: none; both start false).
func ParseCommerceSettings(body []byte, current *CommerceSettings) (*CommerceSettings, error) {
	var e CommerceSettings
	if err := decodeStrict(body, &e); err != nil {
		return nil, err
	}
	if e.IsCartEnabled == nil && e.IsCatalogVisible == nil {
		return nil, missing("is_cart_enabled or is_catalog_visible")
	}
	cart, catalog := false, false
	out := CommerceSettings{IsCartEnabled: &cart, IsCatalogVisible: &catalog}
	if current != nil {
		out = *current
	}
	if e.IsCartEnabled != nil {
		out.IsCartEnabled = e.IsCartEnabled
	}
	if e.IsCatalogVisible != nil {
		out.IsCatalogVisible = e.IsCatalogVisible
	}
	return &out, nil
}

// QRCode is a prefilled-message QR code of a phone number
// (/{phone-number-id}/message_qrdls).
type QRCode struct {
	Code             string `json:"code"`
	PrefilledMessage string `json:"prefilled_message"`
	DeepLinkURL      string `json:"deep_link_url"`
	// QRImageURL is filled in answers only (never stored): where the
	// code's image is served, when one was asked for.
	QRImageURL string `json:"qr_image_url,omitempty"`
}

// QRCodeRequest is the body of POST /{phone-number-id}/message_qrdls: a
// new code (no code given) or a new message for an existing code.
type QRCodeRequest struct {
	PrefilledMessage string `json:"prefilled_message"`
	GenerateQRImage  string `json:"generate_qr_image,omitempty"`
	Code             string `json:"code,omitempty"`
}

// ParseQRCode decodes and checks a QR code request.
func ParseQRCode(body []byte) (*QRCodeRequest, error) {
	var r QRCodeRequest
	if err := decodeStrict(body, &r); err != nil {
		return nil, err
	}
	if strings.TrimSpace(r.PrefilledMessage) == "" {
		return nil, missing("prefilled_message")
	}
	if err := checkLen("prefilled_message", r.PrefilledMessage, MaxQRPrefilledMessage); err != nil {
		return nil, err
	}
	r.GenerateQRImage = strings.ToUpper(r.GenerateQRImage)
	if g := r.GenerateQRImage; g != "" && g != "SVG" && g != "PNG" {
		return nil, invalid("generate_qr_image must be SVG or PNG")
	}
	if r.Code != "" && !ValidQRCode(r.Code) {
		return nil, invalid("code is not a QR code of this number")
	}
	return &r, nil
}

// ValidQRCode reports whether s has the shape of a QR code's code.
func ValidQRCode(s string) bool {
	if len(s) != QRCodeLength {
		return false
	}
	for _, c := range s {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// NewQRCode is the QR code with the given code and message.
func NewQRCode(code, message string) QRCode {
	return QRCode{Code: code, PrefilledMessage: message, DeepLinkURL: qrDeepLinkPrefix + code}
}

// NumberSettings are the settings of /{phone-number-id}/settings that
// waedge keeps (https://developers.facebook.com/docs/whatsapp/cloud-api/reference/phone-numbers/settings):
// each is an object, stored and shown as given; waedge acts on none.
type NumberSettings struct {
	Calling              json.RawMessage `json:"calling,omitempty"`
	StorageConfiguration json.RawMessage `json:"storage_configuration,omitempty"`
	UserIdentityChange   json.RawMessage `json:"user_identity_change,omitempty"`
}

// ParseNumberSettings decodes an edit of the number settings and returns
// it applied to the current ones (nil: none).
func ParseNumberSettings(body []byte, current *NumberSettings) (*NumberSettings, error) {
	var e NumberSettings
	if err := decodeStrict(body, &e); err != nil {
		return nil, err
	}
	out := NumberSettings{}
	if current != nil {
		out = *current
	}
	given := false
	for _, s := range []struct {
		name string
		raw  json.RawMessage
		dst  *json.RawMessage
	}{{"calling", e.Calling, &out.Calling}, {"storage_configuration", e.StorageConfiguration, &out.StorageConfiguration},
		{"user_identity_change", e.UserIdentityChange, &out.UserIdentityChange}} {
		if len(s.raw) == 0 {
			continue
		}
		var obj map[string]json.RawMessage
		if json.Unmarshal(s.raw, &obj) != nil || obj == nil {
			return nil, badParam("%s must be an object", s.name)
		}
		*s.dst, given = s.raw, true
	}
	if !given {
		return nil, missing("calling, storage_configuration or user_identity_change")
	}
	return &out, nil
}

// MaxDisplayName bounds a display name (verified_name) change.
const MaxDisplayName = 128

// CheckDisplayName checks a requested display name (new_display_name):
// not blank, at most MaxDisplayName characters, no emoji (Meta's display
// name guidelines).
func CheckDisplayName(name string) error {
	switch {
	case strings.TrimSpace(name) == "":
		return missing("new_display_name")
	case hasEmoji(name):
		return invalid("new_display_name must not contain emoji")
	}
	return checkLen("new_display_name", name, MaxDisplayName)
}

// WABAChange is the body of a WABA-level webhook of one field (Meta's key
// order: entry, then object).
func WABAChange(wabaID string, at int64, field string, value any) ([]byte, error) {
	type change struct {
		Value any    `json:"value"`
		Field string `json:"field"`
	}
	type entry struct {
		ID      string   `json:"id"`
		Time    int64    `json:"time"`
		Changes []change `json:"changes"`
	}
	return MarshalASCII(struct {
		Entry  []entry `json:"entry"`
		Object string  `json:"object"`
	}{Entry: []entry{{ID: wabaID, Time: at, Changes: []change{{Field: field, Value: value}}}}, Object: "whatsapp_business_account"})
}

// PhoneNumberNameUpdate is the phone_number_name_update webhook of a
// display-name decision
// (https://developers.facebook.com/docs/whatsapp/business-management-api/webhooks/components#phone_number_name_update).
func PhoneNumberNameUpdate(wabaID string, at int64, displayPhone, decision, requested string) ([]byte, error) {
	return WABAChange(wabaID, at, "phone_number_name_update", struct {
		DisplayPhoneNumber    string  `json:"display_phone_number"`
		Decision              string  `json:"decision"`
		RequestedVerifiedName string  `json:"requested_verified_name"`
		RejectionReason       *string `json:"rejection_reason"`
	}{strings.TrimPrefix(displayPhone, "+"), decision, requested, nil})
}

// SecurityEvent is the security webhook of a phone number's two-step
// verification (event PIN_CHANGED, …;
// https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/security).
func SecurityEvent(wabaID string, at int64, displayPhone, event string) ([]byte, error) {
	return WABAChange(wabaID, at, "security", struct {
		DisplayPhoneNumber string `json:"display_phone_number"`
		Event              string `json:"event"`
	}{strings.TrimPrefix(displayPhone, "+"), event})
}

// MaxBlockUsers bounds the users of one block or unblock request.
const MaxBlockUsers = 1000

// BlockUsersRequest is the body of POST and DELETE
// /{phone-number-id}/block_users
// (https://developers.facebook.com/docs/whatsapp/cloud-api/block-users).
type BlockUsersRequest struct {
	MessagingProduct string      `json:"messaging_product"`
	BlockUsers       []BlockUser `json:"block_users"`
}

// BlockUser is one user of a block request, by phone number or wa_id.
type BlockUser struct {
	User string `json:"user"`
}

// ParseBlockUsers decodes and checks a block or unblock request. A user
// that is not a phone number is reported per user by the caller
// (NormalizePhone gives "").
func ParseBlockUsers(body []byte) (*BlockUsersRequest, error) {
	var r BlockUsersRequest
	if err := decodeStrict(body, &r); err != nil {
		return nil, err
	}
	switch {
	case r.MessagingProduct == "":
		return nil, missing("messaging_product")
	case r.MessagingProduct != "whatsapp":
		return nil, badParam("messaging_product must be whatsapp")
	case len(r.BlockUsers) == 0:
		return nil, missing("block_users")
	case len(r.BlockUsers) > MaxBlockUsers:
		return nil, invalid("block_users must hold at most %d users", MaxBlockUsers)
	}
	for i, u := range r.BlockUsers {
		if u.User == "" {
			return nil, missing(fmt.Sprintf("block_users[%d].user", i))
		}
	}
	return &r, nil
}
