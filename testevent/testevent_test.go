package testevent

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/waedge/waedge/cloudapi"
)

// TestSendReportsTheReceiversAnswer: the event is signed over its exact
// bytes, a 200 counts as delivered, another status does not, and a
// receiver slower than the timeout is reported as such.
func TestSendReportsTheReceiversAnswer(t *testing.T) {
	body, err := Body("2001", "3001", time.Unix(1_800_000_000, 0))
	if err != nil {
		t.Fatal(err)
	}
	var ev struct {
		Entry []struct {
			ID      string
			Changes []struct {
				Field string
				Value struct {
					Test     bool
					Metadata struct {
						PhoneNumberID string `json:"phone_number_id"`
					}
				}
			}
		}
	}
	if json.Unmarshal(body, &ev) != nil || len(ev.Entry) != 1 || ev.Entry[0].ID != "2001" || len(ev.Entry[0].Changes) != 1 ||
		ev.Entry[0].Changes[0].Field != Field || !ev.Entry[0].Changes[0].Value.Test || ev.Entry[0].Changes[0].Value.Metadata.PhoneNumberID != "3001" {
		t.Fatalf("body %s", body)
	}
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ := io.ReadAll(r.Body)
		if !cloudapi.VerifySignature("secret", got, r.Header.Get("X-Hub-Signature-256")) {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if r.URL.Path == "/slow" {
			<-r.Context().Done()
			return
		}
		w.WriteHeader(status)
	}))
	defer srv.Close()
	if r := Send(context.Background(), srv.Client(), srv.URL, "secret", body, 5*time.Second, nil); r.Status != "200" || !r.Delivered {
		t.Fatalf("to a 200 receiver: %+v", r)
	}
	if r := Send(context.Background(), srv.Client(), srv.URL, "other secret", body, 5*time.Second, nil); r.Status != "401" || r.Delivered {
		t.Fatalf("signed with another secret: %+v, want the receiver's 401", r)
	}
	status = http.StatusServiceUnavailable
	if r := Send(context.Background(), srv.Client(), srv.URL, "secret", body, 5*time.Second, nil); r.Status != "503" || r.Delivered {
		t.Fatalf("to a failing receiver: %+v", r)
	}
	if r := Send(context.Background(), srv.Client(), srv.URL+"/slow", "secret", body, 200*time.Millisecond, nil); r.Status != "timeout" {
		t.Fatalf("to a slow receiver: %+v, want timeout", r)
	}
}
