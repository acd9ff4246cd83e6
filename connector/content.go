package connector

import (
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/waedge/waedge/cloudapi"
	"github.com/waedge/waedge/network"
)

// toNetwork translates an accepted Cloud API message into what travels
// inside the Signal message. id is the wamid (also the envelope id, so
// receipts refer to it). Media is handled by the caller (it needs the
// network's blob store); here media types fail with errUnsupported.
func toNetwork(id string, r *cloudapi.SendRequest) (network.Content, error) {
	c := network.Content{ID: id, Type: r.MessageType()}
	if r.Context != nil && network.ValidID(r.Context.MessageID) {
		c.Context = &network.Context{MessageID: r.Context.MessageID}
	}
	switch c.Type {
	case "text":
		c.Text = &network.Text{Body: r.Text.Body, PreviewURL: r.Text.PreviewURL}
	case "location":
		l := r.Location
		c.Location = &network.Location{Latitude: float64(*l.Latitude), Longitude: float64(*l.Longitude), Name: l.Name, Address: l.Address}
	case "contacts":
		for _, ct := range r.Contacts {
			nc := network.Contact{Name: network.ContactName{FormattedName: ct.Name.FormattedName,
				FirstName: ct.Name.FirstName, LastName: ct.Name.LastName}}
			for _, p := range ct.Phones {
				nc.Phones = append(nc.Phones, network.ContactPhone{Phone: p.Phone, Type: p.Type, WaID: p.WAID})
			}
			for _, e := range ct.Emails {
				nc.Emails = append(nc.Emails, network.ContactEmail{Email: e.Email, Type: e.Type})
			}
			c.Contacts = append(c.Contacts, nc)
		}
	case "reaction":
		c.Reaction = &network.Reaction{MessageID: r.Reaction.MessageID, Emoji: r.Reaction.Emoji}
	case "interactive":
		c.Interactive = interactive(r.Interactive)
	case "template":
		c.Template = &network.Template{Name: r.Template.Name, Language: r.Template.Language.Code,
			Body: templateBody(r.Template)}
	default:
		return c, fmt.Errorf("message type %s: %w", c.Type, errUnsupported)
	}
	return c, c.Validate()
}

// interactive renders an interactive message for the phone. Kinds the
// sandbox phone cannot show as buttons or a list (cta_url, flow, location
// request, products, carousels of links) arrive as a button prompt with
// their body.
func interactive(i *cloudapi.Interactive) *network.Interactive {
	out := &network.Interactive{Type: "button"}
	if i.Body != nil {
		out.Body = i.Body.Text
	}
	if i.Header != nil {
		out.Header = i.Header.Text
	}
	if i.Footer != nil {
		out.Footer = i.Footer.Text
	}
	if a := i.Action; a != nil {
		switch i.Type {
		case "list":
			out.Type, out.ButtonText = "list", a.Button
			for _, s := range a.Sections {
				ns := network.Section{Title: s.Title}
				for _, r := range s.Rows {
					ns.Rows = append(ns.Rows, network.Row{ID: r.ID, Title: r.Title, Description: r.Description})
				}
				out.Sections = append(out.Sections, ns)
			}
		case "button":
			for _, b := range a.Buttons {
				out.Buttons = append(out.Buttons, network.Button{ID: b.Reply.ID, Title: b.Reply.Title})
			}
		case "carousel":
			// The phone shows no cards: the first card's quick replies
			// (every card has the same kind and number) become buttons.
			if len(a.Cards) > 0 && a.Cards[0].Action != nil {
				for _, b := range a.Cards[0].Action.Buttons {
					if b.QuickReply != nil {
						out.Buttons = append(out.Buttons, network.Button{ID: b.QuickReply.ID, Title: b.QuickReply.Title})
					}
				}
			}
		}
	}
	if out.Body == "" {
		out.Body = i.Type
	}
	if out.Type == "button" && len(out.Buttons) == 0 {
		out.Buttons = []network.Button{{ID: i.Type, Title: "Open"}}
	}
	return out
}

// templateBody renders a template's body parameters as the text a phone
// shows (the sandbox has no template store on the phone side).
func templateBody(t *cloudapi.Template) string {
	var parts []string
	for _, c := range t.Components {
		if !strings.EqualFold(c.Type, "body") {
			continue
		}
		for _, p := range c.Parameters {
			switch {
			case p.Text != nil:
				parts = append(parts, *p.Text)
			case p.Currency != nil:
				parts = append(parts, p.Currency.FallbackValue)
			case p.DateTime != nil:
				parts = append(parts, p.DateTime.FallbackValue)
			}
		}
	}
	if len(parts) == 0 {
		return t.Name
	}
	return t.Name + ": " + strings.Join(parts, " | ")
}

// toCloud translates what a phone sent into the Cloud API's inbound
// message. business is the business number (the sender of a quoted
// message); mediaID names the stored copy of the content's media (empty
// when the content has none).
func toCloud(from, business, wamid string, at int64, c network.Content, mediaID string) cloudapi.InboundMessage {
	var m cloudapi.InboundMessage
	switch {
	case c.Type == network.ContentText:
		m = cloudapi.TextMessage(from, wamid, at, c.Text.Body)
	case network.IsMediaType(c.Type):
		md := cloudapi.InboundMedia{ID: mediaID, MimeType: c.Media.MIMEType,
			SHA256: base64.StdEncoding.EncodeToString(c.Media.SHA256), Caption: c.Media.Caption, Filename: c.Media.Filename}
		switch c.Type {
		case network.ContentImage:
			m = cloudapi.ImageMessage(from, wamid, at, md)
		case network.ContentVideo:
			m = cloudapi.VideoMessage(from, wamid, at, md)
		case network.ContentAudio:
			m = cloudapi.AudioMessage(from, wamid, at, md)
		case network.ContentDocument:
			m = cloudapi.DocumentMessage(from, wamid, at, md)
		default:
			m = cloudapi.StickerMessage(from, wamid, at, md)
		}
	case c.Type == network.ContentLocation:
		l := c.Location
		m = cloudapi.LocationMessage(from, wamid, at, cloudapi.InboundLocation{Latitude: l.Latitude,
			Longitude: l.Longitude, Name: l.Name, Address: l.Address})
	case c.Type == network.ContentContacts:
		var cs []cloudapi.Contact
		for _, ct := range c.Contacts {
			cc := cloudapi.Contact{Name: cloudapi.ContactName{FormattedName: ct.Name.FormattedName,
				FirstName: ct.Name.FirstName, LastName: ct.Name.LastName}}
			for _, p := range ct.Phones {
				cc.Phones = append(cc.Phones, cloudapi.ContactPhone{Phone: p.Phone, Type: p.Type, WAID: p.WaID})
			}
			for _, e := range ct.Emails {
				cc.Emails = append(cc.Emails, cloudapi.ContactEmail{Email: e.Email, Type: e.Type})
			}
			cs = append(cs, cc)
		}
		m = cloudapi.ContactsMessage(from, wamid, at, cs)
	case c.Type == network.ContentReaction:
		m = cloudapi.ReactionMessage(from, wamid, at, c.Reaction.MessageID, c.Reaction.Emoji)
	case c.Type == network.ContentButtonReply:
		m = cloudapi.ButtonReplyMessage(from, wamid, at, c.Reply.ID, c.Reply.Title)
	case c.Type == network.ContentListReply:
		m = cloudapi.ListReplyMessage(from, wamid, at, cloudapi.Row{ID: c.Reply.ID, Title: c.Reply.Title,
			Description: c.Reply.Description})
	default:
		m = cloudapi.UnsupportedMessage(from, wamid, at, c.Type)
	}
	if c.Context != nil {
		m = m.WithContext(cloudapi.InboundContext{From: business, ID: c.Context.MessageID})
	}
	return m
}
