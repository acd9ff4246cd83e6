package web

import (
	"errors"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/waedge/waedge/billing"
	"github.com/waedge/waedge/cloudapi"
	"github.com/waedge/waedge/graph"
	"github.com/waedge/waedge/raftfsm"
)

// Template analytics (GET /{waba-id}/template_analytics, or the
// template_analytics field of GET /{waba-id}), as Meta documents it
// (https://developers.facebook.com/docs/whatsapp/business-management-api/analytics#template-analytics):
// daily sent, delivered, read and quick-reply click counts per template, from the replicated
// counters (raftfsm templateanalytics.go), once the WABA confirmed
// template analytics (POST /{waba-id}?is_enabled_for_insights=true).

const (
	// maxAnalyticsTemplates is Meta's limit of template_ids per request.
	maxAnalyticsTemplates = 10
	// templateAnalyticsLookback is how far back Meta serves template
	// analytics: 90 days.
	templateAnalyticsLookback = 90 * 24 * time.Hour
	daySeconds                = 24 * 60 * 60
)

// templateMetrics are the metric_types waedge answers; CLICKED lists the
// quick-reply button clicks (URL-button clicks are not observed,
// docs/cloud-api.md §11.3).
var templateMetrics = []string{"SENT", "DELIVERED", "READ", "CLICKED", "COST"}

// templateAnalyticsQuery is a parsed template analytics request.
type templateAnalyticsQuery struct {
	start, end int64 // unix seconds, whole UTC days, [start, end)
	ids        []string
	metrics    map[string]bool
}

// listParam reads a list parameter as Meta's examples write them —
// [1,2], ['SENT','READ'], ["a"] — or comma-separated without brackets.
func listParam(raw string) []string {
	raw = strings.TrimSpace(raw)
	if strings.HasPrefix(raw, "[") && strings.HasSuffix(raw, "]") {
		raw = raw[1 : len(raw)-1]
	}
	var out []string
	for _, s := range strings.Split(raw, ",") {
		if s = strings.Trim(strings.TrimSpace(s), `'"`); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// parseTemplateAnalytics validates a request's parameters (get reads one;
// ok false when absent) at now: start and end (Unix seconds, start
// rounded down and end up to whole UTC days, within the last 90 days),
// granularity DAILY, template_ids (1 to 10 template ids), metric_types
// (optional; SENT, DELIVERED, READ, CLICKED by default). Every refusal is
// code 100.
func parseTemplateAnalytics(get func(string) (string, bool), now time.Time) (templateAnalyticsQuery, error) {
	var q templateAnalyticsQuery
	bad := func(format string, args ...any) error {
		return graph.ErrInvalidParameter.Withf("template_analytics: "+format, args...)
	}
	for _, k := range []string{"start", "end", "granularity", "template_ids"} {
		if _, ok := get(k); !ok {
			return q, bad("%s is required", k)
		}
	}
	rawStart, _ := get("start")
	rawEnd, _ := get("end")
	start, err1 := strconv.ParseInt(strings.TrimSpace(rawStart), 10, 64)
	end, err2 := strconv.ParseInt(strings.TrimSpace(rawEnd), 10, 64)
	if err1 != nil || err2 != nil || start < 0 || end <= start {
		return q, bad("start and end must be Unix timestamps with start < end")
	}
	q.start = start - start%daySeconds
	q.end = end
	if r := end % daySeconds; r != 0 {
		q.end = end - r + daySeconds
	}
	if q.start < now.Add(-templateAnalyticsLookback).Unix()-daySeconds {
		return q, bad("start is more than 90 days ago: template analytics cover the last 90 days")
	}
	if g, _ := get("granularity"); strings.ToUpper(strings.TrimSpace(g)) != "DAILY" {
		return q, bad("granularity must be DAILY")
	}
	rawIDs, _ := get("template_ids")
	for _, id := range listParam(rawIDs) {
		if _, err := strconv.ParseUint(id, 10, 64); err != nil {
			return q, bad("template_ids must be a list of template ids")
		}
		if !slices.Contains(q.ids, id) {
			q.ids = append(q.ids, id)
		}
	}
	switch {
	case len(q.ids) == 0:
		return q, bad("template_ids must name at least one template")
	case len(q.ids) > maxAnalyticsTemplates:
		return q, bad("template_ids names %d templates; at most %d per request", len(q.ids), maxAnalyticsTemplates)
	}
	q.metrics = map[string]bool{}
	if raw, ok := get("metric_types"); ok {
		for _, m := range listParam(raw) {
			m = strings.ToUpper(m)
			if !slices.Contains(templateMetrics, m) {
				return q, bad("metric_types %s is not one of %s", m, strings.Join(templateMetrics, ", "))
			}
			q.metrics[m] = true
		}
	}
	if len(q.metrics) == 0 {
		q.metrics = map[string]bool{"SENT": true, "DELIVERED": true, "READ": true, "CLICKED": true}
	}
	if pt, ok := get("product_type"); ok && !strings.EqualFold(strings.TrimSpace(pt), "cloud_api") {
		return q, bad("product_type must be CLOUD_API")
	}
	return q, nil
}

// errInsightsDisabled answers template analytics of a WABA that has not
// confirmed them.
var errInsightsDisabled = graph.ErrInvalidParameter.With("template_analytics: template analytics are not enabled for this WhatsApp Business Account; " +
	"enable them with POST /{waba-id}?is_enabled_for_insights=true")

// rateCard is the cluster's billing rate card.
func (g *graphAPI) rateCard() (billing.Rates, error) {
	stored, err := g.d.Cluster.FSM().ClusterValue(billing.ClusterKey)
	if err != nil && !errors.Is(err, raftfsm.ErrNotFound) {
		return billing.Rates{}, err
	}
	return billing.DecodeRates(stored)
}

// templateAnalyticsView answers a template analytics query of WABA w:
// one data point per template and day, in the order the templates were
// asked for. A template id that is not w's (another WABA's or none) is
// code 100, the same answer for both (invariant 7).
func (g *graphAPI) templateAnalyticsView(w raftfsm.WABA, q templateAnalyticsQuery) (fiber.Map, error) {
	fsm := g.d.Cluster.FSM()
	if !fsm.TemplateInsightsEnabled(w.ID) {
		return nil, errInsightsDisabled
	}
	categories := map[string]string{}
	for _, id := range q.ids {
		t, err := fsm.TemplateByID(id)
		if errors.Is(err, raftfsm.ErrNotFound) || (err == nil && t.WABAID != w.ID) {
			return nil, graph.ErrInvalidParameter.Withf("template_analytics: template %s is not a template of this WhatsApp Business Account", id)
		}
		if err != nil {
			return nil, err
		}
		categories[id] = raftfsm.PricingCategory(t.Category)
	}
	var rates billing.Rates
	if q.metrics["COST"] {
		var err error
		if rates, err = g.rateCard(); err != nil {
			return nil, err
		}
	}
	rows, err := fsm.TemplateStats(w.ID, q.ids, raftfsm.Day(q.start*1000), raftfsm.Day((q.end-1)*1000))
	if err != nil {
		return nil, err
	}
	counts := map[string]int64{}       // template 0 day 0 metric
	clicks := map[string][]fiber.Map{} // template 0 day → clicked entries, in counter order
	for _, r := range rows {
		if typ, button, ok := raftfsm.TemplateClickOf(r.Metric); ok {
			k := r.TemplateID + "\x00" + r.Day
			clicks[k] = append(clicks[k], fiber.Map{"type": typ, "button_content": button, "count": r.Count})
			continue
		}
		counts[r.TemplateID+"\x00"+r.Day+"\x00"+r.Metric] = r.Count
	}
	points := []fiber.Map{}
	for _, id := range q.ids {
		for d := q.start; d < q.end; d += daySeconds {
			n := func(metric string) int64 { return counts[id+"\x00"+raftfsm.Day(d*1000)+"\x00"+metric] }
			pt := fiber.Map{"template_id": id, "start": d, "end": d + daySeconds}
			if q.metrics["SENT"] {
				pt["sent"] = n(raftfsm.TemplateMetricSent)
			}
			if q.metrics["DELIVERED"] {
				pt["delivered"] = n(raftfsm.TemplateMetricDelivered)
			}
			if q.metrics["READ"] {
				pt["read"] = n(raftfsm.TemplateMetricRead)
			}
			if q.metrics["CLICKED"] {
				c := clicks[id+"\x00"+raftfsm.Day(d*1000)]
				if c == nil {
					c = []fiber.Map{}
				}
				pt["clicked"] = c
			}
			if q.metrics["COST"] {
				rate := rates.Micros[categories[id]]
				delivered := n(raftfsm.TemplateMetricDelivered)
				cost := []fiber.Map{{"type": "amount_spent", "value": microsValue(delivered * rate)}}
				if delivered > 0 {
					cost = append(cost, fiber.Map{"type": "cost_per_delivered", "value": microsValue(rate)})
				}
				pt["cost"] = cost
			}
			points = append(points, pt)
		}
	}
	data := fiber.Map{"granularity": "DAILY", "product_type": "cloud_api", "data_points": points}
	key := strconv.FormatInt(q.start, 10) + "-" + strconv.FormatInt(q.end, 10)
	return fiber.Map{"data": []fiber.Map{data},
		"paging": cloudapi.Paging{Cursors: cloudapi.Cursors{Before: cloudapi.EncodeCursor(key), After: cloudapi.EncodeCursor(key)}}}, nil
}

// microsValue is an amount in millionths as a JSON number.
func microsValue(m int64) float64 {
	v, _ := strconv.ParseFloat(billing.FormatMicros(m), 64)
	return v
}

// templateAnalytics answers GET /{waba-id}/template_analytics.
func (g *graphAPI) templateAnalytics(c *fiber.Ctx) error {
	w, err := g.ownWABA(c)
	if err != nil {
		return err
	}
	return g.answerTemplateAnalytics(c, w, queryParam(c), false)
}

// nestedTemplateAnalytics answers Meta's documented form
// GET /{waba-id}?fields=template_analytics?start=…&end=…&…, where the
// parameters follow a second "?" inside fields and so reach the server
// as the first one inside fields and the rest as query parameters.
func (g *graphAPI) nestedTemplateAnalytics(c *fiber.Ctx, w raftfsm.WABA, fields string) error {
	inner, err := url.ParseQuery(strings.TrimPrefix(fields, "template_analytics?"))
	if err != nil {
		return graph.ErrInvalidParameter.With("fields: malformed template_analytics parameters")
	}
	query := queryParam(c)
	return g.answerTemplateAnalytics(c, w, func(k string) (string, bool) {
		if v, ok := inner[k]; ok && len(v) > 0 {
			return v[0], true
		}
		return query(k)
	}, true)
}

// queryParam reads one query parameter of the request (ok false when
// absent); the value is a copy.
func queryParam(c *fiber.Ctx) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v := c.Context().QueryArgs().Peek(k)
		return string(v), v != nil
	}
}

// answerTemplateAnalytics parses the parameters get reads, and answers
// the view alone (the edge) or as the template_analytics field of w.
func (g *graphAPI) answerTemplateAnalytics(c *fiber.Ctx, w raftfsm.WABA, get func(string) (string, bool), asField bool) error {
	q, err := parseTemplateAnalytics(get, g.d.Now())
	if err != nil {
		return err
	}
	v, err := g.templateAnalyticsView(w, q)
	if err != nil {
		return err
	}
	if asField {
		return c.JSON(fiber.Map{"id": w.ID, "template_analytics": v})
	}
	return c.JSON(v)
}

// templateAnalyticsField answers the template_analytics field of
// GET /{waba-id}: template_analytics.start(…).end(…).granularity(DAILY)
// .template_ids([…]).metric_types([…]).
func (g *graphAPI) templateAnalyticsField(w raftfsm.WABA, f fieldExpr) (fiber.Map, error) {
	for k := range f.params {
		switch k {
		case "start", "end", "granularity", "template_ids", "metric_types", "product_type":
		default:
			return nil, graph.ErrInvalidParameter.Withf("template_analytics: unknown modifier %s", k)
		}
	}
	q, err := parseTemplateAnalytics(func(k string) (string, bool) { v, ok := f.params[k]; return v, ok }, g.d.Now())
	if err != nil {
		return nil, err
	}
	return g.templateAnalyticsView(w, q)
}

// enableInsights answers POST /{waba-id}?is_enabled_for_insights=true:
// the WABA confirms template analytics (one way: false is refused, as
// Meta's confirmation cannot be undone). Answer: {"id": waba id}.
func (g *graphAPI) enableInsights(c *fiber.Ctx, w raftfsm.WABA) error {
	if v := strings.ToLower(strings.TrimSpace(c.Query("is_enabled_for_insights"))); v != "true" {
		return graph.ErrInvalidParameter.With("is_enabled_for_insights: template analytics can only be enabled (true); they cannot be turned off")
	}
	if _, err := proposeValue(c, g.d.Cluster, raftfsm.CmdEnableTemplateInsights, raftfsm.EnableTemplateInsights{
		WABAID: w.ID, BusinessID: w.BusinessID, At: g.d.Now().UnixMilli()}); err != nil {
		return err
	}
	return c.JSON(fiber.Map{"id": w.ID})
}
