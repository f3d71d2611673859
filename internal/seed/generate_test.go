package seed

import (
	"testing"
	"time"

	"sendops/internal/insight"
	"sendops/internal/sesevent"
)

// TestGeneratorMix checks what the synthetic traffic holds: every event
// parses as SES's, in range and in order; the mix of outcomes is near
// loadgen's; bounce intelligence has every common code to explain; every
// mailbox provider, sending domain and kind of event appears; and the
// daily pattern shows.
func TestGeneratorMix(t *testing.T) {
	end := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	o := Options{Messages: 10000, Days: 14, End: end, Seed: 11}
	if err := o.check(); err != nil {
		t.Fatal(err)
	}
	g := newGenerator(o)
	types := map[string]int{}
	codes := map[string]int{}
	subTypes := map[string]int{}
	providers := map[insight.Provider]bool{}
	sendingDomains := map[string]bool{}
	var hardRcpts, softRcpts, sentRcpts, complaints, delays int
	var byHour [24]int
	var prev time.Time
	for i := range o.Messages {
		id, events := g.message(i, end)
		if len(events) == 0 {
			t.Fatalf("message %d has no event", i)
		}
		for j, e := range events {
			ev, err := sesevent.Parse(e.json)
			if err != nil {
				t.Fatalf("message %d event %d: %v\n%s", i, j, err, e.json)
			}
			if ev.Mail.MessageID != id || !ev.Time.Equal(e.at) || !ev.Time.Before(end) || ev.Time.Before(end.AddDate(0, 0, -o.Days)) {
				t.Fatalf("message %d event %d: id %s at %s, want %s in range", i, j, ev.Mail.MessageID, ev.Time, id)
			}
			types[ev.Type]++
			switch ev.Type {
			case sesevent.TypeSend:
				sentRcpts += len(ev.Recipients)
				if ev.Mail.Timestamp.Before(prev) {
					t.Fatalf("message %d sent at %s, before message %d (%s)", i, ev.Mail.Timestamp, i-1, prev)
				}
				prev = ev.Mail.Timestamp
				byHour[ev.Mail.Timestamp.Hour()]++
				sendingDomains[sesevent.Domain(sesevent.Address(ev.Mail.Source))] = true
				for _, r := range ev.Recipients {
					providers[insight.ProviderOf(r)] = true
				}
			case sesevent.TypeBounce:
				for _, r := range ev.Bounce.Recipients {
					adv := insight.ExplainBounce(ev.Bounce.Type, ev.Bounce.SubType, r.DiagnosticCode)
					codes[adv.Key]++
				}
				subTypes[ev.Bounce.SubType]++
				if ev.Bounce.Type == "Permanent" {
					hardRcpts += len(ev.Recipients)
				} else {
					softRcpts += len(ev.Recipients)
				}
			case sesevent.TypeComplaint:
				complaints++
			case sesevent.TypeDeliveryDelay:
				delays++
				if ev.Delay.DelayType == "" || ev.Delay.ExpirationTime.IsZero() {
					t.Errorf("a delay without type or expiration: %s", e.json)
				}
			}
		}
	}
	for _, typ := range []string{"Send", "Delivery", "Bounce", "Complaint", "DeliveryDelay", "Open", "Click", "RenderingFailure"} {
		if types[typ] == 0 {
			t.Errorf("no %s event in %d messages: %v", typ, o.Messages, types)
		}
	}
	for _, key := range []string{"5.1.1", "5.1.10", "5.4.1", "5.7.1", "5.7.26", "5.7.509", "5.7.515", "5.7.x", "4.4.7", "4.2.2", "5.2.2", "5.3.4", "OnAccountSuppressionList"} {
		if codes[key] == 0 {
			t.Errorf("no bounce explained by %s: %v", key, codes)
		}
	}
	for _, p := range insight.Providers {
		if !providers[p] {
			t.Errorf("no recipient at %s", p)
		}
	}
	if len(sendingDomains) < 4 {
		t.Errorf("sending domains %v, want 4", sendingDomains)
	}
	rate := func(n int) float64 { return float64(n) / float64(sentRcpts) }
	if r := rate(hardRcpts); r < 0.02 || r > 0.045 {
		t.Errorf("hard bounces %.2f %% of recipients, want about 3 %%", 100*r)
	}
	if r := rate(softRcpts); r < 0.005 || r > 0.03 {
		t.Errorf("soft bounces %.2f %% of recipients, want about 1.5 %%", 100*r)
	}
	if r := rate(delays); r < 0.01 || r > 0.04 {
		t.Errorf("delays %.2f %% of recipients, want about 2.5 %%", 100*r)
	}
	if r := rate(complaints); r == 0 || r > 0.005 {
		t.Errorf("complaints %.3f %% of recipients, want a few in a thousand", 100*r)
	}
	if byHour[10] < 3*byHour[3] {
		t.Errorf("%d messages sent at 10:00 UTC and %d at 03:00, want the working day much busier", byHour[10], byHour[3])
	}
}
