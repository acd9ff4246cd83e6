package web

import (
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/waedge/waedge/graph"
	"github.com/waedge/waedge/messages"
	"github.com/waedge/waedge/raftfsm"
)

// The per-business marketing cap behind error 131049 (messages
// MarketingCap): GET /admin/v1/businesses/{id}/marketing-cap shows the
// business's effective policy, POST sets the business's own
// ({"limit":N,"window":"24h"}; limit 0 turns the cap off for it) or, with
// {"default":true}, drops it so the node's default (serve
// --marketing-cap) applies again.

// marketingCapView is the answer of both routes.
func (a *adminAPI) marketingCapView(c *fiber.Ctx, businessID string) error {
	m, own, err := messages.EffectiveMarketingCap(a.d.Cluster.FSM(), businessID, a.d.MarketingCap)
	if err != nil {
		return err
	}
	out := fiber.Map{"business_id": businessID, "limit": 0, "window_seconds": 0, "policy": m.String(), "source": "default"}
	if m.On() {
		out["limit"], out["window_seconds"] = m.Limit, int64(m.Window/time.Second)
	}
	if own {
		out["source"] = "business"
	}
	return c.JSON(out)
}

// getMarketingCap answers GET /admin/v1/businesses/:id/marketing-cap.
func (a *adminAPI) getMarketingCap(c *fiber.Ctx) error {
	id := strings.Clone(c.Params("id"))
	if _, err := a.d.Cluster.FSM().Business(id); err != nil {
		return errNoBusiness
	}
	return a.marketingCapView(c, id)
}

// setMarketingCap answers POST /admin/v1/businesses/:id/marketing-cap.
func (a *adminAPI) setMarketingCap(c *fiber.Ctx) error {
	id := strings.Clone(c.Params("id"))
	if _, err := a.d.Cluster.FSM().Business(id); err != nil {
		return errNoBusiness
	}
	var req struct {
		Limit   *int   `json:"limit"`
		Window  string `json:"window"`
		Default bool   `json:"default"`
	}
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	value := messages.NoMarketingCap
	switch {
	case req.Default:
		if req.Limit != nil || req.Window != "" {
			return graph.ErrParameterValue.With("default takes no limit or window")
		}
	case req.Limit == nil:
		return graph.ErrMissingParameter.With("limit is required (0 turns the cap off; {\"default\":true} restores the default)")
	default:
		m := messages.MarketingCap{Limit: *req.Limit}
		if m.Limit != 0 {
			w, err := time.ParseDuration(req.Window)
			if err != nil {
				return graph.ErrParameterValue.With("window must be a duration such as 24h")
			}
			m.Window = w
		}
		if err := m.Check(); err != nil {
			return graph.ErrParameterValue.With(err.Error())
		}
		value = messages.EncodeMarketingCap(m)
	}
	if _, err := proposeValue(c, a.d.Cluster, raftfsm.CmdPutClusterValue, raftfsm.PutClusterValue{
		Key: messages.MarketingCapKey(id), Value: value}); err != nil {
		return err
	}
	return a.marketingCapView(c, id)
}
