package web

import (
	"encoding/json"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/waedge/waedge/billing"
	"github.com/waedge/waedge/graph"
	"github.com/waedge/waedge/raftfsm"
)

// pricingDimensions are the dimensions of pricing_analytics waedge can
// split by (COUNTRY is not kept: consumers are stored by reference).
var pricingDimensions = []string{"PHONE", "PRICING_CATEGORY", "PRICING_TYPE"}

// pricingQuery is a parsed pricing_analytics field.
type pricingQuery struct {
	analyticsQuery
	dims              map[string]bool
	metrics           map[string]bool // COST, VOLUME (both when not asked)
	types, categories map[string]bool // filters (all when empty)
}

// upperList reads a modifier holding a JSON list of names (single quotes
// allowed, as Meta's examples write them), upper-cased.
func upperList(f fieldExpr, mod string, allowed []string) (map[string]bool, error) {
	out := map[string]bool{}
	raw, ok := f.params[mod]
	if !ok {
		return out, nil
	}
	var names []string
	if err := json.Unmarshal([]byte(strings.ReplaceAll(raw, "'", "\"")), &names); err != nil {
		return nil, graph.ErrInvalidParameter.Withf("%s: %s must be a JSON array", f.name, mod)
	}
	for _, n := range names {
		n = strings.ToUpper(n)
		if !slices.Contains(allowed, n) {
			return nil, graph.ErrInvalidParameter.Withf("%s: %s %s is not available (%s)", f.name, mod, n, strings.Join(allowed, ", "))
		}
		out[n] = true
	}
	return out, nil
}

// parsePricingQuery parses pricing_analytics.start(…).end(…).granularity(…)
// with Meta's optional phone_numbers, metric_types, pricing_types,
// pricing_categories and dimensions
// (https://developers.facebook.com/docs/whatsapp/business-management-api/analytics#pricing-analytics).
func (g *graphAPI) parsePricingQuery(f fieldExpr, phones []raftfsm.Phone) (pricingQuery, error) {
	common := fieldExpr{name: f.name, params: maps.Clone(f.params)}
	for _, m := range []string{"dimensions", "metric_types", "pricing_types", "pricing_categories", "country_codes"} {
		delete(common.params, m)
	}
	aq, err := g.analyticsQuery(common, phones, map[string]bool{"DAILY": true, "MONTHLY": true})
	if err != nil {
		return pricingQuery{}, err
	}
	q := pricingQuery{analyticsQuery: aq}
	if q.dims, err = upperList(f, "dimensions", pricingDimensions); err != nil {
		return q, err
	}
	if q.metrics, err = upperList(f, "metric_types", []string{"COST", "VOLUME"}); err != nil {
		return q, err
	}
	if len(q.metrics) == 0 {
		q.metrics = map[string]bool{"COST": true, "VOLUME": true}
	}
	if q.types, err = upperList(f, "pricing_types", []string{"REGULAR", "FREE_CUSTOMER_SERVICE", "FREE_ENTRY_POINT"}); err != nil {
		return q, err
	}
	if q.categories, err = upperList(f, "pricing_categories", []string{"MARKETING", "UTILITY", "AUTHENTICATION", "SERVICE",
		"AUTHENTICATION_INTERNATIONAL", "MARKETING_LITE"}); err != nil {
		return q, err
	}
	if cc, ok := f.params["country_codes"]; ok && strings.TrimSpace(cc) != "[]" {
		return q, graph.ErrInvalidParameter.Withf("%s: country_codes is not available (waedge keeps no consumer countries)", f.name)
	}
	return q, nil
}

// pricingType is the pricing type of a delivered message's category:
// service replies are free inside the customer service window.
func pricingType(category string) string {
	if category == raftfsm.CategoryService {
		return "FREE_CUSTOMER_SERVICE"
	}
	return "REGULAR"
}

// pricingAnalyticsView answers pricing_analytics: delivered messages
// (volume) and their price (cost, from the rate card) per period, split
// by the dimensions asked for; empty points are left out, as Meta does.
func (g *graphAPI) pricingAnalyticsView(q pricingQuery) (fiber.Map, error) {
	ps, in, err := g.pricedStats(q.analyticsQuery)
	if err != nil {
		return nil, err
	}
	rates, display, rows := in.rates, in.display, in.rows
	type key struct{ phone, category, ptype string }
	type sum struct{ volume, micros int64 }
	points := []fiber.Map{}
	for _, p := range ps {
		sums := map[key]*sum{}
		for _, r := range rows {
			cat, pt := strings.ToUpper(r.Category), pricingType(r.Category)
			if r.Day < p.from || r.Day > p.to || r.Direction != raftfsm.DirectionOut || r.Status != raftfsm.StatusDelivered ||
				(len(q.categories) > 0 && !q.categories[cat]) || (len(q.types) > 0 && !q.types[pt]) {
				continue
			}
			var k key
			if q.dims["PHONE"] {
				k.phone = display[r.PhoneNumberID]
			}
			if q.dims["PRICING_CATEGORY"] {
				k.category = cat
			}
			if q.dims["PRICING_TYPE"] {
				k.ptype = pt
			}
			s := sums[k]
			if s == nil {
				s = &sum{}
				sums[k] = s
			}
			s.volume += r.Count
			s.micros += r.Count * rates.Micros[r.Category]
		}
		keys := slices.Collect(maps.Keys(sums))
		sort.Slice(keys, func(i, j int) bool {
			a, b := keys[i], keys[j]
			return a.phone+"\x00"+a.category+"\x00"+a.ptype < b.phone+"\x00"+b.category+"\x00"+b.ptype
		})
		for _, k := range keys {
			pt := fiber.Map{"start": p.start, "end": p.end}
			if q.metrics["VOLUME"] {
				pt["volume"] = sums[k].volume
			}
			if q.metrics["COST"] {
				c, _ := strconv.ParseFloat(billing.FormatMicros(sums[k].micros), 64)
				pt["cost"] = c
			}
			for name, v := range map[string]string{"phone_number": k.phone, "pricing_category": k.category, "pricing_type": k.ptype} {
				if v != "" {
					pt[name] = v
				}
			}
			points = append(points, pt)
		}
	}
	return fiber.Map{"data": []fiber.Map{{"data_points": points}}}, nil
}
