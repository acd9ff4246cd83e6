package cloudapi

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strconv"
	"strings"
)

// SendRequest is the body of POST /{phone-number-id}/messages: a message,
// or (with Status "read") a mark-as-read.
type SendRequest struct {
	MessagingProduct         string           `json:"messaging_product"`
	RecipientType            string           `json:"recipient_type,omitempty"`
	To                       string           `json:"to,omitempty"`
	Recipient                string           `json:"recipient,omitempty"`
	Type                     string           `json:"type,omitempty"`
	Context                  *Context         `json:"context,omitempty"`
	BizOpaqueCallbackData    string           `json:"biz_opaque_callback_data,omitempty"`
	RecipientIdentityKeyHash string           `json:"recipient_identity_key_hash,omitempty"`
	Text                     *Text            `json:"text,omitempty"`
	Image                    *Media           `json:"image,omitempty"`
	Audio                    *Media           `json:"audio,omitempty"`
	Video                    *Media           `json:"video,omitempty"`
	Document                 *Media           `json:"document,omitempty"`
	Sticker                  *Media           `json:"sticker,omitempty"`
	Location                 *Location        `json:"location,omitempty"`
	Contacts                 []Contact        `json:"contacts,omitempty"`
	Interactive              *Interactive     `json:"interactive,omitempty"`
	Template                 *Template        `json:"template,omitempty"`
	Reaction                 *Reaction        `json:"reaction,omitempty"`
	Status                   string           `json:"status,omitempty"`
	MessageID                string           `json:"message_id,omitempty"`
	TypingIndicator          *TypingIndicator `json:"typing_indicator,omitempty"`
}

// Context makes a message a reply to (a quote of) an earlier message.
type Context struct {
	MessageID string `json:"message_id"`
}

// Text is a text message.
type Text struct {
	Body       string `json:"body"`
	PreviewURL bool   `json:"preview_url,omitempty"`
}

// Media is an image, audio, video, document or sticker, by uploaded id or
// by link (exactly one of the two).
type Media struct {
	ID       string `json:"id,omitempty"`
	Link     string `json:"link,omitempty"`
	Caption  string `json:"caption,omitempty"`
	Filename string `json:"filename,omitempty"`
	Voice    bool   `json:"voice,omitempty"`
}

// Location is a location message (or a template location parameter).
type Location struct {
	Latitude  *Coordinate `json:"latitude"`
	Longitude *Coordinate `json:"longitude"`
	Name      string      `json:"name,omitempty"`
	Address   string      `json:"address,omitempty"`
}

// Coordinate is a latitude or longitude. Meta's reference documents it as
// a number but its own Postman collection (and most SDKs' examples) send
// a decimal string ("37.4847"), which the platform accepts: both decode.
// It is stored and shown as a number.
type Coordinate float64

// UnmarshalJSON reads a JSON number or a string holding a decimal number.
func (c *Coordinate) UnmarshalJSON(b []byte) error {
	var f float64
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return &json.UnmarshalTypeError{Value: "string " + strconv.Quote(s), Type: reflect.TypeFor[float64]()}
		}
		*c = Coordinate(v)
		return nil
	}
	if err := json.Unmarshal(b, &f); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return &json.UnmarshalTypeError{Value: te.Value, Type: reflect.TypeFor[float64]()}
		}
		return err
	}
	*c = Coordinate(f)
	return nil
}

// Contact is one contact card, sent or received.
type Contact struct {
	Name      ContactName      `json:"name"`
	Phones    []ContactPhone   `json:"phones,omitempty"`
	Emails    []ContactEmail   `json:"emails,omitempty"`
	Org       *ContactOrg      `json:"org,omitempty"`
	URLs      []ContactURL     `json:"urls,omitempty"`
	Addresses []ContactAddress `json:"addresses,omitempty"`
	Birthday  string           `json:"birthday,omitempty"`
}

// ContactName is a contact's name.
type ContactName struct {
	FormattedName string `json:"formatted_name"`
	FirstName     string `json:"first_name,omitempty"`
	LastName      string `json:"last_name,omitempty"`
	MiddleName    string `json:"middle_name,omitempty"`
	Suffix        string `json:"suffix,omitempty"`
	Prefix        string `json:"prefix,omitempty"`
}

// ContactPhone is a contact's phone.
type ContactPhone struct {
	Phone string `json:"phone,omitempty"`
	Type  string `json:"type,omitempty"`
	WAID  string `json:"wa_id,omitempty"`
}

// ContactEmail is a contact's email.
type ContactEmail struct {
	Email string `json:"email,omitempty"`
	Type  string `json:"type,omitempty"`
}

// ContactOrg is a contact's organisation.
type ContactOrg struct {
	Company    string `json:"company,omitempty"`
	Department string `json:"department,omitempty"`
	Title      string `json:"title,omitempty"`
}

// ContactURL is a contact's URL.
type ContactURL struct {
	URL  string `json:"url,omitempty"`
	Type string `json:"type,omitempty"`
}

// ContactAddress is a contact's address.
type ContactAddress struct {
	Street      string `json:"street,omitempty"`
	City        string `json:"city,omitempty"`
	State       string `json:"state,omitempty"`
	Zip         string `json:"zip,omitempty"`
	Country     string `json:"country,omitempty"`
	CountryCode string `json:"country_code,omitempty"`
	Type        string `json:"type,omitempty"`
}

// Interactive is an interactive message: button, list, cta_url, flow,
// location_request_message, or (accepted structurally) product,
// product_list, catalog_message and call_permission_request.
type Interactive struct {
	Type   string             `json:"type"`
	Header *InteractiveHeader `json:"header,omitempty"`
	Body   *InteractiveText   `json:"body,omitempty"`
	Footer *InteractiveText   `json:"footer,omitempty"`
	Action *Action            `json:"action,omitempty"`
}

// InteractiveHeader is an interactive message's header.
type InteractiveHeader struct {
	Type     string `json:"type"`
	Text     string `json:"text,omitempty"`
	Image    *Media `json:"image,omitempty"`
	Video    *Media `json:"video,omitempty"`
	Document *Media `json:"document,omitempty"`
}

// InteractiveText is an interactive body or footer.
type InteractiveText struct {
	Text string `json:"text"`
}

// Card is one card of an interactive carousel message
// (https://developers.facebook.com/docs/whatsapp/cloud-api/messages/interactive-media-carousel-messages):
// an image or video header, optional body text and a cta_url action or
// quick-reply buttons.
type Card struct {
	CardIndex *int               `json:"card_index"`
	Type      string             `json:"type"`
	Header    *InteractiveHeader `json:"header,omitempty"`
	Body      *InteractiveText   `json:"body,omitempty"`
	Action    *Action            `json:"action,omitempty"`
}

// Action is an interactive message's action. Parameters stays raw: its
// shape depends on the action (cta_url, flow) and is checked by Validate.
type Action struct {
	Buttons           []Button        `json:"buttons,omitempty"`
	Button            string          `json:"button,omitempty"`
	Sections          []Section       `json:"sections,omitempty"`
	Name              string          `json:"name,omitempty"`
	Parameters        json.RawMessage `json:"parameters,omitempty"`
	CatalogID         string          `json:"catalog_id,omitempty"`
	ProductRetailerID string          `json:"product_retailer_id,omitempty"`
	Cards             []Card          `json:"cards,omitempty"`
}

// Button is a reply button of an interactive "button" message, or (type
// quick_reply, QuickReply set) of a carousel card.
type Button struct {
	Type       string       `json:"type"`
	Reply      ReplyButton  `json:"reply"`
	QuickReply *ReplyButton `json:"quick_reply,omitempty"`
}

// ReplyButton is the id and title of a reply button.
type ReplyButton struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

// Section is a section of a list (rows) or product list (product items).
type Section struct {
	Title        string        `json:"title,omitempty"`
	Rows         []Row         `json:"rows,omitempty"`
	ProductItems []ProductItem `json:"product_items,omitempty"`
}

// ProductItem names one catalog product of a product list section.
type ProductItem struct {
	ProductRetailerID string `json:"product_retailer_id"`
}

// Row is a list row.
type Row struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
}

// Template is a template message.
type Template struct {
	Name       string      `json:"name"`
	Language   *Language   `json:"language"`
	Components []Component `json:"components,omitempty"`
}

// Language selects a template translation.
type Language struct {
	Code   string `json:"code"`
	Policy string `json:"policy,omitempty"`
}

// Component is a template component (header, body, button, …) with its
// parameters. Index is the button position, a string or a number on the
// wire; Cards (carousel) stays raw.
type Component struct {
	Type       string          `json:"type"`
	SubType    string          `json:"sub_type,omitempty"`
	Index      json.RawMessage `json:"index,omitempty"`
	Parameters []Parameter     `json:"parameters,omitempty"`
	Cards      json.RawMessage `json:"cards,omitempty"`
}

// Parameter is one template parameter. ParameterName is set for templates
// with named parameters. Product, action, limited-time-offer and
// tap-target parameters are kept raw (accepted structurally).
type Parameter struct {
	Type                   string          `json:"type"`
	ParameterName          string          `json:"parameter_name,omitempty"`
	Text                   *string         `json:"text,omitempty"`
	Payload                string          `json:"payload,omitempty"`
	Currency               *Currency       `json:"currency,omitempty"`
	DateTime               *DateTime       `json:"date_time,omitempty"`
	Image                  *Media          `json:"image,omitempty"`
	Video                  *Media          `json:"video,omitempty"`
	Document               *Media          `json:"document,omitempty"`
	Location               *Location       `json:"location,omitempty"`
	Action                 json.RawMessage `json:"action,omitempty"`
	CouponCode             string          `json:"coupon_code,omitempty"`
	Product                json.RawMessage `json:"product,omitempty"`
	LimitedTimeOffer       json.RawMessage `json:"limited_time_offer,omitempty"`
	TapTargetConfiguration json.RawMessage `json:"tap_target_configuration,omitempty"`
}

// Currency is a currency parameter.
type Currency struct {
	FallbackValue string `json:"fallback_value"`
	Code          string `json:"code"`
	Amount1000    *int64 `json:"amount_1000"`
}

// DateTime is a date_time parameter. Meta localizes only fallback_value
// today but still accepts the component fields of its earlier form
// (day_of_week … calendar) and timestamp, which older integrations send;
// they are kept, not interpreted.
type DateTime struct {
	FallbackValue string `json:"fallback_value"`
	DayOfWeek     *int   `json:"day_of_week,omitempty"`
	Year          *int   `json:"year,omitempty"`
	Month         *int   `json:"month,omitempty"`
	DayOfMonth    *int   `json:"day_of_month,omitempty"`
	Hour          *int   `json:"hour,omitempty"`
	Minute        *int   `json:"minute,omitempty"`
	Calendar      string `json:"calendar,omitempty"`
	Timestamp     *int64 `json:"timestamp,omitempty"`
}

// Reaction reacts to (or, with an empty emoji, un-reacts to) a message.
type Reaction struct {
	MessageID string `json:"message_id"`
	Emoji     string `json:"emoji"`
}

// TypingIndicator accompanies a mark-as-read.
type TypingIndicator struct {
	Type string `json:"type"`
}

// IsMarkRead reports whether the request is a mark-as-read.
func (r *SendRequest) IsMarkRead() bool { return r.Status != "" }

// WAID returns the recipient's digits-only WhatsApp id ("" if To is not a
// phone number).
func (r *SendRequest) WAID() string { return NormalizePhone(r.To) }

// MessageType is the request's message type, "text" when type is omitted.
func (r *SendRequest) MessageType() string {
	if r.Type == "" && !r.IsMarkRead() {
		return "text"
	}
	return r.Type
}

// MessageContent returns the part of the request that is the message
// itself (everything a recipient sees, including the quoted message), for
// storage: no recipient, no callback data, no identity hash.
func (r *SendRequest) MessageContent() *SendRequest {
	c := *r
	c.MessagingProduct, c.To, c.Recipient, c.RecipientType = "", "", "", ""
	c.BizOpaqueCallbackData, c.RecipientIdentityKeyHash = "", ""
	c.Type = r.MessageType()
	return &c
}
