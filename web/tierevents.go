package web

import (
	"github.com/gofiber/fiber/v2"

	"github.com/waedge/waedge/cloudapi"
	"github.com/waedge/waedge/raftfsm"
)

// tierRank orders messaging-limit tiers (unlimited highest).
func tierRank(tier string) int64 {
	limit, _ := raftfsm.TierLimit(tier)
	if limit == 0 {
		return 1 << 62
	}
	return limit
}

// tierEvents builds the webhooks of moving p's messaging-limit tier to
// tier ("": the default): business_capability_update with the new limit
// (https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/business_capability_update/)
// and phone_number_quality_update UPGRADE or DOWNGRADE with the old and
// new limit (docs/cloud-api.md §6.7). None when the tier does not change.
func (a *adminAPI) tierEvents(c *fiber.Ctx, p raftfsm.Phone, tier string) ([]*raftfsm.OutboxEvent, error) {
	if tier == "" {
		tier = raftfsm.DefaultTier
	}
	prev := raftfsm.TierOf(p)
	if prev == tier {
		return nil, nil
	}
	now := a.d.Now()
	perPhone, _ := raftfsm.TierLimit(tier)
	if perPhone == 0 {
		perPhone = -1 // Meta's "unlimited"
	}
	capability, err := cloudapi.WABAChange(p.WABAID, now.Unix(), "business_capability_update", struct {
		MaxDailyConversationPerPhone     int64  `json:"max_daily_conversation_per_phone"`
		MaxDailyConversationsPerBusiness string `json:"max_daily_conversations_per_business"`
	}{perPhone, tier})
	if err != nil {
		return nil, err
	}
	event := "UPGRADE"
	if tierRank(tier) < tierRank(prev) {
		event = "DOWNGRADE"
	}
	quality, err := cloudapi.MarshalASCII(cloudapi.QualityNotification(p.WABAID, now.Unix(), cloudapi.QualityUpdate{
		DisplayPhoneNumber: cloudapi.NormalizePhone(p.DisplayPhoneNumber), Event: event, OldLimit: prev, CurrentLimit: tier}))
	if err != nil {
		return nil, err
	}
	var out []*raftfsm.OutboxEvent
	for _, body := range [][]byte{capability, quality} {
		ev, err := a.wabaEvent(c, p.WABAID, body, now)
		if err != nil {
			return nil, err
		}
		out = append(out, ev)
	}
	return out, nil
}
