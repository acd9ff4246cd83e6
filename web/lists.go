package web

import (
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/waedge/waedge/cloudapi"
)

// pageOf answers one page of items as a Graph list of their views. items
// must be sorted by ascending, unique key. limit, after and before come
// from the query (code 100 when malformed); paging.next and
// paging.previous are the request's own URL below publicURL with only the
// cursor and limit replaced, so filters and fields carry over to the next
// page.
func pageOf[T any](c *fiber.Ctx, publicURL string, items []T, key func(T) string, view func(T) fiber.Map) (cloudapi.List[fiber.Map], error) {
	q := url.Values{}
	c.Context().QueryArgs().VisitAll(func(k, v []byte) { q.Add(string(k), string(v)) })
	p, err := cloudapi.ParsePage(q)
	if err != nil {
		return cloudapi.List[fiber.Map]{}, err
	}
	l := cloudapi.PageOf(items, key, p, selfURL(c, publicURL))
	out := cloudapi.List[fiber.Map]{Data: make([]fiber.Map, 0, len(l.Data)), Paging: l.Paging}
	for _, it := range l.Data {
		out.Data = append(out.Data, view(it))
	}
	return out, nil
}

// selfURL is the URL the client asked for: its own path (with the version
// prefix, if any) and query below the node's public URL (never the
// request's Host). nil when the request line does not parse.
func selfURL(c *fiber.Ctx, public string) *url.URL {
	u, err := url.ParseRequestURI(strings.Clone(c.OriginalURL())) // origin- or absolute-form
	base, berr := url.Parse(public)
	if err != nil || berr != nil {
		return nil
	}
	u.Scheme, u.Host, u.User = base.Scheme, base.Host, nil
	u.Path = strings.TrimRight(base.Path, "/") + u.Path
	u.RawPath = ""
	return u
}

// fieldsOf parses the request's fields= selection (code 100 when
// malformed).
func fieldsOf(c *fiber.Ctx) (cloudapi.Fields, error) {
	return cloudapi.ParseFields(strings.Clone(c.Query("fields")))
}

// pick restricts a full view to the selected fields; id is always
// included. A field waedge does not have is left out rather than refused:
// client libraries ask for every field Meta's object has (pywa's field
// lists), and a missing key is what they handle. A nested selection
// (components{type,text}) returns the whole field.
func pick(all fiber.Map, f cloudapi.Fields) fiber.Map {
	out := fiber.Map{"id": all["id"]}
	for _, name := range f.Names() {
		if v, ok := all[name]; ok {
			out[name] = v
		}
	}
	return out
}
