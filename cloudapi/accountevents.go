package cloudapi

import "strings"

// Webhook fields waedge emits besides messages and template status
// (docs/cloud-api.md §11.4).
const (
	FieldTemplateQuality  = "message_template_quality_update"
	FieldTemplateCategory = "template_category_update"
	FieldUserPreferences  = "user_preferences"
	FieldNameUpdate       = "phone_number_name_update"
)

// UserPreferencesValue is the value of a user_preferences change: a
// consumer stopped or resumed marketing messages
// (https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/user_preferences).
type UserPreferencesValue struct {
	MessagingProduct string           `json:"messaging_product"`
	Metadata         Metadata         `json:"metadata"`
	Contacts         []WebhookContact `json:"contacts"`
	UserPreferences  []UserPreference `json:"user_preferences"`
}

// UserPreference is one preference change.
type UserPreference struct {
	WAID      string `json:"wa_id"`
	Detail    string `json:"detail"`
	Category  string `json:"category"`
	Value     string `json:"value"`
	Timestamp int64  `json:"timestamp"`
}

// UserPreferencesNotification builds the user_preferences webhook of a
// consumer's marketing preference (stop true: "stop", else "resume") at
// Unix second at.
func UserPreferencesNotification(wabaID string, md Metadata, waID string, stop bool, at int64) Notification {
	value, detail := "resume", "User requested to resume marketing messages"
	if stop {
		value, detail = "stop", "User requested to stop marketing messages"
	}
	return notification(wabaID, at, FieldUserPreferences, UserPreferencesValue{
		MessagingProduct: "whatsapp", Metadata: md, Contacts: []WebhookContact{{WAID: waID}},
		UserPreferences: []UserPreference{{WAID: waID, Detail: detail, Category: "marketing_messages", Value: value, Timestamp: at}},
	})
}

// TemplateQualityUpdate is the value of a message_template_quality_update
// change (https://developers.facebook.com/docs/whatsapp/business-management-api/webhooks/components#message_template_quality_update).
type TemplateQualityUpdate struct {
	PreviousQualityScore    string `json:"previous_quality_score"`
	NewQualityScore         string `json:"new_quality_score"`
	MessageTemplateID       int64  `json:"message_template_id"`
	MessageTemplateName     string `json:"message_template_name"`
	MessageTemplateLanguage string `json:"message_template_language"`
}

// TemplateQualityNotification builds the webhook of a template quality
// change at Unix second at.
func TemplateQualityNotification(wabaID string, at int64, v TemplateQualityUpdate) Notification {
	return notification(wabaID, at, FieldTemplateQuality, v)
}

// TemplateCategoryUpdate is the value of a template_category_update
// change: Meta re-categorised an approved template
// (https://developers.facebook.com/docs/whatsapp/business-management-api/webhooks/components#template_category_update).
type TemplateCategoryUpdate struct {
	MessageTemplateID       int64  `json:"message_template_id"`
	MessageTemplateName     string `json:"message_template_name"`
	MessageTemplateLanguage string `json:"message_template_language"`
	PreviousCategory        string `json:"previous_category"`
	NewCategory             string `json:"new_category"`
}

// TemplateCategoryNotification builds the webhook of a template category
// change at Unix second at.
func TemplateCategoryNotification(wabaID string, at int64, v TemplateCategoryUpdate) Notification {
	return notification(wabaID, at, FieldTemplateCategory, v)
}

// PhoneNumberNameDecision is the phone_number_name_update webhook of a
// display-name review: decision APPROVED or REJECTED, with the reason of
// a rejection (null otherwise).
func PhoneNumberNameDecision(wabaID string, at int64, displayPhone, decision, requested, reason string) ([]byte, error) {
	var r *string
	if reason != "" {
		r = &reason
	}
	return WABAChange(wabaID, at, FieldNameUpdate, struct {
		DisplayPhoneNumber    string  `json:"display_phone_number"`
		Decision              string  `json:"decision"`
		RequestedVerifiedName string  `json:"requested_verified_name"`
		RejectionReason       *string `json:"rejection_reason"`
	}{strings.TrimPrefix(displayPhone, "+"), decision, requested, r})
}

// FieldAccountUpdate is the account_update webhook field
// (https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/account_update).
const FieldAccountUpdate = "account_update"

// PartnerAppInstalled is the account_update webhook of an app gaining a
// WABA ("installed": in waedge, the app subscribing to the WABA through
// POST /{waba-id}/subscribed_apps): {"event":"PARTNER_APP_INSTALLED",
// "waba_info":{"waba_id","owner_business_id","partner_app_id"}} at Unix
// second at.
func PartnerAppInstalled(wabaID, businessID, appID string, at int64) ([]byte, error) {
	type wabaInfo struct {
		WABAID          string `json:"waba_id"`
		OwnerBusinessID string `json:"owner_business_id"`
		PartnerAppID    string `json:"partner_app_id"`
	}
	return WABAChange(wabaID, at, FieldAccountUpdate, struct {
		Event    string   `json:"event"`
		WABAInfo wabaInfo `json:"waba_info"`
	}{"PARTNER_APP_INSTALLED", wabaInfo{wabaID, businessID, appID}})
}
