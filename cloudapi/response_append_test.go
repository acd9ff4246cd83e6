package cloudapi

import (
	"encoding/json"
	"testing"
)

// TestAppendSendResponseMatchesMarshal: the answer written member by member
// is json.Marshal's bytes of NewSendResponse, appended after what dst held.
func TestAppendSendResponseMatchesMarshal(t *testing.T) {
	odd := "<a&b>\u2028\u2029\"\\\x01é\xff +49 (170) 000-0042"
	for _, r := range []*SendRequest{
		{To: "491700000042", Type: "template"},
		{To: "+49 170 0000042", Type: "text"},
		{To: odd, Type: "image"},
		{To: odd, Type: "template"},
		{},
		{Status: "read", MessageID: "wamid.x"},
	} {
		for _, wamid := range []string{"wamid.HBgLNDkxNzAwMDAwMDQyFQIAERgSOUE3QkZENkZBNDEzRTc3NEQ2AA==", "", odd} {
			want, err := json.Marshal(NewSendResponse(r, wamid))
			if err != nil {
				t.Fatal(err)
			}
			got := AppendSendResponse([]byte("prefix"), r, wamid)
			if string(got) != "prefix"+string(want) {
				t.Errorf("%+v, %q:\nappended %s\nMarshal  %s", r, wamid, got, want)
			}
		}
	}
}
