package tenant

import (
	"encoding/json"
	"fmt"

	"github.com/waedge/waedge/cloudapi"
	"github.com/waedge/waedge/graph"
	"github.com/waedge/waedge/raftfsm"
)

// helloWorld is the hello_world template of a new WABA, approved as on
// Meta, so that the first send of a new business (README) works.
func helloWorld(wabaID, businessID string, at int64) (*raftfsm.Template, error) {
	def := cloudapi.HelloWorld()
	params, err := def.Validate()
	if err != nil {
		return nil, fmt.Errorf("hello_world: %w", err)
	}
	comps, err := json.Marshal(def.Components)
	if err != nil {
		return nil, fmt.Errorf("hello_world: %w", err)
	}
	id, err := graph.NewID()
	if err != nil {
		return nil, err
	}
	return &raftfsm.Template{ID: id, WABAID: wabaID, BusinessID: businessID, Name: def.Name, Language: def.Language,
		Category: def.Category, Components: comps, BodyParams: len(params.Body), HeaderParams: len(params.Header),
		ParameterFormat: "POSITIONAL", CreatedAt: at}, nil
}
