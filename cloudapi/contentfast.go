package cloudapi

import (
	"unicode/utf8"
)

// The fast encoder of stored content and of the send response: the
// counterpart of decodeSendFast. For the shapes the fast decoder reads it
// writes by hand exactly the bytes json.Marshal writes (the same field
// order, omitempty, and string escaping: <, > and & as \u003c…, U+2028
// and U+2029 escaped, invalid UTF-8 as \ufffd); a request holding any
// other field is left to json.Marshal. TestFastContentMatchesMarshal and
// FuzzFastSendMatchesStrict hold the byte equality, so stored content does
// not depend on which path wrote it.

// The fields of a send the fast encoder does not write. A request, component
// or parameter holding any of them goes to json.Marshal. These checks are
// written out rather than found by reflection at every send (a reflective
// zero check of a copy cost about a tenth of the content's encoding, and
// three allocations); TestFastContentChecksEveryField holds them equal to
// the reflective definition for every field of the three types, so a field
// added to a type later fails that test instead of being dropped silently.

func sendUnhandled(r *SendRequest) bool {
	return r.Location != nil || r.Contacts != nil || r.Interactive != nil
}

func componentUnhandled(c *Component) bool { return c.Index != nil || c.Cards != nil }

func parameterUnhandled(p *Parameter) bool {
	return p.Currency != nil || p.DateTime != nil || p.Location != nil || p.Action != nil ||
		p.Product != nil || p.LimitedTimeOffer != nil || p.TapTargetConfiguration != nil
}

// appendContentFast appends json.Marshal(r) for a request of a fast shape;
// ok is false (and dst unchanged in meaning) when r holds anything else.
func appendContentFast(dst []byte, r *SendRequest) ([]byte, bool) {
	if sendUnhandled(r) {
		return dst, false
	}
	if t := r.Template; t != nil {
		for i := range t.Components {
			c := &t.Components[i]
			if componentUnhandled(c) {
				return dst, false
			}
			for j := range c.Parameters {
				if parameterUnhandled(&c.Parameters[j]) {
					return dst, false
				}
			}
		}
	}
	w := jsonObj{b: dst}
	w.str("messaging_product", r.MessagingProduct, false)
	w.str("recipient_type", r.RecipientType, true)
	w.str("to", r.To, true)
	w.str("recipient", r.Recipient, true)
	w.str("type", r.Type, true)
	if r.Context != nil {
		w.object("context", func(o *jsonObj) { o.str("message_id", r.Context.MessageID, false) })
	}
	w.str("biz_opaque_callback_data", r.BizOpaqueCallbackData, true)
	w.str("recipient_identity_key_hash", r.RecipientIdentityKeyHash, true)
	if r.Text != nil {
		w.object("text", func(o *jsonObj) {
			o.str("body", r.Text.Body, false)
			o.boolean("preview_url", r.Text.PreviewURL)
		})
	}
	w.media("image", r.Image)
	w.media("audio", r.Audio)
	w.media("video", r.Video)
	w.media("document", r.Document)
	w.media("sticker", r.Sticker)
	if r.Template != nil {
		w.key("template")
		w.b = appendTemplate(w.b, r.Template)
	}
	if r.Reaction != nil {
		w.object("reaction", func(o *jsonObj) {
			o.str("message_id", r.Reaction.MessageID, false)
			o.str("emoji", r.Reaction.Emoji, false)
		})
	}
	w.str("status", r.Status, true)
	w.str("message_id", r.MessageID, true)
	if r.TypingIndicator != nil {
		w.object("typing_indicator", func(o *jsonObj) { o.str("type", r.TypingIndicator.Type, false) })
	}
	return w.end(), true
}

func appendTemplate(dst []byte, t *Template) []byte {
	w := jsonObj{b: dst}
	w.str("name", t.Name, false)
	if t.Language == nil {
		w.key("language")
		w.b = append(w.b, "null"...)
	} else {
		w.object("language", func(o *jsonObj) {
			o.str("code", t.Language.Code, false)
			o.str("policy", t.Language.Policy, true)
		})
	}
	if len(t.Components) > 0 {
		objects(&w, "components", t.Components, func(o *jsonObj, c Component) {
			o.str("type", c.Type, false)
			o.str("sub_type", c.SubType, true)
			if len(c.Parameters) > 0 {
				objects(o, "parameters", c.Parameters, parameterMembers)
			}
		})
	}
	return w.end()
}

// parameterMembers writes the members of a template parameter.
func parameterMembers(w *jsonObj, p Parameter) {
	w.str("type", p.Type, false)
	w.str("parameter_name", p.ParameterName, true)
	if p.Text != nil {
		w.str("text", *p.Text, false)
	}
	w.str("payload", p.Payload, true)
	w.media("image", p.Image)
	w.media("video", p.Video)
	w.media("document", p.Document)
	w.str("coupon_code", p.CouponCode, true)
}

// AppendJSON appends json.Marshal(r) to dst, without reflection.
func (r SendResponse) AppendJSON(dst []byte) []byte {
	w := jsonObj{b: dst}
	w.str("messaging_product", r.MessagingProduct, false)
	objects(&w, "contacts", r.Contacts, func(o *jsonObj, c ResponseContact) {
		o.str("input", c.Input, false)
		o.str("wa_id", c.WAID, false)
	})
	objects(&w, "messages", r.Messages, func(o *jsonObj, m ResponseMessage) {
		o.str("id", m.ID, false)
		o.str("message_status", m.MessageStatus, true)
	})
	return w.end()
}

// objects writes member k, an array (null when nil, as json.Marshal
// writes a nil slice without omitempty) of objects whose members each
// writes.
func objects[T any](w *jsonObj, k string, xs []T, each func(*jsonObj, T)) {
	w.key(k)
	if xs == nil {
		w.b = append(w.b, "null"...)
		return
	}
	w.b = append(w.b, '[')
	for i, x := range xs {
		if i > 0 {
			w.b = append(w.b, ',')
		}
		o := jsonObj{b: w.b}
		each(&o, x)
		w.b = o.end()
	}
	w.b = append(w.b, ']')
}

// jsonObj writes one JSON object member by member.
type jsonObj struct {
	b    []byte
	open bool
}

// key writes the separator and "k": of the next member.
func (w *jsonObj) key(k string) {
	if w.open {
		w.b = append(w.b, ',')
	} else {
		w.b = append(w.b, '{')
		w.open = true
	}
	w.b = append(w.b, '"')
	w.b = append(w.b, k...)
	w.b = append(w.b, '"', ':')
}

// end closes the object and returns the bytes.
func (w *jsonObj) end() []byte {
	if !w.open {
		w.b = append(w.b, '{')
	}
	return append(w.b, '}')
}

// str writes a string member; omitEmpty leaves "" out.
func (w *jsonObj) str(k, v string, omitEmpty bool) {
	if omitEmpty && v == "" {
		return
	}
	w.key(k)
	w.b = appendJSONString(w.b, v)
}

// boolean writes a member that is omitted when false (every boolean the
// fast shapes hold is omitempty).
func (w *jsonObj) boolean(k string, v bool) {
	if v {
		w.key(k)
		w.b = append(w.b, "true"...)
	}
}

// media writes an omitempty *Media member.
func (w *jsonObj) media(k string, m *Media) {
	if m == nil {
		return
	}
	w.object(k, func(o *jsonObj) {
		o.str("id", m.ID, true)
		o.str("link", m.Link, true)
		o.str("caption", m.Caption, true)
		o.str("filename", m.Filename, true)
		o.boolean("voice", m.Voice)
	})
}

// object writes member k, an object whose members each writes.
func (w *jsonObj) object(k string, each func(*jsonObj)) {
	w.key(k)
	o := jsonObj{b: w.b}
	each(&o)
	w.b = o.end()
}

const lowerHex = "0123456789abcdef"

// plainJSON marks the bytes appendJSONString copies as they are: ASCII
// other than the control characters, quote, backslash, <, > and &. Text
// is mostly such bytes, so the common case is one lookup a byte.
var plainJSON = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// appendJSONString appends s as a JSON string the way encoding/json writes
// it: quote and backslash escaped, the control characters with a short
// escape where JSON has one and as \u00XX otherwise, <, > and & as \u00XX
// (HTML-safe), U+2028 and U+2029 as \u2028 and \u2029, and each byte of
// invalid UTF-8 as \ufffd; everything else as it is.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	from := 0
	for i := 0; i < len(s); {
		if i+8 <= len(s) && plainJSON8(word8(s, i)) {
			i += 8
			continue
		}
		c := s[i]
		if plainJSON[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			var esc string
			switch {
			case c == '"':
				esc = `\"`
			case c == '\\':
				esc = `\\`
			case c == '\n':
				esc = `\n`
			case c == '\r':
				esc = `\r`
			case c == '\t':
				esc = `\t`
			case c == '\b':
				esc = `\b`
			case c == '\f':
				esc = `\f`
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				dst = append(dst, s[from:i]...)
				dst = append(dst, '\\', 'u', '0', '0', lowerHex[c>>4], lowerHex[c&0xF])
				i++
				from = i
				continue
			default:
				i++
				continue
			}
			dst = append(dst, s[from:i]...)
			dst = append(dst, esc...)
			i++
			from = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[from:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[from:i]...)
			dst = append(dst, `\u202`...)
			dst = append(dst, lowerHex[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		from = i
	}
	dst = append(dst, s[from:]...)
	return append(dst, '"')
}
