package rawjson

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// examples returns the project's SES examples, both formats.
func examples(t testing.TB) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, dir := range []string{"event", "notification"} {
		files, err := filepath.Glob(filepath.Join("..", "sesevent", "testdata", dir, "*.json"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no SES examples in %s: %v", dir, err)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			out[dir+"/"+filepath.Base(f)] = b
		}
	}
	return out
}

// What earlier versions stored reads back: dictionary 1 with a checksum,
// no dictionary at all, and dictionary 2 (whole events).
func TestDecodeOlderFrames(t *testing.T) {
	d1, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderDictRaw(1, dictionary))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range examples(t) {
		for kind, b := range map[string][]byte{"dictionary 1": d1.EncodeAll(want, nil), "no dictionary": plain.EncodeAll(want, nil), "dictionary 2": Compress(want)} {
			if got, err := Decode(b, nil); err != nil || !bytes.Equal(got, want) {
				t.Errorf("%s, %s: Decode = %.40q, %v; want the JSON back", name, kind, got, err)
			}
		}
		var h zstd.Header
		if err := h.Decode(Compress(want)); err != nil || h.DictionaryID != 2 || h.HasCheckSum {
			t.Errorf("%s: Compress: dictionary %d, checksum %v, %v; want dictionary 2 and no checksum", name, h.DictionaryID, h.HasCheckSum, err)
		}
	}
}

// Every example with a mail object splits, and reads back exactly against
// its message's mail object however that differs from its own: the same,
// one tag more (as SES adds after the send event), another message's, or
// none.
func TestSplitRoundTrip(t *testing.T) {
	all := examples(t)
	other := all["event/send.json"]
	_, otherSplit := Encode(other)
	if otherSplit == nil {
		t.Fatal("send.json did not split")
	}
	for name, want := range all {
		whole, s := Encode(want)
		if s == nil {
			if !strings.Contains(name, "unknown") {
				t.Errorf("%s: not split; every SES example has a top-level mail object", name)
			}
			if got, err := Decode(whole, nil); err != nil || !bytes.Equal(got, want) {
				t.Errorf("%s: whole: Decode = %.40q, %v", name, got, err)
			}
			continue
		}
		var mail map[string]any
		if err := json.Unmarshal(s.Mail, &mail); err != nil {
			t.Fatalf("%s: the split mail object is not JSON: %v (%.60q)", name, err, s.Mail)
		}
		if _, ok := mail["messageId"]; !ok {
			t.Errorf("%s: split off %.60q, not the mail object", name, s.Mail)
		}
		tagged := bytes.Replace(s.Mail, []byte(`"tags":{`), []byte(`"tags":{"ses:outgoing-ip":["54.240.8.42"],`), 1)
		refs := map[string][]byte{"same": s.Mail, "one tag more": tagged, "another message's": otherSplit.Mail, "none": nil}
		for kind, ref := range refs {
			stored := s.Delta(ref)
			got, err := Decode(stored, ref)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("%s against %s: Decode = %q, %v; want the event as received", name, kind, got, err)
			}
			// Shared: the stored event is its rest, a short header and
			// what differs.
			if extra := len(tagged) - len(s.Mail); kind == "same" && len(stored) > len(s.Rest)+8 ||
				kind == "one tag more" && extra > 0 && len(stored) > len(s.Rest)+8+extra {
				t.Errorf("%s against %s: stored %d bytes (kind %#x), rest %d: the mail object was not shared", name, kind, len(stored), stored[0], len(s.Rest))
			}
		}
	}
}

// A damaged stored event is an error, never a panic or wrong JSON passed
// off as right.
func TestDecodeDamaged(t *testing.T) {
	want := examples(t)["event/bounce-permanent-general.json"]
	_, s := Encode(want)
	ref := bytes.Replace(s.Mail, []byte(`"tags":{`), []byte(`"tags":{"x":["y"],`), 1)
	stored := s.Delta(ref)
	// Prefix and suffix lengths whose sum wraps around to 0 and to 1.
	wrap := func(p, q uint64) []byte {
		b := binary.AppendUvarint([]byte{splitRaw, 0}, p)
		b = binary.AppendUvarint(b, q)
		return append(append(b, 0), Compress([]byte(`{}`))...)
	}
	for name, c := range map[string]struct{ b, mail []byte }{
		"cut in the header":                 {stored[:2], ref},
		"cut in the rest":                   {stored[:len(stored)-10], ref},
		"no mail object":                    {stored, nil},
		"a shorter mail object":             {stored, []byte(`{}`)},
		"a length past the end":             {[]byte{splitRaw, 0, 0, 0, 200, 'x'}, nil},
		"an offset past the rest":           {append([]byte{splitRaw, 120, 0, 0, 0}, Compress([]byte(`{}`))...), nil},
		"prefix and suffix wrapping to 0":   {wrap(math.MaxUint64, 1), nil},
		"prefix and suffix wrapping to 1":   {wrap(1<<63, 1<<63+1), []byte(`{}`)},
		"a suffix past the rest of the ref": {wrap(1, math.MaxUint64), []byte(`{}`)},
	} {
		if got, err := Decode(c.b, c.mail); err == nil {
			t.Errorf("%s: Decode = %.60q, nil; want an error", name, got)
		}
	}
	if got, err := MailOf([]byte{0x28, 0xb5, 0x2f, 0xfd, 1, 2, 3}); err == nil {
		t.Errorf("a damaged mail object: MailOf = %.60q, nil; want an error", got)
	}
}

func TestMember(t *testing.T) {
	for _, c := range []struct {
		in, want string // want "" means no member
	}{
		{`{"mail":{"a":1}}`, `{"a":1}`},
		{` { "eventType" : "Send" , "mail" : {"a":"}"} , "send":{} } `, `{"a":"}"}`},
		{`{"a":"\"mail\":{}","mail":[1,{"b":[]}],"c":2}`, `[1,{"b":[]}]`},
		{`{"x":{"mail":{"nested":true}}}`, ``},
		{`{"m\u0061il":{"a":1}}`, ``},
		{`{"mail":"text"}`, `"text"`},
		{`{"mail":12.5e3}`, `12.5e3`},
		{`{"mail":null}`, `null`},
		{`[{"mail":{}}]`, ``},
		{`"mail"`, ``},
		{`{}`, ``},
	} {
		s, e, ok := member([]byte(c.in), "mail")
		got := ""
		if ok {
			got = c.in[s:e]
		}
		if got != c.want {
			t.Errorf("member(%s) = %q; want %q", c.in, got, c.want)
		}
	}
}

// Whatever valid JSON arrives and whatever mail object its message keeps,
// the stored form reads back as the same bytes; and no input makes Decode
// panic.
func FuzzRoundTrip(f *testing.F) {
	for _, b := range examples(f) {
		f.Add(b, []byte(`{"timestamp":"2026-01-01T00:00:00.000Z","tags":{}}`))
	}
	f.Add([]byte(`{"mail":{}}`), []byte(`{}`))
	f.Add(append([]byte{splitRaw, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 1, 0}, Compress([]byte(`{}`))...), []byte(nil))
	f.Fuzz(func(t *testing.T, raw, ref []byte) {
		Decode(raw, ref) // must not panic
		if !json.Valid(raw) {
			return
		}
		whole, s := Encode(raw)
		if s == nil {
			if got, err := Decode(whole, nil); err != nil || !bytes.Equal(got, raw) {
				t.Fatalf("whole %q: Decode = %q, %v", raw, got, err)
			}
			return
		}
		if !bytes.Contains(raw, s.Mail) {
			t.Fatalf("split off %q, not a part of %q", s.Mail, raw)
		}
		for _, r := range [][]byte{ref, s.Mail, nil} {
			if got, err := Decode(s.Delta(r), r); err != nil || !bytes.Equal(got, raw) {
				t.Fatalf("%q against %q: Decode = %q, %v", raw, r, got, err)
			}
		}
	})
}

// BenchmarkEncode measures what the ingest handlers do per event (split
// and compress twice), from every core.
func BenchmarkEncode(b *testing.B) {
	raw := examples(b)["event/bounce-permanent-general.json"]
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			Encode(raw)
		}
	})
}
