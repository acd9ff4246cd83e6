package web

import (
	"encoding/json"
	"errors"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/waedge/waedge/cloudapi"
	"github.com/waedge/waedge/graph"
	"github.com/waedge/waedge/raftfsm"
)

// Official Business Account (issue 14): the business requests the badge
// (POST /{phone-number-id}/official_business_account, Meta's parameters:
// https://developers.facebook.com/docs/whatsapp/official-business-accounts/),
// an operator decides (POST /admin/v1/phones/{id}/oba), and the decision
// is reported by the account_alerts webhook OBA_APPROVED or OBA_REJECTED
// (https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/account_alerts/).
// GET /{phone-number-id}?fields=official_business_account shows
// {"oba_status": …}; is_official_business_account is true once approved.

// maxOBAText bounds each text parameter of a request; maxOBALinks the
// supporting links.
const (
	maxOBAText  = 1000
	maxOBALinks = 10
)

// obaApprovedText and obaRejectedText are the alert descriptions of the
// decisions (the rejection's unless the operator gives a reason).
const (
	obaApprovedText = "This phone number now has a green badge next to its name showing that it's an authentic and notable business account. Add more details to your business profile to increase customer trust."
	obaRejectedText = "Official Business Account status was not granted for this phone number. Review the criteria for Official Business Accounts; a new request can be submitted after 30 days."
)

// parseOBARequest reads and validates a request's parameters (JSON, form
// or query): business_website_url (an http(s) URL),
// primary_country_of_operation and primary_language are required;
// parent_business_or_brand, supporting_links (a list of http(s) URLs) and
// additional_supporting_information are optional. Every refusal is 100.
func parseOBARequest(body []byte) (raftfsm.OBARequest, error) {
	var r raftfsm.OBARequest
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return r, graph.ErrInvalidParameter.With("request body is not valid JSON")
	}
	text := func(k string, required bool) (string, error) {
		v, ok := raw[k]
		var s string
		if ok && json.Unmarshal(v, &s) != nil {
			return "", graph.ErrInvalidParameter.Withf("%s must be a string", k)
		}
		s = strings.TrimSpace(s)
		switch {
		case s == "" && required:
			return "", graph.ErrInvalidParameter.Withf("%s is required", k)
		case len(s) > maxOBAText:
			return "", graph.ErrInvalidParameter.Withf("%s is at most %d characters", k, maxOBAText)
		}
		return s, nil
	}
	isURL := func(s string) bool {
		u, err := url.Parse(s)
		return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
	}
	var err error
	if r.BusinessWebsiteURL, err = text("business_website_url", true); err != nil {
		return r, err
	}
	if !isURL(r.BusinessWebsiteURL) {
		return r, graph.ErrInvalidParameter.With("business_website_url must be an http or https URL")
	}
	if r.PrimaryCountryOfOperation, err = text("primary_country_of_operation", true); err != nil {
		return r, err
	}
	if r.PrimaryLanguage, err = text("primary_language", true); err != nil {
		return r, err
	}
	if r.ParentBusinessOrBrand, err = text("parent_business_or_brand", false); err != nil {
		return r, err
	}
	if r.AdditionalSupportingInformation, err = text("additional_supporting_information", false); err != nil {
		return r, err
	}
	if v, ok := raw["supporting_links"]; ok {
		if json.Unmarshal(v, &r.SupportingLinks) != nil {
			var one string
			if json.Unmarshal(v, &one) != nil {
				return r, graph.ErrInvalidParameter.With("supporting_links must be a list of URLs")
			}
			r.SupportingLinks = []string{one}
		}
		if len(r.SupportingLinks) > maxOBALinks {
			return r, graph.ErrInvalidParameter.Withf("supporting_links has at most %d links", maxOBALinks)
		}
		for _, l := range r.SupportingLinks {
			if len(l) > maxOBAText || !isURL(l) {
				return r, graph.ErrInvalidParameter.With("supporting_links must be http or https URLs")
			}
		}
	}
	return r, nil
}

// requestOBA answers POST /{phone-number-id}/official_business_account
// with {"success":true}: the request waits for an operator's decision.
// A request while one is pending, on an approved number, or within 30
// days of a rejection is 100.
func (g *graphAPI) requestOBA(c *fiber.Ctx) error {
	t, err := g.ownPhone(c)
	if err != nil {
		return err
	}
	req, err := parseOBARequest(edgeBody(c))
	if err != nil {
		return err
	}
	_, err = proposeValue(c, g.d.Cluster, raftfsm.CmdRequestOBA, raftfsm.RequestOBA{PhoneNumberID: t.PhoneNumberID,
		BusinessID: t.BusinessID, Request: req, At: g.d.Now().UnixMilli()})
	switch {
	case errors.Is(err, raftfsm.ErrConflict):
		return graph.ErrInvalidParameter.With("official_business_account: " + strings.TrimPrefix(err.Error(), raftfsm.ErrConflict.Error()+": "))
	case errors.Is(err, raftfsm.ErrRateLimited):
		return graph.ErrInvalidParameter.With("official_business_account: the last request was rejected; a new one can be submitted 30 days after the rejection")
	case err != nil:
		return err
	}
	return c.JSON(fiber.Map{"success": true})
}

// obaView adds the Official Business Account fields asked for to a phone
// number's view.
func obaView(st raftfsm.OBAState, names []string, view fiber.Map) {
	for _, n := range names {
		switch n {
		case "official_business_account":
			view[n] = fiber.Map{"oba_status": st.Status}
		case "is_official_business_account":
			view[n] = st.Status == raftfsm.OBAApproved
		}
	}
}

// decideOBA answers POST /admin/v1/phones/:id/oba
// {"decision":"APPROVED"|"REJECTED","reason":"…"}: the decision on the
// number's pending Official Business Account request, reported by the
// account_alerts webhook (OBA_APPROVED, informational; OBA_REJECTED,
// critical, with the reason as its description when given). No request
// pending: 100; an unknown number: not found.
func (a *adminAPI) decideOBA(c *fiber.Ctx) error {
	req, p, err := a.reviewDecision(c)
	if err != nil {
		return err
	}
	if a.d.Cluster.FSM().OBA(p.ID).Status != raftfsm.OBAPending {
		return graph.ErrParameterValue.With("the phone number has no Official Business Account request pending")
	}
	now := a.d.Now()
	type alertInfo struct {
		Severity    string `json:"alert_severity"`
		Status      string `json:"alert_status"`
		Type        string `json:"alert_type"`
		Description string `json:"alert_description"`
	}
	info := alertInfo{Severity: "INFORMATIONAL", Status: "NONE", Type: "OBA_APPROVED", Description: obaApprovedText}
	if req.Decision == raftfsm.OBARejected {
		info = alertInfo{Severity: "CRITICAL", Status: "ACTIVE", Type: "OBA_REJECTED", Description: obaRejectedText}
		if r := strings.TrimSpace(req.Reason); r != "" {
			info.Description = r
		}
	}
	body, err := cloudapi.WABAChange(p.WABAID, now.Unix(), "account_alerts", struct {
		EntityType string    `json:"entity_type"`
		EntityID   string    `json:"entity_id"`
		AlertInfo  alertInfo `json:"alert_info"`
	}{"PHONE_NUMBER", p.ID, info})
	if err != nil {
		return err
	}
	ev, err := a.wabaEvent(c, p.WABAID, body, now)
	if err != nil {
		return err
	}
	_, err = proposeValue(c, a.d.Cluster, raftfsm.CmdDecideOBA, raftfsm.DecideOBA{PhoneNumberID: p.ID,
		Approve: req.Decision == raftfsm.OBAApproved, At: now.UnixMilli(), Event: ev})
	switch {
	case errors.Is(err, raftfsm.ErrNotFound):
		return graph.ErrParameterValue.With("the request was decided meanwhile")
	case err != nil:
		return err
	}
	return c.JSON(fiber.Map{"success": true, "oba_status": req.Decision})
}
