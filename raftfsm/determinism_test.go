package raftfsm

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// step is one command of the determinism script with the outcome it must
// have (nil: applied; otherwise the domain error it is refused with).
type step struct {
	name string
	typ  CommandType
	body any
	want error
}

// detKey is a 16-byte record key whose time half is at (unix ms) and whose
// low half is n: keys sort by time, as the proposers make them.
func detKey(at int64, n uint64) []byte {
	var k [16]byte
	binary.BigEndian.PutUint64(k[:8], uint64(at)*uint64(time.Millisecond))
	binary.BigEndian.PutUint64(k[8:], n)
	return k[:]
}

// withHello adds a hello_world template (id 7000+) to a tenant payload.
func withHello(p CreateTenant, wabaID, businessID string) CreateTenant {
	p.HelloWorld = &Template{ID: "7" + wabaID, WABAID: wabaID, BusinessID: businessID, Name: "hello_world", Language: "en_US",
		Category: "UTILITY", Components: []byte(`[{"type":"BODY","text":"Welcome"}]`), CreatedAt: p.CreatedAt}
	return p
}

// determinismScript exercises every command type the FSM registers, with
// successful and refused commands, in an order where each one has
// something to act on. Timestamps are fixed: everything Apply writes must
// come from here.
func determinismScript(t testing.TB) []step {
	const t0 = int64(1_767_225_600_000) // 2026-01-01
	ev := func(n uint64, at int64) *OutboxEvent {
		return &OutboxEvent{Key: detKey(at, n), Body: []byte(fmt.Sprint("sealed event ", n)), CreatedAt: at, PhoneNumberID: "3001"}
	}
	inKey, outKey, out2Key, out3Key := detKey(t0+10, 1), detKey(t0+20, 2), detKey(t0+30, 3), detKey(t0+40, 4)
	in2Key, in3Key := detKey(t0+50, 5), detKey(t0+52, 6)
	pin := sha256.Sum256([]byte("3001:123456"))
	tpl := Template{ID: "77", WABAID: "2001", BusinessID: "1001", Name: "bill", Language: "en", Category: "UTILITY",
		Components: []byte(`[{"type":"BODY","text":"Hi {{1}}"}]`), BodyParams: 1, CreatedAt: t0 + 5}
	tpl2 := tpl
	tpl2.ID, tpl2.Name, tpl2.Category = "78", "promo", "MARKETING"
	tpl2.Components = []byte(`[{"type":"BODY","text":"Hi {{1}}"},{"type":"BUTTONS","buttons":[{"type":"QUICK_REPLY","text":"Yes"}]}]`)
	tpl3 := tpl
	tpl3.ID, tpl3.Name = "79", "manual_one"
	audit := make([]byte, AuditKeyLen)
	binary.BigEndian.PutUint64(audit, uint64(t0+60)*uint64(time.Millisecond))
	audit[15] = 7
	return []step{
		{name: "noop", typ: CmdNoop},
		{name: "tenant 1", typ: CmdCreateTenant, body: tenantPayload(1, "+15551234567")},
		{name: "tenant 2", typ: CmdCreateTenant, body: tenantPayload(2, "+15552222222")},
		{name: "tenant: number taken", typ: CmdCreateTenant, body: tenantPayload(3, "+15551234567"), want: ErrConflict},
		{name: "tenant with hello_world", typ: CmdCreateTenant, body: withHello(tenantPayload(4, "+15554444444"), "2004", "1004")},
		{name: "tenant: hello_world of another WABA", typ: CmdCreateTenant, body: withHello(tenantPayload(5, "+15555555555"), "2001", "1005"), want: ErrInvalid},
		{name: "token", typ: CmdCreateToken, body: CreateToken{TokenID: "t2", BusinessID: "1001", Hash: sha256.Sum256([]byte("t2")), Kind: TokenBusinessAdmin, CreatedAt: t0}},
		{name: "revoke token", typ: CmdRevokeToken, body: RevokeToken{TokenID: "t2"}},
		{name: "cluster value", typ: CmdPutClusterValue, body: PutClusterValue{Key: "ca", Value: []byte("pem")}},
		{name: "join token", typ: CmdCreateJoinToken, body: CreateJoinToken{TokenID: "j1", SecretHash: joinSecret, ExpiresAt: t0 + 1000, CreatedAt: t0}},
		{name: "consume join token", typ: CmdConsumeJoinToken, body: ConsumeJoinToken{TokenID: "j1", SecretHash: joinSecret, NodeID: "n2", Now: t0 + 1}},
		{name: "remove member", typ: CmdRemoveMember, body: RemoveMember{NodeID: "n2", At: t0 + 2}},
		{name: "data key", typ: CmdPutDataKey, body: PutDataKey{Day: 20454, Wrapped: []byte("wrapped key")}},
		{name: "subscription", typ: CmdSetSubscription, body: SetSubscription{WABAID: "2001", BusinessID: "1001", AppID: "4001", CallbackURL: "https://example.com/hook", At: t0}},
		{name: "template (legacy create)", typ: CmdCreateTemplate, body: CreateTemplate{Template: tpl}},
		{name: "template approved", typ: CmdSetTemplateStatus, body: SetTemplateStatus{ID: "77", Status: "APPROVED", At: t0 + 6, Event: &OutboxEvent{Key: detKey(t0+6, 90), Body: []byte("approved"), CreatedAt: t0 + 6}}},
		{name: "template submitted", typ: CmdSubmitTemplate, body: SubmitTemplate{Template: tpl2, Approved: &OutboxEvent{Key: detKey(t0+7, 91), Body: []byte("ok"), CreatedAt: t0 + 7}}},
		{name: "review manual", typ: CmdSetTemplateReview, body: SetTemplateReview{WABAID: "2001", Policy: ReviewManual}},
		{name: "template pending", typ: CmdSubmitTemplate, body: SubmitTemplate{Template: tpl3}},
		{name: "edit: category of an approved template", typ: CmdEditTemplate, body: EditTemplate{ID: "78", BusinessID: "1001", Category: "UTILITY",
			Components: []byte(`[{"type":"BODY","text":"New"}]`), At: t0 + 8}, want: ErrInvalid},
		{name: "edit approved template", typ: CmdEditTemplate, body: EditTemplate{ID: "78", BusinessID: "1001", Category: "MARKETING",
			Components: []byte(`[{"type":"BODY","text":"New {{1}}"}]`), BodyParams: 1, TTLSeconds: 86400, At: t0 + 8,
			Approved: &OutboxEvent{Key: detKey(t0+8, 92), Body: []byte("ok"), CreatedAt: t0 + 8}}},
		{name: "edit: pending template", typ: CmdEditTemplate, body: EditTemplate{ID: "78", BusinessID: "1001", Category: "MARKETING", At: t0 + 9}, want: ErrInvalid},
		{name: "edit: other business", typ: CmdEditTemplate, body: EditTemplate{ID: "77", BusinessID: "1002", Category: "UTILITY", At: t0 + 9}, want: ErrNotFound},
		{name: "template deleted", typ: CmdDeleteTemplates, body: DeleteTemplates{WABAID: "2001", BusinessID: "1001", Name: "manual_one"}},
		{name: "register", typ: CmdRegisterPhone, body: RegisterPhone{PhoneNumberID: "3001", BusinessID: "1001", Register: true, PINHash: pin[:], At: t0 + 8}},
		{name: "pin", typ: CmdSetPIN, body: SetPIN{PhoneNumberID: "3001", BusinessID: "1001", PINHash: pin[:]}},
		{name: "pin with security event", typ: CmdSetPIN, body: SetPIN{PhoneNumberID: "3001", BusinessID: "1001", PINHash: pin[:],
			Event: &OutboxEvent{Key: detKey(t0+8, 95), Body: []byte("security"), CreatedAt: t0 + 8}}},
		{name: "profile", typ: CmdUpdateProfile, body: UpdateProfile{PhoneNumberID: "3001", BusinessID: "1001", About: ptr("open 9-5"), Websites: &[]string{"https://example.com"}}},
		{name: "phone setting", typ: CmdPutPhoneSetting, body: PutPhoneSetting{PhoneNumberID: "3001", BusinessID: "1001", Name: "qr/ABC", Value: []byte(`{"code":"ABC"}`)}},
		{name: "phone setting: other business", typ: CmdPutPhoneSetting, body: PutPhoneSetting{PhoneNumberID: "3001", BusinessID: "1002", Name: "x", Value: []byte("1")}, want: ErrNotFound},
		{name: "phone setting deleted", typ: CmdPutPhoneSetting, body: PutPhoneSetting{PhoneNumberID: "3001", BusinessID: "1001", Name: "qr/ABC", Delete: true}},
		{name: "phone setting: delete absent", typ: CmdPutPhoneSetting, body: PutPhoneSetting{PhoneNumberID: "3001", BusinessID: "1001", Name: "qr/ABC", Delete: true}, want: ErrNotFound},
		{name: "phone setting kept", typ: CmdPutPhoneSetting, body: PutPhoneSetting{PhoneNumberID: "3001", BusinessID: "1001", Name: "commerce", Value: []byte(`{"is_cart_enabled":true}`),
			Event: &OutboxEvent{Key: detKey(t0+8, 93), Body: []byte("account_update"), CreatedAt: t0 + 8}}},
		{name: "display name", typ: CmdUpdateProfile, body: UpdateProfile{PhoneNumberID: "3001", BusinessID: "1001", VerifiedName: ptr("Lucky Shrub"), At: t0 + 8,
			Event: &OutboxEvent{Key: detKey(t0+8, 94), Body: []byte("name update"), CreatedAt: t0 + 8}}},
		{name: "profile picture", typ: CmdSetProfilePicture, body: SetProfilePicture{PhoneNumberID: "3001", BusinessID: "1001", MIME: "image/jpeg", Image: []byte("\xff\xd8jpeg"), At: t0 + 8}},
		{name: "profile picture: other business", typ: CmdSetProfilePicture, body: SetProfilePicture{PhoneNumberID: "3001", BusinessID: "1002", MIME: "image/jpeg", Image: []byte("x"), At: t0 + 8}, want: ErrNotFound},
		{name: "profile picture: too large", typ: CmdSetProfilePicture, body: SetProfilePicture{PhoneNumberID: "3001", BusinessID: "1001", MIME: "image/jpeg", Image: make([]byte, MaxProfilePicture+1), At: t0 + 8}, want: ErrInvalid},
		{name: "profile picture replaced", typ: CmdSetProfilePicture, body: SetProfilePicture{PhoneNumberID: "3001", BusinessID: "1001", MIME: "image/jpeg", Image: []byte("\xff\xd8second"), At: t0 + 9}},
		{name: "display name: empty", typ: CmdUpdateProfile, body: UpdateProfile{PhoneNumberID: "3001", BusinessID: "1001", VerifiedName: ptr(""), At: t0 + 8}, want: ErrInvalid},
		{name: "limits", typ: CmdSetPhoneLimits, body: SetPhoneLimits{PhoneNumberID: "3001", ThroughputMPS: 40, PairPerMinute: 20}},
		{name: "tier", typ: CmdSetMessagingTier, body: SetMessagingTier{PhoneNumberID: "3001", Tier: Tier250}},
		{name: "retention", typ: CmdSetRetention, body: SetRetention{PhoneNumberID: "3001", Hours: 48}},
		{name: "send: window closed", typ: CmdAcceptMessage, body: AcceptMessage{Key: outKey, IDRef: MessageIDRef("w-out"), PhoneNumberID: "3001",
			BusinessID: "1001", PeerRef: "ref1", Type: "text", Content: []byte("c"), RequireWindow: true, CreatedAt: t0 + 9}, want: ErrWindowClosed},
		{name: "send: window closed, failed by webhook", typ: CmdAcceptMessage, body: AcceptMessage{Key: detKey(t0+9, 95), IDRef: MessageIDRef("w-closed"), PhoneNumberID: "3001",
			BusinessID: "1001", PeerRef: "ref3", Type: "text", Content: []byte("c"), RequireWindow: true, CreatedAt: t0 + 9,
			ClosedWindowEvent: &OutboxEvent{Key: detKey(t0+9, 96), Body: []byte("failed 131047"), CreatedAt: t0 + 9}}},
		{name: "inbound", typ: CmdRecordInbound, body: RecordInbound{Key: inKey, IDRef: MessageIDRef("w-in"), IDSealed: []byte("id"), PhoneNumberID: "3001",
			PeerRef: "ref1", PeerSealed: []byte("peer"), Type: "text", Content: []byte("hello"), ReceivedAt: t0 + 10, NetworkID: "ph.1", Event: ev(10, t0+10)}},
		{name: "inbound again", typ: CmdRecordInbound, body: RecordInbound{Key: inKey, IDRef: MessageIDRef("w-in"), PhoneNumberID: "3001",
			PeerRef: "ref1", Type: "text", ReceivedAt: t0 + 10}, want: ErrConflict},
		{name: "mark read", typ: CmdMarkRead, body: MarkRead{PhoneNumberID: "3001", IDRef: MessageIDRef("w-in"), At: t0 + 11, Typing: true}},
		{name: "send text", typ: CmdAcceptMessage, body: AcceptMessage{Key: outKey, IDRef: MessageIDRef("w-out"), IDSealed: []byte("id"), PhoneNumberID: "3001",
			BusinessID: "1001", PeerRef: "ref1", PeerSealed: []byte("p"), Type: "text", Content: []byte("c"), RequireWindow: true, CreatedAt: t0 + 20}},
		{name: "template insights confirmed", typ: CmdEnableTemplateInsights, body: EnableTemplateInsights{WABAID: "2001", BusinessID: "1001", At: t0 + 29}},
		{name: "send template", typ: CmdAcceptMessage, body: AcceptMessage{Key: out2Key, IDRef: MessageIDRef("w-out2"), PhoneNumberID: "3001",
			BusinessID: "1001", PeerRef: "ref2", Type: "template", Content: []byte("c"), CreatedAt: t0 + 30, TemplateName: "promo", TemplateLanguage: "en"}},
		{name: "send another (binary)", typ: CmdAcceptMessageV2, body: AcceptMessage{Key: out3Key, IDRef: MessageIDRef("w-out3"), PhoneNumberID: "3001",
			BusinessID: "1001", PeerRef: "ref1", Type: "text", Content: []byte("c"), RequireWindow: true, CreatedAt: t0 + 40}},
		{name: "signal: identity", typ: CmdSignalCommit, body: SignalCommit{PhoneNumberID: "3001",
			Expect: []SignalExpect{{Key: "signal_meta\x00identity"}}, Writes: []SignalWrite{{Key: "signal_meta\x00identity", Value: []byte("id key")}}}},
		{name: "signal: encrypt", typ: CmdSignalCommit, body: SignalCommit{PhoneNumberID: "3001",
			Expect:   []SignalExpect{{Key: "sessions\x00ref1:1"}},
			Writes:   []SignalWrite{{Key: "sessions\x00ref1:1", Value: []byte("session v1")}},
			Outbound: []OutboundEnvelope{{MessageKey: outKey, Sealed: []byte("envelope")}}}},
		{name: "signal: stale", typ: CmdSignalCommit, body: SignalCommit{PhoneNumberID: "3001",
			Expect: []SignalExpect{{Key: "sessions\x00ref1:1"}}, Writes: []SignalWrite{{Key: "sessions\x00ref1:1", Value: []byte("stale")}}}, want: ErrVersion},
		{name: "signal: failed", typ: CmdSignalCommit, body: SignalCommit{PhoneNumberID: "3001",
			Failed: []StatusUpdate{{IDRef: MessageIDRef("w-out3"), Status: StatusFailed, At: t0 + 41, Event: ev(41, t0+41)}}}},
		{name: "status sent", typ: CmdMessageStatuses, body: MessageStatuses{PhoneNumberID: "3001",
			Updates: []StatusUpdate{{IDRef: MessageIDRef("w-out"), Status: StatusSent, At: t0 + 21, Event: ev(21, t0+21)}}, SentKeys: [][]byte{outKey}}},
		{name: "status delivered (binary)", typ: CmdMessageStatusesV2, body: MessageStatuses{PhoneNumberID: "3001",
			Updates: []StatusUpdate{{IDRef: MessageIDRef("w-out"), Status: StatusDelivered, At: t0 + 22, Event: ev(22, t0+22)}}}},
		{name: "read receipt sent", typ: CmdMessageStatuses, body: MessageStatuses{PhoneNumberID: "3001", ReadsDone: [][]byte{inKey}}},
		{name: "signal: decrypt", typ: CmdSignalCommit, body: SignalCommit{PhoneNumberID: "3001",
			Expect: []SignalExpect{{Key: "sessions\x00ref1:1", Version: 1}}, Writes: []SignalWrite{{Key: "sessions\x00ref1:1", Value: []byte("session v2")}},
			Inbound: &RecordInbound{Key: in2Key, IDRef: MessageIDRef("w-in2"), PhoneNumberID: "3001", PeerRef: "ref1", Type: "text",
				Content: []byte("again"), ReceivedAt: t0 + 50, NetworkID: "ph.2", Event: ev(50, t0+50)},
			InboundHash: []byte("0123456789abcdef")}},
		{name: "status read", typ: CmdMessageStatuses, body: MessageStatuses{PhoneNumberID: "3001",
			Updates: []StatusUpdate{{IDRef: MessageIDRef("w-out"), Status: StatusRead, At: t0 + 51}}}},
		{name: "status of a template message: delivered (counts sent and delivered)", typ: CmdMessageStatuses, body: MessageStatuses{PhoneNumberID: "3001",
			Updates: []StatusUpdate{{IDRef: MessageIDRef("w-out2"), Status: StatusDelivered, At: t0 + 53, Event: ev(53, t0+53)}}}},
		{name: "status of a template message: read (binary)", typ: CmdMessageStatusesV2, body: MessageStatuses{PhoneNumberID: "3001",
			Updates: []StatusUpdate{{IDRef: MessageIDRef("w-out2"), Status: StatusRead, At: t0 + 54}}}},
		{name: "signal round", typ: CmdSignalRound, body: SignalRound{
			Commits: []SignalCommit{
				{PhoneNumberID: "3001", Expect: []SignalExpect{{Key: "sessions\x00ref2:1"}}, Writes: []SignalWrite{{Key: "sessions\x00ref2:1", Value: []byte("session r2")}},
					Outbound: []OutboundEnvelope{{MessageKey: out2Key, Sealed: []byte("envelope 2")}}},
				{PhoneNumberID: "3001", Expect: []SignalExpect{{Key: "sessions\x00ref1:1"}}, Writes: []SignalWrite{{Key: "sessions\x00ref1:1", Value: []byte("stale")}}},
			},
			Statuses: []MessageStatuses{{PhoneNumberID: "3001", SentKeys: [][]byte{out2Key},
				Updates: []StatusUpdate{{IDRef: MessageIDRef("w-out2"), Status: StatusSent, At: t0 + 51, Event: ev(51, t0+51)}}}}}},
		{name: "signal round (binary)", typ: CmdSignalRoundV2, body: SignalRound{
			Commits: []SignalCommit{{PhoneNumberID: "3001",
				Expect: []SignalExpect{{Key: "sessions\x00ref2:1", Version: 1}}, Writes: []SignalWrite{{Key: "sessions\x00ref2:1", Value: []byte("session r3")}},
				Inbound: &RecordInbound{Key: in3Key, IDRef: MessageIDRef("w-in3"), PhoneNumberID: "3001", PeerRef: "ref2", Type: "text",
					Content: []byte("in a round"), ReceivedAt: t0 + 52, NetworkID: "ph.3", Event: ev(52, t0+52)},
				InboundHash: []byte("fedcba9876543210")}},
			Statuses: []MessageStatuses{{PhoneNumberID: "3001",
				Updates: []StatusUpdate{{IDRef: MessageIDRef("w-out2"), Status: StatusDelivered, At: t0 + 52, Event: ev(53, t0+52)}}}}}},
		{name: "template click", typ: CmdTemplateClick, body: TemplateClick{PhoneNumberID: "3001", IDRef: MessageIDRef("w-in3"),
			ContextIDRef: MessageIDRef("w-out2"), Button: "Yes"}},
		{name: "template click again (counted once)", typ: CmdTemplateClick, body: TemplateClick{PhoneNumberID: "3001", IDRef: MessageIDRef("w-in3"),
			ContextIDRef: MessageIDRef("w-out2"), Button: "Yes"}},
		{name: "template click: not a button of the template", typ: CmdTemplateClick, body: TemplateClick{PhoneNumberID: "3001", IDRef: MessageIDRef("w-in2"),
			ContextIDRef: MessageIDRef("w-out2"), Button: "anything a consumer types"}},
		{name: "template click: unknown tap", typ: CmdTemplateClick, body: TemplateClick{PhoneNumberID: "3001", IDRef: MessageIDRef("w-nope"),
			ContextIDRef: MessageIDRef("w-out2"), Button: "Yes"}, want: ErrNotFound},
		{name: "OBA request", typ: CmdRequestOBA, body: RequestOBA{PhoneNumberID: "3001", BusinessID: "1001", At: t0 + 52,
			Request: OBARequest{BusinessWebsiteURL: "https://shrub.example", PrimaryCountryOfOperation: "US", PrimaryLanguage: "en_US"}}},
		{name: "OBA request: pending", typ: CmdRequestOBA, body: RequestOBA{PhoneNumberID: "3001", BusinessID: "1001", At: t0 + 53}, want: ErrConflict},
		{name: "OBA request: other business", typ: CmdRequestOBA, body: RequestOBA{PhoneNumberID: "3001", BusinessID: "1002", At: t0 + 53}, want: ErrNotFound},
		{name: "OBA rejected", typ: CmdDecideOBA, body: DecideOBA{PhoneNumberID: "3001", At: t0 + 54, Event: ev(154, t0+54)}},
		{name: "OBA decided: none pending", typ: CmdDecideOBA, body: DecideOBA{PhoneNumberID: "3001", Approve: true, At: t0 + 55}, want: ErrNotFound},
		{name: "OBA request: too soon after rejection", typ: CmdRequestOBA, body: RequestOBA{PhoneNumberID: "3001", BusinessID: "1001", At: t0 + 56}, want: ErrRateLimited},
		{name: "OBA request again after 30 days", typ: CmdRequestOBA, body: RequestOBA{PhoneNumberID: "3001", BusinessID: "1001", At: t0 + 54 + OBAResubmitMillis}},
		{name: "OBA approved", typ: CmdDecideOBA, body: DecideOBA{PhoneNumberID: "3001", Approve: true, At: t0 + 55 + OBAResubmitMillis, Event: ev(155, t0+55)}},
		{name: "webhook failed", typ: CmdWebhookAttempt, body: WebhookAttempt{Key: detKey(t0+10, 10), Status: "503", At: t0 + 52, NextAt: t0 + 1052}},
		{name: "webhook delivered", typ: CmdWebhookAttempt, body: WebhookAttempt{Key: detKey(t0+10, 10), Delivered: true, Status: "200", At: t0 + 1060}},
		{name: "webhook dropped", typ: CmdWebhookAttempt, body: WebhookAttempt{Key: detKey(t0+21, 21), GiveUp: true, Status: "unreadable", At: t0 + 1061}},
		{name: "app webhook", typ: CmdSetAppWebhook, body: SetAppWebhook{AppID: "4001", BusinessID: "1001", CallbackURL: "https://example.com/app", Fields: []string{"messages"}, At: t0 + 1062}},
		{name: "phone webhook", typ: CmdSetPhoneWebhook, body: SetPhoneWebhook{PhoneNumberID: "3001", BusinessID: "1001", CallbackURL: "https://example.com/phone", At: t0 + 1062}},
		{name: "phone webhook, other business", typ: CmdSetPhoneWebhook, body: SetPhoneWebhook{PhoneNumberID: "3001", BusinessID: "1002", CallbackURL: "https://x"}, want: ErrNotFound},
		{name: "user stops marketing", typ: CmdSetUserPreference, body: SetUserPreference{PhoneNumberID: "3001", PeerRef: "ref1", Stop: true, At: t0 + 1062,
			Event: &OutboxEvent{Key: detKey(t0+1062, 130), Body: []byte("user_preferences stop"), CreatedAt: t0 + 1062}}},
		{name: "user resumes marketing", typ: CmdSetUserPreference, body: SetUserPreference{PhoneNumberID: "3001", PeerRef: "ref2", Stop: false, At: t0 + 1062}},
		{name: "user preference: no consumer", typ: CmdSetUserPreference, body: SetUserPreference{PhoneNumberID: "3001", At: t0 + 1062}, want: ErrInvalid},
		{name: "user preference: unknown number", typ: CmdSetUserPreference, body: SetUserPreference{PhoneNumberID: "9999", PeerRef: "ref1", Stop: true, At: t0 + 1062}, want: ErrNotFound},
		{name: "display name requested (manual review)", typ: CmdRequestDisplayName, body: RequestDisplayName{PhoneNumberID: "3001", BusinessID: "1001", Name: "Lucky Shrub Two", At: t0 + 1063,
			Events: NameEvents{Approved: &OutboxEvent{Key: detKey(t0+1063, 131), Body: []byte("name approved"), CreatedAt: t0 + 1063}}}},
		{name: "display name request: other business", typ: CmdRequestDisplayName, body: RequestDisplayName{PhoneNumberID: "3001", BusinessID: "1002", Name: "X", At: t0 + 1063}, want: ErrNotFound},
		{name: "display name decision: stale name", typ: CmdDecideDisplayName, body: DecideDisplayName{PhoneNumberID: "3001", Name: "Other", Approve: true, At: t0 + 1064}, want: ErrConflict},
		{name: "display name approved", typ: CmdDecideDisplayName, body: DecideDisplayName{PhoneNumberID: "3001", Name: "Lucky Shrub Two", Approve: true, At: t0 + 1064,
			Event: &OutboxEvent{Key: detKey(t0+1064, 132), Body: []byte("name approved"), CreatedAt: t0 + 1064}}},
		{name: "display name decision: nothing pending", typ: CmdDecideDisplayName, body: DecideDisplayName{PhoneNumberID: "3001", Name: "Lucky Shrub Two", At: t0 + 1064}, want: ErrNotFound},
		{name: "template quality yellow", typ: CmdSetTemplateQuality, body: SetTemplateQuality{ID: "77", Previous: TemplateQualityUnknown, Score: TemplateQualityYellow, At: t0 + 1065,
			Event: &OutboxEvent{Key: detKey(t0+1065, 133), Body: []byte("quality"), CreatedAt: t0 + 1065}}},
		{name: "template quality: stale previous", typ: CmdSetTemplateQuality, body: SetTemplateQuality{ID: "77", Previous: TemplateQualityUnknown, Score: TemplateQualityRed, At: t0 + 1065}, want: ErrConflict},
		{name: "template quality: bad score", typ: CmdSetTemplateQuality, body: SetTemplateQuality{ID: "77", Previous: TemplateQualityYellow, Score: "BLUE", At: t0 + 1065}, want: ErrInvalid},
		{name: "template category marketing", typ: CmdSetTemplateCategory, body: SetTemplateCategory{ID: "77", Previous: "UTILITY", Category: "MARKETING", At: t0 + 1066,
			Event: &OutboxEvent{Key: detKey(t0+1066, 134), Body: []byte("category"), CreatedAt: t0 + 1066}}},
		{name: "template category: stale previous", typ: CmdSetTemplateCategory, body: SetTemplateCategory{ID: "77", Previous: "UTILITY", Category: "AUTHENTICATION", At: t0 + 1066}, want: ErrConflict},
		{name: "tier up with webhooks", typ: CmdChangeMessagingTier, body: ChangeMessagingTier{PhoneNumberID: "3001", Previous: Tier250, Tier: Tier10K,
			Events: []*OutboxEvent{{Key: detKey(t0+1067, 135), Body: []byte("capability"), CreatedAt: t0 + 1067}, {Key: detKey(t0+1067, 136), Body: []byte("quality"), CreatedAt: t0 + 1067}}}},
		{name: "tier: stale previous", typ: CmdChangeMessagingTier, body: ChangeMessagingTier{PhoneNumberID: "3001", Previous: Tier250, Tier: Tier1K}, want: ErrConflict},
		{name: "tier: bad", typ: CmdChangeMessagingTier, body: ChangeMessagingTier{PhoneNumberID: "3001", Previous: Tier10K, Tier: "TIER_2"}, want: ErrInvalid},
		{name: "tier: unchanged queues nothing", typ: CmdChangeMessagingTier, body: ChangeMessagingTier{PhoneNumberID: "3001", Previous: Tier10K, Tier: Tier10K,
			Events: []*OutboxEvent{{Key: detKey(t0+1068, 137), Body: []byte("capability"), CreatedAt: t0 + 1068}}}},
		{name: "template insights confirmed again (first time kept)", typ: CmdEnableTemplateInsights, body: EnableTemplateInsights{WABAID: "2001", BusinessID: "1001", At: t0 + 1075}},
		{name: "template insights: other business", typ: CmdEnableTemplateInsights, body: EnableTemplateInsights{WABAID: "2001", BusinessID: "1002", At: t0 + 1074}, want: ErrNotFound},
		{name: "send failed at once (131050)", typ: CmdAcceptFailedMessage, body: AcceptFailedMessage{Message: AcceptMessage{Key: detKey(t0+1075, 150),
			IDRef: MessageIDRef("w-fail"), PhoneNumberID: "3001", BusinessID: "1001", PeerRef: "ref1", Type: "template", Content: []byte("c"),
			CreatedAt: t0 + 1075, TemplateName: "promo", TemplateLanguage: "en"}, Event: &OutboxEvent{Key: detKey(t0+1075, 151), Body: []byte("failed 131050"), CreatedAt: t0 + 1075}}},
		{name: "send failed at once: id taken", typ: CmdAcceptFailedMessage, body: AcceptFailedMessage{Message: AcceptMessage{Key: detKey(t0+1075, 150),
			IDRef: MessageIDRef("w-fail"), PhoneNumberID: "3001", BusinessID: "1001", PeerRef: "ref1", Type: "template", CreatedAt: t0 + 1075},
			Event: &OutboxEvent{Key: detKey(t0+1075, 152), Body: []byte("x"), CreatedAt: t0 + 1075}}, want: ErrConflict},
		{name: "send failed at once: no webhook", typ: CmdAcceptFailedMessage, body: AcceptFailedMessage{Message: AcceptMessage{Key: detKey(t0+1076, 153),
			IDRef: MessageIDRef("w-fail2"), PhoneNumberID: "3001", BusinessID: "1001", PeerRef: "ref1", Type: "template", CreatedAt: t0 + 1076}}, want: ErrInvalid},
		{name: "subscription v2, existing (no install event)", typ: CmdSetSubscriptionV2, body: SetSubscriptionV2{SetSubscription: SetSubscription{WABAID: "2001",
			BusinessID: "1001", AppID: "4001", At: t0 + 1076}, Installed: &OutboxEvent{Key: detKey(t0+1076, 154), Body: []byte("installed"), CreatedAt: t0 + 1076}}},
		{name: "subscription v2, new (PARTNER_APP_INSTALLED)", typ: CmdSetSubscriptionV2, body: SetSubscriptionV2{SetSubscription: SetSubscription{WABAID: "2002",
			BusinessID: "1002", AppID: "4002", At: t0 + 1076}, Installed: &OutboxEvent{Key: detKey(t0+1076, 155), Body: []byte("installed"), CreatedAt: t0 + 1076}}},
		{name: "subscription v2: other business", typ: CmdSetSubscriptionV2, body: SetSubscriptionV2{SetSubscription: SetSubscription{WABAID: "2002",
			BusinessID: "1001", AppID: "4001", At: t0 + 1076}}, want: ErrNotFound},
		{name: "template category: unknown template", typ: CmdSetTemplateCategory, body: SetTemplateCategory{ID: "nope", Previous: "UTILITY", Category: "MARKETING", At: t0 + 1066}, want: ErrNotFound},
		{name: "webhook round", typ: CmdWebhookAttempts, body: WebhookAttempts{Attempts: []WebhookAttempt{
			{Key: detKey(t0+22, 22), Status: "503", At: t0 + 1062, NextAt: t0 + 2062},
			{Key: detKey(t0+41, 41), Delivered: true, Status: "200", At: t0 + 1063},
			{Key: detKey(t0+1, 1), Delivered: true, Status: "200", At: t0 + 1063}}}},
		{name: "webhook retry now, one event", typ: CmdWebhookRetryNow, body: WebhookRetryNow{BusinessID: "1001", Keys: [][]byte{detKey(t0+22, 22), detKey(t0+10, 10)}, At: t0 + 1070}},
		{name: "webhook retry now, all of a business", typ: CmdWebhookRetryNow, body: WebhookRetryNow{BusinessID: "1001", At: t0 + 1064}},
		{name: "webhook retry now, another business", typ: CmdWebhookRetryNow, body: WebhookRetryNow{BusinessID: "1002", At: t0 + 1065}},
		{name: "webhook retry now without a business", typ: CmdWebhookRetryNow, body: WebhookRetryNow{At: t0 + 1065}, want: ErrInvalid},
		{name: "webhook round v2 (keeps the body)", typ: CmdWebhookAttemptsV2, body: WebhookAttempts{Attempts: []WebhookAttempt{
			{Key: detKey(t0+22, 22), Delivered: true, Status: "200", At: t0 + 1071}}}},
		{name: "webhook redeliver", typ: CmdWebhookRedeliver, body: WebhookRedeliver{BusinessID: "1001", Keys: [][]byte{detKey(t0+22, 22)},
			NewKeys: [][]byte{detKey(t0+1072, 140)}, At: t0 + 1072}},
		{name: "webhook redeliver, logged without a body", typ: CmdWebhookRedeliver, body: WebhookRedeliver{BusinessID: "1001",
			Keys: [][]byte{detKey(t0+22, 22), detKey(t0+41, 41)}, NewKeys: [][]byte{detKey(t0+1073, 141), detKey(t0+1073, 142)}, At: t0 + 1073}, want: ErrInvalid},
		{name: "webhook redeliver, another business", typ: CmdWebhookRedeliver, body: WebhookRedeliver{BusinessID: "1002", Keys: [][]byte{detKey(t0+22, 22)},
			NewKeys: [][]byte{detKey(t0+1073, 143)}, At: t0 + 1073}, want: ErrNotFound},
		{name: "webhook round v3 (binary)", typ: CmdWebhookAttemptsV3, body: WebhookAttempts{Attempts: []WebhookAttempt{
			{Key: detKey(t0+1072, 140), Status: "503", At: t0 + 1074, NextAt: t0 + 2074},
			{Key: detKey(t0+1062, 130), Delivered: true, Status: "200", At: t0 + 1074},
			{Key: detKey(t0+1063, 131), GiveUp: true, Status: "not_subscribed", At: t0 + 1075},
			{Key: detKey(t0+9, 9999), Delivered: true, Status: "200", At: t0 + 1075},
			{Key: detKey(t0+1072, 140), Delivered: true, Status: "200", At: t0 + 1076}}}},
		{name: "webhook round v3 a week later (prunes the log)", typ: CmdWebhookAttemptsV3, body: WebhookAttempts{Attempts: []WebhookAttempt{
			{Key: detKey(t0+1064, 132), Delivered: true, Status: "200", At: t0 + 1063 + WebhookLogKeep.Milliseconds()}}}},
		{name: "media chunk", typ: CmdPutMediaChunk, body: PutMediaChunk{ID: "555", PhoneNumberID: "3001", BusinessID: "1001", Sealed: []byte("chunk"), CreatedAt: t0 + 60}},
		{name: "media commit", typ: CmdCommitMedia, body: CommitMedia{ID: "555", PhoneNumberID: "3001", BusinessID: "1001", MIME: "image/png",
			SHA256: [32]byte{1}, Size: 5, Chunks: 1, Filename: "a.png", At: t0 + 61}},
		{name: "media chunk 2", typ: CmdPutMediaChunk, body: PutMediaChunk{ID: "556", PhoneNumberID: "3001", BusinessID: "1001", Sealed: []byte("chunk"), CreatedAt: t0 + 62}},
		{name: "media commit 2", typ: CmdCommitMedia, body: CommitMedia{ID: "556", PhoneNumberID: "3001", BusinessID: "1001", MIME: "image/png",
			SHA256: [32]byte{2}, Size: 5, Chunks: 1, At: t0 + 63}},
		{name: "media delete", typ: CmdDeleteMedia, body: DeleteMedia{ID: "555", BusinessID: "1001", PhoneNumberID: "3001", At: t0 + 64}},
		{name: "audit", typ: CmdAudit, body: AppendAudit{Key: audit, Record: AuditRecord{At: t0 + 60, ActorID: "adm", ActorKind: TokenAdmin,
			Action: "tenant.create", Targets: []AuditTarget{{Kind: "business", ID: "1001"}}, Outcome: "ok", Status: 200}}},
		{name: "console invite", typ: CmdConsoleInvite, body: ConsoleInvite{Hash: sha256.Sum256([]byte("link")),
			Link: ConsoleLink{Role: TokenBusinessAdmin, BusinessID: "1001", ExpiresAt: t0 + 3600_000, CreatedBy: "adm"}}},
		{name: "console redeem", typ: CmdConsoleRedeem, body: ConsoleRedeem{LinkHash: sha256.Sum256([]byte("link")), At: t0 + 70,
			User: ConsoleUser{ID: "cu1", Name: "Ana", PasswordHash: "$argon2id$x", CreatedAt: t0 + 70}}},
		{name: "console redeem again", typ: CmdConsoleRedeem, body: ConsoleRedeem{LinkHash: sha256.Sum256([]byte("link")), At: t0 + 71,
			User: ConsoleUser{ID: "cu2", Name: "Bo", PasswordHash: "$argon2id$y", CreatedAt: t0 + 71}}, want: ErrNotFound},
		{name: "console sign-in", typ: CmdConsoleSignIn, body: ConsoleSignIn{Hash: sha256.Sum256([]byte("s1")), At: t0 + 72,
			Session: ConsoleSession{UserID: "cu1", CreatedAt: t0 + 72, ExpiresAt: t0 + 80}}},
		{name: "console sign-in (drops the expired one)", typ: CmdConsoleSignIn, body: ConsoleSignIn{Hash: sha256.Sum256([]byte("s2")), At: t0 + 90,
			Session: ConsoleSession{UserID: "cu1", CreatedAt: t0 + 90, ExpiresAt: t0 + 9000}}},
		{name: "console sign-out", typ: CmdConsoleSignOut, body: ConsoleSignOut{Hash: sha256.Sum256([]byte("s2"))}},
		{name: "console sign-in 3", typ: CmdConsoleSignIn, body: ConsoleSignIn{Hash: sha256.Sum256([]byte("s3")), At: t0 + 91,
			Session: ConsoleSession{UserID: "cu1", CreatedAt: t0 + 91, ExpiresAt: t0 + 9000}}},
		{name: "console attempt 1", typ: CmdConsoleSignInAttempt, body: ConsoleSignInAttempt{UserID: "cu1", At: t0 + 92, Max: 2, Window: 900_000, LockFor: 900_000}},
		{name: "console attempt 2", typ: CmdConsoleSignInAttempt, body: ConsoleSignInAttempt{UserID: "cu1", At: t0 + 93, Max: 2, Window: 900_000, LockFor: 900_000}},
		{name: "console attempt 3 (locks)", typ: CmdConsoleSignInAttempt, body: ConsoleSignInAttempt{UserID: "cu1", At: t0 + 94, Max: 2, Window: 900_000, LockFor: 900_000}},
		{name: "console attempt of an unknown name", typ: CmdConsoleSignInAttempt, body: ConsoleSignInAttempt{At: t0 + 95, Max: 2, Window: 900_000, LockFor: 900_000}},
		{name: "console attempt without a policy", typ: CmdConsoleSignInAttempt, body: ConsoleSignInAttempt{UserID: "cu1", At: t0 + 96}, want: ErrInvalid},
		{name: "console attempts cleared", typ: CmdConsoleSignInCleared, body: ConsoleSignInCleared{UserID: "cu1"}},
		{name: "console attempt after clearing", typ: CmdConsoleSignInAttempt, body: ConsoleSignInAttempt{UserID: "cu1", At: t0 + 97, Max: 2, Window: 900_000, LockFor: 900_000}},
		{name: "console disable", typ: CmdConsoleSetUser, body: ConsoleSetUser{UserID: "cu1", Disabled: true}},
		{name: "integrity", typ: CmdRecordIntegrity, body: RecordIntegrity{PhoneNumberID: "3001", Kind: SignalBlock, Count: 3, At: t0 + 65,
			DeliveryRef: "d1", Events: QualityEvents{Green: ev(65, t0+65), Yellow: ev(66, t0+65), Red: ev(67, t0+65)}}},
		{name: "integrity again", typ: CmdRecordIntegrity, body: RecordIntegrity{PhoneNumberID: "3001", Kind: SignalBlock, Count: 3, At: t0 + 65,
			DeliveryRef: "d1"}, want: ErrConflict},
		{name: "erase consumer", typ: CmdEraseConsumer, body: EraseConsumer{BusinessID: "1001", Refs: []ConsumerRef{{PhoneNumberID: "3001", Ref: "ref2"}}}},
		{name: "unsubscribe", typ: CmdDeleteSubscription, body: DeleteSubscription{WABAID: "2001", BusinessID: "1001"}},
		{name: "expire some", typ: CmdExpire, body: Expire{Now: t0 + 49*3600*1000, Budget: 3}},
		{name: "expire all", typ: CmdExpire, body: Expire{Now: t0 + 400*24*3600*1000}},
	}
}

func ptr[T any](v T) *T { return &v }

// TestApplyIsDeterministicForEveryCommand applies a script covering every
// registered command type to state machines that differ in everything but
// the log: wall-clock time (the second replica runs in a later second than
// the first), how entries are grouped into batches, and how commands are
// grouped into entries. The full bbolt dumps are compared after every
// batch, so a value taken from anywhere but the command (the clock, say)
// is seen even when a later command would overwrite it.
func TestApplyIsDeterministicForEveryCommand(t *testing.T) {
	script := determinismScript(t)

	// Every command type in the registry has a step; a new command type
	// without one fails here.
	covered := map[CommandType]bool{}
	for _, s := range script {
		covered[s.typ] = true
	}
	var missing []string
	for typ := range openFSM(t).handlers {
		if !covered[typ] {
			missing = append(missing, fmt.Sprint(typ))
		}
	}
	slices.Sort(missing)
	if len(missing) > 0 {
		t.Fatalf("command types without a step in the determinism script: %s", strings.Join(missing, ", "))
	}

	cmds := make([][]byte, len(script))
	for i, s := range script {
		cmds[i] = scriptCommand(t, s) // the hot commands in their own binary encoding
	}
	logs := make([]*raft.Log, len(cmds))
	for i, c := range cmds {
		logs[i] = entry(uint64(i+1), c)
	}

	// Replica A: one entry per batch; its dump after each command is the
	// reference, and each command's outcome must be the scripted one.
	a := openFSM(t)
	ref := make([]string, len(logs))
	for i, l := range logs {
		rs := results(t, a.Apply(l))
		if s := script[i]; !errIs(rs[0].Err, s.want) {
			t.Fatalf("step %q: %v, want %v", s.name, rs[0].Err, s.want)
		}
		ref[i] = dumpOf(t, a)
	}
	if ref[len(ref)-1] == "" {
		t.Fatal("empty final state")
	}

	// Replica B starts in a later wall-clock second than A ended in.
	ended := time.Now().Unix()
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Unix() <= ended {
		if time.Now().After(deadline) {
			t.Fatal("the clock does not advance")
		}
		time.Sleep(5 * time.Millisecond) // polling the clock
	}
	for _, group := range []int{2, 3, 5} {
		b := openFSM(t)
		for i := 0; i < len(logs); i += group {
			end := min(i+group, len(logs))
			b.ApplyBatch(logs[i:end])
			if got := dumpOf(t, b); got != ref[end-1] {
				t.Fatalf("batches of %d, after step %q: state differs from the replica that applied one entry at a time:\n%s",
					group, script[end-1].name, diffLines(ref[end-1], got))
			}
		}
	}

	// Replica C: several commands per entry (as group commit makes them).
	// Entry indexes differ, so the meta bucket does too: compare the data.
	for _, group := range []int{4, len(cmds)} {
		c := openFSM(t)
		idx := uint64(0)
		for i := 0; i < len(cmds); i += group {
			end := min(i+group, len(cmds))
			idx++
			rs := results(t, c.Apply(entry(idx, cmds[i:end]...)))
			for j, r := range rs {
				if s := script[i+j]; !errIs(r.Err, s.want) {
					t.Fatalf("%d commands per entry, step %q: %v, want %v", group, s.name, r.Err, s.want)
				}
			}
			if got, want := stripMeta(dumpOf(t, c)), stripMeta(ref[end-1]); got != want {
				t.Fatalf("%d commands per entry, after step %q: state differs:\n%s", group, script[end-1].name, diffLines(want, got))
			}
		}
	}
}

// diffLines lists the lines only one of two dumps has.
func diffLines(want, got string) string {
	w, g := map[string]bool{}, map[string]bool{}
	for _, l := range strings.Split(want, "\n") {
		w[l] = true
	}
	for _, l := range strings.Split(got, "\n") {
		g[l] = true
	}
	var sb strings.Builder
	for _, l := range strings.Split(want, "\n") {
		if !g[l] {
			sb.WriteString("- " + l + "\n")
		}
	}
	for _, l := range strings.Split(got, "\n") {
		if !w[l] {
			sb.WriteString("+ " + l + "\n")
		}
	}
	return sb.String()
}

// errIs reports err is want, or nil when want is nil.
func errIs(err, want error) bool {
	if want == nil {
		return err == nil
	}
	return errors.Is(err, want)
}

// TestIntegrityDeliveryCountedOnceWithinABatch: the same integrity signal
// delivery twice in one batch (one bbolt transaction) is counted once and
// the second is refused, as when the two arrive in separate batches.
func TestIntegrityDeliveryCountedOnceWithinABatch(t *testing.T) {
	f := openFSM(t)
	sig := cmd(t, CmdRecordIntegrity, RecordIntegrity{PhoneNumberID: "3001", Kind: SignalSpamReport, Count: 2,
		At: 1_767_225_600_000, DeliveryRef: "d1"})
	rs := f.ApplyBatch([]*raft.Log{entry(1, tenantCmd(t, 1, "+15551234567")), entry(2, sig), entry(3, sig)})
	if r := results(t, rs[1])[0]; r.Err != nil {
		t.Fatalf("first delivery: %v", r.Err)
	}
	if r := results(t, rs[2])[0]; !errors.Is(r.Err, ErrConflict) {
		t.Fatalf("second delivery of the same signal: %v, want ErrConflict", r.Err)
	}
	rows, err := f.Integrity("3001", "", "")
	if err != nil || len(rows) != 1 || rows[0].Count != 2 {
		t.Fatalf("counters %+v %v: want one spam report counter of 2", rows, err)
	}
}
