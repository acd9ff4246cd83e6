package web

import (
	"bytes"
	"errors"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/waedge/waedge/billing"
	"github.com/waedge/waedge/graph"
	"github.com/waedge/waedge/raftfsm"
)

// Statistics, billing and integrity on the admin API (issue 5). Operators
// see counts only: nothing here names a consumer or carries content.

// validDay reports whether s is a YYYY-MM-DD date.
func validDay(s string) bool {
	_, err := time.Parse(time.DateOnly, s)
	return err == nil
}

// scope resolves the business= and phone= filters to phone-number ids
// (nil: every number) and each number's business. A business or phone
// that does not exist is error 100.
func (a *adminAPI) scope(c *fiber.Ctx) (ids []string, business map[string]string, err error) {
	ts, err := a.d.Cluster.FSM().ListTenants()
	if err != nil {
		return nil, nil, err
	}
	biz, phone := c.Query("business"), c.Query("phone")
	business = map[string]string{}
	for _, t := range ts {
		business[t.PhoneNumberID] = t.BusinessID
		if (biz == "" || t.BusinessID == biz) && (phone == "" || t.PhoneNumberID == phone) {
			ids = append(ids, t.PhoneNumberID)
		}
	}
	if (biz != "" || phone != "") && len(ids) == 0 {
		return nil, nil, graph.ErrObjectNotFound.With("no phone number matches business and phone")
	}
	if biz == "" && phone == "" {
		ids = nil
	}
	return ids, business, nil
}

// stats answers GET /admin/v1/stats?business=&phone=&from=YYYY-MM-DD&to=:
// the statistics counters, one row per day × phone × direction × type ×
// status × pricing category.
func (a *adminAPI) stats(c *fiber.Ctx) error {
	from, to := strings.Clone(c.Query("from")), strings.Clone(c.Query("to"))
	if (from != "" && !validDay(from)) || (to != "" && !validDay(to)) {
		return graph.ErrParameterValue.With("from and to must be dates (YYYY-MM-DD)")
	}
	ids, business, err := a.scope(c)
	if err != nil {
		return err
	}
	rows, err := a.d.Cluster.FSM().Stats(ids, from, to)
	if err != nil {
		return err
	}
	type row struct {
		BusinessID string `json:"business_id"`
		raftfsm.StatRow
	}
	out := make([]row, 0, len(rows))
	for _, r := range rows {
		out = append(out, row{BusinessID: business[r.PhoneNumberID], StatRow: r})
	}
	return c.JSON(fiber.Map{"data": out})
}

// rates reads the stored rate card.
func (a *adminAPI) rates() (billing.Rates, error) {
	stored, err := a.d.Cluster.FSM().ClusterValue(billing.ClusterKey)
	if err != nil && !errors.Is(err, raftfsm.ErrNotFound) {
		return billing.Rates{}, err
	}
	return billing.DecodeRates(stored)
}

// getRates answers GET /admin/v1/billing/rates.
func (a *adminAPI) getRates(c *fiber.Ctx) error {
	r, err := a.rates()
	if err != nil {
		return err
	}
	return c.JSON(r)
}

// putRates answers PUT /admin/v1/billing/rates
// {"currency":"USD","marketing":0.05,"utility":0.01,"authentication":0.02}.
func (a *adminAPI) putRates(c *fiber.Ctx) error {
	r, err := billing.ParseRates(bytes.Clone(c.Body()))
	if err != nil {
		return graph.ErrParameterValue.With(err.Error())
	}
	v, err := r.MarshalJSON()
	if err != nil {
		return err
	}
	cmd, err := raftfsm.EncodeCommand(raftfsm.CmdPutClusterValue, raftfsm.PutClusterValue{Key: billing.ClusterKey, Value: v})
	if err != nil {
		return err
	}
	if _, err := raftfsm.Outcome(a.d.Cluster.Propose(c.UserContext(), cmd)); err != nil {
		return err
	}
	return c.JSON(r)
}

// billing answers GET /admin/v1/billing?month=YYYY-MM[&business=ID][&format=csv].
func (a *adminAPI) billing(c *fiber.Ctx) error {
	month := strings.Clone(c.Query("month"))
	if !billing.ValidMonth(month) {
		return graph.ErrParameterValue.With("month must be YYYY-MM")
	}
	format := c.Query("format", "json")
	if format != "json" && format != "csv" {
		return graph.ErrParameterValue.With("format must be json or csv")
	}
	if c.Query("phone") != "" {
		return graph.ErrInvalidParameter.With("billing is per business: use business=")
	}
	ids, business, err := a.scope(c)
	if err != nil {
		return err
	}
	rates, err := a.rates()
	if err != nil {
		return err
	}
	rows, err := a.d.Cluster.FSM().Stats(ids, month+"-01", month+"-31")
	if err != nil {
		return err
	}
	rep := billing.Compute(rows, business, month, rates)
	if format == "csv" {
		var b bytes.Buffer
		if err := rep.WriteCSV(&b); err != nil {
			return err
		}
		c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
		c.Set(fiber.HeaderContentDisposition, `attachment; filename="waedge-billing-`+month+`.csv"`)
		return c.Send(b.Bytes())
	}
	return c.JSON(rep)
}

// setPhoneTier answers POST /admin/v1/phones/:id/tier {"tier":"TIER_10K"}
// ("" restores the default, TIER_1K).
func (a *adminAPI) setPhoneTier(c *fiber.Ctx) error {
	var req struct {
		Tier *string `json:"tier"`
	}
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if req.Tier == nil {
		return graph.ErrMissingParameter.With("tier is required")
	}
	if _, ok := raftfsm.TierLimit(*req.Tier); !ok && *req.Tier != "" {
		return graph.ErrParameterValue.With("tier must be TIER_250, TIER_1K, TIER_10K, TIER_100K or TIER_UNLIMITED")
	}
	p, err := a.d.Cluster.FSM().Phone(strings.Clone(c.Params("id")))
	if err != nil {
		return graph.ErrObjectNotFound.With("no phone number with this id")
	}
	evs, err := a.tierEvents(c, p, *req.Tier)
	if err != nil {
		return err
	}
	_, err = proposeValue(c, a.d.Cluster, raftfsm.CmdChangeMessagingTier, raftfsm.ChangeMessagingTier{
		PhoneNumberID: p.ID, Previous: raftfsm.TierOf(p), Tier: *req.Tier, Events: evs})
	switch {
	case errors.Is(err, raftfsm.ErrNotFound):
		return graph.ErrObjectNotFound.With("no phone number with this id")
	case errors.Is(err, raftfsm.ErrConflict):
		return graph.ErrParameterValue.With("the number's tier changed meanwhile")
	case err != nil:
		return err
	}
	tier := *req.Tier
	if tier == "" {
		tier = raftfsm.DefaultTier
	}
	return c.JSON(fiber.Map{"success": true, "messaging_limit_tier": tier})
}

// integrity answers GET /admin/v1/integrity?phone=ID[&from=&to=]: the
// number's integrity signal counts per day, its quality rating, tier and
// distinct consumers reached with business-initiated messages in the last
// 24 hours.
func (a *adminAPI) integrity(c *fiber.Ctx) error {
	id := strings.Clone(c.Query("phone"))
	from, to := strings.Clone(c.Query("from")), strings.Clone(c.Query("to"))
	if (from != "" && !validDay(from)) || (to != "" && !validDay(to)) {
		return graph.ErrParameterValue.With("from and to must be dates (YYYY-MM-DD)")
	}
	p, err := a.d.Cluster.FSM().Phone(id)
	if errors.Is(err, raftfsm.ErrNotFound) {
		return graph.ErrObjectNotFound.With("no phone number with this id")
	}
	if err != nil {
		return err
	}
	rows, err := a.d.Cluster.FSM().Integrity(id, from, to)
	if err != nil {
		return err
	}
	if rows == nil {
		rows = []raftfsm.IntegrityRow{}
	}
	return c.JSON(fiber.Map{"phone_number_id": p.ID, "quality_rating": raftfsm.QualityOf(p),
		"messaging_limit_tier": raftfsm.TierOf(p), "reached_24h": a.d.Cluster.FSM().ReachedToday(p.ID, a.d.Now().UnixMilli()),
		"data": rows})
}
