package cloudapi

import (
	"encoding/base64"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// Graph list defaults: 25 items per page unless limit says otherwise, and
// never more than 1000.
const (
	DefaultLimit = 25
	MaxLimit     = 1000
)

// Fields is a parsed fields= selection: top-level names in request order,
// each with its opaque nested part (".start(1).end(2)", "{a,b}") kept for
// the caller.
type Fields struct {
	names []string
	specs map[string]string
}

// ParseFields parses "a,b{c,d},analytics.start(1).end(2)". Commas inside
// (), {} and [] do not split; repeated names keep the first; an empty
// string selects nothing (the caller's defaults apply).
func ParseFields(s string) (Fields, error) {
	f := Fields{specs: map[string]string{}}
	depth, start := 0, 0
	var stack []byte
	for i := 0; i <= len(s); i++ {
		if i < len(s) {
			switch c := s[i]; c {
			case '(', '{', '[':
				stack = append(stack, closer(c))
				depth++
				continue
			case ')', '}', ']':
				if depth == 0 || stack[depth-1] != c {
					return Fields{}, badParam("fields: unbalanced %q at offset %d", c, i)
				}
				stack = stack[:depth-1]
				depth--
				continue
			case ',':
				if depth > 0 {
					continue
				}
			default:
				continue
			}
		} else if depth != 0 {
			return Fields{}, badParam("fields: unclosed bracket")
		}
		item := strings.TrimSpace(s[start:i])
		start = i + 1
		if item == "" {
			continue
		}
		n := 0
		for n < len(item) && isFieldChar(item[n]) {
			n++
		}
		name, spec := item[:n], item[n:]
		if name == "" || (spec != "" && spec[0] != '.' && spec[0] != '{' && spec[0] != '(') {
			return Fields{}, badParam("fields: %q is not a field name", item)
		}
		if _, dup := f.specs[name]; !dup {
			f.names = append(f.names, name)
			f.specs[name] = spec
		}
	}
	return f, nil
}

// closer is the bracket that closes c.
func closer(c byte) byte {
	switch c {
	case '(':
		return ')'
	case '{':
		return '}'
	default:
		return ']'
	}
}

func isFieldChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

// Empty reports whether no field was selected.
func (f Fields) Empty() bool { return len(f.names) == 0 }

// Spec returns the opaque nested part selected with name ("" if none).
func (f Fields) Spec(name string) string { return f.specs[name] }

// Names returns the selected names in request order.
func (f Fields) Names() []string { return append([]string(nil), f.names...) }

// Page is a parsed page request. After and Before are decoded cursor keys;
// at most one is set.
type Page struct {
	Limit  int
	After  string
	Before string
}

// ParsePage reads limit, after and before from a query. A limit that is
// not a positive integer, above MaxLimit, a malformed cursor, or both
// cursors at once are code 100.
func ParsePage(q url.Values) (Page, error) {
	p := Page{Limit: DefaultLimit}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		switch {
		case err != nil || n < 1:
			return Page{}, badParam("limit must be a positive integer")
		case n > MaxLimit:
			return Page{}, badParam("limit must be at most %d", MaxLimit)
		}
		p.Limit = n
	}
	var err error
	if s := q.Get("after"); s != "" {
		if p.After, err = DecodeCursor(s); err != nil {
			return Page{}, badParam("after is not a valid cursor")
		}
	}
	if s := q.Get("before"); s != "" {
		if p.Before, err = DecodeCursor(s); err != nil {
			return Page{}, badParam("before is not a valid cursor")
		}
	}
	if p.After != "" && p.Before != "" {
		return Page{}, badParam("give either after or before, not both")
	}
	return p, nil
}

// EncodeCursor makes an opaque, URL-safe cursor from an item's sort key.
func EncodeCursor(key string) string { return base64.RawURLEncoding.EncodeToString([]byte(key)) }

// DecodeCursor reverses EncodeCursor; it also accepts padded and
// standard-alphabet base64, since clients copy cursors around.
func DecodeCursor(s string) (string, error) {
	for _, enc := range []*base64.Encoding{base64.RawURLEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.StdEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) > 0 {
			return string(b), nil
		}
	}
	return "", badParam("malformed cursor")
}

// Cursors are the before/after cursors of a page.
type Cursors struct {
	Before string `json:"before"`
	After  string `json:"after"`
}

// Paging is a list response's paging object.
type Paging struct {
	Cursors  Cursors `json:"cursors"`
	Next     string  `json:"next,omitempty"`
	Previous string  `json:"previous,omitempty"`
}

// List is a Graph list response: {"data":[…],"paging":{…}}. Data is never
// null; paging is left out of an empty page.
type List[T any] struct {
	Data   []T     `json:"data"`
	Paging *Paging `json:"paging,omitempty"`
}

// PageOf selects page p of items, which must be sorted by ascending key
// (keys unique). Cursors carry the keys of the page's first and last item;
// next/previous are self with after/before (and limit) replaced, given only
// when more items lie that way and self is not nil.
func PageOf[T any](items []T, key func(T) string, p Page, self *url.URL) List[T] {
	limit := p.Limit
	if limit < 1 || limit > MaxLimit {
		limit = DefaultLimit
	}
	start, end := 0, len(items)
	switch {
	case p.After != "":
		start = sort.Search(len(items), func(i int) bool { return key(items[i]) > p.After })
		end = min(len(items), start+limit)
	case p.Before != "":
		end = sort.Search(len(items), func(i int) bool { return key(items[i]) >= p.Before })
		start = max(0, end-limit)
	default:
		end = min(len(items), limit)
	}
	out := List[T]{Data: append(make([]T, 0, end-start), items[start:end]...)}
	if start == end {
		return out
	}
	pg := &Paging{Cursors: Cursors{Before: EncodeCursor(key(items[start])), After: EncodeCursor(key(items[end-1]))}}
	if self != nil {
		if end < len(items) {
			pg.Next = pageURL(self, "after", pg.Cursors.After, limit)
		}
		if start > 0 {
			pg.Previous = pageURL(self, "before", pg.Cursors.Before, limit)
		}
	}
	out.Paging = pg
	return out
}

func pageURL(self *url.URL, dir, cursor string, limit int) string {
	u := *self
	q := u.Query()
	q.Del("after")
	q.Del("before")
	q.Set(dir, cursor)
	q.Set("limit", strconv.Itoa(limit))
	u.RawQuery = q.Encode()
	return u.String()
}
