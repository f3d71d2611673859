// Package rawjson keeps the raw JSON of SES events small: compressed with
// zstd and a dictionary of typical SES events, and without the `mail`
// object that every event of a message repeats (about three quarters of a
// compressed event). A message keeps one copy of its mail object; each of
// its events keeps only how its own differs from that copy, which is
// nothing, or one tag (SES adds `ses:outgoing-ip` after the send event).
//
// A stored event is one of:
//
//   - a zstd frame of the whole JSON (what SendOps stored before schema
//     0015, and what it stores for JSON without a top-level "mail" object);
//   - a split event: a header byte (splitRaw or splitZstd), then as
//     uvarints the offset of the mail object in the rest, how many bytes of
//     the message's mail object it starts with (prefix) and ends with
//     (suffix), the length of what lies between, those bytes (raw, or a zstd
//     frame of them), and last a zstd frame of the event without its mail
//     object.
//
// Decode puts the original bytes back exactly.
package rawjson

import (
	_ "embed"
	"encoding/binary"
	"errors"
	"runtime"

	"github.com/klauspost/compress/zstd"
)

// The dictionaries. A frame names its dictionary by id, so a new
// dictionary gets a new id and the older ones stay registered with the
// decoder:
//
//   - 1: raw content (zstd-dictionary.txt), the SES guide's examples; written
//     until schema 0007.
//   - 2: a trained zstd dictionary (zstd-dictionary-2.zdict, 32 KiB, with
//     entropy tables), written since. It was trained (zstd --train
//     --maxdict=32768 --dictID=2) on loadgen's events and the SES guide's
//     examples with every customer-specific value (addresses, domains, ids,
//     times, subjects, names, IPs, links, numbers) replaced by random ones,
//     so that it holds SES's structure and vocabulary rather than loadgen's
//     values. Its frames carry no content checksum (4 bytes each): the raw
//     JSON is kept for display, and most damage to a frame makes it fail to
//     decode anyway.
var (
	//go:embed zstd-dictionary.txt
	dictionary []byte
	//go:embed zstd-dictionary-2.zdict
	dictionary2 []byte
)

const dictID = 1 // of dictionary; dictionary2 names its own id (2)

// Header bytes of a split event. A zstd frame starts with 0x28.
const (
	splitRaw  = 0x01 // the differing bytes are stored as they are
	splitZstd = 0x02 // the differing bytes are a zstd frame
)

// maxRawDiff is the most differing bytes stored uncompressed.
const maxRawDiff = 96

var (
	// Callers compress concurrently: one encoder state per core.
	encoder, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(runtime.GOMAXPROCS(0)),
		zstd.WithEncoderDict(dictionary2), zstd.WithEncoderCRC(false))
	decoder, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderDictRaw(dictID, dictionary), zstd.WithDecoderDicts(dictionary2))
)

// Compress returns b as one zstd frame with the current dictionary.
func Compress(b []byte) []byte {
	return encoder.EncodeAll(b, make([]byte, 0, len(b)/3+16))
}

// Split is an event's JSON taken apart for storing: the rest compressed,
// and its mail object, which Delta compares with the message's. The mail
// object is compressed only when it becomes a message's copy: one zstd
// frame costs about as much to start as to fill, so an event pays for one.
type Split struct {
	Rest []byte // zstd frame of the JSON without the mail object's value
	Hole int    // where the mail object's value was, in the rest
	Mail []byte // the mail object's value, as it was
}

// Encode compresses an event's JSON. When the JSON is an object with a
// top-level "mail" member, it returns the split event (whole is nil);
// otherwise the whole JSON compressed (split is nil).
func Encode(raw []byte) (whole []byte, split *Split) {
	start, end, ok := member(raw, "mail")
	if !ok || end-start < 2 {
		return Compress(raw), nil
	}
	rest := make([]byte, 0, len(raw)-(end-start))
	rest = append(append(rest, raw[:start]...), raw[end:]...)
	mail := raw[start:end:end]
	return nil, &Split{Rest: Compress(rest), Hole: start, Mail: mail}
}

// Delta returns the stored form of a split event against ref, its
// message's mail object (nil when the message has none or it cannot be
// read: the event then keeps its own).
func (s *Split) Delta(ref []byte) []byte {
	m := s.Mail
	p := 0
	for p < len(ref) && p < len(m) && ref[p] == m[p] {
		p++
	}
	q := 0
	for q < len(ref)-p && q < len(m)-p && ref[len(ref)-1-q] == m[len(m)-1-q] {
		q++
	}
	kind, diff := byte(splitRaw), m[p:len(m)-q]
	if len(diff) > maxRawDiff {
		kind, diff = splitZstd, Compress(diff)
	}
	out := make([]byte, 0, 1+4*binary.MaxVarintLen32+len(diff)+len(s.Rest))
	out = append(out, kind)
	out = binary.AppendUvarint(out, uint64(s.Hole))
	out = binary.AppendUvarint(out, uint64(p))
	out = binary.AppendUvarint(out, uint64(q))
	out = binary.AppendUvarint(out, uint64(len(diff)))
	out = append(out, diff...)
	return append(out, s.Rest...)
}

var errCorrupt = errors.New("rawjson: stored event is damaged")

// Decode returns a stored event's JSON. mail is its message's mail object
// (MailOf; nil when the message has none), needed by split events only.
func Decode(b, mail []byte) ([]byte, error) {
	if len(b) == 0 {
		return nil, nil
	}
	if b[0] != splitRaw && b[0] != splitZstd {
		return decoder.DecodeAll(b, nil)
	}
	kind, r := b[0], b[1:]
	var n [4]uint64
	for i := range n {
		v, k := binary.Uvarint(r)
		if k <= 0 {
			return nil, errCorrupt
		}
		n[i], r = v, r[k:]
	}
	hole, p, q, dl := n[0], n[1], n[2], n[3]
	if dl > uint64(len(r)) {
		return nil, errCorrupt
	}
	diff, restZ := r[:dl], r[dl:]
	if kind == splitZstd {
		var err error
		if diff, err = decoder.DecodeAll(diff, nil); err != nil {
			return nil, err
		}
	}
	ref := mail
	if p > uint64(len(ref)) || q > uint64(len(ref))-p {
		return nil, errCorrupt
	}
	rest, err := decoder.DecodeAll(restZ, nil)
	if err != nil {
		return nil, err
	}
	if hole > uint64(len(rest)) {
		return nil, errCorrupt
	}
	out := make([]byte, 0, len(rest)+int(p)+int(q)+len(diff))
	out = append(out, rest[:hole]...)
	out = append(out, ref[:p]...)
	out = append(out, diff...)
	out = append(out, ref[uint64(len(ref))-q:]...)
	return append(out, rest[hole:]...), nil
}

// MailOf returns a message's stored mail object (a zstd frame) as JSON;
// nil for none.
func MailOf(mailZ []byte) ([]byte, error) {
	if len(mailZ) == 0 {
		return nil, nil
	}
	b, err := decoder.DecodeAll(mailZ, nil)
	if err == nil && b == nil {
		b = []byte{} // an empty object is still one
	}
	return b, err
}

// member returns where the value of the object's top-level member key
// starts and ends in b, which must be valid JSON; ok is false when b is not
// an object or has no such member (a key written with escapes is not
// recognised: that event is stored whole).
func member(b []byte, key string) (start, end int, ok bool) {
	i := space(b, 0)
	if i >= len(b) || b[i] != '{' {
		return 0, 0, false
	}
	i++
	for {
		i = space(b, i)
		if i >= len(b) || b[i] != '"' {
			return 0, 0, false
		}
		ks := i
		if i = skipString(b, i); i < 0 {
			return 0, 0, false
		}
		k := b[ks+1 : i-1]
		i = space(b, i)
		if i >= len(b) || b[i] != ':' {
			return 0, 0, false
		}
		i = space(b, i+1)
		vs := i
		if i = skipValue(b, i); i < 0 {
			return 0, 0, false
		}
		if string(k) == key {
			return vs, i, true
		}
		i = space(b, i)
		if i >= len(b) || b[i] != ',' {
			return 0, 0, false
		}
		i++
	}
}

func space(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i] ('"'), or -1.
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return -1
}

// skipValue returns the index after the value starting at b[i], or -1.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				if i = skipString(b, i); i < 0 {
					return -1
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return -1
	}
	for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && b[i] != ' ' && b[i] != '\t' && b[i] != '\n' && b[i] != '\r' {
		i++
	}
	return i
}
