package web

import (
	"crypto/sha256"
	"encoding/hex"

	"github.com/gofiber/fiber/v2"

	"github.com/waedge/waedge/raftfsm"
)

// wabaField answers the plain fields of GET /{waba-id}?fields=… beyond id
// and name, as Meta's WhatsAppBusinessAccount node shows them
// (https://developers.facebook.com/docs/graph-api/reference/whatsapp-business-account/;
// pywa's get_business_account asks for timezone_id and
// message_template_namespace). ok is false for a field waedge lacks.
func wabaField(name string, w raftfsm.WABA, phones []raftfsm.Phone) (any, bool) {
	switch name {
	case "account_review_status":
		return "APPROVED", true
	case "business_verification_status":
		return "verified", true
	case "currency":
		return "USD", true
	case "timezone_id":
		return "0", true // UTC: waedge reports every time in UTC
	case "ownership_type":
		return "SELF", true
	case "is_enabled_for_insights":
		return true, true
	case "message_template_namespace":
		return templateNamespace(w.ID), true
	case "health_status":
		return healthStatus(w, phones), true
	}
	return nil, false
}

// templateNamespace is a WABA's message_template_namespace: stable, in
// Meta's 8_4_4_4_12 hex shape, derived from the WABA id.
func templateNamespace(wabaID string) string {
	h := sha256.Sum256([]byte("waedge template namespace\x00" + wabaID))
	x := hex.EncodeToString(h[:16])
	return x[:8] + "_" + x[8:12] + "_" + x[12:16] + "_" + x[16:20] + "_" + x[20:]
}

// healthStatus is the health_status field: whether the WABA and each of
// its phone numbers can send (a deregistered number cannot). The overall
// value is AVAILABLE when every entity is, BLOCKED when none is, LIMITED
// otherwise.
func healthStatus(w raftfsm.WABA, phones []raftfsm.Phone) fiber.Map {
	entities := []fiber.Map{{"entity_type": "WABA", "id": w.ID, "can_send_message": "AVAILABLE"}}
	blocked := 0
	for _, p := range phones {
		e := fiber.Map{"entity_type": "PHONE_NUMBER", "id": p.ID, "can_send_message": "AVAILABLE"}
		if !p.Registered {
			blocked++
			e["can_send_message"] = "BLOCKED"
			e["errors"] = []fiber.Map{{"error_code": 133010, "error_description": "The phone number is not registered.",
				"possible_solution": "Register the phone number with POST /{phone-number-id}/register."}}
		}
		entities = append(entities, e)
	}
	overall := "AVAILABLE"
	switch {
	case len(phones) > 0 && blocked == len(phones):
		overall = "BLOCKED"
	case blocked > 0:
		overall = "LIMITED"
	}
	return fiber.Map{"can_send_message": overall, "entities": entities}
}
