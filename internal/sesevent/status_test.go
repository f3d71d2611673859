package sesevent

import "testing"

func TestStatusCode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status, diagnostic, want string
	}{
		{"5.1.1", "smtp; 550 5.1.1 user unknown", "5.1.1"},
		{"5.0.0", "smtp; 550 5.1.1 user unknown", "5.0.0"}, // status wins
		{" 4.4.7 ", "", "4.4.7"},
		{"", "smtp; 550 5.1.1 user unknown", "5.1.1"},
		{"", "smtp; 550-5.2.1 The account is disabled.\n550-5.2.1 Ask the recipient.\n550 5.2.1  https://help.example.net/x", "5.2.1"},
		{"", "X-Postfix; host mx.example.net said: 550 5.1.10 RESOLVER.ADR.RecipientNotFound", "5.1.10"},
		{"", "smtp; 421 4.4.1 Unable to connect to remote host", "4.4.1"},
		{"", "550 #5.1.0 Address rejected", "5.1.0"},
		{"", "smtp; 554 Message rejected (5.7.1).", "5.7.1"},
		{"", "Remote host said: 554 5.7.1 [192.0.2.45] blocked", "5.7.1"},
		{"", "X-Postfix; unknown user", ""},
		{"", "connect to 192.0.2.45 port 25 failed", ""}, // not inside an IP address
		{"", "server v5.4.3 says no", ""},                // not inside a word
		{"", "550 5.1.1234 too long", ""},                // detail has at most 3 digits
		{"", "3.1.1 is not a class", ""},                 // classes are 2, 4, 5
		{"", "Amazon SES did not send the message", ""},  // suppression list diag
		{"failed", "", ""},
		{"", "", ""},
		{"5.1", "", ""},
		{"2.6.0", "", "2.6.0"},
	}
	for _, tt := range tests {
		if got := StatusCode(tt.status, tt.diagnostic); got != tt.want {
			t.Errorf("StatusCode(%q, %q) = %q, want %q", tt.status, tt.diagnostic, got, tt.want)
		}
	}
}
