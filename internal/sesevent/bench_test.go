package sesevent

import "testing"

// BenchmarkParse measures a typical bounce (three recipients, headers, tags)
// and delivery (three destinations, tags) in the event-publishing format.
func BenchmarkParse(b *testing.B) {
	for _, name := range []string{"event/bounce-permanent-general.json", "event/delivery.json", "notification/bounce-dsn.json"} {
		data := fixture(b, name)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := Parse(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkParseAndKey(b *testing.B) {
	data := fixture(b, "event/bounce-permanent-general.json")
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		e, err := Parse(data)
		if err != nil {
			b.Fatal(err)
		}
		_ = e.Key()
	}
}
