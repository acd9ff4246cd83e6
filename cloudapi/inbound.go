package cloudapi

// InboundMessage is one element of a webhook's value.messages[]: a message
// a consumer sent to the business (docs/cloud-api.md §6.3). Exactly one payload
// field matches Type. Context and Referral come first, as in Meta's
// payloads.
type InboundMessage struct {
	Context     *InboundContext     `json:"context,omitempty"`
	Referral    *Referral           `json:"referral,omitempty"`
	From        string              `json:"from,omitempty"`
	ID          string              `json:"id,omitempty"`
	Timestamp   string              `json:"timestamp,omitempty"`
	Type        string              `json:"type"`
	Identity    *Identity           `json:"identity,omitempty"`
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
	Reaction    *InboundReaction    `json:"reaction,omitempty"`
	Order       *Order              `json:"order,omitempty"`
	System      *System             `json:"system,omitempty"`
	Unsupported *Unsupported        `json:"unsupported,omitempty"`
	Edit        *InboundEdit        `json:"edit,omitempty"`
	Revoke      *InboundRevoke      `json:"revoke,omitempty"`
	Errors      []WebhookError      `json:"errors,omitempty"`
}

// InboundContext is set when the consumer replied to, or forwarded, a
// message, or asked about a catalog product.
type InboundContext struct {
	From                string           `json:"from,omitempty"`
	ID                  string           `json:"id,omitempty"`
	Forwarded           bool             `json:"forwarded,omitempty"`
	FrequentlyForwarded bool             `json:"frequently_forwarded,omitempty"`
	ReferredProduct     *ReferredProduct `json:"referred_product,omitempty"`
}

// ReferredProduct is the catalog product a consumer asked about.
type ReferredProduct struct {
	CatalogID         string `json:"catalog_id"`
	ProductRetailerID string `json:"product_retailer_id"`
}

// Referral is set when the consumer came from a Click-to-WhatsApp ad or a
// post.
type Referral struct {
	SourceURL      string          `json:"source_url,omitempty"`
	SourceID       string          `json:"source_id,omitempty"`
	SourceType     string          `json:"source_type,omitempty"`
	Headline       string          `json:"headline,omitempty"`
	Body           string          `json:"body,omitempty"`
	MediaType      string          `json:"media_type,omitempty"`
	ImageURL       string          `json:"image_url,omitempty"`
	VideoURL       string          `json:"video_url,omitempty"`
	ThumbnailURL   string          `json:"thumbnail_url,omitempty"`
	CTWAClid       string          `json:"ctwa_clid,omitempty"`
	WelcomeMessage *WelcomeMessage `json:"welcome_message,omitempty"`
}

// WelcomeMessage is the ad's prefilled welcome text.
type WelcomeMessage struct {
	Text string `json:"text"`
}

// Identity is the consumer's identity-key state (for
// recipient_identity_key_hash checks). CreatedTimestamp is in milliseconds.
type Identity struct {
	Acknowledged     bool   `json:"acknowledged"`
	CreatedTimestamp int64  `json:"created_timestamp"`
	Hash             string `json:"hash"`
}

// InboundText is the body of an inbound text message.
type InboundText struct {
	Body string `json:"body"`
}

// InboundMedia is received media: an id to fetch with GET /{media-id},
// never the bytes. SHA256 is base64 in webhooks.
type InboundMedia struct {
	ID       string `json:"id"`
	MimeType string `json:"mime_type"`
	SHA256   string `json:"sha256"`
	Caption  string `json:"caption,omitempty"`
	Filename string `json:"filename,omitempty"`
	Voice    bool   `json:"voice,omitempty"`
	Animated bool   `json:"animated,omitempty"`
	URL      string `json:"url,omitempty"`
}

// InboundLocation is a location the consumer shared.
type InboundLocation struct {
	Latitude  float64 `json:"latitude"`
	Longitude float64 `json:"longitude"`
	Name      string  `json:"name,omitempty"`
	Address   string  `json:"address,omitempty"`
	URL       string  `json:"url,omitempty"`
}

// InboundInteractive is a tap on an interactive message: a reply button,
// a list row, or a completed flow (nfm_reply).
type InboundInteractive struct {
	Type        string       `json:"type"`
	ButtonReply *ReplyButton `json:"button_reply,omitempty"`
	ListReply   *Row         `json:"list_reply,omitempty"`
	NFMReply    *NFMReply    `json:"nfm_reply,omitempty"`
}

// NFMReply is a completed flow; ResponseJSON is the flow's answer as a
// JSON string.
type NFMReply struct {
	Name         string `json:"name,omitempty"`
	Body         string `json:"body,omitempty"`
	ResponseJSON string `json:"response_json"`
}

// InboundButton is a tap on a template's quick-reply button.
type InboundButton struct {
	Payload string `json:"payload"`
	Text    string `json:"text"`
}

// InboundReaction is a reaction; an empty Emoji means it was removed.
type InboundReaction struct {
	MessageID string `json:"message_id"`
	Emoji     string `json:"emoji,omitempty"`
}

// Order is a cart the consumer sent from a catalog.
type Order struct {
	CatalogID    string             `json:"catalog_id"`
	Text         string             `json:"text,omitempty"`
	ProductItems []OrderProductItem `json:"product_items"`
}

// OrderProductItem is one line of an order.
type OrderProductItem struct {
	ProductRetailerID string  `json:"product_retailer_id"`
	Quantity          int     `json:"quantity"`
	ItemPrice         float64 `json:"item_price"`
	Currency          string  `json:"currency"`
}

// System is a system notice, e.g. the consumer changed number.
type System struct {
	Body     string `json:"body"`
	Identity string `json:"identity,omitempty"`
	WAID     string `json:"wa_id,omitempty"`
	NewWAID  string `json:"new_wa_id,omitempty"`
	Type     string `json:"type"`
	Customer string `json:"customer,omitempty"`
}

// Unsupported names the kind of message the platform could not pass on.
type Unsupported struct {
	Type string `json:"type,omitempty"`
}

// MediaID is the media id of an image, audio, video, document or sticker
// message ("" for other types).
func (m *InboundMessage) MediaID() string {
	for _, md := range []*InboundMedia{m.Image, m.Audio, m.Video, m.Document, m.Sticker} {
		if md != nil {
			return md.ID
		}
	}
	return ""
}

// MessageContent returns the message without its sender, id and timestamp
// (which the store keeps as metadata), for storage.
func (m *InboundMessage) MessageContent() *InboundMessage {
	c := *m
	c.From, c.ID, c.Timestamp = "", "", ""
	return &c
}

// WithContext returns m marked as a reply to (or forward of) a message.
func (m InboundMessage) WithContext(c InboundContext) InboundMessage {
	m.Context = &c
	return m
}

// WithReferral returns m carrying the ad or post the consumer came from.
func (m InboundMessage) WithReferral(r Referral) InboundMessage {
	m.Referral = &r
	return m
}

// WithIdentity returns m carrying the consumer's identity-key state.
func (m InboundMessage) WithIdentity(id Identity) InboundMessage {
	m.Identity = &id
	return m
}

func inbound(typ, from, id string, at int64) InboundMessage {
	return InboundMessage{From: from, ID: id, Timestamp: Unix(at), Type: typ}
}

// TextMessage builds an inbound text message from consumer from, with
// message id id, sent at Unix second at.
func TextMessage(from, id string, at int64, body string) InboundMessage {
	m := inbound("text", from, id, at)
	m.Text = &InboundText{Body: body}
	return m
}

// ImageMessage builds an inbound image.
func ImageMessage(from, id string, at int64, media InboundMedia) InboundMessage {
	m := inbound("image", from, id, at)
	m.Image = &media
	return m
}

// AudioMessage builds an inbound audio; media.Voice marks a voice note.
func AudioMessage(from, id string, at int64, media InboundMedia) InboundMessage {
	m := inbound("audio", from, id, at)
	m.Audio = &media
	return m
}

// VideoMessage builds an inbound video.
func VideoMessage(from, id string, at int64, media InboundMedia) InboundMessage {
	m := inbound("video", from, id, at)
	m.Video = &media
	return m
}

// DocumentMessage builds an inbound document.
func DocumentMessage(from, id string, at int64, media InboundMedia) InboundMessage {
	m := inbound("document", from, id, at)
	m.Document = &media
	return m
}

// StickerMessage builds an inbound sticker; media.Animated marks an
// animated one.
func StickerMessage(from, id string, at int64, media InboundMedia) InboundMessage {
	m := inbound("sticker", from, id, at)
	m.Sticker = &media
	return m
}

// LocationMessage builds an inbound shared location.
func LocationMessage(from, id string, at int64, loc InboundLocation) InboundMessage {
	m := inbound("location", from, id, at)
	m.Location = &loc
	return m
}

// ContactsMessage builds an inbound message of contact cards.
func ContactsMessage(from, id string, at int64, contacts []Contact) InboundMessage {
	m := inbound("contacts", from, id, at)
	m.Contacts = contacts
	return m
}

// ButtonReplyMessage builds a tap on an interactive reply button.
func ButtonReplyMessage(from, id string, at int64, buttonID, title string) InboundMessage {
	m := inbound("interactive", from, id, at)
	m.Interactive = &InboundInteractive{Type: "button_reply", ButtonReply: &ReplyButton{ID: buttonID, Title: title}}
	return m
}

// ListReplyMessage builds a choice of a list row.
func ListReplyMessage(from, id string, at int64, row Row) InboundMessage {
	m := inbound("interactive", from, id, at)
	m.Interactive = &InboundInteractive{Type: "list_reply", ListReply: &row}
	return m
}

// FlowReplyMessage builds a completed flow (interactive nfm_reply);
// responseJSON is the flow's answer as a JSON string.
func FlowReplyMessage(from, id string, at int64, name, body, responseJSON string) InboundMessage {
	m := inbound("interactive", from, id, at)
	m.Interactive = &InboundInteractive{Type: "nfm_reply", NFMReply: &NFMReply{Name: name, Body: body, ResponseJSON: responseJSON}}
	return m
}

// ButtonMessage builds a tap on a template quick-reply button (type
// "button").
func ButtonMessage(from, id string, at int64, text, payload string) InboundMessage {
	m := inbound("button", from, id, at)
	m.Button = &InboundButton{Payload: payload, Text: text}
	return m
}

// ReactionMessage builds a reaction to messageID; an empty emoji reports
// that the reaction was removed.
func ReactionMessage(from, id string, at int64, messageID, emoji string) InboundMessage {
	m := inbound("reaction", from, id, at)
	m.Reaction = &InboundReaction{MessageID: messageID, Emoji: emoji}
	return m
}

// OrderMessage builds a cart sent from a catalog.
func OrderMessage(from, id string, at int64, order Order) InboundMessage {
	m := inbound("order", from, id, at)
	m.Order = &order
	return m
}

// SystemMessage builds a system notice (e.g. type "user_changed_number").
func SystemMessage(from, id string, at int64, sys System) InboundMessage {
	m := inbound("system", from, id, at)
	m.System = &sys
	return m
}

// UnsupportedMessage builds a message of a kind the platform does not pass
// on (kind is e.g. "poll"); it carries error 131051.
func UnsupportedMessage(from, id string, at int64, kind string) InboundMessage {
	m := inbound("unsupported", from, id, at)
	m.Unsupported = &Unsupported{Type: kind}
	e := WebhookErrorOf(ErrUnsupportedMessage)
	e.Title, e.Message = "Message type unknown", "Message type unknown"
	e.Href = ""
	m.Errors = []WebhookError{e}
	return m
}

// InboundEdit reports that the consumer edited an earlier message: its id
// and the new content (a message without from/id/timestamp).
type InboundEdit struct {
	OriginalMessageID string          `json:"original_message_id"`
	Message           *InboundMessage `json:"message"`
}

// InboundRevoke reports that the consumer deleted an earlier message for
// everyone.
type InboundRevoke struct {
	OriginalMessageID string `json:"original_message_id"`
}

// RequestWelcomeMessage builds the event of a consumer opening a chat with
// the business for the first time (type request_welcome, no payload): the
// business may answer with a welcome message.
func RequestWelcomeMessage(from, id string, at int64) InboundMessage {
	return inbound("request_welcome", from, id, at)
}

// EditMessage builds an edit of originalID; edited is the new content
// (e.g. TextMessage("", "", 0, "new text")), sent without its envelope.
func EditMessage(from, id string, at int64, originalID string, edited InboundMessage) InboundMessage {
	m := inbound("edit", from, id, at)
	edited.From, edited.ID, edited.Timestamp = "", "", ""
	m.Edit = &InboundEdit{OriginalMessageID: originalID, Message: &edited}
	return m
}

// RevokeMessage builds the deletion of originalID by the consumer.
func RevokeMessage(from, id string, at int64, originalID string) InboundMessage {
	m := inbound("revoke", from, id, at)
	m.Revoke = &InboundRevoke{OriginalMessageID: originalID}
	return m
}
