package messages

import (
	"github.com/waedge/waedge/cloudapi"
	"github.com/waedge/waedge/graph"
	"github.com/waedge/waedge/raftfsm"
)

// checkRecipient judges, before anything is sealed or proposed, a send
// the platform would not deliver because of the recipient or the number's
// standing (docs/cloud-api.md §1.4). refuse is answered at once:
//   - the business blocked the recipient (block_users): 131026.
//
// fail is accepted (200 with a wamid) and reported failed by status
// webhook, as Meta reports these codes (failedCommand):
//   - a business-initiated send (a template outside the 24-hour window)
//     while the number's quality rating is RED: 131048, the spam rate
//     limit Meta applies to numbers whose messages were blocked or
//     reported too often;
//   - a marketing template to a user who stopped marketing messages
//     (user_preferences): 131050.
//
// Each is judged on this replica's state (st, read once per send), as the
// 24-hour window is: a block committed a moment ago through another node
// is seen once this replica has applied it.
func checkRecipient(phone raftfsm.Phone, st raftfsm.RecipientState, typ, category string) (refuse error, fail *graph.Error) {
	if st.Blocked {
		return cloudapi.ErrRecipientBlocked, nil
	}
	if typ != "template" {
		return nil, nil
	}
	if raftfsm.QualityOf(phone) == raftfsm.QualityRed && !st.WindowOpen {
		return nil, cloudapi.ErrSpamRateLimit
	}
	if category == raftfsm.CategoryMarketing && st.MarketingStopped {
		return nil, cloudapi.ErrMarketingOptedOut
	}
	return nil, nil
}

// recipientParts is what checkRecipient and the closed-window decision
// read of the recipient's state for a send of type typ (the request's
// type) and stored type stored (a template's category category): the
// block list always; the marketing preference for a marketing template;
// the 24-hour window for a template to a RED number and for every
// message that is not a template (RequireWindow). Each part costs a
// B+tree lookup on every request.
func recipientParts(phone raftfsm.Phone, typ, stored, category string) raftfsm.RecipientPart {
	parts := raftfsm.RecipientBlocked
	if stored != "template" {
		parts |= raftfsm.RecipientWindow
	}
	if typ == "template" {
		if raftfsm.QualityOf(phone) == raftfsm.QualityRed {
			parts |= raftfsm.RecipientWindow
		}
		if category == raftfsm.CategoryMarketing {
			parts |= raftfsm.RecipientMarketingStopped
		}
	}
	return parts
}
