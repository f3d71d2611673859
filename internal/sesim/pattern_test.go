package sesim

import (
	"encoding/json"
	"testing"
)

func TestMatchPattern(t *testing.T) {
	t.Parallel()
	event := `{"source":"aws.ses","detail-type":"Email Bounced","account":"111122223333",
		"detail":{"eventType":"Bounce","mail":{"tags":{"ses:configuration-set":["cs"],"campaign":["spring","vip"]},"destination":["a@example.com"]},
		"bounce":{"bounceType":"Permanent","size":12}}}`
	tests := []struct {
		pattern string
		want    bool
	}{
		{`{"source":["aws.ses"]}`, true},
		{`{"source":["aws.ec2"]}`, false},
		{`{"source":["aws.ec2","aws.ses"]}`, true},
		{`{"source":["aws.ses"],"detail":{"mail":{"tags":{"ses:configuration-set":["cs"]}}}}`, true},
		{`{"source":["aws.ses"],"detail":{"mail":{"tags":{"ses:configuration-set":["other"]}}}}`, false},
		{`{"detail":{"mail":{"tags":{"campaign":["vip"]}}}}`, true},
		{`{"detail-type":[{"prefix":"Email "}]}`, true},
		{`{"detail-type":[{"prefix":"Mail "}]}`, false},
		{`{"detail":{"mail":{"destination":[{"suffix":"@example.com"}]}}}`, true},
		{`{"detail-type":[{"equals-ignore-case":"email bounced"}]}`, true},
		{`{"detail":{"eventType":[{"anything-but":["Send","Delivery"]}]}}`, true},
		{`{"detail":{"eventType":[{"anything-but":"Bounce"}]}}`, false},
		{`{"detail":{"complaint":[{"exists":false}]}}`, true},
		{`{"detail":{"bounce":{"bounceType":[{"exists":true}]}}}`, true},
		{`{"detail":{"complaint":{"complaintFeedbackType":[{"exists":false}]}}}`, true},
		{`{"detail":{"bounce":{"size":[{"numeric":[">",10,"<=",12]}]}}}`, true},
		{`{"detail":{"bounce":{"size":[{"numeric":[">",12]}]}}}`, false},
		{`{"detail":{"bounce":{"size":[12]}}}`, true},
		{`{"detail":{"missing":["x"]}}`, false},
		{`{"detail":{"eventType":{"nested":["x"]}}}`, false},
	}
	var ev map[string]any
	if err := json.Unmarshal([]byte(event), &ev); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		p, err := compilePattern(tt.pattern)
		if err != nil {
			t.Errorf("compilePattern(%s): %v", tt.pattern, err)
			continue
		}
		if got := matchPattern(p, ev); got != tt.want {
			t.Errorf("matchPattern(%s) = %v, want %v", tt.pattern, got, tt.want)
		}
	}
}

func TestCompilePatternRefuses(t *testing.T) {
	t.Parallel()
	for _, p := range []string{
		`not json`,
		`[]`,
		`{}`,
		`{"source":"aws.ses"}`,
		`{"source":[]}`,
		`{"source":[{"prefix":1}]}`,
		`{"source":[{"unknown":"x"}]}`,
		`{"n":[{"numeric":[">"]}]}`,
	} {
		if _, err := compilePattern(p); err == nil {
			t.Errorf("compilePattern(%s) accepted an invalid pattern", p)
		}
	}
}
