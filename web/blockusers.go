package web

import (
	"encoding/json"
	"errors"
	"slices"

	"github.com/gofiber/fiber/v2"

	"github.com/waedge/waedge/cloudapi"
	"github.com/waedge/waedge/raftfsm"
)

// settingBlockPrefix names a block-list entry: "block/" + consumer ref.
const settingBlockPrefix = raftfsm.BlockSettingPrefix

// blockWindowMillis: Meta lets a business block only users who wrote to
// it in the last 24 hours (https://developers.facebook.com/docs/whatsapp/cloud-api/block-users).
const blockWindowMillis = raftfsm.WindowMillis

// errBlockFailed is Meta's per-user error of a block request (139100).
const errBlockFailed = 139100

// blockEntry is a stored block-list entry: the consumer's number, sealed
// (the state machine keeps consumers by reference only).
type blockEntry struct {
	WAIDSealed []byte `json:"wa_id_sealed"`
}

// blockAAD binds a sealed block-list number to its phone number and ref.
func blockAAD(phoneID, ref string) []byte { return []byte("block:" + phoneID + "/" + ref) }

// blockUsers answers POST (block) and DELETE (unblock)
// /{phone-number-id}/block_users: every user gets a line in added_users
// (removed_users) or failed_users, in Meta's shape.
func (g *graphAPI) blockUsers(block bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		t, err := g.ownPhone(c)
		if err != nil {
			return err
		}
		req, err := cloudapi.ParseBlockUsers(c.Body())
		if err != nil {
			return err
		}
		done, failed := []fiber.Map{}, []fiber.Map{}
		fail := func(input, waID, why string) {
			e := fiber.Map{"input": input, "errors": []fiber.Map{{"message": "Failed to block/unblock users", "code": errBlockFailed,
				"error_data": fiber.Map{"details": why}}}}
			if waID != "" {
				e["wa_id"] = waID
			}
			failed = append(failed, e)
		}
		now := g.d.Now().UnixMilli()
		for _, u := range req.BlockUsers {
			waID := cloudapi.NormalizePhone(u.User)
			if waID == "" {
				fail(u.User, "", "user is not a phone number")
				continue
			}
			ref := g.d.Sealer.ConsumerRef(t.PhoneNumberID, waID)
			if block {
				at, open, err := g.d.Cluster.FSM().WindowOpenedAt(t.PhoneNumberID, ref)
				if err != nil {
					return err
				}
				if !open || now-at > blockWindowMillis {
					fail(u.User, waID, "only users who messaged the business in the last 24 hours can be blocked")
					continue
				}
				sealed, err := g.d.Sealer.Seal(c.UserContext(), blockAAD(t.PhoneNumberID, ref), []byte(waID))
				if err != nil {
					return err
				}
				if err := g.putSetting(c, t, settingBlockPrefix+ref, blockEntry{WAIDSealed: sealed}); err != nil {
					return err
				}
			} else if err := g.putSetting(c, t, settingBlockPrefix+ref, nil); errors.Is(err, raftfsm.ErrNotFound) {
				fail(u.User, waID, "user is not blocked")
				continue
			} else if err != nil {
				return err
			}
			done = append(done, fiber.Map{"input": u.User, "wa_id": waID})
		}
		key := "added_users"
		if !block {
			key = "removed_users"
		}
		out := fiber.Map{key: done}
		if len(failed) > 0 {
			out["failed_users"] = failed
		}
		return c.JSON(fiber.Map{"messaging_product": "whatsapp", "block_users": out})
	}
}

// blockedUsers answers GET /{phone-number-id}/block_users: the block
// list, cursor-paged. An entry whose number can no longer be opened (its
// data key expired) still blocks but is not listed.
func (g *graphAPI) blockedUsers(c *fiber.Ctx) error {
	t, err := g.ownPhone(c)
	if err != nil {
		return err
	}
	ss, err := g.d.Cluster.FSM().PhoneSettings(t.PhoneNumberID, settingBlockPrefix)
	if err != nil {
		return err
	}
	var users []string
	for _, s := range ss {
		var e blockEntry
		if err := json.Unmarshal(s.Value, &e); err != nil {
			return err
		}
		ref := s.Name[len(settingBlockPrefix):]
		if waID, err := g.d.Sealer.Open(blockAAD(t.PhoneNumberID, ref), e.WAIDSealed); err == nil {
			users = append(users, string(waID))
		}
	}
	slices.Sort(users)
	page, err := pageOf(c, g.d.PublicURL, users, func(u string) string { return u },
		func(u string) fiber.Map { return fiber.Map{"messaging_product": "whatsapp", "wa_id": u} })
	if err != nil {
		return err
	}
	return c.JSON(page)
}
