// Package testevent sends one signed test webhook to a business's
// callback on request (the console's "send a test event"), so its admin
// can check the receiver and its signature check without waiting for
// traffic. Nothing is queued or replicated: the answer is the outcome.
package testevent

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/waedge/waedge/cloudapi"
)

// Field is the change field of a test event; a receiver that dispatches on
// the field ignores it like any field it does not know.
const Field = "waedge_test"

// Result is what the receiver made of the test event.
type Result struct {
	// Status is the receiver's HTTP status code, or "timeout",
	// "refused" (by the egress policy) or "unreachable".
	Status    string `json:"status"`
	Delivered bool   `json:"delivered"` // the receiver answered 200
	// DurationMS is how long the request took.
	DurationMS int64 `json:"duration_ms"`
}

// Body returns the test event of wabaID (phoneNumberID may be empty):
// a webhook envelope like every other, with one change of field Field.
func Body(wabaID, phoneNumberID string, at time.Time) ([]byte, error) {
	value := map[string]any{"test": true, "sent_at": strconv.FormatInt(at.Unix(), 10)}
	if phoneNumberID != "" {
		value["metadata"] = map[string]string{"phone_number_id": phoneNumberID}
	}
	return cloudapi.MarshalASCII(map[string]any{
		"object": "whatsapp_business_account",
		"entry": []any{map[string]any{"id": wabaID, "time": at.Unix(),
			"changes": []any{map[string]any{"field": Field, "value": value}}}},
	})
}

// Send POSTs body to url, signed with appSecret as every webhook is,
// through client (the egress policy's), within timeout. isRefused tells
// an egress refusal from other dial errors.
func Send(ctx context.Context, client *http.Client, url, appSecret string, body []byte, timeout time.Duration,
	isRefused func(error) bool) Result {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	r := Result{Status: "unreachable"}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return r
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Hub-Signature-256", cloudapi.Sign(appSecret, body))
	req.Header.Set("User-Agent", "waedge-webhooks/1")
	resp, err := client.Do(req)
	r.DurationMS = time.Since(start).Milliseconds()
	switch {
	case err == nil:
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		_ = resp.Body.Close()
		r.Status = strconv.Itoa(resp.StatusCode)
		r.Delivered = resp.StatusCode == http.StatusOK
	case isRefused != nil && isRefused(err):
		r.Status = "refused"
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		r.Status = "timeout"
	}
	return r
}
