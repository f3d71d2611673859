package service

import (
	"strings"
	"testing"

	"sendops/internal/domain"
)

// EventBridge calls API destinations over HTTPS on public hosts only: set-up
// refuses any other SendOps address, naming the setting.
func TestIngestReachable(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		url string
		ok  bool
	}{
		{"https://sendops.example.com", true},
		{"https://mail-ops.acme.io:8443", true},
		{"https://203.0.113.10", true},
		{"http://sendops.example.com", false},
		{"http://127.0.0.1:8080", false},
		{"https://localhost", false},
		{"https://app.localhost", false},
		{"https://127.0.0.1", false},
		{"https://[::1]:8443", false},
		{"https://10.1.2.3", false},
		{"https://172.16.0.9", false},
		{"https://192.168.1.20", false},
		{"https://100.64.1.1", false},
		{"https://169.254.169.254", false},
		{"https://[fd00::1]", false},
		{"https://0.0.0.0", false},
		{"https://sendops", false},
		{"https://sendops.internal", false},
		{"https://sendops.local", false},
		{"not a url", false},
	} {
		err := ingestReachable(c.url)
		if c.ok != (err == nil) {
			t.Errorf("ingestReachable(%s) = %v, want ok %v", c.url, err, c.ok)
		}
		if err != nil && (domain.ErrorCode(err) != domain.EInvalid || !strings.Contains(err.Error(), "SENDOPS_BASE_URL")) {
			t.Errorf("ingestReachable(%s) = %v: want EInvalid naming SENDOPS_BASE_URL", c.url, err)
		}
	}
}

// A connection in China or GovCloud gets its partition's ARNs, the
// invocation role's among them.
func TestPipelineSpecPartition(t *testing.T) {
	t.Parallel()
	s := &Service{BaseURL: "https://sendops.example.com"}
	for region, partition := range map[string]string{"us-east-1": "aws", "cn-north-1": "aws-cn", "us-gov-east-1": "aws-us-gov"} {
		spec := s.pipelineSpec(&domain.Connection{ID: "c1", AWSAccountID: "123456789012", Region: region}, nil, "sendops", "", "")
		if want := "arn:" + partition + ":iam::123456789012:role/SendOpsEventBridgeInvoke"; spec.InvokeRoleARN != want {
			t.Errorf("%s: invocation role %s, want %s", region, spec.InvokeRoleARN, want)
		}
		if want := "arn:" + partition + ":events:" + region + ":123456789012:event-bus/default"; spec.BusARN() != want {
			t.Errorf("%s: bus %s, want %s", region, spec.BusARN(), want)
		}
	}
}
