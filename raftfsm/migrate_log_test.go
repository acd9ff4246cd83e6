package raftfsm

import (
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/hashicorp/raft"
)

// schema1Log is a log written before the lean apply (only command types
// and payloads schema-1 binaries know): two numbers, a subscription, a
// template, inbound messages, outbound messages in every queue state
// (pending, encrypted and waiting in the envelope outbox, sent), a read
// receipt waiting, statuses and a failure. testdata/schema1.db is the
// state the schema-1 code built from it (see TestMigrateSchema1).
func schema1Log(t testing.TB) []*raft.Log {
	const at = int64(1773100800000) // 2026-03-10
	key := func(n int) []byte {
		var k [16]byte
		binary.BigEndian.PutUint64(k[:], uint64(at+int64(n))*1e6)
		binary.BigEndian.PutUint64(k[8:], uint64(n))
		return k[:]
	}
	ev := func(n int) *OutboxEvent {
		return &OutboxEvent{Key: key(1000 + n), Body: []byte("sealed-body"), CreatedAt: at + int64(n)}
	}
	var cmds [][]byte
	add := func(typ CommandType, p any) { cmds = append(cmds, cmd(t, typ, p)) }
	add(CmdCreateTenant, tenantPayload(1, "+15551234567"))
	add(CmdCreateTenant, tenantPayload(2, "+15552222222"))
	add(CmdSetSubscription, SetSubscription{WABAID: "2001", BusinessID: "1001", AppID: "4001", CallbackURL: "http://x", At: at})
	add(CmdSubmitTemplate, SubmitTemplate{Template: Template{ID: "77", WABAID: "2001", BusinessID: "1001",
		Name: "promo", Language: "en", Category: "MARKETING", CreatedAt: at}})
	for i := 0; i < 6; i++ {
		phone := fmt.Sprint(3001 + i%2)
		add(CmdRecordInbound, RecordInbound{Key: key(10 + i), IDRef: MessageIDRef(fmt.Sprint("in", i)), IDSealed: []byte("id"),
			PhoneNumberID: phone, PeerRef: fmt.Sprint("ref", i%3), PeerSealed: []byte("peer"), Type: "text",
			Content: []byte(fmt.Sprint("content", i)), ReceivedAt: at + int64(10+i), NetworkID: fmt.Sprint("net", i), Event: ev(i)})
	}
	for i := 0; i < 8; i++ {
		phone, biz := "3001", "1001"
		if i%4 == 3 {
			phone, biz = "3002", "1002"
		}
		c := AcceptMessage{Key: key(20 + i), IDRef: MessageIDRef(fmt.Sprint("out", i)), IDSealed: []byte("id"),
			PhoneNumberID: phone, BusinessID: biz, PeerRef: fmt.Sprint("ref", i%5), PeerSealed: []byte("peer"),
			Type: "text", Content: []byte(fmt.Sprint("out", i)), RequireWindow: true, CreatedAt: at + int64(20+i)}
		if i%2 == 0 {
			c.Type, c.RequireWindow, c.TemplateName, c.TemplateLanguage, c.CallbackSealed = "template", false, "promo", "en", []byte("cb")
		}
		add(CmdAcceptMessage, c) // refs 3 and 4 have no window: their texts fail (ErrWindowClosed)
	}
	add(CmdMarkRead, MarkRead{PhoneNumberID: "3001", IDRef: MessageIDRef("in0"), At: at + 40, Typing: true})
	add(CmdMarkRead, MarkRead{PhoneNumberID: "3001", IDRef: MessageIDRef("in2"), At: at + 41})
	add(CmdSignalCommit, SignalCommit{PhoneNumberID: "3001", Writes: []SignalWrite{{Key: "sessions\x00ref0:1", Value: []byte("s")}},
		Outbound: []OutboundEnvelope{{MessageKey: key(20), Sealed: []byte("env0")}, {MessageKey: key(21), Sealed: []byte("env1")}}})
	add(CmdSignalCommit, SignalCommit{PhoneNumberID: "3001", Outbound: []OutboundEnvelope{{MessageKey: key(22), Sealed: []byte("env2")}}})
	add(CmdSignalCommit, SignalCommit{PhoneNumberID: "3001", Failed: []StatusUpdate{{IDRef: MessageIDRef("out4"), Status: StatusFailed, At: at + 50, Event: ev(50)}}})
	add(CmdMessageStatuses, MessageStatuses{PhoneNumberID: "3001", Updates: []StatusUpdate{
		{IDRef: MessageIDRef("out0"), Status: StatusSent, At: at + 60, Event: ev(60)},
		{IDRef: MessageIDRef("out2"), Status: StatusRead, At: at + 61}}, SentKeys: [][]byte{key(20)}, ReadsDone: [][]byte{key(12)}})
	var logs []*raft.Log
	for i := 0; i < len(cmds); i += 5 {
		logs = append(logs, entry(uint64(len(logs)+1), cmds[i:min(i+5, len(cmds))]...))
	}
	return logs
}
