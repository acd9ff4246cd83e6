package cloudapi

import "encoding/json"

// InboundMessage is one consumer message as the "messages" webhook carries
// it (cloud-api.md §6.3). Exactly one type-named field is set, matching
// Type; Timestamp is Unix seconds (rendered as a string).
type InboundMessage struct {
	From        string              `json:"from"`
	ID          string              `json:"id"`
	Timestamp   int64               `json:"-"`
	Type        string              `json:"type"`
	Context     *InboundContext     `json:"context,omitempty"`
	Identity    *Identity           `json:"identity,omitempty"`
	Referral    json.RawMessage     `json:"referral,omitempty"`
	Text        *InboundText        `json:"text,omitempty"`
	Image       *InboundMedia       `json:"image,omitempty"`
	Audio       *InboundMedia       `json:"audio,omitempty"`
	Video       *InboundMedia       `json:"video,omitempty"`
	Document    *InboundMedia       `json:"document,omitempty"`
	Sticker     *InboundMedia       `json:"sticker,omitempty"`
	Location    *InboundLocation    `json:"location,omitempty"`
	Contacts    []Contact           `json:"contacts,omitempty"`
	Interactive *InboundInteractive `json:"interactive,omitempty"`
	Button      *InboundButton      `json:"button,omitempty"`
	Reaction    *Reaction           `json:"reaction,omitempty"`
	Order       *InboundOrder       `json:"order,omitempty"`
	System      *InboundSystem      `json:"system,omitempty"`
	Unsupported *InboundUnsupported `json:"unsupported,omitempty"`
	Errors      []WebhookError      `json:"errors,omitempty"`
}

// MarshalJSON renders the timestamp as a string of seconds, as Meta does.
func (m InboundMessage) MarshalJSON() ([]byte, error) {
	type plain InboundMessage
	return json.Marshal(struct {
		plain
		Timestamp string `json:"timestamp"`
	}{plain(m), Unix(m.Timestamp)})
}

// Inbound parts.
type (
	// InboundContext marks a reply or a forward.
	InboundContext struct {
		From                string `json:"from,omitempty"`
		ID                  string `json:"id,omitempty"`
		Forwarded           bool   `json:"forwarded,omitempty"`
		FrequentlyForwarded bool   `json:"frequently_forwarded,omitempty"`
	}
	// Identity reports a changed consumer identity key.
	Identity struct {
		Acknowledged     bool   `json:"acknowledged"`
		CreatedTimestamp string `json:"created_timestamp"`
		Hash             string `json:"hash"`
	}
	// InboundText is a text body.
	InboundText struct {
		Body string `json:"body"`
	}
	// InboundMedia is received media (downloaded separately by id).
	InboundMedia struct {
		ID       string `json:"id"`
		MimeType string `json:"mime_type"`
		SHA256   string `json:"sha256"`
		Caption  string `json:"caption,omitempty"`
		Filename string `json:"filename,omitempty"`
		Voice    bool   `json:"voice,omitempty"`
		Animated bool   `json:"animated,omitempty"`
	}
	// InboundLocation is a shared location.
	InboundLocation struct {
		Latitude  float64 `json:"latitude"`
		Longitude float64 `json:"longitude"`
		Name      string  `json:"name,omitempty"`
		Address   string  `json:"address,omitempty"`
		URL       string  `json:"url,omitempty"`
	}
	// InboundInteractive is a tap on an interactive message.
	InboundInteractive struct {
		Type        string       `json:"type"` // button_reply, list_reply, nfm_reply
		ButtonReply *ReplyChoice `json:"button_reply,omitempty"`
		ListReply   *ReplyChoice `json:"list_reply,omitempty"`
		NFMReply    *NFMReply    `json:"nfm_reply,omitempty"`
	}
	// ReplyChoice is the chosen button or row.
	ReplyChoice struct {
		ID          string `json:"id"`
		Title       string `json:"title"`
		Description string `json:"description,omitempty"`
	}
	// NFMReply is a completed flow.
	NFMReply struct {
		Name         string `json:"name"`
		Body         string `json:"body"`
		ResponseJSON string `json:"response_json"`
	}
	// InboundButton is a tap on a template quick-reply button.
	InboundButton struct {
		Text    string `json:"text"`
		Payload string `json:"payload"`
	}
	// InboundOrder is a cart sent from a catalog.
	InboundOrder struct {
		CatalogID    string        `json:"catalog_id"`
		Text         string        `json:"text,omitempty"`
		ProductItems []ProductItem `json:"product_items"`
	}
	// ProductItem is one line of an order.
	ProductItem struct {
		ProductRetailerID string  `json:"product_retailer_id"`
		Quantity          int     `json:"quantity"`
		ItemPrice         float64 `json:"item_price"`
		Currency          string  `json:"currency"`
	}
	// InboundSystem is a system notice (e.g. the consumer changed number).
	InboundSystem struct {
		Body string `json:"body"`
		WAID string `json:"wa_id,omitempty"`
		Type string `json:"type"`
	}
	// InboundUnsupported names a type the platform does not support.
	InboundUnsupported struct {
		Type string `json:"type"`
	}
)

// UnsupportedMessage builds the "unsupported" inbound message with its
// 131051 error, as Meta sends for e.g. polls.
func UnsupportedMessage(from, id string, ts int64, kind string) InboundMessage {
	e := WebhookError{Code: 131051, Title: "Message type unknown", Message: "Message type unknown"}
	e.ErrorData.Details = "Message type is currently not supported."
	return InboundMessage{From: from, ID: id, Timestamp: ts, Type: "unsupported",
		Unsupported: &InboundUnsupported{Type: kind}, Errors: []WebhookError{e}}
}

// InboundNotification wraps one inbound message (and its sender's
// profile) in Meta's webhook envelope.
func InboundNotification(wabaID string, md Metadata, profileName string, m InboundMessage) (Notification, error) {
	raw, err := json.Marshal(m)
	if err != nil {
		return Notification{}, err
	}
	c := WebhookContact{WAID: m.From}
	c.Profile.Name = profileName
	return Notification{Object: "whatsapp_business_account", Entry: []Entry{{ID: wabaID, Changes: []Change{{
		Field: "messages",
		Value: MessagesValue{MessagingProduct: "whatsapp", Metadata: md, Contacts: []WebhookContact{c}, Messages: []json.RawMessage{raw}},
	}}}}}, nil
}
