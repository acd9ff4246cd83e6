package cloudapi

import (
	"slices"
	"testing"

	"github.com/waedge/waedge/graph"
)

// FuzzParseCreateTemplate: any body either fails with a Graph error that
// says why, or yields a template whose declared parameters a send giving
// exactly those parameters matches, and one giving an extra one does not.
// Seeds: testdata/fuzz/FuzzParseCreateTemplate and the ones below.
func FuzzParseCreateTemplate(f *testing.F) {
	f.Add(`{"name":"order_update","language":"en_US","category":"UTILITY","components":[{"type":"BODY","text":"Order {{1}} is {{2}}","example":{"body_text":[["42","ready"]]}}]}`)
	f.Add(`{"name":"greet","language":"en","category":"marketing","parameter_format":"NAMED","components":[{"type":"HEADER","format":"TEXT","text":"Hi {{first_name}}","example":{"header_text_named_params":[{"param_name":"first_name","example":"Ana"}]}},{"type":"BODY","text":"Your code {{code}}","example":{"body_text_named_params":[{"param_name":"code","example":"X1"}]}},{"type":"FOOTER","text":"bye"},{"type":"BUTTONS","buttons":[{"type":"QUICK_REPLY","text":"Stop"}]}]}`)
	f.Add(`{"name":"x","language":"en","category":"UTILITY","components":[{"type":"BODY","text":"{{1}} {{1}} {{ 2 }}"}]}`)
	f.Add(`{"name":"x","language":"en","category":"UTILITY","components":[{"type":"body","text":"a"},{"type":"BODY","text":"b"}]}`)
	f.Fuzz(func(t *testing.T, body string) {
		r, params, err := ParseCreateTemplate([]byte(body))
		if err != nil {
			if g := graph.As(err); g == nil || g.Details == "" {
				t.Fatalf("not a Graph error with details: %v", err)
			}
			return
		}
		if r.Name == "" || r.Language == "" || len(r.Components) == 0 {
			t.Fatalf("accepted an incomplete template: %+v", r)
		}
		send := func(body, header []string) *Template {
			text := "v"
			ps := func(names []string) []Parameter {
				out := make([]Parameter, len(names))
				for i, n := range names {
					out[i] = Parameter{Type: "text", Text: &text}
					if params.Named {
						out[i].ParameterName = n
					}
				}
				return out
			}
			return &Template{Name: r.Name, Language: &Language{Code: r.Language}, Components: []Component{
				{Type: "header", Parameters: ps(header)}, {Type: "body", Parameters: ps(body)}}}
		}
		if err := send(params.Body, params.Header).MatchParams(params); err != nil {
			t.Fatalf("a send with exactly the template's parameters %+v: %v", params, err)
		}
		extra := "zz_extra"
		for slices.Contains(params.Body, extra) {
			extra += "x"
		}
		if err := send(append(slices.Clone(params.Body), extra), params.Header).MatchParams(params); err == nil {
			t.Fatalf("a send with an extra body parameter matched %+v", params)
		}
	})
}
