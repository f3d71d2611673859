package web_test

import (
	"testing"

	"sendops/internal/testutil/testdb"
)

// SendOps assumes a connection's role once and reuses the session until it
// expires, instead of assuming it again for every request.
func TestRoleSessionReused(t *testing.T) {
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		v := newAWSEnv(t, e, nil)
		log := v.watchCalls(t)
		id, _ := v.roleConnection(t, "prod")
		log.mu.Lock()
		log.calls = nil // validation on save assumes the role on its own
		log.mu.Unlock()
		for range 3 {
			if status, body := apiCall(t, v.App, v.Key, "GET", "/api/v1/connections/"+id+"/account", ""); status != 200 {
				t.Fatalf("account: %d %s", status, body)
			}
		}
		log.mu.Lock()
		defer log.mu.Unlock()
		var sts, ses int
		for _, c := range log.calls {
			switch c {
			case "POST /":
				sts++
			case "GET /v2/email/account":
				ses++
			}
		}
		if sts != 1 || ses != 3 {
			t.Fatalf("three account reads made %d STS calls and %d GetAccount calls, want 1 and 3: %q", sts, ses, log.calls)
		}
	})
}
