package network

import (
	"encoding/json"
	"fmt"
	"math"
	"unicode/utf8"
)

// MaxContentSize bounds an encoded Content (the plaintext inside one Signal message).
const MaxContentSize = 64 << 10

// MaxTextLen bounds a text body in bytes (the Cloud API allows 4096 characters).
const MaxTextLen = 4096 * 4

// Content types.
const (
	ContentText        = "text"
	ContentImage       = "image"
	ContentVideo       = "video"
	ContentAudio       = "audio"
	ContentDocument    = "document"
	ContentSticker     = "sticker"
	ContentLocation    = "location"
	ContentContacts    = "contacts"
	ContentReaction    = "reaction"
	ContentButtonReply = "button_reply"
	ContentListReply   = "list_reply"
	ContentInteractive = "interactive"
	ContentTemplate    = "template"
)

// Content is the end-to-end payload inside a Signal message: what the user actually sent. Exactly the
// field that matches Type is set (Media for the media types, Reply for button_reply/list_reply);
// Context optionally marks a reply to an earlier message.
type Content struct {
	ID          string       `json:"id"` // message id; phones use the envelope id
	Type        string       `json:"type"`
	Text        *Text        `json:"text,omitempty"`
	Media       *Media       `json:"media,omitempty"`
	Location    *Location    `json:"location,omitempty"`
	Contacts    []Contact    `json:"contacts,omitempty"`
	Reaction    *Reaction    `json:"reaction,omitempty"`
	Reply       *Reply       `json:"reply,omitempty"`
	Interactive *Interactive `json:"interactive,omitempty"`
	Template    *Template    `json:"template,omitempty"`
	Context     *Context     `json:"context,omitempty"`
}

// Text is a text message.
type Text struct {
	Body       string `json:"body"`
	PreviewURL bool   `json:"preview_url,omitempty"`
}

// Media references an encrypted blob on the network (see SealMedia and OpenMedia).
type Media struct {
	BlobID    string `json:"blob_id"`
	Key       []byte `json:"key"`        // AES-256 key, 32 bytes
	SHA256    []byte `json:"sha256"`     // of the plaintext
	EncSHA256 []byte `json:"enc_sha256"` // of the blob
	MIMEType  string `json:"mime_type"`
	Size      int64  `json:"size"` // plaintext bytes
	Caption   string `json:"caption,omitempty"`
	Filename  string `json:"filename,omitempty"`
}

// Location is a shared location.
type Location struct {
	Latitude  float64 `json:"latitude"`
	Longitude float64 `json:"longitude"`
	Name      string  `json:"name,omitempty"`
	Address   string  `json:"address,omitempty"`
}

// Contact is a shared contact card.
type Contact struct {
	Name   ContactName    `json:"name"`
	Phones []ContactPhone `json:"phones,omitempty"`
	Emails []ContactEmail `json:"emails,omitempty"`
}

// ContactName is a contact card's name.
type ContactName struct {
	FormattedName string `json:"formatted_name"`
	FirstName     string `json:"first_name,omitempty"`
	LastName      string `json:"last_name,omitempty"`
}

// ContactPhone is a phone number on a contact card.
type ContactPhone struct {
	Phone string `json:"phone"`
	Type  string `json:"type,omitempty"`
	WaID  string `json:"wa_id,omitempty"`
}

// ContactEmail is an email address on a contact card.
type ContactEmail struct {
	Email string `json:"email"`
	Type  string `json:"type,omitempty"`
}

// Reaction is an emoji reaction to a message; an empty Emoji removes the reaction.
type Reaction struct {
	MessageID string `json:"message_id"`
	Emoji     string `json:"emoji"`
}

// Reply is a consumer's answer to an interactive message (button_reply or list_reply).
type Reply struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
}

// Interactive is a business prompt with reply buttons or a list.
type Interactive struct {
	Type       string    `json:"type"` // "button" or "list"
	Header     string    `json:"header,omitempty"`
	Body       string    `json:"body"`
	Footer     string    `json:"footer,omitempty"`
	Buttons    []Button  `json:"buttons,omitempty"`
	ButtonText string    `json:"button_text,omitempty"` // the list's open button
	Sections   []Section `json:"sections,omitempty"`
}

// Button is one reply button.
type Button struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

// Section is one section of a list message.
type Section struct {
	Title string `json:"title,omitempty"`
	Rows  []Row  `json:"rows"`
}

// Row is one selectable row of a list message.
type Row struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
}

// Template is a rendered template message.
type Template struct {
	Name     string `json:"name"`
	Language string `json:"language"`
	Body     string `json:"body"`
}

// Context marks a message as a reply to an earlier one.
type Context struct {
	MessageID string `json:"message_id"`
}

// EncodeContent validates c and returns its JSON encoding.
func EncodeContent(c *Content) ([]byte, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	b, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encode content: %w", err)
	}
	if len(b) > MaxContentSize {
		return nil, fmt.Errorf("content of %d bytes: %w", len(b), ErrBadContent)
	}
	return b, nil
}

// DecodeContent parses and validates a Content payload.
func DecodeContent(b []byte) (Content, error) {
	var c Content
	if len(b) > MaxContentSize {
		return c, fmt.Errorf("content of %d bytes: %w", len(b), ErrBadContent)
	}
	if err := decodeJSON(b, &c); err != nil {
		return Content{}, fmt.Errorf("%w: %w", ErrBadContent, err)
	}
	if err := c.Validate(); err != nil {
		return Content{}, err
	}
	return c, nil
}

// IsMediaType reports whether t is a content type carried as Media.
func IsMediaType(t string) bool {
	switch t {
	case ContentImage, ContentVideo, ContentAudio, ContentDocument, ContentSticker:
		return true
	}
	return false
}

// Validate checks that c has a valid id, a known type and exactly the matching field.
func (c *Content) Validate() error {
	bad := func(what string) error { return fmt.Errorf("content %s: %w", what, ErrBadContent) }
	if !ValidID(c.ID) {
		return bad("id")
	}
	if c.Context != nil && !ValidID(c.Context.MessageID) {
		return bad("context")
	}
	want := ""
	switch {
	case c.Type == ContentText:
		if c.Text == nil || c.Text.Body == "" || len(c.Text.Body) > MaxTextLen || !utf8.ValidString(c.Text.Body) {
			return bad("text")
		}
		want = "text"
	case IsMediaType(c.Type):
		m := c.Media
		if m == nil || !ValidID(m.BlobID) || len(m.Key) != 32 || len(m.SHA256) != 32 || len(m.EncSHA256) != 32 ||
			m.Size < 0 || m.MIMEType == "" || len(m.MIMEType) > 255 || len(m.Caption) > MaxTextLen || len(m.Filename) > 255 {
			return bad("media")
		}
		want = "media"
	case c.Type == ContentLocation:
		l := c.Location
		if l == nil || math.IsNaN(l.Latitude) || math.IsNaN(l.Longitude) || l.Latitude < -90 || l.Latitude > 90 ||
			l.Longitude < -180 || l.Longitude > 180 {
			return bad("location")
		}
		want = "location"
	case c.Type == ContentContacts:
		if len(c.Contacts) == 0 || len(c.Contacts) > 257 {
			return bad("contacts")
		}
		for _, ct := range c.Contacts {
			if ct.Name.FormattedName == "" {
				return bad("contact name")
			}
		}
		want = "contacts"
	case c.Type == ContentReaction:
		if c.Reaction == nil || !ValidID(c.Reaction.MessageID) || len(c.Reaction.Emoji) > 32 {
			return bad("reaction")
		}
		want = "reaction"
	case c.Type == ContentButtonReply || c.Type == ContentListReply:
		if c.Reply == nil || c.Reply.ID == "" || len(c.Reply.ID) > 256 || len(c.Reply.Title) > 256 {
			return bad("reply")
		}
		want = "reply"
	case c.Type == ContentInteractive:
		i := c.Interactive
		if i == nil || i.Body == "" || (i.Type == "button" && len(i.Buttons) == 0) ||
			(i.Type == "list" && len(i.Sections) == 0) || (i.Type != "button" && i.Type != "list") {
			return bad("interactive")
		}
		want = "interactive"
	case c.Type == ContentTemplate:
		if c.Template == nil || c.Template.Name == "" {
			return bad("template")
		}
		want = "template"
	default:
		return bad("type")
	}
	set := map[string]bool{
		"text": c.Text != nil, "media": c.Media != nil, "location": c.Location != nil,
		"contacts": c.Contacts != nil, "reaction": c.Reaction != nil, "reply": c.Reply != nil,
		"interactive": c.Interactive != nil, "template": c.Template != nil,
	}
	for field, present := range set {
		if present && field != want {
			return bad("has a field that does not match its type")
		}
	}
	return nil
}
