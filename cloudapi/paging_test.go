package cloudapi

import (
	"encoding/json"
	"fmt"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/waedge/waedge/graph"
)

func TestParseFields(t *testing.T) {
	for _, tc := range []struct {
		in    string
		names []string
		specs map[string]string
	}{
		{"", nil, nil},
		{"name,status,category", []string{"name", "status", "category"}, nil},
		{" name , status ,", []string{"name", "status"}, nil},
		{"name,name", []string{"name"}, nil},
		{"components{type,text},analytics.start(1).end(2).granularity(DAY)", []string{"components", "analytics"},
			map[string]string{"components": "{type,text}", "analytics": ".start(1).end(2).granularity(DAY)"}},
		{"a.filter([1,2]),b", []string{"a", "b"}, map[string]string{"a": ".filter([1,2])"}},
	} {
		f, err := ParseFields(tc.in)
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if !slices.Equal(f.Names(), tc.names) || f.Empty() != (len(tc.names) == 0) {
			t.Errorf("%q: names %v", tc.in, f.Names())
		}
		for _, n := range tc.names {
			if f.Spec(n) != tc.specs[n] {
				t.Errorf("%q: %s spec=%q", tc.in, n, f.Spec(n))
			}
		}
		if f.Spec("nope") != "" || slices.Contains(f.Names(), "nope") {
			t.Errorf("%q: has an unselected field", tc.in)
		}
	}
	for _, bad := range []string{"a(", "a)", "a{b]", "a,(b)", "na-me", "a b", "{x}"} {
		if _, err := ParseFields(bad); graph.As(err) == nil || graph.As(err).Code != 100 || !strings.Contains(err.Error(), "fields") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestParsePage(t *testing.T) {
	for _, tc := range []struct {
		query string
		want  Page
		err   string
	}{
		{"", Page{Limit: 25}, ""},
		{"limit=1000", Page{Limit: 1000}, ""},
		{"limit=1001", Page{}, "limit must be at most 1000"},
		{"limit=0", Page{}, "limit"},
		{"limit=-3", Page{}, "limit"},
		{"limit=ten", Page{}, "limit"},
		{"after=" + EncodeCursor("k1"), Page{Limit: 25, After: "k1"}, ""},
		{"before=" + EncodeCursor("k1") + "&limit=2", Page{Limit: 2, Before: "k1"}, ""},
		{"after=" + url.QueryEscape("azE="), Page{Limit: 25, After: "k1"}, ""}, // padded standard base64
		{"after=***", Page{}, "after"},
		{"before=***", Page{}, "before"},
		{"after=" + EncodeCursor("a") + "&before=" + EncodeCursor("b"), Page{}, "either after or before"},
	} {
		q, _ := url.ParseQuery(tc.query)
		got, err := ParsePage(q)
		if tc.err != "" {
			if g := graph.As(err); g == nil || g.Code != 100 || !strings.Contains(g.Details, tc.err) {
				t.Errorf("%q: %v, want 100 %q", tc.query, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: %+v %v, want %+v", tc.query, got, err, tc.want)
		}
	}
}

func TestCursorRoundTrip(t *testing.T) {
	for _, k := range []string{"a", "0000000042", "key/with+odd?chars", "ünï"} {
		c := EncodeCursor(k)
		if url.QueryEscape(c) != c {
			t.Errorf("%q: cursor %q is not URL-safe", k, c)
		}
		if back, err := DecodeCursor(c); err != nil || back != k {
			t.Errorf("%q: %q %v", k, back, err)
		}
	}
	if _, err := DecodeCursor(""); err == nil {
		t.Error("empty cursor accepted")
	}
}

type item struct{ K string }

func TestPageOfWalk(t *testing.T) {
	var items []item
	for i := range 7 {
		items = append(items, item{fmt.Sprintf("k%02d", i)})
	}
	key := func(it item) string { return it.K }
	self, _ := url.Parse("https://graph.example/v21.0/1/message_templates?fields=name&limit=3")

	// Forward through next links until none is left.
	var seen []string
	p := Page{Limit: 3}
	var last List[item]
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("no end")
		}
		l := PageOf(items, key, p, self)
		for _, it := range l.Data {
			seen = append(seen, it.K)
		}
		last = l
		if l.Paging == nil || l.Paging.Next == "" {
			break
		}
		next, err := url.Parse(l.Paging.Next)
		if err != nil || next.Query().Get("fields") != "name" || next.Query().Get("before") != "" {
			t.Fatalf("next %s", l.Paging.Next)
		}
		if p, err = ParsePage(next.Query()); err != nil {
			t.Fatal(err)
		}
	}
	if want := []string{"k00", "k01", "k02", "k03", "k04", "k05", "k06"}; !slices.Equal(seen, want) {
		t.Fatalf("forward %v", seen)
	}
	// Backward from the last page through previous links.
	seen = nil
	l := last
	for l.Paging != nil && l.Paging.Previous != "" {
		prev, _ := url.Parse(l.Paging.Previous)
		pp, err := ParsePage(prev.Query())
		if err != nil {
			t.Fatal(err)
		}
		l = PageOf(items, key, pp, self)
		seen = append(seen, l.Data[0].K)
	}
	if want := []string{"k03", "k00"}; !slices.Equal(seen, want) {
		t.Fatalf("backward firsts %v", seen)
	}
	first := PageOf(items, key, Page{Limit: 3}, self)
	if first.Paging.Previous != "" || first.Paging.Cursors.Before != EncodeCursor("k00") || first.Paging.Cursors.After != EncodeCursor("k02") {
		t.Fatalf("first paging %+v", first.Paging)
	}
}

func TestPageOfEdges(t *testing.T) {
	key := func(it item) string { return it.K }
	empty := PageOf[item](nil, key, Page{Limit: 3}, nil)
	b, _ := json.Marshal(empty)
	if string(b) != `{"data":[]}` {
		t.Errorf("empty list %s", b)
	}
	items := []item{{"a"}, {"b"}}
	all := PageOf(items, key, Page{}, nil) // zero limit → default
	if len(all.Data) != 2 || all.Paging.Next != "" {
		t.Errorf("all %+v", all)
	}
	after := PageOf(items, key, Page{Limit: 5, After: "b"}, nil)
	if len(after.Data) != 0 || after.Paging != nil {
		t.Errorf("past the end %+v", after)
	}
	gone := PageOf(items, key, Page{Limit: 5, After: "aa"}, nil) // cursor item deleted since
	if !reflect.DeepEqual(gone.Data, []item{{"b"}}) {
		t.Errorf("after a deleted key %+v", gone.Data)
	}
	// The page is a copy: appending to it does not touch the caller's slice.
	p := PageOf(items, key, Page{Limit: 1}, nil)
	_ = append(p.Data, item{"z"})
	if items[1].K != "b" {
		t.Error("page aliases the input")
	}
}
